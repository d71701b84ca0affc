//! Reading the published views: the one way anything outside the publish step opens
//! `<lake>/published/` — the HTTP API (`serve`), the PostgreSQL endpoint (`pgwire`),
//! `export` and `report`.
//!
//! [`open`] resolves the folder to one generation (the publish step swaps a link, so a
//! reader of several files never mixes two sets) and lists its views; [`Set::register`]
//! makes them the tables of a session built by [`Session`], which carries the safety
//! options. [`guard`] says what SQL a client may run, [`QueryLimits`] what it may cost,
//! and [`bounded`] keeps functions that grow their input within the memory pool.
//!
//! What is transport-specific stays with the transport: status codes, timeouts around a
//! request and paging in `serve`; SQLSTATEs, the catalog emulation and limits inside the
//! plan in `pgwire`.

pub(crate) mod bounded;
pub(crate) mod guard;
mod limits;
mod session;

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use datafusion::common::TableReference;
use datafusion::prelude::{ParquetReadOptions, SessionContext};

pub(crate) use limits::LimitExceeded;
pub use limits::QueryLimits;
pub(crate) use session::query_runtime;
pub use session::{Session, runtime};

use crate::error::{Error, Result};
use crate::lake::Lake;

/// The published folder of `lake` resolved to its current generation (the folder itself
/// before the first generation): where a reader takes every file from.
pub fn resolved(lake: &Lake) -> PathBuf {
    crate::publish::generation::current(lake).unwrap_or_else(|| crate::publish::dir(lake))
}

/// One published view: a `<name>.parquet` file of the resolved folder, or a `<name>/`
/// directory of one `.parquet` file per period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct View {
    /// The view's name, the file's stem: lowercase letters, digits and `_`.
    pub name: String,
    /// Absolute path of the file or directory.
    pub path: PathBuf,
    /// When the file (the newest file of a directory) was last replaced, if the file
    /// system says.
    pub modified: Option<SystemTime>,
    /// The file's length in bytes (a directory's: its files' together).
    pub len: u64,
}

/// The views of one generation of the published folder, sorted by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Set {
    /// The folder the views were listed in, resolved to its generation.
    pub dir: PathBuf,
    /// The views, sorted by name.
    pub views: Vec<View>,
}

impl Set {
    /// The views' names, sorted.
    pub fn names(&self) -> Vec<String> {
        self.views.iter().map(|v| v.name.clone()).collect()
    }

    /// Registers every view in `ctx` as a table of its name; returns the names
    /// registered. A file that cannot be registered is logged and left out, so one
    /// unreadable file does not take the other views offline.
    pub async fn register(&self, ctx: &SessionContext) -> Vec<String> {
        let mut names = Vec::new();
        for view in &self.views {
            let Some(path) = view.path.to_str() else {
                continue;
            };
            // A directory is read as one table of all its files.
            let url = if view.path.is_dir() {
                format!("{path}/")
            } else {
                path.to_string()
            };
            // `bare`: a name is one identifier, never parsed as `schema.table`.
            match ctx
                .register_parquet(
                    TableReference::bare(view.name.clone()),
                    &url,
                    ParquetReadOptions::default(),
                )
                .await
            {
                Ok(()) => names.push(view.name.clone()),
                Err(e) => tracing::warn!(view = %view.name, error = %e, "published file skipped"),
            }
        }
        names
    }
}

/// Opens the published folder `dir` (`publish::dir`): resolves it to the generation it
/// names now and lists every `<name>.parquet` in it. The one function that reads the
/// published folder for a reader. A directory `<name>/` with `.parquet` files is a view
/// split by period.
///
/// Names are limited to lowercase letters, digits and `_` (what SQL reaches without
/// quoting); temporary files of the atomic writer start with `.` and are skipped. Fails
/// when the folder cannot be read (nothing published yet, or a broken disk).
pub async fn open(dir: &Path) -> Result<Set> {
    let abs = tokio::fs::canonicalize(dir)
        .await
        .map_err(|e| Error::io(dir, e))?;
    let mut entries = tokio::fs::read_dir(&abs)
        .await
        .map_err(|e| Error::io(&abs, e))?;
    let mut views = Vec::new();
    while let Some(entry) = entries.next_entry().await.map_err(|e| Error::io(&abs, e))? {
        let path = entry.path();
        let Some(file) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        let Ok(meta) = entry.metadata().await else {
            continue;
        };
        // A view is `<name>.parquet`, or `<name>/` holding one `.parquet` per period.
        let stem = if meta.is_dir() {
            Some(file)
        } else {
            file.strip_suffix(".parquet")
        };
        let Some(stem) = stem else {
            continue;
        };
        if !is_view_name(stem) {
            if !file.starts_with('.') {
                tracing::warn!(
                    file,
                    "published file skipped: name is not a plain identifier"
                );
            }
            continue;
        }
        let (modified, len) = if meta.is_dir() {
            match period_files(&path).await {
                Some(summary) => summary,
                None => continue,
            }
        } else if meta.is_file() {
            (meta.modified().ok(), meta.len())
        } else {
            continue;
        };
        views.push(View {
            name: stem.to_string(),
            path,
            modified,
            len,
        });
    }
    views.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(Set { dir: abs, views })
}

/// The newest modification time and the total length of the `.parquet` files of a
/// view's directory; None when it holds none (not a view).
async fn period_files(dir: &Path) -> Option<(Option<SystemTime>, u64)> {
    let mut entries = tokio::fs::read_dir(dir).await.ok()?;
    let (mut newest, mut len, mut any) = (None, 0, false);
    while let Ok(Some(entry)) = entries.next_entry().await {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.') || !name.ends_with(".parquet") {
            continue;
        }
        let Ok(meta) = entry.metadata().await else {
            continue;
        };
        any = true;
        len += meta.len();
        newest = newest.max(meta.modified().ok());
    }
    any.then_some((newest, len))
}

/// A session built as `session` says with every published view of `dir` registered,
/// and the names registered: what one request of the HTTP API, `export` and `report`
/// query in.
pub async fn open_session(dir: &Path, session: Session<'_>) -> Result<(SessionContext, Set)> {
    // Built before the folder is read: a session is not sent across an await.
    let ctx = session.build()?;
    let mut set = open(dir).await?;
    let registered = set.register(&ctx).await;
    set.views.retain(|v| registered.contains(&v.name));
    Ok((ctx, set))
}

/// Whether `name` can be a published view's name: one SQL identifier without quoting.
pub fn is_view_name(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}
