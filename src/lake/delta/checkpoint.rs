//! Reading Delta checkpoints: `_delta_log/<version>.checkpoint.parquet` (or its parts,
//! `<version>.checkpoint.<part>.<parts>.parquet`), the table's state at a version in one
//! Parquet file, one action per row. Spark writes one every 10 commits and delta-rs every
//! 100, and log retention then removes the JSON commits before it, so a long-lived table
//! can only be read from its checkpoint. Rows are turned into the same JSON actions the
//! commits hold, so both are replayed by one code path.

use datafusion::arrow::json::LineDelimitedWriter;
use datafusion::parquet::arrow::ProjectionMask;
use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use datafusion::parquet::file::reader::ChunkReader;
use serde_json::Value;

/// The actions a protocol-1 reader replays. The others (`txn`, `domainMetadata`,
/// `sidecar`, parsed statistics) are not read.
const ACTIONS: [&str; 4] = ["protocol", "metaData", "add", "remove"];

/// The version and number of parts of a checkpoint file's name; `None` for any other
/// name (commits, `_last_checkpoint`, V2 checkpoints, which need reader protocol 3).
pub(super) fn name(name: &str) -> Option<(u64, u32)> {
    let rest = name.strip_suffix(".parquet")?;
    let (version, rest) = rest.split_once(".checkpoint")?;
    let version = digits(version, 20)?;
    if rest.is_empty() {
        return Some((version, 1));
    }
    let (part, parts) = rest.strip_prefix('.')?.split_once('.')?;
    let (part, parts) = (digits(part, 10)?, digits(parts, 10)?);
    (part >= 1 && part <= parts).then(|| Some((version, u32::try_from(parts).ok()?)))?
}

fn digits(text: &str, len: usize) -> Option<u64> {
    (text.len() == len && text.bytes().all(|b| b.is_ascii_digit())).then(|| text.parse().ok())?
}

/// The actions of one checkpoint file, as JSON objects like a commit's lines.
pub(super) fn actions(bytes: impl ChunkReader + 'static) -> Result<Vec<Value>, String> {
    let builder = ParquetRecordBatchReaderBuilder::try_new(bytes).map_err(|e| e.to_string())?;
    let roots: Vec<usize> = builder
        .parquet_schema()
        .root_schema()
        .get_fields()
        .iter()
        .enumerate()
        .filter(|(_, field)| ACTIONS.contains(&field.name()))
        .map(|(i, _)| i)
        .collect();
    if roots.is_empty() {
        return Err("it has none of the columns protocol, metaData, add, remove".into());
    }
    let mask = ProjectionMask::roots(builder.parquet_schema(), roots);
    let reader = builder
        .with_projection(mask)
        .build()
        .map_err(|e| e.to_string())?;
    let mut lines = LineDelimitedWriter::new(Vec::new());
    for batch in reader {
        lines
            .write(&batch.map_err(|e| e.to_string())?)
            .map_err(|e| e.to_string())?;
    }
    lines.finish().map_err(|e| e.to_string())?;
    // Null columns are left out of each line, so a row is `{"add": {...}}` as in a
    // commit; a row of only other actions is `{}`.
    lines
        .into_inner()
        .split(|b| *b == b'\n')
        .filter(|line| !line.is_empty() && *line != b"{}")
        .map(|line| serde_json::from_slice(line).map_err(|e| e.to_string()))
        .collect()
}
