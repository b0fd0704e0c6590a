//! What a page records without code: route changes, user interactions and long animation frames
//! (the listeners are `js/auto.js`; what each becomes is decided here).
//!
//! - **Route changes** (`routeChanges`, on by default): when the URL changes through
//!   `pushState`, `replaceState`, `popstate` or a hash change, a `routeChange` span (no
//!   duration) with `url.path`, `url.fragment`, the previous path and what changed it. A call
//!   that leaves the URL as it was records nothing (a router saving state, or the `popstate`
//!   that comes with a `hashchange`).
//! - **Interactions** (`interactions`: the DOM event types, by default click, submit and
//!   keydown of Enter or Escape on a control; trusted events only): a span named from the
//!   element (`click button#save`) that is current while the event is dispatched, so the
//!   requests and spans its handlers start synchronously are its children (and those of
//!   microtasks the browser runs between two of its listeners, which only its handlers can have
//!   queued). It ends when the dispatch does. Nothing after the dispatch is guessed: the span
//!   leaves the current-span stack when the dispatch is over, at the latest when the current
//!   span is next read or a context entered, by any API (a handler that stopped propagation
//!   skipped the last listener: [`settle`]), or at the 0 ms timer after it. An interaction the
//!   browser fires as a consequence of the one before (a submit button's click, then the form's
//!   `submit` with that button as its submitter; Enter in a text field, then the default
//!   button's keyboard `click` and the `submit`) is a child of that one:
//!   [`crate::instrument::interaction`].
//! - **Long animation frames** (`longAnimationFrames`): see [`on_frame`].

#[allow(unused_imports)]
use crate::prelude::*;

use super::platform;
use crate::attribute::{KeyValue, Str};
use crate::config::Config;
use crate::span::{Parent, Span};
use crate::span_context::SpanContext;
use core::cell::RefCell;
use js_sys::Function;
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;

#[wasm_bindgen(module = "/js/auto.js")]
extern "C" {
    #[wasm_bindgen(js_name = listenRoutes)]
    fn listen_routes(cb: &Function) -> Function;
    #[wasm_bindgen(js_name = listenInteractions)]
    fn listen_interactions(types: Vec<String>, begin: &Function, end: &Function) -> Function;
    fn dispatched(event: &JsValue) -> bool;
    #[wasm_bindgen(js_name = observeLongFrames)]
    fn observe_long_frames(cb: &Function) -> Option<Function>;
    #[wasm_bindgen(js_name = currentUrl)]
    fn current_url() -> js_sys::Array;
}

type RouteCb = dyn FnMut(String, String, String, String);
type BeginCb = dyn FnMut(JsValue, String, String, Option<String>, JsValue, JsValue);
type FrameCb = dyn FnMut(String, f64, f64, f64, js_sys::Array);

/// Interactions kept after they end, for the long frames that arrive later to find theirs.
const RECENT: usize = 8;

/// An interaction being dispatched: its event, its depth on the current-span stack, its span.
struct Active {
    event: JsValue,
    depth: usize,
    span: Span,
    start: u64,
    /// The event type, and what a later event of the same action names (`js/auto.js`).
    kind: String,
    anchor: JsValue,
    seq: u32,
}

/// The interaction that ended last, until a task later (its 0 ms timer): another that the
/// browser fires right after it may continue its action.
struct Last {
    seq: u32,
    kind: String,
    anchor: JsValue,
    cx: SpanContext,
}

struct Auto {
    stops: Vec<Function>,
    _route: Option<Closure<RouteCb>>,
    _begin: Option<Closure<BeginCb>>,
    _end: Option<Closure<dyn FnMut(JsValue)>>,
    _frame: Option<Closure<FrameCb>>,
    href: String,
    path: String,
    active: Vec<Active>,
    last: Option<Last>,
    seq: u32,
    /// Ended interactions: context, start, end (epoch ns).
    recent: Vec<(SpanContext, u64, u64)>,
    /// Long frames waiting for the page load to be recorded.
    held: Vec<Frame>,
}

impl Auto {
    const fn new() -> Auto {
        Auto {
            stops: Vec::new(),
            _route: None,
            _begin: None,
            _end: None,
            _frame: None,
            href: String::new(),
            path: String::new(),
            active: Vec::new(),
            last: None,
            seq: 0,
            recent: Vec::new(),
            held: Vec::new(),
        }
    }
}

local! {
    static AUTO: RefCell<Auto> = RefCell::new(Auto::new());
}

/// Starts the listeners and observers `config` asks for (what is off installs nothing).
pub fn install(config: &Config) {
    uninstall();
    crate::context::before_read(Some(settle));
    let mut a = Auto::new();
    if config.route_changes {
        let cb = Closure::<RouteCb>::new(on_route);
        a.stops.push(listen_routes(cb.as_ref().unchecked_ref()));
        a._route = Some(cb);
        let here = current_url();
        a.href = here.get(0).as_string().unwrap_or_default();
        a.path = here.get(1).as_string().unwrap_or_default();
    }
    if !config.interactions.is_empty() {
        let begin = Closure::<BeginCb>::new(on_begin);
        let end = Closure::<dyn FnMut(JsValue)>::new(|e: JsValue| finish(&e));
        a.stops.push(listen_interactions(
            config.interactions.clone(),
            begin.as_ref().unchecked_ref(),
            end.as_ref().unchecked_ref(),
        ));
        a._begin = Some(begin);
        a._end = Some(end);
    }
    if config.long_animation_frames {
        let cb = Closure::<FrameCb>::new(on_frame);
        if let Some(stop) = observe_long_frames(cb.as_ref().unchecked_ref()) {
            a.stops.push(stop);
            a._frame = Some(cb);
        }
    }
    // Keep the frames the observer handed over (synchronously, above) for the page load.
    AUTO.with(|s| {
        let mut s = s.borrow_mut();
        a.held = core::mem::take(&mut s.held);
        *s = a;
    });
}

/// Removes the listeners and ends any interaction still open.
pub fn uninstall() {
    crate::context::before_read(None);
    settle_all();
    let old = AUTO.with(|s| core::mem::replace(&mut *s.borrow_mut(), Auto::new()));
    for stop in &old.stops {
        let _ = stop.call0(&JsValue::UNDEFINED);
    }
}

fn on_route(trigger: String, href: String, path: String, hash: String) {
    let previous = AUTO.with(|s| {
        let mut s = s.borrow_mut();
        if s.href == href {
            return None;
        }
        s.href = href;
        Some(core::mem::replace(&mut s.path, path.clone()))
    });
    let Some(previous) = previous else { return };
    let mut attrs = vec![
        KeyValue::new("url.path", path),
        KeyValue::new("canopy.route.previous_path", previous),
        KeyValue::new("canopy.route.trigger", trigger),
    ];
    if let Some(f) = hash.strip_prefix('#') {
        attrs.push(KeyValue::new("url.fragment", String::from(f)));
    }
    let mut span = super::tracer().span("routeChange").attributes(attrs).start();
    span.end();
}

/// `click button#save`: the event type, the element's tag in lowercase, `#id` when it has one.
fn interaction_name(kind: &str, tag: &str, id: Option<&str>) -> String {
    let mut name = String::with_capacity(kind.len() + tag.len() + 2 + id.map_or(0, str::len));
    name.push_str(kind);
    name.push(' ');
    name.push_str(&tag.to_ascii_lowercase());
    if let Some(id) = id {
        name.push('#');
        name.push_str(id);
    }
    name
}

/// `anchor`: what a later event of the same action names (a click's control, an Enter key
/// press's form); `follows`: what this one names (a submit's submitter, a keyboard click's form).
fn on_begin(event: JsValue, kind: String, tag: String, id: Option<String>, anchor: JsValue, follows: JsValue) {
    // First, so the interaction before this one has ended and set `last`, read below.
    settle();
    let (seq, parent) = AUTO.with(|s| {
        let mut s = s.borrow_mut();
        s.seq = s.seq.wrapping_add(1);
        let parent = s
            .last
            .as_ref()
            .filter(|l| {
                follows.is_object() && l.anchor == follows && crate::instrument::interaction::continues(&l.kind, &kind)
            })
            .map(|l| l.cx.clone());
        (s.seq, parent)
    });
    let name = interaction_name(&kind, &tag, id.as_deref());
    let attrs = vec![KeyValue::new("event_type", kind.clone()), KeyValue::new("target_element", tag)];
    let tracer = super::tracer();
    let mut b = tracer.span(Str::Owned(name)).attributes(attrs);
    if let Some(cx) = parent {
        b = b.parent_choice(Parent::Explicit(cx));
    }
    let span = b.start();
    let depth = crate::context::push(span.span_context().clone());
    // A listener that stops propagation keeps the bubbling `end` from running: end the span
    // after this task at the latest (spans that start before then settle it first). By then
    // no event of this task can continue it.
    let e = event.clone();
    super::timer::once(0.0, move || {
        finish(&e);
        AUTO.with(|s| {
            let mut s = s.borrow_mut();
            if s.last.as_ref().is_some_and(|l| l.seq == seq) {
                s.last = None;
            }
        });
    });
    let start = platform::now();
    AUTO.with(|s| s.borrow_mut().active.push(Active { event, depth, span, start, kind, anchor, seq }));
}

/// Ends the interaction of `event` (and any started inside it), and takes it off the
/// current-span stack.
fn finish(event: &JsValue) {
    let ended = AUTO.with(|s| {
        let mut s = s.borrow_mut();
        let i = s.active.iter().position(|a| &a.event == event)?;
        Some(s.active.split_off(i))
    });
    if let Some(ended) = ended {
        crate::context::truncate(ended[0].depth);
        let now = platform::now();
        for mut a in ended.into_iter().rev() {
            let cx = a.span.span_context().clone();
            a.span.end();
            AUTO.with(|s| {
                let mut s = s.borrow_mut();
                if s.recent.len() >= RECENT {
                    s.recent.remove(0);
                }
                s.recent.push((cx.clone(), a.start, now));
                // The loop ends with the interaction `event` names (the outermost).
                s.last = Some(Last { seq: a.seq, kind: a.kind, anchor: a.anchor, cx });
            });
        }
    }
}

/// Runs `f` on the interaction span with `id` while its dispatch goes on (an uncaught error in
/// its handler is recorded there). `f` must not call into Canopy. `None` when no interaction
/// being dispatched has that id.
pub fn with_interaction<R>(id: crate::ids::SpanId, f: impl FnOnce(&mut Span) -> R) -> Option<R> {
    AUTO.with(|s| {
        s.borrow_mut().active.iter_mut().find(|a| a.span.span_context().span_id == id).map(|a| f(&mut a.span))
    })
}

/// How many entries of the current-span stack the interactions being dispatched hold (the
/// depth of the innermost; 0 when none is).
#[cfg_attr(feature = "js-api", allow(dead_code))]
pub fn dispatching_depth() -> usize {
    AUTO.with(|s| s.try_borrow().map_or(usize::MAX, |s| s.active.last().map_or(0, |a| a.depth)))
}

/// Takes interactions whose dispatch is over off the current-span stack. Runs before the
/// current span is read and before a context is entered (`context::before_read`), so a stale
/// interaction never parents anything, whichever API asks.
pub fn settle() {
    loop {
        // `dispatched` only reads the event. A state already borrowed (a caller up the stack is
        // changing it) has nothing to settle now.
        let over = AUTO.with(|s| {
            let s = s.try_borrow().ok()?;
            let a = s.active.last()?;
            dispatched(&a.event).then(|| a.event.clone())
        });
        match over {
            Some(e) => finish(&e),
            None => return,
        }
    }
}

fn settle_all() {
    let first = AUTO.with(|s| s.borrow().active.first().map(|a| a.event.clone()));
    if let Some(e) = first {
        finish(&e);
    }
}

/// A long frame, ready to be recorded.
struct Frame {
    name: &'static str,
    start: u64,
    end: u64,
    attrs: Vec<KeyValue>,
}

/// Frames held while the page load waits to be recorded, at most.
const HELD: usize = 16;

/// A long animation frame (or, where that API is missing, a long task): a span over it with its
/// longest script's attribution, child of the interaction that started during it, if one did;
/// a frame before the end of the page load is a child of `documentLoad` (held until that is
/// recorded, after the load event); else the default parent for its start time.
fn on_frame(kind: String, start_ms: f64, duration_ms: f64, blocking_ms: f64, script: js_sys::Array) {
    if duration_ms <= crate::config::defaults::LONG_FRAME_MS {
        return;
    }
    let clock = platform::clock();
    let mut attrs = vec![KeyValue::new("long_frame.blocking_duration_ms", blocking_ms)];
    for (i, key) in ["script.invoker", "script.invoker_type", "script.source_url", "script.source_function_name"]
        .into_iter()
        .enumerate()
    {
        if let Some(v) = script.get(i as u32).as_string().filter(|v| !v.is_empty()) {
            attrs.push(KeyValue::new(key, v));
        }
    }
    if let Some(d) = script.get(4).as_f64() {
        attrs.push(KeyValue::new("script.duration_ms", d));
    }
    let name = if kind == "longtask" { "longTask" } else { "longAnimationFrame" };
    let frame = Frame { name, start: clock.at(start_ms), end: clock.at(start_ms + duration_ms), attrs };
    if super::page_load::waiting() {
        AUTO.with(|s| {
            let held = &mut s.borrow_mut().held;
            if held.len() < HELD {
                held.push(frame);
            }
        });
        return;
    }
    record_frame(frame, None);
}

/// Records the frames held for the page load: those that started before it ended are children
/// of `documentLoad` (`load`: its context and end), the others get the usual parent.
pub fn release_frames(load: Option<(SpanContext, u64)>) {
    let held = AUTO.with(|s| core::mem::take(&mut s.borrow_mut().held));
    for f in held {
        let parent = load.as_ref().filter(|(_, end)| f.start <= *end).map(|(cx, _)| cx.clone());
        record_frame(f, parent);
    }
}

fn record_frame(f: Frame, parent: Option<SpanContext>) {
    let parent = parent.or_else(|| {
        AUTO.with(|s| {
            let s = s.borrow();
            s.recent.iter().rev().find(|(_, t, _)| (f.start..=f.end).contains(t)).map(|(cx, _, _)| cx.clone())
        })
    });
    let t = super::tracer();
    let mut b = t.span(f.name).attributes(f.attrs).start_time(f.start);
    if let Some(cx) = parent {
        b = b.parent_choice(Parent::Explicit(cx));
    }
    let mut span = b.start();
    span.end_at(f.end);
}
