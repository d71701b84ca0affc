//! The lake's object-storage protocol against a real S3 API: moto's server (PyPI
//! `moto[server]`, installed by `.ci/run`) on a free localhost port. Each test opens its
//! clients through `ObjectLocation::open` with the environment a deployment would set, so
//! the conditional PUTs travel as real `If-None-Match` / `If-Match` headers.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use malgrupp::lake::lease::Lease;
use malgrupp::lake::location::{Location, ObjectLocation};
use object_store::ObjectStore;

/// A moto S3 server with one bucket, `lake`; stopped when dropped.
pub struct Moto {
    child: std::process::Child,
    endpoint: String,
}

impl Moto {
    /// Starts the server and creates the bucket. Panics with what to install when moto is
    /// missing: a test that cannot reach S3 must fail, not pass silently.
    pub async fn start() -> Moto {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        Self::start_on(port).await
    }

    /// [`Moto::start`] on `port`: a server stopped and started again on its port is a
    /// store that was down and is back (empty, with its bucket).
    pub async fn start_on(port: u16) -> Moto {
        let child = std::process::Command::new("python3")
            .args([
                "-m",
                "moto.server",
                "-H",
                "127.0.0.1",
                "-p",
                &port.to_string(),
            ])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("python3 -m moto.server (pip install 'moto[server]', as .ci/run does)");
        let moto = Moto {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
        };
        let client = reqwest::Client::new();
        for _ in 0..300 {
            // moto does not check signatures: an unsigned PUT creates the bucket.
            if let Ok(r) = client.put(format!("{}/lake", moto.endpoint)).send().await {
                assert!(
                    r.status().is_success(),
                    "creating the bucket: {}",
                    r.status()
                );
                return moto;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!(
            "moto did not answer on {} within 30 s (is moto[server] installed?)",
            moto.endpoint
        );
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.endpoint
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .expect("port")
    }

    /// The environment a deployment would give `malgrupp` for this endpoint.
    pub fn env(&self) -> Vec<(String, String)> {
        [
            ("AWS_ENDPOINT", self.endpoint.as_str()),
            ("AWS_ALLOW_HTTP", "true"),
            ("AWS_ACCESS_KEY_ID", "malgrupp-test"),
            ("AWS_SECRET_ACCESS_KEY", "malgrupp-test"),
            ("AWS_REGION", "eu-north-1"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    /// [`Moto::env`] as Python's delta-rs reads it (`AWS_ENDPOINT_URL`).
    pub fn python_env(&self) -> Vec<(String, String)> {
        self.env()
            .into_iter()
            .map(|(k, v)| match k.as_str() {
                "AWS_ENDPOINT" => ("AWS_ENDPOINT_URL".to_string(), v),
                _ => (k, v),
            })
            .collect()
    }

    /// The lease `name` under `s3://lake/<prefix>` taken by another host, `holder`, for
    /// one second.
    pub async fn hold_lease(&self, prefix: &str, name: &str, holder: &str) -> Lease {
        let (store, object) = self.host(prefix);
        Lease::try_acquire(
            store,
            &object,
            name,
            holder,
            Duration::from_secs(1),
            Utc::now(),
        )
        .await
        .expect("store")
        .expect("free")
    }

    /// A client of `s3://lake/<prefix>`, as a separate host would open it.
    pub fn host(&self, prefix: &str) -> (Arc<dyn ObjectStore>, ObjectLocation) {
        let Ok(Location::Object(location)) = Location::parse(&format!("s3://lake/{prefix}")) else {
            panic!("s3 location");
        };
        (location.open(self.env()).expect("client"), location)
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const TTL: Duration = Duration::from_secs(60);

#[tokio::test]
async fn a_pipeline_lease_on_s3_is_held_by_one_host_and_taken_over_only_after_expiry() {
    let moto = Moto::start().await;
    a_lease_is_held_by_one_host_and_taken_over_only_after_expiry(|| moto.host("kommun")).await;
}

#[tokio::test]
async fn of_hosts_racing_on_s3_for_a_free_or_an_expired_lease_exactly_one_wins() {
    let moto = Moto::start().await;
    of_hosts_racing_for_a_lease_exactly_one_wins(|| moto.host("race")).await;
}

/// The lease protocol on the store `host` opens a client of (each call a host of its
/// own): one holder, renewals, a takeover only after expiry, releases.
pub async fn a_lease_is_held_by_one_host_and_taken_over_only_after_expiry(
    host: impl Fn() -> (Arc<dyn ObjectStore>, ObjectLocation),
) {
    let (store_a, lake) = host();
    let (store_b, _) = host();
    let now = Utc::now();
    let take = |store: &Arc<dyn ObjectStore>, who: &'static str, at| {
        Lease::try_acquire(store.clone(), &lake, "fs", who, TTL, at)
    };
    let mut a = take(&store_a, "host a", now)
        .await
        .expect("store")
        .expect("free");
    let busy = take(&store_b, "host b", now)
        .await
        .expect("store")
        .expect_err("held by a");
    assert!(
        busy.text.starts_with("host a (lease until "),
        "{}",
        busy.text
    );
    a.renew(now + chrono::Duration::seconds(50))
        .await
        .expect("store")
        .expect("still a's");
    take(&store_b, "host b", now + chrono::Duration::seconds(100))
        .await
        .expect("store")
        .expect_err("renewed");
    // Host a stops renewing: once expired, host b takes over, and a learns it at renewal.
    let later = now + chrono::Duration::seconds(111);
    let b = take(&store_b, "host b", later)
        .await
        .expect("store")
        .expect("expired: taken over");
    let lost = a.renew(later).await.expect("store").expect_err("lost to b");
    assert!(lost.text.starts_with("host b "), "{}", lost.text);
    // a's release after losing leaves b's lease in force; b's own release frees it.
    a.release().await.expect("store");
    take(&store_a, "host c", later)
        .await
        .expect("store")
        .expect_err("still b's");
    b.release().await.expect("store");
    take(&store_a, "host c", later)
        .await
        .expect("store")
        .expect("released");
}

/// Eight hosts race for a free lease, then for an expired one: exactly one wins each.
pub async fn of_hosts_racing_for_a_lease_exactly_one_wins(
    host: impl Fn() -> (Arc<dyn ObjectStore>, ObjectLocation),
) {
    let (_, lake) = host();
    let start = Utc::now();
    for (round, now) in [(0, start), (1, start + chrono::Duration::seconds(1000))] {
        // Every racer has its own client, as separate hosts would.
        let racers = (0..8).map(|i| {
            let (store, lake) = (host().0, lake.clone());
            tokio::spawn(async move {
                let who = format!("host {round}-{i}");
                Lease::try_acquire(store, &lake, "publish", &who, TTL, now)
                    .await
                    .expect("store")
                    .is_ok()
            })
        });
        let mut winners = 0;
        for racer in racers {
            winners += usize::from(racer.await.expect("join"));
        }
        assert_eq!(winners, 1, "round {round}");
    }
}

#[tokio::test]
async fn an_unreachable_store_is_an_error_naming_the_object_not_a_free_lease() {
    // Nothing listens on the port of a server that has been stopped.
    let moto = Moto::start().await;
    let (store, lake) = moto.host("gone");
    drop(moto);
    let e = Lease::try_acquire(store, &lake, "fs", "host a", TTL, Utc::now())
        .await
        .expect_err("no store");
    assert!(
        e.to_string()
            .contains("s3://lake/gone/_meta/locks/fs.lease"),
        "{e}"
    );
}

#[tokio::test]
async fn a_kept_lease_whose_store_went_away_is_reported_lost_before_it_expires() {
    let moto = Moto::start().await;
    let (store, lake) = moto.host("kept");
    let ttl = Duration::from_secs(2);
    let lease = Lease::try_acquire(store, &lake, "fs", "host a", ttl, Utc::now())
        .await
        .expect("store")
        .expect("free");
    let expires = lease.expires();
    let mut kept = lease.keep(ttl);
    tokio::time::sleep(ttl).await;
    assert_eq!(kept.check(), Ok(()), "renewed while the store answers");
    drop(moto);
    // The client retries a refused connection for minutes; the keeper does not wait.
    let reason = tokio::time::timeout(ttl * 2, kept.lost())
        .await
        .expect("reported lost");
    let seen = Utc::now();
    assert!(
        reason.contains("not renewed before it expired at "),
        "{reason}"
    );
    // Reported before the expiry it names, so before another host may take it over.
    let named = reason
        .split("expired at ")
        .nth(1)
        .and_then(|rest| rest.split(" UTC").next())
        .and_then(|t| chrono::NaiveDateTime::parse_from_str(t, "%Y-%m-%d %H:%M:%S%.f").ok())
        .expect("expiry in the reason")
        .and_utc();
    assert!(seen < named, "seen {seen}, expiry {named}");
    assert!(
        named > expires,
        "it had been renewed while the store answered"
    );
    assert!(kept.check().is_err());
}

/// The columns of the test tables' files (`kommun` is their partition column).
pub fn kaa_schema() -> datafusion::arrow::datatypes::Schema {
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    Schema::new(vec![
        Field::new("person_id", DataType::Utf8, false),
        Field::new("alder", DataType::Int32, true),
    ])
}

/// Parquet bytes of one kommun's rows with these ages.
fn parquet(ages: &[i32]) -> Vec<u8> {
    use datafusion::arrow::array::{Int32Array, StringArray};
    use datafusion::arrow::record_batch::RecordBatch;
    let schema = Arc::new(kaa_schema());
    let ids: Vec<String> = ages.iter().map(|a| format!("p{a}")).collect();
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(StringArray::from(ids)),
            Arc::new(Int32Array::from(ages.to_vec())),
        ],
    )
    .expect("batch");
    let mut bytes = Vec::new();
    let mut writer =
        datafusion::parquet::arrow::ArrowWriter::try_new(&mut bytes, schema, None).expect("writer");
    writer.write(&batch).expect("write");
    writer.close().expect("close");
    bytes
}

/// Writes `<table>/kommun=<kommun>/<name>.parquet` into `store` and returns it as the
/// data file a commit adds.
pub async fn put_kaa(
    store: &Arc<dyn ObjectStore>,
    table: &object_store::path::Path,
    kommun: &str,
    name: &str,
    ages: &[i32],
) -> malgrupp::lake::delta::DataFile {
    use object_store::{ObjectStoreExt, PutPayload};
    let relative = format!("kommun={kommun}/{name}.parquet");
    let bytes = parquet(ages);
    let size = bytes.len() as u64;
    store
        .put(
            &table
                .clone()
                .join(format!("kommun={kommun}"))
                .join(format!("{name}.parquet")),
            PutPayload::from(bytes),
        )
        .await
        .expect("put");
    malgrupp::lake::delta::DataFile {
        path: relative,
        partition: [("kommun".to_string(), Some(kommun.to_string()))].into(),
        size,
        rows: ages.len() as u64,
        deletion_vector: None,
        bounds: Default::default(),
    }
}

/// A table directory `kaa` under `dir` on local disk: the store, its path and its
/// prefix in the store.
pub fn local_table(
    dir: &std::path::Path,
) -> (
    Arc<dyn ObjectStore>,
    std::path::PathBuf,
    object_store::path::Path,
) {
    let root = dir.join("kaa");
    std::fs::create_dir_all(&root).expect("mkdir");
    let store: Arc<dyn ObjectStore> = Arc::new(object_store::local::LocalFileSystem::new());
    let prefix = object_store::path::Path::from_filesystem_path(&root).expect("path");
    (store, root, prefix)
}

/// `malgrupp sql --format csv <query> <args…>` in `cwd` with `env` added: whether it
/// succeeded, its stdout and its stderr.
pub fn malgrupp_sql(
    cwd: &std::path::Path,
    query: &str,
    args: &[&str],
    env: &[(String, String)],
) -> (bool, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_malgrupp"))
        .current_dir(cwd)
        .args(["sql", "--format", "csv", query])
        .args(args)
        .envs(env.iter().cloned())
        .output()
        .expect("malgrupp");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn a_delta_table_committed_to_s3_is_read_by_delta_rs_and_pyarrow_as_committed() {
    use malgrupp::lake::delta::{Change, DeltaTable};
    use object_store::ObjectStoreExt;
    let moto = Moto::start().await;
    let (store, lake) = moto.host("nat");
    let table = DeltaTable::new(store.clone(), lake.path("kaa"), format!("{lake}/kaa"));
    let kaa = lake.path("kaa");
    let first = vec![
        put_kaa(&store, &kaa, "0880", "kaa-r1", &[16, 17, 18]).await,
        put_kaa(&store, &kaa, "0881", "kaa-r1", &[19, 20]).await,
    ];
    let schema = kaa_schema();
    let change = Change {
        add: first,
        remove: vec![],
        ..Default::default()
    };
    assert_eq!(
        table
            .create(&schema, &["kommun"], change, "CREATE TABLE")
            .await
            .expect("create"),
        0
    );
    // Run 2 replaces kommun 0880; run 3 writes its file and is killed before committing.
    let replacement = put_kaa(&store, &kaa, "0880", "kaa-r2", &[21, 22, 23, 24]).await;
    let change = Change {
        add: vec![replacement],
        remove: vec!["kommun=0880/kaa-r1.parquet".into()],
        ..Default::default()
    };
    assert_eq!(table.commit(0, change, "WRITE").await.expect("commit"), 1);
    put_kaa(&store, &kaa, "0881", "kaa-r3", &[99]).await;

    // Outside readers: delta-rs (PyPI `deltalake`) at the newest and the first version,
    // and pyarrow's own S3 filesystem on a committed file.
    let script = r#"
import json, os, sys
from deltalake import DeltaTable
import pyarrow.fs, pyarrow.parquet as pq
opts = {k: os.environ[k] for k in ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION")}
opts["AWS_ALLOW_HTTP"] = "true"
def ages(version=None):
    t = DeltaTable("s3://lake/nat/kaa", storage_options=opts, version=version).to_pyarrow_table()
    return sorted(zip(t.column("kommun").to_pylist(), t.column("alder").to_pylist()))
fs = pyarrow.fs.S3FileSystem(endpoint_override=opts["AWS_ENDPOINT_URL"], scheme="http",
    access_key=opts["AWS_ACCESS_KEY_ID"], secret_key=opts["AWS_SECRET_ACCESS_KEY"], region=opts["AWS_REGION"])
direct = pq.read_table("lake/nat/kaa/kommun=0880/kaa-r2.parquet", filesystem=fs).column("alder").to_pylist()
print(json.dumps({"newest": ages(), "first": ages(0), "version": DeltaTable("s3://lake/nat/kaa", storage_options=opts).version(), "direct": direct}))
"#;
    let env = moto.env();
    let value = |k: &str| {
        env.iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
            .expect(k)
    };
    // Blocking is fine here: the server is another process, and nothing else runs.
    let env: Vec<(String, String)> = [
        ("AWS_ENDPOINT_URL", "AWS_ENDPOINT"),
        ("AWS_ACCESS_KEY_ID", "AWS_ACCESS_KEY_ID"),
        ("AWS_SECRET_ACCESS_KEY", "AWS_SECRET_ACCESS_KEY"),
        ("AWS_REGION", "AWS_REGION"),
    ]
    .into_iter()
    .map(|(name, ours)| (name.to_string(), value(ours)))
    .collect();
    let out = crate::delta_interop::python(script, &[], &env);
    let read: serde_json::Value = serde_json::from_slice(&out).expect("json");
    let pairs = |v: &serde_json::Value| -> Vec<(String, i64)> {
        v.as_array()
            .expect("rows")
            .iter()
            .map(|p| {
                (
                    p[0].as_str().expect("kommun").to_string(),
                    p[1].as_i64().expect("alder"),
                )
            })
            .collect()
    };
    let rows = |list: &[(&str, i64)]| -> Vec<(String, i64)> {
        list.iter().map(|(k, a)| (k.to_string(), *a)).collect()
    };
    // The uncommitted file of the killed run is in neither version.
    assert_eq!(
        pairs(&read["newest"]),
        rows(&[
            ("0880", 21),
            ("0880", 22),
            ("0880", 23),
            ("0880", 24),
            ("0881", 19),
            ("0881", 20)
        ])
    );
    assert_eq!(
        pairs(&read["first"]),
        rows(&[
            ("0880", 16),
            ("0880", 17),
            ("0880", 18),
            ("0881", 19),
            ("0881", 20)
        ])
    );
    assert_eq!(read["version"], 1);
    assert_eq!(read["direct"], serde_json::json!([21, 22, 23, 24]));

    // malgrupp's own reader: `malgrupp sql --delta`, newest, as of a version and a time.
    let cwd = tempfile::tempdir().expect("tempdir");
    let env = moto.env();
    let sql = |extra: &[&str]| {
        let query = "select kommun, count(*) as n, sum(alder) as s from nat_kaa group by kommun order by kommun";
        malgrupp_sql(cwd.path(), query, extra, &env)
    };
    let delta = ["--delta", "nat_kaa=s3://lake/nat/kaa"];
    let (ok, newest, err) = sql(&delta);
    assert!(ok, "{err}");
    assert_eq!(newest, "kommun,n,s\n0880,4,90\n0881,2,39\n");
    let (ok, first, err) = sql(&[&delta[..], &["--as-of", "0"]].concat());
    assert!(ok, "{err}");
    assert_eq!(first, "kommun,n,s\n0880,3,51\n0881,2,39\n");
    let now = Utc::now().to_rfc3339();
    assert_eq!(sql(&[&delta[..], &["--as-of", &now]].concat()).1, newest);
    // A committed file gone from the store is an error naming it, not rows left out.
    store
        .delete(&lake.path("kaa/kommun=0881/kaa-r1.parquet"))
        .await
        .expect("delete");
    let (ok, out, err) = sql(&delta);
    assert!(!ok && out.is_empty(), "{out}");
    assert!(
        err.contains("kommun=0881/kaa-r1.parquet") && err.contains("not in the store"),
        "{err}"
    );
    // Credentials do not belong in the root, and are not echoed.
    let (ok, _, err) = sql(&["--delta", "nat_kaa=s3://AKIAEXAMPLE:secret@lake/nat/kaa"]);
    assert!(
        !ok && err.contains("environment")
            && !err.contains("secret")
            && !err.contains("AKIAEXAMPLE"),
        "{err}"
    );
}

#[tokio::test]
async fn a_delta_table_on_local_disk_is_committed_and_queried_by_path_and_file_url() {
    use malgrupp::lake::delta::{Change, DeltaTable};
    let dir = tempfile::tempdir().expect("tempdir");
    let (store, root, prefix) = local_table(dir.path());
    let add = vec![
        put_kaa(&store, &prefix, "0880", "kaa-r1", &[16, 17]).await,
        put_kaa(&store, &prefix, "0881", "kaa-r1", &[30]).await,
    ];
    // Written but never committed: not part of the table.
    put_kaa(&store, &prefix, "0881", "kaa-r2", &[99]).await;
    let table = DeltaTable::new(store.clone(), prefix, root.display().to_string());
    let schema = kaa_schema();
    let change = Change {
        add,
        remove: vec![],
        ..Default::default()
    };
    table
        .create(&schema, &["kommun"], change, "CREATE TABLE")
        .await
        .expect("create");
    for root_arg in ["kaa".to_string(), format!("file://{}", root.display())] {
        let query = "select kommun, sum(alder) as s from t group by kommun order by kommun";
        let delta = format!("t={root_arg}");
        let (ok, out, err) = malgrupp_sql(dir.path(), query, &["--delta", &delta], &[]);
        assert!(ok, "{err}");
        assert_eq!(out, "kommun,s\n0880,33\n0881,30\n", "{root_arg}");
    }
    // delta-rs reads the same table from disk.
    let out = crate::delta_interop::python(
        "import sys; from deltalake import DeltaTable; print(DeltaTable(sys.argv[1]).to_pyarrow_table().num_rows)",
        &[&root],
        &[],
    );
    assert_eq!(String::from_utf8_lossy(&out).trim(), "3");
}
