//! Issue 10, item 7: what one client can spend of the operator's upstream quota: spans and
//! bytes per client, a default span limit per request near the SDK's batch size, an optional
//! ingest token.

use crate::support::*;
use canopy_relay::Config;

fn per_client(config: Config) -> Config {
    Config { client_ip_header: Some("x-forwarded-for".parse().unwrap()), ..config }
}

async fn from(relay: &Relay, ip: &str, body: &str) -> Res {
    post(&relay.traces(), "application/json", &[("x-forwarded-for", ip)], body.to_owned()).await
}

#[tokio::test]
async fn each_client_has_a_span_budget() {
    let up = Upstream::start().await;
    let config = Config { client_span_rate: 10.0, client_span_burst: 100, ..forwarding(&up, Some(KEY)) };
    let relay = Relay::start(per_client(config)).await;
    let batch = sdk_batch("0af7651916cd43dd8448eb211c80319c", 60, now_ms());
    assert_eq!(from(&relay, "203.0.113.1", &batch).await.status, 200);
    let over = from(&relay, "203.0.113.1", &again(&batch, 1)).await;
    assert_eq!(over.status, 429, "{}", over.message());
    assert!(over.message().contains("over its spans budget"), "{}", over.message());
    assert_eq!(over.header("retry-after"), Some("2"), "20 more spans at 10 a second");
    assert_eq!(from(&relay, "203.0.113.2", &again(&batch, 2)).await.status, 200, "another client has its own budget");
    assert_eq!(up.received().len(), 2, "the refused spans were not forwarded");
    let metrics = String::from_utf8(get(&relay.url("/metrics")).await.body).unwrap();
    assert!(metrics.contains("canopy_relay_spans_forwarded_total 120"), "{metrics}");
}

#[tokio::test]
async fn each_client_has_a_byte_budget_counted_after_gzip() {
    let config = Config { client_byte_rate: 1000.0, client_byte_burst: 100_000, ..local() };
    let relay = Relay::start(per_client(config)).await;
    // 60 KB of JSON that gzips to very little: the budget counts what it decompresses to.
    let batch = sdk_batch("0af7651916cd43dd8448eb211c80319c", 200, now_ms());
    assert!(batch.len() > 50_000, "{}", batch.len());
    let send = |ip: &'static str, i: usize| {
        let (url, gz) = (relay.traces(), gzip(again(&batch, i).as_bytes()));
        async move { post(&url, "application/json", &[("x-forwarded-for", ip), ("content-encoding", "gzip")], gz).await }
    };
    assert_eq!(send("203.0.113.1", 0).await.status, 200);
    let over = send("203.0.113.1", 1).await;
    assert_eq!(over.status, 429, "{}", over.message());
    assert!(over.message().contains("over its bytes budget"), "{}", over.message());
    assert_eq!(send("203.0.113.2", 2).await.status, 200);
}

#[tokio::test]
async fn the_default_span_limit_is_near_the_sdk_batch_size() {
    let relay = Relay::start(local()).await;
    let ok = sdk_batch("0af7651916cd43dd8448eb211c80319c", 512, now_ms());
    assert_eq!(post_json(&relay.traces(), &ok).await.status, 200, "a full SDK batch");
    let too_many = sdk_batch("1af7651916cd43dd8448eb211c80319c", 1025, now_ms());
    let res = post_json(&relay.traces(), &too_many).await;
    assert_eq!(res.status, 413);
    assert!(res.message().contains("1025 spans in one request, over the limit of 1024"), "{}", res.message());
}

#[tokio::test]
async fn an_ingest_token_is_required_when_configured() {
    let token = canopy_relay::Secret::new("t0ken-for-this-site");
    let relay = Relay::start(Config {
        ingest_token: Some(token),
        allowed_origins: vec!["https://app.example.com".into()],
        ..local()
    })
    .await;
    let without = post_json(&relay.traces(), GOLDEN).await;
    assert_eq!(without.status, 401);
    assert!(without.message().contains("x-canopy-token"), "{}", without.message());
    let wrong = post(&relay.traces(), "application/json", &[("x-canopy-token", "t0ken-for-this-sitf")], GOLDEN).await;
    assert_eq!(wrong.status, 401);
    let right = post(&relay.traces(), "application/json", &[("x-canopy-token", "t0ken-for-this-site")], GOLDEN).await;
    assert_eq!(right.status, 200);
    // Browsers may send the header: the preflight allows it.
    let preflight = client()
        .request(reqwest::Method::OPTIONS, relay.traces())
        .header("origin", "https://app.example.com")
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "content-type, x-canopy-token")
        .send()
        .await
        .unwrap();
    assert_eq!(preflight.status(), 204);
}

/// Issue 10, item 8: a tiny CANOPY_RATE_LIMIT made the 429's wait overflow a Duration (a panic).
#[tokio::test]
async fn a_tiny_rate_limit_answers_429_not_a_panic() {
    let relay = Relay::start(Config { rate_limit: 1e-300, rate_burst: 1, ..local() }).await;
    assert_eq!(post_json(&relay.traces(), GOLDEN).await.status, 200);
    let res = post_json(&relay.traces(), GOLDEN).await;
    assert_eq!((res.status, res.header("retry-after")), (429, Some("300")));
}

/// An abuse review: a gzip bomb past the decompression limit got its 413 without being charged,
/// so one client could make the relay inflate 16 MiB per request at the request rate. It is
/// charged what it made the relay inflate.
#[tokio::test]
async fn a_gzip_bomb_is_charged_to_the_clients_byte_budget() {
    let limits = canopy_relay::Limits { max_decompressed_bytes: 60_000, ..canopy_relay::Limits::default() };
    let config = Config { client_byte_rate: 1.0, client_byte_burst: 70_000, limits, ..local() };
    let relay = Relay::start(per_client(config)).await;
    let bomb = gzip(&vec![b' '; 1 << 20]);
    assert!(bomb.len() < 5_000, "{}", bomb.len());
    let sent = post(
        &relay.traces(),
        "application/json",
        &[("x-forwarded-for", "203.0.113.1"), ("content-encoding", "gzip")],
        bomb,
    )
    .await;
    assert_eq!(sent.status, 413, "{}", sent.message());
    let batch = sdk_batch("0af7651916cd43dd8448eb211c80319c", 40, now_ms());
    assert!(batch.len() > 12_000, "{}", batch.len());
    let over = from(&relay, "203.0.113.1", &again(&batch, 1)).await;
    assert_eq!(over.status, 429, "the bomb spent the budget: {}", over.message());
    assert!(over.message().contains("over its bytes budget"), "{}", over.message());
    assert_eq!(from(&relay, "203.0.113.2", &batch).await.status, 200, "another client has its own");
}
