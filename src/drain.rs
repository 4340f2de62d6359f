//! Draining the effects record after a call: the one place where what a
//! command did reaches its consumers (see `crate::effects`).
//!
//! After every call, nested or not, keyspace events are published (Redis
//! publishes them as they happen, so a transaction's events go out
//! command by command) and modified or flushed keys invalidate tracked
//! ones (Redis's tracking table changes as keys do; the running client's
//! own invalidations are held until its reply is complete, EXEC's
//! included). After a top-level call only: modified keys touch WATCHes,
//! ready keys enter the blocking ready queue, and propagation is flushed,
//! wrapped in MULTI/EXEC when the call propagated more than one command.
//!
//! Architecture invariant: every check here starts with an emptiness test
//! of what is drained, so a command that recorded nothing pays a few
//! branches.

use slab::Slab;

use crate::client::Client;
use crate::effects::{Event, class};
use crate::pubsub::{Delivery, Kind};
use crate::resp::Reply;
use crate::store::Store;
use crate::watch::Touch;

/// The call just finished, as the drain needs it.
pub struct Finished<'a> {
    /// The running client's output (moved out of its slot) and the push
    /// ranges in it.
    pub out: &'a mut Reply,
    pub pushed: &'a mut Vec<(usize, usize)>,
    /// The running client's slab key (`usize::MAX` for none: active expiry).
    pub me: usize,
    /// The database it ran in.
    pub db: usize,
    /// Where its reply starts in `out`.
    pub reply_start: usize,
    /// Whether it ran inside another call (EXEC's queued commands).
    pub nested: bool,
    /// Whether what it propagates may be wrapped in MULTI/EXEC (see
    /// `Effects::flush_propagation`).
    pub transaction: bool,
}

/// Drains what the call by `me` recorded. `db` is the database it ran in;
/// commands that write other databases (MOVE, COPY ... DB, SWAPDB,
/// FLUSHALL) set `effects.other_dbs` so every database's log is read.
pub fn after_call(store: &mut Store, clients: &mut Slab<Client>, call: Finished) {
    let Finished {
        out,
        pushed,
        me,
        db,
        reply_start,
        nested,
        transaction,
    } = call;
    if store.effects.other_dbs {
        store.effects.other_dbs = false;
        for i in 0..store.dbs.len() {
            store.absorb(i);
        }
    } else {
        store.absorb(db);
    }
    if store.effects.expired_keys != 0 {
        store.stats.expired_keys += std::mem::take(&mut store.effects.expired_keys);
    }
    if store.effects.evicted_keys != 0 {
        store.stats.evicted_keys += std::mem::take(&mut store.effects.evicted_keys);
    }
    let mut delivery = Delivery {
        me,
        out,
        pushed,
        clients,
        notified: &mut store.notified,
    };
    // Invalidations go before keyspace events, as Redis's signalModifiedKey
    // comes before notifyKeyspaceEvent; those for the running client (it
    // is another tracking client's redirect target) before its reply, as
    // Redis sends them while the command runs.
    let tracking = store.tracking.is_active();
    let mut reply_start = reply_start;
    if tracking {
        let (mine_before, end_before) = (delivery.pushed.len(), delivery.out.pending());
        // Redis's current client while a script's command runs is the
        // script's caller: its own invalidations wait for its reply.
        let running = match &store.scripting.running {
            Some(r) if delivery.clients.get(me).is_some_and(|c| c.script) => r.caller,
            _ => me,
        };
        let by = (running != usize::MAX).then_some(running);
        track_changes(&mut store.tracking, &mut delivery, &mut store.effects, by);
        if delivery.pushed.len() > mine_before && end_before > reply_start {
            let moved = delivery.out.pending() - end_before;
            move_before_reply(&mut delivery, reply_start, end_before, mine_before);
            reply_start += moved;
        }
    } else if nested {
        // Changes made before tracking came on are not its business.
        store.effects.tracked = store.effects.modified.len();
        store.effects.flushed.clear();
    }
    if !store.effects.events.is_empty() {
        publish_events(
            &store.pubsub,
            &mut delivery,
            &mut store.effects.events,
            store.effects.notify_flags,
            reply_start,
        );
    }
    if nested {
        return;
    }
    // What the running client is owed follows its whole reply (EXEC's
    // included) and what was published to it.
    if tracking {
        store.tracking.flush_pending(&mut delivery);
    }
    let effects = &mut store.effects;
    if !effects.modified.is_empty() {
        let modified = std::mem::take(&mut effects.modified);
        effects.tracked = 0;
        if !store.watches.is_empty() {
            for m in &modified {
                let kind = if m.by_expiry {
                    Touch::Expired
                } else {
                    Touch::Written
                };
                store.watches.touch(delivery.clients, m.db, &m.key, kind);
            }
        }
    }
    if !effects.flushed.is_empty() {
        effects.flushed.clear();
    }
    if !effects.ready.is_empty() {
        for (db, key) in effects.ready.drain(..) {
            store.blocking.signal(db, &key);
        }
    }
    effects.flush_propagation(transaction);
}

/// Tracking follows changes call by call, as Redis's table does: a
/// transaction's read after its own write tracks the key again.
fn track_changes(
    tracking: &mut crate::tracking::Tracking,
    delivery: &mut Delivery,
    effects: &mut crate::effects::Effects,
    by: Option<usize>,
) {
    if let Some(changed) = effects.modified.get(effects.tracked..)
        && !changed.is_empty()
    {
        tracking.invalidate(delivery, by, changed);
        effects.tracked = effects.modified.len();
    }
    if !effects.flushed.is_empty() {
        effects.flushed.clear();
        tracking.invalidate_all(delivery, by);
    }
}

/// Publishes keyspace events on `__keyspace@<db>__:<key>` (the event as
/// payload) and `__keyevent@<db>__:<event>` (the key as payload), as the
/// flags ask. Redis publishes while the command runs, so a subscribed
/// RESP3 client running it gets its own events before its reply: those go
/// in front of the reply, which starts at `reply_start` in its output.
fn publish_events(
    pubsub: &crate::pubsub::PubSub,
    delivery: &mut Delivery,
    events: &mut Vec<Event>,
    flags: u32,
    reply_start: usize,
) {
    let mine_before = delivery.pushed.len();
    let end_before = delivery.out.pending();
    let mut channel = Vec::new();
    for Event { db, name, key } in events.drain(..) {
        if flags & class::KEYSPACE != 0 {
            channel.clear();
            channel.extend_from_slice(format!("__keyspace@{db}__:").as_bytes());
            channel.extend_from_slice(&key);
            delivery.publish(pubsub, Kind::Channel, &channel, name.as_bytes());
        }
        if flags & class::KEYEVENT != 0 {
            channel.clear();
            channel.extend_from_slice(format!("__keyevent@{db}__:{name}").as_bytes());
            delivery.publish(pubsub, Kind::Channel, &channel, &key);
        }
    }
    if delivery.pushed.len() > mine_before && end_before > reply_start {
        move_before_reply(delivery, reply_start, end_before, mine_before);
    }
}

/// Moves the pushes written after the reply (from `reply_end` on) in front
/// of it (it starts at `reply_start`), keeping the push ranges right. Rare:
/// only a client subscribed to its own keyspace events pays the copy.
fn move_before_reply(
    delivery: &mut Delivery,
    reply_start: usize,
    reply_end: usize,
    first_new: usize,
) {
    let out = &mut *delivery.out;
    let end = out.pending();
    let reply = out.copy_range(reply_start, reply_end);
    let events = out.copy_range(reply_end, end);
    out.truncate_pending(reply_start);
    out.raw(&events);
    out.raw(&reply);
    let moved = events.len();
    let pushed = &mut *delivery.pushed;
    for range in &mut pushed[..first_new] {
        if range.0 >= reply_start {
            *range = (range.0 + moved, range.1 + moved);
        }
    }
    pushed.truncate(first_new);
    pushed.push((reply_start, reply_start + moved));
}
