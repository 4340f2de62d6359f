//! The command path: parsing a client's input into commands, the
//! gatekeeping that belongs to a connection, and running what it admits.

use super::*;

impl Server {
    /// Runs every complete command in a client's buffer, in batches of up
    /// to `MAX_BATCH` parsed ahead (their keys prefetched together).
    pub(super) fn process_input(&mut self, token: usize, now_ms: u64) {
        // One clock read per command: each command's duration runs from the
        // end of the previous one (so it includes its own parsing).
        let mut clock = Instant::now();
        loop {
            let Some(parse) = self.parse_batch(token) else {
                return;
            };
            let ran = self.run_batch(token, &parse, now_ms, &mut clock);
            if !self.end_batch(token, parse, ran) {
                return;
            }
        }
    }

    /// Parses the next batch of a client's commands, with the limits of the
    /// moment; `None` when the client may not run anything now.
    fn parse_batch(&mut self, token: usize) -> Option<ParsedBatch> {
        let client = self.clients.get_mut(token)?;
        // A blocked client's further input waits until it is served, and a
        // served one's waits behind what it sent while blocked (run by
        // `resume_unblocked`).
        if client.close_after_reply
            || client.out.overflowed
            || client.is_waiting()
            || !client.deferred.is_empty()
        {
            return None;
        }
        // Redis's `authRequired`: a password is set and this client has not
        // given it (removing the password lets everyone in).
        let auth_required = !client.authenticated && !self.store.acl.login_free();
        if auth_required && client.rbuf.len() > UNAUTHENTICATED_QUERY_LIMIT_BYTES {
            client.close_after_reply = true;
            self.queue_write(token);
            return None;
        }
        // The parser applies the limits of the moment: CONFIG SET may have
        // changed proto-max-bulk-len, and before AUTH requests are capped.
        // Until then commands are parsed one at a time, as Redis does, so a
        // pipeline's AUTH lifts the cap for what follows it.
        client.parser.set_auth(if auth_required {
            crate::resp::parser::Auth::Required
        } else {
            crate::resp::parser::Auth::Done
        });
        client
            .parser
            .set_max_bulk_len(self.store.config.proto_max_bulk_len);
        let limit = if auth_required { 1 } else { MAX_BATCH };
        client.batch_query_len = Some(client.query_len());
        let mut batch = ParsedBatch {
            commands: mem::take(&mut client.batch),
            parsed: 0,
            limit,
            error: None,
        };
        while batch.parsed < limit {
            if batch.commands.len() == batch.parsed {
                batch.commands.push(Vec::new());
            }
            let args = &mut batch.commands[batch.parsed];
            args.clear();
            match client.parser.parse(&mut client.rbuf, args) {
                Ok(Parsed::Command) => batch.parsed += 1,
                Ok(Parsed::Incomplete) => break,
                Err(e) => {
                    batch.error = Some(e);
                    break;
                }
            }
        }
        Some(batch)
    }

    /// Runs a parsed batch until its end or a command that blocks or ends
    /// the client; returns how many ran.
    fn run_batch(
        &mut self,
        token: usize,
        batch: &ParsedBatch,
        now_ms: u64,
        clock: &mut Instant,
    ) -> usize {
        let commands = &batch.commands[..batch.parsed];
        if commands.len() > 1
            && let Some(db) = self.clients.get(token).map(|c| c.db)
        {
            self.prefetch_keys(db, commands);
        }
        let mut ran = 0;
        for args in commands {
            if self
                .clients
                .get(token)
                .is_none_or(|c| c.close_after_reply || c.out.overflowed || c.is_waiting())
            {
                break;
            }
            self.execute(token, args, now_ms, clock);
            ran += 1;
            self.serve_ready(now_ms);
        }
        ran
    }

    /// Puts a batch's vectors back for reuse, keeps what a blocked command
    /// left unrun, answers a protocol error; returns whether to parse on.
    fn end_batch(&mut self, token: usize, mut batch: ParsedBatch, ran: usize) -> bool {
        let parsed = batch.parsed;
        // Commands parsed behind one that blocked (or was held by a
        // pause) wait, unparsed again, until the client is served: put
        // them back in order.
        if ran < parsed
            && let Some(c) = self.clients.get_mut(token)
            && c.is_waiting()
        {
            c.deferred
                .extend(batch.commands[ran..parsed].iter().cloned());
        }
        // Drop the arguments now: they hold the read buffer's memory, which
        // the next read can then reuse in place. A request of millions of
        // arguments leaves no vector of that size behind.
        for args in &mut batch.commands[..parsed] {
            args.clear();
            if args.capacity() > MAX_KEPT_ARGS {
                *args = Vec::new();
            }
        }
        let Some(client) = self.clients.get_mut(token) else {
            return false;
        };
        client.batch = batch.commands;
        client.batch_query_len = None;
        // A buffer grown for a big argument is not kept for the small
        // requests that follow: what is left moves to a buffer its size.
        if client.rbuf.capacity() > BIG_BUFFER_BYTES
            && client.rbuf.len() < READ_CHUNK_BYTES
            && !client.parser.in_progress()
        {
            client.rbuf = bytes::BytesMut::from(&client.rbuf[..]);
        }
        if let Some(e) = batch.error {
            log::debug!("Protocol error from client {}: {e}", client.peer);
            client.out.error_bytes(&e.message());
            client.close_after_reply = true;
            crate::call::count_error(&mut self.store.stats, "ERR");
            self.queue_write(token);
            return false;
        }
        parsed == batch.limit
    }

    /// Prefetches the first key of each command in a batch: at the
    /// table's first key position, or for a script (whose keys follow a
    /// count) the first of its KEYS.
    pub(super) fn prefetch_keys(&self, db: usize, batch: &[Vec<bytes::Bytes>]) {
        let first_keys = batch.iter().filter_map(|args| {
            let cmd = cmd::lookup(args.first()?)?;
            let pos = match usize::try_from(cmd.first_key) {
                Ok(p) if p > 0 => p,
                _ if cmd.docs.group == "scripting" && args.get(2)?.as_ref() != b"0" => 3,
                _ => return None,
            };
            args.get(pos).map(|k| k.as_ref())
        });
        if let Some(db) = self.store.dbs.get(db) {
            db.prefetch(first_keys);
        }
    }

    /// Checks the client's user's permissions for a command (Redis's
    /// ACLCheckAllPerm in processCommand): the error, with the denial
    /// logged, or `None` to go on. A user allowed everything costs one
    /// flag test.
    fn acl_denial(
        &mut self,
        token: usize,
        cmd: &'static cmd::Command,
        args: &[bytes::Bytes],
    ) -> Option<Vec<u8>> {
        let client = self.clients.get(token)?;
        let user = self.store.acl.user(client.user?);
        if user.is_unrestricted() {
            return None;
        }
        let denied = user.check(cmd, args).err()?;
        let context = if client.state.multi().is_some() {
            crate::acl::LogContext::Multi
        } else {
            crate::acl::LogContext::Toplevel
        };
        cmd::acl::log_denial(
            &mut self.store,
            &self.clients,
            token,
            denied,
            context,
            cmd,
            args,
        );
        Some(cmd::acl::denied_message(denied, cmd))
    }

    /// Decides whether a resolved command runs now, as Redis's
    /// `processCommand` does before `call()`: rejected (with Redis's error,
    /// dooming an open transaction), queued inside MULTI, or admitted.
    pub(super) fn admit(
        &mut self,
        token: usize,
        args: &[bytes::Bytes],
        resolved: Resolved,
        out: &mut Reply,
        pushed: &mut Vec<(usize, usize)>,
    ) -> Option<(&'static cmd::Command, cmd::spec::Handler)> {
        let client = self.clients.get(token)?;
        let authenticated = client.authenticated || self.store.acl.login_free();
        let in_multi = client.state.multi().is_some_and(|tx| !tx.running);
        let monitoring = client.mode.is_monitor();
        // Redis 7.0 checks a subscribed client's commands before they are
        // queued, but not the ones EXEC runs (those run through `call()`
        // without coming here).
        let subscribed_resp2 = client.mode.is_subscribed() && !out.is_resp3();
        let (cmd, handler) = match resolved {
            Resolved::Found(cmd, handler) => (cmd, handler),
            Resolved::Rejected(msg, found) => {
                self.refuse(token, out, found, &msg);
                return None;
            }
        };
        // A script that declared its flags is judged by them (Redis's
        // evalGetCommandFlags).
        let flags = crate::script::command_flags(&self.store, cmd, args);
        let writes = flags & flag::WRITE != 0
            || cmd.name == "ping"
            || (cmd.name == "exec" && queued_with(client, flag::WRITE));
        // The flags Redis's processCommand judges by: an EXEC's include
        // its transaction's (`mstate.cmd_flags`).
        let judged_flags = match cmd.name {
            "exec" => flags | client.state.multi().map_or(0, |tx| tx.flags),
            _ => flags,
        };
        // Under maxmemory every command first evicts what it must (Redis's
        // performEvictions in processCommand); if memory stays over, a
        // command that may grow it is refused, and inside MULTI anything
        // but the commands that end the transaction (queuing grows it too).
        let deny_oom = flags & flag::DENYOOM != 0
            || (cmd.name == "exec" && queued_with(client, flag::DENYOOM))
            || (in_multi && !matches!(cmd.name, "exec" | "discard" | "quit" | "reset"));
        let misconf: Option<std::borrow::Cow<[u8]>> = if !writes {
            None
        } else if !self.store.rdb.last_bgsave_ok
            && crate::persist::stop_writes_on_error(&self.store.config)
        {
            Some(crate::persist::MISCONF_RDB.as_bytes().into())
        } else {
            self.store.aof.misconf().map(|m| m.into_bytes().into())
        };
        let refusal: Option<std::borrow::Cow<[u8]>> = if let Some(msg) =
            protected_denial(&self.store.config, client, cmd)
        {
            Some(msg.into())
        } else if !authenticated && !cmd.has(flag::NO_AUTH) {
            Some(b"NOAUTH Authentication required."[..].into())
        } else if in_multi && !cmd.has(flag::RUNS_IN_MULTI) && cmd.has(flag::NO_MULTI) {
            Some(b"ERR Command not allowed inside a transaction"[..].into())
        } else if let Some(msg) = self.acl_denial(token, cmd, args) {
            Some(msg.into())
        } else if self.store.evictor.settings.maxmemory != 0
            && self.over_memory(token, out, pushed)
            && deny_oom
        {
            Some(b"OOM command not allowed when used memory > 'maxmemory'."[..].into())
        } else if misconf.is_some() {
            misconf
        } else if subscribed_resp2 && !cmd.has(flag::SUBSCRIBED_OK) {
            Some(
                format!(
                    "ERR Can't execute '{}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context",
                    cmd.name
                )
                .into_bytes()
                .into(),
            )
        } else if self.store.loading() && !cmd.has(flag::LOADING) {
            Some(b"LOADING Redis is loading the dataset in memory"[..].into())
        } else if monitoring
            && judged_flags & (flag::READONLY | flag::WRITE | flag::MAY_REPLICATE) != 0
        {
            // A MONITOR client is a replica to Redis, and replicas may not
            // touch the keyspace (a script as its declared flags say).
            Some(b"ERR Replica can't interact with the keyspace"[..].into())
        } else {
            None
        };
        if let Some(msg) = refusal {
            self.refuse(token, out, Some(cmd), &msg);
            return None;
        }
        // CLIENT PAUSE holds what it covers, queuing inside MULTI too.
        // Monitors (replicas to Redis) are never held, nor is a woken
        // waiter's re-run: Redis serves it without processCommand.
        if self.store.pause.holds(judged_flags) && !monitoring && self.serving.is_none() {
            self.hold(token, args);
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
                tx.flags |= flags;
            }
            out.simple("QUEUED");
            return None;
        }
        Some((cmd, handler))
    }

    /// Evicts what the limit asks for; whether memory is still over it,
    /// which a script started by this command remembers (Redis's
    /// pre_command_oom_state).
    fn over_memory(
        &mut self,
        token: usize,
        out: &mut Reply,
        pushed: &mut Vec<(usize, usize)>,
    ) -> bool {
        let over = self.evict(Some((token, out, pushed))) == crate::evict::Outcome::Fail;
        self.store.evictor.oom_at_admit = over;
        over
    }

    /// Answers a command that may not run with `msg`, as Redis's
    /// rejectCommand does: a refused EXEC ends the transaction (if any) at
    /// once with EXECABORT (execCommandAbort); any other refusal dooms an
    /// open transaction.
    pub(super) fn refuse(
        &mut self,
        token: usize,
        out: &mut Reply,
        cmd: Option<&'static cmd::Command>,
        msg: &[u8],
    ) {
        if self.store.tracking.is_active()
            && let Some(c) = self.clients.get_mut(token)
        {
            self.store.tracking.after_refusal(c, cmd);
        }
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

    /// Runs one command for a client: the gatekeeping that belongs to its
    /// connection (resolve, admit, CLIENT REPLY, output limits), then
    /// `call()`, then what the loop does with the outcome (parking a
    /// blocked client).
    pub(super) fn execute(
        &mut self,
        token: usize,
        args: &[bytes::Bytes],
        now_ms: u64,
        clock: &mut Instant,
    ) {
        let Some(client) = self.clients.get_mut(token) else {
            return;
        };
        // CLIENT REPLY SKIP applies to the next command the client sends.
        if client.reply_mode == ReplyMode::SkipNext {
            client.reply_mode = ReplyMode::Skip;
        }
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
        // Redis adds no output to a client it will close.
        let closing = client.close_after_reply;
        let resolved = cmd::resolve(args);
        // Redis records the command it looked up before deciding whether
        // it runs, so CLIENT LIST shows a rejected one too (an arity error,
        // NOAUTH, a queued command), and NULL after an unknown one.
        client.last_cmd = match &resolved {
            Resolved::Found(cmd, _) => cmd.name,
            Resolved::Rejected(_, found) => found.map_or("NULL", |cmd| cmd.name),
        };
        let mut called = crate::call::Called::default();
        let mut pushed_first = Vec::new();
        if let Some((cmd, handler)) = self.admit(token, args, resolved, &mut out, &mut pushed_first)
        {
            let req = crate::call::Request {
                token,
                cmd,
                handler,
                args,
                now_ms,
                deny_blocking: false,
                serving: self.serving.take(),
                nested: false,
            };
            called = crate::call::call(&mut self.store, &mut self.clients, &mut out, req, clock);
            if let Some(block) = &called.block {
                self.park(token, args, (**block).clone(), called.elapsed_us);
            }
        }
        if !pushed_first.is_empty() {
            pushed_first.append(&mut called.pushed);
            called.pushed = pushed_first;
        }
        if !self.store.notified.is_empty() {
            self.write_notified();
        }
        self.settle_reply(token, out, reply_mark, closing, &called);
        if self.store.pause.is_active() || self.store.pause.changed() {
            self.apply_pause();
        }
    }

    /// Puts a command's reply back into its client's output, as its reply
    /// mode decides, and queues the client for writing.
    fn settle_reply(
        &mut self,
        token: usize,
        mut out: Reply,
        reply_mark: usize,
        closing: bool,
        called: &crate::call::Called,
    ) {
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
            ReplyMode::Off => keep_pushes(&mut out, reply_mark, &called.pushed),
            // A command that blocked is not done: SKIP also takes the
            // reply that ends the block (see `Client::end_of_block_reply`).
            ReplyMode::Skip => {
                keep_pushes(&mut out, reply_mark, &called.pushed);
                if called.block.is_none() {
                    client.reply_mode = ReplyMode::On;
                }
            }
            ReplyMode::On | ReplyMode::SkipNext => {}
        }
        if let Some(mode) = called.reply_mode_after {
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

    /// Ends a client's transaction, if any, and forgets what it watches.
    pub(super) fn discard_transaction(&mut self, token: usize) {
        let Some(c) = self.clients.get_mut(token) else {
            return;
        };
        c.state.end_multi();
        self.store.watches.unwatch_all(token, c);
    }

    /// Marks a transaction aborted after a command could not be queued, so
    /// its EXEC answers EXECABORT.
    pub(super) fn abort_transaction(&mut self, token: usize) {
        if let Some(tx) = self
            .clients
            .get_mut(token)
            .and_then(|c| c.state.multi_mut())
        {
            tx.aborted = true;
        }
    }

    pub(super) fn reject(
        &mut self,
        out: &mut Reply,
        cmd: Option<&'static cmd::Command>,
        msg: &[u8],
    ) {
        out.error_bytes(msg);
        crate::call::count_error(&mut self.store.stats, &String::from_utf8_lossy(msg));
        if let Some(cmd) = cmd {
            self.store.stats.rejected(cmd);
        }
    }
}

/// Commands parsed from a client's buffer, to run together.
struct ParsedBatch {
    /// The argument vectors, reused between batches; the first `parsed`
    /// hold commands.
    commands: Vec<Vec<bytes::Bytes>>,
    parsed: usize,
    /// The most this batch could hold (1 before AUTH).
    limit: usize,
    error: Option<crate::resp::parser::ProtocolError>,
}

/// Whether a client's open transaction has queued a command with `flags`
/// (EXEC then has them too, as Redis's `mstate.cmd_flags` say).
fn queued_with(client: &crate::client::Client, flags: u32) -> bool {
    client.state.multi().is_some_and(|tx| tx.flags & flags != 0)
}

/// Refuses a PROTECTED command (DEBUG, MODULE LOAD, LOADEX and UNLOAD)
/// that its container's `enable-<name>-command` option does not allow,
/// as Redis's allowProtectedAction does before anything else is checked:
/// `yes` allows it, `local` only from a loopback connection.
fn protected_denial(
    config: &crate::config::Config,
    client: &crate::client::Client,
    cmd: &cmd::Command,
) -> Option<Vec<u8>> {
    if !cmd.has(flag::PROTECTED) {
        return None;
    }
    let container = cmd.name.split('|').next().unwrap_or(cmd.name);
    let option = format!("enable-{container}-command");
    let allowed = match config.get(&option) {
        Some("yes") => true,
        Some("local") => client.peer.ip().is_loopback(),
        _ => false,
    };
    (!allowed).then(|| {
        format!(
            "ERR {} command not allowed. If the {option} option is set to \"local\", you can run it from a local connection, otherwise you need to set this option in the configuration file, and then restart the server.",
            container.to_ascii_uppercase()
        )
        .into_bytes()
    })
}
