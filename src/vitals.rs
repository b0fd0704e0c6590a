//! Web Vitals as spans, named and shaped as Honeycomb's web SDK records them, so its Web Vitals
//! boards work unchanged: a span named after the metric (`LCP`, `INP`, `CLS`, `FCP`, `TTFB`) with
//! `<metric>.value`, `.delta`, `.id`, `.rating`, `.navigation_type` and the metric's attribution
//! under the same prefix (`lcp.element`, `inp.input_delay`, `cls.largest_shift_target`, …).
//!
//! The metrics come from Google's `web-vitals` library (its attribution build), which reports
//! each one when it is final or the page is hidden; the browser edge hands over the fields
//! [`METRICS`] names, read off the library's `attribution` object, in that order.
//!
//! ```
//! use canopy_web::{Value, vitals};
//!
//! let fields = vitals::fields("CLS").unwrap();
//! assert_eq!(fields[0].0, "largestShiftTarget");
//! let values = vec![Some(Value::from("#banner")); fields.len()];
//! let attrs = vitals::attributes("CLS", "v5-1", "good", "navigate", 0.02, 0.02, values);
//! assert!(attrs.iter().any(|kv| kv.key == "cls.largest_shift_target"));
//! assert!(attrs.iter().any(|kv| kv.key == "cls.rating"));
//! ```

#[allow(unused_imports)]
use crate::prelude::*;

use crate::attribute::{KeyValue, Value};

/// Per metric: the `attribution` fields read (a `.` reads a nested field) and the attribute each
/// becomes under the metric's prefix. A field may appear twice: Honeycomb keeps older aliases
/// (`cls.element`, `inp.element`, `inp.event_type`, `lcp.resource_load_time`).
pub const METRICS: &[(&str, &[(&str, &str)])] = &[
    (
        "LCP",
        &[
            ("target", "element"),
            ("url", "url"),
            ("timeToFirstByte", "time_to_first_byte"),
            ("resourceLoadDelay", "resource_load_delay"),
            ("resourceLoadDuration", "resource_load_duration"),
            ("resourceLoadDuration", "resource_load_time"),
            ("elementRenderDelay", "element_render_delay"),
        ],
    ),
    (
        "INP",
        &[
            ("inputDelay", "input_delay"),
            ("processingDuration", "processing_duration"),
            ("presentationDelay", "presentation_delay"),
            ("interactionTime", "interaction_time"),
            ("interactionTarget", "interaction_target"),
            ("interactionTarget", "element"),
            ("interactionType", "interaction_type"),
            ("interactionType", "event_type"),
            ("nextPaintTime", "next_paint_time"),
            ("loadState", "load_state"),
        ],
    ),
    (
        "CLS",
        &[
            ("largestShiftTarget", "largest_shift_target"),
            ("largestShiftTarget", "element"),
            ("largestShiftTime", "largest_shift_time"),
            ("largestShiftValue", "largest_shift_value"),
            ("loadState", "load_state"),
            ("largestShiftEntry.hadRecentInput", "had_recent_input"),
        ],
    ),
    (
        "FCP",
        &[
            ("timeToFirstByte", "time_to_first_byte"),
            ("firstByteToFCP", "time_since_first_byte"),
            ("loadState", "load_state"),
        ],
    ),
    (
        "TTFB",
        &[
            ("waitingDuration", "waiting_duration"),
            ("dnsDuration", "dns_duration"),
            ("connectionDuration", "connection_duration"),
            ("requestDuration", "request_duration"),
            ("cacheDuration", "cache_duration"),
        ],
    ),
];

/// The fields of `metric` (`None` for a metric Canopy does not record).
pub fn fields(metric: &str) -> Option<&'static [(&'static str, &'static str)]> {
    METRICS.iter().find(|(m, _)| *m == metric).map(|(_, f)| *f)
}

/// The span attributes of one report of `metric`; `values[i]` is the value of `fields(metric)[i]`
/// (`None`: absent, not recorded).
pub fn attributes(
    metric: &str,
    id: &str,
    rating: &str,
    navigation_type: &str,
    value: f64,
    delta: f64,
    values: Vec<Option<Value>>,
) -> Vec<KeyValue> {
    let prefix = metric.to_ascii_lowercase();
    let key = |suffix: &str| {
        let mut k = String::with_capacity(prefix.len() + 1 + suffix.len());
        k.push_str(&prefix);
        k.push('.');
        k.push_str(suffix);
        k
    };
    let mut out = vec![
        KeyValue::new(key("value"), value),
        KeyValue::new(key("delta"), delta),
        KeyValue::new(key("id"), String::from(id)),
        KeyValue::new(key("rating"), String::from(rating)),
        KeyValue::new(key("navigation_type"), String::from(navigation_type)),
    ];
    for ((_, suffix), v) in fields(metric).unwrap_or(&[]).iter().zip(values) {
        if let Some(v) = v {
            out.push(KeyValue::new(key(suffix), v));
        }
    }
    out
}

/// INP's span covers the interaction: from `interactionTime` for input delay + processing +
/// presentation (as Honeycomb records it). `(start_ms, duration_ms)` in `performance.now()` time,
/// or `None` for the other metrics (a span at the time of the report).
pub fn interaction_window(metric: &str, values: &[Option<Value>]) -> Option<(f64, f64)> {
    if metric != "INP" {
        return None;
    }
    let num = |i: usize| match values.get(i) {
        Some(Some(Value::F64(v))) => Some(*v),
        Some(Some(Value::I64(v))) => Some(*v as f64),
        _ => None,
    };
    Some((num(3)?, num(0)? + num(1)? + num(2)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attr<'a>(attrs: &'a [KeyValue], key: &str) -> Option<&'a Value> {
        attrs.iter().find(|kv| kv.key == key).map(|kv| &kv.value)
    }

    #[test]
    fn honeycomb_names() {
        let rows: &[(&str, usize, &str, &str)] = &[
            ("LCP", 0, "lcp.element", "web-vitals 5 renamed attribution.element to target"),
            ("LCP", 5, "lcp.resource_load_time", "Honeycomb's older alias"),
            ("INP", 0, "inp.input_delay", "the INP split: input delay"),
            ("INP", 1, "inp.processing_duration", "processing"),
            ("INP", 2, "inp.presentation_delay", "presentation"),
            ("INP", 4, "inp.interaction_target", "the target"),
            ("CLS", 0, "cls.largest_shift_target", "the largest shift source"),
            ("FCP", 1, "fcp.time_since_first_byte", "firstByteToFCP"),
            ("TTFB", 0, "ttfb.waiting_duration", ""),
        ];
        for (metric, i, key, why) in rows {
            let n = fields(metric).unwrap().len();
            let mut values = vec![None; n];
            values[*i] = Some(Value::from(1.5));
            let attrs = attributes(metric, "id", "good", "navigate", 2.0, 1.0, values);
            assert_eq!(attr(&attrs, key), Some(&Value::F64(1.5)), "{metric} {key}: {why}");
            assert_eq!(attrs.len(), 6, "{metric}: five shared attributes and the one value given");
        }
        let attrs = attributes("CLS", "v5-1", "poor", "reload", 0.3, 0.1, vec![]);
        assert_eq!(attr(&attrs, "cls.value"), Some(&Value::F64(0.3)));
        assert_eq!(attr(&attrs, "cls.rating"), Some(&Value::from("poor")));
        assert_eq!(attr(&attrs, "cls.navigation_type"), Some(&Value::from("reload")));
        assert_eq!(fields("FID"), None, "FID is gone from web-vitals 5");
    }

    #[test]
    fn inp_window() {
        let n = fields("INP").unwrap().len();
        let mut v: Vec<Option<Value>> = vec![None; n];
        assert_eq!(interaction_window("INP", &v), None, "without the split");
        for (i, x) in [(0, 10.0), (1, 120.0), (2, 20.0), (3, 500.0)] {
            v[i] = Some(Value::F64(x));
        }
        assert_eq!(interaction_window("INP", &v), Some((500.0, 150.0)));
        assert_eq!(interaction_window("LCP", &v), None);
    }
}
