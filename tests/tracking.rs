//! Client-side caching (CLIENT TRACKING) with many clients, a table limit
//! and connections that go away. Reply shapes, errors and the order of
//! invalidations are compared with redis-server in `tests/diff/tracking.redis`;
//! this file covers what a script cannot: random eviction, disconnects,
//! slot reuse, hundreds of clients. Where redis-server is on `PATH`, the
//! tests that check Redis's own behaviour run against it too.

mod common;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use common::{Client, Frame, Server, encode_command};

/// How long a test waits for a condition it polls for.
const PATIENCE: Duration = Duration::from_secs(30);

/// Runs `test` against ferrokv, and against redis-server when there is one.
fn on_both(test: impl Fn(&Server)) {
    test(&common::start_ferrokv());
    if let Some(redis) = common::start_redis() {
        test(&redis);
    }
}

/// A RESP3 connection.
fn resp3(server: &Server) -> Client {
    let mut c = server.connect();
    c.cmd(&["HELLO", "3"]);
    c
}

/// The value of `field` in INFO `section`, read on `c`, which must be
/// owed no invalidation.
fn info_field(c: &mut Client, section: &str, field: &str) -> u64 {
    let mut keys = Vec::new();
    let value = info_collecting(c, section, field, &mut keys);
    assert!(keys.is_empty(), "invalidations before INFO: {keys:?}");
    value
}

/// The value of `field` in INFO `section`, read on `c`, collecting the
/// invalidated keys pushed before the reply.
fn info_collecting(c: &mut Client, section: &str, field: &str, keys: &mut Vec<Vec<u8>>) -> u64 {
    let reply = cmd_collecting(c, &["INFO", section], keys);
    let text = match reply {
        Frame::Bulk(b) | Frame::Verbatim(b) => String::from_utf8_lossy(&b).into_owned(),
        other => panic!("INFO: {other:?}"),
    };
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {field} in INFO {section}: {text}"))
}

/// What an invalidation push says: `Some(keys)`, or `None` for a flush.
fn invalidation(frame: &Frame) -> Option<Option<Vec<Vec<u8>>>> {
    let Frame::Push(parts) = frame else {
        return None;
    };
    if parts.first() != Some(&Frame::Bulk(b"invalidate".to_vec())) {
        return None;
    }
    match parts.get(1) {
        Some(Frame::Array(keys)) => Some(Some(keys.iter().map(common::expect_bulk).collect())),
        _ => Some(None),
    }
}

/// Sends `args` and reads frames until its reply, collecting the
/// invalidated keys pushed before it; any other push fails the test.
fn cmd_collecting(c: &mut Client, args: &[&str], keys: &mut Vec<Vec<u8>>) -> Frame {
    c.send(args).unwrap();
    loop {
        let frame = c.read_frame().unwrap();
        match invalidation(&frame) {
            Some(Some(k)) => keys.extend(k),
            Some(None) => panic!("unexpected flush invalidation before {args:?}"),
            None if matches!(frame, Frame::Push(_)) => panic!("unexpected push {frame:?}"),
            None => return frame,
        }
    }
}

/// Polls `check` until it holds or `PATIENCE` runs out.
fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn the_table_is_held_to_tracking_table_max_keys_with_invalidations() {
    const KEYS: usize = 100;
    const MAX_KEYS: u64 = 10;
    on_both(|server| {
        let mut reader = resp3(server);
        reader.cmd(&[
            "CONFIG",
            "SET",
            "tracking-table-max-keys",
            &MAX_KEYS.to_string(),
        ]);
        reader.cmd(&["CLIENT", "TRACKING", "on"]);
        let mut evicted = Vec::new();
        for i in 0..KEYS {
            let reply = cmd_collecting(&mut reader, &["GET", &format!("key:{i}")], &mut evicted);
            assert_eq!(reply, Frame::Null, "{}", server.name);
        }
        // Evicted keys are invalidated as if they had changed, once each;
        // every key read is either still tracked or was invalidated.
        let mut tracked = 0;
        eventually("the table to settle under its limit", || {
            cmd_collecting(&mut reader, &["PING"], &mut evicted);
            tracked = info_collecting(&mut reader, "stats", "tracking_total_keys", &mut evicted);
            tracked <= MAX_KEYS && tracked + evicted.len() as u64 == KEYS as u64
        });
        let distinct: BTreeSet<_> = evicted.iter().collect();
        assert_eq!(
            distinct.len(),
            evicted.len(),
            "{}: a key evicted twice",
            server.name
        );
        assert!(
            evicted.iter().all(|k| k.starts_with(b"key:")),
            "{}: {evicted:?}",
            server.name
        );
        assert_eq!(
            info_field(&mut reader, "stats", "tracking_total_items"),
            tracked
        );
        // A key evicted from the table is no longer tracked: changing it
        // tells nobody; a tracked one is still told.
        let mut writer = server.connect();
        let gone = String::from_utf8_lossy(&evicted[0]).into_owned();
        writer.cmd(&["SET", &gone, "v"]);
        let mut late = Vec::new();
        cmd_collecting(&mut reader, &["PING"], &mut late);
        assert!(late.is_empty(), "{}: {late:?}", server.name);
    });
}

#[test]
fn raising_the_limit_keeps_what_is_tracked() {
    let server = common::start_ferrokv();
    let mut reader = resp3(&server);
    reader.cmd(&["CLIENT", "TRACKING", "on"]);
    let mut evicted = Vec::new();
    for i in 0..50 {
        cmd_collecting(&mut reader, &["GET", &format!("k{i}")], &mut evicted);
    }
    assert!(evicted.is_empty());
    assert_eq!(info_field(&mut reader, "stats", "tracking_total_keys"), 50);
    // 0 means no limit.
    reader.cmd(&["CONFIG", "SET", "tracking-table-max-keys", "0"]);
    cmd_collecting(&mut reader, &["PING"], &mut evicted);
    assert!(evicted.is_empty());
    assert_eq!(info_field(&mut reader, "stats", "tracking_total_keys"), 50);
}

#[test]
fn a_redirect_target_that_disconnects_breaks_the_redirect() {
    on_both(|server| {
        let mut tracker = resp3(server);
        let mut target = resp3(server);
        let mut writer = server.connect();
        let target_id = match reply_frame(&mut target, &["CLIENT", "ID"]) {
            Frame::Integer(id) => id,
            other => panic!("CLIENT ID: {other:?}"),
        };
        let redirect = target_id.to_string();
        assert_eq!(
            tracker.cmd(&["CLIENT", "TRACKING", "on", "REDIRECT", &redirect]),
            b"+OK\r\n"
        );
        tracker.cmd(&["GET", "k1"]);
        tracker.cmd(&["GET", "k2"]);
        writer.cmd(&["SET", "k1", "v"]);
        assert_eq!(
            invalidation(&target.read_frame().unwrap()),
            Some(Some(vec![b"k1".to_vec()]))
        );
        drop(target);
        eventually("the target to be gone", || {
            let list = writer.cmd(&["CLIENT", "LIST"]);
            !String::from_utf8_lossy(&list).contains(&format!("id={target_id} "))
        });
        // A new connection, likely in the slot the target had, is not it.
        let mut newcomer = resp3(server);
        writer.cmd(&["SET", "k2", "v"]);
        let broken = format!(">2\r\n$21\r\ntracking-redir-broken\r\n:{target_id}\r\n");
        assert_eq!(
            tracker.read_reply().unwrap(),
            broken.as_bytes(),
            "{}",
            server.name
        );
        assert_eq!(newcomer.cmd(&["PING"]), b"+PONG\r\n", "{}", server.name);
        let info = String::from_utf8_lossy(&tracker.cmd(&["CLIENT", "INFO"])).into_owned();
        assert!(info.contains(" flags=tR "), "{}: {info}", server.name);
        let Frame::Map(fields) = reply_frame(&mut tracker, &["CLIENT", "TRACKINGINFO"]) else {
            panic!("CLIENT TRACKINGINFO is a map in RESP3");
        };
        let flags = Frame::Set(vec![
            Frame::Bulk(b"on".to_vec()),
            Frame::Bulk(b"broken_redirect".to_vec()),
        ]);
        assert_eq!(
            fields[0],
            (Frame::Bulk(b"flags".to_vec()), flags),
            "{}",
            server.name
        );
    });
}

#[test]
fn hundreds_of_clients_each_hear_of_a_key_once() {
    const CLIENTS: usize = 300;
    let server = common::start_ferrokv();
    let mut writer = server.connect();
    let mut readers: Vec<Client> = (0..CLIENTS).map(|_| resp3(&server)).collect();
    for (i, r) in readers.iter_mut().enumerate() {
        r.cmd(&["CLIENT", "TRACKING", "on"]);
        r.cmd(&["GET", "shared"]);
        r.cmd(&["GET", &format!("own:{i}")]);
    }
    assert_eq!(
        info_field(&mut writer, "clients", "tracking_clients"),
        CLIENTS as u64
    );
    assert_eq!(
        info_field(&mut writer, "stats", "tracking_total_keys"),
        CLIENTS as u64 + 1
    );
    assert_eq!(
        info_field(&mut writer, "stats", "tracking_total_items"),
        2 * CLIENTS as u64
    );
    // Two writes of the shared key: one invalidation each, since the first
    // takes the key out of the table.
    writer.cmd(&["SET", "shared", "1"]);
    writer.cmd(&["SET", "shared", "2"]);
    writer.cmd(&["SET", "own:7", "x"]);
    for (i, r) in readers.iter_mut().enumerate() {
        let mut keys = Vec::new();
        cmd_collecting(r, &["PING"], &mut keys);
        let mut expected = vec![b"shared".to_vec()];
        if i == 7 {
            expected.push(b"own:7".to_vec());
        }
        assert_eq!(keys, expected, "client {i}");
    }
    assert_eq!(
        info_field(&mut writer, "stats", "tracking_total_keys"),
        CLIENTS as u64 - 1
    );
    // Half of them go away: their entries stay until the keys change, and
    // nobody else hears of those keys.
    readers.truncate(CLIENTS / 2);
    eventually("the clients to close", || {
        info_field(&mut writer, "clients", "tracking_clients") == (CLIENTS / 2) as u64
    });
    let mut pipeline = Vec::new();
    for i in 0..CLIENTS {
        pipeline.extend(encode_command(&["SET", &format!("own:{i}"), "y"]));
    }
    writer.send_raw(&pipeline).unwrap();
    for _ in 0..CLIENTS {
        assert_eq!(writer.read_reply().unwrap(), b"+OK\r\n");
    }
    for (i, r) in readers.iter_mut().enumerate() {
        let mut keys = Vec::new();
        cmd_collecting(r, &["PING"], &mut keys);
        let expected: Vec<Vec<u8>> = if i == 7 {
            Vec::new()
        } else {
            vec![format!("own:{i}").into_bytes()]
        };
        assert_eq!(keys, expected, "client {i}");
    }
    assert_eq!(info_field(&mut writer, "stats", "tracking_total_keys"), 0);
    assert_eq!(info_field(&mut writer, "stats", "tracking_total_items"), 0);
}

#[test]
fn broadcast_clients_get_one_array_per_prefix_per_iteration() {
    const CLIENTS: usize = 100;
    let server = common::start_ferrokv();
    let mut readers: Vec<Client> = (0..CLIENTS).map(|_| resp3(&server)).collect();
    for r in &mut readers {
        r.cmd(&[
            "CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "a:", "PREFIX", "b:",
        ]);
    }
    let mut writer = server.connect();
    assert_eq!(
        info_field(&mut writer, "stats", "tracking_total_prefixes"),
        2
    );
    // One transaction: one loop iteration.
    writer.cmd(&["MULTI"]);
    for key in ["b:2", "a:1", "c:1", "b:1", "a:1"] {
        writer.cmd(&["SET", key, "v"]);
    }
    writer.cmd(&["EXEC"]);
    for r in &mut readers {
        let mut keys = Vec::new();
        cmd_collecting(r, &["PING"], &mut keys);
        assert_eq!(keys, [&b"a:1"[..], b"b:1", b"b:2"].map(<[u8]>::to_vec));
    }
    for r in &mut readers {
        r.cmd(&["CLIENT", "TRACKING", "off"]);
    }
    assert_eq!(
        info_field(&mut writer, "stats", "tracking_total_prefixes"),
        0
    );
    assert_eq!(info_field(&mut writer, "clients", "tracking_clients"), 0);
}

#[test]
fn invalidations_follow_active_expiry() {
    on_both(|server| {
        let mut reader = resp3(server);
        let mut writer = server.connect();
        reader.cmd(&["CLIENT", "TRACKING", "on"]);
        writer.cmd(&["SET", "soon", "v", "PX", "200"]);
        assert_eq!(reader.cmd(&["GET", "soon"]), b"$1\r\nv\r\n");
        // Nobody touches the key: the server's own expiry cycle finds it.
        assert_eq!(
            invalidation(&reader.read_frame().unwrap()),
            Some(Some(vec![b"soon".to_vec()])),
            "{}",
            server.name
        );
    });
}

/// The reply to `args`, decoded, on a connection with nothing pending.
fn reply_frame(c: &mut Client, args: &[&str]) -> Frame {
    c.send(args).unwrap();
    c.read_frame().unwrap()
}

#[test]
fn redis_py_reads_from_its_cache_until_another_client_writes() {
    if !common::run_client("python3", &["-c", "import redis.cache"]).0 {
        eprintln!(
            "skipped: redis-py with client-side caching is not installed (pip install redis)"
        );
        return;
    }
    let server = common::start_ferrokv();
    let port = server.port.to_string();
    let (ok, output) = common::run_client("python3", &["redis_py_caching.py", &port]);
    assert!(ok, "redis-py client-side caching failed:\n{output}");
}
