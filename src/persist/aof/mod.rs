//! The append-only file, as Redis 7.0 keeps it: a directory
//! (`appenddirname`) holding a manifest, one base file (an RDB file when
//! `aof-use-rdb-preamble` is on, else commands) and incremental files of
//! the commands written since, so redis-server and ferrokv load each
//! other's directories.
//!
//! What goes in is the effects record's propagation (see
//! `crate::effects`): each top-level call's operations, encoded into the
//! AOF buffer as they are flushed, with a SELECT whenever the database
//! changes. The loop writes the buffer once per iteration, before any
//! reply of that iteration is written (`flush`), so under `appendfsync
//! always` a reply leaves only after its write is on disk: one write and
//! one fdatasync per iteration, whatever number of clients wrote. Under
//! `everysec` a helper thread fsyncs about once a second and the loop
//! never waits on it, unless an fsync has been running for two seconds
//! (then the write goes ahead and `aof_delayed_fsync` counts it).
//!
//! A rewrite (BGREWRITEAOF, the automatic one, or turning the AOF on at
//! run time) takes no fork: it opens a new incremental file for the
//! writes that follow, and the snapshot machinery BGSAVE uses
//! (`persist::snapshot`) writes the point-in-time base; when that is on
//! disk the manifest switches to it and the files it replaces are removed.

pub mod format;
pub mod load;

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc::{self, Receiver, Sender};
use std::time::Instant;

use crate::config::Config;
use crate::latency_monitor::Monitor;
use crate::store::Store;
use format::Manifest;

/// Whether the AOF is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Off,
    On,
    /// Turned on at run time: on once the first rewrite has written a base
    /// (Redis's `AOF_WAIT_REWRITE`).
    WaitRewrite,
}

/// `appendfsync`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FsyncPolicy {
    Always,
    EverySec,
    No,
}

impl FsyncPolicy {
    fn from_config(config: &Config) -> FsyncPolicy {
        match config.get("appendfsync") {
            Some("always") => FsyncPolicy::Always,
            Some("no") => FsyncPolicy::No,
            _ => FsyncPolicy::EverySec,
        }
    }
}

/// The commands the loop has yet to write, and what the encoder must
/// remember between them. It lives in the effects record, which feeds it.
#[derive(Debug, Default)]
pub struct Feed {
    /// Whether propagated commands are appended (the AOF is on, or a
    /// rewrite runs for a run-time switch-on).
    pub on: bool,
    pub buf: Vec<u8>,
    /// The database the file saw selected last; `None` forces a SELECT.
    pub selected_db: Option<usize>,
    /// `aof-timestamp-enabled`: a `#TS:` line whenever the second moves.
    pub timestamps: bool,
    pub last_timestamp_s: u64,
    /// The running top-level call's operations so far, already in `buf`,
    /// and where the first of them starts (after its SELECT): a call that
    /// propagates more than one is wrapped in MULTI/EXEC when it ends.
    staged: usize,
    first_at: usize,
}

impl Feed {
    /// Appends one operation of the running call, behind a SELECT when its
    /// database is not the one last selected (Redis's
    /// `feedAppendOnlyFile`).
    pub fn stage<A: AsRef<[u8]>>(&mut self, db: usize, argv: &[A]) {
        if self.timestamps {
            let now_s = crate::store::unix_ms() / 1000;
            if now_s > self.last_timestamp_s {
                self.last_timestamp_s = now_s;
                format::put_timestamp(&mut self.buf, now_s);
            }
        }
        if self.selected_db != Some(db) {
            format::put_select(&mut self.buf, db);
            self.selected_db = Some(db);
        }
        if self.staged == 0 {
            self.first_at = self.buf.len();
        }
        self.staged += 1;
        format::put_command(&mut self.buf, argv);
    }

    /// Ends the running call: more than one operation is wrapped in
    /// MULTI/EXEC (in the first one's database, after its SELECT) when
    /// `transaction` allows.
    pub fn commit(&mut self, transaction: bool) {
        if transaction && self.staged > 1 {
            let mut multi = Vec::with_capacity(16);
            format::put_command(&mut multi, &[b"MULTI"]);
            let at = self.first_at.min(self.buf.len());
            self.buf.splice(at..at, multi);
            format::put_command(&mut self.buf, &[b"EXEC"]);
        }
        self.staged = 0;
    }

    /// The buffer was written out in the middle of a call (a rewrite that
    /// the call started writes what came before it to the old file): the
    /// rest of the call's operations start the buffer now.
    fn written_out(&mut self) {
        self.first_at = 0;
    }

    /// Drops everything buffered (the AOF was turned off).
    fn discard(&mut self) {
        self.buf = Vec::new();
        self.selected_db = None;
        self.staged = 0;
        self.first_at = 0;
    }
}

/// The fsync helper: fsyncs (and closes) the files it is sent, so the
/// loop never waits for the disk. It shares no state: jobs go over one
/// channel, outcomes come back over another, and a sync the loop holds
/// replies for wakes the loop when it is done.
struct Fsyncer {
    jobs: Sender<Job>,
    done: Receiver<Done>,
    /// `everysec` fsyncs sent and not yet reported done.
    in_flight: usize,
}

enum Job {
    /// `everysec`'s fsync of the current file.
    Fsync(File),
    /// A file the AOF stopped writing: fsync it, then close it.
    FsyncAndClose(File),
    /// `always`: make the first `.1` AOF bytes durable, then wake the loop,
    /// which holds the replies that wait for them.
    SyncTo(File, u64),
}

enum Done {
    Fsync(io::Result<()>),
    Closed(io::Result<()>),
    SyncedTo(u64, io::Result<()>),
}

impl Fsyncer {
    fn start(waker: Option<Arc<mio::Waker>>) -> io::Result<Fsyncer> {
        let (jobs, rx) = mpsc::channel::<Job>();
        let (done_tx, done) = mpsc::channel();
        std::thread::Builder::new()
            .name("ferrokv-aof-fsync".into())
            .spawn(move || {
                for job in rx {
                    // The loop is woken when replies may wait on the job:
                    // an `always` sync, or an fsync a write was put off for.
                    let (outcome, wake) = match job {
                        Job::Fsync(f) => (Done::Fsync(f.sync_data()), true),
                        Job::FsyncAndClose(f) => (Done::Closed(f.sync_data()), false),
                        Job::SyncTo(f, upto) => (Done::SyncedTo(upto, f.sync_data()), true),
                    };
                    if done_tx.send(outcome).is_err() {
                        return;
                    }
                    if wake && let Some(w) = &waker {
                        let _ = w.wake();
                    }
                }
            })?;
        Ok(Fsyncer {
            jobs,
            done,
            in_flight: 0,
        })
    }
}

/// The AOF's state (INFO persistence's `aof_*` fields come from here).
pub struct Aof {
    pub state: State,
    pub policy: FsyncPolicy,
    pub manifest: Manifest,
    /// The incremental file being appended to.
    file: Option<File>,
    /// Its size, and how much of it is known synced.
    incr_size: u64,
    synced_size: u64,
    /// The base and incremental files' total size, and that total when
    /// the last rewrite ended (auto-aof-rewrite-percentage grows from it).
    pub current_size: u64,
    pub rewrite_base_size: u64,
    last_fsync_s: u64,
    /// When a write was first postponed for a running fsync (0: none).
    postponed_since_s: u64,
    pub delayed_fsync: u64,
    /// The last write's error (`aof_last_write_status:err`), or the
    /// helper's last fsync error; either stops writes with -MISCONF.
    pub write_error: Option<String>,
    pub fsync_error: Option<String>,
    last_error_log_s: u64,
    fsyncer: Option<Fsyncer>,
    /// Wakes the loop when a sync it holds replies for is done.
    pub waker: Option<Arc<mio::Waker>>,
    /// AOF bytes written since start-up, over every file, and how many of
    /// them are known on disk (under `always`, replies wait for this).
    written_total: u64,
    synced_total: u64,
    /// An `always` sync is running on the helper.
    sync_in_flight: bool,
    pub rewrite_scheduled: bool,
    /// The rewrite in progress: when it started (the snapshot itself is
    /// `RdbState::snapshot`, marked as the AOF's).
    pub rewrite_started: Option<Instant>,
    pub last_rewrite_ok: bool,
    pub last_rewrite_time_s: i64,
    pub rewrites: u64,
    pub consecutive_failures: u64,
    /// Automatic rewrites after repeated failures wait this long.
    limited_until_s: u64,
    limit_delay_minutes: u64,
    /// The start-up load in progress.
    pub loading: Option<load::Loading>,
}

impl Default for Aof {
    fn default() -> Aof {
        Aof {
            state: State::Off,
            policy: FsyncPolicy::EverySec,
            manifest: Manifest::default(),
            file: None,
            incr_size: 0,
            synced_size: 0,
            current_size: 0,
            rewrite_base_size: 0,
            last_fsync_s: 0,
            postponed_since_s: 0,
            delayed_fsync: 0,
            write_error: None,
            fsync_error: None,
            last_error_log_s: 0,
            fsyncer: None,
            waker: None,
            written_total: 0,
            synced_total: 0,
            sync_in_flight: false,
            rewrite_scheduled: false,
            rewrite_started: None,
            last_rewrite_ok: true,
            last_rewrite_time_s: -1,
            rewrites: 0,
            consecutive_failures: 0,
            limited_until_s: 0,
            limit_delay_minutes: 0,
            loading: None,
        }
    }
}

/// `appenddirname`, in the working directory.
pub fn dir(config: &Config) -> PathBuf {
    PathBuf::from(config.get("appenddirname").unwrap_or("appendonlydir"))
}

/// `appendfilename`: the prefix of every file name in the directory.
pub fn filename(config: &Config) -> String {
    config
        .get("appendfilename")
        .unwrap_or("appendonly.aof")
        .to_string()
}

fn manifest_name(config: &Config) -> String {
    format!("{}.manifest", filename(config))
}

fn temp_incr_name(config: &Config) -> String {
    format!("temp-{}.incr", filename(config))
}

/// The temporary file a rewrite's base is written to, in the working
/// directory (Redis's `temp-rewriteaof-bg-<pid>.aof`).
pub fn rewrite_temp_path() -> PathBuf {
    PathBuf::from(format!("temp-rewriteaof-bg-{}.aof", std::process::id()))
}

fn rdb_preamble(config: &Config) -> bool {
    config.get("aof-use-rdb-preamble") != Some("no")
}

fn now_s() -> u64 {
    crate::store::unix_ms() / 1000
}

/// Writes the manifest through a temporary file, fsynced and renamed, and
/// fsyncs the directory (Redis's `writeAofManifestFile`).
pub fn persist_manifest(config: &Config, manifest: &Manifest) -> io::Result<()> {
    let dir = dir(config);
    let temp = dir.join(format!("temp-{}", manifest_name(config)));
    let path = dir.join(manifest_name(config));
    let result = (|| {
        let mut f = File::create(&temp)?;
        f.write_all(manifest.render().as_bytes())?;
        f.sync_all()?;
        std::fs::rename(&temp, &path)?;
        File::open(&dir)?.sync_all()
    })();
    if let Err(e) = &result {
        log::warn!("Can't write the AOF manifest file {}: {e}", path.display());
    }
    result
}

fn create_dir(config: &Config) -> io::Result<()> {
    let d = dir(config);
    match std::fs::create_dir(&d) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists && d.is_dir() => Ok(()),
        Err(e) => {
            log::warn!("Can't open or create append-only dir {}: {e}", d.display());
            Err(e)
        }
    }
}

fn file_size(path: &Path) -> u64 {
    std::fs::metadata(path).map_or(0, |m| m.len())
}

impl Aof {
    /// Settings read on every flush: called at start-up and after every
    /// CONFIG SET.
    pub fn apply_config(&mut self, config: &Config, feed: &mut Feed) {
        self.policy = FsyncPolicy::from_config(config);
        feed.timestamps = config.get("aof-timestamp-enabled") == Some("yes");
    }

    /// Collects what the helper finished: `everysec` fsyncs (their
    /// errors stop writes until one succeeds) and `always` syncs (an error
    /// there ends the server, as Redis's inline fsync does).
    fn poll_fsyncer(&mut self) {
        let Some(f) = self.fsyncer.as_mut() else {
            return;
        };
        let mut failed = None;
        let mut everysec_ok = false;
        while let Ok(done) = f.done.try_recv() {
            match done {
                Done::Fsync(r) => {
                    f.in_flight = f.in_flight.saturating_sub(1);
                    match r {
                        Ok(()) => everysec_ok = true,
                        Err(e) => failed = Some(e),
                    }
                }
                Done::Closed(r) => {
                    if let Err(e) = r {
                        failed = Some(e);
                    }
                }
                Done::SyncedTo(upto, r) => {
                    self.sync_in_flight = false;
                    if let Err(e) = r {
                        log::warn!(
                            "Can't persist AOF for fsync error when the AOF fsync policy is 'always': {}. Exiting...",
                            strerror(&e)
                        );
                        std::process::exit(1);
                    }
                    self.synced_total = self.synced_total.max(upto);
                }
            }
        }
        if let Some(e) = failed {
            log::warn!("Error syncing the AOF file in the background: {e}");
            self.fsync_error = Some(strerror(&e));
        } else if everysec_ok && f.in_flight == 0 {
            // A later fsync succeeded: the disk is back.
            self.fsync_error = None;
        }
    }

    /// Whether an `everysec` fsync on the helper is still running.
    fn fsync_in_progress(&mut self) -> bool {
        self.poll_fsyncer();
        self.fsyncer.as_ref().is_some_and(|f| f.in_flight > 0)
    }

    fn fsyncer(&mut self) -> Option<&mut Fsyncer> {
        if self.fsyncer.is_none() {
            match Fsyncer::start(self.waker.clone()) {
                Ok(f) => self.fsyncer = Some(f),
                Err(e) => log::warn!("Can't start the AOF fsync thread: {e}"),
            }
        }
        self.fsyncer.as_mut()
    }

    /// `everysec`: an fsync of the current file on the helper; with
    /// `close`, the file is done with and closed after.
    fn background_fsync(&mut self, close: bool) {
        let Some(file) = (if close {
            self.file.take()
        } else {
            self.file.as_ref().and_then(|f| f.try_clone().ok())
        }) else {
            return;
        };
        let Some(f) = self.fsyncer() else {
            let _ = file.sync_data();
            return;
        };
        let job = if close {
            Job::FsyncAndClose(file)
        } else {
            f.in_flight += 1;
            Job::Fsync(file)
        };
        if f.jobs.send(job).is_err() {
            f.in_flight = f.in_flight.saturating_sub(1);
        }
    }

    /// `always`: starts a sync of everything written so far on the helper,
    /// unless one runs (the next starts when it ends). Replies wait for it
    /// (see `durability`), but the loop does not: it reads and runs the
    /// next commands meanwhile, whose writes the next sync takes.
    fn request_sync(&mut self) {
        if self.sync_in_flight || self.written_total <= self.synced_total {
            return;
        }
        let upto = self.written_total;
        let clone = self.file.as_ref().and_then(|f| f.try_clone().ok());
        let sent = match (clone, self.waker.is_some()) {
            (Some(file), true) => self
                .fsyncer()
                .is_some_and(|f| f.jobs.send(Job::SyncTo(file, upto)).is_ok()),
            _ => false,
        };
        if sent {
            self.sync_in_flight = true;
        } else {
            self.sync_now();
        }
    }

    /// Syncs the current file on the loop (at a file switch, at shutdown,
    /// or when the helper cannot): everything written is then durable.
    fn sync_now(&mut self) {
        if let Some(file) = self.file.as_ref()
            && let Err(e) = file.sync_data()
        {
            if self.policy == FsyncPolicy::Always {
                log::warn!(
                    "Can't persist AOF for fsync error when the AOF fsync policy is 'always': {}. Exiting...",
                    strerror(&e)
                );
                std::process::exit(1);
            }
            log::warn!("Fail to fsync the AOF file: {e}");
            return;
        }
        self.synced_size = self.incr_size;
        self.synced_total = self.written_total;
    }

    /// The refusal of writes while the AOF cannot be written (Redis's
    /// `writeCommandsDeniedByDiskError` for the AOF).
    pub fn misconf(&self) -> Option<String> {
        if self.state == State::Off {
            return None;
        }
        self.write_error
            .as_ref()
            .or(self.fsync_error.as_ref())
            .map(|e| format!("MISCONF Errors writing to the AOF file: {e}"))
    }
}

/// Error text as C's `strerror` gives it, without Rust's "(os error N)".
fn strerror(e: &io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

/// Writes the AOF buffer, and fsyncs as `appendfsync` says (Redis's
/// `flushAppendOnlyFile`). The loop calls this before writing replies.
/// `force` writes even while a background fsync runs.
pub fn flush(store: &mut Store, force: bool) {
    let snapshot_running = store.rdb.snapshot.is_some();
    let no_fsync_on_rewrite =
        snapshot_running && store.config.get("no-appendfsync-on-rewrite") == Some("yes");
    let aof = &mut store.aof;
    let buf = &mut store.effects.aof.buf;
    let latency = &mut store.latency_events;
    if aof.file.is_none() {
        return;
    }
    let now = now_s();
    if buf.is_empty() {
        sync_left_behind(aof, now, no_fsync_on_rewrite, latency);
        return;
    }
    let Some(in_progress) = may_write(aof, now, force, no_fsync_on_rewrite) else {
        return;
    };
    let Some(file) = aof.file.as_mut() else {
        return;
    };
    let started = latency.start();
    let (written, err) = write_all_counted(file, buf);
    if let Some(ms) = Monitor::elapsed_ms(started) {
        // A running snapshot is ferrokv's stand-in for Redis's child.
        let event = if in_progress {
            "aof-write-pending-fsync"
        } else if snapshot_running {
            "aof-write-active-child"
        } else {
            "aof-write-alone"
        };
        latency.add_if_needed(event, ms);
        latency.add_if_needed("aof-write", ms);
    }
    if let Some(e) = err {
        if write_failed(aof, buf, written, &e, now) > 0 {
            store.effects.aof.written_out();
        }
        return;
    }
    if aof.write_error.take().is_some() {
        log::warn!("AOF write error looks solved, Redis can write again.");
    }
    aof.current_size += written as u64;
    aof.incr_size += written as u64;
    aof.written_total += written as u64;
    if buf.capacity() > 4096 {
        *buf = Vec::new();
    } else {
        buf.clear();
    }
    store.effects.aof.written_out();
    if !no_fsync_on_rewrite {
        sync_as_policy(aof, now, in_progress, latency);
    }
}

/// With nothing new to write: syncs what an earlier write left unsynced
/// (`everysec` once the second has moved on; `always` chains the next
/// helper sync once the running one is done).
fn sync_left_behind(aof: &mut Aof, now: u64, no_fsync_on_rewrite: bool, latency: &mut Monitor) {
    match aof.policy {
        FsyncPolicy::EverySec => {
            let due = aof.synced_size != aof.incr_size
                && now > aof.last_fsync_s
                && !no_fsync_on_rewrite
                && !aof.fsync_in_progress();
            if due {
                sync_as_policy(aof, now, false, latency);
            }
        }
        FsyncPolicy::Always => {
            aof.poll_fsyncer();
            aof.request_sync();
        }
        FsyncPolicy::No => {}
    }
}

/// Whether the buffer may be written now: `None` while it waits, else
/// whether an `everysec` fsync is still running.
///
/// Under `always`, writes wait while a helper sync runs: the replies they
/// hold wait for the next sync anyway, which cannot start before this one
/// ends, and a write(2) to a file being synced would block the loop. Under
/// `everysec` they wait for a running fsync up to two seconds, as Redis's
/// do (`aof_delayed_fsync` counts a write that stopped waiting).
fn may_write(aof: &mut Aof, now: u64, force: bool, no_fsync_on_rewrite: bool) -> Option<bool> {
    if aof.policy == FsyncPolicy::Always && !force && !no_fsync_on_rewrite {
        aof.poll_fsyncer();
        if aof.sync_in_flight {
            return None;
        }
    }
    let mut in_progress = false;
    if aof.policy == FsyncPolicy::EverySec {
        in_progress = aof.fsync_in_progress();
        if in_progress && !force {
            if aof.postponed_since_s == 0 {
                aof.postponed_since_s = now.max(1);
                return None;
            }
            if now.saturating_sub(aof.postponed_since_s) < 2 {
                return None;
            }
            aof.delayed_fsync += 1;
            log::info!(
                "Asynchronous AOF fsync is taking too long (disk is busy?). Writing the AOF buffer without waiting for fsync to complete, this may slow down Redis."
            );
        }
    }
    aof.postponed_since_s = 0;
    Some(in_progress)
}

/// write(2) until everything is written or an error: the bytes written,
/// and the error if one stopped it (Redis's `aofWrite`).
fn write_all_counted(file: &mut File, buf: &[u8]) -> (usize, Option<io::Error>) {
    let mut done = 0;
    while done < buf.len() {
        match file.write(&buf[done..]) {
            Ok(0) => return (done, Some(io::Error::from_raw_os_error(28))),
            Ok(n) => done += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return (done, Some(e)),
        }
    }
    (done, None)
}

/// A failed or short write: under `always` there is no way to keep the
/// promise, so the server exits, as Redis does; otherwise the partial
/// write is cut off, the buffer kept for a retry, and writes refused.
/// Returns how many bytes of the buffer were kept in the file.
fn write_failed(
    aof: &mut Aof,
    buf: &mut Vec<u8>,
    written: usize,
    e: &io::Error,
    now: u64,
) -> usize {
    let log_now = now.saturating_sub(aof.last_error_log_s) > 30;
    if log_now {
        aof.last_error_log_s = now;
        if written == 0 {
            log::warn!("Error writing to the AOF file: {}", strerror(e));
        } else {
            log::warn!(
                "Short write while writing to the AOF file: (nwritten={written}, expected={})",
                buf.len()
            );
        }
    }
    let mut kept_partial = written;
    if written > 0
        && let Some(file) = aof.file.as_mut()
    {
        match file.set_len(aof.incr_size) {
            Ok(()) => {
                // The partial write is gone: the file ends where it did.
                use std::io::Seek;
                let _ = file.seek(io::SeekFrom::End(0));
                kept_partial = 0;
            }
            Err(te) if log_now => log::warn!(
                "Could not remove short write from the append-only file. Redis may refuse to load the AOF the next time it starts. ftruncate: {te}"
            ),
            Err(_) => {}
        }
    }
    if aof.policy == FsyncPolicy::Always {
        log::warn!(
            "Can't recover from AOF write error when the AOF fsync policy is 'always'. Exiting..."
        );
        std::process::exit(1);
    }
    let reason = if written > 0 {
        strerror(&io::Error::from_raw_os_error(28))
    } else {
        strerror(e)
    };
    aof.write_error = Some(reason);
    if kept_partial > 0 {
        aof.current_size += kept_partial as u64;
        aof.incr_size += kept_partial as u64;
        aof.written_total += kept_partial as u64;
        buf.drain(..kept_partial);
    }
    kept_partial
}

/// The fsync `appendfsync` asks for after a write: at once under
/// `always` (exiting if it fails, as Redis does), on the helper at most
/// once a second under `everysec`.
fn sync_as_policy(aof: &mut Aof, now: u64, in_progress: bool, latency: &mut Monitor) {
    match aof.policy {
        FsyncPolicy::Always => {
            // A small batch (a few clients, one command each) is synced on
            // the loop, as Redis does: its clients' next requests then all
            // arrive while it syncs and ride the next sync together. A big
            // one (pipelines) is synced on the helper while the loop goes
            // on running commands: the sync then overlaps real work.
            if aof.sync_in_flight || aof.written_total - aof.synced_total >= GROUP_COMMIT_BYTES {
                aof.request_sync();
            } else {
                let started = latency.start();
                aof.sync_now();
                latency.end("aof-fsync-always", started);
            }
            aof.synced_size = aof.incr_size;
            aof.last_fsync_s = now;
        }
        FsyncPolicy::EverySec if now > aof.last_fsync_s => {
            if !in_progress {
                aof.background_fsync(false);
                aof.synced_size = aof.incr_size;
            }
            aof.last_fsync_s = now;
        }
        _ => {}
    }
}

/// The AOF bytes produced so far (written or still buffered), and how
/// many of them a reply may rely on: under `appendfsync always`, those a
/// finished sync made durable; otherwise those written to the file (a
/// write put off while an `everysec` fsync runs holds the replies after
/// it). The loop holds each reply until the AOF bytes before it are that
/// far. After a failed write, as in Redis, replies are not held (writes
/// are refused with -MISCONF until the disk is back).
pub fn durability(store: &mut Store) -> (u64, u64) {
    let buffered = store.effects.aof.buf.len() as u64;
    // `no-appendfsync-on-rewrite yes` gives up syncing while a rewrite
    // runs, and with it the promise (as in Redis).
    let no_sync = store.rdb.snapshot.is_some()
        && store.config.get("no-appendfsync-on-rewrite") == Some("yes");
    let aof = &mut store.aof;
    aof.poll_fsyncer();
    let produced = aof.written_total + buffered;
    if aof.file.is_none() || aof.write_error.is_some() {
        return (produced, produced);
    }
    match aof.policy {
        FsyncPolicy::Always if !no_sync => {
            aof.request_sync();
            (produced, aof.synced_total)
        }
        _ => (produced, aof.written_total),
    }
}

/// Under `always`, unsynced AOF bytes from which the sync runs on the
/// helper rather than on the loop (see `sync_as_policy`).
const GROUP_COMMIT_BYTES: u64 = 16 << 10;

/// Turns the feed on or off to match the AOF's state: on while the AOF
/// is, or while a rewrite for a run-time switch-on runs.
pub fn refresh_feed(store: &mut Store) {
    let rewriting = store.aof.rewrite_started.is_some();
    let on = match store.aof.state {
        State::On => true,
        State::WaitRewrite => rewriting,
        State::Off => false,
    };
    store.effects.aof.on = on;
    store.effects.record_propagation = on || store.effects.propagated.is_some();
}

/// Opens the AOF at start-up, once the dataset is loaded (Redis's
/// `aofOpenIfNeededOnServerStart`): with no base and no incremental file
/// a base of the dataset is written first; then the last incremental
/// file is opened for appending (or a new one created) and the manifest
/// persisted. Any failure stops the server.
pub fn open_on_start(store: &mut Store) -> io::Result<()> {
    if store.config.get("appendonly") != Some("yes") {
        return Ok(());
    }
    store.aof.state = State::On;
    create_dir(&store.config)?;
    let name = filename(&store.config);
    let d = dir(&store.config);
    if store.aof.manifest.base.is_none() && store.aof.manifest.incrs.is_empty() {
        let preamble = rdb_preamble(&store.config);
        let mut manifest = store.aof.manifest.clone();
        let base = manifest.new_base(&name, preamble);
        // Redis counts neither this base's size nor this file in
        // `aof_current_size` until the next load or rewrite.
        write_base_now(store, &d.join(&base), preamble)?;
        store.aof.manifest = manifest;
        log::info!("Creating AOF base file {base} on server start");
    }
    let had_incr = !store.aof.manifest.incrs.is_empty();
    let incr = store.aof.manifest.last_incr_or_new(&name);
    let path = d.join(&incr);
    let file = OpenOptions::new().append(true).create(true).open(&path)?;
    persist_manifest(&store.config, &store.aof.manifest)?;
    let started = store.latency_events.start();
    store.aof.incr_size = file_size(&path);
    store.latency_events.end("aof-fstat", started);
    store.aof.synced_size = store.aof.incr_size;
    store.aof.file = Some(file);
    if had_incr {
        log::info!("Opening AOF incr file {incr} on server start");
    } else {
        log::info!("Creating AOF incr file {incr} on server start");
    }
    store.effects.aof.selected_db = None;
    refresh_feed(store);
    Ok(())
}

/// Writes the whole dataset as a base file, on the loop (for the empty
/// or tiny dataset of a start-up; rewrites use the snapshot).
fn write_base_now(store: &Store, path: &Path, preamble: bool) -> io::Result<()> {
    let temp = PathBuf::from(format!("temp-rewriteaof-{}.aof", std::process::id()));
    let format = if preamble {
        super::snapshot::Format::Rdb
    } else {
        super::snapshot::Format::Commands
    };
    super::save_to(store, crate::store::unix_ms(), &temp, path, format).map(|_| ())
}

/// Opens the incremental file writes go to while a rewrite runs (Redis's
/// `openNewIncrAofForAppend`): a new numbered file in the manifest, or,
/// while the AOF waits for its first base, a temporary one.
fn open_new_incr(store: &mut Store) -> io::Result<()> {
    if store.aof.state == State::Off {
        return Ok(());
    }
    let d = dir(&store.config);
    let (name, manifest) = if store.aof.state == State::WaitRewrite {
        (temp_incr_name(&store.config), None)
    } else {
        let mut m = store.aof.manifest.clone();
        let name = m.new_incr(&filename(&store.config));
        (name, Some(m))
    };
    let file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(d.join(&name))
        .inspect_err(|e| log::warn!("Can't open the append-only file {name}: {e}"))?;
    if let Some(m) = &manifest {
        persist_manifest(&store.config, m)?;
    }
    log::info!("Creating AOF incr file {name} on background rewrite");
    // The old file is done with: synced and closed on the helper; under
    // `always` synced here first, since replies may wait for it.
    if store.aof.file.is_some() {
        if store.aof.policy == FsyncPolicy::Always {
            store.aof.sync_now();
        }
        store.aof.background_fsync(true);
        store.aof.last_fsync_s = now_s();
    }
    store.aof.file = Some(file);
    store.aof.incr_size = 0;
    store.aof.synced_size = 0;
    if let Some(m) = manifest {
        store.aof.manifest = m;
    }
    Ok(())
}

/// Starts a rewrite (Redis's `rewriteAppendOnlyFileBackground`). The
/// caller has checked that no snapshot runs.
pub fn start_rewrite(store: &mut Store, now_ms: u64) -> io::Result<()> {
    let result = (|| {
        create_dir(&store.config)?;
        store.effects.aof.selected_db = None;
        flush(store, true);
        open_new_incr(store)?;
        let preamble = rdb_preamble(&store.config);
        let target = super::snapshot::Target {
            temp: rewrite_temp_path(),
            path: None,
            format: if preamble {
                super::snapshot::Format::Rdb
            } else {
                super::snapshot::Format::Commands
            },
            purpose: super::snapshot::Purpose::AofRewrite,
            incremental_fsync: store.config.get("aof-rewrite-incremental-fsync") != Some("no"),
        };
        super::snapshot::start(store, now_ms, target)
    })();
    match result {
        Ok(snap) => {
            store.rdb.snapshot = Some(snap);
            store.aof.rewrites += 1;
            store.aof.rewrite_scheduled = false;
            store.aof.rewrite_started = Some(Instant::now());
            log::info!("Background append only file rewriting started");
            refresh_feed(store);
            Ok(())
        }
        Err(e) => {
            store.aof.last_rewrite_ok = false;
            log::warn!("Can't rewrite append only file in background: {e}");
            Err(e)
        }
    }
}

/// A rewrite's snapshot ended (Redis's `backgroundRewriteDoneHandler`):
/// on success the new base goes into the directory, the manifest names
/// it, and the files it replaces are removed.
pub fn rewrite_done(store: &mut Store, saved: io::Result<u64>) {
    let temp = rewrite_temp_path();
    let outcome = saved.and_then(|_| install_rewrite(store, &temp));
    match outcome {
        Ok(()) => {
            store.aof.last_rewrite_ok = true;
            store.aof.consecutive_failures = 0;
            log::info!("Background AOF rewrite finished successfully");
            if store.aof.state == State::WaitRewrite {
                store.aof.state = State::On;
            }
        }
        Err(e) => {
            log::warn!("Background AOF rewrite terminated with error: {e}");
            store.aof.last_rewrite_ok = false;
            store.aof.consecutive_failures += 1;
            let _ = std::fs::remove_file(&temp);
        }
    }
    if let Some(started) = store.aof.rewrite_started.take() {
        store.aof.last_rewrite_time_s = started.elapsed().as_secs() as i64;
    }
    if store.aof.state == State::WaitRewrite {
        // Still no base: what the temporary file gathered is dropped, and
        // the next rewrite starts over.
        store.effects.aof.buf.clear();
        store.aof.file = None;
        let _ = std::fs::remove_file(dir(&store.config).join(temp_incr_name(&store.config)));
        store.aof.rewrite_scheduled = true;
    }
    refresh_feed(store);
}

fn install_rewrite(store: &mut Store, temp: &Path) -> io::Result<()> {
    log::info!("Background AOF rewrite terminated with success");
    let d = dir(&store.config);
    let name = filename(&store.config);
    let mut m = store.aof.manifest.clone();
    let base = m.new_base(&name, rdb_preamble(&store.config));
    let base_path = d.join(&base);
    let started = store.latency_events.start();
    std::fs::rename(temp, &base_path)?;
    store.latency_events.end("aof-rename", started);
    log::info!(
        "Successfully renamed the temporary AOF base file {} into {base}",
        temp.display()
    );
    let mut new_incr_path = None;
    if store.aof.state == State::WaitRewrite {
        let incr = m.new_incr(&name);
        let path = d.join(&incr);
        let started = store.latency_events.start();
        if let Err(e) = std::fs::rename(d.join(temp_incr_name(&store.config)), &path) {
            let _ = std::fs::remove_file(&base_path);
            return Err(e);
        }
        store.latency_events.end("aof-rename", started);
        new_incr_path = Some(path);
    }
    m.retire_rewritten_incrs(store.aof.state != State::Off);
    if let Err(e) = persist_manifest(&store.config, &m) {
        let _ = std::fs::remove_file(&base_path);
        if let Some(p) = new_incr_path {
            let _ = std::fs::remove_file(p);
        }
        return Err(e);
    }
    store.aof.manifest = m;
    if store.aof.state != State::Off {
        let started = store.latency_events.start();
        let base_size = file_size(&base_path);
        store.latency_events.end("aof-fstat", started);
        store.aof.current_size = base_size + store.aof.incr_size;
        store.aof.rewrite_base_size = store.aof.current_size;
    }
    delete_history(store);
    Ok(())
}

/// Removes the history files on a helper thread (a big file's unlink can
/// take a while) and drops them from the manifest, unless
/// `aof-disable-auto-gc` keeps them.
fn delete_history(store: &mut Store) {
    if store.aof.manifest.history.is_empty()
        || store.config.get("aof-disable-auto-gc") == Some("yes")
    {
        return;
    }
    let d = dir(&store.config);
    let paths: Vec<PathBuf> = store
        .aof
        .manifest
        .history
        .drain(..)
        .map(|f| {
            log::info!("Removing the history file {} in the background", f.name);
            d.join(f.name)
        })
        .collect();
    let _ = std::thread::Builder::new()
        .name("ferrokv-aof-unlink".into())
        .spawn(move || {
            for p in paths {
                let _ = std::fs::remove_file(p);
            }
        });
    let _ = persist_manifest(&store.config, &store.aof.manifest);
}

/// CONFIG SET appendonly: turns the AOF on (a rewrite writes its first
/// base; writes meanwhile gather in a temporary incremental file) or off
/// (flushed, synced and closed). Returns false when it cannot start.
pub fn switch(store: &mut Store, now_ms: u64) -> bool {
    let want = store.config.get("appendonly") == Some("yes");
    match (want, store.aof.state) {
        (true, State::Off) => start(store, now_ms),
        (false, State::On | State::WaitRewrite) => {
            stop(store);
            true
        }
        _ => true,
    }
}

fn start(store: &mut Store, now_ms: u64) -> bool {
    store.aof.state = State::WaitRewrite;
    let rewriting = store.aof.rewrite_started.is_some();
    if rewriting {
        // The running rewrite gathers nothing for the new state: it is
        // dropped, and a new one starts as soon as its walk is done.
        log::warn!(
            "AOF was enabled but there is already an AOF rewriting in background. Stopping background AOF and starting a rewrite now."
        );
        abandon_rewrite(store);
        store.aof.rewrite_scheduled = true;
    } else if store.rdb.snapshot.is_some() {
        store.aof.rewrite_scheduled = true;
        log::warn!(
            "AOF was enabled but there is already another background operation. An AOF background was scheduled to start when possible."
        );
    } else {
        if start_rewrite(store, now_ms).is_err() {
            store.aof.state = State::Off;
            log::warn!(
                "Redis needs to enable the AOF but can't trigger a background AOF rewrite operation. Check the above logs for more info about the error."
            );
            refresh_feed(store);
            return false;
        }
    }
    store.aof.last_fsync_s = now_s();
    if store.aof.fsync_error.take().is_some() {
        log::warn!("AOF reopen, just ignore the AOF fsync error in bio job");
    }
    if store.aof.write_error.take().is_some() {
        log::warn!("AOF reopen, just ignore the last error.");
    }
    true
}

/// Gives up the rewrite in progress: its walk finishes with nothing
/// written, its temporary file is removed.
fn abandon_rewrite(store: &mut Store) {
    if let Some(snap) = store.rdb.snapshot.as_mut() {
        snap.abandon();
    }
    store.aof.rewrite_started = None;
}

fn stop(store: &mut Store) {
    flush(store, true);
    store.aof.sync_now();
    store.aof.file = None;
    if store.aof.state == State::WaitRewrite {
        // Never named by the manifest: what it gathered has no base.
        let _ = std::fs::remove_file(dir(&store.config).join(temp_incr_name(&store.config)));
    }
    store.aof.state = State::Off;
    store.aof.rewrite_scheduled = false;
    store.aof.incr_size = 0;
    store.aof.synced_size = 0;
    let rewriting = store.aof.rewrite_started.is_some();
    if rewriting {
        log::info!("Killing running AOF rewrite child");
        abandon_rewrite(store);
    }
    store.effects.aof.discard();
    refresh_feed(store);
}

/// At shutdown: the buffer written and the file synced (Redis's
/// prepareForShutdown). Refuses while the first base is still being
/// written, unless forced.
pub fn prepare_shutdown(store: &mut Store, force: bool) -> Result<(), &'static str> {
    if store.aof.state == State::Off {
        return Ok(());
    }
    if store.aof.rewrite_started.is_some() {
        if store.aof.state == State::WaitRewrite {
            if !force {
                log::warn!("Writing initial AOF, can't exit.");
                return Err("Writing initial AOF, can't exit.");
            }
            log::warn!("Writing initial AOF. Exit anyway.");
        }
        log::info!("There is a background AOF rewrite in progress. Killing it!");
        drop_rewrite_at_shutdown(store);
    }
    log::info!("Calling fsync() on the AOF file.");
    flush(store, true);
    store.aof.sync_now();
    Ok(())
}

/// Drops the rewrite in progress as the server exits: its walk as it is
/// (see `snapshot::abandon_at_shutdown`) and its temporary file.
pub fn drop_rewrite_at_shutdown(store: &mut Store) {
    if let Some(snap) = store.rdb.snapshot.take() {
        super::snapshot::abandon_at_shutdown(store, snap);
    }
    store.aof.rewrite_started = None;
    let _ = std::fs::remove_file(rewrite_temp_path());
}

/// The AOF's part of the cron (Redis's serverCron): a scheduled or due
/// rewrite, a retry of a failed write, a postponed flush.
pub fn cron(store: &mut Store, now_ms: u64) {
    if store.aof.loading.is_some() || store.rdb.loading.is_some() {
        return;
    }
    let now = now_ms / 1000;
    if store.rdb.snapshot.is_none() && store.aof.rewrite_scheduled && !limited(store, now) {
        let _ = start_rewrite(store, now_ms);
    }
    if store.rdb.snapshot.is_none()
        && store.aof.state == State::On
        && let Some(growth) = rewrite_growth_due(store)
        && !limited(store, now)
    {
        log::info!("Starting automatic rewriting of AOF on {growth}% growth");
        let _ = start_rewrite(store, now_ms);
    }
    if store.aof.state == State::On
        && (store.aof.postponed_since_s != 0 || store.aof.write_error.is_some())
    {
        flush(store, false);
    }
}

/// The growth past `auto-aof-rewrite-percentage` that calls for a rewrite.
fn rewrite_growth_due(store: &Store) -> Option<u64> {
    let num = |name: &str| {
        store
            .config
            .get(name)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    let perc = num("auto-aof-rewrite-percentage");
    let min = num("auto-aof-rewrite-min-size");
    if perc == 0 || store.aof.current_size <= min {
        return None;
    }
    let base = store.aof.rewrite_base_size.max(1);
    let growth = (store.aof.current_size * 100 / base).saturating_sub(100);
    (growth >= perc).then_some(growth)
}

/// After three failed rewrites in a row, automatic ones wait 1, 2, 4 ...
/// up to 60 minutes (Redis's `aofRewriteLimited`).
fn limited(store: &mut Store, now: u64) -> bool {
    let aof = &mut store.aof;
    if aof.consecutive_failures < 3 {
        aof.limit_delay_minutes = 0;
        aof.limited_until_s = 0;
        return false;
    }
    if aof.limited_until_s != 0 {
        if now < aof.limited_until_s {
            return true;
        }
        aof.limited_until_s = 0;
        return false;
    }
    aof.limit_delay_minutes = (aof.limit_delay_minutes * 2).clamp(1, 60);
    aof.limited_until_s = now + aof.limit_delay_minutes * 60;
    log::warn!(
        "Background AOF rewrite has repeatedly failed and triggered the limit, will retry in {} minutes",
        aof.limit_delay_minutes
    );
    true
}

/// INFO persistence's AOF lines.
pub fn info(store: &Store, now: Instant) -> String {
    let aof = &store.aof;
    let mut s = format!(
        "aof_enabled:{}\r\naof_rewrite_in_progress:{}\r\naof_rewrite_scheduled:{}\r\naof_last_rewrite_time_sec:{}\r\naof_current_rewrite_time_sec:{}\r\naof_last_bgrewrite_status:{}\r\naof_rewrites:{}\r\naof_rewrites_consecutive_failures:{}\r\naof_last_write_status:{}\r\naof_last_cow_size:0\r\nmodule_fork_in_progress:0\r\nmodule_fork_last_cow_size:0\r\n",
        u8::from(aof.state != State::Off),
        u8::from(aof.rewrite_started.is_some()),
        u8::from(aof.rewrite_scheduled),
        aof.last_rewrite_time_s,
        aof.rewrite_started
            .map_or(-1, |t| now.duration_since(t).as_secs() as i64),
        if aof.last_rewrite_ok { "ok" } else { "err" },
        aof.rewrites,
        aof.consecutive_failures,
        if aof.write_error.is_none() && aof.fsync_error.is_none() {
            "ok"
        } else {
            "err"
        },
    );
    if store.config.get("appendonly") == Some("yes") {
        s.push_str(&format!(
            "aof_current_size:{}\r\naof_base_size:{}\r\naof_pending_rewrite:{}\r\naof_buffer_length:{}\r\naof_pending_bio_fsync:{}\r\naof_delayed_fsync:{}\r\n",
            aof.current_size,
            aof.rewrite_base_size,
            u8::from(aof.rewrite_scheduled),
            store.effects.aof.buf.len(),
            aof.fsyncer.as_ref().map_or(0, |f| f.in_flight),
            aof.delayed_fsync,
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(feed: &Feed) -> String {
        String::from_utf8_lossy(&feed.buf).replace("\r\n", " ")
    }

    /// A call's operations go in as they come; when it ends, more than
    /// one is wrapped in MULTI/EXEC behind the first one's SELECT, and a
    /// database change inside selects again.
    #[test]
    fn a_call_that_writes_twice_is_wrapped_after_its_select() {
        let mut feed = Feed::default();
        feed.stage(0, &[&b"SET"[..], b"a", b"1"]);
        feed.commit(true);
        feed.stage(2, &[&b"DEL"[..], b"x"]);
        feed.stage(3, &[&b"SET"[..], b"y", b"2"]);
        feed.commit(true);
        feed.stage(3, &[&b"DEL"[..], b"z"]);
        feed.stage(3, &[&b"DEL"[..], b"w"]);
        feed.commit(false);
        assert_eq!(
            text(&feed),
            "*2 $6 SELECT $1 0 *3 $3 SET $1 a $1 1 \
             *2 $6 SELECT $1 2 *1 $5 MULTI *2 $3 DEL $1 x *2 $6 SELECT $1 3 *3 $3 SET $1 y $1 2 *1 $4 EXEC \
             *2 $3 DEL $1 z *2 $3 DEL $1 w "
        );
    }

    /// A call whose first operations were written out before it ended (it
    /// started a rewrite) wraps the rest.
    #[test]
    fn a_call_written_out_midway_wraps_what_is_left() {
        let mut feed = Feed::default();
        feed.stage(0, &[&b"DEL"[..], b"a"]);
        feed.buf.clear();
        feed.written_out();
        feed.stage(0, &[&b"DEL"[..], b"b"]);
        feed.commit(true);
        assert_eq!(text(&feed), "*1 $5 MULTI *2 $3 DEL $1 b *1 $4 EXEC ");
    }
}
