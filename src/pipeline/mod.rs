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
//! [`process`] reads top-down as the phases of a run after the fetch: `changes` sorts
//! out the unchanged extracts, `decode` decodes and maps the rest into [`held::Held`]
//! (in memory up to a budget, spilled beyond it), `quarantine` writes the rejected rows
//! and enforces their limit, `stage` checks, encodes and stages the partitions one at a
//! time, then they are published together and recorded; `report` is what a run hands
//! back.

use std::time::Instant;

use crate::config::pipeline::Pipeline;
use crate::error::{Error, Result};
use crate::lake::manifest::{ExtractState, Lineage, Manifest, PipelineState, RunRecord};
use crate::lake::{Lake, atomic};
use crate::normalize::pseudonym::PseudonymKey;
use crate::source::{self, Extract};
use changes::Changes;
use decode::Decoded;
use held::Held;
use quarantine::remove_superseded_quarantine;
pub use report::{Finished, RunReport};

mod changes;
mod decode;
pub mod held;
mod in_flight;
mod quarantine;
mod report;
mod stage;
mod whole_file;

/// Rows decoded and mapped at a time: an extract is never held as text cells or typed
/// rows in whole, only as Arrow batches.
pub const CHUNK_ROWS: usize = 65_536;

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
    /// The pipeline's lease on the lake's shared object store, when it has one
    /// (src/service/run_lease.rs): checked right before the run's files are put in place.
    pub lease: Option<&'a crate::lake::lease_keeper::KeptLease>,
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

/// The part of a run after the fetch (see [`run_inner`]), phase by phase: sort out the
/// unchanged extracts, decode and map the rest, quarantine rejected rows (failing above
/// the limit), check and stage the partitions, publish them together, record what was
/// published. Nothing is published before every phase before it has succeeded.
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

    let Changes {
        todo,
        mut unchanged,
        renamed,
        without_raw,
    } = changes::sort(ctx, pipeline, &previous, extracts, opts.force)?;
    report.files_unchanged = unchanged.len();
    if todo.is_empty() {
        let current = PipelineState {
            fingerprint,
            extracts: unchanged,
        };
        return nothing_changed(ctx, pipeline, opts, report, current, renamed);
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
    let decoded = decode::all(
        ctx,
        pipeline,
        opts,
        todo,
        &mut unchanged,
        without_raw,
        &mut held,
    )?;

    // The quarantine limit: too many bad rows means the extract (or the mapping) is wrong.
    quarantine::record_and_limit(ctx.lake, pipeline, opts.dry_run, &decoded, report)?;

    // Check and stage every partition file, then publish them together.
    let Some(staged) = check_and_stage(ctx, pipeline, opts, &mut held, report)? else {
        return Ok((Vec::new(), None));
    };
    report.partitions = staged.len();
    // Spill files gone first: publishing syncs the lake's filesystem, and their pages
    // would be written out for nothing.
    drop(held);
    {
        // A `[lake] delta` sync lists the tables under this lock: all of the run's
        // files or none of them.
        let _tables = crate::lake::lock::LakeLock::acquire_blocking(
            ctx.lake.root(),
            crate::lake::lock::TABLES_LOCK,
        )?;
        // Another host may run the pipeline once the lease is lost: this run's files
        // must not land after (or between) that host's.
        if let Some(lease) = ctx.lease
            && let Err(why) = lease.check()
        {
            staged.into_iter().for_each(atomic::Staged::discard);
            return Err(Error::Lease {
                lease: lease.shown().to_string(),
                message: format!(
                    "{why}; nothing of this run of {} was put in place (the last good data stays)",
                    pipeline.name
                ),
            });
        }
        atomic::publish_all(staged)?;
    }

    let state = PipelineState {
        fingerprint,
        extracts: unchanged,
    };
    record(ctx, pipeline, run_id, state, renamed, &decoded)
}

/// The end of a run in which no extract changed: only names may have, and a failed run
/// may have left the quarantine of an extract that is gone again.
fn nothing_changed(
    ctx: &RunContext<'_>,
    pipeline: &Pipeline,
    opts: &RunOptions,
    report: &mut RunReport,
    current: PipelineState,
    renamed: Vec<Lineage>,
) -> Result<(Vec<Lineage>, Option<PipelineState>)> {
    report.status = "unchanged";
    if opts.dry_run {
        return Ok((Vec::new(), None));
    }
    remove_superseded_quarantine(ctx.lake, &pipeline.name, &current)?;
    let state = (!renamed.is_empty()).then_some(current);
    Ok((renamed, state))
}

/// Narrows what the run holds to the periods asked for, then checks every partition
/// against the quality gates and stages it (stale beats wrong: a failed check publishes
/// nothing). `None` in a dry run, which checks but stages nothing.
fn check_and_stage(
    ctx: &RunContext<'_>,
    pipeline: &Pipeline,
    opts: &RunOptions,
    held: &mut Held,
    report: &mut RunReport,
) -> Result<Option<Vec<atomic::Staged>>> {
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
    let staged = stage::check_and_stage(ctx, pipeline, held, opts.dry_run)?;
    if opts.dry_run {
        report.partitions = report.partition_list.len();
        return Ok(None);
    }
    Ok(Some(staged))
}

/// What was published: every decoded extract joins the unchanged ones in the pipeline's
/// `state`, with its lineage, and quarantine files of extracts no longer current go.
fn record(
    ctx: &RunContext<'_>,
    pipeline: &Pipeline,
    run_id: &str,
    mut state: PipelineState,
    renamed: Vec<Lineage>,
    decoded: &[Decoded],
) -> Result<(Vec<Lineage>, Option<PipelineState>)> {
    let table = pipeline.target.name;
    // A renamed extract that was decoded again (it feeds a rebuilt partition) is named
    // by its decoded entry below.
    let mut lineage: Vec<Lineage> = renamed
        .into_iter()
        .filter(|l| !decoded.iter().any(|d| d.sha == l.extract_sha256))
        .collect();
    for d in decoded {
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
