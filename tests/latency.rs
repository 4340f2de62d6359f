//! The latency monitor with real durations: what `tests/diff/latency.redis`
//! can only compare masked. `DEBUG SLEEP` makes a command spike past
//! `latency-monitor-threshold`; many keys expiring at once and a sudden
//! `maxmemory` make the expire and eviction cycles spike. The replies of
//! LATENCY LATEST, HISTORY, GRAPH and DOCTOR are checked for Redis's
//! structure and for what the samples imply, never for timings beyond
//! "at least what DEBUG SLEEP slept".
//!
//! # The server under test
//!
//! By default ferrokv; with `FERROKV_LATENCY_SERVER=redis` redis-server,
//! which is how every expectation here was checked (redis-server 7.0.15):
//!
//! ```text
//! FERROKV_LATENCY_SERVER=redis cargo test --test latency
//! ```

mod common;

use std::time::Duration;

use common::replies::{as_bulk, as_int, call, command, int, ok, pipeline};
use common::{Frame, Server, expect_array, unix_ms, wait_until_within};

const SERVER_ENV: &str = "FERROKV_LATENCY_SERVER";

/// How long a polled condition may take. It only turns a hang into a
/// failure.
const CONDITION_TIMEOUT: Duration = Duration::from_secs(20);

const DISABLED: &str = "I'm sorry, Dave, I can't do that. Latency monitoring is disabled in this Redis instance. You may use \"CONFIG SET latency-monitor-threshold <milliseconds>.\" in order to enable it. If we weren't in a deep space mission I'd suggest to take a look at https://redis.io/topics/latency-monitor.\n";

fn start() -> Option<Server> {
    common::start_under_test_with(SERVER_ENV, "the latency tests", &[], &[])
}

fn now_s() -> i64 {
    unix_ms() / 1000
}

fn text(frame: Frame) -> String {
    String::from_utf8(as_bulk(frame, &["LATENCY"])).expect("LATENCY's text is UTF-8")
}

/// LATENCY LATEST as (event, time, latest, max).
fn latest(c: &mut common::Client) -> Vec<(String, i64, i64, i64)> {
    expect_array(call(c, &["LATENCY", "LATEST"]))
        .into_iter()
        .map(|e| match expect_array(e).as_slice() {
            [
                Frame::Bulk(name),
                Frame::Integer(t),
                Frame::Integer(l),
                Frame::Integer(m),
            ] => (String::from_utf8_lossy(name).into_owned(), *t, *l, *m),
            other => panic!("a LATEST entry is [event, time, latency, max], got {other:?}"),
        })
        .collect()
}

/// LATENCY HISTORY event as (time, latency), oldest first.
fn history(c: &mut common::Client, event: &str) -> Vec<(i64, i64)> {
    expect_array(call(c, &["LATENCY", "HISTORY", event]))
        .into_iter()
        .map(|s| match expect_array(s).as_slice() {
            [Frame::Integer(t), Frame::Integer(l)] => (*t, *l),
            other => panic!("a HISTORY sample is [time, latency], got {other:?}"),
        })
        .collect()
}

#[test]
fn a_slow_command_is_a_spike_of_the_command_event() {
    let Some(server) = start() else { return };
    let mut c = server.connect();
    ok(&mut c, &["CONFIG", "SET", "latency-monitor-threshold", "1"]);
    let before = now_s();
    ok(&mut c, &["DEBUG", "SLEEP", "0.01"]);
    ok(&mut c, &["DEBUG", "SLEEP", "0.02"]);
    let after = now_s();

    let events = latest(&mut c);
    let Some(&(_, time, last, max)) = events.iter().find(|e| e.0 == "command") else {
        panic!("no command event in {events:?}");
    };
    assert!(
        (before..=after).contains(&time),
        "{time} not in {before}..={after}"
    );
    assert!(
        last >= 10 && max >= 20 && max >= last,
        "latest {last}, max {max}"
    );

    // One sample per second, the worst of it, oldest first.
    let samples = history(&mut c, "command");
    assert!(!samples.is_empty(), "{samples:?}");
    assert!(samples.windows(2).all(|w| w[0].0 < w[1].0), "{samples:?}");
    assert_eq!(samples.iter().map(|s| s.1).max(), Some(max));
    assert!(
        history(&mut c, "COMMAND").is_empty(),
        "HISTORY matches case"
    );

    let graph = text(call(&mut c, &["LATENCY", "GRAPH", "command"]));
    check_graph(&graph, "command", &samples, max);

    let doctor = text(call(&mut c, &["LATENCY", "DOCTOR"]));
    assert!(
        doctor.starts_with("Dave, I have observed latency spikes in this Redis instance. You don't mind talking about it, do you Dave?\n\n"),
        "{doctor}"
    );
    let line = doctor
        .lines()
        .find(|l| l.contains(". command: "))
        .unwrap_or_else(|| panic!("no command line in {doctor}"));
    assert!(
        line.contains(&format!(
            "command: {} latency spikes (average ",
            samples.len()
        )) && line.ends_with(&format!("Worst all time event {max}ms.")),
        "{line}"
    );
    // The default slow log (10 ms) logs less than a 1 ms threshold would.
    assert!(doctor.contains("\nI have a few advices for you:\n\n- Your current Slow Log configuration only logs events that are slower than your configured latency monitor threshold. Please use 'CONFIG SET slowlog-log-slower-than 1000'.\n- Check your Slow Log"), "{doctor}");

    // Off again and reset: nothing left, and DOCTOR says it is disabled.
    ok(&mut c, &["CONFIG", "SET", "latency-monitor-threshold", "0"]);
    assert!(int(&mut c, &["LATENCY", "RESET"]) >= 1);
    assert!(latest(&mut c).is_empty());
    assert_eq!(text(call(&mut c, &["LATENCY", "DOCTOR"])), DISABLED);
    ok(&mut c, &["DEBUG", "SLEEP", "0.01"]);
    assert!(latest(&mut c).is_empty(), "no samples while off");
}

/// A graph of `samples` as Redis draws it: the header with the samples'
/// extremes and the all-time high, a rule of 80 dashes, four rows of bars
/// one column per sample, a blank row, then each sample's age read
/// downwards ("0s", "12s").
fn check_graph(graph: &str, event: &str, samples: &[(i64, i64)], max: i64) {
    let high = samples.iter().map(|s| s.1).max().unwrap_or(0);
    let low = samples.iter().map(|s| s.1).min().unwrap_or(0);
    let lines: Vec<&str> = graph.split('\n').collect();
    assert_eq!(
        lines[0],
        format!("{event} - high {high} ms, low {low} ms (all time high {max} ms)")
    );
    assert_eq!(lines[1], "-".repeat(80));
    let width = samples.len();
    for bars in &lines[2..6] {
        assert_eq!(bars.len(), width, "{graph:?}");
        assert!(bars.chars().all(|ch| " _o#|".contains(ch)), "{graph:?}");
    }
    // The lowest sample is drawn at the bottom, the highest at the top.
    assert!(lines[5].chars().all(|ch| ch != ' '), "{graph:?}");
    assert_eq!(lines[6], " ".repeat(width));
    let labels = &lines[7..lines.len() - 1];
    assert_eq!(lines.last(), Some(&""), "the graph ends with a newline");
    for (j, &(time, _)) in samples.iter().enumerate() {
        let label: String = labels
            .iter()
            .filter_map(|l| l.chars().nth(j))
            .filter(|ch| *ch != ' ')
            .collect();
        let age = now_s() - time;
        assert!(label.ends_with('s'), "{label:?} in {graph:?}");
        let shown: i64 = label.trim_end_matches('s').parse().expect("an age");
        assert!(shown <= age && age - shown <= 2, "{label} for {age}s");
    }
}

/// Sets 200,000 keys, each with `options` (`PXAT ms`), pipelined.
fn fill(c: &mut common::Client, options: &[&str]) {
    for batch in 0..20 {
        let sets: Vec<_> = (0..10_000)
            .map(|i| {
                let key = format!("k:{batch}:{i}");
                command(&[&["SET", key.as_str(), "v"], options].concat())
            })
            .collect();
        pipeline(c, &sets);
    }
}

#[test]
fn many_keys_expiring_at_once_spike_the_expire_cycle() {
    let Some(server) = start() else { return };
    let mut c = server.connect();
    ok(&mut c, &["DEBUG", "SET-ACTIVE-EXPIRE", "0"]);
    let at = (unix_ms() + 100).to_string();
    fill(&mut c, &["PXAT", at.as_str()]);
    wait_until_within(CONDITION_TIMEOUT, "the keys to be past their time", || {
        unix_ms() > at.parse::<i64>().expect("a number") + 10
    });
    ok(&mut c, &["CONFIG", "SET", "latency-monitor-threshold", "1"]);
    ok(&mut c, &["DEBUG", "SET-ACTIVE-EXPIRE", "1"]);
    wait_until_within(CONDITION_TIMEOUT, "an expire-cycle sample", || {
        !history(&mut c, "expire-cycle").is_empty()
    });
    let events = latest(&mut c);
    let cycle = events.iter().find(|e| e.0 == "expire-cycle");
    assert!(cycle.is_some_and(|e| e.2 >= 1 && e.3 >= e.2), "{events:?}");
    let doctor = text(call(&mut c, &["LATENCY", "DOCTOR"]));
    assert!(doctor.contains("- In order to make the Redis keys expiring process more incremental, try to set the 'hz' configuration parameter to 100 using 'CONFIG SET hz 100'.\n"), "{doctor}");
}

#[test]
fn a_sudden_maxmemory_spikes_the_eviction_cycle() {
    let Some(server) = start() else { return };
    let mut c = server.connect();
    fill(&mut c, &[]);
    ok(
        &mut c,
        &["CONFIG", "SET", "maxmemory-policy", "allkeys-random"],
    );
    // No time limit: the whole eviction is one cycle.
    ok(
        &mut c,
        &["CONFIG", "SET", "maxmemory-eviction-tenacity", "100"],
    );
    ok(&mut c, &["CONFIG", "SET", "latency-monitor-threshold", "1"]);
    ok(&mut c, &["CONFIG", "SET", "maxmemory", "1mb"]);
    wait_until_within(CONDITION_TIMEOUT, "an eviction-cycle sample", || {
        !history(&mut c, "eviction-cycle").is_empty()
    });
    ok(&mut c, &["CONFIG", "SET", "maxmemory", "0"]);
    assert!(as_int(call(&mut c, &["DBSIZE"]), &["DBSIZE"]) < 200_000);
    let doctor = text(call(&mut c, &["LATENCY", "DOCTOR"]));
    assert!(doctor.contains(". eviction-cycle: "), "{doctor}");
    assert!(
        doctor.contains("- Sudden changes to the 'maxmemory' setting via 'CONFIG SET'"),
        "{doctor}"
    );
}
