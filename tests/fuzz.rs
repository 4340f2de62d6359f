//! The differential fuzzer: seeded random command sequences, sent to
//! ferrokv and to a real `redis-server`, every reply and the whole dataset
//! compared.
//!
//! # What it does
//!
//! A sequence is a few dozen commands over five keys (so types collide and
//! WRONGTYPE comes up) on three connections: connection 0 sends most
//! commands and every transaction; connections 1 and 2 mostly send
//! blocking commands, so that which writes wake them, in which order and
//! with what, is compared too. Sequences start with random encoding limits
//! (`hash-max-listpack-entries 2` ...) and protocols (RESP2 or RESP3 per
//! connection); about a third are stream sequences, in which stream
//! commands weigh more, so that streams grow, split their nodes and have
//! groups with pending entries. Commands are generated for every command
//! ferrokv implements, from the command table's own argument grammar, with
//! hostile values (huge, negative and non-numeric integers, `inf`, `nan`,
//! `1e309`, padded floats, empty and binary strings, out-of-range indexes),
//! options moved and repeated, arguments dropped and added, odd case.
//! Scripts are random Lua bodies that call random commands generated the
//! same way (`fuzz/generate/script.rs`), so every command is also run from
//! Lua and its reply converted both ways. See
//! `fuzz/gen.rs`; `fuzz/norm.rs` says what is compared loosely and why;
//! `fuzz/exec.rs` how wake-ups are compared without timing races.
//!
//! After each sequence the dataset of both servers is compared key by key
//! (type, encoding, TTL, value), then by DEBUG DIGEST. The server under test keeps an
//! append-only file: it then loads its dataset back from it (`DEBUG
//! LOADAOF`), which must agree with the reference's again (`fuzz/exec.rs`,
//! "The AOF replay"). The first difference stops the run: the
//! sequence is shrunk to the shortest one that fails the same way
//! (`fuzz/shrink.rs`) and printed as a `tests/diff` script, ready to become
//! a regression case, with the seed that found it.
//!
//! # Running
//!
//! ```text
//! cargo test --test fuzz                          # fixed seeds, bounded
//! scripts/fuzz.sh --seconds 600 --seed 7          # as long as wanted
//! ```
//!
//! `FERROKV_FUZZ_SECONDS` and `FERROKV_FUZZ_SEED` (what the script sets)
//! replace the fixed seeds with one long run. `FERROKV_DIFF_BIN_CMD`
//! replaces ferrokv as in tests/differential.rs (fuzzing redis-server
//! against itself checks the fuzzer's own determinism).
//!
//! # Extending it
//!
//! A new command in the table is generated from its docs with no change
//! here; `every_command_is_generated` fails until it is (or until it is
//! listed in `gen::NOT_GENERATED` with a reason). Give it a rule in
//! `Norm::for_command` when its reply is unordered or random, and an entry
//! in `Gen::special` or `Gen::value` when its arguments need values the
//! docs cannot say (a count that must match, an ID).

mod common;
#[path = "fuzz/mod.rs"]
mod fuzz;

use std::time::{Duration, Instant};

use common::Server;
use fuzz::exec::Pair;
use fuzz::generate::Gen;

/// The seeds `cargo test` runs, and how many sequences each.
const FIXED_SEEDS: &[u64] = &[1, 2, 3];
const SEQUENCES_PER_SEED: usize = 150;

/// Starts the server under test: ferrokv, or what `FERROKV_DIFF_BIN_CMD`
/// names, with an AOF (`fuzz::exec::SUBJECT_ARGS`).
fn start_subject() -> Server {
    match std::env::var_os("FERROKV_DIFF_BIN_CMD") {
        None => common::start_ferrokv_with(fuzz::exec::SUBJECT_ARGS, &[]),
        Some(command) => {
            let command = command.to_string_lossy().into_owned();
            let mut words = command.split_whitespace();
            let program = words.next().expect("FERROKV_DIFF_BIN_CMD is empty");
            let leading: Vec<std::ffi::OsString> = words.map(Into::into).collect();
            let program =
                common::find_on_path(program).unwrap_or_else(|| std::path::PathBuf::from(program));
            Server::start(
                &command,
                program.as_os_str(),
                &leading,
                &[common::REDIS_TEST_ARGS, fuzz::exec::SUBJECT_ARGS].concat(),
            )
            .unwrap_or_else(|e| panic!("FERROKV_DIFF_BIN_CMD: {e}"))
        }
    }
}

/// When to stop a run.
enum Budget {
    Sequences(usize),
    Until(Instant),
}

/// What a run did, for the report.
struct Report {
    sequences: usize,
    commands: usize,
    /// Sequences that stopped at a known difference (see
    /// `fuzz::exec::KNOWN_DIFFERENCES`).
    known: usize,
    elapsed: Duration,
}

/// Runs sequences from `seed` until the budget is spent; a difference
/// panics with the shrunk script.
fn fuzz(seed: u64, budget: Budget) -> Option<Report> {
    let Some(reference) = common::start_redis() else {
        println!("SKIPPED: redis-server not found on PATH; the differential fuzzer did not run");
        return None;
    };
    let mut pair = Pair::start(reference, start_subject).unwrap_or_else(|e| panic!("{e}"));
    let mut generator = Gen::new(seed);
    // Survey mode (FERROKV_FUZZ_SURVEY=1, for whoever is fixing what the
    // fuzzer finds): print each kind of difference once, unshrunk, and go on.
    let survey = std::env::var_os("FERROKV_FUZZ_SURVEY").is_some();
    let mut seen: Vec<String> = Vec::new();
    let started = Instant::now();
    let mut report = Report {
        sequences: 0,
        commands: 0,
        known: 0,
        elapsed: Duration::ZERO,
    };
    loop {
        match budget {
            Budget::Sequences(n) if report.sequences >= n => break,
            Budget::Until(t) if Instant::now() >= t => break,
            _ => {}
        }
        let steps = generator.sequence();
        pair.reset()
            .unwrap_or_else(|e| panic!("seed {seed}: reset: {e}"));
        let outcome = pair.run(&steps);
        report.sequences += 1;
        report.commands += steps.len();
        if let Some(failure) = outcome.failure {
            if let Some(why) = fuzz::exec::known_difference(&steps, &failure) {
                if report.known == 0 {
                    println!("seed {seed}: a known difference, counted and passed over: {why}");
                }
                report.known += 1;
                continue;
            }
            if survey && seen.contains(&failure.signature) {
                continue;
            }
            let (shrunk, last) = fuzz::shrink::minimize(&mut pair, &steps, &failure);
            let shown = last.failure.unwrap_or_else(|| failure.clone());
            let replay = shown.signature.starts_with("aof:");
            let mut message = format!(
                "seed {seed}, sequence {}: redis-server and the server under test differ \
                 ({}{})\n{}\n\nShrunk to {} of {} steps; as a tests/diff script:\n\n{}",
                report.sequences,
                if replay { "AOF replay, " } else { "" },
                shown.signature,
                shown.detail,
                shrunk.len(),
                steps.len(),
                fuzz::shrink::script(&shrunk, &last.events)
            );
            if replay {
                message.push_str(
                    "# AOF replay: the script's dataset agrees; the difference is in what the \
                     server under test,\n# started with --appendonly yes, holds after DEBUG \
                     LOADAOF (its other connections closed first),\n# compared with what \
                     redis-server holds without the replay. tests/diff scripts run without an \
                     AOF:\n# reproduce it by hand, or as a test in tests/persistence.rs.\n",
                );
            }
            if shown.signature.ends_with("crash") {
                message.push_str("\nThe end of its log:\n");
                message.push_str(&pair.subject_log_tail());
            }
            if survey {
                println!("{message}\n");
                seen.push(failure.signature);
                continue;
            }
            panic!("{message}");
        }
    }
    report.elapsed = started.elapsed();
    Some(report)
}

fn env_u64(name: &str) -> Option<u64> {
    let value = std::env::var(name).ok()?;
    Some(
        value
            .parse()
            .unwrap_or_else(|_| panic!("{name} must be a whole number, not {value:?}")),
    )
}

/// The fixed seeds (or one long run when `FERROKV_FUZZ_SECONDS` is set).
#[test]
fn fuzz_against_redis() {
    if let Some(seconds) = env_u64("FERROKV_FUZZ_SECONDS") {
        let seed = env_u64("FERROKV_FUZZ_SEED").unwrap_or(1);
        let until = Instant::now() + Duration::from_secs(seconds);
        if let Some(r) = fuzz(seed, Budget::Until(until)) {
            println!(
                "seed {seed}: {} sequences, {} commands in {:.1} s: {:.0} commands/s, \
                 no difference ({} known ones passed over)",
                r.sequences,
                r.commands,
                r.elapsed.as_secs_f64(),
                r.commands as f64 / r.elapsed.as_secs_f64(),
                r.known
            );
        }
        return;
    }
    for &seed in FIXED_SEEDS {
        if let Some(r) = fuzz(seed, Budget::Sequences(SEQUENCES_PER_SEED)) {
            println!(
                "seed {seed}: {} sequences, {} commands in {:.1} s",
                r.sequences,
                r.commands,
                r.elapsed.as_secs_f64()
            );
        }
    }
}

/// Every command ferrokv implements is generated, or excluded with a
/// reason: a command added to the table without either fails here.
#[test]
fn every_command_is_generated() {
    let generated = Gen::new(1).generated_names();
    let excluded: Vec<&str> = fuzz::generate::NOT_GENERATED
        .iter()
        .map(|(n, _)| *n)
        .collect();
    let missing: Vec<&str> = fuzz::generate::implemented()
        .iter()
        .map(|c| c.name)
        .filter(|n| !generated.contains(n) && !excluded.contains(n))
        .collect();
    assert!(
        missing.is_empty(),
        "commands the fuzzer never generates: {missing:?}"
    );
}

/// The generator's script bodies compile in Redis (a shebang may be
/// refused, on purpose), so that scripts run their commands rather than
/// stop at a syntax error.
#[test]
fn script_bodies_compile() {
    let Some(redis) = common::start_redis() else {
        println!("SKIPPED: redis-server not found on PATH");
        return;
    };
    let mut client = redis.connect();
    let mut refused = Vec::new();
    for body in Gen::new(1).script_bodies(2000) {
        let reply = client.cmd(&[&b"SCRIPT"[..], b"LOAD", &body]);
        if reply.starts_with(b"-") && !body.starts_with(b"#!") {
            refused.push(format!(
                "{}\n{}",
                String::from_utf8_lossy(&reply),
                String::from_utf8_lossy(&body)
            ));
        }
    }
    assert!(refused.is_empty(), "{}", refused.join("\n\n"));
}

/// Script words split back into the bytes they were made from.
#[test]
fn quoted_arguments_split_back() {
    let words: &[&[u8]] = &[
        b"plain",
        b"",
        b"a b",
        b"\x00\xff\r\n\t",
        b"\"q\"",
        b"it's",
        b"back\\slash",
        b"~x",
        b"#x",
        b"${id:1}",
    ];
    let line: Vec<String> = words.iter().map(|w| fuzz::shrink::quote(w)).collect();
    let mut split = Vec::new();
    assert!(ferrokv::resp::parser::split_inline_args(
        line.join(" ").as_bytes(),
        &mut split
    ));
    let expected: Vec<Vec<u8>> = words.iter().map(|w| w.to_vec()).collect();
    assert_eq!(split, expected);
}

/// The same seed generates the same sequence.
#[test]
fn sequences_are_reproducible() {
    let render = |seed| {
        let mut generator = Gen::new(seed);
        (0..20)
            .flat_map(|_| generator.sequence())
            .map(|s| (s.conn, s.args))
            .collect::<Vec<_>>()
    };
    assert_eq!(render(7), render(7));
    assert_ne!(render(7), render(8));
}

/// The known difference the fuzzer passes over is real and still there:
/// SWAPDB that brings a list under a blocked client's key wakes it, as
/// in Redis (once a known difference, before the effects path).
#[test]
fn swapdb_wakes_a_blocked_client_as_redis_does() {
    let Some(reference) = common::start_redis() else {
        println!("SKIPPED: redis-server not found on PATH");
        return;
    };
    let mut pair = Pair::start(reference, start_subject).unwrap_or_else(|e| panic!("{e}"));
    let step = |conn: usize, words: &[&str], timeout| fuzz::generate::Step {
        conn,
        args: words.iter().map(|w| w.as_bytes().to_vec()).collect(),
        norm: fuzz::norm::Norm::Exact,
        timeout,
    };
    let steps = vec![
        step(
            1,
            &["BLPOP", "k0", "0"],
            Some(fuzz::generate::Timeout::Long),
        ),
        step(0, &["SELECT", "1"], None),
        step(0, &["RPUSH", "k0", "a"], None),
        step(0, &["SWAPDB", "0", "1"], None),
    ];
    pair.reset().unwrap_or_else(|e| panic!("{e}"));
    let outcome = pair.run(&steps);
    assert!(outcome.failure.is_none(), "{:?}", outcome.failure);
}
