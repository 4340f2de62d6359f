//! WATCH: which clients watch which keys, and touching them.
//!
//! A client that WATCHes a key has its next EXEC fail (a null reply) if
//! the key is modified before then, by anyone, itself included. The
//! registry maps (db, key) to the clients watching it, and each client
//! keeps its own list of what it watches, so UNWATCH, EXEC and a
//! disconnect remove exactly their entries.
//!
//! A key is "touched" when a command modifies it: handlers report it
//! where it happens (`Ctx::changed`, `Ctx::modified`, Redis's
//! signalModifiedKey) and the drain after the call touches the watchers
//! (`crate::drain`). FLUSHDB, FLUSHALL and SWAPDB touch every watched key
//! they remove or replace ([`Watches::touch_all_in_db`]). A deletion by
//! lazy or active expiry touches too, except for a client that watched the
//! key already expired.
//!
//! Expiry is handled at EXEC: a key that was live when it was WATCHed and
//! is gone or expired at EXEC fails the transaction, as in Redis 7.0
//! (where expiring a key touches it); a key already expired when WATCHed
//! counts as absent.
//!
//! Architecture invariant: the registry is empty unless some client
//! watches something, and every check on the command path starts with
//! [`Watches::is_empty`], so commands pay nothing while nobody watches.

use ahash::AHashMap;
use bytes::Bytes;
use slab::Slab;

use crate::client::Client;
use crate::db::Db;

/// One key a client watches.
#[derive(Debug, Clone)]
pub struct WatchedKey {
    pub db: usize,
    pub key: Bytes,
    /// Whether the key existed (and had not expired) when WATCHed.
    pub live_at_watch: bool,
}

/// Why a watched key is touched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Touch {
    /// A command wrote it.
    Written,
    /// Lazy or active expiry deleted it.
    Expired,
}

/// (db, key) to the clients watching it, by slab key.
#[derive(Debug, Default)]
pub struct Watches {
    by_key: AHashMap<(usize, Vec<u8>), Vec<usize>>,
}

impl Watches {
    /// True if no client watches anything.
    pub fn is_empty(&self) -> bool {
        self.by_key.is_empty()
    }

    /// Whether anyone watches `key` in `db`.
    pub fn is_watched(&self, db: usize, key: &[u8]) -> bool {
        !self.by_key.is_empty() && self.by_key.contains_key(&(db, key.to_vec()))
    }

    /// Records that `token` watches `key` in `db`.
    pub fn add(&mut self, token: usize, db: usize, key: &[u8]) {
        let clients = self.by_key.entry((db, key.to_vec())).or_default();
        if !clients.contains(&token) {
            clients.push(token);
        }
    }

    /// Forgets everything `client` (slab key `token`) watches, and whether
    /// a key it watched was touched: UNWATCH, EXEC, DISCARD, RESET and a
    /// disconnect.
    pub fn unwatch_all(&mut self, token: usize, client: &mut Client) {
        client.dirty_cas = false;
        let watched = std::mem::take(&mut client.watched);
        self.remove_all(token, &watched);
    }

    /// Removes `token`'s entries for `keys` from the registry.
    fn remove_all(&mut self, token: usize, keys: &[WatchedKey]) {
        for wk in keys {
            let k = (wk.db, wk.key.to_vec());
            if let Some(clients) = self.by_key.get_mut(&k) {
                clients.retain(|&t| t != token);
                if clients.is_empty() {
                    self.by_key.remove(&k);
                }
            }
        }
    }

    /// Marks every client watching `key` in `db`: its next EXEC fails;
    /// except, for a deletion by expiry, a client that watched the key
    /// already expired (it was absent to that client, and still is).
    pub fn touch(&self, clients: &mut Slab<Client>, db: usize, key: &[u8], kind: Touch) {
        if self.by_key.is_empty() {
            return;
        }
        let Some(watchers) = self.by_key.get(&(db, key.to_vec())) else {
            return;
        };
        for &token in watchers {
            let Some(c) = clients.get_mut(token) else {
                continue;
            };
            let absent_to_it = kind == Touch::Expired
                && c.watched
                    .iter()
                    .any(|wk| wk.db == db && wk.key == key && !wk.live_at_watch);
            if !absent_to_it {
                c.dirty_cas = true;
            }
        }
    }

    /// Touches every key watched in `emptied` that exists there, or in
    /// `replaced_with` (SWAPDB's other database), before a flush or a swap
    /// replaces the database's contents.
    pub fn touch_all_in_db(
        &self,
        clients: &mut Slab<Client>,
        dbs: &[Db],
        emptied: usize,
        replaced_with: Option<usize>,
        now_ms: u64,
    ) {
        for ((db, key), watchers) in &self.by_key {
            if *db != emptied {
                continue;
            }
            let exists =
                |index: usize| dbs.get(index).is_some_and(|d| d.get(key, now_ms).is_some());
            if exists(emptied) || replaced_with.is_some_and(exists) {
                mark_touched(clients, watchers);
            }
        }
    }
}

/// Fails the next EXEC of each of `watchers`.
fn mark_touched(clients: &mut Slab<Client>, watchers: &[usize]) {
    for &token in watchers {
        if let Some(c) = clients.get_mut(token) {
            c.dirty_cas = true;
        }
    }
}

/// Whether a key that was live when WATCHed has since expired or gone
/// (which Redis counts as a modification).
pub fn any_expired(keys: &[WatchedKey], dbs: &[Db], now_ms: u64) -> bool {
    keys.iter().any(|wk| {
        wk.live_at_watch
            && dbs
                .get(wk.db)
                .is_none_or(|d| d.get(&wk.key, now_ms).is_none())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn watched(db: usize, key: &'static [u8]) -> WatchedKey {
        WatchedKey {
            db,
            key: Bytes::from_static(key),
            live_at_watch: true,
        }
    }

    #[test]
    fn removing_a_client_s_watches_leaves_the_others() {
        let mut w = Watches::default();
        assert!(w.is_empty());
        w.add(1, 0, b"k");
        w.add(1, 0, b"k");
        w.add(2, 0, b"k");
        w.add(2, 3, b"k");
        assert!(w.is_watched(0, b"k") && w.is_watched(3, b"k"));
        assert!(!w.is_watched(1, b"k"));
        w.remove_all(1, &[watched(0, b"k")]);
        assert!(w.is_watched(0, b"k"));
        w.remove_all(2, &[watched(0, b"k"), watched(3, b"k")]);
        assert!(w.is_empty());
    }

    #[test]
    fn a_key_live_at_watch_that_is_gone_counts_as_modified() {
        let mut db = Db::new();
        db.set(
            b"here",
            crate::db::Value::Str(crate::db::Str::encoded(b"v")),
            crate::db::Ttl::Clear,
            0,
        );
        let dbs = vec![db];
        assert!(!any_expired(&[watched(0, b"here")], &dbs, 0));
        assert!(any_expired(&[watched(0, b"gone")], &dbs, 0));
        let mut absent = watched(0, b"gone");
        absent.live_at_watch = false;
        assert!(!any_expired(&[absent], &dbs, 0));
    }
}
