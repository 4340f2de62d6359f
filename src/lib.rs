//! ferrokv: a Redis-compatible in-memory data server.
//!
//! # Layout
//!
//! Modules in reading order:
//!
//! - [`config`]: the parameters CONFIG GET/SET know, the redis.conf parser.
//! - [`server`]: the event loop (poll, accept, read and execute, timers,
//!   flush). One thread owns every socket and the whole store.
//! - [`client`]: per-connection state (buffers, parser, session).
//! - [`client_mem`]: each client's memory, counted incrementally, and
//!   client eviction (`maxmemory-clients`).
//! - [`resp`]: the incremental request parser and the RESP2/RESP3 reply
//!   writer.
//! - [`bigarg`]: a big argument's body, read into memory of its own.
//! - [`cmd`]: the command table, dispatch, and the command handlers.
//! - [`store`]: server-wide state the handlers borrow (databases, config,
//!   statistics, slow log).
//! - [`db`]: the keyspace: the incrementally rehashed table, values, expiry.
//! - [`timer`]: the timer wheel that drives the cron and expiry.
//! - [`glob`], [`util`]: Redis-exact pattern matching and number handling;
//!   [`csort`]: the C library's and Redis's sorts, whose order among equals
//!   replies show.
//! - [`blocking`]: wait lists of blocked clients and the ready-key queue.
//! - [`pause`]: CLIENT PAUSE, the pause in force and the clients it holds.
//! - [`watch`]: which clients WATCH which keys, for MULTI/EXEC.
//! - [`pubsub`]: channels, patterns and shard channels, and the message
//!   frames a publish fans out.
//! - [`tracking`]: CLIENT TRACKING, the keys clients cache and the
//!   invalidations they are sent.
//! - [`latency`]: per-command latency histograms (INFO latencystats,
//!   LATENCY HISTOGRAM).
//! - [`latency_monitor`]: the latency monitor (LATENCY LATEST, HISTORY,
//!   GRAPH, DOCTOR): spikes of the events that can stall the loop.
//! - [`lazyfree`]: the helper thread that frees huge values off the loop.
//! - [`persist`]: the RDB format (snapshots, DUMP payloads), SAVE and
//!   loading.

pub mod acl;
pub mod alloc;
pub mod bigarg;
pub mod blocking;
pub mod call;
pub mod client;
pub mod client_mem;
pub mod cmd;
pub mod config;
pub mod csort;
pub mod db;
pub mod drain;
pub mod effects;
pub mod evict;
pub mod glob;
pub mod latency;
pub mod latency_monitor;
pub mod lazyfree;
pub mod pause;
pub mod persist;
pub mod pubsub;
pub mod resp;
pub mod script;
pub mod server;
pub mod store;
pub mod timer;
pub mod tracking;
pub mod types;
pub mod util;
pub mod watch;

/// The Redis version ferrokv reports, so clients enable the features they
/// expect of Redis 7.0.
pub const REDIS_VERSION: &str = "7.0.15";
/// ferrokv's own version.
pub const FERROKV_VERSION: &str = env!("CARGO_PKG_VERSION");
