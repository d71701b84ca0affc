//! Delta Lake commits: the lake's commit protocol on object storage and on disk alike,
//! and the format other engines (Spark, Trino, Databricks, Microsoft Fabric, DuckDB's
//! `delta_scan`, Python's `deltalake`) read the lake's tables in (docs/schema.md).
//!
//! A table is a prefix holding immutable, uniquely named Parquet files and
//! `_delta_log/<version, 20 digits>.json`, one JSON action per line. A commit creates
//! the next version's file only if it does not exist (`If-None-Match: *` on S3 and
//! Azure, a hard link on disk), so readers see a table either before or after a commit,
//! never a mix, and of two writers committing the same version one wins. The loser
//! re-reads what won and commits again on top of it when the two touched no file in
//! common (Delta's optimistic concurrency); otherwise it reports the conflict.
//!
//! Written here: protocol 1/2 (reader/writer), `metaData` with the schema and partition
//! columns, `add` and `remove` of data files with their row counts, and `commitInfo`.
//! Read back: a table as of its newest version, a version or a time, of reader protocol
//! 1 to 3 with the features read here (column mapping by name in `schema`, deletion
//! vectors in `deletion`), from the newest checkpoint at or before that version (`checkpoint`: single
//! or multi-part, as Spark and delta-rs write them) and the commits after it; a version
//! whose commits log retention removed is refused. Kept short (`maintain`): checkpoints
//! written by malgrupp, log retention and vacuum of files no kept version has.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use datafusion::arrow::datatypes::Schema;
use object_store::path::Path as StorePath;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload};
use serde_json::{Value, json};

use crate::error::{Error, Result};

mod checkpoint;
mod deletion;
pub mod footer;
mod maintain;
mod read;
mod schema;
pub mod target;

pub use maintain::Cleaned;
pub use schema::Columns;
use schema::schema_string;

/// One data file of a table, as an `add` action names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataFile {
    /// Path relative to the table's root, e.g. `kommun=0880/period=2015-01/fs-<run>.parquet`.
    pub path: String,
    /// Partition column values, e.g. `kommun` → `0880` (`None` for a null), keyed as
    /// the log keys them (by physical name under column mapping, see [`Columns`]).
    pub partition: BTreeMap<String, Option<String>>,
    /// Bytes.
    pub size: u64,
    /// Rows (the `numRecords` statistic engines plan with).
    pub rows: u64,
    /// The rows a deletion vector deletes from it, as the log describes the vector
    /// (`deletionVector`, read by [`DeltaTable::deleted_rows`]); written by other engines.
    pub deletion_vector: Option<Value>,
    /// Per column bounds written into its `stats` beside `numRecords` (`minValues`,
    /// `maxValues`, `nullCount`), which engines skip files by; not read back.
    pub bounds: serde_json::Map<String, Value>,
}

/// Which version of a table to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AsOf {
    /// The newest.
    Newest,
    /// This version.
    Version(u64),
    /// The newest committed at or before this time.
    Time(chrono::DateTime<chrono::Utc>),
}

/// A table as of one version.
#[derive(Debug, Default, Clone)]
pub struct Snapshot {
    /// The version read.
    pub version: u64,
    /// Its columns as a reader scans them.
    pub columns: Columns,
    /// Its files.
    pub files: Vec<DataFile>,
}

/// What a commit changes.
#[derive(Debug, Default, Clone)]
pub struct Change {
    /// Files the new version gains.
    pub add: Vec<DataFile>,
    /// Paths of files the new version no longer has (they stay for older versions).
    pub remove: Vec<String>,
    /// Fields added to the version's `commitInfo`: what the writer records of the
    /// commit beyond Delta's own (the runs a ledger version adds, src/lake/mirror/).
    pub info: serde_json::Map<String, Value>,
}

/// A Delta table under a prefix of a store.
#[derive(Debug, Clone)]
pub struct DeltaTable {
    store: Arc<dyn ObjectStore>,
    root: StorePath,
    shown: String,
}

/// How many times a commit is rebased on versions others committed meanwhile before
/// it gives up: each round means another writer committed in between.
const REBASES: usize = 16;

impl DeltaTable {
    /// The table at `root` in `store`; `shown` names it in errors (e.g. `s3://b/lake/kaa`).
    pub fn new(store: Arc<dyn ObjectStore>, root: StorePath, shown: impl Into<String>) -> Self {
        DeltaTable {
            store,
            root,
            shown: shown.into(),
        }
    }

    /// How errors name the table (e.g. `s3://b/lake/kaa`).
    pub fn shown(&self) -> &str {
        &self.shown
    }

    /// The table `name` beside this one, under the same prefix; `None` for a table at
    /// its store's root.
    pub fn sibling(&self, name: &str) -> Option<DeltaTable> {
        let mut parts: Vec<_> = self.root.parts().collect();
        parts.pop()?;
        let shown = match self.shown.rsplit_once('/') {
            Some((parent, _)) => format!("{parent}/{name}"),
            None => name.to_string(),
        };
        Some(DeltaTable {
            store: self.store.clone(),
            root: StorePath::from_iter(parts).join(name),
            shown,
        })
    }

    /// Writes a data file of the table at `path` (relative to its root). No version has
    /// it until a commit adds it.
    pub async fn put_file(&self, path: &str, bytes: impl Into<PutPayload>) -> Result<()> {
        let location = self.location_of(path)?;
        self.store
            .put(&location, bytes.into())
            .await
            .map_err(|e| self.error(&location, e))?;
        Ok(())
    }

    /// Reads a data file of the table at `path` (relative to its root, as the log names it).
    pub async fn get_file(&self, path: &str) -> Result<bytes::Bytes> {
        let location = self.location_of(path)?;
        let got = self
            .store
            .get(&location)
            .await
            .map_err(|e| self.error(&location, e))?;
        got.bytes().await.map_err(|e| self.error(&location, e))
    }

    /// Creates the table (version 0) with its schema, its partition columns (strings,
    /// not stored in the files) and its first files. Fails if the table exists.
    pub async fn create(
        &self,
        schema: &Schema,
        partition_columns: &[&str],
        change: Change,
        operation: &str,
    ) -> Result<u64> {
        let mut lines = vec![
            json!({"protocol": {"minReaderVersion": 1, "minWriterVersion": 2}}),
            json!({"metaData": {
                "id": random_id()?,
                "format": {"provider": "parquet", "options": {}},
                "schemaString": schema_string(schema, partition_columns)?,
                "partitionColumns": partition_columns,
                "configuration": {},
                "createdTime": now_ms(),
            }}),
        ];
        lines.extend(actions(&change, operation));
        match self.put_version(0, &lines).await? {
            Ok(()) => Ok(0),
            Err(()) => Err(self.refused("it already exists; nothing was created".into())),
        }
    }

    /// Commits `change` on top of `read_version` (the version the writer planned from)
    /// and returns the new version. Versions others committed meanwhile are rebased on
    /// when they touched none of the same files; otherwise the commit is refused.
    pub async fn commit(&self, read_version: u64, change: Change, operation: &str) -> Result<u64> {
        let lines = actions(&change, operation);
        let ours: BTreeSet<&str> = change
            .add
            .iter()
            .map(|f| f.path.as_str())
            .chain(change.remove.iter().map(String::as_str))
            .collect();
        for version in (read_version + 1..).take(REBASES) {
            if self.put_version(version, &lines).await?.is_ok() {
                return Ok(version);
            }
            // Another writer committed `version`: rebase on it unless it touched our files.
            let theirs = self.touched(version).await?;
            if let Some(both) = theirs.iter().find(|p| ours.contains(p.as_str())) {
                return Err(self.refused(format!(
                    "version {version}, committed by another writer meanwhile, also changed {both}; nothing of this commit was applied"
                )));
            }
        }
        Err(self.refused(format!(
            "{REBASES} other commits landed while committing; nothing of this commit was applied"
        )))
    }

    /// Commits `change` with new columns on top of `read_version`, as Spark's
    /// `overwriteSchema` (or, when columns are only added, `mergeSchema`) does: the
    /// version states the new schema, so it and later ones are read with it while
    /// earlier ones keep theirs; the table keeps its id and its partition columns.
    /// `change` must replace every file the new columns do not read right: a file
    /// lacking a nullable column the new schema adds is read with nulls in it, any other
    /// difference needs the file replaced. Not rebased: a version another writer
    /// committed meanwhile was planned against the old columns, so it refuses this
    /// commit. Refused on column-mapped tables (malgrupp never writes them).
    pub async fn replace_columns(
        &self,
        read_version: u64,
        schema: &Schema,
        change: Change,
        operation: &str,
    ) -> Result<u64> {
        let log = self.log().await?;
        let mut metadata = self
            .state(&log, read_version)
            .await?
            .metadata
            .ok_or_else(|| {
                self.refused(format!("version {read_version} has no metaData action"))
            })?;
        let mapped = metadata
            .pointer("/configuration/delta.columnMapping.mode")
            .and_then(Value::as_str)
            .is_some_and(|mode| mode != "none");
        if mapped {
            return Err(self.refused(
                "its columns are mapped; only a table of plain columns has them replaced".into(),
            ));
        }
        let partitions: Vec<String> = metadata
            .get("partitionColumns")
            .and_then(Value::as_array)
            .map(|columns| {
                columns
                    .iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default();
        let partitions: Vec<&str> = partitions.iter().map(String::as_str).collect();
        metadata["schemaString"] = json!(schema_string(schema, &partitions)?);
        let mut lines = vec![json!({ "metaData": metadata })];
        lines.extend(actions(&change, operation));
        match self.put_version(read_version + 1, &lines).await? {
            Ok(()) => Ok(read_version + 1),
            Err(()) => Err(self.refused(format!(
                "version {}, committed by another writer meanwhile, was planned against the old columns; nothing of this commit was applied",
                read_version + 1
            ))),
        }
    }

    /// Paths a committed version added or removed.
    async fn touched(&self, version: u64) -> Result<Vec<String>> {
        Ok(self
            .read_version(version)
            .await?
            .iter()
            .filter_map(|a| {
                a.pointer("/add/path")
                    .or_else(|| a.pointer("/remove/path"))
                    .and_then(Value::as_str)
                    .map(str::to_string)
            })
            .collect())
    }

    async fn read_version(&self, version: u64) -> Result<Vec<Value>> {
        let path = self.log_path(version);
        let bytes = self
            .store
            .get(&path)
            .await
            .map_err(|e| self.error(&path, e))?
            .bytes()
            .await
            .map_err(|e| self.error(&path, e))?;
        bytes
            .split(|b| *b == b'\n')
            .filter(|line| !line.is_empty())
            .map(|line| serde_json::from_slice(line).map_err(|_| self.damaged(version)))
            .collect()
    }

    /// Creates version `version`'s log file; `Ok(Err(()))` when it already exists.
    async fn put_version(
        &self,
        version: u64,
        lines: &[Value],
    ) -> Result<std::result::Result<(), ()>> {
        let mut body = Vec::new();
        for line in lines {
            serde_json::to_writer(&mut body, line)
                .map_err(|e| Error::Internal(format!("delta action: {e}")))?;
            body.push(b'\n');
        }
        let path = self.log_path(version);
        let create = PutOptions {
            mode: PutMode::Create,
            ..PutOptions::default()
        };
        match self
            .store
            .put_opts(&path, PutPayload::from(body), create)
            .await
        {
            Ok(_) => Ok(Ok(())),
            Err(object_store::Error::AlreadyExists { .. }) => Ok(Err(())),
            Err(e) => Err(self.error(&path, e)),
        }
    }

    fn log_path(&self, version: u64) -> StorePath {
        self.root
            .clone()
            .join("_delta_log")
            .join(format!("{version:020}.json"))
    }

    fn error(&self, path: &StorePath, source: object_store::Error) -> Error {
        Error::Store {
            object: format!("{} ({path})", self.shown),
            source,
        }
    }

    fn damaged(&self, version: u64) -> Error {
        self.refused(format!("log version {version} is not valid Delta JSON"))
    }

    fn refused(&self, message: String) -> Error {
        Error::Table {
            table: self.shown.clone(),
            message,
        }
    }
}

/// The `add`/`remove` actions of a change, then its `commitInfo`.
fn actions(change: &Change, operation: &str) -> Vec<Value> {
    let now = now_ms();
    let mut lines: Vec<Value> = change
        .add
        .iter()
        .map(|f| {
            let mut add = json!({
                "path": f.path,
                "partitionValues": f.partition,
                "size": f.size,
                "modificationTime": now,
                "dataChange": true,
                "stats": stats(f).to_string(),
            });
            if let Some(dv) = &f.deletion_vector {
                add["deletionVector"] = dv.clone();
            }
            json!({ "add": add })
        })
        .collect();
    lines.extend(change.remove.iter().map(
        |path| json!({"remove": {"path": path, "deletionTimestamp": now, "dataChange": true}}),
    ));
    let mut info = change.info.clone();
    info.insert("timestamp".into(), json!(now));
    info.insert("operation".into(), json!(operation));
    info.insert(
        "engineInfo".into(),
        json!(concat!("malgrupp/", env!("CARGO_PKG_VERSION"))),
    );
    lines.push(json!({ "commitInfo": info }));
    lines
}

/// The `stats` of an `add`: its row count and its bounds.
fn stats(f: &DataFile) -> Value {
    let mut stats = f.bounds.clone();
    stats.insert("numRecords".into(), json!(f.rows));
    Value::Object(stats)
}

/// A random id in UUID form (version 4): a table's, as `metaData.id` requires, and a
/// lake's (`Lake::id`).
pub(crate) fn random_id() -> Result<String> {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b).map_err(|e| Error::Internal(format!("random table id: {e}")))?;
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    Ok(format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    ))
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

#[cfg(test)]
mod tests;
