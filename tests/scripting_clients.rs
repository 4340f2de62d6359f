//! Real client libraries whose features are built on Lua scripting, run
//! against the server: what EVAL, EVALSHA and SCRIPT must get right for
//! the programs people actually point at a Redis. Reply shapes and errors
//! of the scripting commands themselves belong in `tests/diff/`; this file
//! covers what only a whole library exercises: dozens of scripts loaded
//! by SHA1, the NOSCRIPT fallback, scripts that block other clients'
//! commands for their duration, thousands of them interleaved across
//! connections.
//!
//! - BullMQ (`tests/clients/bullmq.mjs`, over ioredis): ten thousand jobs
//!   added in bulk, some delayed, some failing once and retried after a
//!   backoff, some prioritized, worked by a Worker of concurrency 50; every
//!   queue operation is one of BullMQ's scripts, and the worker blocks in
//!   BZPOPMIN meanwhile. Each job must complete exactly once, with its
//!   return value, not before its delay, and the queue's counts must end
//!   with everything completed.
//! - redis-py's `Lock` (`tests/clients/redis_py_lock.py`): acquire, extend
//!   (adding to the TTL or replacing it), reacquire, release, a second
//!   client blocking until the first releases, a TTL running out and
//!   another client taking the lock, and the errors for a lock no longer
//!   owned; in RESP2 and RESP3, and across SCRIPT FLUSH.
//!
//! `.ci/run` installs the libraries (npm in `tests/clients`, redis-py from
//! PyPI); where one is missing a test prints `SKIPPED: ...` and passes.
//!
//! # The server under test
//!
//! By default the tests run against ferrokv. With
//! `FERROKV_SCRIPTING_CLIENTS_SERVER=redis` they run against redis-server,
//! which is how every expectation here was checked (redis-server 7.0.15):
//!
//! ```text
//! FERROKV_SCRIPTING_CLIENTS_SERVER=redis cargo test --test scripting_clients -- --nocapture
//! ```

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

/// The environment variable that selects the server under test.
const SERVER_ENV: &str = "FERROKV_SCRIPTING_CLIENTS_SERVER";

/// How long the BullMQ script may run before it is killed. The script
/// bounds itself at [`BULLMQ_SCRIPT_LIMIT_S`] and then reports how many
/// jobs completed; this is the bound for a script that hangs anyway (in
/// closing its connections, say). Against redis-server the run takes
/// about 6 s on two cores.
const BULLMQ_TIMEOUT: Duration = Duration::from_secs(120);

/// The bound BullMQ's script puts on its own run, in seconds.
const BULLMQ_SCRIPT_LIMIT_S: &str = "100";

/// How long the redis-py Lock script may run (it stops itself after 50 s;
/// against redis-server it takes under 3 s, most of it the TTLs and waits
/// it checks).
const LOCK_TIMEOUT: Duration = Duration::from_secs(60);

/// Runs `program args...` in `tests/clients` against a server started for
/// the test, and fails with the script's output unless it succeeds.
fn run_against_server(what: &str, program: &str, args: &[&str], timeout: Duration) {
    let Some(server) = common::start_under_test_with(SERVER_ENV, what, &[], &[]) else {
        return;
    };
    let port = server.port.to_string();
    let args: Vec<&str> = args
        .iter()
        .map(|a| if *a == "{port}" { port.as_str() } else { *a })
        .collect();
    let started = Instant::now();
    let (ok, output) = common::run_client_within(program, &args, timeout);
    let took = started.elapsed();
    assert!(
        ok,
        "{what} against {} failed after {took:.1?}:\n{output}",
        server.name
    );
    println!("{what} against {}: {took:.1?}\n{output}", server.name);
}

#[test]
fn bullmq_completes_ten_thousand_jobs_with_delays_and_retries() {
    let bullmq = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/clients/node_modules/bullmq"
    );
    if common::find_on_path("node").is_none() || !Path::new(bullmq).exists() {
        println!("SKIPPED: node or BullMQ is missing (npm install in tests/clients)");
        return;
    }
    run_against_server(
        "BullMQ",
        "node",
        &["bullmq.mjs", "{port}", BULLMQ_SCRIPT_LIMIT_S],
        BULLMQ_TIMEOUT,
    );
}

#[test]
fn redis_py_lock_acquires_extends_and_releases() {
    if !common::run_client("python3", &["-c", "import redis.lock"]).0 {
        println!("SKIPPED: redis-py is not installed (pip install redis)");
        return;
    }
    run_against_server(
        "redis-py Lock",
        "python3",
        &["redis_py_lock.py", "{port}"],
        LOCK_TIMEOUT,
    );
}
