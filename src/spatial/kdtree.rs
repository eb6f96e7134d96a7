//! A k-d tree on 3-D unit-sphere coordinates for the distance-based weights (k nearest
//! neighbours, distance bands, inverse distance with a cutoff) in O(N log N).
//!
//! Why the unit sphere: the chord length c = 2 sin(θ/2) between two unit vectors is strictly
//! increasing in the central angle θ ∈ [0, π], so the neighbours by chord are the neighbours by
//! great-circle (haversine) distance, and a Euclidean k-d tree needs no wrap-around at the
//! antimeridian or special case at the poles.
//!
//! Why a candidate pass: the chord (from rounded unit vectors) and the haversine formula round
//! differently, so two points at nearly equal distances could be ordered one way by the tree
//! and the other way by `great_circle_km`. The tree therefore only *collects candidates*:
//! every point whose chord is within the k-th chord plus a slack far above rounding (relative
//! 1e-9, absolute 1e-12 on the unit sphere, i.e. 6 µm on Earth). The candidates are then ranked
//! by `great_circle_km` with ties broken by the lower index, which is exactly the rule of the
//! brute-force O(N²) search, so the neighbour sets are identical to it (not only "equal up to
//! ties").

use crate::error::Result;
use crate::interrupt::Cancel;

/// Points per leaf: small enough to prune well, large enough that leaves are scanned linearly.
const LEAF_SIZE: usize = 16;
/// Slack that turns a chord bound into a candidate bound (see the module docs).
const REL_SLACK: f64 = 1e-9;
const ABS_SLACK: f64 = 1e-12;

/// Rows per parallel task of the batched queries (one cancellation check each).
pub const QUERY_CHUNK: usize = 2048;

/// (lat, lon) in degrees to a unit vector.
pub fn unit_vector(lat: f64, lon: f64) -> [f64; 3] {
    let (p, l) = (lat.to_radians(), lon.to_radians());
    [p.cos() * l.cos(), p.cos() * l.sin(), p.sin()]
}

/// Chord length on the unit sphere for a great-circle distance `km` on a sphere of `radius_km`
/// (2 when the distance reaches half the circumference: every point qualifies).
pub fn chord_of_km(km: f64, radius_km: f64) -> f64 {
    let theta = km / radius_km;
    if theta >= std::f64::consts::PI {
        2.0
    } else {
        2.0 * (theta / 2.0).sin()
    }
}

/// A chord bound widened by the slack that absorbs rounding, squared.
fn widened_sq(chord: f64) -> f64 {
    let c = chord * (1.0 + REL_SLACK) + ABS_SLACK;
    c * c
}

#[derive(Debug, Clone)]
struct Node {
    lo: [f64; 3],
    hi: [f64; 3],
    /// Range of tree positions held by the node.
    start: usize,
    end: usize,
    /// Children (0 for a leaf: the root is node 0 and never a child).
    left: usize,
    right: usize,
}

/// The tree. Points are stored in tree order (each node owns a contiguous range of
/// positions, so a leaf is scanned from contiguous memory); `order[pos]` is the original index
/// and `pos_of[i]` its inverse.
pub struct KdTree {
    pts: Vec<[f64; 3]>,
    order: Vec<usize>,
    pos_of: Vec<usize>,
    nodes: Vec<Node>,
}

/// Per-thread buffers of the queries (reused across rows).
#[derive(Default)]
pub struct Scratch {
    stack: Vec<usize>,
    heap: std::collections::BinaryHeap<u64>,
    /// (squared chord, original index) of the candidates.
    pub cand: Vec<(f64, usize)>,
}

fn dist_sq(a: &[f64; 3], b: &[f64; 3]) -> f64 {
    let (x, y, z) = (a[0] - b[0], a[1] - b[1], a[2] - b[2]);
    x * x + y * y + z * z
}

/// Squared distance from `q` to the box [lo, hi] (0 inside).
fn box_dist_sq(q: &[f64; 3], lo: &[f64; 3], hi: &[f64; 3]) -> f64 {
    let mut s = 0.0;
    for d in 0..3 {
        let e = if q[d] < lo[d] {
            lo[d] - q[d]
        } else if q[d] > hi[d] {
            q[d] - hi[d]
        } else {
            0.0
        };
        s += e * e;
    }
    s
}

impl KdTree {
    /// Builds the tree on unit vectors of (lat, lon) (checked by the caller).
    pub fn new(lat: &[f64], lon: &[f64]) -> Result<Self> {
        let n = lat.len();
        let mut raw = crate::alloc::try_with_capacity(n, "k-d tree points")?;
        raw.extend(lat.iter().zip(lon).map(|(&a, &b)| unit_vector(a, b)));
        let mut order = crate::alloc::try_with_capacity(n, "k-d tree order")?;
        order.extend(0..n);
        let mut nodes = Vec::with_capacity(2 * n / LEAF_SIZE + 2);
        if n > 0 {
            build(&raw, &mut order, &mut nodes, 0, n);
        }
        let pts: Vec<[f64; 3]> = order.iter().map(|&i| raw[i]).collect();
        let mut pos_of = vec![0usize; n];
        for (p, &i) in order.iter().enumerate() {
            pos_of[i] = p;
        }
        Ok(KdTree {
            pts,
            order,
            pos_of,
            nodes,
        })
    }

    /// Candidates for the k nearest neighbours of the point at tree position `pos` (itself
    /// excluded), in one depth-first pass that visits the nearer child first: the k-th
    /// smallest squared chord so far bounds the search after widening by the slack, and every
    /// point within the widened bound is kept; at the end the candidates are cut to the
    /// widened final bound. `k` ≥ 1 and < n.
    fn knn_pos(&self, pos: usize, k: usize, s: &mut Scratch) {
        s.heap.clear();
        s.cand.clear();
        s.stack.clear();
        let q = self.pts[pos];
        // Non-negative f64 order like their bit patterns, so the heap holds u64 keys.
        let mut kth = f64::INFINITY;
        let mut wide = f64::INFINITY;
        s.stack.push(0);
        while let Some(id) = s.stack.pop() {
            let node = &self.nodes[id];
            if box_dist_sq(&q, &node.lo, &node.hi) > wide {
                continue;
            }
            if node.left == 0 {
                for p in node.start..node.end {
                    if p == pos {
                        continue;
                    }
                    let d = dist_sq(&q, &self.pts[p]);
                    if d > wide {
                        continue;
                    }
                    s.cand.push((d, self.order[p]));
                    if s.heap.len() < k {
                        s.heap.push(d.to_bits());
                    } else if d < kth {
                        s.heap.pop();
                        s.heap.push(d.to_bits());
                    } else {
                        continue;
                    }
                    if s.heap.len() == k {
                        kth = f64::from_bits(s.heap.peek().copied().unwrap_or(0));
                        wide = widened_sq(kth.sqrt());
                    }
                }
            } else {
                let (l, r) = (&self.nodes[node.left], &self.nodes[node.right]);
                let dl = box_dist_sq(&q, &l.lo, &l.hi);
                let dr = box_dist_sq(&q, &r.lo, &r.hi);
                // Push the farther child first so the nearer one is searched first.
                if dl <= dr {
                    s.stack.push(node.right);
                    s.stack.push(node.left);
                } else {
                    s.stack.push(node.left);
                    s.stack.push(node.right);
                }
            }
        }
        s.cand.retain(|c| c.0 <= wide);
    }

    /// Every point j ≠ i with squared chord to point `i` (original index) at most `r2`, as
    /// (squared chord, original index) in `s.cand` (unordered).
    fn within(&self, i: usize, r2: f64, s: &mut Scratch) {
        s.cand.clear();
        s.stack.clear();
        let pos = self.pos_of[i];
        let q = self.pts[pos];
        s.stack.push(0);
        while let Some(id) = s.stack.pop() {
            let node = &self.nodes[id];
            if box_dist_sq(&q, &node.lo, &node.hi) > r2 {
                continue;
            }
            if node.left == 0 {
                for p in node.start..node.end {
                    if p != pos {
                        let d = dist_sq(&q, &self.pts[p]);
                        if d <= r2 {
                            s.cand.push((d, self.order[p]));
                        }
                    }
                }
            } else {
                s.stack.push(node.left);
                s.stack.push(node.right);
            }
        }
    }

    /// Candidates for the k nearest neighbours of point `i` (original index): a superset of
    /// them by any monotone distance that rounds within the slack of the chord.
    pub fn knn_candidates(&self, i: usize, k: usize, s: &mut Scratch) {
        self.knn_pos(self.pos_of[i], k, s);
    }

    /// Candidates within chord `chord` of point `i` (widened by the slack).
    pub fn radius_candidates(&self, i: usize, chord: f64, s: &mut Scratch) {
        self.within(i, widened_sq(chord), s);
    }

    /// The k nearest neighbours of every point, as an n × k row-major array of original
    /// indices (each row ascending). Rows are queried in tree order (neighbouring queries
    /// touch the same leaves) in parallel chunks with one cancellation check each. When the
    /// candidates of a row are exactly k, they are its neighbours by any distance the slack
    /// covers; otherwise (near-ties at the k-th distance) `exact(i, j)` ranks them, ties by
    /// the lower index.
    pub fn knn_all<D>(&self, k: usize, exact: D) -> Result<Vec<usize>>
    where
        D: Fn(usize, usize) -> f64 + Sync,
    {
        use rayon::prelude::*;
        let n = self.pts.len();
        let cancel = Cancel::current();
        let chunks: Vec<Result<Vec<usize>>> = (0..n.div_ceil(QUERY_CHUNK))
            .into_par_iter()
            .map(|c| {
                cancel.check()?;
                let (a, b) = (c * QUERY_CHUNK, ((c + 1) * QUERY_CHUNK).min(n));
                let mut s = Scratch::default();
                let mut out = Vec::with_capacity((b - a) * k);
                let mut ranked: Vec<(f64, usize)> = Vec::new();
                for pos in a..b {
                    self.knn_pos(pos, k, &mut s);
                    let start = out.len();
                    if s.cand.len() == k {
                        out.extend(s.cand.iter().map(|c| c.1));
                    } else {
                        let i = self.order[pos];
                        ranked.clear();
                        ranked.extend(s.cand.iter().map(|&(_, j)| (exact(i, j), j)));
                        ranked.select_nth_unstable_by(k - 1, |x, y| {
                            x.0.total_cmp(&y.0).then(x.1.cmp(&y.1))
                        });
                        out.extend(ranked[..k].iter().map(|c| c.1));
                    }
                    out[start..].sort_unstable();
                }
                Ok(out)
            })
            .collect();
        let mut flat = crate::alloc::try_vec(n.saturating_mul(k), 0usize, "k nearest neighbours")?;
        for (c, ch) in chunks.into_iter().enumerate() {
            let rows = ch?;
            for (r, nb) in rows.chunks_exact(k).enumerate() {
                let i = self.order[c * QUERY_CHUNK + r];
                flat[i * k..(i + 1) * k].copy_from_slice(nb);
            }
        }
        Ok(flat)
    }
}

/// Builds the node for `order[start..end]` and returns its id. Splits at the median of the
/// widest coordinate; `select_nth_unstable_by` is deterministic for a given input, and the
/// comparison breaks equal coordinates by index, so the tree depends on nothing but the
/// points.
fn build(
    pts: &[[f64; 3]],
    order: &mut [usize],
    nodes: &mut Vec<Node>,
    start: usize,
    end: usize,
) -> usize {
    let mut lo = [f64::INFINITY; 3];
    let mut hi = [f64::NEG_INFINITY; 3];
    for &i in &order[start..end] {
        let p = &pts[i];
        for d in 0..3 {
            lo[d] = lo[d].min(p[d]);
            hi[d] = hi[d].max(p[d]);
        }
    }
    let id = nodes.len();
    nodes.push(Node {
        lo,
        hi,
        start,
        end,
        left: 0,
        right: 0,
    });
    if end - start <= LEAF_SIZE {
        return id;
    }
    let dim = (0..3)
        .max_by(|&a, &b| (hi[a] - lo[a]).total_cmp(&(hi[b] - lo[b])))
        .unwrap_or(0);
    let mid = start + (end - start) / 2;
    order[start..end].select_nth_unstable_by(mid - start, |&a, &b| {
        pts[a][dim].total_cmp(&pts[b][dim]).then(a.cmp(&b))
    });
    let left = build(pts, order, nodes, start, mid);
    let right = build(pts, order, nodes, mid, end);
    nodes[id].left = left;
    nodes[id].right = right;
    id
}

/// CSR arrays (indptr, indices, data), or a chunk's (row lengths, indices, data).
pub type Csr = (Vec<usize>, Vec<usize>, Vec<f64>);

/// Runs `row(i, &mut scratch) -> Result<Vec<(col, value)>>` for every row in parallel chunks
/// (one cancellation check per chunk) and assembles CSR arrays in row order. The first error
/// in row order is returned, so the message does not depend on the thread count.
pub fn rows_in_parallel<F>(n: usize, row: F) -> Result<Csr>
where
    F: Fn(usize, &mut Scratch) -> Result<Vec<(usize, f64)>> + Sync,
{
    use rayon::prelude::*;
    let cancel = Cancel::current();
    // Per chunk: row lengths, column indices, values.
    let chunks: Vec<Result<Csr>> = (0..n.div_ceil(QUERY_CHUNK))
        .into_par_iter()
        .map(|c| {
            cancel.check()?;
            let (a, b) = (c * QUERY_CHUNK, ((c + 1) * QUERY_CHUNK).min(n));
            let mut counts = Vec::with_capacity(b - a);
            let mut cols = Vec::new();
            let mut vals = Vec::new();
            let mut scratch = Scratch::default();
            for i in a..b {
                let r = row(i, &mut scratch)?;
                counts.push(r.len());
                for (j, v) in r {
                    cols.push(j);
                    vals.push(v);
                }
            }
            Ok((counts, cols, vals))
        })
        .collect();
    let mut indptr = crate::alloc::try_with_capacity(n + 1, "W rows")?;
    indptr.push(0);
    let mut indices = Vec::new();
    let mut data = Vec::new();
    for ch in chunks {
        let (counts, cols, vals) = ch?;
        for c in counts {
            let last = *indptr.last().unwrap_or(&0);
            indptr.push(last + c);
        }
        indices.extend(cols);
        data.extend(vals);
    }
    Ok((indptr, indices, data))
}

#[cfg(test)]
mod tests {
    use super::*;

    // An independent haversine for the oracle (weights.rs uses this tree: importing its
    // distance here would make the two files depend on each other).
    const EARTH_RADIUS_KM: f64 = 6371.0088;

    fn great_circle_km(lat1: f64, lon1: f64, lat2: f64, lon2: f64, radius_km: f64) -> f64 {
        let (p1, p2) = (lat1.to_radians(), lat2.to_radians());
        let (dp, dl) = (p2 - p1, (lon2 - lon1).to_radians());
        let a = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
        2.0 * radius_km * a.sqrt().min(1.0).asin()
    }

    fn pseudo_coords(n: usize, seed: u64) -> (Vec<f64>, Vec<f64>) {
        let mut s = seed;
        let mut next = || {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (s >> 11) as f64 / (1u64 << 53) as f64
        };
        let lat = (0..n).map(|_| -80.0 + 160.0 * next()).collect();
        let lon = (0..n).map(|_| -180.0 + 360.0 * next()).collect();
        (lat, lon)
    }

    #[test]
    fn candidates_contain_the_brute_force_neighbours() {
        let (lat, lon) = pseudo_coords(600, 7);
        let tree = KdTree::new(&lat, &lon).unwrap();
        let mut sc = Scratch::default();
        for i in (0..600).step_by(13) {
            let mut d: Vec<(f64, usize)> = (0..600)
                .filter(|&j| j != i)
                .map(|j| {
                    (
                        great_circle_km(lat[i], lon[i], lat[j], lon[j], EARTH_RADIUS_KM),
                        j,
                    )
                })
                .collect();
            d.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            tree.knn_candidates(i, 5, &mut sc);
            let cand: Vec<usize> = sc.cand.iter().map(|c| c.1).collect();
            for &(_, j) in &d[..5] {
                assert!(cand.contains(&j), "row {i} misses {j}");
            }
            let cut = 900.0;
            tree.radius_candidates(i, chord_of_km(cut, EARTH_RADIUS_KM), &mut sc);
            let cand: Vec<usize> = sc.cand.iter().map(|c| c.1).collect();
            for &(dist, j) in d.iter().filter(|x| x.0 <= cut) {
                assert!(cand.contains(&j), "row {i} misses {j} at {dist} km");
            }
        }
    }

    #[test]
    fn chord_matches_great_circle_distance() {
        // Half the circumference or more: every point is within the chord.
        assert_eq!(chord_of_km(30_000.0, EARTH_RADIUS_KM), 2.0);
        let (a, b) = (unit_vector(10.0, 20.0), unit_vector(-35.0, 140.0));
        let km = great_circle_km(10.0, 20.0, -35.0, 140.0, EARTH_RADIUS_KM);
        let c = chord_of_km(km, EARTH_RADIUS_KM);
        assert!((dist_sq(&a, &b).sqrt() - c).abs() < 1e-14);
    }
}
