//! Per-command latency histograms for INFO latencystats.
//!
//! Redis keeps an HdrHistogram per command (1 ns to 1 s, two significant
//! digits) and reports percentiles of it; this is the same histogram
//! layout, so a percentile reads back as the same bucket boundary Redis
//! would print for the same durations: 128 linear sub-buckets per power of
//! two (256 in the first), the top of the bucket holding the percentile.
//! LATENCY HISTOGRAM reads the same counts as Redis's log iterator walks
//! them ([`LatencyHistogram::cumulative_usec`]).

/// The tracked range, as Redis's `LATENCY_HISTOGRAM_MIN_VALUE` and
/// `LATENCY_HISTOGRAM_MAX_VALUE`: durations are clamped into it.
const MIN_NS: u64 = 1;
const MAX_NS: u64 = 1_000_000_000;

/// Two significant digits: 2 * 10^2 values need 256 sub-buckets, of
/// which each bucket after the first uses the upper half.
const SUB_BUCKET_HALF_COUNT_MAGNITUDE: u32 = 7;
const SUB_BUCKET_HALF_COUNT: usize = 1 << SUB_BUCKET_HALF_COUNT_MAGNITUDE;
const SUB_BUCKET_MASK: u64 = (2 * SUB_BUCKET_HALF_COUNT as u64) - 1;
/// Buckets until 256 << (n - 1) exceeds `MAX_NS`.
const BUCKET_COUNT: usize = 23;
const COUNTS_LEN: usize = (BUCKET_COUNT + 1) * SUB_BUCKET_HALF_COUNT;

/// One command's durations.
pub struct LatencyHistogram {
    counts: Box<[u64; COUNTS_LEN]>,
    total: u64,
}

impl Default for LatencyHistogram {
    fn default() -> Self {
        LatencyHistogram {
            counts: Box::new([0; COUNTS_LEN]),
            total: 0,
        }
    }
}

impl std::fmt::Debug for LatencyHistogram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LatencyHistogram")
            .field("total", &self.total)
            .finish()
    }
}

fn bucket_index(value: u64) -> u32 {
    let pow2_ceiling = 64 - (value | SUB_BUCKET_MASK).leading_zeros();
    pow2_ceiling - (SUB_BUCKET_HALF_COUNT_MAGNITUDE + 1)
}

fn counts_index(value: u64) -> usize {
    let bucket = bucket_index(value);
    let sub_bucket = (value >> bucket) as usize;
    ((bucket as usize + 1) << SUB_BUCKET_HALF_COUNT_MAGNITUDE) + sub_bucket - SUB_BUCKET_HALF_COUNT
}

/// The lowest value counted at `index`.
fn value_at_index(index: usize) -> u64 {
    let bucket = (index >> SUB_BUCKET_HALF_COUNT_MAGNITUDE) as i64 - 1;
    let mut sub_bucket = (index & (SUB_BUCKET_HALF_COUNT - 1)) + SUB_BUCKET_HALF_COUNT;
    if bucket < 0 {
        sub_bucket -= SUB_BUCKET_HALF_COUNT;
        return sub_bucket as u64;
    }
    (sub_bucket as u64) << bucket
}

/// The highest value counted together with `value`.
fn highest_equivalent(value: u64) -> u64 {
    let bucket = bucket_index(value);
    let sub_bucket = value >> bucket;
    let lowest = sub_bucket << bucket;
    let adjusted = if sub_bucket >= 2 * SUB_BUCKET_HALF_COUNT as u64 {
        bucket + 1
    } else {
        bucket
    };
    lowest + (1u64 << adjusted) - 1
}

impl LatencyHistogram {
    /// Counts one duration, clamped into the tracked range.
    pub fn record(&mut self, duration_ns: u64) {
        let value = duration_ns.clamp(MIN_NS, MAX_NS);
        self.counts[counts_index(value)] += 1;
        self.total += 1;
    }

    /// The duration at `percentile` (0 to 100), as hdr_value_at_percentile
    /// computes it: the top of the bucket that holds that rank (the
    /// bottom, for the 0th percentile).
    pub fn value_at_percentile(&self, percentile: f64) -> u64 {
        let requested = percentile.min(100.0);
        let rank = ((requested / 100.0 * self.total as f64) + 0.5) as u64;
        let rank = rank.max(1);
        let mut seen = 0;
        for (index, &count) in self.counts.iter().enumerate() {
            seen += count;
            if seen >= rank {
                let value = value_at_index(index);
                return if percentile == 0.0 {
                    value
                } else {
                    highest_equivalent(value)
                };
            }
        }
        0
    }
}

/// LATENCY HISTOGRAM's first bucket, in nanoseconds; each next one
/// doubles (Redis's `hdr_iter_log_init(&iter, h, 1024, 2)`).
const CDF_FIRST_BUCKET_NS: u64 = 1024;

impl LatencyHistogram {
    /// How many calls have been counted.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// LATENCY HISTOGRAM's buckets: (microseconds, calls that took at most
    /// about that long), for the buckets whose cumulative count grew.
    ///
    /// This walks the counts as HdrHistogram's log iterator does for
    /// Redis's fillCommandCDF: a bucket is reported at the first index
    /// whose value reaches its reporting level, labelled with the top of
    /// that index's range and counting everything up to it; past the last
    /// index, the last range's top labels what is left.
    pub fn cumulative_usec(&self) -> Vec<(u64, u64)> {
        let mut out = Vec::new();
        let mut previous = 0;
        let mut report = |highest: u64, cumulative: u64| {
            if cumulative > previous {
                out.push((highest / 1000, cumulative));
            }
            previous = cumulative;
        };
        let mut index = 0usize;
        let mut cumulative = 0;
        // The value and range top of the index last moved to (none yet).
        let (mut value, mut highest) = (0, 0);
        let mut moved = false;
        let mut level = CDF_FIRST_BUCKET_NS;
        // Each pass is one step of hdr_iter_next.
        loop {
            let next_index = if moved { index + 1 } else { 0 };
            let more_counts = cumulative < self.total;
            let next_value_past_level = value_at_index(next_index) > level;
            if !more_counts && !next_value_past_level {
                break;
            }
            loop {
                if moved && value >= level {
                    report(highest, cumulative);
                    level *= 2;
                    break;
                }
                let next = if moved { index + 1 } else { 0 };
                let Some(&count) = self.counts.get(next) else {
                    // Past the last index: reported as it stands, then done.
                    report(highest, cumulative);
                    return out;
                };
                index = next;
                moved = true;
                cumulative += count;
                value = value_at_index(index);
                highest = highest_equivalent(value);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_values_are_exact() {
        let mut h = LatencyHistogram::default();
        for v in 1..=200 {
            h.record(v);
        }
        assert_eq!(h.value_at_percentile(50.0), 100);
        assert_eq!(h.value_at_percentile(100.0), 200);
    }

    #[test]
    fn large_values_read_back_as_their_bucket_top() {
        let mut h = LatencyHistogram::default();
        h.record(1000);
        // 1000 is in the bucket [512, 1024) with sub-buckets of 4.
        assert_eq!(h.value_at_percentile(50.0), 1003);
        let mut h = LatencyHistogram::default();
        h.record(5_000_000_000);
        assert_eq!(h.value_at_percentile(99.9), highest_equivalent(MAX_NS));
        assert!(highest_equivalent(MAX_NS) >= MAX_NS);
    }

    #[test]
    fn every_trackable_value_has_an_index() {
        let mut v = 1;
        while v <= MAX_NS {
            let i = counts_index(v);
            assert!(i < COUNTS_LEN, "value {v} index {i}");
            assert!(value_at_index(i) <= v && v <= highest_equivalent(v));
            v = v * 3 / 2 + 1;
        }
        assert!(counts_index(MAX_NS) < COUNTS_LEN);
    }

    #[test]
    fn the_zeroth_percentile_is_the_bucket_bottom() {
        let mut h = LatencyHistogram::default();
        h.record(1000);
        assert_eq!(h.value_at_percentile(0.0), 1000);
        assert_eq!(h.value_at_percentile(100.0), 1003);
    }

    #[test]
    fn percentiles_follow_the_ranks() {
        let mut h = LatencyHistogram::default();
        for _ in 0..99 {
            h.record(10);
        }
        h.record(100_000);
        assert_eq!(h.value_at_percentile(50.0), 10);
        assert_eq!(h.value_at_percentile(99.0), 10);
        assert!(h.value_at_percentile(99.9) >= 100_000);
    }

    #[test]
    fn cumulative_buckets_follow_redis() {
        // Redis replied {2: 1, 4: 2} for one call of 2 us and one of 3 us,
        // and 1073741 for anything past half a second.
        let mut h = LatencyHistogram::default();
        h.record(2000);
        h.record(3000);
        assert_eq!(h.cumulative_usec(), vec![(2, 1), (4, 2)]);
        let mut h = LatencyHistogram::default();
        h.record(1);
        h.record(1000);
        h.record(900_000_000);
        assert_eq!(h.cumulative_usec(), vec![(1, 2), (1_073_741, 3)]);
        assert!(LatencyHistogram::default().cumulative_usec().is_empty());
    }
}
