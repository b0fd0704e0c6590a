//! `CanopyLayer` (feature `tracing`): `tracing` spans and events recorded as Canopy spans, run
//! natively with an in-memory processor. The browser side (fetches inside `#[instrument]`) is in
//! `tests/web/tracing_layer.rs`.
#![cfg(feature = "tracing")]

mod common;

use canopy_web::attribute::Value;
use canopy_web::context::current;
use canopy_web::export::InMemoryProcessor;
use canopy_web::tracing::CanopyLayer;
use canopy_web::{Config, InSpan, KeyValue, SpanData, SpanKind, Status, Tracer};
use common::{YieldOnce, by_name};
use std::future::Future;
use std::pin::pin;
use std::rc::Rc;
use std::task::{Context, Waker};
use tracing::{Instrument, error, info, info_span, instrument, warn};
use tracing_subscriber::layer::SubscriberExt;

fn run(f: impl FnOnce(&Tracer)) -> Vec<SpanData> {
    let spans = Rc::new(InMemoryProcessor::default());
    let tracer = Tracer::new(&Config::new("test"), [9; 32], spans.clone());
    let subscriber = tracing_subscriber::registry().with(CanopyLayer::with_tracer(&tracer));
    tracing::subscriber::with_default(subscriber, || f(&tracer));
    assert_eq!(current(), None, "nothing left current");
    spans.take()
}

fn attr<'a>(attrs: &'a [KeyValue], key: &str) -> Option<&'a Value> {
    attrs.iter().find(|kv| kv.key == key).map(|kv| &kv.value)
}

fn s(v: &str) -> Value {
    Value::String(v.to_string().into())
}

#[test]
fn spans_nest_with_fields_level_and_target_as_attributes() {
    let spans = run(|_| {
        let load = info_span!("loadData", feed = "home", page = 2u64, fresh = true);
        let _in_load = load.enter();
        let fetch = info_span!("fetchData", items = tracing::field::Empty);
        fetch.record("items", 3i64);
        drop(fetch);
    });
    let (load, fetch) = (by_name(&spans, "loadData"), by_name(&spans, "fetchData"));
    assert!(!load.parent_span_id.is_valid(), "a root");
    assert_eq!(fetch.parent_span_id, load.span_context.span_id);
    assert_eq!(fetch.span_context.trace_id, load.span_context.trace_id);
    assert_eq!(attr(&load.attributes, "feed"), Some(&s("home")));
    assert_eq!(attr(&load.attributes, "page"), Some(&Value::I64(2)));
    assert_eq!(attr(&load.attributes, "fresh"), Some(&Value::Bool(true)));
    assert_eq!(attr(&load.attributes, "level"), Some(&s("INFO")));
    assert_eq!(attr(&load.attributes, "code.namespace"), Some(&s("tracing_layer")));
    assert!(
        matches!(attr(&load.attributes, "code.filepath"), Some(Value::String(f)) if f.ends_with("tracing_layer.rs"))
    );
    assert!(matches!(attr(&load.attributes, "code.lineno"), Some(Value::I64(_))));
    assert_eq!(attr(&fetch.attributes, "items"), Some(&Value::I64(3)), "recorded after creation");
    assert_eq!(load.kind, SpanKind::Internal);
}

#[test]
fn explicit_parents_roots_and_otel_fields() {
    let spans = run(|_| {
        let a = info_span!("a");
        let _in_a = a.enter();
        let b = info_span!("b");
        let under_b = info_span!(parent: &b, "under-b");
        let root = info_span!(parent: None, "new-root");
        let named = info_span!("renamed-at-the-callsite", otel.name = "GET /api", otel.kind = "client");
        drop((under_b, root, named, b));
    });
    let (a, b) = (by_name(&spans, "a"), by_name(&spans, "b"));
    assert_eq!(b.parent_span_id, a.span_context.span_id);
    assert_eq!(by_name(&spans, "under-b").parent_span_id, b.span_context.span_id);
    let root = by_name(&spans, "new-root");
    assert!(!root.parent_span_id.is_valid());
    assert_ne!(root.span_context.trace_id, a.span_context.trace_id);
    let named = by_name(&spans, "GET /api");
    assert_eq!(named.kind, SpanKind::Client);
    assert_eq!(named.parent_span_id, a.span_context.span_id);
}

#[test]
fn events_become_span_events_and_errors_exceptions() {
    let spans = run(|_| {
        let load = info_span!("load");
        let _in_load = load.enter();
        info!(items = 3, "loaded");
        warn!(error = %"connection reset", "retrying");
        let other = info_span!("other");
        other.in_scope(|| error!(status = 500, "backend failed"));
        info_span!("failed-span", error = %"quota exceeded").in_scope(|| {});
    });
    assert!(spans.iter().all(|s| s.events.iter().all(|e| e.time > 0)));
    let load = by_name(&spans, "load");
    assert_eq!(load.events.len(), 2);
    let loaded = &load.events[0];
    assert_eq!(loaded.name, "loaded");
    assert_eq!(attr(&loaded.attributes, "items"), Some(&Value::I64(3)));
    assert_eq!(attr(&loaded.attributes, "level"), Some(&s("INFO")));
    assert_eq!(attr(&loaded.attributes, "code.namespace"), Some(&s("tracing_layer")));
    let retry = &load.events[1];
    assert_eq!(retry.name, "exception", "an error field is an exception");
    assert_eq!(attr(&retry.attributes, "exception.message"), Some(&s("connection reset")));
    assert_eq!(attr(&retry.attributes, "message"), Some(&s("retrying")));
    assert_eq!(attr(&retry.attributes, "level"), Some(&s("WARN")));
    assert_eq!(load.status, Status::Error("connection reset".into()));

    let other = by_name(&spans, "other");
    assert_eq!(other.events[0].name, "exception", "an ERROR event is an exception");
    assert_eq!(attr(&other.events[0].attributes, "exception.message"), Some(&s("backend failed")));
    assert_eq!(attr(&other.events[0].attributes, "status"), Some(&Value::I64(500)));
    assert_eq!(other.status, Status::Error("backend failed".into()));

    let failed = by_name(&spans, "failed-span");
    assert_eq!(failed.events[0].name, "exception", "an error field on a span");
    assert_eq!(failed.status, Status::Error("quota exceeded".into()));
}

#[test]
fn events_outside_spans_are_dropped() {
    let spans = run(|_| info!("nobody's"));
    assert!(spans.is_empty());
}

#[test]
fn an_entered_span_is_canopys_current_span() {
    let spans = run(|tracer| {
        let load = info_span!("load");
        load.in_scope(|| {
            assert!(current().is_some());
            drop(tracer.start("canopy-child"));
        });
        assert_eq!(current(), None, "taken off on exit");
        // Canopy's own current span is the parent of a tracing span started inside it.
        let outer = tracer.start("canopy-outer");
        outer.in_scope(|| drop(info_span!("tracing-inside-canopy")));
    });
    assert_eq!(by_name(&spans, "canopy-child").parent_span_id, by_name(&spans, "load").span_context.span_id);
    assert_eq!(
        by_name(&spans, "tracing-inside-canopy").parent_span_id,
        by_name(&spans, "canopy-outer").span_context.span_id
    );
}

#[instrument(skip(tracer))]
async fn load_feed(tracer: Tracer, feed: &'static str) {
    YieldOnce(false).await;
    drop(tracer.start(format!("{feed}-fetch"))); // a fetch made here would be this span's child
    YieldOnce(false).await;
    info!("processed");
    process(feed).await;
}

#[instrument]
async fn process(feed: &'static str) {
    YieldOnce(false).await;
}

#[test]
fn instrument_on_async_fns_keeps_the_tree_across_awaits_of_interleaved_futures() {
    let spans = run(|tracer| {
        let mut home = pin!(load_feed(tracer.clone(), "home"));
        let mut notifications = pin!(load_feed(tracer.clone(), "notifications"));
        let mut cx = Context::from_waker(Waker::noop());
        let (mut a, mut b) = (false, false);
        while !(a && b) {
            a = a || home.as_mut().poll(&mut cx).is_ready();
            assert_eq!(current(), None, "nothing current between polls");
            b = b || notifications.as_mut().poll(&mut cx).is_ready();
            assert_eq!(current(), None);
        }
    });
    let loads: Vec<&SpanData> = spans.iter().filter(|s| s.name == "load_feed").collect();
    assert_eq!(loads.len(), 2);
    for feed in ["home", "notifications"] {
        let load = loads.iter().find(|l| attr(&l.attributes, "feed") == Some(&s(feed))).expect("feed field");
        let fetch = by_name(&spans, &format!("{feed}-fetch"));
        assert_eq!(fetch.parent_span_id, load.span_context.span_id, "{feed}'s fetch");
        assert_eq!(load.events[0].name, "processed");
        let process = spans
            .iter()
            .find(|s| s.name == "process" && s.parent_span_id == load.span_context.span_id)
            .expect("process under its own load_feed");
        assert_eq!(attr(&process.attributes, "feed"), Some(&s(feed)));
    }
}

#[test]
fn tracing_instrument_inside_canopy_in_span() {
    let spans = run(|tracer| {
        let page = tracer.start("page");
        // The tracing span is created during a poll of the Canopy-instrumented future.
        let f = async { YieldOnce(false).instrument(info_span!("step")).await }.in_span(&page);
        let mut f = pin!(f);
        while f.as_mut().poll(&mut Context::from_waker(Waker::noop())).is_pending() {}
    });
    assert_eq!(by_name(&spans, "step").parent_span_id, by_name(&spans, "page").span_context.span_id);
}
