//! Integration tests: the real `ferrokv` binary, started on a free loopback
//! port and spoken to over TCP.
//!
//! Most tests send raw RESP and assert on the raw bytes that come back,
//! because the wire format is the contract clients depend on. A few drive
//! real client programs instead (the `redis` crate, `redis-cli`,
//! `redis-benchmark`), to prove that tools written for Redis work unchanged.
//!
//! # Layout
//!
//! - [`TestServer`] is a guard around one server process: it picks a free
//!   port, runs the binary in a private scratch directory with its output in
//!   a log file, waits until it answers `PING`, and kills it on drop (also
//!   while a failing test unwinds). It also exposes what the lifecycle tests
//!   need: the pid (for signals and `/proc/<pid>/status`) and the exit status.
//! - Raw helpers ([`raw_connect`], [`read_until_closed`], [`read_exactly`])
//!   work on a plain `TcpStream`, for the tests where the bytes sent are not
//!   well-formed RESP or where the connection is expected to close.
//! - Well-formed traffic goes through `common::Client`, which returns each
//!   reply as its exact bytes.
//! - The tests follow, grouped by banner: raw RESP, hostile input, clients
//!   and lifecycle, expiry, SCAN, real clients.
//!
//! Every test starts its own server, so tests are independent and may run in
//! parallel. Every read has a timeout and every wait polls a condition with a
//! deadline, so a misbehaving server fails a test instead of hanging it.
//!
//! # Running against redis-server
//!
//! ```text
//! FERROKV_INTEGRATION_BIN=redis-server cargo test --test integration
//! ```
//!
//! runs the same suite against a real Redis 7.0 (any program taking
//! redis-server's options will do). That is how an expectation in this file
//! is checked to be Redis's behaviour rather than a guess: a test that fails
//! against redis-server is a bug in the test.

mod common;

use std::collections::HashSet;
use std::ffi::OsString;
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use common::{Client, encode_command, escape, find_on_path, free_port};

/// How long a freshly spawned server gets to start answering `PING`.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a raw read waits for bytes before the test fails.
const READ_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a connection that should be closed by the server may stay open.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);
/// Pause between two probes of a condition that is being polled.
const POLL_INTERVAL: Duration = Duration::from_millis(5);
/// A free port can be taken by someone else before the server binds it; a
/// server that exits during startup is retried on another port this often.
const SPAWN_ATTEMPTS: usize = 3;
/// The environment variable naming another server program to test.
const BIN_OVERRIDE_VAR: &str = "FERROKV_INTEGRATION_BIN";

// ---------------------------------------------------------------------------
// The server process guard
// ---------------------------------------------------------------------------

/// The program under test: ferrokv, unless [`BIN_OVERRIDE_VAR`] names another.
fn server_program() -> OsString {
    std::env::var_os(BIN_OVERRIDE_VAR)
        .filter(|program| !program.is_empty())
        .unwrap_or_else(|| OsString::from(env!("CARGO_BIN_EXE_ferrokv")))
}

/// Options that make a server a throwaway test instance: loopback only, no
/// RDB snapshots, no AOF.
fn test_options(port: u16) -> Vec<OsString> {
    let port = port.to_string();
    [
        "--port",
        port.as_str(),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
    ]
    .iter()
    .map(OsString::from)
    .collect()
}

/// A server process, killed (and its scratch directory removed) on drop.
struct TestServer {
    /// The port it listens on, on 127.0.0.1.
    port: u16,
    child: Child,
    dir: PathBuf,
}

impl TestServer {
    /// Starts the server on a free port with the test options, retrying on
    /// another port if it exits during startup.
    fn start() -> TestServer {
        let mut last_error = String::new();
        for _ in 0..SPAWN_ATTEMPTS {
            let port = free_port();
            let mut server = TestServer::spawn(port, &test_options(port), &[]);
            match server.wait_ready() {
                Ok(()) => return server,
                Err(message) => last_error = message,
            }
        }
        panic!("{last_error}");
    }

    /// Spawns the server with exactly `args`, without waiting for it. The
    /// scratch directory is created first and `files` (name, contents) are
    /// written into it, so `args` may name them by relative path.
    fn spawn(port: u16, args: &[OsString], files: &[(&str, &str)]) -> TestServer {
        let dir = scratch_dir();
        fs::create_dir_all(&dir)
            .unwrap_or_else(|e| panic!("create scratch dir {}: {e}", dir.display()));
        for (name, contents) in files {
            fs::write(dir.join(name), contents)
                .unwrap_or_else(|e| panic!("write {name} in {}: {e}", dir.display()));
        }
        let log = File::create(dir.join("server.log")).expect("create server.log");
        let log_err = log.try_clone().expect("clone the log file handle");
        let program = server_program();
        let child = Command::new(&program)
            .args(args)
            .current_dir(&dir)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err)
            .spawn()
            .unwrap_or_else(|e| {
                let _ = fs::remove_dir_all(&dir);
                panic!("spawn {}: {e}", Path::new(&program).display())
            });
        // From here on the guard owns the process and the directory.
        TestServer { port, child, dir }
    }

    /// Polls with `PING` until the server answers. Errors when the process
    /// exits first or does not answer within [`STARTUP_TIMEOUT`].
    fn wait_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!(
                    "server exited during startup on port {} ({status}); log:\n{}",
                    self.port,
                    self.log()
                ));
            }
            if let Ok(mut client) = Client::connect(self.port)
                && let Ok(reply) = client.cmd_result(&["PING"])
                && reply == b"+PONG\r\n"
            {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "server did not answer PING on port {} within {STARTUP_TIMEOUT:?}; log:\n{}",
                    self.port,
                    self.log()
                ));
            }
            thread::sleep(POLL_INTERVAL);
        }
    }

    fn pid(&self) -> libc::pid_t {
        libc::pid_t::try_from(self.child.id()).expect("pid fits in pid_t")
    }

    /// A new RESP client connection.
    fn connect(&self) -> Client {
        Client::connect(self.port)
            .unwrap_or_else(|e| panic!("connect to port {}: {e}; log:\n{}", self.port, self.log()))
    }

    /// A new raw connection, with read and write timeouts.
    fn raw(&self) -> TcpStream {
        raw_connect(self.port)
            .unwrap_or_else(|e| panic!("connect to port {}: {e}; log:\n{}", self.port, self.log()))
    }

    /// What the server wrote to stdout and stderr so far.
    fn log(&self) -> String {
        fs::read(self.dir.join("server.log"))
            .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
            .unwrap_or_else(|e| format!("(log unreadable: {e})"))
    }

    /// Panics unless the process is running and answers `PING` on a new
    /// connection.
    fn assert_serving(&mut self) {
        if let Ok(Some(status)) = self.child.try_wait() {
            panic!("server died ({status}); log:\n{}", self.log());
        }
        let reply = self.connect().cmd_result(&["PING"]);
        match reply {
            Ok(reply) => assert_eq!(escape(&reply), "+PONG\\r\\n", "PING on a new connection"),
            Err(e) => panic!("PING on a new connection failed: {e}; log:\n{}", self.log()),
        }
    }

    /// Waits up to `timeout` for the process to exit.
    fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            thread::sleep(POLL_INTERVAL);
        }
    }

    /// The process's resident set size in KiB.
    fn rss_kib(&self) -> u64 {
        common::rss_kib(self.child.id())
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = fs::remove_dir_all(&self.dir);
    }
}

fn scratch_dir() -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    std::env::temp_dir().join(format!("ferrokv-integration-{}-{n}", std::process::id()))
}

// ---------------------------------------------------------------------------
// Raw connection helpers
// ---------------------------------------------------------------------------

fn raw_connect(port: u16) -> io::Result<TcpStream> {
    let stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(READ_TIMEOUT))?;
    stream.set_write_timeout(Some(READ_TIMEOUT))?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// Reads until the server closes the connection and returns all it sent.
/// A reset counts as closed. Panics if the connection is still open after
/// [`CLOSE_TIMEOUT`].
fn read_until_closed(stream: &mut TcpStream) -> Vec<u8> {
    let deadline = Instant::now() + CLOSE_TIMEOUT;
    let mut got = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            panic!(
                "connection still open after {CLOSE_TIMEOUT:?}; received \"{}\"",
                escape(&got)
            );
        }
        stream
            .set_read_timeout(Some(left))
            .expect("set_read_timeout");
        match stream.read(&mut chunk) {
            Ok(0) => return got,
            Ok(n) => got.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => return got,
            Err(e)
                if e.kind() == io::ErrorKind::WouldBlock || e.kind() == io::ErrorKind::TimedOut =>
            {
                panic!(
                    "connection still open after {CLOSE_TIMEOUT:?}; received \"{}\"",
                    escape(&got)
                )
            }
            Err(e) => panic!("read failed: {e}; received \"{}\"", escape(&got)),
        }
    }
}

/// Reads exactly `n` bytes, failing on EOF or after [`READ_TIMEOUT`].
fn read_exactly(stream: &mut TcpStream, n: usize) -> Vec<u8> {
    let mut got = vec![0u8; n];
    let mut filled = 0;
    while filled < n {
        match stream.read(&mut got[filled..]) {
            Ok(0) => panic!(
                "connection closed after {filled} of {n} bytes: \"{}\"",
                escape(&got[..filled])
            ),
            Ok(k) => filled += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => panic!(
                "read failed after {filled} of {n} bytes ({e}): \"{}\"",
                escape(&got[..filled])
            ),
        }
    }
    got
}

/// Reads until what was received ends with `suffix`, failing on EOF or
/// after [`READ_TIMEOUT`] without it.
fn read_until_suffix(stream: &mut TcpStream, suffix: &[u8]) -> Vec<u8> {
    let mut got = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    while !got.ends_with(suffix) {
        match stream.read(&mut chunk) {
            Ok(0) => panic!("connection closed; received \"{}\"", escape(&got)),
            Ok(n) => got.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => panic!(
                "read failed waiting for \"{}\" ({e}); received \"{}\"",
                escape(suffix),
                escape(&got)
            ),
        }
    }
    got
}

/// Polls `probe` until it returns `Ok`, or panics after `timeout` naming
/// `what` and the last `Err` (a description of what the probe saw).
fn poll_until<T>(timeout: Duration, what: &str, mut probe: impl FnMut() -> Result<T, String>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        match probe() {
            Ok(value) => return value,
            Err(last) if Instant::now() >= deadline => {
                panic!("{what}: not reached within {timeout:?}; last seen: {last}")
            }
            Err(_) => thread::sleep(POLL_INTERVAL),
        }
    }
}

/// Sends `commands` as one write and returns the concatenated raw replies.
fn pipeline(client: &mut Client, commands: &[Vec<Vec<u8>>]) -> Vec<u8> {
    let mut out = Vec::new();
    for command in commands {
        out.extend_from_slice(&encode_command(command));
    }
    client.send_raw(&out).expect("write pipeline");
    let mut replies = Vec::new();
    for i in 0..commands.len() {
        let reply = client
            .read_reply()
            .unwrap_or_else(|e| panic!("reply {i} of {}: {e}", commands.len()));
        replies.extend_from_slice(&reply);
    }
    replies
}

/// A command as owned argument vectors, for building pipelines.
fn args(parts: &[&str]) -> Vec<Vec<u8>> {
    parts.iter().map(|p| p.as_bytes().to_vec()).collect()
}

/// The value of `field` in an `INFO` reply.
fn info_field(client: &mut Client, section: &str, field: &str) -> String {
    let reply = client.cmd(&["INFO", section]);
    let text = String::from_utf8_lossy(&reply).into_owned();
    text.lines()
        .find_map(|line| line.strip_prefix(&format!("{field}:")))
        .map(|v| v.trim().to_string())
        .unwrap_or_else(|| panic!("no {field} in INFO {section}: {text}"))
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// A small deterministic PRNG (xorshift64*), so the garbage is the same on
/// every run and a failure can be reproduced.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

// ---------------------------------------------------------------------------
// Raw RESP basics
// ---------------------------------------------------------------------------

#[test]
fn ping_replies_pong() {
    let server = TestServer::start();
    let mut c = server.connect();
    assert_eq!(escape(&c.cmd(&["PING"])), "+PONG\\r\\n");
    assert_eq!(escape(&c.cmd(&["PING", "hello"])), "$5\\r\\nhello\\r\\n");
}

#[test]
fn pipeline_of_1000_commands_in_one_write_gets_every_reply_in_order() {
    let server = TestServer::start();
    let mut c = server.connect();
    let mut commands = Vec::new();
    let mut expected = Vec::new();
    for i in 0..1000 {
        match i % 4 {
            0 => {
                commands.push(args(&["SET", &format!("k{i}"), &format!("v{i}")]));
                expected.extend_from_slice(b"+OK\r\n");
            }
            1 => {
                let value = format!("v{}", i - 1);
                commands.push(args(&["GET", &format!("k{}", i - 1)]));
                expected.extend_from_slice(format!("${}\r\n{value}\r\n", value.len()).as_bytes());
            }
            2 => {
                commands.push(args(&["INCR", "counter"]));
                expected.extend_from_slice(format!(":{}\r\n", i / 4 + 1).as_bytes());
            }
            _ => {
                commands.push(args(&["PING"]));
                expected.extend_from_slice(b"+PONG\r\n");
            }
        }
    }
    let got = pipeline(&mut c, &commands);
    assert!(
        got == expected,
        "pipeline replies differ:\n got {}\nwant {}",
        escape(&got),
        escape(&expected)
    );
    // Nothing extra was sent: the next reply is the next command's.
    assert_eq!(escape(&c.cmd(&["GET", "counter"])), "$3\\r\\n250\\r\\n");
}

#[test]
fn inline_commands_are_split_on_spaces_and_understand_quotes() {
    let server = TestServer::start();
    let mut s = server.raw();
    s.write_all(b"PING\r\n").unwrap();
    assert_eq!(escape(&read_exactly(&mut s, 7)), "+PONG\\r\\n");
    s.write_all(b"SET k \"a b\"\r\n").unwrap();
    assert_eq!(escape(&read_exactly(&mut s, 5)), "+OK\\r\\n");
    s.write_all(&encode_command(&["GET", "k"])).unwrap();
    assert_eq!(escape(&read_exactly(&mut s, 9)), "$3\\r\\na b\\r\\n");
    // A bare LF ends an inline command too, and empty lines are skipped.
    s.write_all(b"\r\n\r\nECHO 'x y'\n").unwrap();
    assert_eq!(escape(&read_exactly(&mut s, 9)), "$3\\r\\nx y\\r\\n");
    // Inline and multibulk commands mix in one write.
    let mut mixed = b"INCR n\r\n".to_vec();
    mixed.extend_from_slice(&encode_command(&["INCR", "n"]));
    mixed.extend_from_slice(b"INCR n\r\n");
    s.write_all(&mixed).unwrap();
    assert_eq!(
        escape(&read_exactly(&mut s, 12)),
        ":1\\r\\n:2\\r\\n:3\\r\\n"
    );
}

#[test]
fn command_split_byte_by_byte_across_writes_is_parsed_once_complete() {
    let server = TestServer::start();
    let mut s = server.raw();
    let mut bytes = encode_command(&["SET", "split", "value with\r\nCRLF"]);
    bytes.extend_from_slice(b"GET split\r\n");
    for byte in &bytes {
        s.write_all(std::slice::from_ref(byte)).unwrap();
    }
    let expected = b"+OK\r\n$16\r\nvalue with\r\nCRLF\r\n";
    assert_eq!(
        escape(&read_exactly(&mut s, expected.len())),
        escape(expected)
    );
}

// ---------------------------------------------------------------------------
// Hostile input
// ---------------------------------------------------------------------------

/// Sends `input` on a fresh connection, asserts that the server replies
/// exactly `expected` and then closes the connection, and that it still
/// serves another client afterwards.
fn assert_protocol_error_closes(input: &[u8], expected: &str) {
    let mut server = TestServer::start();
    let mut s = server.raw();
    s.write_all(input).unwrap();
    let got = read_until_closed(&mut s);
    assert_eq!(
        escape(&got),
        escape(expected.as_bytes()),
        "reply to \"{}\"",
        escape(&input[..input.len().min(64)])
    );
    server.assert_serving();
}

#[test]
fn multibulk_count_above_int_max_is_a_protocol_error() {
    assert_protocol_error_closes(
        b"*99999999999\r\n",
        "-ERR Protocol error: invalid multibulk length\r\n",
    );
}

#[test]
fn bulk_length_above_proto_max_bulk_len_is_a_protocol_error() {
    assert_protocol_error_closes(
        b"*1\r\n$4000000000\r\n",
        "-ERR Protocol error: invalid bulk length\r\n",
    );
}

#[test]
fn bulk_header_outside_a_multibulk_is_an_inline_unknown_command() {
    let mut server = TestServer::start();
    let mut s = server.raw();
    s.write_all(b"$4000000000\r\n").unwrap();
    let expected = "-ERR unknown command '$4000000000', with args beginning with: \r\n";
    assert_eq!(
        escape(&read_exactly(&mut s, expected.len())),
        escape(expected.as_bytes())
    );
    // Only a protocol error closes a connection; this one stays open.
    s.write_all(b"PING\r\n").unwrap();
    assert_eq!(escape(&read_exactly(&mut s, 7)), "+PONG\\r\\n");
    server.assert_serving();
}

#[test]
fn multibulk_element_without_dollar_is_a_protocol_error() {
    assert_protocol_error_closes(
        b"*1\r\nfoo\r\n",
        "-ERR Protocol error: expected '$', got 'f'\r\n",
    );
}

#[test]
fn inline_request_over_64k_without_newline_is_a_protocol_error() {
    assert_protocol_error_closes(
        &vec![b'a'; 70_000],
        "-ERR Protocol error: too big inline request\r\n",
    );
}

#[test]
fn multibulk_count_line_over_64k_is_a_protocol_error() {
    let mut input = vec![b'*'];
    input.extend(std::iter::repeat_n(b'1', 70_000));
    assert_protocol_error_closes(
        &input,
        "-ERR Protocol error: too big mbulk count string\r\n",
    );
}

#[test]
fn inline_request_with_unbalanced_quotes_is_a_protocol_error() {
    assert_protocol_error_closes(
        b"set \"a b\r\n",
        "-ERR Protocol error: unbalanced quotes in request\r\n",
    );
}

/// Redis 7.0 accepts any multibulk count up to INT_MAX and waits for the
/// elements; only larger counts are "invalid multibulk length".
#[test]
fn multibulk_count_just_above_int_max_is_a_protocol_error() {
    assert_protocol_error_closes(
        b"*2147483648\r\n",
        "-ERR Protocol error: invalid multibulk length\r\n",
    );
}

/// More than a million arguments in one request (a bulk loader's SADD)
/// work as in Redis.
#[test]
fn a_request_may_have_millions_of_arguments() {
    const MEMBERS: usize = 1 << 20;
    let server = TestServer::start();
    let mut s = server.raw();
    let mut request = format!("*{}\r\n$4\r\nSADD\r\n$1\r\ns\r\n", MEMBERS + 2).into_bytes();
    for i in 0..MEMBERS {
        let member = (i % 1000).to_string();
        request.extend_from_slice(format!("${}\r\n{member}\r\n", member.len()).as_bytes());
    }
    request.extend_from_slice(b"*2\r\n$5\r\nSCARD\r\n$1\r\ns\r\n");
    s.write_all(&request).unwrap();
    let mut reply = Vec::new();
    let mut chunk = [0u8; 64];
    while !reply.ends_with(b":1000\r\n:1000\r\n") {
        let n = s.read(&mut chunk).expect("read the replies");
        assert!(n > 0, "closed after {:?}", String::from_utf8_lossy(&reply));
        reply.extend_from_slice(&chunk[..n]);
    }
}

#[test]
fn random_garbage_never_crashes_the_server() {
    let mut server = TestServer::start();
    let mut control = server.connect();
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    // Bytes that steer the parser into its interesting states.
    const RESP_ALPHABET: &[u8] = b"*$\r\n\r\n0123456789-+: \"'\\xabSETGET";
    for iteration in 0..300 {
        let len = 1024 + rng.below(7 * 1024) as usize;
        let mut garbage = Vec::with_capacity(len + 64);
        match iteration % 4 {
            // Start like a well-formed multibulk, then derail.
            0 => garbage.extend_from_slice(b"*3\r\n$3\r\nSET\r\n$"),
            1 => garbage.push(b'*'),
            _ => {}
        }
        while garbage.len() < len {
            let byte = if iteration % 2 == 0 {
                RESP_ALPHABET[rng.below(RESP_ALPHABET.len() as u64) as usize]
            } else {
                rng.next() as u8
            };
            garbage.push(byte);
        }
        let mut s = server.raw();
        // The server may close the connection part way through the write
        // (after a protocol error); that is fine.
        let _ = s.write_all(&garbage);
        let _ = s.shutdown(Shutdown::Write);
        drop(s);
        if iteration % 25 == 24 {
            let reply = control.cmd_result(&["PING"]).unwrap_or_else(|e| {
                panic!(
                    "PING after garbage iteration {iteration}: {e}; log:\n{}",
                    server.log()
                )
            });
            assert_eq!(escape(&reply), "+PONG\\r\\n");
        }
    }
    server.assert_serving();
}

#[test]
fn command_cut_off_by_disconnect_is_never_executed() {
    let mut server = TestServer::start();
    for _ in 0..50 {
        let mut s = server.raw();
        s.write_all(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$10\r\nabc")
            .unwrap();
        drop(s);
    }
    // Every strict prefix of a complete command, then disconnect.
    let full = encode_command(&["SET", "k", "abcdefghij"]);
    for cut in 1..full.len() {
        let mut s = server.raw();
        s.write_all(&full[..cut]).unwrap();
        drop(s);
    }
    server.assert_serving();
    let mut c = server.connect();
    assert_eq!(escape(&c.cmd(&["EXISTS", "k"])), ":0\\r\\n");
    assert_eq!(escape(&c.cmd(&["DBSIZE"])), ":0\\r\\n");
}

#[test]
fn claimed_500mb_bulks_do_not_preallocate_memory() {
    let mut server = TestServer::start();
    let before_kib = server.rss_kib();
    let mut conns = Vec::new();
    for _ in 0..50 {
        let mut s = server.raw();
        s.write_all(b"*2\r\n$4\r\nECHO\r\n$500000000\r\nabc")
            .unwrap();
        conns.push(s);
    }
    // A round trip on another connection lets the server read the headers.
    server.assert_serving();
    // Then some real payload on each, so a reader that sizes its buffer from
    // the pending length has the chance to do so.
    let chunk = vec![b'x'; 64 * 1024];
    for s in &mut conns {
        s.write_all(&chunk).unwrap();
    }
    server.assert_serving();
    let after_kib = server.rss_kib();
    let growth_mib = after_kib.saturating_sub(before_kib) / 1024;
    assert!(
        growth_mib < 200,
        "RSS grew by {growth_mib} MiB ({before_kib} KiB -> {after_kib} KiB) for 50 claimed 500 MB bulks"
    );
    drop(conns);
    server.assert_serving();
}

#[test]
fn ten_thousand_connections_opened_and_closed_leave_no_clients_behind() {
    let mut server = TestServer::start();
    // Fewer than the smallest listen backlog in use (128) at a time: a
    // connection the server has not accepted yet waits in the kernel's
    // accept queue, and when that is full the kernel drops the SYN and the
    // client retries only after a second. The PING after each batch, on a
    // connection accepted after all of the batch's, empties the queue.
    const BATCH: usize = 100;
    for _ in 0..10_000 / BATCH {
        let mut conns = Vec::with_capacity(BATCH);
        for _ in 0..BATCH {
            conns.push(server.raw());
        }
        // Some connections send a command and leave without reading the
        // reply, some send half a command, most send nothing.
        for (i, s) in conns.iter_mut().enumerate() {
            match i % 10 {
                0 => s.write_all(b"PING\r\n").unwrap(),
                1 => s.write_all(b"*2\r\n$3\r\nGET\r\n").unwrap(),
                _ => {}
            }
        }
        drop(conns);
        server.assert_serving();
    }
    let mut c = server.connect();
    poll_until(
        Duration::from_secs(10),
        "connected_clients back to 1",
        || {
            let n = info_field(&mut c, "clients", "connected_clients");
            if n == "1" { Ok(()) } else { Err(n) }
        },
    );
    server.assert_serving();
}

/// Redis listens with `tcp-backlog` (511, capped by the kernel's somaxconn),
/// so a burst of connections while the server is busy waits in the kernel
/// instead of stalling on SYN retransmits.
#[test]
fn listen_backlog_is_tcp_backlog_511() {
    let mut server = TestServer::start();
    let mut c = server.connect();
    assert_eq!(
        escape(&c.cmd(&["CONFIG", "GET", "tcp-backlog"])),
        "*2\\r\\n$11\\r\\ntcp-backlog\\r\\n$3\\r\\n511\\r\\n"
    );
    drop(c);
    let somaxconn: usize = fs::read_to_string("/proc/sys/net/core/somaxconn")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(4096);
    let want = 500.min(somaxconn);
    // A stopped server accepts nothing, so every connection that completes
    // its handshake is one the accept queue holds.
    // SAFETY: kill(2) has no memory-safety requirements; the pid is our
    // child, not yet reaped.
    assert_eq!(unsafe { libc::kill(server.pid(), libc::SIGSTOP) }, 0);
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], server.port));
    let mut conns = Vec::new();
    while conns.len() < want {
        match TcpStream::connect_timeout(&addr, Duration::from_millis(300)) {
            Ok(s) => conns.push(s),
            Err(_) => break,
        }
    }
    let queued = conns.len();
    // SAFETY: as above.
    assert_eq!(unsafe { libc::kill(server.pid(), libc::SIGCONT) }, 0);
    drop(conns);
    server.assert_serving();
    assert_eq!(
        queued, want,
        "connections the accept queue held while the server was stopped"
    );
}

// ---------------------------------------------------------------------------
// Clients and lifecycle
// ---------------------------------------------------------------------------

#[test]
fn quit_replies_ok_and_closes() {
    let mut server = TestServer::start();
    let mut s = server.raw();
    s.write_all(&encode_command(&["QUIT"])).unwrap();
    assert_eq!(escape(&read_until_closed(&mut s)), "+OK\\r\\n");
    server.assert_serving();
}

#[test]
fn client_kill_id_closes_the_other_connection() {
    let mut server = TestServer::start();
    let mut victim = server.raw();
    victim
        .write_all(&encode_command(&["CLIENT", "ID"]))
        .unwrap();
    let mut id_reply = Vec::new();
    while !id_reply.ends_with(b"\r\n") {
        id_reply.extend(read_exactly(&mut victim, 1));
    }
    let id = std::str::from_utf8(&id_reply)
        .ok()
        .and_then(|s| s.strip_prefix(':'))
        .and_then(|s| s.trim_end().parse::<u64>().ok())
        .unwrap_or_else(|| panic!("CLIENT ID reply \"{}\"", escape(&id_reply)));
    let mut killer = server.connect();
    assert_eq!(
        escape(&killer.cmd(&["CLIENT", "KILL", "ID", &id.to_string()])),
        ":1\\r\\n"
    );
    assert_eq!(escape(&read_until_closed(&mut victim)), "");
    // The id is gone now.
    assert_eq!(
        escape(&killer.cmd(&["CLIENT", "KILL", "ID", &id.to_string()])),
        ":0\\r\\n"
    );
    server.assert_serving();
}

/// Sends `commands` in one write and asserts that exactly `expected` comes
/// back before the `PING` appended after them is answered.
fn assert_replies_then_pong(server: &TestServer, commands: &[&[&str]], expected: &str) {
    let mut s = server.raw();
    let mut request = Vec::new();
    for command in commands {
        request.extend_from_slice(&encode_command(command));
    }
    request.extend_from_slice(&encode_command(&["PING"]));
    s.write_all(&request).unwrap();
    let got = read_until_suffix(&mut s, b"+PONG\r\n");
    let want = format!("{expected}+PONG\r\n");
    assert_eq!(escape(&got), escape(want.as_bytes()));
}

#[test]
fn client_reply_skip_suppresses_only_the_next_reply() {
    let server = TestServer::start();
    // SKIP has no reply of its own, and hides SET's.
    assert_replies_then_pong(
        &server,
        &[
            &["CLIENT", "REPLY", "SKIP"],
            &["SET", "k", "1"],
            &["GET", "k"],
        ],
        "$1\r\n1\r\n",
    );
}

#[test]
fn client_reply_on_after_off_replies_ok() {
    let server = TestServer::start();
    // OFF hides everything, SKIP included, until ON, which replies +OK.
    assert_replies_then_pong(
        &server,
        &[
            &["CLIENT", "REPLY", "OFF"],
            &["SET", "k", "2"],
            &["GET", "k"],
            &["CLIENT", "REPLY", "SKIP"],
            &["PING"],
            &["CLIENT", "REPLY", "ON"],
            &["GET", "k"],
        ],
        "+OK\r\n$1\r\n2\r\n",
    );
}

#[test]
fn client_reply_on_right_after_skip_replies_ok() {
    let server = TestServer::start();
    // ON cancels a pending SKIP, so its own +OK is not the reply skipped.
    assert_replies_then_pong(
        &server,
        &[
            &["CLIENT", "REPLY", "SKIP"],
            &["CLIENT", "REPLY", "ON"],
            &["GET", "k"],
        ],
        "+OK\r\n$-1\r\n",
    );
}

#[test]
fn monitor_shows_commands_of_other_clients() {
    let server = TestServer::start();
    let mut monitor = server.connect();
    assert_eq!(escape(&monitor.cmd(&["MONITOR"])), "+OK\\r\\n");
    let mut writer = server.raw();
    let writer_port = writer.local_addr().unwrap().port();
    writer
        .write_all(&encode_command(&["set", "k", "v"]))
        .unwrap();
    assert_eq!(escape(&read_exactly(&mut writer, 5)), "+OK\\r\\n");
    let line = monitor.read_reply().expect("MONITOR line");
    let text = String::from_utf8(line.clone()).unwrap_or_else(|_| panic!("{}", escape(&line)));
    // +<secs>.<usecs> [<db> <addr>] "arg" "arg" ...
    let body = text
        .strip_prefix('+')
        .and_then(|t| t.strip_suffix("\r\n"))
        .unwrap_or_else(|| panic!("MONITOR line is not a simple string: {}", escape(&line)));
    let (stamp, rest) = body
        .split_once(' ')
        .unwrap_or_else(|| panic!("no space in {body:?}"));
    let (secs, usecs) = stamp
        .split_once('.')
        .unwrap_or_else(|| panic!("no '.' in {stamp:?}"));
    assert!(
        secs.len() >= 10 && secs.bytes().all(|b| b.is_ascii_digit()),
        "seconds part of {body:?}"
    );
    assert!(
        usecs.len() == 6 && usecs.bytes().all(|b| b.is_ascii_digit()),
        "microseconds part of {body:?}"
    );
    assert_eq!(
        rest,
        format!("[0 127.0.0.1:{writer_port}] \"set\" \"k\" \"v\"")
    );
}

#[test]
fn select_isolates_databases_and_swapdb_swaps_them() {
    let server = TestServer::start();
    let mut a = server.connect();
    let mut b = server.connect();
    assert_eq!(escape(&a.cmd(&["SET", "k", "in0"])), "+OK\\r\\n");
    assert_eq!(escape(&a.cmd(&["SELECT", "1"])), "+OK\\r\\n");
    assert_eq!(escape(&a.cmd(&["GET", "k"])), "$-1\\r\\n");
    assert_eq!(escape(&a.cmd(&["SET", "k", "in1"])), "+OK\\r\\n");
    assert_eq!(escape(&a.cmd(&["DBSIZE"])), ":1\\r\\n");
    assert_eq!(escape(&b.cmd(&["GET", "k"])), "$3\\r\\nin0\\r\\n");
    assert_eq!(escape(&b.cmd(&["SWAPDB", "0", "1"])), "+OK\\r\\n");
    // Both connections see the swap: b is on db 0, a on db 1.
    assert_eq!(escape(&b.cmd(&["GET", "k"])), "$3\\r\\nin1\\r\\n");
    assert_eq!(escape(&a.cmd(&["GET", "k"])), "$3\\r\\nin0\\r\\n");
    assert_eq!(
        escape(&a.cmd(&["SELECT", "16"])),
        "-ERR DB index is out of range\\r\\n"
    );
}

#[test]
fn hello_3_switches_replies_to_resp3() {
    let server = TestServer::start();
    let mut c = server.connect();
    let hello = c.cmd(&["HELLO", "3"]);
    assert!(
        hello.starts_with(b"%7\r\n$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n"),
        "HELLO 3 reply: {}",
        escape(&hello)
    );
    assert!(
        contains(&hello, b"$5\r\nproto\r\n:3\r\n"),
        "HELLO 3 reply lacks proto 3: {}",
        escape(&hello)
    );
    assert_eq!(escape(&c.cmd(&["GET", "missing"])), "_\\r\\n");
    let hello = c.cmd(&["HELLO", "2"]);
    assert!(
        hello.starts_with(b"*14\r\n"),
        "HELLO 2 reply: {}",
        escape(&hello)
    );
    assert_eq!(escape(&c.cmd(&["GET", "missing"])), "$-1\\r\\n");
}

#[test]
fn hello_4_is_an_unsupported_protocol() {
    let server = TestServer::start();
    let mut c = server.connect();
    assert_eq!(
        escape(&c.cmd(&["HELLO", "4"])),
        "-NOPROTO unsupported protocol version\\r\\n"
    );
    assert_eq!(escape(&c.cmd(&["PING"])), "+PONG\\r\\n");
}

#[test]
fn sigterm_exits_with_status_0() {
    let mut server = TestServer::start();
    let mut c = server.connect();
    assert_eq!(escape(&c.cmd(&["SET", "k", "v"])), "+OK\\r\\n");
    // SAFETY: kill(2) with a valid signal has no memory-safety requirements;
    // the pid is our own child, which the guard has not reaped yet.
    let rc = unsafe { libc::kill(server.pid(), libc::SIGTERM) };
    assert_eq!(rc, 0, "kill(SIGTERM): {}", io::Error::last_os_error());
    let status = server
        .wait_exit(Duration::from_secs(5))
        .unwrap_or_else(|| panic!("still running 5 s after SIGTERM; log:\n{}", server.log()));
    assert_eq!(
        status.code(),
        Some(0),
        "exit status after SIGTERM; log:\n{}",
        server.log()
    );
}

#[test]
fn unknown_command_line_option_exits_with_status_1_and_names_it() {
    let port = free_port();
    let mut args = test_options(port);
    args.push(OsString::from("--no-such-option"));
    let mut server = TestServer::spawn(port, &args, &[]);
    let status = server.wait_exit(Duration::from_secs(5)).unwrap_or_else(|| {
        panic!(
            "still running 5 s after an unknown option; log:\n{}",
            server.log()
        )
    });
    let log = server.log();
    assert!(
        log.contains("no-such-option"),
        "the message does not name the option:\n{log}"
    );
    assert_eq!(status.code(), Some(1), "exit status; log:\n{log}");
}

#[test]
fn config_file_as_first_argument_is_applied() {
    let mut last_error = String::new();
    for _ in 0..SPAWN_ATTEMPTS {
        let port = free_port();
        let conf = format!(
            "# a test config\nport {port}\nbind 127.0.0.1\ndatabases 4\nsave \"\"\nappendonly no\n"
        );
        let mut server = TestServer::spawn(
            port,
            &[OsString::from("redis.conf")],
            &[("redis.conf", &conf)],
        );
        if let Err(message) = server.wait_ready() {
            last_error = message;
            continue;
        }
        let mut c = server.connect();
        assert_eq!(
            escape(&c.cmd(&["CONFIG", "GET", "databases"])),
            "*2\\r\\n$9\\r\\ndatabases\\r\\n$1\\r\\n4\\r\\n"
        );
        assert_eq!(escape(&c.cmd(&["SELECT", "3"])), "+OK\\r\\n");
        assert_eq!(
            escape(&c.cmd(&["SELECT", "4"])),
            "-ERR DB index is out of range\\r\\n"
        );
        return;
    }
    panic!("{last_error}");
}

// ---------------------------------------------------------------------------
// Expiry
// ---------------------------------------------------------------------------

#[test]
fn key_with_px_50_is_gone_once_due() {
    let server = TestServer::start();
    let mut c = server.connect();
    // Taken before the SET is sent, so the server's deadline is at least
    // 50 ms after it (less a millisecond of clock rounding).
    let sent_at = Instant::now();
    assert_eq!(escape(&c.cmd(&["SET", "k", "v", "PX", "50"])), "+OK\\r\\n");
    poll_until(
        Duration::from_secs(2),
        "GET of an expired key is null",
        || {
            let reply = c.cmd(&["GET", "k"]);
            if reply == b"$-1\r\n" {
                Ok(())
            } else {
                Err(escape(&reply))
            }
        },
    );
    assert!(
        sent_at.elapsed() >= Duration::from_millis(48),
        "key vanished before it was due"
    );
    assert_eq!(escape(&c.cmd(&["EXISTS", "k"])), ":0\\r\\n");
    assert_eq!(escape(&c.cmd(&["TTL", "k"])), ":-2\\r\\n");
}

#[test]
fn active_expiry_reclaims_keys_nobody_reads() {
    let server = TestServer::start();
    let mut c = server.connect();
    let commands: Vec<_> = (0..10_000)
        .map(|i| {
            args(&[
                "SET",
                &format!("short:{i}"),
                "v",
                "PX",
                &(100 + i % 100).to_string(),
            ])
        })
        .collect();
    let replies = pipeline(&mut c, &commands);
    assert_eq!(replies, b"+OK\r\n".repeat(10_000));
    assert_eq!(escape(&c.cmd(&["SET", "keeper", "v"])), "+OK\\r\\n");
    poll_until(
        Duration::from_secs(5),
        "DBSIZE falls to 1 by active expiry",
        || {
            let reply = c.cmd(&["DBSIZE"]);
            if reply == b":1\r\n" {
                Ok(())
            } else {
                Err(escape(&reply))
            }
        },
    );
    assert_eq!(escape(&c.cmd(&["GET", "keeper"])), "$1\\r\\nv\\r\\n");
}

#[test]
fn ttl_and_pttl_report_remaining_time() {
    let server = TestServer::start();
    let mut c = server.connect();
    assert_eq!(escape(&c.cmd(&["TTL", "missing"])), ":-2\\r\\n");
    assert_eq!(escape(&c.cmd(&["PTTL", "missing"])), ":-2\\r\\n");
    assert_eq!(escape(&c.cmd(&["SET", "plain", "v"])), "+OK\\r\\n");
    assert_eq!(escape(&c.cmd(&["TTL", "plain"])), ":-1\\r\\n");
    assert_eq!(escape(&c.cmd(&["PTTL", "plain"])), ":-1\\r\\n");
    assert_eq!(escape(&c.cmd(&["SET", "t", "v", "EX", "100"])), "+OK\\r\\n");
    let ttl = c.cmd(&["TTL", "t"]);
    assert!(
        ttl == b":100\r\n" || ttl == b":99\r\n",
        "TTL {}",
        escape(&ttl)
    );
    let pttl = c.cmd(&["PTTL", "t"]);
    let ms: i64 = std::str::from_utf8(&pttl[1..pttl.len() - 2])
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("PTTL reply {}", escape(&pttl)));
    assert!((90_000..=100_000).contains(&ms), "PTTL {ms}");
    assert_eq!(escape(&c.cmd(&["PEXPIRE", "plain", "5000"])), ":1\\r\\n");
    let ttl = c.cmd(&["TTL", "plain"]);
    assert!(ttl == b":5\r\n" || ttl == b":4\r\n", "TTL {}", escape(&ttl));
    assert_eq!(escape(&c.cmd(&["PERSIST", "plain"])), ":1\\r\\n");
    assert_eq!(escape(&c.cmd(&["TTL", "plain"])), ":-1\\r\\n");
    // SET without KEEPTTL drops the TTL.
    assert_eq!(escape(&c.cmd(&["SET", "t", "w"])), "+OK\\r\\n");
    assert_eq!(escape(&c.cmd(&["TTL", "t"])), ":-1\\r\\n");
}

// ---------------------------------------------------------------------------
// SCAN
// ---------------------------------------------------------------------------

/// Decodes a SCAN reply into (next cursor, keys).
fn parse_scan_reply(reply: &[u8]) -> (String, Vec<Vec<u8>>) {
    use common::Frame;
    let frame = match common::parse_frame(reply) {
        Ok(Some((frame, _))) => frame,
        other => panic!("SCAN reply {} did not parse: {other:?}", escape(reply)),
    };
    let Frame::Array(parts) = frame else {
        panic!("SCAN reply is not an array: {}", escape(reply));
    };
    match &parts[..] {
        [Frame::Bulk(cursor), Frame::Array(keys)] => {
            let keys = keys
                .iter()
                .map(|k| match k {
                    Frame::Bulk(k) => k.clone(),
                    other => panic!("SCAN key is not a bulk string: {other:?}"),
                })
                .collect();
            (String::from_utf8_lossy(cursor).into_owned(), keys)
        }
        _ => panic!("SCAN reply has the wrong shape: {}", escape(reply)),
    }
}

#[test]
fn scan_returns_every_original_key_while_the_table_grows() {
    const ORIGINAL: usize = 20_000;
    const ADDED: usize = 50_000;
    const ADD_BATCH: usize = 1_000;
    let server = TestServer::start();
    let mut loader = server.connect();
    let mset = |prefix: &str, range: std::ops::Range<usize>| {
        let mut command = vec![b"MSET".to_vec()];
        for i in range {
            command.push(format!("{prefix}:{i}").into_bytes());
            command.push(b"v".to_vec());
        }
        command
    };
    let loads: Vec<_> = (0..ORIGINAL / ADD_BATCH)
        .map(|b| mset("orig", b * ADD_BATCH..(b + 1) * ADD_BATCH))
        .collect();
    assert_eq!(
        pipeline(&mut loader, &loads),
        b"+OK\r\n".repeat(loads.len())
    );
    assert_eq!(escape(&loader.cmd(&["DBSIZE"])), ":20000\\r\\n");

    let mut scanner = server.connect();
    let mut seen = HashSet::new();
    let mut cursor = "0".to_string();
    let mut added = 0;
    let mut calls = 0;
    loop {
        let reply = scanner.cmd(&["SCAN", &cursor, "COUNT", "100"]);
        let (next, keys) = parse_scan_reply(&reply);
        seen.extend(keys);
        calls += 1;
        assert!(calls < 100_000, "SCAN did not finish after {calls} calls");
        if next == "0" {
            break;
        }
        cursor = next;
        if added < ADDED {
            let batch = mset("new", added..added + ADD_BATCH);
            assert_eq!(escape(&loader.cmd(&batch)), "+OK\\r\\n");
            added += ADD_BATCH;
        }
    }
    assert_eq!(
        added, ADDED,
        "the scan finished before all keys were added ({calls} calls)"
    );
    let missing: Vec<usize> = (0..ORIGINAL)
        .filter(|i| !seen.contains(format!("orig:{i}").as_bytes()))
        .collect();
    assert!(
        missing.is_empty(),
        "{} original keys never returned by SCAN ({calls} calls), e.g. {:?}",
        missing.len(),
        &missing[..missing.len().min(10)]
    );
}

// ---------------------------------------------------------------------------
// Real clients
// ---------------------------------------------------------------------------

#[test]
fn redis_crate_client_works() {
    use redis::Commands;
    let server = TestServer::start();
    let client = redis::Client::open(format!("redis://127.0.0.1:{}/", server.port))
        .expect("redis::Client::open");
    let mut con = client
        .get_connection_with_timeout(READ_TIMEOUT)
        .expect("redis crate connects");
    con.set_read_timeout(Some(READ_TIMEOUT)).unwrap();
    con.set_write_timeout(Some(READ_TIMEOUT)).unwrap();

    let () = con.set("greeting", "hello").unwrap();
    let got: String = con.get("greeting").unwrap();
    assert_eq!(got, "hello");
    let binary = b"a\0b\r\nc".to_vec();
    let () = con.set("binary", &binary).unwrap();
    let got: Vec<u8> = con.get("binary").unwrap();
    assert_eq!(got, binary);
    let n: i64 = con.incr("counter", 1).unwrap();
    assert_eq!(n, 1);
    let n: i64 = con.incr("counter", 41).unwrap();
    assert_eq!(n, 42);
    let missing: Option<String> = con.get("missing").unwrap();
    assert_eq!(missing, None);
    let values: Vec<Option<String>> = con.mget(&["greeting", "missing", "counter"]).unwrap();
    assert_eq!(values, vec![Some("hello".into()), None, Some("42".into())]);

    let (value, counter, gone): (String, i64, Option<String>) = redis::pipe()
        .set("p", "1")
        .ignore()
        .get("p")
        .incr("p", 9)
        .get("missing")
        .query(&mut con)
        .expect("pipeline");
    assert_eq!((value.as_str(), counter, gone), ("1", 10, None));

    let err = redis::cmd("INCR")
        .arg("greeting")
        .query::<i64>(&mut con)
        .expect_err("INCR of a non-integer");
    assert!(err.to_string().contains("not an integer"), "{err}");
    let pong: String = redis::cmd("PING").query(&mut con).unwrap();
    assert_eq!(pong, "PONG");
}

/// Runs `program` with `args`, bounded by `timeout`, and returns its exit
/// status and combined output.
fn run_tool(program: &Path, args: &[&str], timeout: Duration) -> (ExitStatus, String) {
    let dir = scratch_dir();
    fs::create_dir_all(&dir).unwrap();
    let out_path = dir.join("output");
    let out = File::create(&out_path).unwrap();
    let mut child = Command::new(program)
        .args(args)
        .current_dir(&dir)
        .stdin(Stdio::null())
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {}: {e}", program.display()));
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            let output = fs::read_to_string(&out_path).unwrap_or_default();
            let _ = fs::remove_dir_all(&dir);
            panic!(
                "{} {args:?} did not finish within {timeout:?}; output:\n{output}",
                program.display()
            );
        }
        thread::sleep(POLL_INTERVAL);
    };
    let output = String::from_utf8_lossy(&fs::read(&out_path).unwrap()).into_owned();
    let _ = fs::remove_dir_all(&dir);
    (status, output)
}

#[test]
fn redis_cli_and_redis_benchmark_work() {
    let Some(cli) = find_on_path("redis-cli") else {
        println!("SKIPPED: redis-cli not found");
        return;
    };
    let server = TestServer::start();
    let port = server.port.to_string();
    let base = ["-h", "127.0.0.1", "-p", port.as_str()];
    let timeout = Duration::from_secs(30);
    let with = |extra: &[&'static str]| -> Vec<&str> {
        base.iter().copied().chain(extra.iter().copied()).collect()
    };

    let (status, output) = run_tool(&cli, &with(&["ping"]), timeout);
    assert!(status.success(), "redis-cli ping: {status}\n{output}");
    assert_eq!(output, "PONG\n");

    let mut c = server.connect();
    for key in ["scan:a", "scan:b", "scan:c"] {
        assert_eq!(escape(&c.cmd(&["SET", key, "v"])), "+OK\\r\\n");
    }
    let (status, output) = run_tool(&cli, &with(&["--scan"]), timeout);
    assert!(status.success(), "redis-cli --scan: {status}\n{output}");
    let mut keys: Vec<&str> = output.lines().collect();
    keys.sort_unstable();
    assert_eq!(keys, ["scan:a", "scan:b", "scan:c"]);

    let (status, output) = run_tool(&cli, &with(&["info"]), timeout);
    assert!(status.success(), "redis-cli info: {status}\n{output}");
    assert!(
        output.lines().any(|l| l.trim_end() == "loading:0"),
        "redis-cli info:\n{output}"
    );

    let Some(bench) = find_on_path("redis-benchmark") else {
        println!("SKIPPED: redis-benchmark not found");
        return;
    };
    for pipelining in ["1", "16"] {
        // The whole default suite: every test it runs must work.
        let mut bench_args = with(&["-q", "-n", "1000", "-P"]);
        bench_args.push(pipelining);
        let (status, output) = run_tool(&bench, &bench_args, timeout);
        assert!(
            status.success(),
            "redis-benchmark -P {pipelining}: {status}\n{output}"
        );
        assert!(
            !output.contains("ERR"),
            "redis-benchmark -P {pipelining}:\n{output}"
        );
        // Progress lines end in '\r', results in '\n'; a result reads
        // "SET: 41666.67 requests per second" or "MSET (10 keys): ...".
        let results: Vec<&str> = output
            .split(['\r', '\n'])
            .map(str::trim)
            .filter(|line| line.contains("requests per second"))
            .collect();
        for test in [
            "PING_INLINE",
            "PING_MBULK",
            "SET",
            "GET",
            "INCR",
            "LPUSH",
            "RPUSH",
            "LPOP",
            "RPOP",
            "SADD",
            "HSET",
            "SPOP",
            "ZADD",
            "ZPOPMIN",
            "LRANGE_100",
            "LRANGE_300",
            "LRANGE_500",
            "LRANGE_600",
            "MSET",
        ] {
            assert!(
                results
                    .iter()
                    .any(|r| r.starts_with(&format!("{test}: "))
                        || r.starts_with(&format!("{test} ("))),
                "redis-benchmark -P {pipelining} has no {test} result:\n{output}"
            );
        }
    }
    let mut c = server.connect();
    assert_eq!(escape(&c.cmd(&["PING"])), "+PONG\\r\\n");
}

/// Regression: a client that sends its commands and then half-closes the
/// connection (`nc -q1`, `shutdown(SHUT_WR)`) still gets every reply. The
/// FIN arrives with the data, in one readiness event; the replies must be
/// written before the FIN is acted on.
#[test]
fn half_closed_client_gets_its_replies() {
    let server = TestServer::start();
    let mut s = server.raw();
    s.write_all(b"PING\r\nSET k v\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n")
        .unwrap();
    s.shutdown(std::net::Shutdown::Write).unwrap();
    assert_eq!(
        read_until_closed(&mut s),
        b"+PONG\r\n+OK\r\n$1\r\nv\r\n".to_vec()
    );
}

/// Regression for batched execution: commands parsed in the same read as a
/// QUIT do not run after it, and a protocol error is answered after the
/// replies of the commands before it.
#[test]
fn pipelined_quit_and_protocol_error_keep_their_place() {
    let server = TestServer::start();
    let mut s = server.raw();
    s.write_all(b"SET a 1\r\nQUIT\r\nSET b 2\r\n").unwrap();
    assert_eq!(read_until_closed(&mut s), b"+OK\r\n+OK\r\n".to_vec());
    let mut c = server.connect();
    assert_eq!(escape(&c.cmd(&["EXISTS", "a", "b"])), ":1\\r\\n");

    let mut s = server.raw();
    s.write_all(b"PING\r\nECHO hi\r\n*1\r\nfoo\r\nPING\r\n")
        .unwrap();
    assert_eq!(
        read_until_closed(&mut s),
        b"+PONG\r\n$2\r\nhi\r\n-ERR Protocol error: expected '$', got 'f'\r\n".to_vec()
    );
}
