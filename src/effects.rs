//! What commands did: the one record every consumer of a change reads.
//!
//! A command's handler, and the data layer under it, report each effect
//! where it happens, as Redis's `signalModifiedKey`, `notifyKeyspaceEvent`,
//! `signalKeyAsReady` and `alsoPropagate` do:
//!
//! - **modified keys** drive WATCH and CLIENT TRACKING invalidation;
//! - **ready keys** wake clients blocked on them (any type);
//! - **keyspace events** are published on `__keyspace@<db>__:<key>` and
//!   `__keyevent@<db>__:<event>` when `notify-keyspace-events` asks;
//! - **propagation** is the command as it must be replayed (AOF, replicas):
//!   not always the command as sent (`SET k v EX 10` is `SET k v PXAT t`).
//!
//! `call()` drains the record once, after the command (see `crate::call`).
//! Recording costs one check while nobody consumes a kind of effect: the
//! flags here say who listens, and each recorder tests its flag first.
//!
//! The data layer (`Db`) cannot reach this record; it keeps its own small
//! log ([`crate::db::DbEvent`]) of keys it created, expired or made ready,
//! which [`Effects::absorb`] moves here in order, before the handler's own
//! next event, so a subscriber sees `expired` or `new` before `set` exactly
//! as Redis publishes them.

use bytes::Bytes;

use crate::db::{DbEvent, DbEventKind};

/// Keyspace notification classes, Redis's `NOTIFY_*` bits.
pub mod class {
    pub const KEYSPACE: u32 = 1 << 0;
    pub const KEYEVENT: u32 = 1 << 1;
    pub const GENERIC: u32 = 1 << 2;
    pub const STRING: u32 = 1 << 3;
    pub const LIST: u32 = 1 << 4;
    pub const SET: u32 = 1 << 5;
    pub const HASH: u32 = 1 << 6;
    pub const ZSET: u32 = 1 << 7;
    pub const EXPIRED: u32 = 1 << 8;
    pub const EVICTED: u32 = 1 << 9;
    pub const STREAM: u32 = 1 << 10;
    pub const KEY_MISS: u32 = 1 << 11;
    pub const MODULE: u32 = 1 << 13;
    pub const NEW: u32 = 1 << 14;
    /// `A`: every class but `m` and `n`.
    pub const ALL: u32 =
        GENERIC | STRING | LIST | SET | HASH | ZSET | EXPIRED | EVICTED | STREAM | MODULE;
}

/// One keyspace event to publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub db: usize,
    pub name: &'static str,
    pub key: Bytes,
}

/// A modified key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Modified {
    pub db: usize,
    pub key: Bytes,
    /// Deleted by expiry: a WATCH of a key already expired when watched
    /// does not count it (Redis's touchWatchedKey).
    pub by_expiry: bool,
}

/// How a command's own propagation is to be done.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Own {
    /// As sent, if it changed something (the `dirty` counter moved).
    #[default]
    AsSent,
    /// Replaced by this form (Redis's rewriteClientCommandVector).
    Rewritten(Vec<Bytes>),
    /// Not at all: what it did is propagated by other means (a served
    /// BLPOP as LPOP, SPOP with a count as SREMs).
    Prevented,
}

/// A command to replay, in the database it runs in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Op {
    pub db: usize,
    pub argv: Vec<Bytes>,
}

/// Everything recorded since the last drain.
#[derive(Debug, Default)]
pub struct Effects {
    /// `notify-keyspace-events`, parsed; 0 publishes nothing.
    pub notify_flags: u32,
    /// `lazyfree-lazy-eviction` and `lazyfree-lazy-expire`: an evicted or
    /// expired key propagates as UNLINK instead of DEL, as Redis's
    /// propagateDeletion writes it.
    pub lazy_eviction: bool,
    pub lazy_expire: bool,
    /// Whether modified keys are recorded: someone WATCHes or tracks keys
    /// (kept by `Store::refresh_listeners`).
    pub record_modified: bool,
    /// Whether propagation is recorded: an AOF, a replica, or a test's
    /// view ([`Effects::propagated`]) consumes it.
    pub record_propagation: bool,
    pub modified: Vec<Modified>,
    /// How many of `modified` tracking has seen: it follows them call by
    /// call, inside a transaction too, while WATCH reads them all after
    /// the top-level call.
    pub tracked: usize,
    /// FLUSHDB and FLUSHALL: every key of these databases (all if `None`)
    /// changed, for WATCH and tracking's null invalidation.
    pub flushed: Vec<Option<usize>>,
    pub ready: Vec<(usize, Bytes)>,
    pub events: Vec<Event>,
    /// The running command's own propagation.
    pub own: Own,
    /// Operations propagated during the running top-level call, in order
    /// (Redis's `also_propagate`); wrapped in MULTI/EXEC at the end of the
    /// call when more than one.
    pub pending: Vec<Op>,
    /// The test view: every operation propagated, once `Some`.
    pub propagated: Option<Vec<Op>>,
    /// The AOF's buffer, fed as calls end (see `crate::persist::aof`).
    pub aof: crate::persist::aof::Feed,
    /// Keys expired by lazy or active expiry (INFO `expired_keys`).
    pub expired_keys: u64,
    /// Keys evicted for maxmemory (INFO `evicted_keys`).
    pub evicted_keys: u64,
    /// Set by a command that writes databases other than its client's
    /// (MOVE, COPY ... DB, SWAPDB, FLUSHALL): every database's log is read.
    pub other_dbs: bool,
}

impl Effects {
    /// Records that `key` in `db` was modified (signalModifiedKey).
    #[inline]
    pub fn modified(&mut self, db: usize, key: &[u8]) {
        if self.record_modified {
            self.modified.push(Modified {
                db,
                key: Bytes::copy_from_slice(key),
                by_expiry: false,
            });
        }
    }

    /// Records a keyspace event (notifyKeyspaceEvent), if its class is on.
    #[inline]
    pub fn notify(&mut self, class: u32, name: &'static str, db: usize, key: &[u8]) {
        if self.notify_flags & class != 0 {
            self.events.push(Event {
                db,
                name,
                key: Bytes::copy_from_slice(key),
            });
        }
    }

    /// Records an operation to propagate now (alsoPropagate).
    pub fn also_propagate(&mut self, db: usize, argv: Vec<Bytes>) {
        if self.record_propagation {
            if self.aof.on {
                self.aof.stage(db, &argv);
            }
            if self.propagated.is_some() {
                self.pending.push(Op { db, argv });
            }
        }
    }

    /// Records a command to propagate as it was sent: encoded for the AOF
    /// straight from its arguments, with no copy of the vector.
    pub fn propagate_args(&mut self, db: usize, args: &[Bytes]) {
        if self.record_propagation {
            if self.aof.on {
                self.aof.stage(db, args);
            }
            if self.propagated.is_some() {
                self.pending.push(Op {
                    db,
                    argv: args.to_vec(),
                });
            }
        }
    }

    /// Moves what a database logged into the record, in order: a created
    /// key's `new` event, an expired key's event, modification, DEL and
    /// count, a key made ready.
    pub fn absorb(&mut self, db: usize, log: &mut Vec<DbEvent>) {
        for DbEvent { kind, key } in log.drain(..) {
            match kind {
                DbEventKind::New => self.notify(class::NEW, "new", db, &key),
                DbEventKind::Expired => {
                    self.expired_keys += 1;
                    self.deleted_by_server(db, key, class::EXPIRED, "expired", true);
                }
                DbEventKind::Evicted => {
                    self.evicted_keys += 1;
                    self.deleted_by_server(db, key, class::EVICTED, "evicted", false);
                }
                DbEventKind::Ready => self.ready.push((db, key)),
            }
        }
    }

    /// What a key the server deleted itself (expired or evicted) brings:
    /// its keyspace event, the key modified, and DEL propagated (UNLINK
    /// under the matching `lazyfree-lazy-*`, as Redis's propagateDeletion).
    fn deleted_by_server(
        &mut self,
        db: usize,
        key: Bytes,
        class: u32,
        event: &'static str,
        by_expiry: bool,
    ) {
        self.notify(class, event, db, &key);
        if self.record_modified {
            self.modified.push(Modified {
                db,
                key: key.clone(),
                by_expiry,
            });
        }
        let lazy = if by_expiry {
            self.lazy_expire
        } else {
            self.lazy_eviction
        };
        self.also_propagate(db, vec![deletion(lazy), key]);
    }

    /// Ends a top-level call's propagation: its operations, wrapped in
    /// MULTI/EXEC when there is more than one, go to the consumers.
    /// `transaction` is false where Redis propagates without MULTI/EXEC:
    /// active expiry, and a command that touches arbitrary keys (SCAN,
    /// RANDOMKEY) run directly.
    pub fn flush_propagation(&mut self, transaction: bool) {
        self.aof.commit(transaction);
        if self.pending.is_empty() {
            return;
        }
        let ops = std::mem::take(&mut self.pending);
        let wrap = transaction && ops.len() > 1;
        let Some(log) = self.propagated.as_mut() else {
            return;
        };
        if wrap {
            log.push(Op {
                db: ops[0].db,
                argv: vec![Bytes::from_static(b"MULTI")],
            });
        }
        let last_db = ops.last().map_or(0, |op| op.db);
        log.extend(ops);
        if wrap {
            log.push(Op {
                db: last_db,
                argv: vec![Bytes::from_static(b"EXEC")],
            });
        }
    }
}

/// The command a key deleted by the server itself propagates as.
fn deletion(lazy: bool) -> Bytes {
    Bytes::from_static(if lazy { b"UNLINK" } else { b"DEL" })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn propagation_wraps_more_than_one_op() {
        let mut e = Effects {
            record_propagation: true,
            propagated: Some(Vec::new()),
            ..Default::default()
        };
        e.also_propagate(
            0,
            vec![Bytes::from_static(b"DEL"), Bytes::from_static(b"k")],
        );
        e.flush_propagation(true);
        e.also_propagate(
            0,
            vec![Bytes::from_static(b"DEL"), Bytes::from_static(b"a")],
        );
        e.also_propagate(
            1,
            vec![Bytes::from_static(b"SET"), Bytes::from_static(b"b")],
        );
        e.flush_propagation(true);
        let names: Vec<String> = e
            .propagated
            .unwrap()
            .iter()
            .map(|op| String::from_utf8_lossy(&op.argv[0]).into_owned())
            .collect();
        assert_eq!(names, ["DEL", "MULTI", "DEL", "SET", "EXEC"]);
    }
}
