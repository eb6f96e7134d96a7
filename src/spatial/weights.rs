//! Spatial weights in compressed sparse row (CSR) form, and their constructors.

// Index loops mirror the matrix formulas they implement.
#![allow(clippy::needless_range_loop)]

use super::kdtree::{chord_of_km, rows_in_parallel, KdTree};
use crate::error::{Error, Result};

/// A sparse N×N spatial weights matrix in CSR form (rows = units).
#[derive(Debug, Clone, PartialEq)]
pub struct Weights {
    pub n: usize,
    pub indptr: Vec<usize>,
    pub indices: Vec<usize>,
    pub data: Vec<f64>,
}

/// Mean Earth radius in kilometres (as in spatial packages that use haversine distance).
pub const EARTH_RADIUS_KM: f64 = 6371.0088;

/// Great-circle (haversine) distance in km between two (lat, lon) points in degrees.
pub fn great_circle_km(lat1: f64, lon1: f64, lat2: f64, lon2: f64, radius_km: f64) -> f64 {
    let (p1, p2) = (lat1.to_radians(), lat2.to_radians());
    let dp = p2 - p1;
    let dl = (lon2 - lon1).to_radians();
    let a = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    2.0 * radius_km * a.sqrt().min(1.0).asin()
}

/// Coordinates in degrees: latitude in [-90, 90], longitude in [-180, 360] (both the
/// signed and the 0–360 conventions), finite, as many of each.
fn check_coords(lat: &[f64], lon: &[f64], radius_km: f64) -> Result<()> {
    if !(radius_km > 0.0 && radius_km.is_finite()) {
        return Err(Error::Option {
            name: "radius_km".into(),
            reason: format!("must be positive, got {radius_km}"),
        });
    }
    if lat.len() != lon.len() {
        return Err(Error::Shape(format!(
            "lat has {} values, lon has {}",
            lat.len(),
            lon.len()
        )));
    }
    for (i, (&a, &b)) in lat.iter().zip(lon).enumerate() {
        if !a.is_finite() || !(-90.0..=90.0).contains(&a) {
            return Err(Error::Column {
                name: "lat".into(),
                reason: format!(
                    "row {i} has an invalid coordinate ({a}, {b}): latitude must be a finite \
                     number of degrees in [-90, 90]"
                ),
            });
        }
        if !b.is_finite() || !(-180.0..=360.0).contains(&b) {
            return Err(Error::Column {
                name: "lon".into(),
                reason: format!(
                    "row {i} has an invalid coordinate ({a}, {b}): longitude must be a finite \
                     number of degrees in [-180, 360]"
                ),
            });
        }
    }
    Ok(())
}

/// A distance cutoff in km: positive and finite.
fn check_cutoff(name: &str, km: f64) -> Result<()> {
    if !(km > 0.0 && km.is_finite()) {
        return Err(Error::Option {
            name: name.into(),
            reason: format!("must be a positive number of km, got {km}"),
        });
    }
    Ok(())
}

impl Weights {
    /// From (row, col, value) triplets; duplicates are summed, zeros dropped, diagonal rejected.
    pub fn from_triplets(n: usize, rows: &[usize], cols: &[usize], vals: &[f64]) -> Result<Self> {
        if rows.len() != cols.len() || rows.len() != vals.len() {
            return Err(Error::Shape(
                "rows, cols and values differ in length".into(),
            ));
        }
        let mut per_row: Vec<Vec<(usize, f64)>> = crate::alloc::try_vec(n, Vec::new(), "W rows")?;
        for ((&i, &j), &v) in rows.iter().zip(cols).zip(vals) {
            if i >= n || j >= n {
                return Err(Error::Shape(format!(
                    "entry ({i}, {j}) outside a {n}x{n} matrix"
                )));
            }
            if !v.is_finite() {
                return Err(Error::Option {
                    name: "W".into(),
                    reason: format!("entry ({i}, {j}) is not finite"),
                });
            }
            if v != 0.0 {
                per_row[i].push((j, v));
            }
        }
        let mut indptr = crate::alloc::try_with_capacity(n.saturating_add(1), "W rows")?;
        let mut indices = Vec::new();
        let mut data = Vec::new();
        indptr.push(0);
        for mut r in per_row {
            r.sort_by_key(|&(j, _)| j);
            for (j, v) in r {
                if indices.len() > *indptr.last().unwrap_or(&0) && indices.last() == Some(&j) {
                    if let Some(last) = data.last_mut() {
                        *last += v;
                    }
                } else {
                    indices.push(j);
                    data.push(v);
                }
            }
            indptr.push(indices.len());
        }
        Ok(Weights {
            n,
            indptr,
            indices,
            data,
        })
    }

    /// From a dense row-major n×n matrix.
    pub fn from_dense(values: &[f64], n: usize) -> Result<Self> {
        if Some(values.len()) != n.checked_mul(n) {
            return Err(Error::Shape(format!(
                "W must be square: {} values for {n} units",
                values.len()
            )));
        }
        let (mut r, mut c, mut v) = (Vec::new(), Vec::new(), Vec::new());
        for i in 0..n {
            for j in 0..n {
                let x = values[i * n + j];
                if x != 0.0 {
                    r.push(i);
                    c.push(j);
                    v.push(x);
                }
            }
        }
        Self::from_triplets(n, &r, &c, &v)
    }

    /// Dense row-major copy (n² values: `Error::OutOfMemory` when they do not fit).
    pub fn to_dense(&self) -> Result<Vec<f64>> {
        let len = crate::alloc::elements(self.n, self.n, "dense W (n x n)")?;
        let mut out = crate::alloc::try_vec(len, 0.0, "dense W (n x n)")?;
        for i in 0..self.n {
            for p in self.indptr[i]..self.indptr[i + 1] {
                out[i * self.n + self.indices[p]] = self.data[p];
            }
        }
        Ok(out)
    }

    pub fn nnz(&self) -> usize {
        self.data.len()
    }

    /// Units with no neighbours (empty rows).
    pub fn islands(&self) -> Vec<usize> {
        (0..self.n)
            .filter(|&i| self.indptr[i + 1] == self.indptr[i])
            .collect()
    }

    pub fn row_sums(&self) -> Vec<f64> {
        (0..self.n)
            .map(|i| self.data[self.indptr[i]..self.indptr[i + 1]].iter().sum())
            .collect()
    }

    /// Whether a non-zero diagonal exists.
    pub fn has_diagonal(&self) -> bool {
        (0..self.n).any(|i| {
            (self.indptr[i]..self.indptr[i + 1])
                .any(|p| self.indices[p] == i && self.data[p] != 0.0)
        })
    }

    /// Whether every non-empty row sums to one (within 1e-10).
    pub fn is_row_standardised(&self) -> bool {
        self.row_sums()
            .iter()
            .zip(self.islands_mask())
            .all(|(s, island)| island || (s - 1.0).abs() < 1e-10)
    }

    fn islands_mask(&self) -> Vec<bool> {
        (0..self.n)
            .map(|i| self.indptr[i + 1] == self.indptr[i])
            .collect()
    }

    /// Row standardisation. Islands are an error unless `allow_islands` (their rows stay zero).
    pub fn row_standardise(&self, allow_islands: bool) -> Result<Self> {
        let isl = self.islands();
        if !isl.is_empty() && !allow_islands {
            return Err(Error::Option {
                name: "W".into(),
                reason: format!(
                    "{} unit(s) have no neighbours (islands, positions {:?}); row standardisation \
                     leaves their rows zero: pass allow_islands=True to accept that, or change W",
                    isl.len(),
                    &isl[..isl.len().min(10)]
                ),
            });
        }
        let sums = self.row_sums();
        let mut out = self.clone();
        for i in 0..self.n {
            if sums[i] == 0.0 {
                if self.indptr[i + 1] > self.indptr[i] {
                    return Err(Error::Option {
                        name: "W".into(),
                        reason: format!("row {i} sums to zero and cannot be row-standardised"),
                    });
                }
                continue;
            }
            for p in self.indptr[i]..self.indptr[i + 1] {
                out.data[p] /= sums[i];
            }
        }
        Ok(out)
    }

    /// Divides by a scalar.
    pub fn scaled(&self, s: f64) -> Self {
        let mut out = self.clone();
        out.data.iter_mut().for_each(|v| *v /= s);
        out
    }

    /// y = W x.
    pub fn matvec(&self, x: &[f64]) -> Vec<f64> {
        (0..self.n)
            .map(|i| {
                (self.indptr[i]..self.indptr[i + 1])
                    .map(|p| self.data[p] * x[self.indices[p]])
                    .sum()
            })
            .collect()
    }

    /// y = W' x.
    pub fn matvec_t(&self, x: &[f64]) -> Vec<f64> {
        let mut y = vec![0.0; self.n];
        for i in 0..self.n {
            for p in self.indptr[i]..self.indptr[i + 1] {
                y[self.indices[p]] += self.data[p] * x[i];
            }
        }
        y
    }

    /// Column sums (W'ι), O(nnz).
    pub fn col_sums(&self) -> Vec<f64> {
        let mut c = vec![0.0; self.n];
        for (&j, &v) in self.indices.iter().zip(&self.data) {
            c[j] += v;
        }
        c
    }

    /// tr(W'W) = Σ_ij w_ij², from the CSR (duplicate entries are summed first).
    pub fn trace_wtw(&self) -> f64 {
        let mut work = vec![0.0; self.n];
        let mut acc = 0.0;
        for i in 0..self.n {
            let row = self.indptr[i]..self.indptr[i + 1];
            for p in row.clone() {
                work[self.indices[p]] += self.data[p];
            }
            for p in row.clone() {
                let j = self.indices[p];
                acc += work[j] * work[j];
                work[j] = 0.0;
            }
        }
        acc
    }

    /// tr(WW) = Σ_ij w_ij w_ji, from W and its transpose (O(nnz), no N×N matrix): row i of W
    /// is scattered into a work vector and met with column i of W.
    pub fn trace_ww(&self) -> f64 {
        let n = self.n;
        // Column i of W as (row k, w_ki), by a counting sort of the entries.
        let mut cptr = vec![0usize; n + 1];
        for &j in &self.indices {
            cptr[j + 1] += 1;
        }
        for j in 0..n {
            cptr[j + 1] += cptr[j];
        }
        let mut fill = cptr.clone();
        let mut crow = vec![0usize; self.nnz()];
        let mut cval = vec![0.0; self.nnz()];
        for i in 0..n {
            for p in self.indptr[i]..self.indptr[i + 1] {
                let j = self.indices[p];
                crow[fill[j]] = i;
                cval[fill[j]] = self.data[p];
                fill[j] += 1;
            }
        }
        let mut work = vec![0.0; n];
        let mut acc = 0.0;
        for i in 0..n {
            for p in self.indptr[i]..self.indptr[i + 1] {
                work[self.indices[p]] += self.data[p];
            }
            for q in cptr[i]..cptr[i + 1] {
                acc += cval[q] * work[crow[q]];
            }
            for p in self.indptr[i]..self.indptr[i + 1] {
                work[self.indices[p]] = 0.0;
            }
        }
        acc
    }

    /// Largest absolute eigenvalue (spectral radius), by power iteration on W'W for the
    /// largest singular value when W is not symmetric, or on W itself for symmetric W.
    /// For a non-negative W the spectral radius is estimated by power iteration on W.
    pub fn spectral_radius(&self) -> f64 {
        let n = self.n;
        if n == 0 {
            return 0.0;
        }
        let mut x = vec![1.0 / (n as f64).sqrt(); n];
        let mut lambda = 0.0;
        for _ in 0..10_000 {
            // Power iteration on (W + c I) avoids oscillation for bipartite-like graphs.
            let wx = self.matvec(&x);
            let y: Vec<f64> = wx.iter().zip(&x).map(|(a, b)| a + b).collect();
            let norm = y.iter().map(|v| v * v).sum::<f64>().sqrt();
            if norm == 0.0 {
                return 0.0;
            }
            let xn: Vec<f64> = y.iter().map(|v| v / norm).collect();
            let wxn = self.matvec(&xn);
            let l: f64 = xn.iter().zip(&wxn).map(|(a, b)| a * b).sum();
            x = xn;
            if (l - lambda).abs() < 1e-14 * l.abs().max(1.0) {
                lambda = l;
                break;
            }
            lambda = l;
        }
        lambda
    }

    /// Spectral normalisation: W / (largest eigenvalue modulus).
    pub fn spectral_normalise(&self) -> Result<Self> {
        if self.data.iter().any(|&v| v < 0.0) {
            return Err(Error::Option {
                name: "W".into(),
                reason: "spectral normalisation needs non-negative weights".into(),
            });
        }
        let r = self.spectral_radius();
        if r <= 0.0 {
            return Err(Error::Option {
                name: "W".into(),
                reason: "W has spectral radius zero".into(),
            });
        }
        Ok(self.scaled(r))
    }

    /// Whether W is exactly symmetric (w_ij == w_ji for every pair; a missing entry is 0).
    pub fn is_symmetric(&self) -> bool {
        let at = |i: usize, j: usize| -> f64 {
            (self.indptr[i]..self.indptr[i + 1])
                .filter(|&p| self.indices[p] == j)
                .map(|p| self.data[p])
                .sum()
        };
        (0..self.n).all(|i| {
            (self.indptr[i]..self.indptr[i + 1])
                .all(|p| at(i, self.indices[p]) == at(self.indices[p], i))
        })
    }
}

/// Inverse-distance weights 1/d^power from (lat, lon) in degrees, great-circle distance in km;
/// pairs farther than `cutoff_km` (if given) get zero. With a cutoff the pairs come from a k-d
/// tree (O(N log N) plus the number of pairs); without one every pair is a neighbour (N²).
/// Identical coordinates are an error (1/0), reported for the first pair in row order.
pub fn inverse_distance(
    lat: &[f64],
    lon: &[f64],
    power: f64,
    cutoff_km: Option<f64>,
    radius_km: f64,
) -> Result<Weights> {
    check_coords(lat, lon, radius_km)?;
    if let Some(cut) = cutoff_km {
        check_cutoff("cutoff_km", cut)?;
    }
    let n = lat.len();
    let tree = KdTree::new(lat, lon)?;
    let chord = chord_of_km(cutoff_km.unwrap_or(f64::INFINITY), radius_km);
    let (indptr, indices, data) = rows_in_parallel(n, |i, sc| {
        tree.radius_candidates(i, chord, sc);
        sc.cand.sort_unstable_by_key(|c| c.1);
        let mut row = Vec::with_capacity(sc.cand.len());
        for &(_, j) in sc.cand.iter() {
            let d = great_circle_km(lat[i], lon[i], lat[j], lon[j], radius_km);
            if d == 0.0 {
                let (a, b) = (i.min(j), i.max(j));
                return Err(Error::Column {
                    name: "lat/lon".into(),
                    reason: format!("units {a} and {b} have identical coordinates"),
                });
            }
            if cutoff_km.is_some_and(|cut| d > cut) {
                continue;
            }
            let v = d.powf(-power);
            if v != 0.0 {
                row.push((j, v));
            }
        }
        Ok(row)
    })?;
    Ok(Weights {
        n,
        indptr,
        indices,
        data,
    })
}

/// Binary distance band: 1 if 0 < d <= threshold (km; units at identical coordinates are
/// neighbours). Pairs from a k-d tree, then the haversine test of the brute-force rule.
pub fn distance_band(
    lat: &[f64],
    lon: &[f64],
    threshold_km: f64,
    radius_km: f64,
) -> Result<Weights> {
    check_coords(lat, lon, radius_km)?;
    check_cutoff("threshold_km", threshold_km)?;
    let n = lat.len();
    let tree = KdTree::new(lat, lon)?;
    let chord = chord_of_km(threshold_km, radius_km);
    let (indptr, indices, data) = rows_in_parallel(n, |i, sc| {
        tree.radius_candidates(i, chord, sc);
        sc.cand.sort_unstable_by_key(|c| c.1);
        Ok(sc
            .cand
            .iter()
            .map(|c| c.1)
            .filter(|&j| great_circle_km(lat[i], lon[i], lat[j], lon[j], radius_km) <= threshold_km)
            .map(|j| (j, 1.0))
            .collect())
    })?;
    Ok(Weights {
        n,
        indptr,
        indices,
        data,
    })
}

/// k nearest neighbours by great-circle distance (binary, not symmetric in general), in
/// O(N log N) by a k-d tree on unit-sphere coordinates (`super::kdtree`). The neighbours are
/// the k smallest haversine distances with ties broken by the lower index, the same sets as a
/// brute-force search; a unit is never its own neighbour, but other units at the same
/// coordinates are (distance 0).
pub fn knn(lat: &[f64], lon: &[f64], k: usize, radius_km: f64) -> Result<Weights> {
    check_coords(lat, lon, radius_km)?;
    let n = lat.len();
    if k == 0 || k >= n {
        return Err(Error::Option {
            name: "k".into(),
            reason: format!(
                "must be between 1 and n-1 = {}, got {k}",
                n.saturating_sub(1)
            ),
        });
    }
    crate::alloc::ensure::<usize>(n, k, "k nearest neighbours (n x k)")?;
    let tree = KdTree::new(lat, lon)?;
    let indices = tree.knn_all(k, |i, j| {
        great_circle_km(lat[i], lon[i], lat[j], lon[j], radius_km)
    })?;
    let indptr = (0..=n).map(|i| i * k).collect();
    let data = vec![1.0; indices.len()];
    Ok(Weights {
        n,
        indptr,
        indices,
        data,
    })
}

/// The O(N²) k-nearest-neighbour search the tree replaces (kept as the test oracle).
#[cfg(test)]
pub(crate) fn knn_brute(lat: &[f64], lon: &[f64], k: usize, radius_km: f64) -> Vec<Vec<usize>> {
    let n = lat.len();
    (0..n)
        .map(|i| {
            let mut d: Vec<(f64, usize)> = (0..n)
                .filter(|&j| j != i)
                .map(|j| {
                    (
                        great_circle_km(lat[i], lon[i], lat[j], lon[j], radius_km),
                        j,
                    )
                })
                .collect();
            d.select_nth_unstable_by(k - 1, |a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            let mut nb: Vec<usize> = d[..k].iter().map(|x| x.1).collect();
            nb.sort_unstable();
            nb
        })
        .collect()
}

/// Economic distance weights 1/|z_i − z_j| (z e.g. GDP per capita); equal values get zero.
pub fn economic_distance(z: &[f64]) -> Result<Weights> {
    let n = z.len();
    if let Some(i) = z.iter().position(|v| !v.is_finite()) {
        return Err(Error::Column {
            name: "economic variable".into(),
            reason: format!("row {i} is not finite"),
        });
    }
    let (mut r, mut c, mut v) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..n {
        for j in 0..n {
            let d = (z[i] - z[j]).abs();
            if i != j && d > 0.0 {
                r.push(i);
                c.push(j);
                v.push(1.0 / d);
            }
        }
    }
    Weights::from_triplets(n, &r, &c, &v)
}

/// Nested geographic × economic weights: elementwise W_geo ∘ W_econ, where
/// W_econ[i,j] = 1/|z_i − z_j| (pairs with equal z keep the geographic weight when
/// `keep_ties`, else 0).
pub fn nested(geo: &Weights, z: &[f64]) -> Result<Weights> {
    if z.len() != geo.n {
        return Err(Error::Shape(format!(
            "economic variable has {} values for {} units",
            z.len(),
            geo.n
        )));
    }
    let mut out = geo.clone();
    for i in 0..geo.n {
        for p in geo.indptr[i]..geo.indptr[i + 1] {
            let d = (z[i] - z[geo.indices[p]]).abs();
            out.data[p] = if d > 0.0 { geo.data[p] / d } else { 0.0 };
        }
    }
    let (mut r, mut c, mut v) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..out.n {
        for p in out.indptr[i]..out.indptr[i + 1] {
            r.push(i);
            c.push(out.indices[p]);
            v.push(out.data[p]);
        }
    }
    Weights::from_triplets(out.n, &r, &c, &v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn row_standardise_and_islands() {
        let w = Weights::from_dense(&[0.0, 1.0, 0.0, 2.0, 0.0, 0.0, 0.0, 0.0, 0.0], 3).unwrap();
        assert_eq!(w.islands(), vec![2]);
        assert!(w.row_standardise(false).is_err());
        let r = w.row_standardise(true).unwrap();
        assert_eq!(r.to_dense().unwrap()[1], 1.0);
        assert_eq!(r.to_dense().unwrap()[3], 1.0);
    }

    #[test]
    fn haversine_known_distance() {
        // Shanghai to Nanjing about 270 km.
        let d = great_circle_km(31.23, 121.47, 32.06, 118.80, EARTH_RADIUS_KM);
        assert!((d - 268.0).abs() < 10.0);
    }

    /// Brute-force haversine (the previous O(N²) rule) as the oracle, on clustered points with
    /// exact duplicates and a regular grid (exact distance ties, broken by index).
    #[test]
    fn knn_tree_equals_brute_force_with_ties_and_duplicates() {
        let mut lat = Vec::new();
        let mut lon = Vec::new();
        for a in 0..15 {
            for b in 0..15 {
                lat.push(30.0 + 0.5 * a as f64);
                lon.push(115.0 + 0.5 * b as f64);
            }
        }
        // Duplicates of the first few grid points, and points across the antimeridian.
        for i in 0..5 {
            lat.push(lat[i]);
            lon.push(lon[i]);
        }
        for i in 0..20 {
            lat.push(-10.0 + i as f64);
            lon.push(if i % 2 == 0 { 179.9 } else { -179.9 });
        }
        for k in [1, 4, 8, 30] {
            let w = knn(&lat, &lon, k, EARTH_RADIUS_KM).unwrap();
            let brute = knn_brute(&lat, &lon, k, EARTH_RADIUS_KM);
            for i in 0..lat.len() {
                assert_eq!(
                    &w.indices[w.indptr[i]..w.indptr[i + 1]],
                    &brute[i][..],
                    "k {k} row {i}"
                );
            }
        }
    }

    #[test]
    fn distance_band_and_cutoff_equal_all_pairs() {
        let lat: Vec<f64> = (0..300)
            .map(|i| 20.0 + ((i * 37) % 101) as f64 * 0.2)
            .collect();
        let lon: Vec<f64> = (0..300)
            .map(|i| 100.0 + ((i * 53) % 97) as f64 * 0.25)
            .collect();
        let mut seen = std::collections::HashSet::new();
        let keep: Vec<usize> = (0..300)
            .filter(|&i| seen.insert((lat[i].to_bits(), lon[i].to_bits())))
            .collect();
        let la: Vec<f64> = keep.iter().map(|&i| lat[i]).collect();
        let lo: Vec<f64> = keep.iter().map(|&i| lon[i]).collect();
        let n = la.len();
        for cut in [50.0, 300.0, 2000.0] {
            let band = distance_band(&la, &lo, cut, EARTH_RADIUS_KM).unwrap();
            let inv = inverse_distance(&la, &lo, 1.5, Some(cut), EARTH_RADIUS_KM).unwrap();
            let (mut r, mut c, mut v) = (Vec::new(), Vec::new(), Vec::new());
            for i in 0..n {
                for j in 0..n {
                    let d = great_circle_km(la[i], lo[i], la[j], lo[j], EARTH_RADIUS_KM);
                    if i != j && d <= cut {
                        r.push(i);
                        c.push(j);
                        v.push(d.powf(-1.5));
                    }
                }
            }
            let want_inv = Weights::from_triplets(n, &r, &c, &v).unwrap();
            let want_band = Weights::from_triplets(n, &r, &c, &vec![1.0; r.len()]).unwrap();
            assert_eq!(band, want_band);
            assert_eq!(inv, want_inv);
        }
        assert!(distance_band(&la, &lo, 0.0, EARTH_RADIUS_KM).is_err());
        assert!(inverse_distance(&la, &lo, 1.0, Some(0.0), EARTH_RADIUS_KM).is_err());
        assert!(knn(&[0.0, 1.0], &[400.0, 0.0], 1, EARTH_RADIUS_KM).is_err());
        assert!(knn(&[91.0, 1.0], &[0.0, 0.0], 1, EARTH_RADIUS_KM).is_err());
    }

    #[test]
    fn sparse_traces_equal_dense() {
        let n = 7;
        let (mut r, mut c, mut v) = (Vec::new(), Vec::new(), Vec::new());
        for i in 0..n {
            for j in 0..n {
                if i != j && (i * 3 + j * 5) % 4 != 0 {
                    r.push(i);
                    c.push(j);
                    v.push(((i * 7 + j * 2) % 5) as f64 + 0.25);
                }
            }
        }
        let w = Weights::from_triplets(n, &r, &c, &v).unwrap();
        let d = w.to_dense().unwrap();
        let (mut wtw, mut ww) = (0.0, 0.0);
        for i in 0..n {
            for j in 0..n {
                wtw += d[i * n + j] * d[i * n + j];
                ww += d[i * n + j] * d[j * n + i];
            }
        }
        assert!((w.trace_wtw() - wtw).abs() < 1e-12 * wtw);
        assert!((w.trace_ww() - ww).abs() < 1e-12 * ww);
        let cs: Vec<f64> = (0..n).map(|j| (0..n).map(|i| d[i * n + j]).sum()).collect();
        assert_eq!(w.col_sums(), cs);
    }
}
