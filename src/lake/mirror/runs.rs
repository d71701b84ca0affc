//! Which version of the lake's Delta tables holds a run: each version of the `runs`
//! ledger names the runs it adds in its `commitInfo` (`"malgrupp": {"runs": [...]}`),
//! and the ledger is committed after every table of its sync was, so the moment a run
//! first appears there is a moment every table held its rows. `malgrupp sql --delta
//! … --as-of RUN_ID` reads each table as of that moment.

use std::collections::BTreeSet;

use bytes::Bytes;
use datafusion::arrow::array::StringArray;
use datafusion::arrow::record_batch::RecordBatch;
use serde_json::{Value, json};

use crate::error::{Error, Result};
use crate::lake::delta::DeltaTable;

/// The ledger table the runs are recorded in, beside the lake's tables.
pub const LEDGER: &str = "runs";

/// The `commitInfo` fields of a `runs` version whose rows are `batch`, when the table's
/// files before were `previous`: the run ids it adds.
pub(super) async fn added(
    table: &DeltaTable,
    previous: &BTreeSet<String>,
    batch: &RecordBatch,
) -> Result<serde_json::Map<String, Value>> {
    let mut known = BTreeSet::new();
    for path in previous {
        let bytes = table.get_file(path).await?;
        known.extend(run_ids(bytes).map_err(|e| Error::Table {
            table: table.shown().to_string(),
            message: format!("{path}: {e}"),
        })?);
    }
    let ids = ids_of(batch)?;
    let new: Vec<&str> = ids
        .iter()
        .flatten()
        .filter(|id| !known.contains(*id))
        .collect();
    let mut info = serde_json::Map::new();
    info.insert("malgrupp".into(), json!({ "runs": new }));
    Ok(info)
}

/// The moment the ledger beside `table` first held `run`: the
/// timestamp of the newest version of `runs` whose commit added it (log retention may
/// have removed it, then this says so).
pub async fn committed_at(table: &DeltaTable, run: &str) -> Result<chrono::DateTime<chrono::Utc>> {
    let ledger = table.sibling(LEDGER).ok_or_else(|| Error::Table {
        table: table.shown().to_string(),
        message: "a table at the root of its store has no run ledger beside it".into(),
    })?;
    first_held(&ledger, run).await
}

/// The moment the run ledger `ledger` first held `run` (see [`committed_at`]).
pub async fn first_held(ledger: &DeltaTable, run: &str) -> Result<chrono::DateTime<chrono::Utc>> {
    let versions = ledger.kept_versions().await?;
    if versions.is_empty() {
        return Err(Error::Table {
            table: ledger.shown().to_string(),
            message: format!(
                "no run ledger here, so no run id can be read as of (`--as-of {run}` reads tables malgrupp committed with `[lake] delta`; give a version, a time or a date for others)"
            ),
        });
    }
    for &version in versions.iter().rev() {
        let info = ledger.commit_info(version).await?;
        let added = info.pointer("/malgrupp/runs").and_then(Value::as_array);
        if added.is_some_and(|runs| runs.iter().any(|r| r.as_str() == Some(run))) {
            let ms = info["timestamp"].as_i64().ok_or_else(|| Error::Table {
                table: ledger.shown().to_string(),
                message: format!("version {version} has no commit timestamp"),
            })?;
            return chrono::DateTime::from_timestamp_millis(ms).ok_or_else(|| Error::Table {
                table: ledger.shown().to_string(),
                message: format!("version {version} has the timestamp {ms}, out of range"),
            });
        }
    }
    let oldest = versions[0];
    Err(Error::Table {
        table: ledger.shown().to_string(),
        message: if oldest == 0 {
            format!(
                "run {run} was never committed here: not a run of this lake, or one the next refresh commits"
            )
        } else {
            format!(
                "run {run} is not in the versions kept (from version {oldest} on): older versions were removed (log retention), or it is not a run of this lake"
            )
        },
    })
}

/// The run ids in a ledger's rows.
fn ids_of(batch: &RecordBatch) -> Result<&StringArray> {
    batch
        .column_by_name("run_id")
        .and_then(|c| c.as_any().downcast_ref::<StringArray>())
        .ok_or_else(|| Error::Internal("the runs ledger has no run_id column".into()))
}

/// The run ids in a ledger file (none when it has no `run_id` column).
fn run_ids(bytes: Bytes) -> std::result::Result<Vec<String>, String> {
    let mut ids = Vec::new();
    for batch in crate::lake::parquet::decode(bytes).map_err(|e| e.to_string())? {
        if batch.column_by_name("run_id").is_some() {
            let column = ids_of(&batch).map_err(|e| e.to_string())?;
            ids.extend(column.iter().flatten().map(str::to_string));
        }
    }
    Ok(ids)
}
