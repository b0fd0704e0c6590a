//! Trace and span identifiers, trace flags, and the id generator.
//!
//! Ids are random bytes from a small, fast PRNG (xoshiro256++) that the platform seeds once
//! (in the browser from `crypto.getRandomValues`). They are never all zero and are always
//! written as lowercase hex.

#[allow(unused_imports)]
use crate::prelude::*;

use core::fmt;

const HEX: &[u8; 16] = b"0123456789abcdef";

/// A 16-byte trace id. All zero is invalid.
///
/// Written as 32 lowercase hex characters in `traceparent` and in OTLP JSON.
///
/// ```
/// use canopy_web::TraceId;
///
/// let id = TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").unwrap();
/// assert_eq!(id.to_hex(), "4bf92f3577b34da6a3ce929d0e0e4736");
/// assert!(id.is_valid() && !TraceId::INVALID.is_valid());
/// assert_eq!(TraceId::from_hex("4BF92F3577B34DA6A3CE929D0E0E4736"), None); // uppercase
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct TraceId(pub [u8; 16]);

/// An 8-byte span id. All zero is invalid.
///
/// Written as 16 lowercase hex characters.
///
/// ```
/// use canopy_web::SpanId;
///
/// let id = SpanId::from_hex("00f067aa0ba902b7").unwrap();
/// assert_eq!(id, SpanId([0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7]));
/// assert_eq!(SpanId::from_hex("0000000000000000"), Some(SpanId::INVALID)); // parses, but invalid
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct SpanId(pub [u8; 8]);

macro_rules! id_impl {
    ($t:ident, $n:expr) => {
        impl $t {
            /// The invalid (all-zero) id.
            pub const INVALID: $t = $t([0; $n]);

            /// True unless the id is all zero.
            #[inline]
            pub fn is_valid(&self) -> bool {
                self.0 != [0; $n]
            }

            /// Parses exactly `2 * N` lowercase hex characters. Uppercase is rejected, as
            /// W3C Trace Context requires. Returns `None` for any other input (all-zero included
            /// is accepted here; callers that need a valid id check [`Self::is_valid`]).
            pub fn from_hex(s: &str) -> Option<$t> {
                let b = s.as_bytes();
                if b.len() != 2 * $n {
                    return None;
                }
                let mut out = [0u8; $n];
                for (i, o) in out.iter_mut().enumerate() {
                    *o = (hex_val(b[2 * i])? << 4) | hex_val(b[2 * i + 1])?;
                }
                Some($t(out))
            }

            /// Writes the id as lowercase hex to `out`.
            #[inline]
            pub fn write_hex(&self, out: &mut String) {
                push_hex(out, &self.0);
            }

            /// The id as a lowercase hex `String`.
            pub fn to_hex(&self) -> String {
                let mut s = String::with_capacity(2 * $n);
                self.write_hex(&mut s);
                s
            }
        }

        impl fmt::Debug for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.to_hex())
            }
        }

        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.to_hex())
            }
        }
    };
}

id_impl!(TraceId, 16);
id_impl!(SpanId, 8);

/// Lowercase hex digit value; uppercase and anything else is `None`.
#[inline]
pub(crate) fn hex_val(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    }
}

/// Appends `bytes` as lowercase hex.
#[inline]
pub(crate) fn push_hex(out: &mut String, bytes: &[u8]) {
    // SAFETY-free: every pushed byte is ASCII.
    for &b in bytes {
        out.push(HEX[(b >> 4) as usize] as char);
        out.push(HEX[(b & 15) as usize] as char);
    }
}

/// W3C trace flags (one byte).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default, Debug)]
pub struct TraceFlags(pub u8);

impl TraceFlags {
    /// Bit 0: the caller may have recorded this trace.
    pub const SAMPLED: TraceFlags = TraceFlags(0x01);
    /// Bit 1 (Trace Context Level 2): the trace id's right-most 7 bytes are random.
    pub const RANDOM: TraceFlags = TraceFlags(0x02);
    /// The flags this SDK understands; all other bits are cleared when propagating.
    pub const KNOWN: u8 = 0x03;

    /// True when the sampled bit is set.
    #[inline]
    pub fn is_sampled(self) -> bool {
        self.0 & 0x01 != 0
    }

    /// True when the random-trace-id bit is set.
    #[inline]
    pub fn is_random(self) -> bool {
        self.0 & 0x02 != 0
    }

    /// These flags with the sampled bit set or cleared.
    #[inline]
    pub fn with_sampled(self, sampled: bool) -> TraceFlags {
        TraceFlags(if sampled { self.0 | 1 } else { self.0 & !1 })
    }
}

/// A fast, non-cryptographic id generator (xoshiro256++), seeded once.
///
/// Ids only need to be unique, not secret; `crypto.getRandomValues` per span would cost a
/// JS/wasm boundary crossing each time.
#[derive(Clone, Debug)]
pub struct IdGenerator {
    s: [u64; 4],
}

impl IdGenerator {
    /// A generator seeded from 32 bytes. Any seed works, all-zero included.
    pub fn from_seed(seed: [u8; 32]) -> Self {
        let mut s = [0u64; 4];
        let mut sm = 0x9E37_79B9_7F4A_7C15u64;
        for (i, w) in s.iter_mut().enumerate() {
            let mut b = [0u8; 8];
            b.copy_from_slice(&seed[i * 8..i * 8 + 8]);
            // Mix through SplitMix64 so weak seeds (zeros) still give a good state.
            sm = sm.wrapping_add(u64::from_le_bytes(b) ^ 0x9E37_79B9_7F4A_7C15);
            *w = splitmix(sm);
        }
        IdGenerator { s }
    }

    #[inline]
    fn next_u64(&mut self) -> u64 {
        let s = &mut self.s;
        let result = s[0].wrapping_add(s[3]).rotate_left(23).wrapping_add(s[0]);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        result
    }

    /// A new trace id that AWS X-Ray also accepts: the first 4 bytes are `epoch_secs` (big
    /// endian), the other 12 random, as OpenTelemetry's X-Ray id generator makes them.
    pub fn xray_trace_id(&mut self, epoch_secs: u32) -> TraceId {
        let mut id = self.trace_id().0;
        id[..4].copy_from_slice(&epoch_secs.to_be_bytes());
        TraceId(id)
    }

    /// A new, valid (non-zero) trace id.
    #[inline]
    pub fn trace_id(&mut self) -> TraceId {
        loop {
            let a = self.next_u64().to_be_bytes();
            let b = self.next_u64().to_be_bytes();
            let mut id = [0u8; 16];
            id[..8].copy_from_slice(&a);
            id[8..].copy_from_slice(&b);
            if id != [0; 16] {
                return TraceId(id);
            }
        }
    }

    /// A new, valid (non-zero) span id.
    #[inline]
    pub fn span_id(&mut self) -> SpanId {
        loop {
            let v = self.next_u64();
            if v != 0 {
                return SpanId(v.to_be_bytes());
            }
        }
    }
}

fn splitmix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trip_and_case() {
        let t = TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").unwrap();
        assert_eq!(t.to_hex(), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert!(TraceId::from_hex("4BF92F3577B34DA6A3CE929D0E0E4736").is_none(), "uppercase");
        assert!(TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e473").is_none(), "short");
        assert!(SpanId::from_hex("00f067aa0ba902b7").unwrap().is_valid());
        assert!(!SpanId::from_hex("0000000000000000").unwrap().is_valid());
        assert!(SpanId::from_hex("00f067aa0ba902bg").is_none(), "non-hex");
    }

    #[test]
    fn generator_never_zero_and_distinct() {
        let mut g = IdGenerator::from_seed([0; 32]);
        let mut seen = std::collections::HashSet::new();
        for _ in 0..10_000 {
            let t = g.trace_id();
            assert!(t.is_valid());
            assert!(seen.insert(t.0));
            assert!(g.span_id().is_valid());
        }
        let mut other = IdGenerator::from_seed([1; 32]);
        assert_ne!(other.trace_id(), IdGenerator::from_seed([0; 32]).trace_id());
    }

    #[test]
    fn flags() {
        let f = TraceFlags(0x03);
        assert!(f.is_sampled() && f.is_random());
        assert_eq!(f.with_sampled(false), TraceFlags(0x02));
        assert_eq!(TraceFlags(0).with_sampled(true), TraceFlags::SAMPLED);
    }
}
