//! The resource: attributes that describe the whole page (service, SDK, browser).

#[allow(unused_imports)]
use crate::prelude::*;

use crate::attribute::KeyValue;

/// The instrumentation scope name written in every export.
pub const SCOPE_NAME: &str = "canopy-web";
/// The SDK version (this crate's).
pub const SDK_VERSION: &str = env!("CARGO_PKG_VERSION");

/// Attributes describing the entity that produced the spans.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Resource {
    /// The attributes, keys unique.
    pub attributes: Vec<KeyValue>,
}
