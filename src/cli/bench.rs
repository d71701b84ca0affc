//! `malgrupp bench`: throughput of the pipeline and latency of the views, printed as
//! figures. Speed is measured here, in one place, never in timed unit tests.
//!
//! The benchmark writes a synthetic försörjningsstöd extract of the requested size into a
//! temporary directory (Windows-1252 CSV, the shipped Kalmar layout and pipeline), runs
//! the pipeline into a temporary lake, then times the views. Identity numbers are
//! Skatteverket's test numbers reused across rows, so no real number is ever handled.

use std::io::Write;
use std::time::Instant;

use chrono::NaiveDate;
use malgrupp_sample::testpnr;

use crate::config::{Pipeline, Settings};
use crate::error::{Error, Result};
use crate::lake::Lake;
use crate::lake::manifest::Manifest;
use crate::normalize::pseudonym::PseudonymKey;
use crate::pipeline::{self, RunContext};

/// Skatteverket's test numbers (both genders) born in `first..=last`.
pub(super) fn test_numbers(first: NaiveDate, last: NaiveDate) -> Result<Vec<String>> {
    let numbers: Vec<String> = testpnr::numbers_between(first, last, true)
        .chain(testpnr::numbers_between(first, last, false))
        .map(|(_, n)| n)
        .collect();
    if numbers.is_empty() {
        return Err(Error::Internal("no test numbers".into()));
    }
    Ok(numbers)
}

/// The fields of a försörjningsstöd row after Personnr and Månad, varied by `i`.
pub(super) fn push_fs_fields(text: &mut String, i: usize) {
    const REASONS: [(&str, &str); 5] = [
        ("Arbetslöshet", "Endast FS som inkomstkälla"),
        ("Arbetslöshet", "Otillräcklig ersättning"),
        ("Sociala skäl", ""),
        ("Ohälsa", ""),
        ("Annan orsak", ""),
    ];
    let (orsak, del) = REASONS[i % REASONS.len()];
    let amount = 800 + (i * 7919) % 9000;
    text.push_str(&format!(
        "{orsak};{del};{};Gymnasial utbildning;Nej;Sverige;{}\u{a0}{:03},50",
        if i.is_multiple_of(3) { "J" } else { "N" },
        amount / 1000,
        amount % 1000
    ));
}

/// The shipped `kalmar_fs.toml` reading `extract` (a path or a glob) with kommun from
/// the `Kommun` column, no trailing row, and gates of the same cost that hold for any
/// kommun (Kalmar's require reasons a small synthetic kommun need not have).
pub(super) fn kalmar_fs_toml(settings: &Settings, extract: &std::path::Path) -> Result<String> {
    let shipped = settings.pipelines_dir.join("kalmar_fs.toml");
    let toml = std::fs::read_to_string(&shipped).map_err(|e| Error::io(&shipped, e))?;
    let toml = toml
        .replace("samples/kalmar/fs_*.csv", &extract.display().to_string())
        .replace("kommun = { constant = \"0880\" }", "kommun = \"Kommun\"")
        .replace("skip_trailing_rows = 1", "skip_trailing_rows = 0")
        .replace("trailing_row_matches = ", "# trailing_row_matches = ");
    Ok(format!(
        "{}\n[checks]\nmin_rows = 1\nrow_count_ratio = [0.5, 2.0]\nnon_negative = [\"belopp\"]\n",
        toml.split("\n[checks]").next().unwrap_or(&toml)
    ))
}

/// Runs the benchmark with `rows` extract rows spread over `kommuner` kommuner.
pub async fn execute(
    settings: &Settings,
    rows: usize,
    kommuner: usize,
    out: &mut dyn Write,
) -> Result<()> {
    let io = |e| Error::io("<stdout>", e);
    let dir = std::env::temp_dir().join(format!("malgrupp-bench-{}", std::process::id()));
    let result = run(settings, rows, kommuner.clamp(1, 290), &dir, out).await;
    let _ = std::fs::remove_dir_all(&dir);
    result?;
    writeln!(
        out,
        "(machine: {} cores)",
        std::thread::available_parallelism().map_or(1, usize::from)
    )
    .map_err(io)
}

async fn run(
    settings: &Settings,
    rows: usize,
    kommuner: usize,
    dir: &std::path::Path,
    out: &mut dyn Write,
) -> Result<()> {
    let io = |e| Error::io("<stdout>", e);
    // Born so that everyone is 18–24 in May 2015 and counted by the views.
    let numbers = test_numbers(
        NaiveDate::from_ymd_opt(1991, 1, 14).unwrap_or_default(),
        NaiveDate::from_ymd_opt(1997, 5, 31).unwrap_or_default(),
    )?;
    let codes: Vec<&str> = crate::normalize::kommun::KOMMUNER
        .iter()
        .take(kommuner)
        .map(|(c, _)| *c)
        .collect();
    let mut text = String::with_capacity(rows * 120);
    text.push_str("Kommun;Personnr;Månad;Orsakskod;Delorsak;Inskriven AF;Utbildningsnivå;Funktionsnedsättning;Födelseland;Utbetalt belopp\r\n");
    for i in 0..rows {
        text.push_str(codes[i % codes.len()]);
        text.push(';');
        text.push_str(&numbers[i % numbers.len()]);
        text.push_str(";201505;");
        push_fs_fields(&mut text, i);
        text.push_str("\r\n");
    }
    let (bytes, _, _) = encoding_rs::WINDOWS_1252.encode(&text);
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let extract = dir.join("fs_201505.csv");
    std::fs::write(&extract, &bytes).map_err(|e| Error::io(&extract, e))?;
    let toml = kalmar_fs_toml(settings, &extract)?;
    let p = Pipeline::from_toml(&dir.join("bench_fs.toml"), &toml)?;
    let lake = Lake::new(dir.join("data"));
    let key = PseudonymKey::from_bytes([7; 32]);
    let client = crate::source::http::client()?;
    let ctx = RunContext {
        lake: &lake,
        key: &key,
        client: &client,
        memory_bytes: settings.ingest_memory_bytes,
        lease: None,
    };
    let manifest = Manifest::default();
    let t = Instant::now();
    let report = pipeline::run(&ctx, &p, &manifest, &pipeline::RunOptions::default())
        .await
        .report;
    let secs = t.elapsed().as_secs_f64();
    if let Some(e) = report.error {
        return Err(Error::Internal(format!("benchmark pipeline failed: {e}")));
    }
    writeln!(out, "pipeline  {rows} rows ({:.1} MB Windows-1252 CSV), {kommuner} kommuner: {secs:.2} s, {:.0} rows/s, {} partitions, {} rows quarantined", bytes.len() as f64 / 1e6, rows as f64 / secs, report.partitions, report.rows_quarantined).map_err(io)?;
    let (qctx, _) = crate::query::open(&lake, &settings.sql_dir, &settings.agreements_dir).await?;
    for (name, sql) in [
        (
            "count(*) forsorjningsstod",
            "select count(*) from forsorjningsstod",
        ),
        (
            "kartlaggning_fs, all kommuner",
            "select count(*) from kartlaggning_fs",
        ),
        (
            "bilaga1_fs_orsak, one kommun",
            "select * from bilaga1_fs_orsak where kommun = '0114'",
        ),
        (
            "kartlaggning, one kommun",
            "select count(*) from kartlaggning where kommun = '0114'",
        ),
    ] {
        let mut best = f64::MAX;
        for _ in 0..3 {
            let t = Instant::now();
            qctx.sql(sql).await?.collect().await?;
            best = best.min(t.elapsed().as_secs_f64());
        }
        writeln!(
            out,
            "query     {name:<32} best of 3: {:>8.1} ms",
            best * 1e3
        )
        .map_err(io)?;
    }
    Ok(())
}
