//! Small-count suppression of published tables (SPEC §6): which cells are published as
//! NULL, and the audit showing an attacker cannot recover them.
//!
//! A table is a slice of cells (`Some(count)`, or `None` = unknown, e.g. an agency's own
//! suppressed cell) plus additivity [`Constraint`]s `total = Σ parts`, which may overlap
//! (kön, breakdowns, age hierarchy). This module knows nothing of what the cells mean.
//!
//! # Method ([`suppress`])
//! 1. **Primary**: counts with `1 ≤ c < threshold` ([`is_primary`]); zeros are published.
//!    Unknown cells are not published either, but need no protection.
//! 2. **Group heuristic**, until stable: a constraint (total and parts as one group)
//!    whose only hidden cell is a suppressed one gives it away, so one more cell of the
//!    group is hidden: a non-zero part, else the total, a zero only if nothing else is
//!    left (a hidden zero is a weak partner); among those, the cell leaving the fewest
//!    other constraints with a lone hidden cell (closing rectangles rather than growing
//!    chains: 10–70 % fewer secondary cells on kön × age × category test tables, the
//!    more the rarer small counts are), then the smallest, then the lowest index.
//! 3. **Audit** ([`attacker_bounds`]): an attacker combines all constraints, so each
//!    primary cell's interval is computed by linear programming. In each connected group
//!    of hidden cells with an exposed primary cell, one visible cell of a constraint
//!    touching that cell (if none, of the group) is hidden, chosen in the order of 2.
//!    Back to 2 until every primary cell passes.
//!
//! Hiding a cell turns a constant into a variable, so the attacker's feasible set only
//! grows: an interval wide enough stays so, and only exposed cells are audited again.
//! Each round of 3 hides a cell, so the loop ends (at worst with a whole connected part
//! hidden, whose counts are then anywhere in `[0, ∞)`). Like τ-Argus' modular method or
//! SSBtools' GaussSuppression this is a deterministic heuristic, not an optimum.
//!
//! # Attacker and protection criterion ([`is_protected`])
//! The attacker knows the published cells, the constraints, and that counts are
//! non-negative integers: the LP interval `[lo, hi]` tightens to `L = ⌈lo⌉`, `H = ⌊hi⌋`.
//! A primary cell is protected when `H − L ≥ 1` (not determined) and `H ≥ threshold`
//! or `L = 0 ∧ H ≥ 2` (not confined to the suppressed range `[1, threshold − 1]`: it may
//! be a publishable count, or empty while spanning more than "nobody or one person").
//! This is an interval requirement like τ-Argus/sdcTable protection levels or SSBtools'
//! `rangeMin`, whose width for frequency tables follows here from the threshold rule.
//! Not modelled: contributors' knowledge of their own membership ("singletons"), or of
//! which hidden cells are primary.
//!
//! # Limits
//! The LP is a dense two-phase simplex with Bland's rule in `f64`, one per connected
//! group of hidden cells (within one kommun-month in practice), so cost follows the
//! largest group: a few hundred hidden cells per group are fine; 29 000 cells in 160
//! kommun-month measures take 0.01–0.13 s (release; ~10× in debug). Inconsistent input (published cells contradicting a
//! constraint with a hidden cell) makes an LP infeasible: NaN bounds count as exposed,
//! so such a group gets more suppression, never less.

/// One additivity constraint: `cells[total] = Σ cells[parts]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Constraint {
    /// Index of the total cell.
    pub total: usize,
    /// Indices of the cells that add up to the total.
    pub parts: Vec<usize>,
}

/// True when `value` is primary-suppressed under `threshold`: `1 ≤ value < threshold`.
/// Zeros and unknown cells never are; `threshold ≤ 1` (in particular 0) disables it.
pub fn is_primary(value: Option<i64>, threshold: i64) -> bool {
    matches!(value, Some(v) if v >= 1 && v < threshold)
}

/// Decides which cells to suppress. `values[i]` is the count of cell i (None = unknown).
/// Returns one flag per cell: true = suppress (primary or secondary). Cells that are None
/// are returned as true (they are not published either). Deterministic.
///
/// # Panics
/// If a constraint refers to a cell index `≥ values.len()` (a caller bug; dropping the
/// constraint silently could publish a recoverable count).
pub fn suppress(values: &[Option<i64>], constraints: &[Constraint], threshold: i64) -> Vec<bool> {
    let mut hidden: Vec<bool> = values
        .iter()
        .map(|v| v.is_none() || is_primary(*v, threshold))
        .collect();
    let mut pending: Vec<usize> = (0..values.len())
        .filter(|&i| is_primary(values[i], threshold))
        .collect();
    if pending.is_empty() {
        return hidden;
    }
    let table = Table::new(values, constraints);
    loop {
        table.heuristic(&mut hidden);
        pending = table
            .bounds(&hidden, &pending)
            .into_iter()
            .filter(|&(_, lo, hi)| !interval_protects(lo, hi, threshold))
            .map(|(cell, _, _)| cell)
            .collect();
        if pending.is_empty() {
            return hidden;
        }
        // One cell per connected group and round: groups are independent (other
        // kommun-months), and within one a single cell may cure several exposures.
        let mut marks = Marks::new(&table);
        let mut added = false;
        for &cell in &pending {
            if !marks.cell[cell] {
                let (_, group) = table.component(cell, &hidden, &mut marks);
                if let Some(c) = table.partner(cell, &group, &hidden) {
                    hidden[c] = true;
                    added = true;
                }
            }
        }
        if !added {
            // Everything connected to the exposed cells is hidden: only inconsistent
            // input or a numerical failure gets here, and nothing more can be done.
            return hidden;
        }
    }
}

/// For every hidden cell (flagged in `suppressed`, or `None` in `values`), the interval
/// `[lo, hi]` an attacker can derive for it from the published cells and the constraints
/// with all cells ≥ 0 (real relaxation, i.e. linear programming). Returns `(cell, lo, hi)`
/// in cell order; `hi` is `f64::INFINITY` when unbounded; both are NaN when the published
/// cells contradict the constraints. Having no threshold, it reports every hidden cell:
/// filter with [`is_primary`] for the primary ones.
///
/// # Panics
/// If a constraint refers to a cell index `≥ values.len()`.
pub fn attacker_bounds(
    values: &[Option<i64>],
    suppressed: &[bool],
    constraints: &[Constraint],
) -> Vec<(usize, f64, f64)> {
    let hidden = hidden_cells(values, suppressed);
    let targets: Vec<usize> = (0..values.len()).filter(|&i| hidden[i]).collect();
    Table::new(values, constraints).bounds(&hidden, &targets)
}

/// True when every primary cell (`1 ≤ v < threshold`) is suppressed and the attacker's
/// interval for it is neither exact nor inside `[1, threshold − 1]`: in integers,
/// `H − L ≥ 1` and (`H ≥ threshold`, or `L = 0` and `H ≥ 2`); see the module doc.
/// A `suppressed` shorter than `values` counts as false for the missing cells.
///
/// # Panics
/// If a constraint refers to a cell index `≥ values.len()`.
pub fn is_protected(
    values: &[Option<i64>],
    suppressed: &[bool],
    constraints: &[Constraint],
    threshold: i64,
) -> bool {
    let hidden = hidden_cells(values, suppressed);
    let primaries: Vec<usize> = (0..values.len())
        .filter(|&i| is_primary(values[i], threshold))
        .collect();
    primaries.iter().all(|&i| hidden[i])
        && Table::new(values, constraints)
            .bounds(&hidden, &primaries)
            .iter()
            .all(|&(_, lo, hi)| interval_protects(lo, hi, threshold))
}

fn interval_protects(lo: f64, hi: f64, threshold: i64) -> bool {
    // Slack so that an LP's 4.9999999 counts as 5.
    const TOL: f64 = 1e-6;
    if lo.is_nan() || hi.is_nan() {
        return false;
    }
    // The attacker knows counts are non-negative integers.
    let lo = (lo - TOL).ceil().max(0.0);
    let hi = (hi + TOL).floor();
    hi - lo >= 1.0 && (hi >= threshold as f64 || (lo == 0.0 && hi >= 2.0))
}

fn hidden_cells(values: &[Option<i64>], suppressed: &[bool]) -> Vec<bool> {
    values
        .iter()
        .enumerate()
        .map(|(i, v)| v.is_none() || suppressed.get(i).copied().unwrap_or(false))
        .collect()
}

/// A constraint as `Σ coef · cell = 0`, coefficients merged per cell (a cell listed twice,
/// or as total and part, must not count twice) and zeros dropped.
struct Eq {
    total: usize,
    terms: Vec<(usize, i64)>,
}

/// The table as the algorithms see it.
struct Table<'a> {
    values: &'a [Option<i64>],
    eqs: Vec<Eq>,
    /// For every cell, the constraints it appears in.
    by_cell: Vec<Vec<usize>>,
}

/// Hidden cells and the constraints linking them.
type Group = (Vec<usize>, Vec<usize>);

/// Visited flags for graph walks over cells and constraints.
struct Marks {
    cell: Vec<bool>,
    eq: Vec<bool>,
}

impl Marks {
    fn new(table: &Table) -> Self {
        let cell = vec![false; table.values.len()];
        Marks {
            cell,
            eq: vec![false; table.eqs.len()],
        }
    }
}

impl<'a> Table<'a> {
    fn new(values: &'a [Option<i64>], constraints: &[Constraint]) -> Self {
        let n = values.len();
        let mut eqs = Vec::with_capacity(constraints.len());
        let mut by_cell = vec![Vec::new(); n];
        for c in constraints {
            let mut terms: Vec<(usize, i64)> = std::iter::once((c.total, 1))
                .chain(c.parts.iter().map(|&p| (p, -1)))
                .collect();
            if let Some(&(cell, _)) = terms.iter().find(|&&(cell, _)| cell >= n) {
                panic!("suppression constraint refers to cell {cell} of a table with {n} cells");
            }
            terms.sort_unstable();
            terms.dedup_by(|next, kept| {
                next.0 == kept.0 && {
                    kept.1 += next.1;
                    true
                }
            });
            terms.retain(|&(_, coef)| coef != 0);
            if !terms.is_empty() {
                for &(cell, _) in &terms {
                    by_cell[cell].push(eqs.len());
                }
                eqs.push(Eq {
                    total: c.total,
                    terms,
                });
            }
        }
        Table {
            values,
            eqs,
            by_cell,
        }
    }

    /// The single hidden cell of constraint `e` when it has exactly one and that cell has
    /// a value (a lone unknown cell is not ours to protect).
    fn lone_suppressed(&self, e: usize, hidden: &[bool]) -> Option<usize> {
        let mut it = self.eqs[e].terms.iter().filter(|&&(c, _)| hidden[c]);
        match (it.next(), it.next()) {
            (Some(&(c, _)), None) if self.values[c].is_some() => Some(c),
            _ => None,
        }
    }

    /// How many constraints hiding visible `cell` would leave with `cell` as their only
    /// hidden cell: groups that would need a partner in turn.
    fn opens(&self, cell: usize, hidden: &[bool]) -> usize {
        let all_visible = |&e: &usize| self.eqs[e].terms.iter().all(|&(c, _)| !hidden[c]);
        self.by_cell[cell].iter().filter(|e| all_visible(e)).count()
    }

    /// Step 2 of the module doc.
    fn heuristic(&self, hidden: &mut [bool]) {
        let mut changed = true;
        while changed {
            changed = false;
            for (e, eq) in self.eqs.iter().enumerate() {
                if self.lone_suppressed(e, hidden).is_none() {
                    continue;
                }
                let pick = eq
                    .terms
                    .iter()
                    .filter(|&&(c, _)| !hidden[c])
                    .filter_map(|&(c, _)| {
                        let v = self.values[c]?;
                        Some((v == 0, c == eq.total, self.opens(c, hidden), v, c))
                    })
                    .min();
                if let Some((_, _, _, _, c)) = pick {
                    hidden[c] = true;
                    changed = true;
                }
            }
        }
    }

    /// The visible cell to hide for exposed `cell` in its connected `group` of
    /// constraints: non-zero before zero, then fewest [`Table::opens`], smallest, lowest
    /// index; from the constraints touching `cell` if they have one, else from `group`.
    fn partner(&self, cell: usize, group: &[usize], hidden: &[bool]) -> Option<usize> {
        let pick = |eqs: &[usize]| {
            let terms = eqs.iter().flat_map(|&e| &self.eqs[e].terms);
            let visible =
                terms.filter_map(|&(c, _)| Some((self.values[c].filter(|_| !hidden[c])?, c)));
            let key = |(v, c)| (v == 0, self.opens(c, hidden), v, c);
            visible.map(key).min().map(|k| k.3)
        };
        pick(&self.by_cell[cell]).or_else(|| pick(group))
    }

    /// The hidden cells connected to `start` through constraints, and those constraints
    /// (the attacker's LP for any of these cells needs exactly these). Marks them.
    fn component(&self, start: usize, hidden: &[bool], marks: &mut Marks) -> Group {
        let (mut cells, mut group) = (Vec::new(), Vec::new());
        let mut stack = vec![start];
        while let Some(c) = stack.pop() {
            if std::mem::replace(&mut marks.cell[c], true) {
                continue;
            }
            cells.push(c);
            for &e in &self.by_cell[c] {
                if !std::mem::replace(&mut marks.eq[e], true) {
                    group.push(e);
                    let more = self.eqs[e].terms.iter().map(|&(t, _)| t);
                    stack.extend(more.filter(|&t| hidden[t] && !marks.cell[t]));
                }
            }
        }
        (cells, group)
    }

    /// LP bounds for hidden `targets`, one LP per connected group: groups share no
    /// variable, so this gives the same bounds with small tableaus, and an inconsistency
    /// stays in its own group. Sorted by cell.
    fn bounds(&self, hidden: &[bool], targets: &[usize]) -> Vec<(usize, f64, f64)> {
        let mut is_target = vec![false; self.values.len()];
        targets.iter().for_each(|&t| is_target[t] = true);
        let mut marks = Marks::new(self);
        let mut out = Vec::with_capacity(targets.len());
        for &t in targets.iter().filter(|&&t| hidden[t]) {
            if marks.cell[t] {
                continue;
            }
            let (mut cells, group) = self.component(t, hidden, &mut marks);
            cells.sort_unstable();
            let var = |c: usize| cells.binary_search(&c).ok();
            let mut rows = Vec::with_capacity(group.len());
            for &e in &group {
                let (mut coefs, mut rhs) = (Vec::new(), 0.0);
                for &(c, coef) in &self.eqs[e].terms {
                    match (self.values[c], var(c)) {
                        (Some(v), _) if !hidden[c] => rhs -= coef as f64 * v as f64,
                        (_, Some(j)) => coefs.push((j, coef as f64)),
                        // Cannot happen (a group holds its constraints' hidden cells);
                        // NaN bounds (exposed) would follow, never wrong ones.
                        (_, None) => rhs = f64::NAN,
                    }
                }
                rows.push((coefs, rhs));
            }
            let mut lp = lp::Tableau::feasible(cells.len(), &rows);
            for (j, &c) in cells.iter().enumerate().filter(|&(_, &c)| is_target[c]) {
                let (lo, hi) = lp.as_mut().map_or((f64::NAN, f64::NAN), |tab| tab.range(j));
                out.push((c, lo, hi));
            }
        }
        out.sort_by_key(|&(cell, _, _)| cell);
        out
    }
}

/// A small dense simplex for `A x = b`, `x ≥ 0`, optimizing one variable at a time.
mod lp {
    /// Pivot and reduced-cost tolerance (coefficients are ±1, values are counts).
    const EPS: f64 = 1e-9;

    /// A tableau in canonical form for a feasible basis.
    pub(super) struct Tableau {
        n: usize,
        a: Vec<Vec<f64>>,
        b: Vec<f64>,
        basis: Vec<usize>,
    }

    impl Tableau {
        /// Phase 1 for `rows` (sparse `(variable, coefficient)` lists, right-hand side)
        /// over `n` variables. `None` when infeasible (or when the solver gave up).
        pub(super) fn feasible(n: usize, rows: &[(Vec<(usize, f64)>, f64)]) -> Option<Tableau> {
            let m = rows.len();
            let mut tab = Tableau {
                n: n + m,
                a: vec![vec![0.0; n + m]; m],
                b: vec![0.0; m],
                basis: (n..n + m).collect(),
            };
            for (i, (coefs, rhs)) in rows.iter().enumerate() {
                // One artificial per row; they need b ≥ 0.
                let sign = if *rhs < 0.0 { -1.0 } else { 1.0 };
                for &(j, c) in coefs {
                    tab.a[i][j] += sign * c;
                }
                tab.a[i][n + i] = 1.0;
                tab.b[i] = sign * rhs;
            }
            let tolerance = 1e-6 * (1.0 + tab.b.iter().sum::<f64>());
            let cost: Vec<f64> = (0..n + m).map(|j| if j < n { 0.0 } else { 1.0 }).collect();
            let residual = tab.optimize(&cost);
            if residual.is_nan() || residual > tolerance {
                return None;
            }
            // Drive the artificials (all at 0) out of the basis; a row where no real
            // variable can replace one is a combination of the others and goes.
            let kept: Vec<usize> = (0..m)
                .filter(|&r| {
                    if tab.basis[r] < n {
                        return true;
                    }
                    let Some(j) = (0..n).find(|&j| tab.a[r][j].abs() > EPS) else {
                        return false;
                    };
                    tab.pivot(r, j);
                    true
                })
                .collect();
            tab.a = kept
                .iter()
                .map(|&r| std::mem::take(&mut tab.a[r]))
                .collect();
            // Within phase 1's tolerance a right-hand side may sit a hair below 0.
            tab.b = kept.iter().map(|&r| tab.b[r].max(0.0)).collect();
            tab.basis = kept.iter().map(|&r| tab.basis[r]).collect();
            tab.a.iter_mut().for_each(|row| row.truncate(n));
            tab.n = n;
            Some(tab)
        }

        /// Smallest and largest feasible value of variable `j` (largest infinite when
        /// unbounded, NaN when the solver gave up).
        pub(super) fn range(&mut self, j: usize) -> (f64, f64) {
            let hi = -self.optimize(&self.unit(j, -1.0));
            // At 0 in the current feasible point, and 0 is its floor.
            let lo = match self.basis.iter().position(|&bv| bv == j) {
                Some(r) if self.b[r] > EPS => self.optimize(&self.unit(j, 1.0)),
                _ => 0.0,
            };
            (snap(lo), snap(hi))
        }

        fn unit(&self, j: usize, c: f64) -> Vec<f64> {
            let mut cost = vec![0.0; self.n];
            cost[j] = c;
            cost
        }

        /// Minimizes `cost · x` from the current basis with Bland's rule (lowest entering
        /// index; ratio ties to the lowest basic index), which cannot cycle. Returns the
        /// minimum, -∞ when unbounded, NaN when out of its pivot budget (which only
        /// guards against floating-point surprises).
        fn optimize(&mut self, cost: &[f64]) -> f64 {
            let mut d = cost.to_vec();
            for (row, &bv) in self.a.iter().zip(&self.basis) {
                if cost[bv] != 0.0 {
                    d.iter_mut()
                        .zip(row)
                        .for_each(|(dj, &aij)| *dj -= cost[bv] * aij);
                }
            }
            for _ in 0..50 * (self.n + self.a.len()) + 1000 {
                let Some(col) = d.iter().position(|&dj| dj < -EPS) else {
                    let value = self
                        .basis
                        .iter()
                        .zip(&self.b)
                        .map(|(&bv, &bi)| cost[bv] * bi);
                    return value.sum();
                };
                let mut leave: Option<(f64, usize)> = None;
                for (r, row) in self.a.iter().enumerate() {
                    if row[col] > EPS {
                        let ratio = self.b[r] / row[col];
                        let better = leave.is_none_or(|(best, lr)| {
                            ratio < best - EPS
                                || (ratio <= best + EPS && self.basis[r] < self.basis[lr])
                        });
                        if better {
                            leave = Some((ratio, r));
                        }
                    }
                }
                let Some((_, r)) = leave else {
                    return f64::NEG_INFINITY;
                };
                self.pivot(r, col);
                let f = d[col];
                d.iter_mut()
                    .zip(&self.a[r])
                    .for_each(|(dj, &arj)| *dj -= f * arj);
                d[col] = 0.0;
            }
            f64::NAN
        }

        fn pivot(&mut self, r: usize, col: usize) {
            let p = self.a[r][col];
            self.a[r].iter_mut().for_each(|v| *v /= p);
            self.b[r] /= p;
            let (pivot_row, pivot_b) = (self.a[r].clone(), self.b[r]);
            // Constraint rows are sparse: only the pivot row's non-zeros change others.
            let nz: Vec<usize> = (0..pivot_row.len())
                .filter(|&k| pivot_row[k] != 0.0)
                .collect();
            // Flushing round-off keeps zeros zero.
            let flush = |v: f64| if v.abs() < 1e-12 { 0.0 } else { v };
            for (i, row) in self.a.iter_mut().enumerate() {
                let f = row[col];
                if i != r && f != 0.0 {
                    for &k in &nz {
                        row[k] = flush(row[k] - f * pivot_row[k]);
                    }
                    row[col] = 0.0;
                    self.b[i] = flush(self.b[i] - f * pivot_b);
                }
            }
            self.basis[r] = col;
        }
    }

    /// Snaps near-integers (the usual result: such tables are mostly totally
    /// unimodular) and turns -0 into 0.
    fn snap(x: f64) -> f64 {
        let r = x.round();
        if (x - r).abs() < 1e-7 { r + 0.0 } else { x }
    }
}

#[cfg(test)]
#[path = "suppression_tests.rs"]
mod tests;
