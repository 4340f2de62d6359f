//! CLIENT PAUSE with several clients: what `tests/diff/client_pause.redis`,
//! one connection's commands and replies at a time, cannot show.
//!
//! # Layout
//!
//! 1. **Held and served**: under WRITE reads are served while writes from
//!    several clients wait, and run in the order they came once the pause
//!    is lifted (a client's pipeline behind its first held command, before
//!    the next client's); under ALL reads wait too, until the pause's own
//!    end, since CLIENT UNPAUSE waits with them.
//! 2. **The dataset stays still**: a key past its deadline reads as
//!    missing but stays (DBSIZE counts it, `expired_keys` does not) until
//!    the pause ends, when active expiry takes it; eviction does not run,
//!    and nothing is refused for memory, until the first command after.
//! 3. **Clients around a pause**: a held client that disconnects is
//!    forgotten; a blocked client is woken by a transaction that pauses
//!    and then writes; SHUTDOWN waits under ALL and not under WRITE.
//! 4. **ferrokv only**: CLIENT UNBLOCK leaves a held client held (Redis
//!    7.0 answers it with an error and then runs its command anyway, or
//!    with TIMEOUT crashes), and RANDOMKEY answers when every key has
//!    expired (Redis 7.0 loops for ever).
//!
//! "Not yet replied" is checked only once the server has said it holds
//! the command (INFO `blocked_clients`), or while a pause with a timeout
//! cannot have ended yet (before its timeout has passed on this side),
//! so nothing depends on how fast the machine is. Nothing sleeps to
//! synchronise: conditions are polled.
//!
//! # The server under test
//!
//! By default the tests run against ferrokv. With
//! `FERROKV_PAUSE_SERVER=redis` they run against redis-server, which is how
//! every expectation here was checked (redis-server 7.0.15):
//!
//! ```text
//! FERROKV_PAUSE_SERVER=redis cargo test --test pause
//! ```

mod common;

use std::time::{Duration, Instant};

use common::replies::{bulk, info_field, int, ok};
use common::{Client, Server, escape, wait_until_within};

/// The environment variable that selects the server under test.
const SERVER_ENV: &str = "FERROKV_PAUSE_SERVER";

/// How long a polled condition may take. It only turns a hang into a
/// failure.
const CONDITION_TIMEOUT: Duration = Duration::from_secs(10);

/// A pause long enough never to end during a test: tests lift it with
/// CLIENT UNPAUSE.
const LONG_PAUSE_MS: &str = "100000";

fn start_under_test(what: &str) -> Option<Server> {
    common::start_under_test_with(SERVER_ENV, what, &[], &[])
}

fn under_redis() -> bool {
    matches!(
        std::env::var(SERVER_ENV).as_deref(),
        Ok("redis") | Ok("redis-server")
    )
}

/// INFO's `blocked_clients`, which counts held clients.
fn blocked_clients(ctl: &mut Client) -> i64 {
    info_field(ctl, "clients", "blocked_clients")
        .parse()
        .expect("blocked_clients is a number")
}

/// Polls until the server holds (or blocks) `n` clients.
fn wait_held(ctl: &mut Client, n: i64) {
    wait_until_within(CONDITION_TIMEOUT, &format!("{n} clients held"), || {
        blocked_clients(ctl) == n
    });
}

/// Asserts that nothing has been answered on `c` yet.
fn assert_no_reply(c: &mut Client, what: &str) {
    let reply = c.poll_reply().expect("poll the connection");
    assert!(
        reply.is_none(),
        "{what} answered while paused: {}",
        escape(&reply.unwrap_or_default())
    );
}

fn expect_next(c: &mut Client, expected: &str) {
    let reply = c.read_reply().expect("the reply of a held command");
    assert_eq!(escape(&reply), escape(expected.as_bytes()));
}

fn int_field(ctl: &mut Client, section: &str, field: &str) -> i64 {
    info_field(ctl, section, field)
        .parse()
        .expect("an integer field")
}

// ---------------------------------------------------------------------------
// 1. Held and served
// ---------------------------------------------------------------------------

#[test]
fn write_pause_serves_reads_and_runs_held_writes_in_arrival_order() {
    let Some(server) = start_under_test("held writes in order") else {
        return;
    };
    let mut ctl = server.connect();
    let mut reader = server.connect();
    let mut a = server.connect();
    let mut b = server.connect();
    let mut c = server.connect();
    ok(&mut ctl, &["SET", "k", "before"]);
    ok(&mut ctl, &["CLIENT", "PAUSE", LONG_PAUSE_MS, "WRITE"]);

    // a pipelines two writes and a read: all three wait behind the first.
    let mut pipeline = Vec::new();
    for cmd in [
        &["RPUSH", "l", "a1"][..],
        &["RPUSH", "l", "a2"],
        &["LRANGE", "l", "0", "-1"],
    ] {
        pipeline.extend(common::encode_command(cmd));
    }
    a.send_raw(&pipeline).expect("send a's pipeline");
    wait_held(&mut ctl, 1);
    b.send(&["RPUSH", "l", "b1"]).expect("send b's write");
    wait_held(&mut ctl, 2);
    c.send(&["SET", "k", "after"]).expect("send c's write");
    wait_held(&mut ctl, 3);

    // Reads are served meanwhile, and see none of the held writes.
    assert_eq!(bulk(&mut reader, &["GET", "k"]), b"before");
    assert_eq!(int(&mut reader, &["LLEN", "l"]), 0);
    assert_eq!(int(&mut reader, &["EXISTS", "l"]), 0);
    for (client, name) in [(&mut a, "a"), (&mut b, "b"), (&mut c, "c")] {
        assert_no_reply(client, name);
    }

    ok(&mut ctl, &["CLIENT", "UNPAUSE"]);
    expect_next(&mut a, ":1\r\n");
    expect_next(&mut a, ":2\r\n");
    // a's whole pipeline ran before b's write: its read sees only its own.
    expect_next(&mut a, "*2\r\n$2\r\na1\r\n$2\r\na2\r\n");
    expect_next(&mut b, ":3\r\n");
    expect_next(&mut c, "+OK\r\n");
    assert_eq!(bulk(&mut reader, &["GET", "k"]), b"after");
    assert_eq!(blocked_clients(&mut ctl), 0);
}

#[test]
fn all_pause_holds_reads_until_it_ends_by_itself() {
    let Some(server) = start_under_test("an ALL pause") else {
        return;
    };
    const PAUSE_MS: u64 = 1000;
    let mut ctl = server.connect();
    let mut reader = server.connect();
    let mut writer = server.connect();
    ok(&mut ctl, &["SET", "k", "v"]);
    let paused_at = Instant::now();
    ok(&mut ctl, &["CLIENT", "PAUSE", &PAUSE_MS.to_string(), "ALL"]);
    // The three may reach the server in any order: they touch different
    // keys.
    reader.send(&["GET", "k"]).expect("send GET");
    writer.send(&["SET", "other", "w"]).expect("send SET");
    // CLIENT UNPAUSE waits like everything else.
    ctl.send(&["CLIENT", "UNPAUSE"]).expect("send UNPAUSE");
    // Nothing can be answered before the pause's timeout has passed here:
    // the server's pause began after `paused_at`.
    let pause_end = paused_at + Duration::from_millis(PAUSE_MS);
    while Instant::now() + Duration::from_millis(50) < pause_end {
        let reply = reader.poll_reply().expect("poll the reader");
        if let Some(reply) = reply {
            assert!(
                Instant::now() >= pause_end,
                "GET answered during an ALL pause: {}",
                escape(&reply)
            );
        }
        std::thread::sleep(common::CONDITION_POLL);
    }
    expect_next(&mut reader, "$1\r\nv\r\n");
    expect_next(&mut writer, "+OK\r\n");
    expect_next(&mut ctl, "+OK\r\n");
    assert_eq!(bulk(&mut reader, &["GET", "other"]), b"w");
}

// ---------------------------------------------------------------------------
// 2. The dataset stays still
// ---------------------------------------------------------------------------

#[test]
fn keys_past_their_deadline_stay_until_the_pause_ends() {
    let Some(server) = start_under_test("expiry during a pause") else {
        return;
    };
    let mut ctl = server.connect();
    // Active expiry runs often, so it would have had many chances.
    ok(&mut ctl, &["CONFIG", "SET", "hz", "100"]);
    let expired_before = int_field(&mut ctl, "stats", "expired_keys");
    ok(&mut ctl, &["MULTI"]);
    for key in ["e1", "e2", "e3"] {
        ctl.cmd(&["SET", key, "v", "PX", "20"]);
    }
    ctl.cmd(&["SET", "keep", "v"]);
    ctl.cmd(&["CLIENT", "PAUSE", LONG_PAUSE_MS, "WRITE"]);
    ctl.cmd(&["EXEC"]);

    wait_until_within(CONDITION_TIMEOUT, "the keys read as expired", || {
        ctl.cmd(&["EXISTS", "e1", "e2", "e3"]) == b":0\r\n"
    });
    // Read as missing, yet still there, and not counted as expired,
    // through many cron cycles.
    assert_eq!(escape(&ctl.cmd(&["GET", "e1"])), "$-1\\r\\n");
    assert_eq!(int(&mut ctl, &["TTL", "e2"]), -2);
    for _ in 0..20 {
        assert_eq!(int(&mut ctl, &["DBSIZE"]), 4);
        assert_eq!(int_field(&mut ctl, "stats", "expired_keys"), expired_before);
        std::thread::sleep(common::CONDITION_POLL);
    }

    ok(&mut ctl, &["CLIENT", "UNPAUSE"]);
    // Active expiry takes them now; nobody touches them.
    wait_until_within(CONDITION_TIMEOUT, "active expiry after the pause", || {
        int(&mut ctl, &["DBSIZE"]) == 1
    });
    assert_eq!(
        int_field(&mut ctl, "stats", "expired_keys"),
        expired_before + 3
    );
}

#[test]
fn eviction_waits_for_the_end_of_the_pause() {
    let Some(server) = start_under_test("eviction during a pause") else {
        return;
    };
    let mut ctl = server.connect();
    let mut other = server.connect();
    ok(
        &mut ctl,
        &["CONFIG", "SET", "maxmemory-policy", "allkeys-random"],
    );
    for i in 0..100 {
        ok(&mut ctl, &["SET", &format!("k{i}"), &"x".repeat(100)]);
    }
    ok(&mut ctl, &["CLIENT", "PAUSE", LONG_PAUSE_MS, "WRITE"]);
    // Far under what is used: every command would evict, if it could.
    ok(&mut ctl, &["CONFIG", "SET", "maxmemory", "1"]);
    for _ in 0..10 {
        assert_eq!(int(&mut other, &["DBSIZE"]), 100);
        assert_eq!(bulk(&mut other, &["GET", "k1"]).len(), 100);
        assert_eq!(int_field(&mut ctl, "stats", "evicted_keys"), 0);
    }
    // A write waits for the pause rather than being refused for memory.
    other.send(&["SET", "new", "v"]).expect("send SET");
    wait_held(&mut ctl, 1);
    assert_no_reply(&mut other, "SET");

    ok(&mut ctl, &["CLIENT", "UNPAUSE"]);
    // The held SET is the first command after: it evicts everything and is
    // still over the limit.
    expect_next(
        &mut other,
        "-OOM command not allowed when used memory > 'maxmemory'.\r\n",
    );
    assert_eq!(int_field(&mut ctl, "stats", "evicted_keys"), 100);
    ok(&mut ctl, &["CONFIG", "SET", "maxmemory", "0"]);
    assert_eq!(int(&mut ctl, &["DBSIZE"]), 0);
}

// ---------------------------------------------------------------------------
// 3. Clients around a pause
// ---------------------------------------------------------------------------

#[test]
fn a_held_client_that_disconnects_is_forgotten() {
    let Some(server) = start_under_test("a held client disconnects") else {
        return;
    };
    let mut ctl = server.connect();
    ok(&mut ctl, &["CLIENT", "PAUSE", LONG_PAUSE_MS, "WRITE"]);
    let mut gone = server.connect();
    gone.send(&["SET", "gone", "1"]).expect("send SET");
    let mut stays = server.connect();
    wait_held(&mut ctl, 1);
    stays.send(&["SET", "stays", "1"]).expect("send SET");
    wait_held(&mut ctl, 2);
    drop(gone);
    wait_held(&mut ctl, 1);
    assert_eq!(
        int(
            &mut ctl,
            &["CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes"]
        ),
        1
    );
    wait_held(&mut ctl, 0);
    ok(&mut ctl, &["CLIENT", "UNPAUSE"]);
    // Neither write ran, and the server goes on.
    assert_eq!(int(&mut ctl, &["EXISTS", "gone", "stays"]), 0);
    ok(&mut ctl, &["SET", "after", "1"]);
    assert_eq!(int(&mut ctl, &["DBSIZE"]), 1);
}

#[test]
fn a_transaction_that_pauses_then_pushes_wakes_a_blocked_client() {
    let Some(server) = start_under_test("a wake-up during a pause") else {
        return;
    };
    let mut ctl = server.connect();
    let mut waiter = server.connect();
    let mut writer = server.connect();
    waiter.send(&["BLPOP", "q", "0"]).expect("send BLPOP");
    wait_held(&mut ctl, 1);
    ok(&mut ctl, &["MULTI"]);
    ctl.cmd(&["CLIENT", "PAUSE", LONG_PAUSE_MS, "WRITE"]);
    ctl.cmd(&["LPUSH", "q", "x"]);
    assert_eq!(escape(&ctl.cmd(&["EXEC"])), "*2\\r\\n+OK\\r\\n:1\\r\\n");
    // The waiter is served after the transaction, pause or not.
    expect_next(&mut waiter, "*2\r\n$1\r\nq\r\n$1\r\nx\r\n");
    writer.send(&["LPUSH", "q", "y"]).expect("send LPUSH");
    wait_held(&mut ctl, 1);
    assert_eq!(int(&mut ctl, &["LLEN", "q"]), 0);
    ok(&mut ctl, &["CLIENT", "UNPAUSE"]);
    expect_next(&mut writer, ":1\r\n");
}

#[test]
fn shutdown_runs_under_write_and_waits_under_all() {
    let Some(server) = start_under_test("SHUTDOWN under WRITE") else {
        return;
    };
    let mut ctl = server.connect();
    ok(&mut ctl, &["CLIENT", "PAUSE", LONG_PAUSE_MS, "WRITE"]);
    ctl.send(&["SHUTDOWN", "NOSAVE"]).expect("send SHUTDOWN");
    assert!(
        server.exits_within(CONDITION_TIMEOUT),
        "SHUTDOWN NOSAVE under a WRITE pause"
    );

    let Some(server) = start_under_test("SHUTDOWN under ALL") else {
        return;
    };
    const PAUSE_MS: u64 = 1000;
    let mut ctl = server.connect();
    let paused_at = Instant::now();
    ok(&mut ctl, &["CLIENT", "PAUSE", &PAUSE_MS.to_string(), "ALL"]);
    ctl.send(&["SHUTDOWN", "NOSAVE"]).expect("send SHUTDOWN");
    let pause_end = paused_at + Duration::from_millis(PAUSE_MS);
    while Instant::now() + Duration::from_millis(50) < pause_end {
        if server.exit_status().is_some() {
            assert!(
                Instant::now() >= pause_end,
                "SHUTDOWN ran during an ALL pause"
            );
        }
        std::thread::sleep(common::CONDITION_POLL);
    }
    assert!(
        server.exits_within(CONDITION_TIMEOUT),
        "SHUTDOWN NOSAVE once the ALL pause ended"
    );
}

// ---------------------------------------------------------------------------
// 4. ferrokv only
// ---------------------------------------------------------------------------

#[test]
fn client_unblock_leaves_a_held_client_held() {
    if under_redis() {
        // Redis 7.0.15 answers the held client's command twice (UNBLOCK
        // ERROR) or crashes (UNBLOCK TIMEOUT).
        return;
    }
    let Some(server) = start_under_test("CLIENT UNBLOCK of a held client") else {
        return;
    };
    let mut ctl = server.connect();
    let mut held = server.connect();
    let id = int(&mut held, &["CLIENT", "ID"]).to_string();
    ok(&mut ctl, &["CLIENT", "PAUSE", LONG_PAUSE_MS, "WRITE"]);
    held.send(&["SET", "k", "v"]).expect("send SET");
    wait_held(&mut ctl, 1);
    assert_eq!(int(&mut ctl, &["CLIENT", "UNBLOCK", &id]), 0);
    assert_eq!(int(&mut ctl, &["CLIENT", "UNBLOCK", &id, "ERROR"]), 0);
    assert_no_reply(&mut held, "SET");
    ok(&mut ctl, &["CLIENT", "UNPAUSE"]);
    expect_next(&mut held, "+OK\r\n");
}

#[test]
fn randomkey_answers_when_every_key_has_expired_during_a_pause() {
    if under_redis() {
        // Redis 7.0.15 loops for ever there (7.2 gives up after 100 tries).
        return;
    }
    let Some(server) = start_under_test("RANDOMKEY during a pause") else {
        return;
    };
    let mut ctl = server.connect();
    ok(&mut ctl, &["MULTI"]);
    ctl.cmd(&["SET", "a", "v", "PX", "1"]);
    ctl.cmd(&["SET", "b", "v", "PX", "1"]);
    ctl.cmd(&["CLIENT", "PAUSE", LONG_PAUSE_MS, "WRITE"]);
    ctl.cmd(&["EXEC"]);
    wait_until_within(CONDITION_TIMEOUT, "the keys read as expired", || {
        ctl.cmd(&["EXISTS", "a", "b"]) == b":0\r\n"
    });
    let key = bulk(&mut ctl, &["RANDOMKEY"]);
    assert!(key == b"a" || key == b"b", "RANDOMKEY answered {key:?}");
    assert_eq!(int(&mut ctl, &["DBSIZE"]), 2);
    ok(&mut ctl, &["CLIENT", "UNPAUSE"]);
    wait_until_within(CONDITION_TIMEOUT, "RANDOMKEY finds nothing", || {
        ctl.cmd(&["RANDOMKEY"]) == b"$-1\r\n"
    });
}
