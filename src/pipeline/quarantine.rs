//! The quarantine side of a run: one Parquet file of rejected rows per extract, replaced
//! when the extract is reprocessed and removed once the extract is superseded.

use std::collections::BTreeSet;

use super::Decoded;
use crate::config::pipeline::Pipeline;
use crate::error::{Error, Result};
use crate::lake::manifest::PipelineState;
use crate::lake::{Lake, atomic, parquet};
use crate::mapping::batch;

/// One quarantine file per extract, replaced on every reprocessing (an extract that is
/// now clean loses its old quarantine file).
pub(super) fn write_quarantine(
    lake: &Lake,
    pipeline: &Pipeline,
    decoded: &[Decoded],
) -> Result<()> {
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
