//! Leases: the locks of a lake on object storage, where no `flock` exists and nothing
//! notices that a holder died. A lease is a small JSON object
//! `<prefix>/_meta/locks/<name>.lease` naming its holder and when it expires, and every
//! change to it is a conditional PUT, which S3 (and S3-compatible stores that honour
//! `If-None-Match` / `If-Match`) and Azure Blob Storage carry out atomically:
//!
//! - **Taking a free lease** creates the object only if it does not exist
//!   (`If-None-Match: *`). Of any number of hosts racing, the store lets exactly one win.
//! - **A lease past its expiry** (its holder died, hung or lost the network) is taken
//!   over by replacing it only if it is still the version read (`If-Match: <etag>`): of
//!   two hosts taking over at once, again one wins.
//! - **The holder renews** well before expiry, conditional on its own version. A refused
//!   renewal means another host has taken the lease over: the holder has lost it and must
//!   stop before it commits anything (the commit itself is conditional too, so a holder
//!   that misses this still cannot overwrite the newer holder's commit).
//! - **Releasing** writes an already-expired record, conditional on the holder's own
//!   version, so a holder that had lost its lease never frees someone else's.
//!
//! - **A holder that ended on this machine** (the process before a restart, its record
//!   naming this host, boot and a pid that is gone or is this one with another start)
//!   is taken over at once, as an expired one: a restarted host does not wait out its
//!   own leases.
//!
//! Expiry compares the holder's clock with the contender's: hosts sharing a lake need
//! clocks synchronized (NTP) to within a small part of the lease time.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use object_store::path::Path as StorePath;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload, UpdateVersion};
use serde::{Deserialize, Serialize};

use super::location::ObjectLocation;
use super::lock::Holder;
use crate::error::{Error, Result};

/// The lease object's content.
#[derive(Debug, Serialize, Deserialize)]
struct Record {
    holder: String,
    expires: DateTime<Utc>,
    /// The process holding it, for a later process on the same machine to tell it ended
    /// (absent in records of other platforms and of earlier versions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    process: Option<Process>,
}

/// A process as a lease record names it: its machine (host name and boot id), its pid,
/// and when this process first took a lease (a restarted container reuses pids).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Process {
    host: String,
    boot: String,
    pid: u32,
    started: String,
}

impl Process {
    /// This process; `None` where the boot id cannot be read (not Linux).
    fn this() -> Option<Process> {
        static STARTED: std::sync::OnceLock<String> = std::sync::OnceLock::new();
        let boot = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").ok()?;
        Some(Process {
            host: super::lock::host_name(),
            boot: boot.trim().to_string(),
            pid: std::process::id(),
            started: STARTED
                .get_or_init(|| Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true))
                .clone(),
        })
    }

    /// Whether this process has ended, as `me` (this process, whose record is taken once
    /// per lease) sees it: a host restarted after a crash (a container restarted in its
    /// pod) takes its own leases over at once instead of waiting for them to expire.
    /// Only on the same machine since the same boot; there, this pid with another start
    /// (the process before a restart), or a pid no process has. A live process under a
    /// reused pid keeps the lease until it expires.
    fn has_ended(&self, me: &Process) -> bool {
        if self.host != me.host || self.boot != me.boot {
            return false;
        }
        if self.pid == me.pid {
            return self.started != me.started;
        }
        !std::path::Path::new(&format!("/proc/{}", self.pid)).exists()
    }
}

/// A held lease. Dropping it without [`Lease::release`] leaves it to expire.
#[derive(Debug)]
pub struct Lease {
    store: Arc<dyn ObjectStore>,
    path: StorePath,
    shown: String,
    holder: String,
    process: Option<Process>,
    ttl: chrono::Duration,
    version: UpdateVersion,
    expires: DateTime<Utc>,
}

/// How often a contended acquisition reads and tries again before reporting the lease
/// busy: each round ends only when another host changed the object in between.
const ROUNDS: usize = 4;

impl Lease {
    /// Takes the lease `name` of the lake at `location` for `ttl` if it is free or
    /// expired at `now`; otherwise `Ok(Err)` with its holder and expiry.
    pub async fn try_acquire(
        store: Arc<dyn ObjectStore>,
        location: &ObjectLocation,
        name: &str,
        holder: &str,
        ttl: std::time::Duration,
        now: DateTime<Utc>,
    ) -> Result<std::result::Result<Lease, Holder>> {
        let relative = format!("_meta/locks/{name}.lease");
        let mut lease = Lease {
            path: location.path(&relative),
            shown: format!("{location}/{relative}"),
            store,
            holder: holder.to_string(),
            process: Process::this(),
            ttl: chrono::Duration::from_std(ttl)
                .map_err(|_| Error::Internal(format!("lease time {ttl:?} out of range")))?,
            version: UpdateVersion {
                e_tag: None,
                version: None,
            },
            expires: now,
        };
        let mut seen = None;
        for _ in 0..ROUNDS {
            match lease.put(PutMode::Create, now).await? {
                Ok(()) => return Ok(Ok(lease)),
                Err(object_store::Error::AlreadyExists { .. }) => {}
                Err(e) => return Err(lease.error(e)),
            }
            let Some((record, version)) = lease.read().await? else {
                continue; // Removed since: create again.
            };
            let ended = match (&record.process, &lease.process) {
                (Some(holder), Some(me)) => holder.has_ended(me),
                _ => false,
            };
            if record.expires > now && !ended {
                return Ok(Err(shown_holder(&record)));
            }
            seen = Some(shown_holder(&record));
            match lease.put(PutMode::Update(version), now).await? {
                // A released lease (expired at the epoch) is the common case, every
                // night: only taking one over from a holder that stopped renewing is
                // worth a warning.
                Ok(()) if record.expires == DateTime::<Utc>::UNIX_EPOCH => {
                    tracing::debug!(lease = %lease.shown, previous = %record.holder, "taking a released lease");
                    return Ok(Ok(lease));
                }
                Ok(()) if record.expires > now => {
                    tracing::warn!(lease = %lease.shown, previous = %record.holder, "taking over a lease whose holder, a process of this host, has ended");
                    return Ok(Ok(lease));
                }
                Ok(()) => {
                    tracing::warn!(lease = %lease.shown, previous = %record.holder, "taking over an expired lease");
                    return Ok(Ok(lease));
                }
                // Another host changed it between our read and our write: read again.
                Err(object_store::Error::Precondition { .. }) => {}
                Err(e) => return Err(lease.error(e)),
            }
        }
        Ok(Err(seen.unwrap_or(Holder {
            text: "another host (the lease changed on every attempt)".into(),
        })))
    }

    /// Extends the lease by its time from `now`. `Ok(Err)` with the new holder when
    /// another host has taken it over: the caller has lost it and must stop.
    pub async fn renew(&mut self, now: DateTime<Utc>) -> Result<std::result::Result<(), Holder>> {
        match self.put(PutMode::Update(self.version.clone()), now).await? {
            Ok(()) => Ok(Ok(())),
            Err(
                object_store::Error::Precondition { .. } | object_store::Error::NotFound { .. },
            ) => {
                let holder = self.read().await?.map_or(
                    Holder {
                        text: "nobody (the lease was removed)".into(),
                    },
                    |(record, _)| shown_holder(&record),
                );
                Ok(Err(holder))
            }
            Err(e) => Err(self.error(e)),
        }
    }

    /// When the lease runs out unless renewed.
    pub fn expires(&self) -> DateTime<Utc> {
        self.expires
    }

    /// The lease object as messages name it (`s3://bucket/prefix/_meta/locks/<name>.lease`).
    pub fn shown(&self) -> &str {
        &self.shown
    }

    /// Gives the lease up: the next contender takes it at once. A lease already lost to
    /// another host is left to that host.
    pub async fn release(mut self) -> Result<()> {
        self.ttl = chrono::Duration::zero();
        let released_at = DateTime::<Utc>::UNIX_EPOCH;
        match self
            .put(PutMode::Update(self.version.clone()), released_at)
            .await?
        {
            Ok(()) => Ok(()),
            Err(
                object_store::Error::Precondition { .. } | object_store::Error::NotFound { .. },
            ) => {
                tracing::warn!(lease = %self.shown, "a lease released after another host had taken it over");
                Ok(())
            }
            Err(e) => Err(self.error(e)),
        }
    }

    /// Writes this holder's record, expiring `ttl` after `now`, under `mode`. The outer
    /// `Err` is a body that cannot be encoded; the inner one is the store's answer.
    async fn put(
        &mut self,
        mode: PutMode,
        now: DateTime<Utc>,
    ) -> Result<std::result::Result<(), object_store::Error>> {
        let expires = now + self.ttl;
        let body = serde_json::to_vec(&Record {
            holder: self.holder.clone(),
            expires,
            process: self.process.clone(),
        })
        .map_err(|e| Error::Internal(format!("lease record: {e}")))?;
        let options = PutOptions {
            mode,
            ..PutOptions::default()
        };
        Ok(
            match self
                .store
                .put_opts(&self.path, PutPayload::from(body), options)
                .await
            {
                Ok(put) => {
                    self.version = UpdateVersion {
                        e_tag: put.e_tag,
                        version: put.version,
                    };
                    self.expires = expires;
                    Ok(())
                }
                Err(e) => Err(e),
            },
        )
    }

    /// The lease's current record and version; `None` when there is none.
    async fn read(&self) -> Result<Option<(Record, UpdateVersion)>> {
        let got = match self.store.get(&self.path).await {
            Ok(got) => got,
            Err(object_store::Error::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(self.error(e)),
        };
        let version = UpdateVersion {
            e_tag: got.meta.e_tag.clone(),
            version: got.meta.version.clone(),
        };
        let bytes = got.bytes().await.map_err(|e| self.error(e))?;
        // A record this version cannot read (damaged, or written by hand) is treated as
        // expired: a lease nobody can prove is held must not block the lake for good.
        let record = serde_json::from_slice(&bytes).unwrap_or_else(|_| Record {
            holder: "an unreadable lease record".into(),
            expires: DateTime::<Utc>::UNIX_EPOCH,
            process: None,
        });
        Ok(Some((record, version)))
    }

    fn error(&self, source: object_store::Error) -> Error {
        Error::Store {
            object: self.shown.clone(),
            source,
        }
    }
}

fn shown_holder(record: &Record) -> Holder {
    Holder {
        text: format!(
            "{} (lease until {})",
            record.holder,
            record
                .expires
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        ),
    }
}

#[cfg(test)]
#[path = "lease_tests.rs"]
mod tests;
