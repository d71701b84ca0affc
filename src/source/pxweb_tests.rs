//! Tests of the PxWeb source: whole fetches against a local wiremock server with
//! hand-written fixtures of SCB's shapes. The split planner, URL building and limits as
//! units are `pxweb_unit_tests.rs`'s.

use std::time::{Duration, Instant as StdInstant};

use serde_json::json;
use wiremock::matchers::{body_string, header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::*;

const V1_TABLE: &str = "/OV0104/v1/doris/sv/ssd/BE/BE0101/BE0101A/BefolkningNy";

/// A small JSON-stat 2.0 dataset as SCB answers it (trimmed).
fn jsonstat(region: &str) -> String {
    json!({
        "version": "2.0", "class": "dataset", "label": "Folkmängd efter region",
        "source": "SCB", "updated": "2025-02-21T06:00:00Z",
        "id": ["Region", "ContentsCode", "Tid"], "size": [1, 1, 1],
        "dimension": {
            "Region": {"label": "region", "category": {"index": {region: 0}, "label": {region: "Kalmar"}}},
            "ContentsCode": {"label": "tabellinnehåll", "category": {"index": {"BE0101N1": 0}, "label": {"BE0101N1": "Folkmängd"}}},
            "Tid": {"label": "år", "category": {"index": {"2024": 0}, "label": {"2024": "2024"}}}
        },
        "value": [72_004], "role": {"time": ["Tid"], "metric": ["ContentsCode"]}
    })
    .to_string()
}

pub(super) fn sel(vars: &[(&str, &[&str])]) -> Vec<(String, Vec<String>)> {
    vars.iter()
        .map(|(c, v)| (c.to_string(), v.iter().map(|s| s.to_string()).collect()))
        .collect()
}

fn v1_source(server: &MockServer, selection: Vec<(String, Vec<String>)>) -> PxwebSource {
    PxwebSource {
        api: PxApi::V1,
        url: format!("{}{V1_TABLE}", server.uri()),
        table: None,
        lang: "sv".into(),
        selection,
        timeout: Duration::from_secs(5),
        retries: 2,
        max_cells: None,
    }
}

fn v2_source(server: &MockServer, selection: Vec<(String, Vec<String>)>) -> PxwebSource {
    PxwebSource {
        api: PxApi::V2,
        url: format!("{}/api/v2", server.uri()),
        table: Some("TAB638".into()),
        ..v1_source(server, selection)
    }
}

async fn v2_config(server: &MockServer, cells: u64, calls: u64, window: u64) {
    Mock::given(method("GET"))
        .and(path("/api/v2/config"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "apiVersion": "2.0.0", "appVersion": "2.1.0", "defaultLanguage": "sv",
            "languages": [{"id": "sv", "label": "Svenska"}, {"id": "en", "label": "English"}],
            "maxDataCells": cells, "maxCallsPerTimeWindow": calls, "timeWindow": window,
            "dataFormats": ["json-stat2", "csv", "px", "xlsx"]
        })))
        .expect(1)
        .mount(server)
        .await;
}

fn client() -> reqwest::Client {
    http::client().expect("client")
}

#[tokio::test]
async fn v1_posts_the_query_and_keeps_the_body_as_bytes() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/OV0104/v1/doris/sv/"))
        .and(query_param("config", ""))
        .respond_with(ResponseTemplate::new(200).set_body_string(
            r#"{"maxValues":150000,"maxCells":150000,"maxCalls":30,"timeWindow":10,"CORS":true}"#,
        ))
        .expect(1)
        .mount(&server)
        .await;
    // SCB's v1 starts JSON-stat bodies with a byte-order mark: it must reach the decoder as is.
    let body = [b"\xEF\xBB\xBF".as_slice(), jsonstat("0880").as_bytes()].concat();
    Mock::given(method("POST"))
        .and(path(V1_TABLE))
        .and(header("content-type", "application/json"))
        .and(body_string(
            r#"{"query":[{"code":"Region","selection":{"filter":"item","values":["0880"]}},{"code":"ContentsCode","selection":{"filter":"item","values":["BE0101N1"]}},{"code":"Tid","selection":{"filter":"item","values":["2024"]}}],"response":{"format":"json-stat2"}}"#,
        ))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(body.clone()))
        .expect(1)
        .mount(&server)
        .await;
    let source = v1_source(
        &server,
        sel(&[
            ("Region", &["0880"]),
            ("ContentsCode", &["BE0101N1"]),
            ("Tid", &["2024"]),
        ]),
    );
    let got = fetch(&client(), "scb", &source).await.expect("fetch");
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].name, "BefolkningNy-001.json");
    assert_eq!(got[0].location, source.url);
    assert_eq!(got[0].bytes, body);
}

#[tokio::test]
async fn v1_without_config_uses_the_documented_limits() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(404))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(V1_TABLE))
        .respond_with(ResponseTemplate::new(200).set_body_string(jsonstat("0880")))
        .expect(1)
        .mount(&server)
        .await;
    let source = v1_source(&server, sel(&[("Region", &["0880"])]));
    assert_eq!(
        fetch(&client(), "scb", &source).await.expect("fetch").len(),
        1
    );
}

#[tokio::test]
async fn v2_reads_config_and_splits_under_the_cell_limit() {
    let server = MockServer::start().await;
    v2_config(&server, 4, 30, 10).await;
    for region in ["0880", "1480"] {
        Mock::given(method("GET"))
            .and(path("/api/v2/tables/TAB638/data"))
            .and(query_param("lang", "sv"))
            .and(query_param("outputFormat", "json-stat2"))
            .and(query_param("valuecodes[Region]", region))
            .and(query_param("valuecodes[Alder]", "16,17"))
            .and(query_param("valuecodes[Kon]", "1,2"))
            .respond_with(ResponseTemplate::new(200).set_body_string(jsonstat(region)))
            .expect(1)
            .mount(&server)
            .await;
    }
    let source = v2_source(
        &server,
        sel(&[
            ("Region", &["0880", "1480"]),
            ("Alder", &["16", "17"]),
            ("Kon", &["1", "2"]),
        ]),
    );
    let got = fetch(&client(), "scb", &source).await.expect("fetch");
    let names: Vec<_> = got.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["TAB638-001.json", "TAB638-002.json"]);
    assert_eq!(got[0].bytes, jsonstat("0880").into_bytes());
    assert_eq!(got[1].bytes, jsonstat("1480").into_bytes());
    assert_eq!(
        got[0].location,
        format!("{}/api/v2/tables/TAB638/data", server.uri())
    );
}

#[tokio::test]
async fn a_429_is_retried_after_retry_after() {
    let server = MockServer::start().await;
    v2_config(&server, 150_000, 30, 10).await;
    Mock::given(method("GET"))
        .and(path("/api/v2/tables/TAB638/data"))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "1"))
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v2/tables/TAB638/data"))
        .respond_with(ResponseTemplate::new(200).set_body_string(jsonstat("0880")))
        .expect(1)
        .mount(&server)
        .await;
    let started = StdInstant::now();
    let source = v2_source(&server, sel(&[("Region", &["0880"])]));
    let got = fetch(&client(), "scb", &source).await.expect("fetch");
    assert_eq!(got.len(), 1);
    assert!(started.elapsed() >= Duration::from_secs(1));
}

#[tokio::test]
async fn a_400_problem_is_a_clear_permanent_error() {
    let server = MockServer::start().await;
    v2_config(&server, 150_000, 30, 10).await;
    Mock::given(method("GET"))
        .and(path("/api/v2/tables/TAB638/data"))
        .respond_with(
            ResponseTemplate::new(400)
                .insert_header("content-type", "application/problem+json")
                .set_body_string(r#"{"type":"https://tools.ietf.org/html/rfc9110#section-15.5.1","title":"Invalid value code","status":400,"detail":"Alder=99x"}"#),
        )
        .expect(1)
        .mount(&server)
        .await;
    let source = v2_source(&server, sel(&[("Alder", &["99x"])]));
    let err = fetch(&client(), "scb", &source).await.expect_err("400");
    let text = err.to_string();
    assert!(
        text.contains("Invalid value code") && text.contains("Alder=99x"),
        "{text}"
    );
    assert!(matches!(
        err,
        Error::Source {
            transient: false,
            ..
        }
    ));
}

#[tokio::test]
async fn requests_are_paced_under_the_rate_limit() {
    let server = MockServer::start().await;
    v2_config(&server, 1, 2, 1).await;
    Mock::given(method("GET"))
        .and(path("/api/v2/tables/TAB638/data"))
        .respond_with(ResponseTemplate::new(200).set_body_string(jsonstat("0880")))
        .expect(4)
        .mount(&server)
        .await;
    let started = StdInstant::now();
    let source = v2_source(
        &server,
        sel(&[("Region", &["0880", "1480", "0180", "1280"])]),
    );
    let got = fetch(&client(), "scb", &source).await.expect("fetch");
    assert_eq!(got.len(), 4);
    // /config + 4 data calls at 2 per second: the 3rd and 5th calls each wait a window.
    // Only the lower bound is asserted: it is the rate limit. How much longer a loaded
    // machine takes is not this test's business.
    let took = started.elapsed();
    assert!(took >= Duration::from_secs(2), "{took:?}");
}

#[tokio::test]
async fn pipelines_on_one_server_share_its_call_budget() {
    // Two pipelines fetching from one server at once: 2 × (/config + 2 data calls) = 6
    // calls under "2 per second" need two full extra windows together, where two
    // separate budgets would let both finish after one.
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v2/config"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "maxDataCells": 1, "maxCallsPerTimeWindow": 2, "timeWindow": 1
        })))
        .expect(2)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v2/tables/TAB638/data"))
        .respond_with(ResponseTemplate::new(200).set_body_string(jsonstat("0880")))
        .expect(4)
        .mount(&server)
        .await;
    let a = v2_source(&server, sel(&[("Region", &["0880", "1480"])]));
    let b = v2_source(&server, sel(&[("Region", &["0180", "1280"])]));
    let started = StdInstant::now();
    let c = client();
    let (ra, rb) = tokio::join!(fetch(&c, "scb_a", &a), fetch(&c, "scb_b", &b));
    assert_eq!(ra.expect("a").len() + rb.expect("b").len(), 4);
    let took = started.elapsed();
    assert!(
        took >= Duration::from_secs(2),
        "one budget for the server: {took:?}"
    );
}

#[tokio::test]
async fn v2_config_fallbacks() {
    // A non-transient failure: SCB's documented limits, with a warning.
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v2/config"))
        .respond_with(ResponseTemplate::new(404))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v2/tables/TAB638/data"))
        .respond_with(ResponseTemplate::new(200).set_body_string(jsonstat("0880")))
        .expect(1)
        .mount(&server)
        .await;
    let source = v2_source(&server, sel(&[("Region", &["0880"])]));
    assert_eq!(
        fetch(&client(), "scb", &source).await.expect("fetch").len(),
        1
    );

    // A server that is down: the fetch fails (transient) and asks for no data.
    let down = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(503))
        .expect(1)
        .mount(&down)
        .await;
    let source = PxwebSource {
        retries: 0,
        ..v2_source(&down, sel(&[("Region", &["0880"])]))
    };
    let err = fetch(&client(), "scb", &source).await.expect_err("503");
    assert!(
        matches!(
            err,
            Error::Source {
                transient: true,
                ..
            }
        ),
        "{err}"
    );
}

#[tokio::test]
async fn an_empty_selection_fails_before_any_request() {
    let server = MockServer::start().await;
    for selection in [vec![], sel(&[("Region", &["0880"]), ("Tid", &[])])] {
        let err = fetch(&client(), "scb", &v2_source(&server, selection))
            .await
            .expect_err("empty");
        assert!(
            matches!(
                err,
                Error::Source {
                    transient: false,
                    ..
                }
            ),
            "{err}"
        );
    }
    assert!(
        server
            .received_requests()
            .await
            .unwrap_or_default()
            .is_empty()
    );
}

#[test]
fn fetch_can_be_spawned() {
    fn send<T: Send>(_: &T) {}
    let source = PxwebSource {
        api: PxApi::V2,
        url: "http://127.0.0.1:9/api/v2".into(),
        table: Some("TAB638".into()),
        lang: "sv".into(),
        selection: vec![],
        timeout: Duration::from_secs(1),
        retries: 0,
        max_cells: None,
    };
    let client = client();
    send(&fetch(&client, "scb", &source));
}
