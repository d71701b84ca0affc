//! Staging a run's partitions: each partition's rows are taken from what the run holds
//! ([`Held`]), checked against the pipeline's quality gates, encoded as Parquet and written
//! under a temporary name, on every core, so only a few partitions are ever in memory as
//! whole batches. All or nothing: a failed check or an error discards everything staged.

use std::sync::atomic::{AtomicBool, Ordering};

use super::RunContext;
use super::held::Held;
use crate::config::pipeline::Pipeline;
use crate::error::{Error, Result};
use crate::lake::{atomic, parquet};

/// Checks and stages every partition in `held` (in a dry run: checks only, and returns
/// nothing staged).
pub fn check_and_stage(
    ctx: &RunContext<'_>,
    pipeline: &Pipeline,
    held: &Held,
    dry_run: bool,
) -> Result<Vec<atomic::Staged>> {
    let table = pipeline.target.name;
    let parts = held.partitions();
    // Once a check has failed nothing will be published: the remaining partitions are
    // still checked (all failures are reported together) but no longer encoded.
    let failed = AtomicBool::new(false);
    let done = crate::runtime::parallel_map(
        &parts,
        |part| -> Result<(Vec<String>, Option<atomic::Staged>)> {
            let (kommun, period) = part;
            let batch = held.load(part)?;
            let failures =
                crate::checks::partition_failures(pipeline, ctx.lake, kommun, period, &batch)?;
            if !failures.is_empty() {
                failed.store(true, Ordering::Relaxed);
            }
            if dry_run || failed.load(Ordering::Relaxed) {
                return Ok((failures, None));
            }
            let path = ctx
                .lake
                .partition_file(table, kommun, period, &pipeline.name);
            let bytes = parquet::encode(std::slice::from_ref(&batch))
                .map_err(|e| Error::write(&path, e))?;
            drop(batch);
            Ok((failures, Some(atomic::stage_in_set(&path, &bytes)?)))
        },
    );
    let mut staged = Vec::with_capacity(parts.len());
    let mut failures = Vec::new();
    let mut error = None;
    for r in done {
        match r {
            Some(Ok((f, s))) => {
                failures.extend(f);
                staged.extend(s);
            }
            Some(Err(e)) => error = error.or(Some(e)),
            None => error = error.or(Some(Error::Internal("a writer thread stopped".into()))),
        }
    }
    let outcome = match error {
        Some(e) => Err(e),
        None => crate::checks::verdict(pipeline, failures),
    };
    match outcome {
        Ok(()) => Ok(staged),
        Err(e) => {
            staged.into_iter().for_each(atomic::Staged::discard);
            Err(e)
        }
    }
}
