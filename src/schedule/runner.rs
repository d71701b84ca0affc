//! The runner: fires each pipeline's trigger at its scheduled times, using
//! `tokio-cron-scheduler` only as a timer for one-shot jobs.
//!
//! For each pipeline the next fire time is computed with
//! [`Schedule::next_after`]`(clock.now())` when the scheduler starts (or when the
//! pipeline is added to a running scheduler) and registered as a one-shot
//! `tokio-cron-scheduler` job at that instant. When the job fires, the runner
//! first re-arms the pipeline for `next_after(scheduled time)` — computed from
//! the *scheduled* time, not from now, so a slow run or a late wake-up never
//! skips a slot and a fall-back hour never doubles one — and then awaits the
//! trigger with the scheduled time. Runs of one pipeline may therefore overlap;
//! preventing that is the trigger's job. If the process stalls past several
//! slots, each missed slot fires in turn, immediately (use
//! [`missed_runs`](super::missed_runs) at start-up for outages of the service).
//!
//! The [`Clock`] decides what "now" is for computing fire times; waiting happens
//! in real time (`tokio-cron-scheduler` ticks every 500 ms and works in whole
//! seconds, so a run starts up to ~1.5 s after its scheduled instant, never
//! before it when the clock is the system clock).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Instant;

use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use tokio_cron_scheduler::{Job, JobScheduler, JobSchedulerError};

use super::{Clock, Schedule, ScheduleError};

/// The action run for a pipeline: called with the pipeline name and the
/// scheduled fire time (not the actual wall time of the call).
pub type Trigger = Arc<dyn Fn(String, DateTime<Utc>) -> BoxFuture<'static, ()> + Send + Sync>;

/// One scheduled pipeline.
struct Pipeline {
    name: String,
    schedule: Schedule,
    trigger: Trigger,
}

/// State shared with the jobs running inside `tokio-cron-scheduler`.
struct Shared {
    clock: Arc<dyn Clock>,
    next: Mutex<HashMap<String, DateTime<Utc>>>,
    /// Set by shutdown; triggers are invoked under the read lock so that none is
    /// invoked once shutdown has taken the write lock.
    stopped: RwLock<bool>,
}

impl Shared {
    fn is_stopped(&self) -> bool {
        *self.stopped.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// Record (or forget) the armed fire time; ignored once shut down, so
    /// `next_fire` stays empty after shutdown even if a fire was in flight.
    fn set_next(&self, name: &str, at: Option<DateTime<Utc>>) {
        let stopped = self.stopped.read().unwrap_or_else(PoisonError::into_inner);
        if *stopped {
            return;
        }
        let mut next = self.next.lock().unwrap_or_else(PoisonError::into_inner);
        match at {
            Some(at) => next.insert(name.to_string(), at),
            None => next.remove(name),
        };
    }
}

/// Fires pipeline triggers at their scheduled times (see the module docs).
pub struct Scheduler {
    jobs: JobScheduler,
    shared: Arc<Shared>,
    pipelines: Vec<Arc<Pipeline>>,
    started: bool,
}

impl Scheduler {
    /// A stopped scheduler with no pipelines, reading "now" from `clock`.
    pub async fn new(clock: Arc<dyn Clock>) -> Result<Scheduler, ScheduleError> {
        let jobs = JobScheduler::new().await.map_err(runner_error)?;
        Ok(Scheduler {
            jobs,
            shared: Arc::new(Shared {
                clock,
                next: Mutex::new(HashMap::new()),
                stopped: RwLock::new(false),
            }),
            pipelines: Vec::new(),
            started: false,
        })
    }

    /// Add a pipeline. Before [`start`](Self::start) it is only recorded; on a
    /// running scheduler it is armed at once for its next fire after now.
    pub async fn add(
        &mut self,
        name: String,
        schedule: Schedule,
        trigger: Trigger,
    ) -> Result<(), ScheduleError> {
        if self.pipelines.iter().any(|p| p.name == name) {
            return Err(ScheduleError::DuplicatePipeline { name });
        }
        let pipeline = Arc::new(Pipeline {
            name,
            schedule,
            trigger,
        });
        self.pipelines.push(Arc::clone(&pipeline));
        if self.started {
            arm_from_now(&self.jobs, &self.shared, &pipeline).await?;
        }
        Ok(())
    }

    /// Arm every pipeline for its next fire after now and start ticking.
    /// Starting twice is a no-op; a scheduler that was shut down cannot restart.
    pub async fn start(&mut self) -> Result<(), ScheduleError> {
        if self.shared.is_stopped() {
            return Err(ScheduleError::Runner(
                "the scheduler was shut down and cannot be restarted".to_string(),
            ));
        }
        if self.started {
            return Ok(());
        }
        for pipeline in &self.pipelines {
            arm_from_now(&self.jobs, &self.shared, pipeline).await?;
        }
        self.jobs.start().await.map_err(runner_error)?;
        self.started = true;
        Ok(())
    }

    /// Stop firing: no trigger is invoked after this returns (runs already in
    /// progress are not cancelled) and nothing is re-armed.
    pub async fn shutdown(&mut self) -> Result<(), ScheduleError> {
        *self
            .shared
            .stopped
            .write()
            .unwrap_or_else(PoisonError::into_inner) = true;
        self.shared
            .next
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
        self.jobs.shutdown().await.map_err(runner_error)
    }

    /// The instant the pipeline `name` is armed to fire next, if any (for a
    /// status command). `None` before start, after shutdown, for an unknown
    /// pipeline, or for a schedule with no future fire.
    pub fn next_fire(&self, name: &str) -> Option<DateTime<Utc>> {
        self.shared
            .next
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(name)
            .copied()
    }
}

fn runner_error(e: JobSchedulerError) -> ScheduleError {
    ScheduleError::Runner(e.to_string())
}

/// Arm `pipeline` for its first fire after the clock's now.
async fn arm_from_now(
    jobs: &JobScheduler,
    shared: &Arc<Shared>,
    pipeline: &Arc<Pipeline>,
) -> Result<(), ScheduleError> {
    let now = shared.clock.now();
    match pipeline.schedule.next_after(now) {
        Some(at) => arm(jobs, shared, pipeline, at).await,
        None => {
            tracing::warn!(pipeline = %pipeline.name, schedule = %pipeline.schedule,
                "schedule has no fire time after now; not armed");
            shared.set_next(&pipeline.name, None);
            Ok(())
        }
    }
}

/// Register a one-shot job firing `pipeline` for the scheduled instant `at`.
async fn arm(
    jobs: &JobScheduler,
    shared: &Arc<Shared>,
    pipeline: &Arc<Pipeline>,
    at: DateTime<Utc>,
) -> Result<(), ScheduleError> {
    let job = one_shot(Arc::clone(shared), Arc::clone(pipeline), at)?;
    shared.set_next(&pipeline.name, Some(at));
    if let Err(e) = jobs.add(job).await {
        shared.set_next(&pipeline.name, None);
        return Err(runner_error(e));
    }
    tracing::debug!(pipeline = %pipeline.name, at = %at, "armed");
    Ok(())
}

/// Build the one-shot job for `at`.
///
/// `tokio-cron-scheduler` 0.15 turns the instant into a whole-second Unix
/// timestamp as `trunc(Utc::now() + as_secs(instant - Instant::now()))`; the
/// `as_secs` of a duration measured a moment later loses almost a second. So
/// the delay is rounded up to whole seconds and one second is added: the job
/// then never fires before `at` (on the system clock), and at most ~1.5 s after.
fn one_shot(
    shared: Arc<Shared>,
    pipeline: Arc<Pipeline>,
    at: DateTime<Utc>,
) -> Result<Job, ScheduleError> {
    let delay_ms = u64::try_from((at - shared.clock.now()).num_milliseconds()).unwrap_or(0);
    let delay_secs = delay_ms.div_ceil(1000).saturating_add(1);
    let instant = Instant::now() + std::time::Duration::from_secs(delay_secs);
    Job::new_one_shot_at_instant_async(instant, move |_id, jobs| {
        let shared = Arc::clone(&shared);
        let pipeline = Arc::clone(&pipeline);
        Box::pin(async move { fire(jobs, shared, pipeline, at).await })
    })
    .map_err(runner_error)
}

/// A one-shot job fired: re-arm from the scheduled time, then run the trigger.
async fn fire(jobs: JobScheduler, shared: Arc<Shared>, pipeline: Arc<Pipeline>, at: DateTime<Utc>) {
    if shared.is_stopped() {
        return;
    }
    match pipeline.schedule.next_after(at) {
        Some(next) => {
            if let Err(e) = arm(&jobs, &shared, &pipeline, next).await {
                tracing::error!(pipeline = %pipeline.name, error = %e, "could not re-arm");
            }
        }
        None => shared.set_next(&pipeline.name, None),
    }
    let run = {
        let stopped = shared
            .stopped
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        if *stopped {
            return;
        }
        tracing::info!(pipeline = %pipeline.name, scheduled = %at, "firing");
        (pipeline.trigger)(pipeline.name.clone(), at)
    };
    run.await;
}
