//! `[publish] delta`: each publish committed as Delta tables, one per view, on local disk
//! and on moto's S3, read back by delta-rs: the same rows as the local published set at
//! each version, nothing half-committed after a kill, a lease another host holds
//! respected, and a failed sync caught up by the next publish.

use std::path::Path;
use std::process::Command;

use malgrupp::lake::location::Location;

use crate::common::TestLake;
use crate::delta_interop::python;
use crate::lake::{private_fs_pipeline, without_first_data_row, write_config};

/// Per view: rows and a digest of its rows in any order, of a local published set
/// (`local DIR`) or of the Delta tables under a root (`delta ROOT VERSION|newest`, the
/// store's settings from `AWS_*` in the environment), as pyarrow and delta-rs read them.
const DIGESTS: &str = r#"
import glob, hashlib, json, os, sys
import pyarrow as pa, pyarrow.parquet as pq
from deltalake import DeltaTable
def digest(t):
    cols = sorted(t.column_names)
    rows = sorted(json.dumps([t.column(c)[i].as_py() for c in cols], default=str) for i in range(t.num_rows))
    return [t.num_rows, hashlib.sha256("\n".join(rows).encode()).hexdigest()]
mode, root, out = sys.argv[1], sys.argv[2], {}
if mode == "local":
    for name in sorted(os.listdir(root)):
        path = os.path.join(root, name)
        files = sorted(glob.glob(path + "/*.parquet")) if os.path.isdir(path) else [path] if name.endswith(".parquet") else []
        if files and not name.startswith(("_", ".")):
            out[name.removesuffix(".parquet")] = digest(pa.concat_tables([pq.read_table(f) for f in files], promote_options="permissive"))
else:
    version = None if sys.argv[3] == "newest" else int(sys.argv[3])
    opts = {k: v for k, v in os.environ.items() if k.startswith("AWS_")}
    if opts:
        opts["AWS_ALLOW_HTTP"] = "true"
    for view in sys.argv[4].split(","):
        table = DeltaTable(root + "/" + view, version=version, storage_options=opts or None)
        out[view] = digest(table.to_pyarrow_table())
print(json.dumps(out, sort_keys=True))
"#;

/// [`DIGESTS`] of the local published set of `t`.
fn local_digests(t: &TestLake) -> serde_json::Value {
    local_digests_of(&t.lake())
}

/// [`DIGESTS`] of the Delta tables of `views` under `root` at `version`.
fn delta_digests(
    root: &str,
    version: &str,
    views: &serde_json::Value,
    env: &[(String, String)],
) -> serde_json::Value {
    let names: Vec<&str> = views
        .as_object()
        .expect("views")
        .keys()
        .map(String::as_str)
        .collect();
    let names = names.join(",");
    let args = [
        Path::new("delta"),
        Path::new(root),
        Path::new(version),
        Path::new(&names),
    ];
    let out = python(DIGESTS, &args, env);
    serde_json::from_slice(&out).expect("json")
}

#[test]
fn each_publish_is_a_delta_version_and_a_kill_before_its_commit_leaves_the_previous_one() {
    let mut t = TestLake::new();
    let extract = private_fs_pipeline(&mut t);
    let cfg = write_config(t.dir.path(), &t.settings.pipelines_dir);
    t.settings.lake_root = t.dir.path().join("data");
    let cloud = t.dir.path().join("cloud");
    let mut text = std::fs::read_to_string(&cfg).expect("config");
    text.push_str(&format!("[publish]\ndelta = '{}'\n", cloud.display()));
    std::fs::write(&cfg, text).expect("config");
    let run = |failpoint: Option<&str>| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_malgrupp"));
        c.args(["--config", cfg.to_str().expect("utf-8 path"), "run", "fs"]);
        if let Some(f) = failpoint {
            c.env("MALGRUPP_FAILPOINT", f);
        }
        c.output().expect("spawn")
    };
    let cloud_root = cloud.display().to_string();

    let first = run(None);
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let published_first = local_digests(&t);
    assert!(
        published_first.as_object().is_some_and(|v| v.len() >= 3),
        "{published_first}"
    );
    assert_eq!(
        delta_digests(&cloud_root, "0", &published_first, &[]),
        published_first
    );
    // Each file's statistics let an engine skip the files of other periods and kommuner:
    // per file (as delta-rs lists them) its period and kommun bounds and its row count.
    let stats = python(
        r#"
import sys
from deltalake import DeltaTable
import pyarrow as pa
a = pa.table(DeltaTable(sys.argv[1] + "/kartlaggning").get_add_actions(flatten=True)).to_pylist()
for f in a:
    print(f["path"][:7], f["min.period"], f["max.period"], f["min.kommun"], f["max.kommun"], f["num_records"])
"#,
        &[Path::new(&cloud_root)],
        &[],
    );
    let stats = String::from_utf8_lossy(&stats);
    assert!(!stats.is_empty());
    for line in stats.lines() {
        let w: Vec<&str> = line.split(' ').collect();
        assert_eq!((w[1], w[2]), (w[0], w[0]), "{stats}");
        assert!(w[3] <= w[4] && w[3].len() == 4, "{stats}");
        assert!(w[5].parse::<u64>().is_ok_and(|n| n > 0), "{stats}");
    }

    // A new delivery, killed after its files were uploaded and before their commit: the
    // tables stay at version 0, the previous publish, though the local set moved on.
    std::fs::write(&extract, without_first_data_row(&extract)).expect("write");
    let killed = run(Some("before-delta-commit"));
    let stderr = String::from_utf8_lossy(&killed.stderr);
    assert!(
        !killed.status.success() && stderr.contains("failpoint before-delta-commit"),
        "{stderr}"
    );
    let published_second = local_digests(&t);
    assert_ne!(published_second, published_first);
    assert_eq!(
        delta_digests(&cloud_root, "newest", &published_first, &[]),
        published_first
    );
    let (ok, _, err) = crate::object_storage::malgrupp_sql(
        t.dir.path(),
        "select 1",
        &[
            "--delta",
            &format!("k={cloud_root}/kartlaggning"),
            "--as-of",
            "1",
        ],
        &[],
    );
    assert!(!ok && err.contains("the newest is 0"), "{err}");

    // The next run changes nothing in the lake, and its publish catches the tables up.
    let caught_up = run(None);
    assert!(
        caught_up.status.success(),
        "{}",
        String::from_utf8_lossy(&caught_up.stderr)
    );
    assert_eq!(
        delta_digests(&cloud_root, "newest", &published_second, &[]),
        published_second
    );
    assert_eq!(
        delta_digests(&cloud_root, "0", &published_first, &[]),
        published_first
    );
    // And a run after it commits nothing more.
    assert!(run(None).status.success());
    let (ok, out, err) = crate::object_storage::malgrupp_sql(
        t.dir.path(),
        "select count(*) as n from k",
        &[
            "--delta",
            &format!("k={cloud_root}/kartlaggning"),
            "--as-of",
            "2",
        ],
        &[],
    );
    assert!(!ok && err.contains("the newest is 1"), "{out}{err}");
}

#[tokio::test]
async fn on_s3_the_published_views_are_committed_under_a_lease_other_hosts_respect() {
    let moto = crate::object_storage::Moto::start().await;
    let t = TestLake::new();
    let (outcome, out) = t.run(&["kalmar_fs"]).await;
    assert!(outcome.success(), "{out}");
    let target = Location::parse("s3://lake/published").expect("location");
    let lake = t.lake();
    let sync = || malgrupp::publish::delta::sync(&lake, &target, 30, moto.env());

    // Another host holds the lease: nothing is committed, and the error says why.
    let other = moto
        .hold_lease("published", "publish", "the other host")
        .await;
    let e = sync().await.expect_err("busy").to_string();
    assert!(
        e.contains("another host") && e.contains("the other host"),
        "{e}"
    );
    drop(other);

    // Once it expired, this host commits every view, as published locally.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let synced = sync().await.expect("sync");
    let published = local_digests(&t);
    let views = published.as_object().expect("views");
    assert_eq!(synced.committed.len(), views.len(), "{synced:?}");
    assert!(synced.committed.iter().all(|(_, v)| *v == 0), "{synced:?}");
    let env = moto.python_env();
    assert_eq!(
        delta_digests("s3://lake/published", "newest", &published, &env),
        published
    );
    // Nothing changed: nothing committed.
    assert!(sync().await.expect("sync").committed.is_empty());
}

/// Publishes a generation of `lake` holding, per view, `(file under the set, columns)`:
/// one row per column list, `kommun` a string and every other column an integer.
fn publish_set(lake: &malgrupp::lake::Lake, views: &[(&str, &[&str])]) {
    use datafusion::arrow::array::{ArrayRef, Int64Array, StringArray};
    use datafusion::arrow::record_batch::RecordBatch;
    use malgrupp::publish::generation;
    let generation = generation::next(lake).expect("generation");
    for (file, columns) in views {
        let arrays: Vec<(&str, ArrayRef)> = columns
            .iter()
            .enumerate()
            .map(|(i, c)| -> (&str, ArrayRef) {
                match *c {
                    "kommun" => (c, std::sync::Arc::new(StringArray::from(vec!["0880"]))),
                    _ => (c, std::sync::Arc::new(Int64Array::from(vec![i as i64 + 7]))),
                }
            })
            .collect();
        let batch = RecordBatch::try_from_iter(arrays).expect("batch");
        let path = generation.dir.join(file);
        std::fs::create_dir_all(path.parent().expect("dir")).expect("dir");
        let mut w = datafusion::parquet::arrow::ArrowWriter::try_new(
            std::fs::File::create(&path).expect("file"),
            batch.schema(),
            None,
        )
        .expect("writer");
        w.write(&batch).expect("write");
        w.close().expect("close");
    }
    generation::switch(
        lake,
        generation,
        chrono::Utc::now(),
        chrono::Duration::days(30),
    )
    .expect("switch");
}

/// A new malgrupp whose view gains a column: the table takes the new columns in one
/// version (older versions keep theirs), and a set whose files disagree on their columns
/// is refused naming the file, committing nothing.
#[tokio::test]
async fn a_view_whose_columns_change_gets_them_in_one_version() {
    let dir = tempfile::tempdir().expect("tempdir");
    let lake = malgrupp::lake::Lake::new(dir.path().join("data"));
    let root = dir.path().join("cloud");
    let target = Location::Local(root.clone());
    let sync = || malgrupp::publish::delta::sync(&lake, &target, 30, Vec::new());
    let old: &[&str] = &["kommun", "antal"];
    let new: &[&str] = &["kommun", "antal", "andel"];

    publish_set(
        &lake,
        &[("v/2015-01.parquet", old), ("v/2015-02.parquet", old)],
    );
    assert_eq!(
        sync().await.expect("sync").committed,
        [("v".to_string(), 0)]
    );
    let first = local_digests_of(&lake);

    // Only one period republished with the new columns: refused, nothing committed.
    publish_set(
        &lake,
        &[("v/2015-01.parquet", new), ("v/2015-02.parquet", old)],
    );
    let e = sync().await.expect_err("mixed columns").to_string();
    assert!(e.contains("2015-02.parquet") && e.contains("andel"), "{e}");
    let log = root.join("v").join("_delta_log");
    assert!(!log.join("00000000000000000001.json").exists(), "{e}");

    publish_set(
        &lake,
        &[("v/2015-01.parquet", new), ("v/2015-02.parquet", new)],
    );
    assert_eq!(
        sync().await.expect("sync").committed,
        [("v".to_string(), 1)]
    );
    let second = local_digests_of(&lake);
    let root = root.to_string_lossy();
    assert_eq!(delta_digests(&root, "newest", &second, &[]), second);
    assert_eq!(delta_digests(&root, "0", &first, &[]), first);
    let columns = python(
        "import sys\nfrom deltalake import DeltaTable\nfor v in (0, 1):\n    print(sorted(f.name for f in DeltaTable(sys.argv[1] + '/v', version=v).schema().fields))",
        &[Path::new(&*root)],
        &[],
    );
    assert_eq!(
        String::from_utf8_lossy(&columns),
        "['antal', 'kommun']\n['andel', 'antal', 'kommun']\n"
    );
}

/// A table removed (or damaged) in the target after a sync is committed again by the
/// next refresh, even one with nothing new to publish.
#[tokio::test]
async fn a_table_removed_from_the_target_is_committed_again() {
    let dir = tempfile::tempdir().expect("tempdir");
    let lake = malgrupp::lake::Lake::new(dir.path().join("data"));
    let root = dir.path().join("cloud");
    let target = Location::Local(root.clone());
    let sync = || malgrupp::publish::delta::sync(&lake, &target, 30, Vec::new());
    publish_set(
        &lake,
        &[
            ("v.parquet", &["kommun", "antal"]),
            ("w.parquet", &["kommun"]),
        ],
    );
    assert_eq!(sync().await.expect("sync").committed.len(), 2);
    assert!(sync().await.expect("sync").committed.is_empty());

    std::fs::remove_dir_all(root.join("v")).expect("remove");
    assert_eq!(
        sync().await.expect("sync").committed,
        [("v".to_string(), 0)]
    );
    let set = local_digests_of(&lake);
    assert_eq!(
        delta_digests(&root.to_string_lossy(), "newest", &set, &[]),
        set
    );
    assert!(sync().await.expect("sync").committed.is_empty());

    // A view no longer published (a new malgrupp dropped it) is left at its last
    // version, as dbt leaves a dropped model's table, and named so operators know.
    publish_set(&lake, &[("v.parquet", &["kommun", "antal"])]);
    let synced = sync().await.expect("sync");
    assert!(synced.committed.is_empty(), "{synced:?}");
    assert_eq!(synced.no_longer_published, ["w"]);
    assert!(
        root.join("w/_delta_log/00000000000000000000.json")
            .is_file()
    );
    assert!(!root.join("w/_delta_log/00000000000000000001.json").exists());
}

/// [`DIGESTS`] of the published set of `lake`.
fn local_digests_of(lake: &malgrupp::lake::Lake) -> serde_json::Value {
    let set = std::fs::canonicalize(malgrupp::publish::dir(lake)).expect("published");
    let out = python(DIGESTS, &[Path::new("local"), &set], &[]);
    serde_json::from_slice(&out).expect("json")
}
