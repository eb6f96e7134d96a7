//! Fixed effects: encoding ids into dense codes, singleton detection, and demeaning
//! (projecting out any number of fixed-effect dimensions).

mod demean;
mod encode;
mod singletons;
mod two_way;

/// Test fixtures shared by the demeaning paths' tests.
#[cfg(test)]
mod test_support {
    use super::FixedEffects;

    /// Two fixed effects from their codes (levels = largest code + 1).
    pub(super) fn fe2(a: Vec<u32>, b: Vec<u32>) -> FixedEffects {
        let la = *a.iter().max().unwrap() as usize + 1;
        let lb = *b.iter().max().unwrap() as usize + 1;
        FixedEffects::new(vec!["a".into(), "b".into()], vec![a, b], vec![la, lb]).unwrap()
    }
}

pub use demean::{demean_columns, DemeanInfo, DemeanMethod, DemeanSpec};
pub(crate) use encode::lookup_table_fits;
pub use encode::{factorize, Factorized};
pub use singletons::find_singletons;
pub(crate) use two_way::changed_rows;
pub use two_way::{TwoWayDirect, TwoWayEffects};

use crate::error::{Error, Result};

/// Fixed-effect dimensions over the same `n` observations: `codes[q][i]` is the level
/// (0..n_levels[q]) of observation `i` in dimension `q`.
#[derive(Debug, Clone)]
pub struct FixedEffects {
    pub names: Vec<String>,
    pub codes: Vec<Vec<u32>>,
    pub n_levels: Vec<usize>,
    n: usize,
}

impl FixedEffects {
    /// Builds from already-dense codes. Every code must be below its dimension's level count.
    pub fn new(names: Vec<String>, codes: Vec<Vec<u32>>, n_levels: Vec<usize>) -> Result<Self> {
        if names.len() != codes.len() || codes.len() != n_levels.len() {
            return Err(Error::Shape(
                "fixed effects: names, codes and level counts differ in number".into(),
            ));
        }
        let n = codes.first().map_or(0, Vec::len);
        for (q, c) in codes.iter().enumerate() {
            if c.len() != n {
                return Err(Error::Shape(format!(
                    "fixed effect '{}' has {} rows, expected {n}",
                    names[q],
                    c.len()
                )));
            }
            if let Some(&bad) = c.iter().find(|&&v| v as usize >= n_levels[q]) {
                return Err(Error::Column {
                    name: names[q].clone(),
                    reason: format!("code {bad} is not below the level count {}", n_levels[q]),
                });
            }
        }
        Ok(Self {
            names,
            codes,
            n_levels,
            n,
        })
    }

    /// No fixed effects over `n` observations.
    pub fn empty(n: usize) -> Self {
        Self {
            names: Vec::new(),
            codes: Vec::new(),
            n_levels: Vec::new(),
            n,
        }
    }

    pub fn n_obs(&self) -> usize {
        self.n
    }

    pub fn n_dims(&self) -> usize {
        self.codes.len()
    }

    /// Keeps the observations where `keep[i]` is true and re-encodes every dimension densely
    /// (levels that lose all their observations disappear).
    /// Buffers are allocated fallibly.
    pub fn subset(&self, keep: &[bool]) -> Result<Self> {
        let mut codes = Vec::with_capacity(self.codes.len());
        let mut n_levels = Vec::with_capacity(self.codes.len());
        let n_keep = keep.iter().filter(|&&k| k).count();
        for (q, c) in self.codes.iter().enumerate() {
            let mut map = crate::alloc::try_vec(self.n_levels[q], u32::MAX, "fixed-effect levels")?;
            let mut next = 0u32;
            let mut out = crate::alloc::try_with_capacity(n_keep, "fixed-effect codes")?;
            for (&v, &k) in c.iter().zip(keep) {
                if k {
                    let slot = &mut map[v as usize];
                    if *slot == u32::MAX {
                        *slot = next;
                        next += 1;
                    }
                    out.push(*slot);
                }
            }
            codes.push(out);
            n_levels.push(next as usize);
        }
        let n = codes
            .first()
            .map_or(keep.iter().filter(|&&k| k).count(), Vec::len);
        Ok(Self {
            names: self.names.clone(),
            codes,
            n_levels,
            n,
        })
    }
}
