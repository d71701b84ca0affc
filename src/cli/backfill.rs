//! `malgrupp backfill PIPELINE --from P --to P [--dry-run]`: reprocess every extract of a
//! pipeline, writing only the partitions whose period lies in the range. Idempotent: the
//! lake's writer produces byte-identical files for the same input, so a second backfill
//! changes nothing. A dry run fetches, decodes and maps, and lists what would be written.

use std::io::Write;
use std::sync::Arc;

use super::run::{RunOutcome, print_summary, refresh};
use crate::config::{self, Settings};
use crate::error::{Error, Problems, Result};
use crate::pipeline::RunOptions;
use crate::service::metrics::Metrics;
use crate::service::runner::{self, Runner, Trigger};

/// Runs the backfill; returns whether it succeeded.
pub async fn execute(
    settings: &Settings,
    name: &str,
    from: &str,
    to: &str,
    dry_run: bool,
    out: &mut dyn Write,
) -> Result<RunOutcome> {
    let mut p = Problems::default();
    for (flag, v) in [("--from", from), ("--to", to)] {
        if !valid_period(v) {
            p.push(
                "command line",
                flag,
                format!("'{v}': expected YYYY-MM or YYYY"),
            );
        }
    }
    if p.is_empty() && from > to {
        p.push(
            "command line",
            "--from",
            format!("{from} is after --to {to}"),
        );
    }
    p.into_usage(())?;
    let (pipelines, problems) = config::load_pipelines(&settings.pipelines_dir)?;
    let Some(pipeline) = pipelines.iter().find(|p| p.name == name) else {
        if !problems.is_empty() {
            return Err(Error::Config(problems));
        }
        return Err(runner::unknown_pipeline(settings, name));
    };
    let (runner, notice) = Runner::new(
        settings,
        Arc::new(Metrics::default()),
        runner::no_shutdown(),
    )?;
    let io = |e| Error::io("<stdout>", e);
    if let Some(n) = notice {
        writeln!(out, "note: {n}").map_err(io)?;
    }
    let opts = RunOptions {
        force: true,
        periods: Some((from.to_string(), to.to_string())),
        dry_run,
        ..RunOptions::default()
    };
    let report = runner.run(pipeline, &opts, Trigger::Backfill, None).await?;
    let mut outcome = RunOutcome::default();
    if dry_run {
        writeln!(
            out,
            "dry run: {name} would write {} partitions ({} rows) from {} extracts:",
            report.partition_list.len(),
            report.rows_written,
            report.files_read
        )
        .map_err(io)?;
        for (kommun, period) in &report.partition_list {
            writeln!(out, "  kommun={kommun} period={period}").map_err(io)?;
        }
        if let Some(e) = &report.error {
            writeln!(out, "error: {e}").map_err(io)?;
        }
        outcome.reports.push(report);
        return Ok(outcome);
    }
    outcome.reports.push(report);
    refresh(settings, runner.lake(), &mut outcome).await?;
    print_summary(&outcome, out).map_err(io)?;
    Ok(outcome)
}

fn valid_period(p: &str) -> bool {
    let b = p.as_bytes();
    match b.len() {
        4 => b.iter().all(u8::is_ascii_digit),
        7 => {
            b[..4].iter().all(u8::is_ascii_digit)
                && b[4] == b'-'
                && matches!(
                    &p[5..],
                    "01" | "02"
                        | "03"
                        | "04"
                        | "05"
                        | "06"
                        | "07"
                        | "08"
                        | "09"
                        | "10"
                        | "11"
                        | "12"
                )
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn periods_are_months_or_years() {
        for ok in ["2015", "2015-01", "2016-12"] {
            assert!(super::valid_period(ok), "{ok}");
        }
        for bad in ["2015-13", "15-01", "2015-1", "2015/01", ""] {
            assert!(!super::valid_period(bad), "{bad}");
        }
    }
}
