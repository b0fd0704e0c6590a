//! Stand-ins for what a page records without code, when the crate is built without its `auto`
//! feature (the npm package's `canopy-web/core` entry; Rust apps with `default-features = false`):
//! no session, no page load, no interactions, route changes or long frames, no Web Vitals. The
//! callers are the same in both builds; here each call does nothing, so none of those modules'
//! code, JavaScript snippets or strings reach the .wasm.

/// Interactions, route changes and long animation frames (`auto.rs`).
pub mod auto {
    use crate::config::Config;

    pub fn install(_: &Config) {}
    pub fn uninstall() {}
    #[cfg_attr(feature = "js-api", allow(dead_code))]
    pub fn dispatching_depth() -> usize {
        0
    }
    pub fn with_interaction<R>(_: crate::ids::SpanId, _: impl FnOnce(&mut crate::span::Span) -> R) -> Option<R> {
        None
    }
}

/// The page load (`page_load.rs`).
pub mod page_load {
    pub fn expect(_: bool) {}
    pub fn record() {}
}

/// The tab's session (`session.rs`): no `session.id` on spans, no `baggage`.
pub mod session {
    use crate::attribute::KeyValue;
    #[allow(unused_imports)]
    use crate::prelude::*;

    pub fn start() {}
    pub fn current_id() -> Option<&'static str> {
        None
    }
    pub fn stamp(_: &mut Vec<KeyValue>, _: u64) {}
}

/// Web Vitals (`vitals.rs`): the JavaScript API asks which metrics to report and is told none,
/// so it never loads `web-vitals`. The exports stay, so one `api.js` serves both builds.
pub mod vitals {
    use wasm_bindgen::prelude::*;

    /// `undefined`: no metrics (as when `webVitals` is off).
    #[wasm_bindgen(js_name = __webVitals)]
    pub fn wanted() -> JsValue {
        JsValue::UNDEFINED
    }

    /// Never called (no metrics are asked for).
    #[wasm_bindgen(js_name = __vital)]
    pub fn vital(_name: JsValue, _values: JsValue, _all_changes: JsValue) {}

    /// Nothing is held.
    pub fn on_hide() {}
}
