//! Scheduling of the nightly pipelines: parsing cron schedules with a time zone,
//! deciding *when* they fire (including across daylight-saving changes), catching
//! up on runs missed while the service was down, and firing runs through
//! `tokio-cron-scheduler`.
//!
//! The decision of when to fire is made by [`Schedule::next_after`] (see the DST
//! rules in the [`cron`] module); `tokio-cron-scheduler` is only used as a timer
//! for one-shot jobs at instants we computed.

pub mod catchup;
pub mod clock;
pub mod cron;
pub mod runner;

#[cfg(test)]
mod tests;

pub use catchup::{CatchUp, missed_runs};
pub use clock::{Clock, ManualClock, SystemClock};
pub use cron::{DEFAULT_TIME_ZONE, Schedule, ScheduleKind};
pub use runner::{Scheduler, Trigger};

/// Errors from parsing schedules and catch-up policies and from running the scheduler.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    /// The cron expression could not be parsed or never matches any date.
    #[error("invalid cron expression \"{expr}\": {reason}")]
    InvalidExpression {
        /// The expression as written in the pipeline file.
        expr: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The time zone is not a known IANA time zone name.
    #[error("unknown time zone \"{name}\" (expected an IANA name such as \"Europe/Stockholm\")")]
    UnknownTimeZone {
        /// The time zone name as written.
        name: String,
    },
    /// The catch-up policy is not one of `skip`, `latest` or `all`, or has a bad cap.
    #[error("invalid catch-up policy \"{value}\": {reason}")]
    InvalidCatchUp {
        /// The policy as written.
        value: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A pipeline with this name was already added to the scheduler.
    #[error("pipeline \"{name}\" is already scheduled")]
    DuplicatePipeline {
        /// The pipeline name.
        name: String,
    },
    /// `tokio-cron-scheduler` reported an error, or the scheduler was used after shutdown.
    #[error("job scheduler error: {0}")]
    Runner(String),
}
