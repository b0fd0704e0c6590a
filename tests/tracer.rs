//! Native tests of the span model: parents, sampling, limits, status, RAII.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use canopy_web::attribute::Value;
use canopy_web::config::SpanLimits;
use canopy_web::export::InMemoryProcessor;
use canopy_web::propagation::{TraceState, parse_traceparent};
use canopy_web::{Config, KeyValue, SpanId, SpanKind, Status, TraceFlags, Tracer};
use common::by_name;
use std::rc::Rc;

fn setup(config: Config) -> (Tracer, Rc<InMemoryProcessor>) {
    let mem = Rc::new(InMemoryProcessor::default());
    (Tracer::new(&config, [9; 32], mem.clone()), mem)
}

#[test]
fn seed_scenario_load_fetch_process() {
    // The seed's loadData -> fetchData, then (after an await) processData, as Rust code writes it.
    let (t, mem) = setup(Config::new("frontend"));
    let load = t.start("loadData");
    {
        let _fetch = load.child_builder("fetchData").kind(SpanKind::Client).start();
    }
    let process = load.child("processData");
    drop(process);
    drop(load);
    let spans = mem.take();
    assert_eq!(spans.len(), 3);
    let load = by_name(&spans, "loadData");
    for child in ["fetchData", "processData"] {
        let c = by_name(&spans, child);
        assert_eq!(c.parent_span_id, load.span_context.span_id, "{child} is a child of loadData");
        assert_eq!(c.span_context.trace_id, load.span_context.trace_id);
    }
    assert!(!load.parent_span_id.is_valid(), "loadData is a root");
    assert_eq!(by_name(&spans, "fetchData").kind, SpanKind::Client);
}

#[test]
fn in_span_makes_current_only_inside() {
    let (t, mem) = setup(Config::new("svc"));
    t.in_span("outer", |_outer| {
        t.in_span("inner", |_inner| {
            drop(t.start("leaf"));
        });
        drop(t.start("sibling"));
    });
    drop(t.start("after"));
    let s = mem.take();
    let outer = by_name(&s, "outer");
    let inner = by_name(&s, "inner");
    assert_eq!(inner.parent_span_id, outer.span_context.span_id);
    assert_eq!(by_name(&s, "leaf").parent_span_id, inner.span_context.span_id);
    assert_eq!(by_name(&s, "sibling").parent_span_id, outer.span_context.span_id);
    let after = by_name(&s, "after");
    assert!(!after.parent_span_id.is_valid(), "nothing stays current after the callback");
    assert_ne!(after.span_context.trace_id, outer.span_context.trace_id);
}

#[test]
fn root_and_explicit_parent_options() {
    let (t, mem) = setup(Config::new("svc"));
    let a = t.start("a");
    let cx = a.span_context().clone();
    t.in_span("current", |_| {
        drop(t.span("forced-root").root().start());
        drop(t.span("explicit").parent(cx.clone()).start());
    });
    drop(a);
    let s = mem.take();
    assert!(!by_name(&s, "forced-root").parent_span_id.is_valid());
    assert_eq!(by_name(&s, "explicit").parent_span_id, cx.span_id);
}

#[test]
fn unsampled_spans_propagate_but_are_not_exported() {
    let (t, mem) = setup(Config::new("svc").with_sample_rate(0.0));
    let root = t.start("root");
    assert!(!root.is_recording());
    assert!(!root.span_context().is_sampled());
    assert!(root.span_context().is_valid(), "ids still exist for traceparent flags 00");
    let child = root.child("child");
    assert_eq!(child.span_context().trace_id, root.span_context().trace_id);
    assert!(!child.span_context().is_sampled());
    drop(child);
    drop(root);
    assert!(mem.take().is_empty());
}

#[test]
fn remote_parent_decides_sampling_and_keeps_tracestate() {
    let (t, mem) = setup(Config::new("svc").with_sample_rate(0.0));
    let mut remote = parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01").unwrap();
    remote.trace_state = TraceState::parse("rojo=00f067aa0ba902b7").unwrap();
    let s = t.span("joined").parent(remote.clone()).start();
    assert!(s.is_recording(), "a sampled remote parent wins over rate 0");
    assert_eq!(s.span_context().trace_state, remote.trace_state);
    drop(s);
    let spans = mem.take();
    assert_eq!(spans[0].span_context.trace_id, remote.trace_id);
    assert_eq!(spans[0].parent_span_id, remote.span_id);
    assert!(spans[0].parent_is_remote);
}

#[test]
fn document_parent_joins_first_roots_then_closes() {
    let (t, mem) = setup(Config::new("svc"));
    let remote = parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01").unwrap();
    t.set_document_parent(Some(remote.clone()));
    drop(t.start("during-load-1"));
    drop(t.start("during-load-2"));
    t.close_document_parent();
    drop(t.start("after-load"));
    let s = mem.take();
    assert_eq!(by_name(&s, "during-load-1").parent_span_id, remote.span_id);
    assert_eq!(by_name(&s, "during-load-2").parent_span_id, remote.span_id);
    assert!(!by_name(&s, "after-load").parent_span_id.is_valid());

    // Closed before any root span: the first one still joins.
    t.set_document_parent(Some(remote.clone()));
    t.close_document_parent();
    drop(t.start("first"));
    drop(t.start("second"));
    let s = mem.take();
    assert_eq!(by_name(&s, "first").parent_span_id, remote.span_id);
    assert!(!by_name(&s, "second").parent_span_id.is_valid());

    // Replayed with their own start times (spans recorded before the .wasm was ready): those
    // that started before the load event join, whenever they are replayed; later ones do not.
    t.set_document_parent(Some(remote.clone()));
    t.close_document_parent_at(2_000);
    drop(t.span("recorded-early-1").start_time(1_000).start());
    drop(t.span("recorded-early-2").start_time(1_500).start());
    drop(t.span("recorded-late").start_time(3_000).start());
    let s = mem.take();
    assert_eq!(by_name(&s, "recorded-early-1").parent_span_id, remote.span_id);
    assert_eq!(by_name(&s, "recorded-early-2").parent_span_id, remote.span_id);
    assert!(!by_name(&s, "recorded-late").parent_span_id.is_valid(), "after the load, and one already joined");
}

#[test]
fn limits_apply_silently_with_counts() {
    let mut c = Config::new("svc");
    c.limits = SpanLimits {
        attribute_count_limit: 2,
        attribute_value_length_limit: Some(4),
        event_count_limit: 1,
        link_count_limit: 1,
        event_attribute_count_limit: 1,
        link_attribute_count_limit: 1,
    };
    let (t, mem) = setup(c);
    let other = t.start("other");
    let ocx = other.span_context().clone();
    drop(other);
    let mut s = t
        .span("s")
        .link(ocx.clone(), vec![KeyValue::new("a", 1i64), KeyValue::new("b", 2i64)])
        .link(ocx, vec![])
        .start();
    s.set_attribute(KeyValue::new("k1", "abcdefgh"));
    s.set_attribute(KeyValue::new("k2", true));
    s.set_attribute(KeyValue::new("k3", 3i64));
    s.set_attribute(KeyValue::new("k1", "xy"));
    s.add_event("e1", vec![KeyValue::new("x", 1i64), KeyValue::new("y", 2i64)]);
    s.add_event("e2", vec![]);
    drop(s);
    let spans = mem.take();
    let d = by_name(&spans, "s");
    assert_eq!(d.attributes, vec![KeyValue::new("k1", "xy"), KeyValue::new("k2", true)]);
    assert_eq!(d.dropped_attributes_count, 1);
    assert_eq!(d.events.len(), 1);
    assert_eq!(d.events[0].dropped_attributes_count, 1);
    assert_eq!(d.dropped_events_count, 1);
    assert_eq!(d.links.len(), 1);
    assert_eq!(d.links[0].dropped_attributes_count, 1);
    assert_eq!(d.dropped_links_count, 1);

    let (t, mem) = setup({
        let mut c = Config::new("svc");
        c.limits.attribute_value_length_limit = Some(4);
        c
    });
    let mut s = t.start("len");
    s.set_attribute(KeyValue::new("k", "abcdefgh"));
    drop(s);
    assert_eq!(mem.take()[0].attributes[0].value, Value::String("abcd".into()));
}

#[test]
fn default_limits_are_the_spec_defaults() {
    let (t, mem) = setup(Config::new("svc"));
    let mut s = t.start("many");
    for i in 0..200i64 {
        s.set_attribute(KeyValue::new(format!("k{i}"), i));
        s.add_event("e", vec![]);
    }
    drop(s);
    let d = &mem.take()[0];
    assert_eq!((d.attributes.len(), d.dropped_attributes_count), (128, 72));
    assert_eq!((d.events.len(), d.dropped_events_count), (128, 72));
}

#[test]
fn status_rules_and_exceptions() {
    let (t, mem) = setup(Config::new("svc"));
    let mut s = t.start("s");
    s.set_status(Status::Error("bad".into()));
    s.set_status(Status::Unset);
    drop(s);
    let mut ok = t.start("ok");
    ok.set_status(Status::Ok);
    ok.set_status(Status::Error("later".into()));
    ok.record_exception(Some("TypeError".into()), Some("x is undefined".into()), Some("at f".into()), None);
    drop(ok);
    let spans = mem.take();
    assert_eq!(by_name(&spans, "s").status, Status::Error("bad".into()), "Unset does not clear an error");
    let ok = by_name(&spans, "ok");
    assert_eq!(ok.status, Status::Ok, "Ok is final");
    assert_eq!(ok.events[0].name, "exception");
    let keys: Vec<&str> = ok.events[0].attributes.iter().map(|a| a.key.as_ref()).collect();
    assert_eq!(keys, ["exception.type", "exception.message", "exception.stacktrace"]);
}

#[test]
fn end_is_idempotent_times_clamp_and_ended_spans_stop_recording() {
    let (t, mem) = setup(Config::new("svc"));
    let mut s = t.span("s").start_time(2_000).start();
    s.end_at(1_000);
    assert!(!s.is_recording());
    s.set_attribute(KeyValue::new("late", true));
    s.end();
    drop(s);
    let spans = mem.take();
    assert_eq!(spans.len(), 1, "ended once");
    assert_eq!(spans[0].end_time, 2_000, "an end before the start is clamped");
    assert!(spans[0].attributes.is_empty());
}

#[test]
fn discarded_and_noop_spans_export_nothing() {
    let (t, mem) = setup(Config::new("svc"));
    let mut s = t.start("gc'd");
    s.discard();
    drop(s);
    t.disable();
    drop(t.start("after-shutdown"));
    assert!(mem.take().is_empty());
    let noop = Tracer::noop();
    let s = noop.start("x");
    assert!(s.span_context().is_valid() && !s.is_recording());
}

#[test]
fn ids_are_fresh_and_flags_are_01() {
    let (t, mem) = setup(Config::new("svc"));
    let a = t.start("a");
    let b = t.start("b");
    assert_ne!(a.span_context().trace_id, b.span_context().trace_id);
    assert_ne!(a.span_context().span_id, b.span_context().span_id);
    assert_eq!(a.span_context().trace_flags, TraceFlags::SAMPLED, "flags 01, as OpenTelemetry SDKs send");
    assert_ne!(a.span_context().span_id, SpanId::INVALID);
    drop((a, b));
    assert_eq!(mem.take().len(), 2);
}

#[test]
fn xray_trace_ids_start_with_the_epoch_seconds() {
    let (t, mem) = setup(Config::new("svc").with_xray(true));
    let before = (canopy_web::time::now() / 1_000_000_000) as u32;
    drop(t.start("root"));
    let after = (canopy_web::time::now() / 1_000_000_000) as u32;
    let s = mem.take();
    let secs = u32::from_be_bytes(s[0].span_context.trace_id.0[..4].try_into().unwrap());
    assert!((before..=after).contains(&secs), "{secs} within {before}..={after}");
    // A child keeps its parent's trace id; without `xray` ids are random from the first byte.
    let (plain, mem) = setup(Config::new("svc"));
    let ids: Vec<u32> = (0..8)
        .map(|_| {
            drop(plain.start("r"));
            u32::from_be_bytes(mem.take()[0].span_context.trace_id.0[..4].try_into().unwrap())
        })
        .collect();
    assert!(ids.iter().any(|s| !(before..=after).contains(s)), "random ids are not epoch seconds");
}
