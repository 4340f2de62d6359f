//! Configuration: every parameter CONFIG GET and CONFIG SET know, how each
//! value is parsed, checked and shown, and the redis.conf-style file parser.
//!
//! [`PARAMS`] mirrors the `static_configs` table of Redis 7.0's
//! `src/config.c`: every parameter keeps Redis's name, alias, default,
//! bounds, and whether it may change at runtime, so that CONFIG SET accepts
//! and rejects exactly what Redis 7.0 does, in the same words, and CONFIG GET
//! prints values as Redis prints them. Parameters whose behaviour ferrokv
//! does not implement are still checked, stored and shown.
//!
//! Values are held as the strings CONFIG GET returns. The few the server
//! reads on hot paths are also kept typed in [`Config`]'s public fields,
//! updated on every successful set.
//!
//! CONFIG SET runs Redis's three stages, in Redis's order, so that when
//! several things are wrong the same one is reported:
//!
//! 1. lookup: each name (or alias) must exist, may change at runtime, and
//!    appears once;
//! 2. set: each value is parsed and checked, in argument order;
//! 3. apply: side effects run, which may still fail (TLS cannot be switched
//!    on) or adjust a value (`hz` is clamped to 1..=500).
//!
//! Nothing is kept unless all three succeed for every pair.

use std::fmt;

use crate::util::strtoll;

/// How a parameter's value is parsed, checked and shown.
#[derive(Debug, Clone, Copy)]
enum Kind {
    /// `yes` or `no`, in any case.
    Bool,
    /// A number with inclusive bounds.
    Num(Num),
    /// One name from the list, in any case. Names that share a value are
    /// synonyms, shown as the first of them (`oom-score-adj relative` reads
    /// back as `yes`).
    Enum(&'static [(&'static str, u8)]),
    /// Any number of the names, space-separated, OR'd together.
    Flags(&'static [(&'static str, u8)]),
    /// Free text.
    Str,
    /// `save`: pairs of seconds and changes.
    Save,
    /// `client-output-buffer-limit`: groups of class, hard, soft, seconds.
    ClientOutputBufferLimit,
    /// `notify-keyspace-events`: class characters.
    NotifyKeyspaceEvents,
    /// `bind`: up to 16 addresses.
    Bind,
    /// `replicaof`: host and port, or `no one`.
    ReplicaOf,
    /// `oom-score-adj-values`: three integers.
    OomScoreAdjValues,
    /// `latency-tracking-info-percentiles`: numbers from 0 to 100.
    Percentiles,
}

impl Kind {
    /// Whether the value is a list of space-separated arguments (Redis's
    /// `MULTI_ARG_CONFIG`): a config file line may then give several words.
    fn multi_arg(self) -> bool {
        matches!(
            self,
            Kind::Flags(_)
                | Kind::Save
                | Kind::ClientOutputBufferLimit
                | Kind::Bind
                | Kind::ReplicaOf
                | Kind::OomScoreAdjValues
                | Kind::Percentiles
        )
    }
}

/// A numeric parameter, as Redis's `numericConfigData` describes it.
#[derive(Debug, Clone, Copy)]
struct Num {
    min: i128,
    max: i128,
    syntax: Syntax,
    /// Redis compares unsigned C types (`unsigned int`, `size_t`,
    /// `unsigned long long`) as unsigned, so `-1` is a huge number there.
    unsigned: bool,
}

/// What text a numeric parameter accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Syntax {
    /// A plain integer (`string2ll`): no units, no `+`, no leading zeroes.
    Integer,
    /// A byte count with an optional unit (`memtoull`).
    Memory,
    /// A byte count, or a percentage such as `10%` (`maxmemory-clients`).
    MemoryOrPercent,
    /// An octal number (`unixsocketperm`).
    Octal,
}

/// Who may change a parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Access {
    Mutable,
    /// Only at startup (command line and config file).
    Immutable,
    /// At runtime only when `enable-protected-configs` allows it.
    Protected,
}

/// A side effect of a runtime change, run after every value is set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Apply {
    None,
    /// Redis clamps `hz` to 1..=500 (also at startup).
    Hz,
    /// The replication backlog is never smaller than 16 KiB.
    ReplBacklog,
    /// Reconfigures TLS, which fails once TLS is in use: ferrokv has none.
    Tls,
    /// Listens on the TLS port, which always fails: ferrokv has no TLS.
    TlsPort,
}

/// An extra check on the normalised value, with Redis's wording.
type Check = fn(&Config, &str) -> Result<(), &'static str>;

struct Param {
    name: &'static str,
    /// Another name for the same setting (`hash-max-ziplist-entries`).
    alias: Option<&'static str>,
    kind: Kind,
    /// The value CONFIG GET shows before any set.
    default: &'static str,
    access: Access,
    /// Left out of CONFIG GET patterns; an exact name still finds it.
    hidden: bool,
    check: Option<Check>,
    apply: Apply,
}

const fn param(name: &'static str, kind: Kind, default: &'static str) -> Param {
    Param {
        name,
        alias: None,
        kind,
        default,
        access: Access::Mutable,
        hidden: false,
        check: None,
        apply: Apply::None,
    }
}

impl Param {
    const fn alias(self, alias: &'static str) -> Param {
        Param {
            alias: Some(alias),
            ..self
        }
    }

    const fn immutable(self) -> Param {
        Param {
            access: Access::Immutable,
            ..self
        }
    }

    const fn protected(self) -> Param {
        Param {
            access: Access::Protected,
            ..self
        }
    }

    const fn hidden(self) -> Param {
        Param {
            hidden: true,
            ..self
        }
    }

    const fn check(self, check: Check) -> Param {
        Param {
            check: Some(check),
            ..self
        }
    }

    const fn apply(self, apply: Apply) -> Param {
        Param { apply, ..self }
    }
}

const INT_MIN: i128 = i32::MIN as i128;
const INT_MAX: i128 = i32::MAX as i128;
const UINT_MAX: i128 = u32::MAX as i128;
const LONG_MAX: i128 = i64::MAX as i128;
const ULLONG_MAX: i128 = u64::MAX as i128;

/// A signed integer (`int`, `long`, `long long`, `time_t`).
const fn int(min: i128, max: i128) -> Kind {
    Kind::Num(Num {
        min,
        max,
        syntax: Syntax::Integer,
        unsigned: false,
    })
}

/// An unsigned integer (`unsigned int`, `size_t`).
const fn uint(min: i128, max: i128) -> Kind {
    Kind::Num(Num {
        min,
        max,
        syntax: Syntax::Integer,
        unsigned: true,
    })
}

/// A signed byte count (`long long`, `off_t`).
const fn mem(min: i128, max: i128) -> Kind {
    Kind::Num(Num {
        min,
        max,
        syntax: Syntax::Memory,
        unsigned: false,
    })
}

/// An unsigned byte count (`size_t`, `unsigned long long`).
const fn umem(min: i128, max: i128) -> Kind {
    Kind::Num(Num {
        min,
        max,
        syntax: Syntax::Memory,
        unsigned: true,
    })
}

const INT: Kind = int(0, INT_MAX);
const LONG: Kind = int(0, LONG_MAX);
const SIZE: Kind = uint(0, LONG_MAX);
const PORT: Kind = int(0, 65535);

const YES_NO_LOCAL: &[(&str, u8)] = &[("no", 0), ("yes", 1), ("local", 2)];
const SHUTDOWN_FLAGS: &[(&str, u8)] = &[
    ("default", 0),
    ("save", 1),
    ("nosave", 2),
    ("now", 4),
    ("force", 8),
];

/// Every parameter of Redis 7.0, grouped by kind as in Redis's table.
static PARAMS: &[Param] = &[
    // Booleans.
    param("rdbchecksum", Kind::Bool, "yes").immutable(),
    param("daemonize", Kind::Bool, "no").immutable(),
    param("io-threads-do-reads", Kind::Bool, "no").immutable(),
    param("always-show-logo", Kind::Bool, "no").immutable(),
    param("protected-mode", Kind::Bool, "yes"),
    param("rdbcompression", Kind::Bool, "yes"),
    param("rdb-del-sync-files", Kind::Bool, "no"),
    param("activerehashing", Kind::Bool, "yes"),
    param("stop-writes-on-bgsave-error", Kind::Bool, "yes"),
    param("set-proc-title", Kind::Bool, "yes").immutable(),
    param("dynamic-hz", Kind::Bool, "yes"),
    param("lazyfree-lazy-eviction", Kind::Bool, "no"),
    param("lazyfree-lazy-expire", Kind::Bool, "no"),
    param("lazyfree-lazy-server-del", Kind::Bool, "no"),
    param("lazyfree-lazy-user-del", Kind::Bool, "no"),
    param("lazyfree-lazy-user-flush", Kind::Bool, "no"),
    param("repl-disable-tcp-nodelay", Kind::Bool, "no"),
    param("repl-diskless-sync", Kind::Bool, "yes"),
    param("aof-rewrite-incremental-fsync", Kind::Bool, "yes"),
    param("no-appendfsync-on-rewrite", Kind::Bool, "no"),
    param("cluster-require-full-coverage", Kind::Bool, "yes"),
    param("rdb-save-incremental-fsync", Kind::Bool, "yes"),
    param("aof-load-truncated", Kind::Bool, "yes"),
    param("aof-use-rdb-preamble", Kind::Bool, "yes"),
    param("aof-timestamp-enabled", Kind::Bool, "no"),
    param("cluster-replica-no-failover", Kind::Bool, "no").alias("cluster-slave-no-failover"),
    param("replica-lazy-flush", Kind::Bool, "no").alias("slave-lazy-flush"),
    param("replica-serve-stale-data", Kind::Bool, "yes").alias("slave-serve-stale-data"),
    param("replica-read-only", Kind::Bool, "yes").alias("slave-read-only"),
    param("replica-ignore-maxmemory", Kind::Bool, "yes").alias("slave-ignore-maxmemory"),
    param("jemalloc-bg-thread", Kind::Bool, "yes"),
    param("activedefrag", Kind::Bool, "no").check(no_active_defrag),
    param("syslog-enabled", Kind::Bool, "no").immutable(),
    param("cluster-enabled", Kind::Bool, "no").immutable(),
    param("appendonly", Kind::Bool, "no"),
    param("cluster-allow-reads-when-down", Kind::Bool, "no"),
    param("cluster-allow-pubsubshard-when-down", Kind::Bool, "yes"),
    param("crash-log-enabled", Kind::Bool, "yes"),
    param("crash-memcheck-enabled", Kind::Bool, "yes"),
    param("use-exit-on-panic", Kind::Bool, "no").hidden(),
    param("disable-thp", Kind::Bool, "yes").immutable(),
    param("cluster-allow-replica-migration", Kind::Bool, "yes"),
    param("replica-announced", Kind::Bool, "yes"),
    param("latency-tracking", Kind::Bool, "yes"),
    param("aof-disable-auto-gc", Kind::Bool, "no"),
    param("replica-ignore-disk-write-errors", Kind::Bool, "no"),
    // Strings.
    param("aclfile", Kind::Str, "").immutable(),
    param("unixsocket", Kind::Str, "").immutable(),
    param("pidfile", Kind::Str, "").immutable(),
    param("replica-announce-ip", Kind::Str, "").alias("slave-announce-ip"),
    param("masteruser", Kind::Str, ""),
    param("cluster-announce-ip", Kind::Str, ""),
    param("cluster-config-file", Kind::Str, "nodes.conf").immutable(),
    param("cluster-announce-hostname", Kind::Str, "").check(valid_hostname),
    param("syslog-ident", Kind::Str, "redis").immutable(),
    param("dbfilename", Kind::Str, "dump.rdb")
        .protected()
        .check(valid_dbfilename),
    param("appendfilename", Kind::Str, "appendonly.aof")
        .immutable()
        .check(valid_aof_filename),
    param("appenddirname", Kind::Str, "appendonlydir")
        .immutable()
        .check(valid_aof_dirname),
    param("server_cpulist", Kind::Str, "").immutable(),
    param("bio_cpulist", Kind::Str, "").immutable(),
    param("aof_rewrite_cpulist", Kind::Str, "").immutable(),
    param("bgsave_cpulist", Kind::Str, "").immutable(),
    param("ignore-warnings", Kind::Str, ""),
    param(
        "proc-title-template",
        Kind::Str,
        "{title} {listen-addr} {server-mode}",
    )
    .check(valid_proc_title_template),
    param("bind-source-addr", Kind::Str, ""),
    param("logfile", Kind::Str, "").immutable(),
    param("masterauth", Kind::Str, ""),
    param("requirepass", Kind::Str, ""),
    // Enumerations, their names in Redis's order.
    param(
        "supervised",
        Kind::Enum(&[("upstart", 0), ("systemd", 1), ("auto", 2), ("no", 3)]),
        "no",
    )
    .immutable(),
    param(
        "syslog-facility",
        Kind::Enum(&[
            ("user", 0),
            ("local0", 1),
            ("local1", 2),
            ("local2", 3),
            ("local3", 4),
            ("local4", 5),
            ("local5", 6),
            ("local6", 7),
            ("local7", 8),
        ]),
        "local0",
    )
    .immutable(),
    param(
        "repl-diskless-load",
        Kind::Enum(&[("disabled", 0), ("on-empty-db", 1), ("swapdb", 2)]),
        "disabled",
    ),
    param(
        "loglevel",
        Kind::Enum(&[("debug", 0), ("verbose", 1), ("notice", 2), ("warning", 3)]),
        "notice",
    ),
    param(
        "maxmemory-policy",
        Kind::Enum(&[
            ("volatile-lru", 0),
            ("volatile-lfu", 1),
            ("volatile-random", 2),
            ("volatile-ttl", 3),
            ("allkeys-lru", 4),
            ("allkeys-lfu", 5),
            ("allkeys-random", 6),
            ("noeviction", 7),
        ]),
        "noeviction",
    ),
    param(
        "appendfsync",
        Kind::Enum(&[("everysec", 0), ("always", 1), ("no", 2)]),
        "everysec",
    ),
    param(
        "oom-score-adj",
        Kind::Enum(&[("no", 0), ("yes", 1), ("relative", 1), ("absolute", 2)]),
        "no",
    ),
    param(
        "acl-pubsub-default",
        Kind::Enum(&[("allchannels", 0), ("resetchannels", 1)]),
        "resetchannels",
    ),
    param(
        "sanitize-dump-payload",
        Kind::Enum(&[("no", 0), ("yes", 1), ("clients", 2)]),
        "no",
    ),
    param("enable-protected-configs", Kind::Enum(YES_NO_LOCAL), "no").immutable(),
    param("enable-debug-command", Kind::Enum(YES_NO_LOCAL), "no").immutable(),
    param("enable-module-command", Kind::Enum(YES_NO_LOCAL), "no").immutable(),
    param(
        "cluster-preferred-endpoint-type",
        Kind::Enum(&[("ip", 0), ("hostname", 1), ("unknown-endpoint", 2)]),
        "ip",
    ),
    param(
        "propagation-error-behavior",
        Kind::Enum(&[("ignore", 0), ("panic", 1), ("panic-on-replicas", 2)]),
        "ignore",
    ),
    param("shutdown-on-sigint", Kind::Flags(SHUTDOWN_FLAGS), "default").check(valid_shutdown),
    param(
        "shutdown-on-sigterm",
        Kind::Flags(SHUTDOWN_FLAGS),
        "default",
    )
    .check(valid_shutdown),
    // Integers.
    param("databases", int(1, INT_MAX), "16").immutable(),
    param("port", PORT, "6379"),
    param("io-threads", int(1, 128), "1").immutable(),
    param("auto-aof-rewrite-percentage", INT, "100"),
    param("cluster-replica-validity-factor", INT, "10").alias("cluster-slave-validity-factor"),
    param("list-max-listpack-size", int(INT_MIN, INT_MAX), "-2").alias("list-max-ziplist-size"),
    param("tcp-keepalive", INT, "300"),
    param("cluster-migration-barrier", INT, "1"),
    param("active-defrag-cycle-min", int(1, 99), "1"),
    param("active-defrag-cycle-max", int(1, 99), "25"),
    param("active-defrag-threshold-lower", int(0, 1000), "10"),
    param("active-defrag-threshold-upper", int(0, 1000), "100"),
    param("lfu-log-factor", INT, "10"),
    param("lfu-decay-time", INT, "1"),
    param("replica-priority", INT, "100").alias("slave-priority"),
    param("repl-diskless-sync-delay", INT, "5"),
    param("maxmemory-samples", int(1, INT_MAX), "5"),
    param("maxmemory-eviction-tenacity", int(0, 100), "10"),
    param("timeout", INT, "0"),
    param("replica-announce-port", PORT, "0").alias("slave-announce-port"),
    param("tcp-backlog", INT, "511").immutable(),
    param("cluster-port", PORT, "0").immutable(),
    param("cluster-announce-bus-port", PORT, "0"),
    param("cluster-announce-port", PORT, "0"),
    param("cluster-announce-tls-port", PORT, "0"),
    param("repl-timeout", int(1, INT_MAX), "60"),
    param("repl-ping-replica-period", int(1, INT_MAX), "10").alias("repl-ping-slave-period"),
    param("list-compress-depth", INT, "0"),
    param("rdb-key-save-delay", int(INT_MIN, INT_MAX), "0").hidden(),
    param("key-load-delay", int(INT_MIN, INT_MAX), "0").hidden(),
    param("active-expire-effort", int(1, 10), "1"),
    param("hz", INT, "10").apply(Apply::Hz),
    param("min-replicas-to-write", INT, "0").alias("min-slaves-to-write"),
    param("min-replicas-max-lag", INT, "10").alias("min-slaves-max-lag"),
    param("watchdog-period", INT, "0").hidden(),
    param("shutdown-timeout", INT, "10"),
    param("repl-diskless-sync-max-replicas", INT, "0"),
    param("maxclients", uint(1, UINT_MAX), "10000"),
    param(
        "unixsocketperm",
        Kind::Num(Num {
            min: 0,
            max: 0o777,
            syntax: Syntax::Octal,
            unsigned: true,
        }),
        "0",
    )
    .immutable(),
    param("socket-mark-id", uint(0, UINT_MAX), "0").immutable(),
    // Redis keeps these three in an `unsigned long` but checks them signed.
    param("active-defrag-max-scan-fields", int(1, LONG_MAX), "1000"),
    param("slowlog-max-len", LONG, "128"),
    param("acllog-max-len", LONG, "128"),
    param("busy-reply-threshold", LONG, "5000").alias("lua-time-limit"),
    param("cluster-node-timeout", LONG, "15000"),
    param("slowlog-log-slower-than", int(-1, LONG_MAX), "10000"),
    param("latency-monitor-threshold", LONG, "0"),
    param(
        "proto-max-bulk-len",
        mem(1024 * 1024, LONG_MAX),
        "536870912",
    ),
    param("stream-node-max-entries", LONG, "100"),
    param("repl-backlog-size", mem(1, LONG_MAX), "1048576").apply(Apply::ReplBacklog),
    param("maxmemory", umem(0, ULLONG_MAX), "0"),
    param("cluster-link-sendbuf-limit", umem(0, ULLONG_MAX), "0"),
    param("hash-max-listpack-entries", SIZE, "512").alias("hash-max-ziplist-entries"),
    param("set-max-intset-entries", SIZE, "512"),
    param("zset-max-listpack-entries", SIZE, "128").alias("zset-max-ziplist-entries"),
    param("active-defrag-ignore-bytes", umem(1, LONG_MAX), "104857600"),
    param("hash-max-listpack-value", umem(0, LONG_MAX), "64").alias("hash-max-ziplist-value"),
    param("stream-node-max-bytes", umem(0, LONG_MAX), "4096"),
    param("zset-max-listpack-value", umem(0, LONG_MAX), "64").alias("zset-max-ziplist-value"),
    param("hll-sparse-max-bytes", umem(0, LONG_MAX), "3000"),
    param("tracking-table-max-keys", SIZE, "1000000"),
    param(
        "client-query-buffer-limit",
        umem(1024 * 1024, LONG_MAX),
        "1073741824",
    ),
    // Percentages are kept negative, so the lower bound is -100%.
    param(
        "maxmemory-clients",
        Kind::Num(Num {
            min: -100,
            max: LONG_MAX,
            syntax: Syntax::MemoryOrPercent,
            unsigned: false,
        }),
        "0",
    ),
    param("repl-backlog-ttl", LONG, "3600"),
    param("auto-aof-rewrite-min-size", mem(0, LONG_MAX), "67108864"),
    param(
        "loading-process-events-interval-bytes",
        int(1024, INT_MAX),
        "2097152",
    )
    .hidden(),
    // TLS: stored, but ferrokv cannot switch TLS on.
    param("tls-port", PORT, "0").apply(Apply::TlsPort),
    param("tls-session-cache-size", INT, "20480").apply(Apply::Tls),
    param("tls-session-cache-timeout", INT, "300").apply(Apply::Tls),
    param("tls-cluster", Kind::Bool, "no").apply(Apply::Tls),
    param("tls-replication", Kind::Bool, "no").apply(Apply::Tls),
    param(
        "tls-auth-clients",
        Kind::Enum(&[("no", 0), ("yes", 1), ("optional", 2)]),
        "yes",
    ),
    param("tls-prefer-server-ciphers", Kind::Bool, "no").apply(Apply::Tls),
    param("tls-session-caching", Kind::Bool, "yes").apply(Apply::Tls),
    param("tls-cert-file", Kind::Str, "").apply(Apply::Tls),
    param("tls-key-file", Kind::Str, "").apply(Apply::Tls),
    param("tls-key-file-pass", Kind::Str, "").apply(Apply::Tls),
    param("tls-client-cert-file", Kind::Str, "").apply(Apply::Tls),
    param("tls-client-key-file", Kind::Str, "").apply(Apply::Tls),
    param("tls-client-key-file-pass", Kind::Str, "").apply(Apply::Tls),
    param("tls-dh-params-file", Kind::Str, "").apply(Apply::Tls),
    param("tls-ca-cert-file", Kind::Str, "").apply(Apply::Tls),
    param("tls-ca-cert-dir", Kind::Str, "").apply(Apply::Tls),
    param("tls-protocols", Kind::Str, "").apply(Apply::Tls),
    param("tls-ciphers", Kind::Str, "").apply(Apply::Tls),
    param("tls-ciphersuites", Kind::Str, "").apply(Apply::Tls),
    // Parameters with their own syntax.
    param("dir", Kind::Str, "").protected(),
    param("save", Kind::Save, "3600 1 300 100 60 10000"),
    param(
        "client-output-buffer-limit",
        Kind::ClientOutputBufferLimit,
        "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60",
    ),
    param("oom-score-adj-values", Kind::OomScoreAdjValues, "0 200 800"),
    param("notify-keyspace-events", Kind::NotifyKeyspaceEvents, ""),
    param("bind", Kind::Bind, "127.0.0.1"),
    param("replicaof", Kind::ReplicaOf, "")
        .alias("slaveof")
        .immutable(),
    param(
        "latency-tracking-info-percentiles",
        Kind::Percentiles,
        "50 99 99.9",
    ),
];

/// A rejected setting, with Redis's wording for why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigError {
    /// No parameter has this name (as given).
    Unknown(String),
    /// The parameter (named as given) can only be set at startup.
    Immutable(String),
    /// The parameter (named as given) needs `enable-protected-configs`.
    Protected(String),
    /// The parameter (named as given) appears twice in one CONFIG SET.
    Duplicate(String),
    /// The parameter's name (or the alias used, in lowercase) and the
    /// reason, in Redis's words.
    BadValue(String, String),
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::Unknown(n) => write!(f, "unknown option '{n}'"),
            ConfigError::Immutable(n) => write!(f, "'{n}' can't be set at runtime"),
            ConfigError::Protected(n) => write!(f, "'{n}' is a protected config"),
            ConfigError::Duplicate(n) => write!(f, "'{n}' is given twice"),
            ConfigError::BadValue(n, why) => write!(f, "'{n}': {why}"),
        }
    }
}

/// One name in the table: a parameter, under its own name or its alias.
/// Redis registers an alias as a config of its own, so two spellings of one
/// parameter in a CONFIG SET are not duplicates, and errors name the alias.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Entry {
    index: usize,
    via_alias: bool,
}

impl Entry {
    fn param(self) -> &'static Param {
        &PARAMS[self.index]
    }

    fn name(self) -> &'static str {
        let p = self.param();
        match (self.via_alias, p.alias) {
            (true, Some(alias)) => alias,
            _ => p.name,
        }
    }
}

fn lookup(name: &str) -> Option<Entry> {
    PARAMS.iter().enumerate().find_map(|(index, p)| {
        if p.name.eq_ignore_ascii_case(name) {
            Some(Entry {
                index,
                via_alias: false,
            })
        } else if p.alias.is_some_and(|a| a.eq_ignore_ascii_case(name)) {
            Some(Entry {
                index,
                via_alias: true,
            })
        } else {
            None
        }
    })
}

/// The server's configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// One value per entry of [`PARAMS`], as CONFIG GET shows it.
    values: Vec<String>,
    /// Whether a config file or command line has given `save`: the first
    /// replaces the default, later ones add to it, as in Redis.
    save_loaded: bool,
    pub port: u16,
    pub bind: Vec<String>,
    pub databases: usize,
    pub hz: u32,
    pub proto_max_bulk_len: usize,
    pub maxclients: usize,
    /// A client whose unparsed input grows past this is disconnected.
    pub client_query_buffer_limit_bytes: usize,
    pub requirepass: Option<Vec<u8>>,
    /// `protected-mode`: refuse non-loopback connections while the
    /// default user has no password.
    pub protected_mode: bool,
    /// `timeout`: idle clients are closed after this many seconds (0:
    /// never).
    pub idle_timeout_s: u64,
    /// `maxmemory-clients` in bytes, a percentage of `maxmemory` worked
    /// out (Redis's getClientEvictionLimit); 0 when client eviction is off.
    pub client_eviction_limit_bytes: usize,
    /// The config file's `user` lines (the words after `user`), loaded
    /// into the ACL at startup (`crate::acl::Acl::at_startup`).
    pub acl_users: Vec<Vec<Vec<u8>>>,
    pub slowlog_log_slower_than_us: i64,
    pub slowlog_max_len: usize,
    pub loglevel: String,
    /// When a hash leaves its packed encoding (`hash-max-listpack-*`).
    pub hash_max_listpack_entries: usize,
    pub hash_max_listpack_value: usize,
    /// When a set of integers leaves its intset encoding.
    pub set_max_intset_entries: usize,
    /// When a sorted set leaves its packed encoding (`zset-max-listpack-*`).
    pub zset_max_listpack_entries: usize,
    pub stream_node_max_bytes: usize,
    pub stream_node_max_entries: usize,
    pub zset_max_listpack_value: usize,
    /// When a HyperLogLog leaves its sparse encoding.
    pub hll_sparse_max_bytes: usize,
    /// How big a list's packed chunks get (`list-max-listpack-size`).
    pub list_max_listpack_size: i64,
    /// Whether commands' durations go into latency histograms.
    pub latency_tracking: bool,
    /// `notify-keyspace-events` as flags (`effects::class`).
    pub notify_keyspace_events: u32,
    /// The percentiles INFO latencystats reports.
    pub latency_tracking_info_percentiles: Vec<f64>,
    /// `client-output-buffer-limit`, by [`ClientClass`].
    pub output_limits: [OutputLimit; 3],
    /// The config file the server was started with, for CONFIG REWRITE.
    pub file: Option<std::path::PathBuf>,
}

/// The classes `client-output-buffer-limit` and CLIENT KILL TYPE name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientClass {
    Normal = 0,
    Replica = 1,
    PubSub = 2,
}

impl ClientClass {
    /// The class a name means (`slave` and `replica` are one); `master`
    /// is a class of its own that no client of ferrokv is in.
    pub fn from_name(name: &str) -> Option<Option<ClientClass>> {
        match name.to_ascii_lowercase().as_str() {
            "normal" => Some(Some(ClientClass::Normal)),
            "slave" | "replica" => Some(Some(ClientClass::Replica)),
            "pubsub" => Some(Some(ClientClass::PubSub)),
            "master" => Some(None),
            _ => None,
        }
    }
}

/// One class's output-buffer limits; 0 means no limit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OutputLimit {
    pub hard_bytes: usize,
    pub soft_bytes: usize,
    pub soft_seconds: u64,
}

/// The limits in `client-output-buffer-limit`'s stored form
/// (`normal 0 0 0 slave ... pubsub ...`).
fn output_limits(v: &str) -> [OutputLimit; 3] {
    let mut limits = [OutputLimit::default(); 3];
    let words: Vec<&str> = v.split_whitespace().collect();
    for (limit, group) in limits.iter_mut().zip(words.chunks(4)) {
        if let [_, hard, soft, secs] = group {
            *limit = OutputLimit {
                hard_bytes: hard.parse().unwrap_or(0),
                soft_bytes: soft.parse().unwrap_or(0),
                soft_seconds: secs.parse().unwrap_or(0),
            };
        }
    }
    limits
}

impl Default for Config {
    fn default() -> Self {
        let mut c = Config {
            values: PARAMS.iter().map(|p| p.default.to_string()).collect(),
            save_loaded: false,
            port: 6379,
            bind: vec!["127.0.0.1".into()],
            databases: 16,
            hz: 10,
            proto_max_bulk_len: 512 * 1024 * 1024,
            maxclients: 10000,
            client_query_buffer_limit_bytes: 1024 * 1024 * 1024,
            requirepass: None,
            protected_mode: true,
            idle_timeout_s: 0,
            client_eviction_limit_bytes: 0,
            acl_users: Vec::new(),
            slowlog_log_slower_than_us: 10000,
            slowlog_max_len: 128,
            loglevel: "notice".into(),
            hash_max_listpack_entries: 512,
            hash_max_listpack_value: 64,
            set_max_intset_entries: 512,
            zset_max_listpack_entries: 128,
            stream_node_max_bytes: 4096,
            stream_node_max_entries: 100,
            zset_max_listpack_value: 64,
            hll_sparse_max_bytes: 3000,
            list_max_listpack_size: -2,
            latency_tracking: true,
            notify_keyspace_events: 0,
            latency_tracking_info_percentiles: vec![50.0, 99.0, 99.9],
            output_limits: [OutputLimit::default(); 3],
            file: None,
        };
        if let Some(v) = c.get("client-output-buffer-limit") {
            c.output_limits = output_limits(v);
        }
        if let (Ok(dir), Some(e)) = (std::env::current_dir(), lookup("dir")) {
            c.values[e.index] = dir.display().to_string();
        }
        c
    }
}

impl Config {
    /// The current value of a parameter (by name or alias, any case).
    pub fn get(&self, name: &str) -> Option<&str> {
        lookup(name).map(|e| self.values[e.index].as_str())
    }

    /// `busy-reply-threshold` (`lua-time-limit`): how long a script runs
    /// before other clients are answered `-BUSY`; 0 is never.
    pub fn busy_reply_threshold_ms(&self) -> u64 {
        self.get("busy-reply-threshold")
            .and_then(|v| v.parse::<i64>().ok())
            .map_or(5000, |v| v.max(0) as u64)
    }

    /// Every `(name, value)` whose name or alias matches the glob, aliases
    /// listed under their own name as Redis does. Hidden parameters only
    /// answer to their exact name.
    pub fn matching(&self, pattern: &[u8]) -> Vec<(&'static str, &str)> {
        let mut out = Vec::new();
        for (i, p) in PARAMS.iter().enumerate().filter(|(_, p)| !p.hidden) {
            for name in std::iter::once(p.name).chain(p.alias) {
                if crate::glob::glob_match(pattern, name.as_bytes(), true) {
                    out.push((name, self.values[i].as_str()));
                }
            }
        }
        out
    }

    /// Validates and applies one setting. `at_startup` (command line and
    /// config file) allows immutable and protected parameters and skips the
    /// runtime side effects; otherwise this is a one-pair CONFIG SET.
    pub fn set(&mut self, name: &str, value: &str, at_startup: bool) -> Result<(), ConfigError> {
        if !at_startup {
            return self.set_many(&[(name, value)]);
        }
        let entry = lookup(name).ok_or_else(|| ConfigError::Unknown(name.to_string()))?;
        self.set_entry(entry, &split_args(entry.param().kind, value), true)
    }

    /// CONFIG SET: applies every `(name, value)` pair, or none of them, and
    /// reports the first problem in the order Redis finds it (see the
    /// module doc).
    pub fn set_many(&mut self, pairs: &[(&str, &str)]) -> Result<(), ConfigError> {
        let mut entries: Vec<Entry> = Vec::with_capacity(pairs.len());
        for &(name, _) in pairs {
            let entry = lookup(name).ok_or_else(|| ConfigError::Unknown(name.to_string()))?;
            match entry.param().access {
                Access::Mutable => {}
                Access::Immutable => return Err(ConfigError::Immutable(name.to_string())),
                Access::Protected => {
                    if self.get("enable-protected-configs") == Some("no") {
                        return Err(ConfigError::Protected(name.to_string()));
                    }
                }
            }
            if entries.contains(&entry) {
                return Err(ConfigError::Duplicate(name.to_string()));
            }
            entries.push(entry);
        }

        let mut next = self.clone();
        let mut changed: Vec<Entry> = Vec::new();
        for (i, (&entry, &(_, value))) in entries.iter().zip(pairs).enumerate() {
            let before = next.values[entry.index].clone();
            if let Err(e) = next.set_entry(entry, &split_args(entry.param().kind, value), false) {
                self.restore_from_shown(&entries[..=i]);
                return Err(e);
            }
            if next.values[entry.index] != before {
                changed.push(entry);
            }
        }

        // Each side effect runs once, failing under the name of the first
        // parameter that asked for it.
        let mut applies: Vec<(Apply, Entry)> = Vec::new();
        for entry in changed {
            let apply = entry.param().apply;
            if !applies.iter().any(|&(a, _)| a == apply) {
                applies.push((apply, entry));
            }
        }
        for (apply, entry) in applies {
            let tls_in_use = next.get("tls-port") != Some("0")
                || next.get("tls-replication") == Some("yes")
                || next.get("tls-cluster") == Some("yes");
            if apply == Apply::TlsPort || (apply == Apply::Tls && tls_in_use) {
                return Err(ConfigError::BadValue(
                    entry.name().to_string(),
                    "Unable to update TLS configuration. Check server logs.".to_string(),
                ));
            }
        }
        *self = next;
        Ok(())
    }

    /// After a failed CONFIG SET, Redis sets back each parameter it had
    /// reached from the value CONFIG GET shows (restoreBackupConfig). For
    /// `notify-keyspace-events` that spelling hides `n` under `A`, so Redis
    /// loses `n` then; so does ferrokv, to stay the same server.
    fn restore_from_shown(&mut self, reached: &[Entry]) {
        for entry in reached {
            if matches!(entry.param().kind, Kind::NotifyKeyspaceEvents) {
                let shown = &self.values[entry.index];
                self.notify_keyspace_events = keyspace_events_from_str(shown).unwrap_or(0);
            }
        }
    }

    /// Parses, checks and stores one parameter's arguments.
    fn set_entry(
        &mut self,
        entry: Entry,
        args: &[&str],
        at_startup: bool,
    ) -> Result<(), ConfigError> {
        let param = entry.param();
        let bad = |why: String| ConfigError::BadValue(entry.name().to_string(), why);
        let mut value = self.parse(param.kind, entry.index, args).map_err(bad)?;
        if let Some(check) = param.check {
            check(self, &value).map_err(|why| bad(why.to_string()))?;
        }
        match param.apply {
            Apply::Hz => value = parse_i64(&value).clamp(1, 500).to_string(),
            Apply::ReplBacklog if !at_startup => {
                value = parse_i64(&value).max(16 * 1024).to_string();
            }
            _ => {}
        }
        if matches!(param.kind, Kind::Save) && at_startup {
            if !self.save_loaded {
                self.save_loaded = true;
            } else if !value.is_empty() {
                let before = &self.values[entry.index];
                if !before.is_empty() {
                    value = format!("{before} {value}");
                }
            } else {
                value = self.values[entry.index].clone();
            }
        }
        if matches!(param.kind, Kind::NotifyKeyspaceEvents) {
            // The flags as given: the stored spelling hides `n` under `A`.
            let given = args.first().copied().unwrap_or("");
            self.notify_keyspace_events = keyspace_events_from_str(given).unwrap_or(0);
        }
        self.apply_typed(param.name, &value);
        self.values[entry.index] = value;
        // Worked out from both settings, as stored.
        if matches!(param.name, "maxmemory" | "maxmemory-clients") {
            self.client_eviction_limit_bytes = self.client_eviction_limit();
        }
        Ok(())
    }

    /// Turns the arguments into the value CONFIG GET will show, or Redis's
    /// reason for refusing them.
    fn parse(&self, kind: Kind, index: usize, args: &[&str]) -> Result<String, String> {
        let one = args.first().copied().unwrap_or("");
        // A config file's `save ""` (and likewise for these two) means none.
        let args = match kind {
            Kind::Save | Kind::Bind | Kind::Percentiles if args == [""] => &[],
            _ => args,
        };
        match kind {
            Kind::Bool => {
                let one = c_string(one);
                if one.eq_ignore_ascii_case("yes") {
                    Ok("yes".into())
                } else if one.eq_ignore_ascii_case("no") {
                    Ok("no".into())
                } else {
                    Err("argument must be 'yes' or 'no'".into())
                }
            }
            Kind::Num(num) => parse_num(num, one),
            Kind::Enum(names) => {
                let found = names
                    .iter()
                    .find(|(n, _)| n.eq_ignore_ascii_case(c_string(one)));
                match found {
                    Some(&(_, v)) => Ok(enum_name(names, v)),
                    None => Err(enum_error(names)),
                }
            }
            Kind::Flags(names) => {
                if args.is_empty() {
                    return Err(enum_error(names));
                }
                let mut bits = 0;
                for arg in args {
                    match names
                        .iter()
                        .find(|(n, _)| n.eq_ignore_ascii_case(c_string(arg)))
                    {
                        Some(&(_, v)) => bits |= v,
                        None => return Err(enum_error(names)),
                    }
                }
                Ok(flags_name(names, bits))
            }
            Kind::Str => Ok(one.to_string()),
            Kind::Save => parse_save(args),
            Kind::ClientOutputBufferLimit => {
                parse_client_output_buffer_limit(&self.values[index], args)
            }
            Kind::NotifyKeyspaceEvents => {
                let flags = keyspace_events_from_str(c_string(one))
                    .ok_or("Invalid event class character. Use 'Ag$lshzxeKEtmdn'.")?;
                Ok(keyspace_events_to_string(flags))
            }
            Kind::Bind => {
                if args.len() > 16 {
                    return Err("Too many bind addresses specified.".into());
                }
                Ok(args.join(" "))
            }
            Kind::ReplicaOf => {
                if args.len() != 2 {
                    return Err("wrong number of arguments".into());
                }
                if args[0].eq_ignore_ascii_case("no") && args[1].eq_ignore_ascii_case("one") {
                    return Ok(String::new());
                }
                // `strtol` into an `int`.
                let (port, whole, _) = strtoll(args[1], 10);
                if !(0..=65535).contains(&port) || !whole {
                    return Err("Invalid master port".into());
                }
                Ok(format!("{} {port}", args[0]))
            }
            Kind::OomScoreAdjValues => {
                if args.len() != 3 {
                    return Err("wrong number of arguments".into());
                }
                let mut out = Vec::with_capacity(3);
                for arg in args {
                    let (v, whole, _) = strtoll(arg, 10);
                    if !whole || !(-2000..=2000).contains(&v) {
                        return Err(
                            "Invalid oom-score-adj-values, elements must be between -2000 and 2000."
                                .into(),
                        );
                    }
                    out.push(v.to_string());
                }
                Ok(out.join(" "))
            }
            Kind::Percentiles => {
                let mut out = Vec::with_capacity(args.len());
                for arg in args {
                    let p = string2d(arg)
                        .ok_or("Invalid latency-tracking-info-percentiles parameters")?;
                    if !(0.0..=100.0).contains(&p) {
                        return Err("latency-tracking-info-percentiles parameters should sit between [0.0,100.0]".into());
                    }
                    out.push(format_percentile(p));
                }
                Ok(out.join(" "))
            }
        }
    }

    /// Keeps the typed fields in step with the stored strings.
    fn apply_typed(&mut self, name: &str, v: &str) {
        let unsigned = || v.parse::<u64>().unwrap_or(0);
        match name {
            "port" => self.port = unsigned() as u16,
            "bind" => self.bind = v.split_whitespace().map(str::to_string).collect(),
            "databases" => self.databases = unsigned() as usize,
            "hz" => self.hz = unsigned() as u32,
            "proto-max-bulk-len" => self.proto_max_bulk_len = unsigned() as usize,
            "maxclients" => self.maxclients = unsigned() as usize,
            "client-query-buffer-limit" => {
                self.client_query_buffer_limit_bytes = unsigned() as usize
            }
            "requirepass" => {
                self.requirepass = if v.is_empty() {
                    None
                } else {
                    Some(v.as_bytes().to_vec())
                }
            }
            "protected-mode" => self.protected_mode = v == "yes",
            "timeout" => self.idle_timeout_s = unsigned(),
            "slowlog-log-slower-than" => self.slowlog_log_slower_than_us = parse_i64(v),
            "slowlog-max-len" => self.slowlog_max_len = unsigned() as usize,
            "hash-max-listpack-entries" => self.hash_max_listpack_entries = unsigned() as usize,
            "hash-max-listpack-value" => self.hash_max_listpack_value = unsigned() as usize,
            "set-max-intset-entries" => self.set_max_intset_entries = unsigned() as usize,
            "zset-max-listpack-entries" => self.zset_max_listpack_entries = unsigned() as usize,
            "zset-max-listpack-value" => self.zset_max_listpack_value = unsigned() as usize,
            "stream-node-max-bytes" => self.stream_node_max_bytes = unsigned() as usize,
            "hll-sparse-max-bytes" => self.hll_sparse_max_bytes = unsigned() as usize,
            "stream-node-max-entries" => self.stream_node_max_entries = unsigned() as usize,
            "list-max-listpack-size" => self.list_max_listpack_size = parse_i64(v),
            "latency-tracking" => self.latency_tracking = v == "yes",
            "client-output-buffer-limit" => self.output_limits = output_limits(v),
            "latency-tracking-info-percentiles" => {
                self.latency_tracking_info_percentiles = v
                    .split_whitespace()
                    .filter_map(|p| p.parse().ok())
                    .collect();
            }
            "loglevel" => {
                self.loglevel = v.to_string();
                log::set_max_level(level_filter(v));
            }
            _ => {}
        }
    }

    /// Redis's getClientEvictionLimit: `maxmemory-clients` in bytes, or as
    /// a percentage of `maxmemory` (off while `maxmemory` is 0), never
    /// below 128 KiB so that a tiny setting cannot lock everyone out; 0
    /// when off.
    fn client_eviction_limit(&self) -> usize {
        const MIN_BYTES: usize = 128 * 1024;
        let setting = self.get("maxmemory-clients").unwrap_or("0");
        let bytes = match setting.strip_suffix('%') {
            Some(pct) => {
                let maxmemory: u64 = self
                    .get("maxmemory")
                    .and_then(|m| m.parse().ok())
                    .unwrap_or(0);
                let pct: f64 = pct.parse().unwrap_or(0.0);
                if maxmemory == 0 || pct == 0.0 {
                    return 0;
                }
                (maxmemory as f64 * pct / 100.0) as usize
            }
            None => setting.parse().unwrap_or(0),
        };
        if bytes == 0 { 0 } else { bytes.max(MIN_BYTES) }
    }

    /// Applies a redis.conf-style file: one `name value...` per line, `#`
    /// comments, quoting as in redis-cli.
    pub fn load_file(&mut self, path: &std::path::Path) -> Result<(), String> {
        let text =
            std::fs::read(path).map_err(|e| format!("can't open {}: {e}", path.display()))?;
        for (lineno, line) in text.split(|&b| b == b'\n').enumerate() {
            let trimmed = line.trim_ascii();
            if trimmed.is_empty() || trimmed[0] == b'#' {
                continue;
            }
            let mut words = Vec::new();
            if !crate::resp::parser::split_inline_args(trimmed, &mut words) || words.is_empty() {
                return Err(format!("line {}: unbalanced quotes", lineno + 1));
            }
            let name = String::from_utf8_lossy(&words[0]).to_ascii_lowercase();
            if name == "user" && words.len() >= 2 {
                self.acl_users.push(words[1..].to_vec());
                continue;
            }
            let args: Vec<String> = words[1..]
                .iter()
                .map(|w| String::from_utf8_lossy(w).into_owned())
                .collect();
            let err = |why: String| format!("line {}: {why}", lineno + 1);
            let Some(entry) = lookup(&name) else {
                // Redis 7.0 still reads, and ignores, these.
                if matches!(
                    name.as_str(),
                    "list-max-ziplist-entries"
                        | "list-max-ziplist-value"
                        | "lua-replicate-commands"
                ) && args.len() == 1
                {
                    continue;
                }
                if name == "include" || name == "rename-command" {
                    return Err(err(format!("'{name}' is not supported")));
                }
                return Err(err("Bad directive or wrong number of arguments".into()));
            };
            if !entry.param().kind.multi_arg() && args.len() != 1 {
                return Err(err("wrong number of arguments".into()));
            }
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            self.set_entry(entry, &args, true)
                .map_err(|e| err(e.to_string()))?;
        }
        self.file = Some(path.to_path_buf());
        Ok(())
    }

    /// Writes the non-default settings back to the config file (CONFIG
    /// REWRITE). Without a file, Redis's error.
    pub fn rewrite(&self) -> Result<(), String> {
        self.rewrite_with(&[])
    }

    /// CONFIG REWRITE with `lines` added after the settings: the ACL's
    /// `user` lines, which Redis writes there when it has no ACL file.
    pub fn rewrite_with(&self, lines: &[Vec<u8>]) -> Result<(), String> {
        let Some(path) = &self.file else {
            return Err("The server is running without a config file".into());
        };
        let mut text = String::from("# Generated by CONFIG REWRITE\n");
        for (i, p) in PARAMS.iter().enumerate() {
            if self.values[i] != p.default {
                text.push_str(&format!("{} {}\n", p.name, quote(&self.values[i])));
            }
        }
        for line in lines {
            text.push_str(&String::from_utf8_lossy(line));
            text.push('\n');
        }
        let tmp = path.with_extension("tmp-rewrite");
        std::fs::write(&tmp, text)
            .and_then(|_| std::fs::rename(&tmp, path))
            .map_err(|e| format!("Rewriting config file: {e}"))
    }
}

/// Splits a CONFIG SET value the way Redis does for a parameter of this
/// kind: multi-argument values on every single space (`sdssplitlen`, so
/// two spaces make an empty argument), and the empty string into no
/// arguments at all.
fn split_args(kind: Kind, value: &str) -> Vec<&str> {
    if !kind.multi_arg() {
        vec![value]
    } else if value.is_empty() {
        Vec::new()
    } else {
        value.split(' ').collect()
    }
}

/// The part of a value Redis's C string functions see (`memtoull`,
/// `strcasecmp`, `strtoll`): up to the first NUL. Plain integers
/// (`string2ll` over the whole length) and free text are read whole.
fn c_string(s: &str) -> &str {
    s.split('\0').next().unwrap_or(s)
}

/// A stored number, which the table's bounds keep within `i64`.
fn parse_i64(v: &str) -> i64 {
    v.parse().unwrap_or(0)
}

/// Parses and bounds-checks a number as Redis's `numericParseString` and
/// `numericBoundaryCheck` do, and prints it as `numericConfigGet` does.
fn parse_num(num: Num, s: &str) -> Result<String, String> {
    // Redis keeps every number in a `long long`; a byte count above
    // `LLONG_MAX` wraps to a negative one there.
    let value: i64 = match num.syntax {
        Syntax::Integer => crate::util::parse_i64(s.as_bytes()),
        Syntax::Memory => parse_memory(c_string(s)).map(|m| m as i64),
        Syntax::MemoryOrPercent => parse_memory(c_string(s)).map(|m| m as i64).or_else(|| {
            // A percentage is stored negated.
            let digits = s.strip_suffix('%').filter(|d| !d.is_empty())?;
            let pct = crate::util::parse_i64(digits.as_bytes()).filter(|&p| p >= 0)?;
            Some(-pct)
        }),
        Syntax::Octal => {
            let (v, whole, overflow) = strtoll(c_string(s), 8);
            (whole && !overflow).then_some(v)
        }
    }
    .ok_or(match num.syntax {
        Syntax::Integer => "argument couldn't be parsed into an integer",
        Syntax::Memory => "argument must be a memory value",
        Syntax::MemoryOrPercent => "argument must be a memory or percent value",
        Syntax::Octal => "argument couldn't be parsed as an octal number",
    })?;

    let percent = num.syntax == Syntax::MemoryOrPercent && value < 0;
    let compared = if num.unsigned {
        value as u64 as i128
    } else {
        value as i128
    };
    if percent {
        if compared < num.min {
            return Err(format!(
                "percentage argument must be less or equal to {}",
                -num.min
            ));
        }
    } else if compared < num.min || compared > num.max {
        return Err(if num.syntax == Syntax::Octal {
            format!(
                "argument must be between {:o} and {:o} inclusive",
                num.min, num.max
            )
        } else {
            format!(
                "argument must be between {} and {} inclusive",
                num.min, num.max
            )
        });
    }

    Ok(if percent {
        format!("{}%", -(value as i128))
    } else {
        match num.syntax {
            Syntax::Memory | Syntax::MemoryOrPercent => (value as u64).to_string(),
            Syntax::Octal => format!("{:o}", value as u64),
            Syntax::Integer => value.to_string(),
        }
    })
}

/// Parses a memory value as Redis 7.0's `memtoull` does: decimal digits
/// and an optional unit (`b`; `k`, `m`, `g` = powers of 1000; `kb`, `mb`,
/// `gb` = powers of 1024), in any case. Redis's quirks are kept: no digits
/// reads as 0 (`""`, `kb`), a number too large saturates, and the unit's
/// multiplication wraps.
pub fn parse_memory(s: &str) -> Option<u64> {
    let digits = s.bytes().take_while(u8::is_ascii_digit).count();
    let mul: u64 = match s[digits..].to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" => 1000,
        "kb" => 1024,
        "m" => 1000 * 1000,
        "mb" => 1024 * 1024,
        "g" => 1000 * 1000 * 1000,
        "gb" => 1024 * 1024 * 1024,
        _ => return None,
    };
    // Redis copies the digits into a 128-byte buffer first.
    if digits >= 128 {
        return None;
    }
    let n = s.as_bytes()[..digits].iter().fold(0u64, |n, &d| {
        n.saturating_mul(10).saturating_add(u64::from(d - b'0'))
    });
    Some(n.wrapping_mul(mul))
}

/// Redis's `string2d`: C `strtod` over the whole input, with no leading
/// space, and neither NaN nor a result out of range.
fn string2d(s: &str) -> Option<f64> {
    if s.is_empty() || matches!(s.as_bytes()[0], b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r') {
        return None;
    }
    let c = std::ffi::CString::new(s).ok()?;
    let mut end: *mut libc::c_char = std::ptr::null_mut();
    // SAFETY: `c` is a valid NUL-terminated string that outlives the call,
    // and `end` is a valid place for strtod to store its end pointer.
    let v = unsafe { libc::strtod(c.as_ptr(), &mut end) };
    let consumed = end as usize - c.as_ptr() as usize;
    if consumed != s.len() || v.is_nan() {
        return None;
    }
    // strtod reports ERANGE by returning ±HUGE_VAL for an overflow, and 0
    // for an underflow to zero; Redis refuses both.
    let lower = s.to_ascii_lowercase();
    let unsigned = lower.trim_start_matches(['+', '-']);
    if v.is_infinite() && !unsigned.starts_with("inf") {
        return None;
    }
    if v == 0.0 {
        // Zero is out of range only when the digits were not all zeroes.
        let nonzero_digit = match unsigned.strip_prefix("0x") {
            Some(hex) => hex
                .bytes()
                .take_while(|&c| c != b'p')
                .any(|c| c.is_ascii_hexdigit() && c != b'0'),
            None => unsigned
                .bytes()
                .take_while(|&c| c != b'e')
                .any(|c| matches!(c, b'1'..=b'9')),
        };
        if nonzero_digit {
            return None;
        }
    }
    Some(v)
}

/// `%f` without trailing zeroes, as Redis prints a percentile.
pub fn format_percentile(v: f64) -> String {
    let s = format!("{v:.6}");
    let s = s.trim_end_matches('0');
    s.strip_suffix('.').unwrap_or(s).to_string()
}

/// The name CONFIG GET shows for an enumeration's value: the first name
/// listed with it.
fn enum_name(names: &[(&str, u8)], value: u8) -> String {
    names
        .iter()
        .find(|&&(_, v)| v == value)
        .map_or("unknown", |&(n, _)| n)
        .to_string()
}

/// Redis's `configEnumGetName` for flags: a name with exactly the value,
/// or else the names of the set bits, in the table's order.
fn flags_name(names: &[(&str, u8)], bits: u8) -> String {
    if let Some(&(n, _)) = names.iter().find(|&&(_, v)| v == bits) {
        return n.to_string();
    }
    let mut out = Vec::new();
    let mut unmatched = bits;
    for &(n, v) in names {
        if v != 0 && v & unmatched == v {
            out.push(n);
            unmatched &= !v;
        }
    }
    if out.is_empty() || unmatched != 0 {
        "unknown".to_string()
    } else {
        out.join(" ")
    }
}

fn enum_error(names: &[(&str, u8)]) -> String {
    let list: Vec<&str> = names.iter().map(|&(n, _)| n).collect();
    format!(
        "argument(s) must be one of the following: {}",
        list.join(", ")
    )
}

/// `save`: seconds (at least 1) and changes (at least 0), parsed with
/// `strtoll`; Redis keeps the changes in an `int`, so they wrap.
fn parse_save(args: &[&str]) -> Result<String, String> {
    const INVALID: &str = "Invalid save parameters";
    if !args.len().is_multiple_of(2) {
        return Err(INVALID.into());
    }
    let mut out = Vec::with_capacity(args.len() / 2);
    for pair in args.chunks(2) {
        let (seconds, whole_s, _) = strtoll(pair[0], 10);
        let (changes, whole_c, _) = strtoll(pair[1], 10);
        if !whole_s || seconds < 1 || !whole_c || changes < 0 {
            return Err(INVALID.into());
        }
        out.push(format!("{seconds} {}", changes as i32));
    }
    Ok(out.join(" "))
}

/// `client-output-buffer-limit`: each `<class> <hard> <soft> <seconds>`
/// group replaces that class's limits; classes not named keep theirs.
fn parse_client_output_buffer_limit(current: &str, args: &[&str]) -> Result<String, String> {
    const CLASSES: [&str; 3] = ["normal", "slave", "pubsub"];
    if !args.len().is_multiple_of(4) {
        return Err("Wrong number of arguments in buffer limit configuration.".into());
    }
    let mut limits: Vec<[String; 3]> = current
        .split(' ')
        .collect::<Vec<_>>()
        .chunks(4)
        .map(|g| [g[1].to_string(), g[2].to_string(), g[3].to_string()])
        .collect();
    for group in args.chunks(4) {
        let class = match group[0].to_ascii_lowercase().as_str() {
            "normal" => 0,
            "slave" | "replica" => 1,
            "pubsub" => 2,
            _ => {
                return Err("Invalid client class specified in buffer limit configuration.".into());
            }
        };
        let hard = parse_memory(group[1]);
        let soft = parse_memory(group[2]);
        // Redis reads the seconds with strtoll into an int.
        let (seconds, whole, _) = strtoll(group[3], 10);
        let seconds = seconds as i32;
        let (Some(hard), Some(soft), true, true) = (hard, soft, seconds >= 0, whole) else {
            return Err(
                "Error in hard, soft or soft_seconds setting in buffer limit configuration.".into(),
            );
        };
        limits[class] = [hard.to_string(), soft.to_string(), seconds.to_string()];
    }
    Ok(CLASSES
        .iter()
        .zip(&limits)
        .map(|(class, [hard, soft, secs])| format!("{class} {hard} {soft} {secs}"))
        .collect::<Vec<_>>()
        .join(" "))
}

// Keyspace notification classes: the one definition is `effects::class`.
use crate::effects::class::{
    ALL as NOTIFY_ALL, EVICTED as NOTIFY_EVICTED, EXPIRED as NOTIFY_EXPIRED,
    GENERIC as NOTIFY_GENERIC, HASH as NOTIFY_HASH, KEY_MISS as NOTIFY_KEY_MISS,
    KEYEVENT as NOTIFY_KEYEVENT, KEYSPACE as NOTIFY_KEYSPACE, LIST as NOTIFY_LIST,
    MODULE as NOTIFY_MODULE, NEW as NOTIFY_NEW, SET as NOTIFY_SET, STREAM as NOTIFY_STREAM,
    STRING as NOTIFY_STRING, ZSET as NOTIFY_ZSET,
};

const NOTIFY_CLASSES: [(u32, char); 11] = [
    (NOTIFY_GENERIC, 'g'),
    (NOTIFY_STRING, '$'),
    (NOTIFY_LIST, 'l'),
    (NOTIFY_SET, 's'),
    (NOTIFY_HASH, 'h'),
    (NOTIFY_ZSET, 'z'),
    (NOTIFY_EXPIRED, 'x'),
    (NOTIFY_EVICTED, 'e'),
    (NOTIFY_STREAM, 't'),
    (NOTIFY_MODULE, 'd'),
    (NOTIFY_NEW, 'n'),
];

/// Redis's `keyspaceEventsStringToFlags`; `None` for an unknown character.
pub fn keyspace_events_from_str(s: &str) -> Option<u32> {
    s.chars().try_fold(0, |flags, c| {
        let bit = match c {
            'A' => NOTIFY_ALL,
            'K' => NOTIFY_KEYSPACE,
            'E' => NOTIFY_KEYEVENT,
            'm' => NOTIFY_KEY_MISS,
            _ => NOTIFY_CLASSES.iter().find(|&&(_, ch)| ch == c)?.0,
        };
        Some(flags | bit)
    })
}

/// Redis's `keyspaceEventsFlagsToString`: `A` stands for all type classes
/// (and hides `n`), then `K`, `E` and `m`.
fn keyspace_events_to_string(flags: u32) -> String {
    let mut out = String::new();
    if flags & NOTIFY_ALL == NOTIFY_ALL {
        out.push('A');
    } else {
        for &(bit, c) in &NOTIFY_CLASSES {
            if flags & bit != 0 {
                out.push(c);
            }
        }
    }
    for (bit, c) in [
        (NOTIFY_KEYSPACE, 'K'),
        (NOTIFY_KEYEVENT, 'E'),
        (NOTIFY_KEY_MISS, 'm'),
    ] {
        if flags & bit != 0 {
            out.push(c);
        }
    }
    out
}

// Checks with Redis's wording (its `is_valid_fn`s).

/// Redis built without its own jemalloc cannot defragment, and neither can
/// ferrokv.
fn no_active_defrag(_: &Config, v: &str) -> Result<(), &'static str> {
    if v == "yes" {
        return Err(
            "Active defragmentation cannot be enabled: it requires a Redis server compiled with a modified Jemalloc like the one shipped by default with the Redis source distribution",
        );
    }
    Ok(())
}

fn is_base_name(v: &str) -> bool {
    !v.contains(['/', '\\'])
}

fn valid_dbfilename(_: &Config, v: &str) -> Result<(), &'static str> {
    if !is_base_name(v) {
        return Err("dbfilename can't be a path, just a filename");
    }
    Ok(())
}

fn valid_aof_filename(_: &Config, v: &str) -> Result<(), &'static str> {
    if v.is_empty() {
        return Err("appendfilename can't be empty");
    }
    if !is_base_name(v) {
        return Err("appendfilename can't be a path, just a filename");
    }
    Ok(())
}

fn valid_aof_dirname(_: &Config, v: &str) -> Result<(), &'static str> {
    if v.is_empty() {
        return Err("appenddirname can't be empty");
    }
    if !is_base_name(v) {
        return Err("appenddirname can't be a path, just a dirname");
    }
    Ok(())
}

fn valid_hostname(_: &Config, v: &str) -> Result<(), &'static str> {
    if v.len() >= 256 {
        return Err("Hostnames must be less than 256 characters");
    }
    if !v
        .bytes()
        .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'.')
    {
        return Err("Hostnames may only contain alphanumeric characters, hyphens or dots");
    }
    Ok(())
}

fn valid_shutdown(_: &Config, v: &str) -> Result<(), &'static str> {
    let words: Vec<&str> = v.split(' ').collect();
    if words.contains(&"save") && words.contains(&"nosave") {
        return Err("shutdown options SAVE and NOSAVE can't be used simultaneously");
    }
    Ok(())
}

/// Redis's `validateProcTitleTemplate`: every `{variable}` must be known,
/// `{{` is a literal brace, and the expansion (with an empty title) must
/// not be blank.
fn valid_proc_title_template(c: &Config, v: &str) -> Result<(), &'static str> {
    const INVALID: &str = "template format is invalid or contains unknown variables";
    let mut expanded = String::new();
    let mut rest = v;
    while let Some(open) = rest.find('{') {
        expanded.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        if after.is_empty() {
            return Err(INVALID);
        }
        if let Some(after_quote) = after.strip_prefix('{') {
            expanded.push('{');
            rest = after_quote;
            continue;
        }
        let close = after.find('}').ok_or(INVALID)?;
        let value = match &after[..close] {
            "title" => "",
            // Never empty: an address and port, a port number, or the config
            // file's path ("-" without one).
            "listen-addr" | "port" | "tls-port" | "config-file" => "x",
            "server-mode" if c.get("cluster-enabled") == Some("yes") => "[cluster]",
            "server-mode" => "",
            "unixsocket" => c.get("unixsocket").unwrap_or(""),
            _ => return Err(INVALID),
        };
        expanded.push_str(value);
        rest = &after[close + 1..];
    }
    expanded.push_str(rest);
    if expanded.trim_matches(' ').is_empty() {
        return Err(INVALID);
    }
    Ok(())
}

fn quote(v: &str) -> String {
    if !v.is_empty()
        && v.bytes()
            .all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\'')
    {
        v.to_string()
    } else {
        format!("\"{}\"", v.replace('\\', "\\\\").replace('"', "\\\""))
    }
}

/// Maps Redis's log levels onto `log`'s.
pub fn level_filter(level: &str) -> log::LevelFilter {
    match level {
        "debug" => log::LevelFilter::Debug,
        "verbose" => log::LevelFilter::Info,
        "notice" => log::LevelFilter::Info,
        "warning" => log::LevelFilter::Warn,
        _ => log::LevelFilter::Info,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sets one parameter at runtime and returns Redis's reason on failure.
    fn set(c: &mut Config, name: &str, value: &str) -> Result<(), String> {
        c.set(name, value, false).map_err(|e| match e {
            ConfigError::BadValue(n, why) => format!("{n}: {why}"),
            other => format!("{other:?}"),
        })
    }

    #[test]
    fn memory_units_follow_memtoull() {
        assert_eq!(parse_memory("1gb"), Some(1 << 30));
        assert_eq!(parse_memory("1k"), Some(1000));
        assert_eq!(parse_memory("1KB"), Some(1024));
        assert_eq!(parse_memory("12"), Some(12));
        assert_eq!(parse_memory("010"), Some(10));
        assert_eq!(parse_memory(""), Some(0));
        assert_eq!(parse_memory("kb"), Some(0));
        assert_eq!(parse_memory("1xb"), None);
        assert_eq!(parse_memory("-1"), None);
        assert_eq!(parse_memory("+1"), None);
        assert_eq!(parse_memory(" 1"), None);
        assert_eq!(parse_memory("18446744073709551616"), Some(u64::MAX));
        assert_eq!(
            parse_memory("99999999999gb"),
            Some(15140462030378500096),
            "the unit's multiplication wraps"
        );
        assert_eq!(parse_memory(&"1".repeat(127)), Some(u64::MAX));
        assert_eq!(parse_memory(&"1".repeat(128)), None);
    }

    #[test]
    fn integers_take_no_units_and_parse_before_range() {
        let mut c = Config::default();
        for (name, value) in [
            ("hz", "100mb"),
            ("slowlog-max-len", "1k"),
            ("lfu-log-factor", "100mb"),
            ("tcp-keepalive", "10gb"),
            ("active-expire-effort", "100mb"),
            ("maxmemory-samples", "100mb"),
            ("timeout", ""),
            ("timeout", "01"),
            ("timeout", "+1"),
            ("timeout", "-0"),
        ] {
            assert_eq!(
                set(&mut c, name, value),
                Err(format!(
                    "{name}: argument couldn't be parsed into an integer"
                )),
                "{name} {value:?}"
            );
        }
        assert_eq!(
            set(&mut c, "maxmemory-samples", "0"),
            Err("maxmemory-samples: argument must be between 1 and 2147483647 inclusive".into())
        );
        assert_eq!(
            set(&mut c, "repl-timeout", "0"),
            Err("repl-timeout: argument must be between 1 and 2147483647 inclusive".into())
        );
        assert_eq!(
            set(&mut c, "maxclients", "-1"),
            Err("maxclients: argument must be between 1 and 4294967295 inclusive".into())
        );
        assert_eq!(
            set(&mut c, "slowlog-log-slower-than", "-2"),
            Err(
                "slowlog-log-slower-than: argument must be between -1 and 9223372036854775807 inclusive"
                    .into()
            )
        );
        set(&mut c, "list-max-listpack-size", "-5").unwrap();
        assert_eq!(c.get("list-max-ziplist-size"), Some("-5"));
    }

    #[test]
    fn memory_values_parse_as_memory_then_check_range() {
        let mut c = Config::default();
        set(&mut c, "maxmemory", "").unwrap();
        assert_eq!(c.get("maxmemory"), Some("0"));
        set(&mut c, "maxmemory", "100M").unwrap();
        assert_eq!(c.get("maxmemory"), Some("100000000"));
        set(&mut c, "maxmemory", "18446744073709551615").unwrap();
        assert_eq!(c.get("maxmemory"), Some("18446744073709551615"));
        assert_eq!(
            set(&mut c, "maxmemory", "-1"),
            Err("maxmemory: argument must be a memory value".into())
        );
        assert_eq!(
            set(&mut c, "proto-max-bulk-len", "0"),
            Err(
                "proto-max-bulk-len: argument must be between 1048576 and 9223372036854775807 inclusive"
                    .into()
            )
        );
        assert_eq!(
            set(&mut c, "client-query-buffer-limit", "1"),
            Err(
                "client-query-buffer-limit: argument must be between 1048576 and 9223372036854775807 inclusive"
                    .into()
            )
        );
        set(&mut c, "proto-max-bulk-len", "2mb").unwrap();
        assert_eq!(c.proto_max_bulk_len, 2 * 1024 * 1024);
        for value in ["abc", "-1"] {
            assert_eq!(
                set(&mut c, "hash-max-listpack-value", value),
                Err("hash-max-listpack-value: argument must be a memory value".into())
            );
        }
        assert_eq!(
            set(&mut c, "repl-backlog-size", ""),
            Err(
                "repl-backlog-size: argument must be between 1 and 9223372036854775807 inclusive"
                    .into()
            )
        );
        // Applying the size raises it to the smallest backlog Redis keeps.
        set(&mut c, "repl-backlog-size", "1k").unwrap();
        assert_eq!(c.get("repl-backlog-size"), Some("16384"));
    }

    #[test]
    fn maxmemory_clients_takes_a_percentage() {
        let mut c = Config::default();
        set(&mut c, "maxmemory-clients", "10%").unwrap();
        assert_eq!(c.get("maxmemory-clients"), Some("10%"));
        set(&mut c, "maxmemory-clients", "0%").unwrap();
        assert_eq!(c.get("maxmemory-clients"), Some("0"));
        set(&mut c, "maxmemory-clients", "1kb").unwrap();
        assert_eq!(c.get("maxmemory-clients"), Some("1024"));
        for value in ["abc", "-5%", "%", "01%"] {
            assert_eq!(
                set(&mut c, "maxmemory-clients", value),
                Err("maxmemory-clients: argument must be a memory or percent value".into()),
                "{value:?}"
            );
        }
        assert_eq!(
            set(&mut c, "maxmemory-clients", "101%"),
            Err("maxmemory-clients: percentage argument must be less or equal to 100".into())
        );
    }

    #[test]
    fn errors_name_the_alias_used() {
        let mut c = Config::default();
        assert_eq!(
            set(&mut c, "hash-max-ziplist-entries", "abc"),
            Err("hash-max-ziplist-entries: argument couldn't be parsed into an integer".into())
        );
        assert_eq!(
            set(&mut c, "Hash-Max-Ziplist-Entries", "abc"),
            Err("hash-max-ziplist-entries: argument couldn't be parsed into an integer".into())
        );
        assert_eq!(
            set(&mut c, "MAXMEMORY", "abc"),
            Err("maxmemory: argument must be a memory value".into())
        );
        set(&mut c, "hash-max-ziplist-entries", "100").unwrap();
        assert_eq!(c.get("hash-max-listpack-entries"), Some("100"));
        assert_eq!(c.matching(b"hash-max-*-entries").len(), 2);
    }

    #[test]
    fn enumerations_list_names_in_redis_order() {
        let mut c = Config::default();
        assert_eq!(
            set(&mut c, "appendfsync", "abc"),
            Err(
                "appendfsync: argument(s) must be one of the following: everysec, always, no"
                    .into()
            )
        );
        assert_eq!(
            set(&mut c, "loglevel", "nothing"),
            Err(
                "loglevel: argument(s) must be one of the following: debug, verbose, notice, warning"
                    .into()
            )
        );
        set(&mut c, "maxmemory-policy", "ALLKEYS-LRU").unwrap();
        assert_eq!(c.get("maxmemory-policy"), Some("allkeys-lru"));
        set(&mut c, "oom-score-adj", "relative").unwrap();
        assert_eq!(c.get("oom-score-adj"), Some("yes"));
    }

    #[test]
    fn shutdown_flags_combine() {
        let mut c = Config::default();
        set(&mut c, "shutdown-on-sigint", "force NOW nosave").unwrap();
        assert_eq!(c.get("shutdown-on-sigint"), Some("nosave now force"));
        set(&mut c, "shutdown-on-sigint", "default save").unwrap();
        assert_eq!(c.get("shutdown-on-sigint"), Some("save"));
        assert_eq!(
            set(&mut c, "shutdown-on-sigint", "save nosave"),
            Err(
                "shutdown-on-sigint: shutdown options SAVE and NOSAVE can't be used simultaneously"
                    .into()
            )
        );
        assert!(set(&mut c, "shutdown-on-sigint", "now  force").is_err());
    }

    #[test]
    fn keyspace_events_are_normalised() {
        let mut c = Config::default();
        for (given, shown) in [
            ("KEA", "AKE"),
            ("Ex", "xE"),
            ("g$lshzxetd", "A"),
            ("An", "A"),
            ("KEAnm", "AKEm"),
            ("ndtzhsl$g", "g$lshztdn"),
            ("", ""),
        ] {
            set(&mut c, "notify-keyspace-events", given).unwrap();
            assert_eq!(c.get("notify-keyspace-events"), Some(shown), "{given}");
        }
        assert_eq!(
            set(&mut c, "notify-keyspace-events", "abc"),
            Err(
                "notify-keyspace-events: Invalid event class character. Use 'Ag$lshzxeKEtmdn'."
                    .into()
            )
        );
    }

    #[test]
    fn client_output_buffer_limit_replaces_named_classes() {
        let mut c = Config::default();
        set(&mut c, "client-output-buffer-limit", "normal 0 0 0").unwrap();
        assert_eq!(
            c.get("client-output-buffer-limit"),
            Some("normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60")
        );
        set(
            &mut c,
            "client-output-buffer-limit",
            "replica 1mb 2k 3 PUBSUB 1 2 3",
        )
        .unwrap();
        assert_eq!(
            c.get("client-output-buffer-limit"),
            Some("normal 0 0 0 slave 1048576 2000 3 pubsub 1 2 3")
        );
        set(
            &mut c,
            "client-output-buffer-limit",
            "normal 0 0 4294967297",
        )
        .unwrap();
        assert!(
            c.get("client-output-buffer-limit")
                .unwrap()
                .starts_with("normal 0 0 1 ")
        );
        for (value, why) in [
            (
                "normal 0 0",
                "Wrong number of arguments in buffer limit configuration.",
            ),
            (
                "normal 0 0 0 ",
                "Wrong number of arguments in buffer limit configuration.",
            ),
            (
                "master 0 0 0",
                "Invalid client class specified in buffer limit configuration.",
            ),
            (
                "normal 0 0 -1",
                "Error in hard, soft or soft_seconds setting in buffer limit configuration.",
            ),
            (
                "normal x 0 0",
                "Error in hard, soft or soft_seconds setting in buffer limit configuration.",
            ),
        ] {
            assert_eq!(
                set(&mut c, "client-output-buffer-limit", value),
                Err(format!("client-output-buffer-limit: {why}")),
                "{value:?}"
            );
        }
    }

    #[test]
    fn save_is_checked_like_redis() {
        let mut c = Config::default();
        set(&mut c, "save", "100 10").unwrap();
        assert_eq!(c.get("save"), Some("100 10"));
        set(&mut c, "save", "1 ").unwrap();
        assert_eq!(c.get("save"), Some("1 0"), "an empty argument reads as 0");
        set(&mut c, "save", "+1 2147483648").unwrap();
        assert_eq!(c.get("save"), Some("1 -2147483648"), "changes are an int");
        set(&mut c, "save", "").unwrap();
        assert_eq!(c.get("save"), Some(""));
        for value in [
            "100", "abc 10", "0 10", "1 -1", "100  10", " 100 10", "1 0x10",
        ] {
            assert_eq!(
                set(&mut c, "save", value),
                Err("save: Invalid save parameters".into()),
                "{value:?}"
            );
        }
    }

    #[test]
    fn save_lines_at_startup_add_up() {
        let mut c = Config::default();
        c.set("save", "900 1", true).unwrap();
        c.set("save", "300 10", true).unwrap();
        assert_eq!(c.get("save"), Some("900 1 300 10"));

        let dir = std::env::temp_dir().join(format!("ferrokv-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("save.conf");
        std::fs::write(&path, "save \"\"\nsave 60 1\n").unwrap();
        let mut c = Config::default();
        c.load_file(&path).unwrap();
        assert_eq!(c.get("save"), Some("60 1"));
        std::fs::write(&path, "save \"\"\nhz 1 2\n").unwrap();
        assert_eq!(
            Config::default().load_file(&path),
            Err("line 2: wrong number of arguments".into())
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn percentiles_print_like_percent_f() {
        let mut c = Config::default();
        set(
            &mut c,
            "latency-tracking-info-percentiles",
            "1e1 0x10 .5 50.123456789",
        )
        .unwrap();
        assert_eq!(
            c.get("latency-tracking-info-percentiles"),
            Some("10 16 0.5 50.123457")
        );
        for value in ["nan", "1e400", "1e-400", "1  2", " 1"] {
            assert_eq!(
                set(&mut c, "latency-tracking-info-percentiles", value),
                Err("latency-tracking-info-percentiles: Invalid latency-tracking-info-percentiles parameters".into()),
                "{value:?}"
            );
        }
        assert!(
            set(&mut c, "latency-tracking-info-percentiles", "inf")
                .unwrap_err()
                .ends_with("should sit between [0.0,100.0]")
        );
    }

    #[test]
    fn hz_is_clamped() {
        let mut c = Config::default();
        set(&mut c, "hz", "0").unwrap();
        assert_eq!((c.get("hz"), c.hz), (Some("1"), 1));
        set(&mut c, "hz", "1000").unwrap();
        assert_eq!((c.get("hz"), c.hz), (Some("500"), 500));
    }

    #[test]
    fn lookup_stage_comes_first() {
        let mut c = Config::default();
        let err = |r: Result<(), ConfigError>| r.unwrap_err();
        assert_eq!(
            err(c.set_many(&[("maxmemory", "abc"), ("databases", "4")])),
            ConfigError::Immutable("databases".into())
        );
        assert_eq!(
            err(c.set_many(&[("databases", "4"), ("nosuch", "1")])),
            ConfigError::Immutable("databases".into())
        );
        assert_eq!(
            err(c.set_many(&[("maxmemory", "abc"), ("nosuch", "1")])),
            ConfigError::Unknown("nosuch".into())
        );
        assert_eq!(
            err(c.set_many(&[("hz", "10"), ("HZ", "20")])),
            ConfigError::Duplicate("HZ".into())
        );
        assert_eq!(
            err(c.set_many(&[("dir", "/tmp")])),
            ConfigError::Protected("dir".into())
        );
        assert_eq!(
            err(c.set_many(&[("rdbchecksum", "yes")])),
            ConfigError::Immutable("rdbchecksum".into())
        );
        // An alias is a name of its own, so this is not a duplicate.
        c.set_many(&[
            ("hash-max-ziplist-entries", "1"),
            ("hash-max-listpack-entries", "2"),
        ])
        .unwrap();
        assert_eq!(c.get("hash-max-ziplist-entries"), Some("2"));
    }

    #[test]
    fn set_many_is_all_or_nothing() {
        let mut c = Config::default();
        assert!(
            c.set_many(&[("maxmemory", "10mb"), ("maxmemory-policy", "bogus")])
                .is_err()
        );
        assert_eq!(c.get("maxmemory"), Some("0"));
        c.set_many(&[("maxmemory", "10mb"), ("maxmemory-policy", "allkeys-lfu")])
            .unwrap();
        assert_eq!(c.get("maxmemory"), Some("10485760"));
        assert_eq!(
            c.set_many(&[("maxmemory", "1"), ("tls-port", "6380")]),
            Err(ConfigError::BadValue(
                "tls-port".into(),
                "Unable to update TLS configuration. Check server logs.".into()
            ))
        );
        assert_eq!(c.get("maxmemory"), Some("10485760"));
        c.set_many(&[("tls-port", "0"), ("tls-cert-file", "x")])
            .unwrap();
    }

    #[test]
    fn string_checks() {
        let mut c = Config::default();
        assert_eq!(
            set(&mut c, "proc-title-template", "{title}"),
            Err(
                "proc-title-template: template format is invalid or contains unknown variables"
                    .into()
            )
        );
        set(&mut c, "proc-title-template", "{{title}} {port}").unwrap();
        assert!(set(&mut c, "proc-title-template", "x {").is_err());
        assert!(set(&mut c, "cluster-announce-hostname", "a_b").is_err());
        set(&mut c, "cluster-announce-hostname", "a.b-c").unwrap();
        assert!(set(&mut c, "activedefrag", "yes").is_err());
        assert!(c.set("dbfilename", "a/b", true).is_err());
        c.set("dbfilename", "a.rdb", true).unwrap();
    }

    #[test]
    fn table_matches_redis_7_0() {
        // `CONFIG GET *` on Redis 7.0.15 (built with TLS) lists 192 names.
        let visible = Config::default().matching(b"*").len();
        assert_eq!(visible, 192);
        // `replicaof`'s default is "no master", which no value spells.
        for p in PARAMS.iter().filter(|p| !matches!(p.kind, Kind::ReplicaOf)) {
            let mut c = Config::default();
            let entry = lookup(p.name).unwrap();
            let args = split_args(p.kind, p.default);
            c.set_entry(entry, &args, true)
                .unwrap_or_else(|e| panic!("default of {}: {e}", p.name));
            assert_eq!(
                c.get(p.name),
                Some(p.default),
                "{} normalises its default",
                p.name
            );
        }
    }
}

#[cfg(test)]
mod typed_tests {
    use super::*;

    #[test]
    fn aliases_update_the_typed_thresholds() {
        let mut c = Config::default();
        c.set("hash-max-ziplist-entries", "7", false).unwrap();
        c.set("set-max-intset-entries", "9", false).unwrap();
        c.set("list-max-ziplist-size", "-4", false).unwrap();
        assert_eq!(c.hash_max_listpack_entries, 7);
        assert_eq!(c.set_max_intset_entries, 9);
        assert_eq!(c.list_max_listpack_size, -4);
    }
}
