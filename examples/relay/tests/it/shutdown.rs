//! Graceful shutdown, in process and for the real binary on SIGTERM; `--help`; the banner.

use crate::support::*;
use canopy_relay::Config;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tokio::net::TcpStream;

#[tokio::test]
async fn shutdown_lets_an_in_flight_forward_finish() {
    let up = Upstream::start().await;
    up.push([Reply::Delay(Duration::from_millis(700))]);
    let mut relay = Relay::start(forwarding(&up, Some(KEY))).await;
    let url = relay.traces();
    let request = tokio::spawn(async move { post_json(&url, GOLDEN).await.status });
    eventually(|| up.received().len() == 1).await;
    let t = Instant::now();
    let addr = relay.addr;
    let server = relay.shutdown();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(TcpStream::connect(addr).await.is_err(), "no new connections once shutting down");
    assert_eq!(request.await.unwrap(), 200, "the open request was answered");
    tokio::time::timeout(Duration::from_secs(3), server).await.expect("the server stopped").unwrap();
    assert!(t.elapsed() >= Duration::from_millis(450), "it waited for the forward: {:?}", t.elapsed());
}

#[tokio::test]
async fn shutdown_is_bounded_by_the_grace_period() {
    let up = Upstream::start().await;
    up.push([Reply::Delay(Duration::from_secs(10))]);
    let config = Config { shutdown_grace: Duration::from_millis(300), ..forwarding(&up, Some(KEY)) };
    let mut relay = Relay::start(config).await;
    let url = relay.traces();
    let _request = tokio::spawn(async move { post_json(&url, GOLDEN).await });
    eventually(|| up.received().len() == 1).await;
    let t = Instant::now();
    tokio::time::timeout(Duration::from_secs(3), relay.shutdown()).await.expect("stopped within the grace").unwrap();
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
}

/// The relay binary with a clean environment plus `env`; returns it and its address.
fn spawn_binary(env: &[(&str, &str)]) -> (Child, SocketAddr, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_canopy-relay"));
    cmd.env_clear().env("CANOPY_LISTEN", "127.0.0.1:0").stdout(Stdio::piped()).stderr(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut banner = String::new();
    for _ in 0..6 {
        let mut line = String::new();
        if out.read_line(&mut line).unwrap() == 0 {
            break;
        }
        banner.push_str(&line);
        if line.starts_with("allowed origins") {
            break;
        }
    }
    let addr = banner.lines().find_map(|l| l.strip_prefix("canopy-relay listening on http://")).expect(&banner);
    let addr = addr.trim().parse().unwrap();
    std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
    (child, addr, banner)
}

#[tokio::test]
async fn the_binary_finishes_an_in_flight_forward_on_sigterm() {
    let up = Upstream::start().await;
    up.push([Reply::Delay(Duration::from_millis(800))]);
    let upstream = up.url();
    let (mut child, addr, banner) =
        spawn_binary(&[("CANOPY_UPSTREAM", &upstream), ("HONEYCOMB_API_KEY", KEY), ("CANOPY_RATE_LIMIT", "0")]);
    assert!(banner.contains(&format!("forwarding to {upstream} with x-honeycomb-team")), "{banner}");
    assert!(!banner.contains(KEY), "the key is never printed: {banner}");
    let url = format!("http://{addr}/v1/traces");
    let request = tokio::spawn(async move { post_json(&url, GOLDEN).await.status });
    eventually(|| up.received().len() == 1).await;
    let killed = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(killed.success());
    assert_eq!(request.await.unwrap(), 200, "answered after SIGTERM");
    let t = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(t.elapsed() < Duration::from_secs(5), "exited within the grace period");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(status.success(), "{status}");
    assert_eq!(up.received()[0].header("x-honeycomb-team"), Some(KEY));
}

#[tokio::test]
async fn the_binary_runs_local_only_without_key_or_upstream() {
    let (mut child, addr, banner) = spawn_binary(&[("CANOPY_QUIET", "1"), ("CANOPY_PUBLIC_VIEWER", "yes")]);
    assert!(banner.contains("mode: local only"), "{banner}");
    assert!(banner.contains(&format!("viewer: http://{addr}/")), "{banner}");
    assert_eq!(get(&format!("http://{addr}/healthz")).await.status, 200);
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn help_documents_every_flag_and_never_shows_the_key() {
    use clap::CommandFactory;
    let out = Command::new(env!("CARGO_BIN_EXE_canopy-relay"))
        .arg("--help")
        .env("HONEYCOMB_API_KEY", "super-secret-key")
        .env("CANOPY_DATASET", "shown-dataset")
        .output()
        .unwrap();
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    assert!(!help.contains("super-secret-key"), "{help}");
    assert!(help.contains("shown-dataset"), "other values are shown");
    for name in ["HONEYCOMB_API_KEY", "CANOPY_LISTEN", "CANOPY_UPSTREAM", "CANOPY_ALLOWED_ORIGINS", "CANOPY_DATASET"] {
        assert!(help.contains(&format!("[env: {name}")), "{name} in\n{help}");
    }
    let cmd = canopy_relay::Args::command();
    for arg in cmd.get_arguments().filter(|a| a.get_long().is_some_and(|l| l != "help" && l != "version")) {
        let long = arg.get_long().unwrap();
        assert!(help.contains(&format!("--{long}")), "--{long}");
        assert!(arg.get_help().is_some(), "--{long} has help text");
        let env = arg.get_env().expect("every flag has an environment variable").to_string_lossy().into_owned();
        assert!(help.contains(&format!("[env: {env}")), "{env}");
    }
}

#[test]
fn bad_configuration_exits_with_a_message() {
    let out = Command::new(env!("CARGO_BIN_EXE_canopy-relay"))
        .env_clear()
        .env("CANOPY_UPSTREAM", "http://example.com/v1/traces")
        .env("HONEYCOMB_API_KEY", "k")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("plain http"));
}

/// Issue 10, item 8: reqwest followed HTTP(S)_PROXY without saying so, so the key could go
/// through a proxy nobody chose. It is used only when CANOPY_UPSTREAM_PROXY names it.
#[tokio::test]
async fn the_key_goes_through_a_proxy_only_when_asked() {
    let (up, proxy) = (Upstream::start().await, Upstream::start().await);
    // reqwest skips the environment's proxy for loopback IPs, so name the upstream "localhost".
    let upstream = format!("http://localhost:{}/v1/traces", up.addr.port());
    let proxy_url = format!("http://127.0.0.1:{}", proxy.addr.port());
    let env = [
        ("CANOPY_UPSTREAM", upstream.as_str()),
        ("HONEYCOMB_API_KEY", KEY),
        ("CANOPY_RATE_LIMIT", "0"),
        ("HTTP_PROXY", proxy_url.as_str()),
        ("http_proxy", proxy_url.as_str()),
        ("ALL_PROXY", proxy_url.as_str()),
    ];
    let (mut child, addr, _) = spawn_binary(&env);
    let res = post_json(&format!("http://{addr}/v1/traces"), GOLDEN).await;
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(res.status, 200, "{}", res.message());
    assert_eq!((up.received().len(), proxy.received().len()), (1, 0), "HTTP_PROXY is ignored");

    let mut with_proxy = env.to_vec();
    with_proxy.push(("CANOPY_UPSTREAM_PROXY", proxy_url.as_str()));
    let (mut child, addr, banner) = spawn_binary(&with_proxy);
    assert!(banner.contains(&format!("through the proxy {proxy_url}")), "{banner}");
    let res = post_json(&format!("http://{addr}/v1/traces"), GOLDEN).await;
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(res.status, 200, "{}", res.message());
    let got = proxy.received();
    assert_eq!(got.len(), 1, "CANOPY_UPSTREAM_PROXY is used");
    assert_eq!(got[0].header("x-honeycomb-team"), Some(KEY));
}
