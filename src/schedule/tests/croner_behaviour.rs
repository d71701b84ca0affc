//! Why `Schedule::next_after` walks local time itself instead of calling croner's
//! `find_next_occurrence` with the zone: these pin croner 3's observed behaviour.
//! If croner changes, these fail; `Schedule` does not depend on them.

use std::str::FromStr;

use chrono::Utc;
use croner::Cron;

use super::utc;

#[test]
fn croner_spring_forward_fixed_time_is_right() {
    let c = Cron::from_str("30 2 * * *").expect("a value");
    let tz = chrono_tz::Europe::Stockholm;
    let n = c
        .find_next_occurrence(&utc(2026, 3, 28, 12, 0, 0).with_timezone(&tz), false)
        .expect("a value");
    assert_eq!(n.with_timezone(&Utc), utc(2026, 3, 29, 1, 0, 0));
}

#[test]
fn croner_stateless_next_loses_the_repeated_hour() {
    // stepping hourly from 02:00 CEST (00:00Z) skips 02:00 CET (01:00Z)
    let c = Cron::from_str("0 * * * *").expect("a value");
    let tz = chrono_tz::Europe::Stockholm;
    let n = c
        .find_next_occurrence(&utc(2026, 10, 25, 0, 0, 0).with_timezone(&tz), false)
        .expect("a value");
    assert_eq!(n.with_timezone(&Utc), utc(2026, 10, 25, 2, 0, 0));
}

#[test]
fn croner_fixed_time_in_repeated_hour_goes_backwards() {
    // from 02:15 CET (second occurrence) croner answers 02:30 CEST, which is
    // *before* the start: re-arming from it would fire twice
    let c = Cron::from_str("30 2 * * *").expect("a value");
    let tz = chrono_tz::Europe::Stockholm;
    let n = c
        .find_next_occurrence(&utc(2026, 10, 25, 1, 15, 0).with_timezone(&tz), false)
        .expect("a value");
    assert_eq!(n.with_timezone(&Utc), utc(2026, 10, 25, 0, 30, 0));
}
