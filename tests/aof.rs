//! The append-only file: Redis 7.0's multi-part AOF (`appendonlydir/`
//! with a manifest, a base file and incremental files), written by
//! ferrokv and replayed by ferrokv and by a real `redis-server`, in both
//! directions.
//!
//! # Layout
//!
//! - Starting servers with an AOF: [`start_ferrokv_aof`] places an
//!   `aof.conf` with the AOF settings (ferrokv's command line has no
//!   `--aof-*` options, see [`aof_settings_are_accepted_as_command_line_options`])
//!   beside the files to load; [`aof_files`] reads a server's
//!   `appendonlydir/`, which is how a restart carries the AOF to the next
//!   server.
//! - [`Dataset::read_scanned`] (`common::dataset`) reads every key of
//!   every database (`TYPE`, the value, `PEXPIRETIME`), listing keys with
//!   SCAN, which deletes the expired keys it meets on either server, so
//!   `DBSIZE` afterwards is comparable.
//! - [`Workload`] is a seeded, randomized mix of writes over strings,
//!   counters, lists, hashes and sets in four databases: transactions,
//!   blocking pops served by a later push from another connection, keys
//!   moved between databases, short deadlines that expire lazily and
//!   actively during the run, and optionally a rewrite in the middle.
//!   Every key's name starts with its kind, so no command meets a key of
//!   another type by accident (and when one does, the error is harmless:
//!   nothing is replayed for it).
//! - The tests, by section: (1) replaying the AOF gives back the dataset
//!   (restart and DEBUG LOADAOF, each preamble setting and fsync policy,
//!   a slowed rewrite in the middle; nothing expires during a replay;
//!   clients get -LOADING meanwhile); (2) files carried between ferrokv
//!   and redis-server both ways, and an old single-file AOF migrated;
//!   (3) `redis-check-aof` on ferrokv's manifest; (4) truncated and
//!   corrupt files, bad manifests; (5) `CONFIG SET appendonly` at run
//!   time, also during a BGSAVE or a rewrite; (6) BGREWRITEAOF's replies
//!   against redis-server's, the files and manifest a rewrite leaves
//!   (history kept, custom names); (7) INFO persistence; (8) rewrites
//!   that meet FLUSHALL, SWAPDB, DEBUG LOADAOF and SHUTDOWN, automatic
//!   rewrites; (9) big values; (10) the command line.
//!
//! Files are read only once the server has written its AOF buffer
//! ([`wait_aof_written`]): under `appendfsync everysec` a write may wait
//! for a running fsync, after the reply has gone, as in Redis.
//!
//! Tests that need `redis-server` or `redis-check-aof` print a skip line
//! and pass when it is not on `PATH`.

mod common;

use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use common::dataset::{Dataset, assert_same};
use common::replies::{
    as_bulks, bulk, call, command, expect_reply, info_field, int, ok, persistence_idle,
    persistence_info, pipeline, select, set_save_delay, shown,
};
use common::{Client, Frame, REDIS_TEST_ARGS, Server, escape, find, unix_ms};
use ferrokv::util::Rng;

/// The name of the config file the tests give ferrokv its AOF settings in.
const CONF_NAME: &str = "aof.conf";
/// The AOF directory and the files in it, under Redis's default names.
const AOF_DIR: &str = "appendonlydir";
const MANIFEST: &str = "appendonly.aof.manifest";
/// How long a server that must refuse its files gets to exit.
const REFUSAL_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a polled condition may take. Generous: it only turns a hang
/// into a failure.
const CONDITION_TIMEOUT: Duration = Duration::from_secs(20);
/// `rdb-key-save-delay` (microseconds) that holds a ferrokv rewrite to
/// about one key per command the test sends: the snapshot walks one key
/// per pass of the loop, and an idle loop passes this far apart. Set back
/// to 0 to let the rewrite finish.
const SLOW_REWRITE_DELAY_US: &str = "100000";
/// How long `redis-check-aof` may run on a few hundred KB.
const CHECK_AOF_TIMEOUT: Duration = Duration::from_secs(20);

// ---------------------------------------------------------------------------
// Talking to a server (more in `common::replies`)
// ---------------------------------------------------------------------------

/// Polls `condition` until it holds; panics naming `what` after
/// [`CONDITION_TIMEOUT`].
fn wait_until(what: &str, condition: impl FnMut() -> bool) {
    common::wait_until_within(CONDITION_TIMEOUT, what, condition);
}

fn persistence_num(c: &mut Client, field: &str) -> u64 {
    let value = persistence_info(c, field);
    value
        .parse()
        .unwrap_or_else(|_| panic!("INFO persistence {field}:{value} is not a number"))
}

fn expired_keys(c: &mut Client) -> u64 {
    let value = info_field(c, "stats", "expired_keys");
    value
        .parse()
        .unwrap_or_else(|_| panic!("expired_keys:{value} is not a number"))
}

/// Starts a BGREWRITEAOF that must start.
fn bgrewriteaof(c: &mut Client) {
    expect_reply(
        c,
        &["BGREWRITEAOF"],
        "+Background append only file rewriting started\r\n",
    );
}

/// Waits until the rewrite in progress (and anything scheduled) is done,
/// and checks that it succeeded.
fn wait_rewrite_done(c: &mut Client, who: &str) {
    wait_until(&format!("{who}'s AOF rewrite ends"), || persistence_idle(c));
    assert_eq!(
        persistence_info(c, "aof_last_bgrewrite_status"),
        "ok",
        "{who}'s last rewrite"
    );
}

/// Where `needle` last occurs in `haystack`.
fn rfind(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).rposition(|w| w == needle)
}

// ---------------------------------------------------------------------------
// Servers with an AOF, and their files
// ---------------------------------------------------------------------------

/// Files to place in a server's directory: (relative path, contents).
type Files = Vec<(String, Vec<u8>)>;

fn as_refs(files: &[(String, Vec<u8>)]) -> Vec<(&str, &[u8])> {
    files
        .iter()
        .map(|(name, bytes)| (name.as_str(), bytes.as_slice()))
        .collect()
}

/// The text of a config file setting `settings`.
fn conf_text(settings: &[(&str, &str)]) -> String {
    settings
        .iter()
        .map(|(name, value)| format!("{name} {value}\n"))
        .collect()
}

/// The arguments that start ferrokv with `appendonly yes` and the
/// settings of [`CONF_NAME`], after the test arguments.
fn ferrokv_aof_args() -> Vec<&'static str> {
    [REDIS_TEST_ARGS, &["--appendonly", "yes", CONF_NAME]].concat()
}

/// `files` plus the config file holding `settings`.
fn with_conf(settings: &[(&str, &str)], files: &[(String, Vec<u8>)]) -> Files {
    let mut all = files.to_vec();
    all.push((CONF_NAME.to_string(), conf_text(settings).into_bytes()));
    all
}

/// Starts ferrokv with `appendonly yes`, `settings` (as redis.conf lines,
/// in a config file), and `files` placed in its directory first.
fn start_ferrokv_aof(settings: &[(&str, &str)], files: &[(String, Vec<u8>)]) -> Server {
    let all = with_conf(settings, files);
    Server::start_with_files(
        "ferrokv",
        common::ferrokv_program(),
        &[],
        &ferrokv_aof_args(),
        &as_refs(&all),
    )
    .unwrap_or_else(|e| panic!("{e}"))
}

/// Starts ferrokv on `files`, which it must refuse: the process exits
/// non-zero without answering PING. Returns its log.
fn ferrokv_refuses(settings: &[(&str, &str)], files: &[(String, Vec<u8>)], what: &str) -> String {
    let all = with_conf(settings, files);
    let refusal = Server::start_refused(
        "ferrokv",
        common::ferrokv_program(),
        &ferrokv_aof_args(),
        &as_refs(&all),
        REFUSAL_TIMEOUT,
    )
    .unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        !refusal.status.success(),
        "{what}: ferrokv exited with {}; log:\n{}",
        refusal.status,
        refusal.log
    );
    refusal.log
}

/// Starts redis-server with `appendonly yes`, `settings` as command-line
/// options, and `files`; `None` when it is not on `PATH`.
fn start_redis_aof(settings: &[(&str, &str)], files: &[(String, Vec<u8>)]) -> Option<Server> {
    let mut args: Vec<String> = vec!["--appendonly".into(), "yes".into()];
    for (name, value) in settings {
        args.push(format!("--{name}"));
        args.push(value.to_string());
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    common::start_redis_with(&args, &as_refs(files))
}

/// Waits until `server` has written its AOF buffer. Under `appendfsync
/// everysec` a write waits (up to two seconds) while the previous fsync
/// runs, so a reply can come before its command is in the file, on
/// redis-server as on ferrokv. Without the AOF there is no buffer.
fn wait_aof_written(server: &Server) {
    let mut c = server.connect();
    wait_until(&format!("{} writes its AOF buffer", server.name), || {
        let text = String::from_utf8_lossy(&bulk(&mut c, &["INFO", "persistence"])).into_owned();
        text.lines()
            .find_map(|line| line.strip_prefix("aof_buffer_length:"))
            .is_none_or(|n| n.trim() == "0")
    });
}

/// Every file of `server`'s AOF directory, once its buffer is written,
/// named as a restart places them (`appendonlydir/<name>`), sorted by
/// name.
fn aof_files(server: &Server) -> Files {
    wait_aof_written(server);
    let dir = server.dir().join(AOF_DIR);
    let mut files = Vec::new();
    for entry in fs::read_dir(&dir).unwrap_or_else(|e| panic!("read {}: {e}", dir.display())) {
        let entry = entry.expect("a directory entry");
        let name = entry.file_name().to_string_lossy().into_owned();
        // A history file the server removes in the background may go
        // between the listing and the read; the manifest no longer names it.
        let bytes = match fs::read(entry.path()) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => panic!("read {}: {e}", entry.path().display()),
        };
        files.push((format!("{AOF_DIR}/{name}"), bytes));
    }
    files.sort();
    files
}

/// The file names in `server`'s AOF directory, sorted.
fn aof_dir_listing(server: &Server) -> Vec<String> {
    let dir = server.dir().join(AOF_DIR);
    let mut names: Vec<String> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .map(|e| {
            e.expect("a directory entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    names.sort();
    names
}

/// One line of a manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ManifestEntry {
    name: String,
    seq: u64,
    kind: char,
}

/// Parses the manifest's `file <name> seq <n> type <t>` lines (file names
/// the tests meet need no quoting).
fn parse_manifest(text: &str) -> Vec<ManifestEntry> {
    text.lines()
        .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
        .map(|line| {
            let words: Vec<&str> = line.split_whitespace().collect();
            let get = |key: &str| {
                words
                    .chunks(2)
                    .find(|pair| pair[0] == key)
                    .map(|pair| pair[1])
                    .unwrap_or_else(|| panic!("manifest line without {key}: {line}"))
            };
            ManifestEntry {
                name: get("file").to_string(),
                seq: get("seq").parse().expect("a numeric seq"),
                kind: get("type").chars().next().expect("a type letter"),
            }
        })
        .collect()
}

fn manifest_of(files: &[(String, Vec<u8>)]) -> Vec<ManifestEntry> {
    let path = format!("{AOF_DIR}/{MANIFEST}");
    let (_, bytes) = files
        .iter()
        .find(|(name, _)| *name == path)
        .unwrap_or_else(|| panic!("no {path} among {:?}", names_of(files)));
    parse_manifest(&String::from_utf8_lossy(bytes))
}

fn names_of(files: &[(String, Vec<u8>)]) -> Vec<&str> {
    files.iter().map(|(name, _)| name.as_str()).collect()
}

/// The contents of the file at `path` among `files`.
fn file_bytes<'a>(files: &'a [(String, Vec<u8>)], path: &str) -> &'a [u8] {
    files
        .iter()
        .find(|(name, _)| name == path)
        .map(|(_, bytes)| bytes.as_slice())
        .unwrap_or_else(|| panic!("no {path} among {:?}", names_of(files)))
}

/// The contents of the file at `path` among `files`, mutably.
fn file_mut<'a>(files: &'a mut [(String, Vec<u8>)], path: &str) -> &'a mut Vec<u8> {
    let names: Vec<String> = files.iter().map(|(n, _)| n.clone()).collect();
    files
        .iter_mut()
        .find(|(name, _)| name == path)
        .map(|(_, bytes)| bytes)
        .unwrap_or_else(|| panic!("no {path} among {names:?}"))
}

/// The path (under `appendonlydir/`) of the last incremental file the
/// manifest among `files` names.
fn last_incr_path(files: &[(String, Vec<u8>)]) -> String {
    let entry = manifest_of(files)
        .into_iter()
        .rfind(|e| e.kind == 'i')
        .expect("the manifest names an incremental file");
    format!("{AOF_DIR}/{}", entry.name)
}

/// Runs `redis-check-aof` on the manifest in `dir/appendonlydir`, which
/// must accept it. Skipped when the tool is not on `PATH`.
fn check_aof(dir: &Path, what: &str) {
    let Some(program) = common::find_on_path("redis-check-aof") else {
        println!("SKIPPED: redis-check-aof not found on PATH; {what} not checked with it");
        return;
    };
    let manifest = dir.join(AOF_DIR).join(MANIFEST);
    let output = common::output_within(
        Command::new(&program).arg(&manifest).stdin(Stdio::null()),
        CHECK_AOF_TIMEOUT,
    );
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.status.success(),
        "redis-check-aof rejected {what} ({}):\n{text}",
        output.status
    );
    assert!(
        text.contains("All AOF files and manifest are valid"),
        "redis-check-aof did not call {what} valid:\n{text}"
    );
}

/// Writes `files` into a fresh scratch directory (removed on drop), for
/// tools that read a directory.
struct ScratchDir(std::path::PathBuf);

impl ScratchDir {
    fn with_files(tag: &str, files: &[(String, Vec<u8>)]) -> ScratchDir {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir =
            std::env::temp_dir().join(format!("ferrokv-aof-{tag}-{}-{n}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        for (name, bytes) in files {
            let path = dir.join(name);
            fs::create_dir_all(path.parent().expect("a file has a parent"))
                .unwrap_or_else(|e| panic!("create the parent of {}: {e}", path.display()));
            fs::write(&path, bytes).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
        }
        ScratchDir(dir)
    }
}

impl ScratchDir {
    /// The directory, no longer removed on drop (its new owner removes it).
    fn keep(self) -> std::path::PathBuf {
        let dir = self.0.clone();
        std::mem::forget(self);
        dir
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// Restarts a ferrokv (and a redis-server, when there is one) on
/// `server`'s AOF and requires `expected`.
fn assert_aof_holds(server: &Server, settings: &[(&str, &str)], expected: &Dataset, what: &str) {
    let files = aof_files(server);
    restarted_holding(
        settings,
        &files,
        what,
        expected,
        "ferrokv restarted on its AOF",
    );
    let Some(redis) = start_redis_aof(settings, &files) else {
        println!("SKIPPED: redis-server not found on PATH; {what}: not loaded into it");
        return;
    };
    assert_holds(
        what,
        expected,
        "redis-server loading ferrokv's AOF",
        &mut redis.connect(),
    );
}

/// Reads `c`'s server, called `actual_name`, and checks that it holds
/// exactly `expected`, called `expected_name`.
fn assert_holds(expected_name: &str, expected: &Dataset, actual_name: &str, c: &mut Client) {
    assert_same(
        expected_name,
        expected,
        actual_name,
        &Dataset::read_scanned(c),
    );
}

/// Starts ferrokv on `files` (see [`start_ferrokv_aof`]) and checks that
/// it holds exactly `expected`; returns it for further checks.
fn restarted_holding(
    settings: &[(&str, &str)],
    files: &[(String, Vec<u8>)],
    expected_name: &str,
    expected: &Dataset,
    actual_name: &str,
) -> Server {
    let restarted = start_ferrokv_aof(settings, files);
    assert_holds(
        expected_name,
        expected,
        actual_name,
        &mut restarted.connect(),
    );
    restarted
}

/// Files in a server's working directory that a rewrite leaves behind
/// only when it is not cleaned up.
fn temp_files(server: &Server) -> Vec<String> {
    let mut found = Vec::new();
    for dir in [server.dir().to_path_buf(), server.dir().join(AOF_DIR)] {
        if let Ok(entries) = fs::read_dir(&dir) {
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                if name.starts_with("temp-") {
                    found.push(name);
                }
            }
        }
    }
    found
}

// ---------------------------------------------------------------------------
// The workload
// ---------------------------------------------------------------------------

/// The databases the workload writes.
const WORKLOAD_DBS: u64 = 4;
/// Key names per kind and database: few, so commands meet existing keys.
const KEYS_PER_KIND: u64 = 16;
/// Keys only the blocking pops use, per database.
const BLOCKING_KEYS: u64 = 4;
/// A short deadline is at most this far away: it passes during the run.
const SHORT_TTL_MAX_MS: u64 = 30;

/// The kinds of key, each with its name prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Str,
    /// Strings that hold numbers, for INCR and friends.
    Num,
    List,
    Hash,
    Set,
}

const KINDS: [Kind; 5] = [Kind::Str, Kind::Num, Kind::List, Kind::Hash, Kind::Set];

impl Kind {
    fn prefix(self) -> &'static str {
        match self {
            Kind::Str => "str",
            Kind::Num => "num",
            Kind::List => "list",
            Kind::Hash => "hash",
            Kind::Set => "set",
        }
    }
}

/// Whether (and how) a rewrite runs in the middle of the workload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rewrite {
    None,
    /// BGREWRITEAOF held to about a key per command (ferrokv's
    /// `rdb-key-save-delay`), so the workload writes while it walks, then
    /// let go.
    Slowed,
    /// BGREWRITEAOF as it comes (redis-server's forked child), and the
    /// workload goes on meanwhile.
    Plain,
}

/// A seeded generator of writes, and what the test must know about the
/// deadlines it gave out.
struct Workload {
    rng: Rng,
    /// When every short deadline given so far has passed (Unix ms).
    short_deadlines_pass_ms: i64,
    /// The longest short TTL among commands sent and not yet answered.
    pending_short_ttl_ms: u64,
    /// A counter for values that must differ from each other.
    serial: u64,
}

impl Workload {
    fn new(seed: u64) -> Workload {
        Workload {
            rng: Rng::new(seed),
            short_deadlines_pass_ms: 0,
            pending_short_ttl_ms: 0,
            serial: 0,
        }
    }

    fn below(&mut self, n: u64) -> u64 {
        self.rng.below(n)
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }

    fn key(&mut self, kind: Kind) -> Vec<u8> {
        format!("{}:{}", kind.prefix(), self.below(KEYS_PER_KIND)).into_bytes()
    }

    fn any_key(&mut self) -> (Kind, Vec<u8>) {
        let kind = KINDS[self.below(KINDS.len() as u64) as usize];
        (kind, self.key(kind))
    }

    fn db(&mut self) -> Vec<u8> {
        self.below(WORKLOAD_DBS).to_string().into_bytes()
    }

    fn value(&mut self) -> Vec<u8> {
        self.serial += 1;
        match self.below(10) {
            0 => (self.below(2000) as i64 - 1000).to_string().into_bytes(),
            1 => format!("{}:{}", "long".repeat(20), self.serial).into_bytes(),
            2 => format!("bin\0\r\n\u{ff}{}", self.below(10)).into_bytes(),
            3 => Vec::new(),
            _ => format!("v{}", self.below(40)).into_bytes(),
        }
    }

    // Elements, members and fields come from small sets, so that pops,
    // removals, moves and intersections find what they look for.

    fn element(&mut self) -> Vec<u8> {
        match self.below(4) {
            0 => self.below(5).to_string().into_bytes(),
            _ => format!("e{}", self.below(8)).into_bytes(),
        }
    }

    fn member(&mut self) -> Vec<u8> {
        // Integers keep a set an intset until a string member comes.
        match self.below(4) {
            0 => format!("m{}", self.below(6)).into_bytes(),
            _ => (self.below(10) as i64 - 3).to_string().into_bytes(),
        }
    }

    fn field(&mut self) -> Vec<u8> {
        format!("f{}", self.below(6)).into_bytes()
    }

    /// A short TTL in milliseconds, remembered until the reply comes.
    fn short_ttl(&mut self) -> Vec<u8> {
        let ms = 1 + self.below(SHORT_TTL_MAX_MS);
        self.pending_short_ttl_ms = self.pending_short_ttl_ms.max(ms);
        ms.to_string().into_bytes()
    }

    /// A TTL in seconds that outlives every test.
    fn long_ttl_s(&mut self) -> Vec<u8> {
        (100_000 + self.below(100_000)).to_string().into_bytes()
    }

    /// A deadline in Unix seconds that outlives every test.
    fn long_deadline_s(&mut self) -> Vec<u8> {
        (unix_ms() / 1000 + 200_000 + self.below(1000) as i64)
            .to_string()
            .into_bytes()
    }

    /// The reply to what was sent has come: any short deadline it set
    /// passes at most its TTL from now.
    fn answered(&mut self) {
        if self.pending_short_ttl_ms > 0 {
            let passes = unix_ms() + self.pending_short_ttl_ms as i64 + 1;
            self.short_deadlines_pass_ms = self.short_deadlines_pass_ms.max(passes);
            self.pending_short_ttl_ms = 0;
        }
    }

    /// Sends one command and reads its reply (whatever it is: a WRONGTYPE
    /// or a nil is part of the workload).
    fn send(&mut self, c: &mut Client, args: &[Vec<u8>]) -> Frame {
        let reply = call(c, args);
        self.answered();
        reply
    }

    /// Options of SET that give or keep a deadline (or none).
    fn set_expiry_options(&mut self, out: &mut Vec<Vec<u8>>) {
        match self.below(10) {
            0 => {
                out.push(b"EX".to_vec());
                let ttl = self.long_ttl_s();
                out.push(ttl);
            }
            1 => {
                out.push(b"PX".to_vec());
                let ttl = self.short_ttl();
                out.push(ttl);
            }
            2 => {
                out.push(b"EXAT".to_vec());
                let at = self.long_deadline_s();
                out.push(at);
            }
            3 => {
                out.push(b"PXAT".to_vec());
                let at = self.long_deadline_s();
                out.push([at, b"123".to_vec()].concat());
            }
            4 => out.push(b"KEEPTTL".to_vec()),
            _ => {}
        }
    }

    /// One random write (or a read that writes, as GETEX and GETDEL do).
    fn command(&mut self) -> Vec<Vec<u8>> {
        let b = |s: &str| s.as_bytes().to_vec();
        match self.below(112) {
            // Strings.
            0..=4 => {
                let mut args = vec![b("SET"), self.key(Kind::Str), self.value()];
                self.set_expiry_options(&mut args);
                match self.below(6) {
                    0 => args.push(b("NX")),
                    1 => args.push(b("XX")),
                    _ => {}
                }
                if self.chance(20) {
                    args.push(b("GET"));
                }
                args
            }
            5..=6 => vec![b("APPEND"), self.key(Kind::Str), self.value()],
            7 => vec![
                b("SETRANGE"),
                self.key(Kind::Str),
                self.below(20).to_string().into_bytes(),
                self.value(),
            ],
            8 => vec![b("GETDEL"), self.key(Kind::Str)],
            9..=10 => {
                let mut args = vec![b("GETEX"), self.key(Kind::Str)];
                match self.below(6) {
                    0 => args.extend([b("EX"), self.long_ttl_s()]),
                    1 => args.extend([b("PX"), self.short_ttl()]),
                    2 => args.extend([b("EXAT"), self.long_deadline_s()]),
                    3 => args.extend([b("PXAT"), [self.long_deadline_s(), b("7")].concat()]),
                    4 => args.push(b("PERSIST")),
                    _ => {}
                }
                args
            }
            11 => vec![
                b("MSET"),
                self.key(Kind::Str),
                self.value(),
                self.key(Kind::Str),
                self.value(),
            ],
            12 => vec![
                b("PSETEX"),
                self.key(Kind::Str),
                self.short_ttl(),
                self.value(),
            ],
            13 => vec![
                b("SETEX"),
                self.key(Kind::Str),
                self.long_ttl_s(),
                self.value(),
            ],
            // Counters.
            14..=15 => vec![b("INCR"), self.key(Kind::Num)],
            16 => vec![b("DECR"), self.key(Kind::Num)],
            17 => vec![
                b("INCRBY"),
                self.key(Kind::Num),
                (self.below(200) as i64 - 100).to_string().into_bytes(),
            ],
            18..=19 => {
                let by = self.pick(&["1.5", "-0.25", "3e2", "0.1", "-7", "1.0e-3"]);
                vec![b("INCRBYFLOAT"), self.key(Kind::Num), b(by)]
            }
            20 => vec![
                b("SET"),
                self.key(Kind::Num),
                self.below(100).to_string().into_bytes(),
            ],
            // Lists.
            21..=24 => {
                let push = self.pick(&["LPUSH", "RPUSH", "LPUSH", "RPUSH", "LPUSHX", "RPUSHX"]);
                let mut args = vec![b(push), self.key(Kind::List)];
                for _ in 0..1 + self.below(3) {
                    args.push(self.element());
                }
                args
            }
            25..=26 => {
                let pop = self.pick(&["LPOP", "RPOP"]);
                let mut args = vec![b(pop), self.key(Kind::List)];
                if self.chance(30) {
                    args.push((1 + self.below(3)).to_string().into_bytes());
                }
                args
            }
            27..=28 => vec![
                b("LMOVE"),
                self.key(Kind::List),
                self.key(Kind::List),
                b(self.pick(&["LEFT", "RIGHT"])),
                b(self.pick(&["LEFT", "RIGHT"])),
            ],
            29 => vec![b("RPOPLPUSH"), self.key(Kind::List), self.key(Kind::List)],
            30 => vec![
                b("LINSERT"),
                self.key(Kind::List),
                b(self.pick(&["BEFORE", "AFTER"])),
                self.element(),
                self.element(),
            ],
            31 => vec![
                b("LTRIM"),
                self.key(Kind::List),
                self.below(3).to_string().into_bytes(),
                (self.below(8) as i64 - 2).to_string().into_bytes(),
            ],
            32 => vec![
                b("LSET"),
                self.key(Kind::List),
                (self.below(6) as i64 - 3).to_string().into_bytes(),
                self.element(),
            ],
            33 => vec![
                b("LREM"),
                self.key(Kind::List),
                (self.below(5) as i64 - 2).to_string().into_bytes(),
                self.element(),
            ],
            // Hashes.
            34..=37 => {
                let mut args = vec![b(self.pick(&["HSET", "HMSET"])), self.key(Kind::Hash)];
                for _ in 0..1 + self.below(3) {
                    args.push(self.field());
                    args.push(self.value());
                }
                args
            }
            38 => vec![
                b("HSETNX"),
                self.key(Kind::Hash),
                self.field(),
                self.value(),
            ],
            39..=40 => {
                let mut args = vec![b("HDEL"), self.key(Kind::Hash), self.field()];
                if self.chance(30) {
                    args.push(self.field());
                }
                args
            }
            41 => vec![
                b("HINCRBY"),
                self.key(Kind::Hash),
                self.field(),
                (self.below(20) as i64 - 5).to_string().into_bytes(),
            ],
            42 => {
                let by = self.pick(&["2.5", "-1.25", "1e1", "0.3"]);
                vec![b("HINCRBYFLOAT"), self.key(Kind::Hash), self.field(), b(by)]
            }
            // Sets.
            43..=46 => {
                let mut args = vec![b("SADD"), self.key(Kind::Set)];
                for _ in 0..1 + self.below(4) {
                    args.push(self.member());
                }
                args
            }
            47..=48 => {
                let mut args = vec![b("SREM"), self.key(Kind::Set), self.member()];
                if self.chance(30) {
                    args.push(self.member());
                }
                args
            }
            49..=50 => {
                let mut args = vec![b("SPOP"), self.key(Kind::Set)];
                if self.chance(50) {
                    args.push(self.below(6).to_string().into_bytes());
                }
                args
            }
            51 => vec![
                b("SMOVE"),
                self.key(Kind::Set),
                self.key(Kind::Set),
                self.member(),
            ],
            52..=53 => vec![
                b(self.pick(&["SINTERSTORE", "SINTERSTORE", "SUNIONSTORE", "SDIFFSTORE"])),
                self.key(Kind::Set),
                self.key(Kind::Set),
                self.key(Kind::Set),
            ],
            // Keys of any kind.
            54..=56 => {
                let mut args = vec![b(self.pick(&["DEL", "DEL", "UNLINK"])), self.any_key().1];
                if self.chance(30) {
                    args.push(self.any_key().1);
                }
                args
            }
            57..=58 => vec![b("EXPIRE"), self.any_key().1, self.long_ttl_s()],
            59..=61 => vec![b("PEXPIRE"), self.any_key().1, self.short_ttl()],
            62 => vec![b("PERSIST"), self.any_key().1],
            63 => vec![
                b("PEXPIREAT"),
                self.any_key().1,
                [self.long_deadline_s(), b("456")].concat(),
            ],
            // A deadline in the past deletes the key.
            64 => vec![b("EXPIREAT"), self.any_key().1, b("1000")],
            65..=66 => {
                let (kind, from) = self.any_key();
                let to = self.key(kind);
                vec![b(self.pick(&["RENAME", "RENAME", "RENAMENX"])), from, to]
            }
            67..=68 => {
                let (kind, from) = self.any_key();
                let to = self.key(kind);
                let mut args = vec![b("COPY"), from, to];
                if self.chance(50) {
                    args.push(b("DB"));
                    args.push(self.db());
                }
                if self.chance(50) {
                    args.push(b("REPLACE"));
                }
                args
            }
            69..=70 => vec![b("MOVE"), self.any_key().1, self.db()],
            // Blocking pops never block inside MULTI, and outside it
            // they find a key or wait ten milliseconds.
            71 => {
                let pop = self.pick(&["BLPOP", "BRPOP"]);
                vec![
                    b(pop),
                    self.key(Kind::List),
                    self.key(Kind::List),
                    b("0.01"),
                ]
            }
            72 => vec![
                b("BLMOVE"),
                self.key(Kind::List),
                self.key(Kind::List),
                b(self.pick(&["LEFT", "RIGHT"])),
                b(self.pick(&["LEFT", "RIGHT"])),
                b("0.01"),
            ],
            // The commonest writes again, so that values grow.
            73..=82 => {
                let mut args = vec![b("RPUSH"), self.key(Kind::List), self.element()];
                if self.chance(50) {
                    args.push(self.element());
                }
                args
            }
            83..=89 => vec![b("HSET"), self.key(Kind::Hash), self.field(), self.value()],
            90..=94 => vec![b("SADD"), self.key(Kind::Set), self.member()],
            95..=99 => vec![b("SET"), self.key(Kind::Str), self.value()],
            // Less common writes.
            100 => vec![b("GETSET"), self.key(Kind::Str), self.value()],
            101 => vec![
                b("MSETNX"),
                self.key(Kind::Str),
                self.value(),
                self.key(Kind::Str),
                self.value(),
            ],
            102 => vec![b("SETNX"), self.key(Kind::Str), self.value()],
            103 => vec![
                b("DECRBY"),
                self.key(Kind::Num),
                self.below(50).to_string().into_bytes(),
            ],
            104..=105 => {
                let mut args = vec![
                    b("LMPOP"),
                    b("2"),
                    self.key(Kind::List),
                    self.key(Kind::List),
                    b(self.pick(&["LEFT", "RIGHT"])),
                ];
                if self.chance(50) {
                    args.extend([b("COUNT"), (1 + self.below(4)).to_string().into_bytes()]);
                }
                args
            }
            106 => {
                let mut args = vec![
                    b("BLMPOP"),
                    b("0.01"),
                    b("2"),
                    self.key(Kind::List),
                    self.key(Kind::List),
                    b(self.pick(&["LEFT", "RIGHT"])),
                ];
                if self.chance(50) {
                    args.extend([b("COUNT"), (1 + self.below(4)).to_string().into_bytes()]);
                }
                args
            }
            107 => vec![
                b("BRPOPLPUSH"),
                self.key(Kind::List),
                self.key(Kind::List),
                b("0.01"),
            ],
            108..=109 => vec![
                b(self.pick(&["EXPIRE", "PEXPIREAT"])),
                self.any_key().1,
                if self.chance(50) {
                    self.long_ttl_s()
                } else {
                    [self.long_deadline_s(), b("000")].concat()
                },
                b(self.pick(&["NX", "XX", "GT", "LT"])),
            ],
            _ => vec![
                b("PEXPIRE"),
                self.any_key().1,
                self.short_ttl(),
                b(self.pick(&["NX", "XX", "GT", "LT"])),
            ],
        }
    }

    /// DUMP of a random key, RESTOREd under another name of its kind,
    /// with no deadline, a relative one or an absolute one (Redis
    /// replays a relative one as absolute).
    fn dump_and_restore(&mut self, c: &mut Client) {
        let (kind, from) = self.any_key();
        let to = self.key(kind);
        let payload = match call(c, &[b"DUMP".as_slice(), &from]) {
            Frame::Bulk(payload) => payload,
            Frame::NullBulk => return,
            other => panic!("DUMP {} answered {other:?}", escape(&from)),
        };
        let mut args: Vec<Vec<u8>> = vec![b"RESTORE".to_vec(), to];
        match self.below(3) {
            0 => args.push(b"0".to_vec()),
            1 => args.push(format!("{}", 100_000_000 + self.below(1000)).into_bytes()),
            _ => args.push(format!("{}", unix_ms() + 200_000_000).into_bytes()),
        }
        let absolute = args[2].len() > 10;
        args.push(payload);
        args.push(b"REPLACE".to_vec());
        if absolute {
            args.push(b"ABSTTL".to_vec());
        }
        ok(c, &args);
    }

    /// Creates two keys in three of each kind in the workload's
    /// databases (so that MOVE, COPY and RENAMENX find some names free), a
    /// quarter of them with a far deadline, pipelined.
    fn prefill(&mut self, c: &mut Client) {
        let mut commands = Vec::new();
        for db in 0..WORKLOAD_DBS {
            commands.push(command(&["SELECT", &db.to_string()]));
            for kind in KINDS {
                for i in 0..KEYS_PER_KIND {
                    if self.below(3) == 0 {
                        continue;
                    }
                    let key = format!("{}:{i}", kind.prefix()).into_bytes();
                    let mut args: Vec<Vec<u8>> = match kind {
                        Kind::Str => vec![b"SET".to_vec(), key.clone(), self.value()],
                        Kind::Num => vec![
                            b"SET".to_vec(),
                            key.clone(),
                            self.below(1000).to_string().into_bytes(),
                        ],
                        Kind::List => vec![b"RPUSH".to_vec(), key.clone(), self.element()],
                        Kind::Hash => {
                            vec![b"HSET".to_vec(), key.clone(), self.field(), self.value()]
                        }
                        Kind::Set => vec![b"SADD".to_vec(), key.clone(), self.member()],
                    };
                    for _ in 0..2 + self.below(6) {
                        match kind {
                            Kind::List => args.push(self.element()),
                            Kind::Hash => {
                                args.push(self.field());
                                args.push(self.value());
                            }
                            Kind::Set => args.push(self.member()),
                            _ => {}
                        }
                    }
                    commands.push(args);
                    if self.chance(25) {
                        commands.push(vec![b"EXPIRE".to_vec(), key, self.long_ttl_s()]);
                    }
                }
            }
        }
        commands.push(command(&["SELECT", "0"]));
        for (reply, args) in pipeline(c, &commands).into_iter().zip(&commands) {
            assert!(
                !matches!(reply, Frame::Error(_)),
                "prefill: [{}] answered {reply:?}",
                shown(args)
            );
        }
    }

    /// MULTI, a few random commands (a SELECT among them now and then),
    /// EXEC.
    fn transaction(&mut self, c: &mut Client) {
        // Now and then a watched key, which the same client changes half
        // of those times: if it existed, EXEC fails and nothing of the
        // transaction may reach the file.
        if self.chance(15) {
            let key = self.any_key().1;
            ok(c, &[b"WATCH".as_slice(), &key]);
            if self.chance(50) {
                int(c, &[b"DEL".as_slice(), &key]);
            }
        }
        expect_reply(c, &["MULTI"], "+OK\r\n");
        for _ in 0..1 + self.below(5) {
            let args = if self.chance(10) {
                command(&["SELECT", &self.below(WORKLOAD_DBS).to_string()])
            } else {
                self.command()
            };
            expect_reply(c, &args, "+QUEUED\r\n");
        }
        match call(c, &["EXEC"]) {
            Frame::Array(_) | Frame::NullArray => {}
            other => panic!("EXEC answered {other:?}"),
        }
        self.answered();
    }

    /// A pop from `blocker` that blocks on an empty key, and the push
    /// from `c` that serves it (alone, or in a transaction, or moved in
    /// from another list).
    fn served_blocking_pop(&mut self, c: &mut Client, blocker: &mut Client) {
        let db = self.below(WORKLOAD_DBS) as usize;
        select(c, db);
        select(blocker, db);
        let key = format!("blk:{}", self.below(BLOCKING_KEYS)).into_bytes();
        int(c, &[b"DEL".as_slice(), &key]);
        let b = |s: &str| s.as_bytes().to_vec();
        let pop: Vec<Vec<u8>> = match self.below(5) {
            0 => vec![b("BLPOP"), key.clone(), b("10")],
            1 => vec![b("BRPOP"), key.clone(), b("10")],
            2 => vec![
                b("BLMPOP"),
                b("10"),
                b("1"),
                key.clone(),
                b(self.pick(&["LEFT", "RIGHT"])),
                b("COUNT"),
                (1 + self.below(3)).to_string().into_bytes(),
            ],
            3 => vec![b("BRPOPLPUSH"), key.clone(), self.key(Kind::List), b("10")],
            _ => vec![
                b("BLMOVE"),
                key.clone(),
                self.key(Kind::List),
                b(self.pick(&["LEFT", "RIGHT"])),
                b(self.pick(&["LEFT", "RIGHT"])),
                b("10"),
            ],
        };
        blocker
            .send(&pop)
            .unwrap_or_else(|e| panic!("send [{}]: {e}", shown(&pop)));
        wait_until("the pop blocks", || {
            info_field(c, "clients", "blocked_clients") == "1"
        });
        let (e1, e2) = (self.element(), self.element());
        match self.below(4) {
            0 => {
                int(c, &[b"RPUSH".as_slice(), &key, &e1, &e2]);
            }
            1 => {
                expect_reply(c, &["MULTI"], "+OK\r\n");
                expect_reply(c, &[b"LPUSH".as_slice(), &key, &e1], "+QUEUED\r\n");
                expect_reply(c, &[b"RPUSH".as_slice(), &key, &e2], "+QUEUED\r\n");
                match call(c, &["EXEC"]) {
                    Frame::Array(_) => {}
                    other => panic!("EXEC answered {other:?}"),
                }
            }
            2 => {
                let source = self.key(Kind::List);
                int(c, &[b"RPUSH".as_slice(), &source, &e1]);
                bulk(c, &[b"LMOVE".as_slice(), &source, &key, b"RIGHT", b"LEFT"]);
            }
            _ => {
                // The list is made in another database and swapped in.
                let other =
                    (db + 1 + self.below(WORKLOAD_DBS - 1) as usize) % WORKLOAD_DBS as usize;
                select(c, other);
                int(c, &[b"DEL".as_slice(), &key]);
                int(c, &[b"RPUSH".as_slice(), &key, &e1, &e2]);
                ok(c, &["SWAPDB", &db.to_string(), &other.to_string()]);
            }
        }
        let reply = blocker
            .read_reply()
            .unwrap_or_else(|e| panic!("reply to the blocked [{}]: {e}", shown(&pop)));
        assert!(
            reply.starts_with(b"*2\r\n") || reply.starts_with(b"$"),
            "the blocked [{}] was served with \"{}\"",
            shown(&pop),
            escape(&reply)
        );
        assert!(
            !reply.starts_with(b"$-1"),
            "the blocked [{}] was not served",
            shown(&pop)
        );
    }

    /// Keys whose short deadline passes while active expiry is off, then
    /// written again: each write meets an expired key (lazy expiry), so
    /// the file must say the key was deleted before the write.
    fn lazy_expiry(&mut self, c: &mut Client) {
        ok(c, &["DEBUG", "SET-ACTIVE-EXPIRE", "0"]);
        let db = self.below(WORKLOAD_DBS) as usize;
        select(c, db);
        let mut writes: Vec<Vec<Vec<u8>>> = Vec::new();
        for i in 0..4 {
            let kind = KINDS[i % KINDS.len()];
            let key = self.key(kind);
            let ttl = self.short_ttl();
            let k = key.as_slice();
            let (create, write): (Vec<Vec<u8>>, Vec<Vec<u8>>) = match kind {
                Kind::Str => (
                    command(&[b"SET".as_slice(), k, b"old"]),
                    command(&[b"APPEND".as_slice(), k, b"new"]),
                ),
                Kind::Num => (
                    command(&[b"SET".as_slice(), k, b"41"]),
                    command(&[b"INCR".as_slice(), k]),
                ),
                Kind::List => (
                    command(&[b"RPUSH".as_slice(), k, b"old"]),
                    command(&[b"RPUSH".as_slice(), k, b"new"]),
                ),
                _ => (
                    command(&[b"HSET".as_slice(), k, b"old", b"1"]),
                    command(&[b"HSET".as_slice(), k, b"new", b"1"]),
                ),
            };
            call(c, &create);
            assert_eq!(
                int(c, &[b"PEXPIRE".as_slice(), &key, &ttl]),
                1,
                "PEXPIRE {}",
                escape(&key)
            );
            writes.push(write);
        }
        self.answered();
        let pass = self.short_deadlines_pass_ms;
        wait_until("the short deadlines pass", || unix_ms() > pass);
        let before = expired_keys(c);
        for write in &writes {
            call(c, write);
        }
        assert_eq!(
            expired_keys(c),
            before + writes.len() as u64,
            "expired keys after writing {} keys whose deadline passed (active expiry off)",
            writes.len()
        );
        ok(c, &["DEBUG", "SET-ACTIVE-EXPIRE", "1"]);
    }

    /// Keys with a short deadline that nothing touches: active expiry
    /// deletes them (the test only asks INFO meanwhile), then the names
    /// are written again.
    fn active_expiry(&mut self, c: &mut Client) {
        let db = self.below(WORKLOAD_DBS) as usize;
        select(c, db);
        let before = expired_keys(c);
        let count = 5;
        let mut keys = Vec::new();
        for _ in 0..count {
            let key = self.key(Kind::Str);
            let ttl = self.short_ttl();
            ok(c, &[b"SET".as_slice(), &key, b"short-lived", b"PX", &ttl]);
            keys.push(key);
        }
        self.answered();
        keys.sort();
        keys.dedup();
        wait_until("active expiry deletes the short-lived keys", || {
            expired_keys(c) >= before + keys.len() as u64
        });
        for key in &keys {
            int(c, &[b"APPEND".as_slice(), key, b"again"]);
        }
    }
}

/// Runs `ops` steps of the workload seeded with `seed` on `c` (and
/// `blocker`, a second connection to the same server), with lazy and
/// active expiry checkpoints, and a rewrite as `rewrite` says. Returns
/// once every short deadline it gave out has passed, so that the dataset
/// is the same whenever it is read.
fn run_workload(
    who: &str,
    c: &mut Client,
    blocker: &mut Client,
    seed: u64,
    ops: usize,
    rewrite: Rewrite,
) {
    let mut w = Workload::new(seed);
    w.prefill(c);
    let rewrite_at = ops / 2;
    let rewrite_for = ops / 10;
    for step in 0..ops {
        if step == ops / 3 {
            w.lazy_expiry(c);
        }
        if step == 2 * ops / 3 {
            w.active_expiry(c);
        }
        if step == rewrite_at {
            match rewrite {
                Rewrite::None => {}
                Rewrite::Slowed => {
                    set_save_delay(c, SLOW_REWRITE_DELAY_US);
                    bgrewriteaof(c);
                    assert_eq!(
                        persistence_info(c, "aof_rewrite_in_progress"),
                        "1",
                        "{who}: a slowed rewrite of hundreds of keys is running"
                    );
                }
                Rewrite::Plain => {
                    let reply = c.cmd(&["BGREWRITEAOF"]);
                    assert!(
                        reply.starts_with(b"+Background append only file rewriting"),
                        "{who}: BGREWRITEAOF answered \"{}\"",
                        escape(&reply)
                    );
                }
            }
        }
        if step == rewrite_at + rewrite_for && rewrite != Rewrite::None {
            if rewrite == Rewrite::Slowed {
                set_save_delay(c, "0");
            }
            wait_rewrite_done(c, who);
        }
        // While the rewrite runs, databases are swapped and one is
        // flushed at least once: the snapshot must still be of the
        // moment it started.
        if rewrite != Rewrite::None && step == rewrite_at + rewrite_for / 3 {
            ok(c, &["SWAPDB", "0", "1"]);
        }
        if rewrite != Rewrite::None && step == rewrite_at + rewrite_for / 2 {
            select(c, 3);
            ok(c, &["FLUSHDB"]);
        }
        match w.below(1000) {
            0..=29 => w.transaction(c),
            30..=44 => w.served_blocking_pop(c, blocker),
            45..=79 => select(c, w.below(WORKLOAD_DBS) as usize),
            80..=82 => {
                let (a, b) = (w.db(), w.db());
                ok(c, &[b"SWAPDB".as_slice(), &a, &b]);
            }
            83 => ok(c, &["FLUSHDB"]),
            84..=93 => w.dump_and_restore(c),
            _ => {
                let args = w.command();
                w.send(c, &args);
            }
        }
    }
    let pass = w.short_deadlines_pass_ms;
    wait_until(&format!("{who}: the short deadlines pass"), || {
        unix_ms() > pass
    });
}

// ---------------------------------------------------------------------------
// 1. Replaying the AOF gives back the dataset
// ---------------------------------------------------------------------------

/// How the replay is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Replay {
    /// A new ferrokv started on the files.
    Restart,
    /// DEBUG LOADAOF on the same server.
    LoadAof,
}

/// Steps of the replay workload.
const REPLAY_OPS: usize = 3_000;

fn replay_gives_back_the_dataset(
    seed: u64,
    settings: &[(&str, &str)],
    rewrite: Rewrite,
    replay: Replay,
) {
    let server = start_ferrokv_aof(settings, &[]);
    let (mut c, mut blocker) = (server.connect(), server.connect());
    run_workload("ferrokv", &mut c, &mut blocker, seed, REPLAY_OPS, rewrite);
    let before = Dataset::read_scanned(&mut c);
    assert!(
        before.key_count() > 100,
        "the workload left only {} keys",
        before.key_count()
    );
    match replay {
        Replay::Restart => {
            restarted_holding(
                settings,
                &aof_files(&server),
                "ferrokv after the workload",
                &before,
                "ferrokv restarted on its AOF",
            );
        }
        Replay::LoadAof => {
            ok(&mut c, &["DEBUG", "LOADAOF"]);
            assert_holds(
                "ferrokv after the workload",
                &before,
                "ferrokv after DEBUG LOADAOF",
                &mut c,
            );
        }
    }
    check_aof(server.dir(), "ferrokv's AOF after the workload");
}

#[test]
fn replay_gives_back_the_dataset_with_rdb_preamble() {
    replay_gives_back_the_dataset(
        0xa0f_0001,
        &[("aof-use-rdb-preamble", "yes")],
        Rewrite::None,
        Replay::Restart,
    );
}

#[test]
fn replay_gives_back_the_dataset_without_rdb_preamble_fsync_always_with_timestamps() {
    replay_gives_back_the_dataset(
        0xa0f_0002,
        &[
            ("aof-use-rdb-preamble", "no"),
            ("appendfsync", "always"),
            ("aof-timestamp-enabled", "yes"),
        ],
        Rewrite::None,
        Replay::Restart,
    );
}

#[test]
fn replay_gives_back_the_dataset_after_a_slowed_rewrite_with_rdb_preamble() {
    replay_gives_back_the_dataset(
        0xa0f_0003,
        &[("aof-use-rdb-preamble", "yes"), ("appendfsync", "no")],
        Rewrite::Slowed,
        Replay::Restart,
    );
}

#[test]
fn replay_gives_back_the_dataset_after_a_slowed_rewrite_without_rdb_preamble() {
    replay_gives_back_the_dataset(
        0xa0f_0004,
        &[
            ("aof-use-rdb-preamble", "no"),
            ("aof-timestamp-enabled", "yes"),
        ],
        Rewrite::Slowed,
        Replay::Restart,
    );
}

#[test]
fn debug_loadaof_gives_back_the_dataset() {
    replay_gives_back_the_dataset(
        0xa0f_0005,
        &[("aof-use-rdb-preamble", "yes")],
        Rewrite::None,
        Replay::LoadAof,
    );
}

#[test]
fn debug_loadaof_gives_back_the_dataset_after_a_slowed_rewrite_without_rdb_preamble() {
    replay_gives_back_the_dataset(
        0xa0f_0006,
        &[("aof-use-rdb-preamble", "no")],
        Rewrite::Slowed,
        Replay::LoadAof,
    );
}

/// How long the keys of [`nothing_expires_while_the_files_replay`] live:
/// long enough for the commands that keep them to run first on a busy
/// machine, short enough that the test waits for it.
const REPLAY_DEADLINE_MS: u64 = 2_000;

/// Keys given a deadline, then (before it) kept by PERSIST, GETEX PERSIST
/// or a write: when the files replay after the deadline has passed, the
/// commands that kept them must still find them, so nothing may expire
/// during the replay (Redis's loading rule). One key's deadline is in the
/// base (a rewrite's snapshot), the others in the incr file.
fn nothing_expires_while_the_files_replay(preamble: &str) {
    let settings = [("aof-use-rdb-preamble", preamble)];
    let server = start_ferrokv_aof(&settings, &[]);
    let mut c = server.connect();
    let ttl = REPLAY_DEADLINE_MS.to_string();
    let started = unix_ms();
    ok(&mut c, &["SET", "in:base", "v", "PX", &ttl]);
    int(&mut c, &["RPUSH", "list:in:base", "a"]);
    int(&mut c, &["PEXPIRE", "list:in:base", &ttl]);
    bgrewriteaof(&mut c);
    wait_rewrite_done(&mut c, "ferrokv");
    ok(&mut c, &["SET", "str", "v", "PX", &ttl]);
    ok(&mut c, &["SET", "num", "1", "PX", &ttl]);
    int(&mut c, &["RPUSH", "list", "a"]);
    int(&mut c, &["PEXPIRE", "list", &ttl]);
    int(&mut c, &["SADD", "set", "m"]);
    int(&mut c, &["PEXPIRE", "set", &ttl]);
    // The last deadline given passes by then.
    let all_passed = unix_ms() + REPLAY_DEADLINE_MS as i64 + 1;
    // Kept, before the deadline: each reply says the key was still there.
    let kept: [(&[&str], &str); 8] = [
        (&["PERSIST", "in:base"], ":1\r\n"),
        (&["RPUSH", "list:in:base", "b"], ":2\r\n"),
        (&["PERSIST", "list:in:base"], ":1\r\n"),
        (&["PERSIST", "str"], ":1\r\n"),
        (&["INCR", "num"], ":2\r\n"),
        (&["GETEX", "num", "PERSIST"], "$1\r\n2\r\n"),
        (&["RPUSH", "list", "b"], ":2\r\n"),
        (&["PERSIST", "list"], ":1\r\n"),
    ];
    for (args, reply) in kept {
        expect_reply(&mut c, args, reply);
    }
    // The set is left to expire: it must be gone after the load, as here.
    let expected = Dataset::read_scanned(&mut c);
    assert!(
        unix_ms() < started + REPLAY_DEADLINE_MS as i64,
        "the keys were kept before their deadline (this machine took over {REPLAY_DEADLINE_MS} ms)"
    );
    let files = aof_files(&server);
    wait_until("the deadlines pass", || unix_ms() > all_passed);
    let mut expected_after = expected.clone();
    let (size, keys) = expected_after.dbs.get_mut(&0).expect("database 0");
    assert!(
        keys.remove(b"set".as_slice()).is_some(),
        "the set was there"
    );
    *size -= 1;
    assert_eq!(
        expected_after.key_count(),
        5,
        "five keys kept: {expected_after:?}"
    );
    restarted_holding(
        &settings,
        &files,
        "ferrokv before the deadline, less the set",
        &expected_after,
        "ferrokv loading the files after the deadline",
    );
    let Some(redis) = start_redis_aof(&settings, &files) else {
        println!("SKIPPED: redis-server not found on PATH; its replay not compared");
        return;
    };
    assert_holds(
        "ferrokv before the deadline, less the set",
        &expected_after,
        "redis-server loading the files after the deadline",
        &mut redis.connect(),
    );
}

#[test]
fn nothing_expires_while_the_files_replay_with_rdb_preamble() {
    nothing_expires_while_the_files_replay("yes");
}

#[test]
fn nothing_expires_while_the_files_replay_without_rdb_preamble() {
    nothing_expires_while_the_files_replay("no");
}

#[test]
fn clients_get_loading_while_the_aof_loads() {
    let source = start_ferrokv_aof(&[], &[]);
    let mut c = source.connect();
    for i in 0..50 {
        ok(&mut c, &["SET", &format!("k{i}"), &format!("v{i}")]);
    }
    let files = aof_files(&source);
    let total: usize = files
        .iter()
        .filter(|(name, _)| !name.ends_with(MANIFEST))
        .map(|(_, bytes)| bytes.len())
        .sum();
    // key-load-delay holds the load at one command a second until the
    // test lifts it, so what a client sees while loading does not race.
    let dir = ScratchDir::with_files("loading", &files).keep();
    fs::write(
        dir.join("slow.conf"),
        "key-load-delay 1000000\nappendonly yes\nsave \"\"\n",
    )
    .unwrap();
    let port = common::free_port();
    let child = Command::new(common::ferrokv_program())
        .arg("slow.conf")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .current_dir(&dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let server = common::Spawned { child, dir, port };
    let deadline = Instant::now() + CONDITION_TIMEOUT;
    let mut c = loop {
        match Client::connect(server.port) {
            Ok(c) => break c,
            Err(_) if Instant::now() < deadline => thread::sleep(common::CONDITION_POLL),
            Err(e) => panic!("no connection to the loading server: {e}"),
        }
    };
    let loading = "-LOADING Redis is loading the dataset in memory\r\n";
    expect_reply(&mut c, &["PING"], loading);
    expect_reply(&mut c, &["GET", "k1"], loading);
    expect_reply(&mut c, &["SET", "k1", "x"], loading);
    assert_eq!(persistence_info(&mut c, "loading"), "1");
    assert_eq!(
        persistence_info(&mut c, "loading_total_bytes"),
        total.to_string()
    );
    ok(&mut c, &["CONFIG", "SET", "key-load-delay", "0"]);
    wait_until("the load ends", || c.cmd(&["PING"]) == b"+PONG\r\n");
    assert_eq!(int(&mut c, &["DBSIZE"]), 50);
    assert_eq!(bulk(&mut c, &["GET", "k7"]), b"v7");
    assert_eq!(persistence_info(&mut c, "loading"), "0");
}

// ---------------------------------------------------------------------------
// 2. Files carried between ferrokv and redis-server
// ---------------------------------------------------------------------------

/// Steps of the interchange workloads.
const INTERCHANGE_OPS: usize = 1_500;

fn redis_loads_what_ferrokv_wrote(seed: u64, preamble: &str) {
    if common::find_on_path("redis-server").is_none() {
        println!("SKIPPED: redis-server not found on PATH; ferrokv -> redis-server not run");
        return;
    }
    let settings = [("aof-use-rdb-preamble", preamble)];
    let ferrokv = start_ferrokv_aof(&settings, &[]);
    let (mut c, mut blocker) = (ferrokv.connect(), ferrokv.connect());
    run_workload(
        "ferrokv",
        &mut c,
        &mut blocker,
        seed,
        INTERCHANGE_OPS,
        Rewrite::Slowed,
    );
    let written = Dataset::read_scanned(&mut c);
    let files = aof_files(&ferrokv);
    let manifest = manifest_of(&files);
    let suffix = if preamble == "yes" { "rdb" } else { "aof" };
    assert!(
        manifest
            .iter()
            .any(|e| e.kind == 'b' && e.seq == 2 && e.name.ends_with(suffix)),
        "after one rewrite the base is the second, a .base.{suffix}: {manifest:?}"
    );
    let redis = start_redis_aof(&settings, &files).expect("redis-server is on PATH");
    assert_holds(
        "ferrokv",
        &written,
        "redis-server loading ferrokv's AOF",
        &mut redis.connect(),
    );
}

#[test]
fn redis_loads_what_ferrokv_wrote_with_rdb_preamble() {
    redis_loads_what_ferrokv_wrote(0xa0f_0101, "yes");
}

#[test]
fn redis_loads_what_ferrokv_wrote_without_rdb_preamble() {
    redis_loads_what_ferrokv_wrote(0xa0f_0102, "no");
}

fn ferrokv_loads_what_redis_wrote(seed: u64, preamble: &str) {
    let settings = [("aof-use-rdb-preamble", preamble)];
    let Some(redis) = start_redis_aof(&settings, &[]) else {
        println!("SKIPPED: redis-server not found on PATH; redis-server -> ferrokv not run");
        return;
    };
    let (mut c, mut blocker) = (redis.connect(), redis.connect());
    run_workload(
        "redis-server",
        &mut c,
        &mut blocker,
        seed,
        INTERCHANGE_OPS,
        Rewrite::Plain,
    );
    let written = Dataset::read_scanned(&mut c);
    let files = aof_files(&redis);
    let ferrokv = start_ferrokv_aof(&settings, &files);
    assert_holds(
        "redis-server",
        &written,
        "ferrokv loading redis-server's AOF",
        &mut ferrokv.connect(),
    );
}

#[test]
fn ferrokv_loads_what_redis_wrote_with_rdb_preamble() {
    ferrokv_loads_what_redis_wrote(0xa0f_0201, "yes");
}

#[test]
fn ferrokv_loads_what_redis_wrote_without_rdb_preamble() {
    ferrokv_loads_what_redis_wrote(0xa0f_0202, "no");
}

/// An AOF as Redis before 7.0 kept it: one file, `appendonly.aof`, in
/// the working directory (an RDB preamble and then commands, or only
/// commands). It is moved into `appendonlydir/` as the base, and loaded.
fn an_old_single_file_aof_is_migrated_and_loaded(seed: u64, preamble: &str) {
    let settings = [("aof-use-rdb-preamble", preamble)];
    let source = start_ferrokv_aof(&settings, &[]);
    let (mut c, mut blocker) = (source.connect(), source.connect());
    run_workload("ferrokv", &mut c, &mut blocker, seed, 300, Rewrite::Slowed);
    let written = Dataset::read_scanned(&mut c);
    let files = aof_files(&source);
    // The base (a rewrite's snapshot) and the commands since, one after
    // the other, are exactly an old-style file.
    let manifest = manifest_of(&files);
    let mut single = Vec::new();
    for entry in manifest.iter().filter(|e| e.kind == 'b' || e.kind == 'i') {
        let path = format!("{AOF_DIR}/{}", entry.name);
        single.extend_from_slice(file_bytes(&files, &path));
    }
    let expect_rdb = preamble == "yes";
    assert_eq!(
        single.starts_with(b"REDIS"),
        expect_rdb,
        "the old-style file starts with an RDB preamble exactly when aof-use-rdb-preamble is yes"
    );
    let old = vec![("appendonly.aof".to_string(), single.clone())];

    let migrated = start_ferrokv_aof(&settings, &old);
    let mut m = migrated.connect();
    assert_holds(
        "ferrokv that wrote the files",
        &written,
        "ferrokv loading them as one old-style appendonly.aof",
        &mut m,
    );
    assert!(
        !migrated.dir().join("appendonly.aof").exists(),
        "appendonly.aof is still in the working directory after the migration"
    );
    let moved = fs::read(migrated.dir().join(AOF_DIR).join("appendonly.aof"))
        .expect("appendonly.aof moved into appendonlydir");
    assert_eq!(moved, single, "the migrated file is the old one, unchanged");
    let migrated_files = aof_files(&migrated);
    let entries = manifest_of(&migrated_files);
    assert_eq!(
        entries,
        vec![
            ManifestEntry {
                name: "appendonly.aof".into(),
                seq: 1,
                kind: 'b'
            },
            ManifestEntry {
                name: "appendonly.aof.1.incr.aof".into(),
                seq: 1,
                kind: 'i'
            },
        ],
        "the manifest after the migration"
    );
    // Writes after the migration go to the new incremental file and
    // survive a restart.
    ok(&mut m, &["SET", "after:migration", "yes"]);
    let expected = Dataset::read_scanned(&mut m);
    restarted_holding(
        &settings,
        &aof_files(&migrated),
        "ferrokv after the migration",
        &expected,
        "ferrokv restarted on the migrated directory",
    );

    // redis-server migrates the same file to the same directory.
    let Some(redis) = start_redis_aof(&settings, &old) else {
        println!("SKIPPED: redis-server not found on PATH; its migration not compared");
        return;
    };
    assert_holds(
        "ferrokv that wrote the files",
        &written,
        "redis-server loading them as one old-style appendonly.aof",
        &mut redis.connect(),
    );
    let theirs = aof_files(&redis);
    let manifest_path = format!("{AOF_DIR}/{MANIFEST}");
    let ours_manifest = file_bytes(&migrated_files, &manifest_path);
    let theirs_manifest = file_bytes(&theirs, &manifest_path);
    assert_eq!(
        escape(ours_manifest),
        escape(theirs_manifest),
        "the manifests ferrokv and redis-server write on migrating"
    );
}

#[test]
fn an_old_single_file_aof_with_rdb_preamble_is_migrated_and_loaded() {
    an_old_single_file_aof_is_migrated_and_loaded(0xa0f_0301, "yes");
}

#[test]
fn an_old_single_file_aof_of_commands_is_migrated_and_loaded() {
    an_old_single_file_aof_is_migrated_and_loaded(0xa0f_0302, "no");
}

// ---------------------------------------------------------------------------
// 3. redis-check-aof
// ---------------------------------------------------------------------------

fn redis_check_aof_accepts_ferrokvs_manifest(seed: u64, settings: &[(&str, &str)]) {
    if common::find_on_path("redis-check-aof").is_none() {
        println!("SKIPPED: redis-check-aof not found on PATH");
        return;
    }
    let server = start_ferrokv_aof(settings, &[]);
    let (mut c, mut blocker) = (server.connect(), server.connect());
    // Before any rewrite: the base written at start-up and one
    // incremental file.
    run_workload("ferrokv", &mut c, &mut blocker, seed, 200, Rewrite::None);
    check_aof(server.dir(), "ferrokv's AOF before a rewrite");
    // After a rewrite with writes during it and after it.
    run_workload(
        "ferrokv",
        &mut c,
        &mut blocker,
        seed + 1,
        300,
        Rewrite::Slowed,
    );
    let copy = ScratchDir::with_files("check", &aof_files(&server));
    check_aof(&copy.0, "ferrokv's AOF after a rewrite");
}

#[test]
fn redis_check_aof_accepts_ferrokvs_manifest_with_rdb_preamble() {
    redis_check_aof_accepts_ferrokvs_manifest(0xa0f_0401, &[("aof-use-rdb-preamble", "yes")]);
}

#[test]
fn redis_check_aof_accepts_ferrokvs_manifest_without_rdb_preamble_with_timestamps() {
    redis_check_aof_accepts_ferrokvs_manifest(
        0xa0f_0402,
        &[
            ("aof-use-rdb-preamble", "no"),
            ("aof-timestamp-enabled", "yes"),
        ],
    );
}

// ---------------------------------------------------------------------------
// 4. Truncated and corrupt files, bad manifests
// ---------------------------------------------------------------------------

/// A value long enough that cutting the command that holds it in half
/// leaves a visibly partial command.
fn long_value() -> Vec<u8> {
    b"0123456789".repeat(10)
}

/// A small AOF written by ferrokv: a base written at start-up (empty) and
/// an incremental file holding, in order, `SET a 1`, `RPUSH l x y`,
/// `HSET h f v` in database 3, and, last, `SET last <long value>` in
/// database 0. Returns the files and the offset in the incremental file
/// where that last command starts.
fn small_aof(settings: &[(&str, &str)]) -> (Files, usize) {
    let server = start_ferrokv_aof(settings, &[]);
    let mut c = server.connect();
    ok(&mut c, &["SET", "a", "1"]);
    int(&mut c, &["RPUSH", "l", "x", "y"]);
    select(&mut c, 3);
    int(&mut c, &["HSET", "h", "f", "v"]);
    select(&mut c, 0);
    let last = [b"SET".as_slice(), b"last", &long_value()];
    ok(&mut c, &last);
    let files = aof_files(&server);
    let incr = file_bytes(&files, &last_incr_path(&files));
    let encoded = common::encode_command(&last);
    let at = rfind(incr, &encoded).expect("the last command is in the incremental file");
    assert_eq!(
        at + encoded.len(),
        incr.len(),
        "the last command ends the incremental file"
    );
    (files, at)
}

/// [`small_aof`]'s files with the incremental file cut halfway through
/// its last command. Returns the files, the incremental file's path, the
/// offset where the last command starts and the length it is cut to.
fn small_aof_cut_in_its_last_command(settings: &[(&str, &str)]) -> (Files, String, usize, usize) {
    let (mut files, at) = small_aof(settings);
    let incr_path = last_incr_path(&files);
    let incr = file_mut(&mut files, &incr_path);
    let cut = at + (incr.len() - at) / 2;
    incr.truncate(cut);
    (files, incr_path, at, cut)
}

/// Checks that `c`'s server holds what [`small_aof`] wrote before its
/// last command, and not that command.
fn assert_holds_all_but_the_last(c: &mut Client, what: &str) {
    assert_eq!(bulk(c, &["GET", "a"]), b"1", "{what}: a");
    assert_eq!(
        as_bulks(call(c, &["LRANGE", "l", "0", "-1"]), &["LRANGE"]),
        [b"x".to_vec(), b"y".to_vec()],
        "{what}: l"
    );
    select(c, 3);
    assert_eq!(bulk(c, &["HGET", "h", "f"]), b"v", "{what}: h");
    select(c, 0);
    assert_eq!(
        call(c, &["EXISTS", "last"]),
        Frame::Integer(0),
        "{what}: the cut command was not applied"
    );
}

#[test]
fn a_truncated_last_command_is_cut_off_with_aof_load_truncated_yes() {
    let settings = [("aof-load-truncated", "yes")];
    let (files, incr_path, at, cut) = small_aof_cut_in_its_last_command(&settings);
    let truncated = files.clone();

    let server = start_ferrokv_aof(&settings, &files);
    let mut c = server.connect();
    assert_holds_all_but_the_last(&mut c, "ferrokv loading a file cut inside its last command");
    let log = server.log();
    assert!(
        log.contains("appendonly.aof.1.incr.aof"),
        "the log names the truncated file:\n{log}"
    );
    let on_disk = fs::read(server.dir().join(&incr_path)).expect("the incremental file");
    assert_eq!(
        on_disk.len(),
        at,
        "the file is cut to its last whole command ({at} bytes), from {cut}"
    );
    // Writes go on, after the last whole command, and survive a restart.
    ok(&mut c, &["SET", "after", "the cut"]);
    let expected = Dataset::read_scanned(&mut c);
    let restarted = start_ferrokv_aof(&[("aof-load-truncated", "no")], &aof_files(&server));
    let mut r = restarted.connect();
    assert_holds(
        "ferrokv after loading the truncated file",
        &expected,
        "ferrokv restarted on its files",
        &mut r,
    );
    assert_eq!(bulk(&mut r, &["GET", "after"]), b"the cut");

    // redis-server loads the same truncated files to the same data.
    let Some(redis) = start_redis_aof(&settings, &truncated) else {
        println!("SKIPPED: redis-server not found on PATH; its truncation not compared");
        return;
    };
    let mut rc = redis.connect();
    assert_holds_all_but_the_last(&mut rc, "redis-server loading the same file");
    let theirs = fs::read(redis.dir().join(&incr_path)).expect("redis-server's incr file");
    assert_eq!(theirs.len(), at, "redis-server cuts the file at {at} too");
}

/// Cuts at every kind of place in the last command: inside its `*`
/// line, a `$` line, the key, the value, before the final CRLF.
#[test]
fn a_last_command_cut_anywhere_is_cut_off_with_aof_load_truncated_yes() {
    let settings = [("aof-load-truncated", "yes")];
    let (files, at) = small_aof(&settings);
    let incr_path = last_incr_path(&files);
    let len = file_bytes(&files, &incr_path).len();
    let mut rng = Rng::new(0xa0f_0801);
    let mut cuts = vec![at + 1, at + 3, at + 4, at + 6, at + 15, len - 2, len - 1];
    cuts.extend((0..4).map(|_| at + 1 + rng.below((len - at - 1) as u64) as usize));
    for cut in cuts {
        let mut cut_files = files.clone();
        file_mut(&mut cut_files, &incr_path).truncate(cut);
        let server = start_ferrokv_aof(&settings, &cut_files);
        let mut c = server.connect();
        let what =
            format!("ferrokv loading the file cut at {cut} (last command at {at}, end {len})");
        assert_holds_all_but_the_last(&mut c, &what);
        let on_disk = fs::read(server.dir().join(&incr_path)).expect("the incremental file");
        assert_eq!(
            on_disk.len(),
            at,
            "{what}: the file is cut to its last whole command"
        );
    }
}

#[test]
fn a_truncated_last_command_is_refused_with_aof_load_truncated_no() {
    let settings = [("aof-load-truncated", "no")];
    let (files, ..) = small_aof_cut_in_its_last_command(&settings);
    let log = ferrokv_refuses(&settings, &files, "a file cut inside its last command");
    assert!(
        log.contains("Unexpected end of file") && log.contains("appendonly.aof.1.incr.aof"),
        "the log names the file and says \"Unexpected end of file\":\n{log}"
    );
}

/// [`small_aof`]'s files followed by a transaction (`MULTI`, two SETs)
/// that the file ends inside, before its EXEC. Returns the files and the
/// offset where the MULTI starts.
fn aof_ending_inside_multi(settings: &[(&str, &str)]) -> (Files, usize) {
    let server = start_ferrokv_aof(settings, &[]);
    let mut c = server.connect();
    ok(&mut c, &["SET", "a", "1"]);
    int(&mut c, &["RPUSH", "l", "x", "y"]);
    select(&mut c, 3);
    int(&mut c, &["HSET", "h", "f", "v"]);
    select(&mut c, 0);
    expect_reply(&mut c, &["MULTI"], "+OK\r\n");
    expect_reply(&mut c, &["SET", "last", "in-multi"], "+QUEUED\r\n");
    expect_reply(&mut c, &["SET", "a", "changed-in-multi"], "+QUEUED\r\n");
    expect_reply(&mut c, &["EXEC"], "*2\r\n+OK\r\n+OK\r\n");
    let mut files = aof_files(&server);
    let incr_path = last_incr_path(&files);
    let incr = file_mut(&mut files, &incr_path);
    let exec = common::encode_command(&["EXEC"]);
    assert!(
        incr.ends_with(&exec),
        "ferrokv wraps a transaction's writes in MULTI/EXEC in the file: \"{}\"",
        escape(incr)
    );
    let multi = rfind(incr, &common::encode_command(&["MULTI"])).expect("a MULTI in the file");
    let len = incr.len();
    incr.truncate(len - exec.len());
    (files, multi)
}

#[test]
fn a_file_ending_inside_multi_does_not_apply_the_transaction() {
    let settings = [("aof-load-truncated", "yes")];
    let (files, multi) = aof_ending_inside_multi(&settings);
    let server = start_ferrokv_aof(&settings, &files);
    let mut c = server.connect();
    assert_holds_all_but_the_last(&mut c, "ferrokv loading a file that ends inside MULTI");
    let incr_path = last_incr_path(&files);
    let on_disk = fs::read(server.dir().join(&incr_path)).expect("the incremental file");
    assert_eq!(
        on_disk.len(),
        multi,
        "the file is cut before the unfinished transaction's MULTI"
    );

    // With aof-load-truncated no, it is an unexpected end of file.
    let settings = [("aof-load-truncated", "no")];
    let log = ferrokv_refuses(&settings, &files, "a file that ends inside MULTI");
    assert!(
        log.contains("Unexpected end of file") && log.contains("appendonly.aof.1.incr.aof"),
        "the log names the file and says \"Unexpected end of file\":\n{log}"
    );
}

/// [`small_aof`]'s files with `garbage` inserted at the start of the
/// incremental file's second command after its first SELECT.
fn aof_with_garbage_in_the_middle(garbage: &[u8]) -> Files {
    let (mut files, _) = small_aof(&[]);
    let incr_path = last_incr_path(&files);
    let incr = file_mut(&mut files, &incr_path);
    let at = find(incr, &common::encode_command(&["RPUSH", "l", "x", "y"]))
        .expect("RPUSH in the incremental file");
    incr.splice(at..at, garbage.iter().copied());
    files
}

#[test]
fn a_corrupt_middle_is_refused_under_both_settings() {
    let corruptions: [(&str, &[u8]); 3] = [
        ("a line of text", b"this is not a command\r\n"),
        ("random bytes", b"\x00\xff\x13garbage\x7f"),
        (
            "a bulk shorter than it claims",
            b"*2\r\n$3\r\nGET\r\n$20\r\nab\r\n",
        ),
    ];
    for (what, garbage) in corruptions {
        let files = aof_with_garbage_in_the_middle(garbage);
        for truncated in ["yes", "no"] {
            let what = format!("{what} in the middle, aof-load-truncated {truncated}");
            let log = ferrokv_refuses(&[("aof-load-truncated", truncated)], &files, &what);
            assert!(
                log.contains("Bad file format") && log.contains("appendonly.aof.1.incr.aof"),
                "{what}: the log names the file and says \"Bad file format\":\n{log}"
            );
        }
    }
}

#[test]
fn an_unknown_command_in_the_file_is_refused() {
    let files = aof_with_garbage_in_the_middle(&common::encode_command(&["NOSUCHCMD", "x"]));
    for truncated in ["yes", "no"] {
        let what = format!("an unknown command, aof-load-truncated {truncated}");
        let log = ferrokv_refuses(&[("aof-load-truncated", truncated)], &files, &what);
        assert!(
            log.contains("Unknown command 'NOSUCHCMD' reading the append only file")
                && log.contains("appendonly.aof.1.incr.aof"),
            "{what}: the log names the command and the file:\n{log}"
        );
    }
}

#[test]
fn a_manifest_naming_a_missing_file_is_refused() {
    let (files, _) = small_aof(&[]);
    let manifest_path = format!("{AOF_DIR}/{MANIFEST}");
    // The incremental file gone.
    let incr_path = last_incr_path(&files);
    let without: Files = files
        .iter()
        .filter(|(name, _)| *name != incr_path)
        .cloned()
        .collect();
    let log = ferrokv_refuses(&[], &without, "a manifest naming a missing incr file");
    assert!(
        log.contains("appendonly.aof.1.incr.aof"),
        "the log names the missing file:\n{log}"
    );
    // A second incremental file named that was never written.
    let mut extra = files.clone();
    file_mut(&mut extra, &manifest_path)
        .extend_from_slice(b"file appendonly.aof.7.incr.aof seq 7 type i\n");
    let log = ferrokv_refuses(&[], &extra, "a manifest naming an incr file never written");
    assert!(
        log.contains("appendonly.aof.7.incr.aof"),
        "the log names the missing file:\n{log}"
    );
    // The base gone.
    let base = manifest_of(&files)
        .into_iter()
        .find(|e| e.kind == 'b')
        .expect("a base in the manifest");
    let base_path = format!("{AOF_DIR}/{}", base.name);
    let without: Files = files
        .iter()
        .filter(|(name, _)| *name != base_path)
        .cloned()
        .collect();
    let log = ferrokv_refuses(&[], &without, "a manifest naming a missing base");
    assert!(
        log.contains(&base.name),
        "the log names the missing base:\n{log}"
    );
}

#[test]
fn a_corrupt_manifest_is_refused() {
    let (files, _) = small_aof(&[]);
    let manifest_path = format!("{AOF_DIR}/{MANIFEST}");
    let lines: [(&str, &[u8], &str); 6] = [
        (
            "a line that is not a manifest line",
            b"this is not a manifest line\n",
            "Invalid AOF manifest file format",
        ),
        (
            "an unknown file type",
            b"file appendonly.aof.9.incr.aof seq 9 type x\n",
            "Unknown AOF file type",
        ),
        (
            "a second base",
            b"file appendonly.aof.9.base.rdb seq 9 type b\n",
            "Found duplicate base file information",
        ),
        (
            "an incr file with sequence number 0",
            b"file appendonly.aof.0.incr.aof seq 0 type i\n",
            "Invalid AOF manifest file format",
        ),
        (
            "an incr file out of order",
            b"file appendonly.aof.0.incr.aof seq 1 type i\n",
            "Found a non-monotonic sequence number",
        ),
        (
            "a last line without its newline",
            b"file appendonly.aof.2.incr.aof seq 2 type i",
            "The AOF manifest file contains too long line",
        ),
    ];
    for (what, line, needle) in lines {
        let mut bad = files.clone();
        file_mut(&mut bad, &manifest_path).extend_from_slice(line);
        let log = ferrokv_refuses(&[], &bad, what);
        assert!(
            log.contains(needle),
            "{what}: the log does not say \"{needle}\":\n{log}"
        );
    }
    // And an empty manifest.
    let mut empty = files.clone();
    file_mut(&mut empty, &manifest_path).clear();
    let log = ferrokv_refuses(&[], &empty, "an empty manifest");
    assert!(
        log.contains("Found an empty AOF manifest"),
        "an empty manifest: {log}"
    );
}

#[test]
fn a_truncated_file_that_is_not_the_last_is_refused_even_with_aof_load_truncated_yes() {
    let settings = [("aof-load-truncated", "yes")];
    let (mut files, ..) = small_aof_cut_in_its_last_command(&settings);
    let mut second = Vec::new();
    second.extend_from_slice(&common::encode_command(&["SELECT", "0"]));
    second.extend_from_slice(&common::encode_command(&["SET", "z", "1"]));
    files.push((format!("{AOF_DIR}/appendonly.aof.2.incr.aof"), second));
    file_mut(&mut files, &format!("{AOF_DIR}/{MANIFEST}"))
        .extend_from_slice(b"file appendonly.aof.2.incr.aof seq 2 type i\n");
    let log = ferrokv_refuses(
        &settings,
        &files,
        "a truncated incr file followed by another",
    );
    assert!(
        log.contains("not the last file") && log.contains("appendonly.aof.1.incr.aof"),
        "the log says the truncated file is not the last and names it:\n{log}"
    );
}

#[test]
fn a_truncated_rdb_base_is_refused_under_both_settings() {
    let server = start_ferrokv_aof(&[], &[]);
    let mut c = server.connect();
    Workload::new(0xa0f_0901).prefill(&mut c);
    bgrewriteaof(&mut c);
    wait_rewrite_done(&mut c, "ferrokv");
    let mut files = aof_files(&server);
    let base_path = format!("{AOF_DIR}/appendonly.aof.2.base.rdb");
    let base = file_mut(&mut files, &base_path);
    let len = base.len();
    base.truncate(len / 2);
    for truncated in ["yes", "no"] {
        let what = format!("an RDB base cut in half, aof-load-truncated {truncated}");
        let log = ferrokv_refuses(&[("aof-load-truncated", truncated)], &files, &what);
        assert!(
            log.contains("appendonly.aof.2.base.rdb"),
            "{what}: the log names the base:\n{log}"
        );
    }
}

// ---------------------------------------------------------------------------
// 5. CONFIG SET appendonly at run time
// ---------------------------------------------------------------------------

/// The manifest of `server`'s AOF directory, from disk.
fn manifest_on_disk(server: &Server) -> Vec<ManifestEntry> {
    let path = server.dir().join(AOF_DIR).join(MANIFEST);
    let text = fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    parse_manifest(&text)
}

fn file_len(path: &Path) -> u64 {
    fs::metadata(path)
        .unwrap_or_else(|e| panic!("stat {}: {e}", path.display()))
        .len()
}

#[test]
fn config_set_appendonly_turns_the_aof_on_and_off_at_run_time() {
    // Started without an AOF (the test arguments say appendonly no).
    let server = common::start_ferrokv();
    let mut c = server.connect();
    let mut w = Workload::new(0xa0f_0501);
    w.prefill(&mut c);
    assert_eq!(persistence_info(&mut c, "aof_enabled"), "0");
    assert!(!server.dir().join(AOF_DIR).exists(), "no AOF directory yet");

    // Turned on while a slowed rewrite would write the base: the writes
    // made while it runs must reach the file too.
    set_save_delay(&mut c, SLOW_REWRITE_DELAY_US);
    ok(&mut c, &["CONFIG", "SET", "appendonly", "yes"]);
    assert_eq!(persistence_info(&mut c, "aof_enabled"), "1");
    assert_eq!(persistence_info(&mut c, "aof_rewrite_in_progress"), "1");
    for i in 0..20 {
        ok(&mut c, &["SET", &format!("during:{i}"), "v"]);
    }
    int(
        &mut c,
        &["RPUSH", "list:0", "pushed during the first rewrite"],
    );
    set_save_delay(&mut c, "0");
    wait_rewrite_done(&mut c, "ferrokv");
    let entries = manifest_on_disk(&server);
    assert_eq!(
        entries,
        vec![
            ManifestEntry {
                name: "appendonly.aof.1.base.rdb".into(),
                seq: 1,
                kind: 'b'
            },
            ManifestEntry {
                name: "appendonly.aof.1.incr.aof".into(),
                seq: 1,
                kind: 'i'
            },
        ],
        "the manifest once the first rewrite is done"
    );
    let incr = server.dir().join(AOF_DIR).join("appendonly.aof.1.incr.aof");
    wait_aof_written(&server);
    let incr_before = fs::read(&incr).expect("the incremental file");
    ok(&mut c, &["SET", "after:on", "written to the incr file"]);
    wait_aof_written(&server);
    let incr_after = fs::read(&incr).expect("the incremental file");
    assert!(
        incr_after.len() > incr_before.len()
            && find(&incr_after[incr_before.len()..], b"after:on").is_some(),
        "the write after the rewrite is appended to the incremental file"
    );

    // A restart on the directory loads everything.
    let expected = Dataset::read_scanned(&mut c);
    restarted_holding(
        &[],
        &aof_files(&server),
        "ferrokv that turned its AOF on",
        &expected,
        "ferrokv restarted on that AOF",
    );

    // Off: nothing more is appended.
    ok(&mut c, &["CONFIG", "SET", "appendonly", "no"]);
    assert_eq!(persistence_info(&mut c, "aof_enabled"), "0");
    let size = file_len(&incr);
    for i in 0..10 {
        ok(&mut c, &["SET", &format!("after:off:{i}"), "v"]);
    }
    int(&mut c, &["DEL", "str:0", "str:1"]);
    assert_eq!(file_len(&incr), size, "writes after appendonly no");
    restarted_holding(
        &[],
        &aof_files(&server),
        "ferrokv when it turned its AOF off",
        &expected,
        "ferrokv restarted on that AOF",
    );
}

#[test]
fn config_set_appendonly_yes_during_a_bgsave_waits_for_it() {
    let server = common::start_ferrokv();
    let mut c = server.connect();
    Workload::new(0xa0f_0605).prefill(&mut c);
    set_save_delay(&mut c, SLOW_REWRITE_DELAY_US);
    expect_reply(&mut c, &["BGSAVE"], "+Background saving started\r\n");
    ok(&mut c, &["CONFIG", "SET", "appendonly", "yes"]);
    assert_eq!(persistence_info(&mut c, "aof_enabled"), "1");
    assert_eq!(persistence_info(&mut c, "aof_rewrite_in_progress"), "0");
    assert_eq!(persistence_info(&mut c, "aof_rewrite_scheduled"), "1");
    ok(&mut c, &["SET", "while:scheduled", "1"]);
    set_save_delay(&mut c, "0");
    wait_until("the BGSAVE and then the first rewrite end", || {
        persistence_idle(&mut c) && persistence_num(&mut c, "aof_rewrites") == 1
    });
    assert_eq!(persistence_info(&mut c, "aof_last_bgrewrite_status"), "ok");
    ok(&mut c, &["SET", "after:rewrite", "1"]);
    let expected = Dataset::read_scanned(&mut c);
    assert_aof_holds(
        &server,
        &[],
        &expected,
        "ferrokv that turned its AOF on during a BGSAVE",
    );
}

/// BGREWRITEAOF with the AOF off, and then the AOF turned on while it
/// runs: that rewrite cannot serve (it gathered no incr file), so Redis
/// stops it and starts another at once.
#[test]
fn appendonly_turned_on_during_a_rewrite_of_an_aof_that_was_off() {
    let server = common::start_ferrokv();
    let mut c = server.connect();
    Workload::new(0xa0f_0606).prefill(&mut c);
    set_save_delay(&mut c, SLOW_REWRITE_DELAY_US);
    bgrewriteaof(&mut c);
    ok(&mut c, &["SET", "before:on", "1"]);
    ok(&mut c, &["CONFIG", "SET", "appendonly", "yes"]);
    ok(&mut c, &["SET", "after:on", "1"]);
    int(&mut c, &["DEL", "str:1", "str:2"]);
    set_save_delay(&mut c, "0");
    wait_until("the AOF's first rewrite ends", || {
        persistence_idle(&mut c)
            && fs::read_to_string(server.dir().join(AOF_DIR).join(MANIFEST))
                .is_ok_and(|m| m.contains("type i"))
    });
    assert_eq!(persistence_info(&mut c, "aof_last_bgrewrite_status"), "ok");
    ok(&mut c, &["SET", "after:rewrite", "1"]);
    wait_until("no temporary files are left", || {
        temp_files(&server).is_empty()
    });
    let expected = Dataset::read_scanned(&mut c);
    assert_aof_holds(
        &server,
        &[],
        &expected,
        "ferrokv that turned its AOF on during a BGREWRITEAOF",
    );
}

/// Which rewrite [`appendonly_turned_off_and_on_during_a_rewrite`] turns
/// the AOF off in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Interrupted {
    /// The first, which writes the base of an AOF turned on at run time.
    FirstRewrite,
    /// A BGREWRITEAOF of an AOF that was on from the start.
    Bgrewriteaof,
}

fn appendonly_turned_off_and_on_during_a_rewrite(interrupted: Interrupted) {
    let server = match interrupted {
        Interrupted::FirstRewrite => common::start_ferrokv(),
        Interrupted::Bgrewriteaof => start_ferrokv_aof(&[], &[]),
    };
    let mut c = server.connect();
    Workload::new(0xa0f_0602).prefill(&mut c);
    set_save_delay(&mut c, SLOW_REWRITE_DELAY_US);
    match interrupted {
        Interrupted::FirstRewrite => ok(&mut c, &["CONFIG", "SET", "appendonly", "yes"]),
        Interrupted::Bgrewriteaof => expect_reply(
            &mut c,
            &["BGREWRITEAOF"],
            "+Background append only file rewriting started\r\n",
        ),
    }
    ok(&mut c, &["SET", "during:first", "1"]);
    // Off while the base is being written: the rewrite is dropped.
    ok(&mut c, &["CONFIG", "SET", "appendonly", "no"]);
    assert_eq!(persistence_info(&mut c, "aof_enabled"), "0");
    ok(&mut c, &["SET", "while:off", "1"]);
    // On again: a new rewrite, which must hold everything so far.
    ok(&mut c, &["CONFIG", "SET", "appendonly", "yes"]);
    ok(&mut c, &["SET", "during:second", "1"]);
    int(&mut c, &["DEL", "str:3"]);
    set_save_delay(&mut c, "0");
    wait_until("the AOF is on with its first base", || {
        persistence_idle(&mut c) && persistence_info(&mut c, "aof_enabled") == "1"
    });
    assert_eq!(persistence_info(&mut c, "aof_last_bgrewrite_status"), "ok");
    ok(&mut c, &["SET", "after:rewrite", "1"]);
    let entries = manifest_on_disk(&server);
    assert_eq!(
        entries.iter().filter(|e| e.kind == 'b').count(),
        1,
        "one base: {entries:?}"
    );
    assert_eq!(
        entries.iter().filter(|e| e.kind == 'i').count(),
        1,
        "one incr file: {entries:?}"
    );
    wait_until("no temporary files are left", || {
        temp_files(&server).is_empty()
    });
    let kept: Vec<String> = entries.iter().map(|e| e.name.clone()).collect();
    wait_until("only the files the manifest names are left", || {
        let mut listing = aof_dir_listing(&server);
        listing.retain(|name| name != MANIFEST);
        let mut expected = kept.clone();
        expected.sort();
        listing == expected
    });
    let expected = Dataset::read_scanned(&mut c);
    assert_aof_holds(
        &server,
        &[],
        &expected,
        &format!("ferrokv that turned its AOF off and on during a rewrite ({interrupted:?})"),
    );
}

#[test]
fn appendonly_turned_off_and_on_during_its_first_rewrite() {
    appendonly_turned_off_and_on_during_a_rewrite(Interrupted::FirstRewrite);
}

#[test]
fn appendonly_turned_off_and_on_during_a_bgrewriteaof() {
    appendonly_turned_off_and_on_during_a_rewrite(Interrupted::Bgrewriteaof);
}

// ---------------------------------------------------------------------------
// 6. BGREWRITEAOF's replies, and the files a rewrite leaves
// ---------------------------------------------------------------------------

/// BGREWRITEAOF and BGSAVE against each other, on either server; returns
/// every reply in order. `let_go` lets the slowed background work finish
/// (ferrokv can be told to; a forked redis-server child cannot, so it has
/// few keys and just finishes).
fn rewrite_replies(c: &mut Client, let_go: &dyn Fn(&mut Client), who: &str) -> Vec<Vec<u8>> {
    let mut replies = Vec::new();
    set_save_delay(c, SLOW_REWRITE_DELAY_US);
    // A rewrite runs: another is refused, a BGSAVE is refused unless
    // scheduled.
    for args in [
        &["BGREWRITEAOF"][..],
        &["BGREWRITEAOF"],
        &["BGSAVE"],
        &["BGSAVE", "SCHEDULE"],
    ] {
        replies.push(c.cmd(args));
    }
    assert_eq!(persistence_info(c, "aof_rewrite_in_progress"), "1", "{who}");
    assert_eq!(persistence_info(c, "rdb_bgsave_in_progress"), "0", "{who}");
    let saves = persistence_num(c, "rdb_saves");
    let_go(c);
    // The scheduled BGSAVE ran after the rewrite.
    wait_until(&format!("{who}: the scheduled BGSAVE runs"), || {
        persistence_idle(c) && persistence_num(c, "rdb_saves") == saves + 1
    });
    assert_eq!(persistence_info(c, "rdb_last_bgsave_status"), "ok", "{who}");
    assert_eq!(
        persistence_info(c, "aof_last_bgrewrite_status"),
        "ok",
        "{who}"
    );
    // A BGSAVE runs: a rewrite is scheduled behind it.
    set_save_delay(c, SLOW_REWRITE_DELAY_US);
    for args in [&["BGSAVE"][..], &["BGREWRITEAOF"], &["BGREWRITEAOF"]] {
        replies.push(c.cmd(args));
    }
    assert_eq!(persistence_info(c, "aof_rewrite_scheduled"), "1", "{who}");
    let rewrites = persistence_num(c, "aof_rewrites");
    let_go(c);
    wait_until(&format!("{who}: the scheduled rewrite runs"), || {
        persistence_idle(c) && persistence_num(c, "aof_rewrites") == rewrites + 1
    });
    assert_eq!(persistence_info(c, "aof_last_bgrewrite_status"), "ok");
    // Inside a transaction a rewrite is only scheduled, and runs after.
    set_save_delay(c, "0");
    for args in [&["MULTI"][..], &["BGREWRITEAOF"], &["EXEC"]] {
        replies.push(c.cmd(args));
    }
    wait_until(
        &format!("{who}: the rewrite scheduled in EXEC runs"),
        || persistence_idle(c) && persistence_num(c, "aof_rewrites") == rewrites + 2,
    );
    replies
}

#[test]
fn bgrewriteaof_replies_and_scheduling_match_redis() {
    let server = start_ferrokv_aof(&[], &[]);
    let mut c = server.connect();
    // Enough keys that a slowed rewrite outlasts the commands sent
    // during it (each moves it on by about a key).
    for i in 0..200 {
        ok(&mut c, &["SET", &format!("key:{i}"), "v"]);
    }
    let let_go = |c: &mut Client| set_save_delay(c, "0");
    let ours = rewrite_replies(&mut c, &let_go, "ferrokv");
    let expected = [
        "+Background append only file rewriting started\r\n",
        "-ERR Background append only file rewriting already in progress\r\n",
        "-ERR Another child process is active (AOF?): can't BGSAVE right now. Use BGSAVE SCHEDULE in order to schedule a BGSAVE whenever possible.\r\n",
        "+Background saving scheduled\r\n",
        "+Background saving started\r\n",
        "+Background append only file rewriting scheduled\r\n",
        "+Background append only file rewriting scheduled\r\n",
        "+OK\r\n",
        "+QUEUED\r\n",
        "*1\r\n+Background append only file rewriting scheduled\r\n",
    ];
    let shown_ours: Vec<String> = ours.iter().map(|r| escape(r)).collect();
    let shown_expected: Vec<String> = expected.iter().map(|r| escape(r.as_bytes())).collect();
    assert_eq!(shown_ours, shown_expected, "ferrokv's replies");

    // Three rewrites in all (the first, the one scheduled behind the
    // BGSAVE, the one scheduled in EXEC): only the fourth base and its
    // incr file are left.
    wait_until("the replaced files are removed", || {
        aof_dir_listing(&server)
            == [
                "appendonly.aof.4.base.rdb",
                "appendonly.aof.4.incr.aof",
                MANIFEST,
            ]
    });
    let ours_manifest = fs::read(server.dir().join(AOF_DIR).join(MANIFEST)).unwrap();
    assert_eq!(
        String::from_utf8_lossy(&ours_manifest),
        "file appendonly.aof.4.base.rdb seq 4 type b\nfile appendonly.aof.4.incr.aof seq 4 type i\n"
    );
    let expected_data = Dataset::read_scanned(&mut c);
    restarted_holding(
        &[],
        &aof_files(&server),
        "ferrokv after three rewrites",
        &expected_data,
        "ferrokv restarted on its AOF",
    );

    let Some(redis) = start_redis_aof(&[], &[]) else {
        println!("SKIPPED: redis-server not found on PATH; replies not compared");
        return;
    };
    let mut r = redis.connect();
    // A forked child writes at 100 ms a key: five keys keep it running
    // for half a second.
    for i in 0..5 {
        ok(&mut r, &["SET", &format!("key:{i}"), "v"]);
    }
    let theirs = rewrite_replies(&mut r, &|_: &mut Client| {}, "redis-server");
    let shown_theirs: Vec<String> = theirs.iter().map(|r| escape(r)).collect();
    assert_eq!(
        shown_ours, shown_theirs,
        "ferrokv's replies against redis-server's"
    );
    wait_until("redis-server removes the replaced files", || {
        aof_dir_listing(&redis)
            == [
                "appendonly.aof.4.base.rdb",
                "appendonly.aof.4.incr.aof",
                MANIFEST,
            ]
    });
    let theirs_manifest = fs::read(redis.dir().join(AOF_DIR).join(MANIFEST)).unwrap();
    assert_eq!(
        escape(&ours_manifest),
        escape(&theirs_manifest),
        "the manifests after three rewrites"
    );
}

#[test]
fn bgrewriteaof_with_the_aof_off_writes_a_base_alone() {
    let run = |server: &Server, who: &str| -> (Dataset, String) {
        let mut c = server.connect();
        ok(&mut c, &["SET", "a", "1"]);
        int(&mut c, &["RPUSH", "l", "x", "y"]);
        select(&mut c, 4);
        int(&mut c, &["HSET", "h", "f", "v"]);
        select(&mut c, 0);
        bgrewriteaof(&mut c);
        wait_rewrite_done(&mut c, who);
        assert_eq!(persistence_info(&mut c, "aof_enabled"), "0", "{who}");
        let manifest = fs::read_to_string(server.dir().join(AOF_DIR).join(MANIFEST))
            .unwrap_or_else(|e| panic!("{who}'s manifest: {e}"));
        (Dataset::read_scanned(&mut c), manifest)
    };
    let server = common::start_ferrokv();
    let (expected, manifest) = run(&server, "ferrokv");
    assert_eq!(manifest, "file appendonly.aof.1.base.rdb seq 1 type b\n");
    assert_eq!(
        aof_dir_listing(&server),
        ["appendonly.aof.1.base.rdb", MANIFEST],
        "the directory after a rewrite with the AOF off"
    );
    // Turned on at start-up, the directory loads, and writes go to a new
    // incr file.
    let restarted = start_ferrokv_aof(&[], &aof_files(&server));
    let mut r = restarted.connect();
    assert_holds(
        "ferrokv that rewrote with its AOF off",
        &expected,
        "ferrokv started with appendonly yes on the directory",
        &mut r,
    );
    assert_eq!(
        manifest_on_disk(&restarted),
        [
            ManifestEntry {
                name: "appendonly.aof.1.base.rdb".into(),
                seq: 1,
                kind: 'b'
            },
            ManifestEntry {
                name: "appendonly.aof.1.incr.aof".into(),
                seq: 1,
                kind: 'i'
            },
        ]
    );
    let Some(redis) = common::start_redis() else {
        println!("SKIPPED: redis-server not found on PATH; manifest not compared");
        return;
    };
    let (_, theirs) = run(&redis, "redis-server");
    assert_eq!(manifest, theirs, "the manifest against redis-server's");
}

/// Rewrites asked for again and again while writes go on (most are
/// refused as already in progress): every write is in the files, and
/// only the last base and one incr file are left.
#[test]
fn repeated_rewrites_keep_every_write() {
    let server = start_ferrokv_aof(&[("aof-use-rdb-preamble", "no")], &[]);
    let mut c = server.connect();
    let mut w = Workload::new(0xa0f_0607);
    w.prefill(&mut c);
    for round in 0..40 {
        let reply = c.cmd(&["BGREWRITEAOF"]);
        assert!(
            reply == b"+Background append only file rewriting started\r\n"
                || reply == b"-ERR Background append only file rewriting already in progress\r\n",
            "BGREWRITEAOF answered \"{}\"",
            escape(&reply)
        );
        for _ in 0..5 + round % 7 {
            let args = w.command();
            w.send(&mut c, &args);
        }
    }
    wait_rewrite_done(&mut c, "ferrokv");
    let pass = w.short_deadlines_pass_ms;
    wait_until("the short deadlines pass", || unix_ms() > pass);
    let expected = Dataset::read_scanned(&mut c);
    let rewrites = persistence_num(&mut c, "aof_rewrites");
    assert!(rewrites >= 2, "{rewrites} rewrites");
    let base = format!("appendonly.aof.{}.base.aof", rewrites + 1);
    let incr = format!("appendonly.aof.{}.incr.aof", rewrites + 1);
    wait_until("the replaced files are removed", || {
        aof_dir_listing(&server) == [base.as_str(), incr.as_str(), MANIFEST]
    });
    assert_aof_holds(
        &server,
        &[("aof-use-rdb-preamble", "no")],
        &expected,
        "ferrokv after repeated rewrites",
    );
}

/// With `aof-disable-auto-gc yes` the files a rewrite replaces stay,
/// listed as history (`type h`) in the manifest, which must read as
/// redis-server's does; a directory with history loads.
#[test]
fn history_files_are_kept_with_aof_disable_auto_gc_like_redis() {
    let settings = [("aof-disable-auto-gc", "yes")];
    let two_rewrites = |c: &mut Client, who: &str| {
        ok(c, &["SET", "a", "1"]);
        for round in 0..2 {
            bgrewriteaof(c);
            wait_rewrite_done(c, who);
            ok(c, &["SET", &format!("after:{round}"), "1"]);
        }
    };
    let server = start_ferrokv_aof(&settings, &[]);
    let mut c = server.connect();
    two_rewrites(&mut c, "ferrokv");
    let ours = fs::read_to_string(server.dir().join(AOF_DIR).join(MANIFEST)).unwrap();
    let entries = parse_manifest(&ours);
    assert_eq!(
        entries.iter().map(|e| e.kind).collect::<String>(),
        "bhhhhi",
        "base, four history files, incr: {ours}"
    );
    for entry in &entries {
        assert!(
            server.dir().join(AOF_DIR).join(&entry.name).exists(),
            "{} is listed and kept",
            entry.name
        );
    }
    let expected = Dataset::read_scanned(&mut c);
    assert_aof_holds(&server, &settings, &expected, "ferrokv with history files");
    let Some(redis) = start_redis_aof(&settings, &[]) else {
        println!("SKIPPED: redis-server not found on PATH; manifest not compared");
        return;
    };
    let mut r = redis.connect();
    two_rewrites(&mut r, "redis-server");
    let theirs = fs::read_to_string(redis.dir().join(AOF_DIR).join(MANIFEST)).unwrap();
    assert_eq!(
        ours, theirs,
        "the manifest with history against redis-server's"
    );
    assert_eq!(aof_dir_listing(&server), aof_dir_listing(&redis));
}

/// `appendfilename` and `appenddirname` name the directory, the manifest
/// and every file in it, as in redis-server.
#[test]
fn custom_appendfilename_and_appenddirname_like_redis() {
    let settings = [("appendfilename", "my.aof"), ("appenddirname", "mydir")];
    let run = |server: &Server, who: &str| -> (Vec<String>, String) {
        let mut c = server.connect();
        ok(&mut c, &["SET", "a", "1"]);
        bgrewriteaof(&mut c);
        wait_rewrite_done(&mut c, who);
        ok(&mut c, &["SET", "b", "2"]);
        wait_aof_written(server);
        let dir = server.dir().join("mydir");
        let listing = || {
            let mut names: Vec<String> = fs::read_dir(&dir)
                .unwrap_or_else(|e| panic!("{who}: read {}: {e}", dir.display()))
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            names.sort();
            names
        };
        // The replaced files are removed in the background.
        wait_until(&format!("{who} removes the replaced files"), || {
            listing().len() == 3
        });
        let names = listing();
        let manifest = fs::read_to_string(dir.join("my.aof.manifest")).unwrap();
        (names, manifest)
    };
    let server = start_ferrokv_aof(&settings, &[]);
    let (names, manifest) = run(&server, "ferrokv");
    assert_eq!(
        names,
        ["my.aof.2.base.rdb", "my.aof.2.incr.aof", "my.aof.manifest"]
    );
    assert!(!server.dir().join(AOF_DIR).exists());
    let mut files = Vec::new();
    for name in &names {
        let bytes = fs::read(server.dir().join("mydir").join(name)).unwrap();
        files.push((format!("mydir/{name}"), bytes));
    }
    let restarted = start_ferrokv_aof(&settings, &files);
    let mut r = restarted.connect();
    assert_eq!(bulk(&mut r, &["GET", "a"]), b"1");
    assert_eq!(bulk(&mut r, &["GET", "b"]), b"2");
    let Some(redis) = start_redis_aof(&settings, &[]) else {
        println!("SKIPPED: redis-server not found on PATH; names not compared");
        return;
    };
    let (their_names, their_manifest) = run(&redis, "redis-server");
    assert_eq!(names, their_names);
    assert_eq!(manifest, their_manifest);
}

/// `aof-use-rdb-preamble` changed at run time takes effect at the next
/// rewrite, and the manifest names each base by its format.
#[test]
fn the_rdb_preamble_setting_changes_between_rewrites_like_redis() {
    let run = |c: &mut Client, who: &str| {
        ok(c, &["SET", "a", "1"]);
        for (preamble, round) in [("no", 0), ("yes", 1), ("no", 2)] {
            ok(c, &["CONFIG", "SET", "aof-use-rdb-preamble", preamble]);
            bgrewriteaof(c);
            wait_rewrite_done(c, who);
            int(c, &["RPUSH", "list", &round.to_string()]);
        }
    };
    let server = start_ferrokv_aof(&[], &[]);
    let mut c = server.connect();
    run(&mut c, "ferrokv");
    let ours = fs::read_to_string(server.dir().join(AOF_DIR).join(MANIFEST)).unwrap();
    assert_eq!(
        ours,
        "file appendonly.aof.4.base.aof seq 4 type b\nfile appendonly.aof.4.incr.aof seq 4 type i\n"
    );
    let expected = Dataset::read_scanned(&mut c);
    assert_aof_holds(
        &server,
        &[],
        &expected,
        "ferrokv after rewrites of both formats",
    );
    let Some(redis) = start_redis_aof(&[], &[]) else {
        println!("SKIPPED: redis-server not found on PATH; manifest not compared");
        return;
    };
    let mut r = redis.connect();
    run(&mut r, "redis-server");
    let theirs = fs::read_to_string(redis.dir().join(AOF_DIR).join(MANIFEST)).unwrap();
    assert_eq!(ours, theirs, "the manifest against redis-server's");
}

/// A file name with a space is quoted in the manifest, as Redis quotes it
/// (`sdscatrepr`), and read back.
#[test]
fn a_file_name_with_a_space_is_quoted_in_the_manifest_like_redis() {
    let run = |server: &Server, who: &str| -> String {
        let mut c = server.connect();
        ok(&mut c, &["SET", "a", "1"]);
        wait_aof_written(server);
        let manifest = server.dir().join(AOF_DIR).join("my file.aof.manifest");
        fs::read_to_string(&manifest)
            .unwrap_or_else(|e| panic!("{who}: read {}: {e}", manifest.display()))
    };
    let server = start_ferrokv_aof(&[("appendfilename", "\"my file.aof\"")], &[]);
    let ours = run(&server, "ferrokv");
    assert_eq!(
        ours,
        "file \"my file.aof.1.base.rdb\" seq 1 type b\nfile \"my file.aof.1.incr.aof\" seq 1 type i\n"
    );
    let mut files = Vec::new();
    for entry in fs::read_dir(server.dir().join(AOF_DIR)).unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        files.push((format!("{AOF_DIR}/{name}"), fs::read(entry.path()).unwrap()));
    }
    let restarted = start_ferrokv_aof(&[("appendfilename", "\"my file.aof\"")], &files);
    assert_eq!(bulk(&mut restarted.connect(), &["GET", "a"]), b"1");
    let Some(redis) = start_redis_aof(&[("appendfilename", "my file.aof")], &[]) else {
        println!("SKIPPED: redis-server not found on PATH; manifest not compared");
        return;
    };
    assert_eq!(
        ours,
        run(&redis, "redis-server"),
        "the manifest against redis-server's"
    );
}

/// With `appendonly yes` the AOF is the dataset: a `dump.rdb` beside it
/// is not loaded, even when there is no AOF yet (Redis 7.0 starts empty
/// and writes a base of nothing).
#[test]
fn with_appendonly_yes_dump_rdb_is_not_loaded() {
    let source = common::start_ferrokv();
    let mut c = source.connect();
    ok(&mut c, &["SET", "from:rdb", "1"]);
    ok(&mut c, &["SAVE"]);
    let dump = fs::read(source.dir().join("dump.rdb")).expect("dump.rdb");
    let files = vec![("dump.rdb".to_string(), dump)];
    let server = start_ferrokv_aof(&[], &files);
    assert_eq!(int(&mut server.connect(), &["DBSIZE"]), 0, "ferrokv");
    let Some(redis) = start_redis_aof(&[], &files) else {
        println!("SKIPPED: redis-server not found on PATH; not compared");
        return;
    };
    assert_eq!(int(&mut redis.connect(), &["DBSIZE"]), 0, "redis-server");
}

/// A rewrite whose new base cannot be renamed into place (a directory is
/// in the way) fails as Redis's does: the reply said it started, INFO
/// then says `err`, and no write is lost, since writes went on to the new
/// incr file. The next rewrite, once the way is clear, succeeds.
#[test]
fn a_failed_rewrite_keeps_every_write_and_the_next_succeeds_like_redis() {
    let run = |server: &Server, c: &mut Client, who: &str| -> Vec<String> {
        ok(c, &["SET", "a", "1"]);
        let in_the_way = server.dir().join(AOF_DIR).join("appendonly.aof.2.base.rdb");
        fs::create_dir(&in_the_way).expect("a directory in the way of the new base");
        bgrewriteaof(c);
        ok(c, &["SET", "during:failed", "1"]);
        wait_until(&format!("{who}'s rewrite ends"), || persistence_idle(c));
        let mut info = Vec::new();
        for field in [
            "aof_last_bgrewrite_status",
            "aof_rewrites_consecutive_failures",
        ] {
            info.push(format!("{field}:{}", persistence_info(c, field)));
        }
        ok(c, &["SET", "after:failed", "1"]);
        fs::remove_dir(&in_the_way).expect("clear the way");
        bgrewriteaof(c);
        wait_rewrite_done(c, who);
        info.push(format!(
            "aof_rewrites_consecutive_failures:{}",
            persistence_info(c, "aof_rewrites_consecutive_failures")
        ));
        ok(c, &["SET", "after:success", "1"]);
        info
    };
    let server = start_ferrokv_aof(&[], &[]);
    let mut c = server.connect();
    Workload::new(0xa0f_0608).prefill(&mut c);
    let ours = run(&server, &mut c, "ferrokv");
    assert_eq!(
        ours,
        [
            "aof_last_bgrewrite_status:err",
            "aof_rewrites_consecutive_failures:1",
            "aof_rewrites_consecutive_failures:0",
        ]
    );
    let expected = Dataset::read_scanned(&mut c);
    assert_aof_holds(&server, &[], &expected, "ferrokv after a failed rewrite");
    let Some(redis) = start_redis_aof(&[], &[]) else {
        println!("SKIPPED: redis-server not found on PATH; not compared");
        return;
    };
    let mut r = redis.connect();
    assert_eq!(
        ours,
        run(&redis, &mut r, "redis-server"),
        "INFO against redis-server's"
    );
}

// ---------------------------------------------------------------------------
// 7. INFO persistence
// ---------------------------------------------------------------------------

#[test]
fn info_persistence_shows_the_aof_sizes_and_buffers() {
    let server = start_ferrokv_aof(&[], &[]);
    let mut c = server.connect();
    let text = String::from_utf8_lossy(&bulk(&mut c, &["INFO", "persistence"])).into_owned();
    for field in [
        "aof_enabled:1",
        "aof_rewrite_in_progress:0",
        "aof_current_size:",
        "aof_base_size:",
        "aof_pending_rewrite:0",
        "aof_buffer_length:",
        "aof_pending_bio_fsync:",
        "aof_delayed_fsync:",
        "aof_last_write_status:ok",
    ] {
        assert!(
            text.lines().any(|line| line.starts_with(field)),
            "INFO persistence has no {field}:\n{text}"
        );
    }
    let dir = server.dir().join(AOF_DIR);
    let on_disk = |name: &str| file_len(&dir.join(name));
    wait_aof_written(&server);
    let size0 = persistence_num(&mut c, "aof_current_size");
    let base0 = persistence_num(&mut c, "aof_base_size");
    let incr0 = on_disk("appendonly.aof.1.incr.aof");
    for i in 0..50 {
        ok(&mut c, &["SET", &format!("key:{i}"), "some value"]);
    }
    wait_aof_written(&server);
    let size1 = persistence_num(&mut c, "aof_current_size");
    let incr1 = on_disk("appendonly.aof.1.incr.aof");
    assert!(
        size1 > size0,
        "aof_current_size {size0} -> {size1} after 50 SETs"
    );
    assert_eq!(
        size1 - size0,
        incr1 - incr0,
        "aof_current_size grows by what the incr file grows"
    );
    assert_eq!(
        persistence_num(&mut c, "aof_base_size"),
        base0,
        "no rewrite yet"
    );
    // Loaded at start-up, the size is the files'.
    let restarted = start_ferrokv_aof(&[], &aof_files(&server));
    let rdir = restarted.dir().join(AOF_DIR);
    let loaded_size = file_len(&rdir.join("appendonly.aof.1.base.rdb"))
        + file_len(&rdir.join("appendonly.aof.1.incr.aof"));
    assert_eq!(
        persistence_num(&mut restarted.connect(), "aof_current_size"),
        loaded_size,
        "aof_current_size after loading the files"
    );
    // After a rewrite, both sizes start over from the new files (Redis
    // counts what the new incr file holds already into the base size).
    bgrewriteaof(&mut c);
    wait_rewrite_done(&mut c, "ferrokv");
    wait_aof_written(&server);
    let files = on_disk("appendonly.aof.2.base.rdb") + on_disk("appendonly.aof.2.incr.aof");
    assert_eq!(
        persistence_num(&mut c, "aof_current_size"),
        files,
        "aof_current_size after the rewrite"
    );
    assert_eq!(
        persistence_num(&mut c, "aof_base_size"),
        files,
        "aof_base_size after the rewrite"
    );
    ok(&mut c, &["SET", "one", "more"]);
    assert!(persistence_num(&mut c, "aof_current_size") > files);
    // Without the AOF the size fields are not shown, as in Redis.
    ok(&mut c, &["CONFIG", "SET", "appendonly", "no"]);
    let text = String::from_utf8_lossy(&bulk(&mut c, &["INFO", "persistence"])).into_owned();
    assert!(
        !text.contains("aof_current_size:"),
        "INFO persistence with appendonly no:\n{text}"
    );
}

// ---------------------------------------------------------------------------
// 8. Rewrites that meet FLUSHALL, SWAPDB, DEBUG LOADAOF, SHUTDOWN; automatic
//    rewrites
// ---------------------------------------------------------------------------

fn flushall_and_swapdb_during_a_rewrite(preamble: &str) {
    let settings = [("aof-use-rdb-preamble", preamble)];
    let server = start_ferrokv_aof(&settings, &[]);
    let mut c = server.connect();
    Workload::new(0xa0f_0601).prefill(&mut c);
    set_save_delay(&mut c, SLOW_REWRITE_DELAY_US);
    bgrewriteaof(&mut c);
    ok(&mut c, &["SWAPDB", "0", "2"]);
    ok(&mut c, &["SET", "str:0", "before the flush"]);
    ok(&mut c, &["FLUSHALL"]);
    ok(&mut c, &["SET", "str:1", "after the flush"]);
    int(&mut c, &["RPUSH", "list:1", "a", "b"]);
    select(&mut c, 2);
    int(&mut c, &["SADD", "set:1", "x", "1"]);
    ok(&mut c, &["SWAPDB", "2", "0"]);
    assert_eq!(
        persistence_info(&mut c, "aof_rewrite_in_progress"),
        "1",
        "the slowed rewrite still runs after the writes"
    );
    set_save_delay(&mut c, "0");
    wait_rewrite_done(&mut c, "ferrokv");
    ok(&mut c, &["SET", "str:2", "after the rewrite"]);
    let expected = Dataset::read_scanned(&mut c);
    assert_eq!(expected.key_count(), 4, "{expected:?}");
    assert_aof_holds(
        &server,
        &settings,
        &expected,
        "ferrokv after FLUSHALL and SWAPDB during a rewrite",
    );
}

#[test]
fn flushall_and_swapdb_during_a_rewrite_with_rdb_preamble() {
    flushall_and_swapdb_during_a_rewrite("yes");
}

#[test]
fn flushall_and_swapdb_during_a_rewrite_without_rdb_preamble() {
    flushall_and_swapdb_during_a_rewrite("no");
}

#[test]
fn an_automatic_rewrite_starts_when_the_aof_grows() {
    let server = start_ferrokv_aof(
        &[
            ("auto-aof-rewrite-percentage", "100"),
            ("auto-aof-rewrite-min-size", "4096"),
        ],
        &[],
    );
    let mut c = server.connect();
    assert_eq!(persistence_num(&mut c, "aof_rewrites"), 0);
    let value = "x".repeat(100);
    for i in 0..100 {
        ok(&mut c, &["SET", &format!("key:{i}"), &value]);
    }
    wait_until("an automatic rewrite", || {
        persistence_num(&mut c, "aof_rewrites") >= 1 && persistence_idle(&mut c)
    });
    assert_eq!(persistence_info(&mut c, "aof_last_bgrewrite_status"), "ok");
    let log = server.log();
    assert!(
        log.contains("Starting automatic rewriting of AOF on"),
        "the log tells of the automatic rewrite:\n{log}"
    );
    let expected = Dataset::read_scanned(&mut c);
    assert_aof_holds(
        &server,
        &[],
        &expected,
        "ferrokv after an automatic rewrite",
    );
}

/// SHUTDOWN writes what the AOF buffer holds and stops a rewrite in
/// progress, leaving no temporary file; the directory loads.
#[test]
fn shutdown_writes_the_aof_and_stops_a_rewrite() {
    let server = start_ferrokv_aof(&[], &[]);
    let mut c = server.connect();
    Workload::new(0xa0f_0701).prefill(&mut c);
    set_save_delay(&mut c, SLOW_REWRITE_DELAY_US);
    bgrewriteaof(&mut c);
    for i in 0..20 {
        ok(&mut c, &["SET", &format!("during:{i}"), "v"]);
    }
    let expected = Dataset::read_scanned(&mut c);
    assert_eq!(persistence_info(&mut c, "aof_rewrite_in_progress"), "1");
    let reply = c.cmd_result(&["SHUTDOWN", "NOSAVE"]);
    assert!(
        reply.is_err(),
        "SHUTDOWN answered \"{}\" instead of closing",
        escape(&reply.unwrap_or_default())
    );
    assert!(
        server.exits_within(Duration::from_secs(10)),
        "ferrokv exits after SHUTDOWN"
    );
    assert_eq!(
        temp_files(&server),
        Vec::<String>::new(),
        "temporary files left"
    );
    // The manifest is as before the rewrite: base 1, incr 1 and the incr
    // file the rewrite opened (2), which holds the writes made during it.
    let files = {
        let dir = server.dir().join(AOF_DIR);
        let mut files = Vec::new();
        for entry in fs::read_dir(&dir).expect("the AOF directory").flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            files.push((format!("{AOF_DIR}/{name}"), fs::read(entry.path()).unwrap()));
        }
        files
    };
    restarted_holding(
        &[],
        &files,
        "ferrokv at SHUTDOWN",
        &expected,
        "ferrokv restarted on its AOF",
    );
}

/// While the first base of an AOF turned on at run time is written,
/// SHUTDOWN is refused, as Redis refuses it ("Writing initial AOF,
/// can't exit").
#[test]
fn shutdown_while_the_first_base_is_written_is_refused_like_redis() {
    let refused = |c: &mut Client, who: &str, let_go: &dyn Fn(&mut Client)| -> Vec<u8> {
        set_save_delay(c, SLOW_REWRITE_DELAY_US);
        ok(c, &["CONFIG", "SET", "appendonly", "yes"]);
        assert_eq!(persistence_info(c, "aof_rewrite_in_progress"), "1", "{who}");
        let reply = c.cmd(&["SHUTDOWN"]);
        assert_eq!(persistence_info(c, "aof_enabled"), "1", "{who} is still up");
        let_go(c);
        wait_rewrite_done(c, who);
        reply
    };
    let server = common::start_ferrokv();
    let mut c = server.connect();
    for i in 0..200 {
        ok(&mut c, &["SET", &format!("key:{i}"), "v"]);
    }
    let ours = refused(&mut c, "ferrokv", &|c: &mut Client| {
        ok(c, &["CONFIG", "SET", "rdb-key-save-delay", "0"])
    });
    assert!(
        ours.starts_with(b"-"),
        "SHUTDOWN answered \"{}\"",
        escape(&ours)
    );
    let log = server.log();
    assert!(log.contains("Writing initial AOF, can't exit"), "{log}");
    let Some(redis) = common::start_redis() else {
        println!("SKIPPED: redis-server not found on PATH; reply not compared");
        return;
    };
    let mut r = redis.connect();
    for i in 0..5 {
        ok(&mut r, &["SET", &format!("key:{i}"), "v"]);
    }
    let theirs = refused(&mut r, "redis-server", &|_: &mut Client| {});
    assert_eq!(
        escape(&ours),
        escape(&theirs),
        "SHUTDOWN's reply against redis-server's"
    );
}

/// DEBUG LOADAOF empties the dataset and loads the files again while a
/// rewrite's snapshot is walking it. In Redis the rewrite is a forked
/// child, which the reload cannot touch: its base is still the whole
/// dataset of the moment it started. ferrokv's forkless snapshot must keep
/// that promise too.
#[test]
fn debug_loadaof_during_a_rewrite_keeps_the_base_whole() {
    let server = start_ferrokv_aof(&[], &[]);
    let mut c = server.connect();
    Workload::new(0xa0f_0603).prefill(&mut c);
    set_save_delay(&mut c, SLOW_REWRITE_DELAY_US);
    bgrewriteaof(&mut c);
    ok(&mut c, &["SET", "during:rewrite", "1"]);
    ok(&mut c, &["DEBUG", "LOADAOF"]);
    let expected = Dataset::read_scanned(&mut c);
    assert!(expected.key_count() > 100, "{} keys", expected.key_count());
    set_save_delay(&mut c, "0");
    wait_rewrite_done(&mut c, "ferrokv");
    assert_holds(
        "ferrokv after DEBUG LOADAOF",
        &expected,
        "ferrokv once the rewrite is done",
        &mut c,
    );
    assert_aof_holds(
        &server,
        &[],
        &expected,
        "ferrokv that ran DEBUG LOADAOF during a rewrite",
    );
}

/// The same for a BGSAVE: its `dump.rdb` is the dataset of the moment it
/// started, whatever DEBUG LOADAOF does meanwhile.
#[test]
fn debug_loadaof_during_a_bgsave_keeps_the_dump_whole() {
    let server = start_ferrokv_aof(&[], &[]);
    let mut c = server.connect();
    Workload::new(0xa0f_0604).prefill(&mut c);
    let expected = Dataset::read_scanned(&mut c);
    set_save_delay(&mut c, SLOW_REWRITE_DELAY_US);
    expect_reply(&mut c, &["BGSAVE"], "+Background saving started\r\n");
    ok(&mut c, &["DEBUG", "LOADAOF"]);
    assert_holds(
        "ferrokv before DEBUG LOADAOF",
        &expected,
        "ferrokv after it",
        &mut c,
    );
    set_save_delay(&mut c, "0");
    wait_until("the BGSAVE ends", || persistence_idle(&mut c));
    assert_eq!(persistence_info(&mut c, "rdb_last_bgsave_status"), "ok");
    let dump = fs::read(server.dir().join("dump.rdb")).expect("the BGSAVE's dump.rdb");
    let loaded = common::start_ferrokv_with(&[], &[("dump.rdb", &dump)]);
    assert_holds(
        "ferrokv when BGSAVE started",
        &expected,
        "ferrokv loading the BGSAVE's dump.rdb",
        &mut loaded.connect(),
    );
}

// ---------------------------------------------------------------------------
// 9. Big values and binary names
// ---------------------------------------------------------------------------

#[test]
fn big_values_and_binary_names_survive_replay_and_rewrite() {
    for preamble in ["yes", "no"] {
        let settings = [("aof-use-rdb-preamble", preamble)];
        let server = start_ferrokv_aof(&settings, &[]);
        let mut c = server.connect();
        let mut rng = Rng::new(0xa0f_0902);
        let mut random = |len: usize| {
            let mut out = Vec::with_capacity(len + 8);
            while out.len() < len {
                out.extend_from_slice(&rng.next_u64().to_le_bytes());
            }
            out.truncate(len);
            out
        };
        // Bigger than the loader's 1 MB read chunk, in the incr file and
        // (after the rewrite) in the base.
        let big = random(3 << 20);
        ok(&mut c, &[b"SET".as_slice(), b"big\r\n\0key", &big]);
        let element = random(1_500_000);
        int(
            &mut c,
            &[b"RPUSH".as_slice(), b"list\xff", b"small", &element],
        );
        int(
            &mut c,
            &[b"HSET".as_slice(), b"hash", b"f\r\n", &random(70_000)],
        );
        // More than the 64 items a base of commands puts in one command.
        let elements: Vec<Vec<u8>> = (0..300).map(|i| format!("e{i}").into_bytes()).collect();
        let mut rpush: Vec<&[u8]> = vec![b"RPUSH", b"list:long"];
        rpush.extend(elements.iter().map(|e| e.as_slice()));
        int(&mut c, &rpush);
        let fields: Vec<Vec<u8>> = (0..200).map(|i| format!("f{i}").into_bytes()).collect();
        let mut hset: Vec<&[u8]> = vec![b"HSET", b"hash:wide"];
        for field in &fields {
            hset.push(field);
            hset.push(b"value");
        }
        int(&mut c, &hset);
        int(&mut c, &["EXPIRE", "hash:wide", "100000"]);
        let members: Vec<Vec<u8>> = (0..1000).map(|i| format!("m{i}").into_bytes()).collect();
        let mut sadd: Vec<&[u8]> = vec![b"SADD", b"set"];
        sadd.extend(members.iter().map(|m| m.as_slice()));
        int(&mut c, &sadd);
        let before_rewrite = Dataset::read_scanned(&mut c);
        restarted_holding(
            &settings,
            &aof_files(&server),
            "ferrokv",
            &before_rewrite,
            &format!("ferrokv restarted on its incr file (preamble {preamble})"),
        );
        bgrewriteaof(&mut c);
        wait_rewrite_done(&mut c, "ferrokv");
        int(&mut c, &[b"APPEND".as_slice(), b"big\r\n\0key", b"tail"]);
        let expected = Dataset::read_scanned(&mut c);
        assert_aof_holds(
            &server,
            &settings,
            &expected,
            &format!("ferrokv with big values after a rewrite (preamble {preamble})"),
        );
    }
}

// ---------------------------------------------------------------------------
// 10. The command line
// ---------------------------------------------------------------------------

/// redis-server takes every configuration parameter as `--name value` on
/// its command line; the AOF's are the ones an AOF setup needs at
/// start-up (`aof-load-truncated` decides how the load goes).
#[test]
fn aof_settings_are_accepted_as_command_line_options() {
    let server = Server::start_with_files(
        "ferrokv",
        common::ferrokv_program(),
        &[],
        &[
            REDIS_TEST_ARGS,
            &[
                "--appendonly",
                "yes",
                "--aof-use-rdb-preamble",
                "no",
                "--aof-load-truncated",
                "no",
                "--aof-timestamp-enabled",
                "yes",
                "--appendfsync",
                "always",
            ],
        ]
        .concat(),
        &[],
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let mut c = server.connect();
    for (name, value) in [
        ("aof-use-rdb-preamble", "no"),
        ("aof-load-truncated", "no"),
        ("aof-timestamp-enabled", "yes"),
        ("appendfsync", "always"),
    ] {
        let reply = call(&mut c, &["CONFIG", "GET", name]);
        assert_eq!(
            as_bulks(reply, &["CONFIG", "GET", name]),
            [name.as_bytes().to_vec(), value.as_bytes().to_vec()],
            "CONFIG GET {name}"
        );
    }
    assert_eq!(
        manifest_on_disk(&server)[0].name,
        "appendonly.aof.1.base.aof",
        "the base without an RDB preamble"
    );
}
