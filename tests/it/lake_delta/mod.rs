//! `[lake] delta`: the lake's tables committed as Delta tables, partitioned by kommun
//! and period, on local disk and on moto's S3, read back by delta-rs: the same rows as
//! the local lake at each version, a night committing only the kommun-months it
//! changed, nothing half-committed after a kill, a lost cache or a deleted table
//! caught up from content, and a lease another host holds respected.

use std::path::Path;
use std::process::Command;

use malgrupp::lake::location::Location;

use crate::common::TestLake;
use crate::delta_interop::python;
use crate::lake::{private_fs_pipeline, without_first_data_row, write_config};

mod as_of;
mod serve;

/// Per table: rows and a digest of its rows in any order (partition columns included),
/// of the local lake (`local ROOT TABLES`) or of the Delta tables under a root
/// (`delta ROOT TABLES VERSION|newest`, store settings from `AWS_*`), as pyarrow and
/// delta-rs read them.
const DIGESTS: &str = r#"
import hashlib, json, os, sys
import pyarrow as pa, pyarrow.dataset as ds
from deltalake import DeltaTable
def digest(t):
    cols = sorted(t.column_names)
    rows = sorted(json.dumps([t.column(c)[i].as_py() for c in cols], default=str) for i in range(t.num_rows))
    return [t.num_rows, cols, hashlib.sha256("\n".join(rows).encode()).hexdigest()]
mode, root, tables, out = sys.argv[1], sys.argv[2], sys.argv[3].split(","), {}
hive = ds.partitioning(pa.schema([("kommun", pa.string()), ("period", pa.string())]), flavor="hive")
for name in tables:
    if mode == "local":
        t = ds.dataset(os.path.join(root, name), format="parquet", partitioning=hive).to_table()
    else:
        version = None if sys.argv[4] == "newest" else int(sys.argv[4])
        opts = {k: v for k, v in os.environ.items() if k.startswith("AWS_")}
        if opts:
            opts["AWS_ALLOW_HTTP"] = "true"
        t = DeltaTable(root + "/" + name, version=version, storage_options=opts or None).to_pyarrow_table()
    out[name] = digest(t)
print(json.dumps(out, sort_keys=True))
"#;

fn digests(args: &[&str], env: &[(String, String)]) -> serde_json::Value {
    let args: Vec<&Path> = args.iter().map(Path::new).collect();
    serde_json::from_slice(&python(DIGESTS, &args, env)).expect("json")
}

/// The versions in a local Delta table's log.
fn versions(table: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(table.join("_delta_log"))
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter_map(|n| n.strip_suffix(".json").map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

#[test]
fn each_run_commits_the_lakes_tables_and_a_night_only_the_kommun_months_it_changed() {
    let mut t = TestLake::new();
    let extract = private_fs_pipeline(&mut t);
    let cfg = write_config(t.dir.path(), &t.settings.pipelines_dir);
    let data = t.dir.path().join("data");
    let cloud = t.dir.path().join("cloud");
    let text = std::fs::read_to_string(&cfg).expect("config");
    let text = text.replacen(
        "[lake]\n",
        &format!("[lake]\ndelta = '{}'\n", cloud.display()),
        1,
    );
    std::fs::write(&cfg, text).expect("config");
    let run = |failpoint: Option<&str>| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_malgrupp"));
        c.args(["--config", cfg.to_str().expect("utf-8 path"), "run", "fs"]);
        if let Some(f) = failpoint {
            c.env("MALGRUPP_FAILPOINT", f);
        }
        c.output().expect("spawn")
    };
    let ok = |out: std::process::Output| {
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let table = "forsorjningsstod";
    let (data_s, cloud_s) = (data.display().to_string(), cloud.display().to_string());
    let local = || digests(&["local", &data_s, table], &[]);
    let delta = |v: &str| digests(&["delta", &cloud_s, table, v], &[]);

    ok(run(None));
    let first = local();
    assert!(first[table][0].as_u64().is_some_and(|n| n > 0), "{first}");
    assert_eq!(delta("0"), first);
    let log = cloud.join(table);
    assert_eq!(versions(&log).len(), 1);
    // Partitioned as the lake is: every object under its kommun's and period's prefix.
    let v0 =
        std::fs::read_to_string(log.join("_delta_log/00000000000000000000.json")).expect("log");
    assert!(
        v0.contains(r#""partitionColumns":["kommun","period"]"#),
        "{v0}"
    );
    assert!(
        v0.contains(r#""path":"kommun=0880/period=2015-05/fs-"#),
        "{v0}"
    );

    // Nothing changed: nothing committed. A lost cache costs reading the files again,
    // never a version: names are by content.
    ok(run(None));
    std::fs::remove_file(data.join("_meta/lake_delta")).expect("cache");
    ok(run(None));
    assert_eq!(versions(&log).len(), 1);

    // A new delivery, killed after its objects were uploaded and before the commit: the
    // table stays at version 0 though the local lake moved on.
    std::fs::write(&extract, without_first_data_row(&extract)).expect("write");
    let killed = run(Some("before-delta-commit"));
    let stderr = String::from_utf8_lossy(&killed.stderr);
    assert!(
        !killed.status.success() && stderr.contains("failpoint before-delta-commit"),
        "{stderr}"
    );
    let second = local();
    assert_ne!(second, first);
    assert_eq!(delta("newest"), first);

    // The next run has nothing new to ingest; its refresh catches the table up in one
    // version that replaces only the kommun-month the delivery changed.
    ok(run(None));
    assert_eq!(delta("newest"), second);
    assert_eq!(delta("0"), first);
    let v1 =
        std::fs::read_to_string(log.join("_delta_log/00000000000000000001.json")).expect("log");
    let adds: Vec<&str> = v1.lines().filter(|l| l.contains(r#"{"add":"#)).collect();
    let removes: Vec<&str> = v1.lines().filter(|l| l.contains(r#"{"remove":"#)).collect();
    assert_eq!((adds.len(), removes.len()), (1, 1), "{v1}");
    assert!(adds[0].contains("kommun=0880/period=2015-05/fs-"), "{v1}");
    // Analysts read it as of a version with `malgrupp sql --delta`, the partition
    // columns from the log: each version's rows, of kommun 0880 in May 2015.
    for (version, rows) in [("0", &first), ("1", &second)] {
        let (ok, out, err) = crate::object_storage::malgrupp_sql(
            t.dir.path(),
            "select count(*) as n from fs where kommun = '0880' and period = '2015-05'",
            &[
                "--delta",
                &format!("fs={cloud_s}/{table}"),
                "--as-of",
                version,
            ],
            &[],
        );
        assert!(ok, "{err}");
        assert_eq!(out, format!("n\n{}\n", rows[table][0]), "version {version}");
    }

    // …or as of a run, by its id from the ledger: as the tables were once the run was
    // committed. The runs that changed nothing (2, 3) read version 0, though no version
    // of the table names them; the delivery's run (4), whose own refresh was killed,
    // reads version 1, which the next refresh committed with it. The ledger got no
    // version from the killed refresh: a version of it follows every table's.
    let runs = run_ids(&data);
    assert_eq!(runs.len(), 5, "{runs:?}");
    assert_eq!(versions(&cloud.join("runs")).len(), 4);
    let as_of_run = |run: &str| {
        crate::object_storage::malgrupp_sql(
            t.dir.path(),
            "select count(*) as n from fs",
            &["--delta", &format!("fs={cloud_s}/{table}"), "--as-of", run],
            &[],
        )
    };
    for (run, rows) in [
        (&runs[0], &first),
        (&runs[1], &first),
        (&runs[2], &first),
        (&runs[3], &second),
        (&runs[4], &second),
    ] {
        let (read, out, err) = as_of_run(run);
        assert!(read, "{err}");
        assert_eq!(out, format!("n\n{}\n", rows[table][0]), "run {run}");
    }
    let (found, _, err) = as_of_run("20150101T000000.000Z-fs");
    assert!(
        !found && err.contains("run 20150101T000000.000Z-fs was never committed here"),
        "{err}"
    );

    // A table deleted in the target is committed again, equal to the lake.
    std::fs::remove_dir_all(&log).expect("delete table");
    ok(run(None));
    assert_eq!(versions(&log).len(), 1);
    assert_eq!(delta("newest"), second);
    // Without a run ledger beside the table a run id cannot be resolved, and says so.
    std::fs::remove_dir_all(cloud.join("runs")).expect("delete ledger");
    let (found, _, err) = as_of_run(&runs[0]);
    assert!(!found && err.contains("no run ledger here"), "{err}");
}

/// The lake's run ids, oldest first.
pub(super) fn run_ids(lake: &Path) -> Vec<String> {
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(lake.join("_meta/manifest.json")).expect("manifest"))
            .expect("json");
    manifest["runs"]
        .as_array()
        .expect("runs")
        .iter()
        .map(|r| r["run_id"].as_str().expect("run id").to_string())
        .collect()
}

#[tokio::test]
async fn on_s3_the_lakes_tables_are_committed_under_a_lease_other_hosts_respect() {
    let moto = crate::object_storage::Moto::start().await;
    let t = TestLake::new();
    let (outcome, out) = t.run(&["kalmar_fs", "kalmar_kaa"]).await;
    assert!(outcome.success(), "{out}");
    let target = Location::parse("s3://lake/tables").expect("location");
    let lake = t.lake();
    let sync = || sync_copy(&lake, &target, moto.env());

    // Another host holds the lease: nothing is committed, and the error says by whom.
    let other = moto.hold_lease("tables", "lake", "the other host").await;
    let e = sync().await.expect_err("busy").to_string();
    assert!(
        e.contains("another host") && e.contains("the other host"),
        "{e}"
    );
    // …and the links of its listing are gone: they would keep the space of every file
    // a later run replaces.
    let scratch = lake.root().join("_meta/lake_delta.snapshot");
    assert!(!scratch.exists(), "{}", scratch.display());
    drop(other);

    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let synced = sync().await.expect("sync");
    let mut committed: Vec<&str> = synced.committed.iter().map(|(t, _)| t.as_str()).collect();
    committed.sort_unstable();
    // The tables with files, and the ledger beside them.
    assert_eq!(
        committed,
        ["forsorjningsstod", "kaa", "lineage", "runs"],
        "{synced:?}"
    );
    assert!(synced.committed.iter().all(|(_, v)| *v == 0), "{synced:?}");
    let tables = ["forsorjningsstod", "kaa"];
    let env = moto.python_env();
    let names = tables.join(",");
    let data = t.settings.lake_root.display().to_string();
    let local = digests(&["local", &data, &names], &[]);
    assert_eq!(
        digests(&["delta", "s3://lake/tables", &names, "newest"], &env),
        local
    );
    // The ledger as `malgrupp sql` has it: one row per run, one per extract and partition.
    let rows = |table: &str| {
        let out = python(
            "import os, sys\nfrom deltalake import DeltaTable\nopts = {k: v for k, v in os.environ.items() if k.startswith('AWS_')}\nopts['AWS_ALLOW_HTTP'] = 'true'\nprint(DeltaTable(sys.argv[1], storage_options=opts).to_pyarrow_table().num_rows)",
            &[Path::new(&format!("s3://lake/tables/{table}"))],
            &env,
        );
        String::from_utf8_lossy(&out)
            .trim()
            .parse::<i64>()
            .expect("rows")
    };
    for table in ["runs", "lineage"] {
        let local = t.scalar(&format!("select count(*) from {table}")).await;
        assert!(local.is_some_and(|n| n > 0), "{table}");
        assert_eq!(Some(rows(table)), local, "{table}");
    }
    // Nothing changed: nothing committed, and nothing listed but each table's log.
    assert!(sync().await.expect("sync").committed.is_empty());

    // The lake restored from the bucket into an empty directory: the same rows, the same
    // identity, the same run history.
    let dir = tempfile::tempdir().expect("tempdir");
    let restored_lake = malgrupp::lake::Lake::new(dir.path());
    let restored = malgrupp::lake::mirror::restore::restore(&restored_lake, &target, moto.env())
        .await
        .expect("restore")
        .expect("a lake was committed there");
    let files_of = |table: &str| {
        crate::common::files_under(&t.settings.lake_root.join(table))
            .iter()
            .filter(|f| f.extension().is_some_and(|e| e == "parquet"))
            .count()
    };
    let mut by_name = restored.tables.clone();
    by_name.sort();
    assert_eq!(
        by_name,
        tables
            .iter()
            .map(|table| (table.to_string(), 0, files_of(table)))
            .collect::<Vec<_>>()
    );
    let again = dir.path().display().to_string();
    assert_eq!(digests(&["local", &again, &names], &[]), local);
    assert_eq!(restored_lake.id().expect("id"), lake.id().expect("id"));
    let runs = t.scalar("select count(*) from runs").await;
    assert_eq!(Some(restored.runs as i64), runs);
}

/// The lake's tables and the published views in one prefix would take each other's
/// tables for their own: refused with both settings named.
#[test]
fn the_lake_and_the_published_views_need_prefixes_of_their_own() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = dir.path().join("malgrupp.toml");
    std::fs::write(
        &cfg,
        "[lake]\ndelta = 's3://b/x'\n[publish]\ndelta = 's3://b/x'\n",
    )
    .expect("config");
    let e = malgrupp::config::Settings::load(Some(&cfg))
        .expect_err("one prefix")
        .to_string();
    assert!(
        e.contains("lake.delta") && e.contains("[publish] delta"),
        "{e}"
    );
    std::fs::write(
        &cfg,
        "[lake]\ndelta = 's3://b/lake'\ndelta_keep_days = 7\n[publish]\ndelta = 's3://b/x'\n",
    )
    .expect("config");
    let s = malgrupp::config::Settings::load(Some(&cfg)).expect("two prefixes");
    assert_eq!(
        s.lake_delta.map(|l| l.to_string()).as_deref(),
        Some("s3://b/lake")
    );
    assert_eq!(s.lake_delta_keep_days, 7);
}

/// A store that is down stops the runs of a lake whose `[lake] delta` is on it (no run
/// can take its pipeline's lease there, so none can be sure it is alone: the trigger
/// fails, nothing is ingested) and fails the refresh with both targets named; the next
/// run with the store up ingests and commits both.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_down_is_reported_by_the_run_and_caught_up_by_the_next() {
    let mut t = TestLake::new();
    private_fs_pipeline(&mut t);
    let cfg = write_config(t.dir.path(), &t.settings.pipelines_dir);
    let text = std::fs::read_to_string(&cfg).expect("config").replacen(
        "[lake]\n",
        "[lake]\ndelta = 's3://lake/tables'\n",
        1,
    ) + "[publish]\ndelta = 's3://lake/published'\n";
    std::fs::write(&cfg, text).expect("config");
    let run = |env: Vec<(String, String)>| {
        Command::new(env!("CARGO_BIN_EXE_malgrupp"))
            .args(["--config", cfg.to_str().expect("utf-8 path"), "run", "fs"])
            .envs(env)
            .output()
            .expect("spawn")
    };
    // Nothing listens on the port of a server that has been stopped.
    let gone = crate::object_storage::Moto::start().await;
    let env = gone.env();
    drop(gone);
    let down = run(env);
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&down.stdout),
        String::from_utf8_lossy(&down.stderr)
    );
    assert!(!down.status.success(), "{said}");
    for expected in [
        "the pipeline's lease could not be taken, so it was not run",
        "s3://lake/tables/_meta/locks/pipeline-fs.lease",
        "the lake's tables could not be committed as Delta tables",
        "s3://lake/tables",
        "the published views could not be committed as Delta tables",
        "s3://lake/published",
    ] {
        assert!(said.contains(expected), "{expected:?} not in:\n{said}");
    }
    let partition = t
        .dir
        .path()
        .join("data/forsorjningsstod/kommun=0880/period=2015-05/fs.parquet");
    assert!(!partition.exists(), "ingested without the lease");

    let moto = crate::object_storage::Moto::start().await;
    let up = run(moto.env());
    assert!(
        up.status.success(),
        "{}",
        String::from_utf8_lossy(&up.stderr)
    );
    assert!(partition.is_file());
    let (store, _) = moto.host("");
    for table in ["tables/forsorjningsstod", "published/kartlaggning"] {
        let table = malgrupp::lake::delta::DeltaTable::new(
            store.clone(),
            object_store::path::Path::from(table),
            table,
        );
        assert_eq!(table.version().await.expect("log"), Some(0), "{table:?}");
    }
}

/// A new malgrupp whose table gained a column: the Delta table an older one committed
/// takes it in one version (files from before read with nulls in it, as the lake's
/// files from before lack it), and a column whose type changed is refused naming it.
#[tokio::test]
async fn a_table_gaining_a_column_gets_it_in_one_version_and_a_changed_type_is_refused() {
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    use malgrupp::lake::delta::{Change, DeltaTable};
    let t = TestLake::new();
    let (outcome, out) = t.run(&["kalmar_fs"]).await;
    assert!(outcome.success(), "{out}");
    let def = malgrupp::normalize::schema::table("forsorjningsstod").expect("table");
    let canonical = def.file_schema();
    let added = canonical
        .fields()
        .iter()
        .find(|f| f.is_nullable())
        .expect("a nullable column")
        .name()
        .clone();
    let older = |ty: Option<DataType>| {
        Schema::new(
            canonical
                .fields()
                .iter()
                .filter_map(|f| match (f.name() == &added, &ty) {
                    (false, _) => Some(f.as_ref().clone()),
                    (true, None) => None,
                    (true, Some(ty)) => Some(Field::new(f.name(), ty.clone(), true)),
                })
                .collect::<Vec<_>>(),
        )
    };
    // The lake's files as the older malgrupp wrote them: without the column.
    let data = t.settings.lake_root.clone();
    let files: Vec<_> = crate::common::files_under(&data.join(def.name))
        .into_iter()
        .filter(|f| f.extension().is_some_and(|e| e == "parquet"))
        .collect();
    assert!(!files.is_empty());
    for file in &files {
        let reader =
            datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(
                std::fs::File::open(file).expect("open"),
            )
            .expect("parquet")
            .build()
            .expect("reader");
        let batches: Vec<_> = reader
            .map(|b| {
                let b = b.expect("batch");
                let keep: Vec<usize> = (0..b.num_columns())
                    .filter(|i| b.schema().field(*i).name() != &added)
                    .collect();
                b.project(&keep).expect("project")
            })
            .collect();
        let mut w = datafusion::parquet::arrow::ArrowWriter::try_new(
            std::fs::File::create(file).expect("file"),
            batches[0].schema(),
            None,
        )
        .expect("writer");
        for b in &batches {
            w.write(b).expect("write");
        }
        w.close().expect("close");
    }
    // …and the Delta tables it committed: one with the column missing, one with it of
    // another type.
    let dir = tempfile::tempdir().expect("tempdir");
    for (root, ty) in [("ok", None), ("changed", Some(DataType::Int64))] {
        let location = Location::Local(dir.path().join(root));
        std::fs::create_dir_all(dir.path().join(root)).expect("dir");
        let opened = location.open_store(Vec::new()).expect("store");
        DeltaTable::new(opened.store, opened.root.join(def.name), def.name)
            .create(
                &older(ty),
                &["kommun", "period"],
                Change::default(),
                "CREATE TABLE",
            )
            .await
            .expect("older table");
    }

    let ok = Location::Local(dir.path().join("ok"));
    let synced = sync_copy(&t.lake(), &ok, Vec::new()).await.expect("sync");
    assert!(
        synced.committed.contains(&(def.name.to_string(), 1)),
        "{synced:?}"
    );
    let read = python(
        r#"
import sys
from deltalake import DeltaTable
t = sys.argv[1] + "/forsorjningsstod"
for v in (0, 1):
    d = DeltaTable(t, version=v)
    a = d.to_pyarrow_table()
    print(v, sys.argv[2] in d.schema().to_arrow().names, a.num_rows, a.column(sys.argv[2]).null_count if sys.argv[2] in a.column_names else -1)
"#,
        &[&dir.path().join("ok"), Path::new(&added)],
        &[],
    );
    let local_rows = digests(&["local", &data.display().to_string(), def.name], &[])[def.name][0]
        .as_u64()
        .expect("rows");
    assert_eq!(
        String::from_utf8_lossy(&read),
        format!("0 False 0 -1\n1 True {local_rows} {local_rows}\n")
    );

    let changed = Location::Local(dir.path().join("changed"));
    let e = sync_copy(&t.lake(), &changed, Vec::new())
        .await
        .expect_err("another type")
        .to_string();
    assert!(
        e.contains(&format!("{added} is Int64 there")) && e.contains("remove the Delta table"),
        "{e}"
    );
    // The ledger follows only a sync that committed every table: a run it names has its
    // rows committed (what `sql --as-of RUN_ID` relies on).
    assert!(
        e.contains("the ledger (runs, lineage) waits until every table is committed"),
        "{e}"
    );
    assert!(!dir.path().join("changed/runs").exists());
    assert!(dir.path().join("ok/runs/_delta_log").exists());
    // The failed table's files keep their known names: the next sync does not read them.
    let seen: serde_json::Value =
        serde_json::from_slice(&std::fs::read(data.join("_meta/lake_delta")).expect("lake_delta"))
            .expect("json");
    let known = seen["files"].as_object().map_or(0, |f| f.len());
    assert_eq!(known, files.len(), "{seen}");
}

/// Two lakes pointed at one prefix would each remove the other's files at every sync:
/// the first to commit claims it, the other is refused naming the first, for the lake's
/// tables and the published views alike, until the claim is deleted.
#[tokio::test]
async fn a_prefix_another_lake_committed_to_is_refused_naming_it() {
    let (a, b) = (TestLake::new(), TestLake::new());
    for t in [&a, &b] {
        let (outcome, out) = t.run(&["kalmar_fs"]).await;
        assert!(outcome.success(), "{out}");
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let lake_target = Location::Local(dir.path().join("lake"));
    let published_target = Location::Local(dir.path().join("published"));
    let mirror = |t: &TestLake| {
        let (lake, target) = (t.lake(), lake_target.clone());
        async move { sync_copy(&lake, &target, Vec::new()).await }
    };
    let publish = |t: &TestLake| {
        let (lake, target) = (t.lake(), published_target.clone());
        async move { malgrupp::publish::delta::sync(&lake, &target, 30, Vec::new()).await }
    };
    mirror(&a).await.expect("a claims the lake's prefix");
    publish(&a).await.expect("a claims the published prefix");
    let a_root = a.settings.lake_root.display().to_string();
    for e in [
        mirror(&b).await.expect_err("another lake's").to_string(),
        publish(&b).await.expect_err("another lake's").to_string(),
    ] {
        assert!(
            e.contains("another lake") && e.contains(&a_root) && e.contains("_meta/lake"),
            "{e}"
        );
    }
    // Nothing of b's was committed: each table still at a's version 0.
    for table in ["lake/forsorjningsstod", "published/kartlaggning"] {
        assert_eq!(versions(&dir.path().join(table)).len(), 1, "{table}");
    }
    // a goes on; deleting the claim hands the prefix over to b.
    mirror(&a).await.expect("a still");
    std::fs::remove_file(dir.path().join("lake/_meta/lake")).expect("claim");
    mirror(&b).await.expect("b takes the prefix over");
    let e = mirror(&a).await.expect_err("now b's").to_string();
    assert!(
        e.contains(&b.settings.lake_root.display().to_string()),
        "{e}"
    );
}

/// A run puts its files in place, and a sync lists and links the tables' files, under
/// one lock (`tables`): a Delta version holds all of a run's kommun-months or none, and
/// files a run puts in place after the listing are not read into it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sync_and_a_run_take_turns_at_the_tables() {
    use malgrupp::lake::lock::{LakeLock, TABLES_LOCK};
    let t = std::sync::Arc::new(TestLake::new());
    let (outcome, out) = t.run(&["kalmar_fs"]).await;
    assert!(outcome.success(), "{out}");
    let root = t.settings.lake_root.clone();
    let dir = tempfile::tempdir().expect("tempdir");
    let target = Location::Local(dir.path().to_path_buf());
    let wait = std::time::Duration::from_secs(1);

    // A run putting its files in place holds the sync back…
    let held = LakeLock::acquire_blocking(&root, TABLES_LOCK).expect("lock");
    let sync = tokio::spawn({
        let (lake, target) = (t.lake(), target.clone());
        async move { sync_copy(&lake, &target, Vec::new()).await }
    });
    tokio::time::sleep(wait).await;
    assert!(!sync.is_finished());
    assert!(!dir.path().join("forsorjningsstod").exists());
    drop(held);
    let synced = sync.await.expect("join").expect("sync");
    assert!(
        synced
            .committed
            .contains(&("forsorjningsstod".to_string(), 0)),
        "{synced:?}"
    );
    // The links it read from are gone with it.
    assert!(!root.join("_meta/lake_delta.snapshot").exists());

    // …and a sync listing the tables holds a run back once its files are staged.
    let held = LakeLock::acquire_blocking(&root, TABLES_LOCK).expect("lock");
    // A run's future is not `Send`: it runs on a runtime of its own.
    let run = std::thread::spawn({
        let t = t.clone();
        move || {
            tokio::runtime::Runtime::new()
                .expect("runtime")
                .block_on(t.run(&["kalmar_kaa"]))
        }
    });
    let files = |temporary: bool| {
        crate::common::files_under(&root.join("kaa"))
            .into_iter()
            .filter(|f| {
                let name = f.file_name().map(|n| n.to_string_lossy().into_owned());
                name.is_some_and(|n| n.starts_with(".tmp-") == temporary)
            })
            .count()
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while files(true) == 0 {
        assert!(std::time::Instant::now() < deadline, "nothing staged");
        assert!(!run.is_finished(), "the run ended without staging");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    tokio::time::sleep(wait).await;
    assert!(!run.is_finished());
    assert_eq!(files(false), 0, "files put in place under the sync's lock");
    drop(held);
    let (outcome, out) = run.join().expect("join");
    assert!(outcome.success(), "{out}");
    assert!(files(false) > 0 && files(true) == 0);
}

/// A lake lost with its disk comes back from its `[lake] delta` copy with `malgrupp
/// restore`: the same rows in every table, the run history and the lake's identity (so
/// it goes on committing to its prefix). The next run processes the extract again and
/// writes the same files: the copy gets no new version of the table. A lake holding
/// data is refused (`--if-empty` leaves it), and so is a prefix no lake committed to.
#[test]
fn a_lost_lake_is_restored_from_its_delta_copy() {
    let mut t = TestLake::new();
    private_fs_pipeline(&mut t);
    let cfg = write_config(t.dir.path(), &t.settings.pipelines_dir);
    let data = t.dir.path().join("data");
    let cloud = t.dir.path().join("cloud");
    let text = std::fs::read_to_string(&cfg).expect("config");
    let with_delta = |target: &Path| {
        text.replacen(
            "[lake]\n",
            &format!("[lake]\ndelta = '{}'\n", target.display()),
            1,
        )
    };
    std::fs::write(&cfg, with_delta(&cloud)).expect("config");
    let malgrupp = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_malgrupp"))
            .args(["--config", cfg.to_str().expect("utf-8 path")])
            .args(args)
            .output()
            .expect("spawn");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let table = "forsorjningsstod";
    let data_s = data.display().to_string();
    let local = || digests(&["local", &data_s, table], &[]);
    let history = || {
        let (ok, out, err) = crate::object_storage::malgrupp_sql(
            t.dir.path(),
            "select run_id, pipeline, status, rows_written, trigger from runs order by run_id",
            &[],
            &[],
        );
        assert!(ok, "{err}");
        out
    };
    let lineage = || {
        crate::object_storage::malgrupp_sql(
            t.dir.path(),
            "select run_id, extract_sha256, table_name, kommun, period from lineage order by 1, 2, 3, 4, 5",
            &[],
            &[],
        )
        .1
    };
    let (ok, _, err) = malgrupp(&["run", "fs"]);
    assert!(ok, "{err}");
    let (rows, runs, fed) = (local(), history(), lineage());
    assert!(rows[table][0].as_u64().is_some_and(|n| n > 0), "{rows}");
    assert!(fed.lines().count() > 1, "{fed}");
    let id = std::fs::read_to_string(data.join("_meta/lake_id")).expect("lake id");

    let (ok, _, err) = malgrupp(&["restore"]);
    assert!(!ok && err.contains("the lake holds data already"), "{err}");
    let (ok, out, err) = malgrupp(&["restore", "--if-empty"]);
    assert!(ok && out.contains("nothing restored"), "{out}{err}");

    // What the lake knows of its files' names in the copy, by path.
    let names = || {
        let seen: serde_json::Value = serde_json::from_slice(
            &std::fs::read(data.join("_meta/lake_delta")).expect("_meta/lake_delta"),
        )
        .expect("json");
        seen["files"]
            .as_object()
            .expect("files")
            .iter()
            .map(|(k, v)| (k.clone(), v["name"].clone()))
            .collect::<Vec<_>>()
    };
    let known = names();
    assert!(!known.is_empty());

    // The disk is lost.
    std::fs::remove_dir_all(&data).expect("lose the lake");
    let (ok, out, err) = malgrupp(&["restore"]);
    assert!(ok, "{err}");
    // The restore knows them too, so the first commit after it reads no file again.
    assert_eq!(names(), known);
    assert!(out.contains(&format!("{table}: version 0")), "{out}");
    assert_eq!(local(), rows);
    assert_eq!(history(), runs);
    assert_eq!(lineage(), fed);
    assert_eq!(
        std::fs::read_to_string(data.join("_meta/lake_id")).expect("lake id"),
        id
    );

    // The next run writes the same files, and its refresh commits them to the same
    // prefix (the identity is the lake's): no new version of the table.
    let committed = versions(&cloud.join(table));
    let (ok, _, err) = malgrupp(&["run", "fs"]);
    assert!(ok, "{err}");
    assert_eq!(local(), rows);
    assert_eq!(versions(&cloud.join(table)), committed);
    assert_eq!(history().lines().count(), runs.lines().count() + 1);

    // A prefix no lake committed to has nothing to restore.
    std::fs::write(&cfg, with_delta(&t.dir.path().join("elsewhere"))).expect("config");
    std::fs::remove_dir_all(&data).expect("lose the lake");
    let (ok, _, err) = malgrupp(&["restore"]);
    assert!(!ok && err.contains("nothing to restore from"), "{err}");
    let (ok, out, err) = malgrupp(&["restore", "--if-empty"]);
    assert!(ok && out.contains("the lake starts empty"), "{out}{err}");
}

/// A run's rows and record reach the lake's copy before publishing starts: a host
/// stopped while it publishes (a pod whose disk goes with it) has lost none of them.
/// The run's process is held before publishing by holding its lake's publish lock,
/// and killed there once the copy has its tables.
#[tokio::test]
async fn a_run_is_committed_to_the_lakes_copy_before_publishing() {
    use malgrupp::lake::lock::LakeLock;
    let mut t = TestLake::new();
    private_fs_pipeline(&mut t);
    let cfg = write_config(t.dir.path(), &t.settings.pipelines_dir);
    let data = t.dir.path().join("data");
    let cloud = t.dir.path().join("cloud");
    let text = std::fs::read_to_string(&cfg).expect("config").replacen(
        "[lake]\n",
        &format!("[lake]\ndelta = '{}'\n", cloud.display()),
        1,
    );
    std::fs::write(&cfg, text).expect("config");
    std::fs::create_dir_all(&data).expect("mkdir");
    let held = LakeLock::acquire_blocking(&data, malgrupp::publish::LOCK).expect("lock");
    let mut run = Command::new(env!("CARGO_BIN_EXE_malgrupp"))
        .args(["--config", cfg.to_str().expect("utf-8 path"), "run", "fs"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while versions(&cloud.join("runs")).is_empty() {
        if std::time::Instant::now() > deadline {
            let _ = run.kill();
            panic!("nothing committed to the copy while publishing waited");
        }
        assert!(run.try_wait().expect("wait").is_none(), "the run ended");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    run.kill().expect("kill");
    run.wait().expect("wait");
    assert!(
        !data.join("published").exists(),
        "the run published before it was killed"
    );
    drop(held);

    let restored = TestLake::new();
    malgrupp::lake::mirror::restore::restore(&restored.lake(), &Location::Local(cloud), Vec::new())
        .await
        .expect("restore")
        .expect("restored");
    let table = "forsorjningsstod";
    assert_eq!(
        crate::common::contents_under(&restored.settings.lake_root.join(table)),
        crate::common::contents_under(&data.join(table)),
        "the run's rows in the copy"
    );
    let runs = malgrupp::lake::manifest::Manifest::load(&restored.settings.lake_root)
        .expect("ledger")
        .runs;
    assert!(
        runs.iter().any(|r| r.pipeline == "fs" && r.status == "ok"),
        "{runs:?}"
    );
}

/// A sync of `lake` to `target` as `[lake] delta` makes it (a copy for other engines,
/// versions kept 30 days; store settings from `env`).
pub async fn sync_copy(
    lake: &malgrupp::lake::Lake,
    target: &Location,
    env: Vec<(String, String)>,
) -> malgrupp::error::Result<malgrupp::lake::mirror::Mirrored> {
    malgrupp::lake::mirror::sync(lake, target, malgrupp::lake::mirror::Scope::Copy, 30, env).await
}
