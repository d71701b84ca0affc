//! Configuration: service settings and pipeline files, raw and validated.
//!
//! This module owns the pipeline file's skeleton (target, fields, unpivot, operations,
//! agreements); `[source]` and `[format]` are read and validated by the transport and
//! format that own them (`crate::source::validate`, `crate::format::validate`).

pub mod agreement;
pub mod operations;
mod person;
pub mod pipeline;
pub mod raw;
pub mod settings;

use std::path::Path;

use crate::error::{Error, Problems, Result};
pub use pipeline::Pipeline;
pub use settings::Settings;

/// Loads every `*.toml` in `dir` (sorted by name). Returns the valid pipelines and the
/// problems of the others: one bad file does not hide the rest.
pub fn load_pipelines(dir: &Path) -> Result<(Vec<Pipeline>, Problems)> {
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| Error::io(dir, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    paths.sort();
    let mut pipelines = Vec::new();
    let mut problems = Problems::default();
    for path in paths {
        let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
        match Pipeline::from_toml(&path, &text) {
            Ok(p) => pipelines.push(p),
            Err(Error::Config(ps)) => problems.0.extend(ps.0),
            Err(e) => return Err(e),
        }
    }
    Ok((pipelines, problems))
}
