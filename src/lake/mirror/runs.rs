//! Which version of the lake's Delta tables holds a run: each version of the `runs`
//! ledger names the runs it adds in its `commitInfo` (`"malgrupp": {"runs": [...]}`),
//! and the ledger is committed after every table of its sync was, so the moment a run
//! first appears there is a moment every table held its rows. `malgrupp sql --delta
//! … --as-of RUN_ID` reads each table as of that moment.
//!
//! The ledger also tells a lake that is behind its copy: one whose copy holds runs that
//! wrote rows and that this lake lacks was committed to by another host with this lake's
//! identity since, and a sync (which makes each table equal to this lake's) is refused
//! before it commits anything ([`not_behind`]).

use std::collections::BTreeSet;

use bytes::Bytes;
use datafusion::arrow::array::StringArray;
use datafusion::arrow::record_batch::RecordBatch;
use serde_json::{Value, json};

use crate::error::{Error, Result};
use crate::lake::Lake;
use crate::lake::delta::DeltaTable;
use crate::lake::delta::target::Target;
use crate::lake::manifest::Manifest;

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

/// Refuses to sync a lake that is behind its copy: one whose ledger there holds runs
/// this lake lacks, committed by another host with this lake's identity (a second
/// replica restored from the copy, a host replaced while the old one still ran). A sync
/// makes each table equal to this lake's, so it would remove that host's rows and drop
/// its runs from the ledger; checked before anything is committed. `left` is the
/// ledger's version the last sync of this lake left (unchanged since: nothing to check).
pub(super) async fn not_behind(opened: &Target, lake: &Lake, left: Option<u64>) -> Result<()> {
    let table = opened.table(LEDGER);
    let Some(version) = table.version().await? else {
        return Ok(());
    };
    if left == Some(version) {
        return Ok(());
    }
    let manifest = Manifest::load(lake.root())?;
    let local: BTreeSet<&str> = manifest.runs.iter().map(|r| r.run_id.as_str()).collect();
    let missing = missing_here(&table, version, &local).await?;
    if missing.is_empty() {
        return Ok(());
    }
    // Only in a copy this lake claims: another lake's is refused by its claim, and a
    // prefix handed over (its claim deleted) is the next lake's to overwrite.
    if opened.claimed_by().await?.as_deref() != Some(lake.id()?.as_str()) {
        return Ok(());
    }
    let shown: Vec<&str> = missing.iter().take(3).map(String::as_str).collect();
    Err(Error::Table {
        table: opened.shown.clone(),
        message: format!(
            "its run ledger holds {} run(s) this lake does not have ({}{}): another host with this lake's identity (a second replica restored from this copy) committed there since this lake last did, and committing this lake's tables would remove that host's rows. Nothing was committed; stop the other host, or empty this lake and `malgrupp restore` it from the copy",
            missing.len(),
            shown.join(", "),
            if missing.len() > shown.len() {
                ", …"
            } else {
                ""
            }
        ),
    })
}

/// Runs that wrote rows which the copy's ledger holds at `version` and `local` (this
/// lake's run ids) lacks, newer than this lake's oldest run (older ones it let go of:
/// the ledger keeps the newest `MAX_RUNS`; run ids sort by their start). Any means
/// another host with this lake's identity committed there since this lake last did.
async fn missing_here(
    table: &DeltaTable,
    version: u64,
    local: &BTreeSet<&str>,
) -> Result<Vec<String>> {
    let oldest = local.first().copied().unwrap_or_default();
    let paths = crate::lake::delta::target::planned(table, Some(version))
        .await?
        .map(|p| p.paths)
        .unwrap_or_default();
    let mut missing = Vec::new();
    for path in paths {
        let ids = runs_that_wrote(table.get_file(&path).await?).map_err(|e| Error::Table {
            table: table.shown().to_string(),
            message: format!("{path}: {e}"),
        })?;
        missing.extend(
            ids.into_iter()
                .filter(|id| id.as_str() > oldest && !local.contains(id.as_str())),
        );
    }
    missing.sort_unstable();
    Ok(missing)
}

/// The run ids in a ledger's rows.
fn ids_of(batch: &RecordBatch) -> Result<&StringArray> {
    batch
        .column_by_name("run_id")
        .and_then(|c| c.as_any().downcast_ref::<StringArray>())
        .ok_or_else(|| Error::Internal("the runs ledger has no run_id column".into()))
}

/// The ids of the runs in a ledger file that put rows in the tables (status `ok`, rows
/// written): a skipped, failed or unchanged run on another host changed no table.
fn runs_that_wrote(bytes: Bytes) -> std::result::Result<Vec<String>, String> {
    use datafusion::arrow::array::{Array, Int64Array};
    let mut ids = Vec::new();
    for batch in crate::lake::parquet::decode(bytes).map_err(|e| e.to_string())? {
        let run = ids_of(&batch).map_err(|e| e.to_string())?;
        let column = |name: &str| batch.column_by_name(name).map(|c| c.as_any());
        let status = column("status").and_then(|c| c.downcast_ref::<StringArray>());
        let written = column("rows_written").and_then(|c| c.downcast_ref::<Int64Array>());
        let (Some(status), Some(written)) = (status, written) else {
            return Err("the runs ledger lacks its status or rows_written column".into());
        };
        for i in 0..batch.num_rows() {
            if status.value(i) == "ok" && written.value(i) > 0 && !run.is_null(i) {
                ids.push(run.value(i).to_string());
            }
        }
    }
    Ok(ids)
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
