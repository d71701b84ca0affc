//! Locks in the lake: one per pipeline, so two triggers — in one process or in two
//! `malgrupp` processes on the same lake — never run the same pipeline at once; one for
//! the manifest, so runs of different pipelines never lose each other's ledger entries;
//! and one for publishing, so two publishes of one lake never write side by side.
//!
//! A lock is an advisory `flock` on a file under `_meta/locks/`. The kernel drops it when
//! the holding process dies, however it dies, so a lock left by a killed process can never
//! block forever and never needs guessing from PIDs or ages: the next process simply gets
//! it. The file keeps who held it last (pid, host, since) so that taking over after a
//! crash is logged, and a refused trigger can say who holds the lock.
//!
//! `flock` is reliable on local file systems; on NFS it depends on the server, so a lake
//! shared between hosts over NFS is not supported for concurrent runs (documented in
//! deploy/README.md).

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// The lock a run holds while it puts its partition files in place, and a `[lake] delta`
/// sync while it lists and links the tables' files: the sync sees each run's files all
/// or none (src/lake/mirror/).
pub const TABLES_LOCK: &str = "tables";

/// How often [`LakeLock::acquire`] tries a held lock again.
const RETRY: std::time::Duration = std::time::Duration::from_millis(200);

/// A held lock; released when dropped (or when the process dies).
#[derive(Debug)]
pub struct LakeLock {
    file: File,
    path: PathBuf,
}

/// Who held a lock, as written into its file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    /// The holder's description: `pid <pid> on <host> since <time>`.
    pub text: String,
}

/// The lock file of `name` under a lake root.
pub fn path(root: &Path, name: &str) -> PathBuf {
    root.join("_meta")
        .join("locks")
        .join(format!("{name}.lock"))
}

fn open(root: &Path, name: &str) -> Result<(File, PathBuf)> {
    let p = path(root, name);
    if let Some(dir) = p.parent() {
        super::atomic::create_dir_all_durable(dir)?;
    }
    let mut options = OpenOptions::new();
    options.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        // Like every file of the lake (`atomic::FILE_MODE`); the umask may narrow it.
        options.mode(super::atomic::FILE_MODE);
    }
    let file = options.open(&p).map_err(|e| Error::io(&p, e))?;
    Ok((file, p))
}

impl LakeLock {
    /// Takes the lock `name` if it is free. `Ok(None)` (with the holder) when another run
    /// holds it. A lock file left by a process that died is taken over, and logged.
    pub fn try_acquire(root: &Path, name: &str) -> Result<std::result::Result<LakeLock, Holder>> {
        let (mut file, path) = open(root, name)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                return Ok(Err(Holder {
                    text: read_holder(&mut file),
                }));
            }
            Err(TryLockError::Error(e)) => return Err(Error::io(&path, e)),
        }
        let previous = read_holder(&mut file);
        if !previous.is_empty() {
            // The file is only ever non-empty while held: a clean release truncates it.
            tracing::warn!(lock = %path.display(), previous = %previous, "taking over a lock left by a process that ended without releasing it");
        }
        let mut lock = LakeLock { file, path };
        lock.write_holder();
        Ok(Ok(lock))
    }

    /// Waits for the lock `name` (blocking the thread; used for the short manifest
    /// update, never around a whole run).
    pub fn acquire_blocking(root: &Path, name: &str) -> Result<LakeLock> {
        let (file, path) = open(root, name)?;
        file.lock().map_err(|e| Error::io(&path, e))?;
        let mut lock = LakeLock { file, path };
        lock.write_holder();
        Ok(lock)
    }

    /// Waits for the lock `name` without blocking the runtime: taken at once when free,
    /// otherwise logged once with its holder and tried again every [`RETRY`]. Polling
    /// keeps the wait cancellable (a `serve` shutting down drops it), where a blocking
    /// `flock` on a thread of its own would hold the runtime's shutdown until it returned.
    pub async fn acquire(root: &Path, name: &str, waiting_for: &str) -> Result<LakeLock> {
        let mut logged = false;
        loop {
            match Self::try_acquire(root, name)? {
                Ok(lock) => return Ok(lock),
                Err(holder) if !logged => {
                    tracing::info!(holder = %holder.text, "waiting for {waiting_for} to finish");
                    logged = true;
                }
                Err(_) => {}
            }
            tokio::time::sleep(RETRY).await;
        }
    }

    /// Notes the holder in the lock file. Only informational (the `flock` is the lock),
    /// so a full disk that refuses the few bytes does not stop the run: it is logged.
    fn write_holder(&mut self) {
        let text = this_process();
        let written = self
            .file
            .set_len(0)
            .and_then(|()| self.file.seek(SeekFrom::Start(0)).map(|_| ()))
            .and_then(|()| self.file.write_all(text.as_bytes()));
        if let Err(e) = written {
            tracing::warn!(lock = %self.path.display(), error = %e, "lock taken, but its holder could not be noted in the file");
        }
    }
}

impl Drop for LakeLock {
    fn drop(&mut self) {
        // Empty file = released cleanly; the kernel lock goes with the handle.
        let _ = self.file.set_len(0);
        let _ = self.file.unlock();
    }
}

/// This process as a holder: `pid <pid> on <host> since <now>` (leases on object storage
/// name their holder the same way).
pub fn this_process() -> String {
    let host = host_name();
    format!(
        "pid {} on {host} since {}",
        std::process::id(),
        chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    )
}

/// This machine's name, as holders and claims name it.
pub fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "this host".into())
}

fn read_holder(file: &mut File) -> String {
    let mut s = String::new();
    let _ = file.seek(SeekFrom::Start(0));
    let _ = file.read_to_string(&mut s);
    s.trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_holder_is_refused_until_release() {
        let dir = tempfile::tempdir().expect("tempdir");
        let a = LakeLock::try_acquire(dir.path(), "p")
            .expect("io")
            .expect("free");
        let held = LakeLock::try_acquire(dir.path(), "p")
            .expect("io")
            .expect_err("held");
        assert!(held.text.contains(&format!("pid {}", std::process::id())));
        // Another name is independent.
        assert!(LakeLock::try_acquire(dir.path(), "q").expect("io").is_ok());
        drop(a);
        assert!(LakeLock::try_acquire(dir.path(), "p").expect("io").is_ok());
    }

    #[tokio::test]
    async fn waiting_for_a_held_lock_can_be_given_up_and_ends_with_the_release() {
        let dir = tempfile::tempdir().expect("tempdir");
        let held = LakeLock::try_acquire(dir.path(), "p")
            .expect("io")
            .expect("free");
        let wait = LakeLock::acquire(dir.path(), "p", "the test");
        let gave_up = tokio::time::timeout(RETRY * 3, wait).await;
        assert!(gave_up.is_err(), "taken while held");
        // The abandoned wait left nothing held: after the release it is taken at once.
        drop(held);
        let again = tokio::time::timeout(RETRY * 3, LakeLock::acquire(dir.path(), "p", "the test"))
            .await
            .expect("taken once released")
            .expect("io");
        drop(again);
        assert!(LakeLock::try_acquire(dir.path(), "p").expect("io").is_ok());
    }

    #[test]
    fn a_lock_file_left_behind_is_taken_over() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = path(dir.path(), "p");
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        // What a killed process leaves: its holder text, but no kernel lock.
        std::fs::write(&p, "pid 999999 on elsewhere since 2026-01-01T00:00:00Z").expect("write");
        let lock = LakeLock::try_acquire(dir.path(), "p")
            .expect("io")
            .expect("stale lock taken over");
        let text = std::fs::read_to_string(&p).expect("read");
        assert!(
            text.starts_with(&format!("pid {} ", std::process::id())),
            "{text}"
        );
        drop(lock);
        assert_eq!(std::fs::read_to_string(&p).expect("read"), "");
    }
}
