//! The browser edge: clock, randomness, console. Works in a window and in a worker.

#[allow(unused_imports)]
use crate::prelude::*;

use crate::time::PageClock;
use core::cell::Cell;
use js_sys::Reflect;
use wasm_bindgen::prelude::*;

#[wasm_bindgen(module = "/js/clock.js")]
extern "C" {
    /// `performance.now()`, through a module that looks `performance` up once (js/clock.js
    /// says what that saves).
    #[wasm_bindgen(js_name = now)]
    fn perf_now() -> f64;
    /// `performance.timeOrigin`, from the same `performance` object as [`perf_now`].
    #[wasm_bindgen(js_name = timeOrigin)]
    fn time_origin() -> f64;
}

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(catch, js_namespace = crypto, js_name = getRandomValues)]
    fn get_random_values(buf: &mut [u8]) -> Result<(), JsValue>;
}

local! {
    static CLOCK: Cell<Option<PageClock>> = Cell::new(None);
}

/// The page clock (created on first use).
pub fn clock() -> PageClock {
    CLOCK.with(|c| match c.get() {
        Some(k) => k,
        None => {
            let k = PageClock::new(time_origin());
            c.set(Some(k));
            k
        }
    })
}

/// Epoch nanoseconds now: `performance.timeOrigin + performance.now()`.
#[inline]
pub fn now() -> u64 {
    clock().at(perf_now())
}

/// `performance.now()`.
#[inline]
pub fn perf_now_ms() -> f64 {
    perf_now()
}

/// 32 bytes from `crypto.getRandomValues`, falling back to the clock if crypto is missing.
pub fn seed() -> [u8; 32] {
    let mut buf = [0u8; 32];
    if get_random_values(&mut buf).is_err() {
        let t = now().to_le_bytes();
        buf[..8].copy_from_slice(&t);
        buf[8..16].copy_from_slice(&((perf_now() * 1e3) as u64).to_le_bytes());
    }
    buf
}

/// A fresh random 128-bit id in hex, from the browser's CSPRNG (not from the tracer's id
/// generator, so it cannot be read off a `traceparent`). With no crypto, the clock.
pub fn random_id() -> String {
    let mut buf = [0u8; 16];
    if get_random_values(&mut buf).is_err() {
        buf[..16].copy_from_slice(&seed()[..16]);
    }
    crate::ids::TraceId(buf).to_hex()
}

/// `console.warn` with the `canopy:` prefix.
pub fn warn(msg: &str) {
    let mut s = String::with_capacity(8 + msg.len());
    s.push_str("canopy: ");
    s.push_str(msg);
    web_sys::console::warn_1(&JsValue::from_str(&s));
}

/// `console.log`, unprefixed.
pub fn log(msg: &str) {
    web_sys::console::log_1(&JsValue::from_str(msg));
}

/// A property of an object, `undefined` if reading it throws.
pub fn get(obj: &JsValue, key: &str) -> JsValue {
    if !obj.is_object() && !obj.is_function() {
        return JsValue::UNDEFINED;
    }
    Reflect::get(obj, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
}
