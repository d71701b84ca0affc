//! Tests of [`super::DeltaTable`] on the in-memory store (conditional create as on S3);
//! tests/it/object_storage.rs commits to moto's S3 and reads back with delta-rs.

use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, Field, Schema};
use object_store::memory::InMemory;
use object_store::{ObjectStoreExt, PutPayload};

use futures::TryStreamExt;

use super::read::{Log, version_of};
use super::*;

fn table(store: &Arc<dyn ObjectStore>) -> DeltaTable {
    DeltaTable::new(store.clone(), StorePath::from("lake/kaa"), "mem://lake/kaa")
}

fn file(kommun: &str, name: &str) -> DataFile {
    DataFile {
        path: format!("kommun={kommun}/{name}.parquet"),
        partition: [("kommun".to_string(), Some(kommun.to_string()))].into(),
        size: 100,
        rows: 7,
        deletion_vector: None,
        bounds: Default::default(),
    }
}

fn schema() -> Schema {
    Schema::new(vec![
        Field::new("person_id", DataType::Utf8, false),
        Field::new("alder", DataType::Int32, true),
    ])
}

async fn created(store: &Arc<dyn ObjectStore>, files: Vec<DataFile>) -> DeltaTable {
    let t = table(store);
    let change = Change {
        add: files,
        remove: vec![],
        ..Default::default()
    };
    assert_eq!(
        t.create(&schema(), &["kommun"], change, "CREATE TABLE")
            .await
            .expect("create"),
        0
    );
    t
}

/// The files of the newest version.
async fn newest(t: &DeltaTable) -> Result<Vec<DataFile>> {
    Ok(t.snapshot(AsOf::Newest).await?.files)
}

fn paths(files: &[DataFile]) -> Vec<&str> {
    files.iter().map(|f| f.path.as_str()).collect()
}

#[tokio::test]
async fn a_commit_replaces_files_and_the_log_replays_to_the_newest_version() {
    let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    assert_eq!(table(&store).version().await.expect("list"), None);
    assert!(table(&store).newest().await.expect("list").is_none());
    let t = created(&store, vec![file("0880", "a-1"), file("0881", "a-1")]).await;
    let replace = Change {
        add: vec![file("0880", "a-2")],
        remove: vec!["kommun=0880/a-1.parquet".into()],
        ..Default::default()
    };
    assert_eq!(t.commit(0, replace, "WRITE").await.expect("commit"), 1);
    assert_eq!(t.version().await.expect("list"), Some(1));
    let files = newest(&t).await.expect("files");
    assert_eq!(
        paths(&files),
        ["kommun=0880/a-2.parquet", "kommun=0881/a-1.parquet"]
    );
    let from_one_listing = t.newest().await.expect("read").expect("a version");
    assert_eq!(
        (from_one_listing.version, from_one_listing.files),
        (1, files.clone())
    );
    assert_eq!(
        files[0],
        file("0880", "a-2"),
        "partition, size and rows survive the log"
    );
    let again = t
        .create(&schema(), &["kommun"], Change::default(), "CREATE TABLE")
        .await;
    assert!(matches!(again, Err(Error::Table { .. })), "{again:?}");
}

#[tokio::test]
async fn writers_of_different_files_both_commit_and_of_the_same_file_one_is_refused_whole() {
    let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    let t = created(&store, vec![file("0880", "fs-1")]).await;
    // Two pipelines planned from version 0; the second rebases on the first.
    let kaa = Change {
        add: vec![file("0880", "kaa-1")],
        remove: vec![],
        ..Default::default()
    };
    let deltagare = Change {
        add: vec![file("0881", "deltagare-1")],
        remove: vec![],
        ..Default::default()
    };
    assert_eq!(t.commit(0, kaa, "WRITE").await.expect("first"), 1);
    assert_eq!(t.commit(0, deltagare, "WRITE").await.expect("rebased"), 2);
    // Two writers replacing the same file from version 2: the later one is refused.
    let replace = |name: &str| Change {
        add: vec![file("0880", name)],
        remove: vec!["kommun=0880/fs-1.parquet".into()],
        ..Default::default()
    };
    assert_eq!(
        t.commit(2, replace("fs-2"), "WRITE").await.expect("winner"),
        3
    );
    let refused = t
        .commit(2, replace("fs-3"), "WRITE")
        .await
        .expect_err("conflict");
    let text = refused.to_string();
    assert!(
        text.contains("mem://lake/kaa") && text.contains("fs-1") && text.contains("nothing"),
        "{text}"
    );
    assert_eq!(
        t.version().await.expect("list"),
        Some(3),
        "nothing of the refused commit landed"
    );
    assert_eq!(
        paths(&newest(&t).await.expect("files")),
        [
            "kommun=0880/fs-2.parquet",
            "kommun=0880/kaa-1.parquet",
            "kommun=0881/deltagare-1.parquet"
        ]
    );
}

#[tokio::test]
async fn of_writers_racing_for_one_version_each_lands_once_in_its_own_version() {
    let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    let t = created(&store, vec![]).await;
    let racers = (0..8).map(|i| {
        let t = t.clone();
        tokio::spawn(async move {
            let change = Change {
                add: vec![file("0880", &format!("p{i}"))],
                remove: vec![],
                ..Default::default()
            };
            t.commit(0, change, "WRITE").await.expect("commit")
        })
    });
    let mut versions = Vec::new();
    for racer in racers {
        versions.push(racer.await.expect("join"));
    }
    versions.sort_unstable();
    assert_eq!(versions, (1..=8).collect::<Vec<u64>>());
    assert_eq!(newest(&t).await.expect("files").len(), 8);
}

#[test]
fn the_schema_names_file_columns_then_partition_columns_as_strings() {
    let text = schema_string(&schema(), &["kommun", "period"]).expect("schema");
    let v: Value = serde_json::from_str(&text).expect("json");
    let fields: Vec<(&str, &str)> = v["fields"]
        .as_array()
        .expect("fields")
        .iter()
        .map(|f| {
            (
                f["name"].as_str().expect("name"),
                f["type"].as_str().expect("type"),
            )
        })
        .collect();
    assert_eq!(
        fields,
        [
            ("person_id", "string"),
            ("alder", "integer"),
            ("kommun", "string"),
            ("period", "string")
        ]
    );
    let odd = Schema::new(vec![Field::new("x", DataType::Binary, true)]);
    assert!(schema_string(&odd, &[]).is_err());
    assert_eq!(version_of("00000000000000000012.json"), Some(12));
    assert_eq!(version_of("00000000000000000012.checkpoint.parquet"), None);
    assert_eq!(version_of("12.json"), None);
}

#[tokio::test]
async fn a_table_is_read_as_of_a_version_or_a_time_and_refuses_what_it_cannot_read() {
    let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    let before = chrono::Utc::now() - chrono::Duration::hours(1);
    let t = created(&store, vec![file("0880", "a-1")]).await;
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let between = chrono::Utc::now();
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let replace = Change {
        add: vec![file("0880", "a-2")],
        remove: vec!["kommun=0880/a-1.parquet".into()],
        ..Default::default()
    };
    t.commit(0, replace, "WRITE").await.expect("commit");
    let at = |as_of| {
        let t = t.clone();
        async move {
            let s = t.snapshot(as_of).await.expect("snapshot");
            (
                s.version,
                s.columns
                    .partitions
                    .iter()
                    .map(|(f, _)| f.name().clone())
                    .collect::<Vec<_>>(),
                s.files.into_iter().map(|f| f.path).collect::<Vec<_>>(),
            )
        }
    };
    let first = (
        0,
        vec!["kommun".to_string()],
        vec!["kommun=0880/a-1.parquet".to_string()],
    );
    let second = (
        1,
        vec!["kommun".to_string()],
        vec!["kommun=0880/a-2.parquet".to_string()],
    );
    assert_eq!(at(AsOf::Version(0)).await, first);
    assert_eq!(at(AsOf::Time(between)).await, first);
    assert_eq!(at(AsOf::Newest).await, second);
    assert_eq!(at(AsOf::Time(chrono::Utc::now())).await, second);
    for (as_of, expected) in [
        (AsOf::Version(2), "the newest is 1"),
        (AsOf::Time(before), "did not exist yet"),
    ] {
        let e = t.snapshot(as_of).await.expect_err("refused").to_string();
        assert!(e.contains(expected) && e.contains("mem://lake/kaa"), "{e}");
    }
    // A log that starts after version 0 (a checkpoint's) and a newer protocol are refused.
    let log = |v: u64| StorePath::from(format!("lake/kaa/_delta_log/{v:020}.json"));
    store.delete(&log(0)).await.expect("delete");
    let e = t
        .snapshot(AsOf::Newest)
        .await
        .expect_err("no version 0")
        .to_string();
    assert!(e.contains("checkpoint"), "{e}");
}

#[tokio::test]
async fn the_columns_of_a_table_malgrupp_created_are_its_schema_with_partitions_last() {
    let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    let t = created(&store, vec![file("0880", "a-1")]).await;
    let columns = t.snapshot(AsOf::Newest).await.expect("snapshot").columns;
    let shown = |c: &[(datafusion::arrow::datatypes::FieldRef, String)]| {
        c.iter()
            .map(|(f, physical)| {
                format!(
                    "{} {} {} {physical}",
                    f.name(),
                    f.data_type(),
                    f.is_nullable()
                )
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(
        shown(&columns.data),
        ["person_id Utf8 false person_id", "alder Int32 true alder"]
    );
    assert_eq!(shown(&columns.partitions), ["kommun Utf8 true kommun"]);
}

#[test]
fn files_named_by_absolute_uris_are_refused_and_relative_paths_are_decoded_once() {
    let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    let t = table(&store);
    let at = |path: &str| {
        let f = DataFile {
            path: path.into(),
            ..file("0880", "a")
        };
        t.location(&f)
            .map(|p| p.to_string())
            .map_err(|e| e.to_string())
    };
    for absolute in [
        "s3://other/t/a.parquet",
        "file:/data/t/a.parquet",
        "abfss://c@a/t/a.parquet",
    ] {
        let e = at(absolute).expect_err(absolute);
        assert!(e.contains("absolute URI") && e.contains(absolute), "{e}");
    }
    assert_eq!(
        at("kommun=x%253Ay/a.parquet").as_deref(),
        Ok("lake/kaa/kommun=x%3Ay/a.parquet")
    );
    assert_eq!(at("ab/a.parquet").as_deref(), Ok("lake/kaa/ab/a.parquet"));
}

#[tokio::test]
async fn a_damaged_log_version_is_an_error_naming_table_and_version() {
    let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    let t = created(&store, vec![file("0880", "a-1")]).await;
    store
        .put(
            &StorePath::from("lake/kaa/_delta_log/00000000000000000001.json"),
            PutPayload::from_static(b"{\"add\": {\"path\": \"kommun=0880/x.parquet\"\n"),
        )
        .await
        .expect("put");
    let e = newest(&t).await.expect_err("damaged").to_string();
    assert!(
        e.contains("mem://lake/kaa") && e.contains("version 1"),
        "{e}"
    );
    // An add without its size is as damaged as broken JSON.
    store
        .put(
            &StorePath::from("lake/kaa/_delta_log/00000000000000000001.json"),
            PutPayload::from_static(
                b"{\"add\": {\"path\": \"kommun=0880/x.parquet\", \"partitionValues\": {}}}\n",
            ),
        )
        .await
        .expect("put");
    let e = newest(&t).await.expect_err("no size").to_string();
    assert!(e.contains("version 1"), "{e}");
}

#[test]
fn checkpoint_names_are_told_from_commits_and_partial_multi_part_checkpoints_are_not_used() {
    assert_eq!(
        checkpoint::name("00000000000000000010.checkpoint.parquet"),
        Some((10, 1))
    );
    assert_eq!(
        checkpoint::name("00000000000000000010.checkpoint.0000000002.0000000003.parquet"),
        Some((10, 3))
    );
    for other in [
        "00000000000000000010.json",
        "_last_checkpoint",
        "00000000000000000010.checkpoint.80a083e8-7026-4e79-81be-64bd76c43a11.parquet",
        "00000000000000000010.checkpoint.0000000004.0000000003.parquet",
        "10.checkpoint.parquet",
    ] {
        assert_eq!(checkpoint::name(other), None, "{other}");
    }
    let log = |names: &[&str]| {
        Log::of(
            names
                .iter()
                .map(|n| StorePath::from(format!("t/_delta_log/{n}"))),
        )
    };
    let parts = log(&[
        "00000000000000000009.json",
        "00000000000000000010.json",
        "00000000000000000010.checkpoint.0000000001.0000000002.parquet",
    ]);
    assert!(
        parts.checkpoints.is_empty(),
        "one part of two is no checkpoint"
    );
    assert_eq!(parts.commits, [9, 10].into());
    assert!(parts.oldest_readable().contains("no version can be read"));
    let whole = log(&[
        "00000000000000000010.checkpoint.0000000002.0000000002.parquet",
        "00000000000000000010.checkpoint.0000000001.0000000002.parquet",
        "00000000000000000010.json",
        "00000000000000000011.json",
    ]);
    let found: Vec<_> = whole.checkpoints[&10]
        .iter()
        .map(|p| p.filename().unwrap_or_default().to_string())
        .collect();
    assert_eq!(
        found,
        [
            "00000000000000000010.checkpoint.0000000001.0000000002.parquet",
            "00000000000000000010.checkpoint.0000000002.0000000002.parquet"
        ]
    );
    assert!(whole.oldest_readable().ends_with("is 10"));
}

#[tokio::test]
async fn a_checkpoint_replaces_the_log_before_it_and_clean_up_keeps_what_kept_moments_need() {
    let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    // The data files exist in the store, written before the commits that name them.
    let put = |name: &str| {
        let store = store.clone();
        let path = StorePath::from(format!("lake/kaa/kommun=0880/{name}.parquet"));
        async move {
            store
                .put(&path, PutPayload::from_static(b"data"))
                .await
                .expect("put");
        }
    };
    for name in ["a", "b", "c", "d"] {
        put(name).await;
    }
    let t = created(&store, vec![file("0880", "a"), file("0880", "b")]).await;
    let replace = Change {
        add: vec![file("0880", "c")],
        remove: vec!["kommun=0880/a.parquet".into()],
        ..Default::default()
    };
    assert_eq!(t.commit(0, replace, "WRITE").await.expect("commit"), 1);
    let add = Change {
        add: vec![file("0880", "d")],
        remove: vec![],
        ..Default::default()
    };
    assert_eq!(t.commit(1, add, "WRITE").await.expect("commit"), 2);
    let before = newest(&t).await.expect("read");
    let keep_since = chrono::Utc::now() + chrono::Duration::milliseconds(20);
    tokio::time::sleep(std::time::Duration::from_millis(40)).await;
    // A run still writing: its file is newer than the moment kept from.
    put("e").await;

    // Nothing is removed while no checkpoint covers the log, but the unused file goes.
    let cleaned = t.clean_up(keep_since).await.expect("clean up");
    assert_eq!(
        cleaned,
        Cleaned {
            commits: 0,
            checkpoints: 0,
            files: 1
        }
    );
    t.checkpoint(2).await.expect("checkpoint");
    assert!(
        t.checkpoint(7)
            .await
            .expect_err("no such version")
            .to_string()
            .contains("no commit 7")
    );
    let cleaned = t.clean_up(keep_since).await.expect("clean up");
    assert_eq!(
        cleaned,
        Cleaned {
            commits: 2,
            checkpoints: 0,
            files: 0
        }
    );
    // Read from the checkpoint alone: the same files; what retention removed is refused.
    assert_eq!(newest(&t).await.expect("read"), before);
    assert_eq!(
        paths(&before),
        [
            "kommun=0880/b.parquet",
            "kommun=0880/c.parquet",
            "kommun=0880/d.parquet"
        ]
    );
    let e = t.snapshot(AsOf::Version(1)).await.expect_err("removed");
    assert!(e.to_string().contains("removed"), "{e}");
    let listed: Vec<String> = store
        .list(Some(&StorePath::from("lake/kaa")))
        .map_ok(|m| m.location.to_string())
        .try_collect()
        .await
        .expect("list");
    for gone in [
        "kommun=0880/a.parquet",
        "00000000000000000000.json",
        "00000000000000000001.json",
    ] {
        assert!(
            !listed.iter().any(|p| p.ends_with(gone)),
            "{gone}: {listed:?}"
        );
    }
    for kept in [
        "kommun=0880/e.parquet",
        "_delta_log/00000000000000000002.json",
        "_delta_log/00000000000000000002.checkpoint.parquet",
        "_delta_log/_last_checkpoint",
    ] {
        assert!(
            listed.iter().any(|p| p.ends_with(kept)),
            "{kept}: {listed:?}"
        );
    }

    // A moment before the table existed keeps everything.
    let long_ago = chrono::Utc::now() - chrono::Duration::days(1);
    assert_eq!(
        t.clean_up(long_ago).await.expect("clean up"),
        Cleaned::default()
    );
}

/// The upkeep after a commit (`target::maintain`) checkpoints every tenth version and
/// cleans up then, not after every commit: a clean-up lists the whole table and reads
/// the kept commits, which on an object store costs a night more than its commit.
#[tokio::test]
async fn upkeep_checkpoints_and_cleans_up_every_tenth_version() {
    let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    let listed = |store: Arc<dyn ObjectStore>| async move {
        store
            .list(Some(&StorePath::from("lake/kaa")))
            .map_ok(|m| m.location.to_string())
            .try_collect::<Vec<String>>()
            .await
            .expect("list")
    };
    for name in ["a", "b"] {
        store
            .put(
                &StorePath::from(format!("lake/kaa/kommun=0880/{name}.parquet")),
                PutPayload::from_static(b"data"),
            )
            .await
            .expect("put");
    }
    let t = created(&store, vec![file("0880", "a")]).await;
    let swap = Change {
        add: vec![file("0880", "b")],
        remove: vec!["kommun=0880/a.parquet".into()],
        ..Default::default()
    };
    assert_eq!(t.commit(0, swap, "WRITE").await.expect("commit"), 1);
    // Nothing kept from before the upkeep: at a checkpoint, a.parquet and the log
    // before go.
    let now = || async {
        tokio::time::sleep(std::time::Duration::from_millis(3)).await;
        chrono::Utc::now()
    };
    for version in 1..10 {
        super::target::maintain(&t, version, now().await)
            .await
            .expect("upkeep");
        let now = listed(store.clone()).await;
        assert!(
            now.iter().any(|p| p.ends_with("kommun=0880/a.parquet")),
            "cleaned up after version {version}: {now:?}"
        );
        let nothing = Change::default();
        assert_eq!(
            t.commit(version, nothing, "WRITE").await.expect("commit"),
            version + 1
        );
    }
    super::target::maintain(&t, 10, now().await)
        .await
        .expect("upkeep");
    let now = listed(store.clone()).await;
    assert!(
        !now.iter().any(|p| p.ends_with("kommun=0880/a.parquet")),
        "{now:?}"
    );
    assert!(
        now.iter()
            .any(|p| p.ends_with("00000000000000000010.checkpoint.parquet")),
        "{now:?}"
    );
    assert!(
        !now.iter().any(|p| p.ends_with("00000000000000000009.json")),
        "{now:?}"
    );
    assert_eq!(
        paths(&newest(&t).await.expect("read")),
        ["kommun=0880/b.parquet"]
    );
}

/// New columns in one version: read with them from then on (through a checkpoint too),
/// the version before with the old ones, the table id kept; refused after a version
/// another writer planned against the old columns; a partitioned table keeps its
/// partition column and, with a column only added, its files.
#[tokio::test]
async fn replaced_columns_hold_from_their_version_on() {
    let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    let t = table(&store);
    let plain = |name: &str| DataFile {
        path: format!("{name}.parquet"),
        partition: BTreeMap::new(),
        ..file("0880", name)
    };
    let one = Change {
        add: vec![plain("a")],
        remove: vec![],
        ..Default::default()
    };
    t.create(&schema(), &[], one, "CREATE TABLE")
        .await
        .expect("create");
    let wider = Schema::new(vec![
        Field::new("person_id", DataType::Utf8, false),
        Field::new("alder", DataType::Int32, true),
        Field::new("kon", DataType::Utf8, true),
    ]);
    let swap = Change {
        add: vec![plain("b")],
        remove: vec!["a.parquet".into()],
        ..Default::default()
    };
    assert_eq!(
        t.replace_columns(0, &wider, swap, "REPLACE TABLE")
            .await
            .expect("replace"),
        1
    );
    t.checkpoint(1).await.expect("checkpoint");
    let names = |s: &Snapshot| -> Vec<String> {
        s.columns
            .data
            .iter()
            .map(|(f, _)| f.name().clone())
            .collect()
    };
    let newest = t.snapshot(AsOf::Newest).await.expect("newest");
    assert_eq!(names(&newest), ["person_id", "alder", "kon"]);
    assert_eq!(paths(&newest.files), ["b.parquet"]);
    let before = t.snapshot(AsOf::Version(0)).await.expect("v0");
    assert_eq!(names(&before), ["person_id", "alder"]);
    let ids: Vec<Value> = futures::future::try_join_all((0..2).map(|v| t.read_version(v)))
        .await
        .expect("versions")
        .into_iter()
        .map(|actions| {
            actions
                .into_iter()
                .find_map(|a| a.pointer("/metaData/id").cloned())
                .expect("metaData")
        })
        .collect();
    assert_eq!(ids[0], ids[1]);

    let other = Change {
        add: vec![plain("c")],
        remove: vec![],
        ..Default::default()
    };
    t.commit(1, other, "WRITE").await.expect("another writer");
    let e = t
        .replace_columns(1, &schema(), Change::default(), "REPLACE TABLE")
        .await
        .expect_err("planned against old columns")
        .to_string();
    assert!(e.contains("version 2") && e.contains("old columns"), "{e}");

    let fresh: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    let partitioned = created(&fresh, vec![file("0880", "a")]).await;
    let added = Change {
        add: vec![file("0881", "b")],
        remove: vec![],
        ..Default::default()
    };
    partitioned
        .replace_columns(0, &wider, added, "ADD COLUMNS")
        .await
        .expect("columns added to a partitioned table");
    let newest = partitioned.snapshot(AsOf::Newest).await.expect("newest");
    assert_eq!(names(&newest), ["person_id", "alder", "kon"]);
    let partitions: Vec<&str> = newest
        .columns
        .partitions
        .iter()
        .map(|(f, _)| f.name().as_str())
        .collect();
    assert_eq!(partitions, ["kommun"]);
    assert_eq!(
        paths(&newest.files),
        ["kommun=0880/a.parquet", "kommun=0881/b.parquet"]
    );
}
