//! The browser export pipeline: spans → bounded queue → OTLP JSON documents → POST.
//!
//! - One request in flight at a time, through the original (unpatched) `fetch`, gzipped with
//!   `CompressionStream` when available, `x-canopy-sent-at` on every request.
//! - Retries per [`crate::export::retry`]; a document that exhausts its attempts goes back to
//!   the front and the pipeline pauses (or waits for the `online` event when offline).
//! - On page hide (`visibilitychange` → hidden, `pagehide`) everything waiting is sent at once:
//!   `fetch(..., { keepalive: true })` within the browser's 64 KiB / 9-request keepalive budget,
//!   then `navigator.sendBeacon`, then saved to `localStorage` and sent on the next page load of
//!   the origin (removed before sending, so never sent twice).

use super::platform;
use crate::config::Config;
use crate::export::SpanProcessor;
use crate::export::batch::{BatchQueue, Pushed};
use crate::export::debug_tree;
use crate::export::otlp_json::Encoder;
use crate::export::retry::{self, Outcome};
use crate::resource::Resource;
use crate::span_data::SpanData;
use js_sys::{Array, Function, Object, Promise, Reflect};
use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::{Rc, Weak};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

/// The browser's budget for keepalive request bodies in flight (Fetch spec: 64 KiB).
pub const KEEPALIVE_BUDGET_BYTES: usize = 64 * 1024;
/// Keepalive requests in flight at most (Chromium allows about 9 per page).
pub const KEEPALIVE_MAX_REQUESTS: usize = 8;
/// Document size on page hide: small, so several fit the keepalive budget.
pub const HIDE_DOC_BYTES: usize = 15 * 1024;
/// Where undelivered documents wait for the next page load.
pub const STORAGE_KEY: &str = "canopy.unsent.v1";
/// At most this much is kept in storage (oldest dropped first).
pub const STORAGE_MAX_BYTES: f64 = 1024.0 * 1024.0;
/// Documents waiting in memory after failed attempts, at most (newest dropped first, counted).
/// Documents are encoded only when none wait, so this bounds memory with the span queue.
pub const MAX_WAITING_DOCS: usize = 16;

#[wasm_bindgen(module = "/js/transport.js")]
extern "C" {
    #[allow(clippy::too_many_arguments)]
    fn post(
        fetch: &Function,
        url: &str,
        body: &JsValue,
        headers: &Object,
        keepalive: bool,
        timeout_ms: u32,
        gzipped: bool,
    ) -> Promise;
    fn gzip(bytes: &[u8]) -> Promise;
    #[wasm_bindgen(js_name = canGzip)]
    fn can_gzip() -> bool;
    fn beacon(url: &str, text: &str) -> bool;
    #[wasm_bindgen(js_name = sendKeepalive)]
    fn send_keepalive(fetch: &Function, url: &str, text: &str, headers: &Object) -> bool;
    #[wasm_bindgen(js_name = isOffline)]
    fn is_offline() -> bool;
    #[wasm_bindgen(js_name = takeStored)]
    fn take_stored(key: &str) -> Array;
    fn store(key: &str, docs: Array, max_bytes: f64) -> u32;
    fn listen(on_hide: &Function, on_online: &Function);
}

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_name = setTimeout)]
    fn set_timeout(cb: &Function, ms: f64) -> JsValue;
    #[wasm_bindgen(js_name = clearTimeout)]
    fn clear_timeout(id: &JsValue);
    #[wasm_bindgen(js_namespace = Math, js_name = random)]
    fn random() -> f64;
}

/// An encoded request body and how many spans it carries.
struct Doc {
    body: String,
    spans: usize,
}

/// The document being sent, while the loop awaits a reply or a backoff.
enum Current {
    Idle,
    /// The request is out: it is the network's now.
    InFlight,
    /// Waiting to retry: page hide may take it.
    Waiting(Doc),
    /// Page hide took it.
    Taken,
}

/// Batches spans and delivers them.
pub struct Pipeline {
    queue: RefCell<BatchQueue>,
    docs: RefCell<VecDeque<Doc>>,
    current: RefCell<Current>,
    encoder: Encoder,
    endpoint: String,
    headers: Object,
    timeout_ms: u32,
    delay_ms: u32,
    max_doc_bytes: usize,
    gzip: bool,
    debug: bool,
    fetch: Function,
    running: Cell<bool>,
    paused_until: Cell<f64>,
    timer: RefCell<Option<JsValue>>,
    timer_cb: RefCell<Option<Closure<dyn FnMut()>>>,
    waiters: RefCell<Vec<Function>>,
    stopped: Cell<bool>,
    keepalive_bytes: Cell<usize>,
    keepalive_count: Cell<usize>,
    warned: RefCell<Vec<u16>>,
    /// Spans in waiting documents dropped for the bound, reported with the next export.
    lost: Cell<u64>,
}

/// The handle the tracer holds.
pub struct PipelineProcessor(pub Rc<Pipeline>);

impl SpanProcessor for PipelineProcessor {
    fn on_end(&self, span: SpanData) {
        self.0.on_end(span);
    }
}

thread_local! {
    /// Page-lifetime listeners (hide, online) that reach whichever pipeline is current.
    static LISTENERS: RefCell<Vec<Closure<dyn FnMut()>>> = const { RefCell::new(Vec::new()) };
}

impl Pipeline {
    /// A pipeline for `config`, sending with `fetch` (the original, saved before any patching).
    /// Documents saved by an earlier page load are queued first.
    pub fn new(config: &Config, resource: &Resource, fetch: Function) -> Rc<Pipeline> {
        let headers = Object::new();
        for (k, v) in &config.headers {
            let _ = Reflect::set(&headers, &JsValue::from_str(k), &JsValue::from_str(v));
        }
        let mut docs = VecDeque::new();
        for d in take_stored(STORAGE_KEY).iter() {
            if let Some(body) = d.as_string() {
                docs.push_back(Doc { body, spans: 0 });
            }
        }
        let p = Rc::new(Pipeline {
            queue: RefCell::new(BatchQueue::new(config.batch.clone())),
            docs: RefCell::new(docs),
            current: RefCell::new(Current::Idle),
            encoder: Encoder::new(resource, crate::resource::SCOPE_NAME, crate::resource::SDK_VERSION),
            endpoint: config.endpoint.clone(),
            headers,
            timeout_ms: config.batch.export_timeout_millis,
            delay_ms: config.batch.scheduled_delay_millis,
            max_doc_bytes: config.batch.max_export_bytes,
            gzip: config.compression && can_gzip(),
            debug: config.debug,
            fetch,
            running: Cell::new(false),
            paused_until: Cell::new(0.0),
            timer: RefCell::new(None),
            timer_cb: RefCell::new(None),
            waiters: RefCell::new(Vec::new()),
            stopped: Cell::new(false),
            keepalive_bytes: Cell::new(0),
            keepalive_count: Cell::new(0),
            warned: RefCell::new(Vec::new()),
            lost: Cell::new(0),
        });
        let weak: Weak<Pipeline> = Rc::downgrade(&p);
        let cb = Closure::<dyn FnMut()>::new(move || {
            if let Some(p) = weak.upgrade() {
                p.timer.borrow_mut().take();
                p.kick();
            }
        });
        *p.timer_cb.borrow_mut() = Some(cb);
        ensure_listeners();
        if !p.docs.borrow().is_empty() {
            p.arm_timer(0.0);
        }
        p
    }

    fn on_end(self: &Rc<Self>, span: SpanData) {
        if self.stopped.get() {
            return;
        }
        let pushed = self.queue.borrow_mut().push(span);
        match pushed {
            Pushed::BatchReady => self.kick(),
            Pushed::Queued => self.arm_timer(self.delay_ms as f64),
            Pushed::Dropped => {}
        }
    }

    fn arm_timer(&self, ms: f64) {
        if self.running.get() || self.timer.borrow().is_some() {
            return;
        }
        if let Some(cb) = self.timer_cb.borrow().as_ref() {
            let id = set_timeout(cb.as_ref().unchecked_ref(), ms);
            *self.timer.borrow_mut() = Some(id);
        }
    }

    /// Starts draining unless a drain is running, the pipeline is paused, or the browser is
    /// offline (the `online` event kicks it again).
    fn kick(self: &Rc<Self>) {
        if let Some(id) = self.timer.borrow_mut().take() {
            clear_timeout(&id);
        }
        if self.running.get() {
            return;
        }
        let wait = self.paused_until.get() - platform::perf_now_ms();
        if wait > 0.0 {
            self.arm_timer(wait);
            self.resolve_waiters();
            return;
        }
        if is_offline() {
            self.resolve_waiters();
            return;
        }
        self.running.set(true);
        let me = self.clone();
        wasm_bindgen_futures::spawn_local(async move {
            me.drain().await;
            me.running.set(false);
            let wait = me.paused_until.get() - platform::perf_now_ms();
            if wait > 0.0 {
                me.arm_timer(wait);
            }
            me.resolve_waiters();
        });
    }

    fn resolve_waiters(&self) {
        let waiters: Vec<Function> = self.waiters.borrow_mut().drain(..).collect();
        for w in waiters {
            let _ = w.call0(&JsValue::UNDEFINED);
        }
    }

    /// Sends documents until there is nothing left, or a document exhausted its attempts.
    async fn drain(self: &Rc<Self>) {
        loop {
            let next = self.docs.borrow_mut().pop_front();
            let doc = match next {
                Some(d) => d,
                None => {
                    let (batch, dropped) = {
                        let mut q = self.queue.borrow_mut();
                        (q.take_batch(), q.take_dropped())
                    };
                    if batch.is_empty() {
                        return;
                    }
                    if self.debug {
                        self.log_batch(&batch, dropped);
                    }
                    let dropped = dropped + self.lost.replace(0);
                    let docs = self.encoder.encode_split(&batch, dropped, self.max_doc_bytes);
                    drop(batch);
                    let mut q = self.docs.borrow_mut();
                    for (body, spans) in docs {
                        q.push_back(Doc { body, spans });
                    }
                    continue;
                }
            };
            if let Some(wait) = self.send(doc).await {
                self.paused_until.set(platform::perf_now_ms() + wait);
                return;
            }
        }
    }

    /// Sends one document with retries. `Some(wait)` when it gave up for now (the document is
    /// back at the front of the queue).
    async fn send(self: &Rc<Self>, doc: Doc) -> Option<f64> {
        let mut attempt = 1;
        let mut doc = doc;
        loop {
            *self.current.borrow_mut() = Current::InFlight;
            let (status, retry_after, rejected, message) = self.post_once(&doc.body).await;
            let outcome = retry::classify(status, retry_after);
            match outcome {
                Outcome::Success => {
                    *self.current.borrow_mut() = Current::Idle;
                    if rejected > 0 {
                        let mut m = String::from("the receiver rejected ");
                        m.push_str(&rejected.to_string());
                        m.push_str(" span(s)");
                        if let Some(msg) = message {
                            m.push_str(": ");
                            m.push_str(&msg);
                        }
                        platform::warn(&m);
                    }
                    return None;
                }
                Outcome::Drop => {
                    *self.current.borrow_mut() = Current::Idle;
                    self.warn_dropped(status, doc.spans, message.as_deref());
                    return None;
                }
                Outcome::Retry(ra) => {
                    let wait = retry::backoff_ms(attempt, random(), ra);
                    // `forceFlush` promises an attempt, not a delivery: don't hold it through backoff.
                    self.resolve_waiters();
                    if attempt >= retry::MAX_ATTEMPTS {
                        self.warn_waiting(status, doc.spans);
                        *self.current.borrow_mut() = Current::Idle;
                        let mut docs = self.docs.borrow_mut();
                        docs.push_front(doc);
                        while docs.len() > MAX_WAITING_DOCS {
                            if let Some(d) = docs.pop_back() {
                                self.lost.set(self.lost.get() + d.spans as u64);
                            }
                        }
                        return Some(wait);
                    }
                    *self.current.borrow_mut() = Current::Waiting(doc);
                    sleep(wait).await;
                    match std::mem::replace(&mut *self.current.borrow_mut(), Current::Idle) {
                        Current::Waiting(d) => doc = d,
                        _ => return None, // page hide took it
                    }
                    attempt += 1;
                }
            }
        }
    }

    async fn post_once(&self, body: &str) -> (u16, Option<f64>, u32, Option<String>) {
        let (payload, size, gzipped) = if self.gzip {
            // Bytes, not a string: no UTF-8 decode into JS and re-encode in the Blob.
            match JsFuture::from(gzip(body.as_bytes())).await {
                Ok(bytes) => {
                    let n = bytes.unchecked_ref::<js_sys::Uint8Array>().length() as usize;
                    (bytes, n, true)
                }
                Err(_) => (JsValue::from_str(body), body.len(), false),
            }
        } else {
            (JsValue::from_str(body), body.len(), false)
        };
        // A small request rides keepalive, so it survives the page closing mid-flight.
        let keepalive = self.reserve_keepalive(size);
        let p = post(&self.fetch, &self.endpoint, &payload, &self.headers, keepalive, self.timeout_ms, gzipped);
        let r = JsFuture::from(p).await.unwrap_or(JsValue::UNDEFINED);
        if keepalive {
            self.release_keepalive(size);
        }
        let a: Array = r.dyn_into().unwrap_or_default();
        let status = a.get(0).as_f64().unwrap_or(0.0) as u16;
        let now = js_sys::Date::now();
        let ra = a.get(1).as_string().and_then(|v| retry::parse_retry_after(&v, now));
        (status, ra, a.get(2).as_f64().unwrap_or(0.0) as u32, a.get(3).as_string())
    }

    fn reserve_keepalive(&self, size: usize) -> bool {
        let fits = self.keepalive_bytes.get() + size <= KEEPALIVE_BUDGET_BYTES
            && self.keepalive_count.get() < KEEPALIVE_MAX_REQUESTS;
        if fits {
            self.keepalive_bytes.set(self.keepalive_bytes.get() + size);
            self.keepalive_count.set(self.keepalive_count.get() + 1);
        }
        fits
    }

    fn release_keepalive(&self, size: usize) {
        self.keepalive_bytes.set(self.keepalive_bytes.get().saturating_sub(size));
        self.keepalive_count.set(self.keepalive_count.get().saturating_sub(1));
    }

    fn warn_dropped(&self, status: u16, spans: usize, message: Option<&str>) {
        if self.warned.borrow().contains(&status) {
            return;
        }
        self.warned.borrow_mut().push(status);
        let mut m = String::from("export to ");
        m.push_str(&self.endpoint);
        m.push_str(" was refused with HTTP ");
        m.push_str(&status.to_string());
        m.push_str("; ");
        m.push_str(&spans.to_string());
        m.push_str(" span(s) dropped (not retryable)");
        if let Some(msg) = message.filter(|m| !m.is_empty()) {
            m.push_str(": ");
            m.push_str(msg);
        }
        platform::warn(&m);
    }

    fn warn_waiting(&self, status: u16, spans: usize) {
        // One warning per pipeline for "still failing"; status 0 stands for network errors.
        if self.warned.borrow().contains(&0) {
            return;
        }
        self.warned.borrow_mut().push(0);
        let mut m = String::from("export to ");
        m.push_str(&self.endpoint);
        if status == 0 {
            m.push_str(" failed (network error or timeout)");
        } else {
            m.push_str(" failed with HTTP ");
            m.push_str(&status.to_string());
        }
        m.push_str(" after ");
        m.push_str(&retry::MAX_ATTEMPTS.to_string());
        m.push_str(" attempts; ");
        m.push_str(&spans.to_string());
        m.push_str(" span(s) wait in the queue and will be retried");
        platform::warn(&m);
    }

    fn log_batch(&self, batch: &[SpanData], dropped: u64) {
        let mut msg = String::from("canopy: exporting ");
        msg.push_str(&batch.len().to_string());
        msg.push_str(" span(s)");
        if dropped > 0 {
            msg.push_str(" (");
            msg.push_str(&dropped.to_string());
            msg.push_str(" dropped: queue full)");
        }
        msg.push('\n');
        msg.push_str(&debug_tree::render(batch));
        platform::log(&msg);
    }

    /// Page hide: sends everything waiting at once (keepalive, then beacon), saves the rest.
    pub fn on_hide(&self) {
        let mut out: Vec<Doc> = Vec::new();
        if let Current::Waiting(_) = &*self.current.borrow() {
            if let Current::Waiting(d) = std::mem::replace(&mut *self.current.borrow_mut(), Current::Taken) {
                out.push(d);
            }
        }
        out.extend(self.docs.borrow_mut().drain(..));
        let (spans, dropped) = {
            let mut q = self.queue.borrow_mut();
            let mut all = Vec::with_capacity(q.len());
            loop {
                let b = q.take_batch();
                if b.is_empty() {
                    break;
                }
                all.extend(b);
            }
            (all, q.take_dropped())
        };
        if !spans.is_empty() || dropped > 0 {
            for (body, n) in self.encoder.encode_split(&spans, dropped, HIDE_DOC_BYTES) {
                out.push(Doc { body, spans: n });
            }
        }
        if out.is_empty() {
            return;
        }
        let offline = is_offline();
        let keep = Array::new();
        for doc in out {
            if offline {
                keep.push(&JsValue::from_str(&doc.body));
                continue;
            }
            let size = doc.body.len();
            if self.reserve_keepalive(size) {
                if send_keepalive(&self.fetch, &self.endpoint, &doc.body, &self.headers) {
                    // The page may be gone before it settles: the budget frees itself later.
                    self.release_keepalive_later(size);
                    continue;
                }
                self.release_keepalive(size);
            }
            if !beacon(&self.endpoint, &doc.body) {
                keep.push(&JsValue::from_str(&doc.body));
            }
        }
        if keep.length() > 0 {
            store(STORAGE_KEY, keep, STORAGE_MAX_BYTES);
        }
    }

    fn release_keepalive_later(&self, size: usize) {
        // Without awaiting (the page is going away), assume the request is done after a
        // generous delay if the page lives on (bfcache, tab switched back).
        let weak = SELF.with(|s| s.borrow().clone());
        let cb = Closure::once_into_js(move || {
            if let Some(p) = weak.and_then(|w| w.upgrade()) {
                p.release_keepalive(size);
            }
        });
        set_timeout(cb.unchecked_ref(), 10_000.0);
    }

    /// The `online` event: retry now.
    pub fn on_online(self: &Rc<Self>) {
        self.paused_until.set(0.0);
        self.kick();
    }

    /// A Promise that resolves once everything queued now has had an attempt: sent, refused,
    /// or waiting for a retry (it never waits through backoff).
    pub fn flush(self: &Rc<Self>) -> Promise {
        if !self.running.get() && self.queue.borrow().is_empty() && self.docs.borrow().is_empty() {
            return Promise::resolve(&JsValue::UNDEFINED);
        }
        let me = self.clone();
        let p = Promise::new(&mut |resolve, _reject| me.waiters.borrow_mut().push(resolve));
        self.kick();
        p
    }

    /// Stops accepting spans (call after the final flush).
    pub fn stop(&self) {
        self.stopped.set(true);
        if let Some(id) = self.timer.borrow_mut().take() {
            clear_timeout(&id);
        }
    }
}

thread_local! {
    /// The current pipeline, for the page-lifetime listeners.
    static SELF: RefCell<Option<Weak<Pipeline>>> = const { RefCell::new(None) };
}

/// Makes `p` the pipeline the hide/online listeners serve.
pub fn set_current(p: Option<&Rc<Pipeline>>) {
    SELF.with(|s| *s.borrow_mut() = p.map(Rc::downgrade));
}

fn current() -> Option<Rc<Pipeline>> {
    SELF.with(|s| s.borrow().as_ref().and_then(|w| w.upgrade()))
}

fn ensure_listeners() {
    LISTENERS.with(|l| {
        if !l.borrow().is_empty() {
            return;
        }
        let hide = Closure::<dyn FnMut()>::new(|| {
            super::instrument::finish_waiting();
            if let Some(p) = current() {
                p.on_hide();
            }
        });
        let online = Closure::<dyn FnMut()>::new(|| {
            if let Some(p) = current() {
                p.on_online();
            }
        });
        listen(hide.as_ref().unchecked_ref(), online.as_ref().unchecked_ref());
        *l.borrow_mut() = vec![hide, online];
    });
}

async fn sleep(ms: f64) {
    let p = Promise::new(&mut |resolve, _| {
        set_timeout(&resolve, ms);
    });
    let _ = JsFuture::from(p).await;
}
