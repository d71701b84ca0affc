//! The national case at a small size: chunked ingest changes no byte and keeps row
//! numbers; publishing a kommun-month at a time (in parallel, in chunks of kommuner or
//! of months bounded in rows, incrementally) gives exactly what suppressing each kommun-month on its own gives, and
//! what one suppression of the whole table gives; a night adds a month without
//! recomputing the others; nothing changed means nothing written.

use std::collections::BTreeMap;
use std::path::Path;

use malgrupp::cli::bench_national;
use malgrupp::lake::Lake;
use malgrupp::normalize::pseudonym::PseudonymKey;
use malgrupp::pipeline::{self, RunContext, RunOptions};
use malgrupp::publish::{self, cells, suppression};
use malgrupp::query::columns;

use crate::common::{TestLake, files_under, query_in};

/// Runs the shipped Kalmar FS pipeline on its sample into `root` with `chunk_rows`,
/// holding `memory_bytes` of mapped rows in memory (0: the default).
async fn kalmar_fs_into(
    root: &Path,
    chunk_rows: usize,
    memory_bytes: usize,
) -> pipeline::RunReport {
    let path = Path::new("pipelines/kalmar_fs.toml");
    let text = std::fs::read_to_string(path).expect("shipped pipeline");
    let p = malgrupp::config::Pipeline::from_toml(path, &text).expect("valid pipeline");
    let lake = Lake::new(root);
    let key = PseudonymKey::from_bytes([3; 32]);
    let client = malgrupp::source::http::client().expect("client");
    let ctx = RunContext {
        lake: &lake,
        key: &key,
        client: &client,
        memory_bytes,
        lease: None,
    };
    let opts = RunOptions {
        chunk_rows,
        ..RunOptions::default()
    };
    let manifest = malgrupp::lake::manifest::Manifest::default();
    pipeline::run(&ctx, &p, &manifest, &opts).await.report
}

#[tokio::test]
async fn an_extract_larger_than_a_chunk_is_written_byte_identically_with_its_row_numbers() {
    let dir = tempfile::tempdir().expect("tempdir");
    // 117 data rows, a trailing total row and two bad rows: with 7-row chunks the
    // trailer is held back across chunk boundaries and the bad rows fall in later chunks.
    let small = kalmar_fs_into(&dir.path().join("small"), 7, 0).await;
    let whole = kalmar_fs_into(&dir.path().join("whole"), 1_000_000, 0).await;
    // A budget of one byte spills the mapped rows to disk after every chunk.
    let spilled = kalmar_fs_into(&dir.path().join("spilled"), 7, 1).await;
    assert_eq!(spilled.status, "ok", "{:?}", spilled.error);
    let spill_dir = dir.path().join("spilled/_spill");
    assert!(spill_dir.is_dir(), "the tiny budget never spilled");
    assert_eq!(
        files_under(&spill_dir),
        Vec::<std::path::PathBuf>::new(),
        "spill files outlived the run"
    );
    assert_eq!(small.status, "ok", "{:?}", small.error);
    assert_eq!(
        (
            small.rows_in,
            small.rows_written,
            small.rows_quarantined,
            small.rows_dropped
        ),
        (
            whole.rows_in,
            whole.rows_written,
            whole.rows_quarantined,
            whole.rows_dropped
        )
    );
    assert!(small.rows_quarantined >= 1 && small.rows_dropped == 1);
    let parquet = |root: &Path| -> BTreeMap<String, Vec<u8>> {
        files_under(root)
            .into_iter()
            .filter(|f| f.extension().is_some_and(|e| e == "parquet"))
            .map(|f| {
                let rel = f
                    .strip_prefix(root)
                    .expect("under root")
                    .display()
                    .to_string();
                (rel, std::fs::read(&f).expect("read"))
            })
            .collect()
    };
    let (a, b) = (
        parquet(&dir.path().join("small")),
        parquet(&dir.path().join("whole")),
    );
    assert!(
        a.keys().any(|k| k.starts_with("forsorjningsstod/")),
        "{:?}",
        a.keys()
    );
    assert!(
        a.keys().any(|k| k.starts_with("quarantine/")),
        "{:?}",
        a.keys()
    );
    assert_eq!(
        a, b,
        "partition and quarantine files differ between chunk sizes"
    );
    assert_eq!(
        a,
        parquet(&dir.path().join("spilled")),
        "spilling the mapped rows changed the files"
    );

    // The quarantined row numbers are the extract's own line numbers.
    let ctx = malgrupp::query::new_session();
    let qdir = dir.path().join("small/quarantine");
    let qfile = files_under(&qdir)
        .into_iter()
        .find(|f| f.extension().is_some_and(|e| e == "parquet"))
        .expect("quarantine file");
    ctx.register_parquet("q", &qfile.display().to_string(), Default::default())
        .await
        .expect("register");
    let batches = query_in(&ctx, "select \"row\", reason from q order by \"row\"").await;
    let raw = std::fs::read("samples/kalmar/fs_201505.csv").expect("sample");
    let (bytes, _, _) = encoding_rs::WINDOWS_1252.decode(&raw);
    let lines: Vec<&str> = bytes.lines().collect();
    let mut checked = 0;
    for b in &batches {
        let rows = columns::ints(b.column(0)).expect("row");
        let reasons = columns::texts(b.column(1)).expect("reason");
        for (row, reason) in rows.iter().zip(&reasons) {
            let row = row.expect("row number");
            let line = lines[row as usize - 1];
            if reason.as_deref().unwrap_or("").contains("fields.orsak") {
                assert!(line.contains("Okänd kod 99"), "row {row} is {line}");
                checked += 1;
            }
        }
    }
    assert_eq!(checked, 1, "the unknown reason code is quarantined once");
}

/// The national layout: `kommuner` kommuner × `months` months, `rows` rows a month.
pub(crate) fn national(
    t: &mut TestLake,
    kommuner: usize,
    months: usize,
    rows: usize,
) -> std::path::PathBuf {
    let extracts = t.dir.path().join("extracts");
    std::fs::create_dir_all(&extracts).expect("mkdir");
    for m in 0..months {
        bench_national::write_month(&extracts, m as i64, rows, kommuner).expect("extract");
    }
    let pipelines = t.dir.path().join("pipelines");
    std::fs::create_dir_all(&pipelines).expect("mkdir");
    let toml = bench_national::pipeline_toml(&t.settings, &extracts).expect("pipeline");
    std::fs::write(pipelines.join("national_fs.toml"), toml).expect("write");
    t.settings.pipelines_dir = pipelines;
    extracts
}

/// The published long table as (keys, antal, skyddad) rows.
async fn published(t: &TestLake) -> Vec<(Vec<String>, Option<i64>, bool)> {
    let ctx = malgrupp::query::new_session();
    // One file per period: read as one table, as the published readers do.
    let dir = publish::dir(&t.lake()).join("kartlaggning");
    ctx.register_parquet("k", &format!("{}/", dir.display()), Default::default())
        .await
        .expect("register");
    let mut out = Vec::new();
    for b in query_in(&ctx, "select * from k").await {
        let text: Vec<Vec<Option<String>>> = (0..7)
            .map(|i| columns::texts(b.column(i)).expect("text"))
            .collect();
        let antal = columns::ints(b.column(9)).expect("antal");
        let flag = columns::texts(b.column(10)).expect("flag");
        for r in 0..b.num_rows() {
            out.push((
                text.iter()
                    .map(|c| c[r].clone().unwrap_or_default())
                    .collect(),
                antal[r],
                flag[r].as_deref() == Some("true"),
            ));
        }
    }
    // Periods are files of their own, read in any order: compared sorted.
    out.sort();
    out
}

/// The truth from the lake, suppressed by `flags_of`.
async fn expected(
    t: &TestLake,
    flags_of: impl Fn(&[publish::Cell]) -> Vec<bool>,
) -> Vec<(Vec<String>, Option<i64>, bool)> {
    let ctx = t.session().await;
    let cells = cells::read_cells(&query_in(&ctx, &cells::sql(None)).await).expect("cells");
    let flags = flags_of(&cells);
    let mut rows: Vec<_> = cells
        .iter()
        .zip(flags)
        .map(|(c, f)| {
            (
                c.keys[..7].to_vec(),
                if f { None } else { c.antal },
                f && c.antal.is_some(),
            )
        })
        .collect();
    rows.sort();
    rows
}

/// Each kommun-month suppressed on its own, one after the other.
fn one_kommun_month_at_a_time(cells: &[publish::Cell]) -> Vec<bool> {
    let mut flags = Vec::new();
    let mut start = 0;
    while start < cells.len() {
        let end = (start..cells.len())
            .find(|&i| cells[i].keys[..2] != cells[start].keys[..2])
            .unwrap_or(cells.len());
        let part = &cells[start..end];
        let values: Vec<Option<i64>> = part.iter().map(|c| c.antal).collect();
        flags.extend(suppression::suppress(
            &values,
            &publish::constraints(part),
            5,
        ));
        start = end;
    }
    flags
}

#[tokio::test]
async fn national_publish_equals_one_kommun_month_at_a_time_and_a_night_recomputes_one_month() {
    let mut t = TestLake::new();
    // The full publish takes one kommun (its two months) per chunk, each asked for with
    // `kommun = …`; the night 24 kommuner of its one month per chunk; a changed
    // kommun-month of an old period mixes recomputed and kept rows in one chunk.
    const K: usize = 30;
    t.settings.kommun_months_per_chunk = 2;
    let extracts = national(&mut t, K, 2, K * 6);
    let (outcome, out) = t.run(&["national_fs"]).await;
    assert_eq!(outcome.reports[0].status, "ok", "{out}");
    assert!(outcome.problems.is_empty(), "{:?}", outcome.problems);
    let first = published(&t).await;
    assert!(first.len() > K * 2 * 700, "{} published rows", first.len());
    assert!(first.iter().any(|r| r.2), "small counts are suppressed");
    assert_eq!(first, expected(&t, one_kommun_month_at_a_time).await);

    // A night: one more month. Only its kommun-months are recomputed, and the result is
    // byte for byte what a publish from scratch gives.
    let before_night = std::fs::canonicalize(publish::dir(&t.lake())).expect("generation");
    bench_national::write_month(&extracts, 2, K * 6, K).expect("extract");
    t.settings.kommun_months_per_chunk = 24;
    let (outcome, out) = t.run(&["national_fs"]).await;
    assert_eq!(outcome.reports[0].status, "ok", "{out}");
    assert_eq!(
        outcome.kommun_months,
        (K, 2 * K),
        "only the new month is recomputed"
    );
    let ctx = t.session().await;
    let out_dir = publish::dir(&t.lake());
    // Every file of the per-period views, by name (relative to the view's directory, which
    // the count below tells apart), with its content.
    let read_set = || -> Vec<(String, Vec<u8>)> {
        publish::views::PERIOD_VIEWS
            .iter()
            .flat_map(|v| {
                crate::common::contents_under(&out_dir.join(v))
                    .into_iter()
                    .map(move |(name, bytes)| (format!("{v}/{name}"), bytes))
            })
            .collect()
    };
    let inode = |dir: &Path, name: &str| {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata(dir.join(name))
            .expect("published file")
            .ino()
    };
    assert_eq!(
        read_set().len(),
        3 * 3 * 2,
        "three views × three months × two formats"
    );
    // The months the night did not touch are the previous generation's files, linked.
    let after_night = std::fs::canonicalize(&out_dir).expect("generation");
    assert_ne!(after_night, before_night);
    for name in [
        "kartlaggning/2015-01.parquet",
        "kartlaggning/2015-02.csv",
        "bilaga1_fs_orsak/2015-01.csv",
    ] {
        assert_eq!(
            inode(&before_night, name),
            inode(&after_night, name),
            "{name} kept"
        );
    }
    let night = read_set();
    // Nothing changed since: nothing is recomputed, nothing written.
    let again = publish::publish(&t.settings, &ctx).await.expect("publish");
    assert!(again.views.is_empty() && again.recomputed == 0, "{again:?}");

    // One kommun-month of an old period changes (its partition file is replaced, which
    // gives it a new modification time): only it is recomputed; its period's other
    // kommun-months keep their rows, and the other periods their files.
    let code = malgrupp::normalize::kommun::KOMMUNER[3].0;
    let partition = t
        .lake()
        .partition_file("forsorjningsstod", code, "2015-02", "national_fs");
    std::fs::File::options()
        .write(true)
        .open(&partition)
        .expect("partition")
        .set_modified(std::time::SystemTime::now() + std::time::Duration::from_secs(5))
        .expect("touch");
    let ctx = t.session().await;
    let one = publish::publish(&t.settings, &ctx).await.expect("publish");
    assert_eq!((one.recomputed, one.kept), (1, K * 3 - 1), "{one:?}");
    let after_one = std::fs::canonicalize(&out_dir).expect("generation");
    assert_eq!(
        inode(&after_night, "kartlaggning/2015-03.parquet"),
        inode(&after_one, "kartlaggning/2015-03.parquet")
    );
    assert_ne!(
        inode(&after_night, "kartlaggning/2015-02.parquet"),
        inode(&after_one, "kartlaggning/2015-02.parquet"),
        "the changed period is written anew"
    );
    let differing: Vec<String> = read_set()
        .into_iter()
        .zip(&night)
        .filter(|(a, b)| a != *b)
        .map(|(a, _)| a.0)
        .collect();
    assert!(
        differing.is_empty(),
        "the same inputs publish the same bytes: {differing:?}"
    );

    std::fs::remove_file(out_dir.join(publish::state::FILE)).expect("forget the state");
    let scratch = publish::publish(&t.settings, &ctx).await.expect("publish");
    assert_eq!((scratch.recomputed, scratch.kept), (K * 3, 0));
    let full = read_set();
    assert!(
        night == full,
        "the night's publish differs from a publish from scratch"
    );
    assert_eq!(
        published(&t).await,
        expected(&t, one_kommun_month_at_a_time).await
    );
}

#[tokio::test]
async fn splitting_by_kommun_month_hides_what_one_suppression_of_the_whole_table_hides() {
    let mut t = TestLake::new();
    national(&mut t, 12, 2, 12 * 8);
    let (outcome, out) = t.run(&["national_fs"]).await;
    assert_eq!(outcome.reports[0].status, "ok", "{out}");
    let whole = |cells: &[publish::Cell]| {
        let values: Vec<Option<i64>> = cells.iter().map(|c| c.antal).collect();
        suppression::suppress(&values, &publish::constraints(cells), 5)
    };
    assert_eq!(published(&t).await, expected(&t, whole).await);
}

#[tokio::test]
async fn chunks_bounded_in_rows_cut_kommuner_between_months_and_change_nothing() {
    let mut t = TestLake::new();
    national(&mut t, 6, 2, 6 * 8);
    // 8 rows a kommun-month: 7 rows a chunk cut each kommun between its months, and
    // put each kommun-month, being over it, in a chunk of its own.
    t.settings.rows_per_chunk = 7;
    let (outcome, out) = t.run(&["national_fs"]).await;
    assert_eq!(outcome.reports[0].status, "ok", "{out}");
    let rows = |most: &str, group: &str| {
        format!("select {most}(n) from (select count(*) n from forsorjningsstod group by {group})")
    };
    let kommun = t.scalar(&rows("min", "kommun")).await;
    assert!(kommun > Some(7), "the budget cuts each kommun: {kommun:?}");
    let month = t.scalar(&rows("min", "kommun, period")).await;
    assert!(month > Some(7), "and is under each month: {month:?}");
    assert_eq!(
        published(&t).await,
        expected(&t, one_kommun_month_at_a_time).await
    );
}

/// Runs `national_fs` as its own process with the config `cfg`, stopping at `failpoint`.
fn run_national(cfg: &std::path::Path, failpoint: Option<&str>) -> std::process::Output {
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_malgrupp"));
    c.args([
        "--config",
        cfg.to_str().expect("utf-8 path"),
        "run",
        "national_fs",
    ]);
    if let Some(f) = failpoint {
        c.env("MALGRUPP_FAILPOINT", f);
    }
    c.output().expect("spawn")
}

#[tokio::test]
async fn a_run_killed_while_spilling_leaves_the_lake_as_it_was_and_the_next_run_clears_its_files() {
    let mut t = TestLake::new();
    let extracts = national(&mut t, 5, 1, 8000);
    // 8,000 mapped rows are more than the smallest budget, 1 MiB: the run spills.
    let cfg = crate::lake::write_config(t.dir.path(), &t.settings.pipelines_dir);
    let text = std::fs::read_to_string(&cfg).expect("config");
    std::fs::write(
        &cfg,
        text.replace("[lake]\n", "[lake]\ningest_memory_mb = 1\n"),
    )
    .expect("config");
    let first = run_national(&cfg, None);
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let data = t.dir.path().join("data");
    let lake_files = || -> BTreeMap<String, Vec<u8>> {
        files_under(&data.join("forsorjningsstod"))
            .into_iter()
            .map(|p| (p.display().to_string(), std::fs::read(&p).expect("read")))
            .collect()
    };
    let before = lake_files();
    assert!(!before.is_empty());
    // A second month, and a process that dies once it has spilled.
    bench_national::write_month(&extracts, 1, 8000, 5).expect("extract");
    let killed = run_national(&cfg, Some("after-spill"));
    assert!(!killed.status.success(), "the failpoint aborts the process");
    assert!(String::from_utf8_lossy(&killed.stderr).contains("failpoint after-spill"));
    let spilled: Vec<_> = files_under(&data.join("_spill"))
        .into_iter()
        .filter(|p| p.to_string_lossy().contains(".tmp-"))
        .collect();
    assert!(!spilled.is_empty(), "the killed run had spilled");
    assert_eq!(
        lake_files(),
        before,
        "no partition of the killed run is visible"
    );
    // The next run clears the dead run's spill files and publishes both months.
    let next = run_national(&cfg, None);
    assert!(
        next.status.success(),
        "{}",
        String::from_utf8_lossy(&next.stderr)
    );
    let left: Vec<_> = files_under(&data)
        .into_iter()
        .filter(|p| p.to_string_lossy().contains(".tmp-"))
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
    let after = lake_files();
    assert!(
        after.len() > before.len(),
        "the second month is in the lake"
    );
    assert!(before.keys().all(|k| after.contains_key(k)));
}

#[tokio::test]
async fn extracts_decoded_at_the_same_time_keep_their_rows_in_extract_then_file_order() {
    use sha2::Digest;
    let mut t = TestLake::new();
    // Two extracts of the same month and kommuner: `fs_a` first by name but large, `fs_b`
    // small, so `fs_b` is mapped first when they are decoded side by side.
    let extracts = national(&mut t, 3, 1, 30_000);
    let month = |name: &str| {
        std::fs::rename(extracts.join("fs_201501.csv"), extracts.join(name)).expect("rename");
        let bytes = std::fs::read(extracts.join(name)).expect("read");
        hex::encode(sha2::Sha256::digest(&bytes))[..16].to_string()
    };
    let a = month("fs_a.csv");
    bench_national::write_month(&extracts, 0, 60, 3).expect("extract");
    let b = month("fs_b.csv");
    let cfg = crate::lake::write_config(t.dir.path(), &t.settings.pipelines_dir);
    let out = run_national(&cfg, None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let part = files_under(&t.dir.path().join("data/forsorjningsstod"))
        .into_iter()
        .find(|p| p.extension().is_some_and(|e| e == "parquet"))
        .expect("a partition file");
    let ctx = malgrupp::query::new_session();
    ctx.register_parquet("p", &part.display().to_string(), Default::default())
        .await
        .expect("register");
    let mut ids = Vec::new();
    for batch in query_in(&ctx, "select extract_id from p").await {
        ids.extend(
            columns::texts(batch.column(0))
                .expect("text")
                .into_iter()
                .flatten(),
        );
    }
    // Every row of the partition, in the file's order: fs_a's 10,000 then fs_b's 20.
    let expected: Vec<String> = std::iter::repeat_n(a, 10_000)
        .chain(std::iter::repeat_n(b, 20))
        .collect();
    assert_eq!(ids.len(), expected.len());
    assert!(
        ids == expected,
        "the partition's rows are not in extract then file order"
    );
}

#[tokio::test]
async fn a_failed_extract_stops_the_decoding_of_those_after_it() {
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let mut t = TestLake::new();
    let extracts = national(&mut t, 3, cores + 4, 3_000);
    // The first extract by name is cut mid-row: it fails as soon as it is read.
    let first = extracts.join("fs_201501.csv");
    let mut bytes = std::fs::read(&first).expect("read");
    bytes.truncate(bytes.len() - 20);
    std::fs::write(&first, bytes).expect("write");
    let cfg = crate::lake::write_config(t.dir.path(), &t.settings.pipelines_dir);
    let out = run_national(&cfg, None);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("fs_201501.csv") && stderr.contains("middle of a row"),
        "{stderr}"
    );
    // Each extract's raw file is kept when its decoding starts: the failed one and those
    // already started beside it, not the rest.
    let kept = files_under(&t.dir.path().join("data/raw")).len();
    assert!(
        (1..=cores).contains(&kept),
        "{kept} extracts of {} were decoded after the first had failed the run",
        cores + 4
    );
}

/// The benchmark works on a lake of its own, so its synthetic rows never reach the
/// settings' `[publish] delta` or `[lake] delta` (production buckets); `--delta` and
/// `--lake-delta` name the targets it syncs to and times, after the full run and after
/// the night, and a restore from the lake's target at the end.
#[tokio::test]
async fn the_national_benchmark_syncs_only_to_the_target_it_is_given() {
    use malgrupp::lake::location::Location;
    let dir = tempfile::tempdir().expect("tempdir");
    let production = dir.path().join("production");
    let target = dir.path().join("bench-target");
    let mut settings = malgrupp::config::Settings::defaults_at(Path::new(""));
    let production_lake = dir.path().join("production-lake");
    let target_lake = dir.path().join("bench-target-lake");
    settings.published_delta = Some(Location::Local(production.clone()));
    settings.lake_delta = Some(Location::Local(production_lake.clone()));
    let n = bench_national::National {
        rows: 300,
        kommuner: 3,
        months: 1,
        keep: None,
        delta: Some(Location::Local(target.clone())),
        lake_delta: Some(Location::Local(target_lake.clone())),
        queries: 1,
    };
    let mut out = Vec::new();
    bench_national::execute(&settings, &n, &mut out)
        .await
        .expect("bench runs");
    let text = String::from_utf8(out).expect("utf-8");
    assert!(
        !production.exists() && !production_lake.exists(),
        "the settings' target got bench data:\n{text}"
    );
    assert_eq!(text.matches("lake delta sync").count(), 2, "{text}");
    assert_eq!(text.matches("delta sync").count(), 4, "{text}");
    assert_eq!(text.matches(" p95 ").count(), 2, "{text}");
    // And a restore from the lake's target, of every file the two runs left (3 kommuner ×
    // 2 months of one table).
    let restore = text
        .lines()
        .find(|l| l.starts_with("restore "))
        .unwrap_or_else(|| panic!("no restore timed:\n{text}"));
    assert!(
        restore.contains("(6 files of 1 tables and 2 runs from"),
        "{text}"
    );
    let log = target.join("kartlaggning").join("_delta_log");
    let lake_log = target_lake.join("forsorjningsstod").join("_delta_log");
    for version in ["00000000000000000000.json", "00000000000000000001.json"] {
        assert!(log.join(version).is_file(), "{version} missing:\n{text}");
        assert!(
            lake_log.join(version).is_file(),
            "lake {version} missing:\n{text}"
        );
    }
    // Claimed by the benchmarks' shared identity: the next benchmark may commit there, a
    // real lake may not.
    for claimed in [&target, &target_lake] {
        let claim = std::fs::read_to_string(claimed.join("_meta/lake")).expect("claim");
        assert!(claim.contains("\"malgrupp-national-benchmark\""), "{claim}");
    }
    // The next benchmark commits over this one: the runs its lake lacks are older than
    // all of its own, so they count as let go of, not as another host's.
    let mut out = Vec::new();
    bench_national::execute(&settings, &n, &mut out)
        .await
        .expect("a second benchmark to the same targets");
    let text = String::from_utf8(out).expect("utf-8");
    assert_eq!(text.matches("lake delta sync").count(), 2, "{text}");
}
