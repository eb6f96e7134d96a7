//! Dense integer encoding of id columns (units, periods, clusters, interacted fixed effects).

use std::collections::HashMap;

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
pub fn factorize(values: &[i64]) -> Factorized {
    let (Some(&min), Some(&max)) = (values.iter().min(), values.iter().max()) else {
        return Factorized {
            codes: Vec::new(),
            levels: Vec::new(),
        };
    };
    let span = (max as i128 - min as i128) as u128;
    let mut codes = Vec::with_capacity(values.len());
    let mut levels = Vec::new();
    if span < (4 * values.len() as u128).max(1 << 16) {
        let mut table = vec![u32::MAX; span as usize + 1];
        for &v in values {
            let slot = &mut table[(v - min) as usize];
            if *slot == u32::MAX {
                *slot = levels.len() as u32;
                levels.push(v);
            }
            codes.push(*slot);
        }
    } else {
        let mut map: HashMap<i64, u32> = HashMap::with_capacity(1024);
        for &v in values {
            let next = levels.len() as u32;
            let code = *map.entry(v).or_insert_with(|| {
                levels.push(v);
                next
            });
            codes.push(code);
        }
    }
    Factorized { codes, levels }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_follow_first_appearance() {
        let f = factorize(&[2010, 2008, 2010, 2009]);
        assert_eq!(f.codes, vec![0, 1, 0, 2]);
        assert_eq!(f.levels, vec![2010, 2008, 2009]);
    }

    #[test]
    fn wide_range_uses_hash_path_with_same_result() {
        let v = [i64::MIN + 1, 5, i64::MAX, 5];
        let f = factorize(&v);
        assert_eq!(f.codes, vec![0, 1, 2, 1]);
        assert_eq!(f.n_levels(), 3);
    }
}
