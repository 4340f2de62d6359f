//! Memory and CPU accounting for INFO: a counting wrapper around the system
//! allocator, plus RSS and CPU time from the OS.
//!
//! The binary installs [`CountingAlloc`] as the global allocator; the count is
//! a relaxed atomic add per allocation, which is cheap next to the allocation
//! itself. Where it is not installed (unit tests) the figures read zero.

use std::alloc::{GlobalAlloc, Layout};

use mimalloc::MiMalloc as Backend;
use std::sync::atomic::{AtomicUsize, Ordering};

static ALLOCATED: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

pub struct CountingAlloc;

/// The alignment `mi_malloc` gives every block: mimalloc's
/// `MI_MAX_ALIGN_SIZE`, which the build sets to 8 (`.cargo/config.toml`)
/// so that size classes below 64 bytes step by 8. Allocations that need
/// no more go to `mi_malloc` and its exact size classes; the `mimalloc`
/// crate would pass every one through `mi_malloc_aligned`, which gives a
/// block whose size is not a power of two only when a page of them has
/// one free, and otherwise over-allocates from a bigger class.
const MALLOC_ALIGN: usize = 8;

// SAFETY: every call is forwarded to mimalloc with the caller's size, and
// an alignment mimalloc honours (see `MALLOC_ALIGN`); only counters are
// added around it.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded with the caller's layout.
        let p = unsafe {
            if layout.align() <= MALLOC_ALIGN {
                mi_malloc(layout.size())
            } else {
                Backend.alloc(layout)
            }
        };
        if !p.is_null() {
            note_alloc(layout.size());
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded with the caller's layout.
        let p = unsafe {
            if layout.align() <= MALLOC_ALIGN {
                mi_zalloc(layout.size())
            } else {
                Backend.alloc_zeroed(layout)
            }
        };
        if !p.is_null() {
            note_alloc(layout.size());
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded; `ptr` came from this allocator with `layout`.
        unsafe { Backend.dealloc(ptr, layout) };
        ALLOCATED.fetch_sub(layout.size(), Ordering::Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded; the caller upholds `realloc`'s contract, and
        // the block came from the same entry point for this alignment.
        let p = unsafe {
            if layout.align() <= MALLOC_ALIGN {
                mi_realloc(ptr, new_size)
            } else {
                Backend.realloc(ptr, layout, new_size)
            }
        };
        if !p.is_null() {
            ALLOCATED.fetch_sub(layout.size(), Ordering::Relaxed);
            note_alloc(new_size);
        }
        p
    }
}

unsafe extern "C" {
    fn mi_malloc(size: usize) -> *mut u8;
    fn mi_zalloc(size: usize) -> *mut u8;
    fn mi_realloc(p: *mut u8, new_size: usize) -> *mut u8;

    /// mimalloc's `mi_collect`: frees the calling thread's deferred memory
    /// and returns free memory to the OS now (`force`), instead of when the
    /// thread next allocates. Linked in by the `mimalloc` crate.
    fn mi_collect(force: bool);

    fn mi_version() -> i32;
    fn mi_stats_print_out(
        out: unsafe extern "C" fn(msg: *const libc::c_char, arg: *mut libc::c_void),
        arg: *mut libc::c_void,
    );
}

/// What was allocated once the server was set up, before any data was
/// loaded (Redis's `initial_memory_usage`, MEMORY STATS'
/// `startup.allocated`).
static STARTUP: AtomicUsize = AtomicUsize::new(0);

/// Remembers the memory allocated now as the start-up figure.
pub fn mark_startup() {
    STARTUP.store(ALLOCATED.load(Ordering::Relaxed), Ordering::Relaxed);
}

pub fn startup_bytes() -> u64 {
    STARTUP.load(Ordering::Relaxed) as u64
}

/// The allocator's name and version as INFO's `mem_allocator` gives it
/// (Redis says `jemalloc-5.3.0` or `libc`): `mimalloc-3.3.2`.
pub fn allocator_name() -> String {
    // SAFETY: `mi_version` takes nothing and returns a constant.
    let v = unsafe { mi_version() };
    format!("mimalloc-{}.{}.{}", v / 10000, v / 100 % 100, v % 100)
}

/// mimalloc's own statistics report (`mi_stats_print_out`), for MEMORY
/// MALLOC-STATS, framed as Redis frames jemalloc's. A release build of
/// mimalloc keeps only its essential counters (arenas, committed and
/// reserved memory, pages, the process's figures); the per-size-class
/// ones read zero.
pub fn allocator_stats_text() -> String {
    unsafe extern "C" fn append(msg: *const libc::c_char, arg: *mut libc::c_void) {
        if msg.is_null() || arg.is_null() {
            return;
        }
        // SAFETY: `arg` is the `String` passed below, alive for the whole
        // call and touched by nothing else meanwhile; `msg` is a
        // NUL-terminated line from mimalloc.
        let (text, msg) = unsafe { (&mut *(arg as *mut String), std::ffi::CStr::from_ptr(msg)) };
        text.push_str(&msg.to_string_lossy());
    }
    let mut text = format!(
        "___ Begin mimalloc statistics ___\nVersion: \"{}\"\n",
        allocator_name()
    );
    // SAFETY: mimalloc copies its counters first and then calls `append`
    // with each line, synchronously, before returning; `text` outlives the
    // call. Allocating inside the callback is allowed (no allocator lock
    // is held while it prints).
    unsafe { mi_stats_print_out(append, &mut text as *mut String as *mut libc::c_void) };
    text.push_str("--- End mimalloc statistics ---\n");
    text
}

/// Bytes freed since the last [`return_free_memory`] past which the loop's
/// cron gives memory back (a big value deleted, a big buffer written out).
const RETURN_AFTER_FREED_BYTES: usize = 16 * 1024 * 1024;

static COLLECTED_AT: AtomicUsize = AtomicUsize::new(0);

/// Gives free memory back to the OS from the calling thread. mimalloc
/// returns freed pages only when the thread that owns them next allocates;
/// an idle server would keep the memory of a big value long after DEL.
pub fn return_free_memory() {
    collect_this_thread();
    COLLECTED_AT.store(ALLOCATED.load(Ordering::Relaxed), Ordering::Relaxed);
}

/// Returns what the calling thread freed to the OS, without moving the
/// loop's mark: memory another thread freed on the loop's behalf (the
/// lazy-free helper) still belongs to the loop's heap, which the loop's
/// own collection gives back.
pub fn collect_this_thread() {
    // SAFETY: `mi_collect` takes no pointers and may be called from any
    // thread at any time.
    unsafe { mi_collect(true) };
}

/// Whether enough has been freed since the last collection to be worth
/// one (see [`return_free_memory`]); cheap, for the cron to ask often.
pub fn much_freed() -> bool {
    let now = ALLOCATED.load(Ordering::Relaxed);
    let at = COLLECTED_AT.load(Ordering::Relaxed);
    if now > at {
        // Growing: move the mark up so a later drop is measured from the
        // high-water mark.
        COLLECTED_AT.store(now, Ordering::Relaxed);
        return false;
    }
    at - now > RETURN_AFTER_FREED_BYTES
}

fn note_alloc(size: usize) {
    let now = ALLOCATED.fetch_add(size, Ordering::Relaxed) + size;
    if now > PEAK.load(Ordering::Relaxed) {
        PEAK.store(now, Ordering::Relaxed);
    }
}

/// Counts memory mapped outside the allocator (a big argument's body, see
/// `bigarg`), so `used_memory` includes it.
pub fn note_mapped(size: usize) {
    note_alloc(size);
}

pub fn note_unmapped(size: usize) {
    ALLOCATED.fetch_sub(size, Ordering::Relaxed);
}

/// Bytes currently allocated through the global allocator.
pub fn allocated_bytes() -> u64 {
    ALLOCATED.load(Ordering::Relaxed) as u64
}

pub fn peak_bytes() -> u64 {
    PEAK.load(Ordering::Relaxed) as u64
}

/// Resident set size from /proc/self/statm.
pub fn resident_bytes() -> u64 {
    let page = 4096;
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| {
            s.split_whitespace()
                .nth(1)
                .and_then(|v| v.parse::<u64>().ok())
        })
        .map(|pages| pages * page)
        .unwrap_or(0)
}

/// Total RAM from /proc/meminfo.
pub fn total_system_memory() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| {
                    l.split_whitespace()
                        .nth(1)
                        .and_then(|v| v.parse::<u64>().ok())
                })
        })
        .map(|kb| kb * 1024)
        .unwrap_or(0)
}

/// (system, user) CPU seconds used by this process.
pub fn cpu_times() -> (f64, f64) {
    // SAFETY: getrusage writes into the zeroed struct we pass it.
    let usage = unsafe {
        let mut u: libc::rusage = std::mem::zeroed();
        if libc::getrusage(libc::RUSAGE_SELF, &mut u) != 0 {
            return (0.0, 0.0);
        }
        u
    };
    let secs = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 / 1e6;
    (secs(usage.ru_stime), secs(usage.ru_utime))
}

/// Only an optimized build shows the size classes: without `NDEBUG`
/// mimalloc pads every block for its debug checks.
#[cfg(all(test, not(debug_assertions)))]
mod tests {
    use super::*;

    unsafe extern "C" {
        fn mi_usable_size(p: *const u8) -> usize;
    }

    /// The build gives mimalloc 8-byte size classes below 64 bytes
    /// (`.cargo/config.toml`): a small key's 56-byte node must not take 64.
    #[test]
    fn small_size_classes_step_by_eight_bytes() {
        // Many at once, so fresh pages are taken as well as free blocks.
        for (size, class) in [(24, 24), (34, 40), (56, 56), (60, 64)] {
            let layout = Layout::from_size_align(size, 8).expect("a valid layout");
            let blocks: Vec<*mut u8> = (0..10_000)
                // SAFETY: a non-zero layout; the blocks are freed below.
                .map(|_| unsafe { CountingAlloc.alloc(layout) })
                .collect();
            for &p in &blocks {
                assert!(!p.is_null() && (p as usize).is_multiple_of(8));
                // SAFETY: a live block from mimalloc.
                assert_eq!(unsafe { mi_usable_size(p) }, class, "{size}");
            }
            for p in blocks {
                // SAFETY: allocated above with `layout`.
                unsafe { CountingAlloc.dealloc(p, layout) };
            }
        }
        // A stricter alignment is still honoured.
        let layout = Layout::from_size_align(24, 16).expect("a valid layout");
        for _ in 0..1000 {
            // SAFETY: as above.
            unsafe {
                let p = CountingAlloc.alloc(layout);
                assert_eq!(p as usize % 16, 0);
                let p = CountingAlloc.realloc(p, layout, 40);
                assert_eq!(p as usize % 16, 0);
                CountingAlloc.dealloc(p, Layout::from_size_align(40, 16).expect("valid"));
            }
        }
    }
}
