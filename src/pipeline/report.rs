//! What a run hands back: the report printed by `malgrupp run` and, for the ledger and
//! the manifest, the finished run ([`Finished::apply`] records it).

use crate::lake::manifest::{Manifest, PipelineState, RunRecord};

/// Outcome of one pipeline run, as printed by `malgrupp run`.
#[derive(Debug, Clone)]
pub struct RunReport {
    /// Pipeline name.
    pub pipeline: String,
    /// `ok`, `unchanged`, `failed`, `blocked` (a quality gate failed) or `skipped`
    /// (another run of the pipeline held its lock).
    pub status: &'static str,
    /// Error of a failed run (already scrubbed of identity numbers).
    pub error: Option<String>,
    /// Whether the failure may pass if retried (a source's timeout, 5xx, 429…).
    pub transient: bool,
    /// Extracts fetched.
    pub files_read: usize,
    /// Extracts skipped because unchanged.
    pub files_unchanged: usize,
    /// Records considered.
    pub rows_in: usize,
    /// Rows published.
    pub rows_written: usize,
    /// Rows quarantined.
    pub rows_quarantined: usize,
    /// Rows dropped by `skip_trailing_rows` / `drop_rows_where`.
    pub rows_dropped: usize,
    /// Partitions published.
    pub partitions: usize,
    /// Partitions (kommun, period) written — or, in a dry run, that would be written.
    pub partition_list: Vec<(String, String)>,
    /// Wall time.
    pub duration: std::time::Duration,
}

impl RunReport {
    /// An empty report in state `status`.
    pub fn new(pipeline: &str, status: &'static str) -> Self {
        RunReport {
            pipeline: pipeline.to_string(),
            status,
            error: None,
            transient: false,
            files_read: 0,
            files_unchanged: 0,
            rows_in: 0,
            rows_written: 0,
            rows_quarantined: 0,
            rows_dropped: 0,
            partitions: 0,
            partition_list: Vec::new(),
            duration: Default::default(),
        }
    }

    /// True for `ok` and `unchanged`.
    pub fn succeeded(&self) -> bool {
        matches!(self.status, "ok" | "unchanged")
    }
}

/// A finished run: its report, its ledger record, and the pipeline's new published state
/// (None when nothing was published). Applied to the manifest on disk by [`Finished::apply`].
#[derive(Debug)]
pub struct Finished {
    /// What the run did.
    pub report: RunReport,
    /// The ledger entry.
    pub record: RunRecord,
    /// The pipeline's state after the run, when it published.
    pub state: Option<PipelineState>,
}

impl Finished {
    /// Records the run in `manifest` (called under the manifest lock on a fresh copy).
    pub fn apply(&self, manifest: &mut Manifest) {
        if let Some(state) = &self.state {
            manifest
                .pipelines
                .insert(self.report.pipeline.clone(), state.clone());
        }
        manifest.runs.push(self.record.clone());
    }
}
