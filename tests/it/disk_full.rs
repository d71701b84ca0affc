//! A full disk, at several levels of free space: every attempt leaves its row in the run
//! ledger, no attempt changes the lake's data, and once space is freed the next run
//! brings the lake and published/ up to date.
//!
//! The lake lies on a small tmpfs the test mounts, which needs root (as CI has); where
//! mounting is not allowed the test says so on stderr and checks nothing.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::{TestLake, scalar_in};
use crate::damaged::published_recipients;
use crate::lake::{partition, private_fs_pipeline, without_first_data_row, write_config};

/// A tmpfs mounted at a directory, unmounted when dropped.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(at: &Path) -> Option<Tmpfs> {
        std::fs::create_dir_all(at).expect("mkdir");
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=8m,mode=0700", "tmpfs"])
            .arg(at)
            .output()
            .is_ok_and(|o| o.status.success());
        ok.then(|| Tmpfs(at.to_path_buf()))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// Fills the file system of `dir` until `free_kb` KiB are left; returns the filler.
fn fill(dir: &Path, free_kb: u64) -> PathBuf {
    use std::io::Write;
    let filler = dir.join("filler");
    let mut f = std::fs::File::create(&filler).expect("filler");
    let block = vec![0u8; 4096];
    while f.write_all(&block).is_ok() {}
    let len = f.metadata().expect("len").len();
    f.set_len(len.saturating_sub(free_kb * 1024))
        .expect("truncate");
    f.sync_all().expect("sync");
    filler
}

#[tokio::test]
async fn a_full_disk_leaves_a_ledger_row_and_the_last_good_data_and_the_next_run_catches_up() {
    // 0 KiB: the raw store fails; 16: the quarantine; 48: publishing.
    for free_kb in [0, 16, 48] {
        let mut t = TestLake::new();
        let extract = private_fs_pipeline(&mut t);
        let cfg = write_config(t.dir.path(), &t.settings.pipelines_dir);
        let Some(_tmpfs) = Tmpfs::mount(&t.settings.lake_root) else {
            eprintln!("disk-full test skipped: no tmpfs can be mounted here (needs root)");
            return;
        };
        let run = || {
            Command::new(env!("CARGO_BIN_EXE_malgrupp"))
                .args(["--config", cfg.to_str().expect("utf-8 path"), "run", "fs"])
                .output()
                .expect("spawn")
        };
        assert!(run().status.success(), "{free_kb} KiB: the first run");
        let good = std::fs::read(partition(&t)).expect("partition");
        let published = published_recipients(&t).await;
        let runs = "select count(*) from runs where pipeline = 'fs'";
        let rows_before = t.scalar(runs).await;
        let failed = "select count(*) from runs where pipeline = 'fs' and status = 'failed' and message like '%No space left%'";

        std::fs::write(&extract, without_first_data_row(&extract)).expect("write");
        let filler = fill(&t.settings.lake_root, free_kb);
        let full = run();
        let out = String::from_utf8_lossy(&full.stdout).into_owned()
            + &String::from_utf8_lossy(&full.stderr);
        assert_eq!(full.status.code(), Some(1), "{free_kb} KiB:\n{out}");
        assert!(out.contains("No space left"), "{free_kb} KiB:\n{out}");
        let ctx = t.session().await;
        assert_eq!(
            scalar_in(&ctx, runs).await,
            rows_before.map(|n| n + 1),
            "{free_kb} KiB: the attempt has its ledger row\n{out}"
        );
        if scalar_in(&ctx, failed).await == Some(1) {
            assert_eq!(std::fs::read(partition(&t)).expect("partition"), good);
        }
        // Whether the lake took the delivery or not, published/ is the last complete set.
        assert_eq!(published_recipients(&t).await, published, "{free_kb} KiB");

        std::fs::remove_file(filler).expect("free the space");
        let next = run();
        assert!(next.status.success(), "{free_kb} KiB: the run after");
        let lake = t
            .scalar("select antal from kartlaggning where matt = 'fs_mottagare' and kon = 'T' and alder = '16-24' and dimension = 'total'")
            .await;
        assert_eq!(
            lake,
            published.map(|n| n - 1),
            "{free_kb} KiB: the new delivery"
        );
        assert_eq!(
            published_recipients(&t).await,
            lake,
            "{free_kb} KiB: published/ caught up"
        );
    }
}
