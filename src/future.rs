//! Futures that keep their span: [`InSpan::in_span`] makes a span current during every poll.
//!
//! The current span ([`crate::context`]) holds only while code runs synchronously. A future
//! runs in pieces, one per poll, with other tasks' pieces in between; wrapped with
//! [`InSpan::in_span`], each of its pieces runs with the span current, and the span is taken
//! off again before the poll returns, so nothing leaks to the task that runs next. A fetch
//! started anywhere inside (through the patched `fetch`, by gloo-net or `web_sys`) and a span
//! started with [`Tracer::start`](crate::Tracer::start) get the span as their parent, also after
//! an `.await`. The same idea as `tracing::Instrument`.
//!
//! ```
//! # use canopy_web::{Config, Tracer, export::InMemoryProcessor};
//! # use std::rc::Rc;
//! # let spans = Rc::new(InMemoryProcessor::default());
//! # let tracer = Tracer::new(&Config::new("frontend"), [7; 32], spans.clone());
//! use canopy_web::InSpan;
//!
//! async fn fetch_home(tracer: &Tracer) {
//!     // fetch("/api/activities/home").await: the fetch's CLIENT span is load's child
//!     let _parse = tracer.start("parse"); // load is current here too: parse is its child
//! }
//!
//! let load = tracer.start("loadData");
//! let task = fetch_home(&tracer).in_span(&load); // spawn_local(task) in the browser
//! # let mut task = std::pin::pin!(task);
//! # assert!(task.as_mut().poll(&mut std::task::Context::from_waker(std::task::Waker::noop())).is_ready());
//! # drop(load);
//! # let ended = spans.take();
//! # assert_eq!(ended[0].name, "parse");
//! # assert_eq!(ended[0].parent_span_id, ended[1].span_context.span_id);
//! ```
//!
//! Dropping the wrapped future before it completes (cancelling it) leaves nothing behind: the
//! span is current only inside `poll`. The span itself is not ended by the wrapper; it ends when
//! its handle is dropped, as always.

#[allow(unused_imports)]
use crate::prelude::*;

use crate::span::Span;
use crate::span_context::SpanContext;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};

/// Makes a span current while a future runs. Implemented for every [`Future`].
pub trait InSpan: Future + Sized {
    /// Wraps the future so that `span` is the current span during each of its polls.
    fn in_span(self, span: &Span) -> InSpanFuture<Self> {
        self.in_span_context(span.span_context().clone())
    }

    /// Like [`InSpan::in_span`], with a span context (a span ended already, or a remote parent
    /// read from a header).
    fn in_span_context(self, cx: SpanContext) -> InSpanFuture<Self> {
        InSpanFuture { inner: self, cx }
    }
}

impl<F: Future> InSpan for F {}

/// A future that runs with a span current; made by [`InSpan::in_span`].
#[derive(Debug)]
#[must_use = "futures do nothing unless polled"]
pub struct InSpanFuture<F> {
    inner: F,
    cx: SpanContext,
}

impl<F> InSpanFuture<F> {
    /// The context made current during each poll.
    pub fn span_context(&self) -> &SpanContext {
        &self.cx
    }

    /// The wrapped future.
    pub fn into_inner(self) -> F {
        self.inner
    }
}

impl<F: Future> Future for InSpanFuture<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        // SAFETY: `inner` is structurally pinned: it is never moved out of a pinned
        // `InSpanFuture` (`into_inner` takes `self` by value, which needs `Unpin` once pinned),
        // there is no `Drop` impl, and `InSpanFuture` is `Unpin` only when `F` is. `cx` is
        // only read.
        let this = unsafe { self.get_unchecked_mut() };
        // Taken off again when the guard drops: on return and on unwind (a wasm32 panic does
        // not unwind: see `context::after_guarded_push`).
        let _current = crate::context::enter(this.cx.clone());
        unsafe { Pin::new_unchecked(&mut this.inner) }.poll(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::context::current;
    use crate::export::InMemoryProcessor;
    use crate::tracer::Tracer;
    use alloc::rc::Rc;
    use core::cell::Cell;
    use core::task::Waker;
    use std::panic::{AssertUnwindSafe, catch_unwind};

    /// Pending once (waking itself), then ready: one `.await` that yields to the executor.
    struct YieldOnce(bool);

    impl Future for YieldOnce {
        type Output = ();
        fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
            if core::mem::replace(&mut self.0, true) {
                Poll::Ready(())
            } else {
                cx.waker().wake_by_ref();
                Poll::Pending
            }
        }
    }

    fn yield_now() -> YieldOnce {
        YieldOnce(false)
    }

    fn poll_once<F: Future>(f: Pin<&mut F>) -> Poll<F::Output> {
        f.poll(&mut Context::from_waker(Waker::noop()))
    }

    fn setup() -> (Tracer, Rc<InMemoryProcessor>) {
        let spans = Rc::new(InMemoryProcessor::default());
        (Tracer::new(&Config::new("test"), [3; 32], spans.clone()), spans)
    }

    fn parent_of(spans: &[crate::SpanData], name: &str) -> crate::SpanId {
        spans.iter().find(|s| s.name == name).unwrap_or_else(|| panic!("no span {name}")).parent_span_id
    }

    #[test]
    fn current_during_each_poll_and_nothing_between() {
        let (tracer, spans) = setup();
        let load = tracer.start("load");
        let id = load.span_context().clone();
        let t = tracer.clone();
        let mut f = core::pin::pin!(
            async move {
                assert_eq!(current().as_ref(), Some(&id));
                yield_now().await;
                assert_eq!(current().as_ref(), Some(&id), "current again after the await");
                drop(t.start("after-await"));
            }
            .in_span(&load)
        );
        assert!(poll_once(f.as_mut()).is_pending());
        assert_eq!(current(), None, "nothing current between polls");
        assert!(poll_once(f.as_mut()).is_ready());
        assert_eq!(current(), None);
        assert_eq!(parent_of(&spans.take(), "after-await"), load.span_context().span_id);
    }

    #[test]
    fn nested_futures_restore_the_outer_span() {
        let (tracer, spans) = setup();
        let (outer, inner) = (tracer.start("outer"), tracer.start("inner"));
        let (o, i) = (outer.span_context().clone(), inner.span_context().clone());
        let (t, inner_span) = (tracer.clone(), &inner);
        let mut f = core::pin::pin!(
            async move {
                async {
                    yield_now().await;
                    assert_eq!(current().as_ref(), Some(&i));
                    drop(t.start("in-inner"));
                }
                .in_span(inner_span)
                .await;
                assert_eq!(current().as_ref(), Some(&o), "the outer span is current again");
                yield_now().await;
                drop(t.start("in-outer"));
            }
            .in_span(&outer)
        );
        while poll_once(f.as_mut()).is_pending() {
            assert_eq!(current(), None);
        }
        let ended = spans.take();
        assert_eq!(parent_of(&ended, "in-inner"), inner.span_context().span_id);
        assert_eq!(parent_of(&ended, "in-outer"), outer.span_context().span_id);
    }

    #[test]
    fn interleaved_futures_keep_their_own_span() {
        let (tracer, spans) = setup();
        let (a, b) = (tracer.start("a"), tracer.start("b"));
        let task = |name: &'static str, span: &Span| {
            let (t, me) = (tracer.clone(), span.span_context().clone());
            async move {
                for _ in 0..3 {
                    assert_eq!(current().as_ref(), Some(&me));
                    yield_now().await;
                }
                drop(t.start(name));
            }
            .in_span(span)
        };
        let (mut fa, mut fb) = (core::pin::pin!(task("from-a", &a)), core::pin::pin!(task("from-b", &b)));
        let (mut a_done, mut b_done) = (false, false);
        while !(a_done && b_done) {
            a_done = a_done || poll_once(fa.as_mut()).is_ready();
            assert_eq!(current(), None);
            b_done = b_done || poll_once(fb.as_mut()).is_ready();
            assert_eq!(current(), None);
        }
        let ended = spans.take();
        assert_eq!(parent_of(&ended, "from-a"), a.span_context().span_id);
        assert_eq!(parent_of(&ended, "from-b"), b.span_context().span_id);
    }

    #[test]
    fn cancelled_future_leaves_nothing_current() {
        let (tracer, spans) = setup();
        let load = tracer.start("load");
        let reached = Rc::new(Cell::new(false));
        {
            let r = reached.clone();
            let mut f = Box::pin(
                async move {
                    yield_now().await;
                    r.set(true);
                }
                .in_span(&load),
            );
            assert!(poll_once(f.as_mut()).is_pending());
        } // dropped while pending
        assert!(!reached.get());
        assert_eq!(current(), None);
        drop(tracer.start("later"));
        assert!(!parent_of(&spans.take(), "later").is_valid(), "a new trace, not load's child");
    }

    #[test]
    fn a_panicking_poll_leaves_nothing_current() {
        let (tracer, _spans) = setup();
        let load = tracer.start("load");
        let mut f = Box::pin(async { panic!("boom") }.in_span(&load));
        let r = catch_unwind(AssertUnwindSafe(|| poll_once(f.as_mut())));
        assert!(r.is_err());
        assert_eq!(current(), None);
    }

    #[test]
    fn inside_a_synchronous_scope_the_outer_span_comes_back() {
        let (tracer, _spans) = setup();
        let (outer, load) = (tracer.start("outer"), tracer.start("load"));
        let l = load.span_context().clone();
        outer.in_scope(|| {
            let mut f = Box::pin(async move { assert_eq!(current(), Some(l)) }.in_span(&load));
            assert!(poll_once(f.as_mut()).is_ready());
            assert_eq!(current().as_ref(), Some(outer.span_context()));
        });
    }
}
