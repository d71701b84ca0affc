//! `malgrupp report --kommun K --period P --format html|xlsx|md [--out FILE]`: the
//! Bilaga 1 report of one kommun and month from the published (suppressed) views.

use std::path::{Path, PathBuf};

use crate::config::Settings;
use crate::error::{Error, Result};
use crate::report::{ReportError, ReportFormat};

/// Renders the report into `out` (default `bilaga1_<kommun>_<period>.<format>` in the
/// current directory; `-` is standard output) and returns the file written (`-` for
/// standard output).
pub async fn execute(
    settings: &Settings,
    kommun: &str,
    period: &str,
    format: &str,
    out: Option<&Path>,
) -> Result<PathBuf> {
    let format: ReportFormat = format
        .parse()
        .map_err(|e: ReportError| Error::usage("command line", "--format", e.to_string()))?;
    let bytes = crate::report::load::build(settings, kommun, period, format).await?;
    if out == Some(Path::new("-")) {
        use std::io::Write;
        let mut stdout = std::io::stdout().lock();
        stdout
            .write_all(&bytes)
            .and_then(|()| stdout.flush())
            .map_err(|e| Error::io("<stdout>", e))?;
        return Ok(PathBuf::from("-"));
    }
    let path = out
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from(format!("bilaga1_{kommun}_{period}.{format}")));
    crate::lake::atomic::write(&path, &bytes)?;
    Ok(path)
}
