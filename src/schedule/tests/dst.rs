//! When schedules fire: normal days, spring-forward gaps, fall-back overlaps,
//! zones without DST and the southern hemisphere.

use chrono::{Duration, NaiveDate, TimeZone, Timelike, Utc};

use super::{assert_strictly_increasing, fires_on_local_day, sched, utc};
use crate::schedule::ScheduleKind;

#[test]
fn normal_winter_and_summer() {
    let s = sched("30 2 * * *", "Europe/Stockholm");
    // CET = UTC+1
    assert_eq!(
        s.next_after(utc(2026, 1, 10, 12, 0, 0)),
        Some(utc(2026, 1, 11, 1, 30, 0))
    );
    // CEST = UTC+2
    assert_eq!(
        s.next_after(utc(2026, 7, 10, 12, 0, 0)),
        Some(utc(2026, 7, 11, 0, 30, 0))
    );
    // exclusive: exactly at a fire time gives the next one
    assert_eq!(
        s.next_after(utc(2026, 1, 11, 1, 30, 0)),
        Some(utc(2026, 1, 12, 1, 30, 0))
    );
    // sub-second before a fire time still gives it
    let just_before = utc(2026, 1, 11, 1, 29, 59) + Duration::milliseconds(999);
    assert_eq!(s.next_after(just_before), Some(utc(2026, 1, 11, 1, 30, 0)));
}

#[test]
fn spring_forward_fixed_time_fires_once_after_the_gap() {
    let s = sched("30 2 * * *", "Europe/Stockholm");
    assert_eq!(s.kind(), ScheduleKind::FixedTime);
    assert_eq!(
        fires_on_local_day(&s, 2026, 3, 29),
        vec![utc(2026, 3, 29, 1, 0, 0)]
    );
    assert_eq!(
        s.next_after(utc(2026, 3, 28, 12, 0, 0)),
        Some(utc(2026, 3, 29, 1, 0, 0))
    );
    // asked from just before the transition instant
    assert_eq!(
        s.next_after(utc(2026, 3, 29, 0, 59, 59)),
        Some(utc(2026, 3, 29, 1, 0, 0))
    );
    let week = s.fires_between(utc(2026, 3, 26, 23, 0, 0), utc(2026, 3, 31, 22, 0, 0), 100);
    assert_eq!(
        week,
        vec![
            utc(2026, 3, 27, 1, 30, 0),
            utc(2026, 3, 28, 1, 30, 0),
            utc(2026, 3, 29, 1, 0, 0),
            utc(2026, 3, 30, 0, 30, 0),
            utc(2026, 3, 31, 0, 30, 0),
        ]
    );
}

#[test]
fn spring_forward_hourly_has_23_fires() {
    let s = sched("0 * * * *", "Europe/Stockholm");
    let fires = fires_on_local_day(&s, 2026, 3, 29);
    assert_eq!(fires.len(), 23);
    assert_strictly_increasing(&fires);
    // 00:00, 01:00 CET, then 03:00 CEST (the lost 02:00 collapses into it)
    assert_eq!(
        &fires[..3],
        &[
            utc(2026, 3, 28, 23, 0, 0),
            utc(2026, 3, 29, 0, 0, 0),
            utc(2026, 3, 29, 1, 0, 0)
        ]
    );
    let s = sched("*/15 * * * *", "Europe/Stockholm");
    let fires = fires_on_local_day(&s, 2026, 3, 29);
    assert_eq!(fires.len(), 23 * 4);
    assert_strictly_increasing(&fires);
}

#[test]
fn spring_forward_interval_inside_the_gap_hour_is_not_skipped() {
    // every 15 min during the 02 hour only: the whole hour is missing that day
    let s = sched("*/15 2 * * *", "Europe/Stockholm");
    assert_eq!(
        fires_on_local_day(&s, 2026, 3, 29),
        vec![utc(2026, 3, 29, 1, 0, 0)]
    );
}

#[test]
fn fall_back_fixed_time_fires_once_at_first_occurrence() {
    let s = sched("30 2 * * *", "Europe/Stockholm");
    assert_eq!(
        fires_on_local_day(&s, 2026, 10, 25),
        vec![utc(2026, 10, 25, 0, 30, 0)]
    );
    // asked from inside the repeated hour (02:15 CET, second occurrence): next day
    assert_eq!(
        s.next_after(utc(2026, 10, 25, 1, 15, 0)),
        Some(utc(2026, 10, 26, 1, 30, 0))
    );
    // between the two occurrences: next day, never the second 02:30
    assert_eq!(
        s.next_after(utc(2026, 10, 25, 0, 30, 0)),
        Some(utc(2026, 10, 26, 1, 30, 0))
    );
    let days = s.fires_between(
        utc(2026, 10, 23, 12, 0, 0),
        utc(2026, 10, 27, 12, 0, 0),
        100,
    );
    assert_eq!(
        days,
        vec![
            utc(2026, 10, 24, 0, 30, 0),
            utc(2026, 10, 25, 0, 30, 0),
            utc(2026, 10, 26, 1, 30, 0),
            utc(2026, 10, 27, 1, 30, 0),
        ]
    );
}

#[test]
fn fall_back_hourly_fires_every_utc_hour_25_times() {
    let s = sched("0 * * * *", "Europe/Stockholm");
    assert_eq!(s.kind(), ScheduleKind::Interval);
    let fires = fires_on_local_day(&s, 2026, 10, 25);
    assert_eq!(fires.len(), 25);
    assert_strictly_increasing(&fires);
    let expected: Vec<_> = (0..25)
        .map(|h| utc(2026, 10, 24, 22, 0, 0) + Duration::hours(h))
        .collect();
    assert_eq!(fires, expected);
    // stateless: stepping from each scheduled time gives the same sequence
    let mut t = utc(2026, 10, 24, 21, 30, 0);
    for want in &expected {
        let got = s.next_after(t).expect("a value");
        assert_eq!(got, *want);
        t = got;
    }
}

#[test]
fn fall_back_every_15_minutes_never_repeats_an_instant() {
    let s = sched("*/15 * * * *", "Europe/Stockholm");
    let fires = fires_on_local_day(&s, 2026, 10, 25);
    assert_eq!(fires.len(), 25 * 4);
    assert_strictly_increasing(&fires);
    let repeated_hour: Vec<_> = fires
        .iter()
        .filter(|f| **f >= utc(2026, 10, 25, 0, 0, 0) && **f < utc(2026, 10, 25, 2, 0, 0))
        .collect();
    assert_eq!(repeated_hour.len(), 8);
    // a fixed-time hour with interval minutes is an interval schedule too
    let s = sched("*/15 2 * * *", "Europe/Stockholm");
    assert_eq!(fires_on_local_day(&s, 2026, 10, 25).len(), 8);
    // a list of fixed minutes is fixed-time: first occurrence only
    let s = sched("0,30 2 * * *", "Europe/Stockholm");
    assert_eq!(
        fires_on_local_day(&s, 2026, 10, 25),
        vec![utc(2026, 10, 25, 0, 0, 0), utc(2026, 10, 25, 0, 30, 0)]
    );
}

#[test]
fn utc_has_no_dst_effects() {
    let s = sched("30 2 * * *", "UTC");
    assert_eq!(
        fires_on_local_day(&s, 2026, 3, 29),
        vec![utc(2026, 3, 29, 2, 30, 0)]
    );
    assert_eq!(
        fires_on_local_day(&s, 2026, 10, 25),
        vec![utc(2026, 10, 25, 2, 30, 0)]
    );
    let h = sched("0 * * * *", "UTC");
    assert_eq!(fires_on_local_day(&h, 2026, 3, 29).len(), 24);
    assert_eq!(fires_on_local_day(&h, 2026, 10, 25).len(), 24);
}

#[test]
fn sydney_southern_hemisphere() {
    let s = sched("30 2 * * *", "Australia/Sydney");
    // January is summer (AEDT, UTC+11); July is winter (AEST, UTC+10)
    assert_eq!(
        s.next_after(utc(2026, 1, 10, 0, 0, 0)),
        Some(utc(2026, 1, 10, 15, 30, 0))
    );
    assert_eq!(
        s.next_after(utc(2026, 7, 10, 0, 0, 0)),
        Some(utc(2026, 7, 10, 16, 30, 0))
    );
    // DST ends 2026-04-05 03:00 AEDT -> 02:00 AEST: first 02:30 (AEDT) only
    assert_eq!(
        fires_on_local_day(&s, 2026, 4, 5),
        vec![utc(2026, 4, 4, 15, 30, 0)]
    );
    // DST starts 2026-10-04 02:00 AEST -> 03:00 AEDT: fires at 03:00 AEDT
    assert_eq!(
        fires_on_local_day(&s, 2026, 10, 4),
        vec![utc(2026, 10, 3, 16, 0, 0)]
    );
    let h = sched("0 * * * *", "Australia/Sydney");
    assert_eq!(fires_on_local_day(&h, 2026, 4, 5).len(), 25);
    assert_eq!(fires_on_local_day(&h, 2026, 10, 4).len(), 23);
}

#[test]
fn lord_howe_half_hour_shift() {
    // Lord Howe shifts by 30 minutes: 02:00 -> 02:30 on 2026-10-04 (UTC+10:30 -> +11)
    let s = sched("15 2 * * *", "Australia/Lord_Howe");
    assert_eq!(
        fires_on_local_day(&s, 2026, 10, 4),
        vec![utc(2026, 10, 3, 15, 30, 0)]
    );
    // 02:00 -> 01:30 on 2026-04-05: 01:45 happens twice, fires once (UTC+11 one)
    let s = sched("45 1 * * *", "Australia/Lord_Howe");
    assert_eq!(
        fires_on_local_day(&s, 2026, 4, 5),
        vec![utc(2026, 4, 4, 14, 45, 0)]
    );
}

/// Over a whole year in several zones: fires strictly increase, a daily fixed
/// time fires exactly once per local day, every fire shows the scheduled wall
/// time unless it is the first instant after a gap, and `next_after` from any
/// point between two fires returns the later one.
#[test]
fn whole_year_invariants() {
    let zones = [
        "Europe/Stockholm",
        "America/New_York",
        "Australia/Sydney",
        "Australia/Lord_Howe",
        "UTC",
    ];
    for zone in zones {
        let s = sched("30 2 * * *", zone);
        let tz = s.tz();
        let fires = s.fires_between(utc(2025, 12, 31, 0, 0, 0), utc(2027, 1, 2, 0, 0, 0), 1000);
        assert_strictly_increasing(&fires);
        let mut day = NaiveDate::from_ymd_opt(2026, 1, 1).expect("a value");
        while day < NaiveDate::from_ymd_opt(2027, 1, 1).expect("a value") {
            let on_day: Vec<_> = fires
                .iter()
                .filter(|f| f.with_timezone(&tz).date_naive() == day)
                .collect();
            assert_eq!(on_day.len(), 1, "{zone} {day}: {on_day:?}");
            let local = on_day[0].with_timezone(&tz);
            let in_gap = tz
                .from_local_datetime(&day.and_hms_opt(2, 30, 0).expect("a value"))
                .earliest()
                .is_none();
            if !in_gap {
                assert_eq!((local.hour(), local.minute()), (2, 30), "{zone} {day}");
            }
            day = day.succ_opt().expect("a value");
        }
        for w in fires.windows(2) {
            let mid = w[0] + (w[1] - w[0]) / 2;
            assert_eq!(
                s.next_after(mid),
                Some(w[1]),
                "{zone} between {} and {}",
                w[0],
                w[1]
            );
        }
        let h = sched("*/20 * * * *", zone);
        let fires = h.fires_between(utc(2026, 1, 1, 0, 0, 0), utc(2027, 1, 1, 0, 0, 0), 100_000);
        assert_strictly_increasing(&fires);
        // elapsed-time schedule: exactly 3 per UTC hour all year, DST or not
        // (Lord Howe's 30-minute shift is the exception: 1 fewer/more per change)
        if zone != "Australia/Lord_Howe" {
            assert_eq!(fires.len(), 365 * 24 * 3, "{zone}");
        }
    }
}

#[test]
fn six_field_seconds_schedule() {
    let s = sched("*/10 * * * * *", "Europe/Stockholm");
    let t = Utc
        .with_ymd_and_hms(2026, 1, 10, 12, 0, 5)
        .single()
        .expect("a valid UTC time");
    assert_eq!(s.fires_between(t, t + Duration::seconds(30), 10).len(), 3);
    assert_eq!(s.next_after(t), Some(utc(2026, 1, 10, 12, 0, 10)));
}
