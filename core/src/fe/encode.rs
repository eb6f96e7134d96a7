//! Dense integer encoding of id columns (units, periods, clusters, interacted fixed effects).

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

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
/// go through a direct lookup table, O(n) with no hashing; others through a hash map. A row
/// whose id repeats the previous row's takes its code without a lookup (panels sorted by unit
/// repeat each id T times). Buffers are allocated fallibly (`Error::OutOfMemory`); more than
/// u32::MAX - 1 distinct ids is an error.
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
    let mut index = if lookup_table_fits(span, values.len()) {
        Index::Table(try_vec(span as usize + 1, u32::MAX, "id lookup table")?)
    } else {
        let mut map = IdMap::default();
        map.try_reserve(1024).map_err(|_| map_oom(1024))?;
        Index::Map(map)
    };
    let mut previous: Option<(i64, u32)> = None;
    for &v in values {
        let code = match previous {
            Some((p, c)) if p == v => c,
            _ => match &mut index {
                Index::Table(table) => {
                    let slot = &mut table[(v - min) as usize];
                    if *slot == u32::MAX {
                        *slot = new_level(&mut levels, v)?;
                    }
                    *slot
                }
                Index::Map(map) => match map.get(&v) {
                    Some(&c) => c,
                    None => {
                        map.try_reserve(1).map_err(|_| map_oom(map.len()))?;
                        let c = new_level(&mut levels, v)?;
                        map.insert(v, c);
                        c
                    }
                },
            },
        };
        previous = Some((v, code));
        codes.push(code);
    }
    Ok(Factorized { codes, levels })
}

/// Whether values spanning `span` (largest minus smallest) over `n` rows are looked up in a
/// direct table of span + 1 entries (at most four per row, or 2¹⁶ whatever n) rather than
/// hashed or sorted. One rule for every table of integer keys in the crate.
pub(crate) fn lookup_table_fits(span: u128, n: usize) -> bool {
    span < (4 * n as u128).max(1 << 16)
}

/// Where a code is looked up: a table indexed by value − min, or a hash map.
enum Index {
    Table(Vec<u32>),
    Map(IdMap),
}

type IdMap = HashMap<i64, u32, BuildHasherDefault<IdHasher>>;

fn map_oom(len: usize) -> Error {
    Error::OutOfMemory {
        what: "id hash map".into(),
        bytes: (len as u64 + 1) * 16,
    }
}

/// The hash of an id: the SplitMix64 finaliser (Steele, Lea & Flood 2014), whose output bits
/// all depend on every input bit, so ids with a common stride spread over the table. Std's
/// default SipHash resists collision attacks on untrusted keys, which ids read from the
/// user's own data are not, and costs several times more per id. The codes never depend on
/// the hash (they follow first appearance).
#[derive(Default)]
struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(self.0.rotate_left(8) ^ u64::from(b));
        }
    }

    fn write_u64(&mut self, v: u64) {
        let mut x = v.wrapping_add(0x9e37_79b9_7f4a_7c15);
        x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        self.0 = x ^ (x >> 31);
    }

    fn write_i64(&mut self, v: i64) {
        self.write_u64(v as u64);
    }
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

    /// Runs of one id (a panel sorted by unit) and ids that come back after others: the same
    /// codes as a lookup per row, on both paths (compact range and hash).
    #[test]
    fn repeated_ids_take_the_previous_code() {
        for scale in [1i64, 1 << 40] {
            let v: Vec<i64> = [7, 7, 7, 3, 3, 7, 9, 9, 3, 7, 7]
                .iter()
                .map(|&x| x * scale)
                .collect();
            let f = factorize(&v).unwrap();
            assert_eq!(f.codes, vec![0, 0, 0, 1, 1, 0, 2, 2, 1, 0, 0]);
            assert_eq!(f.levels, vec![7 * scale, 3 * scale, 9 * scale]);
        }
        // many levels with a common stride through the hash path: first-appearance codes
        let v: Vec<i64> = (0..50_000i64).rev().flat_map(|i| [i << 32; 3]).collect();
        let f = factorize(&v).unwrap();
        assert_eq!(f.n_levels(), 50_000);
        assert!(f
            .codes
            .iter()
            .enumerate()
            .all(|(k, &c)| c as usize == k / 3));
    }

    #[test]
    fn wide_range_uses_hash_path_with_same_result() {
        let v = [i64::MIN + 1, 5, i64::MAX, 5];
        let f = factorize(&v).unwrap();
        assert_eq!(f.codes, vec![0, 1, 2, 1]);
        assert_eq!(f.n_levels(), 3);
    }
}
