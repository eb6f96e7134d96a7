//! Unit (omega) and time (lambda) weights of synthetic DID by Frank–Wolfe with exact line search,
//! step for step as R `synthdid` 0.0.9 (`R/solver.R`, `R/synthdid.R`) computes them, so that the
//! weights agree with the reference to rounding.
//!
//! Both weight problems are `min_x zeta^2 |x|^2 + |A x - b|^2 / rows` over the unit simplex, on
//! the collapsed panel (controls' pre periods, the post-period mean, the treated mean):
//! - lambda: rows = control units, columns = pre periods, b = each control's post mean;
//! - omega: rows = pre periods, columns = control units, b = the treated units' mean path.
//!
//! With an intercept every column (and b) is centred over the rows first. Without covariates
//! each problem is solved alone: `max_iter_pre_sparsify` iterations from the start value, then
//! [`sparsify`], then up to `max_iter` more (R's default two rounds). With covariates R's
//! `sc.weight.fw.covariates` alternates one step of each weight with a 1/t gradient step on beta.

/// A matrix stored column by column (`cols` columns of `rows` values each).
pub(crate) struct ColMajor {
    pub rows: usize,
    pub cols: usize,
    pub data: Vec<f64>,
}

impl ColMajor {
    pub fn col(&self, j: usize) -> &[f64] {
        &self.data[j * self.rows..(j + 1) * self.rows]
    }
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Subtracts from each column, and from `b`, its mean over the rows (R: `intercept = TRUE`).
pub(crate) fn centre(a: &mut ColMajor, b: &mut [f64]) {
    let rows = a.rows as f64;
    for j in 0..a.cols {
        let col = &mut a.data[j * a.rows..(j + 1) * a.rows];
        let m = col.iter().sum::<f64>() / rows;
        col.iter_mut().for_each(|v| *v -= m);
    }
    let m = b.iter().sum::<f64>() / rows;
    b.iter_mut().for_each(|v| *v -= m);
}

/// One weight problem with its running state: `ax` = A x is kept up to date.
pub(crate) struct Problem<'a> {
    pub a: &'a ColMajor,
    pub b: &'a [f64],
    /// ridge weight in the step: rows * zeta^2
    pub eta: f64,
}

impl Problem<'_> {
    pub fn ax(&self, x: &[f64]) -> Vec<f64> {
        let mut ax = vec![0.0; self.a.rows];
        for (j, &xj) in x.iter().enumerate() {
            if xj != 0.0 {
                ax.iter_mut()
                    .zip(self.a.col(j))
                    .for_each(|(s, v)| *s += xj * v);
            }
        }
        ax
    }

    /// One Frank–Wolfe step with exact line search (R `fw.step`, alpha = NULL); updates x and A x.
    pub fn step(&self, x: &mut [f64], ax: &mut [f64]) {
        let resid: Vec<f64> = ax.iter().zip(self.b).map(|(p, q)| p - q).collect();
        // half gradient A'(Ax - b) + eta x; the first minimum, as R's which.min
        let mut best = 0;
        let mut best_g = f64::INFINITY;
        let mut grad = Vec::with_capacity(x.len());
        for (j, &xj) in x.iter().enumerate() {
            let g = dot(self.a.col(j), &resid) + self.eta * xj;
            if g < best_g {
                best_g = g;
                best = j;
            }
            grad.push(g);
        }
        // d = e_i - x
        let all_zero = x.iter().enumerate().all(|(j, &xj)| {
            if j == best {
                1.0 - xj == 0.0
            } else {
                xj == 0.0
            }
        });
        if all_zero || !best_g.is_finite() {
            return;
        }
        let mut num = 0.0; // -grad'd
        let mut dd = 0.0; // |d|^2
        for (j, (&xj, g)) in x.iter().zip(&grad).enumerate() {
            let d = if j == best { 1.0 - xj } else { -xj };
            num -= g * d;
            dd += d * d;
        }
        let col = self.a.col(best);
        let derr2: f64 = col
            .iter()
            .zip(ax.iter())
            .map(|(c, p)| (c - p) * (c - p))
            .sum();
        let step = num / (derr2 + self.eta * dd);
        let s = step.clamp(0.0, 1.0);
        if step.is_nan() || s == 0.0 {
            return;
        }
        for (j, xj) in x.iter_mut().enumerate() {
            let d = if j == best { 1.0 - *xj } else { -*xj };
            *xj += s * d;
        }
        // A(x + s(e_i - x)) = (1 - s) Ax + s A e_i
        ax.iter_mut()
            .zip(col)
            .for_each(|(p, c)| *p = (1.0 - s) * *p + s * c);
    }
}

/// Most Gram-column values one solve keeps (8M values, 64 MB).
const GRAM_CACHE: usize = 8 << 20;

/// `out[j] = sum_r m[r, j] v[r]` for a matrix stored row by row (`m.len() / cols` rows of
/// `cols` values), accumulated over `r` in increasing order: for every `j` the same additions,
/// in the same order, as `dot(column j, v)`, so the result is bitwise that of the column-wise
/// dot products, but the inner loop runs along contiguous memory and vectorises (the dot of a
/// 20-value column is a chain of dependent additions).
///
/// On x86-64 processors with AVX2 (checked at run time; the wheel targets the baseline
/// x86-64) the same loop is compiled for 256-bit registers: four columns per instruction
/// instead of two, with separate multiplies and adds (no fused multiply-add), so every
/// number is bitwise that of the baseline build.
fn row_major_product(m: &[f64], cols: usize, v: &[f64], out: &mut [f64]) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2 (checked just above), the only requirement of a
            // `target_feature(enable = "avx2")` function; the body is safe Rust.
            unsafe { row_major_product_avx2(m, cols, v, out) };
            return;
        }
    }
    row_major_product_baseline(m, cols, v, out);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn row_major_product_avx2(m: &[f64], cols: usize, v: &[f64], out: &mut [f64]) {
    row_major_product_baseline(m, cols, v, out);
}

#[inline(always)]
fn row_major_product_baseline(m: &[f64], cols: usize, v: &[f64], out: &mut [f64]) {
    out.iter_mut().for_each(|o| *o = 0.0);
    if cols == 0 {
        return;
    }
    for (row, &vr) in m.chunks_exact(cols).zip(v) {
        out.iter_mut().zip(row).for_each(|(o, &a)| *o += a * vr);
    }
}

/// What one Frank–Wolfe update leaves: x'x, x'A'Ax, x'A'b, and the new half gradient's
/// first minimum, its value and g'x.
struct Update {
    xx: f64,
    xatax: f64,
    xatb: f64,
    best: usize,
    best_g: f64,
    gx: f64,
}

/// Lanes of the first-minimum search (independent compare chains).
const ARGMIN_LANES: usize = 4;

/// Entry j of one Frank–Wolfe step: x_j and (A'Ax)_j after the step towards e_vertex
/// (r = 1 - s), and the next iteration's half gradient at j.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn gradient_after_step(
    x: &mut [f64],
    atax: &mut [f64],
    atb: &[f64],
    gram_col: &[f64],
    j: usize,
    vertex: usize,
    r: f64,
    s: f64,
    eta: f64,
) -> f64 {
    let xj = r * x[j] + if j == vertex { s } else { 0.0 };
    let v = r * atax[j] + s * gram_col[j];
    x[j] = xj;
    atax[j] = v;
    v - atb[j] + eta * xj
}

/// x <- (1 - s) x + s e_v, A'Ax <- (1 - s) A'Ax + s A'a_v, and the new half gradient's first
/// minimum, in one pass over the weights. The sums x'x, x'A'Ax and x'A'b follow in closed
/// form from their previous values (with r = 1 - s: x'x <- r²x'x + 2rs x_v + s²,
/// x'A'Ax <- r²x'A'Ax + 2rs (A'Ax)_v + s² a_v'a_v, x'A'b <- r x'A'b + s (A'b)_v) and
/// g'x = x'A'Ax - x'A'b + eta x'x, so the pass carries no chain of dependent additions; the
/// first minimum is searched in ARGMIN_LANES interleaved lanes whose minima are combined with
/// ties going to the smaller index, which is the sequential scan's first minimum. A function
/// of its own so that the accumulators stay in registers.
#[inline(never)]
#[allow(clippy::too_many_arguments)]
fn fw_update(
    x: &mut [f64],
    atax: &mut [f64],
    atb: &[f64],
    gram_col: &[f64],
    vertex: usize,
    s: f64,
    eta: f64,
    sums: (f64, f64, f64),
) -> Update {
    let n = x.len();
    let (atax, atb, gram_col) = (&mut atax[..n], &atb[..n], &gram_col[..n]);
    let r = 1.0 - s;
    let (xx0, xatax0, xatb0) = sums;
    let xx = r * r * xx0 + 2.0 * r * s * x[vertex] + s * s;
    let xatax = r * r * xatax0 + 2.0 * r * s * atax[vertex] + s * s * gram_col[vertex];
    let xatb = r * xatb0 + s * atb[vertex];
    let gx = xatax - xatb + eta * xx;
    let mut lane_g = [f64::INFINITY; ARGMIN_LANES];
    let mut lane_j = [usize::MAX; ARGMIN_LANES];
    let body = n - n % ARGMIN_LANES;
    for j0 in (0..body).step_by(ARGMIN_LANES) {
        // fixed-width lanes: independent compare chains the processor interleaves
        for l in 0..ARGMIN_LANES {
            let j = j0 + l;
            let g = gradient_after_step(x, atax, atb, gram_col, j, vertex, r, s, eta);
            if g < lane_g[l] {
                lane_g[l] = g;
                lane_j[l] = j;
            }
        }
    }
    for j in body..n {
        let l = j - body;
        let g = gradient_after_step(x, atax, atb, gram_col, j, vertex, r, s, eta);
        if g < lane_g[l] {
            lane_g[l] = g;
            lane_j[l] = j;
        }
    }
    let (mut best, mut best_g) = (0, f64::INFINITY);
    for (&g, &j) in lane_g.iter().zip(&lane_j) {
        if g < best_g || (g == best_g && j < best) {
            best_g = g;
            best = j;
        }
    }
    Update {
        xx,
        xatax,
        xatb,
        best,
        best_g,
        gx,
    }
}

/// R `sc.weight.fw`: Frank–Wolfe from `x` until an iteration lowers the objective by no more
/// than `min_decrease^2`, or `max_iter` iterations.
///
/// The same steps as [`Problem::step`], in Gram form: the gradient A'(Ax - b) + eta x, the
/// line search's |a_i - Ax|^2 and the objective's |Ax - b|^2 all follow from A'Ax, which
/// after x <- (1 - s) x + s e_i is (1 - s) A'Ax + s A'a_i. The Gram column A'a_i is computed
/// once per vertex Frank–Wolfe visits (cached up to [`GRAM_CACHE`] values), from a row-major
/// copy of A (see [`row_major_product`]); one pass over the weights per iteration updates x and
/// A'Ax and forms the next iteration's gradient, with x'x, x'A'Ax and x'A'b updated in closed
/// form (see [`fw_update`]). The steps equal [`Problem::step`]'s to rounding (the Rust test
/// `gram_form_follows_the_plain_steps` and the synthdid oracle tests).
pub(crate) fn sc_weight_fw(
    p: &Problem<'_>,
    zeta: f64,
    mut x: Vec<f64>,
    min_decrease: f64,
    max_iter: usize,
) -> Vec<f64> {
    let z2 = zeta * zeta;
    let (rows, cols) = (p.a.rows as f64, p.a.cols);
    // A row by row: the Gram columns, A'b and A'Ax as axpy sweeps over contiguous rows
    let mut a_rows = vec![0.0; p.a.rows * cols];
    for j in 0..cols {
        for (r, &v) in p.a.col(j).iter().enumerate() {
            a_rows[r * cols + j] = v;
        }
    }
    let ax = p.ax(&x);
    let mut atb = vec![0.0; cols];
    row_major_product(&a_rows, cols, p.b, &mut atb);
    let bb = dot(p.b, p.b);
    let mut atax = vec![0.0; cols];
    row_major_product(&a_rows, cols, &ax, &mut atax);
    let mut gram: Vec<Option<Vec<f64>>> = vec![None; cols];
    let mut cached = 0usize;
    let mut fresh = vec![0.0; cols];
    let mut xx = dot(&x, &x);
    let mut xatax = dot(&x, &atax);
    let mut xatb = dot(&x, &atb);
    // half gradient, its first minimum (R's which.min) and g'x, for the current x
    let (mut best, mut best_g, mut gx) = (0, f64::INFINITY, 0.0);
    for j in 0..cols {
        let g = atax[j] - atb[j] + p.eta * x[j];
        gx += g * x[j];
        if g < best_g {
            best_g = g;
            best = j;
        }
    }
    let (mut prev, mut last) = (f64::NAN, f64::NAN);
    let mut t = 0;
    while t < max_iter && (t < 2 || prev - last > min_decrease * min_decrease) {
        t += 1;
        let xi = x[best];
        let at_vertex = xi == 1.0 && x.iter().filter(|&&v| v != 0.0).count() == 1;
        if !at_vertex && best_g.is_finite() {
            let num = -(best_g - gx); // -g'(e_i - x)
            let dd = xx - 2.0 * xi + 1.0; // |e_i - x|^2
            let g: &[f64] = if gram[best].is_some() || (cached + 1) * cols <= GRAM_CACHE {
                if gram[best].is_none() {
                    cached += 1;
                }
                gram[best].get_or_insert_with(|| {
                    let mut col = vec![0.0; cols];
                    row_major_product(&a_rows, cols, p.a.col(best), &mut col);
                    col
                })
            } else {
                row_major_product(&a_rows, cols, p.a.col(best), &mut fresh);
                &fresh
            };
            // |a_i - Ax|^2 = a_i'a_i - 2 a_i'Ax + x'A'Ax
            let derr2 = g[best] - 2.0 * atax[best] + xatax;
            let step = num / (derr2 + p.eta * dd);
            let s = step.clamp(0.0, 1.0);
            if !step.is_nan() && s != 0.0 {
                let u = fw_update(
                    &mut x,
                    &mut atax,
                    &atb,
                    g,
                    best,
                    s,
                    p.eta,
                    (xx, xatax, xatb),
                );
                (xx, xatax, xatb) = (u.xx, u.xatax, u.xatb);
                (best, best_g, gx) = (u.best, u.best_g, u.gx);
            }
        }
        prev = last;
        // |Ax - b|^2 = x'A'Ax - 2 x'A'b + b'b
        let sse = xatax - 2.0 * xatb + bb;
        last = z2 * xx + sse / rows;
    }
    x
}

/// R `sparsify_function`: weights at or below a quarter of the largest set to zero, renormalised.
pub(crate) fn sparsify(v: &[f64]) -> Vec<f64> {
    let max = v.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let kept: Vec<f64> = v
        .iter()
        .map(|&w| if w <= max / 4.0 { 0.0 } else { w })
        .collect();
    let s: f64 = kept.iter().sum();
    kept.iter().map(|w| w / s).collect()
}

/// R `sum_normalize`: x / sum(x), or uniform weights when x sums to zero.
pub(crate) fn sum_normalize(x: &[f64]) -> Vec<f64> {
    let s: f64 = x.iter().sum();
    if s != 0.0 {
        x.iter().map(|v| v / s).collect()
    } else {
        vec![1.0 / x.len() as f64; x.len()]
    }
}

/// Two rounds (`pre_iter` iterations, sparsify, `max_iter`), or one when `sparse` is false.
pub(crate) fn solve(
    p: &Problem<'_>,
    zeta: f64,
    x: Vec<f64>,
    min_decrease: f64,
    max_iter: usize,
    pre_iter: usize,
    sparse: bool,
) -> Vec<f64> {
    if sparse {
        let first = sc_weight_fw(p, zeta, x, min_decrease, pre_iter);
        sc_weight_fw(p, zeta, sparsify(&first), min_decrease, max_iter)
    } else {
        sc_weight_fw(p, zeta, x, min_decrease, max_iter)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sparsify_zeroes_small_weights_and_renormalises() {
        let v = sparsify(&[0.5, 0.1, 0.4]);
        assert_eq!(v[1], 0.0);
        assert!((v.iter().sum::<f64>() - 1.0).abs() < 1e-15);
    }

    #[test]
    fn fw_recovers_an_exact_convex_combination() {
        // b = 0.3 col0 + 0.7 col1; tiny ridge
        let a = ColMajor {
            rows: 3,
            cols: 3,
            data: vec![1.0, 0.0, 2.0, 0.0, 1.0, 1.0, 5.0, 5.0, -3.0],
        };
        let b: Vec<f64> = (0..3)
            .map(|i| 0.3 * a.col(0)[i] + 0.7 * a.col(1)[i])
            .collect();
        let p = Problem {
            a: &a,
            b: &b,
            eta: 0.0,
        };
        let x = sc_weight_fw(&p, 0.0, vec![1.0 / 3.0; 3], 1e-12, 100_000);
        assert!(
            (x[0] - 0.3).abs() < 1e-3 && (x[1] - 0.7).abs() < 1e-3,
            "{x:?}"
        );
    }

    /// The Gram form (closed-form sums, lane-wise first minimum) takes the same steps as the
    /// plain R `fw.step` loop: 200 iterations on a random 20 x 103 problem (n not a multiple
    /// of the lanes), weights equal to 1e-12; and the same first minimum on exact ties.
    #[test]
    fn gram_form_follows_the_plain_steps() {
        let (rows, cols) = (20usize, 103usize);
        let mut seed = 3u64;
        let mut next = || {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((seed >> 11) as f64) / ((1u64 << 53) as f64) - 0.5
        };
        let a = ColMajor {
            rows,
            cols,
            data: (0..rows * cols).map(|_| next()).collect(),
        };
        let b: Vec<f64> = (0..rows).map(|_| next()).collect();
        let p = Problem {
            a: &a,
            b: &b,
            eta: rows as f64 * 0.01,
        };
        let start = vec![1.0 / cols as f64; cols];
        let iters = 200;
        // min_decrease 0: continue while the objective decreases at all
        let gram = sc_weight_fw(&p, 0.1, start.clone(), 0.0, iters);
        let mut plain = start;
        let mut ax = p.ax(&plain);
        for _ in 0..iters {
            p.step(&mut plain, &mut ax);
        }
        let worst = gram
            .iter()
            .zip(&plain)
            .fold(0.0f64, |m, (g, q)| m.max((g - q).abs()));
        assert!(worst < 1e-12, "Gram form vs plain steps: {worst}");

        // Ties: equal gradients at j = 2 and j = 5 (lanes 2 and 1): the first one is chosen.
        let mut x = vec![0.0; 7];
        let mut atax = vec![1.0, 3.0, 0.5, 2.0, 4.0, 0.5, 0.9];
        let zero = vec![0.0; 7];
        let u = fw_update(
            &mut x,
            &mut atax,
            &zero,
            &zero,
            0,
            0.0,
            0.0,
            (0.0, 0.0, 0.0),
        );
        assert_eq!((u.best, u.best_g), (2, 0.5));
    }
}
