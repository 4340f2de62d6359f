//! Helpers shared by the integration test crates.
//!
//! # Layout
//!
//! - [`Server`] is a guard around a server process (ferrokv or a real
//!   `redis-server`) listening on a free loopback port. The process is killed
//!   when the guard drops, including while a failing test unwinds. Files
//!   can be placed in its working directory before it starts (a `dump.rdb`
//!   to load), and [`Server::start_refused`] runs one that is expected to
//!   exit instead of starting.
//! - [`Client`] is a minimal RESP client that sends commands as multibulk
//!   arrays and returns each reply as the exact bytes the server sent. Tests
//!   assert on those bytes because the wire format is what Redis clients
//!   depend on: a decoded value would hide the difference between `+OK` and
//!   `$2\r\nOK`.
//! - [`Frame`] and [`parse_frame`] decode one RESP2 or RESP3 reply, for the
//!   few tests that must look inside a reply (for example to compare it
//!   ignoring element order).
//!
//! - [`replies`] decodes replies for tests that send many commands (`ok`,
//!   `int`, `bulk`, pipelined batches, `INFO` fields), and [`dataset`]
//!   reads every key of a server back and compares two servers' data.
//!
//! Each test crate uses a different subset of these helpers, hence the
//! `dead_code` allowance below (which covers the submodules too).
#![allow(dead_code)]

pub mod dataset;
pub mod replies;

use std::ffi::OsString;
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

/// How long a freshly spawned server gets to start answering `PING`.
pub const STARTUP_TIMEOUT: Duration = Duration::from_secs(10);

/// How long [`Client`] waits for a reply before giving up. A reply that
/// never comes is a bug in the server (or a test that expects no reply), and
/// a bounded wait turns it into a readable failure instead of a hung test.
pub const REPLY_TIMEOUT: Duration = Duration::from_secs(10);

/// Pause between two readiness probes of a starting server.
const STARTUP_POLL_INTERVAL: Duration = Duration::from_millis(5);

/// A free port can be taken by someone else between the moment we find it
/// and the moment the server binds it; when the server exits early, we retry
/// on another port this many times.
const SPAWN_ATTEMPTS: usize = 3;

/// Pause between two checks of a condition [`wait_until_within`] polls.
pub const CONDITION_POLL: Duration = Duration::from_millis(5);

/// Polls `condition` until it holds; panics naming `what` after `timeout`.
pub fn wait_until_within(timeout: Duration, what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !condition() {
        assert!(Instant::now() < deadline, "{what}: not within {timeout:?}");
        thread::sleep(CONDITION_POLL);
    }
}

/// Milliseconds since the Unix epoch, the clock servers use for deadlines.
pub fn unix_ms() -> i64 {
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("the clock is after 1970");
    since.as_millis() as i64
}

/// `len` bytes from `rng`: incompressible, so LZF leaves them as they are.
pub fn random_bytes(rng: &mut ferrokv::util::Rng, len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        out.extend_from_slice(&rng.next_u64().to_le_bytes());
    }
    out.truncate(len);
    out
}

/// Where `needle` first occurs in `haystack`.
pub fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// A process's resident set size in KiB, from `/proc/<pid>/status`.
pub fn rss_kib(pid: u32) -> u64 {
    let path = format!("/proc/{pid}/status");
    let status = fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {path}: {e}"));
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no VmRSS line in {path}:\n{status}"))
}

/// Returns a loopback port that was free a moment ago.
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0 to find a free port");
    listener
        .local_addr()
        .expect("local_addr of a bound listener")
        .port()
}

/// Looks `program` up on `PATH`, as a shell would.
pub fn find_on_path(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
}

/// Starts the ferrokv binary built by Cargo for this test run, with the
/// same test arguments as the reference redis-server.
pub fn start_ferrokv() -> Server {
    start_ferrokv_with(&[], &[])
}

/// The ferrokv binary built by Cargo for this test run.
pub fn ferrokv_program() -> &'static std::ffi::OsStr {
    Path::new(env!("CARGO_BIN_EXE_ferrokv")).as_os_str()
}

/// Starts ferrokv as [`start_ferrokv`] does, with `extra_args` after the
/// test arguments and `files` placed in its working directory first (see
/// [`Server::start_with_files`]).
pub fn start_ferrokv_with(extra_args: &[&str], files: &[(&str, &[u8])]) -> Server {
    let args = [REDIS_TEST_ARGS, extra_args].concat();
    Server::start_with_files("ferrokv", ferrokv_program(), &[], &args, files)
        .unwrap_or_else(|e| panic!("{e}"))
}

/// Arguments that make a `redis-server` behave like a throwaway test
/// instance: no RDB snapshots, no AOF, and `DEBUG` allowed (Redis 7 refuses
/// it by default, and tests use `DEBUG SLEEP`).
pub const REDIS_TEST_ARGS: &[&str] = &[
    "--save",
    "",
    "--appendonly",
    "no",
    "--enable-debug-command",
    "yes",
];

/// Starts a real `redis-server` from `PATH`, or returns `None` when there is
/// none. Callers decide whether that means "skip" or "fail".
pub fn start_redis() -> Option<Server> {
    start_redis_with(&[], &[])
}

/// Starts the server a test crate runs against: ferrokv, or redis-server
/// when the environment variable `env` says `redis` (how the crate's
/// expectations are checked against the reference), with `extra_args`
/// and `files` as [`start_ferrokv_with`] takes them. `None`, after a skip
/// line naming `what`, when that is redis-server and it is not on PATH.
pub fn start_under_test_with(
    env: &str,
    what: &str,
    extra_args: &[&str],
    files: &[(&str, &[u8])],
) -> Option<Server> {
    match std::env::var(env).as_deref() {
        Err(_) | Ok("") | Ok("ferrokv") => Some(start_ferrokv_with(extra_args, files)),
        Ok("redis") | Ok("redis-server") => {
            let server = start_redis_with(extra_args, files);
            if server.is_none() {
                println!("SKIPPED: {env}=redis but redis-server is not on PATH; {what} not run");
            }
            server
        }
        Ok(other) => panic!("{env}={other}: expected ferrokv or redis"),
    }
}

/// Starts a real `redis-server` as [`start_redis`] does, with `extra_args`
/// after the test arguments and `files` placed in its working directory
/// first (see [`Server::start_with_files`]); `None` when there is none.
pub fn start_redis_with(extra_args: &[&str], files: &[(&str, &[u8])]) -> Option<Server> {
    let program = find_on_path("redis-server")?;
    let args = [REDIS_TEST_ARGS, extra_args].concat();
    let server = Server::start_with_files("redis-server", program.as_os_str(), &[], &args, files)
        .unwrap_or_else(|e| panic!("{e}"));
    Some(server)
}

/// A server process on a loopback port, killed when dropped.
///
/// The process runs in a private scratch directory (so a stray `dump.rdb`
/// from an earlier run is never loaded, and nothing the server writes leaks
/// into the repository), with its stdout and stderr going to a log file in
/// that directory. The log is included in the error when startup fails.
pub struct Server {
    /// The port the server listens on, on 127.0.0.1.
    pub port: u16,
    /// A human-readable name for messages ("ferrokv", "redis-server").
    pub name: String,
    /// Behind a mutex so that a shared guard can still ask whether the
    /// process is alive (which needs `Child::try_wait`).
    child: Mutex<Child>,
    dir: PathBuf,
}

impl Server {
    /// Spawns `program` with `--port P --bind 127.0.0.1`, then `extra_args`
    /// (placed after `leading_args`, which go first, for wrappers), and
    /// waits until it answers `PING`.
    pub fn start(
        name: &str,
        program: &std::ffi::OsStr,
        leading_args: &[OsString],
        extra_args: &[&str],
    ) -> Result<Server, String> {
        Server::start_with_files(name, program, leading_args, extra_args, &[])
    }

    /// Like [`Server::start`], with `files`, as (file name, contents), written
    /// into the server's working directory before the process is spawned.
    /// A `dump.rdb` placed there is what the server loads at start-up
    /// (neither server is given `--dir`, so its directory is the working
    /// directory); [`Server::dir`] names that directory afterwards.
    pub fn start_with_files(
        name: &str,
        program: &std::ffi::OsStr,
        leading_args: &[OsString],
        extra_args: &[&str],
        files: &[(&str, &[u8])],
    ) -> Result<Server, String> {
        let mut last_error = String::new();
        for _ in 0..SPAWN_ATTEMPTS {
            match Server::try_start(name, program, leading_args, extra_args, files) {
                Ok(server) => return Ok(server),
                Err(StartError::ExitedEarly(message)) => last_error = message,
                Err(StartError::Fatal(message)) => return Err(message),
            }
        }
        Err(last_error)
    }

    /// Spawns a server that is expected to refuse to start (a corrupt
    /// `dump.rdb` among `files`, say), and waits up to `timeout` for its
    /// process to exit. Returns how it exited and what it logged; an error
    /// when it answered `PING` instead (it started, whatever it loaded) or
    /// did neither in time.
    ///
    /// A server that exits because its port was taken meanwhile (its log
    /// says "Address already in use") is retried on another port, as
    /// [`Server::start`] does, so that a lost race is not mistaken for a
    /// refusal.
    pub fn start_refused(
        name: &str,
        program: &std::ffi::OsStr,
        extra_args: &[&str],
        files: &[(&str, &[u8])],
        timeout: Duration,
    ) -> Result<Refusal, String> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let server =
                Server::spawn(name, program, &[], extra_args, files).map_err(|e| match e {
                    StartError::ExitedEarly(message) | StartError::Fatal(message) => message,
                })?;
            match server.wait_startup(timeout) {
                Startup::Exited(status) => {
                    let log = server.log();
                    if log.contains("Address already in use") && attempt < SPAWN_ATTEMPTS {
                        continue;
                    }
                    return Ok(Refusal { status, log });
                }
                Startup::Ready => {
                    return Err(format!(
                        "{name} started (answered PING on port {}) although it was expected to refuse; log:\n{}",
                        server.port,
                        server.log()
                    ));
                }
                Startup::TimedOut => {
                    return Err(format!(
                        "{name} neither exited nor answered PING on port {} within {timeout:?}; log:\n{}",
                        server.port,
                        server.log()
                    ));
                }
            }
        }
    }

    /// The server's working directory, where it writes its `dump.rdb`. It
    /// is removed when the guard drops.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn try_start(
        name: &str,
        program: &std::ffi::OsStr,
        leading_args: &[OsString],
        extra_args: &[&str],
        files: &[(&str, &[u8])],
    ) -> Result<Server, StartError> {
        let mut server = Server::spawn(name, program, leading_args, extra_args, files)?;
        server.wait_ready()?;
        Ok(server)
    }

    /// Creates a scratch directory holding `files` and spawns the process
    /// there, without waiting for it to answer.
    fn spawn(
        name: &str,
        program: &std::ffi::OsStr,
        leading_args: &[OsString],
        extra_args: &[&str],
        files: &[(&str, &[u8])],
    ) -> Result<Server, StartError> {
        let dir = scratch_dir();
        fs::create_dir_all(&dir)
            .map_err(|e| StartError::Fatal(format!("create scratch dir {}: {e}", dir.display())))?;
        for (file_name, contents) in files {
            let path = dir.join(file_name);
            // A name may hold a directory (`appendonlydir/appendonly.aof.1.incr.aof`).
            if let Some(parent) = path.parent() {
                let _ = fs::create_dir_all(parent);
            }
            fs::write(&path, contents).map_err(|e| {
                let _ = fs::remove_dir_all(&dir);
                StartError::Fatal(format!("write {}: {e}", path.display()))
            })?;
        }
        let log_path = dir.join("server.log");
        let log = File::create(&log_path)
            .map_err(|e| StartError::Fatal(format!("create {}: {e}", log_path.display())))?;
        let log_err = log
            .try_clone()
            .map_err(|e| StartError::Fatal(format!("clone log file handle: {e}")))?;

        let port = free_port();
        let child = Command::new(program)
            .args(leading_args)
            .arg("--port")
            .arg(port.to_string())
            .arg("--bind")
            .arg("127.0.0.1")
            .args(extra_args)
            .current_dir(&dir)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err)
            .spawn()
            .map_err(|e| {
                let _ = fs::remove_dir_all(&dir);
                StartError::Fatal(format!(
                    "spawn {name} ({}): {e}",
                    Path::new(program).display()
                ))
            })?;
        // From here on the guard owns the process and the directory.
        Ok(Server {
            port,
            name: name.to_string(),
            child: Mutex::new(child),
            dir,
        })
    }

    /// Waits until the server answers `PING`, the process exits, or
    /// [`STARTUP_TIMEOUT`] passes.
    fn wait_ready(&mut self) -> Result<(), StartError> {
        match self.wait_startup(STARTUP_TIMEOUT) {
            Startup::Ready => Ok(()),
            Startup::Exited(status) => Err(StartError::ExitedEarly(format!(
                "{} exited during startup on port {} ({status}); log:\n{}",
                self.name,
                self.port,
                self.log()
            ))),
            Startup::TimedOut => Err(StartError::Fatal(format!(
                "{} did not answer PING on port {} within {STARTUP_TIMEOUT:?}; log:\n{}",
                self.name,
                self.port,
                self.log()
            ))),
        }
    }

    /// Polls with `PING` until the server answers, the process exits, or
    /// `timeout` passes. An exit is checked first, so a process that has
    /// ended is never reported ready.
    fn wait_startup(&self, timeout: Duration) -> Startup {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.exit_status() {
                return Startup::Exited(status);
            }
            if let Ok(mut client) = Client::connect(self.port)
                && let Ok(reply) = client.cmd_result(&["PING"])
                && reply == b"+PONG\r\n"
            {
                return Startup::Ready;
            }
            if Instant::now() >= deadline {
                return Startup::TimedOut;
            }
            thread::sleep(STARTUP_POLL_INTERVAL);
        }
    }

    /// Opens a new connection to this server.
    pub fn connect(&self) -> Client {
        Client::connect(self.port)
            .unwrap_or_else(|e| panic!("connect to {} on port {}: {e}", self.name, self.port))
    }

    /// What the server has written to stdout and stderr so far.
    pub fn log(&self) -> String {
        fs::read(self.dir.join("server.log"))
            .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
            .unwrap_or_else(|e| format!("(log unreadable: {e})"))
    }

    /// The process's resident set size in KiB.
    pub fn rss_kib(&self) -> u64 {
        rss_kib(self.pid())
    }

    /// The process's id, for tests that send it a signal.
    pub fn pid(&self) -> u32 {
        self.child.lock().unwrap_or_else(|e| e.into_inner()).id()
    }

    /// How the process ended, or `None` while it is still running.
    pub fn exit_status(&self) -> Option<std::process::ExitStatus> {
        let mut child = self.child.lock().unwrap_or_else(|e| e.into_inner());
        child.try_wait().ok().flatten()
    }

    /// Whether the process exits within `timeout`. A server that panics
    /// closes its sockets while unwinding, a moment before the process is
    /// gone, so a test that saw a connection drop asks with a short timeout.
    pub fn exits_within(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if self.exit_status().is_some() {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            thread::sleep(STARTUP_POLL_INTERVAL);
        }
    }
}

/// A server process started by hand rather than through [`Server`] (a
/// test that talks to it while it loads, before it answers `PING`, or one
/// whose directory needs what [`Server::start_with_files`] cannot place):
/// killed, and its directory removed, when dropped.
pub struct Spawned {
    pub child: Child,
    pub dir: PathBuf,
    pub port: u16,
}

impl Drop for Spawned {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = fs::remove_dir_all(&self.dir);
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let child = self.child.get_mut().unwrap_or_else(|e| e.into_inner());
        let _ = child.kill();
        let _ = child.wait();
        let _ = fs::remove_dir_all(&self.dir);
    }
}

enum StartError {
    /// The process died, most likely because the port was taken; retry.
    ExitedEarly(String),
    Fatal(String),
}

/// How a spawned server's startup ended.
enum Startup {
    /// It answered `PING`.
    Ready,
    /// The process exited first.
    Exited(std::process::ExitStatus),
    /// Neither happened in time.
    TimedOut,
}

/// How a server that refused to start ended: see [`Server::start_refused`].
#[derive(Debug)]
pub struct Refusal {
    pub status: std::process::ExitStatus,
    /// What it wrote to stdout and stderr.
    pub log: String,
}

fn scratch_dir() -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    std::env::temp_dir().join(format!("ferrokv-test-{}-{n}", std::process::id()))
}

/// Encodes a command as a RESP multibulk array, the way clients send it.
pub fn encode_command<A: AsRef<[u8]>>(args: &[A]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for arg in args {
        let arg = arg.as_ref();
        out.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
        out.extend_from_slice(arg);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// A raw RESP connection. Replies come back as the bytes of exactly one
/// complete reply (RESP2 or RESP3, nested aggregates included); bytes of any
/// following reply stay buffered for the next read.
pub struct Client {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Client {
    pub fn connect(port: u16) -> io::Result<Client> {
        let stream = TcpStream::connect(("127.0.0.1", port))?;
        stream.set_read_timeout(Some(REPLY_TIMEOUT))?;
        stream.set_nodelay(true)?;
        Ok(Client {
            stream,
            buf: Vec::new(),
        })
    }

    /// Sends a command and returns its raw reply. Panics, naming the
    /// command, if the connection fails; use [`Client::cmd_result`] where a
    /// closed connection is an expected outcome.
    pub fn cmd<A: AsRef<[u8]>>(&mut self, args: &[A]) -> Vec<u8> {
        self.cmd_result(args).unwrap_or_else(|e| {
            let shown: Vec<String> = args.iter().map(|a| escape(a.as_ref())).collect();
            panic!("command [{}]: {e}", shown.join(" "))
        })
    }

    /// Sends a command and returns its raw reply, or the I/O error.
    pub fn cmd_result<A: AsRef<[u8]>>(&mut self, args: &[A]) -> io::Result<Vec<u8>> {
        self.send(args)?;
        self.read_reply()
    }

    /// Sends a command without reading its reply.
    pub fn send<A: AsRef<[u8]>>(&mut self, args: &[A]) -> io::Result<()> {
        self.send_raw(&encode_command(args))
    }

    /// Sends bytes as they are (inline commands, malformed input, pipelines).
    pub fn send_raw(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.stream.write_all(bytes)
    }

    /// Reads exactly one reply and returns its raw bytes.
    ///
    /// Errors: `UnexpectedEof` when the server closed the connection,
    /// `TimedOut` after [`REPLY_TIMEOUT`] without a complete reply, and
    /// `InvalidData` when the bytes are not RESP.
    pub fn read_reply(&mut self) -> io::Result<Vec<u8>> {
        loop {
            // Replies in tests are small, so parsing again from the start of
            // the buffer after each read costs nothing worth optimising.
            match parse_frame(&self.buf) {
                Ok(Some((_, len))) => return Ok(self.buf.drain(..len).collect()),
                Ok(None) => {}
                Err(message) => {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!("{message}; buffered bytes: \"{}\"", escape(&self.buf)),
                    ));
                }
            }
            let mut chunk = [0u8; 64 * 1024];
            match self.stream.read(&mut chunk) {
                Ok(0) => {
                    let message = if self.buf.is_empty() {
                        "connection closed by server".to_string()
                    } else {
                        format!(
                            "connection closed by server inside a reply; buffered bytes: \"{}\"",
                            escape(&self.buf)
                        )
                    };
                    return Err(io::Error::new(io::ErrorKind::UnexpectedEof, message));
                }
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e)
                    if e.kind() == io::ErrorKind::WouldBlock
                        || e.kind() == io::ErrorKind::TimedOut =>
                {
                    let message = format!(
                        "no complete reply within {REPLY_TIMEOUT:?}; buffered bytes: \"{}\"",
                        escape(&self.buf)
                    );
                    return Err(io::Error::new(io::ErrorKind::TimedOut, message));
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Returns the next reply if it has started to arrive, and `None` if
    /// nothing is there: a reply whose first bytes are here is read to its
    /// end (waiting up to [`REPLY_TIMEOUT`] for the rest), but a reply that
    /// has not begun is not waited for. For replies that may never come
    /// (a blocked command), after something has made sure that any reply
    /// already sent has been delivered.
    pub fn poll_reply(&mut self) -> io::Result<Option<Vec<u8>>> {
        loop {
            match parse_frame(&self.buf) {
                Ok(Some((_, len))) => return Ok(Some(self.buf.drain(..len).collect())),
                Ok(None) if !self.buf.is_empty() => return self.read_reply().map(Some),
                Ok(None) => {}
                Err(message) => {
                    return Err(io::Error::new(io::ErrorKind::InvalidData, message));
                }
            }
            let mut chunk = [0u8; 64 * 1024];
            self.stream.set_nonblocking(true)?;
            let read = self.stream.read(&mut chunk);
            self.stream.set_nonblocking(false)?;
            match read {
                Ok(0) => {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "connection closed by server",
                    ));
                }
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(None),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// The local port of this connection, which is how the server's CLIENT
    /// LIST names it (`addr=127.0.0.1:PORT`).
    pub fn local_port(&self) -> u16 {
        self.stream
            .local_addr()
            .map(|a| a.port())
            .unwrap_or_default()
    }

    /// Reads exactly one reply and decodes it.
    pub fn read_frame(&mut self) -> io::Result<Frame> {
        let raw = self.read_reply()?;
        match parse_frame(&raw) {
            Ok(Some((frame, _))) => Ok(frame),
            _ => unreachable!("read_reply returns exactly one complete frame"),
        }
    }

    /// Closes the sending half, as a client that is done would.
    pub fn shutdown_write(&self) -> io::Result<()> {
        self.stream.shutdown(Shutdown::Write)
    }
}

/// A script or fuzzer argument that stands for the client ID of
/// connection N, written `${id:N}`: the two servers number their clients
/// differently, so each gets its own ID substituted. Returns N.
pub fn placeholder_conn(arg: &[u8]) -> Option<usize> {
    let inner = arg.strip_prefix(b"${id:")?.strip_suffix(b"}")?;
    std::str::from_utf8(inner).ok()?.parse().ok()
}

/// The ID the server gave the client connected from local `port`, found in
/// CLIENT LIST (`addr=127.0.0.1:PORT`) on `ctl`, another connection.
pub fn client_id_by_port(ctl: &mut Client, port: u16) -> io::Result<Option<Vec<u8>>> {
    let list = match ctl.cmd_result(&["CLIENT", "LIST"]).map(|r| parse_frame(&r)) {
        Ok(Ok(Some((Frame::Bulk(text) | Frame::Verbatim(text), _)))) => text,
        Ok(_) => return Err(io::Error::new(io::ErrorKind::InvalidData, "CLIENT LIST")),
        Err(e) => return Err(e),
    };
    let addr = format!(" addr=127.0.0.1:{port} ");
    let text = String::from_utf8_lossy(&list);
    Ok(text
        .lines()
        .find(|line| line.contains(&addr))
        .and_then(|line| line.split(' ').find_map(|f| f.strip_prefix("id=")))
        .map(|id| id.as_bytes().to_vec()))
}

/// The bytes with every run of ASCII digits replaced by a single `#`, so
/// that `$269\r\nid=7 age=0` and `$271\r\nid=123 age=10` compare equal.
pub fn mask_digits(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut in_digits = false;
    for &b in bytes {
        if !b.is_ascii_digit() {
            out.push(b);
        } else if !in_digits {
            out.push(b'#');
        }
        in_digits = b.is_ascii_digit();
    }
    out
}

/// ferrokv and redis-server side by side, one connection to each, for the
/// tests that run the same commands on both and compare the replies.
pub struct Pair {
    pub ours: Client,
    pub theirs: Client,
    _servers: (Server, Server),
}

impl Pair {
    /// Both servers, or `None` (saying that `what` was not compared) when
    /// redis-server is not on PATH.
    pub fn start(what: &str) -> Option<Pair> {
        let Some(redis) = start_redis() else {
            println!("SKIPPED: redis-server not found on PATH; {what} not compared");
            return None;
        };
        let ferrokv = start_ferrokv();
        Some(Pair {
            ours: ferrokv.connect(),
            theirs: redis.connect(),
            _servers: (ferrokv, redis),
        })
    }

    /// Sends `commands` to both, pipelined 256 at a time; returns each
    /// server's replies as sent (ferrokv's first).
    pub fn send(&mut self, commands: &[Vec<Vec<u8>>]) -> (Vec<Vec<u8>>, Vec<Vec<u8>>) {
        let (mut ours, mut theirs) = (Vec::new(), Vec::new());
        for batch in commands.chunks(256) {
            let bytes: Vec<u8> = batch.iter().flat_map(|c| encode_command(c)).collect();
            for client in [&mut self.ours, &mut self.theirs] {
                client.send_raw(&bytes).expect("send a pipeline");
            }
            for _ in batch {
                ours.push(self.ours.read_reply().expect("ferrokv's reply"));
                theirs.push(self.theirs.read_reply().expect("redis-server's reply"));
            }
        }
        (ours, theirs)
    }

    /// Sends `commands` to both and asserts that every reply is the same,
    /// byte for byte; returns redis-server's.
    pub fn both(&mut self, commands: &[Vec<Vec<u8>>]) -> Vec<Vec<u8>> {
        let (ours, theirs) = self.send(commands);
        for ((args, o), t) in commands.iter().zip(&ours).zip(&theirs) {
            assert!(
                o == t,
                "{}:\n  ferrokv:      {}\n  redis-server: {}",
                show_command(args),
                escape(o),
                escape(t)
            );
        }
        theirs
    }
}

/// A command for messages: its first six arguments, escaped.
pub fn show_command(args: &[Vec<u8>]) -> String {
    let shown: Vec<String> = args.iter().take(6).map(|a| escape(a)).collect();
    let more = if args.len() > 6 { " ..." } else { "" };
    format!("[{}{more}]", shown.join(" "))
}

/// Escapes bytes for messages: printable ASCII as is, `\r`, `\n`, `\t`, `\"`
/// and `\\` escaped, everything else as `\xHH`.
pub fn escape(bytes: &[u8]) -> String {
    bytes.escape_ascii().to_string()
}

/// One decoded RESP2 or RESP3 reply.
///
/// Scalars keep their text as sent (doubles and big numbers in particular),
/// so [`Frame::encode`] reproduces the original bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Frame {
    /// `+text`
    Simple(Vec<u8>),
    /// `-text`
    Error(Vec<u8>),
    /// `:n`
    Integer(i64),
    /// `$n` followed by the payload.
    Bulk(Vec<u8>),
    /// `$-1`, the RESP2 null.
    NullBulk,
    /// `*n` followed by the elements.
    Array(Vec<Frame>),
    /// `*-1`, the RESP2 null array.
    NullArray,
    /// `_`, the RESP3 null.
    Null,
    /// `#t` or `#f`.
    Bool(bool),
    /// `,text`
    Double(Vec<u8>),
    /// `(text`
    BigNumber(Vec<u8>),
    /// `!n` followed by the payload.
    BlobError(Vec<u8>),
    /// `=n` followed by the payload, format prefix (`txt:`) included.
    Verbatim(Vec<u8>),
    /// `%n` followed by n key-value pairs.
    Map(Vec<(Frame, Frame)>),
    /// `~n` followed by the elements.
    Set(Vec<Frame>),
    /// `>n` followed by the elements.
    Push(Vec<Frame>),
    /// `|n` pairs, then the reply they describe.
    Attribute(Vec<(Frame, Frame)>, Box<Frame>),
}

impl Frame {
    /// Appends the RESP encoding of this frame to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        fn line(out: &mut Vec<u8>, prefix: u8, text: &[u8]) {
            out.push(prefix);
            out.extend_from_slice(text);
            out.extend_from_slice(b"\r\n");
        }
        fn blob(out: &mut Vec<u8>, prefix: u8, payload: &[u8]) {
            line(out, prefix, payload.len().to_string().as_bytes());
            out.extend_from_slice(payload);
            out.extend_from_slice(b"\r\n");
        }
        fn items(out: &mut Vec<u8>, prefix: u8, frames: &[Frame]) {
            line(out, prefix, frames.len().to_string().as_bytes());
            for frame in frames {
                frame.encode(out);
            }
        }
        fn pairs(out: &mut Vec<u8>, prefix: u8, pairs: &[(Frame, Frame)]) {
            line(out, prefix, pairs.len().to_string().as_bytes());
            for (key, value) in pairs {
                key.encode(out);
                value.encode(out);
            }
        }
        match self {
            Frame::Simple(text) => line(out, b'+', text),
            Frame::Error(text) => line(out, b'-', text),
            Frame::Integer(n) => line(out, b':', n.to_string().as_bytes()),
            Frame::Bulk(payload) => blob(out, b'$', payload),
            Frame::NullBulk => out.extend_from_slice(b"$-1\r\n"),
            Frame::Array(frames) => items(out, b'*', frames),
            Frame::NullArray => out.extend_from_slice(b"*-1\r\n"),
            Frame::Null => out.extend_from_slice(b"_\r\n"),
            Frame::Bool(true) => out.extend_from_slice(b"#t\r\n"),
            Frame::Bool(false) => out.extend_from_slice(b"#f\r\n"),
            Frame::Double(text) => line(out, b',', text),
            Frame::BigNumber(text) => line(out, b'(', text),
            Frame::BlobError(payload) => blob(out, b'!', payload),
            Frame::Verbatim(payload) => blob(out, b'=', payload),
            Frame::Map(kvs) => pairs(out, b'%', kvs),
            Frame::Set(frames) => items(out, b'~', frames),
            Frame::Push(frames) => items(out, b'>', frames),
            Frame::Attribute(kvs, reply) => {
                pairs(out, b'|', kvs);
                reply.encode(out);
            }
        }
    }

    /// The RESP encoding of this frame.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode(&mut out);
        out
    }
}

/// Decodes one reply from the start of `buf`.
///
/// Returns `Ok(None)` when `buf` holds only part of a reply, and
/// `Ok(Some((frame, len)))` when its first `len` bytes are one complete
/// reply. Only well-formed RESP is accepted: a server that sends anything
/// else has a bug the tests should see.
pub fn parse_frame(buf: &[u8]) -> Result<Option<(Frame, usize)>, String> {
    let mut parser = Parser { buf, pos: 0 };
    match parser.frame() {
        Ok(frame) => Ok(Some((frame, parser.pos))),
        Err(ParseError::Incomplete) => Ok(None),
        Err(ParseError::Invalid(message)) => Err(message),
    }
}

enum ParseError {
    Incomplete,
    Invalid(String),
}

struct Parser<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Parser<'a> {
    /// The bytes up to the next CRLF, which is consumed.
    fn line(&mut self) -> Result<&'a [u8], ParseError> {
        let rest = &self.buf[self.pos..];
        let Some(end) = rest.windows(2).position(|w| w == b"\r\n") else {
            return Err(ParseError::Incomplete);
        };
        self.pos += end + 2;
        Ok(&rest[..end])
    }

    fn number(&mut self, prefix: u8) -> Result<i64, ParseError> {
        let line = self.line()?;
        std::str::from_utf8(line)
            .ok()
            .and_then(|s| s.parse::<i64>().ok())
            .ok_or_else(|| {
                ParseError::Invalid(format!(
                    "bad number after '{}': \"{}\"",
                    prefix as char,
                    escape(line)
                ))
            })
    }

    /// A length that may be -1 (null); anything below that is invalid.
    fn length(&mut self, prefix: u8) -> Result<Option<usize>, ParseError> {
        match self.number(prefix)? {
            -1 => Ok(None),
            n if n >= 0 => Ok(Some(n as usize)),
            n => Err(ParseError::Invalid(format!(
                "negative length {n} after '{}'",
                prefix as char
            ))),
        }
    }

    fn payload(&mut self, len: usize) -> Result<Vec<u8>, ParseError> {
        let end = self.pos.checked_add(len).ok_or(ParseError::Incomplete)?;
        if self.buf.len() < end + 2 {
            return Err(ParseError::Incomplete);
        }
        if &self.buf[end..end + 2] != b"\r\n" {
            return Err(ParseError::Invalid(format!(
                "payload of length {len} is not followed by CRLF"
            )));
        }
        let payload = self.buf[self.pos..end].to_vec();
        self.pos = end + 2;
        Ok(payload)
    }

    fn frames(&mut self, n: usize) -> Result<Vec<Frame>, ParseError> {
        // Do not trust `n` for the allocation: every frame is at least three
        // bytes, so a short buffer bounds what is worth reserving.
        let mut frames = Vec::with_capacity(n.min(self.buf.len() / 3));
        for _ in 0..n {
            frames.push(self.frame()?);
        }
        Ok(frames)
    }

    fn pairs(&mut self, n: usize) -> Result<Vec<(Frame, Frame)>, ParseError> {
        let mut pairs = Vec::with_capacity(n.min(self.buf.len() / 6));
        for _ in 0..n {
            let key = self.frame()?;
            let value = self.frame()?;
            pairs.push((key, value));
        }
        Ok(pairs)
    }

    fn required_length(&mut self, prefix: u8) -> Result<usize, ParseError> {
        self.length(prefix)?
            .ok_or_else(|| ParseError::Invalid(format!("null length after '{}'", prefix as char)))
    }

    fn frame(&mut self) -> Result<Frame, ParseError> {
        let Some(&prefix) = self.buf.get(self.pos) else {
            return Err(ParseError::Incomplete);
        };
        self.pos += 1;
        match prefix {
            b'+' => Ok(Frame::Simple(self.line()?.to_vec())),
            b'-' => Ok(Frame::Error(self.line()?.to_vec())),
            b':' => Ok(Frame::Integer(self.number(prefix)?)),
            b',' => Ok(Frame::Double(self.line()?.to_vec())),
            b'(' => Ok(Frame::BigNumber(self.line()?.to_vec())),
            b'_' => match self.line()? {
                b"" => Ok(Frame::Null),
                other => Err(ParseError::Invalid(format!(
                    "null with payload \"{}\"",
                    escape(other)
                ))),
            },
            b'#' => match self.line()? {
                b"t" => Ok(Frame::Bool(true)),
                b"f" => Ok(Frame::Bool(false)),
                other => Err(ParseError::Invalid(format!(
                    "bad boolean \"{}\"",
                    escape(other)
                ))),
            },
            b'$' => match self.length(prefix)? {
                None => Ok(Frame::NullBulk),
                Some(len) => Ok(Frame::Bulk(self.payload(len)?)),
            },
            b'!' => {
                let len = self.required_length(prefix)?;
                Ok(Frame::BlobError(self.payload(len)?))
            }
            b'=' => {
                let len = self.required_length(prefix)?;
                Ok(Frame::Verbatim(self.payload(len)?))
            }
            b'*' => match self.length(prefix)? {
                None => Ok(Frame::NullArray),
                Some(n) => Ok(Frame::Array(self.frames(n)?)),
            },
            b'~' => {
                let n = self.required_length(prefix)?;
                Ok(Frame::Set(self.frames(n)?))
            }
            b'>' => {
                let n = self.required_length(prefix)?;
                Ok(Frame::Push(self.frames(n)?))
            }
            b'%' => {
                let n = self.required_length(prefix)?;
                Ok(Frame::Map(self.pairs(n)?))
            }
            b'|' => {
                let n = self.required_length(prefix)?;
                let attributes = self.pairs(n)?;
                let reply = self.frame()?;
                Ok(Frame::Attribute(attributes, Box::new(reply)))
            }
            other => Err(ParseError::Invalid(format!(
                "unknown RESP type byte \"{}\" at offset {}",
                escape(&[other]),
                self.pos - 1
            ))),
        }
    }
}

/// A chi-square statistic with 9 degrees of freedom (ten equally likely
/// outcomes) exceeds this with probability below 1e-8, so the dozen
/// uniformity checks of a test run fail by chance less than once in ten
/// million runs. A broken sampler still fails them: with 20,000 draws, one
/// outcome drawn twice as often as the others gives a statistic near 1,500.
pub const CHI_SQUARE_DF9_ONE_IN_1E8: f64 = 56.0;

/// The chi-square statistic of `observed` (draws per outcome) against a
/// uniform distribution over those outcomes.
pub fn chi_square(observed: &[usize], draws: usize) -> f64 {
    let expected = draws as f64 / observed.len() as f64;
    observed
        .iter()
        .map(|&n| (n as f64 - expected).powi(2) / expected)
        .sum()
}

/// How long a real client library's script in `tests/clients` may run.
pub const CLIENT_SCRIPT_TIMEOUT: Duration = Duration::from_secs(30);

/// Runs `command` to completion, killing it after `timeout`, and returns
/// its status and output (stdout and stderr are captured; stdin is what
/// the caller set).
pub fn output_within(command: &mut Command, timeout: Duration) -> std::process::Output {
    let program = command.get_program().to_owned();
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {}: {e}", program.to_string_lossy()));
    let deadline = Instant::now() + timeout;
    while child
        .try_wait()
        .unwrap_or_else(|e| panic!("wait for {}: {e}", program.to_string_lossy()))
        .is_none()
    {
        if Instant::now() >= deadline {
            let _ = child.kill();
            break;
        }
        thread::sleep(Duration::from_millis(10));
    }
    child
        .wait_with_output()
        .unwrap_or_else(|e| panic!("collect {}'s output: {e}", program.to_string_lossy()))
}

/// Runs `program args...` in `tests/clients` to completion (killed after
/// [`CLIENT_SCRIPT_TIMEOUT`]) and returns whether it succeeded, with its
/// output.
pub fn run_client(program: &str, args: &[&str]) -> (bool, String) {
    run_client_within(program, args, CLIENT_SCRIPT_TIMEOUT)
}

/// [`run_client`] with another bound than [`CLIENT_SCRIPT_TIMEOUT`], for a
/// script that does more (a job queue's ten thousand jobs) and bounds its
/// own run a little under `timeout`, so that it fails with a report of how
/// far it got rather than being killed without one.
pub fn run_client_within(program: &str, args: &[&str], timeout: Duration) -> (bool, String) {
    let output = output_within(
        Command::new(program)
            .args(args)
            .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/clients")),
        timeout,
    );
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

/// The bytes of a bulk-string reply, or a panic naming what came instead.
pub fn expect_bulk(frame: &Frame) -> Vec<u8> {
    match frame {
        Frame::Bulk(b) => b.clone(),
        other => panic!("expected a bulk string, got {other:?}"),
    }
}

/// The items of an array reply, or a panic naming what came instead.
pub fn expect_array(frame: Frame) -> Vec<Frame> {
    match frame {
        Frame::Array(items) => items,
        other => panic!("expected an array, got {other:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parses_whole(bytes: &[u8]) -> Frame {
        match parse_frame(bytes) {
            Ok(Some((frame, len))) => {
                assert_eq!(len, bytes.len(), "frame length for \"{}\"", escape(bytes));
                assert_eq!(frame.to_bytes(), bytes, "round trip");
                frame
            }
            other => panic!("\"{}\" did not parse: {other:?}", escape(bytes)),
        }
    }

    #[test]
    fn parses_resp2_and_resp3_replies() {
        parses_whole(b"+OK\r\n");
        parses_whole(b"-ERR x\r\n");
        parses_whole(b":-12\r\n");
        parses_whole(b"$-1\r\n");
        parses_whole(b"*-1\r\n");
        parses_whole(b"$4\r\na\r\nb\r\n");
        parses_whole(b"*2\r\n$1\r\na\r\n*1\r\n:1\r\n");
        parses_whole(b"%1\r\n+k\r\n~2\r\n,1.5\r\n(123\r\n");
        parses_whole(b">2\r\n_\r\n#t\r\n");
        parses_whole(b"=8\r\ntxt:abcd\r\n");
        parses_whole(b"!3\r\nERR\r\n");
        parses_whole(b"|1\r\n+a\r\n+b\r\n:1\r\n");
    }

    #[test]
    fn reports_incomplete_replies() {
        let full = b"*2\r\n$3\r\nabc\r\n%1\r\n+k\r\n:1\r\n";
        for cut in 0..full.len() {
            assert_eq!(parse_frame(&full[..cut]), Ok(None), "cut at {cut}");
        }
        assert!(matches!(parse_frame(full), Ok(Some((_, n))) if n == full.len()));
    }

    #[test]
    fn leaves_following_replies_alone() {
        let two = b"+OK\r\n:1\r\n";
        assert_eq!(
            parse_frame(two),
            Ok(Some((Frame::Simple(b"OK".to_vec()), 5)))
        );
    }

    #[test]
    fn rejects_garbage() {
        assert!(parse_frame(b"?what\r\n").is_err());
        assert!(parse_frame(b"$3\r\nabcd\r\n").is_err());
        assert!(parse_frame(b":x\r\n").is_err());
    }
}
