//! `traceparent` (W3C Trace Context Level 2, §3.2).
//!
//! ```text
//! value          = version "-" version-format
//! version        = 2HEXDIGLC          ; "ff" is forbidden
//! version-format = trace-id "-" parent-id "-" trace-flags      ; version 00
//! trace-id       = 32HEXDIGLC         ; all zeroes forbidden
//! parent-id      = 16HEXDIGLC         ; all zeroes forbidden
//! trace-flags    = 2HEXDIGLC
//! ```
//!
//! Version `00` must be exactly 55 characters. A higher version must be at least 55
//! characters and, when longer, have a `-` right after the flags; its first four fields are
//! read as version 00 and whatever follows is ignored (§3.2.4 "Versioning of traceparent").
//! Only lowercase hex is accepted. Spaces and tabs around the value (HTTP `OWS`) are ignored.
//!
//! The parser works on bytes, so no input (non-ASCII included) can make it panic.

#[allow(unused_imports)]
use crate::prelude::*;

use core::fmt;

use crate::ids::{SpanId, TraceFlags, TraceId, hex_val, push_hex};
use crate::propagation::TraceState;
use crate::span_context::SpanContext;

/// Length of a version-00 `traceparent`: `2 + 1 + 32 + 1 + 16 + 1 + 2`.
const LEN_V00: usize = 55;
/// Byte offsets of the three `-` delimiters inside the first 55 characters.
const DASH_VERSION: usize = 2;
const DASH_TRACE_ID: usize = 35;
const DASH_PARENT_ID: usize = 52;

/// Why a `traceparent` header was rejected. The caller then starts a new trace
/// (and, per the spec, must not parse `tracestate` either).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TraceParentError {
    /// Too short for its version, or a version-00 value that is not exactly 55 characters.
    WrongLength,
    /// The version is not two lowercase hex digits, or is the forbidden `ff`.
    InvalidVersion,
    /// A `-` is missing where a field ends (after the version, trace-id or parent-id, or
    /// after the flags of a longer, higher-version value).
    MissingDelimiter,
    /// The trace-id is not 32 lowercase hex digits, or is all zero.
    InvalidTraceId,
    /// The parent-id is not 16 lowercase hex digits, or is all zero.
    InvalidParentId,
    /// The trace-flags are not two lowercase hex digits.
    InvalidFlags,
}

impl fmt::Display for TraceParentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TraceParentError::WrongLength => "traceparent has the wrong length",
            TraceParentError::InvalidVersion => "traceparent version is not two lowercase hex digits other than ff",
            TraceParentError::MissingDelimiter => "traceparent is missing a '-' delimiter",
            TraceParentError::InvalidTraceId => "traceparent trace-id is not 32 lowercase hex digits, or is all zero",
            TraceParentError::InvalidParentId => "traceparent parent-id is not 16 lowercase hex digits, or is all zero",
            TraceParentError::InvalidFlags => "traceparent trace-flags are not two lowercase hex digits",
        })
    }
}

impl core::error::Error for TraceParentError {}

/// Decodes exactly `2 * N` lowercase hex bytes.
#[inline]
fn decode_hex<const N: usize>(b: &[u8]) -> Option<[u8; N]> {
    if b.len() != 2 * N {
        return None;
    }
    let mut out = [0u8; N];
    for (o, pair) in out.iter_mut().zip(b.chunks_exact(2)) {
        *o = (hex_val(pair[0])? << 4) | hex_val(pair[1])?;
    }
    Some(out)
}

/// Parses a `traceparent` header value into a remote [`SpanContext`].
///
/// The result has `is_remote: true`, an empty trace state, and its flags masked to the bits
/// this SDK knows ([`TraceFlags::KNOWN`]: sampled and random-trace-id); other bits are cleared
/// as the spec requires. A higher version is accepted as described in the module docs and is
/// re-emitted as version 00 by [`format_traceparent`].
///
/// ```
/// use canopy_web::propagation::{TraceParentError, format_traceparent, parse_traceparent};
///
/// let cx = parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01").unwrap();
/// assert!(cx.is_remote && cx.is_sampled());
/// assert_eq!(cx.span_id.to_hex(), "00f067aa0ba902b7");
///
/// let later = parse_traceparent("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra").unwrap();
/// let mut header = String::new();
/// format_traceparent(&later, &mut header); // always written as version 00
/// assert!(header.starts_with("00-4bf92f35"));
///
/// let zero = "00-00000000000000000000000000000000-00f067aa0ba902b7-01";
/// assert_eq!(parse_traceparent(zero), Err(TraceParentError::InvalidTraceId));
/// ```
pub fn parse_traceparent(header: &str) -> Result<SpanContext, TraceParentError> {
    let b = crate::ascii::trim(header, b" \t").as_bytes();

    // version "-"
    if b.len() < DASH_VERSION {
        return Err(TraceParentError::WrongLength);
    }
    let version = decode_hex::<1>(&b[..DASH_VERSION]).ok_or(TraceParentError::InvalidVersion)?[0];
    if version == 0xff {
        return Err(TraceParentError::InvalidVersion);
    }
    if b.len() > DASH_VERSION && b[DASH_VERSION] != b'-' {
        return Err(TraceParentError::MissingDelimiter);
    }

    // Length: exactly 55 for version 00; at least 55 for a higher version, with a '-' after
    // the flags when anything follows them.
    if b.len() < LEN_V00 || (version == 0 && b.len() != LEN_V00) {
        return Err(TraceParentError::WrongLength);
    }
    if b.len() > LEN_V00 && b[LEN_V00] != b'-' {
        return Err(TraceParentError::MissingDelimiter);
    }
    if b[DASH_TRACE_ID] != b'-' || b[DASH_PARENT_ID] != b'-' {
        return Err(TraceParentError::MissingDelimiter);
    }

    let trace_id = decode_hex::<16>(&b[DASH_VERSION + 1..DASH_TRACE_ID])
        .map(TraceId)
        .filter(TraceId::is_valid)
        .ok_or(TraceParentError::InvalidTraceId)?;
    let span_id = decode_hex::<8>(&b[DASH_TRACE_ID + 1..DASH_PARENT_ID])
        .map(SpanId)
        .filter(SpanId::is_valid)
        .ok_or(TraceParentError::InvalidParentId)?;
    let flags = decode_hex::<1>(&b[DASH_PARENT_ID + 1..LEN_V00]).ok_or(TraceParentError::InvalidFlags)?[0];

    Ok(SpanContext {
        trace_id,
        span_id,
        trace_flags: TraceFlags(flags & TraceFlags::KNOWN),
        is_remote: true,
        trace_state: TraceState::default(),
    })
}

/// Appends the version-00 `traceparent` for `cx` to `out`:
/// `00-<32 hex trace-id>-<16 hex span-id>-<2 hex flags>`, with the flags masked to
/// [`TraceFlags::KNOWN`]. Always version 00, whatever version `cx` was parsed from.
///
/// The ids are written as they are; callers propagate only valid contexts
/// ([`SpanContext::is_valid`]).
pub fn format_traceparent(cx: &SpanContext, out: &mut String) {
    out.reserve(LEN_V00);
    out.push_str("00-");
    push_hex(out, &cx.trace_id.0);
    out.push('-');
    push_hex(out, &cx.span_id.0);
    out.push('-');
    push_hex(out, &[cx.trace_flags.0 & TraceFlags::KNOWN]);
}

#[cfg(test)]
mod tests {
    use super::*;
    use TraceParentError::*;

    const TP: &str = "00-12345678901234567890123456789012-1234567890123456-01";

    fn fmt(cx: &SpanContext) -> String {
        let mut s = String::new();
        format_traceparent(cx, &mut s);
        s
    }

    /// `(input, expected, why)`: `Ok` holds what `format_traceparent` writes for the parsed
    /// context. Sources: the spec's examples (§3.2.2, §3.2.4) and every `traceparent` case of
    /// the W3C test suite (`w3c/trace-context` `test/test.py`).
    #[rustfmt::skip]
    const CASES: &[(&str, Result<&str, TraceParentError>, &str)] = &[
        // Spec examples.
        ("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", Ok("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"), "spec: sampled"),
        ("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00", Ok("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"), "spec: not sampled"),
        ("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", Ok("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"), "spec: congo/rojo example"),
        ("00-0af7651916cd43dd8448eb211c80319c-00f067aa0ba902b7-01", Ok("00-0af7651916cd43dd8448eb211c80319c-00f067aa0ba902b7-01"), "spec: rojo continues"),
        ("00-0af7651916cd43dd8448eb211c80319c-b9c7c989f97918e1-01", Ok("00-0af7651916cd43dd8448eb211c80319c-b9c7c989f97918e1-01"), "spec: congo again"),
        // Flags.
        ("00-12345678901234567890123456789012-1234567890123456-01", Ok(TP), "test suite: baseline valid"),
        ("00-12345678901234567890123456789012-1234567890123456-02", Ok("00-12345678901234567890123456789012-1234567890123456-02"), "level 2: random-trace-id flag kept"),
        ("00-12345678901234567890123456789012-1234567890123456-03", Ok("00-12345678901234567890123456789012-1234567890123456-03"), "sampled + random kept"),
        ("00-12345678901234567890123456789012-1234567890123456-ff", Ok("00-12345678901234567890123456789012-1234567890123456-03"), "unknown flag bits cleared"),
        ("00-12345678901234567890123456789012-1234567890123456-09", Ok(TP), "spec: 09 = sampled + unknown 08; mask, don't compare"),
        ("00-12345678901234567890123456789012-1234567890123456-fc", Ok("00-12345678901234567890123456789012-1234567890123456-00"), "only unknown bits set -> 00"),
        ("00-12345678901234567890123456789012-1234567890123456-00", Ok("00-12345678901234567890123456789012-1234567890123456-00"), "no flags"),
        // OWS (test_traceparent_ows_handling).
        (" 00-12345678901234567890123456789012-1234567890123456-01", Ok(TP), "test suite: leading space"),
        ("\t00-12345678901234567890123456789012-1234567890123456-01", Ok(TP), "test suite: leading tab"),
        ("00-12345678901234567890123456789012-1234567890123456-01 ", Ok(TP), "test suite: trailing space"),
        ("00-12345678901234567890123456789012-1234567890123456-01\t", Ok(TP), "test suite: trailing tab"),
        ("\t 00-12345678901234567890123456789012-1234567890123456-01 \t", Ok(TP), "test suite: OWS both sides"),
        ("00-12345678901234567890123456789012-1234567890123456-01 \t", Ok(TP), "test data: trailing space+tab"),
        ("\n00-12345678901234567890123456789012-1234567890123456-01", Err(InvalidVersion), "newline is not OWS"),
        ("00-12345678901234567890123456789012-1234567890123456-01\r\n", Err(WrongLength), "CR LF is not OWS"),
        ("00-12345678901234567890123456789012-1234567890123456- 01", Err(WrongLength), "whitespace inside the value"),
        ("00 12345678901234567890123456789012-1234567890123456-01", Err(MissingDelimiter), "space instead of '-'"),
        // Version.
        ("cc-12345678901234567890123456789012-1234567890123456-01", Ok(TP), "test suite: future version cc, re-emitted as 00"),
        ("cc-12345678901234567890123456789012-1234567890123456-01-what-the-future-will-be-like", Ok(TP), "test suite: future version, extra fields ignored"),
        ("cc-12345678901234567890123456789012-1234567890123456-01.what-the-future-will-be-like", Err(MissingDelimiter), "test suite: future version, flags not followed by '-'"),
        ("01-12345678901234567890123456789012-1234567890123456-03-00", Ok("00-12345678901234567890123456789012-1234567890123456-03"), "version 01 with an extra field"),
        ("01-12345678901234567890123456789012-1234567890123456-01-", Ok(TP), "higher version: flags followed by '-' and nothing else"),
        ("fe-12345678901234567890123456789012-1234567890123456-ff-x", Ok("00-12345678901234567890123456789012-1234567890123456-03"), "highest valid version, flags masked"),
        ("cc-12345678901234567890123456789012-1234567890123456-1", Err(WrongLength), "future version shorter than 55"),
        ("cc-12345678901234567890123456789012-1234567890123456-0x-future", Err(InvalidFlags), "future version still needs hex flags"),
        ("cc-00000000000000000000000000000000-1234567890123456-01-x", Err(InvalidTraceId), "future version still rejects a zero trace-id"),
        ("ff-12345678901234567890123456789012-1234567890123456-01", Err(InvalidVersion), "test suite: version ff is forbidden"),
        ("ff-12345678901234567890123456789012-1234567890123456-01-x", Err(InvalidVersion), "version ff forbidden at any length"),
        (".0-12345678901234567890123456789012-1234567890123456-01", Err(InvalidVersion), "test suite: illegal version char (first)"),
        ("0.-12345678901234567890123456789012-1234567890123456-01", Err(InvalidVersion), "test suite: illegal version char (second)"),
        ("000-12345678901234567890123456789012-1234567890123456-01", Err(MissingDelimiter), "test suite: version too long (3 digits)"),
        ("0000-12345678901234567890123456789012-1234567890123456-01", Err(MissingDelimiter), "test suite: version too long (4 digits)"),
        ("0-12345678901234567890123456789012-1234567890123456-01", Err(InvalidVersion), "test suite: version too short"),
        ("0A-12345678901234567890123456789012-1234567890123456-01", Err(InvalidVersion), "uppercase version"),
        ("CC-12345678901234567890123456789012-1234567890123456-01", Err(InvalidVersion), "uppercase future version"),
        ("00-12345678901234567890123456789012-1234567890123456-01.", Err(WrongLength), "test suite: version 00 with a trailing character"),
        ("00-12345678901234567890123456789012-1234567890123456-01-what-the-future-will-be-like", Err(WrongLength), "test suite: version 00 must not have extra fields"),
        ("00-12345678901234567890123456789012-1234567890123456-01-", Err(WrongLength), "version 00 with a trailing '-'"),
        // trace-id.
        ("00-00000000000000000000000000000000-1234567890123456-01", Err(InvalidTraceId), "test suite: all-zero trace-id"),
        ("00-.2345678901234567890123456789012-1234567890123456-01", Err(InvalidTraceId), "test suite: illegal trace-id char (first)"),
        ("00-1234567890123456789012345678901.-1234567890123456-01", Err(InvalidTraceId), "test suite: illegal trace-id char (last)"),
        ("00-123456789012345678901234567890123-1234567890123456-01", Err(WrongLength), "test suite: trace-id too long"),
        ("00-1234567890123456789012345678901-1234567890123456-01", Err(WrongLength), "test suite: trace-id too short"),
        ("00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01", Err(InvalidTraceId), "uppercase trace-id"),
        ("00-4bf92f3577b34da6a3ce929d0e0e473G-00f067aa0ba902b7-01", Err(InvalidTraceId), "non-hex trace-id"),
        ("00-4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7-01", Err(MissingDelimiter), "bad delimiter after trace-id"),
        ("00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", Err(MissingDelimiter), "bad delimiter after version"),
        // parent-id.
        ("00-12345678901234567890123456789012-0000000000000000-01", Err(InvalidParentId), "test suite: all-zero parent-id"),
        ("00-12345678901234567890123456789012-.234567890123456-01", Err(InvalidParentId), "test suite: illegal parent-id char (first)"),
        ("00-12345678901234567890123456789012-123456789012345.-01", Err(InvalidParentId), "test suite: illegal parent-id char (last)"),
        ("00-12345678901234567890123456789012-12345678901234567-01", Err(WrongLength), "test suite: parent-id too long"),
        ("00-12345678901234567890123456789012-123456789012345-01", Err(WrongLength), "test suite: parent-id too short"),
        ("00-4bf92f3577b34da6a3ce929d0e0e4736-00F067AA0BA902B7-01", Err(InvalidParentId), "uppercase parent-id"),
        ("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7_01", Err(MissingDelimiter), "bad delimiter after parent-id"),
        // trace-flags.
        ("00-12345678901234567890123456789012-1234567890123456-.0", Err(InvalidFlags), "test suite: illegal flags char (first)"),
        ("00-12345678901234567890123456789012-1234567890123456-0.", Err(InvalidFlags), "test suite: illegal flags char (second)"),
        ("00-12345678901234567890123456789012-1234567890123456-001", Err(WrongLength), "test suite: flags too long"),
        ("00-12345678901234567890123456789012-1234567890123456-1", Err(WrongLength), "test suite: flags too short"),
        ("00-12345678901234567890123456789012-1234567890123456-0A", Err(InvalidFlags), "uppercase flags"),
        // Degenerate input.
        ("", Err(WrongLength), "empty header"),
        (" \t ", Err(WrongLength), "whitespace-only header"),
        ("0", Err(WrongLength), "one character"),
        ("00", Err(WrongLength), "version only"),
        ("00-", Err(WrongLength), "version and dash only"),
        ("é0-12345678901234567890123456789012-1234567890123456-01", Err(InvalidVersion), "non-ASCII version"),
        ("00-1234567890123456789012345678901é-1234567890123456-01", Err(WrongLength), "non-ASCII: 56 bytes"),
        ("00-123456789012345678901234567890é-1234567890123456-01", Err(InvalidTraceId), "non-ASCII inside trace-id, 55 bytes"),
        ("00-12345678901234567890123456789012-1234567890123456-é", Err(InvalidFlags), "non-ASCII flags, 55 bytes"),
        ("cc-12345678901234567890123456789012-1234567890123456-01é", Err(MissingDelimiter), "non-ASCII after the flags of a future version"),
    ];

    #[test]
    fn parse_table() {
        for &(input, expected, why) in CASES {
            let got = parse_traceparent(input);
            match (got, expected) {
                (Ok(cx), Ok(want)) => {
                    assert_eq!(fmt(&cx), want, "{why}: {input:?}");
                    assert!(cx.is_remote, "{why}: is_remote");
                    assert!(cx.is_valid(), "{why}: valid ids");
                    assert!(cx.trace_state.is_empty(), "{why}: empty trace state");
                    assert_eq!(cx.trace_flags.0 & !TraceFlags::KNOWN, 0, "{why}: unknown flags cleared");
                }
                (got, want) => assert_eq!(got.map(|cx| fmt(&cx)), want.map(str::to_owned), "{why}: {input:?}"),
            }
        }
    }

    #[test]
    fn round_trip_version_00() {
        for &(input, expected, why) in CASES {
            let trimmed = input.trim_matches([' ', '\t']);
            if expected.is_ok() && trimmed.starts_with("00-") && trimmed.ends_with(['0', '1', '2', '3']) {
                assert_eq!(expected, Ok(trimmed), "{why}: table row is not a canonical round trip");
                let cx = parse_traceparent(input).unwrap();
                assert_eq!(fmt(&cx), trimmed, "{why}");
            }
        }
    }

    #[test]
    fn parsed_fields() {
        let cx = parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01").unwrap();
        assert_eq!(cx.trace_id, TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").unwrap());
        assert_eq!(cx.span_id, SpanId::from_hex("00f067aa0ba902b7").unwrap());
        assert_eq!(cx.trace_flags, TraceFlags::SAMPLED);
        assert!(cx.is_sampled() && !cx.trace_flags.is_random());

        let cx = parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-02").unwrap();
        assert!(!cx.is_sampled() && cx.trace_flags.is_random());
    }

    #[test]
    fn format_appends_and_masks() {
        let mut cx = SpanContext::new(
            TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").unwrap(),
            SpanId::from_hex("00f067aa0ba902b7").unwrap(),
            TraceFlags(0xff),
        );
        let mut out = String::from("traceparent: ");
        format_traceparent(&cx, &mut out);
        assert_eq!(out, "traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-03");
        cx.trace_flags = TraceFlags::RANDOM;
        assert_eq!(fmt(&cx), "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-02");
    }

    #[test]
    fn errors_display() {
        for e in [WrongLength, InvalidVersion, MissingDelimiter, InvalidTraceId, InvalidParentId, InvalidFlags] {
            let msg = e.to_string();
            assert!(msg.starts_with("traceparent "), "{msg}");
            let _: &dyn core::error::Error = &e;
        }
    }

    /// Every single-character substitution (ASCII, uppercase, multi-byte) and every truncation
    /// of a valid header: never panics, and never accepts a changed id or flags digit.
    #[test]
    fn mutations_never_panic() {
        let replacements = ['A', 'g', '-', ' ', '\t', '\0', 'é', '€', '😀', '\u{80}'];
        let chars: Vec<char> = TP.chars().collect();
        for i in 0..chars.len() {
            for &r in &replacements {
                let mut m = chars.clone();
                m[i] = r;
                let s: String = m.iter().collect();
                let res = parse_traceparent(&s);
                // Surrounding whitespace is trimmed only at the ends, and a space/tab can't
                // be inside; any other change must be rejected.
                if r != chars[i] {
                    assert!(res.is_err(), "accepted {s:?}");
                }
            }
            let _ = parse_traceparent(&TP[..i]);
            let _ = parse_traceparent(&TP[i..]);
        }
        let mut long = String::from("cc-12345678901234567890123456789012-1234567890123456-01-");
        for c in ['é', '€', '😀', 'x'] {
            long.push(c);
            assert_eq!(fmt(&parse_traceparent(&long).unwrap()), TP, "future version, trailing {c:?}");
        }
    }
}
