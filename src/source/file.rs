//! Local files: one path or a glob, read whole.

use std::path::Path;

use super::Extract;
use crate::error::{Error, Result};

/// Reads every file matching `pattern` (sorted). No match is an error: a missing
/// nightly extract must not pass silently.
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
        .map(|p| {
            let bytes =
                std::fs::read(&p).map_err(|e| source_err(format!("{}: {e}", p.display())))?;
            Ok(Extract {
                name: file_name(&p),
                location: p.display().to_string(),
                bytes,
            })
        })
        .collect()
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}
