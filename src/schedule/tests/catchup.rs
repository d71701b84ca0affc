//! Catch-up after downtime.

use chrono::{DateTime, Duration, Utc};

use super::{sched, utc};
use crate::schedule::{CatchUp, ScheduleError, missed_runs};

#[test]
fn policies_after_an_outage() {
    let s = sched("30 2 * * *", "Europe/Stockholm");
    // last fire before going down on 2026-03-01T00:00Z; back at 2026-03-04T12:00Z
    let last = Some(utc(2026, 2, 28, 1, 30, 0));
    let now = utc(2026, 3, 4, 12, 0, 0);
    assert_eq!(
        missed_runs(&s, last, now, CatchUp::Skip),
        Vec::<DateTime<Utc>>::new()
    );
    assert_eq!(
        missed_runs(&s, last, now, CatchUp::Latest),
        vec![utc(2026, 3, 4, 1, 30, 0)]
    );
    assert_eq!(
        missed_runs(&s, last, now, CatchUp::All { cap: 2 }),
        vec![utc(2026, 3, 3, 1, 30, 0), utc(2026, 3, 4, 1, 30, 0)]
    );
    assert_eq!(
        missed_runs(&s, last, now, CatchUp::All { cap: 100 }).len(),
        4
    );
    assert_eq!(
        missed_runs(&s, None, now, CatchUp::All { cap: 100 }),
        Vec::<DateTime<Utc>>::new()
    );
    assert_eq!(
        missed_runs(&s, None, now, CatchUp::Latest),
        Vec::<DateTime<Utc>>::new()
    );
}

#[test]
fn edges() {
    let s = sched("30 2 * * *", "Europe/Stockholm");
    let fire = utc(2026, 3, 4, 1, 30, 0);
    // a fire exactly at now counts as missed; one at last_fired does not
    assert_eq!(
        missed_runs(
            &s,
            Some(fire - Duration::days(1)),
            fire,
            CatchUp::All { cap: 5 }
        ),
        vec![fire]
    );
    assert_eq!(
        missed_runs(&s, Some(fire), fire + Duration::hours(5), CatchUp::Latest),
        Vec::<DateTime<Utc>>::new()
    );
    // clock behind the last fire
    assert_eq!(
        missed_runs(&s, Some(fire), fire - Duration::days(3), CatchUp::Latest),
        Vec::<DateTime<Utc>>::new()
    );
    // a down spring-forward day yields its single run
    let missed = missed_runs(
        &s,
        Some(utc(2026, 3, 28, 1, 30, 0)),
        utc(2026, 3, 29, 12, 0, 0),
        CatchUp::All { cap: 9 },
    );
    assert_eq!(missed, vec![utc(2026, 3, 29, 1, 0, 0)]);
}

#[test]
fn long_outage_with_frequent_schedule_is_cheap_and_exact() {
    let s = sched("* * * * * *", "UTC");
    let last = Some(utc(2025, 1, 1, 0, 0, 0));
    let now = utc(2026, 3, 4, 12, 0, 0);
    assert_eq!(missed_runs(&s, last, now, CatchUp::Latest), vec![now]);
    let all = missed_runs(&s, last, now, CatchUp::All { cap: 3 });
    assert_eq!(
        all,
        vec![now - Duration::seconds(2), now - Duration::seconds(1), now]
    );
}

#[test]
fn parse_policies() {
    assert_eq!(CatchUp::parse("skip", 0), Ok(CatchUp::Skip));
    assert_eq!(CatchUp::parse("Latest", 7), Ok(CatchUp::Latest));
    assert_eq!(CatchUp::parse("all", 3), Ok(CatchUp::All { cap: 3 }));
    assert!(matches!(
        CatchUp::parse("all", 0),
        Err(ScheduleError::InvalidCatchUp { .. })
    ));
    let e = CatchUp::parse("sometimes", 1)
        .expect_err("an error")
        .to_string();
    assert!(e.contains("\"sometimes\""), "{e}");
    assert_eq!("all:5".parse::<CatchUp>(), Ok(CatchUp::All { cap: 5 }));
    assert_eq!("skip".parse::<CatchUp>(), Ok(CatchUp::Skip));
    assert!("latest:2".parse::<CatchUp>().is_err());
    assert!("all:x".parse::<CatchUp>().is_err());
}
