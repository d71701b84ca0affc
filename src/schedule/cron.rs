//! Cron schedules with a time zone, and the decision of *when* they fire.
//!
//! A [`Schedule`] is a cron expression — standard 5 fields
//! (`minute hour day-of-month month day-of-week`, e.g. `30 2 * * *`), 6 fields with
//! leading seconds (`0 30 2 * * *`), or one of `@yearly`, `@annually`, `@monthly`,
//! `@weekly`, `@daily`, `@midnight`, `@hourly` — plus an IANA time zone
//! (pipelines default to [`DEFAULT_TIME_ZONE`]). Field syntax is croner's
//! (`*`, `,`, `-`, `/`, names like `MON`/`JAN`, `L`, `W`, `#`); day-of-month and
//! day-of-week combine with OR, as in Vixie cron.
//!
//! # Daylight-saving rules
//!
//! All fields are evaluated against the **local wall clock** of the schedule's
//! time zone. Croner is used only to match wall-clock times (a calendar without
//! DST); mapping them to instants is done here, by walking the time zone's UTC
//! offset segments:
//!
//! 1. **Normal times** fire at the one instant that shows that wall time.
//! 2. **Spring forward (gap).** A matching local time that does not exist (e.g.
//!    02:30 on 2026-03-29 in Europe/Stockholm, where 02:00 jumps to 03:00) fires
//!    **once, at the first instant after the gap** (03:00 local = 01:00 UTC). It is
//!    never skipped. All matches inside one gap collapse into that single fire,
//!    and if the wall time right after the gap also matches (e.g. `0 * * * *` at
//!    03:00) it is still one fire: a schedule never fires twice at the same instant.
//!    This applies to every kind of schedule.
//! 3. **Fall back (overlap).** A local time that occurs twice (e.g. 02:30 on
//!    2026-10-25, where 03:00 goes back to 02:00):
//!    - a [`ScheduleKind::FixedTime`] schedule fires **once, at the first
//!      occurrence** (02:30 CEST = 00:30 UTC);
//!    - a [`ScheduleKind::Interval`] schedule fires at **each** occurrence, because
//!      it is meant to run every N units of elapsed time: `0 * * * *` fires 25
//!      times on that local day (every UTC hour once) and `*/15 * * * *` fires 8
//!      times in the repeated hour, at 8 distinct, increasing instants.
//!
//! A schedule is an *interval* schedule when its second, minute or hour field
//! contains `*` or `/` (e.g. `0 * * * *`, `*/15 * * * *`, `0 */2 * * *`,
//! `*/5 2 * * *`); otherwise (single values, lists and ranges such as `30 2 * * *`,
//! `0 6,18 * * *`, `0 8-17 * * 1-5`) it is a *fixed-time* schedule. This is the
//! same split Vixie cron makes for its DST handling. The result is stateless:
//! [`Schedule::next_after`] depends only on its argument, so re-arming from the
//! previous scheduled time never doubles or skips a run.
//!
//! Offset changes are detected by probing the time zone once per hour of UTC
//! time (then bisecting to the second); two changes less than an hour apart
//! that cancel out would be missed. No such change exists in the tz database's
//! current rules.

use std::fmt;

use chrono::{DateTime, LocalResult, NaiveDateTime, Offset, TimeZone, Utc};
use chrono_tz::Tz;
use croner::Cron;
use croner::parser::{CronParser, Seconds, Year};

use super::ScheduleError;

/// The time zone of a pipeline schedule that does not name one.
pub const DEFAULT_TIME_ZONE: &str = "Europe/Stockholm";

/// Seconds between offset probes when looking for a DST change.
const PROBE_STEP_SECS: i64 = 3600;

/// Upper bound on walk steps in one [`Schedule::next_after`] call.
const MAX_WALK_STEPS: usize = 100_000;

const FIELDS_5: [&str; 5] = ["minute", "hour", "day-of-month", "month", "day-of-week"];
const FIELDS_6: [&str; 6] = [
    "second",
    "minute",
    "hour",
    "day-of-month",
    "month",
    "day-of-week",
];

/// How a schedule behaves when a local time occurs twice (DST fall-back).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScheduleKind {
    /// Second, minute and hour are single values, lists or ranges: a repeated
    /// local time fires once, at its first occurrence.
    FixedTime,
    /// Second, minute or hour uses `*` or `/`: every occurrence of a matching
    /// local time fires (each at its own instant).
    Interval,
}

/// A parsed cron expression in a time zone.
#[derive(Debug, Clone)]
pub struct Schedule {
    expr: String,
    tz: Tz,
    cron: Cron,
    kind: ScheduleKind,
}

impl fmt::Display for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.expr, self.tz.name())
    }
}

impl Schedule {
    /// Parse a 5- or 6-field cron expression (or an `@nickname`) in the IANA time
    /// zone `tz`. Errors name the expression (and the offending field) or the
    /// unknown time zone; an expression that never matches a date is rejected.
    pub fn parse(expr: &str, tz: &str) -> Result<Schedule, ScheduleError> {
        let tz_parsed: Tz = tz
            .trim()
            .parse()
            .map_err(|_| ScheduleError::UnknownTimeZone {
                name: tz.to_string(),
            })?;
        let invalid = |reason: String| ScheduleError::InvalidExpression {
            expr: expr.to_string(),
            reason,
        };
        let expanded = expand_nickname(expr.trim()).map_err(invalid)?;
        let fields: Vec<&str> = expanded.split_whitespace().collect();
        let names: &[&str] = match fields.len() {
            5 => &FIELDS_5,
            6 => &FIELDS_6,
            0 => return Err(invalid("the expression is empty".to_string())),
            n => {
                return Err(invalid(format!(
                    "expected 5 fields (minute hour day-of-month month day-of-week) \
                     or 6 fields (second minute hour day-of-month month day-of-week), found {n}"
                )));
            }
        };
        let cron = parser()
            .parse(&expanded)
            .map_err(|e| invalid(explain_parse_error(&fields, names, &e)))?;
        let time_fields = &fields[..fields.len() - 3];
        let kind = if time_fields
            .iter()
            .any(|f| f.contains('*') || f.contains('/'))
        {
            ScheduleKind::Interval
        } else {
            ScheduleKind::FixedTime
        };
        let schedule = Schedule {
            expr: expr.trim().to_string(),
            tz: tz_parsed,
            cron,
            kind,
        };
        let epoch = DateTime::<Utc>::UNIX_EPOCH.naive_utc();
        if schedule.naive_next(epoch).is_none() {
            return Err(invalid("it never matches any date".to_string()));
        }
        Ok(schedule)
    }

    /// The expression as written (trimmed).
    pub fn expr(&self) -> &str {
        &self.expr
    }

    /// The time zone the wall-clock fields are evaluated in.
    pub fn tz(&self) -> Tz {
        self.tz
    }

    /// Whether a repeated (fall-back) local time fires once or at each occurrence.
    pub fn kind(&self) -> ScheduleKind {
        self.kind
    }

    /// The first fire instant strictly after `t`, following the DST rules in the
    /// module documentation; `None` if none can be found (out of range).
    pub fn next_after(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        // Fire instants are whole seconds; `timestamp()` floors, so `s > t`.
        let mut s = t.timestamp().checked_add(1)?;
        for _ in 0..MAX_WALK_STEPS {
            let off = self.offset_at(s);
            let prev_off = self.offset_at(s - 1);
            // `s` is the first instant after a spring-forward gap: matches in the
            // gap's nonexistent wall times fire here, once.
            if off > prev_off && self.gap_matches(s + prev_off, s + off) {
                return instant(s);
            }
            let n = self.naive_next(naive(s + off)?)?;
            let c = n.and_utc().timestamp() - off;
            if let Some(change) = self.first_change(s, c, off) {
                // The offset changes before `c`: restart the walk from the change.
                s = change;
                continue;
            }
            if self.kind == ScheduleKind::FixedTime && self.is_second_occurrence(n, c) {
                s = c + 1;
                continue;
            }
            return instant(c);
        }
        None
    }

    /// The fire instants in `(from, to]` (exclusive `from`, inclusive `to`), oldest
    /// first, at most `cap` of them (the oldest `cap` if there are more).
    pub fn fires_between(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        cap: usize,
    ) -> Vec<DateTime<Utc>> {
        let mut out = Vec::new();
        let mut t = from;
        while out.len() < cap {
            match self.next_after(t) {
                Some(n) if n <= to => {
                    out.push(n);
                    t = n;
                }
                _ => break,
            }
        }
        out
    }

    /// UTC offset in seconds in force at the instant `secs` (Unix seconds).
    fn offset_at(&self, secs: i64) -> i64 {
        DateTime::from_timestamp(secs, 0).map_or(0, |u| {
            i64::from(
                self.tz
                    .offset_from_utc_datetime(&u.naive_utc())
                    .fix()
                    .local_minus_utc(),
            )
        })
    }

    /// First wall-clock time at or after `n` that matches the expression.
    fn naive_next(&self, n: NaiveDateTime) -> Option<NaiveDateTime> {
        // UTC has no DST, so croner's search over it is a pure wall-clock search.
        self.cron
            .find_next_occurrence(&Utc.from_utc_datetime(&n), true)
            .ok()
            .map(|d| d.naive_utc())
    }

    /// Whether some wall time in `[lo, hi)` (local seconds) matches.
    fn gap_matches(&self, lo: i64, hi: i64) -> bool {
        naive(lo)
            .and_then(|n| self.naive_next(n))
            .is_some_and(|m| m.and_utc().timestamp() < hi)
    }

    /// The first instant in `(from, to]` whose offset differs from `off`.
    fn first_change(&self, from: i64, to: i64, off: i64) -> Option<i64> {
        let mut lo = from;
        while lo < to {
            let mut hi = (lo + PROBE_STEP_SECS).min(to);
            if self.offset_at(hi) != off {
                while hi - lo > 1 {
                    let mid = lo + (hi - lo) / 2;
                    if self.offset_at(mid) != off {
                        hi = mid;
                    } else {
                        lo = mid;
                    }
                }
                return Some(hi);
            }
            lo = hi;
        }
        None
    }

    /// Whether instant `c` (showing wall time `n`) is the later of two instants
    /// showing `n` (fall-back overlap).
    fn is_second_occurrence(&self, n: NaiveDateTime, c: i64) -> bool {
        match self.tz.from_local_datetime(&n) {
            LocalResult::Ambiguous(a, b) => c != a.timestamp().min(b.timestamp()),
            _ => false,
        }
    }
}

/// The croner parser configuration: optional seconds, no year field.
fn parser() -> CronParser {
    CronParser::builder()
        .seconds(Seconds::Optional)
        .year(Year::Disallowed)
        .build()
}

/// Replace a leading `@nickname` with its 5-field equivalent.
fn expand_nickname(expr: &str) -> Result<String, String> {
    if !expr.starts_with('@') {
        return Ok(expr.to_string());
    }
    let fields = match expr.to_ascii_lowercase().as_str() {
        "@yearly" | "@annually" => "0 0 1 1 *",
        "@monthly" => "0 0 1 * *",
        "@weekly" => "0 0 * * 0",
        "@daily" | "@midnight" => "0 0 * * *",
        "@hourly" => "0 * * * *",
        _ => {
            return Err(format!(
                "unknown nickname {expr} (expected @yearly, @annually, @monthly, \
                 @weekly, @daily, @midnight or @hourly)"
            ));
        }
    };
    Ok(fields.to_string())
}

/// Name the field that croner rejects, by parsing each field on its own.
fn explain_parse_error(fields: &[&str], names: &[&str], err: &croner::errors::CronError) -> String {
    for (i, (field, name)) in fields.iter().zip(names).enumerate() {
        let probe: Vec<&str> = (0..fields.len())
            .map(|j| if j == i { *field } else { "*" })
            .collect();
        if let Err(e) = parser().parse(&probe.join(" ")) {
            return format!("{name} field \"{field}\": {e}");
        }
    }
    err.to_string()
}

/// Unix seconds to a UTC instant.
fn instant(secs: i64) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(secs, 0)
}

/// Local wall-clock seconds (as if UTC) to a naive date-time.
fn naive(secs: i64) -> Option<NaiveDateTime> {
    DateTime::from_timestamp(secs, 0).map(|d| d.naive_utc())
}
