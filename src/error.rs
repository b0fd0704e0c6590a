//! Error types. Each holds only what its function can really return.

#[allow(unused_imports)]
use crate::prelude::*;

use core::fmt;

/// One thing wrong with a configuration.
#[derive(Clone, Debug, PartialEq)]
pub enum ConfigProblem {
    /// The config was not an object.
    NotAnObject,
    /// `serviceName` is missing or blank.
    MissingServiceName,
    /// `endpoint` is neither an `http(s)` URL nor a path starting with `/`.
    InvalidEndpoint(String),
    /// `sampleRate` is outside `0..=1` (or not a number).
    SampleRateOutOfRange(f64),
    /// A header name is not an HTTP token, or its value contains CR, LF or NUL.
    InvalidHeader(String),
    /// A key holds a value of the wrong type.
    WrongType {
        /// The key, e.g. `batch.maxQueueSize`.
        key: &'static str,
        /// What it should hold.
        expected: &'static str,
    },
}

impl ConfigProblem {
    /// Appends the problem in words (by hand: `core::fmt` would cost the lean build its bytes).
    pub fn write_to(&self, out: &mut String) {
        match self {
            ConfigProblem::NotAnObject => {
                out.push_str("the config must be an object, e.g. init({ serviceName: \"my-app\" })")
            }
            ConfigProblem::MissingServiceName => out.push_str("serviceName is required (a non-empty string)"),
            ConfigProblem::InvalidEndpoint(e) => {
                out.push_str("endpoint \"");
                out.push_str(e);
                out.push_str("\" is not an http(s) URL or a path starting with \"/\"");
            }
            ConfigProblem::SampleRateOutOfRange(r) => {
                out.push_str("sampleRate must be a number from 0 to 1, got ");
                if r.is_nan() {
                    out.push_str("NaN");
                } else {
                    crate::export::otlp_json::push_f64(out, *r);
                }
            }
            ConfigProblem::InvalidHeader(h) => {
                out.push_str("header \"");
                out.push_str(h);
                out.push_str("\" is not a valid HTTP header name/value");
            }
            ConfigProblem::WrongType { key, expected } => {
                out.push_str(key);
                out.push_str(" must be ");
                out.push_str(expected);
            }
        }
    }
}

impl fmt::Display for ConfigProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = String::new();
        self.write_to(&mut s);
        f.write_str(&s)
    }
}

/// A configuration was rejected; `problems` lists everything to fix.
#[derive(Clone, Debug, PartialEq)]
pub struct ConfigError {
    /// Every problem found, in the order the keys were checked.
    pub problems: Vec<ConfigProblem>,
}

impl ConfigError {
    /// The message: `canopy: invalid config:` and one line per problem.
    pub fn message(&self) -> String {
        let mut s = String::from("canopy: invalid config:");
        for p in &self.problems {
            s.push_str("\n  - ");
            p.write_to(&mut s);
        }
        s
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message())
    }
}

impl core::error::Error for ConfigError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_lists_each_problem() {
        let e =
            ConfigError { problems: vec![ConfigProblem::MissingServiceName, ConfigProblem::SampleRateOutOfRange(2.0)] };
        assert_eq!(
            e.to_string(),
            "canopy: invalid config:\n  - serviceName is required (a non-empty string)\n  - sampleRate must be a number from 0 to 1, got 2"
        );
    }
}
