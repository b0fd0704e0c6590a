//! The one timer helper: a callback that can be armed, re-armed and cleared.
//!
//! Modelled on gloo-timers' `Timeout`: the closure lives as long as the [`Timer`], and
//! arming again or dropping it clears what was pending, so a callback never runs for a timer
//! that no longer exists.

#[allow(unused_imports)]
use crate::prelude::*;

use core::cell::Cell;
use js_sys::Function;
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_name = setTimeout)]
    fn set_timeout(cb: &Function, ms: f64) -> f64;
    #[wasm_bindgen(js_name = clearTimeout)]
    fn clear_timeout(id: f64);
}

/// A re-armable timeout around one callback.
pub struct Timer {
    callback: Closure<dyn FnMut()>,
    pending: Cell<Option<f64>>,
}

impl Timer {
    /// A timer that runs `f` each time it fires.
    pub fn new(f: impl FnMut() + 'static) -> Timer {
        Timer { callback: Closure::new(f), pending: Cell::new(None) }
    }

    /// Fires after `ms` (0 when negative), replacing any pending firing.
    pub fn arm(&self, ms: f64) {
        self.clear();
        let id = set_timeout(self.callback.as_ref().unchecked_ref(), ms.max(0.0));
        self.pending.set(Some(id));
    }

    /// Marks the pending firing as done (call at the start of the callback).
    pub fn fired(&self) {
        self.pending.set(None);
    }

    /// Cancels the pending firing, if any.
    pub fn clear(&self) {
        if let Some(id) = self.pending.take() {
            clear_timeout(id);
        }
    }
}

impl Drop for Timer {
    fn drop(&mut self) {
        self.clear();
    }
}

/// Runs `f` once after `ms`.
pub fn once(ms: f64, f: impl FnOnce() + 'static) {
    let cb = once_fn(f);
    set_timeout(cb.unchecked_ref(), ms.max(0.0));
}

/// `f` as a JavaScript function that runs it once (a listener, a callback).
pub fn once_fn(f: impl FnOnce() + 'static) -> JsValue {
    boxed_once_fn(Box::new(f))
}

/// One `Closure::once_into_js` for every caller: each closure type given to it directly costs
/// about 250 B of .wasm.
fn boxed_once_fn(f: Box<dyn FnOnce()>) -> JsValue {
    Closure::once_into_js(f)
}
