//! What a request body is (content type and encoding) and how to decode it.
//!
//! Accepted, and nothing looser:
//!
//! | `Content-Type` | `Content-Encoding` | who sends it |
//! |---|---|---|
//! | `application/json` (optionally `; charset=utf-8`) | none, `identity` or `gzip` | the SDK, other OTLP/JSON exporters |
//! | `application/x-protobuf` | none, `identity` or `gzip` | backend SDKs (Python, Go, …), Collectors |
//! | `text/plain` (optionally `; charset=UTF-8`) | none | the SDK's `sendBeacon` fallback (a CORS-safelisted type) |

pub mod json;
pub mod proto;

use crate::error::{Encoding, Reject};
use crate::model::ExportRequest;
use crate::validate::Limits;
use axum::http::HeaderMap;
use axum::http::header::{CONTENT_ENCODING, CONTENT_TYPE};

/// The body's format, from `Content-Type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Json,
    Protobuf,
    /// OTLP JSON sent as `text/plain` by `navigator.sendBeacon`.
    Beacon,
}

impl Format {
    /// The encoding to answer in.
    pub fn encoding(self) -> Encoding {
        match self {
            Format::Protobuf => Encoding::Protobuf,
            Format::Json | Format::Beacon => Encoding::Json,
        }
    }
}

/// How the body is to be read: its format and whether it is gzip-compressed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BodyKind {
    pub format: Format,
    pub gzip: bool,
}

/// Reads `Content-Type` and `Content-Encoding`; 415 for anything not in the table above.
pub fn body_kind(headers: &HeaderMap) -> Result<BodyKind, Reject> {
    let ct = single(headers, CONTENT_TYPE.as_str())?
        .ok_or_else(|| Reject::unsupported("missing Content-Type: send application/json or application/x-protobuf"))?;
    let mut parts = ct.split(';').map(str::trim);
    let media = parts.next().unwrap_or("").to_ascii_lowercase();
    let params: Vec<&str> = parts.collect();
    let utf8_only = params.iter().all(|p| p.replace(' ', "").eq_ignore_ascii_case("charset=utf-8"));
    let format = match media.as_str() {
        "application/json" if utf8_only => Format::Json,
        "text/plain" if utf8_only => Format::Beacon,
        "application/x-protobuf" if params.is_empty() => Format::Protobuf,
        "application/json" | "text/plain" | "application/x-protobuf" => {
            return Err(Reject::unsupported(format!("unsupported Content-Type parameters in {}", quoted(ct))));
        }
        _ => {
            return Err(Reject::unsupported(format!(
                "unsupported Content-Type {}: send application/json or application/x-protobuf",
                quoted(ct)
            )));
        }
    };
    let gzip = match single(headers, CONTENT_ENCODING.as_str())?.map(|v| v.trim().to_ascii_lowercase()) {
        None => false,
        Some(v) if v == "identity" => false,
        Some(v) if v == "gzip" => true,
        Some(v) => {
            return Err(Reject::unsupported(format!("unsupported Content-Encoding {}: only gzip", quoted(&v))));
        }
    };
    if gzip && format == Format::Beacon {
        return Err(Reject::unsupported("a text/plain (sendBeacon) body must not be compressed"));
    }
    Ok(BodyKind { format, gzip })
}

/// The header's one value, as text; 415 when repeated or not visible ASCII.
fn single<'a>(headers: &'a HeaderMap, name: &str) -> Result<Option<&'a str>, Reject> {
    let mut values = headers.get_all(name).iter();
    let Some(first) = values.next() else { return Ok(None) };
    if values.next().is_some() {
        return Err(Reject::unsupported(format!("more than one {name} header")));
    }
    first.to_str().map(Some).map_err(|_| Reject::unsupported(format!("{name} is not ASCII")))
}

fn quoted(s: &str) -> String {
    format!("{:?}", s.chars().take(60).collect::<String>())
}

/// Decodes a (decompressed) body.
pub fn decode<R: ExportRequest>(format: Format, body: &[u8], limits: &Limits) -> Result<R, Reject> {
    if body.is_empty() {
        return Err(Reject::bad_request(format!("empty body: expected an OTLP {}", R::SIGNAL.request())));
    }
    match format {
        Format::Json | Format::Beacon => json::decode(body, limits),
        Format::Protobuf => proto::decode(body, limits),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn content_types() {
        type Case<'a> = (Option<&'a str>, Option<&'a str>, Result<(Format, bool), u16>, &'a str);
        let cases: &[Case] = &[
            (Some("application/json"), None, Ok((Format::Json, false)), "the SDK"),
            (Some("application/json"), Some("gzip"), Ok((Format::Json, true)), "the SDK, gzip"),
            (Some("Application/JSON; charset=UTF-8"), None, Ok((Format::Json, false)), "case and charset"),
            (Some("application/x-protobuf"), Some("GZIP"), Ok((Format::Protobuf, true)), "backend SDK"),
            (Some("application/x-protobuf"), Some("identity"), Ok((Format::Protobuf, false)), "identity"),
            (Some("text/plain;charset=UTF-8"), None, Ok((Format::Beacon, false)), "sendBeacon"),
            (Some("text/plain"), None, Ok((Format::Beacon, false)), "text/plain without charset"),
            (Some("text/plain;charset=UTF-8"), Some("gzip"), Err(415), "beacon is never gzip"),
            (Some("text/plain;charset=iso-8859-1"), None, Err(415), "other charset"),
            (Some("application/x-www-form-urlencoded"), None, Err(415), "form"),
            (Some("multipart/form-data; boundary=x"), None, Err(415), "multipart"),
            (Some("application/protobuf"), None, Err(415), "not the OTLP name"),
            (Some("application/x-protobuf; proto=x"), None, Err(415), "protobuf with parameters"),
            (Some("application/json"), Some("br"), Err(415), "brotli"),
            (Some("application/json"), Some("gzip, gzip"), Err(415), "double gzip"),
            (None, None, Err(415), "missing"),
        ];
        for (ct, ce, want, why) in cases {
            let mut h = HeaderMap::new();
            if let Some(ct) = ct {
                h.insert(CONTENT_TYPE, HeaderValue::from_static(ct));
            }
            if let Some(ce) = ce {
                h.insert(CONTENT_ENCODING, HeaderValue::from_static(ce));
            }
            let got = body_kind(&h).map(|k| (k.format, k.gzip)).map_err(|r| r.status().as_u16());
            assert_eq!(&got, want, "{why}");
        }
    }
}
