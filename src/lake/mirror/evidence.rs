//! The rest of the lake on its home store (`[lake] root = "s3://…"` or `az://…`): the raw
//! extracts as received (`raw/<sha256[..2]>/<sha256>.<ext>`) and the quarantine
//! (`quarantine/pipeline=<p>/<extract>.parquet`), under the same paths below the prefix,
//! so a host whose disk does not outlive it (a pod on an `emptyDir`) loses neither the
//! evidence of what was received nor the rows it rejected. A `[lake] delta` copy, there
//! for other engines, gets the tables and the ledger only: the raw extracts hold direct
//! identifiers, and the lake's own disk keeps them.
//!
//! A raw extract is named by its content and never changes: it is uploaded once (a HEAD
//! tells whether the store has it; a race uploads the same bytes twice) and never
//! deleted. A quarantine file is replaced when its extract is processed again and removed
//! when its extract is superseded; the store follows, deleting what this host uploaded
//! and removed since (never another host's upload, which it cannot tell from a stale
//! one). A sync uploads what changed since the last, told by size and modification time
//! (`_meta/lake_delta`, as for the tables), before it commits the ledger: a run the
//! ledger names has its evidence in the store. `restore` brings the quarantine back; the
//! raw extracts stay in the store, where an auditor reads them (the restored lake's next
//! runs fetch their sources' extracts again).

use std::collections::BTreeMap;
use std::path::PathBuf;

use futures::{StreamExt, TryStreamExt};
use object_store::{ObjectStore, ObjectStoreExt};
use tokio::io::AsyncWriteExt;

use super::local::{modified_ns, sorted_entries};
use super::seen::{Seen, SeenFile};
use super::{Lake, Target, Turn, UPLOADS, atomic, lease_once};
use crate::error::{Error, Result};

/// The lake's directories that go to its home store beside the tables.
const DIRS: [&str; 2] = ["raw", "quarantine"];

/// A file of [`DIRS`] on local disk.
#[derive(Debug)]
struct Kept {
    /// Its path under the lake root, which is also its path under the prefix.
    key: String,
    path: PathBuf,
    size: u64,
    modified_ns: u64,
}

/// What a sync does with the evidence: what to upload and what to delete in the store,
/// and what holds afterwards.
#[derive(Debug, Default)]
pub(super) struct Plan {
    upload: Vec<Kept>,
    delete: Vec<String>,
    unchanged: BTreeMap<String, SeenFile>,
}

impl Plan {
    /// Whether the store already holds what the lake holds.
    pub(super) fn is_empty(&self) -> bool {
        self.upload.is_empty() && self.delete.is_empty()
    }
}

/// Uploads the lake's raw extracts and quarantine files that changed since the last
/// sync, and deletes in the store the quarantine files removed since (`evidence.rs`);
/// `seen` keeps what was uploaded before when this fails.
pub(super) async fn keep(
    opened: &mut Target,
    lake: &Lake,
    turn: &mut Turn,
    seen: &mut Seen,
) -> Result<()> {
    let plan = plan(lake, &seen.kept)?;
    if !plan.is_empty() {
        lease_once(opened, lake, turn).await?;
    }
    seen.kept = apply(opened, plan).await?;
    Ok(())
}

/// Compares the lake's raw extracts and quarantine with what the last sync uploaded
/// (`uploaded`): new and rewritten files go up, quarantine files removed since go.
fn plan(lake: &Lake, uploaded: &BTreeMap<String, SeenFile>) -> Result<Plan> {
    let mut plan = Plan::default();
    let mut present = std::collections::BTreeSet::new();
    for kept in local_kept(lake)? {
        present.insert(kept.key.clone());
        match uploaded.get(&kept.key) {
            Some(s) if s.size == kept.size && s.modified_ns == kept.modified_ns => {
                plan.unchanged.insert(kept.key.clone(), s.clone());
            }
            _ => plan.upload.push(kept),
        }
    }
    plan.delete = uploaded
        .keys()
        .filter(|k| k.starts_with("quarantine/") && !present.contains(*k))
        .cloned()
        .collect();
    Ok(plan)
}

/// Carries `plan` out on `target`: what the store holds of this lake's evidence
/// afterwards, to be remembered for the next sync.
async fn apply(target: &Target, plan: Plan) -> Result<BTreeMap<String, SeenFile>> {
    let Plan {
        upload,
        delete,
        mut unchanged,
    } = plan;
    let work: Vec<_> = upload.into_iter().map(|k| put(target, k)).collect();
    let uploaded: Vec<(String, SeenFile)> = futures::stream::iter(work)
        .buffer_unordered(UPLOADS)
        .try_collect()
        .await?;
    unchanged.extend(uploaded);
    for key in delete {
        let object = target.object(&key);
        match target.store.delete(&object).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
            Err(e) => return Err(target.error(&key, e)),
        }
    }
    Ok(unchanged)
}

/// Uploads one file, streamed (a national extract is hundreds of megabytes): a raw
/// extract only when the store lacks it, a quarantine file always (it was rewritten).
async fn put(target: &Target, kept: Kept) -> Result<(String, SeenFile)> {
    let object = target.object(&kept.key);
    if kept.key.starts_with("raw/") {
        match target.store.head(&object).await {
            Ok(_) => return Ok(remembered(kept)),
            Err(object_store::Error::NotFound { .. }) => {}
            Err(e) => return Err(target.error(&kept.key, e)),
        }
    }
    let mut file = tokio::fs::File::open(&kept.path)
        .await
        .map_err(|e| Error::io(&kept.path, e))?;
    let mut writer = object_store::buffered::BufWriter::new(target.store.clone(), object);
    let copied = tokio::io::copy(&mut file, &mut writer).await;
    let finished = match copied {
        Ok(_) => writer.shutdown().await,
        Err(e) => {
            // Nothing of a failed upload stays behind as the object.
            let _ = writer.abort().await;
            Err(e)
        }
    };
    finished.map_err(|e| Error::Table {
        table: format!("{}/{}", target.shown, kept.key),
        message: format!("not uploaded: {e}"),
    })?;
    Ok(remembered(kept))
}

/// What the next sync compares `kept` with.
fn remembered(kept: Kept) -> (String, SeenFile) {
    let seen = SeenFile {
        size: kept.size,
        modified_ns: kept.modified_ns,
        name: kept.key.clone(),
    };
    (kept.key, seen)
}

/// The quarantine files under `target`'s prefix, staged into `lake` (published with the
/// restored tables), each with its key; a name not of the quarantine's layout is left
/// in the store.
pub(super) async fn bring_back(
    target: &Target,
    lake: &Lake,
) -> Result<Vec<(atomic::Staged, String)>> {
    let prefix = target.object("quarantine");
    let listed: Vec<_> = target
        .store
        .list(Some(&prefix))
        .try_collect()
        .await
        .map_err(|e| target.error("quarantine", e))?;
    let work: Vec<_> = listed
        .into_iter()
        .filter_map(|meta| {
            let key = quarantine_key(meta.location.prefix_match(&target.root)?)?;
            Some(async move {
                let bytes = target.read(&key).await?;
                let staged = atomic::stage_in_set(&lake.root().join(&key), &bytes)?;
                Ok::<_, Error>((staged, key))
            })
        })
        .collect();
    futures::stream::iter(work)
        .buffer_unordered(UPLOADS)
        .try_collect()
        .await
}

/// `quarantine/pipeline=<p>/<id>.parquet` from a path's parts below the prefix; `None`
/// for anything else (another engine's file, a name climbing out of the lake).
fn quarantine_key<'a>(
    mut parts: impl Iterator<Item = object_store::path::PathPart<'a>>,
) -> Option<String> {
    let parts: Vec<String> = parts.by_ref().map(|p| p.as_ref().to_string()).collect();
    let [dir, pipeline, file] = parts.as_slice() else {
        return None;
    };
    let ok = dir == "quarantine"
        && pipeline
            .strip_prefix("pipeline=")
            .is_some_and(|p| plain(p) && !p.contains('.'))
        && file
            .strip_suffix(".parquet")
            .is_some_and(|f| plain(f) && !f.contains('.'));
    ok.then(|| format!("{dir}/{pipeline}/{file}"))
}

/// A name as one part of a key: not empty, no separator, nothing hidden or climbing out.
pub(super) fn plain(name: &str) -> bool {
    !name.is_empty() && !name.starts_with(['.', '_']) && !name.contains(['/', '\\'])
}

/// The lake's raw extracts and quarantine files (hidden and temporary ones left out).
fn local_kept(lake: &Lake) -> Result<Vec<Kept>> {
    let mut kept = Vec::new();
    for dir in DIRS {
        for sub in sorted_entries(&lake.root().join(dir), "")? {
            if !sub.is_dir() {
                continue;
            }
            for path in sorted_entries(&sub, "")? {
                let meta = std::fs::metadata(&path).map_err(|e| Error::io(&path, e))?;
                if !meta.is_file() {
                    continue;
                }
                let Ok(relative) = path.strip_prefix(lake.root()) else {
                    continue;
                };
                let key = relative
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy())
                    .collect::<Vec<_>>()
                    .join("/");
                kept.push(Kept {
                    key,
                    size: meta.len(),
                    modified_ns: modified_ns(&meta),
                    path,
                });
            }
        }
    }
    Ok(kept)
}

#[cfg(test)]
mod tests {
    use super::*;
    use object_store::path::Path as StorePath;

    fn key(path: &str) -> Option<String> {
        quarantine_key(StorePath::from(path).parts())
    }

    /// Only the quarantine's own names are brought back into the lake.
    #[test]
    fn only_quarantine_names_are_brought_back() {
        assert_eq!(
            key("quarantine/pipeline=kalmar_fs/0123456789abcdef.parquet").as_deref(),
            Some("quarantine/pipeline=kalmar_fs/0123456789abcdef.parquet")
        );
        for hostile in [
            "quarantine/pipeline=kalmar_fs/x.csv",
            "quarantine/pipeline=../x.parquet",
            "quarantine/kalmar_fs/x.parquet",
            "quarantine/pipeline=kalmar_fs/sub/x.parquet",
            "quarantine/pipeline=kalmar_fs/.tmp-x.parquet",
            "quarantine/pipeline=kalmar_fs/_x.parquet",
            "raw/01/0123.csv",
        ] {
            assert_eq!(key(hostile), None, "{hostile}");
        }
    }

    /// A file uploaded and unchanged stays; a rewritten one goes up again; a quarantine
    /// file removed locally is deleted in the store, a raw one never is.
    #[test]
    fn a_plan_uploads_what_changed_and_deletes_removed_quarantine() {
        let dir = tempfile::tempdir().expect("tempdir");
        let lake = Lake::new(dir.path());
        lake.keep_raw("raw/ab/abcd.csv", &b"extract"[..], |e| {
            crate::error::Error::io("extract", e)
        })
        .expect("raw");
        let quarantine = lake.quarantine_file("p", "0123456789abcdef");
        atomic::write(&quarantine, b"rows").expect("quarantine");
        let first = plan(&lake, &BTreeMap::new()).expect("plan");
        let keys: Vec<&str> = first.upload.iter().map(|k| k.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "raw/ab/abcd.csv",
                "quarantine/pipeline=p/0123456789abcdef.parquet"
            ]
        );
        let uploaded: BTreeMap<String, SeenFile> =
            first.upload.into_iter().map(remembered).collect();
        assert!(plan(&lake, &uploaded).expect("plan").is_empty());
        std::fs::remove_file(&quarantine).expect("remove");
        let mut gone = uploaded.clone();
        gone.insert(
            "raw/cd/cdef.csv".into(),
            SeenFile {
                size: 1,
                modified_ns: 1,
                name: "raw/cd/cdef.csv".into(),
            },
        );
        let second = plan(&lake, &gone).expect("plan");
        assert!(second.upload.is_empty());
        assert_eq!(
            second.delete,
            ["quarantine/pipeline=p/0123456789abcdef.parquet"]
        );
    }
}
