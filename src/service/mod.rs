//! The nightly service around the pipelines: running one pipeline with its lock, retries
//! and ledger entry (`runner`), the scheduler loop with catch-up and graceful shutdown
//! (`daemon`), `status` and freshness (`status`), Prometheus metrics (`metrics`), the
//! failure/recovery webhook (`webhook`) and the progress bars of an interactive run
//! (`progress`).

pub mod daemon;
pub mod metrics;
pub mod progress;
pub mod runner;
pub mod status;
pub mod webhook;

use crate::config::Settings;
use crate::lake::Lake;

/// After runs: re-plans the views against the new data (a view broken by new data is
/// reported now) and, when data changed or nothing was published yet, publishes the
/// suppressed views. Each published file is replaced atomically after all views were
/// computed, so readers never see one source half-updated. Returns the problems and the
/// published views (view, rows, suppressed cells).
pub async fn refresh(
    settings: &Settings,
    lake: &Lake,
    changed: bool,
) -> (Vec<String>, Vec<(String, usize, usize)>) {
    let mut problems = Vec::new();
    let ctx = match crate::query::open(lake, &settings.sql_dir, &settings.agreements_dir).await {
        Ok((ctx, view_problems)) => {
            problems.extend(view_problems.0.iter().map(ToString::to_string));
            ctx
        }
        Err(e) => {
            return (
                vec![format!("the views could not be opened: {e}")],
                Vec::new(),
            );
        }
    };
    let mut published = Vec::new();
    if changed || !crate::publish::dir(lake).exists() {
        match crate::publish::publish(settings, &ctx).await {
            Ok(p) => {
                for (view, rows, suppressed) in &p.views {
                    tracing::info!(view = %view, rows, suppressed, "published");
                }
                published = p.views;
            }
            Err(e) => problems.push(format!(
                "publishing failed (the previous published version stays): {e}"
            )),
        }
    }
    (problems, published)
}
