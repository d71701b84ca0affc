//! Which of a run's extracts changed: an extract whose bytes were published before under
//! the same pipeline file and key, with every partition it fed still in place, is
//! skipped (unless the run is forced); the rest are decoded and mapped.

use std::collections::BTreeMap;

use super::RunContext;
use crate::config::pipeline::Pipeline;
use crate::error::Result;
use crate::lake::manifest::{ExtractState, Lineage, PipelineState};
use crate::source::Extract;

/// A run's extracts sorted by whether they need doing.
pub(super) struct Changes {
    /// Changed (or forced) extracts with their content hashes, in fetch order.
    pub(super) todo: Vec<(Extract, String)>,
    /// Unchanged extracts by content hash, as published (under their current names).
    pub(super) unchanged: BTreeMap<String, ExtractState>,
    /// Lineage of unchanged extracts that arrived under a new name.
    pub(super) renamed: Vec<Lineage>,
    /// Unchanged extracts whose raw bytes the lake does not hold (a lake restored from
    /// its store, where the raw extracts stay), as this fetch offers them: decoded from
    /// here should a partition they feed be rebuilt. Empty otherwise, so the fetched
    /// bytes of unchanged extracts are not held through the run.
    pub(super) without_raw: BTreeMap<String, Extract>,
}

/// Sorts `extracts` against the pipeline's `previous` published state.
pub(super) fn sort(
    ctx: &RunContext<'_>,
    pipeline: &Pipeline,
    previous: &PipelineState,
    extracts: Vec<Extract>,
    force: bool,
) -> Result<Changes> {
    let table = pipeline.target.name;
    let mut changes = Changes {
        todo: Vec::new(),
        unchanged: BTreeMap::new(),
        renamed: Vec::new(),
        without_raw: BTreeMap::new(),
    };
    for e in extracts {
        let sha = e.sha256(&pipeline.name)?;
        match previous.extracts.get(&sha) {
            Some(state)
                if !force
                    && state.partitions.iter().all(|(k, p)| {
                        ctx.lake
                            .partition_file(table, k, p, &pipeline.name)
                            .exists()
                    }) =>
            {
                let mut state = state.clone();
                // The same bytes under a new name: nothing to redo, but lineage follows
                // the name the extract has now.
                if state.file != e.name {
                    changes.renamed.push(Lineage {
                        extract_sha256: sha.clone(),
                        file: e.name.clone(),
                        table: table.to_string(),
                        partitions: state.partitions.clone(),
                    });
                    state.file = e.name.clone();
                }
                if !ctx.lake.has_raw(&state.raw_path) {
                    changes.without_raw.insert(sha.clone(), e);
                }
                changes.unchanged.insert(sha, state);
            }
            _ => changes.todo.push((e, sha)),
        }
    }
    Ok(changes)
}
