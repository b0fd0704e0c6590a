//! A per-client token bucket: `rate` requests a second, bursts of `burst`.
//!
//! Clients are keyed by IP address (IPv6 by its /64, which one host usually holds whole). The
//! table is bounded: past [`MAX_CLIENTS`] entries, buckets that have refilled (the same as new)
//! are forgotten first.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Most clients tracked at once.
pub const MAX_CLIENTS: usize = 100_000;

#[derive(Debug)]
pub struct RateLimiter {
    rate: f64,
    burst: f64,
    buckets: Mutex<HashMap<IpAddr, Bucket>>,
}

#[derive(Clone, Copy, Debug)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl RateLimiter {
    /// `rate` requests a second per client (0 turns limiting off), `burst` at most at once.
    pub fn new(rate: f64, burst: u32) -> RateLimiter {
        RateLimiter { rate, burst: f64::from(burst.max(1)), buckets: Mutex::new(HashMap::new()) }
    }

    /// Takes a token for `ip` at `now`, or says how long until one is available.
    pub fn check(&self, ip: IpAddr, now: Instant) -> Result<(), Duration> {
        if self.rate <= 0.0 {
            return Ok(());
        }
        let key = client_key(ip);
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if buckets.len() >= MAX_CLIENTS && !buckets.contains_key(&key) {
            let (rate, burst) = (self.rate, self.burst);
            buckets.retain(|_, b| b.tokens + now.duration_since(b.at).as_secs_f64() * rate < burst);
            if buckets.len() >= MAX_CLIENTS {
                buckets.clear();
            }
        }
        let b = buckets.entry(key).or_insert(Bucket { tokens: self.burst, at: now });
        b.tokens = (b.tokens + now.duration_since(b.at).as_secs_f64() * self.rate).min(self.burst);
        b.at = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - b.tokens) / self.rate))
        }
    }
}

/// IPv4 as is; IPv6 by its /64 (an IPv4-mapped address as IPv4).
fn client_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6((u128::from(v6) & !((1u128 << 64) - 1)).into()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket() {
        let rl = RateLimiter::new(2.0, 3);
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        let t = Instant::now();
        for i in 0..3 {
            assert!(rl.check(ip, t).is_ok(), "burst request {i}");
        }
        let wait = rl.check(ip, t).unwrap_err();
        assert_eq!(wait, Duration::from_millis(500), "one token at 2/s");
        assert!(rl.check("10.0.0.2".parse().unwrap(), t).is_ok(), "another client has its own bucket");
        assert!(rl.check(ip, t + Duration::from_millis(500)).is_ok(), "refilled");
        assert!(RateLimiter::new(0.0, 1).check(ip, t).is_ok(), "rate 0 is off");
    }

    #[test]
    fn keys() {
        let k = |s: &str| client_key(s.parse().unwrap()).to_string();
        assert_eq!(k("2001:db8:1:2:aaaa:bbbb:cccc:dddd"), "2001:db8:1:2::");
        assert_eq!(k("::ffff:10.1.2.3"), "10.1.2.3");
        assert_eq!(k("10.1.2.3"), "10.1.2.3");
    }
}
