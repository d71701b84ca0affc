//! `malgrupp audit`: an outsider's attack on the published files, independent of the
//! publisher's list of identities.
//!
//! It reads only the published long tables (Parquet or CSV), finds the exact linear
//! identities their visible rows satisfy ([`discover`]), and for every hidden count
//! computes by linear programming (all counts ≥ 0, then rounded inwards to whole numbers)
//! the interval the published cells confine it to. A suppressed cell is **disclosed**
//! when that interval tells it is a small count — inside `[1, threshold − 1]`, or "nobody
//! or one person" (`[0, 1]`) — and **pinned** when the interval is a single value. A
//! pinned count of 0 or of at least the threshold is no small count: such a cell was
//! hidden only to protect others, and the same LP shows whether they are. A suppressed
//! count that still has its share published is disclosed too (share × population).

pub mod discover;
mod numeric;
pub mod table;

use std::collections::HashMap;
use std::path::Path;

use crate::error::Result;
use crate::publish::suppression::{Constraint, attacker_bounds};
use table::LongTable;

/// A whole-number interval; `hi = None` is unbounded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Interval {
    /// Lowest value the published cells allow.
    pub lo: i64,
    /// Highest, if bounded.
    pub hi: Option<i64>,
}

impl Interval {
    /// From LP bounds, as the publisher's protection rule rounds them.
    fn from_bounds(lo: f64, hi: f64) -> Option<Interval> {
        crate::publish::suppression::whole_bounds(lo, hi).map(|(lo, hi)| Interval { lo, hi })
    }

    fn width(&self) -> i64 {
        self.hi.map_or(i64::MAX, |h| h - self.lo)
    }

    /// Known to be a small count: inside `[1, threshold − 1]`, or within `[0, 1]` but
    /// not known to be 0.
    fn discloses(&self, threshold: i64) -> bool {
        matches!(self.hi, Some(h) if h >= 1 && h < threshold && (self.lo >= 1 || h == 1))
    }
}

impl std::fmt::Display for Interval {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.hi {
            Some(h) => write!(f, "[{}, {h}]", self.lo),
            None => write!(f, "[{}, ∞)", self.lo),
        }
    }
}

/// A suppressed cell and what the published cells tell about it.
#[derive(Debug, Clone)]
pub struct Exposure {
    /// Its key, `name=value` pairs.
    pub cell: String,
    /// Its interval.
    pub interval: Interval,
}

/// The audit of one published table.
#[derive(Debug, Default)]
pub struct TableAudit {
    /// Rows read.
    pub rows: usize,
    /// Rows flagged as suppressed.
    pub suppressed: usize,
    /// Identities found in the visible rows, as text (`axis: total = part + …`).
    pub identities: Vec<String>,
    /// Targets with too many candidate parts to search (identities possibly missed).
    pub undecided: usize,
    /// Suppressed cells whose interval is a single value.
    pub pinned: Vec<Exposure>,
    /// Suppressed cells known to be small (see the module doc), including those with a
    /// published share.
    pub disclosed: Vec<Exposure>,
    /// The narrowest interval of a suppressed cell.
    pub tightest: Option<Exposure>,
    /// Partitions whose published cells contradict an identity found elsewhere (the
    /// identity is wrong there, or the table inconsistent): their cells are not judged.
    pub inconsistent: Vec<String>,
}

impl TableAudit {
    /// No suppressed cell is disclosed, and every partition could be judged.
    pub fn holds(&self) -> bool {
        self.disclosed.is_empty() && self.inconsistent.is_empty()
    }
}

/// Audits one table with suppression threshold `threshold`.
pub fn audit_table(table: &LongTable, threshold: i64) -> TableAudit {
    let discovery = discover::discover(table);
    let mut audit = TableAudit {
        rows: table.rows.len(),
        suppressed: table.rows.iter().filter(|r| r.protected).count(),
        identities: discovery.found.iter().map(|f| describe(table, f)).collect(),
        undecided: discovery.undecided,
        ..TableAudit::default()
    };
    // Every identity applied wherever its cells exist, as constraints per partition.
    let mut per_partition: Vec<Vec<Vec<Constraint>>> =
        vec![vec![Vec::new(); discovery.found.len()]; table.partitions.len()];
    let mut grouped_by_axis: HashMap<Vec<usize>, discover::Grouped> = HashMap::new();
    for (i, found) in discovery.found.iter().enumerate() {
        let grouped = grouped_by_axis
            .entry(found.axis.clone())
            .or_insert_with(|| discover::group(table, &found.axis));
        for (g, cells) in grouped.groups.iter().enumerate() {
            if let Some((total, parts)) = found.bind(table, cells) {
                per_partition[grouped.partition[g]][i].push(Constraint { total, parts });
            }
        }
    }
    let mut rows_of: Vec<Vec<usize>> = vec![Vec::new(); table.partitions.len()];
    for (i, r) in table.rows.iter().enumerate() {
        rows_of[r.partition].push(i);
    }
    let judged = crate::runtime::parallel_map(
        &rows_of.iter().zip(&per_partition).collect::<Vec<_>>(),
        |(rows, constraints)| partition_bounds(table, rows, constraints),
    );
    for (p, result) in judged.into_iter().enumerate() {
        let Some(Some(bounds)) = result else {
            let (kommun, period) = &table.partitions[p];
            audit
                .inconsistent
                .push(format!("kommun={kommun} period={period}"));
            continue;
        };
        for (row, interval) in bounds {
            let r = &table.rows[row];
            if !r.protected {
                continue;
            }
            let exposure = Exposure {
                cell: table.describe(row),
                interval,
            };
            if interval.hi == Some(interval.lo) {
                audit.pinned.push(exposure.clone());
            }
            if interval.discloses(threshold) || r.share_shown {
                audit.disclosed.push(exposure.clone());
            }
            if audit
                .tightest
                .as_ref()
                .is_none_or(|t| interval.width() < t.interval.width())
            {
                audit.tightest = Some(exposure);
            }
        }
    }
    audit
}

/// An identity as text: `kon: T = K + M`.
fn describe(table: &LongTable, found: &discover::Found) -> String {
    let name = |v: &Vec<u32>| {
        v.iter()
            .zip(&found.axis)
            .map(|(&x, &c)| table.value(c, x))
            .collect::<Vec<_>>()
            .join("/")
    };
    let axis: Vec<&str> = found
        .axis
        .iter()
        .map(|&c| table.key_names[c].as_str())
        .collect();
    let parts: Vec<String> = found.parts.iter().map(name).collect();
    let scope = found
        .scope
        .map(|(c, v)| format!(" (where {} = {})", table.key_names[c], table.value(c, v)))
        .unwrap_or_default();
    format!(
        "{}: {} = {}{scope}",
        axis.join("/"),
        name(&found.total),
        parts.join(" + ")
    )
}

/// The intervals of a partition's hidden rows (global row indices); `None` when its
/// published cells contradict the constraints. `constraints` come per identity: an
/// identity whose equations no non-negative counts can satisfy here, with the ones kept
/// before it, is refuted by the data and left out (as an attacker would drop it).
fn partition_bounds(
    table: &LongTable,
    rows: &[usize],
    per_identity: &[Vec<Constraint>],
) -> Option<Vec<(usize, Interval)>> {
    let local: HashMap<usize, usize> = rows.iter().enumerate().map(|(l, &g)| (g, l)).collect();
    let values: Vec<Option<i64>> = rows.iter().map(|&g| table.rows[g].visible()).collect();
    let hidden: Vec<bool> = values.iter().map(Option::is_none).collect();
    let mut constraints: Vec<Constraint> = Vec::new();
    for identity in per_identity {
        let before = constraints.len();
        constraints.extend(identity.iter().map(|c| Constraint {
            total: local[&c.total],
            parts: c.parts.iter().map(|p| local[p]).collect(),
        }));
        if !crate::publish::suppression::consistent(&values, &hidden, &constraints) {
            constraints.truncate(before);
        }
    }
    attacker_bounds(&values, &hidden, &constraints)
        .into_iter()
        .map(|(l, lo, hi)| Interval::from_bounds(lo, hi).map(|i| (rows[l], i)))
        .collect()
}

/// Audits every published long table in `dir` (`csv`: read the CSV files instead of the
/// Parquet ones). Returns (file name, audit) in file-name order, a view published per
/// period named by its directory (`kartlaggning/`); files that are not long tables (the
/// wide views derived from them) are left out.
pub fn audit_dir(dir: &Path, threshold: i64, csv: bool) -> Result<Vec<(String, TableAudit)>> {
    let extension = if csv { "csv" } else { "parquet" };
    let mut entries: Vec<(String, std::path::PathBuf)> = std::fs::read_dir(dir)
        .map_err(|e| crate::Error::io(dir, e))?
        .flatten()
        .map(|e| (e.file_name().to_string_lossy().into_owned(), e.path()))
        .filter(|(n, p)| {
            !n.starts_with('.') && (p.is_dir() || n.ends_with(&format!(".{extension}")))
        })
        .collect();
    entries.sort();
    let mut out = Vec::new();
    for (name, path) in entries {
        let (name, read) = if path.is_dir() {
            (format!("{name}/"), LongTable::read_dir(&path, extension))
        } else {
            (name, LongTable::read(&path))
        };
        match read {
            Ok(table) => out.push((name, audit_table(&table, threshold))),
            // Wide tables have no `antal`/`antal_skyddad`: derived from a long one.
            Err(crate::Error::Config(_)) => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}

/// The audit as text: one block per table.
pub fn render(audits: &[(String, TableAudit)], threshold: i64, identities: bool) -> String {
    let mut out = format!(
        "threshold {threshold}: a suppressed count must not be known to lie in [1, {}] or in [0, 1]\n",
        threshold - 1
    );
    for (name, a) in audits {
        out.push_str(&format!(
            "\n{name}: {} rows, {} suppressed, {} identities found{}\n  pinned down: {}\n  disclosed: {}\n",
            a.rows,
            a.suppressed,
            a.identities.len(),
            if a.undecided > 0 { format!(" ({} targets with too many candidate parts to search)", a.undecided) } else { String::new() },
            a.pinned.len(),
            a.disclosed.len(),
        ));
        if identities {
            a.identities
                .iter()
                .for_each(|i| out.push_str(&format!("  identity {i}\n")));
        }
        if let Some(t) = &a.tightest {
            out.push_str(&format!("  tightest interval: {} {}\n", t.interval, t.cell));
        }
        for d in a.disclosed.iter().take(20) {
            out.push_str(&format!("  DISCLOSED {} {}\n", d.interval, d.cell));
        }
        for p in &a.inconsistent {
            out.push_str(&format!("  inconsistent with the identities found: {p}\n"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_interval_discloses_a_small_count_only() {
        let i = |lo, hi| Interval { lo, hi };
        assert!(i(1, Some(4)).discloses(5));
        assert!(i(3, Some(3)).discloses(5));
        assert!(i(0, Some(1)).discloses(5), "nobody or one person");
        assert!(!i(0, Some(2)).discloses(5));
        assert!(
            !i(0, Some(0)).discloses(5),
            "known empty: a zero is published anyway"
        );
        assert!(!i(2, Some(5)).discloses(5));
        assert!(!i(7, Some(7)).discloses(5), "pinned, but no small count");
        assert!(!i(1, None).discloses(5));
    }
}
