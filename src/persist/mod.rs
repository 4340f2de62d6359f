//! Persistence: the RDB file format (snapshots, DUMP payloads), and saving
//! and loading the whole dataset.
//!
//! Files are written as Redis writes them: to `temp-<pid>.rdb` in the
//! working directory (`dir`), flushed and fsynced, then renamed over
//! `dbfilename`, and the directory fsynced, so a crash leaves either the
//! old file or the new one, never half of one.

pub mod crc64;
pub mod lzf;
pub mod rdb;

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
enum AccessInfo {
    None,
    Idle,
    Freq { decay_minutes: u32 },
}

fn access_info(config: &Config, policy: AccessPolicy) -> AccessInfo {
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
    for (index, db) in store.dbs.iter().enumerate() {
        if db.is_empty() {
            continue;
        }
        rdb::put_db_start(&mut buf, index, db.len(), db.expires_len());
        let info = access_info(&store.config, db.policy);
        let mut failed = None;
        db.for_each_with_meta(|key, value, access, expire_ms| {
            let meta = KeyMeta {
                expire_ms,
                idle_s: matches!(info, AccessInfo::Idle).then(|| idle_seconds(access, now_ms)),
                freq: match info {
                    AccessInfo::Freq { decay_minutes } => {
                        Some(lfu_counter(access, decay_minutes, now_ms) as u8)
                    }
                    _ => None,
                },
            };
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
    let result = (|| {
        let file = File::create(&temp)?;
        let file = write_rdb(store, now_ms, BufWriter::with_capacity(1 << 20, file))?;
        let file = file.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        let bytes = file.metadata()?.len();
        std::fs::rename(&temp, &path)?;
        sync_dir_of(&path)?;
        Ok(bytes)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    result
}

/// Fsyncs the directory holding `path`, so a rename in it is durable.
fn sync_dir_of(path: &Path) -> io::Result<()> {
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

/// Reads the RDB file at `path` into fresh databases, returning them and
/// what was loaded, or `Ok(None)` when there is no file. The store is not
/// touched: the caller installs the databases only if the whole file
/// loaded, so a bad file never leaves half a dataset.
pub fn load(
    store: &Store,
    path: &Path,
    now_ms: u64,
) -> Result<Option<(Vec<Db>, rdb::Loaded)>, LoadError> {
    let data = match std::fs::read(path) {
        Ok(d) => d,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(LoadError::Io(e)),
    };
    let mut dbs: Vec<Db> = store
        .dbs
        .iter()
        .map(|old| {
            let mut db = Db::new();
            db.policy = old.policy;
            db
        })
        .collect();
    let checksum = match store.config.get("rdbchecksum") {
        Some("no") => rdb::Checksum::Skip,
        _ => rdb::Checksum::Verify,
    };
    let loaded = rdb::load(&data, &mut dbs, &shapes(&store.config), now_ms, checksum)
        .map_err(LoadError::Format)?;
    Ok(Some((dbs, loaded)))
}

/// Puts loaded databases in place of the store's, keeping each index's
/// settings (what observers want logged).
pub fn install(store: &mut Store, dbs: Vec<Db>) {
    let old = std::mem::replace(&mut store.dbs, dbs);
    for (new, old) in store.dbs.iter_mut().zip(&old) {
        new.observed = old.observed;
    }
    crate::lazyfree::drop_later(old);
}
