//! A place local Parquet files are committed to as Delta tables, one table per name
//! under its prefix: the published views (`[publish] delta`, src/publish/delta.rs) and
//! the lake's tables (`[lake] delta`, src/lake/mirror/). Owns what both do alike:
//! opening the store, the lease two hosts take turns by, naming a file by its content,
//! its `add` with the footer's statistics, and the upkeep after a commit.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use datafusion::arrow::datatypes::{FieldRef, Schema};
use object_store::ObjectStore;
use object_store::path::Path as StorePath;
use sha2::{Digest, Sha256};

use super::footer::{Footer, footer};
use super::{DataFile, DeltaTable};
use crate::error::{Error, Result};
use crate::lake::Lake;
use crate::lake::atomic;
use crate::lake::lease::Lease;
use crate::lake::lease_keeper::KeptLease;
use crate::lake::location::{Location, Opened};
use object_store::{ObjectStoreExt, PutMode, PutOptions, PutPayload};

/// How long a target's lease lasts without a renewal (renewed every third of it).
const LEASE: std::time::Duration = std::time::Duration::from_secs(120);

/// A checkpoint every this many versions, as Spark writes them.
const CHECKPOINT_EVERY: u64 = 10;

/// Uploads in flight at once.
pub const UPLOADS: usize = 8;

/// An opened target, holding its lease on an object store.
pub struct Target {
    /// Its store.
    pub store: Arc<dyn ObjectStore>,
    /// Its prefix in the store.
    pub root: StorePath,
    /// How messages name it.
    pub shown: String,
    location: Location,
    lease: Option<KeptLease>,
}

impl Target {
    /// Opens `location` (store settings from `env`; a directory is created).
    pub fn open(
        location: &Location,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Target> {
        if let Location::Local(dir) = location {
            atomic::create_dir_all_durable(dir)?;
        }
        let Opened {
            store, root, shown, ..
        } = location.open_store(env)?;
        Ok(Target {
            store,
            root,
            shown,
            location: location.clone(),
            lease: None,
        })
    }

    /// On an object store, takes the lease `_meta/locks/<name>.lease` under the prefix
    /// (kept until [`Target::release`]), so two hosts committing to one bucket take
    /// turns; held by another host, this fails saying by whom. Nothing on a directory:
    /// there the local lock of the caller serializes commits.
    pub async fn take_lease(&mut self, name: &str) -> Result<()> {
        let Location::Object(object) = &self.location else {
            return Ok(());
        };
        let holder = crate::lake::lock::this_process();
        let now = chrono::Utc::now();
        match Lease::try_acquire(self.store.clone(), object, name, &holder, LEASE, now).await? {
            Ok(lease) => {
                self.lease = Some(lease.keep(LEASE));
                Ok(())
            }
            Err(holder) => Err(Error::Table {
                table: self.shown.clone(),
                message: format!(
                    "another host is committing to it ({}); the next refresh tries again",
                    holder.text
                ),
            }),
        }
    }

    /// Claims the prefix for `lake`, or refuses when another lake claimed it: two lakes
    /// committing to one prefix would each remove the other's files at every sync. The
    /// claim is `_meta/lake` under the prefix, created only if absent; deleting it hands
    /// the prefix over to the next lake that syncs.
    pub async fn claim(&self, lake: &Lake) -> Result<()> {
        let object = self.root.clone().join("_meta").join("lake");
        let ours = lake.id()?;
        let shown = format!("{}/_meta/lake", self.shown);
        let store_error = |e| Error::Store {
            object: shown.clone(),
            source: e,
        };
        for _ in 0..2 {
            match self.store.get(&object).await {
                Ok(got) => {
                    let bytes = got.bytes().await.map_err(store_error)?;
                    let claim: serde_json::Value =
                        serde_json::from_slice(&bytes).unwrap_or_default();
                    if claim["lake"].as_str() == Some(ours.as_str()) {
                        return Ok(());
                    }
                    return Err(Error::Table {
                        table: self.shown.clone(),
                        message: format!(
                            "it holds the tables of another lake ({} on {}); each lake needs a prefix of its own, or delete {shown} to hand the prefix over to this lake ({})",
                            claim["root"].as_str().unwrap_or("?"),
                            claim["host"].as_str().unwrap_or("?"),
                            lake.root().display()
                        ),
                    });
                }
                Err(object_store::Error::NotFound { .. }) => {
                    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
                        .map(|h| h.trim().to_string())
                        .unwrap_or_default();
                    let claim = serde_json::json!({
                        "lake": ours,
                        "root": lake.root().display().to_string(),
                        "host": host,
                    });
                    let put = self
                        .store
                        .put_opts(
                            &object,
                            PutPayload::from(claim.to_string().into_bytes()),
                            PutOptions::from(PutMode::Create),
                        )
                        .await;
                    match put {
                        Ok(_) => return Ok(()),
                        // Claimed meanwhile: read whose claim it is.
                        Err(object_store::Error::AlreadyExists { .. }) => {}
                        Err(e) => return Err(store_error(e)),
                    }
                }
                Err(e) => return Err(store_error(e)),
            }
        }
        Err(Error::Internal(format!(
            "{shown} changed while it was read"
        )))
    }

    /// The table `name` under the prefix.
    pub fn table(&self, name: &str) -> DeltaTable {
        DeltaTable::new(
            self.store.clone(),
            self.root.clone().join(name),
            format!("{}/{name}", self.shown),
        )
    }

    /// Whether this host still holds the lease (always, on a directory): asked right
    /// before each commit, so a host whose lease expired commits nothing more.
    pub fn check(&self, table: &DeltaTable) -> Result<()> {
        match self.lease.as_ref().map(KeptLease::check) {
            Some(Err(lost)) => Err(Error::Table {
                table: table.shown().to_string(),
                message: format!("not committed: {lost}"),
            }),
            _ => Ok(()),
        }
    }

    /// Gives the lease back.
    pub async fn release(&mut self) -> Result<()> {
        match self.lease.take() {
            Some(lease) => lease.release().await,
            None => Ok(()),
        }
    }
}

/// After a commit: a checkpoint every [`CHECKPOINT_EVERY`] versions, and clean-up of
/// what no version live since `keep_since` needs.
pub async fn maintain(
    table: &DeltaTable,
    version: u64,
    keep_since: chrono::DateTime<chrono::Utc>,
) -> Result<()> {
    if version > 0 && version.is_multiple_of(CHECKPOINT_EVERY) {
        table.checkpoint(version).await?;
    }
    table.clean_up(keep_since).await?;
    Ok(())
}

/// A local file's name in a table, by its content: `<stem>-<sha256[..16]>.parquet`,
/// `stem` being its path in the table without the extension.
pub fn content_name(stem: &str, bytes: &[u8]) -> String {
    format!(
        "{stem}-{}.parquet",
        &hex::encode(Sha256::digest(bytes))[..16]
    )
}

/// The `add` of a file with `bytes` (read from `file`) named `name` in its table, and
/// its columns, from its footer.
pub fn data_file(
    name: String,
    bytes: &Bytes,
    file: &Path,
    partition: BTreeMap<String, Option<String>>,
) -> Result<(DataFile, Schema)> {
    let Footer {
        schema,
        rows,
        bounds,
    } = footer(bytes.clone(), file)?;
    let add = DataFile {
        path: name,
        partition,
        size: bytes.len() as u64,
        rows,
        deletion_vector: None,
        bounds,
    };
    Ok((add, schema))
}

/// Columns as a version states them: name, type, nullability, in order.
pub fn columns<'a>(fields: impl IntoIterator<Item = &'a FieldRef>) -> String {
    let columns: Vec<String> = fields
        .into_iter()
        .map(|f| {
            let null = if f.is_nullable() { "" } else { " not null" };
            format!("{} {}{null}", f.name(), f.data_type())
        })
        .collect();
    format!("({})", columns.join(", "))
}
