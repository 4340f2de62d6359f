//! Configuration: the parameters CONFIG GET and CONFIG SET know, their
//! validation, and the redis.conf-style file parser.
//!
//! Every tunable keeps Redis's name, so `CONFIG GET maxmemory` and a
//! redis.conf line mean the same thing here. Values are held as the strings
//! CONFIG GET returns; the few the server reads on hot paths are also kept
//! typed in [`Config`]'s public fields, updated on every successful set.

use std::fmt;

/// How a parameter's value is validated and normalised.
#[derive(Debug, Clone, Copy)]
enum Kind {
    Bool,
    Int {
        min: i64,
        max: i64,
    },
    /// A byte count that accepts units (`1gb`, `100mb`, `512k`).
    Memory,
    Enum(&'static [&'static str]),
    Str,
    /// `save`: pairs of seconds and changes, or empty.
    Save,
}

struct Param {
    name: &'static str,
    /// Another name for the same setting (`hash-max-ziplist-entries`).
    alias: Option<&'static str>,
    kind: Kind,
    default: &'static str,
    immutable: bool,
}

const fn p(name: &'static str, kind: Kind, default: &'static str) -> Param {
    Param {
        name,
        alias: None,
        kind,
        default,
        immutable: false,
    }
}

const fn aliased(
    name: &'static str,
    alias: &'static str,
    kind: Kind,
    default: &'static str,
) -> Param {
    Param {
        name,
        alias: Some(alias),
        kind,
        default,
        immutable: false,
    }
}

const fn fixed(name: &'static str, kind: Kind, default: &'static str) -> Param {
    Param {
        name,
        alias: None,
        kind,
        default,
        immutable: true,
    }
}

const INT: Kind = Kind::Int {
    min: 0,
    max: i32::MAX as i64,
};
const LONG: Kind = Kind::Int {
    min: 0,
    max: i64::MAX,
};
const ANY_LONG: Kind = Kind::Int {
    min: i64::MIN,
    max: i64::MAX,
};
const LOGLEVELS: &[&str] = &["debug", "verbose", "notice", "warning", "nothing"];
const POLICIES: &[&str] = &[
    "volatile-lru",
    "volatile-lfu",
    "volatile-random",
    "volatile-ttl",
    "allkeys-lru",
    "allkeys-lfu",
    "allkeys-random",
    "noeviction",
];

/// The parameters, with Redis 7.0's defaults.
static PARAMS: &[Param] = &[
    p("port", Kind::Int { min: 0, max: 65535 }, "6379"),
    p("bind", Kind::Str, "127.0.0.1"),
    fixed(
        "databases",
        Kind::Int {
            min: 1,
            max: i32::MAX as i64,
        },
        "16",
    ),
    p("save", Kind::Save, "3600 1 300 100 60 10000"),
    p("appendonly", Kind::Bool, "no"),
    p(
        "appendfsync",
        Kind::Enum(&["always", "everysec", "no"]),
        "everysec",
    ),
    p("appendfilename", Kind::Str, "appendonly.aof"),
    fixed("appenddirname", Kind::Str, "appendonlydir"),
    p("dbfilename", Kind::Str, "dump.rdb"),
    p("dir", Kind::Str, ""),
    fixed("daemonize", Kind::Bool, "no"),
    p("loglevel", Kind::Enum(LOGLEVELS), "notice"),
    fixed("logfile", Kind::Str, ""),
    p(
        "hz",
        Kind::Int {
            min: 0,
            max: i32::MAX as i64,
        },
        "10",
    ),
    p("dynamic-hz", Kind::Bool, "yes"),
    p("timeout", INT, "0"),
    p("tcp-keepalive", INT, "300"),
    fixed("tcp-backlog", INT, "511"),
    p(
        "maxclients",
        Kind::Int {
            min: 1,
            max: i32::MAX as i64,
        },
        "10000",
    ),
    p("maxmemory", Kind::Memory, "0"),
    p("maxmemory-policy", Kind::Enum(POLICIES), "noeviction"),
    p("maxmemory-samples", Kind::Int { min: 1, max: 64 }, "5"),
    p(
        "maxmemory-eviction-tenacity",
        Kind::Int { min: 0, max: 100 },
        "10",
    ),
    p("maxmemory-clients", Kind::Memory, "0"),
    p("proto-max-bulk-len", Kind::Memory, "536870912"),
    p("client-query-buffer-limit", Kind::Memory, "1073741824"),
    p(
        "client-output-buffer-limit",
        Kind::Str,
        "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60",
    ),
    p("requirepass", Kind::Str, ""),
    p("protected-mode", Kind::Bool, "yes"),
    p("slowlog-log-slower-than", ANY_LONG, "10000"),
    p("slowlog-max-len", LONG, "128"),
    p("latency-monitor-threshold", LONG, "0"),
    p("latency-tracking", Kind::Bool, "yes"),
    p("notify-keyspace-events", Kind::Str, ""),
    p("active-expire-effort", Kind::Int { min: 1, max: 10 }, "1"),
    p("activerehashing", Kind::Bool, "yes"),
    p("lazyfree-lazy-eviction", Kind::Bool, "no"),
    p("lazyfree-lazy-expire", Kind::Bool, "no"),
    p("lazyfree-lazy-server-del", Kind::Bool, "no"),
    p("lazyfree-lazy-user-del", Kind::Bool, "no"),
    p("lazyfree-lazy-user-flush", Kind::Bool, "no"),
    p("lfu-log-factor", INT, "10"),
    p("lfu-decay-time", INT, "1"),
    aliased(
        "hash-max-listpack-entries",
        "hash-max-ziplist-entries",
        LONG,
        "512",
    ),
    aliased(
        "hash-max-listpack-value",
        "hash-max-ziplist-value",
        LONG,
        "64",
    ),
    aliased(
        "list-max-listpack-size",
        "list-max-ziplist-size",
        Kind::Int {
            min: i32::MIN as i64,
            max: i32::MAX as i64,
        },
        "-2",
    ),
    p("list-compress-depth", INT, "0"),
    p("set-max-intset-entries", LONG, "512"),
    aliased(
        "zset-max-listpack-entries",
        "zset-max-ziplist-entries",
        LONG,
        "128",
    ),
    aliased(
        "zset-max-listpack-value",
        "zset-max-ziplist-value",
        LONG,
        "64",
    ),
    p("stream-node-max-bytes", Kind::Memory, "4096"),
    p("stream-node-max-entries", LONG, "100"),
    p("hll-sparse-max-bytes", Kind::Memory, "3000"),
    p("lua-time-limit", LONG, "5000"),
    p("busy-reply-threshold", LONG, "5000"),
    p("stop-writes-on-bgsave-error", Kind::Bool, "yes"),
    p("rdbcompression", Kind::Bool, "yes"),
    p("rdbchecksum", Kind::Bool, "yes"),
    p("replica-read-only", Kind::Bool, "yes"),
    p("replica-serve-stale-data", Kind::Bool, "yes"),
    p("replica-priority", INT, "100"),
    p("repl-backlog-size", Kind::Memory, "1048576"),
    p("repl-timeout", INT, "60"),
    p("min-replicas-to-write", INT, "0"),
    p("min-replicas-max-lag", INT, "10"),
    p("masterauth", Kind::Str, ""),
    p("replicaof", Kind::Str, ""),
    fixed("cluster-enabled", Kind::Bool, "no"),
    fixed("io-threads", Kind::Int { min: 1, max: 128 }, "1"),
    fixed("io-threads-do-reads", Kind::Bool, "no"),
    fixed(
        "supervised",
        Kind::Enum(&["upstart", "systemd", "auto", "no"]),
        "no",
    ),
    fixed("pidfile", Kind::Str, ""),
    fixed("unixsocket", Kind::Str, ""),
    fixed("tls-port", INT, "0"),
    p(
        "enable-debug-command",
        Kind::Enum(&["no", "yes", "local"]),
        "no",
    ),
    p("tracking-table-max-keys", LONG, "1000000"),
    p("acllog-max-len", LONG, "128"),
    p("shutdown-timeout", INT, "10"),
];

/// A rejected setting, with Redis's wording for why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigError {
    Unknown(String),
    Immutable(String),
    /// The parameter's name and the reason.
    BadValue(String, String),
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::Unknown(n) => write!(f, "unknown option '{n}'"),
            ConfigError::Immutable(n) => write!(f, "'{n}' can't be set at runtime"),
            ConfigError::BadValue(n, why) => write!(f, "'{n}': {why}"),
        }
    }
}

/// The server's configuration.
#[derive(Debug, Clone)]
pub struct Config {
    values: Vec<String>,
    pub port: u16,
    pub bind: Vec<String>,
    pub databases: usize,
    pub hz: u32,
    pub proto_max_bulk_len: usize,
    pub maxclients: usize,
    /// A client whose unparsed input grows past this is disconnected.
    pub client_query_buffer_limit_bytes: usize,
    pub requirepass: Option<Vec<u8>>,
    pub slowlog_log_slower_than_us: i64,
    pub slowlog_max_len: usize,
    pub loglevel: String,
    /// The config file the server was started with, for CONFIG REWRITE.
    pub file: Option<std::path::PathBuf>,
}

impl Default for Config {
    fn default() -> Self {
        let mut c = Config {
            values: PARAMS.iter().map(|p| p.default.to_string()).collect(),
            port: 6379,
            bind: vec!["127.0.0.1".into()],
            databases: 16,
            hz: 10,
            proto_max_bulk_len: 512 * 1024 * 1024,
            maxclients: 10000,
            client_query_buffer_limit_bytes: 1024 * 1024 * 1024,
            requirepass: None,
            slowlog_log_slower_than_us: 10000,
            slowlog_max_len: 128,
            loglevel: "notice".into(),
            file: None,
        };
        if let Ok(dir) = std::env::current_dir() {
            c.values[find("dir").unwrap_or(0)] = dir.display().to_string();
        }
        c
    }
}

fn find(name: &str) -> Option<usize> {
    PARAMS.iter().position(|p| {
        p.name.eq_ignore_ascii_case(name) || p.alias.is_some_and(|a| a.eq_ignore_ascii_case(name))
    })
}

/// Parses a memory value like Redis's `memtoull`: a number with an optional
/// unit (`k` = 1000, `kb` = 1024, and so on), case-insensitive.
pub fn parse_memory(s: &str) -> Option<u64> {
    let lower = s.to_ascii_lowercase();
    let digits_end = lower
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(lower.len());
    let (num, unit) = lower.split_at(digits_end);
    let mul: u64 = match unit {
        "" | "b" => 1,
        "k" => 1000,
        "kb" => 1024,
        "m" => 1000 * 1000,
        "mb" => 1024 * 1024,
        "g" => 1000 * 1000 * 1000,
        "gb" => 1024 * 1024 * 1024,
        _ => return None,
    };
    if num.is_empty() {
        return None;
    }
    num.parse::<u64>().ok()?.checked_mul(mul)
}

impl Config {
    /// The current value of a parameter (by name or alias).
    pub fn get(&self, name: &str) -> Option<&str> {
        find(name).map(|i| self.values[i].as_str())
    }

    /// Every `(name, value)` whose name or alias matches the glob, aliases
    /// listed under their own name as Redis does.
    pub fn matching(&self, pattern: &[u8]) -> Vec<(&'static str, &str)> {
        let mut out = Vec::new();
        for (i, p) in PARAMS.iter().enumerate() {
            for name in std::iter::once(p.name).chain(p.alias) {
                if crate::glob::glob_match(pattern, name.as_bytes(), true) {
                    out.push((name, self.values[i].as_str()));
                }
            }
        }
        out
    }

    /// Validates and applies one setting. `at_startup` allows immutable
    /// parameters (command line and config file).
    pub fn set(&mut self, name: &str, value: &str, at_startup: bool) -> Result<(), ConfigError> {
        let i = find(name).ok_or_else(|| ConfigError::Unknown(name.to_string()))?;
        let param = &PARAMS[i];
        if param.immutable && !at_startup {
            return Err(ConfigError::Immutable(param.name.to_string()));
        }
        let bad = |why: &str| ConfigError::BadValue(param.name.to_string(), why.to_string());
        let normalised = match param.kind {
            Kind::Bool => match value.to_ascii_lowercase().as_str() {
                "yes" => "yes".to_string(),
                "no" => "no".to_string(),
                _ => return Err(bad("argument must be 'yes' or 'no'")),
            },
            Kind::Int { min, max } => {
                let n: i64 = match crate::util::parse_i64(value.as_bytes())
                    .or_else(|| parse_memory(value).and_then(|m| i64::try_from(m).ok()))
                {
                    Some(n) => n,
                    None => return Err(bad("argument couldn't be parsed into an integer")),
                };
                if n < min || n > max {
                    return Err(bad(&format!(
                        "argument must be between {min} and {max} inclusive"
                    )));
                }
                n.to_string()
            }
            Kind::Memory => match parse_memory(value) {
                Some(n) => n.to_string(),
                None => return Err(bad("argument must be a memory value")),
            },
            Kind::Enum(options) => {
                let lower = value.to_ascii_lowercase();
                if !options.contains(&lower.as_str()) {
                    return Err(bad(&format!(
                        "argument(s) must be one of the following: {}",
                        options.join(", ")
                    )));
                }
                lower
            }
            Kind::Str => value.to_string(),
            Kind::Save => {
                let parts: Vec<&str> = value.split_whitespace().collect();
                if !parts.len().is_multiple_of(2) || parts.iter().any(|p| p.parse::<u64>().is_err())
                {
                    return Err(bad("Invalid save parameters"));
                }
                parts.join(" ")
            }
        };
        self.apply_typed(param.name, &normalised)
            .map_err(|why| bad(&why))?;
        self.values[i] = normalised;
        Ok(())
    }

    fn apply_typed(&mut self, name: &str, v: &str) -> Result<(), String> {
        let num = || v.parse::<i64>().unwrap_or(0);
        match name {
            "port" => self.port = num() as u16,
            "bind" => self.bind = v.split_whitespace().map(str::to_string).collect(),
            "databases" => self.databases = num() as usize,
            "hz" => self.hz = (num() as u32).clamp(1, 500),
            "proto-max-bulk-len" => {
                if num() < 1024 * 1024 {
                    return Err("argument must be a memory value".into());
                }
                self.proto_max_bulk_len = num() as usize
            }
            "maxclients" => self.maxclients = num() as usize,
            "client-query-buffer-limit" => {
                if num() < 1024 * 1024 {
                    return Err("argument must be a memory value".into());
                }
                self.client_query_buffer_limit_bytes = num() as usize
            }
            "requirepass" => {
                self.requirepass = if v.is_empty() {
                    None
                } else {
                    Some(v.as_bytes().to_vec())
                }
            }
            "slowlog-log-slower-than" => self.slowlog_log_slower_than_us = num(),
            "slowlog-max-len" => self.slowlog_max_len = num() as usize,
            "loglevel" => {
                self.loglevel = v.to_string();
                log::set_max_level(level_filter(v));
            }
            _ => {}
        }
        Ok(())
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
            let value = words[1..]
                .iter()
                .map(|w| String::from_utf8_lossy(w).into_owned())
                .collect::<Vec<_>>()
                .join(" ");
            if name == "include" || name == "rename-command" {
                return Err(format!("line {}: '{name}' is not supported", lineno + 1));
            }
            self.set(&name, &value, true)
                .map_err(|e| format!("line {}: {e}", lineno + 1))?;
        }
        self.file = Some(path.to_path_buf());
        Ok(())
    }

    /// Writes the non-default settings back to the config file (CONFIG
    /// REWRITE). Without a file, Redis's error.
    pub fn rewrite(&self) -> Result<(), String> {
        let Some(path) = &self.file else {
            return Err("The server is running without a config file".into());
        };
        let mut text = String::from("# Generated by CONFIG REWRITE\n");
        for (i, p) in PARAMS.iter().enumerate() {
            if self.values[i] != p.default {
                text.push_str(&format!("{} {}\n", p.name, quote(&self.values[i])));
            }
        }
        let tmp = path.with_extension("tmp-rewrite");
        std::fs::write(&tmp, text)
            .and_then(|_| std::fs::rename(&tmp, path))
            .map_err(|e| format!("Rewriting config file: {e}"))
    }
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
        "nothing" => log::LevelFilter::Off,
        _ => log::LevelFilter::Info,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_units() {
        assert_eq!(parse_memory("1gb"), Some(1 << 30));
        assert_eq!(parse_memory("1k"), Some(1000));
        assert_eq!(parse_memory("12"), Some(12));
        assert_eq!(parse_memory("1xb"), None);
    }

    #[test]
    fn set_and_get_with_alias() {
        let mut c = Config::default();
        c.set("hash-max-ziplist-entries", "100", false).unwrap();
        assert_eq!(c.get("hash-max-listpack-entries"), Some("100"));
        assert_eq!(c.matching(b"hash-max-*-entries").len(), 2);
        assert!(matches!(
            c.set("databases", "4", false),
            Err(ConfigError::Immutable(_))
        ));
        assert!(matches!(
            c.set("appendonly", "maybe", false),
            Err(ConfigError::BadValue(..))
        ));
        assert!(matches!(
            c.set("nope", "1", false),
            Err(ConfigError::Unknown(_))
        ));
        c.set("maxmemory", "1mb", false).unwrap();
        assert_eq!(c.get("maxmemory"), Some("1048576"));
    }
}
