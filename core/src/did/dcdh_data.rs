//! Sample preparation for the de Chaisemartin–D'Haultfœuille DID_l estimator
//! (`super::dcdh`), step for step as `moderndid` 0.4.1's `did_multiplegt` preprocessing
//! (itself a port of the R/Stata `did_multiplegt_dyn` data steps):
//!
//! 1. periods enter by their dense rank;
//! 2. per group: baseline treatment D_{g,1} (first observed row), first switch F_g (first row whose
//!    treatment differs from the previous observed row), direction S_g, treatment at F_g,
//!    L_g = last period − F_g + 1; the rows from the first period in which a group has been both
//!    above and below its baseline are dropped ("bidirectional" rows, as the reference's default);
//! 3. baselines whose groups all share one F_g (no variation in switching dates) are dropped;
//! 4. (period, baseline) cells without a not-yet-switched group are dropped;
//! 5. the rest is balanced to a group × period grid (missing cells: no outcome, weight 0) and
//!    T_g = (last period with a not-yet-switched group of g's baseline) is computed.

use std::collections::HashMap;

use crate::alloc::{elements, ensure};
use crate::error::{Error, Result};

/// The columns of `pilotdid.dcdh`, one entry per row (no missing values: Python drops and
/// counts rows with a missing outcome or treatment before the call).
pub struct DcdhInput<'a> {
    pub y: &'a [f64],
    pub time: &'a [i64],
    /// Unit codes 0..n_units in the sort order of the unit labels.
    pub unit: &'a [u32],
    pub treatment: &'a [f64],
    pub weights: Option<&'a [f64]>,
    /// Cluster codes, constant within a unit.
    pub cluster: Option<&'a [u32]>,
    /// Time-varying controls (name, column).
    pub controls: Vec<(String, &'a [f64])>,
    /// Codes of the `trends_nonparam` cells (constant within a unit): units are compared only
    /// within their cell.
    pub trend_group: Option<&'a [u32]>,
    /// Column names for messages: y, time, unit, treatment, weights, cluster.
    pub names: [String; 6],
}

/// The balanced group × period grid the estimator works on (row-major, group-major).
pub(crate) struct Grid {
    pub n_g: usize,
    pub n_t: usize,
    /// Period ranks of the columns (1-based ranks among all observed periods; may have gaps).
    pub times: Vec<f64>,
    pub y: Vec<f64>,
    pub d: Vec<f64>,
    pub w: Vec<f64>,
    /// Controls on the grid (NaN in missing cells), one entry per control.
    pub x: Vec<Vec<f64>>,
    pub f_g: Vec<f64>,
    pub d_sq: Vec<f64>,
    pub class: Vec<usize>,
    pub n_class: usize,
    /// Control pool of each group: its baseline class and `trends_nonparam` cell.
    pub pool: Vec<usize>,
    pub n_pool: usize,
    pub s_g: Vec<f64>,
    pub l_g: Vec<f64>,
    pub d_fg: Vec<f64>,
    pub t_g: Vec<f64>,
    pub cluster: Option<Vec<u32>>,
    /// The sorted original periods, by rank - 1.
    pub periods: Vec<i64>,
    pub dropped: Dropped,
}

/// Rows the preparation removed, by reason.
#[derive(Debug, Clone, Copy, Default)]
pub struct Dropped {
    /// Rows after a group's treatment has been both above and below its baseline.
    pub bidirectional: usize,
    /// Rows of groups whose baseline treatment has no variation in switching dates.
    pub no_switch_variation: usize,
    /// Rows in a (period, baseline) cell without a not-yet-switched group.
    pub no_controls: usize,
    /// With `trends_lin`: rows of groups that switch in the second period (no pre-trend).
    pub trends_lin_second_period: usize,
}

struct Row {
    unit: u32,
    rank: i64,
    y: f64,
    d: f64,
    w: f64,
    /// Index of the row in the input (for the controls).
    src: usize,
}

fn col_err(name: &str, reason: impl Into<String>) -> Error {
    Error::Column {
        name: name.to_string(),
        reason: reason.into(),
    }
}

pub(crate) fn build_grid(inp: &DcdhInput, trends_lin: bool) -> Result<Grid> {
    let n = inp.y.len();
    let [yname, tname, uname, dname, wname, cname] = &inp.names;
    for (len, what) in [
        (inp.time.len(), tname),
        (inp.unit.len(), uname),
        (inp.treatment.len(), dname),
    ] {
        if len != n {
            return Err(Error::Shape(format!(
                "column '{what}' has {len} rows, '{yname}' has {n}"
            )));
        }
    }
    if let Some(w) = inp.weights {
        if w.len() != n {
            return Err(Error::Shape(format!(
                "weights '{wname}': {} rows, expected {n}",
                w.len()
            )));
        }
        if w.iter().any(|v| !v.is_finite() || *v < 0.0) {
            return Err(col_err(wname, "weights must be finite and non-negative"));
        }
        if w.iter().sum::<f64>() <= 0.0 {
            return Err(col_err(wname, "weights must have a positive sum"));
        }
    }
    if let Some(c) = inp.cluster {
        if c.len() != n {
            return Err(Error::Shape(format!(
                "cluster '{cname}': {} rows, expected {n}",
                c.len()
            )));
        }
    }
    if n == 0 {
        return Err(Error::Empty("no rows to estimate from".into()));
    }
    if inp.y.iter().any(|v| !v.is_finite()) {
        return Err(col_err(yname, "has missing or non-finite values"));
    }
    if inp.treatment.iter().any(|v| !v.is_finite()) {
        return Err(col_err(dname, "has missing or non-finite values"));
    }
    for (name, col) in &inp.controls {
        if col.len() != n {
            return Err(Error::Shape(format!(
                "control '{name}': {} rows, expected {n}",
                col.len()
            )));
        }
        if col.iter().any(|v| !v.is_finite()) {
            return Err(col_err(name, "has missing or non-finite values"));
        }
    }

    // 1. dense period ranks
    let mut periods: Vec<i64> = inp.time.to_vec();
    periods.sort_unstable();
    periods.dedup();
    let rank_of: HashMap<i64, i64> = periods
        .iter()
        .enumerate()
        .map(|(i, &p)| (p, i as i64 + 1))
        .collect();

    let mut rows: Vec<Row> = (0..n)
        .map(|i| Row {
            unit: inp.unit[i],
            rank: rank_of[&inp.time[i]],
            y: inp.y[i],
            d: inp.treatment[i],
            w: inp.weights.map_or(1.0, |w| w[i]),
            src: i,
        })
        .collect();
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by_key(|&i| (rows[i].unit, rows[i].rank));
    rows = order
        .iter()
        .map(|&i| Row {
            unit: rows[i].unit,
            rank: rows[i].rank,
            y: rows[i].y,
            d: rows[i].d,
            w: rows[i].w,
            src: rows[i].src,
        })
        .collect();
    for k in 1..n {
        if rows[k].unit == rows[k - 1].unit && rows[k].rank == rows[k - 1].rank {
            return Err(col_err(
                uname,
                format!(
                    "unit code {} has two rows for period {} of '{tname}': one row per unit and period",
                    rows[k].unit,
                    periods[(rows[k].rank - 1) as usize]
                ),
            ));
        }
    }
    let mut unit_trend: HashMap<u32, u32> = HashMap::new();
    if let Some(tg) = inp.trend_group {
        if tg.len() != n {
            return Err(Error::Shape(format!(
                "trends_nonparam: {} rows, expected {n}",
                tg.len()
            )));
        }
        for (&u, &c) in inp.unit.iter().zip(tg) {
            if unit_trend.insert(u, c).is_some_and(|p| p != c) {
                return Err(Error::Option {
                    name: "trends_nonparam".into(),
                    reason: format!("its columns must be constant within each unit of '{uname}'"),
                });
            }
        }
    }
    let mut unit_cluster: HashMap<u32, u32> = HashMap::new();
    if let Some(c) = inp.cluster {
        for (&u, &ci) in inp.unit.iter().zip(c) {
            let prev = unit_cluster.insert(u, ci);
            if prev.is_some_and(|p| p != ci) {
                return Err(col_err(
                    cname,
                    format!("every unit of '{uname}' must belong to one cluster (units are nested in clusters)"),
                ));
            }
        }
    }

    // 2. per group: baseline, first switch, direction, L_g; drop bidirectional rows
    struct GroupInfo {
        f_g: f64,
        d_sq: f64,
        s_g: f64,
        l_g: f64,
        d_fg: f64,
    }
    let mut info: HashMap<u32, GroupInfo> = HashMap::new();
    let mut kept: Vec<Row> = Vec::with_capacity(n);
    let mut dropped = Dropped::default();
    let mut start = 0;
    while start < n {
        let u = rows[start].unit;
        let mut end = start;
        while end < n && rows[end].unit == u {
            end += 1;
        }
        let g = &rows[start..end];
        let d_sq = g[0].d;
        let first = (1..g.len()).find(|&k| g[k].d - g[k - 1].d != 0.0);
        let t_last = g[g.len() - 1].rank as f64;
        let (f_g, s_g, l_g, d_fg) = match first {
            Some(k) => {
                let diff = g[k].d - g[k - 1].d;
                let f = g[k].rank as f64;
                (
                    f,
                    if diff > 0.0 { 1.0 } else { -1.0 },
                    t_last - f + 1.0,
                    g[k].d,
                )
            }
            None => (f64::INFINITY, 0.0, 0.0, f64::NAN),
        };
        let (mut up, mut down) = (false, false);
        for r in g {
            up |= r.d - d_sq > 0.0;
            down |= r.d - d_sq < 0.0;
            if up && down {
                dropped.bidirectional += 1;
            } else {
                kept.push(Row { ..*r });
            }
        }
        info.insert(
            u,
            GroupInfo {
                f_g,
                d_sq,
                s_g,
                l_g,
                d_fg,
            },
        );
        start = end;
    }

    if info.values().all(|g| !g.f_g.is_finite()) {
        return Err(col_err(
            dname,
            "no unit's treatment changes over time: there is no switcher to estimate effects for",
        ));
    }

    // baseline classes: exact equality of the baseline treatment
    let mut bases: Vec<f64> = info.values().map(|g| g.d_sq).collect();
    bases.sort_by(f64::total_cmp);
    bases.dedup();
    let class_of = |v: f64| bases.partition_point(|b| b.total_cmp(&v).is_lt());
    let n_class = bases.len();
    // control pools: (baseline class, trends_nonparam cell)
    let mut pool_keys: Vec<(usize, u32)> = info
        .iter()
        .map(|(u, g)| (class_of(g.d_sq), unit_trend.get(u).copied().unwrap_or(0)))
        .collect();
    pool_keys.sort_unstable();
    pool_keys.dedup();
    let n_pool = pool_keys.len();
    let lookup_pool = |u: u32| {
        let key = (
            class_of(info[&u].d_sq),
            unit_trend.get(&u).copied().unwrap_or(0),
        );
        pool_keys.partition_point(|k| *k < key)
    };
    // the row loops below look up each row's unit: by code in a table when the codes are dense
    // (they are from Python and in bootstrap draws), saving hashing and searches per row
    let max_code = info.keys().copied().max().unwrap_or(0) as usize;
    let dense = max_code < 4 * n + 64;
    let (mut pool_by, mut f_by) = (Vec::new(), Vec::new());
    if dense {
        pool_by = vec![0usize; max_code + 1];
        f_by = vec![f64::NAN; max_code + 1];
        for (&u, g) in &info {
            pool_by[u as usize] = lookup_pool(u);
            f_by[u as usize] = g.f_g;
        }
    }
    let pool_of = |u: u32| {
        if dense {
            pool_by[u as usize]
        } else {
            lookup_pool(u)
        }
    };
    let f_of = |u: u32| {
        if dense {
            f_by[u as usize]
        } else {
            info[&u].f_g
        }
    };

    // 3. baselines without variation in F_g (sample sd over rows, rounded to 3 decimals, as
    //    the reference)
    let mut acc = vec![(0usize, 0.0f64, 0.0f64); n_pool];
    for r in &kept {
        let f_g = f_of(r.unit);
        let f = if f_g.is_finite() { f_g } else { 0.0 };
        let a = &mut acc[pool_of(r.unit)];
        a.0 += 1;
        a.1 += f;
    }
    for r in &kept {
        let f_g = f_of(r.unit);
        let f = if f_g.is_finite() { f_g } else { 0.0 };
        let a = &mut acc[pool_of(r.unit)];
        let m = a.1 / a.0 as f64;
        a.2 += (f - m) * (f - m);
    }
    let varies: Vec<bool> = acc
        .iter()
        .map(|&(c, _, ss)| c > 1 && ((ss / (c as f64 - 1.0)).sqrt() * 1000.0).round() > 0.0)
        .collect();
    let before = kept.len();
    kept.retain(|r| varies[pool_of(r.unit)]);
    dropped.no_switch_variation = before - kept.len();

    // 4. (period, baseline) cells with a not-yet-switched group
    // ranks are 1..=periods.len(): one flag per (rank, pool)
    let cell = |r: &Row| (r.rank as usize - 1) * n_pool + pool_of(r.unit);
    let mut has_control = vec![false; periods.len() * n_pool];
    for r in &kept {
        has_control[cell(r)] |= f_of(r.unit) > r.rank as f64;
    }
    let before = kept.len();
    kept.retain(|r| has_control[cell(r)]);
    dropped.no_controls = before - kept.len();
    if kept.is_empty() {
        return Err(Error::Empty(format!(
            "no switcher of '{dname}' has a group with the same baseline (first-period) treatment \
             that has not switched yet: nothing to compare with"
        )));
    }

    // 5. the balanced grid
    let mut units: Vec<u32> = kept.iter().map(|r| r.unit).collect();
    units.dedup(); // rows stay sorted by unit
    let mut ranks: Vec<i64> = kept.iter().map(|r| r.rank).collect();
    ranks.sort_unstable();
    ranks.dedup();
    let (n_g, n_t) = (units.len(), ranks.len());
    let col_of: HashMap<i64, usize> = ranks.iter().enumerate().map(|(j, &r)| (r, j)).collect();
    let row_of: HashMap<u32, usize> = units.iter().enumerate().map(|(i, &u)| (u, i)).collect();
    // the grid and each horizon's working arrays hold about 16 + 2k values per cell: check the
    // memory before allocating (a failed allocation would abort the process)
    let cells = elements(n_g, n_t, "dcdh unit x period grid")?;
    ensure::<f64>(
        cells,
        16 + 2 * inp.controls.len(),
        "dcdh unit x period grid",
    )?;
    let mut y = vec![f64::NAN; n_g * n_t];
    let mut d = vec![f64::NAN; n_g * n_t];
    let mut w = vec![0.0; n_g * n_t];
    let mut x = vec![vec![f64::NAN; n_g * n_t]; inp.controls.len()];
    for r in &kept {
        let k = row_of[&r.unit] * n_t + col_of[&r.rank];
        y[k] = r.y;
        d[k] = r.d;
        w[k] = r.w;
        for (c, (_, col)) in inp.controls.iter().enumerate() {
            x[c][k] = col[r.src];
        }
    }
    let (mut units, mut ranks, mut y, mut d, mut w, mut x, mut n_g, mut n_t) =
        (units, ranks, y, d, w, x, n_g, n_t);
    if trends_lin {
        // unit-specific linear trends: groups switching in the second period leave, the outcome
        // (and the controls) are first-differenced and the first period goes (as the reference)
        if n_t < 3 {
            return Err(Error::Option {
                name: "trends_lin".into(),
                reason: format!("needs at least three periods of '{tname}' with comparisons"),
            });
        }
        let second = (ranks[0] + 1) as f64;
        let keep: Vec<usize> = (0..n_g)
            .filter(|&g| info[&units[g]].f_g != second)
            .collect();
        dropped.trends_lin_second_period = (0..n_g)
            .filter(|&g| info[&units[g]].f_g == second)
            .map(|g| (0..n_t).filter(|&j| !y[g * n_t + j].is_nan()).count())
            .sum();
        if keep.is_empty() {
            return Err(Error::Empty(format!(
                "trends_lin: every unit switches '{dname}' in the second period; no trend can be estimated"
            )));
        }
        let m = n_t - 1;
        let fd = |v: &[f64], g: usize, j: usize| v[g * n_t + j + 1] - v[g * n_t + j];
        let mut y2 = vec![f64::NAN; keep.len() * m];
        let mut d2 = vec![f64::NAN; keep.len() * m];
        let mut w2 = vec![0.0; keep.len() * m];
        let mut x2 = vec![vec![f64::NAN; keep.len() * m]; x.len()];
        for (i, &g) in keep.iter().enumerate() {
            for j in 0..m {
                let k = i * m + j;
                y2[k] = fd(&y, g, j);
                d2[k] = d[g * n_t + j + 1];
                w2[k] = if y2[k].is_nan() || d2[k].is_nan() {
                    0.0
                } else {
                    w[g * n_t + j + 1]
                };
                for (c, xc) in x.iter().enumerate() {
                    x2[c][k] = fd(xc, g, j);
                }
            }
        }
        units = keep.iter().map(|&g| units[g]).collect();
        ranks.remove(0);
        (y, d, w, x, n_g, n_t) = (y2, d2, w2, x2, keep.len(), m);
    }
    let gi: Vec<&GroupInfo> = units.iter().map(|u| &info[u]).collect();
    let class: Vec<usize> = gi.iter().map(|g| class_of(g.d_sq)).collect();
    let pool: Vec<usize> = units.iter().map(|&u| pool_of(u)).collect();
    let t_last = *ranks.last().unwrap_or(&0) as f64;
    let mut t_class = vec![f64::NEG_INFINITY; n_pool];
    for (g, c) in gi.iter().zip(&pool) {
        let f = if g.f_g.is_finite() {
            g.f_g
        } else {
            t_last + 1.0
        };
        t_class[*c] = t_class[*c].max(f - 1.0);
    }
    Ok(Grid {
        n_g,
        n_t,
        times: ranks.iter().map(|&r| r as f64).collect(),
        y,
        d,
        w,
        x,
        f_g: gi.iter().map(|g| g.f_g).collect(),
        d_sq: gi.iter().map(|g| g.d_sq).collect(),
        t_g: pool.iter().map(|&c| t_class[c]).collect(),
        class,
        n_class,
        pool,
        n_pool,
        s_g: gi.iter().map(|g| g.s_g).collect(),
        l_g: gi.iter().map(|g| g.l_g).collect(),
        d_fg: gi.iter().map(|g| g.d_fg).collect(),
        cluster: inp
            .cluster
            .map(|_| units.iter().map(|u| unit_cluster[u]).collect()),
        periods,
        dropped,
    })
}
