//! The lake's canonical table files on local disk, as `[lake] delta` commits them: each
//! with its path, its partition values and what tells a rewritten file (size and
//! modification time), and the snapshot a sync reads them from.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::lake::Lake;
use crate::normalize::schema::TableDef;

/// A canonical table's file on local disk.
pub(super) struct Local {
    /// Path under the lake root: `<table>/kommun=<k>/period=<p>/<pipeline>.parquet`.
    pub(super) key: String,
    /// Where it is read from: the lake's file, or its link in the sync's snapshot.
    pub(super) path: PathBuf,
    /// Path in the table without `.parquet`.
    pub(super) stem: String,
    pub(super) partition: BTreeMap<String, Option<String>>,
    pub(super) size: u64,
    pub(super) modified_ns: u64,
}

/// The files of a canonical table in the lake, `kommun=<k>/period=<p>/<pipeline>.parquet`
/// (hidden and temporary files left out), in path order.
pub(super) fn local_files(lake: &Lake, def: &TableDef) -> Result<Vec<Local>> {
    let dir = lake.table_dir(def.name);
    let mut locals = Vec::new();
    for kommun in sorted_entries(&dir, "kommun=")? {
        for period in sorted_entries(&kommun, "period=")? {
            for file in sorted_entries(&period, "")? {
                let Some(name) = file.file_name().and_then(|n| n.to_str()) else {
                    continue;
                };
                let Some(pipeline) = name.strip_suffix(".parquet") else {
                    continue;
                };
                let meta = std::fs::metadata(&file).map_err(|e| Error::io(&file, e))?;
                let modified_ns = modified_ns(&meta);
                let part = |d: &Path| d.file_name().map(|n| n.to_string_lossy().into_owned());
                let (Some(k), Some(p)) = (part(&kommun), part(&period)) else {
                    continue;
                };
                let stem = format!("{k}/{p}/{pipeline}");
                let partition = [
                    ("kommun", &k["kommun=".len()..]),
                    ("period", &p["period=".len()..]),
                ]
                .into_iter()
                .map(|(c, v)| (c.to_string(), Some(v.to_string())))
                .collect();
                locals.push(Local {
                    key: format!("{}/{stem}.parquet", def.name),
                    path: file,
                    stem,
                    partition,
                    size: meta.len(),
                    modified_ns,
                });
            }
        }
    }
    Ok(locals)
}

/// A file's modification time in nanoseconds (0 where the filesystem has none), which
/// with its size tells a rewritten file.
pub(super) fn modified_ns(meta: &std::fs::Metadata) -> u64 {
    meta.modified()
        .ok()
        .and_then(|m| m.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

/// Entries of `dir` whose names begin with `prefix` and not with `.` or `_` (temporary
/// and hidden files), sorted; none when `dir` does not exist.
pub(super) fn sorted_entries(dir: &Path, prefix: &str) -> Result<Vec<PathBuf>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io(dir, e)),
    };
    let mut paths = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with(prefix) && !name.starts_with(['.', '_']) {
            paths.push(entry.path());
        }
    }
    paths.sort();
    Ok(paths)
}

/// A snapshot's directory, removed when dropped: however a sync ends (a lease another
/// host holds, a store down), no link is left keeping the space of files runs replace.
#[derive(Debug)]
pub(super) struct Scratch(std::path::PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        if let Err(e) = clear(&self.0) {
            tracing::warn!(error = %e, "a sync's scratch directory could not be removed; the next sync empties it");
        }
    }
}

/// Links `locals` into `dir` (emptied first) and points each at its link: a run that
/// puts a new file in place afterwards renames over the lake's name, not the link's
/// inode, so what the sync reads is the file it listed, whatever runs do meanwhile.
/// Copied where the filesystem has no hard links. A scratch directory: nothing is
/// synced, and it is removed when the returned [`Scratch`] is dropped.
pub(super) fn snapshot<'a>(
    dir: &Path,
    locals: impl Iterator<Item = &'a mut Local>,
) -> Result<Scratch> {
    clear(dir)?;
    let scratch = Scratch(dir.to_path_buf());
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    for (i, local) in locals.enumerate() {
        let link = dir.join(format!("{i}.parquet"));
        if std::fs::hard_link(&local.path, &link).is_err() {
            std::fs::copy(&local.path, &link).map_err(|e| Error::io(&local.path, e))?;
        }
        local.path = link;
    }
    Ok(scratch)
}

/// Removes a snapshot directory, if there is one.
fn clear(dir: &Path) -> Result<()> {
    match std::fs::remove_dir_all(dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(Error::io(dir, e)),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A file a run puts in place after the snapshot (a new file renamed over the old
    /// name, as every write to the lake is) leaves the snapshot's copy as listed.
    #[test]
    fn a_snapshot_keeps_what_was_listed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let lake = Lake::new(dir.path());
        let file = lake.partition_file("kaa", "0880", "2015-05", "kalmar_kaa");
        crate::lake::atomic::write(&file, b"listed").expect("write");
        let def = crate::normalize::schema::table("kaa").expect("kaa");
        let mut locals = local_files(&lake, def).expect("list");
        assert_eq!(locals.len(), 1);
        let scratch = dir.path().join("_meta/scratch");
        let linked = snapshot(&scratch, locals.iter_mut()).expect("snapshot");
        crate::lake::atomic::write(&file, b"a later run").expect("write");
        assert_eq!(std::fs::read(&locals[0].path).expect("read"), b"listed");
        assert_eq!(
            locals[0].key,
            "kaa/kommun=0880/period=2015-05/kalmar_kaa.parquet"
        );
        drop(linked);
        assert!(!scratch.exists());
        clear(&scratch).expect("clear what is gone");
    }
}
