//! The browser export pipeline: a batch queue drained by a timer, posted with the original
//! (unpatched) `fetch`, one request at a time.

use super::platform::{self, get, global_get};
use crate::config::Config;
use crate::export::SpanProcessor;
use crate::export::batch::{BatchQueue, Pushed};
use crate::export::debug_tree;
use crate::export::otlp_json::Encoder;
use crate::resource::Resource;
use crate::span_data::SpanData;
use js_sys::{Function, Object, Promise, Reflect};
use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_name = setTimeout)]
    fn set_timeout(cb: &Function, ms: u32) -> JsValue;
    #[wasm_bindgen(js_name = clearTimeout)]
    fn clear_timeout(id: &JsValue);
}

/// Batches spans and posts them as OTLP/HTTP JSON.
pub struct Pipeline {
    queue: RefCell<BatchQueue>,
    encoder: Encoder,
    endpoint: JsValue,
    headers: Object,
    timeout_ms: u32,
    delay_ms: u32,
    debug: bool,
    fetch: Function,
    running: Cell<bool>,
    timer: RefCell<Option<JsValue>>,
    timer_cb: RefCell<Option<Closure<dyn FnMut()>>>,
    waiters: RefCell<Vec<Function>>,
    stopped: Cell<bool>,
    warned: Cell<bool>,
}

/// The handle the tracer holds.
pub struct PipelineProcessor(pub Rc<Pipeline>);

impl SpanProcessor for PipelineProcessor {
    fn on_end(&self, span: SpanData) {
        self.0.on_end(span);
    }
}

impl Pipeline {
    /// A pipeline for `config`, sending with `fetch` (the original, saved before any patching).
    pub fn new(config: &Config, resource: &Resource, fetch: Function) -> Rc<Pipeline> {
        let headers = Object::new();
        let _ = Reflect::set(&headers, &"content-type".into(), &"application/json".into());
        for (k, v) in &config.headers {
            let _ = Reflect::set(&headers, &JsValue::from_str(k), &JsValue::from_str(v));
        }
        let p = Rc::new(Pipeline {
            queue: RefCell::new(BatchQueue::new(config.batch.clone())),
            encoder: Encoder::new(resource, crate::resource::SCOPE_NAME, crate::resource::SDK_VERSION),
            endpoint: JsValue::from_str(&config.endpoint),
            headers,
            timeout_ms: config.batch.export_timeout_millis,
            delay_ms: config.batch.scheduled_delay_millis,
            debug: config.debug,
            fetch,
            running: Cell::new(false),
            timer: RefCell::new(None),
            timer_cb: RefCell::new(None),
            waiters: RefCell::new(Vec::new()),
            stopped: Cell::new(false),
            warned: Cell::new(false),
        });
        let weak: Weak<Pipeline> = Rc::downgrade(&p);
        let cb = Closure::<dyn FnMut()>::new(move || {
            if let Some(p) = weak.upgrade() {
                p.timer.borrow_mut().take();
                p.kick();
            }
        });
        *p.timer_cb.borrow_mut() = Some(cb);
        p
    }

    fn on_end(self: &Rc<Self>, span: SpanData) {
        if self.stopped.get() {
            return;
        }
        let pushed = self.queue.borrow_mut().push(span);
        match pushed {
            Pushed::BatchReady => self.kick(),
            Pushed::Queued => self.arm_timer(),
            Pushed::Dropped => {}
        }
    }

    fn arm_timer(&self) {
        if self.running.get() || self.timer.borrow().is_some() {
            return;
        }
        if let Some(cb) = self.timer_cb.borrow().as_ref() {
            let id = set_timeout(cb.as_ref().unchecked_ref(), self.delay_ms);
            *self.timer.borrow_mut() = Some(id);
        }
    }

    /// Starts draining the queue unless a drain is already running.
    fn kick(self: &Rc<Self>) {
        if let Some(id) = self.timer.borrow_mut().take() {
            clear_timeout(&id);
        }
        if self.running.replace(true) {
            return;
        }
        let me = self.clone();
        wasm_bindgen_futures::spawn_local(async move {
            loop {
                let batch = me.queue.borrow_mut().take_batch();
                if batch.is_empty() {
                    break;
                }
                me.export(batch).await;
            }
            me.running.set(false);
            for w in me.waiters.borrow_mut().drain(..) {
                let _ = w.call0(&JsValue::UNDEFINED);
            }
        });
    }

    async fn export(&self, batch: Vec<SpanData>) {
        if self.debug {
            let mut msg = String::from("canopy: exporting ");
            msg.push_str(&batch.len().to_string());
            msg.push_str(" span(s)\n");
            msg.push_str(&debug_tree::render(&batch));
            platform::log(&msg);
        }
        let mut body = String::with_capacity(256 + batch.len() * 320);
        self.encoder.encode(&batch, &mut body);
        drop(batch);
        let init = Object::new();
        let _ = Reflect::set(&init, &"method".into(), &"POST".into());
        let _ = Reflect::set(&init, &"headers".into(), &self.headers);
        let _ = Reflect::set(&init, &"body".into(), &JsValue::from_str(&body));
        if let Ok(timeout) = get(&global_get("AbortSignal"), "timeout").dyn_into::<Function>() {
            if let Ok(sig) = timeout.call1(&global_get("AbortSignal"), &JsValue::from(self.timeout_ms)) {
                let _ = Reflect::set(&init, &"signal".into(), &sig);
            }
        }
        let result = match self.fetch.call2(&js_sys::global(), &self.endpoint, &init) {
            Ok(p) => match p.dyn_into::<Promise>() {
                Ok(p) => JsFuture::from(p).await,
                Err(v) => Err(v),
            },
            Err(e) => Err(e),
        };
        match result {
            Ok(resp) => {
                let status = get(&resp, "status").as_f64().unwrap_or(0.0) as u32;
                if !(200..300).contains(&status) {
                    let mut m = String::from("export to ");
                    m.push_str(&self.endpoint.as_string().unwrap_or_default());
                    m.push_str(" failed with HTTP ");
                    m.push_str(&status.to_string());
                    self.warn_once(&m);
                }
            }
            Err(e) => {
                let mut m = String::from("export to ");
                m.push_str(&self.endpoint.as_string().unwrap_or_default());
                m.push_str(" failed: ");
                m.push_str(&js_sys::JSON::stringify(&e).ok().and_then(|s| s.as_string()).unwrap_or_default());
                if let Some(msg) = get(&e, "message").as_string() {
                    m.push(' ');
                    m.push_str(&msg);
                }
                self.warn_once(&m);
            }
        }
    }

    fn warn_once(&self, msg: &str) {
        if !self.warned.replace(true) {
            platform::warn(msg);
        }
    }

    /// A Promise that resolves once everything queued now has been sent (or failed).
    pub fn flush(self: &Rc<Self>) -> Promise {
        if !self.running.get() && self.queue.borrow().is_empty() {
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
