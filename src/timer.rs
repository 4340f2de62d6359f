//! A hashed timer wheel with millisecond resolution.
//!
//! The loop owns one wheel. Entries are `(deadline_ms, T)`; a slot holds every
//! entry whose deadline falls on it modulo the wheel size, so an insert is
//! O(1) and advancing by one millisecond looks at one slot. Entries are
//! never removed early: a cancelled timer is left in place and the owner
//! ignores it when it fires (the payload carries a generation or a deadline
//! to check), which keeps cancellation O(1) too.

/// The number of one-millisecond slots. A deadline further away than this
/// stays in its slot for more than one turn of the wheel.
pub const WHEEL_SLOTS: u64 = 1024;

pub struct TimerWheel<T> {
    slots: Vec<Vec<(u64, T)>>,
    /// Every slot up to and including `current_ms - 1` has been processed.
    current_ms: u64,
    len: usize,
    /// A lower bound on the earliest deadline, from the last scan and any
    /// insert since; `None` when it must be recomputed. Finding the minimum
    /// scans the whole wheel when every entry is far away, and the loop
    /// asks before every poll.
    cached_next: Option<u64>,
}

impl<T> TimerWheel<T> {
    pub fn new(now_ms: u64) -> TimerWheel<T> {
        TimerWheel {
            slots: (0..WHEEL_SLOTS).map(|_| Vec::new()).collect(),
            current_ms: now_ms,
            len: 0,
            cached_next: None,
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Schedules `item` at `deadline_ms`. A deadline already past fires on
    /// the next advance.
    pub fn insert(&mut self, deadline_ms: u64, item: T) {
        let at = deadline_ms.max(self.current_ms);
        self.slots[(at % WHEEL_SLOTS) as usize].push((at, item));
        self.len += 1;
        if let Some(next) = self.cached_next {
            self.cached_next = Some(next.min(at));
        }
    }

    /// Moves every entry due at or before `now_ms` into `fired`, in deadline
    /// order slot by slot.
    pub fn advance(&mut self, now_ms: u64, fired: &mut Vec<T>) {
        if now_ms < self.current_ms {
            return;
        }
        let steps = (now_ms - self.current_ms + 1).min(WHEEL_SLOTS);
        for step in 0..steps {
            let slot = &mut self.slots[((self.current_ms + step) % WHEEL_SLOTS) as usize];
            if slot.is_empty() {
                continue;
            }
            let mut i = 0;
            while i < slot.len() {
                if slot[i].0 <= now_ms {
                    let (_, item) = slot.swap_remove(i);
                    fired.push(item);
                    self.len -= 1;
                } else {
                    i += 1;
                }
            }
        }
        self.current_ms = now_ms + 1;
        if self.cached_next.is_some_and(|next| next <= now_ms) {
            self.cached_next = None;
        }
    }

    /// The earliest deadline in the wheel, or a point at most one turn away
    /// when every entry is further than that (the caller then just wakes up
    /// and asks again). `None` when the wheel is empty.
    pub fn next_deadline(&mut self) -> Option<u64> {
        if self.len == 0 {
            return None;
        }
        if let Some(next) = self.cached_next {
            return Some(next);
        }
        let next = self.scan_next_deadline();
        self.cached_next = Some(next);
        Some(next)
    }

    /// The scan behind [`next_deadline`](Self::next_deadline), without the
    /// cache (for benchmarks).
    pub fn scan_next_deadline(&self) -> u64 {
        let horizon = self.current_ms + WHEEL_SLOTS;
        for offset in 0..WHEEL_SLOTS {
            let slot = &self.slots[((self.current_ms + offset) % WHEEL_SLOTS) as usize];
            let earliest = slot.iter().map(|e| e.0).filter(|&d| d < horizon).min();
            if let Some(d) = earliest {
                return d;
            }
        }
        horizon
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fires_in_time_and_not_before() {
        let mut w = TimerWheel::new(1000);
        w.insert(1005, "a");
        w.insert(1003, "b");
        w.insert(1000 + 3 * WHEEL_SLOTS + 7, "far");
        let mut fired = Vec::new();
        w.advance(1002, &mut fired);
        assert!(fired.is_empty());
        assert_eq!(w.next_deadline(), Some(1003));
        w.advance(1004, &mut fired);
        assert_eq!(fired, vec!["b"]);
        w.advance(1005, &mut fired);
        assert_eq!(fired, vec!["b", "a"]);
        // The far entry survives several turns of the wheel.
        w.advance(1000 + 2 * WHEEL_SLOTS, &mut fired);
        assert_eq!(fired.len(), 2);
        assert_eq!(w.len(), 1);
        w.advance(1000 + 3 * WHEEL_SLOTS + 7, &mut fired);
        assert_eq!(fired, vec!["b", "a", "far"]);
        assert!(w.is_empty());
        assert_eq!(w.next_deadline(), None);
    }

    #[test]
    fn cached_next_deadline_follows_inserts_and_advances() {
        let mut w = TimerWheel::new(0);
        w.insert(5000, 'a');
        assert_eq!(w.next_deadline(), Some(WHEEL_SLOTS));
        w.insert(300, 'b');
        assert_eq!(w.next_deadline(), Some(300));
        let mut fired = Vec::new();
        w.advance(300, &mut fired);
        assert_eq!(fired, vec!['b']);
        assert_eq!(w.next_deadline(), Some(301 + WHEEL_SLOTS));
    }

    #[test]
    fn past_deadline_fires_next_advance() {
        let mut w = TimerWheel::new(500);
        w.insert(10, 1);
        let mut fired = Vec::new();
        w.advance(500, &mut fired);
        assert_eq!(fired, vec![1]);
    }

    #[test]
    fn big_jump_processes_every_slot_once() {
        let mut w = TimerWheel::new(0);
        for i in 0..5000u64 {
            w.insert(i, i);
        }
        let mut fired = Vec::new();
        w.advance(10_000, &mut fired);
        assert_eq!(fired.len(), 5000);
    }
}
