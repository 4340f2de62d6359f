//! Blocked clients: parking, serving ready keys, timeouts, clients held
//! by CLIENT PAUSE, and running what an unblocked client sent meanwhile.
//!
//! Wake-ups go through queues, never recursion: a write signals keys into
//! the ready queue (`Blocking::pop_ready`), serving a waiter may signal
//! more (BLMOVE pushes), and every unblocked client lands in
//! `Store::unblocked`, whose input runs after the ready queue is empty.

use super::*;
use crate::blocking::{Block, Serving};

impl Server {
    /// Parks a client whose command asked to block.
    pub(super) fn park(&mut self, token: usize, args: &[bytes::Bytes], block: Block, call_us: u64) {
        let Some(db) = self.clients.get(token).map(|c| c.db) else {
            return;
        };
        let generation = self.store.blocking.next_generation();
        self.store.blocking.park(token, db, &block.keys);
        self.store.dbs[db].observed.ready_keys = true;
        if matches!(block.wait, crate::blocking::WaitFor::Stream(_)) {
            self.store.blocking.stream_readers += 1;
            for d in &mut self.store.dbs {
                d.observed.stream_readers = true;
            }
        }
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
                call_us,
                deadline_ms: block.deadline_ms,
                wait: block.wait,
            });
        }
    }

    /// Takes a client out of every wait list; returns what it was
    /// blocked on, if it was.
    pub(super) fn unpark(&mut self, token: usize) -> Option<crate::blocking::Blocked> {
        crate::call::unpark(&mut self.store, &mut self.clients, token)
    }

    /// Serves the waiters of ready keys, oldest waiter first: each is asked
    /// whether the key can serve it now, and if so its command runs again
    /// through `call()`, served from that key. Waiters for another type
    /// are passed over; a key stops serving as soon as it cannot serve its
    /// next waiter of its type.
    pub(super) fn serve_ready(&mut self, now_ms: u64) {
        while let Some((db, key)) = self.store.blocking.pop_ready() {
            // Always the longest waiter not passed over: one served leaves
            // the list; no copy of the list, however long it is.
            let mut passed: Option<u64> = None;
            while let Some((seq, token)) = self.store.blocking.waiter_after(db, &key, passed) {
                let Some(b) = self.clients.get(token).and_then(|c| c.state.blocked()) else {
                    // Not blocked any more: a stale entry, dropped.
                    let key = bytes::Bytes::copy_from_slice(&key);
                    self.store.blocking.forget(token, db, &key);
                    continue;
                };
                let value = self.store.dbs[db].get(&key, now_ms).map(|e| &e.value);
                if value.is_some_and(|v| !b.wait.wants_type_of(v)) {
                    passed = Some(seq);
                    continue;
                }
                if !b.wait.can_serve(&key, value) {
                    if b.wait.blocks_later_waiters() {
                        break;
                    }
                    passed = Some(seq);
                    continue;
                }
                let Some(b) = self.unpark(token) else {
                    break;
                };
                let mut clock = Instant::now();
                self.serving = Some(Box::new(Serving {
                    key: bytes::Bytes::from(key.clone()),
                    deadline_ms: b.deadline_ms,
                    wait: b.wait,
                    call_us: b.call_us,
                }));
                self.execute(token, &b.args, now_ms, &mut clock);
                self.serving = None;
                let blocked_again = self
                    .clients
                    .get(token)
                    .is_some_and(|c| c.state.is_blocked());
                if blocked_again {
                    break;
                }
                crate::call::queue_unblocked(&mut self.store, &mut self.clients, token);
                self.queue_write(token);
            }
        }
    }

    /// Runs what unblocked clients sent while they were blocked (see
    /// `Store::unblocked`).
    pub(super) fn resume_unblocked(&mut self, now_ms: u64) {
        while !self.store.unblocked.is_empty() {
            for token in mem::take(&mut self.store.unblocked) {
                self.resume(token, now_ms);
            }
        }
    }

    /// Runs what a client sent while it was blocked.
    pub(super) fn resume(&mut self, token: usize, now_ms: u64) {
        let mut clock = Instant::now();
        if let Some(c) = self.clients.get_mut(token) {
            c.unblocked = false;
        }
        loop {
            let Some(c) = self.clients.get_mut(token) else {
                return;
            };
            if c.is_waiting() || c.close_after_reply {
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

    /// Holds a client's command until the pause ends (Redis's
    /// blockClient with BLOCKED_POSTPONE): it goes back in front of what
    /// the client sent after it, and runs from the start when released.
    pub(super) fn hold(&mut self, token: usize, args: &[bytes::Bytes]) {
        let Some(c) = self.clients.get_mut(token) else {
            return;
        };
        c.deferred.push_front(args.to_vec());
        c.postponed = true;
        // CLIENT REPLY SKIP still applies to this command when it runs.
        if c.reply_mode == ReplyMode::Skip {
            c.reply_mode = ReplyMode::SkipNext;
        }
        self.store.pause.hold(token, c.id);
    }

    /// Applies the pause once the command that changed it is done (so a
    /// transaction that pauses runs whole): a timer for a new end, the
    /// databases' expiry, and the held clients queued to run again, in
    /// the order they came, when it ended. Also run after every command
    /// while paused, and before the loop sleeps, for databases replaced
    /// meanwhile (a load, DEBUG RELOAD).
    pub(super) fn apply_pause(&mut self) {
        let change = self.store.pause.apply();
        if let Some(end_ms) = change.end_ms {
            // Like a deadline, the pause lives through its last millisecond.
            self.wheel
                .insert(end_ms.saturating_add(1), Timer::PauseEnd { end_ms });
        }
        let expiry = match self.store.pause.is_active() {
            true => crate::db::Expiry::Hide,
            false => crate::db::Expiry::Delete,
        };
        for db in &mut self.store.dbs {
            // An AOF being replayed keeps every key until it is done.
            if db.expiry != crate::db::Expiry::Off {
                db.expiry = expiry;
            }
        }
        for (token, id) in change.released {
            if let Some(c) = self.clients.get_mut(token)
                && c.id == id
                && c.postponed
            {
                c.postponed = false;
                crate::call::queue_unblocked(&mut self.store, &mut self.clients, token);
            }
        }
    }

    /// The pause's timer: ends it if that is still its end (a later pause
    /// may have extended it; that one has its own timer).
    pub(super) fn end_pause(&mut self, end_ms: u64) {
        self.store.pause.end_if_over(end_ms, unix_ms());
        if self.store.pause.changed() {
            self.apply_pause();
        }
    }

    pub(super) fn time_out_block(&mut self, token: usize, generation: u64) {
        let current = self
            .clients
            .get(token)
            .and_then(|c| c.state.blocked())
            .is_some_and(|b| b.generation == generation);
        if !current {
            return;
        }
        let Some(blocked) = self.unpark(token) else {
            return;
        };
        if let Some(c) = self.clients.get_mut(token) {
            c.end_of_block_reply(|out| blocked.wait.timeout_reply(out));
        }
        crate::call::queue_unblocked(&mut self.store, &mut self.clients, token);
        self.queue_write(token);
    }
}
