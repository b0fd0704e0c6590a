//! Copies: an export request the relay has already delivered, received again byte for byte.
//!
//! The browser SDK delivers at least once. Firefox closing a tab can stop the SDK's page hide
//! right after a `sendBeacon`, and the hide done again sends that document again; an export
//! whose response was lost is sent again too. The relay answers a copy as delivered and
//! forwards nothing, so the upstream gets each document once. A copy that comes while the
//! first is still being delivered gets 503 and `Retry-After: 1` (by then the first has an
//! outcome: if it failed, the copy is new again).

use crate::model::Signal;
use crate::recent::Recent;
use std::collections::HashSet;
use std::hash::{BuildHasher, RandomState};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Requests remembered as delivered: this many, for this long (under 1 MB).
const KEYS: usize = 20_000;
const WINDOW: Duration = Duration::from_secs(600);

/// A request's identity: a keyed hash of its signal and its bytes as received, whatever its
/// `Content-Type` (a beacon's copy may come as a fetch); a stranger cannot make two requests
/// collide without the relay's random key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Key(u64);

struct State {
    delivered: Recent<Key>,
    /// Requests being processed or delivered now: one entry per request in progress, so
    /// bounded by the relay's in-flight limits.
    pending: HashSet<Key>,
}

pub struct Copies {
    hasher: RandomState,
    state: Arc<Mutex<State>>,
}

/// What [`Copies::check`] found.
pub enum Seen {
    /// Not delivered and not in progress: the caller delivers it, holding the claim.
    New(Claim),
    /// Delivered within the window.
    Copy,
    /// The same request is in progress.
    InFlight,
}

/// A request in progress. Dropped without [`Claim::delivered`] (an error, a 503, a client gone),
/// the request is new again.
pub struct Claim {
    state: Arc<Mutex<State>>,
    key: Key,
}

impl Claim {
    /// The request was delivered: its copies are answered without forwarding.
    pub fn delivered(self) {
        if let Ok(mut s) = self.state.lock() {
            s.delivered.first(self.key, Instant::now());
        }
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        if let Ok(mut s) = self.state.lock() {
            s.pending.remove(&self.key);
        }
    }
}

impl Default for Copies {
    fn default() -> Copies {
        let state = State { delivered: Recent::new(KEYS, WINDOW), pending: HashSet::new() };
        Copies { hasher: RandomState::new(), state: Arc::new(Mutex::new(state)) }
    }
}

impl Copies {
    /// Whether the request is a copy, in progress, or new (then claimed).
    pub fn check(&self, signal: Signal, body: &[u8]) -> Seen {
        let key = Key(self.hasher.hash_one((signal as u8, body)));
        let Ok(mut s) = self.state.lock() else {
            return Seen::New(Claim { state: self.state.clone(), key });
        };
        if s.delivered.contains(&key, Instant::now()) {
            Seen::Copy
        } else if !s.pending.insert(key) {
            Seen::InFlight
        } else {
            Seen::New(Claim { state: self.state.clone(), key })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_delivered_request_is_a_copy_when_it_comes_again() {
        let c = Copies::default();
        let doc = br#"{"resourceSpans":[]}"#;
        let Seen::New(claim) = c.check(Signal::Traces, doc) else { panic!("new") };
        assert!(matches!(c.check(Signal::Traces, doc), Seen::InFlight), "while the first is delivered");
        claim.delivered();
        assert!(matches!(c.check(Signal::Traces, doc), Seen::Copy), "the same bytes again");
        assert!(matches!(c.check(Signal::Logs, doc), Seen::New(_)), "the same bytes for the other signal");
        assert!(matches!(c.check(Signal::Traces, br#"{"resourceSpans":[{}]}"#), Seen::New(_)), "another request");
        assert!(matches!(Copies::default().check(Signal::Traces, doc), Seen::New(_)), "keyed per relay");
    }

    #[test]
    fn a_request_not_delivered_is_new_again() {
        let c = Copies::default();
        let doc = b"{}";
        let Seen::New(claim) = c.check(Signal::Traces, doc) else { panic!("new") };
        drop(claim);
        assert!(matches!(c.check(Signal::Traces, doc), Seen::New(_)), "a 503 or an error: sent again, it is new");
        assert!(c.state.lock().unwrap().pending.is_empty(), "and nothing is left pending");
    }
}
