//! The browser edge: the JavaScript API, the export pipeline, and what the page tells us.

#[allow(unused_imports)]
use crate::prelude::*;

#[cfg(feature = "auto")]
mod auto;
mod convert;
pub mod document;
mod handles;
pub mod instrument;
mod js_api;
mod js_config;
mod js_raw;
#[cfg(feature = "auto")]
mod page_load;
pub mod pipeline;
pub mod platform;
#[cfg(feature = "auto")]
mod session;
mod timer;
mod types;
#[cfg(feature = "auto")]
mod vitals;
#[cfg(not(feature = "auto"))]
mod without_auto;
#[cfg(not(feature = "auto"))]
use without_auto::{auto, page_load, session, vitals};

use crate::attribute::{self, KeyValue};
use crate::config::Config;
use crate::error::ConfigError;
use crate::resource::{Resource, SDK_VERSION};
use crate::tracer::Tracer;
use alloc::rc::Rc;
use core::cell::RefCell;
use js_sys::{Function, Promise};
use pipeline::PipelineProcessor;

use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;

struct Sdk {
    tracer: Tracer,
}

local! {
    static SDK: RefCell<Option<Sdk>> = RefCell::new(None);
}
local! {
    static NOOP: RefCell<Option<Tracer>> = RefCell::new(None);
}
local! {
    /// What the JavaScript API listens for while running: [`CAPTURE_CONSOLE`].
    static CAPTURE: core::cell::Cell<u32> = core::cell::Cell::new(0);
}

#[wasm_bindgen(module = "/js/error.js")]
extern "C" {
    #[wasm_bindgen(js_name = listenErrors)]
    fn listen_errors(on_error: &Function) -> Function;
}

/// `[type, message, stack, unhandledRejection, pageUrl]` (see `js/error.js`).
type UncaughtCb = dyn Fn(js_sys::Array);

local! {
    /// The page's uncaught-error and unhandled-rejection listener while `captureErrors` is on:
    /// the function that removes it, and the callback it calls.
    static ERRORS: RefCell<Option<(Function, Closure<UncaughtCb>)>> = RefCell::new(None);
}

/// Listens for the page's uncaught errors and unhandled rejections (`on`), or stops: the same
/// for the JavaScript API and for Rust apps.
fn listen_for_errors(on: bool) {
    let old = ERRORS.with(|e| e.borrow_mut().take());
    if let Some((stop, _)) = old {
        let _ = stop.call0(&JsValue::UNDEFINED);
    }
    if on {
        let cb = Closure::<UncaughtCb>::new(|a: js_sys::Array| {
            let s = |i| a.get(i).as_string();
            js_raw::uncaught(s(0), s(1), s(2), a.get(3).is_truthy(), s(4));
        });
        let stop = listen_errors(cb.as_ref().unchecked_ref());
        ERRORS.with(|e| *e.borrow_mut() = Some((stop, cb)));
    }
}

/// Rust apps: a span that Rust code made current with a guard and that is still on the stack
/// when a microtask runs (no Rust or JavaScript of the task that entered it runs any more) was
/// left by a panic (wasm32 does not unwind) or by a guard held across an `.await`; it is taken
/// off, so it parents nothing after. The interactions being dispatched stay (microtasks run
/// between two of their listeners). The npm package has no such guards: its JavaScript API's
/// `finally` pops what it pushes.
#[cfg(not(feature = "js-api"))]
mod stale {
    use super::{RefCell, auto, pipeline};
    use core::cell::Cell;
    use wasm_bindgen::JsCast;
    use wasm_bindgen::prelude::*;

    local! {
        /// The check, queued at most once at a time.
        static CHECK: RefCell<Option<Closure<dyn Fn()>>> = RefCell::new(None);
    }
    local! {
        static QUEUED: Cell<bool> = Cell::new(false);
    }

    /// Queues the check for the next microtask (see [`crate::context::after_guarded_push`]).
    pub fn queue() {
        if QUEUED.with(|q| q.replace(true)) {
            return;
        }
        let cb = CHECK.with(|c| {
            c.borrow_mut()
                .get_or_insert_with(|| {
                    Closure::new(|| {
                        QUEUED.with(|q| q.set(false));
                        crate::context::keep(auto::dispatching_depth());
                    })
                })
                .as_ref()
                .unchecked_ref::<JsValue>()
                .clone()
        });
        pipeline::soon(&cb);
    }
}

/// [`captures`] bit: the page's `console.*` calls as log records (`captureConsole`).
pub const CAPTURE_CONSOLE: u32 = js_raw::Boundary::CaptureConsole as u32;

/// What the page's JavaScript side is to capture while running (bits above).
pub fn captures() -> u32 {
    CAPTURE.with(|c| c.get())
}

local! {
    /// `webVitals`: the JavaScript API loads `web-vitals` and reports here while set.
    static WEB_VITALS: core::cell::Cell<bool> = core::cell::Cell::new(false);
}

/// True while Web Vitals are to be recorded (`webVitals`, on by default).
pub fn web_vitals() -> bool {
    WEB_VITALS.with(|c| c.get())
}

/// Starts Canopy from Rust and returns its tracer.
///
/// Validates `config`, resumes the tab's session, builds the resource (service, SDK, browser), reads the page's
/// `<meta name="traceparent">`, and starts the batch export pipeline. A second call while
/// running warns and returns the running tracer: there is never a second pipeline.
///
/// ```no_run
/// let tracer = canopy_web::init(canopy_web::Config::new("frontend"))?;
/// let _boot = tracer.start("boot");
/// # Ok::<(), canopy_web::ConfigError>(())
/// ```
///
/// This module is wasm32-only: native `cargo test` never sees the example above, and
/// `cargo test --doc --target wasm32-unknown-unknown` compiles it.
pub fn init(config: Config) -> Result<Tracer, ConfigError> {
    config.validate()?;
    if document::resolve_url(&config.endpoint).is_none() {
        // The browser's URL parser is the last word (the Rust rule mirrors its main cases).
        return Err(ConfigError { problems: vec![crate::error::ConfigProblem::InvalidEndpoint(config.endpoint)] });
    }
    if let Some(t) = SDK.with(|s| s.borrow().as_ref().map(|s| s.tracer.clone())) {
        platform::warn("init called while already running: keeping the first configuration");
        return Ok(t);
    }
    let fetch = match instrument::original_fetch() {
        Some(f) => f,
        None => {
            platform::warn("no fetch in this environment: spans will not be exported");
            return Ok(tracer());
        }
    };
    let seed = platform::seed();
    session::start();
    let resource = build_resource(&config);
    pipeline::start(&config, &resource, fetch);
    let tracer = Tracer::new(&config, seed, Rc::new(PipelineProcessor));
    tracer.set_document_parent(document::meta_parent().or_else(document::server_timing_parent));
    let page_load = config.document_load;
    page_load::expect(page_load);
    if document::document_complete() {
        match document::loaded_at() {
            Some(t) => tracer.close_document_parent_at(t),
            None => tracer.close_document_parent(),
        }
        if page_load {
            timer::once(0.0, page_load::record);
        }
    } else {
        let t = tracer.clone();
        let cb = timer::once_fn(move || {
            t.close_document_parent();
            // In a task after the load event, once its end is known.
            if page_load {
                timer::once(0.0, page_load::record);
            }
        });
        document::on_load(cb.unchecked_ref());
    }
    SDK.with(|s| *s.borrow_mut() = Some(Sdk { tracer: tracer.clone() }));
    instrument::install(&config);
    listen_for_errors(config.capture_errors);
    #[cfg(not(feature = "js-api"))]
    crate::context::after_guarded_push(Some(stale::queue));
    let capture = u32::from(config.capture_console && config.logs_endpoint().is_some()) * CAPTURE_CONSOLE;
    CAPTURE.with(|c| c.set(capture));
    auto::install(&config);
    WEB_VITALS.with(|c| c.set(config.web_vitals));
    Ok(tracer)
}

/// The running tracer, or a no-op tracer (spans propagate ids but record nothing) before
/// `init` and after `shutdown`.
pub fn tracer() -> Tracer {
    SDK.with(|s| s.borrow().as_ref().map(|s| s.tracer.clone()))
        .unwrap_or_else(|| NOOP.with(|n| n.borrow_mut().get_or_insert_with(Tracer::noop).clone()))
}

/// How long `forceFlush` lets in-flight fetch spans wait for their timing entries.
const FLUSH_TIMING_GRACE_MS: f64 = 100.0;

/// Sends everything queued and calls `done` once each batch has had an attempt. Fetch spans
/// still waiting for their resource timing entry get a short grace period, then end with what
/// is known.
pub fn flush_then(done: Function) {
    if !instrument::has_waiting() {
        return pipeline::flush(done);
    }
    timer::once(FLUSH_TIMING_GRACE_MS, move || {
        instrument::finish_waiting();
        pipeline::flush(done);
    });
}

/// Sends everything queued; the Promise resolves when each batch has had an attempt.
pub fn force_flush() -> Promise {
    Promise::new(&mut |resolve, _| flush_then(resolve))
}

/// Stops recording and patching at once, flushes what was recorded, then calls `done`; `init`
/// may run again afterwards.
pub fn shutdown_then(done: Function) {
    if SDK.with(|s| s.borrow().is_some()) {
        // What is known of INP and LCP so far (held until the page is hidden, LCP until its
        // final report) goes with the last export, through the running tracer.
        vitals::on_hide();
    }
    let Some(sdk) = SDK.with(|s| s.borrow_mut().take()) else {
        let _ = done.call0(&JsValue::UNDEFINED);
        return;
    };
    instrument::uninstall();
    auto::uninstall();
    listen_for_errors(false);
    page_load::expect(false);
    CAPTURE.with(|c| c.set(0));
    WEB_VITALS.with(|c| c.set(false));
    sdk.tracer.disable();
    pipeline::retire(done);
}

/// Flushes and stops; later spans are not recorded, and `init` may run again.
pub fn shutdown() -> Promise {
    Promise::new(&mut |resolve, _| shutdown_then(resolve))
}

fn build_resource(config: &Config) -> Resource {
    let mut attrs: Vec<KeyValue> = Vec::new();
    let mut set = |kv: KeyValue| {
        attribute::upsert(&mut attrs, kv, usize::MAX, None);
    };
    for kv in &config.resource_attributes {
        set(kv.clone());
    }
    set(KeyValue::new("service.name", config.service_name.clone()));
    if let Some(v) = &config.service_version {
        set(KeyValue::new("service.version", v.clone()));
    }
    if let Some(v) = &config.environment {
        set(KeyValue::new("deployment.environment.name", v.clone()));
    }
    set(KeyValue::new("telemetry.sdk.name", "canopy"));
    set(KeyValue::new("telemetry.sdk.version", SDK_VERSION));
    set(KeyValue::new("telemetry.sdk.language", "webjs"));
    for kv in document::browser_attributes() {
        set(kv);
    }
    Resource { attributes: attrs }
}
