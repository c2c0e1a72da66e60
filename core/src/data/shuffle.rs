//! The epoch shuffle: Fisher–Yates over a seeded PCG generator.
//!
//! The original seeded an LCG from `rdtsc`, so no two runs agreed. We seed `rand_pcg`'s
//! PCG-XSL-RR 128/64 from `--seed`, and write the two pieces whose definition matters ourselves:
//! the bounded draw and the shuffle. `rand`'s own `gen_range`/`shuffle` are free to change their
//! algorithms between versions (and have), which would silently change every golden file. Ours
//! cannot change unless this file does.

use rand_core::RngCore;
use rand_pcg::Pcg64;

/// The project's one random stream: weight init first, then one shuffle per epoch.
pub struct Rng(Pcg64);

impl Rng {
    // ANCHOR: from_seed
    /// A generator fully determined by `seed`. The seed goes through SplitMix64 so that nearby
    /// seeds (1, 2, 3…) start far apart in PCG's state space.
    pub fn from_seed(seed: u64) -> Rng {
        let mut sm = seed;
        let state = ((splitmix64(&mut sm) as u128) << 64) | splitmix64(&mut sm) as u128;
        let stream = ((splitmix64(&mut sm) as u128) << 64) | splitmix64(&mut sm) as u128;
        Rng(Pcg64::new(state, stream))
    }
    // ANCHOR_END: from_seed

    pub fn next_u64(&mut self) -> u64 {
        self.0.next_u64()
    }

    // ANCHOR: unit
    /// Uniform in `[0, 1)`: the top 53 bits of a draw, scaled by `2^-53` (exact).
    pub fn next_unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform in `[-bound, bound)`: `bound · (2u − 1)`.
    pub fn next_symmetric(&mut self, bound: f64) -> f64 {
        bound * (2.0 * self.next_unit() - 1.0)
    }
    // ANCHOR_END: unit

    // ANCHOR: below
    /// Uniform integer in `0..n` without bias (Lemire's multiply-and-reject method):
    /// the high half of `x·n` is the candidate; the low half tells whether `x` fell in the
    /// short, over-represented slice of the range, in which case we draw again.
    pub fn below(&mut self, n: u64) -> u64 {
        assert!(n > 0, "below(0) has no values");
        let mut m = self.next_u64() as u128 * n as u128;
        if (m as u64) < n {
            let threshold = n.wrapping_neg() % n; // 2^64 mod n
            while (m as u64) < threshold {
                m = self.next_u64() as u128 * n as u128;
            }
        }
        (m >> 64) as u64
    }
    // ANCHOR_END: below
}

// ANCHOR: splitmix64
fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}
// ANCHOR_END: splitmix64

// ANCHOR: fisher_yates
/// Fisher–Yates (Durstenfeld's in-place form): walk from the end, swap each slot with a
/// uniformly chosen slot at or before it. Every permutation is equally likely.
pub fn fisher_yates<T>(rng: &mut Rng, items: &mut [T]) {
    for i in (1..items.len()).rev() {
        let j = rng.below(i as u64 + 1) as usize;
        items.swap(i, j);
    }
}
// ANCHOR_END: fisher_yates

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_stream_different_seed_different_stream() {
        let a: Vec<u64> = (0..8)
            .map({
                let mut r = Rng::from_seed(7);
                move |_| r.next_u64()
            })
            .collect();
        let b: Vec<u64> = (0..8)
            .map({
                let mut r = Rng::from_seed(7);
                move |_| r.next_u64()
            })
            .collect();
        let c: Vec<u64> = (0..8)
            .map({
                let mut r = Rng::from_seed(8);
                move |_| r.next_u64()
            })
            .collect();
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn below_stays_in_range_and_is_roughly_uniform() {
        let mut rng = Rng::from_seed(1);
        let mut counts = [0u32; 7];
        for _ in 0..70_000 {
            counts[rng.below(7) as usize] += 1;
        }
        for c in counts {
            assert!((9_000..11_000).contains(&c), "{counts:?}");
        }
        assert_eq!(rng.below(1), 0);
    }

    #[test]
    fn unit_and_symmetric_ranges() {
        let mut rng = Rng::from_seed(3);
        for _ in 0..10_000 {
            let u = rng.next_unit();
            assert!((0.0..1.0).contains(&u));
            let s = rng.next_symmetric(0.0815);
            assert!((-0.0815..0.0815).contains(&s));
        }
    }

    #[test]
    fn fisher_yates_is_a_permutation_and_fills_the_first_position_uniformly() {
        let mut rng = Rng::from_seed(2);
        let mut v: Vec<u32> = (0..1000).collect();
        fisher_yates(&mut rng, &mut v);
        let mut sorted = v.clone();
        sorted.sort();
        assert_eq!(sorted, (0..1000).collect::<Vec<_>>());
        assert_ne!(v, sorted);
        // Position 0 receives each of 3 items about equally often.
        let mut first = [0u32; 3];
        for _ in 0..30_000 {
            let mut w = [0u8, 1, 2];
            fisher_yates(&mut rng, &mut w);
            first[w[0] as usize] += 1;
        }
        assert!(first.iter().all(|&c| (9_000..11_000).contains(&c)), "{first:?}");
    }
}
