//! Shared helpers: a settings object rooted in a temporary directory that uses the
//! repository's shipped pipelines, views and sample extracts.

use std::path::PathBuf;

use datafusion::arrow::array::{Array, Int64Array};
use datafusion::arrow::record_batch::RecordBatch;
use malgrupp::cli::run::RunOutcome;
use malgrupp::config::Settings;
use malgrupp::lake::Lake;
use malgrupp::normalize::pseudonym::KeySource;

/// A lake in a temp dir; pipelines and views from the repository.
pub struct TestLake {
    /// Keeps the directory alive.
    pub dir: tempfile::TempDir,
    /// Settings pointing into it.
    pub settings: Settings,
}

impl TestLake {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut settings = Settings::defaults_at(std::path::Path::new(""));
        settings.lake_root = dir.path().join("data");
        settings.key_source = KeySource::File {
            path: dir.path().join("key/pseudonym.key"),
            explicit: false,
        };
        settings.pipelines_dir = PathBuf::from("pipelines");
        settings.sql_dir = PathBuf::from("sql");
        TestLake { dir, settings }
    }

    pub fn lake(&self) -> Lake {
        Lake::new(&self.settings.lake_root)
    }

    pub async fn run(&self, names: &[&str]) -> (RunOutcome, String) {
        let mut out = Vec::new();
        let names: Vec<String> = names.iter().map(|s| s.to_string()).collect();
        let outcome = malgrupp::cli::run::execute(&self.settings, &names, &mut out)
            .await
            .expect("run executes");
        (outcome, String::from_utf8(out).expect("utf-8 output"))
    }

    /// Publishes twice: `kalmar_fs`, then `kalmar_kaa`, which changes the kartläggning.
    /// Returns a moment before the first publish and one between the two.
    pub async fn publish_twice(
        &self,
    ) -> (chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>) {
        let before = chrono::Utc::now() - chrono::Duration::seconds(1);
        let (outcome, out) = self.run(&["kalmar_fs"]).await;
        assert!(outcome.success(), "{out}");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        let between = chrono::Utc::now();
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        let (outcome, out) = self.run(&["kalmar_kaa"]).await;
        assert!(outcome.success(), "{out}");
        (before, between)
    }

    /// A session over the lake with every view; reuse it for many queries.
    pub async fn session(&self) -> datafusion::prelude::SessionContext {
        let (ctx, problems) = malgrupp::query::open(
            &self.lake(),
            &self.settings.sql_dir,
            &self.settings.agreements_dir,
        )
        .await
        .expect("open");
        assert!(problems.is_empty(), "view problems: {problems}");
        ctx
    }

    pub async fn query(&self, sql: &str) -> Vec<RecordBatch> {
        query_in(&self.session().await, sql).await
    }

    /// A single BIGINT (or NULL) from a query returning one row and one column.
    pub async fn scalar(&self, sql: &str) -> Option<i64> {
        scalar_in(&self.session().await, sql).await
    }
}

/// Every file under `dir`, recursively.
pub fn files_under(dir: &std::path::Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(files_under(&p));
            } else {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// Every file under `dir` (recursively, in path order) as (path relative to `dir`,
/// content).
pub fn contents_under(dir: &std::path::Path) -> Vec<(String, Vec<u8>)> {
    files_under(dir)
        .into_iter()
        .map(|f| {
            let name = f.strip_prefix(dir).expect("inside").display().to_string();
            (name, std::fs::read(&f).expect("read"))
        })
        .collect()
}

/// The `.<ext>` files of a view published per period (`<published>/<view>/<period>.<ext>`),
/// in period order.
pub fn period_files(published: &std::path::Path, view: &str, ext: &str) -> Vec<PathBuf> {
    files_under(&published.join(view))
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == ext))
        .collect()
}

/// Whether `view` is published in `published`: as one file, or a directory of periods.
pub fn is_published(published: &std::path::Path, view: &str) -> bool {
    published.join(format!("{view}.parquet")).is_file()
        || !period_files(published, view, "parquet").is_empty()
}

/// A view published per period as one CSV text: the header once, then every period's
/// rows in period order.
pub fn published_csv(published: &std::path::Path, view: &str) -> String {
    let mut out = String::new();
    for (i, f) in period_files(published, view, "csv").iter().enumerate() {
        let text = std::fs::read_to_string(f).expect("published csv");
        let body = if i == 0 {
            text.as_str()
        } else {
            text.split_once('\n').map_or("", |(_, rest)| rest)
        };
        out.push_str(body);
    }
    out
}

/// Runs `sql` in an open session.
pub async fn query_in(ctx: &datafusion::prelude::SessionContext, sql: &str) -> Vec<RecordBatch> {
    ctx.sql(sql)
        .await
        .expect("plan")
        .collect()
        .await
        .expect("execute")
}

/// A single BIGINT (or NULL) from a query returning one row and one column.
pub async fn scalar_in(ctx: &datafusion::prelude::SessionContext, sql: &str) -> Option<i64> {
    let batches = query_in(ctx, sql).await;
    let rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
    assert_eq!(rows, 1, "expected exactly one row from {sql}");
    let b = batches.iter().find(|b| b.num_rows() > 0).expect("a row");
    let col = b
        .column(0)
        .as_any()
        .downcast_ref::<Int64Array>()
        .expect("BIGINT column");
    if col.is_null(0) {
        None
    } else {
        Some(col.value(0))
    }
}

/// A copy of the shipped `kalmar_timanstallda` pipeline named `hr`, reading over HTTP from
/// `url` (source retries `retries`, `[retry] attempts = run_retries` without backoff, no
/// schedule), written to `dir`.
pub fn http_pipeline(
    dir: &std::path::Path,
    url: &str,
    timeout_secs: u64,
    retries: u32,
    run_retries: u32,
) {
    http_pipeline_with(dir, url, "", timeout_secs, retries, run_retries);
}

/// [`http_pipeline`] with `extra` lines in its `[source]` (e.g. headers).
pub fn http_pipeline_with(
    dir: &std::path::Path,
    url: &str,
    extra: &str,
    timeout_secs: u64,
    retries: u32,
    run_retries: u32,
) {
    std::fs::create_dir_all(dir).expect("mkdir");
    let text = std::fs::read_to_string("pipelines/kalmar_timanstallda.toml").expect("shipped");
    let source = format!(
        "type = \"http\"\nurl = \"{url}\"\ntimeout_secs = {timeout_secs}\nretries = {retries}\n{extra}"
    );
    let text = text
        .replace(
            "type = \"file\"\npath = \"samples/kalmar/timanstallda_*.csv\"",
            source.trim_end(),
        )
        .replace(
            "period = { file_name = 'timanstallda_(\\d{4}-\\d{2})\\.csv$' }",
            "period = { constant = \"2015-05\" }",
        )
        .replace("[schedule]\ncron = \"50 2 * * *\"\n", "");
    assert!(text.contains("type = \"http\"") && !text.contains("[schedule]"));
    let text = format!("{text}\n[retry]\nattempts = {run_retries}\nbackoff_secs = 0\n");
    std::fs::write(dir.join("hr.toml"), text).expect("write");
}

/// A TCP connection to `server` from the loopback address `from` (e.g. 127.0.0.2), so a
/// flood comes from another address than the legitimate client on 127.0.0.1.
pub async fn connect_from(from: &str, server: std::net::SocketAddr) -> tokio::net::TcpStream {
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket
        .bind(format!("{from}:0").parse().expect("address"))
        .expect("bind a loopback address");
    socket.connect(server).await.expect("connect")
}

/// Whether the server closes `socket` within `within`: reads (and discards any answer)
/// until the end or a reset.
pub async fn closed_by_server(
    socket: &mut tokio::net::TcpStream,
    within: std::time::Duration,
) -> bool {
    use tokio::io::AsyncReadExt;
    let mut buf = [0u8; 1024];
    let read_to_end = async {
        loop {
            match socket.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    };
    tokio::time::timeout(within, read_to_end).await.is_ok()
}
