//! [`Reject`]: a refused request, answered as OTLP/HTTP says (a `google.rpc.Status` body in the
//! request's encoding), with a message that names what is wrong.

use crate::model::RpcStatus;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use prost::Message;

/// How a response body is encoded: as the request was (OTLP answers in kind).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    Json,
    Protobuf,
}

/// A refused request: the HTTP status, a message for the client, and, for 429 and 503, how
/// many seconds to wait before trying again.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reject {
    pub status: StatusCode,
    pub message: String,
    pub retry_after: Option<u64>,
}

impl Reject {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Reject {
        Reject { status, message: message.into(), retry_after: None }
    }

    /// 400: the body is malformed or breaks a rule.
    pub fn bad_request(message: impl Into<String>) -> Reject {
        Reject::new(StatusCode::BAD_REQUEST, message)
    }

    /// 413: over a size limit.
    pub fn too_large(message: impl Into<String>) -> Reject {
        Reject::new(StatusCode::PAYLOAD_TOO_LARGE, message)
    }

    /// 415: a content type or encoding the relay does not take.
    pub fn unsupported(message: impl Into<String>) -> Reject {
        Reject::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, message)
    }

    /// 503 with `Retry-After`: try again later; nothing was kept.
    pub fn unavailable(message: impl Into<String>, retry_after: u64) -> Reject {
        Reject::new(StatusCode::SERVICE_UNAVAILABLE, message).with_retry_after(retry_after)
    }

    pub fn with_retry_after(mut self, seconds: u64) -> Reject {
        self.retry_after = Some(seconds.max(1));
        self
    }

    /// The response, its body a `google.rpc.Status` in `encoding`.
    pub fn into_response_as(self, encoding: Encoding) -> Response {
        let code = grpc_code(self.status);
        let mut res = match encoding {
            Encoding::Json => {
                let body = serde_json::json!({ "code": code, "message": self.message }).to_string();
                (self.status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
            }
            Encoding::Protobuf => {
                let body = RpcStatus { code, message: self.message }.encode_to_vec();
                (self.status, [(header::CONTENT_TYPE, "application/x-protobuf")], body).into_response()
            }
        };
        if let Some(secs) = self.retry_after {
            res.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        res
    }
}

impl IntoResponse for Reject {
    fn into_response(self) -> Response {
        self.into_response_as(Encoding::Json)
    }
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
