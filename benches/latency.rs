//! Criterion bench for what `latency-tracking` adds to every command: one
//! `LatencyHistogram::record` of its duration (the clock is read for INFO
//! commandstats either way), and the latency monitor's test of the same
//! duration against `latency-monitor-threshold`. Compare the figures with
//! the server CPU per request of `scripts/bench/latency_tracking.py`
//! (about a microsecond per SET or GET at -P 16).

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ferrokv::latency::LatencyHistogram;
use ferrokv::latency_monitor::Monitor;
use ferrokv::util::Rng;

/// Durations recorded per round.
const CALLS: u64 = 10_000;

fn record(c: &mut Criterion) {
    let mut group = c.benchmark_group("latency");
    group.throughput(Throughput::Elements(CALLS));
    group.sample_size(30);
    group.warm_up_time(Duration::from_millis(500));
    group.measurement_time(Duration::from_secs(3));
    // Durations as commands have them: mostly 1 to 20 µs, in nanoseconds
    // (the server records whole microseconds times 1,000).
    let mut rng = Rng::new(7);
    let durations: Vec<u64> = (0..CALLS).map(|_| (1 + rng.below(20)) * 1000).collect();
    group.bench_function("histogram_record_10k", |b| {
        let mut h = LatencyHistogram::default();
        b.iter(|| {
            for &d in &durations {
                h.record(black_box(d));
            }
        });
    });
    group.bench_function("monitor_below_threshold_10k", |b| {
        let mut m = Monitor {
            threshold_ms: 100,
            series: Vec::new(),
        };
        b.iter(|| {
            for &d in &durations {
                m.add_if_needed("command", black_box(d / 1_000_000));
            }
        });
    });
    group.finish();
}

criterion_group!(benches, record);
criterion_main!(benches);
