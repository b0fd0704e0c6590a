//! Attribute keys and values, as OpenTelemetry defines them.
//!
//! A value is a string, bool, 64-bit integer, double, or a homogeneous array of one of those.

#[allow(unused_imports)]
use crate::prelude::*;

use alloc::borrow::Cow;

/// A string that is either `'static` (no allocation) or owned.
pub type Str = Cow<'static, str>;

/// An attribute value.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// A string.
    String(Str),
    /// A boolean.
    Bool(bool),
    /// A signed 64-bit integer.
    I64(i64),
    /// A double.
    F64(f64),
    /// An array of strings.
    StringArray(Vec<Str>),
    /// An array of booleans.
    BoolArray(Vec<bool>),
    /// An array of integers.
    I64Array(Vec<i64>),
    /// An array of doubles.
    F64Array(Vec<f64>),
}

impl Value {
    /// Truncates string values (and each string of a string array) to at most `max` bytes,
    /// cutting on a UTF-8 character boundary, as the attribute value length limit requires.
    pub fn truncate(&mut self, max: usize) {
        match self {
            Value::String(s) => truncate_str(s, max),
            Value::StringArray(v) => v.iter_mut().for_each(|s| truncate_str(s, max)),
            _ => {}
        }
    }
}

fn truncate_str(s: &mut Str, max: usize) {
    if s.len() <= max {
        return;
    }
    let mut cut = max;
    while !s.is_char_boundary(cut) {
        cut -= 1;
    }
    match s {
        Cow::Borrowed(b) => *b = &b[..cut],
        Cow::Owned(o) => o.truncate(cut),
    }
}

macro_rules! from_impl {
    ($($t:ty => $v:ident $(as $cast:ty)?),* $(,)?) => {$(
        impl From<$t> for Value {
            fn from(v: $t) -> Value { Value::$v((v $(as $cast)?).into()) }
        }
    )*};
}

from_impl!(
    bool => Bool, i64 => I64, i32 => I64 as i64, u32 => I64 as i64, u16 => I64 as i64,
    f64 => F64, &'static str => String, String => String, Str => String,
    Vec<Str> => StringArray, Vec<bool> => BoolArray, Vec<i64> => I64Array, Vec<f64> => F64Array,
);

/// A key and its value.
#[derive(Clone, Debug, PartialEq)]
pub struct KeyValue {
    /// The attribute key, e.g. `http.request.method`.
    pub key: Str,
    /// The value.
    pub value: Value,
}

impl KeyValue {
    /// A new key-value pair.
    ///
    /// ```
    /// use canopy_web::{KeyValue, Value};
    ///
    /// let kv = KeyValue::new("http.request.method", "GET");
    /// assert_eq!(kv.value, Value::String("GET".into()));
    /// assert_eq!(KeyValue::new("http.response.status_code", 200).value, Value::I64(200));
    /// ```
    pub fn new(key: impl Into<Str>, value: impl Into<Value>) -> Self {
        KeyValue { key: key.into(), value: value.into() }
    }
}

/// Where an attribute goes in a list under the count limit: the rule [`upsert`] and [`bounded`]
/// share (OpenTelemetry's: a repeated key updates its slot, even at the limit; a new key past the
/// limit is dropped; an empty key is not a key, and is ignored, not counted).
enum Place {
    /// The key is held at this index: the new value replaces it.
    Replace(usize),
    /// A new key, under the limit.
    Append,
    /// A new key past the limit.
    Drop,
    /// An empty key.
    Invalid,
}

fn place(list: &[KeyValue], key: &Str, max_count: usize) -> Place {
    if key.is_empty() {
        return Place::Invalid;
    }
    match list.iter().position(|a| a.key == *key) {
        Some(i) => Place::Replace(i),
        None if list.len() < max_count => Place::Append,
        None => Place::Drop,
    }
}

/// Sets `kv` in `attrs`: replaces the value of an existing key, else appends when fewer than
/// `max_count` are held. Returns `false` when the attribute was dropped for the count limit.
pub(crate) fn upsert(attrs: &mut Vec<KeyValue>, mut kv: KeyValue, max_count: usize, max_len: Option<usize>) -> bool {
    if let Some(max) = max_len {
        kv.value.truncate(max);
    }
    match place(attrs, &kv.key, max_count) {
        Place::Replace(i) => attrs[i].value = kv.value,
        Place::Append => attrs.push(kv),
        Place::Drop => return false,
        Place::Invalid => {}
    }
    true
}

/// Builds a bounded attribute list from `items` by [`upsert`]'s rule (last value of a repeated
/// key wins, in the slot of its first appearance), returning the list and how many were
/// dropped. Works in place, in `items`' allocation.
///
/// The list is shrunk to fit, but for one spare slot: a queued span keeps this list, and the
/// page's pipeline adds `session.id` to it when the span ends (`web/session.rs`; the JS API's
/// pending attributes come with that slot, so the push does not reallocate).
pub(crate) fn bounded(mut items: Vec<KeyValue>, max_count: usize, max_len: Option<usize>) -> (Vec<KeyValue>, u32) {
    let mut kept = 0;
    let mut dropped = 0u32;
    // items[..kept] is the list so far; items[kept..i] are discarded entries, dropped at the end.
    for i in 0..items.len() {
        let (head, tail) = items.split_at_mut(i);
        let kv = &mut tail[0];
        if let Some(max) = max_len {
            kv.value.truncate(max);
        }
        match place(&head[..kept], &kv.key, max_count) {
            Place::Replace(j) => core::mem::swap(&mut head[j].value, &mut kv.value),
            Place::Append => {
                // kept <= i, and kept == i leaves the entry where it is.
                if let Some(free) = head.get_mut(kept) {
                    core::mem::swap(free, kv);
                }
                kept += 1;
            }
            Place::Drop => dropped += 1,
            Place::Invalid => {}
        }
    }
    items.truncate(kept);
    if items.capacity() > kept + 1 {
        items.shrink_to_fit();
    }
    (items, dropped)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncation_respects_char_boundaries() {
        let cases: &[(&str, usize, &str, &str)] = &[
            ("hello", 10, "hello", "shorter than the limit is unchanged"),
            ("hello", 3, "hel", "ascii cut"),
            ("héllo", 2, "h", "a two-byte char is not split"),
            ("日本", 4, "日", "a three-byte char is not split"),
            ("", 0, "", "empty"),
        ];
        for (input, max, want, why) in cases {
            let mut v = Value::String(Cow::Owned(input.to_string()));
            v.truncate(*max);
            assert_eq!(v, Value::String(Cow::Borrowed(*want)), "{why}");
        }
    }

    #[test]
    fn upsert_replaces_and_limits() {
        let mut a = Vec::new();
        assert!(upsert(&mut a, KeyValue::new("k", 1i64), 2, None));
        assert!(upsert(&mut a, KeyValue::new("k", 2i64), 2, None), "same key replaces");
        assert_eq!(a.len(), 1);
        assert_eq!(a[0].value, Value::I64(2));
        assert!(upsert(&mut a, KeyValue::new("j", true), 2, None));
        assert!(!upsert(&mut a, KeyValue::new("x", true), 2, None), "third key over the limit is dropped");
        assert!(upsert(&mut a, KeyValue::new("j", false), 2, None), "existing key still updates at the limit");
        let before = a.clone();
        assert!(upsert(&mut a, KeyValue::new("", 1i64), 9, None), "an empty key is ignored, not dropped");
        assert_eq!(a, before);
        let (list, dropped) =
            bounded(vec![KeyValue::new("a", "x"), KeyValue::new("b", "y"), KeyValue::new("c", "z")], 2, Some(0));
        assert_eq!((list.len(), dropped), (2, 1));
        assert_eq!(list[0].value, Value::String("".into()));
    }

    #[test]
    fn bounded_is_upsert_applied_in_order() {
        // bounded() works in place for speed; it must give exactly what upserting each item in
        // turn gives (the list and the number dropped), whatever the keys, limits and values.
        let keys = ["a", "b", "c", "d", "e", ""];
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        for _ in 0..20_000 {
            let len = next(9) as usize;
            let items: Vec<KeyValue> = (0..len)
                .map(|i| {
                    let key = keys[next(keys.len() as u64) as usize];
                    let value = if next(2) == 0 { Value::I64(i as i64) } else { Value::String("xyz".repeat(i).into()) };
                    KeyValue::new(key, value)
                })
                .collect();
            let max_count = next(6) as usize;
            let max_len = if next(2) == 0 { None } else { Some(next(7) as usize) };
            let mut want = Vec::new();
            let mut want_dropped = 0;
            for kv in items.clone() {
                if !upsert(&mut want, kv, max_count, max_len) {
                    want_dropped += 1;
                }
            }
            let (got, dropped) = bounded(items.clone(), max_count, max_len);
            assert_eq!(
                (&got, dropped),
                (&want, want_dropped),
                "items {items:?}, limit {max_count}, length {max_len:?}"
            );
        }
    }

    #[test]
    fn bounded_keeps_first_slots_last_values_and_counts_drops() {
        let kv = |k: &'static str, v: i64| KeyValue::new(k, v);
        let (list, dropped) =
            bounded(vec![kv("a", 1), kv("b", 2), kv("a", 3), kv("c", 4), kv("b", 5), kv("d", 6)], 3, None);
        let got: Vec<(&str, Value)> = list.iter().map(|k| (&*k.key, k.value.clone())).collect();
        assert_eq!(got, [("a", Value::I64(3)), ("b", Value::I64(5)), ("c", Value::I64(4))], "first slot, last value");
        assert_eq!(dropped, 1, "only d is over the limit: a repeated key updates even at the limit");
        let (list, dropped) = bounded(vec![kv("a", 1), kv("b", 2), kv("c", 3)], 0, None);
        assert_eq!((list.len(), dropped), (0, 3));
        let (list, dropped) = bounded(Vec::new(), 4, Some(1));
        assert_eq!((list.len(), dropped), (0, 0));
        let mut roomy = Vec::with_capacity(64);
        roomy.extend([kv("a", 1), kv("b", 2), kv("a", 3)]);
        let (list, _) = bounded(roomy, 8, None);
        assert!(list.len() == 2 && list.capacity() <= 3, "shrunk to its size and one spare slot (session.id)");
    }
}
