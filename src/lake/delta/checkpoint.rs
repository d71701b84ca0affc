//! Delta checkpoints: `_delta_log/<version>.checkpoint.parquet` (or its parts,
//! `<version>.checkpoint.<part>.<parts>.parquet`), the table's state at a version in one
//! Parquet file, one action per row. Spark writes one every 10 commits and delta-rs every
//! 100, and log retention then removes the JSON commits before it, so a long-lived table
//! can only be read from its checkpoint. Rows are turned into the same JSON actions the
//! commits hold, so both are replayed by one code path; malgrupp writes its own
//! checkpoints (single-part) from those JSON actions the same way round.

use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, Field, Fields, Schema};
use datafusion::arrow::json::{LineDelimitedWriter, ReaderBuilder};
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::arrow::ProjectionMask;
use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use datafusion::parquet::file::reader::ChunkReader;
use serde_json::{Value, json};

use super::read::State;

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

/// `text` as a number when it is exactly `len` decimal digits (log file names).
pub(super) fn digits(text: &str, len: usize) -> Option<u64> {
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

/// A checkpoint of `state`: protocol, metadata, the live files' `add` and the tombstones'
/// `remove` actions (with `dataChange` false, as the protocol asks of checkpoints), as
/// Parquet. Returns the bytes and the number of actions.
pub(super) fn write(state: &State) -> Result<(Vec<u8>, usize), String> {
    let mut lines = Vec::new();
    let mut push = |action: Value| -> Result<(), String> {
        serde_json::to_writer(&mut lines, &action).map_err(|e| e.to_string())?;
        lines.push(b'\n');
        Ok(())
    };
    let mut count = 0;
    for (key, value) in [("protocol", &state.protocol), ("metaData", &state.metadata)] {
        let value = value
            .as_ref()
            .ok_or(format!("the table has no {key} action"))?;
        push(json!({ key: value }))?;
        count += 1;
    }
    for (key, actions) in [("add", &state.live), ("remove", &state.removed)] {
        for action in actions.values() {
            let mut action = action.clone();
            action["dataChange"] = false.into();
            push(json!({ key: action }))?;
            count += 1;
        }
    }
    let schema = Arc::new(schema());
    let reader = ReaderBuilder::new(schema.clone())
        .with_batch_size(8192)
        .build(std::io::Cursor::new(lines))
        .map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    let mut writer = ArrowWriter::try_new(&mut out, schema, None).map_err(|e| e.to_string())?;
    for batch in reader {
        writer
            .write(&batch.map_err(|e| e.to_string())?)
            .map_err(|e| e.to_string())?;
    }
    writer.close().map_err(|e| e.to_string())?;
    Ok((out, count))
}

/// The columns of a checkpoint malgrupp writes: the actions of protocol 1/2 with the
/// fields malgrupp's commits have (Delta's checkpoint schema, fields it does not use left
/// out, which readers allow).
fn schema() -> Schema {
    let text = |name: &str| Field::new(name, DataType::Utf8, true);
    let int = |name: &str, t: DataType| Field::new(name, t, true);
    let map = |name: &str| {
        Field::new_map(
            name,
            "key_value",
            Field::new("key", DataType::Utf8, false),
            Field::new("value", DataType::Utf8, true),
            false,
            true,
        )
    };
    let record = |name: &str, fields: Vec<Field>| {
        Field::new(name, DataType::Struct(Fields::from(fields)), true)
    };
    Schema::new(vec![
        record(
            "protocol",
            vec![
                int("minReaderVersion", DataType::Int32),
                int("minWriterVersion", DataType::Int32),
            ],
        ),
        record(
            "metaData",
            vec![
                text("id"),
                text("name"),
                text("description"),
                record("format", vec![text("provider"), map("options")]),
                text("schemaString"),
                Field::new(
                    "partitionColumns",
                    DataType::List(Arc::new(Field::new("element", DataType::Utf8, true))),
                    true,
                ),
                map("configuration"),
                int("createdTime", DataType::Int64),
            ],
        ),
        record(
            "add",
            vec![
                text("path"),
                map("partitionValues"),
                int("size", DataType::Int64),
                int("modificationTime", DataType::Int64),
                Field::new("dataChange", DataType::Boolean, true),
                text("stats"),
            ],
        ),
        record(
            "remove",
            vec![
                text("path"),
                int("deletionTimestamp", DataType::Int64),
                Field::new("dataChange", DataType::Boolean, true),
                map("partitionValues"),
                int("size", DataType::Int64),
            ],
        ),
    ])
}
