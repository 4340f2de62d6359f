//! Criterion benches for the timer wheel: the cost of scheduling and firing
//! timers as the loop does it (insert, then advance one millisecond at a
//! time), and of `next_deadline`, which the loop calls before every poll to
//! pick its timeout.

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use ferrokv::timer::TimerWheel;
use ferrokv::util::Rng;

/// Timers in one insert-and-fire round.
const TIMERS: u64 = 10_000;

/// How far apart their deadlines are spread: ten seconds, so the wheel
/// turns several times and far entries are revisited.
const SPREAD_MS: u64 = 10_000;

/// One element is one timer: inserted, then fired by advancing the clock
/// one millisecond at a time across the whole spread (10,001 advances per
/// round, most of them over slots with a few entries).
fn insert_advance(c: &mut Criterion) {
    let mut group = c.benchmark_group("timer");
    group.throughput(Throughput::Elements(TIMERS));
    group.sample_size(20);
    group.warm_up_time(Duration::from_millis(500));
    group.measurement_time(Duration::from_secs(3));

    group.bench_function("insert_10k_advance_10s_by_1ms", |b| {
        // The wheel lives across rounds, as the loop's does, so slot
        // vectors keep their capacity and the clock just moves on.
        let mut now = 1_000_000u64;
        let mut wheel = TimerWheel::new(now);
        let mut rng = Rng::new(7);
        let mut fired = Vec::with_capacity(TIMERS as usize);
        b.iter(|| {
            for i in 0..TIMERS {
                wheel.insert(now + 1 + rng.below(SPREAD_MS), i);
            }
            fired.clear();
            for _ in 0..=SPREAD_MS {
                now += 1;
                wheel.advance(now, &mut fired);
            }
            assert_eq!(fired.len(), TIMERS as usize);
        })
    });
    group.finish();
}

/// `next_deadline` over wheels of several sizes, in two shapes:
/// `spread` has deadlines across ten seconds, so the first slot with a
/// near entry is found at once; `all_far` has every deadline more than a
/// turn away, the worst case, where every slot and entry is looked at.
fn next_deadline(c: &mut Criterion) {
    let mut group = c.benchmark_group("timer_next_deadline");
    group.sample_size(30);
    group.warm_up_time(Duration::from_millis(300));
    group.measurement_time(Duration::from_secs(2));

    let now = 1_000_000u64;
    for entries in [1_000u64, 10_000, 100_000] {
        let mut rng = Rng::new(entries);
        let mut spread = TimerWheel::new(now);
        let mut all_far: TimerWheel<u64> = TimerWheel::new(now);
        for i in 0..entries {
            spread.insert(now + 1 + rng.below(SPREAD_MS), i);
            all_far.insert(now + 60_000 + rng.below(SPREAD_MS), i);
        }
        // The uncached scan, which the loop pays once per change of the
        // earliest deadline.
        group.bench_with_input(BenchmarkId::new("scan_spread", entries), &spread, |b, w| {
            b.iter(|| black_box(w).scan_next_deadline())
        });
        group.bench_with_input(
            BenchmarkId::new("scan_all_far", entries),
            &all_far,
            |b, w| b.iter(|| black_box(w).scan_next_deadline()),
        );
        // What the loop pays before each poll when nothing changed.
        group.bench_function(BenchmarkId::new("cached_all_far", entries), |b| {
            b.iter(|| black_box(all_far.next_deadline()))
        });
    }
    group.finish();
}

criterion_group!(benches, insert_advance, next_deadline);
criterion_main!(benches);
