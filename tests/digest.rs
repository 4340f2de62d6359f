//! DEBUG DIGEST and DEBUG DIGEST-VALUE against redis-server: the same
//! data must digest the same on both, whatever each server's encodings,
//! hash order or node boundaries, since tools and test suites compare
//! servers (a primary and its replica, a dataset before and after a
//! restart) by their digests.
//!
//! # Layout
//!
//! 1. [`same_dataset_same_digests`]: a seeded random dataset of every type,
//!    each in its small and its large encoding, in three databases, made
//!    by the same commands on both servers (every reply compared), with
//!    deadlines set to one absolute time on both. Then DEBUG DIGEST, DEBUG
//!    DIGEST-VALUE of every key and DEBUG OBJECT (all but the address and
//!    the access clock) must agree; again after DEBUG RELOAD on both.
//! 2. [`help_lists_only_what_runs`]: every subcommand DEBUG HELP lists is
//!    one ferrokv runs; [`change_repl_id_gives_a_new_id`] and
//!    [`stringmatch_test_passes`], which a script cannot show (a random ID;
//!    seconds of work in redis-server).
//!
//! When redis-server is not on PATH the comparisons say they were skipped
//! and pass.

mod common;

use common::{Client, Frame, Pair};
use ferrokv::util::Rng;

/// A deadline far in the future, the same on both servers.
const FAR_DEADLINE_MS: &str = "99999999999000";

type Command = Vec<Vec<u8>>;

fn command(words: &[&[u8]]) -> Command {
    words.iter().map(|w| w.to_vec()).collect()
}

/// Sends `commands` to both servers; returns each server's replies
/// decoded (ferrokv's first), for comparisons looser than byte for byte.
fn send_frames(pair: &mut Pair, commands: &[Command]) -> (Vec<Frame>, Vec<Frame>) {
    let (ours, theirs) = pair.send(commands);
    let decode = |replies: Vec<Vec<u8>>| replies.iter().map(|r| frame(r)).collect();
    (decode(ours), decode(theirs))
}

fn frame(bytes: &[u8]) -> Frame {
    match common::parse_frame(bytes) {
        Ok(Some((f, _))) => f,
        other => panic!("not one reply: {other:?}"),
    }
}

/// An element of any kind a value may hold: small and large integers
/// (which the compact encodings store as integers), decimals, the empty
/// string, binary, and strings too long for a listpack.
fn element(rng: &mut Rng) -> Vec<u8> {
    match rng.below(10) {
        0 => (rng.below(2000) as i64 - 1000).to_string().into_bytes(),
        1 => [i64::MIN, i64::MAX, -1, 0, 4_294_967_296][rng.below(5) as usize]
            .to_string()
            .into_bytes(),
        2 => format!("{}.{}", rng.below(100), rng.below(100)).into_bytes(),
        3 => Vec::new(),
        4 => {
            let len = 1 + rng.below(8) as usize;
            common::random_bytes(rng, len)
        }
        5 => vec![b'x'; 65 + rng.below(100) as usize],
        6 => b"007".to_vec(),
        _ => format!("e{}", rng.below(400)).into_bytes(),
    }
}

/// A score in every form ZADD reads: integers, decimals, exponents, the
/// infinities and a negative zero.
fn score(rng: &mut Rng) -> Vec<u8> {
    let s = match rng.below(8) {
        0 => "inf".to_string(),
        1 => "-inf".to_string(),
        2 => "-0".to_string(),
        3 => format!("{}e{}", rng.below(100), rng.below(600) as i64 - 300),
        4 => format!("0.{}", rng.below(1_000_000)),
        5 => (rng.below(1 << 53) as i64 - (1 << 52)).to_string(),
        _ => format!("{}.{}", rng.below(2000) as i64 - 1000, rng.below(1000)),
    };
    s.into_bytes()
}

/// The commands that build one key of `kind` with about `n` elements,
/// then change it here and there.
fn build(rng: &mut Rng, kind: &str, key: &[u8], n: usize) -> Vec<Command> {
    let mut out = Vec::new();
    let with_key = |cmd: &[u8], rest: Vec<Vec<u8>>| {
        let mut c = vec![cmd.to_vec(), key.to_vec()];
        c.extend(rest);
        c
    };
    match kind {
        "string" => {
            // An integer, a short string, long ones grown by APPEND.
            let value = match n {
                0..=1 => (rng.below(1 << 40) as i64 - (1 << 39))
                    .to_string()
                    .into_bytes(),
                2..=9 => format!("short:{}", rng.below(1000)).into_bytes(),
                _ => vec![b'v'; n * 10],
            };
            out.push(with_key(b"SET", vec![value]));
            if n >= 10 {
                out.push(with_key(b"APPEND", vec![element(rng)]));
            }
        }
        "list" => {
            for _ in 0..n {
                let cmd: &[u8] = if rng.below(2) == 0 {
                    b"LPUSH"
                } else {
                    b"RPUSH"
                };
                out.push(with_key(cmd, vec![element(rng)]));
            }
            out.push(with_key(b"LPOP", vec![]));
            out.push(with_key(b"LSET", vec![b"1".to_vec(), element(rng)]));
            out.push(with_key(b"LREM", vec![b"0".to_vec(), element(rng)]));
        }
        "set" | "intset" => {
            for _ in 0..n {
                let member = match kind {
                    "intset" => (rng.below(100_000) as i64 - 50_000)
                        .to_string()
                        .into_bytes(),
                    _ => element(rng),
                };
                out.push(with_key(b"SADD", vec![member]));
            }
            out.push(with_key(b"SREM", vec![element(rng)]));
        }
        "zset" => {
            for _ in 0..n {
                out.push(with_key(b"ZADD", vec![score(rng), element(rng)]));
            }
            out.push(with_key(b"ZINCRBY", vec![score(rng), element(rng)]));
            out.push(with_key(b"ZREM", vec![element(rng)]));
        }
        "hash" => {
            for _ in 0..n {
                out.push(with_key(b"HSET", vec![element(rng), element(rng)]));
            }
            out.push(with_key(b"HDEL", vec![element(rng)]));
            out.push(with_key(
                b"HINCRBY",
                vec![b"counter".to_vec(), rng.below(100).to_string().into_bytes()],
            ));
        }
        "stream" => {
            for i in 0..n {
                let mut fields = Vec::new();
                for _ in 0..1 + rng.below(3) {
                    fields.push(element(rng));
                    fields.push(element(rng));
                }
                let mut args = vec![format!("{}-{}", 1 + i / 3, i % 3).into_bytes()];
                args.extend(fields);
                out.push(with_key(b"XADD", args));
            }
            out.push(with_key(b"XDEL", vec![b"1-1".to_vec(), b"2-0".to_vec()]));
            out.push(with_key(
                b"XGROUP",
                vec![b"CREATE".to_vec(), b"g".to_vec(), b"0".to_vec()],
            ));
        }
        other => unreachable!("no kind {other}"),
    }
    out
}

/// DEBUG OBJECT's line without the fields that differ between any two
/// servers: the address and the access clock.
fn object_fields(reply: &Frame) -> Vec<String> {
    let Frame::Simple(line) = reply else {
        panic!("DEBUG OBJECT answered {reply:?}");
    };
    String::from_utf8_lossy(line)
        .split(' ')
        .filter(|f| !f.starts_with("at:") && !f.starts_with("lru") && *f != "Value")
        .map(str::to_string)
        .collect()
}

/// Compares the digests of the whole dataset and of each key, and each
/// key's DEBUG OBJECT; returns the encodings seen, by type.
fn compare_digests(pair: &mut Pair, dbs: &[usize]) -> Vec<(Vec<u8>, Vec<u8>)> {
    pair.both(&[command(&[b"DEBUG", b"DIGEST"])]);
    let mut seen = Vec::new();
    for db in dbs {
        let db = db.to_string();
        pair.both(&[command(&[b"SELECT", db.as_bytes()])]);
        // KEYS lists in each server's hash order.
        let (ours, theirs) = send_frames(pair, &[command(&[b"KEYS", b"*"])]);
        let sorted = |reply: &Frame| {
            let Frame::Array(keys) = reply else {
                panic!("KEYS answered {reply:?}");
            };
            let mut keys: Vec<Vec<u8>> = keys.iter().map(common::expect_bulk).collect();
            keys.sort();
            keys
        };
        let keys = sorted(&theirs[0]);
        assert_eq!(sorted(&ours[0]), keys, "db {db}: the keys");
        let mut digest_value = command(&[b"DEBUG", b"DIGEST-VALUE"]);
        digest_value.extend(keys.iter().cloned());
        pair.both(&[digest_value]);
        let mut commands = Vec::new();
        for key in &keys {
            commands.push(command(&[b"TYPE", key]));
            commands.push(command(&[b"OBJECT", b"ENCODING", key]));
            commands.push(command(&[b"DEBUG", b"OBJECT", key]));
        }
        let (ours, theirs) = send_frames(pair, &commands);
        for (i, key) in keys.iter().enumerate() {
            let (o, t) = (&ours[3 * i..3 * i + 3], &theirs[3 * i..3 * i + 3]);
            assert_eq!(o[..2], t[..2], "db {db}: the type and encoding of {key:?}");
            assert_eq!(
                object_fields(&o[2]),
                object_fields(&t[2]),
                "db {db}: DEBUG OBJECT {key:?}: ferrokv (left) and redis-server (right)"
            );
            if let (Frame::Simple(kind), Frame::Bulk(encoding)) = (&t[0], &t[1]) {
                seen.push((kind.clone(), encoding.clone()));
            }
        }
    }
    seen
}

#[test]
fn same_dataset_same_digests() {
    let Some(mut pair) = Pair::start("DEBUG DIGEST") else {
        return;
    };
    let mut rng = Rng::new(0x5eed_d16e);
    let dbs = [0usize, 1, 7];
    // Small and large sizes of each type: the large ones pass the
    // default limits of the compact encodings (a list's several nodes).
    let kinds = ["string", "list", "set", "intset", "zset", "hash", "stream"];
    let sizes = [1usize, 5, 100, 700];
    let mut commands = Vec::new();
    for db in dbs {
        commands.push(vec![b"SELECT".to_vec(), db.to_string().into_bytes()]);
        for kind in kinds {
            for (i, &n) in sizes.iter().enumerate() {
                let key = format!("{kind}:{i}:{}", rng.below(1000)).into_bytes();
                commands.extend(build(&mut rng, kind, &key, n));
                if rng.below(3) == 0 {
                    commands.push(command(&[b"PEXPIREAT", &key, FAR_DEADLINE_MS.as_bytes()]));
                }
            }
        }
    }
    pair.both(&commands);
    let seen = compare_digests(&mut pair, &dbs);
    for (kind, encodings) in [
        ("string", &["int", "embstr", "raw"][..]),
        ("list", &["quicklist"]),
        ("set", &["intset", "hashtable"]),
        ("zset", &["listpack", "skiplist"]),
        ("hash", &["listpack", "hashtable"]),
        ("stream", &["stream"]),
    ] {
        for encoding in encodings {
            assert!(
                seen.contains(&(kind.as_bytes().to_vec(), encoding.as_bytes().to_vec())),
                "the dataset has no {kind} encoded as {encoding}"
            );
        }
    }
    // An RDB round trip keeps every digest (Redis may load a value in
    // another encoding; the digest does not see encodings).
    pair.both(&[command(&[b"DEBUG", b"RELOAD"])]);
    compare_digests(&mut pair, &dbs);
}

/// The subcommands DEBUG HELP names, from its lines that start a
/// subcommand (not indented).
fn listed_subcommands(help: &Frame) -> Vec<String> {
    let Frame::Array(lines) = help else {
        panic!("DEBUG HELP answered {help:?}");
    };
    lines
        .iter()
        .skip(1)
        .filter_map(|l| match l {
            Frame::Simple(l) if !l.starts_with(b" ") => {
                Some(String::from_utf8_lossy(l).split(' ').next()?.to_string())
            }
            _ => None,
        })
        .collect()
}

#[test]
fn help_lists_only_what_runs() {
    let server = common::start_ferrokv();
    let mut c = server.connect();
    let help = frame(&c.cmd(&["DEBUG", "HELP"]));
    let listed = listed_subcommands(&help);
    assert!(listed.len() > 10, "DEBUG HELP lists {listed:?}");
    // Each with arguments it accepts, or at least not "unknown".
    for sub in &listed {
        let args: &[&str] = match sub.as_str() {
            "DIGEST-VALUE" => &["k"],
            "ERROR" | "LOG" => &["text"],
            "HTSTATS" => &["0"],
            "HTSTATS-KEY" | "OBJECT" | "LISTPACK" | "QUICKLIST" => &["k"],
            "POPULATE" => &["1"],
            "PROTOCOL" => &["string"],
            "SET-ACTIVE-EXPIRE" => &["1"],
            "QUICKLIST-PACKED-THRESHOLD" => &["0"],
            "SLEEP" => &["0"],
            "RELOAD" | "LOADAOF" | "STRINGMATCH-TEST" => continue,
            _ => &[],
        };
        let mut cmd = vec!["DEBUG", sub.as_str()];
        cmd.extend(args);
        let reply = c.cmd(&cmd);
        assert!(
            common::find(&reply, b"unknown subcommand").is_none(),
            "DEBUG HELP lists {sub}, which answers {}",
            common::escape(&reply)
        );
    }
}

/// INFO replication's `master_replid`.
fn replid(c: &mut Client) -> String {
    let info = c.cmd(&["INFO", "replication"]);
    let text = String::from_utf8_lossy(&info).into_owned();
    text.lines()
        .find_map(|l| l.strip_prefix("master_replid:"))
        .unwrap_or_else(|| panic!("no master_replid in {text}"))
        .to_string()
}

#[test]
fn change_repl_id_gives_a_new_id() {
    let server = common::start_ferrokv();
    let mut c = server.connect();
    let before = replid(&mut c);
    assert_eq!(c.cmd(&["DEBUG", "CHANGE-REPL-ID"]), b"+OK\r\n");
    let after = replid(&mut c);
    assert_ne!(before, after);
    assert_eq!(after.len(), 40);
    assert!(after.bytes().all(|b| b.is_ascii_hexdigit()), "{after}");
}

#[test]
fn stringmatch_test_passes() {
    let server = common::start_ferrokv();
    let mut c = server.connect();
    assert_eq!(
        c.cmd(&["DEBUG", "STRINGMATCH-TEST"]),
        b"+Apparently Redis did not crash: test passed\r\n"
    );
    assert_eq!(c.cmd(&["PING"]), b"+PONG\r\n");
}
