//! `malgrupp demo`: the embedded default end to end — run every pipeline into the lake,
//! then print the kartläggning for every kommun and period found.

use std::io::Write;

use crate::config::Settings;
use crate::error::{Error, Result};
use crate::lake::Lake;
use crate::query::{self, output};

/// Runs everything and prints the report. Returns whether every run succeeded.
pub async fn execute(settings: &Settings, out: &mut dyn Write) -> Result<bool> {
    let outcome = super::run::execute(settings, &[], out).await?;
    let lake = Lake::new(&settings.lake_root);
    let (ctx, _) = query::open(&lake, &settings.sql_dir, &settings.agreements_dir).await?;
    let io = |e| Error::io("<stdout>", e);
    let sections = [
        (
            "Målgruppens storlek",
            "select kommun, period, matt, alder, kvinnor, man, totalt from kartlaggning_kon where matt like 'malgrupp%' order by kommun, period, matt, alder",
        ),
        (
            "KAA",
            "select kommun, period, matt, dimension, kategori, kvinnor, man, totalt from kartlaggning_kon where matt like 'kaa%' and alder = '16-20' order by kommun, period, matt, dimension, kategori",
        ),
        (
            "Försörjningsstöd under 25 år, orsak",
            "select * from bilaga1_fs_orsak order by kommun, period, ordning",
        ),
        (
            "Arbetsförmedlingen, inskrivna",
            "select kommun, period, matt, alder, dimension, kategori, kvinnor, man, totalt from kartlaggning_kon where matt like 'af%' order by kommun, period, matt, alder, dimension, kategori",
        ),
        (
            "Timanställda 16–24 år",
            "select kommun, period, dimension, kategori, kvinnor, man, totalt from kartlaggning_kon where matt = 'timanstallda' and alder = '16-24' order by kommun, period, dimension, kategori",
        ),
    ];
    for (title, sql) in sections {
        writeln!(out, "\n## {title}").map_err(io)?;
        match ctx.sql(sql).await {
            Ok(df) => output::write(
                &df.collect().await.map_err(Error::Query)?,
                output::OutputFormat::Table,
                out,
            )?,
            Err(e) => writeln!(out, "(not available: {e})").map_err(io)?,
        }
    }
    writeln!(
        out,
        "\nEverything else: malgrupp sql \"select * from kartlaggning\""
    )
    .map_err(io)?;
    Ok(outcome.success())
}
