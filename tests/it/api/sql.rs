//! Read-only SQL over the published views and the query limits, with the server
//! staying up.

use super::*;

#[tokio::test]
async fn sql_runs_selects_over_published_views() {
    let s = Server::start(limits(1000), vec![]).await;
    let sql = "select kommun, period, kon, antal, antal_skyddad from kartlaggning where kommun = '0180' order by period, kon";
    let want: Vec<Row> = kartlaggning_rows()
        .into_iter()
        .filter(|r| r.0 == "0180")
        .collect();
    for format in ["json", "csv", "arrow", "parquet"] {
        assert_eq!(
            rows(s.sql(sql, format).await, format).await,
            want,
            "{format}"
        );
    }
    let v = json(
        s.sql("select sum(antal) as n from bilaga1_fs_orsak", "json")
            .await,
    )
    .await;
    assert_eq!(v, serde_json::json!([{ "n": 40 }]));
    // Joins, windows and recursive CTEs plan and run under the cancellation wrapping.
    let v = json(
        s.sql(
            "with recursive r(n) as (select 1 union all select n + 1 from r where n < 5) \
             select sum(n) as n from r",
            "json",
        )
        .await,
    )
    .await;
    assert_eq!(v, serde_json::json!([{ "n": 15 }]));
    let v = json(
        s.sql(
            "select a.kommun, count(*) as n, max(sum(a.antal)) over () as m \
             from kartlaggning a join kartlaggning b on a.kommun = b.kommun and a.period = b.period \
             group by a.kommun order by a.kommun",
            "json",
        )
        .await,
    )
    .await;
    assert_eq!(v.as_array().expect("rows").len(), 2, "{v}");
    assert_eq!(v[0]["n"], 18, "{v}");
    let resp = s
        .client
        .post(format!("{}/api/v1/sql", s.base))
        .bearer_auth(TOKEN)
        .body(r#"{"query": "select 1"}"#)
        .send()
        .await
        .expect("send");
    assert!(error(resp, 400).await.contains("\"sql\""));
    let msg = error(s.sql("select 1", "xml").await, 400).await;
    assert!(msg.contains("xml"), "{msg}");
    let msg = error(s.sql("selec 1", "json").await, 400).await;
    assert!(msg.to_lowercase().contains("sql"), "{msg}");
    s.stop().await;
}

#[tokio::test]
async fn sql_refuses_everything_but_reading() {
    let s = Server::start(limits(1000), vec![]).await;
    for sql in [
        "create table t as select 1 as x",
        "create table t (x int)",
        "insert into kartlaggning select * from kartlaggning",
        "drop table kartlaggning",
        "copy kartlaggning to '/tmp/malgrupp-api-test.csv'",
        "set datafusion.execution.batch_size = 1",
        "create view v as select * from kartlaggning",
        "create external table x stored as parquet location '/etc/'",
    ] {
        let msg = error(s.sql(sql, "json").await, 400).await;
        assert!(msg.contains("read-only"), "{sql}: {msg}");
    }
    assert!(!Path::new("/tmp/malgrupp-api-test.csv").exists());
    // Nothing but the published views: record-level tables, catalogs and files are unknown.
    for sql in [
        "select * from kaa",
        "select * from information_schema.tables",
        "select * from '/etc/passwd'",
        "select 1; drop table kartlaggning",
        "begin transaction",
    ] {
        let resp = s.sql(sql, "json").await;
        let status = resp.status().as_u16();
        assert!(status == 400 || status == 404, "{sql}: {status}");
        let msg = json(resp).await["error"]
            .as_str()
            .expect("error")
            .to_string();
        assert!(!msg.is_empty(), "{sql}");
    }
    // The view is unchanged.
    assert_eq!(
        s.get("/api/v1/views/kartlaggning").await.headers()["x-total-count"],
        "12"
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_queries_fail_clearly_and_the_server_stays_up() {
    // Rows: the table crossed with itself twice is 1 728 rows, over a limit of 100.
    let s = Server::start(limits(100), vec![]).await;
    let msg = error(
        s.sql(
            "select a.kommun from kartlaggning a, kartlaggning b, kartlaggning c",
            "json",
        )
        .await,
        413,
    )
    .await;
    assert!(msg.contains("more than 100 rows"), "{msg}");
    let ok = s
        .sql(
            "select count(*) as n from kartlaggning a, kartlaggning b, kartlaggning c",
            "json",
        )
        .await;
    assert_eq!(json(ok).await, serde_json::json!([{ "n": 1728 }]));
    let exact = s
        .sql("select value from generate_series(1, 100)", "csv")
        .await;
    assert_eq!(exact.status(), 200, "exactly the limit is fine");
    s.stop().await;

    // Memory: a distinct count over two million values needs far more than 1 MiB.
    let tiny = QueryLimits {
        memory_bytes: 1024 * 1024,
        ..QueryLimits::default()
    };
    let s = Server::start(tiny, vec![]).await;
    let msg = error(
        s.sql(
            "select count(distinct value) as n from generate_series(1, 2000000)",
            "json",
        )
        .await,
        413,
    )
    .await;
    assert!(msg.contains("memory"), "{msg}");
    let ok = s
        .sql("select count(*) as n from kartlaggning", "json")
        .await;
    assert_eq!(json(ok).await, serde_json::json!([{ "n": 12 }]));
    s.stop().await;

    // Time: a trillion-row cross join is cancelled at the timeout.
    let quick = QueryLimits {
        timeout: Duration::from_millis(500),
        ..QueryLimits::default()
    };
    let s = Server::start(quick, vec![]).await;
    let started = std::time::Instant::now();
    let msg = error(
        s.sql(
            "select sum(a.value * b.value) from generate_series(1, 1000000) a, generate_series(1, 1000000) b",
            "json",
        )
        .await,
        503,
    )
    .await;
    assert!(msg.contains("longer than the limit"), "{msg}");
    assert!(started.elapsed() < Duration::from_secs(10));
    let ok = s.get("/api/v1/views/kartlaggning?kommun=0880").await;
    assert_eq!(ok.headers()["x-total-count"], "6");
    assert_eq!(
        s.client
            .get(format!("{}/healthz", s.base))
            .send()
            .await
            .expect("send")
            .status(),
        200
    );
    s.stop().await;
}
