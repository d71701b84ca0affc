//! `malgrupp run`: run pipelines once and print what each did.

use std::io::Write;

use super::progress::Progress;
use crate::config::{self, Settings};
use crate::error::{Error, Result};
use crate::lake::Lake;
use crate::pipeline::{RunOptions, RunReport};
use crate::service::metrics::Metrics;
use crate::service::runner::{self, Runner, Trigger};

/// The result of `run`: one report per pipeline attempted, and problems that kept
/// pipelines from starting (invalid files, unknown names, broken views).
#[derive(Debug, Default)]
pub struct RunOutcome {
    /// Per-pipeline reports.
    pub reports: Vec<RunReport>,
    /// Problems outside the runs.
    pub problems: Vec<String>,
    /// Published views: (view, rows, suppressed cells); none when nothing changed.
    pub published: Vec<(String, usize, usize)>,
    /// Kommun-months whose published rows were recomputed, and kept as they were.
    pub kommun_months: (usize, usize),
}

impl RunOutcome {
    /// True when every pipeline succeeded (or was unchanged) and nothing else went wrong.
    /// A run skipped because another run of the pipeline holds its lock is no failure:
    /// the pipeline is being run; its status is printed.
    pub fn success(&self) -> bool {
        self.problems.is_empty()
            && self
                .reports
                .iter()
                .all(|r| r.succeeded() || r.status == "skipped")
    }
}

/// Runs the named pipelines (all when `names` is empty). One pipeline's failure does not
/// stop the others.
pub async fn execute(
    settings: &Settings,
    names: &[String],
    out: &mut dyn Write,
) -> Result<RunOutcome> {
    let mut outcome = RunOutcome::default();
    let (pipelines, problems) = config::load_pipelines(&settings.pipelines_dir)?;
    for p in &problems.0 {
        outcome.problems.push(p.to_string());
    }
    let selected: Vec<_> = if names.is_empty() {
        pipelines.iter().collect()
    } else {
        for n in names
            .iter()
            .filter(|n| !pipelines.iter().any(|p| &p.name == *n))
        {
            outcome.problems.push(format!(
                "no valid pipeline named '{n}' in {}",
                settings.pipelines_dir.display()
            ));
        }
        pipelines
            .iter()
            .filter(|p| names.contains(&p.name))
            .collect()
    };
    let metrics = std::sync::Arc::new(Metrics::default());
    let (runner, notice) = Runner::new(settings, metrics, runner::no_shutdown())?;
    if let Some(n) = notice {
        tracing::warn!("{n}");
        writeln!(out, "note: {n}").map_err(|e| Error::io("<stdout>", e))?;
    }
    let progress = Progress::new(selected.len());
    for p in selected {
        let bar = progress.pipeline(&p.name);
        let report = runner
            .run(p, &RunOptions::default(), Trigger::Manual, None)
            .await?;
        bar.finish(&report);
        outcome.reports.push(report);
    }
    refresh(settings, runner.lake(), &mut outcome).await?;
    print_summary(&outcome, out).map_err(|e| Error::io("<stdout>", e))?;
    Ok(outcome)
}

/// After runs: the views re-planned and the published views refreshed
/// ([`crate::service::refresh`]), problems and publications added to `outcome`.
pub async fn refresh(settings: &Settings, lake: &Lake, outcome: &mut RunOutcome) -> Result<()> {
    let (problems, published) = crate::service::refresh(settings, lake).await;
    outcome.problems.extend(problems);
    outcome.published = published.views;
    outcome.kommun_months = (published.recomputed, published.kept);
    Ok(())
}

/// Prints one line per pipeline and every problem.
pub fn print_summary(outcome: &RunOutcome, out: &mut dyn Write) -> std::io::Result<()> {
    writeln!(
        out,
        "{:<24} {:<9} {:>6} {:>8} {:>8} {:>11} {:>8} {:>9}",
        "pipeline", "status", "files", "rows in", "written", "quarantined", "dropped", "time"
    )?;
    for r in &outcome.reports {
        let files = if r.files_unchanged > 0 {
            format!("{}({}=)", r.files_read, r.files_unchanged)
        } else {
            r.files_read.to_string()
        };
        writeln!(
            out,
            "{:<24} {:<9} {:>6} {:>8} {:>8} {:>11} {:>8} {:>8.2}s",
            r.pipeline,
            r.status,
            files,
            r.rows_in,
            r.rows_written,
            r.rows_quarantined,
            r.rows_dropped,
            r.duration.as_secs_f64()
        )?;
    }
    for r in outcome.reports.iter().filter(|r| r.error.is_some()) {
        writeln!(out, "error: {}", r.error.as_deref().unwrap_or_default())?;
    }
    for p in &outcome.problems {
        writeln!(out, "problem: {p}")?;
    }
    for (view, rows, suppressed) in &outcome.published {
        writeln!(
            out,
            "published {view}: {rows} rows, {suppressed} counts suppressed"
        )?;
    }
    if outcome.reports.iter().any(|r| r.rows_quarantined > 0) {
        writeln!(
            out,
            "rejected rows: malgrupp sql \"select * from quarantine\""
        )?;
    }
    Ok(())
}
