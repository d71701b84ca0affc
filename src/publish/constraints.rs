//! The additivity constraints of the long kartläggning that secondary suppression must
//! respect: which published cells add up to which, within one kommun-month.

use std::collections::{BTreeMap, HashMap};

use super::cells::Cell;
use super::suppression::Constraint;

/// kommun, period, matt, kon, alder, dimension, kategori.
type Key7<'a> = (
    &'a str,
    &'a str,
    &'a str,
    &'a str,
    &'a str,
    &'a str,
    &'a str,
);
/// The same without kategori.
type Key6<'a> = (&'a str, &'a str, &'a str, &'a str, &'a str, &'a str);

/// The additivity an attacker can use within one kommun and period:
/// 1. kön: T = K + M for every measure, age and breakdown;
/// 2. breakdowns: the total row = the sum of a dimension's categories, where the data
///    show it (multi-valued or partial breakdowns do not add up and are not used);
/// 3. ages: the 16-24 band = the sum of the single ages, where the data show it;
/// 4. measures that restate each other: försörjningsstöd by reason equals the reason
///    groups' totals, arbetslöshet = its sub-reasons, and målgrupp (sum) = AF + KAA, where
///    the data show it.
///    Only exact equalities in the data are used, so a coincidence adds protection, never less.
pub fn constraints(cells: &[Cell]) -> Vec<Constraint> {
    let mut index: HashMap<Key7<'_>, usize> = HashMap::new();
    for (i, c) in cells.iter().enumerate() {
        let k = &c.keys;
        index.insert((&k[0], &k[1], &k[2], &k[3], &k[4], &k[5], &k[6]), i);
    }
    let value = |i: usize| cells[i].antal;
    let holds = |total: usize, parts: &[usize]| -> bool {
        match (
            value(total),
            parts
                .iter()
                .map(|p| value(*p))
                .collect::<Option<Vec<i64>>>(),
        ) {
            (Some(t), Some(ps)) => !ps.is_empty() && ps.iter().sum::<i64>() == t,
            // With an unknown cell the equation cannot be checked against the data, so it is
            // not used (kön additivity is added separately, without this check).
            _ => false,
        }
    };
    let mut out = Vec::new();
    // Ordered, so the constraints — and with them the secondary suppression chosen — are
    // the same on every run (a HashMap's order changes from process to process).
    let mut groups: BTreeMap<Key6<'_>, Vec<usize>> = BTreeMap::new();
    for (i, c) in cells.iter().enumerate() {
        let k = &c.keys;
        if c.antal.is_none() && c.keys[8] == "kolada" {
            continue;
        }
        // 1. kön
        if k[3] == "T"
            && let (Some(&kv), Some(&mv)) = (
                index.get(&(&k[0], &k[1], &k[2], "K", &k[4], &k[5], &k[6])),
                index.get(&(&k[0], &k[1], &k[2], "M", &k[4], &k[5], &k[6])),
            )
        {
            out.push(Constraint {
                total: i,
                parts: vec![kv, mv],
            });
        }
        if k[5] != "total" {
            groups
                .entry((&k[0], &k[1], &k[2], &k[3], &k[4], &k[5]))
                .or_default()
                .push(i);
        }
    }
    // 2. breakdowns
    for ((kommun, period, matt, kon, alder, _dim), parts) in &groups {
        if let Some(&total) = index.get(&(*kommun, *period, *matt, *kon, *alder, "total", "total"))
            && holds(total, parts)
        {
            out.push(Constraint {
                total,
                parts: parts.clone(),
            });
        }
    }
    // 3. ages, 4. restating measures
    for (i, c) in cells.iter().enumerate() {
        let k = &c.keys;
        if k[5] != "total" || k[4] != "16-24" {
            continue;
        }
        let at = |matt: &str, alder: &str, dim: &str, kat: &str| {
            index
                .get(&(
                    k[0].as_str(),
                    k[1].as_str(),
                    matt,
                    k[3].as_str(),
                    alder,
                    dim,
                    kat,
                ))
                .copied()
        };
        let ages: Vec<usize> = (16..=24)
            .filter_map(|a| at(&k[2], &a.to_string(), "total", "total"))
            .collect();
        if holds(i, &ages) {
            out.push(Constraint {
                total: i,
                parts: ages,
            });
        }
        if let Some(reason) = k[2]
            .strip_prefix("fs_")
            .filter(|r| !r.starts_with("mottagare") && !r.starts_with("arbetsloshet_"))
            && let Some(j) = at("fs_mottagare", "16-24", "orsak", reason)
            && holds(j, &[i])
        {
            out.push(Constraint {
                total: j,
                parts: vec![i],
            });
        }
        if k[2] == "fs_arbetsloshet" {
            let subs: Vec<usize> = [
                "fs_arbetsloshet_endast_fs",
                "fs_arbetsloshet_vantar_ersattning",
                "fs_arbetsloshet_otillracklig_ersattning",
            ]
            .iter()
            .filter_map(|m| at(m, "16-24", "total", "total"))
            .collect();
            if holds(i, &subs) {
                out.push(Constraint {
                    total: i,
                    parts: subs,
                });
            }
        }
        if k[2] == "malgrupp_summa" {
            let parts: Vec<usize> = [
                at("af_inskrivna", "16-24", "total", "total"),
                at("kaa_inskrivna", "16-20", "total", "total"),
            ]
            .into_iter()
            .flatten()
            .collect();
            if parts.len() == 2 && holds(i, &parts) {
                out.push(Constraint { total: i, parts });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::publish::cells::Cell;

    fn cell(matt: &str, kon: &str, dim: &str, kat: &str, antal: i64) -> Cell {
        let keys = ["0880", "2015-05", matt, kon, "16-24", dim, kat, "ok", "x"].map(String::from);
        Cell {
            keys,
            antal: Some(antal),
            befolkning: None,
            andel_kalla: None,
        }
    }

    #[test]
    fn constraints_come_out_in_the_same_order_every_time() {
        // Many breakdowns, so an unordered map would shuffle them between calls.
        let mut cells = Vec::new();
        for d in 0..12 {
            for kon in ["K", "M", "T"] {
                let n = if kon == "T" { 2 } else { 1 };
                cells.push(cell("m", kon, &format!("d{d}"), "a", 3 * n));
                cells.push(cell("m", kon, &format!("d{d}"), "b", 4 * n));
            }
        }
        for (kon, n) in [("K", 7), ("M", 7), ("T", 14)] {
            cells.push(cell("m", kon, "total", "total", n));
        }
        let first: Vec<(usize, Vec<usize>)> = constraints(&cells)
            .into_iter()
            .map(|c| (c.total, c.parts))
            .collect();
        assert!(
            first.len() > 36,
            "kön and breakdown constraints: {}",
            first.len()
        );
        for _ in 0..5 {
            let again: Vec<(usize, Vec<usize>)> = constraints(&cells)
                .into_iter()
                .map(|c| (c.total, c.parts))
                .collect();
            assert_eq!(again, first);
        }
    }
}
