//! Conley (1999) spatial HAC meat matrix, with the panel extension of Hsiang (2010): spatial
//! correlation between observations of the same period within a distance cutoff, plus serial
//! correlation of a unit with itself up to a lag cutoff.
//!
//! With scores `s_r = xw_r · uw_r` (row r = unit i at period t), the meat is
//!
//! ```text
//! M = Σ_t Σ_{i,j observed at t} K(d_ij) s_it s_jt'                       (spatial, includes i = j)
//!   + Σ_i Σ_{t ≠ t', |t − t'| ≤ L} (1 − |t − t'| / (L + 1)) s_it s_it''  (serial, excludes t = t')
//! ```
//!
//! so the same-unit same-period term `s_it s_it'` is counted once (in the spatial part, where
//! K(0) = 1), as in Hsiang's `ols_spatial_HAC` and Butts' `conley_ses`. `K` is Bartlett
//! `1 − d/cutoff` or uniform `1`, both for `d ≤ cutoff` and 0 beyond. `d` is the haversine
//! great-circle distance on a sphere of radius 6371 km (the IUGG mean Earth radius, which
//! fixest's R helper `great_circle_distance` and conleyreg use). Without a time variable every
//! row is in one period (a cross-section, or a pooled panel).
//!
//! fixest (`vcov_conley`, C++ `cpp_vcov_conley`) differs in three ways, so it is not matched
//! to rounding: its kernel is uniform only; its default `distance = "triangular"` is a flat
//! approximation with 111 km per degree, and its `"spherical"` haversine uses 12752/2 = 6376 km
//! with π ≈ 3.14159; and it pools every pair of rows of a panel within the cutoff whatever
//! their periods (it sums scores by coordinate cell first). Our uniform kernel without unit
//! and time is that pooled estimator on a 6371 km sphere. fixest's panel version
//! (`conley_hac`) is not in the sources we could read; the panel formula here is Hsiang's.
//!
//! Neighbours are found without an N×N matrix: sites (units) are put in latitude bands of the
//! cutoff's height, sorted by longitude inside a band; a site looks only at the bands within the
//! cutoff and, inside each, at the longitude window that the haversine bound allows. The work is
//! split over fixed blocks of sites (rayon) whose partial sums are added in block order, so the
//! result does not depend on the number of threads.

use ndarray::{Array2, ArrayView1, ArrayView2};
use rayon::prelude::*;

use crate::error::{Error, Result};

/// Mean Earth radius in km (IUGG; fixest's and conleyreg's great-circle distance use it).
pub const EARTH_RADIUS_KM: f64 = 6371.0;

/// Weight of a pair of observations as a function of their distance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConleyKernel {
    /// `1 − d / cutoff` (Conley 1999's Bartlett window in distance).
    Bartlett,
    /// `1` within the cutoff (fixest's `vcov_conley`).
    Uniform,
}

impl ConleyKernel {
    pub fn name(self) -> &'static str {
        match self {
            ConleyKernel::Bartlett => "Bartlett",
            ConleyKernel::Uniform => "uniform",
        }
    }
}

/// The per-row data of a Conley variance on the estimation sample.
#[derive(Debug, Clone, PartialEq)]
pub struct ConleyData {
    /// Latitude and longitude in degrees, one per row.
    pub lat: Vec<f64>,
    pub lon: Vec<f64>,
    /// Unit codes (any u32), one per row; `None`: every row is its own site.
    pub unit: Option<Vec<u32>>,
    /// Period of each row (integer time); `None`: one period.
    pub time: Option<Vec<i64>>,
    pub cutoff_km: f64,
    /// Serial lag cutoff in time units; 0 = spatial only.
    pub lag: usize,
    pub kernel: ConleyKernel,
}

fn opt_err(key: &str, reason: String) -> Error {
    Error::Option {
        name: format!("vcov['conley']['{key}']"),
        reason,
    }
}

/// Haversine great-circle distance in km between points given in radians.
#[inline]
pub fn haversine_km(lat1: f64, lon1: f64, lat2: f64, lon2: f64) -> f64 {
    let dlat = lat2 - lat1;
    let dlon = lon2 - lon1;
    let a = (dlat / 2.0).sin().powi(2) + lat1.cos() * lat2.cos() * (dlon / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_KM * a.sqrt().min(1.0).asin()
}

/// One site: a unit's coordinates (radians) and its rows sorted by period.
struct Sites {
    lat: Vec<f64>,
    lon: Vec<f64>,
    /// CSR: rows of site s are `rows[start[s]..start[s + 1]]`, by increasing period.
    start: Vec<usize>,
    rows: Vec<usize>,
}

fn build_sites(d: &ConleyData, n: usize) -> Result<Sites> {
    for (key, v, bound) in [("lat", &d.lat, 90.0), ("lon", &d.lon, 180.0)] {
        if v.len() != n {
            return Err(Error::Shape(format!(
                "vcov conley: {key} has {} values but there are {n} observations",
                v.len()
            )));
        }
        if let Some((r, x)) = v
            .iter()
            .enumerate()
            .find(|(_, x)| !x.is_finite() || x.abs() > bound)
        {
            return Err(opt_err(
                key,
                format!(
                    "coordinate {x} at row {r} is outside [-{bound}, {bound}] degrees \
                     (missing coordinates are not allowed)"
                ),
            ));
        }
    }
    if !(d.cutoff_km.is_finite() && d.cutoff_km > 0.0) {
        return Err(opt_err(
            "cutoff_km",
            format!("must be a positive number of km, got {}", d.cutoff_km),
        ));
    }
    if let Some(t) = &d.time {
        if t.len() != n {
            return Err(Error::Shape(format!(
                "vcov conley: time has {} values but there are {n} observations",
                t.len()
            )));
        }
    }
    if d.lag > 0 && (d.unit.is_none() || d.time.is_none()) {
        return Err(opt_err(
            "lag",
            format!(
                "lag = {} needs the unit and time of each row (keys 'unit' and 'time')",
                d.lag
            ),
        ));
    }
    // Site of each row: dense unit codes, or the row itself.
    let (site_of, n_sites): (Vec<usize>, usize) = match &d.unit {
        Some(u) => {
            if u.len() != n {
                return Err(Error::Shape(format!(
                    "vcov conley: unit has {} values but there are {n} observations",
                    u.len()
                )));
            }
            let (codes, g) = super::codes::dense_codes(u);
            (codes.iter().map(|&c| c as usize).collect(), g)
        }
        None => ((0..n).collect(), n),
    };
    let mut lat = vec![f64::NAN; n_sites];
    let mut lon = vec![f64::NAN; n_sites];
    let mut count = vec![0usize; n_sites];
    for (r, &s) in site_of.iter().enumerate() {
        if count[s] == 0 {
            lat[s] = d.lat[r];
            lon[s] = d.lon[r];
        } else if lat[s] != d.lat[r] || lon[s] != d.lon[r] {
            return Err(opt_err(
                "unit",
                format!(
                    "coordinates must be constant within a unit: row {r} has ({}, {}) but an \
                     earlier row of the same unit has ({}, {})",
                    d.lat[r], d.lon[r], lat[s], lon[s]
                ),
            ));
        }
        count[s] += 1;
    }
    let mut start = vec![0usize; n_sites + 1];
    for s in 0..n_sites {
        start[s + 1] = start[s] + count[s];
    }
    let mut fill = start.clone();
    let mut rows = vec![0usize; n];
    for (r, &s) in site_of.iter().enumerate() {
        rows[fill[s]] = r;
        fill[s] += 1;
    }
    if let Some(t) = &d.time {
        for s in 0..n_sites {
            let block = &mut rows[start[s]..start[s + 1]];
            block.sort_by_key(|&r| (t[r], r));
            if d.unit.is_some() {
                if let Some(w) = block.windows(2).find(|w| t[w[0]] == t[w[1]]) {
                    return Err(opt_err(
                        "time",
                        format!(
                            "unit and time must identify rows: rows {} and {} are the same unit \
                             at period {}",
                            w[0], w[1], t[w[0]]
                        ),
                    ));
                }
            }
        }
    }
    let to_rad = std::f64::consts::PI / 180.0;
    Ok(Sites {
        lat: lat.iter().map(|v| v * to_rad).collect(),
        lon: lon.iter().map(|v| v * to_rad).collect(),
        start,
        rows,
    })
}

/// Latitude bands of sites sorted by longitude, for the neighbour search.
struct Grid {
    band_height: f64,
    /// Per band: (lon, site) sorted by lon.
    bands: Vec<Vec<(f64, usize)>>,
}

impl Grid {
    fn new(sites: &Sites, cutoff_km: f64) -> Self {
        let band_height = (cutoff_km / EARTH_RADIUS_KM).min(std::f64::consts::PI);
        let n_bands = ((std::f64::consts::PI / band_height).ceil() as usize).max(1);
        let mut bands = vec![Vec::new(); n_bands];
        for (s, (&la, &lo)) in sites.lat.iter().zip(&sites.lon).enumerate() {
            bands[Self::band_of(la, band_height, n_bands)].push((lo, s));
        }
        for b in &mut bands {
            b.sort_by(|a, c| a.0.total_cmp(&c.0).then(a.1.cmp(&c.1)));
        }
        Grid { band_height, bands }
    }

    fn band_of(lat: f64, h: f64, n_bands: usize) -> usize {
        (((lat + std::f64::consts::FRAC_PI_2) / h) as usize).min(n_bands - 1)
    }

    /// Sites within `cutoff_km` of site `s` with their kernel weights, sorted by site.
    fn neighbours(
        &self,
        sites: &Sites,
        s: usize,
        cutoff_km: f64,
        kernel: ConleyKernel,
        out: &mut Vec<(usize, f64)>,
    ) {
        out.clear();
        let (la, lo) = (sites.lat[s], sites.lon[s]);
        let pi = std::f64::consts::PI;
        let h = self.band_height;
        let n_bands = self.bands.len();
        // Margin against rounding at the window edges; the haversine test decides.
        let ang = cutoff_km / EARTH_RADIUS_KM * (1.0 + 1e-9) + 1e-12;
        let b_lo = Self::band_of((la - ang).max(-pi / 2.0), h, n_bands);
        let b_hi = Self::band_of((la + ang).min(pi / 2.0), h, n_bands);
        // |Δlon| bound: sin²(d/2R) ≥ cos φ1 cos φ2 sin²(Δλ/2), cos φ ≥ cos(|φ| + d/R).
        let max_abs_lat = la.abs() + ang;
        let dlon = if max_abs_lat >= pi / 2.0 {
            pi
        } else {
            let ratio = (ang / 2.0).sin() / max_abs_lat.cos();
            if ratio >= 1.0 {
                pi
            } else {
                2.0 * ratio.asin() * (1.0 + 1e-9) + 1e-12
            }
        };
        let mut visit = |band: &[(f64, usize)], from: f64, to: f64| {
            let i0 = band.partition_point(|p| p.0 < from);
            for &(_, j) in band[i0..].iter().take_while(|p| p.0 <= to) {
                let d = haversine_km(la, lo, sites.lat[j], sites.lon[j]);
                if d <= cutoff_km {
                    let w = match kernel {
                        ConleyKernel::Bartlett => 1.0 - d / cutoff_km,
                        ConleyKernel::Uniform => 1.0,
                    };
                    out.push((j, w));
                }
            }
        };
        for band in &self.bands[b_lo..=b_hi] {
            if dlon >= pi {
                visit(band, f64::NEG_INFINITY, f64::INFINITY);
                continue;
            }
            let (from, to) = (lo - dlon, lo + dlon);
            visit(band, from.max(-pi), to.min(pi));
            // Windows crossing the antimeridian wrap around.
            if from < -pi {
                visit(band, from + 2.0 * pi, pi);
            }
            if to > pi {
                visit(band, -pi, to - 2.0 * pi);
            }
        }
        out.sort_by_key(|p| p.0);
        out.dedup_by_key(|p| p.0);
    }
}

/// Sites per parallel block: fixed, so the summation order does not depend on the threads.
const BLOCK: usize = 64;

/// The Conley / Hsiang spatial-HAC meat `M` (k×k, symmetric) from the transformed regressors
/// `xw`, residuals `uw` and the coordinates, units and periods of the rows (module docs).
///
/// Errors (`Error::Option` naming the key): coordinates NaN or outside [-90, 90] / [-180, 180],
/// cutoff not positive, lag > 0 without unit and time, coordinates varying within a unit, a
/// unit observed twice in a period.
pub fn conley_meat(
    xw: ArrayView2<f64>,
    uw: ArrayView1<f64>,
    d: &ConleyData,
) -> Result<Array2<f64>> {
    let (n, k) = xw.dim();
    let sites = build_sites(d, n)?;
    let grid = Grid::new(&sites, d.cutoff_km);
    // Scores, row-major n×k.
    let mut scores = vec![0.0; n * k];
    for (r, (xi, &ui)) in xw.outer_iter().zip(uw.iter()).enumerate() {
        for (j, &x) in xi.iter().enumerate() {
            scores[r * k + j] = x * ui;
        }
    }
    let scores = &scores;
    let time = d.time.as_deref();
    let period = |r: usize| time.map_or(0, |t| t[r]);
    let lag = d.lag as i64;
    let n_sites = sites.lat.len();
    let n_blocks = n_sites.div_ceil(BLOCK);
    let partials: Vec<Vec<f64>> = (0..n_blocks)
        .into_par_iter()
        .map(|b| {
            let mut m = vec![0.0; k * k];
            let mut nb = Vec::new();
            let mut acc = vec![0.0; k];
            for s in b * BLOCK..((b + 1) * BLOCK).min(n_sites) {
                grid.neighbours(&sites, s, d.cutoff_km, d.kernel, &mut nb);
                let rows_s = &sites.rows[sites.start[s]..sites.start[s + 1]];
                for (pos, &r) in rows_s.iter().enumerate() {
                    let t = period(r);
                    acc.iter_mut().for_each(|a| *a = 0.0);
                    // Spatial: every neighbour's row at the same period (binary search: its
                    // rows are sorted by period).
                    for &(j, w) in &nb {
                        let rows_j = &sites.rows[sites.start[j]..sites.start[j + 1]];
                        let i0 = rows_j.partition_point(|&q| period(q) < t);
                        for &q in rows_j[i0..].iter().take_while(|&&q| period(q) == t) {
                            let sq = &scores[q * k..(q + 1) * k];
                            acc.iter_mut().zip(sq).for_each(|(a, v)| *a += w * v);
                        }
                    }
                    // Serial: the unit's own other periods within the lag.
                    if lag > 0 {
                        for &q in rows_s[pos + 1..]
                            .iter()
                            .take_while(|&&q| period(q) - t <= lag)
                            .chain(
                                rows_s[..pos]
                                    .iter()
                                    .rev()
                                    .take_while(|&&q| t - period(q) <= lag),
                            )
                        {
                            let w = 1.0 - (period(q) - t).abs() as f64 / (lag + 1) as f64;
                            let sq = &scores[q * k..(q + 1) * k];
                            acc.iter_mut().zip(sq).for_each(|(a, v)| *a += w * v);
                        }
                    }
                    let sr = &scores[r * k..(r + 1) * k];
                    for (a, &x) in sr.iter().enumerate() {
                        for (c, &y) in acc.iter().enumerate() {
                            m[a * k + c] += x * y;
                        }
                    }
                }
            }
            m
        })
        .collect();
    let mut meat = Array2::<f64>::zeros((k, k));
    for p in &partials {
        for a in 0..k {
            for c in 0..k {
                meat[[a, c]] += p[a * k + c];
            }
        }
    }
    // Symmetric in exact arithmetic; average the rounding.
    let mt = meat.t().to_owned();
    Ok((meat + mt) * 0.5)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array1;

    /// The dense double loop of the module formula.
    fn dense(x: &Array2<f64>, u: &Array1<f64>, d: &ConleyData) -> Array2<f64> {
        let (n, k) = x.dim();
        let r = std::f64::consts::PI / 180.0;
        let mut m = Array2::<f64>::zeros((k, k));
        for i in 0..n {
            for j in 0..n {
                let ti = d.time.as_ref().map_or(0, |t| t[i]);
                let tj = d.time.as_ref().map_or(0, |t| t[j]);
                let same_unit = d.unit.as_ref().is_some_and(|u| u[i] == u[j]);
                let mut w = 0.0;
                if ti == tj {
                    let dist = haversine_km(d.lat[i] * r, d.lon[i] * r, d.lat[j] * r, d.lon[j] * r);
                    if dist <= d.cutoff_km {
                        w = match d.kernel {
                            ConleyKernel::Bartlett => 1.0 - dist / d.cutoff_km,
                            ConleyKernel::Uniform => 1.0,
                        };
                    }
                } else if same_unit && (ti - tj).unsigned_abs() as usize <= d.lag {
                    w = 1.0 - (ti - tj).abs() as f64 / (d.lag + 1) as f64;
                }
                for a in 0..k {
                    for c in 0..k {
                        m[[a, c]] += w * x[[i, a]] * u[i] * x[[j, c]] * u[j];
                    }
                }
            }
        }
        m
    }

    use crate::rng::test_uniform as lcg;

    #[test]
    fn matches_dense_loop_including_antimeridian_and_poles() {
        let mut st = 7u64;
        let (units, periods) = (40usize, 5usize);
        let mut ulat = Vec::new();
        let mut ulon = Vec::new();
        for i in 0..units {
            // Half near the antimeridian, a few near the pole.
            let la = if i % 10 == 0 {
                88.0 + lcg(&mut st)
            } else {
                -10.0 + 20.0 * lcg(&mut st)
            };
            let lo = if i % 2 == 0 {
                178.0 + 4.0 * lcg(&mut st) - 2.0
            } else {
                3.0 * lcg(&mut st)
            };
            ulat.push(la);
            ulon.push(if lo > 180.0 { lo - 360.0 } else { lo });
        }
        let n = units * periods;
        let x = Array2::from_shape_fn(
            (n, 2),
            |(r, c)| if c == 0 { 1.0 } else { (r as f64 * 0.37).sin() },
        );
        let u = Array1::from_shape_fn(n, |_| lcg(&mut st) - 0.5);
        for kernel in [ConleyKernel::Bartlett, ConleyKernel::Uniform] {
            for (cutoff, lag) in [(50.0, 0), (300.0, 2), (2000.0, 4)] {
                let d = ConleyData {
                    lat: (0..n).map(|r| ulat[r / periods]).collect(),
                    lon: (0..n).map(|r| ulon[r / periods]).collect(),
                    unit: Some((0..n).map(|r| (r / periods) as u32 * 3).collect()),
                    time: Some((0..n).map(|r| 2000 + (r % periods) as i64).collect()),
                    cutoff_km: cutoff,
                    lag,
                    kernel,
                };
                let fast = conley_meat(x.view(), u.view(), &d).unwrap();
                let slow = dense(&x, &u, &d);
                for (a, b) in fast.iter().zip(slow.iter()) {
                    assert!(
                        (a - b).abs() <= 1e-12 * slow[[0, 0]].abs().max(1.0),
                        "{a} vs {b}"
                    );
                }
            }
        }
    }

    #[test]
    fn bad_inputs_name_the_key() {
        let x = Array2::from_elem((3, 1), 1.0);
        let u = Array1::from_vec(vec![1.0, -1.0, 0.5]);
        let base = ConleyData {
            lat: vec![0.0, 1.0, 2.0],
            lon: vec![0.0, 1.0, 2.0],
            unit: None,
            time: None,
            cutoff_km: 100.0,
            lag: 0,
            kernel: ConleyKernel::Uniform,
        };
        let msg = |d: &ConleyData| match conley_meat(x.view(), u.view(), d) {
            Err(Error::Option { name, .. }) => name,
            other => panic!("{other:?}"),
        };
        let mut d = base.clone();
        d.lat[1] = 91.0;
        assert!(msg(&d).contains("lat"));
        let mut d = base.clone();
        d.lon[2] = f64::NAN;
        assert!(msg(&d).contains("lon"));
        let mut d = base.clone();
        d.cutoff_km = 0.0;
        assert!(msg(&d).contains("cutoff_km"));
        let mut d = base.clone();
        d.lag = 2;
        assert!(msg(&d).contains("lag"));
        let mut d = base;
        d.unit = Some(vec![0, 0, 1]);
        assert!(msg(&d).contains("unit"));
    }
}
