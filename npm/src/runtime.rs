//! The lean build's runtime: a panic handler that aborts and a small allocator.
//!
//! std's panic handler formats its message (`core::fmt`, panic locations) even where nothing
//! can print it; here a panic is a wasm `unreachable` trap, which wasm-bindgen's glue reports as
//! a `RuntimeError` to the JavaScript that called in (the instance is then unusable, so the
//! Rust code avoids every panic path it can). The allocator is size-class free lists over `memory.grow`: a few hundred bytes of
//! wasm instead of dlmalloc's ~7 KB; blocks are never returned to the system, and a freed block is
//! reused by the next allocation of its class.

use core::alloc::{GlobalAlloc, Layout};
use core::cell::UnsafeCell;

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    core::arch::wasm32::unreachable()
}

/// Size classes: 16, 24, 32, 48, 64, 96, … (powers of two and the halfway 1.5× steps, so a block
/// wastes at most a third of itself), up to 2 GiB.
const CLASSES: usize = 56;
const MIN_SHIFT: u32 = 4;
const PAGE: usize = 65536;

struct Heap {
    free: [usize; CLASSES],
    /// Bump region: next free byte and its end.
    next: usize,
    end: usize,
}

struct Allocator(UnsafeCell<Heap>);

// SAFETY: one thread (wasm32 without atomics).
unsafe impl Sync for Allocator {}

#[global_allocator]
static ALLOCATOR: Allocator = Allocator(UnsafeCell::new(Heap { free: [0; CLASSES], next: 0, end: 0 }));

/// The class for a layout: even classes are 16 << (class / 2) bytes, odd ones 1.5 times the
/// even class below. An alignment above 8 takes a power-of-two class (aligned to its size).
#[inline]
fn class_of(layout: &Layout) -> usize {
    let size = layout.size().max(layout.align()).max(1 << MIN_SHIFT);
    let k = (usize::BITS - (size - 1).leading_zeros() - MIN_SHIFT) as usize; // 16 << k >= size
    if k > 0 && layout.align() <= 8 && size <= 3 << (k as u32 + MIN_SHIFT - 2) { 2 * k - 1 } else { 2 * k }
}

/// A class's block size.
#[inline]
fn size_of_class(class: usize) -> usize {
    let k = (class as u32).div_ceil(2);
    if class % 2 == 1 { 3 << (k + MIN_SHIFT - 2) } else { 1 << (k + MIN_SHIFT) }
}

unsafe impl GlobalAlloc for Allocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let class = class_of(&layout);
        // Blocks are aligned to at most a page: a larger alignment is refused, not ignored.
        if class >= CLASSES || layout.align() > PAGE {
            return core::ptr::null_mut();
        }
        // SAFETY: single-threaded, and no reference to the heap outlives this call.
        let heap = unsafe { &mut *self.0.get() };
        let head = heap.free[class];
        if head != 0 {
            // SAFETY: a free block's first word holds the next free block of its class.
            heap.free[class] = unsafe { *(head as *const usize) };
            return head as *mut u8;
        }
        let size = size_of_class(class);
        // Blocks are aligned to the largest power of two dividing their size (up to a page),
        // which covers any alignment their class takes.
        let align = (1usize << size.trailing_zeros()).min(PAGE);
        let start = (heap.next + align - 1) & !(align - 1);
        if start + size > heap.end || heap.next == 0 {
            let pages = size.div_ceil(PAGE) + 1;
            let grown = core::arch::wasm32::memory_grow(0, pages);
            if grown == usize::MAX {
                return core::ptr::null_mut();
            }
            let base = grown * PAGE;
            if heap.next == 0 || base != heap.end {
                heap.next = base;
            }
            heap.end = base + pages * PAGE;
            return unsafe { self.alloc(layout) };
        }
        heap.next = start + size;
        start as *mut u8
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        let class = class_of(&layout);
        // SAFETY: see `alloc`; `ptr` came from `alloc` with this layout, so it is a block of `class`.
        let heap = unsafe { &mut *self.0.get() };
        unsafe { *(ptr as *mut usize) = heap.free[class] };
        heap.free[class] = ptr as usize;
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller's layout is valid; only the size changes.
        let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        if class_of(&new_layout) == class_of(&layout) {
            return ptr;
        }
        let new = unsafe { self.alloc(new_layout) };
        if !new.is_null() {
            unsafe {
                core::ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size));
                self.dealloc(ptr, layout);
            }
        }
        new
    }
}
