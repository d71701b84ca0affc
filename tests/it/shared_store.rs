//! Hosts sharing a lake's Delta copy (`[lake] delta`; two `serve` replicas restored
//! from one prefix, a host and its replacement). On object storage their runs of a
//! pipeline never overlap (the later trigger is skipped, naming the host running it),
//! and a run whose lease another host took over puts nothing in place: against moto's
//! S3 server, with real processes, a run held just before its files go in place by
//! holding its lake's `tables` lock. And hosts taking turns with the copy bring in each
//! other's runs before publishing and committing, and `serve` follows them untriggered.

use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use malgrupp::lake::lock::{LakeLock, TABLES_LOCK};
use malgrupp::lake::manifest::Manifest;
use object_store::path::Path as StorePath;
use object_store::{ObjectStoreExt, PutPayload};

use crate::common::TestLake;
use crate::lake::{private_fs_pipeline, write_config};
use crate::object_storage::Moto;

/// The lease of pipeline `fs` in the hosts' shared prefix.
const LEASE: &str = "tables/_meta/locks/pipeline-fs.lease";

/// One host: a lake of its own, committing to `s3://lake/tables` with the identity both
/// hosts share (as replicas restored from one prefix have).
struct Host {
    t: TestLake,
    cfg: PathBuf,
}

impl Host {
    fn new(lake_settings: &str) -> Host {
        let mut t = TestLake::new();
        private_fs_pipeline(&mut t);
        let cfg = write_config(t.dir.path(), &t.settings.pipelines_dir);
        let text = std::fs::read_to_string(&cfg).expect("config").replacen(
            "[lake]\n",
            &format!("[lake]\ndelta = 's3://lake/tables'\n{lake_settings}"),
            1,
        );
        std::fs::write(&cfg, text).expect("config");
        let meta = t.dir.path().join("data/_meta");
        std::fs::create_dir_all(&meta).expect("mkdir");
        std::fs::write(meta.join("lake_id"), "one-lake-two-hosts\n").expect("lake id");
        Host { t, cfg }
    }

    fn root(&self) -> PathBuf {
        self.t.dir.path().join("data")
    }

    fn run(&self, moto: &Moto) -> Child {
        Command::new(env!("CARGO_BIN_EXE_malgrupp"))
            .args([
                "--config",
                self.cfg.to_str().expect("utf-8 path"),
                "run",
                "fs",
            ])
            .envs(moto.env())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn")
    }

    /// The run's partition files: in place, or staged under temporary names.
    fn files(&self, staged: bool) -> usize {
        crate::common::files_under(&self.root().join("forsorjningsstod"))
            .into_iter()
            .filter(|f| {
                let name = f.file_name().map(|n| n.to_string_lossy().into_owned());
                name.is_some_and(|n| n.starts_with(".tmp-") == staged)
            })
            .count()
    }

    /// Waits until a run of this host has staged its files, so it holds the lease and
    /// waits at the `tables` lock held by the test.
    fn wait_staged(&self, run: &mut Child) {
        let deadline = Instant::now() + Duration::from_secs(120);
        while self.files(true) == 0 {
            assert!(Instant::now() < deadline, "nothing staged");
            assert!(
                run.try_wait().expect("wait").is_none(),
                "the run ended without staging"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn said(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

async fn lease_record(moto: &Moto) -> serde_json::Value {
    let (store, _) = moto.host("");
    let got = store.get(&StorePath::from(LEASE)).await.expect("lease");
    serde_json::from_slice(&got.bytes().await.expect("lease bytes")).expect("lease json")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hosts_never_run_one_pipeline_at_once() {
    let moto = Moto::start().await;
    let (a, b) = (Host::new(""), Host::new(""));

    let held = LakeLock::acquire_blocking(&a.root(), TABLES_LOCK).expect("lock");
    let mut first = a.run(&moto);
    a.wait_staged(&mut first);
    let holder = format!("pid {} on ", first.id());
    assert!(
        lease_record(&moto).await["holder"]
            .as_str()
            .is_some_and(|h| h.starts_with(&holder)),
        "{}",
        lease_record(&moto).await
    );

    // The other host's trigger meanwhile: skipped, naming the run that holds the lease.
    let second = b.run(&moto).wait_with_output().expect("second");
    let text = said(&second);
    assert!(
        second.status.success(),
        "a skipped trigger is no failure:\n{text}"
    );
    for expected in ["another host runs fs", &holder, "this trigger was skipped"] {
        assert!(text.contains(expected), "{expected:?} not in:\n{text}");
    }
    assert_eq!(
        b.files(false) + b.files(true),
        0,
        "the skipped host wrote files"
    );

    drop(held);
    let first = first.wait_with_output().expect("first");
    assert!(first.status.success(), "{}", said(&first));
    assert!(a.files(false) > 0 && a.files(true) == 0);
    // Released at the end of the run (expired at once), not left to expire.
    assert_eq!(lease_record(&moto).await["expires"], "1970-01-01T00:00:00Z");
}

/// A host killed mid-run and started again does not wait out its own lease: the process
/// holding it has ended on this machine, so the next run takes it at once (another
/// machine waits for the lease time; a live process here is respected, as above).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_restarted_after_a_kill_takes_its_own_lease_at_once() {
    let moto = Moto::start().await;
    let a = Host::new("");
    let held = LakeLock::acquire_blocking(&a.root(), TABLES_LOCK).expect("lock");
    let mut first = a.run(&moto);
    a.wait_staged(&mut first);
    first.kill().expect("kill");
    first.wait().expect("wait");
    drop(held);
    let expires = lease_record(&moto).await["expires"]
        .as_str()
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .expect("expiry");
    assert!(
        expires > chrono::Utc::now(),
        "the killed run's lease is not held"
    );

    let again = a.run(&moto).wait_with_output().expect("again");
    let text = said(&again);
    assert!(again.status.success(), "{text}");
    assert!(!text.contains("skipped"), "{text}");
    assert!(text.contains("has ended"), "{text}");
    assert!(a.files(false) > 0 && a.files(true) == 0, "{text}");
    assert_eq!(lease_record(&moto).await["expires"], "1970-01-01T00:00:00Z");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_whose_lease_another_host_took_over_puts_nothing_in_place() {
    let moto = Moto::start().await;
    let a = Host::new("pipeline_lease_seconds = 3\n");

    let held = LakeLock::acquire_blocking(&a.root(), TABLES_LOCK).expect("lock");
    let mut run = a.run(&moto);
    a.wait_staged(&mut run);
    // Another host takes the lease over (as after this one stopped renewing for the
    // lease time); the run's next renewal, a second later at most, finds it gone.
    let (store, _) = moto.host("");
    let taken = serde_json::json!({
        "holder": "the other host",
        "expires": (chrono::Utc::now() + chrono::Duration::seconds(60)).to_rfc3339(),
    });
    store
        .put(
            &StorePath::from(LEASE),
            PutPayload::from(taken.to_string().into_bytes()),
        )
        .await
        .expect("take over");
    tokio::time::sleep(Duration::from_millis(2500)).await;
    drop(held);

    let out = run.wait_with_output().expect("run");
    let text = said(&out);
    assert!(!out.status.success(), "{text}");
    for expected in [
        "s3://lake/tables/_meta/locks/pipeline-fs.lease",
        "taken over by the other host",
        "nothing of this run of fs was put in place",
    ] {
        assert!(text.contains(expected), "{expected:?} not in:\n{text}");
    }
    assert_eq!(
        a.files(false),
        0,
        "files put in place after the lease was lost"
    );
    assert_eq!(a.files(true), 0, "staged files left behind");
    // The run did not free the other host's lease.
    assert_eq!(lease_record(&moto).await["holder"], "the other host");
}

/// The lease time: 120 s unless set; below 3 s (a renewal every second) refused, named.
/// And how often serve polls the copy.
#[test]
fn the_pipeline_lease_and_poll_times_are_checked() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = dir.path().join("malgrupp.toml");
    let load = |lake: &str| {
        std::fs::write(&cfg, format!("[lake]\ndelta = 's3://b/lake'\n{lake}")).expect("config");
        malgrupp::config::Settings::load(Some(&cfg))
    };
    let lease = |lake: &str| load(lake).expect("settings").pipeline_lease;
    assert_eq!(lease(""), Duration::from_secs(120));
    assert_eq!(
        lease("pipeline_lease_seconds = 30\n"),
        Duration::from_secs(30)
    );
    let e = load("pipeline_lease_seconds = 2\n")
        .expect_err("too short")
        .to_string();
    assert!(
        e.contains("lake.pipeline_lease_seconds") && e.contains("at least 3"),
        "{e}"
    );
    // The copy is polled every 300 s unless set; 0 turns it off.
    let poll = |lake: &str| load(lake).expect("settings").lake_poll;
    assert_eq!(poll(""), Some(Duration::from_secs(300)));
    assert_eq!(poll("poll_seconds = 20\n"), Some(Duration::from_secs(20)));
    assert_eq!(poll("poll_seconds = 0\n"), None);
    std::fs::write(&cfg, "[lake]\npoll_seconds = 20\n").expect("config");
    let alone = malgrupp::config::Settings::load(Some(&cfg)).expect("settings");
    assert_eq!(alone.lake_poll, None, "no copy to poll");
}

/// Two replicas of one lake (the second restored from its copy) each run pipelines and
/// commit. Each brings in what the other committed before it commits: the copy keeps
/// both hosts' rows and runs (committing only its own lake would remove the other's);
/// a kommun-month both wrote (here with other pseudonymization keys, so other bytes)
/// is the later run's on both; once both have committed, their lakes and a third
/// restored from the copy hold the same tables and ledger, and committing again
/// commits nothing.
#[tokio::test]
async fn replicas_bring_in_each_others_runs() {
    use crate::lake_delta::sync_copy as sync;
    use malgrupp::lake::mirror::restore::restore;
    let (_copy, target, first, second) = replicas().await;

    let (outcome, out) = first.run(&["kalmar_kaa"]).await;
    assert!(outcome.success(), "{out}");
    sync(&first.lake(), &target, Vec::new())
        .await
        .expect("sync");
    let (outcome, out) = second.run(&["kalmar_fs", "kalmar_af"]).await;
    assert!(outcome.success(), "{out}");
    let tables = |t: &TestLake| {
        malgrupp::normalize::schema::TABLES
            .iter()
            .map(|def| {
                let dir = t.settings.lake_root.join(def.name);
                (def.name, crate::common::contents_under(&dir))
            })
            .collect::<Vec<_>>()
    };
    let table =
        |t: &TestLake, name: &str| crate::common::contents_under(&t.settings.lake_root.join(name));
    let runs = |t: &TestLake| {
        Manifest::load(&t.settings.lake_root)
            .expect("ledger")
            .runs
            .into_iter()
            .map(|r| r.run_id)
            .collect::<Vec<_>>()
    };
    let second_fs = table(&second, "forsorjningsstod");
    assert_ne!(table(&first, "forsorjningsstod"), second_fs, "same rows");
    assert!(table(&second, "kaa").is_empty(), "kaa before catching up");
    let kaa_run = runs(&first).last().expect("a run").clone();

    sync(&second.lake(), &target, Vec::new())
        .await
        .expect("the second commits, bringing in the first's runs");
    assert_eq!(
        table(&second, "kaa"),
        table(&first, "kaa"),
        "kaa brought in"
    );
    assert!(runs(&second).contains(&kaa_run), "{:?}", runs(&second));
    assert_eq!(
        table(&second, "forsorjningsstod"),
        second_fs,
        "its later run kept"
    );

    sync(&first.lake(), &target, Vec::new())
        .await
        .expect("the first commits, bringing in the second's runs");
    assert_eq!(tables(&first), tables(&second));
    assert_eq!(runs(&first), runs(&second));
    assert!(!table(&first, "aggregat").is_empty(), "af brought in");
    for host in [&first, &second] {
        let synced = sync(&host.lake(), &target, Vec::new())
            .await
            .expect("in step");
        assert!(synced.committed.is_empty(), "{synced:?}");
    }
    let third = TestLake::new();
    restore(&third.lake(), &target, Vec::new())
        .await
        .expect("restore")
        .expect("restored");
    assert_eq!(
        tables(&third),
        tables(&first),
        "the copy holds both hosts' rows"
    );
    assert_eq!(
        runs(&third),
        runs(&first),
        "the copy holds both hosts' runs"
    );
}

/// A catch-up reads the copy's ledger once per change there: `serve`'s poll, the
/// refresh it starts and that refresh's commit each look, and only the first reads it
/// (here the second would fail: the copy's ledger files are gone).
#[tokio::test]
async fn a_catch_up_reads_the_copys_ledger_once_per_change() {
    use crate::lake_delta::sync_copy as sync;
    use malgrupp::lake::mirror::catch_up::{CaughtUp, catch_up};
    let (copy, target, first, second) = replicas().await;
    let (outcome, out) = first.run(&["kalmar_kaa"]).await;
    assert!(outcome.success(), "{out}");
    sync(&first.lake(), &target, Vec::new())
        .await
        .expect("sync");

    let caught = catch_up(&second.lake(), &target, Vec::new())
        .await
        .expect("catch up");
    assert_eq!(caught.runs, 1, "{caught:?}");
    let ledger_files: Vec<PathBuf> = ["runs", "lineage"]
        .iter()
        .flat_map(|t| crate::common::files_under(&copy.path().join(t)))
        .filter(|f| f.extension().is_some_and(|e| e == "parquet"))
        .collect();
    assert!(!ledger_files.is_empty(), "no ledger files in the copy");
    for file in ledger_files {
        std::fs::remove_file(file).expect("remove");
    }
    let again = catch_up(&second.lake(), &target, Vec::new())
        .await
        .expect("the ledger is not read again");
    assert_eq!(again, CaughtUp::default());
}

/// Another host committing between a sync bringing this lake up to the copy and taking
/// the copy's lease: the sync commits nothing (committing would remove that host's
/// rows) and says so; the next brings them in and commits both hosts' runs. The sync is
/// held between those steps by holding its lake's `tables` lock, which it takes to list
/// the lake after bringing it up to the copy.
#[tokio::test]
async fn a_commit_by_another_host_while_a_sync_waits_is_not_overwritten() {
    use crate::lake_delta::sync_copy as sync;
    use malgrupp::lake::mirror::restore::restore;
    let (_copy, target, first, second) = replicas().await;
    let (outcome, out) = first.run(&["kalmar_af"]).await;
    assert!(outcome.success(), "{out}");
    let (outcome, out) = second.run(&["kalmar_kaa"]).await;
    assert!(outcome.success(), "{out}");

    let root = second.settings.lake_root.clone();
    let caught_up = root.join("_meta/lake_delta.caught_up");
    let _ = std::fs::remove_file(&caught_up);
    let held = LakeLock::acquire_blocking(&root, TABLES_LOCK).expect("lock");
    let (lake, to) = (second.lake(), target.clone());
    let waiting = tokio::spawn(async move { sync(&lake, &to, Vec::new()).await });
    let deadline = Instant::now() + Duration::from_secs(60);
    while !caught_up.exists() {
        assert!(
            Instant::now() < deadline,
            "the sync never looked at the copy"
        );
        assert!(!waiting.is_finished(), "{:?}", waiting.await);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    sync(&first.lake(), &target, Vec::new())
        .await
        .expect("the other host commits meanwhile");
    drop(held);
    let refused = waiting
        .await
        .expect("join")
        .expect_err("a sync behind the copy committed");
    assert!(
        refused
            .to_string()
            .contains("another host committed runs there"),
        "{refused}"
    );

    let synced = sync(&second.lake(), &target, Vec::new())
        .await
        .expect("the next sync brings them in and commits");
    assert!(!synced.committed.is_empty(), "{synced:?}");
    let restored = TestLake::new();
    restore(&restored.lake(), &target, Vec::new())
        .await
        .expect("restore")
        .expect("restored");
    for table in ["aggregat", "kaa", "forsorjningsstod"] {
        assert!(
            !crate::common::contents_under(&restored.settings.lake_root.join(table)).is_empty(),
            "{table} not in the copy"
        );
    }
    let runs = |t: &TestLake| {
        Manifest::load(&t.settings.lake_root)
            .expect("ledger")
            .runs
            .into_iter()
            .map(|r| r.run_id)
            .collect::<std::collections::BTreeSet<_>>()
    };
    let (copied, both) = (runs(&restored), runs(&first));
    assert!(
        copied.is_superset(&both) && copied.is_superset(&runs(&second)),
        "runs missing from the copy's ledger: {:?}",
        both.difference(&copied).collect::<Vec<_>>()
    );
}

/// A replica's refresh publishes what the other committed: the first runs a pipeline
/// the second does not, and the second's next run publishes the first's rows with its
/// own (its kartläggning is the first's, which that pipeline changed).
#[tokio::test]
async fn a_replica_publishes_what_the_other_committed() {
    use malgrupp::lake::location::Location;
    let copy = tempfile::tempdir().expect("tempdir");
    let mut first = TestLake::new();
    first.settings.lake_delta = Some(Location::Local(copy.path().to_path_buf()));
    let (outcome, out) = first.run(&["kalmar_fs", "kalmar_kaa"]).await;
    assert!(outcome.success(), "{out}");
    let mut second = TestLake::new();
    malgrupp::lake::mirror::restore::restore(
        &second.lake(),
        first.settings.lake_delta.as_ref().expect("copy"),
        Vec::new(),
    )
    .await
    .expect("restore")
    .expect("restored");
    second.settings.lake_delta = first.settings.lake_delta.clone();
    // Replicas share the pseudonymization key, so their rows of one person match.
    second.settings.key_source = first.settings.key_source.clone();
    let published = |t: &TestLake| {
        crate::common::published_csv(&t.lake().root().join("published"), "kartlaggning")
    };
    let before = published(&first);

    let (outcome, out) = first.run(&["kalmar_af"]).await;
    assert!(outcome.success(), "{out}");
    assert_ne!(
        published(&first),
        before,
        "the pipeline changes nothing published"
    );
    let (outcome, out) = second.run(&["kalmar_fs"]).await;
    assert!(outcome.success(), "{out}");
    assert_eq!(published(&second), published(&first));
}

/// `serve` looks in the lake's copy every `[lake] poll_seconds`: a replica that runs
/// nothing brings in and publishes the runs the other committed, untriggered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_serving_replica_publishes_the_others_runs_without_running_them() {
    use malgrupp::lake::location::Location;
    use malgrupp::normalize::pseudonym::KeySource;
    let copy = tempfile::tempdir().expect("tempdir");
    let site =
        crate::daemon::Site::new(&std::fs::canonicalize("pipelines").expect("pipelines"), "");
    let settings = site.root().parent().expect("dir").join("malgrupp.toml");
    let text = std::fs::read_to_string(&settings)
        .expect("settings")
        .replacen(
            "[lake]\n",
            &format!(
                "[lake]\ndelta = '{}'\npoll_seconds = 1\n",
                copy.path().display()
            ),
            1,
        );
    std::fs::write(&settings, text).expect("settings");
    let ran = site
        .command()
        .args(["run", "kalmar_fs"])
        .output()
        .expect("run");
    assert!(ran.status.success(), "{}", said(&ran));
    let mut other = TestLake::new();
    let target = Location::Local(copy.path().to_path_buf());
    malgrupp::lake::mirror::restore::restore(&other.lake(), &target, Vec::new())
        .await
        .expect("restore")
        .expect("restored");
    other.settings.lake_delta = Some(target);
    other.settings.key_source = KeySource::File {
        path: site.root().parent().expect("dir").join("key"),
        explicit: true,
    };
    let kartlaggning =
        || crate::common::published_csv(&site.root().join("published"), "kartlaggning");
    assert!(!kartlaggning().contains(",kaa_inskrivna,"), "kaa before");

    let service = crate::daemon::Service::start_with(&site, &[]);
    let (outcome, out) = other.run(&["kalmar_kaa"]).await;
    assert!(outcome.success(), "{out}");
    let deadline = Instant::now() + Duration::from_secs(120);
    while !kartlaggning().contains(",kaa_inskrivna,") {
        assert!(
            Instant::now() < deadline,
            "the other host's run never published here"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let metrics = service.metrics().await;
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("malgrupp_last_lake_poll_success_timestamp_seconds ")),
        "{metrics}"
    );
    assert!(
        metrics
            .lines()
            .any(|l| l == "malgrupp_lake_polls_total{result=\"failed\"} 0"),
        "{metrics}"
    );
    let (status, log) = service.terminate(Duration::from_secs(60));
    assert!(status.success(), "{log:?}");
    let runs = Manifest::load(&site.root()).expect("ledger").runs;
    assert!(
        runs.iter()
            .any(|r| r.pipeline == "kalmar_kaa" && r.status == "ok"),
        "{runs:?}"
    );
}

/// Two replicas of one lake and its copy on disk: the first ran kalmar_fs and committed
/// it, the second was restored from the copy. The directory holds the copy.
async fn replicas() -> (
    tempfile::TempDir,
    malgrupp::lake::location::Location,
    TestLake,
    TestLake,
) {
    use crate::lake_delta::sync_copy as sync;
    use malgrupp::lake::mirror::restore::restore;
    let copy = tempfile::tempdir().expect("tempdir");
    let target = malgrupp::lake::location::Location::Local(copy.path().to_path_buf());
    let first = TestLake::new();
    let (outcome, out) = first.run(&["kalmar_fs"]).await;
    assert!(outcome.success(), "{out}");
    sync(&first.lake(), &target, Vec::new())
        .await
        .expect("sync");
    let second = TestLake::new();
    restore(&second.lake(), &target, Vec::new())
        .await
        .expect("restore")
        .expect("restored");
    (copy, target, first, second)
}
