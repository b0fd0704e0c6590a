//! The browser edge of the export pipeline: performs what [`Exporter`] decides.
//!
//! - Requests go through the original (unpatched) `fetch`, gzipped with `CompressionStream`
//!   when available, with `x-canopy-sent-at` (`js/transport.js`); one timer drives the delays.
//! - Page hide (`visibilitychange` → hidden, `pagehide`) carries out [`Exporter::on_hide`]'s
//!   plan: a beacon or a keepalive request per document, and `localStorage` for the rest, sent
//!   on the next page load of the origin (removed before sending, so never sent twice). What
//!   ends after the page has gone asks for the plan again ([`Wake::Hide`]), in a microtask.

#[allow(unused_imports)]
use crate::prelude::*;

use super::platform;
use super::timer::Timer;
use crate::config::Config;
use crate::export::SpanProcessor;
use crate::export::machine::{Action, Exporter, HidePlan, Notice, Via, Wake};
use crate::export::otlp_json::{Encoder, is_logs, push_u64};
use crate::export::retry;
use crate::log_data::LogData;
use crate::resource::Resource;
use crate::span_data::SpanData;
use alloc::rc::{Rc, Weak};
use core::cell::{Cell, RefCell};
use js_sys::{Function, Object, Reflect};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;

/// Where undelivered documents wait for the next page load.
pub const STORAGE_KEY: &str = "canopy.unsent.v1";
/// At most this much is kept in storage (oldest dropped first).
pub const STORAGE_MAX_BYTES: f64 = 1024.0 * 1024.0;

#[wasm_bindgen(module = "/js/transport.js")]
extern "C" {
    #[allow(clippy::too_many_arguments)]
    fn post(
        fetch: &Function,
        url: &str,
        bytes: &[u8],
        headers: &Object,
        keepalive: bool,
        timeout_ms: u32,
        gzip: bool,
        done: &Function,
    );
    #[wasm_bindgen(js_name = canGzip)]
    fn can_gzip() -> bool;
    fn beacon(url: &str, text: &str) -> bool;
    #[wasm_bindgen(js_name = sendKeepalive)]
    fn send_keepalive(fetch: &Function, url: &str, text: &str, headers: &Object) -> bool;
    #[wasm_bindgen(js_name = isOffline)]
    fn is_offline() -> bool;
    #[wasm_bindgen(js_name = isLeaving)]
    fn is_leaving() -> bool;
    pub(crate) fn soon(cb: &JsValue);
    #[wasm_bindgen(js_name = hideSoon)]
    fn hide_later();
    #[wasm_bindgen(js_name = takeStored)]
    fn take_stored(key: &str) -> Vec<String>;
    fn store(key: &str, docs: Vec<String>, max_bytes: f64);
    fn listen(on_hide: &Function, on_show: &Function, on_online: &Function);
}

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_namespace = Math, js_name = random)]
    fn random() -> f64;
}

/// `post`'s callback: status, `Retry-After`, spans rejected, the receiver's message.
type OnResponse = dyn FnMut(u16, Option<String>, f64, Option<String>);

/// Batches spans and delivers them.
pub struct Pipeline {
    machine: RefCell<Exporter>,
    endpoint: String,
    /// Where logs documents go; `None`: log records are not kept.
    logs_endpoint: Option<String>,
    headers: Object,
    timeout_ms: u32,
    gzip: bool,
    debug: bool,
    fetch: Function,
    timer: Timer,
    done: Closure<OnResponse>,
    /// `forceFlush` callers waiting for everything to have had an attempt.
    waiters: RefCell<Vec<Function>>,
    warned: RefCell<Vec<u16>>,
    /// A page-hide send is queued as a microtask ([`Wake::Hide`]).
    hide_soon: Cell<bool>,
    /// What a recorded page hide has still to send or store (see `on_hide`): here, not in a
    /// local, so that a hide stopped part-way leaves the rest to the next one.
    outbox: Cell<HidePlan>,
}

/// The handle the tracer holds.
pub struct PipelineProcessor;

impl SpanProcessor for PipelineProcessor {
    fn force_flush(&self) {
        if let Some(p) = current() {
            if let Some(mut m) = p.machine() {
                m.flush();
            }
            p.step();
        }
    }

    fn shutdown(&self) {
        stop();
    }

    fn on_end(&self, mut span: Box<SpanData>) {
        super::session::stamp(&mut span.attributes, span.end_time);
        if let Some(p) = current() {
            // Refused only after a page hide stopped mid-way (see `on_hide`) left its borrow: the
            // page is going away, and a span there must not trap into the page's code.
            let Ok(wake) = p.machine.try_borrow_mut().map(|mut m| m.on_end(span)) else { return };
            p.wake(wake);
        }
    }

    fn on_log(&self, mut log: LogData) {
        if let Some(p) = current().filter(|p| p.logs_endpoint.is_some()) {
            super::session::stamp(&mut log.attributes, log.time);
            let Ok(wake) = p.machine.try_borrow_mut().map(|mut m| m.on_log(log)) else { return };
            p.wake(wake);
        }
    }
}

local! {
    /// The running pipeline.
    static CURRENT: RefCell<Option<Rc<Pipeline>>> = RefCell::new(None);
}

local! {
    /// Pipelines that `shutdown` stopped and that are still flushing (each drops itself once its
    /// flush has had its attempt): an `init` in the meantime starts a new one beside them, and
    /// what they send leaves with their own configuration (what a page hide stores goes, as all
    /// stored documents do, with the next page load's).
    static RETIRING: RefCell<Vec<Rc<Pipeline>>> = RefCell::new(Vec::new());
}

/// The current pipeline and the retiring ones, for the page's life events.
fn every() -> Vec<Rc<Pipeline>> {
    let mut all = RETIRING.with(|r| r.borrow().clone());
    all.extend(current());
    all
}

local! {
    /// Page-lifetime listeners (hide, show, online) that reach whichever pipeline is current.
    static LISTENERS: RefCell<Option<(Closure<dyn Fn(bool)>, [Closure<dyn Fn()>; 2])>> = RefCell::new(None);
}

fn current() -> Option<Rc<Pipeline>> {
    CURRENT.with(|c| c.borrow().clone())
}

/// Starts the pipeline for `config`, sending with `fetch` (the original, saved before any
/// patching). Documents saved by an earlier page load go first.
pub fn start(config: &Config, resource: &Resource, fetch: Function) {
    let headers = Object::new();
    for (k, v) in &config.headers {
        let _ = Reflect::set(&headers, &JsValue::from_str(k), &JsValue::from_str(v));
    }
    let encoder = Encoder::new(resource, crate::resource::SCOPE_NAME, crate::resource::SDK_VERSION);
    let mut machine = Exporter::new(config.batch.clone(), encoder, config.headers.is_empty(), take_stored(STORAGE_KEY));
    machine.debug = config.debug;
    // The callbacks reach their own pipeline (a retiring one too), never another's.
    let p = Rc::new_cyclic(|me: &Weak<Pipeline>| Pipeline {
        machine: RefCell::new(machine),
        // Absolute: the export worker resolves nothing against the page.
        endpoint: super::document::resolve_url(&config.endpoint).unwrap_or_else(|| config.endpoint.clone()),
        logs_endpoint: config.logs_endpoint().map(|e| super::document::resolve_url(&e).unwrap_or(e)),
        headers,
        timeout_ms: config.batch.export_timeout_millis,
        gzip: config.compression && can_gzip(),
        debug: config.debug,
        fetch,
        timer: Timer::new({
            let me = me.clone();
            move || {
                if let Some(p) = me.upgrade() {
                    p.timer.fired();
                    p.step();
                }
            }
        }),
        done: Closure::new({
            let me = me.clone();
            move |status: u16, retry_after: Option<String>, rejected: f64, message: Option<String>| {
                if let Some(p) = me.upgrade() {
                    p.on_response(status, retry_after, rejected, message);
                }
            }
        }),
        waiters: RefCell::new(Vec::new()),
        warned: RefCell::new(Vec::new()),
        hide_soon: Cell::new(false),
        outbox: Cell::new(HidePlan::default()),
    });
    // `init` runs once until `shutdown`, which retires the pipeline: a current one is left only
    // by a start without that; it is retired the same way rather than dropped with its spans.
    let old = CURRENT.with(|c| c.borrow_mut().replace(p.clone()));
    if let Some(old) = old {
        retire_one(old, None);
    }
    ensure_listeners();
    p.step();
}

/// Sends everything queued; `done` is called once everything queued now has had an attempt:
/// sent, refused, or waiting for a retry (never through backoff).
pub fn flush(done: Function) {
    match current() {
        Some(p) => p.flush(done),
        None => {
            let _ = done.call0(&JsValue::UNDEFINED);
        }
    }
}

/// Shutdown: the current pipeline takes no more spans and flushes what it holds; once that has
/// had its attempt, the pipeline drops what is left and `done` is called.
pub fn retire(done: Function) {
    match CURRENT.with(|c| c.borrow_mut().take()) {
        Some(p) => retire_one(p, Some(done)),
        None => {
            let _ = done.call0(&JsValue::UNDEFINED);
        }
    }
}

fn retire_one(p: Rc<Pipeline>, done: Option<Function>) {
    RETIRING.with(|r| r.borrow_mut().push(p.clone()));
    let me = Rc::downgrade(&p);
    let after = super::timer::once_fn(move || {
        if let Some(p) = me.upgrade() {
            p.stop();
            RETIRING.with(|r| r.borrow_mut().retain(|q| !Rc::ptr_eq(q, &p)));
        }
        if let Some(done) = done {
            let _ = done.call0(&JsValue::UNDEFINED);
        }
    });
    p.flush(after.unchecked_into());
}

/// Stops the pipeline (after the final flush): later spans are not exported.
pub fn stop() {
    if let Some(p) = CURRENT.with(|c| c.borrow_mut().take()) {
        p.stop();
    }
}

impl Pipeline {
    /// The exporter, unless a call that Firefox stopped mid-way (closing a tab, see `on_hide`)
    /// left it borrowed: then nothing is exported any more, and what needs it skips instead of
    /// panicking into the page's code.
    fn machine(&self) -> Option<core::cell::RefMut<'_, Exporter>> {
        self.machine.try_borrow_mut().ok()
    }

    /// Sends everything queued; `done` is called once it has all had an attempt.
    fn flush(&self, done: Function) {
        self.waiters.borrow_mut().push(done);
        if let Some(mut m) = self.machine() {
            m.flush();
        }
        // A task later: a span the page ends right after asking (an XHR's, whose loadend
        // listener runs after the page's own) is queued by then and leaves with the flush.
        self.timer.arm(0.0);
    }

    /// Drops what is queued and answers the flush callers.
    fn stop(&self) {
        self.timer.clear();
        if let Some(mut m) = self.machine() {
            m.clear();
        }
        self.resolve_waiters();
    }

    /// Arms the timer as the exporter asked after a span or log record was queued.
    fn wake(self: &Rc<Self>, wake: Wake) {
        match wake {
            Wake::Unchanged => {}
            // Once the code that ended it returns: what one listener ends leaves together, by
            // the page hide's own path (which a stopped listener does not lose either).
            Wake::Hide => {
                if !self.hide_soon.replace(true) {
                    hide_later();
                }
            }
            Wake::Now => self.timer.arm(0.0),
            Wake::AfterDelay => {
                let now = platform::perf_now_ms();
                if let Some(at) = self.machine().map(|mut m| m.start_delay(now)) {
                    self.timer.arm(at - now);
                }
            }
        }
    }

    /// Where a document goes: logs documents to the logs endpoint, the rest to the traces one.
    fn url_for(&self, body: &str) -> &str {
        match &self.logs_endpoint {
            Some(l) if is_logs(body) => l,
            _ => &self.endpoint,
        }
    }

    /// Tells the exporter when a `pagehide` came while the page was still visible (its hide
    /// comes next): no request starts then, and a keepalive request's failure is its delivery.
    fn note_leaving(&self) {
        if is_leaving() {
            let offline = is_offline();
            if let Some(mut m) = self.machine() {
                m.on_leave(offline);
            }
        }
    }

    /// Does what the exporter asks now.
    fn step(&self) {
        let now = platform::perf_now_ms();
        self.note_leaving();
        let offline = is_offline();
        let Some(action) = self.machine().map(|mut m| m.next_action(now, offline)) else {
            // Nothing can be sent any more (see `machine`): a flush is not left waiting.
            self.resolve_waiters();
            return;
        };
        if self.debug {
            let trees = self.machine().map(|mut m| m.take_log()).unwrap_or_default();
            for tree in trees {
                platform::log(&tree);
            }
        }
        match action {
            Action::Send { keepalive } => {
                // A copy, so no borrow is held while JavaScript runs (a page's own fetch wrapper
                // may end a span synchronously, which comes back here).
                let body = self.machine().and_then(|m| m.in_flight().map(|d| d.body.clone()));
                if let Some(body) = body {
                    post(
                        &self.fetch,
                        self.url_for(&body),
                        body.as_bytes(),
                        &self.headers,
                        keepalive,
                        self.timeout_ms,
                        self.gzip,
                        self.done.as_ref().unchecked_ref(),
                    );
                }
            }
            Action::WaitUntil(t) => self.timer.arm(t - now),
            Action::Busy | Action::Idle => {}
        }
        if let Some(mut m) = self.machine().filter(|m| offline || m.settled(now)) {
            // Answered: what is left of the flush (paused, offline) waits as usual.
            m.end_flush();
            drop(m);
            self.resolve_waiters();
        }
    }

    fn on_response(&self, status: u16, retry_after: Option<String>, rejected: f64, message: Option<String>) {
        let ra = retry_after.and_then(|v| retry::parse_retry_after(&v, js_sys::Date::now()));
        let now = platform::perf_now_ms();
        self.note_leaving();
        let notice = self.machine().and_then(|mut m| m.on_response(now, status, ra, rejected as u64, random()));
        if let Some(n) = notice {
            self.warn(n, message.as_deref());
        }
        self.step();
    }

    fn resolve_waiters(&self) {
        let waiters = core::mem::take(&mut *self.waiters.borrow_mut());
        for w in waiters {
            let _ = w.call0(&JsValue::UNDEFINED);
        }
    }

    /// Words a notice, once per status (0: network errors and "still failing").
    fn warn(&self, notice: Notice, message: Option<&str>) {
        let key = match &notice {
            Notice::Rejected { .. } => 1,
            Notice::Refused { status, .. } => *status,
            Notice::Failing { .. } => 0,
        };
        if self.warned.borrow().contains(&key) {
            return;
        }
        self.warned.borrow_mut().push(key);
        let mut m = String::from("export to ");
        m.push_str(&self.endpoint);
        match notice {
            Notice::Rejected { spans } => {
                m.push_str(": the receiver rejected ");
                push_u64(&mut m, spans);
                m.push_str(" span(s)");
            }
            Notice::Refused { status, spans } => {
                m.push_str(" was refused with HTTP ");
                push_u64(&mut m, status as u64);
                m.push_str("; ");
                push_u64(&mut m, spans as u64);
                m.push_str(" span(s) dropped (not retryable)");
            }
            Notice::Failing { status, spans } => {
                if status == 0 {
                    m.push_str(" failed (network error or timeout)");
                } else {
                    m.push_str(" failed with HTTP ");
                    push_u64(&mut m, status as u64);
                }
                m.push_str(" after ");
                push_u64(&mut m, retry::MAX_ATTEMPTS as u64);
                m.push_str(" attempts; ");
                push_u64(&mut m, spans as u64);
                m.push_str(" span(s) wait in the queue and will be retried");
            }
        }
        if let Some(msg) = message.filter(|m| !m.is_empty()) {
            m.push_str(": ");
            m.push_str(msg);
        }
        platform::warn(&m);
    }

    /// Page hide: carries out the exporter's plan. Firefox closing a tab can stop this mid-call
    /// (seen while it encodes and around `sendBeacon`) and run the page's next listener; the
    /// edge then calls it again (see `listen` in js/transport.js). So it plans without holding
    /// a borrow and records the hide before anything is sent: a hide stopped while planning
    /// changed nothing, and the next one plans everything again. What the recorded plan sends
    /// waits in the outbox until sent (`send_outbox`), so a hide stopped while sending leaves
    /// the rest to the next one. A borrow that a stopped call left held makes the steps that
    /// need it skip, never panic.
    fn on_hide(&self, leaving: bool) {
        self.hide_soon.set(false);
        // What a hide stopped part-way left.
        self.send_outbox();
        let offline = is_offline();
        // SAFETY: no borrow is taken while planning, so a hide stopped there leaves none behind.
        // `try_borrow_unguarded` refuses while a mutable borrow is out, and `hide_plan` calls no
        // JavaScript, so nothing can borrow the exporter mutably until it returns.
        let plan = unsafe { self.machine.try_borrow_unguarded() }.map(|m| m.hide_plan(offline, leaving));
        // Freed once the exporter is no longer borrowed and everything has left (a stop while
        // freeing leaks memory only).
        let _taken = plan.ok().and_then(|plan| {
            let taken = self.machine.try_borrow_mut().ok()?.hidden(offline, leaving, &plan);
            self.outbox.set(plan);
            Some(taken)
        });
        self.send_outbox();
        // Everything queued has left or is stored: a flush waiting on it is answered (one with a
        // request still out, when that ends).
        let Ok(mut m) = self.machine.try_borrow_mut() else { return };
        if m.settled(platform::perf_now_ms()) {
            m.end_flush();
            drop(m);
            self.resolve_waiters();
        }
    }

    /// Sends what the outbox holds and stores what no way took. A document leaves the outbox
    /// once sent: a hide stopped before (Firefox closing a tab stops one inside `sendBeacon`,
    /// before the beacon has left: measured) leaves it to the next hide. One stopped right
    /// after the send (measured too) sends it again, byte for byte, which the relay drops as a
    /// copy: at least once rather than lost. Likewise a stop while it stores can store a
    /// document twice. Called by page hides and shows only, never from inside its own sends.
    fn send_outbox(&self) {
        loop {
            let mut out = self.outbox.take();
            let next = out.send.last().cloned();
            self.outbox.set(out);
            let Some((body, ways)) = next else { break };
            let sent = ways.iter().any(|via| match via {
                Via::Beacon => beacon(self.url_for(&body), &body),
                Via::Keepalive => send_keepalive(&self.fetch, self.url_for(&body), &body, &self.headers),
            });
            out = self.outbox.take();
            out.send.pop();
            if !sent {
                out.store.push(body);
            }
            self.outbox.set(out);
        }
        let out = self.outbox.take();
        let keep = out.store.clone();
        self.outbox.set(out);
        if !keep.is_empty() {
            store(STORAGE_KEY, keep, STORAGE_MAX_BYTES);
            self.outbox.take();
        }
    }
}

fn ensure_listeners() {
    LISTENERS.with(|l| {
        if l.borrow().is_some() {
            return;
        }
        // `Fn`, not `FnMut`: Firefox closing a tab can cut a listener off mid-call, and a
        // wasm-bindgen `FnMut` closure cut off so refuses every later call ("closure invoked
        // recursively"), so the page-hide send that follows would fail.
        let hide = Closure::<dyn Fn(bool)>::new(|leaving: bool| {
            super::instrument::finish_waiting();
            super::vitals::on_hide();
            for p in every() {
                p.on_hide(leaving);
            }
        });
        let show = Closure::<dyn Fn()>::new(|| {
            for p in every() {
                // What a hide stopped part-way, its retries too, left.
                p.send_outbox();
                if let Some(mut m) = p.machine() {
                    m.on_show();
                }
                p.step();
            }
        });
        let online = Closure::<dyn Fn()>::new(|| {
            for p in every() {
                if let Some(mut m) = p.machine() {
                    m.on_online();
                }
                p.step();
            }
        });
        listen(hide.as_ref().unchecked_ref(), show.as_ref().unchecked_ref(), online.as_ref().unchecked_ref());
        *l.borrow_mut() = Some((hide, [show, online]));
    });
}
