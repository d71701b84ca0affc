//! Reading a Delta table: what its log holds, and a snapshot as of a version or a time,
//! from the newest checkpoint at or before it and the commits after it.

use std::collections::{BTreeMap, BTreeSet};

use futures::TryStreamExt;
use object_store::ObjectStoreExt;
use object_store::path::Path as StorePath;
use serde_json::Value;

use super::deletion::file_key;
use super::{AsOf, Columns, DataFile, DeltaTable, Snapshot, checkpoint};
use crate::error::Result;

impl DeltaTable {
    /// The newest committed version; `None` for a table not created yet.
    pub async fn version(&self) -> Result<Option<u64>> {
        Ok(self.log().await?.commits.last().copied())
    }

    /// The versions the log keeps, oldest first (log retention removes early ones).
    pub async fn kept_versions(&self) -> Result<Vec<u64>> {
        Ok(self.log().await?.commits.into_iter().collect())
    }

    /// A version's `commitInfo` (null when it has none): when and how it was committed,
    /// and what its writer recorded beside.
    pub async fn commit_info(&self, version: u64) -> Result<Value> {
        Ok(self
            .read_version(version)
            .await?
            .into_iter()
            .find_map(|mut a| a.get_mut("commitInfo").map(Value::take))
            .unwrap_or_default())
    }

    /// What the log holds: listed once per read or commit.
    pub(super) async fn log(&self) -> Result<Log> {
        let dir = self.root.clone().join("_delta_log");
        let listed: Vec<_> = self
            .store
            .list(Some(&dir))
            .try_collect()
            .await
            .map_err(|e| self.error(&dir, e))?;
        Ok(Log::of(listed.into_iter().map(|meta| meta.location)))
    }

    /// The table as it was at `as_of`: its version, partition columns and files. Read
    /// from the newest checkpoint at or before that version, then the commits after it
    /// replayed (adds minus later removes).
    pub async fn snapshot(&self, as_of: AsOf) -> Result<Snapshot> {
        let log = self.log().await?;
        self.snapshot_of(&log, as_of).await
    }

    /// The table's newest version, `None` when it has no commit (not created yet), from
    /// one listing of its log.
    pub async fn newest(&self) -> Result<Option<Snapshot>> {
        let log = self.log().await?;
        if log.commits.is_empty() {
            return Ok(None);
        }
        self.snapshot_of(&log, AsOf::Newest).await.map(Some)
    }

    /// The table as it was at `t`; `None` when it had no version then (created later,
    /// or not at all). A time before the oldest version kept is refused, as
    /// [`DeltaTable::snapshot`] refuses it.
    pub async fn snapshot_if_existed(
        &self,
        t: chrono::DateTime<chrono::Utc>,
    ) -> Result<Option<Snapshot>> {
        let log = self.log().await?;
        let version = match self.live_at(&log, t).await? {
            Some(version) => version,
            None if matches!(log.commits.first(), None | Some(0)) => return Ok(None),
            None => self.version_at(&log, t).await?,
        };
        self.snapshot_of(&log, AsOf::Version(version))
            .await
            .map(Some)
    }

    async fn snapshot_of(&self, log: &Log, as_of: AsOf) -> Result<Snapshot> {
        let Some(&newest) = log.commits.last() else {
            return Err(self.refused("no commit found (not a Delta table, or an empty one)".into()));
        };
        let target = match as_of {
            AsOf::Version(v) if v > newest => {
                return Err(self.refused(format!("version {v} asked for, the newest is {newest}")));
            }
            AsOf::Version(v) => v,
            AsOf::Newest => newest,
            AsOf::Time(t) => self.version_at(log, t).await?,
        };
        let state = self.state(log, target).await?;
        let metadata = state
            .metadata
            .as_ref()
            .ok_or_else(|| self.refused(format!("version {target} has no metaData action")))?;
        let columns = Columns::of(metadata).map_err(|e| self.refused(e))?;
        let files = state
            .live
            .values()
            .map(|add| data_file(add).ok_or_else(|| self.damaged(target)))
            .collect::<Result<_>>()?;
        Ok(Snapshot {
            version: target,
            columns,
            files,
        })
    }

    /// The table's actions as of `target`, reconciled.
    pub(super) async fn state(&self, log: &Log, target: u64) -> Result<State> {
        let mut state = State::default();
        let mut first = 0;
        if let Some((&version, parts)) = log.checkpoints.range(..=target).next_back() {
            for part in parts {
                let actions = self.read_checkpoint(part).await?;
                self.replay(version, actions, &mut state)?;
            }
            first = version + 1;
        }
        for version in first..=target {
            if !log.commits.contains(&version) {
                return Err(self.refused(format!(
                    "version {target} can no longer be read: commit {version} was removed from the log (log retention) and no checkpoint at or before version {target} is kept; {}",
                    log.oldest_readable()
                )));
            }
            let actions = self.read_version(version).await?;
            self.replay(version, actions, &mut state)?;
        }
        Ok(state)
    }

    /// The newest version committed at or before `t` (by the commits' own timestamps),
    /// searched from the newest commit back.
    async fn version_at(&self, log: &Log, t: chrono::DateTime<chrono::Utc>) -> Result<u64> {
        if let Some(version) = self.live_at(log, t).await? {
            return Ok(version);
        }
        match log.commits.first() {
            Some(0) | None => Err(self.refused(format!("the table did not exist yet at {t}"))),
            Some(oldest) => Err(self.refused(format!(
                "{t} is before the oldest commit kept in the log (version {oldest}): older versions were removed (log retention)"
            ))),
        }
    }

    /// The version live at `t`; None when every commit kept is later.
    pub(super) async fn live_at(
        &self,
        log: &Log,
        t: chrono::DateTime<chrono::Utc>,
    ) -> Result<Option<u64>> {
        for &version in log.commits.iter().rev() {
            let committed = self.commit_info(version).await?["timestamp"].as_i64();
            if committed.is_none_or(|ms| ms <= t.timestamp_millis()) {
                return Ok(Some(version));
            }
        }
        Ok(None)
    }

    /// Applies one version's (or checkpoint's) actions to the state so far.
    fn replay(&self, version: u64, actions: Vec<Value>, state: &mut State) -> Result<()> {
        for mut action in actions {
            if let Some(add) = action.get_mut("add").map(Value::take) {
                let key = file_key(&add).ok_or_else(|| self.damaged(version))?;
                state.removed.remove(&key);
                state.live.insert(key, add);
            } else if let Some(remove) = action.get_mut("remove").map(Value::take) {
                let key = file_key(&remove).ok_or_else(|| self.damaged(version))?;
                state.live.remove(&key);
                state.removed.insert(key, remove);
            } else if let Some(protocol) = action.get_mut("protocol").map(Value::take) {
                readable(&protocol).map_err(|e| self.refused(e))?;
                state.protocol = Some(protocol);
            } else if let Some(metadata) = action.get_mut("metaData").map(Value::take) {
                let columns = metadata.get("partitionColumns").and_then(Value::as_array);
                if !columns.is_some_and(|c| c.iter().all(Value::is_string)) {
                    return Err(self.damaged(version));
                }
                state.metadata = Some(metadata);
            }
        }
        Ok(())
    }

    /// Where a data file of the table is in the store. `add.path` is a URI reference:
    /// writers such as Spark and delta-rs escape partition values in directory names
    /// (`kommun=a%20b`) and percent-encode the path once more in the log (`a%2520b`).
    pub fn location(&self, file: &DataFile) -> Result<StorePath> {
        self.location_of(&file.path)
    }

    /// [`DeltaTable::location`] of a path as the log writes it.
    pub(crate) fn location_of(&self, path: &str) -> Result<StorePath> {
        // An absolute URI (a shallow clone's files in another table) would otherwise be
        // taken as a relative path and reported missing under a name no one wrote.
        if let Some((scheme, _)) = path.split_once(':')
            && scheme.starts_with(|c: char| c.is_ascii_alphabetic())
            && scheme
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b))
        {
            return Err(self.refused(format!(
                "a data file is named by an absolute URI ({path}); files outside the table's own location are not read"
            )));
        }
        let relative = StorePath::from_url_path(path)
            .map_err(|e| self.refused(format!("a data file's path {path}: {e}")))?;
        Ok(self.root.parts().chain(relative.parts()).collect())
    }

    async fn read_checkpoint(&self, part: &StorePath) -> Result<Vec<Value>> {
        let bytes = self
            .store
            .get(part)
            .await
            .map_err(|e| self.error(part, e))?
            .bytes()
            .await
            .map_err(|e| self.error(part, e))?;
        checkpoint::actions(bytes).map_err(|e| {
            self.refused(format!(
                "checkpoint {} cannot be read: {e}",
                part.filename().unwrap_or_default()
            ))
        })
    }
}

/// A table's reconciled actions at one version: what a checkpoint of it holds.
#[derive(Debug, Default)]
pub(super) struct State {
    pub(super) protocol: Option<Value>,
    pub(super) metadata: Option<Value>,
    /// Path (and deletion vector, [`file_key`]) → its `add` action, for the files the
    /// version has.
    pub(super) live: BTreeMap<String, Value>,
    /// The same key → its `remove` action, for files removed and not added again
    /// (tombstones).
    pub(super) removed: BTreeMap<String, Value>,
}

/// What a table's `_delta_log/` holds: the versions with a JSON commit, and those
/// with a complete checkpoint (one file, or all parts of a multi-part one).
#[derive(Debug, Default)]
pub(super) struct Log {
    pub(super) commits: BTreeSet<u64>,
    pub(super) checkpoints: BTreeMap<u64, Vec<StorePath>>,
}

impl Log {
    pub(super) fn of(listed: impl IntoIterator<Item = StorePath>) -> Self {
        let mut log = Log::default();
        // (version, parts) → the parts found, for multi-part checkpoints.
        let mut parted: BTreeMap<(u64, u32), Vec<StorePath>> = BTreeMap::new();
        for path in listed {
            let Some(name) = path.filename() else {
                continue;
            };
            if let Some(version) = version_of(name) {
                log.commits.insert(version);
            } else if let Some((version, parts)) = checkpoint::name(name) {
                if parts == 1 {
                    log.checkpoints.insert(version, vec![path]);
                } else {
                    parted.entry((version, parts)).or_default().push(path);
                }
            }
        }
        for ((version, parts), mut found) in parted {
            // A multi-part checkpoint still being written is not one yet.
            if found.len() == parts as usize {
                found.sort_by(|a, b| a.as_ref().cmp(b.as_ref()));
                log.checkpoints.entry(version).or_insert(found);
            }
        }
        log
    }

    /// Which versions can still be read, for the error that says one cannot: those
    /// from version 0 or a checkpoint on, when every commit after it is kept.
    pub(super) fn oldest_readable(&self) -> String {
        let Some(&newest) = self.commits.last() else {
            return "the log has no commit".into();
        };
        let starts = (self.commits.first() == Some(&0))
            .then_some(0)
            .into_iter()
            .chain(self.checkpoints.keys().copied());
        match starts
            .filter(|&c| (c + 1..=newest).all(|v| self.commits.contains(&v)))
            .min()
        {
            Some(oldest) => format!("the oldest version that can be read is {oldest}"),
            None => "no version can be read: the log has a gap no checkpoint covers".into(),
        }
    }
}

/// Reader features whose tables are read correctly here: column mapping by name
/// ([`Columns`]), deletion vectors (`deletion`), timestamps without a time zone, and a
/// vacuum rule for writers.
const READER_FEATURES: [&str; 4] = [
    "columnMapping",
    "deletionVectors",
    "timestampNtz",
    "vacuumProtocolCheck",
];

/// Whether a table with this `protocol` action can be read here; `Err` says why not.
/// Version 2 means column mapping; version 3 names its features, and a feature not
/// read here refuses it (V2 checkpoints: their sidecar files would be missed).
fn readable(protocol: &Value) -> std::result::Result<(), String> {
    let reader = &protocol["minReaderVersion"];
    match reader.as_u64() {
        Some(1 | 2) => Ok(()),
        Some(3) => {
            let features = protocol["readerFeatures"].as_array().into_iter().flatten();
            let unread: Vec<&str> = features
                .filter_map(Value::as_str)
                .filter(|f| !READER_FEATURES.contains(f))
                .collect();
            if unread.is_empty() {
                Ok(())
            } else {
                Err(format!(
                    "needs reader features not read here: {} (read: {})",
                    unread.join(", "),
                    READER_FEATURES.join(", ")
                ))
            }
        }
        _ => Err(format!(
            "needs a reader of protocol version {reader}; malgrupp reads versions 1 to 3"
        )),
    }
}

/// The version of a log file name (`00000000000000000012.json` → 12).
pub(super) fn version_of(name: &str) -> Option<u64> {
    checkpoint::digits(name.strip_suffix(".json")?, 20)
}

fn data_file(add: &Value) -> Option<DataFile> {
    let rows = add
        .get("stats")
        .and_then(Value::as_str)
        .and_then(|s| serde_json::from_str::<Value>(s).ok())
        .and_then(|s| s.get("numRecords")?.as_u64())
        .unwrap_or(0);
    Some(DataFile {
        path: add.get("path")?.as_str()?.to_string(),
        partition: add
            .get("partitionValues")?
            .as_object()?
            .iter()
            .map(|(k, v)| match v {
                Value::Null => Some((k.clone(), None)),
                v => Some((k.clone(), Some(v.as_str()?.to_string()))),
            })
            .collect::<Option<_>>()?,
        size: add.get("size")?.as_u64()?,
        rows,
        deletion_vector: add
            .get("deletionVector")
            .filter(|dv| !dv.is_null())
            .cloned(),
        bounds: Default::default(),
    })
}
