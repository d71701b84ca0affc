//! The published files of one view (or of one period of a view), written chunk by
//! chunk: `<name>.parquet` and `<name>.csv`, each staged under a temporary name until the
//! whole set is published.

use std::io::BufWriter;

use datafusion::arrow::array::BooleanArray;
use datafusion::arrow::csv::Writer as CsvWriter;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::parquet::arrow::ArrowWriter;

use crate::error::{Error, Result};
use crate::lake::atomic::{Staged, StagingFile};
use crate::lake::parquet;

/// Rows per Parquet write. The writer decides where a data page ends when a write call
/// ends, so writes of one fixed size make a file's bytes depend on its rows alone, not on
/// how publishing cut them into chunks: a period file kept from an earlier publish equals
/// the one a publish from scratch writes. (The size is Parquet's default mini-batch.)
const ALIGN: usize = 1024;

/// One view being written.
pub struct ViewOutput {
    name: String,
    dir: std::path::PathBuf,
    files: Option<(ArrowWriter<StagingFile>, CsvWriter<BufWriter<StagingFile>>)>,
    /// Rows not yet given to the Parquet writer: fewer than [`ALIGN`].
    pending: Option<RecordBatch>,
    /// Rows written.
    pub rows: usize,
    /// Cells flagged as suppressed (the `*_skyddad` columns that are true).
    pub flagged: usize,
}

impl ViewOutput {
    /// The files `<name>.parquet` and `<name>.csv` in `dir` (a view, or a period of one
    /// in the view's directory); they are created with the first batch.
    pub fn new(dir: &std::path::Path, name: &str) -> Self {
        ViewOutput {
            name: name.to_string(),
            dir: dir.to_path_buf(),
            files: None,
            pending: None,
            rows: 0,
            flagged: 0,
        }
    }

    /// The files' name without extension.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The view's file with the extension `ext`.
    fn path(&self, ext: &str) -> std::path::PathBuf {
        self.dir.join(format!("{}.{ext}", self.name))
    }

    /// Appends a batch (an empty one still fixes the files' schema and CSV header).
    pub fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        if self.files.is_none() {
            let pq = StagingFile::create(&self.path("parquet"))?;
            let csv = StagingFile::create(&self.path("csv"))?;
            self.files = Some((
                parquet::writer(pq, batch.schema())
                    .map_err(|e| Error::write(self.path("parquet"), e))?,
                datafusion::arrow::csv::WriterBuilder::new()
                    .with_header(true)
                    .build(BufWriter::new(csv)),
            ));
        }
        if let Some((pq, csv)) = &mut self.files {
            write_aligned(pq, &mut self.pending, batch)
                .map_err(|e| Error::write(self.dir.join(format!("{}.parquet", self.name)), e))?;
            csv.write(batch)
                .map_err(|e| Error::write(self.dir.join(format!("{}.csv", self.name)), e))?;
        }
        self.rows += batch.num_rows();
        self.flagged += flagged(batch);
        Ok(())
    }

    /// Closes both files and returns them staged (None if nothing was ever written).
    pub fn finish(self) -> Result<Vec<Staged>> {
        let (pq_path, csv_path) = (self.path("parquet"), self.path("csv"));
        let Some((mut pq, csv)) = self.files else {
            return Ok(Vec::new());
        };
        if let Some(rest) = &self.pending {
            pq.write(rest).map_err(|e| Error::write(&pq_path, e))?;
        }
        let pq = pq.into_inner().map_err(|e| Error::write(pq_path, e))?;
        let csv = csv
            .into_inner()
            .into_inner()
            .map_err(|e| Error::io(csv_path, e.into_error()))?;
        Ok(vec![pq.finish()?, csv.finish()?])
    }
}

/// Gives `batch` to `pq` in slices of [`ALIGN`] rows, counted from the file's first row;
/// what is left over waits in `pending` for the next batch (or the end).
fn write_aligned<W: std::io::Write + Send>(
    pq: &mut ArrowWriter<W>,
    pending: &mut Option<RecordBatch>,
    batch: &RecordBatch,
) -> std::result::Result<(), datafusion::parquet::errors::ParquetError> {
    let mut rest = batch.clone();
    if let Some(head) = pending.take() {
        let take = (ALIGN - head.num_rows()).min(rest.num_rows());
        let joined = datafusion::arrow::compute::concat_batches(
            &head.schema(),
            [&head, &rest.slice(0, take)],
        )?;
        rest = rest.slice(take, rest.num_rows() - take);
        if joined.num_rows() < ALIGN {
            *pending = Some(joined);
            return Ok(());
        }
        pq.write(&joined)?;
    }
    // One call per slice: the writer decides on page ends per call, not within one.
    let mut offset = 0;
    while rest.num_rows() - offset >= ALIGN {
        pq.write(&rest.slice(offset, ALIGN))?;
        offset += ALIGN;
    }
    if offset < rest.num_rows() {
        *pending = Some(rest.slice(offset, rest.num_rows() - offset));
    }
    Ok(())
}

/// Cells flagged as suppressed in a view (its `*_skyddad` columns).
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
