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
//! 4. **Undo**: partners chosen one at a time often make earlier ones redundant, so the
//!    secondary cells are tried again, largest count first (at most 64): one is shown
//!    when every primary cell linked to it stays protected by the LP of 3.
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

/// Secondary cells step 4 tries to show again, per table (a kommun-month).
const UNDO_TRIES: usize = 64;

/// Changes whenever the method picks different cells for the same table, so published
/// sets made by an earlier method are recomputed (`publish::state`).
pub const METHOD_REVISION: u32 = 3;

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
            break;
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
    table.show_unneeded(&mut hidden, threshold);
    hidden
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

/// True when some non-negative values of the hidden cells satisfy every constraint
/// together with the published cells (the published table is consistent with them).
pub fn consistent(values: &[Option<i64>], suppressed: &[bool], constraints: &[Constraint]) -> bool {
    let hidden = hidden_cells(values, suppressed);
    let table = Table::new(values, constraints);
    let mut seen = vec![false; values.len()];
    // Constraints without a hidden cell must hold as they are.
    let visible_ok = table.eqs.iter().all(|eq| {
        eq.terms.iter().any(|&(c, _)| hidden[c])
            || eq
                .terms
                .iter()
                .map(|&(c, k)| k * values[c].unwrap_or(0))
                .sum::<i64>()
                == 0
    });
    visible_ok
        && (0..values.len()).filter(|&c| hidden[c]).all(|c| {
            seen[c] || {
                let (mut cells, group) = table.component(c, &hidden, &mut seen);
                cells.sort_unstable();
                let (rows, complete) = table.lp_rows(&cells, &group, &hidden);
                complete && lp::Tableau::feasible(cells.len(), &rows).is_some()
            }
        })
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
    let Some((lo, hi)) = whole_bounds(lo, hi) else {
        return false;
    };
    let hi = hi.unwrap_or(i64::MAX);
    hi - lo >= 1 && (hi >= threshold || (lo == 0 && hi >= 2))
}

/// LP bounds as the attacker reads them, counts being non-negative integers: rounded
/// inwards, with slack so that an LP's 4.9999999 counts as 5; `hi` None when unbounded,
/// None altogether when the bounds are NaN (the constraints contradict the cells).
pub fn whole_bounds(lo: f64, hi: f64) -> Option<(i64, Option<i64>)> {
    const TOL: f64 = 1e-6;
    if lo.is_nan() || hi.is_nan() {
        return None;
    }
    Some((
        (lo - TOL).ceil().max(0.0) as i64,
        hi.is_finite().then(|| (hi + TOL).floor() as i64),
    ))
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

    /// Step 4 of the module doc: shows again, largest count first, each secondary cell
    /// whose hiding the primary cells connected to it no longer need (the heuristic adds
    /// partners one at a time, so an early one is often made redundant by later ones).
    /// At most [`UNDO_TRIES`] cells are tried, which bounds the extra LPs.
    fn show_unneeded(&self, hidden: &mut [bool], threshold: i64) {
        let mut secondary: Vec<usize> = (0..hidden.len())
            .filter(|&c| {
                hidden[c] && self.values[c].is_some_and(|v| !is_primary(Some(v), threshold))
            })
            .collect();
        secondary.sort_by_key(|&c| (std::cmp::Reverse(self.values[c]), c));
        for c in secondary.into_iter().take(UNDO_TRIES) {
            hidden[c] = false;
            // Only primaries linked to c's constraints can lose protection by showing it.
            let mut seen = vec![false; hidden.len()];
            let mut affected = Vec::new();
            for &e in &self.by_cell[c] {
                for &(t, _) in &self.eqs[e].terms {
                    if hidden[t] && !seen[t] {
                        let (cells, _) = self.component(t, hidden, &mut seen);
                        affected.extend(
                            cells
                                .into_iter()
                                .filter(|&x| is_primary(self.values[x], threshold)),
                        );
                    }
                }
            }
            let still = self
                .bounds(hidden, &affected)
                .iter()
                .all(|&(_, lo, hi)| interval_protects(lo, hi, threshold));
            if !still {
                hidden[c] = true;
            }
        }
    }

    /// The equations of constraints `group` over the hidden `cells` (sorted; variable j
    /// is `cells[j]`), published cells moved to the right-hand side. False when a
    /// constraint has a hidden cell outside `cells`: a group holds its constraints'
    /// hidden cells, and were one missing the bounds would be unknown (NaN: exposed),
    /// never wrong.
    fn lp_rows(&self, cells: &[usize], group: &[usize], hidden: &[bool]) -> (Vec<lp::Row>, bool) {
        let mut complete = true;
        let rows = group
            .iter()
            .map(|&e| {
                let (mut coefs, mut rhs) = (Vec::new(), 0.0);
                for &(c, coef) in &self.eqs[e].terms {
                    match (self.values[c], cells.binary_search(&c).ok()) {
                        (Some(v), _) if !hidden[c] => rhs -= coef as f64 * v as f64,
                        (_, Some(j)) => coefs.push((j, coef as f64)),
                        (_, None) => complete = false,
                    }
                }
                (coefs, rhs)
            })
            .collect();
        (rows, complete)
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
            let (rows, complete) = self.lp_rows(&cells, &group, hidden);
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

#[path = "lp.rs"]
mod lp;

#[cfg(test)]
#[path = "suppression_tests.rs"]
mod tests;
