//! Tests of [`super::Lease`] on the in-memory store, which carries out conditional PUTs
//! as S3 and Azure do; tests/it/object_store.rs runs the same protocol against an S3 API.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use object_store::memory::InMemory;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};

use super::*;
use crate::lake::location::Location;

const TTL: Duration = Duration::from_secs(60);

fn location() -> ObjectLocation {
    match Location::parse("s3://lake/kommun") {
        Ok(Location::Object(o)) => o,
        other => panic!("{other:?}"),
    }
}

fn at(seconds: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_790_000_000 + seconds, 0)
        .single()
        .expect("time")
}

/// What is logged at warn and above on this thread while the guard lives.
fn warnings() -> (
    Arc<std::sync::Mutex<Vec<u8>>>,
    tracing::subscriber::DefaultGuard,
) {
    struct Capture(Arc<std::sync::Mutex<Vec<u8>>>);
    impl std::io::Write for Capture {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            if let Ok(mut b) = self.0.lock() {
                b.extend_from_slice(buf);
            }
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let captured = Arc::new(std::sync::Mutex::new(Vec::new()));
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::WARN)
        .with_writer(move || Capture(writer.clone()))
        .finish();
    (captured, tracing::subscriber::set_default(subscriber))
}

fn logged(captured: &std::sync::Mutex<Vec<u8>>) -> String {
    String::from_utf8_lossy(&captured.lock().expect("log")).into_owned()
}

async fn take(
    store: &Arc<dyn ObjectStore>,
    who: &str,
    now: DateTime<Utc>,
) -> std::result::Result<Lease, Holder> {
    Lease::try_acquire(store.clone(), &location(), "fs", who, TTL, now)
        .await
        .expect("store")
}

#[tokio::test]
async fn a_held_lease_refuses_others_until_released_and_names_its_holder() {
    let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    let a = take(&store, "host a", at(0)).await.expect("free");
    let busy = take(&store, "host b", at(30)).await.expect_err("held");
    assert!(
        busy.text.starts_with("host a (lease until "),
        "{}",
        busy.text
    );
    // Another lease of the same lake is independent.
    Lease::try_acquire(store.clone(), &location(), "kolada", "host b", TTL, at(30))
        .await
        .expect("store")
        .expect("another name is free");
    a.release().await.expect("release");
    let (captured, _guard) = warnings();
    let b = take(&store, "host b", at(31))
        .await
        .expect("free once released");
    // A released lease is taken without the warning an expired one gets.
    assert_eq!(logged(&captured), "");
    assert_eq!(b.expires(), at(91));
    let body = store
        .get(&location().path("_meta/locks/fs.lease"))
        .await
        .expect("object")
        .bytes()
        .await
        .expect("bytes");
    assert!(String::from_utf8_lossy(&body).contains("host b"));
}

#[tokio::test]
async fn an_expired_lease_is_taken_over_and_its_old_holder_learns_at_renewal() {
    let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    let mut a = take(&store, "host a", at(0)).await.expect("free");
    // Renewed in time, the lease holds past its first expiry.
    a.renew(at(50)).await.expect("store").expect("still held");
    assert_eq!(a.expires(), at(110));
    take(&store, "host b", at(100))
        .await
        .expect_err("renewed lease still held");
    // Host a stops renewing (hung, cut off): after expiry host b takes over, warning.
    let (captured, guard) = warnings();
    let b = take(&store, "host b", at(111))
        .await
        .expect("expired lease taken over");
    let said = logged(&captured);
    assert!(
        said.contains("taking over an expired lease") && said.contains("host a"),
        "{said}"
    );
    drop(guard);
    let lost = a.renew(at(112)).await.expect("store").expect_err("lost");
    assert!(lost.text.starts_with("host b "), "{}", lost.text);
    // The loser's release leaves the winner's lease alone.
    a.release().await.expect("release");
    take(&store, "host c", at(113))
        .await
        .expect_err("host b still holds it");
    drop(b);
}

#[tokio::test]
async fn of_many_hosts_racing_for_a_free_or_an_expired_lease_exactly_one_wins() {
    let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    for (round, now) in [(0, at(0)), (1, at(1000))] {
        // Round 0: nobody holds it. Round 1: round 0's winner has expired.
        let racers = (0..16).map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                take(&store, &format!("host {round}-{i}"), now)
                    .await
                    .is_ok()
            })
        });
        let mut winners = 0;
        for racer in racers {
            winners += usize::from(racer.await.expect("join"));
        }
        assert_eq!(winners, 1, "round {round}");
    }
}

#[tokio::test]
async fn an_unreadable_lease_record_does_not_block_the_lake_for_good() {
    let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    store
        .put(
            &location().path("_meta/locks/fs.lease"),
            PutPayload::from_static(b"\xff not json"),
        )
        .await
        .expect("put");
    take(&store, "host a", at(0))
        .await
        .expect("damaged record taken over");
}

/// A lease whose holder was a process of this machine that has ended (the process
/// before a restart: this pid with another start, or a pid no process has) is taken
/// over before it expires, with a warning; one of another machine, of this machine
/// before its last boot, of a live process, or of this very process waits for expiry.
#[tokio::test]
async fn a_lease_left_by_an_ended_process_of_this_host_is_taken_over_at_once() {
    let Some(me) = Process::this() else {
        return; // No boot id here (not Linux): leases only expire.
    };
    let record = |process: Process| {
        serde_json::to_vec(&Record {
            holder: "an earlier process".into(),
            expires: at(3600),
            process: Some(process),
        })
        .expect("json")
    };
    let restarted = Process {
        started: "2026-01-01T00:00:00.000000000Z".into(),
        ..me.clone()
    };
    let gone = Process {
        pid: 4_194_305, // above Linux's highest pid
        ..me.clone()
    };
    let live = Process {
        pid: 1,
        ..me.clone()
    };
    let elsewhere = Process {
        host: format!("{}-other", me.host),
        ..gone.clone()
    };
    let rebooted = Process {
        boot: "00000000-0000-0000-0000-000000000000".into(),
        ..gone.clone()
    };
    for (holder, ended) in [
        (restarted, true),
        (gone, true),
        (live, false),
        (elsewhere, false),
        (rebooted, false),
        (me, false),
    ] {
        let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
        store
            .put(
                &location().path("_meta/locks/fs.lease"),
                PutPayload::from(record(holder.clone())),
            )
            .await
            .expect("put");
        let (captured, _guard) = warnings();
        let taken = take(&store, "host a", at(0)).await;
        assert_eq!(taken.is_ok(), ended, "{holder:?}");
        if ended {
            assert!(
                logged(&captured).contains("a process of this host, has ended"),
                "{}",
                logged(&captured)
            );
        }
    }
}
