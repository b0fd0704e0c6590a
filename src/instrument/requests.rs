//! The request-span decisions, with no I/O: which request is traced and gets `traceparent`,
//! the table of requests in flight, and which resource timing entry ends which fetch span.
//!
//! The browser edge (`web::instrument`) asks [`decide`] when a `fetch`/XHR starts, keeps the
//! span in a [`Requests`] table, and feeds it the response hook ([`Requests::on_response`]) and
//! each `fetch` resource timing entry ([`Requests::on_entry`]); the table says which span ends
//! now and with which entry. A fetch span ends when its body has arrived (the entry's
//! `responseEnd`), never by reading the caller's body; without an entry it ends at the time its
//! headers arrived once [`TIMING_WAIT_MS`] has passed.

#[allow(unused_imports)]
use crate::prelude::*;

use super::http::{origin_of, prefix_matches};
use crate::attribute::KeyValue;

/// How long a fetch span waits for its resource timing entry after the headers arrived.
pub const TIMING_WAIT_MS: f64 = 10_000.0;
/// Requests in flight that are tracked at most; beyond it requests pass through untraced.
pub const MAX_IN_FLIGHT: usize = 1024;
/// Resource timing entries kept for a response hook that has not run yet, at most.
pub const MAX_EARLY_ENTRIES: usize = 32;

/// What to do with a request that is starting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Leave it alone: no span, no header (an ignored URL, the exporter's own endpoint, or too
    /// many requests in flight).
    Skip,
    /// A CLIENT span; `propagate`: add `traceparent`/`tracestate` (same origin, or allowed).
    Trace {
        /// Send the trace context headers.
        propagate: bool,
    },
}

/// Decides for a request to `href` (absolute): `ignored` and `allowed` are the configured
/// `ignoreUrls` / `propagateTraceHeaderCorsUrls` matchers, `export_url` the exporter's endpoint
/// (never traced: an export would make a span that makes an export).
pub fn decide(
    href: &str,
    page_origin: Option<&str>,
    export_url: Option<&str>,
    in_flight: usize,
    ignored: impl Fn(&str) -> bool,
    allowed: impl Fn(&str) -> bool,
) -> Decision {
    if in_flight >= MAX_IN_FLIGHT || ignored(href) || export_url.is_some_and(|e| prefix_matches(href, e)) {
        return Decision::Skip;
    }
    let same_origin = match (page_origin, origin_of(href)) {
        (Some(p), Some(o)) => p == o,
        _ => false,
    };
    Decision::Trace { propagate: same_origin || allowed(href) }
}

/// The positions of a resource timing entry's numbers (`performance.now()` milliseconds, and
/// bytes for the last), as the edge hands them over.
#[derive(Clone, Copy, Debug)]
pub enum Timing {
    /// `startTime`.
    Start,
    /// `domainLookupStart`.
    DnsStart,
    /// `domainLookupEnd`.
    DnsEnd,
    /// `connectStart`.
    ConnectStart,
    /// `connectEnd`.
    ConnectEnd,
    /// `secureConnectionStart`.
    SecureStart,
    /// `requestStart`.
    RequestStart,
    /// `responseStart`.
    ResponseStart,
    /// `responseEnd`.
    ResponseEnd,
    /// `encodedBodySize`.
    EncodedBodySize,
}

/// A `fetch` resource timing entry: its URL and its [`Timing`] numbers, in that order.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    /// The entry's `name`: the request's URL without its fragment.
    pub name: String,
    /// The numbers, indexed by [`Timing`].
    pub t: Vec<f64>,
}

impl Entry {
    /// One number (0 when missing).
    pub fn get(&self, k: Timing) -> f64 {
        self.t.get(k as usize).copied().unwrap_or(0.0)
    }

    /// The span attributes the entry gives (phase durations in ms, the body size) and the end
    /// time it gives, as a `performance.now()` time (`None` without a `responseEnd`).
    pub fn span_facts(&self) -> (Vec<KeyValue>, Option<f64>) {
        let n = |k| self.get(k);
        let end = n(Timing::ResponseEnd);
        let phases: [(&'static str, f64, f64); 5] = [
            ("canopy.timing.dns_ms", n(Timing::DnsStart), n(Timing::DnsEnd)),
            ("canopy.timing.connect_ms", n(Timing::ConnectStart), n(Timing::ConnectEnd)),
            ("canopy.timing.tls_ms", n(Timing::SecureStart), n(Timing::ConnectEnd)),
            ("canopy.timing.request_ms", n(Timing::RequestStart), n(Timing::ResponseStart)),
            ("canopy.timing.response_ms", n(Timing::ResponseStart), end),
        ];
        let mut attrs = Vec::with_capacity(6);
        for (key, a, b) in phases {
            if a > 0.0 && b >= a {
                attrs.push(KeyValue::new(key, b - a));
            }
        }
        let size = n(Timing::EncodedBodySize);
        if size > 0.0 {
            attrs.push(KeyValue::new("http.response.body.size", size as i64));
        }
        (attrs, (end > 0.0).then_some(end))
    }
}

/// A request in flight and its span.
#[derive(Debug)]
pub struct Pending<S> {
    /// The request's span.
    pub span: S,
    href: String,
    start_perf: f64,
    /// Set once the response headers arrived: (epoch ns then, perf deadline for the entry).
    waiting: Option<(u64, f64)>,
}

impl<S> Pending<S> {
    /// When the response headers arrived (epoch ns), if they have.
    pub fn headers_at(&self) -> Option<u64> {
        self.waiting.map(|w| w.0)
    }
}

fn strip_fragment(s: &str) -> &str {
    crate::ascii::split_once(s, b'#').map_or(s, |(u, _)| u)
}

/// The requests in flight, by id (generic over the span type so it is tested natively).
#[derive(Debug)]
pub struct Requests<S> {
    slots: Vec<Option<Pending<S>>>,
    free: Vec<u32>,
    early: Vec<Entry>,
}

impl<S> Default for Requests<S> {
    fn default() -> Self {
        Requests { slots: Vec::new(), free: Vec::new(), early: Vec::new() }
    }
}

impl<S> Requests<S> {
    /// Requests in flight.
    pub fn in_flight(&self) -> usize {
        self.slots.len() - self.free.len()
    }

    /// Tracks a request to `href` that started at `start_perf`; returns its id.
    pub fn insert(&mut self, span: S, href: String, start_perf: f64) -> u32 {
        let pending = Pending { span, href, start_perf, waiting: None };
        match self.free.pop() {
            Some(i) => {
                self.slots[i as usize] = Some(pending);
                i
            }
            None => {
                self.slots.push(Some(pending));
                (self.slots.len() - 1) as u32
            }
        }
    }

    /// The span of request `id`, while it is tracked.
    pub fn span_mut(&mut self, id: u32) -> Option<&mut S> {
        self.slots.get_mut(id as usize)?.as_mut().map(|p| &mut p.span)
    }

    /// Stops tracking request `id` (it failed, or an XHR ended) and hands back its span.
    pub fn take(&mut self, id: u32) -> Option<Pending<S>> {
        let p = self.slots.get_mut(id as usize)?.take()?;
        self.free.push(id);
        Some(p)
    }

    /// The response headers of `id` arrived at `now_ns` (`now_perf` on the page clock). Returns
    /// the request with its entry when the entry was already seen (the span ends now); else the
    /// span waits for its entry until [`TIMING_WAIT_MS`] from now.
    pub fn on_response(&mut self, id: u32, now_ns: u64, now_perf: f64) -> Option<(Pending<S>, Entry)> {
        let p = self.slots.get_mut(id as usize)?.as_mut()?;
        p.waiting = Some((now_ns, now_perf + TIMING_WAIT_MS));
        let href = strip_fragment(&p.href);
        let pos = self.early.iter().position(|e| e.name == href)?;
        let entry = self.early.remove(pos);
        self.take(id).map(|p| (p, entry))
    }

    /// A `fetch` resource timing entry arrived. It belongs to the latest request to its URL that
    /// started no later than it did (1 ms of clock slack). Returns that request when it was
    /// waiting for it (the span ends now); an entry for a request whose response hook has not
    /// run yet is kept for it (at most [`MAX_EARLY_ENTRIES`]); other entries are not ours.
    pub fn on_entry(&mut self, entry: Entry) -> Option<(Pending<S>, Entry)> {
        let start = entry.get(Timing::Start);
        let mut best: Option<(usize, f64)> = None;
        for (i, slot) in self.slots.iter().enumerate() {
            if let Some(p) = slot {
                if strip_fragment(&p.href) == entry.name
                    && p.start_perf <= start + 1.0
                    && best.is_none_or(|(_, s)| p.start_perf > s)
                {
                    best = Some((i, p.start_perf));
                }
            }
        }
        let (i, _) = best?;
        if self.slots[i].as_ref().is_some_and(|p| p.waiting.is_some()) {
            return self.take(i as u32).map(|p| (p, entry));
        }
        if self.early.len() >= MAX_EARLY_ENTRIES {
            self.early.remove(0);
        }
        self.early.push(entry);
        None
    }

    /// Takes the requests waiting for an entry whose deadline `due` says has passed (they end at
    /// the time their headers arrived).
    pub fn take_due(&mut self, due: impl Fn(f64) -> bool) -> Vec<Pending<S>> {
        let mut out = Vec::new();
        for i in 0..self.slots.len() {
            if self.slots[i].as_ref().is_some_and(|p| p.waiting.is_some_and(|w| due(w.1))) {
                if let Some(p) = self.take(i as u32) {
                    out.push(p);
                }
            }
        }
        out
    }

    /// True while some span waits for its entry.
    pub fn has_waiting(&self) -> bool {
        self.slots.iter().flatten().any(|p| p.waiting.is_some())
    }

    /// Forgets the entries kept for responses that never came (after a sweep).
    pub fn clear_early(&mut self) {
        self.early.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAGE: Option<&str> = Some("https://app.example.com");

    #[test]
    fn decisions() {
        let none = |_: &str| false;
        let api = |u: &str| prefix_matches(u, "https://api.example.com");
        let rows: &[(&str, usize, Decision, &str)] = &[
            ("https://app.example.com/api/x", 0, Decision::Trace { propagate: true }, "same origin: header"),
            ("https://api.example.com/v1", 0, Decision::Trace { propagate: true }, "allowed origin: header"),
            (
                "https://api.example.com.evil.net/v1",
                0,
                Decision::Trace { propagate: false },
                "lookalike: span, no header",
            ),
            ("https://other.example/x", 0, Decision::Trace { propagate: false }, "other origin: span, no header"),
            ("https://relay.example.com/v1/traces", 0, Decision::Skip, "the exporter's own endpoint"),
            ("https://app.example.com/health", 0, Decision::Skip, "ignored"),
            ("https://app.example.com/api/x", MAX_IN_FLIGHT, Decision::Skip, "too many in flight"),
        ];
        for (href, in_flight, want, why) in rows {
            let ignored = |u: &str| u.ends_with("/health");
            let got = decide(href, PAGE, Some("https://relay.example.com/v1/traces"), *in_flight, ignored, api);
            assert_eq!(got, *want, "{why}");
        }
        assert_eq!(
            decide("https://x/", None, None, 0, none, none),
            Decision::Trace { propagate: false },
            "no page origin"
        );
    }

    fn entry(name: &str, start: f64, end: f64) -> Entry {
        let mut t = vec![0.0; 10];
        t[Timing::Start as usize] = start;
        t[Timing::ResponseStart as usize] = end - 1.0;
        t[Timing::ResponseEnd as usize] = end;
        Entry { name: name.into(), t }
    }

    #[test]
    fn an_entry_after_the_headers_ends_the_span() {
        let mut r = Requests::default();
        let id = r.insert("span", "https://a/x#frag".into(), 10.0);
        assert!(r.on_response(id, 1_000, 12.0).is_none(), "waits for its entry");
        assert!(r.has_waiting());
        let (p, e) = r.on_entry(entry("https://a/x", 10.0, 15.0)).expect("matched without the fragment");
        assert_eq!(p.span, "span");
        assert_eq!(p.headers_at(), Some(1_000));
        assert_eq!(e.span_facts().1, Some(15.0));
        assert_eq!(r.in_flight(), 0);
    }

    #[test]
    fn an_entry_before_the_headers_waits_for_them() {
        let mut r = Requests::default();
        let id = r.insert(1u8, "https://a/x".into(), 10.0);
        assert!(r.on_entry(entry("https://a/x", 10.5, 15.0)).is_none(), "kept for the response hook");
        let (p, _) = r.on_response(id, 1_000, 16.0).expect("the kept entry ends it");
        assert_eq!(p.span, 1);
    }

    #[test]
    fn the_latest_request_started_before_the_entry_gets_it() {
        let mut r = Requests::default();
        let a = r.insert('a', "https://a/x".into(), 10.0);
        let b = r.insert('b', "https://a/x".into(), 20.0);
        r.on_response(a, 1, 25.0);
        r.on_response(b, 2, 25.0);
        assert_eq!(r.on_entry(entry("https://a/x", 20.0, 30.0)).unwrap().0.span, 'b', "the one that started at 20");
        assert_eq!(r.on_entry(entry("https://a/x", 10.0, 31.0)).unwrap().0.span, 'a');
        assert!(r.on_entry(entry("https://other/", 10.0, 31.0)).is_none(), "not ours");
    }

    #[test]
    fn without_an_entry_the_span_ends_at_its_deadline() {
        let mut r = Requests::default();
        let id = r.insert((), "https://a/x".into(), 0.0);
        r.on_response(id, 7, 100.0);
        assert!(r.take_due(|deadline| deadline <= 100.0 + TIMING_WAIT_MS - 1.0).is_empty());
        let done = r.take_due(|deadline| deadline <= 100.0 + TIMING_WAIT_MS);
        assert_eq!(done.len(), 1);
        assert_eq!(done[0].headers_at(), Some(7));
    }

    #[test]
    fn early_entries_are_bounded() {
        let mut r = Requests::default();
        for i in 0..MAX_EARLY_ENTRIES + 5 {
            let url = format!("https://a/{i}");
            r.insert(i, url.clone(), 0.0);
            r.on_entry(entry(&url, 1.0, 2.0));
        }
        assert_eq!(r.early.len(), MAX_EARLY_ENTRIES);
    }

    #[test]
    fn timing_attributes() {
        let mut e = entry("https://a/x", 10.0, 20.0);
        e.t[Timing::DnsStart as usize] = 11.0;
        e.t[Timing::DnsEnd as usize] = 12.5;
        e.t[Timing::EncodedBodySize as usize] = 512.0;
        let (attrs, end) = e.span_facts();
        assert_eq!(end, Some(20.0));
        let keys: Vec<&str> = attrs.iter().map(|kv| kv.key.as_ref()).collect();
        assert_eq!(keys, ["canopy.timing.dns_ms", "canopy.timing.response_ms", "http.response.body.size"]);
    }
}
