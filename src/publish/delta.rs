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
//! before each commit; the prefix is this lake's alone (`Target::claim`: another lake's
//! sync is refused). A failed sync leaves the tables at their last version and is
//! done again by the next publish, even one that changed nothing locally; a set the
//! target already took whole (`_meta/published_delta`, with the versions it left) is
//! not read again while its tables are still at those versions. A view whose columns
//! changed (a new malgrupp) gets them in one version replacing all its files.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use datafusion::arrow::datatypes::Schema;
use futures::{StreamExt, TryStreamExt};

use crate::error::{Error, Result};
use crate::lake::delta::target::{self, Target, UPLOADS, columns, content_name, data_file};
use crate::lake::delta::{Change, DataFile, DeltaTable};
use crate::lake::location::Location;
use crate::lake::{Lake, atomic};

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
    // The set this target last took whole, its tables still at the versions that left
    // them (none removed or changed by others since): nothing to read, hash or upload.
    let marker = lake.root().join("_meta").join("published_delta");
    let set = format!("{target:?}\n{}\n", current.display());
    let taken = std::fs::read_to_string(&marker).unwrap_or_default();
    let mut opened = Target::open(target, env)?;
    if let Some(versions) = taken.strip_prefix(&set)
        && still_at(versions, &opened).await
    {
        return Ok(Synced::default());
    }
    opened.take_lease("publish").await?;
    if let Err(e) = opened.claim(lake).await {
        opened.release().await?;
        return Err(e);
    }
    let keep_since = chrono::Utc::now() - chrono::Duration::days(i64::from(keep_days));
    let mut synced = Synced::default();
    // A view that fails does not stop the others; every failure is reported after them.
    let mut failures = Vec::new();
    let mut done = set;
    let views = views(&current)?;
    synced.no_longer_published = match others(&opened, &views).await {
        Ok(names) => names,
        Err(e) => {
            failures.push(e.to_string());
            Vec::new()
        }
    };
    for (view, files) in views {
        let table = opened.table(&view);
        match commit_view(&opened, &table, &files).await {
            Ok(Some((version, committed))) => {
                done.push_str(&format!("{view} {version}\n"));
                if committed {
                    synced.committed.push((view, version));
                    if let Err(e) = target::maintain(&table, version, keep_since).await {
                        failures.push(e.to_string());
                    }
                }
            }
            Ok(None) => {}
            Err(e) => failures.push(e.to_string()),
        }
    }
    let shown = opened.shown.clone();
    opened.release().await?;
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
async fn others(target: &Target, views: &BTreeMap<String, Vec<PathBuf>>) -> Result<Vec<String>> {
    let listed = target
        .store
        .list_with_delimiter(Some(&target.root))
        .await
        .map_err(|e| Error::Store {
            object: target.root.to_string(),
            source: e,
        })?;
    let mut others = Vec::new();
    for prefix in listed.common_prefixes {
        let Some(name) = prefix.filename() else {
            continue;
        };
        if !name.starts_with('_')
            && !views.contains_key(name)
            && target.table(name).version().await?.is_some()
        {
            others.push(name.to_string());
        }
    }
    Ok(others)
}

/// Whether every table the marker lines `<view> <version>` name is still at that version.
async fn still_at(versions: &str, target: &Target) -> bool {
    for line in versions.lines() {
        let Some((view, version)) = line.split_once(' ') else {
            return false;
        };
        let now = target.table(view).version().await.ok().flatten();
        if now.is_none() || now.map(|v| v.to_string()).as_deref() != Some(version) {
            return false;
        }
    }
    true
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
/// already). A set with other columns than the table's (a new malgrupp changed the
/// view) replaces the table's columns in that version; its files must all have the same
/// columns. The lease, if any, is checked right before the commit.
async fn commit_view(
    target: &Target,
    table: &DeltaTable,
    files: &[PathBuf],
) -> Result<Option<(u64, bool)>> {
    let version = table.version().await?;
    let planned = target::planned(table, version).await?;
    let had = planned.as_ref().map(|p| columns(p.columns.fields()));
    let existing = planned.map(|p| p.paths).unwrap_or_default();
    // Named by content, one file in memory at a time (a national view's periods
    // together would not fit the memory bound); read again only if it is uploaded.
    let mut named: Vec<(PathBuf, DataFile)> = Vec::with_capacity(files.len());
    let mut first: Option<(Schema, &PathBuf)> = None;
    for file in files {
        let bytes = bytes::Bytes::from(std::fs::read(file).map_err(|e| Error::io(file, e))?);
        let stem = file
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let (add, schema) = data_file(content_name(&stem, &bytes), &bytes, file, BTreeMap::new())?;
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
        named.push((file.clone(), add));
    }
    let Some((schema, _)) = first else {
        return Ok(None);
    };
    // New columns replace every file: those kept would be read with the wrong ones.
    let replaced = had.is_some_and(|had| had != columns(schema.fields()));
    let wanted: BTreeSet<&str> = named.iter().map(|(_, add)| add.path.as_str()).collect();
    let remove: Vec<String> = existing
        .iter()
        .filter(|p| replaced || !wanted.contains(p.as_str()))
        .cloned()
        .collect();
    let new: Vec<_> = named
        .into_iter()
        .filter(|(_, add)| replaced || !existing.contains(&add.path))
        .collect();
    if let Some(v) = version
        && new.is_empty()
        && remove.is_empty()
    {
        return Ok(Some((v, false)));
    }
    let add: Vec<DataFile> =
        futures::stream::iter(new.into_iter().map(|(file, add)| upload(table, file, add)))
            .buffer_unordered(UPLOADS)
            .try_collect()
            .await?;
    let change = Change {
        add,
        remove,
        ..Default::default()
    };
    let new_columns = replaced.then_some("REPLACE TABLE");
    target
        .commit(table, version, &schema, &[], change, new_columns)
        .await
        .map(|v| Some((v, true)))
}

/// Uploads one new file of a view. The file is read again here, so only the uploads in
/// flight are in memory (a published set does not change once switched to).
async fn upload(table: &DeltaTable, file: PathBuf, add: DataFile) -> Result<DataFile> {
    let bytes = std::fs::read(&file).map_err(|e| Error::io(&file, e))?;
    table.put_file(&add.path, bytes).await?;
    Ok(add)
}
