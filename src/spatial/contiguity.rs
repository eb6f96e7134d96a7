//! Queen / rook contiguity from polygon vertices (the vertex-set method of GeoDa / libpysal):
//! queen neighbours share at least one vertex, rook neighbours share at least one edge (two
//! consecutive vertices of a ring). With `tolerance > 0` vertices closer than it (in each
//! coordinate's units, Euclidean) are merged first, so slightly mismatched boundaries still
//! touch.

use std::collections::HashMap;

use super::weights::Weights;
use crate::error::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContiguityKind {
    Queen,
    Rook,
}

/// Polygons in flat form: ring r spans points `ring_ptr[r]..ring_ptr[r+1]` of (x, y), unit u
/// owns rings `unit_ptr[u]..unit_ptr[u+1]` (all rings of all its polygons).
pub struct Polygons<'a> {
    pub x: &'a [f64],
    pub y: &'a [f64],
    pub ring_ptr: &'a [usize],
    pub unit_ptr: &'a [usize],
}

/// Canonical vertex ids: exact coordinates (tolerance 0) or greedy merging on a grid of cell
/// size `tolerance` (a vertex joins the first earlier canonical vertex within `tolerance` in
/// its 3×3 cell neighbourhood).
fn canonical_ids(x: &[f64], y: &[f64], tolerance: f64) -> Vec<usize> {
    let mut out = Vec::with_capacity(x.len());
    if tolerance == 0.0 {
        let mut map: HashMap<(u64, u64), usize> = HashMap::new();
        for (a, b) in x.iter().zip(y) {
            // +0.0 and −0.0 are the same point.
            let key = ((a + 0.0).to_bits(), (b + 0.0).to_bits());
            let next = map.len();
            out.push(*map.entry(key).or_insert(next));
        }
        return out;
    }
    let mut grid: HashMap<(i64, i64), Vec<usize>> = HashMap::new();
    let mut reps: Vec<(f64, f64)> = Vec::new();
    for (&a, &b) in x.iter().zip(y) {
        let (cx, cy) = (
            (a / tolerance).floor() as i64,
            (b / tolerance).floor() as i64,
        );
        let mut found = None;
        'search: for dx in -1..=1 {
            for dy in -1..=1 {
                if let Some(list) = grid.get(&(cx + dx, cy + dy)) {
                    for &id in list {
                        let (px, py) = reps[id];
                        if (px - a).hypot(py - b) <= tolerance {
                            found = Some(id);
                            break 'search;
                        }
                    }
                }
            }
        }
        let id = match found {
            Some(id) => id,
            None => {
                reps.push((a, b));
                let id = reps.len() - 1;
                grid.entry((cx, cy)).or_default().push(id);
                id
            }
        };
        out.push(id);
    }
    out
}

/// Binary, symmetric contiguity weights of the units.
pub fn contiguity(p: &Polygons, kind: ContiguityKind, tolerance: f64) -> Result<Weights> {
    if !(tolerance >= 0.0 && tolerance.is_finite()) {
        return Err(Error::Option {
            name: "tolerance".into(),
            reason: format!("must be a finite number >= 0, got {tolerance}"),
        });
    }
    if p.x.len() != p.y.len() {
        return Err(Error::Shape("x and y differ in length".into()));
    }
    let n = p.unit_ptr.len().saturating_sub(1);
    let nr = p.ring_ptr.len().saturating_sub(1);
    let bad_ptr =
        |v: &[usize], end: usize| v.windows(2).any(|w| w[1] < w[0]) || v.last() != Some(&end);
    if p.ring_ptr.is_empty()
        || bad_ptr(p.ring_ptr, p.x.len())
        || p.unit_ptr.is_empty()
        || bad_ptr(p.unit_ptr, nr)
    {
        return Err(Error::Shape("inconsistent polygon offsets".into()));
    }
    if let Some(i) =
        p.x.iter()
            .zip(p.y)
            .position(|(a, b)| !a.is_finite() || !b.is_finite())
    {
        return Err(Error::Column {
            name: "geometry".into(),
            reason: format!("vertex {i} has a non-finite coordinate"),
        });
    }
    let vid = canonical_ids(p.x, p.y, tolerance);
    // Owner unit of each ring.
    let mut ring_unit = vec![0usize; nr];
    for u in 0..n {
        ring_unit[p.unit_ptr[u]..p.unit_ptr[u + 1]].fill(u);
    }
    // Feature key (vertex or edge) → units touching it.
    let mut touch: HashMap<(usize, usize), Vec<usize>> = HashMap::new();
    for r in 0..nr {
        let u = ring_unit[r];
        let pts = &vid[p.ring_ptr[r]..p.ring_ptr[r + 1]];
        match kind {
            ContiguityKind::Queen => {
                for &v in pts {
                    touch.entry((v, usize::MAX)).or_default().push(u);
                }
            }
            ContiguityKind::Rook => {
                for w in pts.windows(2) {
                    if w[0] != w[1] {
                        let key = (w[0].min(w[1]), w[0].max(w[1]));
                        touch.entry(key).or_default().push(u);
                    }
                }
                // Close the ring if the closing vertex was omitted.
                if pts.len() > 2 && pts[0] != pts[pts.len() - 1] {
                    let (a, b) = (pts[0], pts[pts.len() - 1]);
                    touch.entry((a.min(b), a.max(b))).or_default().push(u);
                }
            }
        }
    }
    let mut pairs: Vec<(usize, usize)> = Vec::new();
    for (_, mut us) in touch {
        us.sort_unstable();
        us.dedup();
        for a in 0..us.len() {
            for b in a + 1..us.len() {
                pairs.push((us[a], us[b]));
                pairs.push((us[b], us[a]));
            }
        }
    }
    pairs.sort_unstable();
    pairs.dedup();
    let rows: Vec<usize> = pairs.iter().map(|p| p.0).collect();
    let cols: Vec<usize> = pairs.iter().map(|p| p.1).collect();
    let vals = vec![1.0; pairs.len()];
    Weights::from_triplets(n, &rows, &cols, &vals)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hand-known adjacency of a 3×3 grid of unit squares: the centre has 8 queen and 4 rook
    /// neighbours, a corner 3 and 2.
    #[test]
    fn grid_queen_and_rook() {
        let (mut x, mut y, mut ring_ptr, mut unit_ptr) = (vec![], vec![], vec![0], vec![0]);
        for i in 0..3 {
            for j in 0..3 {
                let (a, b) = (j as f64, i as f64);
                for (dx, dy) in [(0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0), (0.0, 0.0)] {
                    x.push(a + dx);
                    y.push(b + dy);
                }
                ring_ptr.push(x.len());
                unit_ptr.push(ring_ptr.len() - 1);
            }
        }
        let p = Polygons {
            x: &x,
            y: &y,
            ring_ptr: &ring_ptr,
            unit_ptr: &unit_ptr,
        };
        let q = contiguity(&p, ContiguityKind::Queen, 0.0).unwrap();
        let r = contiguity(&p, ContiguityKind::Rook, 0.0).unwrap();
        let deg = |w: &Weights, i: usize| w.indptr[i + 1] - w.indptr[i];
        assert_eq!(
            (deg(&q, 4), deg(&r, 4), deg(&q, 0), deg(&r, 0)),
            (8, 4, 3, 2)
        );
        assert_eq!(q.nnz(), 40);
        assert_eq!(r.nnz(), 24);
    }
}
