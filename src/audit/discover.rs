//! Finding the exact linear identities a published long table satisfies, from its
//! visible rows alone, as an outsider would: without the publisher's list of identities.
//!
//! An identity varies an *axis* (one to three key columns) while the other key columns
//! and the partition (kommun, period) stay fixed: `total = Σ parts`, for every group
//! where its cells exist. Candidates come from two places:
//! - **the labels** an outsider reads: a value named `T`/`total`/`alla` is the sum of
//!   the other values of its axis (T = K + M; a breakdown's total row = its categories,
//!   per dimension); an age band `a-b` is the sum of the single ages or of the adjacent
//!   bands inside it;
//! - **the numbers**: every subset of the values a target dominates (never larger where
//!   both are visible) that sums to it on the groups where all of them are visible — this
//!   finds measures that add up to other measures without reading their names.
//!
//! A candidate is kept when no group with all its cells visible contradicts it and
//! enough groups support it with a non-zero total (one for a label, three for numbers,
//! which makes coincidences unlikely). An absent row counts as empty.

use std::collections::{BTreeSet, HashMap};

use super::numeric::{numeric, pairs};
use super::table::LongTable;

/// Groups with a non-zero total that must agree before a numeric candidate is believed.
pub(super) const NUMERIC_SUPPORT: usize = 3;
/// Values a target may dominate before subset search gives way to solving (2^N subsets).
pub(super) const MAX_CANDIDATES: usize = 12;
/// Partitions the numeric search looks at (the ones with the most visible non-zero cells):
/// identities are structural, so a sample finds them and confirmation covers the rest.
const SEARCH_PARTITIONS: usize = 8;

/// Which of a group's values must be exactly the parts for an identity read from labels
/// to apply there ("the total is the sum of *its* categories", whichever exist).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Siblings {
    /// Any group where the total and all parts exist.
    Any,
    /// Every other value of the axis in the group.
    AllOthers,
    /// Every value sharing the parts' first component (a dimension's categories).
    SameFirst,
    /// Every single age in the band.
    AgesIn(u32, u32),
}

/// One identity found: on `axis`, the value `total` equals the sum of the `parts` values.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Found {
    /// Key columns varied (indices into the table's key columns).
    pub axis: Vec<usize>,
    /// The total's axis value (interned per column).
    pub total: Vec<u32>,
    /// The parts' axis values.
    pub parts: Vec<Vec<u32>>,
    /// Where it applies.
    pub siblings: Siblings,
    /// Only in groups whose key column `.0` has value `.1`: an identity read from labels
    /// is learned per measure, since a breakdown may add up for one measure and not for
    /// another (a multi-valued one), and hidden cells would hide the difference.
    pub scope: Option<(usize, u32)>,
    /// For an identity found from the numbers: the sets of axis values of the groups
    /// that confirmed it. It applies only where a group's values are among one of them —
    /// where another category exists (an `under 18` class the confirming groups did not
    /// have), the same sum need not hold. Empty: no such limit.
    pub shapes: BTreeSet<Vec<Vec<u32>>>,
}

impl Found {
    /// The rows of `group` this identity binds (total, parts), when it applies there.
    pub fn bind(
        &self,
        table: &LongTable,
        group: &HashMap<Vec<u32>, usize>,
    ) -> Option<(usize, Vec<usize>)> {
        let total = *group.get(&self.total)?;
        if let Some((column, value)) = self.scope
            && table.rows[total].key[column] != value
        {
            return None;
        }
        if !self.shapes.is_empty()
            && !self
                .shapes
                .iter()
                .any(|shape| group.keys().all(|k| shape.binary_search(k).is_ok()))
        {
            return None;
        }
        let parts = self
            .parts
            .iter()
            .map(|p| group.get(p).copied())
            .collect::<Option<Vec<usize>>>()?;
        let siblings = group
            .keys()
            .filter(|v| {
                sibling(
                    table,
                    &self.axis,
                    self.siblings,
                    &self.total,
                    &self.parts[0],
                    v,
                )
            })
            .count();
        (self.siblings == Siblings::Any || siblings == parts.len()).then_some((total, parts))
    }
}

/// True when `v` belongs to the set `kind` describes (for `total` with first part `first`).
fn sibling(
    table: &LongTable,
    axis: &[usize],
    kind: Siblings,
    total: &[u32],
    first: &[u32],
    v: &[u32],
) -> bool {
    match kind {
        Siblings::Any => false,
        Siblings::AllOthers => v != total,
        Siblings::SameFirst => v[0] == first[0] && v != total,
        Siblings::AgesIn(lo, hi) => {
            matches!(table.value(axis[0], v[0]).parse::<u32>(), Ok(a) if (lo..=hi).contains(&a))
        }
    }
}

/// What discovery found, and what it could not decide.
#[derive(Debug, Default)]
pub struct Discovery {
    /// Confirmed identities.
    pub found: Vec<Found>,
    /// Targets with too many dominated values to search every subset, for which solving
    /// the equations gave no 0/1 answer either (identities possibly missed).
    pub undecided: usize,
}

/// The axes searched: every single key column, and every pair and triple of them.
fn axes(columns: usize) -> Vec<Vec<usize>> {
    let mut out = Vec::new();
    for size in 1..=3.min(columns) {
        let mut pick: Vec<usize> = (0..size).collect();
        loop {
            out.push(pick.clone());
            // Next combination in lexicographic order.
            let Some(i) = (0..size).rev().find(|&i| pick[i] < columns - size + i) else {
                break;
            };
            pick[i] += 1;
            for j in i + 1..size {
                pick[j] = pick[j - 1] + 1;
            }
        }
    }
    out
}

/// The rows of a table grouped for one axis: group (partition and the other key
/// columns) → axis value → row.
pub struct Grouped {
    /// Per group: axis value → row index.
    pub groups: Vec<HashMap<Vec<u32>, usize>>,
    /// Partition of each group.
    pub partition: Vec<usize>,
}

/// Groups `table`'s rows for `axis`.
pub fn group(table: &LongTable, axis: &[usize]) -> Grouped {
    let mut index: HashMap<(usize, Vec<u32>), usize> = HashMap::new();
    let mut out = Grouped {
        groups: Vec::new(),
        partition: Vec::new(),
    };
    for (r, row) in table.rows.iter().enumerate() {
        let rest: Vec<u32> = (0..row.key.len())
            .filter(|c| !axis.contains(c))
            .map(|c| row.key[c])
            .collect();
        let value: Vec<u32> = axis.iter().map(|&c| row.key[c]).collect();
        let g = *index.entry((row.partition, rest)).or_insert_with(|| {
            out.groups.push(HashMap::new());
            out.partition.push(row.partition);
            out.groups.len() - 1
        });
        out.groups[g].insert(value, r);
    }
    out
}

/// How one candidate fares on the groups: (support, contradicted), and the sets of axis
/// values of the supporting groups.
fn check(
    table: &LongTable,
    grouped: &Grouped,
    found: &Found,
) -> (usize, bool, BTreeSet<Vec<Vec<u32>>>) {
    let mut support = 0;
    let mut shapes = BTreeSet::new();
    for g in &grouped.groups {
        let Some((t, parts)) = found.bind(table, g) else {
            continue;
        };
        let Some(tv) = table.rows[t].visible() else {
            continue;
        };
        // Counts are never negative: visible parts above the total refute it too.
        if parts
            .iter()
            .filter_map(|&p| table.rows[p].visible())
            .sum::<i64>()
            > tv
        {
            return (support, true, shapes);
        }
        let Some(sum) = parts
            .iter()
            .map(|&p| table.rows[p].visible())
            .sum::<Option<i64>>()
        else {
            continue;
        };
        if sum != tv {
            return (support, true, shapes);
        }
        if tv > 0 {
            support += 1;
            let mut shape: Vec<Vec<u32>> = g.keys().cloned().collect();
            shape.sort();
            shapes.insert(shape);
        }
    }
    (support, false, shapes)
}

/// Candidates an outsider reads from the labels, for one axis: per group, the total
/// label's siblings there (so each set of categories that occurs is one candidate).
fn labelled(table: &LongTable, axis: &[usize], grouped: &Grouped) -> BTreeSet<Found> {
    let name = |v: &[u32], i: usize| table.value(axis[i], v[i]);
    let is_total = |s: &str| matches!(s, "T" | "total" | "alla");
    let scope_column = table
        .key_names
        .iter()
        .position(|n| n == "matt")
        .filter(|c| !axis.contains(c));
    let mut out = BTreeSet::new();
    for g in &grouped.groups {
        let scope =
            scope_column.and_then(|c| g.values().next().map(|&r| (c, table.rows[r].key[c])));
        let mut add = |total: &Vec<u32>, mut parts: Vec<Vec<u32>>, siblings: Siblings| {
            parts.sort();
            if !parts.is_empty() {
                out.insert(Found {
                    axis: axis.to_vec(),
                    total: total.clone(),
                    parts,
                    siblings,
                    scope,
                    shapes: BTreeSet::new(),
                });
            }
        };
        for t in g.keys() {
            match axis.len() {
                1 if is_total(name(t, 0)) => {
                    add(
                        t,
                        g.keys().filter(|v| *v != t).cloned().collect(),
                        Siblings::AllOthers,
                    );
                }
                1 => {
                    // An age band: the single ages in it, or two adjacent bands covering it.
                    let Some((lo, hi)) = band(name(t, 0)) else {
                        continue;
                    };
                    let kind = Siblings::AgesIn(lo, hi);
                    add(
                        t,
                        g.keys()
                            .filter(|v| sibling(table, axis, kind, t, v, v))
                            .cloned()
                            .collect(),
                        kind,
                    );
                    for a in g.keys() {
                        for b in g.keys() {
                            if let (Some((a0, a1)), Some((b0, b1))) =
                                (band(name(a, 0)), band(name(b, 0)))
                                && a0 == lo
                                && b1 == hi
                                && b0 == a1 + 1
                            {
                                add(t, vec![a.clone(), b.clone()], Siblings::Any);
                            }
                        }
                    }
                }
                // A composite whose every component is a total label (dimension = total,
                // kategori = total): the values sharing a first component, per component.
                2 if is_total(name(t, 0)) && is_total(name(t, 1)) => {
                    let firsts: BTreeSet<u32> =
                        g.keys().map(|v| v[0]).filter(|f| *f != t[0]).collect();
                    for f in firsts {
                        add(
                            t,
                            g.keys().filter(|v| v[0] == f).cloned().collect(),
                            Siblings::SameFirst,
                        );
                    }
                }
                _ => {}
            }
        }
    }
    out
}

/// `a-b` as (a, b).
fn band(s: &str) -> Option<(u32, u32)> {
    let (a, b) = s.split_once('-')?;
    Some((a.parse().ok()?, b.parse().ok()?)).filter(|(a, b)| a < b)
}

/// Every identity of `table` its visible rows show.
pub fn discover(table: &LongTable) -> Discovery {
    let mut result = Discovery::default();
    let searched_partitions = table.busiest_partitions(SEARCH_PARTITIONS);
    let mut found = BTreeSet::new();
    for axis in axes(table.key_names.len()) {
        let grouped = group(table, &axis);
        let searched: Vec<usize> = (0..grouped.groups.len())
            .filter(|&g| searched_partitions.contains(&grouped.partition[g]))
            .collect();
        let mut candidates: Vec<(Found, usize)> = labelled(table, &axis, &grouped)
            .into_iter()
            .map(|f| (f, 1))
            .collect();
        let stats = pairs(table, &grouped, &searched);
        let targets: BTreeSet<&Vec<u32>> = stats.keys().map(|(t, _)| t).collect();
        // Sums of any size along one or two columns; along three only equalities (one
        // part), where the values are many.
        for t in targets {
            match numeric(table, &grouped, &searched, &stats, t, axis.len() == 3) {
                Some(sets) => candidates.extend(sets.into_iter().map(|mut parts| {
                    parts.sort();
                    let found = Found {
                        axis: axis.clone(),
                        total: t.clone(),
                        parts,
                        siblings: Siblings::Any,
                        scope: None,
                        shapes: BTreeSet::new(),
                    };
                    (found, NUMERIC_SUPPORT)
                })),
                None => result.undecided += 1,
            }
        }
        for (candidate, needed) in candidates {
            if found.contains(&candidate) {
                continue;
            }
            let (support, contradicted, shapes) = check(table, &grouped, &candidate);
            if !contradicted && support >= needed {
                let numeric = candidate.siblings == Siblings::Any;
                found.insert(Found {
                    shapes: if numeric { shapes } else { BTreeSet::new() },
                    ..candidate
                });
            }
        }
    }
    result.found = found.into_iter().collect();
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axes_are_every_combination_of_one_to_three_columns() {
        let a = axes(5);
        assert_eq!(a.len(), 5 + 10 + 10);
        assert_eq!(a[0], vec![0]);
        assert_eq!(a[5], vec![0, 1]);
        assert_eq!(a.last(), Some(&vec![2, 3, 4]));
        assert_eq!(axes(2), vec![vec![0], vec![1], vec![0, 1]]);
    }

    #[test]
    fn bands_parse() {
        assert_eq!(band("16-24"), Some((16, 24)));
        assert_eq!(band("18"), None);
        assert_eq!(band("ej-grundskola"), None);
    }
}
