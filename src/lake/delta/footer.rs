//! What a Parquet file's footer says, for its Delta `add` action: its columns, its rows
//! and, per column, the bounds engines skip files by.

use std::path::Path;

use bytes::Bytes;

use datafusion::arrow::datatypes::{DataType, Schema};
use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use datafusion::parquet::file::metadata::ParquetMetaData;

use crate::error::{Error, Result};

/// What a Parquet file's footer says.
pub struct Footer {
    /// Its columns.
    pub schema: Schema,
    /// Its rows.
    pub rows: u64,
    /// Per column its bounds, as Delta's `stats` has them (see [`bounds`]).
    pub bounds: serde_json::Map<String, serde_json::Value>,
}

/// Reads the footer of `bytes`, the contents of `file`.
pub fn footer(bytes: Bytes, file: &Path) -> Result<Footer> {
    let reader = ParquetRecordBatchReaderBuilder::try_new(bytes).map_err(|e| Error::Table {
        table: file.display().to_string(),
        message: format!("not readable as Parquet: {e}"),
    })?;
    let rows = reader.metadata().file_metadata().num_rows();
    let schema = reader
        .schema()
        .as_ref()
        .clone()
        .with_metadata(Default::default());
    let bounds = bounds(reader.metadata(), &schema);
    Ok(Footer {
        schema,
        rows: u64::try_from(rows).unwrap_or(0),
        bounds,
    })
}

/// `minValues`, `maxValues` and `nullCount` of the string and integer columns, from the
/// row groups' statistics: what lets Spark, Trino or DuckDB skip the files of other
/// periods and kommuner. A column is left out unless every row group has exact bounds
/// for it (a truncated string bound is not a value of the column).
fn bounds(
    metadata: &ParquetMetaData,
    schema: &Schema,
) -> serde_json::Map<String, serde_json::Value> {
    use datafusion::parquet::file::statistics::Statistics as S;
    use serde_json::{Map, Value, json};
    let (mut min, mut max, mut nulls) = (Map::new(), Map::new(), Map::new());
    // Published views and lake tables are flat: column i of the file is field i.
    if metadata.file_metadata().schema_descr().num_columns() != schema.fields().len() {
        return Map::new();
    }
    'columns: for (i, field) in schema.fields().iter().enumerate() {
        let mut bounds: Option<(Value, Value)> = None;
        let mut null_count = 0;
        for group in metadata.row_groups() {
            let Some(stats) = group.column(i).statistics() else {
                continue 'columns;
            };
            // A row group of nulls only has no bounds: it narrows nothing.
            let has_bounds = stats.min_bytes_opt().is_some() && stats.max_bytes_opt().is_some();
            if has_bounds && (!stats.min_is_exact() || !stats.max_is_exact()) {
                continue 'columns;
            }
            let Some(n) = stats.null_count_opt() else {
                continue 'columns;
            };
            null_count += n;
            let pair = match stats {
                S::Int32(s) => s
                    .min_opt()
                    .zip(s.max_opt())
                    .map(|(a, b)| (json!(a), json!(b))),
                S::Int64(s) => s
                    .min_opt()
                    .zip(s.max_opt())
                    .map(|(a, b)| (json!(a), json!(b))),
                S::ByteArray(s)
                    if matches!(
                        field.data_type(),
                        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
                    ) =>
                {
                    match s.min_opt().zip(s.max_opt()) {
                        Some((a, b)) => match (a.as_utf8(), b.as_utf8()) {
                            (Ok(a), Ok(b)) => Some((json!(a), json!(b))),
                            _ => continue 'columns,
                        },
                        None => None,
                    }
                }
                _ => continue 'columns,
            };
            if let Some((lo, hi)) = pair {
                bounds = Some(match bounds {
                    None => (lo, hi),
                    Some((l, h)) => (smaller(l, lo, true), smaller(h, hi, false)),
                });
            }
        }
        let name = field.name().clone();
        if let Some((lo, hi)) = bounds {
            min.insert(name.clone(), lo);
            max.insert(name.clone(), hi);
        }
        nulls.insert(name, json!(null_count));
    }
    Map::from_iter([
        ("minValues".to_string(), Value::Object(min)),
        ("maxValues".to_string(), Value::Object(max)),
        ("nullCount".to_string(), Value::Object(nulls)),
    ])
}

/// The smaller (`least`) or larger of two bounds of one column, both numbers or both
/// strings (strings compare as UTF-8 bytes, as Delta orders them).
fn smaller(a: serde_json::Value, b: serde_json::Value, least: bool) -> serde_json::Value {
    use serde_json::Value;
    let a_first = match (&a, &b) {
        (Value::Number(x), Value::Number(y)) => x.as_i64() <= y.as_i64(),
        (Value::String(x), Value::String(y)) => x <= y,
        _ => true,
    };
    if a_first == least { a } else { b }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use datafusion::arrow::array::{ArrayRef, Int64Array, StringArray};
    use datafusion::arrow::record_batch::RecordBatch;
    use datafusion::parquet::arrow::ArrowWriter;
    use datafusion::parquet::file::properties::WriterProperties;
    use serde_json::json;

    use super::*;

    /// Bounds over several row groups, nulls counted, a row group of nulls only and a
    /// truncated string bound (not a value of the column) left out.
    #[test]
    fn bounds_span_the_row_groups_and_leave_out_inexact_columns() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("v.parquet");
        let batch = RecordBatch::try_from_iter([
            (
                "kommun",
                Arc::new(StringArray::from(vec![
                    Some("0881"),
                    Some("0880"),
                    None,
                    None,
                    Some("0885"),
                ])) as ArrayRef,
            ),
            (
                "antal",
                Arc::new(Int64Array::from(vec![
                    Some(5),
                    Some(-3),
                    None,
                    None,
                    Some(70),
                ])) as ArrayRef,
            ),
            (
                "lang",
                Arc::new(StringArray::from(
                    vec!["a"; 4]
                        .into_iter()
                        .chain(["zzzzzzzzzz"])
                        .collect::<Vec<_>>(),
                )) as ArrayRef,
            ),
        ])
        .expect("batch");
        let props = WriterProperties::builder()
            .set_max_row_group_row_count(Some(2))
            .set_statistics_truncate_length(Some(4))
            .build();
        let mut w = ArrowWriter::try_new(
            std::fs::File::create(&path).expect("file"),
            batch.schema(),
            Some(props),
        )
        .expect("writer");
        w.write(&batch).expect("write");
        w.close().expect("close");
        let bytes = std::fs::read(&path).expect("read");
        let f = footer(bytes.into(), &path).expect("footer");
        assert_eq!(f.rows, 5);
        assert_eq!(
            serde_json::Value::Object(f.bounds),
            json!({
                "minValues": {"kommun": "0880", "antal": -3},
                "maxValues": {"kommun": "0885", "antal": 70},
                "nullCount": {"kommun": 2, "antal": 2},
            })
        );
    }
}
