//! `InSpan::in_span` with real tasks (wasm-bindgen-futures' `spawn_local`), timers and the
//! patched `fetch`: each task keeps its own span across awaits, and nothing leaks between them.

use super::*;
use canopy_web::context::current;
use canopy_web::{InSpan, SpanContext};
use core::cell::RefCell;
use std::rc::Rc;
use std::task::{Context, Waker};

type Seen = Rc<RefCell<Vec<(&'static str, Option<SpanContext>)>>>;

/// A task that notes what is current around each await (timers, then a fetch) and ends with a
/// span of its own, named `<who>-after`.
async fn task(tracer: canopy_web::Tracer, who: &'static str, delay: u32, seen: Seen) {
    for _ in 0..3 {
        seen.borrow_mut().push((who, current()));
        sleep(delay).await; // a timer await, so the tasks interleave: the behaviour under test
    }
    seen.borrow_mut().push((who, current()));
    fetch_tagged(who).await;
    seen.borrow_mut().push((who, current()));
    drop(tracer.start(format!("{who}-after")));
}

#[wasm_bindgen_test]
async fn concurrent_tasks_keep_their_own_span_across_timers_and_fetches() {
    let tracer = start_sdk("in-span-app");
    let seen: Seen = Rc::default();
    let (a, b) = (tracer.start("in-span-task-a"), tracer.start("in-span-task-b"));
    let done_a = spawn(task(tracer.clone(), "in-span-a", 3, seen.clone()).in_span(&a));
    let done_b = spawn(task(tracer.clone(), "in-span-b", 5, seen.clone()).in_span(&b));
    // A third task, not in a span, runs between the other two's polls.
    let done_c = spawn(task(tracer.clone(), "in-span-bystander", 4, seen.clone()));
    assert_eq!(current(), None);
    done_a.await.unwrap();
    assert_eq!(current(), None, "nothing current in the test's own task");
    done_b.await.unwrap();
    done_c.await.unwrap();

    let seen = seen.take();
    let order: Vec<&str> = seen.iter().map(|(who, _)| *who).collect();
    let first_b = order.iter().position(|w| *w == "in-span-b");
    let last_a = order.iter().rposition(|w| *w == "in-span-a");
    assert!(first_b < last_a, "the tasks interleaved: {order:?}");
    for (who, cx) in seen.iter() {
        let expected = match *who {
            "in-span-a" => Some(a.span_context()),
            "in-span-b" => Some(b.span_context()),
            _ => None,
        };
        assert_eq!(cx.as_ref(), expected, "{who}'s current span");
    }
    let (a_id, b_id) = (a.span_context().span_id.to_hex(), b.span_context().span_id.to_hex());
    drop((a, b));

    JsFuture::from(canopy_web::web::force_flush()).await.unwrap();
    let spans = received_spans().await;
    assert_eq!(parent(client_span(&spans, "in-span-a")), a_id, "a's fetch is a's child");
    assert_eq!(parent(client_span(&spans, "in-span-b")), b_id, "b's fetch is b's child");
    assert_eq!(parent(client_span(&spans, "in-span-bystander")), "", "the bystander's fetch is a root");
    assert_eq!(parent(span_named(&spans, "in-span-a-after")), a_id);
    assert_eq!(parent(span_named(&spans, "in-span-b-after")), b_id);
    assert_eq!(parent(span_named(&spans, "in-span-bystander-after")), "");
    JsFuture::from(canopy_web::web::shutdown()).await.unwrap();
}

#[wasm_bindgen_test]
async fn nested_in_span_futures_give_fetches_the_innermost_span() {
    let tracer = start_sdk("in-span-app");
    let load = tracer.start("nested-load");
    let process = load.child("nested-process");
    let inner = async {
        sleep(2).await; // a timer await inside the inner span (under test)
        fetch_tagged("nested-inner").await;
    }
    .in_span(&process);
    async {
        fetch_tagged("nested-outer-before").await;
        inner.await;
        sleep(2).await; // and one after it, back in the outer span
        fetch_tagged("nested-outer-after").await;
    }
    .in_span(&load)
    .await;
    assert_eq!(current(), None);
    let (load_id, process_id) = (load.span_context().span_id.to_hex(), process.span_context().span_id.to_hex());
    drop((process, load));

    JsFuture::from(canopy_web::web::force_flush()).await.unwrap();
    let spans = received_spans().await;
    assert_eq!(parent(client_span(&spans, "nested-outer-before")), load_id);
    assert_eq!(parent(client_span(&spans, "nested-inner")), process_id);
    assert_eq!(parent(client_span(&spans, "nested-outer-after")), load_id, "the outer span is back");
    JsFuture::from(canopy_web::web::shutdown()).await.unwrap();
}

#[wasm_bindgen_test]
async fn a_cancelled_in_span_future_leaves_nothing_current() {
    let tracer = start_sdk("in-span-app");
    let load = tracer.start("cancelled-load");
    {
        let mut pending = Box::pin(
            async {
                sleep(60_000).await; // never fires: the future is dropped while pending on it
                fetch_tagged("cancelled-never").await;
            }
            .in_span(&load),
        );
        // One poll starts the timer and returns Pending; then the future is dropped (cancelled).
        assert!(pending.as_mut().poll(&mut Context::from_waker(Waker::noop())).is_pending());
    }
    assert_eq!(current(), None);
    fetch_tagged("cancelled-after").await;
    drop(tracer.start("cancelled-later"));
    drop(load);

    JsFuture::from(canopy_web::web::force_flush()).await.unwrap();
    let spans = received_spans().await;
    assert_eq!(parent(client_span(&spans, "cancelled-after")), "", "not the cancelled future's child");
    assert_eq!(parent(span_named(&spans, "cancelled-later")), "");
    assert!(!spans.iter().any(|s| attr(s, "url.full").is_some_and(|u| u.ends_with("cancelled-never"))));
    JsFuture::from(canopy_web::web::shutdown()).await.unwrap();
}
