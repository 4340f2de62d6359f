//! Redis functions across restarts: libraries saved in the RDB file
//! (`RDB_OPCODE_FUNCTION2`), in the AOF (FUNCTION LOAD, DELETE, FLUSH and
//! RESTORE as they were sent; a rewrite's base with the libraries first,
//! as an RDB preamble or as FUNCTION LOAD commands), and RDB files carried
//! between ferrokv and redis-server in both directions. The replies of
//! FUNCTION and FCALL themselves are in `tests/diff/function.redis`.
//!
//! `FERROKV_FUNCTIONS_SERVER=redis cargo test --test functions` runs the
//! restart tests against redis-server, to check them.

mod common;

use std::fs;
use std::time::{Duration, Instant};

use common::{Client, Server};

const SERVER_ENV: &str = "FERROKV_FUNCTIONS_SERVER";
const AOF_DIR: &str = "appendonlydir";
/// How long a test waits for a condition it polls for.
const PATIENCE: Duration = Duration::from_secs(30);

const LIB_COUNTER: &str = "#!lua name=counter\n\
redis.register_function('bump', function(keys, args) return redis.call('incrby', keys[1], args[1]) end)\n\
redis.register_function{function_name='peek', callback=function(keys) return redis.call('get', keys[1]) end, flags={'no-writes'}, description='reads the counter'}";
const LIB_GONE: &str =
    "#!lua name=gone\nredis.register_function('gone_f', function() return 'still here' end)";
const LIB_HELLO_V1: &str =
    "#!lua name=hello\nredis.register_function('hello', function() return 'v1' end)";
const LIB_HELLO_V2: &str =
    "#!lua name=hello\nredis.register_function('hello', function() return 'v2' end)";

fn start(extra_args: &[&str], files: &[(String, Vec<u8>)]) -> Option<Server> {
    let files: Vec<(&str, &[u8])> = files
        .iter()
        .map(|(n, b)| (n.as_str(), b.as_slice()))
        .collect();
    common::start_under_test_with(SERVER_ENV, "the function tests", extra_args, &files)
}

fn text(reply: &[u8]) -> String {
    String::from_utf8_lossy(reply).into_owned()
}

fn bulk(s: &str) -> String {
    format!("${}\r\n{s}\r\n", s.len())
}

/// Loads the libraries and runs them once, so the data depends on them.
fn set_up(c: &mut Client) {
    assert_eq!(
        text(&c.cmd(&["FUNCTION", "LOAD", LIB_COUNTER])),
        bulk("counter")
    );
    assert_eq!(text(&c.cmd(&["FUNCTION", "LOAD", LIB_GONE])), bulk("gone"));
    assert_eq!(
        text(&c.cmd(&["FUNCTION", "LOAD", LIB_HELLO_V1])),
        bulk("hello")
    );
    assert_eq!(
        text(&c.cmd(&["FUNCTION", "LOAD", "REPLACE", LIB_HELLO_V2])),
        bulk("hello")
    );
    assert_eq!(text(&c.cmd(&["FUNCTION", "DELETE", "gone"])), "+OK\r\n");
    assert_eq!(text(&c.cmd(&["FCALL", "bump", "1", "n", "5"])), ":5\r\n");
}

/// What a server holds after [`set_up`]: the libraries work, with their
/// flags and descriptions, and the deleted one is gone.
fn check(c: &mut Client, who: &str) {
    assert_eq!(
        text(&c.cmd(&["FCALL", "bump", "1", "n", "2"])),
        ":7\r\n",
        "{who}"
    );
    assert_eq!(
        text(&c.cmd(&["FCALL_RO", "peek", "1", "n"])),
        bulk("7"),
        "{who}"
    );
    assert_eq!(text(&c.cmd(&["FCALL", "hello", "0"])), bulk("v2"), "{who}");
    assert_eq!(
        text(&c.cmd(&["FCALL", "gone_f", "0"])),
        "-ERR Function not found\r\n",
        "{who}"
    );
    let listed = text(&c.cmd(&["FUNCTION", "LIST", "LIBRARYNAME", "counter", "WITHCODE"]));
    assert!(listed.contains("reads the counter"), "{who}: {listed}");
    assert!(listed.contains("no-writes"), "{who}: {listed}");
    assert!(listed.contains(&bulk(LIB_COUNTER)), "{who}: {listed}");
    let stats = text(&c.cmd(&["FUNCTION", "STATS"]));
    assert!(
        stats.ends_with("libraries_count\r\n:2\r\n$15\r\nfunctions_count\r\n:3\r\n"),
        "{who}: {stats}"
    );
}

fn eventually(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn info_field(c: &mut Client, section: &str, field: &str) -> String {
    let info = text(&c.cmd(&["INFO", section]));
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .unwrap_or_default()
        .trim()
        .to_owned()
}

/// Every file of the AOF directory, named as a restart places them.
fn aof_files(server: &Server) -> Vec<(String, Vec<u8>)> {
    let mut c = server.connect();
    eventually("the AOF buffer is written", || {
        info_field(&mut c, "persistence", "aof_buffer_length") == "0"
            || info_field(&mut c, "persistence", "aof_buffer_length").is_empty()
    });
    let dir = server.dir().join(AOF_DIR);
    let mut files = Vec::new();
    for entry in fs::read_dir(&dir).unwrap_or_else(|e| panic!("read {}: {e}", dir.display())) {
        let entry = entry.expect("a directory entry");
        let name = entry.file_name().to_string_lossy().into_owned();
        let bytes = fs::read(entry.path()).expect("read an AOF file");
        files.push((format!("{AOF_DIR}/{name}"), bytes));
    }
    files
}

fn saved_rdb(server: &Server, c: &mut Client) -> Vec<u8> {
    assert_eq!(text(&c.cmd(&["SAVE"])), "+OK\r\n");
    fs::read(server.dir().join("dump.rdb")).expect("read dump.rdb")
}

#[test]
fn functions_survive_a_restart_through_the_rdb_file() {
    let Some(server) = start(&[], &[]) else {
        return;
    };
    let mut c = server.connect();
    set_up(&mut c);
    let rdb = saved_rdb(&server, &mut c);
    drop(server);
    let Some(server) = start(&[], &[("dump.rdb".into(), rdb)]) else {
        return;
    };
    check(
        &mut server.connect(),
        &format!("{} after a restart", server.name),
    );
}

#[test]
fn debug_reload_keeps_the_functions() {
    let Some(server) = start(&[], &[]) else {
        return;
    };
    let mut c = server.connect();
    set_up(&mut c);
    assert_eq!(text(&c.cmd(&["DEBUG", "RELOAD"])), "+OK\r\n");
    check(&mut c, "after DEBUG RELOAD");
}

/// The AOF as written command by command, then after a rewrite (whose base
/// holds the libraries), with and without the RDB preamble.
fn aof_restart(preamble: &str) {
    let args = ["--appendonly", "yes", "--aof-use-rdb-preamble", preamble];
    let Some(server) = start(&args, &[]) else {
        return;
    };
    let mut c = server.connect();
    set_up(&mut c);
    // FUNCTION FLUSH and RESTORE replay too.
    let dump = c.cmd(&["FUNCTION", "DUMP"]);
    let Ok(Some((common::Frame::Bulk(payload), _))) = common::parse_frame(&dump) else {
        panic!("FUNCTION DUMP: {}", text(&dump));
    };
    assert_eq!(text(&c.cmd(&["FUNCTION", "FLUSH"])), "+OK\r\n");
    assert_eq!(
        text(&c.cmd(&[&b"FUNCTION"[..], b"RESTORE", &payload])),
        "+OK\r\n"
    );
    let files = aof_files(&server);
    drop(server);
    let Some(server) = start(&args, &files) else {
        return;
    };
    let who = format!("{} from its AOF (preamble {preamble})", server.name);
    let mut c = server.connect();
    check(&mut c, &who);
    assert_eq!(
        text(&c.cmd(&["BGREWRITEAOF"])),
        "+Background append only file rewriting started\r\n"
    );
    eventually("the rewrite ends", || {
        info_field(&mut c, "persistence", "aof_rewrite_in_progress") == "0"
            && info_field(&mut c, "persistence", "aof_rewrite_scheduled") == "0"
    });
    let files = aof_files(&server);
    drop(server);
    let Some(server) = start(&args, &files) else {
        return;
    };
    let mut c = server.connect();
    assert_eq!(
        text(&c.cmd(&["FCALL_RO", "peek", "1", "n"])),
        bulk("7"),
        "{who}"
    );
    assert_eq!(
        text(&c.cmd(&["FCALL", "hello", "0"])),
        bulk("v2"),
        "{who}, rewritten"
    );
    assert_eq!(
        text(&c.cmd(&["FCALL", "bump", "1", "n", "1"])),
        ":8\r\n",
        "{who}, rewritten"
    );
}

#[test]
fn functions_survive_a_restart_through_the_aof() {
    aof_restart("no");
}

#[test]
fn functions_survive_a_restart_through_the_aof_with_an_rdb_preamble() {
    aof_restart("yes");
}

/// ferrokv's file loads in redis-server and redis-server's in ferrokv.
#[test]
fn rdb_files_with_functions_carry_between_ferrokv_and_redis() {
    let Some(redis) = common::start_redis() else {
        println!("SKIPPED: redis-server not on PATH");
        return;
    };
    let ours = common::start_ferrokv();
    for (from, to_redis) in [(&ours, true), (&redis, false)] {
        let mut c = from.connect();
        set_up(&mut c);
        let rdb = saved_rdb(from, &mut c);
        let files = [("dump.rdb", rdb.as_slice())];
        let to = if to_redis {
            common::start_redis_with(&[], &files).expect("redis-server")
        } else {
            common::start_ferrokv_with(&[], &files)
        };
        check(
            &mut to.connect(),
            &format!("{} loading {}'s file", to.name, from.name),
        );
    }
}

/// A file whose library does not load stops the server, as in Redis.
#[test]
fn a_file_with_a_broken_library_is_refused() {
    let Some(server) = start(&["--rdbcompression", "no"], &[]) else {
        return;
    };
    let mut c = server.connect();
    set_up(&mut c);
    let rdb = saved_rdb(&server, &mut c);
    drop(server);
    // Break the library's code in place: same length, so the record stays
    // well formed and only the Lua fails.
    let needle = b"return 'v2' end)";
    let at = rdb
        .windows(needle.len())
        .position(|w| w == needle)
        .expect("the library's code is stored uncompressed");
    let mut broken = rdb.clone();
    broken[at..at + needle.len()].copy_from_slice(b"return 'v2' end(");
    // The checksum no longer matches: leave it out (0 means none).
    let n = broken.len();
    broken[n - 8..].fill(0);
    let refusal = Server::start_refused(
        "ferrokv",
        common::ferrokv_program(),
        common::REDIS_TEST_ARGS,
        &[("dump.rdb", &broken)],
        Duration::from_secs(5),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        refusal.log.contains("Failed loading library"),
        "{}",
        refusal.log
    );
}
