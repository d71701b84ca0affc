//! The lake's own tables as they were at a moment, read from the lake's copy
//! (`[lake] delta`, src/lake/mirror/): `malgrupp sql --as-of <time|date|run id>`.
//!
//! The local lake keeps only its newest files; the copy keeps every version for
//! `[lake] delta_keep_days`. Each canonical table and the ledger (`runs`, `lineage`) is
//! read as of one moment (a run: the moment the copy's ledger first held it, when every
//! table held its rows), so the views computed over them are the figures as they stood
//! then. A table the copy did not have yet at that moment is empty. The quarantine is
//! not kept in the copy: querying it as of a moment is refused rather than answered
//! with today's rows.

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::Session;
use datafusion::datasource::{MemTable, TableProvider};
use datafusion::error::DataFusionError;
use datafusion::logical_expr::{Expr, TableType};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::prelude::SessionContext;

use super::delta_table::checked;
use crate::error::{Error, Result};
use crate::lake::as_of::Moment;
use crate::lake::delta::{AsOf, DeltaTable};
use crate::lake::location::{Location, Opened};
use crate::lake::manifest::Manifest;
use crate::lake::mirror::runs;
use crate::normalize::schema::TABLES;

/// Registers the canonical tables, `runs` and `lineage` as the copy at `copy` (store
/// settings from `env`) held them at `moment`, and the quarantine as refused. Returns
/// the moment read.
pub async fn register(
    ctx: &SessionContext,
    copy: &Location,
    moment: Moment,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<chrono::DateTime<chrono::Utc>> {
    let Opened {
        store,
        root,
        shown,
        url,
    } = copy.open_store(env)?;
    if let Location::Object(_) = copy {
        ctx.register_object_store(url.as_ref(), store.clone());
    }
    let table = |name: &str| {
        DeltaTable::new(
            store.clone(),
            root.clone().join(name),
            format!("{shown}/{name}"),
        )
    };
    let ledger = table(runs::LEDGER);
    let at = match moment {
        Moment::Run(run) => runs::first_held(&ledger, &run).await?,
        Moment::At(AsOf::Time(t)) => t,
        Moment::At(AsOf::Newest) => chrono::Utc::now(),
        Moment::At(AsOf::Version(_)) => {
            return Err(Error::usage(
                "--as-of",
                "",
                "a version number names a version of one table; the lake's tables are read as of a time, a date or a run id",
            ));
        }
    };
    let Some(mut runs_then) = ledger.snapshot_if_existed(at).await?.map(Some) else {
        return Err(Error::usage(
            "--as-of",
            "",
            format!("the lake's copy at {shown} holds no run committed by {at}"),
        ));
    };
    let empty_ledger = crate::lake::ledger::tables(&Manifest::default())?;
    let schemas = TABLES
        .iter()
        .map(|t| (t.name, t.table_schema()))
        .chain(empty_ledger.iter().map(|(n, b)| (*n, b.schema())));
    for (name, schema) in schemas {
        let table = table(name);
        // The ledger's snapshot was read above.
        let snapshot = match runs_then.take_if(|_| name == runs::LEDGER) {
            Some(snapshot) => Some(snapshot),
            None => table.snapshot_if_existed(at).await?,
        };
        let provider: Arc<dyn TableProvider> = match snapshot {
            Some(snapshot) => {
                checked(
                    &table,
                    &store,
                    &root.clone().join(name),
                    snapshot,
                    url.clone(),
                )
                .await?
            }
            None => Arc::new(MemTable::try_new(schema, vec![vec![]])?),
        };
        ctx.register_table(name, provider)?;
    }
    ctx.register_table(
        "quarantine",
        Arc::new(NotKept {
            schema: super::quarantine_table_schema(),
        }),
    )?;
    Ok(at)
}

/// The quarantine when the lake is read as of a moment: its columns, for planning, and
/// an error for any scan.
#[derive(Debug)]
struct NotKept {
    schema: SchemaRef,
}

#[async_trait]
impl TableProvider for NotKept {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    async fn scan(
        &self,
        _state: &dyn Session,
        _projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        _limit: Option<usize>,
    ) -> datafusion::error::Result<Arc<dyn ExecutionPlan>> {
        Err(DataFusionError::Plan(
            "the quarantine is not kept in the lake's copy, so it cannot be read as of a moment; query it without --as-of".into(),
        ))
    }
}
