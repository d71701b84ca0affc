//! Parquet encoding of the lake: zstd, statistics on, deterministic bytes.
//!
//! Errors are Parquet's own: the caller knows which file the bytes are for and wraps
//! them with [`crate::Error::write`].

use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::basic::{Compression, ZstdLevel};
use datafusion::parquet::errors::ParquetError;
use datafusion::parquet::file::properties::{EnabledStatistics, WriterProperties};

/// The lake's writer settings. No timestamps are written, so the same batches always
/// give the same bytes and a rerun is byte-for-byte identical.
fn properties() -> Result<WriterProperties, ParquetError> {
    Ok(WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(3)?))
        .set_statistics_enabled(EnabledStatistics::Page)
        .set_created_by("malgrupp".to_string())
        .build())
}

/// A streaming writer with the lake's settings, for files written batch by batch.
pub fn writer<W: std::io::Write + Send>(
    out: W,
    schema: SchemaRef,
) -> Result<ArrowWriter<W>, ParquetError> {
    ArrowWriter::try_new(out, schema, Some(properties()?))
}

/// Encodes batches into one Parquet file in memory.
pub fn encode(batches: &[RecordBatch]) -> Result<Vec<u8>, ParquetError> {
    let Some(first) = batches.first() else {
        return Ok(Vec::new());
    };
    let mut buf = Vec::new();
    let mut w = writer(&mut buf, first.schema())?;
    for b in batches {
        w.write(b)?;
    }
    w.close()?;
    Ok(buf)
}

/// Decodes a Parquet file held in memory (a small one: a ledger table's).
pub fn decode(bytes: bytes::Bytes) -> Result<Vec<RecordBatch>, ParquetError> {
    datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(bytes)?
        .build()?
        .map(|batch| batch.map_err(ParquetError::from))
        .collect()
}
