//! `malgrupp bench --national`: the national case measured end to end. One national
//! försörjningsstöd extract per month (Windows-1252, the shipped Kalmar layout plus
//! `Kommun` and `Månad` columns, all kommuner in every file) goes through the real `run`
//! path — lock, ledger, quality gates, lake, publishing — into a temporary lake; then
//! one more month arrives (an ordinary night). Figures: ingest and publish time and
//! peak RSS (the OS's own high-water mark, reset between phases), rows/s, query latency
//! of random kommun-months, the night as a share of the full run, the cost per
//! kommun-month. `--keep DIR` keeps the extracts so `bench/duckdb_compare.sh` can run
//! DuckDB on the very same files.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use chrono::NaiveDate;

use crate::config::{Pipeline, Settings};
use crate::error::{Error, Result};
use crate::lake::location::Location;
use crate::normalize::pseudonym::KeySource;
use crate::pipeline::RunOptions;
use crate::service::runner::{self, Runner, Trigger};

/// The identity every benchmark's scratch lake has.
const BENCHMARK_LAKE: &str = "malgrupp-national-benchmark";

/// What to generate.
#[derive(Debug, Clone)]

pub struct National {
    /// Rows over all months of the full run.
    pub rows: usize,
    /// Kommuner (1–290).
    pub kommuner: usize,
    /// Months in the full run (the night adds one more).
    pub months: usize,
    /// Keep the extracts here (for the DuckDB comparison) instead of a temporary folder.
    pub keep: Option<PathBuf>,
    /// Commit the published views as Delta tables here after each publish, timed on
    /// their own (`[publish] delta` of the settings is never used: it may be production's).
    pub delta: Option<Location>,
    /// Commit the lake's tables as Delta tables here after each run, timed on their own
    /// (`[lake] delta` of the settings is never used either), and time a restore from
    /// there into an empty lake at the end.
    pub lake_delta: Option<Location>,
    /// Kommun-months queried for the latency figures (0: none).
    pub queries: usize,
}

/// Runs the national benchmark and prints its figures to `out`.
pub async fn execute(settings: &Settings, n: &National, out: &mut dyn Write) -> Result<()> {
    let scratch = std::env::temp_dir().join(format!("malgrupp-national-{}", std::process::id()));
    let extracts = n.keep.clone().unwrap_or_else(|| scratch.join("extracts"));
    let result = run(settings, n, &scratch, &extracts, out).await;
    let _ = std::fs::remove_dir_all(&scratch);
    result
}

async fn run(
    settings: &Settings,
    n: &National,
    scratch: &Path,
    extracts: &Path,
    out: &mut dyn Write,
) -> Result<()> {
    let io = |e| Error::io("<stdout>", e);
    let kommuner = n.kommuner.clamp(1, 290);
    let months = n.months.max(1);
    std::fs::create_dir_all(extracts).map_err(|e| Error::io(extracts, e))?;
    // Any extract left from an earlier `--keep` run would be ingested too.
    for e in std::fs::read_dir(extracts)
        .map_err(|e| Error::io(extracts, e))?
        .flatten()
    {
        if e.file_name().to_string_lossy().starts_with("fs_") {
            let _ = std::fs::remove_file(e.path());
        }
    }
    if months > MAX_MONTHS {
        return Err(Error::Internal(format!(
            "--months is at most {MAX_MONTHS}: Skatteverket's test numbers cover births 1990–1999"
        )));
    }
    // Up to four years begin in January 2015; longer runs in January 2009, so that every
    // month has test numbers of people aged 18–24.
    let first: i64 = if months < 48 { 0 } else { -72 };
    let per_month = n.rows.div_ceil(months);
    let mut bytes = 0;
    for m in 0..months {
        bytes += write_month(extracts, first + m as i64, per_month, kommuner)?;
    }
    let mut s = settings.clone();
    s.lake_root = scratch.join("data");
    // Synced below, to the benchmark's own target only.
    s.published_delta = None;
    s.lake_delta = None;
    s.key_source = KeySource::File {
        path: scratch.join("pseudonym.key"),
        explicit: false,
    };
    let pipeline = bench_pipeline(settings, extracts, scratch)?;
    let (runner, _) = Runner::new(&s, Default::default(), runner::no_shutdown())?;
    // Every benchmark is one lake to a Delta target: a second benchmark to the same
    // `--delta` commits over the first, and a real lake's target refuses it. (The
    // first's runs are all older than this one's, so they count as runs this lake let
    // go of, not as another host's: src/lake/mirror/runs.rs.)
    runner.lake().set_id(BENCHMARK_LAKE)?;
    writeln!(
        out,
        "national  {} rows in {months} monthly extracts ({:.1} MB Windows-1252), {kommuner} kommuner",
        per_month * months,
        bytes as f64 / 1e6
    )
    .map_err(io)?;

    let full = phase(&s, n, &runner, &pipeline, out, "full run").await?;
    let kommun_months = kommuner * months;
    writeln!(
        out,
        "publish   {:.2} ms and {:.1} KB peak per kommun-month ({kommun_months} kommun-months)",
        full.publish_secs * 1e3 / kommun_months as f64,
        full.publish_rss as f64 / 1024.0 / kommun_months as f64
    )
    .map_err(io)?;
    if n.queries > 0 {
        latency(&s, kommuner, first, months, n.queries, out).await?;
    }

    write_month(extracts, first + months as i64, per_month, kommuner)?;
    let night = phase(&s, n, &runner, &pipeline, out, "night (+1 month)").await?;
    writeln!(
        out,
        "night     {:.1} % of the full run's time",
        100.0 * night.total() / full.total()
    )
    .map_err(io)?;
    if let Some(target) = &n.lake_delta {
        // A lost disk: the lake rebuilt from its copy.
        let restored_lake = crate::lake::Lake::new(scratch.join("restored"));
        reset_peak_rss();
        let t = Instant::now();
        let restored =
            crate::lake::mirror::restore::restore(&restored_lake, target, std::env::vars())
                .await?
                .ok_or_else(|| Error::Internal(format!("nothing to restore at {target:?}")))?;
        writeln!(
            out,
            "restore   {:.2} s  peak RSS {:>6.0} MB  ({} files of {} tables and {} runs from {target})",
            t.elapsed().as_secs_f64(),
            mb(peak_rss()),
            restored.tables.iter().map(|(_, _, files)| files).sum::<usize>(),
            restored.tables.len(),
            restored.runs
        )
        .map_err(io)?;
    }
    writeln!(
        out,
        "(machine: {} cores)",
        std::thread::available_parallelism().map_or(1, usize::from)
    )
    .map_err(io)
}

/// Timings and peaks of one `run` + publish.
struct Phase {
    ingest_secs: f64,
    publish_secs: f64,
    publish_rss: u64,
}

impl Phase {
    fn total(&self) -> f64 {
        self.ingest_secs + self.publish_secs
    }
}

async fn phase(
    s: &Settings,
    n: &National,
    runner: &Runner,
    pipeline: &Pipeline,
    out: &mut dyn Write,
    name: &str,
) -> Result<Phase> {
    let io = |e| Error::io("<stdout>", e);
    reset_peak_rss();
    let t = Instant::now();
    let report = runner
        .run(pipeline, &RunOptions::default(), Trigger::Manual, None)
        .await?;
    let ingest_secs = t.elapsed().as_secs_f64();
    let ingest_rss = peak_rss();
    if let Some(e) = report.error {
        return Err(Error::Internal(format!("benchmark pipeline failed: {e}")));
    }
    writeln!(
        out,
        "{name:<17} ingest  {ingest_secs:>7.2} s  {:>9.0} rows/s  peak RSS {:>6.0} MB  ({} rows, {} partitions)",
        report.rows_in as f64 / ingest_secs,
        mb(ingest_rss),
        report.rows_in,
        report.partitions
    )
    .map_err(io)?;
    reset_peak_rss();
    let t = Instant::now();
    let (problems, published) = crate::service::refresh(s, runner.lake()).await;
    let publish_secs = t.elapsed().as_secs_f64();
    let publish_rss = peak_rss();
    if let Some(p) = problems.first() {
        return Err(Error::Internal(format!("benchmark publishing failed: {p}")));
    }
    let (rows, suppressed) = published
        .views
        .iter()
        .find(|(v, _, _)| v == "kartlaggning")
        .map_or((0, 0), |(_, r, s)| (*r, *s));
    writeln!(
        out,
        "{name:<17} publish {publish_secs:>7.2} s  peak RSS {:>6.0} MB  (kartlaggning {rows} rows, {suppressed} suppressed; {} kommun-months recomputed, {} kept)",
        mb(publish_rss),
        published.recomputed,
        published.kept
    )
    .map_err(io)?;
    let lake = runner.lake();
    if let Some(target) = &n.delta {
        let sync =
            crate::publish::delta::sync(lake, target, s.published_keep_days, std::env::vars());
        timed_sync(out, name, "delta sync", "views", target, async {
            Ok(sync.await?.committed.len())
        })
        .await?;
    }
    if let Some(target) = &n.lake_delta {
        let sync = crate::lake::mirror::sync(
            lake,
            target,
            crate::lake::mirror::Scope::Copy,
            s.lake_delta_keep_days,
            std::env::vars(),
        );
        timed_sync(out, name, "lake delta sync", "tables", target, async {
            Ok(sync.await?.committed.len())
        })
        .await?;
    }
    Ok(Phase {
        ingest_secs,
        publish_secs,
        publish_rss,
    })
}

/// Times a sync to a Delta target (`committed`: how many tables it committed) and prints
/// it with its peak RSS.
async fn timed_sync(
    out: &mut dyn Write,
    name: &str,
    what: &str,
    tables: &str,
    target: &Location,
    committed: impl std::future::Future<Output = Result<usize>>,
) -> Result<()> {
    reset_peak_rss();
    let t = Instant::now();
    let committed = committed.await?;
    writeln!(
        out,
        "{name:<17} {what} {:>4.2} s  peak RSS {:>6.0} MB  ({committed} {tables} committed to {target})",
        t.elapsed().as_secs_f64(),
        mb(peak_rss()),
    )
    .map_err(|e| Error::io("<stdout>", e))
}

/// p50/p95 of one kommun-month of `kartlaggning`, from the lake's view and from the
/// published file, over `queries` kommun-months picked by a fixed pseudo-random sequence.
async fn latency(
    s: &Settings,
    kommuner: usize,
    first: i64,
    months: usize,
    queries: usize,
    out: &mut dyn Write,
) -> Result<()> {
    let lake = crate::lake::Lake::new(&s.lake_root);
    let (lake_ctx, _) = crate::query::open(&lake, &s.sql_dir, &s.agreements_dir).await?;
    // The published views as every reader opens them (`kartlaggning` is a directory of
    // one file per period).
    let published = crate::query::new_session();
    crate::published::open(&crate::publish::dir(&lake))
        .await?
        .register(&published)
        .await;
    let codes = crate::normalize::kommun::KOMMUNER;
    for (name, ctx) in [("lake view", &lake_ctx), ("published", &published)] {
        let mut times = Vec::new();
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..queries {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let k = codes[(x as usize) % kommuner].0;
            let m = first + ((x >> 32) as usize % months) as i64;
            let sql = format!(
                "select * from kartlaggning where kommun = '{k}' and period = '{}'",
                period(m)
            );
            let t = Instant::now();
            ctx.sql(&sql).await?.collect().await?;
            times.push(t.elapsed().as_secs_f64() * 1e3);
        }
        times.sort_by(f64::total_cmp);
        writeln!(
            out,
            "query     one kommun-month of kartlaggning ({name:<9}): p50 {:>7.1} ms  p95 {:>7.1} ms",
            percentile(&times, 50),
            percentile(&times, 95)
        )
        .map_err(|e| Error::io("<stdout>", e))?;
    }
    Ok(())
}

/// The `p`th percentile of sorted, non-empty `times` (nearest rank: of 50, the 25th and
/// the 48th).
fn percentile(times: &[f64], p: usize) -> f64 {
    times[(times.len() * p).div_ceil(100).clamp(1, times.len()) - 1]
}

/// The month `m` months after January 2015, as `YYYY-MM`.
/// The longest run (`--months`) the test numbers allow.
const MAX_MONTHS: usize = 120;

/// Month `m` counted from January 2015 (negative: before it).
fn period(m: i64) -> String {
    format!("{}-{:02}", 2015 + m.div_euclid(12), m.rem_euclid(12) + 1)
}

/// Writes `fs_YYYYMM.csv` for month `m` (counted from January 2015): `rows` rows spread round-robin over the
/// kommuner. Everyone is 18–24 in the month (births follow the month), identity numbers
/// are Skatteverket's test numbers reused across rows. Returns the file's size.
pub fn write_month(dir: &Path, m: i64, rows: usize, kommuner: usize) -> Result<usize> {
    let p = period(m);
    let year = 2015 + i32::try_from(m.div_euclid(12)).unwrap_or_default();
    let born = |age: i32| NaiveDate::from_ymd_opt(year - age, 6, 1).unwrap_or_default();
    let numbers = super::bench::test_numbers(born(24), born(18))?;
    let codes: Vec<&str> = crate::normalize::kommun::KOMMUNER
        .iter()
        .take(kommuner)
        .map(|(c, _)| *c)
        .collect();
    let month = p.replace('-', "");
    let mut text = String::with_capacity(rows * 130);
    text.push_str("Kommun;Personnr;Månad;Orsakskod;Delorsak;Inskriven AF;Utbildningsnivå;Funktionsnedsättning;Födelseland;Utbetalt belopp\r\n");
    for i in 0..rows {
        text.push_str(codes[i % codes.len()]);
        text.push(';');
        // Consecutive rows of one kommun are different people.
        let person = (i / codes.len() * 7 + i % codes.len() * 131 + m.unsigned_abs() as usize)
            % numbers.len();
        text.push_str(&numbers[person]);
        text.push(';');
        text.push_str(&month);
        text.push(';');
        super::bench::push_fs_fields(&mut text, i + m.unsigned_abs() as usize);
        text.push_str("\r\n");
    }
    let (bytes, _, _) = encoding_rs::WINDOWS_1252.encode(&text);
    let path = dir.join(format!("fs_{month}.csv"));
    std::fs::write(&path, &bytes).map_err(|e| Error::io(&path, e))?;
    Ok(bytes.len())
}

/// The shipped Kalmar pipeline file, reading the national extracts in `extracts`:
/// kommun and period from columns, no trailing row, the gates that hold for any kommun.
pub fn pipeline_toml(settings: &Settings, extracts: &Path) -> Result<String> {
    let toml = super::bench::kalmar_fs_toml(settings, &extracts.join("fs_*.csv"))?;
    let toml = toml.replace(
        "period = { file_name = 'fs_(\\d{4})(\\d{2})\\.csv$', template = \"$1-$2\" }",
        "period = \"Månad\"",
    );
    if !toml.contains("period = \"Månad\"") {
        return Err(Error::Internal(
            "the shipped kalmar_fs.toml no longer maps period from the file name".into(),
        ));
    }
    Ok(toml)
}

fn bench_pipeline(settings: &Settings, extracts: &Path, scratch: &Path) -> Result<Pipeline> {
    std::fs::create_dir_all(scratch).map_err(|e| Error::io(scratch, e))?;
    Pipeline::from_toml(
        &scratch.join("national_fs.toml"),
        &pipeline_toml(settings, extracts)?,
    )
}

/// The process's peak resident set size in bytes (VmHWM), 0 where /proc is missing.
pub fn peak_rss() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

/// Resets the peak to the current RSS (Linux: `5` to /proc/self/clear_refs), so the
/// next phase's peak is its own.
fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn mb(bytes: u64) -> f64 {
    bytes as f64 / 1e6
}
