//! Parsing: accepted forms, schedule kinds and error messages.

use crate::schedule::{DEFAULT_TIME_ZONE, Schedule, ScheduleError, ScheduleKind};

fn err(expr: &str, tz: &str) -> String {
    match Schedule::parse(expr, tz) {
        Ok(s) => panic!("{expr} ({tz}) parsed as {s}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn accepts_five_six_fields_and_nicknames() {
    for expr in [
        "30 2 * * *",
        "0 30 2 * * *",
        "*/15 * * * *",
        "0 6 * * MON-FRI",
        "0 0 L * *",
        "@daily",
        "@hourly",
    ] {
        let s = Schedule::parse(expr, DEFAULT_TIME_ZONE).expect("a value");
        assert_eq!(s.expr(), expr);
        assert_eq!(s.tz(), chrono_tz::Europe::Stockholm);
    }
}

#[test]
fn kinds() {
    let kind = |e: &str| Schedule::parse(e, "UTC").expect("a value").kind();
    assert_eq!(kind("30 2 * * *"), ScheduleKind::FixedTime);
    assert_eq!(kind("0 30 2 * * *"), ScheduleKind::FixedTime);
    assert_eq!(kind("0 6,18 * * *"), ScheduleKind::FixedTime);
    assert_eq!(kind("@daily"), ScheduleKind::FixedTime);
    assert_eq!(kind("0 * * * *"), ScheduleKind::Interval);
    assert_eq!(kind("@hourly"), ScheduleKind::Interval);
    assert_eq!(kind("*/15 * * * *"), ScheduleKind::Interval);
    assert_eq!(kind("0 */2 * * *"), ScheduleKind::Interval);
    assert_eq!(kind("* 30 2 * * *"), ScheduleKind::Interval);
}

#[test]
fn minute_out_of_range_names_expression_and_field() {
    let e = err("61 2 * * *", "Europe/Stockholm");
    assert!(e.contains("\"61 2 * * *\""), "{e}");
    assert!(e.contains("minute field \"61\""), "{e}");
}

#[test]
fn wrong_field_count_names_expression() {
    let e = err("30 2 * *", "Europe/Stockholm");
    assert!(e.contains("\"30 2 * *\""), "{e}");
    assert!(e.contains("found 4"), "{e}");
    let e = err("0 30 2 * * * 2026", "UTC");
    assert!(e.contains("found 7"), "{e}");
    assert!(err("", "UTC").contains("empty"));
}

#[test]
fn unknown_time_zone_names_it() {
    let r = Schedule::parse("30 2 * * *", "Europe/Stokholm");
    assert!(
        matches!(&r, Err(ScheduleError::UnknownTimeZone { name }) if name == "Europe/Stokholm")
    );
    assert!(err("30 2 * * *", "Europe/Stokholm").contains("\"Europe/Stokholm\""));
}

#[test]
fn other_bad_expressions() {
    let e = err("30 25 * * *", "UTC");
    assert!(e.contains("hour field \"25\""), "{e}");
    let e = err("30 2 * * FUNDAY", "UTC");
    assert!(e.contains("day-of-week field"), "{e}");
    let e = err("@fortnightly", "UTC");
    assert!(e.contains("unknown nickname"), "{e}");
    let e = err("0 0 31 2 *", "UTC");
    assert!(e.contains("never matches"), "{e}");
}
