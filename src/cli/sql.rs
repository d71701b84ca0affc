//! `malgrupp sql`: query the lake.

use std::io::Write;

use crate::config::Settings;
use crate::error::{Error, Result};
use crate::lake::Lake;
use crate::query::output::{self, Encoding, Rows};
use crate::query::{self};

/// The encodings `malgrupp sql` prints, in the order `--help` lists them.
pub const OFFERED: &[Encoding] = &[Encoding::Table, Encoding::Csv, Encoding::Json];

/// Runs `sql` over the lake and writes the result. Broken views are reported on stderr
/// through the log but do not stop queries that do not use them.
pub async fn execute(
    settings: &Settings,
    sql: &str,
    format: Encoding,
    out: &mut dyn Write,
) -> Result<()> {
    let format = format.offered_by("sql", OFFERED)?;
    let lake = Lake::new(&settings.lake_root);
    let (ctx, problems) = query::open(&lake, &settings.sql_dir, &settings.agreements_dir).await?;
    for p in &problems.0 {
        tracing::warn!(problem = %p, "view not available");
    }
    let df = ctx.sql(sql).await?;
    let schema = df.schema().inner().clone();
    let batches = df.collect().await.map_err(Error::Query)?;
    let rows = Rows {
        name: "result",
        schema: &schema,
        batches: &batches,
    };
    output::write(rows, format, out)?;
    if format == Encoding::Json {
        // A terminal's prompt belongs on a line of its own.
        writeln!(out).map_err(|e| Error::io("<stdout>", e))?;
    }
    Ok(())
}
