//! The wild cluster bootstrap of a fitted `feols` model, with fixed effects handled exactly.
//!
//! Partialling a fixed effect out before bootstrapping is exact only when the fixed effect is
//! nested in the bootstrap clusters (each level inside one cluster): otherwise the bootstrap
//! residuals ũ∘v are no longer orthogonal to it. So, as boottest and pyfixest do, fixed effects
//! nested in the clusters are projected out and the others enter as dummy columns. When those
//! dummies would be too many (n × dummies above `MAX_DUMMY_CELLS`), every fixed effect is
//! projected out instead, and the result says so (`fe_exact = false`).

use ndarray::{Array1, Array2, ArrayView1, ShapeBuilder};

use super::{FeolsFit, FeolsInput};
use crate::error::{Error, Result};
use crate::fe::{demean_columns, DemeanSpec, FixedEffects};
use crate::inference::{
    vcov, wild_cluster_bootstrap, FeInfo, VcovType, WildBootResult, WildBootSpec,
};
use crate::ols::{cross_products, independent_columns};

/// Above this many dummy cells the bootstrap projects every fixed effect out (approximate).
pub const MAX_DUMMY_CELLS: usize = 50_000_000;

#[derive(Debug, Clone)]
pub struct WildBoot {
    /// t statistics are on the fit's own CR1 scale (one-way, by the bootstrap cluster).
    pub result: WildBootResult,
    /// Fixed effects projected out (nested in the clusters) and entered as dummies.
    pub fe_partialled: Vec<String>,
    pub fe_as_dummies: Vec<String>,
    /// False when non-nested fixed effects had to be projected out (too many dummies).
    pub fe_exact: bool,
}

fn nested_in(codes: &[u32], levels: usize, cluster: &[u32]) -> bool {
    let mut owner = vec![u32::MAX; levels];
    codes.iter().zip(cluster).all(|(&c, &g)| {
        let o = &mut owner[c as usize];
        if *o == u32::MAX {
            *o = g;
        }
        *o == g
    })
}

impl FeolsFit {
    /// Restricted wild cluster bootstrap of `restriction'β = r` clustered by the fit's cluster
    /// variable number `cluster`. `restriction` has one entry per coefficient (`coefnames`).
    /// `input` is the input the model was fitted on (its columns rebuild the design when
    /// fixed effects must enter as dummies).
    pub fn wild_bootstrap(
        &self,
        input: &FeolsInput,
        restriction: ArrayView1<f64>,
        r: f64,
        spec: &WildBootSpec,
        cluster: usize,
    ) -> Result<WildBoot> {
        let codes = self
            .cluster_codes
            .get(cluster)
            .ok_or_else(|| Error::Option {
                name: "vcov".into(),
                reason:
                    "the wild cluster bootstrap needs a clustered fit, e.g. vcov={'CR1': 'unit'}"
                        .into(),
            })?;
        let k = self.coefnames.len();
        if restriction.len() != k {
            return Err(Error::Option {
                name: "restriction".into(),
                reason: format!("{} entries for {k} coefficients", restriction.len()),
            });
        }
        let n = self.nobs;
        let dims = self.fe.n_dims();
        let nested: Vec<bool> = (0..dims)
            .map(|q| nested_in(&self.fe.codes[q], self.fe.n_levels[q], codes))
            .collect();
        let any_nested = nested.iter().any(|&b| b);
        let n_dummies: usize = (0..dims)
            .filter(|&q| !nested[q])
            .map(|q| self.fe.n_levels[q].saturating_sub(1))
            .sum::<usize>()
            + usize::from(dims > 0 && !any_nested);
        let exact = n_dummies == 0 || n.saturating_mul(n_dummies) <= MAX_DUMMY_CELLS;
        let names = |want: bool| -> Vec<String> {
            (0..dims)
                .filter(|&q| nested[q] == want)
                .map(|q| self.fe.names[q].clone())
                .collect()
        };

        let (xw, yw) = (self.xw()?, self.yw()?);
        let owned;
        let (x, y) = if !exact || n_dummies == 0 {
            (xw, yw)
        } else {
            owned = self.design_with_dummies(input, &nested, n_dummies)?;
            (owned.0.view(), owned.1.view())
        };
        let mut rfull = Array1::<f64>::zeros(x.ncols());
        rfull.slice_mut(ndarray::s![..k]).assign(&restriction);
        let mut result = wild_cluster_bootstrap(x, y, codes, rfull.view(), r, spec)?;

        // Report t on the fit's scale: the one-way CR1 t of this hypothesis from the fit.
        // The p-value and interval do not depend on this common factor.
        let uw = &yw - &xw.dot(&self.beta);
        let fe_info = FeInfo {
            codes: self.fe.codes.iter().map(Vec::as_slice).collect(),
            n_levels: self.fe.n_levels.clone(),
        };
        let bread = crate::linalg::spd_inverse(xw.t().dot(&xw).view())?;
        let v1 = vcov(
            xw,
            uw.view(),
            bread.view(),
            &VcovType::Cluster(vec![codes.clone()]),
            &fe_info,
        )?;
        let se = restriction.dot(&v1.vcov.dot(&restriction)).sqrt();
        let t_fit = (restriction.dot(&self.beta) - r) / se;
        if result.t_stat != 0.0 && t_fit.is_finite() {
            let factor = t_fit / result.t_stat;
            result.t_stat = t_fit;
            result.t_boot.iter_mut().for_each(|t| *t *= factor);
        }
        Ok(WildBoot {
            result,
            fe_partialled: if exact {
                names(true)
            } else {
                self.fe.names.clone()
            },
            fe_as_dummies: if exact { names(false) } else { Vec::new() },
            fe_exact: exact,
        })
    }

    /// Kept regressors plus dummies of the non-nested fixed effects (first level dropped; an
    /// intercept when nothing is projected out), with the nested ones projected out.
    fn design_with_dummies(
        &self,
        input: &FeolsInput,
        nested: &[bool],
        n_dummies: usize,
    ) -> Result<(Array2<f64>, Array1<f64>)> {
        let n = self.nobs;
        let k = self.coefnames.len();
        let dims = self.fe.n_dims();
        let any_nested = nested.iter().any(|&b| b);
        let width = 1 + k + n_dummies;
        crate::alloc::ensure::<f64>(n, width, "wild bootstrap design with dummies")?;
        let mut m = Array2::<f64>::zeros((n, width).f());
        let used_rows = self.used_rows();
        if input.y.1.len() != used_rows.len() {
            return Err(Error::Shape(format!(
                "wild bootstrap: the input has {} rows, the model was fitted on {}",
                input.y.1.len(),
                used_rows.len()
            )));
        }
        let sources = std::iter::once(input.y.1).chain(self.kept.iter().map(|&j| input.x[j].1));
        for (j, src) in sources.enumerate() {
            let used = src.iter().zip(used_rows.iter()).filter(|(_, &u)| u);
            m.column_mut(j)
                .iter_mut()
                .zip(used)
                .for_each(|(d, (&v, _))| *d = v);
        }
        let mut col = 1 + k;
        if !any_nested {
            m.column_mut(col).fill(1.0);
            col += 1;
        }
        for q in (0..dims).filter(|&q| !nested[q]) {
            for (i, &c) in self.fe.codes[q].iter().enumerate() {
                if c > 0 {
                    m[[i, col + c as usize - 1]] = 1.0;
                }
            }
            col += self.fe.n_levels[q] - 1;
        }
        let w = self.weights.as_deref();
        let scale: Vec<f64> = m
            .columns()
            .into_iter()
            .skip(1)
            .map(|c| match w {
                Some(w) => c.iter().zip(w).map(|(v, wi)| wi * v * v).sum(),
                None => c.dot(&c),
            })
            .collect();
        let kept_fe: Vec<usize> = (0..dims).filter(|&q| nested[q]).collect();
        if !kept_fe.is_empty() {
            let fe = FixedEffects::new(
                kept_fe.iter().map(|&q| self.fe.names[q].clone()).collect(),
                kept_fe.iter().map(|&q| self.fe.codes[q].clone()).collect(),
                kept_fe.iter().map(|&q| self.fe.n_levels[q]).collect(),
            )?;
            let flat = m
                .as_slice_memory_order_mut()
                .ok_or_else(|| Error::Numerical("design is not contiguous".into()))?;
            let mut chunks: Vec<&mut [f64]> = flat.chunks_mut(n).collect();
            demean_columns(&mut chunks, w, &fe, &DemeanSpec::default())?;
        }
        if let Some(w) = w {
            for mut c in m.columns_mut() {
                c.iter_mut().zip(w).for_each(|(v, wi)| *v *= wi.sqrt());
            }
        }
        // Dummies collinear with the regressors or each other (e.g. disconnected panels) go.
        let cols: Vec<&[f64]> = m
            .as_slice_memory_order()
            .ok_or_else(|| Error::Numerical("design is not contiguous".into()))?
            .chunks(n)
            .collect();
        let (xtx, _) = cross_products(&cols[1..], cols[0]);
        let keep = independent_columns(&xtx, &scale);
        if keep.iter().take(k).copied().ne(0..k) {
            return Err(Error::Numerical(
                "wild bootstrap: a regressor became collinear with the fixed-effect dummies".into(),
            ));
        }
        crate::alloc::ensure::<f64>(n, keep.len(), "wild bootstrap design with dummies")?;
        let mut x = Array2::<f64>::zeros((n, keep.len()).f());
        for (j, &c) in keep.iter().enumerate() {
            x.column_mut(j).assign(&m.column(1 + c));
        }
        Ok((x, m.column(0).to_owned()))
    }
}
