//! The README's Rust example is real code: its ```` ```rust ```` blocks are the regions of this
//! file between `// README begins` and `// README ends`, in order, and
//! [`readme_rust_blocks_are_this_file`] fails when the two drift apart.
//!
//! The first block calls `canopy_web::init`, which exists on wasm32 only (it starts the
//! browser's export pipeline): it is type-checked by `cargo clippy --target
//! wasm32-unknown-unknown --all-targets` (part of `make test`), not run. The second block, the
//! seed's `loadData` scenario, starts from the tracer and runs natively here, with an
//! [`InMemoryProcessor`] in place of the exporter.

use canopy_web::export::InMemoryProcessor;
use canopy_web::{Config, SpanData};
use std::future::Future;
use std::pin::pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

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

/// The app's own types and calls that the README example uses.
#[derive(Debug, PartialEq)]
struct Activity(String);

#[derive(Debug)]
struct FetchError;

/// Stands in for the app's HTTP call (gloo-net, reqwest, `web_sys` fetch).
async fn fetch_home() -> Result<String, FetchError> {
    Ok("Andrew Brown: Cloud is fun!\nWorf: I am out of prune juice".into())
}

fn parse_activities(body: &str) -> Vec<Activity> {
    body.lines().map(|l| Activity(l.into())).collect()
}

/// Polls `f` to completion (the example's futures never wait).
fn block_on<F: Future>(f: F) -> F::Output {
    let mut f = pin!(f);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
    }
}

fn by_name<'a>(spans: &'a [SpanData], name: &str) -> &'a SpanData {
    spans.iter().find(|s| s.name == name).unwrap_or_else(|| panic!("no span {name}"))
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
    assert_eq!(here.len(), 2, "this file marks two regions");
    assert_eq!(readme.len(), here.len(), "README.md's ```rust blocks and this file's regions");
    for (i, (r, h)) in readme.iter().zip(&here).enumerate() {
        assert_eq!(r, h, "README.md's ```rust block {} differs from region {} of tests/readme.rs", i + 1, i + 1);
    }
}
