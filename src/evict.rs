//! maxmemory: deleting keys to stay under a memory limit, as Redis's
//! evict.c does it.
//!
//! Before every command (once authentication and ACLs let it through) the
//! loop asks [`Evictor::perform`] to bring the memory used, less what Redis
//! does not count (the AOF buffer), under `maxmemory`. The LRU, LFU and TTL
//! policies approximate "the best key of all" the way Redis does: each
//! round samples `maxmemory-samples` keys of every database into a pool of
//! the sixteen best candidates seen so far, and evicts the best one still
//! there; the random policies take any key. A round is bounded by
//! `maxmemory-eviction-tenacity`'s time limit; what is left is picked up
//! on the next loop iterations ([`Evictor::running`]), so one command never
//! holds the loop long.
//!
//! An evicted key goes through the database's event log like an expired
//! one: the `evicted` keyspace event, the DEL propagated, WATCH and
//! tracking told, INFO's `evicted_keys`.

use std::time::Instant;

use crate::db::{Db, idle_seconds, lfu_counter};
use crate::latency_monitor::Monitor;

/// `maxmemory-policy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    NoEviction,
    AllKeysLru,
    AllKeysLfu,
    AllKeysRandom,
    VolatileLru,
    VolatileLfu,
    VolatileRandom,
    VolatileTtl,
}

impl Policy {
    pub fn from_name(name: &str) -> Policy {
        match name {
            "allkeys-lru" => Policy::AllKeysLru,
            "allkeys-lfu" => Policy::AllKeysLfu,
            "allkeys-random" => Policy::AllKeysRandom,
            "volatile-lru" => Policy::VolatileLru,
            "volatile-lfu" => Policy::VolatileLfu,
            "volatile-random" => Policy::VolatileRandom,
            "volatile-ttl" => Policy::VolatileTtl,
            _ => Policy::NoEviction,
        }
    }

    /// Whether only keys with a TTL may go.
    fn volatile(self) -> bool {
        matches!(
            self,
            Policy::VolatileLru
                | Policy::VolatileLfu
                | Policy::VolatileRandom
                | Policy::VolatileTtl
        )
    }
}

/// Redis's `EVPOOL_SIZE`.
const POOL_SIZE: usize = 16;

/// Key buffers kept for reuse are at most this big (Redis's pool keeps
/// keys up to 255 bytes in buffers of its own).
const MAX_KEPT_KEY: usize = 255;

/// Redis checks the clock and the real memory figure every this many keys.
const CHECK_EVERY_KEYS: u64 = 16;

/// A key the pool holds, with its score: the higher, the better to evict.
struct Candidate {
    score: u64,
    db: usize,
    key: Vec<u8>,
}

/// What one attempt to get under the limit came to (Redis's EVICT_OK,
/// EVICT_RUNNING, EVICT_FAIL).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Under the limit (or no limit).
    Ok,
    /// Still over, but eviction goes on in the next iterations.
    Running,
    /// Over the limit with nothing left to evict: `denyoom` commands are
    /// refused.
    Fail,
}

/// The eviction settings, taken from the config (see `Store::apply_config`).
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    pub maxmemory: u64,
    pub policy: Policy,
    pub samples: usize,
    /// `maxmemory-eviction-tenacity`, 0..=100.
    pub tenacity: u32,
    pub lfu_decay_minutes: u32,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            maxmemory: 0,
            policy: Policy::NoEviction,
            samples: 5,
            tenacity: 10,
            lfu_decay_minutes: 1,
        }
    }
}

impl Settings {
    /// How long one attempt may evict (Redis's evictionTimeLimitUs): up
    /// to 500 µs linearly to tenacity 10, then 15% more per step, and no
    /// limit at 100.
    fn time_limit_us(&self) -> u64 {
        match self.tenacity {
            t @ 0..=10 => 50 * t as u64,
            t @ 11..=99 => (500.0 * 1.15f64.powi(t as i32 - 10)) as u64,
            _ => u64::MAX,
        }
    }
}

#[derive(Default)]
pub struct Evictor {
    pub settings: Settings,
    /// Whether memory stayed over the limit when the running command was
    /// admitted (Redis's pre_command_oom_state): a script may not start
    /// writing then.
    pub oom_at_admit: bool,
    /// Sorted by score, the best candidate last.
    pool: Vec<Candidate>,
    /// Key buffers of candidates that left the pool, for reuse.
    spare: Vec<Vec<u8>>,
    /// The database the random policies try next.
    next_db: usize,
    /// Eviction stopped at its time limit while still over: the loop goes
    /// on with it (Redis's evictionTimeProc).
    pub running: bool,
    /// Since when the memory has been over the limit (INFO's
    /// `current_eviction_exceeded_time`), and the total of past spells.
    pub exceeded_since: Option<Instant>,
    pub total_exceeded_us: u64,
}

/// Memory used as eviction counts it, and what it leaves out.
pub struct Usage {
    pub counted: u64,
    pub not_counted: u64,
}

/// The memory figure eviction compares with `maxmemory`: what is allocated
/// less the AOF buffer (Redis's freeMemoryGetNotCountedMemory) and less
/// what the lazy-free thread has been handed and not yet freed (it is
/// counted as used until it is freed, but evicting more keys for it would
/// only free memory twice).
pub fn usage(aof_buffer: usize) -> Usage {
    let allocated = crate::alloc::allocated_bytes();
    let not_counted = aof_buffer as u64;
    let counted = allocated
        .saturating_sub(not_counted)
        .saturating_sub(crate::lazyfree::pending_bytes());
    Usage {
        counted,
        not_counted,
    }
}

/// How far under `maxmemory` eviction brings the memory used: Redis stops
/// at the limit itself, and the command that follows (INFO's own report
/// included) is then already over it by what it allocates. Evicting a
/// little further, and starting as soon as the memory used comes within
/// this of the limit, keeps `used_memory` at or under it as every command
/// sees it; `-OOM` still waits for the limit itself.
fn headroom(maxmemory: u64) -> u64 {
    (maxmemory / 1024).min(HEADROOM_BYTES)
}

const HEADROOM_BYTES: u64 = 8 * 1024;

impl Evictor {
    /// Evicts keys until the memory used is under `maxmemory` or this
    /// attempt's time is up (Redis's performEvictions). `aof_buffer` is
    /// what the AOF buffer holds.
    /// `latency` gets the `eviction-cycle` and `eviction-del` events.
    pub fn perform(
        &mut self,
        dbs: &mut [Db],
        aof_buffer: usize,
        now_ms: u64,
        latency: &mut Monitor,
    ) -> Outcome {
        let s = self.settings;
        let outcome = self.evict_until_under(dbs, aof_buffer, now_ms, s, latency);
        match outcome {
            Outcome::Ok => {
                if let Some(since) = self.exceeded_since.take() {
                    self.total_exceeded_us += since.elapsed().as_micros() as u64;
                }
            }
            Outcome::Running | Outcome::Fail => {
                self.exceeded_since.get_or_insert_with(Instant::now);
            }
        }
        self.running = outcome == Outcome::Running;
        outcome
    }

    fn evict_until_under(
        &mut self,
        dbs: &mut [Db],
        aof_buffer: usize,
        now_ms: u64,
        s: Settings,
        latency: &mut Monitor,
    ) -> Outcome {
        if s.maxmemory == 0 {
            return Outcome::Ok;
        }
        let used = usage(aof_buffer).counted;
        let target = s.maxmemory - headroom(s.maxmemory);
        if used <= target {
            return Outcome::Ok;
        }
        // Past the limit itself, with nothing to evict, writes are refused.
        let nothing_to_evict = if used > s.maxmemory {
            Outcome::Fail
        } else {
            Outcome::Ok
        };
        if s.policy == Policy::NoEviction {
            return nothing_to_evict;
        }
        let cycle = latency.start();
        let outcome = self.evict_keys(dbs, aof_buffer, now_ms, s, used - target, latency);
        let outcome = match outcome {
            Outcome::Fail => nothing_to_evict,
            other => other,
        };
        latency.end("eviction-cycle", cycle);
        outcome
    }

    /// Evicts keys until `to_free` bytes are freed, memory is under the
    /// target, or time is up (`Running`); `Fail` if nothing is left.
    fn evict_keys(
        &mut self,
        dbs: &mut [Db],
        aof_buffer: usize,
        now_ms: u64,
        s: Settings,
        to_free: u64,
        latency: &mut Monitor,
    ) -> Outcome {
        let target = s.maxmemory - headroom(s.maxmemory);
        let mut freed: u64 = 0;
        let mut keys: u64 = 0;
        let start = Instant::now();
        let limit_us = s.time_limit_us();
        while freed < to_free {
            let Some((db, key)) = self.pick(dbs, now_ms, s) else {
                return Outcome::Fail;
            };
            let before = crate::alloc::allocated_bytes();
            let del = latency.start();
            let Some(value) = dbs[db].evict(&key) else {
                continue;
            };
            self.recycle(key);
            if value.is_large() {
                // Freed on the lazy-free thread: count what it will give
                // back now, as the memory figure does.
                let size = value.redis_usage(5) as u64;
                crate::lazyfree::drop_later_sized(value, size);
                freed += size;
            } else {
                drop(value);
            }
            latency.end("eviction-del", del);
            freed += before.saturating_sub(crate::alloc::allocated_bytes());
            keys += 1;
            if keys.is_multiple_of(CHECK_EVERY_KEYS) {
                if usage(aof_buffer).counted <= target {
                    break;
                }
                if start.elapsed().as_micros() as u64 > limit_us {
                    return Outcome::Running;
                }
            }
        }
        Outcome::Ok
    }

    /// The next key to evict, by the policy.
    fn pick(&mut self, dbs: &mut [Db], now_ms: u64, s: Settings) -> Option<(usize, Vec<u8>)> {
        let volatile = s.policy.volatile();
        if matches!(s.policy, Policy::AllKeysRandom | Policy::VolatileRandom) {
            for _ in 0..dbs.len() {
                self.next_db = (self.next_db + 1) % dbs.len();
                let db = &mut dbs[self.next_db];
                if let Some(key) = db.random_key_for_eviction(volatile) {
                    return Some((self.next_db, key));
                }
            }
            return None;
        }
        loop {
            let mut total = 0;
            for (i, db) in dbs.iter_mut().enumerate() {
                let keys = if volatile { db.expires_len() } else { db.len() };
                if keys == 0 {
                    continue;
                }
                total += keys;
                self.populate(i, db, now_ms, s);
            }
            if total == 0 {
                return None;
            }
            // The best first; a key deleted since it was sampled (a ghost)
            // is dropped and the next tried.
            while let Some(c) = self.pool.pop() {
                if dbs[c.db].holds_for_eviction(&c.key, volatile) {
                    return Some((c.db, c.key));
                }
                self.recycle(c.key);
            }
        }
    }

    /// Samples one database's keys into the pool (Redis's
    /// evictionPoolPopulate), each key at most once.
    fn populate(&mut self, db_index: usize, db: &mut Db, now_ms: u64, s: Settings) {
        let volatile = s.policy.volatile();
        db.sample_for_eviction(s.samples, volatile, |key, stamp, deadline| {
            let score = match s.policy {
                Policy::AllKeysLfu | Policy::VolatileLfu => {
                    255 - lfu_counter(stamp, s.lfu_decay_minutes, now_ms) as u64
                }
                Policy::VolatileTtl => u64::MAX - deadline,
                _ => idle_seconds(stamp, now_ms) * 1000,
            };
            self.offer(score, db_index, key);
        });
    }

    /// Puts a sampled key in the pool if it beats the worst there or the
    /// pool has room.
    fn offer(&mut self, score: u64, db: usize, key: &[u8]) {
        let full = self.pool.len() == POOL_SIZE;
        if full && self.pool[0].score >= score {
            return;
        }
        if self.pool.iter().any(|c| c.db == db && c.key == key) {
            return;
        }
        let at = self.pool.partition_point(|c| c.score < score);
        let mut buf = self.spare.pop().unwrap_or_default();
        buf.clear();
        buf.extend_from_slice(key);
        self.pool.insert(
            at,
            Candidate {
                score,
                db,
                key: buf,
            },
        );
        if self.pool.len() > POOL_SIZE {
            let worst = self.pool.remove(0);
            self.recycle(worst.key);
        }
    }

    /// Keeps a key buffer for the pool's next candidate, as many as the
    /// pool can use (the random policies' keys would pile up otherwise).
    fn recycle(&mut self, key: Vec<u8>) {
        if self.spare.len() < POOL_SIZE && key.capacity() <= MAX_KEPT_KEY {
            self.spare.push(key);
        }
    }

    /// Forgets the pool (a policy change): its keys may be gone.
    pub fn clear_pool(&mut self) {
        while let Some(c) = self.pool.pop() {
            self.recycle(c.key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_limits_follow_redis() {
        let limit = |tenacity| {
            Settings {
                tenacity,
                ..Settings::default()
            }
            .time_limit_us()
        };
        assert_eq!(limit(0), 0);
        assert_eq!(limit(10), 500);
        assert_eq!(limit(11), 575);
        assert_eq!(limit(100), u64::MAX);
        assert!(limit(99) > 100_000_000);
    }

    #[test]
    fn the_pool_keeps_the_sixteen_best_once_each() {
        let mut e = Evictor::default();
        for i in 0..40u64 {
            let key = format!("k{}", i % 30);
            e.offer(i % 30, 0, key.as_bytes());
        }
        assert_eq!(e.pool.len(), POOL_SIZE);
        let scores: Vec<u64> = e.pool.iter().map(|c| c.score).collect();
        assert_eq!(scores, (14..30).collect::<Vec<u64>>());
        assert_eq!(e.pool.last().map(|c| c.key.clone()), Some(b"k29".to_vec()));
    }
}
