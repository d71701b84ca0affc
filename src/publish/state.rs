//! What the published set was built from: a fingerprint per kommun-month of the lake
//! files its cells can depend on, kept in `published/_state.json` beside the views.
//!
//! A kommun-month's cells come from the lake partitions of that kommun and period, and
//! from the kommun's whole-year partitions (population, Kolada's yearly KPIs): its
//! fingerprint covers those files (table, name, size, modification time) and a global
//! part (the product version, the views' SQL, the suppression threshold). Constraints
//! never cross a kommun-month, so a kommun-month whose fingerprint is unchanged keeps its
//! published rows as they are, and publishing recomputes only the others. The lake only
//! ever replaces a partition file by renaming a new one over it, so a changed file always
//! has a new modification time.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::config::Settings;
use crate::error::{Error, Result};
use crate::lake::Lake;
use crate::normalize::schema::TABLES;

/// File name of the state inside `published/` (not a view: views are `*.parquet`).
pub const FILE: &str = "_state.json";

/// A kommun-month: (kommun code, period).
pub type KommunMonth = (String, String);

/// The state of a published set.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct State {
    /// Fingerprint of what every kommun-month depends on besides its lake files.
    pub global: String,
    /// Fingerprint per `kommun|period`.
    pub kommun_months: BTreeMap<String, String>,
    /// What each period's files hold, by view: (rows, flagged cells). Written with the
    /// published set; a set from before per-period files has none, so all of it is
    /// recomputed once.
    #[serde(default)]
    pub periods: BTreeMap<String, BTreeMap<String, (usize, usize)>>,
}

impl State {
    /// The state the lake is in now.
    pub fn of_lake(settings: &Settings, lake: &Lake) -> Result<State> {
        let global = global_fingerprint(settings)?;
        let files = partition_files(lake)?;
        let mut years: BTreeMap<&str, Vec<&String>> = BTreeMap::new();
        for ((kommun, period), entries) in &files {
            if period.len() == 4 {
                years.entry(kommun).or_default().extend(entries);
            }
        }
        let mut kommun_months = BTreeMap::new();
        for ((kommun, period), entries) in &files {
            let mut h = Sha256::new();
            for e in entries
                .iter()
                .chain(years.get(kommun.as_str()).into_iter().flatten().copied())
            {
                h.update(e.as_bytes());
                h.update(b"\n");
            }
            kommun_months.insert(key(kommun, period), hex::encode(h.finalize()));
        }
        Ok(State {
            global,
            kommun_months,
            periods: BTreeMap::new(),
        })
    }

    /// The state recorded with the published set in `dir` (None: none, or unreadable,
    /// which means everything is recomputed).
    pub fn load(dir: &Path) -> Option<State> {
        let text = std::fs::read_to_string(dir.join(FILE)).ok()?;
        serde_json::from_str(&text).ok()
    }

    /// The state as file content.
    pub fn to_json(&self) -> Result<Vec<u8>> {
        serde_json::to_vec(self)
            .map_err(|e| Error::Internal(format!("publish state not serializable: {e}")))
    }

    /// Whether the published set of `previous` was built from the same lake files, with
    /// the same SQL and threshold (what each period's files hold is not compared).
    pub fn same_inputs(&self, previous: &State) -> bool {
        self.global == previous.global && self.kommun_months == previous.kommun_months
    }

    /// The kommun-months by period, each period's in kommun order.
    pub fn by_period(&self) -> BTreeMap<String, Vec<KommunMonth>> {
        let mut out: BTreeMap<String, Vec<KommunMonth>> = BTreeMap::new();
        for km in self.all() {
            out.entry(km.1.clone()).or_default().push(km);
        }
        out
    }

    /// Whether period `period` is built from the same inputs as in `previous`: the same
    /// kommun-months (none added, none gone), each unchanged, so its files can be kept.
    pub fn period_unchanged(&self, previous: &State, period: &str, kms: &[KommunMonth]) -> bool {
        let before = previous
            .kommun_months
            .keys()
            .filter(|k| k.rsplit_once('|').is_some_and(|(_, p)| p == period))
            .count();
        before == kms.len() && kms.iter().all(|km| self.unchanged_in(previous, km))
    }

    /// Every kommun-month, in order.
    pub fn all(&self) -> impl Iterator<Item = KommunMonth> + '_ {
        self.kommun_months.keys().filter_map(|k| split(k))
    }

    /// Whether kommun-month `km` has the same fingerprint in `previous` (and the global
    /// fingerprints agree), so its published rows can be kept.
    pub fn unchanged_in(&self, previous: &State, km: &KommunMonth) -> bool {
        let k = key(&km.0, &km.1);
        self.global == previous.global
            && previous.kommun_months.contains_key(&k)
            && previous.kommun_months.get(&k) == self.kommun_months.get(&k)
    }
}

fn key(kommun: &str, period: &str) -> String {
    format!("{kommun}|{period}")
}

fn split(key: &str) -> Option<KommunMonth> {
    let (k, p) = key.split_once('|')?;
    Some((k.to_string(), p.to_string()))
}

/// The product version, the identities suppression respects, the threshold and every
/// view's SQL: a change to any of them changes every published cell.
fn global_fingerprint(settings: &Settings) -> Result<String> {
    let mut h = Sha256::new();
    h.update(env!("CARGO_PKG_VERSION").as_bytes());
    h.update(super::constraints::markdown().as_bytes());
    h.update(super::suppression::METHOD_REVISION.to_le_bytes());
    h.update(settings.suppress_below.to_le_bytes());
    let mut files: Vec<_> = std::fs::read_dir(&settings.sql_dir)
        .map_err(|e| Error::io(&settings.sql_dir, e))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "sql"))
        .collect();
    files.sort();
    for f in files {
        h.update(f.file_name().unwrap_or_default().as_encoded_bytes());
        h.update(std::fs::read(&f).map_err(|e| Error::io(&f, e))?);
    }
    Ok(hex::encode(h.finalize()))
}

/// Every Parquet file of the canonical tables by kommun-month, each as one line
/// `table/name size mtime_ns`, sorted. Directory names that are not a kommun code and a
/// period (`YYYY` or `YYYY-MM`) are not partitions of the lake and are left out (they
/// also end up in SQL filters, which therefore only ever see digits and dashes).
fn partition_files(lake: &Lake) -> Result<BTreeMap<KommunMonth, Vec<String>>> {
    let mut out: BTreeMap<KommunMonth, Vec<String>> = BTreeMap::new();
    for t in TABLES {
        for (kommun, kdir) in subdirs(&lake.table_dir(t.name), "kommun=")? {
            if !(kommun.len() == 4 && kommun.bytes().all(|b| b.is_ascii_digit())) {
                continue;
            }
            for (period, pdir) in subdirs(&kdir, "period=")? {
                if !is_period(&period) {
                    continue;
                }
                let entries = out.entry((kommun.clone(), period)).or_default();
                for f in std::fs::read_dir(&pdir).map_err(|e| Error::io(&pdir, e))? {
                    let f = f.map_err(|e| Error::io(&pdir, e))?;
                    let name = f.file_name().to_string_lossy().into_owned();
                    if !name.ends_with(".parquet") {
                        continue;
                    }
                    let meta = f.metadata().map_err(|e| Error::io(f.path(), e))?;
                    let mtime = meta
                        .modified()
                        .ok()
                        .and_then(|m| m.duration_since(std::time::UNIX_EPOCH).ok())
                        .map_or(0, |d| d.as_nanos());
                    entries.push(format!("{}/{name} {} {mtime}", t.name, meta.len()));
                }
                entries.sort();
            }
        }
    }
    out.retain(|_, files| !files.is_empty());
    Ok(out)
}

/// `YYYY` or `YYYY-MM`, digits only.
pub fn is_period(p: &str) -> bool {
    let b = p.as_bytes();
    let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    match b.len() {
        4 => digits(0..4),
        7 => digits(0..4) && b[4] == b'-' && digits(5..7),
        _ => false,
    }
}

/// `(value, path)` of the subdirectories `<prefix><value>` of `dir` (none if it is missing).
fn subdirs(dir: &Path, prefix: &str) -> Result<Vec<(String, std::path::PathBuf)>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io(dir, e)),
    };
    let mut out = Vec::new();
    for e in entries {
        let e = e.map_err(|err| Error::io(dir, err))?;
        let name = e.file_name().to_string_lossy().into_owned();
        if let Some(v) = name.strip_prefix(prefix)
            && e.path().is_dir()
        {
            out.push((v.to_string(), e.path()));
        }
    }
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_are_digits_and_a_dash_only() {
        for ok in ["2015", "2015-05"] {
            assert!(is_period(ok), "{ok}");
        }
        for bad in ["2015-5", "20150", "2015'05", "x015", "2015-0a", ""] {
            assert!(!is_period(bad), "{bad}");
        }
    }
}
