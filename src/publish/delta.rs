//! The published views as Delta tables (`[publish] delta = "s3://bucket/prefix"`, an
//! `az://` prefix or a directory): where dashboards, Power BI, Fabric, Databricks, Spark
//! or Trino read them in the cloud. After each publish the current published set is
//! committed, one table per view at `<prefix>/<view>/`, one Delta version per change.
//!
//! A file is named by its content (`<period>-<sha256[..16]>.parquet`) and its `add`
//! carries its column bounds (`footer`), so engines skip other periods' files; a period
//! that did not change keeps its object, and an upload killed halfway leaves only objects no
//! version names. Readers see a view's previous version or its new one, never a mix; the
//! views are committed one after another, so two views may briefly be of two publishes
//! (each says which in `commitInfo`). Versions are kept for `[publish] keep_days` (the
//! same days as local published sets) and cleaned up after, with a checkpoint every ten
//! versions. On an object store the sync holds the lease `_meta/locks/publish.lease`
//! under the prefix, so two hosts publishing to one bucket take turns, and checks it
//! before each commit. A failed sync leaves the tables at their last version and is
//! done again by the next publish, even one that changed nothing locally; a set the
//! target already took whole (`_meta/published_delta`, with the versions it left) is
//! not read again while its tables are still at those versions. A view whose columns
//! changed (a new malgrupp) gets them in one version replacing all its files.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use datafusion::arrow::datatypes::Schema;
use futures::{StreamExt, TryStreamExt};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::lake::delta::{AsOf, Change, DataFile, DeltaTable};
use crate::lake::lease::Lease;
use crate::lake::lease_keeper::KeptLease;
use crate::lake::location::{Location, Opened};
use crate::lake::{Lake, atomic};

use super::footer::{Footer, footer};

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
    /// Tables in the target of views no longer published (a new malgrupp dropped them):
    /// left at their last version, as dbt leaves a dropped model's table.
    pub no_longer_published: Vec<String>,
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
    if let Location::Local(dir) = target {
        atomic::create_dir_all_durable(dir)?;
    }
    let Opened {
        store, root, shown, ..
    } = target.open_store(env)?;
    let table_of = |view: &str| {
        DeltaTable::new(
            store.clone(),
            root.clone().join(view),
            format!("{shown}/{view}"),
        )
    };
    // The set this target last took whole, its tables still at the versions that left
    // them (none removed or changed by others since): nothing to read, hash or upload.
    let marker = lake.root().join("_meta").join("published_delta");
    let set = format!("{target:?}\n{}\n", current.display());
    let taken = std::fs::read_to_string(&marker).unwrap_or_default();
    if let Some(versions) = taken.strip_prefix(&set)
        && still_at(versions, &table_of).await
    {
        return Ok(Synced::default());
    }
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
    let mut done = set;
    let views = views(&current)?;
    synced.no_longer_published = match others(&store, &root, &views, &table_of).await {
        Ok(names) => names,
        Err(e) => {
            failures.push(e.to_string());
            Vec::new()
        }
    };
    for (view, files) in views {
        let table = table_of(&view);
        match commit_view(&table, &files, lease.as_ref()).await {
            Ok(Some((version, committed))) => {
                done.push_str(&format!("{view} {version}\n"));
                if committed {
                    synced.committed.push((view, version));
                    if let Err(e) = maintain(&table, version, keep_since).await {
                        failures.push(e.to_string());
                    }
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

/// Tables under `root` that are not among `views` (names beginning with `_` are the
/// target's own, such as its lease).
async fn others(
    store: &std::sync::Arc<dyn object_store::ObjectStore>,
    root: &object_store::path::Path,
    views: &BTreeMap<String, Vec<PathBuf>>,
    table_of: &impl Fn(&str) -> DeltaTable,
) -> Result<Vec<String>> {
    let listed = store
        .list_with_delimiter(Some(root))
        .await
        .map_err(|e| Error::Store {
            object: root.to_string(),
            source: e,
        })?;
    let mut others = Vec::new();
    for prefix in listed.common_prefixes {
        let Some(name) = prefix.filename() else {
            continue;
        };
        if !name.starts_with('_')
            && !views.contains_key(name)
            && table_of(name).version().await?.is_some()
        {
            others.push(name.to_string());
        }
    }
    Ok(others)
}

/// Whether every table the marker lines `<view> <version>` name is still at that version.
async fn still_at(versions: &str, table_of: &impl Fn(&str) -> DeltaTable) -> bool {
    for line in versions.lines() {
        let Some((view, version)) = line.split_once(' ') else {
            return false;
        };
        let now = table_of(view).version().await.ok().flatten();
        if now.is_none() || now.map(|v| v.to_string()).as_deref() != Some(version) {
            return false;
        }
    }
    true
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

/// Uploads what the table lacks of `files` and commits the view's new set; the table's
/// version after, and whether this call committed it (`false`: it held this set
/// already). A set with other columns
/// than the table's (a new malgrupp changed the view) replaces the table's columns in
/// that version; its files must all have the same columns. The lease, if any, is
/// checked right before the commit.
async fn commit_view(
    table: &DeltaTable,
    files: &[PathBuf],
    lease: Option<&KeptLease>,
) -> Result<Option<(u64, bool)>> {
    let version = table.version().await?;
    let (existing, had) = match version {
        Some(_) => {
            let snapshot = table.snapshot(AsOf::Newest).await?;
            let had = columns(snapshot.columns.data.iter().map(|(f, _)| f));
            let paths = snapshot.files.into_iter().map(|f| f.path).collect();
            (paths, Some(had))
        }
        None => (BTreeSet::new(), None),
    };
    // Named by content, one file in memory at a time (a national view's periods
    // together would not fit the memory bound); each footer read once, here.
    let mut named = Vec::with_capacity(files.len());
    let mut first: Option<(Schema, &PathBuf)> = None;
    for file in files {
        let Footer {
            schema,
            rows,
            bounds,
        } = footer(file)?;
        match &first {
            None => first = Some((schema, file)),
            Some((agreed, by)) if columns(agreed.fields()) != columns(schema.fields()) => {
                return Err(Error::Table {
                    table: table.shown().to_string(),
                    message: format!(
                        "the published files disagree on the view's columns: {} has {}, {} has {}; nothing was committed (the next publish tries again)",
                        file.display(),
                        columns(schema.fields()),
                        by.display(),
                        columns(agreed.fields())
                    ),
                });
            }
            Some(_) => {}
        }
        let bytes = std::fs::read(file).map_err(|e| Error::io(file, e))?;
        let stem = file
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let name = format!(
            "{stem}-{}.parquet",
            &hex::encode(Sha256::digest(&bytes))[..16]
        );
        named.push(New {
            file: file.clone(),
            name,
            rows,
            bounds,
        });
    }
    let Some((schema, _)) = first else {
        return Ok(None);
    };
    // New columns replace every file: those kept would be read with the wrong ones.
    let replaced = had.is_some_and(|had| had != columns(schema.fields()));
    let wanted: BTreeSet<&str> = named.iter().map(|n| n.name.as_str()).collect();
    let remove: Vec<String> = existing
        .iter()
        .filter(|p| replaced || !wanted.contains(p.as_str()))
        .cloned()
        .collect();
    let new: Vec<_> = named
        .into_iter()
        .filter(|n| replaced || !existing.contains(&n.name))
        .collect();
    if let Some(v) = version
        && new.is_empty()
        && remove.is_empty()
    {
        return Ok(Some((v, false)));
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
    match version {
        None => table.create(&schema, &[], change, "CREATE TABLE").await,
        Some(v) if replaced => {
            table
                .replace_columns(v, &schema, change, "REPLACE TABLE")
                .await
        }
        Some(v) => table.commit(v, change, "WRITE").await,
    }
    .map(|v| Some((v, true)))
}

/// Columns as a version states them: name, type, nullability, in order.
fn columns<'a>(
    fields: impl IntoIterator<Item = &'a datafusion::arrow::datatypes::FieldRef>,
) -> String {
    let columns: Vec<String> = fields
        .into_iter()
        .map(|f| {
            let null = if f.is_nullable() { "" } else { " not null" };
            format!("{} {}{null}", f.name(), f.data_type())
        })
        .collect();
    format!("({})", columns.join(", "))
}

/// A published file the table may lack: its name in the table and what its footer says.
struct New {
    file: PathBuf,
    name: String,
    rows: u64,
    bounds: serde_json::Map<String, serde_json::Value>,
}

/// Uploads one new file of a view. The file is read again here, so only the uploads in
/// flight are in memory.
async fn upload(
    table: &DeltaTable,
    New {
        file,
        name,
        rows,
        bounds,
    }: New,
) -> Result<DataFile> {
    let bytes = std::fs::read(&file).map_err(|e| Error::io(&file, e))?;
    let size = bytes.len() as u64;
    table.put_file(&name, bytes).await?;
    Ok(DataFile {
        path: name,
        partition: BTreeMap::new(),
        size,
        rows,
        deletion_vector: None,
        bounds,
    })
}
