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

/// After runs: commits the lake to its copy (`[lake] delta` or a root on object
/// storage), first bringing in what other hosts committed there
/// (src/lake/mirror/catch_up.rs); then re-plans the views against the new data (a view
/// broken by new data is reported now) and brings the published views up to the lake:
/// every kommun-month whose inputs changed since the last publish (or since a publish
/// that failed or was cut short) is recomputed; when nothing changed, nothing is
/// written. Each published file is replaced atomically after all views were computed,
/// so readers never see one source half-updated. Returns the problems and what was
/// published (no views when nothing was written).
pub async fn refresh(settings: &Settings, lake: &Lake) -> (Vec<String>, PublishReport) {
    let mut problems = Vec::new();
    // The runs' rows and records go to the copy before publishing, which takes minutes
    // at national size: a host stopped meanwhile (a pod whose disk goes with it) loses
    // none of them. A failed commit does not stop publishing this host's lake.
    if let Some(commit) = LakeCommit::from_settings(settings)
        && let Err(e) = commit.commit(lake).await
    {
        problems.push(format!(
            "the lake's tables could not be committed as Delta tables (they keep their last version; the next refresh tries again): {e}"
        ));
    }
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
            problems.push(format!("the publish lock could not be taken: {e}"));
            return (problems, PublishReport::default());
        }
    };
    let ctx = match crate::query::open(lake, &settings.sql_dir, &settings.agreements_dir).await {
        Ok((ctx, view_problems)) => {
            problems.extend(view_problems.0.iter().map(ToString::to_string));
            ctx
        }
        Err(e) => {
            problems.push(format!("the views could not be opened: {e}"));
            return (problems, PublishReport::default());
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
    (problems, published)
}

/// The lake's commit to its copy (`[lake] delta`, or a root on object storage): made by
/// each run that wrote rows, before it gives its pipeline's turn back, and by every
/// refresh, which commits what a failed one left.
#[derive(Debug, Clone)]
pub struct LakeCommit {
    target: crate::lake::location::Location,
    scope: crate::lake::mirror::Scope,
    keep_days: u32,
}

impl LakeCommit {
    /// The commit `settings` ask for; `None` without a copy.
    pub fn from_settings(settings: &Settings) -> Option<LakeCommit> {
        // A root on object storage is the lake's home: its raw extracts and quarantine go
        // there too; `[lake] delta` is a copy for other engines.
        let scope = match settings.lake_store {
            Some(_) => crate::lake::mirror::Scope::Home,
            None => crate::lake::mirror::Scope::Copy,
        };
        Some(LakeCommit {
            target: settings.lake_delta.clone()?,
            scope,
            keep_days: settings.lake_delta_keep_days,
        })
    }

    /// Commits `lake`, one commit of a lake at a time in this process or across
    /// processes (what the last commit left, `_meta/lake_delta`, is read and written by
    /// each); each committed table is logged.
    pub async fn commit(&self, lake: &Lake) -> crate::error::Result<()> {
        let _committing = LakeLock::acquire(
            lake.root(),
            crate::lake::mirror::LOCK,
            "another commit of this lake to its copy",
        )
        .await?;
        let env: Vec<_> = std::env::vars().collect();
        let mirrored =
            crate::lake::mirror::sync(lake, &self.target, self.scope, self.keep_days, env).await?;
        for (table, version) in mirrored.committed {
            tracing::info!(table = %table, version, "lake table committed as Delta");
        }
        Ok(())
    }
}
