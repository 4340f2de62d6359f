//! Freeing large values off the loop thread.
//!
//! Dropping a table of millions of entries takes hundreds of milliseconds,
//! which would stall every client of the single-threaded loop. Such values
//! are sent over a channel to one helper thread that only drops them; it
//! shares no state with the data store beyond taking ownership of what it is
//! sent. Without the helper (unit tests, benches) values are dropped in
//! place.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Sender, channel};

/// A value to drop, and the bytes it was counted as freeing when it was
/// handed over (0 when nobody counted).
type Garbage = (Box<dyn Send>, u64);

static SENDER: OnceLock<Sender<Garbage>> = OnceLock::new();
static PENDING: AtomicU64 = AtomicU64::new(0);
static FREED: AtomicU64 = AtomicU64::new(0);
/// Bytes eviction counted as freed that the thread has yet to free.
static PENDING_BYTES: AtomicU64 = AtomicU64::new(0);

/// Starts the helper thread. Called once by the server at startup.
pub fn start() {
    let (tx, rx) = channel::<Garbage>();
    if SENDER.set(tx).is_err() {
        return;
    }
    let spawned = std::thread::Builder::new()
        .name("lazyfree".into())
        .spawn(move || {
            for (garbage, bytes) in rx {
                drop(garbage);
                PENDING_BYTES.fetch_sub(bytes, Ordering::Relaxed);
                PENDING.fetch_sub(1, Ordering::Relaxed);
                FREED.fetch_add(1, Ordering::Relaxed);
                // What this thread freed is returned to the OS only by
                // this thread: do it once the queue is empty.
                if PENDING.load(Ordering::Relaxed) == 0 {
                    crate::alloc::collect_this_thread();
                }
            }
        });
    if let Err(e) = spawned {
        log::warn!("could not start the lazyfree thread, freeing inline: {e}");
    }
}

/// Drops `value` on the helper thread if there is one.
pub fn drop_later<T: Send + 'static>(value: T) {
    drop_later_sized(value, 0);
}

/// Drops `value` on the helper thread if there is one, counting `bytes`
/// as on their way to being freed until it is (see [`pending_bytes`]).
pub fn drop_later_sized<T: Send + 'static>(value: T, bytes: u64) {
    if let Some(tx) = SENDER.get() {
        PENDING.fetch_add(1, Ordering::Relaxed);
        PENDING_BYTES.fetch_add(bytes, Ordering::Relaxed);
        if let Err(returned) = tx.send((Box::new(value), bytes)) {
            PENDING.fetch_sub(1, Ordering::Relaxed);
            PENDING_BYTES.fetch_sub(bytes, Ordering::Relaxed);
            drop(returned);
        }
    }
}

/// Bytes handed to the thread by eviction and not yet freed: eviction
/// leaves them out of the memory it compares with `maxmemory`, so that it
/// does not evict more keys for memory already on its way out.
pub fn pending_bytes() -> u64 {
    PENDING_BYTES.load(Ordering::Relaxed)
}

/// Objects waiting to be freed (INFO's `lazyfree_pending_objects`).
pub fn pending_objects() -> u64 {
    PENDING.load(Ordering::Relaxed)
}

/// Objects freed so far (INFO's `lazyfreed_objects`).
pub fn freed_objects() -> u64 {
    FREED.load(Ordering::Relaxed)
}
