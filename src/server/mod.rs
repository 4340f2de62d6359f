//! The event loop: one thread, one `mio::Poll`, every socket and the whole
//! data store.
//!
//! Each iteration: wait for readiness (no longer than the next timer), accept
//! new connections, read from readable clients and run every complete
//! command in their buffers, fire due timers (cron, active expiry), then
//! write each client's pending output once. Reads run before writes so that
//! the replies to a whole pipeline go out in one `write`.
//!
//! mio on Linux is edge-triggered: a readable event means "read until the
//! socket is drained". Each client gets one 16 KB read per iteration; one
//! whose read filled the buffer is remembered in a queue and resumed on the
//! next iteration, so one flooding client cannot starve the others.

use std::io::{self, Read, Write};
use std::mem;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use mio::net::TcpListener;
use mio::{Events, Interest, Poll, Token};
use slab::Slab;

use crate::client::{Client, Mode, ReplyMode};
use crate::cmd::{self, Resolved, flag};
use crate::config::Config;
use crate::resp::{Parsed, Reply};
use crate::store::{Store, unix_ms};
use crate::timer::TimerWheel;

const LISTENER_BASE: usize = usize::MAX - 64;
const SIGNALS: Token = Token(usize::MAX - 1);
/// The AOF's fsync helper wakes the loop when a sync that replies wait
/// for is done.
const AOF_SYNCED: Token = Token(usize::MAX - 2);
/// How much one read syscall asks for (Redis's `PROTO_IOBUF_LEN`). A client
/// reads at most one chunk per loop iteration, as Redis reads once per
/// readable event: a client streaming a huge pipeline is served in 16 KB
/// slices, so a PING from another client waits for one slice, not for the
/// whole pipeline.
const READ_CHUNK_BYTES: usize = 16 * 1024;
/// Active expiry may hold the loop for about this long per cycle.
const ACTIVE_EXPIRE_BUDGET: Duration = Duration::from_micros(1000);
/// Incremental rehashing from the cron may take this long per tick.
const REHASH_BUDGET: Duration = Duration::from_micros(1000);
/// When an expiry cycle runs out of time, the next one starts this soon.
const EXPIRE_FOLLOWUP_MS: u64 = 2;
/// The most commands parsed ahead of running them (see `process_input`).
const MAX_BATCH: usize = 32;
/// Argument vectors kept between requests for reuse hold at most this
/// many slots; a larger one (a request with millions of arguments) is
/// freed after its command.
const MAX_KEPT_ARGS: usize = 1024;
/// How much one client may be written per loop iteration while others
/// have output too (Redis's `NET_MAX_WRITES_PER_EVENT`): a fast reader of a
/// huge reply is served in slices, and everyone else gets a turn between
/// them. As in Redis, it is checked between write calls, so a slice is at
/// least one whole piece of output, and at most what the socket takes.
const MAX_WRITE_PER_ITERATION_BYTES: usize = 64 * 1024;
/// A buffer with more room than this to spare is given back once its
/// client has been idle for `IDLE_SHRINK_MS` (Redis's query buffer
/// resizing in clientsCron).
const SHRINK_SPARE_BYTES: usize = 4 * 1024;
const IDLE_SHRINK_MS: u64 = 2000;
/// A read buffer with more room than this is replaced once the requests in
/// it are parsed.
const BIG_BUFFER_BYTES: usize = 1024 * 1024;
/// An unauthenticated client may not buffer more than this.
const UNAUTHENTICATED_QUERY_LIMIT_BYTES: usize = 1024 * 1024;

/// What a timer entry means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Timer {
    /// The periodic housekeeping (Redis's `serverCron`), `hz` times a second.
    Cron,
    /// An extra active-expiry cycle, scheduled when the last one ran out of
    /// budget with expired keys left.
    ExpireCycle,
    /// A blocked client's deadline; ignored if the client has since been
    /// served (another generation) or closed.
    BlockTimeout { token: usize, generation: u64 },
    /// The end of a client pause; ignored if the pause has since been
    /// extended or lifted.
    PauseEnd { end_ms: u64 },
}

pub struct Server {
    poll: Poll,
    clients: Slab<Client>,
    store: Store,
    wheel: TimerWheel<Timer>,
    signals: signal_hook_mio::v1_0::Signals,
    /// Clients with output to write at the end of the iteration.
    pending_writes: Vec<usize>,
    /// Clients with unread input left over from their read budget.
    pending_reads: Vec<usize>,
    /// Clients with output left over from their write budget, written
    /// again next iteration (edge-triggered readiness would not say so).
    pending_rewrites: Vec<usize>,
    /// Cron ticks since the last pass over idle clients' buffers.
    ticks_since_shrink: u32,
    /// `total_commands_processed` at the last once-a-second cron pass, and
    /// whether commands ran since memory was last given back: a server
    /// that goes quiet gives back what it freed while busy.
    processed_at_last_second: u64,
    busy_since_collect: bool,
    read_scratch: Vec<u8>,
    expire_db_cursor: usize,
    /// The ready key a waiter's re-run command is served from, for the
    /// next `execute` (see `Ctx::serving`).
    serving: Option<Box<crate::blocking::Serving>>,
    /// Clients with output held for an AOF sync (`appendfsync always`),
    /// written again once a sync is done.
    held_writes: Vec<usize>,
    /// How far the AOF was synced when held output was last released.
    released_at_sync: u64,
}

mod blocked;
pub mod busy;
mod command;
mod cron;
mod output;

impl Server {
    /// Binds the listeners and prepares the loop.
    pub fn bind(config: Config) -> io::Result<Server> {
        let poll = Poll::new()?;
        let backlog = config
            .get("tcp-backlog")
            .and_then(|b| b.parse().ok())
            .unwrap_or(511);
        let (mut listeners, port) = listen(&config.bind, config.port, backlog, true)?;
        for (i, listener) in listeners.iter_mut().enumerate() {
            poll.registry()
                .register(listener, Token(LISTENER_BASE + i), Interest::READABLE)?;
        }
        let mut signals = signal_hook_mio::v1_0::Signals::new([
            signal_hook::consts::SIGINT,
            signal_hook::consts::SIGTERM,
        ])?;
        poll.registry()
            .register(&mut signals, SIGNALS, Interest::READABLE)?;
        let now = unix_ms();
        let mut wheel = TimerWheel::new(now);
        wheel.insert(now + 1000 / config.hz as u64, Timer::Cron);
        let mut store = Store::new(config);
        store.acl = crate::acl::Acl::at_startup(&store.config).map_err(io::Error::other)?;
        store.listen_port = port;
        store.aof.waker = Some(std::sync::Arc::new(mio::Waker::new(
            poll.registry(),
            AOF_SYNCED,
        )?));
        crate::lazyfree::start();
        store.busy_io = Some(busy::Io::new(&poll, listeners)?);
        let server = Server {
            poll,
            clients: Slab::new(),
            store,
            wheel,
            signals,
            pending_writes: Vec::new(),
            pending_reads: Vec::new(),
            pending_rewrites: Vec::new(),
            ticks_since_shrink: 0,
            processed_at_last_second: 0,
            busy_since_collect: false,
            read_scratch: vec![0; READ_CHUNK_BYTES],
            expire_db_cursor: 0,
            serving: None,
            held_writes: Vec::new(),
            released_at_sync: 0,
        };
        // Before any data is loaded: MEMORY STATS' `startup.allocated`.
        crate::alloc::mark_startup();
        Ok(server)
    }

    pub fn port(&self) -> u16 {
        self.store.listen_port
    }

    /// Starts loading the dataset as redis-server does at start-up: the
    /// append-only file when `appendonly` is on (it wins over the RDB
    /// file), else `dbfilename` from the working directory. The loop loads
    /// it in steps, answering clients with `-LOADING` meanwhile. Returns
    /// false when there is nothing to load (the server is ready at once).
    /// A file that cannot be opened or read is an error.
    pub fn begin_load(&mut self) -> Result<bool, String> {
        if self.store.config.get("appendonly") == Some("yes") {
            return match crate::persist::aof::load::begin(&mut self.store)? {
                Some(loading) => {
                    self.store.aof.loading = Some(loading);
                    Ok(true)
                }
                None => {
                    crate::persist::aof::open_on_start(&mut self.store)
                        .map_err(|e| format!("Can't open the append-only file: {e}"))?;
                    Ok(false)
                }
            };
        }
        let path = crate::persist::rdb_path(&self.store.config);
        match crate::persist::begin_load(&self.store, &path) {
            Ok(None) => Ok(false),
            Ok(Some(loading)) => {
                self.store.rdb.loading = Some(loading);
                Ok(true)
            }
            Err(e) => Err(format!("Error loading {}: {e}", path.display())),
        }
    }

    /// One step of the start-up AOF load; once it is done, the AOF is
    /// opened for appending. A file that does not load whole stops the
    /// server: it must not run with part of it.
    fn drive_aof_load(&mut self) -> io::Result<()> {
        let aof =
            &mut crate::persist::aof::load::drive(&mut self.store, &mut self.clients, unix_ms());
        match aof {
            Ok(false) => Ok(()),
            Ok(true) => {
                crate::persist::aof::open_on_start(&mut self.store).map_err(|e| {
                    io::Error::other(format!("Can't open the append-only file: {e}"))
                })?;
                log::info!("Ready to accept connections tcp");
                Ok(())
            }
            Err(e) => Err(io::Error::other(e.clone())),
        }
    }

    /// One step of the start-up load. A file that does not load whole
    /// stops the server: it must not run with part of it.
    fn drive_load(&mut self) -> io::Result<()> {
        match crate::persist::drive_load(&mut self.store, unix_ms()) {
            Ok(Some(_)) => {
                log::info!("Ready to accept connections tcp");
                Ok(())
            }
            Ok(None) => Ok(()),
            Err(e) => {
                let path = crate::persist::rdb_path(&self.store.config);
                Err(io::Error::other(format!(
                    "Error loading {}: {e}",
                    path.display()
                )))
            }
        }
    }

    /// SIGTERM or SIGINT: saves first when save points are set, as
    /// redis-server does; a failed save keeps the server up.
    fn shutdown_on_signal(&mut self) {
        if crate::persist::aof::prepare_shutdown(&mut self.store, false).is_err() {
            return;
        }
        if !self.store.loading()
            && crate::persist::has_save_points(&self.store.config)
            && let Err(e) = crate::persist::save_before_exit(&mut self.store, unix_ms())
        {
            log::warn!("Error trying to save the DB, can't exit: {e}");
            return;
        }
        self.store.shutdown = Some(crate::store::Shutdown::Requested);
    }

    /// Runs until SHUTDOWN or a signal.
    pub fn run(&mut self) -> io::Result<()> {
        let mut events = Events::with_capacity(1024);
        let mut fired = Vec::new();
        loop {
            // Reads queued by the previous iteration; ones queued during this
            // one wait for the next, after this iteration's replies are
            // written.
            let resumed = mem::take(&mut self.pending_reads);
            for token in mem::take(&mut self.pending_rewrites) {
                self.queue_write(token);
            }
            let snapshot_busy = self.store.rdb.snapshot.as_ref().is_some_and(|s| s.busy());
            let timeout = if self.store.loading() {
                Some(crate::persist::load_pause(&self.store.config))
            } else if snapshot_busy {
                // A snapshot walks on between events: look for events
                // without waiting, so it keeps moving while clients idle.
                Some(crate::persist::snapshot::pause(&self.store.config))
            } else if !resumed.is_empty()
                || !self.pending_writes.is_empty()
                || self.store.evictor.running
            {
                Some(Duration::ZERO)
            } else {
                self.wheel
                    .next_deadline()
                    .map(|d| Duration::from_millis(d.saturating_sub(unix_ms())))
            };
            match self.poll.poll(&mut events, timeout) {
                Ok(()) => {}
                // A signal cut the wait short: carry on with no events, so
                // the resumed reads taken above are not lost.
                Err(e) if e.kind() == io::ErrorKind::Interrupted => events.clear(),
                Err(e) => return Err(e),
            }
            for event in events.iter() {
                match event.token() {
                    SIGNALS => {
                        for sig in self.signals.pending() {
                            log::warn!("Received signal {sig}, scheduling shutdown...");
                            self.shutdown_on_signal();
                        }
                    }
                    // Held output is released below, whatever woke the loop.
                    AOF_SYNCED => {}
                    Token(t) if t >= LISTENER_BASE => self.accept(t - LISTENER_BASE),
                    Token(t) => {
                        if event.is_readable() || event.is_read_closed() || event.is_error() {
                            let hangup = event.is_read_closed() || event.is_error();
                            self.read_client(t, hangup);
                        }
                        if event.is_writable() {
                            self.queue_write(t);
                        }
                    }
                }
            }
            for t in resumed {
                if let Some(c) = self.clients.get_mut(t) {
                    c.read_queued = false;
                    self.read_client(t, false);
                }
            }
            self.wheel.advance(unix_ms(), &mut fired);
            for timer in fired.drain(..) {
                match timer {
                    Timer::Cron => self.cron(),
                    Timer::ExpireCycle => self.active_expire_cycle(),
                    Timer::BlockTimeout { token, generation } => {
                        self.time_out_block(token, generation)
                    }
                    Timer::PauseEnd { end_ms } => self.end_pause(end_ms),
                }
            }
            self.resume_unblocked(unix_ms());
            if self.store.evictor.running {
                self.evict(None);
            }
            if self.store.rdb.snapshot.is_some() {
                crate::persist::drive_snapshot(&mut self.store, unix_ms());
            }
            if self.store.rdb.loading.is_some() {
                self.drive_load()?;
            }
            if self.store.aof.loading.is_some() {
                self.drive_aof_load()?;
            }
            self.before_sleep();
            // The AOF first: no reply leaves before its write is in the
            // file (and, under `appendfsync always`, on disk).
            crate::persist::aof::flush(&mut self.store, false);
            self.hold_for_sync();
            self.flush_writes();
            self.close_killed();
            self.evict_clients();
            if self.store.shutdown.is_some() {
                self.shutdown();
                return Ok(());
            }
        }
    }

    pub(super) fn accept(&mut self, listener: usize) {
        // The listening sockets live in the store, where CONFIG SET port
        // and bind replace them and a busy script's serving accepts too.
        if let Some(io) = self.store.busy_io.take() {
            if let Some(l) = io.listeners.get(listener) {
                accept(l, &io.registry, &mut self.store, &mut self.clients);
            }
            self.store.busy_io = Some(io);
        }
    }

    /// Reads what the client has sent (one chunk) and runs every complete
    /// command. `hangup` says the event also reported the peer's FIN or an
    /// error, which a short read leaves unseen.
    pub(super) fn read_client(&mut self, token: usize, hangup: bool) {
        loop {
            let Some(client) = self.clients.get_mut(token) else {
                return;
            };
            if client.close_after_reply || client.out.overflowed {
                return;
            }
            // The body of a big argument is read straight into memory of
            // its own, as much at once as it still needs; anything else in
            // 16 KB chunks through the scratch buffer.
            start_big_arg(client);
            // With the bytes read, how many were asked for: a read that got
            // all of it may have left more in the socket.
            let big = client.big_arg.is_some();
            let Some(stream) = client.stream.as_mut() else {
                return;
            };
            let read = match &mut client.big_arg {
                Some(body) => body.read_from(stream.as_raw_fd()),
                None => (stream.read(&mut self.read_scratch)).map(|n| (n, self.read_scratch.len())),
            };
            match read {
                Ok((0, _)) => {
                    self.close_client(token);
                    return;
                }
                Ok((n, asked)) => {
                    let full = n == asked;
                    let buffered = client.query_len() + if big { 0 } else { n };
                    if buffered > self.store.config.client_query_buffer_limit_bytes {
                        let head = &client.rbuf[..client.rbuf.len().min(64)];
                        log::warn!(
                            "Closing client that reached max query buffer length: {} (qbuf initial bytes: {})",
                            client.info_line(unix_ms(), None),
                            crate::util::repr(head)
                        );
                        self.store.stats.client_query_buffer_limit_disconnections += 1;
                        self.close_client(token);
                        return;
                    }
                    if !big {
                        client.rbuf.extend_from_slice(&self.read_scratch[..n]);
                    } else if let Some(body) = client.big_arg.take_if(|b| b.missing() == 0) {
                        client
                            .parser
                            .big_body_arrived(&mut client.rbuf, body.into_bytes());
                    }
                    let now_ms = unix_ms();
                    client.last_interaction_ms = now_ms;
                    self.store.client_mem.mark(token, client);
                    self.store.stats.net_input_bytes += n as u64;
                    // A full chunk means more may be waiting, and with
                    // edge-triggered readiness nothing will say so again:
                    // come back next iteration, after the other clients had
                    // their turn. A short read drained the socket, and new
                    // data raises a new event; but a FIN that came with the
                    // data raises none, so then come back too, after this
                    // data's replies are written (as Redis does), and see it.
                    if (full || hangup) && !client.read_queued {
                        client.read_queued = true;
                        self.pending_reads.push(token);
                    }
                    self.process_input(token, now_ms);
                    return;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    log::debug!("Reading from client: {e}");
                    self.close_client(token);
                    return;
                }
            }
        }
    }
}

/// Binds a listening socket on `port` for each address of `bind` (Redis's
/// listenToPort: `*` is every IPv4 address, a leading `-` makes an address
/// optional, skipped when it is not available; no address means `*` and
/// `-::*`). With `pick` and port 0 the first socket picks the port and the
/// others follow it (tests); otherwise port 0 listens nowhere, as in Redis.
pub fn listen(
    bind: &[String],
    mut port: u16,
    backlog: i32,
    pick: bool,
) -> io::Result<(Vec<TcpListener>, u16)> {
    let mut listeners = Vec::new();
    if port == 0 && !pick {
        return Ok((listeners, 0));
    }
    let defaults = ["*".to_owned(), "-::*".to_owned()];
    let bind = if bind.is_empty() { &defaults[..] } else { bind };
    for addr in bind {
        let optional = addr.starts_with('-');
        let addr = addr.trim_start_matches('-');
        let host = match addr {
            "*" => "0.0.0.0",
            "::*" => "::",
            other => other,
        };
        let sockaddr: SocketAddr = if host.contains(':') {
            format!("[{host}]:{port}")
        } else {
            format!("{host}:{port}")
        }
        .parse()
        .map_err(|e| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("bad bind address {addr}: {e}"),
            )
        })?;
        let listener = match TcpListener::bind(sockaddr) {
            Ok(l) => l,
            Err(e)
                if optional
                    && matches!(
                        e.raw_os_error(),
                        Some(libc::EADDRNOTAVAIL | libc::EAFNOSUPPORT | libc::EPROTONOSUPPORT)
                    ) =>
            {
                continue;
            }
            Err(e) => return Err(e),
        };
        set_backlog(&listener, backlog);
        port = listener.local_addr()?.port();
        listeners.push(listener);
    }
    Ok((listeners, port))
}

/// CONFIG SET port or bind (Redis's changeListenPort and changeBindAddr):
/// closes the listening sockets, then listens on `bind` and `port`; if
/// that fails, listens again where it did before and gives the error.
pub fn relisten(store: &mut Store, bind: &[String], port: u16) -> io::Result<()> {
    let Some(mut io) = store.busy_io.take() else {
        return Err(io::Error::other("the server has no listening sockets"));
    };
    let backlog = store
        .config
        .get("tcp-backlog")
        .and_then(|b| b.parse().ok())
        .unwrap_or(511);
    let old: Vec<SocketAddr> = io
        .listeners
        .iter()
        .filter_map(|l| l.local_addr().ok())
        .collect();
    for mut l in io.listeners.drain(..) {
        let _ = io.registry.deregister(&mut l);
    }
    let outcome = listen(bind, port, backlog, false);
    let result = match outcome {
        Ok((listeners, port)) => {
            io.listeners = listeners;
            store.listen_port = port;
            Ok(())
        }
        Err(e) => {
            log::warn!("Failed to bind, trying to restore old listening sockets: {e}");
            io.listeners = old
                .iter()
                .filter_map(|a| TcpListener::bind(*a).ok())
                .inspect(|l| set_backlog(l, backlog))
                .collect();
            Err(e)
        }
    };
    for (i, l) in io.listeners.iter_mut().enumerate() {
        if let Err(e) = io
            .registry
            .register(l, Token(LISTENER_BASE + i), Interest::READABLE)
        {
            log::warn!("Registering a listening socket: {e}");
        }
    }
    store.busy_io = Some(io);
    result
}

/// Accepts every connection waiting on `listener` (the loop's, also while
/// a script is busy).
pub(super) fn accept(
    listener: &TcpListener,
    registry: &mio::Registry,
    store: &mut Store,
    clients: &mut Slab<Client>,
) {
    loop {
        let (mut stream, peer) = match listener.accept() {
            Ok(pair) => pair,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                // EMFILE and friends: log and try again on the next event
                // rather than spinning.
                log::warn!("Accepting client connection: {e}");
                return;
            }
        };
        // Refused connections are counted as rejected, not received,
        // as in Redis (which counts a connection once it is accepted).
        if clients.len() >= store.config.maxclients {
            store.stats.rejected_connections += 1;
            let _ = stream.write(b"-ERR max number of clients reached\r\n");
            continue;
        }
        if store.config.protected_mode && default_user_nopass(store) && !is_loopback_peer(&peer) {
            store.stats.rejected_connections += 1;
            let _ = stream.write(PROTECTED_MODE_DENIED);
            continue;
        }
        store.stats.total_connections_received += 1;
        let _ = stream.set_nodelay(true);
        let local = stream.local_addr().unwrap_or(peer);
        let entry = clients.vacant_entry();
        let token = entry.key();
        if let Err(e) = registry.register(&mut stream, Token(token), Interest::READABLE) {
            log::warn!("Registering client {peer}: {e}");
            continue;
        }
        let id = store.next_client_id;
        store.next_client_id += 1;
        let mut client = Client::new(
            id,
            stream,
            peer,
            local,
            unix_ms(),
            store.config.proto_max_bulk_len,
        );
        client.authenticated = store.acl.login_free();
        entry.insert(client);
        log::debug!("Accepted {peer}");
    }
}

/// What a connection from outside the loopback interface is told in
/// protected mode, before it is closed (Redis 7.0's clientAcceptHandler).
const PROTECTED_MODE_DENIED: &[u8] =
    b"-DENIED Redis is running in protected mode because protected \
mode is enabled and no password is set for the default user. \
In this mode connections are only accepted from the loopback interface. \
If you want to connect from external computers to Redis you \
may adopt one of the following solutions: \
1) Just disable protected mode sending the command \
'CONFIG SET protected-mode no' from the loopback interface \
by connecting to Redis from the same host the server is \
running, however MAKE SURE Redis is not publicly accessible \
from internet if you do so. Use CONFIG REWRITE to make this \
change permanent. \
2) Alternatively you can just disable the protected mode by \
editing the Redis configuration file, and setting the protected \
mode option to 'no', and then restarting the server. \
3) If you started the server manually just for testing, restart \
it with the '--protected-mode no' option. \
4) Setup a an authentication password for the default user. \
NOTE: You only need to do one of the above things in order for \
the server to start accepting connections from the outside.\r\n";

/// Whether the default user logs in without a password (Redis's
/// `DefaultUser->flags & USER_FLAG_NOPASS`), which with `protected-mode`
/// keeps connections from outside the loopback interface out. Redis 7.0
/// asks nothing else: an explicit `bind` does not lift protected mode.
fn default_user_nopass(store: &Store) -> bool {
    store.acl.default_user_nopass()
}

/// Redis's islocalClient: the peer's address is exactly 127.0.0.1 or ::1
/// (not the rest of 127.0.0.0/8, nor an IPv4-mapped ::ffff:127.0.0.1).
fn is_loopback_peer(peer: &SocketAddr) -> bool {
    match peer {
        SocketAddr::V4(a) => *a.ip() == std::net::Ipv4Addr::LOCALHOST,
        SocketAddr::V6(a) => *a.ip() == std::net::Ipv6Addr::LOCALHOST,
    }
}

/// Once the parser waits for a big argument's body, moves what the read
/// buffer holds of it into memory of its own (see `bigarg`), where the rest
/// is read.
fn start_big_arg(client: &mut Client) {
    if client.big_arg.is_some() {
        return;
    }
    if let Some((start, total)) = client.parser.big_body_pending(client.rbuf.len()) {
        client.big_arg = Some(crate::bigarg::BigArg::new(total, &client.rbuf[start..]));
        client.rbuf.truncate(start);
    }
}

/// Takes back the reply written since `start` (CLIENT REPLY OFF or SKIP),
/// keeping the pushes among it.
fn keep_pushes(out: &mut Reply, start: usize, pushed: &[(usize, usize)]) {
    let kept: Vec<u8> = pushed
        .iter()
        .filter(|&&(a, b)| a >= start && b <= out.pending())
        .flat_map(|&(a, b)| out.copy_range(a, b))
        .collect();
    out.truncate_pending(start);
    out.raw(&kept);
}

/// Re-issues `listen` with Redis's `tcp-backlog` (511 by default): mio
/// listens with 128, and a burst of connections beyond that waits a whole
/// SYN retry. On Linux a second `listen` just updates the backlog.
fn set_backlog(listener: &TcpListener, backlog: i32) {
    // SAFETY: the descriptor is a bound, listening socket owned by
    // `listener`, which outlives the call.
    let rc = unsafe { libc::listen(listener.as_raw_fd(), backlog) };
    if rc != 0 {
        log::warn!(
            "Could not set the listen backlog to {backlog}: {}",
            io::Error::last_os_error()
        );
    }
}
