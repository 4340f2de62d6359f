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
//!
//! A saved file is carried to the next server by placing it in that
//! server's working directory before it starts, which is how both servers
//! find `dump.rdb` when they are not given `--dir`.
//!
//! Tests that need `redis-server` (or `redis-check-rdb`) print a skip line
//! and pass when it is not on `PATH`, as the other differential tests do.

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::{Client, Frame, REDIS_TEST_ARGS, Server, escape, parse_frame};
use ferrokv::util::Rng;

/// The databases a server has, as in Redis's default configuration.
const DATABASES: usize = 16;
/// A deadline far in the future (2100-01-01 00:00:00.123 UTC). It is not a
/// whole second, so that `PEXPIRETIME` shows the milliseconds survive.
const FAR_DEADLINE_MS: i64 = 4_102_444_800_123;
/// How long a server that must refuse a file gets to exit. Loading a small
/// file takes milliseconds; this only bounds a server that hangs instead.
const REFUSAL_TIMEOUT: Duration = Duration::from_secs(5);
/// How long `redis-check-rdb` may run on a file of a few hundred KB.
const CHECK_RDB_TIMEOUT: Duration = Duration::from_secs(10);
/// The seed of the random bytes [`fill`] writes. Both servers are filled
/// from the same seed, so they hold the same values.
const FILL_SEED: u64 = 0x5eed_f111;
/// The seed of the truncation offsets, flipped bytes and garbage of
/// [`a_corrupt_or_truncated_file_is_refused_with_its_offset`].
const CORRUPTION_SEED: u64 = 0xc0ff_ee07;

// ---------------------------------------------------------------------------
// Talking to a server
// ---------------------------------------------------------------------------

/// Sends a command and decodes its reply.
fn call<A: AsRef<[u8]>>(c: &mut Client, args: &[A]) -> Frame {
    let raw = c.cmd(args);
    match parse_frame(&raw) {
        Ok(Some((frame, _))) => frame,
        _ => unreachable!("Client::cmd returns exactly one complete reply"),
    }
}

/// Sends a command that must answer `+OK`.
fn ok<A: AsRef<[u8]>>(c: &mut Client, args: &[A]) {
    let reply = c.cmd(args);
    assert_eq!(escape(&reply), "+OK\\r\\n", "reply to [{}]", shown(args));
}

/// Sends a command that must answer an integer, and returns it.
fn int<A: AsRef<[u8]>>(c: &mut Client, args: &[A]) -> i64 {
    match call(c, args) {
        Frame::Integer(n) => n,
        other => panic!("[{}] answered {other:?}, not an integer", shown(args)),
    }
}

/// Sends a command that must answer a bulk string, and returns it.
fn bulk<A: AsRef<[u8]>>(c: &mut Client, args: &[A]) -> Vec<u8> {
    match call(c, args) {
        Frame::Bulk(bytes) => bytes,
        other => panic!("[{}] answered {other:?}, not a bulk string", shown(args)),
    }
}

/// Sends a command that must answer an array of bulk strings, and returns
/// them in order.
fn bulks<A: AsRef<[u8]>>(c: &mut Client, args: &[A]) -> Vec<Vec<u8>> {
    match call(c, args) {
        Frame::Array(items) => items
            .into_iter()
            .map(|item| match item {
                Frame::Bulk(bytes) => bytes,
                other => panic!("[{}] answered an array holding {other:?}", shown(args)),
            })
            .collect(),
        other => panic!("[{}] answered {other:?}, not an array", shown(args)),
    }
}

/// A command's arguments, escaped, for messages.
fn shown<A: AsRef<[u8]>>(args: &[A]) -> String {
    let parts: Vec<String> = args.iter().map(|a| escape(a.as_ref())).collect();
    parts.join(" ")
}

fn select(c: &mut Client, db: usize) {
    ok(c, &["SELECT", &db.to_string()]);
}

/// Milliseconds since the Unix epoch, the clock both servers use for
/// deadlines.
fn unix_ms() -> i64 {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("the clock is after 1970");
    since.as_millis() as i64
}

/// `len` bytes from `rng`: incompressible, so LZF leaves them as they are.
fn random_bytes(rng: &mut Rng, len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        out.extend_from_slice(&rng.next_u64().to_le_bytes());
    }
    out.truncate(len);
    out
}

/// Where `needle` first occurs in `haystack`.
fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

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
// Reading it back
// ---------------------------------------------------------------------------

/// Everything observable about one key.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Key {
    /// `TYPE`.
    kind: String,
    /// `OBJECT ENCODING`.
    encoding: String,
    /// `PEXPIRETIME`: -1 for a key without a deadline.
    expire_ms: i64,
    /// A string's bytes; a list's elements in order; a hash's fields and
    /// values, field after value, sorted by field; a set's members sorted.
    value: Vec<Vec<u8>>,
}

impl Key {
    /// Reads `key` in the selected database, or `None` when there is none.
    fn read(c: &mut Client, key: &[u8]) -> Option<Key> {
        let kind = match call(c, &[b"TYPE".as_slice(), key]) {
            Frame::Simple(kind) => String::from_utf8_lossy(&kind).into_owned(),
            other => panic!("TYPE {} answered {other:?}", escape(key)),
        };
        let value = match kind.as_str() {
            "none" => return None,
            "string" => vec![bulk(c, &[b"GET".as_slice(), key])],
            "list" => bulks(c, &[b"LRANGE".as_slice(), key, b"0", b"-1"]),
            "hash" => {
                let flat = bulks(c, &[b"HGETALL".as_slice(), key]);
                let mut pairs: Vec<(Vec<u8>, Vec<u8>)> = flat
                    .chunks(2)
                    .map(|pair| (pair[0].clone(), pair[1].clone()))
                    .collect();
                pairs.sort();
                pairs.into_iter().flat_map(|(f, v)| [f, v]).collect()
            }
            "set" => {
                let mut members = bulks(c, &[b"SMEMBERS".as_slice(), key]);
                members.sort();
                members
            }
            other => panic!(
                "key {} has type {other}, which fill never writes",
                escape(key)
            ),
        };
        let encoding = bulk(c, &[b"OBJECT".as_slice(), b"ENCODING", key]);
        let expire_ms = int(c, &[b"PEXPIRETIME".as_slice(), key]);
        Some(Key {
            kind,
            encoding: String::from_utf8_lossy(&encoding).into_owned(),
            expire_ms,
            value,
        })
    }
}

/// Every key of every database of a server.
#[derive(Debug, PartialEq, Eq)]
struct Dataset {
    /// Non-empty databases by index, each with its `DBSIZE` and its keys.
    dbs: BTreeMap<usize, (i64, BTreeMap<Vec<u8>, Key>)>,
}

impl Dataset {
    /// Reads every database of `c`'s server, leaving database 0 selected.
    fn read(c: &mut Client) -> Dataset {
        let mut dbs = BTreeMap::new();
        for db in 0..DATABASES {
            select(c, db);
            let size = int(c, &["DBSIZE"]);
            if size == 0 {
                continue;
            }
            let mut keys = BTreeMap::new();
            for name in bulks(c, &["KEYS", "*"]) {
                let key = Key::read(c, &name)
                    .unwrap_or_else(|| panic!("KEYS listed {} but TYPE says none", escape(&name)));
                keys.insert(name, key);
            }
            dbs.insert(db, (size, keys));
        }
        select(c, 0);
        Dataset { dbs }
    }

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

/// Panics, listing the differences, unless the two datasets are equal.
/// Values are summarised (length and first difference), since a 100 KB
/// string in a message helps nobody.
fn assert_same(expected_name: &str, expected: &Dataset, actual_name: &str, actual: &Dataset) {
    if expected == actual {
        return;
    }
    let mut diffs = Vec::new();
    for db in 0..DATABASES {
        let empty = (0, BTreeMap::new());
        let (e_size, e_keys) = expected.dbs.get(&db).unwrap_or(&empty);
        let (a_size, a_keys) = actual.dbs.get(&db).unwrap_or(&empty);
        if e_size != a_size {
            diffs.push(format!(
                "db {db}: DBSIZE {e_size} on {expected_name}, {a_size} on {actual_name}"
            ));
        }
        for (name, e) in e_keys {
            match a_keys.get(name) {
                None => diffs.push(format!(
                    "db {db}: {} missing on {actual_name}",
                    escape(name)
                )),
                Some(a) if a != e => {
                    diffs.push(format!("db {db}: {}: {}", escape(name), key_diff(e, a)))
                }
                Some(_) => {}
            }
        }
        for name in a_keys.keys().filter(|name| !e_keys.contains_key(*name)) {
            diffs.push(format!("db {db}: {} only on {actual_name}", escape(name)));
        }
    }
    panic!(
        "{actual_name} differs from {expected_name} ({} differences):\n{}",
        diffs.len(),
        diffs.join("\n")
    );
}

/// How two versions of a key differ, briefly.
fn key_diff(expected: &Key, actual: &Key) -> String {
    let mut parts = Vec::new();
    if expected.kind != actual.kind {
        parts.push(format!("TYPE {} vs {}", expected.kind, actual.kind));
    }
    if expected.encoding != actual.encoding {
        parts.push(format!(
            "encoding {} vs {}",
            expected.encoding, actual.encoding
        ));
    }
    if expected.expire_ms != actual.expire_ms {
        parts.push(format!(
            "PEXPIRETIME {} vs {}",
            expected.expire_ms, actual.expire_ms
        ));
    }
    if expected.value != actual.value {
        // Items past the shorter value count as differing.
        let first = expected
            .value
            .iter()
            .zip(&actual.value)
            .position(|(e, a)| e != a)
            .unwrap_or_else(|| expected.value.len().min(actual.value.len()));
        parts.push(format!(
            "value of {} vs {} items, first difference at item {first}",
            expected.value.len(),
            actual.value.len()
        ));
    }
    parts.join("; ")
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

/// Runs `redis-check-rdb` on `file` (written into `dir`), which must
/// accept it. Skipped when the tool is not on `PATH`.
fn check_rdb(file: &[u8], dir: &Path) {
    let Some(program) = common::find_on_path("redis-check-rdb") else {
        println!("SKIPPED: redis-check-rdb not found on PATH; the file was not checked with it");
        return;
    };
    let path = dir.join("checked.rdb");
    fs::write(&path, file).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    let mut child = Command::new(&program)
        .arg(&path)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {}: {e}", program.display()));
    let deadline = Instant::now() + CHECK_RDB_TIMEOUT;
    while child
        .try_wait()
        .expect("wait for redis-check-rdb")
        .is_none()
    {
        if Instant::now() >= deadline {
            let _ = child.kill();
            break;
        }
        thread::sleep(Duration::from_millis(10));
    }
    let output = child
        .wait_with_output()
        .expect("collect redis-check-rdb's output");
    assert!(
        output.status.success(),
        "redis-check-rdb rejected ferrokv's file ({}):\n{}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
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
// 8. Types ferrokv does not have yet
// ---------------------------------------------------------------------------

#[test]
fn a_file_with_a_sorted_set_is_refused() {
    let Some(redis) = common::start_redis() else {
        println!("SKIPPED: redis-server not found on PATH; sorted-set file test not run");
        return;
    };
    let mut c = redis.connect();
    ok(&mut c, &["SET", "before", "a string ferrokv could load"]);
    // A listpack sorted set, then one past zset-max-listpack-entries
    // (128), which Redis stores as a skiplist with its own RDB type.
    assert_eq!(int(&mut c, &["ZADD", "zset", "1", "a", "2", "b"]), 2);
    ok(&mut c, &["SAVE"]);
    assert_refused(
        &saved_file(&redis),
        "a file holding a listpack sorted set",
        "sorted sets",
    );

    ok(&mut c, &["FLUSHALL"]);
    let mut args = vec!["ZADD".to_string(), "big".to_string()];
    for i in 0..200 {
        args.push(i.to_string());
        args.push(format!("member:{i}"));
    }
    assert_eq!(int(&mut c, &args), 200);
    assert_eq!(bulk(&mut c, &["OBJECT", "ENCODING", "big"]), b"skiplist");
    ok(&mut c, &["SAVE"]);
    assert_refused(
        &saved_file(&redis),
        "a file holding a skiplist sorted set",
        "sorted sets",
    );
}
