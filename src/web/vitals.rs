//! Web Vitals at the browser edge: `js/vitals.js` runs Google's `web-vitals` library (loaded only
//! when `webVitals` is on) and hands each report here; [`crate::vitals`] decides the span.

#[allow(unused_imports)]
use crate::prelude::*;

use super::{convert, platform};
use crate::attribute::Value;
use crate::vitals::{Hold, METRICS, attributes, fields, held, interaction_window};
use core::cell::RefCell;
use js_sys::Array;
use wasm_bindgen::prelude::*;

local! {
    /// INP's latest report, recorded at page hide ([`crate::vitals::held`]).
    static HOLD: RefCell<Hold> = RefCell::new(Hold::new());
}

/// The metrics to report and the fields to read for each, as
/// `[[name, [field, …], allChanges], …]` (`allChanges`: ask `web-vitals` for every change, a
/// [held](crate::vitals::held) metric), or `undefined` when `webVitals` is off (the JavaScript
/// API then does not load the library).
#[wasm_bindgen(js_name = __webVitals)]
pub fn wanted() -> JsValue {
    if !super::web_vitals() {
        return JsValue::UNDEFINED;
    }
    METRICS
        .iter()
        .map(|(name, fields)| {
            let f: Array = fields.iter().map(|(field, _)| JsValue::from_str(field)).collect();
            Array::of3(&JsValue::from_str(name), &f, &JsValue::from_bool(held(name)))
        })
        .collect::<Array>()
        .into()
}

/// One report of a metric: `values` are the fields [`wanted`] named, in order.
#[wasm_bindgen(js_name = __vital)]
pub fn vital(name: String, values: Array) {
    if !super::web_vitals() || fields(&name).is_none() {
        return;
    }
    let values: Vec<_> = values.iter().map(|v| convert::attr_value(&v)).collect();
    if held(&name) {
        HOLD.with(|h| h.borrow_mut().report(name, values));
    } else {
        record(name, values);
    }
}

/// The page is being hidden: records the held report, before the page-hide export takes what
/// is queued.
pub fn on_hide() {
    if let Some((name, values)) = HOLD.with(|h| h.borrow_mut().take()) {
        record(name, values);
    }
}

fn record(name: String, values: Vec<Option<Value>>) {
    let window = interaction_window(&name, &values);
    let t = super::tracer();
    let mut b = t.span(name.clone()).attributes(attributes(&name, values));
    let clock = platform::clock();
    if let Some((start, _)) = window {
        b = b.start_time(clock.at(start));
    }
    let mut span = b.start();
    match window {
        Some((start, duration)) => span.end_at(clock.at(start + duration)),
        None => span.end(),
    }
}
