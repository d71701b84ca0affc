//! A Delta table (`src/lake/delta/`) registered for queries, as of a version or a
//! time: a Parquet scan of exactly the files of that one snapshot, each with the
//! partition values its `add` action names. Nothing is inferred from paths or from
//! listing: files of runs not committed and files later versions removed are never
//! read, files outside `column=value` directories (random prefixes, column mapping) are,
//! and a committed file missing from the store is an error, not rows silently lost.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::array::{Array, RecordBatch, RecordBatchOptions};
use datafusion::arrow::datatypes::{FieldRef, Schema, SchemaRef};
use datafusion::catalog::Session;
use datafusion::common::{DFSchema, ScalarValue};
use datafusion::datasource::TableProvider;
use datafusion::datasource::file_format::FileFormat;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::PartitionedFile;
use datafusion::datasource::listing::helpers::expr_applicable_for_cols;
use datafusion::datasource::physical_plan::parquet::ParquetRowSelection;
use datafusion::datasource::physical_plan::{FileGroup, FileScanConfigBuilder};
use datafusion::datasource::table_schema::TableSchema;
use datafusion::error::DataFusionError;
use datafusion::execution::object_store::ObjectStoreUrl;
use datafusion::logical_expr::{Expr, TableProviderFilterPushDown, TableType};
use datafusion::parquet::arrow::arrow_reader::{RowSelection, RowSelector};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_expr::expressions::Column;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::empty::EmptyExec;
use datafusion::physical_plan::projection::ProjectionExec;
use datafusion::prelude::SessionContext;
use futures::TryStreamExt;
use object_store::path::Path as StorePath;
use object_store::{ObjectMeta, ObjectStore};

use crate::error::{Error, Result};
use crate::lake::as_of::Moment;
use crate::lake::delta::{AsOf, DeltaTable, Snapshot};
use crate::lake::location::{Location, Opened};

/// When each run ledger (by its location) first held the run asked for: tables of one
/// prefix share their ledger, which is read once for all of them.
pub type RunMoments = HashMap<String, chrono::DateTime<chrono::Utc>>;

/// Registers the Delta table at `root` (a local path, `file://`, `s3://` or `az://`; the
/// store's settings from `env`) as `name`, read as of `as_of` (a run: as of the moment
/// the run ledger beside it first held the run, looked up in `runs` first and kept
/// there). Returns the version read.
pub async fn register(
    ctx: &SessionContext,
    name: &str,
    root: &str,
    as_of: Moment,
    runs: &mut RunMoments,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<u64> {
    let location = Location::parse(root).map_err(|e| Error::usage("--delta", name, e))?;
    let Opened {
        store,
        root: prefix,
        shown: url,
        url: store_url,
    } = location.open_store(env)?;
    if let Location::Object(_) = location {
        ctx.register_object_store(store_url.as_ref(), store.clone());
    }
    let table = DeltaTable::new(store.clone(), prefix.clone(), url.clone());
    let as_of = match as_of {
        Moment::At(as_of) => as_of,
        Moment::Run(run) => {
            let ledger = table
                .sibling(crate::lake::mirror::runs::LEDGER)
                .map(|l| l.shown().to_string())
                .unwrap_or_default();
            let at = match runs.get(&ledger) {
                Some(at) => *at,
                None => crate::lake::mirror::runs::committed_at(&table, &run).await?,
            };
            runs.insert(ledger, at);
            AsOf::Time(at)
        }
    };
    let snapshot = table.snapshot(as_of).await?;
    let version = snapshot.version;
    let provider = checked(&table, &store, &prefix, snapshot, store_url).await?;
    ctx.register_table(name, provider)?;
    Ok(version)
}

/// The table of `snapshot` of `table` (at `prefix` in `store`, which a session reaches
/// at `store_url`). Every committed file must be there: the prefix is listed once up
/// front, so a missing file is named before any query rather than failing one scan.
pub(super) async fn checked(
    table: &DeltaTable,
    store: &Arc<dyn ObjectStore>,
    prefix: &StorePath,
    snapshot: Snapshot,
    store_url: ObjectStoreUrl,
) -> Result<Arc<dyn TableProvider>> {
    let present: HashSet<StorePath> = store
        .list(Some(prefix))
        .map_ok(|meta| meta.location)
        .try_collect()
        .await
        .map_err(|e| Error::Store {
            object: table.shown().to_string(),
            source: e,
        })?;
    let version = snapshot.version;
    let provider = SnapshotTable::new(table, snapshot, store_url, |location| {
        if present.contains(location) {
            Ok(())
        } else {
            Err(Error::Table {
                table: table.shown().to_string(),
                message: format!("version {version} names {location}, which is not in the store"),
            })
        }
    })?;
    Ok(Arc::new(provider))
}

/// The files of one snapshot as a table: the columns of the files, then the partition
/// columns, by the names the table's schema gives them.
#[derive(Debug)]
struct SnapshotTable {
    schema: SchemaRef,
    /// The files' columns by the names in the files (physical names under column mapping).
    file_schema: SchemaRef,
    partitions: Vec<FieldRef>,
    /// Physical name → the table's name, for the columns column mapping renames.
    renamed: HashMap<String, String>,
    files: Vec<(PartitionedFile, Option<Deletion>)>,
    store: ObjectStoreUrl,
    table: DeltaTable,
}

/// A file's deletion vector, loaded when a scan reads the file.
#[derive(Debug, Clone)]
struct Deletion {
    /// The file as the log names it.
    file: String,
    /// The log's `deletionVector`.
    vector: serde_json::Value,
    /// The rows the log says the file holds (`numRecords`).
    rows: u64,
}

impl SnapshotTable {
    /// The table of `snapshot`; `check` vets each file's location in the store.
    fn new(
        table: &DeltaTable,
        snapshot: Snapshot,
        store: ObjectStoreUrl,
        check: impl Fn(&StorePath) -> Result<()>,
    ) -> Result<Self> {
        let columns = snapshot.columns;
        let file_schema = Arc::new(Schema::new(
            columns
                .data
                .iter()
                .map(|(field, physical)| field.as_ref().clone().with_name(physical))
                .collect::<Vec<_>>(),
        ));
        let partitions: Vec<FieldRef> = columns.partitions.iter().map(|(f, _)| f.clone()).collect();
        let schema = Arc::new(Schema::new(
            columns
                .data
                .iter()
                .chain(&columns.partitions)
                .map(|(f, _)| f.clone())
                .collect::<Vec<_>>(),
        ));
        let renamed = columns
            .data
            .iter()
            .filter(|(f, physical)| f.name() != physical)
            .map(|(f, physical)| (physical.clone(), f.name().clone()))
            .collect();
        let mut files = Vec::with_capacity(snapshot.files.len());
        for file in snapshot.files {
            let location = table.location(&file)?;
            check(&location)?;
            let values = columns
                .partitions
                .iter()
                .map(|(field, key)| {
                    let value = file.partition.get(key).cloned().flatten();
                    let typed = match value {
                        None => ScalarValue::try_from(field.data_type()),
                        Some(v) => ScalarValue::try_from_string(v, field.data_type()),
                    };
                    typed.map_err(|e| Error::Table {
                        table: table.shown().to_string(),
                        message: format!(
                            "version {} gives {} a value that is not a {} in {}: {e}",
                            snapshot.version,
                            field.name(),
                            field.data_type(),
                            file.path
                        ),
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            let meta = ObjectMeta {
                location,
                last_modified: chrono::DateTime::UNIX_EPOCH,
                size: file.size,
                e_tag: None,
                version: None,
            };
            let deletion = file.deletion_vector.map(|vector| Deletion {
                file: file.path.clone(),
                vector,
                rows: file.rows,
            });
            files.push((
                PartitionedFile::new_from_meta(meta).with_partition_values(values),
                deletion,
            ));
        }
        Ok(SnapshotTable {
            schema,
            file_schema,
            partitions,
            renamed,
            files,
            store,
            table: table.clone(),
        })
    }

    /// The rows of a file its deletion vector leaves, as the Parquet reader's selection.
    async fn kept_rows(&self, d: &Deletion) -> datafusion::error::Result<ParquetRowSelection> {
        let external = |e: Error| DataFusionError::External(Box::new(e));
        let deleted = self
            .table
            .deleted_rows(&d.file, &d.vector)
            .await
            .map_err(external)?;
        let mut selectors = Vec::new();
        let mut next = 0;
        for row in deleted.iter() {
            if row >= d.rows {
                // Without the file's row count the selection cannot be made whole.
                return Err(external(Error::Table {
                    table: self.table.shown().to_string(),
                    message: format!(
                        "the deletion vector of {} deletes row {row}, but the log says the file has {} rows",
                        d.file, d.rows
                    ),
                }));
            }
            if row > next {
                selectors.push(RowSelector::select((row - next) as usize));
            }
            selectors.push(RowSelector::skip(1));
            next = row + 1;
        }
        if next < d.rows {
            selectors.push(RowSelector::select((d.rows - next) as usize));
        }
        Ok(ParquetRowSelection::new(RowSelection::from(selectors)))
    }

    fn partition_names(&self) -> Vec<&str> {
        self.partitions.iter().map(|f| f.name().as_str()).collect()
    }

    /// The files whose partition values pass every filter on partition columns alone
    /// (those filters are then exact: evaluated here, on one row per file).
    fn pruned(
        &self,
        state: &dyn Session,
        filters: &[Expr],
    ) -> datafusion::error::Result<Vec<(PartitionedFile, Option<Deletion>)>> {
        let names = self.partition_names();
        let on_partitions: Vec<&Expr> = filters
            .iter()
            .filter(|f| expr_applicable_for_cols(&names, f))
            .collect();
        if on_partitions.is_empty() {
            return Ok(self.files.clone());
        }
        let columns = (0..self.partitions.len())
            .map(|i| {
                ScalarValue::iter_to_array(
                    self.files
                        .iter()
                        .map(|(f, _)| f.partition_values[i].clone()),
                )
            })
            .collect::<datafusion::error::Result<Vec<_>>>()?;
        let schema = Arc::new(Schema::new(self.partitions.clone()));
        let options = RecordBatchOptions::new().with_row_count(Some(self.files.len()));
        let batch = RecordBatch::try_new_with_options(schema.clone(), columns, &options)?;
        let df_schema = DFSchema::try_from(schema)?;
        let mut keep = vec![true; self.files.len()];
        for filter in on_partitions {
            let expr = state.create_physical_expr(filter.clone(), &df_schema)?;
            let result = expr.evaluate(&batch)?.into_array(batch.num_rows())?;
            let passed = result
                .as_any()
                .downcast_ref::<datafusion::arrow::array::BooleanArray>()
                .ok_or_else(|| {
                    DataFusionError::Internal(format!("filter {filter} is not a predicate"))
                })?;
            for (i, k) in keep.iter_mut().enumerate() {
                *k &= passed.is_valid(i) && passed.value(i);
            }
        }
        Ok(self
            .files
            .iter()
            .zip(keep)
            .filter(|(_, k)| *k)
            .map(|(f, _)| f.clone())
            .collect())
    }
}

#[async_trait]
impl TableProvider for SnapshotTable {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> datafusion::error::Result<Vec<TableProviderFilterPushDown>> {
        let names = self.partition_names();
        Ok(filters
            .iter()
            .map(|f| {
                if expr_applicable_for_cols(&names, f) {
                    TableProviderFilterPushDown::Exact
                } else {
                    TableProviderFilterPushDown::Inexact
                }
            })
            .collect())
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> datafusion::error::Result<Arc<dyn ExecutionPlan>> {
        let mut files = Vec::new();
        for (file, deletion) in self.pruned(state, filters)? {
            files.push(match deletion {
                None => file,
                Some(d) => file.with_extension(self.kept_rows(&d).await?),
            });
        }
        if files.is_empty() {
            let schema = match projection {
                Some(p) => Arc::new(self.schema.project(p)?),
                None => self.schema.clone(),
            };
            return Ok(Arc::new(EmptyExec::new(schema)));
        }
        let groups = state.config().target_partitions().clamp(1, files.len());
        let mut grouped = vec![Vec::new(); groups];
        for (i, file) in files.into_iter().enumerate() {
            grouped[i % groups].push(file);
        }
        let format = ParquetFormat::default().with_options(state.table_options().parquet.clone());
        let table_schema = TableSchema::builder(self.file_schema.clone())
            .with_table_partition_cols(self.partitions.clone())
            .build();
        let source = format.file_source(table_schema);
        let config = FileScanConfigBuilder::new(self.store.clone(), source)
            .with_file_groups(grouped.into_iter().map(FileGroup::new).collect())
            .with_projection_indices(projection.cloned())?
            .with_limit(limit)
            .build();
        let plan = format.create_physical_plan(state, config).await?;
        if self.renamed.is_empty() {
            return Ok(plan);
        }
        // Column mapping: the files' physical names become the table's names.
        let exprs: Vec<(Arc<dyn PhysicalExpr>, String)> = plan
            .schema()
            .fields()
            .iter()
            .enumerate()
            .map(|(i, f)| {
                let name = self.renamed.get(f.name()).unwrap_or(f.name()).clone();
                (
                    Arc::new(Column::new(f.name(), i)) as Arc<dyn PhysicalExpr>,
                    name,
                )
            })
            .collect();
        Ok(Arc::new(ProjectionExec::try_new(exprs, plan)?))
    }
}
