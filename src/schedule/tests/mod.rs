//! Tests for the schedule module: DST decisions, parsing, catch-up and the runner.

mod catchup;
mod croner_behaviour;
mod dst;
mod parse;
mod runner;

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;

use super::Schedule;

/// A UTC instant.
fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, s)
        .single()
        .expect("a valid UTC time")
}

/// Parse or panic.
fn sched(expr: &str, tz: &str) -> Schedule {
    Schedule::parse(expr, tz).expect("a value")
}

/// All fires during the local calendar day `y-mo-d` of the schedule's time zone.
fn fires_on_local_day(s: &Schedule, y: i32, mo: u32, d: u32) -> Vec<DateTime<Utc>> {
    let tz: Tz = s.tz();
    let day = NaiveDate::from_ymd_opt(y, mo, d).expect("a value");
    let start = tz
        .from_local_datetime(&day.and_hms_opt(0, 0, 0).expect("a value"))
        .earliest()
        .expect("a value")
        .with_timezone(&Utc);
    let next = day
        .succ_opt()
        .expect("a value")
        .and_hms_opt(0, 0, 0)
        .expect("a value");
    let end = tz
        .from_local_datetime(&next)
        .earliest()
        .expect("a value")
        .with_timezone(&Utc);
    s.fires_between(
        start - Duration::seconds(1),
        end - Duration::seconds(1),
        10_000,
    )
}

/// Panics unless `v` is strictly increasing (so also free of duplicates).
fn assert_strictly_increasing(v: &[DateTime<Utc>]) {
    for w in v.windows(2) {
        assert!(
            w[0] < w[1],
            "not strictly increasing: {} then {}",
            w[0],
            w[1]
        );
    }
}
