//! `CanopyLayer` in the browser (feature `tracing`): `#[instrument]`ed async functions, run as
//! concurrent `spawn_local` tasks over timers and the patched `fetch`, export the right tree.

use super::*;
use canopy_web::context::current;
use canopy_web::tracing::CanopyLayer;
use tracing::{error, info, instrument};
use tracing_subscriber::layer::SubscriberExt;

#[instrument]
async fn tl_load_data(feed: &'static str, delay: u32) {
    // Timer awaits, so the two tasks interleave: the behaviour under test.
    sleep(delay).await;
    fetch_tagged(feed).await;
    sleep(delay).await;
    info!(feed, "fetched");
    tl_process_data(feed).await;
}

#[instrument]
async fn tl_process_data(feed: &'static str) {
    sleep(1).await; // an await inside the span (under test)
    if feed.ends_with("-b") {
        error!(error = %"no activities", "processing failed");
    }
}

#[wasm_bindgen_test]
async fn instrumented_async_fns_give_fetches_their_span_across_awaits() {
    let _sdk = start_sdk("tracing-app");
    let _subscriber = tracing::subscriber::set_default(tracing_subscriber::registry().with(CanopyLayer::new()));
    let a = spawn(tl_load_data("tracing-layer-a", 3));
    let b = spawn(tl_load_data("tracing-layer-b", 5));
    a.await.unwrap();
    assert_eq!(current(), None, "nothing current in the test's own task");
    b.await.unwrap();

    JsFuture::from(canopy_web::web::force_flush()).await.unwrap();
    let spans = received_spans().await;
    for feed in ["tracing-layer-a", "tracing-layer-b"] {
        let load = spans
            .iter()
            .find(|s| s["name"] == "tl_load_data" && attr(s, "feed").as_deref() == Some(feed))
            .unwrap_or_else(|| panic!("tl_load_data({feed}) exported"));
        let load_id = load["spanId"].as_str().unwrap();
        assert_eq!(parent(load), "", "a root");
        assert_eq!(attr(load, "level").as_deref(), Some("INFO"));
        assert_eq!(attr(load, "code.namespace").as_deref(), Some("web::tracing_layer"));
        assert_eq!(parent(client_span(&spans, feed)), load_id, "{feed}'s fetch is its child");
        assert_eq!(load["events"][0]["name"], "fetched");
        let process = spans
            .iter()
            .find(|s| s["name"] == "tl_process_data" && parent(s) == load_id)
            .unwrap_or_else(|| panic!("tl_process_data under {feed}'s load"));
        if feed.ends_with("-b") {
            assert_eq!(process["events"][0]["name"], "exception");
            assert_eq!(attr(&process["events"][0], "exception.message").as_deref(), Some("no activities"));
            assert_eq!(process["status"]["code"], 2, "error status");
        } else {
            assert!(process["events"].as_array().is_none_or(|e| e.is_empty()));
        }
    }
    JsFuture::from(canopy_web::web::shutdown()).await.unwrap();
}

#[wasm_bindgen_test]
async fn a_span_left_current_by_a_guard_that_never_dropped_is_taken_off_at_the_next_microtask() {
    let _sdk = start_sdk("stale-guard");
    let _subscriber = tracing::subscriber::set_default(tracing_subscriber::registry().with(CanopyLayer::new()));
    let entered = tracing::info_span!("left-current").entered();
    let stale = current().expect("entered: current");
    // What a panic leaves in wasm32, which does not unwind: the guard never drops.
    core::mem::forget(entered);
    assert_eq!(current(), Some(stale.clone()), "still current in this task");
    JsFuture::from(Promise::resolve(&JsValue::NULL)).await.unwrap();
    assert_eq!(current(), None, "taken off once the task is over");
    let after = canopy_web::tracer().start("after-the-stale-guard");
    assert_ne!(after.span_context().trace_id, stale.trace_id, "a new trace, not the stale span's child");
    drop(after);
    JsFuture::from(canopy_web::web::shutdown()).await.unwrap();
}
