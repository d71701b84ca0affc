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

/// A configuration file for `t` with the shipped pipelines and views and a fixed key.
fn config_file(t: &TestLake) -> std::path::PathBuf {
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
    cfg
}

#[tokio::test]
async fn nothing_written_by_a_run_contains_a_personnummer() {
    let t = TestLake::new();
    let cfg = config_file(&t);
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

/// Every directory and file under `dir`, with its permission bits.
#[cfg(unix)]
fn modes_under(dir: &std::path::Path, out: &mut Vec<(std::path::PathBuf, bool, u32)>) {
    use std::os::unix::fs::PermissionsExt;
    for entry in std::fs::read_dir(dir).expect("read_dir") {
        let path = entry.expect("entry").path();
        let meta = std::fs::symlink_metadata(&path).expect("metadata");
        if meta.file_type().is_symlink() {
            // A link has no permissions of its own (`published` links to a generation,
            // checked where it lies); it must not lead out of the lake.
            let target = std::fs::canonicalize(&path).expect("link target");
            let root = std::fs::canonicalize(dir).expect("dir");
            assert!(
                target.starts_with(&root),
                "{} leads out of the lake",
                path.display()
            );
            continue;
        }
        out.push((
            path.clone(),
            meta.is_dir(),
            meta.permissions().mode() & 0o777,
        ));
        if meta.is_dir() {
            modes_under(&path, out);
        }
    }
}

#[cfg(unix)]
#[test]
fn the_lake_is_private_whatever_the_umask() {
    use std::os::unix::fs::PermissionsExt;
    let t = TestLake::new();
    let cfg = config_file(&t);
    // The usual umask of a login shell: without explicit modes everything would be
    // readable by every user of the host.
    let out = Command::new("/bin/sh")
        .args([
            "-c",
            "umask 022 && exec \"$0\" --config \"$1\" run kalmar_fs kalmar_kaa",
        ])
        .arg(env!("CARGO_BIN_EXE_malgrupp"))
        .arg(&cfg)
        .output()
        .expect("spawn");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let root = t.lake().root().to_path_buf();
    let mut all = vec![(
        root.clone(),
        true,
        std::fs::metadata(&root).expect("root").permissions().mode() & 0o777,
    )];
    modes_under(&root, &mut all);
    assert!(
        all.iter()
            .any(|(p, dir, _)| !dir && p.starts_with(root.join("raw"))),
        "raw extracts kept"
    );
    for (path, dir, mode) in &all {
        let want = if *dir { 0o700 } else { 0o600 };
        assert_eq!(*mode, want, "{} has mode {mode:o}", path.display());
    }
    // `check` warns about a root someone opened up, and passes otherwise.
    let check = |cfg: &std::path::Path| {
        Command::new(env!("CARGO_BIN_EXE_malgrupp"))
            .args(["--config", cfg.to_str().expect("utf-8"), "check"])
            .output()
            .expect("spawn check")
    };
    let quiet = check(&cfg);
    assert!(quiet.status.success());
    assert!(!String::from_utf8_lossy(&quiet.stdout).contains("warning"));
    std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let warned = check(&cfg);
    let stdout = String::from_utf8_lossy(&warned.stdout);
    assert!(warned.status.success(), "a warning, not a failure");
    assert!(
        stdout.contains("warning: the lake") && stdout.contains("755"),
        "{stdout}"
    );
}

/// Every spelling of an identity number that `scrub` masks, typed into the free-text
/// field `befattning` of the hourly-employee extract, and one in the number field
/// `timmar`: none reaches the lake, and the scan finds each spelling before scrubbing.
#[tokio::test]
async fn typed_identity_numbers_never_reach_the_lake() {
    use malgrupp::normalize::personnummer::spellings;
    let mut t = TestLake::new();
    let spelled = spellings("199410212386");
    assert!(spelled.len() >= 20);
    for s in &spelled {
        assert!(
            contains_valid_personnummer(&format!("Vikarie ({s})")),
            "{s}"
        );
    }
    let sample =
        std::fs::read_to_string("samples/kalmar/timanstallda_2015-05.csv").expect("sample");
    let mut lines = sample.lines();
    let mut csv = format!("{}\n", lines.next().expect("header"));
    let rows: Vec<&str> = lines.take(spelled.len() + 1).collect();
    assert_eq!(rows.len(), spelled.len() + 1, "enough sample rows");
    for (row, s) in rows.iter().zip(&spelled) {
        let mut cells: Vec<String> = row.split(';').map(str::to_string).collect();
        cells[2] = format!("Vikarie ({s})");
        csv.push_str(&cells.join(";"));
        csv.push('\n');
    }
    let mut last: Vec<String> = rows[spelled.len()].split(';').map(str::to_string).collect();
    last[4] = "199410212386".to_string();
    csv.push_str(&last.join(";"));
    csv.push('\n');
    let extract = t.dir.path().join("timanstallda_2015-05.csv");
    std::fs::write(&extract, csv).expect("extract");
    let pipelines = t.dir.path().join("pipelines");
    std::fs::create_dir_all(&pipelines).expect("mkdir");
    let shipped = std::fs::read_to_string("pipelines/kalmar_timanstallda.toml").expect("shipped");
    let pipeline = shipped.replace(
        "path = \"samples/kalmar/timanstallda_*.csv\"",
        &format!("path = \"{}\"", extract.display()),
    );
    assert_ne!(pipeline, shipped);
    std::fs::write(pipelines.join("kalmar_timanstallda.toml"), pipeline).expect("pipeline");
    t.settings.pipelines_dir = pipelines;

    let (outcome, out) = t.run(&["kalmar_timanstallda"]).await;
    assert!(outcome.success(), "{out}");
    let mut befattningar = 0;
    for b in t.query("select befattning from timanstallda").await {
        let col = cast(b.column(0), &DataType::Utf8).expect("text");
        let col = col.as_any().downcast_ref::<StringArray>().expect("utf8");
        for r in 0..col.len() {
            let v = col.value(r);
            assert!(!contains_valid_personnummer(v), "befattning {v:?}");
            befattningar += usize::from(v.starts_with("Vikarie ("));
        }
    }
    assert_eq!(
        befattningar,
        spelled.len(),
        "every spelled row is kept, masked"
    );
    let quarantined = t
        .query("select reason, value from quarantine where pipeline = 'kalmar_timanstallda'")
        .await;
    let mut reasons = Vec::new();
    for b in &quarantined {
        for c in 0..b.num_columns() {
            let col = cast(b.column(c), &DataType::Utf8).expect("text");
            let col = col.as_any().downcast_ref::<StringArray>().expect("utf8");
            for r in 0..col.len() {
                if !col.is_null(r) {
                    assert!(
                        !contains_valid_personnummer(col.value(r)),
                        "{}",
                        col.value(r)
                    );
                    reasons.push(col.value(r).to_string());
                }
            }
        }
    }
    assert!(
        reasons.iter().any(|r| r.contains("identity number")),
        "the number field's identity number is quarantined: {reasons:?}"
    );
}
