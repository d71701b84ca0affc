//! The PostgreSQL endpoint as BI tools and analysts reach it, with the real drivers: the
//! real `malgrupp serve` (pg_listen on a free port, SCRAM users from `MALGRUPP_PG_USERS`)
//! over a lake the shipped `kalmar_fs` pipeline published, driven by psycopg 3 +
//! SQLAlchemy 2 + pandas, the PostgreSQL JDBC driver, node-postgres and psql's describe
//! commands (client programs in `clients/`). Each compares its figures with the HTTP
//! API's answer for the same published view and checks that DDL, DML and the
//! record-level tables stay refused.
//!
//! `.ci/run` installs the clients; like the psql and Chromium tests, a test whose client
//! is missing fails and says how to install it.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;

use super::*;
use crate::daemon::{Service, Site, TOKEN};

/// The kommun whose figures the clients filter on (Kalmar, the sample pipeline's).
const KOMMUN: &str = "0880";
const JDBC_JAR: &str = "/usr/share/java/postgresql.jar";

fn clients_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/pgwire/clients")
}

/// `serve` with its HTTP API and PostgreSQL endpoint over a published lake.
struct Endpoint {
    _pipelines: tempfile::TempDir,
    _site: Site,
    service: Service,
    pg_port: u16,
    /// The first period of [`KOMMUN`] in the published `kartlaggning`.
    period: String,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

impl Endpoint {
    async fn start() -> Self {
        let pipelines = tempfile::tempdir().expect("tempdir");
        let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
        let pipeline = std::fs::read_to_string(repo.join("pipelines/kalmar_fs.toml"))
            .expect("kalmar_fs.toml")
            .replace(
                "path = \"samples/",
                &format!("path = \"{}/samples/", repo.display()),
            );
        std::fs::write(pipelines.path().join("kalmar_fs.toml"), pipeline).expect("pipeline");
        let pg_port = free_port();
        let site = Site::new(
            pipelines.path(),
            &format!("pg_listen = \"127.0.0.1:{pg_port}\""),
        );
        let run = site
            .command()
            .args(["run", "kalmar_fs"])
            .output()
            .expect("malgrupp run");
        assert!(run.status.success(), "{run:?}");
        let users = format!("{USER}:{PASSWORD}");
        let service = Service::start_with(&site, &[("MALGRUPP_PG_USERS", &users)]);
        let deadline = Instant::now() + Duration::from_secs(60);
        while std::net::TcpStream::connect(("127.0.0.1", pg_port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "the PostgreSQL endpoint never listened"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        let mut endpoint = Endpoint {
            _pipelines: pipelines,
            _site: site,
            service,
            pg_port,
            period: String::new(),
        };
        let rows = endpoint
            .http(&format!(
                "/api/v1/views/kartlaggning?kommun={KOMMUN}&limit=1"
            ))
            .await;
        endpoint.period = rows[0]["period"].as_str().expect("a period").to_string();
        endpoint
    }

    /// A GET of the HTTP API, as JSON.
    async fn http(&self, path: &str) -> Vec<Value> {
        let response = reqwest::Client::new()
            .get(self.service.url(path))
            .bearer_auth(TOKEN)
            .send()
            .await
            .expect("HTTP API");
        assert!(response.status().is_success(), "{path}: {response:?}");
        let body = response.bytes().await.expect("body");
        serde_json::from_slice(&body).expect("JSON")
    }

    /// The published `kartlaggning` rows of [`KOMMUN`] and the period, from the HTTP API.
    async fn published_rows(&self) -> Vec<Value> {
        self.http(&format!(
            "/api/v1/views/kartlaggning?kommun={KOMMUN}&period={}&limit=100000",
            self.period
        ))
        .await
    }

    /// The published views and the columns of `kartlaggning`, from the HTTP API.
    async fn published_tables(&self) -> (Vec<String>, Vec<String>) {
        let views = self.http("/api/v1/views").await;
        let mut names: Vec<String> = views
            .iter()
            .map(|v| v["name"].as_str().expect("name").to_string())
            .collect();
        names.sort();
        let columns = views
            .iter()
            .find(|v| v["name"] == "kartlaggning")
            .expect("kartlaggning is published")["columns"]
            .as_array()
            .expect("columns")
            .iter()
            .map(|c| c["name"].as_str().expect("column").to_string())
            .collect();
        (names, columns)
    }

    /// Runs a client program with the connection in the environment and returns the
    /// JSON object it prints.
    fn client(&self, program: &str, args: &[&str], missing: &str) -> Value {
        let mut command = Command::new(program);
        command
            .args(args)
            .current_dir(clients_dir())
            .env("PGHOST", "127.0.0.1")
            .env("PGPORT", self.pg_port.to_string())
            .env("PGUSER", USER)
            .env("PGPASSWORD", PASSWORD)
            .env("PGDATABASE", "malgrupp")
            .env("MALGRUPP_KOMMUN", KOMMUN)
            .env("MALGRUPP_PERIOD", &self.period)
            .stdin(Stdio::null());
        let out = command
            .output()
            .unwrap_or_else(|e| panic!("{program} cannot run ({e}): {missing}"));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            !stderr.contains("ModuleNotFoundError") && !stderr.contains("Cannot find module"),
            "{missing}\n{stderr}"
        );
        assert!(out.status.success(), "{program} {args:?} failed:\n{stderr}");
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "{program} printed no JSON ({e}):\n{}\n{stderr}",
                String::from_utf8_lossy(&out.stdout)
            )
        })
    }

    fn stop(self) {
        let (status, _) = self.service.terminate(Duration::from_secs(60));
        assert!(status.success(), "{status:?}");
    }
}

/// The sum of the unsuppressed counts, as a client's `sum(antal) … antal_skyddad = false`.
fn unsuppressed_sum(rows: &[Value]) -> i64 {
    rows.iter()
        .filter(|r| r["antal_skyddad"] == Value::Bool(false))
        .filter_map(|r| r["antal"].as_i64())
        .sum()
}

/// Every statement a client tried to change something with, or to read a record-level
/// table, was refused with the endpoint's SQLSTATE.
fn assert_refused(refused: &Value) {
    let refused = refused.as_object().expect("refusals");
    assert!(!refused.is_empty());
    for (sql, code) in refused {
        let want = if sql.contains("forsorjningsstod") {
            "42P01"
        } else {
            "25006"
        };
        assert_eq!(code, want, "{sql}");
    }
}

fn rows_as_set(rows: &[Value]) -> BTreeSet<String> {
    rows.iter().map(Value::to_string).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_sqlalchemy_and_pandas_read_what_the_http_api_publishes() {
    let e = Endpoint::start().await;
    let out = e.client(
        "python3",
        &["python_client.py"],
        "install the Python clients: python3 -m pip install 'psycopg[binary]' sqlalchemy pandas (.ci/run does)",
    );
    let published = e.published_rows().await;
    assert!(!published.is_empty());
    let version = out["version"].as_str().expect("version()");
    assert!(version.starts_with("PostgreSQL 16."), "{version}");
    assert!(version.contains("malgrupp"), "{version}");
    assert_eq!(
        out["current_setting"],
        out["server_version_num"].to_string()
    );
    assert_eq!(out["dialect_server_version"][0], 16, "{out}");
    assert_eq!(out["psycopg_sum"], unsuppressed_sum(&published), "{out}");
    assert_refused(&out["refused"]);

    let (tables, columns) = e.published_tables().await;
    let mut inspected: Vec<String> = out["tables"]
        .as_array()
        .expect("tables")
        .iter()
        .map(|t| t.as_str().expect("name").to_string())
        .collect();
    inspected.sort();
    assert_eq!(inspected, tables);
    let inspected: Vec<&str> = out["columns"]
        .as_array()
        .expect("columns")
        .iter()
        .map(|c| c["name"].as_str().expect("name"))
        .collect();
    assert_eq!(inspected, columns);
    // pandas.read_sql of the filtered query: the HTTP API's rows, value for value.
    let read = out["rows"].as_array().expect("rows");
    assert_eq!(read.len(), published.len());
    assert_eq!(rows_as_set(read), rows_as_set(&published));
    e.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jdbc_reads_the_catalog_and_runs_prepared_statements() {
    assert!(
        Path::new(JDBC_JAR).is_file(),
        "{JDBC_JAR} is missing: install Debian's libpostgresql-jdbc-java (.ci/run does)"
    );
    let e = Endpoint::start().await;
    let out = e.client(
        "java",
        &["-cp", JDBC_JAR, "JdbcClient.java"],
        "a Java 17 runtime (java) is needed to run the JDBC client",
    );
    let published = e.published_rows().await;
    let (tables, columns) = e.published_tables().await;
    assert!(
        out["product"]
            .as_str()
            .is_some_and(|p| p.starts_with("PostgreSQL 16.")),
        "{out}"
    );
    let listed: Vec<&str> = out["tables"]
        .as_array()
        .expect("tables")
        .iter()
        .map(|t| t["name"].as_str().expect("name"))
        .collect();
    assert_eq!(listed, tables, "getTables");
    let listed: Vec<&str> = out["columns"]
        .as_array()
        .expect("columns")
        .iter()
        .map(|c| c["name"].as_str().expect("name"))
        .collect();
    assert_eq!(listed, columns, "getColumns");
    let want = unsuppressed_sum(&published);
    assert_eq!(out["sum0"], want, "{out}");
    assert_eq!(out["sum1"], want, "{out}");
    assert_refused(&out["refused"]);
    assert_eq!(
        out["as_of"],
        serde_json::json!(["ok", "22023", "ok", published.len()]),
        "{out}"
    );
    e.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_postgres_runs_parameterized_queries() {
    assert!(
        clients_dir().join("node_modules/pg").is_dir(),
        "node-postgres is missing: npm install --prefix tests/it/pgwire/clients (.ci/run does)"
    );
    let e = Endpoint::start().await;
    let out = e.client(
        "node",
        &["node_client.js"],
        "Node.js (node) is needed to run the node-postgres client",
    );
    let published = e.published_rows().await;
    assert!(
        out["server_version"]
            .as_str()
            .is_some_and(|v| v.starts_with("16.")),
        "{out}"
    );
    assert_eq!(out["sum"], unsuppressed_sum(&published), "{out}");
    assert_eq!(out["rows"], published.len(), "{out}");
    assert_refused(&out["refused"]);
    e.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn psql_describe_commands_show_the_published_views() {
    let e = Endpoint::start().await;
    let port = e.pg_port.to_string();
    let psql = |sql: &str| run_psql(&port, USER, PASSWORD, sql);
    let (tables, columns) = e.published_tables().await;
    let names = |out: &Psql| -> Vec<String> {
        out.lines()
            .iter()
            .map(|l| {
                l.split('|')
                    .nth(1)
                    .expect("schema|name|type|owner")
                    .to_string()
            })
            .collect()
    };
    for command in ["\\d", "\\dt"] {
        let out = psql(command);
        assert_eq!(names(&out), tables, "{command}: {out:?}");
        // The owner shown is the user connected.
        assert!(
            out.lines()
                .iter()
                .all(|l| l.starts_with("public|") && l.ends_with(&format!("|table|{USER}"))),
            "{command}: {out:?}"
        );
    }
    for command in ["\\d kartlaggning", "\\d+ kartlaggning"] {
        let out = psql(command);
        let described: Vec<&str> = out
            .lines()
            .iter()
            .map(|l| l.split('|').next().expect("column"))
            .collect();
        assert_eq!(described, columns, "{command}: {out:?}");
    }
    let plus = psql("\\d+ kartlaggning");
    assert!(
        plus.lines()
            .iter()
            .any(|l| l.starts_with("antal|bigint|") && l.contains("|plain|")),
        "{plus:?}"
    );
    // The published views are tables to psql (docs/bi.md): \dv lists none.
    let views = psql("\\dv");
    assert!(views.ok && views.stdout.trim().is_empty(), "{views:?}");
    assert!(
        psql("\\l")
            .lines()
            .iter()
            .any(|l| l.starts_with("malgrupp|")),
        "\\l"
    );
    assert_eq!(psql("\\dn").lines(), [format!("public|{USER}")]);

    let published = e.published_rows().await;
    let sum = psql(&format!(
        "select sum(antal) from kartlaggning where kommun = '{KOMMUN}' and period = '{}' and antal_skyddad = false",
        e.period
    ));
    assert_eq!(sum.lines(), [unsuppressed_sum(&published).to_string()]);
    let r = psql("create table x (a int)");
    assert!(r.error().contains("read-only"), "{r:?}");
    let r = psql("select * from forsorjningsstod");
    assert!(r.error().contains("not found"), "{r:?}");
    // `||` is evaluated, NULL-strict, within the limits.
    assert_eq!(
        psql("select 'a' || 'b', ('a' || null) is null").lines(),
        ["ab|t"]
    );
    e.stop();
}
