//! The HTTP API of `serve` end to end: the whole app on 127.0.0.1, port 0, a real HTTP
//! client, a published folder of Parquet files written here.
//!
//! Covers the four formats agreeing row for row, filters and paging, bearer auth,
//! read-only SQL, the query limits (rows, memory, time) with the server staying up, CORS
//! and the OpenAPI document.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use datafusion::arrow::array::{Array, BooleanArray, Int64Array, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::arrow::ipc::reader::StreamReader;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use malgrupp::serve::{QueryLimits, ServeConfig};

const TOKEN: &str = "test-token-0123456789abcdef";

/// One row of the test `kartlaggning`: kommun, period, kon, antal, antal_skyddad.
type Row = (String, String, String, Option<i64>, bool);

/// kommun × period × kon; every fourth count suppressed (NULL, flag set).
fn kartlaggning_rows() -> Vec<Row> {
    let mut rows = Vec::new();
    for kommun in ["0880", "0180"] {
        for period in ["2015-05", "2015-06"] {
            for kon in ["K", "M", "alla"] {
                let i = rows.len() as i64;
                let suppressed = i % 4 == 3;
                let antal = (!suppressed).then_some(10 + i);
                rows.push((kommun.into(), period.into(), kon.into(), antal, suppressed));
            }
        }
    }
    rows
}

fn write_parquet(path: &Path, batch: &RecordBatch) {
    let file = std::fs::File::create(path).expect("create parquet");
    let mut w = ArrowWriter::try_new(file, batch.schema(), None).expect("writer");
    w.write(batch).expect("write");
    w.close().expect("close");
}

fn kartlaggning_batch() -> RecordBatch {
    let rows = kartlaggning_rows();
    let s = |n: &str| Field::new(n, DataType::Utf8, false);
    let schema = Arc::new(Schema::new(vec![
        s("kommun"),
        s("period"),
        s("matt"),
        s("kon"),
        s("alder"),
        s("dimension"),
        s("kategori"),
        Field::new("antal", DataType::Int64, true),
        Field::new("antal_skyddad", DataType::Boolean, false),
    ]));
    let text = |f: &dyn Fn(&Row) -> String| -> Arc<dyn Array> {
        Arc::new(rows.iter().map(|r| Some(f(r))).collect::<StringArray>())
    };
    RecordBatch::try_new(
        schema,
        vec![
            text(&|r| r.0.clone()),
            text(&|r| r.1.clone()),
            text(&|_| "malgrupp".into()),
            text(&|r| r.2.clone()),
            text(&|_| "16-24".into()),
            text(&|_| "total".into()),
            text(&|_| String::new()),
            Arc::new(rows.iter().map(|r| r.3).collect::<Int64Array>()),
            Arc::new(rows.iter().map(|r| Some(r.4)).collect::<BooleanArray>()),
        ],
    )
    .expect("batch")
}

/// A lake with `published/` (two views, a temporary file, a CSV) and a record-level
/// `kaa` table beside it that must stay unreachable.
fn lake() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let published = dir.path().join("published");
    std::fs::create_dir_all(&published).expect("mkdir");
    let batch = kartlaggning_batch();
    write_parquet(&published.join("kartlaggning.parquet"), &batch);
    let orsak = RecordBatch::try_new(
        Arc::new(Schema::new(vec![
            Field::new("orsak", DataType::Utf8, false),
            Field::new("antal", DataType::Int64, true),
        ])),
        vec![
            Arc::new(StringArray::from(vec!["arbetslos", "sjuk"])),
            Arc::new(Int64Array::from(vec![Some(40), None])),
        ],
    )
    .expect("batch");
    write_parquet(&published.join("bilaga1_fs_orsak.parquet"), &orsak);
    std::fs::write(
        published.join(".tmp-1-kartlaggning.parquet.partial"),
        b"half",
    )
    .expect("tmp");
    std::fs::write(published.join("kartlaggning.csv"), b"kommun\n0880\n").expect("csv");
    let kaa = dir.path().join("kaa");
    std::fs::create_dir_all(&kaa).expect("mkdir");
    write_parquet(&kaa.join("part-0.parquet"), &batch);
    dir
}

struct Server {
    base: String,
    client: reqwest::Client,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<malgrupp::Result<()>>,
    _dir: Option<tempfile::TempDir>,
}

impl Server {
    async fn start(limits: QueryLimits, cors: Vec<String>) -> Self {
        let dir = lake();
        let mut s = Self::start_at(&dir.path().join("published"), limits, cors).await;
        s._dir = Some(dir);
        s
    }

    async fn start_at(published: &Path, limits: QueryLimits, cors: Vec<String>) -> Self {
        let cfg = ServeConfig {
            listen: "127.0.0.1:0".parse().expect("addr"),
            published_dir: published.to_path_buf(),
            tokens: vec!["other-token".into(), TOKEN.into()],
            cors_origins: cors,
            limits,
            ..ServeConfig::default()
        };
        let listener = tokio::net::TcpListener::bind(cfg.listen)
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(malgrupp::serve::serve_on(listener, cfg, async {
            let _ = rx.await;
        }));
        Server {
            base: format!("http://{addr}"),
            client: reqwest::Client::new(),
            stop: Some(tx),
            task,
            _dir: None,
        }
    }

    async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{path}", self.base))
            .bearer_auth(TOKEN)
            .send()
            .await
            .expect("send")
    }

    async fn sql(&self, sql: &str, format: &str) -> reqwest::Response {
        let body = serde_json::json!({ "sql": sql, "format": format }).to_string();
        self.client
            .post(format!("{}/api/v1/sql", self.base))
            .bearer_auth(TOKEN)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .expect("send")
    }

    async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        let result = tokio::time::timeout(Duration::from_secs(10), &mut self.task)
            .await
            .expect("graceful shutdown");
        result.expect("join").expect("serve ended cleanly");
    }
}

fn limits(max_rows: usize) -> QueryLimits {
    QueryLimits {
        max_rows,
        ..QueryLimits::default()
    }
}

async fn json(resp: reqwest::Response) -> serde_json::Value {
    let text = resp.text().await.expect("body");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// The error message of a JSON error answer, after checking its status.
async fn error(resp: reqwest::Response, status: u16) -> String {
    assert_eq!(resp.status().as_u16(), status, "status");
    let v = json(resp).await;
    v["error"].as_str().expect("error message").to_string()
}

fn rows_of_batches(batches: &[RecordBatch]) -> Vec<Row> {
    let mut out = Vec::new();
    for b in batches {
        let text = |n: &str| {
            b.column_by_name(n)
                .expect("column")
                .as_any()
                .downcast_ref::<StringArray>()
                .expect("Utf8")
                .clone()
        };
        let (k, p, s) = (text("kommun"), text("period"), text("kon"));
        let a = b.column_by_name("antal").expect("antal");
        let a = a.as_any().downcast_ref::<Int64Array>().expect("Int64");
        let f = b.column_by_name("antal_skyddad").expect("flag");
        let f = f.as_any().downcast_ref::<BooleanArray>().expect("bool");
        for i in 0..b.num_rows() {
            out.push((
                k.value(i).to_string(),
                p.value(i).to_string(),
                s.value(i).to_string(),
                (!a.is_null(i)).then(|| a.value(i)),
                f.value(i),
            ));
        }
    }
    out
}

/// Rows of a response in any format, with the content type checked.
async fn rows(resp: reqwest::Response, format: &str) -> Vec<Row> {
    assert_eq!(resp.status(), 200, "{format}");
    let ct = resp.headers()["content-type"]
        .to_str()
        .expect("ct")
        .to_string();
    let body = resp.bytes().await.expect("body");
    match format {
        "json" => {
            assert_eq!(ct, "application/json");
            let v: serde_json::Value = serde_json::from_slice(&body).expect("json");
            v.as_array()
                .expect("array")
                .iter()
                .map(|o| {
                    (
                        o["kommun"].as_str().expect("kommun").into(),
                        o["period"].as_str().expect("period").into(),
                        o["kon"].as_str().expect("kon").into(),
                        // Explicit null, not a missing key.
                        o.get("antal").expect("antal key").as_i64(),
                        o["antal_skyddad"].as_bool().expect("flag"),
                    )
                })
                .collect()
        }
        "csv" => {
            assert!(ct.starts_with("text/csv"), "{ct}");
            let mut r = csv::Reader::from_reader(&body[..]);
            let h = r.headers().expect("header").clone();
            let at = |n: &str| h.iter().position(|x| x == n).expect("column in header");
            r.records()
                .map(|rec| {
                    let rec = rec.expect("record");
                    let antal = &rec[at("antal")];
                    (
                        rec[at("kommun")].to_string(),
                        rec[at("period")].to_string(),
                        rec[at("kon")].to_string(),
                        (!antal.is_empty()).then(|| antal.parse().expect("number")),
                        rec[at("antal_skyddad")].parse().expect("bool"),
                    )
                })
                .collect()
        }
        "arrow" => {
            assert_eq!(ct, "application/vnd.apache.arrow.stream");
            let reader = StreamReader::try_new(std::io::Cursor::new(body.to_vec()), None)
                .expect("arrow stream");
            let batches: Vec<RecordBatch> = reader.map(|b| b.expect("batch")).collect();
            rows_of_batches(&batches)
        }
        "parquet" => {
            assert_eq!(ct, "application/vnd.apache.parquet");
            let reader = ParquetRecordBatchReaderBuilder::try_new(body)
                .expect("parquet")
                .build()
                .expect("reader");
            let batches: Vec<RecordBatch> = reader.map(|b| b.expect("batch")).collect();
            rows_of_batches(&batches)
        }
        other => panic!("format {other}"),
    }
}

#[tokio::test]
async fn every_format_returns_the_same_filtered_rows() {
    let s = Server::start(limits(1000), vec![]).await;
    let expected: Vec<Row> = kartlaggning_rows()
        .into_iter()
        .filter(|r| r.0 == "0880" && r.1 == "2015-05")
        .collect();
    assert_eq!(expected.len(), 3);
    for format in ["json", "csv", "arrow", "parquet"] {
        let resp = s
            .get(&format!(
                "/api/v1/views/kartlaggning?kommun=0880&period=2015-05&format={format}"
            ))
            .await;
        assert_eq!(resp.headers()["x-total-count"], "3", "{format}");
        assert!(
            resp.headers().get("link").is_none(),
            "{format}: one page only"
        );
        assert_eq!(rows(resp, format).await, expected, "{format}");
    }
    // Another column, a repeated parameter (IN) and a boolean column.
    let got = rows(
        s.get("/api/v1/views/kartlaggning?kon=K&period=2015-05&period=2015-06")
            .await,
        "json",
    )
    .await;
    let want: Vec<Row> = kartlaggning_rows()
        .into_iter()
        .filter(|r| r.2 == "K")
        .collect();
    assert_eq!(got, want);
    let got = rows(
        s.get("/api/v1/views/kartlaggning?antal_skyddad=true&format=csv")
            .await,
        "csv",
    )
    .await;
    assert_eq!(got.len(), 3);
    assert!(
        got.iter().all(|r| r.3.is_none() && r.4),
        "suppressed rows: {got:?}"
    );
    // An empty result still has its columns.
    let resp = s
        .get("/api/v1/views/kartlaggning?kommun=9999&format=csv")
        .await;
    assert_eq!(resp.headers()["x-total-count"], "0");
    assert!(
        resp.text()
            .await
            .expect("body")
            .starts_with("kommun,period,matt,")
    );
    s.stop().await;
}

#[tokio::test]
async fn pages_carry_total_count_and_next_link() {
    let s = Server::start(limits(1000), vec![]).await;
    let all = kartlaggning_rows();
    let mut path = "/api/v1/views/kartlaggning?kommun=0880&limit=4".to_string();
    let mut seen = Vec::new();
    let mut pages = 0;
    loop {
        let resp = s.get(&path).await;
        assert_eq!(resp.headers()["x-total-count"], "6");
        let link = resp
            .headers()
            .get("link")
            .map(|v| v.to_str().expect("ascii").to_string());
        seen.extend(rows(resp, "json").await);
        pages += 1;
        let Some(link) = link else { break };
        assert!(link.ends_with(">; rel=\"next\""), "{link}");
        assert!(
            link.contains("kommun=0880") && link.contains("limit=4"),
            "{link}"
        );
        path = link
            .trim_start_matches('<')
            .split('>')
            .next()
            .expect("uri")
            .to_string();
        assert!(pages < 5, "paging terminates");
    }
    assert_eq!(pages, 2);
    let want: Vec<Row> = all.into_iter().filter(|r| r.0 == "0880").collect();
    assert_eq!(seen, want, "pages cover the rows once, in file order");
    // Over the row limit, negative or repeated paging parameters are refused.
    let big = s.get("/api/v1/views/kartlaggning?limit=1001").await;
    assert!(error(big, 400).await.contains("1000"));
    let neg = s.get("/api/v1/views/kartlaggning?offset=-1").await;
    assert!(error(neg, 400).await.contains("offset"));
    s.stop().await;
}

#[tokio::test]
async fn bad_view_requests_are_explained() {
    let s = Server::start(limits(1000), vec![]).await;
    let msg = error(s.get("/api/v1/views/kartlaggning?kommunn=0880").await, 400).await;
    assert!(msg.contains("kommunn") && msg.contains("kommun"), "{msg}");
    let msg = error(s.get("/api/v1/views/kartlaggning?antal=tio").await, 400).await;
    assert!(msg.contains("tio") && msg.contains("antal"), "{msg}");
    let msg = error(s.get("/api/v1/views/kartlaggning?format=xml").await, 400).await;
    assert!(msg.contains("xml"), "{msg}");
    // Not published: neither an unknown name, nor a record-level table, nor a temp file.
    for view in [
        "saknas",
        "kaa",
        ".tmp-1-kartlaggning",
        "datafusion.public.kartlaggning",
    ] {
        let msg = error(s.get(&format!("/api/v1/views/{view}")).await, 404).await;
        assert!(msg.contains("no published view"), "{msg}");
    }
    // An injection attempt is just a value that matches nothing.
    let resp = s
        .get("/api/v1/views/kartlaggning?kommun=0880'%20or%20'1'='1")
        .await;
    assert_eq!(resp.headers()["x-total-count"], "0");
    s.stop().await;
}

#[tokio::test]
async fn views_lists_published_files_only() {
    let s = Server::start(limits(1000), vec![]).await;
    let v = json(s.get("/api/v1/views").await).await;
    let names: Vec<&str> = v
        .as_array()
        .expect("array")
        .iter()
        .map(|x| x["name"].as_str().expect("name"))
        .collect();
    assert_eq!(names, ["bilaga1_fs_orsak", "kartlaggning"]);
    let k = &v[1];
    assert_eq!(k["rows"], 12);
    let columns = k["columns"].as_array().expect("columns");
    assert_eq!(columns.len(), 9);
    assert_eq!(
        columns[0],
        serde_json::json!({ "name": "kommun", "type": "Utf8" })
    );
    assert_eq!(
        columns[7],
        serde_json::json!({ "name": "antal", "type": "Int64" })
    );
    assert_eq!(
        columns[8],
        serde_json::json!({ "name": "antal_skyddad", "type": "Boolean" })
    );
    s.stop().await;
}

#[tokio::test]
async fn only_a_valid_bearer_token_opens_the_api() {
    let s = Server::start(limits(1000), vec![]).await;
    let url = |p: &str| format!("{}{p}", s.base);
    for path in [
        "/api/v1/views",
        "/api/v1/views/kartlaggning",
        "/api/v1/openapi.json",
        "/nope",
    ] {
        let none = s.client.get(url(path)).send().await.expect("send");
        assert_eq!(
            none.headers()["www-authenticate"],
            "Bearer realm=\"malgrupp\""
        );
        assert!(error(none, 401).await.contains("missing"), "{path}");
        let wrong = s
            .client
            .get(url(path))
            .bearer_auth("wrong")
            .send()
            .await
            .expect("send");
        assert!(error(wrong, 401).await.contains("invalid"), "{path}");
        let prefix = s
            .client
            .get(url(path))
            .bearer_auth(&TOKEN[..10])
            .send()
            .await
            .expect("send");
        assert_eq!(
            prefix.status(),
            401,
            "{path}: a prefix of a token is not a token"
        );
        let basic = s
            .client
            .get(url(path))
            .header("authorization", format!("Basic {TOKEN}"))
            .send()
            .await
            .expect("send");
        assert_eq!(basic.status(), 401, "{path}");
    }
    let sql = s
        .client
        .post(url("/api/v1/sql"))
        .body(r#"{"sql": "select 1"}"#)
        .send()
        .await
        .expect("send");
    assert_eq!(sql.status(), 401);
    assert_eq!(s.get("/api/v1/views").await.status(), 200);
    let other = s
        .client
        .get(url("/api/v1/views"))
        .bearer_auth("other-token")
        .send()
        .await;
    assert_eq!(
        other.expect("send").status(),
        200,
        "every configured token works"
    );
    assert!(error(s.get("/nope").await, 404).await.contains("openapi"));
    // Health needs no token.
    let h = s.client.get(url("/healthz")).send().await.expect("send");
    assert_eq!(h.status(), 200);
    assert_eq!(h.text().await.expect("body"), "ok");
    assert_eq!(
        s.client
            .get(url("/readyz"))
            .send()
            .await
            .expect("send")
            .status(),
        200
    );
    s.stop().await;
}

#[tokio::test]
async fn refuses_to_start_without_tokens_or_with_a_blank_one() {
    let dir = lake();
    let cfg = |tokens: Vec<String>| ServeConfig {
        published_dir: dir.path().join("published"),
        tokens,
        ..ServeConfig::default()
    };
    let e = malgrupp::serve::router(cfg(vec![]))
        .expect_err("no tokens")
        .to_string();
    assert!(e.contains("token"), "{e}");
    assert!(malgrupp::serve::router(cfg(vec![String::new()])).is_err());
    assert!(malgrupp::serve::router(cfg(vec!["a b".into()])).is_err());
    let mut bad_cors = cfg(vec![TOKEN.into()]);
    bad_cors.cors_origins = vec!["*".into(), "https://a.se".into()];
    assert!(malgrupp::serve::router(bad_cors).is_err(), "`*` only alone");
    let listen = ServeConfig {
        listen: "127.0.0.1:0".parse().expect("addr"),
        ..cfg(vec![])
    };
    assert!(malgrupp::serve::serve(listen, async {}).await.is_err());
}

#[tokio::test]
async fn readyz_fails_while_the_published_dir_is_missing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let published = dir.path().join("published");
    let s = Server::start_at(&published, limits(1000), vec![]).await;
    let ready = s
        .client
        .get(format!("{}/readyz", s.base))
        .send()
        .await
        .expect("send");
    assert_eq!(ready.status(), 503);
    assert_eq!(
        s.client
            .get(format!("{}/healthz", s.base))
            .send()
            .await
            .expect("send")
            .status(),
        200
    );
    assert_eq!(s.get("/api/v1/views").await.status(), 503);
    std::fs::create_dir_all(&published).expect("mkdir");
    write_parquet(
        &published.join("kartlaggning.parquet"),
        &kartlaggning_batch(),
    );
    let ready = s
        .client
        .get(format!("{}/readyz", s.base))
        .send()
        .await
        .expect("send");
    assert_eq!(ready.status(), 200);
    // No cache: the file written after start is served at once.
    assert_eq!(
        s.get("/api/v1/views/kartlaggning").await.headers()["x-total-count"],
        "12"
    );
    s.stop().await;
}

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

#[tokio::test]
async fn openapi_document_lists_the_paths() {
    let s = Server::start(limits(1000), vec![]).await;
    let doc = json(s.get("/api/v1/openapi.json").await).await;
    assert!(doc["openapi"].as_str().expect("version").starts_with("3.0"));
    let paths = doc["paths"].as_object().expect("paths");
    for p in [
        "/healthz",
        "/readyz",
        "/api/v1/views",
        "/api/v1/views/{name}",
        "/api/v1/sql",
        "/api/v1/openapi.json",
        "/api/v1/reports/{kommun}/{period}",
        "/api/v1/status",
        "/api/v1/runs/{pipeline}",
        "/metrics",
    ] {
        assert!(paths.contains_key(p), "{p} missing");
    }
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    s.stop().await;
}

#[tokio::test]
async fn cors_headers_only_for_configured_origins() {
    let s = Server::start(limits(1000), vec!["https://kommun.example.se".into()]).await;
    let preflight = |origin: &'static str| {
        s.client
            .request(reqwest::Method::OPTIONS, format!("{}/api/v1/views", s.base))
            .header("origin", origin)
            .header("access-control-request-method", "GET")
            .header("access-control-request-headers", "authorization")
            .send()
    };
    let ok = preflight("https://kommun.example.se").await.expect("send");
    assert_eq!(
        ok.headers()["access-control-allow-origin"],
        "https://kommun.example.se"
    );
    let other = preflight("https://evil.example").await.expect("send");
    assert!(other.headers().get("access-control-allow-origin").is_none());
    let get = s
        .client
        .get(format!("{}/api/v1/views/kartlaggning?limit=1", s.base))
        .bearer_auth(TOKEN)
        .header("origin", "https://kommun.example.se")
        .send()
        .await
        .expect("send");
    let exposed = get.headers()["access-control-expose-headers"]
        .to_str()
        .expect("ascii");
    assert!(
        exposed.contains("x-total-count") && exposed.contains("link"),
        "{exposed}"
    );
    s.stop().await;

    let s = Server::start(limits(1000), vec![]).await;
    let get = s
        .client
        .get(format!("{}/api/v1/views", s.base))
        .bearer_auth(TOKEN)
        .header("origin", "https://kommun.example.se")
        .send()
        .await
        .expect("send");
    assert!(get.headers().get("access-control-allow-origin").is_none());
    s.stop().await;
}
