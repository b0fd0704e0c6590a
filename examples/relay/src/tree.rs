//! The console view: each received trace as an indented tree.
//!
//! ```text
//! trace 4bf92f3577b34da6a3ce929d0e0e4736  frontend  3 spans  250.0 ms  1 error
//!   documentLoad  250.0 ms
//!     fetch "/api/items"  200.0 ms  ERROR HTTP 500
//!   server-continued  1.0 ms  (parent a3ce929d0e0e4736 not received)
//! ```
//!
//! Names come from the network, so control characters are escaped (no terminal escape
//! sequences reach the operator's console) and long names are cut.

use crate::store::summary;
use crate::view::SpanView;
use std::collections::{HashMap, HashSet};
use std::fmt::Write;

const MAX_NAME_CHARS: usize = 120;

/// Indentation stops growing past this depth; deeper spans show their depth as a number
/// instead (a 100 000-deep chain would otherwise print gigabytes of spaces).
const MAX_INDENT: usize = 32;

/// Renders every trace in `spans` (one request's worth), one tree each.
pub fn render(spans: &[SpanView]) -> String {
    let mut index: HashMap<&str, usize> = HashMap::new();
    let mut by_trace: Vec<Vec<&SpanView>> = Vec::new();
    for s in spans {
        let i = *index.entry(s.trace_id.as_str()).or_insert_with(|| {
            by_trace.push(Vec::new());
            by_trace.len() - 1
        });
        by_trace[i].push(s);
    }
    let mut out = String::new();
    for trace in by_trace {
        render_trace(&mut out, &trace);
    }
    out
}

fn render_trace(out: &mut String, spans: &[&SpanView]) {
    let sum = summary(spans.iter().copied());
    let errors = match sum.error_count {
        0 => String::new(),
        1 => "  1 error".into(),
        n => format!("  {n} errors"),
    };
    let _ = writeln!(
        out,
        "trace {}  {}  {} span{}  {:.1} ms{errors}",
        sum.trace_id,
        clean(&sum.service),
        sum.span_count,
        if sum.span_count == 1 { "" } else { "s" },
        sum.duration_ms
    );
    let ids: HashSet<&str> = spans.iter().map(|s| s.span_id.as_str()).collect();
    let mut children: HashMap<&str, Vec<&SpanView>> = HashMap::new();
    let mut roots = Vec::new();
    for s in spans {
        if ids.contains(s.parent_span_id.as_str()) {
            children.entry(s.parent_span_id.as_str()).or_default().push(s);
        } else {
            roots.push(*s);
        }
    }
    children.values_mut().for_each(|v| v.sort_by_key(|s| s.start_time_unix_nano));
    roots.sort_by_key(|s| (!s.parent_span_id.is_empty(), s.start_time_unix_nano));
    let mut seen = HashSet::new();
    // Spans in a parent cycle are reachable from no root: they follow, flat.
    for s in roots.iter().chain(spans) {
        if !seen.contains(s.span_id.as_str()) {
            let orphan = !s.parent_span_id.is_empty() && !ids.contains(s.parent_span_id.as_str());
            let note = if orphan { format!("  (parent {} not received)", s.parent_span_id) } else { String::new() };
            subtree(out, s, &note, &children, &mut seen);
        }
    }
}

/// Prints `root` and everything under it, depth first, children by start time. An explicit
/// stack, not recursion: the depth comes from the network (a chain of 100 000 spans is one
/// request).
fn subtree<'a>(
    out: &mut String,
    root: &'a SpanView,
    note: &str,
    children: &HashMap<&str, Vec<&'a SpanView>>,
    seen: &mut HashSet<&'a str>,
) {
    let mut stack = vec![(root, 1usize)];
    while let Some((s, depth)) = stack.pop() {
        if !seen.insert(&s.span_id) {
            continue;
        }
        let name = if s.name.is_empty() { "(no name)".into() } else { clean(&s.name) };
        out.push_str(&"  ".repeat(depth.min(MAX_INDENT)));
        if depth > MAX_INDENT {
            let _ = write!(out, "[depth {depth}] ");
        }
        let _ = write!(out, "{name}  {:.1} ms", s.duration_ms());
        if s.is_error() {
            out.push_str("  ERROR");
            if !s.status_message.is_empty() {
                let _ = write!(out, " {}", clean(&s.status_message));
            }
        }
        if std::ptr::eq(s, root) {
            out.push_str(note);
        }
        out.push('\n');
        // Reversed, so the earliest child comes off the stack first.
        for c in children.get(s.span_id.as_str()).into_iter().flatten().rev() {
            stack.push((c, depth + 1));
        }
    }
}

/// Control characters escaped, at most [`MAX_NAME_CHARS`] characters.
fn clean(s: &str) -> String {
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i == MAX_NAME_CHARS {
            out.push('…');
            break;
        }
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out.trim_end().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn span(id: u8, parent: u8, name: &str, start_ms: u64, end_ms: u64) -> SpanView {
        SpanView {
            trace_id: "4bf92f3577b34da6a3ce929d0e0e4736".into(),
            span_id: format!("{id:016x}"),
            parent_span_id: if parent == 0 { String::new() } else { format!("{parent:016x}") },
            name: name.into(),
            kind: "internal",
            service: Arc::from("frontend"),
            start_time_unix_nano: (1_000 + start_ms) * 1_000_000,
            end_time_unix_nano: (1_000 + end_ms) * 1_000_000,
            status: if name.starts_with("fetch") { "error" } else { "unset" },
            status_message: if name.starts_with("fetch") { "HTTP 500".into() } else { String::new() },
            attributes: vec![],
            events: vec![],
            links: vec![],
            resource: Arc::new(vec![]),
            scope: Arc::from(""),
        }
    }

    #[test]
    fn nests_children_under_parents() {
        let spans = [
            span(2, 1, "fetch \"/api/items\"", 10, 210),
            span(1, 0, "documentLoad", 0, 250),
            span(3, 9, "server-continued", 20, 21),
            span(4, 2, "parse\n\u{1b}[31m", 100, 150),
        ];
        let want = "trace 4bf92f3577b34da6a3ce929d0e0e4736  frontend  4 spans  250.0 ms  1 error
  documentLoad  250.0 ms
    fetch \"/api/items\"  200.0 ms  ERROR HTTP 500
      parse\\n\\u{1b}[31m  50.0 ms
  server-continued  1.0 ms  (parent 0000000000000009 not received)
";
        assert_eq!(render(&spans), want);
    }

    #[test]
    fn a_parent_cycle_still_prints_every_span_once() {
        let spans = [span(1, 2, "a", 0, 1), span(2, 1, "b", 0, 1)];
        let text = render(&spans);
        assert_eq!(text.lines().count(), 3, "{text}");
    }

    #[test]
    fn a_100_000_deep_chain_prints_without_recursion_and_with_bounded_indentation() {
        let n = 100_000u64;
        let spans: Vec<SpanView> = (1..=n)
            .map(|i| SpanView {
                span_id: format!("{i:016x}"),
                parent_span_id: if i == 1 { String::new() } else { format!("{:016x}", i - 1) },
                ..span(1, 0, "chain", 0, 1)
            })
            .collect();
        // Run on a thread with a small stack: recursion of this depth would overflow it.
        let text = std::thread::Builder::new()
            .stack_size(256 << 10)
            .spawn(move || render(&spans))
            .unwrap()
            .join()
            .expect("rendered without overflowing the stack");
        assert_eq!(text.lines().count(), n as usize + 1);
        let last = text.lines().last().unwrap();
        assert!(last.starts_with(&format!("{}[depth {n}] chain", "  ".repeat(MAX_INDENT))), "{last}");
        assert!(text.len() < 100 * (n as usize + 1), "indentation is bounded: {} bytes", text.len());
    }
}
