//! `malgrupp audit`: the outsider's attack on the published files (`audit`), printed per
//! table; exit code 1 when a suppressed count is disclosed or a partition cannot be judged.

use std::io::Write;
use std::path::Path;

use crate::config::Settings;
use crate::error::{Error, Result};
use crate::lake::Lake;

/// Audits `dir` (default: the lake's published folder) with `threshold` (default: the
/// settings' `suppress_below`). True when every table holds.
pub fn execute(
    settings: &Settings,
    dir: Option<&Path>,
    csv: bool,
    threshold: Option<i64>,
    identities: bool,
    out: &mut impl Write,
) -> Result<bool> {
    // Resolved once, so a publish while the audit runs cannot mix two sets.
    let dir = dir.map_or_else(
        || crate::published::resolved(&Lake::new(&settings.lake_root)),
        |d| std::fs::canonicalize(d).unwrap_or_else(|_| d.to_path_buf()),
    );
    let threshold = threshold.unwrap_or(i64::from(settings.suppress_below));
    let audits = crate::audit::audit_dir(&dir, threshold, csv)?;
    if audits.is_empty() {
        return Err(Error::NotFound(format!(
            "{}: no published long table to audit (run the pipelines first)",
            dir.display()
        )));
    }
    write!(
        out,
        "{}",
        crate::audit::render(&audits, threshold, identities)
    )
    .map_err(|e| Error::io("stdout", e))?;
    Ok(audits.iter().all(|(_, a)| a.holds()))
}
