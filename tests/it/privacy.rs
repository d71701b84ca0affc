//! No identity number in anything a demo run writes: every string in every Parquet
//! table (including the quarantine and ledger), the manifest, and every log line on
//! stdout/stderr at debug level. The raw extracts kept under `raw/` are the only
//! exception, by design: they are the evidence of what was received (docs/schema.md).

use std::process::Command;

use datafusion::arrow::array::{Array, StringArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;
use malgrupp::normalize::personnummer::contains_valid_personnummer;

use crate::common::{TestLake, files_under};

#[tokio::test]
async fn nothing_written_by_a_run_contains_a_personnummer() {
    let t = TestLake::new();
    let key = t.dir.path().join("pseudonym.key");
    std::fs::write(&key, "22".repeat(32)).expect("key");
    let cfg = t.dir.path().join("malgrupp.toml");
    let repo = std::fs::canonicalize(".").expect("repo root");
    let text = format!(
        "[lake]\nroot = '{}'\n[paths]\npipelines = '{}'\nsql = '{}'\n[pseudonymization]\nkey_file = '{}'\n",
        t.settings.lake_root.display(),
        repo.join("pipelines").display(),
        repo.join("sql").display(),
        key.display()
    );
    std::fs::write(&cfg, text).expect("config");
    // Run from the repository root so the shipped pipelines and samples are used.
    let out = Command::new(env!("CARGO_BIN_EXE_malgrupp"))
        .args(["--config", cfg.to_str().expect("utf-8"), "demo"])
        .env("MALGRUPP_LOG", "malgrupp=debug")
        .output()
        .expect("spawn");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "demo failed:\n{stdout}\n{stderr}");
    assert!(
        stderr.contains("row quarantined"),
        "the demo's bad rows are logged (masked)"
    );
    for (i, line) in stdout.lines().chain(stderr.lines()).enumerate() {
        assert!(
            !contains_valid_personnummer(line),
            "log line {i} carries an identity number: {line}"
        );
    }
    let mut scanned = 0;
    for path in files_under(t.lake().root())
        .into_iter()
        .filter(|p| !p.starts_with(t.lake().root().join("raw")))
    {
        if path.extension().is_some_and(|e| e == "json") {
            let text = std::fs::read_to_string(&path).expect("manifest");
            assert!(
                !contains_valid_personnummer(&text),
                "{} carries an identity number",
                path.display()
            );
        }
    }
    for table in [
        "kaa",
        "forsorjningsstod",
        "timanstallda",
        "aggregat",
        "quarantine",
        "runs",
        "lineage",
    ] {
        for b in t.query(&format!("select * from {table}")).await {
            for (i, col) in b.columns().iter().enumerate() {
                let text = cast(col, &DataType::Utf8).expect("cast to text");
                let text = text.as_any().downcast_ref::<StringArray>().expect("utf8");
                for r in 0..text.len() {
                    if !text.is_null(r) {
                        scanned += 1;
                        assert!(
                            !contains_valid_personnummer(text.value(r)),
                            "{table}.{}: row {r} carries an identity number",
                            b.schema().field(i).name()
                        );
                    }
                }
            }
        }
    }
    assert!(
        scanned > 5_000,
        "the scan must actually cover the lake ({scanned} cells)"
    );
    // What leaves the lake: the published CSV copies hold the same cells as the Parquet.
    let published: Vec<_> = files_under(&malgrupp::publish::dir(&t.lake()))
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "csv"))
        .collect();
    assert!(published.len() >= 3, "the demo publishes");
    for p in published {
        let text = std::fs::read_to_string(&p).expect("published csv");
        assert!(
            !contains_valid_personnummer(&text),
            "{} carries an identity number",
            p.display()
        );
    }
    // And the check itself would catch one: the raw extracts do contain them.
    let raw = files_under(&t.lake().root().join("raw"));
    let kept = raw.iter().any(|p| {
        contains_valid_personnummer(&String::from_utf8_lossy(&std::fs::read(p).expect("raw")))
    });
    assert!(
        kept,
        "the scanner must recognize the numbers it is looking for"
    );
}
