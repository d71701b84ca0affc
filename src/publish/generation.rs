//! The published set switched as a whole: each publish writes a new generation directory
//! `<lake>/_published/<n>/`, and only when every file of it is written and fsynced does
//! the link `<lake>/published` turn to it, with one rename. A reader that resolves the
//! link once (the API and the PostgreSQL server do, per query) reads one publish whole;
//! files of two publishes never stand side by side, and a kill at any moment leaves the
//! link on a complete set.
//!
//! The generation the link left is kept for readers still in it; older ones, and those
//! a killed publish left unfinished, are removed after the next switch. A lake from
//! before generations has a plain `published/` directory: it becomes the first
//! generation the first time the lake publishes.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::lake::{Lake, atomic};

/// Directory of the generations, beside `published`.
pub const GENERATIONS: &str = "_published";

/// A generation directory being written, not yet published. Dropped before [`switch`]
/// (the publish failed, or its task was cancelled: a `serve` shutting down), it is
/// removed with everything written into it.
#[derive(Debug)]
pub struct Generation {
    number: u64,
    /// Where its files go.
    pub dir: PathBuf,
    /// Linked: the directory is published and stays.
    switched: bool,
}

impl Drop for Generation {
    fn drop(&mut self) {
        if !self.switched {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// The link readers open: `<lake>/published`.
fn link(lake: &Lake) -> PathBuf {
    lake.root().join("published")
}

/// The generation directory the link points to now (None: nothing published yet).
pub fn current(lake: &Lake) -> Option<PathBuf> {
    std::fs::canonicalize(link(lake))
        .ok()
        .filter(|p| p.is_dir())
}

/// Creates the next generation's empty directory.
pub fn next(lake: &Lake) -> Result<Generation> {
    let root = lake.root().join(GENERATIONS);
    atomic::create_dir_all_durable(&root)?;
    adopt_plain_directory(lake, &root)?;
    let mut number = numbers(&root)?.last().copied().unwrap_or(0) + 1;
    loop {
        let dir = root.join(name(number));
        // Another process publishing at the same moment may have taken the number.
        match atomic::create_new_dir(&dir) {
            Ok(()) => {
                return Ok(Generation {
                    number,
                    dir,
                    switched: false,
                });
            }
            Err(Error::Io { source, .. }) if source.kind() == std::io::ErrorKind::AlreadyExists => {
                number += 1
            }
            Err(e) => return Err(e),
        }
    }
}

/// Turns the link to `generation` and removes the generations no reader can be in: all
/// older ones but the one the link left.
pub fn switch(lake: &Lake, mut generation: Generation) -> Result<()> {
    let root = lake.root().join(GENERATIONS);
    let left = current(lake).and_then(|p| number_of(&p));
    atomic::switch_link(
        &link(lake),
        &Path::new(GENERATIONS).join(name(generation.number)),
    )?;
    generation.switched = true;
    for n in numbers(&root)? {
        if n < generation.number && Some(n) != left {
            let dir = root.join(name(n));
            if let Err(e) = std::fs::remove_dir_all(&dir) {
                tracing::warn!(dir = %dir.display(), error = %e, "an old published generation was not removed");
            }
        }
    }
    Ok(())
}

/// Removes a generation that will not be published (the publish failed).
pub fn discard(generation: Generation) {
    drop(generation);
}

/// A `published/` that is a directory (a lake from before generations) is moved into
/// `root` as a generation and linked, so that the switch replaces a link, as it must.
fn adopt_plain_directory(lake: &Lake, root: &Path) -> Result<()> {
    let link = link(lake);
    let Ok(meta) = std::fs::symlink_metadata(&link) else {
        return Ok(());
    };
    if !meta.is_dir() {
        return Ok(());
    }
    let number = numbers(root)?.last().copied().unwrap_or(0) + 1;
    let dir = root.join(name(number));
    std::fs::rename(&link, &dir).map_err(|e| Error::io(&link, e))?;
    atomic::switch_link(&link, &Path::new(GENERATIONS).join(name(number)))
}

/// Generation numbers present, ascending.
fn numbers(root: &Path) -> Result<Vec<u64>> {
    let mut found: Vec<u64> = std::fs::read_dir(root)
        .map_err(|e| Error::io(root, e))?
        .flatten()
        .filter_map(|e| number_of(&e.path()))
        .collect();
    found.sort_unstable();
    Ok(found)
}

fn number_of(dir: &Path) -> Option<u64> {
    dir.file_name()?.to_str()?.parse().ok()
}

/// Zero-padded, so the directories list in order.
fn name(number: u64) -> String {
    format!("{number:08}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn publish(lake: &Lake, content: &str) {
        let g = next(lake).expect("next");
        std::fs::write(g.dir.join("view.csv"), content).expect("write");
        switch(lake, g).expect("switch");
    }

    #[test]
    fn the_link_moves_whole_and_keeps_only_the_generation_it_left() {
        let dir = tempfile::tempdir().expect("tempdir");
        let lake = Lake::new(dir.path());
        assert_eq!(current(&lake), None);
        // A lake from before generations: its published directory is adopted.
        std::fs::create_dir_all(dir.path().join("published")).expect("mkdir");
        std::fs::write(dir.path().join("published/view.csv"), "0").expect("write");
        publish(&lake, "1");
        let read = || std::fs::read_to_string(dir.path().join("published/view.csv")).expect("read");
        assert_eq!(read(), "1");
        // A publish killed before its switch leaves a directory that is never linked.
        let unfinished = next(&lake).expect("next");
        std::fs::write(unfinished.dir.join("view.csv"), "half").expect("write");
        assert_eq!(read(), "1");
        publish(&lake, "2");
        publish(&lake, "3");
        assert_eq!(read(), "3");
        let left: Vec<u64> = numbers(&dir.path().join(GENERATIONS)).expect("ls");
        assert_eq!(
            left,
            [4, 5],
            "the current generation and the one it replaced"
        );
        assert!(
            std::fs::symlink_metadata(dir.path().join("published"))
                .expect("link")
                .file_type()
                .is_symlink()
        );
    }
}
