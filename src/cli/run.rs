//! `malgrupp run`: run pipelines once and print what each did.

use std::io::Write;

use crate::config::{self, Settings};
use crate::error::{Error, Result};
use crate::lake::manifest::Manifest;
use crate::lake::{Lake, atomic};
use crate::normalize::pseudonym::PseudonymKey;
use crate::pipeline::{self, RunContext, RunReport};

/// The result of `run`: one report per pipeline attempted, and problems that kept
/// pipelines from starting (invalid files, unknown names, broken views).
#[derive(Debug, Default)]
pub struct RunOutcome {
    /// Per-pipeline reports.
    pub reports: Vec<RunReport>,
    /// Problems outside the runs.
    pub problems: Vec<String>,
    /// Published views: (view, rows, suppressed cells).
    pub published: Vec<(String, usize, usize)>,
}

impl RunOutcome {
    /// True when every pipeline succeeded (or was unchanged) and nothing else went wrong.
    pub fn success(&self) -> bool {
        self.problems.is_empty() && self.reports.iter().all(|r| r.status != "failed")
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
    let (key, notice) = PseudonymKey::load(&settings.key_source)?;
    if let Some(n) = notice {
        tracing::warn!("{n}");
        writeln!(out, "note: {n}").map_err(|e| Error::io("<stdout>", e))?;
    }
    let lake = Lake::new(&settings.lake_root);
    let stale = atomic::remove_stale_temp_files(lake.root());
    if stale > 0 {
        tracing::warn!(
            files = stale,
            "removed temporary files left by an interrupted run"
        );
    }
    let client = crate::source::http::client()?;
    let ctx = RunContext {
        lake: &lake,
        key: &key,
        client: &client,
    };
    let mut manifest = Manifest::load(lake.root())?;
    for p in selected {
        let report = pipeline::run(&ctx, p, &mut manifest).await;
        // Saved after every pipeline: a crash later must not forget what was published.
        manifest.save(lake.root())?;
        outcome.reports.push(report);
    }
    // Refresh the views against the new data: a view broken by new data is reported now.
    let (ctx, view_problems) =
        crate::query::open(&lake, &settings.sql_dir, &settings.agreements_dir).await?;
    outcome
        .problems
        .extend(view_problems.0.iter().map(ToString::to_string));
    // Publish what changed: the suppressed views are the only data meant to leave the lake.
    if outcome.reports.iter().any(|r| r.status == "ok") || !crate::publish::dir(&lake).exists() {
        match crate::publish::publish(settings, &ctx).await {
            Ok(p) => {
                for (view, rows, suppressed) in &p.views {
                    tracing::info!(view = %view, rows, suppressed, "published");
                }
                outcome.published = p.views;
            }
            Err(e) => outcome.problems.push(format!(
                "publishing failed (the previous published version stays): {e}"
            )),
        }
    }
    print_summary(&outcome, out).map_err(|e| Error::io("<stdout>", e))?;
    Ok(outcome)
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
