//! Clock skew: a deliberately wrong browser clock, by header and by `?sent_at=`.

use crate::support::*;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::trace::v1::Span;

const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const HOUR_MS: i64 = 3_600_000;

fn skew_attr(s: &Span) -> Option<i64> {
    let kv = s.attributes.iter().find(|kv| kv.key == "canopy.clock_skew_ms")?;
    match kv.value.as_ref()?.value.as_ref()? {
        Value::IntValue(v) => Some(*v),
        _ => None,
    }
}

async fn forwarded_spans(up: &Upstream) -> Vec<Span> {
    let got = up.received();
    got.last().unwrap().request().resource_spans.remove(0).scope_spans.remove(0).spans
}

#[tokio::test]
async fn a_browser_clock_an_hour_behind_is_corrected_from_the_header() {
    let up = Upstream::start().await;
    let relay = Relay::start(forwarding(&up, Some(KEY))).await;
    // The browser thinks it is an hour earlier than it is; its span times are on its clock.
    let browser_now = now_ms() - HOUR_MS;
    let body = sdk_batch(TRACE, 3, browser_now - 200);
    let sent_at = browser_now.to_string();
    let res = post(&relay.traces(), "application/json", &[("x-canopy-sent-at", &sent_at)], body).await;
    assert_eq!(res.status, 200, "{}", res.message());
    let spans = forwarded_spans(&up).await;
    for (i, s) in spans.iter().enumerate() {
        let skew = skew_attr(s).expect("every span records the correction");
        assert!((HOUR_MS..HOUR_MS + 2000).contains(&skew), "about an hour: {skew}");
        let want_start = ((browser_now - 200 + i as i64 + skew) * 1_000_000) as u64;
        assert_eq!(s.start_time_unix_nano, want_start, "start moved by exactly the skew");
        assert_eq!(s.end_time_unix_nano - s.start_time_unix_nano, 100_000_000, "durations unchanged");
        assert_eq!(s.events[0].time_unix_nano, ((browser_now - 150 + skew) * 1_000_000) as u64, "events move too");
        let relay_now_ns = (now_ms() * 1_000_000) as u64;
        assert!(s.end_time_unix_nano <= relay_now_ns, "on the relay's clock now, not an hour ago");
    }
}

#[tokio::test]
async fn a_beacon_from_a_clock_ten_minutes_ahead_is_corrected_from_the_query() {
    let up = Upstream::start().await;
    let relay = Relay::start(forwarding(&up, Some(KEY))).await;
    let browser_now = now_ms() + 600_000;
    let body = sdk_batch(TRACE, 2, browser_now - 300);
    let url = format!("{}?sent_at={browser_now}", relay.traces());
    let res = post(&url, "text/plain;charset=UTF-8", &[], body).await;
    assert_eq!(res.status, 200, "{}", res.message());
    let spans = forwarded_spans(&up).await;
    let skew = skew_attr(&spans[0]).unwrap();
    assert!((-600_000..-598_000).contains(&skew), "ten minutes back: {skew}");
    assert_eq!(spans[0].start_time_unix_nano, ((browser_now - 300 + skew) * 1_000_000) as u64);
}

#[tokio::test]
async fn a_small_difference_is_left_alone() {
    let up = Upstream::start().await;
    let relay = Relay::start(forwarding(&up, Some(KEY))).await;
    let browser_now = now_ms() - 300; // within the 1000 ms threshold (transit time looks like this)
    let body = sdk_batch(TRACE, 2, browser_now - 200);
    let res = post(&relay.traces(), "application/json", &[("x-canopy-sent-at", &browser_now.to_string())], body).await;
    assert_eq!(res.status, 200);
    let spans = forwarded_spans(&up).await;
    assert_eq!(skew_attr(&spans[0]), None);
    assert_eq!(spans[0].start_time_unix_nano, ((browser_now - 200) * 1_000_000) as u64, "unchanged");
}

#[tokio::test]
async fn a_malformed_clock_is_refused() {
    let up = Upstream::start().await;
    let relay = Relay::start(forwarding(&up, Some(KEY))).await;
    let res = post(&relay.traces(), "application/json", &[("x-canopy-sent-at", "yesterday")], GOLDEN).await;
    assert_eq!(res.status, 400);
    assert!(res.message().contains("x-canopy-sent-at must be epoch milliseconds"), "{}", res.message());
    let res = post(&format!("{}?sent_at=1.5e12", relay.traces()), "text/plain", &[], GOLDEN).await;
    assert_eq!(res.status, 400);
    assert!(up.received().is_empty());
}
