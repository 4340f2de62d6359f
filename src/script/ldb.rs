//! The Lua debugger: SCRIPT DEBUG and the session an EVAL then runs in,
//! as Redis 7.0's LDB (eval.c's `ldb*` functions), byte for byte on the
//! wire, so `redis-cli --ldb` and `--ldb-sync-mode` drive it.
//!
//! # The protocol
//!
//! After `SCRIPT DEBUG YES|SYNC`, the client's next EVAL does not answer
//! at once: a line hook stops the script at its first line and sends the
//! debugger's log, an array of status replies (`* Stopped at 1, ...`,
//! `-> 1   local a = 1`, `<value> ...`, `<redis> ...`, `<reply> ...`,
//! `<error> ...`, `<debug> ...`). The client then sends one debugger
//! command at a time as a multibulk request (`s`, `c`, `p a`, ...), each
//! read straight from its socket while the script is stopped, and each
//! answered with the log it produced. When the script ends, the last log
//! ends with `<endsession>`, then comes the EVAL's reply, and the
//! connection is closed (redis-cli reconnects).
//!
//! # Sync and "forked" sessions
//!
//! A session holds the loop: nothing else runs until it ends, as in
//! Redis's SYNC mode, and the script's writes stay. Redis runs a YES
//! session in a forked child instead, so the parent keeps serving and
//! the child's writes vanish with it. ferrokv never forks, so a YES
//! session runs like a SYNC one (**other clients are not served while it
//! lasts**), and undoes what the script did when it ends ([`Undo`]): each
//! key a script command names is copied before the command runs (whole
//! databases before FLUSHDB, FLUSHALL and SWAPDB), nothing is propagated
//! (AOF, replicas), no keyspace events, WATCH or tracking invalidations
//! are recorded, output the script's commands sent to other clients
//! (messages, MONITOR lines) is taken back, and the dirty counter is
//! restored; then every copied key is put back. Statistics (commandstats,
//! keyspace hits) still count the session's commands.
//!
//! # Where it hooks in
//!
//! [`debug_eval`] wraps an EVAL of a client that asked for debugging;
//! `script::enter` installs [`line_hook`] in place of the interrupt hook
//! while a session is active; `redis.call` logs its command and reply
//! through [`log_command`], [`log_error`] and [`log_reply`];
//! `script_call` lets [`before_command`] copy what a command may change.
//! The session's state is a thread-local, as the hook is a C function.

use std::cell::RefCell;
use std::collections::HashMap;
use std::ffi::{CStr, c_int};
use std::os::fd::{AsRawFd, RawFd};
use std::time::Instant;

use bytes::Bytes;
use mlua::ffi;
use slab::Slab;

use crate::client::Client;
use crate::cmd::{CmdResult, Command, Ctx};
use crate::db::{Detached, Entry, Value};
use crate::store::Store;
use crate::util::eq_ic_c;

/// Redis's LDB_BREAKPOINTS_MAX.
const BREAKPOINTS_MAX: usize = 64;
/// Redis's LDB_MAX_LEN_DEFAULT: replies and values in the log are cut
/// there unless `maxlen` says otherwise.
const MAXLEN_DEFAULT: usize = 256;
/// Redis's limit on a debugger command not yet complete.
const COMMAND_BUFFER_MAX_BYTES: usize = 1 << 20;
/// Redis reads the debugger's commands 1 KB at a time.
const READ_CHUNK_BYTES: usize = 1024;
/// Redis's send timeout on the debugging connection.
const WRITE_TIMEOUT_MS: c_int = 5000;
/// How much log may pile up between two stops (a script calling
/// `redis.debug` in a loop): past it entries are dropped. Redis has no
/// bound.
const LOG_MAX_BYTES: usize = 64 << 20;
/// Redis's LDB_MAX_VALUES_DEPTH (LUA_MINSTACK / 2).
const MAX_VALUES_DEPTH: usize = 10;

/// How a client asked to debug its next EVAL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// SCRIPT DEBUG SYNC: the script's writes stay.
    Sync,
    /// SCRIPT DEBUG YES: Redis's forked session, whose writes are undone.
    Forked,
}

/// The clients that asked for debugging (Redis's CLIENT_LUA_DEBUG and
/// CLIENT_LUA_DEBUG_SYNC flags), by slab key with the client's id, so a
/// slot reused by a later connection is not taken for it.
#[derive(Default)]
pub struct Requests {
    by_token: HashMap<usize, (u64, Mode)>,
}

impl Requests {
    /// The mode the client asked for, if it did.
    pub fn mode(&self, token: usize, id: u64) -> Option<Mode> {
        self.by_token
            .get(&token)
            .filter(|(owner, _)| *owner == id)
            .map(|(_, m)| *m)
    }

    /// SCRIPT DEBUG YES or SYNC. As in Redis, YES after SYNC stays
    /// synchronous (ldbEnable leaves the SYNC flag alone). Entries of
    /// clients gone since are dropped here, so the map stays as small as
    /// the clients that asked.
    pub fn enable(&mut self, token: usize, id: u64, mode: Mode, clients: &Slab<Client>) {
        self.by_token
            .retain(|t, (owner, _)| clients.get(*t).is_some_and(|c| c.id == *owner));
        let mode = match self.mode(token, id) {
            Some(Mode::Sync) => Mode::Sync,
            _ => mode,
        };
        self.by_token.insert(token, (id, mode));
    }

    /// SCRIPT DEBUG NO, and the end of a session.
    pub fn disable(&mut self, token: usize) {
        self.by_token.remove(&token);
    }
}

thread_local! {
    static SESSION: RefCell<Option<Box<Session>>> = const { RefCell::new(None) };
}

/// Runs `f` on the session, if one is active. Borrows are short: nothing
/// here calls Lua while one is held.
fn with_session<R>(f: impl FnOnce(&mut Session) -> R) -> Option<R> {
    SESSION.with(|s| {
        let mut s = s.try_borrow_mut().ok()?;
        s.as_mut().map(|s| f(s))
    })
}

/// Whether a debugging session is active (Redis's `ldb.active`).
pub fn active() -> bool {
    with_session(|_| ()).is_some()
}

/// Whether the script is being stepped, so its `redis.call`s are logged
/// (Redis's ldbIsEnabled).
pub fn stepping() -> bool {
    with_session(|s| s.step).unwrap_or(false)
}

/// Redis's `ldb` for one session.
struct Session {
    /// The debugging client's socket.
    fd: RawFd,
    logs: Vec<Vec<u8>>,
    log_bytes: usize,
    log_dropped: bool,
    /// Breakpoint lines; only `bp[..bpcount]` are set (kept as Redis's
    /// array, whose removal moves bytes, not lines: see `del_breakpoint`).
    bp: [i32; BREAKPOINTS_MAX],
    bpcount: usize,
    /// Stop at the next line whatever the breakpoints.
    step: bool,
    /// Stop at the next line because `redis.breakpoint()` was called.
    luabp: bool,
    /// The script's lines.
    src: Vec<Vec<u8>>,
    currentline: i32,
    /// What the client sent of its next debugger command.
    cbuf: Vec<u8>,
    maxlen: usize,
    maxlen_hint_sent: bool,
    /// Since when the script has run without stopping, for the timeout
    /// stop (Redis's run context's start time).
    started: Instant,
    time_limit_ms: u64,
    undo: Option<Undo>,
}

impl Session {
    fn new(fd: RawFd, body: &[u8], time_limit_ms: u64) -> Session {
        // Redis strips the trailing newlines before splitting the lines.
        let end = body
            .iter()
            .rposition(|&b| b != b'\n' && b != b'\r')
            .map_or(0, |i| i + 1);
        let src = if end == 0 {
            Vec::new()
        } else {
            body[..end]
                .split(|&b| b == b'\n')
                .map(<[u8]>::to_vec)
                .collect()
        };
        Session {
            fd,
            logs: Vec::new(),
            log_bytes: 0,
            log_dropped: false,
            bp: [0; BREAKPOINTS_MAX],
            bpcount: 0,
            step: true,
            luabp: false,
            src,
            currentline: 0,
            cbuf: Vec::new(),
            maxlen: MAXLEN_DEFAULT,
            maxlen_hint_sent: false,
            started: Instant::now(),
            time_limit_ms,
            undo: None,
        }
    }

    fn log(&mut self, entry: Vec<u8>) {
        // Each entry counts with what keeping it costs besides its bytes.
        let cost = entry.len() + std::mem::size_of::<Vec<u8>>();
        if self.log_bytes + cost > LOG_MAX_BYTES {
            if !self.log_dropped {
                self.log_dropped = true;
                self.logs
                    .push(b"<hint> The log grew past its limit: entries were dropped.".to_vec());
            }
            return;
        }
        self.log_bytes += cost;
        self.logs.push(entry);
    }

    fn log_str(&mut self, entry: &str) {
        self.log(entry.as_bytes().to_vec());
    }

    /// Redis's ldbLogWithMaxLen: cut at `maxlen` bytes, with a hint the
    /// first time.
    fn log_with_maxlen(&mut self, mut entry: Vec<u8>) {
        let trimmed = self.maxlen != 0 && entry.len() > self.maxlen;
        if trimmed {
            entry.truncate(self.maxlen);
            entry.extend_from_slice(b" ...");
        }
        self.log(entry);
        if trimmed && !self.maxlen_hint_sent {
            self.maxlen_hint_sent = true;
            self.log_str("<hint> The above reply was trimmed. Use 'maxlen 0' to disable trimming.");
        }
    }

    /// How long a rendered value needs to be: past this it is cut anyway.
    fn render_limit(&self) -> usize {
        let maxlen = if self.maxlen == 0 {
            LOG_MAX_BYTES
        } else {
            self.maxlen.min(LOG_MAX_BYTES)
        };
        maxlen + 1
    }

    /// Redis's ldbSendLogs: the log as an array of status replies, line
    /// breaks made spaces, written straight to the socket.
    fn send_logs(&mut self) {
        let mut proto = format!("*{}\r\n", self.logs.len() as i32).into_bytes();
        for entry in self.logs.drain(..) {
            proto.push(b'+');
            proto.extend(
                entry
                    .iter()
                    .map(|&b| if b == b'\r' || b == b'\n' { b' ' } else { b }),
            );
            proto.extend_from_slice(b"\r\n");
        }
        self.log_bytes = 0;
        self.log_dropped = false;
        write_all(self.fd, &proto);
    }

    fn source_line(&self, line: i64) -> &[u8] {
        match usize::try_from(line - 1).ok().and_then(|i| self.src.get(i)) {
            Some(l) => c_str(l),
            None => b"<out of range source code line>",
        }
    }

    fn is_breakpoint(&self, line: i32) -> bool {
        self.bp[..self.bpcount].contains(&line)
    }

    fn add_breakpoint(&mut self, line: i32) -> bool {
        if line <= 0 || line as usize > self.src.len() {
            return false;
        }
        if !self.is_breakpoint(line) && self.bpcount != BREAKPOINTS_MAX {
            self.bp[self.bpcount] = line;
            self.bpcount += 1;
            return true;
        }
        false
    }

    /// Redis's ldbDelBreakpoint, whose memmove moves `bpcount - j` bytes
    /// rather than lines: the lines after the removed one are not all
    /// shifted, and `b` then lists what Redis lists.
    fn del_breakpoint(&mut self, line: i32) -> bool {
        let Some(j) = self.bp[..self.bpcount].iter().position(|&b| b == line) else {
            return false;
        };
        self.bpcount -= 1;
        let n = self.bpcount - j;
        let mut bytes = [0u8; BREAKPOINTS_MAX * 4];
        for (chunk, b) in bytes.chunks_exact_mut(4).zip(self.bp.iter()) {
            chunk.copy_from_slice(&b.to_ne_bytes());
        }
        bytes.copy_within((j + 1) * 4..(j + 1) * 4 + n, j * 4);
        for (b, chunk) in self.bp.iter_mut().zip(bytes.chunks_exact(4)) {
            *b = i32::from_ne_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
        }
        true
    }

    /// Redis's ldbLogSourceLine: `-> 3   code`, `  #5   code`.
    fn log_source_line(&mut self, lnum: i64) {
        let bp = i32::try_from(lnum).is_ok_and(|l| self.is_breakpoint(l));
        let current = i64::from(self.currentline) == lnum;
        let prefix = match (current, bp) {
            (true, true) => "->#",
            (true, false) => "-> ",
            (false, true) => "  #",
            (false, false) => "   ",
        };
        let mut entry = format!("{prefix}{lnum:<3} ").into_bytes();
        entry.extend_from_slice(self.source_line(lnum));
        self.log(entry);
    }

    /// Redis's ldbList: the whole script, or `context` lines around.
    fn list(&mut self, around: i64, context: i64) {
        for j in 1..=self.src.len() as i64 {
            if around != 0 && (around - j).abs() > context {
                continue;
            }
            self.log_source_line(j);
        }
    }

    /// Redis's ldbBreak.
    fn breakpoints(&mut self, argv: &[Vec<u8>]) {
        if argv.len() == 1 {
            if self.bpcount == 0 {
                self.log_str("No breakpoints set. Use 'b <line>' to add one.");
            } else {
                self.log(format!("{} breakpoints set:", self.bpcount).into_bytes());
                for j in 0..self.bpcount {
                    self.log_source_line(i64::from(self.bp[j]));
                }
            }
            return;
        }
        for arg in &argv[1..] {
            let Some(line) = crate::util::parse_i64(arg) else {
                let mut entry = b"Invalid argument:'".to_vec();
                entry.extend_from_slice(c_str(arg));
                entry.push(b'\'');
                self.log(entry);
                continue;
            };
            if line == 0 {
                self.bpcount = 0;
                self.log_str("All breakpoints removed.");
            } else if line > 0 {
                // Redis passes the long to an int.
                if self.bpcount == BREAKPOINTS_MAX {
                    self.log_str("Too many breakpoints set.");
                } else if self.add_breakpoint(line as i32) {
                    self.list(i64::from(line as i32), 1);
                } else {
                    self.log_str("Wrong line number.");
                }
            } else if self.del_breakpoint(line.wrapping_neg() as i32) {
                self.log_str("Breakpoint removed.");
            } else {
                self.log_str("No breakpoint in the specified line.");
            }
        }
    }

    /// Redis's ldbMaxlen.
    fn maxlen_command(&mut self, argv: &[Vec<u8>]) {
        if argv.len() == 2 {
            let mut v = atoi(&argv[1]);
            self.maxlen_hint_sent = true;
            if v != 0 && v <= 60 {
                v = 60;
            }
            self.maxlen = v as usize;
        }
        if self.maxlen != 0 {
            let entry = format!(
                "<value> replies are truncated at {} bytes.",
                self.maxlen as i32
            );
            self.log(entry.into_bytes());
        } else {
            self.log_str("<value> replies are unlimited.");
        }
    }
}

// ------------------------------------------------------------------ I/O

/// Writes everything, waiting for room up to Redis's send timeout each
/// time; a client that is gone or stuck loses the rest (the next read
/// finds it gone).
fn write_all(fd: RawFd, mut data: &[u8]) {
    while !data.is_empty() {
        // SAFETY: a valid buffer; MSG_NOSIGNAL keeps a closed peer from
        // raising SIGPIPE.
        let n = unsafe { libc::send(fd, data.as_ptr().cast(), data.len(), libc::MSG_NOSIGNAL) };
        if n > 0 {
            data = &data[n as usize..];
            continue;
        }
        let err = std::io::Error::last_os_error();
        match err.kind() {
            std::io::ErrorKind::Interrupted => {}
            std::io::ErrorKind::WouldBlock if wait_for(fd, libc::POLLOUT, WRITE_TIMEOUT_MS) => {}
            _ => return,
        }
    }
}

/// Reads what the client sent, waiting for it as long as it takes (Redis
/// blocks on the socket the same way); 0 when the client is gone.
fn read_some(fd: RawFd, buf: &mut [u8]) -> usize {
    loop {
        // SAFETY: a valid buffer of its length.
        let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
        if n >= 0 {
            return n as usize;
        }
        let err = std::io::Error::last_os_error();
        match err.kind() {
            std::io::ErrorKind::Interrupted => {}
            std::io::ErrorKind::WouldBlock if wait_for(fd, libc::POLLIN, -1) => {}
            _ => return 0,
        }
    }
}

/// Waits until the socket is ready for `events`; false on a timeout or
/// an error.
fn wait_for(fd: RawFd, events: libc::c_short, timeout_ms: c_int) -> bool {
    loop {
        let mut pfd = libc::pollfd {
            fd,
            events,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        let n = unsafe { libc::poll(&mut pfd, 1, timeout_ms) };
        if n > 0 {
            return true;
        }
        if n == 0 || std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
            return false;
        }
    }
}

// -------------------------------------------------------- the commands

/// A debugger command parsed from the client's buffer.
enum Parsed {
    Command(Vec<Vec<u8>>),
    More,
    ProtocolError,
}

/// Redis's ldbReplParseCommand, with its C-string habits: the searches
/// stop at a NUL byte, lengths are read by `atoi`, an empty argument or
/// one over 1024 bytes is a protocol error, and so is a count over 1024.
fn parse_command(buf: &[u8]) -> Parsed {
    if buf.is_empty() {
        return Parsed::More;
    }
    let Some(star) = c_str(buf).iter().position(|&b| b == b'*') else {
        return Parsed::ProtocolError;
    };
    let Some(crlf) = find_crlf(buf, star) else {
        return Parsed::More;
    };
    let argc = atoi(&buf[star + 1..crlf]);
    if argc <= 0 || argc > 1024 {
        return Parsed::ProtocolError;
    }
    let mut p = crlf + 2;
    let mut argv = Vec::with_capacity(argc as usize);
    while argv.len() < argc as usize {
        if p >= buf.len() || buf[p] == 0 {
            return Parsed::More;
        }
        if buf[p] != b'$' {
            return Parsed::ProtocolError;
        }
        let Some(crlf) = find_crlf(buf, p) else {
            return Parsed::More;
        };
        let slen = atoi(&buf[p + 1..crlf]);
        if slen <= 0 || slen > 1024 {
            return Parsed::ProtocolError;
        }
        let slen = slen as usize;
        p = crlf + 2;
        if p + slen + 2 > buf.len() {
            return Parsed::More;
        }
        argv.push(buf[p..p + slen].to_vec());
        p += slen;
        if buf[p] != b'\r' || buf[p + 1] != b'\n' {
            return Parsed::ProtocolError;
        }
        p += 2;
    }
    Parsed::Command(argv)
}

/// `strstr(buf + from, "\r\n")`.
fn find_crlf(buf: &[u8], from: usize) -> Option<usize> {
    c_str(&buf[from..])
        .windows(2)
        .position(|w| w == b"\r\n")
        .map(|i| from + i)
}

/// The bytes up to the first NUL, as C reads a string.
fn c_str(bytes: &[u8]) -> &[u8] {
    crate::util::until_nul(bytes)
}

/// C's `atoi` (glibc's: strtol, whose saturation the cast to int wraps).
fn atoi(s: &[u8]) -> i32 {
    let s = c_str(s);
    let mut i = s
        .iter()
        .position(|b| !matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r'))
        .unwrap_or(s.len());
    let negative = s.get(i) == Some(&b'-');
    if matches!(s.get(i), Some(b'-' | b'+')) {
        i += 1;
    }
    let mut v: i128 = 0;
    while let Some(d) = s.get(i).filter(|d| d.is_ascii_digit()) {
        v = (v * 10 + i128::from(d - b'0')).min(i128::from(i64::MAX) + 1);
        i += 1;
    }
    let v = if negative { -v } else { v };
    v.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64 as i32
}

/// Whether a debugger command's name is `long` or `short` (strcasecmp,
/// so up to a NUL).
fn is(name: &[u8], short: &str, long: &str) -> bool {
    eq_ic_c(name, short) || eq_ic_c(name, long)
}

const HELP: &[&str] = &[
    "Redis Lua debugger help:",
    "[h]elp               Show this help.",
    "[s]tep               Run current line and stop again.",
    "[n]ext               Alias for step.",
    "[c]ontinue           Run till next breakpoint.",
    "[l]ist               List source code around current line.",
    "[l]ist [line]        List source code around [line].",
    "                     line = 0 means: current position.",
    "[l]ist [line] [ctx]  In this form [ctx] specifies how many lines",
    "                     to show before/after [line].",
    "[w]hole              List all source code. Alias for 'list 1 1000000'.",
    "[p]rint              Show all the local variables.",
    "[p]rint <var>        Show the value of the specified variable.",
    "                     Can also show global vars KEYS and ARGV.",
    "[b]reak              Show all breakpoints.",
    "[b]reak <line>       Add a breakpoint to the specified line.",
    "[b]reak -<line>      Remove breakpoint from the specified line.",
    "[b]reak 0            Remove all breakpoints.",
    "[t]race              Show a backtrace.",
    "[e]val <code>        Execute some Lua code (in a different callframe).",
    "[r]edis <cmd>        Execute a Redis command.",
    "[m]axlen [len]       Trim logged Redis replies and Lua var dumps to len.",
    "                     Specifying zero as <len> means unlimited.",
    "[a]bort              Stop the execution of the script. In sync",
    "                     mode dataset changes will be retained.",
    "",
    "Debugger functions you can call from Lua scripts:",
    "redis.debug()        Produce logs in the debugger console.",
    "redis.breakpoint()   Stop execution like if there was a breakpoint in the",
    "                     next line of code.",
];

/// How a stop ends.
enum Repl {
    /// Back to the script.
    Resume,
    /// The client is gone: the script runs on unattended.
    Gone,
    /// Raise this error in the script.
    Raise(&'static str),
}

/// Redis's ldbRepl: reads and runs debugger commands until one returns
/// to the script.
///
/// # Safety
///
/// `l` is the state the hook runs on, stopped between two lines.
unsafe fn repl(l: *mut ffi::lua_State) -> Repl {
    loop {
        let argv = match next_command() {
            Ok(argv) => argv,
            Err(end) => return end,
        };
        let Some(name) = argv.first() else {
            continue;
        };
        // SAFETY: forwarded.
        unsafe {
            if is(name, "h", "help") {
                with_session(|s| HELP.iter().for_each(|h| s.log_str(h)));
            } else if is(name, "s", "step") || is(name, "n", "next") {
                with_session(|s| s.step = true);
                return Repl::Resume;
            } else if is(name, "c", "continue") {
                return Repl::Resume;
            } else if is(name, "t", "trace") {
                trace(l);
            } else if is(name, "m", "maxlen") {
                with_session(|s| s.maxlen_command(&argv));
            } else if is(name, "b", "break") {
                with_session(|s| s.breakpoints(&argv));
            } else if is(name, "e", "eval") {
                eval(l, &argv);
            } else if is(name, "a", "abort") {
                return Repl::Raise("script aborted for user request");
            } else if argv.len() > 1 && is(name, "r", "redis") {
                redis(l, &argv);
            } else if is(name, "p", "print") {
                match argv.get(1) {
                    Some(var) if argv.len() == 2 => print(l, var),
                    _ => print_all(l),
                }
            } else if is(name, "l", "list") {
                let around = argv.get(1).map(|a| atoi(a)).filter(|&n| n > 0);
                let context = argv.get(2).map_or(5, |a| atoi(a));
                with_session(|s| {
                    let around = around.unwrap_or(s.currentline);
                    s.list(i64::from(around), i64::from(context));
                });
            } else if is(name, "w", "whole") {
                with_session(|s| s.list(1, 1_000_000));
            } else {
                with_session(|s| {
                    s.log_str(
                        "<error> Unknown Redis Lua debugger command or wrong number of arguments.",
                    )
                });
            }
        }
        with_session(|s| s.send_logs());
    }
}

/// The next debugger command, reading the client's socket as needed.
fn next_command() -> Result<Vec<Vec<u8>>, Repl> {
    loop {
        let parsed = with_session(|s| parse_command(&s.cbuf)).ok_or(Repl::Gone)?;
        match parsed {
            Parsed::Command(argv) => {
                // What followed the command in the same read goes too,
                // as in Redis.
                with_session(|s| s.cbuf = Vec::new());
                return Ok(argv);
            }
            Parsed::ProtocolError => return Err(Repl::Raise("protocol error")),
            Parsed::More => {}
        }
        let fd = with_session(|s| s.fd).ok_or(Repl::Gone)?;
        let mut buf = [0u8; READ_CHUNK_BYTES];
        let n = read_some(fd, &mut buf);
        let outcome = with_session(|s| {
            if n == 0 {
                // The script runs on without its user.
                s.step = false;
                s.bpcount = 0;
                return Err(Repl::Gone);
            }
            s.cbuf.extend_from_slice(&buf[..n]);
            if s.cbuf.len() > COMMAND_BUFFER_MAX_BYTES {
                s.cbuf = Vec::new();
                return Err(Repl::Raise("max client buffer reached"));
            }
            Ok(())
        });
        outcome.unwrap_or(Err(Repl::Gone))?;
    }
}

// ------------------------------------------------------------ the hook

/// The line and count hook of a debugging session (Redis's
/// luaLdbLineHook): stops at a breakpoint, after a step, after
/// `redis.breakpoint()`, or when the script has run past the time limit
/// without stopping, and runs the debugger's commands meanwhile.
///
/// # Safety
///
/// Installed by `script::enter` as the hook of the state running a script.
pub unsafe extern "C-unwind" fn line_hook(l: *mut ffi::lua_State, ar: *mut ffi::lua_Debug) {
    // SAFETY: called by Lua as its hook, with its debug record.
    let raise = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| unsafe {
        stop_if_due(l, (*ar).event)
    }));
    if let Ok(Some(msg)) = raise {
        // SAFETY: nothing of Rust's is alive in this frame; the error
        // unwinds to the script's protected call, as Redis's luaError.
        unsafe {
            push_error(l, msg);
            ffi::lua_error(l);
        }
    }
}

/// The hook's work; the error to raise, if any.
unsafe fn stop_if_due(l: *mut ffi::lua_State, event: c_int) -> Option<&'static str> {
    // SAFETY: the hook's state; an all-zero lua_Debug is a valid record
    // for lua_getstack to fill.
    let line = unsafe {
        let mut ar: ffi::lua_Debug = std::mem::zeroed();
        if ffi::lua_getstack(l, 0, &mut ar) == 0 {
            return None;
        }
        ffi::lua_getinfo(l, c"Sl".as_ptr(), &mut ar);
        // Events outside the script (the glue's own Lua) are not its lines.
        if !user_script(&ar) {
            return None;
        }
        ar.currentline
    };
    let timeout = with_session(|s| {
        s.currentline = line;
        let bp = s.is_breakpoint(line) || s.luabp;
        let mut timeout = false;
        if event == ffi::LUA_HOOKCOUNT && !s.step && !bp {
            if s.started.elapsed().as_millis() >= u128::from(s.time_limit_ms) {
                timeout = true;
                s.step = true;
            } else {
                return None;
            }
        }
        if !s.step && !bp {
            return None;
        }
        let reason = if bp {
            if s.luabp {
                "redis.breakpoint() called"
            } else {
                "break point"
            }
        } else if timeout {
            "timeout reached, infinite loop?"
        } else {
            "step over"
        };
        s.step = false;
        s.luabp = false;
        s.log(format!("* Stopped at {line}, stop reason = {reason}").into_bytes());
        s.log_source_line(i64::from(line));
        s.send_logs();
        Some(timeout)
    })??;
    // SAFETY: forwarded.
    match unsafe { repl(l) } {
        Repl::Raise(msg) => return Some(msg),
        // Nobody can stop an endless script now: end it.
        Repl::Gone if timeout => {
            return Some("timeout during Lua debugging with client closing connection");
        }
        Repl::Gone | Repl::Resume => {}
    }
    with_session(|s| s.started = Instant::now());
    None
}

/// Whether a frame is the script's (Redis matches "user_script").
fn user_script(ar: &ffi::lua_Debug) -> bool {
    // SAFETY: lua_getinfo wrote a NUL-terminated short_src.
    let src = unsafe { CStr::from_ptr(ar.short_src.as_ptr()) }.to_bytes();
    src.windows(11).any(|w| w == b"user_script")
}

/// Pushes Redis's error table for `msg` (luaPushError).
///
/// # Safety
///
/// `l` has room for three values.
unsafe fn push_error(l: *mut ffi::lua_State, msg: &str) {
    // SAFETY: forwarded.
    unsafe {
        ffi::lua_createtable(l, 0, 1);
        let text = format!("ERR {msg}");
        ffi::lua_pushlstring(l, text.as_ptr().cast(), text.len());
        drop(text);
        ffi::lua_setfield(l, -2, c"err".as_ptr());
    }
}

/// Redis's ldbTrace.
unsafe fn trace(l: *mut ffi::lua_State) {
    let mut level = 0;
    // SAFETY: the hook's state; each record is filled by lua_getstack.
    unsafe {
        let mut ar: ffi::lua_Debug = std::mem::zeroed();
        while ffi::lua_getstack(l, level, &mut ar) != 0 {
            ffi::lua_getinfo(l, c"Snl".as_ptr(), &mut ar);
            if user_script(&ar) {
                let name = if ar.name.is_null() {
                    b"top level".to_vec()
                } else {
                    CStr::from_ptr(ar.name).to_bytes().to_vec()
                };
                let mut entry = if level == 0 {
                    b"In ".to_vec()
                } else {
                    b"From ".to_vec()
                };
                entry.extend_from_slice(&name);
                entry.push(b':');
                let line = ar.currentline;
                with_session(|s| {
                    s.log(entry);
                    s.log_source_line(i64::from(line));
                });
            }
            level += 1;
        }
    }
    if level == 0 {
        with_session(|s| s.log_str("<error> Can't retrieve Lua stack."));
    }
}

/// Redis's ldbPrint: the variable in the innermost frame that has it, or
/// KEYS and ARGV.
unsafe fn print(l: *mut ffi::lua_State, var: &[u8]) {
    let var = c_str(var);
    let mut level = 0;
    // SAFETY: the hook's state; lua_getlocal pushes the value it names.
    unsafe {
        let mut ar: ffi::lua_Debug = std::mem::zeroed();
        while ffi::lua_getstack(l, level, &mut ar) != 0 {
            level += 1;
            // Lua frames of the glue are not Redis's (its are C).
            ffi::lua_getinfo(l, c"S".as_ptr(), &mut ar);
            if !user_script(&ar) && CStr::from_ptr(ar.what).to_bytes() != b"C" {
                continue;
            }
            let mut i = 1;
            loop {
                let name = ffi::lua_getlocal(l, &ar, i);
                if name.is_null() {
                    break;
                }
                i += 1;
                let found = CStr::from_ptr(name).to_bytes() == var;
                if found {
                    log_value(l, b"<value> ".to_vec());
                }
                ffi::lua_settop(l, -2);
                if found {
                    return;
                }
            }
        }
        if var == b"ARGV" || var == b"KEYS" {
            let name = if var == b"ARGV" { c"ARGV" } else { c"KEYS" };
            ffi::lua_getfield(l, ffi::LUA_GLOBALSINDEX, name.as_ptr());
            log_value(l, b"<value> ".to_vec());
            ffi::lua_settop(l, -2);
        } else {
            with_session(|s| s.log_str("No such variable."));
        }
    }
}

/// Redis's ldbPrintAll: the locals of the current frame.
unsafe fn print_all(l: *mut ffi::lua_State) {
    let mut vars = 0;
    // SAFETY: as `print`.
    unsafe {
        let mut ar: ffi::lua_Debug = std::mem::zeroed();
        if ffi::lua_getstack(l, 0, &mut ar) != 0 {
            let mut i = 1;
            loop {
                let name = ffi::lua_getlocal(l, &ar, i);
                if name.is_null() {
                    break;
                }
                i += 1;
                let name = CStr::from_ptr(name).to_bytes();
                if !name.windows(12).any(|w| w == b"(*temporary)") {
                    let mut prefix = b"<value> ".to_vec();
                    prefix.extend_from_slice(name);
                    prefix.extend_from_slice(b" = ");
                    log_value(l, prefix);
                    vars += 1;
                }
                ffi::lua_settop(l, -2);
            }
        }
    }
    if vars == 0 {
        with_session(|s| s.log_str("No local variables in the current context."));
    }
}

/// Redis's ldbEval: the code as an expression (`return <code>`), else as
/// statements, run in a frame of its own; its value or its error.
unsafe fn eval(l: *mut ffi::lua_State, argv: &[Vec<u8>]) {
    let code = argv[1..].join(&b' ');
    let expr = [b"return ".as_slice(), &code].concat();
    // SAFETY: the hook's state; the loads and the call are protected.
    unsafe {
        if load(l, &expr) != 0 {
            ffi::lua_settop(l, -2);
            if load(l, &code) != 0 {
                log_error_value(l);
                return;
            }
        }
        if ffi::lua_pcall(l, 0, 1, 0) != 0 {
            log_error_value(l);
            return;
        }
        log_value(l, b"<retval> ".to_vec());
        ffi::lua_settop(l, -2);
    }
}

/// Loads a chunk as text only: Redis's Lua refuses binary chunks, its
/// parser reporting the escape byte as an unexpected symbol.
unsafe fn load(l: *mut ffi::lua_State, code: &[u8]) -> c_int {
    let escaped = code.first() == Some(&27);
    let mut text = code.to_vec();
    if escaped {
        text[0] = 1;
    }
    // SAFETY: luaL_loadbuffer returns a status and leaves the chunk or
    // the message on the stack.
    unsafe {
        let status =
            ffi::luaL_loadbuffer(l, text.as_ptr().cast(), text.len(), c"@ldb_eval".as_ptr());
        if status != 0 && escaped {
            let mut len = 0;
            let msg = ffi::lua_tolstring(l, -1, &mut len);
            if !msg.is_null() {
                let mut msg = std::slice::from_raw_parts(msg.cast::<u8>(), len).to_vec();
                super::replace_first(&mut msg, b"\x01", b"\x1b");
                super::replace_first(&mut msg, b"char(1)", b"char(27)");
                ffi::lua_settop(l, -2);
                ffi::lua_pushlstring(l, msg.as_ptr().cast(), msg.len());
            }
        }
        status
    }
}

/// Logs the error on top of the stack as `<error> ...` and pops it.
/// Redis reads it with lua_tostring, and crashes on an error that is not
/// a string or a number (`e error({})`); here such an error shows its
/// `err` field when it has one, else the value itself.
unsafe fn log_error_value(l: *mut ffi::lua_State) {
    // SAFETY: the hook's state, with the error on top.
    unsafe {
        let mut entry = b"<error> ".to_vec();
        let mut len = 0;
        let t = ffi::lua_type(l, -1);
        if t == ffi::LUA_TSTRING || t == ffi::LUA_TNUMBER {
            let s = ffi::lua_tolstring(l, -1, &mut len);
            entry.extend_from_slice(c_str(std::slice::from_raw_parts(s.cast::<u8>(), len)));
        } else if t == ffi::LUA_TTABLE {
            ffi::lua_getfield(l, -1, c"err".as_ptr());
            if ffi::lua_type(l, -1) == ffi::LUA_TSTRING {
                let s = ffi::lua_tolstring(l, -1, &mut len);
                entry.extend_from_slice(c_str(std::slice::from_raw_parts(s.cast::<u8>(), len)));
            } else {
                render_value(&mut entry, l, ffi::lua_gettop(l) - 1, 0, LOG_MAX_BYTES + 1);
            }
            ffi::lua_settop(l, -2);
        } else {
            render_value(&mut entry, l, ffi::lua_gettop(l), 0, LOG_MAX_BYTES + 1);
        }
        ffi::lua_settop(l, -2);
        with_session(|s| s.log(entry));
    }
}

/// Redis's ldbRedis: runs the command through `redis.call` with stepping
/// on, so that the call logs the command and its reply.
unsafe fn redis(l: *mut ffi::lua_State, argv: &[Vec<u8>]) {
    // SAFETY: the hook's state; the call is protected.
    unsafe {
        if ffi::lua_checkstack(l, argv.len() as c_int + 1) == 0 {
            log_reply(b"max lua stack reached");
            return;
        }
        ffi::lua_getfield(l, ffi::LUA_GLOBALSINDEX, c"redis".as_ptr());
        ffi::lua_getfield(l, -1, c"call".as_ptr());
        for arg in &argv[1..] {
            ffi::lua_pushlstring(l, arg.as_ptr().cast(), arg.len());
        }
        with_session(|s| s.step = true);
        ffi::lua_pcall(l, argv.len() as c_int - 1, 1, 0);
        with_session(|s| s.step = false);
        ffi::lua_settop(l, -3);
    }
}

// ----------------------------------------------------- the Lua's side

/// `redis.breakpoint()`: stop at the next line, in a session.
///
/// # Safety
///
/// Called by Lua as a C function.
pub unsafe extern "C-unwind" fn lua_breakpoint(l: *mut ffi::lua_State) -> c_int {
    let on = with_session(|s| s.luabp = true).is_some();
    // SAFETY: a C function's state has room for its result.
    unsafe { ffi::lua_pushboolean(l, on as c_int) };
    1
}

/// `redis.debug(...)`: logs its arguments, in a session.
///
/// # Safety
///
/// Called by Lua as a C function.
pub unsafe extern "C-unwind" fn lua_debug(l: *mut ffi::lua_State) -> c_int {
    let Some(line) = with_session(|s| s.currentline) else {
        return 0;
    };
    let mut entry = format!("<debug> line {line}: ").into_bytes();
    // SAFETY: the arguments are at 1..=top.
    unsafe {
        let argc = ffi::lua_gettop(l);
        for i in 1..=argc {
            render_value(&mut entry, l, i, 0, LOG_MAX_BYTES + 1);
            if i != argc {
                entry.extend_from_slice(b", ");
            }
        }
    }
    with_session(|s| s.log(entry));
    0
}

/// Logs an error a script API function made, while stepping (Redis's
/// luaPushError logs every error it builds then).
pub fn log_error(text: &[u8]) {
    with_session(|s| {
        if s.step {
            let mut entry = b"<error> ".to_vec();
            entry.extend_from_slice(c_str(text));
            s.log(entry);
        }
    });
}

/// Logs the command a script runs, while stepping: `<redis> set k v`,
/// the first ten arguments.
pub fn log_command(args: &[Bytes]) {
    with_session(|s| {
        if !s.step {
            return;
        }
        let mut entry = b"<redis>".to_vec();
        for (j, a) in args.iter().enumerate() {
            if j == 10 {
                entry.extend_from_slice(format!(" ... ({} more)", args.len() - j - 1).as_bytes());
                break;
            }
            entry.push(b' ');
            // Past the log's limit the entry is dropped anyway: no need
            // to copy a huge argument whole.
            let room = (LOG_MAX_BYTES + 1).saturating_sub(entry.len());
            entry.extend_from_slice(&a[..a.len().min(room)]);
        }
        s.log(entry);
    });
}

/// Logs a command's reply (RESP) while stepping: each error in it as
/// `<error>`, then the reply as Redis's ldbRedisProtocolToHuman shows it.
pub fn log_reply(reply: &[u8]) {
    with_session(|s| {
        if !s.step {
            return;
        }
        let mut human = Human {
            out: b"<reply> ".to_vec(),
            errors: Vec::new(),
            limit: s.render_limit() + 8,
        };
        human.value(reply, 0);
        for e in human.errors {
            s.log(e);
        }
        s.log_with_maxlen(human.out);
    });
}

/// A RESP reply in Redis's debugger notation.
struct Human {
    out: Vec<u8>,
    errors: Vec<Vec<u8>>,
    limit: usize,
}

impl Human {
    /// Appends the value at `p`; returns where the next one starts.
    fn value(&mut self, r: &[u8], p: usize) -> usize {
        let Some(&kind) = r.get(p) else {
            return p;
        };
        let Some(cr) = r[p..].iter().position(|&b| b == b'\r').map(|i| p + i) else {
            return r.len();
        };
        let head = r.get(p + 1..cr).unwrap_or_default();
        let next = cr + 2;
        match kind {
            b':' => self.raw(head),
            b'$' => {
                let len = crate::util::parse_i64(head).unwrap_or(-1);
                if len < 0 {
                    self.raw(b"NULL");
                    return next;
                }
                let end = next.saturating_add(len as usize).min(r.len());
                self.repr(&r[next..end]);
                return end + 2;
            }
            b'+' | b'-' => {
                if kind == b'-' {
                    let mut e = b"<error> ".to_vec();
                    e.extend_from_slice(c_str(&r[p..cr]));
                    self.errors.push(e);
                }
                self.repr(&r[p..cr]);
            }
            b'*' | b'~' | b'%' => {
                let n = crate::util::parse_i64(head).unwrap_or(-1);
                if n < 0 && kind == b'*' {
                    self.raw(b"NULL");
                    return next;
                }
                let (open, close) = match kind {
                    b'*' => (b"[".as_slice(), b"]".as_slice()),
                    b'~' => (b"~(".as_slice(), b")".as_slice()),
                    _ => (b"{".as_slice(), b"}".as_slice()),
                };
                self.raw(open);
                let mut at = next;
                for j in 0..n.max(0) {
                    at = self.value(r, at);
                    if kind == b'%' {
                        self.raw(b" => ");
                        at = self.value(r, at);
                    }
                    if j != n - 1 {
                        self.raw(b",");
                    }
                }
                self.raw(close);
                return at;
            }
            b'_' => self.raw(b"(null)"),
            b'#' => self.raw(if head.first() == Some(&b't') {
                b"#true"
            } else {
                b"#false"
            }),
            b',' => {
                self.raw(b"(double) ");
                self.raw(head);
            }
            // Redis's notation has no other types: nothing shown, and the
            // rest read from the same place, as there.
            _ => return p,
        }
        next
    }

    fn raw(&mut self, bytes: &[u8]) {
        if self.out.len() <= self.limit {
            self.out.extend_from_slice(bytes);
        }
    }

    fn repr(&mut self, bytes: &[u8]) {
        if self.out.len() <= self.limit {
            repr_into(&mut self.out, bytes, self.limit);
        }
    }
}

/// Redis's sdscatrepr, stopping once `out` is past `limit`.
fn repr_into(out: &mut Vec<u8>, bytes: &[u8], limit: usize) {
    out.push(b'"');
    for &b in bytes {
        if out.len() > limit {
            return;
        }
        match b {
            b'\\' | b'"' => out.extend_from_slice(&[b'\\', b]),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            7 => out.extend_from_slice(b"\\a"),
            8 => out.extend_from_slice(b"\\b"),
            0x20..=0x7e => out.push(b),
            _ => out.extend_from_slice(format!("\\x{b:02x}").as_bytes()),
        }
    }
    out.push(b'"');
}

/// Logs the value on top of the stack after `prefix`, cut at `maxlen`
/// (Redis's ldbLogStackValue).
unsafe fn log_value(l: *mut ffi::lua_State, mut prefix: Vec<u8>) {
    let Some(limit) = with_session(|s| s.render_limit()) else {
        return;
    };
    let limit = prefix.len() + limit;
    // SAFETY: the value is on top.
    unsafe { render_value(&mut prefix, l, ffi::lua_gettop(l), 0, limit) };
    with_session(|s| s.log_with_maxlen(prefix));
}

/// Redis's ldbCatStackValueRec: a Lua value as the debugger shows it,
/// tables as `{1; 2}` or `{["k"]=v}`. Rendering stops once `out` is past
/// `limit` (the log cuts it there anyway), but a table's keys are still
/// all read, since whether it is an array decides its notation.
unsafe fn render_value(
    out: &mut Vec<u8>,
    l: *mut ffi::lua_State,
    idx: c_int,
    level: usize,
    limit: usize,
) {
    if level == MAX_VALUES_DEPTH {
        out.extend_from_slice(b"<max recursion level reached! Nested table?>");
        return;
    }
    // SAFETY: `idx` is a valid absolute index; the table walk leaves the
    // stack as it found it.
    unsafe {
        match ffi::lua_type(l, idx) {
            ffi::LUA_TSTRING => {
                let mut len = 0;
                let s = ffi::lua_tolstring(l, idx, &mut len);
                repr_into(out, std::slice::from_raw_parts(s.cast::<u8>(), len), limit);
            }
            ffi::LUA_TBOOLEAN => out.extend_from_slice(if ffi::lua_toboolean(l, idx) != 0 {
                b"true"
            } else {
                b"false"
            }),
            ffi::LUA_TNUMBER => out.extend_from_slice(&format_g(ffi::lua_tonumber(l, idx))),
            ffi::LUA_TNIL => out.extend_from_slice(b"nil"),
            ffi::LUA_TTABLE => render_table(out, l, idx, level + 1, limit),
            t => {
                let name: &CStr = match t {
                    ffi::LUA_TFUNCTION => c"function",
                    ffi::LUA_TUSERDATA => c"userdata",
                    ffi::LUA_TTHREAD => c"thread",
                    ffi::LUA_TLIGHTUSERDATA => c"light-userdata",
                    _ => {
                        out.extend_from_slice(b"\"<unknown-lua-type>\"");
                        return;
                    }
                };
                let mut buf = [0u8; 64];
                let n = libc::snprintf(
                    buf.as_mut_ptr().cast(),
                    buf.len(),
                    c"\"%s@%p\"".as_ptr(),
                    name.as_ptr(),
                    ffi::lua_topointer(l, idx),
                );
                out.extend_from_slice(&buf[..(n.max(0) as usize).min(buf.len() - 1)]);
            }
        }
    }
}

/// A table's two notations built side by side, the right one kept.
unsafe fn render_table(
    out: &mut Vec<u8>,
    l: *mut ffi::lua_State,
    idx: c_int,
    level: usize,
    limit: usize,
) {
    let mut array = Vec::new();
    let mut full = Vec::new();
    let mut is_array = true;
    let mut expected = 1.0;
    // SAFETY: lua_next walks the table at `idx`, key and value pushed on
    // top; each value is popped before the next step.
    unsafe {
        if ffi::lua_checkstack(l, 3) == 0 {
            return;
        }
        ffi::lua_pushnil(l);
        while ffi::lua_next(l, idx) != 0 {
            let top = ffi::lua_gettop(l);
            if is_array
                && (ffi::lua_type(l, top - 1) != ffi::LUA_TNUMBER
                    || ffi::lua_tonumber(l, top - 1) != expected)
            {
                is_array = false;
            }
            if array.len() <= limit {
                render_value(&mut array, l, top, level, limit);
                array.extend_from_slice(b"; ");
            }
            if full.len() <= limit {
                full.push(b'[');
                render_value(&mut full, l, top - 1, level, limit);
                full.extend_from_slice(b"]=");
                render_value(&mut full, l, top, level, limit);
                full.extend_from_slice(b"; ");
            }
            ffi::lua_settop(l, top - 1);
            expected += 1.0;
        }
    }
    let chosen = if is_array { &mut array } else { &mut full };
    // Without the last "; " (when the whole table was rendered).
    if chosen.ends_with(b"; ") {
        chosen.truncate(chosen.len() - 2);
    }
    out.push(b'{');
    out.extend_from_slice(chosen);
    out.push(b'}');
}

/// C's `%g`.
fn format_g(n: f64) -> Vec<u8> {
    let mut buf = [0u8; 64];
    // SAFETY: a valid buffer and a format taking one double.
    let len = unsafe { libc::snprintf(buf.as_mut_ptr().cast(), buf.len(), c"%g".as_ptr(), n) };
    buf[..(len.max(0) as usize).min(buf.len() - 1)].to_vec()
}

// ------------------------------------------------------------ sessions

/// Runs an EVAL of a client that asked for debugging (Redis's
/// evalGenericCommandWithDebugging): the session starts, `run` runs the
/// EVAL as usual (stopping in the hook), and the session ends with
/// `<endsession>`; the EVAL's reply follows, and the connection closes
/// after it, as Redis signals the end of a session.
pub fn debug_eval(
    ctx: &mut Ctx,
    mode: Mode,
    body: &[u8],
    run: impl FnOnce(&mut Ctx) -> CmdResult,
) -> CmdResult {
    ctx.store.scripting.debug.disable(ctx.me);
    let Some(fd) = ctx
        .clients
        .get(ctx.me)
        .and_then(|c| c.stream.as_ref())
        .map(|s| s.as_raw_fd())
    else {
        return run(ctx);
    };
    if active() {
        return run(ctx);
    }
    match mode {
        Mode::Sync => log::warn!("Redis synchronous debugging eval session started"),
        Mode::Forked => {
            log::warn!("Redis debugging eval session started (changes will be rolled back)")
        }
    }
    let threshold = ctx.store.config.busy_reply_threshold_ms();
    let mut session = Box::new(Session::new(
        fd,
        body,
        if threshold > 0 { threshold } else { 5000 },
    ));
    if mode == Mode::Forked {
        session.undo = Some(Undo::start(ctx));
    }
    SESSION.with(|s| *s.borrow_mut() = Some(session));
    let result = run(ctx);
    let session = SESSION.with(|s| s.borrow_mut().take());
    if let Some(mut session) = session {
        session.log_str("<endsession>");
        session.send_logs();
        if let Some(undo) = session.undo.take() {
            undo.finish(ctx);
        }
    }
    match mode {
        Mode::Sync => log::warn!("Redis synchronous debugging eval session ended"),
        Mode::Forked => log::warn!("Lua debugging session ended, dataset changes rolled back"),
    }
    ctx.client().close_after_reply = true;
    result
}

// ------------------------------------------------------------- undoing

/// What a "forked" session changed, to put back when it ends.
struct Undo {
    /// Single keys as they were before the session's first command that
    /// named them (`None`: absent).
    keys: HashMap<(usize, Bytes), Option<Saved>>,
    /// Databases saved whole (before FLUSHDB, FLUSHALL, SWAPDB), as they
    /// were before the session.
    whole: HashMap<usize, HashMap<Bytes, Saved>>,
    /// The effects record's switches, turned off for the session.
    notify_flags: u32,
    record_modified: bool,
    record_propagation: bool,
    /// How much of the record's lists (ready keys, flushed databases) the
    /// session found there: what it adds is dropped.
    ready_len: usize,
    flushed_len: usize,
    dirty: u64,
    /// Other clients' output lengths when the session started.
    outputs: Vec<(usize, u64, usize)>,
}

/// A key's value with what goes with it.
struct Saved {
    value: Value,
    access: u32,
    expire_ms: u64,
}

thread_local! {
    /// Set while a session undoes its writes, so that `before_command`
    /// costs one check otherwise.
    static UNDOING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Whether a session that undoes its writes is running: nothing it does
/// may be recorded for WATCH or tracking.
pub fn undoing() -> bool {
    UNDOING.with(|u| u.get())
}

impl Undo {
    fn start(ctx: &mut Ctx) -> Undo {
        let fx = &mut ctx.store.effects;
        let undo = Undo {
            keys: HashMap::new(),
            whole: HashMap::new(),
            notify_flags: fx.notify_flags,
            record_modified: fx.record_modified,
            record_propagation: fx.record_propagation,
            ready_len: fx.ready.len(),
            flushed_len: fx.flushed.len(),
            dirty: ctx.store.dirty,
            outputs: ctx
                .clients
                .iter()
                .filter(|(t, _)| *t != ctx.me)
                .map(|(t, c)| (t, c.id, c.out.pending()))
                .collect(),
        };
        fx.notify_flags = 0;
        fx.record_modified = false;
        fx.record_propagation = false;
        UNDOING.with(|u| u.set(true));
        undo
    }

    /// Puts back every key saved and what the session switched off.
    fn finish(self, ctx: &mut Ctx) {
        UNDOING.with(|u| u.set(false));
        let store = &mut *ctx.store;
        for (db, saved) in self.whole {
            let Some(d) = store.dbs.get_mut(db) else {
                continue;
            };
            d.flush();
            for (key, s) in saved {
                d.insert_detached(&key, s.detached());
            }
        }
        for ((db, key), saved) in self.keys {
            let Some(d) = store.dbs.get_mut(db) else {
                continue;
            };
            d.remove(&key);
            if let Some(s) = saved {
                d.insert_detached(&key, s.detached());
            }
        }
        // What the databases logged of the session and of the restore
        // (keys made, made ready) is not news to anyone.
        for d in &mut store.dbs {
            d.log.clear();
        }
        let fx = &mut store.effects;
        fx.notify_flags = self.notify_flags;
        fx.record_modified = self.record_modified;
        fx.record_propagation = self.record_propagation;
        fx.ready.truncate(self.ready_len);
        fx.flushed.truncate(self.flushed_len);
        store.dirty = self.dirty;
        for (token, id, mark) in self.outputs {
            if let Some(c) = ctx.clients.get_mut(token)
                && c.id == id
                && c.out.pending() > mark
            {
                c.out.truncate_pending(mark);
            }
        }
    }

    fn save_key(&mut self, store: &Store, db: usize, key: &[u8]) {
        if self.whole.contains_key(&db) {
            return;
        }
        let id = (db, Bytes::copy_from_slice(key));
        if self.keys.contains_key(&id) {
            return;
        }
        let Some(d) = store.dbs.get(db) else {
            return;
        };
        let saved = d.get_including_expired(key).map(|e| Saved {
            value: e.value.clone(),
            access: d.access_of(key).unwrap_or(0),
            expire_ms: d.expire_of(key),
        });
        self.keys.insert(id, saved);
    }

    fn save_db(&mut self, store: &Store, db: usize) {
        if self.whole.contains_key(&db) {
            return;
        }
        let Some(d) = store.dbs.get(db) else {
            return;
        };
        let mut all = HashMap::new();
        d.for_each_with_meta(|key, value, access, expire_ms| {
            let saved = Saved {
                value: value.clone(),
                access,
                expire_ms,
            };
            all.insert(Bytes::copy_from_slice(key), saved);
        });
        // Keys already changed in the session go back to what they were.
        let earlier: Vec<(usize, Bytes)> = self
            .keys
            .keys()
            .filter(|(d, _)| *d == db)
            .cloned()
            .collect();
        for id in earlier {
            if let Some(saved) = self.keys.remove(&id) {
                match saved {
                    Some(s) => all.insert(id.1, s),
                    None => all.remove(&id.1),
                };
            }
        }
        self.whole.insert(db, all);
    }
}

impl Saved {
    fn detached(self) -> Detached {
        Detached {
            entry: Entry { value: self.value },
            access: self.access,
            expire_ms: self.expire_ms,
        }
    }
}

/// Before a script's command in a "forked" session: saves what it may
/// change, the keys it names (in its database, and MOVE's and COPY's
/// target), or whole databases for the commands that change them whole.
pub fn before_command(
    store: &Store,
    clients: &Slab<Client>,
    lua_client: usize,
    cmd: &Command,
    args: &[Bytes],
) {
    if !undoing() {
        return;
    }
    let Some(db) = clients.get(lua_client).map(|c| c.db) else {
        return;
    };
    let index = |a: Option<&Bytes>| {
        a.and_then(|a| crate::util::parse_i64(a))
            .and_then(|n| usize::try_from(n).ok())
    };
    let mut whole = Vec::new();
    let mut keys: Vec<(usize, &[u8])> = crate::cmd::keyspec::keys_with_flags(cmd, args)
        .iter()
        .filter_map(|k| args.get(k.pos))
        .map(|k| (db, &k[..]))
        .collect();
    match cmd.name {
        "flushall" => whole.extend(0..store.dbs.len()),
        "flushdb" => whole.push(db),
        "swapdb" => whole.extend(index(args.get(1)).into_iter().chain(index(args.get(2)))),
        "move" => {
            if let (Some(key), Some(to)) = (args.get(1), index(args.get(2))) {
                keys.push((to, key));
            }
        }
        "copy" => {
            let to = args
                .iter()
                .position(|a| crate::util::eq_ic(a, "db"))
                .and_then(|i| index(args.get(i + 1)));
            if let (Some(key), Some(to)) = (args.get(2), to) {
                keys.push((to, key));
            }
        }
        _ => {}
    }
    with_session(|s| {
        if let Some(undo) = s.undo.as_mut() {
            for db in whole {
                undo.save_db(store, db);
            }
            for (db, key) in keys {
                undo.save_key(store, db, key);
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmd(parts: &[&str]) -> Vec<u8> {
        let mut v = format!("*{}\r\n", parts.len()).into_bytes();
        for p in parts {
            v.extend_from_slice(format!("${}\r\n{p}\r\n", p.len()).as_bytes());
        }
        v
    }

    #[test]
    fn parses_as_redis_does() {
        assert!(matches!(parse_command(b""), Parsed::More));
        assert!(matches!(parse_command(b"s\r\n"), Parsed::ProtocolError));
        assert!(matches!(parse_command(b"*1\r\n$1\r\n"), Parsed::More));
        assert!(matches!(
            parse_command(b"*1\r\n$0\r\n\r\n"),
            Parsed::ProtocolError
        ));
        assert!(matches!(parse_command(b"*1025\r\n"), Parsed::ProtocolError));
        assert!(matches!(
            parse_command(b"*1\r\n$1\r\nsX\n"),
            Parsed::ProtocolError
        ));
        // Leading junk before the '*' is skipped.
        match parse_command(&[b"junk".as_slice(), &cmd(&["p", "x"])].concat()) {
            Parsed::Command(argv) => assert_eq!(argv, vec![b"p".to_vec(), b"x".to_vec()]),
            _ => panic!("not parsed"),
        }
        // A NUL ends the searches: the command never completes.
        assert!(matches!(
            parse_command(b"\0*1\r\n$1\r\ns\r\n"),
            Parsed::ProtocolError
        ));
        assert!(matches!(
            parse_command(b"*1\r\n\0$1\r\ns\r\n"),
            Parsed::More
        ));
    }

    #[test]
    fn atoi_is_c() {
        assert_eq!(atoi(b" 12x"), 12);
        assert_eq!(atoi(b"-5"), -5);
        assert_eq!(atoi(b"abc"), 0);
        assert_eq!(atoi(b"99999999999999999999"), -1);
    }

    #[test]
    fn breakpoint_removal_moves_bytes() {
        let mut s = Session::new(-1, b"a\nb\nc\nd\ne\nf\ng", 5000);
        for line in [3, 5, 7] {
            assert!(s.add_breakpoint(line));
        }
        assert!(s.del_breakpoint(3));
        assert_eq!(&s.bp[..s.bpcount], &[5, 5]);
    }

    #[test]
    fn replies_in_debugger_notation() {
        let mut h = Human {
            out: Vec::new(),
            errors: Vec::new(),
            limit: 1000,
        };
        h.value(b"*3\r\n$-1\r\n$3\r\nabc\r\n-ERR x\r\n", 0);
        assert_eq!(h.out, b"[NULL,\"abc\",\"-ERR x\"]");
        assert_eq!(h.errors, vec![b"<error> -ERR x".to_vec()]);
        // Whatever the bytes, nothing is read out of bounds.
        for junk in [
            &b"\r\n"[..],
            b"*5\r\n",
            b"$10\r\nab",
            b"%2\r\n|1\r\n",
            b"*1\r\n\r",
        ] {
            h.value(junk, 0);
        }
    }
}
