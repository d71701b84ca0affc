//! The long-running service behind `malgrupp serve`: fires each scheduled pipeline at
//! its cron times, makes up for runs missed while it was down, refreshes and republishes
//! the views after every run that changed data, follows the runs other hosts commit to
//! the lake's copy (`[lake] poll_seconds`), and shuts down gracefully.
//!
//! Runs are spawned tasks, so the HTTP API keeps answering while a pipeline runs. Two
//! runs of one pipeline never overlap — the lake lock refuses the second, which is
//! recorded as `skipped` — while different pipelines may run side by side. Publishing
//! is serialized, and each published file is replaced atomically after every view was
//! computed, so readers never see one source half-updated.
//!
//! Shutdown (SIGTERM/SIGINT): no new runs start, retry waits end, and running runs get
//! `[serve] shutdown_grace_secs` to finish. A run still going after that is abandoned at
//! its next await point — which is always before it stages or publishes anything, since
//! staging, publishing and the ledger update run without yielding — and recorded as
//! `abandoned`, so the lake keeps its previous version.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::watch;
use tokio::task::JoinSet;

use super::metrics::Metrics;
use super::runner::{Runner, Trigger};
use crate::config::Settings;
use crate::config::pipeline::Pipeline;
use crate::error::Result;
use crate::lake::location::Location;
use crate::lake::manifest::{Manifest, RunRecord};
use crate::pipeline::RunOptions;
use crate::schedule::{Clock, Scheduler, SystemClock, missed_runs};
use crate::serve::ops::{Operations, TriggerError};

/// The running service.
pub struct Daemon {
    settings: Settings,
    runner: Runner,
    pipelines: Vec<Arc<Pipeline>>,
    tasks: Mutex<JoinSet<()>>,
    running: Mutex<BTreeSet<String>>,
    /// Pipelines with a run started over the API that has not finished: a second
    /// request is refused instead of queueing a run that would only be skipped.
    requested: Mutex<BTreeSet<String>>,
    shutdown: watch::Sender<bool>,
    ready: AtomicBool,
    scheduler: tokio::sync::Mutex<Option<Scheduler>>,
    /// Whether the last refresh had problems (a recovery is told to the webhook).
    refresh_failing: AtomicBool,
    /// Whether the last look in the lake's copy failed (told to the webhook once).
    poll_failing: AtomicBool,
}

impl Daemon {
    /// Loads the pipelines (invalid files are logged and left out), starts the scheduler
    /// and the start-up catch-up. `schedule = false` serves and triggers on demand only.
    pub async fn start(settings: Settings, schedule: bool) -> Result<Arc<Daemon>> {
        let (pipelines, problems) = crate::config::load_pipelines(&settings.pipelines_dir)?;
        for p in &problems.0 {
            tracing::error!(problem = %p, "pipeline file left out");
        }
        let (shutdown, rx) = watch::channel(false);
        let (runner, notice) = Runner::new(&settings, Arc::new(Metrics::default()), rx)?;
        if let Some(n) = notice {
            tracing::warn!("{n}");
        }
        let daemon = Arc::new(Daemon {
            settings,
            runner,
            pipelines: pipelines.into_iter().map(Arc::new).collect(),
            tasks: Mutex::new(JoinSet::new()),
            running: Mutex::new(BTreeSet::new()),
            requested: Mutex::new(BTreeSet::new()),
            shutdown,
            ready: AtomicBool::new(false),
            scheduler: tokio::sync::Mutex::new(None),
            refresh_failing: AtomicBool::new(false),
            poll_failing: AtomicBool::new(false),
        });
        if let (Some(target), Some(every)) =
            (&daemon.settings.lake_delta, daemon.settings.lake_poll)
            && let Ok(mut tasks) = daemon.tasks.lock()
        {
            tasks.spawn(daemon.clone().follow(target.clone(), every));
        }
        if !schedule {
            daemon.ready.store(true, Ordering::SeqCst);
            return Ok(daemon);
        }
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let mut scheduler = Scheduler::new(clock.clone()).await?;
        for p in daemon.pipelines.iter().filter(|p| p.schedule.is_some()) {
            let Some(spec) = &p.schedule else { continue };
            let weak = Arc::downgrade(&daemon);
            let name = p.name.clone();
            scheduler
                .add(
                    name.clone(),
                    spec.schedule.clone(),
                    Arc::new(move |_: String, at: DateTime<Utc>| {
                        let weak = weak.clone();
                        let name = name.clone();
                        let fire: futures::future::BoxFuture<'static, ()> = Box::pin(async move {
                            if let Some(d) = weak.upgrade() {
                                // Only starts the run: the scheduler re-arms at once.
                                let _ = d.trigger_run(&name, Trigger::Schedule, Some(at));
                            }
                        });
                        fire
                    }),
                )
                .await?;
            tracing::info!(pipeline = %p.name, schedule = %spec.schedule, next = ?scheduler.next_fire(&p.name), "scheduled");
        }
        scheduler.start().await?;
        *daemon.scheduler.lock().await = Some(scheduler);
        let d = daemon.clone();
        // Tracked like every run, so shutdown waits for (or records abandoning) it too.
        if let Ok(mut tasks) = daemon.tasks.lock() {
            tasks.spawn(async move {
                d.catch_up(clock.now()).await;
                // A publish cut short by an earlier shutdown (or a run by another process)
                // may have left the published views behind the lake: republish once.
                d.refresh("at start-up").await;
                d.ready.store(true, Ordering::SeqCst);
            });
        }
        Ok(daemon)
    }

    /// Every `every` until shutdown: brings in the runs other hosts sharing the lake's
    /// copy committed there, and republishes when it found some, so a replica serves
    /// their figures without running their pipelines (src/lake/mirror/catch_up.rs).
    async fn follow(self: Arc<Self>, target: Location, every: Duration) {
        let mut shutdown = self.shutdown.subscribe();
        loop {
            tokio::select! {
                () = tokio::time::sleep(every) => {}
                _ = shutdown.wait_for(|stop| *stop) => return,
            }
            let env: Vec<_> = std::env::vars().collect();
            let caught =
                crate::lake::mirror::catch_up::catch_up(self.runner.lake(), &target, env).await;
            self.runner.metrics().polled(Utc::now(), caught.is_ok());
            // Told once when looking starts failing and once when it works again: a
            // poll every few seconds must not page anyone each time.
            let was_failing = self.poll_failing.swap(caught.is_err(), Ordering::SeqCst);
            match caught {
                Ok(caught) => {
                    if was_failing {
                        tracing::info!("the lake's copy can be looked in again");
                        self.tell("poll_recovery", &[]).await;
                    }
                    if caught.runs > 0 {
                        tracing::info!(
                            runs = caught.runs,
                            files = caught.files,
                            "runs another host committed to the lake's copy were brought in; republishing"
                        );
                        self.refresh("after bringing in other hosts' runs").await;
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "the lake's copy could not be looked in for other hosts' runs; trying again at the next poll");
                    if !was_failing {
                        let problem = format!(
                            "the lake's copy could not be looked in for other hosts' runs: {e}"
                        );
                        self.tell("poll_failure", &[problem]).await;
                    }
                }
            }
        }
    }

    /// Refreshes the lake's copy and the published views (`super::refresh`), counts it
    /// in the metrics, logs each problem `when` it happened, and tells the webhook of
    /// every refresh with problems and of the first without after one.
    async fn refresh(&self, when: &str) -> crate::publish::PublishReport {
        let (problems, published) = super::refresh(&self.settings, self.runner.lake()).await;
        self.runner.metrics().refreshed(Utc::now(), problems.len());
        for problem in &problems {
            tracing::error!(problem = %problem, "{when}");
        }
        let was_failing = self
            .refresh_failing
            .swap(!problems.is_empty(), Ordering::SeqCst);
        if !problems.is_empty() {
            self.tell("refresh_failure", &problems).await;
        } else if was_failing {
            self.tell("refresh_recovery", &[]).await;
        }
        published
    }

    /// `event` to the webhook, if there is one.
    async fn tell(&self, event: &str, problems: &[String]) {
        if let Some(hook) = self.runner.webhook() {
            hook.notify_service(event, problems).await;
        }
    }

    /// Runs what was missed while the service was down, per pipeline's `catch_up`
    /// policy, measured from the newest schedule time in the ledger.
    async fn catch_up(self: &Arc<Self>, now: DateTime<Utc>) {
        let manifest = match Manifest::load(self.runner.lake().root()) {
            Ok(m) => m,
            Err(e) => {
                tracing::error!(error = %e, "cannot read the run ledger; no catch-up");
                return;
            }
        };
        for p in &self.pipelines {
            let Some(spec) = &p.schedule else { continue };
            let last = manifest
                .runs
                .iter()
                .filter(|r| r.pipeline == p.name)
                .filter_map(|r| r.scheduled_for.as_deref())
                .filter_map(|t| DateTime::parse_from_rfc3339(t).ok())
                .map(|t| t.with_timezone(&Utc))
                .max();
            let missed = missed_runs(&spec.schedule, last, now, spec.catch_up);
            if !missed.is_empty() {
                tracing::info!(pipeline = %p.name, missed = missed.len(), since = ?last, "catching up on runs missed while the service was down");
            }
            for at in missed {
                if *self.shutdown.borrow() {
                    return;
                }
                self.run_and_publish(p.clone(), Trigger::CatchUp, Some(at))
                    .await;
            }
        }
    }

    /// Starts a run of `name` in the background.
    pub fn trigger_run(
        self: &Arc<Self>,
        name: &str,
        trigger: Trigger,
        at: Option<DateTime<Utc>>,
    ) -> std::result::Result<(), TriggerError> {
        if *self.shutdown.borrow() {
            return Err(TriggerError::ShuttingDown);
        }
        let Some(p) = self.pipelines.iter().find(|p| p.name == name).cloned() else {
            return Err(TriggerError::Unknown(format!("no pipeline named '{name}'")));
        };
        if trigger == Trigger::Api {
            // Every started run is a row of the capped ledger: a client repeating the
            // request while one is queued or running gets 409, and no row.
            let running = self.running.lock().map_or(true, |r| r.contains(name));
            let Ok(mut requested) = self.requested.lock() else {
                return Err(TriggerError::ShuttingDown);
            };
            if running || !requested.insert(p.name.clone()) {
                return Err(TriggerError::Busy(format!(
                    "a run of '{name}' is queued or running; start another when it has finished (GET /api/v1/status)"
                )));
            }
        }
        let this = self.clone();
        let Ok(mut tasks) = self.tasks.lock() else {
            return Err(TriggerError::ShuttingDown);
        };
        // Finished runs are reaped here so the set does not grow over months.
        while tasks.try_join_next().is_some() {}
        tasks.spawn(async move {
            let name = p.name.clone();
            this.run_and_publish(p, trigger, at).await;
            if trigger == Trigger::Api
                && let Ok(mut requested) = this.requested.lock()
            {
                requested.remove(&name);
            }
        });
        Ok(())
    }

    async fn run_and_publish(&self, p: Arc<Pipeline>, trigger: Trigger, at: Option<DateTime<Utc>>) {
        if let Ok(mut r) = self.running.lock() {
            r.insert(p.name.clone());
        }
        let result = self
            .runner
            .run(&p, &RunOptions::default(), trigger, at)
            .await;
        // The run is recorded; what follows is republishing, which start-up repeats if
        // shutdown cuts it short, so the run must not be recorded as abandoned for it.
        if let Ok(mut r) = self.running.lock() {
            r.remove(&p.name);
        }
        match result {
            // Also after an unchanged run: a publish that failed or was cut short earlier
            // is caught up (publishing writes nothing when the published set is current).
            Ok(report) if report.succeeded() => {
                let published = self.refresh(&format!("after the run of {}", p.name)).await;
                tracing::info!(pipeline = %p.name, views = published.views.len(), recomputed = published.recomputed, "views refreshed and published");
            }
            Ok(_) => {}
            Err(e) => tracing::error!(pipeline = %p.name, error = %e, "run could not be recorded"),
        }
    }

    /// Stops the scheduler, lets running runs finish within `grace`, abandons the rest
    /// (recording them), and returns once nothing runs.
    pub async fn shutdown(&self, grace: Duration) {
        let _ = self.shutdown.send(true);
        if let Some(mut s) = self.scheduler.lock().await.take()
            && let Err(e) = s.shutdown().await
        {
            tracing::warn!(error = %e, "scheduler did not stop cleanly");
        }
        let mut tasks = match self.tasks.lock() {
            Ok(mut t) => std::mem::take(&mut *t),
            Err(_) => return,
        };
        let running: Vec<String> = self
            .running
            .lock()
            .map(|r| r.iter().cloned().collect())
            .unwrap_or_default();
        if !running.is_empty() {
            tracing::info!(running = ?running, grace_s = grace.as_secs(), "waiting for running pipelines");
        }
        let drained =
            tokio::time::timeout(grace, async { while tasks.join_next().await.is_some() {} }).await;
        if drained.is_err() {
            tasks.abort_all();
            while tasks.join_next().await.is_some() {}
            let abandoned: Vec<String> = self
                .running
                .lock()
                .map(|r| r.iter().cloned().collect())
                .unwrap_or_default();
            for name in abandoned {
                tracing::warn!(pipeline = %name, "run abandoned at shutdown; previous data left in place");
                let record = RunRecord::marker(
                    &name,
                    "abandoned",
                    "the service shut down before the run finished; nothing was published".into(),
                    "shutdown",
                    None,
                );
                if let Err(e) = Manifest::update(self.runner.lake().root(), |m| m.runs.push(record))
                {
                    tracing::error!(error = %e, "could not record the abandoned run");
                }
            }
        }
        tracing::info!("service stopped");
    }

    fn pipeline_names(&self) -> Vec<String> {
        self.pipelines.iter().map(|p| p.name.clone()).collect()
    }
}

/// The HTTP layer's view of the daemon (an `Arc<Daemon>` wrapper, since triggering needs
/// the `Arc` to spawn).
pub struct Ops(pub Arc<Daemon>);

impl Operations for Ops {
    fn metrics(&self) -> String {
        let manifest = Manifest::load(self.0.runner.lake().root()).unwrap_or_default();
        self.0
            .runner
            .metrics()
            .render(&self.0.pipeline_names(), &manifest)
    }

    fn status(&self) -> serde_json::Value {
        let manifest = Manifest::load(self.0.runner.lake().root()).unwrap_or_default();
        let rows =
            super::status::compute(self.0.pipelines.iter().map(|p| &**p), &manifest, Utc::now());
        serde_json::to_value(rows).unwrap_or_default()
    }

    fn trigger(&self, pipeline: &str) -> std::result::Result<(), TriggerError> {
        self.0.trigger_run(pipeline, Trigger::Api, None)
    }

    fn ready(&self) -> bool {
        self.0.ready.load(Ordering::SeqCst)
    }
}
