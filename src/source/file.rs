//! Local files (`type = "file"`): the `[source]` keys, their validation, and reading
//! one path or a glob, each file whole when the run comes to it.

use std::path::Path;

use serde::Deserialize;

use super::Extract;
use crate::error::{Error, Problems, Result};

/// `[source]` with `type = "file"`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFile {
    /// A path or glob (`*`, `?`, `[..]`), relative to the working directory.
    pub path: String,
}

/// A validated file source.
#[derive(Debug, Clone)]
pub struct FileSource {
    /// The path or glob.
    pub pattern: String,
}

/// Checks the path is a usable glob (problems go to `p`, named after `file`).
pub fn validate(raw: RawFile, file: &str, p: &mut Problems) -> FileSource {
    let RawFile { path } = raw;
    if path.trim().is_empty() {
        p.push(file, "source.path", "must name a file or glob");
    } else if let Err(e) = glob::Pattern::new(&path) {
        p.push(file, "source.path", format!("not a valid glob: {e}"));
    }
    FileSource { pattern: path }
}

/// Lists every file matching `pattern` (sorted); each is read when the run comes to it
/// ([`Extract::content`]). No match is an error: a missing nightly extract must not pass
/// silently.
pub fn read_glob(pipeline: &str, pattern: &str) -> Result<Vec<Extract>> {
    let source_err = |message: String| Error::Source {
        pipeline: pipeline.into(),
        location: pattern.into(),
        message,
        transient: false,
    };
    let mut paths: Vec<_> = glob::glob(pattern)
        .map_err(|e| source_err(format!("bad glob: {e}")))?
        .filter_map(std::result::Result::ok)
        .filter(|p| p.is_file())
        .collect();
    paths.sort();
    if paths.is_empty() {
        return Err(source_err("no file matches".into()));
    }
    paths
        .into_iter()
        .map(|p| Ok(Extract::listed(file_name(&p), p.display().to_string(), p)))
        .collect()
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}
