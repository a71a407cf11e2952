//! A global allocator for the tests that measure memory: [`Counting`]
//! forwards every call to the system allocator and counts what the current
//! thread allocates, which [`measure`] reads around a closure. A
//! `#[global_allocator]` is declared per test binary, so each one that
//! uses this module declares it:
//!
//! ```text
//! mod alloc_count;
//!
//! #[global_allocator]
//! static ALLOCATOR: alloc_count::Counting = alloc_count::Counting;
//! ```

#![allow(dead_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::time::{Duration, Instant};

/// Counts the bytes the current thread allocates: live, the most live
/// since the last [`measure`], the total, and the largest single
/// allocation.
pub struct Counting;

thread_local! {
    static LIVE: Cell<isize> = const { Cell::new(0) };
    static PEAK: Cell<isize> = const { Cell::new(0) };
    static TOTAL: Cell<usize> = const { Cell::new(0) };
    static LARGEST: Cell<usize> = const { Cell::new(0) };
}

/// Notes `n` more bytes live (fewer when negative), of which `size` were
/// allocated in one piece.
fn grow(n: isize, size: usize) {
    let _ = LIVE.try_with(|l| {
        l.set(l.get() + n);
        let _ = PEAK.try_with(|p| p.set(p.get().max(l.get())));
    });
    if n > 0 {
        let _ = TOTAL.try_with(|t| t.set(t.get() + n as usize));
    }
    let _ = LARGEST.try_with(|m| m.set(m.get().max(size)));
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        grow(layout.size() as isize, layout.size());
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        grow(-(layout.size() as isize), 0);
        // SAFETY: `ptr` came from `System.alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        grow(new_size as isize - layout.size() as isize, new_size);
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// What a closure cost, as [`measure`] saw it on the current thread.
#[derive(Debug, Clone, Copy)]
pub struct Usage {
    /// The time it took.
    pub took: Duration,
    /// The most memory it held at once, beyond what was live before.
    pub peak: usize,
    /// The bytes it allocated in all.
    pub total: usize,
    /// Its largest single allocation (or reallocation), in bytes.
    pub largest: usize,
}

/// Runs `f`; returns its result and what it cost.
pub fn measure<R>(f: impl FnOnce() -> R) -> (R, Usage) {
    let base = LIVE.with(Cell::get);
    PEAK.with(|p| p.set(base));
    LARGEST.with(|m| m.set(0));
    let total = TOTAL.with(Cell::get);
    let started = Instant::now();
    let r = f();
    let took = started.elapsed();
    let usage = Usage {
        took,
        peak: (PEAK.with(Cell::get) - base).max(0) as usize,
        total: TOTAL.with(Cell::get) - total,
        largest: LARGEST.with(Cell::get),
    };
    (r, usage)
}
