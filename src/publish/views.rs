//! The per-kommun-month views, written one file per period: `<view>/<period>.parquet`
//! and `<view>/<period>.csv` in a published generation, for `kartlaggning` and the two
//! forms derived from it.
//!
//! A period whose kommun-months all kept their inputs since the last publish keeps its
//! files: they are hard-linked from the previous generation, never rewritten. So a night
//! that adds one month writes that month's files only, and its cost follows the new
//! month, not the lake's history. Periods that changed are computed up to twelve at a
//! time, a chunk of whole kommuner with their months of those periods at a time, within
//! `[publish] kommun_months_per_chunk` and `rows_per_chunk` (`chunking`); within them,
//! kommun-months whose inputs did not change keep their previously published rows.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use datafusion::arrow::record_batch::RecordBatch;
use datafusion::datasource::MemTable;
use datafusion::prelude::SessionContext;

use super::cells::{self, Cell};
use super::chunking;
use super::output::ViewOutput;
use super::state::{KommunMonth, State};
use super::{PublishReport, collect_one, suppress_each_kommun_month};
use crate::config::Settings;
use crate::error::Result;
use crate::lake::atomic::{self, Staged};

/// The views published per period, the long table first (the others derive from it).
pub const PERIOD_VIEWS: [&str; 3] = ["kartlaggning", "kartlaggning_kon", "bilaga1_fs_orsak"];

/// The files a publish put in its generation for the per-period views.
#[derive(Debug, Default)]
pub(super) struct Written {
    /// Files written, to publish with the set.
    pub staged: Vec<Staged>,
    /// What each period's files hold, for the state.
    pub periods: BTreeMap<String, BTreeMap<String, (usize, usize)>>,
}

/// What a publish reads: the lake, and the set published now with the state it was
/// built from (periods and kommun-months unchanged since are taken from it).
pub(super) struct Sources<'a> {
    pub settings: &'a Settings,
    /// A session over the lake (`query::open`).
    pub ctx: &'a SessionContext,
    /// The generation published now (None: nothing yet).
    pub current: Option<&'a Path>,
    /// The state `current` was built from.
    pub previous: &'a State,
    /// The state of the lake now.
    pub now: &'a State,
}

/// Periods computed together, at most: each has its files open while the window is
/// written (six writers a period). Chunks are whole kommuner across the window's periods:
/// part of a chunk's cost is per kommun named (its folders are listed for each scan of
/// the chunk's query, `query::lake_table`), whatever the number of its months, so a chunk
/// of one period per kommun would pay it once per month.
const PERIODS_PER_WINDOW: usize = 12;

/// Writes the per-period views into the generation `out`.
pub(super) async fn write_periods(
    src: &Sources<'_>,
    out: &Path,
    report: &mut PublishReport,
) -> Result<Written> {
    let (current, previous, now) = (src.current, src.previous, src.now);
    let mut written = Written::default();
    let mut totals: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    let mut add = |counts: &BTreeMap<String, (usize, usize)>| {
        for (view, (rows, flagged)) in counts {
            if let Some(v) = PERIOD_VIEWS.iter().find(|v| *v == view) {
                let t = totals.entry(v).or_default();
                *t = (t.0 + rows, t.1 + flagged);
            }
        }
    };
    // Periods that kept their inputs keep their files; the others are computed.
    let mut todo = Vec::new();
    for (period, kms) in now.by_period() {
        let files = |dir: &Path| -> Vec<PathBuf> {
            PERIOD_VIEWS
                .iter()
                .flat_map(|v| {
                    ["parquet", "csv"].map(|ext| dir.join(v).join(format!("{period}.{ext}")))
                })
                .collect()
        };
        let kept = current
            .zip(previous.periods.get(&period))
            .filter(|(dir, counts)| {
                now.period_unchanged(previous, &period, &kms)
                    && (counts.values().all(|c| c.0 == 0) || files(dir).iter().all(|f| f.is_file()))
            });
        match kept {
            Some((dir, counts)) => {
                if counts.values().any(|c| c.0 > 0) {
                    atomic::link_all(files(dir).into_iter().zip(files(out)))?;
                }
                report.kept += kms.len();
                add(counts);
                written.periods.insert(period, counts.clone());
            }
            None => todo.push((period, kms)),
        }
    }
    let scratch = crate::query::new_session();
    // The previous long table, read for the kommun-months that keep their rows in a
    // period that is computed again.
    let previous_dir = current
        .map(|dir| dir.join(PERIOD_VIEWS[0]))
        .filter(|d| d.is_dir() && !previous.periods.is_empty());
    if let Some(dir) = &previous_dir {
        scratch
            .register_parquet(
                "previous",
                &format!("{}/", dir.display()),
                Default::default(),
            )
            .await?;
    }
    for window in todo.chunks(PERIODS_PER_WINDOW) {
        let mut outputs: Outputs = window
            .iter()
            .map(|(p, _)| {
                (
                    p.clone(),
                    PERIOD_VIEWS.map(|v| ViewOutput::new(&out.join(v), p)),
                )
            })
            .collect();
        // Kommun by kommun, each with its months of the window.
        let mut kms: Vec<KommunMonth> = window.iter().flat_map(|(_, k)| k.clone()).collect();
        kms.sort();
        write_window(
            src,
            &scratch,
            previous_dir.is_some(),
            &kms,
            &mut outputs,
            report,
        )
        .await?;
        for (period, views) in outputs {
            let mut counts = BTreeMap::new();
            for (v, name) in views.into_iter().zip(PERIOD_VIEWS) {
                counts.insert(name.to_string(), (v.rows, v.flagged));
                written.staged.extend(v.finish()?);
            }
            add(&counts);
            written.periods.insert(period, counts);
        }
    }
    if totals.values().all(|t| t.0 == 0) {
        // Nothing to publish: the views still appear, as single files with their columns
        // and no rows, so that readers see every view of an empty lake.
        let mut outputs =
            BTreeMap::from([(String::new(), PERIOD_VIEWS.map(|v| ViewOutput::new(out, v)))]);
        write_chunk(&mut outputs, &cells::long_batch(&[], &[])?).await?;
        for o in outputs.into_values().flatten() {
            written.staged.extend(o.finish()?);
        }
    }
    for v in PERIOD_VIEWS {
        let (rows, flagged) = totals.get(v).copied().unwrap_or_default();
        report.views.push((v.to_string(), rows, flagged));
    }
    Ok(written)
}

/// A window's kommun-months (kommun by kommun) a chunk at a time: each chunk's changed
/// kommun-months recomputed, the others' rows taken from the previous long table (when
/// `has_previous`), and the rows of each period appended to its files in `outputs`.
async fn write_window(
    src: &Sources<'_>,
    scratch: &SessionContext,
    has_previous: bool,
    kms: &[KommunMonth],
    outputs: &mut Outputs,
    report: &mut PublishReport,
) -> Result<()> {
    let Sources {
        settings,
        ctx,
        previous,
        now,
        ..
    } = *src;
    let schema = cells::long_batch(&[], &[])?.schema();
    // A chunk's cells are its kommun-months' (about 900 each), held together; one query
    // per chunk keeps the view's fixed cost small. The lake session lists each table once
    // and answers every chunk's partition filter from that listing
    // (`query::LAKE_LISTING_CACHE_BYTES`), kommun by kommun (`query::lake_table`), so
    // chunks do not mean listings of the lake (docs/performance.md).
    //
    // A chunk's files are written by a task of their own while the next chunk is
    // computed (each write waits for the one before, so the files take their rows in
    // chunk order): computing and writing each kept one core busy, the other idle. The
    // set holds at most one write, and dropping it (a failed or cancelled publish)
    // stops that write.
    let mut writing: tokio::task::JoinSet<Result<Outputs>> = tokio::task::JoinSet::new();
    let mut idle = Some(std::mem::take(outputs));
    let lake = crate::lake::Lake::new(&settings.lake_root);
    let rows = kms
        .iter()
        .map(|km| match has_previous && now.unchanged_in(previous, km) {
            true => Ok(0),
            false => chunking::lake_rows(&lake, km),
        })
        .collect::<Result<Vec<u64>>>()?;
    let budget = chunking::Budget {
        kommun_months: settings.kommun_months_per_chunk,
        rows: settings.rows_per_chunk,
    };
    for chunk in chunking::chunks(kms, &rows, budget) {
        let (keep, redo): (Vec<&KommunMonth>, Vec<&KommunMonth>) = chunk
            .iter()
            .partition(|km| has_previous && now.unchanged_in(previous, km));
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
            for b in kept_rows(scratch, &keep).await? {
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
        let long = sorted(scratch, &schema, parts).await?;
        if long.num_rows() > 0 {
            let mut files = match idle.take() {
                Some(files) => files,
                None => written(&mut writing).await?,
            };
            writing.spawn(async move {
                write_chunk(&mut files, &long).await?;
                Ok(files)
            });
        }
    }
    *outputs = match idle {
        Some(files) => files,
        None => written(&mut writing).await?,
    };
    Ok(())
}

/// A window's files, by period.
type Outputs = BTreeMap<String, [ViewOutput; 3]>;

/// The files back from the write under way in `writing`, once it has ended.
async fn written(writing: &mut tokio::task::JoinSet<Result<Outputs>>) -> Result<Outputs> {
    match writing.join_next().await {
        Some(Ok(done)) => done,
        Some(Err(e)) => Err(crate::error::Error::Internal(format!(
            "a publish's write of a chunk stopped: {e}"
        ))),
        None => Err(crate::error::Error::Internal(
            "a publish's files were neither idle nor being written".into(),
        )),
    }
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

/// Appends one chunk of the long table and the forms derived from it, each period's rows
/// to that period's files (`outputs` by period; a single entry takes every row).
async fn write_chunk(outputs: &mut Outputs, long: &RecordBatch) -> Result<()> {
    // The wide forms are computed from the suppressed long table, never from the lake.
    let scratch = crate::query::new_session();
    scratch.register_table(
        "kartlaggning",
        Arc::new(MemTable::try_new(long.schema(), vec![vec![long.clone()]])?),
    )?;
    let kon = collect_one(&scratch, KON_SQL).await?;
    scratch.register_table(
        "kartlaggning_kon",
        Arc::new(MemTable::try_new(kon.schema(), vec![vec![kon.clone()]])?),
    )?;
    let orsak = collect_one(&scratch, BILAGA1_FS_ORSAK_SQL).await?;
    // The periods the chunk has rows of (known once the long table is written).
    let mut in_chunk = std::collections::BTreeSet::new();
    for (i, batch) in [long.clone(), kon, orsak].iter().enumerate() {
        if outputs.len() == 1 {
            if let Some(views) = outputs.values_mut().next() {
                views[i].write(batch)?;
            }
            continue;
        }
        let period = batch.schema().index_of("period")?;
        let periods = crate::query::columns::texts(batch.column(period))?;
        for (p, views) in outputs.iter_mut() {
            let mask: datafusion::arrow::array::BooleanArray = periods
                .iter()
                .map(|v| Some(v.as_deref() == Some(p.as_str())))
                .collect();
            let rows = datafusion::arrow::compute::filter_record_batch(batch, &mask)?;
            // A period with rows of the long table has all three files, the derived ones
            // with their columns even when empty.
            if rows.num_rows() > 0 || (i > 0 && in_chunk.contains(p)) {
                views[i].write(&rows)?;
            }
        }
        if i == 0 {
            in_chunk = periods.into_iter().flatten().collect();
        }
    }
    Ok(())
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
