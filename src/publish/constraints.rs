//! The identities of the long kartläggning applied to a table's cells as the additivity
//! [`Constraint`]s secondary suppression must respect. The identities themselves — one
//! declarative list ([`IDENTITIES`]) of which published cells add up to which, and its
//! [`markdown`] for docs/figures.md — are `identities.rs`'s.
//!
//! Every identity is applied to *every* combination of the fields it leaves free (kön,
//! ålder, dimension, kategori, measure) where its cells exist — an attacker subtracts
//! wherever the equation holds, not only in the slices a report shows.

use std::collections::{BTreeMap, HashMap};

use super::cells::Cell;
use super::suppression::Constraint;
use identities::Fixed;
pub use identities::{Field, IDENTITIES, Identity, Parts, markdown};

#[path = "identities.rs"]
mod identities;

/// kommun, period, matt, kon, alder, dimension, kategori.
type Key<'a> = [&'a str; 7];

fn key(c: &Cell) -> Key<'_> {
    std::array::from_fn(|i| c.keys[i].as_str())
}

/// `value` with `{}` replaced by `each` (when there is one).
fn fill(value: &str, each: Option<&str>) -> String {
    match each {
        Some(e) => value.replace("{}", e),
        None => value.to_string(),
    }
}

/// `fixed` applied to `base`, owned.
fn replaced(base: Key<'_>, fixed: Fixed, each: Option<&str>) -> [String; 7] {
    let mut k: [String; 7] = base.map(str::to_string);
    for (f, v) in fixed {
        k[f.index()] = fill(v, each);
    }
    k
}

/// The additivity constraints of `cells` (one kommun and period, or more: keys include
/// both), from every identity of [`IDENTITIES`] wherever its cells exist. Ordered the
/// same on every run, so the suppression chosen is too.
pub fn constraints(cells: &[Cell]) -> Vec<Constraint> {
    let index: HashMap<Key<'_>, usize> =
        cells.iter().enumerate().map(|(i, c)| (key(c), i)).collect();
    let find = |k: &[String; 7]| index.get(&std::array::from_fn(|i| k[i].as_str())).copied();
    let holds = |total: usize, parts: &[usize]| -> bool {
        let parts: Option<Vec<i64>> = parts.iter().map(|p| cells[*p].antal).collect();
        matches!((cells[total].antal, parts), (Some(t), Some(ps)) if !ps.is_empty() && ps.iter().sum::<i64>() == t)
    };
    // A breakdown's categories, per (kommun, period, matt, kon, alder) and dimension;
    // ordered, as a HashMap's order changes from process to process.
    let mut breakdowns: BTreeMap<([&str; 5], &str), Vec<usize>> = BTreeMap::new();
    for (i, c) in cells.iter().enumerate() {
        let k = key(c);
        if k[5] != "total" {
            breakdowns
                .entry(([k[0], k[1], k[2], k[3], k[4]], k[5]))
                .or_default()
                .push(i);
        }
    }
    let mut out = Vec::new();
    for identity in IDENTITIES {
        let instances: Vec<Option<&str>> = if identity.each.is_empty() {
            vec![None]
        } else {
            identity.each.iter().map(|e| Some(*e)).collect()
        };
        for each in instances {
            for (i, c) in cells.iter().enumerate() {
                // An unknown Kolada value is a share without a count, not a cell of a sum.
                if c.antal.is_none() && c.keys[8] == "kolada" {
                    continue;
                }
                let k = key(c);
                if !identity
                    .total
                    .iter()
                    .all(|(f, v)| k[f.index()] == fill(v, each))
                {
                    continue;
                }
                // Each family of parts, and whether it must be checked against the data.
                let families: Vec<(Vec<usize>, bool)> = match identity.parts {
                    // A part may be absent (a row that is absent is empty): the rest
                    // are used when the data confirm they add up — also for an identity
                    // that holds by construction (T = M where no K row exists), which
                    // with all its parts present is used unchecked.
                    Parts::Cells(parts) => {
                        let found: Vec<Option<usize>> =
                            parts.iter().map(|p| find(&replaced(k, p, each))).collect();
                        let complete = found.iter().all(Option::is_some);
                        let also = identity.also.iter().map(|p| find(&replaced(k, p, each)));
                        vec![(
                            found.into_iter().chain(also).flatten().collect(),
                            identity.checked || !complete,
                        )]
                    }
                    Parts::Categories => breakdowns
                        .range(([k[0], k[1], k[2], k[3], k[4]], "")..)
                        .take_while(|((head, _), _)| *head == [k[0], k[1], k[2], k[3], k[4]])
                        .map(|(_, parts)| (parts.clone(), identity.checked))
                        .collect(),
                };
                for (parts, checked) in families {
                    if !parts.is_empty() && (!checked || holds(i, &parts)) {
                        out.push(Constraint { total: i, parts });
                    }
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::publish::cells::Cell;

    fn cell(matt: &str, kon: &str, alder: &str, dim: &str, kat: &str, antal: i64) -> Cell {
        let keys = ["0880", "2015-05", matt, kon, alder, dim, kat, "ok", "x"].map(String::from);
        Cell {
            keys,
            antal: Some(antal),
            befolkning: None,
            andel_kalla: None,
        }
    }

    fn pairs(cells: &[Cell]) -> Vec<(usize, Vec<usize>)> {
        constraints(cells)
            .into_iter()
            .map(|c| (c.total, c.parts))
            .collect()
    }

    #[test]
    fn constraints_come_out_in_the_same_order_every_time() {
        // Many breakdowns, so an unordered map would shuffle them between calls.
        let mut cells = Vec::new();
        for d in 0..12 {
            for kon in ["K", "M", "T"] {
                let n = if kon == "T" { 2 } else { 1 };
                cells.push(cell("m", kon, "16-24", &format!("d{d}"), "a", 3 * n));
                cells.push(cell("m", kon, "16-24", &format!("d{d}"), "b", 4 * n));
            }
        }
        for (kon, n) in [("K", 7), ("M", 7), ("T", 14)] {
            cells.push(cell("m", kon, "16-24", "total", "total", n));
        }
        let first = pairs(&cells);
        assert!(
            first.len() > 36,
            "kön and breakdown constraints: {}",
            first.len()
        );
        for _ in 0..5 {
            assert_eq!(pairs(&cells), first);
        }
    }

    #[test]
    fn measure_identities_hold_at_every_age_and_in_every_breakdown() {
        // arbetslöshet = its sub-reasons at a single age, and within a breakdown.
        let cells = vec![
            cell("fs_arbetsloshet", "T", "20", "total", "total", 8),
            cell("fs_arbetsloshet_endast_fs", "T", "20", "total", "total", 0),
            cell(
                "fs_arbetsloshet_vantar_ersattning",
                "T",
                "20",
                "total",
                "total",
                1,
            ),
            cell(
                "fs_arbetsloshet_otillracklig_ersattning",
                "T",
                "20",
                "total",
                "total",
                7,
            ),
            cell(
                "fs_arbetsloshet",
                "T",
                "16-24",
                "fodelseland",
                "utrikes",
                23,
            ),
            cell(
                "fs_arbetsloshet_endast_fs",
                "T",
                "16-24",
                "fodelseland",
                "utrikes",
                8,
            ),
            cell(
                "fs_arbetsloshet_vantar_ersattning",
                "T",
                "16-24",
                "fodelseland",
                "utrikes",
                2,
            ),
            cell(
                "fs_arbetsloshet_otillracklig_ersattning",
                "T",
                "16-24",
                "fodelseland",
                "utrikes",
                13,
            ),
        ];
        assert_eq!(pairs(&cells), vec![(0, vec![1, 2, 3]), (4, vec![5, 6, 7])]);
    }

    #[test]
    fn an_identity_the_data_contradict_is_not_used_and_reasons_restate_their_measure() {
        let cells = vec![
            cell("fs_arbetsloshet", "T", "16-24", "total", "total", 9),
            cell(
                "fs_arbetsloshet_endast_fs",
                "T",
                "16-24",
                "total",
                "total",
                0,
            ),
            cell(
                "fs_arbetsloshet_vantar_ersattning",
                "T",
                "16-24",
                "total",
                "total",
                1,
            ),
            cell(
                "fs_arbetsloshet_otillracklig_ersattning",
                "T",
                "16-24",
                "total",
                "total",
                7,
            ),
            cell("fs_mottagare", "T", "16-24", "orsak", "arbetsloshet", 9),
        ];
        // 9 ≠ 0 + 1 + 7: not an identity of this table; the restated reason is.
        assert_eq!(pairs(&cells), vec![(4, vec![0])]);
    }

    #[test]
    fn the_documentation_prints_the_list() {
        let docs = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/figures.md"))
            .expect("docs/figures.md");
        let listed = markdown();
        assert!(
            docs.contains(&listed),
            "docs/figures.md must contain the identities exactly as `publish::constraints::markdown()` prints them:\n{listed}"
        );
    }
}
