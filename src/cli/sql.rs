//! `malgrupp sql`: query the lake.

use std::io::Write;

use crate::config::Settings;
use crate::error::{Error, Problems, Result};
use crate::lake::Lake;
use crate::lake::as_of::Moment;
use crate::lake::delta::AsOf;
use crate::query::output::{self, Encoding, Rows};
use crate::query::{self, delta_table};

/// The encodings `malgrupp sql` prints, in the order `--help` lists them.
pub const OFFERED: &[Encoding] = &[Encoding::Table, Encoding::Csv, Encoding::Json];

/// Tables queried beside the lake's: `--delta NAME=ROOT`, read `--as-of`.
#[derive(Debug, Default)]
pub struct Extra<'a> {
    /// `NAME=ROOT` each.
    pub delta: Vec<String>,
    /// A version, an RFC 3339 time or a date; `None`: the newest.
    pub as_of: Option<&'a str>,
}

/// Runs `sql` over the lake (and the `extra` tables) and writes the result. Broken views
/// are reported on stderr through the log but do not stop queries that do not use them.
pub async fn execute(
    settings: &Settings,
    sql: &str,
    format: Encoding,
    extra: &Extra<'_>,
    out: &mut dyn Write,
) -> Result<()> {
    let format = format.offered_by("sql", OFFERED)?;
    let as_of = lake_as_of(settings, extra);
    let read_as_of = as_of.is_some();
    let (ctx, problems) = match as_of {
        Some((copy, moment)) => {
            let (ctx, problems, at) = query::open_as_of(
                copy,
                moment,
                std::env::vars(),
                &settings.sql_dir,
                &settings.agreements_dir,
            )
            .await?;
            tracing::info!(copy = %copy, %at, "the lake's tables read from its copy as of");
            (ctx, problems)
        }
        None => {
            let lake = Lake::new(&settings.lake_root);
            query::open(&lake, &settings.sql_dir, &settings.agreements_dir).await?
        }
    };
    for p in &problems.0 {
        tracing::warn!(problem = %p, "view not available");
    }
    register_delta(&ctx, extra, read_as_of).await?;
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

/// Whether the lake's own tables are read from its copy, and as of which moment: with
/// `--as-of` a time, a date or a run id, when the lake has a copy (`[lake] delta`). A
/// version number names one table's version, so with `--delta` it applies to those
/// tables alone (the lake's are read as they are now); without, it is refused.
fn lake_as_of<'s>(
    settings: &'s Settings,
    extra: &Extra<'_>,
) -> Option<(&'s crate::lake::location::Location, Moment)> {
    let (Some(copy), Some(text)) = (&settings.lake_delta, extra.as_of) else {
        return None;
    };
    match crate::lake::as_of::moment(text) {
        // Malformed: reported with the other arguments' problems.
        Err(_) => None,
        Ok(Moment::At(AsOf::Version(_))) if !extra.delta.is_empty() => None,
        Ok(moment) => Some((copy, moment)),
    }
}

/// Registers the `--delta` tables, each as of `--as-of`; every malformed argument is
/// reported together before any store is asked.
async fn register_delta(
    ctx: &datafusion::prelude::SessionContext,
    extra: &Extra<'_>,
    lake_read_as_of: bool,
) -> Result<()> {
    let mut problems = Problems::default();
    let as_of = match extra.as_of.map(crate::lake::as_of::moment) {
        None => Moment::At(AsOf::Newest),
        Some(Ok(m)) => m,
        Some(Err(e)) => {
            problems.push("--as-of", "", e);
            Moment::At(AsOf::Newest)
        }
    };
    if extra.as_of.is_some() && extra.delta.is_empty() && !lake_read_as_of {
        // The local lake keeps its newest files only: silently reading today's rows
        // would answer a question about the past with the present.
        problems.push(
            "--as-of",
            "",
            "the lake keeps its history in its copy only (`[lake] delta`), which this lake has not; without it --as-of applies to --delta tables",
        );
    }
    let mut tables = Vec::new();
    for arg in &extra.delta {
        match arg.split_once('=') {
            Some((name, root)) if !name.is_empty() && !root.is_empty() => {
                // SQL folds unquoted names to lower case: `Kaa` is queried as `kaa`.
                let plain = name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                    && !name.starts_with(|c: char| c.is_ascii_digit());
                if !plain {
                    problems.push(
                        "--delta",
                        name,
                        "a table name is letters a–z, digits and _, not beginning with a digit",
                    );
                    continue;
                }
                let name = name.to_ascii_lowercase();
                if ctx.table_exist(name.as_str()).unwrap_or(true)
                    || tables.iter().any(|(n, _)| n == &name)
                {
                    problems.push(
                        "--delta",
                        &name,
                        "a table or view of this name exists already; pick another",
                    );
                }
                tables.push((name, root));
            }
            _ => problems.push(
                "--delta",
                "",
                "expected NAME=ROOT, e.g. kaa=s3://bucket/lake/kaa",
            ),
        }
    }
    problems.into_usage(())?;
    let mut runs = delta_table::RunMoments::new();
    for (name, root) in tables {
        let version =
            delta_table::register(ctx, &name, root, as_of.clone(), &mut runs, std::env::vars())
                .await?;
        tracing::info!(table = name, version, "Delta table registered");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn malformed_delta_arguments_are_reported_together_before_any_store_is_asked() {
        let ctx = datafusion::prelude::SessionContext::new();
        let extra = Extra {
            delta: vec![
                "kaa".into(),
                "x=s3://b/x".into(),
                "X=s3://b/y".into(),
                "lake.kaa=s3://b/z".into(),
            ],
            as_of: Some("10 juni"),
        };
        let e = register_delta(&ctx, &extra, false)
            .await
            .expect_err("refused")
            .to_string();
        for expected in [
            "expected NAME=ROOT",
            "--delta: x: a table or view of this name exists already",
            "expected a version",
            "--delta: lake.kaa: a table name is letters",
        ] {
            assert!(e.contains(expected), "{expected}: {e}");
        }
        let alone = Extra {
            delta: vec![],
            as_of: Some("2026-06-10"),
        };
        let e = register_delta(&ctx, &alone, false)
            .await
            .expect_err("refused")
            .to_string();
        assert!(e.contains("copy only (`[lake] delta`)"), "{e}");
        register_delta(&ctx, &Extra::default(), false)
            .await
            .expect("nothing to do");
    }
}
