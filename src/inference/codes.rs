//! Dense codes for arbitrary integer keys (cluster ids, unit ids): shared by the variance
//! estimators, the wild bootstrap and the Conley meat.

/// Map arbitrary keys to dense codes `0..G` (numbered by increasing key) and return G.
pub(crate) fn densify(keys: impl Iterator<Item = u64> + Clone, n: usize) -> (Vec<u32>, usize) {
    let max = keys.clone().max().unwrap_or(0);
    let table_limit = (4 * n as u64).max(1 << 16);
    if max < table_limit {
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
