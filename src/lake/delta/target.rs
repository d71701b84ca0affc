//! A place local Parquet files are committed to as Delta tables, one table per name
//! under its prefix: the published views (`[publish] delta`, src/publish/delta.rs) and
//! the lake's tables (`[lake] delta`, src/lake/mirror/). Owns what both do alike:
//! opening the store, the lease two hosts take turns by, naming a file by its content,
//! its `add` with the footer's statistics, and the upkeep after a commit.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use datafusion::arrow::datatypes::{FieldRef, Schema};
use object_store::ObjectStore;
use object_store::path::Path as StorePath;
use sha2::{Digest, Sha256};

use super::footer::{Footer, footer};
use super::{AsOf, Change, DataFile, DeltaTable};
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
        let (object, shown) = self.claim_object();
        let ours = lake.id()?;
        let store_error = |e| Error::Store {
            object: shown.clone(),
            source: e,
        };
        for _ in 0..2 {
            match self.claim_read().await? {
                Some(claim) => {
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
                None => {
                    let claim = serde_json::json!({
                        "lake": ours,
                        "root": lake.root().display().to_string(),
                        "host": crate::lake::lock::host_name(),
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
            }
        }
        Err(Error::Internal(format!(
            "{shown} changed while it was read"
        )))
    }

    /// The identity of the lake that claimed the prefix ([`Target::claim`]); `None`
    /// when none did.
    pub async fn claimed_by(&self) -> Result<Option<String>> {
        Ok(self
            .claim_read()
            .await?
            .and_then(|claim| claim["lake"].as_str().map(str::to_string)))
    }

    /// The claim object, and how messages name it.
    fn claim_object(&self) -> (StorePath, String) {
        (
            self.root.clone().join("_meta").join("lake"),
            format!("{}/_meta/lake", self.shown),
        )
    }

    /// The claim as JSON (null when unreadable); `None` when there is none.
    async fn claim_read(&self) -> Result<Option<serde_json::Value>> {
        let (object, shown) = self.claim_object();
        let store_error = |e| Error::Store {
            object: shown.clone(),
            source: e,
        };
        match self.store.get(&object).await {
            Ok(got) => {
                let bytes = got.bytes().await.map_err(store_error)?;
                Ok(Some(serde_json::from_slice(&bytes).unwrap_or_default()))
            }
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(store_error(e)),
        }
    }

    /// The object at `key` (a `/`-separated path) under the prefix.
    pub fn object(&self, key: &str) -> StorePath {
        key.split('/')
            .fold(self.root.clone(), |path, part| path.join(part))
    }

    /// An error of the store about the object at `key`, named as messages name it.
    pub fn error(&self, key: &str, source: object_store::Error) -> Error {
        Error::Store {
            object: format!("{}/{key}", self.shown),
            source,
        }
    }

    /// The bytes of the object at `key` under the prefix.
    pub async fn read(&self, key: &str) -> Result<Bytes> {
        let got = match self.store.get(&self.object(key)).await {
            Ok(got) => got.bytes().await,
            Err(e) => Err(e),
        };
        got.map_err(|e| self.error(key, e))
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
    fn check(&self, table: &DeltaTable) -> Result<()> {
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

/// A table's version as a writer plans from it: its files and its columns.
pub struct Planned {
    /// The version read.
    pub version: u64,
    /// Its files' paths.
    pub paths: BTreeSet<String>,
    /// Its data columns.
    pub columns: Schema,
    /// Its partition columns' names.
    pub partitions: Vec<String>,
}

/// `version` of `table` (as the caller listed it, so the log is listed once) to plan a
/// commit from; `None` when the table has no version yet.
pub async fn planned(table: &DeltaTable, version: Option<u64>) -> Result<Option<Planned>> {
    let Some(v) = version else {
        return Ok(None);
    };
    let snapshot = table.snapshot(AsOf::Version(v)).await?;
    let columns = Schema::new(
        snapshot
            .columns
            .data
            .iter()
            .map(|(f, _)| f.clone())
            .collect::<Vec<_>>(),
    );
    let partitions = snapshot
        .columns
        .partitions
        .iter()
        .map(|(f, _)| f.name().clone())
        .collect();
    Ok(Some(Planned {
        version: v,
        paths: snapshot.files.into_iter().map(|f| f.path).collect(),
        columns,
        partitions,
    }))
}

impl Target {
    /// Commits `change` to `table` on top of version `read`, or creates the table with
    /// `schema` and `partitions` when it has none. With `new_columns`, the name of that
    /// operation, the version states `schema` ([`DeltaTable::replace_columns`]). Right
    /// before, the lease is checked and the test hook `before-delta-commit` may kill the
    /// process (the uploaded objects then belong to no version; readers keep the
    /// previous one).
    pub async fn commit(
        &self,
        table: &DeltaTable,
        read: Option<u64>,
        schema: &Schema,
        partitions: &[&str],
        change: Change,
        new_columns: Option<&str>,
    ) -> Result<u64> {
        atomic::failpoint("before-delta-commit", change.add.len());
        self.check(table)?;
        match (read, new_columns) {
            (None, _) => {
                table
                    .create(schema, partitions, change, "CREATE TABLE")
                    .await
            }
            (Some(v), Some(operation)) => table.replace_columns(v, schema, change, operation).await,
            (Some(v), None) => table.commit(v, change, "WRITE").await,
        }
    }
}

/// After a commit: every [`CHECKPOINT_EVERY`] versions a checkpoint, then clean-up of
/// what no version live since `keep_since` needs. Only then, as Delta writers clean
/// their logs at checkpoints: a clean-up lists the whole table and reads the kept
/// commits, which on an object store costs more than the commit itself; what it would
/// remove in between waits at most that many versions longer than its retention.
pub async fn maintain(
    table: &DeltaTable,
    version: u64,
    keep_since: chrono::DateTime<chrono::Utc>,
) -> Result<()> {
    if version > 0 && version.is_multiple_of(CHECKPOINT_EVERY) {
        table.checkpoint(version).await?;
        table.clean_up(keep_since).await?;
    }
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
