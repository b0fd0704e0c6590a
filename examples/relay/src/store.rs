//! The local viewer's memory: recent traces, bounded by trace and span count.
//!
//! Traces are ordered by when they last received a span; past either bound the least recently
//! updated go first. A span sent twice (a client retry) is kept once.

use crate::view::{SpanView, TraceSummary};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Mutex;

#[derive(Debug)]
pub struct Store {
    max_traces: usize,
    max_spans: usize,
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    traces: HashMap<String, Trace>,
    /// Last update → trace id.
    order: BTreeMap<u64, String>,
    next: u64,
    spans: usize,
}

#[derive(Debug, Default)]
struct Trace {
    updated: u64,
    ids: HashSet<String>,
    spans: Vec<SpanView>,
}

impl Store {
    pub fn new(max_traces: usize, max_spans: usize) -> Store {
        Store { max_traces, max_spans, inner: Mutex::default() }
    }

    /// Adds spans; returns how many were new.
    pub fn insert(&self, spans: Vec<SpanView>) -> usize {
        let mut guard = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let inner = &mut *guard;
        let mut added = 0;
        for span in spans {
            inner.next += 1;
            let seq = inner.next;
            let trace = inner.traces.entry(span.trace_id.clone()).or_default();
            if trace.updated != 0 {
                inner.order.remove(&trace.updated);
            }
            trace.updated = seq;
            inner.order.insert(seq, span.trace_id.clone());
            if trace.spans.len() < self.max_spans && trace.ids.insert(span.span_id.clone()) {
                trace.spans.push(span);
                inner.spans += 1;
                added += 1;
            }
        }
        while inner.traces.len() > self.max_traces || inner.spans > self.max_spans {
            let Some((_, id)) = inner.order.pop_first() else { break };
            if let Some(t) = inner.traces.remove(&id) {
                inner.spans -= t.spans.len();
            }
        }
        added
    }

    pub fn len(&self) -> usize {
        self.inner.lock().unwrap_or_else(|p| p.into_inner()).traces.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every trace, most recently updated first.
    pub fn list(&self) -> Vec<TraceSummary> {
        let inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        inner.order.values().rev().filter_map(|id| inner.traces.get(id)).map(|t| summary(t.spans.iter())).collect()
    }

    /// One trace's spans, by start time.
    pub fn get(&self, trace_id: &str) -> Option<Vec<SpanView>> {
        let inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let mut spans = inner.traces.get(trace_id)?.spans.clone();
        drop(inner);
        spans.sort_by_key(|s| s.start_time_unix_nano);
        Some(spans)
    }
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

    #[test]
    fn summaries_and_dedup() {
        let store = Store::new(10, 100);
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
        let got = store.get(&format!("{:032x}", 1)).unwrap();
        assert_eq!(got.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(), ["s1", "s2", "s3"], "by start time");
        assert!(store.get("nope").is_none());
        let unknown_start = summary([span(2, 1, None, 0, u64::MAX), span(2, 2, Some(1), 5_000_000, 7_000_000)].iter());
        assert_eq!((unknown_start.start_time_unix_nano, unknown_start.duration_ms), (5_000_000, 2.0), "0 is unknown");
    }

    #[test]
    fn bounds_evict_least_recent() {
        let store = Store::new(2, 3);
        store.insert(vec![span(1, 1, None, 1, 2)]);
        store.insert(vec![span(2, 1, None, 1, 2)]);
        store.insert(vec![span(1, 2, Some(1), 1, 2)]);
        store.insert(vec![span(3, 1, None, 1, 2)]);
        let ids: Vec<String> = store.list().into_iter().map(|t| t.trace_id).collect();
        assert_eq!(ids, [format!("{:032x}", 3), format!("{:032x}", 1)], "trace 2 was the least recently updated");
        store.insert(vec![span(4, 1, None, 1, 2), span(4, 2, None, 1, 2), span(4, 3, None, 1, 2)]);
        assert_eq!(store.len(), 1, "the span bound evicts whole traces");
    }
}
