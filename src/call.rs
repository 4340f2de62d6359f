//! `call()`: runs one command against the store, as Redis's `call()` does,
//! apart from the loop.
//!
//! The loop's command path (`server::command`) is the gatekeeping that
//! belongs to a connection: parsing, resolving, arity, authentication,
//! MULTI queueing, Pub/Sub mode, CLIENT REPLY. What it admits runs here,
//! and so does everything that runs commands for someone else: EXEC's
//! queued commands, a blocked client served by a ready key, and later a
//! script. Nothing here knows of sockets or `mio`; the reply goes to
//! whatever [`Reply`] the caller gives.
//!
//! After the handler, and once per call, this is where everything a
//! command did is accounted for: the error reply and its statistics,
//! INFO commandstats and latency, the slow log, MONITOR, CLIENT UNBLOCK
//! and CLIENT KILL requests, and the effects record (`crate::effects`):
//! its keyspace events are published after every call, its modified keys
//! (WATCH, tracking), ready keys and propagation after the top-level one.

use std::mem;
use std::time::Instant;

use bytes::Bytes;
use slab::Slab;

use crate::blocking::{Block, Serving};
use crate::client::{Client, ReplyMode};
use crate::cmd::{self, CmdError, Command, Ctx, Resolved, flag, spec::Handler};
use crate::drain::Finished;
use crate::effects::Own;
use crate::resp::Reply;
use crate::store::{Stats, Store, unix_ms, unix_us};

/// One command to run.
pub struct Request<'a> {
    /// The client it runs for (its slab key).
    pub token: usize,
    pub cmd: &'static Command,
    pub handler: Handler,
    pub args: &'a [Bytes],
    pub now_ms: u64,
    /// Inside EXEC: blocking commands answer as their non-blocking forms.
    pub deny_blocking: bool,
    /// A blocked client's command, run again for a ready key.
    pub serving: Option<Box<Serving>>,
    /// Run by another call (EXEC's queued commands): modified keys, ready
    /// keys and propagation are drained with the outer call.
    pub nested: bool,
}

/// What a call left for its caller besides the reply.
#[derive(Debug, Default)]
pub struct Called {
    pub failed: bool,
    /// The command could not be served now: the loop parks the client.
    pub block: Option<Box<Block>>,
    /// Ranges of the reply that are pushes (see `Ctx::push`).
    pub pushed: Vec<(usize, usize)>,
    /// The reply mode a queued CLIENT REPLY left, for after EXEC's reply.
    pub reply_mode_after: Option<ReplyMode>,
    pub elapsed_us: u64,
}

/// Which run of a command [`account`] counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Run {
    /// Called and done.
    Called,
    /// Called, and now blocked.
    Blocked,
    /// A blocked command's end: its re-run, served by a ready key, or
    /// CLIENT UNBLOCK.
    Served,
}

/// What the handler left, read out of its context.
struct Outcome {
    result: cmd::CmdResult,
    failed: bool,
    block: Option<Box<Block>>,
    run_transaction: bool,
    redacted: Vec<usize>,
    pushed: Vec<(usize, usize)>,
}

/// Runs one command and accounts for everything it did.
pub fn call(
    store: &mut Store,
    clients: &mut Slab<Client>,
    out: &mut Reply,
    req: Request,
    clock: &mut Instant,
) -> Called {
    let started = *clock;
    let reply_start = out.pending();
    let Some(db) = clients.get(req.token).map(|c| c.db) else {
        return Called::default();
    };
    // A debugging session that will undo its writes (see script::ldb)
    // touches no WATCH and no tracking table.
    store.effects.record_modified =
        (!store.watches.is_empty() || store.tracking.is_active()) && !crate::script::ldb::undoing();
    store.stats.errors_mark = store.stats.total_error_replies;
    let dirty_before = store.dirty;
    let blocked_call_us = req.serving.as_ref().map(|s| s.call_us);
    let served = blocked_call_us.is_some();
    let outcome = run_handler(store, clients, out, &req, db);
    let mut called = Called {
        failed: outcome.result.is_err() || outcome.failed,
        block: outcome.block,
        pushed: outcome.pushed,
        ..Called::default()
    };
    if outcome.run_transaction {
        called.reply_mode_after = run_transaction(store, clients, out, &req, &mut called, clock);
    }
    if let Err(e) = &outcome.result {
        let msg = e.bytes();
        out.error_bytes(&msg);
        if !matches!(e, CmdError::Uncounted(_)) {
            count_error(&mut store.stats, &String::from_utf8_lossy(&msg));
        }
    }
    // What the database logged (a key expired on the way) goes first.
    store.absorb(db);
    // A command that blocked did nothing yet; it propagates when served.
    let own = mem::take(&mut store.effects.own);
    if called.block.is_none() {
        propagate_own(store, &req, db, dirty_before, own);
    }
    if !store.blocking.unblock_requests.is_empty() {
        unblock_requested(store, clients);
    }
    if !store.to_close.is_empty() {
        close_killed(store, clients);
    }
    // Redis's incrCommandStatsOnError: an error reply counted since the
    // call started, or since a call nested in it (EXEC's) ended, fails it,
    // even one sent to another client (CLIENT UNBLOCK ... ERROR).
    if store.stats.total_error_replies > store.stats.errors_mark {
        called.failed = true;
    }
    store.stats.errors_mark = store.stats.total_error_replies;
    let finished = Instant::now();
    *clock = finished;
    called.elapsed_us = finished.duration_since(started).as_micros() as u64;
    let run = match (served, called.block.is_some()) {
        (true, _) => Run::Served,
        (false, true) => Run::Blocked,
        (false, false) => Run::Called,
    };
    let shown = Shown {
        args: req.args,
        redacted: &outcome.redacted,
    };
    let failed = called.failed;
    // A served command's duration is the call that blocked and this run
    // together, as Redis's updateStatsOnUnblock counts it.
    let elapsed = called.elapsed_us + blocked_call_us.unwrap_or(0);
    // The AOF loader's commands (a client with no connection) are the
    // dataset coming back, not commands served: Redis runs them without
    // counting them, and MONITOR does not see them.
    let counted = clients
        .get(req.token)
        .is_some_and(|c| c.stream.is_some() || c.script);
    if counted {
        sample_latency(store, req.cmd, run, called.elapsed_us);
    }
    let monitored = counted
        && account(
            store, clients, req.token, req.cmd, shown, elapsed, failed, run,
        );
    let at = Finished {
        out,
        pushed: &mut called.pushed,
        me: req.token,
        db,
        reply_start,
        nested: req.nested,
        transaction: !req.cmd.has(flag::TOUCHES_ARBITRARY_KEYS),
    };
    after_effects(store, clients, at, &req);
    // Redis feeds MONITOR once the command is done, after what it
    // published or invalidated while it ran.
    if monitored {
        feed_monitors(store, clients, req.token, req.cmd, shown, out, false);
    }
    called
}

/// The latency monitor's sample of this run: Redis's `command` or
/// `fast-command`, or for a served block `command-unblocking`, which
/// times only the run that served it.
fn sample_latency(store: &mut Store, cmd: &Command, run: Run, run_us: u64) {
    let event = match run {
        Run::Served => "command-unblocking",
        _ if cmd.has(flag::FAST) => "fast-command",
        _ => "command",
    };
    store.latency_events.add_if_needed(event, run_us / 1000);
}

/// Drains the call's effects, then lets tracking remember what it read:
/// keys the command changed leave the tracking table before the keys it
/// read enter it, as in Redis (which invalidates as keys change).
fn after_effects(store: &mut Store, clients: &mut Slab<Client>, at: Finished, req: &Request) {
    crate::drain::after_call(store, clients, at);
    if store.tracking.is_active() {
        store
            .tracking
            .after_call(clients, req.token, req.cmd, req.args);
    }
}

/// Runs the handler; a panic in one becomes an error reply instead of
/// taking every client down with the process.
fn run_handler(
    store: &mut Store,
    clients: &mut Slab<Client>,
    out: &mut Reply,
    req: &Request,
    db: usize,
) -> Outcome {
    let mut ctx = Ctx {
        store,
        clients,
        me: req.token,
        out,
        now_ms: req.now_ms,
        db_index: db,
        block: None,
        deny_blocking: req.deny_blocking,
        serving: req.serving.clone(),
        run_transaction: false,
        redacted: Vec::new(),
        pushed: Vec::new(),
        failed: false,
    };
    let handler = req.handler;
    let args = req.args;
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let result = handler(&mut ctx, args);
        Outcome {
            result,
            failed: ctx.failed,
            block: ctx.block.take(),
            run_transaction: ctx.run_transaction,
            redacted: mem::take(&mut ctx.redacted),
            pushed: mem::take(&mut ctx.pushed),
        }
    })) {
        Ok(outcome) => outcome,
        Err(_) => {
            log::error!(
                "Command '{}' panicked; the client got an error",
                req.cmd.name
            );
            Outcome {
                result: Err(CmdError::err(format!(
                    "internal error while running '{}'",
                    req.cmd.name
                ))),
                failed: false,
                block: None,
                run_transaction: false,
                redacted: Vec::new(),
                pushed: Vec::new(),
            }
        }
    }
}

/// Records the command's own propagation: as sent if it changed
/// something, as its handler rewrote it, or not at all.
fn propagate_own(store: &mut Store, req: &Request, db: usize, dirty_before: u64, own: Own) {
    if !store.effects.record_propagation {
        return;
    }
    // EXEC's queued commands propagate themselves, wrapped in MULTI/EXEC.
    if store.dirty == dirty_before || !req.cmd.has(flag::WRITE) {
        return;
    }
    match own {
        Own::AsSent => store.effects.propagate_args(db, req.args),
        Own::Rewritten(argv) => store.effects.also_propagate(db, argv),
        Own::Prevented => {}
    }
}

/// Runs the queued commands of a transaction EXEC accepted, each through
/// `call()`, their replies in one array. Blocking is denied meanwhile.
/// Returns the reply mode a queued CLIENT REPLY set, to apply once EXEC's
/// own reply is settled.
fn run_transaction(
    store: &mut Store,
    clients: &mut Slab<Client>,
    out: &mut Reply,
    exec: &Request,
    called: &mut Called,
    clock: &mut Instant,
) -> Option<ReplyMode> {
    let c = clients.get_mut(exec.token)?;
    let count = c.state.multi().map_or(0, |tx| tx.commands.len());
    out.array(count);
    // CLIENT REPLY applies to EXEC's reply as a whole, decided by the
    // caller; the queued commands reply normally inside it.
    let reply_mode = mem::replace(&mut c.reply_mode, ReplyMode::On);
    for i in 0..count {
        // Cloning the arguments bumps reference counts; it lets the
        // transaction stay visible (CLIENT LIST `multi=N`) while it runs.
        let Some(c) = clients.get(exec.token) else {
            break;
        };
        let Some(args) = c.state.multi().and_then(|tx| tx.commands.get(i)).cloned() else {
            break;
        };
        // Redis adds no output to a client it will close (a queued QUIT
        // or CLIENT KILL of itself).
        let closing = c.close_after_reply;
        let mark = out.pending();
        match cmd::resolve(&args) {
            Resolved::Found(cmd, _)
                if let Some(denied) = exec_denial(store, clients, exec.token, cmd, &args) =>
            {
                // Redis checks ACLs again at EXEC: the rules may have
                // changed since the command was queued.
                out.error(&cmd::acl::denied_at_exec_message(denied));
                count_error(&mut store.stats, "NOPERM");
            }
            Resolved::Found(cmd, handler) => {
                let req = Request {
                    token: exec.token,
                    cmd,
                    handler,
                    args: &args,
                    now_ms: exec.now_ms,
                    deny_blocking: true,
                    serving: None,
                    nested: true,
                };
                let inner = call(store, clients, out, req, clock);
                called.pushed.extend(inner.pushed);
            }
            // Checked when queued; a command table cannot change since.
            Resolved::Rejected(msg, _) => out.error_bytes(&msg),
        }
        if closing {
            out.truncate_pending(mark);
        }
    }
    // The queued commands' arguments are freed now (Redis's refcounts
    // drop back to 1).
    store.exec_shared.clear();
    let c = clients.get_mut(exec.token)?;
    c.state.end_multi();
    let changed = mem::replace(&mut c.reply_mode, reply_mode);
    (changed != ReplyMode::On).then_some(changed)
}

/// Whether the client's user may no longer run a queued command, logged
/// as a denial inside a transaction.
fn exec_denial(
    store: &mut Store,
    clients: &Slab<Client>,
    token: usize,
    cmd: &'static cmd::Command,
    args: &[bytes::Bytes],
) -> Option<crate::acl::Denied> {
    let user = clients.get(token)?.user?;
    let denied = store.acl.user(user).check(cmd, args).err()?;
    cmd::acl::log_denial(
        store,
        clients,
        token,
        denied,
        crate::acl::LogContext::Multi,
        cmd,
        args,
    );
    Some(denied)
}

/// Carries out CLIENT UNBLOCK requests made by the last command.
///
/// The reply and the statistics come at once, as in Redis, which counts
/// the blocked command as failed (even for TIMEOUT) and logs it then; the
/// client's queued commands run later, from the loop.
pub fn unblock_requested(store: &mut Store, clients: &mut Slab<Client>) {
    const UNBLOCKED: &str = "UNBLOCKED client unblocked via CLIENT UNBLOCK";
    for (token, as_error) in mem::take(&mut store.blocking.unblock_requests) {
        let Some(blocked) = unpark(store, clients, token) else {
            continue;
        };
        if let Some(c) = clients.get_mut(token) {
            if as_error {
                c.end_of_block_reply(|out| out.error(UNBLOCKED));
            } else {
                c.end_of_block_reply(|out| blocked.wait.timeout_reply(out));
            }
        }
        if as_error {
            count_error(&mut store.stats, UNBLOCKED);
        }
        // Redis has reset the client by the time it logs the command, so
        // the slow-log entry shows no arguments.
        if let Resolved::Found(cmd, _) = cmd::resolve(&blocked.args) {
            let shown = Shown {
                args: &[],
                redacted: &[],
            };
            account(
                store,
                clients,
                token,
                cmd,
                shown,
                blocked.call_us,
                true,
                Run::Served,
            );
        }
        queue_unblocked(store, clients, token);
        store.notified.push(token);
    }
}

/// Queues a woken client to run what it sent while blocked, once the
/// command that woke it is done (see `Store::unblocked`).
pub fn queue_unblocked(store: &mut Store, clients: &mut Slab<Client>, token: usize) {
    if let Some(c) = clients.get_mut(token) {
        c.unblocked = true;
    }
    store.unblocked.push(token);
}

/// Takes a client out of every wait list; returns what it was blocked on,
/// if it was.
pub fn unpark(
    store: &mut Store,
    clients: &mut Slab<Client>,
    token: usize,
) -> Option<crate::blocking::Blocked> {
    let b = clients.get_mut(token)?.state.end_block()?;
    store.blocking.unpark(token, b.db, &b.keys);
    store.dbs[b.db].observed.ready_keys = store.blocking.waits_in(b.db);
    if matches!(b.wait, crate::blocking::WaitFor::Stream(_)) {
        store.blocking.stream_readers = store.blocking.stream_readers.saturating_sub(1);
        let readers = store.blocking.stream_readers > 0;
        for d in &mut store.dbs {
            d.observed.stream_readers = readers;
        }
    }
    Some(b)
}

/// Closes the clients CLIENT KILL ended (or an output limit doomed), at
/// once, as Redis frees them: a later command sees them gone.
pub fn close_killed(store: &mut Store, clients: &mut Slab<Client>) {
    for (token, id) in mem::take(&mut store.to_close) {
        if clients.get(token).is_some_and(|c| c.id == id) {
            // Closing the descriptor takes it out of the poll set too.
            drop(forget_client(store, clients, token));
        }
    }
}

/// Removes a client from the slab and from every registry that names it
/// (wait lists, watches, monitors, subscriptions, tracking).
pub fn forget_client(
    store: &mut Store,
    clients: &mut Slab<Client>,
    token: usize,
) -> Option<Client> {
    if !clients.contains(token) {
        return None;
    }
    unpark(store, clients, token);
    let mut client = clients.remove(token);
    if client.postponed {
        store.pause.forget(token, client.id);
    }
    store.client_mem.forget(token, &client);
    store.watches.unwatch_all(token, &mut client);
    if client.mode.is_monitor() {
        store.monitors.retain(|&m| m != token);
    }
    let mut subs = client.mode.take_subscriptions();
    store.pubsub.forget(&mut subs, token);
    store.tracking.forget(token, &mut client);
    log::debug!("Client closed connection {}", client.peer);
    Some(client)
}

/// Counts an error reply by its code (INFO errorstats).
pub fn count_error(stats: &mut Stats, msg: &str) {
    stats.total_error_replies += 1;
    // As Redis's afterErrorReply: the code is the first word, if a space
    // ends it within the first 32 bytes of the reply (its '-' included).
    let head = &msg.as_bytes()[..msg.len().min(31)];
    let code = match head.iter().position(|&b| b == b' ') {
        Some(end) => &msg[..end],
        None => "ERR",
    };
    match stats.errors.get_mut(code) {
        Some(n) => *n += 1,
        None => {
            stats.errors.insert(code.to_string(), 1);
        }
    }
}

/// Statistics, the latency histogram and the slow log for a command that
/// ran; returns whether MONITOR sees it now. Redis counts a call once,
/// when the command is first called, and MONITOR sees it then; its
/// latency and slow-log entry are recorded when it is done, which for a
/// command that blocked is when a ready key serves it.
#[allow(clippy::too_many_arguments)]
pub fn account(
    store: &mut Store,
    clients: &Slab<Client>,
    token: usize,
    cmd: &'static Command,
    shown: Shown,
    elapsed_us: u64,
    failed: bool,
    run: Run,
) -> bool {
    let latency_tracking = store.config.latency_tracking;
    let stat = store
        .stats
        .commands
        .entry(crate::store::CmdKey(cmd))
        .or_default();
    stat.usec += elapsed_us;
    if failed {
        stat.failed_calls += 1;
    }
    if run != Run::Served {
        stat.calls += 1;
        store.stats.total_commands_processed += 1;
    }
    if run == Run::Blocked {
        return true;
    }
    if latency_tracking {
        stat.latency
            .get_or_insert_with(Default::default)
            .record(elapsed_us.saturating_mul(1000));
    }
    slowlog(store, clients, token, cmd, shown, elapsed_us);
    run == Run::Called
}

/// Feeds MONITOR after the call, with the database the client is in then
/// (SELECT and EXEC show the new one), as Redis does. A monitor sees its
/// own commands too; the running client's output is `out` while it runs.
pub fn feed_monitors(
    store: &mut Store,
    clients: &mut Slab<Client>,
    token: usize,
    cmd: &'static Command,
    shown: Shown,
    out: &mut Reply,
    forced: bool,
) {
    if store.monitors.is_empty()
        || (!forced && (cmd.has(flag::SKIP_MONITOR) || cmd.has(flag::ADMIN)))
    {
        return;
    }
    let Some(client) = clients.get(token) else {
        return;
    };
    let us = unix_us();
    let peer = if client.script {
        "lua".to_owned()
    } else {
        client.peer.to_string()
    };
    let mut line = format!(
        "{}.{:06} [{} {}]",
        us / 1_000_000,
        us % 1_000_000,
        client.db,
        peer
    );
    for a in shown.iter() {
        line.push(' ');
        line.push_str(&crate::util::repr(a));
    }
    // A monitor that is closing (it QUIT) gets nothing more, as in Redis.
    for &m in &store.monitors {
        let Some(c) = clients.get_mut(m) else {
            continue;
        };
        if c.close_after_reply || c.out.overflowed {
            continue;
        }
        if m == token {
            out.simple(&line);
        } else {
            c.out.raw(format!("+{line}\r\n").as_bytes());
            store.notified.push(m);
        }
    }
}

fn slowlog(
    store: &mut Store,
    clients: &Slab<Client>,
    token: usize,
    cmd: &'static Command,
    shown: Shown,
    us: u64,
) {
    let threshold = store.config.slowlog_log_slower_than_us;
    if threshold < 0 || (us as i64) < threshold || cmd.has(flag::SKIP_SLOWLOG) {
        return;
    }
    let Some(client) = clients.get(token) else {
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
    let slowlog = &mut store.slowlog;
    let entry = crate::store::SlowEntry {
        id: slowlog.next_id,
        time_s: (unix_ms() / 1000) as i64,
        duration_us: us,
        args: logged,
        // Redis's Lua client has no connection: getClientPeerId's "?:0".
        peer: if client.script {
            "?:0".to_owned()
        } else {
            client.peer.to_string()
        },
        name: client.name.clone().unwrap_or_default(),
    };
    slowlog.next_id += 1;
    slowlog.entries.push_front(entry);
    slowlog.entries.truncate(store.config.slowlog_max_len);
}

/// A command's arguments as MONITOR and the slow log show them: the
/// positions in `redacted` (passwords) appear as "(redacted)".
#[derive(Clone, Copy)]
pub struct Shown<'a> {
    pub args: &'a [Bytes],
    pub redacted: &'a [usize],
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

/// `call()` needs no loop: these run commands against a store directly
/// and read what they propagated (the test view of the effects record).
#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    struct Harness {
        store: Store,
        clients: Slab<Client>,
        token: usize,
        /// The other end of the client's socket, kept open.
        _peer: std::net::TcpStream,
    }

    impl Harness {
        fn new() -> Harness {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
            let addr = listener.local_addr().expect("addr");
            let peer = std::net::TcpStream::connect(addr).expect("connect");
            let (stream, from) = listener.accept().expect("accept");
            let mut store = Store::new(Config::default());
            store.effects.record_propagation = true;
            store.effects.propagated = Some(Vec::new());
            let mut clients = Slab::new();
            let stream = mio::net::TcpStream::from_std(stream);
            let token = clients.insert(Client::new(1, stream, from, addr, 0, 512 << 20));
            Harness {
                store,
                clients,
                token,
                _peer: peer,
            }
        }

        /// Runs `line` at `now_ms`; returns its reply.
        fn run(&mut self, line: &str, now_ms: u64) -> String {
            self.run_serving(line, now_ms, None).0
        }

        /// Runs `line` as a blocked command served again for a ready key;
        /// returns its reply and what it asked to block on, if it did.
        fn run_serving(
            &mut self,
            line: &str,
            now_ms: u64,
            serving: Option<Serving>,
        ) -> (String, Option<Block>) {
            let args: Vec<Bytes> = line
                .split(' ')
                .map(|w| Bytes::copy_from_slice(w.as_bytes()))
                .collect();
            let Resolved::Found(cmd, handler) = cmd::resolve(&args) else {
                panic!("{line}: not a runnable command");
            };
            let mut out = Reply::default();
            let req = Request {
                token: self.token,
                cmd,
                handler,
                args: &args,
                now_ms,
                deny_blocking: false,
                serving: serving.map(Box::new),
                nested: false,
            };
            let mut clock = Instant::now();
            let called = call(
                &mut self.store,
                &mut self.clients,
                &mut out,
                req,
                &mut clock,
            );
            let mut reply = Vec::new();
            while !out.is_empty() {
                let n = out.front().len();
                reply.extend_from_slice(out.front());
                out.consume(n);
            }
            (
                String::from_utf8_lossy(&reply).into_owned(),
                called.block.map(|b| *b),
            )
        }

        /// What was propagated since the last call of this, one line per
        /// command.
        fn propagated(&mut self) -> Vec<String> {
            let ops = self.store.effects.propagated.as_mut().expect("view on");
            mem::take(ops)
                .into_iter()
                .map(|op| {
                    let words: Vec<String> = op
                        .argv
                        .iter()
                        .map(|a| String::from_utf8_lossy(a).into_owned())
                        .collect();
                    words.join(" ")
                })
                .collect()
        }
    }

    const NOW: u64 = 1_700_000_000_000;

    #[test]
    fn relative_expiries_replay_as_absolute_times() {
        let mut h = Harness::new();
        h.run("SET k v EX 10", NOW);
        h.run("SET k v PX 500 GET", NOW);
        h.run("EXPIRE k 20", NOW);
        h.run("PEXPIRE k 30000 GT", NOW);
        h.run("SETEX s 5 v", NOW);
        h.run("GETEX s PX 100", NOW);
        h.run("GETEX s PERSIST", NOW);
        assert_eq!(
            h.propagated(),
            [
                format!("SET k v PXAT {}", NOW + 10_000),
                format!("SET k v PXAT {}", NOW + 500),
                format!("PEXPIREAT k {}", NOW + 20_000),
                format!("PEXPIREAT k {} GT", NOW + 30_000),
                format!("SET s v PXAT {}", NOW + 5_000),
                format!("PEXPIREAT s {}", NOW + 100),
                "PERSIST s".to_string(),
            ]
        );
    }

    #[test]
    fn deadlines_in_the_past_and_getdel_replay_as_del() {
        let mut h = Harness::new();
        h.run("SET a 1", NOW);
        h.run("EXPIREAT a 1", NOW);
        h.run("SET b 1", NOW);
        h.run("GETDEL b", NOW);
        h.run("SET c 1", NOW);
        h.run("GETEX c PXAT 5", NOW);
        let got = h.propagated();
        assert_eq!(
            got,
            ["SET a 1", "DEL a", "SET b 1", "DEL b", "SET c 1", "DEL c"]
        );
    }

    #[test]
    fn computed_values_replay_as_what_they_produced() {
        let mut h = Harness::new();
        h.run("INCRBYFLOAT f 1.5", NOW);
        h.run("HINCRBYFLOAT h x 0.25", NOW);
        h.run("GETSET g v", NOW);
        h.run("SET g w GET", NOW);
        h.run("INCR n", NOW);
        assert_eq!(
            h.propagated(),
            [
                "SET f 1.5 KEEPTTL",
                "HSET h x 0.25",
                "SET g v",
                "SET g w",
                "INCR n",
            ]
        );
    }

    #[test]
    fn spop_replays_as_srem_or_del() {
        let mut h = Harness::new();
        h.run("SADD s a", NOW);
        h.run("SPOP s", NOW);
        h.run("SADD t a b c", NOW);
        h.run("SPOP t 3", NOW);
        h.run("SADD u a b c d e f g h i j", NOW);
        let reply = h.run("SPOP u 2", NOW);
        let got = h.propagated();
        assert_eq!(
            &got[..5],
            [
                "SADD s a",
                "SREM s a",
                "SADD t a b c",
                "DEL t",
                "SADD u a b c d e f g h i j"
            ]
        );
        // Two members popped: two SREMs, wrapped as one transaction.
        assert_eq!(got.len(), 9, "{got:?}");
        assert_eq!((got[5].as_str(), got[8].as_str()), ("MULTI", "EXEC"));
        for line in &got[6..8] {
            let member = line.strip_prefix("SREM u ").expect(line);
            assert!(reply.contains(member), "{line} not in {reply}");
        }
    }

    #[test]
    fn list_pops_replay_as_plain_pops() {
        let mut h = Harness::new();
        h.run("RPUSH l a b c d", NOW);
        h.run("BLPOP l 0", NOW);
        h.run("BRPOP l 0", NOW);
        h.run("LMPOP 1 l LEFT COUNT 10", NOW);
        h.run("RPUSH m a", NOW);
        h.run("BLMOVE m n LEFT RIGHT 0", NOW);
        h.run("BRPOPLPUSH n m 0", NOW);
        assert_eq!(
            h.propagated(),
            [
                "RPUSH l a b c d",
                "LPOP l",
                "RPOP l",
                "LPOP l 2",
                "RPUSH m a",
                "LMOVE m n LEFT RIGHT",
                "RPOPLPUSH n m",
            ]
        );
    }

    #[test]
    fn an_expired_key_replays_as_del_before_the_command() {
        let mut h = Harness::new();
        h.run("SET k v PX 10", NOW);
        h.run("GET k", NOW + 100);
        h.run("SET j v PX 10", NOW);
        h.run("SET j w", NOW + 100);
        assert_eq!(
            h.propagated(),
            [
                format!("SET k v PXAT {}", NOW + 10),
                "DEL k".to_string(),
                format!("SET j v PXAT {}", NOW + 10),
                "MULTI".to_string(),
                "DEL j".to_string(),
                "SET j w".to_string(),
                "EXEC".to_string(),
            ]
        );
        assert_eq!(h.store.stats.expired_keys, 2);
    }

    #[test]
    fn a_transaction_replays_wrapped_and_reads_replay_nothing() {
        let mut h = Harness::new();
        h.run("MULTI", NOW);
        if let Some(tx) = h.clients[h.token].state.multi_mut() {
            for line in ["SET a 1", "GET a", "SADD s x", "SADD s x"] {
                tx.commands.push(
                    line.split(' ')
                        .map(|w| Bytes::copy_from_slice(w.as_bytes()))
                        .collect(),
                );
            }
        }
        h.run("EXEC", NOW);
        h.run("GET a", NOW);
        h.run("DEL missing", NOW);
        assert_eq!(h.propagated(), ["MULTI", "SET a 1", "SADD s x", "EXEC"]);
    }

    #[test]
    fn a_served_command_that_blocks_again_keeps_its_deadline() {
        let mut h = Harness::new();
        let (_, block) = h.run_serving("BLPOP a b 5", NOW, None);
        let block = block.expect("blocks on empty lists");
        assert_eq!(block.deadline_ms, Some(NOW + 5_000));
        assert_eq!(block.wait, crate::blocking::WaitFor::ListElement);
        // Served again later for a key that cannot serve it after all.
        let serving = Serving {
            key: Bytes::from_static(b"a"),
            deadline_ms: block.deadline_ms,
            wait: block.wait.clone(),
            call_us: 0,
        };
        let (reply, again) = h.run_serving("BLPOP a b 5", NOW + 3_000, Some(serving));
        assert_eq!(reply, "");
        assert_eq!(again.expect("blocks again").deadline_ms, Some(NOW + 5_000));
        // Nothing done, nothing propagated.
        assert!(h.propagated().is_empty());
    }

    #[test]
    fn keys_scan_expired_replay_as_bare_dels() {
        let mut h = Harness::new();
        h.run("SET a 1 PX 10", NOW);
        h.run("SET b 1 PX 10", NOW);
        h.propagated();
        // SCAN touches arbitrary keys: Redis propagates what it expired
        // without MULTI/EXEC.
        h.run("SCAN 0", NOW + 100);
        let mut got = h.propagated();
        got.sort();
        assert_eq!(got, ["DEL a", "DEL b"]);
    }
}
