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
//!    whose only hidden cell is a suppressed one gives it away, so one more cell of it
//!    is hidden: a non-zero part, else the total, a zero only if nothing else is left
//!    (a weak partner); among those, the one leaving the fewest other constraints with a
//!    lone hidden cell (it closes rectangles instead of growing chains: 10–70 % fewer
//!    secondary cells on test tables), then the smallest, then the lowest index.
//! 3. **Audit** ([`attacker_bounds`]): an attacker combines all constraints, so each
//!    primary cell's interval is computed by linear programming. For every exposed one,
//!    a visible cell of a constraint touching it (if none, of its connected group) is
//!    hidden, chosen as in 2. Back to 2 until every primary cell passes.
//!
//! Hiding a cell turns a constant into a variable, so the attacker's feasible set only
//! grows: a cell once protected stays so. Each round of 3 hides a cell, so the loop
//! ends, at worst with a connected part all hidden (its counts anywhere in `[0, ∞)`).
//! Like τ-Argus' modular method or SSBtools' GaussSuppression, a deterministic
//! heuristic, not an optimum.
//!
//! # Attacker and protection criterion ([`is_protected`])
//! The attacker knows the published cells, the constraints, and that counts are
//! non-negative integers: the LP interval `[lo, hi]` tightens to `L = ⌈lo⌉`, `H = ⌊hi⌋`.
//! A primary cell is protected when `H − L ≥ 1` (not determined) and `H ≥ threshold`
//! or `L = 0 ∧ H ≥ 2` (not confined to the suppressed range `[1, threshold − 1]`: it may
//! be a publishable count, or empty while spanning more than "nobody or one person").
//! An interval requirement like τ-Argus/sdcTable protection levels or SSBtools'
//! `rangeMin`, its width here following from the threshold rule. Not modelled:
//! contributors' knowledge of their own membership, or of which cells are primary.
//!
//! # Limits
//! One LP system per connected group of hidden cells (within a kommun-month in
//! practice): cost follows the largest group. 29 000 cells in 160 measure blocks take
//! 0.01–0.13 s, one group of 800 hidden cells ~1.5 s (release; debug 5–10×).
//! Inconsistent input (published cells contradicting a constraint) makes an LP
//! infeasible: NaN bounds count as exposed, so such a group gets more suppression.

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
        // A partner for every exposed cell: one per group and round instead hides more
        // in the end (a partner that helps one cell rarely helps the next) and needs
        // many more rounds.
        let mut added = false;
        for &cell in &pending {
            if let Some(c) = table.partner(cell, &hidden) {
                hidden[c] = true;
                added = true;
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

    /// The visible cell to hide for exposed `cell`: non-zero before zero, then fewest
    /// [`Table::opens`], smallest, lowest index; from the constraints touching `cell` if
    /// they have one, else from all constraints of its connected group.
    fn partner(&self, cell: usize, hidden: &[bool]) -> Option<usize> {
        let pick = |eqs: &[usize]| {
            let terms = eqs.iter().flat_map(|&e| &self.eqs[e].terms);
            let visible =
                terms.filter_map(|&(c, _)| Some((self.values[c].filter(|_| !hidden[c])?, c)));
            let key = |(v, c)| (v == 0, self.opens(c, hidden), v, c);
            visible.map(key).min().map(|k| k.3)
        };
        pick(&self.by_cell[cell]).or_else(|| {
            pick(
                &self
                    .component(cell, hidden, &mut vec![false; hidden.len()])
                    .1,
            )
        })
    }

    /// The hidden cells connected to `start` through constraints, and those constraints
    /// (the attacker's LP for any of these cells needs exactly these). Marks the cells.
    fn component(&self, start: usize, hidden: &[bool], seen: &mut [bool]) -> Group {
        let (mut cells, mut group, mut stack) = (Vec::new(), Vec::new(), vec![start]);
        while let Some(c) = stack.pop() {
            if std::mem::replace(&mut seen[c], true) {
                continue;
            }
            cells.push(c);
            for &e in &self.by_cell[c] {
                let linked = self.eqs[e]
                    .terms
                    .iter()
                    .map(|&(t, _)| t)
                    .filter(|&t| hidden[t]);
                // Each constraint joins once: from its first hidden cell.
                if linked.clone().next() == Some(c) {
                    group.push(e);
                }
                stack.extend(linked.filter(|&t| !seen[t]));
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
        let mut seen = vec![false; self.values.len()];
        let mut out = Vec::with_capacity(targets.len());
        for &t in targets.iter().filter(|&&t| hidden[t]) {
            if seen[t] {
                continue;
            }
            let (mut cells, group) = self.component(t, hidden, &mut seen);
            cells.sort_unstable();
            let var = |c: usize| cells.binary_search(&c).ok();
            let mut rows = Vec::with_capacity(group.len());
            // A group holds its constraints' hidden cells; were one missing, the bounds
            // would be unknown (NaN: exposed), never wrong.
            let mut complete = true;
            for &e in &group {
                let (mut coefs, mut rhs) = (Vec::new(), 0.0);
                for &(c, coef) in &self.eqs[e].terms {
                    match (self.values[c], var(c)) {
                        (Some(v), _) if !hidden[c] => rhs -= coef as f64 * v as f64,
                        (_, Some(j)) => coefs.push((j, coef as f64)),
                        (_, None) => complete = false,
                    }
                }
                rows.push((coefs, rhs));
            }
            let mut lp = lp::Tableau::feasible(cells.len(), &rows).filter(|_| complete);
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
///
/// Count tables give highly degenerate LPs (many zeros, many redundant constraints), on
/// which textbook pivoting stalls for thousands of pivots. So Gauss–Jordan elimination
/// drops redundant rows and gives the starting basis, and pivoting (Dantzig's rule) runs
/// on perturbed bounds `x ≥ −δ` (tiny distinct `δ_j`, i.e. right-hand side `b + Aδ`),
/// which leaves practically no ties. Values are read from the exact right-hand side,
/// carried along: the final basis is optimal for the exact problem when feasible for it
/// (checked; count-table vertices have small denominators, which δ does not cross).
mod lp {
    /// Pivot and reduced-cost tolerance (coefficients are ±1, values are counts).
    const EPS: f64 = 1e-9;

    /// One equation: sparse `(variable, coefficient)` list and right-hand side.
    pub(super) type Row = (Vec<(usize, f64)>, f64);

    /// A tableau in canonical form for a feasible basis.
    pub(super) struct Tableau {
        a: Vec<Vec<f64>>,
        /// Perturbed right-hand side: drives the pivoting.
        b: Vec<f64>,
        /// Exact right-hand side: gives the values.
        exact: Vec<f64>,
        basis: Vec<usize>,
    }

    /// Perturbation of variable `j`'s bound: distinct, deterministic, ~1e-6.
    fn delta(j: usize) -> f64 {
        1e-6 * (1.0 + (j as f64 * 0.618_033_988_749_895).fract())
    }

    /// The cost vector `c · x_j` over `n` variables.
    fn unit(n: usize, j: usize, c: f64) -> Vec<f64> {
        let mut cost = vec![0.0; n];
        cost[j] = c;
        cost
    }

    impl Tableau {
        /// A feasible basis for `rows` over `n` variables; `None` when infeasible (or
        /// when the solver gave up).
        pub(super) fn feasible(n: usize, rows: &[Row]) -> Option<Tableau> {
            // Column n is the phase-1 artificial.
            let (a, b, exact, basis) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
            let mut tab = Tableau { a, b, exact, basis };
            for (coefs, rhs) in rows {
                let mut row = vec![0.0; n + 1];
                coefs.iter().for_each(|&(j, c)| row[j] += c);
                let mut b = rhs + coefs.iter().map(|&(j, c)| c * delta(j)).sum::<f64>();
                let mut exact = *rhs;
                // Reduce by the rows so far, whose basic columns are unit columns.
                for (k, row_k) in tab.a.iter().enumerate() {
                    let f = row[tab.basis[k]];
                    if f != 0.0 {
                        row.iter_mut().zip(row_k).for_each(|(x, &y)| *x -= f * y);
                        (b, exact) = (b - f * tab.b[k], exact - f * tab.exact[k]);
                    }
                }
                let largest = (0..n).max_by(|&x, &y| row[x].abs().total_cmp(&row[y].abs()));
                match largest.filter(|&p| row[p].abs() > 1e-6) {
                    Some(p) => {
                        tab.a.push(row);
                        tab.b.push(b);
                        tab.exact.push(exact);
                        tab.basis.push(p);
                        tab.pivot(tab.a.len() - 1, p);
                    }
                    // A combination of earlier rows: redundant, or contradicting them.
                    None if exact.abs() > 1e-6 * (1.0 + rhs.abs()) => return None,
                    None => {}
                }
            }
            // Phase 1 with one artificial: −1 in every row with a negative value, pivoted
            // in at the most negative one, makes every value ≥ 0; then minimize it.
            let worst = (0..tab.b.len()).min_by(|&x, &y| tab.b[x].total_cmp(&tab.b[y]));
            if let Some(r0) = worst.filter(|&r| tab.b[r] < 0.0) {
                for r in 0..tab.b.len() {
                    tab.a[r][n] = if tab.b[r] < 0.0 { -1.0 } else { 0.0 };
                }
                tab.pivot(r0, n);
                let residual = tab.optimize(&unit(n + 1, n, 1.0));
                let tolerance = 1e-6 * (1.0 + tab.b.iter().map(|x| x.abs()).sum::<f64>());
                if residual.is_nan() || residual > tolerance {
                    return None;
                }
                // Still basic (at 0): swap it for any real variable of its row.
                if let Some(r) = tab.basis.iter().position(|&bv| bv == n) {
                    let j = (0..n).find(|&j| tab.a[r][j].abs() > EPS)?;
                    tab.pivot(r, j);
                }
            }
            tab.a.iter_mut().for_each(|row| row.truncate(n));
            // Within phase 1's tolerance a value may sit a hair below 0.
            tab.b.iter_mut().for_each(|x| *x = x.max(0.0));
            Some(tab)
        }

        /// Smallest and largest feasible value of variable `j` (largest infinite when
        /// unbounded, NaN when the solver gave up).
        pub(super) fn range(&mut self, j: usize) -> (f64, f64) {
            let n = self.a.first().map_or(j + 1, Vec::len);
            let hi = match self.optimize(&unit(n, j, -1.0)) {
                f64::NEG_INFINITY => f64::INFINITY,
                v if v.is_nan() => v,
                _ => self.value(j),
            };
            let lo = match self.optimize(&unit(n, j, 1.0)) {
                v if v.is_nan() => v,
                _ => self.value(j),
            };
            (lo, hi)
        }

        /// Exact value of variable `j` in the current basis; NaN when that basis is not
        /// feasible for the exact problem.
        fn value(&self, j: usize) -> f64 {
            if self.exact.iter().any(|&x| x < -1e-6) {
                return f64::NAN;
            }
            let row = self.basis.iter().position(|&bv| bv == j);
            // Snap near-integers (the usual vertex) and turn -0 into 0.
            let x = row.map_or(0.0, |r| self.exact[r]);
            if (x - x.round()).abs() < 1e-7 {
                x.round() + 0.0
            } else {
                x
            }
        }

        /// Minimizes `cost · x` (perturbed) from the current basis with Dantzig's rule;
        /// Bland's rule (lowest index in, ratio ties to the lowest basic index), which
        /// cannot cycle, takes over on a run of degenerate pivots. Returns the minimum,
        /// -∞ when unbounded, NaN when out of the pivot budget (a guard against
        /// floating-point surprises only).
        fn optimize(&mut self, cost: &[f64]) -> f64 {
            let mut d = cost.to_vec();
            for (row, &bv) in self.a.iter().zip(&self.basis) {
                if cost[bv] != 0.0 {
                    d.iter_mut()
                        .zip(row)
                        .for_each(|(dj, &aij)| *dj -= cost[bv] * aij);
                }
            }
            let mut degenerate = 0;
            for _ in 0..50 * (d.len() + self.a.len()) + 1000 {
                let candidates = d.iter().enumerate().filter(|&(_, &dj)| dj < -EPS);
                let entering = if degenerate < 20 {
                    candidates.min_by(|x, y| x.1.total_cmp(y.1))
                } else {
                    candidates.min_by_key(|&(j, _)| j)
                };
                let Some((col, _)) = entering else {
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
                let Some((ratio, r)) = leave else {
                    return f64::NEG_INFINITY;
                };
                degenerate = if ratio <= EPS { degenerate + 1 } else { 0 };
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
            (self.b[r], self.exact[r]) = (self.b[r] / p, self.exact[r] / p);
            let (pivot_row, pb, pe) = (self.a[r].clone(), self.b[r], self.exact[r]);
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
                    self.b[i] -= f * pb;
                    self.exact[i] = flush(self.exact[i] - f * pe);
                }
            }
            self.basis[r] = col;
        }
    }
}

#[cfg(test)]
#[path = "suppression_tests.rs"]
mod tests;
