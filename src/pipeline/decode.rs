//! Decoding and mapping a run's changed extracts, chunk by chunk, into the run's
//! [`Held`] rows: each raw extract is kept in the lake first, a file that cannot be
//! decoded or mapped as a whole fails the run as [`Error::Data`], rejected rows are
//! collected for quarantine. Unchanged extracts that feed a partition being rebuilt are
//! decoded again from their kept raw bytes (or, where the lake does not hold them, from
//! this run's fetch), so the partition is rebuilt from all of them.
//!
//! Extracts are decoded several at a time, one per core, as long as their bytes together
//! stay under a quarter of the run's memory budget ([`InFlight`]): between its chunks an
//! extract has serial work (keeping the raw file, holding the mapped rows), and on its
//! own it kept a national ingest's cores busy half the time. What is held does not depend
//! on the order they finish in: [`Held`] orders rows by extract, then file order.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use super::held::Held;
use super::in_flight::InFlight;
use super::{CHUNK_ROWS, RunContext, RunOptions, whole_file};
use crate::config::pipeline::Pipeline;
use crate::error::{Error, Result};
use crate::format;
use crate::lake::manifest::ExtractState;
use crate::mapping::{self, Mapped};
use crate::source::Extract;

/// One extract of the run, decoded and mapped.
pub(super) struct Decoded {
    pub(super) extract: Extract,
    pub(super) sha: String,
    /// What mapping found besides the rows (those are in the run's [`Held`]).
    pub(super) mapped: Mapped,
    /// Partitions this extract feeds.
    pub(super) parts: Vec<(String, String)>,
    /// Data rows dropped by the format's options (trailer, filters).
    pub(super) dropped: usize,
}

/// Decodes every extract of `todo`, then every unchanged extract that feeds a partition
/// they feed (taking it out of `unchanged`), until no further partition is touched; an
/// unchanged extract in `without_raw` is decoded as this run fetched it.
/// Sorted by file name and hash, so the output does not depend on the fetch order.
pub(super) fn all(
    ctx: &RunContext<'_>,
    pipeline: &Pipeline,
    opts: &RunOptions,
    todo: Vec<(Extract, String)>,
    unchanged: &mut BTreeMap<String, ExtractState>,
    mut without_raw: BTreeMap<String, Extract>,
    held: &mut Held,
) -> Result<Vec<Decoded>> {
    let budget = held.budget();
    let held = Mutex::new(held);
    let mapped_rows = AtomicUsize::new(0);
    let run = Shared {
        ctx,
        pipeline,
        opts,
        held: &held,
        mapped_rows: &mapped_rows,
    };
    let in_flight = InFlight::new(budget / 4);
    let todo: Vec<Mutex<Option<(Extract, String)>>> =
        todo.into_iter().map(|t| Mutex::new(Some(t))).collect();
    // Once an extract has failed the run, those not yet started are skipped (`Ok(None)`),
    // as decoding them one by one would stop at it. The failure reported is the first in
    // the extracts' order among those decoded (nearly always the first of them all: one
    // is skipped only when it had not started by the time the failed one ended).
    let failed = AtomicBool::new(false);
    let done = crate::runtime::parallel_map(&todo, |slot| -> Result<Option<Decoded>> {
        let (e, sha) = lock(slot)
            .take()
            .ok_or_else(|| Error::Internal("an extract was decoded twice".into()))?;
        let size = e
            .size()
            .map_or(usize::MAX, |n| usize::try_from(n).unwrap_or(usize::MAX));
        let _pass = in_flight.enter(size);
        if failed.load(Ordering::Relaxed) {
            return Ok(None);
        }
        let d = one(&run, e, sha);
        if d.is_err() {
            failed.store(true, Ordering::Relaxed);
        }
        d.map(Some)
    });
    let mut decoded = Vec::with_capacity(done.len());
    let mut skipped = false;
    for d in done {
        match d.ok_or_else(|| Error::Internal("a decoding thread stopped".into()))?? {
            Some(d) => decoded.push(d),
            None => skipped = true,
        }
    }
    if skipped {
        return Err(Error::Internal(
            "an extract was skipped, none failed".into(),
        ));
    }
    // Partitions to rebuild, and unchanged extracts that also feed them.
    let mut rebuild: BTreeSet<(String, String)> = decoded
        .iter()
        .flat_map(|d| d.parts.iter().cloned())
        .collect();
    loop {
        let extra: Vec<String> = unchanged
            .iter()
            .filter(|(_, s)| s.partitions.iter().any(|p| rebuild.contains(p)))
            .map(|(sha, _)| sha.clone())
            .collect();
        if extra.is_empty() {
            break;
        }
        for sha in extra {
            let Some(state) = unchanged.remove(&sha) else {
                continue;
            };
            let e = match without_raw.remove(&sha) {
                Some(fetched) => fetched,
                None => Extract::listed(
                    state.file.clone(),
                    state.raw_path.clone(),
                    ctx.lake.raw_path(&state.raw_path),
                ),
            };
            let d = one(&run, e, sha)?;
            rebuild.extend(d.parts.iter().cloned());
            decoded.push(d);
        }
    }
    decoded.sort_by(|a, b| (&a.extract.name, &a.sha).cmp(&(&b.extract.name, &b.sha)));
    Ok(decoded)
}

/// What the extracts decoded at the same time share.
struct Shared<'r, 'c> {
    ctx: &'r RunContext<'c>,
    pipeline: &'r Pipeline,
    opts: &'r RunOptions,
    held: &'r Mutex<&'r mut Held>,
    /// Rows mapped so far by the run, for the progress bar.
    mapped_rows: &'r AtomicUsize,
}

/// The lock's value, also when a thread panicked holding it (its run fails anyway).
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Keeps, decodes and maps one extract.
fn one(run: &Shared<'_, '_>, mut extract: Extract, sha: String) -> Result<Decoded> {
    let Shared {
        ctx,
        pipeline,
        opts,
        ..
    } = *run;
    let data_err = |message: String| Error::Data {
        pipeline: pipeline.name.clone(),
        file: extract.name.clone(),
        message: crate::normalize::personnummer::scrub(&message),
    };
    // The extract is read a block at a time, never held, and always checked against its
    // hash: copied into the lake's raw copy (checked on the way) and decoded from that
    // copy; or, when there is nothing to keep (a dry run, or the same content kept
    // before), decoded from the content itself, checked as it is read.
    let raw = ctx.lake.raw_relative(&sha, &extract.name);
    let content = extract.content(&pipeline.name, &sha)?;
    let input: Box<dyn std::io::Read + Send + '_> = if opts.dry_run || ctx.lake.has_raw(&raw) {
        Box::new(content)
    } else {
        ctx.lake
            .keep_raw(&raw, content, |e| extract.read_error(&pipeline.name, e))?;
        let path = ctx.lake.raw_path(&raw);
        Box::new(std::fs::File::open(&path).map_err(|e| Error::io(path, e))?)
    };
    let extract_id = sha[..16].to_string();
    let order = std::sync::Arc::new((extract.name.clone(), sha.clone()));
    let mut mapped = Mapped::default();
    let mut parts = BTreeSet::new();
    let dropped = format::decode_chunks_ahead(
        &pipeline.format,
        &pipeline.table,
        input,
        if opts.chunk_rows == 0 {
            CHUNK_ROWS
        } else {
            opts.chunk_rows
        },
        &mut |chunk| {
            let mut next =
                mapping::map_extract(pipeline, &chunk, &extract.name, &extract_id, ctx.key)?;
            parts.extend(next.partitions.keys().cloned());
            lock(run.held)
                .push(&order, std::mem::take(&mut next.partitions))
                .map_err(ChunkError::Lake)?;
            let rows = run.mapped_rows.fetch_add(next.records, Ordering::Relaxed);
            crate::progress::rows(&pipeline.name, (rows + next.records) as u64);
            mapped.absorb(next);
            Ok(())
        },
    )
    .map_err(|e| match e {
        // Reading the content failed (or it changed since it was hashed): the source's
        // problem, not the data's.
        ChunkError::Format(format::FormatError::Read { source, .. }) => {
            extract.read_error(&pipeline.name, source)
        }
        ChunkError::Format(e) => data_err(e.to_string()),
        ChunkError::Mapping(e) => data_err(e.to_string()),
        ChunkError::Lake(e) => e,
    })?;
    lock(run.held).coalesce(&order)?;
    // A fetched extract's bytes are kept on disk (`keep_raw`) and everything the run
    // needs from them is mapped: holding them until every extract is decoded would add
    // the size of all the night's files to the peak.
    extract.bytes = Vec::new();
    // The first rejections are logged one by one; the rest only counted (the
    // quarantine table has them all), so a bad national extract cannot flood the log.
    const LOGGED: usize = 10;
    for r in mapped.rejected.iter().take(LOGGED) {
        tracing::warn!(file = %extract.name, row = r.row, column = r.column.as_deref().unwrap_or("-"), reason = %r.reason, "row quarantined");
    }
    if mapped.rejected.len() > LOGGED {
        tracing::warn!(file = %extract.name, more = mapped.rejected.len() - LOGGED, "further rows quarantined");
    }

    if let Some(message) = whole_file::problem(&mapped, &parts, dropped) {
        return Err(data_err(message));
    }
    let parts = parts.into_iter().collect();
    Ok(Decoded {
        dropped,
        parts,
        mapped,
        extract,
        sha,
    })
}

/// Why decoding an extract chunk by chunk stopped. A failure to spill is the lake's, not
/// the extract's: kept apart from the decoder's and the mapping's, which concern the file.
#[derive(Debug)]
enum ChunkError {
    /// The file cannot be decoded.
    Format(format::FormatError),
    /// The file cannot be mapped.
    Mapping(mapping::MappingError),
    /// Mapped rows could not be held (spilled) by the lake.
    Lake(Error),
}

impl From<format::FormatError> for ChunkError {
    fn from(e: format::FormatError) -> Self {
        ChunkError::Format(e)
    }
}

impl From<mapping::MappingError> for ChunkError {
    fn from(e: mapping::MappingError) -> Self {
        ChunkError::Mapping(e)
    }
}
