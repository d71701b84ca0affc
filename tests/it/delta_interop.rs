//! Delta tables other engines wrote, read by `malgrupp sql --delta`: tables written by
//! delta-rs (PyPI `deltalake`, as Spark, Databricks or Fabric would write them), with
//! checkpoints and a cleaned-up log, and with partition values that must be escaped in
//! paths.

use std::path::Path;

use crate::object_storage::malgrupp_sql;

/// Runs `script` with `python3 -c`, `args` after it and `env` added (a script passes it
/// on as delta-rs's `storage_options`); returns its standard output.
pub fn python(script: &str, args: &[&Path], env: &[(String, String)]) -> Vec<u8> {
    // Leaving without the interpreter's teardown: delta-rs's threads sometimes abort
    // it there ("terminate called without an active exception") after all work is done.
    let script =
        format!("{script}\nimport os as _os, sys as _sys\n_sys.stdout.flush()\n_os._exit(0)\n");
    let out = std::process::Command::new("python3")
        .args(["-c", &script])
        .args(args)
        .envs(env.iter().cloned())
        .output()
        .expect("python3 (pip install deltalake pyarrow, as .ci/run does)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// Runs a delta-rs `script` with the table's root as its first argument.
fn delta_rs(script: &str, root: &str, env: &[(String, String)]) {
    python(script, &[Path::new(root)], env);
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
    let (ok, out, err) = sql_t(cwd, root, query, extra, env);
    if ok { Ok(out) } else { Err(err) }
}

/// `malgrupp sql` running `query` with the Delta table at `root` registered as `t`,
/// `extra` arguments and `env` added: (success, stdout, stderr).
fn sql_t(
    cwd: &Path,
    root: &str,
    query: &str,
    extra: &[&str],
    env: &[(String, String)],
) -> (bool, String, String) {
    let delta = format!("t={root}");
    malgrupp_sql(cwd, query, &[&["--delta", &delta][..], extra].concat(), env)
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
    python(split, &[&single, &part(1), &part(2)], &[]);
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
    let (ok, out, err) = sql_t(
        cwd,
        root,
        "select sum(alder) as s from t where kommun in ('a b', 'å/ä')",
        &[],
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

#[tokio::test]
async fn a_table_malgrupp_checkpointed_and_cleaned_up_is_read_by_delta_rs_and_by_malgrupp() {
    use malgrupp::lake::delta::{Change, DeltaTable};

    use crate::object_storage::{kaa_schema, local_table, put_kaa};
    let dir = tempfile::tempdir().expect("tempdir");
    let (store, root, prefix) = local_table(dir.path());
    let table = DeltaTable::new(store.clone(), prefix.clone(), root.display().to_string());
    let first = vec![
        put_kaa(&store, &prefix, "0880", "kaa-r1", &[16, 17]).await,
        put_kaa(&store, &prefix, "0881", "kaa-r1", &[30]).await,
    ];
    let change = Change {
        add: first,
        remove: vec![],
        ..Default::default()
    };
    table
        .create(&kaa_schema(), &["kommun"], change, "CREATE TABLE")
        .await
        .expect("create");
    let change = Change {
        add: vec![put_kaa(&store, &prefix, "0880", "kaa-r2", &[18, 19, 20]).await],
        remove: vec!["kommun=0880/kaa-r1.parquet".into()],
        ..Default::default()
    };
    assert_eq!(table.commit(0, change, "WRITE").await.expect("commit"), 1);
    table.checkpoint(1).await.expect("checkpoint");
    let change = Change {
        add: vec![put_kaa(&store, &prefix, "0882", "kaa-r3", &[40]).await],
        remove: vec![],
        ..Default::default()
    };
    assert_eq!(table.commit(1, change, "WRITE").await.expect("commit"), 2);
    let cleaned = table
        .clean_up(chrono::Utc::now() + chrono::Duration::seconds(1))
        .await
        .expect("clean up");
    assert_eq!((cleaned.commits, cleaned.files), (1, 1), "{cleaned:?}");
    assert!(!root.join("_delta_log/00000000000000000000.json").exists());
    assert!(!root.join("kommun=0880/kaa-r1.parquet").exists());

    // delta-rs reads the table from malgrupp's checkpoint, at the newest version and at
    // the checkpoint's own.
    let script = r#"
import json, sys
from deltalake import DeltaTable
def rows(version=None):
    t = DeltaTable(sys.argv[1], version=version).to_pyarrow_table()
    return sorted(zip(t.column("kommun").to_pylist(), t.column("alder").to_pylist()))
print(json.dumps({"newest": rows(), "at_checkpoint": rows(1)}))
"#;
    let out = python(script, &[&root], &[]);
    let read: serde_json::Value = serde_json::from_slice(&out).expect("json");
    assert_eq!(
        read["newest"],
        serde_json::json!([
            ["0880", 18],
            ["0880", 19],
            ["0880", 20],
            ["0881", 30],
            ["0882", 40]
        ])
    );
    assert_eq!(
        read["at_checkpoint"],
        serde_json::json!([["0880", 18], ["0880", 19], ["0880", 20], ["0881", 30]])
    );
    // And malgrupp itself.
    let root = root.display().to_string();
    assert_eq!(
        per_kommun(dir.path(), &root, &[]).expect("malgrupp sql"),
        "kommun,n,s\n0880,3,57\n0881,1,30\n0882,1,40\n"
    );
    assert!(
        per_kommun(dir.path(), &root, &["--as-of", "0"])
            .expect_err("removed")
            .contains("removed")
    );
}

#[test]
fn files_outside_partition_directories_are_read_with_the_partition_values_the_log_names() {
    // The protocol does not tie a file's path to its partition: Spark's random file
    // prefixes and any writer's own layout put files in directories that name no
    // partition. Their rows (and partition values) come from the log, not the path.
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("t").display().to_string();
    let script = format!(
        r#"{ROWS}
import json, glob
write_deltalake(sys.argv[1], rows(["0880", "0880", "0881", None], [16, 17, 30, 5]), partition_by=["kommun"])
log = glob.glob(sys.argv[1] + "/_delta_log/*.json")[0]
actions = [json.loads(l) for l in open(log)]
os.makedirs(sys.argv[1] + "/ab")
for n, a in enumerate(actions):
    if "add" in a:
        moved = "ab/%d.parquet" % n
        os.rename(sys.argv[1] + "/" + a["add"]["path"], sys.argv[1] + "/" + moved)
        a["add"]["path"] = moved
        if a["add"]["partitionValues"]["kommun"] == "0881":
            print(moved, end="")
open(log, "w").write("\n".join(json.dumps(a) for a in actions) + "\n")
"#
    );
    let of_0881 = python(&script, &[Path::new(&root)], &[]);
    let of_0881 = Path::new(&root).join(String::from_utf8(of_0881).expect("path"));
    assert_eq!(
        per_kommun(dir.path(), &root, &[]).expect("malgrupp sql"),
        "kommun,n,s\n0880,2,33\n0881,1,30\n,1,5\n"
    );
    let (ok, out, err) = sql_t(
        dir.path(),
        &root,
        "select count(*) as n, sum(alder) as s from t where kommun = '0880'",
        &[],
        &[],
    );
    assert!(ok, "{err}");
    assert_eq!(out, "n,s\n2,33\n");
    // A filter on the partition column reads only the files whose values pass it: with
    // 0881's file damaged, 0880 is still answered, and a scan of 0881 fails naming it.
    std::fs::write(&of_0881, b"not parquet").expect("damage");
    let (ok, out, err) = sql_t(
        dir.path(),
        &root,
        "select count(*) as n from t where kommun = '0880'",
        &[],
        &[],
    );
    assert!(ok && out == "n\n2\n", "{out}{err}");
    let name = of_0881
        .file_name()
        .expect("name")
        .to_string_lossy()
        .into_owned();
    let (ok, _, err) = sql_t(
        dir.path(),
        &root,
        "select count(*) as n from t where kommun = '0881'",
        &[],
        &[],
    );
    assert!(!ok && err.contains(&name), "{err}");
}

#[test]
fn a_table_with_column_mapping_is_read_by_its_column_names_at_each_version() {
    // Column mapping (`delta.columnMapping.mode = name`, reader version 2), which
    // Fabric and Databricks use so columns can be renamed: the files name columns by
    // physical names (`col-<uuid>`), partition values are keyed by them, and delta-rs
    // puts the files in random directories.
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("t").display().to_string();
    let script = format!(
        r#"{ROWS}
mapped = {{"delta.columnMapping.mode": "name"}}
write_deltalake(sys.argv[1], rows(["0880", "0880", "0881"], [16, 17, 30]), partition_by=["kommun"], configuration=mapped)
write_deltalake(sys.argv[1], rows(["0881", None], [40, 2]), partition_by=["kommun"], mode="append")
"#
    );
    delta_rs(&script, &root, &[]);
    let sql = |extra: &[&str]| per_kommun(dir.path(), &root, extra).expect("malgrupp sql");
    assert_eq!(sql(&[]), "kommun,n,s\n0880,2,33\n0881,2,70\n,1,2\n");
    assert_eq!(sql(&["--as-of", "0"]), "kommun,n,s\n0880,2,33\n0881,1,30\n");
    let (ok, out, err) = sql_t(
        dir.path(),
        &root,
        "select alder from t where kommun = '0881' and alder > 35",
        &[],
        &[],
    );
    assert!(ok, "{err}");
    assert_eq!(out, "alder\n40\n");
}

#[test]
fn partition_values_have_the_types_the_schema_gives_them_and_nulls_stay_null() {
    // A year partitioned as an integer and a date as a date: compared as numbers and
    // dates, not strings; a null value (`__HIVE_DEFAULT_PARTITION__` on disk) is a null.
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("t").display().to_string();
    let script = r#"
import sys, datetime, pyarrow as pa
from deltalake import write_deltalake
day = datetime.date
t = pa.table({"ar": pa.array([2015, 2016, None], pa.int32()), "d": [day(2015, 1, 1), day(2016, 1, 1), None], "x": [1.5, 2.5, 3.5]})
write_deltalake(sys.argv[1], t, partition_by=["ar", "d"])
"#;
    delta_rs(script, &root, &[]);
    let (ok, out, err) = sql_t(
        dir.path(),
        &root,
        "select ar, d, x, arrow_typeof(ar) as ta, arrow_typeof(d) as td from t \
         where ar >= 2016 or d is null or d < date '2015-06-01' order by x",
        &[],
        &[],
    );
    assert!(ok, "{err}");
    assert_eq!(
        out,
        "ar,d,x,ta,td\n2015,2015-01-01,1.5,Int32,Date32\n2016,2016-01-01,2.5,Int32,Date32\n,,3.5,Int32,Date32\n"
    );
}

/// Deletion vectors as Databricks and Fabric write them, added by hand to a table
/// delta-rs wrote (delta-rs reads them but does not write them): version 1 deletes rows
/// 1 and 3 of kommun 0880's file, version 2 rows 1, 3 and 4 (its `add` before its
/// `remove`, both of the same path), each vector inline in the log (`i`) or in a
/// `deletion_vector_<uuid>.bin` file (`u`). Prints the 0880 file's vector file, if any.
const DELETION_VECTORS: &str = r#"
import json, os, struct, sys, uuid, zlib, pyarrow as pa
from deltalake import write_deltalake
Z85 = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#"
def z85(b):
    b += b"\0" * (-len(b) % 4)
    out = ""
    for i in range(0, len(b), 4):
        v, chunk = struct.unpack(">I", b[i:i + 4])[0], ""
        for _ in range(5):
            chunk, v = Z85[v % 85] + chunk, v // 85
        out += chunk
    return out
def vector(rows):
    # Magic, then a portable 64-bit roaring bitmap: one 32-bit bucket, one array container.
    body = struct.pack("<QI", 1, 0) + struct.pack("<IIHHI", 12346, 1, 0, len(rows) - 1, 16)
    return struct.pack("<I", 1681511377) + body + b"".join(struct.pack("<H", r) for r in rows)
root, kind = sys.argv[1], sys.argv[2]
write_deltalake(root, pa.table({"kommun": ["0880"] * 5 + ["0881"] * 2, "alder": pa.array([10, 11, 12, 13, 14, 30, 31], pa.int32())}), partition_by=["kommun"])
add = [json.loads(l)["add"] for l in open(root + "/_delta_log/00000000000000000000.json") if '"add"' in l]
add = [a for a in add if a["partitionValues"]["kommun"] == "0880"][0]
blob, name = b"\x01", "deletion_vector_%s.bin" % uuid.uuid4()
def described(rows):
    global blob
    v = vector(rows)
    if kind == "i":
        return {"storageType": "i", "pathOrInlineDv": z85(v), "sizeInBytes": len(v), "cardinality": len(rows)}
    offset, blob = len(blob), blob + struct.pack(">I", len(v)) + v + struct.pack(">I", zlib.crc32(v))
    return {"storageType": "u", "pathOrInlineDv": z85(uuid.UUID(name[16:-4]).bytes), "offset": offset, "sizeInBytes": len(v), "cardinality": len(rows)}
first, second = described([1, 3]), described([1, 3, 4])
if kind == "u":
    open(os.path.join(root, name), "wb").write(blob)
    print(name, end="")
protocol = {"protocol": {"minReaderVersion": 3, "minWriterVersion": 7, "readerFeatures": ["deletionVectors"], "writerFeatures": ["deletionVectors"]}}
def commit(version, actions):
    with open(root + "/_delta_log/%020d.json" % version, "w") as f:
        f.write("".join(json.dumps(a) + "\n" for a in actions))
without = {"path": add["path"], "dataChange": True, "deletionTimestamp": 1}
commit(1, [protocol, {"remove": without}, {"add": dict(add, deletionVector=first)}])
commit(2, [{"add": dict(add, deletionVector=second)}, {"remove": dict(without, deletionVector=first)}])
"#;

/// The rows of the table at `root` by kommun and age, as delta-rs reads them (through
/// its DataFusion-based reader, which applies deletion vectors) at `version`.
fn delta_rs_ages(root: &str, version: u64) -> String {
    let script = r#"
import sys, pyarrow as pa
from deltalake import DeltaTable, QueryBuilder
t = DeltaTable(sys.argv[1], version=int(sys.argv[2]))
rows = pa.table(QueryBuilder().register("t", t).execute("select kommun, alder from t order by alder").read_all())
print("kommun,alder")
for k, a in zip(rows.column("kommun").to_pylist(), rows.column("alder").to_pylist()):
    print("%s,%s" % (k, a))
"#;
    let version = version.to_string();
    let out = python(script, &[Path::new(root), Path::new(&version)], &[]);
    String::from_utf8(out).expect("utf-8")
}

#[test]
fn deletion_vectors_inline_and_in_files_leave_out_the_rows_they_delete_as_delta_rs_does() {
    for kind in ["i", "u"] {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path().join("t").display().to_string();
        let vectors = python(DELETION_VECTORS, &[Path::new(&root), Path::new(kind)], &[]);
        let ours = |version: &str| {
            let (ok, out, err) = sql_t(
                dir.path(),
                &root,
                "select kommun, alder from t order by alder",
                &["--as-of", version],
                &[],
            );
            assert!(ok, "{kind}: {err}");
            out
        };
        let all = "kommun,alder\n0880,10\n0880,11\n0880,12\n0880,13\n0880,14\n0881,30\n0881,31\n";
        assert_eq!(ours("0"), all, "{kind}");
        assert_eq!(
            ours("1"),
            "kommun,alder\n0880,10\n0880,12\n0880,14\n0881,30\n0881,31\n"
        );
        assert_eq!(
            ours("2"),
            "kommun,alder\n0880,10\n0880,12\n0881,30\n0881,31\n"
        );
        for version in [1, 2] {
            assert_eq!(
                ours(&version.to_string()),
                delta_rs_ages(&root, version),
                "{kind} {version}"
            );
        }
        if kind == "u" {
            // A damaged vector file is an error naming it, never the file read whole.
            let file = dir
                .path()
                .join("t")
                .join(String::from_utf8(vectors).expect("name"));
            let mut bytes = std::fs::read(&file).expect("vector file");
            let last = bytes.len() - 6;
            bytes[last] ^= 0xff;
            std::fs::write(&file, bytes).expect("damage");
            let (ok, _, err) = sql_t(dir.path(), &root, "select count(*) from t", &[], &[]);
            assert!(
                !ok && err.contains("checksum") && err.contains("deletion_vector_"),
                "{err}"
            );
        }
    }
}
