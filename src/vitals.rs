//! Web Vitals as spans, named and shaped as Honeycomb's web SDK records them, so its Web Vitals
//! boards work unchanged: a span named after the metric (`LCP`, `INP`, `CLS`, `FCP`, `TTFB`) with
//! `<metric>.value`, `.delta`, `.id`, `.rating`, `.navigation_type` and the metric's attribution
//! under the same prefix (`lcp.element`, `inp.input_delay`, `cls.largest_shift_target`, …).
//!
//! The metrics come from Google's `web-vitals` library (its attribution build), which reports
//! each one when it is final or the page is hidden; the browser edge hands over the fields
//! [`METRICS`] names, read off the library's metric object, in that order.
//!
//! ```
//! use canopy_web::{Value, vitals};
//!
//! let fields = vitals::fields("CLS").unwrap();
//! assert_eq!(fields[5], ("attribution.largestShiftTarget", "cls.largest_shift_target"));
//! let values = vec![Some(Value::from("#banner")); fields.len()];
//! let attrs = vitals::attributes("CLS", values);
//! assert!(attrs.iter().any(|kv| kv.key == "cls.largest_shift_target"));
//! assert!(attrs.iter().any(|kv| kv.key == "cls.rating"));
//! ```

#[allow(unused_imports)]
use crate::prelude::*;

use crate::attribute::{KeyValue, Value};

/// Per metric: the fields read off `web-vitals`' metric object (a `.` reads a nested field) and
/// the attribute each becomes. A field may appear twice: Honeycomb keeps older aliases
/// (`cls.element`, `inp.element`, `inp.event_type`, `lcp.resource_load_time`). Each list starts
/// with the five every metric has ([`SHARED`] of them).
pub const METRICS: &[(&str, &[(&str, &str)])] = &[
    (
        "LCP",
        &[
            ("value", "lcp.value"),
            ("delta", "lcp.delta"),
            ("id", "lcp.id"),
            ("rating", "lcp.rating"),
            ("navigationType", "lcp.navigation_type"),
            ("attribution.target", "lcp.element"),
            ("attribution.url", "lcp.url"),
            ("attribution.timeToFirstByte", "lcp.time_to_first_byte"),
            ("attribution.resourceLoadDelay", "lcp.resource_load_delay"),
            ("attribution.resourceLoadDuration", "lcp.resource_load_duration"),
            ("attribution.resourceLoadDuration", "lcp.resource_load_time"),
            ("attribution.elementRenderDelay", "lcp.element_render_delay"),
        ],
    ),
    (
        "INP",
        &[
            ("value", "inp.value"),
            ("delta", "inp.delta"),
            ("id", "inp.id"),
            ("rating", "inp.rating"),
            ("navigationType", "inp.navigation_type"),
            ("attribution.inputDelay", "inp.input_delay"),
            ("attribution.processingDuration", "inp.processing_duration"),
            ("attribution.presentationDelay", "inp.presentation_delay"),
            ("attribution.interactionTime", "inp.interaction_time"),
            ("attribution.interactionTarget", "inp.interaction_target"),
            ("attribution.interactionTarget", "inp.element"),
            ("attribution.interactionType", "inp.interaction_type"),
            ("attribution.interactionType", "inp.event_type"),
            ("attribution.nextPaintTime", "inp.next_paint_time"),
            ("attribution.loadState", "inp.load_state"),
        ],
    ),
    (
        "CLS",
        &[
            ("value", "cls.value"),
            ("delta", "cls.delta"),
            ("id", "cls.id"),
            ("rating", "cls.rating"),
            ("navigationType", "cls.navigation_type"),
            ("attribution.largestShiftTarget", "cls.largest_shift_target"),
            ("attribution.largestShiftTarget", "cls.element"),
            ("attribution.largestShiftTime", "cls.largest_shift_time"),
            ("attribution.largestShiftValue", "cls.largest_shift_value"),
            ("attribution.loadState", "cls.load_state"),
            ("attribution.largestShiftEntry.hadRecentInput", "cls.had_recent_input"),
        ],
    ),
    (
        "FCP",
        &[
            ("value", "fcp.value"),
            ("delta", "fcp.delta"),
            ("id", "fcp.id"),
            ("rating", "fcp.rating"),
            ("navigationType", "fcp.navigation_type"),
            ("attribution.timeToFirstByte", "fcp.time_to_first_byte"),
            ("attribution.firstByteToFCP", "fcp.time_since_first_byte"),
            ("attribution.loadState", "fcp.load_state"),
        ],
    ),
    (
        "TTFB",
        &[
            ("value", "ttfb.value"),
            ("delta", "ttfb.delta"),
            ("id", "ttfb.id"),
            ("rating", "ttfb.rating"),
            ("navigationType", "ttfb.navigation_type"),
            ("attribution.waitingDuration", "ttfb.waiting_duration"),
            ("attribution.dnsDuration", "ttfb.dns_duration"),
            ("attribution.connectionDuration", "ttfb.connection_duration"),
            ("attribution.requestDuration", "ttfb.request_duration"),
            ("attribution.cacheDuration", "ttfb.cache_duration"),
        ],
    ),
];

/// The fields every metric has, first in each list.
pub const SHARED: usize = 5;

/// The fields of `metric` (`None` for a metric Canopy does not record).
pub fn fields(metric: &str) -> Option<&'static [(&'static str, &'static str)]> {
    METRICS.iter().find(|(m, _)| *m == metric).map(|(_, f)| *f)
}

/// The span attributes of one report of `metric`; `values[i]` is the value of `fields(metric)[i]`
/// (`None`: absent, not recorded).
pub fn attributes(metric: &str, values: Vec<Option<Value>>) -> Vec<KeyValue> {
    let fields = fields(metric).unwrap_or(&[]);
    fields.iter().zip(values).filter_map(|((_, key), v)| Some(KeyValue::new(*key, v?))).collect()
}

/// INP's span covers the interaction: from `interactionTime` for input delay + processing +
/// presentation (as Honeycomb records it). `(start_ms, duration_ms)` in `performance.now()` time,
/// or `None` for the other metrics (a span at the time of the report).
pub fn interaction_window(metric: &str, values: &[Option<Value>]) -> Option<(f64, f64)> {
    if metric != "INP" {
        return None;
    }
    let num = |i: usize| match values.get(SHARED + i) {
        Some(Some(Value::F64(v))) => Some(*v),
        Some(Some(Value::I64(v))) => Some(*v as f64),
        _ => None,
    };
    Some((num(3)?, num(0)? + num(1)? + num(2)?))
}

/// The metrics whose reports Canopy holds ([`Hold`]) and records at its own page hide, each
/// with its slot in [`HOLDS`] order. `web-vitals` records both at a page hide in a listener of
/// its own, and that is where each was lost:
/// - INP: it reports INP only when the page is hidden, and then loses an interaction whose event
///   entries are still waiting for its idle callback (its `visibilitychange` listener reports
///   before that callback's listener processes them: a slow click on a link that navigates away
///   had no INP, measured in Chromium and Firefox with `web-vitals` 6 alone).
/// - LCP: it reports LCP at the first input or when the page is hidden, from a `visibilitychange`
///   listener of its own; Firefox closing a tab can stop that listener (as it stops Canopy's, see
///   `js/transport.js`), and the page's LCP was never reported.
///
/// So Canopy asks `web-vitals` for every change of these (`reportAllChanges`) and holds the
/// latest; LCP is also asked for as usual, and that final report (at the first input) is
/// recorded when it comes ([`final_report`]). What is held and not recorded yet is recorded at
/// Canopy's page hide, which is retried when stopped.
pub const HOLDS: [&str; 2] = ["INP", "LCP"];

/// The [`HOLDS`] slot of `metric`, or `None` for a metric recorded as reported.
pub fn held(metric: &str) -> Option<usize> {
    HOLDS.iter().position(|m| *m == metric)
}

/// Whether `metric`'s usual (final) report is asked for beside every change: LCP, whose final
/// report comes at the first input, long before a page hide. (INP's would come only at the page
/// hide, where `web-vitals` can miss an interaction: see [`HOLDS`].)
pub fn final_report(metric: &str) -> bool {
    metric == "LCP"
}

/// The latest report of a [held](held) metric, recorded at page hide (or at its final report).
///
/// A report is [`fields`]' values for its metric. The one recorded has its `delta` made relative
/// to the report recorded before it of the same metric instance (same `id`), as `web-vitals`
/// computes `delta` between the reports it makes: the sum of a page's recorded deltas is its
/// value.
#[derive(Debug, Default)]
pub struct Hold {
    latest: Option<(String, Vec<Option<Value>>)>,
    /// The `id` and `value` of the report recorded last.
    recorded: Option<(String, f64)>,
}

fn number(v: Option<&Option<Value>>) -> Option<f64> {
    match v {
        Some(Some(Value::F64(x))) => Some(*x),
        Some(Some(Value::I64(x))) => Some(*x as f64),
        _ => None,
    }
}

impl Hold {
    /// Nothing held.
    pub const fn new() -> Hold {
        Hold { latest: None, recorded: None }
    }

    /// A new report of `metric`: it replaces the one held.
    pub fn report(&mut self, metric: String, values: Vec<Option<Value>>) {
        self.latest = Some((metric, values));
    }

    /// The usual (final) report of a metric that is also asked for every change (LCP): records
    /// what is held, which is the same value from the request for every change (the two requests
    /// are two metric instances in `web-vitals`, each with its own `id` and deltas: the hold
    /// follows the one of every change, so a final report that comes after the page hide
    /// recorded the value is not a second one). Its own values are held only when nothing was
    /// held or recorded before.
    pub fn finish(&mut self, metric: String, values: Vec<Option<Value>>) -> Option<(String, Vec<Option<Value>>)> {
        if self.latest.is_none() && self.recorded.is_none() {
            self.latest = Some((metric, values));
        }
        self.take()
    }

    /// At page hide: the report to record now (its metric and values), if one came since the
    /// last, with its `delta` (field 1) since the report recorded before it. `None` when nothing
    /// changed.
    pub fn take(&mut self) -> Option<(String, Vec<Option<Value>>)> {
        let (metric, mut values) = self.latest.take()?;
        let value = number(values.first())?;
        let id = match values.get(2) {
            Some(Some(Value::String(id))) => String::from(&**id),
            _ => String::new(),
        };
        let last = match &self.recorded {
            Some((last_id, last)) if *last_id == id => Some(*last),
            _ => None,
        };
        let delta = value - last.unwrap_or(0.0);
        if last.is_some() && delta == 0.0 {
            return None;
        }
        if let Some(d) = values.get_mut(1) {
            *d = Some(if crate::float::is_safe_integer(delta) { Value::I64(delta as i64) } else { Value::F64(delta) });
        }
        self.recorded = Some((id, value));
        Some((metric, values))
    }
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
            ("LCP", 5, "lcp.element", "web-vitals 5 renamed attribution.element to target"),
            ("LCP", 10, "lcp.resource_load_time", "Honeycomb's older alias"),
            ("INP", 5, "inp.input_delay", "the INP split: input delay"),
            ("INP", 6, "inp.processing_duration", "processing"),
            ("INP", 7, "inp.presentation_delay", "presentation"),
            ("INP", 9, "inp.interaction_target", "the target"),
            ("CLS", 5, "cls.largest_shift_target", "the largest shift source"),
            ("FCP", 6, "fcp.time_since_first_byte", "firstByteToFCP"),
            ("TTFB", 5, "ttfb.waiting_duration", ""),
            ("TTFB", 0, "ttfb.value", "shared"),
            ("CLS", 3, "cls.rating", "shared"),
            ("LCP", 4, "lcp.navigation_type", "shared"),
        ];
        for (metric, i, key, why) in rows {
            let n = fields(metric).unwrap().len();
            let mut values = vec![None; n];
            values[*i] = Some(Value::from(1.5));
            let attrs = attributes(metric, values);
            assert_eq!(attrs.len(), 1, "{metric}: only the values given");
            assert_eq!(attr(&attrs, key), Some(&Value::F64(1.5)), "{metric} {key}: {why}");
        }
        for (metric, f) in METRICS {
            let prefix = metric.to_ascii_lowercase();
            let shared: Vec<_> = f[..SHARED].iter().map(|(field, _)| *field).collect();
            assert_eq!(shared, ["value", "delta", "id", "rating", "navigationType"], "{metric}");
            assert!(
                f.iter().all(|(_, k)| k.starts_with(&prefix) && k.as_bytes()[prefix.len()] == b'.'),
                "{metric}'s prefix"
            );
        }
        assert_eq!(fields("FID"), None, "FID is gone from web-vitals 5");
    }

    fn report(value: f64, delta: f64, id: &'static str) -> Vec<Option<Value>> {
        let mut v = vec![None; fields("INP").unwrap().len()];
        v[0] = Some(Value::F64(value));
        v[1] = Some(Value::F64(delta));
        v[2] = Some(Value::from(id));
        v
    }

    #[test]
    fn inp_and_lcp_are_held_and_lcp_also_has_its_final_report() {
        for (metric, _) in METRICS {
            let hold = matches!(*metric, "INP" | "LCP");
            assert_eq!(held(metric).is_some(), hold, "{metric}");
            assert_eq!(final_report(metric), *metric == "LCP", "{metric}");
        }
        assert_ne!(held("INP"), held("LCP"), "a slot each");
    }

    #[test]
    fn lcp_is_recorded_once_by_whichever_comes_first_its_final_report_or_the_page_hide() {
        // Every change (1200, then 2500), then the final report at the first input (web-vitals'
        // other metric instance: another id): recorded then, once, with the held report's id;
        // the page hide after it has nothing new.
        let mut h = Hold::new();
        h.report("LCP".into(), report(1200.0, 1200.0, "v6-all"));
        h.report("LCP".into(), report(2500.0, 1300.0, "v6-all"));
        let (_, values) = h.finish("LCP".into(), report(2500.0, 2500.0, "v6-final")).expect("the final report");
        assert_eq!(number(values.first()), Some(2500.0));
        assert_eq!(values[1], Some(Value::I64(2500)), "the first recorded: delta is the value");
        assert_eq!(values[2], Some(Value::from("v6-all")));
        assert_eq!(h.take(), None, "the page hide after it");
        // No final report (web-vitals' own hide listener stopped): the page hide records the
        // latest change, and a final report that still comes later is not recorded again.
        let mut h = Hold::new();
        h.report("LCP".into(), report(1800.0, 1800.0, "v6-all"));
        assert_eq!(number(h.take().expect("at the page hide").1.first()), Some(1800.0));
        assert_eq!(h.finish("LCP".into(), report(1800.0, 1800.0, "v6-final")), None, "the late final report");
        // A final report with nothing held before it (none of every change came) is recorded.
        let mut h = Hold::new();
        assert!(h.finish("LCP".into(), report(900.0, 900.0, "v6-final")).is_some());
        assert_eq!(h.take(), None);
    }

    #[test]
    fn the_hold_records_the_latest_report_with_its_delta_since_the_last_recorded() {
        let mut h = Hold::new();
        assert_eq!(h.take(), None, "nothing reported");
        // web-vitals with reportAllChanges: 120, then 300 (delta 180) before the page is hidden.
        h.report("INP".into(), report(120.0, 120.0, "v6-1"));
        h.report("INP".into(), report(300.0, 180.0, "v6-1"));
        let (metric, first) = h.take().expect("the latest at the first hide");
        assert_eq!(metric, "INP");
        assert_eq!(number(first.first()), Some(300.0));
        assert_eq!(first[1], Some(Value::I64(300)), "the first recorded: delta is the value");
        assert_eq!(h.take(), None, "recorded once");
        // Shown again, a slower interaction: 420; recorded at the next hide with delta 120.
        h.report("INP".into(), report(420.0, 120.0, "v6-1"));
        assert_eq!(h.take().unwrap().1[1], Some(Value::I64(120)));
        // The same value again (a report with nothing new) records nothing.
        h.report("INP".into(), report(420.0, 0.0, "v6-1"));
        assert_eq!(h.take(), None);
        // A new metric instance (a back/forward cache restore): its delta is its value.
        h.report("INP".into(), report(64.0, 64.0, "v6-2"));
        assert_eq!(h.take().unwrap().1[1], Some(Value::I64(64)));
        // A report without a value is not recorded.
        h.report("INP".into(), vec![None; 3]);
        assert_eq!(h.take(), None);
    }

    #[test]
    fn inp_window() {
        let n = fields("INP").unwrap().len();
        let mut v: Vec<Option<Value>> = vec![None; n];
        assert_eq!(interaction_window("INP", &v), None, "without the split");
        for (i, x) in [(5, 10.0), (6, 120.0), (7, 20.0), (8, 500.0)] {
            v[i] = Some(Value::F64(x));
        }
        assert_eq!(interaction_window("INP", &v), Some((500.0, 150.0)));
        assert_eq!(interaction_window("LCP", &v), None);
    }
}
