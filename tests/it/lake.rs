//! The lake's promises: reruns are byte-for-byte identical without duplicates, unchanged
//! extracts are skipped, and a failed or killed run leaves the last good data in place.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::{TestLake, files_under};

/// A copy of the Kalmar FS pipeline reading from `extracts/` under the test dir.
pub fn private_fs_pipeline(t: &mut TestLake) -> PathBuf {
    let extracts = t.dir.path().join("extracts");
    std::fs::create_dir_all(&extracts).expect("mkdir");
    std::fs::copy(
        "samples/kalmar/fs_201505.csv",
        extracts.join("fs_201505.csv"),
    )
    .expect("copy extract");
    let pipelines = t.dir.path().join("pipelines");
    std::fs::create_dir_all(&pipelines).expect("mkdir");
    let text = std::fs::read_to_string("pipelines/kalmar_fs.toml").expect("shipped pipeline");
    let text = text.replace(
        "samples/kalmar/fs_*.csv",
        &format!("{}/fs_*.csv", extracts.display()),
    );
    std::fs::write(pipelines.join("fs.toml"), text).expect("write pipeline");
    t.settings.pipelines_dir = pipelines;
    extracts.join("fs_201505.csv")
}

pub fn partition(t: &TestLake) -> PathBuf {
    t.lake()
        .partition_file("forsorjningsstod", "0880", "2015-05", "fs")
}

#[tokio::test]
async fn rerun_is_identical_and_unchanged_extracts_are_skipped() {
    let mut t = TestLake::new();
    let extract = private_fs_pipeline(&mut t);
    let (first, out) = t.run(&["fs"]).await;
    assert_eq!(first.reports[0].status, "ok", "{out}");
    let bytes = std::fs::read(partition(&t)).expect("partition written");
    let (second, out) = t.run(&["fs"]).await;
    assert_eq!(second.reports[0].status, "unchanged", "{out}");
    assert_eq!(second.reports[0].files_unchanged, 1);
    assert_eq!(
        t.scalar("select count(*) from runs where pipeline = 'fs' and status = 'unchanged'")
            .await,
        Some(1)
    );
    // The raw extract is kept once, content-addressed, and is the extract byte for byte.
    let raw: Vec<_> = files_under(&t.lake().root().join("raw"));
    assert_eq!(raw.len(), 1);
    let extract_bytes = std::fs::read(&extract).expect("extract");
    assert_eq!(std::fs::read(&raw[0]).expect("raw copy"), extract_bytes);
    // Forget what was processed: the same extract is processed again, to the same bytes.
    // Its raw copy, damaged meanwhile, is not what is read: content already kept is
    // decoded from the extract itself, checked against its hash.
    std::fs::remove_file(malgrupp::lake::manifest::path(t.lake().root())).expect("rm manifest");
    std::fs::write(&raw[0], b"Kommun;Damaged\n0880;x\n").expect("damage the raw copy");
    let (third, out) = t.run(&["fs"]).await;
    assert_eq!(third.reports[0].status, "ok", "{out}");
    assert_eq!(
        std::fs::read(partition(&t)).expect("partition"),
        bytes,
        "rerun must be byte-for-byte identical"
    );
    assert_eq!(
        t.scalar("select count(*) from forsorjningsstod").await,
        Some(115),
        "no duplicate rows"
    );
    assert_eq!(files_under(&t.lake().root().join("raw")), raw);
    assert_eq!(t.scalar("select count(*) from lineage where pipeline = 'fs' and file = 'fs_201505.csv' and kommun = '0880' and period = '2015-05'").await, Some(1));
}

#[tokio::test]
async fn a_renamed_extract_with_the_same_bytes_is_unchanged_but_lineage_names_it() {
    let mut t = TestLake::new();
    let extract = private_fs_pipeline(&mut t);
    let (first, out) = t.run(&["fs"]).await;
    assert_eq!(first.reports[0].status, "ok", "{out}");
    let bytes = std::fs::read(partition(&t)).expect("partition written");
    std::fs::rename(&extract, extract.with_file_name("fs_201505_v2.csv")).expect("rename");
    let (second, out) = t.run(&["fs"]).await;
    assert_eq!(second.reports[0].status, "unchanged", "{out}");
    assert_eq!(std::fs::read(partition(&t)).expect("partition"), bytes);
    // The run that saw the new name records it, and the pipeline's state carries it.
    assert_eq!(
        t.scalar("select count(*) from lineage l join runs r on l.run_id = r.run_id where l.pipeline = 'fs' and l.file = 'fs_201505_v2.csv' and l.kommun = '0880' and l.period = '2015-05' and r.status = 'unchanged'").await,
        Some(1)
    );
    let manifest = malgrupp::lake::manifest::Manifest::load(t.lake().root()).expect("manifest");
    let files: Vec<&str> = manifest.pipelines["fs"]
        .extracts
        .values()
        .map(|e| e.file.as_str())
        .collect();
    assert_eq!(files, ["fs_201505_v2.csv"]);
    // Seen again under that name, nothing more is recorded.
    let (third, out) = t.run(&["fs"]).await;
    assert_eq!(third.reports[0].status, "unchanged", "{out}");
    assert_eq!(
        t.scalar(
            "select count(*) from lineage where pipeline = 'fs' and file = 'fs_201505_v2.csv'"
        )
        .await,
        Some(1)
    );
}

/// Two deliveries of one kommun-month (`fs_a.csv`, `fs_b.csv`) into a lake of its own.
fn two_deliveries(t: &mut TestLake, b: &[u8]) -> PathBuf {
    private_fs_pipeline(t);
    let extracts = t.dir.path().join("extracts");
    std::fs::rename(extracts.join("fs_201505.csv"), extracts.join("fs_a.csv")).expect("rename");
    std::fs::write(extracts.join("fs_b.csv"), b).expect("write");
    let file = t.settings.pipelines_dir.join("fs.toml");
    let text = std::fs::read_to_string(&file).expect("pipeline").replace(
        r#"period = { file_name = 'fs_(\d{4})(\d{2})\.csv$', template = "$1-$2" }"#,
        r#"period = { constant = "2015-05" }"#,
    );
    assert!(
        text.contains(r#"period = { constant = "2015-05" }"#),
        "{text}"
    );
    std::fs::write(&file, text).expect("pipeline");
    extracts.join("fs_b.csv")
}

/// A lake that does not hold the raw extracts of what it processed (restored from its
/// home store, where they stay) rebuilds a kommun-month two extracts feed from the one
/// that changed and the one this run fetched unchanged, as a lake holding both would.
#[tokio::test]
async fn a_lake_without_its_raw_extracts_rebuilds_a_partition_from_the_fetched_ones() {
    let sample = Path::new("samples/kalmar/fs_201505.csv");
    let b = without_first_data_row(sample);
    let mut t = TestLake::new();
    let b_path = two_deliveries(&mut t, &b);
    let (first, out) = t.run(&["fs"]).await;
    assert_eq!(first.reports[0].status, "ok", "{out}");
    std::fs::remove_dir_all(t.lake().root().join("raw")).expect("rm raw");
    // b changes; a, unchanged, feeds the same kommun-month.
    let b2 = without_first_data_row(&b_path);
    std::fs::write(&b_path, &b2).expect("write");
    let (second, out) = t.run(&["fs"]).await;
    assert_eq!(second.reports[0].status, "ok", "{out}");
    assert_eq!(second.reports[0].files_unchanged, 1, "{out}");
    // The same bytes as a lake (with the same key) that processed both deliveries as
    // they are now.
    let mut reference = TestLake::new();
    two_deliveries(&mut reference, &b2);
    let key = t.dir.path().join("key");
    std::fs::create_dir_all(reference.dir.path().join("key")).expect("mkdir");
    std::fs::copy(
        key.join("pseudonym.key"),
        reference.dir.path().join("key/pseudonym.key"),
    )
    .expect("the same key");
    let (fresh, out) = reference.run(&["fs"]).await;
    assert_eq!(fresh.reports[0].status, "ok", "{out}");
    let rebuilt = std::fs::read(partition(&t)).expect("partition");
    assert!(
        rebuilt == std::fs::read(partition(&reference)).expect("reference partition"),
        "the rebuilt kommun-month differs from the reference's"
    );
    assert_eq!(
        t.scalar("select count(*) from forsorjningsstod").await,
        reference
            .scalar("select count(*) from forsorjningsstod")
            .await
    );
}

#[tokio::test]
async fn too_many_bad_rows_fail_the_run_and_keep_the_last_good_data() {
    let mut t = TestLake::new();
    let extract = private_fs_pipeline(&mut t);
    let (ok, out) = t.run(&["fs"]).await;
    assert!(ok.success(), "{out}");
    let good = std::fs::read(partition(&t)).expect("partition");
    // Every identity number broken: far above the 5 % quarantine limit.
    let original = std::fs::read(&extract).expect("read");
    let (text, _, _) = encoding_rs::WINDOWS_1252.decode(&original);
    let broken: String = text
        .lines()
        .map(|l| {
            if l.starts_with("19") {
                format!("X{l}")
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\r\n")
        + "\r\n";
    std::fs::write(&extract, encoding_rs::WINDOWS_1252.encode(&broken).0).expect("write");
    let (failed, out) = t.run(&["fs"]).await;
    assert!(!failed.success());
    let err = failed.reports[0].error.clone().expect("an error");
    assert!(
        err.contains("pipeline fs")
            && err.contains("fs_201505.csv")
            && err.contains("max_quarantined_share"),
        "{err}"
    );
    assert!(out.contains("failed"), "{out}");
    assert_eq!(
        std::fs::read(partition(&t)).expect("partition"),
        good,
        "the previous version must stay"
    );
    assert!(
        t.scalar("select count(*) from quarantine where pipeline = 'fs'")
            .await
            .unwrap_or(0)
            > 100,
        "the rejected rows are kept for inspection"
    );
    // The corrected extract runs again; the quarantine of the superseded one is gone.
    std::fs::write(&extract, &original).expect("restore");
    let (fixed, out) = t.run(&["fs"]).await;
    assert!(fixed.success(), "{out}");
    assert_eq!(
        t.scalar("select count(*) from quarantine where pipeline = 'fs'")
            .await,
        Some(2)
    );
}

/// The extract without its first data row (a smaller, well-formed delivery).
pub fn without_first_data_row(extract: &Path) -> Vec<u8> {
    let bytes = std::fs::read(extract).expect("read");
    let first = bytes.iter().position(|b| *b == b'\n').expect("header line") + 1;
    let second = first
        + bytes[first..]
            .iter()
            .position(|b| *b == b'\n')
            .expect("a row")
        + 1;
    [&bytes[..first], &bytes[second..]].concat()
}

pub fn write_config(dir: &Path, pipelines: &Path) -> PathBuf {
    let key = dir.join("pseudonym.key");
    std::fs::write(&key, "11".repeat(32)).expect("key");
    let sql = std::fs::canonicalize("sql").expect("sql dir");
    let cfg = dir.join("malgrupp.toml");
    let text = format!(
        "[lake]\nroot = '{}'\n[paths]\npipelines = '{}'\nsql = '{}'\n[pseudonymization]\nkey_file = '{}'\n",
        dir.join("data").display(),
        pipelines.display(),
        sql.display(),
        key.display()
    );
    std::fs::write(&cfg, text).expect("config");
    cfg
}

#[tokio::test]
async fn a_run_killed_before_publishing_leaves_the_previous_partition() {
    let mut t = TestLake::new();
    let extract = private_fs_pipeline(&mut t);
    let cfg = write_config(t.dir.path(), &t.settings.pipelines_dir);
    let bin = env!("CARGO_BIN_EXE_malgrupp");
    let status = Command::new(bin)
        .args(["--config", cfg.to_str().expect("utf-8 path"), "run", "fs"])
        .status()
        .expect("spawn");
    assert!(status.success());
    let part = t
        .dir
        .path()
        .join("data/forsorjningsstod/kommun=0880/period=2015-05/fs.parquet");
    let before = std::fs::read(&part).expect("published");
    // A changed extract, and a process that dies with everything staged.
    std::fs::write(&extract, without_first_data_row(&extract)).expect("write");
    let killed = Command::new(bin)
        .args(["--config", cfg.to_str().expect("utf-8 path"), "run", "fs"])
        .env("MALGRUPP_FAILPOINT", "before-publish")
        .output()
        .expect("spawn");
    assert!(!killed.status.success(), "the failpoint aborts the process");
    assert!(String::from_utf8_lossy(&killed.stderr).contains("failpoint before-publish"));
    assert_eq!(
        std::fs::read(&part).expect("still there"),
        before,
        "the previous partition is unchanged"
    );
    let leftovers: Vec<_> = files_under(&t.dir.path().join("data"))
        .into_iter()
        .filter(|p| p.to_string_lossy().contains(".tmp-"))
        .collect();
    assert!(!leftovers.is_empty(), "the killed run had staged files");
    // Readers still see the old version.
    t.settings.lake_root = t.dir.path().join("data");
    assert_eq!(
        t.scalar("select count(distinct person_id) from forsorjningsstod")
            .await,
        Some(111)
    );
    // The next run cleans up and publishes.
    let status = Command::new(bin)
        .args(["--config", cfg.to_str().expect("utf-8 path"), "run", "fs"])
        .status()
        .expect("spawn");
    assert!(status.success());
    assert!(
        files_under(&t.dir.path().join("data"))
            .iter()
            .all(|p| !p.to_string_lossy().contains(".tmp-"))
    );
    assert_ne!(std::fs::read(&part).expect("published"), before);
}

#[test]
fn a_publish_waits_while_another_process_publishes_the_same_lake() {
    use std::io::BufRead;
    let mut t = TestLake::new();
    private_fs_pipeline(&mut t);
    let cfg = write_config(t.dir.path(), &t.settings.pipelines_dir);
    let root = t.dir.path().join("data");
    // Another process's publish in progress: it holds the lake's publish lock.
    let other = malgrupp::lake::lock::LakeLock::try_acquire(&root, malgrupp::publish::LOCK)
        .expect("io")
        .expect("free");
    let mut child = Command::new(env!("CARGO_BIN_EXE_malgrupp"))
        .args(["--config", cfg.to_str().expect("utf-8 path"), "run", "fs"])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut all = String::new();
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            let _ = tx.send(line.clone());
            all.push_str(&line);
            all.push('\n');
        }
        all
    });
    // The run ingests, then waits for the lock instead of publishing beside the other.
    let waiting = loop {
        match rx.recv_timeout(std::time::Duration::from_secs(120)) {
            Ok(line) if line.contains("waiting for another publish") => break line,
            Ok(_) => {}
            Err(_) => {
                let _ = child.kill();
                panic!(
                    "the run did not wait for the publish in progress:\n{}",
                    reader.join().expect("reader")
                );
            }
        }
    };
    assert!(
        waiting.contains(&format!("pid {}", std::process::id())),
        "the wait names the holder: {waiting}"
    );
    assert!(
        std::fs::symlink_metadata(root.join("published")).is_err(),
        "nothing was published while the other publish held the lake"
    );
    assert!(
        child.try_wait().expect("wait").is_none(),
        "the run is still waiting"
    );
    // Once the other publish ends, the run publishes and finishes.
    drop(other);
    let status = child.wait().expect("wait");
    let log = reader.join().expect("reader");
    assert!(status.success(), "{log}");
    assert!(
        crate::common::is_published(&root.join("published"), "kartlaggning"),
        "published after the wait: {log}"
    );
}
