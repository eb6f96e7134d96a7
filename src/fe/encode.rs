//! Dense integer encoding of id columns (units, periods, clusters, interacted fixed effects).

use std::collections::HashMap;

use crate::alloc::{try_vec, try_with_capacity};
use crate::error::{Error, Result};

/// Dense codes `0..n_levels` in order of first appearance, and the original value of each level.
#[derive(Debug, Clone, PartialEq)]
pub struct Factorized {
    pub codes: Vec<u32>,
    pub levels: Vec<i64>,
}

impl Factorized {
    pub fn n_levels(&self) -> usize {
        self.levels.len()
    }
}

/// Encodes integer ids. Ids within a compact range (the usual case: years, 0..N unit numbers)
/// go through a direct lookup table, O(n) with no hashing; others through a hash map.
/// Buffers are allocated fallibly (`Error::OutOfMemory`); more than u32::MAX - 1 distinct ids
/// is an error.
pub fn factorize(values: &[i64]) -> Result<Factorized> {
    if values.is_empty() {
        return Ok(Factorized {
            codes: Vec::new(),
            levels: Vec::new(),
        });
    }
    // One pass for both bounds.
    let (min, max) = values
        .iter()
        .fold((i64::MAX, i64::MIN), |(lo, hi), &v| (lo.min(v), hi.max(v)));
    let span = (max as i128 - min as i128) as u128;
    let mut codes = try_with_capacity(values.len(), "id codes")?;
    let mut levels = Vec::new();
    let new_level = |levels: &mut Vec<i64>, v: i64| -> Result<u32> {
        let next = levels.len();
        if next >= u32::MAX as usize {
            return Err(Error::Shape(format!(
                "more than {} distinct ids",
                u32::MAX - 1
            )));
        }
        levels.try_reserve(1).map_err(|_| Error::OutOfMemory {
            what: "id levels".into(),
            bytes: (next as u64 + 1) * 8,
        })?;
        levels.push(v);
        Ok(next as u32)
    };
    if span < (4 * values.len() as u128).max(1 << 16) {
        let mut table = try_vec(span as usize + 1, u32::MAX, "id lookup table")?;
        for &v in values {
            let slot = &mut table[(v - min) as usize];
            if *slot == u32::MAX {
                *slot = new_level(&mut levels, v)?;
            }
            codes.push(*slot);
        }
    } else {
        let mut map: HashMap<i64, u32> = HashMap::new();
        let oom = |len: usize| Error::OutOfMemory {
            what: "id hash map".into(),
            bytes: (len as u64 + 1) * 16,
        };
        map.try_reserve(1024).map_err(|_| oom(1024))?;
        for &v in values {
            let code = match map.get(&v) {
                Some(&c) => c,
                None => {
                    map.try_reserve(1).map_err(|_| oom(map.len()))?;
                    let c = new_level(&mut levels, v)?;
                    map.insert(v, c);
                    c
                }
            };
            codes.push(code);
        }
    }
    Ok(Factorized { codes, levels })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_follow_first_appearance() {
        let f = factorize(&[2010, 2008, 2010, 2009]).unwrap();
        assert_eq!(f.codes, vec![0, 1, 0, 2]);
        assert_eq!(f.levels, vec![2010, 2008, 2009]);
    }

    #[test]
    fn wide_range_uses_hash_path_with_same_result() {
        let v = [i64::MIN + 1, 5, i64::MAX, 5];
        let f = factorize(&v).unwrap();
        assert_eq!(f.codes, vec![0, 1, 2, 1]);
        assert_eq!(f.n_levels(), 3);
    }
}
