//! `[lake] root` on object storage: the lake committed there as Delta tables with its
//! ledger, each host working in a local cache brought in from the store when empty.
//! The demo end to end on moto's S3 server, then a second host with an empty cache, and
//! the first bringing in what the second committed.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

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
    for table in ["kaa", "forsorjningsstod", "runs", "lineage"] {
        assert_eq!(version(table).await, Some(0), "{table}");
    }
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
    // b's runs process the extracts again (b has not seen them) and write the same
    // bytes: no table gets a new version, the ledger gets b's runs.
    ok(&malgrupp(&moto, &b, &["run"]));
    for table in ["kaa", "forsorjningsstod"] {
        assert_eq!(version(table).await, Some(0), "{table}");
    }
    assert_eq!(version("runs").await, Some(1));

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
    ok(&malgrupp(&moto, &a, &["run", "kalmar_kaa"]));
    assert_eq!(ok(&malgrupp(&moto, &a, &by_orsak)), on_b);
    assert_eq!(version("forsorjningsstod").await, Some(1));
    assert_eq!(
        ok(&malgrupp(&moto, &a, &query)),
        ok(&malgrupp(&moto, &b, &query))
    );
}
