//! Error types. Each holds only what its function can really return.

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

impl fmt::Display for ConfigProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigProblem::NotAnObject => {
                f.write_str("the config must be an object, e.g. init({ serviceName: \"my-app\" })")
            }
            ConfigProblem::MissingServiceName => f.write_str("serviceName is required (a non-empty string)"),
            ConfigProblem::InvalidEndpoint(e) => {
                write!(f, "endpoint \"{e}\" is not an http(s) URL or a path starting with \"/\"")
            }
            ConfigProblem::SampleRateOutOfRange(r) => {
                // Not `{r}`: f64 Display links the float formatter (~9 KB gzip) into the wasm.
                let mut n = String::new();
                if r.is_nan() {
                    n.push_str("NaN");
                } else {
                    crate::export::otlp_json::push_f64(&mut n, *r);
                }
                write!(f, "sampleRate must be a number from 0 to 1, got {n}")
            }
            ConfigProblem::InvalidHeader(h) => {
                write!(f, "header \"{h}\" is not a valid HTTP header name/value")
            }
            ConfigProblem::WrongType { key, expected } => write!(f, "{key} must be {expected}"),
        }
    }
}

/// A configuration was rejected; `problems` lists everything to fix.
#[derive(Clone, Debug, PartialEq)]
pub struct ConfigError {
    /// Every problem found, in the order the keys were checked.
    pub problems: Vec<ConfigProblem>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("canopy: invalid config:")?;
        for p in &self.problems {
            write!(f, "\n  - {p}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

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
