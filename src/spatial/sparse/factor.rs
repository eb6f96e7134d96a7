//! Sparse I − ρS (Cholesky, W similar to a symmetric matrix) or I − ρW (LU otherwise): the
//! symbolic analysis done once, a numeric factorisation per ρ, its log-determinant and solves.

// Index loops mirror the matrix formulas they implement.
#![allow(clippy::needless_range_loop)]

use faer::dyn_stack::{MemBuffer, MemStack};
use faer::linalg::cholesky::llt::factor::LltRegularization;
use faer::perm::PermRef;
use faer::sparse::linalg::cholesky::{
    factorize_symbolic_cholesky, simplicial::SimplicialLltRef, supernodal::SupernodalLltRef,
    LltRef, SymbolicCholesky, SymbolicCholeskyRaw, SymmetricOrdering,
};
use faer::sparse::linalg::lu::simplicial::{self as lu_simplicial, SimplicialLu};
use faer::sparse::{SparseColMatRef, SymbolicSparseColMatRef};
use faer::{Conj, MatMut, Par};

use crate::error::{Error, Result};
use crate::spatial::logdet::symmetrising_scale;
use crate::spatial::weights::Weights;

/// The factorisation used: Cholesky of I − ρS (W similar to a symmetric matrix), or a sparse
/// LU with partial pivoting of I − ρW (any other W).
enum Analysis {
    Chol(Box<SymbolicCholesky<usize>>),
    Lu {
        col_perm_fwd: Vec<usize>,
        col_perm_inv: Vec<usize>,
    },
}

/// Sparse I − ρS (Cholesky) or I − ρW (LU) with its symbolic analysis.
pub struct SparseLogdet {
    pub n: usize,
    /// s_i = sqrt(d_i): S = diag(s) W diag(1/s) (all ones on the LU path).
    pub s: Vec<f64>,
    col_ptr: Vec<usize>,
    row_idx: Vec<usize>,
    /// Off-diagonal values of S (lower triangle, Cholesky) or W (all, LU) in CSC layout, 0 at
    /// the diagonal slots.
    s_val: Vec<f64>,
    diag_pos: Vec<usize>,
    analysis: Analysis,
}

enum FactorVals {
    Chol(Vec<f64>),
    Lu {
        lu: SimplicialLu<usize, f64>,
        row_perm_fwd: Vec<usize>,
        row_perm_inv: Vec<usize>,
    },
}

/// A numeric factorisation of I − ρS (Cholesky) or I − ρW (LU).
pub struct Factor<'a> {
    owner: &'a SparseLogdet,
    vals: FactorVals,
}

impl SparseLogdet {
    /// Symbolic analysis: Cholesky when W is similar to a symmetric matrix, LU otherwise.
    pub fn new(w: &Weights) -> Result<Self> {
        let n = w.n;
        if n == 0 {
            return Err(Error::Empty("W has no units".into()));
        }
        match symmetrising_scale(w) {
            Some(d) => Self::new_chol(w, d),
            None => Self::new_lu(w),
        }
    }

    /// Whether the LU path (W not similar to a symmetric matrix) is used.
    pub fn is_lu(&self) -> bool {
        matches!(self.analysis, Analysis::Lu { .. })
    }

    fn new_chol(w: &Weights, d: Vec<f64>) -> Result<Self> {
        let n = w.n;
        let s: Vec<f64> = d.iter().map(|x| x.sqrt()).collect();
        // Lower triangle of S in CSC: column j holds the diagonal, then rows i > j, where
        // S_ij = S_ji = s_j w_ji / s_i (row j of W, columns i > j).
        let mut col_ptr = Vec::with_capacity(n + 1);
        let mut row_idx = Vec::new();
        let mut s_val = Vec::new();
        let mut diag_pos = Vec::with_capacity(n);
        col_ptr.push(0);
        for j in 0..n {
            diag_pos.push(row_idx.len());
            row_idx.push(j);
            s_val.push(0.0);
            let mut entries: Vec<(usize, f64)> = (w.indptr[j]..w.indptr[j + 1])
                .filter(|&p| w.indices[p] > j)
                .map(|p| {
                    let i = w.indices[p];
                    (i, s[j] * w.data[p] / s[i])
                })
                .collect();
            entries.sort_by_key(|e| e.0);
            for (i, v) in entries {
                row_idx.push(i);
                s_val.push(v);
            }
            col_ptr.push(row_idx.len());
        }
        let symbolic = {
            let sym = SymbolicSparseColMatRef::new_checked(n, n, &col_ptr, None, &row_idx);
            factorize_symbolic_cholesky(
                sym,
                faer::Side::Lower,
                SymmetricOrdering::Amd,
                Default::default(),
            )
            .map_err(|e| Error::Numerical(format!("sparse Cholesky analysis of W: {e:?}")))?
        };
        Ok(Self {
            n,
            s,
            col_ptr,
            row_idx,
            s_val,
            diag_pos,
            analysis: Analysis::Chol(Box::new(symbolic)),
        })
    }

    fn new_lu(w: &Weights) -> Result<Self> {
        let n = w.n;
        // Columns of W: column j holds (i, w_ij) for the rows i that have j as a neighbour.
        let mut cols: Vec<Vec<(usize, f64)>> = vec![Vec::new(); n];
        for i in 0..n {
            for p in w.indptr[i]..w.indptr[i + 1] {
                if w.indices[p] != i {
                    cols[w.indices[p]].push((i, w.data[p]));
                }
            }
        }
        let mut col_ptr = Vec::with_capacity(n + 1);
        let mut row_idx = Vec::new();
        let mut s_val = Vec::new();
        let mut diag_pos = Vec::with_capacity(n);
        col_ptr.push(0);
        for (j, mut c) in cols.into_iter().enumerate() {
            c.push((j, 0.0));
            c.sort_by_key(|e| e.0);
            for (i, v) in c {
                if i == j {
                    diag_pos.push(row_idx.len());
                }
                row_idx.push(i);
                s_val.push(v);
            }
            col_ptr.push(row_idx.len());
        }
        // Column ordering: AMD on the pattern of W + W' (lower triangle).
        let mut lower: Vec<Vec<usize>> = vec![Vec::new(); n];
        for j in 0..n {
            lower[j].push(j);
            for q in col_ptr[j]..col_ptr[j + 1] {
                let i = row_idx[q];
                if i != j {
                    lower[i.min(j)].push(i.max(j));
                }
            }
        }
        let mut lp = vec![0usize];
        let mut li = Vec::new();
        for mut c in lower {
            c.sort_unstable();
            c.dedup();
            li.extend(c);
            lp.push(li.len());
        }
        let sym = SymbolicSparseColMatRef::new_checked(n, n, &lp, None, &li);
        let chol = factorize_symbolic_cholesky(
            sym,
            faer::Side::Lower,
            SymmetricOrdering::Amd,
            Default::default(),
        )
        .map_err(|e| Error::Numerical(format!("ordering of W: {e:?}")))?;
        let (col_perm_fwd, col_perm_inv) = match chol.perm() {
            Some(p) => {
                let (f, i) = p.arrays();
                (f.to_vec(), i.to_vec())
            }
            None => ((0..n).collect(), (0..n).collect()),
        };
        Ok(Self {
            n,
            s: vec![1.0; n],
            col_ptr,
            row_idx,
            s_val,
            diag_pos,
            analysis: Analysis::Lu {
                col_perm_fwd,
                col_perm_inv,
            },
        })
    }

    /// Factorisation at ρ; `None` if it fails (Cholesky: not positive definite, ρ outside
    /// the admissible interval; LU: singular).
    pub fn factor(&self, rho: f64) -> Option<Factor<'_>> {
        if !rho.is_finite() {
            return None;
        }
        let mut a: Vec<f64> = self.s_val.iter().map(|v| -rho * v).collect();
        for &p in &self.diag_pos {
            a[p] = 1.0;
        }
        let sym = SymbolicSparseColMatRef::new_checked(
            self.n,
            self.n,
            &self.col_ptr,
            None,
            &self.row_idx,
        );
        let mat = SparseColMatRef::new(sym, &a);
        let par = Par::Seq;
        let vals = match &self.analysis {
            Analysis::Chol(symbolic) => {
                let mut values = vec![0.0; symbolic.len_val()];
                let mut buf = MemBuffer::try_new(
                    symbolic.factorize_numeric_llt_scratch::<f64>(par, Default::default()),
                )
                .ok()?;
                let stack = MemStack::new(&mut buf);
                symbolic
                    .factorize_numeric_llt(
                        &mut values,
                        mat,
                        faer::Side::Lower,
                        LltRegularization::default(),
                        par,
                        stack,
                        Default::default(),
                    )
                    .ok()?;
                FactorVals::Chol(values)
            }
            Analysis::Lu {
                col_perm_fwd,
                col_perm_inv,
            } => {
                let mut lu = SimplicialLu::<usize, f64>::new();
                let mut row_perm_fwd = vec![0usize; self.n];
                let mut row_perm_inv = vec![0usize; self.n];
                let cp = PermRef::new_checked(col_perm_fwd, col_perm_inv, self.n);
                let mut buf =
                    MemBuffer::try_new(lu_simplicial::factorize_simplicial_numeric_lu_scratch::<
                        usize,
                        f64,
                    >(self.n, self.n))
                    .ok()?;
                let stack = MemStack::new(&mut buf);
                lu_simplicial::factorize_simplicial_numeric_lu(
                    &mut row_perm_fwd,
                    &mut row_perm_inv,
                    &mut lu,
                    mat,
                    cp,
                    stack,
                )
                .ok()?;
                FactorVals::Lu {
                    lu,
                    row_perm_fwd,
                    row_perm_inv,
                }
            }
        };
        let f = Factor { owner: self, vals };
        if f.logdet().is_finite() {
            Some(f)
        } else {
            None
        }
    }

    /// ln|I − ρW|, or `None` outside the admissible interval.
    pub fn logdet(&self, rho: f64) -> Option<f64> {
        self.factor(rho).map(|f| f.logdet())
    }
}

impl Factor<'_> {
    /// ln|I − ρW|: 2 Σ ln L_ii (Cholesky) or Σ ln|U_jj| (LU).
    pub fn logdet(&self) -> f64 {
        let mut acc = 0.0;
        match (&self.vals, &self.owner.analysis) {
            (FactorVals::Chol(values), Analysis::Chol(sym)) => {
                match sym.raw() {
                    SymbolicCholeskyRaw::Simplicial(s) => {
                        let l = SimplicialLltRef::new(s, values);
                        let vals = l.values();
                        // The diagonal is the first entry of each column.
                        for &p in &s.col_ptr()[..s.ncols()] {
                            acc += vals[p].ln();
                        }
                    }
                    SymbolicCholeskyRaw::Supernodal(s) => {
                        let l = SupernodalLltRef::new(s, values);
                        for k in 0..s.n_supernodes() {
                            let m = l.supernode(k).val();
                            for j in 0..m.ncols() {
                                acc += m[(j, j)].ln();
                            }
                        }
                    }
                }
                2.0 * acc
            }
            (FactorVals::Lu { lu, .. }, _) => {
                let u = lu.u_factor_unsorted();
                let (sym, vals) = u.parts();
                let cp = sym.col_ptr();
                let ri = sym.row_idx();
                for j in 0..u.ncols() {
                    let d = (cp[j]..cp[j + 1])
                        .find(|&q| ri[q] == j)
                        .map(|q| vals[q])
                        .unwrap_or(0.0);
                    acc += d.abs().ln();
                }
                acc
            }
            _ => f64::NAN,
        }
    }

    /// Solves (I − ρS) X = B (Cholesky) or (I − ρW) X = B (LU), or the transposes, in place
    /// for the columns of `b` (n × k, column-major).
    fn solve_raw(&self, b: &mut [f64], k: usize, transpose: bool) {
        let n = self.owner.n;
        if k == 0 {
            return;
        }
        let par = Par::Seq;
        let rhs = MatMut::from_column_major_slice_mut(b, n, k);
        match (&self.vals, &self.owner.analysis) {
            (FactorVals::Chol(values), Analysis::Chol(sym)) => {
                let mut buf = MemBuffer::new(sym.solve_in_place_scratch::<f64>(k, par));
                let stack = MemStack::new(&mut buf);
                LltRef::new(sym, values).solve_in_place_with_conj(Conj::No, rhs, par, stack);
            }
            (
                FactorVals::Lu {
                    lu,
                    row_perm_fwd,
                    row_perm_inv,
                },
                Analysis::Lu {
                    col_perm_fwd,
                    col_perm_inv,
                },
            ) => {
                let rp = PermRef::new_checked(row_perm_fwd, row_perm_inv, n);
                let cp = PermRef::new_checked(col_perm_fwd, col_perm_inv, n);
                let mut buf = MemBuffer::new(lu_simplicial::solve_in_place_scratch::<usize, f64>(
                    n, k, par,
                ));
                let stack = MemStack::new(&mut buf);
                if transpose {
                    lu.solve_transpose_in_place_with_conj(rp, cp, Conj::No, rhs, par, stack);
                } else {
                    lu.solve_in_place_with_conj(rp, cp, Conj::No, rhs, par, stack);
                }
            }
            _ => {}
        }
    }

    /// (I − ρW)⁻¹ B = D^{-1/2}(I − ρS)⁻¹D^{1/2} B, columns in place.
    pub fn solve(&self, b: &mut [f64], k: usize) {
        let s = &self.owner.s;
        let n = self.owner.n;
        for c in 0..k {
            for i in 0..n {
                b[c * n + i] *= s[i];
            }
        }
        self.solve_raw(b, k, false);
        for c in 0..k {
            for i in 0..n {
                b[c * n + i] /= s[i];
            }
        }
    }

    /// (I − ρW')⁻¹ B = D^{1/2}(I − ρS)⁻¹D^{-1/2} B, columns in place.
    pub fn solve_t(&self, b: &mut [f64], k: usize) {
        let s = &self.owner.s;
        let n = self.owner.n;
        for c in 0..k {
            for i in 0..n {
                b[c * n + i] /= s[i];
            }
        }
        self.solve_raw(b, k, true);
        for c in 0..k {
            for i in 0..n {
                b[c * n + i] *= s[i];
            }
        }
    }
}
