//! Running one pipeline the way every entry point does (`run`, `backfill`, the scheduler,
//! the API's trigger): take the pipeline's lake lock (a second trigger is skipped and
//! recorded), run, retry transient failures with backoff, record the run in the ledger
//! under the manifest lock, update the metrics and call the webhook on failure and on
//! recovery.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use tokio::sync::watch;

use super::metrics::Metrics;
use super::run_lease::RunLeases;
use super::webhook::Webhook;
use crate::config::Settings;
use crate::config::pipeline::Pipeline;
use crate::error::{Error, Result};
use crate::lake::Lake;
use crate::lake::lease_keeper::KeptLease;
use crate::lake::lock::LakeLock;
use crate::lake::manifest::{Manifest, RunRecord};
use crate::normalize::pseudonym::PseudonymKey;
use crate::pipeline::{self, RunContext, RunOptions, RunReport};
use crate::source::http::jittered_backoff;

/// What started a run (recorded in the ledger).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// `malgrupp run`.
    Manual,
    /// The scheduler, at a scheduled time.
    Schedule,
    /// The scheduler, making up for a time missed while the service was down.
    CatchUp,
    /// `malgrupp backfill`.
    Backfill,
    /// `POST /api/v1/runs/{pipeline}`.
    Api,
}

impl Trigger {
    /// The ledger's name for it.
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Manual => "manual",
            Trigger::Schedule => "schedule",
            Trigger::CatchUp => "catch-up",
            Trigger::Backfill => "backfill",
            Trigger::Api => "api",
        }
    }
}

/// Everything runs share: the lake, the key, the one HTTP client, metrics, the webhook,
/// and the shutdown signal that cuts retry waits short.
pub struct Runner {
    lake: Lake,
    memory_bytes: usize,
    key: PseudonymKey,
    client: reqwest::Client,
    metrics: Arc<Metrics>,
    webhook: Option<Webhook>,
    shutdown: watch::Receiver<bool>,
    leases: Option<RunLeases>,
    commit: Option<super::LakeCommit>,
}

impl Runner {
    /// Builds the runner; the key notice (a key was created) is returned for the caller to show.
    pub fn new(
        settings: &Settings,
        metrics: Arc<Metrics>,
        shutdown: watch::Receiver<bool>,
    ) -> Result<(Runner, Option<String>)> {
        let (key, notice) = PseudonymKey::load(&settings.key_source)?;
        let lake = Lake::new(&settings.lake_root);
        let stale = crate::lake::atomic::remove_stale_temp_files(lake.root());
        if stale > 0 {
            tracing::warn!(
                files = stale,
                "removed temporary files left by an interrupted run"
            );
        }
        let client = crate::source::http::client()?;
        let webhook = Webhook::from_settings(settings, client.clone());
        let leases = RunLeases::open(settings, std::env::vars())?;
        Ok((
            Runner {
                lake,
                memory_bytes: settings.ingest_memory_bytes,
                key,
                client,
                metrics,
                webhook,
                shutdown,
                leases,
                commit: super::LakeCommit::from_settings(settings),
            },
            notice,
        ))
    }

    /// The lake.
    pub fn lake(&self) -> &Lake {
        &self.lake
    }

    /// The metrics.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// Runs `pipeline` with its retry policy. Returns the report of the last attempt.
    pub async fn run(
        &self,
        pipeline: &Pipeline,
        opts: &RunOptions,
        trigger: Trigger,
        scheduled_for: Option<DateTime<Utc>>,
    ) -> Result<RunReport> {
        let root = self.lake.root();
        let (lock, lease) = match self.take_turn(&pipeline.name).await? {
            Ok(held) => held,
            Err((status, why)) => {
                return self
                    .not_run(pipeline, opts, trigger, scheduled_for, status, why)
                    .await;
            }
        };
        let ctx = RunContext {
            lake: &self.lake,
            key: &self.key,
            client: &self.client,
            memory_bytes: self.memory_bytes,
            lease: lease.as_ref(),
        };
        let previous_failed = Manifest::load(root)?
            .last_run(&pipeline.name)
            .is_some_and(RunRecord::failed);
        self.metrics.started(&pipeline.name);
        let mut attempt = 1;
        let report = loop {
            let manifest = Manifest::load(root)?;
            let mut finished = pipeline::run(&ctx, pipeline, &manifest, opts).await;
            finished.record.trigger = trigger.as_str().to_string();
            finished.record.scheduled_for = scheduled_for.map(|t| t.to_rfc3339());
            finished.record.attempt = attempt;
            if !opts.dry_run {
                Manifest::update(root, |m| finished.apply(m))?;
            }
            let retry = finished.report.status == "failed"
                && finished.report.transient
                && attempt <= pipeline.retry.attempts
                && !*self.shutdown.borrow();
            if !retry {
                break finished.report;
            }
            let wait =
                jittered_backoff(pipeline.retry.backoff, pipeline.retry.max_backoff, attempt);
            tracing::warn!(pipeline = %pipeline.name, attempt, wait_s = wait.as_secs_f64(), error = finished.report.error.as_deref().unwrap_or(""), "transient failure; the run will be retried");
            let mut shutdown = self.shutdown.clone();
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                // A dropped sender (no shutdown signal at all) disables this branch.
                Ok(_) = shutdown.wait_for(|stop| *stop) => {
                    tracing::info!(pipeline = %pipeline.name, "shutting down: retry abandoned");
                    break finished.report;
                }
            }
            attempt += 1;
        };
        // The run's rows go to the lake's copy before its pipeline's turn is given back:
        // a host stopped after this (in the next pipeline's run, or publishing) has lost
        // none of them. A failed commit leaves them to the refresh, which reports it.
        if let Some(commit) = &self.commit
            && report.status == "ok"
            && !opts.dry_run
            && let Err(e) = commit.commit(&self.lake).await
        {
            tracing::warn!(pipeline = %pipeline.name, error = %e, "the run's rows could not be committed to the lake's copy yet; the refresh after it tries again");
        }
        if let Some(lease) = lease
            && let Err(e) = lease.release().await
        {
            // It expires in its time: other hosts wait at most that long.
            tracing::warn!(pipeline = %pipeline.name, error = %e, "the pipeline's lease could not be released");
        }
        drop(lock);
        self.metrics.observe(&report);
        self.notify(&report, opts, previous_failed).await;
        Ok(report)
    }

    /// The pipeline's local lock, and its lease when hosts share the lake's store
    /// (`run_lease`); when another run holds either, or the lease cannot be taken, the
    /// status to record (`skipped`, `failed`) and why.
    async fn take_turn(
        &self,
        name: &str,
    ) -> Result<std::result::Result<(LakeLock, Option<KeptLease>), (&'static str, String)>> {
        let lock = match LakeLock::try_acquire(self.lake.root(), &format!("pipeline-{name}"))? {
            Ok(lock) => lock,
            Err(holder) => {
                return Ok(Err((
                    "skipped",
                    format!(
                        "another run of {name} holds its lock ({}); this trigger was skipped",
                        holder.text
                    ),
                )));
            }
        };
        let Some(leases) = &self.leases else {
            return Ok(Ok((lock, None)));
        };
        Ok(match leases.take(name).await {
            Ok(Ok(lease)) => Ok((lock, Some(lease))),
            Ok(Err(holder)) => Err((
                "skipped",
                format!(
                    "another host runs {name} ({}); this trigger was skipped",
                    holder.text
                ),
            )),
            Err(e) => Err((
                "failed",
                format!(
                    "the pipeline's lease could not be taken, so it was not run (hosts sharing the lake's store take turns by it): {e}"
                ),
            )),
        })
    }

    /// A trigger that did not run: `status` (`skipped`, or `failed` when the lease could
    /// not be taken) and why, recorded in the ledger and the metrics like a run.
    async fn not_run(
        &self,
        pipeline: &Pipeline,
        opts: &RunOptions,
        trigger: Trigger,
        scheduled_for: Option<DateTime<Utc>>,
        status: &'static str,
        why: String,
    ) -> Result<RunReport> {
        let mut report = RunReport::new(&pipeline.name, status);
        tracing::warn!(pipeline = %pipeline.name, trigger = trigger.as_str(), reason = %why, "run {status}");
        report.error = Some(why.clone());
        self.metrics.observe(&report);
        if !opts.dry_run {
            let record = RunRecord::marker(
                &pipeline.name,
                status,
                why,
                trigger.as_str(),
                scheduled_for.map(|t| t.to_rfc3339()),
            );
            Manifest::update(self.lake.root(), |m| m.runs.push(record))?;
        }
        if status == "failed" {
            self.notify(&report, opts, false).await;
        }
        Ok(report)
    }

    /// The webhook, when one is configured (`[serve] webhook_env`).
    pub fn webhook(&self) -> Option<&Webhook> {
        self.webhook.as_ref()
    }

    /// The webhook after a run: on failure, and on the first success after one.
    async fn notify(&self, report: &RunReport, opts: &RunOptions, previous_failed: bool) {
        if let Some(hook) = &self.webhook
            && !opts.dry_run
        {
            if !report.succeeded() {
                hook.notify("failure", report).await;
            } else if previous_failed {
                hook.notify("recovery", report).await;
            }
        }
    }
}

/// A shutdown channel that never fires (one-shot commands end on their own).
pub fn no_shutdown() -> watch::Receiver<bool> {
    watch::channel(false).1
}

/// Error for a name that is not a valid pipeline.
pub fn unknown_pipeline(settings: &Settings, name: &str) -> Error {
    let mut p = crate::error::Problems::default();
    p.push(
        settings.pipelines_dir.display().to_string(),
        "",
        format!("no valid pipeline named '{name}'"),
    );
    Error::Config(p)
}
