//! Configuration: command-line flags with environment fallbacks, resolved into a [`Config`].
//!
//! The environment names are fixed so deployments can rely on them: `HONEYCOMB_API_KEY`,
//! `CANOPY_LISTEN`, `CANOPY_UPSTREAM`, `CANOPY_ALLOWED_ORIGINS`, `CANOPY_DATASET`, and a
//! `CANOPY_*` name for every other flag. Without a key and without an upstream the relay runs
//! local-only: it keeps traces in memory and serves the viewer.

use crate::cloudwatch::CloudWatchConfig;
use crate::error::ConfigError;
use crate::forward::{RetryPolicy, Upstream};
use crate::rollbar::RollbarConfig;
use crate::validate::Limits;
use axum::http::{HeaderName, HeaderValue};
use clap::builder::BoolishValueParser;
use clap::{Parser, ValueEnum};
use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

pub const HONEYCOMB_US: &str = "https://api.honeycomb.io/v1/traces";
pub const HONEYCOMB_EU: &str = "https://api.eu1.honeycomb.io/v1/traces";

/// A value that is never printed: `Debug` shows `[redacted]`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Secret {
        Secret(s.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Region {
    Us,
    Eu,
}

/// Canopy's relay: receives OTLP/HTTP traces and logs from browsers (and backends), validates
/// them, and forwards them to Honeycomb or any OTLP/HTTP endpoint with the API key kept
/// server-side (logs also to CloudWatch Logs).
/// Without a key or upstream it runs local-only with a trace viewer at http://LISTEN/.
#[derive(Parser, Debug)]
#[command(name = "canopy-relay", version)]
pub struct Args {
    /// Address to listen on (4318 is the OTLP/HTTP port).
    #[arg(long, env = "CANOPY_LISTEN", default_value = "127.0.0.1:4318")]
    pub listen: SocketAddr,
    /// OTLP/HTTP traces URL to forward to, e.g. http://collector:4318/v1/traces. Default when a
    /// key is set: Honeycomb (see --honeycomb-region).
    #[arg(long, env = "CANOPY_UPSTREAM")]
    pub upstream: Option<String>,
    /// Honeycomb API key, sent upstream as x-honeycomb-team. Prefer the environment variable
    /// (a flag shows in the process list). Never logged.
    #[arg(long, env = "HONEYCOMB_API_KEY", hide_env_values = true)]
    pub honeycomb_api_key: Option<String>,
    /// Send to the upstream through this HTTP(S) proxy (http://proxy:3128). HTTP_PROXY and
    /// HTTPS_PROXY are ignored: the key goes through a proxy only when you say so here.
    #[arg(long, env = "CANOPY_UPSTREAM_PROXY")]
    pub upstream_proxy: Option<String>,
    /// Honeycomb region used when no --upstream is given.
    #[arg(long, env = "CANOPY_HONEYCOMB_REGION", value_enum, default_value = "us")]
    pub honeycomb_region: Region,
    /// Honeycomb dataset, sent as x-honeycomb-dataset (only classic keys need it).
    #[arg(long, env = "CANOPY_DATASET")]
    pub dataset: Option<String>,
    /// Rollbar project token with the post_client_item scope (the items say platform "browser"):
    /// exceptions in received spans are also sent to Rollbar. Prefer the environment variable.
    /// Never logged, never sent to browsers.
    #[arg(long, env = "ROLLBAR_ACCESS_TOKEN", hide_env_values = true)]
    pub rollbar_access_token: Option<String>,
    /// Rollbar's item endpoint (a stand-in for tests, a proxy you run).
    #[arg(long, env = "ROLLBAR_ENDPOINT", default_value = crate::rollbar::ROLLBAR_ITEM_URL)]
    pub rollbar_endpoint: String,
    /// Rollbar `environment` for items whose resource has no deployment.environment.name.
    #[arg(long, env = "CANOPY_ROLLBAR_ENVIRONMENT", default_value = "production")]
    pub rollbar_environment: String,
    /// Origins allowed to post from a browser, comma-separated: https://app.example.com,
    /// https://*.example.com (any subdomain), or * (any origin). Other origins get 403; the
    /// relay's own origin is always allowed. Anything else is refused at startup.
    #[arg(long, env = "CANOPY_ALLOWED_ORIGINS", value_delimiter = ',')]
    pub allowed_origins: Vec<String>,
    /// Extra request headers CORS preflights may ask for, comma-separated, on top of
    /// content-type, content-encoding and x-canopy-sent-at.
    #[arg(long, env = "CANOPY_ALLOW_HEADERS", value_delimiter = ',')]
    pub allow_headers: Vec<String>,
    /// Keep the local viewer (and console trees) while forwarding. Boolean flags take
    /// true/false, 1/0, yes/no or on/off from the environment.
    #[arg(long, env = "CANOPY_TEE", value_parser = BoolishValueParser::new())]
    pub tee: bool,
    /// Do not print received traces to the console.
    #[arg(long, env = "CANOPY_QUIET", value_parser = BoolishValueParser::new())]
    pub quiet: bool,
    /// Serve the viewer and /metrics to any client; by default only to direct loopback
    /// clients with a loopback Host. Never where traces hold user data.
    #[arg(long, env = "CANOPY_PUBLIC_VIEWER", value_parser = BoolishValueParser::new())]
    pub public_viewer: bool,
    /// Serve the viewer and /metrics on this address instead of --listen (a loopback address,
    /// e.g. 127.0.0.1:4319): behind a reverse proxy, point the proxy at --listen only.
    #[arg(long, env = "CANOPY_ADMIN_LISTEN")]
    pub admin_listen: Option<SocketAddr>,
    /// Let anyone who sends `Authorization: Bearer <token>` read /metrics (e.g. Prometheus
    /// scraping from another host).
    #[arg(long, env = "CANOPY_METRICS_TOKEN", hide_env_values = true)]
    pub metrics_token: Option<String>,
    /// Correct span times when the browser clock is off by more than this (ms).
    #[arg(long, env = "CANOPY_SKEW_THRESHOLD_MS", default_value_t = 1000)]
    pub skew_threshold_ms: u64,
    /// Largest request body, compressed or not (bytes).
    #[arg(long, env = "CANOPY_MAX_BODY_BYTES", default_value_t = Limits::default().max_body_bytes)]
    pub max_body_bytes: usize,
    /// Largest body after gzip decompression (bytes).
    #[arg(long, env = "CANOPY_MAX_DECOMPRESSED_BYTES", default_value_t = Limits::default().max_decompressed_bytes)]
    pub max_decompressed_bytes: usize,
    /// Most spans in one request.
    #[arg(long, env = "CANOPY_MAX_SPANS", default_value_t = Limits::default().max_spans)]
    pub max_spans: usize,
    /// Most log records in one request.
    #[arg(long, env = "CANOPY_MAX_LOG_RECORDS", default_value_t = Limits::default().max_log_records)]
    pub max_log_records: usize,
    /// Most attributes on one span, event, link, log record, resource or scope.
    #[arg(long, env = "CANOPY_MAX_ATTRIBUTES", default_value_t = Limits::default().max_attributes)]
    pub max_attributes: usize,
    /// Longest string value, key or name (bytes).
    #[arg(long, env = "CANOPY_MAX_VALUE_BYTES", default_value_t = Limits::default().max_value_bytes)]
    pub max_value_bytes: usize,
    /// Requests per second per client IP (0: no limit); more get 429 with Retry-After.
    #[arg(long, env = "CANOPY_RATE_LIMIT", default_value_t = 20.0)]
    pub rate_limit: f64,
    /// Requests a client IP may send at once before the rate applies.
    #[arg(long, env = "CANOPY_RATE_BURST", default_value_t = 100)]
    pub rate_burst: u32,
    /// Spans per second per client IP (0: no limit); more get 429 with Retry-After. This is
    /// what bounds the upstream quota one address can spend.
    #[arg(long, env = "CANOPY_CLIENT_SPAN_RATE", default_value_t = 1000.0)]
    pub client_span_rate: f64,
    /// Spans a client IP may send at once before the span rate applies.
    #[arg(long, env = "CANOPY_CLIENT_SPAN_BURST", default_value_t = 20_000)]
    pub client_span_burst: u64,
    /// Bytes (after gzip decompression) per second per client IP (0: no limit).
    #[arg(long, env = "CANOPY_CLIENT_BYTE_RATE", default_value_t = 2.0 * (1 << 20) as f64)]
    pub client_byte_rate: f64,
    /// Bytes a client IP may send at once before the byte rate applies.
    #[arg(long, env = "CANOPY_CLIENT_BYTE_BURST", default_value_t = 32 << 20)]
    pub client_byte_burst: u64,
    /// Requests one client IP may have in flight (0: no cap); more get 429.
    #[arg(long, env = "CANOPY_MAX_IN_FLIGHT_PER_CLIENT", default_value_t = 8)]
    pub max_in_flight_per_client: usize,
    /// Slowest accepted upload, bytes a second averaged after the first second (0: off);
    /// slower bodies get 408.
    #[arg(long, env = "CANOPY_MIN_BODY_RATE", default_value_t = 8192)]
    pub min_body_rate: u64,
    /// Require this token in the x-canopy-token header of every export (401 otherwise); the
    /// SDK sends it with its `headers` option. Not a secret from your users (it ships in the
    /// page), but it keeps casual scripts out. sendBeacon cannot send it.
    #[arg(long, env = "CANOPY_INGEST_TOKEN", hide_env_values = true)]
    pub ingest_token: Option<String>,
    /// Take the client IP from this header (the rightmost address), e.g. x-forwarded-for. Only
    /// behind a proxy that sets it.
    #[arg(long, env = "CANOPY_CLIENT_IP_HEADER")]
    pub client_ip_header: Option<String>,
    /// Time a client has to send its headers, and then its body (ms).
    #[arg(long, env = "CANOPY_READ_TIMEOUT_MS", default_value_t = 5000)]
    pub read_timeout_ms: u64,
    /// Time one request may spend on upstream retries before the client gets 503 (ms).
    #[arg(long, env = "CANOPY_FORWARD_BUDGET_MS", default_value_t = 10_000)]
    pub forward_budget_ms: u64,
    /// Bytes of request bodies held in memory at once, charged as they arrive; past it, 503. One
    /// client's bodies may hold an eighth of it (at least one body); past that, 429.
    #[arg(long, env = "CANOPY_MAX_BODY_BYTES_IN_FLIGHT", default_value_t = 64 << 20)]
    pub max_body_bytes_in_flight: usize,
    /// Connections one client address may hold open (0: no cap); the relay holds 4096 in all.
    /// Not applied when CANOPY_CLIENT_IP_HEADER names the client (the connections are a proxy's).
    #[arg(long, env = "CANOPY_MAX_CONNECTIONS_PER_CLIENT", default_value_t = 256)]
    pub max_connections_per_client: usize,
    /// Bytes of upstream payloads (gzip protobuf) waiting on the upstream at once; past it, 503.
    #[arg(long, env = "CANOPY_MAX_FORWARD_BYTES", default_value_t = 64 << 20)]
    pub max_forward_bytes: usize,
    /// Requests processed (decoded, checked, encoded) at once; more get 503 with Retry-After.
    /// Waiting on the upstream does not count.
    #[arg(long, env = "CANOPY_MAX_IN_FLIGHT", default_value_t = 64)]
    pub max_in_flight: usize,
    /// Traces the local viewer keeps (oldest go first).
    #[arg(long, env = "CANOPY_STORE_TRACES", default_value_t = 1000)]
    pub store_traces: usize,
    /// Spans the local viewer keeps in all.
    #[arg(long, env = "CANOPY_STORE_SPANS", default_value_t = 100_000)]
    pub store_spans: usize,
    /// Bytes the local viewer keeps in all (estimated; oldest traces go first).
    #[arg(long, env = "CANOPY_STORE_BYTES", default_value_t = 32 << 20)]
    pub store_bytes: usize,
    /// Bytes one trace may take in the local viewer; its spans beyond are not kept.
    #[arg(long, env = "CANOPY_STORE_TRACE_BYTES", default_value_t = 4 << 20)]
    pub store_trace_bytes: usize,
    /// On SIGTERM/SIGINT, time to finish in-flight requests (ms).
    #[arg(long, env = "CANOPY_SHUTDOWN_GRACE_MS", default_value_t = 15_000)]
    pub shutdown_grace_ms: u64,
    /// Also send spans to the AWS X-Ray daemon at this host:port (UDP), e.g. 127.0.0.1:2000.
    /// Spans whose trace id is not X-Ray compatible are skipped (and counted).
    #[arg(long, env = "CANOPY_XRAY_DAEMON")]
    pub xray_daemon: Option<String>,
    /// Also send log records to this CloudWatch Logs log group (created if missing), with
    /// PutLogEvents. Credentials and region come from the standard AWS environment
    /// (AWS_REGION, AWS_ACCESS_KEY_ID, AWS_PROFILE, ...); AWS_ENDPOINT_URL points elsewhere.
    #[arg(long, env = "CANOPY_CLOUDWATCH_LOG_GROUP")]
    pub cloudwatch_log_group: Option<String>,
    /// The log stream in that group (created if missing).
    #[arg(long, env = "CANOPY_CLOUDWATCH_LOG_STREAM", default_value = crate::cloudwatch::DEFAULT_STREAM)]
    pub cloudwatch_log_stream: String,
}

/// The resolved configuration. `Config::default()` is local mode on 127.0.0.1:4318.
#[derive(Clone, Debug)]
pub struct Config {
    pub listen: SocketAddr,
    /// Forward here; `None` is local-only.
    pub upstream: Option<Upstream>,
    /// Send exceptions to Rollbar; `None` (no token) is off.
    pub rollbar: Option<RollbarConfig>,
    /// Keep traces for the viewer and `/api/traces`.
    pub store: bool,
    /// Print each received trace to the console (with `store`).
    pub print: bool,
    pub public_viewer: bool,
    /// A second listener for the viewer and `/metrics` (then not on `listen`).
    pub admin_listen: Option<SocketAddr>,
    pub metrics_token: Option<Secret>,
    pub allowed_origins: Vec<String>,
    pub allow_headers: Vec<String>,
    pub limits: Limits,
    pub skew_threshold_ms: u64,
    pub rate_limit: f64,
    pub rate_burst: u32,
    pub client_span_rate: f64,
    pub client_span_burst: u64,
    pub client_byte_rate: f64,
    pub client_byte_burst: u64,
    pub max_in_flight_per_client: usize,
    /// Connections per client address at most (0: no cap); see [`Config::connections_per_address`].
    pub max_connections_per_client: usize,
    /// Bytes a second; 0 is off.
    pub min_body_rate: u64,
    pub ingest_token: Option<Secret>,
    pub client_ip_header: Option<HeaderName>,
    pub read_timeout: Duration,
    pub retry: RetryPolicy,
    pub max_in_flight: usize,
    pub max_body_bytes_in_flight: usize,
    /// Bytes of upstream payloads waiting on the upstream at once (one larger payload may go alone).
    pub max_forward_bytes: usize,
    pub store_traces: usize,
    pub store_spans: usize,
    pub store_bytes: usize,
    pub store_trace_bytes: usize,
    pub shutdown_grace: Duration,
    /// Send X-Ray segment documents to this daemon; `None` is off.
    pub xray_daemon: Option<SocketAddr>,
    /// Send log records to CloudWatch Logs; `None` is off.
    pub cloudwatch: Option<CloudWatchConfig>,
}

impl Default for Config {
    fn default() -> Config {
        let args = Args::parse_without_env(["canopy-relay"]).expect("no arguments parse");
        Config::from_args(args).expect("the defaults are valid")
    }
}

impl Args {
    /// Parses `argv` ignoring the environment (for tests and `Config::default()`).
    pub fn parse_without_env<I: IntoIterator<Item = T>, T: Into<std::ffi::OsString> + Clone>(
        argv: I,
    ) -> Result<Args, clap::Error> {
        use clap::{CommandFactory, FromArgMatches};
        let cmd = Args::command().mut_args(|a| a.env(None::<&str>));
        Args::from_arg_matches(&cmd.try_get_matches_from(argv)?)
    }
}

impl Config {
    /// What one client's bodies in flight may hold together: an eighth of
    /// [`Config::max_body_bytes_in_flight`], and never less than one body, so that a few
    /// addresses cannot hold all of it.
    pub fn max_body_bytes_per_client(&self) -> usize {
        (self.max_body_bytes_in_flight / 8).max(self.limits.max_body_bytes)
    }

    /// Connections one client address may hold open at once (an IPv6 /64 is one address): none
    /// when the client's address comes from a header, since then every connection is the
    /// proxy's.
    pub fn connections_per_address(&self) -> usize {
        if self.client_ip_header.is_some() { 0 } else { self.max_connections_per_client }
    }

    /// Resolves flags: picks the upstream, checks URLs and names.
    pub fn from_args(a: Args) -> Result<Config, ConfigError> {
        let key = a.honeycomb_api_key.filter(|k| !k.trim().is_empty()).map(|k| Secret::new(k.trim()));
        let url = match (a.upstream.filter(|u| !u.trim().is_empty()), &key) {
            (Some(u), _) => Some(u),
            (None, Some(_)) if a.honeycomb_region == Region::Eu => Some(HONEYCOMB_EU.to_owned()),
            (None, Some(_)) => Some(HONEYCOMB_US.to_owned()),
            (None, None) => None,
        };
        let upstream = url.map(|u| parse_upstream(&u, key.is_some())).transpose()?;
        let proxy = a.upstream_proxy.filter(|p| !p.trim().is_empty()).map(|p| parse_proxy(&p)).transpose()?;
        let upstream =
            upstream.map(|url| Upstream { url, api_key: key, dataset: a.dataset.filter(|d| !d.is_empty()), proxy });
        let client_ip_header = a
            .client_ip_header
            .map(|h| HeaderName::try_from(h.trim()).map_err(|_| ConfigError::HeaderName(h.clone())))
            .transpose()?;
        for (name, rate) in [
            ("--rate-limit", a.rate_limit),
            ("--client-span-rate", a.client_span_rate),
            ("--client-byte-rate", a.client_byte_rate),
        ] {
            if !rate.is_finite() || rate < 0.0 {
                return Err(ConfigError::Rate(name));
            }
        }
        if a.ingest_token.as_ref().is_some_and(|t| !t.trim().is_empty() && HeaderValue::from_str(t.trim()).is_err()) {
            return Err(ConfigError::HeaderValue("CANOPY_INGEST_TOKEN"));
        }
        if a.admin_listen.is_some_and(|l| !l.ip().is_loopback()) && !a.public_viewer {
            return Err(ConfigError::AdminNotLoopback);
        }
        if a.max_in_flight == 0 || a.forward_budget_ms == 0 {
            return Err(ConfigError::Zero);
        }
        let limits = Limits {
            max_body_bytes: a.max_body_bytes,
            max_decompressed_bytes: a.max_decompressed_bytes,
            max_spans: a.max_spans,
            max_log_records: a.max_log_records,
            max_attributes: a.max_attributes,
            max_value_bytes: a.max_value_bytes,
            ..Limits::default()
        };
        let store = upstream.is_none() || a.tee;
        let rollbar = rollbar(a.rollbar_access_token, &a.rollbar_endpoint, a.rollbar_environment)?;
        Ok(Config {
            listen: a.listen,
            upstream,
            rollbar,
            store,
            print: store && !a.quiet,
            public_viewer: a.public_viewer,
            admin_listen: a.admin_listen,
            metrics_token: a.metrics_token.filter(|t| !t.trim().is_empty()).map(|t| Secret::new(t.trim())),
            allowed_origins: a.allowed_origins,
            allow_headers: a.allow_headers,
            limits,
            skew_threshold_ms: a.skew_threshold_ms,
            rate_limit: a.rate_limit,
            rate_burst: a.rate_burst,
            client_span_rate: a.client_span_rate,
            client_span_burst: a.client_span_burst,
            client_byte_rate: a.client_byte_rate,
            client_byte_burst: a.client_byte_burst,
            max_in_flight_per_client: a.max_in_flight_per_client,
            max_connections_per_client: a.max_connections_per_client,
            min_body_rate: a.min_body_rate,
            ingest_token: a.ingest_token.filter(|t| !t.trim().is_empty()).map(|t| Secret::new(t.trim())),
            client_ip_header,
            read_timeout: Duration::from_millis(a.read_timeout_ms.max(1)),
            retry: RetryPolicy { budget: Duration::from_millis(a.forward_budget_ms), ..RetryPolicy::default() },
            max_in_flight: a.max_in_flight,
            max_body_bytes_in_flight: a.max_body_bytes_in_flight.max(a.max_body_bytes),
            max_forward_bytes: a.max_forward_bytes.max(1),
            store_traces: a.store_traces.max(1),
            store_spans: a.store_spans.max(1),
            store_bytes: a.store_bytes.max(1),
            store_trace_bytes: a.store_trace_bytes.clamp(1, a.store_bytes.max(1)),
            shutdown_grace: Duration::from_millis(a.shutdown_grace_ms),
            xray_daemon: a.xray_daemon.filter(|d| !d.trim().is_empty()).map(|d| xray_daemon(&d)).transpose()?,
            cloudwatch: a
                .cloudwatch_log_group
                .filter(|g| !g.trim().is_empty())
                .map(|g| CloudWatchConfig::new(&g, &a.cloudwatch_log_stream))
                .transpose()?,
        })
    }

    /// One line per setting that matters, for the startup banner. Never shows the key.
    pub fn describe(&self) -> String {
        let mut lines = Vec::new();
        match &self.upstream {
            None => lines.push("mode: local only (no HONEYCOMB_API_KEY, no CANOPY_UPSTREAM)".to_owned()),
            Some(u) => {
                let key = if u.api_key.is_some() { "with x-honeycomb-team" } else { "without a key" };
                let ds = u.dataset.as_ref().map(|d| format!(", dataset {d:?}")).unwrap_or_default();
                let via = u
                    .proxy
                    .as_ref()
                    .map(|p| format!(" through the proxy {}", p.origin().ascii_serialization()))
                    .unwrap_or_default();
                lines.push(format!("forwarding to {} {key}{ds}{via}", u.url));
            }
        }
        if let Some(r) = &self.rollbar {
            lines.push(format!("Rollbar: exceptions to {} (environment fallback {:?})", r.endpoint, r.environment));
        }
        let admin = self.admin_listen.unwrap_or(self.listen);
        if self.store {
            lines.push(format!("viewer: http://{admin}/"));
        }
        // Blank entries (`CANOPY_ALLOWED_ORIGINS=`, `a,,b`) allow nothing: CORS skips them too.
        let origins: Vec<&str> = self.allowed_origins.iter().map(|o| o.trim()).filter(|o| !o.is_empty()).collect();
        if origins.is_empty() {
            lines.push("allowed origins: none besides the relay's own (set CANOPY_ALLOWED_ORIGINS)".into());
        } else {
            lines.push(format!("allowed origins: {}", origins.join(", ")));
        }
        let who = if self.public_viewer { "anyone (--public-viewer)" } else { "direct loopback requests only" };
        let token = if self.metrics_token.is_some() { "; /metrics also with its bearer token" } else { "" };
        lines.push(format!("viewer and /metrics: {who}{token}"));
        let rate = |r: f64, unit: &str| if r > 0.0 { format!("{r} {unit}/s") } else { format!("no {unit} limit") };
        let in_flight = match self.max_in_flight_per_client {
            0 => "no in-flight cap".to_owned(),
            n => format!("{n} in flight"),
        };
        let in_flight = match self.connections_per_address() {
            0 => in_flight,
            n => format!("{in_flight}, {n} connections"),
        };
        lines.push(format!(
            "per client: {}, {}, {}, {in_flight}{}",
            rate(self.rate_limit, "requests"),
            rate(self.client_span_rate, "spans"),
            rate(self.client_byte_rate, "bytes"),
            if self.ingest_token.is_some() { "; ingest token required" } else { "" }
        ));
        if let Some(daemon) = self.xray_daemon {
            lines.push(format!("X-Ray: segments to the daemon at {daemon} (UDP)"));
        }
        if self.upstream.as_ref().is_some_and(|u| !u.url.path().ends_with(crate::app::TRACES_PATH)) {
            lines.push(format!("logs: not forwarded (the upstream URL does not end in {})", crate::app::TRACES_PATH));
        }
        if let Some(c) = &self.cloudwatch {
            lines.push(format!("CloudWatch Logs: log records to {}/{}", c.log_group, c.log_stream));
        }
        lines.join("\n")
    }
}

/// The X-Ray daemon's address: host:port, the host resolved once, at startup.
fn xray_daemon(s: &str) -> Result<SocketAddr, ConfigError> {
    use std::net::ToSocketAddrs;
    let err = |reason: String| ConfigError::XRayDaemon { daemon: s.to_owned(), reason };
    let mut addrs = s.trim().to_socket_addrs().map_err(|e| err(format!("not a reachable host:port ({e})")))?;
    addrs.next().ok_or_else(|| err("the name has no address".into()))
}

/// Rollbar's settings: off without a token; the token must fit a header and never travel in
/// clear to another host.
fn rollbar(token: Option<String>, endpoint: &str, environment: String) -> Result<Option<RollbarConfig>, ConfigError> {
    let Some(token) = token.filter(|t| !t.trim().is_empty()).map(|t| Secret::new(t.trim())) else { return Ok(None) };
    if HeaderValue::from_str(token.expose()).is_err() {
        return Err(ConfigError::HeaderValue("ROLLBAR_ACCESS_TOKEN"));
    }
    let endpoint = http_url("ROLLBAR_ENDPOINT", endpoint)?;
    let loopback = matches!(endpoint.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"));
    if endpoint.scheme() == "http" && !loopback {
        return Err(ConfigError::SecretInClear("ROLLBAR_ACCESS_TOKEN"));
    }
    let environment =
        if environment.trim().is_empty() { "production".to_owned() } else { environment.trim().to_owned() };
    Ok(Some(RollbarConfig { token, endpoint, environment }))
}

/// A proxy URL: http(s).
fn parse_proxy(s: &str) -> Result<reqwest::Url, ConfigError> {
    http_url("CANOPY_UPSTREAM_PROXY", s)
}

/// `s` as an http(s) URL, or why not.
fn http_url(name: &'static str, s: &str) -> Result<reqwest::Url, ConfigError> {
    let url = reqwest::Url::parse(s.trim()).map_err(|e| ConfigError::BadUrl {
        name,
        value: s.to_owned(),
        reason: e.to_string(),
    })?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(ConfigError::NotHttp { name, value: s.to_owned() });
    }
    Ok(url)
}

/// An upstream URL: http(s), no credentials in it, and no key sent in clear to another host.
fn parse_upstream(s: &str, has_key: bool) -> Result<reqwest::Url, ConfigError> {
    let url = http_url("CANOPY_UPSTREAM", s)?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(ConfigError::CredentialsInUrl);
    }
    let loopback = matches!(url.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"));
    if has_key && url.scheme() == "http" && !loopback {
        return Err(ConfigError::KeyInClear);
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rollbar::ROLLBAR_ITEM_URL;

    fn config(args: &[&str]) -> Result<Config, String> {
        let args = Args::parse_without_env(std::iter::once("canopy-relay").chain(args.iter().copied()));
        Config::from_args(args.map_err(|e| e.to_string())?).map_err(|e| e.to_string())
    }

    #[test]
    fn modes() {
        let local = config(&[]).unwrap();
        assert!(local.upstream.is_none() && local.store && local.print);
        assert_eq!(local.listen.to_string(), "127.0.0.1:4318");

        let hc = config(&["--honeycomb-api-key", "k1"]).unwrap();
        let up = hc.upstream.as_ref().unwrap();
        assert_eq!(up.url.as_str(), HONEYCOMB_US);
        assert_eq!(up.api_key.as_ref().map(Secret::expose), Some("k1"));
        assert!(!hc.store, "forwarding alone keeps no traces");
        assert!(!format!("{hc:?}").contains("k1") && !hc.describe().contains("k1"), "the key is never shown");
        assert!(
            hc.describe().contains("per client: 20 requests/s, 1000 spans/s, 2097152 bytes/s, 8 in flight"),
            "{}",
            hc.describe()
        );
        assert!(hc.describe().contains("viewer and /metrics: direct loopback requests only"));

        let eu = config(&["--honeycomb-api-key", "k", "--honeycomb-region", "eu", "--tee", "--quiet"]).unwrap();
        assert_eq!(eu.upstream.unwrap().url.as_str(), HONEYCOMB_EU);
        assert!(eu.store && !eu.print);

        let collector = config(&["--upstream", "http://collector:4318/v1/traces"]).unwrap();
        assert!(collector.upstream.unwrap().api_key.is_none(), "an upstream without a key");
    }

    #[test]
    fn allowed_origins_in_the_banner() {
        let none = "allowed origins: none besides the relay's own (set CANOPY_ALLOWED_ORIGINS)";
        for args in [&[][..], &["--allowed-origins", ""], &["--allowed-origins", " , "]] {
            let c = config(args).unwrap();
            assert!(c.describe().contains(none), "{args:?}: {}", c.describe());
        }
        let c = config(&["--allowed-origins", "https://a.example, ,https://*.b.example"]).unwrap();
        assert!(c.describe().contains("allowed origins: https://a.example, https://*.b.example\n"), "{}", c.describe());
    }

    #[test]
    fn rollbar_settings() {
        assert!(config(&[]).unwrap().rollbar.is_none(), "off without a token");
        assert!(config(&["--rollbar-endpoint", "http://127.0.0.1:9/"]).unwrap().rollbar.is_none());
        let c = config(&["--rollbar-access-token", " rb-secret "]).unwrap();
        let r = c.rollbar.as_ref().unwrap();
        assert_eq!(
            (r.token.expose(), r.endpoint.as_str(), r.environment.as_str()),
            ("rb-secret", ROLLBAR_ITEM_URL, "production")
        );
        assert!(!format!("{c:?}").contains("rb-secret") && !c.describe().contains("rb-secret"), "never shown");
        assert!(
            c.describe().contains("Rollbar: exceptions to https://api.rollbar.com/api/1/item/"),
            "{}",
            c.describe()
        );
        let local = [
            "--rollbar-access-token",
            "t",
            "--rollbar-endpoint",
            "http://127.0.0.1:9/i",
            "--rollbar-environment",
            "qa",
        ];
        assert_eq!(config(&local).unwrap().rollbar.unwrap().environment, "qa");
        for (args, why) in [
            (&["--rollbar-access-token", "t", "--rollbar-endpoint", "http://rollbar.example/i"][..], "token in clear"),
            (&["--rollbar-access-token", "t", "--rollbar-endpoint", "ftp://x/"], "scheme"),
            (&["--rollbar-access-token", "t\u{7f}"], "not a header value"),
        ] {
            assert!(config(args).is_err(), "{why}");
        }
    }

    #[test]
    fn refusals() {
        for (args, why) in [
            (&["--upstream", "ftp://x/v1/traces"][..], "scheme"),
            (&["--upstream", "https://u:p@x/v1/traces"], "credentials in the URL"),
            (&["--upstream", "http://example.com/v1/traces", "--honeycomb-api-key", "k"], "key in clear"),
            (&["--client-ip-header", "bad header"], "header name"),
            (&["--max-in-flight", "0"], "zero in flight"),
            (&["--xray-daemon", "127.0.0.1"], "no port"),
        ] {
            assert!(config(args).is_err(), "{why}");
        }
        assert!(config(&["--upstream", "http://127.0.0.1:9/v1/traces", "--honeycomb-api-key", "k"]).is_ok());
        assert_eq!(
            config(&["--xray-daemon", "127.0.0.1:2000"]).unwrap().xray_daemon,
            Some(([127, 0, 0, 1], 2000).into())
        );
        assert_eq!(config(&[]).unwrap().xray_daemon, None, "off unless set");
    }

    #[test]
    fn cloudwatch_settings() {
        assert_eq!(config(&[]).unwrap().cloudwatch, None, "off unless a group is set");
        assert_eq!(config(&["--cloudwatch-log-group", " "]).unwrap().cloudwatch, None);
        let c = config(&["--cloudwatch-log-group", "/canopy/web"]).unwrap();
        let cw = c.cloudwatch.as_ref().unwrap();
        assert_eq!((cw.log_group.as_str(), cw.log_stream.as_str()), ("/canopy/web", "canopy-relay"));
        assert!(c.describe().contains("CloudWatch Logs: log records to /canopy/web/canopy-relay"), "{}", c.describe());
        let c = config(&["--cloudwatch-log-group", "g", "--cloudwatch-log-stream", "s1"]).unwrap();
        assert_eq!(c.cloudwatch.unwrap().log_stream, "s1");
        assert!(config(&["--cloudwatch-log-group", "bad group"]).is_err());
        assert!(config(&["--cloudwatch-log-group", "g", "--cloudwatch-log-stream", "a*b"]).is_err());
    }
}
