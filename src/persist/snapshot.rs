//! BGSAVE without fork: a point-in-time snapshot taken by the loop itself,
//! in small steps, as Dragonfly does.
//!
//! Starting a snapshot flips every keyspace table's snapshot mark (O(1)
//! per database), which makes every key "unwritten". The loop then walks
//! each table's node arena by index, a millisecond at a time, writing each
//! unwritten key and marking it. A write that would change, delete or
//! expire an unwritten key first writes it as it still is (`Db::lookup`,
//! `set`, `take`, `set_expire`, `persist` call the hook), and a key created
//! after the start is born marked, so the file holds exactly the dataset
//! of the moment BGSAVE started. Removing a key moves the arena's last
//! node into the gap; if the walk has already passed that index, the moved
//! node is written at once. FLUSHDB hands the tables to the walk, which
//! finishes over them; SWAPDB moves each database's walk with it, and the
//! walk writes the database number it started with.
//!
//! Keys written out of order (by the hook) go into the file under a
//! SELECTDB of their own database; Redis's loader, and ours, take SELECTDB
//! anywhere.
//!
//! The bytes go over a bounded channel to a writer thread that shares no
//! store state: it keeps the CRC-64, writes `temp-<pid>.rdb`, fsyncs and
//! renames it over `dbfilename`. Memory during a snapshot is the bytes in
//! flight plus what the hook wrote ahead of the walk, never a copy of the
//! dataset.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::sync::mpsc::{self, Receiver, SyncSender, TryRecvError, TrySendError};
use std::time::{Duration, Instant};

use super::rdb::{self, Compression};
use super::{AccessInfo, access_info, compression, crc64, sync_dir_of};
use crate::db::value::Value;
use crate::db::{Dict, Entry};
use crate::store::Store;

/// How long one step may hold the loop.
const STEP_BUDGET: Duration = Duration::from_millis(1);
/// Keys walked between clock reads within a step.
const KEYS_PER_CLOCK_READ: usize = 256;
/// Chunks of file in flight to the writer (each about `CHUNK_BYTES`).
const CHANNEL_CHUNKS: usize = 16;
/// The size the loop gathers before handing bytes to the writer.
const CHUNK_BYTES: usize = 256 << 10;

/// One database's part of a snapshot in progress.
pub struct DbSnap {
    /// The database number the file gives these keys: the index the
    /// database had when the snapshot started (SWAPDB moves this along).
    pub index: usize,
    /// The next arena index to walk.
    pub cursor: usize,
    /// Keys written, waiting to go to the file.
    pub out: Vec<u8>,
    /// What FLUSHDB took out of the database before the walk was done.
    pub detached: Option<(Dict<Entry>, Dict<u64>)>,
    comp: Compression,
    access: AccessInfo,
    now_ms: u64,
    format: Format,
}

impl DbSnap {
    /// Writes one key as it is now.
    pub fn write(&mut self, key: &[u8], value: &Value, access: u32, expire_ms: u64) {
        match self.format {
            Format::Rdb => {
                let meta = self.access.key_meta(access, expire_ms, self.now_ms);
                rdb::put_key_value(&mut self.out, key, value, meta, self.comp);
            }
            Format::Commands => {
                crate::persist::aof::format::put_key_commands(&mut self.out, key, value, expire_ms)
            }
        }
    }
}

/// What a snapshot's file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// An RDB file (BGSAVE, and an AOF base with the RDB preamble).
    Rdb,
    /// The commands that rebuild each key (an AOF base without it).
    Commands,
}

/// Whom a snapshot is for: what its end means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    Bgsave,
    AofRewrite,
    /// Given up (an AOF rewrite that was turned off or replaced): the walk
    /// runs on with its bytes dropped, so every node ends marked for the
    /// next snapshot without stalling the loop, and its end means nothing.
    Abandoned,
}

/// Where a snapshot goes: written to `temp`, synced, then renamed to
/// `path` by the writer (when given; an AOF rewrite's base is moved into
/// its directory by the loop, with the manifest).
pub struct Target {
    pub temp: PathBuf,
    pub path: Option<PathBuf>,
    pub format: Format,
    pub purpose: Purpose,
    /// Sync every `INCREMENTAL_FSYNC_BYTES` as the file grows
    /// (`rdb-save-incremental-fsync`, `aof-rewrite-incremental-fsync`).
    pub incremental_fsync: bool,
}

/// How much is written between two syncs of an incremental-fsync file
/// (Redis's `REDIS_AUTOSYNC_BYTES`): one sync of a whole big file at the
/// end makes the filesystem's journal commit that much at once, which
/// stalls the loop's own AOF writes meanwhile.
const INCREMENTAL_FSYNC_BYTES: u64 = 4 << 20;

enum Msg {
    Bytes(Vec<u8>),
    /// All bytes are sent: write the end and the checksum, sync, rename.
    Finish {
        checksum: bool,
        format: Format,
    },
}

/// A snapshot in progress, owned by the store.
pub struct Snapshot {
    tx: SyncSender<Msg>,
    done_rx: Receiver<io::Result<u64>>,
    /// Bytes gathered for the writer.
    pending: Vec<u8>,
    /// The database whose SELECTDB the file saw last.
    last_db: Option<usize>,
    /// Databases whose RESIZEDB hint was written, by file number.
    started_dbs: Vec<bool>,
    /// Key counts at the start, for the RESIZEDB hints.
    sizes: Vec<(usize, usize)>,
    /// Every walk is done and the end was sent; waiting for the writer.
    finishing: bool,
    /// The writer has stopped (an I/O error): the walks go on, so every
    /// node ends marked for the next snapshot, and their bytes are dropped.
    discard: bool,
    pub started: Instant,
    /// The change counter when the snapshot started.
    pub dirty_at_start: u64,
    pub purpose: Purpose,
    format: Format,
}

/// What became of a snapshot.
pub enum Outcome {
    Running,
    Saved { bytes: u64 },
    Failed(io::Error),
}

/// Starts a snapshot of every database: flips their marks, sends the
/// header, and starts the writer thread.
pub fn start(store: &mut Store, now_ms: u64, target: Target) -> io::Result<Snapshot> {
    let Target {
        temp,
        path,
        format,
        purpose,
        incremental_fsync,
    } = target;
    let file = File::create(&temp)?;
    let (tx, rx) = mpsc::sync_channel::<Msg>(CHANNEL_CHUNKS);
    let (done_tx, done_rx) = mpsc::channel();
    std::thread::Builder::new()
        .name("ferrokv-bgsave".into())
        .spawn(move || {
            let sync_every = incremental_fsync.then_some(INCREMENTAL_FSYNC_BYTES);
            let result = write_file(file, &rx, &temp, path.as_ref(), sync_every);
            if result.is_err() {
                let _ = std::fs::remove_file(&temp);
            }
            let _ = done_tx.send(result);
        })?;
    let comp = compression(&store.config);
    let mut sizes = Vec::with_capacity(store.dbs.len());
    for (index, db) in store.dbs.iter_mut().enumerate() {
        sizes.push((db.len(), db.expires_len()));
        let access = access_info(&store.config, db.policy);
        db.begin_snapshot(DbSnap {
            index,
            cursor: 0,
            out: Vec::new(),
            detached: None,
            comp,
            access,
            now_ms,
            format,
        });
    }
    let mut header = Vec::new();
    match format {
        Format::Rdb => rdb::put_header(
            &mut header,
            &rdb::Aux {
                redis_ver: crate::REDIS_VERSION,
                ctime_s: now_ms / 1000,
                used_mem: crate::alloc::allocated_bytes(),
            },
        ),
        Format::Commands if store.effects.aof.timestamps => {
            crate::persist::aof::format::put_timestamp(&mut header, now_ms / 1000)
        }
        Format::Commands => {}
    }
    // The libraries as they are now, before any key (Redis saves them
    // after the aux fields, and an AOF base starts with their LOADs).
    let codes = store.scripting.functions.libs.codes();
    match format {
        Format::Rdb => rdb::put_functions(&mut header, &codes, comp),
        Format::Commands => crate::persist::aof::format::put_functions(&mut header, &codes),
    }
    Ok(Snapshot {
        tx,
        done_rx,
        pending: header,
        last_db: None,
        started_dbs: vec![false; store.dbs.len()],
        sizes,
        finishing: false,
        discard: false,
        started: Instant::now(),
        dirty_at_start: store.dirty,
        purpose,
        format,
    })
}

impl Snapshot {
    /// Appends `bytes` of database `index` to the file's pending bytes,
    /// behind a SELECTDB when the file was last in another database.
    fn add(&mut self, index: usize, bytes: &[u8]) {
        if bytes.is_empty() || self.discard {
            return;
        }
        if self.last_db != Some(index) && self.format == Format::Commands {
            crate::persist::aof::format::put_select(&mut self.pending, index);
            self.last_db = Some(index);
        } else if self.last_db != Some(index) {
            if self.started_dbs[index] {
                self.pending.push(0xFE); // SELECTDB
                rdb::put_len(&mut self.pending, index as u64);
            } else {
                let (keys, expires) = self.sizes[index];
                rdb::put_db_start(&mut self.pending, index, keys, expires);
                self.started_dbs[index] = true;
            }
            self.last_db = Some(index);
        }
        self.pending.extend_from_slice(bytes);
    }

    /// Hands the pending bytes to the writer if the channel has room.
    /// Returns false when it has none (the writer is behind).
    fn send_pending(&mut self) -> bool {
        if self.pending.is_empty() {
            return true;
        }
        let chunk = std::mem::take(&mut self.pending);
        match self.tx.try_send(Msg::Bytes(chunk)) {
            Ok(()) => true,
            Err(TrySendError::Full(Msg::Bytes(chunk))) => {
                self.pending = chunk;
                false
            }
            // The writer stopped (an I/O error): its result says why.
            Err(_) => {
                self.discard = true;
                true
            }
        }
    }

    /// One step: gathers what the write hook wrote ahead of the walk,
    /// walks on for up to a millisecond, and passes bytes to the writer.
    /// Returns the outcome once the writer has finished.
    pub fn step(&mut self, store: &mut Store, checksum: bool) -> Outcome {
        if self.finishing {
            return self.poll_done();
        }
        // Tests slow a snapshot down to write during it: one key a step.
        let slow = !pause(&store.config).is_zero();
        let keys_per_batch = if slow { 1 } else { KEYS_PER_CLOCK_READ };
        // Bytes the hook wrote, in every database.
        let mut gathered = Vec::new();
        for pos in 0..store.dbs.len() {
            if let Some(snap) = store.dbs[pos].snap.as_deref_mut()
                && !snap.out.is_empty()
            {
                let index = snap.index;
                std::mem::swap(&mut gathered, &mut snap.out);
                self.add(index, &gathered);
                gathered.clear();
            }
        }
        let start = Instant::now();
        let mut all_done = true;
        for pos in 0..store.dbs.len() {
            if store.dbs[pos].snap.is_none() {
                continue;
            }
            loop {
                if self.pending.len() >= CHUNK_BYTES && !self.send_pending() {
                    // The writer is behind: let it catch up.
                    return Outcome::Running;
                }
                let Some(index) = store.dbs[pos].snap.as_ref().map(|s| s.index) else {
                    break;
                };
                let finished = store.dbs[pos].snapshot_step(keys_per_batch, &mut gathered);
                self.add(index, &gathered);
                gathered.clear();
                if finished {
                    break;
                }
                if slow || start.elapsed() >= STEP_BUDGET {
                    self.send_pending();
                    return Outcome::Running;
                }
            }
            all_done &= store.dbs[pos].snap.is_none();
        }
        if !all_done || !self.send_pending() {
            return Outcome::Running;
        }
        let format = self.format;
        match self.tx.try_send(Msg::Finish { checksum, format }) {
            Ok(()) => self.finishing = true,
            Err(TrySendError::Full(_)) => return Outcome::Running,
            Err(TrySendError::Disconnected(_)) => self.finishing = true,
        }
        self.poll_done()
    }

    fn poll_done(&mut self) -> Outcome {
        match self.done_rx.try_recv() {
            Ok(Ok(bytes)) => Outcome::Saved { bytes },
            Ok(Err(e)) => Outcome::Failed(e),
            Err(TryRecvError::Empty) => Outcome::Running,
            Err(TryRecvError::Disconnected) => {
                Outcome::Failed(io::Error::other("the snapshot writer thread stopped"))
            }
        }
    }

    /// Gives the snapshot up (see `Purpose::Abandoned`): the writer sees
    /// its channel close and removes its temporary file.
    pub fn abandon(&mut self) {
        self.purpose = Purpose::Abandoned;
        self.discard = true;
        self.pending = Vec::new();
        let (closed, _) = mpsc::sync_channel(0);
        self.tx = closed;
    }

    /// Whether the loop should come back at once (the walk has work and
    /// the writer has room) rather than sleep.
    pub fn busy(&self) -> bool {
        !self.finishing
    }
}

/// How long the loop may wait for events between two steps: none, unless
/// `rdb-key-save-delay` (microseconds, as Redis's tests use it to slow a
/// child's save) asks for a slow snapshot, one key per step.
pub fn pause(config: &crate::config::Config) -> Duration {
    let us = config
        .get("rdb-key-save-delay")
        .and_then(|v| v.parse::<i64>().ok())
        .unwrap_or(0);
    Duration::from_micros(us.max(0) as u64)
}

/// Stops a snapshot at shutdown: the walks are dropped as they are (the
/// marks they leave half-flipped die with the process), and the writer
/// thread, seeing the channel close, removes its temporary file.
pub fn abandon_at_shutdown(store: &mut Store, snapshot: Snapshot) {
    drop(snapshot);
    for db in &mut store.dbs {
        db.snap = None;
    }
}

/// The writer thread: takes chunks until `Finish`, then ends the file,
/// syncs it, and renames it into place.
fn write_file(
    file: File,
    rx: &Receiver<Msg>,
    temp: &PathBuf,
    path: Option<&PathBuf>,
    sync_every: Option<u64>,
) -> io::Result<u64> {
    let mut w = BufWriter::with_capacity(1 << 20, file);
    let mut crc = 0u64;
    let mut written = 0u64;
    let mut synced = 0u64;
    loop {
        match rx.recv() {
            Ok(Msg::Bytes(chunk)) => {
                crc = crc64::crc64(crc, &chunk);
                w.write_all(&chunk)?;
                written += chunk.len() as u64;
                if let Some(every) = sync_every
                    && written - synced >= every
                {
                    w.flush()?;
                    w.get_ref().sync_data()?;
                    synced = written;
                }
            }
            Ok(Msg::Finish { checksum, format }) => {
                if format == Format::Rdb {
                    let mut end = Vec::with_capacity(9);
                    rdb::put_footer(&mut end, crc, checksum);
                    w.write_all(&end)?;
                    written += end.len() as u64;
                }
                break;
            }
            Err(_) => return Err(io::Error::other("snapshot aborted")),
        }
    }
    let file = w.into_inner().map_err(|e| e.into_error())?;
    file.sync_all()?;
    if let Some(path) = path {
        std::fs::rename(temp, path)?;
        sync_dir_of(path)?;
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::{Db, Str, Ttl};
    use crate::util::Rng;
    use std::collections::BTreeMap;

    fn snap_for(index: usize) -> DbSnap {
        DbSnap {
            index,
            cursor: 0,
            out: Vec::new(),
            detached: None,
            comp: Compression::Lzf,
            access: AccessInfo::None,
            now_ms: 0,
            format: Format::Rdb,
        }
    }

    /// The keys of a database with their values and deadlines.
    fn contents(db: &Db) -> BTreeMap<Vec<u8>, (Vec<u8>, u64)> {
        let mut out = BTreeMap::new();
        db.for_each_with_meta(|k, v, _, expire| {
            let Value::Str(s) = v else {
                panic!("strings only")
            };
            out.insert(k.to_vec(), (s.as_bytes().into_owned(), expire));
        });
        out
    }

    /// Random writes during a walk, then the walk's bytes loaded back:
    /// they must be the database as it was when the walk started, whatever
    /// the writes did (overwrites, deletes that move nodes below the walk,
    /// new keys, deadlines set and removed, a flush mid-walk).
    #[test]
    fn a_walk_writes_the_database_as_it_was() {
        for seed in 0..40 {
            let mut rng = Rng::new(seed);
            let mut db = Db::new();
            let n = 500 + rng.below(1500) as usize;
            for i in 0..n {
                db.set(
                    format!("k{i}").as_bytes(),
                    Value::Str(Str::encoded(format!("v{i}").as_bytes())),
                    Ttl::Clear,
                    0,
                );
                if rng.below(4) == 0 {
                    db.set_expire(format!("k{i}").as_bytes(), 10_000_000 + i as u64);
                }
            }
            let before = contents(&db);
            db.begin_snapshot(snap_for(0));
            let mut out = Vec::new();
            let flush_at = (seed % 3 == 0).then(|| rng.below(n as u64) as usize);
            let mut steps = 0;
            while !db.snapshot_step(1 + rng.below(20) as usize, &mut out) {
                steps += 1;
                for _ in 0..rng.below(30) {
                    let key = format!("k{}", rng.below(2 * n as u64));
                    match rng.below(6) {
                        0 => db.set(
                            key.as_bytes(),
                            Value::Str(Str::encoded(b"changed")),
                            Ttl::Clear,
                            0,
                        ),
                        1 | 2 => {
                            db.remove(key.as_bytes());
                        }
                        3 => db.set_expire(key.as_bytes(), 20_000_000),
                        4 => {
                            db.persist(key.as_bytes());
                        }
                        _ => {
                            let _ = db.lookup(key.as_bytes(), 0);
                        }
                    }
                }
                if flush_at == Some(steps) {
                    db.flush();
                }
            }
            assert!(db.snap.is_none());
            // The walk's bytes as a file, loaded into a fresh database.
            let mut file = Vec::new();
            rdb::put_header(
                &mut file,
                &rdb::Aux {
                    redis_ver: "7.0.15",
                    ctime_s: 0,
                    used_mem: 0,
                },
            );
            rdb::put_db_start(&mut file, 0, 0, 0);
            file.extend_from_slice(&out);
            rdb::put_footer(&mut file, 0, false);
            let mut loaded = vec![Db::new()];
            let shapes = rdb::Shapes {
                hash: crate::types::hash::Limits {
                    max_entries: 128,
                    max_value: 64,
                },
                max_intset_entries: 512,
                zset: crate::types::zset::ListpackLimits {
                    max_entries: 128,
                    max_value: 64,
                },
                list_fill: crate::types::list::Fill::default(),
            };
            rdb::load(&file, &mut loaded, &shapes, 0, rdb::Checksum::Skip).unwrap();
            assert_eq!(contents(&loaded[0]), before, "seed {seed}");
            // Every node ends written, so the next walk starts clean.
            let after = contents(&db);
            db.begin_snapshot(snap_for(0));
            let mut again = Vec::new();
            while !db.snapshot_step(1000, &mut again) {}
            let mut file2 = file[..file.len() - 9 - out.len()].to_vec();
            file2.extend_from_slice(&again);
            rdb::put_footer(&mut file2, 0, false);
            let mut loaded2 = vec![Db::new()];
            rdb::load(&file2, &mut loaded2, &shapes, 0, rdb::Checksum::Skip).unwrap();
            assert_eq!(contents(&loaded2[0]), after, "seed {seed}, second walk");
        }
    }
}
