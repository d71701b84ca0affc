//! The published set switched as a whole: each publish writes a new generation directory
//! `<lake>/_published/<n>/`, and only when every file of it is written and fsynced does
//! the link `<lake>/published` turn to it, with one rename. A reader that resolves the
//! link once (the API and the PostgreSQL server do, per query) reads one publish whole;
//! files of two publishes never stand side by side, and a kill at any moment leaves the
//! link on a complete set.
//!
//! Each generation notes when it was published (`_published_at`, written just before the
//! switch), so the set that was live at any moment can be found again: "what did we
//! publish on 10 June?" (`malgrupp export --as-of`). A generation is kept while it was
//! live within the last `[publish] keep_days` (and always the one the link left, for
//! readers still in it); older ones, and those a killed publish left unfinished (they
//! have no note), are removed after the next switch. A lake from before generations has
//! a plain `published/` directory: it becomes the first generation the first time the
//! lake publishes.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use crate::error::{Error, Result};
use crate::lake::{Lake, atomic};

/// Directory of the generations, beside `published`.
pub const GENERATIONS: &str = "_published";

/// The note of when a generation was published, inside it (not a view: views are
/// Parquet files and directories of them).
const STAMP: &str = "_published_at";

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

/// Turns the link to `generation`, noting it published at `now`, and removes the
/// generations no reader can be in and none of the last `keep` asks for: all older ones
/// but the one the link left and those live at some moment of the last `keep`.
pub fn switch(
    lake: &Lake,
    mut generation: Generation,
    now: DateTime<Utc>,
    keep: chrono::Duration,
) -> Result<()> {
    let root = lake.root().join(GENERATIONS);
    let left = current(lake).and_then(|p| number_of(&p));
    let stamp = now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    atomic::write(&generation.dir.join(STAMP), stamp.as_bytes())?;
    atomic::switch_link(
        &link(lake),
        &Path::new(GENERATIONS).join(name(generation.number)),
    )?;
    generation.switched = true;
    // A generation stopped being live when the next noted one was published.
    let mut until = now;
    for n in numbers(&root)?.into_iter().rev() {
        if n >= generation.number {
            continue;
        }
        let dir = root.join(name(n));
        let published = published_at(&dir);
        let recent = published.is_some() && until > now - keep;
        if let Some(at) = published {
            until = at;
        }
        if Some(n) == left || recent {
            continue;
        }
        if let Err(e) = std::fs::remove_dir_all(&dir) {
            tracing::warn!(dir = %dir.display(), error = %e, "an old published generation was not removed");
        }
    }
    Ok(())
}

/// The generation that was live at `at`: the newest published at or before it. None
/// when none of those kept was (nothing published yet then, or no longer kept).
pub fn as_of(lake: &Lake, at: DateTime<Utc>) -> Result<Option<PathBuf>> {
    let root = lake.root().join(GENERATIONS);
    if !root.is_dir() {
        return Ok(None);
    }
    let mut found = None;
    for n in numbers(&root)? {
        let dir = root.join(name(n));
        match published_at(&dir) {
            Some(published) if published <= at => found = Some(dir),
            Some(_) => break,
            None => {}
        }
    }
    Ok(found)
}

/// When a generation was published; None for one never switched to (or from before the
/// note was written).
pub fn published_at(dir: &Path) -> Option<DateTime<Utc>> {
    let text = std::fs::read_to_string(dir.join(STAMP)).ok()?;
    DateTime::parse_from_rfc3339(text.trim())
        .ok()
        .map(|t| t.with_timezone(&Utc))
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

    fn publish_at(lake: &Lake, content: &str, at: DateTime<Utc>, keep_days: i64) {
        let g = next(lake).expect("next");
        std::fs::write(g.dir.join("view.csv"), content).expect("write");
        switch(lake, g, at, chrono::Duration::days(keep_days)).expect("switch");
    }

    fn publish(lake: &Lake, content: &str) {
        publish_at(lake, content, Utc::now(), 0);
    }

    fn day(d: i64) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-06-01T12:00:00Z")
            .expect("time")
            .with_timezone(&Utc)
            + chrono::Duration::days(d)
    }

    #[test]
    fn a_set_live_within_the_days_kept_is_found_again_as_of_its_time_and_older_ones_go() {
        let dir = tempfile::tempdir().expect("tempdir");
        let lake = Lake::new(dir.path());
        assert_eq!(as_of(&lake, day(0)).expect("read"), None);
        // Published on days 0, 9, 10 (and a publish killed on day 10), then day 40,
        // keeping 30 days.
        for (content, d) in [("a", 0), ("b", 9), ("c", 10)] {
            publish_at(&lake, content, day(d), 30);
        }
        let killed = next(&lake).expect("next");
        std::mem::forget(killed); // a killed process removes nothing
        let at = |d: i64| {
            as_of(&lake, day(d))
                .expect("read")
                .map(|g| std::fs::read_to_string(g.join("view.csv")).expect("read"))
        };
        assert_eq!(at(-1), None, "nothing published yet");
        assert_eq!(at(5).as_deref(), Some("a"));
        assert_eq!(
            at(9).as_deref(),
            Some("b"),
            "at the moment of a publish: the new set"
        );
        assert_eq!(at(39).as_deref(), Some("c"));
        publish_at(&lake, "d", day(40), 30);
        // "a" stopped being live on day 9, "b" on day 10: 31 and 30 days before day 40.
        // "c" was live until day 40 and is the set the link left; the killed one goes.
        assert_eq!(at(5), None, "no longer kept");
        assert_eq!(at(9), None);
        assert_eq!(at(20).as_deref(), Some("c"));
        assert_eq!(at(40).as_deref(), Some("d"));
        assert_eq!(numbers(&dir.path().join(GENERATIONS)).expect("ls"), [3, 5]);
        let mut names: Vec<_> = std::fs::read_dir(dir.path().join("published"))
            .expect("ls")
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, [STAMP, "view.csv"]);
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
