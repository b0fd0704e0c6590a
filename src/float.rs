//! The few `f64` operations `core` lacks without std (wasm's own instructions for them are
//! unstable in Rust). The same code runs natively, where the tests compare it with std's.

/// 2^52: every `f64` at least this large is an integer.
const INTEGRAL: f64 = 4_503_599_627_370_496.0;

/// Rounds toward zero.
#[inline]
pub fn trunc(x: f64) -> f64 {
    // NaN, infinities and large values fall through unchanged.
    if x.is_nan() || x.abs() >= INTEGRAL {
        return x;
    }
    let t = (x as i64) as f64;
    if t == 0.0 && x.is_sign_negative() { -0.0 } else { t }
}

/// Rounds to the nearest integer, ties to even.
#[inline]
pub fn round_ties_even(x: f64) -> f64 {
    let t = trunc(x);
    let d = (x - t).abs();
    if d < 0.5 || (d == 0.5 && (t as i64) % 2 == 0) { t } else { t + if x < 0.0 { -1.0 } else { 1.0 } }
}

/// Rounds to the nearest integer, ties away from zero (as `f64::round`).
#[inline]
pub fn round(x: f64) -> f64 {
    let t = trunc(x);
    if (x - t).abs() >= 0.5 { t + if x < 0.0 { -1.0 } else { 1.0 } } else { t }
}

/// The fractional part.
#[inline]
pub fn fract(x: f64) -> f64 {
    x - trunc(x)
}

/// True for an integer that a JS number holds exactly (|x| ≤ 2^53 − 1).
#[inline]
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
pub fn is_safe_integer(x: f64) -> bool {
    fract(x) == 0.0 && x.abs() <= 9_007_199_254_740_991.0
}

#[cfg(test)]
mod tests {
    #[test]
    fn matches_std() {
        let xs = [
            0.0,
            -0.0,
            0.5,
            -0.5,
            1.5,
            2.5,
            -2.5,
            3.5,
            0.49999999999999994,
            1e300,
            -3.7,
            3.2,
            4503599627370495.5,
            -1e-300,
        ];
        for x in xs {
            assert_eq!(super::round(x).to_bits(), x.round().to_bits(), "round {x}");
            assert_eq!(super::trunc(x).to_bits(), x.trunc().to_bits(), "trunc {x}");
            assert_eq!(super::round_ties_even(x), x.round_ties_even(), "ties even {x}");
            assert_eq!(super::fract(x), x.fract(), "fract {x}");
        }
        assert!(super::trunc(f64::NAN).is_nan());
        assert_eq!(super::trunc(f64::INFINITY), f64::INFINITY);
    }
}
