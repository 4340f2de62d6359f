//! A fuzzer for the readers of untrusted bytes, on stable Rust, as a test
//! crate: the RESP request parser, and the AOF's command reader and
//! manifest parser (see "The AOF's readers" below).
//!
//! The parser reads bytes from anyone who can connect, so it must survive
//! every input, allocate only for bytes that arrived (never for a length a
//! client merely claims), and split requests exactly as Redis does whatever
//! way the bytes are cut into reads. Example-based tests cover the shapes
//! someone thought of; this crate generates and mutates inputs to find the
//! ones nobody did.
//!
//! # What is checked
//!
//! For each input of the RESP parser (see `parser_fuzz/request_target.rs`):
//!
//! - **No panic.** Each input runs under `catch_unwind`; a panic is a
//!   failure.
//! - **No allocation from a claimed length.** The crate installs a counting
//!   global allocator (`parser_fuzz/meter.rs`) that keeps, per thread, the
//!   bytes live and their peak. Every `Parser::parse` call is measured, and
//!   it fails if it allocated more than a bound linear in the bytes
//!   buffered; the constant is argued beside it. Inputs such as
//!   `*2147483647\r\n` and `*1\r\n$536870912\r\n` claim far more.
//! - **The same parse as a reference.** `parser_fuzz/reference.rs` is a
//!   deliberately simple whole-buffer parser written from the rules of
//!   Redis 7.0.15's `processMultibulkBuffer`,
//!   `processInlineBuffer` and `sdssplitargs`. The real parser is fed the
//!   way the server feeds it (append to a `BytesMut`, parse until
//!   `Incomplete`) and must produce the same commands, the same end (the
//!   same protocol error, or none) and the same unfinished bytes. Some runs
//!   use a small `max_bulk_len`.
//! - **The same parse however the bytes arrive.** Inputs of at most
//!   `INLINE_MAX_SIZE_BYTES` are also fed one byte at a time (if short) and
//!   in random reads. Longer inputs are fed whole: past the limit, whether a
//!   long line is "too big" depends on how its bytes arrive, in Redis too.
//!
//! - **Redis's caps before AUTH.** Some runs parse as for a client that
//!   must still authenticate (at most 10 arguments of at most 16 KB).
//!
//! The first runs of this fuzzer found five places where the parser
//! differed from Redis 7.0.15 (the count limit, when `$` is checked, NUL
//! bytes hiding line ends from `strchr`, `\v` as C whitespace, the raw byte
//! in "expected '$'"); each was confirmed against redis-server and fixed,
//! and the reference follows Redis.
//!
//! # The AOF's readers
//!
//! An AOF directory is written by ferrokv or redis-server, but read from
//! whatever anyone who can write there left, and a crash can cut a file
//! anywhere. Two more targets take those bytes:
//!
//! - `persist::aof::format::next_command`, which the loader reads command
//!   files with, one chunk at a time (`parser_fuzz/aof_command_target.rs`):
//!   no panic from any offset; every command ends after its start and
//!   within the input; a command re-encoded with `put_command` reads back
//!   the same; a cut anywhere in a stream that reads cleanly reads as
//!   `End` or `Incomplete`, never `Malformed`; allocation linear in the
//!   bytes present.
//! - `Manifest::parse` (`parser_fuzz/manifest_target.rs`): no panic, only
//!   bare file names in a usable order, and what parsed renders as text
//!   that parses back the same (ferrokv writes back what it read).
//!
//! # Running it
//!
//! `cargo test --test parser_fuzz` runs a fixed number of inputs of each
//! target from a fixed seed, in a few seconds. For a longer run:
//!
//! ```text
//! FERROKV_PARSER_FUZZ_SECONDS=600 FERROKV_FUZZ_SEED=12345 \
//!     cargo test --test parser_fuzz request_parser -- --nocapture
//! ```
//!
//! runs for that many seconds from that seed (the fixed one if unset; a
//! bare number or `0x` hex) and prints the inputs per second: about 9,000
//! in a debug build on one core. `FERROKV_AOF_COMMANDS_FUZZ_SECONDS` and
//! `FERROKV_AOF_MANIFEST_FUZZ_SECONDS` do the same for the AOF's targets
//! (`aof_command_reader`, `aof_manifest_parser`). A release build is four times faster, but
//! keep overflow checks on, or an arithmetic overflow in the parser goes
//! unnoticed: add `CARGO_PROFILE_RELEASE_OVERFLOW_CHECKS=true
//! CARGO_PROFILE_RELEASE_DEBUG_ASSERTIONS=true CARGO_PROFILE_RELEASE_LTO=false`
//! and `--release`.
//!
//! A run is reproducible from its seed: the inputs depend only on it, and
//! time only decides when to stop. A failure reports the seed, the
//! iteration, the failure and the input, shrunk and escaped as a Rust byte
//! string ready to become a regression test (add it to the seeds in
//! `request_target.rs`, or write a focused test in `src/resp/parser.rs`).
//!
//! # Adding a target
//!
//! The engine (`parser_fuzz/engine.rs`) knows nothing about RESP. A loader
//! that takes bytes, such as the RDB loader, becomes a target by
//! implementing `engine::Target`: a name, seed files, optionally
//! a dictionary of meaningful byte strings and a generator, and a `check`
//! that runs one input and returns `Err(Failure)` when it misbehaves
//! (panics are caught for it; `meter::peak_extra` measures allocation).
//! Then add a test here like `request_parser_survives_fuzzing`, with its
//! own `FERROKV_<TARGET>_FUZZ_SECONDS` and default number of inputs for
//! `Settings::from_env`.

use std::env;
use std::time::Duration;

use bytes::BytesMut;
use ferrokv::resp::parser::{Parsed, Parser};

#[path = "parser_fuzz/aof_command_target.rs"]
mod aof_command_target;
#[path = "parser_fuzz/engine.rs"]
mod engine;
#[path = "parser_fuzz/manifest_target.rs"]
mod manifest_target;
#[path = "parser_fuzz/meter.rs"]
mod meter;
#[path = "parser_fuzz/reference.rs"]
mod reference;
#[path = "parser_fuzz/request_target.rs"]
mod request_target;

use aof_command_target::AofCommands;
use engine::{Budget, Target};
use manifest_target::AofManifest;
use request_target::RequestParser;

#[global_allocator]
static ALLOCATOR: meter::CountingSystem = meter::CountingSystem;

/// The seed of the default run and of long runs without `FERROKV_FUZZ_SEED`.
const DEFAULT_SEED: u64 = 0x00C0_FFEE_F00D_5EED;
/// Inputs in the default run of the request parser: a few seconds in a
/// debug build.
const DEFAULT_INPUTS: u64 = 15_000;
/// Inputs in the default runs of the AOF's readers: a second or two each
/// in a debug build (a command stream is read again at every cut; a
/// manifest is a line or two).
const DEFAULT_AOF_COMMANDS_INPUTS: u64 = 8_000;
const DEFAULT_AOF_MANIFEST_INPUTS: u64 = 50_000;

/// How the fuzz test runs, read once from the environment.
struct Settings {
    seed: u64,
    budget: Budget,
}

impl Settings {
    /// `seconds_variable` names the target's long-run switch; without it,
    /// the run checks `default_inputs` inputs.
    fn from_env(seconds_variable: &str, default_inputs: u64) -> Settings {
        let seed = match env::var("FERROKV_FUZZ_SEED") {
            Ok(text) => parse_seed(&text)
                .unwrap_or_else(|| panic!("FERROKV_FUZZ_SEED={text:?} is not a u64")),
            Err(_) => DEFAULT_SEED,
        };
        let budget = match env::var(seconds_variable) {
            Ok(text) => {
                let seconds: u64 = text.parse().unwrap_or_else(|_| {
                    panic!("{seconds_variable}={text:?} is not a number of seconds")
                });
                Budget::Time(Duration::from_secs(seconds))
            }
            Err(_) => Budget::Inputs(default_inputs),
        };
        Settings { seed, budget }
    }
}

/// A seed in decimal, or in hex with `0x`, as reports print it.
fn parse_seed(text: &str) -> Option<u64> {
    match text.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => text.parse().ok(),
    }
}

/// Fuzzes `target` as `settings` say; a failure panics with the report.
fn run(target: &dyn Target, settings: Settings) {
    match engine::fuzz(target, settings.seed, settings.budget) {
        Ok(summary) => println!(
            "parser_fuzz, {}: {} inputs in {:.1} s, {:.0} inputs/s, seed {:#x}",
            target.name(),
            summary.inputs,
            summary.elapsed.as_secs_f64(),
            summary.inputs_per_second(),
            settings.seed
        ),
        Err(report) => panic!("{report}"),
    }
}

#[test]
fn request_parser_survives_fuzzing() {
    run(
        &RequestParser,
        Settings::from_env("FERROKV_PARSER_FUZZ_SECONDS", DEFAULT_INPUTS),
    );
}

#[test]
fn aof_command_reader_survives_fuzzing() {
    run(
        &AofCommands,
        Settings::from_env(
            "FERROKV_AOF_COMMANDS_FUZZ_SECONDS",
            DEFAULT_AOF_COMMANDS_INPUTS,
        ),
    );
}

#[test]
fn aof_manifest_parser_survives_fuzzing() {
    run(
        &AofManifest,
        Settings::from_env(
            "FERROKV_AOF_MANIFEST_FUZZ_SECONDS",
            DEFAULT_AOF_MANIFEST_INPUTS,
        ),
    );
}

/// Headers claiming a million arguments or half a gigabyte must not make
/// the parser allocate anything near that before the bytes arrive.
#[test]
fn huge_claims_allocate_nothing_sized_by_them() {
    for claim in [
        &b"*1048576\r\n"[..],
        b"*1\r\n$536870912\r\n",
        b"*1\r\n$500000000\r\nab",
        b"*1048576\r\n$536870912\r\nab",
        b"*3\r\n$1\r\na\r\n$536870912\r\n",
    ] {
        let mut parser = Parser::default();
        let mut buf = BytesMut::from(claim);
        let mut args = Vec::new();
        let (parsed, allocated) = meter::peak_extra(|| parser.parse(&mut buf, &mut args));
        assert!(
            matches!(parsed, Ok(Parsed::Incomplete)),
            "{:?}: {parsed:?}",
            claim.escape_ascii().to_string()
        );
        assert!(
            allocated <= 1024,
            "{:?} made parse allocate {allocated} bytes",
            claim.escape_ascii().to_string()
        );
    }
}
