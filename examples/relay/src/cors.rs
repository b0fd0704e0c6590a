//! CORS for the traces endpoint: an allow-list, and 403 for every other origin.
//!
//! A request with an `Origin` is let through only when the origin is on the list, or is the
//! relay's own (same `Host`: the app and the relay behind one reverse proxy); everything else,
//! preflights included, gets 403 before any work is done. A preflight must ask for `POST` and
//! only for [`SDK_HEADERS`] (plus what the operator added); it is answered with exactly those.
//! Requests without an `Origin` (backend SDKs, curl) are not CORS and pass. `Retry-After` is
//! exposed so the SDK can honour it on 429 and 503.
//!
//! Hand-written, not tower-http's `CorsLayer`: that one lets a disallowed origin's request run
//! and only leaves the headers out; here it is refused with 403 before the handler.

use crate::error::{ConfigError, Reject};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

/// The request headers the SDK sends that are not CORS-safelisted.
pub const SDK_HEADERS: [&str; 3] = ["content-type", "content-encoding", "x-canopy-sent-at"];
/// How long a browser may cache a preflight (Chromium caps it at 7200 s).
const MAX_AGE_SECS: u32 = 7200;

/// One entry of `CANOPY_ALLOWED_ORIGINS`.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Allowed {
    /// `*`: any origin.
    Any,
    /// `https://app.example.com[:port]`.
    Exact(String),
    /// `https://*.example.com[:port]`: any subdomain (not the domain itself); `suffix` is
    /// `.example.com[:port]`.
    Subdomains { scheme: String, suffix: String },
}

impl Allowed {
    /// An entry, kept as browsers write `Origin` (see [`ascii_origin`]).
    fn parse(o: &str) -> Result<Allowed, ConfigError> {
        if o == "*" {
            return Ok(Allowed::Any);
        }
        let Some((scheme, rest)) = o.split_once("://").filter(|(s, _)| matches!(*s, "http" | "https")) else {
            let why = "it must look like https://app.example.com (or https://*.example.com, or *)";
            return Err(ConfigError::Origin { origin: o.to_owned(), why });
        };
        let bad = |why: &'static str| ConfigError::Origin { origin: o.to_owned(), why };
        if rest.is_empty() || rest.contains(['/', '\\', '?', '#']) {
            return Err(bad("an origin is scheme://host[:port], nothing after"));
        }
        if rest.contains('@') {
            return Err(bad("an origin has no user name or password"));
        }
        let invalid = || bad("the host or port is not valid");
        match rest.strip_prefix("*.") {
            Some(suffix) if !suffix.contains('*') && suffix.contains('.') => {
                // The suffix as browsers write it: a label in the wildcard's place, taken off again.
                let label = format!("{scheme}://wildcard");
                let origin = ascii_origin(&format!("{label}.{suffix}")).ok_or_else(invalid)?;
                let suffix = origin.strip_prefix(label.as_str()).ok_or_else(invalid)?;
                Ok(Allowed::Subdomains { scheme: scheme.to_owned(), suffix: suffix.to_owned() })
            }
            Some(_) => Err(bad("a wildcard must be followed by a domain with a dot, as in https://*.example.com")),
            None if rest.contains('*') => {
                Err(bad("a wildcard may only be the first label, as in https://*.example.com"))
            }
            None => ascii_origin(o).map(Allowed::Exact).ok_or_else(invalid),
        }
    }

    /// Whether `origin` (lowercase) matches.
    fn matches(&self, origin: &str) -> bool {
        match self {
            Allowed::Any => true,
            Allowed::Exact(o) => o == origin,
            Allowed::Subdomains { scheme, suffix } => origin.split_once("://").is_some_and(|(s, rest)| {
                let label = rest.strip_suffix(suffix.as_str()).unwrap_or("");
                s == scheme
                    && !label.is_empty()
                    && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
                    && !label.starts_with('.')
                    && !label.ends_with('.')
            }),
        }
    }
}

/// `scheme://host[:port]` as browsers send it in `Origin`, its ASCII serialization: lowercase,
/// the default port left out, an internationalised host in punycode (`https://bücher.example:443`
/// is `https://xn--bcher-kva.example`). `None` unless `o` is an http(s) origin and nothing more.
fn ascii_origin(o: &str) -> Option<String> {
    let url = url::Url::parse(o).ok()?;
    let more = !url.username().is_empty()
        || url.password().is_some()
        || url.path() != "/"
        || url.query().is_some()
        || url.fragment().is_some();
    let origin = url.origin();
    (!more && origin.is_tuple()).then(|| origin.ascii_serialization())
}

/// The CORS policy.
#[derive(Clone, Debug)]
pub struct Cors {
    origins: Vec<Allowed>,
    headers: Vec<String>,
    allow_headers: HeaderValue,
}

impl Cors {
    /// `origins` as `scheme://host[:port]`; `extra_headers` are allowed on top of the SDK's.
    pub fn new(origins: &[String], extra_headers: &[String]) -> Result<Cors, ConfigError> {
        let origins = origins.iter().map(|o| o.trim().trim_end_matches('/').to_ascii_lowercase());
        let origins = origins.filter(|o| !o.is_empty()).map(|o| Allowed::parse(&o)).collect::<Result<Vec<_>, _>>()?;
        let mut headers: Vec<String> = SDK_HEADERS.iter().map(|h| h.to_string()).collect();
        for h in extra_headers.iter().map(|h| h.trim().to_ascii_lowercase()).filter(|h| !h.is_empty()) {
            axum::http::HeaderName::try_from(h.as_str()).map_err(|_| ConfigError::HeaderName(h.clone()))?;
            if !headers.contains(&h) {
                headers.push(h);
            }
        }
        // Header names joined by ", " are always a valid value.
        let allow_headers =
            HeaderValue::try_from(headers.join(", ")).map_err(|_| ConfigError::HeaderValue("CANOPY_ALLOW_HEADERS"))?;
        Ok(Cors { origins, headers, allow_headers })
    }

    /// Whether a request with this `Origin` (and `Host`) may proceed.
    fn allows(&self, origin: &str, host: Option<&str>) -> bool {
        let o = origin.to_ascii_lowercase();
        let same_host =
            host.is_some_and(|h| o.split_once("://").is_some_and(|(_, rest)| rest == h.to_ascii_lowercase()));
        same_host || self.origins.iter().any(|a| a.matches(&o))
    }

    /// Answers a preflight from an allowed origin.
    fn preflight(&self, origin: &HeaderValue, headers: &HeaderMap) -> Response {
        let method = headers.get(header::ACCESS_CONTROL_REQUEST_METHOD).and_then(|m| m.to_str().ok()).unwrap_or("");
        if method != "POST" {
            return refuse(format!("CORS: method {method:?} is not allowed; only POST"));
        }
        let asked = headers.get_all(header::ACCESS_CONTROL_REQUEST_HEADERS).iter();
        let asked: Vec<String> = asked
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(|h| h.trim().to_ascii_lowercase())
            .filter(|h| !h.is_empty())
            .collect();
        if let Some(h) = asked.iter().find(|h| !self.headers.contains(h)) {
            return refuse(format!("CORS: request header {h:?} is not allowed"));
        }
        let mut res = StatusCode::NO_CONTENT.into_response();
        let h = res.headers_mut();
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
        h.insert(header::ACCESS_CONTROL_ALLOW_METHODS, HeaderValue::from_static("POST"));
        h.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, self.allow_headers.clone());
        h.insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from(MAX_AGE_SECS));
        h.insert(
            header::VARY,
            HeaderValue::from_static("origin, access-control-request-method, access-control-request-headers"),
        );
        res
    }
}

fn refuse(message: String) -> Response {
    Reject::Forbidden(message).into_response()
}

/// The middleware: refuses other origins, answers preflights, and marks allowed responses.
pub async fn layer(State(cors): State<Arc<Cors>>, req: Request, next: Next) -> Response {
    let Some(origin) = req.headers().get(header::ORIGIN).cloned() else {
        return next.run(req).await;
    };
    let host = req.headers().get(header::HOST).and_then(|h| h.to_str().ok());
    if !origin.to_str().is_ok_and(|o| cors.allows(o, host)) {
        let shown = String::from_utf8_lossy(origin.as_bytes()).chars().take(100).collect::<String>();
        return refuse(format!("origin {shown:?} is not allowed (CANOPY_ALLOWED_ORIGINS)"));
    }
    let is_preflight =
        req.method() == Method::OPTIONS && req.headers().contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
    if is_preflight {
        return cors.preflight(&origin, req.headers());
    }
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
    h.insert(header::ACCESS_CONTROL_EXPOSE_HEADERS, HeaderValue::from_static("retry-after"));
    h.append(header::VARY, HeaderValue::from_static("origin"));
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins() {
        let cors = Cors::new(&["https://App.example.com/".into(), " http://localhost:5173".into()], &[]).unwrap();
        let cases = [
            ("https://app.example.com", None, true, "listed, case and trailing slash normalised"),
            ("http://localhost:5173", None, true, "listed with port"),
            ("http://localhost:5174", None, false, "other port"),
            ("https://app.example.com.evil.com", None, false, "suffix"),
            ("null", None, false, "opaque origin"),
            ("https://relay.example.com", Some("relay.example.com"), true, "same host as the relay"),
            ("https://relay.example.com", Some("relay.example.com:8443"), false, "same host, other port"),
        ];
        for (origin, host, want, why) in cases {
            assert_eq!(cors.allows(origin, host), want, "{why}");
        }
        assert!(Cors::new(&["app.example.com".into()], &[]).is_err(), "no scheme");
        let wild = Cors::new(&["https://*.example.com".into(), "http://*.test.local:8080".into()], &[]).unwrap();
        for (origin, want, why) in [
            ("https://a.example.com", true, "a subdomain"),
            ("https://a.b.example.com", true, "a deeper subdomain"),
            ("https://example.com", false, "the domain itself"),
            ("http://a.example.com", false, "other scheme"),
            ("https://a.example.com.evil.com", false, "suffix after"),
            ("https://evilexample.com", false, "no dot before the domain"),
            ("https://a.example.com:8443", false, "other port"),
            ("https://a_b.example.com", false, "not a host name"),
            ("http://x.test.local:8080", true, "with a port"),
        ] {
            assert_eq!(wild.allows(origin, None), want, "{why}: {origin}");
        }
        assert!(Cors::new(&["*".into()], &[]).unwrap().allows("https://anything.example", None), "*");
        for bad in ["https://app.*.com", "*.example.com", "https://*", "https://*.com/path", "https://*.*.example.com"]
        {
            assert!(Cors::new(&[bad.into()], &[]).is_err(), "{bad} is refused at startup");
        }
        assert!(Cors::new(&[], &["bad header".into()]).is_err());
        let extra = Cors::new(&[], &["X-Tenant".into()]).unwrap();
        assert_eq!(extra.allow_headers, "content-type, content-encoding, x-canopy-sent-at, x-tenant");
    }

    /// Browsers send `Origin` as the origin's ASCII serialization: lowercase, no default port,
    /// an internationalised host in punycode. Entries written otherwise match it all the same.
    #[test]
    fn entries_match_the_origin_browsers_send() {
        let entries = [
            "https://app.example.com:443",
            "http://LOCALHOST:80",
            "https://Admin.Example.COM",
            "https://bücher.example",
            "http://[::1]:80/",
            "https://*.Bücher.example:443",
            "http://*.test.local:80",
        ];
        let cors = Cors::new(&entries.map(String::from), &[]).unwrap();
        for (origin, want) in [
            ("https://app.example.com", true),
            ("https://app.example.com:443", false), // browsers never send it so
            ("http://localhost", true),
            ("https://admin.example.com", true),
            ("https://xn--bcher-kva.example", true),
            ("http://[::1]", true),
            ("https://shop.xn--bcher-kva.example", true),
            ("https://xn--bcher-kva.example.evil.com", false),
            ("http://a.test.local", true),
            ("http://a.test.local:8080", false),
        ] {
            assert_eq!(cors.allows(origin, None), want, "{origin}");
        }
        for (bad, why) in [
            ("https://app.example.com/app", "nothing after"),
            ("https://app.example.com?x=1", "nothing after"),
            ("https://app.example.com#top", "nothing after"),
            ("https://user:pw@app.example.com", "user name"),
            ("https://user@*.example.com", "user name"),
            ("ftp://app.example.com", "must look like"),
            ("https://app.example.com:99999", "host or port"),
            ("https://exa mple.com", "host or port"),
            ("https://*.exa mple.com", "host or port"),
        ] {
            let err = Cors::new(&[bad.into()], &[]).err().unwrap_or_else(|| panic!("{bad} is refused at startup"));
            assert!(err.to_string().contains(why), "{bad}: {err}");
        }
    }
}
