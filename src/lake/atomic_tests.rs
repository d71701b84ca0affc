//! Tests of the atomic writer: staged files invisible until published, a set published
//! whole, stale temporary files of dead processes removed.

use super::*;

#[test]
fn staged_files_are_invisible_until_published() {
    let dir = tempfile::tempdir().expect("tempdir");
    let target = dir.path().join("t/kommun=0880/x.parquet");
    write(&target, b"old").expect("write");
    let staged = stage(&target, b"new").expect("stage");
    assert_eq!(fs::read(&target).expect("read"), b"old");
    let names: Vec<_> = fs::read_dir(target.parent().expect("parent"))
        .expect("ls")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.iter().any(|n| n.starts_with(TEMP_PREFIX)));
    staged.publish().expect("publish");
    assert_eq!(fs::read(&target).expect("read"), b"new");
    // This process's own staged file is work in progress, never removed.
    let own = stage(&target, b"in progress").expect("stage");
    assert_eq!(remove_stale_temp_files(dir.path()), 0);
    own.discard();
    // A file named for a pid that no longer exists was left by a killed run.
    let dead = target.with_file_name(format!("{TEMP_PREFIX}4194304999-x.parquet.partial"));
    fs::write(&dead, b"abandoned").expect("write");
    assert_eq!(remove_stale_temp_files(dir.path()), 1);
    assert!(!dead.exists());
    assert_eq!(fs::read(&target).expect("read"), b"new");
}

#[test]
fn a_set_staged_without_fsyncs_appears_only_when_published_whole() {
    let dir = tempfile::tempdir().expect("tempdir");
    let targets: Vec<PathBuf> = (0..3)
        .map(|i| {
            dir.path()
                .join(format!("t/kommun=0880/period=2015-0{i}/x.parquet"))
        })
        .collect();
    write(&targets[0], b"old").expect("write");
    let staged: Vec<Staged> = targets
        .iter()
        .map(|t| stage_in_set(t, b"new").expect("stage"))
        .collect();
    // Nothing visible under a target name yet, the new directories made private.
    assert_eq!(fs::read(&targets[0]).expect("read"), b"old");
    assert!(!targets[1].exists() && !targets[2].exists());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let dir_of_new = targets[1].parent().expect("parent");
        let mode = fs::metadata(dir_of_new).expect("meta").permissions().mode();
        assert_eq!(mode & 0o777, DIR_MODE);
    }
    publish_all(staged).expect("publish");
    for t in &targets {
        assert_eq!(fs::read(t).expect("read"), b"new");
    }
    // One file of a set published alone is made durable on its own.
    stage_in_set(&targets[1], b"alone")
        .expect("stage")
        .publish()
        .expect("publish");
    assert_eq!(fs::read(&targets[1]).expect("read"), b"alone");
    let left: Vec<_> = fs::read_dir(targets[1].parent().expect("parent"))
        .expect("ls")
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(TEMP_PREFIX))
        .collect();
    assert!(left.is_empty(), "no temporary file left: {left:?}");
}
