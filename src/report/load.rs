//! Filling a [`ReportInput`] from what has been published (`published::open_session`) —
//! never from the lake's tables — so the report carries exactly the suppression of the
//! published views:
//! the published `kartlaggning` for the kommun (all periods, for the lines over time),
//! the goal follow-up recomputed by the shipped `malfoljning` view over the *published*
//! counts (a suppressed count stays unknown there too), and the extracts behind the
//! kommun's figures from the manifest. [`build`] renders it: the one way `report` and
//! `serve` make a report.

use std::collections::BTreeSet;

use datafusion::arrow::array::{Array, BooleanArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::prelude::{DataFrame, SessionContext, col, lit};

use super::{Cell, GoalRow, ReportInput, SourceRow};
use crate::config::Settings;
use crate::error::{Error, Result};
use crate::lake::Lake;
use crate::lake::manifest::Manifest;
use crate::query::columns::{floats, ints, texts as text};

/// The report of `kommun` and `period` from the published views, rendered as `format`
/// (what `report` writes and `serve` answers).
pub async fn build(
    settings: &Settings,
    kommun: &str,
    period: &str,
    format: super::ReportFormat,
) -> Result<Vec<u8>> {
    let input = load(settings, kommun, period).await?;
    super::render(&input, format).map_err(|e| match e {
        super::ReportError::NoData { .. } => Error::NotFound(e.to_string()),
        // An unknown format is refused where the request is parsed, before this.
        other => Error::Internal(other.to_string()),
    })
}

/// The report input of `kommun` (4-digit code) and `period` from the published views.
pub async fn load(settings: &Settings, kommun: &str, period: &str) -> Result<ReportInput> {
    let Some(name) = crate::normalize::kommun::name(kommun) else {
        return Err(Error::usage(
            "command line",
            "--kommun",
            format!("'{kommun}' is not a kommun code (4 digits, e.g. 0880)"),
        ));
    };
    let lake = Lake::new(&settings.lake_root);
    // One generation for every view read here: a publish in between cannot mix sets.
    let opened = crate::published::open_session(
        &crate::publish::dir(&lake),
        crate::published::Session::local(),
    )
    .await;
    let (ctx, set) = match opened {
        Ok((ctx, set)) if set.views.iter().any(|v| v.name == "kartlaggning") => (ctx, set),
        _ => {
            return Err(Error::NotFound(format!(
                "{}: nothing is published yet: run `malgrupp run` first",
                crate::published::resolved(&lake).display()
            )));
        }
    };
    let mut rows = cells(&ctx, "kartlaggning", kommun).await?;
    // The programme follow-up, where it is published, is a section of its own.
    let followup = crate::publish::followup::NAME;
    if set.views.iter().any(|v| v.name == followup) {
        rows.extend(cells(&ctx, followup, kommun).await?);
    }
    let goals = goals(&ctx, settings, kommun).await?;
    Ok(ReportInput {
        kommun: kommun.to_string(),
        kommun_namn: name.to_string(),
        period: period.to_string(),
        suppress_below: settings.suppress_below,
        cells: rows,
        goals,
        sources: sources(&lake, kommun, period)?,
        generated_at: chrono::Utc::now()
            .with_timezone(&chrono_tz::Europe::Stockholm)
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, false),
    })
}

/// `columns` of the rows of `df` that are `kommun`'s.
async fn of_kommun(df: DataFrame, kommun: &str, columns: &[&str]) -> Result<Vec<RecordBatch>> {
    Ok(df
        .filter(col("kommun").eq(lit(kommun)))?
        .select_columns(columns)?
        .collect()
        .await?)
}

/// The published rows of `kommun` in `table` (a published long table).
async fn cells(ctx: &SessionContext, table: &str, kommun: &str) -> Result<Vec<Cell>> {
    let batches = of_kommun(
        ctx.table(table).await?,
        kommun,
        &[
            "period",
            "matt",
            "kon",
            "alder",
            "dimension",
            "kategori",
            "antal",
            "antal_skyddad",
            "status",
            "kalla",
            "befolkning",
            "andel",
        ],
    )
    .await?;
    let mut out = Vec::new();
    for b in &batches {
        let t = |i: usize| text(b.column(i));
        let (period, matt, kon, alder, dim, kat) = (t(0)?, t(1)?, t(2)?, t(3)?, t(4)?, t(5)?);
        let antal = ints(b.column(6))?;
        let skyddad = cast(b.column(7), &DataType::Boolean)?;
        let skyddad = skyddad
            .as_any()
            .downcast_ref::<BooleanArray>()
            .ok_or_else(|| Error::Internal("antal_skyddad is not boolean".into()))?;
        let (status, kalla) = (t(8)?, t(9)?);
        let befolkning = ints(b.column(10))?;
        let andel = floats(b.column(11))?;
        for i in 0..b.num_rows() {
            out.push(Cell {
                period: period[i].clone().unwrap_or_default(),
                matt: matt[i].clone().unwrap_or_default(),
                kon: kon[i].clone().unwrap_or_default(),
                alder: alder[i].clone().unwrap_or_default(),
                dimension: dim[i].clone().unwrap_or_default(),
                kategori: kat[i].clone().unwrap_or_default(),
                antal: antal[i],
                skyddad: skyddad.is_valid(i) && skyddad.value(i),
                status: status[i].clone().unwrap_or_default(),
                kalla: kalla[i].clone().unwrap_or_default(),
                befolkning: befolkning[i],
                andel: andel[i],
            });
        }
    }
    Ok(out)
}

/// The shipped `malfoljning` view, run over the published (suppressed) counts.
async fn goals(ctx: &SessionContext, settings: &Settings, kommun: &str) -> Result<Vec<GoalRow>> {
    let view = settings.sql_dir.join("malfoljning.sql");
    let Ok(sql) = std::fs::read_to_string(&view) else {
        return Ok(Vec::new());
    };
    let (agreements, problems) = crate::config::agreement::load(&settings.agreements_dir)?;
    if !problems.is_empty() {
        return Err(Error::Config(problems));
    }
    crate::query::register_goals(ctx, &agreements)?;
    ctx.sql("create view kartlaggning_antal as select kommun, period, matt, kon, alder, dimension, kategori, antal from kartlaggning")
        .await?;
    let batches = of_kommun(
        ctx.sql(&sql).await?,
        kommun,
        &[
            "mal_id",
            "beskrivning",
            "period",
            "matt",
            "kon",
            "alder",
            "varde",
            "baslinje",
            "baslinje_varde",
            "malperiod",
            "malvarde",
            "kvar_till_mal",
        ],
    )
    .await?;
    let mut out = Vec::new();
    for b in &batches {
        let t = |i: usize| text(b.column(i));
        let (id, desc, period, matt, kon, alder) = (t(0)?, t(1)?, t(2)?, t(3)?, t(4)?, t(5)?);
        let (varde, baslinje, baslinje_varde, malperiod) =
            (ints(b.column(6))?, t(7)?, ints(b.column(8))?, t(9)?);
        let (malvarde, kvar) = (floats(b.column(10))?, floats(b.column(11))?);
        for i in 0..b.num_rows() {
            let s = |v: &[Option<String>]| v[i].clone().unwrap_or_default();
            out.push(GoalRow {
                mal_id: s(&id),
                beskrivning: s(&desc),
                period: s(&period),
                matt: s(&matt),
                kon: s(&kon),
                alder: s(&alder),
                varde: varde[i],
                baslinje: s(&baslinje),
                baslinje_varde: baslinje_varde[i],
                malperiod: s(&malperiod),
                malvarde: malvarde[i],
                kvar_till_mal: kvar[i],
            });
        }
    }
    Ok(out)
}

/// The extracts currently published for the kommun in `period` (or its year), with the
/// start of the run that processed each.
fn sources(lake: &Lake, kommun: &str, period: &str) -> Result<Vec<SourceRow>> {
    let manifest = Manifest::load(lake.root())?;
    let year = period.get(..4).unwrap_or(period);
    let mut out = BTreeSet::new();
    for (pipeline, state) in &manifest.pipelines {
        for e in state.extracts.values() {
            let relevant = e.partitions.iter().any(|(k, p)| {
                k == kommun && (p == period || p == year || p.get(..4) == Some(year))
            });
            if !relevant {
                continue;
            }
            let run = manifest.runs.iter().rev().find(|r| r.run_id == e.run_id);
            out.insert(SourceRow {
                pipeline: pipeline.clone(),
                file: e.file.clone(),
                table_name: run
                    .and_then(|r| r.lineage.first().map(|l| l.table.clone()))
                    .unwrap_or_default(),
                // Swedish time to the second: what a reader of the footer expects.
                extracted_at: run
                    .and_then(|r| chrono::DateTime::parse_from_rfc3339(&r.started_at).ok())
                    .map(|t| {
                        t.with_timezone(&chrono_tz::Europe::Stockholm)
                            .to_rfc3339_opts(chrono::SecondsFormat::Secs, false)
                    })
                    .unwrap_or_default(),
            });
        }
    }
    Ok(out.into_iter().collect())
}
