//! Server-wide state that commands read and write: the databases, the
//! configuration, statistics and the slow log. The loop owns the one
//! `Store`; handlers borrow it through [`crate::cmd::Ctx`].

use std::collections::VecDeque;

// Looked up once per command: a fast hasher, since the keys are ours.
use ahash::AHashMap as HashMap;
use std::time::Instant;

use crate::cmd::Command;
use crate::config::Config;
use crate::db::{AccessPolicy, Db};
use crate::util::Rng;

/// A command as a key of its counters, by address: every descriptor is a
/// static of the command table, so hashing one is hashing a word and
/// comparing two is comparing pointers, where a name costs a string hash
/// and a memcmp on every call.
#[derive(Debug, Clone, Copy)]
pub struct CmdKey(pub &'static Command);

impl PartialEq for CmdKey {
    fn eq(&self, other: &CmdKey) -> bool {
        std::ptr::eq(self.0, other.0)
    }
}

impl Eq for CmdKey {}

impl std::hash::Hash for CmdKey {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        std::ptr::hash(self.0, state);
    }
}

/// Per-command counters for INFO commandstats.
#[derive(Debug, Default)]
pub struct CommandStat {
    pub calls: u64,
    pub usec: u64,
    pub rejected_calls: u64,
    pub failed_calls: u64,
    /// Allocated on the first duration recorded, as Redis does, so only
    /// commands that ran show in INFO latencystats.
    pub latency: Option<Box<crate::latency::LatencyHistogram>>,
}

#[derive(Debug, Default)]
pub struct Stats {
    pub total_connections_received: u64,
    pub total_commands_processed: u64,
    pub rejected_connections: u64,
    pub expired_keys: u64,
    pub evicted_keys: u64,
    pub expired_stale_perc: f64,
    pub expire_cycle_cpu_ms: u64,
    pub keyspace_hits: u64,
    pub keyspace_misses: u64,
    pub net_input_bytes: u64,
    pub net_output_bytes: u64,
    pub total_error_replies: u64,
    /// `total_error_replies` when the running call started or a call
    /// nested in it ended (Redis's `prev_err_count`): a call during which
    /// it grows failed, whoever got the error.
    pub errors_mark: u64,
    /// Clients closed for passing their query or output buffer limit.
    pub client_query_buffer_limit_disconnections: u64,
    pub client_output_buffer_limit_disconnections: u64,
    /// Clients closed by client eviction (`maxmemory-clients`).
    pub evicted_clients: u64,
    pub unexpected_error_replies: u64,
    pub commands: HashMap<CmdKey, CommandStat>,
    /// Error replies by their first word (`ERR`, `WRONGTYPE`).
    pub errors: HashMap<String, u64>,
    /// For `instantaneous_ops_per_sec`: samples of (ms, commands).
    pub ops_samples: VecDeque<(u64, u64)>,
}

impl Stats {
    /// A command refused before it ran (Redis's ERROR_COMMAND_REJECTED).
    pub fn rejected(&mut self, cmd: &'static Command) {
        self.commands.entry(CmdKey(cmd)).or_default().rejected_calls += 1;
    }

    /// Counts a key looked up for reading (INFO's keyspace_hits/_misses).
    pub fn count_lookup(&mut self, hit: bool) {
        if hit {
            self.keyspace_hits += 1;
        } else {
            self.keyspace_misses += 1;
        }
    }

    /// Each command's counters by name, in name order, as INFO lists them.
    pub fn by_name(&self) -> Vec<(&'static str, &CommandStat)> {
        let mut cmds: Vec<_> = self.commands.iter().map(|(k, s)| (k.0.name, s)).collect();
        cmds.sort_by_key(|&(name, _)| name);
        cmds
    }

    pub fn reset(&mut self) {
        *self = Stats::default();
    }

    pub fn instantaneous_ops_per_sec(&self) -> u64 {
        match (self.ops_samples.front(), self.ops_samples.back()) {
            (Some(&(t0, c0)), Some(&(t1, c1))) if t1 > t0 => (c1 - c0) * 1000 / (t1 - t0),
            _ => 0,
        }
    }
}

/// One SLOWLOG entry.
#[derive(Debug, Clone)]
pub struct SlowEntry {
    pub id: u64,
    pub time_s: i64,
    pub duration_us: u64,
    pub args: Vec<Vec<u8>>,
    pub peer: String,
    pub name: Vec<u8>,
}

/// The most recent slow commands, newest first.
#[derive(Debug, Default)]
pub struct SlowLog {
    pub entries: VecDeque<SlowEntry>,
    pub next_id: u64,
}

/// How many seconds INFO's `client_recent_max_output_buffer` looks back
/// (Redis's CLIENTS_PEAK_MEM_USAGE_SLOTS).
pub const OUTPUT_PEAK_SECONDS: usize = 8;

/// A pending SHUTDOWN.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shutdown {
    Requested,
}

pub struct Store {
    pub dbs: Vec<Db>,
    /// Snapshots: the BGSAVE in progress and what past saves did.
    pub rdb: crate::persist::RdbState,
    /// The append-only file.
    pub aof: crate::persist::aof::Aof,
    pub config: Config,
    pub stats: Stats,
    pub slowlog: SlowLog,
    /// The latency monitor's events (LATENCY).
    pub latency_events: crate::latency_monitor::Monitor,
    pub rng: Rng,
    /// Changes since the last save.
    pub dirty: u64,
    pub lastsave_s: i64,
    pub started: Instant,
    pub run_id: String,
    /// The replication ID (INFO's `master_replid`), random at start and
    /// new after DEBUG CHANGE-REPL-ID; Redis draws it apart from `run_id`.
    pub replid: String,
    /// The port actually bound (the config may say 0).
    pub listen_port: u16,
    pub next_client_id: u64,
    /// Clients in MONITOR mode, by slab key.
    pub monitors: Vec<usize>,
    /// Clients to close once the command is done (CLIENT KILL, an
    /// output-buffer limit), by slab key and client id: a new connection
    /// that reuses the slot meanwhile is not the one meant.
    pub to_close: Vec<(usize, u64)>,
    /// Clients' memory and the evictable ones by size (`maxmemory-clients`).
    pub client_mem: crate::client_mem::ClientMemory,
    pub pubsub: crate::pubsub::PubSub,
    /// Clients that a command gave output (a message, a MONITOR line, an
    /// invalidation, the end of a block), for the loop to write and check
    /// against their output-buffer limits once the command is done.
    pub notified: Vec<usize>,
    /// Clients unblocked (served, timed out, CLIENT UNBLOCK) whose input
    /// that waited behind the blocked command has yet to run. As in Redis
    /// (`processUnblockedClients` before the iteration's writes), the loop
    /// runs it once every ready key has served its waiters and the command
    /// that unblocked them has finished, pipeline and all.
    pub unblocked: Vec<usize>,
    /// What commands did, drained after each call (see `crate::effects`).
    pub effects: crate::effects::Effects,
    pub tracking: crate::tracking::Tracking,
    /// The largest output buffer (CLIENT LIST `omem`) seen in each of the
    /// last few seconds, by second (INFO `client_recent_max_output_buffer`).
    pub output_peaks: [(u64, usize); OUTPUT_PEAK_SECONDS],
    pub shutdown: Option<Shutdown>,
    pub blocking: crate::blocking::Blocking,
    /// CLIENT PAUSE: the pause in force and the clients it holds.
    pub pause: crate::pause::Pause,
    pub watches: crate::watch::Watches,
    /// Keys whose string value the running transaction stored straight
    /// from a queued command's argument (see `cmd::string`); cleared when
    /// EXEC ends.
    pub exec_shared: Vec<(usize, bytes::Bytes)>,
    /// DEBUG SET-ACTIVE-EXPIRE: whether the cron expires keys nobody reads.
    pub active_expire_enabled: bool,
    /// maxmemory and its eviction pool.
    pub evictor: crate::evict::Evictor,
    /// Users, their permissions and the ACL log.
    pub acl: crate::acl::Acl,
    /// Lua: the interpreter, the script cache, the running script.
    pub scripting: crate::script::Scripting,
    /// What the loop lends for serving clients while a script is busy.
    pub busy_io: Option<crate::server::busy::Io>,
}

impl Store {
    pub fn new(config: Config) -> Store {
        let mut rng = Rng::from_time();
        let run_id = random_hex_id(&mut rng);
        let replid = random_hex_id(&mut rng);
        let mut store = Store {
            dbs: (0..config.databases).map(|_| Db::new()).collect(),
            config,
            stats: Stats::default(),
            slowlog: SlowLog::default(),
            latency_events: Default::default(),
            rng,
            dirty: 0,
            lastsave_s: unix_ms() as i64 / 1000,
            rdb: crate::persist::RdbState::default(),
            aof: Default::default(),
            started: Instant::now(),
            run_id,
            replid,
            listen_port: 0,
            next_client_id: 1,
            monitors: Vec::new(),
            to_close: Vec::new(),
            client_mem: Default::default(),
            pubsub: Default::default(),
            notified: Vec::new(),
            unblocked: Vec::new(),
            effects: Default::default(),
            tracking: Default::default(),
            output_peaks: [(0, 0); OUTPUT_PEAK_SECONDS],
            shutdown: None,
            blocking: Default::default(),
            pause: Default::default(),
            watches: Default::default(),
            exec_shared: Vec::new(),
            active_expire_enabled: true,
            evictor: Default::default(),
            acl: Default::default(),
            scripting: Default::default(),
            busy_io: None,
        };
        store.apply_config();
        store
    }

    /// Records a client's output buffer size (`omem`) for INFO's
    /// `client_recent_max_output_buffer`.
    pub fn note_output(&mut self, omem: usize, now_s: u64) {
        let slot = &mut self.output_peaks[now_s as usize % OUTPUT_PEAK_SECONDS];
        if slot.0 != now_s {
            *slot = (now_s, 0);
        }
        slot.1 = slot.1.max(omem);
    }

    /// The largest output buffer seen in the last `OUTPUT_PEAK_SECONDS`.
    pub fn recent_max_output(&self, now_s: u64) -> usize {
        self.output_peaks
            .iter()
            .filter(|(s, _)| now_s.saturating_sub(*s) < OUTPUT_PEAK_SECONDS as u64)
            .map(|&(_, m)| m)
            .max()
            .unwrap_or(0)
    }

    /// Pushes settings the databases act on (the access policy) down to
    /// them; called at startup and after every CONFIG SET.
    pub fn apply_config(&mut self) {
        let num = |name: &str| {
            self.config
                .get(name)
                .and_then(|v| v.parse::<u32>().ok())
                .unwrap_or(0)
        };
        let policy = if self
            .config
            .get("maxmemory-policy")
            .is_some_and(|p| p.ends_with("lfu"))
        {
            AccessPolicy::Lfu {
                log_factor: num("lfu-log-factor"),
                decay_minutes: num("lfu-decay-time"),
            }
        } else {
            AccessPolicy::Lru
        };
        self.aof.apply_config(&self.config, &mut self.effects.aof);
        let notify = self.config.notify_keyspace_events;
        self.effects.notify_flags = notify;
        self.effects.lazy_eviction = self.config.get("lazyfree-lazy-eviction") == Some("yes");
        self.effects.lazy_expire = self.config.get("lazyfree-lazy-expire") == Some("yes");
        use crate::effects::class;
        let new_keys =
            notify & class::NEW != 0 && notify & (class::KEYSPACE | class::KEYEVENT) != 0;
        let policy_name = self.config.get("maxmemory-policy").unwrap_or("noeviction");
        let settings = crate::evict::Settings {
            maxmemory: self
                .config
                .get("maxmemory")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0),
            policy: crate::evict::Policy::from_name(policy_name),
            samples: num("maxmemory-samples").max(1) as usize,
            tenacity: num("maxmemory-eviction-tenacity"),
            lfu_decay_minutes: num("lfu-decay-time"),
        };
        if settings.policy != self.evictor.settings.policy {
            self.evictor.clear_pool();
        }
        // A new limit is acted on at once, commands or not (Redis's
        // updateMaxmemory starts the eviction time proc).
        if settings.maxmemory != 0 && settings.maxmemory != self.evictor.settings.maxmemory {
            self.evictor.running = true;
        }
        self.evictor.settings = settings;
        for db in &mut self.dbs {
            db.policy = policy;
            db.observed.new_keys = new_keys;
        }
        self.acl.pubsub_all = self.config.get("acl-pubsub-default") == Some("allchannels");
        self.latency_events.threshold_ms = self
            .config
            .get("latency-monitor-threshold")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
    }

    /// Whether the dataset is being loaded (RDB or AOF): clients get
    /// `-LOADING`, save points and rewrites wait.
    pub fn loading(&self) -> bool {
        self.rdb.loading.is_some() || self.aof.loading.is_some()
    }

    /// Moves what database `db` logged into the effects record (see
    /// [`crate::effects::Effects::absorb`]).
    #[inline]
    pub fn absorb(&mut self, db: usize) {
        if let Some(d) = self.dbs.get_mut(db)
            && !d.log.is_empty()
        {
            self.effects.absorb(db, &mut d.log);
        }
    }

    /// Records that `key` in `db` was modified, and the keyspace event
    /// `name` of `class` (Redis's signalModifiedKey and
    /// notifyKeyspaceEvent, which commands call together).
    #[inline]
    pub fn changed(&mut self, db: usize, class: u32, name: &'static str, key: &[u8]) {
        self.modified(db, key);
        self.notify(db, class, name, key);
    }

    /// Records that `key` in `db` was modified (WATCH, tracking).
    #[inline]
    pub fn modified(&mut self, db: usize, key: &[u8]) {
        self.effects.modified(db, key);
    }

    /// Records a keyspace event, after what the database logged before it.
    #[inline]
    pub fn notify(&mut self, db: usize, class: u32, name: &'static str, key: &[u8]) {
        if self.effects.notify_flags & class != 0 {
            self.absorb(db);
            self.effects.notify(class, name, db, key);
        }
    }
}

/// Wall-clock Unix time in milliseconds.
/// 40 random hex digits: a run ID or a replication ID, as Redis's
/// getRandomHexChars makes them.
pub fn random_hex_id(rng: &mut Rng) -> String {
    (0..40)
        .map(|_| char::from(b"0123456789abcdef"[rng.below(16) as usize]))
        .collect()
}

pub fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Wall-clock Unix time in microseconds.
pub fn unix_us() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}
