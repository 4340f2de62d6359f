//! CLIENT PAUSE: the pause in force and the clients it holds, as Redis
//! 7.0's pauseClients and BLOCKED_POSTPONE.
//!
//! A pause has a mode and an end. Under `All` no command runs; under
//! `Write` only the ones that may write or propagate (the table's `WRITE`
//! and `MAY_REPLICATE`, a script judged by its declared flags, an EXEC by
//! what it queued). The gatekeeping (`admit`) decides after every check
//! that answers at once (arity, NOAUTH, ACL, Pub/Sub mode...) and before
//! MULTI queueing, so a client queuing a write waits too. A held client's
//! command goes back in front of its other input and the client joins the
//! queue here; when the pause ends (its timer, CLIENT UNPAUSE) the queue
//! is released in order and each client's input runs through the normal
//! path again, where it may be held anew.
//!
//! While a pause is in force the dataset stays as it is: active expiry and
//! eviction delete nothing, and a key past its deadline reads as missing
//! but stays in place (`db::Expiry::Hide`), as Redis keeps it for the
//! failover a pause usually precedes.
//!
//! This module holds the state and its rules; the loop
//! (`server::blocked`) applies a change: the timer for the end, the
//! databases' expiry, releasing the queue.

use std::collections::VecDeque;

use crate::cmd::flag;

/// What a pause holds back; ordered from the least to the most strict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Mode {
    /// Commands that may write or propagate.
    Write,
    /// Every command.
    All,
}

/// The pause in force and the clients it holds.
#[derive(Debug, Default)]
pub struct Pause {
    /// The mode and the last Unix millisecond the pause lasts through;
    /// `None` when clients run freely.
    current: Option<(Mode, u64)>,
    /// What the loop last applied (see [`Pause::apply`]).
    applied: Option<(Mode, u64)>,
    /// The held clients as (slab key, client id), in the order their
    /// commands arrived: slots are reused, so the id says whether the
    /// client in the slot is still the one held.
    held: VecDeque<(usize, u64)>,
}

/// What the loop must do after the pause changed.
#[derive(Debug, PartialEq, Eq)]
pub struct Change {
    /// A new end to set a timer for.
    pub end_ms: Option<u64>,
    /// Clients to run again, in order, because the pause became less
    /// strict (Redis's rule; only an end does that here, as CLIENT PAUSE
    /// never lowers the mode).
    pub released: Vec<(usize, u64)>,
}

impl Pause {
    /// CLIENT PAUSE: pauses in `mode` until `end_ms`, which may be in the
    /// past (a timeout of 0, or one whose sum with the clock overflowed
    /// in Redis's arithmetic). A pause in force is only ever extended: the
    /// later end and the stricter mode win. One already over ends.
    pub fn pause(&mut self, mode: Mode, end_ms: i64, now_ms: u64) {
        let (mode, end) = match self.current {
            Some((m, e)) => (m.max(mode), end_ms.max(e as i64)),
            None => (mode, end_ms),
        };
        // Redis drops a pause once its end is before now.
        self.current = u64::try_from(end)
            .ok()
            .filter(|&e| e >= now_ms)
            .map(|e| (mode, e));
    }

    /// CLIENT UNPAUSE.
    pub fn unpause(&mut self) {
        self.current = None;
    }

    /// The pause's timer fired for `end_ms`: ends it if that is still its
    /// end and it is over (a later pause may have extended it).
    pub fn end_if_over(&mut self, end_ms: u64, now_ms: u64) {
        if self.current.is_some_and(|(_, e)| e == end_ms && e < now_ms) {
            self.current = None;
        }
    }

    /// The mode in force, if any.
    pub fn mode(&self) -> Option<Mode> {
        self.current.map(|(m, _)| m)
    }

    pub fn is_active(&self) -> bool {
        self.current.is_some()
    }

    /// Whether a command with these (effective) flags waits now.
    pub fn holds(&self, flags: u32) -> bool {
        match self.mode() {
            None => false,
            Some(Mode::All) => true,
            Some(Mode::Write) => flags & (flag::WRITE | flag::MAY_REPLICATE) != 0,
        }
    }

    /// Queues a client whose command waits.
    pub fn hold(&mut self, token: usize, id: u64) {
        self.held.push_back((token, id));
    }

    /// Forgets a held client that is going away.
    pub fn forget(&mut self, token: usize, id: u64) {
        self.held.retain(|&held| held != (token, id));
    }

    /// How many clients wait (INFO counts them in `blocked_clients`).
    pub fn held_len(&self) -> usize {
        self.held.len()
    }

    /// Whether the pause changed since the loop last applied it.
    pub fn changed(&self) -> bool {
        self.current != self.applied
    }

    /// Takes what the loop must do for a change: a timer for a new end,
    /// and, when the pause became less strict, every held client (Redis's
    /// unblockPostponedClients; those still held by what is left of the
    /// pause are held again when they run).
    pub fn apply(&mut self) -> Change {
        let before = self.applied.map(|(m, _)| m);
        let before_end = self.applied.map(|(_, e)| e);
        let now = self.mode();
        self.applied = self.current;
        let weaker = match (before, now) {
            (Some(b), Some(n)) => n < b,
            (Some(_), None) => true,
            (None, _) => false,
        };
        Change {
            end_ms: self
                .current
                .map(|(_, e)| e)
                .filter(|&e| Some(e) != before_end),
            released: if weaker {
                self.held.drain(..).collect()
            } else {
                Vec::new()
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_000_000;

    #[test]
    fn a_later_pause_keeps_the_later_end_and_the_stricter_mode() {
        let mut p = Pause::default();
        p.pause(Mode::All, NOW as i64 + 500, NOW);
        p.pause(Mode::Write, NOW as i64 + 100, NOW);
        assert_eq!(p.current, Some((Mode::All, NOW + 500)));
        p.pause(Mode::Write, NOW as i64 + 900, NOW);
        assert_eq!(p.current, Some((Mode::All, NOW + 900)));
    }

    #[test]
    fn a_pause_already_over_changes_nothing_or_only_the_mode() {
        let mut p = Pause::default();
        // CLIENT PAUSE 0, and a timeout whose sum overflowed in Redis.
        p.pause(Mode::All, 0, NOW);
        assert!(!p.is_active());
        p.pause(Mode::All, i64::MIN, NOW);
        assert!(!p.is_active());
        // With a pause in force, a zero timeout still makes it stricter.
        p.pause(Mode::Write, NOW as i64 + 10, NOW);
        p.pause(Mode::All, 0, NOW);
        assert_eq!(p.current, Some((Mode::All, NOW + 10)));
    }

    #[test]
    fn write_holds_what_may_write_or_propagate() {
        let mut p = Pause::default();
        assert!(!p.holds(flag::WRITE));
        p.pause(Mode::Write, NOW as i64 + 10, NOW);
        assert!(p.holds(flag::WRITE));
        assert!(p.holds(flag::MAY_REPLICATE));
        assert!(!p.holds(flag::READONLY));
        p.pause(Mode::All, NOW as i64 + 10, NOW);
        assert!(p.holds(flag::READONLY));
        assert!(p.holds(0));
    }

    #[test]
    fn the_timer_ends_the_pause_only_after_its_last_millisecond() {
        let mut p = Pause::default();
        p.pause(Mode::Write, NOW as i64 + 10, NOW);
        p.end_if_over(NOW + 10, NOW + 10);
        assert!(p.is_active());
        // A stale timer: the pause was extended since.
        p.pause(Mode::Write, NOW as i64 + 50, NOW);
        p.end_if_over(NOW + 10, NOW + 11);
        assert!(p.is_active());
        p.end_if_over(NOW + 50, NOW + 51);
        assert!(!p.is_active());
    }

    #[test]
    fn held_clients_are_released_in_order_when_the_pause_weakens() {
        let mut p = Pause::default();
        p.pause(Mode::Write, NOW as i64 + 10, NOW);
        assert_eq!(
            p.apply(),
            Change {
                end_ms: Some(NOW + 10),
                released: vec![]
            }
        );
        p.hold(3, 30);
        p.hold(1, 10);
        p.hold(2, 20);
        p.forget(1, 10);
        // A stricter mode alone sets no new timer; a later end does; and
        // neither releases anybody.
        p.pause(Mode::All, 0, NOW);
        assert!(p.changed());
        assert_eq!(
            p.apply(),
            Change {
                end_ms: None,
                released: vec![]
            }
        );
        p.pause(Mode::Write, NOW as i64 + 20, NOW);
        assert_eq!(
            p.apply(),
            Change {
                end_ms: Some(NOW + 20),
                released: vec![]
            }
        );
        p.pause(Mode::Write, NOW as i64 + 5, NOW);
        assert!(!p.changed());
        assert_eq!(p.held_len(), 2);
        p.unpause();
        assert_eq!(
            p.apply(),
            Change {
                end_ms: None,
                released: vec![(3, 30), (2, 20)]
            }
        );
        assert!(!p.changed());
    }
}
