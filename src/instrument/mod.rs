//! Automatic instrumentation: client spans for the page's HTTP requests, and the rule that links
//! a user interaction to the one before it.
//!
//! [`http`] holds the pure rules (attributes, URL matching) and [`requests`] the decisions per
//! request (trace it or not, send `traceparent` or not, which timing entry ends which span);
//! the browser wrappers for `fetch` and `XMLHttpRequest` live in `web::instrument` and
//! `js/instrument.js`. [`interaction`] says which DOM event continues another's action.

#[allow(unused_imports)]
use crate::prelude::*;

pub mod http;
pub mod interaction;
pub mod requests;
