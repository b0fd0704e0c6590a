//! Renders a batch of spans as an indented tree, for `debug: true`.

#[allow(unused_imports)]
use crate::prelude::*;

use crate::ids::SpanId;
use crate::span_data::SpanData;

/// The batch as an indented tree: each span under its parent when the parent is in the batch;
/// spans whose parent is elsewhere are listed at the top level with their parent's id.
///
/// ```text
/// trace 4bf92f3577b34da6a3ce929d0e0e4736
///   loadData 12.5 ms
///     fetchData [client] 10.0 ms
///     processData 0.3 ms
/// ```
pub fn render<S: core::borrow::Borrow<SpanData>>(spans: &[S]) -> String {
    let spans: Vec<&SpanData> = spans.iter().map(|s| s.borrow()).collect();
    let mut out = String::new();
    let mut traces: Vec<&crate::ids::TraceId> = Vec::new();
    for s in &spans {
        if !traces.contains(&&s.span_context.trace_id) {
            traces.push(&s.span_context.trace_id);
        }
    }
    for t in traces {
        out.push_str("trace ");
        t.write_hex(&mut out);
        out.push('\n');
        let in_trace: Vec<&SpanData> = spans.iter().copied().filter(|s| &s.span_context.trace_id == t).collect();
        for s in &in_trace {
            let parent_here =
                s.parent_span_id.is_valid() && in_trace.iter().any(|p| p.span_context.span_id == s.parent_span_id);
            if !parent_here {
                line(&mut out, s, 1, true);
                children(&mut out, &in_trace, s.span_context.span_id, 2);
            }
        }
    }
    out
}

fn children(out: &mut String, spans: &[&SpanData], parent: SpanId, depth: usize) {
    if depth > 64 {
        return;
    }
    for s in spans.iter().filter(|s| s.parent_span_id == parent) {
        line(out, s, depth, false);
        children(out, spans, s.span_context.span_id, depth + 1);
    }
}

fn line(out: &mut String, s: &SpanData, depth: usize, top: bool) {
    for _ in 0..depth {
        out.push_str("  ");
    }
    out.push_str(&s.name);
    if s.kind != crate::span_data::SpanKind::Internal {
        out.push_str(" [");
        out.push_str(s.kind.name());
        out.push(']');
    }
    let us = s.end_time.saturating_sub(s.start_time) / 1000;
    out.push(' ');
    crate::export::otlp_json::push_u64(out, us / 1000);
    out.push('.');
    out.push((b'0' + ((us % 1000) / 100) as u8) as char);
    out.push_str(" ms");
    if s.status.code() == 2 {
        out.push_str(" ERROR");
    }
    if top && s.parent_span_id.is_valid() {
        out.push_str(" (parent ");
        s.parent_span_id.write_hex(out);
        out.push(')');
    }
    out.push('\n');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::InMemoryProcessor;
    use crate::tracer::Tracer;
    use crate::{Config, span_data::SpanKind};
    use alloc::rc::Rc;

    #[test]
    fn nests_children_under_parents() {
        let mem = Rc::new(InMemoryProcessor::default());
        let t = Tracer::new(&Config::new("t"), [3; 32], mem.clone());
        let mut load = t.span("loadData").start_time(1_000_000).start();
        let mut f = load.child_builder("fetchData").kind(SpanKind::Client).start_time(1_000_000).start();
        f.end_at(11_000_000);
        let mut p = load.child_builder("processData").start_time(11_000_000).start();
        p.end_at(11_300_000);
        load.end_at(13_500_000);
        let spans = mem.take();
        let tree = render(&spans);
        let trace = spans[0].span_context.trace_id.to_hex();
        assert_eq!(
            tree,
            format!("trace {trace}\n  loadData 12.5 ms\n    fetchData [client] 10.0 ms\n    processData 0.3 ms\n")
        );
    }
}
