//! The HTTP API of `serve` end to end: the whole app on 127.0.0.1, port 0, a real HTTP
//! client, a published folder of Parquet files written here.
//!
//! Covers the four formats agreeing row for row, filters and paging, bearer auth,
//! read-only SQL, the query limits (rows, memory, time) with the server staying up, CORS
//! and the OpenAPI document.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use datafusion::arrow::array::{Array, BooleanArray, Int64Array, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::arrow::ipc::reader::StreamReader;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use malgrupp::serve::{QueryLimits, ServeConfig};

const TOKEN: &str = "test-token-0123456789abcdef";

/// One row of the test `kartlaggning`: kommun, period, kon, antal, antal_skyddad.
type Row = (String, String, String, Option<i64>, bool);

/// kommun × period × kon; every fourth count suppressed (NULL, flag set).
fn kartlaggning_rows() -> Vec<Row> {
    let mut rows = Vec::new();
    for kommun in ["0880", "0180"] {
        for period in ["2015-05", "2015-06"] {
            for kon in ["K", "M", "alla"] {
                let i = rows.len() as i64;
                let suppressed = i % 4 == 3;
                let antal = (!suppressed).then_some(10 + i);
                rows.push((kommun.into(), period.into(), kon.into(), antal, suppressed));
            }
        }
    }
    rows
}

fn write_parquet(path: &Path, batch: &RecordBatch) {
    let file = std::fs::File::create(path).expect("create parquet");
    let mut w = ArrowWriter::try_new(file, batch.schema(), None).expect("writer");
    w.write(batch).expect("write");
    w.close().expect("close");
}

fn kartlaggning_batch() -> RecordBatch {
    let rows = kartlaggning_rows();
    let s = |n: &str| Field::new(n, DataType::Utf8, false);
    let schema = Arc::new(Schema::new(vec![
        s("kommun"),
        s("period"),
        s("matt"),
        s("kon"),
        s("alder"),
        s("dimension"),
        s("kategori"),
        Field::new("antal", DataType::Int64, true),
        Field::new("antal_skyddad", DataType::Boolean, false),
    ]));
    let text = |f: &dyn Fn(&Row) -> String| -> Arc<dyn Array> {
        Arc::new(rows.iter().map(|r| Some(f(r))).collect::<StringArray>())
    };
    RecordBatch::try_new(
        schema,
        vec![
            text(&|r| r.0.clone()),
            text(&|r| r.1.clone()),
            text(&|_| "malgrupp".into()),
            text(&|r| r.2.clone()),
            text(&|_| "16-24".into()),
            text(&|_| "total".into()),
            text(&|_| String::new()),
            Arc::new(rows.iter().map(|r| r.3).collect::<Int64Array>()),
            Arc::new(rows.iter().map(|r| Some(r.4)).collect::<BooleanArray>()),
        ],
    )
    .expect("batch")
}

/// A lake with `published/` (two views, one of them per period, temporary files, a CSV) and a record-level
/// `kaa` table beside it that must stay unreachable.
fn lake() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let published = dir.path().join("published");
    std::fs::create_dir_all(&published).expect("mkdir");
    let batch = kartlaggning_batch();
    write_parquet(&published.join("kartlaggning.parquet"), &batch);
    // A view published per period: a directory of one file per period, read as one
    // table (its `antal` sums to 40 only if both files are read).
    let orsak = |rows: &[(&str, Option<i64>)]| {
        RecordBatch::try_new(
            Arc::new(Schema::new(vec![
                Field::new("orsak", DataType::Utf8, false),
                Field::new("antal", DataType::Int64, true),
            ])),
            vec![
                Arc::new(StringArray::from(
                    rows.iter().map(|r| r.0).collect::<Vec<_>>(),
                )),
                Arc::new(rows.iter().map(|r| r.1).collect::<Int64Array>()),
            ],
        )
        .expect("batch")
    };
    let orsak_dir = published.join("bilaga1_fs_orsak");
    std::fs::create_dir_all(&orsak_dir).expect("mkdir");
    write_parquet(
        &orsak_dir.join("2015-05.parquet"),
        &orsak(&[("arbetslos", Some(30)), ("sjuk", None)]),
    );
    write_parquet(
        &orsak_dir.join("2015-06.parquet"),
        &orsak(&[("arbetslos", Some(10))]),
    );
    std::fs::write(orsak_dir.join(".tmp-1-2015-07.parquet.partial"), b"half").expect("tmp");
    std::fs::write(
        published.join(".tmp-1-kartlaggning.parquet.partial"),
        b"half",
    )
    .expect("tmp");
    std::fs::write(published.join("kartlaggning.csv"), b"kommun\n0880\n").expect("csv");
    let kaa = dir.path().join("kaa");
    std::fs::create_dir_all(&kaa).expect("mkdir");
    write_parquet(&kaa.join("part-0.parquet"), &batch);
    dir
}

struct Server {
    base: String,
    client: reqwest::Client,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<malgrupp::Result<()>>,
    _dir: Option<tempfile::TempDir>,
}

impl Server {
    async fn start(limits: QueryLimits, cors: Vec<String>) -> Self {
        let dir = lake();
        let mut s = Self::start_at(&dir.path().join("published"), limits, cors).await;
        s._dir = Some(dir);
        s
    }

    async fn start_at(published: &Path, limits: QueryLimits, cors: Vec<String>) -> Self {
        let cfg = ServeConfig {
            listen: "127.0.0.1:0".parse().expect("addr"),
            published_dir: published.to_path_buf(),
            tokens: vec!["other-token".into(), TOKEN.into()],
            cors_origins: cors,
            limits,
            ..ServeConfig::default()
        };
        let listener = tokio::net::TcpListener::bind(cfg.listen)
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(malgrupp::serve::serve_on(listener, cfg, async {
            let _ = rx.await;
        }));
        Server {
            base: format!("http://{addr}"),
            client: reqwest::Client::new(),
            stop: Some(tx),
            task,
            _dir: None,
        }
    }

    async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{path}", self.base))
            .bearer_auth(TOKEN)
            .send()
            .await
            .expect("send")
    }

    async fn sql(&self, sql: &str, format: &str) -> reqwest::Response {
        let body = serde_json::json!({ "sql": sql, "format": format }).to_string();
        self.client
            .post(format!("{}/api/v1/sql", self.base))
            .bearer_auth(TOKEN)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .expect("send")
    }

    async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        let result = tokio::time::timeout(Duration::from_secs(10), &mut self.task)
            .await
            .expect("graceful shutdown");
        result.expect("join").expect("serve ended cleanly");
    }
}

fn limits(max_rows: usize) -> QueryLimits {
    QueryLimits {
        max_rows,
        ..QueryLimits::default()
    }
}

async fn json(resp: reqwest::Response) -> serde_json::Value {
    let text = resp.text().await.expect("body");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// The error message of a JSON error answer, after checking its status.
async fn error(resp: reqwest::Response, status: u16) -> String {
    assert_eq!(resp.status().as_u16(), status, "status");
    let v = json(resp).await;
    v["error"].as_str().expect("error message").to_string()
}

fn rows_of_batches(batches: &[RecordBatch]) -> Vec<Row> {
    let mut out = Vec::new();
    for b in batches {
        let text = |n: &str| {
            b.column_by_name(n)
                .expect("column")
                .as_any()
                .downcast_ref::<StringArray>()
                .expect("Utf8")
                .clone()
        };
        let (k, p, s) = (text("kommun"), text("period"), text("kon"));
        let a = b.column_by_name("antal").expect("antal");
        let a = a.as_any().downcast_ref::<Int64Array>().expect("Int64");
        let f = b.column_by_name("antal_skyddad").expect("flag");
        let f = f.as_any().downcast_ref::<BooleanArray>().expect("bool");
        for i in 0..b.num_rows() {
            out.push((
                k.value(i).to_string(),
                p.value(i).to_string(),
                s.value(i).to_string(),
                (!a.is_null(i)).then(|| a.value(i)),
                f.value(i),
            ));
        }
    }
    out
}

/// Rows of a response in any format, with the content type checked.
async fn rows(resp: reqwest::Response, format: &str) -> Vec<Row> {
    assert_eq!(resp.status(), 200, "{format}");
    let ct = resp.headers()["content-type"]
        .to_str()
        .expect("ct")
        .to_string();
    let body = resp.bytes().await.expect("body");
    match format {
        "json" => {
            assert_eq!(ct, "application/json");
            let v: serde_json::Value = serde_json::from_slice(&body).expect("json");
            v.as_array()
                .expect("array")
                .iter()
                .map(|o| {
                    (
                        o["kommun"].as_str().expect("kommun").into(),
                        o["period"].as_str().expect("period").into(),
                        o["kon"].as_str().expect("kon").into(),
                        // Explicit null, not a missing key.
                        o.get("antal").expect("antal key").as_i64(),
                        o["antal_skyddad"].as_bool().expect("flag"),
                    )
                })
                .collect()
        }
        "csv" => {
            assert!(ct.starts_with("text/csv"), "{ct}");
            let mut r = csv::Reader::from_reader(&body[..]);
            let h = r.headers().expect("header").clone();
            let at = |n: &str| h.iter().position(|x| x == n).expect("column in header");
            r.records()
                .map(|rec| {
                    let rec = rec.expect("record");
                    let antal = &rec[at("antal")];
                    (
                        rec[at("kommun")].to_string(),
                        rec[at("period")].to_string(),
                        rec[at("kon")].to_string(),
                        (!antal.is_empty()).then(|| antal.parse().expect("number")),
                        rec[at("antal_skyddad")].parse().expect("bool"),
                    )
                })
                .collect()
        }
        "arrow" => {
            assert_eq!(ct, "application/vnd.apache.arrow.stream");
            let reader = StreamReader::try_new(std::io::Cursor::new(body.to_vec()), None)
                .expect("arrow stream");
            let batches: Vec<RecordBatch> = reader.map(|b| b.expect("batch")).collect();
            rows_of_batches(&batches)
        }
        "parquet" => {
            assert_eq!(ct, "application/vnd.apache.parquet");
            let reader = ParquetRecordBatchReaderBuilder::try_new(body)
                .expect("parquet")
                .build()
                .expect("reader");
            let batches: Vec<RecordBatch> = reader.map(|b| b.expect("batch")).collect();
            rows_of_batches(&batches)
        }
        other => panic!("format {other}"),
    }
}

mod access;
mod as_of;
mod hostile;
mod sql;
mod views;
