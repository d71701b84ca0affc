//! A small dense simplex for `A x = b`, `x ≥ 0`, optimizing one variable at a time.
//!
//! Count tables give highly degenerate LPs (many zeros, many redundant constraints), on
//! which textbook pivoting stalls for thousands of pivots. So Gauss–Jordan elimination
//! drops redundant rows and gives the starting basis, and pivoting (Dantzig's rule) runs
//! on perturbed bounds `x ≥ −δ` (tiny distinct `δ_j`, i.e. right-hand side `b + Aδ`),
//! which leaves practically no ties. Values are read from the exact right-hand side,
//! carried along: the final basis is optimal for the exact problem when feasible for it
//! (checked; count-table vertices have small denominators, which δ does not cross).

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
