//! Configuration, with every default in one place ([`defaults`]).
//!
//! The same structure backs the JavaScript `init(config)` and the Rust API.
//!
//! ```
//! use canopy_web::Config;
//!
//! let config = Config::new("frontend").with_endpoint("https://relay.example.com/v1/traces").with_sample_rate(0.25);
//! assert!(config.validate().is_ok());
//! assert_eq!(config.batch.max_export_batch_size, 512); // the rest keeps the defaults
//! ```

#[allow(unused_imports)]
use crate::prelude::*;

use crate::attribute::KeyValue;
use crate::error::{ConfigError, ConfigProblem};

/// Defaults, from the OpenTelemetry specification where it names one.
pub mod defaults {
    /// Where spans are posted: the relay's OTLP/HTTP traces path on the page's own origin.
    pub const ENDPOINT: &str = "/v1/traces";
    /// Fraction of new traces that are sampled (1.0 = all).
    pub const SAMPLE_RATE: f64 = 1.0;
    /// `OTEL_BSP_MAX_QUEUE_SIZE`.
    pub const MAX_QUEUE_SIZE: usize = 2048;
    /// `OTEL_BSP_MAX_EXPORT_BATCH_SIZE`.
    pub const MAX_EXPORT_BATCH_SIZE: usize = 512;
    /// `OTEL_BSP_SCHEDULE_DELAY`, milliseconds.
    pub const SCHEDULED_DELAY_MILLIS: u32 = 5000;
    /// `OTEL_BSP_EXPORT_TIMEOUT`, milliseconds.
    pub const EXPORT_TIMEOUT_MILLIS: u32 = 30000;
    /// Largest request body before compression, bytes; larger batches are split. Well under the
    /// relay's default body limit.
    pub const MAX_EXPORT_BYTES: usize = 512 * 1024;
    /// Gzip request bodies (where `CompressionStream` exists).
    pub const COMPRESSION: bool = true;
    /// `OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT`.
    pub const ATTRIBUTE_COUNT_LIMIT: usize = 128;
    /// `OTEL_SPAN_EVENT_COUNT_LIMIT`.
    pub const EVENT_COUNT_LIMIT: usize = 128;
    /// `OTEL_SPAN_LINK_COUNT_LIMIT`.
    pub const LINK_COUNT_LIMIT: usize = 128;
    /// `OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT`.
    pub const EVENT_ATTRIBUTE_COUNT_LIMIT: usize = 128;
    /// `OTEL_LINK_ATTRIBUTE_COUNT_LIMIT`.
    pub const LINK_ATTRIBUTE_COUNT_LIMIT: usize = 128;
    /// `OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT`: no limit by default.
    pub const ATTRIBUTE_VALUE_LENGTH_LIMIT: Option<usize> = None;
    /// A session ends after this long without a span, milliseconds (15 minutes, as Grafana Faro
    /// and Datadog RUM).
    pub const SESSION_INACTIVITY_MS: u64 = 15 * 60 * 1000;
    /// A session ends this long after it started, whatever the activity, milliseconds (4 hours).
    pub const SESSION_MAX_MS: u64 = 4 * 60 * 60 * 1000;
    /// `documentLoad`, `documentFetch` and `resourceFetch` spans for the page load.
    pub const DOCUMENT_LOAD: bool = true;
    /// Long animation frames (or long tasks) recorded as spans.
    pub const LONG_ANIMATION_FRAMES: bool = true;
    /// Frames (tasks) longer than this are long, milliseconds.
    pub const LONG_FRAME_MS: f64 = 50.0;
    /// Web Vitals (LCP, INP, CLS, FCP, TTFB) as spans, from Google's `web-vitals`.
    pub const WEB_VITALS: bool = true;
    /// A `routeChange` span per History API or hash navigation.
    pub const ROUTE_CHANGES: bool = true;
    /// The user interactions recorded as spans (DOM event types).
    pub const INTERACTIONS: &[&str] = &["click", "submit", "keydown"];
}

/// Batch span processor settings.
#[derive(Clone, Debug, PartialEq)]
pub struct BatchConfig {
    /// Spans held at most; more are dropped and counted.
    pub max_queue_size: usize,
    /// Spans per export request at most (never more than `max_queue_size`).
    pub max_export_batch_size: usize,
    /// Longest wait before queued spans are sent.
    pub scheduled_delay_millis: u32,
    /// An export request is abandoned after this long.
    pub export_timeout_millis: u32,
    /// Largest request body (before compression); larger batches are split into several.
    pub max_export_bytes: usize,
}

impl Default for BatchConfig {
    fn default() -> Self {
        BatchConfig {
            max_queue_size: defaults::MAX_QUEUE_SIZE,
            max_export_batch_size: defaults::MAX_EXPORT_BATCH_SIZE,
            scheduled_delay_millis: defaults::SCHEDULED_DELAY_MILLIS,
            export_timeout_millis: defaults::EXPORT_TIMEOUT_MILLIS,
            max_export_bytes: defaults::MAX_EXPORT_BYTES,
        }
    }
}

impl BatchConfig {
    /// The settings with impossible combinations fixed: a batch never exceeds the queue, and
    /// sizes are at least 1.
    pub fn normalized(mut self) -> Self {
        self.max_queue_size = self.max_queue_size.max(1);
        self.max_export_batch_size = self.max_export_batch_size.clamp(1, self.max_queue_size);
        self.max_export_bytes = self.max_export_bytes.max(1024);
        self
    }
}

/// Span limits, applied silently with a dropped count.
#[derive(Clone, Debug, PartialEq)]
pub struct SpanLimits {
    /// Attributes per span.
    pub attribute_count_limit: usize,
    /// Longest string attribute value in bytes (`None`: unlimited).
    pub attribute_value_length_limit: Option<usize>,
    /// Events per span.
    pub event_count_limit: usize,
    /// Links per span.
    pub link_count_limit: usize,
    /// Attributes per event.
    pub event_attribute_count_limit: usize,
    /// Attributes per link.
    pub link_attribute_count_limit: usize,
}

impl Default for SpanLimits {
    fn default() -> Self {
        SpanLimits {
            attribute_count_limit: defaults::ATTRIBUTE_COUNT_LIMIT,
            attribute_value_length_limit: defaults::ATTRIBUTE_VALUE_LENGTH_LIMIT,
            event_count_limit: defaults::EVENT_COUNT_LIMIT,
            link_count_limit: defaults::LINK_COUNT_LIMIT,
            event_attribute_count_limit: defaults::EVENT_ATTRIBUTE_COUNT_LIMIT,
            link_attribute_count_limit: defaults::LINK_ATTRIBUTE_COUNT_LIMIT,
        }
    }
}

/// A URL pattern for `propagateTraceHeaderCorsUrls` and `ignoreUrls`.
#[derive(Clone, Debug, PartialEq)]
pub enum UrlPattern {
    /// Matches the URL itself or any URL below it at a `/`, `?` or `#` boundary
    /// ([`crate::instrument::http::prefix_matches`]). In the browser, a pattern with a scheme or
    /// starting with `/` is first read as the page's URL parser reads it
    /// ([`crate::instrument::http::resolvable`]): `/api` is the page's origin.
    Prefix(String),
    /// A JavaScript regular expression (`source`, `flags`; `g` and `y` are ignored), tested
    /// against the absolute URL.
    Regex {
        /// The pattern source, e.g. `^https://api\\.example\\.com/`.
        source: String,
        /// Flags such as `i`.
        flags: String,
    },
}

/// Everything `init` takes.
///
/// [`Config::new`] fills every default from [`defaults`]; the `with_*` methods and the public
/// fields change them. [`Config::validate`] (which `init` runs first) reports every problem at
/// once rather than the first.
///
/// ```
/// use canopy_web::{Config, ConfigProblem};
///
/// let config = Config::new("frontend").with_header("x-team", "web");
/// assert_eq!((config.endpoint.as_str(), config.sample_rate), ("/v1/traces", 1.0));
///
/// let bad = Config::new(" ").with_sample_rate(2.0);
/// let err = bad.validate().unwrap_err();
/// assert_eq!(err.problems, [ConfigProblem::MissingServiceName, ConfigProblem::SampleRateOutOfRange(2.0)]);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    /// `service.name` (required).
    pub service_name: String,
    /// `service.version`.
    pub service_version: Option<String>,
    /// `deployment.environment.name`.
    pub environment: Option<String>,
    /// Absolute `http(s)` URL or a path on the page's origin.
    pub endpoint: String,
    /// Extra headers sent with every export.
    pub headers: Vec<(String, String)>,
    /// Fraction of new traces sampled, 0..=1.
    pub sample_rate: f64,
    /// Extra resource attributes.
    pub resource_attributes: Vec<KeyValue>,
    /// Log each exported batch as a span tree to the console.
    pub debug: bool,
    /// Batching.
    pub batch: BatchConfig,
    /// Gzip request bodies.
    pub compression: bool,
    /// Span limits.
    pub limits: SpanLimits,
    /// Create client spans for `fetch` (default on).
    pub instrument_fetch: bool,
    /// Create client spans for `XMLHttpRequest` (default on).
    pub instrument_xhr: bool,
    /// Record the page's uncaught errors and unhandled promise rejections (default on).
    pub capture_errors: bool,
    /// AWS X-Ray compatible trace ids (epoch seconds first) and `X-Amzn-Trace-Id` next to
    /// `traceparent` on the same requests (default off).
    pub xray: bool,
    /// Where log records are posted (OTLP/HTTP JSON logs). `None`: next to [`Config::endpoint`],
    /// when that ends in `/v1/traces` (see [`Config::logs_endpoint`]).
    pub logs_endpoint: Option<String>,
    /// Also record the page's `console.debug/log/info/warn/error` calls as log records
    /// (default off). The npm package's JavaScript API does the wrapping: a Rust app that calls
    /// `canopy_web::init` itself logs through `Tracer::log` or the `tracing` layer instead.
    pub capture_console: bool,
    /// Cross-origin URLs that get `traceparent`/`tracestate` (same-origin ones always do).
    pub propagate_trace_header_cors_urls: Vec<UrlPattern>,
    /// URLs that get no span and no headers.
    pub ignore_urls: Vec<UrlPattern>,
    /// Record the page load (`documentLoad`, `documentFetch`, `resourceFetch`) after the load event.
    pub document_load: bool,
    /// Record long animation frames (long tasks where that API is missing) over
    /// [`defaults::LONG_FRAME_MS`] as spans with their longest script's attribution.
    pub long_animation_frames: bool,
    /// Record Web Vitals with their attribution ([`crate::vitals`]). They come from Google's
    /// `web-vitals` npm library, which the npm package's JavaScript API loads: a Rust app that
    /// calls `canopy_web::init` itself, without the npm package, gets none.
    pub web_vitals: bool,
    /// Record a `routeChange` span when the URL changes through the History API
    /// (`pushState`/`replaceState`/`popstate`) or a hash change.
    pub route_changes: bool,
    /// DOM event types recorded as interaction spans (`click button#save`); empty: none.
    pub interactions: Vec<String>,
    /// Send `baggage: session.id=<id>` with `traceparent` (to the same URLs only), so a backend
    /// can put the browser session on its own spans and logs (default off).
    pub session_baggage: bool,
}

impl Config {
    /// A configuration with every default and the given service name.
    pub fn new(service_name: impl Into<String>) -> Self {
        Config {
            service_name: service_name.into(),
            service_version: None,
            environment: None,
            endpoint: defaults::ENDPOINT.to_string(),
            headers: Vec::new(),
            sample_rate: defaults::SAMPLE_RATE,
            resource_attributes: Vec::new(),
            debug: false,
            batch: BatchConfig::default(),
            compression: defaults::COMPRESSION,
            limits: SpanLimits::default(),
            instrument_fetch: true,
            instrument_xhr: true,
            xray: false,
            capture_errors: true,
            logs_endpoint: None,
            capture_console: false,
            propagate_trace_header_cors_urls: Vec::new(),
            ignore_urls: Vec::new(),
            document_load: defaults::DOCUMENT_LOAD,
            long_animation_frames: defaults::LONG_ANIMATION_FRAMES,
            web_vitals: defaults::WEB_VITALS,
            session_baggage: false,
            route_changes: defaults::ROUTE_CHANGES,
            interactions: defaults::INTERACTIONS.iter().map(|s| String::from(*s)).collect(),
        }
    }

    /// Turns on AWS X-Ray compatible trace ids and the `X-Amzn-Trace-Id` header.
    pub fn with_xray(mut self, xray: bool) -> Self {
        self.xray = xray;
        self
    }

    /// Sets the export endpoint.
    pub fn with_endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.endpoint = endpoint.into();
        self
    }

    /// Sets the root sample rate.
    pub fn with_sample_rate(mut self, rate: f64) -> Self {
        self.sample_rate = rate;
        self
    }

    /// Sets `service.version`.
    pub fn with_service_version(mut self, v: impl Into<String>) -> Self {
        self.service_version = Some(v.into());
        self
    }

    /// Sets `deployment.environment.name`.
    pub fn with_environment(mut self, v: impl Into<String>) -> Self {
        self.environment = Some(v.into());
        self
    }

    /// Adds an export header.
    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Sends `traceparent` to cross-origin URLs matching `pattern` as well.
    pub fn with_propagation_to(mut self, pattern: UrlPattern) -> Self {
        self.propagate_trace_header_cors_urls.push(pattern);
        self
    }

    /// Turns debug logging on or off.
    pub fn with_debug(mut self, debug: bool) -> Self {
        self.debug = debug;
        self
    }

    /// Where log records go: `logs_endpoint` when set, else the traces endpoint with its
    /// `/v1/traces` ending replaced by `/v1/logs` (OTLP/HTTP's paths), else nowhere (log
    /// records are then not recorded).
    ///
    /// ```
    /// # use canopy_web::Config;
    /// assert_eq!(Config::new("app").logs_endpoint().as_deref(), Some("/v1/logs"));
    /// let c = Config::new("app").with_endpoint("https://relay.example.com/otlp");
    /// assert_eq!(c.logs_endpoint(), None);
    /// ```
    pub fn logs_endpoint(&self) -> Option<String> {
        if let Some(e) = &self.logs_endpoint {
            return Some(e.clone());
        }
        let base = self.endpoint.strip_suffix("/v1/traces")?;
        let mut e = String::from(base);
        e.push_str("/v1/logs");
        Some(e)
    }

    /// Checks the configuration, listing every problem at once.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let mut problems = Vec::new();
        if self.service_name.trim().is_empty() {
            problems.push(ConfigProblem::MissingServiceName);
        }
        if !is_valid_endpoint(&self.endpoint) {
            problems.push(ConfigProblem::InvalidEndpoint(self.endpoint.clone()));
        }
        if let Some(e) = self.logs_endpoint.as_ref().filter(|e| !is_valid_endpoint(e)) {
            problems.push(ConfigProblem::InvalidEndpoint(e.clone()));
        }
        if !(0.0..=1.0).contains(&self.sample_rate) {
            // NaN fails `contains` too.
            problems.push(ConfigProblem::SampleRateOutOfRange(self.sample_rate));
        }
        for (name, value) in &self.headers {
            if !is_token(name) || value.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0) {
                problems.push(ConfigProblem::InvalidHeader(name.clone()));
            }
        }
        if problems.is_empty() { Ok(()) } else { Err(ConfigError { problems }) }
    }
}

/// An endpoint is an `http://` or `https://` URL with a host the URL parser accepts (no
/// forbidden host code points, a port of at most 65535), or a path starting with one `/`. No
/// whitespace or control characters anywhere. (The browser edge also runs `new URL` on it.)
pub fn is_valid_endpoint(s: &str) -> bool {
    if s.is_empty() || s.bytes().any(|b| b <= b' ' || b == 0x7f) {
        return false;
    }
    let rest = if let Some(r) = s.strip_prefix("https://") {
        r
    } else if let Some(r) = s.strip_prefix("http://") {
        r
    } else {
        return s.starts_with('/') && !s.starts_with("//");
    };
    let host_end = crate::ascii::find(rest, b"/?#\\").unwrap_or(rest.len());
    let authority = &rest[..host_end];
    let host_port = crate::ascii::rsplit_once(authority, b'@').map_or(authority, |(_, h)| h);
    let (host, port) = if let Some(v6) = host_port.strip_prefix('[') {
        match crate::ascii::split_once(v6, b']') {
            Some((addr, after))
                if !addr.is_empty() && addr.bytes().all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.') =>
            {
                (addr, after.strip_prefix(':'))
            }
            _ => return false,
        }
    } else {
        match crate::ascii::split_once(host_port, b':') {
            Some((h, p)) => (h, Some(p)),
            None => (host_port, None),
        }
    };
    let forbidden = b" #%/:<>?@[\\]^|";
    if host.is_empty() || (!host_port.starts_with('[') && host.bytes().any(|b| crate::ascii::is_in(forbidden, b))) {
        return false;
    }
    match port {
        None | Some("") => true,
        Some(p) => p.len() <= 5 && crate::ascii::parse_u64(p).is_some_and(|n| n <= 65535),
    }
}

/// An HTTP token (RFC 9110): the characters allowed in a header name.
fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || crate::ascii::is_in(b"!#$%&'*+-.^_`|~", b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints() {
        let rows: &[(&str, bool, &str)] = &[
            ("/v1/traces", true, "a path on the page's origin"),
            ("https://relay.example.com/v1/traces", true, "absolute https"),
            ("http://127.0.0.1:4318/v1/traces", true, "absolute http with port"),
            ("http://localhost:4318", true, "no path"),
            ("", false, "empty"),
            ("v1/traces", false, "relative without a slash"),
            ("//evil.example/v1/traces", false, "protocol-relative"),
            ("ftp://host/x", false, "wrong scheme"),
            ("https://", false, "no host"),
            ("https:///path", false, "empty host"),
            ("https://:80/x", false, "port without host"),
            ("https://exa mple.com", false, "whitespace"),
            ("/v1/traces\n", false, "control character"),
            ("not a url", false, "prose"),
            ("http://127.0.0.1:65535/v1/traces", true, "the largest port"),
            ("http://127.0.0.1:65536/v1/traces", false, "a port above 65535 (new URL throws)"),
            ("http://127.0.0.1:99999999999/x", false, "a port that overflows"),
            ("http://127.0.0.1:4x/x", false, "a port that is not a number"),
            ("http://127.0.0.1:/x", true, "an empty port is the default one"),
            ("http://[::1]:4318/v1/traces", true, "IPv6 with a port"),
            ("http://[::1/x", false, "unclosed IPv6 bracket"),
            ("http://exa<mple.com/x", false, "a forbidden host code point"),
            ("http://user:pw@host.example/x", true, "credentials are allowed by the parser"),
        ];
        for (input, want, why) in rows {
            assert_eq!(is_valid_endpoint(input), *want, "{input:?}: {why}");
        }
    }

    #[test]
    fn validate_lists_every_problem() {
        let mut c = Config::new(" ").with_endpoint("nope").with_sample_rate(1.5).with_header("bad name", "x");
        c.headers.push(("x-ok".into(), "a\r\nb".into()));
        let err = c.validate().unwrap_err();
        assert_eq!(
            err.problems,
            vec![
                ConfigProblem::MissingServiceName,
                ConfigProblem::InvalidEndpoint("nope".into()),
                ConfigProblem::SampleRateOutOfRange(1.5),
                ConfigProblem::InvalidHeader("bad name".into()),
                ConfigProblem::InvalidHeader("x-ok".into()),
            ]
        );
        assert!(Config::new("svc").with_sample_rate(f64::NAN).validate().is_err(), "NaN rate");
        assert!(Config::new("svc").validate().is_ok());
        assert!(Config::new("svc").with_sample_rate(0.0).validate().is_ok());
    }

    #[test]
    fn batch_normalized_fixes_impossible_combinations() {
        let b = BatchConfig { max_queue_size: 10, max_export_batch_size: 512, ..Default::default() }.normalized();
        assert_eq!(b.max_export_batch_size, 10);
        let b = BatchConfig { max_queue_size: 0, max_export_batch_size: 0, ..Default::default() }.normalized();
        assert_eq!((b.max_queue_size, b.max_export_batch_size), (1, 1));
        let d = BatchConfig::default();
        assert_eq!(
            (d.max_queue_size, d.max_export_batch_size, d.scheduled_delay_millis, d.export_timeout_millis),
            (2048, 512, 5000, 30000)
        );
    }
}
