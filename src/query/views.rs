//! SQL views: one `sql/<name>.sql` per view, created in dependency order.
//!
//! A view depends on another when its text names it (comments excluded). The order is a
//! topological sort, ties broken by name, so loading is deterministic; a cycle or a view
//! that fails to plan is reported with its file, and `check` reports all of them.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use datafusion::prelude::SessionContext;
use regex::Regex;

use crate::error::{Error, Problems, Result};

/// One view file.
#[derive(Debug, Clone)]
pub struct ViewFile {
    /// View name (file stem).
    pub name: String,
    /// The file.
    pub path: PathBuf,
    /// The SELECT (comments and trailing semicolon kept/stripped as needed).
    pub sql: String,
}

/// Reads every `*.sql` in `dir` and orders them so that dependencies come first.
pub fn load(dir: &Path) -> Result<(Vec<ViewFile>, Problems)> {
    let mut problems = Problems::default();
    let mut files = BTreeMap::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((Vec::new(), problems)),
        Err(e) => return Err(Error::io(dir, e)),
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().is_none_or(|x| x != "sql") {
            continue;
        }
        let name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        if !name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        {
            problems.push(
                path.display().to_string(),
                "",
                "a view file name must be lowercase letters, digits and '_' (it names the view)",
            );
            continue;
        }
        let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
        let sql = text.trim().trim_end_matches(';').to_string();
        files.insert(name.clone(), ViewFile { name, path, sql });
    }
    let order = topological(&files, &mut problems);
    Ok((
        order.into_iter().filter_map(|n| files.remove(&n)).collect(),
        problems,
    ))
}

static COMMENT: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?s)--[^\n]*|/\*.*?\*/").expect("static regex"));
/// A table reference: the name after FROM or JOIN (column names may equal view names,
/// so bare identifiers are not dependencies).
static TABLE_REF: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(?:from|join)\s+([A-Za-z_][A-Za-z0-9_]*)").expect("static regex")
});

/// The lower-cased names a view's SQL reads from.
fn references(sql: &str) -> Vec<String> {
    let code = COMMENT.replace_all(sql, " ");
    TABLE_REF
        .captures_iter(&code)
        .map(|c| c[1].to_lowercase())
        .collect()
}

fn topological(files: &BTreeMap<String, ViewFile>, problems: &mut Problems) -> Vec<String> {
    let deps: BTreeMap<&str, BTreeSet<&str>> = files
        .iter()
        .map(|(name, f)| {
            let used: BTreeSet<&str> = references(&f.sql)
                .iter()
                .filter_map(|r| files.get_key_value(r).map(|(k, _)| k.as_str()))
                .filter(|d| d != name)
                .collect();
            (name.as_str(), used)
        })
        .collect();
    let mut done: BTreeSet<&str> = BTreeSet::new();
    let mut order = Vec::new();
    while done.len() < deps.len() {
        let ready: Vec<&str> = deps
            .iter()
            .filter(|(n, d)| !done.contains(*n) && d.iter().all(|x| done.contains(x)))
            .map(|(n, _)| *n)
            .collect();
        if ready.is_empty() {
            for (n, _) in deps.iter().filter(|(n, _)| !done.contains(*n)) {
                problems.push(
                    files[*n].path.display().to_string(),
                    "",
                    "part of a dependency cycle between views",
                );
            }
            break;
        }
        for n in ready {
            done.insert(n);
            order.push(n.to_string());
        }
    }
    order
}

/// Creates every view in `ctx`; a view that fails (and views that depend on it) are
/// reported, the others still created.
pub async fn create_all(ctx: &SessionContext, views: &[ViewFile], problems: &mut Problems) {
    let mut failed: BTreeSet<String> = BTreeSet::new();
    for v in views {
        if let Some(dep) = references(&v.sql).into_iter().find(|r| failed.contains(r)) {
            problems.push(
                v.path.display().to_string(),
                "",
                format!("depends on view {dep}, which failed"),
            );
            failed.insert(v.name.clone());
            continue;
        }
        let stmt = format!("CREATE OR REPLACE VIEW {} AS {}", v.name, v.sql);
        if let Err(e) = ctx.sql(&stmt).await {
            problems.push(v.path.display().to_string(), "", e.to_string());
            failed.insert(v.name.clone());
        }
    }
}
