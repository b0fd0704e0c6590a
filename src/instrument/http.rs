//! HTTP client spans: URL pieces, semantic-convention attributes, and which URLs get headers.
//!
//! Pure logic, shared by the fetch and XMLHttpRequest instrumentation. Attribute names follow
//! the current OpenTelemetry HTTP client conventions.

#[allow(unused_imports)]
use crate::prelude::*;

use crate::ascii;
use crate::attribute::{KeyValue, Str};
use alloc::borrow::Cow;

/// `scheme://rest` split at the first `://` (byte search: a `&str` pattern would link core's
/// two-way string searcher into the .wasm).
fn split_scheme(url: &str) -> Option<(&str, &str)> {
    let b = url.as_bytes();
    let i = b.windows(3).position(|w| w == b"://")?;
    Some((&url[..i], &url[i + 3..]))
}

/// The pieces of an absolute `http(s)` URL that spans need.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UrlParts<'a> {
    /// `http` or `https` (lowercase, as `URL#href` gives it).
    pub scheme: &'a str,
    /// The host without brackets or port (IPv6 literals without `[]`).
    pub host: &'a str,
    /// The explicit or default port.
    pub port: u16,
}

/// Splits an absolute URL (as normalized by the browser's `URL`). `None` for anything that is
/// not `http:`/`https:` with a host.
pub fn parse_url(url: &str) -> Option<UrlParts<'_>> {
    let (scheme, rest) = split_scheme(url)?;
    let default_port = match scheme {
        "http" => 80,
        "https" => 443,
        _ => return None,
    };
    let auth_end = ascii::find(rest, b"/?#").unwrap_or(rest.len());
    let authority = &rest[..auth_end];
    let hostport = ascii::rsplit_once(authority, b'@').map_or(authority, |(_, h)| h);
    let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
        let (host, after) = ascii::split_once(v6, b']')?;
        (host, after.strip_prefix(':'))
    } else {
        match ascii::rsplit_once(hostport, b':') {
            Some((h, p)) => (h, Some(p)),
            None => (hostport, None),
        }
    };
    if host.is_empty() {
        return None;
    }
    let port = match port {
        Some("") | None => default_port,
        Some(p) => u16::try_from(ascii::parse_u64(p)?).ok()?,
    };
    Some(UrlParts { scheme, host, port })
}

/// The origin (`scheme://host[:port]` as written; the browser's `URL` omits default ports) of
/// an absolute `http(s)` URL, credentials removed.
pub fn origin_of(url: &str) -> Option<Cow<'_, str>> {
    parse_url(url)?;
    let (scheme, rest) = split_scheme(url)?;
    let auth_end = ascii::find(rest, b"/?#").unwrap_or(rest.len());
    let authority = &rest[..auth_end];
    let Some((_, hostport)) = ascii::rsplit_once(authority, b'@') else {
        return Some(Cow::Borrowed(&url[..scheme.len() + 3 + auth_end]));
    };
    let mut s = String::with_capacity(scheme.len() + 3 + hostport.len());
    s.push_str(scheme);
    s.push_str("://");
    s.push_str(hostport);
    Some(Cow::Owned(s))
}

/// Query parameters whose values are secrets by the conventions' own list.
const SENSITIVE_QUERY_KEYS: &[&str] = &["AWSAccessKeyId", "Signature", "sig", "X-Goog-Signature"];

/// The key of a `key=value` query parameter.
fn query_key(kv: &str) -> &str {
    ascii::split_once(kv, b'=').map_or(kv, |(k, _)| k)
}

/// `url.full` as the conventions want it: credentials replaced by `REDACTED:REDACTED` and the
/// values of signature-like query parameters by `REDACTED`; the fragment dropped.
pub fn redact_url(url: &str) -> Cow<'_, str> {
    let url = ascii::split_once(url, b'#').map_or(url, |(u, _)| u);
    let Some((scheme, rest)) = split_scheme(url) else { return Cow::Borrowed(url) };
    let auth_end = ascii::find(rest, b"/?").unwrap_or(rest.len());
    let has_credentials = ascii::find(&rest[..auth_end], b"@").is_some();
    let query_start = ascii::find(rest, b"?");
    let has_sensitive = query_start
        .is_some_and(|q| ascii::split(&rest[q + 1..], b'&').any(|kv| SENSITIVE_QUERY_KEYS.contains(&query_key(kv))));
    if !has_credentials && !has_sensitive {
        return Cow::Borrowed(url);
    }
    let mut out = String::with_capacity(url.len() + 16);
    out.push_str(scheme);
    out.push_str("://");
    let authority = &rest[..auth_end];
    match ascii::rsplit_once(authority, b'@') {
        Some((_, host)) => {
            out.push_str("REDACTED:REDACTED@");
            out.push_str(host);
        }
        None => out.push_str(authority),
    }
    let after = &rest[auth_end..];
    match ascii::split_once(after, b'?') {
        Some((path, query)) if has_sensitive => {
            out.push_str(path);
            out.push('?');
            for (i, kv) in ascii::split(query, b'&').enumerate() {
                if i > 0 {
                    out.push('&');
                }
                match ascii::split_once(kv, b'=') {
                    Some((k, _)) if SENSITIVE_QUERY_KEYS.contains(&k) => {
                        out.push_str(k);
                        out.push_str("=REDACTED");
                    }
                    _ => out.push_str(kv),
                }
            }
        }
        _ => out.push_str(after),
    }
    Cow::Owned(out)
}

/// The methods the conventions know; anything else is reported as `_OTHER`.
const KNOWN_METHODS: &[&str] = &["GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"];

/// `(http.request.method, http.request.method_original if different)`. Like fetch, the six
/// methods it normalizes (DELETE, GET, HEAD, OPTIONS, POST, PUT) are uppercased first.
pub fn normalize_method(method: &str) -> (Str, Option<Str>) {
    for m in ["DELETE", "GET", "HEAD", "OPTIONS", "POST", "PUT"] {
        if method.eq_ignore_ascii_case(m) {
            return (Str::Borrowed(m), None);
        }
    }
    match KNOWN_METHODS.iter().find(|m| **m == method) {
        Some(m) => (Str::Borrowed(m), None),
        None => (Str::Borrowed("_OTHER"), Some(Str::Owned(method.to_owned()))),
    }
}

/// The attributes a client span starts with.
pub fn request_attributes(method: &str, url: &str) -> (Str, Vec<KeyValue>) {
    let (m, original) = normalize_method(method);
    let mut attrs = Vec::with_capacity(6);
    attrs.push(KeyValue::new("http.request.method", m.clone()));
    if let Some(o) = original {
        attrs.push(KeyValue::new("http.request.method_original", o));
    }
    attrs.push(KeyValue::new("url.full", Str::Owned(redact_url(url).into_owned())));
    if let Some(p) = parse_url(url) {
        attrs.push(KeyValue::new("server.address", Str::Owned(p.host.to_owned())));
        attrs.push(KeyValue::new("server.port", p.port as i64));
    }
    let name = if m == "_OTHER" { Str::Borrowed("HTTP") } else { m };
    (name, attrs)
}

/// True when a string pattern is a URL the page's URL parser should read before matching (the
/// form request URLs are matched in: `/api` on the page's origin, `HTTPS://API.example.com:443`
/// as `https://api.example.com/`): one with a scheme (`https:`, `http:`; letters, digits, `+`,
/// `-`, `.` before the `:`) or starting with `/`. Anything else (empty, `api`, `*.example.com`)
/// is left as written, and matches what starts with it, as before.
pub fn resolvable(pattern: &str) -> bool {
    if pattern.starts_with('/') {
        return true;
    }
    match crate::ascii::find(pattern, b":") {
        Some(i) if i > 0 => {
            let scheme = &pattern.as_bytes()[..i];
            scheme[0].is_ascii_alphabetic()
                && scheme.iter().all(|b| b.is_ascii_alphanumeric() || crate::ascii::is_in(b"+-.", *b))
        }
        _ => false,
    }
}

/// True when `url` matches a string pattern: equal to it, or starting with it at a boundary
/// (`/`, `?`, `#`, or the pattern itself ends with `/`), so `https://api.example.com` does not
/// match `https://api.example.com.evil.net/`.
pub fn prefix_matches(url: &str, pattern: &str) -> bool {
    if pattern.is_empty() {
        return false;
    }
    match url.strip_prefix(pattern) {
        Some("") => true,
        Some(rest) => pattern.ends_with('/') || matches!(rest.as_bytes()[0], b'/' | b'?' | b'#'),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn which_patterns_are_urls_to_resolve() {
        for p in [
            "https://api.example.com",
            "HTTPS://API.example.com:443/v1",
            "/api",
            "//cdn.example.com/x",
            "web+app:x",
            "http:",
        ] {
            assert!(resolvable(p), "{p}");
        }
        for p in ["", " ", "api", "./api", "*.example.com", "localhost", ":x", "1http://x", "#frag", "?q"] {
            assert!(!resolvable(p), "{p}");
        }
    }

    #[test]
    fn url_parts() {
        type Row = (&'static str, Option<(&'static str, &'static str, u16, &'static str)>, &'static str);
        let rows: &[Row] = &[
            (
                "https://api.example.com/v1?x=1",
                Some(("https", "api.example.com", 443, "https://api.example.com")),
                "default https port",
            ),
            ("http://127.0.0.1:8080/", Some(("http", "127.0.0.1", 8080, "http://127.0.0.1:8080")), "explicit port"),
            ("http://[::1]:3000/x", Some(("http", "::1", 3000, "http://[::1]:3000")), "IPv6 literal"),
            ("http://[::1]/x", Some(("http", "::1", 80, "http://[::1]")), "IPv6 default port"),
            (
                "https://h.example#frag",
                Some(("https", "h.example", 443, "https://h.example")),
                "fragment right after host",
            ),
            ("ftp://h/x", None, "not http"),
            ("data:text/plain,hi", None, "no authority"),
            ("http:///x", None, "empty host"),
            ("http://h:99999/", None, "port out of range"),
        ];
        for (url, want, why) in rows {
            let got = parse_url(url).map(|p| (p.scheme, p.host, p.port, origin_of(url).unwrap().into_owned()));
            let want = want.map(|(s, h, p, o)| (s, h, p, o.to_string()));
            assert_eq!(got, want, "{url}: {why}");
        }
        assert_eq!(
            origin_of("https://u:p@h.example:8443/x").unwrap(),
            "https://h.example:8443",
            "credentials are not the origin"
        );
    }

    #[test]
    fn redaction() {
        let rows: &[(&str, &str, &str)] = &[
            ("https://h/x?a=1", "https://h/x?a=1", "nothing to redact"),
            ("https://user:pw@h/x", "https://REDACTED:REDACTED@h/x", "credentials"),
            ("https://h/x?sig=abc&a=1", "https://h/x?sig=REDACTED&a=1", "signature parameter"),
            (
                "https://h/x?AWSAccessKeyId=K&Signature=S",
                "https://h/x?AWSAccessKeyId=REDACTED&Signature=REDACTED",
                "AWS presigned",
            ),
            ("https://h/x#secret", "https://h/x", "fragment dropped"),
            ("https://h/x?signature=keep", "https://h/x?signature=keep", "keys are case-sensitive"),
        ];
        for (url, want, why) in rows {
            assert_eq!(redact_url(url), *want, "{why}");
        }
    }

    #[test]
    fn methods() {
        let rows: &[(&str, &str, Option<&str>, &str)] = &[
            ("GET", "GET", None, "known"),
            ("get", "GET", None, "fetch uppercases get"),
            ("PATCH", "PATCH", None, "known, exact case"),
            ("patch", "_OTHER", Some("patch"), "fetch does not uppercase patch"),
            ("PROPFIND", "_OTHER", Some("PROPFIND"), "unknown"),
        ];
        for (input, want, orig, why) in rows {
            let (m, o) = normalize_method(input);
            assert_eq!((m.as_ref(), o.as_deref()), (*want, *orig), "{why}");
        }
        let (name, attrs) = request_attributes("get", "https://u:p@api.example.com:8443/a?b=c");
        assert_eq!(name, "GET");
        let keys: Vec<&str> = attrs.iter().map(|a| a.key.as_ref()).collect();
        assert_eq!(keys, ["http.request.method", "url.full", "server.address", "server.port"]);
        assert_eq!(attrs[1].value, crate::Value::String("https://REDACTED:REDACTED@api.example.com:8443/a?b=c".into()));
        assert_eq!(request_attributes("QUERY", "https://h/").0, "HTTP", "an unknown method names the span HTTP");
    }

    #[test]
    fn prefix_patterns() {
        let rows: &[(&str, &str, bool, &str)] = &[
            ("https://api.example.com/v1", "https://api.example.com", true, "origin prefix at a path boundary"),
            ("https://api.example.com", "https://api.example.com", true, "equal"),
            ("https://api.example.com?x", "https://api.example.com", true, "query boundary"),
            ("https://api.example.com.evil.net/", "https://api.example.com", false, "not a boundary"),
            ("https://api.example.com:8443/", "https://api.example.com", false, "another port is another origin"),
            ("https://api.example.com/v1/x", "https://api.example.com/v1/", true, "pattern ending in a slash"),
            ("https://api.example.com/v10", "https://api.example.com/v1", false, "path segment boundary"),
            ("https://a/", "", false, "an empty pattern matches nothing"),
        ];
        for (url, pat, want, why) in rows {
            assert_eq!(prefix_matches(url, pat), *want, "{url} vs {pat}: {why}");
        }
    }
}
