//! Identities the numbers suggest: for a target value of an axis, the sets of values it
//! dominates (never larger where both are visible) that sum to it on the groups where all
//! of them are visible — found without reading any label. Subsets are searched one by
//! one up to a size, beyond it the equations are solved for a 0/1 answer.

use std::collections::HashMap;

use super::discover::{Grouped, MAX_CANDIDATES, NUMERIC_SUPPORT};
use super::table::LongTable;

/// What the searched groups say about a pair of values (target, other) of one axis.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct Pair {
    /// Both visible, the other not above the target everywhere.
    below: bool,
    /// Both visible, equal everywhere.
    equal: bool,
    /// Groups where both are visible and the other is non-zero.
    nonzero: usize,
}

/// Statistics of every pair of values visible together in a searched group.
pub(super) fn pairs(
    table: &LongTable,
    grouped: &Grouped,
    searched: &[usize],
) -> HashMap<(Vec<u32>, Vec<u32>), Pair> {
    let mut out: HashMap<(Vec<u32>, Vec<u32>), Pair> = HashMap::new();
    for &g in searched {
        let visible: Vec<(&Vec<u32>, i64)> = grouped.groups[g]
            .iter()
            .filter_map(|(v, &r)| table.rows[r].visible().map(|x| (v, x)))
            .collect();
        for &(t, tv) in &visible {
            for &(v, x) in &visible {
                if t == v {
                    continue;
                }
                let p = out.entry((t.clone(), v.clone())).or_insert(Pair {
                    below: true,
                    equal: true,
                    nonzero: 0,
                });
                p.below &= x <= tv;
                p.equal &= x == tv;
                p.nonzero += usize::from(x > 0);
            }
        }
    }
    out
}

/// Candidates the numbers suggest for `target`: sets of values it dominates that sum to
/// it wherever all of them are visible (at most one part when `equalities_only`). `None`
/// when there are too many to search every subset and solving gave no 0/1 answer.
pub(super) fn numeric(
    table: &LongTable,
    grouped: &Grouped,
    searched: &[usize],
    stats: &HashMap<(Vec<u32>, Vec<u32>), Pair>,
    target: &[u32],
    equalities_only: bool,
) -> Option<Vec<Vec<Vec<u32>>>> {
    let mut partners: Vec<(&Vec<u32>, &Pair)> = stats
        .iter()
        .filter(|((t, _), p)| t.as_slice() == target && p.below && p.nonzero > 0)
        .map(|((_, v), p)| (v, p))
        .collect();
    partners.sort_by(|a, b| a.0.cmp(b.0));
    if equalities_only {
        return Some(
            partners
                .iter()
                .filter(|(_, p)| p.equal)
                .map(|(v, _)| vec![(*v).clone()])
                .collect(),
        );
    }
    let dominated: Vec<&Vec<u32>> = partners.iter().map(|(v, _)| *v).collect();
    // Per searched group where the target is visible: its count and the dominated ones'.
    let rows: Vec<(i64, Vec<Option<i64>>)> = searched
        .iter()
        .filter_map(|&g| {
            let g = &grouped.groups[g];
            let t = table.rows[*g.get(target)?].visible()?;
            Some((
                t,
                dominated
                    .iter()
                    .map(|v| g.get(*v).and_then(|&r| table.rows[r].visible()))
                    .collect(),
            ))
        })
        .collect();
    if dominated.is_empty() {
        return Some(Vec::new());
    }
    let pick = |set: &[usize]| {
        set.iter()
            .map(|&i| dominated[i].clone())
            .collect::<Vec<_>>()
    };
    if dominated.len() > MAX_CANDIDATES {
        let full: Vec<(i64, Vec<i64>)> = rows
            .iter()
            .filter_map(|(t, xs)| Some((*t, xs.iter().copied().collect::<Option<Vec<i64>>>()?)))
            .collect();
        return solve01(&full, dominated.len()).map(|set| vec![pick(&set)]);
    }
    let mut out = Vec::new();
    for mask in 1u32..(1 << dominated.len()) {
        let set: Vec<usize> = (0..dominated.len())
            .filter(|i| mask & (1 << i) != 0)
            .collect();
        let mut support = 0;
        let holds =
            rows.iter().all(
                |(t, xs)| match set.iter().map(|&i| xs[i]).sum::<Option<i64>>() {
                    Some(sum) if sum == *t => {
                        support += usize::from(*t > 0);
                        true
                    }
                    Some(_) => false,
                    None => true,
                },
            );
        if holds && support >= NUMERIC_SUPPORT {
            out.push(pick(&set));
        }
    }
    Some(out)
}

/// A 0/1 solution of `Σ x_i · xs_i = t` over `rows`, by Gauss–Jordan elimination with
/// the free variables at 0 (dependent candidates are themselves sums of others, so one
/// of the equivalent identities comes out); `None` when that is not 0/1 or not exact.
fn solve01(rows: &[(i64, Vec<i64>)], n: usize) -> Option<Vec<usize>> {
    const EPS: f64 = 1e-9;
    let mut a: Vec<Vec<f64>> = rows
        .iter()
        .map(|(t, xs)| xs.iter().map(|&x| x as f64).chain([*t as f64]).collect())
        .collect();
    let mut pivots = Vec::new();
    let mut r = 0;
    for c in 0..n {
        let Some(p) = (r..a.len()).max_by(|&x, &y| a[x][c].abs().total_cmp(&a[y][c].abs())) else {
            break;
        };
        if a[p][c].abs() < EPS {
            continue;
        }
        a.swap(r, p);
        let f = a[r][c];
        a[r].iter_mut().for_each(|x| *x /= f);
        let pivot_row = a[r].clone();
        for (i, row) in a.iter_mut().enumerate() {
            if i != r && row[c].abs() > EPS {
                let g = row[c];
                row.iter_mut()
                    .zip(&pivot_row)
                    .for_each(|(x, y)| *x -= g * y);
            }
        }
        pivots.push(c);
        r += 1;
    }
    let mut x = vec![0.0; n];
    for (row, &c) in pivots.iter().enumerate() {
        x[c] = a[row][n];
    }
    let set: Vec<usize> = (0..n).filter(|&i| (x[i] - 1.0).abs() < 1e-6).collect();
    let exact = x.iter().all(|v| v.abs() < 1e-6 || (v - 1.0).abs() < 1e-6)
        && rows
            .iter()
            .all(|(t, xs)| set.iter().map(|&i| xs[i]).sum::<i64>() == *t);
    (exact && !set.is_empty() && rows.len() >= NUMERIC_SUPPORT).then_some(set)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equations_solve_to_the_parts_that_add_up() {
        // t = x0 + x2 on four groups; x1 is dominated but no part.
        let rows = vec![
            (5, vec![2, 1, 3]),
            (7, vec![3, 3, 4]),
            (4, vec![4, 0, 0]),
            (9, vec![1, 2, 8]),
        ];
        assert_eq!(solve01(&rows, 3), Some(vec![0, 2]));
        // No 0/1 combination: t = 2·x0.
        let rows = vec![(4, vec![2, 1]), (6, vec![3, 0]), (2, vec![1, 1])];
        assert_eq!(solve01(&rows, 2), None);
    }
}
