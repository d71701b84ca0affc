//! The cross-host side of a pipeline's lock. A pipeline's local lock (`flock` on the
//! lake's directory) keeps two runs on one host apart; hosts sharing a lake's object
//! store (two `serve` replicas restored from one `[lake] delta` prefix, a node and the
//! one replacing it) need more. With `[lake] delta` on object storage a run also takes the
//! lease `<prefix>/_meta/locks/pipeline-<name>.lease` (src/lake/lease.rs), keeps it
//! renewed for the whole run (src/lake/lease_keeper.rs) and checks it right before its
//! files are put in place; a trigger finding it held by another host is skipped, as one
//! finding the local lock held is.
//!
//! On a lease lost mid-run (another host took it over after this one stopped renewing
//! for the lease time, or the store did not answer before it expired), the run fails
//! before putting anything in place: the last good data stays, and the next trigger runs
//! again. A host killed mid-run holds its pipelines for other hosts until the lease
//! expires (`[lake] pipeline_lease_seconds`, default 120; their triggers before then
//! are skipped); started again on the same machine it takes them back at once, its
//! old process having ended (src/lake/lease.rs).

use std::sync::Arc;
use std::time::Duration;

use object_store::ObjectStore;

use crate::config::Settings;
use crate::error::Result;
use crate::lake::lease::Lease;
use crate::lake::lease_keeper::KeptLease;
use crate::lake::location::{Location, ObjectLocation};
use crate::lake::lock::Holder;

/// Where a lake's runs take their leases: the object store of its `[lake] delta`.
pub struct RunLeases {
    store: Arc<dyn ObjectStore>,
    location: ObjectLocation,
    ttl: Duration,
}

impl RunLeases {
    /// The leases of `settings`' lake: `None` unless its `[lake] delta` is on object
    /// storage (a directory target is one host's: the local lock is enough). The store's
    /// settings come from `env`.
    pub fn open(
        settings: &Settings,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Option<RunLeases>> {
        let Some(target @ Location::Object(location)) = &settings.lake_delta else {
            return Ok(None);
        };
        Ok(Some(RunLeases {
            store: target.open_store(env)?.store,
            location: location.clone(),
            ttl: settings.pipeline_lease,
        }))
    }

    /// Takes `pipeline`'s lease and keeps it renewed until released; `Ok(Err)` names the
    /// host holding it.
    pub async fn take(&self, pipeline: &str) -> Result<std::result::Result<KeptLease, Holder>> {
        let holder = crate::lake::lock::this_process();
        let taken = Lease::try_acquire(
            self.store.clone(),
            &self.location,
            &format!("pipeline-{pipeline}"),
            &holder,
            self.ttl,
            chrono::Utc::now(),
        )
        .await?;
        Ok(taken.map(|lease| lease.keep(self.ttl)))
    }
}
