//! LATENCY: the latency monitor's events (`crate::latency_monitor`) and
//! the per-command latency histograms (`crate::latency`).

use bytes::Bytes;

use super::{CmdError, CmdResult, Command, Ctx};
use crate::latency::LatencyHistogram;
use crate::latency_monitor::{self, DoctorConfig};
use crate::store::unix_ms;

const HELP: &[&str] = &[
    "LATENCY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "DOCTOR",
    "    Return a human readable latency analysis report.",
    "GRAPH <event>",
    "    Return an ASCII latency graph for the <event> class.",
    "HISTORY <event>",
    "    Return time-latency samples for the <event> class.",
    "LATEST",
    "    Return the latest latency samples for all events.",
    "RESET [<event> ...]",
    "    Reset latency data of one or more <event> classes.",
    "    (default: reset all data for all event classes)",
    "HISTOGRAM [COMMAND ...]",
    "    Return a cumulative distribution of latencies in the format of a histogram for the specified command names.",
    "    If no commands are specified then all histograms are replied.",
    "HELP",
    "    Prints this help.",
];

fn now_s() -> i64 {
    (unix_ms() / 1000) as i64
}

/// LATENCY LATEST
///
/// For every event: its name, the time and latency of its latest sample,
/// and its worst latency.
pub fn latency_latest(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    let events = &ctx.store.latency_events.series;
    ctx.out.array(events.len());
    for s in events {
        let latest = s.latest();
        ctx.out.array(4);
        ctx.out.bulk(s.event.as_bytes());
        ctx.out.int(i64::from(latest.time_s));
        ctx.out.int(i64::from(latest.latency_ms));
        ctx.out.int(i64::from(s.max_ms));
    }
    Ok(())
}

/// LATENCY HISTORY event
///
/// The event's samples, oldest first, as [time, latency] pairs; an event
/// never seen has none.
pub fn latency_history(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let samples: Vec<_> = ctx
        .store
        .latency_events
        .get(&args[2])
        .map(|s| s.samples().collect())
        .unwrap_or_default();
    ctx.out.array(samples.len());
    for s in samples {
        ctx.out.array(2);
        ctx.out.int(i64::from(s.time_s));
        ctx.out.int(i64::from(s.latency_ms));
    }
    Ok(())
}

/// LATENCY GRAPH event
pub fn latency_graph(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let Some(series) = ctx.store.latency_events.get(&args[2]) else {
        return Err(CmdError::err_quoting(
            "No samples available for event '",
            &args[2],
            "'",
        ));
    };
    let graph = latency_monitor::graph(series, now_s());
    ctx.out.verbatim("txt", graph.as_bytes());
    Ok(())
}

/// LATENCY DOCTOR
pub fn latency_doctor(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    let config = &ctx.store.config;
    let doctor = DoctorConfig {
        slowlog_log_slower_than_us: config.slowlog_log_slower_than_us,
        appendfsync_always: config.get("appendfsync") == Some("always"),
        hz: config.hz,
        anon_huge_pages: latency_monitor::anon_huge_pages(),
    };
    let report = latency_monitor::doctor(&ctx.store.latency_events, &doctor, now_s());
    ctx.out.verbatim("txt", report.as_bytes());
    Ok(())
}

/// LATENCY RESET [event ...]
///
/// Drops the named events' samples (any case), or every event's; replies
/// how many events were dropped.
pub fn latency_reset(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let events = &mut ctx.store.latency_events;
    let dropped = if args.len() == 2 {
        events.reset(None)
    } else {
        args[2..].iter().map(|e| events.reset(Some(e))).sum()
    };
    ctx.out.int(dropped as i64);
    Ok(())
}

/// LATENCY HISTOGRAM [command ...]
///
/// A map from each command with a latency histogram (every one, or those
/// named; a container named stands for its subcommands) to its calls and
/// its cumulative distribution: microseconds to calls that took at most
/// that long, by powers of two.
pub fn latency_histogram(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let stats = &ctx.store.stats.commands;
    let histogram = |cmd: &'static Command| {
        stats
            .get(&crate::store::CmdKey(cmd))
            .and_then(|s| s.latency.as_deref())
    };
    let mut found: Vec<(&'static str, &LatencyHistogram)> = Vec::new();
    if args.len() == 2 {
        found = stats
            .iter()
            .filter_map(|(key, s)| Some((key.0.name, s.latency.as_deref()?)))
            .collect();
        found.sort_by_key(|&(name, _)| name);
    }
    // Unknown names are skipped; a name given twice is answered twice.
    for cmd in args[2..]
        .iter()
        .filter_map(|a| super::introspect::lookup_full_name(a))
    {
        if let Some(h) = histogram(cmd) {
            found.push((cmd.name, h));
        }
        for sub in cmd.subcommands {
            if let Some(h) = histogram(sub) {
                found.push((sub.name, h));
            }
        }
    }
    let out = &mut *ctx.out;
    out.map(found.len());
    for (name, h) in found {
        out.bulk(name.as_bytes());
        out.map(2);
        out.bulk(b"calls");
        out.int(h.total() as i64);
        out.bulk(b"histogram_usec");
        let buckets = h.cumulative_usec();
        out.map(buckets.len());
        for (usec, count) in buckets {
            out.int(usec as i64);
            out.int(count as i64);
        }
    }
    Ok(())
}

/// LATENCY HELP
pub fn latency_help(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    super::connection::reply_help(ctx, HELP);
    Ok(())
}
