//! W3C Trace Context: the `traceparent` and `tracestate` headers.
//!
//! Parsing and formatting follow W3C Trace Context Level 2 exactly; see each module.

#[allow(unused_imports)]
use crate::prelude::*;

mod traceparent;
mod tracestate;
mod xray;

pub use traceparent::{TraceParentError, format_traceparent, parse_traceparent};
pub use tracestate::{TraceState, TraceStateError};
pub use xray::format_xray;
