//! Multiplier bootstrap of asymptotically linear estimators (R `did::mboot`).
//!
//! Given an n×m matrix of influence functions ψ (one column per estimate, rows = units), replicate
//! b draws i.i.d. multipliers v_i (Mammen's two-point weights, as R's `BMisc::multiplier_bootstrap`,
//! with a 16-bit threshold read a byte at a time, see [`rng::Mammen`]; or Rademacher; or Webb's six points, as the
//! wild bootstrap draws them, [`rng::webb`]) and forms `bres[b, j] = sqrt(n) · mean_i(v_i ψ_ij)`. With clusters, ψ is first
//! averaged within clusters and the multipliers are drawn per cluster (n → number of clusters),
//! as R `did` does. From the draws:
//!
//! - bootstrap standard error of column j: IQR(bres[·, j]) / (z₀.₇₅ − z₀.₂₅) / sqrt(n), with
//!   type-1 (inverse-ECDF) quantiles;
//! - uniform critical value: the (1−α) type-1 quantile over b of max_j |bres[b, j]| / σ̂_j.
//!
//! Columns whose draws are degenerate (Σ_b bres² ≤ 10·sqrt(ε)) get a NaN standard error and are
//! listed in `degenerate`; they are left out of the critical value.
//!
//! Replicate b's multipliers come from `rng::stream(seed, b)`, consumed in row order; replicates are computed in fixed blocks on the rayon pool and stored
//! by index, so results do not depend on the number of threads.

use ndarray::Array2;
use rayon::prelude::*;
use statrs::distribution::{ContinuousCDF, Normal};

use crate::alloc;
use crate::error::{Error, Result};
use crate::interrupt::Cancel;
use crate::linalg::gemm_accumulate;
pub use crate::linalg::quantile_type1;
use crate::rng::{self, ChaCha8Rng};

/// Multiplier distribution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MultiplierWeights {
    /// Mammen: 1−κ w.p. κ/√5, κ otherwise, κ = (1+√5)/2 (mean 0, variance 1); R `did`'s choice.
    Mammen,
    /// ±1 with probability 1/2.
    Rademacher,
    /// Webb's six-point distribution ±√(1/2), ±1, ±√(3/2) (Webb 2023, Canadian J. Economics
    /// 56(3)): with few clusters it has far more distinct draws than the two-point laws.
    Webb,
}

impl MultiplierWeights {
    /// "mammen", "rademacher" or "webb" (any case).
    pub fn parse(name: &str) -> Result<Self> {
        match name.to_ascii_lowercase().as_str() {
            "mammen" => Ok(Self::Mammen),
            "rademacher" => Ok(Self::Rademacher),
            "webb" => Ok(Self::Webb),
            other => Err(Error::Option {
                name: "weight_type".into(),
                reason: format!("'{other}' is not one of 'mammen', 'rademacher', 'webb'"),
            }),
        }
    }
}

/// Options of [`multiplier_bootstrap`].
#[derive(Debug, Clone, Copy)]
pub struct MultiplierSpec {
    pub biters: usize,
    pub weights: MultiplierWeights,
    pub seed: u64,
    /// Significance level of the uniform band (e.g. 0.05).
    pub alpha: f64,
}

/// Bootstrap standard errors, uniform critical value and the draws.
#[derive(Debug, Clone)]
pub struct MultiplierResult {
    /// Per column; NaN where `degenerate`.
    pub se: Vec<f64>,
    /// Columns with degenerate draws.
    pub degenerate: Vec<usize>,
    /// Uniform (sup-t) critical value over the non-degenerate columns; NaN if none.
    pub crit_val: f64,
    /// biters × m draws of sqrt(n)·mean(v ψ).
    pub draws: Array2<f64>,
    /// Number of bootstrap units (units, or clusters when clustered).
    pub n_boot_units: usize,
}

/// Replicates per block: each block draws its replicates' weights for a chunk of rows
/// (BLOCK_REPS × CHUNK_ROWS f64, 512 KB, inside L2) and multiplies them by that chunk of ψ.
/// Blocks are fixed by `biters` alone, so the thread count never changes a draw; the block
/// size can change a draw's last bits (faer's kernel depends on the block's shape). 32
/// measured faster than 64 at 500k units (att_gt, 999 draws: 0.94 vs 1.02 s); 128 slower.
const BLOCK_REPS: usize = 32;
const CHUNK_ROWS: usize = 2048;

/// Multiplier bootstrap of the columns of an influence-function matrix.
///
/// `columns[j]` is column j of ψ (length n each). `cluster`, if given, holds a cluster code in
/// `0..n_clusters` for each row.
pub fn multiplier_bootstrap(
    columns: &[&[f64]],
    cluster: Option<&[u32]>,
    spec: &MultiplierSpec,
) -> Result<MultiplierResult> {
    bootstrap_in_blocks(columns, cluster, spec, BLOCK_REPS)
}

/// [`multiplier_bootstrap`] with `block_reps` replicates per block.
fn bootstrap_in_blocks(
    columns: &[&[f64]],
    cluster: Option<&[u32]>,
    spec: &MultiplierSpec,
    block_reps: usize,
) -> Result<MultiplierResult> {
    if spec.biters < 2 {
        return Err(Error::Option {
            name: "biters".into(),
            reason: format!("need at least 2 bootstrap draws, got {}", spec.biters),
        });
    }
    if !(spec.alpha > 0.0 && spec.alpha < 1.0) {
        return Err(Error::Option {
            name: "alp".into(),
            reason: format!("must be in (0, 1), got {}", spec.alpha),
        });
    }
    let m = columns.len();
    let n = columns.first().map_or(0, |c| c.len());
    if columns.iter().any(|c| c.len() != n) {
        return Err(Error::Shape(
            "influence-function columns differ in length".into(),
        ));
    }
    if n == 0 || m == 0 {
        return Err(Error::Empty(
            "multiplier bootstrap: no influence-function rows or columns".into(),
        ));
    }
    // Cluster means (R: rowsum(inf.func, cluster) / cluster size).
    let owned: Vec<Vec<f64>>;
    let cols: Vec<&[f64]> = match cluster {
        None => columns.to_vec(),
        Some(cl) => {
            if cl.len() != n {
                return Err(Error::Shape(format!(
                    "cluster codes have length {}, influence functions {}",
                    cl.len(),
                    n
                )));
            }
            let g = cl.iter().map(|&c| c as usize + 1).max().unwrap_or(0);
            let mut size = vec![0usize; g];
            for &c in cl {
                size[c as usize] += 1;
            }
            // Drop codes without rows (keep cluster order = ascending code, as R's reorder).
            let remap: Vec<Option<usize>> = {
                let mut k = 0;
                size.iter()
                    .map(|&s| {
                        if s > 0 {
                            k += 1;
                            Some(k - 1)
                        } else {
                            None
                        }
                    })
                    .collect()
            };
            let ng = size.iter().filter(|&&s| s > 0).count();
            owned = columns
                .iter()
                .map(|col| {
                    let mut sums = vec![0.0; ng];
                    for (i, &v) in col.iter().enumerate() {
                        if let Some(k) = remap[cl[i] as usize] {
                            sums[k] += v;
                        }
                    }
                    let mut k = 0;
                    for &s in &size {
                        if s > 0 {
                            sums[k] /= s as f64;
                            k += 1;
                        }
                    }
                    sums
                })
                .collect();
            owned.iter().map(|v| v.as_slice()).collect()
        }
    };
    let nb = cols[0].len();
    let scale = (nb as f64).sqrt() / nb as f64; // sqrt(n) * mean
    let streams = rng::Streams::new(spec.seed);
    let mammen = rng::Mammen::new();
    let weights = spec.weights;

    // ψ as one contiguous column-major nb × m matrix, for GEMM on row chunks.
    let mut psi = Vec::with_capacity(nb * m);
    for c in &cols {
        psi.extend_from_slice(c);
    }
    // The draws, biters x m row-major, written block by block in place (fallible: biters is
    // the user's); every block and every chunk of rows checks for cancellation.
    let cancel = Cancel::current();
    let len = alloc::elements(
        spec.biters,
        m,
        "multiplier bootstrap draws (biters x cells)",
    )?;
    let mut data = alloc::try_zeros::<f64>(len, "multiplier bootstrap draws (biters x cells)")?;
    data.par_chunks_mut(block_reps * m)
        .enumerate()
        .try_for_each(|(blk, out)| {
            cancel.check()?;
            let b0 = blk * block_reps;
            let b1 = (b0 + block_reps).min(spec.biters);
            let nrep = b1 - b0;
            let mut rngs: Vec<ChaCha8Rng> = (b0..b1).map(|b| streams.stream(b as u64)).collect();
            // column-major nrep × m
            let mut acc = vec![0.0; nrep * m];
            // draws of the block's replicates for one chunk of rows, row-major nrep × len
            let mut v = vec![0.0; nrep * CHUNK_ROWS];
            let mut start = 0;
            while start < nb {
                cancel.check()?;
                let end = (start + CHUNK_ROWS).min(nb);
                let len = end - start;
                for (r, rng) in rngs.iter_mut().enumerate() {
                    draw(weights, rng, &mut v[r * len..(r + 1) * len], &mammen);
                }
                gemm_accumulate(
                    &mut acc,
                    (nrep, m, len),
                    &v[..nrep * len],
                    &psi[start..start + (m - 1) * nb + len],
                    nb,
                );
                start = end;
            }
            for r in 0..nrep {
                for j in 0..m {
                    out[r * m + j] = acc[j * nrep + r] * scale;
                }
            }
            Ok::<(), Error>(())
        })?;
    let draws = Array2::from_shape_vec((spec.biters, m), data)
        .map_err(|e| Error::Internal(format!("multiplier draws: {e}")))?;
    let (sigma, degenerate) = iqr_sigma(&draws)?;
    let sqrt_nb = (nb as f64).sqrt();
    let se = sigma.iter().map(|s| s / sqrt_nb).collect();
    let all: Vec<usize> = (0..m).collect();
    let crit_val = crit_value(&draws, &sigma, &all, spec.alpha);
    Ok(MultiplierResult {
        se,
        degenerate,
        crit_val,
        draws,
        n_boot_units: nb,
    })
}

/// Per-column IQR-based scale of bootstrap draws (NaN for degenerate columns, also listed).
pub fn iqr_sigma(draws: &Array2<f64>) -> Result<(Vec<f64>, Vec<usize>)> {
    let normal = Normal::new(0.0, 1.0).map_err(|e| Error::Numerical(e.to_string()))?;
    let zq = normal.inverse_cdf(0.75) - normal.inverse_cdf(0.25);
    let tol = f64::EPSILON.sqrt() * 10.0;
    let mut sigma = Vec::with_capacity(draws.ncols());
    let mut degenerate = Vec::new();
    let cancel = Cancel::current();
    for j in 0..draws.ncols() {
        cancel.check()?;
        let col: Vec<f64> =
            alloc::try_collect(draws.column(j).iter().copied(), "bootstrap column")?;
        let ss: f64 = col.iter().map(|x| x * x).sum();
        if !ss.is_finite() || ss <= tol {
            sigma.push(f64::NAN);
            degenerate.push(j);
            continue;
        }
        let mut s = col;
        s.sort_by(f64::total_cmp);
        let sd = (quantile_type1(&s, 0.75) - quantile_type1(&s, 0.25)) / zq;
        if sd <= tol {
            sigma.push(f64::NAN);
            degenerate.push(j);
        } else {
            sigma.push(sd);
        }
    }
    Ok((sigma, degenerate))
}

/// Uniform critical value over `cols`: the (1−α) type-1 quantile of max_j |draw_j / σ_j|
/// (columns with NaN σ skipped). NaN if no usable column.
pub fn crit_value(draws: &Array2<f64>, sigma: &[f64], cols: &[usize], alpha: f64) -> f64 {
    let usable: Vec<usize> = cols
        .iter()
        .copied()
        .filter(|&j| sigma[j].is_finite())
        .collect();
    if usable.is_empty() {
        return f64::NAN;
    }
    let mut bt: Vec<f64> = (0..draws.nrows())
        .map(|b| {
            usable
                .iter()
                .map(|&j| (draws[[b, j]] / sigma[j]).abs())
                .fold(f64::NEG_INFINITY, f64::max)
        })
        .filter(|x| x.is_finite())
        .collect();
    if bt.is_empty() {
        return f64::NAN;
    }
    bt.sort_by(f64::total_cmp);
    quantile_type1(&bt, 1.0 - alpha)
}

#[inline]
fn draw(kind: MultiplierWeights, rng: &mut ChaCha8Rng, v: &mut [f64], mammen: &rng::Mammen) {
    match kind {
        MultiplierWeights::Mammen => mammen.fill(rng, v),
        MultiplierWeights::Rademacher => rng::rademacher_bits(rng, v),
        MultiplierWeights::Webb => rng::webb(rng, v),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn se_close_to_analytic_and_seeded() {
        let n = 4000;
        let col: Vec<f64> = (0..n).map(|i| ((i * 7919) % 101) as f64 - 50.0).collect();
        let spec = MultiplierSpec {
            biters: 999,
            weights: MultiplierWeights::Mammen,
            seed: 7,
            alpha: 0.05,
        };
        let a = multiplier_bootstrap(&[&col], None, &spec).unwrap();
        let b = multiplier_bootstrap(&[&col], None, &spec).unwrap();
        assert_eq!(a.se, b.se);
        let analytic = (col.iter().map(|x| x * x).sum::<f64>()).sqrt() / n as f64;
        assert!(
            (a.se[0] / analytic - 1.0).abs() < 0.1,
            "{} {}",
            a.se[0],
            analytic
        );
    }

    /// The block size only groups replicates for the GEMM: every block size gives the same
    /// draws up to rounding (the GEMM kernel faer picks depends on the block's shape, so the
    /// last bits may differ; the thread count never changes them, see the test above).
    /// Rows over several chunks (CHUNK_ROWS), three columns, every weight law, blocks of 1,
    /// 7, 32 and 64 replicates.
    #[test]
    fn block_size_changes_draws_only_by_rounding() {
        let n = 2 * CHUNK_ROWS + 123;
        let cols: Vec<Vec<f64>> = (0..3)
            .map(|j| {
                (0..n)
                    .map(|i| ((i * 7919 + j * 31) % 101) as f64 - 50.0)
                    .collect()
            })
            .collect();
        let refs: Vec<&[f64]> = cols.iter().map(|c| c.as_slice()).collect();
        for weights in [
            MultiplierWeights::Mammen,
            MultiplierWeights::Rademacher,
            MultiplierWeights::Webb,
        ] {
            let spec = MultiplierSpec {
                biters: 99,
                weights,
                seed: 3,
                alpha: 0.05,
            };
            let draws = |block: usize| {
                bootstrap_in_blocks(&refs, None, &spec, block)
                    .unwrap()
                    .draws
            };
            let reference = draws(BLOCK_REPS);
            let scale = reference.iter().fold(0.0f64, |m, v| m.max(v.abs()));
            for block in [1, 7, 64] {
                let other = draws(block);
                let worst = other
                    .iter()
                    .zip(reference.iter())
                    .fold(0.0f64, |m, (a, b)| m.max((a - b).abs()));
                assert!(
                    worst <= 1e-13 * scale,
                    "{weights:?}, blocks of {block}: {worst}"
                );
            }
        }
    }

    /// Every weight law has mean 0 and variance 1, and Mammen's two points have R did's
    /// probabilities: P((1-√5)/2) = (√5+1)/(2√5) (BMisc::multiplier_bootstrap).
    #[test]
    fn weight_laws_have_unit_variance_and_mammen_probabilities() {
        let mammen = rng::Mammen::new();
        for w in [
            MultiplierWeights::Mammen,
            MultiplierWeights::Rademacher,
            MultiplierWeights::Webb,
        ] {
            let mut r = rng::stream(11, 0);
            let mut v = vec![0.0; 200_000];
            draw(w, &mut r, &mut v, &mammen);
            let n = v.len() as f64;
            let mean = v.iter().sum::<f64>() / n;
            let var = v.iter().map(|x| x * x).sum::<f64>() / n;
            assert!(mean.abs() < 0.01, "{w:?} mean {mean}");
            assert!((var - 1.0).abs() < 0.01, "{w:?} var {var}");
            if w == MultiplierWeights::Mammen {
                let s5 = 5f64.sqrt();
                // the low point, (1-√5)/2 up to the 16-bit quantisation of p (rng::Mammen)
                let low = v
                    .iter()
                    .filter(|&&x| (x - (1.0 - s5) / 2.0).abs() < 1e-4)
                    .count();
                let p = (s5 + 1.0) / (2.0 * s5);
                let sd = (p * (1.0 - p) / n).sqrt();
                assert!((low as f64 / n - p).abs() < 4.0 * sd, "{}", low as f64 / n);
            }
        }
        assert!(MultiplierWeights::parse("WEBB").is_ok());
        assert!(matches!(
            MultiplierWeights::parse("normal"),
            Err(Error::Option { .. })
        ));
    }
}
