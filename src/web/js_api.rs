//! The JavaScript entry points that are not per-span: `init`, `forceFlush`, `shutdown`, and
//! span construction from JS options. The per-span calls are in [`super::js_raw`]; the public
//! JavaScript API (`Span`, `startSpan`, `startActiveSpan`, `withSpan`, …) is `js/api.js`.

use super::convert::SpanOpts;
use super::types::CanopyConfig;
use super::{platform, tracer};
use crate::attribute::Str;
use crate::span::Span;
use js_sys::Promise;
use wasm_bindgen::prelude::*;

/// Builds a span from JS options with the running tracer.
pub(crate) fn build(name: String, o: SpanOpts) -> Span {
    let t = tracer();
    let mut b = t.span(Str::Owned(name)).attributes(o.attributes).parent_choice(o.parent);
    if let Some(k) = o.kind {
        b = b.kind(k);
    }
    if let Some(s) = o.start_time {
        b = b.start_time(s);
    }
    for (cx, attrs) in o.links {
        b = b.link(cx, attrs);
    }
    b.start()
}

/// Starts Canopy. Throws one `Error` listing every problem in `config`; warns about unknown
/// keys. A second call while running keeps the first pipeline and warns.
#[wasm_bindgen(js_name = init)]
pub fn init_js(config: CanopyConfig) -> Result<(), JsError> {
    let (parsed, warnings) = super::js_config::parse(&config);
    for w in &warnings {
        platform::warn(w);
    }
    match parsed {
        Ok(c) => super::init(c).map(|_| ()).map_err(|e| JsError::new(&e.to_string())),
        Err(e) => Err(JsError::new(&e.to_string())),
    }
}

/// Sends everything queued; resolves when each batch has had an attempt.
#[wasm_bindgen(js_name = forceFlush, unchecked_return_type = "Promise<void>")]
pub fn force_flush() -> Promise {
    super::force_flush()
}

/// Flushes, then stops: later spans are not recorded. `init` may be called again afterwards.
#[wasm_bindgen(unchecked_return_type = "Promise<void>")]
pub fn shutdown() -> Promise {
    super::shutdown()
}
