//! The generator: seeded command sequences over a small key space.
//!
//! Most commands are generated from their own `COMMAND DOCS` arguments in
//! ferrokv's command table (the same table Redis's docs came from), so a
//! command added to the table is generated without more work here; the
//! argument's name picks a pool of values (`count`, `timeout`,
//! `unix-time-seconds` ...), and a few commands whose arguments must agree
//! with each other or with the connections (`numkeys`, client IDs, CONFIG
//! SET) have their own generators in [`Gen::special`]. Every command is
//! then sometimes made hostile: odd case, an argument dropped or added, an
//! option repeated or moved, a value swapped for a hostile one.
//!
//! What the generator leaves out, and why, is in [`NOT_GENERATED`];
//! `tests/fuzz.rs` checks that every other command in the table is
//! generated.

use ferrokv::cmd::Command;
use ferrokv::cmd::spec::Arg;
use ferrokv::cmd::table::COMMANDS;
use ferrokv::util::Rng;

use super::norm::Norm;

mod bitmap;
mod script;

/// Connection 0 runs most commands and every transaction; the others are
/// blockers: they mostly send blocking commands, so that wake-ups by
/// connection 0's writes are compared, and sometimes plain writes (which
/// a WATCH on connection 0 must notice).
pub const BLOCKERS: usize = 2;
pub const CONNS: usize = 1 + BLOCKERS;

/// Why no ACL subcommand is generated: rules would change which commands
/// the rest of a sequence may run on one server and not the other as soon
/// as the two disagree, a rule's description lists single commands in
/// Redis's hash order (random per process), GENPASS is random and LOG
/// shows ages and client details. `tests/diff/acl.redis`,
/// `tests/diff/auth.redis` and `tests/acl.rs` cover them.
const ACL_REASON: &str = "ACL rules change what the rest of a sequence may run, and Redis describes them in hash order; covered by tests/diff/acl.redis, auth.redis and tests/acl.rs";

/// Commands the generator never sends, each with the reason.
/// The libraries FUNCTION LOAD and RESTORE send: a few fixed ones, two
/// versions of one (for REPLACE), one whose function clashes with
/// another's, and broken ones. Their functions run only commands whose
/// replies do not depend on hash order, so FCALL compares exactly.
const LIBRARIES: &[&str] = &[
    "#!lua name=fz1\nredis.register_function('fz_set', function(keys, args) return redis.call('set', keys[1], args[1]) end)\nredis.register_function{function_name='fz_get', callback=function(keys) return redis.call('get', keys[1]) end, flags={'no-writes'}, description='reads'}",
    "#!lua name=fz1\nredis.register_function('fz_set', function(keys, args) return redis.call('incrby', keys[1], args[1]) end)\nredis.register_function('fz_get2', function(keys) return redis.call('type', keys[1]) end)",
    "#!lua name=fz2\nredis.register_function('fz_push', function(keys, args) return redis.call('rpush', keys[1], unpack(args)) end)\nredis.register_function{function_name='fz_range', callback=function(keys) return redis.call('lrange', keys[1], 0, -1) end, flags={'no-writes', 'allow-oom'}}\nredis.register_function('fz_err', function() error('boom') end)\nredis.register_function('fz_echo', function(keys, args) return {keys, args} end)",
    "#!lua name=fz3\nredis.register_function{function_name='fz_ro_write', callback=function(keys) return redis.call('del', keys[1]) end, flags={'no-writes'}}\nredis.register_function('fz_pcall', function(keys) return redis.pcall('incr', keys[1]) end)",
    "#!lua name=fz3\nredis.register_function('FZ_SET', function() return 1 end)",
    "#!lua name=fzbad\nredis.register_function('fz_x', function() return 1 end",
    "#!lua name=fzbad\nlocal x = 1",
    "return 1",
];

/// What FCALL calls: the libraries' functions, in other cases too, and
/// one no library has.
const FUNCTION_NAMES: &[&str] = &[
    "fz_set",
    "FZ_SET",
    "fz_get",
    "fz_get2",
    "fz_push",
    "fz_range",
    "fz_err",
    "fz_echo",
    "fz_ro_write",
    "fz_pcall",
    "nosuch",
];

pub const NOT_GENERATED: &[(&str, &str)] = &[
    ("shutdown", "it stops the server"),
    (
        "migrate",
        "it connects to other servers; tests/persistence.rs moves keys between ferrokv and redis-server",
    ),
    (
        "bgsave",
        "how long a snapshot runs differs by design (Redis forks a child, ferrokv walks on the loop), so whether the next BGSAVE or SAVE finds one running is a race; tests/persistence.rs covers it",
    ),
    (
        "bgrewriteaof",
        "the server under test keeps an AOF and the reference does not, and a rewrite runs in the background on both: whether the next BGREWRITEAOF finds one running is a race; the runner rewrites the subject's AOF itself between sequences (`Pair::reset`), and every sequence ends with its replay (`Run::compare_replay`)",
    ),
    ("acl|cat", ACL_REASON),
    ("acl|deluser", ACL_REASON),
    ("acl|dryrun", ACL_REASON),
    ("acl|genpass", ACL_REASON),
    ("acl|getuser", ACL_REASON),
    ("acl|help", ACL_REASON),
    ("acl|list", ACL_REASON),
    ("acl|load", ACL_REASON),
    ("acl|log", ACL_REASON),
    ("acl|save", ACL_REASON),
    ("acl|setuser", ACL_REASON),
    ("acl|users", ACL_REASON),
    ("acl|whoami", ACL_REASON),
    (
        "pfselftest",
        "it adds ten million elements (seconds on redis-server) and answers OK; tests/diff/hll.redis runs it",
    ),
    (
        "latency|histogram",
        "its buckets are the commands' durations, and the runner sends each server commands of its own (the subject's AOF rewrites), so which commands have histograms differs too; tests/diff/latency.redis compares its shapes. The other LATENCY subcommands are generated: the fuzzer never sets latency-monitor-threshold, so no event is recorded and their replies are exact",
    ),
    (
        "script|debug",
        "it makes the client's next EVAL a debugging session, which waits for debugger commands on the socket and closes the connection; tests/ldb.rs drives it against both servers and tests/diff/script_debug.redis checks its errors",
    ),
    (
        "client|setinfo",
        "a Redis 7.2 command ferrokv accepts on purpose (clients send it); Redis 7.0 has none",
    ),
];

/// The keys: few, so that commands of different types meet on one key
/// and WRONGTYPE comes up.
const KEYS: &[&[u8]] = &[b"k0", b"k1", b"k2", b"k3", b"k4"];

/// Placeholder for the client ID of connection N (`${id:N}`); the runner
/// substitutes each server's own ID, since the two servers number their
/// clients differently.
pub fn id_placeholder(conn: usize) -> Vec<u8> {
    format!("${{id:{conn}}}").into_bytes()
}

/// One command on one connection, and how its reply is compared.
#[derive(Clone, Debug)]
pub struct Step {
    pub conn: usize,
    pub args: Vec<Vec<u8>>,
    pub norm: Norm,
    /// For a blocking command, how its timeout behaves: the runner waits
    /// at once for a reply only when it cannot block for long.
    pub timeout: Option<Timeout>,
}

pub struct Gen {
    rng: Rng,
    /// Future deadlines handed out in this sequence (see [`Deadline`]).
    deadlines: u64,
    /// Commands that can be picked, each with its weight.
    commands: Vec<(&'static Command, u64)>,
    total_weight: u64,
    /// The same total in a stream sequence (see [`STREAM_FOCUS`]).
    total_weight_streams: u64,
    /// Whether this sequence is a stream sequence.
    stream_focus: bool,
    in_multi: bool,
    /// Connections that have sent CLIENT REPLY in this sequence: no SPOP
    /// goes to them, since the runner needs SPOP's reply to make both
    /// servers drop the same members.
    reply_mode_changed: [bool; CONNS],
    /// The blockers' connections that are subscribers in this sequence
    /// (see [`SUBSCRIBING`]). What a subscriber receives is compared as a
    /// whole, with no step to attribute each frame to, so a subscriber
    /// never owes a reply when it subscribes: it sends no blocking
    /// command, no CLIENT REPLY and no MONITOR, only commands whose
    /// replies compare exactly.
    subscriber: [bool; CONNS],
    /// The millisecond part of the last fresh stream ID handed out in this
    /// sequence (see [`Gen::xadd_id`]).
    stream_clock: u64,
    /// The script bodies of this sequence, newest last, whose SHAs
    /// EVALSHA and SCRIPT EXISTS name (see `script.rs`).
    scripts: Vec<Vec<u8>>,
}

/// The commands that answer one push per channel and turn a connection
/// into a subscriber. They go only to the blockers' connections picked as
/// subscribers for the sequence (connection 0 carries the sequence and its
/// transactions), and the runner compares what such a connection receives
/// as a whole, in any order, after each step (see `Gen::subscriber`).
pub const SUBSCRIBING: &[&str] = &[
    "subscribe",
    "unsubscribe",
    "psubscribe",
    "punsubscribe",
    "ssubscribe",
    "sunsubscribe",
];

/// Every command with a handler: plain commands and subcommands.
pub fn implemented() -> Vec<&'static Command> {
    let mut out = Vec::new();
    for cmd in COMMANDS {
        if cmd.handler.is_some() {
            out.push(cmd);
        }
        out.extend(cmd.subcommands.iter().filter(|s| s.handler.is_some()));
    }
    out
}

/// Commands not generated between MULTI and EXEC, besides SPOP's random
/// pops (the commands after one would see different sets on the two
/// servers before the runner could even them out):
///
/// - CLIENT REPLY OFF or SKIP inside EXEC stops EXEC's own reply array in
///   the middle, in Redis as in ferrokv, which leaves nothing after it
///   readable.
/// - OBJECT REFCOUNT of a value stored earlier in the same transaction is
///   2 in Redis, which holds the transaction's arguments until EXEC ends;
///   ferrokv answers 1 (see the README's known differences).
const NOT_IN_TRANSACTIONS: &[&str] = &["client|reply", "object|refcount"];

/// Commands generated only by the sequence structure, not picked at
/// random: transactions are opened and closed on connection 0 only.
const STRUCTURAL: &[&str] = &["multi", "exec", "discard", "watch", "unwatch"];

/// The blocking commands, generated by [`Gen::blocking_step`].
const BLOCKING: &[&str] = &[
    "blpop",
    "brpop",
    "blmove",
    "brpoplpush",
    "blmpop",
    "bzpopmin",
    "bzpopmax",
    "bzmpop",
    "xread",
    "xreadgroup",
];

/// Commands the table flags as blocking that block only with an option
/// (XREAD and XREADGROUP with BLOCK): without it they answer at once, so
/// they are also picked as plain commands, from `Gen::stream_read`, which
/// leaves BLOCK out; `blocking_step` adds it.
const BLOCKING_ONLY_WITH_OPTION: &[&str] = &["xread", "xreadgroup"];

fn weight(cmd: &Command) -> u64 {
    match cmd.name {
        // Large replies, each a fixed text: a few are enough.
        "command" | "command|docs" | "info" => 1,
        "quit" | "reset" | "flushall" | "flushdb" | "swapdb" | "select" => 2,
        "client|reply" | "monitor" => 1,
        "publish" | "spublish" => 12,
        // One command fills a sorted set among 35 that read or empty one:
        // without a heavier weight, sets seldom reach the few members
        // that ranks, ranges and pops need.
        "zadd" => 128,
        // The same for streams, whose entries must also come in order (an
        // ID not above the last is refused): without XADD's weight streams
        // stay empty. Pending entries need a group and a read by one, so
        // XGROUP CREATE and XREADGROUP are heavier too.
        "xadd" => 256,
        "xgroup|create" | "xreadgroup" => 64,
        "xpending" | "xclaim" | "xautoclaim" | "xack" => 24,
        // A function must be loaded before FCALL reaches it.
        "fcall" | "fcall_ro" => 12,
        "function|load" => 8,
        // Scripts call random commands themselves, so one EVAL is many
        // commands; the group's default weight would make them rare.
        "eval" => 40,
        "evalsha" | "eval_ro" => 16,
        "evalsha_ro" | "script|load" => 8,
        "script|exists" => 4,
        "script|flush" => 2,
        // Searches need points: GEOADD as often as the searches together.
        "geoadd" => 48,
        // A HyperLogLog needs many PFADDs (or a few long ones) to leave
        // the sparse encoding.
        "pfadd" => 16,
        "pfcount" | "pfmerge" => 8,
        _ => match cmd.docs.group {
            "string" | "generic" | "hash" | "set" | "list" | "sorted-set" | "stream" | "geo" => 16,
            _ => 3,
        },
    }
}

/// The percentage of sequences that are stream sequences, in which the
/// stream commands weigh [`STREAM_FOCUS_FACTOR`] times more. A stream
/// needs several commands in order on one key (XADDs with rising IDs,
/// XGROUP CREATE, XREADGROUP, then claims and acknowledgements) to reach
/// groups with pending entries, split nodes and trimming; among the
/// hundreds of other commands a sequence of a few dozen seldom has them,
/// and a plain weight heavy enough would crowd out every other type.
const STREAM_FOCUS: u64 = 35;
const STREAM_FOCUS_FACTOR: u64 = 12;

/// A command's weight in a stream sequence.
fn focused(cmd: &Command, w: u64) -> u64 {
    if cmd.docs.group == "stream" {
        w * STREAM_FOCUS_FACTOR
    } else {
        w
    }
}

impl Gen {
    pub fn new(seed: u64) -> Gen {
        let commands: Vec<(&'static Command, u64)> = implemented()
            .into_iter()
            .filter(|c| !NOT_GENERATED.iter().any(|(n, _)| *n == c.name))
            .filter(|c| !STRUCTURAL.contains(&c.name))
            // Blocking commands come from `blocking_step`, which knows
            // whether to wait for their replies.
            .filter(|c| {
                !c.has(ferrokv::cmd::flag::BLOCKING) || BLOCKING_ONLY_WITH_OPTION.contains(&c.name)
            })
            .map(|c| (c, weight(c)))
            .collect();
        let total_weight = commands.iter().map(|(_, w)| w).sum();
        let total_weight_streams = commands.iter().map(|&(c, w)| focused(c, w)).sum();
        Gen {
            // Spread the seed's bits: the generator keeps the seed's low
            // bit set, so 2 and 3 would otherwise be the same seed.
            rng: Rng::new(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (seed >> 29)),
            commands,
            total_weight,
            total_weight_streams,
            stream_focus: false,
            in_multi: false,
            reply_mode_changed: [false; CONNS],
            subscriber: [false; CONNS],
            deadlines: 0,
            stream_clock: 0,
            scripts: Vec::new(),
        }
    }

    /// The names of every command this generator can produce.
    pub fn generated_names(&self) -> Vec<&'static str> {
        let mut names: Vec<&str> = self.commands.iter().map(|(c, _)| c.name).collect();
        names.extend(STRUCTURAL);
        names.extend(BLOCKING);
        names
    }

    fn below(&mut self, n: usize) -> usize {
        self.rng.below(n as u64) as usize
    }

    /// True with probability `percent` / 100.
    fn chance(&mut self, percent: u64) -> bool {
        self.rng.below(100) < percent
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }

    /// A sequence: setup (protocols, encoding limits), then commands.
    pub fn sequence(&mut self) -> Vec<Step> {
        self.in_multi = false;
        self.reply_mode_changed = [false; CONNS];
        self.deadlines = 0;
        self.stream_clock = 2;
        self.scripts.clear();
        self.stream_focus = self.chance(STREAM_FOCUS);
        for conn in 1..CONNS {
            self.subscriber[conn] = self.chance(25);
        }
        let mut steps = Vec::new();
        for conn in 0..CONNS {
            if self.chance(40) {
                steps.push(step(conn, vec![b"HELLO".to_vec(), b"3".to_vec()]));
            }
        }
        for (param, values) in ENCODING_LIMITS {
            if self.chance(30) {
                let value = self.pick(values).as_bytes().to_vec();
                let args = vec![
                    b"CONFIG".to_vec(),
                    b"SET".to_vec(),
                    param.as_bytes().to_vec(),
                    value,
                ];
                steps.push(step(0, args));
            }
        }
        let len = 10 + self.below(60);
        while steps.len() < len {
            if self.chance(20) {
                let blocker = 1 + self.below(BLOCKERS);
                let step = self.blocker_step(blocker);
                steps.push(step);
            } else if !self.in_multi && self.chance(8) {
                self.transaction(&mut steps);
            } else if !self.in_multi && self.chance(4) {
                let n = 1 + self.below(3);
                let mut args = vec![self.cased("WATCH")];
                args.extend((0..n).map(|_| self.key()));
                steps.push(step(0, args));
            } else {
                let step = self.random_step(0);
                steps.push(step);
            }
        }
        steps
    }

    /// MULTI, some commands (errors and blocking commands among them), then
    /// usually EXEC, sometimes DISCARD, UNWATCH inside, or nothing.
    fn transaction(&mut self, steps: &mut Vec<Step>) {
        steps.push(step(0, vec![self.cased("MULTI")]));
        self.in_multi = true;
        for _ in 0..1 + self.below(6) {
            let step = if self.chance(15) {
                self.blocking_step(0)
            } else if self.chance(3) {
                step(0, vec![self.cased("WATCH"), self.key()])
            } else {
                self.random_step(0)
            };
            steps.push(step);
        }
        let end = match self.below(20) {
            0 => None,
            1 | 2 => Some("DISCARD"),
            _ => Some("EXEC"),
        };
        if let Some(end) = end {
            steps.push(step(0, vec![self.cased(end)]));
            self.in_multi = false;
        }
    }

    fn blocker_step(&mut self, conn: usize) -> Step {
        if self.subscriber[conn] {
            // Subscriptions are rare among all the commands: ask for them
            // here, so that the sequence's publishes have listeners.
            if self.chance(40) {
                let name = self.pick(SUBSCRIBING);
                if let Some(&(cmd, _)) = self.commands.iter().find(|(c, _)| c.name == name) {
                    let args = self.docs_args(cmd);
                    return step(conn, args);
                }
            }
            return self.random_step(conn);
        }
        if self.chance(70) {
            self.blocking_step(conn)
        } else {
            self.random_step(conn)
        }
    }

    /// A blocking list, sorted-set or stream command with a timeout from
    /// [`TIMEOUTS`] (seconds), or for XREAD and XREADGROUP, BLOCK with one
    /// from [`BLOCK_MILLISECONDS`].
    fn blocking_step(&mut self, conn: usize) -> Step {
        let name = self.pick(BLOCKING);
        let stream = BLOCKING_ONLY_WITH_OPTION.contains(&name);
        let (timeout, kind) = if stream {
            self.pick(BLOCK_MILLISECONDS)
        } else {
            self.pick(TIMEOUTS)
        };
        let timeout = timeout.as_bytes().to_vec();
        let mut args = vec![self.cased(&name.to_ascii_uppercase())];
        match name {
            "xread" | "xreadgroup" => {
                args = self.stream_read(name == "xreadgroup", Some(timeout));
            }
            "blpop" | "brpop" | "bzpopmin" | "bzpopmax" => {
                for _ in 0..1 + self.below(3) {
                    args.push(self.key());
                }
                args.push(timeout);
            }
            "blmove" => {
                args.extend([self.key(), self.key(), self.direction(), self.direction()]);
                args.push(timeout);
            }
            "brpoplpush" => args.extend([self.key(), self.key(), timeout]),
            _ => {
                args.push(timeout);
                let keys: Vec<Vec<u8>> = (0..1 + self.below(3)).map(|_| self.key()).collect();
                args.push(self.numkeys(keys.len()));
                args.extend(keys);
                if name == "bzmpop" {
                    let d = self.pick(&["MIN", "MAX", "min", "Max", "LEFT", ""]);
                    args.push(d.as_bytes().to_vec());
                } else {
                    args.push(self.direction());
                }
                if self.chance(40) {
                    args.push(self.cased("COUNT"));
                    args.push(self.count());
                }
            }
        }
        // Outside a transaction a mutation could move a short timeout out
        // of place or a long one into it, and the runner must know which
        // it is; inside, nothing blocks. Should the transaction not be open
        // after all (its MULTI failed), a mutated command counts as one
        // that may wait long.
        let mut kind = kind;
        if self.in_multi && conn == 0 {
            let before = args.clone();
            self.maybe_hostile(&mut args, 0);
            if args != before {
                kind = Timeout::Long;
            }
        }
        let mut step = step(conn, args);
        // Inside MULTI the command is only queued, and in EXEC it answers
        // at once; elsewhere a short timeout is waited for, and a long one
        // leaves the connection blocked until a write or the end.
        step.timeout = Some(kind);
        step
    }

    fn direction(&mut self) -> Vec<u8> {
        let d = self.pick(&["LEFT", "RIGHT", "left", "Right", "UP", ""]);
        d.as_bytes().to_vec()
    }

    /// `numkeys` for `n` keys: usually right, sometimes off or hostile.
    fn numkeys(&mut self, n: usize) -> Vec<u8> {
        match self.below(10) {
            0 => self.int(),
            1 => (n + 1).to_string().into_bytes(),
            2 => n.saturating_sub(1).to_string().into_bytes(),
            _ => n.to_string().into_bytes(),
        }
    }

    /// XREAD or XREADGROUP: options (COUNT, NOACK, and BLOCK when
    /// `block` is given, never otherwise) in any order, then STREAMS with
    /// as many IDs as keys, sometimes one more or one less. A blocking read
    /// mostly asks for what comes next (`$`, `>`), so that writes on
    /// connection 0 wake it; a plain one mostly reads history.
    fn stream_read(&mut self, group: bool, block: Option<Vec<u8>>) -> Vec<Vec<u8>> {
        let name = if group { "XREADGROUP" } else { "XREAD" };
        let mut args = vec![self.cased(name)];
        let mut options: Vec<Vec<Vec<u8>>> = Vec::new();
        if group {
            let g = self.pick(GROUPS).to_vec();
            let c = self.pick(CONSUMERS).to_vec();
            options.push(vec![self.cased("GROUP"), g, c]);
        }
        if self.chance(40) {
            options.push(vec![self.cased("COUNT"), self.count()]);
        }
        let blocking = block.is_some();
        if let Some(ms) = block {
            options.push(vec![self.cased("BLOCK"), ms]);
        }
        if group && self.chance(25) {
            options.push(vec![self.cased("NOACK")]);
        }
        if options.len() > 1 && self.chance(20) {
            let i = self.below(options.len());
            options.swap(0, i);
        }
        if !options.is_empty() && self.chance(5) {
            let i = self.below(options.len());
            let repeated = options[i].clone();
            options.push(repeated);
        }
        args.extend(options.into_iter().flatten());
        args.push(self.cased("STREAMS"));
        let n = if self.chance(80) {
            1
        } else {
            2 + self.below(2)
        };
        let ids = match self.below(12) {
            0 => n + 1,
            1 => n - 1,
            _ => n,
        };
        args.extend((0..n).map(|_| self.stream_key()));
        let next: &[u8] = if group { b">" } else { b"$" };
        let next_share = if blocking {
            70
        } else if group {
            55
        } else {
            15
        };
        for _ in 0..ids {
            let id = if self.chance(next_share) {
                next.to_vec()
            } else {
                self.stream_id()
            };
            args.push(id);
        }
        args
    }

    /// XADD's trimming: MAXLEN or MINID, `=`, `~` or neither, a threshold,
    /// sometimes LIMIT (refused without `~`).
    fn trim_args(&mut self) -> Vec<Vec<u8>> {
        let strategy = self.pick(&["MAXLEN", "MINID"]);
        let mut args = vec![self.cased(strategy)];
        match self.below(3) {
            0 => args.push(b"=".to_vec()),
            1 => args.push(b"~".to_vec()),
            _ => {}
        }
        args.push(if strategy == "MAXLEN" && self.chance(80) {
            self.pick(TRIM_LENGTHS).to_vec()
        } else {
            self.trim_threshold()
        });
        if self.chance(25) {
            args.push(self.cased("LIMIT"));
            args.push(self.count());
        }
        args
    }

    /// MAXLEN's length or MINID's ID: the docs do not say which the
    /// strategy before it is, so either (a length for MINID is an ID
    /// without its sequence; an ID for MAXLEN an error).
    fn trim_threshold(&mut self) -> Vec<u8> {
        if self.chance(50) {
            self.pick(TRIM_LENGTHS).to_vec()
        } else {
            self.stream_id()
        }
    }

    /// XADD's ID, never `*`: an automatic ID is the server's clock, which
    /// differs between the two servers (and from one run to the next). It
    /// would be deterministic only past a last ID in the future, which the
    /// generator cannot know. Instead, often a fresh ID above every one
    /// given so far in the sequence (its sequence number explicit,
    /// automatic with `ms-*`, or left out), so that streams grow past
    /// their node limits; otherwise one from the pool, which mostly
    /// collides with what the stream holds and is refused.
    fn xadd_id(&mut self) -> Vec<u8> {
        if !self.chance(65) {
            let id = self.stream_id();
            return if id == b"*" { b"5-*".to_vec() } else { id };
        }
        self.stream_clock += 1;
        let ms = self.stream_clock;
        match self.below(6) {
            0 => format!("{ms}-*").into_bytes(),
            1 => ms.to_string().into_bytes(),
            _ => format!("{ms}-{}", self.below(3)).into_bytes(),
        }
    }

    /// A stream ID for a range bound, XDEL, XACK, XCLAIM, XSETID, a
    /// group's position or a read: small numbers, so that they collide with
    /// the entries and their order matters; IDs just added (see
    /// [`Gen::xadd_id`]); the special ones (`-`, `+`, `$`, `>`, exclusive
    /// `(` bounds, `ms-*`), out-of-range and malformed ones.
    fn stream_id(&mut self) -> Vec<u8> {
        match self.below(10) {
            0..=5 => self.pick(STREAM_IDS).to_vec(),
            6..=8 => {
                let ms = self.stream_clock.saturating_sub(self.below(3) as u64);
                let exclusive = if self.chance(10) { "(" } else { "" };
                match self.below(3) {
                    0 => format!("{exclusive}{ms}").into_bytes(),
                    _ => format!("{exclusive}{ms}-{}", self.below(3)).into_bytes(),
                }
            }
            _ => self.pick(ODD_STREAM_IDS).to_vec(),
        }
    }

    /// A stream entry's field: mostly the same few, so that entries share
    /// their node's master fields (a listpack flag), sometimes any member.
    fn stream_field(&mut self) -> Vec<u8> {
        if self.chance(75) {
            self.pick(&[&b"f"[..], b"f", b"g", b"h"]).to_vec()
        } else {
            self.pick(MEMBERS).to_vec()
        }
    }

    /// Any command, picked by weight.
    fn random_step(&mut self, conn: usize) -> Step {
        let i = self.weighted_index();
        let chosen = self.commands[i].0;
        let mut args = self
            .special(chosen)
            .unwrap_or_else(|| self.docs_args(chosen));
        let name_parts = chosen.name.split('|').count();
        if !SAFE_ARGS_ONLY.contains(&chosen.name) {
            self.maybe_hostile(&mut args, name_parts);
        }
        self.defuse_short_ttls(&mut args);
        defuse_idle_thresholds(&mut args);
        // A known gap, left for later: a compile error quoting non-UTF-8
        // bytes of a body comes out of mlua converted lossily. No body
        // (a mutation may put any argument in its place) has such bytes.
        if script::SCRIPTING.contains(&chosen.name) && args.iter().take(3).any(|a| !a.is_ascii()) {
            return self.random_step(conn);
        }
        let step = step(conn, args);
        if self.in_multi && (step.norm == Norm::Pop || NOT_IN_TRANSACTIONS.contains(&chosen.name)) {
            return self.random_step(conn);
        }
        if step.norm == Norm::Pop && self.reply_mode_changed[conn] {
            return self.random_step(conn);
        }
        // A connection that runs MONITOR becomes a feed: a blocker's, not
        // connection 0, which carries the sequence.
        if conn == 0 && chosen.name == "monitor" {
            return self.random_step(conn);
        }
        if self.subscriber[conn] {
            let owes = matches!(chosen.name, "monitor" | "client|reply");
            if owes || step.norm != Norm::Exact {
                return self.random_step(conn);
            }
        } else if SUBSCRIBING.contains(&chosen.name) {
            return self.random_step(conn);
        }
        if chosen.name == "client|reply" {
            self.reply_mode_changed[conn] = true;
        }
        step
    }

    /// The index in `commands` of one picked by weight.
    fn weighted_index(&mut self) -> usize {
        let total = if self.stream_focus {
            self.total_weight_streams
        } else {
            self.total_weight
        };
        let mut roll = self.rng.below(total);
        for (i, &(cmd, w)) in self.commands.iter().enumerate() {
            let w = if self.stream_focus {
                focused(cmd, w)
            } else {
                w
            };
            if roll < w {
                return i;
            }
            roll -= w;
        }
        0
    }

    /// The command's name (and subcommand) in random case.
    fn name_args(&mut self, cmd: &Command) -> Vec<Vec<u8>> {
        cmd.name
            .split('|')
            .map(|part| self.cased(&part.to_ascii_uppercase()))
            .collect()
    }

    /// A keyword, usually upper case, sometimes lower or mixed.
    fn cased(&mut self, word: &str) -> Vec<u8> {
        match self.below(10) {
            0 => word.to_ascii_lowercase().into_bytes(),
            1 => word
                .bytes()
                .enumerate()
                .map(|(i, b)| {
                    if i % 2 == 0 {
                        b.to_ascii_lowercase()
                    } else {
                        b.to_ascii_uppercase()
                    }
                })
                .collect(),
            _ => word.to_ascii_uppercase().into_bytes(),
        }
    }

    /// Sometimes makes a command hostile: an argument dropped, added,
    /// repeated, moved or replaced. `fixed` leading arguments (the name and
    /// subcommand) stay.
    fn maybe_hostile(&mut self, args: &mut Vec<Vec<u8>>, fixed: usize) {
        if !self.chance(15) {
            return;
        }
        let movable = args.len().saturating_sub(fixed.max(1));
        match self.below(6) {
            0 if movable > 0 => {
                args.pop();
            }
            1 => {
                let extra = self.hostile_value();
                args.push(extra);
            }
            2 if movable > 0 => {
                let i = fixed.max(1) + self.below(movable);
                let repeated = args[i].clone();
                args.insert(i, repeated);
            }
            3 if movable > 1 => {
                let i = fixed.max(1) + self.below(movable);
                let j = fixed.max(1) + self.below(movable);
                args.swap(i, j);
            }
            4 if movable > 0 => {
                let i = fixed.max(1) + self.below(movable);
                args[i] = self.hostile_value();
            }
            _ => args.truncate(fixed.max(1)),
        }
    }

    /// Arguments from the command's `COMMAND DOCS` grammar: every required
    /// argument, each optional one half of the time, options sometimes
    /// moved or repeated.
    fn docs_args(&mut self, cmd: &Command) -> Vec<Vec<u8>> {
        let mut args = self.name_args(cmd);
        let mut optional: Vec<Vec<Vec<u8>>> = Vec::new();
        let docs = cmd.docs.arguments;
        let mut i = 0;
        while i < docs.len() {
            let arg = &docs[i];
            let is_optional = arg.flags.contains(&"optional");
            if is_optional && self.chance(50) {
                i += 1;
                continue;
            }
            // `numkeys` counts the keys that follow it.
            if arg.name == "numkeys" && i + 1 < docs.len() {
                let keys = self.arg(cmd, &docs[i + 1]);
                args.push(self.numkeys(keys.len()));
                args.extend(keys);
                i += 2;
                continue;
            }
            let words = self.arg(cmd, arg);
            if is_optional {
                optional.push(words);
            } else {
                // Options come after the required arguments in every
                // command generated this way; keep them there.
                for group in optional.drain(..) {
                    args.extend(group);
                }
                args.extend(words);
            }
            i += 1;
        }
        if optional.len() > 1 && self.chance(15) {
            let i = self.below(optional.len());
            optional.swap(0, i);
        }
        if !optional.is_empty() && self.chance(10) {
            let i = self.below(optional.len());
            let repeated = optional[i].clone();
            optional.push(repeated);
        }
        for group in optional {
            args.extend(group);
        }
        args
    }

    /// The words of one documented argument: its token, then its value(s),
    /// repeated for `multiple` arguments.
    fn arg(&mut self, cmd: &Command, arg: &Arg) -> Vec<Vec<u8>> {
        let multiple = arg.flags.contains(&"multiple");
        let reps = if !multiple {
            1
        } else if self.chance(5) {
            8 + self.below(12)
        } else {
            1 + self.below(3)
        };
        let mut out = Vec::new();
        for rep in 0..reps {
            if let Some(token) = arg.token
                && (rep == 0 || arg.flags.contains(&"multiple_token"))
            {
                out.push(self.cased(token));
            }
            match arg.kind {
                "pure-token" => {}
                "oneof" => {
                    let sub = self.pick(arg.arguments);
                    out.extend(self.arg(cmd, &sub));
                }
                "block" => {
                    for sub in arg.arguments {
                        if sub.flags.contains(&"optional") && self.chance(50) {
                            continue;
                        }
                        out.extend(self.arg(cmd, sub));
                    }
                }
                kind => out.push(self.value(cmd, arg.name, kind)),
            }
        }
        out
    }

    /// A value for an argument, by the argument's name and kind.
    fn value(&mut self, cmd: &Command, name: &str, kind: &str) -> Vec<u8> {
        if self.chance(4) {
            return self.hostile_value();
        }
        let from = |pool: &[&[u8]], g: &mut Gen| g.pick(pool).to_vec();
        let text = |pool: &[&str], g: &mut Gen| g.pick(pool).as_bytes().to_vec();
        match (cmd.name, name) {
            // Streams (every command starting with X is one).
            (c, "id" | "start" | "end" | "last-id" | "max_deleted_entry_id")
                if c.starts_with('x') =>
            {
                self.stream_id()
            }
            (c, "threshold") if c.starts_with('x') => self.trim_threshold(),
            (c, _) if c.starts_with('x') && kind == "key" => self.stream_key(),
            (c, "group" | "groupname") if c.starts_with('x') => from(GROUPS, self),
            (c, "consumer" | "consumername") if c.starts_with('x') => from(CONSUMERS, self),
            (_, "min-idle-time") => from(MIN_IDLE_TIMES, self),
            ("xclaim", "ms") => from(CLAIM_IDLE_TIMES, self),
            (_, "entries_read") => from(ENTRIES_READ, self),
            ("select", "index") | (_, "db" | "destination-db" | "index1" | "index2") => {
                from(DBS, self)
            }
            (_, "count" | "num-matches" | "limit") => self.count(),
            (_, "cursor") => from(CURSORS, self),
            (_, "timeout") if kind == "double" => text(&["0.0001", "0.001", "-1", "abc"], self),
            (_, "seconds") => self.ttl(TTL_SECONDS, Deadline::Seconds),
            (_, "milliseconds") => self.ttl(TTL_MILLISECONDS, Deadline::Milliseconds),
            (_, "unix-time-seconds") => self.ttl(AT_SECONDS, Deadline::UnixSeconds),
            (_, "unix-time-milliseconds") => self.ttl(AT_MILLISECONDS, Deadline::UnixMilliseconds),
            (_, "section") => from(INFO_SECTIONS, self),
            (_, "parameter") => from(CONFIG_PARAMETERS, self),
            (_, "command-name") => from(COMMAND_NAMES, self),
            (_, "category") => text(&["string", "keyspace", "list", "nosuch", "STRING"], self),
            (_, "pattern") => from(PATTERNS, self),
            // Channels share the key names, so the patterns match some.
            (_, "channel" | "shardchannel") => self.key(),
            (_, "type") => from(TYPES, self),
            (_, "protover") => text(&["2", "3", "1", "4", "abc", "-1", "3.0"], self),
            (_, "client-id") => self.client_id(),
            (_, "ip:port") => text(&["127.0.0.1:1", "abc", "", "[::1]:1"], self),
            (_, "yes/no") => text(&["yes", "no", "YES", "maybe"], self),
            (_, "connection-name" | "clientname") => from(NAMES, self),
            (_, "libname" | "libver") => text(&["redis-py", "1.0", "a b", "", "x\ny"], self),
            (_, "username") => text(&["default", "nosuch", ""], self),
            (_, "password") => text(&["pass", "", "default"], self),
            (_, "module-name") => text(&["nosuch", ""], self),
            (_, "increment" | "decrement") if kind == "double" => from(FLOATS, self),
            // Geo positions near each other (and at the limits), and
            // distances that reach from none of them to all.
            (c, "longitude") if c.starts_with("geo") => from(GEO_LONGITUDES, self),
            (c, "latitude") if c.starts_with("geo") => from(GEO_LATITUDES, self),
            (c, "radius" | "width" | "height") if c.starts_with("geo") => from(GEO_DISTANCES, self),
            (_, "field" | "member" | "element" | "pivot") => from(MEMBERS, self),
            // Sorted-set ranges: ranks, scores and lex items alike, since
            // ZRANGE takes any of them in one place.
            (c, "min" | "max" | "start" | "stop") if c.starts_with('z') || c.starts_with("bz") => {
                from(RANGE_BOUNDS, self)
            }
            _ => match kind {
                "key" => self.key(),
                "integer" => self.int(),
                "double" => from(FLOATS, self),
                "pattern" => from(PATTERNS, self),
                "unix-time" => self.ttl(AT_SECONDS, Deadline::UnixSeconds),
                _ => from(VALUES, self),
            },
        }
    }

    /// A TTL or deadline: usually a future one no other in the sequence
    /// shares (see [`Deadline`]), otherwise one from `pool` (past, zero,
    /// out of range, not a number).
    fn ttl(&mut self, pool: &[&[u8]], kind: Deadline) -> Vec<u8> {
        if self.chance(40) {
            return self.pick(pool).to_vec();
        }
        self.deadlines += 1;
        kind.nth(self.deadlines).to_string().into_bytes()
    }

    /// PFADD's elements: a few values, or a run of up to a few hundred
    /// distinct ones, so that sparse HyperLogLogs grow, split and merge
    /// their opcodes and cross `hll-sparse-max-bytes` into dense.
    fn hll_elements(&mut self) -> Vec<Vec<u8>> {
        if self.chance(75) {
            return (0..self.below(4))
                .map(|_| self.pick(VALUES).to_vec())
                .collect();
        }
        let start = self.below(100_000);
        let n = self.pick(&[10, 50, 200, 600]);
        (start..start + n)
            .map(|i| format!("e{i}").into_bytes())
            .collect()
    }

    pub fn key(&mut self) -> Vec<u8> {
        match self.below(50) {
            0 => Vec::new(),
            1 => b"k\x00\xff".to_vec(),
            _ => self.pick(KEYS).to_vec(),
        }
    }

    /// A key for a stream command: often one of two keys (in a stream
    /// sequence, mostly the first), so that the XADDs, XGROUP CREATEs and
    /// XREADGROUPs of a sequence meet on one stream often enough for it to
    /// grow, split its nodes and have groups with pending entries.
    fn stream_key(&mut self) -> Vec<u8> {
        if self.stream_focus && self.chance(70) {
            KEYS[0].to_vec()
        } else if self.chance(50) {
            self.pick(&KEYS[..2]).to_vec()
        } else {
            self.key()
        }
    }

    fn int(&mut self) -> Vec<u8> {
        if self.chance(25) {
            self.pick(HOSTILE_INTS).to_vec()
        } else {
            self.pick(SMALL_INTS).to_vec()
        }
    }

    /// A count for SPOP, SRANDMEMBER, LPOP ...: never a huge negative one
    /// with a huge result (both servers would build it, which says little
    /// and takes long), but i64::MIN, whose error both must give.
    fn count(&mut self) -> Vec<u8> {
        let pool = [
            "0",
            "1",
            "2",
            "3",
            "5",
            "10",
            "100",
            "-1",
            "-2",
            "-5",
            "-100",
            "-9223372036854775808",
            "9223372036854775807",
            "abc",
            "",
            "1.5",
            " 1",
        ];
        self.pick(&pool).as_bytes().to_vec()
    }

    fn client_id(&mut self) -> Vec<u8> {
        if self.chance(70) {
            id_placeholder(self.below(CONNS))
        } else {
            self.pick(&["0", "-1", "99999", "abc", ""])
                .as_bytes()
                .to_vec()
        }
    }

    /// Replaces a short TTL (a positive one under 100 s) that a hostile
    /// value or a mutation put in place with a distinct future deadline:
    /// a key that expires while a sequence runs expires at a moment the
    /// two servers need not agree on.
    fn defuse_short_ttls(&mut self, args: &mut [Vec<u8>]) {
        let name = args
            .first()
            .map(|a| a.to_ascii_lowercase())
            .unwrap_or_default();
        // Where a relative TTL is: after a token (SET, GETEX), or at a
        // fixed position.
        let mut places: Vec<(usize, Deadline)> = Vec::new();
        match name.as_slice() {
            b"setex" | b"expire" => places.push((2, Deadline::Seconds)),
            b"psetex" | b"pexpire" => places.push((2, Deadline::Milliseconds)),
            b"set" | b"getex" => {
                for (i, word) in args.iter().enumerate().skip(2) {
                    if word.eq_ignore_ascii_case(b"EX") {
                        places.push((i + 1, Deadline::Seconds));
                    } else if word.eq_ignore_ascii_case(b"PX") {
                        places.push((i + 1, Deadline::Milliseconds));
                    }
                }
            }
            _ => {}
        }
        for (i, kind) in places {
            let Some(value) = args.get(i).and_then(|v| ferrokv::util::parse_i64(v)) else {
                continue;
            };
            let limit = match kind {
                Deadline::Seconds => 100,
                _ => 100_000,
            };
            if (1..limit).contains(&value) {
                self.deadlines += 1;
                args[i] = kind.nth(self.deadlines).to_string().into_bytes();
            }
        }
    }

    fn hostile_value(&mut self) -> Vec<u8> {
        match self.below(8) {
            0 | 1 => self.pick(HOSTILE_INTS).to_vec(),
            2 | 3 => self.pick(FLOATS).to_vec(),
            4 | 5 => self.pick(VALUES).to_vec(),
            6 => self.key(),
            _ => self.big_value(),
        }
    }

    /// A value around the sizes where the servers change strategy: a reply
    /// block or own chunk (16 KB) and a big argument read on its own
    /// (32 KB), so those paths meet every command.
    fn big_value(&mut self) -> Vec<u8> {
        let len = self.pick(&[16_383usize, 16_384, 32_767, 32_768, 32_769, 70_001]);
        let byte = self.pick(b"ab\x00\xff");
        let mut v = vec![byte; len];
        v[len / 2] = b'\n';
        v
    }

    /// SORT's and SORT_RO's options in any order, with BY and GET
    /// patterns that turn the elements the sequence stores (`0`, `1`, `a`,
    /// ...) into its keys (`k1`) and their hash fields (`k1->a`). Never
    /// ALPHA with a BY pattern, nor BY a constant with LIMIT unless it
    /// stores: those follow a set's or sorted set's hash order in Redis
    /// (a random one), and such a reply is compared in any order
    /// (`Norm::for_command`).
    fn sort_args(&mut self, cmd: &Command, mut args: Vec<Vec<u8>>) -> Vec<Vec<u8>> {
        const BY: &[&[u8]] = &[
            b"k*", b"k*", b"k*->a", b"k*->1", b"k*->b", b"*", b"k*->", b"x*", b"k*\x00",
        ];
        const CONSTANT_BY: &[&[u8]] = &[b"nosort", b"k1", b"", b"k1->a"];
        const GET: &[&[u8]] = &[
            b"#", b"k*", b"k*->a", b"k*->1", b"*", b"k*->", b"nokey", b"k#",
        ];
        args.push(self.key());
        let store = cmd.name == "sort" && self.chance(35);
        let mut options: Vec<Vec<Vec<u8>>> = Vec::new();
        let by_pattern = self.chance(40);
        let constant_by = !by_pattern && self.chance(25);
        if by_pattern {
            options.push(vec![self.cased("BY"), self.pick(BY).to_vec()]);
        } else if constant_by {
            options.push(vec![self.cased("BY"), self.pick(CONSTANT_BY).to_vec()]);
        }
        if !by_pattern && self.chance(30) {
            options.push(vec![self.cased("ALPHA")]);
        }
        if (store || !constant_by) && self.chance(40) {
            options.push(vec![self.cased("LIMIT"), self.int(), self.count()]);
        }
        for _ in 0..self.below(3) {
            options.push(vec![self.cased("GET"), self.pick(GET).to_vec()]);
        }
        if self.chance(40) {
            let order = self.pick(&["ASC", "DESC"]);
            options.push(vec![self.cased(order)]);
        }
        if store {
            options.push(vec![self.cased("STORE"), self.key()]);
        }
        if self.chance(5) {
            options.push(vec![
                self.pick(&[&b"STORE"[..], b"LIMIT", b"BY", b"nosuch"])
                    .to_vec(),
            ]);
        }
        // Options in any order, as SORT takes them.
        for i in (1..options.len()).rev() {
            let j = self.below(i + 1);
            options.swap(i, j);
        }
        args.extend(options.into_iter().flatten());
        args
    }

    /// Commands whose arguments the docs do not describe well enough:
    /// arguments that must agree with the connections or stay safe.
    fn special(&mut self, cmd: &Command) -> Option<Vec<Vec<u8>>> {
        if script::SCRIPTING.contains(&cmd.name) {
            return Some(self.scripting(cmd));
        }
        if let Some(args) = self.bitmap(cmd) {
            return Some(args);
        }
        let mut args = self.name_args(cmd);
        let words: &[&str] = match cmd.name {
            // Only what keeps the run deterministic: no long sleeps, and
            // active expiry stays off (the runner turns it off).
            "debug" => {
                // DIGEST-VALUE of the keys the sequence uses: the digest of
                // each value, compared byte for byte.
                if self.chance(30) {
                    args.push(b"DIGEST-VALUE".to_vec());
                    for _ in 0..1 + self.below(3) {
                        args.push(self.key());
                    }
                    return Some(args);
                }
                self.pick(DEBUG_CALLS)
            }
            "config|set" => {
                let n = if self.chance(10) { 2 } else { 1 };
                for _ in 0..n {
                    let (param, value) = if self.chance(80) {
                        let (param, values) = self.pick(ENCODING_LIMITS);
                        (param, self.pick(values))
                    } else {
                        self.pick(CONFIG_SET_OTHER)
                    };
                    args.push(param.as_bytes().to_vec());
                    args.push(value.as_bytes().to_vec());
                }
                return Some(args);
            }
            "client|kill" => {
                match self.below(4) {
                    0 => args.extend([b"ID".to_vec(), self.client_id()]),
                    1 => {
                        let kind = self.pick(&[&b"pubsub"[..], b"master", b"replica", b"nosuch"]);
                        args.extend([b"TYPE".to_vec(), kind.to_vec()]);
                    }
                    2 => args.push(b"127.0.0.1:1".to_vec()),
                    _ => args.extend(
                        [&b"ADDR"[..], b"127.0.0.1:1", b"SKIPME", b"no"].map(<[u8]>::to_vec),
                    ),
                }
                return Some(args);
            }
            "client|unblock" => {
                args.push(self.client_id());
                if self.chance(60) {
                    let reason = self.pick(&[&b"TIMEOUT"[..], b"ERROR", b"error", b"nosuch"]);
                    args.push(reason.to_vec());
                }
                return Some(args);
            }
            // Only timeouts that pause nothing (zero, refused, or summing
            // past i64::MAX, which Redis wraps into the past): a real pause
            // holds the runner's own connections, and when it ends is
            // timing (Redis's cron, ferrokv's timer). tests/pause.rs and
            // tests/diff/client_pause.redis cover real pauses.
            "client|pause" => {
                let timeout = self.pick(&[
                    &b"0"[..],
                    b"-1",
                    b"abc",
                    b"1.5",
                    b"9223372036854775807",
                    b"99999999999999999999",
                ]);
                args.push(timeout.to_vec());
                if self.chance(60) {
                    let mode = self.pick(&[&b"WRITE"[..], b"ALL", b"all", b"nosuch"]);
                    args.push(mode.to_vec());
                }
                return Some(args);
            }
            "sort" | "sort_ro" => return Some(self.sort_args(cmd, args)),
            "client|reply" => self.pick(&[&["ON"][..], &["SKIP"], &["OFF"], &["nosuch"]]),
            "client|no-evict" => self.pick(&[&["on"][..], &["OFF"], &["maybe"]]),
            // No replica ever acknowledges, so WAIT for one blocks until
            // its timeout, for ever with 0; inside MULTI it answers at
            // once. Outside, a WAIT that blocks has a short timeout.
            "wait" => {
                let replicas = self.pick(&["0", "-1", "1", "3", "x", ""]);
                let blocks = matches!(replicas, "1" | "3") && !self.in_multi;
                let timeout = match blocks {
                    true => self.pick(&["10", "-1", "x", "1.5"]),
                    false => self.pick(&["0", "10", "-1", "x", "1.5", "99999999999999999999"]),
                };
                args.extend([replicas, timeout].map(|w| w.as_bytes().to_vec()));
                return Some(args);
            }
            "lolwut" => self.pick(LOLWUT_CALLS),
            "command|getkeys" | "command|getkeysandflags" => {
                let i = self.below(self.commands.len());
                let inner = self.commands[i].0;
                let inner_args = self.special(inner).unwrap_or_else(|| self.docs_args(inner));
                args.extend(inner_args);
                return Some(args);
            }
            "restore" | "restore-asking" => {
                args.push(self.key());
                let absolute = self.chance(30);
                args.push(match self.below(3) {
                    0 => b"0".to_vec(),
                    _ if absolute => self.ttl(AT_MILLISECONDS, Deadline::UnixMilliseconds),
                    _ => self.ttl(TTL_MILLISECONDS, Deadline::Milliseconds),
                });
                let payload = self.pick(PAYLOADS).to_vec();
                args.push(match self.below(20) {
                    // A payload cut short or with a flipped byte: the
                    // checksum catches both.
                    0 => payload[..self.below(payload.len())].to_vec(),
                    1 => {
                        let mut p = payload;
                        let at = self.below(p.len());
                        p[at] ^= 0x20;
                        p
                    }
                    _ => payload,
                });
                if absolute {
                    args.push(self.cased("ABSTTL"));
                }
                for _ in 0..self.below(3) {
                    match self.below(5) {
                        0 | 1 => args.push(self.cased("REPLACE")),
                        2 => args.extend([self.cased("IDLETIME"), self.int()]),
                        3 => args.extend([self.cased("FREQ"), self.int()]),
                        _ => args.push(self.cased("ABSTTL")),
                    }
                }
                return Some(args);
            }
            "xadd" => {
                args.push(self.stream_key());
                let mut options = Vec::new();
                if self.chance(15) {
                    options.push(vec![self.cased("NOMKSTREAM")]);
                }
                // Not often: a trim to a few entries undoes the XADDs
                // before it.
                if self.chance(12) {
                    options.push(self.trim_args());
                }
                if options.len() > 1 && self.chance(30) {
                    options.swap(0, 1);
                }
                args.extend(options.into_iter().flatten());
                args.push(self.xadd_id());
                let pairs = match self.below(20) {
                    0..=10 => 1,
                    11..=15 => 2,
                    16..=18 => 3,
                    _ => 0,
                };
                for _ in 0..pairs {
                    args.push(self.stream_field());
                    args.push(self.pick(VALUES).to_vec());
                }
                if self.chance(4) {
                    args.push(self.stream_field());
                }
                return Some(args);
            }
            "xread" | "xreadgroup" => {
                return Some(self.stream_read(cmd.name == "xreadgroup", None));
            }
            "fcall" | "fcall_ro" => {
                args.push(self.pick(FUNCTION_NAMES).as_bytes().to_vec());
                let keys: Vec<Vec<u8>> = (0..self.below(3)).map(|_| self.key()).collect();
                args.push(if self.chance(5) {
                    self.int()
                } else {
                    self.numkeys(keys.len())
                });
                args.extend(keys);
                for _ in 0..self.below(3) {
                    args.push(self.pick(VALUES).to_vec());
                }
                return Some(args);
            }
            "function|load" => {
                if self.chance(40) {
                    args.push(self.cased("REPLACE"));
                }
                args.push(self.pick(LIBRARIES).as_bytes().to_vec());
                return Some(args);
            }
            "function|delete" => {
                let name = self.pick(&["fz1", "fz2", "fz3", "FZ1", "nosuch"]);
                args.push(name.as_bytes().to_vec());
                return Some(args);
            }
            "function|restore" => {
                // One library's payload (the order of several in a DUMP is
                // each server's hash order), sometimes damaged.
                let code = bytes::Bytes::from_static(self.pick(LIBRARIES).as_bytes());
                let mut payload = ferrokv::persist::rdb::functions_payload(
                    &[code],
                    ferrokv::persist::rdb::Compression::Lzf,
                );
                match self.below(10) {
                    0 => payload.truncate(self.below(payload.len())),
                    1 => {
                        let at = self.below(payload.len());
                        payload[at] ^= 0x20;
                    }
                    _ => {}
                }
                args.push(payload);
                if self.chance(70) {
                    let policy = self.pick(&["FLUSH", "APPEND", "REPLACE", "nosuch"]);
                    args.push(self.cased(policy));
                }
                return Some(args);
            }
            "function|list" => {
                let mut options = Vec::new();
                if self.chance(40) {
                    options.push(vec![self.cased("WITHCODE")]);
                }
                if self.chance(50) {
                    let pattern = self.pick(&["fz*", "fz1", "FZ?", "*", "nosuch"]);
                    options.push(vec![self.cased("LIBRARYNAME"), pattern.as_bytes().to_vec()]);
                }
                if options.len() > 1 && self.chance(50) {
                    options.swap(0, 1);
                }
                args.extend(options.into_iter().flatten());
                return Some(args);
            }
            "function|flush" => self.pick(&[&[][..], &["ASYNC"], &["SYNC"], &["bad"]]),
            "pfadd" => {
                args.push(self.key());
                args.extend(self.hll_elements());
                return Some(args);
            }
            "pfdebug" => {
                // GETREG's reply is 16384 integers: not too often.
                let sub = self.pick(&[
                    "GETREG", "DECODE", "DECODE", "ENCODING", "TODENSE", "nosuch",
                ]);
                args.extend([self.cased(sub), self.key()]);
                return Some(args);
            }
            "setrange" => {
                args.push(self.key());
                let offset = self.pick(&[
                    &b"0"[..],
                    b"1",
                    b"5",
                    b"100",
                    b"10000",
                    b"-1",
                    b"536870911",
                    b"536870912",
                    b"abc",
                ]);
                // 536870911 with a non-empty value needs 512 MB: keep the
                // value empty there, which both answer without growing.
                let value: &[u8] = if offset == b"536870911" {
                    b""
                } else {
                    self.pick(&[&b"x"[..], &b""[..], &b"abc"[..], &b"\x00"[..]])
                };
                args.extend([offset.to_vec(), value.to_vec()]);
                return Some(args);
            }
            _ => return None,
        };
        args.extend(words.iter().map(|w| w.as_bytes().to_vec()));
        Some(args)
    }
}

/// A step compared by its command's rule.
fn step(conn: usize, args: Vec<Vec<u8>>) -> Step {
    let norm = args
        .first()
        .map_or(Norm::Exact, |name| Norm::for_command(&args, name));
    Step {
        conn,
        args,
        norm,
        timeout: None,
    }
}

/// Replaces a min-idle-time (XCLAIM's and XAUTOCLAIM's fifth argument,
/// XPENDING's after IDLE) that a hostile value or a mutation made a small
/// positive number with an hour.
///
/// Whether a pending entry is idle long enough is a matter of time: it
/// became pending at some moment (a read, a claim, a RESTORE), possibly
/// moved back by XCLAIM's IDLE or TIME, and is compared with the
/// threshold a few milliseconds later, by each server's own clock. The
/// pools keep thresholds (0, an hour, 2^31 and 2^32 ms, i64::MAX) far from
/// what entries can be idle for (a few milliseconds plus an IDLE of at
/// most 100 ms, or of two hours, 2^31 or 2^32 ms, or since a TIME in
/// 1970 or 2001); an IDLE equal to a threshold is claimed on both, since
/// time only adds to it. A threshold under 1000 s is one a sequence's
/// duration could cross.
fn defuse_idle_thresholds(args: &mut [Vec<u8>]) {
    let name = args
        .first()
        .map(|a| a.to_ascii_lowercase())
        .unwrap_or_default();
    let mut places = Vec::new();
    match name.as_slice() {
        b"xclaim" | b"xautoclaim" => places.push(4),
        b"xpending" => places.extend(
            (3..args.len())
                .filter(|&i| args[i - 1].eq_ignore_ascii_case(b"IDLE"))
                .collect::<Vec<_>>(),
        ),
        _ => {}
    }
    for i in places {
        let Some(value) = args.get(i).and_then(|v| ferrokv::util::parse_i64(v)) else {
            continue;
        };
        if (1..1_000_000).contains(&value) {
            args[i] = b"3600000".to_vec();
        }
    }
}

/// The kinds of TTL arguments. Future deadlines are at least 100 s away
/// (so nothing expires while a sequence runs) and no two in a sequence
/// are within 50 s of each other: EXPIRE ... GT or LT compares a new
/// deadline with the current one, and two relative TTLs of the same
/// length, given a moment apart, differ by however many milliseconds
/// passed, which the two servers need not agree on.
#[derive(Clone, Copy)]
enum Deadline {
    Seconds,
    Milliseconds,
    UnixSeconds,
    UnixMilliseconds,
}

impl Deadline {
    fn nth(self, n: u64) -> u64 {
        match self {
            Deadline::Seconds => 100 + 1000 * n,
            Deadline::Milliseconds => 150_000 + 1_000_000 * n,
            Deadline::UnixSeconds => 4_102_444_800 + 1000 * n,
            Deadline::UnixMilliseconds => 4_102_444_800_500 + 1_000_000 * n,
        }
    }
}

/// DUMP payloads made by redis-server 7.0.15 for RESTORE to take: a
/// string in each encoding (raw, integer, LZF), a list of one node and of
/// several, a listpack hash, an intset, a string set, a hash table, an
/// empty string, and two streams: one of two nodes (1-1 and 2-0, one of
/// them with other fields than its node's first entry, and 1-2 deleted),
/// and one of 1-1 and 2-1 with groups g1 (both entries pending for c1,
/// delivered twice, in 2001, so idle past any threshold; c2 with none)
/// and g2 (at the end, no entries read: entries-read unknown). Hostile payloads are the unit tests' business
/// (`persist::rdb`): Redis without `sanitize-dump-payload` may crash on
/// one, which would end the run.
const PAYLOADS: &[&[u8]] = &[
    b"\x00\x05\x68\x65\x6c\x6c\x6f\x0a\x00\x63\x72\xdf\x76\x65\x34\x20\x0a",
    b"\x00\xc1\x39\x30\x0a\x00\x9d\x94\xea\x27\x93\xfc\x08\xb9",
    b"\x00\xc3\x09\x28\x01\x78\x78\xe0\x1b\x00\x01\x78\x78\x0a\x00\x7a\x1d\x6c\xce\xa5\x40\x13\x33",
    b"\x12\x01\x02\x12\x12\x00\x00\x00\x04\x00\x81\x61\x02\x81\x62\x02\x01\x01\xdf\xfe\x02\xff\x0a\x00\x8c\xb4\x77\xbe\x86\xad\x25\x32",
    b"\x10\x12\x12\x00\x00\x00\x04\x00\x81\x66\x02\x81\x76\x02\x81\x6e\x02\x01\x01\xff\x0a\x00\xfc\xe4\x08\xf1\x79\x22\xe0\x16",
    b"\x0b\x14\x04\x00\x00\x00\x03\x00\x00\x00\x01\x00\x00\x00\x02\x00\x00\x00\xe0\x93\x04\x00\x0a\x00\x74\x2f\x33\x48\x48\x6c\x6a\x39",
    b"\x02\x02\x01\x62\x01\x61\x0a\x00\x75\xd9\x9d\x83\x5e\xf8\x5f\x65",
    b"\x04\x01\x01\x66\xc3\x09\x40\x64\x01\x79\x79\xe0\x57\x00\x01\x79\x79\x0a\x00\x82\xf8\x26\x8f\xfe\x40\xbc\xdb",
    b"\x12\x01\x02\xc3\x44\xc6\x46\xa1\x0c\xa1\x06\x00\x00\x2c\x01\x82\x65\x30\x03\x82\x65\x31\x20\x03\x00\x32\x20\x03\x00\x33\x20\x03\x00\x34\x20\x03\x00\x35\x20\x03\x00\x36\x20\x03\x00\x37\x20\x03\x00\x38\x20\x03\x06\x39\x03\x83\x65\x31\x30\x04\x20\x04\x00\x31\x40\x04\x00\x32\x40\x04\x00\x33\x40\x04\x00\x34\x40\x04\x00\x35\x40\x04\x00\x36\x40\x04\x00\x37\x40\x04\x00\x38\x40\x04\x00\x39\x20\x04\x00\x32\x40\x31\x00\x32\x40\x31\x00\x32\x40\x31\x00\x32\x40\x31\x00\x32\x40\x31\x00\x32\x40\x31\x00\x32\x40\x31\x00\x32\x40\x31\x00\x32\x40\x31\x00\x32\x40\x31\x00\x33\x40\x31\x00\x33\x40\x31\x00\x33\x40\x31\x00\x33\x40\x31\x00\x33\x40\x31\x00\x33\x40\x31\x00\x33\x40\x31\x00\x33\x40\x31\x00\x33\x40\x31\x00\x33\x40\x31\x00\x34\x40\x31\x00\x34\x40\x31\x00\x34\x40\x31\x00\x34\x40\x31\x00\x34\x40\x31\x00\x34\x40\x31\x00\x34\x40\x31\x00\x34\x40\x31\x00\x34\x40\x31\x00\x34\x40\x31\x00\x35\x40\x31\x00\x35\x40\x31\x00\x35\x40\x31\x00\x35\x40\x31\x00\x35\x40\x31\x00\x35\x40\x31\x00\x35\x40\x31\x00\x35\x40\x31\x00\x35\x40\x31\x00\x35\x40\x31\x00\x36\x40\x31\x00\x36\x40\x31\x00\x36\x40\x31\x00\x36\x40\x31\x00\x36\x40\x31\x00\x36\x40\x31\x00\x36\x40\x31\x00\x36\x40\x31\x00\x36\x40\x31\x00\x36\x40\x31\x00\x37\x40\x31\x00\x37\x40\x31\x00\x37\x40\x31\x00\x37\x40\x31\x00\x37\x40\x31\x00\x37\x40\x31\x00\x37\x40\x31\x00\x37\x40\x31\x00\x37\x40\x31\x00\x37\x40\x31\x00\x38\x40\x31\x00\x38\x40\x31\x00\x38\x40\x31\x00\x38\x40\x31\x00\x38\x40\x31\x00\x38\x40\x31\x00\x38\x40\x31\x00\x38\x40\x31\x00\x38\x40\x31\x00\x38\x40\x31\x00\x39\x40\x31\x00\x39\x40\x31\x00\x39\x40\x31\x00\x39\x40\x31\x00\x39\x40\x31\x00\x39\x40\x31\x00\x39\x40\x31\x00\x39\x40\x31\x00\x39\x40\x31\x03\x39\x39\x04\x84\x21\xc1\x01\x30\x05\x40\x05\x00\x31\x60\x05\x00\x32\x60\x05\x00\x33\x60\x05\x00\x34\x60\x05\x00\x35\x60\x05\x00\x36\x60\x05\x00\x37\x60\x05\x00\x38\x60\x05\x00\x39\x40\x05\x00\x31\x60\x3b\x00\x31\x60\x3b\x00\x31\x60\x3b\x00\x31\x60\x3b\x00\x31\x60\x3b\x00\x31\x60\x3b\x00\x31\x60\x3b\x00\x31\x60\x3b\x00\x31\x60\x3b\x00\x31\x60\x3b\x00\x32\x60\x3b\x00\x32\x60\x3b\x00\x32\x60\x3b\x00\x32\x60\x3b\x00\x32\x60\x3b\x00\x32\x60\x3b\x00\x32\x60\x3b\x00\x32\x60\x3b\x00\x32\x60\x3b\x00\x32\x60\x3b\x00\x33\x60\x3b\x00\x33\x60\x3b\x00\x33\x60\x3b\x00\x33\x60\x3b\x00\x33\x60\x3b\x00\x33\x60\x3b\x00\x33\x60\x3b\x00\x33\x60\x3b\x00\x33\x60\x3b\x00\x33\x60\x3b\x00\x34\x60\x3b\x00\x34\x60\x3b\x00\x34\x60\x3b\x00\x34\x60\x3b\x00\x34\x60\x3b\x00\x34\x60\x3b\x00\x34\x60\x3b\x00\x34\x60\x3b\x00\x34\x60\x3b\x00\x34\x60\x3b\x00\x35\x60\x3b\x00\x35\x60\x3b\x00\x35\x60\x3b\x00\x35\x60\x3b\x00\x35\x60\x3b\x00\x35\x60\x3b\x00\x35\x60\x3b\x00\x35\x60\x3b\x00\x35\x60\x3b\x00\x35\x60\x3b\x00\x36\x60\x3b\x00\x36\x60\x3b\x00\x36\x60\x3b\x00\x36\x60\x3b\x00\x36\x60\x3b\x00\x36\x60\x3b\x00\x36\x60\x3b\x00\x36\x60\x3b\x00\x36\x60\x3b\x00\x36\x60\x3b\x00\x37\x60\x3b\x00\x37\x60\x3b\x00\x37\x60\x3b\x00\x37\x60\x3b\x00\x37\x60\x3b\x00\x37\x60\x3b\x00\x37\x60\x3b\x00\x37\x60\x3b\x00\x37\x60\x3b\x00\x37\x60\x3b\x00\x38\x60\x3b\x00\x38\x60\x3b\x00\x38\x60\x3b\x00\x38\x60\x3b\x00\x38\x60\x3b\x00\x38\x60\x3b\x00\x38\x60\x3b\x00\x38\x60\x3b\x00\x38\x60\x3b\x00\x38\x60\x3b\x00\x39\x60\x3b\x00\x39\x60\x3b\x00\x39\x60\x3b\x00\x39\x60\x3b\x00\x39\x60\x3b\x00\x39\x60\x3b\x00\x39\x60\x3b\x00\x39\x60\x3b\x00\x39\x60\x3b\x00\x39\x40\x3b\x00\x32\x62\x57\x00\x32\x62\x57\x00\x32\x62\x57\x00\x32\x62\x57\x00\x32\x62\x57\x00\x32\x62\x57\x00\x32\x62\x57\x00\x32\x62\x57\x00\x32\x62\x57\x00\x32\x62\x57\x00\x32\x62\x57\x00\x32\x62\x57\x00\x32\x62\x57\x00\x32\x62\x57\x00\x32\x62\x57\x00\x32\x62\x57\x00\x32\x62\x57\x00\x32\x62\x57\x00\x32\x62\x57\x00\x32\x62\x57\x00\x32\x62\x57\x00\x32\x62\x57\x00\x32\x62\x57\x00\x32\x62\x57\x00\x32\x62\x57\x00\x32\x62\x57\x00\x32\x62\x57\x00\x32\x62\x57\x00\x32\x62\x57\x00\x32\x62\x57\x00\x32\x62\x57\x00\x32\x62\x57\x00\x32\x62\x57\x00\x32\x62\x57\x00\x32\x62\x57\x00\x32\x62\x57\x00\x32\x62\x57\x00\x32\x62\x57\x00\x32\x62\x57\x00\x32\x62\x57\x00\x32\x62\x57\x00\x32\x62\x57\x00\x32\x62\x57\x00\x32\x62\x57\x00\x32\x62\x57\x00\x32\x62\x57\x00\x32\x62\x57\x00\x32\x62\x57\x00\x32\x62\x57\x00\x32\x62\x57\x00\x32\x62\x57\x00\x32\x62\x57\x00\x32\x62\x57\x00\x32\x62\x57\x00\x32\x62\x57\x00\x32\x62\x57\x01\x32\x35\x41\x67\x01\x32\x35\x41\x67\x01\x32\x35\x41\x67\x01\x32\x35\x61\x67\x62\x57\x01\x32\x36\x41\xa3\x01\x32\x36\x41\xa3\x01\x32\x36\x41\xa3\x01\x32\x36\x41\xa3\x01\x32\x36\x41\xa3\x01\x32\x36\x60\x3b\x62\x57\x00\x32\x62\x57\x00\x32\x62\x57\x00\x32\x62\x57\x00\x32\x62\x57\x00\x32\x62\x57\x00\x32\x62\x57\x00\x32\x62\x57\x00\x32\x62\x57\x00\x32\x62\x57\x00\x32\x62\x57\x00\x32\x62\x57\x00\x32\x62\x57\x00\x32\x62\x57\x00\x32\x62\x57\x00\x32\x62\x57\x00\x32\x62\x57\x00\x32\x62\x57\x00\x32\x62\x57\x00\x32\x62\x57\x00\x32\x62\x57\x00\x32\x62\x57\x00\x32\x62\x57\x00\x32\x62\x57\x00\x32\x62\x57\x00\x32\x62\x57\x00\x32\x62\x57\x00\x32\x62\x57\x00\x32\x62\x57\x00\x32\x62\x57\x00\x32\x62\x57\x00\x32\x62\x57\x00\x32\x22\x57\x00\xff\x0a\x00\xb7\xdd\x49\x82\xb0\x68\xc2\x96",
    b"\x00\x00\x0a\x00\x5d\x9b\x5c\x40\x0f\x7f\xa2\xda",
    b"\x13\x02\x10\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x01\x29\x29\x00\x00\x00\x0f\x00\x01\x01\x01\x01\x01\x01\x81\x66\x02\x00\x01\x02\x01\x00\x01\x00\x01\x81\x76\x02\x04\x01\x03\x01\x00\x01\x01\x01\x82\x76\x32\x03\x04\x01\xff\x10\x00\x00\x00\x00\x00\x00\x00\x02\x00\x00\x00\x00\x00\x00\x00\x00\x23\x23\x00\x00\x00\x0c\x00\x01\x01\x00\x01\x02\x01\x81\x66\x02\x81\x67\x02\x00\x01\x02\x01\x00\x01\x00\x01\x81\x76\x02\x81\x77\x02\x05\x01\xff\x02\x02\x00\x01\x01\x01\x02\x03\x00\x0a\x00\x8c\xd6\x3b\xdf\x2c\xb0\x35\x3c",
    b"\x13\x01\x10\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x01\x28\x28\x00\x00\x00\x0f\x00\x02\x01\x00\x01\x01\x01\x81\x66\x02\x00\x01\x02\x01\x00\x01\x00\x01\x81\x76\x02\x04\x01\x02\x01\x01\x01\x00\x01\x81\x76\x02\x04\x01\xff\x02\x02\x01\x01\x01\x00\x00\x02\x02\x02\x67\x31\x02\x01\x02\x02\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x01\x00\x10\xa5\xd4\xe8\x00\x00\x00\x02\x00\x00\x00\x00\x00\x00\x00\x02\x00\x00\x00\x00\x00\x00\x00\x01\x00\x10\xa5\xd4\xe8\x00\x00\x00\x02\x02\x02\x63\x31\x40\xf9\x91\x38\xa2\x01\x00\x00\x02\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x02\x00\x00\x00\x00\x00\x00\x00\x01\x02\x63\x32\x51\xf9\x91\x38\xa2\x01\x00\x00\x00\x02\x67\x32\x02\x01\x81\xff\xff\xff\xff\xff\xff\xff\xff\x00\x00\x0a\x00\xf7\xeb\x73\x8f\xd1\x47\x5a\xda",
];

/// The stream with groups among [`PAYLOADS`] (for the normalization's
/// tests).
pub fn stream_payload_with_groups() -> &'static [u8] {
    PAYLOADS[PAYLOADS.len() - 1]
}

/// DEBUG subcommands that keep a run deterministic.
/// LOLWUT's arguments: Redis 7.0's version line, Schotter with at most
/// two rows (the rows below move at random), a small skyline (random,
/// compared by shape) and errors. Never large: Redis takes seconds to
/// draw the largest.
const LOLWUT_CALLS: &[&[&str]] = &[
    &[],
    &["10", "20"],
    &["VERSION"],
    &["VERSION", "7"],
    &["VERSION", "x"],
    &["VERSION", "5", "10", "2", "2"],
    &["VERSION", "5", "3", "1", "1"],
    &["VERSION", "5", "x"],
    &["VERSION", "6", "8", "4"],
    &["VERSION", "6", "x"],
];

/// Commands whose generated arguments are never made hostile: DEBUG's
/// would stall both servers (a long SLEEP), WAIT's would block for ever,
/// LOLWUT's would draw for seconds.
pub const SAFE_ARGS_ONLY: &[&str] = &["debug", "wait", "lolwut"];

const DEBUG_CALLS: &[&[&str]] = &[
    &["SLEEP", "0"],
    &["SET-ACTIVE-EXPIRE", "0"],
    &["sleep", "0"],
    &["NOSUCH"],
    &["SLEEP"],
    &["DIGEST"],
    &["digest", "x"],
    &["DIGEST-VALUE"],
    &["PROTOCOL", "map"],
    &["PROTOCOL", "double"],
    &["PROTOCOL", "bignum"],
    &["PROTOCOL", "nosuch"],
    &["HTSTATS", "99"],
    &["QUICKLIST-PACKED-THRESHOLD", "0"],
    &["QUICKLIST-PACKED-THRESHOLD", "5gb"],
    &["OBJECT"],
    &["ERROR", "ERR from DEBUG"],
    &["CHANGE-REPL-ID"],
    &["POPULATE", "3"],
    &["POPULATE", "2", "k0", "5"],
];

/// Blocking timeouts, and how each behaves in Redis.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Timeout {
    /// Waits until a write serves it (or for at least 1000 s).
    Long,
    /// Times out within milliseconds, so its reply is awaited.
    Short,
    /// An error, answered at once.
    Invalid,
}

const TIMEOUTS: &[(&str, Timeout)] = &[
    ("0", Timeout::Long),
    ("0.0", Timeout::Long),
    ("-0", Timeout::Long),
    ("-0.0004", Timeout::Long),
    ("-0.001", Timeout::Long),
    ("-1e-3", Timeout::Long),
    ("1000", Timeout::Long),
    ("1e3", Timeout::Long),
    ("0x3e8", Timeout::Long),
    ("9223372036854775", Timeout::Long),
    ("0.0001", Timeout::Short),
    ("0.001", Timeout::Short),
    ("0.01", Timeout::Short),
    ("1e-7", Timeout::Short),
    ("-1", Timeout::Invalid),
    ("-0.0015", Timeout::Invalid),
    ("abc", Timeout::Invalid),
    ("inf", Timeout::Invalid),
    ("1e309", Timeout::Invalid),
    ("nan", Timeout::Invalid),
    (" 1", Timeout::Invalid),
    ("", Timeout::Invalid),
];

/// XREAD and XREADGROUP's BLOCK, in milliseconds, and how each behaves
/// in Redis 7.0. i64::MAX overflows when Redis adds the clock to it, and
/// the client waits (a deadline that never comes, in its timeout table).
const BLOCK_MILLISECONDS: &[(&str, Timeout)] = &[
    ("0", Timeout::Long),
    ("0", Timeout::Long),
    ("1000000", Timeout::Long),
    ("9223372036854775", Timeout::Long),
    ("9223372036854775807", Timeout::Long),
    ("1", Timeout::Short),
    ("2", Timeout::Short),
    ("10", Timeout::Short),
    ("-1", Timeout::Invalid),
    ("-0", Timeout::Invalid),
    ("1.5", Timeout::Invalid),
    ("0.001", Timeout::Invalid),
    ("abc", Timeout::Invalid),
    ("", Timeout::Invalid),
    (" 1", Timeout::Invalid),
    ("1e3", Timeout::Invalid),
    ("9223372036854775808", Timeout::Invalid),
];

/// Stream IDs that mostly name entries (or the gaps between them): small,
/// so that they collide.
const STREAM_IDS: &[&[u8]] = &[
    b"0-1", b"1-0", b"1-1", b"1-2", b"2-0", b"2-1", b"3-0", b"3-1", b"5-5", b"5", b"1", b"0",
    b"0-0", b"-", b"+", b"$", b">", b"(1-1", b"(5", b"(2-0",
];
/// Stream IDs that are special, out of range or malformed.
const ODD_STREAM_IDS: &[&[u8]] = &[
    b"5-*",
    b"1-*",
    b"(-",
    b"(+",
    b"(0-0",
    b"(18446744073709551615-18446744073709551615",
    b"18446744073709551615-18446744073709551615",
    b"18446744073709551615-*",
    b"18446744073709551615",
    b"18446744073709551616-0",
    b"1-18446744073709551616",
    b"1-18446744073709551615",
    b"abc",
    b"1-",
    b"-1",
    b"-1-1",
    b"1--1",
    b"+1-1",
    b"",
    b" 1-1",
    b"1-1 ",
    b"1.5",
    b"0x10",
    b"*",
    b"(",
    b"((1-1",
];
/// MAXLEN's lengths.
const TRIM_LENGTHS: &[&[u8]] = &[
    b"0",
    b"1",
    b"2",
    b"3",
    b"5",
    b"10",
    b"-1",
    b"abc",
    b"",
    b"9223372036854775807",
    b"9223372036854775808",
];
/// Group and consumer names: few, so that they meet.
const GROUPS: &[&[u8]] = &[b"g1", b"g1", b"g1", b"g2", b"g2", b"G1", b""];
const CONSUMERS: &[&[u8]] = &[b"c1", b"c1", b"c1", b"c2", b"c2", b"C1", b""];
/// XCLAIM's, XAUTOCLAIM's and XPENDING's min-idle-time: zero, an hour and
/// more, never a few milliseconds (see `defuse_idle_thresholds`).
const MIN_IDLE_TIMES: &[&[u8]] = &[
    b"0",
    b"0",
    b"0",
    b"3600000",
    b"3600000",
    b"-1",
    b"2147483648",
    b"9223372036854775807",
    b"-9223372036854775808",
    b"abc",
    b"",
    b"1.5",
    b" 0",
];
/// XGROUP CREATE's and SETID's ENTRIESREAD. No count near i64::MAX:
/// Redis adds each entry a group reads to it, past i64::MAX (undefined in
/// C; it wraps), and then propagates XGROUP SETID ... ENTRIESREAD with
/// the negative count, which its own AOF replay refuses (seed 5 of
/// redis-server against itself); out of range is hostile enough.
const ENTRIES_READ: &[&[u8]] = &[
    b"0",
    b"1",
    b"2",
    b"3",
    b"5",
    b"100",
    b"-1",
    b"-2",
    b"abc",
    b"",
    b"1.5",
    b"9223372036854775808",
];
/// XCLAIM's IDLE: the delivery time it sets is the server's clock minus
/// this, so it is only ever compared with thresholds far from it.
const CLAIM_IDLE_TIMES: &[&[u8]] = &[
    b"0",
    b"7200000",
    b"7200000",
    b"100",
    b"-1",
    b"2147483648",
    b"9223372036854775807",
    b"abc",
];

/// Encoding thresholds worth moving (small limits make conversions happen
/// in short sequences), with values, hostile ones included.
pub const ENCODING_LIMITS: &[(&str, &[&str])] = &[
    (
        "hash-max-listpack-entries",
        &["2", "4", "8", "128", "0", "-1", "abc"],
    ),
    ("hash-max-listpack-value", &["4", "8", "64", "0"]),
    ("hash-max-ziplist-entries", &["3", "128"]),
    ("set-max-intset-entries", &["2", "4", "512", "0", "abc"]),
    (
        "list-max-listpack-size",
        &["1", "2", "4", "-1", "-2", "-5", "-6", "0", "abc"],
    ),
    ("list-max-ziplist-size", &["3", "-2"]),
    (
        "zset-max-listpack-entries",
        &["2", "4", "8", "128", "0", "-1", "abc"],
    ),
    ("zset-max-listpack-value", &["4", "8", "64", "0"]),
    ("zset-max-ziplist-entries", &["3", "128"]),
    // Stream nodes split at these (0 is no limit): small ones split them
    // after every entry or few, which approximate trimming (whole nodes
    // only) and the DUMP comparison see.
    (
        "stream-node-max-entries",
        &["1", "2", "3", "100", "0", "-1", "abc"],
    ),
    (
        "stream-node-max-bytes",
        &["1", "50", "200", "4096", "0", "1kb", "-1"],
    ),
    // A sparse HyperLogLog becomes dense past this many bytes.
    (
        "hll-sparse-max-bytes",
        &["0", "20", "100", "300", "3000", "-1", "abc"],
    ),
];

/// Other CONFIG SET calls that stay deterministic: no timeouts, ports or
/// files; errors of every kind. (Not even an invalid port: a mutation may
/// replace the value with one Redis binds, and the run loses its
/// reference server, as seed 5150 did.)
const CONFIG_SET_OTHER: &[(&str, &str)] = &[
    // Keyspace notifications, seen by a connection subscribed to the
    // `__key*__:*` pattern (one of PATTERNS).
    ("notify-keyspace-events", "KEA"),
    ("notify-keyspace-events", "KEAnm"),
    ("notify-keyspace-events", "Elgs$hx"),
    ("notify-keyspace-events", "Kd"),
    ("notify-keyspace-events", ""),
    ("slowlog-max-len", "3"),
    ("slowlog-max-len", "128"),
    // Read as a C string: the NUL ends the value.
    ("slowlog-max-len", "5\0junk"),
    // Passwords: MONITOR and the slow log show them redacted.
    ("masterauth", "secret"),
    ("masteruser", "someone"),
    ("slowlog-log-slower-than", "0"),
    ("slowlog-log-slower-than", "-1"),
    ("maxmemory-policy", "noeviction"),
    ("maxmemory-policy", "nosuch"),
    // Over the limit at once: under noeviction (the only policy set here,
    // the others evict in a random order) denyoom commands answer OOM,
    // and in MULTI everything queued; more often lifted again.
    ("maxmemory", "1"),
    ("maxmemory", "0"),
    ("maxmemory", "0"),
    ("maxmemory-samples", "0"),
    ("maxmemory-eviction-tenacity", "101"),
    ("nosuch-parameter", "1"),
    ("daemonize", "yes"),
    ("hash-max-listpack-entries", "99999999999999999999"),
    ("proto-max-bulk-len", "1"),
    ("list-compress-depth", "1"),
    ("list-compress-depth", "0"),
];

const DBS: &[&[u8]] = &[b"0", b"1", b"2", b"15", b"16", b"-1", b"abc", b"9999999999"];
const CURSORS: &[&[u8]] = &[
    b"0",
    b"0",
    b"0",
    b"1",
    b"7",
    b"abc",
    b"-1",
    b"18446744073709551615",
    b"18446744073709551616",
];
/// TTL arguments other than future deadlines.
const TTL_SECONDS: &[&[u8]] = &[
    b"0",
    b"-1",
    b"9223372036854775807",
    b"9223372036854776",
    b"abc",
    b"1.5",
];
const TTL_MILLISECONDS: &[&[u8]] = &[
    b"0",
    b"-1",
    b"9223372036854775807",
    b"-9223372036854775808",
    b"abc",
];
const AT_SECONDS: &[&[u8]] = &[
    b"1",
    b"1000000000",
    b"0",
    b"-1",
    b"9223372036854775807",
    b"9223372036854775",
    b"abc",
];
const AT_MILLISECONDS: &[&[u8]] = &[
    b"1",
    b"1000000000000",
    b"0",
    b"-1",
    b"9223372036854775807",
    b"abc",
];
const INFO_SECTIONS: &[&[u8]] = &[
    b"server",
    b"clients",
    b"keyspace",
    b"stats",
    b"nosuch",
    b"default",
    b"all",
    b"commandstats",
    b"errorstats",
    b"CLIENTS",
];
const CONFIG_PARAMETERS: &[&[u8]] = &[
    b"hash-max-listpack-entries",
    b"set-max-intset-entries",
    b"list-max-listpack-size",
    b"hash-*",
    b"*max-*-entries",
    b"maxmemory",
    b"nosuch",
    b"slowlog*",
    b"list-*",
];
const COMMAND_NAMES: &[&[u8]] = &[
    b"get",
    b"SET",
    b"client",
    b"client|list",
    b"nosuch",
    b"blpop",
    b"lmpop",
    b"config|get",
    b"",
];
const PATTERNS: &[&[u8]] = &[
    b"__key*__:*",
    b"*",
    b"k*",
    b"k[0-2]",
    b"?1",
    b"\\*",
    b"[",
    b"[^k]*",
    b"k[a-",
    b"*\x00*",
    b"",
    b"K*",
    b"k?",
];
const TYPES: &[&[u8]] = &[
    b"string", b"list", b"hash", b"set", b"zset", b"stream", b"nosuch", b"STRING",
];
const NAMES: &[&[u8]] = &[b"conn", b"", b"a b", b"x\ny", b"name-1"];
const SMALL_INTS: &[&[u8]] = &[
    b"0", b"1", b"2", b"3", b"-1", b"-2", b"5", b"10", b"-5", b"100",
];
/// Integers that are out of range, not integers, or written oddly. No
/// large negative number that Redis accepts: as a count for SRANDMEMBER or
/// HRANDFIELD it asks for that many elements, and both servers would
/// build the reply (i64::MIN is refused by both).
const HOSTILE_INTS: &[&[u8]] = &[
    b"9223372036854775807",
    b"-9223372036854775808",
    b"9223372036854775808",
    b"-9223372036854775809",
    b"4294967296",
    b"2147483648",
    b"abc",
    b"",
    b"1.5",
    b" 1",
    b"1 ",
    b"+1",
    b"01",
    b"-0",
    b"0x1",
    b"1e3",
];
/// Geo longitudes: a cluster around Sicily, the antimeridian, and invalid.
const GEO_LONGITUDES: &[&[u8]] = &[
    b"13.361389",
    b"15.087269",
    b"14",
    b"13.5",
    b"0",
    b"180",
    b"-180",
    b"179.99",
    b"-179.99",
    b"181",
    b"abc",
];

/// Geo latitudes: a cluster around Sicily, the limits, and invalid.
const GEO_LATITUDES: &[&[u8]] = &[
    b"38.115556",
    b"37.502669",
    b"38",
    b"37.9",
    b"0",
    b"85.05112878",
    b"-85.05112878",
    b"-80.5",
    b"86",
    b"abc",
];

/// Geo radii and box sides (in any unit).
const GEO_DISTANCES: &[&[u8]] = &[
    b"0", b"1", b"50", b"200", b"1000", b"5000", b"300000", b"2e7", b"inf", b"-1", b"abc",
];

const FLOATS: &[&[u8]] = &[
    b"0",
    b"1.5",
    b"-1.5",
    b"10",
    b"inf",
    b"-inf",
    b"+inf",
    b"nan",
    b"1e309",
    b"-1e309",
    b"1e-309",
    b" 1",
    b"1 ",
    b"0x10",
    b"1e3",
    b"abc",
    b"",
    b".5",
    b"5.",
    b"-0",
    b"0.1",
    b"3.0000000000000001",
    b"1e308",
    b"9223372036854775807",
];
/// Bounds of sorted-set ranges: ranks, scores (inclusive, `(` exclusive,
/// infinite, malformed) and lex items (`[a`, `(a`, `-`, `+`, malformed).
const RANGE_BOUNDS: &[&[u8]] = &[
    b"0",
    b"1",
    b"2",
    b"-1",
    b"-2",
    b"5",
    b"1.5",
    b"(1",
    b"(1.5",
    b"-inf",
    b"+inf",
    b"inf",
    b"(inf",
    b"(-inf",
    b"(",
    b"nan",
    b"abc",
    b"",
    b" 1",
    b"0x10",
    b"-",
    b"+",
    b"[a",
    b"(a",
    b"[c",
    b"(c",
    b"[",
    b"[\x00\xff",
    b"a",
    b"9223372036854775807",
    b"-9223372036854775808",
];
/// Hash fields, set members and list elements; the long one is past a
/// small encoding's 64-byte value limit.
const MEMBERS: &[&[u8]] = &[
    b"a",
    b"b",
    b"c",
    b"d",
    b"e",
    b"1",
    b"2",
    b"3",
    b"-1",
    b"100",
    b"1.5",
    b"",
    b"\x00\xff",
    b"9223372036854775807",
    b"18446744073709551616",
    b"a-member-longer-than-the-sixty-four-bytes-of-a-small-listpack-value-x",
];
/// String values; the long one is past the 44 bytes of an embedded string.
const VALUES: &[&[u8]] = &[
    b"v",
    b"abc",
    b"1",
    b"-1",
    b"0",
    b"10",
    b"3.5",
    b"1e3",
    b"",
    b"\x00\r\n",
    b"9223372036854775807",
    b"-9223372036854775808",
    b"9223372036854775808",
    b"a-string-of-forty-five-bytes-past-embstr-xxxx",
    b"  1",
    b"1 ",
    b"0x10",
    b"inf",
    b"nan",
    b"+1",
    b"01",
];
