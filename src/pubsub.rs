//! Pub/Sub: who listens to which channel, pattern and shard channel, and the
//! message frames a publish fans out.
//!
//! The server side maps each channel (pattern, shard channel) to its
//! subscribers; each client keeps the set of what it subscribed to
//! ([`Subscriptions`], held in its [`crate::client::Mode`]), so a
//! disconnect or RESET walks only the client's own subscriptions, and each
//! removal from a channel's subscribers is O(1).
//!
//! A message is encoded once per protocol and the same bytes are appended
//! to every subscriber's output (see [`Frames`]).

use ahash::{AHashMap, AHashSet};
use bytes::Bytes;

use crate::resp::{Protocol, Reply};

/// The three kinds of subscription. Channels and patterns share one count
/// per client and one "message" family; shard channels have their own
/// (`ssubscribe`, `smessage`) and ignore patterns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Channel,
    Pattern,
    Shard,
}

impl Kind {
    /// The push type of a subscription confirmation.
    pub fn subscribe_word(self) -> &'static [u8] {
        match self {
            Kind::Channel => b"subscribe",
            Kind::Pattern => b"psubscribe",
            Kind::Shard => b"ssubscribe",
        }
    }

    pub fn unsubscribe_word(self) -> &'static [u8] {
        match self {
            Kind::Channel => b"unsubscribe",
            Kind::Pattern => b"punsubscribe",
            Kind::Shard => b"sunsubscribe",
        }
    }
}

/// What one client is subscribed to.
#[derive(Debug, Default)]
pub struct Subscriptions {
    channels: AHashSet<Bytes>,
    /// In subscription order: PUNSUBSCRIBE without arguments answers in
    /// that order, as Redis 7.0 (a list) does.
    patterns: Vec<Bytes>,
    shard: AHashSet<Bytes>,
}

impl Subscriptions {
    pub fn channels(&self) -> usize {
        self.channels.len()
    }

    pub fn patterns(&self) -> usize {
        self.patterns.len()
    }

    pub fn shard_channels(&self) -> usize {
        self.shard.len()
    }

    /// The count a (un)subscribe confirmation carries: channels and
    /// patterns together, or shard channels alone.
    pub fn count_for(&self, kind: Kind) -> usize {
        match kind {
            Kind::Channel | Kind::Pattern => self.channels.len() + self.patterns.len(),
            Kind::Shard => self.shard.len(),
        }
    }

    pub fn total(&self) -> usize {
        self.channels.len() + self.patterns.len() + self.shard.len()
    }

    /// Everything of `kind`, in the order an unsubscribe-all answers.
    pub fn list(&self, kind: Kind) -> Vec<Bytes> {
        match kind {
            Kind::Channel => self.channels.iter().cloned().collect(),
            Kind::Pattern => self.patterns.clone(),
            Kind::Shard => self.shard.iter().cloned().collect(),
        }
    }

    /// Adds `name`; false if already there. A pattern is searched for in
    /// the client's list, as Redis 7.0 does (O(patterns of the client)).
    fn add(&mut self, kind: Kind, name: &Bytes) -> bool {
        match kind {
            Kind::Channel => self.channels.insert(name.clone()),
            Kind::Shard => self.shard.insert(name.clone()),
            Kind::Pattern => {
                if self.patterns.contains(name) {
                    return false;
                }
                self.patterns.push(name.clone());
                true
            }
        }
    }

    fn remove(&mut self, kind: Kind, name: &[u8]) -> bool {
        match kind {
            Kind::Channel => self.channels.remove(name),
            Kind::Shard => self.shard.remove(name),
            Kind::Pattern => match self.patterns.iter().position(|p| p == name) {
                Some(i) => {
                    self.patterns.remove(i);
                    true
                }
                None => false,
            },
        }
    }

    /// An estimate of the client's memory for them (CLIENT LIST
    /// `tot-mem`): a pointer and an entry each, as Redis counts.
    pub fn overhead(&self) -> usize {
        self.total() * 24
    }
}

/// The subscribers of one channel or pattern, in subscription order until
/// one leaves: removal swaps the last subscriber into the gap, so it is
/// O(1) however many there are (the order subscribers of one channel are
/// served in is not observable by any of them).
#[derive(Debug, Default)]
pub struct Subscribers {
    tokens: Vec<usize>,
    position: AHashMap<usize, usize>,
}

impl Subscribers {
    fn insert(&mut self, token: usize) {
        if let std::collections::hash_map::Entry::Vacant(e) = self.position.entry(token) {
            e.insert(self.tokens.len());
            self.tokens.push(token);
        }
    }

    fn remove(&mut self, token: usize) {
        let Some(i) = self.position.remove(&token) else {
            return;
        };
        self.tokens.swap_remove(i);
        if let Some(&moved) = self.tokens.get(i) {
            self.position.insert(moved, i);
        }
    }

    pub fn len(&self) -> usize {
        self.tokens.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }

    pub fn tokens(&self) -> &[usize] {
        &self.tokens
    }
}

/// The server's side: every channel, pattern and shard channel with at
/// least one subscriber.
#[derive(Debug, Default)]
pub struct PubSub {
    channels: AHashMap<Bytes, Subscribers>,
    patterns: AHashMap<Bytes, Subscribers>,
    shard: AHashMap<Bytes, Subscribers>,
}

impl PubSub {
    fn table(&self, kind: Kind) -> &AHashMap<Bytes, Subscribers> {
        match kind {
            Kind::Channel => &self.channels,
            Kind::Pattern => &self.patterns,
            Kind::Shard => &self.shard,
        }
    }

    fn table_mut(&mut self, kind: Kind) -> &mut AHashMap<Bytes, Subscribers> {
        match kind {
            Kind::Channel => &mut self.channels,
            Kind::Pattern => &mut self.patterns,
            Kind::Shard => &mut self.shard,
        }
    }

    /// Subscribes `token` (whose subscriptions are `subs`) to `name`;
    /// false if it already was.
    pub fn subscribe(
        &mut self,
        subs: &mut Subscriptions,
        token: usize,
        kind: Kind,
        name: &Bytes,
    ) -> bool {
        // An argument is a slice of the client's read buffer; a copy
        // keeps a long-lived subscription from pinning that buffer.
        let name = Bytes::copy_from_slice(name);
        if !subs.add(kind, &name) {
            return false;
        }
        self.table_mut(kind).entry(name).or_default().insert(token);
        true
    }

    /// Unsubscribes `token` from `name`; false if it was not subscribed.
    /// A channel left without subscribers is forgotten.
    pub fn unsubscribe(
        &mut self,
        subs: &mut Subscriptions,
        token: usize,
        kind: Kind,
        name: &[u8],
    ) -> bool {
        if !subs.remove(kind, name) {
            return false;
        }
        let table = self.table_mut(kind);
        if let Some(s) = table.get_mut(name) {
            s.remove(token);
            if s.is_empty() {
                table.remove(name);
            }
        }
        true
    }

    /// Drops every subscription of a client that is closing or RESET.
    pub fn forget(&mut self, subs: &mut Subscriptions, token: usize) {
        for kind in [Kind::Channel, Kind::Pattern, Kind::Shard] {
            for name in subs.list(kind) {
                self.unsubscribe(subs, token, kind, &name);
            }
        }
    }

    /// PUBSUB NUMSUB / SHARDNUMSUB for one channel.
    pub fn subscribers(&self, kind: Kind, name: &[u8]) -> usize {
        self.table(kind).get(name).map_or(0, Subscribers::len)
    }

    /// The channels (or shard channels) with subscribers.
    pub fn names(&self, kind: Kind) -> impl Iterator<Item = &Bytes> {
        self.table(kind).keys()
    }

    /// INFO's `pubsub_channels`, `pubsub_patterns`, `pubsubshard_channels`.
    pub fn count(&self, kind: Kind) -> usize {
        self.table(kind).len()
    }

    /// The subscribers of `channel` itself.
    pub fn channel_subscribers(&self, kind: Kind, channel: &[u8]) -> Option<&Subscribers> {
        self.table(kind).get(channel)
    }

    /// The patterns that match `channel`, with their subscribers.
    pub fn matching_patterns<'a>(
        &'a self,
        channel: &'a [u8],
    ) -> impl Iterator<Item = (&'a Bytes, &'a Subscribers)> + 'a {
        self.patterns
            .iter()
            .filter(move |(p, _)| crate::glob::glob_match(p, channel, false))
    }
}

/// One message's frame in both protocols, each encoded the first time a
/// subscriber speaking it is met: RESP2 `*3` / `*4` arrays, RESP3 `>`
/// pushes.
pub struct Frames<'a> {
    parts: [&'a [u8]; 4],
    len: usize,
    resp2: Option<Vec<u8>>,
    resp3: Option<Vec<u8>>,
}

impl<'a> Frames<'a> {
    /// `message channel payload` (or `smessage`).
    pub fn message(word: &'a [u8], channel: &'a [u8], payload: &'a [u8]) -> Frames<'a> {
        Frames {
            parts: [word, channel, payload, b""],
            len: 3,
            resp2: None,
            resp3: None,
        }
    }

    /// `pmessage pattern channel payload`.
    pub fn pattern_message(pattern: &'a [u8], channel: &'a [u8], payload: &'a [u8]) -> Frames<'a> {
        Frames {
            parts: [b"pmessage", pattern, channel, payload],
            len: 4,
            resp2: None,
            resp3: None,
        }
    }

    /// The frame for `proto`.
    pub fn get(&mut self, proto: Protocol) -> &[u8] {
        let (parts, len) = (self.parts, self.len);
        let slot = match proto {
            Protocol::Resp2 => &mut self.resp2,
            Protocol::Resp3 => &mut self.resp3,
        };
        slot.get_or_insert_with(|| {
            let mut r = Reply::scratch(proto);
            r.push(len);
            for part in &parts[..len] {
                r.bulk(part);
            }
            r.buf.to_vec()
        })
    }
}

/// Appends a (un)subscribe confirmation: `[word, name or null, count]`.
pub fn confirm(out: &mut Reply, word: &[u8], name: Option<&[u8]>, count: usize) {
    out.push(3);
    out.bulk(word);
    match name {
        Some(n) => out.bulk(n),
        None => out.null(),
    }
    out.int(count as i64);
}

/// The split borrows that output for other clients is written through:
/// published messages, keyspace events, tracking invalidations. The
/// running client's output is `out` while its command runs (moved out of
/// its slot), so a frame for it goes there, as a push that CLIENT REPLY
/// OFF keeps; the others' frames go to their own output, and they are
/// listed in `notified` for the loop to write and check against their
/// output-buffer limits.
pub struct Delivery<'a> {
    pub me: usize,
    pub out: &'a mut Reply,
    pub pushed: &'a mut Vec<(usize, usize)>,
    pub clients: &'a mut slab::Slab<crate::client::Client>,
    pub notified: &'a mut Vec<usize>,
}

impl Delivery<'_> {
    /// Appends `frame` (encoded for its protocol by `encode`) to `token`'s
    /// output; a client already past its output limit gets nothing more.
    /// Returns whether the client exists.
    pub fn send(&mut self, token: usize, frame: &mut dyn FnMut(Protocol) -> Vec<u8>) -> bool {
        let Some(proto) = self.proto(token) else {
            return false;
        };
        self.send_raw(token, &frame(proto))
    }

    /// The protocol `token` speaks now (the running client's may have
    /// changed during its command, in `out`); `None` if it is gone.
    pub fn proto(&self, token: usize) -> Option<Protocol> {
        if token == self.me {
            Some(self.out.proto)
        } else {
            self.clients.get(token).map(|c| c.out.proto)
        }
    }

    /// Appends bytes already encoded for `token`'s protocol to its output,
    /// as [`Delivery::send`] does; returns whether the client exists.
    pub fn send_raw(&mut self, token: usize, bytes: &[u8]) -> bool {
        if token == self.me {
            let start = self.out.pending();
            self.out.raw(bytes);
            self.pushed.push((start, self.out.pending()));
            true
        } else if let Some(c) = self.clients.get_mut(token) {
            if !c.out.overflowed {
                c.out.raw(bytes);
                self.notified.push(token);
            }
            true
        } else {
            false
        }
    }

    /// Delivers a published message to every subscriber of `channel`
    /// (and, for a plain channel, of every matching pattern); returns how
    /// many deliveries there were. Each frame is encoded once per protocol.
    pub fn publish(
        &mut self,
        pubsub: &PubSub,
        kind: Kind,
        channel: &[u8],
        payload: &[u8],
    ) -> usize {
        let word: &[u8] = if kind == Kind::Shard {
            b"smessage"
        } else {
            b"message"
        };
        let mut receivers = 0;
        if let Some(subscribers) = pubsub.channel_subscribers(kind, channel) {
            let mut frames = Frames::message(word, channel, payload);
            receivers += self.deliver(subscribers.tokens(), &mut frames);
        }
        if kind == Kind::Channel {
            for (pattern, subscribers) in pubsub.matching_patterns(channel) {
                let mut frames = Frames::pattern_message(pattern, channel, payload);
                receivers += self.deliver(subscribers.tokens(), &mut frames);
            }
        }
        receivers
    }

    fn deliver(&mut self, tokens: &[usize], frames: &mut Frames) -> usize {
        for &token in tokens {
            if token == self.me {
                let start = self.out.pending();
                self.out.raw(frames.get(self.out.proto));
                self.pushed.push((start, self.out.pending()));
            } else if let Some(c) = self.clients.get_mut(token)
                && !c.out.overflowed
            {
                c.out.raw(frames.get(c.out.proto));
                self.notified.push(token);
            }
        }
        tokens.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subscribers_leave_in_constant_time_and_keep_the_rest() {
        let mut s = Subscribers::default();
        for t in 0..5 {
            s.insert(t);
        }
        s.insert(3);
        assert_eq!(s.len(), 5);
        s.remove(1);
        s.remove(1);
        let mut left = s.tokens().to_vec();
        left.sort_unstable();
        assert_eq!(left, vec![0, 2, 3, 4]);
        for t in [0, 2, 3, 4] {
            s.remove(t);
        }
        assert!(s.is_empty());
    }

    #[test]
    fn a_channel_without_subscribers_is_forgotten() {
        let mut ps = PubSub::default();
        let (mut a, mut b) = (Subscriptions::default(), Subscriptions::default());
        let ch = Bytes::from_static(b"news");
        assert!(ps.subscribe(&mut a, 1, Kind::Channel, &ch));
        assert!(!ps.subscribe(&mut a, 1, Kind::Channel, &ch));
        assert!(ps.subscribe(&mut b, 2, Kind::Channel, &ch));
        assert!(ps.subscribe(&mut b, 2, Kind::Pattern, &Bytes::from_static(b"n*")));
        assert_eq!(ps.subscribers(Kind::Channel, b"news"), 2);
        ps.forget(&mut b, 2);
        assert_eq!(b.total(), 0);
        assert_eq!(ps.count(Kind::Pattern), 0);
        assert!(ps.unsubscribe(&mut a, 1, Kind::Channel, b"news"));
        assert_eq!(ps.count(Kind::Channel), 0);
    }

    #[test]
    fn frames_are_encoded_per_protocol() {
        let mut f = Frames::message(b"message", b"ch", b"hi");
        assert_eq!(
            f.get(Protocol::Resp2),
            b"*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n"
        );
        assert_eq!(
            f.get(Protocol::Resp3),
            b">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n"
        );
    }
}
