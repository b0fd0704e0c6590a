//! Log records: what `log.info(...)` and its siblings record, each with the trace and span that
//! were current when it was written, so a log line joins its trace in Honeycomb and CloudWatch
//! Logs Insights.
//!
//! Records ride the span export pipeline (same batching, retries and page-hide rules) and leave
//! as OTLP/HTTP JSON logs (`ExportLogsServiceRequest`) for the relay's `/v1/logs`.
//!
//! ```
//! use canopy_web::{Config, Tracer, export::InMemoryProcessor, log_data::Severity};
//! use std::rc::Rc;
//!
//! let mem = Rc::new(InMemoryProcessor::default());
//! let tracer = Tracer::new(&Config::new("frontend"), [1; 32], mem.clone());
//! tracer.in_span("loadData", |load| {
//!     tracer.log(Severity::Info, "feed loaded", vec![canopy_web::KeyValue::new("items", 20)]);
//!     let logs = mem.take_logs();
//!     assert_eq!(logs[0].trace.unwrap().1, load.span_context().span_id); // the current span
//! });
//! tracer.log(Severity::Warn, "outside any span", Vec::new());
//! assert!(mem.take_logs()[0].trace.is_none());
//! ```

#[allow(unused_imports)]
use crate::prelude::*;

use crate::attribute::{KeyValue, Str};
use crate::ids::{SpanId, TraceFlags, TraceId};

/// A log record's severity, with OpenTelemetry's `SeverityNumber` (the first of each range).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// `TRACE` (1).
    Trace = 1,
    /// `DEBUG` (5).
    Debug = 5,
    /// `INFO` (9).
    Info = 9,
    /// `WARN` (13).
    Warn = 13,
    /// `ERROR` (17).
    Error = 17,
    /// `FATAL` (21).
    Fatal = 21,
}

impl Severity {
    /// OpenTelemetry's `SeverityNumber`.
    pub fn number(self) -> u8 {
        self as u8
    }

    /// The short name (`severityText`): `TRACE`, `DEBUG`, `INFO`, `WARN`, `ERROR`, `FATAL`.
    pub fn text(self) -> &'static str {
        match self {
            Severity::Trace => "TRACE",
            Severity::Debug => "DEBUG",
            Severity::Info => "INFO",
            Severity::Warn => "WARN",
            Severity::Error => "ERROR",
            Severity::Fatal => "FATAL",
        }
    }

    /// The severity whose range holds `n` (1-4 trace, 5-8 debug, ... 21-24 fatal).
    pub fn from_number(n: u32) -> Option<Severity> {
        Some(match n {
            1..=4 => Severity::Trace,
            5..=8 => Severity::Debug,
            9..=12 => Severity::Info,
            13..=16 => Severity::Warn,
            17..=20 => Severity::Error,
            21..=24 => Severity::Fatal,
            _ => return None,
        })
    }
}

/// One recorded log line.
#[derive(Clone, Debug, PartialEq)]
pub struct LogData {
    /// When it was written (Unix epoch nanoseconds).
    pub time: u64,
    /// How severe.
    pub severity: Severity,
    /// The message.
    pub body: Str,
    /// Attributes, within the span attribute limits.
    pub attributes: Vec<KeyValue>,
    /// Attributes dropped by the count limit.
    pub dropped_attributes_count: u32,
    /// The trace, span and flags current when it was written; `None` outside any span.
    pub trace: Option<(TraceId, SpanId, TraceFlags)>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn severity_numbers_round_trip() {
        for s in [Severity::Trace, Severity::Debug, Severity::Info, Severity::Warn, Severity::Error, Severity::Fatal] {
            assert_eq!(Severity::from_number(s.number() as u32), Some(s));
            assert_eq!(Severity::from_number(s.number() as u32 + 3), Some(s));
        }
        assert_eq!(Severity::from_number(0), None);
        assert_eq!(Severity::from_number(25), None);
        assert_eq!(Severity::Warn.text(), "WARN");
    }
}
