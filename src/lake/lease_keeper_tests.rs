//! Tests of [`super::KeptLease`] on the in-memory store, with real time and a short
//! lease; tests/it/object_storage.rs loses one to a store that went away.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use object_store::memory::InMemory;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};

use crate::lake::lease::Lease;
use crate::lake::location::{Location, ObjectLocation};

const TTL: Duration = Duration::from_millis(300);

fn location() -> ObjectLocation {
    match Location::parse("s3://lake/kommun") {
        Ok(Location::Object(o)) => o,
        other => panic!("{other:?}"),
    }
}

async fn take(store: &Arc<dyn ObjectStore>, who: &str) -> Option<Lease> {
    Lease::try_acquire(store.clone(), &location(), "fs", who, TTL, Utc::now())
        .await
        .expect("store")
        .ok()
}

#[tokio::test]
async fn a_kept_lease_outlives_its_lease_time_and_is_free_at_once_after_release() {
    let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    let kept = take(&store, "host a").await.expect("free").keep(TTL);
    // Four lease times: without renewal, host b would have taken it after one.
    for _ in 0..8 {
        tokio::time::sleep(TTL / 2).await;
        assert!(take(&store, "host b").await.is_none(), "still held by a");
        assert_eq!(kept.check(), Ok(()));
    }
    kept.release().await.expect("release");
    assert!(take(&store, "host b").await.is_some(), "free after release");
}

#[tokio::test]
async fn a_lease_taken_over_is_reported_lost_within_a_renewal() {
    let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    let mut kept = take(&store, "host a").await.expect("free").keep(TTL);
    // Another host overwrote the lease (as a takeover after a long pause of a would).
    let path = location().path("_meta/locks/fs.lease");
    let record = serde_json::json!({"holder": "host b", "expires": Utc::now() + chrono::Duration::seconds(60)});
    store
        .put(&path, PutPayload::from(record.to_string().into_bytes()))
        .await
        .expect("put");
    let reason = tokio::time::timeout(TTL, kept.lost())
        .await
        .expect("lost within one renewal");
    assert!(reason.contains("host b"), "{reason}");
    let e = kept.check().expect_err("lost");
    assert!(e.contains("lease was lost") && e.contains("host b"), "{e}");
    // Releasing a lost lease leaves the new holder's alone.
    kept.release().await.expect("release");
    assert!(take(&store, "host c").await.is_none(), "b still holds it");
}
