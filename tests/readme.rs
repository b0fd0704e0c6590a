//! The README's Rust example is real code: its ```` ```rust ```` blocks are the regions of this
//! file between `// README begins` and `// README ends`, in order, and
//! [`readme_rust_blocks_are_this_file`] fails when the two drift apart.
//!
//! The blocks that call `canopy_web::init`, which exists on wasm32 only (it starts the
//! browser's export pipeline), are type-checked by `cargo clippy --target
//! wasm32-unknown-unknown --all-targets` (with `--features tracing` for the layer's; both part of
//! `make test`), not run. The others, the seed's `loadData` scenario three ways (Canopy's API,
//! `in_span`, `tracing` with the layer), start from the tracer and run natively here, with an
//! [`InMemoryProcessor`] in place of the exporter. The `tracing` one needs `--features tracing`.

mod common;

use canopy_web::export::InMemoryProcessor;
use canopy_web::{Config, SpanContext};
use common::{YieldOnce, block_on, by_name};
use std::cell::Cell;
use std::rc::Rc;

/// The README's first block.
#[cfg(target_arch = "wasm32")]
#[allow(dead_code)] // type-checked, not run: `init` needs a browser
fn start() -> Result<canopy_web::Tracer, canopy_web::ConfigError> {
    // README begins
    let tracer = canopy_web::init(canopy_web::Config::new("frontend"))?;
    // README ends
    Ok(tracer)
}

// README begins
use canopy_web::{KeyValue, Tracer};

/// Loads the home feed: `loadData`, with `fetchData` and then `processData` under it.
async fn load_data(tracer: &Tracer) -> Result<Vec<Activity>, FetchError> {
    let mut load = tracer.start("loadData"); // ends (and is exported) when dropped
    let body = {
        let _fetch = load.child("fetchData");
        fetch_home().await?
    }; // fetchData ends here
    let _process = load.child("processData");
    let activities = parse_activities(&body);
    load.set_attribute(KeyValue::new("app.activities", activities.len() as i64));
    Ok(activities)
}
// README ends

// README begins
use canopy_web::InSpan;

/// `loadData` is current while the future runs: the fetch's CLIENT span is its child.
async fn load_home(tracer: &Tracer) -> Result<Vec<Activity>, FetchError> {
    let load = tracer.start("loadData");
    async {
        let body = fetch_home().await?; // the patched fetch, gloo-net, web_sys
        Ok(parse_activities(&body))
    }
    .in_span(&load)
    .await
}
// README ends

/// The README's block that installs the layer.
#[cfg(all(target_arch = "wasm32", feature = "tracing"))]
#[allow(dead_code)] // type-checked, not run: `init` needs a browser
fn install_layer() -> Result<(), Box<dyn std::error::Error>> {
    // README begins
    use tracing_subscriber::layer::SubscriberExt;

    let tracer = canopy_web::init(canopy_web::Config::new("frontend"))?;
    let layer = canopy_web::tracing::CanopyLayer::new(); // records with canopy_web::tracer()
    tracing::subscriber::set_global_default(tracing_subscriber::registry().with(layer))?;
    // README ends
    drop(tracer);
    Ok(())
}

#[cfg(feature = "tracing")]
mod traced {
    use super::{Activity, FetchError, fetch_home, parse_activities};

    // README begins
    use tracing::{info, instrument};

    /// The same tree from `tracing`: `loadData`, with the fetch and `processData` under it.
    #[instrument(name = "loadData", skip_all)]
    async fn load_feed() -> Result<Vec<Activity>, FetchError> {
        let body = fetch_home().await?; // the fetch's CLIENT span is loadData's child
        let activities = process_data(&body);
        info!(count = activities.len(), "loaded"); // an event on loadData
        Ok(activities)
    }

    #[instrument(name = "processData", skip_all)]
    fn process_data(body: &str) -> Vec<Activity> {
        parse_activities(body)
    }
    // README ends

    #[test]
    fn readme_tracing_example_records_the_seed_tree() {
        use super::*;
        use canopy_web::attribute::Value;
        use canopy_web::tracing::CanopyLayer;
        use tracing_subscriber::layer::SubscriberExt;

        let spans = Rc::new(InMemoryProcessor::default());
        let tracer = Tracer::new(&Config::new("frontend"), [42; 32], spans.clone());
        let subscriber = tracing_subscriber::registry().with(CanopyLayer::with_tracer(&tracer));
        let activities = tracing::subscriber::with_default(subscriber, || block_on(load_feed()));
        assert_eq!(activities.expect("the stand-in fetch succeeds").len(), 2);

        let spans = spans.take();
        let (load, process) = (by_name(&spans, "loadData"), by_name(&spans, "processData"));
        assert!(!load.parent_span_id.is_valid(), "loadData is a root");
        assert_eq!(process.parent_span_id, load.span_context.span_id, "processData is under loadData");
        assert_eq!(FETCH_SAW.take(), Some(load.span_context.clone()), "the fetch ran with loadData current");
        assert_eq!(load.events[0].name, "loaded");
        assert!(load.events[0].attributes.contains(&KeyValue::new("count", Value::I64(2))));
    }
}

/// The app's own types and calls that the README example uses.
#[derive(Debug, PartialEq)]
struct Activity(String);

#[derive(Debug)]
struct FetchError;

thread_local! {
    /// The span that was current when [`fetch_home`] got its response: the parent the patched
    /// `fetch` would give its CLIENT span.
    static FETCH_SAW: Cell<Option<SpanContext>> = const { Cell::new(None) };
}

/// Stands in for the app's HTTP call (gloo-net, reqwest, `web_sys` fetch): waits once, as a
/// request does, and notes which span is current.
async fn fetch_home() -> Result<String, FetchError> {
    YieldOnce(false).await;
    FETCH_SAW.set(canopy_web::context::current());
    Ok("Andrew Brown: Cloud is fun!\nWorf: I am out of prune juice".into())
}

fn parse_activities(body: &str) -> Vec<Activity> {
    body.lines().map(|l| Activity(l.into())).collect()
}

#[test]
fn readme_example_records_the_seed_tree() {
    let spans = Rc::new(InMemoryProcessor::default());
    let tracer = Tracer::new(&Config::new("frontend"), [42; 32], spans.clone());

    let activities = block_on(load_data(&tracer)).expect("the stand-in fetch succeeds");
    assert_eq!(activities.len(), 2);
    assert_eq!(activities[0].0, "Andrew Brown: Cloud is fun!");

    let spans = spans.take();
    let names: Vec<&str> = spans.iter().map(|s| &*s.name).collect();
    assert_eq!(names, ["fetchData", "processData", "loadData"], "end order");
    let (load, fetch, process) =
        (by_name(&spans, "loadData"), by_name(&spans, "fetchData"), by_name(&spans, "processData"));
    assert!(!load.parent_span_id.is_valid(), "loadData is a root");
    for child in [fetch, process] {
        assert_eq!(child.parent_span_id, load.span_context.span_id, "{} is under loadData", child.name);
        assert_eq!(child.span_context.trace_id, load.span_context.trace_id);
    }
    assert!(process.start_time >= fetch.end_time, "processData starts after fetchData ended");
    assert_eq!(load.attributes, [KeyValue::new("app.activities", 2i64)]);
}

#[test]
fn readme_in_span_example_keeps_load_data_current_for_the_fetch() {
    let spans = Rc::new(InMemoryProcessor::default());
    let tracer = Tracer::new(&Config::new("frontend"), [42; 32], spans.clone());
    let activities = block_on(load_home(&tracer)).expect("the stand-in fetch succeeds");
    assert_eq!(activities.len(), 2);
    let spans = spans.take();
    let load = by_name(&spans, "loadData");
    assert_eq!(FETCH_SAW.take(), Some(load.span_context.clone()), "after the await, loadData is current");
    assert_eq!(canopy_web::context::current(), None, "and nothing afterwards");
}

/// The regions of `source` between the marker lines, each without its common indentation.
fn marked_regions(source: &str) -> Vec<String> {
    let mut regions = Vec::new();
    let mut current: Option<Vec<&str>> = None;
    for line in source.lines() {
        match (line.trim(), current.as_mut()) {
            ("// README begins", None) => current = Some(Vec::new()),
            ("// README ends", Some(_)) => regions.push(dedent(&current.take().unwrap_or_default())),
            (_, Some(lines)) => lines.push(line),
            (_, None) => {}
        }
    }
    assert!(current.is_none(), "a `// README begins` without its `// README ends`");
    regions
}

fn dedent(lines: &[&str]) -> String {
    let indent = lines.iter().filter(|l| !l.trim().is_empty()).map(|l| l.len() - l.trim_start().len()).min();
    let indent = indent.unwrap_or(0);
    lines.iter().map(|l| l.get(indent..).unwrap_or("").trim_end()).collect::<Vec<_>>().join("\n")
}

/// Every Rust code block of `markdown`, in order.
fn rust_blocks(markdown: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<Vec<&str>> = None;
    for line in markdown.lines() {
        match current.as_mut() {
            None if is_rust_fence(line.trim_end()) => current = Some(Vec::new()),
            Some(_) if line.trim_end() == "```" => blocks.push(current.take().unwrap_or_default().join("\n")),
            Some(lines) => lines.push(line.trim_end()),
            None => {}
        }
    }
    blocks
}

/// ```` ```rust ````, ```` ```rust,ignore ```` and the like, ```` ```rs ````.
fn is_rust_fence(line: &str) -> bool {
    line.strip_prefix("```").is_some_and(|lang| lang == "rs" || lang.split(',').next() == Some("rust"))
}

#[test]
fn readme_rust_blocks_are_this_file() {
    let readme = rust_blocks(include_str!("../README.md"));
    let here = marked_regions(include_str!("readme.rs"));
    assert_eq!(here.len(), 5, "this file marks five regions");
    assert_eq!(readme.len(), here.len(), "README.md's ```rust blocks and this file's regions");
    for (i, (r, h)) in readme.iter().zip(&here).enumerate() {
        assert_eq!(r, h, "README.md's ```rust block {} differs from region {} of tests/readme.rs", i + 1, i + 1);
    }
}
