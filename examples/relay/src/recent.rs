//! Keys seen recently, to drop a copy: at most `max` of them, each for `window`. Bounded
//! whatever a client sends: past `max`, the oldest are forgotten first.

use std::collections::{HashSet, VecDeque};
use std::hash::Hash;
use std::time::{Duration, Instant};

pub struct Recent<K> {
    keys: HashSet<K>,
    order: VecDeque<(K, Instant)>,
    max: usize,
    window: Duration,
}

impl<K: Hash + Eq + Clone> Recent<K> {
    pub fn new(max: usize, window: Duration) -> Recent<K> {
        Recent { keys: HashSet::new(), order: VecDeque::new(), max, window }
    }

    /// Whether `key` was seen within the window.
    pub fn contains(&mut self, key: &K, now: Instant) -> bool {
        self.forget(now);
        self.keys.contains(key)
    }

    /// Remembers `key`; whether it is new.
    pub fn first(&mut self, key: K, now: Instant) -> bool {
        if self.contains(&key, now) {
            return false;
        }
        if self.order.len() >= self.max {
            self.order.pop_front().map(|(k, _)| self.keys.remove(&k));
        }
        self.keys.insert(key.clone());
        self.order.push_back((key, now));
        true
    }

    fn forget(&mut self, now: Instant) {
        while let Some((k, at)) = self.order.front() {
            if now.saturating_duration_since(*at) < self.window {
                break;
            }
            self.keys.remove(k);
            self.order.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_new_once_within_its_window() {
        let window = Duration::from_secs(600);
        let mut seen = Recent::new(10, window);
        let t0 = Instant::now();
        assert!(seen.first("a", t0));
        assert!(!seen.first("a", t0 + Duration::from_secs(1)), "a copy");
        assert!(seen.contains(&"a", t0 + Duration::from_secs(1)));
        assert!(seen.first("b", t0), "another key");
        assert!(!seen.contains(&"a", t0 + window), "window over");
        assert!(seen.first("a", t0 + window + Duration::from_secs(1)), "new again");
    }

    #[test]
    fn past_its_size_the_oldest_are_forgotten() {
        let mut seen = Recent::new(3, Duration::from_secs(600));
        let t0 = Instant::now();
        for k in 0..1000 {
            assert!(seen.first(k, t0));
        }
        assert_eq!((seen.keys.len(), seen.order.len()), (3, 3), "bounded");
        assert!(!seen.contains(&996, t0) && seen.contains(&997, t0) && seen.contains(&999, t0));
    }
}
