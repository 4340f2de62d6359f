//! Pub/Sub with several clients at once, and the output-buffer limits that
//! protect the server from subscribers (and other clients) that stop
//! reading. Reply shapes and errors are compared with redis-server in
//! `tests/diff/pubsub.redis`; this file covers what a script cannot:
//! ordering across many messages and subscribers, disconnects, memory.

mod common;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use common::{Client, Frame, Server, encode_command};

/// How long a test waits for a condition it polls for.
const PATIENCE: Duration = Duration::from_secs(30);

/// The value of `field` in INFO `section`.
fn info_field(client: &mut Client, section: &str, field: &str) -> String {
    let reply = client.cmd(&["INFO", section]);
    let text = String::from_utf8_lossy(&reply).into_owned();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .map(str::to_string)
        .unwrap_or_else(|| panic!("no {field} in INFO {section}: {text}"))
}

/// A connection that ran `command` (a subscribe) and read its `n`
/// confirmations.
fn subscriber(server: &Server, command: &[&str], n: usize) -> Client {
    let mut c = server.connect();
    c.send(command).unwrap();
    for _ in 0..n {
        c.read_reply().unwrap();
    }
    c
}

/// Polls `check` until it holds or `PATIENCE` runs out.
fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn message(channel: &str, payload: &str) -> Vec<u8> {
    format!(
        "*3\r\n$7\r\nmessage\r\n${}\r\n{channel}\r\n${}\r\n{payload}\r\n",
        channel.len(),
        payload.len()
    )
    .into_bytes()
}

#[test]
fn one_publisher_s_messages_arrive_in_order_at_every_subscriber() {
    const SUBSCRIBERS: usize = 200;
    const MESSAGES: usize = 500;
    let server = common::start_ferrokv();
    let mut subs: Vec<Client> = (0..SUBSCRIBERS)
        .map(|_| subscriber(&server, &["SUBSCRIBE", "feed"], 1))
        .collect();
    let mut publisher = server.connect();
    let mut pipeline = Vec::new();
    for i in 0..MESSAGES {
        pipeline.extend(encode_command(&["PUBLISH", "feed", &i.to_string()]));
    }
    publisher.send_raw(&pipeline).unwrap();
    for _ in 0..MESSAGES {
        assert_eq!(
            publisher.read_reply().unwrap(),
            format!(":{SUBSCRIBERS}\r\n").as_bytes()
        );
    }
    for (n, sub) in subs.iter_mut().enumerate() {
        for i in 0..MESSAGES {
            assert_eq!(
                sub.read_reply().unwrap(),
                message("feed", &i.to_string()),
                "subscriber {n}, message {i}"
            );
        }
    }
}

#[test]
fn a_channel_and_a_matching_pattern_each_deliver() {
    let server = common::start_ferrokv();
    let mut sub = subscriber(&server, &["SUBSCRIBE", "news.1"], 1);
    sub.send(&["PSUBSCRIBE", "news.*"]).unwrap();
    sub.read_reply().unwrap();
    let mut publisher = server.connect();
    assert_eq!(publisher.cmd(&["PUBLISH", "news.1", "hi"]), b":2\r\n");
    assert_eq!(publisher.cmd(&["PUBLISH", "news.2", "yo"]), b":1\r\n");
    assert_eq!(sub.read_reply().unwrap(), message("news.1", "hi"));
    assert_eq!(
        sub.read_reply().unwrap(),
        b"*4\r\n$8\r\npmessage\r\n$6\r\nnews.*\r\n$6\r\nnews.1\r\n$2\r\nhi\r\n"
    );
    assert_eq!(
        sub.read_reply().unwrap(),
        b"*4\r\n$8\r\npmessage\r\n$6\r\nnews.*\r\n$6\r\nnews.2\r\n$2\r\nyo\r\n"
    );
}

#[test]
fn resp2_and_resp3_subscribers_of_one_channel_get_their_own_frames() {
    let server = common::start_ferrokv();
    let mut two = subscriber(&server, &["SUBSCRIBE", "ch"], 1);
    let mut three = server.connect();
    three.cmd(&["HELLO", "3"]);
    three.send(&["SUBSCRIBE", "ch"]).unwrap();
    assert_eq!(
        three.read_reply().unwrap(),
        b">3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:1\r\n"
    );
    // RESP3 allows every command while subscribed; replies and pushes
    // share the connection in order.
    assert_eq!(three.cmd(&["SET", "k", "v"]), b"+OK\r\n");
    let mut publisher = server.connect();
    assert_eq!(publisher.cmd(&["PUBLISH", "ch", "x"]), b":2\r\n");
    assert_eq!(two.read_reply().unwrap(), message("ch", "x"));
    assert_eq!(
        three.read_reply().unwrap(),
        b">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$1\r\nx\r\n"
    );
    assert_eq!(three.cmd(&["GET", "k"]), b"$1\r\nv\r\n");
    let info = String::from_utf8_lossy(&three.cmd(&["CLIENT", "INFO"])).into_owned();
    assert!(
        info.contains(" flags=P ") && info.contains(" sub=1 "),
        "{info}"
    );
    assert!(info.trim_end().ends_with(" resp=3"), "{info}");
}

#[test]
fn shard_channels_are_apart_from_channels_and_patterns() {
    let server = common::start_ferrokv();
    let mut sub = subscriber(&server, &["SSUBSCRIBE", "s1"], 1);
    let mut psub = subscriber(&server, &["PSUBSCRIBE", "*"], 1);
    let mut publisher = server.connect();
    assert_eq!(publisher.cmd(&["PUBLISH", "s1", "plain"]), b":1\r\n");
    assert_eq!(publisher.cmd(&["SPUBLISH", "s1", "shard"]), b":1\r\n");
    assert_eq!(
        sub.read_reply().unwrap(),
        b"*3\r\n$8\r\nsmessage\r\n$2\r\ns1\r\n$5\r\nshard\r\n"
    );
    // The pattern saw the plain message only.
    assert_eq!(
        psub.read_reply().unwrap(),
        b"*4\r\n$8\r\npmessage\r\n$1\r\n*\r\n$2\r\ns1\r\n$5\r\nplain\r\n"
    );
    assert_eq!(psub.cmd(&["PING"]), b"*2\r\n$4\r\npong\r\n$0\r\n\r\n");
}

#[test]
fn unsubscribing_from_everything_confirms_each_channel() {
    let server = common::start_ferrokv();
    let mut sub = subscriber(&server, &["SUBSCRIBE", "a", "b", "c"], 3);
    sub.send(&["UNSUBSCRIBE"]).unwrap();
    let mut names = BTreeSet::new();
    let mut counts = BTreeSet::new();
    for _ in 0..3 {
        match sub.read_frame().unwrap() {
            Frame::Array(items) => {
                assert_eq!(items[0], Frame::Bulk(b"unsubscribe".to_vec()));
                names.insert(common::expect_bulk(&items[1]));
                match items[2] {
                    Frame::Integer(n) => counts.insert(n),
                    ref other => panic!("count {other:?}"),
                };
            }
            other => panic!("expected a confirmation, got {other:?}"),
        }
    }
    assert_eq!(names, [b"a", b"b", b"c"].map(|n| n.to_vec()).into());
    assert_eq!(counts, [0, 1, 2].into());
    // Out of subscribed mode: a plain PONG.
    assert_eq!(sub.cmd(&["PING"]), b"+PONG\r\n");
}

#[test]
fn reset_and_client_kill_leave_no_subscription_behind() {
    let server = common::start_ferrokv();
    let mut admin = server.connect();
    let mut sub = subscriber(&server, &["SUBSCRIBE", "x", "y"], 2);
    sub.send(&["PSUBSCRIBE", "x*"]).unwrap();
    sub.read_reply().unwrap();
    assert_eq!(info_field(&mut admin, "stats", "pubsub_channels"), "2");
    assert_eq!(info_field(&mut admin, "stats", "pubsub_patterns"), "1");
    assert_eq!(sub.cmd(&["RESET"]), b"+RESET\r\n");
    assert_eq!(admin.cmd(&["PUBLISH", "x", "m"]), b":0\r\n");
    assert_eq!(info_field(&mut admin, "stats", "pubsub_channels"), "0");
    assert_eq!(info_field(&mut admin, "stats", "pubsub_patterns"), "0");

    let mut victim = subscriber(&server, &["SSUBSCRIBE", "s"], 1);
    victim.send(&["PSUBSCRIBE", "p*"]).unwrap();
    victim.read_reply().unwrap();
    let list =
        String::from_utf8_lossy(&admin.cmd(&["CLIENT", "LIST", "TYPE", "pubsub"])).into_owned();
    assert!(list.contains("flags=P "), "{list}");
    assert!(list.contains(" sub=0 psub=1 ssub=1 "), "{list}");
    assert_eq!(admin.cmd(&["CLIENT", "KILL", "TYPE", "pubsub"]), b":1\r\n");
    assert_eq!(
        admin.cmd(&["PUBSUB", "SHARDNUMSUB", "s"]),
        b"*2\r\n$1\r\ns\r\n:0\r\n"
    );
    assert_eq!(admin.cmd(&["PUBSUB", "NUMPAT"]), b":0\r\n");
}

/// A subscriber that never reads, while a publisher sends 64 KB messages
/// until the server cuts the subscriber off (or 1 GB has gone out).
/// Returns the largest growth of the server's RSS seen, in KiB.
fn flood_until_disconnected(server: &Server, publisher: &mut Client) -> u64 {
    let payload = "x".repeat(64 * 1024);
    let batch: Vec<u8> = (0..16)
        .flat_map(|_| encode_command(&["PUBLISH", "flood", &payload]))
        .collect();
    let baseline = server.rss_kib();
    let mut peak = 0;
    for _ in 0..1024 {
        publisher.send_raw(&batch).unwrap();
        for _ in 0..16 {
            publisher.read_reply().unwrap();
        }
        peak = peak.max(server.rss_kib().saturating_sub(baseline));
        if info_field(
            publisher,
            "stats",
            "client_output_buffer_limit_disconnections",
        ) == "1"
        {
            return peak;
        }
    }
    panic!("1 GB published and the subscriber is still connected");
}

#[test]
fn a_subscriber_that_stops_reading_is_cut_off_at_its_hard_limit() {
    let server = common::start_ferrokv();
    // The default pubsub class: 32 MB hard, 8 MB soft for 60 seconds.
    let _stalled = subscriber(&server, &["SUBSCRIBE", "flood"], 1);
    let mut publisher = server.connect();
    let peak_kib = flood_until_disconnected(&server, &mut publisher);
    eprintln!("RSS grew by at most {peak_kib} KiB before the cut");
    assert!(
        peak_kib < (32 + 24) * 1024,
        "RSS grew by {peak_kib} KiB for a 32 MB limit"
    );
    assert_eq!(
        publisher.cmd(&["PUBSUB", "NUMSUB", "flood"]),
        b"*2\r\n$5\r\nflood\r\n:0\r\n"
    );
    assert!(
        server
            .log()
            .contains("scheduled to be closed ASAP for overcoming of output buffer limits"),
        "{}",
        server.log()
    );
}

#[test]
fn a_subscriber_over_its_soft_limit_is_cut_off_after_its_seconds() {
    let server = common::start_ferrokv();
    let mut publisher = server.connect();
    assert_eq!(
        publisher.cmd(&[
            "CONFIG",
            "SET",
            "client-output-buffer-limit",
            "pubsub 0 256kb 1"
        ]),
        b"+OK\r\n"
    );
    let stalled = subscriber(&server, &["SUBSCRIBE", "slow"], 1);
    let port = stalled.local_port().to_string();
    let payload = "y".repeat(64 * 1024);
    // Over the soft limit, the subscriber is still there: the limit acts
    // only once it has lasted longer than its second.
    let mut seen_over = false;
    let deadline = Instant::now() + PATIENCE;
    loop {
        assert!(
            Instant::now() < deadline,
            "the subscriber was never cut off"
        );
        publisher.cmd(&["PUBLISH", "slow", &payload]);
        let list = String::from_utf8_lossy(&publisher.cmd(&["CLIENT", "LIST"])).into_owned();
        let Some(line) = list
            .lines()
            .find(|l| l.contains(&format!("127.0.0.1:{port} ")))
        else {
            break;
        };
        let omem: usize = line
            .split(' ')
            .find_map(|f| f.strip_prefix("omem="))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        seen_over |= omem >= 256 * 1024;
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(seen_over, "cut off before staying over the soft limit");
    assert_eq!(
        info_field(
            &mut publisher,
            "stats",
            "client_output_buffer_limit_disconnections"
        ),
        "1"
    );
}

#[test]
fn a_huge_reply_is_held_to_the_normal_class_limit() {
    let server = common::start_ferrokv();
    let mut admin = server.connect();
    assert_eq!(
        admin.cmd(&[
            "CONFIG",
            "SET",
            "client-output-buffer-limit",
            "normal 1mb 0 0"
        ]),
        b"+OK\r\n"
    );
    admin.cmd(&["SADD", "s", "a", "b", "c"]);
    let baseline = server.rss_kib();
    let mut greedy = server.connect();
    // Ten million elements, 70 MB of reply without the limit.
    let outcome = greedy.cmd_result(&["SRANDMEMBER", "s", "-10000000"]);
    assert!(outcome.is_err(), "the reply should have been cut off");
    let grown = server.rss_kib().saturating_sub(baseline);
    assert!(grown < 32 * 1024, "RSS grew by {grown} KiB");
    assert_eq!(
        info_field(
            &mut admin,
            "stats",
            "client_output_buffer_limit_disconnections"
        ),
        "1"
    );
    assert_eq!(admin.cmd(&["PING"]), b"+PONG\r\n");
}

#[test]
fn client_list_counts_pending_output() {
    let server = common::start_ferrokv();
    let mut admin = server.connect();
    let stalled = subscriber(&server, &["SUBSCRIBE", "big"], 1);
    let port = stalled.local_port().to_string();
    let payload = "z".repeat(256 * 1024);
    // Published until the socket buffers are full and output waits.
    eventually("pending output on the stalled subscriber", || {
        admin.cmd(&["PUBLISH", "big", &payload]);
        let list = String::from_utf8_lossy(&admin.cmd(&["CLIENT", "LIST"])).into_owned();
        let line = list
            .lines()
            .find(|l| l.contains(&format!("127.0.0.1:{port} ")))
            .unwrap_or_default()
            .to_string();
        line.contains("obl=16384 ") && !line.contains(" omem=0 ") && line.contains("events=rw")
    });
    let recent: usize = info_field(&mut admin, "clients", "client_recent_max_output_buffer")
        .parse()
        .unwrap();
    assert!(recent > 0);
}

// ---------------------------------------------------------------------------
// Real clients: redis-cli, redis-py and node-redis subscribers. `.ci/run`
// installs redis-py and node-redis; where one is missing the test says so
// and passes.
// ---------------------------------------------------------------------------

#[test]
fn redis_py_pubsub_receives_messages_in_resp2_and_resp3() {
    if !common::run_client("python3", &["-c", "import redis"]).0 {
        eprintln!("skipped: redis-py is not installed (pip install redis)");
        return;
    }
    let server = common::start_ferrokv();
    let port = server.port.to_string();
    let (ok, output) = common::run_client("python3", &["redis_py_pubsub.py", &port]);
    assert!(ok, "redis-py pubsub failed:\n{output}");
}

#[test]
fn node_redis_subscribers_receive_messages_in_resp2_and_resp3() {
    let modules = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/clients/node_modules/redis"
    );
    if common::find_on_path("node").is_none() || !std::path::Path::new(modules).exists() {
        eprintln!("skipped: node or node-redis is missing (npm install in tests/clients)");
        return;
    }
    let server = common::start_ferrokv();
    let port = server.port.to_string();
    let (ok, output) = common::run_client("node", &["node_redis_pubsub.mjs", &port]);
    assert!(ok, "node-redis pubsub failed:\n{output}");
}

#[test]
fn redis_cli_subscribe_and_psubscribe_print_messages() {
    let Some(cli) = common::find_on_path("redis-cli") else {
        eprintln!("skipped: redis-cli is not installed");
        return;
    };
    use std::io::BufRead;
    use std::process::{Command, Stdio};
    let server = common::start_ferrokv();
    let port = server.port.to_string();
    let mut admin = server.connect();
    for (verb, target) in [("SUBSCRIBE", "news"), ("PSUBSCRIBE", "n*")] {
        let mut child = Command::new(&cli)
            .args(["-p", &port, verb, target])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn redis-cli");
        let stdout = child.stdout.take().expect("piped stdout");
        // Lines arrive on a thread, so a silent client cannot hang the test.
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        eventually("redis-cli to subscribe", || {
            let numpat = admin.cmd(&["PUBSUB", "NUMPAT"]);
            let numsub = admin.cmd(&["PUBSUB", "NUMSUB", "news"]);
            numpat == b":1\r\n" || numsub.ends_with(b":1\r\n")
        });
        assert_eq!(admin.cmd(&["PUBLISH", "news", "hello-cli"]), b":1\r\n");
        let deadline = Instant::now() + PATIENCE;
        let mut seen = Vec::new();
        while !seen.iter().any(|l: &String| l == "hello-cli") {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) => seen.push(line),
                Err(_) => panic!("redis-cli {verb} printed {seen:?}"),
            }
        }
        let _ = child.kill();
        let _ = child.wait();
        eventually("redis-cli's subscription to go", || {
            admin.cmd(&["PUBSUB", "NUMPAT"]) == b":0\r\n"
                && admin
                    .cmd(&["PUBSUB", "NUMSUB", "news"])
                    .ends_with(b":0\r\n")
        });
    }
}
