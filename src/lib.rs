//! Canopy: browser tracing in Rust and WebAssembly.
//!
//! One trace per user action: the click, the fetches it caused, and the backend work behind
//! them, nested correctly, exported as OTLP/HTTP JSON.
//!
//! From Rust (Leptos, Yew, Dioxus, or any wasm app), start Canopy once with
//! `let tracer = canopy_web::init(Config::new("frontend"))?;` and keep the [`Tracer`] it
//! returns (`init`, and `tracer()` that gives it back anywhere, exist on wasm32 only: `init`
//! starts the browser's export pipeline). A span ends when dropped; a child names its parent, so
//! the tree stays right across `.await`; [`InSpan::in_span`] keeps a span current for a whole
//! future, so fetches inside it are its children; with the cargo feature `tracing`,
//! `tracing::CanopyLayer` records `tracing` spans and events (`#[instrument]`). The default
//! feature `auto` is what a page records without code (the session, the page load, interactions,
//! route changes, long animation frames, Web Vitals); `default-features = false` leaves it out of
//! the .wasm, and `init` then records only what the app and its requests do. The example runs
//! natively: its hidden setup builds the tracer with [`Tracer::new`] and an
//! [`InMemoryProcessor`](export::InMemoryProcessor).
//!
//! ```
//! # use canopy_web::{Config, Tracer, export::InMemoryProcessor};
//! # use std::rc::Rc;
//! # let spans = Rc::new(InMemoryProcessor::default());
//! # let tracer = Tracer::new(&Config::new("frontend"), [7; 32], spans.clone());
//! let load = tracer.start("loadData");
//! {
//!     let _fetch = load.child("fetchData"); // ends at the end of the block
//!     // fetch_data().await
//! }
//! let process = load.child("processData");
//! # drop(process);
//! # drop(load);
//! # let names: Vec<_> = spans.take().into_iter().map(|s| s.name).collect();
//! # assert_eq!(names, ["fetchData", "processData", "loadData"]);
//! ```
#![no_std]
#![warn(missing_docs)]

extern crate alloc;
// std where there is one to have: natively (tests, tools) and in the development build.
#[cfg(any(not(target_arch = "wasm32"), feature = "std", test))]
extern crate std;

mod ascii;
#[macro_use]
mod local;
mod float;
mod prelude;

pub mod attribute;
pub mod config;
pub mod context;
pub mod error;
pub mod export;
pub mod future;
pub mod ids;
pub mod instrument;
pub mod log_data;
pub mod propagation;
pub mod resource;
pub mod sampling;
pub mod session;
pub mod span;
pub mod span_context;
pub mod span_data;
pub mod time;
pub mod tracer;
#[cfg(feature = "tracing")]
pub mod tracing;
pub mod vitals;
#[cfg(target_arch = "wasm32")]
pub mod web;

pub use attribute::{KeyValue, Value};
pub use config::{BatchConfig, Config, SpanLimits, UrlPattern};
pub use error::{ConfigError, ConfigProblem};
pub use future::{InSpan, InSpanFuture};
pub use ids::{SpanId, TraceFlags, TraceId};
pub use log_data::{LogData, Severity};
pub use span::{Span, SpanBuilder};
pub use span_context::SpanContext;
pub use span_data::{SpanData, SpanKind, Status};
pub use tracer::Tracer;
#[cfg(target_arch = "wasm32")]
pub use web::{init, tracer};
