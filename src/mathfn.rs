//! Elementwise functions (exp, sigmoid, softplus) that are fast, branch-free and
//! bit-identical on every target.
//!
//! Why hand-written: the hot loops of the engine apply `sigmoid` to every unit of
//! every chain and `softplus` to 784 inputs for each of the 2^20 states of an exact
//! partition function. `f32::exp` is a library call that stops vectorisation and
//! differs between glibc (native) and the wasm runtime, which would break the
//! native/browser determinism pins. These versions use only IEEE add, multiply,
//! divide and integer bit operations, which round the same way everywhere, so LLVM
//! can vectorise them (SSE2 natively, simd128 in wasm) and the results agree to the bit.
//! Accuracy is pinned against `libm` in the tests: relative error below 2e-7 for
//! `exp`, absolute error below 3e-7 for `sigmoid` and relative error below 1e-6
//! for `softplus`.

const LOG2_E: f32 = core::f32::consts::LOG2_E;
// ln 2 split in two (Cody and Waite): LN2_HI has only 9 significant bits, so
// k * LN2_HI is exact for every |k| <= 127 and x - k ln 2 loses nothing.
const LN2_HI: f32 = 355.0 / 512.0;
const LN2_LO: f32 = -2.121_944_4e-4;
// Adding then subtracting 1.5 * 2^23 rounds to the nearest integer without a call.
const ROUND_MAGIC: f32 = 12_582_912.0;
const EXP_INPUT_MIN: f32 = -87.0;
const EXP_INPUT_MAX: f32 = 88.0;

/// `e^x` for f32, with the input clamped to [-87, 88] so the result is always a
/// finite, normal number (about 1.6e-38 to 1.65e38).
#[inline(always)]
pub fn exp(x: f32) -> f32 {
    let x = x.clamp(EXP_INPUT_MIN, EXP_INPUT_MAX);
    let t = x * LOG2_E + ROUND_MAGIC;
    let k = t - ROUND_MAGIC;
    let r = (x - k * LN2_HI) - k * LN2_LO;
    // Taylor series of e^r on |r| <= ln(2)/2; the degree-7 remainder is below 6e-9.
    let p = 1.0
        + r * (1.0
            + r * (0.5
                + r * (1.0 / 6.0
                    + r * (1.0 / 24.0
                        + r * (1.0 / 120.0 + r * (1.0 / 720.0 + r * (1.0 / 5040.0)))))));
    // 2^k built from the exponent bits; k is in [-126, 127] after the clamp. t lies in
    // [2^23, 2^24), where f32's spacing is 1, so t is exactly 1.5 * 2^23 + k and its bits
    // minus the constant's are k: integer operations only. (`k as i32` gave the same
    // number, but its saturating conversion kept LLVM from vectorising loops of exp on
    // baseline x86-64.)
    let k_bits = t.to_bits().wrapping_sub(ROUND_MAGIC.to_bits());
    let scale = f32::from_bits(k_bits.wrapping_add(127) << 23);
    p * scale
}

/// `ln(1 + t)` for t in [0, 1], through the series of atanh:
/// ln(1 + t) = 2 atanh(s) with s = t / (2 + t) in [0, 1/3].
#[inline(always)]
fn log1p_unit(t: f32) -> f32 {
    let s = t / (2.0 + t);
    let s2 = s * s;
    // 2 (s + s^3/3 + ... + s^13/13); the first dropped term is below 5e-9 relative.
    let series = 1.0
        + s2 * (1.0 / 3.0
            + s2 * (1.0 / 5.0
                + s2 * (1.0 / 7.0 + s2 * (1.0 / 9.0 + s2 * (1.0 / 11.0 + s2 * (1.0 / 13.0))))));
    2.0 * s * series
}

/// The logistic function 1 / (1 + e^-x).
#[inline(always)]
pub fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + exp(-x))
}

/// softplus(x) = ln(1 + e^x), computed as max(x, 0) + ln(1 + e^-|x|) so that it
/// neither overflows for large x nor loses precision for very negative x.
#[inline(always)]
pub fn softplus(x: f32) -> f32 {
    x.max(0.0) + log1p_unit(exp(-x.abs()))
}

/// `out[i] = sigmoid(scale * input[i])`.
pub fn sigmoid_scaled(input: &[f32], scale: f32, out: &mut [f32]) {
    for (o, &x) in out.iter_mut().zip(input) {
        *o = sigmoid(scale * x);
    }
}

/// Sum of `softplus(scale * (bias[i] + input[i]))`, accumulated in eight f32 lanes
/// (a fixed order, so the same on every target) and returned as f64.
pub fn softplus_sum(input: &[f32], bias: &[f32], scale: f32) -> f64 {
    const LANES: usize = 8;
    let mut lanes = [0.0f32; LANES];
    let chunks = input.len() / LANES * LANES;
    for (xs, bs) in input[..chunks]
        .chunks_exact(LANES)
        .zip(bias[..chunks].chunks_exact(LANES))
    {
        for l in 0..LANES {
            lanes[l] += softplus(scale * (bs[l] + xs[l]));
        }
    }
    let mut total: f64 = lanes.iter().map(|&v| f64::from(v)).sum();
    for (x, b) in input[chunks..].iter().zip(&bias[chunks..]) {
        total += f64::from(softplus(scale * (b + x)));
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grid() -> impl Iterator<Item = f32> {
        (-200_000..=200_000).map(|i| i as f32 * 4.5e-4)
    }

    #[test]
    fn exp_matches_libm_to_two_tenths_of_a_millionth() {
        let mut worst = 0.0f64;
        for x in (-86_990..=87_990).map(|i| i as f32 * 1e-3) {
            let exact = libm::exp(f64::from(x));
            let rel = ((f64::from(exp(x)) - exact) / exact).abs();
            worst = worst.max(rel);
        }
        assert!(worst < 2e-7, "worst relative error {worst}");
    }

    /// The scale 2^k read from t's bits is the one the float-to-integer conversion
    /// gave: every input from -100 to 100 in steps of 2^-10, every integer and
    /// half-integer around the clamp and the rounding ties, and the extremes.
    #[test]
    fn exp_scale_from_bits_equals_the_conversion() {
        let by_conversion = |x: f32| {
            let x = x.clamp(EXP_INPUT_MIN, EXP_INPUT_MAX);
            let k = (x * LOG2_E + ROUND_MAGIC) - ROUND_MAGIC;
            let r = (x - k * LN2_HI) - k * LN2_LO;
            let p = 1.0
                + r * (1.0
                    + r * (0.5
                        + r * (1.0 / 6.0
                            + r * (1.0 / 24.0
                                + r * (1.0 / 120.0 + r * (1.0 / 720.0 + r * (1.0 / 5040.0)))))));
            p * f32::from_bits(((k as i32 + 127) as u32) << 23)
        };
        let fine = (-102_400..=102_400).map(|i| i as f32 / 1024.0);
        let ties = (-260..=260).map(|i| i as f32 * 0.5 * core::f32::consts::LN_2);
        let extremes = [
            f32::MIN,
            f32::MAX,
            -0.0,
            1e-30,
            -1e-30,
            f32::INFINITY,
            f32::NEG_INFINITY,
        ];
        for x in fine.chain(ties).chain(extremes) {
            let nudged = [
                x,
                f32::from_bits(x.to_bits().wrapping_add(1)),
                f32::from_bits(x.to_bits().wrapping_sub(1)),
            ];
            for x in nudged.into_iter().filter(|x| !x.is_nan()) {
                assert_eq!(exp(x).to_bits(), by_conversion(x).to_bits(), "exp({x:e})");
            }
        }
        assert!(exp(f32::NAN).is_nan());
    }

    #[test]
    fn sigmoid_matches_libm() {
        let mut worst = 0.0f64;
        for x in grid() {
            let exact = 1.0 / (1.0 + libm::exp(-f64::from(x)));
            worst = worst.max((f64::from(sigmoid(x)) - exact).abs());
        }
        assert!(worst < 3e-7, "worst absolute error {worst}");
        assert_eq!(sigmoid(1e6), 1.0);
        assert!(sigmoid(-1e6) >= 0.0 && sigmoid(-1e6) < 1e-37);
    }

    #[test]
    fn softplus_matches_libm_and_stays_finite() {
        let mut worst = 0.0f64;
        for x in grid() {
            let xd = f64::from(x);
            let exact = xd.max(0.0) + libm::log1p(libm::exp(-xd.abs()));
            let error = (f64::from(softplus(x)) - exact).abs();
            // Below e^-87 (where exp is clamped) only the absolute error is meaningful.
            let rel = if exact > 1e-30 {
                error / exact
            } else {
                error / 1e-30
            };
            worst = worst.max(rel);
        }
        assert!(worst < 1e-6, "worst relative error {worst}");
        assert_eq!(softplus(1e30), 1e30);
        assert!(softplus(-1e30) >= 0.0);
    }

    #[test]
    fn softplus_sum_adds_every_element_including_the_tail() {
        let input: Vec<f32> = (0..19).map(|i| i as f32 * 0.3 - 2.0).collect();
        let bias = vec![0.25f32; 19];
        let expected: f64 = input
            .iter()
            .map(|&x| f64::from(softplus(2.0 * (x + 0.25))))
            .sum();
        assert!((softplus_sum(&input, &bias, 2.0) - expected).abs() < 1e-5);
    }
}
