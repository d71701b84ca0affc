//! The cells publishing works on: the rows of `kartlaggning` read for suppression, and
//! the suppressed long table built back from them.

use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, BooleanArray, Float64Array, Int64Array, StringArray,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::arrow::record_batch::RecordBatch;

use crate::error::{Error, Result};

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

/// The rows of `kartlaggning` that publishing reads (those matching `filter`, a SQL
/// condition, or all), in the order of the published table: the nine keys, the count,
/// the population, and the share of measures delivered as shares ([`read_cells`]).
pub fn sql(filter: Option<&str>) -> String {
    sql_of("kartlaggning", filter)
}

/// [`sql`] of another view in the long kartläggning's layout (`uppfoljning_celler`).
pub fn sql_of(view: &str, filter: Option<&str>) -> String {
    format!(
        "select kommun, period, matt, kon, alder, dimension, kategori, status, kalla, antal, befolkning, \
         case when kalla = 'kolada' then andel end as andel_kalla from {view}{} order by {ORDER}",
        filter.map(|f| format!(" where {f}")).unwrap_or_default()
    )
}

/// The key columns of the long table, in [`Cell::keys`] order.
pub const KEYS: [&str; 9] = [
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

/// The information suppression hides in `cells`: the counts flagged (an agency's own
/// unknown cells not included) and their sum.
pub fn hidden_loss(cells: &[Cell], flags: &[bool]) -> (usize, i64) {
    cells
        .iter()
        .zip(flags)
        .filter_map(|(c, f)| c.antal.filter(|_| *f))
        .fold((0, 0), |(n, sum), v| (n + 1, sum + v))
}

/// The order of the published long table (and of the cells).
pub const ORDER: &str = "kommun, period, matt, kon, alder, dimension, kategori";

/// Reads rows selected by [`sql`].
pub fn read_cells(batches: &[RecordBatch]) -> Result<Vec<Cell>> {
    let mut cells = Vec::new();
    for b in batches {
        // Views may type text as Utf8View (e.g. `CAST(… AS VARCHAR)`): read it as Utf8.
        let texts: Vec<ArrayRef> = (0..9)
            .map(|i| datafusion::arrow::compute::cast(b.column(i), &DataType::Utf8))
            .collect::<std::result::Result<_, _>>()?;
        let text = |i: usize| -> Result<&StringArray> {
            texts[i]
                .as_any()
                .downcast_ref::<StringArray>()
                .ok_or_else(|| Error::Internal(format!("key column {i} of the cells is not text")))
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

/// The suppressed long table: `flags[i]` hides cell i's count (and its share).
pub fn long_batch(cells: &[Cell], flags: &[bool]) -> Result<RecordBatch> {
    let mut fields: Vec<Field> = KEYS
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
