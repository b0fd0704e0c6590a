//! The JavaScript entry points that are not per-span: `init`, `forceFlush`, `shutdown`, and
//! span construction from JS options. The per-span calls are in [`super::js_raw`]; the public
//! JavaScript API (`Span`, `startSpan`, `startActiveSpan`, `withSpan`, …) is `js/api.js`.

#[allow(unused_imports)]
use crate::prelude::*;

use super::platform;
use super::types::CanopyConfig;
use js_sys::Promise;
use wasm_bindgen::prelude::*;

/// Starts Canopy. Throws one `Error` listing every problem in `config`; warns about unknown
/// keys. A second call while running keeps the first pipeline and warns.
#[wasm_bindgen(js_name = init)]
pub fn init_js(config: CanopyConfig) -> Result<(), JsError> {
    // The development build reports a panic with its message and location on the console.
    #[cfg(feature = "dev")]
    console_error_panic_hook::set_once();
    let (parsed, warnings) = super::js_config::parse(&config);
    for w in &warnings {
        platform::warn(w);
    }
    match parsed {
        Ok(c) => super::init(c).map(|_| ()).map_err(|e| JsError::new(&e.message())),
        Err(e) => Err(JsError::new(&e.message())),
    }
}

/// What the JS API is to capture: the `Boundary.CaptureConsole` bit (`console.*` calls, through
/// `__log`). (The page's uncaught errors are listened for by `init` itself.)
#[wasm_bindgen(js_name = __captures)]
pub fn captures() -> u32 {
    super::captures()
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
