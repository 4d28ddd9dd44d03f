//! The engine's random numbers: one named generator, the same stream on every target.
//!
//! `rand`'s `SmallRng` is a different algorithm on 32- and 64-bit targets, so a seed
//! would give different samples natively and in the browser. Xoshiro256++ is fixed.

use rand::rand_core::impls::fill_bytes_via_next;
use rand::{Rng as _, RngCore, SeedableRng};

/// Xoshiro256++ (Blackman and Vigna, 2019): four words of state, 2^256 - 1 period.
///
/// Written here rather than taken from `rand_xoshiro` (whose stream it repeats bit for
/// bit, tested below) because a run's snapshot must save and restore the state, and
/// that crate shows its state only through serde: the browser's `lab` module would
/// then need a JSON library for four numbers ([`Rng::state_text`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rng {
    s: [u64; 4],
}

impl Rng {
    /// The state as the text older snapshots hold (`{"s":[a,b,c,d]}`, what serde_json
    /// wrote for `rand_xoshiro`'s generator).
    pub fn state_text(&self) -> String {
        let [a, b, c, d] = self.s;
        format!("{{\"s\":[{a},{b},{c},{d}]}}")
    }

    /// A generator from [`Rng::state_text`]'s text; `None` unless the text is exactly
    /// that form with four words, not all zero (a fixed point: every later number
    /// would be 0).
    pub fn from_state_text(text: &[u8]) -> Option<Rng> {
        let inner = std::str::from_utf8(text)
            .ok()?
            .strip_prefix("{\"s\":[")?
            .strip_suffix("]}")?;
        let mut s = [0u64; 4];
        let mut words = inner.split(',');
        for word in &mut s {
            let digits = words.next()?;
            // u64's parser also takes a leading '+', which serde_json never wrote.
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            *word = digits.parse().ok()?;
        }
        (words.next().is_none() && s != [0; 4]).then_some(Rng { s })
    }
}

impl RngCore for Rng {
    #[inline]
    fn next_u32(&mut self) -> u32 {
        (self.next_u64() >> 32) as u32
    }

    #[inline]
    fn next_u64(&mut self) -> u64 {
        let s = &mut self.s;
        let result = s[0].wrapping_add(s[3]).rotate_left(23).wrapping_add(s[0]);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        result
    }

    fn fill_bytes(&mut self, dest: &mut [u8]) {
        fill_bytes_via_next(self, dest);
    }
}

impl SeedableRng for Rng {
    type Seed = [u8; 32];

    /// The state read from the seed's bytes (little-endian words); the all-zero seed,
    /// which xoshiro cannot leave, becomes `seed_from_u64(0)`.
    fn from_seed(seed: [u8; 32]) -> Rng {
        let mut s = [0u64; 4];
        for (word, bytes) in s.iter_mut().zip(seed.chunks_exact(8)) {
            *word = u64::from_le_bytes(bytes.try_into().expect("8 bytes"));
        }
        if s == [0; 4] {
            return Rng::seed_from_u64(0);
        }
        Rng { s }
    }

    /// The four words of state are the next four outputs of SplitMix64 started at `seed`.
    fn seed_from_u64(seed: u64) -> Rng {
        let mut x = seed;
        let s = core::array::from_fn(|_| {
            x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = x;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        });
        Rng { s }
    }
}

/// A generator from a user's seed.
pub fn seeded(seed: u64) -> Rng {
    Rng::seed_from_u64(seed)
}

/// The seed of stream `index` of update `update` in the run seeded by `seed` (the
/// shards of a split update, [`crate::shard`]): SplitMix64's finaliser over the three
/// words in turn, so nearby triples give unrelated streams, the same on every target.
pub fn stream_seed(seed: u64, update: u64, index: u64) -> u64 {
    let mix = |mut z: u64| {
        z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    mix(mix(mix(seed) ^ update) ^ index)
}

/// A seed from the platform's randomness (the browser's `crypto.getRandomValues` in
/// wasm), for runs that are not replaying a given seed.
pub fn fresh_seed() -> Result<u32, String> {
    let mut bytes = [0u8; 4];
    getrandom::fill(&mut bytes).map_err(|e| format!("the platform gave no random seed: {e}"))?;
    Ok(u32::from_le_bytes(bytes))
}

/// A uniform number in [0, 1) with 24 random bits: exactly representable in f32.
#[inline(always)]
pub fn uniform(rng: &mut Rng) -> f32 {
    (rng.next_u32() >> 8) as f32 * (1.0 / 16_777_216.0)
}

/// A standard normal number by the Box–Muller transform, using `libm` so that the
/// result is the same on every target (std's `ln`, `cos` may differ in the last bit).
pub fn standard_normal(rng: &mut Rng) -> f64 {
    // 53-bit uniform in (0, 1]: never zero, so the logarithm is finite.
    let u1 = ((rng.next_u64() >> 11) + 1) as f64 * (1.0 / 9_007_199_254_740_992.0);
    let u2 = (rng.next_u64() >> 11) as f64 * (1.0 / 9_007_199_254_740_992.0);
    libm::sqrt(-2.0 * libm::log(u1)) * libm::cos(core::f64::consts::TAU * u2)
}

/// A uniform index in `0..n` for n < 2^32 (portable: rand samples u32 ranges alike everywhere).
pub fn index(rng: &mut Rng, n: usize) -> usize {
    rng.random_range(0..n as u32) as usize
}

/// Fisher–Yates shuffle driven by [`index`].
pub fn shuffle<T>(rng: &mut Rng, items: &mut [T]) {
    for i in (1..items.len()).rev() {
        items.swap(i, index(rng, i + 1));
    }
}

/// `out[i] = 1` with probability `prob[i]`, else 0, drawing one uniform per element in order.
pub fn sample_bernoulli(rng: &mut Rng, prob: &[f32], out: &mut [f32]) {
    for (o, &p) in out.iter_mut().zip(prob) {
        *o = if uniform(rng) < p { 1.0 } else { 0.0 };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stream_is_rand_xoshiros() {
        use rand_xoshiro::Xoshiro256PlusPlus as Theirs;
        let seeds = [
            0,
            1,
            2,
            42,
            2010,
            u32::MAX as u64,
            u64::MAX,
            0x9e37_79b9_7f4a_7c15,
        ];
        for seed in seeds
            .into_iter()
            .chain((0..200).map(|i| stream_seed(7, i, i * 3)))
        {
            let (mut ours, mut theirs) = (seeded(seed), Theirs::seed_from_u64(seed));
            // Interleaved widths, as the engine draws them.
            for i in 0..64 {
                if i % 3 == 0 {
                    assert_eq!(ours.next_u32(), theirs.next_u32(), "seed {seed}, draw {i}");
                } else {
                    assert_eq!(ours.next_u64(), theirs.next_u64(), "seed {seed}, draw {i}");
                }
            }
            assert_eq!(
                index(&mut ours, 1000),
                theirs.random_range(0..1000u32) as usize
            );
            // The saved text is what serde_json wrote for their generator.
            assert_eq!(ours.state_text(), serde_json::to_string(&theirs).unwrap());
        }
        let bytes: [u8; 32] = core::array::from_fn(|i| (i * 37 + 1) as u8);
        let (mut ours, mut theirs) = (Rng::from_seed(bytes), Theirs::from_seed(bytes));
        assert_eq!(ours.next_u64(), theirs.next_u64());
        let (mut ours, mut theirs) = (Rng::from_seed([0; 32]), Theirs::from_seed([0; 32]));
        assert_eq!(ours.next_u64(), theirs.next_u64());
        let mut filled = ([0u8; 13], [0u8; 13]);
        seeded(5).fill_bytes(&mut filled.0);
        Theirs::seed_from_u64(5).fill_bytes(&mut filled.1);
        assert_eq!(filled.0, filled.1);
    }

    #[test]
    fn state_text_round_trips_and_refuses_anything_else() {
        let mut rng = seeded(99);
        rng.next_u64();
        let text = rng.state_text();
        let mut back = Rng::from_state_text(text.as_bytes()).unwrap();
        assert_eq!(back, rng);
        assert_eq!(back.next_u64(), rng.next_u64());
        let max = u64::MAX;
        assert!(Rng::from_state_text(format!("{{\"s\":[{max},0,0,1]}}").as_bytes()).is_some());
        for bad in [
            "",
            "{\"s\":[0,0,0,0]}",
            "{\"s\":[1,2,3]}",
            "{\"s\":[1,2,3,4,5]}",
            "{\"s\":[1,2,3,+4]}",
            "{\"s\":[1,2,3,-4]}",
            "{\"s\":[1,2,3,4.0]}",
            "{\"s\":[1,2,3,18446744073709551616]}",
            "{\"s\":[1,2,3,4]} ",
            "{\"s\": [1,2,3,4]}",
            "{\"s\":[1,,3,4]}",
            "{\"t\":[1,2,3,4]}",
        ] {
            assert!(Rng::from_state_text(bad.as_bytes()).is_none(), "{bad}");
        }
        assert!(Rng::from_state_text(&[0xff, 0xfe]).is_none());
    }

    #[test]
    fn fresh_seeds_differ() {
        // Two draws of 32 bits agree with probability 2^-32; three in a row, never.
        let seeds: Vec<u32> = (0..3).map(|_| fresh_seed().unwrap()).collect();
        assert!(seeds[0] != seeds[1] || seeds[1] != seeds[2], "{seeds:?}");
    }

    #[test]
    fn the_stream_is_pinned() {
        // Value-stability pin: if this changes, every saved seed gives other runs.
        let mut rng = seeded(42);
        let first: Vec<u32> = (0..3).map(|_| rng.next_u32()).collect();
        assert_eq!(first, [0xd076_4d4f, 0x519e_4174, 0xfbe0_7cfb]);
    }

    #[test]
    fn normal_has_unit_moments() {
        // 200k draws: the standard error of the mean is 1/sqrt(2e5) ~ 0.0022 and of
        // the variance sqrt(2/2e5) ~ 0.0032; 5 standard errors are allowed.
        let mut rng = seeded(7);
        let n = 200_000;
        let draws: Vec<f64> = (0..n).map(|_| standard_normal(&mut rng)).collect();
        let mean = draws.iter().sum::<f64>() / n as f64;
        let var = draws.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n as f64;
        assert!(mean.abs() < 0.011, "mean {mean}");
        assert!((var - 1.0).abs() < 0.016, "variance {var}");
    }

    #[test]
    fn bernoulli_frequency_matches_probability() {
        // 100k draws at p = 0.3: standard error sqrt(0.21/1e5) ~ 0.00145; allow 5.
        let mut rng = seeded(9);
        let prob = vec![0.3f32; 100_000];
        let mut out = vec![0.0f32; prob.len()];
        sample_bernoulli(&mut rng, &prob, &mut out);
        let freq = out.iter().sum::<f32>() / out.len() as f32;
        assert!((freq - 0.3).abs() < 0.0073, "frequency {freq}");
        assert!(out.iter().all(|&v| v == 0.0 || v == 1.0));
    }
}
