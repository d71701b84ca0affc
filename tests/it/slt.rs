//! sqllogictest files for the views (`tests/slt/*.slt`), DataFusion's way of testing SQL.
//!
//! Each file runs in a fresh session with the canonical tables empty and in memory and
//! every view of `sql/` created; the file inserts its own rows. Set `MALGRUPP_SLT=name`
//! to run one file.

use std::path::PathBuf;

use datafusion::arrow::array::Array;
use datafusion::arrow::util::display::array_value_to_string;
use datafusion::error::DataFusionError;
use datafusion::prelude::SessionContext;
use sqllogictest::{DBOutput, DefaultColumnType};

struct Db {
    ctx: SessionContext,
}

#[async_trait::async_trait]
impl sqllogictest::AsyncDB for Db {
    type Error = DataFusionError;
    type ColumnType = DefaultColumnType;

    async fn run(&mut self, sql: &str) -> Result<DBOutput<Self::ColumnType>, Self::Error> {
        let df = self.ctx.sql(sql).await?;
        let is_query = sql.trim_start().to_lowercase().starts_with("select")
            || sql.trim_start().to_lowercase().starts_with("with");
        let batches = df.collect().await?;
        if !is_query {
            return Ok(DBOutput::StatementComplete(0));
        }
        let width = batches.first().map_or(0, |b| b.num_columns());
        let mut rows = Vec::new();
        for b in &batches {
            for r in 0..b.num_rows() {
                let mut row = Vec::with_capacity(width);
                for c in b.columns() {
                    row.push(if c.is_null(r) {
                        "NULL".to_string()
                    } else {
                        array_value_to_string(c, r)?
                    });
                }
                rows.push(row);
            }
        }
        Ok(DBOutput::Rows {
            types: vec![DefaultColumnType::Any; width],
            rows,
        })
    }

    async fn shutdown(&mut self) {}

    fn engine_name(&self) -> &str {
        "datafusion"
    }

    async fn sleep(dur: std::time::Duration) {
        tokio::time::sleep(dur).await;
    }
}

#[tokio::test]
async fn slt_files() {
    let only = std::env::var("MALGRUPP_SLT").ok();
    let mut files: Vec<PathBuf> = std::fs::read_dir("tests/slt")
        .expect("tests/slt")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "slt"))
        .collect();
    files.sort();
    assert!(files.len() >= 5, "expected the slt files, found {files:?}");
    let mut failures = Vec::new();
    for file in files.iter().filter(|f| {
        only.as_deref()
            .is_none_or(|o| f.file_stem().is_some_and(|s| s == o))
    }) {
        let mut runner = sqllogictest::Runner::new(|| async {
            let (ctx, problems) = malgrupp::query::open_empty(std::path::Path::new("sql"))
                .await
                .map_err(|e| DataFusionError::External(Box::new(e)))?;
            assert!(problems.is_empty(), "views: {problems}");
            Ok(Db { ctx })
        });
        if let Err(e) = runner.run_file_async(file).await {
            failures.push(format!("{}: {e}", file.display()));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
