//! The latency monitor (Redis's latency.c): for each kind of event that
//! can stall the loop (a command, an expire cycle, an AOF write...), the
//! latest spikes of at least `latency-monitor-threshold` milliseconds, and
//! what LATENCY LATEST, HISTORY, GRAPH and DOCTOR make of them.
//!
//! A series keeps one sample per second (the worst of that second) in a
//! ring of 160, and the worst spike since its last reset. While the
//! threshold is 0 nothing is measured: [`Monitor::start`] reads no clock.
//!
//! Events Redis 7.0 records and where ferrokv records them:
//!
//! - `command`, `fast-command`: a command's run in `call()` (`fast-command`
//!   for commands flagged `fast`); `command-unblocking`: a blocked
//!   command's run when a ready key serves it.
//! - `expire-cycle`: the cron's active expiry.
//! - `eviction-cycle`, `eviction-del`: maxmemory eviction (`crate::evict`).
//! - `aof-write`, with `aof-write-pending-fsync` (an `everysec` fsync is
//!   running), `aof-write-active-child` (a snapshot, BGSAVE or rewrite, is
//!   being written: ferrokv's forkless stand-in for Redis's child) or
//!   `aof-write-alone`; `aof-fsync-always`: a sync on the loop under
//!   `appendfsync always`; `aof-fstat`: an AOF file's size read;
//!   `aof-rename`: installing a rewritten AOF.
//!
//! Not recorded, because ferrokv has no such code: `fork` (no fork),
//! `rdb-unlink-temp-file` (a failed snapshot's file is removed by the
//! snapshot's writer thread, not the loop),
//! `eviction-lazyfree` (eviction never waits for the lazy-free thread: what
//! it was handed counts as freed), `while-blocked-cron` (nothing of the
//! cron runs while a script is busy or a file loads, which the loop does
//! in steps), `active-defrag-cycle` (no defragmentation),
//! `module-acquire-GIL` (no modules), `expire-del` (a key's deletion by
//! expiry happens inside the database, whose large values go to the
//! lazy-free thread; the `expire-cycle` around it is recorded).

use std::fmt::Write;

use crate::store::unix_ms;

/// Samples kept per event (Redis's LATENCY_TS_LEN).
pub const SAMPLES: usize = 160;

/// One sample: when (Unix seconds; 0 for an empty slot) and how long, in
/// milliseconds.
#[derive(Debug, Clone, Copy, Default)]
pub struct Sample {
    pub time_s: i32,
    pub latency_ms: u32,
}

/// One event's history.
#[derive(Debug)]
pub struct Series {
    pub event: &'static str,
    /// Where the next sample goes.
    idx: usize,
    /// The worst latency since the series was created.
    pub max_ms: u32,
    samples: [Sample; SAMPLES],
}

impl Series {
    fn new(event: &'static str) -> Series {
        Series {
            event,
            idx: 0,
            max_ms: 0,
            samples: [Sample::default(); SAMPLES],
        }
    }

    fn add(&mut self, now_s: i32, latency_ms: u32) {
        self.max_ms = self.max_ms.max(latency_ms);
        // One sample per second: the worst of it.
        let prev = &mut self.samples[(self.idx + SAMPLES - 1) % SAMPLES];
        if prev.time_s == now_s {
            prev.latency_ms = prev.latency_ms.max(latency_ms);
            return;
        }
        self.samples[self.idx] = Sample {
            time_s: now_s,
            latency_ms,
        };
        self.idx = (self.idx + 1) % SAMPLES;
    }

    /// The samples held, oldest first.
    pub fn samples(&self) -> impl Iterator<Item = Sample> + '_ {
        (0..SAMPLES)
            .map(move |j| self.samples[(self.idx + j) % SAMPLES])
            .filter(|s| s.time_s != 0)
    }

    /// The latest sample (all zero if the slot is empty).
    pub fn latest(&self) -> Sample {
        self.samples[(self.idx + SAMPLES - 1) % SAMPLES]
    }
}

/// Every event's series, in the order they first happened.
#[derive(Debug, Default)]
pub struct Monitor {
    /// `latency-monitor-threshold`, in milliseconds; 0 turns it off.
    pub threshold_ms: u64,
    pub series: Vec<Series>,
}

/// A measurement started by [`Monitor::start`]: the wall clock in
/// milliseconds, or `None` while the monitor is off.
#[derive(Debug, Clone, Copy)]
pub struct Started(Option<u64>);

impl Monitor {
    /// Starts timing an event (Redis's latencyStartMonitor): reads the
    /// clock only while the monitor is on.
    #[inline]
    pub fn start(&self) -> Started {
        Started((self.threshold_ms > 0).then(unix_ms))
    }

    /// Ends timing `event` and records it if it took the threshold or
    /// more (latencyEndMonitor and latencyAddSampleIfNeeded). Durations
    /// are differences of millisecond clock readings, as Redis's.
    #[inline]
    pub fn end(&mut self, event: &'static str, started: Started) {
        if let Some(ms) = Monitor::elapsed_ms(started) {
            self.add_if_needed(event, ms);
        }
    }

    /// The milliseconds since `started`, for an event recorded under more
    /// than one name; `None` while the monitor is off.
    #[inline]
    pub fn elapsed_ms(started: Started) -> Option<u64> {
        started.0.map(|ms| unix_ms().saturating_sub(ms))
    }

    /// Records `latency_ms` for `event` if the monitor is on and it is at
    /// least the threshold.
    #[inline]
    pub fn add_if_needed(&mut self, event: &'static str, latency_ms: u64) {
        if self.threshold_ms > 0 && latency_ms >= self.threshold_ms {
            self.add(event, latency_ms);
        }
    }

    fn add(&mut self, event: &'static str, latency_ms: u64) {
        let now_s = (unix_ms() / 1000) as i32;
        let latency = u32::try_from(latency_ms).unwrap_or(u32::MAX);
        match self.series.iter_mut().find(|s| s.event == event) {
            Some(s) => s.add(now_s, latency),
            None => {
                let mut s = Series::new(event);
                s.add(now_s, latency);
                self.series.push(s);
            }
        }
    }

    /// The series of `event`, named exactly (HISTORY and GRAPH match case).
    pub fn get(&self, event: &[u8]) -> Option<&Series> {
        self.series.iter().find(|s| s.event.as_bytes() == event)
    }

    /// Drops the series of `event` (any case), or of every event; returns
    /// how many were dropped.
    pub fn reset(&mut self, event: Option<&[u8]>) -> usize {
        let before = self.series.len();
        match event {
            None => self.series.clear(),
            Some(e) => self
                .series
                .retain(|s| !s.event.as_bytes().eq_ignore_ascii_case(e)),
        }
        before - self.series.len()
    }
}

/// Width of LATENCY GRAPH (Redis's LATENCY_GRAPH_COLS).
const GRAPH_COLS: usize = 80;
/// Rows of the graph's bars.
const GRAPH_ROWS: usize = 4;

/// LATENCY GRAPH's text: a header, a rule, and the samples as a filled
/// sparkline labelled with how long ago each happened, byte for byte as
/// Redis's latencyCommandGenSparkeline and sparklineRender draw it.
pub fn graph(series: &Series, now_s: i64) -> String {
    let samples: Vec<(f64, String)> = series
        .samples()
        .map(|s| {
            let elapsed = now_s - i64::from(s.time_s);
            let label = match elapsed {
                e if e < 60 => format!("{e}s"),
                e if e < 3600 => format!("{}m", e / 60),
                e if e < 3600 * 24 => format!("{}h", e / 3600),
                e => format!("{}d", e / (3600 * 24)),
            };
            (f64::from(s.latency_ms), label)
        })
        .collect();
    let lat = || series.samples().map(|s| s.latency_ms);
    let (low, high) = (lat().min().unwrap_or(0), lat().max().unwrap_or(0));
    let mut out = format!(
        "{} - high {high} ms, low {low} ms (all time high {} ms)\n",
        series.event, series.max_ms
    );
    out.push_str(&"-".repeat(GRAPH_COLS));
    out.push('\n');
    for (i, chunk) in samples.chunks(GRAPH_COLS).enumerate() {
        if i > 0 {
            out.push('\n');
        }
        sparkline_range(&mut out, &samples, chunk);
    }
    out
}

/// Draws `range` (part of `all`, whose minimum and maximum scale every
/// part) as Redis's sparklineRenderRange does with SPARKLINE_FILL: four
/// rows of bars, a blank row, then the labels written downwards.
fn sparkline_range(out: &mut String, all: &[(f64, String)], range: &[(f64, String)]) {
    const FILL: [u8; 3] = *b"_o#";
    let min = all.iter().map(|s| s.0).fold(f64::INFINITY, f64::min);
    let max = all.iter().map(|s| s.0).fold(f64::NEG_INFINITY, f64::max);
    let relmax = if max - min == 0.0 { 1.0 } else { max - min };
    let steps = (FILL.len() * GRAPH_ROWS) as i64;
    let mut row = 0;
    loop {
        let mut line = vec![b' '; range.len()];
        let mut more = false;
        for (j, (value, label)) in range.iter().enumerate() {
            if row < GRAPH_ROWS {
                // C: `(int)(relval*steps)/relmax`, truncated to an int.
                let scaled = ((value - min) * steps as f64) as i64;
                let step = ((scaled as f64 / relmax) as i64).clamp(0, steps - 1);
                let idx = step - ((GRAPH_ROWS - row - 1) * FILL.len()) as i64;
                more = true;
                if (0..3).contains(&idx) {
                    line[j] = FILL[idx as usize];
                } else if idx >= 3 {
                    line[j] = b'|';
                }
            } else {
                // One blank row between the bars and the labels.
                if row == GRAPH_ROWS {
                    more = true;
                    break;
                }
                if let Some(&c) = label.as_bytes().get(row - GRAPH_ROWS - 1) {
                    more = true;
                    line[j] = c;
                }
            }
        }
        if !more {
            break;
        }
        row += 1;
        out.push_str(&String::from_utf8_lossy(&line));
        out.push('\n');
    }
}

/// What [`doctor`] reads besides the samples.
pub struct DoctorConfig {
    pub slowlog_log_slower_than_us: i64,
    pub appendfsync_always: bool,
    pub hz: u32,
    /// Whether the process has transparent huge pages (Redis's
    /// THPGetAnonHugePagesSize() > 0).
    pub anon_huge_pages: bool,
}

/// An event's statistics over the samples held (Redis's latencyStats).
struct Stats {
    avg: u64,
    mad: u64,
    samples: u64,
    period_s: i64,
}

fn analyze(series: &Series, now_s: i64) -> Stats {
    let mut st = Stats {
        avg: 0,
        mad: 0,
        samples: 0,
        period_s: 0,
    };
    let mut sum = 0u64;
    for s in series.samples() {
        st.samples += 1;
        sum += u64::from(s.latency_ms);
        if st.period_s == 0 || i64::from(s.time_s) < st.period_s {
            st.period_s = i64::from(s.time_s);
        }
    }
    if st.samples == 0 {
        return st;
    }
    st.avg = sum / st.samples;
    st.period_s = (now_s - st.period_s).max(0);
    if st.period_s == 0 {
        st.period_s = 1;
    }
    let deviation: u64 = series
        .samples()
        .map(|s| (st.avg as i64 - i64::from(s.latency_ms)).unsigned_abs())
        .sum();
    st.mad = deviation / st.samples;
    st
}

/// The advice LATENCY DOCTOR can give, in the order it gives it.
#[derive(Default)]
struct Advice {
    slowlog_enabled: bool,
    slowlog_tuning: bool,
    slowlog_inspect: bool,
    scheduler: bool,
    local_disk: bool,
    ssd: bool,
    data_writeback: bool,
    disk_contention: bool,
    no_appendfsync: bool,
    relax_fsync_policy: bool,
    write_load_info: bool,
    hz: bool,
    large_objects: bool,
    mass_eviction: bool,
    disable_thp: bool,
    count: u32,
}

impl Advice {
    /// Notes what an event suggests (the event-specific part of Redis's
    /// createLatencyReport).
    fn for_event(&mut self, event: &str, m: &Monitor, c: &DoctorConfig) {
        let is = |name: &str| event.eq_ignore_ascii_case(name);
        if is("command") {
            if c.slowlog_log_slower_than_us < 0 {
                self.slowlog_enabled = true;
                self.count += 1;
            } else if (c.slowlog_log_slower_than_us / 1000) as u64 > m.threshold_ms {
                self.slowlog_tuning = true;
                self.count += 1;
            }
            self.slowlog_inspect = true;
            self.large_objects = true;
            self.count += 2;
        }
        if is("fast-command") {
            self.scheduler = true;
            self.count += 1;
        }
        if is("aof-write-pending-fsync") {
            self.local_disk = true;
            self.disk_contention = true;
            self.ssd = true;
            self.data_writeback = true;
            self.count += 4;
        }
        if is("aof-write-active-child") {
            self.no_appendfsync = true;
            self.data_writeback = true;
            self.ssd = true;
            self.count += 3;
        }
        if is("aof-write-alone") {
            self.local_disk = true;
            self.data_writeback = true;
            self.ssd = true;
            self.count += 3;
        }
        if is("aof-fsync-always") {
            self.relax_fsync_policy = true;
            self.count += 1;
        }
        if is("aof-fstat") || is("rdb-unlink-temp-file") {
            self.disk_contention = true;
            self.local_disk = true;
            self.count += 2;
        }
        if is("aof-rewrite-diff-write") || is("aof-rename") {
            self.write_load_info = true;
            self.data_writeback = true;
            self.ssd = true;
            self.local_disk = true;
            self.count += 4;
        }
        if is("expire-cycle") {
            self.hz = true;
            self.large_objects = true;
            self.count += 2;
        }
        if is("eviction-del") {
            self.large_objects = true;
            self.count += 1;
        }
        if is("eviction-cycle") {
            self.mass_eviction = true;
            self.count += 1;
        }
    }
}

/// LATENCY DOCTOR's report, word for word Redis's createLatencyReport.
pub fn doctor(m: &Monitor, c: &DoctorConfig, now_s: i64) -> String {
    if m.series.is_empty() && m.threshold_ms == 0 {
        return DISABLED.to_owned();
    }
    let mut report = String::new();
    let mut advice = Advice::default();
    for (n, series) in m.series.iter().enumerate() {
        if n == 0 {
            report.push_str("Dave, I have observed latency spikes in this Redis instance. You don't mind talking about it, do you Dave?\n\n");
        }
        let st = analyze(series, now_s);
        let per_sample = if st.samples == 0 {
            f64::NAN
        } else {
            st.period_s as f64 / st.samples as f64
        };
        let _ = write!(
            report,
            "{}. {}: {} latency spikes (average {}ms, mean deviation {}ms, period {:.2} sec). Worst all time event {}ms.",
            n + 1,
            series.event,
            st.samples,
            st.avg,
            st.mad,
            per_sample,
            series.max_ms
        );
        advice.for_event(series.event, m, c);
        report.push('\n');
    }
    if c.anon_huge_pages {
        advice.disable_thp = true;
        advice.count += 1;
    }
    if m.series.is_empty() && advice.count == 0 {
        report.push_str("Dave, no latency spike was observed during the lifetime of this Redis instance, not in the slightest bit. I honestly think you ought to sit down calmly, take a stress pill, and think things over.\n");
    } else if !m.series.is_empty() && advice.count == 0 {
        report.push_str("\nWhile there are latency events logged, I'm not able to suggest any easy fix. Please use the Redis community to get some help, providing this report in your help request.\n");
    } else {
        advise(&mut report, &advice, m, c);
    }
    report
}

fn advise(report: &mut String, a: &Advice, m: &Monitor, c: &DoctorConfig) {
    report.push_str("\nI have a few advices for you:\n\n");
    let threshold_us = m.threshold_ms.wrapping_mul(1000);
    if a.slowlog_enabled {
        let _ = writeln!(
            report,
            "- There are latency issues with potentially slow commands you are using. Try to enable the Slow Log Redis feature using the command 'CONFIG SET slowlog-log-slower-than {threshold_us}'. If the Slow log is disabled Redis is not able to log slow commands execution for you."
        );
    }
    if a.slowlog_tuning {
        let _ = writeln!(
            report,
            "- Your current Slow Log configuration only logs events that are slower than your configured latency monitor threshold. Please use 'CONFIG SET slowlog-log-slower-than {threshold_us}'."
        );
    }
    let texts: [(bool, &str); 12] = [
        (a.slowlog_inspect, SLOWLOG_INSPECT),
        (a.scheduler, SCHEDULER),
        (a.local_disk, LOCAL_DISK),
        (a.ssd, SSD),
        (a.data_writeback, DATA_WRITEBACK),
        (a.disk_contention, DISK_CONTENTION),
        (a.no_appendfsync, NO_APPENDFSYNC),
        (a.relax_fsync_policy && c.appendfsync_always, RELAX_FSYNC),
        (a.write_load_info, WRITE_LOAD),
        (a.hz && c.hz < 100, HZ),
        (a.large_objects, LARGE_OBJECTS),
        (a.mass_eviction, MASS_EVICTION),
    ];
    for (given, text) in texts {
        if given {
            report.push_str(text);
        }
    }
    if a.disable_thp {
        report.push_str(THP);
    }
}

/// Whether this process has anonymous huge pages, as Redis's
/// THPGetAnonHugePagesSize reads them from /proc/self/smaps.
pub fn anon_huge_pages() -> bool {
    let Ok(smaps) = std::fs::read_to_string("/proc/self/smaps") else {
        return false;
    };
    smaps
        .lines()
        .filter_map(|l| l.strip_prefix("AnonHugePages:"))
        .filter_map(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .any(|kb| kb > 0)
}

const DISABLED: &str = "I'm sorry, Dave, I can't do that. Latency monitoring is disabled in this Redis instance. You may use \"CONFIG SET latency-monitor-threshold <milliseconds>.\" in order to enable it. If we weren't in a deep space mission I'd suggest to take a look at https://redis.io/topics/latency-monitor.\n";
const SLOWLOG_INSPECT: &str = "- Check your Slow Log to understand what are the commands you are running which are too slow to execute. Please check https://redis.io/commands/slowlog for more information.\n";
const SCHEDULER: &str = "- The system is slow to execute Redis code paths not containing system calls. This usually means the system does not provide Redis CPU time to run for long periods. You should try to:\n  1) Lower the system load.\n  2) Use a computer / VM just for Redis if you are running other software in the same system.\n  3) Check if you have a \"noisy neighbour\" problem.\n  4) Check with 'redis-cli --intrinsic-latency 100' what is the intrinsic latency in your system.\n  5) Check if the problem is allocator-related by recompiling Redis with MALLOC=libc, if you are using Jemalloc. However this may create fragmentation problems.\n";
const LOCAL_DISK: &str = "- It is strongly advised to use local disks for persistence, especially if you are using AOF. Remote disks provided by platform-as-a-service providers are known to be slow.\n";
const SSD: &str = "- SSD disks are able to reduce fsync latency, and total time needed for snapshotting and AOF log rewriting (resulting in smaller memory usage). With extremely high write load SSD disks can be a good option. However Redis should perform reasonably with high load using normal disks. Use this advice as a last resort.\n";
const DATA_WRITEBACK: &str = "- Mounting ext3/4 filesystems with data=writeback can provide a performance boost compared to data=ordered, however this mode of operation provides less guarantees, and sometimes it can happen that after a hard crash the AOF file will have a half-written command at the end and will require to be repaired before Redis restarts.\n";
const DISK_CONTENTION: &str = "- Try to lower the disk contention. This is often caused by other disk intensive processes running in the same computer (including other Redis instances).\n";
const NO_APPENDFSYNC: &str = "- Assuming from the point of view of data safety this is viable in your environment, you could try to enable the 'no-appendfsync-on-rewrite' option, so that fsync will not be performed while there is a child rewriting the AOF file or producing an RDB file (the moment where there is high disk contention).\n";
const RELAX_FSYNC: &str = "- Your fsync policy is set to 'always'. It is very hard to get good performances with such a setup, if possible try to relax the fsync policy to 'onesec'.\n";
const WRITE_LOAD: &str = "- Latency during the AOF atomic rename operation or when the final difference is flushed to the AOF file at the end of the rewrite, sometimes is caused by very high write load, causing the AOF buffer to get very large. If possible try to send less commands to accomplish the same work, or use Lua scripts to group multiple operations into a single EVALSHA call.\n";
const HZ: &str = "- In order to make the Redis keys expiring process more incremental, try to set the 'hz' configuration parameter to 100 using 'CONFIG SET hz 100'.\n";
const LARGE_OBJECTS: &str = "- Deleting, expiring or evicting (because of maxmemory policy) large objects is a blocking operation. If you have very large objects that are often deleted, expired, or evicted, try to fragment those objects into multiple smaller objects.\n";
const MASS_EVICTION: &str = "- Sudden changes to the 'maxmemory' setting via 'CONFIG SET', or allocation of large objects via sets or sorted sets intersections, STORE option of SORT, Redis Cluster large keys migrations (RESTORE command), may create sudden memory pressure forcing the server to block trying to evict keys. \n";
const THP: &str = "- I detected a non zero amount of anonymous huge pages used by your process. This creates very serious latency events in different conditions, especially when Redis is persisting on disk. To disable THP support use the command 'echo never > /sys/kernel/mm/transparent_hugepage/enabled', make sure to also add it into /etc/rc.local so that the command will be executed again after a reboot. Note that even if you have already disabled THP, you still need to restart the Redis process to get rid of the huge pages already created.\n";

#[cfg(test)]
mod tests {
    use super::*;

    fn series(samples: &[(i32, u32)]) -> Series {
        let mut s = Series::new("command");
        for &(t, l) in samples {
            s.add(t, l);
        }
        s
    }

    #[test]
    fn one_sample_per_second_keeps_the_worst() {
        let s = series(&[(100, 5), (100, 9), (100, 3), (101, 2)]);
        let v: Vec<_> = s.samples().map(|s| (s.time_s, s.latency_ms)).collect();
        assert_eq!(v, vec![(100, 9), (101, 2)]);
        assert_eq!(s.max_ms, 9);
    }

    #[test]
    fn the_ring_keeps_the_latest_samples() {
        let samples: Vec<_> = (1..=200).map(|t| (t, t as u32)).collect();
        let s = series(&samples);
        let v: Vec<_> = s.samples().map(|s| s.time_s).collect();
        assert_eq!(v.len(), SAMPLES);
        assert_eq!(v.first(), Some(&41));
        assert_eq!(s.latest().time_s, 200);
    }

    #[test]
    fn reset_matches_any_case() {
        let mut m = Monitor {
            threshold_ms: 1,
            series: Vec::new(),
        };
        m.add("command", 5);
        m.add("expire-cycle", 5);
        assert!(m.get(b"COMMAND").is_none());
        assert_eq!(m.reset(Some(b"COMMAND")), 1);
        assert_eq!(m.reset(None), 1);
    }

    #[test]
    fn the_doctor_reads_as_redis() {
        let mut m = Monitor {
            threshold_ms: 5,
            series: Vec::new(),
        };
        let mut s = series(&[(996, 10), (998, 20), (1000, 40)]);
        s.max_ms = 50;
        m.series.push(s);
        let mut s = series(&[(1000, 7)]);
        s.event = "fast-command";
        m.series.push(s);
        let config = DoctorConfig {
            slowlog_log_slower_than_us: -1,
            appendfsync_always: false,
            hz: 10,
            anon_huge_pages: false,
        };
        // Redis's createLatencyReport for the same samples: average 23,
        // deviation (13 + 3 + 17) / 3 = 11, period 4 s over 3 samples.
        let expected = "Dave, I have observed latency spikes in this Redis instance. You don't mind talking about it, do you Dave?\n\n\
            1. command: 3 latency spikes (average 23ms, mean deviation 11ms, period 1.33 sec). Worst all time event 50ms.\n\
            2. fast-command: 1 latency spikes (average 7ms, mean deviation 0ms, period 1.00 sec). Worst all time event 7ms.\n\
            \nI have a few advices for you:\n\n\
            - There are latency issues with potentially slow commands you are using. Try to enable the Slow Log Redis feature using the command 'CONFIG SET slowlog-log-slower-than 5000'. If the Slow log is disabled Redis is not able to log slow commands execution for you.\n"
            .to_owned()
            + SLOWLOG_INSPECT
            + SCHEDULER
            + LARGE_OBJECTS;
        assert_eq!(doctor(&m, &config, 1000), expected);
        m.series.clear();
        assert_eq!(
            doctor(&m, &config, 1000),
            "Dave, no latency spike was observed during the lifetime of this Redis instance, not in the slightest bit. I honestly think you ought to sit down calmly, take a stress pill, and think things over.\n"
        );
        m.threshold_ms = 0;
        assert_eq!(doctor(&m, &config, 1000), DISABLED);
    }

    #[test]
    fn the_graph_matches_redis() {
        // Samples of 10, 20 and 30 ms taken 2, 1 and 0 seconds before:
        // steps 0, 6 and 11 of 12, drawn as sparkline.c draws them.
        let s = series(&[(998, 10), (999, 20), (1000, 30)]);
        let g = graph(&s, 1000);
        let expected = "command - high 30 ms, low 10 ms (all time high 30 ms)\n".to_owned()
            + &"-".repeat(80)
            + "\n  #\n _|\n ||\n_||\n   \n210\nsss\n";
        assert_eq!(g, expected);
    }
}
