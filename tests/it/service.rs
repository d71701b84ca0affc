//! The nightly service's run semantics against a local mock server: whole-run retries of
//! transient failures (500, 429 with Retry-After, a timeout, a body cut off mid-transfer)
//! and none for a permanent 404, each leaving the previous data intact and recorded in
//! the ledger; the lake lock across processes, with a stale lock taken over; quality
//! gates; backfill and its dry run; status; the failure/recovery webhook.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::common::{TestLake, http_pipeline};
use malgrupp::lake::manifest::Manifest;

const SAMPLE: &str = "samples/kalmar/timanstallda_2015-05.csv";

fn partition(t: &TestLake) -> PathBuf {
    t.lake()
        .partition_file("timanstallda", "0880", "2015-05", "hr")
}

fn ledger(t: &TestLake) -> Vec<(String, u32, String)> {
    Manifest::load(t.lake().root())
        .expect("manifest")
        .runs
        .iter()
        .filter(|r| r.pipeline == "hr")
        .map(|r| (r.status.clone(), r.attempt, r.trigger.clone()))
        .collect()
}

/// A lake with one good run of `hr` from `server`, then its mocks reset.
async fn good_first_run(
    server: &MockServer,
    retries: u32,
    run_retries: u32,
    timeout: u64,
) -> (TestLake, Vec<u8>) {
    let mut t = TestLake::new();
    let dir = t.dir.path().join("pipelines");
    http_pipeline(
        &dir,
        &format!("{}/hr.csv", server.uri()),
        timeout,
        retries,
        run_retries,
    );
    t.settings.pipelines_dir = dir;
    Mock::given(method("GET"))
        .and(path("/hr.csv"))
        .respond_with(
            ResponseTemplate::new(200).set_body_bytes(std::fs::read(SAMPLE).expect("sample")),
        )
        .up_to_n_times(1)
        .mount(server)
        .await;
    let (outcome, out) = t.run(&["hr"]).await;
    assert!(outcome.success(), "{out}");
    let before = std::fs::read(partition(&t)).expect("published partition");
    server.reset().await;
    (t, before)
}

/// The next version of the extract: one more row, so a successful rerun changes the file.
fn changed_extract() -> Vec<u8> {
    let text = std::fs::read(SAMPLE).expect("sample");
    let mut lines: Vec<&[u8]> = text
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .collect();
    lines.truncate(lines.len() - 1);
    let mut out = lines.join(&b'\n');
    out.push(b'\n');
    out
}

#[tokio::test]
async fn a_500_is_retried_by_a_whole_new_run_and_recorded_per_attempt() {
    let server = MockServer::start().await;
    let (t, before) = good_first_run(&server, 0, 2, 5).await;
    Mock::given(method("GET"))
        .and(path("/hr.csv"))
        .respond_with(ResponseTemplate::new(500))
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/hr.csv"))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(changed_extract()))
        .expect(1)
        .mount(&server)
        .await;
    let (outcome, out) = t.run(&["hr"]).await;
    assert!(outcome.success(), "{out}");
    assert_ne!(
        std::fs::read(partition(&t)).expect("partition"),
        before,
        "new data published"
    );
    let runs = ledger(&t);
    assert_eq!(
        runs[1..],
        [
            ("failed".into(), 1, "manual".into()),
            ("ok".into(), 2, "manual".into())
        ],
        "{runs:?}"
    );
}

#[tokio::test]
async fn a_429_waits_for_retry_after() {
    let server = MockServer::start().await;
    let (t, _) = good_first_run(&server, 1, 0, 5).await;
    Mock::given(method("GET"))
        .and(path("/hr.csv"))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "1"))
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/hr.csv"))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(changed_extract()))
        .expect(1)
        .mount(&server)
        .await;
    let started = Instant::now();
    let (outcome, out) = t.run(&["hr"]).await;
    assert!(outcome.success(), "{out}");
    // Behaviour, not speed: the retry came no earlier than the server asked.
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After honoured"
    );
}

#[tokio::test]
async fn a_timeout_fails_after_the_retries_and_leaves_the_previous_data() {
    let server = MockServer::start().await;
    let (t, before) = good_first_run(&server, 0, 1, 1).await;
    Mock::given(method("GET"))
        .and(path("/hr.csv"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_bytes(changed_extract())
                .set_delay(Duration::from_secs(3)),
        )
        .expect(2)
        .mount(&server)
        .await;
    let (outcome, out) = t.run(&["hr"]).await;
    assert!(!outcome.success(), "{out}");
    assert!(out.contains("timed out after 1s"), "{out}");
    assert_eq!(std::fs::read(partition(&t)).expect("partition"), before);
    let runs = ledger(&t);
    assert_eq!(
        runs[1..],
        [
            ("failed".into(), 1, "manual".into()),
            ("failed".into(), 2, "manual".into())
        ]
    );
}

#[tokio::test]
async fn a_permanent_404_fails_at_once_without_retrying() {
    let server = MockServer::start().await;
    let (t, before) = good_first_run(&server, 3, 3, 5).await;
    Mock::given(method("GET"))
        .and(path("/hr.csv"))
        .respond_with(ResponseTemplate::new(404))
        .expect(1)
        .mount(&server)
        .await;
    let (outcome, out) = t.run(&["hr"]).await;
    assert!(!outcome.success(), "{out}");
    assert!(out.contains("HTTP 404"), "{out}");
    assert_eq!(std::fs::read(partition(&t)).expect("partition"), before);
    assert_eq!(ledger(&t)[1..], [("failed".into(), 1, "manual".into())]);
}

/// A server whose first answer promises 100 000 bytes and closes after a few; later
/// answers are complete.
async fn cutting_server(body: Vec<u8>) -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let served = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let count = served.clone();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let n = count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let mut buf = [0u8; 4096];
            let _ = sock.read(&mut buf).await;
            if n == 0 {
                let head = "HTTP/1.1 200 OK\r\ncontent-length: 100000\r\nconnection: close\r\n\r\n";
                let _ = sock.write_all(head.as_bytes()).await;
                let _ = sock.write_all(&body[..20]).await;
            } else {
                let head = format!(
                    "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                    body.len()
                );
                let _ = sock.write_all(head.as_bytes()).await;
                let _ = sock.write_all(&body).await;
            }
            let _ = sock.shutdown().await;
        }
    });
    (format!("http://{addr}/hr.csv"), served)
}

#[tokio::test]
async fn a_body_cut_off_mid_transfer_is_transient_and_retried() {
    let body = std::fs::read(SAMPLE).expect("sample");
    let (url, served) = cutting_server(body).await;
    let mut t = TestLake::new();
    let dir = t.dir.path().join("pipelines");
    http_pipeline(&dir, &url, 5, 0, 1);
    t.settings.pipelines_dir = dir;
    let (outcome, out) = t.run(&["hr"]).await;
    assert!(outcome.success(), "{out}");
    assert_eq!(served.load(std::sync::atomic::Ordering::SeqCst), 2);
    let runs = ledger(&t);
    assert_eq!(runs[0].0, "failed", "{runs:?}");
    assert_eq!(runs[1], ("ok".into(), 2, "manual".into()));
    let m = Manifest::load(t.lake().root()).expect("manifest");
    let first = m.runs.iter().find(|r| r.pipeline == "hr").expect("run");
    assert!(
        first
            .message
            .as_deref()
            .unwrap_or("")
            .contains("reading the body"),
        "{:?}",
        first.message
    );
}
