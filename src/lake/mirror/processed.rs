//! Which extracts each pipeline has processed (the manifest's pipeline state, which
//! lets a run skip an unchanged extract), kept in the lake's home store
//! (`_meta/processed/<pipeline>.json` under the prefix, [`super::Scope::Home`]), so a
//! lake brought in from there (a pod on an `emptyDir` replaced) skips what it had
//! processed instead of processing every extract its sources offer again.
//!
//! A pipeline's state is uploaded by a sync that committed every table, before the
//! ledger, as the manifest held it when the sync listed the tables: a run writes its
//! files before it records its extracts, so a state in the store never names an extract
//! whose rows the tables lack (an older state only costs processing again). It goes up
//! when it changed since this host last uploaded it, so a host never overwrites another
//! host's newer state of a pipeline it has not run since. What a restore brings back is
//! used only as a run's skip list: an extract is skipped while its source still offers
//! the same bytes and every kommun-month it fed is in the lake; its raw bytes stay in
//! the store (a run that rebuilds a kommun-month decodes it as fetched).

use std::collections::BTreeMap;

use bytes::Bytes;
use futures::TryStreamExt;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use sha2::{Digest, Sha256};

use super::evidence::plain;
use super::seen::Seen;
use super::{Lake, Target, Turn, lease_once};
use crate::error::{Error, Result};
use crate::lake::manifest::PipelineState;

/// The directory of the states under the prefix.
const DIR: &str = "_meta/processed";

/// A pipeline's state to upload: its pipeline, its bytes and their digest.
type Changed = (String, Bytes, String);

/// Uploads each pipeline's processed extracts that changed since the last sync
/// (`processed.rs`); `seen` keeps what was uploaded.
pub(super) async fn keep(
    opened: &mut Target,
    lake: &Lake,
    turn: &mut Turn,
    seen: &mut Seen,
    states: &BTreeMap<String, PipelineState>,
) -> Result<()> {
    let changed = changed(states, &seen.processed)?;
    if changed.is_empty() {
        return Ok(());
    }
    lease_once(opened, lake, turn).await?;
    seen.processed.extend(upload(opened, changed).await?);
    Ok(())
}

/// The states of `states` that differ from what this host last uploaded (`uploaded`:
/// per pipeline, the digest of its bytes then).
fn changed(
    states: &BTreeMap<String, PipelineState>,
    uploaded: &BTreeMap<String, String>,
) -> Result<Vec<Changed>> {
    let mut out = Vec::new();
    for (pipeline, state) in states {
        let (bytes, digest) = encoded(state)?;
        if uploaded.get(pipeline) != Some(&digest) {
            out.push((pipeline.clone(), bytes, digest));
        }
    }
    Ok(out)
}

/// A state's bytes in the store and their digest.
pub(super) fn encoded(state: &PipelineState) -> Result<(Bytes, String)> {
    let bytes = serde_json::to_vec_pretty(state).map_err(|e| Error::Internal(e.to_string()))?;
    let digest = hex::encode(Sha256::digest(&bytes));
    Ok((Bytes::from(bytes), digest))
}

/// Uploads `changed` under `target`'s prefix: what the store holds of this host's
/// states afterwards (pipeline → digest), to be remembered for the next sync.
async fn upload(target: &Target, changed: Vec<Changed>) -> Result<Vec<(String, String)>> {
    let mut done = Vec::with_capacity(changed.len());
    for (pipeline, bytes, digest) in changed {
        let key = key(&pipeline);
        target
            .store
            .put(&target.object(&key), PutPayload::from_bytes(bytes))
            .await
            .map_err(|e| target.error(&key, e))?;
        done.push((pipeline, digest));
    }
    Ok(done)
}

/// The states kept under `target`'s prefix, for `lake`: each extract's raw path named
/// as this lake names it (never a path the store wrote). An object that is not a
/// pipeline's state as malgrupp writes it is left out with a warning: without it, that
/// pipeline's next run processes its extracts again.
pub(super) async fn bring_back(
    target: &Target,
    lake: &Lake,
) -> Result<BTreeMap<String, PipelineState>> {
    let listed: Vec<_> = target
        .store
        .list(Some(&target.object(DIR)))
        .try_collect()
        .await
        .map_err(|e| target.error(DIR, e))?;
    let mut states = BTreeMap::new();
    for meta in listed {
        let Some(pipeline) = meta
            .location
            .filename()
            .and_then(|f| f.strip_suffix(".json"))
            .filter(|p| plain(p))
            .map(str::to_string)
        else {
            continue;
        };
        let key = key(&pipeline);
        if meta.location != target.object(&key) {
            continue;
        }
        let bytes = target.read(&key).await?;
        match read(lake, &bytes) {
            Some(state) => {
                states.insert(pipeline, state);
            }
            None => tracing::warn!(
                object = %format!("{}/{}", target.shown, meta.location),
                "not a pipeline's processed extracts as malgrupp writes them; left out (the pipeline's next run processes its extracts again)"
            ),
        }
    }
    Ok(states)
}

/// A state read from the store, its raw paths named by `lake`; `None` when it does not
/// parse or names an extract by anything but a SHA-256.
fn read(lake: &Lake, bytes: &[u8]) -> Option<PipelineState> {
    let mut state: PipelineState = serde_json::from_slice(bytes).ok()?;
    for (sha, extract) in &mut state.extracts {
        if sha.len() != 64 || !sha.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        extract.raw_path = lake.raw_relative(sha, &extract.file);
    }
    Some(state)
}

/// Where `pipeline`'s state is kept under the prefix.
fn key(pipeline: &str) -> String {
    format!("{DIR}/{pipeline}.json")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lake::manifest::ExtractState;

    fn state(sha: &str, raw_path: &str) -> PipelineState {
        PipelineState {
            fingerprint: "f:k".into(),
            extracts: BTreeMap::from([(
                sha.to_string(),
                ExtractState {
                    file: "fs_201505.csv".into(),
                    raw_path: raw_path.into(),
                    partitions: vec![("0880".into(), "2015-05".into())],
                    run_id: "20261201T020000.000Z-fs".into(),
                },
            )]),
        }
    }

    /// A state goes up when it changed since this host uploaded it, not otherwise.
    #[test]
    fn only_changed_states_go_up() {
        let sha = "ab".repeat(32);
        let states = BTreeMap::from([("fs".to_string(), state(&sha, "raw/ab/x.csv"))]);
        let first = changed(&states, &BTreeMap::new()).expect("changed");
        assert_eq!(first.len(), 1);
        let uploaded = BTreeMap::from([("fs".to_string(), first[0].2.clone())]);
        assert!(changed(&states, &uploaded).expect("changed").is_empty());
        let other = BTreeMap::from([("fs".to_string(), state(&"cd".repeat(32), "raw/cd/x.csv"))]);
        assert_eq!(changed(&other, &uploaded).expect("changed").len(), 1);
    }

    /// A state read back names its raw extracts where this lake keeps them, whatever
    /// the store said; one naming an extract by anything but a SHA-256 is left out.
    #[test]
    fn a_state_read_back_names_raw_paths_itself() {
        let dir = tempfile::tempdir().expect("tempdir");
        let lake = Lake::new(dir.path());
        let sha = "ab".repeat(32);
        let (bytes, _) = encoded(&state(&sha, "../../etc/shadow")).expect("encode");
        let read_back = read(&lake, &bytes).expect("a state");
        assert_eq!(
            read_back.extracts[&sha].raw_path,
            format!("raw/ab/{sha}.csv")
        );
        let (hostile, _) = encoded(&state("../x", "raw/x")).expect("encode");
        assert!(read(&lake, &hostile).is_none());
        assert!(read(&lake, b"not json").is_none());
        assert!(plain("kalmar_fs") && !plain("_x") && !plain("a/b") && !plain(""));
    }
}
