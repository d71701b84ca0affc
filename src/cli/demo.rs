//! `malgrupp demo`: the embedded default end to end — run every pipeline into the lake,
//! then print the kartläggning for every kommun and period found and write each
//! kommun-month's Bilaga 1 report (HTML) under `<lake>/reports/`.

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
        (
            "Andel av befolkningen 16–24 år (31 december året före)",
            "select kommun, period, matt, kon, antal, befolkning, round(andel * 100, 1) as procent from kartlaggning where alder = '16-24' and dimension = 'total' and kon = 'T' and befolkning is not null and matt in ('malgrupp_summa', 'malgrupp_unik', 'af_inskrivna', 'fs_mottagare', 'timanstallda') order by kommun, period, matt",
        ),
        (
            "Kolada",
            "select kommun, period, matt, kon, round(andel * 100, 1) as procent, status from kartlaggning where kalla = 'kolada' order by kommun, matt, period, kon",
        ),
        (
            "Målföljning",
            "select kommun, mal_id, period, varde, baslinje_varde, malvarde, kvar_till_mal, malperiod from malfoljning order by kommun, mal_id, period",
        ),
        (
            "Uppföljning: deltagare per insats",
            "select kommun, ar, insats, kon, deltagare from uppfoljning_deltagare where aldersklass = 'alla' and kon = 'T' order by kommun, ar, insats",
        ),
        (
            "Uppföljning: projektets faktaruta",
            "select * from uppfoljning_faktaruta order by kommun, insats, kon",
        ),
    ];
    for (title, sql) in sections {
        writeln!(out, "\n## {title}").map_err(io)?;
        match ctx.sql(sql).await {
            Ok(df) => {
                let schema = df.schema().inner().clone();
                let batches = df.collect().await.map_err(Error::Query)?;
                let rows = output::Rows {
                    name: title,
                    schema: &schema,
                    batches: &batches,
                };
                output::write(rows, output::Encoding::Table, out)?
            }
            Err(e) => writeln!(out, "(not available: {e})").map_err(io)?,
        }
    }
    // The Bilaga 1 report of every kommun-month, from the published (suppressed) views.
    let months = ctx
        .sql("select distinct kommun, period from kartlaggning where length(period) = 7 order by kommun, period")
        .await?
        .collect()
        .await?;
    let dir = settings.lake_root.join("reports");
    for b in &months {
        let kommun = crate::query::columns::texts(b.column(0))?;
        let period = crate::query::columns::texts(b.column(1))?;
        for (k, p) in kommun.iter().zip(&period) {
            let (Some(k), Some(p)) = (k, p) else { continue };
            let file = dir.join(format!("bilaga1_{k}_{p}.html"));
            match super::report::execute(settings, k, p, "html", Some(&file)).await {
                Ok(path) => writeln!(out, "\nReport: {} (open it in a browser)", path.display())
                    .map_err(io)?,
                Err(e) => writeln!(out, "\nReport {k} {p} not written: {e}").map_err(io)?,
            }
        }
    }
    writeln!(
        out,
        "\nEverything else: malgrupp sql \"select * from kartlaggning\""
    )
    .map_err(io)?;
    Ok(outcome.success())
}
