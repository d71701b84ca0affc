//! The HTTP source against a local mock server: secrets from the environment, retries
//! on transient errors, no retry on a permanent one, and the run's data published.

use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::common::TestLake;

fn http_pipeline(t: &mut TestLake, url: &str, retries: u32) {
    let dir = t.dir.path().join("pipelines");
    let headers =
        "headers = { Authorization = { env = \"MALGRUPP_TEST_HR_TOKEN\", prefix = \"Bearer \" } }";
    crate::common::http_pipeline_with(&dir, url, headers, 5, retries, 0);
    t.settings.pipelines_dir = dir;
}

#[tokio::test]
async fn retries_transient_errors_and_sends_the_secret_header() {
    // SAFETY of the test: no other test reads this variable.
    unsafe_env_set("MALGRUPP_TEST_HR_TOKEN", "s3cret");
    let server = MockServer::start().await;
    let body = std::fs::read("samples/kalmar/timanstallda_2015-05.csv").expect("sample");
    Mock::given(method("GET"))
        .and(path("/hr/export.csv"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/hr/export.csv"))
        .and(header("authorization", "Bearer s3cret"))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(body))
        .expect(1)
        .mount(&server)
        .await;
    let mut t = TestLake::new();
    http_pipeline(
        &mut t,
        &format!("{}/hr/export.csv?token=abc", server.uri()),
        2,
    );
    let (outcome, out) = t.run(&["hr"]).await;
    assert!(outcome.success(), "{out}");
    assert_eq!(outcome.reports[0].rows_written, 195);
    assert_eq!(
        t.scalar("select count(distinct person_id) from timanstallda")
            .await,
        Some(195)
    );
}

#[tokio::test]
async fn a_permanent_error_fails_at_once_and_names_the_url_without_query() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(404))
        .expect(1)
        .mount(&server)
        .await;
    let mut t = TestLake::new();
    unsafe_env_set("MALGRUPP_TEST_HR_TOKEN", "s3cret");
    http_pipeline(
        &mut t,
        &format!("{}/missing.csv?token=abc", server.uri()),
        3,
    );
    let (outcome, _) = t.run(&["hr"]).await;
    assert!(!outcome.success());
    let err = outcome.reports[0].error.clone().expect("error");
    assert!(
        err.contains("404") && err.contains("/missing.csv") && !err.contains("token=abc"),
        "{err}"
    );
}

/// Both tests set the same value, so concurrent setting is harmless.
#[allow(unsafe_code)]
fn unsafe_env_set(key: &str, value: &str) {
    if std::env::var(key).as_deref() != Ok(value) {
        // SAFETY: set before any thread reads it in these tests, and only ever to one value.
        unsafe { std::env::set_var(key, value) };
    }
}
