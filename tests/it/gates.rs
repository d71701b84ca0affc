//! Quality gates block publishing and keep the previous data; backfill rewrites a period
//! range idempotently and its dry run writes nothing; `status` flags failing pipelines;
//! the webhook is called on failure and on recovery.

use std::path::Path;

use wiremock::matchers::{body_partial_json, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::common::TestLake;
use crate::common::http_pipeline;
use malgrupp::lake::manifest::Manifest;

/// `kalmar_fs` reading extracts from `dir` (a copy of the shipped pipeline).
fn fs_pipeline(t: &mut TestLake, extracts: &Path) {
    let dir = t.dir.path().join("pipelines");
    std::fs::create_dir_all(&dir).expect("mkdir");
    let text = std::fs::read_to_string("pipelines/kalmar_fs.toml").expect("shipped");
    let text = text.replace(
        "path = \"samples/kalmar/fs_*.csv\"",
        &format!("path = \"{}/fs_*.csv\"", extracts.display()),
    );
    assert!(
        text.contains("row_count_ratio = [0.5, 2.0]"),
        "the shipped gates"
    );
    std::fs::write(dir.join("kalmar_fs.toml"), text).expect("write");
    t.settings.pipelines_dir = dir;
}

/// The sample's header, its first `keep` records, and its trailing total line (which
/// the pipeline drops).
fn truncated_sample(keep: usize) -> Vec<u8> {
    let bytes = std::fs::read("samples/kalmar/fs_201505.csv").expect("sample");
    let lines: Vec<&[u8]> = bytes
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .collect();
    let mut out: Vec<&[u8]> = lines[..=keep].to_vec();
    out.push(lines[lines.len() - 1]);
    let mut v = out.join(&b'\n');
    v.push(b'\n');
    v
}

#[tokio::test]
async fn a_failed_gate_blocks_publishing_and_keeps_the_previous_data() {
    let extracts = tempfile::tempdir().expect("tempdir");
    std::fs::copy(
        "samples/kalmar/fs_201505.csv",
        extracts.path().join("fs_201505.csv"),
    )
    .expect("copy");
    let mut t = TestLake::new();
    fs_pipeline(&mut t, extracts.path());
    let (first, out) = t.run(&["kalmar_fs"]).await;
    assert!(first.success(), "{out}");
    let published =
        crate::common::published_csv(&t.lake().root().join("published"), "kartlaggning");
    assert!(published.lines().count() > 1, "{published}");

    // June arrives with a tenth of May's recipients: the ratio gate holds it back.
    std::fs::write(extracts.path().join("fs_201506.csv"), truncated_sample(10)).expect("write");
    let (blocked, out) = t.run(&["kalmar_fs"]).await;
    assert!(!blocked.success(), "{out}");
    let report = &blocked.reports[0];
    assert_eq!(report.status, "blocked", "{out}");
    let error = report.error.as_deref().unwrap_or_default();
    assert!(
        error.contains("kommun 0880 period 2015-06") && error.contains("allowed 0.5–2"),
        "{error}"
    );
    assert!(
        !t.lake()
            .partition_file("forsorjningsstod", "0880", "2015-06", "kalmar_fs")
            .exists(),
        "nothing of the blocked run is in the lake"
    );
    assert_eq!(
        crate::common::published_csv(&t.lake().root().join("published"), "kartlaggning"),
        published,
        "the published views are the previous ones"
    );
    let mut status = Vec::new();
    let healthy = malgrupp::cli::status::execute(
        &t.settings,
        malgrupp::cli::status::StatusFormat::Table,
        &mut status,
    )
    .expect("status");
    let status = String::from_utf8(status).expect("utf-8");
    assert!(!healthy);
    assert!(
        status
            .lines()
            .any(|l| l.starts_with("! kalmar_fs") && l.contains("blocked")),
        "{status}"
    );
    assert!(
        status.contains("! kalmar_fs failing: pipeline kalmar_fs: quality gate failed"),
        "{status}"
    );
}

#[tokio::test]
async fn backfill_rewrites_a_range_identically_and_its_dry_run_writes_nothing() {
    let t = TestLake::new();
    let (first, out) = t.run(&["kalmar_fs"]).await;
    assert!(first.success(), "{out}");
    let file = t
        .lake()
        .partition_file("forsorjningsstod", "0880", "2015-05", "kalmar_fs");
    let bytes = std::fs::read(&file).expect("partition");
    let modified = std::fs::metadata(&file)
        .and_then(|m| m.modified())
        .expect("mtime");
    let runs = || {
        Manifest::load(t.lake().root())
            .expect("manifest")
            .runs
            .len()
    };
    let ledger = runs();

    let mut out = Vec::new();
    let dry = malgrupp::cli::backfill::execute(
        &t.settings,
        "kalmar_fs",
        "2015-01",
        "2015-12",
        true,
        &mut out,
    )
    .await
    .expect("dry run");
    let out = String::from_utf8(out).expect("utf-8");
    assert!(
        out.contains("would write 1 partitions (115 rows)")
            && out.contains("kommun=0880 period=2015-05"),
        "{out}"
    );
    assert!(dry.success());
    assert_eq!(runs(), ledger, "a dry run is not recorded");
    assert_eq!(
        std::fs::metadata(&file)
            .and_then(|m| m.modified())
            .expect("mtime"),
        modified
    );

    let mut out = Vec::new();
    let done = malgrupp::cli::backfill::execute(
        &t.settings,
        "kalmar_fs",
        "2015-05",
        "2015-05",
        false,
        &mut out,
    )
    .await
    .expect("backfill");
    assert!(done.success(), "{}", String::from_utf8_lossy(&out));
    assert_eq!(done.reports[0].partitions, 1);
    assert_eq!(
        std::fs::read(&file).expect("partition"),
        bytes,
        "idempotent: the same bytes"
    );
    let m = Manifest::load(t.lake().root()).expect("manifest");
    assert_eq!(m.runs.last().map(|r| r.trigger.as_str()), Some("backfill"));

    // A range without the extract's period writes nothing.
    let mut out = Vec::new();
    let none = malgrupp::cli::backfill::execute(
        &t.settings,
        "kalmar_fs",
        "2016-01",
        "2016-12",
        false,
        &mut out,
    )
    .await
    .expect("backfill");
    assert_eq!(none.reports[0].partitions, 0);
    // And a range the wrong way round is refused before anything runs.
    let mut out = Vec::new();
    let e = malgrupp::cli::backfill::execute(
        &t.settings,
        "kalmar_fs",
        "2016-01",
        "2015-01",
        false,
        &mut out,
    )
    .await
    .expect_err("reversed range");
    assert!(e.to_string().contains("is after --to"), "{e}");
}

#[allow(unsafe_code)]
fn set_env(key: &str, value: &str) {
    // SAFETY: a variable only this test reads, set once before its runs start.
    unsafe { std::env::set_var(key, value) };
}

#[tokio::test]
async fn the_webhook_is_called_on_failure_and_on_recovery() {
    let hook = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/hook/secret-part"))
        .and(body_partial_json(
            serde_json::json!({"event": "failure", "pipeline": "hr", "status": "failed"}),
        ))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&hook)
        .await;
    Mock::given(method("POST"))
        .and(path("/hook/secret-part"))
        .and(body_partial_json(
            serde_json::json!({"event": "recovery", "pipeline": "hr", "status": "ok"}),
        ))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&hook)
        .await;
    set_env(
        "MALGRUPP_TEST_WEBHOOK",
        &format!("{}/hook/secret-part", hook.uri()),
    );

    let source = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/hr.csv"))
        .respond_with(ResponseTemplate::new(404))
        .up_to_n_times(1)
        .mount(&source)
        .await;
    Mock::given(method("GET"))
        .and(path("/hr.csv"))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(
            std::fs::read("samples/kalmar/timanstallda_2015-05.csv").expect("sample"),
        ))
        .mount(&source)
        .await;
    let mut t = TestLake::new();
    let dir = t.dir.path().join("pipelines");
    http_pipeline(&dir, &format!("{}/hr.csv", source.uri()), 5, 0, 0);
    t.settings.pipelines_dir = dir;
    t.settings.serve.webhook_env = "MALGRUPP_TEST_WEBHOOK".into();
    let (failed, _) = t.run(&["hr"]).await;
    assert!(!failed.success());
    let (ok, out) = t.run(&["hr"]).await;
    assert!(ok.success(), "{out}");
    // A second success is no recovery: no third call (checked by `expect` on drop).
    let (again, _) = t.run(&["hr"]).await;
    assert!(again.success());
}
