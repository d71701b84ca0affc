//! `malgrupp restore`: an empty lake rebuilt from its `[lake] delta` copy, after a lost
//! disk or on a host whose disk does not outlive it (a pod without a volume). What the
//! copy holds comes back: each canonical table's files of its newest version under
//! their local names (`kommun=<k>/period=<p>/<pipeline>.parquet`, the name by content
//! without its digest), the run ledger (`runs`, `lineage`) as the manifest's run
//! history, and the lake's identity from the prefix's claim, so the lake goes on
//! committing to the same prefix; and what a sync would have remembered of them
//! (`seen.rs`), so the first commit after the restore reads no file again.
//!
//! The quarantine and which extracts each pipeline has processed come back where the
//! copy is the lake's home (`[lake] root` on object storage, `evidence.rs`,
//! `processed.rs`): the next run of each pipeline skips the extracts it had processed.
//! What the copy does not hold stays empty: the raw extracts (kept on the lake's own
//! disk, and on its home store, where they stay: a run that rebuilds a kommun-month
//! decodes an unchanged extract as its source offers it), and the quarantine and the
//! processed extracts of a `[lake] delta` copy, so the next run of each pipeline there
//! processes every extract its source offers again (writing the same files:
//! deterministic bytes, the same names by content, nothing to commit). The next refresh
//! publishes every view.

use std::collections::BTreeMap;

use datafusion::arrow::array::{Array, Int64Array, RecordBatch, StringArray};
use futures::{StreamExt, TryStreamExt};

use super::local::{local_files, modified_ns};
use super::names_digest;
use super::seen::{Seen, SeenFile};
use super::{Lake, Location, Target, UPLOADS, atomic};
use crate::error::{Error, Result};
use crate::lake::delta::{DataFile, DeltaTable};
use crate::lake::lock::LakeLock;
use crate::lake::manifest::{self, Lineage, Manifest, RunRecord};
use crate::normalize::schema::TABLES;

/// What a restore brought back.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Restored {
    /// Per table: the version restored and its files.
    pub tables: Vec<(String, u64, usize)>,
    /// Runs in the restored history.
    pub runs: usize,
    /// Quarantine files brought back (only a lake's home store holds them).
    pub quarantine: usize,
    /// Pipelines whose processed extracts were brought back (only a lake's home store
    /// holds them).
    pub processed: usize,
}

/// Whether the lake holds nothing a restore would overwrite: no manifest, no table file.
pub fn is_empty(lake: &Lake) -> Result<bool> {
    if manifest::path(lake.root()).exists() {
        return Ok(false);
    }
    for def in TABLES {
        if !local_files(lake, def)?.is_empty() {
            return Ok(false);
        }
    }
    Ok(true)
}

/// The lock a restore holds (`_meta/locks/restore.lock`): two processes starting on
/// one empty lake (`serve` and a `malgrupp sql` beside it bringing an empty cache in)
/// restore it once; the second finds it filled.
pub const LOCK: &str = "restore";

/// What [`restore_if_empty`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    /// The lake was empty and was rebuilt.
    Restored(Restored),
    /// No lake committed to the target (no claim); nothing was done.
    NothingCommitted,
    /// The lake holds data (perhaps restored by another process meanwhile); left as it is.
    LakeHoldsData,
}

/// Rebuilds the empty `lake` from the Delta tables at `target` (store settings from
/// `env`); `None` when no lake committed there (no claim), and nothing was done.
/// Refuses a lake that holds data.
pub async fn restore(
    lake: &Lake,
    target: &Location,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<Option<Restored>> {
    match restore_if_empty(lake, target, env).await? {
        Found::Restored(restored) => Ok(Some(restored)),
        Found::NothingCommitted => Ok(None),
        Found::LakeHoldsData => Err(Error::usage(
            "restore",
            lake.root().display().to_string(),
            "the lake holds data already; restore fills an empty lake (move this one aside first)",
        )),
    }
}

/// [`restore`], with a lake that holds data left as it is. Whether it is empty is
/// decided under [`LOCK`], so of two processes restoring one lake the second waits and
/// then finds it filled.
pub async fn restore_if_empty(
    lake: &Lake,
    target: &Location,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<Found> {
    let _held = LakeLock::acquire(lake.root(), LOCK, "another restore of this lake").await?;
    if !is_empty(lake)? {
        return Ok(Found::LakeHoldsData);
    }
    let opened = Target::open(target, env)?;
    let Some(id) = opened.claimed_by().await? else {
        return Ok(Found::NothingCommitted);
    };
    let mut restored = Restored::default();
    let mut staged = Vec::new();
    let mut named = Vec::new();
    for def in TABLES {
        let table = opened.table(def.name);
        let Some(snapshot) = table.newest().await? else {
            continue;
        };
        let mut places = Vec::new();
        for file in &snapshot.files {
            places.push(placed(lake, &table, def.name, file)?);
        }
        let names = snapshot.files.iter().map(|f| f.path.clone());
        named.push((
            def.name,
            snapshot.version,
            places.iter().cloned().zip(names).collect(),
        ));
        let work: Vec<_> = snapshot
            .files
            .iter()
            .zip(places)
            .map(|(file, place)| {
                let table = table.clone();
                let path = file.path.clone();
                async move {
                    let bytes = table.get_file(&path).await?;
                    atomic::stage_in_set(&place, &bytes)
                }
            })
            .collect();
        let files: Vec<_> = futures::stream::iter(work)
            .buffered(UPLOADS)
            .try_collect()
            .await?;
        restored
            .tables
            .push((def.name.to_string(), snapshot.version, files.len()));
        staged.extend(files);
    }
    // The quarantine, where the copy is the lake's home (`evidence.rs`).
    let (quarantine, kept): (Vec<_>, Vec<_>) = super::evidence::bring_back(&opened, lake)
        .await?
        .into_iter()
        .unzip();
    staged.extend(quarantine);
    restored.quarantine = kept.len();
    // Which extracts each pipeline processed, likewise.
    let states = super::processed::bring_back(&opened, lake).await?;
    restored.processed = states.len();
    let runs = ledger(&opened).await?;
    restored.runs = runs.len();
    // The tables' files first, then the identity, then the manifest: a restore cut short
    // leaves a lake that is not empty, which the next restore refuses rather than mixes.
    atomic::publish_all(staged)?;
    lake.set_id(&id)?;
    let uploaded = states
        .iter()
        .map(|(pipeline, state)| Ok((pipeline.clone(), super::processed::encoded(state)?.1)))
        .collect::<Result<_>>()?;
    Manifest::update(lake.root(), |m| {
        m.runs = runs;
        m.pipelines = states;
    })?;
    remember(lake, target, named, kept, uploaded)?;
    Ok(Found::Restored(restored))
}

/// A table restored: its name, its version, and each file's place with its name there.
type Restoring<'a> = (&'a str, u64, Vec<(std::path::PathBuf, String)>);

/// Writes what the lake now holds of its copy (`seen.rs`): each table's version and each
/// restored file's name there, so the first commit after the restore reads no file again,
/// and the quarantine files brought back (`kept`, paths under the lake root), so one
/// removed later is deleted in the store too, and the processed extracts' digests
/// (`uploaded`). Written last: a restore cut short before leaves the next sync to read
/// them.
fn remember(
    lake: &Lake,
    target: &Location,
    named: Vec<Restoring>,
    kept: Vec<String>,
    uploaded: BTreeMap<String, String>,
) -> Result<()> {
    let mut seen = Seen::load(lake, target);
    seen.processed = uploaded;
    for key in kept {
        let place = lake.root().join(&key);
        let meta = std::fs::metadata(&place).map_err(|e| Error::io(&place, e))?;
        let file = SeenFile {
            size: meta.len(),
            modified_ns: modified_ns(&meta),
            name: key.clone(),
        };
        seen.kept.insert(key, file);
    }
    for (table, version, mut files) in named {
        files.sort();
        let mut names = Vec::new();
        for (place, name) in files {
            let meta = std::fs::metadata(&place).map_err(|e| Error::io(&place, e))?;
            let key = place
                .strip_prefix(lake.root())
                .map_err(|_| Error::Internal(format!("{} is outside the lake", place.display())))?
                .to_string_lossy()
                .into_owned();
            seen.files.insert(
                key,
                SeenFile {
                    size: meta.len(),
                    modified_ns: modified_ns(&meta),
                    name: name.clone(),
                },
            );
            names.push(name);
        }
        seen.tables
            .insert(table.to_string(), (version, names_digest(names.iter())));
    }
    let bytes = serde_json::to_vec(&seen).map_err(|e| Error::Internal(e.to_string()))?;
    atomic::write(&Seen::path(lake), &bytes)
}

/// Where `file` of `table`'s copy (the lake's table `name`) goes in the lake; refused
/// when the copy is not as malgrupp committed it (a file with rows deleted by another
/// engine, a name of another engine's layout).
pub(super) fn placed(
    lake: &Lake,
    table: &DeltaTable,
    name: &str,
    file: &DataFile,
) -> Result<std::path::PathBuf> {
    if file.deletion_vector.is_some() {
        return Err(Error::Table {
            table: table.shown().to_string(),
            message: format!(
                "{} has rows deleted by another engine (a deletion vector); malgrupp commits none, so this is not the lake's copy as it committed it",
                file.path
            ),
        });
    }
    local_place(lake, name, &file.path).ok_or_else(|| Error::Table {
        table: table.shown().to_string(),
        message: format!(
            "{} is not named as malgrupp names the lake's files (kommun=<k>/period=<p>/<pipeline>-<digest>.parquet)",
            file.path
        ),
    })
}

/// Where the file `path` of `table`'s copy goes in the lake: its kommun's and period's
/// directory, named by the pipeline that wrote it.
fn local_place(lake: &Lake, table: &str, path: &str) -> Option<std::path::PathBuf> {
    let mut parts = path.split('/');
    let kommun = parts.next()?.strip_prefix("kommun=")?;
    let period = parts.next()?.strip_prefix("period=")?;
    let (pipeline, digest) = parts.next()?.strip_suffix(".parquet")?.rsplit_once('-')?;
    let plain = |s: &str| !s.is_empty() && !s.contains(['.', '\\']) && !s.starts_with('_');
    let ok = parts.next().is_none()
        && digest.len() == 16
        && digest.bytes().all(|b| b.is_ascii_hexdigit())
        && [kommun, period, pipeline].into_iter().all(plain);
    ok.then(|| lake.partition_file(table, kommun, period, pipeline))
}

/// The run history in the copy's ledger (`runs`, with `lineage`), oldest first; none
/// when it has no ledger.
pub(super) async fn ledger(opened: &Target) -> Result<Vec<RunRecord>> {
    let rows = |name: &str| {
        let table = opened.table(name);
        async move {
            let Some(snapshot) = table.newest().await? else {
                return Ok::<_, Error>(Vec::new());
            };
            let mut batches = Vec::new();
            for file in snapshot.files {
                let bytes = table.get_file(&file.path).await?;
                batches.extend(
                    crate::lake::parquet::decode(bytes).map_err(|e| Error::Table {
                        table: table.shown().to_string(),
                        message: format!("{}: {e}", file.path),
                    })?,
                );
            }
            Ok(batches)
        }
    };
    let mut lineage: BTreeMap<String, Vec<Lineage>> = BTreeMap::new();
    for batch in rows("lineage").await? {
        let c = Columns(&batch);
        for i in 0..batch.num_rows() {
            let run = c.text("run_id", i)?.unwrap_or_default();
            let (sha, file, table) = (
                c.text("extract_sha256", i)?.unwrap_or_default(),
                c.text("file", i)?.unwrap_or_default(),
                c.text("table_name", i)?.unwrap_or_default(),
            );
            let partition = (
                c.text("kommun", i)?.unwrap_or_default(),
                c.text("period", i)?.unwrap_or_default(),
            );
            let of_run = lineage.entry(run).or_default();
            match of_run.last_mut() {
                Some(l) if l.extract_sha256 == sha && l.file == file && l.table == table => {
                    l.partitions.push(partition);
                }
                _ => of_run.push(Lineage {
                    extract_sha256: sha,
                    file,
                    table,
                    partitions: vec![partition],
                }),
            }
        }
    }
    let mut runs = Vec::new();
    for batch in rows("runs").await? {
        let c = Columns(&batch);
        for i in 0..batch.num_rows() {
            let run_id = c.text("run_id", i)?.unwrap_or_default();
            let count = |name| c.number(name, i).map(|n| n.unwrap_or(0).max(0) as u64);
            runs.push(RunRecord {
                lineage: lineage.remove(&run_id).unwrap_or_default(),
                run_id,
                pipeline: c.text("pipeline", i)?.unwrap_or_default(),
                started_at: c.text("started_at", i)?.unwrap_or_default(),
                duration_ms: count("duration_ms")?,
                status: c.text("status", i)?.unwrap_or_default(),
                message: c.text("message", i)?,
                files_read: count("files_read")? as usize,
                rows_in: count("rows_in")? as usize,
                rows_written: count("rows_written")? as usize,
                rows_quarantined: count("rows_quarantined")? as usize,
                trigger: c.text("trigger", i)?.unwrap_or_default(),
                scheduled_for: c.text("scheduled_for", i)?,
                attempt: u32::try_from(count("attempt")?).unwrap_or(u32::MAX),
            });
        }
    }
    Ok(runs)
}

/// A ledger batch's columns by name, as the ledger writes them (src/lake/ledger.rs).
struct Columns<'a>(&'a RecordBatch);

impl Columns<'_> {
    fn text(&self, name: &str, row: usize) -> Result<Option<String>> {
        let column = self
            .0
            .column_by_name(name)
            .and_then(|c| c.as_any().downcast_ref::<StringArray>())
            .ok_or_else(|| self.missing(name, "text"))?;
        Ok(column.is_valid(row).then(|| column.value(row).to_string()))
    }

    fn number(&self, name: &str, row: usize) -> Result<Option<i64>> {
        let column = self
            .0
            .column_by_name(name)
            .and_then(|c| c.as_any().downcast_ref::<Int64Array>())
            .ok_or_else(|| self.missing(name, "a 64-bit integer"))?;
        Ok(column.is_valid(row).then(|| column.value(row)))
    }

    fn missing(&self, name: &str, kind: &str) -> Error {
        Error::Internal(format!(
            "the copy's ledger has no column {name} of {kind}; restore with the malgrupp version that committed it"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Only names the lake's copy is written with are restored, and only inside the
    /// lake: a name of another engine's layout, or one climbing out, is refused.
    #[test]
    fn only_the_copys_own_names_are_placed_in_the_lake() {
        let lake = Lake::new("/lake");
        assert_eq!(
            local_place(
                &lake,
                "kaa",
                "kommun=0880/period=2015-05/kalmar_kaa-0123456789abcdef.parquet"
            ),
            Some(lake.partition_file("kaa", "0880", "2015-05", "kalmar_kaa"))
        );
        for hostile in [
            "kommun=../period=2015-05/x-0123456789abcdef.parquet",
            "kommun=0880/period=../../x-0123456789abcdef.parquet",
            "kommun=0880/period=2015-05/../x-0123456789abcdef.parquet",
            "kommun=0880/period=2015-05/x-0123456789abcdef.parquet/more",
            "kommun=0880/period=2015-05/x.parquet",
            "kommun=0880/period=2015-05/x-0123456789abcdeg.parquet",
            "kommun=0880/period=2015-05/-0123456789abcdef.parquet",
            "kommun=0880/period=2015-05/_x-0123456789abcdef.parquet",
            "period=2015-05/kommun=0880/x-0123456789abcdef.parquet",
            "part-00000-0123456789abcdef.snappy.parquet",
        ] {
            assert_eq!(local_place(&lake, "kaa", hostile), None, "{hostile}");
        }
    }
}
