//! Per-connection state: the socket, its buffers, the parser's progress and
//! the session (database, protocol, name, mode).

use std::net::SocketAddr;

use bytes::{Bytes, BytesMut};
use mio::net::TcpStream;

use crate::pubsub::Subscriptions;
use crate::resp::{Parser, Reply};

/// What a connection is for, beyond plain request/reply: it decides which
/// commands the client may run and what it receives unasked. Later modes
/// (a replica, a script's client) are further variants.
#[derive(Debug, Default)]
pub enum Mode {
    #[default]
    Normal,
    /// Subscribed to at least one channel, pattern or shard channel
    /// (Redis's CLIENT_PUBSUB). In RESP2 it may then only run the pub/sub
    /// commands, PING, QUIT and RESET; in RESP3 anything.
    Subscribed(Box<Subscriptions>),
    /// Receives every command the server runs (MONITOR). Redis lets a
    /// monitor subscribe too, so it may hold subscriptions.
    Monitor(Option<Box<Subscriptions>>),
}

impl Mode {
    pub fn is_monitor(&self) -> bool {
        matches!(self, Mode::Monitor(_))
    }

    /// What the client is subscribed to; `None` when nothing.
    pub fn subscriptions(&self) -> Option<&Subscriptions> {
        match self {
            Mode::Subscribed(s) | Mode::Monitor(Some(s)) => Some(s),
            Mode::Normal | Mode::Monitor(None) => None,
        }
    }

    /// Whether the client holds a subscription (CLIENT_PUBSUB).
    pub fn is_subscribed(&self) -> bool {
        self.subscriptions().is_some()
    }

    /// Takes the subscriptions out to change them (an empty set when
    /// none); [`Mode::put_subscriptions`] puts them back.
    pub fn take_subscriptions(&mut self) -> Box<Subscriptions> {
        match self {
            Mode::Subscribed(_) => match std::mem::take(self) {
                Mode::Subscribed(s) => s,
                _ => unreachable!("matched Subscribed above"),
            },
            Mode::Monitor(s) => s.take().unwrap_or_default(),
            Mode::Normal => Box::default(),
        }
    }

    /// Puts subscriptions back; an empty set leaves subscribed mode.
    pub fn put_subscriptions(&mut self, subs: Box<Subscriptions>) {
        let subs = (subs.total() > 0).then_some(subs);
        match self {
            Mode::Monitor(slot) => *slot = subs,
            _ => *self = subs.map_or(Mode::Normal, Mode::Subscribed),
        }
    }

    /// The output-buffer limit class (Redis's `getClientType`): a monitor
    /// counts as a normal client.
    pub fn class(&self) -> crate::config::ClientClass {
        match self {
            Mode::Subscribed(_) | Mode::Monitor(Some(_)) => crate::config::ClientClass::PubSub,
            Mode::Normal | Mode::Monitor(None) => crate::config::ClientClass::Normal,
        }
    }
}

/// Where the client is in a multi-step exchange: queuing a transaction or
/// waiting in a blocking command. The two exclude each other (EXEC denies
/// blocking; a blocked client's input waits until it is served).
#[derive(Debug, Default)]
pub enum State {
    #[default]
    Idle,
    /// Between MULTI and EXEC/DISCARD, and while EXEC runs.
    Multi(Transaction),
    /// Parked in a blocking command.
    Blocked(crate::blocking::Blocked),
}

impl State {
    pub fn multi(&self) -> Option<&Transaction> {
        match self {
            State::Multi(tx) => Some(tx),
            _ => None,
        }
    }

    pub fn multi_mut(&mut self) -> Option<&mut Transaction> {
        match self {
            State::Multi(tx) => Some(tx),
            _ => None,
        }
    }

    pub fn blocked(&self) -> Option<&crate::blocking::Blocked> {
        match self {
            State::Blocked(b) => Some(b),
            _ => None,
        }
    }

    pub fn blocked_mut(&mut self) -> Option<&mut crate::blocking::Blocked> {
        match self {
            State::Blocked(b) => Some(b),
            _ => None,
        }
    }

    pub fn is_blocked(&self) -> bool {
        matches!(self, State::Blocked(_))
    }

    /// Ends a transaction, if one is open.
    pub fn end_multi(&mut self) -> Option<Transaction> {
        match std::mem::take(self) {
            State::Multi(tx) => Some(tx),
            other => {
                *self = other;
                None
            }
        }
    }

    /// Ends a block, if the client is blocked.
    pub fn end_block(&mut self) -> Option<crate::blocking::Blocked> {
        match std::mem::take(self) {
            State::Blocked(b) => Some(b),
            other => {
                *self = other;
                None
            }
        }
    }
}

/// Redis keeps the first 16 KB of a client's pending output in a fixed
/// buffer (CLIENT LIST `obl`) and the rest in a list of blocks (`oll`,
/// `omem`); the output-buffer limits count only the list.
pub const REPLY_BUFFER_BYTES: usize = 16 * 1024;

/// The smallest reply buffer Redis shrinks a client's to (PROTO_REPLY_MIN_BYTES).
pub const REPLY_BUFFER_MIN_BYTES: usize = 1024;

/// How often Redis restarts a client's reply buffer peak
/// (reply_buffer_peak_reset_time's default).
pub const REPLY_PEAK_RESET_MS: u64 = 5000;

/// What an allocator gives for a request of `n` bytes, as jemalloc's size
/// classes round it (four classes per doubling): Redis reports a reply
/// buffer's usable size.
fn allocation_size(n: usize) -> usize {
    if n <= 64 {
        return n.next_power_of_two().max(8);
    }
    let step = n.next_power_of_two() / 8;
    n.div_ceil(step) * step
}

/// What CLIENT LIST shows of the client running the command: its output
/// and arguments, which the handler holds while it runs.
pub struct Running {
    pub pending: usize,
    pub out_capacity: usize,
    pub argv_mem: usize,
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
    /// The flags of the queued commands together, each as it was judged
    /// when queued (a script by its declared flags): what EXEC counts as
    /// for OOM, MISCONF and CLIENT PAUSE (Redis's `mstate.cmd_flags`).
    pub flags: u32,
    /// How many commands `memory` has summed, and their memory: commands
    /// are only ever appended, so each is counted once however often the
    /// client's memory is asked for.
    counted: std::cell::Cell<(usize, usize)>,
}

impl Transaction {
    /// CLIENT LIST's `multi-mem`, counted as Redis 7.0 counts it: the
    /// queued arguments' bytes plus a pointer per argument.
    pub fn memory(&self) -> usize {
        let (mut n, mut bytes) = self.counted.get();
        if n > self.commands.len() {
            (n, bytes) = (0, 0);
        }
        bytes += self.commands[n..]
            .iter()
            .flatten()
            .map(|a| a.len() + std::mem::size_of::<usize>())
            .sum::<usize>();
        self.counted.set((self.commands.len(), bytes));
        bytes
    }
}

pub struct Client {
    pub id: u64,
    /// The connection; none for the AOF loader's client, which runs the
    /// file's commands and whose replies go nowhere.
    pub stream: Option<TcpStream>,
    pub peer: SocketAddr,
    pub local: SocketAddr,
    /// Bytes read but not yet parsed into complete commands.
    pub rbuf: BytesMut,
    /// The body of a big argument being read, apart from `rbuf`.
    pub big_arg: Option<crate::bigarg::BigArg>,
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
    /// A transaction being queued, or a blocking command waiting.
    pub state: State,
    /// Commands read in the same batch as one that blocked, run once the
    /// client is served; a command held by CLIENT PAUSE waits at the front.
    pub deferred: std::collections::VecDeque<Vec<Bytes>>,
    /// Its next command (the front of `deferred`) waits for a client pause
    /// to end (Redis's BLOCKED_POSTPONE; see `crate::pause`). Not a
    /// `State`: a client queuing a transaction stays in it while its EXEC
    /// or a queued write waits.
    pub postponed: bool,
    /// The keys this client WATCHes.
    pub watched: Vec<crate::watch::WatchedKey>,
    /// Set when a watched key was modified: the next EXEC fails.
    pub dirty_cas: bool,
    /// What the client counts for in client eviction (see `client_mem`).
    pub mem: crate::client_mem::Counted,
    /// CLIENT TRACKING's state while it is on (one pointer otherwise).
    pub tracking: Option<Box<crate::tracking::ClientTracking>>,
    pub reply_mode: ReplyMode,
    pub authenticated: bool,
    /// The ACL user this client runs as (a slot of `Store::acl`), or
    /// `None` for a client with no connection (the AOF loader), which
    /// may run anything, as Redis's NULL user.
    pub user: Option<crate::acl::UserId>,
    /// That user's name, as CLIENT LIST and ACL WHOAMI show it (a user is
    /// never renamed; one removed takes its clients with it).
    pub user_name: bytes::Bytes,
    pub no_evict: bool,
    /// A script's client (Redis's Lua client): no connection, but its
    /// commands are counted and shown as any client's.
    pub script: bool,
    /// Set by QUIT, a protocol error or CLIENT KILL: write what is pending,
    /// then close.
    pub close_after_reply: bool,
    /// Woken (served, timed out or CLIENT UNBLOCKed), and what it sent
    /// while blocked not run yet: Redis's CLIENT_UNBLOCKED, flag `u`.
    pub unblocked: bool,
    /// Whether WRITABLE interest is registered (only while output remains).
    pub writable_registered: bool,
    /// Whether the client is queued for a write this loop iteration.
    pub write_queued: bool,
    /// Whether the client still has unread input after hitting its
    /// per-iteration read budget.
    pub read_queued: bool,
    /// When (Unix seconds) the output first stayed over the soft
    /// output-buffer limit, while it still is.
    pub soft_limit_since_s: Option<u64>,
    /// Bytes of output written to the socket so far: with `out.pending()`,
    /// the position of the end of the output, which `held` counts in.
    pub out_written: u64,
    /// Under `appendfsync always`: output that may not be written before
    /// the AOF is synced this far, as (end of the output it covers, AOF
    /// bytes that must be synced first), oldest first.
    pub held: std::collections::VecDeque<(u64, u64)>,
    /// The output end that syncs have released so far.
    pub released_to: u64,
    /// The query buffer's length when the running batch was parsed: what
    /// Redis's query buffer holds while it runs those commands (it trims
    /// them only after the last), CLIENT LIST's `qbuf`.
    pub batch_query_len: Option<usize>,
    /// Redis's reply buffer accounting, for CLIENT LIST: the size of the
    /// buffer a reply fills first (`rbs`), the most of it used since the
    /// last reset (`rbp`), and when that was (see [`Client::resize_reply_buffer`]).
    pub reply_buf_size: usize,
    pub reply_buf_peak: usize,
    pub reply_peak_reset_ms: u64,
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
        Client::new_parts(id, Some(stream), peer, local, now_ms, max_bulk_len)
    }

    fn new_parts(
        id: u64,
        stream: Option<TcpStream>,
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
            big_arg: None,
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
            state: State::Idle,
            deferred: Default::default(),
            postponed: false,
            watched: Vec::new(),
            dirty_cas: false,
            mem: Default::default(),
            tracking: None,
            reply_mode: ReplyMode::On,
            authenticated: false,
            user: Some(crate::acl::DEFAULT_USER),
            user_name: bytes::Bytes::from_static(b"default"),
            no_evict: false,
            script: false,
            close_after_reply: false,
            unblocked: false,
            writable_registered: false,
            write_queued: false,
            read_queued: false,
            soft_limit_since_s: None,
            out_written: 0,
            held: Default::default(),
            released_to: 0,
            batch_query_len: None,
            reply_buf_size: REPLY_BUFFER_BYTES,
            reply_buf_peak: REPLY_BUFFER_BYTES,
            // Redis stamps the first reset in seconds and compares it with
            // milliseconds: the first cron pass resets the peak.
            reply_peak_reset_ms: 0,
        }
    }

    /// A client with no connection (Redis's fake client), for running a
    /// file's commands through `call()`.
    pub fn detached(id: u64, now_ms: u64) -> Client {
        let nowhere = SocketAddr::from(([0, 0, 0, 0], 0));
        let mut c = Client::new_parts(id, None, nowhere, nowhere, now_ms, 512 << 20);
        c.authenticated = true;
        c.user = None;
        c
    }

    /// The end of the output so far (see `out_written`).
    pub fn out_end(&self) -> u64 {
        self.out_written + self.out.pending() as u64
    }

    /// How much of the pending output may be written, given that the AOF
    /// is synced up to `synced`: all of it, unless some waits for a sync.
    pub fn writable_output(&mut self, synced: u64) -> usize {
        while let Some(&(end, need)) = self.held.front() {
            if need > synced {
                break;
            }
            self.released_to = end;
            self.held.pop_front();
        }
        if self.held.is_empty() {
            return self.out.pending();
        }
        (self.released_to.saturating_sub(self.out_written) as usize).min(self.out.pending())
    }

    /// Whether the client's input waits: it is blocked in a command, or
    /// its next command is held by CLIENT PAUSE (Redis's CLIENT_BLOCKED).
    pub fn is_waiting(&self) -> bool {
        self.state.is_blocked() || self.postponed
    }

    /// The flags letters CLIENT LIST shows.
    pub fn flags(&self) -> String {
        let mut f = String::new();
        if self.mode.is_monitor() {
            f.push('O');
        }
        if self.mode.is_subscribed() {
            f.push('P');
        }
        // A client held by CLIENT PAUSE is blocked to Redis (queuing a
        // transaction too: `xb`).
        match self.state {
            State::Multi(_) => f.push('x'),
            State::Blocked(_) => f.push('b'),
            State::Idle => {}
        }
        if self.postponed {
            f.push('b');
        }
        if let Some(t) = &self.tracking {
            f.push_str(t.flag_letters());
        }
        if self.dirty_cas {
            f.push('d');
        }
        if self.close_after_reply {
            f.push('c');
        }
        if self.unblocked {
            f.push('u');
        }
        if self.no_evict {
            f.push('e');
        }
        if f.is_empty() {
            f.push('N');
        }
        f
    }

    /// Bytes of the query received and not yet run (Redis's query
    /// buffer, which also holds a big argument as it arrives).
    pub fn query_len(&self) -> usize {
        self.rbuf.len() + self.big_arg.as_ref().map_or(0, |b| b.len())
    }

    /// Memory held for the query.
    pub fn query_capacity(&self) -> usize {
        self.rbuf.capacity() + self.big_arg.as_ref().map_or(0, |b| b.capacity())
    }

    /// One line of CLIENT LIST / CLIENT INFO, in Redis 7.0's field order.
    /// `running` describes this client if it is the one running the
    /// command, whose output and arguments the handler holds meanwhile.
    pub fn info_line(&self, now_ms: u64, running: Option<&Running>) -> String {
        let name = self
            .name
            .as_deref()
            .map(String::from_utf8_lossy)
            .unwrap_or_default();
        let subs = self.mode.subscriptions();
        let (consumed, partial_args) = self.parser.partial_request();
        let (pending, argv_mem, qbuf) = match running {
            Some(r) => (
                r.pending,
                r.argv_mem,
                self.batch_query_len.unwrap_or_else(|| self.query_len()),
            ),
            None => (
                self.out.pending(),
                self.argv_mem() + partial_args,
                self.query_len().saturating_sub(consumed),
            ),
        };
        let in_buffer = pending.min(self.reply_buf_size);
        let omem = pending - in_buffer;
        format!(
            "id={} addr={} laddr={} fd={} name={} age={} idle={} flags={} db={} sub={} psub={} ssub={} multi={} qbuf={} qbuf-free={} argv-mem={} multi-mem={} rbs={} rbp={} obl={} oll={} omem={} tot-mem={} events={} cmd={} user={} redir={} resp={}",
            self.id,
            self.peer,
            self.local,
            self.fd(),
            name,
            now_ms.saturating_sub(self.created_ms) / 1000,
            now_ms.saturating_sub(self.last_interaction_ms) / 1000,
            self.flags(),
            self.db,
            subs.map_or(0, Subscriptions::channels),
            subs.map_or(0, Subscriptions::patterns),
            subs.map_or(0, Subscriptions::shard_channels),
            self.state.multi().map_or(-1, |t| t.commands.len() as i64),
            qbuf,
            self.query_capacity().saturating_sub(self.query_len()),
            argv_mem,
            self.state.multi().map_or(0, Transaction::memory),
            self.reply_buf_size,
            self.reply_buf_peak,
            in_buffer,
            omem.div_ceil(REPLY_BUFFER_BYTES),
            omem,
            self.memory_usage() + running.map_or(0, |r| r.out_capacity + r.argv_mem),
            if self.writable_registered { "rw" } else { "r" },
            self.last_cmd,
            String::from_utf8_lossy(&self.user_name),
            self.tracking
                .as_ref()
                .map_or(-1, |t| t.redirect_id() as i64),
            self.out.proto.number(),
        )
    }

    /// The bytes of the arguments the client holds between commands (those
    /// of a batch cut short).
    fn argv_mem(&self) -> usize {
        self.batch.iter().flatten().map(|a| a.len()).sum()
    }

    /// Notes how much of the reply buffer the pending output fills, before
    /// it is written (Redis updates `buf_peak` as replies are added).
    pub fn note_reply_peak(&mut self) {
        let used = self.out.pending().min(self.reply_buf_size);
        self.reply_buf_peak = self.reply_buf_peak.max(used);
    }

    /// Redis's clientsCronResizeOutputBuffer, as accounting: the reply
    /// buffer shrinks to what its peak needs when that is under half of it
    /// (not under 1 KB), doubles (up to 16 KB) when the peak filled it,
    /// and the peak restarts from what is pending every five seconds.
    pub fn resize_reply_buffer(&mut self, now_ms: u64) {
        let size = self.reply_buf_size;
        let peak = self.reply_buf_peak;
        let new_size = if size / 2 >= REPLY_BUFFER_MIN_BYTES && peak < size / 2 {
            Some(REPLY_BUFFER_MIN_BYTES.max(peak + 1))
        } else if size * 2 < REPLY_BUFFER_BYTES * 2 && peak == size {
            Some(REPLY_BUFFER_BYTES.min(size * 2))
        } else {
            None
        };
        if now_ms.saturating_sub(self.reply_peak_reset_ms) >= REPLY_PEAK_RESET_MS {
            self.reply_buf_peak = self.out.pending().min(size);
            self.reply_peak_reset_ms = now_ms;
        }
        if let Some(n) = new_size {
            self.reply_buf_size = allocation_size(n);
        }
    }

    /// Writes the reply that ends a block from outside the command (a
    /// timeout, CLIENT UNBLOCK) under CLIENT REPLY, as Redis does: the
    /// block kept the command unfinished, so OFF and a pending SKIP take
    /// this reply, and SKIP is then used up.
    pub fn end_of_block_reply(&mut self, write: impl FnOnce(&mut Reply)) {
        match self.reply_mode {
            ReplyMode::On | ReplyMode::SkipNext => write(&mut self.out),
            ReplyMode::Off => {}
            ReplyMode::Skip => self.reply_mode = ReplyMode::On,
        }
    }

    /// All the memory the client holds, as Redis's getClientMemoryUsage
    /// counts it (CLIENT LIST `tot-mem`, client eviction): its output and
    /// query buffers, the arguments of the commands it is running or has
    /// queued in a transaction, its subscriptions, and the client itself.
    pub fn memory_usage(&self) -> usize {
        std::mem::size_of::<Client>()
            + self.query_capacity()
            + self.out.capacity()
            + self.batch.iter().flatten().map(|a| a.len()).sum::<usize>()
            + self.state.multi().map_or(0, Transaction::memory)
            + self.mode.subscriptions().map_or(0, Subscriptions::overhead)
    }

    /// Output waiting beyond the first `REPLY_BUFFER_BYTES`: what Redis
    /// keeps in its reply list (`omem`), and what the output-buffer limits
    /// measure.
    pub fn output_memory(&self) -> usize {
        self.out.pending().saturating_sub(REPLY_BUFFER_BYTES)
    }

    fn fd(&self) -> i32 {
        use std::os::fd::AsRawFd;
        self.stream.as_ref().map_or(-1, |s| s.as_raw_fd())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allocation_sizes_are_jemalloc_classes() {
        assert_eq!(allocation_size(1024), 1024);
        assert_eq!(allocation_size(1025), 1280);
        assert_eq!(allocation_size(1500), 1536);
        assert_eq!(allocation_size(2049), 2560);
        assert_eq!(allocation_size(16384), 16384);
        assert_eq!(allocation_size(100), 112);
    }

    #[test]
    fn the_reply_buffer_follows_redis_resizing() {
        let mut c = Client::detached(1, 0);
        assert_eq!((c.reply_buf_size, c.reply_buf_peak), (16384, 16384));
        // The first pass only resets the peak (Redis stamps the reset in
        // seconds): a full peak is no reason to shrink.
        c.resize_reply_buffer(10_000);
        assert_eq!((c.reply_buf_size, c.reply_buf_peak), (16384, 0));
        c.resize_reply_buffer(11_000);
        assert_eq!(c.reply_buf_size, 1024);
        // A peak that fills the buffer doubles it, up to 16 KB.
        c.reply_buf_peak = 1024;
        c.resize_reply_buffer(12_000);
        assert_eq!(c.reply_buf_size, 2048);
        // Under half the buffer: shrunk to what the peak needs.
        c.reply_buf_peak = 700;
        c.resize_reply_buffer(13_000);
        assert_eq!(c.reply_buf_size, 1024);
    }
}
