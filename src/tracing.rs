//! A [`tracing`](https://docs.rs/tracing) layer: `tracing` spans and events become Canopy spans
//! and span events (cargo feature `tracing`).
//!
//! Add [`CanopyLayer`] to a `tracing_subscriber` registry, and code instrumented with
//! `#[instrument]`, `info_span!` and `info!` is traced to your backend like Canopy's own spans:
//!
//! - a `tracing` span starts a Canopy span when it is created and ends it when it closes. Its
//!   parent is its `tracing` parent's Canopy span; a span with no `tracing` parent gets the
//!   current Canopy span (one made current by [`Span::in_scope`], [`InSpan::in_span`] or an
//!   entered `tracing` span), else a new trace;
//! - while a `tracing` span is entered, its Canopy span is current: a fetch made inside it (the
//!   patched `fetch`, gloo-net, `web_sys`) is its child. `#[instrument]` on an `async fn` and
//!   `tracing::Instrument` enter the span on every poll, so this holds across `.await`;
//! - fields become attributes (also ones recorded later); the target becomes `code.namespace`,
//!   the level `level`, and the callsite `code.filepath` and `code.lineno`. The fields
//!   `otel.name` and `otel.kind` (`"client"`, `"server"`, `"producer"`, `"consumer"`,
//!   `"internal"`) rename the span and set its kind;
//! - an event becomes a span event of its span, named by its message, with its fields as
//!   attributes. An `ERROR` event, or any event or span with an `error` field, is recorded as
//!   [`Span::record_failure`] does: an `exception` event whose `exception.message` is the error
//!   (else the message), and an error status. Events outside every `tracing` span are dropped.
//!
//! ```
//! use canopy_web::tracing::CanopyLayer;
//! use tracing_subscriber::layer::SubscriberExt;
//! # use canopy_web::{Config, Tracer, export::InMemoryProcessor};
//! # use std::rc::Rc;
//! # let spans = Rc::new(InMemoryProcessor::default());
//! # let tracer = Tracer::new(&Config::new("frontend"), [7; 32], spans.clone());
//!
//! // In the browser: canopy_web::init(...)?; and CanopyLayer::new() (it uses canopy_web::tracer()).
//! let subscriber = tracing_subscriber::registry().with(CanopyLayer::with_tracer(&tracer));
//! tracing::subscriber::with_default(subscriber, || {
//!     let load = tracing::info_span!("loadData", feed = "home");
//!     let _entered = load.enter();
//!     tracing::info!(items = 3, "loaded");
//! });
//! # let ended = spans.take();
//! # assert_eq!(ended[0].name, "loadData");
//! # assert_eq!(ended[0].events[0].name, "loaded");
//! ```
//!
//! In the browser, install it once at startup, after `canopy_web::init` (this block is
//! type-checked for wasm32 in `tests/readme.rs`, as the README shows it):
//!
//! ```ignore
//! use tracing_subscriber::layer::SubscriberExt;
//! let tracer = canopy_web::init(canopy_web::Config::new("frontend"))?;
//! tracing::subscriber::set_global_default(tracing_subscriber::registry().with(CanopyLayer::new()))?;
//! ```
//!
//! A layer built with [`CanopyLayer::with_tracer`] records on the thread that built it (the
//! only one in a browser); a span started on another thread is not recorded there.
//!
//! [`InSpan::in_span`]: crate::InSpan::in_span

#[allow(unused_imports)]
use crate::prelude::*;

use crate::attribute::{KeyValue, Str, Value};
use crate::span::{Parent, Span};
use crate::span_context::SpanContext;
use crate::span_data::{SpanKind, Status};
use crate::tracer::Tracer;
use alloc::collections::BTreeMap;
use core::cell::RefCell;
use core::fmt;
use core::sync::atomic::{AtomicU64, Ordering};
use tracing_core::field::{Field, Visit};
use tracing_core::span::{Attributes, Id, Record};
use tracing_core::{Event, Level, Metadata, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::{LookupSpan, SpanRef};

/// A `tracing_subscriber` [`Layer`] that records `tracing` spans and events with Canopy.
///
/// See [the module](self) for what it records and how.
#[derive(Debug)]
pub struct CanopyLayer {
    /// The key of the tracer in `TRACERS`, or `None` for the running SDK's tracer.
    tracer: Option<u64>,
}

/// Keys for the per-thread tables below, unique in the process.
static NEXT_KEY: AtomicU64 = AtomicU64::new(1);

fn next_key() -> u64 {
    NEXT_KEY.fetch_add(1, Ordering::Relaxed)
}

/// A Canopy span started for a `tracing` span, and the context stack depths of its entries.
struct Live {
    span: Span,
    entered: Vec<usize>,
}

local! {
    /// The Canopy spans of open `tracing` spans, by [`CanopyKey`]. The handle is not `Send`, so
    /// it stays on its thread and the `tracing` span's extensions hold only its key.
    static LIVE: RefCell<BTreeMap<u64, Live>> = RefCell::new(BTreeMap::new());
}
local! {
    /// The tracers of layers built with [`CanopyLayer::with_tracer`].
    static TRACERS: RefCell<BTreeMap<u64, Tracer>> = RefCell::new(BTreeMap::new());
}

/// Stored in a `tracing` span's extensions: the key of its Canopy span in `LIVE`.
#[derive(Clone, Copy)]
struct CanopyKey(u64);

#[cfg(target_arch = "wasm32")]
impl CanopyLayer {
    /// A layer that records with the running SDK's tracer ([`crate::tracer()`]): nothing before
    /// [`init`](crate::init) and after `shutdown`.
    pub fn new() -> Self {
        CanopyLayer { tracer: None }
    }
}

#[cfg(target_arch = "wasm32")]
impl Default for CanopyLayer {
    fn default() -> Self {
        CanopyLayer::new()
    }
}

impl CanopyLayer {
    /// A layer that records with `tracer` (used on the thread that calls this).
    pub fn with_tracer(tracer: &Tracer) -> Self {
        let key = next_key();
        TRACERS.with(|t| t.borrow_mut().insert(key, tracer.clone()));
        CanopyLayer { tracer: Some(key) }
    }

    fn tracer(&self) -> Option<Tracer> {
        match self.tracer {
            Some(key) => TRACERS.with(|t| t.borrow().get(&key).cloned()),
            #[cfg(target_arch = "wasm32")]
            None => Some(crate::web::tracer()),
            #[cfg(not(target_arch = "wasm32"))]
            None => None,
        }
    }
}

impl Drop for CanopyLayer {
    fn drop(&mut self) {
        if let Some(key) = self.tracer {
            // The table may be gone already when a thread-local subscriber drops at thread exit.
            let tracer = TRACERS.try_with(|t| t.try_borrow_mut().ok().and_then(|mut t| t.remove(&key)));
            drop(tracer);
        }
    }
}

/// The key of the Canopy span of `span`, or of its nearest ancestor that has one.
fn key_in_scope<'a, S: LookupSpan<'a>>(span: SpanRef<'a, S>) -> Option<u64> {
    span.scope().find_map(|s| s.extensions().get::<CanopyKey>().map(|k| k.0))
}

fn key_of<S: Subscriber + for<'a> LookupSpan<'a>>(id: &Id, ctx: &Context<'_, S>) -> Option<u64> {
    ctx.span(id)?.extensions().get::<CanopyKey>().map(|k| k.0)
}

fn with_live<R>(key: u64, f: impl FnOnce(&mut Live) -> R) -> Option<R> {
    LIVE.with(|l| l.try_borrow_mut().ok()?.get_mut(&key).map(f))
}

fn context_of(key: u64) -> Option<SpanContext> {
    with_live(key, |l| l.span.span_context().clone())
}

/// A field's value as text, for the fields that are read as text.
fn text(value: &dyn fmt::Debug) -> String {
    format!("{value:?}")
}

/// What a span's or event's fields say.
#[derive(Default)]
struct Fields {
    attributes: Vec<KeyValue>,
    message: Option<String>,
    error: Option<String>,
    name: Option<String>,
    kind: Option<SpanKind>,
}

impl Fields {
    fn value(&mut self, field: &Field, value: Value) {
        match (field.name(), value) {
            ("message", Value::String(s)) => self.message = Some(s.into_owned()),
            ("error", Value::String(s)) => self.error = Some(s.into_owned()),
            ("otel.name", Value::String(s)) => self.name = Some(s.into_owned()),
            ("otel.kind", Value::String(s)) => self.kind = span_kind(&s),
            (name, value) => self.attributes.push(KeyValue::new(name, value)),
        }
    }
}

fn span_kind(s: &str) -> Option<SpanKind> {
    Some(match s {
        "client" => SpanKind::Client,
        "server" => SpanKind::Server,
        "producer" => SpanKind::Producer,
        "consumer" => SpanKind::Consumer,
        "internal" => SpanKind::Internal,
        _ => return None,
    })
}

impl Visit for Fields {
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.value(field, Value::F64(value));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.value(field, Value::I64(value));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        let v = i64::try_from(value).map_or_else(|_| Value::String(value.to_string().into()), Value::I64);
        self.value(field, v);
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.value(field, Value::Bool(value));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.value(field, Value::String(Str::Owned(value.to_owned())));
    }

    fn record_error(&mut self, field: &Field, value: &(dyn core::error::Error + 'static)) {
        self.value(field, Value::String(Str::Owned(value.to_string())));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.value(field, Value::String(Str::Owned(text(value))));
    }
}

/// `code.namespace`, `code.filepath`, `code.lineno` and `level` of a callsite.
fn callsite_attributes(meta: &'static Metadata<'static>, out: &mut Vec<KeyValue>) {
    out.push(KeyValue::new("level", meta.level().as_str()));
    out.push(KeyValue::new("code.namespace", meta.target()));
    if let Some(file) = meta.file() {
        out.push(KeyValue::new("code.filepath", file));
    }
    if let Some(line) = meta.line() {
        out.push(KeyValue::new("code.lineno", line));
    }
}

/// Records `message` as a failure of `span`: an `exception` event (with `attributes` too) and
/// an error status, as [`Span::record_failure`] does.
fn record_failure(span: &mut Span, message: String, mut attributes: Vec<KeyValue>) {
    attributes.insert(0, KeyValue::new("exception.message", message.clone()));
    span.add_event("exception", attributes);
    span.set_status(Status::Error(message.into()));
}

impl<S> Layer<S> for CanopyLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let Some(tracer) = self.tracer() else { return };
        let Some(span_ref) = ctx.span(id) else { return };
        // An entered `tracing` span's Canopy span is the current one, so a contextual span's
        // parent is simply the current span (which may also be a Canopy span made current
        // inside it).
        let parent = match attrs.parent() {
            _ if attrs.is_contextual() => Parent::Current,
            Some(p) => {
                let cx = ctx.span(p).and_then(key_in_scope).and_then(context_of);
                cx.map_or(Parent::Current, Parent::Explicit)
            }
            None => Parent::Root,
        };
        let mut fields = Fields::default();
        attrs.record(&mut fields);
        let meta = attrs.metadata();
        callsite_attributes(meta, &mut fields.attributes);
        let name = fields.name.map_or(Str::Borrowed(meta.name()), Str::Owned);
        let mut span = tracer
            .span(name)
            .kind(fields.kind.unwrap_or(SpanKind::Internal))
            .attributes(fields.attributes)
            .parent_choice(parent)
            .start();
        if let Some(error) = fields.error {
            record_failure(&mut span, error, Vec::new());
        }
        let key = next_key();
        LIVE.with(|l| l.borrow_mut().insert(key, Live { span, entered: Vec::new() }));
        span_ref.extensions_mut().insert(CanopyKey(key));
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let Some(key) = key_of(id, &ctx) else { return };
        let mut fields = Fields::default();
        values.record(&mut fields);
        with_live(key, |l| {
            l.span.set_attributes(fields.attributes);
            if let Some(name) = fields.name {
                l.span.update_name(name);
            }
            if let Some(error) = fields.error {
                record_failure(&mut l.span, error, Vec::new());
            }
        });
    }

    fn on_follows_from(&self, id: &Id, follows: &Id, ctx: Context<'_, S>) {
        let (Some(key), Some(other)) = (key_of(id, &ctx), key_of(follows, &ctx)) else { return };
        if let Some(cx) = context_of(other) {
            with_live(key, |l| l.span.add_link(cx, Vec::new()));
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let Some(key) = ctx.event_span(event).and_then(key_in_scope) else { return };
        let mut fields = Fields::default();
        event.record(&mut fields);
        let meta = event.metadata();
        callsite_attributes(meta, &mut fields.attributes);
        let failure = fields.error.is_some() || *meta.level() == Level::ERROR;
        with_live(key, |l| {
            if failure {
                let message = match (fields.error, fields.message) {
                    (Some(error), Some(message)) => {
                        fields.attributes.push(KeyValue::new("message", message));
                        error
                    }
                    (Some(text), None) | (None, Some(text)) => text,
                    (None, None) => String::from(meta.name()),
                };
                record_failure(&mut l.span, message, fields.attributes);
            } else {
                let name = fields.message.map_or(Str::Borrowed(meta.name()), Str::Owned);
                l.span.add_event(name, fields.attributes);
            }
        });
    }

    fn on_enter(&self, id: &Id, ctx: Context<'_, S>) {
        let Some(key) = key_of(id, &ctx) else { return };
        if let Some(cx) = context_of(key) {
            let depth = crate::context::push_guarded(cx);
            with_live(key, |l| l.entered.push(depth));
        }
    }

    fn on_exit(&self, id: &Id, ctx: Context<'_, S>) {
        let Some(key) = key_of(id, &ctx) else { return };
        if let Some(Some(depth)) = with_live(key, |l| l.entered.pop()) {
            crate::context::truncate(depth);
        }
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        let Some(key) = key_of(&id, &ctx) else { return };
        let live = LIVE.with(|l| l.try_borrow_mut().ok().and_then(|mut l| l.remove(&key)));
        if let Some(live) = live {
            if let Some(&depth) = live.entered.first() {
                crate::context::truncate(depth);
            }
            drop(live.span); // ends it, outside the table's borrow
        }
    }
}
