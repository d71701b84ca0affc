//! Publishing: the views meant for the outside, materialized with small-count
//! suppression under `<lake>/published/` as Parquet and CSV, atomically replaced. The
//! per-kommun-month views are a directory each, one file per period (`views`); the
//! follow-up is one file.
//!
//! What leaves the lake is only this folder. Record-level tables are never published.
//! `kartlaggning` is published in long form with `antal` NULL and `antal_skyddad = true`
//! where a count is suppressed, and its share recomputed from the published count (a
//! share times the public population would otherwise give the count back);
//! `kartlaggning_kon` (kön as columns, with `<col>_skyddad` flags) and `bilaga1_fs_orsak`
//! are derived from the suppressed long table, so they cannot disagree with it.
//!
//! Secondary suppression protects against the additivity an attacker can exploit within
//! one kommun-month (`constraints`); identities it does not model are a known limit,
//! documented in docs/figures.md.
//!
//! # National size
//! No constraint crosses a kommun-month, so each kommun-month is suppressed on its own,
//! on every core, and the views are computed and written a few kommuner at a time:
//! memory follows the largest chunk, not the country. A kommun-month whose inputs did
//! not change since the last publish (`state`) keeps its published rows, a period whose
//! kommun-months all did keeps its files (linked, not rewritten), and when nothing
//! changed, nothing is written at all.

pub mod cells;
mod chunking;
pub mod constraints;
pub mod delta;
pub mod followup;
pub mod generation;
mod output;
pub mod state;
pub mod suppression;
pub mod views;

use std::sync::Arc;

use datafusion::arrow::record_batch::RecordBatch;
use datafusion::prelude::SessionContext;

pub use cells::Cell;
pub use constraints::constraints;

use crate::config::Settings;
use crate::error::{Error, Result};
use crate::lake::{Lake, atomic};
use output::ViewOutput;
use state::State;

/// Kommuner whose follow-up is computed together (a kommun-year holds a few hundred
/// cells).
const FOLLOWUP_KOMMUNER_PER_CHUNK: usize = 24;

/// The lake lock held while publishing (`lake::lock`): two publishes side by side would
/// each remove the other's unfinished generation as a dead one, and the one finishing
/// last would link its set even when it had read an older lake.
pub const LOCK: &str = "publish";

/// What was published.
#[derive(Debug, Default)]
pub struct PublishReport {
    /// (view, rows, suppressed cells); empty when nothing changed and nothing was written.
    pub views: Vec<(String, usize, usize)>,
    /// Kommun-months whose cells were computed and suppressed.
    pub recomputed: usize,
    /// Kommun-months whose published rows were kept as they were.
    pub kept: usize,
    /// Information lost in the recomputed kommun-months and the follow-up: the counts
    /// hidden (primary and secondary; an agency's own unknown cells not included) and
    /// their sum.
    pub hidden: (usize, i64),
}

/// The published folder of a lake: a link to the current generation (`generation`).
/// Readers open it through `published::open`.
pub fn dir(lake: &Lake) -> std::path::PathBuf {
    lake.root().join("published")
}

/// Materializes the published views with suppression (`settings.suppress_below`), reading
/// `kartlaggning` through `ctx`, a session over the lake (`query::open`) the caller has
/// already opened, so the views are not planned twice. Only kommun-months whose inputs
/// changed are recomputed, and only periods with such kommun-months are written; when
/// none changed, nothing is written. The caller holds the lake's publish lock ([`LOCK`];
/// `service::refresh` takes it).
pub async fn publish(settings: &Settings, ctx: &SessionContext) -> Result<PublishReport> {
    let lake = Lake::new(&settings.lake_root);
    // Resolved once: everything read from the previous publish is of one generation.
    let current = generation::current(&lake);
    let previous = current
        .as_deref()
        .filter(|dir| dir.join(format!("{}.parquet", followup::NAME)).is_file())
        .and_then(State::load)
        .unwrap_or_default();
    let mut now = State::of_lake(settings, &lake)?;
    if now.same_inputs(&previous) && !now.kommun_months.is_empty() {
        return Ok(PublishReport::default());
    }
    let generation = generation::next(&lake)?;
    let mut report = PublishReport::default();
    let written = write_set(
        settings,
        ctx,
        current.as_deref(),
        &mut now,
        &previous,
        &generation.dir,
        &mut report,
    )
    .await;
    let staged = match written {
        Ok(staged) => staged,
        Err(e) => {
            // Everything written, staged or linked lies in the generation directory.
            generation::discard(generation);
            return Err(e);
        }
    };
    // A test hook: killed here, the lake and its manifest are new and the published set
    // is not; the next run or start of `serve` catches it up.
    atomic::failpoint("before-views", staged.len());
    let mut files = staged.into_iter();
    // A test hook: killed with one file of the new set in place, readers must still see
    // the previous set whole.
    if let Some(first) = files.next() {
        first.publish()?;
        atomic::failpoint("after-one-view-file", files.len());
    }
    atomic::publish_all(files.collect())?;
    let keep = chrono::Duration::days(i64::from(settings.published_keep_days));
    generation::switch(&lake, generation, chrono::Utc::now(), keep)?;
    Ok(report)
}

/// Writes the whole set into the generation directory `out`: the per-period views, the
/// follow-up and, last, the state they were built from (`now`, completed with what each
/// period's files hold). Returns the files to publish.
async fn write_set(
    settings: &Settings,
    ctx: &SessionContext,
    current: Option<&std::path::Path>,
    now: &mut State,
    previous: &State,
    out: &std::path::Path,
    report: &mut PublishReport,
) -> Result<Vec<atomic::Staged>> {
    let sources = views::Sources {
        settings,
        ctx,
        current,
        previous,
        now,
    };
    let written = views::write_periods(&sources, out, report).await?;
    now.periods = written.periods;
    let mut staged = written.staged;
    // The follow-up is small (a kommun-year holds a few hundred cells) and recomputed
    // whenever anything is published.
    let mut followup_view = ViewOutput::new(out, followup::NAME);
    let threshold = i64::from(settings.suppress_below);
    let (cells, counts) = followup::write(
        ctx,
        &mut followup_view,
        threshold,
        FOLLOWUP_KOMMUNER_PER_CHUNK,
    )
    .await?;
    report.hidden = (report.hidden.0 + cells, report.hidden.1 + counts);
    report.views.push((
        followup::NAME.to_string(),
        followup_view.rows,
        followup_view.flagged,
    ));
    staged.extend(followup_view.finish()?);
    // Last in the set: the state is published only together with the views it describes.
    staged.push(atomic::stage(&out.join(state::FILE), &now.to_json()?)?);
    Ok(staged)
}

/// Suppression flags for `cells` (ordered by kommun and period), each kommun-month
/// solved on its own on every core. The result does not depend on the number of
/// threads: each kommun-month's flags depend on its own cells only.
pub fn suppress_each_kommun_month(cells: &[Cell], threshold: i64) -> Result<Vec<bool>> {
    let mut ranges = Vec::new();
    let mut start = 0;
    for i in 1..=cells.len() {
        if i == cells.len() || cells[i].keys[..2] != cells[start].keys[..2] {
            ranges.push(start..i);
            start = i;
        }
    }
    let solve = |r: std::ops::Range<usize>| -> Result<Vec<bool>> {
        let part = &cells[r];
        let constraints = constraints(part);
        // `suppress` requires every constraint to name cells of the table; one that does
        // not is a bug here, reported as one instead of a panic.
        if let Some(c) = constraints.iter().find(|c| {
            std::iter::once(&c.total)
                .chain(&c.parts)
                .any(|&i| i >= part.len())
        }) {
            return Err(Error::Internal(format!(
                "suppression constraint {c:?} refers to a cell outside the table of {} cells",
                part.len()
            )));
        }
        let values: Vec<Option<i64>> = part.iter().map(|c| c.antal).collect();
        Ok(suppression::suppress(&values, &constraints, threshold))
    };
    let by_range = crate::runtime::parallel_map(&ranges, |r| solve(r.clone()));
    let mut flags = Vec::with_capacity(cells.len());
    for f in by_range {
        flags.extend(f.ok_or_else(|| Error::Internal("a suppression worker stopped".into()))??);
    }
    Ok(flags)
}

/// Runs `sql` into one batch; an empty result keeps the plan's schema.
async fn collect_one(ctx: &SessionContext, sql: &str) -> Result<RecordBatch> {
    let df = ctx.sql(sql).await?;
    let schema = Arc::new(df.schema().as_arrow().clone());
    let batches = df.collect().await?;
    Ok(datafusion::arrow::compute::concat_batches(
        &schema, &batches,
    )?)
}
