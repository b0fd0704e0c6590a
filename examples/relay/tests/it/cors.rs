//! CORS and the sendBeacon fallback.

use crate::support::*;
use axum::body::Body;
use axum::http::Request;
use canopy_relay::Config;

async fn relay_for(up: &Upstream, extra_headers: &[&str]) -> Relay {
    Relay::start(Config {
        allowed_origins: vec![APP.into(), "http://localhost:5173".into()],
        allow_headers: extra_headers.iter().map(|h| h.to_string()).collect(),
        ..forwarding(up, Some(KEY))
    })
    .await
}

#[tokio::test]
async fn an_allowed_origin_gets_cors_headers() {
    let up = Upstream::start().await;
    let relay = relay_for(&up, &[]).await;
    let res = post(&relay.traces(), "application/json", &[("origin", APP)], GOLDEN).await;
    assert_eq!(res.status, 200);
    assert_eq!(res.header("access-control-allow-origin"), Some(APP));
    assert_eq!(res.header("access-control-expose-headers"), Some("retry-after"), "the SDK reads Retry-After");
    assert!(res.headers.get_all("vary").iter().any(|v| v == "origin"));
    assert_eq!(up.received().len(), 1);
}

#[tokio::test]
async fn other_origins_get_403_and_nothing_is_forwarded() {
    let up = Upstream::start().await;
    let relay = relay_for(&up, &[]).await;
    for origin in ["https://evil.example.com", "https://app.example.com.evil.com", "null", "http://localhost:5174"] {
        let res = post(&relay.traces(), "application/json", &[("origin", origin)], GOLDEN).await;
        assert_eq!(res.status, 403, "{origin}");
        assert!(res.message().contains("is not allowed"), "{}", res.message());
        assert_eq!(res.header("access-control-allow-origin"), None, "{origin}");
        let res = preflight(&relay.traces(), origin, "POST", "content-type").await;
        assert_eq!(res.status, 403, "preflight from {origin}");
        assert_eq!(res.header("access-control-allow-origin"), None);
    }
    let res =
        post(&relay.traces(), "text/plain;charset=UTF-8", &[("origin", "https://evil.example.com")], GOLDEN).await;
    assert_eq!(res.status, 403, "a beacon from another origin too");
    assert!(up.received().is_empty());
}

#[tokio::test]
async fn a_preflight_allows_exactly_the_sdk_headers() {
    let up = Upstream::start().await;
    let relay = relay_for(&up, &[]).await;
    let res = preflight(&relay.traces(), APP, "POST", "content-type,content-encoding,x-canopy-sent-at").await;
    assert_eq!(res.status, 204);
    assert_eq!(res.header("access-control-allow-origin"), Some(APP));
    assert_eq!(res.header("access-control-allow-methods"), Some("POST"));
    assert_eq!(res.header("access-control-allow-headers"), Some("content-type, content-encoding, x-canopy-sent-at"));
    assert_eq!(res.header("access-control-max-age"), Some("7200"));
    assert_eq!(preflight(&relay.traces(), APP, "POST", "Content-Type").await.status, 204, "a subset, any case");
    for (method, headers, why) in [
        ("POST", "content-type, x-honeycomb-team", "the key header is never taken from a browser"),
        ("POST", "authorization", "authorization"),
        ("POST", "content-type, x-custom", "anything else"),
        ("PUT", "content-type", "only POST"),
        ("GET", "", "only POST"),
    ] {
        let res = preflight(&relay.traces(), APP, method, headers).await;
        assert_eq!(res.status, 403, "{why}");
        assert_eq!(res.header("access-control-allow-origin"), None);
    }
}

#[tokio::test]
async fn an_operator_can_allow_more_headers() {
    let up = Upstream::start().await;
    let relay = relay_for(&up, &["X-Tenant"]).await;
    let res = preflight(&relay.traces(), APP, "POST", "content-type, x-tenant").await;
    assert_eq!(res.status, 204);
    assert_eq!(
        res.header("access-control-allow-headers"),
        Some("content-type, content-encoding, x-canopy-sent-at, x-tenant")
    );
}

#[tokio::test]
async fn requests_without_origin_are_not_cors() {
    let up = Upstream::start().await;
    let relay = relay_for(&up, &[]).await;
    let res = post_json(&relay.traces(), GOLDEN).await;
    assert_eq!(res.status, 200);
    assert_eq!(res.header("access-control-allow-origin"), None);
}

#[tokio::test]
async fn the_relays_own_origin_is_allowed() {
    let up = Upstream::start().await;
    let relay = relay_for(&up, &[]).await;
    let own = format!("http://{}", relay.addr);
    assert_eq!(post(&relay.traces(), "application/json", &[("origin", &own)], GOLDEN).await.status, 200);
}

#[tokio::test]
async fn a_beacon_is_accepted_only_as_valid_otlp_json() {
    let up = Upstream::start().await;
    let relay = relay_for(&up, &[]).await;
    let beacon = |body: String, ct: &'static str| {
        let url = format!("{}?sent_at={}", relay.traces(), now_ms());
        async move { post(&url, ct, &[("origin", APP)], body).await }
    };
    let res = beacon(GOLDEN.to_owned(), "text/plain;charset=UTF-8").await;
    assert_eq!(res.status, 200, "{}", res.message());
    assert_eq!(res.header("access-control-allow-origin"), Some(APP));
    assert_eq!(beacon(again(GOLDEN, 1), "text/plain").await.status, 200);
    assert_eq!(up.received().len(), 2);
    for (body, ct, status, why) in [
        ("hello", "text/plain;charset=UTF-8", 400, "not JSON"),
        (r#"{"resourceSpans":"x"}"#, "text/plain;charset=UTF-8", 400, "JSON but not OTLP"),
        (GOLDEN, "text/plain;charset=ISO-8859-1", 415, "another charset"),
        (GOLDEN, "application/x-www-form-urlencoded", 415, "the other safelisted types"),
        (GOLDEN, "multipart/form-data; boundary=x", 415, "multipart"),
    ] {
        let res = beacon(body.to_owned(), ct).await;
        assert_eq!(res.status, status, "{why}: {}", res.message());
    }
    let res = post(&relay.traces(), "text/plain", &[("content-encoding", "gzip")], gzip(GOLDEN.as_bytes())).await;
    assert_eq!(res.status, 415, "a beacon is never gzip");
    assert_eq!(up.received().len(), 2, "none of the bad ones was forwarded");
}

#[tokio::test]
async fn a_rate_limited_answer_keeps_its_cors_headers() {
    let up = Upstream::start().await;
    let relay = rate_limited_relay(&up).await;
    for i in 0..2 {
        assert_eq!(post(&relay.traces(), "application/json", &[("origin", APP)], again(GOLDEN, i)).await.status, 200);
    }
    let res = post(&relay.traces(), "application/json", &[("origin", APP)], again(GOLDEN, 2)).await;
    assert_eq!(res.status, 429);
    assert_eq!(res.header("retry-after"), Some("2"), "one token at 0.5/s");
    assert_eq!(res.header("access-control-allow-origin"), Some(APP), "so the SDK can read Retry-After");
    assert!(res.message().contains("too many requests"), "{}", res.message());
    assert_eq!(up.received().len(), 2);
}

/// Issue 10, item 8: `*` was shown as allowed and then refused, and `https://*.example.com`
/// matched nothing. Both work now; other wildcards are refused at startup.
#[tokio::test]
async fn wildcard_origins_work_and_other_patterns_are_refused() {
    let up = Upstream::start().await;
    let sub =
        Relay::start(Config { allowed_origins: vec!["https://*.example.com".into()], ..forwarding(&up, Some(KEY)) })
            .await;
    let from = |relay: &Relay, origin: &'static str| {
        let url = relay.traces();
        async move { post(&url, "application/json", &[("origin", origin)], GOLDEN).await }
    };
    let ok = from(&sub, "https://shop.example.com").await;
    assert_eq!((ok.status, ok.header("access-control-allow-origin")), (200, Some("https://shop.example.com")));
    assert_eq!(from(&sub, "https://example.com").await.status, 403);
    assert_eq!(from(&sub, "https://shop.example.com.evil.com").await.status, 403);
    let any = Relay::start(Config { allowed_origins: vec!["*".into()], ..forwarding(&up, Some(KEY)) }).await;
    let ok = from(&any, "https://anyone.test").await;
    assert_eq!((ok.status, ok.header("access-control-allow-origin")), (200, Some("https://anyone.test")));
    let bad = Config { allowed_origins: vec!["https://app.*.com".into()], ..local() };
    let err = canopy_relay::AppState::new(bad).err().expect("refused at startup");
    assert!(err.to_string().contains("wildcard"), "{err}");
}

/// `CANOPY_ALLOWED_ORIGINS` entries with the default port spelled out, uppercase or an
/// internationalised host match the `Origin` browsers send (its ASCII serialization).
#[tokio::test]
async fn entries_match_origins_as_browsers_send_them() {
    let allowed =
        ["https://App.Example.com:443", "http://localhost:80", "https://bücher.example", "https://*.bücher.example"];
    let app = App::new(Config { allowed_origins: allowed.map(String::from).to_vec(), ..local() });
    for origin in [
        "https://app.example.com",
        "http://localhost",
        "https://xn--bcher-kva.example",
        "https://shop.xn--bcher-kva.example",
    ] {
        let req = Request::post("/v1/traces")
            .header("content-type", "application/json")
            .header("origin", origin)
            .body(Body::from(GOLDEN))
            .unwrap();
        let res = app.send(req).await;
        assert_eq!((res.status, res.header("access-control-allow-origin")), (200, Some(origin)), "{}", res.message());
    }
    for bad in ["https://app.example.com/app", "https://app.example.com?x=1", "https://u@app.example.com"] {
        let config = Config { allowed_origins: vec![bad.into()], ..local() };
        assert!(canopy_relay::AppState::new(config).is_err(), "{bad} is refused at startup");
    }
}
