//! The operational sections of a pipeline file — when it runs (`[schedule]`), how it
//! retries (`[retry]`), when its data is due (`[freshness]`) and what must hold before
//! anything is published (`[checks]`) — raw as written and validated.
//!
//! Kept apart from the mapping sections (`config::pipeline`) because the scheduler,
//! `status` and the quality gates read these and nothing else.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;

use crate::error::Problems;
use crate::normalize::schema::TableDef;
use crate::schedule::{CatchUp, DEFAULT_TIME_ZONE, Schedule, ScheduleError};

/// `[schedule]`: when `malgrupp serve` runs the pipeline.
#[derive(Debug, Deserialize)]
pub struct RawSchedule {
    /// Cron expression, 5 fields (`30 2 * * *` = 02:30 every day) or 6 with seconds first.
    pub cron: String,
    /// IANA time zone the expression is read in (default `Europe/Stockholm`).
    pub timezone: Option<String>,
    /// After downtime over a scheduled time: `skip`, `latest` (run once; default) or
    /// `all` (every missed time, oldest first, at most `catch_up_max`).
    pub catch_up: Option<String>,
    /// Most missed runs `catch_up = "all"` makes up for (default 10).
    pub catch_up_max: Option<usize>,
}

/// `[retry]`: whole-run retries after a transient failure (a source's timeout, 5xx, 429,
/// connection reset, cut-off body), on top of the per-request retries of HTTP sources.
#[derive(Debug, Deserialize)]
pub struct RawRetry {
    /// Further attempts after the first failed run (default 2; 0 disables).
    pub attempts: Option<u32>,
    /// Wait before the first retry in seconds, doubled for each further one, with jitter (default 60).
    pub backoff_secs: Option<u64>,
    /// Longest wait between attempts in seconds (default 900).
    pub max_backoff_secs: Option<u64>,
}

/// `[freshness]`: when a period's data is expected, for `malgrupp status`.
#[derive(Debug, Deserialize)]
pub struct RawFreshness {
    /// `monthly` or `yearly`: how often a new period appears.
    pub cadence: String,
    /// Days after a period ends by which its data is due (e.g. 10: May is due on 10 June).
    pub due_after_days: u32,
}

/// `[checks]`: quality gates evaluated on the new partitions before anything is
/// published. A failing check publishes nothing and the previous data stays.
#[derive(Debug, Default, Deserialize)]
pub struct RawChecks {
    /// Fewest rows a written partition may have.
    pub min_rows: Option<usize>,
    /// `[low, high]`: a partition's rows divided by the rows of the same kommun's previous
    /// period (this pipeline's file) must lie in this range, e.g. `[0.5, 2.0]`.
    pub row_count_ratio: Option<Vec<f64>>,
    /// Column → values that must each occur in every written partition.
    #[serde(default)]
    pub required_values: BTreeMap<String, Vec<String>>,
    /// Numeric columns that must never be negative, e.g. `["antal"]`.
    #[serde(default)]
    pub non_negative: Vec<String>,
}

/// A validated schedule.
#[derive(Debug, Clone)]
pub struct ScheduleSpec {
    /// When.
    pub schedule: Schedule,
    /// What to do about runs missed while the service was down.
    pub catch_up: CatchUp,
}

/// A validated retry policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Further attempts after a transient failure.
    pub attempts: u32,
    /// First wait.
    pub backoff: Duration,
    /// Longest wait.
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            attempts: 2,
            backoff: Duration::from_secs(60),
            max_backoff: Duration::from_secs(900),
        }
    }
}

/// How often periods appear.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cadence {
    /// `YYYY-MM` periods.
    Monthly,
    /// `YYYY` periods.
    Yearly,
}

/// A validated freshness expectation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Freshness {
    /// How often.
    pub cadence: Cadence,
    /// Days after the period's end by which it is due.
    pub due_after_days: u32,
}

/// Validated quality gates.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Checks {
    /// Fewest rows per partition.
    pub min_rows: Option<usize>,
    /// Allowed ratio to the previous period's rows.
    pub row_count_ratio: Option<(f64, f64)>,
    /// Values that must occur, per column.
    pub required_values: Vec<(String, Vec<String>)>,
    /// Columns that must not be negative.
    pub non_negative: Vec<String>,
}

/// Validates `[schedule]`.
pub fn schedule(raw: Option<RawSchedule>, file: &str, p: &mut Problems) -> Option<ScheduleSpec> {
    let raw = raw?;
    let tz = raw.timezone.as_deref().unwrap_or(DEFAULT_TIME_ZONE);
    let schedule = match Schedule::parse(&raw.cron, tz) {
        Ok(s) => Some(s),
        Err(e) => {
            p.push(file, "schedule", e.to_string());
            // A wrong zone must not hide a wrong expression: check that one on its own.
            if matches!(e, ScheduleError::UnknownTimeZone { .. })
                && let Err(cron) = Schedule::parse(&raw.cron, DEFAULT_TIME_ZONE)
            {
                p.push(file, "schedule.cron", cron.to_string());
            }
            None
        }
    };
    let max = raw.catch_up_max.unwrap_or(10);
    let catch_up = match raw.catch_up.as_deref().unwrap_or("latest") {
        "skip" => CatchUp::Skip,
        "latest" => CatchUp::Latest,
        "all" if max > 0 => CatchUp::All { cap: max },
        "all" => {
            p.push(file, "schedule.catch_up_max", "must be at least 1");
            CatchUp::Skip
        }
        other => {
            p.push(
                file,
                "schedule.catch_up",
                format!("'{other}': expected skip, latest or all"),
            );
            CatchUp::Skip
        }
    };
    Some(ScheduleSpec {
        schedule: schedule?,
        catch_up,
    })
}

/// Validates `[retry]`.
pub fn retry(raw: Option<RawRetry>, file: &str, p: &mut Problems) -> RetryPolicy {
    let d = RetryPolicy::default();
    let Some(raw) = raw else { return d };
    let policy = RetryPolicy {
        attempts: raw.attempts.unwrap_or(d.attempts),
        backoff: raw.backoff_secs.map_or(d.backoff, Duration::from_secs),
        max_backoff: raw
            .max_backoff_secs
            .map_or(d.max_backoff, Duration::from_secs),
    };
    if policy.attempts > 20 {
        p.push(file, "retry.attempts", "at most 20");
    }
    if policy.max_backoff < policy.backoff {
        p.push(
            file,
            "retry.max_backoff_secs",
            "must not be shorter than backoff_secs",
        );
    }
    policy
}

/// Validates `[freshness]`.
pub fn freshness(raw: Option<RawFreshness>, file: &str, p: &mut Problems) -> Option<Freshness> {
    let raw = raw?;
    let cadence = match raw.cadence.as_str() {
        "monthly" => Cadence::Monthly,
        "yearly" => Cadence::Yearly,
        other => {
            p.push(
                file,
                "freshness.cadence",
                format!("'{other}': expected monthly or yearly"),
            );
            return None;
        }
    };
    if raw.due_after_days > 366 {
        p.push(file, "freshness.due_after_days", "at most 366");
    }
    Some(Freshness {
        cadence,
        due_after_days: raw.due_after_days,
    })
}

/// Validates `[checks]` against the target table's columns.
pub fn checks(raw: Option<RawChecks>, target: &TableDef, file: &str, p: &mut Problems) -> Checks {
    let Some(raw) = raw else {
        return Checks::default();
    };
    let mut column = |name: &str, at: &str| {
        let known = matches!(name, "kommun" | "period") || target.field(name).is_some();
        if !known {
            p.push(
                file,
                at,
                format!("'{name}' is not a column of table {}", target.name),
            );
        }
        known
    };
    let required_values: Vec<_> = raw
        .required_values
        .into_iter()
        .filter(|(c, _)| column(c, &format!("checks.required_values.{c}")))
        .collect();
    let non_negative: Vec<_> = raw
        .non_negative
        .into_iter()
        .filter(|c| column(c, "checks.non_negative"))
        .collect();
    let row_count_ratio = match raw.row_count_ratio.as_deref() {
        None => None,
        Some(&[lo, hi]) if lo >= 0.0 && lo <= hi => Some((lo, hi)),
        Some(_) => {
            p.push(
                file,
                "checks.row_count_ratio",
                "expected [low, high] with 0 <= low <= high, e.g. [0.5, 2.0]",
            );
            None
        }
    };
    Checks {
        min_rows: raw.min_rows,
        row_count_ratio,
        required_values,
        non_negative,
    }
}
