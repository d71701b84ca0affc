//! A published long table as the auditor sees it: read from the published Parquet or CSV
//! file alone, each row a partition (kommun, period), its key (the other text columns,
//! interned), and the published count — NULL where the count is hidden.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use crate::error::{Error, Problems, Result};
use crate::query::columns::texts;

/// Columns that say where a row belongs: identities never cross them.
const PARTITION: [&str; 2] = ["kommun", "period"];
/// Columns that describe a row rather than identify it, and the figures themselves.
const NOT_KEYS: [&str; 6] = [
    "status",
    "kalla",
    "antal",
    "antal_skyddad",
    "befolkning",
    "andel",
];

/// One published row.
#[derive(Debug, Clone)]
pub struct Row {
    /// Index into [`LongTable::partitions`].
    pub partition: usize,
    /// Interned value per key column.
    pub key: Vec<u32>,
    /// The published count (None: hidden, by suppression or by the source).
    pub antal: Option<i64>,
    /// Flagged as suppressed by the publisher (`antal_skyddad`).
    pub protected: bool,
    /// A share is published for the row.
    pub share_shown: bool,
}

impl Row {
    /// The count an outsider sees.
    pub fn visible(&self) -> Option<i64> {
        self.antal
    }
}

/// A published long table.
#[derive(Debug, Default)]
pub struct LongTable {
    /// Key column names (without the partition columns).
    pub key_names: Vec<String>,
    /// (kommun, period) of each partition.
    pub partitions: Vec<(String, String)>,
    /// The rows.
    pub rows: Vec<Row>,
    values: Vec<Vec<String>>,
}

impl LongTable {
    /// Reads `path` (`.parquet`, or `.csv` as written by publishing: header, commas).
    pub fn read(path: &Path) -> Result<LongTable> {
        Self::read_files(path, &[path.to_path_buf()])
    }

    /// Reads a view published per period: every `.<extension>` file of `dir`, in name
    /// order, as one table.
    pub fn read_dir(dir: &Path, extension: &str) -> Result<LongTable> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(|e| Error::io(dir, e))?
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == extension))
            .filter(|p| {
                !p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with('.'))
            })
            .collect();
        files.sort();
        Self::read_files(dir, &files)
    }

    /// The files as one table; problems are reported against `shown`.
    fn read_files(shown: &Path, files: &[PathBuf]) -> Result<LongTable> {
        let problem = |message: String| {
            let mut p = Problems::default();
            p.push(shown.display().to_string(), "", message);
            Error::Config(p)
        };
        let mut schema: Option<Vec<String>> = None;
        let mut batches = Vec::new();
        for file in files {
            let (names, read) = read_file(file)?;
            if schema.as_ref().is_some_and(|s| *s != names) {
                return Err(problem(format!(
                    "{} has other columns than the view's other files",
                    file.display()
                )));
            }
            schema = Some(names);
            batches.extend(read);
        }
        let schema = schema.unwrap_or_default();
        // Checked on the file's columns, so an empty table is recognized too.
        for required in PARTITION.iter().chain(&["antal", "antal_skyddad"]) {
            if !schema.iter().any(|n| n == required) {
                return Err(problem(format!(
                    "no column {required}: not a published long table"
                )));
            }
        }
        LongTable::from_batches(&batches).map_err(problem)
    }

    /// The table from record batches with `kommun`, `period`, `antal` and `antal_skyddad`;
    /// the error says what does not fit.
    pub fn from_batches(batches: &[RecordBatch]) -> std::result::Result<LongTable, String> {
        let mut table = LongTable::default();
        let mut interned: Vec<HashMap<String, u32>> = Vec::new();
        let mut partitions: HashMap<(String, String), usize> = HashMap::new();
        for b in batches {
            let schema = b.schema();
            let column = |name: &str| -> std::result::Result<Vec<Option<String>>, String> {
                let i = schema
                    .index_of(name)
                    .map_err(|_| format!("no column {name}: not a published long table"))?;
                texts(b.column(i)).map_err(|e| e.to_string())
            };
            let keys: Vec<String> = schema
                .fields()
                .iter()
                .map(|f| f.name().clone())
                .filter(|n| !PARTITION.contains(&n.as_str()) && !NOT_KEYS.contains(&n.as_str()))
                .collect();
            if table.key_names.is_empty() {
                table.key_names = keys.clone();
                interned = vec![HashMap::new(); keys.len()];
                table.values = vec![Vec::new(); keys.len()];
            } else if table.key_names != keys {
                return Err("batches disagree on their columns".into());
            }
            let (kommun, period) = (column(PARTITION[0])?, column(PARTITION[1])?);
            let antal = column("antal")?;
            let flag = column("antal_skyddad")?;
            let andel = schema
                .index_of("andel")
                .ok()
                .map(|_| column("andel"))
                .transpose()?;
            let key_columns: Vec<Vec<Option<String>>> = keys
                .iter()
                .map(|k| column(k))
                .collect::<std::result::Result<_, _>>()?;
            for r in 0..b.num_rows() {
                let p = (
                    kommun[r].clone().unwrap_or_default(),
                    period[r].clone().unwrap_or_default(),
                );
                let next = partitions.len();
                let partition = *partitions.entry(p.clone()).or_insert_with(|| {
                    table.partitions.push(p);
                    next
                });
                let key = key_columns
                    .iter()
                    .enumerate()
                    .map(|(c, col)| {
                        let v = col[r].clone().unwrap_or_default();
                        let n = interned[c].len() as u32;
                        *interned[c].entry(v.clone()).or_insert_with(|| {
                            table.values[c].push(v);
                            n
                        })
                    })
                    .collect();
                let antal = match antal[r].as_deref().filter(|s| !s.is_empty()) {
                    Some(s) => Some(s.parse::<i64>().map_err(|_| {
                        format!("row {}: antal {s:?} is not a whole number", r + 1)
                    })?),
                    None => None,
                };
                table.rows.push(Row {
                    partition,
                    key,
                    antal,
                    protected: flag[r].as_deref() == Some("true"),
                    share_shown: andel
                        .as_ref()
                        .is_some_and(|a| a[r].as_deref().is_some_and(|s| !s.is_empty())),
                });
            }
        }
        Ok(table)
    }

    /// The text of key column `column`'s interned value `v`.
    pub fn value(&self, column: usize, v: u32) -> &str {
        &self.values[column][v as usize]
    }

    /// A row's key as `name=value` pairs, for reports.
    pub fn describe(&self, row: usize) -> String {
        let r = &self.rows[row];
        let (kommun, period) = &self.partitions[r.partition];
        let mut parts = vec![format!("kommun={kommun}"), format!("period={period}")];
        parts.extend(
            self.key_names
                .iter()
                .enumerate()
                .map(|(c, n)| format!("{n}={}", self.value(c, r.key[c]))),
        );
        parts.join(" ")
    }

    /// The `n` partitions with the most visible non-zero counts.
    pub fn busiest_partitions(&self, n: usize) -> std::collections::HashSet<usize> {
        let mut count = vec![0usize; self.partitions.len()];
        for r in &self.rows {
            if r.antal.is_some_and(|v| v > 0) {
                count[r.partition] += 1;
            }
        }
        let mut order: Vec<usize> = (0..self.partitions.len()).collect();
        order.sort_by_key(|&p| (std::cmp::Reverse(count[p]), p));
        order.into_iter().take(n).collect()
    }
}

/// The column names and rows of one published file (`.parquet`, or `.csv` as written
/// by publishing: header, commas).
fn read_file(path: &Path) -> Result<(Vec<String>, Vec<RecordBatch>)> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    Ok(if path.extension().is_some_and(|e| e == "csv") {
        let mut header = String::new();
        std::io::BufRead::read_line(&mut std::io::BufReader::new(&file), &mut header)
            .map_err(|e| Error::io(path, e))?;
        // Every column as text: "0880" must stay "0880".
        let fields: Vec<Field> = header
            .trim_end()
            .split(',')
            .map(|n| Field::new(n, DataType::Utf8, true))
            .collect();
        let names = fields.iter().map(|f| f.name().clone()).collect();
        let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
        let batches = datafusion::arrow::csv::ReaderBuilder::new(Arc::new(Schema::new(fields)))
            .with_header(true)
            .build(file)?
            .collect::<std::result::Result<_, _>>()?;
        (names, batches)
    } else {
        let builder = ParquetRecordBatchReaderBuilder::try_new(file)?;
        let names = builder
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect();
        (
            names,
            builder.build()?.collect::<std::result::Result<_, _>>()?,
        )
    })
}
