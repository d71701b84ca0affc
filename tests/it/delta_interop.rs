//! Delta tables other engines wrote, read by `malgrupp sql --delta`: tables written by
//! delta-rs (PyPI `deltalake`, as Spark, Databricks or Fabric would write them), with
//! checkpoints and a cleaned-up log, and with partition values that must be escaped in
//! paths.

use std::path::Path;

use crate::object_storage::malgrupp_sql;

/// Runs `script` with `python3 -c`, the table's root as its first argument and `env`
/// added (a script passes it on as delta-rs's `storage_options`).
fn delta_rs(script: &str, root: &str, env: &[(String, String)]) {
    let out = std::process::Command::new("python3")
        .args(["-c", script])
        .arg(root)
        .envs(env.iter().cloned())
        .output()
        .expect("python3 (pip install deltalake pyarrow, as .ci/run does)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The rows of table `t` at `root` grouped by kommun, as `malgrupp sql` gives them with
/// `extra` arguments; `Err` with stderr when it fails.
fn per_kommun(cwd: &Path, root: &str, extra: &[&str]) -> Result<String, String> {
    per_kommun_in(cwd, root, extra, &[])
}

/// [`per_kommun`] with `env` added (a store's settings).
fn per_kommun_in(
    cwd: &Path,
    root: &str,
    extra: &[&str],
    env: &[(String, String)],
) -> Result<String, String> {
    let query =
        "select kommun, count(*) as n, sum(alder) as s from t group by kommun order by kommun";
    let delta = format!("t={root}");
    let (ok, out, err) = malgrupp_sql(cwd, query, &[&["--delta", &delta][..], extra].concat(), env);
    if ok { Ok(out) } else { Err(err) }
}

/// Three columns' worth of rows in delta-rs: `rows(kommuner, ages)`.
const ROWS: &str = r#"
import os, sys, pyarrow as pa
from deltalake import write_deltalake, DeltaTable
rows = lambda k, a: pa.table({"kommun": k, "alder": pa.array(a, pa.int32())})
"#;

#[test]
fn a_delta_table_written_by_delta_rs_is_read_by_malgrupp_at_each_version() {
    // The other direction: a table another engine wrote, in a directory whose name has
    // a space.
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("a b").join("t");
    let script = format!(
        r#"{ROWS}
write_deltalake(sys.argv[1], rows(["0880", "0880", "0881"], [16, 17, 30]), partition_by=["kommun"])
write_deltalake(sys.argv[1], rows(["0881"], [40]), partition_by=["kommun"], mode="append")
"#
    );
    let root = root.display().to_string();
    delta_rs(&script, &root, &[]);
    let sql = |extra: &[&str]| per_kommun(dir.path(), &root, extra).expect("malgrupp sql");
    assert_eq!(sql(&[]), "kommun,n,s\n0880,2,33\n0881,2,70\n");
    assert_eq!(sql(&["--as-of", "0"]), "kommun,n,s\n0880,2,33\n0881,1,30\n");
}

#[test]
fn a_checkpointed_table_whose_early_log_was_cleaned_up_is_read_from_its_checkpoint() {
    // Spark checkpoints every 10 commits and delta-rs every 100, and log retention then
    // removes the JSON commits before the checkpoint: a long-lived table from Fabric or
    // Databricks looks like this. Version 2 deletes a row before the checkpoint (a
    // tombstone in it); version 4 comes after it.
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("t");
    let script = format!(
        r#"{ROWS}
t = sys.argv[1]
write_deltalake(t, rows(["0880", "0880", "0881"], [16, 17, 30]), partition_by=["kommun"])
write_deltalake(t, rows(["0881"], [40]), partition_by=["kommun"], mode="append")
DeltaTable(t).delete("alder = 16")
write_deltalake(t, rows(["0882"], [50]), partition_by=["kommun"], mode="append")
DeltaTable(t).create_checkpoint()
write_deltalake(t, rows(["0880"], [60]), partition_by=["kommun"], mode="append")
"#
    );
    delta_rs(&script, &root.display().to_string(), &[]);
    let log = root.join("_delta_log");
    assert!(log.join("00000000000000000003.checkpoint.parquet").exists());
    let root_text = root.display().to_string();
    let sql = |extra: &[&str]| per_kommun(dir.path(), &root_text, extra);
    let newest = "kommun,n,s\n0880,2,77\n0881,2,70\n0882,1,50\n";
    let at_checkpoint = "kommun,n,s\n0880,1,17\n0881,2,70\n0882,1,50\n";
    // With the whole log, the checkpoint and the replay agree.
    assert_eq!(sql(&[]).expect("malgrupp sql"), newest);
    assert_eq!(sql(&["--as-of", "3"]).expect("malgrupp sql"), at_checkpoint);
    assert_eq!(
        sql(&["--as-of", "1"]).expect("malgrupp sql"),
        "kommun,n,s\n0880,2,33\n0881,2,70\n"
    );

    // Log retention removes the commits before the checkpoint.
    for v in 0..3 {
        std::fs::remove_file(log.join(format!("{v:020}.json"))).expect("remove commit");
    }
    assert_eq!(sql(&[]).expect("malgrupp sql"), newest);
    assert_eq!(sql(&["--as-of", "3"]).expect("malgrupp sql"), at_checkpoint);
    assert_eq!(sql(&["--as-of", "4"]).expect("malgrupp sql"), newest);
    let now = chrono::Utc::now().to_rfc3339();
    assert_eq!(sql(&["--as-of", &now]).expect("malgrupp sql"), newest);
    // What retention removed is refused, not answered from the checkpoint.
    let err = sql(&["--as-of", "1"]).expect_err("malgrupp sql refuses");
    assert!(
        err.contains("version 1") && err.contains("removed") && err.contains('3'),
        "{err}"
    );
    assert!(
        sql(&["--as-of", "2000-01-01"])
            .expect_err("malgrupp sql refuses")
            .contains("removed"),
        "a time before the oldest kept commit is refused"
    );

    // The same checkpoint in two parts, as Spark writes a large one; with one part
    // missing (still being written) it is not used, and nothing else can be read.
    let single = log.join("00000000000000000003.checkpoint.parquet");
    let part = |i: u32| {
        log.join(format!(
            "00000000000000000003.checkpoint.{i:010}.0000000002.parquet"
        ))
    };
    let split = r#"
import sys, pyarrow.parquet as pq
t = pq.read_table(sys.argv[1])
half = t.num_rows // 2
pq.write_table(t.slice(0, half), sys.argv[2])
pq.write_table(t.slice(half), sys.argv[3])
"#;
    let out = std::process::Command::new("python3")
        .args(["-c", split])
        .args([&single, &part(1), &part(2)])
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::rename(&single, dir.path().join("kept")).expect("move");
    assert_eq!(sql(&[]).expect("malgrupp sql"), newest);
    assert_eq!(sql(&["--as-of", "3"]).expect("malgrupp sql"), at_checkpoint);
    std::fs::remove_file(part(2)).expect("remove part");
    let err = sql(&[]).expect_err("malgrupp sql refuses");
    assert!(err.contains("no version can be read"), "{err}");
    std::fs::remove_file(part(1)).expect("remove part");
    std::fs::rename(dir.path().join("kept"), &single).expect("move back");
    assert_eq!(sql(&[]).expect("malgrupp sql"), newest);

    // A damaged checkpoint is an error naming it, not an empty table.
    std::fs::write(
        log.join("00000000000000000003.checkpoint.parquet"),
        b"PAR1 damaged",
    )
    .expect("damage");
    let err = sql(&[]).expect_err("malgrupp sql refuses");
    assert!(
        err.contains("00000000000000000003.checkpoint.parquet"),
        "{err}"
    );
}

/// Writes partition values that need escaping with delta-rs at `root` (with the store's
/// settings in `env`) and reads them back with `malgrupp sql`.
fn escaped_partition_values_read_back(cwd: &Path, root: &str, env: &[(String, String)]) {
    let script = format!(
        r#"{ROWS}
options = {{k: v for k, v in os.environ.items() if k.startswith("AWS_")}}
write_deltalake(sys.argv[1], rows(["a b", "x:y", "50%", "å/ä", "0880"], [1, 2, 3, 4, 5]), partition_by=["kommun"], storage_options=options or None)
"#
    );
    delta_rs(&script, root, env);
    assert_eq!(
        per_kommun_in(cwd, root, &[], env).expect("malgrupp sql"),
        "kommun,n,s\n0880,1,5\n50%,1,3\na b,1,1\nx:y,1,2\nå/ä,1,4\n"
    );
    let (ok, out, err) = malgrupp_sql(
        cwd,
        "select sum(alder) as s from t where kommun in ('a b', 'å/ä')",
        &["--delta", &format!("t={root}")],
        env,
    );
    assert!(ok, "{err}");
    assert_eq!(out, "s\n5\n");
}

#[test]
fn partition_values_escaped_in_paths_are_read_as_the_values_the_log_names() {
    // delta-rs (like Spark) escapes partition values in directory names (`a%20b`) and
    // URI-encodes the path in the log once more (`a%2520b`).
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("t");
    escaped_partition_values_read_back(dir.path(), &root.display().to_string(), &[]);
    assert!(root.join("kommun=a%20b").is_dir(), "escaped on disk");
}

#[tokio::test]
async fn partition_values_escaped_in_object_keys_are_read_as_the_values_the_log_names() {
    // On S3 the escaped name is the object key itself; on disk object_store encodes file
    // names once more. Both must come out as the log's values.
    let moto = crate::object_storage::Moto::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    escaped_partition_values_read_back(dir.path(), "s3://lake/escaped", &moto.env());
}
