//! MEMORY STATS, DOCTOR, MALLOC-STATS and PURGE, and INFO's memory
//! section, which reports the same figures: Redis 7.0's
//! getMemoryOverheadData, memoryCommand and getMemoryDoctorReport
//! (`object.c`). MEMORY USAGE and HELP are with OBJECT in `server.rs`.
//!
//! The figures are ferrokv's own. `total.allocated` is the counting
//! allocator's figure (`crate::alloc`), `startup.allocated` what it was
//! before any data was loaded, and each database's overhead is what its
//! two tables take (buckets and nodes; a node holds a short key and a
//! small value inline). mimalloc's release build keeps no running total
//! of allocated or active bytes, so the allocator's three figures are the
//! ones Redis derives when its allocator gives none (a libc build):
//! resident is the process's RSS less the Lua interpreter's memory, active
//! equals resident, and allocated is `total.allocated`.

use std::fmt::Write as _;

use bytes::Bytes;
use slab::Slab;

use super::{CmdResult, Ctx};
use crate::client::Client;
use crate::store::Store;

/// One non-empty database's overhead, in bytes.
#[derive(Debug, Clone, Copy)]
pub struct DbOverhead {
    pub db: usize,
    pub main: u64,
    pub expires: u64,
}

/// What MEMORY STATS and INFO memory report (Redis's redisMemOverhead and
/// cron_malloc_stats). Ratios are `f32`, as Redis computes them in C
/// `float`s, and shown widened to a double.
#[derive(Debug, Clone)]
pub struct MemoryStats {
    pub peak_allocated: u64,
    pub total_allocated: u64,
    pub startup_allocated: u64,
    pub clients_normal: u64,
    pub aof_buffer: u64,
    pub lua_caches: u64,
    pub functions_caches: u64,
    pub dbs: Vec<DbOverhead>,
    pub overhead_total: u64,
    pub total_keys: u64,
    pub bytes_per_key: u64,
    pub dataset: u64,
    pub dataset_perc: f32,
    pub peak_perc: f32,
    pub rss: u64,
    pub allocator_allocated: u64,
    pub allocator_active: u64,
    pub allocator_resident: u64,
    pub allocator_frag: f32,
    pub allocator_frag_bytes: i64,
    pub allocator_rss: f32,
    pub allocator_rss_bytes: i64,
    pub rss_extra: f32,
    pub rss_extra_bytes: i64,
    pub total_frag: f32,
    pub total_frag_bytes: i64,
}

/// `a / b` as Redis's `(float)a / b`.
fn ratio(a: u64, b: u64) -> f32 {
    a as f32 / b as f32
}

fn difference(a: u64, b: u64) -> i64 {
    a as i64 - b as i64
}

impl MemoryStats {
    /// Gathers the figures now. O(databases + clients + keys / 4096).
    pub fn gather(store: &Store, clients: &Slab<Client>) -> MemoryStats {
        let total = crate::alloc::allocated_bytes();
        let peak = crate::alloc::peak_bytes().max(total);
        let startup = crate::alloc::startup_bytes();
        // Normal and Pub/Sub clients, as Redis's clients_normal; monitors
        // count as replicas there, and replicas' buffers are not theirs.
        let clients_normal: u64 = clients
            .iter()
            .filter(|(_, c)| c.stream.is_some() && !c.mode.is_monitor())
            .map(|(_, c)| c.memory_usage() as u64)
            .sum();
        let aof_buffer = store.effects.aof.buf.capacity() as u64;
        let lua_caches = store.scripting.scripts_mem as u64;
        let functions_caches = store.scripting.functions_memory() as u64;
        let mut overhead = startup + clients_normal + aof_buffer + lua_caches + functions_caches;
        let mut dbs = Vec::new();
        let mut total_keys = 0u64;
        for (i, db) in store.dbs.iter().enumerate() {
            if db.is_empty() {
                continue;
            }
            total_keys += db.len() as u64;
            let (main, expires) = db.table_bytes();
            overhead += (main + expires) as u64;
            dbs.push(DbOverhead {
                db: i,
                main: main as u64,
                expires: expires as u64,
            });
        }
        let net = match total > startup {
            true => total - startup,
            false => 1,
        };
        let dataset = total.saturating_sub(overhead);
        let rss = crate::alloc::resident_bytes();
        let resident = rss.saturating_sub(store.scripting.lua_memory() as u64);
        let (allocated, active) = (total, resident);
        MemoryStats {
            peak_allocated: peak,
            total_allocated: total,
            startup_allocated: startup,
            clients_normal,
            aof_buffer,
            lua_caches,
            functions_caches,
            dbs,
            overhead_total: overhead,
            total_keys,
            bytes_per_key: net.checked_div(total_keys).unwrap_or(0),
            dataset,
            dataset_perc: dataset as f32 * 100.0 / net as f32,
            peak_perc: total as f32 * 100.0 / peak as f32,
            rss,
            allocator_allocated: allocated,
            allocator_active: active,
            allocator_resident: resident,
            allocator_frag: ratio(active, allocated),
            allocator_frag_bytes: difference(active, allocated),
            allocator_rss: ratio(resident, active),
            allocator_rss_bytes: difference(resident, active),
            rss_extra: ratio(rss, resident),
            rss_extra_bytes: difference(rss, resident),
            total_frag: ratio(rss, total),
            total_frag_bytes: difference(rss, total),
        }
    }
}

/// MEMORY STATS
///
/// A map of Redis 7.0's 27 fields, with one nested map per non-empty
/// database after `functions.caches`.
pub fn memory_stats(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    let m = MemoryStats::gather(ctx.store, ctx.clients);
    let out = &mut *ctx.out;
    let int = |out: &mut crate::resp::Reply, name: &str, n: i64| {
        out.bulk(name.as_bytes());
        out.int(n);
    };
    let double = |out: &mut crate::resp::Reply, name: &str, d: f32| {
        out.bulk(name.as_bytes());
        out.double(f64::from(d));
    };
    out.map(27 + m.dbs.len());
    int(out, "peak.allocated", m.peak_allocated as i64);
    int(out, "total.allocated", m.total_allocated as i64);
    int(out, "startup.allocated", m.startup_allocated as i64);
    int(out, "replication.backlog", 0);
    int(out, "clients.slaves", 0);
    int(out, "clients.normal", m.clients_normal as i64);
    int(out, "cluster.links", 0);
    int(out, "aof.buffer", m.aof_buffer as i64);
    int(out, "lua.caches", m.lua_caches as i64);
    int(out, "functions.caches", m.functions_caches as i64);
    for db in &m.dbs {
        out.bulk(format!("db.{}", db.db).as_bytes());
        out.map(3);
        int(out, "overhead.hashtable.main", db.main as i64);
        int(out, "overhead.hashtable.expires", db.expires as i64);
        // Cluster mode's slot-to-keys index, which ferrokv has not.
        int(out, "overhead.hashtable.slot-to-keys", 0);
    }
    int(out, "overhead.total", m.overhead_total as i64);
    int(out, "keys.count", m.total_keys as i64);
    int(out, "keys.bytes-per-key", m.bytes_per_key as i64);
    int(out, "dataset.bytes", m.dataset as i64);
    double(out, "dataset.percentage", m.dataset_perc);
    double(out, "peak.percentage", m.peak_perc);
    int(out, "allocator.allocated", m.allocator_allocated as i64);
    int(out, "allocator.active", m.allocator_active as i64);
    int(out, "allocator.resident", m.allocator_resident as i64);
    double(out, "allocator-fragmentation.ratio", m.allocator_frag);
    int(out, "allocator-fragmentation.bytes", m.allocator_frag_bytes);
    double(out, "allocator-rss.ratio", m.allocator_rss);
    int(out, "allocator-rss.bytes", m.allocator_rss_bytes);
    double(out, "rss-overhead.ratio", m.rss_extra);
    int(out, "rss-overhead.bytes", m.rss_extra_bytes);
    // The total RSS overhead, fragmentation included; named so for
    // backward compatibility, as Redis notes.
    double(out, "fragmentation", m.total_frag);
    int(out, "fragmentation.bytes", m.total_frag_bytes);
    Ok(())
}

/// MEMORY DOCTOR
pub fn memory_doctor(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    let m = MemoryStats::gather(ctx.store, ctx.clients);
    let connections = ctx
        .clients
        .iter()
        .filter(|(_, c)| c.stream.is_some())
        .count();
    let report = doctor_report(&m, connections as u64, ctx.store.scripting.len());
    ctx.out.verbatim("txt", report.as_bytes());
    Ok(())
}

/// What MEMORY DOCTOR finds: Redis's conditions, in its order.
#[derive(Debug, Default, PartialEq, Eq)]
struct Findings {
    empty: bool,
    big_peak: bool,
    high_frag: bool,
    high_alloc_frag: bool,
    high_alloc_rss: bool,
    high_proc_rss: bool,
    big_client_buf: bool,
    many_scripts: bool,
}

/// Redis's thresholds: an instance under 5 MB is "empty"; a peak over
/// 150% of what is used; ratios over 1.4 (total) or 1.1 (the allocator's)
/// with over 10 MB behind them; clients' buffers over 200 KB each on
/// average; over 1000 cached scripts. Replicas, whose buffers are the
/// other check, ferrokv has none of.
fn findings(m: &MemoryStats, connections: u64, cached_scripts: usize) -> Findings {
    const TEN_MB: i64 = 10 << 20;
    if m.total_allocated < 5 * 1024 * 1024 {
        return Findings {
            empty: true,
            ..Findings::default()
        };
    }
    Findings {
        empty: false,
        big_peak: ratio(m.peak_allocated, m.total_allocated) > 1.5,
        high_frag: m.total_frag > 1.4 && m.total_frag_bytes > TEN_MB,
        high_alloc_frag: m.allocator_frag > 1.1 && m.allocator_frag_bytes > TEN_MB,
        high_alloc_rss: m.allocator_rss > 1.1 && m.allocator_rss_bytes > TEN_MB,
        high_proc_rss: m.rss_extra > 1.1 && m.rss_extra_bytes > TEN_MB,
        big_client_buf: m
            .clients_normal
            .checked_div(connections)
            .is_some_and(|per_client| per_client > 200 * 1024),
        many_scripts: cached_scripts > 1000,
    }
}

/// Redis's report text for what was found.
fn doctor_report(m: &MemoryStats, connections: u64, cached_scripts: usize) -> String {
    let f = findings(m, connections, cached_scripts);
    if f.empty {
        return "Hi Sam, this instance is empty or is using very little memory, my issues detector can't be used in these conditions. Please, leave for your mission on Earth and fill it with some data. The new Sam and I will be back to our programming as soon as I finished rebooting.\n".into();
    }
    let issues: Vec<String> = [
        (f.big_peak, BIG_PEAK.to_string()),
        (
            f.high_frag,
            HIGH_FRAG.replace("%s", &crate::alloc::allocator_name()),
        ),
        (f.high_alloc_frag, HIGH_ALLOC_FRAG.to_string()),
        (f.high_alloc_rss, HIGH_ALLOC_RSS.to_string()),
        (f.high_proc_rss, HIGH_PROC_RSS.to_string()),
        (f.big_client_buf, BIG_CLIENT_BUF.to_string()),
        (f.many_scripts, MANY_SCRIPTS.to_string()),
    ]
    .into_iter()
    .filter_map(|(found, text)| found.then_some(text))
    .collect();
    if issues.is_empty() {
        return "Hi Sam, I can't find any memory issue in your instance. I can only account for what occurs on this base.\n".into();
    }
    let mut s =
        String::from("Sam, I detected a few issues in this Redis instance memory implants:\n\n");
    for issue in issues {
        s.push_str(" * ");
        s.push_str(&issue);
        s.push_str("\n\n");
    }
    s.push_str("I'm here to keep you safe, Sam. I want to help you.\n");
    s
}

const BIG_PEAK: &str = "Peak memory: In the past this instance used more than 150% the memory that is currently using. The allocator is normally not able to release memory after a peak, so you can expect to see a big fragmentation ratio, however this is actually harmless and is only due to the memory peak, and if the Redis instance Resident Set Size (RSS) is currently bigger than expected, the memory will be used as soon as you fill the Redis instance with more data. If the memory peak was only occasional and you want to try to reclaim memory, please try the MEMORY PURGE command, otherwise the only other option is to shutdown and restart the instance.";
const HIGH_FRAG: &str = "High total RSS: This instance has a memory fragmentation and RSS overhead greater than 1.4 (this means that the Resident Set Size of the Redis process is much larger than the sum of the logical allocations Redis performed). This problem is usually due either to a large peak memory (check if there is a peak memory entry above in the report) or may result from a workload that causes the allocator to fragment memory a lot. If the problem is a large peak memory, then there is no issue. Otherwise, make sure you are using the Jemalloc allocator and not the default libc malloc. Note: The currently used allocator is \"%s\".";
const HIGH_ALLOC_FRAG: &str = "High allocator fragmentation: This instance has an allocator external fragmentation greater than 1.1. This problem is usually due either to a large peak memory (check if there is a peak memory entry above in the report) or may result from a workload that causes the allocator to fragment memory a lot. You can try enabling 'activedefrag' config option.";
const HIGH_ALLOC_RSS: &str = "High allocator RSS overhead: This instance has an RSS memory overhead is greater than 1.1 (this means that the Resident Set Size of the allocator is much larger than the sum what the allocator actually holds). This problem is usually due to a large peak memory (check if there is a peak memory entry above in the report), you can try the MEMORY PURGE command to reclaim it.";
const HIGH_PROC_RSS: &str = "High process RSS overhead: This instance has non-allocator RSS memory overhead is greater than 1.1 (this means that the Resident Set Size of the Redis process is much larger than the RSS the allocator holds). This problem may be due to Lua scripts or Modules.";
const BIG_CLIENT_BUF: &str = "Big client buffers: The clients output buffers in this instance are greater than 200K per client (on average). This may result from different causes, like Pub/Sub clients subscribed to channels bot not receiving data fast enough, so that data piles on the Redis instance output buffer, or clients sending commands with large replies or very large sequences of commands in the same pipeline. Please use the CLIENT LIST command in order to investigate the issue if it causes problems in your instance, or to understand better why certain clients are using a big amount of memory.";
const MANY_SCRIPTS: &str = "Many scripts: There seem to be many cached scripts in this instance (more than 1000). This may be because scripts are generated and `EVAL`ed, instead of being parameterized (with KEYS and ARGV), `SCRIPT LOAD`ed and `EVALSHA`ed. Unless `SCRIPT FLUSH` is called periodically, the scripts' caches may end up consuming most of your memory.";

/// MEMORY MALLOC-STATS
///
/// Redis built with jemalloc answers jemalloc's own report; ferrokv
/// answers mimalloc's, which its API prints in one cheap call.
pub fn memory_malloc_stats(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    let text = crate::alloc::allocator_stats_text();
    ctx.out.verbatim("txt", text.as_bytes());
    Ok(())
}

/// MEMORY PURGE
///
/// Gives free memory back to the OS (mimalloc's `mi_collect`), as Redis's
/// jemalloc_purge does.
pub fn memory_purge(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    crate::alloc::return_free_memory();
    ctx.out.ok();
    Ok(())
}

/// Appends INFO's memory section, fields in Redis 7.0's order.
pub fn info_section(store: &Store, clients: &Slab<Client>, t: &mut String) {
    use super::server::human_bytes as human;
    let m = MemoryStats::gather(store, clients);
    let maxmemory: u64 = store
        .config
        .get("maxmemory")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let not_counted = crate::evict::usage(store.effects.aof.buf.len()).not_counted;
    let used = m.total_allocated;
    let percent = |f: f32| format!("{:.2}%", f64::from(f));
    let _ = write!(
        t,
        "# Memory\r\nused_memory:{used}\r\nused_memory_human:{}\r\nused_memory_rss:{}\r\nused_memory_rss_human:{}\r\nused_memory_peak:{}\r\nused_memory_peak_human:{}\r\nused_memory_peak_perc:{}\r\nused_memory_overhead:{}\r\nused_memory_startup:{}\r\nused_memory_dataset:{}\r\nused_memory_dataset_perc:{}\r\nallocator_allocated:{}\r\nallocator_active:{}\r\nallocator_resident:{}\r\ntotal_system_memory:{}\r\ntotal_system_memory_human:{}\r\n",
        human(used),
        m.rss,
        human(m.rss),
        m.peak_allocated,
        human(m.peak_allocated),
        percent(m.peak_perc),
        m.overhead_total,
        m.startup_allocated,
        m.dataset,
        percent(m.dataset_perc),
        m.allocator_allocated,
        m.allocator_active,
        m.allocator_resident,
        crate::alloc::total_system_memory(),
        human(crate::alloc::total_system_memory()),
    );
    t.push_str(&store.scripting.memory_info(human));
    let _ = write!(
        t,
        "maxmemory:{maxmemory}\r\nmaxmemory_human:{}\r\nmaxmemory_policy:{}\r\nallocator_frag_ratio:{:.2}\r\nallocator_frag_bytes:{}\r\nallocator_rss_ratio:{:.2}\r\nallocator_rss_bytes:{}\r\nrss_overhead_ratio:{:.2}\r\nrss_overhead_bytes:{}\r\nmem_fragmentation_ratio:{:.2}\r\nmem_fragmentation_bytes:{}\r\nmem_not_counted_for_evict:{not_counted}\r\nmem_replication_backlog:0\r\nmem_total_replication_buffers:0\r\nmem_clients_slaves:0\r\nmem_clients_normal:{}\r\nmem_cluster_links:0\r\nmem_aof_buffer:{}\r\nmem_allocator:{}\r\nactive_defrag_running:0\r\nlazyfree_pending_objects:{}\r\nlazyfreed_objects:{}\r\n",
        human(maxmemory),
        store.config.get("maxmemory-policy").unwrap_or("noeviction"),
        f64::from(m.allocator_frag),
        m.allocator_frag_bytes,
        f64::from(m.allocator_rss),
        m.allocator_rss_bytes,
        f64::from(m.rss_extra),
        m.rss_extra_bytes,
        f64::from(m.total_frag),
        m.total_frag_bytes,
        m.clients_normal,
        m.aof_buffer,
        crate::alloc::allocator_name(),
        crate::lazyfree::pending_objects(),
        crate::lazyfree::freed_objects(),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats(total: u64, peak: u64, rss: u64) -> MemoryStats {
        MemoryStats {
            peak_allocated: peak,
            total_allocated: total,
            startup_allocated: 1 << 20,
            clients_normal: 0,
            aof_buffer: 0,
            lua_caches: 0,
            functions_caches: 200,
            dbs: Vec::new(),
            overhead_total: 1 << 20,
            total_keys: 0,
            bytes_per_key: 0,
            dataset: total - (1 << 20),
            dataset_perc: 0.0,
            peak_perc: 0.0,
            rss,
            allocator_allocated: total,
            allocator_active: rss,
            allocator_resident: rss,
            allocator_frag: ratio(rss, total),
            allocator_frag_bytes: difference(rss, total),
            allocator_rss: 1.0,
            allocator_rss_bytes: 0,
            rss_extra: 1.0,
            rss_extra_bytes: 0,
            total_frag: ratio(rss, total),
            total_frag_bytes: difference(rss, total),
        }
    }

    #[test]
    fn doctor_reports_as_redis_does() {
        let small = doctor_report(&stats(1 << 20, 1 << 20, 8 << 20), 1, 0);
        assert!(small.starts_with("Hi Sam, this instance is empty"));
        let healthy = doctor_report(&stats(100 << 20, 110 << 20, 110 << 20), 1, 0);
        assert_eq!(
            healthy,
            "Hi Sam, I can't find any memory issue in your instance. I can only account for what occurs on this base.\n"
        );
        let peaked = doctor_report(&stats(100 << 20, 400 << 20, 400 << 20), 1, 2000);
        assert!(peaked.starts_with(
            "Sam, I detected a few issues in this Redis instance memory implants:\n\n * Peak memory:"
        ));
        assert!(peaked.contains("The currently used allocator is \"mimalloc-"));
        assert!(peaked.contains(" * Many scripts:"));
        assert!(peaked.ends_with("\n\nI'm here to keep you safe, Sam. I want to help you.\n"));
    }

    #[test]
    fn big_client_buffers_are_per_connection() {
        let mut m = stats(100 << 20, 100 << 20, 100 << 20);
        m.clients_normal = 4 << 20;
        assert!(findings(&m, 10, 0).big_client_buf);
        assert!(!findings(&m, 100, 0).big_client_buf);
        assert!(!findings(&m, 0, 0).big_client_buf);
    }
}
