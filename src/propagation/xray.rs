//! AWS X-Ray's trace header, `X-Amzn-Trace-Id`, for backends traced with the X-Ray SDKs.
//!
//! X-Ray trace ids are 96 random bits after the epoch seconds of the trace's start
//! (`1-{8 hex}-{24 hex}`); a W3C trace id whose first 4 bytes are those seconds is the same id
//! (what OpenTelemetry's X-Ray id generator makes, and what `init({ xray: true })` turns on).
//! The header is written with no space after `;`: the X-Ray SDK for Python does not trim them.
//!
//! ```
//! use canopy_web::{SpanContext, SpanId, TraceFlags, TraceId};
//! use canopy_web::propagation::format_xray;
//!
//! let tid = TraceId::from_hex("5759e988bd862e3fe1be46a994272793").unwrap();
//! let cx = SpanContext::new(tid, SpanId::from_hex("53995c3f42cd8ad8").unwrap(), TraceFlags::SAMPLED);
//! let mut h = String::new();
//! format_xray(&cx, &mut h);
//! assert_eq!(h, "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1");
//! ```

#[allow(unused_imports)]
use crate::prelude::*;

use crate::span_context::SpanContext;

/// Appends `X-Amzn-Trace-Id`'s value for `cx`: its trace id as an X-Ray root, its span id as the
/// parent, and the sampled flag.
pub fn format_xray(cx: &SpanContext, out: &mut String) {
    let mut hex = String::with_capacity(32);
    cx.trace_id.write_hex(&mut hex);
    out.push_str("Root=1-");
    out.push_str(&hex[..8]);
    out.push('-');
    out.push_str(&hex[8..]);
    out.push_str(";Parent=");
    cx.span_id.write_hex(out);
    out.push_str(if cx.trace_flags.is_sampled() { ";Sampled=1" } else { ";Sampled=0" });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{SpanId, TraceFlags, TraceId};

    #[test]
    fn formats() {
        let cx = |flags| SpanContext::new(TraceId([0xab; 16]), SpanId([0x01; 8]), flags);
        let rows = [
            (
                cx(TraceFlags::SAMPLED),
                "Root=1-abababab-abababababababababababab;Parent=0101010101010101;Sampled=1",
                "sampled",
            ),
            (
                cx(TraceFlags(0)),
                "Root=1-abababab-abababababababababababab;Parent=0101010101010101;Sampled=0",
                "not sampled",
            ),
        ];
        for (cx, want, why) in rows {
            let mut h = String::new();
            format_xray(&cx, &mut h);
            assert_eq!(h, want, "{why}");
            assert!(!h.contains("; "), "no space after ';' (the Python X-Ray SDK does not trim it)");
        }
    }
}
