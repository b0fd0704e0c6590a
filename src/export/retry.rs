//! Retry policy for OTLP/HTTP exports, as the OTLP specification describes it.
//!
//! Only what OTLP calls retryable is retried: network errors and HTTP 429, 502, 503, 504, with
//! exponential backoff and jitter, honouring `Retry-After`. Everything else is final.

#[allow(unused_imports)]
use crate::prelude::*;

/// Attempts per request, the first included (OpenTelemetry JS's number).
pub const MAX_ATTEMPTS: u32 = 5;
/// Backoff before the second attempt, milliseconds.
pub const INITIAL_BACKOFF_MS: f64 = 1000.0;
/// Longest backoff between attempts, milliseconds.
pub const MAX_BACKOFF_MS: f64 = 5000.0;
/// Backoff growth per attempt.
pub const BACKOFF_MULTIPLIER: f64 = 1.5;
/// Jitter: the backoff is scaled by a factor in `1 ± JITTER`.
pub const JITTER: f64 = 0.2;
/// A `Retry-After` longer than this is capped (the request then waits in the queue).
pub const MAX_RETRY_AFTER_MS: f64 = 60_000.0;

/// What to do after a response (or a network error, status 0).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Outcome {
    /// Delivered.
    Success,
    /// Try again after at least this many milliseconds (`Retry-After`, if the server sent one).
    Retry(Option<f64>),
    /// Not retryable: drop the data and say why once.
    Drop,
}

/// Classifies an HTTP status (0 = the request failed without a response).
pub fn classify(status: u16, retry_after_ms: Option<f64>) -> Outcome {
    match status {
        200..=299 => Outcome::Success,
        0 | 429 | 502 | 503 | 504 => Outcome::Retry(retry_after_ms.map(|ms| ms.min(MAX_RETRY_AFTER_MS))),
        _ => Outcome::Drop,
    }
}

/// The wait before attempt `attempt + 1` (attempt 1 is the first retry), given a uniform random
/// number `r` in `[0, 1)` for jitter, and the server's `Retry-After` (which wins when longer).
pub fn backoff_ms(attempt: u32, r: f64, retry_after_ms: Option<f64>) -> f64 {
    let mut base = INITIAL_BACKOFF_MS;
    for _ in 1..attempt.max(1) {
        base = (base * BACKOFF_MULTIPLIER).min(MAX_BACKOFF_MS);
    }
    let jittered = base * (1.0 - JITTER + 2.0 * JITTER * r.clamp(0.0, 1.0));
    match retry_after_ms {
        Some(ra) => jittered.max(ra),
        None => jittered,
    }
}

/// Parses `Retry-After`: delay-seconds, or an HTTP date (IMF-fixdate, e.g.
/// `Wed, 21 Oct 2015 07:28:00 GMT`) relative to `now_ms` (epoch milliseconds). Past dates give
/// 0; anything else is `None`.
pub fn parse_retry_after(value: &str, now_ms: f64) -> Option<f64> {
    // HTTP whitespace (the fetch spec strips it from header values already).
    let v = crate::ascii::trim(value, b" \t\r\n");
    if let Some(secs) = crate::ascii::parse_u64(v) {
        return Some(secs as f64 * 1000.0);
    }
    let t = parse_imf_fixdate(v)?;
    Some((t - now_ms).max(0.0))
}

/// `Sun, 06 Nov 1994 08:49:37 GMT` → epoch milliseconds.
fn parse_imf_fixdate(s: &str) -> Option<f64> {
    let b = s.as_bytes();
    if b.len() != 29 || &b[3..5] != b", " || &b[25..] != b" GMT" {
        return None;
    }
    let num = |r: core::ops::Range<usize>| -> Option<u32> { u32::try_from(crate::ascii::parse_u64(s.get(r)?)?).ok() };
    let day = num(5..7)?;
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let month = MONTHS.iter().position(|m| s.get(8..11) == Some(*m))? as u32 + 1;
    let year = num(12..16)?;
    let (hh, mm, ss) = (num(17..19)?, num(20..22)?, num(23..25)?);
    if b[7] != b' ' || b[11] != b' ' || b[16] != b' ' || b[19] != b':' || b[22] != b':' {
        return None;
    }
    if !(1..=31).contains(&day) || hh > 23 || mm > 59 || ss > 60 {
        return None;
    }
    let days = days_from_civil(year as i64, month, day);
    Some(((days * 86_400 + (hh * 3600 + mm * 60 + ss) as i64) as f64) * 1000.0)
}

/// Days since 1970-01-01 for a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m as i64 + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classification() {
        let rows: &[(u16, Outcome, &str)] = &[
            (200, Outcome::Success, "ok"),
            (204, Outcome::Success, "no content"),
            (0, Outcome::Retry(None), "network error"),
            (429, Outcome::Retry(None), "throttled"),
            (502, Outcome::Retry(None), "bad gateway"),
            (503, Outcome::Retry(None), "unavailable"),
            (504, Outcome::Retry(None), "gateway timeout"),
            (400, Outcome::Drop, "bad request is final"),
            (401, Outcome::Drop, "unauthorized"),
            (403, Outcome::Drop, "forbidden"),
            (404, Outcome::Drop, "wrong endpoint"),
            (413, Outcome::Drop, "too large"),
            (500, Outcome::Drop, "OTLP does not retry 500"),
        ];
        for (status, want, why) in rows {
            assert_eq!(classify(*status, None), *want, "{status}: {why}");
        }
        assert_eq!(classify(429, Some(5000.0)), Outcome::Retry(Some(5000.0)));
        assert_eq!(classify(503, Some(1e9)), Outcome::Retry(Some(MAX_RETRY_AFTER_MS)), "capped");
    }

    #[test]
    fn backoff_grows_with_jitter_and_honours_retry_after() {
        assert_eq!(backoff_ms(1, 0.5, None), 1000.0);
        assert_eq!(backoff_ms(2, 0.5, None), 1500.0);
        assert_eq!(backoff_ms(3, 0.5, None), 2250.0);
        assert_eq!(backoff_ms(10, 0.5, None), 5000.0, "capped");
        assert_eq!(backoff_ms(1, 0.0, None), 800.0, "-20% jitter");
        assert!((backoff_ms(1, 0.999_999, None) - 1200.0).abs() < 0.01, "+20% jitter");
        assert_eq!(backoff_ms(1, 0.5, Some(3000.0)), 3000.0, "Retry-After longer than the backoff wins");
        assert!(backoff_ms(3, 0.5, Some(100.0)) >= 100.0, "never shorter than Retry-After");
    }

    #[test]
    fn retry_after_values() {
        let now = 1_445_412_400_000.0; // Wed, 21 Oct 2015 07:26:40 GMT
        let rows: &[(&str, Option<f64>, &str)] = &[
            ("120", Some(120_000.0), "delay-seconds"),
            (" 0 ", Some(0.0), "zero, whitespace"),
            ("\t30\r\n", Some(30_000.0), "HTTP whitespace"),
            ("99999999999999999999999", None, "more seconds than a u64 holds"),
            ("Wed, 21 Oct 2015 07:28:00 GMT", Some(80_000.0), "HTTP date 80 s ahead"),
            ("Wed, 21 Oct 2015 07:00:00 GMT", Some(0.0), "a past date means now"),
            ("Sun, 06 Nov 1994 08:49:37 GMT", Some(0.0), "RFC 9110's example, long past"),
            ("-5", None, "negative"),
            ("1.5", None, "fraction"),
            ("soon", None, "prose"),
            ("Wed, 21 Foo 2015 07:28:00 GMT", None, "bad month"),
            ("Wed, 32 Oct 2015 07:28:00 GMT", None, "bad day"),
            ("", None, "empty"),
        ];
        for (v, want, why) in rows {
            assert_eq!(parse_retry_after(v, now), *want, "{v:?}: {why}");
        }
        assert_eq!(parse_imf_fixdate("Thu, 01 Jan 1970 00:00:00 GMT"), Some(0.0));
        assert_eq!(parse_imf_fixdate("Sun, 06 Nov 1994 08:49:37 GMT"), Some(784_111_777_000.0));
    }
}
