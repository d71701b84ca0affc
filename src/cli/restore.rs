//! `malgrupp restore [--if-empty]`: an empty lake rebuilt from its `[lake] delta` copy
//! (src/lake/mirror/restore.rs says what comes back and what does not). `--if-empty`
//! is for a host that starts without the lake's disk (a pod without a volume): a lake
//! that holds data, or a prefix nothing was committed to yet, is left as it is.
//! [`bring_in`] does the same without being asked for a lake whose root is on object
//! storage, whose local directory is a cache.

use std::io::Write;

use crate::config::Settings;
use crate::error::{Error, Result};
use crate::lake::Lake;
use crate::lake::mirror::restore::{self, Found};

/// Restores the lake; says what it did.
pub async fn execute(settings: &Settings, if_empty: bool, out: &mut dyn Write) -> Result<()> {
    let io = |e| Error::io("<stdout>", e);
    let Some(target) = &settings.lake_delta else {
        return Err(Error::usage(
            "restore",
            "[lake] delta",
            "not set: there is no copy of the lake to restore from",
        ));
    };
    let lake = Lake::new(&settings.lake_root);
    let shown = format!("{target:?}");
    let found = if if_empty {
        restore::restore_if_empty(&lake, target, std::env::vars()).await?
    } else {
        match restore::restore(&lake, target, std::env::vars()).await? {
            Some(restored) => Found::Restored(restored),
            None => {
                return Err(Error::usage(
                    "restore",
                    "[lake] delta",
                    format!(
                        "no lake committed to {shown} (it has no _meta/lake): nothing to restore from"
                    ),
                ));
            }
        }
    };
    let restored = match found {
        Found::Restored(restored) => restored,
        Found::LakeHoldsData => {
            writeln!(
                out,
                "the lake at {} holds data; nothing restored",
                lake.root().display()
            )
            .map_err(io)?;
            return Ok(());
        }
        Found::NothingCommitted => {
            writeln!(
                out,
                "no lake committed to {shown} yet; the lake starts empty"
            )
            .map_err(io)?;
            return Ok(());
        }
    };
    for (table, version, files) in &restored.tables {
        writeln!(out, "{table}: version {version}, {files} files").map_err(io)?;
    }
    writeln!(
        out,
        "restored {} to {} with {} runs of history",
        restored.tables.len(),
        lake.root().display(),
        restored.runs
    )
    .map_err(io)?;
    let next = if restored.processed == 0 {
        "the next run of each pipeline processes its extracts again".to_string()
    } else {
        format!(
            "{} quarantine files and what {} pipelines processed brought back: their next runs skip the extracts they had processed",
            restored.quarantine, restored.processed
        )
    };
    writeln!(out, "{next}; the next refresh publishes every view").map_err(io)?;
    Ok(())
}

/// With `[lake] root` on object storage: an empty cache (a new host, a pod without a
/// volume) is brought in from the store before a command works on it, once when several
/// processes start on it together (`restore::LOCK`); a cache holding data is worked on
/// as it is (what other hosts committed since is brought in at its
/// next refresh, src/lake/mirror/catch_up.rs).
pub async fn bring_in(settings: &Settings) -> Result<()> {
    let Some(store) = &settings.lake_store else {
        return Ok(());
    };
    let lake = Lake::new(&settings.lake_root);
    if !restore::is_empty(&lake)? {
        return Ok(());
    }
    match restore::restore_if_empty(&lake, store, std::env::vars()).await? {
        Found::Restored(restored) => tracing::info!(
            cache = %lake.root().display(),
            store = %store,
            tables = restored.tables.len(),
            runs = restored.runs,
            quarantine = restored.quarantine,
            processed = restored.processed,
            "the lake's cache was empty: brought in from its store"
        ),
        Found::NothingCommitted => {
            tracing::info!(store = %store, "nothing committed to the lake's store yet: the lake starts empty")
        }
        // Another process brought it in while this one waited for it.
        Found::LakeHoldsData => {}
    }
    Ok(())
}
