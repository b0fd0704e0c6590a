//! Export: where finished spans go.
//!
//! [`SpanProcessor`] receives each sampled span when it ends. The browser pipeline batches
//! ([`batch::BatchQueue`]) and posts OTLP/HTTP JSON ([`otlp_json::Encoder`]);
//! [`InMemoryProcessor`] keeps spans for tests.

#[allow(unused_imports)]
use crate::prelude::*;

pub mod batch;
pub mod debug_tree;
pub mod machine;
pub mod otlp_json;
pub mod retry;

use crate::span_data::SpanData;
use core::cell::RefCell;

/// Receives every sampled span when it ends.
pub trait SpanProcessor {
    /// Called once per ended, sampled span.
    fn on_end(&self, span: SpanData);
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
}

impl InMemoryProcessor {
    /// Removes and returns the spans ended so far, in end order.
    pub fn take(&self) -> Vec<SpanData> {
        core::mem::take(&mut self.spans.borrow_mut())
    }
}

impl SpanProcessor for InMemoryProcessor {
    fn on_end(&self, span: SpanData) {
        self.spans.borrow_mut().push(span);
    }
}
