//! Publishing: the views meant for the outside, materialized with small-count
//! suppression under `<lake>/published/` as Parquet and CSV, atomically replaced.
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
//! not change since the last publish (`state`) keeps its published rows; when nothing
//! changed, nothing is written at all.

pub mod cells;
pub mod constraints;
pub mod followup;
pub mod generation;
mod output;
pub mod state;
pub mod suppression;

use std::sync::Arc;

use datafusion::arrow::record_batch::RecordBatch;
use datafusion::datasource::MemTable;
use datafusion::prelude::SessionContext;

pub use cells::Cell;
pub use constraints::constraints;

use crate::config::Settings;
use crate::error::{Error, Result};
use crate::lake::{Lake, atomic};
use output::ViewOutput;
use state::{KommunMonth, State};

/// Kommuner whose follow-up is computed together (a kommun-year holds a few hundred
/// cells).
const FOLLOWUP_KOMMUNER_PER_CHUNK: usize = 24;

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
/// changed are recomputed; when none did, nothing is written.
pub async fn publish(settings: &Settings, ctx: &SessionContext) -> Result<PublishReport> {
    let lake = Lake::new(&settings.lake_root);
    // Resolved once: everything read from the previous publish is of one generation.
    let current = generation::current(&lake);
    let previous = current
        .as_deref()
        .filter(|dir| dir.join("kartlaggning.parquet").is_file())
        .filter(|dir| dir.join(format!("{}.parquet", followup::NAME)).is_file())
        .and_then(State::load)
        .unwrap_or_default();
    let now = State::of_lake(settings, &lake)?;
    if now == previous && !now.kommun_months.is_empty() {
        return Ok(PublishReport::default());
    }
    let generation = generation::next(&lake)?;
    let out = generation.dir.clone();
    let mut views = [
        ViewOutput::new(&out, "kartlaggning"),
        ViewOutput::new(&out, "kartlaggning_kon"),
        ViewOutput::new(&out, "bilaga1_fs_orsak"),
        ViewOutput::new(&out, followup::NAME),
    ];
    let mut report = PublishReport::default();
    let result = write_views(
        settings,
        ctx,
        current.as_deref(),
        &now,
        &previous,
        &mut views,
        &mut report,
    )
    .await;
    // The follow-up is small (a kommun-year holds a few hundred cells) and recomputed
    // whenever anything is published.
    let result = match result {
        Ok(()) => {
            let threshold = i64::from(settings.suppress_below);
            followup::write(ctx, &mut views[3], threshold, FOLLOWUP_KOMMUNER_PER_CHUNK)
                .await
                .map(|(cells, counts)| {
                    report.hidden = (report.hidden.0 + cells, report.hidden.1 + counts);
                })
        }
        Err(e) => Err(e),
    };
    let mut staged = Vec::new();
    let result = match result {
        Ok(()) => stage_set(views, &out, &now, &mut staged, &mut report),
        Err(e) => Err(e),
    };
    match result {
        Ok(()) => {
            // A test hook: killed here, the lake and its manifest are new and the
            // published set is not; the next run or start of `serve` catches it up.
            atomic::failpoint("before-views", staged.len());
            let mut files = staged.into_iter();
            // A test hook: killed with one file of the new set in place, readers must
            // still see the previous set whole.
            if let Some(first) = files.next() {
                first.publish()?;
                atomic::failpoint("after-one-view-file", files.len());
            }
            atomic::publish_all(files.collect())?;
            generation::switch(&lake, generation)?;
            Ok(report)
        }
        Err(e) => {
            staged.into_iter().for_each(atomic::Staged::discard);
            generation::discard(generation);
            Err(e)
        }
    }
}

/// Closes every view's files and stages them with the state they were built from.
fn stage_set(
    views: [ViewOutput; 4],
    out: &std::path::Path,
    now: &State,
    staged: &mut Vec<atomic::Staged>,
    report: &mut PublishReport,
) -> Result<()> {
    for v in views {
        report.views.push((v.name().to_string(), v.rows, v.flagged));
        staged.extend(v.finish()?);
    }
    // Last in the set: the state is published only together with the views it describes.
    staged.push(atomic::stage(&out.join(state::FILE), &now.to_json()?)?);
    Ok(())
}

/// Computes the views chunk by chunk (kommuner in order, so the files keep the order of
/// the whole table) and appends each chunk to the outputs.
async fn write_views(
    settings: &Settings,
    ctx: &SessionContext,
    current: Option<&std::path::Path>,
    now: &State,
    previous: &State,
    views: &mut [ViewOutput; 4],
    report: &mut PublishReport,
) -> Result<()> {
    let all: Vec<KommunMonth> = now.all().collect();
    let schema = cells::long_batch(&[], &[])?.schema();
    let scratch = crate::query::new_session();
    // The previous long table, read for the kommun-months that keep their rows.
    if let Some(current) = current.filter(|_| now.all().any(|km| now.unchanged_in(previous, &km))) {
        let prev_file = current.join("kartlaggning.parquet");
        scratch
            .register_parquet(
                "previous",
                &prev_file.display().to_string(),
                Default::default(),
            )
            .await?;
    }
    let mut empty = true;
    // A chunk's cells are its kommun-months' (about 900 each), held together; one query
    // per chunk keeps the view's fixed cost small. Chunks are whole kommuner, so a
    // ten-year chunk (one kommun × 120 months) holds what a one-year chunk of 12 kommuner
    // does. The lake session lists each table once and answers every chunk's partition
    // filter from that listing (`query::LAKE_LISTING_CACHE_BYTES`), so 290 chunks do not
    // mean 290 listings of the lake (docs/performance.md).
    for chunk in chunks(&all, settings.kommun_months_per_chunk) {
        let (keep, redo): (Vec<&KommunMonth>, Vec<&KommunMonth>) =
            chunk.iter().partition(|km| now.unchanged_in(previous, km));
        report.kept += keep.len();
        report.recomputed += redo.len();
        let mut parts = Vec::new();
        if !redo.is_empty() {
            let sql = cells::sql(Some(&filter(&redo)));
            let batches = ctx.sql(&sql).await?.collect().await?;
            let cells = only(cells::read_cells(&batches)?, &redo);
            let threshold = i64::from(settings.suppress_below);
            let flags =
                crate::runtime::cpu_bound(|| suppress_each_kommun_month(&cells, threshold))?;
            let (n, sum) = cells::hidden_loss(&cells, &flags);
            report.hidden = (report.hidden.0 + n, report.hidden.1 + sum);
            parts.push(cells::long_batch(&cells, &flags)?);
        }
        if !keep.is_empty() {
            for b in kept_rows(&scratch, &keep).await? {
                // Back to the long table's own types (a Parquet scan reads text as views).
                let columns = schema
                    .fields()
                    .iter()
                    .zip(b.columns())
                    .map(|(f, c)| datafusion::arrow::compute::cast(c, f.data_type()))
                    .collect::<std::result::Result<Vec<_>, _>>()?;
                parts.push(RecordBatch::try_new(schema.clone(), columns)?);
            }
        }
        if parts.is_empty() {
            continue;
        }
        let long = sorted(&scratch, &schema, parts).await?;
        write_chunk(views, &long).await?;
        empty = false;
    }
    if empty {
        // An empty lake still publishes the views (with their columns and no rows).
        write_chunk(views, &cells::long_batch(&[], &[])?).await?;
    }
    Ok(())
}

/// The kommun-months `all` (in kommun order) cut into chunks of whole kommuner, each of
/// at most `per_chunk` kommun-months unless one kommun alone has more.
fn chunks(all: &[KommunMonth], per_chunk: usize) -> Vec<&[KommunMonth]> {
    let mut chunks = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i < all.len() {
        let kommun_end = i + all[i..].iter().take_while(|km| km.0 == all[i].0).count();
        if kommun_end - start > per_chunk && i > start {
            chunks.push(&all[start..i]);
            start = i;
        }
        i = kommun_end;
    }
    if start < all.len() {
        chunks.push(&all[start..]);
    }
    chunks
}

/// `kommun in (…) and period in (…)`: the smallest condition covering the kommun-months
/// given that the lake's partition pruning understands (an OR of per-kommun conditions is
/// not pushed into the scans, and each chunk would read the whole lake). It may cover more
/// kommun-months than asked for; [`only`] drops those. One kommun is named with `=`, a
/// partition prefix to DataFusion (answered from the session's listing, or by listing
/// that kommun's folder alone in a session without one). Codes and periods were checked
/// to be digits and dashes when the lake was listed.
fn filter(kms: &[&KommunMonth]) -> String {
    let list = |values: std::collections::BTreeSet<&str>| {
        values
            .iter()
            .map(|v| format!("'{v}'"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let kommuner: std::collections::BTreeSet<&str> = kms.iter().map(|(k, _)| k.as_str()).collect();
    let kommun = match kommuner.first() {
        Some(only) if kommuner.len() == 1 => format!("kommun = '{only}'"),
        _ => format!("kommun in ({})", list(kommuner)),
    };
    format!(
        "{kommun} and period in ({})",
        list(kms.iter().map(|(_, p)| p.as_str()).collect())
    )
}

/// The cells of the kommun-months `kms` (in order).
fn only(cells: Vec<Cell>, kms: &[&KommunMonth]) -> Vec<Cell> {
    let wanted: std::collections::BTreeSet<(&str, &str)> =
        kms.iter().map(|(k, p)| (k.as_str(), p.as_str())).collect();
    cells
        .into_iter()
        .filter(|c| wanted.contains(&(c.keys[0].as_str(), c.keys[1].as_str())))
        .collect()
}

/// The previously published long rows of the kommun-months `keep`.
async fn kept_rows(scratch: &SessionContext, keep: &[&KommunMonth]) -> Result<Vec<RecordBatch>> {
    // The same cover as for the lake; what it has beyond `keep` is recomputed, not kept.
    let wanted: std::collections::BTreeSet<String> =
        keep.iter().map(|(k, p)| format!("{k}|{p}")).collect();
    let sql = format!("select * from previous where {}", filter(keep));
    let batches: Vec<RecordBatch> = scratch.sql(&sql).await?.collect().await?;
    let batches = batches
        .iter()
        .map(|b| {
            let keys = crate::query::columns::texts(b.column(0))?
                .into_iter()
                .zip(crate::query::columns::texts(b.column(1))?);
            let mask: datafusion::arrow::array::BooleanArray = keys
                .map(|(k, p)| {
                    Some(wanted.contains(&format!(
                        "{}|{}",
                        k.unwrap_or_default(),
                        p.unwrap_or_default()
                    )))
                })
                .collect();
            Ok(datafusion::arrow::compute::filter_record_batch(b, &mask)?)
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(batches)
}

/// One chunk's long rows in the published order.
async fn sorted(
    scratch: &SessionContext,
    schema: &datafusion::arrow::datatypes::SchemaRef,
    parts: Vec<RecordBatch>,
) -> Result<RecordBatch> {
    let table = MemTable::try_new(schema.clone(), vec![parts])?;
    scratch.register_table("chunk", Arc::new(table))?;
    let result = collect_one(
        scratch,
        &format!("select * from chunk order by {}", cells::ORDER),
    )
    .await;
    scratch.deregister_table("chunk")?;
    let batch = result?;
    Ok(RecordBatch::try_new(
        schema.clone(),
        batch.columns().to_vec(),
    )?)
}

/// Appends one chunk of the long table and the forms derived from it.
async fn write_chunk(views: &mut [ViewOutput; 4], long: &RecordBatch) -> Result<()> {
    views[0].write(long)?;
    // The wide forms are computed from the suppressed long table, never from the lake.
    let scratch = crate::query::new_session();
    scratch.register_table(
        "kartlaggning",
        Arc::new(MemTable::try_new(long.schema(), vec![vec![long.clone()]])?),
    )?;
    let kon = collect_one(&scratch, KON_SQL).await?;
    views[1].write(&kon)?;
    scratch.register_table(
        "kartlaggning_kon",
        Arc::new(MemTable::try_new(kon.schema(), vec![vec![kon]])?),
    )?;
    views[2].write(&collect_one(&scratch, BILAGA1_FS_ORSAK_SQL).await?)?;
    Ok(())
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

/// The published forms derived from the suppressed long table: SQL files beside the
/// lake's views, compiled in so that what is published does not depend on the folder a
/// deployment points `[paths] sql` at.
const KON_SQL: &str = include_str!("../../sql/published/kartlaggning_kon.sql");
const BILAGA1_FS_ORSAK_SQL: &str = include_str!("../../sql/published/bilaga1_fs_orsak.sql");

#[cfg(test)]
mod tests {
    use super::*;

    fn kms(spec: &[(&str, usize)]) -> Vec<KommunMonth> {
        spec.iter()
            .flat_map(|&(k, n)| (1..=n).map(move |m| (k.to_string(), format!("2015-{m:02}"))))
            .collect()
    }

    #[test]
    fn chunks_are_whole_kommuner_within_the_budget_unless_one_kommun_exceeds_it() {
        let all = kms(&[
            ("0180", 3),
            ("0181", 3),
            ("0182", 5),
            ("0183", 1),
            ("0184", 2),
        ]);
        let sizes = |per| -> Vec<Vec<&str>> {
            chunks(&all, per)
                .iter()
                .map(|c| {
                    let mut k: Vec<&str> = c.iter().map(|km| km.0.as_str()).collect();
                    k.dedup();
                    k
                })
                .collect()
        };
        assert_eq!(
            sizes(6),
            [vec!["0180", "0181"], vec!["0182", "0183"], vec!["0184"]]
        );
        // A kommun larger than the budget is a chunk of its own, never split.
        assert_eq!(
            sizes(4),
            [
                vec!["0180"],
                vec!["0181"],
                vec!["0182"],
                vec!["0183", "0184"]
            ]
        );
        assert_eq!(sizes(1).len(), 5);
        assert_eq!(chunks(&all, 100).len(), 1);
        assert!(chunks(&[], 10).is_empty());
        // Every kommun-month once, in order.
        let joined: Vec<KommunMonth> = chunks(&all, 4).concat();
        assert_eq!(joined, all);
    }

    #[test]
    fn one_kommun_is_asked_for_with_equality_a_partition_prefix() {
        let all = kms(&[("0180", 2), ("0181", 1)]);
        let refs: Vec<&KommunMonth> = all.iter().collect();
        assert_eq!(
            filter(&refs[..2]),
            "kommun = '0180' and period in ('2015-01', '2015-02')"
        );
        assert_eq!(
            filter(&refs),
            "kommun in ('0180', '0181') and period in ('2015-01', '2015-02')"
        );
    }
}
