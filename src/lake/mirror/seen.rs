//! What this lake last committed to its Delta copy (`_meta/lake_delta`): each table's
//! version and file names then, and each local file's name by content, so a sync reads
//! and lists only what changed since, and a catch-up knows where the copy's ledger was.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use super::local::Local;
use super::{Lake, Location};
use crate::error::{Error, Result};

/// What this lake last committed where (`_meta/lake_delta`).
#[derive(Debug, Default, Serialize, Deserialize)]
pub(super) struct Seen {
    /// The target, as `Location`'s Debug shows it.
    pub(super) target: String,
    /// Per table: its version after the last sync and a digest of its file names then.
    pub(super) tables: BTreeMap<String, (u64, String)>,
    /// Per local file (its path under the lake root): its name in its table by content,
    /// trusted while its size and modification time are these.
    pub(super) files: BTreeMap<String, SeenFile>,
    /// Per raw extract and quarantine file uploaded to the lake's home store
    /// (`evidence.rs`, its path under the lake root): what it was uploaded as.
    #[serde(default)]
    pub(super) kept: BTreeMap<String, SeenFile>,
    /// Per pipeline: the digest of its processed extracts as last uploaded to the lake's
    /// home store (`processed.rs`).
    #[serde(default)]
    pub(super) processed: BTreeMap<String, String>,
    /// The version of the target's ledger a catch-up last brought this lake up to
    /// ([`Seen::caught_up`]): a catch-up does not read a ledger at that version again.
    #[serde(skip)]
    pub(super) caught_up: Option<u64>,
}

/// What [`Seen::caught_up`] keeps, in a file of its own: catch-ups run beside syncs
/// (`serve`'s poll), and one writing `_meta/lake_delta` could undo what a sync wrote.
#[derive(Serialize, Deserialize)]
struct CaughtUpTo {
    target: String,
    ledger: u64,
}

impl Seen {
    /// Where it is kept.
    pub(super) fn path(lake: &Lake) -> std::path::PathBuf {
        lake.root().join("_meta").join("lake_delta")
    }

    /// What this lake last committed to `target` (nothing when it committed elsewhere
    /// last: names by content hold anywhere, versions only for the target they came from).
    pub(super) fn load(lake: &Lake, target: &Location) -> Seen {
        let shown_target = format!("{target:?}");
        let mut seen: Seen = std::fs::read(Seen::path(lake))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default();
        if seen.target != shown_target {
            seen.tables.clear();
            seen.kept.clear();
            seen.processed.clear();
            seen.target = shown_target;
        }
        seen.caught_up = std::fs::read(Seen::caught_up_path(lake))
            .ok()
            .and_then(|b| serde_json::from_slice::<CaughtUpTo>(&b).ok())
            .filter(|c| c.target == seen.target)
            .map(|c| c.ledger);
        seen
    }

    fn caught_up_path(lake: &Lake) -> std::path::PathBuf {
        lake.root().join("_meta").join("lake_delta.caught_up")
    }

    /// Records that this lake holds every run of the target's ledger at `version`, so
    /// the catch-ups after this one (the refresh a poll starts, its commit) read it
    /// only when it moved again.
    pub(super) fn caught_up(&self, lake: &Lake, version: u64) -> Result<()> {
        let record = CaughtUpTo {
            target: self.target.clone(),
            ledger: version,
        };
        let bytes = serde_json::to_vec(&record).map_err(|e| Error::Internal(e.to_string()))?;
        super::atomic::write(&Seen::caught_up_path(lake), &bytes)
    }

    /// `local`'s name by content as the last commit named it, while its size and
    /// modification time are the ones it was named at.
    pub(super) fn known(&self, local: &Local) -> Option<String> {
        self.files
            .get(&local.key)
            .filter(|s| s.size == local.size && s.modified_ns == local.modified_ns)
            .map(|s| s.name.clone())
    }
}

/// A local file's name by content, with what it was taken from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct SeenFile {
    pub(super) size: u64,
    pub(super) modified_ns: u64,
    pub(super) name: String,
}

pub(super) fn seen_file(local: &Local, name: String) -> SeenFile {
    SeenFile {
        size: local.size,
        modified_ns: local.modified_ns,
        name,
    }
}
