//! Counters for `GET /metrics`, in the Prometheus text format.

use crate::model::Signal;
use crate::store::StoreStats;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

/// Upper bounds of the upstream latency histogram, seconds.
const BUCKETS: [f64; 11] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

/// What happened to the spans (or log records) of export requests.
#[derive(Debug, Default)]
pub struct ItemCounters {
    /// In requests that passed validation.
    pub received: AtomicU64,
    /// The upstream accepted.
    pub forwarded: AtomicU64,
    /// In decoded requests that failed validation.
    pub rejected: AtomicU64,
    /// The upstream refused for good (an error status or a partial success).
    pub dropped: AtomicU64,
    /// Handed back to the client with 503 (the client retries them).
    pub deferred: AtomicU64,
}

impl ItemCounters {
    /// `canopy_relay_{prefix}_{received,forwarded,...}_total`.
    fn render(&self, o: &mut String, prefix: &str, items: &str) {
        for (name, c, help) in [
            ("received", &self.received, "in requests that passed validation."),
            ("forwarded", &self.forwarded, "the upstream accepted."),
            ("rejected", &self.rejected, "in decoded requests that failed validation."),
            ("dropped", &self.dropped, "the upstream refused for good."),
            ("deferred", &self.deferred, "handed back with 503 and Retry-After."),
        ] {
            let metric = format!("canopy_relay_{prefix}_{name}_total");
            header(o, &metric, "counter", &format!("{items} {help}"));
            let _ = writeln!(o, "{metric} {}", c.load(Relaxed));
        }
    }
}

#[derive(Debug)]
pub struct Metrics {
    /// Export requests by response status (index = status code).
    requests: Box<[AtomicU64]>,
    pub spans: ItemCounters,
    pub logs: ItemCounters,
    /// Export requests that repeated one already delivered, byte for byte (see `copies.rs`).
    pub copies: AtomicU64,
    /// Upstream attempts by outcome.
    pub upstream_ok: AtomicU64,
    pub upstream_retryable: AtomicU64,
    pub upstream_failed: AtomicU64,
    latency: [AtomicU64; BUCKETS.len()],
    latency_sum_micros: AtomicU64,
    latency_count: AtomicU64,
    /// Rollbar items (see `rollbar.rs`); shared with its sender task.
    pub rollbar: std::sync::Arc<crate::rollbar::Counters>,
    /// The X-Ray exporter's counters.
    pub xray: crate::xray::XRayStats,
    /// CloudWatch Logs events; shared with its sender task.
    pub cloudwatch: std::sync::Arc<crate::cloudwatch::CloudWatchStats>,
}

impl Default for Metrics {
    fn default() -> Metrics {
        Metrics {
            requests: (0..600).map(|_| AtomicU64::new(0)).collect(),
            spans: ItemCounters::default(),
            logs: ItemCounters::default(),
            copies: AtomicU64::new(0),
            upstream_ok: AtomicU64::new(0),
            upstream_retryable: AtomicU64::new(0),
            upstream_failed: AtomicU64::new(0),
            latency: Default::default(),
            latency_sum_micros: AtomicU64::new(0),
            latency_count: AtomicU64::new(0),
            rollbar: Default::default(),
            xray: Default::default(),
            cloudwatch: Default::default(),
        }
    }
}

impl Metrics {
    /// The counters of `signal`'s items.
    pub fn items(&self, signal: Signal) -> &ItemCounters {
        match signal {
            Signal::Traces => &self.spans,
            Signal::Logs => &self.logs,
        }
    }

    pub fn request(&self, status: u16) {
        if let Some(c) = self.requests.get(usize::from(status)) {
            c.fetch_add(1, Relaxed);
        }
    }

    pub fn upstream_latency(&self, d: Duration) {
        let secs = d.as_secs_f64();
        if let Some(i) = BUCKETS.iter().position(|&b| secs <= b) {
            self.latency[i].fetch_add(1, Relaxed);
        }
        self.latency_sum_micros.fetch_add(d.as_micros() as u64, Relaxed);
        self.latency_count.fetch_add(1, Relaxed);
    }

    /// The text exposition, with the local store's figures when there is one.
    pub fn render(&self, store: Option<StoreStats>) -> String {
        let mut out = String::with_capacity(2048);
        let o = &mut out;
        header(o, "canopy_relay_requests_total", "counter", "Export requests, by response status.");
        for (code, c) in self.requests.iter().enumerate() {
            let n = c.load(Relaxed);
            if n > 0 {
                let _ = writeln!(o, "canopy_relay_requests_total{{code=\"{code}\"}} {n}");
            }
        }
        self.spans.render(o, "spans", "Spans");
        self.logs.render(o, "log_records", "Log records");
        let help =
            "Export requests that repeated one already delivered, answered as delivered and not forwarded again.";
        header(o, "canopy_relay_copies_total", "counter", help);
        let _ = writeln!(o, "canopy_relay_copies_total {}", self.copies.load(Relaxed));
        header(o, "canopy_relay_upstream_attempts_total", "counter", "Upstream attempts, by outcome.");
        for (outcome, c) in
            [("ok", &self.upstream_ok), ("retryable", &self.upstream_retryable), ("failed", &self.upstream_failed)]
        {
            let _ = writeln!(o, "canopy_relay_upstream_attempts_total{{outcome=\"{outcome}\"}} {}", c.load(Relaxed));
        }
        let h = "canopy_relay_upstream_latency_seconds";
        header(o, h, "histogram", "Upstream attempt latency.");
        let mut cumulative = 0;
        for (b, c) in BUCKETS.iter().zip(&self.latency) {
            cumulative += c.load(Relaxed);
            let _ = writeln!(o, "{h}_bucket{{le=\"{b}\"}} {cumulative}");
        }
        let count = self.latency_count.load(Relaxed);
        let _ = writeln!(o, "{h}_bucket{{le=\"+Inf\"}} {count}");
        let _ = writeln!(o, "{h}_sum {}", self.latency_sum_micros.load(Relaxed) as f64 / 1e6);
        let _ = writeln!(o, "{h}_count {count}");
        self.rollbar.render(o);
        self.xray.render(o);
        self.cloudwatch.render(o);
        if let Some(st) = store {
            for (name, kind, help, n) in [
                ("traces_stored", "gauge", "Traces held by the local viewer.", st.traces as u64),
                ("store_spans", "gauge", "Spans held by the local viewer.", st.spans as u64),
                ("store_bytes", "gauge", "Estimated bytes held by the local viewer.", st.bytes as u64),
                ("store_evicted_traces_total", "counter", "Traces evicted to stay within bounds.", st.evicted_traces),
                ("store_skipped_spans_total", "counter", "Spans not kept: their trace was full.", st.skipped_spans),
                (
                    "store_skipped_log_records_total",
                    "counter",
                    "Log records not kept: their trace was full.",
                    st.skipped_logs,
                ),
            ] {
                let metric = format!("canopy_relay_{name}");
                header(o, &metric, kind, help);
                let _ = writeln!(o, "{metric} {n}");
            }
        }
        out
    }
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders() {
        let m = Metrics::default();
        m.request(200);
        m.request(200);
        m.request(413);
        m.spans.received.fetch_add(7, Relaxed);
        m.logs.dropped.fetch_add(2, Relaxed);
        m.upstream_latency(Duration::from_millis(30));
        m.upstream_latency(Duration::from_secs(60));
        let text = m.render(Some(StoreStats { traces: 3, ..StoreStats::default() }));
        for line in [
            "canopy_relay_requests_total{code=\"200\"} 2",
            "canopy_relay_requests_total{code=\"413\"} 1",
            "canopy_relay_spans_received_total 7",
            "canopy_relay_log_records_dropped_total 2",
            "canopy_relay_upstream_latency_seconds_bucket{le=\"0.025\"} 0",
            "canopy_relay_upstream_latency_seconds_bucket{le=\"0.05\"} 1",
            "canopy_relay_upstream_latency_seconds_bucket{le=\"+Inf\"} 2",
            "canopy_relay_upstream_latency_seconds_count 2",
            "canopy_relay_traces_stored 3",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} in\n{text}");
        }
    }
}
