//! A lease kept while the work holding it runs: renewed in a task of its own every third
//! of the lease time, and reported lost as soon as it is, so the work can stop before it
//! commits. What happens when a lease expires mid-run:
//!
//! - **Another host took it over** (this host hung, or its renewals did not get through
//!   for longer than the lease time): the next renewal is refused and the lease is lost.
//! - **The store cannot be reached:** renewals are retried; when less than a sixth of the
//!   lease time is left without one, the lease counts as lost, before any other host may
//!   take it over (the margin covers clock differences within it).
//!
//! A run asks [`KeptLease::check`] right before its commit and does not commit when the
//! lease is lost: its files stay uncommitted, invisible to readers, and are removed by a
//! later clean-up. Even a commit that races the loss cannot corrupt the table: a Delta
//! commit is conditional, and one that changed the files another writer changed is
//! refused whole (`delta`).

use std::time::Duration;

use chrono::Utc;
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;

use super::lease::Lease;
use crate::error::Result;

/// A lease renewed in the background until [`KeptLease::release`] (or dropped).
#[derive(Debug)]
pub struct KeptLease {
    /// The lease object, as messages name it.
    shown: String,
    /// Why the lease was lost; `None` while it is held.
    lost: watch::Receiver<Option<String>>,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<Option<Lease>>,
}

impl Lease {
    /// Keeps the lease (`ttl` is its lease time) renewed until released.
    pub fn keep(self, ttl: Duration) -> KeptLease {
        let shown = self.shown().to_string();
        let (report, lost) = watch::channel(None);
        let (stop, mut stopped) = oneshot::channel();
        let task = tokio::spawn(async move {
            let mut lease = self;
            let every = ttl / 3;
            let retry = (ttl / 12).max(Duration::from_millis(10));
            let margin = chrono::Duration::from_std(ttl / 6).unwrap_or_default();
            let mut wait = every;
            loop {
                tokio::select! {
                    _ = &mut stopped => return Some(lease),
                    () = tokio::time::sleep(wait) => {}
                }
                // A store that does not answer is retried by its client for minutes:
                // the renewal gets only the time left before the lease counts as lost.
                let deadline = lease.expires() - margin;
                let left = (deadline - Utc::now()).to_std().unwrap_or_default();
                let why = match tokio::time::timeout(left, lease.renew(Utc::now())).await {
                    Ok(Ok(Ok(()))) => {
                        wait = every;
                        continue;
                    }
                    Ok(Ok(Err(holder))) => {
                        let _ = report.send(Some(format!("taken over by {}", holder.text)));
                        return None;
                    }
                    Ok(Err(e)) => e.to_string(),
                    Err(_) => "the store did not answer".to_string(),
                };
                if Utc::now() >= deadline {
                    let _ = report.send(Some(format!(
                        "not renewed before it expired at {}: {why}",
                        lease.expires()
                    )));
                    return None;
                }
                tracing::warn!(error = %why, "lease renewal failed; retrying");
                wait = retry;
            }
        });
        KeptLease {
            shown,
            lost,
            stop: Some(stop),
            task,
        }
    }
}

impl Drop for KeptLease {
    /// Dropped without a release (the work failed or was cancelled): renewing stops and
    /// the lease expires in its time.
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl KeptLease {
    /// `Err` with the reason once the lease is lost: the work must not commit.
    pub fn check(&self) -> std::result::Result<(), String> {
        match &*self.lost.borrow() {
            None => Ok(()),
            Some(reason) => Err(format!("the lease was lost: {reason}")),
        }
    }

    /// The lease object, as messages name it.
    pub fn shown(&self) -> &str {
        &self.shown
    }

    /// Resolves when the lease is lost (never, while it is held).
    pub async fn lost(&mut self) -> String {
        match self.lost.wait_for(Option::is_some).await {
            Ok(reason) => reason.clone().unwrap_or_default(),
            // The keeper ended without losing it: only after a release.
            Err(_) => std::future::pending().await,
        }
    }

    /// Stops renewing and releases the lease if it is still held.
    pub async fn release(mut self) -> Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match (&mut self.task).await {
            Ok(Some(lease)) => lease.release().await,
            Ok(None) => Ok(()),
            Err(e) => Err(crate::error::Error::Internal(format!("lease keeper: {e}"))),
        }
    }
}

#[cfg(test)]
#[path = "lease_keeper_tests.rs"]
mod tests;
