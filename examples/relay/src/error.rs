//! [`Reject`]: why a request is refused, as a typed error, answered as OTLP/HTTP says (a
//! `google.rpc.Status` body in the request's encoding) by one `IntoResponse` impl.

use crate::model::RpcStatus;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use prost::Message;
use std::net::IpAddr;

/// How a response body is encoded: as the request was (OTLP answers in kind).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    Json,
    Protobuf,
}

/// A refused request. The message (`Display`) is for the client: it names what is wrong and
/// never holds the upstream's words or the relay's internals.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Reject {
    /// 400: the body is malformed or breaks a rule (the message names the field).
    #[error("{0}")]
    BadRequest(String),
    /// 413: over a size limit.
    #[error("{0}")]
    TooLarge(String),
    /// 415: a content type or encoding the relay does not take.
    #[error("{0}")]
    Unsupported(String),
    /// 408: the body did not arrive in time.
    #[error("the body took longer than {ms} ms to arrive")]
    BodyTimeout { ms: u128 },
    /// 408: the body arrived slower than the minimum rate.
    #[error("the body arrived slower than {rate} bytes a second")]
    BodyTooSlow { rate: u64 },
    /// 401: the ingest token is missing or wrong.
    #[error("missing or wrong {header}")]
    BadToken { header: &'static str },
    /// 403: CORS, or the viewer's guard.
    #[error("{0}")]
    Forbidden(String),
    /// 404.
    #[error("{0}")]
    NotFound(String),
    /// 429: over the request rate.
    #[error("too many requests from {ip}; retry in {secs} s")]
    RateLimited { ip: IpAddr, secs: u64 },
    /// 429: over a span or byte budget.
    #[error("{ip} is over its {what} budget; retry in {secs} s")]
    OverBudget { ip: IpAddr, what: &'static str, secs: u64 },
    /// 429: too many requests in flight from one client.
    #[error("too many requests in flight from {ip}")]
    TooManyInFlight { ip: IpAddr },
    /// 429: one client's bodies in flight hold their whole share of the relay's memory for them.
    #[error("{ip} has {share} bytes of bodies in flight, its share; retry when they are done")]
    OverShare { ip: IpAddr, share: usize },
    /// 431: the request line and headers are over the limit.
    #[error("the request's headers are over {max} bytes")]
    HeadTooLarge { max: usize },
    /// 503: every processing slot is taken.
    #[error("the relay is busy; try again shortly")]
    Busy,
    /// 503: the same request, byte for byte, is being delivered (see `copies.rs`).
    #[error("the same request is being delivered; try again shortly")]
    InFlight,
    /// 503: the upstream did not take the data within the forward budget.
    #[error("upstream unavailable; retry in {secs} s")]
    UpstreamUnavailable { secs: u64 },
    /// The upstream refused the data for good: its status, passed on (client and server errors
    /// as they are, anything else as 502).
    #[error("the upstream refused the data (HTTP {status}); the relay's log has the details")]
    UpstreamRefused { status: StatusCode },
    /// 500: a bug (the details are logged).
    #[error("internal error")]
    Internal,
}

impl Reject {
    pub fn bad_request(message: impl Into<String>) -> Reject {
        Reject::BadRequest(message.into())
    }

    pub fn too_large(message: impl Into<String>) -> Reject {
        Reject::TooLarge(message.into())
    }

    pub fn unsupported(message: impl Into<String>) -> Reject {
        Reject::Unsupported(message.into())
    }

    pub fn forbidden(message: impl Into<String>) -> Reject {
        Reject::Forbidden(message.into())
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Reject::BadRequest(_) => StatusCode::BAD_REQUEST,
            Reject::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Reject::Unsupported(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Reject::BodyTimeout { .. } | Reject::BodyTooSlow { .. } => StatusCode::REQUEST_TIMEOUT,
            Reject::BadToken { .. } => StatusCode::UNAUTHORIZED,
            Reject::Forbidden(_) => StatusCode::FORBIDDEN,
            Reject::NotFound(_) => StatusCode::NOT_FOUND,
            Reject::RateLimited { .. }
            | Reject::OverBudget { .. }
            | Reject::TooManyInFlight { .. }
            | Reject::OverShare { .. } => StatusCode::TOO_MANY_REQUESTS,
            Reject::HeadTooLarge { .. } => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            Reject::Busy | Reject::InFlight | Reject::UpstreamUnavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            Reject::UpstreamRefused { status } if status.is_client_error() || status.is_server_error() => *status,
            Reject::UpstreamRefused { .. } => StatusCode::BAD_GATEWAY,
            Reject::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// Seconds the client should wait before trying again (429 and 503), at least 1.
    pub fn retry_after(&self) -> Option<u64> {
        let secs = match self {
            Reject::RateLimited { secs, .. } | Reject::OverBudget { secs, .. } => *secs,
            Reject::UpstreamUnavailable { secs } => *secs,
            Reject::TooManyInFlight { .. } | Reject::OverShare { .. } | Reject::Busy | Reject::InFlight => 1,
            _ => return None,
        };
        Some(secs.max(1))
    }

    /// The response, its body a `google.rpc.Status` in `encoding`.
    pub fn into_response_as(self, encoding: Encoding) -> Response {
        let status = self.status();
        let code = grpc_code(status);
        let retry_after = self.retry_after();
        let message = self.to_string();
        let mut res = match encoding {
            Encoding::Json => {
                let body = serde_json::json!({ "code": code, "message": message }).to_string();
                (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
            }
            Encoding::Protobuf => {
                let body = RpcStatus { code, message }.encode_to_vec();
                (status, [(header::CONTENT_TYPE, "application/x-protobuf")], body).into_response()
            }
        };
        if let Some(secs) = retry_after {
            res.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        res
    }
}

/// Outside the traces route (where the request's encoding decides), answers are JSON.
impl IntoResponse for Reject {
    fn into_response(self) -> Response {
        self.into_response_as(Encoding::Json)
    }
}

/// A configuration the relay will not run with; the message names the setting.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{name} {value:?} is not a valid URL: {reason}")]
    BadUrl { name: &'static str, value: String, reason: String },
    #[error("{name} must be an http(s) URL, got {value:?}")]
    NotHttp { name: &'static str, value: String },
    #[error("CANOPY_UPSTREAM must not hold credentials; use HONEYCOMB_API_KEY")]
    CredentialsInUrl,
    #[error("refusing to send HONEYCOMB_API_KEY over plain http to another host; use https")]
    KeyInClear,
    #[error("{0:?} is not a header name")]
    HeaderName(String),
    #[error("{0} must be visible ASCII (it travels in a header)")]
    HeaderValue(&'static str),
    #[error("{0} must be a number, 0 or more (0 turns it off)")]
    Rate(&'static str),
    #[error("--max-in-flight and --forward-budget-ms must be above 0")]
    Zero,
    #[error("CANOPY_ADMIN_LISTEN must be a loopback address (or add --public-viewer)")]
    AdminNotLoopback,
    #[error("allowed origin {origin:?}: {why}")]
    Origin { origin: String, why: &'static str },
    #[error("refusing to send {0} over plain http to another host; use https")]
    SecretInClear(&'static str),
    #[error("Rollbar's sender needs a Tokio runtime (build the state inside one)")]
    NoRuntime,
    #[error("the HTTP client for the upstream: {0}")]
    HttpClient(#[source] reqwest::Error),
    #[error("CANOPY_XRAY_DAEMON {daemon:?}: {reason}")]
    XRayDaemon { daemon: String, reason: String },
    #[error("{name} {value:?}: {why}")]
    CloudWatch { name: &'static str, value: String, why: &'static str },
    #[error("the CloudWatch Logs sender needs a Tokio runtime (build the state inside one)")]
    CloudWatchRuntime,
}

/// Why the relay could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: std::net::SocketAddr, source: std::io::Error },
}

/// The gRPC status code that goes with an HTTP status (`google.rpc.Code`).
fn grpc_code(status: StatusCode) -> i32 {
    match status.as_u16() {
        400 | 413 | 415 => 3, // INVALID_ARGUMENT
        401 => 16,            // UNAUTHENTICATED
        403 => 7,             // PERMISSION_DENIED
        404 => 5,             // NOT_FOUND
        408 | 504 => 4,       // DEADLINE_EXCEEDED
        429 => 8,             // RESOURCE_EXHAUSTED
        502 | 503 => 14,      // UNAVAILABLE
        _ => 2,               // UNKNOWN
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_and_retry_after() {
        let ip: IpAddr = "203.0.113.1".parse().unwrap();
        for (reject, status, retry) in [
            (Reject::bad_request("x"), 400, None),
            (Reject::BodyTooSlow { rate: 10 }, 408, None),
            (Reject::RateLimited { ip, secs: 0 }, 429, Some(1)),
            (Reject::OverBudget { ip, what: "spans", secs: 7 }, 429, Some(7)),
            (Reject::UpstreamUnavailable { secs: 30 }, 503, Some(30)),
            (Reject::UpstreamRefused { status: StatusCode::UNAUTHORIZED }, 401, None),
            (Reject::UpstreamRefused { status: StatusCode::FOUND }, 502, None),
        ] {
            assert_eq!((reject.status().as_u16(), reject.retry_after()), (status, retry), "{reject:?}");
        }
        let res = Reject::Busy.into_response_as(Encoding::Protobuf);
        assert_eq!(res.headers()[header::RETRY_AFTER], "1");
        assert_eq!(res.headers()[header::CONTENT_TYPE], "application/x-protobuf");
    }
}
