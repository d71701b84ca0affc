//! The PostgreSQL endpoint end to end with the real `psql` client (Debian's
//! postgresql-client): a lake built by the shipped `kalmar_fs` pipeline, whose run
//! publishes the aggregate views and leaves the record-level `forsorjningsstod` table in
//! the lake; `serve_pg` on 127.0.0.1, port 0.
//!
//! Covers password authentication, listing the views through the catalog emulation,
//! filtered selects agreeing with DataFusion over the same file, refusing every change
//! and the record-level table, and the row, time and memory limits with the server
//! staying up.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use malgrupp::pgwire::{PgConfig, serve_pg};
use malgrupp::serve::QueryLimits;

use crate::common::{TestLake, scalar_in};

const PSQL: &str = "/usr/bin/psql";
const USER: &str = "grafana";
const PASSWORD: &str = "Ett långt lösenord 42";

/// The endpoint on an ephemeral port, stopped (and checked to stop cleanly) by `stop`.
struct Server {
    port: u16,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<malgrupp::Result<()>>,
}

impl Server {
    async fn start(published: &Path, limits: QueryLimits) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let config = PgConfig {
            listen: "127.0.0.1:0".parse().expect("addr"),
            published_dir: published.to_path_buf(),
            users: vec![
                ("metabase".into(), "another password".into()),
                (USER.into(), PASSWORD.into()),
            ],
            limits,
            runtime: None,
        };
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(serve_pg(listener, config, async {
            let _ = rx.await;
        }));
        Server {
            port,
            stop: Some(tx),
            task,
        }
    }

    /// `psql -c sql` as `USER`.
    async fn psql(&self, sql: &str) -> Psql {
        self.psql_as(USER, PASSWORD, sql).await
    }

    async fn psql_as(&self, user: &str, password: &str, sql: &str) -> Psql {
        let (port, user, password, sql) = (
            self.port.to_string(),
            user.to_string(),
            password.to_string(),
            sql.to_string(),
        );
        tokio::task::spawn_blocking(move || run_psql(&port, &user, &password, &sql))
            .await
            .expect("psql thread")
    }

    async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        let result = tokio::time::timeout(Duration::from_secs(10), &mut self.task)
            .await
            .expect("shutdown in time");
        result.expect("join").expect("serve_pg ended cleanly");
    }
}

/// What one `psql` run did.
#[derive(Debug)]
struct Psql {
    ok: bool,
    stdout: String,
    stderr: String,
}

impl Psql {
    /// The output lines, after checking the run succeeded.
    fn lines(&self) -> Vec<&str> {
        assert!(self.ok, "psql failed: {}", self.stderr);
        self.stdout.lines().collect()
    }

    /// The error, after checking the run failed.
    fn error(&self) -> &str {
        assert!(!self.ok, "psql should have failed; stdout: {}", self.stdout);
        assert!(!self.stderr.trim().is_empty(), "no error message");
        &self.stderr
    }
}

/// Runs the real client: unaligned, tuples only, stop at the first error, no psqlrc, no
/// service file or password file of whoever runs the tests.
fn run_psql(port: &str, user: &str, password: &str, sql: &str) -> Psql {
    assert!(
        Path::new(PSQL).exists(),
        "{PSQL} is missing: install Debian's postgresql-client"
    );
    let home = tempfile::tempdir().expect("home");
    let mut child = Command::new(PSQL)
        .args(["-X", "-A", "-t", "-v", "ON_ERROR_STOP=1"])
        .args(["-h", "127.0.0.1", "-p", port, "-U", user, "-d", "malgrupp"])
        .args(["-c", sql])
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("HOME", home.path())
        .env("PGPASSWORD", password)
        .env("PGCONNECT_TIMEOUT", "10")
        .env("PGAPPNAME", "malgrupp-tests")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start psql");
    let started = Instant::now();
    while child.try_wait().expect("wait").is_none() {
        if started.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            panic!("psql -c {sql:?} hung for a minute");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().expect("psql output");
    Psql {
        ok: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// A lake after the `kalmar_fs` pipeline: published views, and `forsorjningsstod`
/// (record level) in the lake.
async fn published_lake() -> (TestLake, PathBuf) {
    let t = TestLake::new();
    let (outcome, out) = t.run(&["kalmar_fs"]).await;
    assert!(outcome.success(), "{out}");
    let dir = malgrupp::publish::dir(&t.lake());
    assert!(!crate::common::period_files(&dir, "kartlaggning", "parquet").is_empty());
    (t, dir)
}

/// A figure straight from the published file with DataFusion.
async fn figure(published: &Path, sql: &str) -> Option<i64> {
    let ctx = datafusion::prelude::SessionContext::new();
    // One file per period, read as one table.
    ctx.register_parquet(
        "kartlaggning",
        &format!("{}/", published.join("kartlaggning").display()),
        datafusion::prelude::ParquetReadOptions::default(),
    )
    .await
    .expect("register");
    scalar_in(&ctx, sql).await
}

fn limits(max_rows: usize) -> QueryLimits {
    QueryLimits {
        max_rows,
        ..QueryLimits::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn psql_reads_the_published_views() {
    let (t, published) = published_lake().await;
    let s = Server::start(&published, limits(100_000)).await;

    assert_eq!(s.psql("select 1").await.lines(), ["1"]);

    // Listing: psql's own catalog query, and information_schema as BI tools use it.
    let listed = s.psql("\\dt").await;
    let tables: Vec<&str> = listed
        .lines()
        .iter()
        .map(|l| l.split('|').nth(1).expect("schema|name|type|owner"))
        .collect();
    assert_eq!(
        tables,
        [
            "bilaga1_fs_orsak",
            "kartlaggning",
            "kartlaggning_kon",
            "uppfoljning"
        ],
        "{listed:?}"
    );
    let names = s
        .psql(
            "select table_name from information_schema.tables \
             where table_schema = 'public' order by table_name",
        )
        .await;
    assert_eq!(
        names.lines(),
        [
            "bilaga1_fs_orsak",
            "kartlaggning",
            "kartlaggning_kon",
            "uppfoljning"
        ]
    );
    let columns = s
        .psql(
            "select column_name from information_schema.columns \
             where table_name = 'kartlaggning' order by ordinal_position",
        )
        .await;
    for c in ["kommun", "period", "antal", "antal_skyddad"] {
        assert!(columns.lines().contains(&c), "{c}: {columns:?}");
    }

    // A filtered figure agrees with DataFusion over the same published file.
    let sql = "select sum(antal) from kartlaggning where kommun = '0880' and antal_skyddad = false";
    let want = figure(&published, sql).await.expect("a total");
    assert!(want > 0);
    assert_eq!(s.psql(sql).await.lines(), [want.to_string()]);
    let rows = s
        .psql("select kommun, period, antal from kartlaggning where kommun = '0880' limit 5")
        .await;
    assert_eq!(rows.lines().len(), 5, "{rows:?}");
    assert!(
        rows.lines().iter().all(|l| l.starts_with("0880|")),
        "{rows:?}"
    );
    drop(t);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn psql_is_refused_everything_but_reading_published_views() {
    let (t, published) = published_lake().await;
    let s = Server::start(&published, limits(100_000)).await;
    let count = "select count(*) from kartlaggning";
    let before = s.psql(count).await.lines().join("");

    // Wrong password, unknown user: the same answer.
    for (user, password) in [
        (USER, "wrong"),
        ("postgres", "postgres"),
        ("nobody", PASSWORD),
    ] {
        let r = s.psql_as(user, password, "select 1").await;
        assert!(
            r.error().contains("password authentication failed"),
            "{user}: {r:?}"
        );
    }

    let copy_target = t.dir.path().join("copied.csv");
    let copy = format!("COPY kartlaggning TO '{}'", copy_target.display());
    for sql in [
        "CREATE TABLE x(a int)",
        "CREATE TABLE y AS SELECT * FROM kartlaggning",
        "CREATE VIEW v AS SELECT 1",
        "INSERT INTO kartlaggning (kommun) VALUES ('0880')",
        "DELETE FROM kartlaggning",
        "DROP TABLE kartlaggning",
        copy.as_str(),
        "COPY kartlaggning TO STDOUT",
        "SET datafusion.runtime.memory_limit = '100G'",
    ] {
        let r = s.psql(sql).await;
        assert!(
            r.error().contains("read-only") || r.error().contains("not allowed"),
            "{sql}: {r:?}"
        );
    }
    // SELECT … INTO plans as a CREATE TABLE: refused by the plan check.
    let r = s.psql("SELECT * INTO z FROM kartlaggning").await;
    assert!(r.error().contains("read-only"), "{r:?}");
    assert!(!copy_target.exists(), "COPY wrote a file");

    // Record-level tables, files and other catalogs are not there.
    for sql in [
        "select * from forsorjningsstod",
        "select count(*) from kaa",
        "select * from lake.forsorjningsstod",
    ] {
        let r = s.psql(sql).await;
        assert!(r.error().contains("not found"), "{sql}: {r:?}");
    }
    let r = s
        .psql(&format!(
            "select * from '{}'",
            crate::common::period_files(&published, "kartlaggning", "parquet")[0].display()
        ))
        .await;
    assert!(r.error().contains("not found"), "{r:?}");

    // Nothing changed, and the connection path still works.
    assert_eq!(s.psql(count).await.lines().join(""), before);
    assert_eq!(s.psql("select 1").await.lines(), ["1"]);
    // Client session settings that drivers send are accepted.
    let r = s
        .psql("SET extra_float_digits = 3; SET application_name = 'x'; SET client_min_messages = warning; select 2")
        .await;
    assert_eq!(r.lines(), ["SET", "SET", "SET", "2"]);
    drop(t);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn psql_oversized_queries_fail_clearly_and_the_server_stays_up() {
    let (t, published) = published_lake().await;

    // Rows and time.
    let quick = QueryLimits {
        timeout: Duration::from_millis(1500),
        max_rows: 100,
        ..QueryLimits::default()
    };
    let s = Server::start(&published, quick).await;
    let r = s.psql("select value from generate_series(1, 1000)").await;
    assert!(r.error().contains("more than 100 rows"), "{r:?}");
    assert_eq!(
        s.psql("select value from generate_series(1, 100)")
            .await
            .lines()
            .len(),
        100,
        "exactly the limit is fine"
    );
    assert_eq!(
        s.psql("select count(*) from kartlaggning a, kartlaggning b")
            .await
            .lines()
            .len(),
        1,
        "an aggregate over many rows is fine"
    );
    let started = Instant::now();
    let r = s
        .psql(
            "select sum(a.value * b.value) from generate_series(1, 1000000) a, \
             generate_series(1, 1000000) b",
        )
        .await;
    assert!(r.error().contains("longer than the limit"), "{r:?}");
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(s.psql("select 1").await.lines(), ["1"]);
    s.stop().await;

    // Memory: a distinct count over two million values needs far more than 1 MiB.
    let tiny = QueryLimits {
        memory_bytes: 1024 * 1024,
        ..QueryLimits::default()
    };
    let s = Server::start(&published, tiny).await;
    let r = s
        .psql("select count(distinct value) from generate_series(1, 2000000)")
        .await;
    assert!(r.error().contains("more memory than the limit"), "{r:?}");
    assert_eq!(s.psql("select 1").await.lines(), ["1"]);
    drop(t);
    s.stop().await;
}

/// A driver speaking the extended protocol (prepared statements, binary results), as
/// the JDBC and Npgsql drivers of BI tools do.
async fn driver(port: u16) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::Config::new()
        .host("127.0.0.1")
        .port(port)
        .user(USER)
        .password(PASSWORD)
        .dbname("malgrupp")
        .connect(tokio_postgres::NoTls)
        .await
        .expect("connect");
    tokio::spawn(connection);
    client
}

fn sqlstate(e: &tokio_postgres::Error) -> (String, String) {
    let db = e
        .as_db_error()
        .unwrap_or_else(|| panic!("not a server error: {e}"));
    (db.code().code().to_string(), db.message().to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn extended_protocol_reads_with_parameters_and_is_refused_the_rest() {
    let (t, published) = published_lake().await;
    let quick = QueryLimits {
        timeout: Duration::from_millis(1500),
        max_rows: 100,
        ..QueryLimits::default()
    };
    let s = Server::start(&published, quick).await;
    let c = driver(s.port).await;

    let sql = "select sum(antal) from kartlaggning where kommun = '0880' and antal_skyddad = false";
    let want = figure(&published, sql).await;
    let row = c
        .query_one(
            "select sum(antal) from kartlaggning where kommun = $1 and antal_skyddad = $2",
            &[&"0880", &false],
        )
        .await
        .expect("prepared select");
    assert_eq!(row.get::<_, Option<i64>>(0), want);
    let rows = c
        .query(
            "select kommun, antal_skyddad from kartlaggning where kommun = $1 limit 3",
            &[&"0880"],
        )
        .await
        .expect("rows");
    assert_eq!(rows.len(), 3);
    assert!(rows.iter().all(|r| r.get::<_, String>(0) == "0880"));

    for sql in [
        "CREATE TABLE x(a int)",
        "INSERT INTO kartlaggning (kommun) VALUES ('0880')",
        "DROP TABLE kartlaggning",
        "COPY kartlaggning TO STDOUT",
        "SELECT 1 INTO y",
    ] {
        let e = c.execute(sql, &[]).await.expect_err(sql);
        let (code, msg) = sqlstate(&e);
        assert_eq!(code, "25006", "{sql}: {msg}");
        assert!(msg.contains("read-only"), "{sql}: {msg}");
    }
    let e = c
        .query("select * from forsorjningsstod", &[])
        .await
        .expect_err("record level");
    assert_eq!(sqlstate(&e).0, "42P01", "{e}");

    let e = c
        .query("select value from generate_series(1, 1000)", &[])
        .await
        .expect_err("rows");
    let (code, msg) = sqlstate(&e);
    assert_eq!(code, "54000", "{msg}");
    assert!(msg.contains("more than 100 rows"), "{msg}");
    let e = c
        .query(
            "select sum(a.value * b.value) from generate_series(1, 1000000) a, \
             generate_series(1, 1000000) b",
            &[],
        )
        .await
        .expect_err("time");
    let (code, msg) = sqlstate(&e);
    assert_eq!(code, "57014", "{msg}");

    // The same connection goes on, and sees what a publish run changes meanwhile.
    let row = c.query_one("select 1::bigint", &[]).await.expect("after");
    assert_eq!(row.get::<_, i64>(0), 1);
    let staged = published.join(".tmp-extra.parquet.partial");
    std::fs::copy(
        &crate::common::period_files(&published, "kartlaggning_kon", "parquet")[0],
        &staged,
    )
    .expect("copy");
    std::fs::rename(&staged, published.join("extra.parquet")).expect("publish");
    std::fs::remove_dir_all(published.join("bilaga1_fs_orsak")).expect("unpublish");
    let row = c
        .query_one("select count(*) from extra", &[])
        .await
        .expect("a view published while connected");
    assert!(row.get::<_, i64>(0) > 0);
    let e = c
        .query("select * from bilaga1_fs_orsak", &[])
        .await
        .expect_err("removed");
    assert_eq!(sqlstate(&e).0, "42P01", "{e}");
    drop(c);
    drop(t);
    s.stop().await;
}

#[tokio::test]
async fn serve_pg_refuses_to_start_without_users() {
    let dir = tempfile::tempdir().expect("tempdir");
    for users in [vec![], vec![("u".to_string(), String::new())]] {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let config = PgConfig {
            published_dir: dir.path().to_path_buf(),
            users,
            ..PgConfig::default()
        };
        let err = serve_pg(listener, config, async {})
            .await
            .expect_err("no server without a password");
        let msg = err.to_string();
        assert!(msg.contains("pg.users"), "{msg}");
    }
}

mod as_of;
mod drivers;
mod hostile;
mod logs;
