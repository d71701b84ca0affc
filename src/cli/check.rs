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
    if !problems.is_empty() {
        writeln!(out, "{} problem(s):\n{problems}", problems.0.len()).map_err(io)?;
    }
    Ok(problems)
}
