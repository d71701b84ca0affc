//! The quarantine side of a run: one Parquet file of rejected rows per extract, replaced
//! when the extract is reprocessed and removed once the extract is superseded, and the
//! limit on the share of rejected rows above which nothing is published.

use std::collections::BTreeSet;

use super::RunReport;
use super::decode::Decoded;
use crate::config::pipeline::Pipeline;
use crate::error::{Error, Result};
use crate::lake::manifest::PipelineState;
use crate::lake::{Lake, atomic, parquet};
use crate::mapping::batch;

/// Counts the run's rows, writes the quarantine (not in a dry run) and fails the run
/// when the share of rejected rows is above the pipeline's `max_quarantined_share`: that
/// many bad rows means the extract (or the mapping) is wrong.
pub(super) fn record_and_limit(
    lake: &Lake,
    pipeline: &Pipeline,
    dry_run: bool,
    decoded: &[Decoded],
    report: &mut RunReport,
) -> Result<()> {
    let records: usize = decoded.iter().map(|d| d.mapped.records).sum();
    let rejected: usize = decoded.iter().map(|d| d.mapped.rejected.len()).sum();
    report.rows_in = records;
    report.rows_quarantined = rejected;
    report.rows_dropped = decoded.iter().map(|d| d.dropped).sum();
    if !dry_run {
        write_quarantine(lake, pipeline, decoded)?;
    }
    if records > 0 && rejected as f64 / records as f64 > pipeline.max_quarantined_share {
        let first = decoded
            .iter()
            .flat_map(|d| d.mapped.rejected.iter().map(move |r| (d, r)))
            .next();
        let example = first
            .map(|(d, r)| {
                format!(
                    "; first: file {}, row {}, column {}: {}",
                    d.extract.name,
                    r.row,
                    r.column.as_deref().unwrap_or("-"),
                    r.reason
                )
            })
            .unwrap_or_default();
        return Err(Error::Data {
            pipeline: pipeline.name.clone(),
            file: decoded
                .iter()
                .map(|d| d.extract.name.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            message: format!(
                "{rejected} of {records} rows rejected, above max_quarantined_share {}{example}; nothing published (see `malgrupp sql \"select * from quarantine\"`)",
                pipeline.max_quarantined_share
            ),
        });
    }
    Ok(())
}

/// One quarantine file per extract, replaced on every reprocessing (an extract that is
/// now clean loses its old quarantine file).
fn write_quarantine(lake: &Lake, pipeline: &Pipeline, decoded: &[Decoded]) -> Result<()> {
    for d in decoded {
        let id = &d.sha[..16];
        let path = lake.quarantine_file(&pipeline.name, id);
        if d.mapped.rejected.is_empty() {
            if path.exists() {
                std::fs::remove_file(&path).map_err(|e| Error::io(&path, e))?;
            }
            continue;
        }
        let batch = batch::rejected_to_batch(&d.extract.name, id, &d.mapped.rejected)?;
        let bytes = parquet::encode(&[batch]).map_err(|e| Error::write(&path, e))?;
        atomic::write(&path, &bytes)?;
    }
    Ok(())
}

/// After a successful run only the extracts in `state` are current: quarantine files of
/// extracts that were replaced would otherwise keep showing rows that no longer matter.
pub(super) fn remove_superseded_quarantine(
    lake: &Lake,
    pipeline: &str,
    state: &PipelineState,
) -> Result<()> {
    let dir = lake.quarantine_dir().join(format!("pipeline={pipeline}"));
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Ok(());
    };
    let current: BTreeSet<&str> = state.extracts.keys().map(|sha| &sha[..16]).collect();
    for e in entries.flatten() {
        let path = e.path();
        let stem = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        if path.extension().is_some_and(|x| x == "parquet") && !current.contains(stem.as_str()) {
            std::fs::remove_file(&path).map_err(|e| Error::io(&path, e))?;
        }
    }
    Ok(())
}
