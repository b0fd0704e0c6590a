//! Issue 10, item 6: what the viewer and `/metrics` answer, and to whom: fail closed, refuse
//! proxied requests, a token for `/metrics`, a listener of their own.

use crate::support::*;
use canopy_relay::{AppState, Config, Secret};
use tokio::net::TcpListener;

async fn get_with(url: &str, headers: &[(&str, &str)]) -> Res {
    let mut req = client().get(url);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    into_res(req.send().await.unwrap()).await
}

#[tokio::test]
async fn the_viewer_and_metrics_refuse_requests_that_came_through_a_proxy() {
    let relay = Relay::start(local()).await;
    for path in ["/", "/api/traces", "/metrics"] {
        let url = relay.url(path);
        assert_eq!(get_with(&url, &[]).await.status, 200, "{path} directly from loopback");
        for header in [
            ("x-forwarded-for", "203.0.113.9"),
            ("forwarded", "for=203.0.113.9"),
            ("x-real-ip", "203.0.113.9"),
            ("x-forwarded-host", "relay.example.com"),
            ("via", "1.1 nginx"),
        ] {
            let res = get_with(&url, &[header]).await;
            assert_eq!(res.status, 403, "{path} with {header:?}");
        }
    }
    // /metrics used to answer any Host (e.g. through a proxy that passes the public name).
    let res = get_with(&relay.url("/metrics"), &[("host", "relay.example.com")]).await;
    assert_eq!(res.status, 403);
    // Exports are not affected.
    let res = post(&relay.traces(), "application/json", &[("x-forwarded-for", "203.0.113.9")], GOLDEN).await;
    assert_eq!(res.status, 200);
}

#[tokio::test]
async fn metrics_answer_anyone_with_the_token() {
    let relay = Relay::start(Config { metrics_token: Some(Secret::new("scrape-me")), ..local() }).await;
    let url = relay.url("/metrics");
    let remote = [("host", "relay.example.com"), ("x-forwarded-for", "203.0.113.9")];
    let res = get_with(&url, &[remote[0], remote[1], ("authorization", "Bearer scrape-me")]).await;
    assert_eq!(res.status, 200);
    assert!(String::from_utf8_lossy(&res.body).contains("canopy_relay_requests_total"));
    let wrong = get_with(&url, &[remote[0], remote[1], ("authorization", "Bearer scrape-mf")]).await;
    assert_eq!(wrong.status, 403);
    let viewer = get_with(&relay.url("/api/traces"), &[remote[0], ("authorization", "Bearer scrape-me")]).await;
    assert_eq!(viewer.status, 403, "the token opens /metrics only");
}

#[tokio::test]
async fn an_admin_listener_takes_the_viewer_and_metrics_off_the_main_one() {
    let admin = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let admin_addr = admin.local_addr().unwrap();
    let config = Config { admin_listen: Some(admin_addr), ..local() };
    let relay = Relay::start(config.clone()).await;
    let state = AppState::new(config).unwrap();
    let server = tokio::spawn(canopy_relay::serve_admin(admin, state, std::future::pending()));
    for path in ["/api/traces", "/metrics", "/viewer.js"] {
        assert_eq!(get(&relay.url(path)).await.status, 404, "{path} is not on the main listener");
        assert_eq!(get(&format!("http://{admin_addr}{path}")).await.status, 200, "{path} on the admin one");
    }
    assert_eq!(post_json(&relay.traces(), GOLDEN).await.status, 200);
    assert_eq!(post_json(&format!("http://{admin_addr}/v1/traces"), GOLDEN).await.status, 404, "no ingest there");
    server.abort();
    let bad = canopy_relay::Args::parse_without_env(["canopy-relay", "--admin-listen", "0.0.0.0:4319"]).unwrap();
    assert!(Config::from_args(bad).is_err(), "the admin listener must be loopback");
}

/// Without a socket (`app().oneshot`): no peer address used to count as loopback.
#[tokio::test]
async fn without_a_peer_address_the_viewer_fails_closed() {
    use tower::ServiceExt;
    let app = canopy_relay::app(AppState::new(local()).unwrap());
    for path in ["/api/traces", "/metrics", "/"] {
        let req = axum::http::Request::get(path).header("host", "127.0.0.1").body(axum::body::Body::empty()).unwrap();
        let res = app.clone().oneshot(req).await.unwrap();
        assert_eq!(res.status(), 403, "{path}");
    }
}

/// Issue 10, item 8: every answer says `nosniff` (JSON and OTLP ones lacked it), and the
/// viewer's CSP allows no inline script or style.
#[tokio::test]
async fn answers_say_nosniff_and_the_viewer_allows_no_inline_code() {
    let relay = Relay::start(local()).await;
    let answers = [
        post_json(&relay.traces(), GOLDEN).await,
        post_json(&relay.traces(), "{").await,
        post(&relay.traces(), "application/x-protobuf", &[], vec![0xff]).await,
        get(&relay.url("/api/traces")).await,
        get(&relay.url("/nope")).await,
        get(&relay.url("/metrics")).await,
    ];
    for res in &answers {
        assert_eq!(res.header("x-content-type-options"), Some("nosniff"), "{} {:?}", res.status, res.headers);
    }
    let page = get(&relay.url("/")).await;
    let csp = page.header("content-security-policy").unwrap();
    assert!(!csp.contains("unsafe-inline") && csp.contains("script-src 'self'"), "{csp}");
    let html = String::from_utf8_lossy(&page.body);
    assert!(!html.contains("<script>") && !html.contains("<style>") && !html.contains(" style="), "{html}");
    let js = get(&relay.url("/viewer.js")).await;
    assert_eq!((js.status, js.header("content-type")), (200, Some("text/javascript; charset=utf-8")));
    assert!(!String::from_utf8_lossy(&js.body).contains("setAttribute(\"style\""), "styles only through CSSOM");
}
