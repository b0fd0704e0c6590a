//! Per-client budgets: token buckets (requests, spans, bytes a second, with a burst) and a cap
//! on requests in flight.
//!
//! Clients are keyed by IP address (IPv6 by its /64, which one host usually holds whole). Each
//! table is bounded: past [`MAX_CLIENTS`] entries, buckets that have refilled (the same as new)
//! are forgotten; if the table is still full, new clients share one overflow bucket until room
//! comes back. Nobody's bucket is ever reset early (clearing the table would give everyone a
//! fresh burst).

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Most clients tracked at once.
pub const MAX_CLIENTS: usize = 100_000;
/// The longest wait a refusal names (a tiny rate must not become a huge or invalid duration).
pub const MAX_WAIT: Duration = Duration::from_secs(300);
/// How often a full table is swept for refilled buckets (a sweep visits every entry).
const SWEEP_EVERY: Duration = Duration::from_secs(1);
/// The key new clients share while the table is full (`::` is never a real peer).
const OVERFLOW: IpAddr = IpAddr::V6(Ipv6Addr::UNSPECIFIED);

/// A token bucket per client: `rate` units a second, at most `burst` at once.
#[derive(Debug)]
pub struct RateLimiter {
    rate: f64,
    burst: f64,
    table: Mutex<Table>,
}

#[derive(Debug)]
struct Table {
    buckets: HashMap<IpAddr, Bucket>,
    swept: Option<Instant>,
}

#[derive(Clone, Copy, Debug)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl RateLimiter {
    /// `rate` units a second per client (0 or less turns the limit off), `burst` at most at once.
    pub fn new(rate: f64, burst: u64) -> RateLimiter {
        let rate = if rate.is_finite() { rate } else { 0.0 };
        let table = Table { buckets: HashMap::new(), swept: None };
        RateLimiter { rate, burst: burst.max(1) as f64, table: Mutex::new(table) }
    }

    pub fn is_off(&self) -> bool {
        self.rate <= 0.0
    }

    /// Takes one token for `ip` at `now`, or says how long until one is available.
    pub fn check(&self, ip: IpAddr, now: Instant) -> Result<(), Duration> {
        self.take(ip, 1, now)
    }

    /// Takes `cost` tokens for `ip` at `now`, or says how long until there are enough (at
    /// most [`MAX_WAIT`]). A cost above the burst is charged as the whole burst.
    pub fn take(&self, ip: IpAddr, cost: u64, now: Instant) -> Result<(), Duration> {
        self.spend(ip, cost, now, true)
    }

    /// As [`RateLimiter::take`], without taking anything: whether `ip` has `cost` tokens now.
    pub fn has(&self, ip: IpAddr, cost: u64, now: Instant) -> Result<(), Duration> {
        self.spend(ip, cost, now, false)
    }

    fn spend(&self, ip: IpAddr, cost: u64, now: Instant, take: bool) -> Result<(), Duration> {
        if self.is_off() {
            return Ok(());
        }
        let cost = (cost as f64).min(self.burst);
        let mut table = self.table.lock().unwrap_or_else(|p| p.into_inner());
        let key = table.key(client_key(ip), now, self.rate, self.burst);
        let b = table.buckets.entry(key).or_insert(Bucket { tokens: self.burst, at: now });
        b.tokens = (b.tokens + now.saturating_duration_since(b.at).as_secs_f64() * self.rate).min(self.burst);
        b.at = now;
        if b.tokens >= cost {
            if take {
                b.tokens -= cost;
            }
            Ok(())
        } else {
            let secs = (cost - b.tokens) / self.rate;
            Err(Duration::try_from_secs_f64(secs).map_or(MAX_WAIT, |d| d.min(MAX_WAIT)))
        }
    }
}

impl Table {
    /// `key` itself, or [`OVERFLOW`] when the table is full and cannot make room.
    fn key(&mut self, key: IpAddr, now: Instant, rate: f64, burst: f64) -> IpAddr {
        if self.buckets.len() < MAX_CLIENTS || self.buckets.contains_key(&key) {
            return key;
        }
        if self.swept.is_none_or(|t| now.saturating_duration_since(t) >= SWEEP_EVERY) {
            self.swept = Some(now);
            self.buckets.retain(|_, b| b.tokens + now.saturating_duration_since(b.at).as_secs_f64() * rate < burst);
        }
        if self.buckets.len() < MAX_CLIENTS { key } else { OVERFLOW }
    }
}

/// Requests in flight per client, capped, and the body bytes they hold: a client that opens many
/// slow requests, or sends large bodies and stalls, holds only its own share.
#[derive(Debug)]
pub struct ClientSlots {
    max: usize,
    max_bytes: usize,
    counts: Arc<Mutex<HashMap<IpAddr, Usage>>>,
}

#[derive(Debug, Default)]
struct Usage {
    requests: usize,
    bytes: usize,
}

/// One request's slot, with the body bytes charged to it; given back on drop.
#[derive(Debug)]
pub struct ClientSlot {
    key: IpAddr,
    bytes: usize,
    max_bytes: usize,
    counts: Arc<Mutex<HashMap<IpAddr, Usage>>>,
}

impl ClientSlots {
    /// At most `max` requests in flight per client (0: no cap), holding at most `max_bytes` of
    /// body together (0: no cap; a client holding none may always take one body). The table
    /// holds only clients with a request in flight, so the connection cap bounds it.
    pub fn new(max: usize, max_bytes: usize) -> ClientSlots {
        ClientSlots { max, max_bytes, counts: Arc::default() }
    }

    /// A slot for `ip`, or `None` when it already has `max` requests in flight.
    pub fn enter(&self, ip: IpAddr) -> Option<ClientSlot> {
        let key = client_key(ip);
        let mut counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        let n = counts.entry(key).or_default();
        if self.max > 0 && n.requests >= self.max {
            return None;
        }
        n.requests += 1;
        Some(ClientSlot { key, bytes: 0, max_bytes: self.max_bytes, counts: self.counts.clone() })
    }
}

impl ClientSlot {
    /// The client (an IPv6 /64 as its first address).
    pub fn ip(&self) -> IpAddr {
        self.key
    }

    /// The bytes its bodies may hold together.
    pub fn share(&self) -> usize {
        self.max_bytes
    }

    /// Charges `n` more body bytes to the client: false (nothing charged) when that would take
    /// it past its share while it already holds some.
    pub fn charge(&mut self, n: usize) -> bool {
        let mut counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        let Some(u) = counts.get_mut(&self.key) else { return false };
        if self.max_bytes > 0 && u.bytes > 0 && u.bytes + n > self.max_bytes {
            return false;
        }
        u.bytes += n;
        self.bytes += n;
        true
    }

    /// Gives back the bytes charged so far (the body has been decoded and dropped).
    pub fn release(&mut self) {
        let mut counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(u) = counts.get_mut(&self.key) {
            u.bytes = u.bytes.saturating_sub(self.bytes);
        }
        self.bytes = 0;
    }
}

impl Drop for ClientSlot {
    fn drop(&mut self) {
        let mut counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(u) = counts.get_mut(&self.key) {
            u.bytes = u.bytes.saturating_sub(self.bytes);
            u.requests = u.requests.saturating_sub(1);
            if u.requests == 0 {
                counts.remove(&self.key);
            }
        }
    }
}

/// IPv4 as is; IPv6 by its /64 (an IPv4-mapped address as IPv4).
pub fn client_key(ip: IpAddr) -> IpAddr {
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
    fn costs() {
        let rl = RateLimiter::new(100.0, 1000);
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        let t = Instant::now();
        assert!(rl.take(ip, 600, t).is_ok());
        assert_eq!(rl.take(ip, 600, t).unwrap_err(), Duration::from_secs(2), "200 more at 100/s");
        assert!(rl.take(ip, 400, t).is_ok(), "what is left");
        assert!(rl.take(ip, 5000, t + Duration::from_secs(10)).is_ok(), "over the burst: charged the burst");
    }

    #[test]
    fn a_tiny_rate_gives_the_longest_wait_not_a_panic() {
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        let t = Instant::now();
        for rate in [1e-300, f64::MIN_POSITIVE, 1e-9] {
            let rl = RateLimiter::new(rate, 1);
            assert!(rl.check(ip, t).is_ok());
            assert_eq!(rl.check(ip, t), Err(MAX_WAIT), "rate {rate}");
        }
        assert!(RateLimiter::new(f64::NAN, 1).is_off());
    }

    #[test]
    fn a_full_table_is_never_cleared() {
        let rl = RateLimiter::new(1.0, 2);
        let t = Instant::now();
        let victim: IpAddr = "192.0.2.1".parse().unwrap();
        rl.check(victim, t).unwrap();
        rl.check(victim, t).unwrap();
        // Fill the table with clients whose buckets have not refilled.
        for i in 0..MAX_CLIENTS as u32 - 1 {
            rl.check(IpAddr::V4((0x0a00_0000 + i).into()), t).unwrap();
        }
        assert!(rl.check(victim, t).is_err(), "the victim's bucket was not reset by the flood");
        let newcomer: IpAddr = "198.51.100.7".parse().unwrap();
        assert!(rl.check(newcomer, t).is_ok(), "new clients share the overflow bucket");
        assert!(rl.check("198.51.100.8".parse().unwrap(), t).is_ok());
        assert!(rl.check("198.51.100.9".parse().unwrap(), t).is_err(), "the overflow bucket has a burst of 2");
    }

    #[test]
    fn client_bytes() {
        let slots = ClientSlots::new(0, 100);
        let (a, b): (IpAddr, IpAddr) = ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
        let (mut s1, mut s2) = (slots.enter(a).unwrap(), slots.enter(a).unwrap());
        assert!(s1.charge(150), "a client holding nothing may take one body past its share");
        assert!(!s2.charge(1), "then nothing more");
        assert!(slots.enter(b).unwrap().charge(100), "another client has its own share");
        s1.release();
        assert!(s2.charge(60) && s2.charge(40) && !s2.charge(1), "released bytes come back, up to the share");
        drop(s2);
        let mut s3 = slots.enter(a).unwrap();
        assert!(s3.charge(100), "a dropped slot gives its bytes back");
        drop((s1, s3));
        assert!(slots.counts.lock().unwrap().is_empty());
    }

    #[test]
    fn client_slots() {
        let slots = ClientSlots::new(2, 0);
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let (s1, s2) = (slots.enter(a).unwrap(), slots.enter(a).unwrap());
        assert!(slots.enter(a).is_none(), "a third is refused");
        assert!(slots.enter("10.0.0.2".parse().unwrap()).is_some(), "another client is not affected");
        drop(s1);
        assert!(slots.enter(a).is_some(), "a slot came back");
        drop(s2);
        assert!(slots.counts.lock().unwrap().is_empty(), "the table holds only clients in flight");
    }

    #[test]
    fn keys() {
        let k = |s: &str| client_key(s.parse().unwrap()).to_string();
        assert_eq!(k("2001:db8:1:2:aaaa:bbbb:cccc:dddd"), "2001:db8:1:2::");
        assert_eq!(k("::ffff:10.1.2.3"), "10.1.2.3");
        assert_eq!(k("10.1.2.3"), "10.1.2.3");
    }
}
