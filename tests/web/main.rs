//! The Rust API and the browser edge, in real headless Chromium (wasm-bindgen-test).
//!
//! `make test` runs this with a local sink started and its URL in `CANOPY_SINK` at build time, and
//! headless Chromium loading the runner's page through `tests/support/closing-proxy.mjs` (why: there).
#![cfg(target_arch = "wasm32")]

use canopy_web::web::{document, platform};
use canopy_web::{Config, ConfigProblem, KeyValue, SpanKind};
use js_sys::{Function, Promise, Reflect};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

mod in_span;
#[cfg(feature = "tracing")]
mod tracing_layer;

#[allow(clippy::option_env_unwrap)] // clippy builds without a sink; the test run has one.
fn sink() -> &'static str {
    option_env!("CANOPY_SINK").expect("build with CANOPY_SINK=http://127.0.0.1:PORT (make test does)")
}

async fn fetch_json(url: &str) -> JsValue {
    let fetch: Function = Reflect::get(&js_sys::global(), &"fetch".into()).unwrap().unchecked_into();
    let resp = JsFuture::from(fetch.call1(&JsValue::UNDEFINED, &url.into()).unwrap().unchecked_into::<Promise>())
        .await
        .unwrap();
    let json: Function = Reflect::get(&resp, &"json".into()).unwrap().unchecked_into();
    JsFuture::from(json.call0(&resp).unwrap().unchecked_into::<Promise>()).await.unwrap()
}

/// The spans the sink received, as OTLP JSON span objects.
async fn received_spans() -> Vec<serde_json::Value> {
    let mut url = sink().to_string();
    url.push_str("/received");
    let v = fetch_json(&url).await;
    let text = js_sys::JSON::stringify(&v).unwrap().as_string().unwrap();
    let parsed: serde_json::Value = serde_json::from_str(&text).unwrap();
    let mut out = Vec::new();
    for req in parsed.as_array().unwrap() {
        for rs in req["body"]["resourceSpans"].as_array().unwrap() {
            for ss in rs["scopeSpans"].as_array().unwrap() {
                out.extend(ss["spans"].as_array().unwrap().iter().cloned());
            }
        }
    }
    out
}

/// The spans the sink received, as (name, spanId, parentSpanId, kind).
async fn received() -> Vec<(String, String, String, f64)> {
    let spans = received_spans().await;
    spans
        .iter()
        .map(|s| {
            (
                s["name"].as_str().unwrap().to_string(),
                s["spanId"].as_str().unwrap().to_string(),
                s["parentSpanId"].as_str().unwrap_or("").to_string(),
                s["kind"].as_f64().unwrap(),
            )
        })
        .collect()
}

/// Starts the SDK exporting to the sink (stop it with `canopy_web::web::shutdown`).
fn start_sdk(service: &str) -> canopy_web::Tracer {
    let mut endpoint = sink().to_string();
    endpoint.push_str("/v1/traces");
    canopy_web::init(Config::new(service).with_endpoint(endpoint)).unwrap()
}

/// Resolves after `ms` milliseconds (a setTimeout Promise). The tests await it to cross a task
/// boundary (the behaviour under test: what is current across awaits, interleaved tasks), never to
/// wait for a condition.
async fn sleep(ms: u32) {
    let timeout = Function::new_with_args("ms", "return new Promise((r) => setTimeout(r, ms))");
    let p: Promise = timeout.call1(&JsValue::UNDEFINED, &ms.into()).unwrap().unchecked_into();
    JsFuture::from(p).await.unwrap();
}

/// Runs `f` as its own task (`spawn_local`); the returned future resolves when it is done.
fn spawn(f: impl core::future::Future<Output = ()> + 'static) -> JsFuture {
    let mut done = None;
    let finished = Promise::new(&mut |resolve, _| done = Some(resolve));
    let done = done.unwrap();
    wasm_bindgen_futures::spawn_local(async move {
        f.await;
        done.call0(&JsValue::UNDEFINED).unwrap();
    });
    JsFuture::from(finished)
}

/// A GET through the page's `fetch` (the patched one while the SDK runs), tagged in the query
/// so that its CLIENT span can be found with [`client_span`].
async fn fetch_tagged(tag: &str) {
    let mut url = sink().to_string();
    url.push_str("/received?from=");
    url.push_str(tag);
    fetch_json(&url).await;
}

/// The CLIENT span of [`fetch_tagged`]`(tag)`.
fn client_span<'a>(spans: &'a [serde_json::Value], tag: &str) -> &'a serde_json::Value {
    let suffix = format!("from={tag}");
    spans
        .iter()
        .find(|s| s["kind"] == 3 && attr(s, "url.full").is_some_and(|u| u.ends_with(&suffix)))
        .unwrap_or_else(|| panic!("no CLIENT span for {tag}"))
}

/// The exported span named `name`.
fn span_named<'a>(spans: &'a [serde_json::Value], name: &str) -> &'a serde_json::Value {
    spans.iter().find(|s| s["name"] == name).unwrap_or_else(|| panic!("{name} exported"))
}

/// A string, integer or boolean attribute of an exported span (or event), as text.
fn attr(span: &serde_json::Value, key: &str) -> Option<String> {
    let kv = span["attributes"].as_array()?.iter().find(|kv| kv["key"] == key)?;
    let v = &kv["value"];
    v["stringValue"]
        .as_str()
        .map(str::to_string)
        .or_else(|| v["intValue"].as_str().map(str::to_string))
        .or_else(|| v["boolValue"].as_bool().map(|b| b.to_string()))
}

/// The parent span id of an exported span ("" for a root).
fn parent(span: &serde_json::Value) -> &str {
    span["parentSpanId"].as_str().unwrap_or("")
}

#[wasm_bindgen_test]
fn clock_is_epoch_nanoseconds_and_monotonic() {
    let date_ns = js_sys::Date::now() * 1e6;
    let mut prev = platform::now();
    assert!((prev as f64 - date_ns).abs() < 5e9, "within 5 s of Date.now()");
    for _ in 0..1000 {
        let t = platform::now();
        assert!(t >= prev);
        prev = t;
    }
}

#[wasm_bindgen_test]
fn seeds_come_from_crypto() {
    let (a, b) = (platform::seed(), platform::seed());
    assert_ne!(a, b);
    assert_ne!(a, [0; 32]);
}

#[wasm_bindgen_test]
fn meta_traceparent_is_read_from_the_document() {
    assert!(document::meta_parent().is_none());
    let add = Function::new_no_args(
        "const m = document.createElement('meta'); m.name = 'traceparent';\
         m.content = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01'; m.id = 'tp'; document.head.appendChild(m);",
    );
    add.call0(&JsValue::UNDEFINED).unwrap();
    let cx = document::meta_parent().expect("parsed");
    assert_eq!(cx.trace_id.to_hex(), "0af7651916cd43dd8448eb211c80319c");
    assert_eq!(cx.span_id.to_hex(), "b7ad6b7169203331");
    assert!(cx.is_remote && cx.is_sampled());
    Function::new_no_args("document.getElementById('tp').remove()").call0(&JsValue::UNDEFINED).unwrap();
    assert!(document::meta_parent().is_none());
}

#[wasm_bindgen_test]
fn init_rejects_bad_config_with_typed_problems() {
    let err = canopy_web::init(Config::new("").with_endpoint("nope").with_sample_rate(-1.0)).unwrap_err();
    assert_eq!(
        err.problems,
        vec![
            ConfigProblem::MissingServiceName,
            ConfigProblem::InvalidEndpoint("nope".into()),
            ConfigProblem::SampleRateOutOfRange(-1.0),
        ]
    );
}

#[wasm_bindgen_test]
async fn rust_api_exports_a_correct_tree_to_a_real_endpoint() {
    let mut endpoint = sink().to_string();
    endpoint.push_str("/v1/traces");
    let tracer = canopy_web::init(Config::new("rust-app").with_endpoint(endpoint)).unwrap();
    let again = canopy_web::init(Config::new("other")).unwrap();
    {
        let mut load = tracer.start("rust-loadData");
        load.set_attribute(KeyValue::new("feed", "home"));
        {
            let _fetch = load.child_builder("rust-fetchData").kind(SpanKind::Client).start();
        }
        // After an await nothing is current; the explicit child API gives the right parent.
        JsFuture::from(Promise::resolve(&JsValue::NULL)).await.unwrap();
        let _process = load.child("rust-processData");
        again.in_span("rust-in-span", |_| drop(again.start("rust-nested")));
    }
    JsFuture::from(canopy_web::web::force_flush()).await.unwrap();
    let spans = received().await;
    let find = |n: &str| spans.iter().find(|s| s.0 == n).unwrap_or_else(|| panic!("{n} exported")).clone();
    let load = find("rust-loadData");
    assert_eq!(find("rust-fetchData").2, load.1);
    assert_eq!(find("rust-fetchData").3, 3.0, "client");
    assert_eq!(find("rust-processData").2, load.1);
    assert_eq!(find("rust-nested").2, find("rust-in-span").1);
    assert_eq!(load.2, "", "root");
    JsFuture::from(canopy_web::web::shutdown()).await.unwrap();
}

#[wasm_bindgen_test]
async fn rust_init_records_the_pages_uncaught_errors() {
    start_sdk("rust-errors");
    // What the browser does for an error no code caught: an `error` event on the window.
    let fire = Function::new_no_args(
        "const e = new TypeError('uncaught from a rust-initialised page'); \
         window.dispatchEvent(new ErrorEvent('error', { error: e, message: e.message }));",
    );
    fire.call0(&JsValue::UNDEFINED).unwrap();
    JsFuture::from(canopy_web::web::shutdown()).await.unwrap();
    let spans = received_spans().await;
    let with_it = spans.iter().find(|s| {
        s["events"].as_array().is_some_and(|evs| {
            evs.iter().any(|e| {
                e["attributes"].as_array().is_some_and(|a| {
                    a.iter().any(|kv| kv["value"]["stringValue"] == "uncaught from a rust-initialised page")
                })
            })
        })
    });
    let span = with_it.expect("an exception event with the error's message");
    assert_eq!(span["name"], "exception");
    assert_eq!(span["status"]["code"], 2, "error status");
}
