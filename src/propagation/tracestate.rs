//! `tracestate` (W3C Trace Context Level 2, §3.3).
//!
//! ```text
//! list        = list-member 0*31( OWS "," OWS list-member )
//! list-member = (key "=" value) / OWS
//! key         = ( lcalpha / DIGIT ) 0*255 ( keychar )
//! keychar     = lcalpha / DIGIT / "_" / "-" / "*" / "/" / "@"
//! value       = 0*255(chr) nblk-chr
//! nblk-chr    = %x21-2B / %x2D-3C / %x3E-7E
//! chr         = %x20 / nblk-chr
//! ```
//!
//! Keys follow the Level 2 grammar: up to 256 characters, `@` allowed anywhere after the first
//! character (Level 1's `tenant-id "@" system-id` split with its 241/14 limits is gone, and
//! every Level 1 key is still valid). Values are 1 to 256 printable ASCII characters other
//! than `,` and `=`, not ending in a space; leading spaces are part of the value.
//!
//! Empty and whitespace-only list members are skipped. More than 32 members, a duplicate key
//! or any invalid member rejects the whole header: the caller then drops `tracestate` but keeps
//! `traceparent`.

#[allow(unused_imports)]
use crate::prelude::*;

use alloc::rc::Rc;
use core::fmt;

/// Most list members a `tracestate` may hold.
const MAX_MEMBERS: usize = 32;
/// Longest key and longest value, in characters.
const MAX_KEY_LEN: usize = 256;
const MAX_VALUE_LEN: usize = 256;
/// Longest header [`TraceState::header_value`] writes (the spec's "at least 512 characters").
const MAX_HEADER_LEN: usize = 512;
/// Members longer than this are the first dropped when truncating.
const LONG_MEMBER_LEN: usize = 128;

#[derive(Clone, Debug, PartialEq, Eq)]
struct Member {
    key: Box<str>,
    value: Box<str>,
}

impl Member {
    /// Length of `key=value`.
    fn len(&self) -> usize {
        self.key.len() + 1 + self.value.len()
    }
}

/// Vendor-specific trace state: the ordered `key=value` members of a `tracestate` header.
///
/// Immutable and cheap to clone (one reference-counted list, nothing at all when empty);
/// [`insert`](Self::insert) and [`remove`](Self::remove) return a new value.
///
/// ```
/// use canopy_web::propagation::{TraceState, TraceStateError};
///
/// let ts = TraceState::parse("rojo=00f067aa0ba902b7, congo=t61rcWkgMzE").unwrap();
/// assert_eq!(ts.get("congo"), Some("t61rcWkgMzE"));
/// let ts = ts.insert("congo", "ucfJifl5GOE").unwrap(); // updated entries move to the front
/// assert_eq!(ts.header_value(), "congo=ucfJifl5GOE,rojo=00f067aa0ba902b7");
/// assert_eq!(TraceState::parse("a=1,a=2"), Err(TraceStateError::DuplicateKey));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct TraceState(Option<Rc<Vec<Member>>>);

/// Why a `tracestate` header, key or value was rejected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TraceStateError {
    /// A non-empty list member has no `=`.
    MissingEquals,
    /// A key is empty, longer than 256 characters, does not start with a lowercase letter or
    /// digit, or contains a character other than `a-z 0-9 _ - * / @`.
    InvalidKey,
    /// A value is empty, longer than 256 characters, contains a character outside printable
    /// ASCII or a `,` or `=`, or ends in a space.
    InvalidValue,
    /// The same key appears twice.
    DuplicateKey,
    /// More than 32 list members.
    TooManyMembers,
}

impl fmt::Display for TraceStateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TraceStateError::MissingEquals => "tracestate list member has no '='",
            TraceStateError::InvalidKey => "tracestate key is invalid",
            TraceStateError::InvalidValue => "tracestate value is invalid",
            TraceStateError::DuplicateKey => "tracestate has a duplicate key",
            TraceStateError::TooManyMembers => "tracestate has more than 32 list members",
        })
    }
}

impl core::error::Error for TraceStateError {}

fn valid_key(key: &str) -> bool {
    let b = key.as_bytes();
    match b.split_first() {
        Some((first, rest)) if b.len() <= MAX_KEY_LEN => {
            matches!(first, b'a'..=b'z' | b'0'..=b'9')
                && rest.iter().all(|c| matches!(c, b'a'..=b'z' | b'0'..=b'9' | b'_' | b'-' | b'*' | b'/' | b'@'))
        }
        _ => false,
    }
}

fn valid_value(value: &str) -> bool {
    let b = value.as_bytes();
    match b.last() {
        Some(&last) if b.len() <= MAX_VALUE_LEN => {
            last != b' ' && b.iter().all(|&c| matches!(c, 0x20..=0x7e) && c != b',' && c != b'=')
        }
        _ => false,
    }
}

/// Parses one header line, appending its members to `members`.
fn parse_into(members: &mut Vec<Member>, header: &str) -> Result<(), TraceStateError> {
    for raw in crate::ascii::split(header, b',') {
        let member = crate::ascii::trim(raw, b" \t");
        if member.is_empty() {
            continue;
        }
        let (key, value) = crate::ascii::split_once(member, b'=').ok_or(TraceStateError::MissingEquals)?;
        if !valid_key(key) {
            return Err(TraceStateError::InvalidKey);
        }
        if !valid_value(value) {
            return Err(TraceStateError::InvalidValue);
        }
        if members.iter().any(|m| *m.key == *key) {
            return Err(TraceStateError::DuplicateKey);
        }
        if members.len() == MAX_MEMBERS {
            return Err(TraceStateError::TooManyMembers);
        }
        members.push(Member { key: key.into(), value: value.into() });
    }
    Ok(())
}

impl TraceState {
    fn from_members(members: Vec<Member>) -> TraceState {
        TraceState(if members.is_empty() { None } else { Some(Rc::new(members)) })
    }

    fn members(&self) -> &[Member] {
        self.0.as_deref().map_or(&[], Vec::as_slice)
    }

    /// Parses one `tracestate` header value. An empty or whitespace-only header (or one made
    /// only of empty list members) gives an empty trace state.
    pub fn parse(header: &str) -> Result<TraceState, TraceStateError> {
        TraceState::parse_headers([header])
    }

    /// Parses a `tracestate` sent as several header lines, combined in order as if joined
    /// with `,` (RFC 7230 §3.2.2, as the spec requires). Limits and duplicate checks apply to
    /// the combined list, so `foo=1` on one line and `foo=2` on another is a duplicate.
    pub fn parse_headers<'a>(values: impl IntoIterator<Item = &'a str>) -> Result<TraceState, TraceStateError> {
        let mut members = Vec::new();
        for value in values {
            parse_into(&mut members, value)?;
        }
        Ok(TraceState::from_members(members))
    }

    /// True when there are no members.
    pub fn is_empty(&self) -> bool {
        self.members().is_empty()
    }

    /// The number of members (at most 32).
    pub fn len(&self) -> usize {
        self.members().len()
    }

    /// The value for `key`, if present.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.members().iter().find(|m| *m.key == *key).map(|m| &*m.value)
    }

    /// A copy with `key` set to `value` and moved to the front (left), as the spec requires
    /// for a new or updated entry. If that makes 33 members, the right-most is dropped.
    /// The key and value are validated; on error `self` is unchanged.
    pub fn insert(&self, key: &str, value: &str) -> Result<TraceState, TraceStateError> {
        if !valid_key(key) {
            return Err(TraceStateError::InvalidKey);
        }
        if !valid_value(value) {
            return Err(TraceStateError::InvalidValue);
        }
        let mut members = Vec::with_capacity((self.len() + 1).min(MAX_MEMBERS));
        members.push(Member { key: key.into(), value: value.into() });
        members.extend(self.members().iter().filter(|m| *m.key != *key).take(MAX_MEMBERS - 1).cloned());
        Ok(TraceState::from_members(members))
    }

    /// A copy without `key` (an unchanged clone when `key` is absent).
    pub fn remove(&self, key: &str) -> TraceState {
        if self.get(key).is_none() {
            return self.clone();
        }
        TraceState::from_members(self.members().iter().filter(|m| *m.key != *key).cloned().collect())
    }

    /// The `tracestate` header value: members joined by `,`, no whitespace.
    ///
    /// When that would exceed 512 characters, whole members are dropped as the spec says:
    /// first members longer than 128 characters, right-most first, then members from the
    /// right, until it fits. Empty when there are no members (don't send the header then).
    pub fn header_value(&self) -> String {
        let members = self.members();
        let mut keep = [true; MAX_MEMBERS];
        let mut count = members.len();
        let mut len = members.iter().map(Member::len).sum::<usize>() + count.saturating_sub(1);
        // First pass: only long members, right-most first. Second pass: any, from the right.
        for long_only in [true, false] {
            for i in (0..members.len()).rev() {
                if len <= MAX_HEADER_LEN {
                    break;
                }
                if keep[i] && (!long_only || members[i].len() > LONG_MEMBER_LEN) {
                    keep[i] = false;
                    count -= 1;
                    // The member and, unless it was the last one left, one comma.
                    len -= members[i].len() + usize::from(count > 0);
                }
            }
        }

        let mut out = String::with_capacity(len);
        for (m, _) in members.iter().zip(keep).filter(|(_, k)| *k) {
            if !out.is_empty() {
                out.push(',');
            }
            out.push_str(&m.key);
            out.push('=');
            out.push_str(&m.value);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use TraceStateError::*;

    /// Key with every legal key character (W3C test suite `test_tracestate_all_allowed_characters`).
    const ALL_KEY_CHARS: &str = "abcdefghijklmnopqrstuvwxyz0123456789_-*/";
    /// Value with every legal value character, 0x20..=0x7e minus `,` and `=`; starts with a space.
    fn all_value_chars() -> String {
        (0x20u8..=0x7e).filter(|&c| c != b',' && c != b'=').map(char::from).collect()
    }

    fn members(n: usize) -> Vec<String> {
        (1..=n).map(|i| format!("bar{i:02}={i:02}")).collect()
    }

    /// `(input, expected canonical header_value, why)`.
    fn parse_cases() -> Vec<(String, Result<String, TraceStateError>, &'static str)> {
        let s = |x: &str| x.to_owned();
        let ok = |x: &str| Ok(x.to_owned());
        let value = all_value_chars();
        let z256 = "z".repeat(256);
        let v256 = "v".repeat(256);
        let tenant = format!("{}@{}", "t".repeat(241), "v".repeat(14));
        let m32 = members(32).join(",");
        let m33 = members(33).join(",");
        vec![
            // Spec examples (§3.3.1, §3.3.1.5).
            (
                s("rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"),
                ok("rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"),
                "spec: two vendors",
            ),
            (s("rojo=00f067aa0ba902b7"), ok("rojo=00f067aa0ba902b7"), "spec: single vendor"),
            (s("congo=t61rcWkgMzE"), ok("congo=t61rcWkgMzE"), "spec: congo"),
            (
                s("congo=ucfJifl5GOE,rojo=00f067aa0ba902b7"),
                ok("congo=ucfJifl5GOE,rojo=00f067aa0ba902b7"),
                "spec: congo again",
            ),
            (
                s("vendorname1=opaqueValue1,vendorname2=opaqueValue2"),
                ok("vendorname1=opaqueValue1,vendorname2=opaqueValue2"),
                "spec: list example",
            ),
            (s("fw529a3039@dt=x,001@xyz=y"), ok("fw529a3039@dt=x,001@xyz=y"), "spec: multi-tenant key examples"),
            // Empty headers and members.
            (s(""), ok(""), "test suite: empty header accepted"),
            (s(" \t "), ok(""), "whitespace-only header"),
            (s(","), ok(""), "one empty member on each side of a comma"),
            (s(" , ,\t,"), ok(""), "only empty / whitespace members"),
            (s("foo=1,,bar=2"), ok("foo=1,bar=2"), "empty member in the middle skipped"),
            (s("foo=1,"), ok("foo=1"), "trailing comma"),
            (s(",foo=1"), ok("foo=1"), "leading comma"),
            (s("foo=1, ,bar=2"), ok("foo=1,bar=2"), "whitespace-only member skipped"),
            // OWS (test_tracestate_ows_handling).
            (s("foo=1 \t , \t bar=2, \t baz=3"), ok("foo=1,bar=2,baz=3"), "test suite: OWS around commas"),
            (
                s("foo=1\t \t,\t \tbar=2,\t \tbaz=3"),
                ok("foo=1,bar=2,baz=3"),
                "test suite: tabs and spaces around commas",
            ),
            (s(" foo=1"), ok("foo=1"), "test suite: leading space"),
            (s("\tfoo=1"), ok("foo=1"), "test suite: leading tab"),
            (s("foo=1 "), ok("foo=1"), "test suite: trailing space is OWS, not value"),
            (s("foo=1\t"), ok("foo=1"), "test suite: trailing tab"),
            (s("\t foo=1 \t"), ok("foo=1"), "test suite: OWS both sides"),
            (s("foo=1,bar=2"), ok("foo=1,bar=2"), "test suite: two members, order kept"),
            // Keys.
            (
                format!("{ALL_KEY_CHARS}={value}"),
                Ok(format!("{ALL_KEY_CHARS}={value}")),
                "test suite: all allowed characters",
            ),
            (
                format!("{ALL_KEY_CHARS}@a-z0-9_-*/={value}"),
                Ok(format!("{ALL_KEY_CHARS}@a-z0-9_-*/={value}")),
                "test suite: all allowed characters, with '@'",
            ),
            (s("foo =1"), Err(InvalidKey), "test suite: space inside key"),
            (s("FOO=1"), Err(InvalidKey), "test suite: uppercase key"),
            (s("foo.bar=1"), Err(InvalidKey), "test suite: '.' in key"),
            (s("@foo=1,bar=2"), Err(InvalidKey), "test suite: key starts with '@'"),
            (
                s("foo@=1,bar=2"),
                ok("foo@=1,bar=2"),
                "level 2 keychar allows '@' anywhere (test.py strict: Level 1 rejects)",
            ),
            (s("foo@@bar=1,bar=2"), ok("foo@@bar=1,bar=2"), "level 2: '@@' allowed (test.py strict: Level 1 rejects)"),
            (
                s("foo@bar@baz=1,bar=2"),
                ok("foo@bar@baz=1,bar=2"),
                "level 2: several '@' allowed (test.py strict: Level 1 rejects)",
            ),
            (format!("foo=1,{z256}=1"), Ok(format!("foo=1,{z256}=1")), "test suite: 256-char key"),
            (format!("foo=1,{z256}z=1"), Err(InvalidKey), "test suite: 257-char key"),
            (
                format!("foo=1,{tenant}=1"),
                Ok(format!("foo=1,{tenant}=1")),
                "test suite: 241-char tenant @ 14-char system",
            ),
            (
                format!("foo=1,{}@v=1", "t".repeat(242)),
                Ok(format!("foo=1,{}@v=1", "t".repeat(242))),
                "level 2: 244-char key, no tenant limit (test.py strict: Level 1 rejects)",
            ),
            (
                format!("foo=1,t@{}=1", "v".repeat(15)),
                Ok(format!("foo=1,t@{}=1", "v".repeat(15))),
                "level 2: no 14-char system-id limit (test.py strict: Level 1 rejects)",
            ),
            (format!("{}@v=1", "t".repeat(255)), Err(InvalidKey), "257-char key containing '@'"),
            (s("1abc=x"), ok("1abc=x"), "level 2: key may start with a digit"),
            (s("-abc=x"), Err(InvalidKey), "key starts with '-'"),
            (s("_abc=x"), Err(InvalidKey), "key starts with '_'"),
            (s("*abc=x"), Err(InvalidKey), "key starts with '*'"),
            (s("/abc=x"), Err(InvalidKey), "key starts with '/'"),
            (s("=1"), Err(InvalidKey), "empty key"),
            (s("fö=1"), Err(InvalidKey), "non-ASCII key"),
            (s("foo\t=1"), Err(InvalidKey), "tab before '='"),
            (s("foo"), Err(MissingEquals), "member without '='"),
            (s("foo=1,bar"), Err(MissingEquals), "second member without '='"),
            // Values.
            (s("foo=bar=baz"), Err(InvalidValue), "test suite: '=' in value"),
            (s("foo=,bar=3"), Err(InvalidValue), "test suite: empty value"),
            (s("foo="), Err(InvalidValue), "empty value, only member"),
            (s("foo=a,b"), Err(MissingEquals), "',' ends the value; 'b' is a member without '='"),
            (s("foo= bar"), ok("foo= bar"), "leading space is part of the value"),
            (s("foo=a b"), ok("foo=a b"), "inner space allowed"),
            (s("foo= "), Err(InvalidValue), "value of only a space (trimmed as OWS, then empty)"),
            (s("foo=a\tb"), Err(InvalidValue), "tab inside value"),
            (s("foo=a\u{7f}"), Err(InvalidValue), "DEL in value"),
            (s("foo=\u{1f}a"), Err(InvalidValue), "control char in value"),
            (s("foo=é"), Err(InvalidValue), "non-ASCII value"),
            (s("foo=!~;:\"'"), ok("foo=!~;:\"'"), "punctuation allowed"),
            (format!("foo={v256}"), Ok(format!("foo={v256}")), "256-char value"),
            (
                format!("foo= {}", "v".repeat(255)),
                Ok(format!("foo= {}", "v".repeat(255))),
                "256-char value with leading space",
            ),
            (format!("foo={v256}v"), Err(InvalidValue), "257-char value"),
            // Member count and duplicates.
            (m32.clone(), Ok(m32.clone()), "test suite: 32 members"),
            (m33, Err(TooManyMembers), "test suite: 33 members"),
            (format!(",{},, ,", m32.replace(',', ", ,")), Ok(m32), "32 members plus empty ones"),
            (s("foo=1,foo=1"), Err(DuplicateKey), "test suite: duplicate key, same value"),
            (s("foo=1,foo=2"), Err(DuplicateKey), "test suite: duplicate key, other value"),
            (s("foo=1,bar=2,foo@x=3"), ok("foo=1,bar=2,foo@x=3"), "'foo@x' is not 'foo'"),
            // Output is not truncated on parse.
            (
                format!("a={v256},b={v256},c=1"),
                Ok(format!("a={v256},c=1")),
                "over 512 chars accepted on input; output drops the right-most long member",
            ),
        ]
    }

    #[test]
    fn parse_table() {
        for (input, expected, why) in parse_cases() {
            let got = TraceState::parse(&input).map(|ts| ts.header_value());
            assert_eq!(got, expected, "{why}: {input:?}");
        }
    }

    #[test]
    fn parse_values_and_len() {
        let ts = TraceState::parse("foo=1 \t , \t bar=2, \t baz=3").unwrap();
        assert_eq!((ts.len(), ts.get("foo"), ts.get("bar"), ts.get("baz")), (3, Some("1"), Some("2"), Some("3")));
        assert_eq!(ts.get("qux"), None);
        let value = all_value_chars();
        let ts = TraceState::parse(&format!("{ALL_KEY_CHARS}={value}")).unwrap();
        assert_eq!(ts.get(ALL_KEY_CHARS), Some(value.as_str()), "leading space of the value kept");
        let v256 = "v".repeat(256);
        let ts = TraceState::parse(&format!("a={v256},b={v256},c=1")).unwrap();
        assert_eq!((ts.len(), ts.get("b")), (3, Some(v256.as_str())), "input over 512 chars kept whole");
        let ts = TraceState::parse("").unwrap();
        assert_eq!(ts.len(), 0);
        assert!(ts.is_empty() && ts == TraceState::default() && ts.0.is_none());
        assert!(TraceState::parse(" , ").unwrap().0.is_none(), "no allocation for an empty list");
    }

    /// `(header lines, expected canonical header_value, why)` for [`TraceState::parse_headers`].
    #[test]
    fn parse_headers_table() {
        let m = members(33);
        let lines = |r: core::ops::Range<usize>| m[r].join(",");
        let (l1, l2, l3, l4_32, l4_33) = (lines(0..10), lines(10..20), lines(20..30), lines(30..32), lines(30..33));
        let z256 = "z".repeat(256);
        let z257 = "z".repeat(257);
        let tenant = format!("{}@{}", "t".repeat(241), "v".repeat(14));
        let (z256_line, z257_line, tenant_line) = (format!("{z256}=1"), format!("{z257}=1"), format!("{tenant}=1"));
        let rows: Vec<(Vec<&str>, Result<String, TraceStateError>, &str)> = vec![
            (
                vec!["foo=1,bar=2", "rojo=1,congo=2", "baz=3"],
                Ok("foo=1,bar=2,rojo=1,congo=2,baz=3".into()),
                "test suite: combined in order",
            ),
            (vec!["foo=1", ""], Ok("foo=1".into()), "test suite: empty second line"),
            (vec!["", "foo=1"], Ok("foo=1".into()), "test suite: empty first line"),
            (vec![""], Ok(String::new()), "test suite: one empty line"),
            (vec![], Ok(String::new()), "no header at all"),
            (vec!["foo=1", "foo=1"], Err(DuplicateKey), "test suite: duplicate across lines, same value"),
            (vec!["foo=1", "foo=2"], Err(DuplicateKey), "test suite: duplicate across lines, other value"),
            (vec![l1.as_str(), &l2, &l3, &l4_32], Ok(m[..32].join(",")), "test suite: 32 members over 4 lines"),
            (vec![l1.as_str(), &l2, &l3, &l4_33], Err(TooManyMembers), "test suite: 33 members over 4 lines"),
            (vec!["foo=1", &z256_line], Ok(format!("foo=1,{z256}=1")), "test suite: 256-char key on 2nd line"),
            (vec!["foo=1", &z257_line], Err(InvalidKey), "test suite: 257-char key discards all"),
            (vec!["foo=1", &tenant_line], Ok(format!("foo=1,{tenant}=1")), "test suite: max multi-tenant key"),
            (vec!["foo=1", "bad"], Err(MissingEquals), "an invalid line discards the whole tracestate"),
            (vec!["foo=1,", ",bar=2"], Ok("foo=1,bar=2".into()), "trailing/leading commas across lines"),
        ];
        for (input, expected, why) in rows {
            let got = TraceState::parse_headers(input.iter().copied()).map(|ts| ts.header_value());
            assert_eq!(got, expected, "{why}: {input:?}");
        }
    }

    /// `(state, key, value, expected header_value, why)`.
    type InsertRow<'a> = (&'a str, &'a str, &'a str, Result<String, TraceStateError>, &'a str);

    #[test]
    fn insert_update_remove() {
        // The spec's walk-through (§3.3.1).
        let congo = TraceState::parse("congo=t61rcWkgMzE").unwrap();
        let rojo = congo.insert("rojo", "00f067aa0ba902b7").unwrap();
        assert_eq!(rojo.header_value(), "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE");
        let again = rojo.insert("congo", "ucfJifl5GOE").unwrap();
        assert_eq!(again.header_value(), "congo=ucfJifl5GOE,rojo=00f067aa0ba902b7");
        assert_eq!(congo.header_value(), "congo=t61rcWkgMzE", "insert leaves the receiver unchanged");

        let m32 = members(32).join(",");
        #[rustfmt::skip]
        let rows: Vec<InsertRow> = vec![
            ("", "foo", "1", Ok("foo=1".into()), "insert into empty"),
            ("a=1,b=2,c=3", "d", "4", Ok("d=4,a=1,b=2,c=3".into()), "new key goes left"),
            ("a=1,b=2,c=3", "c", "9", Ok("c=9,a=1,b=2".into()), "updated key moves left"),
            ("a=1,b=2,c=3", "a", "1", Ok("a=1,b=2,c=3".into()), "same value, already first"),
            (m32.as_str(), "new", "x", Ok(format!("new=x,{}", members(31).join(","))), "33rd member drops the right-most"),
            (m32.as_str(), "bar32", "x", Ok(format!("bar32=x,{}", members(31).join(","))), "update at 32 members drops nothing"),
            ("a=1", "A", "1", Err(InvalidKey), "uppercase key"),
            ("a=1", "", "1", Err(InvalidKey), "empty key"),
            ("a=1", "a", "", Err(InvalidValue), "empty value"),
            ("a=1", "a", "x ", Err(InvalidValue), "value ends with a space"),
            ("a=1", "a", "x,y", Err(InvalidValue), "',' in value"),
            ("a=1", "a", "x=y", Err(InvalidValue), "'=' in value"),
            ("a=1", "a", " x", Ok("a= x".into()), "leading space allowed"),
            ("a=1", "k@sys", "v", Ok("k@sys=v,a=1".into()), "multi-tenant key"),
        ];
        for (state, key, value, expected, why) in rows {
            let ts = TraceState::parse(state).unwrap();
            let got = ts.insert(key, value);
            if let Ok(new) = &got {
                assert!(new.len() <= MAX_MEMBERS, "{why}");
                assert_eq!(new.get(key), Some(value), "{why}");
            }
            assert_eq!(got.map(|t| t.header_value()), expected, "{why}");
            assert_eq!(ts, TraceState::parse(state).unwrap(), "{why}: receiver unchanged");
        }

        let ts = TraceState::parse("a=1,b=2,c=3").unwrap();
        assert_eq!(ts.remove("b").header_value(), "a=1,c=3");
        assert_eq!(ts.remove("zz"), ts);
        let gone = ts.remove("a").remove("b").remove("c");
        assert!(gone.is_empty() && gone == TraceState::default() && gone.0.is_none());
    }

    #[test]
    fn clone_is_shared() {
        let ts = TraceState::parse("a=1,b=2").unwrap();
        let c = ts.clone();
        assert!(Rc::ptr_eq(ts.0.as_ref().unwrap(), c.0.as_ref().unwrap()));
        assert!(Rc::ptr_eq(ts.0.as_ref().unwrap(), ts.remove("nope").0.as_ref().unwrap()));
    }

    /// A member `key=vvv…` exactly `len` characters long.
    fn member(key: &str, len: usize) -> String {
        format!("{key}={}", "v".repeat(len - key.len() - 1))
    }

    /// `(member lengths, indices kept in the output, why)`: the 512-character limit (§3.3.1.5).
    #[test]
    fn header_value_truncation() {
        #[rustfmt::skip]
        let rows: &[(&[usize], &[usize], &str)] = &[
            (&[15; 32], &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31], "511 chars: unchanged"),
            (&[256, 255], &[0, 1], "exactly 512 chars: unchanged, long members kept"),
            (&[256, 256], &[0], "513 chars: right-most long member dropped"),
            (&[200, 100, 200, 100], &[0, 1, 3], "long member dropped before a shorter right-most one"),
            (&[200, 100, 129, 100], &[0, 1, 3], "129 chars counts as long; dropping it is enough"),
            (&[128, 128, 128, 128, 10], &[0, 1, 2], "128 chars is not long: drop from the right"),
            (&[100; 6], &[0, 1, 2, 3, 4], "all short: drop from the right"),
            (&[129, 128, 128, 128, 128, 128], &[1, 2, 3], "long ones gone and still too long: then from the right"),
            (&[200, 200, 200], &[0, 1], "all long: right-most first, stop when it fits"),
        ];
        for &(lens, kept, why) in rows {
            let all: Vec<String> = lens.iter().enumerate().map(|(i, &n)| member(&format!("k{i}"), n)).collect();
            let ts = TraceState::parse(&all.join(",")).unwrap();
            let want: Vec<&str> = kept.iter().map(|&i| all[i].as_str()).collect();
            let got = ts.header_value();
            assert_eq!(got, want.join(","), "{why}");
            assert!(got.len() <= MAX_HEADER_LEN, "{why}");
            assert_eq!(ts.len(), lens.len(), "{why}: truncation only on output");
        }
    }

    #[test]
    fn errors_display() {
        for e in [MissingEquals, InvalidKey, InvalidValue, DuplicateKey, TooManyMembers] {
            let msg = e.to_string();
            assert!(msg.starts_with("tracestate "), "{msg}");
            let _: &dyn core::error::Error = &e;
        }
    }

    #[test]
    fn odd_input_never_panics() {
        for s in ["é=é", "a=é,b", "=", "==", ",=,", "a=1,,,,=", "😀", "a=\u{0}", "a@=b@"] {
            let _ = TraceState::parse(s);
        }
        let many_commas = ",".repeat(10_000);
        assert!(TraceState::parse(&many_commas).unwrap().is_empty());
    }
}
