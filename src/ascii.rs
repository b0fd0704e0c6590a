//! Text split at ASCII delimiters, byte by byte.
//!
//! `str`'s char patterns (`split(',')`, `find(['/', '?'])`, `trim_matches`, `rsplit_once`) and
//! `str::parse` link core's UTF-8 searchers and integer parser into the .wasm, about 2 KB of
//! code for what these loops do. Every delimiter here is ASCII, so a byte index where one is
//! found is always a char boundary.

/// True when `b` is in `set` (a loop: `<[u8]>::contains` links a memchr of its own, 340 B).
#[allow(clippy::manual_contains)]
pub(crate) fn is_in(set: &[u8], b: u8) -> bool {
    set.iter().any(|&c| c == b)
}

/// The first index of a byte in `set`.
pub(crate) fn find(s: &str, set: &[u8]) -> Option<usize> {
    s.bytes().position(|b| is_in(set, b))
}

/// The last index of a byte in `set`.
pub(crate) fn rfind(s: &str, set: &[u8]) -> Option<usize> {
    s.bytes().rposition(|b| is_in(set, b))
}

/// `s` split around the first `d`.
pub(crate) fn split_once(s: &str, d: u8) -> Option<(&str, &str)> {
    let i = find(s, &[d])?;
    Some((&s[..i], &s[i + 1..]))
}

/// `s` split around the last `d`.
pub(crate) fn rsplit_once(s: &str, d: u8) -> Option<(&str, &str)> {
    let i = rfind(s, &[d])?;
    Some((&s[..i], &s[i + 1..]))
}

/// The pieces of `s` between the `d`s (as `str::split`: `""` gives one empty piece).
pub(crate) fn split(s: &str, d: u8) -> Split<'_> {
    Split { rest: Some(s), d }
}

/// See [`split`].
pub(crate) struct Split<'a> {
    rest: Option<&'a str>,
    d: u8,
}

impl<'a> Iterator for Split<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        let s = self.rest?;
        match split_once(s, self.d) {
            Some((piece, rest)) => {
                self.rest = Some(rest);
                Some(piece)
            }
            None => self.rest.take(),
        }
    }
}

/// `s` without the bytes of `set` at either end.
pub(crate) fn trim<'a>(s: &'a str, set: &[u8]) -> &'a str {
    let b = s.as_bytes();
    let start = b.iter().position(|&c| !is_in(set, c)).unwrap_or(b.len());
    let end = b.iter().rposition(|&c| !is_in(set, c)).map_or(start, |i| i + 1);
    &s[start..end]
}

/// A decimal number of one or more ASCII digits (no sign), if it fits in a `u64`.
pub(crate) fn parse_u64(s: &str) -> Option<u64> {
    if s.is_empty() {
        return None;
    }
    let mut n: u64 = 0;
    for b in s.bytes() {
        if !b.is_ascii_digit() {
            return None;
        }
        n = n.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
    }
    Some(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prelude::*;

    #[test]
    fn same_as_str_for_ascii_delimiters() {
        let inputs = ["", ",", "a", "a,b", ",a,,b,", "é,ü", "日本,語", "a=b=c", " \t x \t", "\t", "xé"];
        for s in inputs {
            assert_eq!(split(s, b',').collect::<Vec<_>>(), s.split(',').collect::<Vec<_>>(), "split {s:?}");
            assert_eq!(split_once(s, b'='), s.split_once('='), "split_once {s:?}");
            assert_eq!(rsplit_once(s, b','), s.rsplit_once(','), "rsplit_once {s:?}");
            assert_eq!(find(s, b",="), s.find([',', '=']), "find {s:?}");
            assert_eq!(rfind(s, b",="), s.rfind([',', '=']), "rfind {s:?}");
            assert_eq!(trim(s, b" \t"), s.trim_matches([' ', '\t']), "trim {s:?}");
        }
    }

    #[test]
    fn parse_u64_takes_digits_only() {
        for (s, want) in [
            ("0", Some(0)),
            ("007", Some(7)),
            ("18446744073709551615", Some(u64::MAX)),
            ("18446744073709551616", None),
            ("", None),
            ("+1", None),
            ("-1", None),
            ("1 ", None),
            ("1e3", None),
        ] {
            assert_eq!(parse_u64(s), want, "{s:?}");
        }
    }
}
