//! Persistence: the RDB file format (snapshots, DUMP payloads), and saving
//! and loading the whole dataset.
//!
//! Files are written as Redis writes them: to `temp-<pid>.rdb` in the
//! working directory (`dir`), flushed and fsynced, then renamed over
//! `dbfilename`, and the directory fsynced, so a crash leaves either the
//! old file or the new one, never half of one.

pub mod aof;
pub mod crc64;
pub mod lzf;
pub mod rdb;
pub mod snapshot;

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::config::Config;
use crate::db::{AccessPolicy, Db, idle_seconds, lfu_counter};
use crate::store::Store;
use crate::types::list::Fill;
use rdb::{Compression, KeyMeta};

/// The settings that shape loaded values.
pub fn shapes(config: &Config) -> rdb::Shapes {
    rdb::Shapes {
        hash: crate::types::hash::Limits {
            max_entries: config.hash_max_listpack_entries,
            max_value: config.hash_max_listpack_value,
        },
        max_intset_entries: config.set_max_intset_entries,
        zset: crate::types::zset::ListpackLimits {
            max_entries: config.zset_max_listpack_entries,
            max_value: config.zset_max_listpack_value,
        },
        list_fill: Fill::from_config(config.list_max_listpack_size),
    }
}

/// `rdbcompression`.
pub fn compression(config: &Config) -> Compression {
    match config.get("rdbcompression") {
        Some("no") => Compression::Off,
        _ => Compression::Lzf,
    }
}

/// The snapshot file: `dbfilename` in the working directory (`dir`).
pub fn rdb_path(config: &Config) -> PathBuf {
    PathBuf::from(config.get("dbfilename").unwrap_or("dump.rdb"))
}

/// What a key's access stamp is written as: idle seconds under an LRU
/// eviction policy, the LFU counter under an LFU one, nothing otherwise
/// (Redis's `savelru`/`savelfu`).
#[derive(Debug, Clone, Copy)]
pub(crate) enum AccessInfo {
    None,
    Idle,
    Freq { decay_minutes: u32 },
}

impl AccessInfo {
    /// What the file says about a key with this access stamp and
    /// deadline, as of `now_ms`.
    pub(crate) fn key_meta(self, access: u32, expire_ms: u64, now_ms: u64) -> KeyMeta {
        KeyMeta {
            expire_ms,
            idle_s: matches!(self, AccessInfo::Idle).then(|| idle_seconds(access, now_ms)),
            freq: match self {
                AccessInfo::Freq { decay_minutes } => {
                    Some(lfu_counter(access, decay_minutes, now_ms) as u8)
                }
                _ => None,
            },
        }
    }
}

pub(crate) fn access_info(config: &Config, policy: AccessPolicy) -> AccessInfo {
    let name = config.get("maxmemory-policy").unwrap_or("");
    match policy {
        AccessPolicy::Lfu { decay_minutes, .. } => AccessInfo::Freq { decay_minutes },
        AccessPolicy::Lru if name.ends_with("lru") => AccessInfo::Idle,
        AccessPolicy::Lru => AccessInfo::None,
    }
}

/// A writer that keeps the CRC-64 of everything written through it.
struct CrcWriter<W: Write> {
    inner: W,
    crc: u64,
    written: u64,
}

impl<W: Write> Write for CrcWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.crc = crc64::crc64(self.crc, &buf[..n]);
        self.written += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Serializes every database, as one RDB file, into `out`.
fn write_rdb<W: Write>(store: &Store, now_ms: u64, out: W) -> io::Result<W> {
    let comp = compression(&store.config);
    let checksum = store.config.get("rdbchecksum") != Some("no");
    let mut w = CrcWriter {
        inner: out,
        crc: 0,
        written: 0,
    };
    let mut buf = Vec::with_capacity(64 << 10);
    rdb::put_header(
        &mut buf,
        &rdb::Aux {
            redis_ver: crate::REDIS_VERSION,
            ctime_s: now_ms / 1000,
            used_mem: crate::alloc::allocated_bytes(),
        },
    );
    rdb::put_functions(&mut buf, &store.scripting.functions.libs.codes(), comp);
    for (index, db) in store.dbs.iter().enumerate() {
        if db.is_empty() {
            continue;
        }
        rdb::put_db_start(&mut buf, index, db.len(), db.expires_len());
        let info = access_info(&store.config, db.policy);
        let mut failed = None;
        db.for_each_with_meta(|key, value, access, expire_ms| {
            let meta = info.key_meta(access, expire_ms, now_ms);
            rdb::put_key_value(&mut buf, key, value, meta, comp);
            if buf.len() >= 64 << 10 && failed.is_none() {
                if let Err(e) = w.write_all(&buf) {
                    failed = Some(e);
                }
                buf.clear();
            }
        });
        if let Some(e) = failed {
            return Err(e);
        }
    }
    w.write_all(&buf)?;
    buf.clear();
    rdb::put_footer(&mut buf, w.crc, checksum);
    w.write_all(&buf)?;
    Ok(w.inner)
}

/// SAVE: writes the whole dataset to `dbfilename`, on the loop, through a
/// temporary file renamed into place. Returns the bytes written.
pub fn save(store: &Store, now_ms: u64) -> io::Result<u64> {
    let path = rdb_path(&store.config);
    let temp = PathBuf::from(format!("temp-{}.rdb", std::process::id()));
    save_to(store, now_ms, &temp, &path, snapshot::Format::Rdb)
}

/// Writes the whole dataset to `temp` in `format`, syncs it and renames
/// it to `path`. Returns the bytes written.
pub fn save_to(
    store: &Store,
    now_ms: u64,
    temp: &Path,
    path: &Path,
    format: snapshot::Format,
) -> io::Result<u64> {
    let result = (|| {
        let file = File::create(temp)?;
        let out = BufWriter::with_capacity(1 << 20, file);
        let file = match format {
            snapshot::Format::Rdb => write_rdb(store, now_ms, out)?,
            snapshot::Format::Commands => write_commands(store, out)?,
        };
        let file = file.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        let bytes = file.metadata()?.len();
        std::fs::rename(temp, path)?;
        sync_dir_of(path)?;
        Ok(bytes)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(temp);
    }
    result
}

/// Serializes every database as the commands that rebuild it (an AOF
/// base without the RDB preamble).
fn write_commands<W: Write>(store: &Store, mut out: W) -> io::Result<W> {
    let mut buf = Vec::with_capacity(64 << 10);
    if store.effects.aof.timestamps {
        aof::format::put_timestamp(&mut buf, crate::store::unix_ms() / 1000);
    }
    aof::format::put_functions(&mut buf, &store.scripting.functions.libs.codes());
    for (index, db) in store.dbs.iter().enumerate() {
        if db.is_empty() {
            continue;
        }
        aof::format::put_select(&mut buf, index);
        let mut failed = None;
        db.for_each_with_meta(|key, value, _, expire_ms| {
            aof::format::put_key_commands(&mut buf, key, value, expire_ms);
            if buf.len() >= 64 << 10 && failed.is_none() {
                if let Err(e) = out.write_all(&buf) {
                    failed = Some(e);
                }
                buf.clear();
            }
        });
        if let Some(e) = failed {
            return Err(e);
        }
    }
    out.write_all(&buf)?;
    Ok(out)
}

/// Fsyncs the directory holding `path`, so a rename in it is durable.
pub(crate) fn sync_dir_of(path: &Path) -> io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    File::open(dir)?.sync_all()
}

/// Why loading failed.
#[derive(Debug)]
pub enum LoadError {
    Io(io::Error),
    Format(rdb::RdbError),
}

impl std::fmt::Display for LoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LoadError::Io(e) => write!(f, "{e}"),
            LoadError::Format(e) => write!(f, "{e}"),
        }
    }
}

/// Fresh databases to load into, with the store's access policy.
fn fresh_dbs(store: &Store) -> Vec<Db> {
    store
        .dbs
        .iter()
        .map(|old| {
            let mut db = Db::new();
            db.policy = old.policy;
            db
        })
        .collect()
}

fn checksum_setting(config: &Config) -> rdb::Checksum {
    match config.get("rdbchecksum") {
        Some("no") => rdb::Checksum::Skip,
        _ => rdb::Checksum::Verify,
    }
}

/// Reads the RDB file at `path` into fresh databases, returning them and
/// what was loaded, or `Ok(None)` when there is no file. The store is not
/// touched: the caller installs the databases only if the whole file
/// loaded, so a bad file never leaves half a dataset.
pub fn load(
    store: &Store,
    path: &Path,
    now_ms: u64,
) -> Result<Option<(Vec<Db>, rdb::Loaded)>, LoadError> {
    let Some(mut loading) = begin_load(store, path)? else {
        return Ok(None);
    };
    let shapes = shapes(&store.config);
    while !loading
        .loader
        .step(&mut loading.dbs, &shapes, now_ms, usize::MAX)
        .map_err(LoadError::Format)?
    {}
    let loaded = loading.loader.loaded().clone();
    Ok(Some((loading.dbs, loaded)))
}

/// A start-up load in progress: the file, the databases it fills, and
/// when it began (INFO's `loading_*` fields). Clients get `-LOADING`
/// meanwhile, as from Redis.
pub struct Loading {
    loader: rdb::Loader<Vec<u8>>,
    dbs: Vec<Db>,
    pub started_unix_s: i64,
    started: std::time::Instant,
}

impl Loading {
    /// The bytes read so far, and in all.
    pub fn progress(&self) -> (usize, usize) {
        self.loader.progress()
    }
}

/// Opens the RDB file at `path` for loading; `Ok(None)` when there is no
/// file.
pub fn begin_load(store: &Store, path: &Path) -> Result<Option<Loading>, LoadError> {
    let data = match std::fs::read(path) {
        Ok(d) => d,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(LoadError::Io(e)),
    };
    let loader =
        rdb::Loader::new(data, checksum_setting(&store.config)).map_err(LoadError::Format)?;
    Ok(Some(Loading {
        loader,
        dbs: fresh_dbs(store),
        started_unix_s: (crate::store::unix_ms() / 1000) as i64,
        started: std::time::Instant::now(),
    }))
}

/// Keys loaded between clock reads.
const LOAD_KEYS_PER_CLOCK_READ: usize = 1024;
/// How long one load step may hold the loop.
const LOAD_STEP_BUDGET: std::time::Duration = std::time::Duration::from_millis(2);

/// Loads on for a couple of milliseconds. Once the whole file has loaded,
/// installs it and returns what was loaded.
pub fn drive_load(store: &mut Store, now_ms: u64) -> Result<Option<rdb::Loaded>, LoadError> {
    let Some(loading) = store.rdb.loading.as_mut() else {
        return Ok(None);
    };
    let shapes = shapes(&store.config);
    // Tests slow a load down to see it (`key-load-delay`): one key a step.
    let slow = !load_pause(&store.config).is_zero();
    let keys_per_batch = if slow { 1 } else { LOAD_KEYS_PER_CLOCK_READ };
    let start = std::time::Instant::now();
    loop {
        let done = loading
            .loader
            .step(&mut loading.dbs, &shapes, now_ms, keys_per_batch)
            .map_err(LoadError::Format)?;
        if done {
            break;
        }
        if slow || start.elapsed() >= LOAD_STEP_BUDGET {
            return Ok(None);
        }
    }
    let Some(loading) = store.rdb.loading.take() else {
        return Ok(None);
    };
    let loaded = loading.loader.loaded().clone();
    let functions = loaded_functions(store, &loaded).map_err(|what| {
        LoadError::Format(rdb::RdbError {
            offset: loading.loader.progress().0,
            what,
        })
    })?;
    install(store, loading.dbs);
    store.scripting.functions.libs = functions;
    store.rdb.last_load_keys_loaded = loaded.keys;
    store.rdb.last_load_keys_expired = loaded.expired_skipped;
    log::info!(
        "Done loading RDB, keys loaded: {}, keys expired: {}.",
        loaded.keys,
        loaded.expired_skipped
    );
    log::info!(
        "DB loaded from disk: {:.3} seconds",
        loading.started.elapsed().as_secs_f64()
    );
    Ok(Some(loaded))
}

/// How long the loop may wait for events between two load steps: none,
/// unless `key-load-delay` (microseconds per key, as Redis's tests use it)
/// asks for a slow load.
pub fn load_pause(config: &Config) -> std::time::Duration {
    let us = config
        .get("key-load-delay")
        .and_then(|v| v.parse::<i64>().ok())
        .unwrap_or(0);
    std::time::Duration::from_micros(us.max(0) as u64)
}

/// INFO persistence's `loading_*` lines while a load runs, as Redis's.
pub fn loading_info(store: &Store, now_s: i64) -> String {
    let (read, total, started_unix_s) = match (&store.rdb.loading, &store.aof.loading) {
        (Some(l), _) => {
            let (read, total) = l.progress();
            (read, total, l.started_unix_s)
        }
        (None, Some(l)) => {
            let (read, total) = l.progress();
            (read as usize, total as usize, l.started_unix_s)
        }
        (None, None) => return String::new(),
    };
    let perc = if total > 0 {
        read as f64 / total as f64 * 100.0
    } else {
        0.0
    };
    let elapsed = now_s - started_unix_s;
    let eta = if elapsed == 0 {
        1
    } else {
        elapsed * (total - read) as i64 / (read as i64 + 1)
    };
    format!(
        "loading_start_time:{}\r\nloading_total_bytes:{total}\r\nloading_rdb_used_mem:0\r\nloading_loaded_bytes:{read}\r\nloading_loaded_perc:{perc:.2}\r\nloading_eta_seconds:{eta}\r\n",
        started_unix_s
    )
}

/// Puts loaded databases in place of the store's, keeping each index's
/// settings (what observers want logged).
///
/// A snapshot walking the old databases (a BGSAVE or AOF rewrite under
/// DEBUG LOADAOF) keeps their tables, as FLUSHDB hands them over, and
/// finishes over them.
/// The function libraries a loaded file holds, created in the function
/// engine apart from the server's (Redis's rdbFunctionLoad): the caller
/// installs them with the databases, or drops both.
pub fn loaded_functions(
    store: &mut Store,
    loaded: &rdb::Loaded,
) -> Result<crate::script::function::Libraries, String> {
    let codes: Vec<bytes::Bytes> = loaded
        .functions
        .iter()
        .map(|c| bytes::Bytes::copy_from_slice(c))
        .collect();
    store
        .scripting
        .functions
        .build(&codes, crate::script::function::Replace::No)
        .map_err(|e| format!("Failed loading library, {e}"))
}

pub fn install(store: &mut Store, dbs: Vec<Db>) {
    let mut old = std::mem::replace(&mut store.dbs, dbs);
    for (new, old) in store.dbs.iter_mut().zip(old.iter_mut()) {
        new.observed = old.observed;
        new.policy = old.policy;
        if old.snap.is_some() {
            old.flush();
            new.snap = old.snap.take();
        }
    }
    crate::lazyfree::drop_later(old);
}

/// What the server knows of its snapshots (INFO persistence).
pub struct RdbState {
    /// The BGSAVE in progress.
    pub snapshot: Option<snapshot::Snapshot>,
    pub last_bgsave_ok: bool,
    pub last_bgsave_time_s: i64,
    /// When the last BGSAVE started (save points wait 5 s after a failed
    /// one, as Redis's CONFIG_BGSAVE_RETRY_DELAY).
    pub last_bgsave_try_s: i64,
    pub saves: u64,
    /// BGSAVE SCHEDULE during an AOF rewrite: starts when it ends.
    pub bgsave_scheduled: bool,
    pub last_load_keys_loaded: u64,
    pub last_load_keys_expired: u64,
    /// The start-up load in progress.
    pub loading: Option<Loading>,
}

impl Default for RdbState {
    fn default() -> RdbState {
        RdbState {
            snapshot: None,
            last_bgsave_ok: true,
            last_bgsave_time_s: -1,
            last_bgsave_try_s: 0,
            saves: 0,
            bgsave_scheduled: false,
            last_load_keys_loaded: 0,
            last_load_keys_expired: 0,
            loading: None,
        }
    }
}

/// Starts a BGSAVE. The caller has checked that none is running.
pub fn start_bgsave(store: &mut Store, now_ms: u64) -> io::Result<()> {
    store.rdb.last_bgsave_try_s = (now_ms / 1000) as i64;
    let target = snapshot::Target {
        temp: PathBuf::from(format!("temp-bg-{}.rdb", std::process::id())),
        path: Some(rdb_path(&store.config)),
        format: snapshot::Format::Rdb,
        purpose: snapshot::Purpose::Bgsave,
        incremental_fsync: store.config.get("rdb-save-incremental-fsync") != Some("no"),
    };
    match snapshot::start(store, now_ms, target) {
        Ok(snap) => {
            store.rdb.bgsave_scheduled = false;
            log::info!("Background saving started");
            store.rdb.snapshot = Some(snap);
            Ok(())
        }
        Err(e) => {
            store.rdb.last_bgsave_ok = false;
            log::warn!("Can't save in background: {e}");
            Err(e)
        }
    }
}

/// Whether the running snapshot is a BGSAVE (not an AOF rewrite's).
pub fn bgsave_running(store: &Store) -> bool {
    store
        .rdb
        .snapshot
        .as_ref()
        .is_some_and(|s| s.purpose == snapshot::Purpose::Bgsave)
}

/// Moves the snapshot in progress on by one step (the loop calls this
/// every iteration while one runs) and hands its end to its owner.
pub fn drive_snapshot(store: &mut Store, now_ms: u64) {
    let Some(mut snap) = store.rdb.snapshot.take() else {
        return;
    };
    let checksum = store.config.get("rdbchecksum") != Some("no");
    let outcome = snap.step(store, checksum);
    if let snapshot::Outcome::Running = outcome {
        store.rdb.snapshot = Some(snap);
        return;
    }
    match snap.purpose {
        snapshot::Purpose::Bgsave => bgsave_done(store, &snap, outcome, now_ms),
        snapshot::Purpose::AofRewrite => {
            let saved = match outcome {
                snapshot::Outcome::Saved { bytes } => Ok(bytes),
                snapshot::Outcome::Failed(e) => Err(e),
                snapshot::Outcome::Running => return,
            };
            aof::rewrite_done(store, saved);
        }
        snapshot::Purpose::Abandoned => {}
    }
}

/// Records how a BGSAVE ended.
fn bgsave_done(
    store: &mut Store,
    snap: &snapshot::Snapshot,
    outcome: snapshot::Outcome,
    now_ms: u64,
) {
    match outcome {
        snapshot::Outcome::Running => return,
        snapshot::Outcome::Saved { bytes } => {
            log::info!("DB saved on disk ({bytes} bytes)");
            log::info!("Background saving terminated with success");
            store.dirty = store.dirty.saturating_sub(snap.dirty_at_start);
            store.lastsave_s = (now_ms / 1000) as i64;
            store.rdb.last_bgsave_ok = true;
            store.rdb.saves += 1;
        }
        snapshot::Outcome::Failed(e) => {
            log::warn!("Background saving error: {e}");
            store.rdb.last_bgsave_ok = false;
        }
    }
    store.rdb.last_bgsave_time_s = snap.started.elapsed().as_secs() as i64;
}

/// Whether a save point (`save <seconds> <changes>`) calls for a BGSAVE
/// now, as Redis's serverCron decides: enough changes, enough time since
/// the last save, and not within 5 s of a failed attempt.
pub fn save_point_due(store: &Store, now_ms: u64) -> Option<(u64, u64)> {
    let now_s = (now_ms / 1000) as i64;
    let retry_ok = store.rdb.last_bgsave_ok || now_s - store.rdb.last_bgsave_try_s > 5;
    if store.rdb.snapshot.is_some() || !retry_ok || store.aof.loading.is_some() {
        return None;
    }
    let points = store.config.get("save").unwrap_or("");
    let nums: Vec<u64> = points
        .split_whitespace()
        .filter_map(|n| n.parse().ok())
        .collect();
    nums.chunks_exact(2)
        .map(|p| (p[0], p[1]))
        .find(|&(secs, changes)| store.dirty >= changes && now_s - store.lastsave_s > secs as i64)
}

/// Whether `save` has any save point (then SHUTDOWN and SIGTERM save).
pub fn has_save_points(config: &Config) -> bool {
    config.get("save").is_some_and(|v| !v.trim().is_empty())
}

/// The synchronous save before exiting (SHUTDOWN, SIGTERM): a BGSAVE in
/// progress is dropped first, as Redis kills its child, and the dataset
/// is written on the loop.
pub fn save_before_exit(store: &mut Store, now_ms: u64) -> io::Result<u64> {
    if store.aof.rewrite_started.is_some() {
        aof::drop_rewrite_at_shutdown(store);
    } else if let Some(snap) = store.rdb.snapshot.take() {
        if snap.purpose == snapshot::Purpose::Bgsave {
            log::warn!("There is a child saving an .rdb. Killing it!");
        }
        snapshot::abandon_at_shutdown(store, snap);
    }
    log::info!("Saving the final RDB snapshot before exiting.");
    let bytes = save(store, now_ms)?;
    log::info!("DB saved on disk");
    Ok(bytes)
}

/// The refusal of writes after a failed BGSAVE (Redis's `bgsaveerr`).
pub const MISCONF_RDB: &str = "MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk. Commands that may modify the data set are disabled, because this instance is configured to report errors during writes if RDB snapshotting fails (stop-writes-on-bgsave-error option). Please check the Redis logs for details about the RDB error.";

/// Why writes are refused now (Redis's writeCommandsDeniedByDiskError):
/// a failed BGSAVE with `stop-writes-on-bgsave-error`, or AOF errors.
pub fn write_refusal(store: &crate::store::Store) -> Option<String> {
    if !store.rdb.last_bgsave_ok && stop_writes_on_error(&store.config) {
        return Some(MISCONF_RDB.to_owned());
    }
    store.aof.misconf()
}

/// Whether writes stop after a failed BGSAVE: `stop-writes-on-bgsave-error`
/// with save points set (Redis's writeCommandsDeniedByDiskError).
pub fn stop_writes_on_error(config: &Config) -> bool {
    config.get("stop-writes-on-bgsave-error") != Some("no") && has_save_points(config)
}
