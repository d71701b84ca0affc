//! `malgrupp check`: validate everything, run nothing, report every problem at once.

use std::io::Write;

use crate::config::{self, Settings};
use crate::error::{Error, Problems, Result};

/// Validates pipelines and views; returns all problems (empty = everything valid).
pub async fn execute(settings: &Settings, out: &mut dyn Write) -> Result<Problems> {
    let mut problems = Problems::default();
    let (pipelines, ps) = match config::load_pipelines(&settings.pipelines_dir) {
        Ok(x) => x,
        Err(e) => {
            problems.push(
                settings.pipelines_dir.display().to_string(),
                "",
                e.to_string(),
            );
            (Vec::new(), Problems::default())
        }
    };
    problems.0.extend(ps.0);
    // The settings as `run` uses them: a key it could not load fails every run.
    match crate::normalize::pseudonym::PseudonymKey::validate(&settings.key_source) {
        Ok(()) => {}
        Err(Error::Config(p)) => problems.0.extend(p.0),
        Err(e) => problems.push("malgrupp.toml", "pseudonymization", e.to_string()),
    }
    let (ctx, vs) = crate::query::open_empty(&settings.sql_dir).await?;
    problems.0.extend(vs.0);
    let (goals, gs) = crate::config::agreement::load(&settings.agreements_dir)?;
    problems.0.extend(gs.0);
    let views = ctx.sql("select table_name from information_schema.tables where table_schema = 'public' and table_type = 'VIEW'").await?.collect().await.map_err(Error::Query)?;
    let view_count: usize = views.iter().map(|b| b.num_rows()).sum();
    let io = |e| Error::io("<stdout>", e);
    for p in &pipelines {
        writeln!(
            out,
            "ok  pipeline {:<24} → {}{}",
            p.name,
            p.target.name,
            if p.description.is_empty() {
                String::new()
            } else {
                format!("  ({})", p.description)
            }
        )
        .map_err(io)?;
    }
    writeln!(out, "ok  {view_count} views").map_err(io)?;
    writeln!(out, "ok  {} goals in agreements", goals.len()).map_err(io)?;
    if let Some(warning) = lake_mode_warning(&settings.lake_root) {
        writeln!(out, "warning: {warning}").map_err(io)?;
    }
    let per_pipeline = pipelines
        .iter()
        .flat_map(config::pipeline::Pipeline::warnings);
    for warning in per_pipeline.chain(super::check_measures::warnings(
        &pipelines,
        &settings.sql_dir,
    )) {
        writeln!(out, "warning: {warning}").map_err(io)?;
    }
    if !problems.is_empty() {
        writeln!(out, "{} problem(s):\n{problems}", problems.0.len()).map_err(io)?;
    }
    Ok(problems)
}

/// A warning when the lake's root directory lets group or others in. Not a problem
/// (the exit code stays 0): the directories the lake creates itself are private
/// (`lake::atomic::DIR_MODE`), but a root made by hand may not be, and `raw/` below it
/// holds identity numbers as received.
fn lake_mode_warning(root: &std::path::Path) -> Option<String> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(root).ok()?.permissions().mode() & 0o777;
        (mode & 0o077 != 0).then(|| {
            format!(
                "the lake {} has mode {mode:o}: group or other users can enter it, and it holds personal data; `chmod 700` it",
                root.display()
            )
        })
    }
    #[cfg(not(unix))]
    {
        let _ = root;
        None
    }
}

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn an_open_lake_root_is_warned_about() {
        let dir = tempfile::tempdir().expect("tempdir");
        let set = |mode| {
            std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(mode))
                .expect("chmod")
        };
        set(0o755);
        let w = lake_mode_warning(dir.path()).expect("a warning");
        assert!(w.contains("755") && w.contains("chmod 700"), "{w}");
        set(0o750);
        assert!(lake_mode_warning(dir.path()).is_some());
        set(0o700);
        assert_eq!(lake_mode_warning(dir.path()), None);
        assert_eq!(lake_mode_warning(&dir.path().join("missing")), None);
    }
}
