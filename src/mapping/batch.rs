//! Canonical rows → Arrow record batches in the table's file schema.

use std::sync::Arc;

use datafusion::arrow::array::{
    ArrayRef, BooleanBuilder, Date32Builder, Float64Builder, Int32Builder, Int64Builder,
    StringBuilder,
};
use datafusion::arrow::datatypes::{DataType, SchemaRef};
use datafusion::arrow::record_batch::RecordBatch;

use super::{Cell, Rejected, Row};
use crate::error::{Error, Result};

const UNIX_EPOCH_CE_DAYS: i32 = 719_163;

/// Builds one batch from rows whose cells follow `schema` column by column.
pub fn rows_to_batch(schema: &SchemaRef, rows: &[Row]) -> Result<RecordBatch> {
    let mut columns: Vec<ArrayRef> = Vec::with_capacity(schema.fields().len());
    // Builders sized exactly: `new()` reserves 1,024 values per column, and a national
    // extract maps into thousands of partition batches of a few hundred rows each, which
    // kept four times the data's size alive until the run was staged.
    let n = rows.len();
    for (i, field) in schema.fields().iter().enumerate() {
        let cells = rows.iter().map(|r| r.get(i).unwrap_or(&Cell::Null));
        let bad = |c: &Cell| {
            Error::Internal(format!(
                "column {} ({}) got {c:?}",
                field.name(),
                field.data_type()
            ))
        };
        let array: ArrayRef = match field.data_type() {
            DataType::Utf8 => {
                let bytes = rows
                    .iter()
                    .map(|r| match r.get(i) {
                        Some(Cell::Text(s)) => s.len(),
                        _ => 0,
                    })
                    .sum();
                let mut b = StringBuilder::with_capacity(n, bytes);
                for c in cells {
                    match c {
                        Cell::Text(s) => b.append_value(s),
                        Cell::Null => b.append_null(),
                        other => return Err(bad(other)),
                    }
                }
                Arc::new(b.finish())
            }
            DataType::Float64 => {
                let mut b = Float64Builder::with_capacity(n);
                for c in cells {
                    match c {
                        Cell::Float(v) => b.append_value(*v),
                        Cell::Null => b.append_null(),
                        other => return Err(bad(other)),
                    }
                }
                Arc::new(b.finish())
            }
            DataType::Int32 => {
                let mut b = Int32Builder::with_capacity(n);
                for c in cells {
                    match c {
                        Cell::Int(v) => b.append_value(*v),
                        Cell::Null => b.append_null(),
                        other => return Err(bad(other)),
                    }
                }
                Arc::new(b.finish())
            }
            DataType::Boolean => {
                let mut b = BooleanBuilder::with_capacity(n);
                for c in cells {
                    match c {
                        Cell::Bool(v) => b.append_value(*v),
                        Cell::Null => b.append_null(),
                        other => return Err(bad(other)),
                    }
                }
                Arc::new(b.finish())
            }
            DataType::Date32 => {
                let mut b = Date32Builder::with_capacity(n);
                for c in cells {
                    match c {
                        Cell::Date(d) => b.append_value(
                            chrono::Datelike::num_days_from_ce(d) - UNIX_EPOCH_CE_DAYS,
                        ),
                        Cell::Null => b.append_null(),
                        other => return Err(bad(other)),
                    }
                }
                Arc::new(b.finish())
            }
            other => {
                return Err(Error::Internal(format!(
                    "unsupported canonical type {other}"
                )));
            }
        };
        columns.push(array);
    }
    Ok(RecordBatch::try_new(schema.clone(), columns)?)
}

/// Quarantine rows of one extract → a batch in [`crate::normalize::schema::quarantine_schema`].
pub fn rejected_to_batch(
    file: &str,
    extract_id: &str,
    rejected: &[Rejected],
) -> Result<RecordBatch> {
    let schema = crate::normalize::schema::quarantine_schema();
    let mut f = StringBuilder::new();
    let mut row = Int64Builder::new();
    let mut col = StringBuilder::new();
    let mut val = StringBuilder::new();
    let mut reason = StringBuilder::new();
    let mut id = StringBuilder::new();
    for r in rejected {
        f.append_value(file);
        row.append_value(r.row as i64);
        col.append_option(r.column.as_deref());
        val.append_option(r.value.as_deref());
        reason.append_value(&r.reason);
        id.append_value(extract_id);
    }
    let cols: Vec<ArrayRef> = vec![
        Arc::new(f.finish()),
        Arc::new(row.finish()),
        Arc::new(col.finish()),
        Arc::new(val.finish()),
        Arc::new(reason.finish()),
        Arc::new(id.finish()),
    ];
    Ok(RecordBatch::try_new(schema, cols)?)
}
