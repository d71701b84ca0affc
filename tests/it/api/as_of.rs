//! `as_of`: the views as they were published at an earlier moment ("what did we publish
//! on 10 June?"), over HTTP as `malgrupp export --as-of` gives them: a real lake published
//! twice, the API reading the generations kept beside its `published` link.

use super::*;
use crate::common::TestLake;

/// Sum of `antal` over the rows of a JSON answer (NULL, suppressed, counts as 0).
fn total(rows: &serde_json::Value) -> i64 {
    rows.as_array()
        .expect("rows")
        .iter()
        .map(|r| r["antal"].as_i64().unwrap_or(0))
        .sum()
}

#[tokio::test]
async fn views_and_sql_answer_as_published_at_an_earlier_time() {
    let t = TestLake::new();
    // A second source changes the kartläggning: a new published set.
    let (before, between) = t.publish_twice().await;

    let server = Server::start_at(
        &t.settings.lake_root.join("published"),
        limits(100_000),
        vec![],
    )
    .await;
    let enc = |at: chrono::DateTime<chrono::Utc>| {
        at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
            .replace('+', "%2B")
    };
    let rows = |query: String| {
        let server = &server;
        async move {
            let resp = server
                .get(&format!("/api/v1/views/kartlaggning?{query}"))
                .await;
            assert_eq!(resp.status().as_u16(), 200, "{query}");
            json(resp).await
        }
    };
    let now = rows("limit=100000".into()).await;
    let then = rows(format!("limit=100000&as_of={}", enc(between))).await;
    assert_ne!(total(&now), total(&then), "the second run changed the view");
    assert_eq!(
        rows(format!("limit=100000&as_of={}", enc(chrono::Utc::now()))).await,
        now
    );
    // A date is the end of that day in Swedish time: today's newest set.
    let today = chrono::Utc::now()
        .with_timezone(&chrono_tz::Europe::Stockholm)
        .format("%Y-%m-%d")
        .to_string();
    assert_eq!(rows(format!("limit=100000&as_of={today}")).await, now);

    // Each answer says when the set that answered was published.
    let published_at = |query: String| {
        let server = &server;
        async move {
            let resp = server
                .get(&format!("/api/v1/views/kartlaggning?{query}"))
                .await;
            let at = resp.headers()["x-published-at"]
                .to_str()
                .expect("header")
                .to_string();
            chrono::DateTime::parse_from_rfc3339(&at)
                .expect("RFC 3339")
                .with_timezone(&chrono::Utc)
        }
    };
    let then_at = published_at(format!("limit=1&as_of={}", enc(between))).await;
    let now_at = published_at("limit=1".into()).await;
    assert!(
        then_at <= between && between < now_at,
        "{then_at} {between} {now_at}"
    );

    // The same moment through SQL.
    let sql = |at: Option<String>| {
        let server = &server;
        async move {
            let mut body = serde_json::json!({
                "sql": "select sum(antal) as s from kartlaggning",
                "format": "json"
            });
            if let Some(at) = at {
                body["as_of"] = at.into();
            }
            let resp = server
                .client
                .post(format!("{}/api/v1/sql", server.base))
                .bearer_auth(TOKEN)
                .header("content-type", "application/json")
                .body(body.to_string())
                .send()
                .await
                .expect("send");
            assert_eq!(resp.status().as_u16(), 200);
            json(resp).await[0]["s"].as_i64().expect("sum")
        }
    };
    assert_eq!(sql(None).await, total(&now));
    assert_eq!(sql(Some(between.to_rfc3339())).await, total(&then));

    // The view list as of then, too.
    let views = json(
        server
            .get(&format!("/api/v1/views?as_of={}", enc(between)))
            .await,
    )
    .await;
    let listed = views
        .as_array()
        .expect("views")
        .iter()
        .find(|v| v["name"] == "kartlaggning")
        .expect("kartlaggning listed");
    assert_eq!(
        listed["rows"].as_u64(),
        Some(then.as_array().expect("rows").len() as u64)
    );

    // Before the first publish nothing was published; a malformed moment is the
    // client's mistake; so is a version number, which published sets do not have.
    let e = error(
        server
            .get(&format!("/api/v1/views/kartlaggning?as_of={}", enc(before)))
            .await,
        404,
    )
    .await;
    assert!(e.contains("nothing published as of"), "{e}");
    for bad in ["10%20juni", "3"] {
        let e = error(
            server
                .get(&format!("/api/v1/views/kartlaggning?as_of={bad}"))
                .await,
            400,
        )
        .await;
        assert!(e.contains("as_of") && e.contains("expected a time"), "{e}");
    }
    // The OpenAPI document offers it where it is accepted.
    let doc = json(server.get("/api/v1/openapi.json").await).await;
    for path in ["/api/v1/views", "/api/v1/views/{name}"] {
        let params = doc["paths"][path]["get"]["parameters"]
            .as_array()
            .expect("parameters");
        assert!(params.iter().any(|p| p["name"] == "as_of"), "{path}");
    }
    let body = &doc["paths"]["/api/v1/sql"]["post"]["requestBody"]["content"]["application/json"]["schema"];
    assert!(body["properties"]["as_of"].is_object());
    server.stop().await;
}
