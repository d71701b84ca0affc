//! Keeping a Delta table small to read and cheap to store: checkpoints (the state at a
//! version in one Parquet file, so a reader does not replay every commit), log retention
//! (commits before a checkpoint that no kept moment needs) and vacuum (data files no kept
//! version has). "Kept" means every version live at some moment since `keep_since`: the
//! version live at `keep_since` and all later ones, as Delta's `logRetentionDuration`
//! and `deletedFileRetentionDuration` do.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use object_store::path::Path as StorePath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use serde_json::{Value, json};

use super::{DeltaTable, checkpoint};
use crate::error::{Error, Result};

/// What [`DeltaTable::clean_up`] removed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Cleaned {
    /// Commits (`<version>.json`) older than the newest checkpoint a kept moment needs.
    pub commits: usize,
    /// Checkpoint files older than that one.
    pub checkpoints: usize,
    /// Data files no kept version has.
    pub files: usize,
}

impl DeltaTable {
    /// Writes a checkpoint of `version` and points `_last_checkpoint` at it. Writing one
    /// again writes the same state, so a retry after a failure is harmless.
    pub async fn checkpoint(&self, version: u64) -> Result<()> {
        let log = self.log().await?;
        if !log.commits.contains(&version) {
            return Err(self.refused(format!(
                "no commit {version} to checkpoint (newest: {:?})",
                log.commits.last()
            )));
        }
        let state = self.state(&log, version).await?;
        let (bytes, size) = checkpoint::write(&state)
            .map_err(|e| Error::Internal(format!("checkpoint of {}: {e}", self.shown)))?;
        let dir = self.root.clone().join("_delta_log");
        let file = dir
            .clone()
            .join(format!("{version:020}.checkpoint.parquet"));
        self.put(&file, bytes).await?;
        let last = json!({"version": version, "size": size}).to_string();
        self.put(&dir.join("_last_checkpoint"), last.into_bytes())
            .await
    }

    /// Removes what no version live since `keep_since` needs: commits and checkpoints
    /// before the newest checkpoint at or before the version live at `keep_since`, and
    /// data files none of those versions has that were last written before
    /// `keep_since` (a file written since may belong to a commit not made yet). Files
    /// and directories whose names start with `_` or `.` are never removed.
    pub async fn clean_up(&self, keep_since: DateTime<Utc>) -> Result<Cleaned> {
        let log = self.log().await?;
        let Some(boundary) = self.live_at(&log, keep_since).await? else {
            return Ok(Cleaned::default());
        };
        let newest = log.commits.last().copied().unwrap_or(boundary);
        // Every file some kept version has (and the files of their deletion vectors):
        // the boundary's, and every one added after.
        let mut kept: HashSet<StorePath> = HashSet::new();
        let mut keep = |add: &Value| -> Result<()> {
            if let Some(path) = add.get("path").and_then(Value::as_str) {
                kept.insert(self.location_of(path)?);
            }
            if let Some(dv) = add.get("deletionVector") {
                kept.extend(self.deletion_file(dv));
            }
            Ok(())
        };
        for add in self.state(&log, boundary).await?.live.values() {
            keep(add)?;
        }
        for version in boundary + 1..=newest {
            for action in self.read_version(version).await? {
                if let Some(add) = action.get("add") {
                    keep(add)?;
                }
            }
        }
        let mut cleaned = Cleaned::default();
        let listed: Vec<_> = self
            .store
            .list(Some(&self.root))
            .try_collect()
            .await
            .map_err(|e| self.error(&self.root, e))?;
        for meta in listed {
            let hidden = meta
                .location
                .prefix_match(&self.root)
                .is_none_or(|mut parts| parts.any(|p| p.as_ref().starts_with(['_', '.'])));
            if !hidden && !kept.contains(&meta.location) && meta.last_modified < keep_since {
                self.delete(&meta.location).await?;
                cleaned.files += 1;
            }
        }
        // The log before the newest checkpoint the boundary can be read from.
        if let Some((&from, _)) = log.checkpoints.range(..=boundary).next_back() {
            for version in log.commits.range(..from) {
                self.delete(&self.log_path(*version)).await?;
                cleaned.commits += 1;
            }
            for parts in log.checkpoints.range(..from).map(|(_, parts)| parts) {
                for part in parts {
                    self.delete(part).await?;
                }
                cleaned.checkpoints += 1;
            }
        }
        Ok(cleaned)
    }

    async fn put(&self, path: &StorePath, bytes: Vec<u8>) -> Result<()> {
        self.store
            .put(path, PutPayload::from(bytes))
            .await
            .map(|_| ())
            .map_err(|e| self.error(path, e))
    }

    async fn delete(&self, path: &StorePath) -> Result<()> {
        match self.store.delete(path).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(self.error(path, e)),
        }
    }
}
