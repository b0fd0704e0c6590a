//! Automatic instrumentation: client spans for the page's HTTP requests.
//!
//! [`http`] holds the pure rules (attributes, URL matching) and [`requests`] the decisions per
//! request (trace it or not, send `traceparent` or not, which timing entry ends which span);
//! the browser wrappers for `fetch` and `XMLHttpRequest` live in `web::instrument` and
//! `js/instrument.js`.

#[allow(unused_imports)]
use crate::prelude::*;

pub mod http;
pub mod requests;
