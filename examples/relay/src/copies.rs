//! Copies: an export request the relay has already delivered, received again byte for byte.
//!
//! The browser SDK delivers at least once. Firefox closing a tab can stop the SDK's page hide
//! right after a `sendBeacon`, and the hide done again sends that document again; an export
//! whose response was lost is sent again too. The relay answers a copy as delivered and
//! forwards nothing, so the upstream gets each document once. Two copies in flight at the same
//! moment both go through (the first is remembered once delivered).

use crate::model::Signal;
use crate::recent::Recent;
use std::hash::{BuildHasher, RandomState};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Documents remembered: this many, for this long (about 1 MB at most).
const KEYS: usize = 20_000;
const WINDOW: Duration = Duration::from_secs(600);

/// A document's identity: a keyed hash of its signal and its bytes as received (a stranger
/// cannot make two documents collide without the relay's random key).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Key(u64);

pub struct Copies {
    hasher: RandomState,
    delivered: Mutex<Recent<Key>>,
}

impl Default for Copies {
    fn default() -> Copies {
        Copies { hasher: RandomState::new(), delivered: Mutex::new(Recent::new(KEYS, WINDOW)) }
    }
}

impl Copies {
    pub fn key(&self, signal: Signal, body: &[u8]) -> Key {
        Key(self.hasher.hash_one((signal as u8, body)))
    }

    /// Whether a document with this key was delivered within the window.
    pub fn is_copy(&self, key: Key) -> bool {
        self.delivered.lock().is_ok_and(|mut d| d.contains(&key, Instant::now()))
    }

    /// The document was delivered: its copies are answered without forwarding.
    pub fn delivered(&self, key: Key) {
        if let Ok(mut d) = self.delivered.lock() {
            d.first(key, Instant::now());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_delivered_document_is_a_copy_when_it_comes_again() {
        let c = Copies::default();
        let doc = br#"{"resourceSpans":[]}"#;
        let key = c.key(Signal::Traces, doc);
        assert!(!c.is_copy(key), "not delivered yet (a 503 keeps it new for the retry)");
        c.delivered(key);
        assert!(c.is_copy(c.key(Signal::Traces, doc)), "the same bytes again");
        assert!(!c.is_copy(c.key(Signal::Logs, doc)), "the same bytes for the other signal");
        assert!(!c.is_copy(c.key(Signal::Traces, br#"{"resourceSpans":[{}]}"#)), "another document");
        assert!(!Copies::default().is_copy(key), "keyed per relay");
    }
}
