//! Tests of small-count suppression: hand-computed tables and LP bounds, LP bounds against
//! integer enumeration, and seeded randomized tables (every primary cell protected after
//! `suppress`, the truth always inside the attacker's interval).

use super::*;
use std::ops::Range;

fn c(total: usize, parts: &[usize]) -> Constraint {
    Constraint {
        total,
        parts: parts.to_vec(),
    }
}

fn some(v: &[i64]) -> Vec<Option<i64>> {
    v.iter().map(|&x| Some(x)).collect()
}

fn flagged(flags: &[bool]) -> Vec<usize> {
    (0..flags.len()).filter(|&i| flags[i]).collect()
}

fn bounds_of(
    values: &[Option<i64>],
    suppressed: &[bool],
    constraints: &[Constraint],
    cell: usize,
) -> (f64, f64) {
    attacker_bounds(values, suppressed, constraints)
        .into_iter()
        .find(|&(c, _, _)| c == cell)
        .map(|(_, lo, hi)| (lo, hi))
        .expect("cell is hidden, so it has bounds")
}

/// An r×c table with row totals, column totals and a grand total. Layout: interior
/// row-major (`i * cols + j`), then row totals, then column totals, then the grand total.
/// Constraints: rows, columns, grand = Σ row totals, grand = Σ column totals.
fn table(interior: &[i64], rows: usize, cols: usize) -> (Vec<Option<i64>>, Vec<Constraint>) {
    let mut values = some(interior);
    let (rt, ct, g) = (rows * cols, rows * cols + rows, rows * cols + rows + cols);
    for i in 0..rows {
        values.push(Some((0..cols).map(|j| interior[i * cols + j]).sum()));
    }
    for j in 0..cols {
        values.push(Some((0..rows).map(|i| interior[i * cols + j]).sum()));
    }
    values.push(Some(interior.iter().sum()));
    let mut cons = Vec::new();
    for i in 0..rows {
        cons.push(c(
            rt + i,
            &(0..cols).map(|j| i * cols + j).collect::<Vec<_>>(),
        ));
    }
    for j in 0..cols {
        cons.push(c(
            ct + j,
            &(0..rows).map(|i| i * cols + j).collect::<Vec<_>>(),
        ));
    }
    cons.push(c(g, &(rt..rt + rows).collect::<Vec<_>>()));
    cons.push(c(g, &(ct..ct + cols).collect::<Vec<_>>()));
    (values, cons)
}

#[test]
fn primary_rule() {
    assert!(!is_primary(Some(0), 5), "zeros are published");
    assert!(is_primary(Some(1), 5) && is_primary(Some(4), 5));
    assert!(!is_primary(Some(5), 5));
    assert!(!is_primary(None, 5), "unknown cells need no protection");
    assert!(
        !is_primary(Some(1), 0) && !is_primary(Some(1), 1),
        "threshold 0 (and 1) disable"
    );
}

#[test]
fn nothing_small_nothing_suppressed() {
    let (values, cons) = table(&[5, 0, 12, 7, 0, 9], 2, 3);
    assert_eq!(
        suppress(&values, &cons, 5),
        vec![false; values.len()],
        "zeros stay visible"
    );
}

#[test]
fn threshold_zero_publishes_everything() {
    let (values, cons) = table(&[1, 2, 3, 4], 2, 2);
    assert_eq!(suppress(&values, &cons, 0), vec![false; values.len()]);
    assert!(is_protected(&values, &vec![false; values.len()], &cons, 0));
}

#[test]
fn one_row_prefers_the_smallest_part() {
    // K=3, M=10, T=13.
    let values = some(&[3, 10, 13]);
    let cons = vec![c(2, &[0, 1])];
    let flags = suppress(&values, &cons, 5);
    assert_eq!(
        flagged(&flags),
        vec![0, 1],
        "M is the only visible part, so it goes, not T"
    );
    assert!(is_protected(&values, &flags, &cons, 5));
    assert_eq!(bounds_of(&values, &flags, &cons, 0), (0.0, 13.0));
    assert!(
        !is_protected(&values, &[true, false, false], &cons, 5),
        "K alone is T − M"
    );
}

#[test]
fn zero_chosen_only_when_nothing_else() {
    // K=3, M=0, T=3: no non-zero part, so the total is hidden, not the zero.
    let values = some(&[3, 0, 3]);
    let cons = vec![c(2, &[0, 1])];
    let flags = suppress(&values, &cons, 5);
    assert_eq!(flagged(&flags), vec![0, 2]);
    assert!(is_protected(&values, &flags, &cons, 5));
}

#[test]
fn classic_two_by_two_needs_a_rectangle() {
    // a=2 b=10 | 12
    // c=7 d=9  | 16
    // 9   19   | 28
    let (values, cons) = table(&[2, 10, 7, 9], 2, 2);
    assert_eq!((values.len(), cons.len()), (9, 6));
    let flags = suppress(&values, &cons, 5);
    assert_eq!(
        flagged(&flags),
        vec![0, 1, 2, 3],
        "the interior rectangle, totals published"
    );
    assert!(is_protected(&values, &flags, &cons, 5));
    // a ∈ [max(0, C0 − R1), min(R0, C0)] = [0, 9].
    assert_eq!(bounds_of(&values, &flags, &cons, 0), (0.0, 9.0));

    // Hiding a and its row partner only: the first column gives a = 9 − 7.
    let naive = [true, true, false, false, false, false, false, false, false];
    assert_eq!(bounds_of(&values, &naive, &cons, 0), (2.0, 2.0));
    assert!(!is_protected(&values, &naive, &cons, 5));
    assert!(
        !is_protected(&values, &[false; 9], &cons, 5),
        "a visible primary is never protected"
    );
}

#[test]
fn audit_catches_what_the_heuristic_misses() {
    // x=2, y=7, z=9 with T1 = x+y = 9, T2 = y+z = 16, T3 = x+z = 11: every constraint
    // has two hidden cells after the heuristic (x, y, z), yet x = (T1 − T2 + T3) / 2.
    let values = some(&[2, 7, 9, 9, 16, 11]);
    let cons = vec![c(3, &[0, 1]), c(4, &[1, 2]), c(5, &[0, 2])];
    let heuristic_only = [true, true, true, false, false, false];
    assert_eq!(bounds_of(&values, &heuristic_only, &cons, 0), (2.0, 2.0));
    assert!(!is_protected(&values, &heuristic_only, &cons, 5));
    let flags = suppress(&values, &cons, 5);
    // The audit hides the smallest visible cell of a constraint touching x: T1 = 9.
    assert_eq!(flagged(&flags), vec![0, 1, 2, 3]);
    assert_eq!(bounds_of(&values, &flags, &cons, 0), (0.0, 11.0));
    assert!(is_protected(&values, &flags, &cons, 5));
}

#[test]
fn partner_falls_back_to_the_connected_group() {
    // a, b, A (row 0 and its total), c and B (column 0 and its total) hidden: every
    // constraint touching a is all hidden, yet a = G − C − (D − d) = 2. The partner then
    // comes from the group: d, C, D, G all leave no lone cell, d = 9 is the smallest.
    let (values, cons) = table(&[2, 10, 7, 9], 2, 2);
    let hidden = [true, true, true, false, true, false, true, false, false];
    assert_eq!(bounds_of(&values, &hidden, &cons, 0), (2.0, 2.0));
    assert_eq!(Table::new(&values, &cons).partner(0, &hidden), Some(3));
}

#[test]
fn ages_and_kon_hierarchy() {
    // Rows 16..=24 and the 16-24 band (row 9); cell = row * 3 + {K, M, T}.
    let k = [8, 2, 11, 9, 7, 12, 10, 6, 9];
    let m = [9, 7, 10, 8, 12, 6, 11, 13, 7];
    let mut values = Vec::new();
    for a in 0..9 {
        values.extend([Some(k[a]), Some(m[a]), Some(k[a] + m[a])]);
    }
    let (bk, bm): (i64, i64) = (k.iter().sum(), m.iter().sum());
    values.extend([Some(bk), Some(bm), Some(bk + bm)]);
    let mut cons: Vec<Constraint> = (0..10).map(|r| c(r * 3 + 2, &[r * 3, r * 3 + 1])).collect();
    for s in 0..3 {
        cons.push(c(27 + s, &(0..9).map(|a| a * 3 + s).collect::<Vec<_>>()));
    }
    let flags = suppress(&values, &cons, 5);
    // By hand: K17 = 2 is primary. Its row: M17 (the only part). Band K: every other K
    // would leave its row alone hidden, so the smallest, K23 = 6. Band M: M23 = 13 now
    // closes row 23 (opens no new group), preferred to the smaller M21 = 6. Rows 17 and
    // 23 and the two bands then have two hidden cells each; totals stay visible.
    let (k17, m17, k23, m23) = (3, 4, 21, 22);
    assert_eq!(flagged(&flags), vec![k17, m17, k23, m23]);
    assert!(is_protected(&values, &flags, &cons, 5));
    // K17 = 8 − K23 with K23 ∈ [0, 8] (band K minus the visible ages), and K17 ≤ T17 = 9.
    assert_eq!(bounds_of(&values, &flags, &cons, k17), (0.0, 8.0));
}

#[test]
fn unknown_input_cell() {
    // 2×2 with a unknown (its true 4 is in the totals), b=3 primary.
    let (mut values, cons) = table(&[4, 3, 10, 12], 2, 2);
    values[0] = None;
    let flags = suppress(&values, &cons, 5);
    assert!(flags[0], "unknown cells are not published");
    assert_eq!(flagged(&flags), vec![0, 1, 2, 3]);
    assert!(is_protected(&values, &flags, &cons, 5));
    let (lo, hi) = bounds_of(&values, &flags, &cons, 0);
    assert!(lo <= 4.0 && 4.0 <= hi);
    // A lone unknown needs no partner, and without a primary nothing else is hidden.
    let values = vec![Some(10), None, Some(10)];
    assert_eq!(
        suppress(&values, &[c(2, &[0, 1])], 5),
        vec![false, true, false]
    );
}

#[test]
fn lp_bounds_by_hand() {
    // x + y = 5 (S visible), x = z + 1 (z hidden, one visible): x ∈ [1, 5], y ∈ [0, 4].
    let values = some(&[2, 3, 1, 5, 1]);
    let cons = vec![c(3, &[0, 1]), c(0, &[2, 4])];
    let hidden = [true, true, true, false, false];
    let b = attacker_bounds(&values, &hidden, &cons);
    assert_eq!(b, vec![(0, 1.0, 5.0), (1, 0.0, 4.0), (2, 0.0, 4.0)]);

    // T = K + 3 with T and K hidden: K ∈ [0, ∞), T ∈ [3, ∞).
    let values = some(&[2, 3, 5]);
    let b = attacker_bounds(&values, &[true, false, true], &[c(2, &[0, 1])]);
    assert_eq!(b, vec![(0, 0.0, f64::INFINITY), (2, 3.0, f64::INFINITY)]);

    // A cell in no constraint is free.
    assert_eq!(
        attacker_bounds(&some(&[2]), &[true], &[]),
        vec![(0, 0.0, f64::INFINITY)]
    );

    // Real relaxation: x+y = y+z = x+z = 1 gives x = y = z = 1/2.
    let values = some(&[1, 0, 0, 1]);
    let cons = vec![c(3, &[0, 1]), c(3, &[1, 2]), c(3, &[0, 2])];
    let b = attacker_bounds(&values, &[true, true, true, false], &cons);
    assert_eq!(b, vec![(0, 0.5, 0.5), (1, 0.5, 0.5), (2, 0.5, 0.5)]);

    // Repeated constraints and a cell listed twice (T = 2a) are merged, not doubled.
    let values = some(&[3, 10, 13, 6]);
    let cons = vec![c(2, &[0, 1]), c(2, &[0, 1]), c(3, &[0, 0])];
    let b = attacker_bounds(&values, &[true, true, false, false], &cons);
    assert_eq!(b, vec![(0, 3.0, 3.0), (1, 10.0, 10.0)]);
}

#[test]
fn inconsistent_input_is_never_protected() {
    // T = 10 but M = 12: K would be −2, so the LP is infeasible.
    let values = some(&[3, 12, 10]);
    let cons = vec![c(2, &[0, 1])];
    let (lo, hi) = bounds_of(&values, &[true, false, false], &cons, 0);
    assert!(lo.is_nan() && hi.is_nan());
    assert!(!is_protected(&values, &[true, false, false], &cons, 5));
    // suppress still ends, hiding more rather than less.
    let flags = suppress(&values, &cons, 5);
    assert!(flags[0] && flags.iter().filter(|&&f| f).count() >= 2);
}

#[test]
fn criterion() {
    let ok = |lo: f64, hi: f64| interval_protects(lo, hi, 5);
    assert!(!ok(2.0, 2.0), "exact");
    assert!(!ok(1.0, 4.0), "inside [1, 4]");
    assert!(!ok(0.0, 1.0), "zero or one person");
    assert!(ok(0.0, 2.0));
    assert!(ok(3.0, 5.0) && ok(0.0, f64::INFINITY));
    assert!(!ok(0.5, 4.5), "integers: [1, 4]");
    assert!(!ok(4.999_999_9, 5.000_000_1), "integers: exactly 5");
    assert!(!ok(f64::NAN, f64::NAN));
}

#[test]
#[should_panic(expected = "refers to cell 7")]
fn bad_index_panics() {
    suppress(&some(&[1, 2]), &[c(7, &[0, 1])], 5);
}

/// SplitMix64: small, seeded, good enough for test tables.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

#[test]
fn random_tables_are_protected() {
    let mut rng = Rng(20_240_601);
    let mut secondary = 0;
    for round in 0..200 {
        let (rows, cols) = (2 + rng.below(3) as usize, 2 + rng.below(2) as usize);
        // Small values are frequent, so most tables have several primary cells.
        let interior: Vec<i64> = (0..rows * cols).map(|_| rng.below(13) as i64).collect();
        let (mut values, cons) = table(&interior, rows, cols);
        let truth = values.clone();
        if round % 4 == 0 {
            let cell = rng.below((rows * cols) as u64) as usize;
            values[cell] = None;
        }
        let threshold = [5, 5, 3, 4][round % 4];
        let flags = suppress(&values, &cons, threshold);
        assert_eq!(flags, suppress(&values, &cons, threshold), "deterministic");
        assert!(
            is_protected(&values, &flags, &cons, threshold),
            "round {round}: {values:?} {flags:?}"
        );
        for (i, v) in values.iter().enumerate() {
            assert!(
                flags[i] || (v.is_some() && !is_primary(*v, threshold)),
                "round {round}: cell {i}"
            );
        }
        // The LP is sound: the truth is always inside the attacker's interval.
        for (cell, lo, hi) in attacker_bounds(&values, &flags, &cons) {
            let t = truth[cell].map_or(0.0, |t| t as f64);
            assert!(
                lo - 1e-9 <= t && t <= hi + 1e-9,
                "round {round}: cell {cell} = {t} not in [{lo}, {hi}]"
            );
        }
        secondary += flags
            .iter()
            .zip(&values)
            .filter(|(f, v)| **f && v.is_some() && !is_primary(**v, threshold))
            .count();
    }
    assert!(secondary > 0);
}

#[test]
fn lp_matches_integer_enumeration_on_two_by_two() {
    // A 2×2 table with margins is totally unimodular: LP bounds are the integer bounds.
    // With the grand total visible every cell is ≤ it, so enumeration is exhaustive.
    let mut rng = Rng(99);
    for round in 0..20 {
        let interior: Vec<i64> = (0..4).map(|_| rng.below(6) as i64).collect();
        let (values, cons) = table(&interior, 2, 2);
        let mut hidden: Vec<bool> = (0..9).map(|_| rng.below(2) == 0).collect();
        hidden[8] = false;
        let known = |v: &[i64; 9]| (0..9).all(|i| hidden[i] || Some(v[i]) == values[i]);
        let g = values[8].unwrap_or(0);
        let mut range = [(i64::MAX, i64::MIN); 9];
        for code in 0..(g + 1).pow(4) {
            let x: Vec<i64> = (0..4).map(|k| code / (g + 1).pow(k) % (g + 1)).collect();
            let (r0, r1, c0, c1) = (x[0] + x[1], x[2] + x[3], x[0] + x[2], x[1] + x[3]);
            let v = [x[0], x[1], x[2], x[3], r0, r1, c0, c1, r0 + r1];
            if known(&v) {
                for (r, &vi) in range.iter_mut().zip(&v) {
                    *r = (r.0.min(vi), r.1.max(vi));
                }
            }
        }
        for (cell, lo, hi) in attacker_bounds(&values, &hidden, &cons) {
            let (ilo, ihi) = range[cell];
            assert_eq!(
                (lo, hi),
                (ilo as f64, ihi as f64),
                "round {round}: cell {cell}"
            );
        }
    }
}

/// Every (age, kön, category) in the ranges.
fn cube(ages: Range<usize>, kons: Range<usize>, cats: Range<usize>) -> Vec<(usize, usize, usize)> {
    let mut out = Vec::new();
    for a in ages {
        for k in kons.clone() {
            out.extend(cats.clone().map(|c| (a, k, c)));
        }
    }
    out
}

/// One measure of one kommun-month: 9 ages + the 16-24 band × K/M/T × (total + 5
/// categories), additive along all three; counts 0–14, so many are small. Cells start at
/// `base`.
fn measure_block(rng: &mut Rng, base: usize) -> (Vec<Option<i64>>, Vec<Constraint>) {
    let at = |age: usize, kon: usize, cat: usize| (age * 3 + kon) * 6 + cat;
    let mut v = vec![0i64; 180];
    for (age, kon, cat) in cube(0..9, 0..2, 1..6) {
        v[at(age, kon, cat)] = rng.below(15) as i64;
    }
    for (age, _, cat) in cube(0..9, 2..3, 1..6) {
        v[at(age, 2, cat)] = v[at(age, 0, cat)] + v[at(age, 1, cat)];
    }
    for (_, kon, cat) in cube(9..10, 0..3, 1..6) {
        v[at(9, kon, cat)] = (0..9).map(|a| v[at(a, kon, cat)]).sum();
    }
    for (age, kon, _) in cube(0..10, 0..3, 0..1) {
        v[at(age, kon, 0)] = (1..6).map(|cat| v[at(age, kon, cat)]).sum();
    }
    let at = |age, kon, cat| base + at(age, kon, cat);
    let mut cons = Vec::new();
    for (age, _, cat) in cube(0..10, 0..1, 0..6) {
        cons.push(c(at(age, 2, cat), &[at(age, 0, cat), at(age, 1, cat)]));
    }
    for (age, kon, _) in cube(0..10, 0..3, 0..1) {
        cons.push(c(
            at(age, kon, 0),
            &(1..6).map(|cat| at(age, kon, cat)).collect::<Vec<_>>(),
        ));
    }
    for (_, kon, cat) in cube(0..1, 0..3, 0..6) {
        cons.push(c(
            at(9, kon, cat),
            &(0..9).map(|a| at(a, kon, cat)).collect::<Vec<_>>(),
        ));
    }
    (some(&v), cons)
}

#[test]
fn kommun_sized_table_is_protected() {
    // 2 kommun-months × 8 measures.
    let mut rng = Rng(7);
    let (mut values, mut cons) = (Vec::new(), Vec::new());
    for _ in 0..16 {
        let (v, c) = measure_block(&mut rng, values.len());
        values.extend(v);
        cons.extend(c);
    }
    let flags = suppress(&values, &cons, 5);
    assert!(is_protected(&values, &flags, &cons, 5));
    let primary = values.iter().filter(|v| is_primary(**v, 5)).count();
    let hidden = flags.iter().filter(|f| **f).count();
    // 417 primary and 818 hidden in all: two thirds of the table stay published.
    assert!(
        primary > 400 && hidden < values.len() / 3,
        "{primary}, {hidden}"
    );
}
