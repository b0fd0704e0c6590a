//! Web Vitals at the browser edge: `js/vitals.js` runs Google's `web-vitals` library (loaded only
//! when `webVitals` is on) and hands each report here; [`crate::vitals`] decides the span.

#[allow(unused_imports)]
use crate::prelude::*;

use super::{convert, platform};
use crate::attribute::Value;
use crate::vitals::{HOLDS, Hold, METRICS, attributes, fields, final_report, held, interaction_window};
use core::cell::RefCell;
use js_sys::Array;
use wasm_bindgen::prelude::*;

local! {
    /// The latest report of each [held](crate::vitals::HOLDS) metric, recorded at page hide.
    static HOLD: RefCell<[Hold; HOLDS.len()]> = RefCell::new([Hold::new(), Hold::new()]);
}

/// The metrics to report and the fields to read for each, as
/// `[[name, [field, …], allChanges], …]` (`allChanges`: ask `web-vitals` for every change, a
/// [held](crate::vitals::held) metric; LCP is asked for both ways), or `undefined` when
/// `webVitals` is off (the JavaScript API then does not load the library).
#[wasm_bindgen(js_name = __webVitals)]
pub fn wanted() -> JsValue {
    if !super::web_vitals() {
        return JsValue::UNDEFINED;
    }
    let out = Array::new();
    for (name, fields) in METRICS {
        let f: Array = fields.iter().map(|(field, _)| JsValue::from_str(field)).collect();
        let held = held(name).is_some();
        let ask = |all: bool| out.push(&Array::of3(&JsValue::from_str(name), &f, &JsValue::from_bool(all)));
        ask(held);
        // A held metric with a final report is asked for twice: every change first, then as
        // usual. The order matters: `web-vitals` calls back in the order it was asked, so at the
        // first input (and at a back/forward cache restore) the report of every change is held
        // before the usual one records it (`Hold::finish`).
        if held && final_report(name) {
            ask(false);
        }
    }
    out.into()
}

/// One report of a metric: `values` are the fields [`wanted`] named, in order; `all_changes`:
/// the report came from the request for every change.
#[wasm_bindgen(js_name = __vital)]
pub fn vital(name: String, values: Array, all_changes: bool) {
    if !super::web_vitals() || fields(&name).is_none() {
        return;
    }
    let values: Vec<_> = values.iter().map(|v| convert::attr_value(&v)).collect();
    let Some(slot) = held(&name) else { return record(name, values) };
    let now = HOLD.with(|h| {
        let hold = &mut h.borrow_mut()[slot];
        if all_changes {
            hold.report(name, values);
            None
        } else {
            hold.finish(name, values)
        }
    });
    if let Some((name, values)) = now {
        record(name, values);
    }
}

/// The page is being hidden: records what is held, before the page-hide export takes what is
/// queued.
pub fn on_hide() {
    for slot in 0..HOLDS.len() {
        if let Some((name, values)) = HOLD.with(|h| h.borrow_mut()[slot].take()) {
            record(name, values);
        }
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
