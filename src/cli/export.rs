//! `malgrupp export VIEW`: a published view (suppression applied) to a file, filtered by
//! kommun and period: CSV, Excel (typed numeric cells, Swedish headers), Parquet or JSON.
//!
//! Exports read the published folder only (`published::open_session`), so nothing leaves
//! unsuppressed; the bytes are the encodings of `query::output`.

use std::path::Path;

use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::TableReference;
use datafusion::prelude::{col, lit};

use crate::config::Settings;
use crate::error::{Error, Result};
use crate::lake::{Lake, atomic};
use crate::publish::generation;
use crate::published::{self, Session};
use crate::query::output::{self, Encoding, Rows};

/// Export file format: the one result encoding, of which `export` offers [`OFFERED`].
pub use crate::query::output::Encoding as ExportFormat;

/// The encodings `export` writes, in the order `--help` lists them.
pub const OFFERED: &[Encoding] = &[
    Encoding::Csv,
    Encoding::Xlsx,
    Encoding::Parquet,
    Encoding::Json,
];

/// Exports `view`, optionally filtered, to `out`, as published now or `as_of` a time or
/// date; returns the number of rows.
pub async fn execute(
    settings: &Settings,
    view: &str,
    kommun: Option<&str>,
    period: Option<&str>,
    format: Encoding,
    out: &Path,
    as_of: Option<&str>,
) -> Result<usize> {
    let format = format.offered_by("export", OFFERED)?;
    let lake = Lake::new(&settings.lake_root);
    let dir = match as_of {
        None => crate::publish::dir(&lake),
        Some(text) => {
            let at =
                crate::lake::as_of::time(text).map_err(|e| Error::usage("export", "--as-of", e))?;
            generation::as_of(&lake, at)?.ok_or_else(|| {
                Error::usage(
                    "export",
                    "--as-of",
                    format!(
                        "nothing published as of {at} is kept (replaced sets are kept for [publish] keep_days = {} days)",
                        settings.published_keep_days
                    ),
                )
            })?
        }
    };
    // Nothing published yet reads as no views, so the message below says what to do.
    let (ctx, names) = match published::open_session(&dir, Session::local()).await {
        Ok((ctx, set)) => (Some(ctx), set.names()),
        Err(_) => (None, Vec::new()),
    };
    let Some(ctx) = ctx.filter(|_| names.iter().any(|n| n == view)) else {
        return Err(Error::usage(
            "export",
            "VIEW",
            format!(
                "'{view}' is not a published view (published: {}; run `malgrupp run` first)",
                if names.is_empty() {
                    "none".into()
                } else {
                    names.join(", ")
                }
            ),
        ));
    };
    let mut df = ctx.table(TableReference::bare(view)).await?;
    for (column, value) in [("kommun", kommun), ("period", period)] {
        if let Some(v) = value {
            df = df.filter(col(column).eq(lit(v)))?;
        }
    }
    let schema = df.schema().inner().clone();
    let batches = df.collect().await?;
    let rows = batches.iter().map(RecordBatch::num_rows).sum();
    let bytes = output::encode(
        Rows {
            name: view,
            schema: &schema,
            batches: &batches,
        },
        format,
    )?;
    atomic::write(out, &bytes)?;
    Ok(rows)
}
