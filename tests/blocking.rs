//! Blocking list commands: several real clients against the real binary.
//! Waits poll for a condition (INFO's blocked_clients) instead of sleeping.

mod common;

use std::time::{Duration, Instant};

use common::{Client, Server, escape, start_ferrokv};

/// Polls INFO until `n` clients are blocked.
fn wait_blocked(c: &mut Client, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(10);
    let want = format!("blocked_clients:{n}\r\n");
    loop {
        let info = String::from_utf8_lossy(&c.cmd(&["INFO", "clients"])).into_owned();
        if info.contains(&want) {
            return;
        }
        assert!(Instant::now() < deadline, "never saw {want:?} in {info}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// CLIENT ID of `c`, as text.
fn client_id(c: &mut Client) -> String {
    String::from_utf8_lossy(&c.cmd(&["CLIENT", "ID"]))
        .trim_matches(|c| c == ':' || c == '\r' || c == '\n')
        .to_string()
}

fn reply(c: &mut Client) -> String {
    escape(&c.read_reply().expect("a reply"))
}

fn setup() -> (Server, Client) {
    let server = start_ferrokv();
    let control = server.connect();
    (server, control)
}

#[test]
fn one_push_wakes_one_client_in_fifo_order() {
    let (server, mut ctl) = setup();
    let mut a = server.connect();
    let mut b = server.connect();
    a.send(&["BLPOP", "q", "0"]).unwrap();
    wait_blocked(&mut ctl, 1);
    b.send(&["BLPOP", "q", "0"]).unwrap();
    wait_blocked(&mut ctl, 2);
    assert_eq!(escape(&ctl.cmd(&["RPUSH", "q", "x"])), ":1\\r\\n");
    assert_eq!(reply(&mut a), "*2\\r\\n$1\\r\\nq\\r\\n$1\\r\\nx\\r\\n");
    wait_blocked(&mut ctl, 1);
    assert_eq!(escape(&ctl.cmd(&["RPUSH", "q", "y"])), ":1\\r\\n");
    assert_eq!(reply(&mut b), "*2\\r\\n$1\\r\\nq\\r\\n$1\\r\\ny\\r\\n");
    wait_blocked(&mut ctl, 0);
    assert_eq!(escape(&ctl.cmd(&["EXISTS", "q"])), ":0\\r\\n");
}

#[test]
fn multi_key_blpop_serves_the_first_ready_key_in_argument_order() {
    let (server, mut ctl) = setup();
    let mut a = server.connect();
    a.send(&["BLPOP", "k1", "k2", "0"]).unwrap();
    wait_blocked(&mut ctl, 1);
    // Both keys get an element in one MSET-like pipeline of pushes; the
    // client re-runs BLPOP and takes k1 first, as Redis 7 does.
    ctl.send_raw(b"RPUSH k2 b\r\nRPUSH k1 a\r\n").unwrap();
    ctl.read_reply().unwrap();
    ctl.read_reply().unwrap();
    // k2 became ready first, and the client was served right after that
    // push; then, with both lists non-empty, a new BLPOP takes k1 first.
    assert_eq!(reply(&mut a), "*2\\r\\n$2\\r\\nk2\\r\\n$1\\r\\nb\\r\\n");
    ctl.cmd(&["RPUSH", "k2", "c"]);
    assert_eq!(
        escape(&a.cmd(&["BLPOP", "k1", "k2", "0"])),
        "*2\\r\\n$2\\r\\nk1\\r\\n$1\\r\\na\\r\\n"
    );
}

#[test]
fn timeout_replies_null_array() {
    let (server, mut ctl) = setup();
    let mut a = server.connect();
    let started = Instant::now();
    assert_eq!(escape(&a.cmd(&["BLPOP", "none", "0.05"])), "*-1\\r\\n");
    assert!(started.elapsed() >= Duration::from_millis(45));
    a.cmd(&["HELLO", "3"]);
    assert_eq!(escape(&a.cmd(&["BRPOP", "none", "0.02"])), "_\\r\\n");
    wait_blocked(&mut ctl, 0);
    assert_eq!(
        escape(&a.cmd(&["BLPOP", "none", "-1"])),
        "-ERR timeout is negative\\r\\n"
    );
    assert_eq!(
        escape(&a.cmd(&["BLPOP", "none", "x"])),
        "-ERR timeout is not a float or out of range\\r\\n"
    );
}

#[test]
fn a_blocked_client_that_disconnects_leaves_nothing_behind() {
    let (server, mut ctl) = setup();
    {
        let mut a = server.connect();
        a.send(&["BLPOP", "q", "0"]).unwrap();
        wait_blocked(&mut ctl, 1);
    }
    wait_blocked(&mut ctl, 0);
    assert_eq!(escape(&ctl.cmd(&["RPUSH", "q", "x"])), ":1\\r\\n");
    assert_eq!(escape(&ctl.cmd(&["LLEN", "q"])), ":1\\r\\n");
}

#[test]
fn blmove_chains_resolve_in_one_go() {
    let (server, mut ctl) = setup();
    let mut a = server.connect();
    let mut b = server.connect();
    b.send(&["BLPOP", "k2", "0"]).unwrap();
    wait_blocked(&mut ctl, 1);
    a.send(&["BLMOVE", "k1", "k2", "LEFT", "RIGHT", "0"])
        .unwrap();
    wait_blocked(&mut ctl, 2);
    ctl.cmd(&["RPUSH", "k1", "v"]);
    assert_eq!(reply(&mut a), "$1\\r\\nv\\r\\n");
    assert_eq!(reply(&mut b), "*2\\r\\n$2\\r\\nk2\\r\\n$1\\r\\nv\\r\\n");
    wait_blocked(&mut ctl, 0);
}

#[test]
fn client_unblock_and_queued_commands() {
    let (server, mut ctl) = setup();
    let mut a = server.connect();
    let id = client_id(&mut a);
    // A command sent behind the blocking one runs after it is served.
    a.send_raw(b"BLPOP q 0\r\nPING\r\n").unwrap();
    wait_blocked(&mut ctl, 1);
    assert_eq!(
        escape(&ctl.cmd(&["CLIENT", "UNBLOCK", &id, "ERROR"])),
        ":1\\r\\n"
    );
    assert_eq!(
        reply(&mut a),
        "-UNBLOCKED client unblocked via CLIENT UNBLOCK\\r\\n"
    );
    assert_eq!(reply(&mut a), "+PONG\\r\\n");
    a.send(&["BLPOP", "q", "0"]).unwrap();
    wait_blocked(&mut ctl, 1);
    assert_eq!(escape(&ctl.cmd(&["CLIENT", "UNBLOCK", &id])), ":1\\r\\n");
    assert_eq!(reply(&mut a), "*-1\\r\\n");
    assert_eq!(escape(&ctl.cmd(&["CLIENT", "UNBLOCK", &id])), ":0\\r\\n");
}

/// The `cmdstat_NAME` line of INFO commandstats.
fn cmdstat(c: &mut Client, name: &str) -> String {
    let info = String::from_utf8_lossy(&c.cmd(&["INFO", "commandstats"])).into_owned();
    let prefix = format!("cmdstat_{name}:");
    info.lines()
        .find(|l| l.starts_with(&prefix))
        .unwrap_or_default()
        .to_string()
}

/// As Redis's incrCommandStatsOnError: an error reply counted while a
/// command runs fails that command, even when another client gets it (the
/// unblocked one); a transaction's failed command fails alone, not EXEC.
/// (Found by the differential fuzzer, seed 4242.)
#[test]
fn client_unblock_with_error_is_a_failed_call_and_exec_is_not() {
    let (server, mut ctl) = setup();
    let mut a = server.connect();
    let id = client_id(&mut a);
    a.send(&["BRPOPLPUSH", "k2", "k2", "0"]).unwrap();
    wait_blocked(&mut ctl, 1);
    ctl.cmd(&["CLIENT", "UNBLOCK", &id, "ERROR"]);
    assert!(reply(&mut a).starts_with("-UNBLOCKED"));
    assert!(cmdstat(&mut ctl, "client|unblock").ends_with("rejected_calls=0,failed_calls=1"));
    assert!(cmdstat(&mut ctl, "brpoplpush").ends_with("rejected_calls=0,failed_calls=1"));
    a.send(&["BRPOPLPUSH", "k2", "k2", "0"]).unwrap();
    wait_blocked(&mut ctl, 1);
    ctl.cmd(&["CLIENT", "UNBLOCK", &id]);
    assert_eq!(reply(&mut a), "*-1\\r\\n");
    assert!(cmdstat(&mut ctl, "client|unblock").ends_with("rejected_calls=0,failed_calls=1"));
    ctl.cmd(&["SET", "s", "x"]);
    ctl.cmd(&["MULTI"]);
    ctl.cmd(&["INCR", "s"]);
    ctl.cmd(&["EXEC"]);
    assert!(cmdstat(&mut ctl, "incr").ends_with("rejected_calls=0,failed_calls=1"));
    assert!(cmdstat(&mut ctl, "exec").ends_with("rejected_calls=0,failed_calls=0"));
}

/// A woken client shows `u` in CLIENT LIST until what it sent while
/// blocked has run (Redis's CLIENT_UNBLOCKED); here it is woken inside
/// EXEC, whose CLIENT LIST sees it. (Found by the differential fuzzer,
/// seed 5555.)
#[test]
fn a_client_woken_inside_exec_is_listed_as_unblocked() {
    let (server, mut ctl) = setup();
    let mut a = server.connect();
    let id = client_id(&mut a);
    a.send(&["BLPOP", "q", "0"]).unwrap();
    wait_blocked(&mut ctl, 1);
    let flags_of = |list: &[u8]| {
        let list = String::from_utf8_lossy(list).into_owned();
        let prefix = format!("id={id} ");
        let line = list.lines().find(|l| l.contains(&prefix)).expect("listed");
        line.split(' ')
            .find_map(|f| f.strip_prefix("flags="))
            .expect("a flags field")
            .to_string()
    };
    assert_eq!(flags_of(&ctl.cmd(&["CLIENT", "LIST"])), "b");
    ctl.cmd(&["MULTI"]);
    ctl.cmd(&["CLIENT", "UNBLOCK", &id]);
    ctl.cmd(&["CLIENT", "LIST"]);
    let exec = ctl.cmd(&["EXEC"]);
    assert_eq!(flags_of(&exec), "u");
    assert_eq!(reply(&mut a), "*-1\\r\\n");
    assert_eq!(flags_of(&ctl.cmd(&["CLIENT", "LIST"])), "N");
}

#[test]
fn blmpop_and_brpoplpush() {
    let (server, mut ctl) = setup();
    let mut a = server.connect();
    a.send(&["BLMPOP", "0", "2", "x", "y", "RIGHT", "COUNT", "2"])
        .unwrap();
    wait_blocked(&mut ctl, 1);
    ctl.cmd(&["RPUSH", "y", "1", "2", "3"]);
    assert_eq!(
        reply(&mut a),
        "*2\\r\\n$1\\r\\ny\\r\\n*2\\r\\n$1\\r\\n3\\r\\n$1\\r\\n2\\r\\n"
    );
    a.send(&["BRPOPLPUSH", "src", "dst", "0"]).unwrap();
    wait_blocked(&mut ctl, 1);
    ctl.cmd(&["LPUSH", "src", "z"]);
    assert_eq!(reply(&mut a), "$1\\r\\nz\\r\\n");
    assert_eq!(
        escape(&ctl.cmd(&["LRANGE", "dst", "0", "-1"])),
        "*1\\r\\n$1\\r\\nz\\r\\n"
    );
}

/// Many clients blocked on distinct keys with timeouts spread over a
/// second: every one gets its null reply no earlier than its deadline, and
/// a PING client is answered between them. All connections are opened before
/// any blocks, and each deadline is checked against the moment its own
/// BLPOP was sent, so a slow machine cannot make the check race the
/// timeouts. (The 10,000-client, 10-second version is run by hand;
/// this one keeps the suite fast.)
#[test]
fn many_blocked_clients_time_out_on_time_and_the_loop_stays_responsive() {
    const CLIENTS: usize = 1_000;
    const SPREAD_MS: u64 = 1_000;
    let (server, mut ctl) = setup();
    let mut clients: Vec<_> = (0..CLIENTS).map(|_| server.connect()).collect();
    let mut sent = Vec::with_capacity(CLIENTS);
    for (i, c) in clients.iter_mut().enumerate() {
        let timeout_ms = 300 + (i as u64 * SPREAD_MS) / CLIENTS as u64;
        let timeout = format!("{}", timeout_ms as f64 / 1000.0);
        sent.push((Instant::now(), timeout_ms));
        c.send(&["BLPOP", &format!("key:{i}"), &timeout]).unwrap();
    }
    for (c, (sent_at, timeout_ms)) in clients.iter_mut().zip(sent) {
        assert_eq!(escape(&ctl.cmd(&["PING"])), "+PONG\\r\\n");
        assert_eq!(reply(c), "*-1\\r\\n");
        // Less the server clock's 1 ms granularity.
        assert!(sent_at.elapsed() + Duration::from_millis(2) >= Duration::from_millis(timeout_ms));
    }
    wait_blocked(&mut ctl, 0);
}

/// As in Redis 7.0: a key replaced by another type, or deleted, while
/// clients wait leaves them blocked; a later push serves them.
#[test]
fn waiters_stay_blocked_when_the_key_becomes_another_type() {
    let (server, mut ctl) = setup();
    let mut a = server.connect();
    a.send(&["BLPOP", "q", "0"]).unwrap();
    wait_blocked(&mut ctl, 1);
    ctl.cmd(&["SET", "q", "string"]);
    ctl.cmd(&["DEL", "q"]);
    ctl.cmd(&["PING"]);
    assert_eq!(escape(&ctl.cmd(&["RPUSH", "q", "v"])), ":1\\r\\n");
    assert_eq!(reply(&mut a), "*2\\r\\n$1\\r\\nq\\r\\n$1\\r\\nv\\r\\n");
}

#[test]
fn blocking_commands_inside_multi_answer_at_once() {
    let (server, _ctl) = setup();
    let mut a = server.connect();
    assert_eq!(escape(&a.cmd(&["MULTI"])), "+OK\\r\\n");
    for cmd in [
        &["BLPOP", "empty", "0"][..],
        &["BLMOVE", "empty", "dst", "LEFT", "LEFT", "0"],
        &["BLMPOP", "0", "1", "empty", "LEFT"],
    ] {
        assert_eq!(escape(&a.cmd(cmd)), "+QUEUED\\r\\n");
    }
    assert_eq!(
        escape(&a.cmd(&["EXEC"])),
        "*3\\r\\n*-1\\r\\n$-1\\r\\n*-1\\r\\n"
    );
    // The client was never parked: it answers at once.
    assert_eq!(escape(&a.cmd(&["PING"])), "+PONG\\r\\n");
    let info = String::from_utf8_lossy(&a.cmd(&["INFO", "clients"])).into_owned();
    assert!(info.contains("blocked_clients:0\r\n"), "{info}");
}

#[test]
fn waiters_are_served_after_exec_with_the_transaction_s_result() {
    let (server, mut ctl) = setup();
    let mut waiter = server.connect();
    waiter.send(&["BLPOP", "q", "0"]).unwrap();
    wait_blocked(&mut ctl, 1);
    // Two pushes in one transaction: the waiter is served once EXEC is
    // done, so it sees the second element at the head, not the first.
    ctl.cmd(&["MULTI"]);
    ctl.cmd(&["LPUSH", "q", "first"]);
    ctl.cmd(&["LPUSH", "q", "second"]);
    assert_eq!(escape(&ctl.cmd(&["EXEC"])), "*2\\r\\n:1\\r\\n:2\\r\\n");
    assert_eq!(
        reply(&mut waiter),
        "*2\\r\\n$1\\r\\nq\\r\\n$6\\r\\nsecond\\r\\n"
    );
    assert_eq!(
        escape(&ctl.cmd(&["LRANGE", "q", "0", "-1"])),
        "*1\\r\\n$5\\r\\nfirst\\r\\n"
    );
}

#[test]
fn a_transaction_that_pushes_and_pops_leaves_waiters_blocked() {
    let (server, mut ctl) = setup();
    let mut waiter = server.connect();
    waiter.send(&["BLPOP", "q", "0"]).unwrap();
    wait_blocked(&mut ctl, 1);
    ctl.cmd(&["MULTI"]);
    ctl.cmd(&["RPUSH", "q", "x"]);
    ctl.cmd(&["LPOP", "q"]);
    assert_eq!(
        escape(&ctl.cmd(&["EXEC"])),
        "*2\\r\\n:1\\r\\n$1\\r\\nx\\r\\n"
    );
    // The key was ready for a moment but is empty after EXEC: still blocked.
    wait_blocked(&mut ctl, 1);
    ctl.cmd(&["RPUSH", "q", "y"]);
    assert_eq!(reply(&mut waiter), "*2\\r\\n$1\\r\\nq\\r\\n$1\\r\\ny\\r\\n");
}

#[test]
fn a_transaction_pushing_several_keys_serves_from_the_first_made_ready() {
    let (server, mut ctl) = setup();
    let mut waiter = server.connect();
    waiter.send(&["BLPOP", "k1", "k2", "0"]).unwrap();
    wait_blocked(&mut ctl, 1);
    // k2 becomes ready first; as in Redis 7.0 the waiter is served from the
    // key that became ready, not from the first of its keys.
    ctl.cmd(&["MULTI"]);
    ctl.cmd(&["RPUSH", "k2", "b"]);
    ctl.cmd(&["RPUSH", "k1", "a"]);
    ctl.cmd(&["EXEC"]);
    assert_eq!(
        reply(&mut waiter),
        "*2\\r\\n$2\\r\\nk2\\r\\n$1\\r\\nb\\r\\n"
    );
    assert_eq!(escape(&ctl.cmd(&["LLEN", "k1"])), ":1\\r\\n");
}

#[test]
fn watch_sees_a_blocked_client_s_pop() {
    let (server, mut ctl) = setup();
    let mut waiter = server.connect();
    let mut watcher = server.connect();
    waiter
        .send(&["BLMOVE", "src", "dst", "LEFT", "LEFT", "0"])
        .unwrap();
    wait_blocked(&mut ctl, 1);
    watcher.cmd(&["WATCH", "dst"]);
    ctl.cmd(&["RPUSH", "src", "v"]);
    assert_eq!(reply(&mut waiter), "$1\\r\\nv\\r\\n");
    // Serving the waiter wrote dst, which the watcher watched.
    watcher.cmd(&["MULTI"]);
    watcher.cmd(&["PING"]);
    assert_eq!(escape(&watcher.cmd(&["EXEC"])), "*-1\\r\\n");
}

#[test]
fn client_unblock_inside_exec_runs_queued_commands_after_the_transaction() {
    let (server, mut ctl) = setup();
    let mut a = server.connect();
    let id = client_id(&mut a);
    a.send_raw(b"BLPOP q 0\r\nSET x after\r\n").unwrap();
    wait_blocked(&mut ctl, 1);
    ctl.cmd(&["MULTI"]);
    ctl.cmd(&["CLIENT", "UNBLOCK", &id]);
    ctl.cmd(&["GET", "x"]);
    // The client is unblocked at once (a second UNBLOCK finds it free),
    // but the SET it sent meanwhile must not run inside the transaction.
    ctl.cmd(&["CLIENT", "UNBLOCK", &id]);
    assert_eq!(
        escape(&ctl.cmd(&["EXEC"])),
        "*3\\r\\n:1\\r\\n$-1\\r\\n:0\\r\\n"
    );
    assert_eq!(reply(&mut a), "*-1\\r\\n");
    assert_eq!(reply(&mut a), "+OK\\r\\n");
    assert_eq!(escape(&ctl.cmd(&["GET", "x"])), "$5\\r\\nafter\\r\\n");
}
