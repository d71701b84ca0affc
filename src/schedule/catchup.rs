//! Catch-up: which scheduled runs were missed while the service was down, and
//! which of them to run now, according to a pipeline's [`CatchUp`] policy.
//!
//! Missed runs are the fire instants in `(last_fired, now]` (see
//! [`Schedule::fires_between`]); a pipeline that has never fired has missed
//! nothing (a new pipeline does not run its history). The DST rules of
//! [`Schedule::next_after`] apply, so a missed DST day yields exactly the runs it
//! would have had.

use std::collections::VecDeque;
use std::str::FromStr;

use chrono::{DateTime, Duration, Utc};

use super::{Schedule, ScheduleError};

/// What to do with runs missed while the service was down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CatchUp {
    /// Run none of them; wait for the next scheduled time.
    Skip,
    /// Run only the most recent missed one.
    Latest,
    /// Run the most recent `cap` missed ones, oldest first.
    All {
        /// Maximum number of missed runs to replay (at least 1).
        cap: usize,
    },
}

impl CatchUp {
    /// Parse `"skip"`, `"latest"` or `"all"` (case-insensitive); `cap` is used
    /// only by `"all"` and must then be at least 1.
    pub fn parse(policy: &str, cap: usize) -> Result<CatchUp, ScheduleError> {
        let invalid = |reason: &str| ScheduleError::InvalidCatchUp {
            value: policy.to_string(),
            reason: reason.to_string(),
        };
        match policy.trim().to_ascii_lowercase().as_str() {
            "skip" => Ok(CatchUp::Skip),
            "latest" => Ok(CatchUp::Latest),
            "all" if cap == 0 => Err(invalid("the cap for \"all\" must be at least 1")),
            "all" => Ok(CatchUp::All { cap }),
            _ => Err(invalid("expected \"skip\", \"latest\" or \"all\"")),
        }
    }

    /// How many of the newest missed runs this policy keeps.
    fn keep(self) -> usize {
        match self {
            CatchUp::Skip => 0,
            CatchUp::Latest => 1,
            CatchUp::All { cap } => cap,
        }
    }
}

impl FromStr for CatchUp {
    type Err = ScheduleError;

    /// Parse `"skip"`, `"latest"`, `"all"` (cap 1) or `"all:N"`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.split_once(':') {
            Some((policy, cap)) if policy.trim().eq_ignore_ascii_case("all") => {
                let cap =
                    cap.trim()
                        .parse::<usize>()
                        .map_err(|_| ScheduleError::InvalidCatchUp {
                            value: s.to_string(),
                            reason: format!("cap \"{}\" is not a non-negative integer", cap.trim()),
                        })?;
                CatchUp::parse(policy, cap)
            }
            Some(_) => Err(ScheduleError::InvalidCatchUp {
                value: s.to_string(),
                reason: "only \"all\" takes a cap (\"all:N\")".to_string(),
            }),
            None => CatchUp::parse(s, 1),
        }
    }
}

/// The scheduled runs missed between the last recorded fire and `now`
/// (`(last_fired, now]`), filtered by `policy`, oldest first. Empty when the
/// pipeline never fired, for [`CatchUp::Skip`], or when `now <= last_fired`.
pub fn missed_runs(
    schedule: &Schedule,
    last_fired: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
    policy: CatchUp,
) -> Vec<DateTime<Utc>> {
    let Some(last) = last_fired else {
        return Vec::new();
    };
    let keep = policy.keep();
    if keep == 0 || now <= last {
        return Vec::new();
    }
    // Only the newest `keep` runs matter: look back from `now` over a window that
    // doubles until it holds enough runs or reaches `last`, so a long outage with
    // a frequent schedule does not enumerate the whole outage.
    let mut span = Duration::hours(1);
    loop {
        let start = now.checked_sub_signed(span).map_or(last, |s| s.max(last));
        let runs = newest_between(schedule, start, now, keep);
        if runs.len() >= keep || start == last {
            return runs;
        }
        span = span.checked_add(&span).unwrap_or(Duration::MAX);
    }
}

/// The newest `keep` fire instants in `(from, to]`, oldest first.
fn newest_between(
    schedule: &Schedule,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    keep: usize,
) -> Vec<DateTime<Utc>> {
    let mut window = VecDeque::with_capacity(keep.min(1024));
    let mut t = from;
    while let Some(n) = schedule.next_after(t).filter(|n| *n <= to) {
        if window.len() == keep {
            window.pop_front();
        }
        window.push_back(n);
        t = n;
    }
    window.into()
}
