//! [`Tracer`]: creates spans, picks their parents, samples, and hands finished spans on.
//!
//! In the browser, `canopy_web::init` builds the tracer (its processor is the export pipeline).
//! Anywhere else, build one with any [`SpanProcessor`]:
//!
//! ```
//! use canopy_web::{Config, Tracer, export::InMemoryProcessor};
//! use std::rc::Rc;
//!
//! let spans = Rc::new(InMemoryProcessor::default());
//! let seed = [7; 32]; // id generator seed: the browser uses crypto.getRandomValues
//! let tracer = Tracer::new(&Config::new("frontend"), seed, spans.clone());
//! let load = tracer.start("loadData");
//! {
//!     let _fetch = load.child("fetchData");
//! }
//! let process = load.child("processData");
//! # drop(process);
//! # drop(load);
//! let ended = spans.take();
//! assert_eq!(ended.len(), 3);
//! assert!(ended.iter().all(|s| s.span_context.trace_id == ended[2].span_context.trace_id));
//! ```

#[allow(unused_imports)]
use crate::prelude::*;

use crate::attribute::{self, KeyValue, Str};
use crate::config::{Config, SpanLimits};
use crate::export::SpanProcessor;
use crate::ids::{IdGenerator, TraceFlags};
use crate::log_data::{LogData, Severity};
use crate::span::{Parent, Span, SpanBuilder};
use crate::span_context::SpanContext;
use crate::span_data::{SpanData, SpanKind, Status};
use alloc::rc::Rc;
use core::cell::{Cell, RefCell};

/// Creates spans. Cheap to clone (a reference-counted handle).
///
/// A new span's parent is, by default, the current span: the one whose [`Tracer::in_span`] or
/// [`Span::in_scope`] callback is running. Nothing stays current after the callback returns
/// (there is no implicit async context), so code after an `.await` names its parent with
/// [`Span::child`], or runs in a future wrapped with [`InSpan::in_span`](crate::InSpan::in_span).
/// Root spans are sampled with `config.sample_rate`; children follow their
/// parent's decision.
///
/// ```
/// # use canopy_web::{Config, Tracer, export::InMemoryProcessor};
/// # use std::rc::Rc;
/// # let spans = Rc::new(InMemoryProcessor::default());
/// # let tracer = Tracer::new(&Config::new("frontend"), [7; 32], spans.clone());
/// tracer.in_span("click", |click| {
///     let validate = tracer.start("validate"); // the click is current: it is the parent
///     assert_eq!(validate.data().unwrap().parent_span_id, click.span_context().span_id);
/// });
/// let later = tracer.start("later"); // nothing is current any more: a new trace
/// assert!(!later.data().unwrap().parent_span_id.is_valid());
/// ```
#[derive(Clone)]
pub struct Tracer {
    inner: Rc<Inner>,
}

impl core::fmt::Debug for Tracer {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(if self.inner.processor.is_some() { "Tracer" } else { "Tracer(noop)" })
    }
}

struct Inner {
    ids: RefCell<IdGenerator>,
    sample_rate: f64,
    /// New traces get X-Ray compatible ids.
    xray: bool,
    limits: SpanLimits,
    processor: Option<Rc<dyn SpanProcessor>>,
    /// The server-rendered context from `<meta name="traceparent">`, if any.
    document_parent: RefCell<Option<SpanContext>>,
    /// When the document finished loading (epoch ns); root spans that start before it join
    /// the document's trace, and after it only a first root span (if none joined).
    document_loaded_at: Cell<Option<u64>>,
    document_parent_used: Cell<bool>,
    enabled: Cell<bool>,
}

impl Tracer {
    /// A tracer that samples with `config.sample_rate`, limits spans with `config.limits`, and
    /// hands sampled, ended spans to `processor`.
    pub fn new(config: &Config, seed: [u8; 32], processor: Rc<dyn SpanProcessor>) -> Tracer {
        let t = Tracer::build(config.sample_rate, config.limits.clone(), seed, Some(processor));
        // Set once, before the tracer is shared.
        let mut t = t;
        if let Some(inner) = Rc::get_mut(&mut t.inner) {
            inner.xray = config.xray;
        }
        t
    }

    /// A tracer whose spans propagate context but record and export nothing (used before
    /// `init`, and after `shutdown`).
    pub fn noop() -> Tracer {
        Tracer::build(1.0, SpanLimits::default(), [0x5a; 32], None)
    }

    fn build(sample_rate: f64, limits: SpanLimits, seed: [u8; 32], processor: Option<Rc<dyn SpanProcessor>>) -> Tracer {
        Tracer {
            inner: Rc::new(Inner {
                ids: RefCell::new(IdGenerator::from_seed(seed)),
                sample_rate,
                xray: false,
                limits,
                enabled: Cell::new(processor.is_some()),
                processor,
                document_parent: RefCell::new(None),
                document_loaded_at: Cell::new(None),
                document_parent_used: Cell::new(false),
            }),
        }
    }

    /// Starts a span now with default options (parent: the current span).
    pub fn start(&self, name: impl Into<Str>) -> Span {
        self.span(name).start()
    }

    /// A builder for a span with options.
    pub fn span(&self, name: impl Into<Str>) -> SpanBuilder<'_> {
        SpanBuilder {
            tracer: self,
            name: name.into(),
            kind: SpanKind::Internal,
            attributes: Vec::new(),
            start_time: None,
            parent: Parent::Current,
            links: Vec::new(),
        }
    }

    /// Runs `f` inside a new span that is current for the synchronous run of `f`, and ends it
    /// when `f` returns.
    pub fn in_span<R>(&self, name: impl Into<Str>, f: impl FnOnce(&mut Span) -> R) -> R {
        let mut span = self.start(name);
        let cx = span.span_context().clone();
        crate::context::with_span_context(cx, || f(&mut span))
    }

    /// Sets the server-rendered context that root spans join (from `<meta name="traceparent">`).
    pub fn set_document_parent(&self, cx: Option<SpanContext>) {
        *self.inner.document_parent.borrow_mut() = cx;
        self.inner.document_loaded_at.set(None);
        self.inner.document_parent_used.set(false);
    }

    /// Ends the document's window now: root spans that start from now on join the
    /// server-rendered trace only if none joined before. Called at the page's `load` event.
    pub fn close_document_parent(&self) {
        self.close_document_parent_at(crate::time::now());
    }

    /// [`Tracer::close_document_parent`] at a given time (epoch ns): a root span whose start
    /// time is earlier still joins, so spans recorded before the SDK was ready and replayed
    /// later (with their own start times) get the parent they would have had.
    pub fn close_document_parent_at(&self, t: u64) {
        if self.inner.document_loaded_at.get().is_none() {
            self.inner.document_loaded_at.set(Some(t));
        }
    }

    /// Stops recording: later spans propagate context but are not exported.
    pub fn disable(&self) {
        self.inner.enabled.set(false);
    }

    pub(crate) fn limits(&self) -> &SpanLimits {
        &self.inner.limits
    }

    /// Records a log line now, with the current span's trace and span ids (none outside a span).
    /// Attributes follow the span attribute limits. Nothing is recorded before `init`, after
    /// `shutdown`, or by a no-op tracer.
    pub fn log(&self, severity: Severity, body: impl Into<Str>, attributes: Vec<KeyValue>) {
        self.log_at(severity, body.into(), attributes, None);
    }

    /// [`Tracer::log`] at a given time (Unix epoch ns), e.g. a line written before the SDK was
    /// ready and replayed.
    pub fn log_at(&self, severity: Severity, body: Str, attributes: Vec<KeyValue>, time: Option<u64>) {
        let (Some(p), true) = (&self.inner.processor, self.inner.enabled.get()) else { return };
        let l = &self.inner.limits;
        let (attributes, dropped_attributes_count) =
            attribute::bounded(attributes, l.attribute_count_limit, l.attribute_value_length_limit);
        let trace = crate::context::current().map(|c| (c.trace_id, c.span_id, c.trace_flags));
        let time = time.unwrap_or_else(crate::time::now);
        p.on_log(LogData { time, severity, body, attributes, dropped_attributes_count, trace });
    }

    pub(crate) fn on_end(&self, data: Box<SpanData>) {
        if let Some(p) = &self.inner.processor {
            if self.inner.enabled.get() {
                p.on_end(data);
            }
        }
    }

    fn document_parent(&self, start: u64) -> Option<SpanContext> {
        let i = &self.inner;
        let dp = i.document_parent.borrow();
        let cx = dp.as_ref()?;
        let during_load = i.document_loaded_at.get().is_none_or(|loaded| start < loaded);
        if !during_load && i.document_parent_used.get() {
            return None;
        }
        i.document_parent_used.set(true);
        Some(cx.clone())
    }

    pub(crate) fn start_with(
        &self,
        name: Str,
        kind: SpanKind,
        attributes: Vec<KeyValue>,
        start_time: Option<u64>,
        parent: Parent,
    ) -> Span {
        let start = start_time.unwrap_or_else(crate::time::now);
        let parent = match parent {
            Parent::Explicit(cx) if cx.is_valid() => Some(cx),
            Parent::Explicit(_) | Parent::Root => None,
            Parent::Current => crate::context::current().or_else(|| self.document_parent(start)),
        };
        let (trace_id, span_id) = {
            let mut ids = self.inner.ids.borrow_mut();
            let trace_id = match &parent {
                Some(p) => p.trace_id,
                None if self.inner.xray => ids.xray_trace_id((crate::time::now() / 1_000_000_000) as u32),
                None => ids.trace_id(),
            };
            (trace_id, ids.span_id())
        };
        let (flags, trace_state, parent_span_id, parent_is_remote) = match parent {
            Some(p) => (TraceFlags(p.trace_flags.0 & TraceFlags::KNOWN), p.trace_state, p.span_id, p.is_remote),
            None => {
                let sampled = crate::sampling::ratio_sampled(&trace_id, self.inner.sample_rate);
                (TraceFlags(0).with_sampled(sampled), Default::default(), crate::ids::SpanId::INVALID, false)
            }
        };
        let cx = SpanContext { trace_id, span_id, trace_flags: flags, is_remote: false, trace_state };
        let rec = if flags.is_sampled() && self.inner.enabled.get() {
            let l = &self.inner.limits;
            let (attributes, dropped_attributes_count) =
                attribute::bounded(attributes, l.attribute_count_limit, l.attribute_value_length_limit);
            Some(Box::new(SpanData {
                span_context: cx.clone(),
                parent_span_id,
                parent_is_remote,
                name,
                kind,
                start_time: start,
                end_time: 0,
                attributes,
                dropped_attributes_count,
                events: Vec::new(),
                dropped_events_count: 0,
                links: Vec::new(),
                dropped_links_count: 0,
                status: Status::Unset,
            }))
        } else {
            None
        };
        Span::new(cx, rec, self.clone())
    }
}
