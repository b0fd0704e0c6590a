//! Export: where finished spans go.
//!
//! [`SpanProcessor`] receives each sampled span when it ends, as in opentelemetry-rust. The
//! browser's batch span processor is the export state machine ([`machine::Exporter`]: batching,
//! retries, page hide) over a bounded queue ([`batch::BatchQueue`]) and the OTLP/HTTP JSON
//! encoder ([`otlp_json::Encoder`]); the browser edge (`web::pipeline`) only performs its I/O.
//! [`InMemoryProcessor`] keeps spans for tests.

#[allow(unused_imports)]
use crate::prelude::*;

pub mod batch;
pub mod debug_tree;
pub mod machine;
pub mod otlp_json;
pub mod retry;

use crate::log_data::LogData;
use crate::span_data::SpanData;
use core::cell::RefCell;

/// Receives every sampled span when it ends. The other hooks have no-op defaults, so an
/// implementor writes only what it needs.
pub trait SpanProcessor {
    /// Called once per ended, sampled span (boxed: it was recorded in this box, and a queue
    /// keeps it there without copying it).
    fn on_end(&self, span: Box<SpanData>);

    /// Called once per log record ([`crate::Tracer::log`]). Dropped unless implemented.
    fn on_log(&self, _log: LogData) {}

    /// Sends what is queued now (without waiting for the batch delay). Asynchronous where the
    /// export is: the browser's `forceFlush()` Promise says when each batch had an attempt.
    fn force_flush(&self) {}

    /// Stops: later spans are dropped. Call [`SpanProcessor::force_flush`] first to keep them.
    fn shutdown(&self) {}
}

/// Keeps ended spans in memory, for tests and for apps that want to inspect them.
///
/// ```
/// use canopy_web::{Config, Tracer, export::InMemoryProcessor};
/// use std::rc::Rc;
///
/// let mem = Rc::new(InMemoryProcessor::default());
/// let tracer = Tracer::new(&Config::new("test"), [0; 32], mem.clone());
/// drop(tracer.start("work"));
/// assert_eq!(mem.take()[0].name, "work");
/// assert!(mem.take().is_empty()); // taken
/// ```
#[derive(Default)]
pub struct InMemoryProcessor {
    spans: RefCell<Vec<SpanData>>,
    logs: RefCell<Vec<LogData>>,
}

impl InMemoryProcessor {
    /// Removes and returns the spans ended so far, in end order.
    pub fn take(&self) -> Vec<SpanData> {
        core::mem::take(&mut self.spans.borrow_mut())
    }

    /// Removes and returns the log records written so far, in order.
    pub fn take_logs(&self) -> Vec<LogData> {
        core::mem::take(&mut self.logs.borrow_mut())
    }
}

impl SpanProcessor for InMemoryProcessor {
    fn on_end(&self, span: Box<SpanData>) {
        self.spans.borrow_mut().push(*span);
    }

    fn on_log(&self, log: LogData) {
        self.logs.borrow_mut().push(log);
    }
}
