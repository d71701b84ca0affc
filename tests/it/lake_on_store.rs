//! `[lake] root` on object storage: the lake committed there as Delta tables with its
//! ledger, each host working in a local cache brought in from the store when empty.
//! The demo end to end on moto's S3 server, then a second host with an empty cache, and
//! the first bringing in what the second committed; the raw extracts and the quarantine
//! kept in the store beside the tables.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use futures::TryStreamExt;
use malgrupp::lake::delta::DeltaTable;
use object_store::path::Path as StorePath;

use crate::object_storage::Moto;

/// Settings of one host: the shipped pipelines, views and agreements (run from the
/// repository, where their sample sources are), one key for both hosts, a cache of its
/// own.
fn settings(dir: &Path, host: &str) -> PathBuf {
    let repo = std::env::current_dir().expect("cwd");
    let key = dir.join("pseudonym.key");
    std::fs::write(&key, "11".repeat(32)).expect("key");
    let cfg = dir.join(format!("{host}.toml"));
    std::fs::write(
        &cfg,
        format!(
            "[lake]\nroot = 's3://lake/kalmar'\ncache = '{}'\n[paths]\npipelines = '{}'\nsql = '{}'\nagreements = '{}'\n[pseudonymization]\nkey_file = '{}'\n",
            dir.join(host).display(),
            repo.join("pipelines").display(),
            repo.join("sql").display(),
            repo.join("agreements").display(),
            key.display()
        ),
    )
    .expect("settings");
    cfg
}

fn malgrupp(moto: &Moto, cfg: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_malgrupp"))
        .arg("--config")
        .arg(cfg)
        .args(args)
        .envs(moto.env())
        .output()
        .expect("spawn")
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_runs_on_an_s3_root_and_a_new_host_brings_the_lake_in_from_there() {
    let moto = Moto::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let (a, b) = (settings(dir.path(), "a"), settings(dir.path(), "b"));

    // Host a: the demo, its lake committed to the bucket.
    let shown = ok(&malgrupp(&moto, &a, &["demo"]));
    assert!(shown.contains("902"), "{shown}");
    let (store, _) = moto.host("");
    let version = |table: &str| {
        let table = DeltaTable::new(
            store.clone(),
            StorePath::from(format!("kalmar/{table}")),
            table,
        );
        async move { table.version().await.expect("log") }
    };
    // Each pipeline's table in one version; the ledger in one version per run that
    // changed it (each run commits itself).
    for table in ["kaa", "forsorjningsstod"] {
        assert_eq!(version(table).await, Some(0), "{table}");
    }
    let ledger = version("runs").await.expect("the ledger committed");
    assert!(version("lineage").await.is_some());
    // The published views beside them.
    assert!(
        version("published/kartlaggning").await.is_some(),
        "kartläggning not committed under the root"
    );

    // Host b, with an empty cache: its first command brings the lake in and answers as
    // host a does, from the same rows.
    let query = [
        "sql",
        "select matt, alder, sum(antal) as antal from kartlaggning group by matt, alder order by matt, alder",
        "--format",
        "csv",
    ];
    let on_a = ok(&malgrupp(&moto, &a, &query));
    assert!(on_a.lines().count() > 5, "{on_a}");
    assert!(!dir.path().join("b").exists());
    assert_eq!(ok(&malgrupp(&moto, &b, &query)), on_a);
    // The rows a's run rejected came with the tables, and the extract as received is
    // in the store, as the sample's bytes.
    let rejected = [
        "sql",
        "select pipeline, file, row, \"column\", reason from quarantine order by pipeline, row",
        "--format",
        "csv",
    ];
    let on_a = ok(&malgrupp(&moto, &a, &rejected));
    assert!(on_a.lines().count() > 1, "{on_a}");
    assert_eq!(ok(&malgrupp(&moto, &b, &rejected)), on_a);
    let sample = std::fs::read("samples/kalmar/fs_201505.csv").expect("sample");
    assert_eq!(raw(&store, &sample).await, sample);
    let kept_quarantine = || {
        let store = store.clone();
        async move {
            let mut names: Vec<String> = store
                .list(Some(&StorePath::from(
                    "kalmar/quarantine/pipeline=kalmar_fs",
                )))
                .map_ok(|m| m.location.filename().unwrap_or_default().to_string())
                .try_collect()
                .await
                .expect("list");
            names.sort();
            names
        }
    };
    assert_eq!(
        kept_quarantine().await,
        [format!("{}.parquet", &sha256(&sample)[..16])]
    );
    // (`status` exits 1: the samples' months are long past due.)
    let history = malgrupp(&moto, &b, &["status"]);
    let history = String::from_utf8_lossy(&history.stdout);
    for pipeline in ["kalmar_kaa", "kalmar_fs"] {
        assert!(history.contains(pipeline), "{history}");
    }
    // The newest period each pipeline put in the lake, from the runs brought in.
    assert!(
        history.contains("stale: newest period 2015-05"),
        "{history}"
    );
    // b brought in which extracts a's runs processed: b's runs skip them (their sources
    // offer the same bytes), no table gets a new version, the ledger gets b's runs.
    let ran = ok(&malgrupp(&moto, &b, &["run"]));
    let statuses: Vec<(&str, &str)> = ran
        .lines()
        .skip(1)
        .filter_map(|l| {
            let mut words = l.split_whitespace();
            Some((words.next()?, words.next()?))
                .filter(|(_, s)| ["ok", "unchanged", "failed", "blocked", "skipped"].contains(s))
        })
        .collect();
    assert!(statuses.len() >= 2, "{ran}");
    assert!(statuses.iter().all(|(_, s)| *s == "unchanged"), "{ran}");
    for table in ["kaa", "forsorjningsstod"] {
        assert_eq!(version(table).await, Some(0), "{table}");
    }
    assert!(version("runs").await > Some(ledger));

    // b's försörjningsstöd extract says otherwise for one person (b's own copy of the
    // pipeline reads it): b's run commits the changed kommun-month. a's next refresh
    // (an unchanged run) brings it in, so a answers as b does, and a's commit changes
    // no table.
    let samples = dir.path().join("b-samples");
    std::fs::create_dir_all(&samples).expect("mkdir");
    let extract = std::fs::read("samples/kalmar/fs_201505.csv").expect("sample");
    let at = extract
        .windows(12)
        .position(|w| w == b"Arbetsl\xf6shet")
        .expect("a row of arbetslöshet");
    let mut changed = extract[..at].to_vec();
    changed.extend_from_slice(b"Oh\xe4lsa");
    changed.extend_from_slice(&extract[at + 12..]);
    std::fs::write(samples.join("fs_201505.csv"), changed).expect("extract");
    let pipelines = dir.path().join("b-pipelines");
    std::fs::create_dir_all(&pipelines).expect("mkdir");
    let pipeline = std::fs::read_to_string("pipelines/kalmar_fs.toml")
        .expect("pipeline")
        .replace(
            "path = \"samples/kalmar/fs_*.csv\"",
            &format!("path = '{}'", samples.join("fs_*.csv").display()),
        );
    std::fs::write(pipelines.join("kalmar_fs.toml"), pipeline).expect("pipeline");
    let text = std::fs::read_to_string(&b).expect("settings").replace(
        &format!(
            "pipelines = '{}'",
            std::env::current_dir()
                .expect("cwd")
                .join("pipelines")
                .display()
        ),
        &format!("pipelines = '{}'", pipelines.display()),
    );
    std::fs::write(&b, text).expect("settings");
    let by_orsak = [
        "sql",
        "select orsak, count(*) as n from forsorjningsstod group by orsak order by orsak",
        "--format",
        "csv",
    ];
    let before = ok(&malgrupp(&moto, &a, &by_orsak));
    ok(&malgrupp(&moto, &b, &["run", "kalmar_fs"]));
    assert_eq!(version("forsorjningsstod").await, Some(1));
    let on_b = ok(&malgrupp(&moto, &b, &by_orsak));
    assert_ne!(on_b, before, "b's extract changed nothing");
    // The replaced extract's quarantine is gone from the store too; the new one's is
    // there, and so are both extracts as received.
    let changed = std::fs::read(samples.join("fs_201505.csv")).expect("extract");
    assert_eq!(
        kept_quarantine().await,
        [format!("{}.parquet", &sha256(&changed)[..16])]
    );
    assert_eq!(raw(&store, &changed).await, changed);
    assert_eq!(raw(&store, &sample).await, sample);
    ok(&malgrupp(&moto, &a, &["run", "kalmar_kaa"]));
    assert_eq!(ok(&malgrupp(&moto, &a, &by_orsak)), on_b);
    assert_eq!(version("forsorjningsstod").await, Some(1));
    assert_eq!(
        ok(&malgrupp(&moto, &a, &query)),
        ok(&malgrupp(&moto, &b, &query))
    );
}

/// The hex SHA-256 of `bytes`, as the lake names raw extracts.
fn sha256(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

/// The bytes the store keeps of the raw extract `received` (a `.csv`) of the lake
/// `kalmar`.
async fn raw(store: &std::sync::Arc<dyn object_store::ObjectStore>, received: &[u8]) -> Vec<u8> {
    use object_store::ObjectStoreExt;
    let sha = sha256(received);
    let object = StorePath::from(format!("kalmar/raw/{}/{sha}.csv", &sha[..2]));
    let got = store
        .get(&object)
        .await
        .expect("the raw extract in the store");
    got.bytes().await.expect("read").to_vec()
}

/// A run on an S3 root killed (SIGKILL, as a node dying) at moments spread over a run's
/// length, while the delivery it ingests changes every kommun-month: after each kill a
/// reader of the store sees the table as the previous delivery left it or as the new
/// one does, every kommun-month alike, never a mix; the next run completes the delivery.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_on_an_s3_root_killed_at_any_moment_leaves_readers_one_whole_version() {
    const KOMMUNER: usize = 20;
    let moto = Moto::start().await;
    let t = crate::common::TestLake::new();
    let dir = t.dir.path();
    let (extracts, pipelines, reader) = (
        dir.join("extracts"),
        dir.join("pipelines"),
        dir.join("reader"),
    );
    let repo = std::env::current_dir().expect("cwd");
    for d in [&extracts, &pipelines, &reader] {
        std::fs::create_dir_all(d).expect("mkdir");
    }
    // Every kommun's rows: 75 in one delivery, 50 in the other (its first rows).
    let deliver = |rows_per_kommun: usize| {
        malgrupp::cli::bench_national::write_month(
            &extracts,
            0,
            rows_per_kommun * KOMMUNER,
            KOMMUNER,
        )
        .expect("extract");
    };
    let toml =
        malgrupp::cli::bench_national::pipeline_toml(&t.settings, &extracts).expect("pipeline");
    std::fs::write(pipelines.join("national_fs.toml"), toml).expect("pipeline");
    let key = dir.join("pseudonym.key");
    std::fs::write(&key, "11".repeat(32)).expect("key");
    let cfg = dir.join("malgrupp.toml");
    std::fs::write(
        &cfg,
        format!(
            "[lake]\nroot = 's3://lake/national'\ncache = '{}'\n[paths]\npipelines = '{}'\nsql = '{}'\nagreements = '{}'\n[pseudonymization]\nkey_file = '{}'\n",
            dir.join("cache").display(),
            pipelines.display(),
            repo.join("sql").display(),
            repo.join("agreements").display(),
            key.display()
        ),
    )
    .expect("settings");
    let log = dir.join("runs.log");
    let run = || {
        let to_log = || {
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&log)
                .expect("log")
        };
        Command::new(env!("CARGO_BIN_EXE_malgrupp"))
            .arg("--config")
            .arg(&cfg)
            .args(["run", "national_fs"])
            .envs(moto.env())
            .stdout(to_log())
            .stderr(to_log())
            .spawn()
            .expect("spawn")
    };
    let completed = |mut child: std::process::Child| {
        let status = child.wait().expect("wait");
        assert!(
            status.success(),
            "{}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
    };
    // Each kommun's row count in the store, as an outside reader sees it.
    let seen = || {
        let (ok, out, err) = crate::object_storage::malgrupp_sql(
            &reader,
            "select kommun, count(*) as n from fs group by kommun order by kommun",
            &["--delta", "fs=s3://lake/national/forsorjningsstod"],
            &moto.env(),
        );
        assert!(ok, "{err}");
        let counts: std::collections::BTreeSet<String> = out
            .lines()
            .skip(1)
            .map(|l| l.rsplit(',').next().unwrap_or_default().to_string())
            .collect();
        assert_eq!(out.lines().count(), KOMMUNER + 1, "{out}");
        counts.into_iter().collect::<Vec<_>>()
    };

    deliver(75);
    let started = std::time::Instant::now();
    completed(run());
    let length = started.elapsed();
    eprintln!("an uninterrupted run took {length:?}");
    assert_eq!(seen(), ["75"]);
    let mut killed = 0;
    for (i, share) in [0.1, 0.25, 0.4, 0.55, 0.7, 0.85, 1.0]
        .into_iter()
        .enumerate()
    {
        let (before, next) = if i % 2 == 0 { (75, 50) } else { (50, 75) };
        deliver(next);
        let mut child = run();
        tokio::time::sleep(length.mul_f64(share)).await;
        if child.try_wait().expect("wait").is_none() {
            killed += 1;
        }
        let _ = child.kill();
        let _ = child.wait();
        let whole = seen();
        assert!(
            whole == [before.to_string()] || whole == [next.to_string()],
            "killed at {share} of a run: the readers see kommun-months of two deliveries ({whole:?})"
        );
        // The next run completes the delivery (its own lease, left by the killed
        // process on this machine, is taken back at once).
        assert!(
            run().wait().expect("wait").success(),
            "after a kill at {share}"
        );
        assert_eq!(seen(), [next.to_string()], "after a kill at {share}");
    }
    assert!(
        killed >= 4,
        "only {killed} runs were still going when killed"
    );
}

/// Of several pipelines run by one command on an S3 root, each run's rows reach the
/// store when that run ends, not when the command does: the host is killed while the
/// next pipeline waits for its source, and a new host finds the first run's rows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_run_commits_its_rows_to_the_store_before_the_next_pipeline_runs() {
    use wiremock::{Mock, MockServer, ResponseTemplate};
    let moto = Moto::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let (a, b) = (settings(dir.path(), "a"), settings(dir.path(), "b"));
    // a's pipelines: the shipped KAA pipeline, and one after it (by name) whose source
    // answers only after a minute.
    let server = MockServer::start().await;
    Mock::given(wiremock::matchers::method("GET"))
        .respond_with(ResponseTemplate::new(200).set_delay(std::time::Duration::from_secs(60)))
        .mount(&server)
        .await;
    let pipelines = dir.path().join("a-pipelines");
    crate::common::http_pipeline_with(
        &pipelines,
        &format!("{}/hr.csv", server.uri()),
        "",
        120,
        0,
        0,
    );
    std::fs::rename(pipelines.join("hr.toml"), pipelines.join("slow_hr.toml")).expect("rename");
    std::fs::copy(
        "pipelines/kalmar_kaa.toml",
        pipelines.join("kalmar_kaa.toml"),
    )
    .expect("copy");
    let repo_pipelines = format!(
        "pipelines = '{}'",
        std::env::current_dir()
            .expect("cwd")
            .join("pipelines")
            .display()
    );
    let text = std::fs::read_to_string(&a).expect("settings");
    std::fs::write(
        &a,
        text.replace(
            &repo_pipelines,
            &format!("pipelines = '{}'", pipelines.display()),
        ),
    )
    .expect("settings");

    let mut host = Command::new(env!("CARGO_BIN_EXE_malgrupp"))
        .arg("--config")
        .arg(&a)
        .arg("run")
        .envs(moto.env())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn");
    let (store, _) = moto.host("");
    let kaa = DeltaTable::new(store, StorePath::from("kalmar/kaa"), "kaa");
    let mut committed = None;
    for _ in 0..120 {
        committed = kaa.version().await.expect("log");
        if committed.is_some() || host.try_wait().expect("wait").is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    assert!(
        host.try_wait().expect("wait").is_none(),
        "the command ended before the slow source answered"
    );
    let _ = host.kill();
    let _ = host.wait();
    assert_eq!(
        committed,
        Some(0),
        "the KAA run's rows did not reach the store within 30 s"
    );
    let count = ["sql", "select count(*) as n from kaa", "--format", "csv"];
    let on_b = ok(&malgrupp(&moto, &b, &count));
    assert_eq!(on_b, ok(&malgrupp(&moto, &a, &count)));
    assert_ne!(on_b, "n\n0\n");
}
