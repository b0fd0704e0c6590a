//! The browser edge: the JavaScript API, the export pipeline, and what the page tells us.

mod convert;
pub mod document;
mod handles;
pub mod instrument;
mod js_api;
mod js_config;
mod js_raw;
pub mod pipeline;
pub mod platform;
mod types;

use crate::attribute::{self, KeyValue};
use crate::config::Config;
use crate::error::ConfigError;
use crate::ids::IdGenerator;
use crate::resource::{Resource, SDK_VERSION};
use crate::tracer::Tracer;
use js_sys::{Function, Promise};
use pipeline::{Pipeline, PipelineProcessor};
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;

struct Sdk {
    tracer: Tracer,
    pipeline: Rc<Pipeline>,
}

thread_local! {
    static SDK: RefCell<Option<Sdk>> = const { RefCell::new(None) };
    static NOOP: Tracer = Tracer::noop();
}

/// Starts Canopy from Rust and returns its tracer.
///
/// Validates `config`, builds the resource (service, SDK, browser, session), reads the page's
/// `<meta name="traceparent">`, and starts the batch export pipeline. A second call while
/// running warns and returns the running tracer: there is never a second pipeline.
///
/// ```ignore
/// let tracer = canopy_web::init(canopy_web::Config::new("frontend"))?;
/// let _span = tracer.start("boot");
/// ```
pub fn init(config: Config) -> Result<Tracer, ConfigError> {
    config.validate()?;
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
    let mut session_ids = IdGenerator::from_seed(seed);
    session_ids.trace_id();
    let session = document::session_id(|| session_ids.trace_id().to_hex());
    let resource = build_resource(&config, session);
    let pipeline = Pipeline::new(&config, &resource, fetch);
    let tracer = Tracer::new(&config, seed, Rc::new(PipelineProcessor(pipeline.clone())));
    tracer.set_document_parent(document::meta_parent());
    if document::document_complete() {
        tracer.close_document_parent();
    } else {
        let t = tracer.clone();
        let cb = Closure::once_into_js(move || t.close_document_parent());
        document::on_load(cb.unchecked_ref());
    }
    pipeline::set_current(Some(&pipeline));
    SDK.with(|s| *s.borrow_mut() = Some(Sdk { tracer: tracer.clone(), pipeline }));
    instrument::install(&config);
    Ok(tracer)
}

/// The running tracer, or a no-op tracer (spans propagate ids but record nothing) before
/// `init` and after `shutdown`.
pub fn tracer() -> Tracer {
    SDK.with(|s| s.borrow().as_ref().map(|s| s.tracer.clone())).unwrap_or_else(|| NOOP.with(|t| t.clone()))
}

/// How long `forceFlush` lets in-flight fetch spans wait for their timing entries.
const FLUSH_TIMING_GRACE_MS: i32 = 100;

/// Sends everything queued; the Promise resolves when done. Fetch spans still waiting for their
/// resource timing entry get a short grace period, then end with what is known.
pub fn force_flush() -> Promise {
    let Some(p) = SDK.with(|s| s.borrow().as_ref().map(|s| s.pipeline.clone())) else {
        return Promise::resolve(&JsValue::UNDEFINED);
    };
    if !instrument::has_waiting() {
        return p.flush();
    }
    wasm_bindgen_futures::future_to_promise(async move {
        sleep(FLUSH_TIMING_GRACE_MS).await;
        instrument::finish_waiting();
        let _ = wasm_bindgen_futures::JsFuture::from(p.flush()).await;
        Ok(JsValue::UNDEFINED)
    })
}

async fn sleep(ms: i32) {
    let p = Promise::new(&mut |resolve, _| {
        if let Ok(st) = platform::global_get("setTimeout").dyn_into::<Function>() {
            let _ = st.call2(&JsValue::UNDEFINED, &resolve, &JsValue::from(ms));
        } else {
            let _ = resolve.call0(&JsValue::UNDEFINED);
        }
    });
    let _ = wasm_bindgen_futures::JsFuture::from(p).await;
}

/// Flushes and stops; later spans are not recorded, and `init` may run again.
pub fn shutdown() -> Promise {
    let Some(sdk) = SDK.with(|s| s.borrow_mut().take()) else {
        return Promise::resolve(&JsValue::UNDEFINED);
    };
    instrument::uninstall();
    sdk.tracer.disable();
    let flushed = sdk.pipeline.flush();
    let pipeline = sdk.pipeline.clone();
    wasm_bindgen_futures::future_to_promise(async move {
        let _ = wasm_bindgen_futures::JsFuture::from(flushed).await;
        pipeline.stop();
        if SDK.with(|s| s.borrow().is_none()) {
            pipeline::set_current(None);
        }
        Ok(JsValue::UNDEFINED)
    })
}

fn build_resource(config: &Config, session_id: String) -> Resource {
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
    set(KeyValue::new("session.id", session_id));
    Resource { attributes: attrs }
}
