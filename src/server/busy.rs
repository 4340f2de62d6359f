//! Serving clients while a script runs past `busy-reply-threshold`
//! (Redis's processEventsWhileBlocked).
//!
//! The script holds the loop, so the loop cannot poll; instead the
//! interpreter's hook calls [`serve`] every so many instructions once the
//! script is past its time limit. It reads what connected clients sent
//! (a plain non-blocking read each: readiness events stay queued in the
//! poller and the loop sees them afterwards, finding nothing or the rest)
//! and answers every command with `-BUSY`, except the few Redis allows
//! meanwhile (`allow_busy`: SCRIPT KILL, FUNCTION KILL, SHUTDOWN NOSAVE,
//! AUTH, HELLO, MULTI, DISCARD, WATCH, UNWATCH, QUIT, RESET), which run
//! through `call()` nested in the script's command, so their effects are
//! drained with it. Replies are written at once where the socket takes
//! them; the rest is left to the loop.
//!
//! New connections are accepted from duplicates of the listening sockets
//! and registered with the loop's poller through a clone of its registry
//! ([`Io`]), so a client that connects to send SCRIPT KILL is served.

use std::io::{Read, Write};
use std::time::Instant;

use bytes::Bytes;
use slab::Slab;

use crate::call::{Request, count_error};
use crate::client::Client;
use crate::cmd::{self, Resolved, flag};
use crate::resp::parser::Parsed;
use crate::store::{Store, unix_ms};

/// How much one client may send per pass: a flood cannot keep the script
/// from its next instructions for long.
const READ_BUDGET: usize = 256 * 1024;

/// What busy serving needs of the loop's I/O: the poller's registry (to
/// register connections accepted meanwhile) and the listening sockets.
pub struct Io {
    pub(super) registry: mio::Registry,
    /// The listening sockets, registered with the loop's poll.
    pub(super) listeners: Vec<mio::net::TcpListener>,
}

impl Io {
    pub fn new(poll: &mio::Poll, listeners: Vec<mio::net::TcpListener>) -> std::io::Result<Io> {
        Ok(Io {
            registry: poll.registry().try_clone()?,
            listeners,
        })
    }
}

/// One pass over the connected clients but `skip` (the script's caller,
/// which Redis protects from being read, and the script's own client).
pub fn serve(store: &mut Store, clients: &mut Slab<Client>, skip: &[usize]) {
    if let Some(io) = store.busy_io.take() {
        for l in &io.listeners {
            super::accept(l, &io.registry, store, clients);
        }
        store.busy_io = Some(io);
    }
    let tokens: Vec<usize> = clients
        .iter()
        .filter(|(t, c)| {
            c.stream.is_some()
                && !skip.contains(t)
                && !c.is_waiting()
                && !c.close_after_reply
                && c.deferred.is_empty()
        })
        .map(|(t, _)| t)
        .collect();
    let mut scratch = vec![0u8; 16 * 1024];
    for token in tokens {
        if read(store, clients, token, &mut scratch) {
            answer(store, clients, token);
        }
        write(store, clients, token);
    }
}

/// Reads what the client sent; whether anything arrived.
fn read(store: &mut Store, clients: &mut Slab<Client>, token: usize, scratch: &mut [u8]) -> bool {
    let Some(c) = clients.get_mut(token) else {
        return false;
    };
    let Some(stream) = c.stream.as_mut() else {
        return false;
    };
    let mut total = 0;
    while total < READ_BUDGET {
        match stream.read(scratch) {
            Ok(0) => {
                c.close_after_reply = true;
                break;
            }
            Ok(n) => {
                c.rbuf.extend_from_slice(&scratch[..n]);
                total += n;
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
            Err(_) => {
                c.close_after_reply = true;
                break;
            }
        }
    }
    if total > 0 {
        c.last_interaction_ms = unix_ms();
        store.stats.net_input_bytes += total as u64;
    }
    total > 0
}

/// Answers every complete command the client sent.
fn answer(store: &mut Store, clients: &mut Slab<Client>, token: usize) {
    loop {
        let Some(c) = clients.get_mut(token) else {
            return;
        };
        if c.close_after_reply {
            return;
        }
        let mut args = Vec::new();
        match c.parser.parse(&mut c.rbuf, &mut args) {
            Ok(Parsed::Command) => {}
            Ok(Parsed::Incomplete) => return,
            Err(e) => {
                c.out.error_bytes(&e.message());
                c.close_after_reply = true;
                return;
            }
        }
        if args.is_empty() {
            continue;
        }
        run(store, clients, token, &args);
    }
}

/// One command while busy: Redis's processCommand checks up to the busy
/// one (unknown command, arity, authentication), then `-BUSY` unless the
/// command is allowed. A client pause does not hold what is allowed here
/// (Redis would, after the busy check, leaving SCRIPT KILL waiting for a
/// pause that cannot end while the script holds the loop).
fn run(store: &mut Store, clients: &mut Slab<Client>, token: usize, args: &[Bytes]) {
    let eval = store.scripting.running.as_ref().is_none_or(|r| r.eval);
    let busy = if eval {
        cmd::script::BUSY_SCRIPT
    } else {
        cmd::script::BUSY_FUNCTION
    };
    let Some(c) = clients.get_mut(token) else {
        return;
    };
    let authenticated = c.authenticated || store.acl.login_free();
    let (cmd, handler) = match cmd::resolve(args) {
        Resolved::Found(cmd, handler) => (cmd, handler),
        Resolved::Rejected(msg, found) => {
            c.out.error_bytes(&msg);
            count_error(&mut store.stats, &String::from_utf8_lossy(&msg));
            if let Some(cmd) = found {
                store.stats.rejected(cmd);
            }
            doom_transaction(c);
            return;
        }
    };
    let refusal = if !authenticated && !cmd.has(flag::NO_AUTH) {
        Some("NOAUTH Authentication required.")
    } else if !cmd.has(flag::ALLOW_BUSY) {
        Some(busy)
    } else if cmd.name == "shutdown" && !args[1..].iter().any(|a| crate::util::eq_ic(a, "nosave")) {
        // Only SHUTDOWN NOSAVE may end a server stuck in a script.
        Some(busy)
    } else {
        None
    };
    if let Some(msg) = refusal {
        // EXEC refused ends the transaction there (Redis's
        // execCommandAbort), with or without a MULTI before it.
        let msg = if cmd.name == "exec" {
            c.state.end_multi();
            store.watches.unwatch_all(token, c);
            format!("EXECABORT Transaction discarded because of: {msg}")
        } else {
            doom_transaction(c);
            msg.to_owned()
        };
        c.out.error(&msg);
        count_error(&mut store.stats, &msg);
        store.stats.rejected(cmd);
        return;
    }
    if cmd.name == "shutdown" {
        log::warn!("User requested shutdown while a script was busy...");
        let _ = crate::persist::aof::prepare_shutdown(store, true);
        log::warn!("Redis is now ready to exit, bye bye...");
        std::process::exit(0);
    }
    let mut out = std::mem::take(&mut c.out);
    let req = Request {
        token,
        cmd,
        handler,
        args,
        now_ms: unix_ms(),
        deny_blocking: true,
        serving: None,
        nested: true,
    };
    let mut clock = Instant::now();
    crate::call::call(store, clients, &mut out, req, &mut clock);
    if let Some(c) = clients.get_mut(token) {
        c.out = out;
    }
}

fn doom_transaction(c: &mut Client) {
    if let Some(tx) = c.state.multi_mut() {
        tx.aborted = true;
    }
}

/// Writes what the socket takes now; the loop writes the rest.
fn write(store: &mut Store, clients: &mut Slab<Client>, token: usize) {
    let Some(c) = clients.get_mut(token) else {
        return;
    };
    // Output held for an AOF sync keeps its order: the loop writes it.
    if c.out.is_empty() || !c.held.is_empty() {
        if !c.out.is_empty() || c.close_after_reply {
            store.notified.push(token);
        }
        return;
    }
    let Some(stream) = c.stream.as_mut() else {
        return;
    };
    while !c.out.is_empty() {
        match stream.write(c.out.front()) {
            Ok(0) => break,
            Ok(n) => {
                c.out.consume(n);
                c.out_written += n as u64;
                store.stats.net_output_bytes += n as u64;
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => break,
        }
    }
    if !c.out.is_empty() || c.close_after_reply {
        store.notified.push(token);
    }
}
