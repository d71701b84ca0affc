//! The lake's tables committed as Delta tables (`[lake] delta = "s3://bucket/prefix"`,
//! an `az://` prefix or a directory), where Spark, Trino, Databricks, Microsoft Fabric or
//! Python's `deltalake` read them. The local lake stays the working copy runs write and
//! the views read; after each run that wrote rows (`service::LakeCommit`) and each
//! refresh every canonical table with files is committed at
//! `<prefix>/<table>/`, partitioned by `kommun` and `period` as the lake is, one Delta
//! version per change.
//!
//! A file is named by its content (`kommun=<k>/period=<p>/<pipeline>-<sha256[..16]>.parquet`),
//! so a kommun-month no run rewrote keeps its object and a night uploads what it changed.
//! Which name a local file has is remembered in `_meta/lake_delta` with its size and
//! modification time, so only files the runs rewrote are read again (as rsync and git
//! decide: a file rewritten to the same size within the same nanosecond goes unseen until
//! it changes again). A table that did not change since is not even listed in the
//! target. A sync lists the lake under the lock runs put their files in place under
//! (`tables`) and reads hard links of what it listed, so a version holds all of a run's
//! kommun-months or none. Readers see a table's previous version or its new one, never
//! a mix; versions are kept for `[lake] delta_keep_days` and cleaned up after. On an
//! object store the commits hold the lease `_meta/locks/lake.lease` under the prefix,
//! as the published views' do theirs, and the prefix is this lake's alone
//! (`Target::claim`). Runs another host with this lake's identity committed there since
//! are brought in first (`catch_up.rs`), so a commit keeps every host's rows. A failed
//! table leaves its last version and is tried again at the next refresh; the others are committed all the same. A table a new malgrupp gave
//! more columns gets them in one version (Delta's `mergeSchema`: files from before,
//! like the lake's own, lack them and are read with nulls); any other change of its
//! columns is refused naming the column, until the Delta table is removed.
//!
//! The ledger goes beside them: `runs` and `lineage` (src/lake/ledger.rs), one file
//! each, replaced when a run added rows, so other engines see which run wrote what;
//! committed last and only after every table was (`runs.rs` reads tables as of a run
//! by it). Pseudonymized rows are personal data (SPEC §6): the target needs the access
//! control the lake has. The quarantine (rejected values as received) and the raw
//! extracts are not committed as tables; where the target is the lake's home (`[lake]
//! root` on object storage, [`Scope::Home`]) they are kept there as files
//! (`evidence.rs`), with which extracts each pipeline processed (`processed.rs`).
//! `restore.rs` rebuilds an empty lake from the copy.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use bytes::Bytes;
use datafusion::arrow::datatypes::Schema;
use datafusion::arrow::record_batch::RecordBatch;
use futures::{StreamExt, TryStreamExt};
use sha2::{Digest, Sha256};

use super::delta::target::{self, Target, UPLOADS, columns, content_name, data_file};
use super::delta::{Change, DataFile, DeltaTable};
use super::location::Location;
use super::lock::{LakeLock, TABLES_LOCK};
use super::manifest::{Manifest, PipelineState};
use super::{Lake, atomic};
use crate::error::{Error, Result};
use crate::normalize::schema::{TABLES, TableDef};

pub mod catch_up;
mod evidence;
mod local;
mod processed;
pub mod restore;
pub mod runs;
mod seen;
use catch_up::CaughtUp;
use local::{Local, local_files};
use seen::{Seen, seen_file};

/// The lake lock held while committing the lake to its copy (`lake::lock`): two
/// commits side by side would each write what they committed (`_meta/lake_delta`) over
/// the other's.
pub const LOCK: &str = "lake_delta";

/// The lake's partition columns, in directory order.
const PARTITIONS: [&str; 2] = ["kommun", "period"];

/// What a sync did: per table committed, its new version.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Mirrored {
    /// (table, version) of each table that changed.
    pub committed: Vec<(String, u64)>,
}

/// What a sync commits to its target besides the tables and the ledger.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// `[lake] delta`: a copy for other engines, the tables and the ledger only.
    Copy,
    /// `[lake] root` on object storage, the lake's home: also the raw extracts and the
    /// quarantine (`evidence.rs`) and which extracts each pipeline processed
    /// (`processed.rs`).
    Home,
}

/// Commits the lake's canonical tables to the Delta tables at `target` (store settings
/// from `env`), with what else `scope` names; versions kept `keep_days` days.
pub async fn sync(
    lake: &Lake,
    target: &Location,
    scope: Scope,
    keep_days: u32,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<Mirrored> {
    let marker = Seen::path(lake);
    let mut seen = Seen::load(lake, target);
    let mut opened = Target::open(target, env)?;
    let (caught_up, ledger_seen) = catch_up::bring_in(&opened, lake, &seen).await?;
    if caught_up != CaughtUp::default() {
        tracing::info!(
            target = %opened.shown,
            runs = caught_up.runs,
            files = caught_up.files,
            "runs another host committed to the lake's copy were brought in before committing"
        );
    }
    let keep_since = chrono::Utc::now() - chrono::Duration::days(i64::from(keep_days));
    let mut mirrored = Mirrored::default();
    // A table that fails does not stop the others; every failure is reported after them.
    let mut failures = Vec::new();
    let mut files = BTreeMap::new();
    let mut turn = Turn {
        leased: false,
        ledger: ledger_seen,
    };
    let scratch = lake.root().join("_meta").join("lake_delta.snapshot");
    let (ledger, states, listed, _scratch) = snapshot(lake, &scratch).await?;
    for (def, locals) in TABLES.iter().zip(listed) {
        let locals = match locals {
            Ok(locals) => locals,
            Err(e) => {
                failures.push(e.to_string());
                continue;
            }
        };
        if locals.is_empty() && !seen.tables.contains_key(def.name) {
            continue;
        }
        let cached: Vec<Option<String>> = locals.iter().map(|l| seen.known(l)).collect();
        let table = opened.table(def.name);
        // Listed once: the check below and the commit both plan from it.
        let version = table.version().await;
        // Every name known, the same as last time, and the table still at the version
        // that sync left: nothing to read or list.
        if let Some(names) = cached.iter().cloned().collect::<Option<Vec<String>>>()
            && let Some((left, digest)) = seen.tables.get(def.name)
            && *digest == names_digest(names.iter())
            && matches!(version, Ok(Some(v)) if v == *left)
        {
            for (l, name) in locals.iter().zip(names) {
                files.insert(l.key.clone(), seen_file(l, name));
            }
            continue;
        }
        lease_once(&mut opened, lake, &mut turn).await?;
        let committed = match version {
            Ok(version) => commit_table(&opened, &table, version, def, &locals, cached).await,
            Err(e) => Err(e),
        };
        match committed {
            Ok((version, committed, names)) => {
                for (l, name) in locals.iter().zip(&names) {
                    files.insert(l.key.clone(), seen_file(l, name.clone()));
                }
                match version {
                    Some(v) => {
                        seen.tables
                            .insert(def.name.to_string(), (v, names_digest(names.iter())));
                        if committed {
                            mirrored.committed.push((def.name.to_string(), v));
                            if let Err(e) = target::maintain(&table, v, keep_since).await {
                                failures.push(e.to_string());
                            }
                        }
                    }
                    None => {
                        seen.tables.remove(def.name);
                    }
                }
            }
            Err(e) => {
                seen.tables.remove(def.name);
                failures.push(e.to_string());
                // The names known before still hold: the next sync need not read them.
                for l in &locals {
                    if let Some(known) = seen.files.get(&l.key) {
                        files.insert(l.key.clone(), known.clone());
                    }
                }
            }
        }
    }
    // On the lake's home, its raw extracts and quarantine too, before the ledger: a run
    // the ledger names has its evidence there.
    if scope == Scope::Home
        && let Err(e) = evidence::keep(&mut opened, lake, &mut turn, &mut seen).await
    {
        failures.push(e.to_string());
    }
    // And which extracts each pipeline processed, once every table holds their rows.
    if scope == Scope::Home
        && failures.is_empty()
        && let Err(e) = processed::keep(&mut opened, lake, &mut turn, &mut seen, &states).await
    {
        failures.push(e.to_string());
    }
    // The ledger beside the tables, so other engines see which run wrote what; `runs`
    // last, and only after every table: a run it names has its rows committed.
    match ledger {
        Ok(_) if !failures.is_empty() => {
            failures.push("the ledger (runs, lineage) waits until every table is committed".into());
        }
        Ok(ledger) => {
            for (name, batch) in ledger.into_iter().rev() {
                if !failures.is_empty() {
                    break;
                }
                match commit_ledger(&mut opened, lake, &mut turn, &seen, name, &batch).await {
                    Ok(Some((v, digest, committed))) => {
                        seen.tables.insert(name.to_string(), (v, digest));
                        if committed {
                            mirrored.committed.push((name.to_string(), v));
                            let table = opened.table(name);
                            if let Err(e) = target::maintain(&table, v, keep_since).await {
                                failures.push(e.to_string());
                            }
                        }
                    }
                    Ok(None) => {}
                    Err(e) => {
                        seen.tables.remove(name);
                        failures.push(e.to_string());
                    }
                }
            }
        }
        Err(e) => failures.push(e.to_string()),
    }
    let shown = opened.shown.clone();
    opened.release().await?;
    seen.files = files;
    let bytes = serde_json::to_vec(&seen).map_err(|e| Error::Internal(e.to_string()))?;
    atomic::write(&marker, &bytes)?;
    if failures.is_empty() {
        Ok(mirrored)
    } else {
        Err(Error::Table {
            table: shown,
            message: failures.join("; "),
        })
    }
}

/// The lake as of one moment: the ledger, which extracts each pipeline processed, and
/// each canonical table's files, listed and linked into `scratch` (read from there)
/// while the lock runs put their files in place under ([`TABLES_LOCK`]) is held, so a
/// run's files are all in a sync or none is, and a run the ledger names (an extract a
/// state names) has its rows in the tables (src/lake/mirror/runs.rs relies on it). The
/// lock is held for the listing and the links only; runs wait that long. The links go
/// when the returned scratch is dropped.
async fn snapshot(
    lake: &Lake,
    scratch: &Path,
) -> Result<(
    Result<[(&'static str, RecordBatch); 2]>,
    BTreeMap<String, PipelineState>,
    Vec<Result<Vec<Local>>>,
    local::Scratch,
)> {
    let _tables =
        LakeLock::acquire(lake.root(), TABLES_LOCK, "a run putting its files in place").await?;
    let (ledger, states) = match Manifest::load(lake.root()) {
        Ok(m) => (crate::lake::ledger::tables(&m), m.pipelines),
        Err(e) => (Err(e), BTreeMap::new()),
    };
    let mut listed: Vec<Result<Vec<Local>>> =
        TABLES.iter().map(|def| local_files(lake, def)).collect();
    let linked = local::snapshot(
        scratch,
        listed
            .iter_mut()
            .flatten()
            .flat_map(|locals| locals.iter_mut()),
    )?;
    Ok((ledger, states, listed, linked))
}

/// Uploads what the table lacks of `locals` and commits the table's new set: the
/// table's version after (`None`: it does not exist and there is nothing to create it
/// with), whether this call committed it, and each local file's name in it. A name in
/// `cached` is trusted when the table has it; any other file is read, named, and
/// uploaded if the table lacks it, each read once (a run of another pipeline may replace
/// it meanwhile: what was hashed is what is uploaded).
async fn commit_table(
    target: &Target,
    table: &DeltaTable,
    version: Option<u64>,
    def: &TableDef,
    locals: &[Local],
    cached: Vec<Option<String>>,
) -> Result<(Option<u64>, bool, Vec<String>)> {
    let schema = def.file_schema();
    let planned = target::planned(table, version).await?;
    if let Some(p) = &planned {
        let unfit = fits(&p.columns, &schema).err();
        if unfit.is_some() || p.partitions != PARTITIONS {
            return Err(Error::Table {
                table: table.shown().to_string(),
                message: format!(
                    "its columns are {} partitioned by {:?}, the lake's table has {} partitioned by {PARTITIONS:?} ({}); nothing was committed (remove the Delta table to have it committed anew)",
                    columns(p.columns.fields()),
                    p.partitions,
                    columns(schema.fields()),
                    unfit.unwrap_or_else(|| "other partition columns".into())
                ),
            });
        }
    }
    // A new malgrupp whose table gained columns adds them to the Delta table in one
    // version (`mergeSchema`): files without them are read with nulls there.
    let added_columns = planned
        .as_ref()
        .is_some_and(|p| columns(p.columns.fields()) != columns(schema.fields()));
    let existing = planned.map(|p| p.paths).unwrap_or_default();
    // Collected first: a stream mapping borrowed items lazily is not `Send` for every
    // lifetime, which the daemon's spawned refresh needs.
    let work: Vec<_> = locals
        .iter()
        .zip(cached)
        .map(|(local, cached)| name_and_upload(table, local, cached, &existing, &schema))
        .collect();
    let named: Vec<(String, Option<DataFile>)> = futures::stream::iter(work)
        .buffered(UPLOADS)
        .try_collect()
        .await?;
    let wanted: BTreeSet<&str> = named.iter().map(|(n, _)| n.as_str()).collect();
    let remove: Vec<String> = existing
        .iter()
        .filter(|p| !wanted.contains(p.as_str()))
        .cloned()
        .collect();
    let names: Vec<String> = named.iter().map(|(n, _)| n.clone()).collect();
    let add: Vec<DataFile> = named.into_iter().filter_map(|(_, add)| add).collect();
    if add.is_empty() && remove.is_empty() && !added_columns {
        return Ok((version, false, names));
    }
    let change = Change {
        add,
        remove,
        ..Default::default()
    };
    let new_columns = added_columns.then_some("ADD COLUMNS");
    let committed = target
        .commit(table, version, &schema, &PARTITIONS, change, new_columns)
        .await?;
    Ok((Some(committed), true, names))
}

/// A local file's name in `table` (`cached` when the table has it), and its `add` when
/// it was uploaded because the table lacks it. Read once: what was hashed is uploaded.
async fn name_and_upload(
    table: &DeltaTable,
    local: &Local,
    cached: Option<String>,
    existing: &BTreeSet<String>,
    table_columns: &Schema,
) -> Result<(String, Option<DataFile>)> {
    if let Some(name) = cached.filter(|n| existing.contains(n)) {
        return Ok((name, None));
    }
    let bytes = Bytes::from(std::fs::read(&local.path).map_err(|e| Error::io(&local.path, e))?);
    let name = content_name(&local.stem, &bytes);
    if existing.contains(&name) {
        return Ok((name, None));
    }
    let (add, schema) = data_file(name.clone(), &bytes, &local.path, local.partition.clone())?;
    if let Err(unfit) = fits(&schema, table_columns) {
        return Err(Error::Table {
            table: table.shown().to_string(),
            message: format!(
                "{} has the columns {}, the table {} ({unfit}); nothing of the table was committed",
                local.path.display(),
                columns(schema.fields()),
                columns(table_columns.fields())
            ),
        });
    }
    table.put_file(&name, bytes).await?;
    Ok((name, Some(add)))
}

/// A sync's turn at the target: whether it holds the lease, and the version of the
/// ledger it was brought up to (`catch_up.rs`).
struct Turn {
    leased: bool,
    ledger: Option<u64>,
}

/// Takes the target's lease and claims it for `lake`, once per sync: only a sync that
/// commits needs them. Another host may have committed between bringing this lake up to
/// the copy and taking the lease (it held the lease then): seen by the ledger's version,
/// this sync then commits nothing and the next brings those runs in first, rather than
/// removing their rows.
async fn lease_once(opened: &mut Target, lake: &Lake, turn: &mut Turn) -> Result<()> {
    if turn.leased {
        return Ok(());
    }
    opened.take_lease("lake").await?;
    turn.leased = true;
    if let Err(e) = opened.claim(lake).await {
        opened.release().await?;
        return Err(e);
    }
    let now = opened.table(runs::LEDGER).version().await;
    if !matches!(&now, Ok(v) if *v == turn.ledger) {
        opened.release().await?;
        return Err(Error::Table {
            table: opened.shown.clone(),
            message: match now {
                Ok(_) => "another host committed runs there while this lake was being brought up to them; nothing was committed, the next refresh brings them in first".into(),
                Err(e) => e.to_string(),
            },
        });
    }
    Ok(())
}

/// Commits a ledger table (`runs`, `lineage`) as one file replacing the one before,
/// unless the table already has this content: its version, its names' digest and
/// whether this call committed it; `None` when the table is still at the version the
/// last sync left with this content (nothing listed beyond its log).
async fn commit_ledger(
    opened: &mut Target,
    lake: &Lake,
    turn: &mut Turn,
    seen: &Seen,
    name: &str,
    batch: &datafusion::arrow::record_batch::RecordBatch,
) -> Result<Option<(u64, String, bool)>> {
    let table = opened.table(name);
    let bytes = Bytes::from(
        super::parquet::encode(std::slice::from_ref(batch))
            .map_err(|e| Error::Internal(format!("{name}: {e}")))?,
    );
    let file = content_name(name, &bytes);
    let digest = names_digest([file.clone()].iter());
    let version = table.version().await?;
    if let Some((v, d)) = seen.tables.get(name)
        && *d == digest
        && version == Some(*v)
    {
        return Ok(None);
    }
    let planned = target::planned(&table, version).await?;
    let schema = batch.schema();
    let replaced = planned
        .as_ref()
        .is_some_and(|p| columns(p.columns.fields()) != columns(schema.fields()));
    let existing = planned.map(|p| p.paths).unwrap_or_default();
    if let Some(v) = version
        && !replaced
        && existing.len() == 1
        && existing.contains(&file)
    {
        return Ok(Some((v, digest, false)));
    }
    let info = if name == runs::LEDGER {
        runs::added(&table, &existing, batch).await?
    } else {
        serde_json::Map::new()
    };
    lease_once(opened, lake, turn).await?;
    let (add, _) = data_file(file.clone(), &bytes, Path::new(name), BTreeMap::new())?;
    table.put_file(&file, bytes).await?;
    let change = Change {
        add: vec![add],
        remove: existing.into_iter().filter(|p| *p != file).collect(),
        info,
    };
    let new_columns = replaced.then_some("REPLACE TABLE");
    let committed = opened
        .commit(&table, version, &schema, &[], change, new_columns)
        .await?;
    Ok(Some((committed, digest, true)))
}

/// Whether data with the columns `older` is read right under the columns `newer`: each
/// of its columns there with its type, and each column it lacks nullable (read as nulls,
/// as Delta readers fill a column a file lacks).
fn fits(older: &Schema, newer: &Schema) -> std::result::Result<(), String> {
    for field in older.fields() {
        match newer.field_with_name(field.name()) {
            Ok(new) if new.data_type() == field.data_type() => {}
            Ok(new) => {
                return Err(format!(
                    "{} is {} there, {} here",
                    field.name(),
                    field.data_type(),
                    new.data_type()
                ));
            }
            Err(_) => return Err(format!("{} is no longer a column", field.name())),
        }
    }
    match newer
        .fields()
        .iter()
        .find(|f| !f.is_nullable() && older.field_with_name(f.name()).is_err())
    {
        Some(f) => Err(format!("{} is missing and may not be null", f.name())),
        None => Ok(()),
    }
}

/// A digest of a table's file names, in order.
pub(super) fn names_digest<'a>(names: impl Iterator<Item = &'a String>) -> String {
    let mut hash = Sha256::new();
    for name in names {
        hash.update(name.as_bytes());
        hash.update(b"\n");
    }
    hex::encode(hash.finalize())
}
