//! `malgrupp sql`: query the lake.

use std::io::Write;

use crate::config::Settings;
use crate::error::{Error, Result};
use crate::lake::Lake;
use crate::query::{self, output};

/// Runs `sql` over the lake and writes the result. Broken views are reported on stderr
/// through the log but do not stop queries that do not use them.
pub async fn execute(
    settings: &Settings,
    sql: &str,
    format: output::OutputFormat,
    out: &mut dyn Write,
) -> Result<()> {
    let lake = Lake::new(&settings.lake_root);
    let (ctx, problems) = query::open(&lake, &settings.sql_dir, &settings.agreements_dir).await?;
    for p in &problems.0 {
        tracing::warn!(problem = %p, "view not available");
    }
    let batches = ctx.sql(sql).await?.collect().await.map_err(Error::Query)?;
    output::write(&batches, format, out)
}
