//! Log records as CloudWatch Logs events, and events as `PutLogEvents` batches: plain data, no
//! I/O, tested natively.
//!
//! Each event's message is one JSON line that Logs Insights parses on its own, with the trace
//! and span ids as top-level fields so a query can join on them:
//!
//! ```text
//! {"trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","span_id":"00f067aa0ba902b7","severity":"ERROR",
//!  "body":"feed failed","attributes":{"http.status":500},"service":"frontend"}
//! ```
//!
//! The limits are `PutLogEvents`'s (API reference, "PutLogEvents"): at most 10,000 events and
//! 1,048,576 bytes a call, counting each event as its UTF-8 message plus 26 bytes; events in
//! chronological order; no call spanning more than 24 hours. One event is at most 256 KB here
//! (AWS has since raised its own cap; 256 KB keeps every message readable by older tooling):
//! a longer message loses its attributes and the tail of its body, and says `"truncated":true`.

use crate::model::{AnyValue, KeyValue, LogRecord, Value};
use crate::validate::hex;
use crate::view::json;
use serde::Serialize;
use serde_json::{Map, Value as J};

/// Events in one `PutLogEvents` call.
pub const MAX_BATCH_EVENTS: usize = 10_000;
/// Bytes in one call: messages plus [`EVENT_OVERHEAD`] each.
pub const MAX_BATCH_BYTES: usize = 1_048_576;
/// What AWS counts for each event on top of its message.
pub const EVENT_OVERHEAD: usize = 26;
/// One event, overhead included.
pub const MAX_EVENT_BYTES: usize = 256 * 1024;
/// One message (the event without its overhead).
pub const MAX_MESSAGE_BYTES: usize = MAX_EVENT_BYTES - EVENT_OVERHEAD;
/// A call's first and last events must be less than this far apart.
pub const MAX_BATCH_SPAN_MS: i64 = 24 * 60 * 60 * 1000;

/// One CloudWatch Logs event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// Epoch milliseconds.
    pub timestamp_ms: i64,
    /// A JSON line, at most [`MAX_MESSAGE_BYTES`].
    pub message: String,
}

impl Event {
    /// What the event counts for in a batch.
    pub fn size(&self) -> usize {
        self.message.len() + EVENT_OVERHEAD
    }
}

/// The message's fields, in the order they are written.
#[derive(Serialize)]
struct Line<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    trace_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    span_id: Option<String>,
    severity: &'a str,
    body: J,
    attributes: Map<String, J>,
    #[serde(skip_serializing_if = "Option::is_none")]
    service: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    event_name: Option<&'a str>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    truncated: bool,
}

/// A log record (with its resource's attributes) as an event; `now_ms` stands in for a record
/// without a time. The second value says whether the message had to be cut.
pub fn event(resource: &[KeyValue], r: &LogRecord, now_ms: i64) -> (Event, bool) {
    let nanos = if r.time_unix_nano != 0 { r.time_unix_nano } else { r.observed_time_unix_nano };
    let timestamp_ms = if nanos != 0 { (nanos / 1_000_000) as i64 } else { now_ms };
    let service = resource.iter().find(|kv| kv.key == "service.name").and_then(|kv| match &kv.value {
        Some(AnyValue { value: Some(Value::StringValue(s)) }) => Some(s.as_str()),
        _ => None,
    });
    let mut line = Line {
        trace_id: (!r.trace_id.is_empty()).then(|| hex(&r.trace_id)),
        span_id: (!r.span_id.is_empty()).then(|| hex(&r.span_id)),
        severity: r.severity(),
        body: r.body.as_ref().map_or(J::Null, json),
        attributes: r.attributes.iter().map(|kv| (kv.key.clone(), kv.value.as_ref().map_or(J::Null, json))).collect(),
        service,
        event_name: (!r.event_name.is_empty()).then_some(r.event_name.as_str()),
        truncated: false,
    };
    let message = to_line(&line);
    if message.len() <= MAX_MESSAGE_BYTES {
        return (Event { timestamp_ms, message }, false);
    }
    // Too long: keep the ids and the start of the body (as text), drop the attributes.
    let body = match std::mem::take(&mut line.body) {
        J::String(s) => s,
        other => other.to_string(),
    };
    line.attributes.clear();
    line.truncated = true;
    line.body = J::String(String::new());
    let room = MAX_MESSAGE_BYTES.saturating_sub(to_line(&line).len());
    line.body = J::String(escaped_prefix(&body, room).to_owned());
    let mut message = to_line(&line);
    if message.len() > MAX_MESSAGE_BYTES {
        // Only when ids and names alone are over the cap (a `max_value_bytes` over 256 KB).
        let mut end = MAX_MESSAGE_BYTES;
        while !message.is_char_boundary(end) {
            end -= 1;
        }
        message.truncate(end);
    }
    (Event { timestamp_ms, message }, true)
}

fn to_line(line: &Line) -> String {
    // Serializing strings, numbers and maps with string keys cannot fail.
    serde_json::to_string(line).unwrap_or_default()
}

/// The longest prefix of `s` whose JSON-escaped form (as `serde_json` writes it, quotes not
/// counted) fits in `room` bytes.
fn escaped_prefix(s: &str, room: usize) -> &str {
    let mut used = 0;
    for (i, c) in s.char_indices() {
        let n = match c {
            '"' | '\\' | '\u{8}' | '\u{c}' | '\n' | '\r' | '\t' => 2,
            c if (c as u32) < 0x20 => 6,
            c => c.len_utf8(),
        };
        if used + n > room {
            return &s[..i];
        }
        used += n;
    }
    s
}

/// Sorts `events` by time (stable: records with the same time keep their order) and cuts them
/// into `PutLogEvents` calls within the count, byte and 24-hour limits.
pub fn split(mut events: Vec<Event>) -> Vec<Vec<Event>> {
    events.sort_by_key(|e| e.timestamp_ms);
    let mut batches = Vec::new();
    let mut batch: Vec<Event> = Vec::new();
    let mut bytes = 0;
    for e in events {
        let full = batch.len() == MAX_BATCH_EVENTS
            || bytes + e.size() > MAX_BATCH_BYTES
            || batch.first().is_some_and(|first| e.timestamp_ms - first.timestamp_ms >= MAX_BATCH_SPAN_MS);
        if full && !batch.is_empty() {
            batches.push(std::mem::take(&mut batch));
            bytes = 0;
        }
        bytes += e.size();
        batch.push(e);
    }
    if !batch.is_empty() {
        batches.push(batch);
    }
    batches
}

/// How many of a call's `n` events CloudWatch Logs refused, from its `rejectedLogEventsInfo`:
/// the events from `too_new` on, and those up to `too_old` or `expired` (indexes, inclusive).
pub fn rejected(n: usize, too_new: Option<i32>, too_old: Option<i32>, expired: Option<i32>) -> usize {
    let index = |i: Option<i32>| i.and_then(|i| usize::try_from(i).ok());
    let tail = index(too_new).map_or(0, |i| n.saturating_sub(i));
    let head = index(too_old).max(index(expired)).map_or(0, |i| (i + 1).min(n));
    (head + tail).min(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(timestamp_ms: i64, len: usize) -> Event {
        Event { timestamp_ms, message: "x".repeat(len) }
    }

    fn check_limits(batches: &[Vec<Event>]) {
        for b in batches {
            assert!(!b.is_empty() && b.len() <= MAX_BATCH_EVENTS, "{} events", b.len());
            let bytes: usize = b.iter().map(Event::size).sum();
            assert!(bytes <= MAX_BATCH_BYTES, "{bytes} bytes");
            assert!(b.windows(2).all(|w| w[0].timestamp_ms <= w[1].timestamp_ms), "sorted");
            assert!(b.last().unwrap().timestamp_ms - b[0].timestamp_ms < MAX_BATCH_SPAN_MS, "within 24 h");
        }
    }

    #[test]
    fn splits_by_count() {
        let events: Vec<Event> = (0..25_001).map(|i| ev(1_700_000_000_000 + i, 1)).collect();
        let batches = split(events);
        assert_eq!(batches.iter().map(Vec::len).collect::<Vec<_>>(), [10_000, 10_000, 5_001]);
        check_limits(&batches);
    }

    #[test]
    fn splits_by_bytes() {
        // 100 events of 100,000 + 26 bytes: 10 fit in 1,048,576 (1,000,260), 11 do not.
        let batches = split((0..100).map(|i| ev(i, 100_000)).collect());
        assert_eq!(batches.iter().map(Vec::len).collect::<Vec<_>>(), [10; 10]);
        check_limits(&batches);
        // Exactly at the limit: 4 events of 262,118 + 26 = 262,144 bytes make 1,048,576.
        let exact = split((0..5).map(|i| ev(i, MAX_MESSAGE_BYTES)).collect());
        assert_eq!(exact.iter().map(Vec::len).collect::<Vec<_>>(), [4, 1], "the byte limit is inclusive");
    }

    #[test]
    fn splits_by_time_span_and_sorts() {
        let h = 60 * 60 * 1000;
        let t0 = 1_700_000_000_000;
        // Out of order, spread over 50 hours.
        let events = vec![ev(t0 + 50 * h, 1), ev(t0, 2), ev(t0 + 24 * h - 1, 3), ev(t0 + 24 * h, 4), ev(t0 + h, 5)];
        let batches = split(events);
        let lens: Vec<Vec<usize>> = batches.iter().map(|b| b.iter().map(|e| e.message.len()).collect()).collect();
        assert_eq!(lens, [vec![2, 5, 3], vec![4], vec![1]], "24 h apart starts a new call");
        check_limits(&batches);
    }

    #[test]
    fn splits_a_mix_of_everything() {
        // > 10,000 events, > 1 MB, > 24 h, shuffled.
        let h = 60 * 60 * 1000;
        let mut events: Vec<Event> =
            (0..30_000).map(|i| ev((i * 7919 % 30_000) * (3 * h / 1000), 40 + i as usize % 200)).collect();
        events.push(ev(0, MAX_MESSAGE_BYTES));
        let total = events.len();
        let batches = split(events);
        check_limits(&batches);
        assert_eq!(batches.iter().map(Vec::len).sum::<usize>(), total, "nothing lost");
        let all: Vec<i64> = batches.iter().flatten().map(|e| e.timestamp_ms).collect();
        assert!(all.windows(2).all(|w| w[0] <= w[1]), "sorted across calls too");
        assert!(split(Vec::new()).is_empty());
    }

    #[test]
    fn stable_for_equal_times() {
        let batches = split(vec![ev(5, 3), ev(5, 1), ev(1, 9), ev(5, 2)]);
        let lens: Vec<usize> = batches[0].iter().map(|e| e.message.len()).collect();
        assert_eq!(lens, [9, 3, 1, 2]);
    }

    fn record() -> LogRecord {
        LogRecord {
            time_unix_nano: 1_700_000_000_123_456_789,
            severity_number: 17,
            body: Some(AnyValue { value: Some(Value::StringValue("feed failed".into())) }),
            attributes: vec![
                KeyValue::new("http.status", Value::IntValue(500)),
                KeyValue::new("ratio", Value::DoubleValue(f64::NAN)),
            ],
            trace_id: vec![0x4b; 16],
            span_id: vec![0x0f; 8],
            ..Default::default()
        }
    }

    #[test]
    fn messages_are_json_lines_with_the_ids() {
        let resource = [KeyValue::new("service.name", Value::StringValue("frontend".into()))];
        let (e, cut) = event(&resource, &record(), 42);
        assert!(!cut);
        assert_eq!(e.timestamp_ms, 1_700_000_000_123);
        assert_eq!(
            e.message,
            r#"{"trace_id":"4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b","span_id":"0f0f0f0f0f0f0f0f","severity":"ERROR","body":"feed failed","attributes":{"http.status":500,"ratio":"NaN"},"service":"frontend"}"#
        );
        let mut r = record();
        (r.trace_id, r.span_id, r.time_unix_nano, r.observed_time_unix_nano) = (vec![], vec![], 0, 7_000_000);
        r.severity_text = "warning".into();
        r.body = Some(AnyValue {
            value: Some(Value::KvlistValue(crate::model::KeyValueList {
                values: vec![KeyValue::new("b", Value::BytesValue(vec![1, 2]))],
            })),
        });
        let (e, _) = event(&[], &r, 42);
        assert_eq!(e.timestamp_ms, 7, "the observed time when there is no time");
        let v: J = serde_json::from_str(&e.message).unwrap();
        assert_eq!(v["severity"], "warning", "the text wins over the number");
        assert_eq!(v["body"], serde_json::json!({"b": "AQI="}));
        assert!(v.get("trace_id").is_none() && v.get("service").is_none(), "absent, not empty: {v}");
        r.observed_time_unix_nano = 0;
        assert_eq!(event(&[], &r, 42).0.timestamp_ms, 42, "now when the record has no time at all");
    }

    #[test]
    fn long_messages_are_cut_and_stay_json() {
        for filler in ["a", "é", "\"", "\u{1}", "🌲"] {
            let mut r = record();
            r.body = Some(AnyValue { value: Some(Value::StringValue(filler.repeat(300_000))) });
            r.attributes.push(KeyValue::new("big", Value::StringValue("b".repeat(100_000))));
            let (e, cut) = event(&[], &r, 0);
            assert!(cut, "{filler:?}");
            assert!(e.message.len() <= MAX_MESSAGE_BYTES, "{filler:?}: {}", e.message.len());
            assert!(e.size() <= MAX_EVENT_BYTES);
            assert!(e.message.len() > MAX_MESSAGE_BYTES - 8, "{filler:?}: filled up to the cap: {}", e.message.len());
            let v: J = serde_json::from_str(&e.message).unwrap_or_else(|err| panic!("{filler:?}: {err}"));
            assert_eq!((v["truncated"].as_bool(), v["attributes"].as_object().map(Map::len)), (Some(true), Some(0)));
            assert_eq!(v["trace_id"], "4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b", "the ids survive");
            assert!(v["body"].as_str().unwrap().starts_with(filler));
        }
        // A structured body too large is cut as text.
        let mut r = record();
        let big = Value::ArrayValue(crate::model::ArrayValue {
            values: vec![AnyValue { value: Some(Value::StringValue("x".repeat(30_000))) }; 10],
        });
        r.body = Some(AnyValue { value: Some(big) });
        let (e, cut) = event(&[], &r, 0);
        assert!(cut && e.message.len() <= MAX_MESSAGE_BYTES);
        let v: J = serde_json::from_str(&e.message).unwrap();
        assert!(v["body"].as_str().unwrap().starts_with("[\"xxx"));
    }

    #[test]
    fn rejected_counts() {
        let cases = [
            ((10, None, None, None), 0, "all taken"),
            ((10, Some(7), None, None), 3, "7, 8, 9 too new"),
            ((10, None, Some(2), None), 3, "0, 1, 2 too old"),
            ((10, None, Some(1), Some(4)), 5, "expired reaches further"),
            ((10, Some(8), Some(1), None), 4, "both ends"),
            ((10, Some(0), Some(9), None), 10, "never more than n"),
            ((10, Some(-1), None, None), 0, "a negative index is ignored"),
        ];
        for ((n, new, old, expired), want, why) in cases {
            assert_eq!(rejected(n, new, old, expired), want, "{why}");
        }
    }
}
