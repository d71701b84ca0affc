//! Damaged deliveries never replace good data, and published/ always catches up with the
//! lake: a file cut mid-row or at a line break, an extract with no data rows, a kill between the lake's
//! manifest and the published views, short rows and stray quotes (quarantined at the
//! file's own line numbers, blank lines counted).

use std::process::Command;

use crate::common::{TestLake, files_under};
use crate::lake::{partition, private_fs_pipeline, without_first_data_row, write_config};

/// A lake where the shipped Kalmar FS pipeline (`fs`) has run once on its sample; the
/// extract's path and the rows that run wrote.
async fn after_a_good_run() -> (TestLake, std::path::PathBuf, usize) {
    let mut t = TestLake::new();
    let extract = private_fs_pipeline(&mut t);
    let (ok, out) = t.run(&["fs"]).await;
    assert!(ok.success(), "{out}");
    (t, extract, ok.reports[0].rows_written)
}

/// Runs `fs` once more on a damaged extract and checks it failed with `expected` in its
/// error and left the partition and the quarantine as they were.
async fn fails_and_keeps_the_last_good_data(t: &TestLake, expected: &str) {
    let good = std::fs::read(partition(t)).expect("partition");
    let quarantined = t.scalar("select count(*) from quarantine").await;
    let (failed, out) = t.run(&["fs"]).await;
    assert_eq!(failed.reports[0].status, "failed", "{out}");
    let err = failed.reports[0].error.clone().unwrap_or_default();
    assert!(
        err.contains(expected) && err.contains("fs_201505.csv"),
        "{err}"
    );
    assert_eq!(std::fs::read(partition(t)).expect("partition"), good);
    assert_eq!(
        t.scalar("select count(*) from quarantine").await,
        quarantined
    );
}

#[tokio::test]
async fn a_file_cut_mid_row_fails_instead_of_losing_its_last_rows() {
    let (t, extract, _) = after_a_good_run().await;
    // An interrupted transfer: the trailer and part of the last row are missing. Before,
    // the cut row was dropped as if it were the trailing total row.
    let mut bytes = std::fs::read(&extract).expect("read");
    bytes.truncate(bytes.len() - 20);
    std::fs::write(&extract, &bytes).expect("write");
    fails_and_keeps_the_last_good_data(&t, "middle of a row").await;
}

#[tokio::test]
async fn a_file_cut_at_a_line_break_fails_instead_of_dropping_a_data_row_as_the_trailer() {
    let (t, extract, _) = after_a_good_run().await;
    // Cut after a whole line: every line ends in a line break, so only the trailer's
    // pattern (`trailing_row_matches`) can tell the last data row from the total line.
    let mut lines = lines_of(&extract);
    lines.truncate(lines.len() - 10);
    write_lines(&extract, &lines);
    fails_and_keeps_the_last_good_data(&t, "does not match trailing_row_matches").await;
}

#[tokio::test]
async fn an_extract_with_only_a_header_and_a_total_line_fails() {
    let (t, extract, _) = after_a_good_run().await;
    let bytes = std::fs::read(&extract).expect("read");
    let header_end = bytes.iter().position(|b| *b == b'\n').expect("header") + 1;
    let total = b"Totalt;0;;;;;;;\r\n";
    std::fs::write(&extract, [&bytes[..header_end], total.as_slice()].concat()).expect("write");
    fails_and_keeps_the_last_good_data(&t, "no data rows").await;
    // The header alone as well.
    std::fs::write(&extract, &bytes[..header_end]).expect("write");
    fails_and_keeps_the_last_good_data(&t, "no data rows").await;
}

/// The published count of försörjningsstöd recipients 16-24 (kön T).
pub async fn published_recipients(t: &TestLake) -> Option<i64> {
    let ctx = malgrupp::query::new_session();
    malgrupp::published::open(&malgrupp::publish::dir(&t.lake()))
        .await
        .expect("published")
        .register(&ctx)
        .await;
    crate::common::scalar_in(&ctx, "select antal from kartlaggning where matt = 'fs_mottagare' and kon = 'T' and alder = '16-24' and dimension = 'total'").await
}

#[tokio::test]
async fn a_kill_after_the_manifest_is_caught_up_by_the_next_run_that_changes_nothing() {
    killed_after_the_manifest_then_caught_up("before-views").await;
}

#[tokio::test]
async fn a_kill_amid_the_published_files_leaves_readers_the_previous_set_whole() {
    killed_after_the_manifest_then_caught_up("after-one-view-file").await;
}

/// The published files and their contents (resolved through the `published` link).
fn published_set(t: &TestLake) -> Vec<(String, Vec<u8>)> {
    let dir = malgrupp::publish::dir(&t.lake());
    let resolved = std::fs::canonicalize(&dir).expect("published");
    crate::common::contents_under(&resolved)
}

/// A smaller delivery whose run is killed at `failpoint`, after the lake and its
/// manifest were updated: published/ is still the previous set, file for file, and the
/// next ordinary run (finding the extract unchanged) catches it up.
async fn killed_after_the_manifest_then_caught_up(failpoint: &str) {
    let mut t = TestLake::new();
    let extract = private_fs_pipeline(&mut t);
    let cfg = write_config(t.dir.path(), &t.settings.pipelines_dir);
    t.settings.lake_root = t.dir.path().join("data");
    let bin = env!("CARGO_BIN_EXE_malgrupp");
    let run = |failpoint: Option<&str>| {
        let mut c = Command::new(bin);
        c.args(["--config", cfg.to_str().expect("utf-8 path"), "run", "fs"]);
        if let Some(f) = failpoint {
            c.env("MALGRUPP_FAILPOINT", f);
        }
        c.output().expect("spawn")
    };
    assert!(run(None).status.success());
    let before = published_recipients(&t).await;
    assert!(before.is_some_and(|n| n > 100), "{before:?}");
    let set_before = published_set(&t);
    std::fs::write(&extract, without_first_data_row(&extract)).expect("write");
    let killed = run(Some(failpoint));
    assert!(!killed.status.success());
    assert!(String::from_utf8_lossy(&killed.stderr).contains(&format!("failpoint {failpoint}")));
    assert!(
        published_set(&t) == set_before,
        "published/ changed at {failpoint}"
    );
    let lake_count = t
        .scalar("select antal from kartlaggning where matt = 'fs_mottagare' and kon = 'T' and alder = '16-24' and dimension = 'total'")
        .await;
    assert_ne!(lake_count, before, "the lake has the new extract");
    assert_eq!(
        published_recipients(&t).await,
        before,
        "published/ is behind"
    );
    // The next ordinary run finds the extract unchanged, and still catches published/ up.
    let next = run(None);
    assert!(next.status.success());
    assert!(String::from_utf8_lossy(&next.stdout).contains("unchanged"));
    assert_eq!(published_recipients(&t).await, lake_count);
    assert!(
        files_under(&t.dir.path().join("data"))
            .iter()
            .all(|p| !p.to_string_lossy().contains(".tmp-")),
        "the killed run's staged files are gone"
    );
}

/// The extract's lines (without their CRLF) and a writer putting them back in cp1252.
fn lines_of(extract: &std::path::Path) -> Vec<String> {
    let bytes = std::fs::read(extract).expect("read");
    let (text, _, _) = encoding_rs::WINDOWS_1252.decode(&bytes);
    text.lines().map(str::to_string).collect()
}

fn write_lines(extract: &std::path::Path, lines: &[String]) {
    let text: String = lines.iter().map(|l| format!("{l}\r\n")).collect();
    let (bytes, _, _) = encoding_rs::WINDOWS_1252.encode(&text);
    std::fs::write(extract, &bytes).expect("write");
}

#[tokio::test]
async fn short_rows_are_quarantined_at_their_line_and_blank_lines_do_not_shift_numbers() {
    let (t, extract, written) = after_a_good_run().await;
    let q = "select count(*) from quarantine where pipeline = 'fs'";
    let before = t.scalar(q).await.unwrap_or(0);
    let mut lines = lines_of(&extract);
    // Two blank lines after the header: data begins on line 4 of the file.
    lines.insert(1, String::new());
    lines.insert(1, String::new());
    // Line 10 loses its last two fields (before, it was padded with empty ones).
    let short: Vec<&str> = lines[9].split(';').collect();
    lines[9] = short[..short.len() - 2].join(";");
    write_lines(&extract, &lines);
    let (ok, out) = t.run(&["fs"]).await;
    assert_eq!(ok.reports[0].status, "ok", "{out}");
    assert_eq!(t.scalar(q).await, Some(before + 1));
    let q = "select row from quarantine where reason like '%fields where the header has 9%'";
    assert_eq!(t.scalar(q).await, Some(10), "the file's own line number");
    assert_eq!(ok.reports[0].rows_written, written - 1);
}

/// `line` with field `i` written as `form` (a quote before or after it).
fn with_quote(line: &str, i: usize, form: &str) -> String {
    let mut fields: Vec<String> = line.split(';').map(str::to_string).collect();
    fields[i] = form.replace("{}", &fields[i]);
    fields.join(";")
}

#[tokio::test]
async fn a_stray_quote_never_merges_rows_silently() {
    let (t, extract, written) = after_a_good_run().await;
    let q = "select count(*) from quarantine where pipeline = 'fs'";
    let before = t.scalar(q).await.unwrap_or(0);
    let lines = lines_of(&extract);
    // A quote opening a field eight rows before the end and closing two rows later: the
    // three lines are one record, quarantined, and the rest is read as before.
    let mut quoted = lines.clone();
    let n = quoted.len();
    quoted[n - 9] = with_quote(&quoted[n - 9], 4, "\"{}");
    quoted[n - 7] = with_quote(&quoted[n - 7], 6, "{}\"");
    write_lines(&extract, &quoted);
    let (run, out) = t.run(&["fs"]).await;
    assert_eq!(run.reports[0].status, "ok", "{out}");
    assert_eq!(t.scalar(q).await, Some(before + 1));
    let q = "select row from quarantine where reason like '%stray quote%'";
    assert_eq!(t.scalar(q).await, i64::try_from(n - 8).ok());
    assert_eq!(
        run.reports[0].rows_written,
        written - 3,
        "3 lines in one quarantined row"
    );
    // A quote that is never closed swallows the rest of the file, trailer included: the
    // file fails instead of its last rows being dropped as the trailer.
    let mut open = lines;
    open[n - 9] = with_quote(&open[n - 9], 4, "\"{}");
    write_lines(&extract, &open);
    fails_and_keeps_the_last_good_data(&t, "stray quote").await;
}

#[tokio::test]
async fn a_mapped_column_named_twice_in_the_header_fails_the_file() {
    let mut t = TestLake::new();
    let extract = private_fs_pipeline(&mut t);
    let lines = lines_of(&extract);
    let n = lines.len();
    let with_columns = |extra: &str| -> Vec<String> {
        lines
            .iter()
            .enumerate()
            .map(|(i, l)| match i {
                0 => format!("{l};{extra}"),
                i if i + 1 == n => l.clone(),
                _ => format!("{l};x;y"),
            })
            .collect()
    };
    // Twice a column no field reads: used as before.
    write_lines(&extract, &with_columns("Kommentar;Kommentar"));
    let (ok, out) = t.run(&["fs"]).await;
    assert_eq!(ok.reports[0].status, "ok", "{out}");
    // Twice a column a field reads: which one is meant cannot be guessed.
    write_lines(&extract, &with_columns("Orsakskod;Kommentar"));
    fails_and_keeps_the_last_good_data(&t, "'Orsakskod' appears more than once").await;
}

#[tokio::test]
async fn an_extract_for_a_month_that_has_not_begun_fails() {
    let (t, extract, _) = after_a_good_run().await;
    // The shipped pipeline takes the period from the file name: a name for the year 2099.
    let future = extract.with_file_name("fs_209905.csv");
    std::fs::write(&future, without_first_data_row(&extract)).expect("write");
    std::fs::remove_file(&extract).expect("remove");
    let (failed, out) = t.run(&["fs"]).await;
    assert_eq!(failed.reports[0].status, "failed", "{out}");
    let err = failed.reports[0].error.clone().unwrap_or_default();
    assert!(err.contains("period 2099-05, after this month"), "{err}");
}

#[tokio::test]
async fn a_10_mb_line_is_quoted_briefly_and_the_ledger_stays_small() {
    let (t, extract, _) = after_a_good_run().await;
    let manifest = t.lake().root().join("_meta").join("manifest.json");
    let before = std::fs::metadata(&manifest).expect("manifest").len();
    // One 10 MB line: no header the pipeline knows, nothing else.
    let line: String = "Personnr".chars().cycle().take(10 * 1024 * 1024).collect();
    std::fs::write(&extract, line).expect("write");
    let (failed, out) = t.run(&["fs"]).await;
    assert_eq!(failed.reports[0].status, "failed", "{out}");
    let err = failed.reports[0].error.clone().unwrap_or_default();
    assert!(err.len() < 2_000, "the error quotes {} bytes", err.len());
    assert!(out.len() < 4_000, "the summary is {} bytes", out.len());
    let after = std::fs::metadata(&manifest).expect("manifest").len();
    assert!(
        after < before + 4_000,
        "the ledger grew from {before} to {after} bytes"
    );
}

/// Copies the directory tree `from` to `to`, leaving out `skip` (a top-level name).
fn copy_tree(from: &std::path::Path, to: &std::path::Path, skip: &str) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read dir").flatten() {
        let name = entry.file_name();
        if name == skip {
            continue;
        }
        let target = to.join(&name);
        if entry.path().is_dir() {
            copy_tree(&entry.path(), &target, "");
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

#[tokio::test]
async fn after_a_crash_loop_the_next_run_publishes_what_a_fresh_publish_of_the_lake_gives() {
    let mut t = TestLake::new();
    let extract = private_fs_pipeline(&mut t);
    let cfg = write_config(t.dir.path(), &t.settings.pipelines_dir);
    let bin = env!("CARGO_BIN_EXE_malgrupp");
    let command = |cfg: &std::path::Path| {
        let mut c = Command::new(bin);
        c.args(["--config", cfg.to_str().expect("utf-8 path"), "run"]);
        c.stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        c
    };
    assert!(command(&cfg).status().expect("spawn").success());
    // Three deliveries in turn, each run killed at a pseudo-random moment (a fixed seed:
    // the same moments on every machine speed are not promised, the bound on kills is).
    let full = std::fs::read(&extract).expect("read");
    let shorter = without_first_data_row(&extract);
    std::fs::write(&extract, &shorter).expect("write");
    let shortest = without_first_data_row(&extract);
    let versions = [&full, &shorter, &shortest];
    let mut seed: u64 = 0x5eed;
    for i in 0..15 {
        std::fs::write(&extract, versions[i % 3]).expect("write");
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let delay = std::time::Duration::from_millis((seed >> 33) % 1500);
        let mut child = command(&cfg).spawn().expect("spawn");
        std::thread::sleep(delay);
        let _ = child.kill();
        let _ = child.wait();
    }
    assert!(command(&cfg).status().expect("spawn").success());
    // A fresh publish of the same lake in a second directory.
    let fresh = t.dir.path().join("fresh");
    copy_tree(&t.dir.path().join("data"), &fresh.join("data"), "published");
    let none = fresh.join("pipelines");
    std::fs::create_dir_all(&none).expect("mkdir");
    let fresh_cfg = write_config(&fresh, &none);
    assert!(command(&fresh_cfg).status().expect("spawn").success());
    let published = |root: &std::path::Path| {
        let dir = root.join("data").join("published");
        let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
            .expect("published")
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().ends_with(".csv"))
            .map(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                (name, std::fs::read(e.path()).expect("read"))
            })
            .collect();
        files.sort();
        files
    };
    let (after_loop, from_scratch) = (published(t.dir.path()), published(&fresh));
    assert!(!from_scratch.is_empty());
    assert_eq!(
        after_loop.iter().map(|(n, _)| n).collect::<Vec<_>>(),
        from_scratch.iter().map(|(n, _)| n).collect::<Vec<_>>()
    );
    for ((name, a), (_, b)) in after_loop.iter().zip(&from_scratch) {
        assert!(a == b, "{name} differs from a fresh publish of the lake");
    }
    assert!(
        files_under(&t.dir.path().join("data"))
            .iter()
            .all(|p| !p.to_string_lossy().contains(".tmp-")),
        "no staged file of a killed run is left"
    );
}

/// The shipped KAA pipeline on a copy of its sample in which line 3 is registered on
/// `date`, with `options` added to the registration date's field.
async fn kaa_with_registration(date: &str, options: &str) -> malgrupp::cli::run::RunOutcome {
    let mut t = TestLake::new();
    let dir = t.dir.path().to_path_buf();
    let bytes = std::fs::read("samples/kalmar/kaa_2015-06-15.csv").expect("sample");
    let (text, _, _) = encoding_rs::WINDOWS_1252.decode(&bytes);
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let mut cells: Vec<String> = lines[2].split(';').map(str::to_string).collect();
    cells[1] = date.to_string();
    lines[2] = cells.join(";");
    write_lines(&dir.join("kaa_2015-06-15.csv"), &lines);
    let toml = std::fs::read_to_string("pipelines/kalmar_kaa.toml")
        .expect("shipped")
        .replace(
            "samples/kalmar/kaa_*.csv",
            &format!("{}/kaa_*.csv", dir.display()),
        )
        .replace(
            "registreringsdatum = \"Registreringsdatum\"",
            &format!("registreringsdatum = {{ column = \"Registreringsdatum\"{options} }}"),
        );
    std::fs::create_dir_all(dir.join("pipelines")).expect("mkdir");
    std::fs::write(dir.join("pipelines/kaa.toml"), toml).expect("pipeline");
    t.settings.pipelines_dir = dir.join("pipelines");
    let (outcome, out) = t.run(&["kaa"]).await;
    assert!(outcome.success(), "{out}");
    outcome
}

#[tokio::test]
async fn a_date_after_today_is_quarantined_unless_the_field_allows_days_ahead() {
    let ahead = (chrono::Utc::now().date_naive() + chrono::Days::new(30)).to_string();
    let strict = kaa_with_registration(&ahead, "").await;
    let lenient = kaa_with_registration(&ahead, ", max_days_ahead = 60").await;
    assert_eq!(
        strict.reports[0].rows_quarantined,
        lenient.reports[0].rows_quarantined + 1,
        "the row registered 30 days ahead is quarantined by default, not with 60 days allowed"
    );
    assert_eq!(
        strict.reports[0].rows_written + 1,
        lenient.reports[0].rows_written
    );
}
