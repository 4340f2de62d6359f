//! Crash durability of the append-only file (`src/persist/aof/`): a server
//! killed with SIGKILL while clients write, restarted from the files it
//! left, holds every write it acknowledged.
//!
//! SIGKILL ends the process but not the machine: what the server handed
//! to write(2) is in the page cache and reaches the next process whatever
//! the fsync policy. So under `appendfsync always`, `everysec` and `no`
//! alike, a reply is a promise that its write is in the file, because the
//! loop writes the AOF buffer before any reply of the same iteration
//! (`persist::aof::flush`). What a crash may lose is only what was sent
//! and not yet answered.
//!
//! # Layout
//!
//! - [`Writer`] is one client thread's workload: seeded random writes to
//!   keys only it touches (`w<id>:...`): SET of a new key (now and then a
//!   value of tens of KB, so that one write of the AOF spans pages), INCR
//!   of a few counters, RPUSH to a list, HSET over a few fields, and
//!   MULTI/EXEC blocks that touch three keys at once. It checks every
//!   reply against its model ([`Model`]) of its keys, and remembers the
//!   state its acknowledged writes made and the one write it may have
//!   sent when the server died.
//! - [`crash`] runs writers against a server, sends SIGKILL once a seeded
//!   number of writes were acknowledged, and hands back the writers and
//!   the files the server left in `appendonlydir/`.
//! - [`check_writer`] compares what a restarted server holds with a
//!   writer's model. One writer's writes are sequential and the file is
//!   appended in order, so its keys must be exactly the state after its
//!   acknowledged writes, or after those and the one in flight. That
//!   covers each write singly: every acknowledged SET and HSET is there,
//!   a counter is at least its acknowledged INCRs and at most the sent
//!   ones, a list holds the acknowledged elements in order, and a
//!   transaction is there whole or not at all (its three keys agree).
//! - The tests: SIGKILL under each fsync policy, several seeded rounds
//!   each, and under `everysec` once more while a slow background fsync
//!   runs; SIGKILL in the middle of a slowed BGREWRITEAOF; two restarts
//!   after clean SHUTDOWNs; and files whose last command or transaction
//!   was cut short, each restarted twice with writes in between.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::thread;
use std::time::Duration;

use common::dataset::Key;
use common::replies::{
    abbreviated, bulks, call, command, expect_reply, persistence_info, pipeline,
};
use common::{Client, Frame, Server, escape, random_bytes};
use ferrokv::util::Rng;

/// Client threads writing at once.
const WRITERS: usize = 4;
/// Seeded rounds (start, write, kill, restart, check) per fsync policy.
const ROUNDS: usize = 5;
/// The SIGKILL comes after this many acknowledged writes, plus a seeded
/// number below [`KILL_SPREAD`], counted over all writers.
const KILL_MIN: u64 = 100;
const KILL_SPREAD: u64 = 900;
/// A writer stops on its own after this many writes; only a server that
/// is never killed lets it get there.
const MAX_OPS_PER_WRITER: usize = 20_000;
/// How long the writers get to reach the kill point. Only a server that
/// hangs comes near it.
const WRITE_PHASE_TIMEOUT: Duration = Duration::from_secs(20);
/// How long a condition polled for (a process exiting, a rewrite ending)
/// may take.
const CONDITION_TIMEOUT: Duration = Duration::from_secs(10);
/// Counters, and hash fields, per writer: few, so that INCR and HSET
/// mostly change what is there.
const COUNTERS: u64 = 4;
const HASH_FIELDS: u64 = 16;
/// One SET in this many has a big value, between [`BIG_VALUE_MIN`] and
/// twice that.
const BIG_VALUE_ONE_IN: u64 = 20;
const BIG_VALUE_MIN: usize = 16 * 1024;
/// Keys written before the rewrite of [`a_rewrite_killed_midway_loses_no_acknowledged_write`]
/// starts; with [`REWRITE_KEY_DELAY_US`] the rewrite walks them for far
/// longer than the writers take to reach the kill.
const REWRITE_FILL_KEYS: usize = 4_000;
/// `rdb-key-save-delay` for that rewrite, in microseconds: the snapshot
/// writes one key per pass of the loop, and an idle loop comes back this
/// often.
const REWRITE_KEY_DELAY_US: &str = "200";
/// The write that makes the first fsync of
/// [`everysec_writes_what_it_acknowledges_while_an_fsync_runs`] slow (tens
/// of milliseconds on a fast SSD), the SETs acknowledged right after it,
/// and the seed of its bytes.
const DIRTY_BYTES: usize = 32 << 20;
const WRITES_DURING_FSYNC: usize = 50;
const DIRTY_SEED: u64 = 0xa1f5_0006;
/// The seeds of the rounds, one per policy, and of the other tests.
const ALWAYS_SEED: u64 = 0xa1f5_0001;
const EVERYSEC_SEED: u64 = 0xa1f5_0002;
const NO_SEED: u64 = 0xa1f5_0003;
const REWRITE_SEED: u64 = 0xa1f5_0004;
const SHUTDOWN_SEED: u64 = 0xa1f5_0005;

// ---------------------------------------------------------------------------
// The model of a writer's keys
// ---------------------------------------------------------------------------

/// A key's value as the tests read it back: counters are strings.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Value {
    Str(Vec<u8>),
    List(Vec<Vec<u8>>),
    Hash(BTreeMap<Vec<u8>, Vec<u8>>),
}

/// Keys to values: a writer's model, or a whole server's dataset.
type Model = BTreeMap<Vec<u8>, Value>;

/// One write as a writer sends it.
#[derive(Clone, Debug)]
enum Op {
    Set {
        key: Vec<u8>,
        value: Vec<u8>,
    },
    Incr {
        key: Vec<u8>,
    },
    Rpush {
        key: Vec<u8>,
        element: Vec<u8>,
    },
    Hset {
        key: Vec<u8>,
        field: Vec<u8>,
        value: Vec<u8>,
    },
    /// MULTI; SET `<prefix>tx:<n>`; INCR `<prefix>txcount`; RPUSH
    /// `<prefix>txlog` n; EXEC. Its three keys agree on how many
    /// transactions ran, so a partly applied one shows.
    Transaction {
        prefix: String,
        n: u64,
    },
}

impl Op {
    /// The commands that go on the wire, in order.
    fn commands(&self) -> Vec<Vec<Vec<u8>>> {
        match self {
            Op::Set { key, value } => vec![command(&[b"SET", &key[..], value])],
            Op::Incr { key } => vec![command(&[b"INCR", &key[..]])],
            Op::Rpush { key, element } => vec![command(&[b"RPUSH", &key[..], element])],
            Op::Hset { key, field, value } => {
                vec![command(&[b"HSET", &key[..], field, value])]
            }
            Op::Transaction { prefix, n } => {
                let n = n.to_string();
                vec![
                    command(&["MULTI"]),
                    command(&["SET", &format!("{prefix}tx:{n}"), &n]),
                    command(&["INCR", &format!("{prefix}txcount")]),
                    command(&["RPUSH", &format!("{prefix}txlog"), &n]),
                    command(&["EXEC"]),
                ]
            }
        }
    }

    /// The replies to [`Op::commands`], back to back, on a server whose
    /// keys are `model`.
    fn expected_replies(&self, model: &Model) -> Vec<u8> {
        match self {
            Op::Set { .. } => b"+OK\r\n".to_vec(),
            Op::Incr { key } => format!(":{}\r\n", counter(model, key) + 1).into_bytes(),
            Op::Rpush { key, .. } => format!(":{}\r\n", list_len(model, key) + 1).into_bytes(),
            Op::Hset { key, field, .. } => {
                let present =
                    matches!(model.get(key), Some(Value::Hash(h)) if h.contains_key(field));
                if present { b":0\r\n" } else { b":1\r\n" }.to_vec()
            }
            Op::Transaction { prefix, .. } => {
                let count = counter(model, format!("{prefix}txcount").as_bytes()) + 1;
                let len = list_len(model, format!("{prefix}txlog").as_bytes()) + 1;
                format!(
                    "+OK\r\n+QUEUED\r\n+QUEUED\r\n+QUEUED\r\n*3\r\n+OK\r\n:{count}\r\n:{len}\r\n"
                )
                .into_bytes()
            }
        }
    }

    /// What the write does to the keys.
    fn apply(&self, model: &mut Model) {
        match self {
            Op::Set { key, value } => {
                model.insert(key.clone(), Value::Str(value.clone()));
            }
            Op::Incr { key } => incr(model, key),
            Op::Rpush { key, element } => rpush(model, key, element.clone()),
            Op::Hset { key, field, value } => {
                let entry = model
                    .entry(key.clone())
                    .or_insert_with(|| Value::Hash(BTreeMap::new()));
                let Value::Hash(hash) = entry else {
                    unreachable!("a writer's hash key holds a hash")
                };
                hash.insert(field.clone(), value.clone());
            }
            Op::Transaction { prefix, n } => {
                let key = format!("{prefix}tx:{n}").into_bytes();
                let n = n.to_string().into_bytes();
                model.insert(key, Value::Str(n.clone()));
                incr(model, format!("{prefix}txcount").as_bytes());
                rpush(model, format!("{prefix}txlog").as_bytes(), n);
            }
        }
    }

    /// The op for messages, without its big values.
    fn shown(&self) -> String {
        let parts: Vec<String> = self
            .commands()
            .iter()
            .map(|c| {
                c.iter()
                    .map(|a| abbreviated(a))
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect();
        parts.join("; ")
    }
}

fn counter(model: &Model, key: &[u8]) -> i64 {
    match model.get(key) {
        None => 0,
        Some(Value::Str(s)) => std::str::from_utf8(s)
            .ok()
            .and_then(|s| s.parse().ok())
            .expect("a writer's counter holds an integer"),
        Some(other) => unreachable!("a writer's counter holds {other:?}"),
    }
}

fn list_len(model: &Model, key: &[u8]) -> usize {
    match model.get(key) {
        None => 0,
        Some(Value::List(items)) => items.len(),
        Some(other) => unreachable!("a writer's list holds {other:?}"),
    }
}

fn incr(model: &mut Model, key: &[u8]) {
    let next = counter(model, key) + 1;
    model.insert(key.to_vec(), Value::Str(next.to_string().into_bytes()));
}

fn rpush(model: &mut Model, key: &[u8], element: Vec<u8>) {
    let entry = model
        .entry(key.to_vec())
        .or_insert_with(|| Value::List(Vec::new()));
    let Value::List(items) = entry else {
        unreachable!("a writer's list key holds a list")
    };
    items.push(element);
}

// ---------------------------------------------------------------------------
// Writers
// ---------------------------------------------------------------------------

/// One client's seeded stream of writes, and what came of them.
struct Writer {
    id: usize,
    rng: Rng,
    /// Writes made so far, which numbers new keys and list elements.
    made: u64,
    transactions: u64,
    /// The writer's keys after every acknowledged write.
    acked: Model,
    acked_ops: usize,
    /// The write sent when the connection died, unanswered: it may or may
    /// not have reached the file.
    in_flight: Option<Op>,
}

impl Writer {
    fn new(id: usize, seed: u64) -> Writer {
        Writer {
            id,
            rng: Rng::new(seed),
            made: 0,
            transactions: 0,
            acked: Model::new(),
            acked_ops: 0,
            in_flight: None,
        }
    }

    /// The prefix of every key this writer touches.
    fn prefix(&self) -> String {
        format!("w{}:", self.id)
    }

    fn next_op(&mut self) -> Op {
        let p = self.prefix();
        let i = self.made;
        self.made += 1;
        match self.rng.below(100) {
            0..30 => {
                let value = if self.rng.below(BIG_VALUE_ONE_IN) == 0 {
                    let len = BIG_VALUE_MIN + self.rng.below(BIG_VALUE_MIN as u64) as usize;
                    random_bytes(&mut self.rng, len)
                } else {
                    format!("v{}.{i}.{:x}", self.id, self.rng.next_u64()).into_bytes()
                };
                Op::Set {
                    key: format!("{p}s:{i}").into_bytes(),
                    value,
                }
            }
            30..50 => Op::Incr {
                key: format!("{p}ctr:{}", self.rng.below(COUNTERS)).into_bytes(),
            },
            50..70 => Op::Rpush {
                key: format!("{p}list").into_bytes(),
                element: format!("e{i}").into_bytes(),
            },
            70..85 => Op::Hset {
                key: format!("{p}hash").into_bytes(),
                field: format!("f{}", self.rng.below(HASH_FIELDS)).into_bytes(),
                value: format!("h{i}").into_bytes(),
            },
            _ => {
                self.transactions += 1;
                Op::Transaction {
                    prefix: p,
                    n: self.transactions,
                }
            }
        }
    }

    /// Sends one write and reads its replies. An I/O error (the server
    /// died) leaves the write in flight; a reply other than the model's
    /// is a failure.
    fn step(&mut self, c: &mut Client) -> io::Result<()> {
        let op = self.next_op();
        let commands = op.commands();
        let expected = op.expected_replies(&self.acked);
        let mut bytes = Vec::new();
        for cmd in &commands {
            bytes.extend_from_slice(&common::encode_command(cmd));
        }
        let mut replies = Vec::new();
        let sent = c.send_raw(&bytes).and_then(|()| {
            for _ in &commands {
                replies.extend_from_slice(&c.read_reply()?);
            }
            Ok(())
        });
        if let Err(e) = sent {
            self.in_flight = Some(op);
            return Err(e);
        }
        assert_eq!(
            escape(&replies),
            escape(&expected),
            "writer {} got unexpected replies to [{}]",
            self.id,
            op.shown()
        );
        op.apply(&mut self.acked);
        self.acked_ops += 1;
        Ok(())
    }

    /// Writes until the connection dies (or [`MAX_OPS_PER_WRITER`]),
    /// counting acknowledged writes in `acked_total` and saying on
    /// `reached` when the count hits `kill_after`.
    fn run_until_killed(
        &mut self,
        port: u16,
        acked_total: &AtomicUsize,
        kill_after: usize,
        reached: &Sender<()>,
    ) {
        let mut c = Client::connect(port)
            .unwrap_or_else(|e| panic!("writer {} connects to port {port}: {e}", self.id));
        for _ in 0..MAX_OPS_PER_WRITER {
            if self.step(&mut c).is_err() {
                return;
            }
            if acked_total.fetch_add(1, Ordering::SeqCst) + 1 == kill_after {
                let _ = reached.send(());
            }
        }
    }

    /// Makes `n` writes, every one of which must be acknowledged.
    fn run_acknowledged(&mut self, c: &mut Client, n: usize) {
        for _ in 0..n {
            if let Err(e) = self.step(c) {
                panic!("writer {}: connection failed: {e}", self.id);
            }
        }
    }

    /// The writer's keys if the write in flight reached the file too.
    fn sent(&self) -> Option<Model> {
        let op = self.in_flight.as_ref()?;
        let mut model = self.acked.clone();
        op.apply(&mut model);
        Some(model)
    }
}

// ---------------------------------------------------------------------------
// Talking to a server (more in `common::replies` and `common::dataset`)
// ---------------------------------------------------------------------------

/// Every key of database 0 with its value.
fn read_dataset(c: &mut Client) -> Model {
    let names = bulks(c, &["KEYS", "*"]);
    let keys = Key::read_many(c, &names, false);
    names
        .into_iter()
        .zip(keys)
        .map(|(name, key)| {
            let key =
                key.unwrap_or_else(|| panic!("KEYS listed {} but TYPE says none", escape(&name)));
            let value = match key.kind.as_str() {
                "string" => Value::Str(key.value.into_iter().next().expect("a string's bytes")),
                "list" => Value::List(key.value),
                "hash" => Value::Hash(
                    key.value
                        .chunks(2)
                        .map(|pair| (pair[0].clone(), pair[1].clone()))
                        .collect(),
                ),
                other => panic!("key {} has type {other}", escape(&name)),
            };
            (name, value)
        })
        .collect()
}

/// Polls `condition` until it holds; panics naming `what` after
/// [`CONDITION_TIMEOUT`].
fn wait_until(what: &str, condition: impl FnMut() -> bool) {
    common::wait_until_within(CONDITION_TIMEOUT, what, condition);
}

// ---------------------------------------------------------------------------
// Servers, files and crashes
// ---------------------------------------------------------------------------

/// The arguments of a server with the AOF on under `policy`. (An
/// automatic rewrite waits for 64 MB of AOF, which no test writes.)
fn aof_args(policy: &str) -> Vec<&str> {
    vec!["--appendonly", "yes", "--appendfsync", policy]
}

/// The files in the server's `appendonlydir/`, as (path under the
/// working directory, contents), ready to place before a restart.
type Files = Vec<(String, Vec<u8>)>;

fn aof_files(server: &Server) -> Files {
    let dir = server.dir().join("appendonlydir");
    let mut files: Files = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .map(|entry| {
            let entry = entry.expect("a directory entry");
            let name = entry.file_name().to_string_lossy().into_owned();
            let contents = fs::read(entry.path())
                .unwrap_or_else(|e| panic!("read {}: {e}", entry.path().display()));
            (format!("appendonlydir/{name}"), contents)
        })
        .collect();
    files.sort();
    files
}

/// Starts ferrokv with the AOF on under `policy`, `files` placed first.
fn start_on(policy: &str, files: &Files) -> Server {
    let placed: Vec<(&str, &[u8])> = files
        .iter()
        .map(|(name, bytes)| (name.as_str(), bytes.as_slice()))
        .collect();
    common::start_ferrokv_with(&aof_args(policy), &placed)
}

/// One line of the manifest: (file name, sequence number, type letter).
type ManifestLine = (String, u64, String);

/// The manifest among `files`, read independently of ferrokv's parser.
/// Every file it names must be among `files`.
fn manifest(files: &Files) -> Vec<ManifestLine> {
    let (_, text) = files
        .iter()
        .find(|(name, _)| name.ends_with(".manifest"))
        .unwrap_or_else(|| panic!("no manifest among {:?}", names(files)));
    let lines: Vec<ManifestLine> = String::from_utf8_lossy(text)
        .lines()
        .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
        .map(|line| {
            let words: Vec<&str> = line.split_whitespace().collect();
            match words[..] {
                ["file", name, "seq", seq, "type", kind] => (
                    name.to_string(),
                    seq.parse().expect("a sequence number"),
                    kind.to_string(),
                ),
                _ => panic!("unexpected manifest line {line:?}"),
            }
        })
        .collect();
    for (name, _, kind) in &lines {
        if kind != "h" {
            assert!(
                files
                    .iter()
                    .any(|(f, _)| f == &format!("appendonlydir/{name}")),
                "the manifest names {name}, which is not in the directory: {:?}",
                names(files)
            );
        }
    }
    lines
}

fn names(files: &Files) -> Vec<&str> {
    files.iter().map(|(name, _)| name.as_str()).collect()
}

/// Sends SIGKILL to the server's process and waits until it is gone.
fn sigkill(server: &Server) {
    let pid = libc::pid_t::try_from(server.pid()).expect("a pid fits in pid_t");
    // SAFETY: kill(2) only sends a signal; the pid is our own child's,
    // which has not been waited for, so it cannot have been reused.
    let rc = unsafe { libc::kill(pid, libc::SIGKILL) };
    assert_eq!(
        rc,
        0,
        "kill({pid}, SIGKILL): {}",
        io::Error::last_os_error()
    );
    assert!(
        server.exits_within(CONDITION_TIMEOUT),
        "ferrokv still runs {CONDITION_TIMEOUT:?} after SIGKILL"
    );
}

/// Sends SHUTDOWN, which must close the connection without a reply and
/// end the process with status 0.
fn shut_down(server: &Server, c: &mut Client) {
    match c.cmd_result(&["SHUTDOWN"]) {
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {}
        Err(e) if e.kind() == io::ErrorKind::ConnectionReset => {}
        other => panic!("SHUTDOWN answered {other:?}, not a closed connection"),
    }
    assert!(
        server.exits_within(CONDITION_TIMEOUT),
        "ferrokv still runs {CONDITION_TIMEOUT:?} after SHUTDOWN"
    );
    let status = server.exit_status().expect("the process has exited");
    assert!(
        status.success(),
        "ferrokv exited with {status} after SHUTDOWN; log:\n{}",
        server.log()
    );
}

/// Runs [`WRITERS`] writers against `server` and kills it with SIGKILL
/// once `kill_after` writes were acknowledged; returns the writers, and
/// the files the server left.
fn crash(server: &Server, seed: u64, kill_after: usize) -> (Vec<Writer>, Files) {
    let mut seeds = Rng::new(seed);
    let acked_total = AtomicUsize::new(0);
    let (tx, rx) = mpsc::channel();
    let writers = thread::scope(|s| {
        let handles: Vec<_> = (0..WRITERS)
            .map(|id| {
                let tx = tx.clone();
                let acked_total = &acked_total;
                let mut writer = Writer::new(id, seeds.next_u64());
                s.spawn(move || {
                    writer.run_until_killed(server.port, acked_total, kill_after, &tx);
                    writer
                })
            })
            .collect();
        drop(tx);
        let reached = rx.recv_timeout(WRITE_PHASE_TIMEOUT);
        sigkill(server);
        let writers: Vec<Writer> = handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect();
        match reached {
            Ok(()) => {}
            Err(RecvTimeoutError::Timeout) => panic!(
                "the writers did not reach {kill_after} acknowledged writes within {WRITE_PHASE_TIMEOUT:?}"
            ),
            Err(RecvTimeoutError::Disconnected) => panic!(
                "the writers stopped before {kill_after} acknowledged writes (the server died?); log:\n{}",
                server.log()
            ),
        }
        writers
    });
    (writers, aof_files(server))
}

// ---------------------------------------------------------------------------
// Checking a restarted server
// ---------------------------------------------------------------------------

/// Checks that the writer's keys in `dataset` are the state its
/// acknowledged writes made, or that and its write in flight.
fn check_writer(writer: &Writer, dataset: &Model, what: &str) {
    let prefix = writer.prefix();
    let found: Model = dataset
        .iter()
        .filter(|(key, _)| key.starts_with(prefix.as_bytes()))
        .map(|(key, value)| (key.clone(), value.clone()))
        .collect();
    if found == writer.acked {
        return;
    }
    let sent = writer.sent();
    if sent.as_ref() == Some(&found) {
        return;
    }
    let sent_or_acked = sent.as_ref().unwrap_or(&writer.acked);
    let keys: BTreeSet<&Vec<u8>> = found
        .keys()
        .chain(writer.acked.keys())
        .chain(sent_or_acked.keys())
        .collect();
    let differences: Vec<String> = keys
        .into_iter()
        .filter(|key| found.get(*key) != writer.acked.get(*key))
        .take(10)
        .map(|key| {
            format!(
                "  {}: found {}, acknowledged {}, with the write in flight {}",
                escape(key),
                shown_value(found.get(key)),
                shown_value(writer.acked.get(key)),
                shown_value(sent_or_acked.get(key)),
            )
        })
        .collect();
    panic!(
        "{what}: writer {} had {} writes acknowledged (in flight: {}), and the restarted server holds neither the state they made nor that and the write in flight; first differences:\n{}",
        writer.id,
        writer.acked_ops,
        writer
            .in_flight
            .as_ref()
            .map_or("none".to_string(), Op::shown),
        differences.join("\n")
    );
}

fn shown_value(value: Option<&Value>) -> String {
    match value {
        None => "(absent)".to_string(),
        Some(Value::Str(s)) => format!("\"{}\"", abbreviated(s)),
        Some(Value::List(items)) if items.len() > 8 => format!(
            "a list of {} ending [{}]",
            items.len(),
            items[items.len() - 4..]
                .iter()
                .map(|i| escape(i))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Some(Value::List(items)) => format!(
            "[{}]",
            items
                .iter()
                .map(|i| escape(i))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Some(Value::Hash(h)) => format!(
            "{{{}}}",
            h.iter()
                .map(|(f, v)| format!("{}={}", escape(f), escape(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// Checks every writer against `dataset`, and that it holds nothing but
/// their keys and `others`.
fn check_dataset(writers: &[Writer], others: &Model, dataset: &Model, what: &str) {
    for writer in writers {
        check_writer(writer, dataset, what);
    }
    for (key, value) in others {
        assert_eq!(
            dataset.get(key),
            Some(value),
            "{what}: key {} is not as written",
            escape(key)
        );
    }
    let strays: Vec<String> = dataset
        .keys()
        .filter(|key| {
            !others.contains_key(*key)
                && !writers
                    .iter()
                    .any(|w| key.starts_with(w.prefix().as_bytes()))
        })
        .take(10)
        .map(|key| escape(key))
        .collect();
    assert!(strays.is_empty(), "{what}: keys nobody wrote: {strays:?}");
}

// ---------------------------------------------------------------------------
// 1 and 2. SIGKILL under each fsync policy
// ---------------------------------------------------------------------------

/// [`ROUNDS`] rounds: writers against a fresh server, SIGKILL at a seeded
/// point, a restart on the files left, every acknowledged write checked.
fn acknowledged_writes_survive_sigkill(policy: &str, seed: u64) {
    let mut rng = Rng::new(seed);
    for round in 0..ROUNDS {
        let kill_after = (KILL_MIN + rng.below(KILL_SPREAD)) as usize;
        let what = format!(
            "appendfsync {policy}, round {round}, SIGKILL after {kill_after} acknowledged writes"
        );
        let server = start_on(policy, &Files::new());
        let (writers, files) = crash(&server, rng.next_u64(), kill_after);
        let restarted = start_on(policy, &files);
        let dataset = read_dataset(&mut restarted.connect());
        check_dataset(&writers, &Model::new(), &dataset, &what);
    }
}

#[test]
fn acknowledged_writes_survive_sigkill_under_appendfsync_always() {
    acknowledged_writes_survive_sigkill("always", ALWAYS_SEED);
}

#[test]
fn acknowledged_writes_survive_sigkill_under_appendfsync_everysec() {
    acknowledged_writes_survive_sigkill("everysec", EVERYSEC_SEED);
}

#[test]
fn acknowledged_writes_survive_sigkill_under_appendfsync_no() {
    acknowledged_writes_survive_sigkill("no", NO_SEED);
}

/// The window the rounds under `everysec` fall into by chance, held open:
/// the first write of a fresh server starts the first background fsync,
/// and a write of [`DIRTY_BYTES`] makes that fsync take a while on any
/// disk. A write acknowledged meanwhile must be in the file all the same
/// when its reply arrives (the file is a size the test can see at once,
/// without a kill), and survive SIGKILL. (Redis 7.0's flushAppendOnlyFile
/// postpones the write, for up to two seconds, while a background fsync
/// runs, and sends the replies meanwhile: it acknowledges writes that
/// SIGKILL then loses.)
#[test]
fn everysec_writes_what_it_acknowledges_while_an_fsync_runs() {
    let server = start_on("everysec", &Files::new());
    let incr = {
        let lines = manifest(&aof_files(&server));
        let name = &lines
            .iter()
            .find(|l| l.2 == "i")
            .expect("an incremental file")
            .0;
        server.dir().join("appendonlydir").join(name)
    };
    let size = || fs::metadata(&incr).map_or(0, |m| m.len() as usize);
    let mut c = server.connect();
    let big = random_bytes(&mut Rng::new(DIRTY_SEED), DIRTY_BYTES);
    let big_set = command(&[&b"SET"[..], b"big", &big]);
    // Measured before it is sent: what follows its reply must follow at
    // once, while the fsync it started runs.
    let big_set_len = common::encode_command(&big_set).len();
    expect_reply(&mut c, &big_set, "+OK\r\n");
    let mut expected_size = size();
    assert!(
        expected_size >= big_set_len,
        "the big SET was acknowledged before it was in {}",
        incr.display()
    );
    // For each reply that came before its write was in the file: which
    // write, the file's size then, and the size it should have had.
    let mut early: Vec<(usize, usize, usize)> = Vec::new();
    for i in 0..WRITES_DURING_FSYNC {
        let set = command(&["SET", &format!("small:{i}"), &i.to_string()]);
        expect_reply(&mut c, &set, "+OK\r\n");
        expected_size += common::encode_command(&set).len();
        let seen = size();
        if seen < expected_size {
            early.push((i, seen, expected_size));
        }
    }
    sigkill(&server);
    let restarted = start_on("everysec", &aof_files(&server));
    let mut c = restarted.connect();
    let missing = (0..WRITES_DURING_FSYNC)
        .filter(|i| {
            call(&mut c, &["GET", &format!("small:{i}")]) != Frame::Bulk(i.to_string().into_bytes())
        })
        .count();
    let first_early = early.first().map_or(String::new(), |(i, seen, expected)| {
        format!(" (the first, SET small:{i}, with the file at {seen} bytes, not {expected})")
    });
    assert!(
        early.is_empty() && missing == 0,
        "of {WRITES_DURING_FSYNC} SETs acknowledged after a {DIRTY_BYTES}-byte SET, {} were answered before their write was in the file{first_early}, and {missing} were lost to SIGKILL",
        early.len(),
    );
}

// ---------------------------------------------------------------------------
// 3. SIGKILL during a rewrite
// ---------------------------------------------------------------------------

/// A rewrite opens a new incremental file at once and writes the base in
/// the background; killed before it is done, the manifest still names the
/// old base and every incremental file, the new one included, and they
/// hold every acknowledged write. The restarted server can then rewrite,
/// and what it rewrote loads again.
#[test]
fn a_rewrite_killed_midway_loses_no_acknowledged_write() {
    let mut rng = Rng::new(REWRITE_SEED);
    let server = start_on("always", &Files::new());
    let mut c = server.connect();
    let fill: Model = (0..REWRITE_FILL_KEYS)
        .map(|i| {
            (
                format!("fill:{i}").into_bytes(),
                Value::Str(format!("fill value {i}").into_bytes()),
            )
        })
        .collect();
    let sets: Vec<Vec<Vec<u8>>> = fill
        .iter()
        .map(|(key, value)| match value {
            Value::Str(v) => command(&[&b"SET"[..], key, v]),
            _ => unreachable!("fill values are strings"),
        })
        .collect();
    for reply in pipeline(&mut c, &sets) {
        assert_eq!(reply, Frame::Simple(b"OK".to_vec()), "filling");
    }
    expect_reply(
        &mut c,
        &["CONFIG", "SET", "rdb-key-save-delay", REWRITE_KEY_DELAY_US],
        "+OK\r\n",
    );
    expect_reply(
        &mut c,
        &["BGREWRITEAOF"],
        "+Background append only file rewriting started\r\n",
    );
    assert_eq!(persistence_info(&mut c, "aof_rewrite_in_progress"), "1");
    let kill_after = (KILL_MIN + rng.below(KILL_SPREAD / 2)) as usize;
    let (writers, files) = crash(&server, rng.next_u64(), kill_after);
    let what = format!("SIGKILL during BGREWRITEAOF after {kill_after} acknowledged writes");

    // The kill came before the rewrite was done: the first base is still
    // the base, and the incremental file the rewrite opened is listed.
    let lines = manifest(&files);
    let bases: Vec<u64> = lines.iter().filter(|l| l.2 == "b").map(|l| l.1).collect();
    let incrs: Vec<u64> = lines.iter().filter(|l| l.2 == "i").map(|l| l.1).collect();
    assert_eq!(
        (bases.as_slice(), incrs.as_slice()),
        (&[1][..], &[1, 2][..]),
        "{what}: the manifest should name the first base and two incremental files (was the rewrite done before the kill?): {lines:?}"
    );

    let restarted = start_on("always", &files);
    let mut c = restarted.connect();
    check_dataset(&writers, &fill, &read_dataset(&mut c), &what);

    // The restarted server rewrites to completion, and the result loads.
    expect_reply(
        &mut c,
        &["BGREWRITEAOF"],
        "+Background append only file rewriting started\r\n",
    );
    wait_until("the rewrite after the restart ends", || {
        persistence_info(&mut c, "aof_rewrite_in_progress") == "0"
    });
    assert_eq!(persistence_info(&mut c, "aof_last_bgrewrite_status"), "ok");
    let dataset = read_dataset(&mut c);
    sigkill(&restarted);
    let files = aof_files(&restarted);
    let lines = manifest(&files);
    assert_eq!(
        lines.iter().filter(|l| l.2 == "b").count(),
        1,
        "one base after the rewrite: {lines:?}"
    );
    let again = start_on("always", &files);
    assert_eq!(
        read_dataset(&mut again.connect()),
        dataset,
        "after a completed rewrite and SIGKILL, the restarted server holds what was there"
    );
}

// ---------------------------------------------------------------------------
// 4. Clean shutdowns
// ---------------------------------------------------------------------------

/// SHUTDOWN with the AOF on writes and syncs it; a restart loads it whole,
/// and writes after that restart are appended to the same incremental
/// file (not written over it), so a second restart loads both.
#[test]
fn clean_shutdowns_keep_everything_across_two_restarts() {
    let mut writer = Writer::new(0, SHUTDOWN_SEED);
    let server = start_on("everysec", &Files::new());
    let mut c = server.connect();
    writer.run_acknowledged(&mut c, 400);
    shut_down(&server, &mut c);
    let first = aof_files(&server);

    let restarted = start_on("everysec", &first);
    let mut c = restarted.connect();
    check_dataset(
        std::slice::from_ref(&writer),
        &Model::new(),
        &read_dataset(&mut c),
        "after the first SHUTDOWN",
    );
    writer.run_acknowledged(&mut c, 400);
    shut_down(&restarted, &mut c);
    let second = aof_files(&restarted);

    // The incremental file the first run wrote is still the one written
    // to, and still begins with what the first run wrote.
    let incr = |files: &Files| -> (String, Vec<u8>) {
        let lines = manifest(files);
        let incrs: Vec<&ManifestLine> = lines.iter().filter(|l| l.2 == "i").collect();
        assert_eq!(incrs.len(), 1, "one incremental file: {lines:?}");
        let name = format!("appendonlydir/{}", incrs[0].0);
        let bytes = files
            .iter()
            .find(|(f, _)| *f == name)
            .map(|(_, b)| b.clone())
            .expect("the manifest's files are in the directory");
        (name, bytes)
    };
    let (first_name, first_bytes) = incr(&first);
    let (second_name, second_bytes) = incr(&second);
    assert_eq!(
        first_name, second_name,
        "the incremental file after the restart"
    );
    assert!(
        second_bytes.len() > first_bytes.len() && second_bytes.starts_with(&first_bytes),
        "{second_name} ({} bytes) should begin with the {} bytes it had before the restart",
        second_bytes.len(),
        first_bytes.len()
    );

    let again = start_on("everysec", &second);
    check_dataset(
        std::slice::from_ref(&writer),
        &Model::new(),
        &read_dataset(&mut again.connect()),
        "after the second SHUTDOWN",
    );
}

// ---------------------------------------------------------------------------
// 5. A file whose last command was cut short
// ---------------------------------------------------------------------------

/// How a crash can leave the end of an incremental file: the bytes that
/// follow its last whole command.
const CUTS: &[(&str, &[&[&str]], usize)] = &[
    // (what, the commands after the last whole one, bytes cut off the end)
    ("a torn SET", &[&["SET", "torn", "x"]], 5),
    (
        "a transaction without its EXEC",
        &[&["MULTI"], &["SET", "in-transaction", "x"]],
        0,
    ),
    (
        "a transaction with a torn EXEC",
        &[&["MULTI"], &["SET", "in-transaction", "x"], &["EXEC"]],
        3,
    ),
    (
        "a transaction with a torn queued command",
        &[
            &["MULTI"],
            &["SET", "in-transaction", "x"],
            &["SET", "in-transaction-too", "y"],
        ],
        4,
    ),
];

/// What a crash in the middle of a write leaves: a last command, or the
/// MULTI/EXEC block a transaction is written as, without its end. Under
/// `aof-load-truncated yes` the restarted server loads the file without
/// it and then appends to the same file; a second restart must load what
/// it appended. Redis 7.0 cuts a torn transaction after its last whole
/// queued command rather than before its MULTI, so the next load takes
/// the appended commands for the transaction's body and drops them
/// (Valkey fixed this in its PR #4342); ferrokv must not.
#[test]
fn a_torn_end_of_file_is_dropped_without_losing_later_writes() {
    let server = start_on("always", &Files::new());
    let mut c = server.connect();
    expect_reply(&mut c, &["SET", "before", "1"], "+OK\r\n");
    shut_down(&server, &mut c);
    let clean = aof_files(&server);
    let incr_name = {
        let lines = manifest(&clean);
        let incr = lines
            .iter()
            .find(|l| l.2 == "i")
            .expect("an incremental file");
        format!("appendonlydir/{}", incr.0)
    };

    let failures: Vec<String> = CUTS
        .iter()
        .filter_map(|&(what, commands, cut)| {
            let mut tail = Vec::new();
            for cmd in commands {
                tail.extend_from_slice(&common::encode_command(cmd));
            }
            tail.truncate(tail.len() - cut);
            let mut files = clean.clone();
            let incr = files
                .iter_mut()
                .find(|(name, _)| *name == incr_name)
                .expect("the incremental file is in the directory");
            incr.1.extend_from_slice(&tail);
            two_restarts_after_a_cut(&files, &incr_name)
                .err()
                .map(|e| format!("after {what}: {e}"))
        })
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// Restarts on `files`, which end with a cut: the server must hold the
/// write before the cut and nothing of what was cut; then writes, shuts
/// down cleanly, and restarts again, and must hold those writes too.
fn two_restarts_after_a_cut(files: &Files, incr_name: &str) -> Result<(), String> {
    let before: Model = [(b"before".to_vec(), Value::Str(b"1".to_vec()))]
        .into_iter()
        .collect();
    let restarted = start_on("always", files);
    let mut c = restarted.connect();
    let first = read_dataset(&mut c);
    if first != before {
        return Err(format!(
            "the first restart holds {first:?}, not only the write before the cut"
        ));
    }
    expect_reply(&mut c, &["SET", "after", "acknowledged"], "+OK\r\n");
    expect_reply(&mut c, &["RPUSH", "after-list", "a", "b"], ":2\r\n");
    shut_down(&restarted, &mut c);
    let files = aof_files(&restarted);

    let again = start_on("always", &files);
    let second = read_dataset(&mut again.connect());
    let mut expected = before;
    expected.insert(b"after".to_vec(), Value::Str(b"acknowledged".to_vec()));
    expected.insert(
        b"after-list".to_vec(),
        Value::List(vec![b"a".to_vec(), b"b".to_vec()]),
    );
    if second != expected {
        let shown: Vec<String> = second.keys().map(|k| escape(k)).collect();
        return Err(format!(
            "the second restart holds the keys {shown:?}, not the writes acknowledged after the first restart too (\"before\", \"after\", \"after-list\"); {incr_name} ends:\n{}",
            escape(tail_of(&files, incr_name))
        ));
    }
    Ok(())
}

/// The last 200 bytes of a file among `files`, for messages.
fn tail_of<'a>(files: &'a Files, name: &str) -> &'a [u8] {
    let bytes = files
        .iter()
        .find(|(f, _)| f == name)
        .map(|(_, b)| b.as_slice())
        .unwrap_or_default();
    &bytes[bytes.len().saturating_sub(200)..]
}
