//! One run of one pipeline: fetch → keep raw → decode → map → stage → publish → manifest.
//!
//! Nothing is published until every extract of the run has been decoded and mapped and
//! the share of rejected rows is within the pipeline's limit; then all partition files
//! are staged (written and fsynced under temporary names) and renamed into place. A
//! failure at any point leaves the previous version of every partition untouched.
//!
//! Unchanged extracts (same bytes, same pipeline file, same key) are skipped, unless a
//! partition they fed is rebuilt because another extract for it changed.
//!
//! Mapped rows wait for staging in [`held::Held`] (in memory up to a budget, spilled
//! beyond it); `stage` checks, encodes and stages them a partition at a time; `report`
//! is what a run hands back.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use crate::config::pipeline::Pipeline;
use crate::error::{Error, Result};
use crate::format;
use crate::lake::manifest::{ExtractState, Lineage, Manifest, PipelineState, RunRecord};
use crate::lake::{Lake, atomic};
use crate::mapping::{self, Mapped};
use crate::normalize::pseudonym::PseudonymKey;
use crate::source::{self, Extract};
use held::Held;
pub use report::{Finished, RunReport};

pub mod held;
mod quarantine;
mod report;
mod stage;
mod whole_file;

/// Rows decoded and mapped at a time: an extract is never held as text cells or typed
/// rows in whole, only as Arrow batches.
pub const CHUNK_ROWS: usize = 65_536;
use quarantine::{remove_superseded_quarantine, write_quarantine};

/// What a run needs besides the pipeline.
pub struct RunContext<'a> {
    /// The lake.
    pub lake: &'a Lake,
    /// Pseudonymization key.
    pub key: &'a PseudonymKey,
    /// The shared HTTP client.
    pub client: &'a reqwest::Client,
    /// Bytes of mapped rows a run holds in memory before it spills them to the lake's
    /// scratch space (`[lake] ingest_memory_mb`; 0: [`held::DEFAULT_BUDGET`]).
    pub memory_bytes: usize,
}

/// How a run is asked to behave (the defaults are a normal nightly run).
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Reprocess every extract, even unchanged ones (backfill).
    pub force: bool,
    /// Only partitions whose period overlaps `from..=to` (`YYYY-MM` or `YYYY`) are written.
    pub periods: Option<(String, String)>,
    /// Fetch, decode and map, but write nothing: the report lists what would be written.
    pub dry_run: bool,
    /// Rows decoded and mapped at a time (0: [`CHUNK_ROWS`]); the output never depends on
    /// it, which the tests show by varying it.
    pub chunk_rows: usize,
}

struct Decoded {
    extract: Extract,
    sha: String,
    /// What mapping found besides the rows (those are in the run's [`Held`]).
    mapped: Mapped,
    /// Partitions this extract feeds.
    parts: Vec<(String, String)>,
    dropped: usize,
}

/// Runs `pipeline` once against the published state in `manifest` (read only: the caller
/// records the result with [`Finished::apply`] under the manifest lock). Never panics on
/// input; errors end up in the report.
pub async fn run(
    ctx: &RunContext<'_>,
    pipeline: &Pipeline,
    manifest: &Manifest,
    opts: &RunOptions,
) -> Finished {
    let started = Instant::now();
    let started_at = chrono::Utc::now();
    let run_id = crate::lake::manifest::run_id(started_at, &pipeline.name);
    let span = tracing::info_span!("run", pipeline = %pipeline.name, run_id = %run_id);
    let _guard = span.enter();
    let mut report = RunReport::new(&pipeline.name, "ok");
    let result = run_inner(ctx, pipeline, manifest, opts, &run_id, &mut report).await;
    let (lineage, state, message) = match result {
        Ok((lineage, state)) => (lineage, state, None),
        Err(e) => {
            report.status = if matches!(e, Error::Gate { .. }) {
                "blocked"
            } else {
                "failed"
            };
            let msg = crate::normalize::personnummer::scrub(&e.to_string());
            tracing::error!(error = %msg, transient = e.is_transient(), "pipeline {}; previous data left in place", report.status);
            report.error = Some(msg.clone());
            report.transient = e.is_transient();
            (Vec::new(), None, Some(msg))
        }
    };
    report.duration = started.elapsed();
    let record = RunRecord {
        run_id,
        pipeline: pipeline.name.clone(),
        started_at: started_at.to_rfc3339(),
        duration_ms: report.duration.as_millis() as u64,
        status: report.status.to_string(),
        message,
        files_read: report.files_read,
        rows_in: report.rows_in,
        rows_written: report.rows_written,
        rows_quarantined: report.rows_quarantined,
        lineage,
        trigger: String::new(),
        scheduled_for: None,
        attempt: 1,
    };
    tracing::info!(
        status = report.status,
        files = report.files_read,
        rows_in = report.rows_in,
        rows_written = report.rows_written,
        quarantined = report.rows_quarantined,
        "run finished"
    );
    Finished {
        report,
        record,
        state,
    }
}

async fn run_inner(
    ctx: &RunContext<'_>,
    pipeline: &Pipeline,
    manifest: &Manifest,
    opts: &RunOptions,
    run_id: &str,
    report: &mut RunReport,
) -> Result<(Vec<Lineage>, Option<PipelineState>)> {
    let extracts = source::fetch(&pipeline.name, &pipeline.source, ctx.client).await?;
    // Everything after the fetch is CPU and disk work without an await: on a
    // multi-threaded runtime (`serve`) the worker is handed over for it, so the API keeps
    // answering while a large extract is mapped. It also means nothing between staging and
    // publishing can be interrupted by a task being cancelled.
    crate::runtime::cpu_bound(|| process(ctx, pipeline, manifest, opts, run_id, report, extracts))
}

/// The part of a run after the fetch (see [`run_inner`]).
fn process(
    ctx: &RunContext<'_>,
    pipeline: &Pipeline,
    manifest: &Manifest,
    opts: &RunOptions,
    run_id: &str,
    report: &mut RunReport,
    extracts: Vec<Extract>,
) -> Result<(Vec<Lineage>, Option<PipelineState>)> {
    report.files_read = extracts.len();
    let fingerprint = format!("{}:{}", pipeline.fingerprint, ctx.key.fingerprint());
    let previous = manifest
        .pipelines
        .get(&pipeline.name)
        .filter(|s| s.fingerprint == fingerprint)
        .cloned()
        .unwrap_or_default();
    let table = pipeline.target.name;

    // Split into changed and unchanged extracts.
    let mut todo: Vec<(Extract, String)> = Vec::new();
    let mut unchanged: BTreeMap<String, ExtractState> = BTreeMap::new();
    let mut renamed = Vec::new();
    for e in extracts {
        let sha = e.sha256(&pipeline.name)?;
        match previous.extracts.get(&sha) {
            Some(state)
                if !opts.force
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
                    renamed.push(Lineage {
                        extract_sha256: sha.clone(),
                        file: e.name.clone(),
                        table: table.to_string(),
                        partitions: state.partitions.clone(),
                    });
                    state.file = e.name;
                }
                unchanged.insert(sha, state);
            }
            _ => todo.push((e, sha)),
        }
    }
    report.files_unchanged = unchanged.len();
    if todo.is_empty() {
        report.status = "unchanged";
        // A failed run may have left the quarantine of an extract that is gone again.
        let current = PipelineState {
            fingerprint,
            extracts: unchanged,
        };
        if opts.dry_run {
            return Ok((Vec::new(), None));
        }
        remove_superseded_quarantine(ctx.lake, &pipeline.name, &current)?;
        let state = (!renamed.is_empty()).then_some(current);
        return Ok((renamed, state));
    }

    // Decode and map the changed extracts (keeping each raw extract first).
    crate::progress::stage(
        &pipeline.name,
        &format!("decoding {} extract(s)", todo.len()),
    );
    let mut held = Held::new(
        ctx.lake,
        &pipeline.name,
        pipeline.target.file_schema(),
        ctx.memory_bytes,
    );
    let mut decoded = Vec::new();
    for (e, sha) in todo {
        decoded.push(decode_one(ctx, pipeline, e, sha, opts, &mut held)?);
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
            let bytes = ctx.lake.read_raw(&state.raw_path)?;
            let e = Extract::in_memory(state.file.clone(), state.raw_path.clone(), bytes);
            let d = decode_one(ctx, pipeline, e, sha, opts, &mut held)?;
            rebuild.extend(d.parts.iter().cloned());
            decoded.push(d);
        }
    }
    decoded.sort_by(|a, b| (&a.extract.name, &a.sha).cmp(&(&b.extract.name, &b.sha)));

    // The quarantine limit: too many bad rows means the extract (or the mapping) is wrong.
    let records: usize = decoded.iter().map(|d| d.mapped.records).sum();
    let rejected: usize = decoded.iter().map(|d| d.mapped.rejected.len()).sum();
    report.rows_in = records;
    report.rows_quarantined = rejected;
    report.rows_dropped = decoded.iter().map(|d| d.dropped).sum();
    if !opts.dry_run {
        write_quarantine(ctx.lake, pipeline, &decoded)?;
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

    // Check and stage every partition file, then publish them together.
    if let Some((from, to)) = &opts.periods {
        held.retain(|(_, period)| period_overlaps(period, from, to));
    }
    report.partition_list = held.partitions();
    report.rows_written = held.rows();
    if !opts.dry_run {
        crate::progress::stage(
            &pipeline.name,
            &format!("writing {} partition(s)", report.partition_list.len()),
        );
    }
    // Quality gates: stale beats wrong, so a failed check publishes nothing.
    let staged = stage::check_and_stage(ctx, pipeline, &held, opts.dry_run)?;
    if opts.dry_run {
        report.partitions = report.partition_list.len();
        return Ok((Vec::new(), None));
    }
    report.partitions = staged.len();
    atomic::publish_all(staged)?;
    drop(held);

    // Record what was published.
    let mut state = PipelineState {
        fingerprint,
        extracts: unchanged,
    };
    // A renamed extract that was decoded again (it feeds a rebuilt partition) is named
    // by its decoded entry below.
    let mut lineage: Vec<Lineage> = renamed
        .into_iter()
        .filter(|l| !decoded.iter().any(|d| d.sha == l.extract_sha256))
        .collect();
    for d in &decoded {
        let parts = d.parts.clone();
        state.extracts.insert(
            d.sha.clone(),
            ExtractState {
                file: d.extract.name.clone(),
                raw_path: ctx.lake.raw_relative(&d.sha, &d.extract.name),
                partitions: parts.clone(),
                run_id: run_id.to_string(),
            },
        );
        lineage.push(Lineage {
            extract_sha256: d.sha.clone(),
            file: d.extract.name.clone(),
            table: table.to_string(),
            partitions: parts,
        });
    }
    remove_superseded_quarantine(ctx.lake, &pipeline.name, &state)?;
    Ok((lineage, Some(state)))
}

/// Whether a partition's period (`YYYY-MM`, or `YYYY` for a whole year) overlaps the
/// inclusive range `from..=to` (each `YYYY-MM` or `YYYY`).
pub fn period_overlaps(period: &str, from: &str, to: &str) -> bool {
    let first = |p: &str| {
        if p.len() == 4 {
            format!("{p}-01")
        } else {
            p.to_string()
        }
    };
    let last = |p: &str| {
        if p.len() == 4 {
            format!("{p}-12")
        } else {
            p.to_string()
        }
    };
    last(period) >= first(from) && first(period) <= last(to)
}

fn decode_one(
    ctx: &RunContext<'_>,
    pipeline: &Pipeline,
    mut extract: Extract,
    sha: String,
    opts: &RunOptions,
    held: &mut Held,
) -> Result<Decoded> {
    // A listed file is read only now, one at a time.
    extract.load(&pipeline.name, &sha)?;
    let data_err = |message: String| Error::Data {
        pipeline: pipeline.name.clone(),
        file: extract.name.clone(),
        message: crate::normalize::personnummer::scrub(&message),
    };
    if !opts.dry_run {
        ctx.lake
            .keep_raw(&ctx.lake.raw_relative(&sha, &extract.name), &extract.bytes)?;
    }
    let extract_id = sha[..16].to_string();
    let order = std::sync::Arc::new((extract.name.clone(), sha.clone()));
    let mut mapped = Mapped::default();
    let mut parts = BTreeSet::new();
    let dropped = format::decode_chunks(
        &pipeline.format,
        &pipeline.table,
        &extract.bytes,
        if opts.chunk_rows == 0 {
            CHUNK_ROWS
        } else {
            opts.chunk_rows
        },
        &mut |chunk| {
            let mut next =
                mapping::map_extract(pipeline, &chunk, &extract.name, &extract_id, ctx.key)?;
            parts.extend(next.partitions.keys().cloned());
            held.push(&order, std::mem::take(&mut next.partitions))
                .map_err(ChunkError::Lake)?;
            mapped.absorb(next);
            crate::progress::rows(&pipeline.name, mapped.records as u64);
            Ok(())
        },
    )
    .map_err(|e| match e {
        ChunkError::Format(e) => data_err(e.to_string()),
        ChunkError::Mapping(e) => data_err(e.to_string()),
        ChunkError::Lake(e) => e,
    })?;
    held.coalesce(&order)?;
    // The bytes are kept on disk (`keep_raw`) and everything the run needs from them is
    // mapped: holding them until every extract is decoded would add the size of all the
    // night's files to the peak.
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
