//! Moran's I: global (normal, randomisation and permutation inference) and local (LISA with
//! conditional permutation p-values), following Cliff & Ord (1981) and Anselin (1995).

// Index loops mirror the matrix formulas they implement.
#![allow(clippy::needless_range_loop)]

use rayon::prelude::*;

use super::weights::Weights;
use crate::alloc::try_zeros;
use crate::error::{Error, Result};
use crate::interrupt::Cancel;
use crate::rng::{permute, rand_range, Streams};

#[derive(Debug, Clone)]
pub struct GlobalMoran {
    pub i: f64,
    pub ei: f64,
    pub vi_norm: f64,
    pub z_norm: f64,
    pub vi_rand: f64,
    pub z_rand: f64,
    /// Permutation: folded one-sided pseudo p-value (as esda), mean and sd of simulated I.
    pub p_sim: f64,
    pub ei_sim: f64,
    pub sd_sim: f64,
    pub permutations: usize,
}

fn check(z: &[f64], w: &Weights) -> Result<()> {
    if z.len() != w.n {
        return Err(Error::Shape(format!(
            "variable has {} values, W has {} units",
            z.len(),
            w.n
        )));
    }
    if let Some(r) = z.iter().position(|v| !v.is_finite()) {
        return Err(Error::Column {
            name: "y".into(),
            reason: format!("row {r} is missing or not finite"),
        });
    }
    if w.n < 4 {
        return Err(Error::Empty("Moran's I needs at least 4 units".into()));
    }
    Ok(())
}

fn stat(z: &[f64], w: &Weights, s0: f64) -> f64 {
    let n = z.len() as f64;
    let wz = w.matvec(z);
    let num: f64 = z.iter().zip(&wz).map(|(a, b)| a * b).sum();
    let den: f64 = z.iter().map(|v| v * v).sum();
    n / s0 * num / den
}

/// Global Moran's I of `y` under W (W used as given).
pub fn moran_global(y: &[f64], w: &Weights, permutations: usize, seed: u64) -> Result<GlobalMoran> {
    check(y, w)?;
    let n = y.len();
    let nf = n as f64;
    let mean = y.iter().sum::<f64>() / nf;
    let z: Vec<f64> = y.iter().map(|v| v - mean).collect();
    let s0: f64 = w.data.iter().sum();
    if s0 == 0.0 {
        return Err(Error::Option {
            name: "W".into(),
            reason: "all weights are zero".into(),
        });
    }
    let i = stat(&z, w, s0);
    // S1 = ½ Σ_ij (w_ij + w_ji)² = tr(W'W) + tr(WW) and S2 = Σ_i (row sum + column sum)²,
    // both from the CSR in O(nnz) (Cliff and Ord 1981), so no N×N matrix is formed.
    let s1 = w.trace_wtw() + w.trace_ww();
    let rs = w.row_sums();
    let cs = w.col_sums();
    let s2: f64 = rs.iter().zip(&cs).map(|(r, c)| (r + c).powi(2)).sum();
    let ei = -1.0 / (nf - 1.0);
    let vi_norm = (nf * nf * s1 - nf * s2 + 3.0 * s0 * s0) / ((nf * nf - 1.0) * s0 * s0) - ei * ei;
    let m2 = z.iter().map(|v| v * v).sum::<f64>() / nf;
    let m4 = z.iter().map(|v| v.powi(4)).sum::<f64>() / nf;
    let k = m4 / (m2 * m2);
    let a = nf * ((nf * nf - 3.0 * nf + 3.0) * s1 - nf * s2 + 3.0 * s0 * s0);
    let b = k * ((nf * nf - nf) * s1 - 2.0 * nf * s2 + 6.0 * s0 * s0);
    let vi_rand = (a - b) / ((nf - 1.0) * (nf - 2.0) * (nf - 3.0) * s0 * s0) - ei * ei;
    let (mut p_sim, mut ei_sim, mut sd_sim) = (f64::NAN, f64::NAN, f64::NAN);
    if permutations > 0 {
        let streams = Streams::new(seed);
        let cancel = Cancel::current();
        let mut sims = try_zeros::<f64>(permutations, "Moran permutations")?;
        sims.par_iter_mut().enumerate().try_for_each(|(p, out)| {
            cancel.check()?;
            let mut rng = streams.stream(p as u64);
            let mut zz = z.clone();
            permute(&mut rng, &mut zz);
            *out = stat(&zz, w, s0);
            Ok::<(), Error>(())
        })?;
        let mut larger = sims.iter().filter(|&&s| s >= i).count();
        if permutations - larger < larger {
            larger = permutations - larger;
        }
        p_sim = (larger as f64 + 1.0) / (permutations as f64 + 1.0);
        ei_sim = sims.iter().sum::<f64>() / permutations as f64;
        sd_sim = (sims.iter().map(|s| (s - ei_sim).powi(2)).sum::<f64>()
            / (permutations as f64 - 1.0).max(1.0))
        .sqrt();
    }
    Ok(GlobalMoran {
        i,
        ei,
        vi_norm,
        z_norm: (i - ei) / vi_norm.sqrt(),
        vi_rand,
        z_rand: (i - ei) / vi_rand.sqrt(),
        p_sim,
        ei_sim,
        sd_sim,
        permutations,
    })
}

/// Pool positions are small integers drawn uniformly: a multiplicative (Fibonacci) hash is
/// enough and much cheaper than the default SipHash in the permutation loop.
#[derive(Default)]
struct PositionHasher(u64);

impl std::hash::Hasher for PositionHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }
    fn write_usize(&mut self, i: usize) {
        self.0 = (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

/// Values moved by the partial Fisher–Yates of `moran_local`, by pool position.
type PoolMap = std::collections::HashMap<usize, f64, std::hash::BuildHasherDefault<PositionHasher>>;

#[derive(Debug, Clone)]
pub struct LocalMoran {
    /// I_i = (n − 1) z_i (Wz)_i / Σ z² (esda's scaling).
    pub is: Vec<f64>,
    /// Quadrant: 1 HH, 2 LH, 3 LL, 4 HL.
    pub quadrant: Vec<u8>,
    /// Folded conditional-permutation pseudo p-values.
    pub p_sim: Vec<f64>,
}

/// Local Moran's I (LISA) with conditional permutation p-values.
pub fn moran_local(y: &[f64], w: &Weights, permutations: usize, seed: u64) -> Result<LocalMoran> {
    check(y, w)?;
    let n = y.len();
    let nf = n as f64;
    let mean = y.iter().sum::<f64>() / nf;
    let z: Vec<f64> = y.iter().map(|v| v - mean).collect();
    let den: f64 = z.iter().map(|v| v * v).sum();
    let wz = w.matvec(&z);
    let is: Vec<f64> = (0..n).map(|i| (nf - 1.0) * z[i] * wz[i] / den).collect();
    let quadrant = (0..n)
        .map(|i| match (z[i] > 0.0, wz[i] > 0.0) {
            (true, true) => 1,
            (false, true) => 2,
            (false, false) => 3,
            (true, false) => 4,
        })
        .collect();
    let mut p_sim = vec![f64::NAN; n];
    if permutations > 0 {
        let streams = Streams::new(seed);
        let cancel = Cancel::current();
        p_sim = (0..n)
            .into_par_iter()
            .map(|i| {
                let mut rng = streams.stream(i as u64);
                // The pool of the other n − 1 values is virtual: position a holds z[a] for
                // a < i and z[a + 1] beyond, except where an earlier swap moved a value (kept
                // in `moved`). This is the same partial Fisher–Yates on the same stream as a
                // materialised pool, in O(k · permutations) per unit instead of O(n), so the
                // draws (and p-values) are unchanged and 50,000 units stay linear.
                let len = n - 1;
                let mut moved = PoolMap::default();
                let at = |moved: &PoolMap, a: usize| -> f64 {
                    match moved.get(&a) {
                        Some(&v) => v,
                        None if a < i => z[a],
                        None => z[a + 1],
                    }
                };
                let nb: Vec<(usize, f64)> = (w.indptr[i]..w.indptr[i + 1])
                    .filter(|&p| w.indices[p] != i)
                    .map(|p| (w.indices[p], w.data[p]))
                    .collect();
                let k = nb.len();
                let mut larger = 0usize;
                for _ in 0..permutations {
                    cancel.check()?;
                    // Partial Fisher–Yates: k random values from the other units.
                    for a in 0..k.min(len) {
                        let j = rand_range(&mut rng, a, len);
                        let (va, vj) = (at(&moved, a), at(&moved, j));
                        moved.insert(a, vj);
                        moved.insert(j, va);
                    }
                    let lag: f64 = nb
                        .iter()
                        .enumerate()
                        .map(|(a, &(_, wv))| wv * at(&moved, a))
                        .sum();
                    let s = (nf - 1.0) * z[i] * lag / den;
                    if s >= is[i] {
                        larger += 1;
                    }
                }
                if permutations - larger < larger {
                    larger = permutations - larger;
                }
                Ok((larger as f64 + 1.0) / (permutations as f64 + 1.0))
            })
            .collect::<Result<_>>()?;
    }
    Ok(LocalMoran {
        is,
        quadrant,
        p_sim,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cancelled_token_stops_the_permutations() {
        let n = 12;
        let rows: Vec<usize> = (0..n).flat_map(|i| [i, i]).collect();
        let cols: Vec<usize> = (0..n)
            .flat_map(|i| [(i + 1) % n, (i + n - 1) % n])
            .collect();
        let w = Weights::from_triplets(n, &rows, &cols, &vec![0.5; 2 * n]).unwrap();
        let y: Vec<f64> = (0..n).map(|i| ((i * 7) % 5) as f64).collect();
        let stop = crate::interrupt::Cancel::stale();
        let g = stop.enter(|| moran_global(&y, &w, 100_000_000, 1));
        assert!(matches!(g, Err(Error::Interrupted)));
        let l = stop.enter(|| moran_local(&y, &w, usize::MAX, 1));
        assert!(matches!(l, Err(Error::Interrupted)));
        assert!(moran_global(&y, &w, 99, 1).unwrap().p_sim.is_finite());
    }

    /// The previous implementation (a materialised pool of the other n − 1 values, O(n) per
    /// unit) as the oracle: the virtual pool draws the same values, so the p-values are equal.
    #[test]
    fn virtual_pool_equals_materialised_pool() {
        let n = 40;
        let rows: Vec<usize> = (0..n).flat_map(|i| [i, i, i]).collect();
        let cols: Vec<usize> = (0..n)
            .flat_map(|i| [(i + 1) % n, (i + n - 1) % n, (i + 7) % n])
            .collect();
        let w = Weights::from_triplets(n, &rows, &cols, &vec![1.0 / 3.0; 3 * n]).unwrap();
        let y: Vec<f64> = (0..n)
            .map(|i| ((i * 7) % 11) as f64 + 0.1 * i as f64)
            .collect();
        let perms = 199;
        let got = moran_local(&y, &w, perms, 5).unwrap();
        let nf = n as f64;
        let mean = y.iter().sum::<f64>() / nf;
        let z: Vec<f64> = y.iter().map(|v| v - mean).collect();
        let den: f64 = z.iter().map(|v| v * v).sum();
        let streams = Streams::new(5);
        for i in 0..n {
            let mut rng = streams.stream(i as u64);
            let mut pool: Vec<f64> = (0..n).filter(|&j| j != i).map(|j| z[j]).collect();
            let nb: Vec<f64> = (w.indptr[i]..w.indptr[i + 1]).map(|p| w.data[p]).collect();
            let mut larger = 0usize;
            for _ in 0..perms {
                for a in 0..nb.len() {
                    let j = rand_range(&mut rng, a, pool.len());
                    pool.swap(a, j);
                }
                let lag: f64 = nb.iter().enumerate().map(|(a, wv)| wv * pool[a]).sum();
                if (nf - 1.0) * z[i] * lag / den >= got.is[i] {
                    larger += 1;
                }
            }
            larger = larger.min(perms - larger);
            assert_eq!(
                got.p_sim[i],
                (larger as f64 + 1.0) / (perms as f64 + 1.0),
                "unit {i}"
            );
        }
    }
}
