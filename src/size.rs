//! Checked arithmetic for sizes that come from outside (files, the URL hash, JS arguments).
//!
//! On wasm32 `usize` is 32 bits, so `rows * cols` from a hostile file can wrap to a
//! small number that passes every later check. Every product or sum of outside sizes
//! goes through these helpers instead: they compute in `u64` and refuse anything above
//! `u32::MAX`, so a size is accepted or refused the same way natively and in the browser.

/// The largest size (element or byte count) accepted from outside, on every target.
pub const MAX_OUTSIDE_SIZE: u64 = u32::MAX as u64;

/// `a * b * ...` when it is at most [`MAX_OUTSIDE_SIZE`], else `None`. The factors may
/// be any size (a `u64` read from a file, say); nothing wraps.
pub fn product(factors: &[u64]) -> Option<usize> {
    if factors.contains(&0) {
        return Some(0);
    }
    let mut total: u64 = 1;
    for &f in factors {
        total = total.checked_mul(f)?;
        if total > MAX_OUTSIDE_SIZE {
            return None;
        }
    }
    fits(total)
}

/// `a + b + ...` when it is at most [`MAX_OUTSIDE_SIZE`], else `None`.
pub fn sum(terms: &[u64]) -> Option<usize> {
    let mut total: u64 = 0;
    for &t in terms {
        total = total.checked_add(t)?;
    }
    fits(total)
}

/// `value` as a `usize` when it is at most [`MAX_OUTSIDE_SIZE`].
pub fn fits(value: u64) -> Option<usize> {
    if value <= MAX_OUTSIDE_SIZE {
        usize::try_from(value).ok()
    } else {
        None
    }
}

/// A size that arrived as a JavaScript number (an f64): a whole number from 0 to
/// [`MAX_OUTSIDE_SIZE`], else `None` (so 1.7, -1, NaN and 1e300 are refused, not truncated).
pub fn from_js_number(value: f64) -> Option<usize> {
    if value.is_finite() && value >= 0.0 && value.fract() == 0.0 && value <= MAX_OUTSIDE_SIZE as f64
    {
        fits(value as u64)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn products_at_the_u32_boundary() {
        let max = u64::from(u32::MAX);
        assert_eq!(product(&[65_535, 65_537]), Some(4_294_967_295));
        assert_eq!(product(&[65_536, 65_536]), None, "2^32 wraps to 0 in u32");
        assert_eq!(product(&[2_147_484_040, 2]), None, "wraps to 784 in u32");
        assert_eq!(product(&[max]), Some(u32::MAX as usize));
        assert_eq!(product(&[max + 1]), None);
        assert_eq!(
            product(&[1 << 19, 256 * 256 / 8]),
            None,
            "2^19 images of 256 x 256"
        );
        assert_eq!(product(&[u64::MAX, 2]), None);
        assert_eq!(
            product(&[u64::MAX, 2, 0]),
            Some(0),
            "a zero factor makes zero"
        );
        assert_eq!(product(&[]), Some(1));
        assert_eq!(product(&[28, 28]), Some(784));
    }

    #[test]
    fn sums_at_the_u32_boundary() {
        let max = u64::from(u32::MAX);
        assert_eq!(sum(&[max - 14, 14]), Some(u32::MAX as usize));
        assert_eq!(sum(&[max - 13, 14]), None);
        assert_eq!(sum(&[u64::MAX, 1]), None);
        assert_eq!(sum(&[14, 9_000, 882_000]), Some(891_014));
    }

    #[test]
    fn js_numbers_must_be_whole_and_in_range() {
        assert_eq!(from_js_number(64.0), Some(64));
        assert_eq!(from_js_number(0.0), Some(0));
        assert_eq!(from_js_number(4_294_967_295.0), Some(u32::MAX as usize));
        for bad in [
            1.7,
            -1.0,
            f64::NAN,
            f64::INFINITY,
            4_294_967_296.0,
            1e300,
            -0.5,
        ] {
            assert_eq!(from_js_number(bad), None, "{bad}");
        }
    }
}
