//! CloudWatch Logs: received log records sent with `PutLogEvents`
//! (`CANOPY_CLOUDWATCH_LOG_GROUP`, `CANOPY_CLOUDWATCH_LOG_STREAM`).
//!
//! Credentials and region come from the standard AWS environment through `aws-config`
//! (`AWS_REGION`, `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`, `AWS_PROFILE`, instance and
//! container roles); `AWS_ENDPOINT_URL` (or `AWS_ENDPOINT_URL_CLOUDWATCH_LOGS`) points the client
//! at another endpoint, such as a local emulator.
//!
//! Ingest turns each record into an event (a JSON line with the trace and span ids, see
//! [`batch`]) on its blocking task and hands the request's events to a bounded queue; when the
//! queue is full they are dropped and counted, never waited for. One sender task gathers what
//! arrives within [`GATHER`], sorts and splits it into calls within `PutLogEvents`'s limits
//! ([`batch::split`]), and sends them. The log group and stream are created when a call says
//! they are missing (an existing one is fine). Throttling, service unavailability and network
//! errors are retried with exponential backoff (on top of the SDK's own standard retries), up to
//! [`MAX_TRIES`] times; then the call's events are counted as failed. On shutdown
//! ([`CloudWatch::close`], after the last request is answered) the sender stops gathering and
//! sends what is queued, within the shutdown grace period.

pub mod batch;

use crate::error::ConfigError;
use crate::model::ExportLogsServiceRequest;
use aws_sdk_cloudwatchlogs::Client;
use aws_sdk_cloudwatchlogs::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_cloudwatchlogs::types::InputLogEvent;
use batch::Event;
use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::mpsc;

/// The log stream when `CANOPY_CLOUDWATCH_LOG_STREAM` is not set.
pub const DEFAULT_STREAM: &str = "canopy-relay";
/// Requests whose events wait for the sender.
const QUEUE_REQUESTS: usize = 1024;
/// Bytes of messages waiting for the sender.
const QUEUE_BYTES: usize = 16 << 20;
/// How long the sender gathers events before a round of calls.
pub const GATHER: Duration = Duration::from_millis(500);
/// Tries per call for retryable errors.
pub const MAX_TRIES: u32 = 5;
const FIRST_BACKOFF: Duration = Duration::from_millis(500);
const MAX_BACKOFF: Duration = Duration::from_secs(8);

/// Where log records go.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CloudWatchConfig {
    pub log_group: String,
    pub log_stream: String,
}

impl CloudWatchConfig {
    /// Checks the names against CloudWatch Logs' rules (1-512 characters; a group name of
    /// letters, digits and `_-/.#`; no `:` or `*` in a stream name), so a typo fails at startup.
    pub fn new(log_group: &str, log_stream: &str) -> Result<CloudWatchConfig, ConfigError> {
        let (group, stream) = (log_group.trim(), log_stream.trim());
        let bad = |name, value: &str, why| Err(ConfigError::CloudWatch { name, value: value.to_owned(), why });
        if group.is_empty() || group.len() > 512 {
            return bad("CANOPY_CLOUDWATCH_LOG_GROUP", group, "must be 1-512 characters");
        }
        if !group.bytes().all(|b| b.is_ascii_alphanumeric() || b"_-/.#".contains(&b)) {
            return bad("CANOPY_CLOUDWATCH_LOG_GROUP", group, "may hold only letters, digits and _-/.#");
        }
        if stream.is_empty() || stream.chars().count() > 512 {
            return bad("CANOPY_CLOUDWATCH_LOG_STREAM", stream, "must be 1-512 characters");
        }
        if stream.contains([':', '*']) || stream.chars().any(char::is_control) {
            return bad("CANOPY_CLOUDWATCH_LOG_STREAM", stream, "must not hold ':', '*' or control characters");
        }
        Ok(CloudWatchConfig { log_group: group.to_owned(), log_stream: stream.to_owned() })
    }
}

/// The CloudWatch Logs counters in `/metrics` (events are log records).
#[derive(Debug, Default)]
pub struct CloudWatchStats {
    /// Events CloudWatch Logs took.
    pub sent: AtomicU64,
    /// Events dropped because the queue was full.
    pub dropped: AtomicU64,
    /// Events CloudWatch Logs refused (too old, too new, expired).
    pub rejected: AtomicU64,
    /// Events in calls that failed for good or after every try.
    pub failed: AtomicU64,
    /// Messages cut to 256 KB.
    pub truncated: AtomicU64,
    /// `PutLogEvents` calls, successful or not.
    pub calls: AtomicU64,
}

impl CloudWatchStats {
    pub fn render(&self, out: &mut String) {
        let m = "canopy_relay_cloudwatch_events_total";
        let _ = writeln!(out, "# HELP {m} CloudWatch Logs events, by outcome.\n# TYPE {m} counter");
        for (outcome, c) in [
            ("sent", &self.sent),
            ("dropped", &self.dropped),
            ("rejected", &self.rejected),
            ("failed", &self.failed),
            ("truncated", &self.truncated),
        ] {
            let _ = writeln!(out, "{m}{{outcome=\"{outcome}\"}} {}", c.load(Relaxed));
        }
        let m = "canopy_relay_cloudwatch_calls_total";
        let _ = writeln!(out, "# HELP {m} PutLogEvents calls.\n# TYPE {m} counter\n{m} {}", self.calls.load(Relaxed));
    }
}

/// The handle ingest holds: turns records into events and queues them; a task sends them.
pub struct CloudWatch {
    tx: mpsc::Sender<Vec<Event>>,
    queued_bytes: Arc<AtomicUsize>,
    stats: Arc<CloudWatchStats>,
    /// Tells the sender to send what is queued and stop.
    stop: tokio::sync::watch::Sender<bool>,
    task: std::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl CloudWatch {
    /// Spawns the sender task on the current Tokio runtime. The AWS configuration is loaded
    /// there (it may query instance metadata), so a missing region or credentials show up in
    /// the log at the first call, not here.
    pub fn start(config: &CloudWatchConfig, stats: Arc<CloudWatchStats>) -> Result<CloudWatch, ConfigError> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| ConfigError::CloudWatchRuntime)?;
        let (handle, rx) = CloudWatch::queue(stats.clone());
        let sender = Sender { config: config.clone(), stats, queued_bytes: handle.queued_bytes.clone() };
        let task = runtime.spawn(sender.run(rx, handle.stop.subscribe()));
        *handle.task.lock().unwrap_or_else(|p| p.into_inner()) = Some(task);
        Ok(handle)
    }

    /// The handle and the receiving end of its queue.
    fn queue(stats: Arc<CloudWatchStats>) -> (CloudWatch, mpsc::Receiver<Vec<Event>>) {
        let (tx, rx) = mpsc::channel(QUEUE_REQUESTS);
        let queued_bytes = Arc::new(AtomicUsize::new(0));
        let stop = tokio::sync::watch::Sender::new(false);
        (CloudWatch { tx, queued_bytes, stats, stop, task: std::sync::Mutex::default() }, rx)
    }

    /// Sends what is queued, waiting at most `grace`; later submissions are dropped.
    pub async fn close(&self, grace: Duration) {
        self.stop.send_replace(true);
        let task = self.task.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(task) = task {
            if tokio::time::timeout(grace, task).await.is_err() {
                tracing::warn!("CloudWatch Logs: events still unsent after {} ms, leaving", grace.as_millis());
            }
        }
    }

    /// Queues `req`'s records as events; never waits (a full queue drops them, counted).
    /// Called on the blocking pool.
    pub fn submit(&self, req: &ExportLogsServiceRequest) {
        let now_ms = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64);
        let mut events = Vec::new();
        for (resource, record) in req.records() {
            let (event, cut) = batch::event(resource, record, now_ms);
            if cut {
                self.stats.truncated.fetch_add(1, Relaxed);
            }
            events.push(event);
        }
        let n = events.len() as u64;
        let bytes: usize = events.iter().map(|e| e.message.len()).sum();
        let q = &self.queued_bytes;
        if q.fetch_add(bytes, Relaxed).saturating_add(bytes) > QUEUE_BYTES {
            q.fetch_sub(bytes, Relaxed);
            self.stats.dropped.fetch_add(n, Relaxed);
            return;
        }
        if self.tx.try_send(events).is_err() {
            q.fetch_sub(bytes, Relaxed);
            self.stats.dropped.fetch_add(n, Relaxed);
        }
    }
}

/// What to do after a failed call.
#[derive(Debug, PartialEq, Eq)]
pub enum Step {
    /// Back off, then try again.
    Retry,
    /// The group or stream is missing: create them, then try again.
    Create,
    /// Give up on this call.
    Fail,
}

/// The step for an error `code` (`None`: no service answer, i.e. a network error or timeout).
pub fn step(code: Option<&str>) -> Step {
    match code {
        None => Step::Retry,
        Some("ResourceNotFoundException") => Step::Create,
        Some(
            "ThrottlingException"
            | "Throttling"
            | "ServiceUnavailableException"
            | "InternalFailure"
            | "RequestTimeout"
            | "RequestLimitExceeded",
        ) => Step::Retry,
        Some(_) => Step::Fail,
    }
}

/// The wait before try `tries + 1`: 0.5 s, doubling, at most 8 s.
pub fn backoff(tries: u32) -> Duration {
    FIRST_BACKOFF.saturating_mul(1 << tries.saturating_sub(1).min(16)).min(MAX_BACKOFF)
}

struct Sender {
    config: CloudWatchConfig,
    stats: Arc<CloudWatchStats>,
    queued_bytes: Arc<AtomicUsize>,
}

impl Sender {
    /// The sender task: ends when the handle is dropped.
    async fn run(self, mut rx: mpsc::Receiver<Vec<Event>>, mut stop: tokio::sync::watch::Receiver<bool>) {
        let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        let client = Client::new(&sdk);
        tracing::info!(
            group = %self.config.log_group,
            stream = %self.config.log_stream,
            region = sdk.region().map_or("(none: set AWS_REGION)", |r| r.as_ref()),
            "CloudWatch Logs sender ready"
        );
        let mut stopping = false;
        loop {
            let first = tokio::select! {
                first = rx.recv() => first,
                _ = stop.wait_for(|s| *s), if !stopping => {
                    stopping = true;
                    rx.close(); // what is queued stays to be received; nothing more comes in
                    continue;
                }
            };
            let Some(first) = first else { break };
            let mut pending = self.take(first);
            let deadline = tokio::time::Instant::now() + if stopping { Duration::ZERO } else { GATHER };
            while pending.len() < batch::MAX_BATCH_EVENTS {
                tokio::select! {
                    more = tokio::time::timeout_at(deadline, rx.recv()) => match more {
                        Ok(Some(more)) => pending.extend(self.take(more)),
                        Ok(None) | Err(_) => break,
                    },
                    _ = stop.wait_for(|s| *s), if !stopping => {
                        stopping = true;
                        rx.close();
                    }
                }
            }
            for events in batch::split(pending) {
                self.put(&client, events).await;
            }
        }
    }

    /// Events off the queue: their bytes no longer count against it.
    fn take(&self, events: Vec<Event>) -> Vec<Event> {
        self.queued_bytes.fetch_sub(events.iter().map(|e| e.message.len()).sum(), Relaxed);
        events
    }

    /// One `PutLogEvents` call, with its retries.
    async fn put(&self, client: &Client, events: Vec<Event>) {
        let n = events.len();
        let input: Vec<InputLogEvent> = events
            .into_iter()
            .filter_map(|e| InputLogEvent::builder().timestamp(e.timestamp_ms).message(e.message).build().ok())
            .collect();
        let (group, stream) = (&self.config.log_group, &self.config.log_stream);
        let mut created = false;
        for tries in 1..=MAX_TRIES {
            self.stats.calls.fetch_add(1, Relaxed);
            let call = client.put_log_events().log_group_name(group).log_stream_name(stream);
            let err = match call.set_log_events(Some(input.clone())).send().await {
                Ok(out) => {
                    let info = out.rejected_log_events_info();
                    let refused = batch::rejected(
                        n,
                        info.and_then(|i| i.too_new_log_event_start_index()),
                        info.and_then(|i| i.too_old_log_event_end_index()),
                        info.and_then(|i| i.expired_log_event_end_index()),
                    );
                    if refused > 0 {
                        tracing::warn!(refused, "CloudWatch Logs refused events too old or too new: {info:?}");
                    }
                    self.stats.rejected.fetch_add(refused as u64, Relaxed);
                    self.stats.sent.fetch_add((n - refused) as u64, Relaxed);
                    return;
                }
                Err(e) => e,
            };
            let code = match &err {
                SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) | SdkError::ResponseError(_) => None,
                e => Some(e.code().unwrap_or("(no code)")),
            };
            let why = DisplayErrorContext(&err);
            match step(code) {
                Step::Create if !created => {
                    created = true;
                    if let Err(e) = self.create(client).await {
                        tracing::warn!(events = n, "cannot create the CloudWatch Logs group or stream: {e}");
                        break;
                    }
                    continue;
                }
                Step::Retry if tries < MAX_TRIES => {
                    tracing::warn!(tries, "PutLogEvents failed, retrying: {why}");
                    tokio::time::sleep(backoff(tries)).await;
                }
                _ => {
                    tracing::warn!(events = n, tries, "gave up on a PutLogEvents call: {why}");
                    break;
                }
            }
        }
        self.stats.failed.fetch_add(n as u64, Relaxed);
    }

    /// Creates the log group and stream; ones that exist already are fine.
    async fn create(&self, client: &Client) -> Result<(), String> {
        let (group, stream) = (&self.config.log_group, &self.config.log_stream);
        match client.create_log_group().log_group_name(group).send().await {
            Ok(_) => tracing::info!(%group, "created the CloudWatch Logs group"),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_resource_already_exists_exception()) => {}
            Err(e) => return Err(DisplayErrorContext(&e).to_string()),
        }
        match client.create_log_stream().log_group_name(group).log_stream_name(stream).send().await {
            Ok(_) => tracing::info!(%group, %stream, "created the CloudWatch Logs stream"),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_resource_already_exists_exception()) => {}
            Err(e) => return Err(DisplayErrorContext(&e).to_string()),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked() {
        assert!(CloudWatchConfig::new("/canopy/browser", DEFAULT_STREAM).is_ok());
        assert_eq!(
            CloudWatchConfig::new(" app#1 ", " web 1 ").unwrap(),
            CloudWatchConfig { log_group: "app#1".into(), log_stream: "web 1".into() }
        );
        for (group, stream, why) in
            [("a b", "s", "space in a group"), ("g", "a:b", "colon in a stream"), ("g", "", "empty stream")]
        {
            assert!(CloudWatchConfig::new(group, stream).is_err(), "{why}");
        }
        assert!(CloudWatchConfig::new(&"g".repeat(513), "s").is_err(), "long group");
    }

    #[test]
    fn a_full_queue_drops_and_counts_without_waiting() {
        use crate::model::{AnyValue, LogRecord, ResourceLogs, ScopeLogs, Value};
        let logs = |n: usize, body_bytes: usize| {
            let record = LogRecord {
                body: Some(AnyValue { value: Some(Value::StringValue("x".repeat(body_bytes))) }),
                ..Default::default()
            };
            ExportLogsServiceRequest {
                resource_logs: vec![ResourceLogs {
                    scope_logs: vec![ScopeLogs { log_records: vec![record; n], ..Default::default() }],
                    ..Default::default()
                }],
            }
        };
        let stats = Arc::new(CloudWatchStats::default());
        let (cw, mut rx) = CloudWatch::queue(stats.clone());
        // 100 records of 200 kB: over the queue's 16 MiB, refused whole.
        cw.submit(&logs(100, 200_000));
        assert_eq!((stats.dropped.load(Relaxed), cw.queued_bytes.load(Relaxed)), (100, 0));
        // Small requests: the queue takes QUEUE_REQUESTS of them, then drops.
        for _ in 0..QUEUE_REQUESTS + 5 {
            cw.submit(&logs(2, 10));
        }
        assert_eq!(stats.dropped.load(Relaxed), 100 + 10, "5 requests of 2 records");
        assert!(cw.queued_bytes.load(Relaxed) > 0);
        // Taking from the queue frees its bytes (what the sender does).
        let sender = Sender {
            config: CloudWatchConfig::new("g", "s").unwrap(),
            stats: stats.clone(),
            queued_bytes: cw.queued_bytes.clone(),
        };
        while let Ok(events) = rx.try_recv() {
            assert_eq!(sender.take(events).len(), 2);
        }
        assert_eq!(cw.queued_bytes.load(Relaxed), 0);
    }

    #[test]
    fn steps_and_backoff() {
        let cases = [
            (None, Step::Retry, "network error or timeout"),
            (Some("ThrottlingException"), Step::Retry, "throttled"),
            (Some("ServiceUnavailableException"), Step::Retry, "unavailable"),
            (Some("ResourceNotFoundException"), Step::Create, "missing group or stream"),
            (Some("InvalidParameterException"), Step::Fail, "our fault: retrying will not help"),
            (Some("UnrecognizedClientException"), Step::Fail, "bad credentials"),
        ];
        for (code, want, why) in cases {
            assert_eq!(step(code), want, "{why}");
        }
        let waits: Vec<u64> = (1..=7).map(|t| backoff(t).as_millis() as u64).collect();
        assert_eq!(waits, [500, 1000, 2000, 4000, 8000, 8000, 8000]);
        assert_eq!(backoff(u32::MAX), MAX_BACKOFF);
    }
}
