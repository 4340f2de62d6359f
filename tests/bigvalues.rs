//! Big values and big replies: byte-exact round trips around Redis's 32 KB
//! big-argument threshold and far beyond it, other clients served while a
//! big reply streams, and idle clients giving their buffers back.

mod common;

use std::io::{Read, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::{Client, Frame, encode_command};

/// How long a test waits for a condition it polls for.
const PATIENCE: Duration = Duration::from_secs(30);

/// A value of `len` bytes that is not all one byte, so a shifted or
/// truncated copy shows.
fn value(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

fn bulk(data: &[u8]) -> Vec<u8> {
    let mut out = format!("${}\r\n", data.len()).into_bytes();
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
    out
}

/// The sizes the issue names: small, both sides of the 32 KB threshold,
/// 1 MB.
const SIZES: &[usize] = &[1024, 32 * 1024 - 1, 32 * 1024, 32 * 1024 + 1, 1024 * 1024];

fn round_trips(client: &mut Client, resp3: bool) {
    if resp3 {
        client.cmd(&["HELLO", "3"]);
    }
    for (i, &len) in SIZES.iter().enumerate() {
        let v = value(len, i as u8);
        let key = format!("big:{len}:{resp3}");
        assert_eq!(
            client.cmd(&[b"SET".as_slice(), key.as_bytes(), &v]),
            b"+OK\r\n"
        );
        assert_eq!(client.cmd(&[b"GET".as_slice(), key.as_bytes()]), bulk(&v));
        // APPEND doubles it; GETRANGE reads back the seam.
        let appended = client.cmd(&[b"APPEND".as_slice(), key.as_bytes(), &v]);
        assert_eq!(appended, format!(":{}\r\n", 2 * len).into_bytes());
        let seam = client.cmd(&[
            b"GETRANGE".as_slice(),
            key.as_bytes(),
            (len - 3).to_string().as_bytes(),
            (len + 2).to_string().as_bytes(),
        ]);
        let mut want = v[len - 3..].to_vec();
        want.extend_from_slice(&v[..3]);
        assert_eq!(seam, bulk(&want));
        // SETRANGE past the end pads with zeros.
        let at = 2 * len + 5;
        let grown = client.cmd(&[
            b"SETRANGE".as_slice(),
            key.as_bytes(),
            at.to_string().as_bytes(),
            &v,
        ]);
        assert_eq!(grown, format!(":{}\r\n", at + len).into_bytes());
        let mut whole = v.clone();
        whole.extend_from_slice(&v);
        whole.extend_from_slice(&[0; 5]);
        whole.extend_from_slice(&v);
        assert_eq!(
            client.cmd(&[b"GET".as_slice(), key.as_bytes()]),
            bulk(&whole)
        );
        // In a hash and a list too.
        let hkey = format!("h{key}");
        assert_eq!(
            client.cmd(&[b"HSET".as_slice(), hkey.as_bytes(), b"f", &v]),
            b":1\r\n"
        );
        assert_eq!(
            client.cmd(&[b"HGET".as_slice(), hkey.as_bytes(), b"f"]),
            bulk(&v)
        );
        let lkey = format!("l{key}");
        assert_eq!(
            client.cmd(&[b"RPUSH".as_slice(), lkey.as_bytes(), &v, b"tail"]),
            b":2\r\n"
        );
        assert_eq!(
            client.cmd(&[b"LINDEX".as_slice(), lkey.as_bytes(), b"0"]),
            bulk(&v)
        );
    }
}

#[test]
fn values_around_the_big_argument_threshold_round_trip_in_resp2_and_resp3() {
    let server = common::start_ferrokv();
    round_trips(&mut server.connect(), false);
    round_trips(&mut server.connect(), true);
}

#[test]
fn a_pipeline_mixing_big_and_small_arguments_keeps_its_order() {
    let server = common::start_ferrokv();
    let mut client = server.connect();
    let mut pipeline = Vec::new();
    let mut expected = Vec::new();
    for (i, &len) in SIZES.iter().enumerate() {
        let v = value(len, 7 + i as u8);
        let key = format!("p{i}");
        pipeline.extend(encode_command(&[b"SET".as_slice(), key.as_bytes(), &v]));
        pipeline.extend(encode_command(&["INCR", "counter"]));
        pipeline.extend(encode_command(&[b"GET".as_slice(), key.as_bytes()]));
        expected.push(b"+OK\r\n".to_vec());
        expected.push(format!(":{}\r\n", i + 1).into_bytes());
        expected.push(bulk(&v));
    }
    // Sent in odd-sized pieces, so arguments straddle reads.
    for piece in pipeline.chunks(7919) {
        client.send_raw(piece).unwrap();
    }
    for want in expected {
        assert_eq!(client.read_reply().unwrap(), want);
    }
}

/// Replies built element by element (LRANGE, HGETALL, MGET) of megabytes,
/// spanning many 16 KB reply blocks, come out byte for byte in RESP2 and
/// RESP3, pipelined with small commands between them.
#[test]
fn big_built_replies_are_byte_exact() {
    let server = common::start_ferrokv();
    let mut client = server.connect();
    const N: usize = 20_000;
    let item = |i: usize| format!("{i:07}-{}", "x".repeat(i % 200));
    let mut fill = Vec::new();
    for chunk in (0..N).collect::<Vec<_>>().chunks(1000) {
        let mut rpush = vec!["RPUSH".to_string(), "list".to_string()];
        let mut hset = vec!["HSET".to_string(), "hash".to_string()];
        let mut mset = vec!["MSET".to_string()];
        for &i in chunk {
            rpush.push(item(i));
            hset.extend([format!("f{i}"), item(i)]);
            mset.extend([format!("k{i}"), item(i)]);
        }
        fill.extend(encode_command(&rpush));
        fill.extend(encode_command(&hset));
        fill.extend(encode_command(&mset));
    }
    client.send_raw(&fill).unwrap();
    for _ in 0..3 * N / 1000 {
        client.read_reply().unwrap();
    }
    let mut mget = vec!["MGET".to_string()];
    mget.extend((0..N).map(|i| format!("k{i}")));
    for resp3 in [false, true] {
        let hello: &[&str] = if resp3 {
            &["HELLO", "3"]
        } else {
            &["HELLO", "2"]
        };
        client.cmd(hello);
        let mut items = format!("*{N}\r\n").into_bytes();
        for i in 0..N {
            items.extend(bulk(item(i).as_bytes()));
        }
        let mut want_pairs: Vec<(Vec<u8>, Vec<u8>)> = (0..N)
            .map(|i| (format!("f{i}").into_bytes(), item(i).into_bytes()))
            .collect();
        want_pairs.sort();
        let mut pipeline = encode_command(&["LRANGE", "list", "0", "-1"]);
        pipeline.extend(encode_command(&["PING"]));
        pipeline.extend(encode_command(&["HGETALL", "hash"]));
        pipeline.extend(encode_command(&mget));
        pipeline.extend(encode_command(&["PING", "end"]));
        client.send_raw(&pipeline).unwrap();
        assert!(client.read_reply().unwrap() == items, "LRANGE differs");
        assert_eq!(client.read_reply().unwrap(), b"+PONG\r\n");
        // The hash's pairs come in its table's order, as in Redis.
        let map = client.read_reply().unwrap();
        let (frame, used) = common::parse_frame(&map).unwrap().unwrap();
        assert_eq!(used, map.len());
        let pairs: Vec<(Frame, Frame)> = match (frame, resp3) {
            (Frame::Map(pairs), true) => pairs,
            (Frame::Array(flat), false) => flat
                .chunks(2)
                .map(|p| (p[0].clone(), p[1].clone()))
                .collect(),
            (other, _) => panic!("HGETALL answered {:?}", other.to_bytes().get(..40)),
        };
        let mut got: Vec<(Vec<u8>, Vec<u8>)> = pairs
            .into_iter()
            .map(|pair| match pair {
                (Frame::Bulk(f), Frame::Bulk(v)) => (f, v),
                other => panic!("not a pair of bulks: {other:?}"),
            })
            .collect();
        got.sort();
        assert!(got == want_pairs, "HGETALL differs");
        assert!(client.read_reply().unwrap() == items, "MGET differs");
        assert_eq!(client.read_reply().unwrap(), bulk(b"end"));
    }
}

#[test]
fn a_100_mb_value_round_trips() {
    let server = common::start_ferrokv();
    let mut client = server.connect();
    let v = value(100 * 1024 * 1024, 3);
    assert_eq!(client.cmd(&[b"SET".as_slice(), b"huge", &v]), b"+OK\r\n");
    assert_eq!(client.cmd(&["STRLEN", "huge"]), b":104857600\r\n");
    assert!(client.cmd(&["GET", "huge"]) == bulk(&v));
    assert_eq!(
        client.cmd(&["GETRANGE", "huge", "104857598", "-1"]),
        bulk(&v[v.len() - 2..])
    );
    assert_eq!(client.cmd(&["DEL", "huge"]), b":1\r\n");
}

#[test]
fn other_clients_are_served_while_a_big_reply_streams() {
    let server = common::start_ferrokv();
    let mut setup = server.connect();
    let v = value(64 * 1024 * 1024, 5);
    assert_eq!(setup.cmd(&[b"SET".as_slice(), b"big", &v]), b"+OK\r\n");
    let pongs = Arc::new(AtomicUsize::new(0));
    // A reader that takes 64 MB replies as fast as it can, on a thread;
    // halfway through each it waits for a few PINGs to be answered, so
    // they are answered while the reply is in flight however the threads
    // are scheduled.
    let port = server.port;
    let seen = Arc::clone(&pongs);
    let reader = std::thread::spawn(move || {
        let mut c = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        c.set_read_timeout(Some(PATIENCE)).unwrap();
        let want = 64 * 1024 * 1024 + 2 + "$67108864\r\n".len();
        let mut buf = vec![0u8; 1 << 20];
        for round in 0..4 {
            c.write_all(b"GET big\r\n").unwrap();
            let mut got = 0;
            let mut waited = false;
            while got < want {
                let n = c.read(&mut buf).unwrap();
                assert!(n > 0, "closed after {got} bytes");
                got += n;
                if !waited && got >= want / 2 {
                    waited = true;
                    let target = 3 * (round + 1);
                    let deadline = Instant::now() + PATIENCE;
                    while seen.load(Ordering::SeqCst) < target {
                        assert!(Instant::now() < deadline, "PINGs stalled mid-reply");
                        std::thread::yield_now();
                    }
                }
            }
            assert_eq!(got, want);
        }
    });
    // Meanwhile another client's PINGs are answered, many times over: the
    // big reply goes out in slices with everyone else served between them.
    let mut pinger = server.connect();
    let deadline = Instant::now() + PATIENCE;
    while !reader.is_finished() {
        assert!(Instant::now() < deadline, "the big replies never finished");
        assert_eq!(pinger.cmd(&["PING"]), b"+PONG\r\n");
        pongs.fetch_add(1, Ordering::SeqCst);
    }
    reader.join().unwrap();
    assert!(pongs.load(Ordering::SeqCst) >= 12);
}

/// A field of CLIENT LIST's line for the client connected from `port`.
fn client_field(admin: &mut Client, port: u16, field: &str) -> usize {
    let list = String::from_utf8_lossy(&admin.cmd(&["CLIENT", "LIST"])).into_owned();
    let line = list
        .lines()
        .find(|l| l.contains(&format!("127.0.0.1:{port} ")))
        .unwrap_or_else(|| panic!("no client from port {port} in {list}"));
    line.split(' ')
        .find_map(|f| f.strip_prefix(&format!("{field}=")))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {field} in {line}"))
}

#[test]
fn idle_clients_give_their_buffers_back() {
    let server = common::start_ferrokv();
    let mut admin = server.connect();
    let mut big = server.connect();
    // The read buffer took 16 KB chunks for the request's head and the
    // GET; it keeps that room for what may follow until the client idles.
    let v = value(512 * 1024, 9);
    assert_eq!(big.cmd(&[b"SET".as_slice(), b"k", &v]), b"+OK\r\n");
    assert_eq!(big.cmd(&["GET", "k"]), bulk(&v));
    let port = big.local_port();
    let before = client_field(&mut admin, port, "rbs");
    assert!(before > 4096, "the read buffer never grew: rbs={before}");
    // After two idle seconds the cron frees the read buffer's room.
    let deadline = Instant::now() + PATIENCE;
    while client_field(&mut admin, port, "rbs") > 4096 {
        assert!(Instant::now() < deadline, "the idle client kept its buffer");
        std::thread::sleep(Duration::from_millis(50));
    }
    // And the client works as before.
    assert_eq!(big.cmd(&["STRLEN", "k"]), b":524288\r\n");
}

#[test]
fn a_read_buffer_grown_for_a_big_argument_is_not_kept() {
    let server = common::start_ferrokv();
    let mut admin = server.connect();
    let mut big = server.connect();
    let v = value(4 * 1024 * 1024, 11);
    assert_eq!(big.cmd(&[b"SET".as_slice(), b"k", &v]), b"+OK\r\n");
    // At once, not after idling: the 4 MB buffer went with the request.
    let rbs = client_field(&mut admin, big.local_port(), "rbs");
    assert!(rbs < 1024 * 1024, "rbs={rbs} after a 4 MB argument");
    assert_eq!(big.cmd(&["GET", "k"]), bulk(&v));
}

/// `client-query-buffer-limit` closes a client whose big argument outgrows
/// it, and `proto-max-bulk-len` refuses a longer claim at once, with
/// Redis's error; checked against both servers.
#[test]
fn big_arguments_are_held_to_the_query_buffer_and_bulk_limits() {
    let servers = [Some(common::start_ferrokv()), common::start_redis()];
    for server in servers.iter().flatten() {
        let mut admin = server.connect();
        let set = |admin: &mut Client, name: &str, value: &str| {
            assert_eq!(admin.cmd(&["CONFIG", "SET", name, value]), b"+OK\r\n");
        };
        set(&mut admin, "client-query-buffer-limit", "1mb");
        let mut big = server.connect();
        let v = value(2 * 1024 * 1024, 13);
        // The server may close while the argument is still being sent.
        let _ = big.send(&[b"SET".as_slice(), b"k", &v]);
        assert!(
            big.read_reply().is_err(),
            "{}: the client over its query buffer limit got a reply",
            server.name
        );
        assert_eq!(admin.cmd(&["EXISTS", "k"]), b":0\r\n", "{}", server.name);
        set(&mut admin, "client-query-buffer-limit", "1gb");
        set(&mut admin, "proto-max-bulk-len", "1mb");
        let mut claim = server.connect();
        claim
            .send_raw(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1048577\r\n")
            .unwrap();
        assert_eq!(
            claim.read_reply().unwrap(),
            b"-ERR Protocol error: invalid bulk length\r\n",
            "{}",
            server.name
        );
        assert!(claim.read_reply().is_err(), "{}: still open", server.name);
        // Exactly the limit is accepted.
        let mut at_limit = server.connect();
        let v = value(1024 * 1024, 17);
        assert_eq!(at_limit.cmd(&[b"SET".as_slice(), b"k", &v]), b"+OK\r\n");
        assert_eq!(at_limit.cmd(&["STRLEN", "k"]), b":1048576\r\n");
    }
}
