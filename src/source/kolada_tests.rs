//! Tests of the Kolada transport against a local mock server (wiremock on 127.0.0.1):
//! paging in the v3 and v2 shapes, loop and endless-paging guards, id chunking, the KPI
//! title check, and a 429 with `Retry-After` handled by the shared retry loop.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use wiremock::matchers::{method, path, query_param, query_param_is_missing};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

use super::*;

const KPI: &str = "N15428";
const TITLE: &str = "Invånare 16-24 år som varken arbetar eller studerar, andel (%)";
const PATH: &str = "/v3/data/kpi/N15428/municipality/0880/year/2015";

fn source(base: &str, municipalities: &[&str], verify_titles: bool) -> KoladaSource {
    KoladaSource {
        url: base.to_string(),
        kpis: vec![KoladaKpi {
            id: KPI.into(),
            title: TITLE.into(),
        }],
        municipalities: municipalities.iter().map(|s| s.to_string()).collect(),
        years: vec!["2015".into()],
        verify_titles,
        timeout: Duration::from_secs(5),
        retries: 0,
    }
}

/// A data page whose paging link is `link_key: link`.
fn page(municipality: &str, link_key: &str, link: &str) -> String {
    serde_json::json!({
        "count": 1,
        "values": [{"kpi": KPI, "municipality": municipality, "period": 2015,
            "values": [{"gender": "T", "count": 1, "status": "", "value": 82.4}]}],
        link_key: link,
    })
    .to_string()
}

fn json(body: String) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_raw(body, "application/json")
}

fn kpi_meta(id: &str, title: &str) -> ResponseTemplate {
    json(
        serde_json::json!({"count": 1, "values": [{"id": id, "title": title,
            "description": "…", "is_divided_by_gender": 1, "municipality_type": "K"}]})
        .to_string(),
    )
}

async fn run(src: &KoladaSource) -> Result<Vec<Extract>> {
    fetch(&reqwest::Client::new(), "kolada_test", src).await
}

fn message(e: &Error) -> String {
    match e {
        Error::Source {
            message, transient, ..
        } => {
            assert!(!transient, "must not be retried later: {e}");
            message.clone()
        }
        other => panic!("expected a source error, got {other}"),
    }
}

#[tokio::test]
async fn v3_pages_are_followed_until_next_url_is_empty() {
    let server = MockServer::start().await;
    let next = format!("{}{PATH}?page=2&per_page=5000", server.uri());
    let first = page("0880", "next_url", &next);
    let second = page("0880", "next_url", "");
    Mock::given(method("GET"))
        .and(path(PATH))
        .and(query_param("per_page", "5000"))
        .and(query_param_is_missing("page"))
        .respond_with(json(first.clone()))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(PATH))
        .and(query_param("page", "2"))
        .respond_with(json(second.clone()))
        .expect(1)
        .mount(&server)
        .await;
    let got = run(&source(&format!("{}/v3", server.uri()), &["0880"], false))
        .await
        .expect("fetched");
    let names: Vec<&str> = got.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, vec!["kolada-001.json", "kolada-002.json"]);
    assert_eq!(got[0].bytes, first.as_bytes());
    assert_eq!(got[1].bytes, second.as_bytes());
    let location = format!("{}{PATH}", server.uri());
    assert!(got.iter().all(|e| e.location == location), "no query shown");
}

#[tokio::test]
async fn v2_next_page_is_followed_and_a_relative_link_resolved() {
    let server = MockServer::start().await;
    let v2 = "/v2/data/kpi/N15428/municipality/0880/year/2015";
    Mock::given(path(v2))
        .and(query_param_is_missing("page"))
        .respond_with(json(page("0880", "next_page", &format!("{v2}?page=2"))))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path(v2))
        .and(query_param("page", "2"))
        .respond_with(json(page("0880", "previous_page", v2)))
        .expect(1)
        .mount(&server)
        .await;
    let got = run(&source(&format!("{}/v2/", server.uri()), &["0880"], false))
        .await
        .expect("fetched");
    assert_eq!(got.len(), 2);
}

#[tokio::test]
async fn a_next_url_back_to_a_fetched_page_is_an_error() {
    let server = MockServer::start().await;
    let own = format!("{}{PATH}?per_page=5000", server.uri());
    Mock::given(path(PATH))
        .respond_with(json(page("0880", "next_url", &own)))
        .expect(1)
        .mount(&server)
        .await;
    let e = run(&source(&format!("{}/v3", server.uri()), &["0880"], false))
        .await
        .expect_err("loop detected");
    assert!(message(&e).contains("already fetched"), "{e}");
}

#[tokio::test]
async fn endless_paging_stops_at_the_cap() {
    let server = MockServer::start().await;
    let base = server.uri();
    // Every page links to a new one, as a broken server might.
    Mock::given(path(PATH))
        .respond_with(move |req: &Request| {
            let n: usize = req
                .url
                .query_pairs()
                .find(|(k, _)| k == "page")
                .and_then(|(_, v)| v.parse().ok())
                .unwrap_or(1);
            json(page(
                "0880",
                "next_url",
                &format!("{base}{PATH}?page={}", n + 1),
            ))
        })
        .expect(5)
        .mount(&server)
        .await;
    let client = reqwest::Client::new();
    let ctx = Ctx {
        client: &client,
        pipeline: "kolada_test",
        timeout: Duration::from_secs(5),
        retries: 0,
    };
    let first = Url::parse(&format!("{}{PATH}", server.uri())).expect("url");
    let e = fetch_pages(&ctx, &[first], 5).await.expect_err("capped");
    assert!(message(&e).contains("still paging after 5 pages"), "{e}");
}

#[tokio::test]
async fn thirty_municipalities_make_two_requests() {
    let server = MockServer::start().await;
    let ids: Vec<String> = (1..=30).map(|i| format!("{:04}", 800 + i)).collect();
    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    for chunk in [&ids[..25], &ids[25..]] {
        let joined = chunk.join(",");
        Mock::given(path(format!(
            "/v3/data/kpi/N15428/municipality/{joined}/year/2015"
        )))
        .respond_with(json(page(&chunk[0], "next_url", "")))
        .expect(1)
        .mount(&server)
        .await;
    }
    let got = run(&source(&format!("{}/v3", server.uri()), &refs, false))
        .await
        .expect("fetched");
    assert_eq!(got.len(), 2);
    assert!(got[0].location.ends_with("/municipality/0801,0802,0803,0804,0805,0806,0807,0808,0809,0810,0811,0812,0813,0814,0815,0816,0817,0818,0819,0820,0821,0822,0823,0824,0825/year/2015"));
    assert!(
        got[1]
            .location
            .ends_with("/municipality/0826,0827,0828,0829,0830/year/2015")
    );
}

#[tokio::test]
async fn matching_title_passes() {
    let server = MockServer::start().await;
    // Whitespace differences are not a redefinition.
    let served = format!("  {}", TITLE.replace(' ', "  \n"));
    Mock::given(path("/v3/kpi/N15428"))
        .respond_with(kpi_meta(KPI, &served))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path(PATH))
        .respond_with(json(page("0880", "next_url", "")))
        .expect(1)
        .mount(&server)
        .await;
    let got = run(&source(&format!("{}/v3", server.uri()), &["0880"], true))
        .await
        .expect("fetched");
    assert_eq!(got.len(), 1);
}

#[tokio::test]
async fn changed_title_stops_the_run_before_any_data_request() {
    let server = MockServer::start().await;
    let changed = "Invånare 16-24 år som varken arbetar eller studerar, antal";
    Mock::given(path("/v3/kpi/N15428"))
        .respond_with(kpi_meta(KPI, changed))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path(PATH))
        .respond_with(json(page("0880", "next_url", "")))
        .expect(0)
        .mount(&server)
        .await;
    let e = run(&source(&format!("{}/v3", server.uri()), &["0880"], true))
        .await
        .expect_err("title changed");
    let m = message(&e);
    assert!(
        m.contains(KPI) && m.contains(TITLE) && m.contains(changed),
        "{m}"
    );
}

#[tokio::test]
async fn unknown_kpi_stops_the_run() {
    let server = MockServer::start().await;
    Mock::given(path("/v3/kpi/N15428"))
        .respond_with(json(r#"{"count":0,"values":[]}"#.into()))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path(PATH))
        .respond_with(json(page("0880", "next_url", "")))
        .expect(0)
        .mount(&server)
        .await;
    let e = run(&source(&format!("{}/v3", server.uri()), &["0880"], true))
        .await
        .expect_err("unknown");
    let m = message(&e);
    assert!(m.contains("N15428 is unknown to Kolada"), "{m}");
}

#[tokio::test]
async fn rate_limit_with_retry_after_is_waited_out() {
    let server = MockServer::start().await;
    let calls = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&calls);
    Mock::given(path(PATH))
        .respond_with(move |_: &Request| {
            if seen.fetch_add(1, Ordering::SeqCst) == 0 {
                ResponseTemplate::new(429).insert_header("Retry-After", "1")
            } else {
                json(page("0880", "next_url", ""))
            }
        })
        .expect(2)
        .mount(&server)
        .await;
    let mut src = source(&format!("{}/v3", server.uri()), &["0880"], false);
    src.retries = 2;
    let started = std::time::Instant::now();
    let got = run(&src).await.expect("fetched after the wait");
    assert_eq!(got.len(), 1);
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "Retry-After honoured"
    );
}

#[tokio::test]
async fn a_page_that_is_not_json_is_an_error() {
    let server = MockServer::start().await;
    Mock::given(path(PATH))
        .respond_with(ResponseTemplate::new(200).set_body_string("<html>maintenance</html>"))
        .mount(&server)
        .await;
    let e = run(&source(&format!("{}/v3", server.uri()), &["0880"], false))
        .await
        .expect_err("not JSON");
    assert!(message(&e).contains("not JSON"), "{e}");
}

#[tokio::test]
async fn bad_configuration_is_refused_without_a_request() {
    let mut src = source("http://127.0.0.1:9/v3", &["0880,0881"], false);
    let e = run(&src).await.expect_err("comma in an id");
    assert!(
        message(&e).contains("'0880,0881' is not a Kolada id"),
        "{e}"
    );
    src.municipalities.clear();
    src.years.clear();
    let e = run(&src).await.expect_err("no municipalities nor years");
    assert!(
        message(&e).contains("neither municipalities nor years"),
        "{e}"
    );
    src.url = "ftp://example.invalid/v3".into();
    let e = run(&src).await.expect_err("not http");
    assert!(message(&e).contains("http(s)"), "{e}");
}

#[test]
fn urls_chunk_every_parameter_and_leave_out_empty_ones() {
    let base = Url::parse("https://api.kolada.se/v3/").expect("url");
    let kpis: Vec<String> = (0..26).map(|i| format!("N{i:05}")).collect();
    let urls = data_urls(&base, &kpis, &[], &["2023".into(), "2024".into()]).expect("urls");
    assert_eq!(urls.len(), 2);
    assert_eq!(
        urls[1].as_str(),
        "https://api.kolada.se/v3/data/kpi/N00025/year/2023,2024?per_page=5000"
    );
    assert!(urls[0].path().starts_with("/v3/data/kpi/N00000,N00001,"));
}

#[test]
fn next_links_are_read_from_either_key_and_never_downgraded() {
    let current = Url::parse("https://api.kolada.se/v2/data/kpi/N1/year/2015").expect("url");
    let link = |body: &str| next_link(body.as_bytes(), &current);
    assert_eq!(link(r#"{"values":[],"next_url":""}"#), Ok(None));
    assert_eq!(link(r#"{"values":[],"next_page":null}"#), Ok(None));
    assert_eq!(link(r#"{"values":[]}"#), Ok(None));
    let next =
        link(r#"{"values":[],"next_page":"http://api.kolada.se/v2/data/kpi/N1/year/2015?page=2"}"#)
            .expect("read")
            .expect("a link");
    assert_eq!(
        next.as_str(),
        "https://api.kolada.se/v2/data/kpi/N1/year/2015?page=2"
    );
    assert!(link(r#"{"next_url":5}"#).is_err());
    assert!(link(r#"{"next_url":"file:///etc/passwd"}"#).is_err());
}

#[test]
fn titles_compare_with_whitespace_collapsed() {
    assert_eq!(
        normalized("  Andel\t(%)\n av  invånare "),
        "Andel (%) av invånare"
    );
    let body = br#"{"count":1,"values":[{"id":"N1","title":"A"}]}"#;
    assert_eq!(kpi_title(body, "N1"), Ok(Some("A".into())));
    assert_eq!(kpi_title(body, "N2"), Ok(None));
    assert!(kpi_title(br#"{"count":1}"#, "N1").is_err());
}
