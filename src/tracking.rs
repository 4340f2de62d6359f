//! CLIENT TRACKING: server-assisted client-side caching, as Redis 7.0's
//! `tracking.c`.
//!
//! A client that turns tracking on is told when a key it may hold in a
//! local cache changes, in one of two ways:
//!
//! - **Default mode**: every key a read-only command of the client read is
//!   remembered in the tracking table (key name, whatever the database, to
//!   the IDs of the clients that read it). When the key changes, each of
//!   them gets one invalidation and the key leaves the table: a client
//!   hears of a key once per read. OPTIN remembers only the reads of the
//!   command (or transaction) after `CLIENT CACHING yes`; OPTOUT all but
//!   those after `CLIENT CACHING no`.
//! - **Broadcast mode** (BCAST): nothing is remembered per client; every
//!   modified key that starts with one of the client's prefixes (the empty
//!   prefix by default) is gathered per prefix and sent once per loop
//!   iteration, as one array per prefix.
//!
//! An invalidation is a RESP3 push `["invalidate", [key, ...]]` (the keys
//! null after FLUSHDB/FLUSHALL), or, redirected to another connection
//! that speaks RESP2 and is subscribed, a message on
//! `__redis__:invalidate`. The running client's own invalidations wait
//! until its command (or transaction) is done, so they follow its reply.
//!
//! The table holds client IDs with the slab slot each client had, never
//! slots alone: a slot is reused by later connections, an ID never. Like
//! Redis, the table forgets a client lazily: its entries stay until the
//! key changes, and a gone client is skipped then. When the last client
//! stops tracking the whole table goes at once, so a server where nobody
//! tracks pays nothing on writes (Redis keeps the stale entries and looks
//! each modified key up until they are gone).

use std::collections::{BTreeMap, BTreeSet};

use bytes::Bytes;
use slab::Slab;

use crate::client::Client;
use crate::cmd::{Command, flag};
use crate::db::dict::Dict;
use crate::effects::Modified;
use crate::pubsub::Delivery;
use crate::resp::Protocol;
use crate::util::Rng;

/// Redis's `tracking-table-max-keys` eviction tries this many keys per run
/// and per run in a row it has not got under the limit
/// (trackingLimitUsedSlots).
const EVICTION_EFFORT_PER_RUN: u32 = 100;
/// A table with more keys than this is freed on the lazyfree thread, as
/// Redis's freeTrackingRadixTreeAsync does past LAZYFREE_THRESHOLD.
const LAZYFREE_THRESHOLD_KEYS: usize = 64;

/// The start of every invalidation, by how it is delivered.
const PUSH_HEADER: &[u8] = b">2\r\n$10\r\ninvalidate\r\n";
const MESSAGE_HEADER: &[u8] = b"*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n";

/// Which reads of a client in default mode are remembered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reads {
    All,
    /// Only after `CLIENT CACHING yes`.
    OptIn,
    /// All but those after `CLIENT CACHING no`.
    OptOut,
}

/// How a client tracks keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// The keys it reads (default mode).
    Reads(Reads),
    /// Every key with one of these prefixes (BCAST), in byte order.
    Broadcast(BTreeSet<Bytes>),
}

/// The connection invalidations are redirected to: its ID, and the slot it
/// had then, to find it again (see the module doc).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Redirect {
    pub id: u64,
    pub token: usize,
}

/// One client's tracking state, while tracking is on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientTracking {
    pub scope: Scope,
    pub redirect: Option<Redirect>,
    /// NOLOOP: no invalidation for keys the client changed itself.
    pub noloop: bool,
    /// CLIENT CACHING was given for the next command (or transaction).
    pub caching: bool,
    /// The redirect target has gone (CLIENT LIST flag `R`).
    pub broken_redirect: bool,
}

impl ClientTracking {
    /// The flag letters CLIENT LIST shows: `t`, then `R` and `B`.
    pub fn flag_letters(&self) -> &'static str {
        match (self.broken_redirect, self.is_broadcast()) {
            (false, false) => "t",
            (true, false) => "tR",
            (false, true) => "tB",
            (true, true) => "tRB",
        }
    }

    /// CLIENT GETREDIR's answer: 0 without a redirect.
    pub fn redirect_id(&self) -> u64 {
        self.redirect.map_or(0, |r| r.id)
    }

    pub fn is_broadcast(&self) -> bool {
        matches!(self.scope, Scope::Broadcast(_))
    }

    pub fn reads(&self) -> Option<Reads> {
        match self.scope {
            Scope::Reads(r) => Some(r),
            Scope::Broadcast(_) => None,
        }
    }

    /// Whether the read-only command now done is remembered.
    fn remembers(&self) -> bool {
        match self.scope {
            Scope::Reads(Reads::All) => true,
            Scope::Reads(Reads::OptIn) => self.caching,
            Scope::Reads(Reads::OptOut) => !self.caching,
            Scope::Broadcast(_) => false,
        }
    }
}

/// What CLIENT TRACKING ON asks for, once checked.
#[derive(Debug, Clone)]
pub struct Options {
    pub redirect: Option<Redirect>,
    /// `None` for BCAST.
    pub reads: Option<Reads>,
    pub noloop: bool,
    pub prefixes: Vec<Bytes>,
}

/// The clients that may hold a key: their IDs, each with its slot then,
/// sorted by ID.
#[derive(Debug, Default)]
struct Readers(Vec<(u64, usize)>);

impl Readers {
    /// Adds a reader; false if it was there.
    fn insert(&mut self, id: u64, token: usize) -> bool {
        match self.0.binary_search_by_key(&id, |&(i, _)| i) {
            Ok(_) => false,
            Err(at) => {
                self.0.insert(at, (id, token));
                true
            }
        }
    }
}

/// One BCAST prefix: the keys with it changed this iteration (each with the
/// ID of the client that changed it last, for NOLOOP; none for expiry),
/// and the clients listening, by slot (a client leaves on closing).
#[derive(Debug, Default)]
struct Prefix {
    keys: BTreeMap<Bytes, Option<u64>>,
    clients: Vec<usize>,
}

/// What the running client is owed once its command is done.
#[derive(Debug)]
enum Pending {
    Key(Bytes),
    /// A flush: every key.
    All,
}

/// The body of one invalidation.
#[derive(Clone, Copy)]
enum Body<'a> {
    Key(&'a [u8]),
    /// An array of keys, already encoded (BCAST).
    Keys(&'a [u8]),
    /// A flush: the null of the tracking client's protocol.
    All,
}

/// The tracking table, the broadcast prefixes and the invalidations owed
/// to the running client.
#[derive(Debug)]
pub struct Tracking {
    /// Clients with tracking on (INFO `tracking_clients`).
    clients: usize,
    table: Dict<Readers>,
    /// Client IDs across the table (INFO `tracking_total_items`).
    items: u64,
    prefixes: BTreeMap<Bytes, Prefix>,
    pending: Vec<Pending>,
    /// Runs of the table limit in a row that ended still over it.
    runs_over_limit: u32,
    rng: Rng,
    /// Reused to encode messages.
    scratch: Vec<u8>,
}

impl Default for Tracking {
    fn default() -> Tracking {
        Tracking {
            clients: 0,
            table: Dict::new(),
            items: 0,
            prefixes: BTreeMap::new(),
            pending: Vec::new(),
            runs_over_limit: 0,
            rng: Rng::from_time(),
            scratch: Vec::new(),
        }
    }
}

impl Tracking {
    /// Whether any client has tracking on, or the running client is owed
    /// invalidations: otherwise no hook does anything.
    #[inline]
    pub fn is_active(&self) -> bool {
        self.clients > 0 || !self.pending.is_empty()
    }

    /// INFO's `tracking_clients`.
    pub fn client_count(&self) -> usize {
        self.clients
    }

    /// INFO's `tracking_total_keys`.
    pub fn total_keys(&self) -> usize {
        self.table.len()
    }

    /// INFO's `tracking_total_items`.
    pub fn total_items(&self) -> u64 {
        self.items
    }

    /// INFO's `tracking_total_prefixes`.
    pub fn total_prefixes(&self) -> usize {
        self.prefixes.len()
    }

    /// Turns tracking on for `client` (slot `token`), or changes its
    /// options, as Redis's enableTracking: CLIENT CACHING and a BCAST
    /// client's prefixes carry over; prefixes are only added.
    pub fn enable(&mut self, token: usize, client: &mut Client, opts: Options) {
        let t = client.tracking.get_or_insert_with(|| {
            self.clients += 1;
            Box::new(ClientTracking {
                scope: Scope::Reads(Reads::All),
                redirect: None,
                noloop: false,
                caching: false,
                broken_redirect: false,
            })
        });
        t.redirect = opts.redirect;
        t.noloop = opts.noloop;
        t.broken_redirect = false;
        match opts.reads {
            Some(reads) => t.scope = Scope::Reads(reads),
            None => {
                let mut mine = match std::mem::replace(&mut t.scope, Scope::Reads(Reads::All)) {
                    Scope::Broadcast(p) => p,
                    Scope::Reads(_) => BTreeSet::new(),
                };
                let wanted = if opts.prefixes.is_empty() {
                    vec![Bytes::new()]
                } else {
                    opts.prefixes
                };
                for p in wanted {
                    let prefix = self.prefixes.entry(p.clone()).or_default();
                    if !prefix.clients.contains(&token) {
                        prefix.clients.push(token);
                        mine.insert(p);
                    }
                }
                t.scope = Scope::Broadcast(mine);
            }
        }
    }

    /// A client closes, RESETs or turns tracking off (Redis's
    /// disableTracking). Its entries in the table stay until their keys
    /// change, unless nobody tracks any more (see the module doc).
    pub fn forget(&mut self, token: usize, client: &mut Client) {
        let Some(t) = client.tracking.take() else {
            return;
        };
        if let Scope::Broadcast(mine) = &t.scope {
            for p in mine {
                if let Some(prefix) = self.prefixes.get_mut(p) {
                    prefix.clients.retain(|&c| c != token);
                    if prefix.clients.is_empty() {
                        self.prefixes.remove(p);
                    }
                }
            }
        }
        self.clients -= 1;
        if self.clients == 0 {
            self.drop_table();
            self.runs_over_limit = 0;
        }
    }

    /// Empties the table, freeing a big one off the loop.
    fn drop_table(&mut self) {
        let table = self.table.take();
        if table.len() > LAZYFREE_THRESHOLD_KEYS {
            crate::lazyfree::drop_later(table);
        }
        self.items = 0;
    }

    /// After every call by a tracking client (`token`): remembers the keys
    /// a read-only command read, and ends a CLIENT CACHING for one command
    /// as Redis's resetClient does (not inside a transaction, whose
    /// commands it covers, nor after a CLIENT command).
    pub fn after_call(
        &mut self,
        clients: &mut Slab<Client>,
        token: usize,
        cmd: &'static Command,
        args: &[Bytes],
    ) {
        let Some(c) = clients.get_mut(token) else {
            return;
        };
        let Some(t) = c.tracking.as_deref_mut() else {
            return;
        };
        // Shard channels look like keys to COMMAND, but are not cached.
        if cmd.has(flag::READONLY) && !cmd.has(flag::PUBSUB) && t.remembers() {
            for pos in crate::cmd::command_keys(cmd, args) {
                let Some(key) = args.get(pos) else {
                    continue;
                };
                if self
                    .table
                    .get_or_insert_with(key, Readers::default)
                    .insert(c.id, token)
                {
                    self.items += 1;
                }
            }
        }
        if t.caching && c.state.multi().is_none() && !is_client_command(cmd) {
            t.caching = false;
        }
    }

    /// A command was refused before it ran: Redis's resetClient still ends
    /// a CLIENT CACHING (unless the refused command was a CLIENT one, or
    /// a transaction is open).
    pub fn after_refusal(&mut self, client: &mut Client, cmd: Option<&'static Command>) {
        if client.state.multi().is_some() || cmd.is_some_and(is_client_command) {
            return;
        }
        if let Some(t) = client.tracking.as_deref_mut() {
            t.caching = false;
        }
    }

    /// Keys modified by the command of `by` (`None` outside any command),
    /// each as Redis's trackingInvalidateKey: the clients that read it are
    /// told (the running client once its command is done) and the key
    /// leaves the table; it is remembered for the BCAST prefixes it
    /// matches, as changed by nobody if it expired (for NOLOOP).
    pub fn invalidate(&mut self, d: &mut Delivery, by: Option<usize>, keys: &[Modified]) {
        let by_id = by.and_then(|t| d.clients.get(t)).map(|c| c.id);
        for m in keys {
            if !self.prefixes.is_empty() {
                let by = if m.by_expiry { None } else { by_id };
                self.remember_for_broadcast(by, &m.key);
            }
            self.invalidate_key(d, by, &m.key);
        }
    }

    /// Notes a modified key under every prefix it starts with.
    fn remember_for_broadcast(&mut self, by: Option<u64>, key: &Bytes) {
        for (prefix, state) in self.prefixes.iter_mut() {
            if key.starts_with(prefix) {
                // The last client to change it decides NOLOOP.
                state.keys.insert(key.clone(), by);
            }
        }
    }

    /// Tells the clients that read `key` that it changed, and forgets it;
    /// the running client `by` (a script's caller while its commands run)
    /// is told once its command is done.
    fn invalidate_key(&mut self, d: &mut Delivery, by: Option<usize>, key: &[u8]) {
        let Some(readers) = self.table.remove(key) else {
            return;
        };
        self.items -= readers.0.len() as u64;
        for (id, token) in readers.0 {
            let Some(c) = d.clients.get(token).filter(|c| c.id == id) else {
                continue;
            };
            // A client that switched to BCAST since is not told of keys
            // it read before, and NOLOOP skips its own changes.
            let Some(t) = c.tracking.as_deref() else {
                continue;
            };
            let running = Some(token) == by;
            if t.is_broadcast() || (t.noloop && running) {
                continue;
            }
            if running {
                self.pending.push(Pending::Key(Bytes::copy_from_slice(key)));
            } else {
                send(d, &mut self.scratch, token, Body::Key(key));
            }
        }
    }

    /// FLUSHDB, FLUSHALL: every tracking client (BCAST ones too) gets the
    /// null invalidation, in the order they connected, and the table is
    /// emptied (trackingInvalidateKeysOnFlush).
    pub fn invalidate_all(&mut self, d: &mut Delivery, by: Option<usize>) {
        let mut tracking: Vec<(u64, usize)> = d
            .clients
            .iter()
            .filter(|(_, c)| c.tracking.is_some())
            .map(|(token, c)| (c.id, token))
            .collect();
        tracking.sort_unstable();
        for (_, token) in tracking {
            if Some(token) == by {
                self.pending.push(Pending::All);
            } else {
                send(d, &mut self.scratch, token, Body::All);
            }
        }
        self.drop_table();
    }

    /// The running client's command (or transaction) is done: what it is
    /// owed goes out after its reply (trackingHandlePendingKeyInvalidations).
    pub fn flush_pending(&mut self, d: &mut Delivery) {
        for p in std::mem::take(&mut self.pending) {
            let body = match &p {
                Pending::Key(k) => Body::Key(k),
                Pending::All => Body::All,
            };
            send(d, &mut self.scratch, d.me, body);
        }
    }

    /// Once per loop iteration: sends the BCAST invalidations gathered
    /// since, and keeps the table within `tracking-table-max-keys`.
    pub fn before_sleep(&mut self, d: &mut Delivery, max_keys: usize) {
        if !self.prefixes.is_empty() {
            self.broadcast(d);
        }
        if max_keys > 0 && self.table.len() > max_keys {
            self.evict(d, max_keys);
        } else {
            self.runs_over_limit = 0;
        }
    }

    /// Sends each prefix's changed keys to its clients, one array per
    /// prefix, in prefix order (trackingBroadcastInvalidationMessages).
    fn broadcast(&mut self, d: &mut Delivery) {
        let scratch = &mut self.scratch;
        for prefix in self.prefixes.values_mut() {
            if prefix.keys.is_empty() {
                continue;
            }
            let keys = std::mem::take(&mut prefix.keys);
            let Some(everyone) = keys_array(&keys, None) else {
                continue;
            };
            for &token in &prefix.clients {
                let Some(c) = d.clients.get(token) else {
                    continue;
                };
                let (id, noloop) = (c.id, c.tracking.as_deref().is_some_and(|t| t.noloop));
                if !noloop {
                    send(d, scratch, token, Body::Keys(&everyone));
                } else if let Some(own) = keys_array(&keys, Some(id)) {
                    send(d, scratch, token, Body::Keys(&own));
                }
            }
        }
    }

    /// Evicts random keys, each with an invalidation as if it changed,
    /// until the table is within `max_keys` or this run's effort is spent;
    /// the effort grows with each run in a row that ends still over
    /// (trackingLimitUsedSlots).
    fn evict(&mut self, d: &mut Delivery, max_keys: usize) {
        let effort = EVICTION_EFFORT_PER_RUN.saturating_mul(self.runs_over_limit + 1);
        for _ in 0..effort {
            let Some((key, _)) = self.table.random_entry(&mut self.rng) else {
                break;
            };
            let key = Bytes::copy_from_slice(key);
            self.invalidate_key(d, None, &key);
            if self.table.len() <= max_keys {
                self.runs_over_limit = 0;
                return;
            }
        }
        self.runs_over_limit += 1;
    }
}

/// Whether `cmd` is a CLIENT subcommand (Redis's `clientCommand`, the one
/// procedure behind them all; the container alone has none, so a bare
/// CLIENT refused for its arity counts as another command).
fn is_client_command(cmd: &'static Command) -> bool {
    cmd.name.starts_with("client|")
}

/// The keys as one RESP array, leaving out those that `noloop` (a client
/// ID) changed last; `None` when none is left (trackingBuildBroadcastReply).
fn keys_array(keys: &BTreeMap<Bytes, Option<u64>>, noloop: Option<u64>) -> Option<Vec<u8>> {
    let kept = |by: &Option<u64>| noloop.is_none() || *by != noloop;
    let count = keys.values().filter(|by| kept(by)).count();
    if count == 0 {
        return None;
    }
    let mut out = format!("*{count}\r\n").into_bytes();
    for (key, by) in keys {
        if kept(by) {
            out.extend_from_slice(format!("${}\r\n", key.len()).as_bytes());
            out.extend_from_slice(key);
            out.extend_from_slice(b"\r\n");
        }
    }
    Some(out)
}

/// Sends one invalidation for the tracking client `token`, to it or to
/// its redirect target, as Redis's sendTrackingMessage: a RESP3 receiver
/// gets a push; a RESP2 one only when it is a redirect target in Pub/Sub
/// mode, as a message on `__redis__:invalidate`; a redirect target that is
/// gone gets the tracking client a `tracking-redir-broken` push instead.
fn send(d: &mut Delivery, scratch: &mut Vec<u8>, token: usize, body: Body) {
    let Some(own_proto) = d.proto(token) else {
        return;
    };
    let redirect = d
        .clients
        .get(token)
        .and_then(|c| c.tracking.as_deref())
        .and_then(|t| t.redirect);
    let target = match redirect {
        Some(r) if d.clients.get(r.token).is_some_and(|c| c.id == r.id) => r.token,
        Some(r) => return redirect_broken(d, token, r.id, own_proto),
        None => token,
    };
    let Some(proto) = d.proto(target) else {
        return;
    };
    scratch.clear();
    if proto == Protocol::Resp3 {
        scratch.extend_from_slice(PUSH_HEADER);
    } else if redirect.is_some()
        && d.clients
            .get(target)
            .is_some_and(|c| c.mode.is_subscribed())
    {
        scratch.extend_from_slice(MESSAGE_HEADER);
    } else {
        // A RESP2 connection cannot take a push amid its replies.
        return;
    }
    match body {
        Body::Key(key) => {
            scratch.extend_from_slice(format!("*1\r\n${}\r\n", key.len()).as_bytes());
            scratch.extend_from_slice(key);
            scratch.extend_from_slice(b"\r\n");
        }
        Body::Keys(array) => scratch.extend_from_slice(array),
        // The null is the tracking client's, even when redirected.
        Body::All => scratch.extend_from_slice(match own_proto {
            Protocol::Resp2 => b"$-1\r\n",
            Protocol::Resp3 => b"_\r\n",
        }),
    }
    d.send_raw(target, scratch);
}

/// The redirect target of `token` is gone: the flag `R`, and a RESP3
/// client is told (each time an invalidation is lost).
fn redirect_broken(d: &mut Delivery, token: usize, redirect_id: u64, proto: Protocol) {
    if let Some(t) = d
        .clients
        .get_mut(token)
        .and_then(|c| c.tracking.as_deref_mut())
    {
        t.broken_redirect = true;
    }
    if proto == Protocol::Resp3 {
        let msg = format!(">2\r\n$21\r\ntracking-redir-broken\r\n:{redirect_id}\r\n");
        d.send_raw(token, msg.as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readers_stay_sorted_and_unique() {
        let mut r = Readers::default();
        assert!(r.insert(5, 1));
        assert!(r.insert(2, 7));
        assert!(!r.insert(5, 1));
        assert!(r.insert(9, 0));
        assert_eq!(r.0, vec![(2, 7), (5, 1), (9, 0)]);
    }

    #[test]
    fn broadcast_arrays_leave_out_a_noloop_clients_own_keys() {
        let mut keys = BTreeMap::new();
        keys.insert(Bytes::from_static(b"b"), Some(1));
        keys.insert(Bytes::from_static(b"a"), None);
        assert_eq!(
            keys_array(&keys, None).unwrap(),
            b"*2\r\n$1\r\na\r\n$1\r\nb\r\n"
        );
        assert_eq!(keys_array(&keys, Some(1)).unwrap(), b"*1\r\n$1\r\na\r\n");
        keys.remove(&b"a"[..]);
        assert_eq!(keys_array(&keys, Some(1)), None);
    }

    #[test]
    fn client_commands_are_recognised_by_name() {
        let client = crate::cmd::lookup(b"client").unwrap();
        let caching = crate::cmd::lookup_sub(client, b"caching").unwrap();
        assert!(is_client_command(caching));
        assert!(!is_client_command(client));
        assert!(!is_client_command(crate::cmd::lookup(b"get").unwrap()));
    }
}
