//! The lake's manifest: which extracts each pipeline has processed (so unchanged ones
//! are skipped) and the lineage of every run (which run produced which partitions from
//! which extract). Stored as JSON under `_meta/`, rewritten atomically after each run.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::atomic;
use crate::error::{Error, Result};

/// The whole manifest.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Manifest {
    /// Format version.
    pub version: u32,
    /// Per pipeline: what was last published.
    pub pipelines: BTreeMap<String, PipelineState>,
    /// Run history, oldest first.
    pub runs: Vec<RunRecord>,
}

/// Last published state of a pipeline.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct PipelineState {
    /// Fingerprint of the pipeline file and the pseudonymization key it was run with.
    pub fingerprint: String,
    /// Extracts by SHA-256.
    pub extracts: BTreeMap<String, ExtractState>,
}

/// One processed extract.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ExtractState {
    /// Original file name.
    pub file: String,
    /// Where the raw bytes are kept, relative to the lake root.
    pub raw_path: String,
    /// Partitions (kommun, period) it contributed to.
    pub partitions: Vec<(String, String)>,
    /// Run that last processed it.
    pub run_id: String,
}

/// One run of one pipeline (the run ledger and lineage).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunRecord {
    /// Run id (UTC timestamp and pipeline).
    pub run_id: String,
    /// Pipeline name.
    pub pipeline: String,
    /// Start, RFC 3339 UTC.
    pub started_at: String,
    /// Duration in milliseconds.
    pub duration_ms: u64,
    /// `ok`, `unchanged`, `failed`, `blocked` (quality gate) or `skipped` (lock held).
    pub status: String,
    /// Error message of a failed run.
    pub message: Option<String>,
    /// Extracts read.
    pub files_read: usize,
    /// Records considered.
    pub rows_in: usize,
    /// Rows published.
    pub rows_written: usize,
    /// Rows quarantined.
    pub rows_quarantined: usize,
    /// Lineage: extract SHA-256 → file name and the partitions it fed in this run.
    pub lineage: Vec<Lineage>,
    /// What started it: `manual`, `schedule`, `catch-up`, `backfill` or `api`.
    #[serde(default)]
    pub trigger: String,
    /// For scheduled runs, the schedule time it ran for (RFC 3339 UTC); catch-up after
    /// downtime starts from the newest of these.
    #[serde(default)]
    pub scheduled_for: Option<String>,
    /// Attempt number (1 = first; retries after transient failures count up).
    #[serde(default)]
    pub attempt: u32,
}

impl RunRecord {
    /// A record of a run that did no work: a `skipped` trigger or an `abandoned` run,
    /// stamped now.
    pub fn marker(
        pipeline: &str,
        status: &str,
        message: String,
        trigger: &str,
        scheduled_for: Option<String>,
    ) -> RunRecord {
        let now = chrono::Utc::now();
        RunRecord {
            run_id: run_id(now, pipeline),
            pipeline: pipeline.to_string(),
            started_at: now.to_rfc3339(),
            duration_ms: 0,
            status: status.to_string(),
            message: Some(message),
            files_read: 0,
            rows_in: 0,
            rows_written: 0,
            rows_quarantined: 0,
            lineage: Vec::new(),
            trigger: trigger.to_string(),
            scheduled_for,
            attempt: 0,
        }
    }

    /// `ok` or `unchanged`.
    pub fn succeeded(&self) -> bool {
        matches!(self.status.as_str(), "ok" | "unchanged")
    }

    /// `failed` or `blocked` (a quality gate).
    pub fn failed(&self) -> bool {
        matches!(self.status.as_str(), "failed" | "blocked")
    }
}

/// A run's id: its start (UTC, to the millisecond) and the pipeline.
pub fn run_id(started: chrono::DateTime<chrono::Utc>, pipeline: &str) -> String {
    format!("{}-{pipeline}", started.format("%Y%m%dT%H%M%S%.3fZ"))
}

/// Whether `text` is a run's id as [`run_id`] writes it (`20261201T020000.000Z-kalmar_kaa`).
pub fn is_run_id(text: &str) -> bool {
    text.split_once("Z-").is_some_and(|(started, pipeline)| {
        !pipeline.is_empty()
            && chrono::NaiveDateTime::parse_from_str(started, "%Y%m%dT%H%M%S%.3f").is_ok()
    })
}

/// One extract's contribution to a run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Lineage {
    /// SHA-256 of the extract.
    pub extract_sha256: String,
    /// File name.
    pub file: String,
    /// Target table.
    pub table: String,
    /// Partitions written from it.
    pub partitions: Vec<(String, String)>,
}

/// Run records kept: about 27 years of one nightly run for each of ten pipelines would be
/// 100 000; 20 000 keeps years of history while the file stays a few MB.
pub const MAX_RUNS: usize = 20_000;

/// Space kept in `_meta/` for the next manifest write (`Manifest::save`).
const SPARE: &str = "manifest.spare";
/// What the spare holds beyond the manifest's size: room for the manifest to grow by a
/// few hundred ledger rows while the disk stays full.
const SPARE_MARGIN: u64 = 256 * 1024;

/// Location of the manifest under a lake root.
pub fn path(root: &Path) -> PathBuf {
    root.join("_meta").join("manifest.json")
}

impl Manifest {
    /// Reads the manifest (empty when the lake is new).
    pub fn load(root: &Path) -> Result<Self> {
        let p = path(root);
        match std::fs::read(&p) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map_err(|e| Error::Internal(format!("{} is damaged: {e}", p.display()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Manifest {
                version: 1,
                ..Manifest::default()
            }),
            Err(e) => Err(Error::io(p, e)),
        }
    }

    /// Applies `change` to the manifest on disk under the manifest lock, reloading it
    /// first, so runs of different pipelines — in one process or in several — never lose
    /// each other's entries. The run history keeps the newest [`MAX_RUNS`] records.
    pub fn update(root: &Path, change: impl FnOnce(&mut Manifest)) -> Result<()> {
        let _lock = super::lock::LakeLock::acquire_blocking(root, "manifest")?;
        let mut m = Manifest::load(root)?;
        change(&mut m);
        if m.runs.len() > MAX_RUNS {
            m.runs.drain(..m.runs.len() - MAX_RUNS);
        }
        m.save(root)
    }

    /// The newest record of `pipeline` that was a real attempt (not a skipped trigger).
    pub fn last_run(&self, pipeline: &str) -> Option<&RunRecord> {
        self.runs
            .iter()
            .rev()
            .find(|r| r.pipeline == pipeline && r.status != "skipped")
    }

    /// The newest successful run of `pipeline`.
    pub fn last_success(&self, pipeline: &str) -> Option<&RunRecord> {
        self.runs
            .iter()
            .rev()
            .find(|r| r.pipeline == pipeline && r.succeeded())
    }

    /// Writes the manifest atomically, into space reserved by the previous write, so
    /// that the ledger row of a run that failed on a full disk is still recorded.
    pub fn save(&self, root: &Path) -> Result<()> {
        let bytes = serde_json::to_vec_pretty(self).map_err(|e| Error::Internal(e.to_string()))?;
        let spare = root.join("_meta").join(SPARE);
        atomic::write_reserved(&path(root), &spare, &bytes, SPARE_MARGIN)
    }
}
