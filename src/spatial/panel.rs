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
