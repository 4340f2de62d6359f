//! Runs steps against redis-server and ferrokv side by side and compares
//! what comes back: every reply, the wake-ups of blocked connections, and
//! the whole dataset at the end (key by key, then by DEBUG DIGEST).
//!
//! # Keeping the comparison deterministic
//!
//! Each server has the step's connections plus a control connection that
//! the steps never use. A step's command goes to both servers; when its
//! reply is sure to come at once, it is read from both and compared. When
//! it may not come (a blocking command, a connection with a command still
//! blocked, CLIENT REPLY OFF), the runner first sends PING twice on the
//! control connection and waits for both PONGs: a server writes all the
//! replies one pass of its loop produced before it reads the next request
//! from any client, so once the second PONG is back, every reply the step
//! caused has been sent. Then whatever has arrived on each connection is
//! read without waiting, and both servers must have sent the same replies.
//! The same check follows every step while anyone is blocked, which is how
//! wake-ups are compared.
//!
//! Active expiry is off on both servers (`DEBUG SET-ACTIVE-EXPIRE 0`), so
//! a key whose deadline passed is reclaimed only when a command touches it,
//! at the same point of the sequence on both; and the generator's TTLs are
//! either in the past or at least 100 seconds away.
//!
//! # The AOF replay
//!
//! The server under test keeps an append-only file ([`SUBJECT_ARGS`]).
//! Once a sequence's dataset agrees with the reference's, its other
//! connections are closed (a client still blocked would be served by the
//! keys the replay creates) and `DEBUG LOADAOF` empties its dataset and
//! loads it back from the file; the dataset must then agree with the
//! reference's again. A difference there is a replay failure (`aof:...`),
//! shrunk like any other. The file holds every sequence since the last
//! rewrite, flushed away at each reset, so [`Pair::reset`] rewrites it
//! when it passes [`AOF_REWRITE_ABOVE_BYTES`] and a replay stays short.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::common::{self, Client, Frame, Server, escape, mask_digits, parse_frame};

use super::generate::{CONNS, ENCODING_LIMITS, SUBSCRIBING, Step, Timeout};
use super::norm::{self, Norm, StreamLoose, untimed_stream_dump, untimed_stream_reply};

/// Configuration the generator may change, restored before each sequence.
const RESTORED: &[&str] = &[
    "slowlog-max-len",
    "slowlog-log-slower-than",
    "maxmemory-policy",
    "maxmemory",
    "proto-max-bulk-len",
    "list-compress-depth",
    "masterauth",
    "masteruser",
    "notify-keyspace-events",
];

/// What the server under test is started with besides the reference's
/// arguments (`common::REDIS_TEST_ARGS`): an append-only file, which each
/// sequence ends by replaying (see the module comment). A redis-server
/// named by `FERROKV_DIFF_BIN_CMD` gets the same.
pub const SUBJECT_ARGS: &[&str] = &["--appendonly", "yes"];

/// The size past which [`Pair::reset`] rewrites the subject's AOF (its
/// dataset is empty then). Every replay reads what was appended since the
/// last rewrite, about 3 KB per sequence, at about 20 ms per MB; a rewrite
/// takes 5 to 50 ms, mostly fsyncs (figures from a release build). Past
/// 64 KB, each costs about a millisecond per sequence, however long the
/// run; at 2 MB a long run's replays would take about 20 ms per sequence,
/// as long as the sequence itself.
const AOF_REWRITE_ABOVE_BYTES: u64 = 64 << 10;

/// How long a rewrite of an empty dataset may take before the run gives up.
const AOF_REWRITE_TIMEOUT: Duration = Duration::from_secs(30);

/// What happened during a run, in order, for printing it as a script.
#[derive(Clone, Debug)]
pub enum Event {
    /// A step's command was sent; `awaited` if its reply was read at once.
    Sent { step: usize, awaited: bool },
    /// Replies that arrived later on a connection (a wake-up, replies of
    /// commands sent while it was blocked, MONITOR's feed, which is
    /// compared with its digits masked).
    Replies {
        conn: usize,
        count: usize,
        masked: bool,
    },
    /// A connection both servers had closed was opened again.
    Reconnected { conn: usize },
}

/// A difference between the servers.
#[derive(Clone, Debug)]
pub struct Failure {
    /// The step at which it showed, or the number of steps when it was
    /// found in the data at the end.
    pub step: usize,
    /// What kind of difference, for the minimizer: a smaller sequence
    /// counts only if it fails the same way.
    pub signature: String,
    pub detail: String,
}

/// Differences already known and left for a later change, each with why:
/// a run counts them and goes on. Matched by the kind of difference and
/// the command at which it showed.
const KNOWN_DIFFERENCES: &[(&str, &str, &str)] = &[];

/// Why a difference is a known one (see [`KNOWN_DIFFERENCES`]), if it is.
pub fn known_difference(steps: &[Step], failure: &Failure) -> Option<&'static str> {
    let at = steps.get(failure.step)?;
    KNOWN_DIFFERENCES
        .iter()
        .find(|(kind, command, _)| {
            failure.signature.starts_with(kind) && command_name(&at.args) == *command
        })
        .map(|&(_, _, why)| why)
}

pub struct Outcome {
    pub events: Vec<Event>,
    pub failure: Option<Failure>,
}

/// One server and its connections.
struct Side {
    server: Server,
    ctl: Client,
    conns: Vec<Option<Client>>,
    /// Each connection's client ID on this server, found on first use.
    ids: Vec<Option<Vec<u8>>>,
}

impl Side {
    fn new(server: Server) -> Result<Side, String> {
        let ctl = Client::connect(server.port).map_err(|e| format!("connect: {e}"))?;
        Ok(Side {
            server,
            ctl,
            conns: (0..CONNS).map(|_| None).collect(),
            ids: vec![None; CONNS],
        })
    }

    fn name(&self) -> &str {
        &self.server.name
    }

    /// A command on the control connection, its reply decoded.
    fn ctl(&mut self, args: &[&[u8]]) -> Result<Frame, String> {
        Ok(self.ctl_pipeline(&[args.to_vec()])?.remove(0))
    }

    /// Commands on the control connection, sent together; their replies.
    fn ctl_pipeline(&mut self, commands: &[Vec<&[u8]>]) -> Result<Vec<Frame>, String> {
        let bytes: Vec<u8> = commands
            .iter()
            .flat_map(|c| common::encode_command(c))
            .collect();
        let name = &self.server.name;
        self.ctl
            .send_raw(&bytes)
            .map_err(|e| format!("{name}: control connection: {e}"))?;
        (0..commands.len())
            .map(|_| {
                self.ctl
                    .read_frame()
                    .map_err(|e| format!("{name}: control connection: {e}"))
            })
            .collect()
    }

    /// A field of `INFO section`, or `None` when the reply has no such
    /// field (the AOF's sizes appear only while it is on).
    fn info_field(&mut self, section: &str, field: &str) -> Result<Option<String>, String> {
        let text = match self.ctl(&[b"INFO", section.as_bytes()])? {
            Frame::Bulk(text) => String::from_utf8_lossy(&text).into_owned(),
            other => return Err(format!("{}: INFO {section}: {other:?}", self.name())),
        };
        Ok(text.lines().find_map(|line| {
            let value = line.strip_prefix(field)?.strip_prefix(':')?;
            Some(value.trim_end().to_string())
        }))
    }

    /// Rewrites the AOF when it has grown past [`AOF_REWRITE_ABOVE_BYTES`]
    /// and waits for the rewrite to end; nothing when there is no AOF.
    fn keep_aof_small(&mut self) -> Result<(), String> {
        let size = self.info_field("persistence", "aof_current_size")?;
        let Some(size) = size.and_then(|s| s.parse::<u64>().ok()) else {
            return Ok(());
        };
        if size <= AOF_REWRITE_ABOVE_BYTES {
            return Ok(());
        }
        // Started, scheduled, or (an error) already running: each ends the
        // same way.
        self.ctl(&[b"BGREWRITEAOF"])?;
        let deadline = Instant::now() + AOF_REWRITE_TIMEOUT;
        loop {
            let running = self.info_field("persistence", "aof_rewrite_in_progress")?;
            let scheduled = self.info_field("persistence", "aof_rewrite_scheduled")?;
            if running.as_deref() == Some("0") && scheduled.as_deref() == Some("0") {
                break;
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "{}: the AOF rewrite did not end within {AOF_REWRITE_TIMEOUT:?}",
                    self.name()
                ));
            }
            // Redis notices its rewrite child's end in its cron (10 times a
            // second): no need to ask more often than every millisecond.
            std::thread::sleep(Duration::from_millis(1));
        }
        match self.info_field("persistence", "aof_last_bgrewrite_status")? {
            Some(status) if status == "ok" => Ok(()),
            other => Err(format!(
                "{}: the AOF rewrite of {size} bytes failed (aof_last_bgrewrite_status {other:?})",
                self.name()
            )),
        }
    }

    /// The client ID of connection `conn` on this server (`${id:N}`).
    fn id_of(&mut self, conn: usize) -> Result<Vec<u8>, String> {
        if let Some(id) = &self.ids[conn] {
            return Ok(id.clone());
        }
        let Some(port) = self.conns[conn].as_ref().map(Client::local_port) else {
            return Ok(b"0".to_vec());
        };
        let name = &self.server.name;
        // A connection the server has closed (QUIT) but that has not been
        // read to its end is gone from CLIENT LIST: an ID no client has.
        let id = common::client_id_by_port(&mut self.ctl, port)
            .map_err(|e| format!("{name}: CLIENT LIST: {e}"))?
            .unwrap_or_else(|| b"0".to_vec());
        self.ids[conn] = Some(id.clone());
        Ok(id)
    }

    /// The arguments with `${id:N}` replaced by this server's IDs.
    fn substitute(&mut self, args: &[Vec<u8>]) -> Result<Vec<Vec<u8>>, String> {
        args.iter()
            .map(|arg| match common::placeholder_conn(arg) {
                Some(conn) if conn < CONNS => self.id_of(conn),
                _ => Ok(arg.clone()),
            })
            .collect()
    }

    fn connect(&mut self, conn: usize) -> Result<(), String> {
        let client = Client::connect(self.server.port)
            .map_err(|e| format!("{}: connect: {e}", self.server.name))?;
        self.conns[conn] = Some(client);
        self.ids[conn] = None;
        Ok(())
    }

    /// The next reply on `conn`, waited for; `None` if it closed.
    fn next_reply(&mut self, conn: usize) -> Result<Option<Frame>, String> {
        let Some(client) = self.conns[conn].as_mut() else {
            return Ok(None);
        };
        match client.read_reply() {
            Ok(bytes) => Ok(Some(decode(&bytes))),
            Err(e) if closed(&e) => {
                self.conns[conn] = None;
                Ok(None)
            }
            Err(e) => Err(format!("{}: connection {conn}: {e}", self.server.name)),
        }
    }

    /// Every reply that has arrived on `conn`, and whether it closed.
    fn drain(&mut self, conn: usize) -> Result<(Vec<Frame>, bool), String> {
        let mut frames = Vec::new();
        let Some(client) = self.conns[conn].as_mut() else {
            return Ok((frames, false));
        };
        loop {
            match client.poll_reply() {
                Ok(Some(bytes)) => frames.push(decode(&bytes)),
                Ok(None) => return Ok((frames, false)),
                Err(e) if closed(&e) => {
                    self.conns[conn] = None;
                    return Ok((frames, true));
                }
                Err(e) => return Err(format!("{}: connection {conn}: {e}", self.server.name)),
            }
        }
    }
}

/// Takes the MONITOR feed lines out of `frames`, in order, without those
/// of the client connected from local port `skip`.
fn take_feed_lines(frames: &mut Vec<Frame>, skip: u16) -> Vec<Frame> {
    let (feed, replies): (Vec<Frame>, Vec<Frame>) = frames.drain(..).partition(is_feed_line);
    *frames = replies;
    let skipped = format!(" 127.0.0.1:{skip}]");
    feed.into_iter()
        .filter(|line| match line {
            Frame::Simple(text) => !String::from_utf8_lossy(text).contains(&skipped),
            _ => true,
        })
        .collect()
}

fn closed(e: &std::io::Error) -> bool {
    use std::io::ErrorKind;
    matches!(
        e.kind(),
        ErrorKind::UnexpectedEof
            | ErrorKind::ConnectionReset
            | ErrorKind::ConnectionAborted
            | ErrorKind::BrokenPipe
    )
}

/// The next frame on `client` that is not a push, stashing the pushes
/// before it (unless the connection is subscribed, where pushes are what
/// it receives).
fn read_past_pushes(
    client: &mut Client,
    stash: &mut Vec<Frame>,
    subscribing: bool,
) -> std::io::Result<Frame> {
    loop {
        let frame = decode(&client.read_reply()?);
        if subscribing || !matches!(frame, Frame::Push(_)) {
            return Ok(frame);
        }
        stash.push(frame);
    }
}

fn decode(bytes: &[u8]) -> Frame {
    match parse_frame(bytes) {
        Ok(Some((frame, _))) => without_redirect_id(frame),
        _ => unreachable!("the client returns exactly one complete reply"),
    }
}

/// A `tracking-redir-broken` push names the client ID of the redirect
/// target that went away, which each server numbers its own way: it is
/// compared as 0.
fn without_redirect_id(frame: Frame) -> Frame {
    match frame {
        Frame::Push(mut parts)
            if parts.first() == Some(&Frame::Bulk(b"tracking-redir-broken".to_vec())) =>
        {
            if let Some(id @ Frame::Integer(_)) = parts.get_mut(1) {
                *id = Frame::Integer(0);
            }
            Frame::Push(parts)
        }
        other => other,
    }
}

/// The two servers.
pub struct Pair {
    reference: Side,
    subject: Side,
    /// How to start the server under test again after it crashed.
    start_subject: fn() -> Server,
    /// The reference's defaults for every parameter the generator changes.
    defaults: Vec<(String, Vec<u8>)>,
}

/// Per-connection bookkeeping during a run, kept from the reference's
/// replies (where the servers differ, the run stops anyway).
#[derive(Default)]
struct ConnState {
    /// Steps whose replies have not arrived yet, oldest first.
    outstanding: VecDeque<usize>,
    /// The steps queued since MULTI, while a transaction is open.
    queued: Option<Vec<usize>>,
    replies: ReplyMode,
    /// A command that may have blocked was sent with its reply switched
    /// off (CLIENT REPLY): nothing will say when it is done, so what
    /// follows on the connection is never awaited.
    silently_blocked: bool,
    closed: bool,
    /// After MONITOR: the feed lines each server has sent and the other
    /// has not yet (see `Run::compare_feeds`).
    monitor: Option<Feeds>,
    /// Pushes each server sent ahead of an awaited reply (reference,
    /// subject), compared with what the connection receives next; see
    /// `split_pushes`.
    stashed_pushes: [Vec<Frame>; 2],
    /// After a (un)subscribe command (`generate::SUBSCRIBING`): a command
    /// may answer several pushes, and messages come whenever anyone
    /// publishes, so nothing is awaited on the connection and what it
    /// receives is compared after every step as a whole, in any order
    /// (Redis answers an unsubscribe-all and delivers pattern messages in
    /// hash order).
    subscribing: bool,
}

/// MONITOR feed lines received on one connection and not yet compared,
/// per server.
#[derive(Default)]
struct Feeds {
    reference: VecDeque<Frame>,
    subject: VecDeque<Frame>,
    /// Set while the MONITOR that started the feed has not been answered:
    /// its reply may come in the same batch as the first feed lines.
    tentative: bool,
}

/// A MONITOR feed line: a simple string starting with its timestamp
/// (`+1700000000.123456 [0 127.0.0.1:5000] "GET" "k"`); no reply to a
/// command looks like one.
fn is_feed_line(frame: &Frame) -> bool {
    matches!(frame, Frame::Simple(text) if text.first().is_some_and(u8::is_ascii_digit))
}

/// What CLIENT REPLY has set on a connection, as Redis keeps it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum ReplyMode {
    #[default]
    On,
    Off,
    /// CLIENT REPLY SKIP: the next command's reply is dropped.
    SkipNext,
    /// QUIT whose reply was dropped: the server closes a connection once
    /// its reply is written, and with none to write it stays open, reading
    /// nothing more (RESET included).
    Deaf,
}

impl ReplyMode {
    /// Whether a command gets a reply in this mode, and the mode after it.
    /// CLIENT REPLY ON answers even when replies are off, OFF and SKIP
    /// never answer, SKIP while off changes nothing, and RESET turns
    /// replies back on before it answers (after SKIP, its own reply is the
    /// one skipped).
    fn apply(self, args: &[Vec<u8>]) -> (bool, ReplyMode) {
        let word = |i: usize| {
            args.get(i)
                .map(|a| a.to_ascii_lowercase())
                .unwrap_or_default()
        };
        if self == ReplyMode::Deaf {
            return (false, ReplyMode::Deaf);
        }
        if word(0) == b"quit" && self != ReplyMode::On {
            return (false, ReplyMode::Deaf);
        }
        let client_reply = args.len() == 3 && word(0) == b"client" && word(1) == b"reply";
        match (client_reply.then(|| word(2)).as_deref(), word(0).as_slice()) {
            (_, b"reset") if self == ReplyMode::SkipNext => (false, ReplyMode::On),
            (Some(b"on"), _) | (_, b"reset") => (true, ReplyMode::On),
            (Some(b"off"), _) => (false, ReplyMode::Off),
            (Some(b"skip"), _) if self == ReplyMode::Off => (false, ReplyMode::Off),
            (Some(b"skip"), _) => (false, ReplyMode::SkipNext),
            _ => match self {
                ReplyMode::On => (true, ReplyMode::On),
                ReplyMode::Off => (false, ReplyMode::Off),
                ReplyMode::SkipNext => (false, ReplyMode::On),
                ReplyMode::Deaf => (false, ReplyMode::Deaf),
            },
        }
    }
}

impl Pair {
    pub fn start(reference: Server, start_subject: fn() -> Server) -> Result<Pair, String> {
        let mut pair = Pair {
            reference: Side::new(reference)?,
            subject: Side::new(start_subject())?,
            start_subject,
            defaults: Vec::new(),
        };
        let params = ENCODING_LIMITS
            .iter()
            .map(|(p, _)| *p)
            .chain(RESTORED.iter().copied());
        for param in params {
            let value = |side: &mut Side| match side.ctl(&[b"CONFIG", b"GET", param.as_bytes()]) {
                Ok(Frame::Array(kv)) if kv.len() == 2 => Ok(common::expect_bulk(&kv[1])),
                Ok(other) => Err(format!("{}: CONFIG GET {param}: {other:?}", side.name())),
                Err(e) => Err(e),
            };
            let expected = value(&mut pair.reference)?;
            let actual = value(&mut pair.subject)?;
            if expected != actual {
                return Err(format!(
                    "default of {param} differs: redis-server \"{}\", server under test \"{}\"",
                    escape(&expected),
                    escape(&actual)
                ));
            }
            pair.defaults.push((param.to_string(), expected));
        }
        // A sequence starts with the slow log off: at the default 10 ms
        // threshold, whether a command is logged depends on the machine's
        // load. The generator switches it to log everything, or nothing.
        for (param, value) in &mut pair.defaults {
            if param == "slowlog-log-slower-than" {
                *value = b"-1".to_vec();
            }
        }
        Ok(pair)
    }

    fn sides(&mut self) -> [&mut Side; 2] {
        [&mut self.reference, &mut self.subject]
    }

    /// PING twice on each control connection; see the module comment. Both
    /// servers get each PING before either answer is awaited.
    fn barrier(&mut self) -> Result<(), String> {
        for _ in 0..2 {
            for side in self.sides() {
                side.ctl
                    .send(&[b"PING"])
                    .map_err(|e| format!("{}: control connection: {e}", side.server.name))?;
            }
            for side in self.sides() {
                match side.ctl.read_frame() {
                    Ok(Frame::Simple(s)) if s == b"PONG" => {}
                    other => return Err(format!("{}: PING answered {other:?}", side.server.name)),
                }
            }
        }
        Ok(())
    }

    /// Brings both servers back to the same empty state, with fresh
    /// connections: the state a sequence starts from.
    pub fn reset(&mut self) -> Result<(), String> {
        if self.subject.server.exit_status().is_some() {
            self.subject = Side::new((self.start_subject)())?;
        }
        for side in self.sides() {
            kill_other_clients(side)?;
            // SCRIPT FLUSH too: a sequence's EVALSHA finds only what it
            // loaded itself, so that a shrunk script reproduces alone.
            all_ok(
                side,
                &[
                    vec![b"SELECT", b"0"],
                    vec![b"FLUSHALL"],
                    vec![b"FUNCTION", b"FLUSH"],
                    vec![b"SCRIPT", b"FLUSH"],
                ],
            )?;
        }
        // Before the statistics are reset, so that what the rewrite asks
        // leaves no trace a sequence could see.
        self.subject.keep_aof_small()?;
        let defaults = self.defaults.clone();
        for side in self.sides() {
            let mut config_set: Vec<&[u8]> = vec![b"CONFIG", b"SET"];
            for (param, value) in &defaults {
                config_set.extend([param.as_bytes(), value.as_slice()]);
            }
            let commands: Vec<Vec<&[u8]>> = vec![
                vec![b"DEBUG", b"SET-ACTIVE-EXPIRE", b"0"],
                config_set,
                vec![b"SLOWLOG", b"RESET"],
                vec![b"CONFIG", b"RESETSTAT"],
            ];
            all_ok(side, &commands)?;
            for conn in 0..CONNS {
                side.connect(conn)?;
            }
        }
        Ok(())
    }

    /// Runs the steps from the state [`Pair::reset`] leaves, stopping at
    /// the first difference; compares the data at the end.
    pub fn run(&mut self, steps: &[Step]) -> Outcome {
        let mut run = Run {
            pair: self,
            steps,
            conns: (0..CONNS).map(|_| ConnState::default()).collect(),
            events: Vec::new(),
        };
        let failure = run.all().err();
        Outcome {
            events: run.events,
            failure,
        }
    }

    /// The end of the server under test's log, for a crash report.
    pub fn subject_log_tail(&self) -> String {
        let log = self.subject.server.log();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }
}

/// Commands of [`Pair::reset`] on the control connection, each of which
/// must answer a status.
fn all_ok(side: &mut Side, commands: &[Vec<&[u8]>]) -> Result<(), String> {
    for reply in side.ctl_pipeline(commands)? {
        if !matches!(reply, Frame::Simple(_)) {
            return Err(format!("{}: reset: {reply:?}", side.name()));
        }
    }
    Ok(())
}

/// Ends the connections of the last sequence from the server's side, so
/// they are gone before the next command (closing them from ours would
/// leave them in CLIENT LIST until the server noticed), and checks that
/// only the control connection is left.
fn kill_other_clients(side: &mut Side) -> Result<(), String> {
    let replies = side.ctl_pipeline(&[
        vec![b"CLIENT", b"KILL", b"TYPE", b"normal", b"SKIPME", b"yes"],
        vec![b"CLIENT", b"KILL", b"TYPE", b"pubsub", b"SKIPME", b"yes"],
        vec![b"CLIENT", b"LIST"],
    ])?;
    match &replies[2] {
        Frame::Bulk(text)
            if text
                .split(|&b| b == b'\n')
                .filter(|l| !l.is_empty())
                .count()
                == 1 =>
        {
            side.conns.iter_mut().for_each(|c| *c = None);
            Ok(())
        }
        other => Err(format!(
            "{}: clients left after CLIENT KILL: {other:?}",
            side.name()
        )),
    }
}

struct Run<'a> {
    pair: &'a mut Pair,
    steps: &'a [Step],
    conns: Vec<ConnState>,
    events: Vec<Event>,
}

/// A difference found at `step`.
fn differ(step: usize, signature: String, detail: String) -> Failure {
    Failure {
        step,
        signature,
        detail,
    }
}

/// The command's name for signatures and messages, lower case.
fn command_name(args: &[Vec<u8>]) -> String {
    args.first()
        .map(|a| String::from_utf8_lossy(a).to_ascii_lowercase())
        .unwrap_or_default()
}

pub fn show_args(args: &[Vec<u8>]) -> String {
    args.iter()
        .map(|a| format!("\"{}\"", escape(a)))
        .collect::<Vec<_>>()
        .join(" ")
}

impl Run<'_> {
    fn all(&mut self) -> Result<(), Failure> {
        for index in 0..self.steps.len() {
            self.step(index)?;
            if self.someone_waits() {
                self.settle(index)?;
            }
        }
        self.compare_data(Dataset::Built)?;
        self.compare_replay()
    }

    /// Closes the subject's connections, has it load its AOF back in place
    /// of its dataset, and compares that with the reference's (see the
    /// module comment). Nothing when the subject keeps no AOF.
    fn compare_replay(&mut self) -> Result<(), Failure> {
        let at = self.steps.len();
        let subject = &mut self.pair.subject;
        let aof_on = subject
            .info_field("persistence", "aof_enabled")
            .map_err(|e| self.broken(at, e))?;
        if aof_on.as_deref() != Some("1") {
            return Ok(());
        }
        kill_other_clients(&mut self.pair.subject).map_err(|e| self.broken(at, e))?;
        let loaded = self.pair.subject.ctl(&[b"DEBUG", b"LOADAOF"]);
        if !matches!(&loaded, Ok(Frame::Simple(ok)) if ok == b"OK") {
            let crashed = self.pair.subject.server.exit_status().is_some();
            let reply = match &loaded {
                Ok(frame) => show(frame),
                Err(e) => e.clone(),
            };
            let signature = if crashed { "aof:crash" } else { "aof:load" };
            return Err(differ(
                at,
                signature.into(),
                format!("DEBUG LOADAOF on the server under test answered {reply}"),
            ));
        }
        let limits_moved = limits_moved(self.steps);
        self.compare_data(Dataset::Replayed { limits_moved })
    }

    fn someone_waits(&self) -> bool {
        self.conns.iter().any(|c| {
            !c.outstanding.is_empty()
                || c.monitor.is_some()
                || c.subscribing
                || c.stashed_pushes.iter().any(|p| !p.is_empty())
        })
    }

    /// An error that is the harness's, not a difference; reported as one
    /// anyway, so that it is seen.
    fn broken(&self, step: usize, e: String) -> Failure {
        let signature = if self.pair.subject.server.exit_status().is_some() {
            "crash".to_string()
        } else if e.contains("no complete reply") {
            let name = self.steps.get(step).map(|s| command_name(&s.args));
            format!("hang:{}", name.unwrap_or_default())
        } else {
            "harness".to_string()
        };
        differ(step, signature, e)
    }

    fn step(&mut self, index: usize) -> Result<(), Failure> {
        let step = &self.steps[index];
        let conn = step.conn;
        if self.conns[conn].closed {
            for side in self.pair.sides() {
                side.connect(conn)
                    .map_err(|e| differ(index, "harness".into(), e))?;
            }
            self.conns[conn] = ConnState::default();
            self.events.push(Event::Reconnected { conn });
        }
        let (replied, mode) = self.conns[conn].replies.apply(&step.args);
        self.conns[conn].replies = mode;
        if SUBSCRIBING.contains(&command_name(&step.args).as_str()) {
            self.conns[conn].subscribing = true;
            self.conns[conn].outstanding.clear();
        }
        for side in self.pair.sides() {
            let args = side
                .substitute(&step.args)
                .map_err(|e| differ(index, "harness".into(), e))?;
            if let Some(client) = side.conns[conn].as_mut() {
                // A connection the server closed may fail here or at the
                // read; both are seen when its replies are collected.
                let _ = client.send(&args);
            }
        }
        if replied && !self.conns[conn].subscribing {
            self.conns[conn].outstanding.push_back(index);
        }
        // A transaction opened or closed with its reply switched off
        // (CLIENT REPLY SKIP) is followed all the same, so EXEC's array is
        // still compared element by element.
        if !replied && step.args.len() == 1 {
            let state = &mut self.conns[conn];
            match command_name(&step.args).as_str() {
                "multi" if state.queued.is_none() => state.queued = Some(Vec::new()),
                "exec" | "discard" => state.queued = None,
                _ => {}
            }
        }
        // A reply is read at once unless the command may block: a blocking
        // command outside a transaction (inside, it is only queued, and
        // EXEC runs it without blocking), unless its timeout is short, so
        // that both servers answer it before anything else happens. And
        // not behind a reply still owed on the same connection.
        let state = &mut self.conns[conn];
        let may_block = step.timeout.is_some_and(|t| t != Timeout::Short) && state.queued.is_none();
        let awaited =
            replied && !may_block && !state.silently_blocked && state.outstanding.len() == 1;
        if may_block && !replied {
            state.silently_blocked = true;
        }
        self.events.push(Event::Sent {
            step: index,
            awaited,
        });
        if awaited {
            self.await_next(conn, index)
        } else {
            self.settle(index)
        }
    }

    /// Reads the next reply owed on `conn` from both servers and compares
    /// it; `index` is the step being run, for messages.
    fn await_next(&mut self, conn: usize, index: usize) -> Result<(), Failure> {
        let mut outcomes = Vec::with_capacity(2);
        let mut error = None;
        let subscribing = self.conns[conn].subscribing;
        let stashed = &mut self.conns[conn].stashed_pushes;
        for (which, side) in self.pair.sides().into_iter().enumerate() {
            let outcome = match side.conns[conn].as_mut() {
                None => Err(true),
                Some(client) => match read_past_pushes(client, &mut stashed[which], subscribing) {
                    Ok(frame) => Ok(frame),
                    Err(e) if closed(&e) => Err(true),
                    Err(e) => {
                        error = Some(format!("{}: {e}", side.name()));
                        break;
                    }
                },
            };
            if outcome.is_err() {
                side.conns[conn] = None;
            }
            outcomes.push(outcome);
        }
        if let Some(e) = error {
            return Err(self.broken(index, e));
        }
        let owner = self.conns[conn].outstanding.pop_front().unwrap_or(index);
        match (&outcomes[0], &outcomes[1]) {
            (Ok(expected), Ok(actual)) => self.compare(owner, expected, actual),
            (Err(_), Err(_)) => {
                self.conns[conn].closed = true;
                self.conns[conn].outstanding.clear();
                Ok(())
            }
            _ => Err(self.closed_on_one(owner, &outcomes[0], &outcomes[1])),
        }
    }

    fn closed_on_one(
        &self,
        index: usize,
        expected: &Result<Frame, bool>,
        actual: &Result<Frame, bool>,
    ) -> Failure {
        let show = |r: &Result<Frame, bool>| match r {
            Ok(frame) => show(frame),
            Err(_) => "<connection closed>".to_string(),
        };
        let signature = if self.pair.subject.server.exit_status().is_some() {
            "crash".to_string()
        } else {
            format!("closed:{}", command_name(&self.steps[index].args))
        };
        differ(
            index,
            signature,
            format!(
                "{}\n  expected: {}\n  actual:   {}",
                show_args(&self.steps[index].args),
                show(expected),
                show(actual)
            ),
        )
    }

    /// Waits until both servers have sent every reply they owe (see the
    /// module comment), then compares what each connection received.
    fn settle(&mut self, index: usize) -> Result<(), Failure> {
        loop {
            self.collect(index)?;
            // A command with a short timeout that is now at the front of
            // its connection (what was blocked before it has answered) is
            // running, and times out within milliseconds: wait for it on
            // both servers, then look again, since what was queued behind
            // it runs next.
            let started: Vec<usize> = (0..CONNS)
                .filter(|&conn| {
                    let state = &self.conns[conn];
                    !state.silently_blocked
                        && state
                            .outstanding
                            .front()
                            .is_some_and(|&s| self.steps[s].timeout == Some(Timeout::Short))
                })
                .collect();
            if started.is_empty() {
                return Ok(());
            }
            for conn in started {
                self.events.push(Event::Replies {
                    conn,
                    count: 1,
                    masked: false,
                });
                self.await_next(conn, index)?;
            }
        }
    }

    /// The barrier, then whatever each connection has received.
    fn collect(&mut self, index: usize) -> Result<(), Failure> {
        self.pair.barrier().map_err(|e| self.broken(index, e))?;
        for conn in 0..CONNS {
            let (mut expected, mut ref_closed) = self
                .pair
                .reference
                .drain(conn)
                .map_err(|e| self.broken(index, e))?;
            let (mut actual, mut sub_closed) = self
                .pair
                .subject
                .drain(conn)
                .map_err(|e| self.broken(index, e))?;
            let [ref_pushes, sub_pushes] = std::mem::take(&mut self.conns[conn].stashed_pushes);
            expected.splice(0..0, ref_pushes);
            actual.splice(0..0, sub_pushes);
            // The control connection's own commands (the barrier's PINGs)
            // are left out: within one pass of a server's loop, whether
            // they or a step's command run first is the server's choice.
            let ref_ctl = self.pair.reference.ctl.local_port();
            let sub_ctl = self.pair.subject.ctl.local_port();
            let state = &mut self.conns[conn];
            let steps = self.steps;
            if state.monitor.is_none()
                && state
                    .outstanding
                    .iter()
                    .any(|&s| command_name(&steps[s].args) == "monitor")
            {
                state.monitor = Some(Feeds {
                    tentative: true,
                    ..Feeds::default()
                });
            }
            if let Some(feeds) = self.conns[conn].monitor.as_mut() {
                feeds
                    .reference
                    .extend(take_feed_lines(&mut expected, ref_ctl));
                feeds.subject.extend(take_feed_lines(&mut actual, sub_ctl));
                self.compare_feeds(conn, index)?;
            }
            if self.conns[conn].subscribing {
                self.compare_pushes(conn, index, expected, actual, ref_closed, sub_closed)?;
                continue;
            }
            // A command with a short timeout that started while the
            // barrier ran may have timed out on one server and not yet on
            // the other, and so may what was queued behind it: wait for
            // the other's replies, when a short timeout comes before them.
            while expected.len() != actual.len()
                && !ref_closed
                && !sub_closed
                && !self.conns[conn].silently_blocked
            {
                let behind = expected.len().min(actual.len());
                let timed = self.conns[conn]
                    .outstanding
                    .iter()
                    .take(behind + 1)
                    .any(|&s| self.steps[s].timeout == Some(Timeout::Short));
                if !timed {
                    break;
                }
                let (side, replies, closed) = if expected.len() < actual.len() {
                    (&mut self.pair.reference, &mut expected, &mut ref_closed)
                } else {
                    (&mut self.pair.subject, &mut actual, &mut sub_closed)
                };
                match side.next_reply(conn) {
                    Ok(Some(reply)) => replies.push(reply),
                    Ok(None) => *closed = true,
                    Err(e) => return Err(self.broken(index, e)),
                }
            }
            if expected.len() != actual.len() || ref_closed != sub_closed {
                let waiting = self.conns[conn]
                    .outstanding
                    .front()
                    .copied()
                    .unwrap_or(index);
                return Err(self.received_differently(
                    index,
                    format!("connection {conn} received different replies"),
                    (&expected, ref_closed),
                    (&actual, sub_closed),
                    format!("wake:{}", command_name(&self.steps[waiting].args)),
                ));
            }
            let count = expected.len();
            // A RESP3 connection takes pushes out wherever they fall, and
            // where Redis puts an invalidation for the client running the
            // command (another tracking client's redirect target) depends
            // on whether that command replies before or after it signals
            // the key: pushes are compared apart, as a multiset.
            let (expected, expected_pushes) = split_pushes(expected);
            let (actual, actual_pushes) = split_pushes(actual);
            if expected_pushes != actual_pushes {
                let detail = format!(
                    "connection {conn} received different pushes (in any order)\n  expected: {}\n  actual:   {}",
                    show_frames(&expected_pushes),
                    show_frames(&actual_pushes)
                );
                return Err(differ(index, "pushes".into(), detail));
            }
            // Events for the script: a step whose own reply is read here
            // was sent with `~noreply`; its reply is read on its connection.
            if count > 0 {
                self.events.push(Event::Replies {
                    conn,
                    count,
                    masked: false,
                });
            }
            for (e, a) in expected.iter().zip(&actual) {
                let owner = self.conns[conn].outstanding.pop_front();
                match owner {
                    Some(step) => self.compare(step, e, a)?,
                    None if e == a => {}
                    None => {
                        let detail = format!(
                            "connection {conn} received an unexpected reply\n  expected: {}\n  actual:   {}",
                            show(e),
                            show(a)
                        );
                        return Err(differ(index, "unexpected".into(), detail));
                    }
                }
            }
            if ref_closed {
                self.conns[conn].closed = true;
                self.conns[conn].outstanding.clear();
            }
        }
        Ok(())
    }

    /// A difference in what a connection received (each side's frames,
    /// and whether it then closed): `signature` names it, unless the server
    /// under test has crashed.
    fn received_differently(
        &self,
        index: usize,
        what: String,
        (expected, ref_closed): (&[Frame], bool),
        (actual, sub_closed): (&[Frame], bool),
        signature: String,
    ) -> Failure {
        let closed = |c: bool| if c { " then closed" } else { "" };
        let detail = format!(
            "after {}: {what}\n  expected: {}{}\n  actual:   {}{}",
            show_args(&self.steps[index].args),
            show_frames(expected),
            closed(ref_closed),
            show_frames(actual),
            closed(sub_closed),
        );
        let signature = if self.pair.subject.server.exit_status().is_some() {
            "crash".to_string()
        } else {
            signature
        };
        differ(index, signature, detail)
    }

    /// Compares what a subscribing connection received (see
    /// `ConnState::subscribing`) as a multiset of frames.
    fn compare_pushes(
        &mut self,
        conn: usize,
        index: usize,
        mut expected: Vec<Frame>,
        mut actual: Vec<Frame>,
        ref_closed: bool,
        sub_closed: bool,
    ) -> Result<(), Failure> {
        // One server's frames may not be readable yet when the barrier's
        // answer is (rarely, on a loaded machine): look again a few
        // times before calling it a difference.
        let (mut ref_closed, mut sub_closed) = (ref_closed, sub_closed);
        for round in 0..5 {
            if expected.len() == actual.len() || ref_closed || sub_closed {
                break;
            }
            let late = if expected.len() < actual.len() {
                self.pair.reference.server.name.clone()
            } else {
                self.pair.subject.server.name.clone()
            };
            eprintln!(
                "note: step {index}: {late}'s frames on subscribed connection {conn} were late (look {})",
                round + 1
            );
            self.pair.barrier().map_err(|e| self.broken(index, e))?;
            let (more, closed) = self
                .pair
                .reference
                .drain(conn)
                .map_err(|e| self.broken(index, e))?;
            expected.extend(more);
            ref_closed |= closed;
            let (more, closed) = self
                .pair
                .subject
                .drain(conn)
                .map_err(|e| self.broken(index, e))?;
            actual.extend(more);
            sub_closed |= closed;
        }
        let sorted = |frames: &mut Vec<Frame>| frames.sort_by_cached_key(Frame::to_bytes);
        sorted(&mut expected);
        sorted(&mut actual);
        let interleaved = interleaved(&expected) || interleaved(&actual);
        if push_parts(&expected, interleaved) != push_parts(&actual, interleaved)
            || ref_closed != sub_closed
        {
            return Err(self.received_differently(
                index,
                format!("subscribed connection {conn} received different frames (in any order)"),
                (&expected, ref_closed),
                (&actual, sub_closed),
                format!("pubsub:{}", command_name(&self.steps[index].args)),
            ));
        }
        if !expected.is_empty() {
            self.events.push(Event::Replies {
                conn,
                count: expected.len(),
                masked: false,
            });
        }
        if ref_closed {
            self.conns[conn].closed = true;
        }
        Ok(())
    }

    /// Compares the MONITOR feed lines both servers have sent, in order,
    /// digits masked (timestamps, ports). The feed line of the barrier's
    /// last PING may still be on its way from one server, so lines one
    /// server has sent and the other not yet wait for the next look.
    fn compare_feeds(&mut self, conn: usize, index: usize) -> Result<(), Failure> {
        let Some(feeds) = self.conns[conn].monitor.as_mut() else {
            return Ok(());
        };
        while let (Some(e), Some(a)) = (feeds.reference.front(), feeds.subject.front()) {
            if mask_digits(&e.to_bytes()) != mask_digits(&a.to_bytes()) {
                let detail = format!(
                    "after {}: MONITOR on connection {conn} fed different lines\n  expected: {}\n  actual:   {}",
                    show_args(&self.steps[index].args),
                    show(e),
                    show(a)
                );
                return Err(differ(index, "monitor".into(), detail));
            }
            feeds.reference.pop_front();
            feeds.subject.pop_front();
            self.events.push(Event::Replies {
                conn,
                count: 1,
                masked: true,
            });
        }
        Ok(())
    }

    /// Compares one step's replies, keeping the transaction bookkeeping.
    fn compare(&mut self, index: usize, expected: &Frame, actual: &Frame) -> Result<(), Failure> {
        let step = &self.steps[index];
        let conn = step.conn;
        let name = command_name(&step.args);
        let queued =
            self.conns[conn].queued.is_some() && *expected == Frame::Simple(b"QUEUED".to_vec());
        let agree = match name.as_str() {
            "exec" if self.conns[conn].queued.is_some() => {
                let queued_steps = self.conns[conn].queued.take().unwrap_or_default();
                self.compare_exec(index, &queued_steps, expected, actual)?;
                true
            }
            _ => step.norm.agree(expected, actual) || self.usage_is_sampled(index, expected)?,
        };
        if !agree {
            let norm = &self.steps[index].norm;
            return Err(self.reply_failure(index, norm, expected, actual));
        }
        let ok = *expected == Frame::Simple(b"OK".to_vec());
        match name.as_str() {
            "monitor" if ok => {
                let feeds = self.conns[conn].monitor.get_or_insert_with(Feeds::default);
                feeds.tentative = false;
            }
            "monitor"
                if self.conns[conn]
                    .monitor
                    .as_ref()
                    .is_some_and(|f| f.tentative) =>
            {
                self.conns[conn].monitor = None;
            }
            "multi" if ok => self.conns[conn].queued = Some(Vec::new()),
            "discard" if ok => self.conns[conn].queued = None,
            "reset" if *expected == Frame::Simple(b"RESET".to_vec()) => {
                self.conns[conn].queued = None;
                self.conns[conn].monitor = None;
            }
            _ if queued => {
                if let Some(q) = self.conns[conn].queued.as_mut() {
                    q.push(index);
                }
            }
            _ => {}
        }
        if step.norm == Norm::Pop {
            self.same_pops(index, expected, actual)?;
        }
        Ok(())
    }

    /// EXEC's array, each element under its queued command's rule.
    fn compare_exec(
        &mut self,
        index: usize,
        queued: &[usize],
        expected: &Frame,
        actual: &Frame,
    ) -> Result<(), Failure> {
        match (expected, actual) {
            (Frame::Array(e), Frame::Array(a)) if e.len() == queued.len() && a.len() == e.len() => {
                for ((&step, e), a) in queued.iter().zip(e).zip(a) {
                    if !self.steps[step].norm.agree(e, a) && !self.usage_is_sampled(step, e)? {
                        let norm = &self.steps[step].norm;
                        return Err(self.reply_failure(index, norm, expected, actual));
                    }
                    if self.steps[step].norm == Norm::Pop {
                        self.same_pops(step, e, a)?;
                    }
                }
                Ok(())
            }
            _ if expected == actual => Ok(()),
            _ => Err(self.reply_failure(index, &Norm::Exact, expected, actual)),
        }
    }

    /// For a MEMORY USAGE step whose replies differ: whether redis-server
    /// holds the key in an encoding whose figure it samples (see
    /// `Norm::MemoryUsage`). Both servers are asked alike, so their control
    /// connections stay alike.
    fn usage_is_sampled(&mut self, index: usize, expected: &Frame) -> Result<bool, Failure> {
        let steps = self.steps;
        let step = &steps[index];
        let (Norm::MemoryUsage, Frame::Integer(_), Some(key)) =
            (&step.norm, expected, step.args.get(2))
        else {
            return Ok(false);
        };
        let mut encodings = Vec::new();
        for side in self.pair.sides() {
            let db = side
                .id_of(step.conn)
                .and_then(|id| database_of(side, &id))
                .map_err(|e| differ(index, "harness".into(), e))?;
            let replies = side
                .ctl_pipeline(&[
                    vec![b"SELECT", db.as_bytes()],
                    vec![b"OBJECT", b"ENCODING", key],
                    vec![b"SELECT", b"0"],
                ])
                .map_err(|e| differ(index, "harness".into(), e))?;
            encodings.push(replies[1].clone());
        }
        // A key gone by now was measured inside a transaction and then
        // removed (a waiter served after EXEC popped it): its encoding then
        // is unknown, so its figure is not held against the server.
        Ok(match &encodings[0] {
            // A skiplist's figure depends on its nodes' random levels, a
            // stream's on its radix tree's internal nodes.
            Frame::Bulk(e) => {
                e == b"hashtable" || e == b"quicklist" || e == b"skiplist" || e == b"stream"
            }
            _ => true,
        })
    }

    fn reply_failure(
        &self,
        index: usize,
        norm: &Norm,
        expected: &Frame,
        actual: &Frame,
    ) -> Failure {
        let step = &self.steps[index];
        differ(
            index,
            format!("reply:{}", command_name(&step.args)),
            format!(
                "{} (compared as {norm:?})\n  expected: {}\n  actual:   {}",
                show_args(&step.args),
                show(expected),
                show(actual)
            ),
        )
    }

    /// After SPOP, makes both servers hold the set the reference left:
    /// each puts back what either popped, then both remove what the
    /// reference popped. The same commands go to both, so nothing else
    /// (WATCH, the slow log) sees a difference.
    fn same_pops(&mut self, index: usize, expected: &Frame, actual: &Frame) -> Result<(), Failure> {
        let members = |frame: &Frame| -> Vec<Vec<u8>> {
            let mut m: Vec<Vec<u8>> = match frame {
                Frame::Bulk(b) => vec![b.clone()],
                Frame::Array(items) | Frame::Set(items) => items
                    .iter()
                    .filter_map(|f| match f {
                        Frame::Bulk(b) => Some(b.clone()),
                        _ => None,
                    })
                    .collect(),
                _ => Vec::new(),
            };
            m.sort();
            m
        };
        let (by_reference, by_subject) = (members(expected), members(actual));
        if by_reference == by_subject {
            return Ok(());
        }
        let step = &self.steps[index];
        let key = step.args.get(1).cloned().unwrap_or_default();
        let mut either = by_reference.clone();
        either.extend(by_subject.iter().cloned());
        either.sort();
        either.dedup();
        let conn = step.conn;
        for side in self.pair.sides() {
            let db = side
                .id_of(conn)
                .and_then(|id| database_of(side, &id))
                .map_err(|e| differ(index, "harness".into(), e))?;
            let mut sadd: Vec<&[u8]> = vec![b"SADD", &key];
            sadd.extend(either.iter().map(Vec::as_slice));
            let mut srem: Vec<&[u8]> = vec![b"SREM", &key];
            srem.extend(by_reference.iter().map(Vec::as_slice));
            for args in [
                vec![b"SELECT" as &[u8], db.as_bytes()],
                sadd,
                srem,
                vec![b"SELECT", b"0"],
            ] {
                side.ctl(&args)
                    .map_err(|e| differ(index, "harness".into(), e))?;
            }
        }
        Ok(())
    }

    /// The whole dataset, key by key: type, encoding, TTL and value.
    fn compare_data(&mut self, dataset: Dataset) -> Result<(), Failure> {
        let at = self.steps.len();
        let fail = |what: &str, detail: String| match dataset {
            Dataset::Built => differ(at, format!("data:{what}"), detail),
            Dataset::Replayed { .. } => differ(
                at,
                format!("aof:{what}"),
                format!(
                    "AOF replay: after DEBUG LOADAOF, the server under test's dataset \
                     differs from redis-server's\n{detail}"
                ),
            ),
        };
        // RANDOMKEY deletes the expired keys it happens to pick, a random
        // subset on each server; a full SCAN deletes every expired key on
        // both, so the rest of the dataset can still be compared.
        if self
            .steps
            .iter()
            .any(|s| command_name(&s.args) == "randomkey")
        {
            self.reclaim_expired()?;
        }
        // Which databases hold keys, expired ones included (INFO keyspace
        // counts what the table holds, as DBSIZE does).
        let (e, a) = self.both(&[vec![b"INFO", b"keyspace"]])?;
        let (dbs, actual_dbs) = (databases_in(&e[0]), databases_in(&a[0]));
        if dbs != actual_dbs {
            return Err(fail(
                "keyspace",
                format!(
                    "INFO keyspace\n  expected: {}\n  actual:   {}",
                    show(&e[0]),
                    show(&a[0])
                ),
            ));
        }
        for db in dbs {
            let db_arg = db.to_string();
            let (e, a) = self.both(&[vec![b"SELECT", db_arg.as_bytes()], vec![b"KEYS", b"*"]])?;
            if !Norm::Unordered.agree(&e[1], &a[1]) {
                return Err(fail(
                    "keys",
                    format!(
                        "db {db}: KEYS *\n  expected: {}\n  actual:   {}",
                        show(&e[1]),
                        show(&a[1])
                    ),
                ));
            }
            let Frame::Array(keys) = &e[1] else { continue };
            for key in keys {
                let key = common::expect_bulk(key);
                let (e, a) = self.both(&[
                    vec![b"TYPE", &key],
                    vec![b"OBJECT", b"ENCODING", &key],
                    vec![b"PTTL", &key],
                ])?;
                let value_args: Vec<&[u8]> = match &e[0] {
                    Frame::Simple(t) if t == b"string" => vec![b"GET", &key],
                    Frame::Simple(t) if t == b"list" => vec![b"LRANGE", &key, b"0", b"-1"],
                    Frame::Simple(t) if t == b"hash" => vec![b"HGETALL", &key],
                    Frame::Simple(t) if t == b"set" => vec![b"SMEMBERS", &key],
                    Frame::Simple(t) if t == b"zset" => {
                        vec![b"ZRANGE", &key, b"0", b"-1", b"WITHSCORES"]
                    }
                    Frame::Simple(t) if t == b"stream" => vec![b"XRANGE", &key, b"-", b"+"],
                    _ => vec![b"TYPE", &key],
                };
                let (e_val, a_val) = self.both(&[value_args])?;
                // A stream's entries are its value; its groups, consumers
                // and pending entries are compared by XINFO STREAM FULL
                // (COUNT 0: all of them) with the clocks in it blanked
                // (`untimed_stream_reply`), then everything byte for byte
                // by DUMP (the listpack nodes too), clocks zeroed
                // (`untimed_stream_dump`). After a replay, less (see
                // `Dataset::stream_loose`), and DUMP only without groups.
                let is_stream = matches!(&e[0], Frame::Simple(t) if t == b"stream");
                let loose = dataset.stream_loose();
                let (e_stream, a_stream) = if is_stream {
                    self.both(&[
                        vec![b"XINFO", b"STREAM", &key, b"FULL", b"COUNT", b"0"],
                        vec![b"DUMP", &key],
                    ])?
                } else {
                    (Vec::new(), Vec::new())
                };
                // Small encodings keep an order both servers must share.
                let ordered =
                    matches!(&e[1], Frame::Bulk(enc) if enc == b"listpack" || enc == b"intset");
                let encodings_may_differ = dataset.encodings_may_differ(&e[0]);
                let value_norm = match &e[0] {
                    Frame::Simple(t) if t == b"hash" && (!ordered || encodings_may_differ) => {
                        Norm::UnorderedPairs
                    }
                    Frame::Simple(t) if t == b"set" && (!ordered || encodings_may_differ) => {
                        Norm::Unordered
                    }
                    _ => Norm::Exact,
                };
                let encoding_agrees =
                    encodings_may_differ || e[1] == a[1] || dataset.replay_may_encode(&e[1], &a[1]);
                let mut checks = vec![
                    ("type", e[0] == a[0], &e[0], &a[0]),
                    ("encoding", encoding_agrees, &e[1], &a[1]),
                    (
                        "ttl",
                        Norm::Approx(30_000).agree(&e[2], &a[2]),
                        &e[2],
                        &a[2],
                    ),
                    (
                        "value",
                        value_norm.agree(&e_val[0], &a_val[0]),
                        &e_val[0],
                        &a_val[0],
                    ),
                ];
                if is_stream {
                    let untimed = |f| untimed_stream_reply(f, loose);
                    checks.push((
                        "xinfo",
                        untimed(&e_stream[0]) == untimed(&a_stream[0]),
                        &e_stream[0],
                        &a_stream[0],
                    ));
                    let dump = |f: &Frame| match f {
                        Frame::Bulk(p) => untimed_stream_dump(p),
                        _ => None,
                    };
                    let dump_agrees = match loose {
                        StreamLoose::Live => {
                            e_stream[1] == a_stream[1]
                                || dump(&e_stream[1]).is_some_and(|d| Some(d) == dump(&a_stream[1]))
                        }
                        StreamLoose::Replayed { layout_may_differ } => {
                            let groups = norm::field_of(&e_stream[0], b"groups");
                            let grouped = !matches!(groups, Some(Frame::Array(g)) if g.is_empty());
                            layout_may_differ || grouped || e_stream[1] == a_stream[1]
                        }
                    };
                    checks.push(("dump", dump_agrees, &e_stream[1], &a_stream[1]));
                }
                for (what, agree, e, a) in checks {
                    if !agree {
                        return Err(fail(
                            what,
                            format!(
                                "db {db}, key \"{}\": {what} differs\n  expected: {}\n  actual:   {}",
                                escape(&key),
                                show(e),
                                show(a)
                            ),
                        ));
                    }
                }
            }
        }
        // Last, the whole dataset's digest, which sees every value exactly
        // (not its encoding, a stream's groups or a deadline's time): it
        // checks DEBUG DIGEST itself, and anything the key by key
        // comparison above let pass.
        let (e, a) = self.both(&[vec![b"SELECT", b"0"], vec![b"DEBUG", b"DIGEST"]])?;
        if e[1] != a[1] {
            return Err(fail(
                "digest",
                format!(
                    "DEBUG DIGEST differs though every key agrees\n  expected: {}\n  actual:   {}",
                    show(&e[1]),
                    show(&a[1])
                ),
            ));
        }
        Ok(())
    }

    /// Walks every database with SCAN on both servers, which deletes the
    /// expired keys it meets.
    fn reclaim_expired(&mut self) -> Result<(), Failure> {
        let at = self.steps.len();
        let (e, a) = self.both(&[vec![b"INFO", b"keyspace"]])?;
        let mut dbs = databases_in(&e[0]);
        dbs.extend(databases_in(&a[0]));
        dbs.sort_unstable();
        dbs.dedup();
        for side in self.pair.sides() {
            for &db in &dbs {
                let db_arg = db.to_string();
                side.ctl(&[b"SELECT", db_arg.as_bytes()])
                    .map_err(|e| differ(at, "harness".into(), e))?;
                let mut cursor = b"0".to_vec();
                loop {
                    let reply = side
                        .ctl(&[b"SCAN", &cursor, b"COUNT", b"1000"])
                        .map_err(|e| differ(at, "harness".into(), e))?;
                    cursor = match &reply {
                        Frame::Array(parts) if !parts.is_empty() => common::expect_bulk(&parts[0]),
                        other => {
                            return Err(differ(
                                at,
                                "harness".into(),
                                format!("SCAN answered {other:?}"),
                            ));
                        }
                    };
                    if cursor == b"0" {
                        break;
                    }
                }
            }
            side.ctl(&[b"SELECT", b"0"])
                .map_err(|e| differ(at, "harness".into(), e))?;
        }
        Ok(())
    }

    /// Commands on both control connections; both sides' replies.
    fn both(&mut self, commands: &[Vec<&[u8]>]) -> Result<(Vec<Frame>, Vec<Frame>), Failure> {
        let at = self.steps.len();
        let e = self
            .pair
            .reference
            .ctl_pipeline(commands)
            .map_err(|e| self.broken(at, e))?;
        let a = self
            .pair
            .subject
            .ctl_pipeline(commands)
            .map_err(|e| self.broken(at, e))?;
        Ok((e, a))
    }
}

/// Which dataset of the server under test [`Run::compare_data`] compares
/// with the reference's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Dataset {
    /// The one the sequence built.
    Built,
    /// The one `DEBUG LOADAOF` rebuilt from the AOF. The file holds the
    /// commands, not the configuration they ran under: the replay runs
    /// them all under the sequence's last encoding limits, so when the
    /// sequence moved a limit after its first command (`limits_moved`), a
    /// hash or set may come back in another encoding (and order), in
    /// Redis too.
    Replayed { limits_moved: bool },
}

impl Dataset {
    /// Whether a key of this type may be encoded differently (see
    /// [`Dataset::Replayed`]).
    fn encodings_may_differ(self, kind: &Frame) -> bool {
        let collection = matches!(kind, Frame::Simple(t) if t == b"hash" || t == b"set");
        // A sorted set that shrank below the listpack limits stays a
        // skiplist, and loads as a listpack, in Redis too.
        let zset = matches!(kind, Frame::Simple(t) if t == b"zset");
        match self {
            Dataset::Replayed { limits_moved } => zset || (limits_moved && collection),
            _ => false,
        }
    }

    /// How loosely a stream is compared (see `norm::StreamLoose`). After
    /// a replay:
    ///
    /// - Its nodes may be cut at other entries than the reference's, when
    ///   the replay ran under other node limits than the entries were
    ///   added under (`limits_moved`): their number is not compared.
    /// - Its groups' `entries-read` (and `lag`, which follows from it) may
    ///   differ: Redis 7.0 propagates XREADGROUP as XCLAIM ... LASTID,
    ///   which moves the group's last ID but not its count of entries
    ///   read, so its own AOF replays to another count (a group created
    ///   with ENTRIESREAD 2 and read by XREADGROUP counts 3 live, 2
    ///   replayed; seed 5 of redis-server against itself).
    /// - A consumer without pending entries may be missing: Redis 7.0
    ///   propagates nothing for an XREADGROUP that delivers nothing (a
    ///   read of history past the end, seeds 5 and 6), though it created
    ///   its consumer.
    /// - A pending entry's delivery count may differ: Redis 7.0 propagates
    ///   each delivery as an XCLAIM with the count, and an XREADGROUP that
    ///   names one key twice (`k0 k0 > 2-1`, delivering an entry twice)
    ///   replays to a count of 1 where it counts 2 live (seed 8).
    ///
    /// All of them are compared exactly in the live dataset and in every
    /// reply.
    fn stream_loose(self) -> StreamLoose {
        match self {
            Dataset::Built => StreamLoose::Live,
            Dataset::Replayed { limits_moved } => StreamLoose::Replayed {
                layout_may_differ: limits_moved,
            },
        }
    }

    /// Whether the replay may hold a string as `actual` where the live
    /// reference holds it as `expected`: INCRBYFLOAT keeps its result as a
    /// string (`embstr`) and replays as SET, which stores one that reads
    /// as an integer as an integer, in Redis too.
    fn replay_may_encode(self, expected: &Frame, actual: &Frame) -> bool {
        let is = |frame: &Frame, encoding: &[u8]| matches!(frame, Frame::Bulk(e) if e == encoding);
        matches!(self, Dataset::Replayed { .. }) && is(expected, b"embstr") && is(actual, b"int")
    }
}

/// Whether the sequence changed the configuration after its setup (the
/// HELLO and CONFIG SET steps it starts with): see [`Dataset::Replayed`].
fn limits_moved(steps: &[Step]) -> bool {
    let setup = steps
        .iter()
        .take_while(|s| matches!(command_name(&s.args).as_str(), "hello" | "config"))
        .count();
    steps[setup..]
        .iter()
        .any(|s| command_name(&s.args) == "config")
}

/// Frames as a multiset, with a (un)subscribe confirmation's count taken
/// apart from its name: an unsubscribe from everything confirms each name
/// with the count left after it, in hash order, so only the multisets of
/// names and of counts are the same on both servers.
///
/// A push may also arrive in the middle of the connection's own reply:
/// Redis publishes a command's keyspace events (and so a subscribed RESP3
/// client's own) as they happen, between the elements of its reply, and
/// ferrokv gathers them after the command, in front of the reply. RESP3
/// clients take pushes out wherever they are, so when a push is found
/// inside an aggregate (where the reader took it for an element) on
/// either server, every reply is compared as its headers and scalars, the
/// pushes whole.
fn push_parts(frames: &[Frame], interleaved: bool) -> Vec<Vec<u8>> {
    let mut parts = Vec::new();
    for frame in frames {
        if interleaved && !matches!(frame, Frame::Push(_)) {
            flatten(frame, &mut parts);
            continue;
        }
        match frame {
            Frame::Array(items) | Frame::Push(items)
                if items.len() == 3
                    && matches!(&items[0], Frame::Bulk(w) if w.ends_with(b"subscribe"))
                    && matches!(items[2], Frame::Integer(_)) =>
            {
                parts.push([items[0].to_bytes(), items[1].to_bytes()].concat());
                parts.push(items[2].to_bytes());
            }
            other => parts.push(other.to_bytes()),
        }
    }
    parts.sort();
    parts
}

/// The frames other than top-level pushes, in order, and the pushes,
/// sorted.
fn split_pushes(frames: Vec<Frame>) -> (Vec<Frame>, Vec<Frame>) {
    let (mut pushes, others): (Vec<Frame>, Vec<Frame>) = frames
        .into_iter()
        .partition(|f| matches!(f, Frame::Push(_)));
    pushes.sort_by_cached_key(Frame::to_bytes);
    (others, pushes)
}

/// Whether a push arrived inside a reply (see [`push_parts`]).
fn interleaved(frames: &[Frame]) -> bool {
    frames
        .iter()
        .any(|f| !matches!(f, Frame::Push(_)) && holds_push(f))
}

/// Whether a push is nested anywhere inside `frame`.
fn holds_push(frame: &Frame) -> bool {
    match frame {
        Frame::Push(_) => true,
        Frame::Array(items) | Frame::Set(items) => items.iter().any(holds_push),
        Frame::Map(pairs) => pairs.iter().any(|(k, v)| holds_push(k) || holds_push(v)),
        _ => false,
    }
}

/// An aggregate holding a push, as parts: each push whole, and the rest as
/// its headers and scalars (see [`push_parts`]).
fn flatten(frame: &Frame, parts: &mut Vec<Vec<u8>>) {
    match frame {
        Frame::Push(_) => parts.push(frame.to_bytes()),
        Frame::Array(items) => {
            parts.push(format!("*{}", items.len()).into_bytes());
            items.iter().for_each(|f| flatten(f, parts));
        }
        Frame::Set(items) => {
            parts.push(format!("~{}", items.len()).into_bytes());
            items.iter().for_each(|f| flatten(f, parts));
        }
        Frame::Map(pairs) => {
            parts.push(format!("%{}", pairs.len()).into_bytes());
            for (k, v) in pairs {
                flatten(k, parts);
                flatten(v, parts);
            }
        }
        other => parts.push(other.to_bytes()),
    }
}

/// The database numbers INFO keyspace lists (`db3:keys=...`).
fn databases_in(info: &Frame) -> Vec<usize> {
    let text = match info {
        Frame::Bulk(t) => t.as_slice(),
        Frame::Verbatim(t) => t.get(4..).unwrap_or_default(),
        _ => return Vec::new(),
    };
    text.split(|&b| b == b'\n')
        .filter_map(|line| {
            let rest = line.strip_prefix(b"db")?;
            let end = rest.iter().position(|&b| b == b':')?;
            std::str::from_utf8(&rest[..end]).ok()?.parse().ok()
        })
        .collect()
}

/// The database a client is in, from CLIENT LIST ID.
fn database_of(side: &mut Side, id: &[u8]) -> Result<String, String> {
    let text = match side.ctl(&[b"CLIENT", b"LIST", b"ID", id])? {
        Frame::Bulk(text) => String::from_utf8_lossy(&text).into_owned(),
        other => return Err(format!("CLIENT LIST ID answered {other:?}")),
    };
    text.split(' ')
        .find_map(|field| field.strip_prefix("db="))
        .map(str::to_string)
        .ok_or_else(|| format!("no db= in \"{text}\""))
}

fn show_frames(frames: &[Frame]) -> String {
    let shown: Vec<String> = frames.iter().map(show).collect();
    format!("[{}]", shown.join(", "))
}

/// A reply for a message: escaped, quoted, cut when long.
fn show(frame: &Frame) -> String {
    const MAX_SHOWN_CHARS: usize = 2000;
    let bytes = frame.to_bytes();
    let escaped = escape(&bytes);
    if escaped.len() <= MAX_SHOWN_CHARS {
        return format!("\"{escaped}\"");
    }
    let mut cut = MAX_SHOWN_CHARS;
    while !escaped.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("\"{}\"... ({} bytes in all)", &escaped[..cut], bytes.len())
}
