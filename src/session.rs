//! The tab's session: an id kept across reloads, renewed after inactivity or a maximum age.
//!
//! Pure logic (the browser edge, `web/session.rs`, keeps the state in `sessionStorage`): a
//! session lasts until [`defaults::SESSION_INACTIVITY_MS`](crate::config::defaults) pass with
//! no span, or [`defaults::SESSION_MAX_MS`](crate::config::defaults) after it started, as Grafana
//! Faro and Datadog RUM do. The id comes from the browser's CSPRNG, never from the tracer's id
//! generator, so it cannot be read off a `traceparent`.
//!
//! ```
//! use canopy_web::session::Session;
//!
//! let s = Session::resume(None, 1_000, || "a".repeat(32));
//! assert_eq!(s.encode(), format!("{}.1000.1000", "a".repeat(32)));
//! let back = Session::resume(Some(&s.encode()), 2_000, || "b".repeat(32));
//! assert_eq!(back.id, s.id); // a reload a second later: the same session
//! ```

#[allow(unused_imports)]
use crate::prelude::*;

use crate::config::defaults::{SESSION_INACTIVITY_MS, SESSION_MAX_MS};

/// A session: its id (32 hex digits), when it started and when it last saw a span (epoch ms).
#[derive(Clone, Debug, PartialEq)]
pub struct Session {
    /// 32 lowercase hex digits.
    pub id: String,
    /// When it started.
    pub started_ms: u64,
    /// When a span last ended in it.
    pub last_ms: u64,
}

impl Session {
    /// The stored session if it is still alive at `now_ms`, else a new one with id `fresh()`.
    /// Anything unreadable in `stored` counts as no session.
    pub fn resume(stored: Option<&str>, now_ms: u64, fresh: impl FnOnce() -> String) -> Session {
        match stored.and_then(Session::parse) {
            Some(mut s) if s.alive(now_ms) => {
                s.last_ms = s.last_ms.max(now_ms);
                s
            }
            _ => Session { id: fresh(), started_ms: now_ms, last_ms: now_ms },
        }
    }

    /// Records activity at `now_ms`: true when the session had expired and was replaced by a new
    /// one with id `fresh()`.
    pub fn touch(&mut self, now_ms: u64, fresh: impl FnOnce() -> String) -> bool {
        if self.alive(now_ms) {
            self.last_ms = self.last_ms.max(now_ms);
            return false;
        }
        *self = Session { id: fresh(), started_ms: now_ms, last_ms: now_ms };
        true
    }

    /// True while neither the inactivity limit nor the maximum age has passed (a clock that went
    /// backwards by more than the limit counts as expired too).
    pub fn alive(&self, now_ms: u64) -> bool {
        now_ms.abs_diff(self.last_ms) <= SESSION_INACTIVITY_MS && now_ms.abs_diff(self.started_ms) <= SESSION_MAX_MS
    }

    /// `id.started.last`, what is stored.
    pub fn encode(&self) -> String {
        let mut s = String::with_capacity(60);
        s.push_str(&self.id);
        for n in [self.started_ms, self.last_ms] {
            s.push('.');
            crate::export::otlp_json::push_u64(&mut s, n);
        }
        s
    }

    /// Reads what [`Session::encode`] wrote.
    pub fn parse(s: &str) -> Option<Session> {
        let mut parts = crate::ascii::split(s, b'.');
        let id = parts.next()?;
        let started_ms = crate::ascii::parse_u64(parts.next()?)?;
        let last_ms = crate::ascii::parse_u64(parts.next()?)?;
        let valid = id.len() == 32 && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        (valid && parts.next().is_none()).then(|| Session { id: id.into(), started_ms, last_ms })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: u64 = 60_000;
    const T0: u64 = 1_765_000_000_000;

    fn id(c: char) -> String {
        core::iter::repeat_n(c, 32).collect()
    }

    #[test]
    fn resume() {
        let stored = Session { id: id('a'), started_ms: T0, last_ms: T0 }.encode();
        let rows: &[(Option<&str>, u64, char, &str)] = &[
            (None, T0, 'b', "nothing stored: a new session"),
            (Some(&stored), T0 + MIN, 'a', "a reload a minute later: the same session"),
            (Some(&stored), T0 + 15 * MIN, 'a', "exactly 15 minutes idle: still the same"),
            (Some(&stored), T0 + 15 * MIN + 1, 'b', "more than 15 minutes idle: a new session"),
            (Some("not a session"), T0, 'b', "unreadable: a new session"),
            (Some(&id('a')), T0, 'b', "the old format (the id alone): a new session"),
            (Some("ABCDEFABCDEFABCDEFABCDEFABCDEFAB.1.1"), 1, 'b', "uppercase is not ours"),
            (Some(&stored), T0 - 16 * MIN, 'b', "a clock far behind the stored time: a new session"),
        ];
        for (stored, now, want, why) in rows {
            let s = Session::resume(*stored, *now, || id('b'));
            assert_eq!(s.id, id(*want), "{why}");
            assert_eq!(s.last_ms.max(*now), s.last_ms, "{why}: last activity is now or later");
        }
    }

    #[test]
    fn touch_rolls_over_after_inactivity_and_after_four_hours() {
        let mut s = Session { id: id('a'), started_ms: T0, last_ms: T0 };
        // Active every 10 minutes: alive until 4 hours after the start, then new.
        let mut t = T0;
        while t + 10 * MIN <= T0 + 240 * MIN {
            t += 10 * MIN;
            assert!(!s.touch(t, || id('b')), "active at +{} min", (t - T0) / MIN);
        }
        assert_eq!((s.id.clone(), s.last_ms), (id('a'), T0 + 240 * MIN));
        assert!(s.touch(T0 + 240 * MIN + 1, || id('b')), "past 4 hours");
        assert_eq!((s.id.clone(), s.started_ms), (id('b'), T0 + 240 * MIN + 1));
        // 16 idle minutes.
        let later = s.last_ms + 16 * MIN;
        assert!(s.touch(later, || id('c')));
        assert_eq!(s.id, id('c'));
    }

    #[test]
    fn encode_parse_round_trip() {
        let s = Session { id: id('f'), started_ms: T0, last_ms: T0 + 5 };
        assert_eq!(Session::parse(&s.encode()), Some(s));
        assert_eq!(Session::parse(&(id('f') + ".1.2.3")), None, "extra fields");
        assert_eq!(Session::parse(&(id('f') + ".x.2")), None, "not a number");
    }
}
