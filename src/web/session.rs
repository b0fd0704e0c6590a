//! The tab's session at the browser edge: kept in `sessionStorage` (so a reload of the tab keeps
//! it), renewed by the rules of [`crate::session`], and written as `session.id` on every span.

#[allow(unused_imports)]
use crate::prelude::*;

use super::{document, platform};
use crate::attribute::{KeyValue, Str, Value};
use crate::session::Session;
use core::cell::RefCell;

/// The `sessionStorage` key (`id.started.last`, epoch ms).
const KEY: &str = "canopy.session";
/// The last activity is written back at most this often (a reload within this window measures
/// the inactivity from the previous write: a second more or less).
const SAVE_EVERY_MS: u64 = 1000;

struct State {
    session: Session,
    /// The id for span attributes, kept for the life of the page (one per session: no copy per span).
    id: &'static str,
    saved_ms: u64,
}

local! {
    static STATE: RefCell<Option<State>> = RefCell::new(None);
}

fn now_ms() -> u64 {
    platform::now() / 1_000_000
}

fn leak(id: &str) -> &'static str {
    Box::leak(String::from(id).into_boxed_str())
}

/// Resumes the tab's session from storage, or starts one; called by `init`.
pub fn start() {
    let now = now_ms();
    let session = Session::resume(document::session_get(KEY).as_deref(), now, platform::random_id);
    // Storage can fail (quota, privacy mode): the session then lives for this page only.
    document::session_set(KEY, &session.encode());
    let id = STATE.with(|s| match s.borrow_mut().take() {
        Some(old) if old.session.id == session.id => old.id,
        _ => leak(&session.id),
    });
    STATE.with(|s| *s.borrow_mut() = Some(State { session, id, saved_ms: now }));
}

/// The session's id, once `init` started it.
pub fn current_id() -> Option<&'static str> {
    STATE.with(|s| s.borrow().as_ref().map(|st| st.id))
}

/// Counts a span (or log record) that ended at `at_ns` (epoch ns) as activity, renewing an
/// expired session, and gives it `session.id` in `attrs`, unless the app set one itself.
pub fn stamp(attrs: &mut Vec<KeyValue>, at_ns: u64) {
    let id = STATE.with(|s| {
        let mut s = s.borrow_mut();
        let st = s.as_mut()?;
        // The item's own time: no clock read per span (a clock read is a third of a span's cost).
        let now = if at_ns > 0 { at_ns / 1_000_000 } else { now_ms() };
        if st.session.touch(now, platform::random_id) {
            st.id = leak(&st.session.id);
            st.saved_ms = 0;
        }
        if now.saturating_sub(st.saved_ms) >= SAVE_EVERY_MS {
            document::session_set(KEY, &st.session.encode());
            st.saved_ms = now;
        }
        Some(st.id)
    });
    if let Some(id) = id {
        if !attrs.iter().any(|kv| kv.key == "session.id") {
            // One more slot, not the doubling `push` does: every queued span carries this.
            attrs.reserve_exact(1);
            attrs.push(KeyValue { key: Str::Borrowed("session.id"), value: Value::String(Str::Borrowed(id)) });
        }
    }
}
