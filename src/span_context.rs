//! [`SpanContext`]: the part of a span that crosses process boundaries.

#[allow(unused_imports)]
use crate::prelude::*;

use crate::ids::{SpanId, TraceFlags, TraceId};
use crate::propagation::TraceState;

/// The identity of a span as it travels: trace id, span id, flags and `tracestate`.
///
/// Cheap to clone (the trace state is reference counted and usually empty).
///
/// ```
/// use canopy_web::{SpanContext, SpanId, TraceFlags, TraceId};
/// use canopy_web::propagation::format_traceparent;
///
/// let cx = SpanContext::new(TraceId([0xab; 16]), SpanId([0xcd; 8]), TraceFlags::SAMPLED);
/// assert!(cx.is_valid() && cx.is_sampled() && !cx.is_remote);
/// let mut header = String::new();
/// format_traceparent(&cx, &mut header);
/// assert_eq!(header, "00-abababababababababababababababab-cdcdcdcdcdcdcdcd-01");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct SpanContext {
    /// The trace this span belongs to.
    pub trace_id: TraceId,
    /// This span's id.
    pub span_id: SpanId,
    /// W3C trace flags (sampled, random).
    pub trace_flags: TraceFlags,
    /// True when the context came from another process (a `traceparent` header or `<meta>`).
    pub is_remote: bool,
    /// Vendor-specific `tracestate`, carried along unchanged.
    pub trace_state: TraceState,
}

impl SpanContext {
    /// A context from its parts (`is_remote` false, empty trace state).
    pub fn new(trace_id: TraceId, span_id: SpanId, trace_flags: TraceFlags) -> Self {
        SpanContext { trace_id, span_id, trace_flags, is_remote: false, trace_state: TraceState::default() }
    }

    /// True when both ids are valid (non-zero).
    #[inline]
    pub fn is_valid(&self) -> bool {
        self.trace_id.is_valid() && self.span_id.is_valid()
    }

    /// True when the sampled flag is set.
    #[inline]
    pub fn is_sampled(&self) -> bool {
        self.trace_flags.is_sampled()
    }
}
