//! The nightly service around the pipelines: running one pipeline with its lock (and its
//! lease on a shared object store: `run_lease`), retries
//! and ledger entry (`runner`), the scheduler loop with catch-up and graceful shutdown
//! (`daemon`), `status` and freshness (`status`), Prometheus metrics (`metrics`), the
//! failure/recovery webhook (`webhook`).

pub mod daemon;
pub mod metrics;
pub mod run_lease;
pub mod runner;
pub mod status;
pub mod webhook;

use crate::config::Settings;
use crate::lake::Lake;
use crate::lake::lock::LakeLock;
use crate::publish::PublishReport;

/// After runs: brings in what other hosts committed to the lake's copy (`[lake] delta`,
/// src/lake/mirror/catch_up.rs), re-plans the views against the new data (a view broken
/// by new data is reported now) and brings the published views up to the lake: every kommun-month whose
/// inputs changed since the last publish (or since a publish that failed or was cut
/// short) is recomputed; when nothing changed, nothing is written. Each published file
/// is replaced atomically after all views were computed, so readers never see one source
/// half-updated. Returns the problems and what was published (no views when nothing
/// was written).
pub async fn refresh(settings: &Settings, lake: &Lake) -> (Vec<String>, PublishReport) {
    // One publish of a lake at a time, in this process or across processes, taken before
    // the session over the lake is opened: the later one then reads the lake and the
    // state the earlier one left, and recomputes only what changed since.
    let _publishing = match LakeLock::acquire(
        lake.root(),
        crate::publish::LOCK,
        "another publish of this lake",
    )
    .await
    {
        Ok(lock) => lock,
        Err(e) => {
            return (
                vec![format!("the publish lock could not be taken: {e}")],
                PublishReport::default(),
            );
        }
    };
    let mut problems = Vec::new();
    // Hosts sharing the lake's copy: what the others committed is published here too.
    if let Some(target) = &settings.lake_delta {
        match crate::lake::mirror::catch_up::catch_up(
            lake,
            target,
            std::env::vars().collect::<Vec<_>>(),
        )
        .await
        {
            Ok(caught) if caught.runs > 0 => tracing::info!(
                runs = caught.runs,
                files = caught.files,
                "runs another host committed to the lake's copy were brought in"
            ),
            Ok(_) => {}
            // Not a problem of its own: the commit below brings them in first, and
            // reports the store when it fails too.
            Err(e) => tracing::warn!(
                error = %e,
                "the runs other hosts committed to the lake's copy could not be brought in before publishing; this host publishes its own lake"
            ),
        }
    }
    let ctx = match crate::query::open(lake, &settings.sql_dir, &settings.agreements_dir).await {
        Ok((ctx, view_problems)) => {
            problems.extend(view_problems.0.iter().map(ToString::to_string));
            ctx
        }
        Err(e) => {
            return (
                vec![format!("the views could not be opened: {e}")],
                PublishReport::default(),
            );
        }
    };
    let mut published = PublishReport::default();
    match crate::publish::publish(settings, &ctx).await {
        Ok(p) => {
            if !p.views.is_empty() {
                tracing::info!(
                    recomputed = p.recomputed,
                    kept = p.kept,
                    hidden_cells = p.hidden.0,
                    hidden_counts = p.hidden.1,
                    "published kommun-months"
                );
            }
            for (view, rows, suppressed) in &p.views {
                tracing::info!(view = %view, rows, suppressed, "published");
            }
            published = p;
        }
        Err(e) => problems.push(format!(
            "publishing failed (the previous published version stays): {e}"
        )),
    }
    // Also after a publish that changed nothing: a sync that failed before is caught up.
    if let Some(target) = &settings.published_delta {
        match crate::publish::delta::sync(lake, target, settings.published_keep_days, std::env::vars().collect::<Vec<_>>()).await {
            Ok(synced) => {
                for (view, version) in synced.committed {
                    tracing::info!(view = %view, version, "published view committed as Delta");
                }
                for table in synced.no_longer_published {
                    tracing::warn!(
                        table = %table,
                        "a Delta table of a view no longer published stays at its last version; remove it if nothing should read it"
                    );
                }
            }
            Err(e) => problems.push(format!(
                "the published views could not be committed as Delta tables (they keep their last version; the next publish tries again): {e}"
            )),
        }
    }
    // The lake's tables, whether or not the publish succeeded: they are the runs' data.
    if let Some(target) = &settings.lake_delta {
        let env: Vec<_> = std::env::vars().collect();
        match crate::lake::mirror::sync(lake, target, settings.lake_delta_keep_days, env).await {
            Ok(mirrored) => {
                for (table, version) in mirrored.committed {
                    tracing::info!(table = %table, version, "lake table committed as Delta");
                }
            }
            Err(e) => problems.push(format!(
                "the lake's tables could not be committed as Delta tables (they keep their last version; the next refresh tries again): {e}"
            )),
        }
    }
    (problems, published)
}
