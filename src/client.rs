//! Per-connection state: the socket, its buffers, the parser's progress and
//! the session (database, protocol, name, mode).

use std::net::SocketAddr;

use bytes::{Bytes, BytesMut};
use mio::net::TcpStream;

use crate::resp::{Parser, Reply};

/// What the client is doing, beyond plain request/reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Normal,
    /// Receives every command the server runs (MONITOR).
    Monitor,
}

/// CLIENT REPLY's setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplyMode {
    On,
    Off,
    /// Suppress the reply of the next command only.
    SkipNext,
    /// The command now running is the one SKIP applies to.
    Skip,
}

/// A transaction being queued (between MULTI and EXEC).
#[derive(Debug, Default)]
pub struct Transaction {
    pub commands: Vec<Vec<Bytes>>,
    /// Set when a command could not be queued (unknown, wrong arity, not
    /// allowed in a transaction): EXEC then fails with EXECABORT.
    pub aborted: bool,
    /// Set while EXEC runs the commands; the client still shows as in
    /// MULTI (flag `x`, `multi=N`), as in Redis.
    pub running: bool,
}

impl Transaction {
    /// CLIENT LIST's `multi-mem`, counted as Redis 7.0 counts it: the
    /// queued arguments' bytes plus a pointer per argument.
    pub fn memory(&self) -> usize {
        self.commands
            .iter()
            .flatten()
            .map(|a| a.len() + std::mem::size_of::<usize>())
            .sum()
    }
}

pub struct Client {
    pub id: u64,
    pub stream: TcpStream,
    pub peer: SocketAddr,
    pub local: SocketAddr,
    /// Bytes read but not yet parsed into complete commands.
    pub rbuf: BytesMut,
    pub parser: Parser,
    /// The commands parsed from one read, run as a batch; the vectors are
    /// reused between batches.
    pub batch: Vec<Vec<Bytes>>,
    /// Replies not yet written, and the protocol they are encoded in.
    pub out: Reply,
    pub db: usize,
    pub name: Option<Vec<u8>>,
    pub lib_name: Option<Vec<u8>>,
    pub lib_ver: Option<Vec<u8>>,
    pub created_ms: u64,
    pub last_interaction_ms: u64,
    /// The last command run, as CLIENT LIST shows it (`config|get`).
    pub last_cmd: &'static str,
    pub mode: Mode,
    /// Set while the client waits in a blocking command.
    pub blocked: Option<crate::blocking::Blocked>,
    /// Commands read in the same batch as one that blocked, run once the
    /// client is served.
    pub deferred: std::collections::VecDeque<Vec<Bytes>>,
    /// Set between MULTI and EXEC/DISCARD: the commands queued so far.
    pub multi: Option<Transaction>,
    /// The keys this client WATCHes.
    pub watched: Vec<crate::watch::WatchedKey>,
    /// Set when a watched key was modified: the next EXEC fails.
    pub dirty_cas: bool,
    pub reply_mode: ReplyMode,
    pub authenticated: bool,
    pub no_evict: bool,
    /// Set by QUIT, a protocol error or CLIENT KILL: write what is pending,
    /// then close.
    pub close_after_reply: bool,
    /// Whether WRITABLE interest is registered (only while output remains).
    pub writable_registered: bool,
    /// Whether the client is queued for a write this loop iteration.
    pub write_queued: bool,
    /// Whether the client still has unread input after hitting its
    /// per-iteration read budget.
    pub read_queued: bool,
}

impl Client {
    pub fn new(
        id: u64,
        stream: TcpStream,
        peer: SocketAddr,
        local: SocketAddr,
        now_ms: u64,
        max_bulk_len: usize,
    ) -> Client {
        Client {
            id,
            stream,
            peer,
            local,
            rbuf: BytesMut::new(),
            parser: Parser::new(max_bulk_len),
            batch: Vec::new(),
            out: Reply::default(),
            db: 0,
            name: None,
            lib_name: None,
            lib_ver: None,
            created_ms: now_ms,
            last_interaction_ms: now_ms,
            last_cmd: "NULL",
            mode: Mode::Normal,
            blocked: None,
            deferred: Default::default(),
            multi: None,
            watched: Vec::new(),
            dirty_cas: false,
            reply_mode: ReplyMode::On,
            authenticated: false,
            no_evict: false,
            close_after_reply: false,
            writable_registered: false,
            write_queued: false,
            read_queued: false,
        }
    }

    /// The flags letters CLIENT LIST shows.
    pub fn flags(&self) -> String {
        let mut f = String::new();
        if self.mode == Mode::Monitor {
            f.push('O');
        }
        if self.multi.is_some() {
            f.push('x');
        }
        if self.blocked.is_some() {
            f.push('b');
        }
        if self.dirty_cas {
            f.push('d');
        }
        if self.close_after_reply {
            f.push('c');
        }
        if self.no_evict {
            f.push('e');
        }
        if f.is_empty() {
            f.push('N');
        }
        f
    }

    /// One line of CLIENT LIST / CLIENT INFO, in Redis 7.0's field order.
    pub fn info_line(&self, now_ms: u64) -> String {
        let name = self
            .name
            .as_deref()
            .map(String::from_utf8_lossy)
            .unwrap_or_default();
        format!(
            "id={} addr={} laddr={} fd={} name={} age={} idle={} flags={} db={} sub=0 psub=0 ssub=0 multi={} qbuf={} qbuf-free={} argv-mem={} multi-mem={} rbs={} rbp={} obl={} oll=0 omem=0 tot-mem={} events=r cmd={} user=default redir=-1 resp={}",
            self.id,
            self.peer,
            self.local,
            self.fd(),
            name,
            now_ms.saturating_sub(self.created_ms) / 1000,
            now_ms.saturating_sub(self.last_interaction_ms) / 1000,
            self.flags(),
            self.db,
            self.multi.as_ref().map_or(-1, |t| t.commands.len() as i64),
            self.rbuf.len(),
            self.rbuf.capacity() - self.rbuf.len(),
            self.batch.iter().flatten().map(|a| a.len()).sum::<usize>(),
            self.multi.as_ref().map_or(0, Transaction::memory),
            self.rbuf.capacity(),
            self.rbuf.len(),
            self.out.len(),
            self.rbuf.capacity() + self.out.buf.capacity(),
            self.last_cmd,
            self.out.proto.number(),
        )
    }

    fn fd(&self) -> i32 {
        use std::os::fd::AsRawFd;
        self.stream.as_raw_fd()
    }
}
