//! Balanced spatial panels in time-major layout (row t·N + i): the layout check, the spatial
//! lag per period and the fixed-effects demeaning every spatial model applies.

use super::spec::FeKind;
use super::weights::Weights;
use crate::error::{Error, Result};

/// Balanced (time-major) layout: index t*N + i.
pub(crate) fn panel_layout(unit: &[u32], time: &[u32], n: usize) -> Result<(usize, Vec<usize>)> {
    let t = time.iter().map(|&v| v as usize + 1).max().unwrap_or(0);
    if unit.len() != time.len() {
        return Err(Error::Shape("unit and time differ in length".into()));
    }
    if let Some(&u) = unit.iter().find(|&&u| u as usize >= n) {
        return Err(Error::Column {
            name: "unit".into(),
            reason: format!("unit code {u} has no row in W ({n} units)"),
        });
    }
    if unit.len() != n * t {
        return Err(Error::Column {
            name: "unit/time".into(),
            reason: format!(
                "the panel must be balanced: {} rows for {n} units x {t} periods",
                unit.len()
            ),
        });
    }
    let mut pos = vec![usize::MAX; n * t];
    for (r, (&u, &tt)) in unit.iter().zip(time).enumerate() {
        let k = tt as usize * n + u as usize;
        if pos[k] != usize::MAX {
            return Err(Error::Column {
                name: "unit/time".into(),
                reason: format!("unit {u} appears twice in period {tt}"),
            });
        }
        pos[k] = r;
    }
    Ok((t, pos))
}

pub(crate) fn spatial_lag_panel(w: &Weights, v: &[f64], n: usize, t: usize) -> Vec<f64> {
    let mut out = Vec::with_capacity(n * t);
    for s in 0..t {
        out.extend(w.matvec(&v[s * n..(s + 1) * n]));
    }
    out
}

pub(crate) fn demean_panel(v: &mut [f64], n: usize, t: usize, fe: FeKind) {
    let ind = matches!(fe, FeKind::Individual | FeKind::Twoways);
    let tim = matches!(fe, FeKind::Time | FeKind::Twoways);
    let mut um = vec![0.0; n];
    let mut tm = vec![0.0; t];
    for s in 0..t {
        for i in 0..n {
            let x = v[s * n + i];
            um[i] += x;
            tm[s] += x;
        }
    }
    let all = um.iter().sum::<f64>() / (n * t) as f64;
    um.iter_mut().for_each(|m| *m /= t as f64);
    tm.iter_mut().for_each(|m| *m /= n as f64);
    for s in 0..t {
        for i in 0..n {
            let x = v[s * n + i];
            v[s * n + i] = match (ind, tim) {
                (true, true) => x - um[i] - tm[s] + all,
                (true, false) => x - um[i],
                (false, true) => x - tm[s],
                (false, false) => x - all,
            };
        }
    }
}

/// The weights of a panel: one W for every period (static) or one W per period
/// (time-varying). Equal W_t are stored once: `ws` holds the distinct matrices in order of
/// first appearance and `of_period[t]` the index of period t's W in `ws`.
pub(crate) struct PanelW<'a> {
    pub(crate) ws: Vec<&'a Weights>,
    pub(crate) of_period: Vec<usize>,
}

impl<'a> PanelW<'a> {
    /// One W for all `t` periods.
    pub(crate) fn fixed(w: &'a Weights, t: usize) -> Self {
        Self {
            ws: vec![w],
            of_period: vec![0; t],
        }
    }

    /// One W per period; equal matrices (same CSR arrays, bit for bit) share one entry, so
    /// a list of equal W_t is the static model.
    pub(crate) fn per_period(w_periods: &'a [Weights]) -> Result<Self> {
        let Some(first) = w_periods.first() else {
            return Err(Error::Option {
                name: "W".into(),
                reason: "time-varying W: no period weights given".into(),
            });
        };
        let mut ws: Vec<&'a Weights> = Vec::new();
        let mut of_period = Vec::with_capacity(w_periods.len());
        for (s, w) in w_periods.iter().enumerate() {
            if w.n != first.n {
                return Err(Error::Option {
                    name: "W".into(),
                    reason: format!(
                        "time-varying W: the W of period {s} has {} units, period 0's has {}",
                        w.n, first.n
                    ),
                });
            }
            let same = |a: &Weights| {
                a.indptr == w.indptr
                    && a.indices == w.indices
                    && a.data.len() == w.data.len()
                    && a.data
                        .iter()
                        .zip(&w.data)
                        .all(|(x, y)| x.to_bits() == y.to_bits())
            };
            match ws.iter().position(|a| same(a)) {
                Some(k) => of_period.push(k),
                None => {
                    of_period.push(ws.len());
                    ws.push(w);
                }
            }
        }
        Ok(Self { ws, of_period })
    }

    /// Whether every period has the same W.
    pub(crate) fn is_static(&self) -> bool {
        self.ws.len() == 1
    }

    /// Number of periods that use `ws[k]`.
    pub(crate) fn count(&self, k: usize) -> usize {
        self.of_period.iter().filter(|&&j| j == k).count()
    }

    /// The periods that use `ws[k]`, in order.
    pub(crate) fn periods_of(&self, k: usize) -> Vec<usize> {
        (0..self.of_period.len())
            .filter(|&s| self.of_period[s] == k)
            .collect()
    }

    /// W_t v_t for every period t of a time-major panel `v` (N·T).
    pub(crate) fn lag(&self, v: &[f64], n: usize) -> Vec<f64> {
        if self.is_static() {
            return spatial_lag_panel(self.ws[0], v, n, self.of_period.len());
        }
        let mut out = Vec::with_capacity(v.len());
        for (s, &k) in self.of_period.iter().enumerate() {
            out.extend(self.ws[k].matvec(&v[s * n..(s + 1) * n]));
        }
        out
    }

    /// The periods of `ws[k]` cut out of a time-major panel (N·T) into a smaller panel.
    pub(crate) fn gather(&self, k: usize, v: &[f64], n: usize) -> Vec<f64> {
        let mut out = Vec::new();
        for s in self.periods_of(k) {
            out.extend_from_slice(&v[s * n..(s + 1) * n]);
        }
        out
    }

    /// The inverse of [`Self::gather`]: writes the sub-panel of `ws[k]` back into `out`.
    pub(crate) fn scatter(&self, k: usize, sub: &[f64], out: &mut [f64], n: usize) {
        for (q, s) in self.periods_of(k).into_iter().enumerate() {
            out[s * n..(s + 1) * n].copy_from_slice(&sub[q * n..(q + 1) * n]);
        }
    }

    /// Whether every W is row-standardised.
    pub(crate) fn row_standardised(&self) -> bool {
        self.ws.iter().all(|w| w.is_row_standardised())
    }

    /// Whether some W has a unit without neighbours.
    pub(crate) fn has_islands(&self) -> bool {
        self.ws.iter().any(|w| !w.islands().is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ring(n: usize, k: usize) -> Weights {
        let mut d = vec![0.0; n * n];
        for i in 0..n {
            for s in 1..=k {
                d[i * n + (i + s) % n] = 1.0 / (2 * k) as f64;
                d[i * n + (i + n - s) % n] = 1.0 / (2 * k) as f64;
            }
        }
        Weights::from_dense(&d, n).unwrap()
    }

    /// Equal W_t (separate copies) collapse to one W; distinct ones are kept in order of
    /// first appearance, and the lag uses W_t within period t.
    #[test]
    fn per_period_dedupes_and_lags_per_period() {
        let n = 6;
        let ws = vec![ring(n, 1), ring(n, 1), ring(n, 1)];
        assert!(PanelW::per_period(&ws).unwrap().is_static());
        let ws = vec![ring(n, 1), ring(n, 2), ring(n, 1)];
        let pw = PanelW::per_period(&ws).unwrap();
        assert_eq!(pw.of_period, vec![0, 1, 0]);
        assert_eq!((pw.count(0), pw.count(1)), (2, 1));
        let v: Vec<f64> = (0..3 * n).map(|i| (i * i) as f64).collect();
        let lag = pw.lag(&v, n);
        for s in 0..3 {
            let expect = ws[s].matvec(&v[s * n..(s + 1) * n]);
            assert_eq!(&lag[s * n..(s + 1) * n], expect.as_slice());
        }
        let sub = pw.gather(0, &v, n);
        let mut back = vec![0.0; 3 * n];
        pw.scatter(0, &sub, &mut back, n);
        assert_eq!(&back[..n], &v[..n]);
        assert_eq!(&back[2 * n..], &v[2 * n..]);
        assert!(PanelW::per_period(&[ring(n, 1), ring(n + 1, 1)]).is_err());
    }
}
