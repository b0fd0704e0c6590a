//! The current span: a stack that holds a span only for the synchronous run of a callback.
//!
//! JavaScript has no implicit async context in browsers, and guessing one (as zone.js does)
//! gives wrong parents. Canopy makes a span current only while a callback runs synchronously
//! ([`with_span_context`]); code that runs later passes its parent explicitly, or is a future
//! wrapped with [`InSpan::in_span`](crate::InSpan::in_span), which makes its span current for
//! exactly the run of each poll. So a span can never leak into an unrelated flow.

#[allow(unused_imports)]
use crate::prelude::*;

use crate::span_context::SpanContext;
use core::cell::{Cell, RefCell};

local! {
    static STACK: RefCell<Vec<SpanContext>> = RefCell::new(Vec::new());
}

local! {
    /// Runs before the stack is read or pushed (see [`before_read`]).
    static BEFORE: Cell<Option<fn()>> = Cell::new(None);
}

local! {
    /// True while that hook runs (it does not run inside itself).
    static RUNNING: Cell<bool> = Cell::new(false);
}

/// Sets what runs before the current span is read or a span entered: the browser edge's
/// "take interactions whose dispatch is over off the stack", so no reader (the JavaScript API,
/// the Rust API, the `tracing` layer, a log record, an uncaught error) sees a stale one. It does
/// not run inside itself.
#[cfg_attr(any(not(target_arch = "wasm32"), not(feature = "auto")), allow(dead_code))]
pub(crate) fn before_read(f: Option<fn()>) {
    BEFORE.with(|b| b.set(f));
}

fn settle() {
    if let Some(f) = BEFORE.with(Cell::get) {
        if !RUNNING.with(|r| r.replace(true)) {
            f();
            RUNNING.with(|r| r.set(false));
        }
    }
}

local! {
    /// Runs after Rust code makes a span current with a guard (see [`after_guarded_push`]).
    static AFTER_PUSH: Cell<Option<fn()>> = Cell::new(None);
}

/// Sets what runs after Rust code makes a span current with a guard ([`enter`]: `in_span`,
/// `in_scope`, [`with_span_context`]; the `tracing` layer's enter): the browser edge's check, at
/// the next microtask, that no such entry is left on the stack. A panic in wasm32 does not
/// unwind, so the guard never pops its span, which would parent everything after it; a
/// `tracing` guard held across an `.await` is not current between polls either. (The JavaScript
/// API's entries are popped by its own `finally`.)
#[cfg_attr(any(not(target_arch = "wasm32"), feature = "js-api"), allow(dead_code))]
pub(crate) fn after_guarded_push(f: Option<fn()>) {
    AFTER_PUSH.with(|a| a.set(f));
}

/// [`push`], by a guard's owner (see [`after_guarded_push`]).
pub(crate) fn push_guarded(cx: SpanContext) -> usize {
    let depth = push(cx);
    if let Some(f) = AFTER_PUSH.with(Cell::get) {
        f();
    }
    depth
}

/// Keeps the `n` oldest entries of the stack and drops the others.
#[cfg_attr(any(not(target_arch = "wasm32"), feature = "js-api"), allow(dead_code))]
pub(crate) fn keep(n: usize) {
    STACK.with(|s| s.borrow_mut().truncate(n));
}

/// The current span's context, if a callback is running inside one.
pub fn current() -> Option<SpanContext> {
    settle();
    STACK.with(|s| s.borrow().last().cloned())
}

/// Runs `f` with `cx` as the current span, restoring the previous state afterwards, also when
/// `f` panics (where a panic unwinds; in a wasm32 page, where it does not, Canopy's browser
/// edge takes `cx` off at the next microtask).
pub fn with_span_context<R>(cx: SpanContext, f: impl FnOnce() -> R) -> R {
    let _guard = enter(cx);
    f()
}

/// Makes `cx` current until the guard is dropped.
pub(crate) fn enter(cx: SpanContext) -> Guard {
    Guard { depth: push_guarded(cx) }
}

/// Pushes `cx`; returns the depth to pass to [`truncate`] when its callback returns.
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
pub(crate) fn push(cx: SpanContext) -> usize {
    settle();
    STACK.with(|s| {
        let mut s = s.borrow_mut();
        s.push(cx);
        s.len()
    })
}

/// Pops the entry pushed at `depth` and anything above it.
pub(crate) fn truncate(depth: usize) {
    STACK.with(|s| s.borrow_mut().truncate(depth.saturating_sub(1)));
}

/// Pops the stack back to below its entry when dropped.
#[must_use]
pub(crate) struct Guard {
    depth: usize,
}

impl Drop for Guard {
    fn drop(&mut self) {
        truncate(self.depth);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{SpanId, TraceFlags, TraceId};

    fn cx(n: u8) -> SpanContext {
        SpanContext::new(TraceId([n; 16]), SpanId([n; 8]), TraceFlags::SAMPLED)
    }

    #[test]
    fn nesting_and_restoring() {
        assert_eq!(current(), None);
        with_span_context(cx(1), || {
            assert_eq!(current(), Some(cx(1)));
            with_span_context(cx(2), || assert_eq!(current(), Some(cx(2))));
            assert_eq!(current(), Some(cx(1)));
        });
        assert_eq!(current(), None);
    }

    #[test]
    fn the_hook_runs_before_every_read_and_push_but_not_inside_itself() {
        std::thread_local! { static RUNS: Cell<u32> = const { Cell::new(0) }; }
        fn hook() {
            RUNS.with(|r| r.set(r.get() + 1));
            // What the browser edge's hook does: it ends a span, which may read the stack, and
            // takes it off.
            let _ = current();
            truncate(1);
        }
        fn uninstalling() {
            RUNS.with(|r| r.set(r.get() + 1));
            before_read(None);
        }
        before_read(Some(uninstalling));
        let _ = current();
        let _ = current();
        assert_eq!(RUNS.with(Cell::get), 1, "a hook that uninstalls itself stays uninstalled");
        RUNS.with(|r| r.set(0));
        before_read(Some(hook));
        let depth = push(cx(4));
        assert_eq!(RUNS.with(Cell::get), 1, "push runs it (the stack was empty)");
        assert_eq!(current(), None, "the hook took the entry off, before the read");
        assert_eq!(RUNS.with(Cell::get), 2, "a read runs it, once: not inside itself");
        truncate(depth);
        before_read(None);
        assert_eq!(current(), None);
        assert_eq!(RUNS.with(Cell::get), 2, "removed");
    }

    #[test]
    fn restored_after_panic() {
        let r = std::panic::catch_unwind(|| with_span_context(cx(3), || panic!("boom")));
        assert!(r.is_err());
        assert_eq!(current(), None);
    }
}
