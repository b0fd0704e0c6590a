//! Span handles for the JavaScript API.
//!
//! JavaScript holds a span as a small object with a numeric handle and the span's ids; the span
//! itself lives here, in a slab, until it ends. This avoids a FinalizationRegistry entry per span
//! (wasm-bindgen classes register every instance, and that was the largest per-span cost), and
//! the ids live on in JavaScript, so `spanContext()` and `{ parent: span }` work after `end()`.
//!
//! A span that JavaScript drops without ending is never exported (as in OpenTelemetry JS); the
//! slab keeps at most [`MAX_LIVE`] unended spans and discards the oldest beyond that.

#[allow(unused_imports)]
use crate::prelude::*;

use crate::span::Span;
use alloc::collections::VecDeque;
use core::cell::RefCell;

/// Unended spans kept at most.
pub const MAX_LIVE: usize = 16 * 1024;

const INDEX_BITS: u32 = 24;
const INDEX_MASK: u64 = (1 << INDEX_BITS) - 1;
const GEN_MASK: u64 = (1 << 29) - 1;

struct Slot {
    generation: u32,
    span: Option<Span>,
}

#[derive(Default)]
struct Slab {
    slots: Vec<Slot>,
    free: Vec<u32>,
    live: usize,
    /// Handles in creation order, for evicting the oldest unended span (stale entries skipped).
    order: VecDeque<u64>,
    /// Unended spans discarded for the bound (warned about once).
    evicted: u64,
}

local! {
    static SLAB: RefCell<Slab> = RefCell::new(Slab { slots: Vec::new(), free: Vec::new(), live: 0, order: VecDeque::new(), evicted: 0 });
}

fn pack(index: u32, generation: u32) -> u64 {
    ((generation as u64 & GEN_MASK) << INDEX_BITS) | index as u64
}

fn unpack(handle: f64) -> Option<(usize, u32)> {
    if !(0.0..9_007_199_254_740_992.0).contains(&handle) {
        return None;
    }
    let h = handle as u64;
    Some(((h & INDEX_MASK) as usize, ((h >> INDEX_BITS) & GEN_MASK) as u32))
}

/// Stores a span and returns its handle (a safe integer, exact in a JS number).
pub fn insert(span: Span) -> f64 {
    let evict = SLAB.with(|s| {
        let mut s = s.borrow_mut();
        let index = match s.free.pop() {
            Some(i) => i,
            None => {
                s.slots.push(Slot { generation: 0, span: None });
                (s.slots.len() - 1) as u32
            }
        };
        let slot = &mut s.slots[index as usize];
        slot.generation = slot.generation.wrapping_add(1) & GEN_MASK as u32;
        slot.span = Some(span);
        let h = pack(index, slot.generation);
        s.live += 1;
        s.order.push_back(h);
        let mut evicted = Vec::new();
        while s.live > MAX_LIVE {
            let Some(old) = s.order.pop_front() else { break };
            if let Some(span) = take_in(&mut s, old as f64) {
                s.evicted += 1;
                evicted.push(span);
            }
        }
        if s.order.len() > 2 * MAX_LIVE.max(s.live) {
            let Slab { slots, order, .. } = &mut *s;
            order.retain(|h| {
                let (i, g) = ((*h & INDEX_MASK) as usize, ((*h >> INDEX_BITS) & GEN_MASK) as u32);
                slots.get(i).is_some_and(|sl| sl.generation == g && sl.span.is_some())
            });
        }
        (h as f64, evicted)
    });
    let (h, evicted) = evict;
    if !evicted.is_empty() && SLAB.with(|s| s.borrow().evicted) == evicted.len() as u64 {
        super::platform::warn(
            "more than 16384 spans were started and never ended; the oldest are discarded (call span.end())",
        );
    }
    for mut span in evicted {
        span.discard();
    }
    h
}

/// The slot `handle` names, if it is still that handle's (not reused by a newer span).
fn slot_of(s: &mut Slab, handle: f64) -> Option<(usize, &mut Slot)> {
    let (i, g) = unpack(handle)?;
    s.slots.get_mut(i).filter(|slot| slot.generation == g).map(|slot| (i, slot))
}

fn take_in(s: &mut Slab, handle: f64) -> Option<Span> {
    let (i, slot) = slot_of(s, handle)?;
    let span = slot.span.take()?;
    s.free.push(i as u32);
    s.live -= 1;
    Some(span)
}

/// Removes a span (to end it). `None` for an unknown, stale or already removed handle.
pub fn take(handle: f64) -> Option<Span> {
    SLAB.with(|s| take_in(&mut s.borrow_mut(), handle))
}

/// Runs `f` on a live span. Returns `None` (and does nothing) for a stale handle.
///
/// The span is taken out while `f` runs, so `f` may call back into JavaScript safely.
#[inline]
pub fn with<R>(handle: f64, f: impl FnOnce(&mut Span) -> R) -> Option<R> {
    let (i, g, mut span) = take_live(handle)?;
    let r = f(&mut span);
    put_back(i, g, span);
    Some(r)
}

/// Runs `f` on a live span where it sits, for `f` that never calls into JavaScript (setting an
/// attribute): no move out and back, as [`with`] does. `None` for a stale handle.
#[inline]
pub fn with_in_place<R>(handle: f64, f: impl FnOnce(&mut Span) -> R) -> Option<R> {
    SLAB.with(|s| slot_of(&mut s.borrow_mut(), handle)?.1.span.as_mut().map(f))
}

/// The handle of the live span with `span_id` (the current span, found from its context).
pub fn find(span_id: crate::ids::SpanId) -> Option<f64> {
    SLAB.with(|s| {
        let s = s.borrow();
        s.slots.iter().enumerate().find_map(|(i, slot)| {
            let span = slot.span.as_ref()?;
            (span.span_context().span_id == span_id).then(|| pack(i as u32, slot.generation) as f64)
        })
    })
}

/// The slab half of [`with`], kept out of line so each export does not carry a copy of it.
#[inline(never)]
fn take_live(handle: f64) -> Option<(usize, u32, Span)> {
    SLAB.with(|s| {
        let mut s = s.borrow_mut();
        let (i, slot) = slot_of(&mut s, handle)?;
        let g = slot.generation;
        slot.span.take().map(|span| (i, g, span))
    })
}

#[inline(never)]
fn put_back(i: usize, g: u32, span: Span) {
    let stale = SLAB.with(|s| {
        let mut s = s.borrow_mut();
        match s.slots.get_mut(i) {
            Some(slot) if slot.generation == g && slot.span.is_none() => {
                slot.span = Some(span);
                None
            }
            _ => Some(span),
        }
    });
    if let Some(mut span) = stale {
        span.discard();
    }
}
