//! `init(config)`'s JavaScript object to [`Config`], with every problem and unknown key listed.

#[allow(unused_imports)]
use crate::prelude::*;

use super::convert;
use super::platform::get;
use crate::config::{Config, UrlPattern};
use crate::error::{ConfigError, ConfigProblem};
use js_sys::Object;
use wasm_bindgen::{JsCast, JsValue};

const KNOWN: &[&str] = &[
    "serviceName",
    "serviceVersion",
    "environment",
    "endpoint",
    "headers",
    "sampleRate",
    "resourceAttributes",
    "debug",
    "batch",
    "spanLimits",
    "instrumentFetch",
    "instrumentXhr",
    "xray",
    "captureErrors",
    "captureConsole",
    "logsEndpoint",
    "propagateTraceHeaderCorsUrls",
    "ignoreUrls",
    "compression",
    "documentLoad",
    "longAnimationFrames",
    "webVitals",
    "sessionBaggage",
    "routeChanges",
    "interactions",
];
const KNOWN_BATCH: &[&str] =
    &["maxQueueSize", "maxExportBatchSize", "scheduledDelayMillis", "exportTimeoutMillis", "maxExportBytes"];
const KNOWN_LIMITS: &[&str] =
    &["attributeCountLimit", "attributeValueLengthLimit", "eventCountLimit", "linkCountLimit"];

/// The parsed config, or every problem; plus warnings (unknown keys) either way.
pub fn parse(v: &JsValue) -> (Result<Config, ConfigError>, Vec<String>) {
    let mut warnings = Vec::new();
    if !v.is_object() {
        return (Err(ConfigError { problems: vec![ConfigProblem::NotAnObject] }), warnings);
    }
    unknown_keys(v, KNOWN, "", &mut warnings);
    #[cfg(not(feature = "auto"))]
    without_auto(v, &mut warnings);
    let mut problems = Vec::new();
    let mut c = Config::new(String::new());

    match get(v, "serviceName") {
        s if s.is_string() => c.service_name = s.as_string().unwrap_or_default(),
        s if s.is_undefined() || s.is_null() => {}
        _ => problems.push(ConfigProblem::WrongType { key: "serviceName", expected: "a string" }),
    }
    opt_string(v, "serviceVersion", &mut c.service_version, &mut problems);
    opt_string(v, "environment", &mut c.environment, &mut problems);
    let mut endpoint = None;
    opt_string(v, "endpoint", &mut endpoint, &mut problems);
    if let Some(e) = endpoint {
        c.endpoint = e;
    }
    let headers = get(v, "headers");
    if headers.is_object() {
        for e in Object::entries(headers.unchecked_ref()).iter() {
            let pair: js_sys::Array = e.unchecked_into();
            match (pair.get(0).as_string(), pair.get(1).as_string()) {
                (Some(k), Some(val)) => c.headers.push((k, val)),
                _ => problems.push(ConfigProblem::WrongType { key: "headers", expected: "an object of strings" }),
            }
        }
    } else if !headers.is_undefined() && !headers.is_null() {
        problems.push(ConfigProblem::WrongType { key: "headers", expected: "an object of strings" });
    }
    let rate = get(v, "sampleRate");
    if let Some(r) = rate.as_f64() {
        c.sample_rate = r;
    } else if !rate.is_undefined() && !rate.is_null() {
        problems.push(ConfigProblem::WrongType { key: "sampleRate", expected: "a number from 0 to 1" });
    }
    let res = get(v, "resourceAttributes");
    if res.is_object() {
        for e in Object::entries(res.unchecked_ref()).iter() {
            let pair: js_sys::Array = e.unchecked_into();
            let v = convert::attr_value(&pair.get(1));
            if let (Some(k), Some(v)) = (pair.get(0).as_string(), v) {
                c.resource_attributes.push(crate::attribute::KeyValue { key: k.into(), value: v });
            }
        }
    } else if !res.is_undefined() && !res.is_null() {
        problems.push(ConfigProblem::WrongType { key: "resourceAttributes", expected: "an object" });
    }
    opt_bool(v, "debug", &mut c.debug, &mut problems);
    opt_bool(v, "captureErrors", &mut c.capture_errors, &mut problems);
    opt_bool(v, "captureConsole", &mut c.capture_console, &mut problems);
    opt_string(v, "logsEndpoint", &mut c.logs_endpoint, &mut problems);
    opt_bool(v, "xray", &mut c.xray, &mut problems);
    opt_bool(v, "instrumentFetch", &mut c.instrument_fetch, &mut problems);
    opt_bool(v, "instrumentXhr", &mut c.instrument_xhr, &mut problems);
    opt_bool(v, "documentLoad", &mut c.document_load, &mut problems);
    opt_bool(v, "longAnimationFrames", &mut c.long_animation_frames, &mut problems);
    opt_bool(v, "webVitals", &mut c.web_vitals, &mut problems);
    opt_bool(v, "sessionBaggage", &mut c.session_baggage, &mut problems);
    opt_bool(v, "routeChanges", &mut c.route_changes, &mut problems);
    let ia = get(v, "interactions");
    if let Some(on) = ia.as_bool() {
        if !on {
            c.interactions.clear();
        }
    } else if js_sys::Array::is_array(&ia) {
        // The first item that is not a string ends the read (a sparse array's hole too).
        match convert::all(ia.unchecked_ref(), |t| t.as_string()) {
            Some(t) => c.interactions = t,
            None => problems.push(ConfigProblem::WrongType {
                key: "interactions",
                expected: "a boolean or an array of event types",
            }),
        }
    } else if !ia.is_undefined() && !ia.is_null() {
        problems
            .push(ConfigProblem::WrongType { key: "interactions", expected: "a boolean or an array of event types" });
    }
    let comp = get(v, "compression");
    match comp.as_string().as_deref() {
        Some("gzip") => c.compression = true,
        Some("none") => c.compression = false,
        _ if comp.is_undefined() || comp.is_null() => {}
        _ => problems.push(ConfigProblem::WrongType { key: "compression", expected: "\"gzip\" or \"none\"" }),
    }
    patterns(v, "propagateTraceHeaderCorsUrls", &mut c.propagate_trace_header_cors_urls, &mut problems);
    patterns(v, "ignoreUrls", &mut c.ignore_urls, &mut problems);

    let batch = get(v, "batch");
    if batch.is_object() {
        unknown_keys(&batch, KNOWN_BATCH, "batch.", &mut warnings);
        let b = &mut c.batch;
        count(&batch, "maxQueueSize", "batch.maxQueueSize", &mut b.max_queue_size, &mut problems);
        count(&batch, "maxExportBatchSize", "batch.maxExportBatchSize", &mut b.max_export_batch_size, &mut problems);
        let mut ms = b.scheduled_delay_millis as usize;
        count(&batch, "scheduledDelayMillis", "batch.scheduledDelayMillis", &mut ms, &mut problems);
        b.scheduled_delay_millis = ms.min(u32::MAX as usize) as u32;
        let mut ms = b.export_timeout_millis as usize;
        count(&batch, "exportTimeoutMillis", "batch.exportTimeoutMillis", &mut ms, &mut problems);
        b.export_timeout_millis = ms.min(u32::MAX as usize) as u32;
        count(&batch, "maxExportBytes", "batch.maxExportBytes", &mut b.max_export_bytes, &mut problems);
    } else if !batch.is_undefined() && !batch.is_null() {
        problems.push(ConfigProblem::WrongType { key: "batch", expected: "an object" });
    }

    let lim = get(v, "spanLimits");
    if lim.is_object() {
        unknown_keys(&lim, KNOWN_LIMITS, "spanLimits.", &mut warnings);
        let l = &mut c.limits;
        count(
            &lim,
            "attributeCountLimit",
            "spanLimits.attributeCountLimit",
            &mut l.attribute_count_limit,
            &mut problems,
        );
        count(&lim, "eventCountLimit", "spanLimits.eventCountLimit", &mut l.event_count_limit, &mut problems);
        count(&lim, "linkCountLimit", "spanLimits.linkCountLimit", &mut l.link_count_limit, &mut problems);
        let mut len = usize::MAX;
        count(&lim, "attributeValueLengthLimit", "spanLimits.attributeValueLengthLimit", &mut len, &mut problems);
        if len != usize::MAX {
            l.attribute_value_length_limit = Some(len);
        }
    } else if !lim.is_undefined() && !lim.is_null() {
        problems.push(ConfigProblem::WrongType { key: "spanLimits", expected: "an object" });
    }

    if let Err(e) = c.validate() {
        // Validation problems come first: they are the ones users hit most.
        let mut all = e.problems;
        all.extend(problems);
        problems = all;
    }
    if problems.is_empty() { (Ok(c), warnings) } else { (Err(ConfigError { problems }), warnings) }
}

/// A string, a RegExp, or an array of them.
fn patterns(v: &JsValue, key: &'static str, out: &mut Vec<UrlPattern>, problems: &mut Vec<ConfigProblem>) {
    let x = get(v, key);
    if x.is_undefined() || x.is_null() {
        return;
    }
    // Read item by item: the first that is neither ends the read, so a sparse array's hole stops
    // it (collecting first would size a list from its `length`, up to 2^32 - 1).
    let mut one = |item: JsValue| {
        if let Some(s) = item.as_string() {
            out.push(UrlPattern::Prefix(s));
        } else if item.is_instance_of::<js_sys::RegExp>() {
            let r: &js_sys::RegExp = item.unchecked_ref();
            out.push(UrlPattern::Regex { source: r.source().into(), flags: r.flags().into() });
        } else {
            problems.push(ConfigProblem::WrongType { key, expected: "strings and RegExps (or an array of them)" });
            return false;
        }
        true
    };
    if js_sys::Array::is_array(&x) {
        for item in x.unchecked_into::<js_sys::Array>().iter() {
            if !one(item) {
                return;
            }
        }
    } else {
        one(x);
    }
}

fn opt_bool(v: &JsValue, key: &'static str, out: &mut bool, problems: &mut Vec<ConfigProblem>) {
    let x = get(v, key);
    if let Some(b) = x.as_bool() {
        *out = b;
    } else if !x.is_undefined() && !x.is_null() {
        problems.push(ConfigProblem::WrongType { key, expected: "a boolean" });
    }
}

fn opt_string(v: &JsValue, key: &'static str, out: &mut Option<String>, problems: &mut Vec<ConfigProblem>) {
    let x = get(v, key);
    if let Some(s) = x.as_string() {
        *out = Some(s);
    } else if !x.is_undefined() && !x.is_null() {
        problems.push(ConfigProblem::WrongType { key, expected: "a string" });
    }
}

fn count(v: &JsValue, key: &str, name: &'static str, out: &mut usize, problems: &mut Vec<ConfigProblem>) {
    let x = get(v, key);
    if x.is_undefined() || x.is_null() {
        return;
    }
    match x.as_f64() {
        Some(n) if crate::float::fract(n) == 0.0 && (0.0..=1e15).contains(&n) => *out = n as usize,
        _ => problems.push(ConfigProblem::WrongType { key: name, expected: "a whole number >= 0" }),
    }
}

/// The keys of what a page records without code, turned on explicitly in a build without it (the
/// `canopy-web/core` entry): accepted, and warned about, since they do nothing there.
#[cfg(not(feature = "auto"))]
fn without_auto(v: &JsValue, warnings: &mut Vec<String>) {
    const AUTO: &[&str] =
        &["documentLoad", "webVitals", "longAnimationFrames", "routeChanges", "interactions", "sessionBaggage"];
    for key in AUTO {
        let x = get(v, key);
        let on = x.as_bool() == Some(true)
            || (js_sys::Array::is_array(&x) && x.unchecked_ref::<js_sys::Array>().length() > 0);
        if on {
            let mut w = String::from("config key \"");
            w.push_str(key);
            w.push_str("\" does nothing in this build (canopy-web/core records no session, page load, interactions, route changes, long frames or Web Vitals): import \"canopy-web\" for it");
            warnings.push(w);
        }
    }
}

fn unknown_keys(v: &JsValue, known: &[&str], prefix: &str, warnings: &mut Vec<String>) {
    for k in Object::keys(v.unchecked_ref::<Object>()).iter() {
        if let Some(k) = k.as_string() {
            if !known.contains(&k.as_str()) {
                let mut w = String::from("unknown config key \"");
                w.push_str(prefix);
                w.push_str(&k);
                w.push_str("\" (ignored). Known keys: ");
                w.push_str(&known.join(", "));
                warnings.push(w);
            }
        }
    }
}
