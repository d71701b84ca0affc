//! What this lake last committed to its Delta copy (`_meta/lake_delta`): each table's
//! version and file names then, and each local file's name by content, so a sync reads
//! and lists only what changed since, and a catch-up knows where the copy's ledger was.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use super::local::Local;
use super::{Lake, Location};

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
            seen.target = shown_target;
        }
        seen
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
