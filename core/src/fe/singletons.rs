//! Singleton detection: observations alone in a fixed-effect level carry no information once
//! that level is absorbed. Removing them can create new singletons in another dimension, so we
//! iterate to a fixed point, as reghdfe and fixest (`fixef.rm = "singleton"`) do.

use crate::alloc::{try_vec, try_zeros};
use crate::error::Result;
use crate::interrupt::Cancel;

/// Returns a mask, true for observations that are singletons (after iterated removal).
/// `codes[q]` must be below `n_levels[q]` (as `FixedEffects` guarantees). Cancellable between
/// passes; buffers are allocated fallibly.
pub fn find_singletons(codes: &[Vec<u32>], n_levels: &[usize]) -> Result<Vec<bool>> {
    let n = codes.first().map_or(0, Vec::len);
    let mut singleton = try_vec(n, false, "singleton mask")?;
    if codes.is_empty() {
        return Ok(singleton);
    }
    let cancel = Cancel::current();
    let mut counts: Vec<Vec<u32>> = n_levels
        .iter()
        .map(|&l| try_zeros::<u32>(l, "fixed-effect level counts"))
        .collect::<Result<_>>()?;
    for (q, c) in codes.iter().enumerate() {
        for &v in c {
            counts[q][v as usize] += 1;
        }
    }
    loop {
        cancel.check()?;
        let mut changed = false;
        for q in 0..codes.len() {
            for i in 0..n {
                if !singleton[i] && counts[q][codes[q][i] as usize] == 1 {
                    singleton[i] = true;
                    changed = true;
                    for (qq, c) in codes.iter().enumerate() {
                        counts[qq][c[i] as usize] -= 1;
                    }
                }
            }
        }
        // One dimension never needs a second pass: removing singletons cannot create new ones.
        if !changed || codes.len() == 1 {
            break;
        }
    }
    Ok(singleton)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iterated_removal_reaches_fixed_point() {
        // unit 2 has one row (obs 4); removing it leaves year 1 with one row (obs 1); removing
        // that leaves unit 0 with one row (obs 0). Units 1 (obs 2, 3) survive.
        let unit = vec![0, 0, 1, 1, 2];
        let year = vec![0, 1, 0, 0, 1];
        let s = find_singletons(&[unit, year], &[3, 2]).unwrap();
        assert_eq!(s, vec![true, true, false, false, true]);
    }

    #[test]
    fn no_singletons_in_a_balanced_panel() {
        let unit: Vec<u32> = (0..12).map(|i| i / 3).collect();
        let year: Vec<u32> = (0..12).map(|i| i % 3).collect();
        assert!(find_singletons(&[unit, year], &[4, 3])
            .unwrap()
            .iter()
            .all(|&s| !s));
    }
}
