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
//! one kommun-month; `constraints` lists it (see its doc). Identities it does not model
//! are a known limit, documented in docs/figures.md.

pub mod suppression;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, BooleanArray, Float64Array, Int64Array, StringArray,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::datasource::MemTable;

use crate::config::Settings;
use crate::error::{Error, Result};
use crate::lake::{Lake, atomic, parquet};
use suppression::Constraint;

/// One row of the long kartläggning, as needed for suppression.
#[derive(Debug, Clone)]
pub struct Cell {
    /// kommun, period, matt, kon, alder, dimension, kategori, status, kalla.
    pub keys: [String; 9],
    /// The count (None: unknown, e.g. an agency's own suppressed cell or a share measure).
    pub antal: Option<i64>,
    /// Matching population.
    pub befolkning: Option<i64>,
    /// Share delivered as a share (Kolada), kept as is.
    pub andel_kalla: Option<f64>,
}

/// What was published.
#[derive(Debug, Default)]
pub struct PublishReport {
    /// (view, rows, suppressed cells).
    pub views: Vec<(String, usize, usize)>,
}

/// The published folder of a lake.
pub fn dir(lake: &Lake) -> std::path::PathBuf {
    lake.root().join("published")
}

/// The rows of `kartlaggning` that publishing reads, in a stable order: the nine keys,
/// the count, the population, and the share of measures delivered as shares.
pub const CELLS_SQL: &str = "select kommun, period, matt, kon, alder, dimension, kategori, status, kalla, antal, befolkning, case when kalla = 'kolada' then andel end as andel_kalla from kartlaggning order by kommun, period, matt, kon, alder, dimension, kategori";

/// Materializes the published views with suppression (`settings.suppress_below`), reading
/// `kartlaggning` through `ctx`, a session over the lake (`query::open`) the caller has
/// already opened, so the views are not planned twice.
pub async fn publish(
    settings: &Settings,
    ctx: &datafusion::prelude::SessionContext,
) -> Result<PublishReport> {
    let lake = Lake::new(&settings.lake_root);
    let batches = ctx.sql(CELLS_SQL).await?.collect().await?;
    let cells = read_cells(&batches)?;
    let constraints = constraints(&cells);
    // `suppress` requires every constraint to name cells of the table; a constraint that
    // does not is a bug here, reported as one instead of a panic.
    if let Some(c) = constraints.iter().find(|c| {
        std::iter::once(&c.total)
            .chain(&c.parts)
            .any(|&i| i >= cells.len())
    }) {
        return Err(Error::Internal(format!(
            "suppression constraint {c:?} refers to a cell outside the table of {} cells",
            cells.len()
        )));
    }
    let flags = suppression::suppress(
        &cells.iter().map(|c| c.antal).collect::<Vec<_>>(),
        &constraints,
        i64::from(settings.suppress_below),
    );
    let long = long_batch(&cells, &flags)?;
    let suppressed = cells
        .iter()
        .zip(&flags)
        .filter(|(c, f)| **f && c.antal.is_some())
        .count();
    let mut report = PublishReport::default();
    let out = dir(&lake);
    let mut staged = Vec::new();
    let result = stage_all(&out, &long, &mut staged, &mut report, suppressed).await;
    match result {
        Ok(()) => {
            atomic::publish_all(staged)?;
            Ok(report)
        }
        Err(e) => {
            staged.into_iter().for_each(atomic::Staged::discard);
            Err(e)
        }
    }
}

/// Stages every published view (the long table and the forms derived from it).
async fn stage_all(
    out: &std::path::Path,
    long: &RecordBatch,
    staged: &mut Vec<atomic::Staged>,
    report: &mut PublishReport,
    suppressed: usize,
) -> Result<()> {
    stage_view(out, "kartlaggning", long, staged)?;
    report
        .views
        .push(("kartlaggning".into(), long.num_rows(), suppressed));

    // The wide forms are computed from the suppressed long table, never from the lake.
    let scratch = crate::query::new_session();
    scratch.register_table(
        "kartlaggning",
        Arc::new(MemTable::try_new(long.schema(), vec![vec![long.clone()]])?),
    )?;
    for (name, sql) in [
        ("kartlaggning_kon", KON_SQL),
        ("bilaga1_fs_orsak", BILAGA1_FS_ORSAK_SQL),
    ] {
        let batch = collect_one(&scratch, sql).await?;
        if name == "kartlaggning_kon" {
            scratch.register_table(
                "kartlaggning_kon",
                Arc::new(MemTable::try_new(
                    batch.schema(),
                    vec![vec![batch.clone()]],
                )?),
            )?;
        }
        stage_view(out, name, &batch, staged)?;
        report
            .views
            .push((name.into(), batch.num_rows(), flagged(&batch)));
    }
    Ok(())
}

/// Cells flagged as suppressed in a derived view (its `*_skyddad` columns).
fn flagged(batch: &RecordBatch) -> usize {
    let schema = batch.schema();
    schema
        .fields()
        .iter()
        .enumerate()
        .filter(|(_, f)| f.name().ends_with("_skyddad"))
        .filter_map(|(i, _)| {
            batch
                .column(i)
                .as_any()
                .downcast_ref::<BooleanArray>()
                .map(BooleanArray::true_count)
        })
        .sum()
}

/// Runs `sql` into one batch; an empty result keeps the plan's schema.
async fn collect_one(ctx: &datafusion::prelude::SessionContext, sql: &str) -> Result<RecordBatch> {
    let df = ctx.sql(sql).await?;
    let schema = Arc::new(df.schema().as_arrow().clone());
    let batches = df.collect().await?;
    Ok(datafusion::arrow::compute::concat_batches(
        &schema, &batches,
    )?)
}

const KON_SQL: &str = "select kommun, period, matt, alder, dimension, kategori,
    max(case when kon = 'K' then antal end) as kvinnor, bool_or(case when kon = 'K' then antal_skyddad end) as kvinnor_skyddad,
    max(case when kon = 'M' then antal end) as man, bool_or(case when kon = 'M' then antal_skyddad end) as man_skyddad,
    max(case when kon = 'T' then antal end) as totalt, bool_or(case when kon = 'T' then antal_skyddad end) as totalt_skyddad
  from kartlaggning group by kommun, period, matt, alder, dimension, kategori
  order by kommun, period, matt, alder, dimension, kategori";

const BILAGA1_FS_ORSAK_SQL: &str = "select k.kommun, k.period, r.ordning, r.grupp, k.kvinnor, k.kvinnor_skyddad, k.man, k.man_skyddad, k.totalt, k.totalt_skyddad
  from kartlaggning_kon k join (values (1, 'fs_mottagare', 'Totalt, oavsett orsak'), (2, 'fs_arbetsloshet', 'Arbetslöshet'),
    (3, 'fs_arbetsloshet_endast_fs', '– endast försörjningsstöd som inkomstkälla'), (4, 'fs_arbetsloshet_vantar_ersattning', '– väntar på ersättning'),
    (5, 'fs_arbetsloshet_otillracklig_ersattning', '– otillräcklig ersättning'), (6, 'fs_sociala_skal', 'Sociala skäl'), (7, 'fs_ohalsa', 'Ohälsa'),
    (8, 'fs_otillracklig_inkomst', 'Otillräcklig inkomst'), (9, 'fs_annan', 'Annan orsak')) as r(ordning, matt, grupp) on k.matt = r.matt
  where k.alder = '16-24' and k.dimension = 'total' order by k.kommun, k.period, r.ordning";

fn read_cells(batches: &[RecordBatch]) -> Result<Vec<Cell>> {
    let mut cells = Vec::new();
    for b in batches {
        let text = |i: usize| -> Result<&StringArray> {
            b.column(i)
                .as_any()
                .downcast_ref::<StringArray>()
                .ok_or_else(|| Error::Internal(format!("column {i} of kartlaggning is not text")))
        };
        let int = |i: usize| -> Result<&Int64Array> {
            b.column(i)
                .as_any()
                .downcast_ref::<Int64Array>()
                .ok_or_else(|| Error::Internal(format!("column {i} of kartlaggning is not BIGINT")))
        };
        let keys: Vec<&StringArray> = (0..9).map(text).collect::<Result<_>>()?;
        let (antal, bef) = (int(9)?, int(10)?);
        let andel = b
            .column(11)
            .as_any()
            .downcast_ref::<Float64Array>()
            .ok_or_else(|| Error::Internal("andel is not DOUBLE".into()))?;
        for r in 0..b.num_rows() {
            let opt = |a: &Int64Array| (!a.is_null(r)).then(|| a.value(r));
            cells.push(Cell {
                keys: std::array::from_fn(|i| {
                    if keys[i].is_null(r) {
                        String::new()
                    } else {
                        keys[i].value(r).to_string()
                    }
                }),
                antal: opt(antal),
                befolkning: opt(bef),
                andel_kalla: (!andel.is_null(r)).then(|| andel.value(r)),
            });
        }
    }
    Ok(cells)
}

/// kommun, period, matt, kon, alder, dimension, kategori.
type Key7<'a> = (
    &'a str,
    &'a str,
    &'a str,
    &'a str,
    &'a str,
    &'a str,
    &'a str,
);
/// The same without kategori.
type Key6<'a> = (&'a str, &'a str, &'a str, &'a str, &'a str, &'a str);

/// The additivity an attacker can use within one kommun and period:
/// 1. kön: T = K + M for every measure, age and breakdown;
/// 2. breakdowns: the total row = the sum of a dimension's categories, where the data
///    show it (multi-valued or partial breakdowns do not add up and are not used);
/// 3. ages: the 16-24 band = the sum of the single ages, where the data show it;
/// 4. measures that restate each other: försörjningsstöd by reason equals the reason
///    groups' totals, arbetslöshet = its sub-reasons, and målgrupp (sum) = AF + KAA, where
///    the data show it.
///    Only exact equalities in the data are used, so a coincidence adds protection, never less.
pub fn constraints(cells: &[Cell]) -> Vec<Constraint> {
    let mut index: HashMap<Key7<'_>, usize> = HashMap::new();
    for (i, c) in cells.iter().enumerate() {
        let k = &c.keys;
        index.insert((&k[0], &k[1], &k[2], &k[3], &k[4], &k[5], &k[6]), i);
    }
    let value = |i: usize| cells[i].antal;
    let holds = |total: usize, parts: &[usize]| -> bool {
        match (
            value(total),
            parts
                .iter()
                .map(|p| value(*p))
                .collect::<Option<Vec<i64>>>(),
        ) {
            (Some(t), Some(ps)) => !ps.is_empty() && ps.iter().sum::<i64>() == t,
            // With an unknown cell the equation cannot be checked against the data, so it is
            // not used (kön additivity is added separately, without this check).
            _ => false,
        }
    };
    let mut out = Vec::new();
    // Ordered, so the constraints — and with them the secondary suppression chosen — are
    // the same on every run (a HashMap's order changes from process to process).
    let mut groups: BTreeMap<Key6<'_>, Vec<usize>> = BTreeMap::new();
    for (i, c) in cells.iter().enumerate() {
        let k = &c.keys;
        if c.antal.is_none() && c.keys[8] == "kolada" {
            continue;
        }
        // 1. kön
        if k[3] == "T"
            && let (Some(&kv), Some(&mv)) = (
                index.get(&(&k[0], &k[1], &k[2], "K", &k[4], &k[5], &k[6])),
                index.get(&(&k[0], &k[1], &k[2], "M", &k[4], &k[5], &k[6])),
            )
        {
            out.push(Constraint {
                total: i,
                parts: vec![kv, mv],
            });
        }
        if k[5] != "total" {
            groups
                .entry((&k[0], &k[1], &k[2], &k[3], &k[4], &k[5]))
                .or_default()
                .push(i);
        }
    }
    // 2. breakdowns
    for ((kommun, period, matt, kon, alder, _dim), parts) in &groups {
        if let Some(&total) = index.get(&(*kommun, *period, *matt, *kon, *alder, "total", "total"))
            && holds(total, parts)
        {
            out.push(Constraint {
                total,
                parts: parts.clone(),
            });
        }
    }
    // 3. ages, 4. restating measures
    for (i, c) in cells.iter().enumerate() {
        let k = &c.keys;
        if k[5] != "total" || k[4] != "16-24" {
            continue;
        }
        let at = |matt: &str, alder: &str, dim: &str, kat: &str| {
            index
                .get(&(
                    k[0].as_str(),
                    k[1].as_str(),
                    matt,
                    k[3].as_str(),
                    alder,
                    dim,
                    kat,
                ))
                .copied()
        };
        let ages: Vec<usize> = (16..=24)
            .filter_map(|a| at(&k[2], &a.to_string(), "total", "total"))
            .collect();
        if holds(i, &ages) {
            out.push(Constraint {
                total: i,
                parts: ages,
            });
        }
        if let Some(reason) = k[2]
            .strip_prefix("fs_")
            .filter(|r| !r.starts_with("mottagare") && !r.starts_with("arbetsloshet_"))
            && let Some(j) = at("fs_mottagare", "16-24", "orsak", reason)
            && holds(j, &[i])
        {
            out.push(Constraint {
                total: j,
                parts: vec![i],
            });
        }
        if k[2] == "fs_arbetsloshet" {
            let subs: Vec<usize> = [
                "fs_arbetsloshet_endast_fs",
                "fs_arbetsloshet_vantar_ersattning",
                "fs_arbetsloshet_otillracklig_ersattning",
            ]
            .iter()
            .filter_map(|m| at(m, "16-24", "total", "total"))
            .collect();
            if holds(i, &subs) {
                out.push(Constraint {
                    total: i,
                    parts: subs,
                });
            }
        }
        if k[2] == "malgrupp_summa" {
            let parts: Vec<usize> = [
                at("af_inskrivna", "16-24", "total", "total"),
                at("kaa_inskrivna", "16-20", "total", "total"),
            ]
            .into_iter()
            .flatten()
            .collect();
            if parts.len() == 2 && holds(i, &parts) {
                out.push(Constraint { total: i, parts });
            }
        }
    }
    out
}

fn long_batch(cells: &[Cell], flags: &[bool]) -> Result<RecordBatch> {
    let names = [
        "kommun",
        "period",
        "matt",
        "kon",
        "alder",
        "dimension",
        "kategori",
        "status",
        "kalla",
    ];
    let mut fields: Vec<Field> = names
        .iter()
        .map(|n| Field::new(*n, DataType::Utf8, false))
        .collect();
    fields.push(Field::new("antal", DataType::Int64, true));
    fields.push(Field::new("antal_skyddad", DataType::Boolean, false));
    fields.push(Field::new("befolkning", DataType::Int64, true));
    fields.push(Field::new("andel", DataType::Float64, true));
    let mut cols: Vec<ArrayRef> = (0..9)
        .map(|i| {
            Arc::new(
                cells
                    .iter()
                    .map(|c| Some(c.keys[i].as_str()))
                    .collect::<StringArray>(),
            ) as ArrayRef
        })
        .collect();
    let visible = |i: usize| if flags[i] { None } else { cells[i].antal };
    cols.push(Arc::new(
        (0..cells.len()).map(visible).collect::<Int64Array>(),
    ));
    cols.push(Arc::new(
        (0..cells.len())
            .map(|i| Some(flags[i] && cells[i].antal.is_some()))
            .collect::<BooleanArray>(),
    ));
    cols.push(Arc::new(
        cells.iter().map(|c| c.befolkning).collect::<Int64Array>(),
    ));
    cols.push(Arc::new(
        (0..cells.len())
            .map(|i| {
                cells[i]
                    .andel_kalla
                    .or_else(|| match (visible(i), cells[i].befolkning) {
                        (Some(a), Some(b)) if b > 0 => Some(a as f64 / b as f64),
                        _ => None,
                    })
            })
            .collect::<Float64Array>(),
    ));
    Ok(RecordBatch::try_new(Arc::new(Schema::new(fields)), cols)?)
}

/// Writes `<dir>/<name>.parquet` and `<dir>/<name>.csv`, each atomically.
/// Stages a view's Parquet and CSV files; [`publish`] renames all views' files into
/// place together once every view was computed, so readers switch from the old set to the
/// new one within a few renames instead of one view at a time.
fn stage_view(
    dir: &std::path::Path,
    name: &str,
    batch: &RecordBatch,
    staged: &mut Vec<atomic::Staged>,
) -> Result<()> {
    staged.push(atomic::stage(
        &dir.join(format!("{name}.parquet")),
        &parquet::encode(std::slice::from_ref(batch))?,
    )?);
    let mut csv = Vec::new();
    {
        let mut w = datafusion::arrow::csv::WriterBuilder::new()
            .with_header(true)
            .build(&mut csv);
        w.write(batch)?;
    }
    staged.push(atomic::stage(&dir.join(format!("{name}.csv")), &csv)?);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cell(matt: &str, kon: &str, dim: &str, kat: &str, antal: i64) -> Cell {
        let keys = ["0880", "2015-05", matt, kon, "16-24", dim, kat, "ok", "x"].map(String::from);
        Cell {
            keys,
            antal: Some(antal),
            befolkning: None,
            andel_kalla: None,
        }
    }

    #[test]
    fn constraints_come_out_in_the_same_order_every_time() {
        // Many breakdowns, so an unordered map would shuffle them between calls.
        let mut cells = Vec::new();
        for d in 0..12 {
            for kon in ["K", "M", "T"] {
                let n = if kon == "T" { 2 } else { 1 };
                cells.push(cell("m", kon, &format!("d{d}"), "a", 3 * n));
                cells.push(cell("m", kon, &format!("d{d}"), "b", 4 * n));
            }
        }
        for (kon, n) in [("K", 7), ("M", 7), ("T", 14)] {
            cells.push(cell("m", kon, "total", "total", n));
        }
        let first: Vec<(usize, Vec<usize>)> = constraints(&cells)
            .into_iter()
            .map(|c| (c.total, c.parts))
            .collect();
        assert!(
            first.len() > 36,
            "kön and breakdown constraints: {}",
            first.len()
        );
        for _ in 0..5 {
            let again: Vec<(usize, Vec<usize>)> = constraints(&cells)
                .into_iter()
                .map(|c| (c.total, c.parts))
                .collect();
            assert_eq!(again, first);
        }
    }
}
