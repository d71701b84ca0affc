//! The published views as Delta tables (`[publish] delta = "s3://bucket/prefix"`, an
//! `az://` prefix or a directory): where dashboards, Power BI, Fabric, Databricks, Spark
//! or Trino read them in the cloud. After each publish the current published set is
//! committed, one table per view at `<prefix>/<view>/`, one Delta version per change.
//!
//! A file is named by its content (`<period>-<sha256[..16]>.parquet`): a period that did
//! not change keeps its object, and an upload killed halfway leaves only objects no
//! version names. Readers see a view's previous version or its new one, never a mix; the
//! views are committed one after another, so two views may briefly be of two publishes
//! (each says which in `commitInfo`). Versions are kept for `[publish] keep_days` (the
//! same days as local published sets) and cleaned up after, with a checkpoint every ten
//! versions. On an object store the sync holds the lease `_meta/locks/publish.lease`
//! under the prefix, so two hosts publishing to one bucket take turns, and checks it
//! before each commit. A failed sync leaves the tables at their last version and is
//! done again by the next publish, even one that changed nothing locally; a set the
//! target already took whole (`_meta/published_delta`) is not read again.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use futures::{StreamExt, TryStreamExt};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::lake::delta::{AsOf, Change, DataFile, DeltaTable};
use crate::lake::lease::Lease;
use crate::lake::lease_keeper::KeptLease;
use crate::lake::location::{Location, Opened};
use crate::lake::{Lake, atomic};

/// How long the sync's lease lasts without a renewal (renewed every third of it).
const LEASE: std::time::Duration = std::time::Duration::from_secs(120);

/// A checkpoint every this many versions, as Spark writes them.
const CHECKPOINT_EVERY: u64 = 10;

/// Uploads in flight at once.
const UPLOADS: usize = 8;

/// What a sync did: per view committed, its new version.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Synced {
    /// (view, version) of each view that changed.
    pub committed: Vec<(String, u64)>,
}

/// Commits the lake's current published set to the Delta tables at `target` (store
/// settings from `env`); `keep_days` as `[publish] keep_days`.
pub async fn sync(
    lake: &Lake,
    target: &Location,
    keep_days: u32,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<Synced> {
    let Some(current) = super::generation::current(lake) else {
        return Ok(Synced::default());
    };
    // The set this target last took whole: nothing to read, hash or ask the store.
    let marker = lake.root().join("_meta").join("published_delta");
    let done = format!("{target:?}\n{}\n", current.display());
    if std::fs::read_to_string(&marker).is_ok_and(|m| m == done) {
        return Ok(Synced::default());
    }
    if let Location::Local(dir) = target {
        atomic::create_dir_all_durable(dir)?;
    }
    let Opened {
        store, root, shown, ..
    } = target.open_store(env)?;
    let lease = match target {
        Location::Object(object) => {
            let holder = crate::lake::lock::this_process();
            let now = chrono::Utc::now();
            match Lease::try_acquire(store.clone(), object, "publish", &holder, LEASE, now).await? {
                Ok(lease) => Some(lease.keep(LEASE)),
                Err(holder) => {
                    return Err(Error::Table {
                        table: shown,
                        message: format!(
                            "another host is committing to it ({}); the next publish tries again",
                            holder.text
                        ),
                    });
                }
            }
        }
        Location::Local(_) => None,
    };
    let keep_since = chrono::Utc::now() - chrono::Duration::days(i64::from(keep_days));
    let mut synced = Synced::default();
    // A view that fails does not stop the others; every failure is reported after them.
    let mut failures = Vec::new();
    for (view, files) in views(&current)? {
        let table = DeltaTable::new(
            store.clone(),
            root.clone().join(view.as_str()),
            format!("{shown}/{view}"),
        );
        match commit_view(&table, &files, lease.as_ref()).await {
            Ok(Some(version)) => {
                synced.committed.push((view, version));
                if let Err(e) = maintain(&table, version, keep_since).await {
                    failures.push(e.to_string());
                }
            }
            Ok(None) => {}
            Err(e) => failures.push(e.to_string()),
        }
    }
    if let Some(lease) = lease {
        lease.release().await?;
    }
    if failures.is_empty() {
        atomic::write(&marker, done.as_bytes())?;
        Ok(synced)
    } else {
        Err(Error::Table {
            table: shown,
            message: failures.join("; "),
        })
    }
}

/// After a commit: a checkpoint every [`CHECKPOINT_EVERY`] versions, and clean-up of
/// what no version live since `keep_since` needs.
async fn maintain(
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

/// The published views of the set in `dir`: a view published per period is a
/// directory of `<period>.parquet`, the others one `<view>.parquet`.
fn views(dir: &Path) -> Result<BTreeMap<String, Vec<PathBuf>>> {
    let mut views: BTreeMap<String, Vec<PathBuf>> = BTreeMap::new();
    for entry in std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = entry.path();
        if name.starts_with(['_', '.']) {
            continue;
        }
        if path.is_dir() {
            let mut files = Vec::new();
            for f in std::fs::read_dir(&path).map_err(|e| Error::io(&path, e))? {
                let f = f.map_err(|e| Error::io(&path, e))?.path();
                let file_name = f.file_name().map(|n| n.to_string_lossy().into_owned());
                if file_name.is_some_and(|n| n.ends_with(".parquet") && !n.starts_with(['_', '.']))
                {
                    files.push(f);
                }
            }
            files.sort();
            views.insert(name, files);
        } else if let Some(view) = name.strip_suffix(".parquet") {
            views.insert(view.to_string(), vec![path]);
        }
    }
    views.retain(|_, files| !files.is_empty());
    Ok(views)
}

/// Uploads what the table lacks of `files` and commits the view's new set; the new
/// version, or `None` when the table already holds this set. The lease, if any, is
/// checked right before the commit.
async fn commit_view(
    table: &DeltaTable,
    files: &[PathBuf],
    lease: Option<&KeptLease>,
) -> Result<Option<u64>> {
    let version = table.version().await?;
    let (existing, columns) = match version {
        Some(_) => {
            let snapshot = table.snapshot(AsOf::Newest).await?;
            let paths = snapshot.files.into_iter().map(|f| f.path).collect();
            (paths, Some(snapshot.columns))
        }
        None => (BTreeSet::new(), None),
    };
    // Named by content, one file in memory at a time (a national view's periods
    // together would not fit the memory bound).
    let mut named = Vec::with_capacity(files.len());
    for file in files {
        let bytes = std::fs::read(file).map_err(|e| Error::io(file, e))?;
        let stem = file
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let name = format!(
            "{stem}-{}.parquet",
            &hex::encode(Sha256::digest(&bytes))[..16]
        );
        named.push((file.clone(), name));
    }
    let wanted: BTreeSet<&str> = named.iter().map(|(_, n)| n.as_str()).collect();
    let remove: Vec<String> = existing
        .iter()
        .filter(|p| !wanted.contains(p.as_str()))
        .cloned()
        .collect();
    let new: Vec<_> = named
        .into_iter()
        .filter(|(_, n)| !existing.contains(n))
        .collect();
    if new.is_empty() && remove.is_empty() {
        return Ok(None);
    }
    let schema = match new.first() {
        Some((file, _)) => Some(footer(file)?.0),
        None => None,
    };
    if let (Some(columns), Some(schema)) = (&columns, &schema) {
        // A view whose columns changed (a new malgrupp version) needs a new table: a
        // version with other columns than its table's would be read wrong.
        let had: Vec<_> = columns
            .data
            .iter()
            .map(|(f, _)| (f.name(), f.data_type()))
            .collect();
        let has: Vec<_> = schema
            .fields()
            .iter()
            .map(|f| (f.name(), f.data_type()))
            .collect();
        if had != has {
            return Err(Error::Table {
                table: table.shown().to_string(),
                message: format!(
                    "the view's columns changed ({had:?} → {has:?}); remove the table to have it created anew"
                ),
            });
        }
    }
    let add: Vec<DataFile> = futures::stream::iter(new.into_iter().map(|n| upload(table, n)))
        .buffer_unordered(UPLOADS)
        .try_collect()
        .await?;
    // A test hook: killed here, the new objects are in the store and no version names
    // them; readers keep the previous version.
    atomic::failpoint("before-delta-commit", add.len());
    if let Some(Err(lost)) = lease.map(KeptLease::check) {
        return Err(Error::Table {
            table: table.shown().to_string(),
            message: format!("not committed: {lost}"),
        });
    }
    let change = Change { add, remove };
    match (version, schema) {
        (None, Some(schema)) => table
            .create(&schema, &[], change, "CREATE TABLE")
            .await
            .map(Some),
        (Some(v), _) => table.commit(v, change, "WRITE").await.map(Some),
        (None, None) => Ok(None),
    }
}

/// Uploads one new file of a view: `(local file, name in the table)`. The file is read
/// again here, so only the uploads in flight are in memory.
async fn upload(table: &DeltaTable, (file, name): (PathBuf, String)) -> Result<DataFile> {
    let rows = footer(&file)?.1;
    let bytes = std::fs::read(&file).map_err(|e| Error::io(&file, e))?;
    let size = bytes.len() as u64;
    table.put_file(&name, bytes).await?;
    Ok(DataFile {
        path: name,
        partition: BTreeMap::new(),
        size,
        rows,
        deletion_vector: None,
    })
}

/// The Arrow schema and the row count of a published Parquet file.
fn footer(file: &Path) -> Result<(datafusion::arrow::datatypes::Schema, u64)> {
    let opened = std::fs::File::open(file).map_err(|e| Error::io(file, e))?;
    let reader = ParquetRecordBatchReaderBuilder::try_new(opened).map_err(|e| Error::Table {
        table: file.display().to_string(),
        message: format!("not readable as Parquet: {e}"),
    })?;
    let rows = reader.metadata().file_metadata().num_rows();
    let schema = reader
        .schema()
        .as_ref()
        .clone()
        .with_metadata(Default::default());
    Ok((schema, u64::try_from(rows).unwrap_or(0)))
}
