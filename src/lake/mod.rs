//! The Parquet lake on local disk: layout, the atomic writer, Parquet encoding, the
//! raw-extract store and the manifest; and the first parts of a lake on object storage:
//! its location and client (`location`), its cross-host locks (`lease`, kept during work
//! by `lease_keeper`) and its commit protocol, Delta Lake (`delta`); and the copy of its
//! tables as Delta tables on object storage for cluster engines (`mirror`).
//!
//! ```text
//! <root>/<table>/kommun=<code>/period=<period>/<pipeline>.parquet   canonical tables
//! <root>/quarantine/pipeline=<name>/<extract_id>.parquet           rejected rows
//! <root>/raw/<sha256[..2]>/<sha256>.<ext>                          every extract, as received
//! <root>/_meta/manifest.json                                       extracts, runs, lineage
//! ```
//! Each pipeline owns its own file inside a partition, so two pipelines feeding one
//! table never overwrite each other, and replacing one kommun-month is one rename.

pub mod as_of;
pub mod atomic;
pub mod delta;
pub mod lease;
pub mod lease_keeper;
pub mod ledger;
pub mod location;
pub mod lock;
pub mod manifest;
pub mod mirror;
pub mod parquet;

use std::path::{Path, PathBuf};

use crate::error::Result;

/// Paths of one lake.
#[derive(Debug, Clone)]
pub struct Lake {
    root: PathBuf,
}

impl Lake {
    /// The lake at `root` (created lazily on first write).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Lake { root: root.into() }
    }

    /// Root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Directory of a canonical table.
    pub fn table_dir(&self, table: &str) -> PathBuf {
        self.root.join(table)
    }

    /// The file a pipeline owns in one partition.
    pub fn partition_file(
        &self,
        table: &str,
        kommun: &str,
        period: &str,
        pipeline: &str,
    ) -> PathBuf {
        self.table_dir(table)
            .join(format!("kommun={kommun}"))
            .join(format!("period={period}"))
            .join(format!("{pipeline}.parquet"))
    }

    /// Quarantine directory.
    pub fn quarantine_dir(&self) -> PathBuf {
        self.root.join("quarantine")
    }

    /// Quarantine file of one extract.
    pub fn quarantine_file(&self, pipeline: &str, extract_id: &str) -> PathBuf {
        self.quarantine_dir()
            .join(format!("pipeline={pipeline}"))
            .join(format!("{extract_id}.parquet"))
    }

    /// Where a raw extract is kept (relative to the root, for the manifest).
    pub fn raw_relative(&self, sha256: &str, file_name: &str) -> String {
        let ext = Path::new(file_name)
            .extension()
            .map(|e| format!(".{}", e.to_string_lossy()))
            .unwrap_or_default();
        format!("raw/{}/{sha256}{ext}", &sha256[..2])
    }

    /// Keeps a raw extract (content-addressed: the same bytes are stored once), copied
    /// from `content` a block at a time; a failure to read it is reported through
    /// `read_error`, and leaves nothing behind.
    pub fn keep_raw(
        &self,
        relative: &str,
        mut content: impl std::io::Read,
        read_error: impl Fn(std::io::Error) -> crate::error::Error,
    ) -> Result<()> {
        use std::io::Write;
        let path = self.root.join(relative);
        if path.exists() {
            return Ok(());
        }
        let mut out = atomic::StagingFile::create(&path)?;
        let mut block = vec![0; 256 * 1024];
        loop {
            let n = match content.read(&mut block) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(read_error(e)),
            };
            out.write_all(&block[..n])
                .map_err(|e| crate::error::Error::io(out.path(), e))?;
        }
        out.finish()?.publish()
    }

    /// This lake's identity: random, made at first need and kept in `_meta/lake_id`, so
    /// a Delta target can tell this lake's commits from another lake's (a copy of the
    /// directory keeps it, a new lake gets its own).
    pub fn id(&self) -> Result<String> {
        let path = self.id_path();
        match std::fs::read_to_string(&path) {
            Ok(id) if !id.trim().is_empty() => return Ok(id.trim().to_string()),
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(crate::error::Error::io(path, e)),
        }
        let id = delta::random_id()?;
        self.set_id(&id)?;
        Ok(id)
    }

    /// Gives this lake the identity `id` (the benchmark's scratch lakes share one, so
    /// that a benchmark target takes every benchmark's commits and no real lake's).
    pub fn set_id(&self, id: &str) -> Result<()> {
        atomic::write(&self.id_path(), format!("{id}\n").as_bytes())
    }

    fn id_path(&self) -> PathBuf {
        self.root.join("_meta").join("lake_id")
    }

    /// Whether the lake holds the raw extract at `relative` (a lake restored from its
    /// store does not: the raw extracts stay there).
    pub fn has_raw(&self, relative: &str) -> bool {
        self.root.join(relative).is_file()
    }

    /// The path of a kept raw extract.
    pub fn raw_path(&self, relative: &str) -> PathBuf {
        self.root.join(relative)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_raw_copy_whose_reading_fails_leaves_nothing_and_a_kept_one_is_not_copied_again() {
        struct Failing;
        impl std::io::Read for Failing {
            fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
                Err(std::io::Error::other("the file changed"))
            }
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let lake = Lake::new(dir.path());
        let failed = lake.keep_raw("raw/ab/abcd.csv", Failing, |e| {
            crate::error::Error::Internal(e.to_string())
        });
        assert!(failed.is_err_and(|e| e.to_string().contains("the file changed")));
        assert!(
            !lake.has_raw("raw/ab/abcd.csv"),
            "a failed copy is not a raw extract"
        );
        let left: Vec<_> = std::fs::read_dir(dir.path().join("raw/ab"))
            .expect("raw dir")
            .collect();
        assert!(left.is_empty(), "no temporary file left: {left:?}");
        let bytes = vec![7u8; 600 * 1024];
        let to_error = |e: std::io::Error| crate::error::Error::Internal(e.to_string());
        lake.keep_raw("raw/ab/abcd.csv", &bytes[..], to_error)
            .expect("kept");
        assert_eq!(
            std::fs::read(lake.raw_path("raw/ab/abcd.csv")).expect("raw"),
            bytes,
            "copied block by block, whole"
        );
        // Content-addressed: a second copy reads nothing.
        lake.keep_raw("raw/ab/abcd.csv", Failing, to_error)
            .expect("already kept");
    }
}
