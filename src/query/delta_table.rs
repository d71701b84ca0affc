//! A Delta table (`src/lake/delta/`) registered for queries, as of a version or a
//! time: DataFusion's Parquet listing table over the table's prefix, with its scans
//! narrowed to the files of that one snapshot. Files of runs not committed, and files
//! later versions removed, are in the prefix but never read; a committed file missing
//! from the store is an error, not rows silently lost.

use std::collections::HashSet;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::datatypes::{DataType, SchemaRef};
use datafusion::catalog::Session;
use datafusion::common::Statistics;
use datafusion::datasource::TableProvider;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{
    ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
};
use datafusion::datasource::physical_plan::{FileGroup, FileScanConfig, FileScanConfigBuilder};
use datafusion::datasource::source::DataSourceExec;
use datafusion::execution::object_store::ObjectStoreUrl;
use datafusion::logical_expr::{Expr, TableProviderFilterPushDown, TableType};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::empty::EmptyExec;
use datafusion::prelude::SessionContext;
use futures::TryStreamExt;
use object_store::ObjectStore;
use object_store::local::LocalFileSystem;
use object_store::path::Path as StorePath;

use crate::error::{Error, Result};
use crate::lake::delta::{AsOf, DeltaTable};
use crate::lake::location::Location;

/// Registers the Delta table at `root` (a local path, `file://`, `s3://` or `az://`; the
/// store's settings from `env`) as `name`, read as of `as_of`. Returns the version read.
pub async fn register(
    ctx: &SessionContext,
    name: &str,
    root: &str,
    as_of: AsOf,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<u64> {
    let usage = |message: String| Error::usage("--delta", name, message);
    let (store, prefix, url): (Arc<dyn ObjectStore>, StorePath, String) =
        match Location::parse(root).map_err(usage)? {
            Location::Local(dir) => {
                let abs = std::fs::canonicalize(&dir).map_err(|e| Error::io(&dir, e))?;
                let prefix = StorePath::from_filesystem_path(&abs)
                    .map_err(|e| usage(format!("{}: {e}", abs.display())))?;
                (
                    Arc::new(LocalFileSystem::new()),
                    prefix,
                    format!("file:///{}", prefix_text(&abs)),
                )
            }
            Location::Object(object) => {
                let store = object.open(env).map_err(|e| Error::Store {
                    object: object.to_string(),
                    source: e,
                })?;
                let bucket =
                    ObjectStoreUrl::parse(format!("{}://{}", object.scheme_name(), object.bucket))?;
                ctx.register_object_store(bucket.as_ref(), store.clone());
                (store, object.path(""), object.to_string())
            }
        };
    let table = DeltaTable::new(store.clone(), prefix.clone(), url.clone());
    let snapshot = table.snapshot(as_of).await?;
    let committed: HashSet<StorePath> = snapshot
        .files
        .iter()
        .map(|f| table.location(f))
        .collect::<Result<_>>()?;
    // Every committed file must be there: a scan narrowed to what is listed would
    // otherwise drop a missing file's rows without a word.
    let present: HashSet<StorePath> = store
        .list(Some(&prefix))
        .map_ok(|meta| meta.location)
        .try_collect()
        .await
        .map_err(|e| Error::Store {
            object: url.clone(),
            source: e,
        })?;
    if let Some(missing) = committed.iter().find(|p| !present.contains(*p)) {
        return Err(Error::Table {
            table: url,
            message: format!(
                "version {} names {missing}, which is not in the store",
                snapshot.version
            ),
        });
    }
    let options = ListingOptions::new(Arc::new(ParquetFormat::default()))
        .with_file_extension(".parquet")
        .with_table_partition_cols(
            snapshot
                .partition_columns
                .iter()
                .map(|c| (c.clone(), DataType::Utf8))
                .collect(),
        );
    let listing = ListingTableUrl::parse(format!("{}/", url.trim_end_matches('/')))?;
    let schema = options.infer_schema(&ctx.state(), &listing).await?;
    let config = ListingTableConfig::new(listing)
        .with_listing_options(options)
        .with_schema(schema);
    ctx.register_table(
        name,
        Arc::new(Committed {
            inner: ListingTable::try_new(config)?,
            files: committed,
        }),
    )?;
    Ok(snapshot.version)
}

/// A path's text without its leading `/`, as `file:///` URLs take it.
fn prefix_text(abs: &std::path::Path) -> String {
    abs.display()
        .to_string()
        .trim_start_matches('/')
        .to_string()
}

/// A listing table whose scans read only the files of one snapshot.
#[derive(Debug)]
struct Committed {
    inner: ListingTable,
    files: HashSet<StorePath>,
}

#[async_trait]
impl TableProvider for Committed {
    fn schema(&self) -> SchemaRef {
        self.inner.schema()
    }

    fn table_type(&self) -> TableType {
        self.inner.table_type()
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> datafusion::error::Result<Vec<TableProviderFilterPushDown>> {
        self.inner.supports_filters_pushdown(filters)
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> datafusion::error::Result<Arc<dyn ExecutionPlan>> {
        let plan = self.inner.scan(state, projection, filters, limit).await?;
        if plan.is::<EmptyExec>() {
            // No files matched the filters: an empty scan has nothing to narrow.
            return Ok(plan);
        }
        // Any other plan would read files this snapshot does not have: refused rather
        // than passed on.
        let config = plan
            .downcast_ref::<DataSourceExec>()
            .and_then(|exec| exec.data_source().downcast_ref::<FileScanConfig>())
            .ok_or_else(|| {
                datafusion::error::DataFusionError::Internal(format!(
                    "a Delta table's scan is not a file scan: {}",
                    plan.name()
                ))
            })?;
        let groups = config
            .file_groups
            .iter()
            .map(|group| {
                FileGroup::new(
                    group
                        .iter()
                        .filter(|f| self.files.contains(&f.object_meta.location))
                        .cloned()
                        .collect(),
                )
            })
            .collect();
        // The listing's statistics counted the files left out.
        let schema = self.inner.schema();
        let narrowed = FileScanConfigBuilder::from(config.clone())
            .with_file_groups(groups)
            .with_statistics(Statistics::new_unknown(&schema))
            .build();
        Ok(DataSourceExec::from_data_source(narrowed))
    }
}
