//! The local viewer's memory: recent traces, bounded in bytes as well as by trace and span count.
//!
//! Traces are ordered by when they last received a span; past any bound the least recently
//! updated go first. One trace holds at most `max_trace_bytes`: spans beyond are not kept (the
//! count is in `/metrics`). Sizes are estimates of the memory a span takes (its strings, its
//! attribute values, and a fixed overhead), so the bound holds whatever the spans carry. A span
//! sent twice (a client retry) is kept once.
//!
//! A trace also keeps the log records that carry its id, within the same byte bounds (a retried
//! record, same span, time, severity and body, is kept once). A trace with records but no span
//! yet is not listed.

use crate::view::{LogView, SpanView, TraceSummary};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Arc;
use std::sync::Mutex;

/// Bytes counted for a span on top of its strings: the struct, its id in the dedup set, the
/// vectors' headers.
const SPAN_OVERHEAD: usize = 400;
/// Bytes counted for one attribute on top of its key and value.
const ATTR_OVERHEAD: usize = 64;

/// The store's bounds.
#[derive(Clone, Copy, Debug)]
pub struct StoreLimits {
    pub max_traces: usize,
    pub max_spans: usize,
    pub max_bytes: usize,
    pub max_trace_bytes: usize,
}

/// What the store holds and has let go, for `/metrics`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StoreStats {
    pub traces: usize,
    pub spans: usize,
    pub bytes: usize,
    pub evicted_traces: u64,
    pub skipped_spans: u64,
    pub skipped_logs: u64,
}

#[derive(Debug)]
pub struct Store {
    limits: StoreLimits,
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    traces: HashMap<String, Trace>,
    /// Last update → trace id.
    order: BTreeMap<u64, String>,
    next: u64,
    spans: usize,
    bytes: usize,
    evicted_traces: u64,
    skipped_spans: u64,
    skipped_logs: u64,
}

#[derive(Debug, Default)]
struct Trace {
    updated: u64,
    ids: HashSet<String>,
    spans: Vec<SpanView>,
    bytes: usize,
    /// The last resource counted (spans of one request share it; each is counted once).
    resource: Option<Arc<Vec<crate::view::Attr>>>,
    logs: Vec<LogView>,
    /// Hashes of the records kept (span, time, severity, body), against retries.
    log_keys: HashSet<u64>,
}

impl Store {
    pub fn new(limits: StoreLimits) -> Store {
        Store { limits, inner: Mutex::default() }
    }

    /// Adds spans; returns how many were new.
    pub fn insert(&self, spans: Vec<SpanView>) -> usize {
        let l = self.limits;
        let mut guard = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let inner = &mut *guard;
        let mut added = 0;
        for span in spans {
            let trace = inner.touch(&span.trace_id);
            if trace.ids.contains(&span.span_id) {
                continue;
            }
            let new_resource = trace.resource.as_ref().is_none_or(|r| !Arc::ptr_eq(r, &span.resource));
            let size = span_bytes(&span) + if new_resource { attrs_bytes(&span.resource) } else { 0 };
            if trace.spans.len() >= l.max_spans || trace.bytes + size > l.max_trace_bytes.min(l.max_bytes) {
                inner.skipped_spans += 1;
                continue;
            }
            if new_resource {
                trace.resource = Some(span.resource.clone());
            }
            trace.ids.insert(span.span_id.clone());
            trace.spans.push(span);
            trace.bytes += size;
            inner.spans += 1;
            inner.bytes += size;
            added += 1;
        }
        inner.evict(&l);
        added
    }

    /// Adds log records to their traces; returns how many were new. A trace holds at most
    /// `max_spans` records, within its byte bound.
    pub fn insert_logs(&self, logs: Vec<LogView>) -> usize {
        let l = self.limits;
        let mut guard = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let inner = &mut *guard;
        let mut added = 0;
        for log in logs {
            let key = {
                let mut h = DefaultHasher::new();
                (&log.span_id, log.time_unix_nano, &log.severity, log.body.to_string()).hash(&mut h);
                h.finish()
            };
            let trace = inner.touch(&log.trace_id);
            if trace.log_keys.contains(&key) {
                continue;
            }
            let size = log_bytes(&log);
            if trace.logs.len() >= l.max_spans || trace.bytes + size > l.max_trace_bytes.min(l.max_bytes) {
                inner.skipped_logs += 1;
                continue;
            }
            trace.log_keys.insert(key);
            trace.logs.push(log);
            trace.bytes += size;
            inner.bytes += size;
            added += 1;
        }
        inner.evict(&l);
        added
    }

    pub fn stats(&self) -> StoreStats {
        let inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        StoreStats {
            traces: inner.traces.len(),
            spans: inner.spans,
            bytes: inner.bytes,
            evicted_traces: inner.evicted_traces,
            skipped_spans: inner.skipped_spans,
            skipped_logs: inner.skipped_logs,
        }
    }

    pub fn len(&self) -> usize {
        self.inner.lock().unwrap_or_else(|p| p.into_inner()).traces.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every trace with spans, most recently updated first.
    pub fn list(&self) -> Vec<TraceSummary> {
        let inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let traces = inner.order.values().rev().filter_map(|id| inner.traces.get(id));
        traces.filter(|t| !t.spans.is_empty()).map(|t| summary(t.spans.iter())).collect()
    }

    /// One trace's spans, by start time, and its log records, by time; `None` until it has spans.
    pub fn get(&self, trace_id: &str) -> Option<(Vec<SpanView>, Vec<LogView>)> {
        let inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let trace = inner.traces.get(trace_id).filter(|t| !t.spans.is_empty())?;
        let (mut spans, mut logs) = (trace.spans.clone(), trace.logs.clone());
        drop(inner);
        spans.sort_by_key(|s| s.start_time_unix_nano);
        logs.sort_by_key(|r| r.time_unix_nano);
        Some((spans, logs))
    }
}

impl Inner {
    /// The trace `id` (created if new), marked as the most recently updated.
    fn touch(&mut self, id: &str) -> &mut Trace {
        self.next += 1;
        let seq = self.next;
        let trace = self.traces.entry(id.to_owned()).or_default();
        if trace.updated != 0 {
            self.order.remove(&trace.updated);
        }
        trace.updated = seq;
        self.order.insert(seq, id.to_owned());
        trace
    }

    /// Drops the least recently updated traces until every bound holds.
    fn evict(&mut self, l: &StoreLimits) {
        while self.traces.len() > l.max_traces || self.spans > l.max_spans || self.bytes > l.max_bytes {
            let Some((_, id)) = self.order.pop_first() else { break };
            if let Some(t) = self.traces.remove(&id) {
                self.spans -= t.spans.len();
                self.bytes -= t.bytes;
                self.evicted_traces += 1;
            }
        }
    }
}

/// The memory one log record takes, estimated as for a span.
fn log_bytes(r: &LogView) -> usize {
    SPAN_OVERHEAD
        + r.trace_id.len()
        + r.span_id.len()
        + r.severity.len()
        + value_bytes(&r.body)
        + attrs_bytes(&r.attributes)
}

/// The memory one span takes, estimated: its strings, attributes, events and links, plus a
/// fixed overhead (its resource is counted apart, once per trace and request).
fn span_bytes(s: &SpanView) -> usize {
    let strings = s.trace_id.len() + s.span_id.len() + s.parent_span_id.len() + s.name.len() + s.status_message.len();
    let events: usize = s.events.iter().map(|e| ATTR_OVERHEAD + e.name.len() + attrs_bytes(&e.attributes)).sum();
    let links = s.links.len() * (ATTR_OVERHEAD + 48);
    SPAN_OVERHEAD + strings + attrs_bytes(&s.attributes) + events + links
}

fn attrs_bytes(attrs: &[crate::view::Attr]) -> usize {
    attrs.iter().map(|a| ATTR_OVERHEAD + a.key.len() + value_bytes(&a.value)).sum()
}

/// The memory a JSON value takes, estimated, walking it with an explicit stack.
fn value_bytes(v: &serde_json::Value) -> usize {
    use serde_json::Value as J;
    let mut total = 0;
    let mut stack = vec![v];
    while let Some(v) = stack.pop() {
        total += 32;
        match v {
            J::String(s) => total += s.len(),
            J::Array(a) => stack.extend(a.iter()),
            J::Object(o) => {
                for (k, v) in o {
                    total += 32 + k.len();
                    stack.push(v);
                }
            }
            J::Null | J::Bool(_) | J::Number(_) => {}
        }
    }
    total
}

/// The root (the earliest span whose parent is not in the trace), counts and extent.
pub fn summary<'a>(spans: impl Iterator<Item = &'a SpanView> + Clone) -> TraceSummary {
    let ids: HashSet<&str> = spans.clone().map(|s| s.span_id.as_str()).collect();
    // A span without a parent beats one whose parent is missing; then the earliest.
    let root = spans
        .clone()
        .filter(|s| !ids.contains(s.parent_span_id.as_str()))
        .min_by_key(|s| (!s.parent_span_id.is_empty(), s.start_time_unix_nano));
    // The extent leaves out spans without a start time (0 is "unknown" in OTLP).
    let timed = || spans.clone().filter(|s| s.start_time_unix_nano != 0);
    let start = timed().map(|s| s.start_time_unix_nano).min().unwrap_or(0);
    let end = timed().map(|s| s.end_time_unix_nano).max().unwrap_or(start);
    TraceSummary {
        trace_id: spans.clone().next().map(|s| s.trace_id.clone()).unwrap_or_default(),
        root_name: root.map(|s| s.name.clone()).unwrap_or_default(),
        service: root.map(|s| s.service.to_string()).unwrap_or_default(),
        span_count: spans.clone().count(),
        error_count: spans.clone().filter(|s| s.is_error()).count(),
        start_time_unix_nano: start,
        duration_ms: end.saturating_sub(start) as f64 / 1e6,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn span(trace: u8, id: u8, parent: Option<u8>, start: u64, end: u64) -> SpanView {
        SpanView {
            trace_id: format!("{trace:032x}"),
            span_id: format!("{id:016x}"),
            parent_span_id: parent.map(|p| format!("{p:016x}")).unwrap_or_default(),
            name: format!("s{id}"),
            kind: "internal",
            service: Arc::from("svc"),
            start_time_unix_nano: start,
            end_time_unix_nano: end,
            status: if id == 3 { "error" } else { "unset" },
            status_message: String::new(),
            attributes: vec![],
            events: vec![],
            links: vec![],
            resource: Arc::new(vec![]),
            scope: Arc::from(""),
        }
    }

    fn limits(max_traces: usize, max_spans: usize) -> StoreLimits {
        StoreLimits { max_traces, max_spans, max_bytes: usize::MAX, max_trace_bytes: usize::MAX }
    }

    #[test]
    fn summaries_and_dedup() {
        let store = Store::new(limits(10, 100));
        let spans = vec![
            span(1, 2, Some(1), 2_000_000, 3_000_000),
            span(1, 1, None, 1_000_000, 5_000_000),
            span(1, 3, Some(1), 4_000_000, 4_500_000),
        ];
        assert_eq!(store.insert(spans.clone()), 3);
        assert_eq!(store.insert(spans), 0, "a retry adds nothing");
        let list = store.list();
        assert_eq!(list.len(), 1);
        let t = &list[0];
        assert_eq!((t.root_name.as_str(), t.span_count, t.error_count, t.duration_ms), ("s1", 3, 1, 4.0));
        let (got, _) = store.get(&format!("{:032x}", 1)).unwrap();
        assert_eq!(got.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(), ["s1", "s2", "s3"], "by start time");
        assert!(store.get("nope").is_none());
        let unknown_start = summary([span(2, 1, None, 0, u64::MAX), span(2, 2, Some(1), 5_000_000, 7_000_000)].iter());
        assert_eq!((unknown_start.start_time_unix_nano, unknown_start.duration_ms), (5_000_000, 2.0), "0 is unknown");
    }

    fn log(trace: u8, span: u8, time: u64, body: &str) -> LogView {
        LogView {
            trace_id: format!("{trace:032x}"),
            span_id: format!("{span:016x}"),
            time_unix_nano: time,
            severity: "ERROR".into(),
            severity_number: 17,
            body: body.into(),
            attributes: vec![],
        }
    }

    #[test]
    fn logs_join_their_trace() {
        let store = Store::new(StoreLimits { max_trace_bytes: 2000, ..limits(10, 3) });
        assert_eq!(store.insert_logs(vec![log(1, 1, 30, "late"), log(1, 1, 10, "early")]), 2);
        assert!(store.list().is_empty() && store.get(&format!("{:032x}", 1)).is_none(), "no spans yet: not shown");
        store.insert(vec![span(1, 1, None, 1, 100)]);
        assert_eq!(store.insert_logs(vec![log(1, 1, 10, "early")]), 0, "a retried record is kept once");
        let (spans, logs) = store.get(&format!("{:032x}", 1)).unwrap();
        assert_eq!(spans.len(), 1);
        assert_eq!(logs.iter().map(|l| l.body.as_str().unwrap()).collect::<Vec<_>>(), ["early", "late"], "by time");
        assert_eq!(store.list()[0].span_count, 1);
        let big = "x".repeat(1500);
        assert_eq!(store.insert_logs(vec![log(1, 1, 50, &big)]), 0, "over the trace's byte bound");
        assert_eq!(store.insert_logs(vec![log(1, 1, 60, "a"), log(1, 1, 70, "b")]), 1, "3 records at most");
        assert_eq!(store.stats().skipped_logs, 2);
        let before = store.stats().bytes;
        store.insert(vec![span(2, 1, None, 1, 2), span(3, 1, None, 1, 2), span(4, 1, None, 1, 2)]);
        assert!(store.get(&format!("{:032x}", 1)).is_none(), "evicted as a whole (span bound)");
        assert!(store.stats().bytes < before, "its records' bytes went with it");
    }

    #[test]
    fn bounds_evict_least_recent() {
        let store = Store::new(limits(2, 3));
        store.insert(vec![span(1, 1, None, 1, 2)]);
        store.insert(vec![span(2, 1, None, 1, 2)]);
        store.insert(vec![span(1, 2, Some(1), 1, 2)]);
        store.insert(vec![span(3, 1, None, 1, 2)]);
        let ids: Vec<String> = store.list().into_iter().map(|t| t.trace_id).collect();
        assert_eq!(ids, [format!("{:032x}", 3), format!("{:032x}", 1)], "trace 2 was the least recently updated");
        store.insert(vec![span(4, 1, None, 1, 2), span(4, 2, None, 1, 2), span(4, 3, None, 1, 2)]);
        assert_eq!(store.len(), 1, "the span bound evicts whole traces");
    }

    #[test]
    fn bytes_bound_the_store_and_each_trace() {
        let big = |trace: u8, id: u8| SpanView {
            attributes: vec![crate::view::Attr { key: "blob".into(), value: "x".repeat(10_000).into() }],
            ..span(trace, id, None, 1, 2)
        };
        let one = span_bytes(&big(1, 1)) + attrs_bytes(&big(1, 1).resource);
        assert!((10_000..11_000).contains(&one), "{one}");
        let store =
            Store::new(StoreLimits { max_traces: 100, max_spans: 100, max_bytes: 50_000, max_trace_bytes: 25_000 });
        assert_eq!(store.insert((1..=3).map(|i| big(1, i)).collect()), 2, "the third span is over the trace's cap");
        assert_eq!(store.stats().skipped_spans, 1);
        store.insert(vec![big(2, 1), big(2, 2)]);
        store.insert(vec![big(3, 1)]);
        let stats = store.stats();
        assert!(stats.bytes <= 50_000, "{stats:?}");
        assert_eq!((stats.traces, stats.evicted_traces), (2, 1), "trace 1 went first: {stats:?}");
        assert!(store.get(&format!("{:032x}", 1)).is_none());
    }

    #[test]
    fn deep_values_are_measured_without_recursion() {
        let mut v = serde_json::Value::Null;
        for _ in 0..100_000 {
            v = serde_json::Value::Array(vec![v]);
        }
        let n = std::thread::Builder::new().stack_size(256 << 10).spawn(move || {
            let n = value_bytes(&v);
            std::mem::forget(v); // dropping it recurses; not what this test is about
            n
        });
        assert_eq!(n.unwrap().join().unwrap(), 32 * 100_001);
    }
}
