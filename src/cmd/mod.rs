//! The command table, argument helpers, and dispatch.
//!
//! `table.rs` holds one static [`Command`] per command, generated from
//! redis-server 7.0's own `COMMAND INFO` and `COMMAND DOCS` by
//! `scripts/gen_command_table.py`, with a handler named after the command.
//! The handlers live with their data type (`crate::types`), the generic
//! key commands in `keys.rs`, or their concern (`server.rs`, `connection.rs`, `introspect.rs`) and are
//! gathered under [`h`] so the table can name them.

pub mod acl;
pub mod acl_table;
pub mod connection;
pub mod debug;
pub mod function;
pub mod help;
pub mod introspect;
pub mod keys;
pub mod keyspec;
pub mod latency;
pub mod lolwut;
pub mod memory;
pub mod multi;
pub mod ops;
pub mod pubsub;
pub mod script;
pub mod server;
pub mod sort;
pub mod spec;
pub mod table;

use std::fmt;
use std::sync::OnceLock;

use bytes::Bytes;
use slab::Slab;

use crate::client::Client;
use crate::db::Db;
use crate::resp::Reply;
use crate::store::Store;
pub use spec::{Command, flag};

/// Every handler, under the name the table uses (`config|get` is
/// `config_get`).
pub mod h {
    pub use super::acl::*;
    pub use super::connection::*;
    pub use super::debug::*;
    pub use super::function::*;
    pub use super::introspect::*;
    pub use super::keys::*;
    pub use super::latency::*;
    pub use super::lolwut::lolwut;
    pub use super::memory::*;
    pub use super::multi::*;
    pub use super::ops::*;
    pub use super::pubsub::*;
    pub use super::script::*;
    pub use super::server::*;
    pub use super::sort::*;
    pub use crate::types::bitmap::*;
    pub use crate::types::geo::*;
    pub use crate::types::hash::*;
    pub use crate::types::hll::*;
    pub use crate::types::list::*;
    pub use crate::types::set::*;
    pub use crate::types::stream::{
        xack, xadd, xautoclaim, xclaim, xdel, xgroup_create, xgroup_createconsumer,
        xgroup_delconsumer, xgroup_destroy, xgroup_help, xgroup_setid, xinfo_consumers,
        xinfo_groups, xinfo_help, xinfo_stream, xlen, xpending, xrange, xread, xreadgroup,
        xrevrange, xsetid, xtrim,
    };
    pub use crate::types::string::*;
    pub use crate::types::zset::*;
}

/// A command's error reply. Only protocol and I/O errors close a
/// connection; these are ordinary replies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CmdError {
    WrongType,
    NotInteger,
    NotFloat,
    Syntax,
    NoSuchKey,
    Overflow,
    /// A complete message including its code (`ERR ...`, `NOPROTO ...`).
    Msg(String),
    /// As `Msg`, holding a client's bytes as they are (Redis quotes an
    /// argument with `%s`: raw, up to its first NUL).
    Raw(Vec<u8>),
    /// An error already counted in the error statistics (a script's
    /// failure on a command's own error reply): the call still fails.
    Uncounted(Vec<u8>),
}

impl CmdError {
    /// An `ERR`-coded error with the given text.
    pub fn err(text: impl fmt::Display) -> CmdError {
        CmdError::Msg(format!("ERR {text}"))
    }

    /// An `ERR`-coded error quoting `arg` between `before` and `after`, as
    /// Redis's `%s` shows it: its bytes up to the first NUL, unchanged.
    pub fn err_quoting(before: &str, arg: &[u8], after: &str) -> CmdError {
        let arg = crate::util::until_nul(arg);
        let mut msg = Vec::with_capacity(4 + before.len() + arg.len() + after.len());
        msg.extend_from_slice(b"ERR ");
        msg.extend_from_slice(before.as_bytes());
        msg.extend_from_slice(arg);
        msg.extend_from_slice(after.as_bytes());
        CmdError::Raw(msg)
    }

    /// The message as sent to the client.
    pub fn bytes(&self) -> std::borrow::Cow<'_, [u8]> {
        match self {
            CmdError::Raw(m) | CmdError::Uncounted(m) => std::borrow::Cow::Borrowed(m),
            other => std::borrow::Cow::Owned(other.to_string().into_bytes()),
        }
    }
}

impl fmt::Display for CmdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CmdError::WrongType => {
                f.write_str("WRONGTYPE Operation against a key holding the wrong kind of value")
            }
            CmdError::NotInteger => f.write_str("ERR value is not an integer or out of range"),
            CmdError::NotFloat => f.write_str("ERR value is not a valid float"),
            CmdError::Syntax => f.write_str("ERR syntax error"),
            CmdError::NoSuchKey => f.write_str("ERR no such key"),
            CmdError::Overflow => f.write_str("ERR increment or decrement would overflow"),
            CmdError::Msg(m) => f.write_str(m),
            CmdError::Raw(m) | CmdError::Uncounted(m) => f.write_str(&String::from_utf8_lossy(m)),
        }
    }
}

pub type CmdResult = Result<(), CmdError>;

/// What a handler sees: split borrows of the server's state, so the
/// keyspace, the other clients and the reply buffer can be used at once.
pub struct Ctx<'a> {
    pub store: &'a mut Store,
    pub clients: &'a mut Slab<Client>,
    /// The slab key (mio token) of the client running the command.
    pub me: usize,
    pub out: &'a mut Reply,
    /// The command's start time in Unix milliseconds. Every expiry check in
    /// one command uses this one instant, as Redis does.
    pub now_ms: u64,
    pub db_index: usize,
    /// Set by a blocking command that cannot be served yet, instead of a
    /// reply: the loop parks the client. Boxed, as blocking is rare: every
    /// call's outcome moves this field a few times.
    pub block: Option<Box<crate::blocking::Block>>,
    /// Set inside EXEC: blocking commands answer as their non-blocking
    /// forms do (see [`Ctx::block_on`]).
    pub deny_blocking: bool,
    /// Set when the loop re-runs a blocked client's command because a
    /// key became ready (see [`crate::blocking::Serving`]): Redis 7.0
    /// serves a woken client from that key alone, whatever its other keys
    /// hold (a string among them is no WRONGTYPE then).
    pub serving: Option<Box<crate::blocking::Serving>>,
    /// Set by EXEC when the transaction may run: the loop then runs the
    /// queued commands through normal dispatch.
    pub run_transaction: bool,
    /// Positions of arguments MONITOR and the slow log show as
    /// "(redacted)": passwords (see [`Ctx::redact`]).
    pub redacted: Vec<usize>,
    /// Ranges of `out` that are pushes, as positions in its pending bytes
    /// (see [`Ctx::push`]).
    pub pushed: Vec<(usize, usize)>,
    /// The reply holds an error already counted (a script returning a
    /// command's error): the call fails without counting it again.
    pub failed: bool,
}

/// What a blocking command answers instead of blocking where it may not
/// block (inside MULTI/EXEC): its non-blocking form's "nothing there".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unblocked {
    /// BLPOP, BLMPOP and the like.
    NullArray,
    /// BLMOVE and BRPOPLPUSH.
    Null,
    /// WAIT: the replicas that acknowledged so far.
    Int(i64),
}

impl Ctx<'_> {
    pub fn db(&mut self) -> &mut Db {
        &mut self.store.dbs[self.db_index]
    }

    pub fn client(&mut self) -> &mut Client {
        &mut self.clients[self.me]
    }

    /// Whether this command is replayed from the AOF, which ferrokv must
    /// obey as it was written (Redis's mustObeyClient): the loader's
    /// client is the one without a connection.
    pub fn must_obey(&self) -> bool {
        self.clients
            .get(self.me)
            .is_some_and(|c| c.stream.is_none() && !c.script)
    }

    /// Whether this command runs inside EXEC (Redis's `server.in_exec`).
    pub fn in_exec(&self) -> bool {
        self.clients
            .get(self.me)
            .is_some_and(|c| c.state.multi().is_some())
    }

    /// Asks the loop to park this client on `keys` until one is ready or
    /// the deadline passes; or, where blocking is denied, answers at once
    /// as the non-blocking form does.
    /// A command served by a ready key that must block again keeps the
    /// deadline it first blocked with.
    pub fn block_on(
        &mut self,
        keys: &[Bytes],
        deadline_ms: Option<u64>,
        wait: crate::blocking::WaitFor,
        denied: Unblocked,
    ) {
        if self.deny_blocking {
            match denied {
                Unblocked::NullArray => self.out.null_array(),
                Unblocked::Null => self.out.null(),
                Unblocked::Int(n) => self.out.int(n),
            }
            return;
        }
        let deadline_ms = match &self.serving {
            Some(serving) => serving.deadline_ms,
            None => deadline_ms,
        };
        self.block = Some(Box::new(crate::blocking::Block {
            keys: keys.to_vec(),
            deadline_ms,
            wait,
        }));
    }

    /// Hides argument `pos` from MONITOR and the slow log, as Redis's
    /// redactClientCommandArgument does for passwords. Redis redacts as the
    /// command goes, so an argument a command rejected before reaching it
    /// stays visible; callers redact at the same points.
    pub fn redact(&mut self, pos: usize) {
        if !self.redacted.contains(&pos) {
            self.redacted.push(pos);
        }
    }

    /// Writes a push to the running client (a pub/sub confirmation or
    /// message): unlike a reply, CLIENT REPLY OFF or SKIP keeps it, as
    /// Redis's CLIENT_PUSHING does.
    pub fn push(&mut self, write: impl FnOnce(&mut Reply)) {
        let start = self.out.pending();
        write(self.out);
        self.pushed.push((start, self.out.pending()));
    }

    /// Records that `key` in this database was modified, and the keyspace
    /// event `name` of `class` (`crate::effects::class`): Redis's
    /// signalModifiedKey and notifyKeyspaceEvent, which commands call
    /// together.
    #[inline]
    pub fn changed(&mut self, class: u32, name: &'static str, key: &[u8]) {
        self.store.changed(self.db_index, class, name, key);
    }

    /// Records that `key` in this database was modified (WATCH, tracking)
    /// without an event.
    #[inline]
    pub fn modified(&mut self, key: &[u8]) {
        self.store.modified(self.db_index, key);
    }

    /// Records a keyspace event for `key` in this database.
    #[inline]
    pub fn notify(&mut self, class: u32, name: &'static str, key: &[u8]) {
        self.store.notify(self.db_index, class, name, key);
    }

    /// Propagates this command as `argv` instead of as sent (Redis's
    /// rewriteClientCommandVector).
    pub fn propagate_as(&mut self, argv: Vec<Bytes>) {
        if self.store.effects.record_propagation {
            self.store.effects.own = crate::effects::Own::Rewritten(argv);
        }
    }

    /// Propagates `argv` now, in this database (Redis's alsoPropagate);
    /// what the database logged before it goes first.
    pub fn also_propagate(&mut self, argv: Vec<Bytes>) {
        if self.store.effects.record_propagation {
            self.store.absorb(self.db_index);
            self.store.effects.also_propagate(self.db_index, argv);
        }
    }

    /// Does not propagate this command as such: what it did was propagated
    /// by [`Ctx::also_propagate`] (Redis's preventCommandPropagation).
    pub fn prevent_propagation(&mut self) {
        self.store.effects.own = crate::effects::Own::Prevented;
    }

    /// Signals `key` in this database ready for blocked clients, for a type
    /// whose existing key gains what a waiter wants (a stream's XADD); the
    /// database signals keys it creates by itself.
    pub fn ready(&mut self, key: &[u8]) {
        if self.store.blocking.waits_in(self.db_index) {
            self.store
                .effects
                .ready
                .push((self.db_index, Bytes::copy_from_slice(key)));
        }
    }

    /// Marks the command as writing databases other than its client's, so
    /// their logs are drained too.
    pub fn touches_other_dbs(&mut self) {
        self.store.effects.other_dbs = true;
    }

    /// Counts a write for `dirty` (changes since the last save).
    pub fn dirty(&mut self, n: u64) {
        self.store.dirty += n;
    }
}

/// The command table by name, for [`lookup`]: open addressing on a
/// case-blind hash, so a name is hashed once and compared where it lies,
/// with no lower-cased copy and no UTF-8 check (every request pays this,
/// twice in a pipeline, which prefetches its keys first).
struct NameIndex {
    slots: Box<[Option<&'static Command>]>,
}

impl NameIndex {
    fn build() -> NameIndex {
        // At most a quarter full, so a probe sequence is about one slot.
        let size = (table::COMMANDS.len() * 4).next_power_of_two();
        let mut slots = vec![None; size].into_boxed_slice();
        for cmd in table::COMMANDS {
            let mut i = name_hash(cmd.name.as_bytes()) & (size - 1);
            while slots[i].is_some() {
                i = (i + 1) & (size - 1);
            }
            slots[i] = Some(cmd);
        }
        NameIndex { slots }
    }

    fn get(&self, name: &[u8]) -> Option<&'static Command> {
        let mask = self.slots.len() - 1;
        let mut i = name_hash(name) & mask;
        loop {
            let cmd = self.slots[i]?;
            if cmd.name.as_bytes().eq_ignore_ascii_case(name) {
                return Some(cmd);
            }
            i = (i + 1) & mask;
        }
    }
}

/// FNV-1a over the bytes with ASCII case folded (`| 0x20` also folds a few
/// symbols together, which only costs a probe: equality decides).
fn name_hash(name: &[u8]) -> usize {
    let mut h: u32 = 0x811c_9dc5;
    for &b in name {
        h = (h ^ u32::from(b | 0x20)).wrapping_mul(0x0100_0193);
    }
    (h ^ (h >> 16)) as usize
}

/// Finds a command by name, case-insensitively.
pub fn lookup(name: &[u8]) -> Option<&'static Command> {
    static INDEX: OnceLock<NameIndex> = OnceLock::new();
    INDEX.get_or_init(NameIndex::build).get(name)
}

/// Finds a subcommand of a container by name, case-insensitively.
pub fn lookup_sub(container: &'static Command, sub: &[u8]) -> Option<&'static Command> {
    container.subcommands.iter().find(|c| {
        c.name
            .split_once('|')
            .is_some_and(|(_, s)| s.as_bytes().eq_ignore_ascii_case(sub))
    })
}

/// The result of resolving a request to a descriptor.
pub enum Resolved {
    /// A command that can run, with its handler (containers named alone
    /// have none and are rejected).
    Found(&'static Command, spec::Handler),
    /// An error to reply with instead of running anything (bytes, because
    /// it may quote binary arguments), and the command it was for when
    /// one was found: an arity error counts as a rejected call of it in
    /// INFO commandstats, as in Redis.
    Rejected(Vec<u8>, Option<&'static Command>),
}

/// Resolves `args[0]` (and `args[1]` for containers) and checks arity,
/// producing Redis's exact error messages.
pub fn resolve(args: &[Bytes]) -> Resolved {
    let Some(cmd) = lookup(&args[0]) else {
        return Resolved::Rejected(unknown_command_message(args), None);
    };
    let cmd = if cmd.subcommands.is_empty() || args.len() < 2 {
        // A plain command, or a container named alone: its own arity decides
        // (COMMAND runs by itself; CONFIG alone is an arity error).
        cmd
    } else {
        match lookup_sub(cmd, &args[1]) {
            Some(sub) => sub,
            None => {
                let mut msg = b"ERR unknown subcommand '".to_vec();
                msg.extend_from_slice(truncated(&args[1], 128));
                msg.extend_from_slice(
                    format!("'. Try {} HELP.", cmd.name.to_ascii_uppercase()).as_bytes(),
                );
                return Resolved::Rejected(msg, None);
            }
        }
    };
    let argc = args.len() as i32;
    match cmd.handler {
        Some(handler) if (cmd.arity <= 0 || argc == cmd.arity) && argc >= -cmd.arity => {
            Resolved::Found(cmd, handler)
        }
        _ => Resolved::Rejected(
            format!("ERR wrong number of arguments for '{}' command", cmd.name).into_bytes(),
            Some(cmd),
        ),
    }
}

/// At most `max` bytes of `b`, and nothing from its first NUL on: Redis
/// quotes arguments with `%.128s`, which stops at a NUL.
fn truncated(b: &[u8], max: usize) -> &[u8] {
    let b = crate::util::until_nul(b);
    &b[..b.len().min(max)]
}

/// Redis's "unknown command" message, which quotes the arguments up to
/// about 128 bytes, byte for byte (each only up to its first NUL).
pub fn unknown_command_message(args: &[Bytes]) -> Vec<u8> {
    let mut quoted: Vec<u8> = Vec::new();
    for arg in &args[1..] {
        if quoted.len() >= 128 {
            break;
        }
        let room = 128 - quoted.len();
        quoted.push(b'\'');
        quoted.extend_from_slice(truncated(arg, room));
        quoted.extend_from_slice(b"' ");
    }
    let mut msg = b"ERR unknown command '".to_vec();
    msg.extend_from_slice(truncated(&args[0], 128));
    msg.extend_from_slice(b"', with args beginning with: ");
    msg.extend_from_slice(&quoted);
    msg
}

/// Parses an integer argument, or `ERR value is not an integer...`.
pub fn arg_i64(arg: &[u8]) -> Result<i64, CmdError> {
    crate::util::parse_i64(arg).ok_or(CmdError::NotInteger)
}

/// Parses an argument that must fit in a C `int`, with Redis's message when
/// it does not.
pub fn arg_i32(arg: &[u8]) -> Result<i32, CmdError> {
    let n = arg_i64(arg)?;
    i32::try_from(n).map_err(|_| {
        CmdError::err("value is out of range, value must between -2147483648 and 2147483647")
    })
}

/// Parses a float argument, or `ERR value is not a valid float`.
pub fn arg_f64(arg: &[u8]) -> Result<f64, CmdError> {
    crate::util::parse_f64(arg).ok_or(CmdError::NotFloat)
}

/// The argument positions of the keys a command touches, found from its
/// key specs as Redis finds them (COMMAND GETKEYS, tracking).
pub fn command_keys(cmd: &Command, args: &[Bytes]) -> Vec<usize> {
    keyspec::keys_with_flags(cmd, args)
        .into_iter()
        .map(|k| k.pos)
        .collect()
}
