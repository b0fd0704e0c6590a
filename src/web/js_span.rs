//! The JavaScript `Span` class.

use super::convert;
use super::platform::get;
use super::types::{AttributeValue, Attributes, SpanContextObject, SpanOptions, SpanStatus, TimeInput};
use crate::attribute::{KeyValue, Str};
use crate::span::Span;
use crate::span_data::Status;
use js_sys::{Object, Reflect};
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::prelude::*;

/// A span being recorded. End it with `end()`; a span that is garbage-collected without
/// `end()` is never exported.
#[wasm_bindgen(js_name = Span)]
pub struct JsSpan {
    pub(crate) inner: Rc<RefCell<Span>>,
}

impl JsSpan {
    pub(crate) fn new(span: Span) -> JsSpan {
        JsSpan { inner: Rc::new(RefCell::new(span)) }
    }

    fn with(&self, f: impl FnOnce(&mut Span)) {
        // A re-entrant call (impossible in normal use) is ignored rather than panicking.
        if let Ok(mut s) = self.inner.try_borrow_mut() {
            f(&mut s);
        }
    }

    pub(crate) fn fail(&self, err: &JsValue) {
        let (kind, message, stack) = convert::exception(err);
        self.with(|s| {
            let status_msg = message.clone().unwrap_or(Str::Borrowed(""));
            s.record_exception(kind, message, stack, None);
            s.set_status(Status::Error(status_msg));
            s.end();
        });
    }
}

impl Drop for JsSpan {
    fn drop(&mut self) {
        if Rc::strong_count(&self.inner) == 1 {
            if let Ok(mut s) = self.inner.try_borrow_mut() {
                s.discard();
            }
        }
    }
}

#[wasm_bindgen(js_class = Span)]
impl JsSpan {
    /// Sets an attribute. Invalid values (objects, mixed arrays, null) are ignored.
    #[wasm_bindgen(js_name = setAttribute)]
    pub fn set_attribute(&self, key: String, value: AttributeValue) {
        if let Some(v) = convert::attr_value(&value) {
            self.with(|s| s.set_attribute(KeyValue { key: Str::Owned(key), value: v }));
        }
    }

    /// Sets several attributes.
    #[wasm_bindgen(js_name = setAttributes)]
    pub fn set_attributes(&self, attributes: Attributes) {
        let kvs = convert::attributes(&attributes);
        self.with(|s| s.set_attributes(kvs));
    }

    /// Adds an event: `addEvent(name, attributes?, time?)` or `addEvent(name, time)`.
    #[wasm_bindgen(js_name = addEvent, skip_typescript)]
    pub fn add_event(&self, name: String, attributes_or_time: JsValue, time: JsValue) {
        let (attrs, t) = match convert::time(&attributes_or_time) {
            Some(t) => (Vec::new(), Some(t)),
            None => (convert::attributes(&attributes_or_time), convert::time(&time)),
        };
        self.with(|s| match t {
            Some(t) => s.add_event_at(Str::Owned(name), t, attrs),
            None => s.add_event(Str::Owned(name), attrs),
        });
    }

    /// Records an exception as an `exception` event (type, message, stack trace).
    #[wasm_bindgen(js_name = recordException)]
    pub fn record_exception(
        &self,
        #[wasm_bindgen(unchecked_param_type = "unknown")] exception: JsValue,
        time: Option<TimeInput>,
    ) {
        let (kind, message, stack) = convert::exception(&exception);
        let t = time.and_then(|t| convert::time(&t));
        self.with(|s| s.record_exception(kind, message, stack, t));
    }

    /// Sets the status: `{ code: 0 | 1 | 2, message? }` (unset, ok, error).
    #[wasm_bindgen(js_name = setStatus)]
    pub fn set_status(&self, status: SpanStatus) {
        let code = get(&status, "code").as_f64().unwrap_or(0.0);
        let st = if code == 1.0 {
            Status::Ok
        } else if code == 2.0 {
            Status::Error(Str::Owned(get(&status, "message").as_string().unwrap_or_default()))
        } else {
            Status::Unset
        };
        self.with(|s| s.set_status(st));
    }

    /// Renames the span.
    #[wasm_bindgen(js_name = updateName)]
    pub fn update_name(&self, name: String) {
        self.with(|s| s.update_name(Str::Owned(name)));
    }

    /// Links this span to another.
    #[wasm_bindgen(js_name = addLink, skip_typescript)]
    pub fn add_link(&self, link: JsValue) {
        if let Some(cx) = convert::span_context(&get(&link, "context")) {
            let attrs = convert::attributes(&get(&link, "attributes"));
            self.with(|s| s.add_link(cx, attrs));
        }
    }

    /// Ends the span, now or at `endTime`. Later calls do nothing.
    pub fn end(&self, end_time: Option<TimeInput>) {
        let t = end_time.and_then(|t| convert::time(&t));
        self.with(|s| match t {
            Some(t) => s.end_at(t),
            None => s.end(),
        });
    }

    /// True while the span is sampled and not ended.
    #[wasm_bindgen(js_name = isRecording)]
    pub fn is_recording(&self) -> bool {
        self.inner.try_borrow().map(|s| s.is_recording()).unwrap_or(false)
    }

    /// `{ traceId, spanId, traceFlags, isRemote, traceState? }`.
    #[wasm_bindgen(js_name = spanContext)]
    pub fn span_context(&self) -> SpanContextObject {
        let o = Object::new();
        if let Ok(s) = self.inner.try_borrow() {
            let cx = s.span_context();
            let _ = Reflect::set(&o, &"traceId".into(), &JsValue::from_str(&cx.trace_id.to_hex()));
            let _ = Reflect::set(&o, &"spanId".into(), &JsValue::from_str(&cx.span_id.to_hex()));
            let _ = Reflect::set(&o, &"traceFlags".into(), &JsValue::from(cx.trace_flags.0));
            let _ = Reflect::set(&o, &"isRemote".into(), &JsValue::from_bool(cx.is_remote));
            if !cx.trace_state.is_empty() {
                let _ = Reflect::set(&o, &"traceState".into(), &JsValue::from_str(&cx.trace_state.header_value()));
            }
        }
        o.unchecked_into()
    }

    /// Starts a child of this span.
    #[wasm_bindgen(js_name = startSpan)]
    pub fn start_span(&self, name: String, options: Option<SpanOptions>) -> JsSpan {
        let parent = self.inner.try_borrow().map(|s| s.span_context().clone()).ok();
        let mut opts = options.map(|o| convert::span_opts(&o)).unwrap_or_default();
        if let Some(p) = parent {
            opts.parent = crate::span::Parent::Explicit(p);
        }
        super::js_api::start(name, opts)
    }

    /// Internal: records `err` as the failure of an active span's Promise and ends it.
    #[wasm_bindgen(js_name = __canopyFail, skip_typescript)]
    pub fn canopy_fail(&self, err: JsValue) {
        self.fail(&err);
    }
}
