//! The one atomic, durable file writer of the lake.
//!
//! A file is written under a temporary name in its final directory, fsynced, and only
//! then renamed over the old file; the directory is fsynced after the rename so the new
//! name survives a power cut. Readers (DataFusion lists `*.parquet`) never see the
//! temporary names, so they see the old or the new file, never a half-written one.
//! DataFusion's own local writer renames without fsync, which is why the lake does not
//! write through it.
//!
//! A set of files published together (a run's partitions) is made durable as a set: on
//! Linux its files and new directories are not fsynced one by one, but [`publish_all`]
//! syncs the filesystem once before the renames and once after. A national run stages
//! thousands of partition files, and three fsyncs each took most of its time.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Prefix of temporary files; stale ones are removed by [`remove_stale_temp_files`].
pub const TEMP_PREFIX: &str = ".tmp-";

/// A file written under a temporary name, not yet published.
#[derive(Debug)]
pub struct Staged {
    temp: PathBuf,
    target: PathBuf,
    /// Fsynced already; false for a file of a set ([`stage_in_set`]), which is made
    /// durable when it is published.
    synced: bool,
}

/// Writes `bytes` to a temporary file beside `target` and fsyncs it.
pub fn stage(target: &Path, bytes: &[u8]) -> Result<Staged> {
    let mut f = StagingFile::create(target)?;
    f.write_all(bytes).map_err(|e| Error::io(&f.temp, e))?;
    f.finish()
}

/// Like [`stage`], for a file meant to be published with others by [`publish_all`]:
/// neither the file nor a directory made for it is fsynced now, because `publish_all`
/// syncs the whole filesystem before and after renaming the set. Where that sync is not
/// available, it is [`stage`].
pub fn stage_in_set(target: &Path, bytes: &[u8]) -> Result<Staged> {
    if !cfg!(target_os = "linux") {
        return stage(target, bytes);
    }
    let mut f = StagingFile::open(target, false)?;
    f.write_all(bytes).map_err(|e| Error::io(&f.temp, e))?;
    drop(f.file.take());
    Ok(f.into_staged(false))
}

/// A temporary file beside its target, written piece by piece (outputs too large to
/// hold in memory, such as a national published view); [`StagingFile::finish`] fsyncs it
/// into a [`Staged`] file. Dropped unfinished, it is removed.
#[derive(Debug)]
pub struct StagingFile {
    file: Option<File>,
    temp: PathBuf,
    target: PathBuf,
}

impl StagingFile {
    /// Creates the temporary file for `target` (and its directory).
    pub fn create(target: &Path) -> Result<Self> {
        Self::open(target, true)
    }

    /// [`StagingFile::create`]; new directories fsynced into their parents if `durable`.
    fn open(target: &Path, durable: bool) -> Result<Self> {
        let dir = directory_of(target).ok_or_else(|| {
            Error::Internal(format!("{} has no parent directory", target.display()))
        })?;
        create_dirs(dir, durable)?;
        let name = target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        // Ends in `.partial`, not `.parquet`, so table listings never pick it up.
        let temp = dir.join(format!(
            "{TEMP_PREFIX}{}-{name}.partial",
            std::process::id()
        ));
        let file = create_private(&temp)?;
        Ok(StagingFile {
            file: Some(file),
            temp,
            target: target.to_path_buf(),
        })
    }

    /// The temporary file's path (scratch files that are never finished are read back
    /// through it, see `pipeline::held`).
    pub fn path(&self) -> &Path {
        &self.temp
    }

    /// Fsyncs the written content: the file is staged, ready to be published.
    pub fn finish(mut self) -> Result<Staged> {
        if let Some(f) = self.file.take() {
            f.sync_all().map_err(|e| Error::io(&self.temp, e))?;
        }
        Ok(self.into_staged(true))
    }

    /// The closed file as [`Staged`] (its handle already taken, so dropping `self`
    /// removes nothing).
    fn into_staged(mut self, synced: bool) -> Staged {
        Staged {
            temp: std::mem::take(&mut self.temp),
            target: std::mem::take(&mut self.target),
            synced,
        }
    }
}

impl Write for StagingFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match &mut self.file {
            Some(f) => f.write(buf),
            None => Err(std::io::Error::other("staging file already finished")),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match &mut self.file {
            Some(f) => f.flush(),
            None => Ok(()),
        }
    }
}

impl Drop for StagingFile {
    fn drop(&mut self) {
        if self.file.take().is_some() {
            let _ = fs::remove_file(&self.temp);
        }
    }
}

/// The directory `target` lies in: a bare file name lies in the current one (its
/// `parent()` is empty).
fn directory_of(target: &Path) -> Option<&Path> {
    match target.parent() {
        Some(p) if p.as_os_str().is_empty() => Some(Path::new(".")),
        other => other,
    }
}

impl Staged {
    /// Renames the staged file over its target and makes that durable (the file of a set
    /// published alone: the filesystem synced before and after).
    pub fn publish(self) -> Result<()> {
        let dir = (!self.synced)
            .then(|| directory_of(&self.target).map(Path::to_path_buf))
            .flatten();
        if let Some(dir) = &dir {
            sync_filesystem(dir)?;
        }
        self.rename()?;
        if let Some(dir) = &dir {
            sync_filesystem(dir)?;
        }
        Ok(())
    }

    /// Renames the staged file over its target; a fsynced file's directory is fsynced
    /// (a file of a set waits for the set's filesystem sync).
    fn rename(self) -> Result<()> {
        fs::rename(&self.temp, &self.target).map_err(|e| Error::io(&self.target, e))?;
        if self.synced
            && let Some(dir) = directory_of(&self.target)
        {
            sync_dir(dir)?;
        }
        Ok(())
    }

    /// Removes the staged file (the run was abandoned).
    pub fn discard(self) {
        let _ = fs::remove_file(&self.temp);
    }
}

/// Stages and publishes one file.
pub fn write(target: &Path, bytes: &[u8]) -> Result<()> {
    stage(target, bytes)?.publish()
}

/// Like [`write`], but the bytes go into `spare`, a file of zeros reserved by the
/// previous call, so that on a full disk the write needs no new space beyond what the
/// file grew by: overwriting blocks a file already owns allocates nothing. After the
/// switch the next spare of `bytes.len() + margin` is reserved from the space the old
/// file freed, as much of it as fits. The run ledger is written this way, so that a run
/// failing because the disk is full still leaves its row.
pub fn write_reserved(target: &Path, spare: &Path, bytes: &[u8], margin: u64) -> Result<()> {
    let staged = match reserved_temp(target, spare) {
        Some(temp) => {
            let written = fs::OpenOptions::new()
                .write(true)
                .open(&temp)
                .and_then(|mut f| {
                    f.write_all(bytes)?;
                    f.set_len(bytes.len() as u64)?;
                    f.sync_all()
                });
            if let Err(e) = written {
                let _ = fs::remove_file(&temp);
                return Err(Error::io(target, e));
            }
            Staged {
                temp,
                target: target.to_path_buf(),
                synced: true,
            }
        }
        None => stage(target, bytes)?,
    };
    staged.publish()?;
    reserve(spare, bytes.len() as u64 + margin);
    Ok(())
}

/// The spare renamed to `target`'s temporary name (None: there is no spare).
fn reserved_temp(target: &Path, spare: &Path) -> Option<PathBuf> {
    let dir = directory_of(target)?;
    let name = target.file_name()?.to_string_lossy().into_owned();
    let temp = dir.join(format!(
        "{TEMP_PREFIX}{}-{name}.partial",
        std::process::id()
    ));
    fs::rename(spare, &temp).ok()?;
    Some(temp)
}

/// Fills `spare` with zeros up to `len` bytes, or as far as the disk allows (a smaller
/// spare still carries a few more ledger rows).
fn reserve(spare: &Path, len: u64) {
    let Ok(mut f) = fs::OpenOptions::new()
        .append(true)
        .open(spare)
        .or_else(|_| create_private(spare).map_err(|_| ()))
    else {
        return;
    };
    let mut have = f.metadata().map_or(0, |m| m.len());
    let zeros = [0u8; 64 * 1024];
    while have < len {
        let n = zeros.len().min((len - have) as usize);
        if f.write_all(&zeros[..n]).is_err() {
            // Keep what was reserved whole; a partial block may not be allocated.
            let _ = f.set_len(have);
            tracing::warn!(spare = %spare.display(), reserved = have, wanted = len, "the disk is nearly full: less space reserved for the run ledger than wanted");
            break;
        }
        have += n as u64;
    }
    let _ = f.sync_all();
}

/// Points the symbolic link `link` at `target` (a path relative to the link's directory,
/// so the lake can be mounted anywhere) with one rename: whoever resolves `link` finds
/// the old target or the new one, never neither. Replaces a link, not a directory.
pub fn switch_link(link: &Path, target: &Path) -> Result<()> {
    let dir = directory_of(link)
        .ok_or_else(|| Error::Internal(format!("{} has no parent directory", link.display())))?;
    let name = link
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temp = dir.join(format!("{TEMP_PREFIX}{}-{name}.link", std::process::id()));
    let _ = fs::remove_file(&temp);
    symlink(target, &temp)?;
    fs::rename(&temp, link).map_err(|e| Error::io(link, e))?;
    sync_dir(dir)
}

#[cfg(unix)]
fn symlink(target: &Path, link: &Path) -> Result<()> {
    std::os::unix::fs::symlink(target, link).map_err(|e| Error::io(link, e))
}

#[cfg(not(unix))]
fn symlink(_target: &Path, link: &Path) -> Result<()> {
    Err(Error::Internal(format!(
        "{}: the published set is switched through a symbolic link, which needs a Unix system",
        link.display()
    )))
}

/// Publishes several staged files. A test hook (`MALGRUPP_FAILPOINT=before-publish`)
/// aborts the process here, with everything staged and nothing published, to prove that
/// a killed run leaves the previous data intact.
///
/// Files staged for a set ([`stage_in_set`]) become durable together: the filesystem is
/// synced once before the renames (every file's content on disk before any name points
/// to it) and once after (the names, and the directories made for them).
pub fn publish_all(staged: Vec<Staged>) -> Result<()> {
    failpoint("before-publish", staged.len());
    // A set lies in one lake: one directory of it names the filesystem.
    let unsynced = staged
        .iter()
        .find(|s| !s.synced)
        .and_then(|s| directory_of(&s.target).map(Path::to_path_buf));
    if let Some(dir) = &unsynced {
        sync_filesystem(dir)?;
    }
    for s in staged {
        s.rename()?;
    }
    if let Some(dir) = &unsynced {
        sync_filesystem(dir)?;
    }
    Ok(())
}

/// Puts each `to` in place as a hard link to `from` (a copy where the filesystem has no
/// hard links): files a new set shares unchanged with the one it replaces. Published files
/// are never written to again, so two sets can share them. New directories and the new
/// entries are fsynced, once per directory.
pub fn link_all(pairs: impl IntoIterator<Item = (PathBuf, PathBuf)>) -> Result<()> {
    let mut dirs = std::collections::BTreeSet::new();
    for (from, to) in pairs {
        let dir = directory_of(&to)
            .ok_or_else(|| Error::Internal(format!("{} has no parent directory", to.display())))?;
        if dirs.insert(dir.to_path_buf()) {
            create_dirs(dir, true)?;
        }
        if fs::hard_link(&from, &to).is_err() {
            let mut source = File::open(&from).map_err(|e| Error::io(&from, e))?;
            let mut copy = create_private(&to)?;
            std::io::copy(&mut source, &mut copy).map_err(|e| Error::io(&to, e))?;
            copy.sync_all().map_err(|e| Error::io(&to, e))?;
        }
    }
    dirs.iter().try_for_each(|d| sync_dir(d))
}

/// Writes everything of the filesystem the directory `dir` lies on to disk (Linux
/// `syncfs`, which reports write-back errors). Only files staged by [`stage_in_set`]
/// rely on it.
#[cfg(target_os = "linux")]
fn sync_filesystem(dir: &Path) -> Result<()> {
    let handle = File::open(dir).map_err(|e| Error::io(dir, e))?;
    rustix::fs::syncfs(&handle).map_err(|e| Error::io(dir, e.into()))
}

/// Elsewhere no file is staged unsynced ([`stage_in_set`] fsyncs), so nothing is left.
#[cfg(not(target_os = "linux"))]
fn sync_filesystem(_dir: &Path) -> Result<()> {
    Ok(())
}

/// Aborts the process when `MALGRUPP_FAILPOINT` names `point` (a test hook for kills at
/// the worst moments; `staged` files are left behind as a real kill leaves them).
pub fn failpoint(point: &str, staged: usize) {
    if std::env::var("MALGRUPP_FAILPOINT").as_deref() == Ok(point) {
        eprintln!("failpoint {point}: aborting with {staged} files staged");
        std::process::abort();
    }
}

/// Creates a directory and its parents, fsyncing each new directory's parent so the new
/// entries are durable.
pub fn create_dir_all_durable(dir: &Path) -> Result<()> {
    create_dirs(dir, true)
}

/// Creates a directory and its parents private to the owner, fsyncing each new one into
/// its parent if `durable` (otherwise a filesystem sync later makes them durable).
fn create_dirs(dir: &Path, durable: bool) -> Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        create_dirs(parent, durable)?;
    }
    match new_dir(dir, durable) {
        Err(Error::Io { source, .. }) if source.kind() == std::io::ErrorKind::AlreadyExists => {
            Ok(())
        }
        other => other,
    }
}

/// Creates the directory `dir`, whose parent exists, durably and private to the owner;
/// an error of kind `AlreadyExists` if it is there already (someone else made it first).
pub fn create_new_dir(dir: &Path) -> Result<()> {
    new_dir(dir, true)
}

/// [`create_new_dir`], the parent fsynced only if `durable`.
fn new_dir(dir: &Path, durable: bool) -> Result<()> {
    let mut builder = fs::DirBuilder::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(DIR_MODE);
    }
    builder.create(dir).map_err(|e| Error::io(dir, e))?;
    // The mode given at creation is narrowed by the umask; set it outright.
    set_mode(dir, DIR_MODE)?;
    if durable && let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        sync_dir(parent)?;
    }
    Ok(())
}

/// Mode of every directory the lake creates: the owner only. The lake holds personal
/// data (`raw/` the identity numbers as received), so nothing depends on the umask.
pub const DIR_MODE: u32 = 0o700;
/// Mode of every file the lake writes: read and write for the owner only.
pub const FILE_MODE: u32 = 0o600;

/// Creates (or truncates) `path` as a file of [`FILE_MODE`], whatever the umask.
pub fn create_private(path: &Path) -> Result<File> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(FILE_MODE);
    }
    let file = options.open(path).map_err(|e| Error::io(path, e))?;
    set_mode(path, FILE_MODE)?;
    Ok(file)
}

#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).map_err(|e| Error::io(path, e))
}

#[cfg(not(unix))]
fn set_mode(_path: &Path, _mode: u32) -> Result<()> {
    Ok(())
}

fn sync_dir(dir: &Path) -> Result<()> {
    // On Unix a directory is fsynced through a read-only handle.
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::io(dir, e))
}

/// Whether a temporary file was left by a process that is gone. Its name carries the
/// writer's pid; a file of a live process (a run of another pipeline in a second
/// `malgrupp` process on the same lake) is that process's work in progress. Where `/proc`
/// does not exist, only files older than a day count as left behind.
fn is_abandoned(path: &Path, name: &str) -> bool {
    let pid = name
        .strip_prefix(TEMP_PREFIX)
        .and_then(|rest| rest.split('-').next())
        .and_then(|p| p.parse::<u32>().ok());
    let proc = Path::new("/proc");
    match pid {
        Some(pid) if proc.is_dir() => {
            pid != std::process::id() && !proc.join(pid.to_string()).exists()
        }
        _ => fs::metadata(path)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > std::time::Duration::from_secs(86_400)),
    }
}

/// Removes temporary files left by killed runs anywhere under `root` (never those of a
/// live process, see [`is_abandoned`]).
pub fn remove_stale_temp_files(root: &Path) -> usize {
    let mut removed = 0;
    let Ok(entries) = fs::read_dir(root) else {
        return 0;
    };
    for e in entries.flatten() {
        let path = e.path();
        // Not through links: `published` links to a directory that is visited anyway.
        if e.file_type().is_ok_and(|t| t.is_dir()) {
            removed += remove_stale_temp_files(&path);
        } else if let Some(name) = e.file_name().to_str()
            && name.starts_with(TEMP_PREFIX)
            && is_abandoned(&path, name)
            && fs::remove_file(&path).is_ok()
        {
            removed += 1;
        }
    }
    removed
}

#[cfg(test)]
#[path = "atomic_tests.rs"]
mod tests;
