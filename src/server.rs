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
use crate::cmd::{self, CmdError, Ctx, Resolved, flag};
use crate::config::Config;
use crate::resp::{Parsed, Reply};
use crate::store::{Store, unix_ms, unix_us};
use crate::timer::TimerWheel;

const LISTENER_BASE: usize = usize::MAX - 64;
const SIGNALS: Token = Token(usize::MAX - 1);
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
}

/// Which run of a command [`Server::account`] counts (see there).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Run {
    /// Called and done.
    Called,
    /// Called, and now blocked.
    Blocked,
    /// A blocked command's end: its re-run, served by a ready key, or
    /// CLIENT UNBLOCK.
    Served,
}

pub struct Server {
    poll: Poll,
    listeners: Vec<TcpListener>,
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
    read_scratch: Vec<u8>,
    expire_db_cursor: usize,
    /// The ready key a waiter's re-run command is served from, for the
    /// next `execute` (see `Ctx::serving`).
    serving: Option<bytes::Bytes>,
    /// Clients unblocked (served, timed out, CLIENT UNBLOCK) whose input
    /// that waited behind the blocked command has yet to run. As in Redis
    /// (`processUnblockedClients` before the iteration's writes), it runs
    /// once every ready key has served its waiters and the command that
    /// unblocked them has finished, pipeline and all.
    unblocked: Vec<usize>,
}

impl Server {
    /// Binds the listeners and prepares the loop.
    pub fn bind(config: Config) -> io::Result<Server> {
        let poll = Poll::new()?;
        let mut listeners = Vec::new();
        let mut port = config.port;
        for (i, addr) in config.bind.iter().enumerate() {
            let addr = addr.trim_start_matches('-');
            let host = if addr == "*" { "0.0.0.0" } else { addr };
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
            let mut listener = TcpListener::bind(sockaddr)?;
            set_backlog(
                &listener,
                config
                    .get("tcp-backlog")
                    .and_then(|b| b.parse().ok())
                    .unwrap_or(511),
            );
            // With --port 0 the first listener picks the port and the others
            // follow it.
            port = listener.local_addr()?.port();
            poll.registry().register(
                &mut listener,
                Token(LISTENER_BASE + i),
                Interest::READABLE,
            )?;
            listeners.push(listener);
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
        store.listen_port = port;
        crate::lazyfree::start();
        Ok(Server {
            poll,
            listeners,
            clients: Slab::new(),
            store,
            wheel,
            signals,
            pending_writes: Vec::new(),
            pending_reads: Vec::new(),
            pending_rewrites: Vec::new(),
            ticks_since_shrink: 0,
            read_scratch: vec![0; READ_CHUNK_BYTES],
            expire_db_cursor: 0,
            serving: None,
            unblocked: Vec::new(),
        })
    }

    pub fn port(&self) -> u16 {
        self.store.listen_port
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
            let timeout = if !resumed.is_empty() || !self.pending_writes.is_empty() {
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
                            self.store.shutdown = Some(crate::store::Shutdown::Requested);
                        }
                    }
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
                }
            }
            self.resume_unblocked(unix_ms());
            self.flush_writes();
            self.close_killed();
            if self.store.shutdown.is_some() {
                self.shutdown();
                return Ok(());
            }
        }
    }

    fn accept(&mut self, listener: usize) {
        loop {
            let (mut stream, peer) = match self.listeners[listener].accept() {
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
            self.store.stats.total_connections_received += 1;
            if self.clients.len() >= self.store.config.maxclients {
                self.store.stats.rejected_connections += 1;
                let _ = stream.write(b"-ERR max number of clients reached\r\n");
                continue;
            }
            let _ = stream.set_nodelay(true);
            let local = stream.local_addr().unwrap_or(peer);
            let entry = self.clients.vacant_entry();
            let token = entry.key();
            if let Err(e) =
                self.poll
                    .registry()
                    .register(&mut stream, Token(token), Interest::READABLE)
            {
                log::warn!("Registering client {peer}: {e}");
                continue;
            }
            let id = self.store.next_client_id;
            self.store.next_client_id += 1;
            let mut client = Client::new(
                id,
                stream,
                peer,
                local,
                unix_ms(),
                self.store.config.proto_max_bulk_len,
            );
            client.authenticated = self.store.config.requirepass.is_none();
            entry.insert(client);
            log::debug!("Accepted {peer}");
        }
    }

    /// Reads what the client has sent (one chunk) and runs every complete
    /// command. `hangup` says the event also reported the peer's FIN or an
    /// error, which a short read leaves unseen.
    fn read_client(&mut self, token: usize, hangup: bool) {
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
            let read = match &mut client.big_arg {
                Some(body) => body.read_from(client.stream.as_raw_fd()),
                None => (client.stream.read(&mut self.read_scratch))
                    .map(|n| (n, self.read_scratch.len())),
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
                        log::warn!(
                            "Closing client {} that reached max query buffer length",
                            client.peer
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

    /// Parses and runs every complete command in the client's buffer.
    ///
    /// Commands are parsed in batches of up to `MAX_BATCH` before any runs,
    /// so the keys of a pipeline can be prefetched together: their cache
    /// misses overlap instead of being paid one lookup at a time. Replies
    /// keep their order; a protocol error is answered after the replies of
    /// the commands before it.
    fn process_input(&mut self, token: usize, now_ms: u64) {
        // One clock read per command: each command's duration runs from the
        // end of the previous one (so it includes its own parsing).
        let mut clock = Instant::now();
        loop {
            let Some(client) = self.clients.get_mut(token) else {
                return;
            };
            // A blocked client's further input waits until it is served,
            // and a served one's waits behind what it sent while blocked
            // (run by `resume_unblocked`).
            if client.close_after_reply
                || client.out.overflowed
                || client.state.is_blocked()
                || !client.deferred.is_empty()
            {
                return;
            }
            // Redis's `authRequired`: a password is set and this client
            // has not given it (removing the password lets everyone in).
            let auth_required = !client.authenticated && self.store.config.requirepass.is_some();
            if auth_required && client.rbuf.len() > UNAUTHENTICATED_QUERY_LIMIT_BYTES {
                client.close_after_reply = true;
                self.queue_write(token);
                return;
            }
            // The parser applies the limits of the moment: CONFIG SET may
            // have changed proto-max-bulk-len, and before AUTH requests are
            // capped. Until then commands are parsed one at a time, as
            // Redis does, so a pipeline's AUTH lifts the cap for what
            // follows it.
            client.parser.set_auth(if auth_required {
                crate::resp::parser::Auth::Required
            } else {
                crate::resp::parser::Auth::Done
            });
            client
                .parser
                .set_max_bulk_len(self.store.config.proto_max_bulk_len);
            let batch_limit = if auth_required { 1 } else { MAX_BATCH };
            let mut batch = mem::take(&mut client.batch);
            let mut parsed = 0;
            let mut error = None;
            while parsed < batch_limit {
                if batch.len() == parsed {
                    batch.push(Vec::new());
                }
                batch[parsed].clear();
                match client.parser.parse(&mut client.rbuf, &mut batch[parsed]) {
                    Ok(Parsed::Command) => parsed += 1,
                    Ok(Parsed::Incomplete) => break,
                    Err(e) => {
                        error = Some(e);
                        break;
                    }
                }
            }
            if parsed > 1 {
                let db = client.db;
                self.prefetch_keys(db, &batch[..parsed]);
            }
            let mut ran = 0;
            for args in &batch[..parsed] {
                if self
                    .clients
                    .get(token)
                    .is_none_or(|c| c.close_after_reply || c.out.overflowed || c.state.is_blocked())
                {
                    break;
                }
                self.execute(token, args, now_ms, &mut clock);
                ran += 1;
                self.serve_ready(now_ms);
            }
            // Commands parsed behind one that blocked wait, unparsed again,
            // until the client is served: put them back in order.
            if ran < parsed
                && let Some(c) = self.clients.get_mut(token)
                && c.state.is_blocked()
            {
                c.deferred.extend(batch[ran..parsed].iter().cloned());
            }
            // Drop the arguments now: they hold the read buffer's memory,
            // which the next read can then reuse in place. A request of
            // millions of arguments leaves no vector of that size behind.
            for args in &mut batch[..parsed] {
                args.clear();
                if args.capacity() > MAX_KEPT_ARGS {
                    *args = Vec::new();
                }
            }
            let Some(client) = self.clients.get_mut(token) else {
                return;
            };
            client.batch = batch;
            // A buffer grown for a big argument is not kept for the small
            // requests that follow: what is left moves to a buffer its size.
            if client.rbuf.capacity() > BIG_BUFFER_BYTES
                && client.rbuf.len() < READ_CHUNK_BYTES
                && !client.parser.in_progress()
            {
                client.rbuf = bytes::BytesMut::from(&client.rbuf[..]);
            }
            if let Some(e) = error {
                log::debug!("Protocol error from client {}: {e}", client.peer);
                client.out.error_bytes(&e.message());
                client.close_after_reply = true;
                self.store.stats.total_error_replies += 1;
                *self.store.stats.errors.entry("ERR".into()).or_default() += 1;
                self.queue_write(token);
                return;
            }
            if parsed < batch_limit {
                return;
            }
        }
    }

    /// Prefetches the first key of each command in a batch.
    fn prefetch_keys(&self, db: usize, batch: &[Vec<bytes::Bytes>]) {
        let first_keys = batch.iter().filter_map(|args| {
            let cmd = cmd::lookup(args.first()?)?;
            let pos = usize::try_from(cmd.first_key).ok().filter(|&p| p > 0)?;
            args.get(pos).map(|k| k.as_ref())
        });
        if let Some(db) = self.store.dbs.get(db) {
            db.prefetch(first_keys);
        }
    }

    /// Decides whether a resolved command runs now, as Redis's
    /// `processCommand` does before `call()`: rejected (with Redis's error,
    /// dooming an open transaction), queued inside MULTI, or admitted.
    fn admit(
        &mut self,
        token: usize,
        args: &[bytes::Bytes],
        resolved: Resolved,
        out: &mut Reply,
    ) -> Option<(&'static cmd::Command, cmd::spec::Handler)> {
        let client = self.clients.get(token)?;
        let authenticated = client.authenticated || self.store.config.requirepass.is_none();
        let in_multi = client.state.multi().is_some_and(|tx| !tx.running);
        let inside_exec = client.state.multi().is_some_and(|tx| tx.running);
        let monitoring = client.mode.is_monitor();
        // Redis 7.0 checks a subscribed client's commands before they are
        // queued, but not the ones EXEC runs.
        let subscribed_resp2 = client.mode.is_subscribed() && !out.is_resp3() && !inside_exec;
        let (cmd, handler) = match resolved {
            Resolved::Found(cmd, handler) => (cmd, handler),
            Resolved::Rejected(msg, found) => {
                self.refuse(token, out, found, &msg);
                return None;
            }
        };
        let refusal: Option<std::borrow::Cow<[u8]>> = if !authenticated && !cmd.has(flag::NO_AUTH) {
            Some(b"NOAUTH Authentication required."[..].into())
        } else if in_multi && !cmd.has(flag::RUNS_IN_MULTI) && cmd.has(flag::NO_MULTI) {
            Some(b"ERR Command not allowed inside a transaction"[..].into())
        } else if subscribed_resp2 && !cmd.has(flag::SUBSCRIBED_OK) {
            Some(
                format!(
                    "ERR Can't execute '{}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context",
                    cmd.name
                )
                .into_bytes()
                .into(),
            )
        } else if monitoring && cmd.has(flag::READONLY | flag::WRITE | flag::MAY_REPLICATE) {
            // A MONITOR client is a replica to Redis, and replicas may not
            // touch the keyspace.
            Some(b"ERR Replica can't interact with the keyspace"[..].into())
        } else {
            None
        };
        if let Some(msg) = refusal {
            self.refuse(token, out, Some(cmd), &msg);
            return None;
        }
        if in_multi && !cmd.has(flag::RUNS_IN_MULTI) {
            // A transaction already doomed (an earlier error, a touched
            // WATCH) keeps nothing more, as in Redis: its commands would
            // never run.
            if let Some(c) = self.clients.get_mut(token)
                && !c.dirty_cas
                && let Some(tx) = c.state.multi_mut()
                && !tx.aborted
            {
                tx.commands.push(args.to_vec());
            }
            out.simple("QUEUED");
            return None;
        }
        Some((cmd, handler))
    }

    /// Answers a command that may not run with `msg`, as Redis's
    /// rejectCommand does: a refused EXEC ends the transaction (if any) at
    /// once with EXECABORT (execCommandAbort); any other refusal dooms an
    /// open transaction.
    fn refuse(
        &mut self,
        token: usize,
        out: &mut Reply,
        cmd: Option<&'static cmd::Command>,
        msg: &[u8],
    ) {
        if cmd.is_some_and(|c| c.name == "exec") {
            let mut abort = b"EXECABORT Transaction discarded because of: ".to_vec();
            abort.extend_from_slice(msg.strip_prefix(b"ERR ").unwrap_or(msg));
            self.reject(out, cmd, &abort);
            self.discard_transaction(token);
        } else {
            self.reject(out, cmd, msg);
            self.abort_transaction(token);
        }
    }

    /// Runs one command for a client: resolve, check, call the handler,
    /// account for it.
    fn execute(&mut self, token: usize, args: &[bytes::Bytes], now_ms: u64, clock: &mut Instant) {
        let Some(client) = self.clients.get_mut(token) else {
            return;
        };
        // Ranges of the output that are pushes, as pending-byte positions.
        let mut pushed: Vec<(usize, usize)> = Vec::new();
        let mut blocked = false;
        // Whether EXEC is running this command; blocking is denied then.
        let inside_exec = client.state.multi().is_some_and(|tx| tx.running);
        // CLIENT REPLY SKIP applies to the next command the client sends,
        // not to the next one a transaction runs.
        if client.reply_mode == ReplyMode::SkipNext && !inside_exec {
            client.reply_mode = ReplyMode::Skip;
        }
        let mut reply_mode_after = None;
        // The client keeps its protocol while its output is out (CLIENT
        // INFO shows it).
        let proto = client.out.proto;
        let mut out = mem::replace(&mut client.out, Reply::new(proto));
        // A reply past the client's hard output-buffer limit is cut short
        // (Redis stops adding to a client it will close).
        out.limit = match self.store.config.output_limits[client.mode.class() as usize].hard_bytes {
            0 => usize::MAX,
            hard => hard.saturating_add(crate::client::REPLY_BUFFER_BYTES),
        };
        // Where this command's reply starts, for CLIENT REPLY OFF or SKIP
        // (which keep the pushes) and for a closing client.
        let reply_mark = out.pending();
        let db_index = client.db;
        // Redis adds no output to a client it will close (QUIT or CLIENT
        // KILL of itself earlier in a transaction).
        let closing = client.close_after_reply;
        let resolved = cmd::resolve(args);
        // Redis records the command it looked up before deciding whether
        // it runs, so CLIENT LIST shows a rejected one too (an arity error,
        // NOAUTH, a queued command), and NULL after an unknown one; the
        // commands EXEC runs leave EXEC shown.
        if !inside_exec {
            client.last_cmd = match &resolved {
                Resolved::Found(cmd, _) => cmd.name,
                Resolved::Rejected(_, found) => found.map_or("NULL", |cmd| cmd.name),
            };
        }
        let cmd = self.admit(token, args, resolved, &mut out);

        if let Some((cmd, handler)) = cmd {
            let started = *clock;
            // Watched keys among the ones this command may write, and
            // whether each exists now; empty unless someone WATCHes.
            let watched_keys = if cmd.has(flag::WRITE) && !self.store.watches.is_empty() {
                self.watched_write_keys(db_index, cmd, args, now_ms)
            } else {
                Vec::new()
            };
            let dirty_before = self.store.dirty;
            let serving = self.serving.take();
            let served = serving.is_some();
            let mut ctx = Ctx {
                store: &mut self.store,
                clients: &mut self.clients,
                me: token,
                out: &mut out,
                now_ms,
                db_index,
                block: None,
                deny_blocking: inside_exec,
                serving,
                run_transaction: false,
                written: cmd::Written::All,
                redacted: Vec::new(),
                pushed: Vec::new(),
            };
            // A bug in one handler must not take every client down with the
            // process: the panic becomes an error reply.
            let outcome = match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                let result = handler(&mut ctx, args);
                Outcome {
                    result,
                    block: ctx.block.take(),
                    run_transaction: ctx.run_transaction,
                    written: mem::take(&mut ctx.written),
                    redacted: mem::take(&mut ctx.redacted),
                    pushed: mem::take(&mut ctx.pushed),
                }
            })) {
                Ok(outcome) => outcome,
                Err(_) => {
                    log::error!("Command '{}' panicked; the client got an error", cmd.name);
                    let e = CmdError::err(format!("internal error while running '{}'", cmd.name));
                    Outcome {
                        result: Err(e),
                        block: None,
                        run_transaction: false,
                        written: cmd::Written::All,
                        redacted: Vec::new(),
                        pushed: Vec::new(),
                    }
                }
            };
            if !watched_keys.is_empty() && self.store.dirty != dirty_before {
                self.touch_written(db_index, args, &watched_keys, &outcome);
            }
            if outcome.run_transaction {
                match self.run_transaction(token, &mut out, now_ms, clock) {
                    Some(mode) => reply_mode_after = mode,
                    None => return,
                }
            }
            let Outcome {
                result,
                block,
                redacted,
                pushed: pushed_now,
                ..
            } = outcome;
            pushed = pushed_now;
            // A command that blocked wrote nothing, so it signals nothing
            // (signalling its own keys would wake itself forever).
            blocked = block.is_some();
            if let Some(block) = block {
                self.park(token, db_index, args, block);
            }
            // Inside EXEC too: the unblocked client is answered at once,
            // and what it sent meanwhile runs later, from the loop.
            if !self.store.blocking.unblock_requests.is_empty() {
                self.unblock_requested();
            }
            // Clients CLIENT KILL ended are gone before the next command,
            // as in Redis, which frees them at once.
            if !self.store.to_close.is_empty() {
                self.close_killed();
            }
            if !blocked && cmd.has(flag::WRITE) && self.store.blocking.has_waiters() {
                let databases = self.store.dbs.len();
                for pos in cmd::command_keys(cmd, args) {
                    self.store.blocking.signal(databases, &args[pos]);
                }
            }
            let finished = Instant::now();
            *clock = finished;
            let elapsed_us = finished.duration_since(started).as_micros() as u64;
            if let Err(e) = &result {
                let msg = e.bytes();
                out.error_bytes(&msg);
                self.count_error(&String::from_utf8_lossy(&msg));
            }
            let run = match (served, blocked) {
                (true, _) => Run::Served,
                (false, true) => Run::Blocked,
                (false, false) => Run::Called,
            };
            let shown = Shown {
                args,
                redacted: &redacted,
            };
            if blocked
                && let Some(b) = self
                    .clients
                    .get_mut(token)
                    .and_then(|c| c.state.blocked_mut())
            {
                b.call_us = elapsed_us;
            }
            if self.account(token, cmd, shown, elapsed_us, result.is_err(), run) {
                self.feed_monitors(token, cmd, shown, &mut out);
            }
        }

        if !self.store.pubsub_notified.is_empty() {
            self.write_notified();
        }
        let Some(client) = self.clients.get_mut(token) else {
            return;
        };
        if closing {
            out.truncate_pending(reply_mark);
        }
        // Decided after the command ran, as Redis decides when the reply is
        // added: CLIENT REPLY ON's own OK goes out, OFF's and SKIP's don't
        // (pushes do).
        match client.reply_mode {
            ReplyMode::Off => keep_pushes(&mut out, reply_mark, &pushed),
            // A command that blocked is not done: SKIP also takes the
            // reply that ends the block (see `Client::end_of_block_reply`).
            ReplyMode::Skip => {
                keep_pushes(&mut out, reply_mark, &pushed);
                if !blocked {
                    client.reply_mode = ReplyMode::On;
                }
            }
            ReplyMode::On | ReplyMode::SkipNext => {}
        }
        if let Some(mode) = reply_mode_after {
            client.reply_mode = mode;
        }
        out.limit = usize::MAX;
        client.out = out;
        // Closing after the reply happens when the reply is written, as in
        // Redis: a client that QUITs with replies switched off writes
        // nothing, so it stays connected, reading nothing more.
        if !client.out.is_empty() || client.out.overflowed {
            self.queue_write(token);
        }
    }

    /// Writes the output a publish gave other clients (checking each
    /// against its output-buffer limits).
    fn write_notified(&mut self) {
        let mut notified = mem::take(&mut self.store.pubsub_notified);
        for &token in &notified {
            self.queue_write(token);
        }
        notified.clear();
        self.store.pubsub_notified = notified;
    }

    /// Runs the queued commands of a transaction EXEC accepted, each through
    /// normal dispatch, their replies in one array. Blocking is denied
    /// meanwhile. Returns the reply mode a queued CLIENT REPLY set, to apply
    /// once EXEC's own reply is settled; `None` if the client is gone.
    fn run_transaction(
        &mut self,
        token: usize,
        out: &mut Reply,
        now_ms: u64,
        clock: &mut Instant,
    ) -> Option<Option<ReplyMode>> {
        let c = self.clients.get_mut(token)?;
        let count = c.state.multi().map_or(0, |tx| tx.commands.len());
        out.array(count);
        c.out = mem::take(out);
        // CLIENT REPLY applies to EXEC's reply as a whole, decided by the
        // caller; the queued commands reply normally inside it.
        let reply_mode = mem::replace(&mut c.reply_mode, ReplyMode::On);
        for i in 0..count {
            // Cloning the arguments bumps reference counts; it lets the
            // transaction stay visible (CLIENT LIST `multi=N`) while it runs.
            let Some(args) = self
                .clients
                .get(token)
                .and_then(|c| c.state.multi())
                .and_then(|tx| tx.commands.get(i))
                .cloned()
            else {
                break;
            };
            self.execute(token, &args, now_ms, clock);
        }
        // The queued commands' arguments are freed now (Redis's refcounts
        // drop back to 1).
        self.store.exec_shared.clear();
        let c = self.clients.get_mut(token)?;
        c.state.end_multi();
        // EXEC's own reply (its array header) follows the mode it started
        // with; a CLIENT REPLY OFF or SKIP it ran governs what comes after.
        let changed = mem::replace(&mut c.reply_mode, reply_mode);
        let proto = c.out.proto;
        *out = mem::replace(&mut c.out, Reply::new(proto));
        Some((changed != ReplyMode::On).then_some(changed))
    }

    /// Ends a client's transaction, if any, and forgets what it watches.
    fn discard_transaction(&mut self, token: usize) {
        let Some(c) = self.clients.get_mut(token) else {
            return;
        };
        c.state.end_multi();
        self.store.watches.unwatch_all(token, c);
    }

    /// Marks a transaction aborted after a command could not be queued, so
    /// its EXEC answers EXECABORT.
    fn abort_transaction(&mut self, token: usize) {
        if let Some(tx) = self
            .clients
            .get_mut(token)
            .and_then(|c| c.state.multi_mut())
        {
            tx.aborted = true;
        }
    }

    /// The write keys of a command that someone watches, with whether each
    /// exists before the command runs.
    fn watched_write_keys(
        &self,
        db: usize,
        cmd: &'static cmd::Command,
        args: &[bytes::Bytes],
        now_ms: u64,
    ) -> Vec<(usize, bool)> {
        cmd::introspect::keys_with_flags(cmd, args)
            .into_iter()
            .filter(|k| k.flags.iter().any(|f| matches!(*f, "RW" | "OW" | "RM")))
            .filter(|k| self.store.watches.is_watched(db, &args[k.pos]))
            .map(|k| {
                (
                    k.pos,
                    self.store.dbs[db].get(&args[k.pos], now_ms).is_some(),
                )
            })
            .collect()
    }

    /// Touches the watched keys a command that changed something wrote: a
    /// key counts as written if it existed before the command or exists
    /// after it (DEL of one present key and one absent key touches only
    /// the first), unless the handler said it left the key alone.
    fn touch_written(
        &mut self,
        db: usize,
        args: &[bytes::Bytes],
        watched_keys: &[(usize, bool)],
        outcome: &Outcome,
    ) {
        for &(pos, existed) in watched_keys {
            let key = &args[pos];
            let written = match &outcome.written {
                cmd::Written::All => true,
                cmd::Written::Only(only) => only == key,
                cmd::Written::NoneHere => false,
            };
            // A key written with a deadline already past (SET ... PXAT in
            // the past) exists until something touches it: it was written.
            let exists_now = self.store.dbs[db].get_including_expired(key).is_some();
            if written && (existed || exists_now) {
                self.store.watches.touch(&mut self.clients, db, key);
            }
        }
    }

    /// Parks a client whose command asked to block.
    fn park(
        &mut self,
        token: usize,
        db: usize,
        args: &[bytes::Bytes],
        block: crate::blocking::Block,
    ) {
        let generation = self.store.blocking.next_generation();
        self.store.blocking.park(token, db, &block.keys);
        if let Some(deadline) = block.deadline_ms {
            // Like a key, a blocked client lives through its deadline's
            // millisecond: Redis times it out once `now > timeout`.
            let fires_ms = deadline.saturating_add(1);
            self.wheel
                .insert(fires_ms, Timer::BlockTimeout { token, generation });
        }
        if let Some(c) = self.clients.get_mut(token) {
            c.state = crate::client::State::Blocked(crate::blocking::Blocked {
                db,
                keys: block.keys,
                args: args.to_vec(),
                generation,
                call_us: 0,
            });
        }
    }

    /// Takes a client out of every wait list; returns what it was
    /// blocked on, if it was.
    fn unpark(&mut self, token: usize) -> Option<crate::blocking::Blocked> {
        let b = self.clients.get_mut(token)?.state.end_block()?;
        self.store.blocking.unpark(token, b.db, &b.keys);
        Some(b)
    }

    /// Serves the waiters of ready keys, oldest waiter first, each by
    /// re-running its command. A key stops serving as soon as a re-run
    /// command blocks again (the key could not serve it).
    fn serve_ready(&mut self, now_ms: u64) {
        while let Some((db, key)) = self.store.blocking.pop_ready() {
            // As in Redis 7.0, only a non-empty list serves list waiters; a
            // key deleted or replaced by another type leaves them blocked.
            let serves = |store: &Store| {
                matches!(
                    store.dbs.get(db).and_then(|d| d.get(&key, now_ms)),
                    Some(crate::db::Entry { value: crate::db::Value::List(l), .. }) if !l.is_empty()
                )
            };
            for token in self.store.blocking.waiters_of(db, &key) {
                if !serves(&self.store) {
                    break;
                }
                let Some(b) = self
                    .clients
                    .get(token)
                    .and_then(|c| c.state.blocked().cloned())
                else {
                    continue;
                };
                self.unpark(token);
                let mut clock = Instant::now();
                self.serving = Some(bytes::Bytes::from(key.clone()));
                self.execute(token, &b.args, now_ms, &mut clock);
                self.serving = None;
                let blocked_again = self
                    .clients
                    .get(token)
                    .is_some_and(|c| c.state.is_blocked());
                if blocked_again {
                    break;
                }
                self.unblocked.push(token);
                self.queue_write(token);
            }
        }
    }

    /// Runs what unblocked clients sent while they were blocked (see
    /// `Server::unblocked`).
    fn resume_unblocked(&mut self, now_ms: u64) {
        while !self.unblocked.is_empty() {
            for token in mem::take(&mut self.unblocked) {
                self.resume(token, now_ms);
            }
        }
    }

    /// Runs what a client sent while it was blocked.
    fn resume(&mut self, token: usize, now_ms: u64) {
        let mut clock = Instant::now();
        loop {
            let Some(c) = self.clients.get_mut(token) else {
                return;
            };
            if c.state.is_blocked() || c.close_after_reply {
                return;
            }
            let Some(args) = c.deferred.pop_front() else {
                break;
            };
            self.execute(token, &args, now_ms, &mut clock);
            self.serve_ready(now_ms);
        }
        if self.clients.get(token).is_some_and(|c| !c.rbuf.is_empty()) {
            self.process_input(token, now_ms);
        }
        self.queue_write(token);
    }

    fn time_out_block(&mut self, token: usize, generation: u64) {
        let current = self
            .clients
            .get(token)
            .and_then(|c| c.state.blocked())
            .is_some_and(|b| b.generation == generation);
        if !current {
            return;
        }
        self.unpark(token);
        if let Some(c) = self.clients.get_mut(token) {
            c.end_of_block_reply(Reply::null_array);
        }
        self.unblocked.push(token);
        self.queue_write(token);
    }

    /// Carries out CLIENT UNBLOCK requests made by the last command.
    ///
    /// The reply and the statistics come at once, as in Redis, which
    /// counts the blocked command as failed (even for TIMEOUT) and logs it
    /// then; the client's queued commands run later, from the loop.
    fn unblock_requested(&mut self) {
        const UNBLOCKED: &str = "UNBLOCKED client unblocked via CLIENT UNBLOCK";
        for (token, as_error) in mem::take(&mut self.store.blocking.unblock_requests) {
            let Some(blocked) = self.unpark(token) else {
                continue;
            };
            if let Some(c) = self.clients.get_mut(token) {
                if as_error {
                    c.end_of_block_reply(|out| out.error(UNBLOCKED));
                } else {
                    c.end_of_block_reply(Reply::null_array);
                }
            }
            if as_error {
                self.count_error(UNBLOCKED);
            }
            // Redis has reset the client by the time it logs the command,
            // so the slow-log entry shows no arguments.
            if let Resolved::Found(cmd, _) = cmd::resolve(&blocked.args) {
                let shown = Shown {
                    args: &[],
                    redacted: &[],
                };
                self.account(token, cmd, shown, blocked.call_us, true, Run::Served);
            }
            self.unblocked.push(token);
            self.queue_write(token);
        }
    }

    fn reject(&mut self, out: &mut Reply, cmd: Option<&'static cmd::Command>, msg: &[u8]) {
        out.error_bytes(msg);
        self.count_error(&String::from_utf8_lossy(msg));
        if let Some(cmd) = cmd {
            self.store
                .stats
                .commands
                .entry(cmd.name)
                .or_default()
                .rejected_calls += 1;
        }
    }

    /// Statistics, the latency histogram and the slow log for a command
    /// that ran; returns whether MONITOR sees it now. Redis counts a call
    /// once, when the command is first called, and MONITOR sees it then;
    /// its latency and slow-log entry are recorded when it is done, which
    /// for a command that blocked is when a ready key serves it.
    fn account(
        &mut self,
        token: usize,
        cmd: &'static cmd::Command,
        shown: Shown,
        elapsed_us: u64,
        failed: bool,
        run: Run,
    ) -> bool {
        let latency_tracking = self.store.config.latency_tracking;
        let stat = self.store.stats.commands.entry(cmd.name).or_default();
        stat.usec += elapsed_us;
        if failed {
            stat.failed_calls += 1;
        }
        if run != Run::Served {
            stat.calls += 1;
            self.store.stats.total_commands_processed += 1;
        }
        if run == Run::Blocked {
            return true;
        }
        if latency_tracking {
            stat.latency
                .get_or_insert_with(Default::default)
                .record(elapsed_us.saturating_mul(1000));
        }
        self.slowlog(token, cmd, shown, elapsed_us);
        run == Run::Called
    }

    /// Feeds MONITOR after the call, with the database the client is in
    /// then (SELECT and EXEC show the new one), as Redis does. A monitor
    /// sees its own commands too; the running client's output is `out`
    /// while it runs.
    fn feed_monitors(
        &mut self,
        token: usize,
        cmd: &'static cmd::Command,
        shown: Shown,
        out: &mut Reply,
    ) {
        if self.store.monitors.is_empty() || cmd.has(flag::SKIP_MONITOR) || cmd.has(flag::ADMIN) {
            return;
        }
        let Some(client) = self.clients.get(token) else {
            return;
        };
        let us = unix_us();
        let mut line = format!(
            "{}.{:06} [{} {}]",
            us / 1_000_000,
            us % 1_000_000,
            client.db,
            client.peer
        );
        for a in shown.iter() {
            line.push(' ');
            line.push_str(&crate::util::repr(a));
        }
        // A monitor that is closing (it QUIT) gets nothing more, as in
        // Redis.
        for i in 0..self.store.monitors.len() {
            let m = self.store.monitors[i];
            let Some(c) = self.clients.get_mut(m) else {
                continue;
            };
            if c.close_after_reply || c.out.overflowed {
                continue;
            }
            if m == token {
                out.simple(&line);
            } else {
                c.out.raw(format!("+{line}\r\n").as_bytes());
                self.queue_write(m);
            }
        }
    }

    fn count_error(&mut self, msg: &str) {
        self.store.stats.total_error_replies += 1;
        let code = msg.split(' ').next().unwrap_or("ERR").to_string();
        *self.store.stats.errors.entry(code).or_default() += 1;
    }

    fn slowlog(&mut self, token: usize, cmd: &'static cmd::Command, shown: Shown, us: u64) {
        let threshold = self.store.config.slowlog_log_slower_than_us;
        if threshold < 0 || (us as i64) < threshold || cmd.has(flag::SKIP_SLOWLOG) {
            return;
        }
        let Some(client) = self.clients.get(token) else {
            return;
        };
        // Like Redis: at most 32 arguments, each at most 128 bytes.
        let mut logged: Vec<Vec<u8>> = Vec::new();
        let argc = shown.args.len();
        for (i, a) in shown.iter().take(argc.min(32)).enumerate() {
            if i == 31 && argc > 32 {
                logged.push(format!("... ({} more arguments)", argc - 31).into_bytes());
                break;
            }
            if a.len() > 128 {
                let mut v = a[..128].to_vec();
                v.extend_from_slice(format!("... ({} more bytes)", a.len() - 128).as_bytes());
                logged.push(v);
            } else {
                logged.push(a.to_vec());
            }
        }
        let slowlog = &mut self.store.slowlog;
        let entry = crate::store::SlowEntry {
            id: slowlog.next_id,
            time_s: (unix_ms() / 1000) as i64,
            duration_us: us,
            args: logged,
            peer: client.peer.to_string(),
            name: client.name.clone().unwrap_or_default(),
        };
        slowlog.next_id += 1;
        slowlog.entries.push_front(entry);
        slowlog.entries.truncate(self.store.config.slowlog_max_len);
    }

    /// Queues a client whose output grew for this iteration's write, once
    /// its output is checked against its class's limits.
    fn queue_write(&mut self, token: usize) {
        if self.over_output_limit(token) {
            self.close_for_output_limit(token);
            return;
        }
        if let Some(c) = self.clients.get_mut(token)
            && !c.write_queued
        {
            c.write_queued = true;
            self.pending_writes.push(token);
        }
    }

    /// Redis's checkClientOutputBufferLimits: past the hard limit, or past
    /// the soft limit for longer than its seconds (counted from when the
    /// output was first seen over it, and restarted once it is under).
    /// Only output beyond the first `REPLY_BUFFER_BYTES` counts.
    fn over_output_limit(&mut self, token: usize) -> bool {
        let Some(c) = self.clients.get_mut(token) else {
            return false;
        };
        if c.out.overflowed {
            return true;
        }
        let used = c.output_memory();
        if used == 0 {
            return false;
        }
        let limit = self.store.config.output_limits[c.mode.class() as usize];
        let hard = limit.hard_bytes > 0 && used >= limit.hard_bytes;
        let mut soft = limit.soft_bytes > 0 && used >= limit.soft_bytes;
        if soft {
            let now_s = unix_ms() / 1000;
            match c.soft_limit_since_s {
                None => {
                    c.soft_limit_since_s = Some(now_s);
                    soft = false;
                }
                Some(since) => soft = now_s.saturating_sub(since) > limit.soft_seconds,
            }
        } else {
            c.soft_limit_since_s = None;
        }
        hard || soft
    }

    /// Schedules a client past its output-buffer limit to be closed once
    /// the command is done, writing it nothing more, as Redis logs and
    /// counts it.
    fn close_for_output_limit(&mut self, token: usize) {
        let Some(c) = self.clients.get_mut(token) else {
            return;
        };
        if self
            .store
            .to_close
            .iter()
            .any(|&(t, id)| t == token && id == c.id)
        {
            return;
        }
        c.out.overflowed = true;
        let now = unix_ms();
        log::warn!(
            "Client {} scheduled to be closed ASAP for overcoming of output buffer limits.",
            c.info_line(now)
        );
        self.store.stats.client_output_buffer_limit_disconnections += 1;
        self.store.to_close.push((token, c.id));
    }

    /// Writes every queued client's output; keeps WRITABLE interest only for
    /// clients whose socket could not take it all.
    fn flush_writes(&mut self) {
        let mut queued = mem::take(&mut self.pending_writes);
        // In the order output was added: once a client has its reply, all
        // output the same loop pass produced before it (a subscriber's
        // message, a MONITOR line) has been written too. (Redis writes the
        // newest first; measured, it made no difference to fan-out.)
        for token in queued.drain(..) {
            let Some(client) = self.clients.get_mut(token) else {
                continue;
            };
            client.write_queued = false;
            // A client past its output-buffer limit is closed unwritten.
            if client.out.overflowed {
                continue;
            }
            let omem = client.output_memory();
            if omem > 0 {
                self.store.note_output(omem, unix_ms() / 1000);
            }
            let mut failed = false;
            let mut written = 0;
            // Even a client alone with output is held to the budget, as in
            // Redis: others may have requests waiting to be read, and a
            // fast reader of a huge reply would keep the loop from them. A
            // monitor takes everything, as in Redis (its feed would
            // otherwise grow without bound under load).
            let budget = if client.mode.is_monitor() {
                usize::MAX
            } else {
                MAX_WRITE_PER_ITERATION_BYTES
            };
            // As in Redis, pieces go whole (a 1 MB value in one call if
            // the socket takes it) and the budget is checked between calls.
            // One piece (the usual small reply) takes write(2), cheaper
            // than writev(2) in the kernel.
            while !client.out.is_empty() && written < budget {
                let result = if client.out.is_one_piece() {
                    client.stream.write(client.out.front())
                } else {
                    let mut iov = [io::IoSlice::new(&[]); crate::resp::writer::MAX_IOV];
                    let count = client.out.io_slices(&mut iov, budget - written);
                    client.stream.write_vectored(&iov[..count])
                };
                match result {
                    Ok(0) => {
                        failed = true;
                        break;
                    }
                    Ok(n) => {
                        client.out.consume(n);
                        written += n;
                        self.store.stats.net_output_bytes += n as u64;
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => {
                        log::debug!("Writing to client: {e}");
                        failed = true;
                        break;
                    }
                }
            }
            let done = client.out.is_empty();
            // Stopped by the budget, not by a full socket: no readiness
            // event will come, so write again next iteration.
            if !done && !failed && written >= budget {
                self.pending_rewrites.push(token);
            }
            if failed || (done && client.close_after_reply) {
                self.close_client(token);
                continue;
            }
            if done {
                // Give back a large buffer once drained.
                if client.out.buf.capacity() > 1024 * 1024 {
                    client.out.buf = bytes::BytesMut::new();
                }
            }
            let want_writable = !done;
            if want_writable != client.writable_registered {
                let interest = if want_writable {
                    Interest::READABLE | Interest::WRITABLE
                } else {
                    Interest::READABLE
                };
                if let Err(e) =
                    self.poll
                        .registry()
                        .reregister(&mut client.stream, Token(token), interest)
                {
                    log::debug!("Reregistering client: {e}");
                    self.close_client(token);
                    continue;
                }
                client.writable_registered = want_writable;
            }
        }
        // Keep the vector's room for the next iteration.
        if self.pending_writes.is_empty() {
            self.pending_writes = queued;
        }
    }

    /// Closes the clients CLIENT KILL or an output-buffer limit marked,
    /// each by its id: a connection that took a closed client's slot since
    /// is left alone.
    fn close_killed(&mut self) {
        let killed = mem::take(&mut self.store.to_close);
        for (token, id) in killed {
            if self.clients.get(token).is_some_and(|c| c.id == id) {
                self.close_client(token);
            }
        }
    }

    fn close_client(&mut self, token: usize) {
        if !self.clients.contains(token) {
            return;
        }
        self.unpark(token);
        let mut client = self.clients.remove(token);
        self.store.watches.unwatch_all(token, &mut client);
        let _ = self.poll.registry().deregister(&mut client.stream);
        if client.mode.is_monitor() {
            self.store.monitors.retain(|&m| m != token);
        }
        let mut subs = client.mode.take_subscriptions();
        self.store.pubsub.forget(&mut subs, token);
        log::debug!("Client closed connection {}", client.peer);
    }

    /// Housekeeping, `hz` times a second: expiry, rehashing, table shrinking,
    /// idle-client timeouts and the ops/sec sample.
    fn cron(&mut self) {
        let now = unix_ms();
        self.active_expire_cycle();
        let deadline = Instant::now() + REHASH_BUDGET;
        for db in &mut self.store.dbs {
            db.shrink_tables();
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            db.rehash_for(left);
        }
        let timeout = self
            .store
            .config
            .get("timeout")
            .and_then(|t| t.parse::<u64>().ok())
            .unwrap_or(0);
        if timeout > 0 {
            let idle: Vec<usize> = self
                .clients
                .iter()
                // Monitors, subscribers and blocked clients wait on
                // purpose, as in Redis.
                .filter(|(_, c)| {
                    matches!(c.mode, Mode::Normal)
                        && !c.state.is_blocked()
                        && now.saturating_sub(c.last_interaction_ms) > timeout * 1000
                })
                .map(|(t, _)| t)
                .collect();
            for t in idle {
                self.close_client(t);
            }
        }
        // A big value deleted or a big reply written: give the memory back
        // to the OS now, not whenever this thread next allocates.
        if crate::alloc::much_freed() {
            crate::alloc::return_free_memory();
        }
        // Once a second, give back the buffers of clients idle for a while.
        self.ticks_since_shrink += 1;
        if self.ticks_since_shrink >= self.store.config.hz.max(1) {
            self.ticks_since_shrink = 0;
            self.shrink_idle_buffers(now);
        }
        let samples = &mut self.store.stats.ops_samples;
        samples.push_back((now, self.store.stats.total_commands_processed));
        while samples.len() > 16 {
            samples.pop_front();
        }
        let hz = self.store.config.hz.max(1) as u64;
        self.wheel.insert(now + 1000 / hz, Timer::Cron);
    }

    /// Frees the empty read and write buffers of clients idle for
    /// `IDLE_SHRINK_MS` that hold more than `SHRINK_SPARE_BYTES` of room:
    /// a connection that once sent or received something big costs nothing
    /// for it while it idles (Redis's clientsCronResizeQueryBuffer and
    /// clientsCronResizeOutputBuffer). A pass looks at every client once a
    /// second, a few hundred nanoseconds each.
    fn shrink_idle_buffers(&mut self, now_ms: u64) {
        for (_, c) in self.clients.iter_mut() {
            if now_ms.saturating_sub(c.last_interaction_ms) <= IDLE_SHRINK_MS {
                continue;
            }
            if c.rbuf.is_empty() && c.rbuf.capacity() > SHRINK_SPARE_BYTES {
                c.rbuf = bytes::BytesMut::new();
            }
            if c.out.is_empty() && c.out.buf.capacity() > SHRINK_SPARE_BYTES {
                c.out.buf = bytes::BytesMut::new();
            }
            if c.batch.capacity() > 1 && c.batch.iter().all(Vec::is_empty) {
                c.batch = Vec::new();
            }
        }
    }

    /// Deletes expired keys, round-robin over the databases, for at most
    /// `ACTIVE_EXPIRE_BUDGET`. If time ran out, another cycle follows soon
    /// so memory keeps being reclaimed while clients are served in between.
    fn active_expire_cycle(&mut self) {
        if !self.store.active_expire_enabled {
            return;
        }
        let start = Instant::now();
        let deadline = start + ACTIVE_EXPIRE_BUDGET;
        let now = unix_ms();
        let n = self.store.dbs.len();
        let mut sampled = 0;
        let mut expired = 0;
        let mut out_of_time = false;
        for _ in 0..n {
            let i = self.expire_db_cursor % n;
            let report = self.store.dbs[i].active_expire(now, deadline);
            sampled += report.sampled;
            expired += report.expired;
            if report.out_of_time {
                out_of_time = true;
                break;
            }
            self.expire_db_cursor = (i + 1) % n;
        }
        self.store.stats.expired_keys += expired as u64;
        self.store.stats.expire_cycle_cpu_ms += start.elapsed().as_millis() as u64;
        if sampled > 0 {
            self.store.stats.expired_stale_perc = expired as f64 * 100.0 / sampled as f64;
        }
        if out_of_time {
            self.wheel
                .insert(now + EXPIRE_FOLLOWUP_MS, Timer::ExpireCycle);
        }
    }

    fn shutdown(&mut self) {
        log::warn!("User requested shutdown...");
        // Give clients what they were already sent an answer for.
        for (_, c) in self.clients.iter_mut() {
            while !c.out.is_empty() {
                match c.stream.write(c.out.front()) {
                    Ok(n) if n > 0 => c.out.consume(n),
                    _ => break,
                }
            }
        }
        log::warn!("ferrokv is now ready to exit, bye bye...");
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

/// What a handler left for the loop besides its reply.
struct Outcome {
    result: cmd::CmdResult,
    block: Option<crate::blocking::Block>,
    run_transaction: bool,
    written: cmd::Written,
    redacted: Vec<usize>,
    pushed: Vec<(usize, usize)>,
}

/// A command's arguments as MONITOR and the slow log show them: the
/// positions in `redacted` (passwords) appear as "(redacted)".
#[derive(Clone, Copy)]
struct Shown<'a> {
    args: &'a [bytes::Bytes],
    redacted: &'a [usize],
}

impl<'a> Shown<'a> {
    fn iter(self) -> impl Iterator<Item = &'a [u8]> {
        self.args.iter().enumerate().map(move |(i, a)| {
            if self.redacted.contains(&i) {
                &b"(redacted)"[..]
            } else {
                &a[..]
            }
        })
    }
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
