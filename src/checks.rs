//! Quality gates: the `[checks]` of a pipeline, evaluated on the partitions a run is
//! about to publish. Any failure fails the run with [`Error::Gate`] and discards what was
//! staged, so the previous version of every partition stays — stale beats wrong.
//!
//! The quarantine limit (`max_quarantined_share`) is the fifth gate; it is checked where
//! the rejected rows are counted, in `pipeline`.

use std::collections::BTreeSet;
use std::fs::File;

use datafusion::arrow::record_batch::RecordBatch;
use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use crate::config::operations::Checks;
use crate::config::pipeline::Pipeline;
use crate::error::{Error, Result};
use crate::lake::Lake;

/// The failed checks of one partition a run is about to publish, each prefixed with the
/// partition; [`verdict`] turns those of every partition into the run's outcome.
pub fn partition_failures(
    pipeline: &Pipeline,
    lake: &Lake,
    kommun: &str,
    period: &str,
    batch: &RecordBatch,
) -> Result<Vec<String>> {
    let at = format!("kommun {kommun} period {period}");
    let mut failures: Vec<String> = check_partition(&pipeline.checks, batch)?
        .into_iter()
        .map(|f| format!("{at}: {f}"))
        .collect();
    if let Some((lo, hi)) = pipeline.checks.row_count_ratio
        && let Some((prev_period, prev_rows)) = previous_rows(lake, pipeline, kommun, period)
        && prev_rows > 0
    {
        let ratio = batch.num_rows() as f64 / prev_rows as f64;
        if ratio < lo || ratio > hi {
            failures.push(format!(
                "{at}: {} rows against {prev_rows} in {prev_period} (ratio {ratio:.2}, allowed {lo}–{hi})",
                batch.num_rows()
            ));
        }
    }
    Ok(failures)
}

/// The run's outcome from the failures of all its partitions (in partition order): any
/// failure is [`Error::Gate`], all reported together.
pub fn verdict(pipeline: &Pipeline, mut failures: Vec<String>) -> Result<()> {
    if failures.is_empty() {
        return Ok(());
    }
    // A national extract can fail in hundreds of partitions: the first ones say what is
    // wrong, the count says how widely.
    const SHOWN: usize = 20;
    if failures.len() > SHOWN {
        let more = failures.len() - SHOWN;
        failures.truncate(SHOWN);
        failures.push(format!("… and {more} more failed checks"));
    }
    Err(Error::Gate {
        pipeline: pipeline.name.clone(),
        failures,
    })
}

/// The checks that need only the partition itself.
fn check_partition(checks: &Checks, batch: &RecordBatch) -> Result<Vec<String>> {
    let mut out = Vec::new();
    if let Some(min) = checks.min_rows
        && batch.num_rows() < min
    {
        out.push(format!(
            "{} rows, fewer than min_rows {min}",
            batch.num_rows()
        ));
    }
    for (column, required) in &checks.required_values {
        let Some(array) = batch.column_by_name(column) else {
            out.push(format!("column {column} is missing"));
            continue;
        };
        let values = crate::query::columns::texts(array)?;
        let present: BTreeSet<&str> = values.iter().flatten().map(String::as_str).collect();
        let missing: Vec<&str> = required
            .iter()
            .map(String::as_str)
            .filter(|v| !present.contains(v))
            .collect();
        if !missing.is_empty() {
            out.push(format!(
                "column {column} lacks required values {}",
                missing.join(", ")
            ));
        }
    }
    for column in &checks.non_negative {
        let Some(array) = batch.column_by_name(column) else {
            continue;
        };
        let values = crate::query::columns::floats(array)?;
        let negative: Vec<(usize, f64)> = values
            .iter()
            .enumerate()
            .filter_map(|(i, v)| v.filter(|x| *x < 0.0).map(|x| (i, x)))
            .collect();
        if let Some(&(first, value)) = negative.first() {
            out.push(format!(
                "column {column} has {} negative value(s), the first {value} in row {}",
                negative.len(),
                first + 1
            ));
        }
    }
    Ok(out)
}

/// Rows of this pipeline's file in the same kommun's latest period before `period`.
fn previous_rows(
    lake: &Lake,
    pipeline: &Pipeline,
    kommun: &str,
    period: &str,
) -> Option<(String, i64)> {
    let dir = lake
        .table_dir(pipeline.target.name)
        .join(format!("kommun={kommun}"));
    let file_name = format!("{}.parquet", pipeline.name);
    let previous = std::fs::read_dir(&dir)
        .ok()?
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let p = name.strip_prefix("period=")?.to_string();
            (p.as_str() < period && p.len() == period.len() && e.path().join(&file_name).is_file())
                .then_some(p)
        })
        .max()?;
    let file = File::open(dir.join(format!("period={previous}")).join(&file_name)).ok()?;
    let rows = ParquetRecordBatchReaderBuilder::try_new(file)
        .ok()?
        .metadata()
        .file_metadata()
        .num_rows();
    Some((previous, rows))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use datafusion::arrow::array::{Int64Array, StringArray};
    use datafusion::arrow::datatypes::{DataType, Field, Schema};

    use super::*;

    fn batch(kategori: &[&str], antal: &[i64]) -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![
            Field::new("kategori", DataType::Utf8, true),
            Field::new("antal", DataType::Int64, true),
        ]));
        RecordBatch::try_new(
            schema,
            vec![
                Arc::new(StringArray::from(kategori.to_vec())),
                Arc::new(Int64Array::from(antal.to_vec())),
            ],
        )
        .expect("batch")
    }

    #[test]
    fn partition_checks_report_each_failure() {
        let checks = Checks {
            min_rows: Some(3),
            row_count_ratio: None,
            required_values: vec![("kategori".into(), vec!["a".into(), "c".into()])],
            non_negative: vec!["antal".into()],
        };
        let failures = check_partition(&checks, &batch(&["a", "b"], &[5, -2])).expect("check");
        assert_eq!(failures.len(), 3, "{failures:?}");
        assert!(failures[0].contains("2 rows, fewer than min_rows 3"));
        assert!(failures[1].contains("lacks required values c"));
        assert!(failures[2].contains("1 negative value(s), the first -2 in row 2"));
        let ok = check_partition(&checks, &batch(&["a", "b", "c"], &[5, 0, 1])).expect("check");
        assert!(ok.is_empty(), "{ok:?}");
    }
}
