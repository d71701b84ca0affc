//! Mapping a decoded extract onto its canonical table, row by row.
//!
//! For every row each mapped field gets its raw text (column, constant, file name or
//! cell), optionally through a regex and template, then the value map, then the typed
//! parser of its canonical type. The identity number is validated and replaced by the
//! keyed pseudonym here, so the raw number goes no further than this function. A row
//! with any problem goes to quarantine with file, row, column and reason (values shown
//! masked); a problem that concerns the whole file (a missing column, a constant that
//! does not parse) fails the extract instead.
//!
//! The stage between `format` and `pipeline`: it reads a pipeline's field mappings
//! (`config`) and the shared schema and value parsers (`normalize`). This file holds
//! what a mapping hands back and [`map_extract`], which runs it over an extract's rows;
//! `sources` finds each field's text in the extract, `row` maps one row, `person` turns
//! a row's person fields (a personnummer or another key) into its columns, `batch`
//! builds Arrow batches, `keys` finds an aggregate key given twice, `unpivot` turns value
//! columns into rows, `error` holds the failures of a file and of a field.

pub mod batch;
mod error;
pub mod keys;
mod person;
mod row;
mod sources;
pub mod unpivot;

use std::collections::BTreeMap;

use chrono::NaiveDate;
use datafusion::arrow::record_batch::RecordBatch;

use crate::config::pipeline::Pipeline;
use crate::format::RawTable;
use crate::normalize::pseudonym::PseudonymKey;
use crate::normalize::schema::TableKind;
pub use error::{Invalid, MappingError};

/// A typed cell of a canonical row.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    /// No value.
    Null,
    /// Text.
    Text(String),
    /// Float.
    Float(f64),
    /// Integer.
    Int(i32),
    /// Boolean.
    Bool(bool),
    /// Date.
    Date(NaiveDate),
}

/// One canonical row, in the order of [`crate::normalize::schema::TableDef::file_schema`].
pub type Row = Vec<Cell>;

/// A rejected row.
#[derive(Debug, Clone, PartialEq)]
pub struct Rejected {
    /// 1-based row number in the file.
    pub row: usize,
    /// Source column (or field) at fault.
    pub column: Option<String>,
    /// The offending value, masked and shortened.
    pub value: Option<String>,
    /// What was expected.
    pub reason: String,
}

/// The result of mapping one extract (or one chunk of it).
#[derive(Debug, Default)]
pub struct Mapped {
    /// Rows by (kommun, period) partition, as batches in the table's file schema, in
    /// file order.
    pub partitions: BTreeMap<(String, String), Vec<RecordBatch>>,
    /// Rejected rows, in file order.
    pub rejected: Vec<Rejected>,
    /// Input records considered (after unpivot).
    pub records: usize,
    /// For aggregate tables: each mapped row's key and row number, in file order
    /// (`keys::first_duplicate`).
    pub keys: Vec<(String, usize)>,
}

impl Mapped {
    /// Appends the result of the next chunk of the same extract.
    ///
    /// A national extract spreads every chunk over hundreds of partitions, so each chunk
    /// adds a small batch to each of them; a batch costs buffers and headers of its own
    /// for every column, so a partition's batches are joined once they are
    /// [`COALESCE_AT`] (the rows are copied a few times, the overhead is not kept).
    pub fn absorb(&mut self, next: Mapped) {
        for (part, batches) in next.partitions {
            let held = self.partitions.entry(part).or_default();
            held.extend(batches);
            if held.len() >= COALESCE_AT
                && let Ok(one) =
                    datafusion::arrow::compute::concat_batches(&held[0].schema(), held.iter())
            {
                *held = vec![one];
            }
        }
        self.rejected.extend(next.rejected);
        self.records += next.records;
        self.keys.extend(next.keys);
    }
}

/// Batches a partition may hold before [`Mapped::absorb`] joins them.
const COALESCE_AT: usize = 8;

/// Maps `table` (decoded from the file `file_name`, content id `extract_id`).
pub fn map_extract(
    pipeline: &Pipeline,
    table: &RawTable,
    file_name: &str,
    extract_id: &str,
    key: &PseudonymKey,
) -> Result<Mapped, MappingError> {
    let table = unpivot::apply(pipeline, table)?;
    // Resolve columns and file-level values once: a problem here concerns the whole file.
    let sources = sources::resolve(pipeline, &table, file_name)?;
    let record = pipeline.target.kind == TableKind::Record;
    // Positions of dimension/kategori, looked up once rather than per row.
    let schema = pipeline.target.file_schema();
    let total_pair = match (schema.index_of("dimension"), schema.index_of("kategori")) {
        (Ok(d), Ok(k)) if !record => Some((d, k)),
        _ => None,
    };
    let key_cells = keys::positions(pipeline.target);
    let plan = row::RowPlan::new(pipeline, &sources, extract_id, key, record, total_pair);
    // Rows are independent: the chunk is split into one contiguous slice per core, and
    // the slices' results are joined in order, so the output is the sequential one.
    let workers = std::thread::available_parallelism()
        .map_or(1, usize::from)
        .min(table.rows.len().div_ceil(MIN_ROWS_PER_WORKER).max(1));
    let per_worker = table.rows.len().div_ceil(workers).max(1);
    let map_slice = |rows: &[crate::format::RawRow]| -> Result<Mapped, MappingError> {
        let mut parts: BTreeMap<(String, String), Vec<Row>> = BTreeMap::new();
        let mut out = Mapped {
            records: rows.len(),
            ..Mapped::default()
        };
        for raw in rows {
            if let Some(reason) = &raw.problem {
                out.rejected.push(Rejected {
                    row: raw.row,
                    column: None,
                    value: None,
                    reason: reason.clone(),
                });
                continue;
            }
            match row::map_row(&plan, &raw.cells) {
                Ok((part, row)) => {
                    if let Some(at) = &key_cells {
                        out.keys.push((keys::of(&part, &row, at), raw.row));
                    }
                    parts.entry(part).or_default().push(row)
                }
                Err(e) => out.rejected.push(Rejected {
                    row: raw.row,
                    column: e.column,
                    value: e.value,
                    reason: e.reason,
                }),
            }
        }
        for (part, rows) in parts {
            let batch = batch::rows_to_batch(&schema, &rows).map_err(MappingError::Batch)?;
            out.partitions.insert(part, vec![batch]);
        }
        Ok(out)
    };
    let slices: Vec<&[crate::format::RawRow]> = table.rows.chunks(per_worker).collect();
    let results = crate::runtime::parallel_map(&slices, |rows| map_slice(rows));
    let mut out = Mapped::default();
    for r in results {
        out.absorb(r.ok_or(MappingError::Panicked)??);
    }
    Ok(out)
}

/// Below this many rows per core a chunk is mapped on fewer threads (starting a thread
/// costs more than mapping a few rows).
const MIN_ROWS_PER_WORKER: usize = 4_096;
