//! The published files of one view, written chunk by chunk: `<name>.parquet` and
//! `<name>.csv`, each staged under a temporary name until the whole set is published.

use std::io::BufWriter;

use datafusion::arrow::array::BooleanArray;
use datafusion::arrow::csv::Writer as CsvWriter;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::parquet::arrow::ArrowWriter;

use crate::error::{Error, Result};
use crate::lake::atomic::{Staged, StagingFile};
use crate::lake::parquet;

/// One view being written.
pub struct ViewOutput {
    name: String,
    dir: std::path::PathBuf,
    files: Option<(ArrowWriter<StagingFile>, CsvWriter<BufWriter<StagingFile>>)>,
    /// Rows written.
    pub rows: usize,
    /// Cells flagged as suppressed (the `*_skyddad` columns that are true).
    pub flagged: usize,
}

impl ViewOutput {
    /// A view named `name` in `dir`; its files are created with the first batch.
    pub fn new(dir: &std::path::Path, name: &str) -> Self {
        ViewOutput {
            name: name.to_string(),
            dir: dir.to_path_buf(),
            files: None,
            rows: 0,
            flagged: 0,
        }
    }

    /// The view's name.
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
            pq.write(batch)
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
        let Some((pq, csv)) = self.files else {
            return Ok(Vec::new());
        };
        let pq = pq.into_inner().map_err(|e| Error::write(pq_path, e))?;
        let csv = csv
            .into_inner()
            .into_inner()
            .map_err(|e| Error::io(csv_path, e.into_error()))?;
        Ok(vec![pq.finish()?, csv.finish()?])
    }
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
