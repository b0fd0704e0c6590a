//! [`SpanData`]: a finished span as plain data, what processors and exporters consume.

#[allow(unused_imports)]
use crate::prelude::*;

use crate::attribute::{KeyValue, Str};
use crate::ids::SpanId;
use crate::span_context::SpanContext;

/// The role of a span in a trace. Numbering follows OTLP (`SPAN_KIND_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[repr(u8)]
pub enum SpanKind {
    /// Internal work (the default).
    #[default]
    Internal = 1,
    /// Handles a remote request.
    Server = 2,
    /// Makes a remote request (fetch, XHR).
    Client = 3,
    /// Sends a message.
    Producer = 4,
    /// Receives a message.
    Consumer = 5,
}

impl SpanKind {
    /// The kind for OpenTelemetry JS's `SpanKind` enum number (INTERNAL=0 … CONSUMER=4).
    pub fn from_otel_js(n: u32) -> Option<SpanKind> {
        Some(match n {
            0 => SpanKind::Internal,
            1 => SpanKind::Server,
            2 => SpanKind::Client,
            3 => SpanKind::Producer,
            4 => SpanKind::Consumer,
            _ => return None,
        })
    }

    /// The kind for a lowercase name: `internal`, `server`, `client`, `producer`, `consumer`.
    pub fn from_name(s: &str) -> Option<SpanKind> {
        Some(match s {
            "internal" => SpanKind::Internal,
            "server" => SpanKind::Server,
            "client" => SpanKind::Client,
            "producer" => SpanKind::Producer,
            "consumer" => SpanKind::Consumer,
            _ => return None,
        })
    }

    /// The lowercase name.
    pub fn name(self) -> &'static str {
        match self {
            SpanKind::Internal => "internal",
            SpanKind::Server => "server",
            SpanKind::Client => "client",
            SpanKind::Producer => "producer",
            SpanKind::Consumer => "consumer",
        }
    }
}

/// A span's status. Codes follow OpenTelemetry (0 unset, 1 ok, 2 error).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub enum Status {
    /// Not set (the default).
    #[default]
    Unset,
    /// Explicitly marked successful; final, later `Error` is ignored.
    Ok,
    /// Failed, with a description.
    Error(Str),
}

impl Status {
    /// The OpenTelemetry status code (0, 1, 2).
    pub fn code(&self) -> u8 {
        match self {
            Status::Unset => 0,
            Status::Ok => 1,
            Status::Error(_) => 2,
        }
    }
}

/// A timestamped event on a span.
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    /// The event's name, e.g. `exception`.
    pub name: Str,
    /// Unix epoch nanoseconds.
    pub time: u64,
    /// The event's attributes.
    pub attributes: Vec<KeyValue>,
    /// Attributes dropped for the limit.
    pub dropped_attributes_count: u32,
}

/// A link to another span (in this trace or another).
#[derive(Clone, Debug, PartialEq)]
pub struct Link {
    /// The linked span.
    pub span_context: SpanContext,
    /// The link's attributes.
    pub attributes: Vec<KeyValue>,
    /// Attributes dropped for the limit.
    pub dropped_attributes_count: u32,
}

/// A finished span: everything an exporter needs.
#[derive(Clone, Debug, PartialEq)]
pub struct SpanData {
    /// The span's own context.
    pub span_context: SpanContext,
    /// The parent's span id, or [`SpanId::INVALID`] for a root span.
    pub parent_span_id: SpanId,
    /// True when the parent came from another process.
    pub parent_is_remote: bool,
    /// The span's name.
    pub name: Str,
    /// Its kind.
    pub kind: SpanKind,
    /// Unix epoch nanoseconds.
    pub start_time: u64,
    /// Unix epoch nanoseconds.
    pub end_time: u64,
    /// Attributes, at most the attribute count limit.
    pub attributes: Vec<KeyValue>,
    /// Attributes dropped for the limit.
    pub dropped_attributes_count: u32,
    /// Events, at most the event count limit.
    pub events: Vec<Event>,
    /// Events dropped for the limit.
    pub dropped_events_count: u32,
    /// Links, at most the link count limit.
    pub links: Vec<Link>,
    /// Links dropped for the limit.
    pub dropped_links_count: u32,
    /// The status.
    pub status: Status,
}
