//! [`Span`]: the live handle to a span being recorded, and [`SpanBuilder`].
//!
//! A span ends when [`Span::end`] is called or when the handle is dropped (RAII), and is then
//! handed to the tracer's processor if it was sampled. Every mutation applies the span limits
//! silently and counts what it dropped; nothing panics.
//!
//! ```
//! # use canopy_web::{Config, KeyValue, Tracer, export::InMemoryProcessor};
//! # use std::rc::Rc;
//! # let spans = Rc::new(InMemoryProcessor::default());
//! # let tracer = Tracer::new(&Config::new("frontend"), [1; 32], spans.clone());
//! // In the browser: let tracer = canopy_web::tracer();
//! let mut load = tracer.start("loadData");
//! let fetch = load.child("fetchData"); // ends when dropped
//! drop(fetch);
//! load.set_attribute(KeyValue::new("items", 3i64));
//! # drop(load);
//! # let ended = spans.take();
//! # assert_eq!(ended[0].name, "fetchData");
//! # assert_eq!(ended[0].parent_span_id, ended[1].span_context.span_id);
//! # assert_eq!(ended[1].attributes, [KeyValue::new("items", 3i64)]);
//! ```

#[allow(unused_imports)]
use crate::prelude::*;

use crate::attribute::{self, KeyValue, Str};
use crate::span_context::SpanContext;
use crate::span_data::{Event, Link, SpanData, SpanKind, Status};
use crate::tracer::Tracer;

/// A span being recorded. Ends on [`Span::end`] or on drop.
///
/// Start one with [`Tracer::start`], [`Tracer::span`] or [`Span::child`]. An unsampled span
/// records nothing but still carries its [`SpanContext`], so its children and outgoing
/// requests stay in the same trace.
///
/// ```
/// use canopy_web::{Config, KeyValue, Status, Tracer, export::InMemoryProcessor};
/// use std::rc::Rc;
///
/// let spans = Rc::new(InMemoryProcessor::default());
/// let tracer = Tracer::new(&Config::new("frontend"), [1; 32], spans.clone());
/// let mut span = tracer.start("save");
/// span.set_attribute(KeyValue::new("app.items", 3i64));
/// span.set_status(Status::Error("quota exceeded".into()));
/// span.end();
/// assert!(!span.is_recording() && span.span_context().is_valid());
/// assert_eq!(spans.take()[0].status, Status::Error("quota exceeded".into()));
/// ```
#[must_use = "a span ends (and is exported) when dropped; bind it to a variable"]
pub struct Span {
    cx: SpanContext,
    rec: Option<Box<SpanData>>,
    tracer: Tracer,
}

impl Span {
    pub(crate) fn new(cx: SpanContext, rec: Option<Box<SpanData>>, tracer: Tracer) -> Span {
        Span { cx, rec, tracer }
    }

    /// The span's context (ids and flags), also valid after it ended.
    #[inline]
    pub fn span_context(&self) -> &SpanContext {
        &self.cx
    }

    /// True while the span records: sampled and not yet ended.
    #[inline]
    pub fn is_recording(&self) -> bool {
        self.rec.is_some()
    }

    /// Sets an attribute (a repeated key replaces the value).
    pub fn set_attribute(&mut self, kv: KeyValue) {
        if let Some(d) = self.rec.as_deref_mut() {
            let l = self.tracer.limits();
            if !attribute::upsert(&mut d.attributes, kv, l.attribute_count_limit, l.attribute_value_length_limit) {
                d.dropped_attributes_count += 1;
            }
        }
    }

    /// Sets several attributes.
    pub fn set_attributes(&mut self, kvs: impl IntoIterator<Item = KeyValue>) {
        for kv in kvs {
            self.set_attribute(kv);
        }
    }

    /// Adds an event now.
    pub fn add_event(&mut self, name: impl Into<Str>, attributes: Vec<KeyValue>) {
        if self.rec.is_some() {
            self.add_event_at(name, crate::time::now(), attributes);
        }
    }

    /// Adds an event at `time` (epoch nanoseconds).
    pub fn add_event_at(&mut self, name: impl Into<Str>, time: u64, attributes: Vec<KeyValue>) {
        if let Some(d) = self.rec.as_deref_mut() {
            let l = self.tracer.limits();
            if d.events.len() >= l.event_count_limit {
                d.dropped_events_count += 1;
                return;
            }
            let (attributes, dropped_attributes_count) =
                attribute::bounded(attributes, l.event_attribute_count_limit, l.attribute_value_length_limit);
            d.events.push(Event { name: name.into(), time, attributes, dropped_attributes_count });
        }
    }

    /// Records an exception as an `exception` event with `exception.type`,
    /// `exception.message` and `exception.stacktrace`, as OpenTelemetry does. Does not change
    /// the status.
    pub fn record_exception(
        &mut self,
        kind: Option<Str>,
        message: Option<Str>,
        stacktrace: Option<Str>,
        time: Option<u64>,
    ) {
        if self.rec.is_none() {
            return;
        }
        let mut attrs = Vec::with_capacity(3);
        if let Some(t) = kind {
            attrs.push(KeyValue::new("exception.type", t));
        }
        if let Some(m) = message {
            attrs.push(KeyValue::new("exception.message", m));
        }
        if let Some(s) = stacktrace {
            attrs.push(KeyValue::new("exception.stacktrace", s));
        }
        let time = time.unwrap_or_else(crate::time::now);
        self.add_event_at("exception", time, attrs);
    }

    /// Records a failure: an `exception` event (now) and an error status carrying `message`.
    pub fn record_failure(&mut self, kind: Option<Str>, message: Option<Str>, stacktrace: Option<Str>) {
        if self.rec.is_none() {
            return;
        }
        let status = message.clone().unwrap_or(Str::Borrowed(""));
        self.record_exception(kind, message, stacktrace, None);
        self.set_status(Status::Error(status));
    }

    /// Sets the status. `Ok` is final; `Unset` is ignored, as the specification says.
    pub fn set_status(&mut self, status: Status) {
        if let Some(d) = self.rec.as_deref_mut() {
            match (&d.status, &status) {
                (Status::Ok, _) | (_, Status::Unset) => {}
                _ => d.status = status,
            }
        }
    }

    /// Renames the span.
    pub fn update_name(&mut self, name: impl Into<Str>) {
        if let Some(d) = self.rec.as_deref_mut() {
            d.name = name.into();
        }
    }

    /// Adds a link after creation.
    pub fn add_link(&mut self, cx: SpanContext, attributes: Vec<KeyValue>) {
        if let Some(d) = self.rec.as_deref_mut() {
            let l = self.tracer.limits();
            push_link(d, l, cx, attributes);
        }
    }

    /// A child of this span, started now.
    pub fn child(&self, name: impl Into<Str>) -> Span {
        self.tracer.span(name).parent(self.cx.clone()).start()
    }

    /// A builder for a child of this span.
    pub fn child_builder(&self, name: impl Into<Str>) -> SpanBuilder<'_> {
        self.tracer.span(name).parent(self.cx.clone())
    }

    /// Runs `f` with this span as the current span (for synchronous code).
    pub fn in_scope<R>(&self, f: impl FnOnce() -> R) -> R {
        crate::context::with_span_context(self.cx.clone(), f)
    }

    /// Ends the span now. A second call does nothing.
    pub fn end(&mut self) {
        if self.rec.is_some() {
            self.end_at(crate::time::now());
        }
    }

    /// Ends the span at `time` (epoch nanoseconds; clamped to not precede the start).
    #[inline(never)] // one copy in the .wasm, not one per place that ends a span
    pub fn end_at(&mut self, time: u64) {
        if let Some(mut d) = self.rec.take() {
            d.end_time = time.max(d.start_time);
            self.tracer.on_end(d);
        }
    }

    /// Forgets the span without exporting it (a JS span that was garbage collected unended).
    pub fn discard(&mut self) {
        self.rec = None;
    }

    /// The recorded data so far (`None` when not recording).
    pub fn data(&self) -> Option<&SpanData> {
        self.rec.as_deref()
    }
}

impl Drop for Span {
    fn drop(&mut self) {
        self.end();
    }
}

fn push_link(d: &mut SpanData, l: &crate::config::SpanLimits, cx: SpanContext, attributes: Vec<KeyValue>) {
    if d.links.len() >= l.link_count_limit {
        d.dropped_links_count += 1;
        return;
    }
    let (attributes, dropped_attributes_count) =
        attribute::bounded(attributes, l.link_attribute_count_limit, l.attribute_value_length_limit);
    d.links.push(Link { span_context: cx, attributes, dropped_attributes_count });
}

/// Which parent a new span gets.
#[derive(Clone, Debug, Default)]
pub enum Parent {
    /// The current span, else the document's server-rendered context, else none (default).
    #[default]
    Current,
    /// This context.
    Explicit(SpanContext),
    /// No parent: a new trace.
    Root,
}

/// Options for a new span. Start it with [`SpanBuilder::start`].
///
/// From [`Tracer::span`] or [`Span::child_builder`]. Defaults: kind internal, start time now,
/// parent the current span (else the page's server-rendered context, else a new trace).
///
/// ```
/// # use canopy_web::{Config, Tracer, export::InMemoryProcessor};
/// # use std::rc::Rc;
/// # let spans = Rc::new(InMemoryProcessor::default());
/// # let tracer = Tracer::new(&Config::new("frontend"), [1; 32], spans.clone());
/// use canopy_web::{KeyValue, SpanKind, propagation::parse_traceparent};
///
/// let remote = parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01").unwrap();
/// let span = tracer
///     .span("GET /api/activities/home")
///     .kind(SpanKind::Client)
///     .attribute(KeyValue::new("http.request.method", "GET"))
///     .parent(remote.clone())
///     .start();
/// assert_eq!(span.span_context().trace_id, remote.trace_id);
/// # drop(span);
/// # assert_eq!(spans.take()[0].parent_span_id, remote.span_id);
/// ```
#[must_use]
pub struct SpanBuilder<'a> {
    pub(crate) tracer: &'a Tracer,
    pub(crate) name: Str,
    pub(crate) kind: SpanKind,
    pub(crate) attributes: Vec<KeyValue>,
    pub(crate) start_time: Option<u64>,
    pub(crate) parent: Parent,
    pub(crate) links: Vec<(SpanContext, Vec<KeyValue>)>,
}

impl<'a> SpanBuilder<'a> {
    /// Sets the kind (default internal).
    pub fn kind(mut self, kind: SpanKind) -> Self {
        self.kind = kind;
        self
    }

    /// Adds an attribute.
    pub fn attribute(mut self, kv: KeyValue) -> Self {
        self.attributes.push(kv);
        self
    }

    /// Adds attributes.
    pub fn attributes(mut self, kvs: impl IntoIterator<Item = KeyValue>) -> Self {
        self.attributes.extend(kvs);
        self
    }

    /// Sets the start time (epoch nanoseconds; default now).
    pub fn start_time(mut self, t: u64) -> Self {
        self.start_time = Some(t);
        self
    }

    /// Sets an explicit parent.
    pub fn parent(mut self, cx: SpanContext) -> Self {
        self.parent = Parent::Explicit(cx);
        self
    }

    /// Chooses the parent.
    pub fn parent_choice(mut self, p: Parent) -> Self {
        self.parent = p;
        self
    }

    /// Makes the span the root of a new trace.
    pub fn root(mut self) -> Self {
        self.parent = Parent::Root;
        self
    }

    /// Adds a link.
    pub fn link(mut self, cx: SpanContext, attributes: Vec<KeyValue>) -> Self {
        self.links.push((cx, attributes));
        self
    }

    /// Starts the span.
    pub fn start(self) -> Span {
        let tracer = self.tracer.clone();
        let links = self.links;
        let mut span = tracer.start_with(self.name, self.kind, self.attributes, self.start_time, self.parent);
        if let Some(d) = span.rec.as_deref_mut() {
            let l = tracer.limits();
            for (cx, attrs) in links {
                push_link(d, l, cx, attrs);
            }
        }
        span
    }
}
