//! CloudWatch Logs (issue 11): the relay binary, configured only through the standard AWS
//! environment (`AWS_ENDPOINT_URL`, `AWS_REGION`, keys), posts to moto's AWS emulator in server
//! mode on 127.0.0.1; the test reads the events back with the AWS SDK (`GetLogEvents`).
//!
//! moto comes from `.tools/moto-venv`, which `scripts/setup.sh` makes (`make test` runs it
//! first). Without it these tests fail and say so; they are not skipped.

use crate::support::*;
use aws_sdk_cloudwatchlogs::Client;
use aws_sdk_cloudwatchlogs::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_cloudwatchlogs::types::OutputLogEvent;
use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

/// moto's server on a port it picked, until dropped.
struct Moto {
    child: Child,
    endpoint: String,
}

impl Moto {
    fn start() -> Moto {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).ancestors().nth(2).expect("the repository root");
        let bin = root.join(".tools/moto-venv/bin/moto_server");
        assert!(
            bin.exists(),
            "{} is missing: run scripts/setup.sh (it creates .tools/moto-venv with moto, the AWS emulator this test needs)",
            bin.display()
        );
        // Port 0: the kernel picks a free port and moto prints it, so there is no race for it.
        let mut child = Command::new(&bin)
            .args(["-H", "127.0.0.1", "-p", "0"])
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut said = String::new();
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(at) = line.find("Running on http://") {
                    let url: String =
                        line[at + "Running on ".len()..].chars().take_while(|c| !c.is_whitespace()).collect();
                    let _ = tx.send(Ok(url));
                } else if said.len() < 4096 {
                    said.push_str(&line);
                    said.push('\n');
                }
            }
            let _ = tx.send(Err(said));
        });
        match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(Ok(endpoint)) => Moto { child, endpoint },
            other => {
                let _ = child.kill();
                panic!("moto_server did not start within 30 s: {other:?}");
            }
        }
    }

    /// A CloudWatch Logs client for the emulator, configured explicitly (not from this
    /// process's environment).
    fn client(&self) -> Client {
        let config = aws_sdk_cloudwatchlogs::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .endpoint_url(&self.endpoint)
            .credentials_provider(Credentials::new("testing", "testing", None, None, "test"))
            .build();
        Client::from_conf(config)
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The relay binary with a clean environment: the AWS variables point at moto.
struct RelayProcess {
    child: Child,
    addr: SocketAddr,
    output: Arc<Mutex<String>>,
}

impl RelayProcess {
    fn start(moto: &Moto, env: &[(&str, &str)]) -> RelayProcess {
        RelayProcess::with_endpoint(&moto.endpoint, env)
    }

    /// The relay with `AWS_ENDPOINT_URL` at `endpoint`.
    fn with_endpoint(endpoint: &str, env: &[(&str, &str)]) -> RelayProcess {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_canopy-relay"));
        cmd.env_clear()
            .env("CANOPY_LISTEN", "127.0.0.1:0")
            .env("CANOPY_RATE_LIMIT", "0")
            .env("CANOPY_QUIET", "1")
            .env("CANOPY_LOG", "info")
            .env("AWS_ENDPOINT_URL", endpoint)
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().unwrap();
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let mut first = String::new();
        out.read_line(&mut first).unwrap();
        let addr = first.strip_prefix("canopy-relay listening on http://").unwrap_or_else(|| panic!("{first}"));
        let addr = addr.trim().parse().unwrap();
        // Everything the relay says, for the failure messages.
        let output = Arc::new(Mutex::new(first));
        for mut pipe in [Box::new(out) as Box<dyn Read + Send>, Box::new(child.stderr.take().unwrap())] {
            let output = output.clone();
            std::thread::spawn(move || {
                let mut line = String::new();
                let mut reader = BufReader::new(&mut pipe);
                while reader.read_line(&mut line).is_ok_and(|n| n > 0) {
                    output.lock().unwrap().push_str(&line);
                    line.clear();
                }
            });
        }
        RelayProcess { child, addr, output }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    fn said(&self) -> String {
        self.output.lock().unwrap().clone()
    }

    async fn metric(&self, line_start: &str) -> u64 {
        let text = String::from_utf8(get(&self.url("/metrics")).await.body).unwrap();
        text.lines()
            .find_map(|l| l.strip_prefix(line_start)?.trim().parse().ok())
            .unwrap_or_else(|| panic!("{line_start} in\n{text}"))
    }
}

impl Drop for RelayProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One log record as the SDK sends it.
fn record(time_ms: i64, trace: Option<&str>, body: &str) -> Value {
    let mut r = json!({
        "timeUnixNano": (time_ms as u64 * 1_000_000).to_string(),
        "severityNumber": 17,
        "severityText": "ERROR",
        "body": { "stringValue": body },
        "attributes": [{ "key": "http.response.status_code", "value": { "intValue": "500" } }],
    });
    if let Some(t) = trace {
        r["traceId"] = json!(t);
        r["spanId"] = json!("00f067aa0ba902b7");
    }
    r
}

fn request(records: Vec<Value>) -> String {
    json!({ "resourceLogs": [{
        "resource": { "attributes": [{ "key": "service.name", "value": { "stringValue": "frontend" } }] },
        "scopeLogs": [{ "scope": { "name": "canopy-web" }, "logRecords": records }],
    }]})
    .to_string()
}

/// Every event in the stream, oldest first, once there are `n` (each read bounded; 20 s in all).
async fn read_back(client: &Client, group: &str, stream: &str, n: usize, relay: &RelayProcess) -> Vec<OutputLogEvent> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let mut events = Vec::new();
        let mut token: Option<String> = None;
        let complete = loop {
            let call = client.get_log_events().log_group_name(group).log_stream_name(stream).start_from_head(true);
            let page = match call.set_next_token(token.clone()).send().await {
                Ok(p) => p,
                Err(_) => break false, // the group or stream is not there yet
            };
            let before = events.len();
            events.extend(page.events().iter().cloned());
            let next = page.next_forward_token().map(str::to_owned);
            if events.len() == before || next == token {
                break true;
            }
            token = next;
        };
        if complete && events.len() >= n {
            return events;
        }
        assert!(
            Instant::now() < deadline,
            "{} of {n} events in {group}/{stream} after 20 s; the relay said:\n{}",
            events.len(),
            relay.said()
        );
        // The poll interval of this bounded loop (a condition above, a deadline of 20 s).
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn log_records_reach_cloudwatch_logs_sorted_with_their_trace_ids() {
    let moto = Moto::start();
    let cw = moto.client();
    let (group, stream) = ("/canopy/browser", "web-1");
    let relay = RelayProcess::start(
        &moto,
        &[
            ("CANOPY_CLOUDWATCH_LOG_GROUP", group),
            ("CANOPY_CLOUDWATCH_LOG_STREAM", stream),
            // Room for one body over CloudWatch's 256 KB event size.
            ("CANOPY_MAX_VALUE_BYTES", "400000"),
        ],
    );
    let now = now_ms();
    let hour = 3_600_000;
    let trace = |i: usize| format!("{i:032x}");
    // Out of order, over 30 hours (more than one PutLogEvents call may span), one without a trace.
    let times = [now - 30 * hour, now - 2_000, now - 3_000, now - 29 * hour, now - 1_000];
    let mut records: Vec<Value> =
        times.iter().enumerate().map(|(i, t)| record(*t, Some(&trace(i + 1)), &format!("record {i}"))).collect();
    records.push(record(now - 500, None, "no trace"));
    let res = post_json(&relay.url("/v1/logs"), &request(records)).await;
    assert_eq!(res.status, 200, "{}", String::from_utf8_lossy(&res.body));
    let big = "é".repeat(150_000); // 300,000 bytes
    let res = post_json(&relay.url("/v1/logs"), &request(vec![record(now, Some(&trace(9)), &big)])).await;
    assert_eq!(res.status, 200);

    let events = read_back(&cw, group, stream, 7, &relay).await;
    assert_eq!(events.len(), 7, "each record once");
    let stamps: Vec<i64> = events.iter().map(|e| e.timestamp().unwrap()).collect();
    assert!(stamps.windows(2).all(|w| w[0] <= w[1]), "oldest first: {stamps:?}");
    let mut want = times.to_vec();
    want.extend([now - 500, now]);
    want.sort();
    assert_eq!(stamps, want, "the records' own times, in milliseconds");
    let lines: Vec<Value> = events.iter().map(|e| serde_json::from_str(e.message().unwrap()).unwrap()).collect();
    let first = &lines[0];
    assert_eq!(first["trace_id"], trace(1), "{first}");
    assert_eq!(first["span_id"], "00f067aa0ba902b7");
    assert_eq!((first["severity"].as_str(), first["body"].as_str()), (Some("ERROR"), Some("record 0")));
    assert_eq!(first["attributes"], json!({ "http.response.status_code": 500 }));
    assert_eq!(first["service"], "frontend");
    let no_trace = lines.iter().find(|l| l["body"] == "no trace").unwrap();
    assert!(no_trace.get("trace_id").is_none(), "{no_trace}");
    let cut = lines.last().unwrap();
    assert_eq!((cut["trace_id"].as_str(), cut["truncated"].as_bool()), (Some(trace(9).as_str()), Some(true)));
    let cut_len = events.last().unwrap().message().unwrap().len();
    assert!(cut_len <= 256 * 1024 - 26 && cut_len > 250_000, "cut to the event size: {cut_len}");

    // The group and stream were created.
    let groups = cw.describe_log_groups().log_group_name_prefix(group).send().await.unwrap();
    assert_eq!(groups.log_groups().iter().filter_map(|g| g.log_group_name()).collect::<Vec<_>>(), [group]);
    let streams = cw.describe_log_streams().log_group_name(group).send().await.unwrap();
    assert_eq!(streams.log_streams().iter().filter_map(|s| s.log_stream_name()).collect::<Vec<_>>(), [stream]);

    let m = "canopy_relay_cloudwatch_events_total";
    assert_eq!(relay.metric(&format!("{m}{{outcome=\"sent\"}}")).await, 7);
    assert_eq!(relay.metric(&format!("{m}{{outcome=\"truncated\"}}")).await, 1);
    assert_eq!(relay.metric(&format!("{m}{{outcome=\"failed\"}}")).await, 0);
    assert!(relay.metric("canopy_relay_cloudwatch_calls_total").await >= 3, "30 hours apart: split");
    let said = relay.said();
    assert!(said.contains(&format!("CloudWatch Logs: log records to {group}/{stream}")), "the banner: {said}");
}

#[tokio::test]
async fn an_existing_group_is_used_and_the_stream_defaults_to_canopy_relay() {
    let moto = Moto::start();
    let cw = moto.client();
    let group = "existing";
    cw.create_log_group().log_group_name(group).send().await.unwrap();
    let relay = RelayProcess::start(&moto, &[("CANOPY_CLOUDWATCH_LOG_GROUP", group)]);
    let now = now_ms();
    let records: Vec<Value> =
        (0..1000).map(|i| record(now - 1000 + i, Some("4bf92f3577b34da6a3ce929d0e0e4736"), "x")).collect();
    for i in 0..3 {
        assert_eq!(post_json(&relay.url("/v1/logs"), &again(&request(records.clone()), i)).await.status, 200);
    }
    let events = read_back(&cw, group, "canopy-relay", 3000, &relay).await;
    assert_eq!(events.len(), 3000);
    // (No order across the three posts here: they share one PutLogEvents call only when they
    // arrive within the sender's 500 ms gathering window, which a loaded machine can miss. The
    // sorting is tested by batch.rs's unit tests and log_records_reach_cloudwatch_logs_sorted….)
    assert!(
        events.iter().all(|e| e.message().unwrap().starts_with(r#"{"trace_id":"4bf92f3577b34da6a3ce929d0e0e4736""#))
    );
    assert_eq!(relay.metric("canopy_relay_cloudwatch_events_total{outcome=\"sent\"}").await, 3000);
    assert!(!relay.said().contains("WARN"), "the existing group was no error: {}", relay.said());
}

/// An error as CloudWatch Logs (AWS JSON 1.1) sends it.
fn aws_error(code: &str) -> Reply {
    let body = format!(r#"{{"__type":"{code}","message":"from the test"}}"#).into_bytes();
    Reply::Body(400, "application/x-amz-json-1.1", body)
}

fn aws_ok() -> Reply {
    Reply::Body(200, "application/x-amz-json-1.1", b"{}".to_vec())
}

/// Which CloudWatch Logs operations the recording server got, in order.
fn operations(up: &Upstream) -> Vec<String> {
    let target = |r: &Received| r.header("x-amz-target").unwrap_or("?").trim_start_matches("Logs_20140328.").to_owned();
    up.received().iter().map(target).collect()
}

/// Throttling outlasts the SDK's own three attempts; the sender backs off and tries again.
/// A recording HTTP server stands in for CloudWatch Logs (moto cannot throttle).
#[tokio::test]
async fn throttled_calls_are_retried_with_backoff() {
    let up = Upstream::start().await;
    up.push([aws_error("ThrottlingException"), aws_error("ThrottlingException"), aws_error("ThrottlingException")]);
    up.push([aws_error("ThrottlingException"), aws_ok()]);
    let endpoint = format!("http://{}", up.addr);
    let relay = RelayProcess::with_endpoint(&endpoint, &[("CANOPY_CLOUDWATCH_LOG_GROUP", "g")]);
    let body = request(vec![record(now_ms(), Some("4bf92f3577b34da6a3ce929d0e0e4736"), "throttled")]);
    let t = Instant::now();
    assert_eq!(post_json(&relay.url("/v1/logs"), &body).await.status, 200, "ingest does not wait on AWS");
    assert!(t.elapsed() < Duration::from_secs(2));
    let sent = "canopy_relay_cloudwatch_events_total{outcome=\"sent\"}";
    until(30, || async { relay.metric(sent).await > 0 }, || format!("sent: {:?}\n{}", operations(&up), relay.said()))
        .await;
    assert_eq!(operations(&up), ["PutLogEvents"; 5]);
    assert_eq!(relay.metric("canopy_relay_cloudwatch_calls_total").await, 2, "the SDK's 3 attempts, then ours");
    assert!(relay.said().contains("PutLogEvents failed, retrying"), "{}", relay.said());
    let put: Value = serde_json::from_slice(&up.received()[4].body).unwrap();
    assert_eq!((put["logGroupName"].as_str(), put["logStreamName"].as_str()), (Some("g"), Some("canopy-relay")));
    assert!(put["logEvents"][0]["message"].as_str().unwrap().contains(r#""body":"throttled""#), "{put}");
    let auth = up.received()[0].header("authorization").unwrap_or_default().to_owned();
    assert!(auth.starts_with("AWS4-HMAC-SHA256 Credential=testing/"), "signed with the environment's key: {auth}");
}

/// A missing group: created (then the stream), and the call made again. A refusal that retrying
/// cannot fix is not retried; its events are counted as failed.
#[tokio::test]
async fn a_missing_group_is_created_and_bad_calls_are_not_retried() {
    let up = Upstream::start().await;
    up.push([aws_error("ResourceNotFoundException"), aws_ok(), aws_error("ResourceAlreadyExistsException"), aws_ok()]);
    let endpoint = format!("http://{}", up.addr);
    let relay = RelayProcess::with_endpoint(&endpoint, &[("CANOPY_CLOUDWATCH_LOG_GROUP", "g")]);
    let body = request(vec![record(now_ms(), None, "first")]);
    assert_eq!(post_json(&relay.url("/v1/logs"), &body).await.status, 200);
    until(20, || async { operations(&up).len() >= 4 }, || format!("{:?}\n{}", operations(&up), relay.said())).await;
    assert_eq!(operations(&up), ["PutLogEvents", "CreateLogGroup", "CreateLogStream", "PutLogEvents"]);

    up.push([aws_error("InvalidParameterException")]);
    assert_eq!(post_json(&relay.url("/v1/logs"), &again(&body, 1)).await.status, 200);
    let failed = "canopy_relay_cloudwatch_events_total{outcome=\"failed\"}";
    until(20, || async { relay.metric(failed).await > 0 }, || format!("{:?}\n{}", operations(&up), relay.said())).await;
    assert_eq!(operations(&up).len(), 5, "no retry: {:?}", operations(&up));
    assert!(relay.said().contains("gave up on a PutLogEvents call"), "{}", relay.said());
}

/// A batch the relay answers with 503 (the upstream unavailable) does not reach CloudWatch Logs:
/// the client sends it again, and only the copy the relay accepts is sent. Recording servers
/// stand in for the OTLP upstream and for CloudWatch Logs.
#[tokio::test]
async fn a_batch_answered_503_and_sent_again_reaches_cloudwatch_once() {
    let otlp = Upstream::start().await;
    // A Retry-After beyond the relay's budget: it gives up at once and answers 503.
    otlp.push([Reply::RetryAfter(503, 30)]);
    let aws = Upstream::start().await;
    aws.push([aws_ok(), aws_ok(), aws_ok(), aws_ok()]);
    let endpoint = format!("http://{}", aws.addr);
    let env = [("CANOPY_CLOUDWATCH_LOG_GROUP", "g"), ("CANOPY_UPSTREAM", &otlp.url())];
    let relay = RelayProcess::with_endpoint(&endpoint, &env);
    let body = request(vec![record(now_ms(), None, "sent again")]);
    assert_eq!(post_json(&relay.url("/v1/logs"), &body).await.status, 503, "{}", relay.said());
    assert_eq!(post_json(&relay.url("/v1/logs"), &body).await.status, 200, "sent again, the upstream back");
    // A marker after it: one queue, one sender, so once the marker is in a call, so is the rest.
    let marker = request(vec![record(now_ms() + 1, None, "marker")]);
    assert_eq!(post_json(&relay.url("/v1/logs"), &marker).await.status, 200);
    let messages = || -> Vec<String> {
        let puts = aws
            .received()
            .into_iter()
            .filter(|r| r.header("x-amz-target").is_some_and(|t| t.ends_with("PutLogEvents")));
        puts.flat_map(|r| {
            let put: Value = serde_json::from_slice(&r.body).unwrap();
            put["logEvents"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["message"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        })
        .collect()
    };
    let marker = || std::future::ready(messages().iter().any(|m| m.contains(r#""body":"marker""#)));
    until(20, marker, || format!("{:?}\n{}", operations(&aws), relay.said())).await;
    let copies = messages().iter().filter(|m| m.contains(r#""body":"sent again""#)).count();
    assert_eq!(copies, 1, "{:?}", messages());
    assert_eq!(otlp.received().len(), 3, "the upstream got the batch twice, then the marker");
}

/// SIGTERM right after a request: the sender does not wait out its gathering time, it sends
/// what is queued before the process exits.
#[tokio::test]
async fn queued_records_are_sent_before_the_relay_exits() {
    let moto = Moto::start();
    let cw = moto.client();
    let mut relay = RelayProcess::start(&moto, &[("CANOPY_CLOUDWATCH_LOG_GROUP", "shutdown")]);
    let body = request((0..3).map(|i| record(now_ms() + i, None, "last words")).collect());
    assert_eq!(post_json(&relay.url("/v1/logs"), &body).await.status, 200);
    let killed = Command::new("kill").args(["-TERM", &relay.child.id().to_string()]).status().unwrap();
    assert!(killed.success());
    let t = Instant::now();
    let status = loop {
        if let Some(s) = relay.child.try_wait().unwrap() {
            break s;
        }
        assert!(t.elapsed() < Duration::from_secs(15), "exited within the grace period: {}", relay.said());
        tokio::time::sleep(Duration::from_millis(20)).await; // poll interval for the exit (bounded above)
    };
    assert!(status.success(), "{status}: {}", relay.said());
    let events = read_back(&cw, "shutdown", "canopy-relay", 3, &relay).await;
    assert_eq!(events.len(), 3, "{}", relay.said());
}
