//! Persistence: RDB files written by SAVE and read at start-up, DEBUG
//! RELOAD, and DUMP/RESTORE, checked against ferrokv itself and, in both
//! directions, against a real `redis-server` (Redis 7.0 writes the format
//! ferrokv writes, RDB version 10).
//!
//! # Layout
//!
//! - [`fill`] writes one key of each type and encoding (strings that are
//!   integers, short, long, binary and empty; small, multi-node and
//!   wide-element lists; listpack and hashtable hashes; intsets of each
//!   width and hashtable sets), binary keys, keys with deadlines, in
//!   databases 0, 5 and 15. It checks every key's `OBJECT ENCODING` as it
//!   goes, so the data is known to cover those encodings on either server.
//! - [`Dataset::read`] reads every key of every database back: `TYPE`, the
//!   value, `OBJECT ENCODING` and `PEXPIRETIME`. Two servers hold the same
//!   data when their datasets are equal; hashes and sets are compared
//!   sorted, because their order is not part of the data.
//! - The tests: round trips through a file (SAVE and restart, DEBUG
//!   RELOAD), files carried from ferrokv to redis-server and back, DUMP
//!   payloads, keys whose deadline passed before the load, and files the
//!   server must refuse to start with.
//! - BGSAVE, which ferrokv takes without fork (`src/persist/snapshot.rs`):
//!   [`bgsave_is_a_point_in_time_snapshot`] fills three databases, slows
//!   the snapshot down with `rdb-key-save-delay`, writes at random while
//!   it runs (SWAPDB and FLUSHDB included), and requires the file, loaded
//!   by ferrokv and by redis-server, to be the dataset of the moment
//!   BGSAVE started. Then FLUSHALL during a BGSAVE, BGSAVE's replies and
//!   INFO counters, save points, saving at SHUTDOWN and SIGTERM, and a
//!   BGSAVE that cannot write its file.
//!
//! A saved file is carried to the next server by placing it in that
//! server's working directory before it starts, which is how both servers
//! find `dump.rdb` when they are not given `--dir`.
//!
//! Tests that need `redis-server` (or `redis-check-rdb`) print a skip line
//! and pass when it is not on `PATH`, as the other differential tests do.

mod common;

use std::collections::BTreeSet;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use common::dataset::{Dataset, Key, assert_same, key_diff};
use common::replies::{
    bulk, bulks, call, check_rdb, command, expect_reply, int, ok, persistence_info, pipeline,
    select, set_save_delay, shown,
};
use common::{Client, Frame, REDIS_TEST_ARGS, Server, escape, find, random_bytes, unix_ms};
use ferrokv::util::Rng;

/// A deadline far in the future (2100-01-01 00:00:00.123 UTC). It is not a
/// whole second, so that `PEXPIRETIME` shows the milliseconds survive.
const FAR_DEADLINE_MS: i64 = 4_102_444_800_123;
/// How long a server that must refuse a file gets to exit. Loading a small
/// file takes milliseconds; this only bounds a server that hangs instead.
const REFUSAL_TIMEOUT: Duration = Duration::from_secs(5);
/// The seed of the random bytes [`fill`] writes. Both servers are filled
/// from the same seed, so they hold the same values.
const FILL_SEED: u64 = 0x5eed_f111;
/// The seed of the truncation offsets, flipped bytes and garbage of
/// [`a_corrupt_or_truncated_file_is_refused_with_its_offset`].
const CORRUPTION_SEED: u64 = 0xc0ff_ee07;

// ---------------------------------------------------------------------------
// The data
// ---------------------------------------------------------------------------

/// What the DUMP test needs to know about the keys [`fill`] writes.
struct Filled {
    /// Keys of database 0 whose DUMP payload must be the same bytes on
    /// both servers: everything whose layout does not depend on a hash
    /// table's order.
    same_payload: Vec<Vec<u8>>,
}

/// Writes the test data into `c`'s server, which must be empty, checking
/// each key's encoding as it is made. Leaves database 0 selected.
fn fill(c: &mut Client) -> Filled {
    let mut rng = Rng::new(FILL_SEED);
    let mut same_payload = Vec::new();
    select(c, 0);

    // Strings: every encoding Redis reports (int, embstr, raw), and for the
    // file every way RDB stores one (8, 16, 32-bit integers, the decimal
    // text of a 64-bit one, plain bytes, LZF).
    let strings: Vec<(&[u8], Vec<u8>, &str)> = vec![
        (b"str:int8", b"-100".to_vec(), "int"),
        (b"str:int16", b"12345".to_vec(), "int"),
        (b"str:int32", b"-2000000000".to_vec(), "int"),
        (b"str:int64", b"-9000000000000000000".to_vec(), "int"),
        (b"str:short", b"hello".to_vec(), "embstr"),
        (b"str:empty", Vec::new(), "embstr"),
        (
            b"str:binary",
            b"nul\0in\0the\r\nmiddle\xff".to_vec(),
            "embstr",
        ),
        (b"str:random", random_bytes(&mut rng, 100 * 1024), "raw"),
        (b"str:repetitive", b"0123456789abcdef".repeat(2048), "raw"),
        (
            b"bin\0key\r\n\xff",
            b"a value under a binary key".to_vec(),
            "embstr",
        ),
    ];
    for (key, value, encoding) in &strings {
        ok(c, &[b"SET".as_slice(), key, value]);
        expect_encoding(c, key, encoding);
        same_payload.push(key.to_vec());
    }

    // Lists: a small one; 10,000 elements, which take many 8 KB nodes;
    // and elements of 20 KB, each too big to share a node.
    let small: [&[u8]; 5] = [b"a", b"1", b"", b"-77", b"bin\0\xff"];
    rpush(c, b"list:small", &small);
    let long: Vec<Vec<u8>> = (0..10_000)
        .map(|i| match i % 3 {
            0 => i.to_string().into_bytes(),
            _ => format!("element:{i}").into_bytes(),
        })
        .collect();
    rpush(c, b"list:long", &long);
    let wide: Vec<Vec<u8>> = (0..4).map(|_| random_bytes(&mut rng, 20 * 1024)).collect();
    rpush(c, b"list:wide", &wide);
    for key in [&b"list:small"[..], b"list:long", b"list:wide"] {
        expect_encoding(c, key, "quicklist");
        same_payload.push(key.to_vec());
    }

    // Hashes: a listpack; over 512 fields; one value over 64 bytes.
    hset(
        c,
        b"hash:small",
        &[
            (b"f1".to_vec(), b"v1".to_vec()),
            (b"count".to_vec(), b"42".to_vec()),
            (b"".to_vec(), b"empty field".to_vec()),
            (b"bin\0field".to_vec(), b"\xff\x00".to_vec()),
        ],
    );
    expect_encoding(c, b"hash:small", "listpack");
    same_payload.push(b"hash:small".to_vec());
    let many: Vec<(Vec<u8>, Vec<u8>)> = (0..600)
        .map(|i| {
            (
                format!("field:{i}").into_bytes(),
                format!("value:{i}").into_bytes(),
            )
        })
        .collect();
    hset(c, b"hash:big", &many);
    expect_encoding(c, b"hash:big", "hashtable");
    hset(
        c,
        b"hash:longvalue",
        &[
            (b"short".to_vec(), b"s".to_vec()),
            (b"long".to_vec(), vec![b'v'; 100]),
        ],
    );
    expect_encoding(c, b"hash:longvalue", "hashtable");

    // Sets: intsets of 16, 32 and 64-bit members; strings; 1,000 members;
    // more integers than an intset holds.
    let intsets: [(&[u8], &[&str]); 3] = [
        (b"set:int16", &["1", "2", "3", "-32768", "32767"]),
        (b"set:int32", &["1", "70000", "-2147483648", "2147483647"]),
        (
            b"set:int64",
            &[
                "1",
                "5000000000",
                "-9223372036854775808",
                "9223372036854775807",
            ],
        ),
    ];
    for (key, members) in intsets {
        let members: Vec<Vec<u8>> = members.iter().map(|m| m.as_bytes().to_vec()).collect();
        sadd(c, key, &members);
        expect_encoding(c, key, "intset");
        same_payload.push(key.to_vec());
    }
    sadd(
        c,
        b"set:strings",
        &[b"a".to_vec(), b"b".to_vec(), b"bin\0".to_vec()],
    );
    expect_encoding(c, b"set:strings", "hashtable");
    let thousand: Vec<Vec<u8>> = (0..1_000).map(|i| format!("m{i}").into_bytes()).collect();
    sadd(c, b"set:large", &thousand);
    expect_encoding(c, b"set:large", "hashtable");
    let ints: Vec<Vec<u8>> = (0..600).map(|i| (i * 3).to_string().into_bytes()).collect();
    sadd(c, b"set:manyints", &ints);
    expect_encoding(c, b"set:manyints", "hashtable");

    // Deadlines on each type.
    ok(c, &["SET", "ttl:str", "expires in 2100"]);
    rpush(c, b"ttl:list", &[b"x", b"y"]);
    hset(c, b"ttl:hash", &[(b"f".to_vec(), b"v".to_vec())]);
    sadd(c, b"ttl:set", &[b"7".to_vec()]);
    for key in ["ttl:str", "ttl:list", "ttl:hash", "ttl:set"] {
        pexpireat(c, key.as_bytes(), FAR_DEADLINE_MS);
        same_payload.push(key.as_bytes().to_vec());
    }

    // Other databases, with names that are also used in database 0.
    select(c, 5);
    ok(c, &["SET", "str:int16", "5"]);
    rpush(c, b"list:small", &[b"five"]);
    hset(c, b"hash:small", &[(b"db".to_vec(), b"5".to_vec())]);
    pexpireat(c, b"hash:small", FAR_DEADLINE_MS + 5);
    sadd(c, b"set:strings", &[b"five".to_vec()]);
    select(c, 15);
    ok(c, &["SET", "str:short", "fifteen"]);
    ok(c, &["SET", "ttl:str", "fifteen"]);
    pexpireat(c, b"ttl:str", FAR_DEADLINE_MS + 15);
    select(c, 0);
    Filled { same_payload }
}

/// The number of keys [`fill`] writes into each database it uses.
const FILLED_DB_SIZES: [(usize, usize); 3] = [(0, 26), (5, 4), (15, 2)];

fn expect_encoding(c: &mut Client, key: &[u8], encoding: &str) {
    let actual = bulk(c, &[b"OBJECT".as_slice(), b"ENCODING", key]);
    assert_eq!(
        String::from_utf8_lossy(&actual),
        encoding,
        "OBJECT ENCODING {} right after it was written",
        escape(key)
    );
}

fn rpush<E: AsRef<[u8]>>(c: &mut Client, key: &[u8], elements: &[E]) {
    // In batches, so that no one command is huge.
    for batch in elements.chunks(1_000) {
        let mut args: Vec<&[u8]> = vec![b"RPUSH", key];
        args.extend(batch.iter().map(|e| e.as_ref()));
        int(c, &args);
    }
}

fn hset(c: &mut Client, key: &[u8], pairs: &[(Vec<u8>, Vec<u8>)]) {
    let mut args: Vec<&[u8]> = vec![b"HSET", key];
    for (field, value) in pairs {
        args.push(field);
        args.push(value);
    }
    assert_eq!(int(c, &args), pairs.len() as i64, "HSET {}", escape(key));
}

fn sadd(c: &mut Client, key: &[u8], members: &[Vec<u8>]) {
    let mut args: Vec<&[u8]> = vec![b"SADD", key];
    args.extend(members.iter().map(|m| m.as_slice()));
    assert_eq!(int(c, &args), members.len() as i64, "SADD {}", escape(key));
}

fn pexpireat(c: &mut Client, key: &[u8], deadline_ms: i64) {
    let deadline = deadline_ms.to_string();
    let args: [&[u8]; 3] = [b"PEXPIREAT", key, deadline.as_bytes()];
    assert_eq!(int(c, &args), 1, "PEXPIREAT {}", escape(key));
}

// ---------------------------------------------------------------------------
// Reading it back (with `common::dataset`)
// ---------------------------------------------------------------------------

impl Dataset {
    /// Checks that this is what [`fill`] wrote: the number of keys in each
    /// database. The values themselves are compared between servers.
    fn assert_is_filled(&self, server: &str) {
        let sizes: Vec<(usize, usize)> = self
            .dbs
            .iter()
            .map(|(&db, (_, keys))| (db, keys.len()))
            .collect();
        assert_eq!(sizes, FILLED_DB_SIZES, "keys per database on {server}");
    }
}

/// The `dump.rdb` a server saved in its working directory.
fn saved_file(server: &Server) -> Vec<u8> {
    let path = server.dir().join("dump.rdb");
    fs::read(&path)
        .unwrap_or_else(|e| panic!("read {} saved by {}: {e}", path.display(), server.name))
}

/// Fills a fresh ferrokv, sets `rdbcompression`, and SAVEs. Returns what
/// it held and the file.
fn saved_ferrokv_data(compression: &str) -> (Dataset, Vec<u8>) {
    let server = common::start_ferrokv();
    let mut c = server.connect();
    fill(&mut c);
    let data = Dataset::read(&mut c);
    data.assert_is_filled("ferrokv");
    ok(&mut c, &["CONFIG", "SET", "rdbcompression", compression]);
    ok(&mut c, &["SAVE"]);
    let file = saved_file(&server);
    assert_compression(&file, compression);
    (data, file)
}

/// Checks that `rdbcompression` took effect: the repetitive string is in
/// the file as it is exactly when compression is off.
fn assert_compression(file: &[u8], compression: &str) {
    let verbatim = find(file, &b"0123456789abcdef".repeat(2048)).is_some();
    assert_eq!(
        verbatim,
        compression == "no",
        "whether the file holds the repetitive string uncompressed, with rdbcompression {compression}"
    );
}

// ---------------------------------------------------------------------------
// 1. SAVE and restart
// ---------------------------------------------------------------------------

fn save_and_restart_keeps_every_key(compression: &str) {
    let (before, file) = saved_ferrokv_data(compression);
    let restarted = common::start_ferrokv_with(&[], &[("dump.rdb", &file)]);
    let after = Dataset::read(&mut restarted.connect());
    assert_same(
        "ferrokv before SAVE",
        &before,
        "ferrokv restarted on the file",
        &after,
    );
}

#[test]
fn save_and_restart_keeps_every_key_compressed() {
    save_and_restart_keeps_every_key("yes");
}

#[test]
fn save_and_restart_keeps_every_key_uncompressed() {
    save_and_restart_keeps_every_key("no");
}

// ---------------------------------------------------------------------------
// 2. DEBUG RELOAD
// ---------------------------------------------------------------------------

#[test]
fn debug_reload_keeps_every_key() {
    let server = common::start_ferrokv();
    let mut c = server.connect();
    fill(&mut c);
    let before = Dataset::read(&mut c);
    before.assert_is_filled("ferrokv");
    ok(&mut c, &["DEBUG", "RELOAD"]);
    let after = Dataset::read(&mut c);
    assert_same(
        "ferrokv before DEBUG RELOAD",
        &before,
        "ferrokv after it",
        &after,
    );
}

#[test]
fn debug_reload_nosave_without_a_file_fails_and_keeps_the_data() {
    let server = common::start_ferrokv();
    let mut c = server.connect();
    fill(&mut c);
    let before = Dataset::read(&mut c);
    let path = server.dir().join("dump.rdb");
    assert!(!path.exists(), "{} exists before any SAVE", path.display());
    match call(&mut c, &["DEBUG", "RELOAD", "NOSAVE"]) {
        Frame::Error(_) => {}
        other => panic!("DEBUG RELOAD NOSAVE without a file answered {other:?}, not an error"),
    }
    let after = Dataset::read(&mut c);
    assert_same(
        "ferrokv before DEBUG RELOAD NOSAVE",
        &before,
        "ferrokv after it",
        &after,
    );
}

// ---------------------------------------------------------------------------
// 3. ferrokv's file in redis-server
// ---------------------------------------------------------------------------

fn redis_loads_what_ferrokv_saved(compression: &str) {
    if common::find_on_path("redis-server").is_none() {
        println!("SKIPPED: redis-server not found on PATH; ferrokv -> redis-server not run");
        return;
    }
    let (ferrokv_data, file) = saved_ferrokv_data(compression);
    let redis = common::start_redis_with(&["--dbfilename", "dump.rdb"], &[("dump.rdb", &file)])
        .expect("redis-server is on PATH");
    let redis_data = Dataset::read(&mut redis.connect());
    assert_same(
        "ferrokv",
        &ferrokv_data,
        "redis-server loading ferrokv's file",
        &redis_data,
    );
    check_rdb(&file, redis.dir());
}

#[test]
fn redis_loads_what_ferrokv_saved_compressed() {
    redis_loads_what_ferrokv_saved("yes");
}

#[test]
fn redis_loads_what_ferrokv_saved_uncompressed() {
    redis_loads_what_ferrokv_saved("no");
}

// ---------------------------------------------------------------------------
// 4. redis-server's file in ferrokv
// ---------------------------------------------------------------------------

fn ferrokv_loads_what_redis_saved(compression: &str) {
    let Some(redis) = common::start_redis() else {
        println!("SKIPPED: redis-server not found on PATH; redis-server -> ferrokv not run");
        return;
    };
    let mut c = redis.connect();
    fill(&mut c);
    let redis_data = Dataset::read(&mut c);
    redis_data.assert_is_filled("redis-server");
    ok(&mut c, &["CONFIG", "SET", "rdbcompression", compression]);
    ok(&mut c, &["SAVE"]);
    let file = saved_file(&redis);
    assert_compression(&file, compression);
    let ferrokv = common::start_ferrokv_with(&[], &[("dump.rdb", &file)]);
    let ferrokv_data = Dataset::read(&mut ferrokv.connect());
    assert_same(
        "redis-server",
        &redis_data,
        "ferrokv loading redis-server's file",
        &ferrokv_data,
    );
}

#[test]
fn ferrokv_loads_what_redis_saved_compressed() {
    ferrokv_loads_what_redis_saved("yes");
}

#[test]
fn ferrokv_loads_what_redis_saved_uncompressed() {
    ferrokv_loads_what_redis_saved("no");
}

// ---------------------------------------------------------------------------
// 5. DUMP and RESTORE
// ---------------------------------------------------------------------------

#[test]
fn dump_payloads_match_redis_and_restore_on_either_server() {
    let Some(redis) = common::start_redis() else {
        println!("SKIPPED: redis-server not found on PATH; DUMP/RESTORE differential not run");
        return;
    };
    let ferrokv = common::start_ferrokv();
    let mut f = ferrokv.connect();
    let mut r = redis.connect();
    let filled = fill(&mut f);
    fill(&mut r);

    // The same commands build the same layout, so the payloads (value,
    // RDB version, CRC-64) must be the same bytes.
    let mut differing = Vec::new();
    for key in &filled.same_payload {
        let ours = bulk(&mut f, &[b"DUMP".as_slice(), key]);
        let theirs = bulk(&mut r, &[b"DUMP".as_slice(), key]);
        if ours != theirs {
            let first = ours.iter().zip(&theirs).position(|(a, b)| a != b);
            differing.push(format!(
                "{}: {} bytes from ferrokv, {} from redis-server, first difference at {first:?}",
                escape(key),
                ours.len(),
                theirs.len()
            ));
        }
    }
    assert!(
        differing.is_empty(),
        "DUMP payloads differ:\n{}",
        differing.join("\n")
    );

    // Every key of database 0, hashtables included, restored from one
    // server's payload on the other, into database 9, which fill leaves
    // empty. ABSTTL carries the deadline over as it is.
    restore_everything(&mut f, "ferrokv", &mut r, "redis-server");
    restore_everything(&mut r, "redis-server", &mut f, "ferrokv");
}

/// DUMPs each key of `from`'s database 0, RESTOREs it into database 9 of
/// `to`, and compares the two keys.
fn restore_everything(from: &mut Client, from_name: &str, to: &mut Client, to_name: &str) {
    select(from, 0);
    select(to, 9);
    let mut names = bulks(from, &["KEYS", "*"]);
    names.sort();
    assert_eq!(
        names.len(),
        FILLED_DB_SIZES[0].1,
        "keys in database 0 of {from_name}"
    );
    for name in &names {
        let original = Key::read(from, name).expect("a key KEYS listed");
        let payload = bulk(from, &[b"DUMP".as_slice(), name]);
        let deadline = match original.expire_ms {
            -1 => "0".to_string(),
            ms => ms.to_string(),
        };
        let mut args: Vec<&[u8]> = vec![b"RESTORE", name, deadline.as_bytes(), &payload];
        if original.expire_ms != -1 {
            args.push(b"ABSTTL");
        }
        ok(to, &args);
        let restored = Key::read(to, name).expect("the key just restored");
        assert_eq!(
            restored,
            original,
            "{} restored on {to_name} from {from_name}'s payload: {}",
            escape(name),
            key_diff(&original, &restored)
        );
    }
    ok(to, &["FLUSHDB"]);
    select(to, 0);
}

// ---------------------------------------------------------------------------
// 6. Deadlines that pass before the load
// ---------------------------------------------------------------------------

#[test]
fn keys_whose_deadline_passed_are_not_loaded() {
    let server = common::start_ferrokv();
    let mut c = server.connect();
    // With active expiry off, nothing deletes the short-lived keys before
    // SAVE however slow this machine is, so the file must hold them.
    ok(&mut c, &["DEBUG", "SET-ACTIVE-EXPIRE", "0"]);
    ok(&mut c, &["SET", "keep:str", "stays"]);
    ok(&mut c, &["SET", "keep:ttl", "stays until 2100"]);
    pexpireat(&mut c, b"keep:ttl", FAR_DEADLINE_MS);
    // A second is far more than the few commands before SAVE take, and
    // the wait for it runs while the other tests do.
    let deadline_ms = unix_ms() + 1_000;
    ok(&mut c, &["SET", "gone:str", "short-lived"]);
    rpush(&mut c, b"gone:list", &[b"a", b"b"]);
    select(&mut c, 3);
    sadd(&mut c, b"gone:set", &[b"1".to_vec(), b"2".to_vec()]);
    ok(&mut c, &["SET", "keep:db3", "stays"]);
    pexpireat(&mut c, b"gone:set", deadline_ms);
    select(&mut c, 0);
    pexpireat(&mut c, b"gone:str", deadline_ms);
    pexpireat(&mut c, b"gone:list", deadline_ms);
    ok(&mut c, &["SAVE"]);
    let file = saved_file(&server);
    for name in ["gone:str", "gone:list", "gone:set"] {
        assert!(
            find(&file, name.as_bytes()).is_some(),
            "{name} is not in the saved file: the deadline passed before SAVE"
        );
    }
    drop(server);

    // The load must come after the deadline: wait for it.
    let wait_ms = deadline_ms + 1 - unix_ms();
    if wait_ms > 0 {
        thread::sleep(Duration::from_millis(wait_ms as u64));
    }
    assert!(unix_ms() > deadline_ms, "the clock passed the deadline");
    let restarted = common::start_ferrokv_with(&[], &[("dump.rdb", &file)]);
    let mut c = restarted.connect();
    let data = Dataset::read(&mut c);
    let loaded: Vec<(usize, Vec<String>)> = data
        .dbs
        .iter()
        .map(|(&db, (size, keys))| {
            assert_eq!(*size as usize, keys.len(), "DBSIZE of database {db}");
            (
                db,
                keys.keys()
                    .map(|k| String::from_utf8_lossy(k).into_owned())
                    .collect(),
            )
        })
        .collect();
    assert_eq!(
        loaded,
        vec![
            (0, vec!["keep:str".to_string(), "keep:ttl".to_string()]),
            (3, vec!["keep:db3".to_string()]),
        ],
        "keys after loading a file whose short deadlines have passed"
    );
    assert_eq!(
        data.dbs[&0].1[&b"keep:ttl".to_vec()].expire_ms,
        FAR_DEADLINE_MS
    );
    // Skipped at load, not loaded and then expired: nothing was counted as
    // expired (the reads above would have expired a loaded key).
    let stats = String::from_utf8_lossy(&bulk(&mut c, &["INFO", "stats"])).into_owned();
    assert!(
        stats.lines().any(|line| line.trim() == "expired_keys:0"),
        "INFO stats after the load:\n{stats}"
    );
}

// ---------------------------------------------------------------------------
// 7. Files that must be refused
// ---------------------------------------------------------------------------

/// Starts ferrokv on `file`, which it must refuse: the process exits
/// non-zero, never having answered PING, and its log contains `needle`.
fn assert_refused(file: &[u8], what: &str, needle: &str) {
    let refusal = Server::start_refused(
        "ferrokv",
        common::ferrokv_program(),
        REDIS_TEST_ARGS,
        &[("dump.rdb", file)],
        REFUSAL_TIMEOUT,
    )
    .unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        !refusal.status.success(),
        "{what}: ferrokv exited with {}; log:\n{}",
        refusal.status,
        refusal.log
    );
    assert!(
        refusal.log.contains(needle),
        "{what}: the log does not mention \"{needle}\":\n{}",
        refusal.log
    );
}

#[test]
fn a_corrupt_or_truncated_file_is_refused_with_its_offset() {
    let mut rng = Rng::new(CORRUPTION_SEED);
    let server = common::start_ferrokv();
    let mut c = server.connect();
    // Many small structures around one random value, so that seeded
    // offsets land in lengths, opcodes and packed blobs as well as in
    // plain bytes.
    let value = random_bytes(&mut rng, 1_000);
    ok(&mut c, &[b"SET".as_slice(), b"str:random", &value]);
    ok(&mut c, &["SET", "str:int", "12345"]);
    let elements: Vec<Vec<u8>> = (0..300).map(|i| format!("e{i}").into_bytes()).collect();
    rpush(&mut c, b"list", &elements);
    let fields: Vec<(Vec<u8>, Vec<u8>)> = (0..600)
        .map(|i| (format!("f{i}").into_bytes(), i.to_string().into_bytes()))
        .collect();
    hset(&mut c, b"hash:big", &fields);
    hset(&mut c, b"hash:small", &[(b"f".to_vec(), b"v".to_vec())]);
    let members: Vec<Vec<u8>> = (0..300).map(|i| format!("m{i}").into_bytes()).collect();
    sadd(&mut c, b"set", &members);
    sadd(&mut c, b"intset", &[b"1".to_vec(), b"-70000".to_vec()]);
    ok(&mut c, &["SET", "ttl", "v"]);
    pexpireat(&mut c, b"ttl", FAR_DEADLINE_MS);
    select(&mut c, 7);
    ok(&mut c, &["SET", "in:db7", "v"]);
    ok(&mut c, &["SAVE"]);
    let good = saved_file(&server);
    drop(server);
    let len = good.len();
    let value_at = find(&good, &value).expect("the random value is stored as it is");

    // (a) Truncations: inside the magic, right after the version, inside
    // the value, without the EOF opcode, just before the checksum, inside
    // it, and seeded offsets.
    let mut cuts = vec![3, 9, value_at + value.len() / 2, len - 9, len - 8, len - 3];
    cuts.extend((0..8).map(|_| 1 + rng.below(len as u64 - 1) as usize));
    for cut in cuts {
        assert_refused(
            &good[..cut],
            &format!("the file cut to {cut} of {len} bytes"),
            "offset",
        );
    }

    // (b) One byte flipped in the middle of the value, and at seeded
    // places in it: the file still parses, and only the checksum tells.
    let mut flips = vec![value_at + value.len() / 2];
    flips.extend((0..3).map(|_| value_at + rng.below(value.len() as u64) as usize));
    for at in flips {
        let mut bad = good.clone();
        bad[at] ^= 0x20;
        assert_refused(
            &bad,
            &format!("the file with byte {at} of {len} flipped"),
            "offset",
        );
    }

    // (c) Garbage, with and without a valid header.
    let garbage = random_bytes(&mut rng, 4_096);
    assert_refused(&garbage, "4 KB of random bytes", "offset");
    let mut headed = b"REDIS0010".to_vec();
    headed.extend_from_slice(&garbage);
    assert_refused(
        &headed,
        "a valid header and then 4 KB of random bytes",
        "offset",
    );
}

// ---------------------------------------------------------------------------
// 8. A corrupt stream in a file Redis wrote
// ---------------------------------------------------------------------------

/// A stream block whose bytes no longer walk (one element's length made
/// longer) is refused with its offset, CRC or not: nothing of the file is
/// loaded. tests/stream.rs carries sound streams between the servers.
#[test]
fn a_file_with_a_corrupt_stream_block_is_refused() {
    let Some(redis) = common::start_redis() else {
        println!("SKIPPED: redis-server not found on PATH; stream file test not run");
        return;
    };
    let mut c = redis.connect();
    ok(&mut c, &["CONFIG", "SET", "rdbcompression", "no"]);
    ok(&mut c, &["SET", "before", "a string ferrokv could load"]);
    let id = bulk(&mut c, &["XADD", "stream", "1-1", "somefield", "value"]);
    assert_eq!(id, b"1-1");
    ok(&mut c, &["SAVE"]);
    let mut file = saved_file(&redis);
    let at = file
        .windows(9)
        .position(|w| w == b"somefield")
        .expect("the field is in the uncompressed file");
    // The listpack's 6-bit string header for the 9-byte field, now 10.
    assert_eq!(file[at - 1], 0x80 | 9);
    file[at - 1] = 0x80 | 10;
    // A file without a checksum (an all-zero CRC is not checked, as in
    // Redis), so the stream's own check is what refuses it.
    let n = file.len();
    file[n - 8..].fill(0);
    assert_refused(
        &file,
        "a file holding a corrupt stream block",
        "stream listpack",
    );
}

// ---------------------------------------------------------------------------
// 9. BGSAVE: a point-in-time snapshot taken while clients write
// ---------------------------------------------------------------------------

/// How long a test waits for something the server should do soon (a
/// BGSAVE to end, a process to exit). Far more than any of it takes; it
/// only turns a hang into a failure.
const CONDITION_TIMEOUT: Duration = Duration::from_secs(10);
/// `rdb-key-save-delay` (microseconds) that makes a BGSAVE wait for
/// clients: a slow snapshot writes one key per pass of the loop, and passes
/// with no command to run come this far apart, so the snapshot moves on by
/// about one key per command the test sends and hardly at all while the
/// test is descheduled. Tests set it back to 0 to let the save finish.
const SLOW_SAVE_DELAY_US: &str = "100000";

/// Polls `condition` until it holds; panics naming `what` after
/// [`CONDITION_TIMEOUT`].
fn wait_until(what: &str, condition: impl FnMut() -> bool) {
    common::wait_until_within(CONDITION_TIMEOUT, what, condition);
}

fn bgsave_in_progress(c: &mut Client) -> bool {
    persistence_info(c, "rdb_bgsave_in_progress") == "1"
}

/// Waits for the BGSAVE in progress (and any scheduled after it) to end.
fn wait_bgsave_done(c: &mut Client) {
    wait_until("the BGSAVE ends", || !bgsave_in_progress(c));
}

/// Starts a BGSAVE that must start.
fn bgsave(c: &mut Client) {
    expect_reply(c, &["BGSAVE"], "+Background saving started\r\n");
}

/// Whether comparing two datasets compares each key's encoding too.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Encodings {
    Compared,
    /// For data that writes left in encodings a load does not make
    /// (APPEND's raw strings, a set that grew out of an intset and
    /// shrank).
    Ignored,
}

/// Restarts a ferrokv on `file` and checks that it holds exactly
/// `expected`; then does the same with redis-server when it is on `PATH`,
/// and runs `redis-check-rdb` on the file.
fn assert_file_holds(file: &[u8], expected: &Dataset, what: &str, encodings: Encodings) {
    let compared = |data: Dataset| match encodings {
        Encodings::Compared => data,
        Encodings::Ignored => data.without_encodings(),
    };
    let expected = compared(expected.clone());
    let expected_name = format!("the dataset when {what} started");
    let restarted = common::start_ferrokv_with(&[], &[("dump.rdb", file)]);
    let loaded = compared(Dataset::read(&mut restarted.connect()));
    assert_same(
        &expected_name,
        &expected,
        "ferrokv loading its file",
        &loaded,
    );
    let Some(redis) = common::start_redis_with(&[], &[("dump.rdb", file)]) else {
        println!("SKIPPED: redis-server not found on PATH; {what}'s file not loaded into it");
        return;
    };
    let loaded = compared(Dataset::read(&mut redis.connect()));
    assert_same(
        &expected_name,
        &expected,
        "redis-server loading ferrokv's file",
        &loaded,
    );
    check_rdb(file, redis.dir());
}

/// The databases the point-in-time tests fill.
const SNAPSHOT_DBS: usize = 3;

/// The kinds of key the point-in-time tests write; a key's name starts
/// with its kind's letter, so a command can be chosen from the name alone
/// and no command meets a key of another type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// `s:`, a string of text or random bytes, some over 44 bytes (raw).
    Text,
    /// `n:`, a string holding an integer, for INCR.
    Counter,
    /// `l:`
    List,
    /// `h:`
    Hash,
    /// `t:`, a set of integers (an intset) or of strings.
    Set,
}

const KINDS: [Kind; 5] = [Kind::Text, Kind::Counter, Kind::List, Kind::Hash, Kind::Set];

impl Kind {
    fn prefix(self) -> &'static str {
        match self {
            Kind::Text => "s:",
            Kind::Counter => "n:",
            Kind::List => "l:",
            Kind::Hash => "h:",
            Kind::Set => "t:",
        }
    }

    fn of(name: &[u8]) -> Kind {
        KINDS
            .into_iter()
            .find(|kind| name.starts_with(kind.prefix().as_bytes()))
            .unwrap_or_else(|| panic!("{} is not a point-in-time test key", escape(name)))
    }

    /// The commands that create `name` afresh with a value from `rng`,
    /// stamped with `tag` so values differ between databases and runs.
    fn create(self, name: &[u8], tag: &str, rng: &mut Rng) -> Vec<Vec<u8>> {
        let mut args: Vec<Vec<u8>> = Vec::new();
        match self {
            Kind::Text => {
                args.extend([b"SET".to_vec(), name.to_vec()]);
                args.push(match rng.below(3) {
                    0 => {
                        let len = 45 + rng.below(200) as usize;
                        random_bytes(rng, len)
                    }
                    _ => format!("{tag}:{}", rng.below(1_000_000)).into_bytes(),
                });
            }
            Kind::Counter => {
                args.extend([b"SET".to_vec(), name.to_vec()]);
                let n = rng.below(2_000_000) as i64 - 1_000_000;
                args.push(n.to_string().into_bytes());
            }
            Kind::List => {
                args.extend([b"RPUSH".to_vec(), name.to_vec()]);
                for j in 0..1 + rng.below(8) {
                    args.push(format!("{tag}:e{j}").into_bytes());
                }
            }
            Kind::Hash => {
                args.extend([b"HSET".to_vec(), name.to_vec()]);
                for j in 0..1 + rng.below(6) {
                    args.push(format!("f{j}").into_bytes());
                    args.push(format!("{tag}:v{}", rng.below(1_000)).into_bytes());
                }
            }
            Kind::Set => {
                args.extend([b"SADD".to_vec(), name.to_vec()]);
                let integers = rng.below(2) == 0;
                for j in 0..1 + rng.below(8) {
                    args.push(match integers {
                        true => (j * 1_000 + rng.below(1_000)).to_string().into_bytes(),
                        false => format!("m{j}").into_bytes(),
                    });
                }
            }
        }
        args
    }
}

/// What the test believes each database holds: the names of its keys.
/// It is kept from the replies, so a write meant for an existing key
/// usually finds one; where a reply cannot tell (a pop that emptied a
/// key), it may be wrong, which only makes a later command a no-op.
struct Model {
    dbs: Vec<BTreeSet<Vec<u8>>>,
    /// The database the connection has selected.
    selected: usize,
    /// For the names of keys the test creates.
    created: usize,
    /// Names given a deadline a few milliseconds away, in any database.
    short_lived: BTreeSet<Vec<u8>>,
}

impl Model {
    /// A random name in database `db`, if it has any.
    fn pick(&self, db: usize, rng: &mut Rng) -> Option<Vec<u8>> {
        let names = &self.dbs[db];
        if names.is_empty() {
            return None;
        }
        names
            .iter()
            .nth(rng.below(names.len() as u64) as usize)
            .cloned()
    }

    /// A name of `kind` that no key has had.
    fn fresh(&mut self, kind: Kind) -> Vec<u8> {
        self.created += 1;
        format!("{}new{}", kind.prefix(), self.created).into_bytes()
    }
}

/// What a command did to the set of names, once its reply is known.
enum Effect {
    Nothing,
    Added(Vec<u8>),
    Removed(Vec<u8>),
    /// RENAME: on `+OK` the name moves; on "no such key" the source was
    /// not there.
    Renamed(Vec<u8>, Vec<u8>),
    /// MOVE: on `:1` the name moves to the other database.
    Moved(Vec<u8>, usize),
    /// A pop or an LSET: a nil reply or "no such key" means it was gone.
    GoneIfMissing(Vec<u8>),
    /// SUNIONSTORE and the like: the destination exists unless the
    /// result was empty.
    Stored(Vec<u8>),
    /// LMOVE, SMOVE, COPY from the first name to the second: a nil or 0
    /// reply leaves the destination as it was; otherwise it exists.
    CopiedTo(Vec<u8>),
}

/// Fills databases 0 to [`SNAPSHOT_DBS`] - 1 with `per_db` keys each,
/// every kind, a sixth of them with a deadline far in the future. Returns
/// the names written.
fn fill_snapshot_dbs(c: &mut Client, per_db: usize, rng: &mut Rng) -> Model {
    let mut dbs = Vec::new();
    for db in 0..SNAPSHOT_DBS {
        let mut commands = vec![command(&["SELECT", &db.to_string()])];
        let mut names = BTreeSet::new();
        for i in 0..per_db {
            let kind = KINDS[i % KINDS.len()];
            let name = format!("{}{i}", kind.prefix()).into_bytes();
            commands.push(kind.create(&name, &format!("db{db}"), rng));
            if rng.below(6) == 0 {
                let deadline = FAR_DEADLINE_MS + rng.below(1_000_000_000) as i64;
                commands.push(command(&[
                    b"PEXPIREAT",
                    &name[..],
                    deadline.to_string().as_bytes(),
                ]));
            }
            names.insert(name);
        }
        for (reply, args) in pipeline(c, &commands).into_iter().zip(&commands) {
            assert!(
                !matches!(reply, Frame::Error(_)),
                "[{}] answered {reply:?} while filling",
                shown(args)
            );
        }
        dbs.push(names);
    }
    select(c, 0);
    Model {
        dbs,
        selected: 0,
        created: 0,
        short_lived: BTreeSet::new(),
    }
}

/// A random write to database `db`: mostly one that suits the key's type,
/// else one that any key takes (delete, rename, move, copy, deadlines), or
/// a new key.
fn random_write(model: &mut Model, db: usize, rng: &mut Rng) -> (Vec<Vec<u8>>, Effect) {
    let tag = format!("w{}", rng.below(1_000_000));
    let Some(name) = model.pick(db, rng).filter(|_| rng.below(20) != 0) else {
        let kind = KINDS[rng.below(KINDS.len() as u64) as usize];
        let name = model.fresh(kind);
        return (kind.create(&name, &tag, rng), Effect::Added(name));
    };
    let key = &name[..];
    let kind = Kind::of(key);
    // Another key of the same kind, existing when there is one to find
    // quickly, so multi-key commands overwrite keys the snapshot may not
    // have written yet.
    let other = (0..4)
        .filter_map(|_| model.pick(db, rng))
        .find(|o| Kind::of(o) == kind && o[..] != *key)
        .unwrap_or_else(|| model.fresh(kind));
    let n = rng.below(1_000).to_string();
    let n = n.as_bytes();
    if rng.below(100) < 55 {
        let typed = match (kind, rng.below(4)) {
            (Kind::Text, 0) => command(&[b"APPEND", key, tag.as_bytes()]),
            (Kind::Text, 1) => command(&[b"SETRANGE", key, b"2", tag.as_bytes()]),
            (Kind::Text | Kind::Counter, 2) => {
                let args = command(&[b"COPY", key, &other[..], b"REPLACE"]);
                return (args, Effect::CopiedTo(other));
            }
            (Kind::Text, _) => Kind::Text.create(key, &tag, rng),
            (Kind::Counter, 0) => command(&[b"INCR", key]),
            (Kind::Counter, 1) => command(&[b"INCRBY", key, n]),
            (Kind::Counter, _) => Kind::Counter.create(key, &tag, rng),
            (Kind::List, 0) => command(&[b"RPUSH", key, tag.as_bytes()]),
            (Kind::List, 1) => {
                return (command(&[b"LPOP", key]), Effect::GoneIfMissing(name));
            }
            (Kind::List, 2) => {
                let args = command(&[b"LMOVE", key, &other[..], b"LEFT", b"RIGHT"]);
                return (args, Effect::CopiedTo(other));
            }
            (Kind::List, _) => {
                let args = command(&[b"LSET", key, b"0", tag.as_bytes()]);
                return (args, Effect::GoneIfMissing(name));
            }
            (Kind::Hash, 0) => command(&[b"HDEL", key, b"f0", b"f1"]),
            (Kind::Hash, 1) => command(&[b"HINCRBY", key, b"count", n]),
            (Kind::Hash, _) => command(&[b"HSET", key, b"f0", tag.as_bytes()]),
            (Kind::Set, 0) => command(&[b"SADD", key, n]),
            (Kind::Set, 1) => command(&[b"SREM", key, b"m0", b"m1", b"1"]),
            (Kind::Set, 2) => {
                // The destination is not a source, so only the store
                // itself writes it; with a missing key as the second
                // source, SINTERSTORE's result is empty and deletes it.
                let store = match rng.below(3) {
                    0 => b"SUNIONSTORE".as_slice(),
                    1 => b"SINTERSTORE",
                    _ => b"SDIFFSTORE",
                };
                let args = command(&[store, &other[..], key, b"t:absent"]);
                return (args, Effect::Stored(other));
            }
            (Kind::Set, _) => match rng.below(2) {
                0 => return (command(&[b"SPOP", key]), Effect::GoneIfMissing(name)),
                _ => {
                    let args = command(&[b"SMOVE", key, &other[..], b"m0"]);
                    return (args, Effect::CopiedTo(other));
                }
            },
        };
        // These write an existing key or create it again.
        return (typed, Effect::Added(name));
    }
    match rng.below(8) {
        0 => (command(&[b"DEL", key]), Effect::Removed(name)),
        1 => (command(&[b"UNLINK", key]), Effect::Removed(name)),
        2 => (
            command(&[b"RENAME", key, &other[..]]),
            Effect::Renamed(name, other),
        ),
        3 => {
            let to = (db + 1 + rng.below(SNAPSHOT_DBS as u64 - 1) as usize) % SNAPSHOT_DBS;
            (
                command(&[b"MOVE", key, to.to_string().as_bytes()]),
                Effect::Moved(name, to),
            )
        }
        4 => {
            let deadline = FAR_DEADLINE_MS + rng.below(1_000_000_000) as i64;
            let args = command(&[b"PEXPIREAT", key, deadline.to_string().as_bytes()]);
            (args, Effect::Nothing)
        }
        5 => (command(&[b"PERSIST", key]), Effect::Nothing),
        6 => {
            // Gone within milliseconds: expiry deletes it during the
            // snapshot, lazily or actively.
            let ms = (1 + rng.below(20)).to_string();
            model.short_lived.insert(name.clone());
            (
                command(&[b"PEXPIRE", key, ms.as_bytes()]),
                Effect::Removed(name),
            )
        }
        _ => {
            let kind = KINDS[rng.below(KINDS.len() as u64) as usize];
            let name = model.fresh(kind);
            (kind.create(&name, &tag, rng), Effect::Added(name))
        }
    }
}

/// Runs `args` on database `db` and updates the model from the reply.
/// Returns the number of commands sent (a SELECT may go first).
fn run_write(
    c: &mut Client,
    model: &mut Model,
    db: usize,
    args: &[Vec<u8>],
    effect: Effect,
) -> usize {
    let mut sent = 0;
    if model.selected != db {
        select(c, db);
        model.selected = db;
        sent += 1;
    }
    let reply = call(c, args);
    sent += 1;
    let missing = match &reply {
        Frame::Error(e) if e == b"ERR no such key" => true,
        Frame::Error(_) => panic!(
            "[{}] in db {db} answered {reply:?} during the snapshot",
            shown(args)
        ),
        Frame::NullBulk | Frame::Integer(0) => true,
        _ => false,
    };
    let names = &mut model.dbs[db];
    match effect {
        Effect::Nothing => {}
        Effect::Added(name) => {
            names.insert(name);
        }
        Effect::Removed(name) => {
            names.remove(&name);
        }
        Effect::GoneIfMissing(name) | Effect::Stored(name) if missing => {
            names.remove(&name);
        }
        Effect::Stored(name) | Effect::CopiedTo(name) if !missing => {
            names.insert(name);
        }
        // Left as they were: a pop that found the key, a copy that did
        // not happen (guards are not exhaustive to the compiler).
        Effect::GoneIfMissing(_) | Effect::Stored(_) | Effect::CopiedTo(_) => {}
        Effect::Renamed(from, to) => {
            names.remove(&from);
            if !missing {
                names.insert(to);
            }
        }
        Effect::Moved(name, to) => {
            if reply == Frame::Integer(1) {
                names.remove(&name);
                model.dbs[to].insert(name);
            }
        }
    }
    sent
}

/// What the point-in-time test does to whole databases during the
/// snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum DbCommand {
    SwapDb1And2,
    FlushDb2,
}

/// When, counted in commands sent during the snapshot, the point-in-time
/// test runs SWAPDB 1 2 and FLUSHDB on database 2.
struct Plan {
    seed: u64,
    swapdb_at: usize,
    flushdb_at: usize,
}

/// Keys per database in the point-in-time tests.
const SNAPSHOT_KEYS_PER_DB: usize = 1_500;

/// Commands between two looks at whether the snapshot has ended.
const COMMANDS_PER_PROGRESS_CHECK: usize = 32;

/// Fills three databases, starts a slow BGSAVE and writes at random until
/// it ends, with SWAPDB 1 2 and FLUSHDB on database 2 where `plan` says;
/// the file must hold the dataset of the moment BGSAVE started. Then a
/// second BGSAVE, over the marks the first one left, must save the
/// dataset as it is now.
///
/// A slow snapshot walks database 0, then 1, then 2, about one key per
/// command sent, so `plan` can place SWAPDB and FLUSHDB before a walk has
/// begun or in the middle of one.
fn bgsave_is_a_point_in_time_snapshot(plan: Plan) {
    let mut rng = Rng::new(plan.seed);
    let server = common::start_ferrokv();
    let mut c = server.connect();
    let mut model = fill_snapshot_dbs(&mut c, SNAPSHOT_KEYS_PER_DB, &mut rng);
    let expected = Dataset::read(&mut c);
    let sizes: Vec<usize> = expected.dbs.values().map(|(_, keys)| keys.len()).collect();
    assert_eq!(
        sizes, [SNAPSHOT_KEYS_PER_DB; SNAPSHOT_DBS],
        "keys per database"
    );

    set_save_delay(&mut c, SLOW_SAVE_DELAY_US);
    bgsave(&mut c);
    let mut db_commands = vec![
        (plan.swapdb_at, DbCommand::SwapDb1And2),
        (plan.flushdb_at, DbCommand::FlushDb2),
    ];
    db_commands.sort();
    let mut db_commands = db_commands.into_iter().peekable();
    // Commands sent since BGSAVE, the snapshot's rough clock.
    let mut sent = 1;
    let mut next_check = 0;
    // By then the walk has met every key, since it takes one a command and
    // the writes add far fewer keys than this. What may remain is the
    // writer's fsync and rename, which take time, not commands.
    let walked_by = 3 * SNAPSHOT_KEYS_PER_DB * SNAPSHOT_DBS;
    while sent < walked_by {
        while let Some((_, what)) = db_commands.next_if(|&(at, _)| sent >= at) {
            match what {
                DbCommand::SwapDb1And2 => {
                    ok(&mut c, &["SWAPDB", "1", "2"]);
                    model.dbs.swap(1, 2);
                }
                DbCommand::FlushDb2 => {
                    select(&mut c, 2);
                    model.selected = 2;
                    ok(&mut c, &["FLUSHDB"]);
                    model.dbs[2].clear();
                }
            }
            // The plan is only worth something while the snapshot runs.
            assert!(
                bgsave_in_progress(&mut c),
                "the snapshot ended before {what:?} (after {sent} commands)"
            );
            sent += 3;
        }
        if sent >= next_check {
            if !bgsave_in_progress(&mut c) {
                break;
            }
            next_check = sent + COMMANDS_PER_PROGRESS_CHECK;
        }
        let db = rng.below(SNAPSHOT_DBS as u64) as usize;
        let (args, effect) = random_write(&mut model, db, &mut rng);
        sent += run_write(&mut c, &mut model, db, &args, effect);
    }
    set_save_delay(&mut c, "0");
    wait_bgsave_done(&mut c);
    assert_eq!(
        db_commands.next(),
        None,
        "SWAPDB and FLUSHDB ran during the snapshot"
    );
    assert_eq!(persistence_info(&mut c, "rdb_last_bgsave_status"), "ok");
    assert_eq!(persistence_info(&mut c, "rdb_saves"), "1");
    assert_file_holds(
        &saved_file(&server),
        &expected,
        "BGSAVE",
        Encodings::Compared,
    );

    // Keys about to expire would be in the dataset read now and gone by
    // the time the file is loaded (and DBSIZE counts those that expired
    // but are not reclaimed yet): delete them first.
    for db in 0..SNAPSHOT_DBS {
        let mut commands = vec![command(&["SELECT", &db.to_string()])];
        commands.extend(model.short_lived.iter().map(|k| command(&[b"DEL", &k[..]])));
        pipeline(&mut c, &commands);
    }
    select(&mut c, 0);
    let now = Dataset::read(&mut c);
    set_save_delay(&mut c, "0");
    bgsave(&mut c);
    wait_bgsave_done(&mut c);
    assert_eq!(persistence_info(&mut c, "rdb_saves"), "2");
    assert_file_holds(
        &saved_file(&server),
        &now,
        "the second BGSAVE",
        Encodings::Ignored,
    );
}

#[test]
fn bgsave_is_a_point_in_time_snapshot_swapdb_then_flushdb() {
    // SWAPDB while database 0 is walked, before databases 1 and 2 are;
    // then FLUSHDB of database 2 (database 1 at the start) in the middle
    // of its walk, which comes last.
    let keys = SNAPSHOT_KEYS_PER_DB * SNAPSHOT_DBS;
    bgsave_is_a_point_in_time_snapshot(Plan {
        seed: 0x5a5a_0001,
        swapdb_at: keys * 15 / 100,
        flushdb_at: keys * 80 / 100,
    });
}

#[test]
fn bgsave_is_a_point_in_time_snapshot_flushdb_then_swapdb() {
    // FLUSHDB of database 2 before its walk begins; then SWAPDB in the
    // middle of database 1's walk, which moves that walk to index 2 and
    // the walk over the flushed tables to index 1.
    let keys = SNAPSHOT_KEYS_PER_DB * SNAPSHOT_DBS;
    bgsave_is_a_point_in_time_snapshot(Plan {
        seed: 0x5a5a_0002,
        swapdb_at: keys * 50 / 100,
        flushdb_at: keys * 20 / 100,
    });
}

// ---------------------------------------------------------------------------
// 10. FLUSHALL during a BGSAVE
// ---------------------------------------------------------------------------

#[test]
fn flushall_during_bgsave_leaves_the_file_whole_and_the_server_empty() {
    let mut rng = Rng::new(0xf1a5_4a11);
    let server = common::start_ferrokv();
    let mut c = server.connect();
    fill_snapshot_dbs(&mut c, 200, &mut rng);
    let expected = Dataset::read(&mut c);
    set_save_delay(&mut c, SLOW_SAVE_DELAY_US);
    bgsave(&mut c);
    ok(&mut c, &["FLUSHALL"]);
    // Keys written after the flush, some under the old names, and flushed
    // again while the snapshot still walks the first flush's tables.
    ok(&mut c, &["SET", "s:0", "after the flush"]);
    ok(&mut c, &["SET", "new", "after the flush"]);
    select(&mut c, 1);
    assert_eq!(int(&mut c, &["RPUSH", "l:2", "after"]), 1);
    ok(&mut c, &["FLUSHALL"]);
    assert!(
        bgsave_in_progress(&mut c),
        "the slow BGSAVE ended before the test had flushed twice"
    );
    set_save_delay(&mut c, "0");
    wait_bgsave_done(&mut c);
    assert_eq!(persistence_info(&mut c, "rdb_last_bgsave_status"), "ok");
    let live = Dataset::read(&mut c);
    assert!(
        live.dbs.is_empty(),
        "databases left after FLUSHALL: {:?}",
        live.dbs.keys().collect::<Vec<_>>()
    );
    assert_file_holds(
        &saved_file(&server),
        &expected,
        "BGSAVE",
        Encodings::Compared,
    );
}

// ---------------------------------------------------------------------------
// 11. BGSAVE's replies, SAVE during it, and what INFO and LASTSAVE say
// ---------------------------------------------------------------------------

/// Seconds since the Unix epoch.
fn unix_s() -> i64 {
    unix_ms() / 1000
}

#[test]
fn bgsave_replies_errors_schedule_and_counters() {
    let server = common::start_ferrokv();
    let mut c = server.connect();
    let keys = 100;
    for i in 0..keys {
        ok(&mut c, &["SET", &format!("key:{i}"), "v"]);
    }
    // LASTSAVE is the start-up time until something is saved; a save in a
    // later second must move it.
    let lastsave_at_start = int(&mut c, &["LASTSAVE"]);
    wait_until("the clock passes LASTSAVE's second", || {
        unix_s() > lastsave_at_start
    });
    assert_eq!(persistence_info(&mut c, "rdb_saves"), "0");
    assert_eq!(
        persistence_info(&mut c, "rdb_changes_since_last_save"),
        keys.to_string()
    );
    assert_eq!(persistence_info(&mut c, "rdb_bgsave_in_progress"), "0");

    expect_reply(&mut c, &["BGSAVE", "bogus"], "-ERR syntax error\r\n");
    expect_reply(
        &mut c,
        &["BGSAVE", "SCHEDULE", "x"],
        "-ERR syntax error\r\n",
    );

    set_save_delay(&mut c, SLOW_SAVE_DELAY_US);
    let started_s = unix_s();
    bgsave(&mut c);
    assert_eq!(persistence_info(&mut c, "rdb_bgsave_in_progress"), "1");
    expect_reply(
        &mut c,
        &["BGSAVE"],
        "-ERR Background save already in progress\r\n",
    );
    expect_reply(
        &mut c,
        &["SAVE"],
        "-ERR Background save already in progress\r\n",
    );
    expect_reply(&mut c, &["BGSAVE", "bogus"], "-ERR syntax error\r\n");
    // Writes during the save: they count until it ends, and only they
    // count after.
    let writes = 7;
    for i in 0..writes {
        ok(&mut c, &["SET", &format!("during:{i}"), "v"]);
    }
    assert_eq!(
        persistence_info(&mut c, "rdb_changes_since_last_save"),
        (keys + writes).to_string(),
        "changes during the BGSAVE"
    );
    assert!(
        bgsave_in_progress(&mut c),
        "the slow BGSAVE ended before the test was done with it"
    );
    set_save_delay(&mut c, "0");
    wait_bgsave_done(&mut c);
    assert_eq!(persistence_info(&mut c, "rdb_last_bgsave_status"), "ok");
    assert_eq!(persistence_info(&mut c, "rdb_saves"), "1");
    assert_eq!(
        persistence_info(&mut c, "rdb_changes_since_last_save"),
        writes.to_string(),
        "changes after the BGSAVE: only the writes made since it started"
    );
    let lastsave = int(&mut c, &["LASTSAVE"]);
    assert!(
        lastsave > lastsave_at_start && lastsave >= started_s && lastsave <= unix_s(),
        "LASTSAVE {lastsave}: was {lastsave_at_start}, BGSAVE started at {started_s}"
    );
    assert_eq!(
        persistence_info(&mut c, "rdb_last_save_time"),
        lastsave.to_string()
    );

    // SCHEDULE with none running starts one. During a BGSAVE, Redis 7.0
    // refuses it as a plain BGSAVE (it schedules only behind a child of
    // another kind).
    set_save_delay(&mut c, SLOW_SAVE_DELAY_US);
    expect_reply(
        &mut c,
        &["BGSAVE", "SCHEDULE"],
        "+Background saving started\r\n",
    );
    expect_reply(
        &mut c,
        &["bgsave", "schedule"],
        "-ERR Background save already in progress\r\n",
    );
    assert!(
        bgsave_in_progress(&mut c),
        "the slow BGSAVE ended before the test was done with it"
    );
    set_save_delay(&mut c, "0");
    wait_until("the BGSAVE ends", || {
        persistence_info(&mut c, "rdb_saves") == "2" && !bgsave_in_progress(&mut c)
    });
    bgsave(&mut c);
    wait_bgsave_done(&mut c);
    assert_eq!(persistence_info(&mut c, "rdb_last_bgsave_status"), "ok");
    assert_eq!(persistence_info(&mut c, "rdb_changes_since_last_save"), "0");
    // One more BGSAVE now that none runs or is scheduled: it starts.
    bgsave(&mut c);
    wait_bgsave_done(&mut c);
    assert_eq!(persistence_info(&mut c, "rdb_saves"), "4");
    let file = saved_file(&server);
    let restarted = common::start_ferrokv_with(&[], &[("dump.rdb", &file)]);
    assert_eq!(
        int(&mut restarted.connect(), &["DBSIZE"]),
        (keys + writes) as i64
    );
}

// ---------------------------------------------------------------------------
// 12. Save points
// ---------------------------------------------------------------------------

#[test]
fn a_save_point_starts_a_bgsave() {
    // "save 1 1": a BGSAVE once a change is more than a second old.
    let server = common::start_ferrokv_with(&["--save", "1 1"], &[]);
    let mut c = server.connect();
    ok(&mut c, &["SET", "saved", "by the cron"]);
    let path = server.dir().join("dump.rdb");
    wait_until("a save point saves the change", || {
        persistence_info(&mut c, "rdb_saves") == "1" && path.exists()
    });
    assert_eq!(persistence_info(&mut c, "rdb_last_bgsave_status"), "ok");
    assert_eq!(persistence_info(&mut c, "rdb_changes_since_last_save"), "0");
    let restarted = common::start_ferrokv_with(&[], &[("dump.rdb", &saved_file(&server))]);
    assert_eq!(
        bulk(&mut restarted.connect(), &["GET", "saved"]),
        b"by the cron"
    );
}

// ---------------------------------------------------------------------------
// 13. Saving on the way out: SHUTDOWN and SIGTERM
// ---------------------------------------------------------------------------

/// Sends SHUTDOWN with `options`, which must succeed: the connection closes
/// without a reply and the process exits with status 0.
fn shut_down(server: &Server, c: &mut Client, options: &[&str]) {
    let args = [&["SHUTDOWN"], options].concat();
    match c.cmd_result(&args) {
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {}
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
        other => panic!(
            "[{}] answered {other:?}, not a closed connection",
            shown(&args)
        ),
    }
    assert_exits(server, &shown(&args));
}

/// Waits for the process to exit, which it must do with status 0.
fn assert_exits(server: &Server, after: &str) {
    assert!(
        server.exits_within(CONDITION_TIMEOUT),
        "ferrokv still runs {CONDITION_TIMEOUT:?} after {after}"
    );
    let status = server.exit_status().expect("the process has exited");
    assert!(
        status.success(),
        "ferrokv exited with {status} after {after}; log:\n{}",
        server.log()
    );
}

/// Whether the server's working directory holds a `dump.rdb`. Checks
/// first that no temporary file is left there.
fn dump_written(server: &Server) -> bool {
    assert_no_temp_files(server);
    server.dir().join("dump.rdb").exists()
}

/// Checks that a save, finished or failed, left no temporary file.
fn assert_no_temp_files(server: &Server) {
    let temps: Vec<String> = fs::read_dir(server.dir())
        .expect("read the server's directory")
        .map(|entry| {
            let entry = entry.expect("a directory entry");
            entry.file_name().to_string_lossy().into_owned()
        })
        .filter(|name| name.starts_with("temp-"))
        .collect();
    assert!(temps.is_empty(), "temporary files left: {temps:?}");
}

/// Restarts ferrokv on the file `server` left and reads `key`.
fn key_in_file(server: &Server, key: &str) -> Vec<u8> {
    let restarted = common::start_ferrokv_with(&[], &[("dump.rdb", &saved_file(server))]);
    bulk(&mut restarted.connect(), &["GET", key])
}

#[test]
fn shutdown_saves_when_save_points_are_set() {
    let server = common::start_ferrokv_with(&["--save", "3600 1"], &[]);
    let mut c = server.connect();
    ok(&mut c, &["SET", "k", "saved at shutdown"]);
    shut_down(&server, &mut c, &[]);
    assert!(
        dump_written(&server),
        "SHUTDOWN with save points wrote no file"
    );
    assert_eq!(key_in_file(&server, "k"), b"saved at shutdown");
}

#[test]
fn shutdown_nosave_does_not_save() {
    let server = common::start_ferrokv_with(&["--save", "3600 1"], &[]);
    let mut c = server.connect();
    ok(&mut c, &["SET", "k", "v"]);
    shut_down(&server, &mut c, &["NOSAVE"]);
    assert!(!dump_written(&server), "SHUTDOWN NOSAVE wrote a file");
}

#[test]
fn shutdown_without_save_points_saves_only_when_asked() {
    // The harness starts servers with `--save ''`.
    let server = common::start_ferrokv();
    let mut c = server.connect();
    ok(&mut c, &["SET", "k", "v"]);
    shut_down(&server, &mut c, &[]);
    assert!(
        !dump_written(&server),
        "SHUTDOWN without save points wrote a file"
    );

    let server = common::start_ferrokv();
    let mut c = server.connect();
    ok(&mut c, &["SET", "k", "saved by SHUTDOWN SAVE"]);
    shut_down(&server, &mut c, &["SAVE"]);
    assert!(dump_written(&server), "SHUTDOWN SAVE wrote no file");
    assert_eq!(key_in_file(&server, "k"), b"saved by SHUTDOWN SAVE");
}

#[test]
fn shutdown_save_during_a_bgsave_saves_the_latest_data() {
    let server = common::start_ferrokv();
    let mut c = server.connect();
    ok(&mut c, &["SET", "k", "before the BGSAVE"]);
    for i in 0..100 {
        ok(&mut c, &["SET", &format!("filler:{i}"), "v"]);
    }
    set_save_delay(&mut c, SLOW_SAVE_DELAY_US);
    bgsave(&mut c);
    ok(&mut c, &["SET", "k", "after the BGSAVE started"]);
    assert!(
        bgsave_in_progress(&mut c),
        "the slow BGSAVE is still running"
    );
    // The snapshot is dropped and the dataset of now is saved.
    shut_down(&server, &mut c, &["SAVE"]);
    assert!(dump_written(&server), "SHUTDOWN SAVE wrote no file");
    assert_eq!(key_in_file(&server, "k"), b"after the BGSAVE started");
}

/// Sends SIGTERM to the server's process.
fn sigterm(server: &Server) {
    let pid = libc::pid_t::try_from(server.pid()).expect("a pid fits in pid_t");
    // SAFETY: kill(2) only sends a signal; the pid is our own child's,
    // which has not been waited for, so it cannot have been reused.
    let rc = unsafe { libc::kill(pid, libc::SIGTERM) };
    assert_eq!(
        rc,
        0,
        "kill({pid}, SIGTERM): {}",
        std::io::Error::last_os_error()
    );
}

#[test]
fn sigterm_saves_when_save_points_are_set() {
    let server = common::start_ferrokv_with(&["--save", "3600 1"], &[]);
    let mut c = server.connect();
    ok(&mut c, &["SET", "k", "saved at SIGTERM"]);
    sigterm(&server);
    assert_exits(&server, "SIGTERM");
    assert!(
        dump_written(&server),
        "SIGTERM with save points wrote no file"
    );
    assert_eq!(key_in_file(&server, "k"), b"saved at SIGTERM");
}

#[test]
fn sigterm_without_save_points_does_not_save() {
    let server = common::start_ferrokv();
    let mut c = server.connect();
    ok(&mut c, &["SET", "k", "v"]);
    sigterm(&server);
    assert_exits(&server, "SIGTERM");
    assert!(
        !dump_written(&server),
        "SIGTERM without save points wrote a file"
    );
}

// ---------------------------------------------------------------------------
// 14. A BGSAVE that cannot write its file
// ---------------------------------------------------------------------------

/// After a BGSAVE that could not write its file: the server answers, the
/// failure shows in INFO (or was the reply), and nothing was counted.
fn assert_failed_bgsave(c: &mut Client, reply: &[u8], what: &str) {
    if !reply.starts_with(b"-ERR") {
        assert_eq!(
            escape(reply),
            "+Background saving started\\r\\n",
            "BGSAVE {what}"
        );
        wait_bgsave_done(c);
    }
    assert_eq!(
        persistence_info(c, "rdb_last_bgsave_status"),
        "err",
        "rdb_last_bgsave_status after a BGSAVE {what}"
    );
    assert_eq!(persistence_info(c, "rdb_saves"), "0");
    expect_reply(c, &["PING"], "+PONG\r\n");
    // Without save points, a failed BGSAVE does not stop writes (Redis's
    // stop-writes-on-bgsave-error applies only when save points are set).
    ok(c, &["SET", "after", "the failure"]);
}

/// Starts a BGSAVE that must succeed and waits for it.
fn assert_bgsave_succeeds(c: &mut Client) {
    bgsave(c);
    wait_bgsave_done(c);
    assert_eq!(persistence_info(c, "rdb_last_bgsave_status"), "ok");
    assert_eq!(persistence_info(c, "rdb_saves"), "1");
}

#[test]
fn bgsave_into_a_read_only_dir_fails_and_the_server_stays_up() {
    // SAFETY: geteuid(2) has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } == 0 {
        println!("SKIPPED: running as root, which writes into read-only directories");
        return;
    }
    let dir = std::env::temp_dir().join(format!("ferrokv-test-ro-{}", std::process::id()));
    fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
    /// Makes the directory writable again and removes it, however the
    /// test ends.
    struct Cleanup<'a>(&'a Path);
    impl Drop for Cleanup<'_> {
        fn drop(&mut self) {
            let _ = fs::set_permissions(self.0, fs::Permissions::from_mode(0o755));
            let _ = fs::remove_dir_all(self.0);
        }
    }
    let _cleanup = Cleanup(&dir);
    let dir_arg = dir
        .to_str()
        .expect("the temporary directory's path is UTF-8");
    let server = common::start_ferrokv_with(&["--dir", dir_arg], &[]);
    let mut c = server.connect();
    ok(&mut c, &["SET", "k", "v"]);
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o555)).expect("chmod 0555");
    let reply = c.cmd(&["BGSAVE"]);
    assert_failed_bgsave(&mut c, &reply, "into a read-only directory");
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).expect("chmod 0755");
    assert_bgsave_succeeds(&mut c);
    let file = fs::read(dir.join("dump.rdb")).expect("read the saved file");
    let restarted = common::start_ferrokv_with(&[], &[("dump.rdb", &file)]);
    assert_eq!(
        bulk(&mut restarted.connect(), &["GET", "after"]),
        b"the failure"
    );
}

#[test]
fn bgsave_that_cannot_rename_its_file_fails_and_the_server_stays_up() {
    // A directory where the file should go: renaming the finished
    // temporary file over it fails even for root.
    let server = common::start_ferrokv();
    let mut c = server.connect();
    ok(&mut c, &["SET", "k", "v"]);
    let in_the_way = server.dir().join("dump.rdb");
    fs::create_dir(&in_the_way).expect("create a directory named dump.rdb");
    let reply = c.cmd(&["BGSAVE"]);
    assert_failed_bgsave(&mut c, &reply, "whose file name is a directory");
    assert_no_temp_files(&server);
    assert!(in_the_way.is_dir(), "dump.rdb is still the directory");
    fs::remove_dir(&in_the_way).expect("remove the directory in the way");
    assert_bgsave_succeeds(&mut c);
    let restarted = common::start_ferrokv_with(&[], &[("dump.rdb", &saved_file(&server))]);
    let mut r = restarted.connect();
    assert_eq!(bulk(&mut r, &["GET", "k"]), b"v");
    assert_eq!(bulk(&mut r, &["GET", "after"]), b"the failure");
}

// ---------------------------------------------------------------------------
// Loading: clients get -LOADING until the whole file is in
// ---------------------------------------------------------------------------

#[test]
fn clients_get_loading_until_the_file_is_in() {
    let source = common::start_ferrokv();
    let mut c = source.connect();
    for i in 0..50 {
        ok(&mut c, &["SET", &format!("k{i}"), &format!("v{i}")]);
    }
    ok(&mut c, &["SAVE"]);
    let file = saved_file(&source);
    // key-load-delay holds the load at one key a second until the test
    // lifts it, so what a client sees while loading does not race.
    let dir = std::env::temp_dir().join(format!("ferrokv-loading-{}", std::process::id()));
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join("dump.rdb"), &file).unwrap();
    fs::write(dir.join("slow.conf"), "key-load-delay 1000000\nsave \"\"\n").unwrap();
    let port = common::free_port();
    let child = Command::new(common::ferrokv_program())
        .arg("slow.conf")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .current_dir(&dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let server = common::Spawned { child, dir, port };
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut c = loop {
        match Client::connect(server.port) {
            Ok(c) => break c,
            Err(_) if Instant::now() < deadline => thread::sleep(Duration::from_millis(10)),
            Err(e) => panic!("no connection to the loading server: {e}"),
        }
    };
    let loading = "-LOADING Redis is loading the dataset in memory\r\n";
    expect_reply(&mut c, &["PING"], loading);
    expect_reply(&mut c, &["GET", "k1"], loading);
    expect_reply(&mut c, &["SET", "k1", "x"], loading);
    // INFO and CONFIG may run while loading, as in Redis.
    assert_eq!(persistence_info(&mut c, "loading"), "1");
    assert_eq!(
        persistence_info(&mut c, "loading_total_bytes"),
        file.len().to_string()
    );
    ok(&mut c, &["CONFIG", "SET", "key-load-delay", "0"]);
    wait_until("the load ends", || c.cmd(&["PING"]) == b"+PONG\r\n");
    assert_eq!(int(&mut c, &["DBSIZE"]), 50);
    assert_eq!(bulk(&mut c, &["GET", "k7"]), b"v7");
    assert_eq!(persistence_info(&mut c, "loading"), "0");
    assert_eq!(persistence_info(&mut c, "rdb_last_load_keys_loaded"), "50");
}

// ---------------------------------------------------------------------------
// MIGRATE, to and from redis-server
// ---------------------------------------------------------------------------

#[test]
fn migrate_moves_keys_between_ferrokv_and_redis() {
    let Some(redis) = common::start_redis() else {
        println!("SKIPPED: redis-server is not on PATH");
        return;
    };
    let ferrokv = common::start_ferrokv();
    let (mut f, mut r) = (ferrokv.connect(), redis.connect());
    let rport = redis.port.to_string();
    let fport = ferrokv.port.to_string();
    ok(&mut f, &["SET", "s", "hello"]);
    ok(&mut f, &["PSETEX", "t", "100000", "ttl"]);
    int(&mut f, &["RPUSH", "l", "a", "b", "1"]);
    int(&mut f, &["HSET", "h", "f", "v"]);

    // One key, then several with KEYS; each leaves ferrokv for redis.
    expect_reply(
        &mut f,
        &["MIGRATE", "127.0.0.1", &rport, "s", "0", "5000"],
        "+OK\r\n",
    );
    expect_reply(
        &mut f,
        &[
            "MIGRATE",
            "127.0.0.1",
            &rport,
            "",
            "0",
            "5000",
            "KEYS",
            "t",
            "l",
            "nosuch",
        ],
        "+OK\r\n",
    );
    assert_eq!(int(&mut f, &["EXISTS", "s", "t", "l"]), 0);
    assert_eq!(bulk(&mut r, &["GET", "s"]), b"hello");
    assert_eq!(
        bulks(&mut r, &["LRANGE", "l", "0", "-1"]),
        [b"a".to_vec(), b"b".to_vec(), b"1".to_vec()]
    );
    let pttl = int(&mut r, &["PTTL", "t"]);
    assert!(pttl > 90_000 && pttl <= 100_000, "PTTL {pttl}");
    expect_reply(
        &mut f,
        &["MIGRATE", "127.0.0.1", &rport, "s", "0", "5000"],
        "+NOKEY\r\n",
    );

    // The target refuses an existing key: the key stays here.
    ok(&mut f, &["SET", "s", "again"]);
    expect_reply(
        &mut f,
        &["MIGRATE", "127.0.0.1", &rport, "s", "0", "5000"],
        "-ERR Target instance replied with error: BUSYKEY Target key name already exists.\r\n",
    );
    assert_eq!(bulk(&mut f, &["GET", "s"]), b"again");
    // REPLACE overwrites it there; COPY keeps it here; another database.
    expect_reply(
        &mut f,
        &[
            "MIGRATE",
            "127.0.0.1",
            &rport,
            "s",
            "0",
            "5000",
            "COPY",
            "REPLACE",
        ],
        "+OK\r\n",
    );
    assert_eq!(bulk(&mut r, &["GET", "s"]), b"again");
    assert_eq!(bulk(&mut f, &["GET", "s"]), b"again");
    expect_reply(
        &mut f,
        &["MIGRATE", "127.0.0.1", &rport, "h", "3", "5000"],
        "+OK\r\n",
    );
    select(&mut r, 3);
    assert_eq!(
        bulks(&mut r, &["HGETALL", "h"]),
        [b"f".to_vec(), b"v".to_vec()]
    );
    select(&mut r, 0);

    // Errors read as redis-server's own MIGRATE gives them.
    for args in [
        vec!["MIGRATE", "127.0.0.1", "1", "s", "0", "100"],
        vec!["MIGRATE", "127.0.0.1", "P", "x", "0", "100", "KEYS", "s"],
        vec!["MIGRATE", "127.0.0.1", "P", "s", "0", "100", "BOGUS"],
        vec!["MIGRATE", "127.0.0.1", "P", "s", "0", "100", "AUTH"],
        vec![
            "MIGRATE",
            "127.0.0.1",
            "P",
            "s",
            "0",
            "100",
            "AUTH",
            "nopass",
        ],
        vec!["MIGRATE", "127.0.0.1", "P", "s", "abc", "100"],
        vec!["MIGRATE", "127.0.0.1", "P", "nosuch", "0", "100"],
    ] {
        // Each server migrates to the other, so "P" is the other's port.
        let to_redis: Vec<&str> = args
            .iter()
            .map(|a| if *a == "P" { rport.as_str() } else { a })
            .collect();
        let to_ferrokv: Vec<&str> = args
            .iter()
            .map(|a| if *a == "P" { fport.as_str() } else { a })
            .collect();
        ok(&mut r, &["SET", "s", "theirs"]);
        ok(&mut f, &["SET", "s", "ours"]);
        let expected = r.cmd(&to_ferrokv);
        let actual = f.cmd(&to_redis);
        assert_eq!(escape(&actual), escape(&expected), "{args:?}");
    }

    // And from redis-server into ferrokv.
    ok(&mut r, &["SET", "z", "from-redis"]);
    expect_reply(
        &mut r,
        &["MIGRATE", "127.0.0.1", &fport, "z", "0", "5000"],
        "+OK\r\n",
    );
    assert_eq!(bulk(&mut f, &["GET", "z"]), b"from-redis");
}

// ---------------------------------------------------------------------------
// Life cycle: log lines, logfile, pidfile, daemonize
// ---------------------------------------------------------------------------

/// A scratch directory removed on drop, with whatever server pid it was
/// told of killed first.
struct Scratch {
    dir: std::path::PathBuf,
    pid: Option<i32>,
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if let Some(pid) = self.pid {
            // SAFETY: kill only sends a signal.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
            }
        }
        let _ = fs::remove_dir_all(&self.dir);
    }
}

fn scratch(name: &str) -> Scratch {
    let dir = std::env::temp_dir().join(format!("ferrokv-{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    Scratch { dir, pid: None }
}

/// Whether `line` reads `pid:M dd Mon yyyy hh:mm:ss.mmm <mark> text`, a
/// redis-server log line.
fn is_redis_log_line(line: &str, pid: u32) -> bool {
    let Some(rest) = line.strip_prefix(&format!("{pid}:M ")) else {
        return false;
    };
    let parts: Vec<&str> = rest.splitn(6, ' ').collect();
    parts.len() == 6
        && parts[0].len() == 2
        && parts[1].len() == 3
        && parts[2].len() == 4
        && parts[3].len() == 12
        && parts[3].as_bytes()[8] == b'.'
        && matches!(parts[4], "." | "-" | "*" | "#")
}

#[test]
fn logs_like_redis_to_its_logfile_and_keeps_a_pidfile() {
    let mut s = scratch("lifecycle");
    let port = common::free_port();
    fs::write(
        s.dir.join("f.conf"),
        "pidfile f.pid\nlogfile f.log\nalways-show-logo yes\nsave \"\"\n",
    )
    .unwrap();
    let mut child = Command::new(common::ferrokv_program())
        .arg("f.conf")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .current_dir(&s.dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    s.pid = Some(child.id() as i32);
    let pidfile = s.dir.join("f.pid");
    wait_until("the pid file", || {
        fs::read_to_string(&pidfile).is_ok_and(|p| p.trim() == child.id().to_string())
    });
    wait_until("PING", || {
        Client::connect(port)
            .is_ok_and(|mut c| c.cmd_result(&["PING"]).is_ok_and(|r| r == b"+PONG\r\n"))
    });
    let log = fs::read_to_string(s.dir.join("f.log")).unwrap();
    let lines: Vec<&str> = log.lines().collect();
    assert!(
        lines.iter().all(|l| is_redis_log_line(l, child.id())),
        "{log}"
    );
    assert!(log.contains(&format!("PID: {}", child.id())), "{log}");
    assert!(
        lines
            .iter()
            .any(|l| l.ends_with("* Ready to accept connections tcp")),
        "{log}"
    );
    let _ = Client::connect(port)
        .unwrap()
        .cmd_result(&["SHUTDOWN", "NOSAVE"]);
    let status = child.wait().unwrap();
    s.pid = None;
    assert!(status.success(), "{status}");
    assert!(!pidfile.exists(), "the pid file outlived the server");
    let log = fs::read_to_string(s.dir.join("f.log")).unwrap();
    assert!(
        log.lines()
            .any(|l| l.ends_with("# User requested shutdown...")),
        "{log}"
    );
}

#[test]
fn daemonize_detaches_and_the_daemon_serves() {
    let mut s = scratch("daemon");
    let port = common::free_port();
    let pidfile = s.dir.join("d.pid");
    // A pid file of its own: a daemon without one writes Redis's default,
    // /var/run/redis.pid.
    fs::write(s.dir.join("d.conf"), "pidfile d.pid\n").unwrap();
    let status = Command::new(common::ferrokv_program())
        .arg("d.conf")
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
        ])
        .args(["--daemonize", "yes"])
        .current_dir(&s.dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    // The process started exits at once; the daemon it forked serves.
    assert!(status.success(), "{status}");
    wait_until("PING to the daemon", || {
        Client::connect(port)
            .is_ok_and(|mut c| c.cmd_result(&["PING"]).is_ok_and(|r| r == b"+PONG\r\n"))
    });
    let mut c = Client::connect(port).unwrap();
    let info = String::from_utf8_lossy(&c.cmd(&["INFO", "server"])).into_owned();
    let pid: i32 = info
        .lines()
        .find_map(|l| l.strip_prefix("process_id:"))
        .and_then(|p| p.trim().parse().ok())
        .expect("process_id in INFO");
    s.pid = Some(pid);
    assert_eq!(
        fs::read_to_string(&pidfile).unwrap().trim(),
        pid.to_string()
    );
    let _ = c.cmd_result(&["SHUTDOWN", "NOSAVE"]);
    // The daemon removes its pid file and closes its port as it exits (its
    // process may linger as a zombie where nothing reaps orphans).
    wait_until("the daemon to exit", || {
        !pidfile.exists() && Client::connect(port).is_err()
    });
    s.pid = None;
}
