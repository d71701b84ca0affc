//! A lake table as the query layer registers it: DataFusion's Parquet listing table over
//! the Hive partitions `kommun=…/period=…`, scanned kommun by kommun when a query names
//! several kommuner.
//!
//! Why: the listing table prunes partitions file by file, building the filter anew for
//! every file of the table, so a scan naming `kommun in (…)` costs in proportion to the
//! whole lake's files times the list's length (at ten national years, 34,800 files a
//! table and about 2 s a scan: docs/performance.md). A filter of one kommun by equality
//! is a directory prefix instead, and only that kommun's files are looked at. So a scan
//! whose filters pin the kommun to a few values is listed kommun by kommun, each with
//! `kommun = '…'`, and the files found are read by one scan, as the listing table would
//! have: the same rows, found in the folders of the kommuner asked for only.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::Session;
use datafusion::common::Statistics;
use datafusion::common::{Column, ScalarValue};
use datafusion::datasource::TableProvider;
use datafusion::datasource::listing::ListingTable;
use datafusion::datasource::physical_plan::{FileGroup, FileScanConfig, FileScanConfigBuilder};
use datafusion::datasource::source::DataSourceExec;
use datafusion::logical_expr::expr::InList;
use datafusion::logical_expr::{
    BinaryExpr, Expr, Operator, TableProviderFilterPushDown, TableType,
};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::empty::EmptyExec;
use datafusion::physical_plan::union::UnionExec;

/// The partition column scans are split on.
const KOMMUN: &str = "kommun";

/// Sweden's kommuner: a scan naming more values than there are kommuner is left to the
/// listing table whole, as each value costs a listing of its own (a hostile list of
/// 3,001 codes took 97 s split, against the listing table's one pass).
const KOMMUNER: usize = 290;

/// A listing table whose scans naming several kommuner list their files kommun by kommun.
#[derive(Debug)]
pub struct LakeTable {
    inner: ListingTable,
}

impl LakeTable {
    pub fn new(inner: ListingTable) -> Self {
        LakeTable { inner }
    }
}

#[async_trait]
impl TableProvider for LakeTable {
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
        let Some((at, column, kommuner)) = pinned_kommuner(filters) else {
            return self.inner.scan(state, projection, filters, limit).await;
        };
        let mut plans = Vec::with_capacity(kommuner.len());
        for kommun in kommuner {
            let mut own: Vec<Expr> = filters.to_vec();
            own[at] = Expr::BinaryExpr(BinaryExpr::new(
                Box::new(Expr::Column(column.clone())),
                Operator::Eq,
                Box::new(Expr::Literal(kommun, None)),
            ));
            plans.push(self.inner.scan(state, projection, &own, limit).await?);
        }
        let partitions = state.config().target_partitions();
        match merged(&plans, &self.inner.schema(), partitions) {
            Some(one) => Ok(one),
            None => UnionExec::try_new(plans),
        }
    }
}

/// The kommuner's scans as one: their files in one scan of `partitions` file groups, the
/// shape of the listing table's own scan (the kommuner's scans differ in their files
/// only: a partition filter selects files and is not part of the Parquet predicate).
/// None when a scan is of another kind, to be put under a union instead.
fn merged(
    plans: &[Arc<dyn ExecutionPlan>],
    table: &datafusion::arrow::datatypes::Schema,
    partitions: usize,
) -> Option<Arc<dyn ExecutionPlan>> {
    let mut first: Option<&FileScanConfig> = None;
    let mut files = Vec::new();
    let mut statistics = Vec::new();
    for plan in plans {
        if plan.is::<EmptyExec>() {
            // A kommun without files.
            continue;
        }
        let config = plan
            .downcast_ref::<DataSourceExec>()?
            .data_source()
            .downcast_ref::<FileScanConfig>()?;
        if config.output_partitioning.is_some() {
            return None;
        }
        files.extend(config.file_groups.iter().flat_map(|g| g.iter().cloned()));
        statistics.push(config.statistics());
        first.get_or_insert(config);
    }
    let Some(config) = first else {
        // No kommun has files: any of the empty scans.
        return plans.first().cloned();
    };
    let config = FileScanConfigBuilder::from(config.clone())
        .with_file_groups(FileGroup::new(files).split_files(partitions.max(1)))
        // The kommuner's together (row counts guide the joins' plans: a scan without
        // them made the national publish 1.7 times slower).
        .with_statistics(
            Statistics::try_merge_iter(&statistics, table)
                .unwrap_or_else(|_| Statistics::new_unknown(table)),
        )
        .build();
    Some(DataSourceExec::from_data_source(config))
}

/// The filter (its index and column) that pins `kommun` to two to [`KOMMUNER`] values, and the
/// distinct values in order: `kommun in ('…', …)` or `kommun = '…' or kommun = '…' …`
/// (the form the optimizer may give a short list). None when no filter does.
fn pinned_kommuner(filters: &[Expr]) -> Option<(usize, Column, Vec<ScalarValue>)> {
    filters.iter().enumerate().find_map(|(at, f)| {
        let mut values = BTreeMap::new();
        let column = kommun_values(f, &mut values)?;
        (2..=KOMMUNER)
            .contains(&values.len())
            .then(|| (at, column, values.into_values().collect()))
    })
}

/// Collects the values `filter` allows `kommun` to take, when it is an `in` list or an
/// `or` of equalities of the kommun column with non-null text literals; returns the
/// column, or None for any other filter.
fn kommun_values(filter: &Expr, values: &mut BTreeMap<String, ScalarValue>) -> Option<Column> {
    let text = |e: &Expr| match e {
        Expr::Literal(v @ (ScalarValue::Utf8(Some(_)) | ScalarValue::Utf8View(Some(_))), _) => {
            Some(v.clone())
        }
        _ => None,
    };
    let kommun = |e: &Expr| match e {
        Expr::Column(c) if c.name == KOMMUN => Some(c.clone()),
        _ => None,
    };
    match filter {
        Expr::InList(InList {
            expr,
            list,
            negated: false,
        }) => {
            let column = kommun(expr)?;
            for item in list {
                let v = text(item)?;
                values.insert(v.to_string(), v);
            }
            Some(column)
        }
        Expr::BinaryExpr(BinaryExpr {
            left,
            op: Operator::Eq,
            right,
        }) => {
            let (column, value) = kommun(left)
                .zip(text(right))
                .or_else(|| kommun(right).zip(text(left)))?;
            values.insert(value.to_string(), value);
            Some(column)
        }
        Expr::BinaryExpr(BinaryExpr {
            left,
            op: Operator::Or,
            right,
        }) => {
            let column = kommun_values(left, values)?;
            (kommun_values(right, values)? == column).then_some(column)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::prelude::{col, lit};

    #[test]
    fn kommun_lists_and_ors_of_equalities_are_recognised_anything_else_is_left_alone() {
        let codes = |f: &[Expr]| {
            pinned_kommuner(f).map(|(at, _, v)| {
                let v: Vec<String> = v.iter().map(ToString::to_string).collect();
                (at, v)
            })
        };
        let list = col("kommun").in_list(vec![lit("0181"), lit("0180"), lit("0181")], false);
        let period = col("period").eq(lit("2015-01"));
        assert_eq!(
            codes(&[period.clone(), list.clone()]),
            Some((1, vec!["0180".into(), "0181".into()]))
        );
        let ors = col("kommun")
            .eq(lit("0180"))
            .or(lit("0182").eq(col("kommun")));
        assert_eq!(codes(&[ors]), Some((0, vec!["0180".into(), "0182".into()])));
        // One kommun is already a directory prefix to the listing table.
        assert_eq!(codes(&[col("kommun").eq(lit("0180"))]), None);
        // Not pinned: negated, mixed with another column, a null, or a non-text value.
        assert_eq!(
            codes(&[col("kommun").in_list(vec![lit("0180"), lit("0181")], true)]),
            None
        );
        assert_eq!(codes(&[col("kommun").eq(lit("0180")).or(period)]), None);
        assert_eq!(
            codes(&[col("kommun").in_list(vec![lit("0180"), lit(ScalarValue::Utf8(None))], false)]),
            None
        );
        assert_eq!(
            codes(&[col("period").in_list(vec![lit("2015-01"), lit("2015-02")], false)]),
            None
        );
        // A list of every kommun is split; a longer one (a hostile query lists thousands
        // of codes, one scan each) goes to the listing table whole.
        let list = |n: usize| {
            let codes = (0..n).map(|i| lit(format!("{i:04}"))).collect();
            codes_of(&[col("kommun").in_list(codes, false)])
        };
        assert_eq!(list(KOMMUNER).map(|v| v.len()), Some(KOMMUNER));
        assert_eq!(list(KOMMUNER + 1), None);
        // Repeats count once.
        let repeated: Vec<Expr> = (0..3 * KOMMUNER)
            .map(|i| lit(format!("{:04}", i % KOMMUNER)))
            .collect();
        assert_eq!(
            codes_of(&[col("kommun").in_list(repeated, false)]).map(|v| v.len()),
            Some(KOMMUNER)
        );
    }

    fn codes_of(filters: &[Expr]) -> Option<Vec<ScalarValue>> {
        pinned_kommuner(filters).map(|(_, _, v)| v)
    }

    type Outcome<T> = std::result::Result<T, Box<dyn std::error::Error>>;

    /// A table of one `x` column in three kommuner × two periods, registered as the
    /// query layer registers the lake's tables.
    async fn lake() -> Outcome<(tempfile::TempDir, datafusion::prelude::SessionContext)> {
        use datafusion::arrow::array::Int64Array;
        use datafusion::arrow::datatypes::{DataType, Field, Schema};
        use datafusion::arrow::record_batch::RecordBatch;
        let dir = tempfile::tempdir()?;
        let schema = Arc::new(Schema::new(vec![Field::new("x", DataType::Int64, false)]));
        for (i, k) in ["0180", "0181", "0182"].iter().enumerate() {
            for (j, p) in ["2015-01", "2015-02"].iter().enumerate() {
                let part = dir.path().join(format!("kommun={k}/period={p}"));
                std::fs::create_dir_all(&part)?;
                let file = std::fs::File::create(part.join("part-0.parquet"))?;
                let mut w =
                    datafusion::parquet::arrow::ArrowWriter::try_new(file, schema.clone(), None)?;
                let x = Int64Array::from(vec![(10 * i + j) as i64; i + j + 1]);
                w.write(&RecordBatch::try_new(schema.clone(), vec![Arc::new(x)])?)?;
                w.close()?;
            }
        }
        let ctx = crate::query::new_session();
        crate::query::register_listing(
            &ctx,
            "t",
            dir.path(),
            schema,
            crate::normalize::schema::partition_columns(),
        )
        .await?;
        Ok((dir, ctx))
    }

    async fn rows(ctx: &datafusion::prelude::SessionContext, sql: &str) -> Outcome<Vec<String>> {
        let batches = ctx.sql(sql).await?.collect().await?;
        let text = datafusion::arrow::util::pretty::pretty_format_batches(&batches)?.to_string();
        Ok(text.lines().map(str::to_string).collect())
    }

    #[tokio::test]
    async fn a_list_of_kommuner_is_read_from_their_folders_only_with_the_same_rows_in_one_scan()
    -> Outcome<()> {
        let (dir, ctx) = lake().await?;
        let grouped = "select kommun, period, count(*) n, sum(x) s from t where {} \
                       group by kommun, period order by kommun, period";
        let listed = rows(
            &ctx,
            &grouped.replace("{}", "kommun in ('0182', '0180') and period in ('2015-02')"),
        )
        .await?;
        let ored = rows(
            &ctx,
            &grouped.replace(
                "{}",
                "(kommun = '0180' or kommun = '0182') and period = '2015-02'",
            ),
        )
        .await?;
        let expected = [
            "+--------+---------+---+----+",
            "| kommun | period  | n | s  |",
            "+--------+---------+---+----+",
            "| 0180   | 2015-02 | 2 | 2  |",
            "| 0182   | 2015-02 | 4 | 84 |",
            "+--------+---------+---+----+",
        ];
        assert_eq!(listed, expected);
        assert_eq!(ored, expected);
        // One scan reads the two kommuner's files and never the third kommun's (the files
        // are found kommun by kommun: a speed that only `malgrupp bench --national` shows).
        let plan = rows(
            &ctx,
            "explain select x from t where kommun in ('0180', '0182') and period = '2015-02'",
        )
        .await?
        .join("\n");
        let scans: Vec<&str> = plan
            .lines()
            .filter(|l| l.contains("DataSourceExec"))
            .collect();
        assert_eq!(scans.len(), 1, "{plan}");
        assert!(scans[0].contains("kommun=0180/period=2015-02"), "{plan}");
        assert!(scans[0].contains("kommun=0182/period=2015-02"), "{plan}");
        assert!(
            !plan.contains("kommun=0181") && !plan.contains("UnionExec"),
            "{plan}"
        );
        // The scan's statistics are the kommuner's together (an exact count may be
        // answered from them alone).
        let n = rows(
            &ctx,
            "select count(*) n from t where kommun in ('0180', '0182')",
        )
        .await?;
        assert_eq!(n[3], "| 10 |", "{n:?}");
        ctx.sql("set datafusion.explain.show_statistics = true")
            .await?;
        let stats = rows(
            &ctx,
            "explain select x from t where kommun in ('0180', '0182')",
        )
        .await?
        .join("\n");
        ctx.sql("set datafusion.explain.show_statistics = false")
            .await?;
        assert!(stats.contains("statistics=[Rows=Exact(10)"), "{stats}");
        // A list with a kommun that has no files.
        let missing = rows(&ctx, &grouped.replace("{}", "kommun in ('0180', '0999')")).await?;
        assert_eq!(missing.len(), 6, "{missing:?}");
        // Without a list, one scan as before.
        let all = rows(&ctx, "explain select x from t where period = '2015-01'")
            .await?
            .join("\n");
        assert_eq!(all.matches("DataSourceExec").count(), 1, "{all}");
        assert!(all.contains("kommun=0181/period=2015-01"), "{all}");
        let none = rows(
            &ctx,
            "select count(*) n from t where kommun in ('0998', '0999')",
        )
        .await?;
        assert_eq!(none[3], "| 0 |", "{none:?}");
        drop(dir);
        Ok(())
    }
}
