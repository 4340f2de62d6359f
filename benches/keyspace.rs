//! Criterion benches for the keyspace: GET, SET and DEL against a `Db` that
//! already holds a million keys, so every operation pays the cache misses a
//! loaded server pays rather than hitting a table that fits in L1.
//!
//! The table is built once and shared by every bench. Keys look like
//! redis-benchmark's with `-r` (`key:000000123456`) and are picked by a
//! fixed-seed PRNG, so runs are comparable. Each measured iteration builds
//! its key into a stack buffer (a few nanoseconds) instead of reading it
//! from a precomputed table, which would add cache misses of its own.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ferrokv::db::{Db, Str, Value};
use ferrokv::util::Rng;

/// How many keys the table holds while the benches run.
const KEYS: u64 = 1_000_000;

/// A fixed clock: no key here has a TTL, so time only feeds the LRU stamp.
const NOW_MS: u64 = 1_700_000_000_000;

/// `key:` plus twelve digits, as redis-benchmark's `__rand_int__` makes.
const KEY_LEN: usize = 16;

/// Writes `key:{n:012}` into `buf` without allocating.
fn fill_key(buf: &mut [u8; KEY_LEN], mut n: u64) -> &[u8] {
    buf[..4].copy_from_slice(b"key:");
    for i in (4..KEY_LEN).rev() {
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
    }
    buf
}

fn value() -> Value {
    // redis-benchmark's default payload is three bytes.
    Value::Str(Str::encoded(b"xxx"))
}

/// The shared table. Live keys are exactly `lo..lo + KEYS`: the SET+DEL
/// bench slides that window forward, and the other benches read `lo`.
struct Fixture {
    db: Db,
    lo: u64,
}

impl Fixture {
    fn new() -> Fixture {
        let mut db = Db::new();
        let mut buf = [0; KEY_LEN];
        for n in 0..KEYS {
            db.set(
                fill_key(&mut buf, n),
                value(),
                ferrokv::db::Ttl::Clear,
                NOW_MS,
            );
        }
        assert_eq!(db.len(), KEYS as usize);
        Fixture { db, lo: 0 }
    }
}

fn keyspace(c: &mut Criterion) {
    let mut fx = Fixture::new();
    let mut group = c.benchmark_group("keyspace_1m");
    group.throughput(Throughput::Elements(1));
    group.sample_size(30);
    group.warm_up_time(Duration::from_millis(500));
    group.measurement_time(Duration::from_secs(3));

    group.bench_function("get_existing", |b| {
        let mut rng = Rng::new(1);
        let mut buf = [0; KEY_LEN];
        b.iter(|| {
            let key = fill_key(&mut buf, fx.lo + rng.below(KEYS));
            let hit = fx.db.lookup(black_box(key), NOW_MS).is_some();
            assert!(hit);
        })
    });

    group.bench_function("get_missing", |b| {
        let mut rng = Rng::new(2);
        let mut buf = [0; KEY_LEN];
        // Far above every key the window can reach.
        let base = 500_000_000_000;
        b.iter(|| {
            let key = fill_key(&mut buf, base + rng.below(KEYS));
            let hit = fx.db.lookup(black_box(key), NOW_MS).is_some();
            assert!(!hit);
        })
    });

    group.bench_function("set_overwrite", |b| {
        let mut rng = Rng::new(3);
        let mut buf = [0; KEY_LEN];
        b.iter(|| {
            let key = fill_key(&mut buf, fx.lo + rng.below(KEYS));
            fx.db
                .set(black_box(key), value(), ferrokv::db::Ttl::Clear, NOW_MS);
        })
    });

    // One element is a pair: SET of a key one past the window, then DEL of
    // the window's oldest key, so the table keeps its size (and never
    // crosses a resize threshold) however long criterion runs it.
    group.bench_function("set_new_del_oldest", |b| {
        let mut buf = [0; KEY_LEN];
        b.iter(|| {
            let key = fill_key(&mut buf, fx.lo + KEYS);
            fx.db
                .set(black_box(key), value(), ferrokv::db::Ttl::Clear, NOW_MS);
            let key = fill_key(&mut buf, fx.lo);
            let existed = fx.db.remove(black_box(key));
            assert!(existed);
            fx.lo += 1;
        })
    });
    group.finish();

    assert_eq!(fx.db.len(), KEYS as usize);
}

criterion_group!(benches, keyspace);
criterion_main!(benches);
