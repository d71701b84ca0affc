//! `malgrupp status`: one line per pipeline — last run, outcome, duration, rows, next
//! scheduled run, newest period against the expected one — with stale and failing
//! pipelines flagged. `--format json` for monitoring scripts. The run history behind it
//! is the `runs` table of `malgrupp sql`.

use std::io::{IsTerminal, Write};

use clap::ValueEnum;

use crate::config::{self, Settings};
use crate::error::{Error, Result};
use crate::lake::manifest::Manifest;
use crate::service::status::{self, PipelineStatus};

/// Output of `status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StatusFormat {
    /// Aligned text, flagged lines marked with `!`.
    Table,
    /// A JSON array, one object per pipeline.
    Json,
}

/// Prints the status; returns whether no pipeline is stale or failing (the exit code).
pub fn execute(settings: &Settings, format: StatusFormat, out: &mut dyn Write) -> Result<bool> {
    let (pipelines, problems) = config::load_pipelines(&settings.pipelines_dir)?;
    let manifest = Manifest::load(std::path::Path::new(&settings.lake_root))?;
    let rows = status::compute(&pipelines, &manifest, chrono::Utc::now());
    let io = |e| Error::io("<stdout>", e);
    match format {
        StatusFormat::Json => {
            let text =
                serde_json::to_string_pretty(&rows).map_err(|e| Error::Internal(e.to_string()))?;
            writeln!(out, "{text}").map_err(io)?;
        }
        StatusFormat::Table => print_table(&rows, out).map_err(io)?,
    }
    for p in &problems.0 {
        writeln!(out, "problem: {p}").map_err(io)?;
    }
    Ok(problems.is_empty() && !rows.iter().any(PipelineStatus::flagged))
}

fn print_table(rows: &[PipelineStatus], out: &mut dyn Write) -> std::io::Result<()> {
    let color = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    writeln!(
        out,
        "  {:<22} {:<21} {:<9} {:>8} {:>22} {:<21} {:<8} {:<8} freshness",
        "pipeline", "last run", "outcome", "time", "rows in/out/quar", "next run", "newest", "due",
    )?;
    // Operators read wall-clock time: shown in Swedish time with its zone (CET/CEST).
    let short = |t: &Option<String>| {
        t.as_deref()
            .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
            .map(|t| {
                t.with_timezone(&chrono_tz::Europe::Stockholm)
                    .format("%Y-%m-%d %H:%M %Z")
                    .to_string()
            })
            .unwrap_or_else(|| "–".into())
    };
    for r in rows {
        let rows = r
            .last_rows
            .map(|[a, b, c]| format!("{a}/{b}/{c}"))
            .unwrap_or_else(|| "–".into());
        let line = format!(
            "{} {:<22} {:<21} {:<9} {:>8} {:>22} {:<21} {:<8} {:<8} {}",
            if r.flagged() { "!" } else { " " },
            r.pipeline,
            short(&r.last_run),
            r.last_status.as_deref().unwrap_or("never"),
            r.last_duration_ms
                .map(|ms| format!("{:.1}s", ms as f64 / 1000.0))
                .unwrap_or_else(|| "–".into()),
            rows,
            if r.schedule.is_some() {
                short(&r.next_run)
            } else {
                "on demand".into()
            },
            r.newest_period.as_deref().unwrap_or("–"),
            r.expected_period.as_deref().unwrap_or("–"),
            r.freshness,
        );
        // Failing in red, stale in yellow, on a terminal only.
        match (color, r.failing, r.freshness == "stale") {
            (true, true, _) => writeln!(out, "\x1b[31m{line}\x1b[0m")?,
            (true, false, true) => writeln!(out, "\x1b[33m{line}\x1b[0m")?,
            _ => writeln!(out, "{line}")?,
        }
    }
    for r in rows.iter().filter(|r| r.failing) {
        writeln!(
            out,
            "! {} failing: {}",
            r.pipeline,
            r.last_error.as_deref().unwrap_or("(no message)")
        )?;
    }
    for r in rows.iter().filter(|r| r.freshness == "stale") {
        writeln!(
            out,
            "! {} stale: newest period {} but {} is due",
            r.pipeline,
            r.newest_period.as_deref().unwrap_or("none"),
            r.expected_period.as_deref().unwrap_or("?")
        )?;
    }
    Ok(())
}
