//! The export state machine: every decision of the batch span processor, with no I/O.
//!
//! The browser edge (`web::pipeline`) feeds it ended spans ([`Exporter::on_end`]), asks it what
//! to do ([`Exporter::next_action`]: send a document now, wait until a time, or nothing), tells
//! it how each request ended ([`Exporter::on_response`]) and, when the page is hidden, asks for
//! the page-hide plan ([`Exporter::on_hide`]). It performs only the timers, requests, beacons
//! and storage calls it is told to. Times are milliseconds on one monotonic clock
//! (`performance.now()` in the browser).
//!
//! The rules:
//! - A batch is encoded when `max_export_batch_size` spans wait, when the oldest waited
//!   `scheduled_delay_millis`, or on a flush. One request is in flight at a time.
//! - OTLP's retryable outcomes (network error, 429, 502, 503, 504) are retried with backoff
//!   ([`super::retry`]), never sooner than the backoff, `Retry-After` honoured up to its cap.
//!   After [`retry::MAX_ATTEMPTS`] the document stays at the front and the exporter pauses
//!   for the backoff, then starts again. Other statuses drop the document (reported once).
//! - A normal request rides `keepalive` when its body fits what is left of the browser's
//!   keepalive budget, so it survives the page closing mid-flight.
//! - On page hide, fresh documents leave at once (a beacon where no custom header is needed,
//!   else a keepalive request, within the budget); documents that already failed, and anything
//!   over the budget or offline, are stored and sent once on the next load.
//! - While the page goes away no request starts (its hide sends what is left), and a keepalive
//!   request that fails then is taken as delivered: Chromium rejects it at unload and still
//!   sends it. What ends after the hide (the page's own `visibilitychange`, `pagehide` or
//!   `unload` listeners run after Canopy's) leaves by the page-hide path too ([`Wake::Hide`]).

#[allow(unused_imports)]
use crate::prelude::*;

use super::batch::{BatchQueue, Pushed};
use super::otlp_json::Encoder;
use super::retry::{self, Outcome};
use crate::config::BatchConfig;
use crate::log_data::LogData;
use crate::span_data::SpanData;
use alloc::collections::VecDeque;

/// The browser's budget for keepalive request bodies in flight (Fetch: 64 KiB).
pub const KEEPALIVE_BUDGET_BYTES: usize = 64 * 1024;
/// Keepalive requests in flight at most (Chromium allows about 9 per page).
pub const KEEPALIVE_MAX_REQUESTS: usize = 8;
/// Document size on page hide: as much as the keepalive budget takes in one request. Firefox
/// closing a tab can cut the page's script off between two sends (a probe: 45 of 50 spans
/// arrived, in the first of two beacons), so one send is better than several.
pub const HIDE_DOC_BYTES: usize = 60 * 1024;
/// Documents waiting in memory after failed attempts, at most (the newest beyond are dropped
/// and counted). Documents are encoded only when none wait, so this bounds memory together with
/// the span queue.
pub const MAX_WAITING_DOCS: usize = 16;

/// An encoded request body.
#[derive(Clone, Debug, PartialEq)]
pub struct Doc {
    /// OTLP/HTTP JSON.
    pub body: String,
    /// Spans in it (0 for a document restored from storage: not counted again).
    pub spans: usize,
    /// It had an attempt that failed (so the endpoint was unreachable or refusing lately).
    pub failed: bool,
}

/// When the edge should next ask the exporter, after a span ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wake {
    /// As it was.
    Unchanged,
    /// After the batch delay: call [`Exporter::start_delay`] with the time now and arm a timer.
    AfterDelay,
    /// As soon as possible (a batch is full), in a task of its own.
    Now,
    /// The page has gone (hidden while leaving): call [`Exporter::on_hide`] again once the code
    /// that ended it returns (a microtask), so what the page's own `visibilitychange`, `pagehide`
    /// or `unload` listener ends after Canopy's hide still leaves, together.
    Hide,
}

/// Where the page is in going away.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Page {
    Here,
    /// `pagehide` came while the page was still visible: its hide comes next.
    Leaving,
    /// Hidden while leaving: the page-hide plan has run.
    Gone,
}

/// What the edge should do now.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Action {
    /// POST [`Exporter::in_flight`]'s body, with `keepalive` as given; then report the outcome
    /// with [`Exporter::on_response`].
    Send {
        /// Use `fetch(..., { keepalive: true })`.
        keepalive: bool,
    },
    /// Nothing to send before this time: call [`Exporter::next_action`] again then.
    WaitUntil(f64),
    /// A request is out: wait for its outcome.
    Busy,
    /// Nothing queued.
    Idle,
}

/// How a page-hide document should leave, in order of preference.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Via {
    /// `navigator.sendBeacon` (`text/plain`, `?sent_at=`; no custom headers). The browsers
    /// deliver it at page close and, unlike a keepalive `fetch`, Firefox also at quit.
    Beacon,
    /// `fetch(..., { keepalive: true })` with the configured headers.
    Keepalive,
}

/// The page-hide plan.
#[derive(Debug, Default, PartialEq)]
pub struct HidePlan {
    /// Documents to send now, each with the ways to try in order; one that no way accepts is to
    /// be stored.
    pub send: Vec<(String, &'static [Via])>,
    /// Documents to store for the next page load.
    pub store: Vec<String>,
    /// The keepalive budget used once `send` has left (bytes, requests).
    budget: (usize, usize),
}

/// What the edge should tell the user about a finished request (it words it, once).
#[derive(Clone, Debug, PartialEq)]
pub enum Notice {
    /// Delivered, but the receiver rejected some spans (OTLP partial success).
    Rejected {
        /// Spans rejected.
        spans: u64,
    },
    /// Refused with a non-retryable status: the spans are dropped.
    Refused {
        /// The HTTP status.
        status: u16,
        /// Spans dropped.
        spans: usize,
    },
    /// Still failing after every attempt; the spans wait and will be retried.
    Failing {
        /// The HTTP status, 0 for a network error or timeout.
        status: u16,
        /// Spans waiting.
        spans: usize,
    },
}

/// The batch span processor's decisions. See the module docs for the rules.
///
/// ```
/// # use canopy_web::{Config, Tracer, export::InMemoryProcessor};
/// # use std::rc::Rc;
/// # let mem = Rc::new(InMemoryProcessor::default());
/// # drop(Tracer::new(&Config::new("frontend"), [3; 32], mem.clone()).start("loadData"));
/// # let span = mem.take().remove(0);
/// use canopy_web::BatchConfig;
/// use canopy_web::export::machine::{Action, Exporter, Wake};
/// use canopy_web::export::otlp_json::Encoder;
/// use canopy_web::resource::Resource;
///
/// let encoder = Encoder::new(&Resource::default(), "canopy-web", "");
/// let mut ex = Exporter::new(BatchConfig::default(), encoder, true, Vec::new());
/// assert_eq!(ex.on_end(Box::new(span)), Wake::AfterDelay); // the edge reads the clock and arms a timer
/// assert_eq!(ex.start_delay(0.0), 5000.0); // ask again when the delay ends
/// assert_eq!(ex.next_action(10.0, false), Action::WaitUntil(5000.0));
/// assert_eq!(ex.next_action(5000.0, false), Action::Send { keepalive: true });
/// assert!(ex.in_flight().unwrap().body.contains("loadData")); // the edge POSTs this body
/// assert_eq!(ex.on_response(5020.0, 200, None, 0, 0.5), None); // delivered
/// assert_eq!(ex.next_action(5020.0, false), Action::Idle);
/// ```
pub struct Exporter {
    queue: BatchQueue,
    /// Log records waiting, oldest first (bounded by `max_queue_size` too).
    logs: Vec<LogData>,
    encoder: Encoder,
    /// Encoded documents, oldest first.
    docs: VecDeque<Doc>,
    /// The document whose request is out, with its keepalive reservation.
    in_flight: Option<(Doc, usize)>,
    /// Attempts made for the front document.
    attempt: u32,
    /// No request before this time (backoff, `Retry-After`).
    paused_until: f64,
    /// When the oldest queued span's delay runs out.
    deadline: Option<f64>,
    /// [`Wake::AfterDelay`] was returned and [`Exporter::start_delay`] not called yet.
    delay_pending: bool,
    /// Spans, then log records, that were queued when `flush` was last called and are not
    /// encoded yet (each queue is oldest first, so they are its front): they leave without
    /// waiting for the delay, and `forceFlush` waits for them.
    flush_left: (usize, usize),
    /// Once those are out, what was queued while their requests were out leaves too, in one
    /// more round (a span the page ends just after calling `forceFlush`, such as an XHR's,
    /// whose `loadend` listener runs after the page's own). Bounded: spans queued during that
    /// round wait for the delay as usual.
    flush_tail: bool,
    keepalive_bytes: usize,
    keepalive_count: usize,
    /// Spans dropped from waiting documents, reported with the next batch.
    lost: u64,
    delay_ms: f64,
    max_doc_bytes: usize,
    /// Page-hide documents may use a beacon (no custom headers to send).
    beacon_ok: bool,
    page: Page,
    /// The page went away online: a keepalive request that fails now was delivered (see
    /// [`Exporter::on_response`]).
    trust_keepalive: bool,
    /// The `debug` option: each batch rendered as a span tree, for the edge to print.
    pub debug: bool,
    log: Vec<String>,
}

impl Exporter {
    /// An exporter batching per `config`, encoding with `encoder`. `beacon_ok`: the export needs
    /// no custom header (a beacon cannot send one). `stored`: documents saved by an earlier page.
    pub fn new(config: BatchConfig, encoder: Encoder, beacon_ok: bool, stored: Vec<String>) -> Exporter {
        let queue = BatchQueue::new(config);
        let c = queue.config().clone();
        Exporter {
            queue,
            logs: Vec::new(),
            encoder,
            docs: stored.into_iter().map(|body| Doc { body, spans: 0, failed: false }).collect(),
            in_flight: None,
            attempt: 0,
            paused_until: 0.0,
            deadline: None,
            delay_pending: false,
            flush_left: (0, 0),
            flush_tail: false,
            keepalive_bytes: 0,
            keepalive_count: 0,
            lost: 0,
            delay_ms: c.scheduled_delay_millis as f64,
            max_doc_bytes: c.max_export_bytes,
            beacon_ok,
            page: Page::Here,
            trust_keepalive: false,
            debug: false,
            log: Vec::new(),
        }
    }

    /// The batches encoded since the last call, as span trees (with [`Exporter::debug`] on).
    pub fn take_log(&mut self) -> Vec<String> {
        core::mem::take(&mut self.log)
    }

    /// A span ended. Returns when the edge should next ask [`Exporter::next_action`], if that
    /// changed: after the delay, for the first span queued, or at once when a batch is full (the
    /// edge defers it to a task of its own, so no export work runs inside the caller's code).
    /// Takes no time: reading the clock costs a span more than this call, so the edge reads it
    /// only when told to ([`Exporter::start_delay`]).
    pub fn on_end(&mut self, span: Box<SpanData>) -> Wake {
        let pushed = self.queue.push(span);
        if self.page == Page::Gone {
            return Wake::Hide;
        }
        match pushed {
            Pushed::Dropped => Wake::Unchanged,
            Pushed::BatchReady if self.queue.len() == self.queue.config().max_export_batch_size => Wake::Now,
            Pushed::BatchReady => Wake::Unchanged,
            Pushed::Queued => self.delay(),
        }
    }

    /// The first item queued starts the delay. While a flush is under way its next step (its
    /// timer or its response) starts it: arming the timer now would push that step back by it.
    fn delay(&mut self) -> Wake {
        if self.deadline.is_some() || self.delay_pending {
            return Wake::Unchanged;
        }
        self.delay_pending = true;
        if self.flush_tail || self.first_round() > 0 { Wake::Unchanged } else { Wake::AfterDelay }
    }

    /// A log record was written: queued with the spans' rules (the same delay, batch size and
    /// queue bound; past the bound it is dropped), sent as its own document to the logs endpoint.
    pub fn on_log(&mut self, log: LogData) -> Wake {
        let c = self.queue.config();
        if self.logs.len() >= c.max_queue_size {
            return Wake::Unchanged;
        }
        self.logs.push(log);
        if self.page == Page::Gone {
            Wake::Hide
        } else if self.logs.len() == c.max_export_batch_size {
            Wake::Now
        } else {
            self.delay()
        }
    }

    /// The edge's answer to [`Wake::AfterDelay`]: the delay started at `now`; returns when it ends.
    pub fn start_delay(&mut self, now: f64) -> f64 {
        self.delay_pending = false;
        *self.deadline.get_or_insert(now + self.delay_ms)
    }

    /// Send everything queued now (`forceFlush`), without waiting for the delay. A paused
    /// exporter stays paused: a flush promises an attempt, not a delivery.
    pub fn flush(&mut self) {
        self.flush_left = (self.queue.len(), self.logs.len());
        self.flush_tail = true;
    }

    /// The flush was answered (`settled`, or the browser is offline): what is left of it, if
    /// anything (a backoff, offline), waits for the delay as usual.
    pub fn end_flush(&mut self) {
        self.flush_left = (0, 0);
        self.flush_tail = false;
    }

    /// What is left of the flush's first round (the queue may have dropped some of it since).
    fn first_round(&self) -> usize {
        self.flush_left.0.min(self.queue.len()) + self.flush_left.1.min(self.logs.len())
    }

    /// What is left of the last flush, its second round included.
    fn flushing(&self) -> usize {
        match self.first_round() {
            0 if self.flush_tail => self.queue.len() + self.logs.len(),
            n => n,
        }
    }

    /// The `online` event: retry now.
    pub fn on_online(&mut self) {
        self.paused_until = 0.0;
    }

    /// True when everything queued has had an attempt (sent, refused, or waiting to retry), or
    /// nothing can be attempted before a backoff ends: what `forceFlush` waits for (it never
    /// waits through a backoff).
    pub fn settled(&self, now: f64) -> bool {
        self.in_flight.is_none()
            && (now < self.paused_until || (self.flushing() == 0 && self.docs.iter().all(|d| d.failed)))
    }

    /// The document being sent.
    pub fn in_flight(&self) -> Option<&Doc> {
        self.in_flight.as_ref().map(|(d, _)| d)
    }

    /// Spans and log records waiting (queued, encoded or in flight).
    pub fn pending_spans(&self) -> usize {
        self.queue.len()
            + self.logs.len()
            + self.docs.iter().map(|d| d.spans).sum::<usize>()
            + self.in_flight().map_or(0, |d| d.spans)
    }

    /// What to do at `now`. `offline`: the browser says it is offline (the `online` event will
    /// call [`Exporter::on_online`]).
    pub fn next_action(&mut self, now: f64, offline: bool) -> Action {
        if self.delay_pending {
            self.start_delay(now);
        }
        if self.in_flight.is_some() {
            return Action::Busy;
        }
        if self.page != Page::Here {
            // Going away: the page hide sends what is left (a request started now would not
            // leave, or would die with the page).
            return Action::Idle;
        }
        if self.docs.is_empty() {
            if self.flush_tail && self.first_round() == 0 {
                // The first round is out and answered: the second takes what came meanwhile.
                self.flush_tail = false;
                self.flush_left = (self.queue.len(), self.logs.len());
            }
            let full = self.queue.config().max_export_batch_size;
            let due = self.flushing() > 0
                || self.queue.len() >= full
                || self.logs.len() >= full
                || self.deadline.is_some_and(|d| now >= d);
            if due && (!self.queue.is_empty() || !self.logs.is_empty() || self.lost > 0) {
                self.encode_batch(now);
            }
        }
        if self.docs.is_empty() {
            self.flush_left = (0, 0);
            self.flush_tail = false;
            return match self.deadline {
                Some(d) if !self.queue.is_empty() || !self.logs.is_empty() => Action::WaitUntil(d),
                _ => {
                    self.deadline = None;
                    Action::Idle
                }
            };
        }
        if now < self.paused_until {
            return Action::WaitUntil(self.paused_until);
        }
        if offline {
            return Action::Idle;
        }
        let doc = self.docs.pop_front().unwrap_or_else(|| Doc { body: String::new(), spans: 0, failed: false });
        let size = doc.body.len();
        let keepalive =
            self.keepalive_bytes + size <= KEEPALIVE_BUDGET_BYTES && self.keepalive_count < KEEPALIVE_MAX_REQUESTS;
        let reserved = if keepalive {
            self.keepalive_bytes += size;
            self.keepalive_count += 1;
            size
        } else {
            0
        };
        self.in_flight = Some((doc, reserved));
        Action::Send { keepalive }
    }

    fn encode_batch(&mut self, now: f64) {
        let n = self.logs.len().min(self.queue.config().max_export_batch_size);
        let rest = self.logs.split_off(n);
        let logs = core::mem::replace(&mut self.logs, rest);
        for (body, records) in self.encoder.encode_logs_split(&logs, self.max_doc_bytes) {
            self.docs.push_back(Doc { body, spans: records, failed: false });
        }
        drop(logs);
        if self.queue.is_empty() && self.lost == 0 {
            self.flush_left.1 = self.flush_left.1.saturating_sub(n);
            self.after_encode(now);
            return;
        }
        let batch = self.queue.take_batch();
        self.flush_left = (self.flush_left.0.saturating_sub(batch.len()), self.flush_left.1.saturating_sub(n));
        let dropped = self.queue.take_dropped() + core::mem::take(&mut self.lost);
        if self.debug {
            let mut m = String::from("canopy: exporting ");
            super::otlp_json::push_u64(&mut m, batch.len() as u64);
            m.push_str(" span(s)");
            if dropped > 0 {
                m.push_str(" (");
                super::otlp_json::push_u64(&mut m, dropped);
                m.push_str(" dropped: queue full)");
            }
            m.push('\n');
            m.push_str(&super::debug_tree::render(&batch));
            self.log.push(m);
        }
        for (body, spans) in self.encoder.encode_split(&batch, dropped, self.max_doc_bytes) {
            self.docs.push_back(Doc { body, spans, failed: false });
        }
        self.after_encode(now);
    }

    fn after_encode(&mut self, now: f64) {
        let empty = self.queue.is_empty() && self.logs.is_empty();
        self.deadline = if empty { None } else { Some(now + self.delay_ms) };
    }

    /// The outcome of the request for [`Exporter::in_flight`]: an HTTP status (0: network
    /// error or timeout), the server's `Retry-After` in milliseconds, the spans an OTLP partial
    /// success rejected, and a uniform random number in `[0, 1)` for the backoff's jitter.
    pub fn on_response(
        &mut self,
        now: f64,
        status: u16,
        retry_after_ms: Option<f64>,
        rejected: u64,
        jitter: f64,
    ) -> Option<Notice> {
        let (mut doc, reserved) = self.in_flight.take()?;
        if self.page != Page::Here {
            // Chromium rejects a keepalive request's promise when the page unloads, and still
            // delivers the request: once the page is going (and was online), that "network
            // error" is the page's end, not the request's (stored for a retry, it would arrive
            // twice). Its bytes stay counted: the browser is still sending them.
            if reserved > 0 && status == 0 && self.trust_keepalive {
                self.attempt = 0;
                return None;
            }
            // A request without keepalive that the page's leaving hide found in flight was
            // stored then: whatever became of it, it is not stored again.
            if reserved == 0 && self.page == Page::Gone {
                self.attempt = 0;
                return None;
            }
        }
        if reserved > 0 {
            self.keepalive_bytes -= reserved;
            self.keepalive_count -= 1;
        }
        match retry::classify(status, retry_after_ms) {
            Outcome::Success => {
                self.attempt = 0;
                (rejected > 0).then_some(Notice::Rejected { spans: rejected })
            }
            Outcome::Drop => {
                self.attempt = 0;
                Some(Notice::Refused { status, spans: doc.spans })
            }
            Outcome::Retry(ra) => {
                self.attempt += 1;
                self.paused_until = now + retry::backoff_ms(self.attempt, jitter, ra);
                doc.failed = true;
                let spans = doc.spans;
                self.docs.push_front(doc);
                while self.docs.len() > MAX_WAITING_DOCS {
                    if let Some(d) = self.docs.pop_back() {
                        self.lost += d.spans as u64;
                    }
                }
                if self.attempt >= retry::MAX_ATTEMPTS {
                    self.attempt = 0;
                    return Some(Notice::Failing { status, spans });
                }
                None
            }
        }
    }

    /// Page hide: everything waiting leaves now or is stored. `offline`: the browser is offline.
    /// A beacon goes first, because Firefox delivers beacons, and not keepalive requests, when
    /// the whole browser quits; a keepalive request when the export needs custom headers.
    ///
    /// `leaving`: the page is going away, not just hidden (a tab switch). A request in flight
    /// without keepalive dies with the page, so its document is stored too (sent again on the
    /// next load: at least once, rather than lost; a duplicate if it did arrive). From then on
    /// every span or log record queued asks for this again ([`Wake::Hide`]).
    ///
    /// In two steps, which the edge takes apart: [`Exporter::hide_plan`], then
    /// [`Exporter::hidden`].
    pub fn on_hide(&mut self, offline: bool, leaving: bool) -> HidePlan {
        let plan = self.hide_plan(offline, leaving);
        self.hidden(offline, leaving, &plan);
        plan
    }

    /// What a page hide sends now and what it stores for the next load ([`Exporter::on_hide`]).
    /// Changes nothing and calls nothing: Firefox closing a tab can stop a listener mid-call, and
    /// a hide stopped before [`Exporter::hidden`] is planned again, whole, when the edge retries.
    pub fn hide_plan(&self, offline: bool, leaving: bool) -> HidePlan {
        let mut plan = HidePlan::default();
        if leaving && self.page != Page::Gone {
            if let Some((d, 0)) = &self.in_flight {
                plan.store.push(d.body.clone());
            }
        }
        let mut fresh: Vec<String> = Vec::new();
        for d in &self.docs {
            if d.failed { plan.store.push(d.body.clone()) } else { fresh.push(d.body.clone()) }
        }
        let spans = self.queue.spans();
        let dropped = self.queue.dropped() + self.lost;
        if !spans.is_empty() || dropped > 0 {
            fresh.extend(self.encoder.encode_split(&spans, dropped, HIDE_DOC_BYTES).into_iter().map(|(b, _)| b));
        }
        fresh.extend(self.encoder.encode_logs_split(&self.logs, HIDE_DOC_BYTES).into_iter().map(|(b, _)| b));
        const BEACON_FIRST: &[Via] = &[Via::Beacon, Via::Keepalive];
        const KEEPALIVE_ONLY: &[Via] = &[Via::Keepalive];
        let ways = if self.beacon_ok { BEACON_FIRST } else { KEEPALIVE_ONLY };
        let (mut bytes, mut count) = (self.keepalive_bytes, self.keepalive_count);
        for body in fresh {
            let size = body.len();
            // Beacons and keepalive requests share the browser's budget, in bytes and in
            // requests (a page's listeners after the hide may each send one, [`Wake::Hide`]).
            if offline || bytes + size > KEEPALIVE_BUDGET_BYTES || count >= KEEPALIVE_MAX_REQUESTS {
                plan.store.push(body);
                continue;
            }
            bytes += size;
            count += 1;
            plan.send.push((body, ways));
        }
        plan.budget = (bytes, count);
        plan
    }

    /// Records a page hide planned by [`Exporter::hide_plan`]: what it sends or stores leaves
    /// the exporter, and nothing is left of a flush. Returns what it took, for the caller to
    /// drop once the exporter is no longer borrowed (freeing it is the long part).
    pub fn hidden(&mut self, offline: bool, leaving: bool, plan: &HidePlan) -> Taken {
        let taken = self.take_all();
        self.queue.take_dropped();
        self.lost = 0;
        self.attempt = 0;
        self.page = if leaving { Page::Gone } else { Page::Here };
        self.trust_keepalive = leaving && !offline;
        (self.keepalive_bytes, self.keepalive_count) = plan.budget;
        taken
    }

    /// The page is shown again (bfcache, tab switched back): what page hide sent has long left
    /// the budget.
    pub fn on_show(&mut self) {
        self.page = Page::Here;
        self.trust_keepalive = false;
        self.keepalive_bytes = self.in_flight.as_ref().map_or(0, |(_, r)| *r);
        self.keepalive_count = usize::from(self.keepalive_bytes > 0);
    }

    /// `pagehide` came while the page was still visible: it is going away, and its hide comes
    /// next. No request starts from now on; when `offline` is false, a keepalive request that
    /// fails is taken as delivered (see [`Exporter::on_response`]).
    pub fn on_leave(&mut self, offline: bool) {
        if self.page == Page::Here {
            self.page = Page::Leaving;
            self.trust_keepalive = !offline;
        }
    }

    /// Drops everything (shutdown after the final flush).
    pub fn clear(&mut self) {
        self.take_all();
    }

    /// Takes everything waiting out; nothing is left of a flush.
    fn take_all(&mut self) -> Taken {
        self.flush_left = (0, 0);
        self.flush_tail = false;
        self.deadline = None;
        Taken {
            _spans: self.queue.take_all(),
            _docs: core::mem::take(&mut self.docs),
            _logs: core::mem::take(&mut self.logs),
        }
    }
}

/// What [`Exporter::hidden`] took out: dropping it frees the spans, documents and log records.
pub struct Taken {
    _spans: VecDeque<Box<SpanData>>,
    _docs: VecDeque<Doc>,
    _logs: Vec<LogData>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{SpanId, TraceFlags, TraceId};
    use crate::resource::Resource;
    use crate::span_context::SpanContext;
    use crate::span_data::{SpanKind, Status};

    fn span(n: u8) -> Box<SpanData> {
        Box::new(SpanData {
            span_context: SpanContext::new(TraceId([1; 16]), SpanId([n.max(1); 8]), TraceFlags::SAMPLED),
            parent_span_id: SpanId::INVALID,
            parent_is_remote: false,
            name: "s".into(),
            kind: SpanKind::Internal,
            start_time: 1,
            end_time: 2,
            attributes: Vec::new(),
            dropped_attributes_count: 0,
            events: Vec::new(),
            dropped_events_count: 0,
            links: Vec::new(),
            dropped_links_count: 0,
            status: Status::Unset,
        })
    }

    fn exporter(batch: usize, beacon_ok: bool) -> Exporter {
        let config = BatchConfig { max_export_batch_size: batch, ..BatchConfig::default() };
        let enc = Encoder::new(&Resource { attributes: Vec::new() }, "t", "");
        Exporter::new(config, enc, beacon_ok, Vec::new())
    }

    fn spans_in(body: &str) -> usize {
        body.matches("\"spanId\"").count()
    }

    /// An exporter whose request in flight, 1000 spans flushed, is too big for keepalive.
    fn too_big_for_keepalive_in_flight() -> Exporter {
        let mut e = exporter(4096, true);
        for i in 0..1000 {
            e.on_end(span((i % 250) as u8));
        }
        e.flush();
        assert_eq!(e.next_action(0.0, false), Action::Send { keepalive: false }, "too big for keepalive");
        e
    }

    #[test]
    fn waits_for_the_delay_then_sends_one_document() {
        let mut e = exporter(512, true);
        assert_eq!(e.on_end(span(1)), Wake::AfterDelay, "the first span arms the timer");
        assert_eq!(e.start_delay(0.0), 5000.0);
        assert_eq!(e.on_end(span(2)), Wake::Unchanged, "later spans do not");
        assert_eq!(e.next_action(10.0, false), Action::WaitUntil(5000.0));
        assert_eq!(e.next_action(5000.0, false), Action::Send { keepalive: true }, "small: rides keepalive");
        assert_eq!(spans_in(&e.in_flight().unwrap().body), 2);
        assert_eq!(e.next_action(5001.0, false), Action::Busy, "one request at a time");
        assert!(!e.settled(5001.0));
        assert_eq!(e.on_response(5002.0, 200, None, 0, 0.5), None);
        assert_eq!(e.next_action(5002.0, false), Action::Idle);
        assert!(e.settled(5002.0));
    }

    #[test]
    fn a_full_batch_goes_at_once() {
        let mut e = exporter(3, true);
        e.on_end(span(1));
        e.on_end(span(2));
        assert_eq!(e.on_end(span(3)), Wake::Now, "batch full: now");
        assert_eq!(e.on_end(span(4)), Wake::Unchanged, "once");
        assert_eq!(e.next_action(1.0, false), Action::Send { keepalive: true });
    }

    #[test]
    fn flush_sends_a_partial_batch() {
        let mut e = exporter(512, true);
        e.on_end(span(1));
        e.flush();
        assert_eq!(e.next_action(1.0, false), Action::Send { keepalive: true });
    }

    #[test]
    fn a_flush_covers_what_was_queued_when_it_was_asked_for() {
        // forceFlush right after init: the page-load spans are recorded while the first
        // request is out. They leave in the flush's second round; a span ended during that
        // round waits for the delay (a flush never chases a page that keeps ending spans).
        let mut e = exporter(512, true);
        e.on_end(span(1));
        e.flush();
        assert_eq!(e.next_action(1.0, false), Action::Send { keepalive: true });
        assert!(!e.settled(1.0), "its request is out");
        assert_eq!(e.on_end(span(2)), Wake::Unchanged, "the flush's own step starts the delay");
        e.on_response(3.0, 200, None, 0, 0.5);
        assert!(!e.settled(3.0), "what ended while the flush's request was out goes too");
        assert_eq!(e.next_action(3.0, false), Action::Send { keepalive: true }, "without the delay");
        e.on_end(span(3));
        e.on_response(4.0, 200, None, 0, 0.5);
        assert!(e.settled(4.0), "two rounds at most");
        assert_eq!(e.next_action(4.0, false), Action::WaitUntil(5004.0), "the later span waits for its delay");
        assert_eq!(e.pending_spans(), 1);

        // Two batches' worth queued at the flush: both leave at once, one after the other.
        let mut e = exporter(2, true);
        for i in 1..=4 {
            e.on_end(span(i));
        }
        e.next_action(0.0, false);
        e.on_response(0.0, 200, None, 0, 0.5);
        e.on_end(span(5));
        e.on_end(span(6));
        e.on_end(span(7));
        e.flush(); // five queued (3 to 7): three batches of at most 2
        for left in [3, 1] {
            assert!(matches!(e.next_action(1.0, false), Action::Send { .. }), "sent without waiting for the delay");
            e.on_response(1.0, 200, None, 0, 0.5);
            assert!(!e.settled(1.0), "{left} flushed span(s) still queued");
        }
        e.on_end(span(8)); // after the flush: goes with span 7, the batch has room
        assert!(matches!(e.next_action(1.0, false), Action::Send { .. }));
        e.on_response(1.0, 200, None, 0, 0.5);
        assert!(e.settled(1.0));
        assert_eq!(e.pending_spans(), 0);
    }

    #[test]
    fn log_records_after_a_flush_do_not_count_for_its_spans() {
        let mut e = exporter(2, true);
        for i in 1..=3 {
            e.on_end(span(i));
        }
        e.next_action(0.0, false); // the first two spans: the batch was full
        e.on_response(0.0, 200, None, 0, 0.5);
        e.flush(); // span 3
        e.on_log(log(1));
        e.on_log(log(2));
        e.next_action(1.0, false); // the two log records
        e.on_response(1.0, 200, None, 0, 0.5);
        assert!(!e.settled(1.0), "span 3 was queued at the flush and has not left");
        assert!(matches!(e.next_action(1.0, false), Action::Send { .. }), "it leaves without the delay");
        e.on_response(1.0, 200, None, 0, 0.5);
        assert!(e.settled(1.0));
    }

    #[test]
    fn a_span_ended_during_a_flush_does_not_arm_the_delay() {
        let mut e = exporter(512, true);
        e.flush(); // nothing queued yet: the flush steps a task later
        assert_eq!(e.on_end(span(1)), Wake::Unchanged, "the flush's step comes first");
        assert_eq!(e.next_action(0.0, false), Action::Send { keepalive: true }, "and takes the span");
        e.on_response(0.0, 200, None, 0, 0.5);
        assert!(e.settled(0.0));
        e.end_flush();
        assert_eq!(e.on_end(span(2)), Wake::AfterDelay, "after the flush, the delay as usual");
    }

    #[test]
    fn an_answered_flush_leaves_nothing_behind() {
        let mut e = exporter(512, true);
        e.on_end(span(1));
        e.flush();
        e.next_action(0.0, false);
        e.on_response(0.0, 503, None, 0, 0.5); // retry after a backoff
        assert!(e.settled(1.0), "a flush does not wait through a backoff");
        e.end_flush();
        e.on_end(span(2));
        assert!(matches!(e.next_action(1000.0, false), Action::Send { .. }), "the retry");
        e.on_response(1000.0, 200, None, 0, 0.5);
        assert!(
            matches!(e.next_action(1000.0, false), Action::WaitUntil(_)),
            "a span queued during the backoff waits for the delay: the flush was answered"
        );
    }

    #[test]
    fn page_hide_ends_a_flush() {
        let mut e = exporter(512, true);
        e.on_end(span(1));
        e.flush();
        e.next_action(0.0, false);
        e.on_end(span(2));
        e.flush(); // while the first request is out
        e.on_hide(false, false); // span 2 leaves by beacon
        e.on_response(1.0, 200, None, 0, 0.5);
        assert!(e.settled(1.0));
        e.on_end(span(3));
        assert!(matches!(e.next_action(1.0, false), Action::WaitUntil(_)), "a later span waits for the delay");
    }

    #[test]
    fn a_flush_waits_for_queued_log_records_too() {
        let mut e = exporter(512, true);
        e.on_log(log(1));
        e.flush();
        assert!(!e.settled(0.0));
        assert_eq!(e.next_action(0.0, false), Action::Send { keepalive: true });
        e.on_response(0.0, 200, None, 0, 0.5);
        assert!(e.settled(0.0));
    }

    #[test]
    fn retries_with_backoff_and_honours_retry_after() {
        let mut e = exporter(1, true);
        e.on_end(span(1));
        assert!(matches!(e.next_action(0.0, false), Action::Send { .. }));
        assert_eq!(e.on_response(0.0, 503, None, 0, 0.5), None, "first failure: retry quietly");
        assert_eq!(e.next_action(1.0, false), Action::WaitUntil(1000.0), "backoff 1 s (jitter 0.5 = none)");
        assert!(e.settled(1.0), "a flush does not wait through backoff");
        e.on_end(span(2));
        assert!(e.settled(1.0), "not even for spans that ended during it");
        assert!(matches!(e.next_action(1000.0, false), Action::Send { .. }));
        e.on_response(1000.0, 429, Some(30_000.0), 0, 0.5);
        assert_eq!(e.next_action(1001.0, false), Action::WaitUntil(31_000.0), "Retry-After wins when longer");
        assert!(matches!(e.next_action(31_000.0, false), Action::Send { .. }));
        e.on_response(31_000.0, 429, Some(0.0), 0, 0.5);
        assert_eq!(
            e.next_action(31_000.0, false),
            Action::WaitUntil(31_000.0 + 1500.0 * 1.5),
            "never sooner than the backoff"
        );
    }

    #[test]
    fn gives_up_for_now_after_max_attempts_and_keeps_the_document() {
        let mut e = exporter(1, true);
        e.on_end(span(1));
        let mut now = 0.0;
        let mut notices = Vec::new();
        for _ in 0..retry::MAX_ATTEMPTS {
            match e.next_action(now, false) {
                Action::Send { .. } => {}
                Action::WaitUntil(t) => {
                    now = t;
                    assert!(matches!(e.next_action(now, false), Action::Send { .. }));
                }
                a => panic!("unexpected {a:?}"),
            }
            notices.extend(e.on_response(now, 0, None, 0, 0.5));
        }
        assert_eq!(notices, vec![Notice::Failing { status: 0, spans: 1 }]);
        assert_eq!(e.pending_spans(), 1, "still waiting, not dropped");
    }

    #[test]
    fn non_retryable_statuses_drop() {
        let mut e = exporter(1, true);
        e.on_end(span(1));
        e.next_action(0.0, false);
        assert_eq!(e.on_response(0.0, 400, None, 0, 0.5), Some(Notice::Refused { status: 400, spans: 1 }));
        assert_eq!(e.pending_spans(), 0);
    }

    #[test]
    fn partial_success_is_reported() {
        let mut e = exporter(1, true);
        e.on_end(span(1));
        e.next_action(0.0, false);
        assert_eq!(e.on_response(0.0, 200, None, 1, 0.5), Some(Notice::Rejected { spans: 1 }));
    }

    #[test]
    fn offline_waits_and_online_resumes() {
        let mut e = exporter(1, true);
        e.on_end(span(1));
        assert_eq!(e.next_action(0.0, true), Action::Idle);
        e.on_online();
        assert!(matches!(e.next_action(1.0, false), Action::Send { .. }));
    }

    #[test]
    fn keepalive_only_within_the_budget() {
        let mut e = exporter(1, true);
        e.keepalive_bytes = KEEPALIVE_BUDGET_BYTES - 10;
        e.on_end(span(1));
        assert_eq!(e.next_action(0.0, false), Action::Send { keepalive: false });
        e.on_response(0.0, 200, None, 0, 0.5);
        assert_eq!(e.keepalive_bytes, KEEPALIVE_BUDGET_BYTES - 10, "nothing reserved, nothing released");
    }

    #[test]
    fn page_hide_sends_fresh_and_stores_failed() {
        let mut e = exporter(1, true);
        e.on_end(span(1));
        e.next_action(0.0, false);
        e.on_response(0.0, 0, None, 0, 0.5); // network error: waits for a retry
        e.on_end(span(2));
        e.on_end(span(3));
        let plan = e.on_hide(false, false);
        assert_eq!(plan.store.len(), 1, "the document that failed is stored for the next load");
        assert_eq!(spans_in(&plan.store[0]), 1);
        assert_eq!(plan.send.len(), 1);
        assert_eq!(spans_in(&plan.send[0].0), 2);
        assert_eq!(plan.send[0].1, &[Via::Beacon, Via::Keepalive], "beacon first: delivered at quit too");
        assert_eq!(e.pending_spans(), 0);
    }

    #[test]
    fn a_hide_stopped_before_it_is_recorded_is_planned_again_whole() {
        let mut e = exporter(1, true);
        e.on_end(span(1));
        e.next_action(0.0, false);
        e.on_response(0.0, 0, None, 0, 0.5); // network error: a document waits for a retry
        e.on_end(span(2));
        e.on_end(span(3));
        e.on_log(log(1));
        // Firefox stops the first hide's listener mid-way: planned, nothing recorded.
        let waiting = e.pending_spans();
        let first = e.hide_plan(false, true);
        assert_eq!(e.pending_spans(), waiting, "planning takes nothing");
        let again = e.hide_plan(false, true);
        assert_eq!(first, again, "the next listener's hide sends the same");
        assert_eq!(again.store.len(), 1, "the failed document");
        let sent: usize = again.send.iter().map(|(b, _)| spans_in(b)).sum();
        assert_eq!(sent, 2);
        assert!(again.send.iter().any(|(b, _)| super::super::otlp_json::is_logs(b)), "and the log record");
        drop(e.hidden(false, true, &again));
        let after = e.hide_plan(false, true);
        assert!(after.send.is_empty() && after.store.is_empty(), "recorded: nothing twice");
        assert_eq!(e.pending_spans(), 0);
        // The budget the recorded hide used holds for what is sent after it.
        for i in 0..KEEPALIVE_MAX_REQUESTS {
            e.on_end(span(i as u8));
            let p = e.on_hide(false, true);
            if p.send.is_empty() {
                assert_eq!(p.store.len(), 1, "over the request budget: stored");
                return;
            }
        }
        panic!("the keepalive request budget never ran out");
    }

    #[test]
    fn page_hide_with_custom_headers_uses_keepalive_and_stores_what_does_not_fit() {
        let mut e = exporter(4096, false);
        for i in 0..2000 {
            e.on_end(span((i % 250) as u8));
        }
        let plan = e.on_hide(false, false);
        assert!(plan.send.iter().all(|(_, v)| *v == [Via::Keepalive]));
        let sent: usize = plan.send.iter().map(|(b, _)| b.len()).sum();
        assert!(sent <= KEEPALIVE_BUDGET_BYTES, "within the keepalive budget");
        assert!(!plan.store.is_empty(), "the rest is stored");
        let all: usize = plan.send.iter().map(|(b, _)| spans_in(b)).sum::<usize>()
            + plan.store.iter().map(|b| spans_in(b)).sum::<usize>();
        assert_eq!(all, 2000, "nothing lost");
    }

    #[test]
    fn leaving_stores_a_request_in_flight_without_keepalive() {
        let mut e = too_big_for_keepalive_in_flight();
        assert!(e.on_hide(false, false).store.is_empty(), "a tab switch: the request goes on");
        let plan = e.on_hide(false, true);
        assert_eq!(plan.store.len(), 1, "the page goes away: stored for the next load");
        assert_eq!(spans_in(&plan.store[0]), 1000);
    }

    #[test]
    fn what_ends_after_the_page_left_leaves_with_another_hide() {
        let mut e = exporter(512, true);
        assert_eq!(e.on_end(span(1)), Wake::AfterDelay);
        e.start_delay(0.0);
        assert_eq!(e.on_hide(false, false).send.len(), 1, "a tab switch sends what is queued");
        assert_eq!(e.on_end(span(2)), Wake::AfterDelay, "hidden but still here: the delay as usual");
        e.start_delay(1.0);
        let plan = e.on_hide(false, true);
        assert_eq!(plan.send.len(), 1, "leaving: sent");
        // The page's own visibilitychange, pagehide or unload listener, after Canopy's.
        assert_eq!(e.on_end(span(3)), Wake::Hide);
        assert_eq!(e.on_end(span(4)), Wake::Hide);
        let plan = e.on_hide(false, true);
        assert_eq!(plan.send.len(), 1, "both in one document");
        assert_eq!(spans_in(&plan.send[0].0), 2);
        assert!(plan.store.is_empty());
        e.on_show();
        assert_ne!(e.on_end(span(5)), Wake::Hide, "back from the back/forward cache: as usual");
    }

    #[test]
    fn a_keepalive_request_failing_as_the_page_leaves_is_taken_as_delivered() {
        // Chromium rejects a keepalive fetch when the page unloads, between `pagehide` and the
        // `visibilitychange` after it, and still delivers it.
        for leave in [false, true] {
            let mut e = exporter(1, true);
            e.on_end(span(1));
            assert_eq!(e.next_action(0.0, false), Action::Send { keepalive: true });
            if leave {
                e.on_leave(false);
            }
            assert_eq!(e.on_response(1.0, 0, None, 0, 0.5), None);
            e.on_end(span(2));
            e.flush();
            if leave {
                assert_eq!(e.next_action(2.0, false), Action::Idle, "going away: the hide sends it");
            }
            let plan = e.on_hide(false, true);
            if leave {
                assert_eq!(plan.send.len(), 1, "the span queued since");
                assert_eq!(spans_in(&plan.send[0].0), 1);
                assert!(plan.store.is_empty(), "not stored, so not sent twice");
            } else {
                assert_eq!(plan.store.len(), 1, "a page still here: a failure, stored for the next load");
            }
        }
        // A request without keepalive that fails is a failure still.
        let mut e = too_big_for_keepalive_in_flight();
        e.on_leave(false);
        e.on_response(1.0, 0, None, 0, 0.5);
        assert_eq!(e.on_hide(false, true).store.len(), 1);
    }

    #[test]
    fn leaving_offline_a_failed_keepalive_request_is_a_failure() {
        let mut e = exporter(1, true);
        e.on_end(span(1));
        assert_eq!(e.next_action(0.0, false), Action::Send { keepalive: true });
        e.on_leave(true);
        e.on_response(1.0, 0, None, 0, 0.5);
        assert_eq!(e.on_hide(true, true).store.len(), 1, "stored for the next load");
    }

    #[test]
    fn page_hide_sends_at_most_the_browsers_keepalive_requests() {
        let mut e = exporter(512, true);
        e.on_hide(false, true);
        let mut sent = 0;
        let mut stored = 0;
        for i in 0..(KEEPALIVE_MAX_REQUESTS + 3) {
            assert_eq!(e.on_end(span(i as u8 + 1)), Wake::Hide);
            let plan = e.on_hide(false, true);
            sent += plan.send.len();
            stored += plan.store.len();
        }
        assert_eq!(sent, KEEPALIVE_MAX_REQUESTS);
        assert_eq!(stored, 3, "the rest is stored");
    }

    #[test]
    fn a_request_in_flight_is_stored_once_however_often_the_page_hides() {
        let mut e = too_big_for_keepalive_in_flight();
        assert_eq!(e.on_hide(false, true).store.len(), 1);
        assert_eq!(e.on_end(span(1)), Wake::Hide);
        let plan = e.on_hide(false, true);
        assert!(plan.store.is_empty(), "the request in flight was stored already");
        assert_eq!(plan.send.len(), 1);
        // Then it fails (the page kept running a little): stored already, not again.
        assert_eq!(e.on_response(1.0, 503, None, 0, 0.5), None);
        assert_eq!(e.on_end(span(2)), Wake::Hide);
        let plan = e.on_hide(false, true);
        assert!(plan.store.is_empty(), "not stored a second time");
        assert_eq!(plan.send.len(), 1);
    }

    #[test]
    fn offline_page_hide_stores_everything() {
        let mut e = exporter(512, true);
        e.on_end(span(1));
        let plan = e.on_hide(true, false);
        assert!(plan.send.is_empty());
        assert_eq!(plan.store.len(), 1);
    }

    #[test]
    fn stored_documents_go_first_on_the_next_load() {
        let enc = Encoder::new(&Resource { attributes: Vec::new() }, "t", "");
        let mut e = Exporter::new(BatchConfig::default(), enc, true, vec!["{\"stored\":1}".into()]);
        assert_eq!(e.next_action(0.0, false), Action::Send { keepalive: true });
        assert_eq!(e.in_flight().unwrap().body, "{\"stored\":1}");
    }

    #[test]
    fn waiting_documents_are_bounded_and_losses_reported() {
        let config = BatchConfig { max_export_batch_size: 1, max_export_bytes: 1024, ..BatchConfig::default() };
        let enc = Encoder::new(&Resource { attributes: Vec::new() }, "t", "");
        let mut e = Exporter::new(config, enc, true, Vec::new());
        for _ in 0..MAX_WAITING_DOCS + 5 {
            e.docs.push_back(Doc { body: "x".into(), spans: 1, failed: true });
        }
        e.in_flight = Some((Doc { body: "y".into(), spans: 1, failed: true }, 0));
        e.on_response(0.0, 503, None, 0, 0.5);
        assert_eq!(e.docs.len(), MAX_WAITING_DOCS);
        assert_eq!(e.lost, 6);
    }

    fn log(n: u8) -> LogData {
        LogData {
            time: u64::from(n),
            severity: crate::log_data::Severity::Info,
            body: "l".into(),
            attributes: Vec::new(),
            dropped_attributes_count: 0,
            trace: None,
        }
    }

    #[test]
    fn logs_wait_for_the_same_delay_and_leave_as_their_own_document() {
        use super::super::otlp_json::is_logs;
        let mut e = exporter(512, true);
        assert_eq!(e.on_log(log(1)), Wake::AfterDelay, "the first record arms the timer");
        assert_eq!(e.start_delay(0.0), 5000.0);
        assert_eq!(e.on_end(span(1)), Wake::Unchanged, "a span shares the delay");
        assert_eq!(e.next_action(10.0, false), Action::WaitUntil(5000.0));
        assert_eq!(e.pending_spans(), 2);
        assert_eq!(e.next_action(5000.0, false), Action::Send { keepalive: true });
        assert!(is_logs(&e.in_flight().unwrap().body), "logs first, in a logs document");
        e.on_response(5001.0, 200, None, 0, 0.5);
        assert_eq!(e.next_action(5001.0, false), Action::Send { keepalive: true });
        assert!(!is_logs(&e.in_flight().unwrap().body), "then the spans' document");
        e.on_response(5002.0, 200, None, 0, 0.5);
        assert_eq!(e.next_action(5002.0, false), Action::Idle);
    }

    #[test]
    fn logs_alone_go_after_the_delay_and_a_full_batch_at_once() {
        let mut e = exporter(3, true);
        e.on_log(log(1));
        e.start_delay(0.0);
        assert_eq!(e.next_action(5000.0, false), Action::Send { keepalive: true });
        e.on_response(5000.0, 200, None, 0, 0.5);
        assert_eq!(e.next_action(5000.0, false), Action::Idle, "nothing left: no timer");
        e.on_log(log(2));
        e.on_log(log(3));
        assert_eq!(e.on_log(log(4)), Wake::Now, "a full batch of records: now");
    }

    #[test]
    fn logs_are_bounded_and_sent_on_page_hide() {
        use super::super::otlp_json::is_logs;
        let config = BatchConfig { max_queue_size: 4, max_export_batch_size: 4, ..BatchConfig::default() };
        let enc = Encoder::new(&Resource { attributes: Vec::new() }, "t", "");
        let mut e = Exporter::new(config, enc, true, Vec::new());
        for n in 0..10 {
            e.on_log(log(n));
        }
        assert_eq!(e.pending_spans(), 4, "past the queue bound records are dropped");
        e.on_end(span(1));
        let plan = e.on_hide(false, true);
        assert_eq!(plan.send.len(), 2, "spans and logs both leave");
        assert_eq!(plan.send.iter().filter(|(b, _)| is_logs(b)).count(), 1);
        assert_eq!(plan.send.iter().find(|(b, _)| is_logs(b)).unwrap().0.matches("severityNumber").count(), 4);
        assert_eq!(e.pending_spans(), 0);
    }
}
