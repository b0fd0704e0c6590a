//! Web Vitals at the browser edge: `js/vitals.js` runs Google's `web-vitals` library (loaded only
//! when `webVitals` is on) and hands each report here; [`crate::vitals`] decides the span.

#[allow(unused_imports)]
use crate::prelude::*;

use super::{convert, platform};
use crate::vitals::{METRICS, attributes, fields, interaction_window};
use js_sys::Array;
use wasm_bindgen::prelude::*;

/// The metrics to report and the fields to read for each, as
/// `[[name, [field, …]], …]`, or `undefined` when `webVitals` is off (the JavaScript API then
/// does not load the library).
#[wasm_bindgen(js_name = __webVitals)]
pub fn wanted() -> JsValue {
    if !super::web_vitals() {
        return JsValue::UNDEFINED;
    }
    METRICS
        .iter()
        .map(|(name, fields)| {
            let f: Array = fields.iter().map(|(field, _)| JsValue::from_str(field)).collect();
            Array::of2(&JsValue::from_str(name), &f)
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
