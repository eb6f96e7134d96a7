//! Slacks-based measure (SBM) of efficiency with undesirable outputs.
//!
//! Tone (2001, EJOR 130, 498–509) SBM; bad outputs as in Tone (2004) and Cooper, Seiford and
//! Tone (2007, *Data Envelopment Analysis*, 2nd ed., §13.4): non-oriented, for DMU `o` with
//! inputs `x` (m), good outputs `y` (s1) and bad outputs `b` (s2), `K = s1 + s2`,
//!
//! ```text
//! rho* = min [1 - (1/m) sum_i s-_i / x_io] / [1 + (1/K)(sum_r sg_r / y_ro + sum_r sb_r / b_ro)]
//!        s.t. x_o = X lam + s-,  y_o = Y lam - sg,  b_o = B lam + sb,  lam, s >= 0
//!        (VRS: sum lam = 1),
//! ```
//! linearised by Charnes–Cooper (`t` = 1/denominator, `Lam = t lam`, `S = t s`). Slacks enter
//! the LP divided by the DMU's own value (`u_i = S-_i / x_io`, …), so every row is scaled
//! around one: the simplex in [`super::lp`] relies on that.
//!
//! Super-efficiency (Tone 2002, EJOR 143, 32–41; with bad outputs as in the "Super-SBM-
//! Undesirable" model): for a DMU with `rho* = 1` (or outside the reference technology)
//!
//! ```text
//! delta* = min [1 + (1/m) sum_i s-_i / x_io] / [1 - (1/K)(sum_r sg_r / y_ro + sum_r sb_r / b_ro)]
//!          s.t. X lam <= x_o + s-,  Y lam >= y_o - sg,  B lam <= b_o + sb,
//!               0 <= sg_r <= y_ro,  lam, s >= 0  (VRS: sum lam = 1),
//! ```
//! over the reference set without `o`. `delta* >= 1`; it can be infeasible under VRS with bad
//! outputs (no reference mix keeps the denominator positive): then the score is NaN with
//! status `infeasible`, never a silent number.
//!
//! Good:bad weighting (Tone 2003, GRIPS Research Report I-2003-0005, eq. 43): the output
//! terms of both denominators carry weights, `(1/K)(w_g sum_r sg_r / y_ro + w_b sum_r sb_r /
//! b_ro)`, normalised so that the weights of all outputs sum to `K` (`s1 w_g + s2 w_b = K`).
//! The user gives the ratio `bad_weight = w_b / w_g` ("good:bad = 1:bad_weight"), so
//! `w_g = K / (s1 + s2 bad_weight)`, `w_b = bad_weight w_g`; `bad_weight = 1` gives
//! `w_g = w_b = 1` exactly, the unweighted model above. The non-separable model of Tone
//! (2003, section 5) is not offered.
//!
//! Data rule: every input and output must be finite and strictly positive (the model divides
//! by them). A zero or negative value is an error naming the column and the unit-year; so is a
//! unit-year whose inputs and outputs are all zero.

// Index loops over small dense arrays (rows x columns) read best as written.
#![allow(clippy::needless_range_loop)]

use rayon::prelude::*;

use super::lp::{solve, Lp, LpSolution, LpStatus, Workspace};
use crate::error::Error;
use crate::interrupt::Cancel;

/// Returns to scale.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rts {
    Crs,
    Vrs,
}

impl Rts {
    /// "crs" or "vrs".
    pub fn parse(s: &str) -> Result<Self, Error> {
        match s {
            "crs" => Ok(Rts::Crs),
            "vrs" => Ok(Rts::Vrs),
            _ => Err(Error::Option {
                name: "rts".into(),
                reason: format!("{s:?}: expected \"crs\" or \"vrs\""),
            }),
        }
    }
}

/// Reference set: all DMUs of the same period, or all DMUs of all periods.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Frontier {
    Contemporaneous,
    Global,
}

impl Frontier {
    /// "contemporaneous" or "global" (option `frontier`).
    pub fn parse(s: &str) -> Result<Self, Error> {
        Self::parse_option(s, "frontier")
    }

    /// As [`Frontier::parse`], naming `option` in the error (the ML index calls it `kind`).
    pub fn parse_option(s: &str, option: &str) -> Result<Self, Error> {
        match s {
            "contemporaneous" => Ok(Frontier::Contemporaneous),
            "global" => Ok(Frontier::Global),
            _ => Err(Error::Option {
                name: option.into(),
                reason: format!("{s:?}: expected \"global\" or \"contemporaneous\""),
            }),
        }
    }
}

/// Which program produced a score.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Model {
    Sbm,
    SuperSbm,
}

impl Model {
    pub fn label(self) -> &'static str {
        match self {
            Model::Sbm => "sbm",
            Model::SuperSbm => "super_sbm",
        }
    }
}

/// DEA data: `n` DMUs (rows), variables stored column by column (`inputs[i][j]` is input `i`
/// of DMU `j`), with names for messages and a label per row (e.g. "unit Shanghai, time 2010").
#[derive(Debug, Clone)]
pub struct DeaData {
    pub n: usize,
    pub inputs: Vec<Vec<f64>>,
    pub good: Vec<Vec<f64>>,
    pub bad: Vec<Vec<f64>>,
    pub input_names: Vec<String>,
    pub good_names: Vec<String>,
    pub bad_names: Vec<String>,
    pub row_labels: Vec<String>,
}

impl DeaData {
    /// Check shapes and the positivity rule; see the module doc.
    pub fn validate(&self) -> Result<(), Error> {
        if self.inputs.is_empty() {
            return Err(Error::Option {
                name: "inputs".into(),
                reason: "SBM needs at least one input".into(),
            });
        }
        if self.good.is_empty() {
            return Err(Error::Option {
                name: "good".into(),
                reason: "SBM needs at least one good (desirable) output".into(),
            });
        }
        if self.n == 0 {
            return Err(Error::Empty("no DMUs (rows) to evaluate".into()));
        }
        if self.input_names.len() != self.inputs.len()
            || self.good_names.len() != self.good.len()
            || self.bad_names.len() != self.bad.len()
            || self.row_labels.len() != self.n
        {
            return Err(Error::Shape("names and columns disagree in number".into()));
        }
        let all = self.columns();
        for (name, col) in &all {
            if col.len() != self.n {
                return Err(Error::Shape(format!(
                    "column '{name}' has {} values, expected {}",
                    col.len(),
                    self.n
                )));
            }
        }
        for j in 0..self.n {
            if all.iter().all(|(_, c)| c[j] == 0.0) {
                return Err(Error::Column {
                    name: all[0].0.to_string(),
                    reason: format!(
                        "{}: every input and output is zero; drop this unit-year before DEA",
                        self.row_labels[j]
                    ),
                });
            }
        }
        for (name, col) in &all {
            for (j, &v) in col.iter().enumerate() {
                if !(v.is_finite() && v > 0.0) {
                    return Err(Error::Column {
                        name: name.to_string(),
                        reason: format!(
                            "value {v} at {}: SBM needs finite, strictly positive inputs and \
                             outputs (it divides by them); drop or repair the row",
                            self.row_labels[j]
                        ),
                    });
                }
            }
        }
        Ok(())
    }

    fn columns(&self) -> Vec<(&str, &[f64])> {
        let mut v: Vec<(&str, &[f64])> = Vec::new();
        for (n, c) in self.input_names.iter().zip(&self.inputs) {
            v.push((n, c));
        }
        for (n, c) in self.good_names.iter().zip(&self.good) {
            v.push((n, c));
        }
        for (n, c) in self.bad_names.iter().zip(&self.bad) {
            v.push((n, c));
        }
        v
    }

    /// Number of slack entries per DMU: inputs, then good outputs, then bad outputs.
    pub fn n_slacks(&self) -> usize {
        self.inputs.len() + self.good.len() + self.bad.len()
    }
}

/// One evaluated DMU.
#[derive(Debug, Clone)]
pub struct Eval {
    /// Efficiency (SBM, <= 1) or super-efficiency (>= 1); NaN unless `status` is optimal.
    pub score: f64,
    pub model: Model,
    pub status: LpStatus,
    /// Slacks in data units: input excesses, good-output shortfalls, bad-output excesses (SBM);
    /// for super-SBM the distances `x_bar - x_o`, `y_o - y_bar`, `b_bar - b_o`. NaN if not optimal.
    pub slacks: Vec<f64>,
    pub iterations: usize,
    pub used_bland: bool,
}

/// Weights of the good- and bad-output slack terms (Tone 2003, eq. 43); see the module doc.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OutputWeights {
    pub good: f64,
    pub bad: f64,
}

impl OutputWeights {
    /// The unweighted model (every output term weight one).
    pub const EQUAL: OutputWeights = OutputWeights {
        good: 1.0,
        bad: 1.0,
    };

    /// Weights for "good:bad = 1:`bad_weight`" with `s1` good and `s2` bad outputs, normalised
    /// to `s1 w_g + s2 w_b = s1 + s2`. `bad_weight` must be finite and > 0, and differ from
    /// one only when there are bad outputs (it would have no effect).
    pub fn tone2003(bad_weight: f64, s1: usize, s2: usize) -> Result<Self, Error> {
        if !(bad_weight.is_finite() && bad_weight > 0.0) {
            return Err(Error::Option {
                name: "bad_weight".into(),
                reason: format!(
                    "{bad_weight}: must be a finite number > 0 (the weight of a bad output \
                     relative to a good one, good:bad = 1:bad_weight; 1 = unweighted)"
                ),
            });
        }
        if s2 == 0 && bad_weight != 1.0 {
            return Err(Error::Option {
                name: "bad_weight".into(),
                reason: format!(
                    "{bad_weight}: there are no bad outputs to weight; leave bad_weight at 1"
                ),
            });
        }
        let k = (s1 + s2) as f64;
        let good = k / (s1 as f64 + s2 as f64 * bad_weight);
        Ok(OutputWeights {
            good,
            bad: bad_weight * good,
        })
    }

    /// Weight of output slack `r` (good outputs first, then bad).
    fn of(self, r: usize, s1: usize) -> f64 {
        if r < s1 {
            self.good
        } else {
            self.bad
        }
    }
}

/// Scores within this distance of one count as efficient (super-efficiency is then computed).
pub const EFFICIENT_TOL: f64 = 1e-9;

/// A reference set with the DMUs that cannot matter removed.
///
/// A DMU `j` weakly dominated by another member `k` (no more of any input or bad output, no
/// less of any good output; ties broken by index) can be dropped: moving `j`'s intensity to
/// `k` keeps every constraint (and `sum lam`) and weakly improves the SBM objective, so the
/// optimal score is unchanged (slacks may differ only where the optimum is not unique). Each
/// dropped DMU records one dominator; dominance is a strict order, so following dominators
/// ends in a kept DMU. For super-efficiency, which removes `o` itself, the DMUs whose recorded
/// dominator is `o` are put back (see [`evaluate`]).
#[derive(Debug, Clone)]
pub struct RefSet {
    pub kept: Vec<usize>,
    /// (dominator, dropped DMU), sorted by dominator.
    pub dropped: Vec<(usize, usize)>,
}

impl RefSet {
    /// Keep every member (no pruning).
    pub fn full(members: Vec<usize>) -> Self {
        RefSet {
            kept: members,
            dropped: Vec::new(),
        }
    }

    /// Prune dominated members (parallel over members; result independent of threads).
    pub fn pruned(data: &DeaData, members: &[usize]) -> Self {
        let dominator: Vec<Option<usize>> = members
            .par_iter()
            .map(|&j| members.iter().copied().find(|&k| dominates(data, k, j)))
            .collect();
        let mut kept = Vec::new();
        let mut dropped = Vec::new();
        for (&j, d) in members.iter().zip(dominator) {
            match d {
                Some(k) => dropped.push((k, j)),
                None => kept.push(j),
            }
        }
        dropped.sort_unstable();
        RefSet { kept, dropped }
    }

    fn dominated_by(&self, o: usize) -> impl Iterator<Item = usize> + '_ {
        let start = self.dropped.partition_point(|&(k, _)| k < o);
        self.dropped[start..]
            .iter()
            .take_while(move |&&(k, _)| k == o)
            .map(|&(_, j)| j)
    }
}

/// Whether `k` weakly dominates `j` (ties broken by index: equal vectors, `k < j`).
fn dominates(data: &DeaData, k: usize, j: usize) -> bool {
    if k == j {
        return false;
    }
    let mut strict = false;
    for c in &data.inputs {
        if c[k] > c[j] {
            return false;
        }
        strict |= c[k] < c[j];
    }
    for c in &data.bad {
        if c[k] > c[j] {
            return false;
        }
        strict |= c[k] < c[j];
    }
    for c in &data.good {
        if c[k] < c[j] {
            return false;
        }
        strict |= c[k] > c[j];
    }
    strict || k < j
}

/// Evaluate DMU `o` against a reference set; `o` may or may not belong to it. With
/// `super_efficiency`, a DMU found efficient (or outside the reference technology, where the
/// SBM program is infeasible) is re-evaluated by super-SBM against the reference set
/// without `o`. `weights` weight the output terms of both programs (Tone 2003, eq. 43).
pub fn evaluate(
    data: &DeaData,
    o: usize,
    reference: &RefSet,
    rts: Rts,
    weights: OutputWeights,
    super_efficiency: bool,
    ws: &mut LpBuffers,
) -> Result<Eval, Error> {
    let first = solve_sbm(data, o, &reference.kept, rts, weights, ws)?;
    let needs_super = match first.status {
        LpStatus::Optimal => first.score >= 1.0 - EFFICIENT_TOL,
        _ => true,
    };
    if !super_efficiency || !needs_super {
        return Ok(first);
    }
    ws.others.clear();
    ws.others
        .extend(reference.kept.iter().copied().filter(|&j| j != o));
    ws.others.extend(reference.dominated_by(o));
    let others = std::mem::take(&mut ws.others);
    let sup = solve_super(data, o, &others, rts, weights, ws);
    ws.others = others;
    let mut sup = sup?;
    sup.iterations += first.iterations;
    sup.used_bland |= first.used_bland;
    Ok(sup)
}

/// Per-thread buffers for [`evaluate`].
#[derive(Debug, Default, Clone)]
pub struct LpBuffers {
    a: Vec<f64>,
    b: Vec<f64>,
    c: Vec<f64>,
    others: Vec<usize>,
    lp: Workspace,
}

fn solve_sbm(
    data: &DeaData,
    o: usize,
    reference: &[usize],
    rts: Rts,
    weights: OutputWeights,
    ws: &mut LpBuffers,
) -> Result<Eval, Error> {
    let (m, s1, s2) = (data.inputs.len(), data.good.len(), data.bad.len());
    let k = (s1 + s2) as f64;
    let vrs = usize::from(rts == Rts::Vrs);
    let nr = 1 + m + s1 + s2 + vrs;
    let nl = reference.len();
    let nc = 1 + nl + m + s1 + s2;
    ws.a.clear();
    ws.a.resize(nr * nc, 0.0);
    ws.c.clear();
    ws.c.resize(nc, 0.0);
    ws.b.clear();
    ws.b.resize(nr, 0.0);
    ws.b[0] = 1.0;
    ws.c[0] = 1.0;
    let a = &mut ws.a;
    // column t
    a[0] = 1.0;
    for i in 0..m {
        a[1 + i] = -1.0;
    }
    for r in 0..s1 {
        a[1 + m + r] = 1.0;
    }
    for r in 0..s2 {
        a[1 + m + s1 + r] = -1.0;
    }
    if vrs == 1 {
        a[nr - 1] = -1.0;
    }
    // columns Lambda
    for (l, &j) in reference.iter().enumerate() {
        let col = &mut a[(1 + l) * nr..(2 + l) * nr];
        for i in 0..m {
            col[1 + i] = data.inputs[i][j] / data.inputs[i][o];
        }
        for r in 0..s1 {
            col[1 + m + r] = -data.good[r][j] / data.good[r][o];
        }
        for r in 0..s2 {
            col[1 + m + s1 + r] = data.bad[r][j] / data.bad[r][o];
        }
        if vrs == 1 {
            col[nr - 1] = 1.0;
        }
    }
    // slack columns
    let base = 1 + nl;
    for i in 0..m {
        a[(base + i) * nr + 1 + i] = 1.0;
        ws.c[base + i] = -1.0 / m as f64;
    }
    for r in 0..s1 + s2 {
        let col = base + m + r;
        a[col * nr] = weights.of(r, s1) / k;
        a[col * nr + 1 + m + r] = 1.0;
    }
    let lp = Lp {
        nrows: nr,
        ncols: nc,
        a: &ws.a,
        b: &ws.b,
        c: &ws.c,
    };
    let sol = solve(&lp, &mut ws.lp)?;
    let cols = [base, base + m, base + m + s1];
    evaluation(data, o, &sol, cols, Model::Sbm)
}

/// The evaluation of DMU `o` from its Charnes–Cooper solution: score = objective, and the
/// slacks back in data units (the program's variables are scaled by t and by DMU `o`'s own
/// values). `cols` are the first columns of the input, good-output and bad-output slacks.
fn evaluation(
    data: &DeaData,
    o: usize,
    sol: &LpSolution,
    cols: [usize; 3],
    model: Model,
) -> Result<Eval, Error> {
    let (m, s1, s2) = (data.inputs.len(), data.good.len(), data.bad.len());
    let mut slacks = vec![f64::NAN; m + s1 + s2];
    let mut score = f64::NAN;
    if sol.status == LpStatus::Optimal {
        let t = sol.x[0];
        if t <= 0.0 {
            let what = if model == Model::Sbm {
                "SBM"
            } else {
                "super-SBM"
            };
            return Err(Error::Numerical(format!(
                "{what} program for {} returned t = {t}",
                data.row_labels[o]
            )));
        }
        score = sol.objective;
        let groups = [
            (&data.inputs, 0, cols[0]),
            (&data.good, m, cols[1]),
            (&data.bad, m + s1, cols[2]),
        ];
        for (values, out, col) in groups {
            for (j, v) in values.iter().enumerate() {
                slacks[out + j] = sol.x[col + j] * v[o] / t;
            }
        }
    }
    Ok(Eval {
        score,
        model,
        status: sol.status,
        slacks,
        iterations: sol.iterations,
        used_bland: sol.used_bland,
    })
}

fn solve_super(
    data: &DeaData,
    o: usize,
    reference: &[usize],
    rts: Rts,
    weights: OutputWeights,
    ws: &mut LpBuffers,
) -> Result<Eval, Error> {
    let (m, s1, s2) = (data.inputs.len(), data.good.len(), data.bad.len());
    let k = (s1 + s2) as f64;
    let vrs = usize::from(rts == Rts::Vrs);
    // rows: 0 | inputs m | good s1 | bad s2 | y_bar >= 0 s1 | vrs
    let nr = 1 + m + s1 + s2 + s1 + vrs;
    let nl = reference.len();
    // cols: t | Lam | u m | v s1 | w s2 | e m | f s1 | g s2 | h s1
    let nc = 1 + nl + 2 * (m + s1 + s2) + s1;
    ws.a.clear();
    ws.a.resize(nr * nc, 0.0);
    ws.c.clear();
    ws.c.resize(nc, 0.0);
    ws.b.clear();
    ws.b.resize(nr, 0.0);
    ws.b[0] = 1.0;
    ws.c[0] = 1.0;
    let (ri, rg, rb, ry) = (1, 1 + m, 1 + m + s1, 1 + m + s1 + s2);
    let a = &mut ws.a;
    a[0] = 1.0;
    for i in 0..m {
        a[ri + i] = 1.0;
    }
    for r in 0..s1 {
        a[rg + r] = -1.0;
        a[ry + r] = -1.0;
    }
    for r in 0..s2 {
        a[rb + r] = 1.0;
    }
    if vrs == 1 {
        a[nr - 1] = -1.0;
    }
    for (l, &j) in reference.iter().enumerate() {
        let col = &mut a[(1 + l) * nr..(2 + l) * nr];
        for i in 0..m {
            col[ri + i] = -data.inputs[i][j] / data.inputs[i][o];
        }
        for r in 0..s1 {
            col[rg + r] = data.good[r][j] / data.good[r][o];
        }
        for r in 0..s2 {
            col[rb + r] = -data.bad[r][j] / data.bad[r][o];
        }
        if vrs == 1 {
            col[nr - 1] = 1.0;
        }
    }
    let (cu, cv, cw) = (1 + nl, 1 + nl + m, 1 + nl + m + s1);
    let (ce, cf, cg, ch) = (
        cw + s2,
        cw + s2 + m,
        cw + s2 + m + s1,
        cw + s2 + m + s1 + s2,
    );
    for i in 0..m {
        a[(cu + i) * nr + ri + i] = 1.0;
        ws.c[cu + i] = 1.0 / m as f64;
        a[(ce + i) * nr + ri + i] = -1.0;
    }
    for r in 0..s1 {
        a[(cv + r) * nr] = -weights.good / k;
        a[(cv + r) * nr + rg + r] = 1.0;
        a[(cv + r) * nr + ry + r] = 1.0;
        a[(cf + r) * nr + rg + r] = -1.0;
        a[(ch + r) * nr + ry + r] = 1.0;
    }
    for r in 0..s2 {
        a[(cw + r) * nr] = -weights.bad / k;
        a[(cw + r) * nr + rb + r] = 1.0;
        a[(cg + r) * nr + rb + r] = -1.0;
    }
    let lp = Lp {
        nrows: nr,
        ncols: nc,
        a: &ws.a,
        b: &ws.b,
        c: &ws.c,
    };
    let sol = solve(&lp, &mut ws.lp)?;
    evaluation(data, o, &sol, [cu, cv, cw], Model::SuperSbm)
}

/// Options of [`sbm`].
#[derive(Debug, Clone, Copy)]
pub struct SbmSpec {
    pub rts: Rts,
    pub frontier: Frontier,
    pub super_efficiency: bool,
    /// Weight of each bad output relative to each good output in the score (Tone 2003,
    /// eq. 43: good:bad = 1:`bad_weight`); 1 = the unweighted model. Finite, > 0.
    pub bad_weight: f64,
}

/// SBM scores of every DMU (row) of a panel.
#[derive(Debug, Clone)]
pub struct SbmFit {
    pub evals: Vec<Eval>,
    /// Rows whose program was infeasible (or unbounded / hit the iteration limit): score NaN.
    pub n_infeasible: usize,
    pub total_iterations: usize,
}

/// Evaluate each (job DMU, reference set) pair in parallel, results in job order
/// (thread-count invariant: each job is solved independently).
pub fn evaluate_many(
    data: &DeaData,
    jobs: &[(usize, usize)],
    refsets: &[Vec<usize>],
    rts: Rts,
    weights: OutputWeights,
    super_efficiency: bool,
) -> Result<Vec<Eval>, Error> {
    let refsets: Vec<RefSet> = refsets.iter().map(|m| RefSet::pruned(data, m)).collect();
    // One LP per job: a Ctrl-C stops the remaining programs (each takes well under 100 ms).
    let cancel = Cancel::current();
    jobs.par_iter()
        .map_init(LpBuffers::default, |ws, &(o, r)| {
            cancel.check()?;
            evaluate(data, o, &refsets[r], rts, weights, super_efficiency, ws)
        })
        .collect()
}

/// Reference sets by period: `(sets, set index of each row)`; periods in sorted order.
pub fn period_sets(period: &[i64]) -> (Vec<i64>, Vec<Vec<usize>>, Vec<usize>) {
    let mut periods: Vec<i64> = period.to_vec();
    periods.sort_unstable();
    periods.dedup();
    let mut sets = vec![Vec::new(); periods.len()];
    let mut which = Vec::with_capacity(period.len());
    for (j, p) in period.iter().enumerate() {
        // periods is sorted and contains p
        let k = periods.partition_point(|q| q < p);
        sets[k].push(j);
        which.push(k);
    }
    (periods, sets, which)
}

/// Tone's SBM (with bad outputs, optional good:bad weighting of Tone 2003 eq. 43, optional
/// super-efficiency) for every row of `data`, against a contemporaneous (same `period`) or
/// global (all rows) reference set.
pub fn sbm(data: &DeaData, period: &[i64], spec: &SbmSpec) -> Result<SbmFit, Error> {
    data.validate()?;
    let weights = OutputWeights::tone2003(spec.bad_weight, data.good.len(), data.bad.len())?;
    if period.len() != data.n {
        return Err(Error::Shape(format!(
            "period has {} values, data {}",
            period.len(),
            data.n
        )));
    }
    let (refsets, jobs): (Vec<Vec<usize>>, Vec<(usize, usize)>) = match spec.frontier {
        Frontier::Global => (
            vec![(0..data.n).collect()],
            (0..data.n).map(|j| (j, 0)).collect(),
        ),
        Frontier::Contemporaneous => {
            let (_, sets, which) = period_sets(period);
            (sets, which.into_iter().enumerate().collect())
        }
    };
    let evals = evaluate_many(
        data,
        &jobs,
        &refsets,
        spec.rts,
        weights,
        spec.super_efficiency,
    )?;
    let n_infeasible = evals
        .iter()
        .filter(|e| e.status != LpStatus::Optimal)
        .count();
    let total_iterations = evals.iter().map(|e| e.iterations).sum();
    Ok(SbmFit {
        evals,
        n_infeasible,
        total_iterations,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(x: &[f64], y: &[f64], b: &[f64]) -> DeaData {
        let n = x.len();
        DeaData {
            n,
            inputs: vec![x.to_vec()],
            good: vec![y.to_vec()],
            bad: if b.is_empty() {
                vec![]
            } else {
                vec![b.to_vec()]
            },
            input_names: vec!["x".into()],
            good_names: vec!["y".into()],
            bad_names: if b.is_empty() {
                vec![]
            } else {
                vec!["b".into()]
            },
            row_labels: (0..n).map(|j| format!("row {j}")).collect(),
        }
    }

    #[test]
    fn one_input_one_output_crs_by_hand() {
        // DMUs (x, y): A (1, 1), B (2, 1). CRS frontier y = x. For B: project to the ray:
        // rho = min (1 - s/2) / (1 + g/1) over points (2 - s, 1 + g) with 1 + g <= 2 - s:
        // corners (s = 1, g = 0) -> 1/2 and (s = 0, g = 1) -> 1/2; interior worse. rho = 1/2.
        let d = data(&[1.0, 2.0], &[1.0, 1.0], &[]);
        let spec = SbmSpec {
            rts: Rts::Crs,
            frontier: Frontier::Global,
            super_efficiency: false,
            bad_weight: 1.0,
        };
        let f = sbm(&d, &[1, 1], &spec).unwrap();
        assert!((f.evals[0].score - 1.0).abs() < 1e-12);
        assert!((f.evals[1].score - 0.5).abs() < 1e-12);
    }

    #[test]
    fn super_efficiency_by_hand() {
        // A (1, 1), B (2, 1), CRS: A outside the technology of {B} (slope 1/2). Super-SBM
        // for A: min (1 + s/1) / (1 - g/1) with (1 + s) * 1/2 >= 1 - g: s = 1, g = 0 gives 2,
        // s = 0, g = 1/2 gives 2; so delta = 2.
        let d = data(&[1.0, 2.0], &[1.0, 1.0], &[]);
        let spec = SbmSpec {
            rts: Rts::Crs,
            frontier: Frontier::Global,
            super_efficiency: true,
            bad_weight: 1.0,
        };
        let f = sbm(&d, &[1, 1], &spec).unwrap();
        assert_eq!(f.evals[0].model, Model::SuperSbm);
        assert!((f.evals[0].score - 2.0).abs() < 1e-12);
        assert_eq!(f.evals[1].model, Model::Sbm);
    }

    #[test]
    fn tone2003_weighting_by_hand() {
        // Tone (2003) Table 1, DMUs A (x 1; yg 1, yb 1) and B (1; 2, 1), VRS. For A with
        // lam_B on B: input and bad slacks are 0, the good slack is lam_B, so
        // rho_A = 1 / (1 + w_g lam_B / 2), least at lam_B = 1: 1 / (1 + w_g / 2).
        // 1:3 -> w_g = 2/4, rho = 0.8; 1:1 -> 2/3; 1:0.3 -> w_g = 2/1.3, rho = 1.3/2.3.
        let d = data(&[1.0, 1.0], &[1.0, 2.0], &[1.0, 1.0]);
        for (bw, want) in [(3.0, 0.8), (1.0, 2.0 / 3.0), (0.3, 1.3 / 2.3)] {
            let spec = SbmSpec {
                rts: Rts::Vrs,
                frontier: Frontier::Global,
                super_efficiency: false,
                bad_weight: bw,
            };
            let f = sbm(&d, &[1, 1], &spec).unwrap();
            assert!(
                (f.evals[0].score - want).abs() < 1e-12,
                "{bw}: {}",
                f.evals[0].score
            );
        }
        let w = OutputWeights::tone2003(0.3, 1, 1).unwrap();
        assert!((w.good - 2.0 / 1.3).abs() < 1e-15 && (w.bad - 0.6 / 1.3).abs() < 1e-15);
        assert_eq!(
            OutputWeights::tone2003(1.0, 3, 2).unwrap(),
            OutputWeights::EQUAL
        );
        for bad in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            let e = OutputWeights::tone2003(bad, 1, 1).unwrap_err().to_string();
            assert!(e.contains("bad_weight") && e.contains("> 0"), "{e}");
        }
        let e = OutputWeights::tone2003(2.0, 1, 0).unwrap_err().to_string();
        assert!(e.contains("no bad outputs"), "{e}");
    }

    #[test]
    fn zero_values_are_errors_naming_the_column() {
        let d = data(&[1.0, 2.0], &[1.0, 1.0], &[1.0, 0.0]);
        let e = d.validate().unwrap_err().to_string();
        assert!(e.contains("'b'") && e.contains("row 1"), "{e}");
        let d = data(&[1.0, 0.0], &[1.0, 0.0], &[1.0, 0.0]);
        let e = d.validate().unwrap_err().to_string();
        assert!(e.contains("every input and output is zero"), "{e}");
    }
}
