//! MEMORY STATS and INFO memory: Redis 7.0.15's fields in its order, and
//! the relations between the figures that tests/diff/memory.redis, which
//! compares only the shape, cannot show: the overhead is the sum of its
//! parts, the dataset what is left of the total, `keys.count` the keys of
//! every database, and the dataset grows with the data. Then what needs
//! other server options or several clients: MODULE's loads where they are
//! allowed, PROTECTED commands in a transaction, a client that leaves
//! while WAIT blocks it.
//!
//! Every expectation holds for redis-server 7.0.15 too:
//!
//! ```text
//! FERROKV_MEMORY_SERVER=redis cargo test --release --test memory
//! ```

mod common;

use std::time::Duration;

use common::{Client, Frame, Server, wait_until_within};

const SERVER_ENV: &str = "FERROKV_MEMORY_SERVER";

fn start(what: &str, extra_args: &[&str]) -> Option<Server> {
    common::start_under_test_with(SERVER_ENV, what, extra_args, &[])
}

/// Redis 7.0.15's MEMORY STATS fields (object.c, memoryCommand); the
/// databases' maps come after `functions.caches`.
const STATS_FIELDS: &[&str] = &[
    "peak.allocated",
    "total.allocated",
    "startup.allocated",
    "replication.backlog",
    "clients.slaves",
    "clients.normal",
    "cluster.links",
    "aof.buffer",
    "lua.caches",
    "functions.caches",
    "overhead.total",
    "keys.count",
    "keys.bytes-per-key",
    "dataset.bytes",
    "dataset.percentage",
    "peak.percentage",
    "allocator.allocated",
    "allocator.active",
    "allocator.resident",
    "allocator-fragmentation.ratio",
    "allocator-fragmentation.bytes",
    "allocator-rss.ratio",
    "allocator-rss.bytes",
    "rss-overhead.ratio",
    "rss-overhead.bytes",
    "fragmentation",
    "fragmentation.bytes",
];

const DB_FIELDS: &[&str] = &[
    "overhead.hashtable.main",
    "overhead.hashtable.expires",
    "overhead.hashtable.slot-to-keys",
];

/// Redis 7.0.15's INFO memory fields (server.c, genRedisInfoString).
const INFO_FIELDS: &[&str] = &[
    "used_memory",
    "used_memory_human",
    "used_memory_rss",
    "used_memory_rss_human",
    "used_memory_peak",
    "used_memory_peak_human",
    "used_memory_peak_perc",
    "used_memory_overhead",
    "used_memory_startup",
    "used_memory_dataset",
    "used_memory_dataset_perc",
    "allocator_allocated",
    "allocator_active",
    "allocator_resident",
    "total_system_memory",
    "total_system_memory_human",
    "used_memory_lua",
    "used_memory_vm_eval",
    "used_memory_lua_human",
    "used_memory_scripts_eval",
    "number_of_cached_scripts",
    "number_of_functions",
    "number_of_libraries",
    "used_memory_vm_functions",
    "used_memory_vm_total",
    "used_memory_vm_total_human",
    "used_memory_functions",
    "used_memory_scripts",
    "used_memory_scripts_human",
    "maxmemory",
    "maxmemory_human",
    "maxmemory_policy",
    "allocator_frag_ratio",
    "allocator_frag_bytes",
    "allocator_rss_ratio",
    "allocator_rss_bytes",
    "rss_overhead_ratio",
    "rss_overhead_bytes",
    "mem_fragmentation_ratio",
    "mem_fragmentation_bytes",
    "mem_not_counted_for_evict",
    "mem_replication_backlog",
    "mem_total_replication_buffers",
    "mem_clients_slaves",
    "mem_clients_normal",
    "mem_cluster_links",
    "mem_aof_buffer",
    "mem_allocator",
    "active_defrag_running",
    "lazyfree_pending_objects",
    "lazyfreed_objects",
];

/// One MEMORY STATS reply, read in RESP3: its fields in order, the
/// integers and doubles as numbers, and each database's map.
struct Stats {
    names: Vec<String>,
    numbers: Vec<(String, f64)>,
    dbs: Vec<(String, Vec<(String, i64)>)>,
}

impl Stats {
    fn read(c: &mut Client) -> Stats {
        c.send(&["MEMORY", "STATS"]).expect("MEMORY STATS sent");
        let Frame::Map(pairs) = c.read_frame().expect("MEMORY STATS read") else {
            panic!("MEMORY STATS in RESP3 is not a map");
        };
        let mut stats = Stats {
            names: Vec::new(),
            numbers: Vec::new(),
            dbs: Vec::new(),
        };
        for (key, value) in pairs {
            let Frame::Bulk(name) = key else {
                panic!("a field name is not a bulk string: {key:?}");
            };
            let name = String::from_utf8(name).expect("an ASCII field name");
            stats.names.push(name.clone());
            match value {
                Frame::Integer(n) => stats.numbers.push((name, n as f64)),
                Frame::Double(text) => {
                    let text = String::from_utf8(text).expect("an ASCII double");
                    let d = text.parse().unwrap_or_else(|_| panic!("{name}: {text}"));
                    stats.numbers.push((name, d));
                }
                Frame::Map(fields) => {
                    let fields = fields
                        .into_iter()
                        .map(|(k, v)| match (k, v) {
                            (Frame::Bulk(k), Frame::Integer(n)) => {
                                (String::from_utf8(k).expect("ASCII"), n)
                            }
                            other => panic!("{name}: {other:?}"),
                        })
                        .collect();
                    stats.dbs.push((name, fields));
                }
                other => panic!("{name}: unexpected {other:?}"),
            }
        }
        stats
    }

    fn get(&self, name: &str) -> f64 {
        self.numbers
            .iter()
            .find(|(n, _)| n == name)
            .map(|&(_, v)| v)
            .unwrap_or_else(|| panic!("MEMORY STATS has no {name}"))
    }

    fn int(&self, name: &str) -> i64 {
        self.get(name) as i64
    }
}

fn ok(c: &mut Client, args: &[&str]) {
    let reply = c.cmd(args);
    assert_eq!(reply, b"+OK\r\n", "{args:?}");
}

fn int_reply(c: &mut Client, args: &[&str]) -> i64 {
    let reply = String::from_utf8(c.cmd(args)).expect("ASCII");
    reply
        .strip_prefix(':')
        .and_then(|r| r.trim_end().parse().ok())
        .unwrap_or_else(|| panic!("{args:?}: {reply:?}"))
}

fn info_memory(c: &mut Client) -> Vec<(String, String)> {
    let reply = c.cmd(&["INFO", "memory"]);
    let text = String::from_utf8_lossy(&reply).into_owned();
    text.lines()
        .filter_map(|l| l.trim_end().split_once(':'))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn memory_stats_fields_add_up() {
    let Some(server) = start("MEMORY STATS", &[]) else {
        return;
    };
    let mut c = server.connect();
    c.cmd(&["HELLO", "3"]);
    let empty = Stats::read(&mut c);
    assert_eq!(empty.names, STATS_FIELDS, "an empty server's fields");
    assert_eq!(empty.int("keys.count"), 0);
    assert_eq!(empty.int("keys.bytes-per-key"), 0);

    // Keys in databases 0 and 2, some with deadlines.
    for i in 0..200 {
        ok(&mut c, &["SET", &format!("mem:{i}"), &"v".repeat(100)]);
    }
    ok(&mut c, &["SELECT", "2"]);
    for i in 0..50 {
        ok(&mut c, &["SET", &format!("mem2:{i}"), "x", "EX", "1000"]);
    }
    let stats = Stats::read(&mut c);
    let mut expected: Vec<&str> = STATS_FIELDS[..10].to_vec();
    expected.extend(["db.0", "db.2"]);
    expected.extend(&STATS_FIELDS[10..]);
    assert_eq!(stats.names, expected);
    for (name, fields) in &stats.dbs {
        let names: Vec<&str> = fields.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, DB_FIELDS, "{name}");
    }
    let db = |name: &str, field: &str| {
        let (_, fields) = stats.dbs.iter().find(|(n, _)| n == name).expect("the db");
        fields
            .iter()
            .find(|(f, _)| f == field)
            .expect("the field")
            .1
    };
    assert_eq!(db("db.0", "overhead.hashtable.expires"), 0);
    assert!(db("db.2", "overhead.hashtable.expires") > 0);
    assert!(db("db.0", "overhead.hashtable.main") > db("db.2", "overhead.hashtable.main"));

    // keys.count is every database's DBSIZE.
    let db2 = int_reply(&mut c, &["DBSIZE"]);
    ok(&mut c, &["SELECT", "0"]);
    let db0 = int_reply(&mut c, &["DBSIZE"]);
    assert_eq!(stats.int("keys.count"), db0 + db2);
    assert_eq!(db0 + db2, 250);

    // The overhead is the sum of its parts, the dataset what is left.
    let tables: i64 = stats.dbs.iter().flat_map(|(_, f)| f).map(|(_, n)| n).sum();
    let parts: i64 = [
        "startup.allocated",
        "replication.backlog",
        "clients.slaves",
        "clients.normal",
        "cluster.links",
        "aof.buffer",
        "lua.caches",
        "functions.caches",
    ]
    .iter()
    .map(|f| stats.int(f))
    .sum();
    assert_eq!(stats.int("overhead.total"), parts + tables);
    let total = stats.int("total.allocated");
    assert_eq!(
        stats.int("dataset.bytes"),
        total - stats.int("overhead.total")
    );
    let net = total - stats.int("startup.allocated");
    assert_eq!(stats.int("keys.bytes-per-key"), net / 250);
    let percentage = stats.get("dataset.percentage");
    let expected = stats.int("dataset.bytes") as f64 * 100.0 / net as f64;
    assert!(
        (percentage - expected).abs() < 0.01,
        "{percentage} vs {expected}"
    );
    assert_eq!(
        stats.int("startup.allocated"),
        empty.int("startup.allocated")
    );

    // More data: the dataset grows by about what was added.
    let value = "d".repeat(10_000);
    for i in 0..100 {
        ok(&mut c, &["SET", &format!("mem:{i}"), &value]);
    }
    let grown = Stats::read(&mut c);
    let added = grown.int("dataset.bytes") - stats.int("dataset.bytes");
    assert!(added >= 900_000, "the dataset grew by {added} bytes only");
    assert!(grown.int("total.allocated") > total);

    // INFO memory reports the same figures under its names.
    let info = info_memory(&mut c);
    let field = |name: &str| -> i64 {
        let (_, v) = info.iter().find(|(k, _)| k == name).expect("an INFO field");
        v.parse().expect("a number")
    };
    assert_eq!(field("used_memory_startup"), grown.int("startup.allocated"));
    assert_eq!(
        field("used_memory_functions"),
        grown.int("functions.caches")
    );
    assert_eq!(field("used_memory_scripts_eval"), grown.int("lua.caches"));
    assert_eq!(field("mem_aof_buffer"), grown.int("aof.buffer"));

    // Flushed, every database's map goes.
    ok(&mut c, &["FLUSHALL"]);
    let flushed = Stats::read(&mut c);
    assert_eq!(flushed.names, STATS_FIELDS);
}

#[test]
fn memory_stats_in_resp2_is_a_flat_array() {
    let Some(server) = start("MEMORY STATS in RESP2", &[]) else {
        return;
    };
    let mut c = server.connect();
    ok(&mut c, &["SET", "k", "v"]);
    c.send(&["MEMORY", "STATS"]).expect("sent");
    let Frame::Array(items) = c.read_frame().expect("read") else {
        panic!("MEMORY STATS in RESP2 is not an array");
    };
    assert_eq!(items.len(), 2 * (STATS_FIELDS.len() + 1));
    // The ratios are bulk strings in RESP2.
    let at = |name: &str| {
        let i = items
            .iter()
            .position(|f| *f == Frame::Bulk(name.as_bytes().to_vec()))
            .expect("the field");
        &items[i + 1]
    };
    assert!(matches!(at("fragmentation"), Frame::Bulk(_)));
    assert!(matches!(at("keys.count"), Frame::Integer(1)));
    assert!(matches!(at("db.0"), Frame::Array(f) if f.len() == 6));
}

#[test]
fn info_memory_has_redis_fields_in_order() {
    let Some(server) = start("INFO memory", &[]) else {
        return;
    };
    let mut c = server.connect();
    let info = info_memory(&mut c);
    let names: Vec<&str> = info.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(names, INFO_FIELDS);
}

#[test]
fn module_loads_fail_where_they_are_allowed() {
    let Some(server) = start("MODULE LOAD", &["--enable-module-command", "yes"]) else {
        return;
    };
    let mut c = server.connect();
    let failed = b"-ERR Error loading the extension. Please check the server logs.\r\n";
    assert_eq!(c.cmd(&["MODULE", "LOAD", "/nonexistent/m.so"]), failed);
    assert_eq!(
        c.cmd(&["MODULE", "LOAD", "/nonexistent/m.so", "a", "b"]),
        failed
    );
    assert_eq!(
        c.cmd(&["MODULE", "LOADEX", "/nonexistent/m.so", "CONFIG", "a", "b"]),
        failed
    );
    assert_eq!(
        c.cmd(&["MODULE", "LOADEX", "/nonexistent/m.so", "ARGS"]),
        failed
    );
    assert_eq!(
        c.cmd(&["MODULE", "UNLOAD", "nosuch"]),
        b"-ERR Error unloading module: no such module with that name\r\n"
    );
    assert_eq!(c.cmd(&["MODULE", "LIST"]), b"*0\r\n");
    // Allowed, it queues in a transaction and fails inside EXEC.
    ok(&mut c, &["MULTI"]);
    assert_eq!(c.cmd(&["MODULE", "LOAD", "/x"]), b"+QUEUED\r\n");
    let exec = c.cmd(&["EXEC"]);
    assert_eq!(exec, [&b"*1\r\n"[..], failed].concat());
}

/// Redis refuses a PROTECTED command before it queues it, so the
/// transaction is doomed; the `local` setting allows loopback clients.
#[test]
fn protected_commands_follow_their_options() {
    let Some(server) = start(
        "PROTECTED commands",
        &[
            "--enable-debug-command",
            "no",
            "--enable-module-command",
            "local",
        ],
    ) else {
        return;
    };
    let mut c = server.connect();
    ok(&mut c, &["MULTI"]);
    let refused = c.cmd(&["DEBUG", "SLEEP", "0"]);
    assert!(
        refused.starts_with(b"-ERR DEBUG command not allowed. If the enable-debug-command option is set to \"local\""),
        "{}",
        String::from_utf8_lossy(&refused)
    );
    assert_eq!(
        c.cmd(&["EXEC"]),
        b"-EXECABORT Transaction discarded because of previous errors.\r\n"
    );
    // Arity comes first, as in Redis.
    assert_eq!(
        c.cmd(&["DEBUG"]),
        b"-ERR wrong number of arguments for 'debug' command\r\n"
    );
    // MODULE LOAD from a loopback client under `local`: allowed, fails.
    assert_eq!(
        c.cmd(&["MODULE", "UNLOAD", "x"]),
        b"-ERR Error unloading module: no such module with that name\r\n"
    );
}

/// A client that leaves while WAIT blocks it is forgotten.
#[test]
fn wait_forgets_a_client_that_leaves() {
    let Some(server) = start("WAIT", &[]) else {
        return;
    };
    let mut waiter = server.connect();
    let mut c = server.connect();
    waiter.send(&["WAIT", "1", "0"]).expect("sent");
    let blocked = |c: &mut Client| info_field(c, "blocked_clients");
    wait_until_within(Duration::from_secs(10), "WAIT blocks", || {
        blocked(&mut c) == "1"
    });
    drop(waiter);
    wait_until_within(Duration::from_secs(10), "the waiter is gone", || {
        blocked(&mut c) == "0"
    });
    // A short wait times out with 0.
    assert_eq!(c.cmd(&["WAIT", "3", "10"]), b":0\r\n");
    assert_eq!(c.cmd(&["PING"]), b"+PONG\r\n");
}

fn info_field(c: &mut Client, name: &str) -> String {
    let reply = c.cmd(&["INFO", "clients"]);
    let text = String::from_utf8_lossy(&reply).into_owned();
    text.lines()
        .find_map(|l| {
            l.trim_end()
                .strip_prefix(&format!("{name}:"))
                .map(str::to_string)
        })
        .unwrap_or_default()
}
