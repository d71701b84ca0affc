//! The runner on top of tokio-cron-scheduler.

use std::sync::{Arc, Mutex};
use std::time::Duration as StdDuration;

use chrono::{DateTime, Utc};
use futures::FutureExt;

use super::{sched, utc};
use crate::schedule::{Clock, ManualClock, ScheduleError, Scheduler, SystemClock, Trigger};

type Seen = Arc<Mutex<Vec<(String, DateTime<Utc>)>>>;

/// A trigger recording (name, scheduled time) and the real time of each call.
fn recording_trigger() -> (Trigger, Seen, Arc<Mutex<Vec<DateTime<Utc>>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let called = Arc::new(Mutex::new(Vec::new()));
    let (sink, calls) = (Arc::clone(&seen), Arc::clone(&called));
    let trigger: Trigger = Arc::new(move |name, at| {
        calls.lock().expect("a value").push(Utc::now());
        let sink = Arc::clone(&sink);
        async move { sink.lock().expect("a value").push((name, at)) }.boxed()
    });
    (trigger, seen, called)
}

/// The one real-time test. Two schedulers run side by side for ~3 s:
/// - on the system clock, an every-second schedule fires repeatedly with
///   distinct, increasing scheduled times, and nothing fires after shutdown;
/// - on a manual clock that jumps an hour ahead after start, every slot is
///   still fired exactly once, in order (re-arming uses the scheduled time,
///   not the clock's now, so a late wake-up neither skips nor doubles a slot).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_second_fires_repeatedly_and_stops_on_shutdown() {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let mut s = Scheduler::new(Arc::clone(&clock)).await.expect("a value");
    let (trigger, seen, called) = recording_trigger();
    s.add(
        "tick".into(),
        sched("* * * * * *", "Europe/Stockholm"),
        trigger,
    )
    .await
    .expect("a value");

    let t0 = utc(2026, 1, 10, 12, 0, 0);
    let manual = ManualClock::new(t0);
    let mut m = Scheduler::new(Arc::new(manual.clone()))
        .await
        .expect("a value");
    let (m_trigger, m_seen, _) = recording_trigger();
    m.add(
        "late".into(),
        sched("* * * * * *", "Europe/Stockholm"),
        m_trigger,
    )
    .await
    .expect("a value");

    let started = clock.now();
    s.start().await.expect("a value");
    m.start().await.expect("a value");
    assert!(s.next_fire("tick").is_some_and(|t| t > started));
    assert_eq!(m.next_fire("late"), Some(t0 + chrono::Duration::seconds(1)));
    manual.advance(chrono::Duration::hours(1));
    // Two every-second fires land within ~3.5 s (each up to ~1.5 s late by design); 5 s
    // leaves room for a loaded machine.
    tokio::time::sleep(StdDuration::from_millis(5000)).await;
    s.shutdown().await.expect("a value");
    m.shutdown().await.expect("a value");

    let fired = seen.lock().expect("a value").clone();
    assert!(fired.len() >= 2, "fired {fired:?}");
    assert!(fired.iter().all(|(n, _)| n == "tick"));
    for w in fired.windows(2) {
        assert!(w[0].1 < w[1].1, "scheduled times not increasing: {fired:?}");
    }
    assert!(fired[0].1 > started);
    // never early: each trigger call happens at or after its scheduled time
    let called = called.lock().expect("a value").clone();
    for ((_, at), real) in fired.iter().zip(&called) {
        assert!(real >= at, "called at {real} for {at}");
    }
    assert_eq!(s.next_fire("tick"), None);

    let m_fired = m_seen.lock().expect("a value").clone();
    assert!(m_fired.len() >= 2, "fired {m_fired:?}");
    for (i, (name, at)) in m_fired.iter().enumerate() {
        assert_eq!(name, "late");
        assert_eq!(
            *at,
            t0 + chrono::Duration::seconds(i as i64 + 1),
            "{m_fired:?}"
        );
    }

    tokio::time::sleep(StdDuration::from_millis(1600)).await;
    assert_eq!(
        seen.lock().expect("a value").len(),
        fired.len(),
        "fired after shutdown"
    );
    assert_eq!(
        m_seen.lock().expect("a value").len(),
        m_fired.len(),
        "fired after shutdown"
    );
    assert!(matches!(s.start().await, Err(ScheduleError::Runner(_))));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn next_fire_follows_the_clock_and_duplicates_are_rejected() {
    let clock = ManualClock::new(utc(2026, 3, 28, 12, 0, 0));
    let mut s = Scheduler::new(Arc::new(clock.clone()))
        .await
        .expect("a value");
    let (trigger, seen, _) = recording_trigger();
    let daily = sched("30 2 * * *", "Europe/Stockholm");
    s.add("nightly".into(), daily.clone(), Arc::clone(&trigger))
        .await
        .expect("a value");
    let dup = s.add("nightly".into(), daily, Arc::clone(&trigger)).await;
    assert!(matches!(dup, Err(ScheduleError::DuplicatePipeline { name }) if name == "nightly"));
    assert_eq!(s.next_fire("nightly"), None, "not armed before start");
    s.start().await.expect("a value");
    // spring-forward night: armed for 03:00 CEST
    assert_eq!(s.next_fire("nightly"), Some(utc(2026, 3, 29, 1, 0, 0)));
    // added to a running scheduler: armed from the clock's now
    clock.set(utc(2026, 10, 25, 1, 15, 0));
    s.add(
        "late".into(),
        sched("30 2 * * *", "Europe/Stockholm"),
        trigger,
    )
    .await
    .expect("a value");
    assert_eq!(s.next_fire("late"), Some(utc(2026, 10, 26, 1, 30, 0)));
    assert_eq!(s.next_fire("unknown"), None);
    s.shutdown().await.expect("a value");
    assert!(seen.lock().expect("a value").is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manual_clock_advance() {
    let clock = ManualClock::new(utc(2026, 1, 1, 0, 0, 0));
    clock.advance(chrono::Duration::hours(2));
    assert_eq!(clock.now(), utc(2026, 1, 1, 2, 0, 0));
    clock.set(utc(2025, 1, 1, 0, 0, 0));
    assert_eq!(clock.now(), utc(2025, 1, 1, 0, 0, 0));
}
