//! Reading views: every format agreeing row for row, filters, paging, the view list.

use super::*;

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
