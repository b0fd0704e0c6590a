//! Test servers and helpers: the relay on 127.0.0.1, a recording upstream, request builders.

use canopy_relay::{AppState, Config, RetryPolicy, Upstream as UpstreamConfig};
use flate2::{Compression, read::MultiGzDecoder, write::GzEncoder};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest as OtelRequest;
use prost::Message;
use std::collections::VecDeque;
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub const GOLDEN: &str = include_str!("../../../../tests/fixtures/otlp_golden.json");
pub const KEY: &str = "hc-test-key-0123456789";
/// The browser app's origin, as the CORS tests allow it.
pub const APP: &str = "https://app.example.com";

/// A relay serving on 127.0.0.1 until [`Relay::stop`].
pub struct Relay {
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl Relay {
    pub async fn start(config: Config) -> Relay {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let grace = config.shutdown_grace;
        let state = AppState::new(config).unwrap();
        let (tx, rx) = oneshot::channel();
        // As `canopy_relay::run` does: serve until shutdown, then let the exporters send what
        // they hold.
        let task = tokio::spawn(async move {
            canopy_relay::serve(listener, state.clone(), async {
                let _ = rx.await;
            })
            .await;
            state.close(grace).await;
        });
        Relay { addr, stop: Some(tx), task }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn traces(&self) -> String {
        self.url("/v1/traces")
    }

    pub fn logs(&self) -> String {
        self.url("/v1/logs")
    }

    /// Signals shutdown; the returned task ends when the server has stopped.
    pub fn shutdown(&mut self) -> &mut JoinHandle<()> {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        &mut self.task
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Local mode, quick timeouts, no rate limit, no console output.
pub fn local() -> Config {
    Config {
        rate_limit: 0.0,
        print: false,
        read_timeout: Duration::from_millis(800),
        shutdown_grace: Duration::from_secs(5),
        ..Config::default()
    }
}

/// Forwarding to `upstream` with `key`, a short retry budget.
pub fn forwarding(upstream: &Upstream, key: Option<&str>) -> Config {
    Config {
        upstream: Some(UpstreamConfig {
            url: upstream.url().parse().unwrap(),
            api_key: key.map(canopy_relay::Secret::new),
            dataset: None,
            proxy: None,
        }),
        store: false,
        retry: RetryPolicy {
            budget: Duration::from_millis(1500),
            attempt_timeout: Duration::from_millis(1000),
            initial_backoff: Duration::from_millis(20),
            max_backoff: Duration::from_millis(100),
        },
        ..local()
    }
}

/// Forwarding to `upstream` for `APP` only, with a request budget of 2, then one every 2 s.
pub async fn rate_limited_relay(upstream: &Upstream) -> Relay {
    Relay::start(Config {
        allowed_origins: vec![APP.into()],
        rate_limit: 0.5,
        rate_burst: 2,
        ..forwarding(upstream, Some(KEY))
    })
    .await
}

/// A CORS preflight (OPTIONS) to `url` from `origin`, asking for `method` and `headers`.
pub async fn preflight(url: &str, origin: &str, method: &str, headers: &str) -> Res {
    let req = client()
        .request(reqwest::Method::OPTIONS, url)
        .header("origin", origin)
        .header("access-control-request-method", method)
        .header("access-control-request-headers", headers);
    into_res(req.send().await.unwrap()).await
}

/// What the upstream test server answers, one per request in order (then 200).
#[derive(Clone, Debug)]
pub enum Reply {
    Status(u16),
    RetryAfter(u16, u64),
    Body(u16, &'static str, Vec<u8>),
    /// Close the connection without answering.
    Drop,
    /// Wait, then 200.
    Delay(Duration),
    /// The status and a `content-length: 100`, 3 bytes of it, then the connection closes.
    Truncated(u16),
    /// The status and a `content-length: 100`, 3 bytes of it, then nothing until the
    /// connection is dropped.
    Stalled(u16),
}

/// One request the upstream received.
#[derive(Clone, Debug)]
pub struct Received {
    /// The request target, e.g. `/v1/logs`.
    pub path: String,
    pub headers: Vec<(String, String)>,
    /// The body, gunzipped when it was gzip.
    pub body: Vec<u8>,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// The body decoded with the official OTLP types.
    pub fn request(&self) -> OtelRequest {
        OtelRequest::decode(self.body.as_slice()).expect("the upstream got valid OTLP protobuf")
    }
}

/// A recording OTLP/HTTP upstream on raw TCP (so it can drop connections).
pub struct Upstream {
    pub addr: SocketAddr,
    received: Arc<Mutex<Vec<Received>>>,
    replies: Arc<Mutex<VecDeque<Reply>>>,
    task: JoinHandle<()>,
}

impl Drop for Upstream {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Upstream {
    pub async fn start() -> Upstream {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let received = Arc::new(Mutex::new(Vec::new()));
        let replies = Arc::new(Mutex::new(VecDeque::new()));
        let (rec, rep) = (received.clone(), replies.clone());
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(serve_one(stream, rec.clone(), rep.clone()));
            }
        });
        Upstream { addr, received, replies, task }
    }

    pub fn url(&self) -> String {
        format!("http://{}/v1/traces", self.addr)
    }

    pub fn push(&self, replies: impl IntoIterator<Item = Reply>) {
        self.replies.lock().unwrap().extend(replies);
    }

    pub fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }
}

async fn serve_one(mut stream: TcpStream, received: Arc<Mutex<Vec<Received>>>, replies: Arc<Mutex<VecDeque<Reply>>>) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 16 << 10];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let path = head.split(' ').nth(1).unwrap_or_default().to_owned();
    let headers: Vec<(String, String)> = head
        .lines()
        .skip(1)
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let len: usize = headers.iter().find(|(k, _)| k == "content-length").and_then(|(_, v)| v.parse().ok()).unwrap_or(0);
    while buf.len() < head_end + len {
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    let raw = buf[head_end..head_end + len].to_vec();
    let gzip = headers.iter().any(|(k, v)| k == "content-encoding" && v == "gzip");
    let body = if gzip { gunzip(&raw) } else { raw };
    received.lock().unwrap().push(Received { path, headers, body });
    let reply = replies.lock().unwrap().pop_front().unwrap_or(Reply::Status(200));
    let (status, extra, ctype, body) = match reply {
        Reply::Drop => return,
        Reply::Delay(d) => {
            tokio::time::sleep(d).await;
            (200, String::new(), "application/x-protobuf", Vec::new())
        }
        Reply::Status(s) => (s, String::new(), "text/plain", Vec::new()),
        Reply::RetryAfter(s, secs) => (s, format!("retry-after: {secs}\r\n"), "text/plain", Vec::new()),
        Reply::Body(s, ctype, body) => (s, String::new(), ctype, body),
        Reply::Truncated(s) | Reply::Stalled(s) => {
            let head =
                format!("HTTP/1.1 {s} X\r\ncontent-type: application/x-protobuf\r\ncontent-length: 100\r\n\r\nabc");
            let _ = stream.write_all(head.as_bytes()).await;
            if matches!(reply, Reply::Stalled(_)) {
                // Until the relay gives up and drops the connection.
                let _ = stream.read(&mut chunk).await;
            }
            return;
        }
    };
    let head = format!(
        "HTTP/1.1 {status} X\r\ncontent-type: {ctype}\r\ncontent-length: {}\r\nconnection: close\r\n{extra}\r\n",
        body.len()
    );
    let _ = stream.write_all(head.as_bytes()).await;
    let _ = stream.write_all(&body).await;
    let _ = stream.shutdown().await;
}

pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

pub fn gunzip(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    MultiGzDecoder::new(data).read_to_end(&mut out).unwrap();
    out
}

pub fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as i64
}

/// A response as the tests look at it.
#[derive(Debug)]
pub struct Res {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Vec<u8>,
}

impl Res {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&self.body)))
    }

    /// The error message, from a JSON or protobuf `google.rpc.Status`.
    pub fn message(&self) -> String {
        if self.header("content-type") == Some("application/x-protobuf") {
            return canopy_relay::model::RpcStatus::decode(self.body.as_slice()).unwrap().message;
        }
        self.json()["message"].as_str().unwrap_or_default().to_owned()
    }
}

/// One client for every test (building one loads the TLS roots, ~40 ms); no pooled
/// connections, since each test has its own runtime.
pub fn client() -> reqwest::Client {
    static CLIENT: std::sync::OnceLock<reqwest::Client> = std::sync::OnceLock::new();
    CLIENT.get_or_init(|| reqwest::Client::builder().no_proxy().pool_max_idle_per_host(0).build().unwrap()).clone()
}

/// POSTs `body` with a content type and extra headers.
pub async fn post(url: &str, content_type: &str, headers: &[(&str, &str)], body: impl Into<reqwest::Body>) -> Res {
    let mut req = client().post(url).header("content-type", content_type).body(body);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    into_res(req.send().await.unwrap()).await
}

pub async fn post_json(url: &str, body: &str) -> Res {
    post(url, "application/json", &[], body.to_owned()).await
}

pub async fn get(url: &str) -> Res {
    into_res(client().get(url).send().await.unwrap()).await
}

pub async fn into_res(res: reqwest::Response) -> Res {
    Res { status: res.status().as_u16(), headers: res.headers().clone(), body: res.bytes().await.unwrap().to_vec() }
}

/// `doc` as the `i`th request of its own: the same document with `i` spaces after it, so the
/// relay does not take it for a copy of one it delivered (see `copies.rs`).
pub fn again(doc: &str, i: usize) -> String {
    format!("{doc}{}", " ".repeat(i))
}

/// An SDK-shaped OTLP JSON batch: one trace, a root and `n - 1` children, starting `start_ms`.
pub fn sdk_batch(trace_id: &str, n: usize, start_ms: i64) -> String {
    let ns = |ms: i64| (ms as u64 * 1_000_000).to_string();
    let spans: Vec<String> = (0..n)
        .map(|i| {
            let parent = if i == 0 { String::new() } else { format!(r#""parentSpanId":"{:016x}","#, 1) };
            format!(
                r#"{{"traceId":"{trace_id}","spanId":"{:016x}",{parent}"flags":257,"name":"span {i}","kind":{},"startTimeUnixNano":"{}","endTimeUnixNano":"{}","attributes":[{{"key":"http.request.method","value":{{"stringValue":"GET"}}}},{{"key":"url.full","value":{{"stringValue":"https://app.example.com/api/items/{i}"}}}},{{"key":"http.response.status_code","value":{{"intValue":"200"}}}}],"events":[{{"timeUnixNano":"{}","name":"mark"}}]}}"#,
                i + 1,
                if i == 0 { 1 } else { 3 },
                ns(start_ms + i as i64),
                ns(start_ms + 100 + i as i64),
                ns(start_ms + 50),
            )
        })
        .collect();
    format!(
        r#"{{"resourceSpans":[{{"resource":{{"attributes":[{{"key":"service.name","value":{{"stringValue":"frontend"}}}}]}},"scopeSpans":[{{"scope":{{"name":"canopy-web","version":"0.1.0"}},"spans":[{}]}}]}}]}}"#,
        spans.join(",")
    )
}

/// Runs `tests/it/<script>` (a viewer script: see viewer_page.mjs) with node on `relay`'s viewer at
/// `trace`, `args` after those; what it printed, as JSON. Headless Chromium and playwright-core are
/// set up by `make test`, as for the SDK's browser tests: a missing one fails, it is not skipped.
pub async fn viewer_in_chromium(script: &str, relay: &Relay, trace: &str, args: &[&str]) -> serde_json::Value {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
    let playwright = format!("{root}/tools/node_modules/playwright-core/index.mjs");
    assert!(std::path::Path::new(&playwright).exists(), "{playwright}: run scripts/setup.sh (make test does)");
    let script = format!("{}/tests/it/{script}", env!("CARGO_MANIFEST_DIR"));
    let mut argv = vec![script, playwright, relay.url(""), trace.to_owned()];
    argv.extend(args.iter().map(|a| a.to_string()));
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new("node").args(&argv).output().expect("node runs")
    })
    .await
    .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Waits until `f` is true, up to 5 s.
pub async fn eventually(mut f: impl FnMut() -> bool) {
    until(5, || std::future::ready(f()), || String::from("condition")).await;
}

/// Waits until `cond()` resolves to true, polling every 10 ms, up to `secs` seconds; then
/// panics with `what()` (the state worth seeing).
pub async fn until<F: std::future::Future<Output = bool>>(
    secs: u64,
    mut cond: impl FnMut() -> F,
    what: impl FnOnce() -> String,
) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    let mut poll = tokio::time::interval(Duration::from_millis(10));
    while !cond().await {
        assert!(tokio::time::Instant::now() < deadline, "not met within {secs} s: {}", what());
        poll.tick().await;
    }
}

/// The relay's router, driven without a socket (`tower::ServiceExt::oneshot`, as axum's testing
/// example does), for tests that need no timeouts, slow clients or peer addresses.
pub struct App(axum::Router);

impl App {
    pub fn new(config: Config) -> App {
        App(canopy_relay::app(AppState::new(config).unwrap()))
    }

    /// Sends `req` through the router and collects the answer.
    pub async fn send(&self, req: axum::http::Request<axum::body::Body>) -> Res {
        use http_body_util::BodyExt;
        use tower::ServiceExt;
        let res = self.0.clone().oneshot(req).await.unwrap();
        let status = res.status().as_u16();
        let mut headers = reqwest::header::HeaderMap::new();
        for (k, v) in res.headers() {
            headers
                .append(k.as_str().parse::<reqwest::header::HeaderName>().unwrap(), v.as_bytes().try_into().unwrap());
        }
        let body = res.into_body().collect().await.unwrap().to_bytes().to_vec();
        Res { status, headers, body }
    }
}
