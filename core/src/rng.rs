//! Random streams: the one module that seeds generators and turns their output into draws.
//!
//! # Streams
//! Every random procedure takes a `seed` and gives its replicate (or probe, draw, unit) `r` the
//! generator `ChaCha8Rng::seed_from_u64(seed)` switched to stream `r` ([`stream`]; [`Streams`]
//! keeps the seeded generator and clones it per replicate, which gives the same numbers without
//! expanding the seed again). Replicates never share a generator, so rayon's scheduling cannot
//! change a number. Every procedure derives its streams this way:
//!
//! | procedure | stream index |
//! |---|---|
//! | placebo / randomization inference (`robust::placebo`) | replicate |
//! | cluster bootstrap of a·b (`mediation::bootstrap`) | replicate |
//! | heterogeneity permutation test (`mediation::heterogeneity`) | replicate |
//! | wild cluster bootstrap (`inference::wild_bootstrap`) | replicate |
//! | multiplier bootstrap (`inference::multiplier`) | replicate |
//! | global Moran's I permutations (`spatial::moran`) | permutation |
//! | local Moran's I conditional permutations (`spatial::moran`) | unit (all its permutations) |
//! | Barry–Pace log-determinant probes (`spatial::logdet`) | probe |
//! | sparse Hutchinson trace probes, Lanczos start (`spatial::sparse`) | probe (Lanczos: 0) |
//! | simulated spatial effects (`spatial::effects`) | draw |
//!
//! # Draws: two integer families, kept apart
//! The procedures draw bounded integers in one of two ways. They give different integers from
//! the same stream, and recorded results (golden files, published p-values) depend on them, so
//! both are kept, each under its own name:
//!
//! - [`below`] (Lemire's multiply-shift on `next_u64` with rejection) and [`shuffle`]
//!   (Fisher–Yates from the top with `below`): placebo assignments and pseudo adoption
//!   periods, the cluster draws of the mediation bootstrap, the heterogeneity permutations;
//! - [`rand_range`] / [`rand_range_inclusive`] (rand's own uniform sampling) and [`permute`]
//!   (Fisher–Yates with `rand_range_inclusive`): Moran's I permutations (global: whole
//!   permutations; local: a partial Fisher–Yates with `rand_range`). These were written first,
//!   against rand's API; `below` was added later for an explicit, version-proof algorithm.
//!
//! # Weights
//! - [`rademacher_bits`]: ±1 from the bits of successive `next_u64` words (bit j of word ⌊i/64⌋,
//!   least significant first; 1 → +1): wild cluster bootstrap, multiplier bootstrap;
//! - [`rademacher_bool`]: ±1 from rand's `random::<bool>()`, one call per value: sparse
//!   Hutchinson probes and the Lanczos start vector (an older, slower draw kept for its
//!   recorded traces);
//! - [`webb`]: Webb's six-point weights from `next_u32` with rejection: wild cluster bootstrap;
//! - [`Mammen`]: Mammen's two-point weights, a 16-bit threshold read a byte at a time
//!   (8.03 bits a draw on average): multiplier bootstrap;
//! - [`standard_normal`]: Box–Muller (cosine branch only; two uniforms per value): Barry–Pace
//!   probes, simulated spatial effects.

use rand::{Rng, RngExt, SeedableRng};

pub use rand_chacha::ChaCha8Rng;

/// The generator of replicate `r`: ChaCha8 seeded with `seed`, stream `r`.
pub fn stream(seed: u64, r: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(r);
    rng
}

/// The seeded generator, cloned per replicate: `streams.stream(r)` equals [`stream`]`(seed, r)`.
#[derive(Debug, Clone)]
pub struct Streams {
    base: ChaCha8Rng,
}

impl Streams {
    pub fn new(seed: u64) -> Self {
        Self {
            base: ChaCha8Rng::seed_from_u64(seed),
        }
    }

    pub fn stream(&self, r: u64) -> ChaCha8Rng {
        let mut rng = self.base.clone();
        rng.set_stream(r);
        rng
    }
}

/// Uniform integer in 0..n (n >= 1), Lemire's multiply-shift with rejection (unbiased).
pub fn below(rng: &mut ChaCha8Rng, n: u64) -> usize {
    let threshold = n.wrapping_neg() % n;
    loop {
        let m = (rng.next_u64() as u128) * (n as u128);
        if (m as u64) >= threshold {
            return (m >> 64) as usize;
        }
    }
}

/// Fisher–Yates shuffle from the top, with [`below`].
pub fn shuffle<T>(v: &mut [T], rng: &mut ChaCha8Rng) {
    for i in (1..v.len()).rev() {
        let j = below(rng, (i + 1) as u64);
        v.swap(i, j);
    }
}

/// rand's uniform integer in `lo..hi` (hi > lo).
pub fn rand_range(rng: &mut ChaCha8Rng, lo: usize, hi: usize) -> usize {
    rng.random_range(lo..hi)
}

/// rand's uniform integer in `lo..=hi`.
pub fn rand_range_inclusive(rng: &mut ChaCha8Rng, lo: usize, hi: usize) -> usize {
    rng.random_range(lo..=hi)
}

/// Fisher–Yates shuffle from the top, with [`rand_range_inclusive`] (Moran's I).
pub fn permute<T>(rng: &mut ChaCha8Rng, v: &mut [T]) {
    for i in (1..v.len()).rev() {
        let j = rand_range_inclusive(rng, 0, i);
        v.swap(i, j);
    }
}

/// Fills `v` with ±1 from the bits of successive `next_u64` words.
#[inline]
pub fn rademacher_bits(rng: &mut ChaCha8Rng, v: &mut [f64]) {
    for chunk in v.chunks_mut(64) {
        let bits = rng.next_u64();
        for (j, x) in chunk.iter_mut().enumerate() {
            *x = if (bits >> j) & 1 == 1 { 1.0 } else { -1.0 };
        }
    }
}

/// `n` values ±1, one `random::<bool>()` each (true → +1).
pub fn rademacher_bool(rng: &mut ChaCha8Rng, n: usize) -> Vec<f64> {
    (0..n)
        .map(|_| if rng.random::<bool>() { 1.0 } else { -1.0 })
        .collect()
}

/// Fills `v` with Webb's weights: successive `next_u32` values, those ≥ 6·⌊2³²/6⌋ rejected,
/// `x mod 6` = 0..5 mapped to −√1.5, −1, −√0.5, √0.5, 1, √1.5.
pub fn webb(rng: &mut ChaCha8Rng, v: &mut [f64]) {
    const LIMIT: u32 = 6 * (u32::MAX / 6); // 4_294_967_292: values below are unbiased
    let h = 0.5f64.sqrt();
    let t = 1.5f64.sqrt();
    let table = [-t, -1.0, -h, h, 1.0, t];
    for x in v.iter_mut() {
        let u = loop {
            let u = rng.next_u32();
            if u < LIMIT {
                break u;
            }
        };
        *x = table[(u % 6) as usize];
    }
}

/// Mammen's two-point law with the 16-bit threshold: low value w.p. p = 47422/65536 (Mammen's
/// κ/√5 = 0.7236068 to within 5e-6), values re-solved for the quantised p so that the
/// multipliers have mean exactly 0 and variance exactly 1 (third moment 1 to within 1e-4).
///
/// A draw compares a 16-bit number u with the threshold, but reads its low byte only when the
/// high byte alone cannot decide, i.e. when it equals the threshold's high byte (1 draw in
/// 256): the law is exactly that of a full 16-bit u, from about 8.03 random bits a draw
/// instead of 16. Bytes are read from successive `next_u64` words, least significant first.
#[derive(Debug, Clone, Copy)]
pub struct Mammen {
    threshold: u16,
    low: f64,
    high: f64,
}

impl Default for Mammen {
    fn default() -> Self {
        Self::new()
    }
}

/// Whether any byte of `word` equals `byte` (the classic has-zero-byte test on word ^ byte).
#[inline]
fn has_byte(word: u64, byte: u8) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let x = word ^ (ONES * byte as u64);
    x.wrapping_sub(ONES) & !x & HIGHS != 0
}

impl Mammen {
    pub fn new() -> Self {
        let kappa = 0.5 * (5f64.sqrt() + 1.0);
        let threshold = (kappa / 5f64.sqrt() * 65536.0).round() as u16;
        let p = threshold as f64 / 65536.0;
        Self {
            threshold,
            low: -((1.0 - p) / p).sqrt(),
            high: (p / (1.0 - p)).sqrt(),
        }
    }

    /// Fills `v` in order. A word whose eight bytes all differ from the threshold's high byte
    /// gives eight draws at once; otherwise its bytes are read one at a time, the undecided
    /// ones taking the next byte as their low byte. Bytes left in the last word are unused.
    #[inline]
    pub fn fill(&self, rng: &mut ChaCha8Rng, v: &mut [f64]) {
        let hi = (self.threshold >> 8) as u8;
        let lo = self.threshold as u8;
        let (mut word, mut left) = (0u64, 0u32);
        let mut i = 0;
        while i < v.len() {
            if left == 0 {
                word = rng.next_u64();
                left = 8;
                if v.len() - i >= 8 && !has_byte(word, hi) {
                    for (j, x) in v[i..i + 8].iter_mut().enumerate() {
                        let b = (word >> (8 * j)) as u8;
                        *x = if b < hi { self.low } else { self.high };
                    }
                    i += 8;
                    left = 0;
                    continue;
                }
            }
            let b = word as u8;
            word >>= 8;
            left -= 1;
            let is_low = if b != hi {
                b < hi
            } else {
                if left == 0 {
                    word = rng.next_u64();
                    left = 8;
                }
                let l = word as u8;
                word >>= 8;
                left -= 1;
                l < lo
            };
            v[i] = if is_low { self.low } else { self.high };
            i += 1;
        }
    }
}

/// A standard normal draw by Box–Muller (cosine branch; the sine half is not used).
#[inline]
pub fn standard_normal(rng: &mut ChaCha8Rng) -> f64 {
    let u1: f64 = 1.0 - rng.random::<f64>();
    let u2: f64 = rng.random::<f64>();
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

/// Test data only: the top 53 bits of a 64-bit linear congruential step (Knuth's MMIX
/// constants) as a uniform in [0, 1). Cheap and fixed, so test panels never move when the
/// estimators' ChaCha streams change.
#[cfg(test)]
pub(crate) fn test_uniform(state: &mut u64) -> f64 {
    *state = state
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    ((*state >> 11) as f64) / ((1u64 << 53) as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_equal_fresh_generators() {
        let s = Streams::new(42);
        let (mut a, mut b) = (s.stream(7), stream(42, 7));
        assert!((0..100).all(|_| a.next_u64() == b.next_u64()));
        // Stream 0 is the generator as seeded.
        let (mut c, mut d) = (stream(5, 0), ChaCha8Rng::seed_from_u64(5));
        assert!((0..100).all(|_| c.next_u64() == d.next_u64()));
    }

    #[test]
    fn shuffles_are_permutations() {
        let mut rng = stream(1, 2);
        let mut v: Vec<usize> = (0..50).collect();
        shuffle(&mut v, &mut rng);
        let mut w = v.clone();
        permute(&mut rng, &mut w);
        v.sort_unstable();
        w.sort_unstable();
        assert_eq!(v, (0..50).collect::<Vec<_>>());
        assert_eq!(w, v);
        assert!((0..1000).all(|_| below(&mut rng, 7) < 7));
    }

    #[test]
    fn mammen_moments() {
        let m = Mammen::new();
        let p = m.threshold as f64 / 65536.0;
        assert!((p - 0.5 * (1.0 + 1.0 / 5f64.sqrt())).abs() < 5e-6);
        assert!((p * m.low + (1.0 - p) * m.high).abs() < 1e-15);
        assert!((p * m.low * m.low + (1.0 - p) * m.high * m.high - 1.0).abs() < 1e-14);
        let third = p * m.low.powi(3) + (1.0 - p) * m.high.powi(3);
        assert!((third - 1.0).abs() < 1e-4, "{third}");
    }

    /// Mammen draws are the 16-bit comparison u < threshold with u's low byte read only when
    /// the high byte ties: a byte-at-a-time reference over the same words gives the same
    /// values for every length (the word-at-a-time path and the tie path both run), and the
    /// share of low values is p.
    #[test]
    fn mammen_reads_the_low_byte_only_on_a_tie() {
        let m = Mammen::new();
        let (hi, lo) = ((m.threshold >> 8) as u8, m.threshold as u8);
        let reference = |rng: &mut ChaCha8Rng, n: usize| -> Vec<f64> {
            let mut bytes = Vec::new();
            let mut pos = 0;
            let mut next = |bytes: &mut Vec<u8>, pos: &mut usize| {
                if *pos == bytes.len() {
                    bytes.extend_from_slice(&rng.next_u64().to_le_bytes());
                }
                *pos += 1;
                bytes[*pos - 1]
            };
            (0..n)
                .map(|_| {
                    let b = next(&mut bytes, &mut pos);
                    let low = if b == hi {
                        next(&mut bytes, &mut pos) < lo
                    } else {
                        b < hi
                    };
                    if low {
                        m.low
                    } else {
                        m.high
                    }
                })
                .collect()
        };
        let mut ties = 0;
        for n in (1..70).chain([2048, 4099]) {
            let mut v = vec![0.0; n];
            m.fill(&mut stream(11, n as u64), &mut v);
            assert_eq!(v, reference(&mut stream(11, n as u64), n), "n = {n}");
            let mut words = stream(11, n as u64);
            ties += (0..n.div_ceil(8))
                .filter(|_| has_byte(words.next_u64(), hi))
                .count();
        }
        assert!(ties > 10, "the tie path ran {ties} times");
        let mut v = vec![0.0; 2_000_000];
        m.fill(&mut stream(12, 0), &mut v);
        let share = v.iter().filter(|&&x| x == m.low).count() as f64 / v.len() as f64;
        let p = m.threshold as f64 / 65536.0;
        let se = (p * (1.0 - p) / v.len() as f64).sqrt();
        assert!((share - p).abs() < 4.0 * se, "share {share}, p {p}");
    }

    /// The weight generators have mean 0 and variance 1 (and Webb's six values are all used).
    #[test]
    fn weights_have_unit_variance() {
        let mammen = Mammen::new();
        for kind in 0..3 {
            let mut rng = stream(3, 0);
            let mut v = vec![0.0; 100_000];
            match kind {
                0 => rademacher_bits(&mut rng, &mut v),
                1 => webb(&mut rng, &mut v),
                _ => mammen.fill(&mut rng, &mut v),
            }
            let mean = v.iter().sum::<f64>() / v.len() as f64;
            let var = v.iter().map(|x| x * x).sum::<f64>() / v.len() as f64;
            assert!(mean.abs() < 0.01, "{kind} mean {mean}");
            assert!((var - 1.0).abs() < 0.01, "{kind} var {var}");
        }
    }
}
