//! Browser clock skew: shift a request's times onto the relay's clock.
//!
//! The SDK sends its clock with every export: the `x-canopy-sent-at` header, or `?sent_at=` on
//! a `sendBeacon` URL (a beacon cannot carry headers), both epoch milliseconds. When it differs
//! from the relay's clock by more than the threshold, every span, event and log record time in
//! the request moves by the difference and each span or record gets [`ATTRIBUTE`] (milliseconds
//! added). The difference also holds the request's transit time, which is why small ones are
//! left alone.

use crate::error::Reject;
use crate::model::{ExportLogsServiceRequest, ExportTraceServiceRequest, KeyValue, Value};
use axum::http::HeaderMap;

/// The span attribute that records a correction: milliseconds added to the span's times.
pub const ATTRIBUTE: &str = "canopy.clock_skew_ms";
pub const HEADER: &str = "x-canopy-sent-at";
pub const QUERY: &str = "sent_at";

/// The browser's send time from the header, else the query; 400 when present but not an
/// integer.
pub fn sent_at(headers: &HeaderMap, query: Option<&str>) -> Result<Option<i64>, Reject> {
    if let Some(v) = headers.get(HEADER) {
        return parse(v.to_str().unwrap_or("?"), HEADER).map(Some);
    }
    let from_query = query.into_iter().flat_map(|q| q.split('&')).find_map(|kv| kv.strip_prefix("sent_at="));
    from_query.map(|v| parse(v, "?sent_at=")).transpose()
}

fn parse(v: &str, name: &str) -> Result<i64, Reject> {
    let ok = !v.is_empty() && v.len() <= 16 && v.bytes().all(|b| b.is_ascii_digit());
    ok.then(|| v.parse().ok())
        .flatten()
        .ok_or_else(|| Reject::bad_request(format!("{name} must be epoch milliseconds (an integer), got {v:?}")))
}

/// The correction for a request sent at `sent_at_ms` (browser clock) and received at `now_ms`
/// (relay clock): `None` within the threshold.
pub fn offset_ms(sent_at_ms: i64, now_ms: i64, threshold_ms: u64) -> Option<i64> {
    let diff = now_ms.saturating_sub(sent_at_ms);
    (diff.unsigned_abs() > threshold_ms).then_some(diff)
}

/// Moves every span and event time (but not zero, "unknown") by `offset_ms` and records it on
/// each span, replacing any [`ATTRIBUTE`] the client sent.
pub fn apply(req: &mut ExportTraceServiceRequest, offset_ms: i64) {
    let shift = shifter(offset_ms);
    for span in req.spans_mut() {
        shift(&mut span.start_time_unix_nano);
        shift(&mut span.end_time_unix_nano);
        span.events.iter_mut().for_each(|e| shift(&mut e.time_unix_nano));
        span.attributes.retain(|kv| kv.key != ATTRIBUTE);
        span.attributes.push(KeyValue::new(ATTRIBUTE, Value::IntValue(offset_ms)));
    }
}

/// The same for log records: their time and observed time move, and each gets [`ATTRIBUTE`].
pub fn apply_logs(req: &mut ExportLogsServiceRequest, offset_ms: i64) {
    let shift = shifter(offset_ms);
    for record in req.records_mut() {
        shift(&mut record.time_unix_nano);
        shift(&mut record.observed_time_unix_nano);
        record.attributes.retain(|kv| kv.key != ATTRIBUTE);
        record.attributes.push(KeyValue::new(ATTRIBUTE, Value::IntValue(offset_ms)));
    }
}

/// Moves a time by `offset_ms`, leaving zero ("unknown") alone and staying within `u64`.
fn shifter(offset_ms: i64) -> impl Fn(&mut u64) {
    let nanos = i128::from(offset_ms) * 1_000_000;
    move |t: &mut u64| {
        if *t != 0 {
            *t = (i128::from(*t) + nanos).clamp(1, i128::from(u64::MAX)) as u64;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Event, ResourceSpans, ScopeSpans, Span};
    use axum::http::HeaderValue;

    #[test]
    fn reading_the_browser_clock() {
        let mut h = HeaderMap::new();
        assert_eq!(sent_at(&h, None), Ok(None), "nothing sent");
        assert_eq!(sent_at(&h, Some("a=1&sent_at=1700000000000")), Ok(Some(1_700_000_000_000)), "beacon query");
        h.insert(HEADER, HeaderValue::from_static("1700000000123"));
        assert_eq!(sent_at(&h, Some("sent_at=5")), Ok(Some(1_700_000_000_123)), "the header wins");
        for bad in ["-5", "1.5", "", "12345678901234567", "1e12", " 1"] {
            h.insert(HEADER, HeaderValue::from_str(bad).unwrap());
            assert_eq!(sent_at(&h, None).unwrap_err().status(), 400, "{bad:?}");
        }
        assert_eq!(sent_at(&HeaderMap::new(), Some("sent_at=abc")).unwrap_err().status(), 400);
    }

    #[test]
    fn offsets() {
        let cases = [
            (1_000, 1_000, 500, None, "same clock"),
            (1_000, 1_400, 500, None, "within the threshold"),
            (1_000, 1_600, 500, Some(600), "browser behind: times move forward"),
            (61_000, 1_000, 500, Some(-60_000), "browser ahead: times move back"),
            (1_000, 1_500, 500, None, "exactly the threshold is left alone"),
        ];
        for (sent, now, threshold, want, why) in cases {
            assert_eq!(offset_ms(sent, now, threshold), want, "{why}");
        }
    }

    #[test]
    fn apply_shifts_times_and_tags_spans() {
        let span = Span {
            start_time_unix_nano: 5_000_000,
            end_time_unix_nano: u64::MAX - 1,
            events: vec![Event { time_unix_nano: 0, ..Default::default() }],
            attributes: vec![KeyValue::new(ATTRIBUTE, Value::IntValue(99))],
            ..Default::default()
        };
        let mut req = ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                scope_spans: vec![ScopeSpans { spans: vec![span], ..Default::default() }],
                ..Default::default()
            }],
        };
        apply(&mut req, -10);
        let s = req.spans().next().unwrap();
        assert_eq!(s.start_time_unix_nano, 1, "clamped above zero");
        assert_eq!(s.end_time_unix_nano, u64::MAX - 10_000_001);
        assert_eq!(s.events[0].time_unix_nano, 0, "an unknown time stays unknown");
        assert_eq!(s.attributes, vec![KeyValue::new(ATTRIBUTE, Value::IntValue(-10))], "replaced, not added twice");
    }

    #[test]
    fn apply_logs_shifts_both_times() {
        use crate::model::{LogRecord, ResourceLogs, ScopeLogs};
        let record = LogRecord { time_unix_nano: 0, observed_time_unix_nano: 5_000_000, ..Default::default() };
        let mut req = ExportLogsServiceRequest {
            resource_logs: vec![ResourceLogs {
                scope_logs: vec![ScopeLogs { log_records: vec![record], ..Default::default() }],
                ..Default::default()
            }],
        };
        apply_logs(&mut req, 3);
        let r = req.records().next().unwrap().1;
        assert_eq!((r.time_unix_nano, r.observed_time_unix_nano), (0, 8_000_000), "unknown stays unknown");
        assert_eq!(r.attributes, vec![KeyValue::new(ATTRIBUTE, Value::IntValue(3))]);
    }
}
