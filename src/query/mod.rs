//! The query layer: one DataFusion `SessionContext` with every canonical table, the
//! quarantine, the run ledger and lineage, and every view of `sql/`.
//!
//! Tables are Parquet listing tables over the lake with Hive partitions, so a filter on
//! `kommun` or `period` prunes directories before any file is opened (a list of kommuner
//! is scanned kommun by kommun, `lake_table`). `check` builds the
//! same context over empty in-memory tables, so views are planned without touching data;
//! `sql --as-of` builds it over the lake's copy as of a moment (`lake_as_of`).

pub mod columns;
pub mod delta_table;
pub mod lake_as_of;
mod lake_table;
pub mod output;
pub mod views;

use std::sync::Arc;

use datafusion::arrow::array::ArrayRef;
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::datasource::MemTable;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{
    ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
};
use datafusion::prelude::{SessionConfig, SessionContext};

use crate::error::{Error, Problems, Result};
use crate::lake::Lake;
use crate::lake::atomic::create_dir_all_durable;
use crate::lake::manifest::Manifest;
use crate::normalize::schema::{self, TABLES};

/// A fresh session with the settings the product relies on.
pub fn new_session() -> SessionContext {
    SessionContext::new_with_config(session_config())
}

/// The settings every session of the product has.
fn session_config() -> SessionConfig {
    SessionConfig::new()
        .with_information_schema(true)
        .with_target_partitions(2)
}

/// Bytes of file listings a lake session keeps (DataFusion's default is 1 MiB).
///
/// DataFusion lists a table whole on its first query and answers later ones (a
/// partition prefix such as one kommun included) from that listing while it fits. A
/// national lake's listing is far larger than the default (a ten-year table has 34,800
/// partitions, some 7 MB of listing), so every chunk of a publish listed every table
/// again. A session lives for one command or one publish, and sees the lake as it was
/// when it first listed it.
const LAKE_LISTING_CACHE_BYTES: usize = 256 * 1024 * 1024;

/// [`new_session`] whose file listings are kept for the session's life
/// ([`LAKE_LISTING_CACHE_BYTES`]).
fn lake_session() -> Result<SessionContext> {
    use datafusion::execution::cache::cache_manager::CacheManagerConfig;
    use datafusion::execution::runtime_env::RuntimeEnvBuilder;
    let runtime = RuntimeEnvBuilder::new()
        .with_cache_manager(
            CacheManagerConfig::default().with_list_files_cache_limit(LAKE_LISTING_CACHE_BYTES),
        )
        .build_arc()?;
    Ok(SessionContext::new_with_config_rt(
        session_config(),
        runtime,
    ))
}

/// Registers the lake's tables and the run ledger, then creates the views. View
/// problems are returned, not raised, so one broken view does not hide the rest.
pub async fn open(
    lake: &Lake,
    sql_dir: &std::path::Path,
    agreements_dir: &std::path::Path,
) -> Result<(SessionContext, Problems)> {
    let ctx = lake_session()?;
    for t in TABLES {
        register_listing(
            &ctx,
            t.name,
            &lake.table_dir(t.name),
            t.file_schema(),
            schema::partition_columns(),
        )
        .await?;
    }
    register_listing(
        &ctx,
        "quarantine",
        &lake.quarantine_dir(),
        schema::quarantine_schema(),
        vec![Field::new("pipeline", DataType::Utf8, false)],
    )
    .await?;
    register_ledger(&ctx, &Manifest::load(lake.root())?)?;
    with_views(ctx, sql_dir, agreements_dir).await
}

/// [`open`] with the lake's tables and ledger as its copy at `copy` held them at
/// `moment` (`lake_as_of`); also returns the moment read.
pub async fn open_as_of(
    copy: &crate::lake::location::Location,
    moment: crate::lake::as_of::Moment,
    env: impl IntoIterator<Item = (String, String)>,
    sql_dir: &std::path::Path,
    agreements_dir: &std::path::Path,
) -> Result<(SessionContext, Problems, chrono::DateTime<chrono::Utc>)> {
    let ctx = lake_session()?;
    let at = lake_as_of::register(&ctx, copy, moment, env).await?;
    let (ctx, problems) = with_views(ctx, sql_dir, agreements_dir).await?;
    Ok((ctx, problems, at))
}

/// The goals and the views over the tables `ctx` holds. Views capture the tables they
/// read when created, so the tables are registered first.
async fn with_views(
    ctx: SessionContext,
    sql_dir: &std::path::Path,
    agreements_dir: &std::path::Path,
) -> Result<(SessionContext, Problems)> {
    let (goals, mut problems) = crate::config::agreement::load(agreements_dir)?;
    register_goals(&ctx, &goals)?;
    let (files, view_problems) = views::load(sql_dir)?;
    problems.0.extend(view_problems.0);
    views::create_all(&ctx, &files, &mut problems).await;
    Ok((ctx, problems))
}

/// The quarantine's columns as queried: the files' and the `pipeline` partition.
fn quarantine_table_schema() -> datafusion::arrow::datatypes::SchemaRef {
    let mut q: Vec<Field> = schema::quarantine_schema()
        .fields()
        .iter()
        .map(|f| f.as_ref().clone())
        .collect();
    q.push(Field::new("pipeline", DataType::Utf8, false));
    Arc::new(Schema::new(q))
}

/// The same tables, empty and in memory, with the views: what `check` plans against.
pub async fn open_empty(sql_dir: &std::path::Path) -> Result<(SessionContext, Problems)> {
    let ctx = new_session();
    for t in TABLES {
        ctx.register_table(
            t.name,
            Arc::new(MemTable::try_new(t.table_schema(), vec![vec![]])?),
        )?;
    }
    ctx.register_table(
        "quarantine",
        Arc::new(MemTable::try_new(quarantine_table_schema(), vec![vec![]])?),
    )?;
    register_ledger(&ctx, &Manifest::default())?;
    register_goals(&ctx, &[])?;
    let (files, mut problems) = views::load(sql_dir)?;
    views::create_all(&ctx, &files, &mut problems).await;
    Ok((ctx, problems))
}

async fn register_listing(
    ctx: &SessionContext,
    name: &str,
    dir: &std::path::Path,
    file_schema: datafusion::arrow::datatypes::SchemaRef,
    partitions: Vec<Field>,
) -> Result<()> {
    create_dir_all_durable(dir)?;
    let abs = std::fs::canonicalize(dir).map_err(|e| Error::io(dir, e))?;
    let url = ListingTableUrl::parse(format!("{}/", abs.display()))?;
    let options = ListingOptions::new(Arc::new(ParquetFormat::default()))
        .with_file_extension(".parquet")
        .with_table_partition_cols(
            partitions
                .iter()
                .map(|f| (f.name().clone(), f.data_type().clone()))
                .collect(),
        );
    let config = ListingTableConfig::new(url)
        .with_listing_options(options)
        .with_schema(file_schema);
    ctx.register_table(
        name,
        Arc::new(lake_table::LakeTable::new(ListingTable::try_new(config)?)),
    )?;
    Ok(())
}

/// `runs` (one row per pipeline run) and `lineage` (one row per extract and partition).
fn register_ledger(ctx: &SessionContext, manifest: &Manifest) -> Result<()> {
    for (name, batch) in crate::lake::ledger::tables(manifest)? {
        ctx.register_table(
            name,
            Arc::new(MemTable::try_new(batch.schema(), vec![vec![batch]])?),
        )?;
    }
    Ok(())
}

/// `mal`: the goals of the local agreements (`agreements/*.toml`), one row per goal.
pub(crate) fn register_goals(
    ctx: &SessionContext,
    goals: &[crate::config::agreement::Goal],
) -> Result<()> {
    let s = |n: &str| Field::new(n, DataType::Utf8, false);
    let schema = Arc::new(Schema::new(vec![
        s("kommun"),
        s("avtal"),
        s("mal_id"),
        s("beskrivning"),
        s("matt"),
        s("kon"),
        s("alder"),
        s("baslinje"),
        s("malperiod"),
        Field::new("faktor", DataType::Float64, false),
    ]));
    let text = |f: &dyn Fn(&crate::config::agreement::Goal) -> &str| -> ArrayRef {
        Arc::new(
            goals
                .iter()
                .map(|g| Some(f(g)))
                .collect::<datafusion::arrow::array::StringArray>(),
        )
    };
    let cols: Vec<ArrayRef> = vec![
        text(&|g| &g.kommun),
        text(&|g| &g.avtal),
        text(&|g| &g.id),
        text(&|g| &g.beskrivning),
        text(&|g| &g.matt),
        text(&|g| &g.kon),
        text(&|g| &g.alder),
        text(&|g| &g.baslinje),
        text(&|g| &g.malperiod),
        Arc::new(
            goals
                .iter()
                .map(|g| Some(g.faktor))
                .collect::<datafusion::arrow::array::Float64Array>(),
        ),
    ];
    let batch = RecordBatch::try_new(schema.clone(), cols)?;
    ctx.register_table(
        "mal",
        Arc::new(MemTable::try_new(schema, vec![vec![batch]])?),
    )?;
    Ok(())
}
