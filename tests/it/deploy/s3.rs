//! `deploy/docker/compose.s3.yaml`: compose.yaml plus an S3 server that is the lake's
//! home and that every publish is committed to as Delta tables. No Docker engine runs
//! here, so what the example promises is checked piece by piece: its server is the moto
//! release the object-storage tests run against, its settings are the container's with
//! `[lake] root` on the bucket (the image's lake directory its cache) and `[publish]
//! delta` and are mounted where the image reads them, its environment points at that
//! server, and those settings and that environment in the image's layout commit the
//! published views and the lake's tables to the bucket it creates and bring an emptied
//! cache back from it (moto started here, on a free port).

use super::*;

/// The flattened compose.s3.yaml.
fn s3_compose() -> Doc {
    yaml_docs("deploy/docker/compose.s3.yaml").remove(0)
}

#[test]
fn the_s3_example_runs_the_tested_server_and_mounts_its_settings_where_the_image_reads_them() {
    let compose = s3_compose();
    // The S3 server is the moto release .ci/run installs for the object-storage tests.
    let ci = read(".ci/run");
    let tested = ci
        .split("\"moto[server]==")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect(".ci/run pins moto[server]");
    for service in ["s3", "s3-bucket"] {
        assert_eq!(
            compose.must(&format!("services.{service}.image")),
            format!("motoserver/moto:{tested}")
        );
    }
    // malgrupp reaches it by its service name, at the port moto listens on.
    let endpoint = compose.must("services.malgrupp.environment.AWS_ENDPOINT");
    let port = compose
        .must("services.s3.ports[0]")
        .rsplit(':')
        .next()
        .expect("port")
        .to_string();
    assert_eq!(endpoint, format!("http://s3:{port}"));
    assert_eq!(
        compose.must("services.malgrupp.depends_on.s3-bucket.condition"),
        "service_completed_successfully"
    );
    // Its settings replace the image's: the path the ENTRYPOINT passes to --config.
    let img = image();
    let config = img
        .entrypoint
        .iter()
        .skip_while(|w| *w != "--config")
        .nth(1)
        .expect("ENTRYPOINT --config");
    assert_eq!(
        compose.must("services.malgrupp.volumes[0]"),
        format!("./malgrupp.s3.toml:{config}:ro")
    );
    // …and they are the container's, with the bucket the example creates as the target.
    let s3 = malgrupp::config::Settings::load(Some(&repo().join("deploy/docker/malgrupp.s3.toml")))
        .expect("deploy/docker/malgrupp.s3.toml is valid");
    let mut expected = container_settings();
    let bucket = compose.must("services.s3-bucket.environment.BUCKET");
    expected.published_delta = Some(
        malgrupp::lake::location::Location::parse(&format!("s3://{bucket}/published"))
            .expect("location"),
    );
    // The lake's home is the bucket, committed to as Delta tables; its cache is the
    // image's lake directory on the volume.
    let home = malgrupp::lake::location::Location::parse(&format!("s3://{bucket}/lake"))
        .expect("location");
    expected.lake_delta = Some(home.clone());
    expected.lake_store = Some(home);
    // With the lake's copy on the bucket, serve looks there for other hosts' runs.
    expected.lake_poll = Some(std::time::Duration::from_secs(300));
    let (mut s3, mut expected) = (format!("{s3:?}"), format!("{expected:?}"));
    for s in [&mut s3, &mut expected] {
        // Where each file was read from, nothing else, may differ.
        *s = s.replace("malgrupp.s3.toml", "malgrupp.toml");
    }
    assert_eq!(s3, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_s3_example_commits_the_published_views_and_the_lakes_tables_to_its_bucket() {
    let compose = s3_compose();
    let moto = crate::object_storage::Moto::start().await;
    let bucket = compose
        .must("services.s3-bucket.environment.BUCKET")
        .to_string();
    let env: Vec<(String, String)> = moto
        .env()
        .into_iter()
        .filter(|(k, _)| k == "AWS_ENDPOINT")
        .chain(
            [
                "AWS_ALLOW_HTTP",
                "AWS_REGION",
                "AWS_ACCESS_KEY_ID",
                "AWS_SECRET_ACCESS_KEY",
            ]
            .map(|k| {
                (
                    k.to_string(),
                    compose
                        .must(&format!("services.malgrupp.environment.{k}"))
                        .to_string(),
                )
            }),
        )
        .collect();
    let endpoint = &env[0].1;
    reqwest::Client::new()
        .put(format!("{endpoint}/{bucket}"))
        .send()
        .await
        .expect("bucket")
        .error_for_status()
        .expect("bucket made");

    let layout = image_layout("deploy/docker/malgrupp.s3.toml");
    layout.run(&env);
    let target = malgrupp::lake::location::Location::parse(&format!("s3://{bucket}/published"))
        .expect("location");
    let opened = target.open_store(env.clone()).expect("store");
    let table = malgrupp::lake::delta::DeltaTable::new(
        opened.store.clone(),
        opened.root.clone().join("kartlaggning"),
        "kartlaggning",
    );
    let snapshot = table
        .snapshot(malgrupp::lake::delta::AsOf::Newest)
        .await
        .expect("kartlaggning committed to the bucket");
    assert_eq!(snapshot.version, 0);
    let published = layout.under("/var/lib/malgrupp/data/published/kartlaggning");
    let local = std::fs::read_dir(&published)
        .expect("published")
        .flatten()
        .filter(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name.ends_with(".parquet") && !name.starts_with(['.', '_'])
        })
        .count();
    assert_eq!(
        snapshot.files.len(),
        local,
        "one object per published period file"
    );
    // The lake's tables too: each of the image's tables with files, one object per
    // kommun-month file.
    let lake = malgrupp::lake::location::Location::parse(&format!("s3://{bucket}/lake"))
        .expect("location")
        .open_store(env.clone())
        .expect("store");
    let data = layout.under("/var/lib/malgrupp/data");
    let mut tables = 0;
    for def in malgrupp::normalize::schema::TABLES {
        let files = crate::common::files_under(&data.join(def.name))
            .into_iter()
            .filter(|f| f.extension().is_some_and(|e| e == "parquet"))
            .count();
        if files == 0 {
            continue;
        }
        let table = malgrupp::lake::delta::DeltaTable::new(
            lake.store.clone(),
            lake.root.clone().join(def.name),
            def.name,
        );
        let snapshot = table
            .snapshot(malgrupp::lake::delta::AsOf::Newest)
            .await
            .unwrap_or_else(|e| panic!("{} committed to the bucket: {e}", def.name));
        assert_eq!(snapshot.files.len(), files, "{}", def.name);
        tables += 1;
    }
    assert!(tables >= 2, "{tables} tables");

    // The Kubernetes variant without a claim (deploy/kubernetes/object-storage.yaml): a
    // pod starting on an empty disk brings the lake in from the bucket with these
    // settings and environment before its first command works on it; a restart with
    // the lake still there leaves it as it is.
    let files = || {
        let mut files: Vec<String> = crate::common::files_under(&data)
            .into_iter()
            .filter(|f| f.extension().is_some_and(|e| e == "parquet"))
            .filter_map(|f| {
                let relative = f.strip_prefix(&data).ok()?.to_string_lossy().into_owned();
                let table = relative.split('/').next()?;
                malgrupp::normalize::schema::table(table).map(|_| relative.clone())
            })
            .collect();
        files.sort();
        files
    };
    let before = files();
    std::fs::remove_dir_all(&data).expect("lose the lake");
    std::fs::create_dir_all(&data).expect("an empty disk");
    layout.malgrupp(&["sql", "SELECT 1 AS one"], &env);
    assert_eq!(files(), before, "the lake brought in from the bucket");
    let kept = data.join(&before[0]);
    std::fs::remove_file(&kept).expect("remove one file");
    layout.malgrupp(&["sql", "SELECT 1 AS one"], &env);
    assert!(
        !kept.exists(),
        "a cache holding data was brought in again: {}",
        before[0]
    );

    // Two processes starting on one empty cache bring it in once: while another holds
    // the restore, a command waits for it, then works on what that one brought in.
    let filled = tempfile::tempdir().expect("tempdir");
    let copied = Command::new("cp")
        .arg("-a")
        .arg(data.join("."))
        .arg(filled.path())
        .status()
        .expect("cp");
    assert!(copied.success());
    std::fs::remove_dir_all(&data).expect("lose the lake");
    std::fs::create_dir_all(&data).expect("an empty disk");
    let held =
        malgrupp::lake::lock::LakeLock::try_acquire(&data, malgrupp::lake::mirror::restore::LOCK)
            .expect("lock file")
            .expect("free");
    let waiting = layout
        .command(&["sql", "--format", "csv", "SELECT 1 AS one"], &env)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    assert!(
        files().is_empty(),
        "brought in while another process held the restore"
    );
    // The holder fills the cache (as its own bringing-in would) without one file, then
    // lets go: a second bringing-in would bring that file back.
    let copied = Command::new("cp")
        .arg("-a")
        .arg(filled.path().join("."))
        .arg(&data)
        .status()
        .expect("cp");
    assert!(copied.success());
    std::fs::remove_file(data.join(&before[1])).expect("remove one file");
    drop(held);
    let out = waiting.wait_with_output().expect("wait");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "one\n1\n");
    let mut expected = before.clone();
    expected.retain(|f| f != &before[0] && f != &before[1]);
    assert_eq!(files(), expected, "the cache was brought in a second time");
}
