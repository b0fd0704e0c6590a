//! Automatic instrumentation: client spans for the page's HTTP requests.
//!
//! [`http`] holds the pure rules (attributes, URL matching); the browser wrappers for `fetch`
//! and `XMLHttpRequest` live in `web::instrument` and `js/instrument.js`.

#[allow(unused_imports)]
use crate::prelude::*;

pub mod http;
