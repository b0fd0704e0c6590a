//! Time: Unix epoch nanoseconds.
//!
//! In the browser, `now()` is `performance.timeOrigin + performance.now()`: monotonic within the
//! page and sub-millisecond. Natively it is the system clock.

#[allow(unused_imports)]
use crate::prelude::*;

/// Converts epoch milliseconds (a JS `Date.now()` or `Date#getTime()`) to epoch nanoseconds.
/// Negative or non-finite input gives 0.
#[inline]
pub fn millis_to_nanos(ms: f64) -> u64 {
    if !(ms.is_finite() && ms > 0.0) {
        return 0;
    }
    let whole = crate::float::trunc(ms);
    (whole as u64).saturating_mul(1_000_000).saturating_add(crate::float::round((ms - whole) * 1_000_000.0) as u64)
}

/// JS numbers below this are `performance.now()` offsets, not epoch milliseconds.
pub const PERF_OFFSET_LIMIT_MS: f64 = 1e11;

/// The latest time a JS number may give, in epoch milliseconds: epoch nanoseconds fit in a `u64`
/// up to here (July 2554).
pub const MAX_JS_MILLIS: f64 = 18_446_744_073_709.0;

/// A page clock: the epoch time of the page's origin plus a high-resolution offset.
#[derive(Clone, Copy, Debug)]
pub struct PageClock {
    origin_ns: u64,
}

impl PageClock {
    /// A clock whose zero is `time_origin_ms` (`performance.timeOrigin`).
    pub fn new(time_origin_ms: f64) -> Self {
        PageClock { origin_ns: millis_to_nanos(time_origin_ms) }
    }

    /// Epoch nanoseconds for a `performance.now()` reading.
    #[inline]
    pub fn at(&self, perf_now_ms: f64) -> u64 {
        self.origin_ns.saturating_add(millis_to_nanos(perf_now_ms))
    }

    /// Epoch nanoseconds for a time given as a JS number: epoch milliseconds, or a
    /// `performance.now()`-style offset (negative: before the time origin) when below
    /// [`PERF_OFFSET_LIMIT_MS`] in size. `None` for what is not a time: NaN, an infinity, one
    /// past [`MAX_JS_MILLIS`] or before 1970 (the caller then uses the time now, rather than
    /// exporting 1970 or the year 2554).
    ///
    /// OpenTelemetry JS treats every number below `performance.timeOrigin` as an offset, which
    /// misreads `Date.now() - 1000` in a page loaded less than a second ago. Offsets are page
    /// uptimes (far below 1e11 ms, three years) and epoch times are above 1e12 ms (2001), so the
    /// magnitude tells them apart without that trap.
    #[inline]
    pub fn from_js_millis(&self, ms: f64) -> Option<u64> {
        if !(-PERF_OFFSET_LIMIT_MS < ms && ms <= MAX_JS_MILLIS) {
            return None;
        }
        if ms < 0.0 {
            // An offset before the page's time origin (`performance.now() - 5000` early on).
            return self.origin_ns.checked_sub(millis_to_nanos(-ms));
        }
        Some(if ms < PERF_OFFSET_LIMIT_MS { self.at(ms) } else { millis_to_nanos(ms) })
    }
}

/// Now, in epoch nanoseconds.
#[cfg(not(target_arch = "wasm32"))]
pub fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(0)
}

/// Now, in epoch nanoseconds.
#[cfg(target_arch = "wasm32")]
pub fn now() -> u64 {
    crate::web::platform::now()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversions() {
        let rows: &[(f64, u64, &str)] = &[
            (0.0, 0, "zero"),
            (-5.0, 0, "negative clamps to 0"),
            (f64::NAN, 0, "NaN"),
            (1.5, 1_500_000, "fraction of a millisecond"),
            (1_700_000_000_123.0, 1_700_000_000_123_000_000, "an epoch time keeps every digit"),
            (1_700_000_000_123.25, 1_700_000_000_123_250_000, "sub-ms part of an epoch time"),
        ];
        for (ms, want, why) in rows {
            assert_eq!(millis_to_nanos(*ms), *want, "{why}");
        }
        let c = PageClock::new(1_700_000_000_000.5);
        assert_eq!(c.at(0.25), 1_700_000_000_000_750_000);
        assert_eq!(c.from_js_millis(10.0), Some(1_700_000_000_010_500_000), "small numbers are performance offsets");
        assert_eq!(
            c.from_js_millis(1_800_000_000_000.0),
            Some(1_800_000_000_000_000_000),
            "large numbers are epoch ms"
        );
        assert_eq!(c.from_js_millis(MAX_JS_MILLIS), Some(18_446_744_073_709_000_000), "the latest time");
        assert_eq!(c.from_js_millis(-5000.0), Some(1_699_999_995_000_500_000), "an offset before the origin");
        assert_eq!(PageClock::new(1000.0).from_js_millis(-5000.0), None, "before 1970");
        for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, -1e11, -1e15, MAX_JS_MILLIS + 1.0, 1e300] {
            assert_eq!(c.from_js_millis(bad), None, "{bad} is not a time");
        }
        assert_eq!(
            c.from_js_millis(1_699_999_999_000.0),
            Some(1_699_999_999_000_000_000),
            "an epoch time just before the page loaded is still epoch ms, unlike OpenTelemetry JS"
        );
    }
}
