//! An allocation meter: a global allocator over `System` that counts, per
//! thread, the bytes currently allocated and the most allocated at once.
//!
//! The counts are per thread so that the other tests of this crate, which
//! libtest runs on other threads at the same time, do not disturb a
//! measurement. They are `const`-initialized `Cell`s without destructors, so
//! reading them inside the allocator never allocates and never registers a
//! thread-local destructor. Memory freed on another thread than the one that
//! allocated it moves the counts of the freeing thread; that is why they are
//! signed, and it does not happen inside the parser.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

/// The counting allocator; `tests/parser_fuzz.rs` installs it.
pub struct CountingSystem;

thread_local! {
    /// Bytes allocated and not yet freed by this thread, as requested (not
    /// rounded up by the allocator).
    static CURRENT_BYTES: Cell<isize> = const { Cell::new(0) };
    /// The highest `CURRENT_BYTES` since the last reset.
    static PEAK_BYTES: Cell<isize> = const { Cell::new(0) };
}

fn note(delta: isize) {
    // `try_with` cannot fail for these locals (no destructor, so nothing is
    // ever torn down), but an allocator must never panic, so failures are
    // ignored rather than unwrapped.
    let _ = CURRENT_BYTES.try_with(|current| {
        let now = current.get().wrapping_add(delta);
        current.set(now);
        let _ = PEAK_BYTES.try_with(|peak| {
            if now > peak.get() {
                peak.set(now);
            }
        });
    });
}

// SAFETY: every call is forwarded to `System` unchanged; only the
// thread-local counters are updated around it.
unsafe impl GlobalAlloc for CountingSystem {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded with the caller's layout.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            note(layout.size() as isize);
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded with the caller's layout.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            note(layout.size() as isize);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded; `ptr` came from this allocator with `layout`.
        unsafe { System.dealloc(ptr, layout) };
        note(-(layout.size() as isize));
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded; the caller upholds `realloc`'s contract.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        // A reallocation counts as its change in size: the old and the new
        // block are both live only inside the system allocator, if at all.
        if !p.is_null() {
            note(new_size as isize - layout.size() as isize);
        }
        p
    }
}

/// Runs `f` and returns its result with the most it had allocated at once,
/// on this thread, beyond what was allocated when it started.
pub fn peak_extra<R>(f: impl FnOnce() -> R) -> (R, usize) {
    let start = CURRENT_BYTES.with(Cell::get);
    PEAK_BYTES.with(|peak| peak.set(start));
    let result = f();
    let peak = PEAK_BYTES.with(Cell::get);
    (result, peak.saturating_sub(start).max(0) as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meter_sees_what_is_allocated_inside_and_not_before() {
        let before = vec![0u8; 1 << 20];
        let (kept, extra) = peak_extra(|| vec![1u8; 3000]);
        assert!((3000..3000 + 1024).contains(&extra), "{extra}");
        // Freed memory still counts toward the peak.
        let ((), extra) = peak_extra(|| drop(vec![1u8; 5000]));
        assert!((5000..5000 + 1024).contains(&extra), "{extra}");
        let ((), extra) = peak_extra(|| {});
        assert_eq!(extra, 0);
        drop((before, kept));
    }
}
