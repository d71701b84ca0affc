//! A lake catching up with its copy. Hosts sharing one copy (two `serve` replicas on one
//! bucket, `[lake] root` on object storage) each run some of the pipelines — a
//! pipeline's lease keeps two hosts from running it at once (src/service/run_lease.rs)
//! — and each commits its lake to the copy. Before a host runs a pipeline, refreshes its
//! views or commits, the runs the copy's ledger holds and this lake lacks are brought in:
//! their rows (the tables' files they wrote) and their records (the run ledger), so the
//! host publishes every host's rows and its next commit keeps them.
//!
//! Runs never remove a table's file, so the lake and its copy are merged as a union:
//! a file (a pipeline's kommun-month) only the copy has is brought in; one both have
//! with other bytes is taken from whichever side ran that pipeline last (by run id:
//! start time). A host that ran a pipeline after the copy's newest run of it keeps its
//! own files, which its next commit puts in the copy. Nothing is brought in from a copy
//! this lake does not claim (another lake's is refused at commit, src/lake/delta/target.rs).

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use futures::{StreamExt, TryStreamExt};

use super::local::{Local, local_files, modified_ns};
use super::restore::{ledger, placed};
use super::runs::LEDGER;
use super::{Lake, Location, Seen, Target, UPLOADS, atomic};
use crate::error::Result;
use crate::lake::delta::target::content_name;
use crate::lake::lock::{LakeLock, TABLES_LOCK};
use crate::lake::manifest::{Manifest, RunRecord};
use crate::normalize::schema::TABLES;

/// A file brought in, staged beside its place, with the place's state when it was
/// compared (size, modification time; `None`: it did not exist).
type Incoming = (atomic::Staged, PathBuf, Option<(u64, u64)>);

/// What catching up brought in.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct CaughtUp {
    /// Runs added to this lake's ledger.
    pub runs: usize,
    /// Table files brought in (new kommun-months, or ones a later run elsewhere rewrote).
    pub files: usize,
}

/// Brings the runs the copy at `target` holds and this lake lacks into `lake` (store
/// settings from `env`); nothing is read when the copy's ledger is where this lake's
/// last commit or catch-up left it.
pub async fn catch_up(
    lake: &Lake,
    target: &Location,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<CaughtUp> {
    let opened = Target::open(target, env)?;
    Ok(bring_in(&opened, lake, &Seen::load(lake, target)).await?.0)
}

/// [`catch_up`] with the copy opened and what this lake last committed there; also the
/// version of the copy's ledger it brought this lake up to.
pub(super) async fn bring_in(
    opened: &Target,
    lake: &Lake,
    seen: &Seen,
) -> Result<(CaughtUp, Option<u64>)> {
    let version = opened.table(LEDGER).version().await?;
    let nothing = Ok((CaughtUp::default(), version));
    let Some(version) = version else {
        return nothing;
    };
    if seen.tables.get(LEDGER).map(|t| t.0) == Some(version) || seen.caught_up == Some(version) {
        return nothing;
    }
    let Some(claim) = opened.claimed_by().await? else {
        return nothing;
    };
    if claim != lake.id()? {
        return nothing;
    }
    let manifest = Manifest::load(lake.root())?;
    let known: BTreeSet<&str> = manifest.runs.iter().map(|r| r.run_id.as_str()).collect();
    // Runs older than this lake's oldest were let go of (the ledger keeps the newest).
    let oldest = known.first().copied().unwrap_or_default();
    let copied = ledger(opened).await?;
    let missing: Vec<RunRecord> = copied
        .iter()
        .filter(|r| r.run_id.as_str() > oldest && !known.contains(r.run_id.as_str()))
        .cloned()
        .collect();
    if missing.is_empty() {
        seen.caught_up(lake, version)?;
        return nothing;
    }
    let ours = newest_writers(&manifest.runs);
    let theirs = newest_writers(&copied);
    let mut wanted = Vec::new();
    for def in TABLES {
        let table = opened.table(def.name);
        let Some(snapshot) = table.newest().await? else {
            continue;
        };
        let locals: BTreeMap<String, Local> = local_files(lake, def)?
            .into_iter()
            .map(|l| (l.stem.clone(), l))
            .collect();
        for file in &snapshot.files {
            let place = placed(lake, &table, def.name, file)?;
            // `placed` checked the name: `<stem>-<digest>.parquet`.
            let stem = file.path.rsplit_once('-').map_or("", |(s, _)| s);
            let pipeline = stem.rsplit('/').next().unwrap_or_default();
            let found = match locals.get(stem) {
                None => None,
                Some(_) if theirs.get(pipeline) <= ours.get(pipeline) => continue,
                Some(local) => {
                    if local_name(local, seen)? == file.path {
                        continue;
                    }
                    Some((local.size, local.modified_ns))
                }
            };
            wanted.push((table.clone(), file.path.clone(), place, found));
        }
    }
    let work: Vec<_> = wanted
        .into_iter()
        .map(|(table, path, place, found)| async move {
            let bytes = table.get_file(&path).await?;
            Ok::<_, crate::error::Error>((atomic::stage_in_set(&place, &bytes)?, place, found))
        })
        .collect();
    let staged: Vec<_> = futures::stream::iter(work)
        .buffered(UPLOADS)
        .try_collect()
        .await?;
    let files = put_in_place(lake, staged).await?;
    let runs = missing.len();
    Manifest::update(lake.root(), |m| {
        let known: BTreeSet<String> = m.runs.iter().map(|r| r.run_id.clone()).collect();
        m.runs
            .extend(missing.into_iter().filter(|r| !known.contains(&r.run_id)));
        m.runs.sort_by(|a, b| a.run_id.cmp(&b.run_id));
    })?;
    seen.caught_up(lake, version)?;
    Ok((CaughtUp { runs, files }, Some(version)))
}

/// Puts the files brought in in place together, under the lock runs put theirs under; a
/// file a run of this host replaced since it was compared (or wrote since it was found
/// missing) is left as that run wrote it. Returns how many were put in place.
async fn put_in_place(lake: &Lake, staged: Vec<Incoming>) -> Result<usize> {
    if staged.is_empty() {
        return Ok(0);
    }
    let _tables =
        LakeLock::acquire(lake.root(), TABLES_LOCK, "a run putting its files in place").await?;
    let mut kept = Vec::new();
    for (file, place, found) in staged {
        if state_of(&place) == found {
            kept.push(file);
        } else {
            file.discard();
        }
    }
    let count = kept.len();
    atomic::publish_all(kept)?;
    Ok(count)
}

/// A file's size and modification time (nanoseconds), as `local_files` reads them;
/// `None` when it does not exist.
fn state_of(path: &std::path::Path) -> Option<(u64, u64)> {
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.len(), modified_ns(&meta)))
}

/// A local file's name by content: as the last commit named it while its size and
/// modification time are unchanged, else read and hashed.
fn local_name(local: &Local, seen: &Seen) -> Result<String> {
    if let Some(known) = seen.known(local) {
        return Ok(known);
    }
    let bytes = std::fs::read(&local.path).map_err(|e| crate::error::Error::io(&local.path, e))?;
    Ok(content_name(&local.stem, &bytes))
}

/// Per pipeline, its newest run that wrote rows (status `ok`, rows written).
fn newest_writers(runs: &[RunRecord]) -> BTreeMap<&str, &str> {
    let mut newest = BTreeMap::new();
    for run in runs
        .iter()
        .filter(|r| r.status == "ok" && r.rows_written > 0)
    {
        let entry = newest.entry(run.pipeline.as_str()).or_insert("");
        if run.run_id.as_str() > *entry {
            *entry = run.run_id.as_str();
        }
    }
    newest
}
