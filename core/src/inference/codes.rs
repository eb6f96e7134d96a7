//! Dense codes for arbitrary integer keys (cluster ids, unit ids): shared by the variance
//! estimators, the wild bootstrap and the Conley meat.

use std::borrow::Cow;

use crate::fe::lookup_table_fits;

/// Map arbitrary keys to dense codes `0..G` (numbered by increasing key) and return G.
pub(crate) fn densify(keys: impl Iterator<Item = u64> + Clone, n: usize) -> (Vec<u32>, usize) {
    let max = keys.clone().max().unwrap_or(0);
    if lookup_table_fits(u128::from(max), n) {
        let mut table = vec![u32::MAX; max as usize + 1];
        for key in keys.clone() {
            table[key as usize] = 0;
        }
        let mut g = 0u32;
        for t in table.iter_mut() {
            if *t == 0 {
                *t = g;
                g += 1;
            }
        }
        (keys.map(|key| table[key as usize]).collect(), g as usize)
    } else {
        let mut uniq: Vec<u64> = keys.clone().collect();
        uniq.sort_unstable();
        uniq.dedup();
        let codes = keys
            .map(|key| uniq.binary_search(&key).unwrap_or(0) as u32)
            .collect();
        (codes, uniq.len())
    }
}

/// [`densify`] for u32 codes, borrowing them when they already are `0..G` with every code
/// present (codes taken from a fixed effect are), where densify would map each to itself;
/// and G.
pub(crate) fn dense_codes(codes: &[u32]) -> (Cow<'_, [u32]>, usize) {
    match dense_already(codes) {
        Some(g) => (Cow::Borrowed(codes), g),
        None => {
            let (owned, g) = densify(codes.iter().map(|&v| u64::from(v)), codes.len());
            (Cow::Owned(owned), g)
        }
    }
}

/// G when `codes` already are 0..G with every code present.
fn dense_already(codes: &[u32]) -> Option<usize> {
    let max = *codes.iter().max()? as usize;
    if max >= codes.len() {
        return None;
    }
    let mut seen = vec![false; max + 1];
    let mut g = 0;
    for &c in codes {
        let s = &mut seen[c as usize];
        if !*s {
            *s = true;
            g += 1;
        }
    }
    (g == max + 1).then_some(g)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dense_codes_are_recognised() {
        assert_eq!(dense_already(&[2, 0, 1, 1]), Some(3));
        assert_eq!(dense_already(&[0, 2, 2]), None); // 1 missing
        assert_eq!(dense_already(&[5]), None);
        assert_eq!(dense_already(&[]), None);
        assert!(matches!(dense_codes(&[1, 0, 1]), (Cow::Borrowed(_), 2)));
        // not dense: numbered by increasing key, as densify does
        let (codes, g) = dense_codes(&[9, 4, 9, 7]);
        assert_eq!((codes.into_owned(), g), (vec![2, 0, 2, 1], 3));
    }
}
