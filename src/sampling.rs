//! Sampling: parent-based, with a trace-id ratio for new traces.
//!
//! A child follows its parent's sampled flag (local or remote). A new trace is sampled when the
//! right-most 7 bytes of its trace id (the part W3C Level 2 promises is random) fall under
//! `rate * 2^56`, so every service that sees the same trace id decides the same way.

#[allow(unused_imports)]
use crate::prelude::*;

use crate::ids::TraceId;
use crate::span_context::SpanContext;

const RANDOM_BITS: u32 = 56;

/// Decides whether a new span is sampled.
#[inline]
pub fn should_sample(parent: Option<&SpanContext>, trace_id: &TraceId, rate: f64) -> bool {
    match parent {
        Some(p) => p.is_sampled(),
        None => ratio_sampled(trace_id, rate),
    }
}

/// The trace-id ratio decision for a root span.
#[inline]
pub fn ratio_sampled(trace_id: &TraceId, rate: f64) -> bool {
    if rate >= 1.0 {
        return true;
    }
    if rate.is_nan() || rate <= 0.0 {
        return false;
    }
    let mut b = [0u8; 8];
    b[1..].copy_from_slice(&trace_id.0[9..]);
    let randomness = u64::from_be_bytes(b);
    let threshold = (rate * (1u64 << RANDOM_BITS) as f64) as u64;
    randomness < threshold
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{IdGenerator, SpanId, TraceFlags};

    #[test]
    fn parent_decides_for_children() {
        let t = TraceId([0xff; 16]);
        let sampled = SpanContext::new(t, SpanId([1; 8]), TraceFlags::SAMPLED);
        let unsampled = SpanContext::new(t, SpanId([1; 8]), TraceFlags(0));
        assert!(should_sample(Some(&sampled), &t, 0.0), "sampled parent wins over rate 0");
        assert!(!should_sample(Some(&unsampled), &t, 1.0), "unsampled parent wins over rate 1");
    }

    #[test]
    fn ratio_edges_and_rate() {
        let rows: &[([u8; 16], f64, bool, &str)] = &[
            ([0xff; 16], 1.0, true, "rate 1 samples everything"),
            ([0; 16], 0.0, false, "rate 0 samples nothing"),
            ([0; 16], 0.000001, true, "randomness 0 is under any positive threshold"),
            ([0xff; 16], 0.999999, false, "max randomness is over any threshold below 1"),
            ([0; 16], f64::NAN, false, "NaN samples nothing"),
        ];
        for (id, rate, want, why) in rows {
            assert_eq!(ratio_sampled(&TraceId(*id), *rate), *want, "{why}");
        }
        let mut g = IdGenerator::from_seed([7; 32]);
        let n = 100_000;
        let hits = (0..n).filter(|_| ratio_sampled(&g.trace_id(), 0.25)).count();
        let frac = hits as f64 / n as f64;
        assert!((0.24..0.26).contains(&frac), "about a quarter sampled, got {frac}");
    }
}
