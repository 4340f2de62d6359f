//! Loading the append-only file at start-up, in steps of a couple of
//! milliseconds (clients get `-LOADING` meanwhile), as Redis's
//! `loadAppendOnlyFiles`: the manifest's base (an RDB file, or commands),
//! then each incremental file, every command run through `call()` for a
//! client of the loader's own that has no connection.
//!
//! Nothing expires while the files replay: a key past its deadline may
//! still be written by a later command, as it was when that command ran.
//! A last command cut short is cut off the file when `aof-load-truncated`
//! allows it (and so is a transaction the file ends inside); anything
//! else wrong stops the server with the file's name and the offset.

use std::fs::File;
use std::io::{self, Read, Seek};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use bytes::Bytes;
use slab::Slab;

use super::format::{FileKind, Manifest, Next};
use super::{dir, filename, manifest_name};
use crate::client::Client;
use crate::cmd::{self, Resolved};
use crate::db::Db;
use crate::persist::rdb;
use crate::resp::Reply;
use crate::store::Store;

/// How long one load step may hold the loop.
const STEP_BUDGET: Duration = Duration::from_millis(2);
/// Commands run between clock reads.
const COMMANDS_PER_CLOCK_READ: usize = 256;
/// What a command file is read in.
const READ_CHUNK_BYTES: usize = 1 << 20;

/// A load in progress.
pub struct Loading {
    /// The files to load, in order: the base, then the incremental files.
    files: Vec<String>,
    next: usize,
    current: Option<Current>,
    pub total_bytes: u64,
    /// Bytes of the files already loaded.
    done_bytes: u64,
    pub started_unix_s: i64,
    started: Instant,
    /// The loader's client (a slab slot), made when the first command runs.
    client: Option<usize>,
    out: Reply,
}

enum Current {
    /// An RDB base (or the RDB preamble of an old single-file AOF), loaded
    /// into fresh databases that replace the store's when it ends.
    Rdb {
        name: String,
        path: PathBuf,
        loader: rdb::Loader<Vec<u8>>,
        dbs: Vec<Db>,
        last: bool,
    },
    Commands(CommandFile),
}

/// A file of commands, read a chunk at a time.
struct CommandFile {
    name: String,
    path: PathBuf,
    file: File,
    buf: Vec<u8>,
    /// The read position in `buf`, and the file offset of `buf[0]`.
    pos: usize,
    buf_offset: u64,
    eof: bool,
    /// The offset after the last command run, and before the MULTI of
    /// the transaction being read (where a truncation cuts).
    valid_up_to: u64,
    valid_before_multi: u64,
    /// The commands of a transaction read so far: run at its EXEC.
    multi: Option<Vec<Vec<Bytes>>>,
    last: bool,
}

/// How a load ended badly: the message the server stops with.
pub type LoadError = String;

impl Loading {
    /// The bytes loaded so far, and in all (INFO's `loading_*` fields).
    pub fn progress(&self) -> (u64, u64) {
        let current = match &self.current {
            Some(Current::Rdb { loader, .. }) => loader.progress().0 as u64,
            Some(Current::Commands(f)) => f.buf_offset + f.pos as u64,
            None => 0,
        };
        (self.done_bytes + current, self.total_bytes)
    }
}

/// Reads the manifest and opens the load (Redis's `aofLoadManifestFromDisk`
/// and the start of `loadAppendOnlyFiles`). An old single-file AOF in the
/// working directory is moved into a new directory first. `Ok(None)` when
/// there is nothing to load.
pub fn begin(store: &mut Store) -> Result<Option<Loading>, LoadError> {
    let config = &store.config;
    let d = dir(config);
    let manifest_path = d.join(manifest_name(config));
    let mut manifest = if d.is_dir() && manifest_path.exists() {
        let text = std::fs::read(&manifest_path).map_err(|e| {
            format!(
                "Fatal error: can't open the AOF manifest file {}: {e}",
                manifest_path.display()
            )
        })?;
        Manifest::parse(&text).map_err(|e| format!("*** FATAL AOF MANIFEST FILE ERROR *** {e}"))?
    } else {
        Manifest::default()
    };
    let name = filename(config);
    if Path::new(&name).is_file() {
        let base_is_old = manifest.base.as_ref().is_some_and(|b| b.name == name)
            && manifest.incrs.is_empty()
            && !d.join(&name).exists();
        if !d.is_dir() || (manifest.base.is_none() && manifest.incrs.is_empty()) || base_is_old {
            upgrade(store, &mut manifest)?;
        }
    }
    store.aof.manifest = manifest.clone();
    if manifest.base.is_none() && manifest.incrs.is_empty() {
        return Ok(None);
    }
    let mut total = 0;
    let mut files = Vec::new();
    let mut base_size = 0;
    for f in manifest.data_files() {
        let size = std::fs::metadata(d.join(&f.name))
            .map_err(|e| format!("Unable to obtain the AOF file {} length. stat: {e}", f.name))?
            .len();
        total += size;
        if f.kind == FileKind::Base {
            base_size = size;
        }
        files.push(f.name.clone());
    }
    if total == 0 {
        return Ok(None);
    }
    store.aof.current_size = total;
    store.aof.rewrite_base_size = base_size;
    Ok(Some(Loading {
        files,
        next: 0,
        current: None,
        total_bytes: total,
        done_bytes: 0,
        started_unix_s: (crate::store::unix_ms() / 1000) as i64,
        started: Instant::now(),
        client: None,
        out: Reply::default(),
    }))
}

/// Moves an old single-file AOF (`appendfilename` in the working
/// directory) into the directory as its base (Redis's `aofUpgradePrepare`).
fn upgrade(store: &Store, manifest: &mut Manifest) -> Result<(), LoadError> {
    let config = &store.config;
    let name = filename(config);
    super::create_dir(config).map_err(|e| format!("Can't open or create append-only dir: {e}"))?;
    manifest.base = Some(super::format::AofFile {
        name: name.clone(),
        seq: 1,
        kind: FileKind::Base,
    });
    manifest.base_seq = 1;
    super::persist_manifest(config, manifest)
        .map_err(|e| format!("Can't write the AOF manifest: {e}"))?;
    std::fs::rename(&name, dir(config).join(&name)).map_err(|e| {
        format!(
            "Error trying to move the old AOF file {name} into dir {}: {e}",
            dir(config).display()
        )
    })?;
    log::info!(
        "Successfully migrated an old-style AOF file ({name}) into the AOF directory ({}).",
        dir(config).display()
    );
    Ok(())
}

/// Loads on for a couple of milliseconds. Returns true once every file
/// has loaded (the loader's client is gone then).
pub fn drive(
    store: &mut Store,
    clients: &mut Slab<Client>,
    now_ms: u64,
) -> Result<bool, LoadError> {
    let Some(mut loading) = store.aof.loading.take() else {
        return Ok(true);
    };
    // What the file replays is not written back to it.
    store.effects.aof.on = false;
    let slow = !crate::persist::load_pause(&store.config).is_zero();
    let start = Instant::now();
    let result = loop {
        match step(store, clients, &mut loading, now_ms, slow) {
            Ok(true) => break Ok(true),
            Ok(false) if slow || start.elapsed() >= STEP_BUDGET => break Ok(false),
            Ok(false) => {}
            Err(e) => break Err(e),
        }
    };
    match result {
        Ok(false) => {
            store.aof.loading = Some(loading);
            Ok(false)
        }
        done => {
            finish(store, clients, &mut loading, done.is_ok());
            done
        }
    }
}

/// Loads the whole AOF at once, on the loop (DEBUG LOADAOF). Files that
/// do not exist load as nothing.
pub fn load_now(
    store: &mut Store,
    clients: &mut Slab<Client>,
    now_ms: u64,
) -> Result<(), LoadError> {
    let Some(loading) = begin(store)? else {
        return Ok(());
    };
    store.aof.loading = Some(loading);
    while !drive(store, clients, now_ms)? {}
    Ok(())
}

/// Ends a load: the loader's client goes, expiry resumes.
fn finish(store: &mut Store, clients: &mut Slab<Client>, loading: &mut Loading, ok: bool) {
    if let Some(token) = loading.client.take()
        && clients.contains(token)
    {
        clients.remove(token);
    }
    for db in &mut store.dbs {
        db.expiry = crate::db::Expiry::Delete;
    }
    super::refresh_feed(store);
    if ok {
        log::info!(
            "DB loaded from append only file: {:.3} seconds",
            loading.started.elapsed().as_secs_f64()
        );
    }
}

/// Runs one batch: opens the next file, or loads on in the current one.
fn step(
    store: &mut Store,
    clients: &mut Slab<Client>,
    loading: &mut Loading,
    now_ms: u64,
    slow: bool,
) -> Result<bool, LoadError> {
    let batch = if slow { 1 } else { COMMANDS_PER_CLOCK_READ };
    match loading.current.take() {
        None => {
            if loading.next == loading.files.len() {
                return Ok(true);
            }
            let name = loading.files[loading.next].clone();
            loading.next += 1;
            let last = loading.next == loading.files.len();
            loading.current = open(store, &name, last)?;
            Ok(false)
        }
        Some(Current::Rdb {
            name,
            path,
            mut loader,
            mut dbs,
            last,
        }) => {
            let shapes = crate::persist::shapes(&store.config);
            let done = loader
                .step(&mut dbs, &shapes, now_ms, batch * 4)
                .map_err(|e| {
                    format!("Error reading the RDB base file {name}, AOF loading aborted: {e}")
                })?;
            if !done {
                loading.current = Some(Current::Rdb {
                    name,
                    path,
                    loader,
                    dbs,
                    last,
                });
                return Ok(false);
            }
            let functions = crate::persist::loaded_functions(store, loader.loaded())
                .map_err(|e| format!("Error reading the RDB base file {name}: {e}"))?;
            crate::persist::install(store, dbs);
            store.scripting.functions.libs = functions;
            pause_expiry(store);
            let (read, size) = loader.progress();
            if read < size {
                // An old single-file AOF: commands follow the preamble.
                log::info!("Reading the remaining AOF tail...");
                loading.current = Some(Current::Commands(CommandFile::open(
                    name,
                    path,
                    read as u64,
                    last,
                )?));
            } else {
                loading.done_bytes += size as u64;
                log::info!("DB loaded from base file {name}");
            }
            Ok(false)
        }
        Some(Current::Commands(mut f)) => {
            let done = run_commands(store, clients, loading, &mut f, now_ms, batch)?;
            if done {
                loading.done_bytes += f.buf_offset + f.pos as u64;
                log::info!("DB loaded from incr file {}", f.name);
            } else {
                loading.current = Some(Current::Commands(f));
            }
            Ok(false)
        }
    }
}

fn pause_expiry(store: &mut Store) {
    for db in &mut store.dbs {
        db.expiry = crate::db::Expiry::Off;
    }
}

/// Opens one file: an RDB one (it starts `REDIS`) or commands.
fn open(store: &mut Store, name: &str, last: bool) -> Result<Option<Current>, LoadError> {
    let path = dir(&store.config).join(name);
    let mut file = File::open(&path).map_err(|e| {
        format!("Fatal error: can't open the append log file {name} for reading: {e}")
    })?;
    let mut sig = [0u8; 5];
    let got = read_up_to(&mut file, &mut sig)
        .map_err(|e| format!("Unrecoverable error reading the append only file {name}: {e}"))?;
    pause_expiry(store);
    if got == 0 {
        return Ok(None);
    }
    if got == 5 && &sig == b"REDIS" {
        log::info!("Reading RDB base file on AOF loading...");
        let data = std::fs::read(&path)
            .map_err(|e| format!("Unrecoverable error reading the append only file {name}: {e}"))?;
        let checksum = if store.config.get("rdbchecksum") == Some("no") {
            rdb::Checksum::Skip
        } else {
            rdb::Checksum::Verify
        };
        let mut loader = rdb::Loader::new(data, checksum).map_err(|e| {
            format!("Error reading the RDB base file {name}, AOF loading aborted: {e}")
        })?;
        loader.keep_expired_keys();
        let dbs = (0..store.dbs.len()).map(|_| Db::new()).collect();
        return Ok(Some(Current::Rdb {
            name: name.to_string(),
            path,
            loader,
            dbs,
            last,
        }));
    }
    Ok(Some(Current::Commands(CommandFile::open(
        name.to_string(),
        path,
        0,
        last,
    )?)))
}

fn read_up_to(file: &mut File, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match file.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

impl CommandFile {
    fn open(
        name: String,
        path: PathBuf,
        offset: u64,
        last: bool,
    ) -> Result<CommandFile, LoadError> {
        let mut file = File::open(&path).map_err(|e| {
            format!("Fatal error: can't open the append log file {name} for reading: {e}")
        })?;
        file.seek(io::SeekFrom::Start(offset))
            .map_err(|e| format!("Unrecoverable error reading the append only file {name}: {e}"))?;
        Ok(CommandFile {
            name,
            path,
            file,
            buf: Vec::new(),
            pos: 0,
            buf_offset: offset,
            eof: false,
            valid_up_to: offset,
            valid_before_multi: offset,
            multi: None,
            last,
        })
    }

    /// Reads more of the file behind what is left unread in `buf`.
    fn fill(&mut self) -> Result<(), LoadError> {
        self.buf.drain(..self.pos);
        self.buf_offset += self.pos as u64;
        self.pos = 0;
        let want = READ_CHUNK_BYTES.max(self.buf.len());
        let old = self.buf.len();
        self.buf.resize(old + want, 0);
        let got = read_up_to(&mut self.file, &mut self.buf[old..]).map_err(|e| {
            format!(
                "Unrecoverable error reading the append only file {}: {e}",
                self.name
            )
        })?;
        self.buf.truncate(old + got);
        if got == 0 {
            self.eof = true;
        }
        Ok(())
    }

    fn offset(&self) -> u64 {
        self.buf_offset + self.pos as u64
    }
}

/// Runs up to `batch` commands of the file. Returns true at its end.
fn run_commands(
    store: &mut Store,
    clients: &mut Slab<Client>,
    loading: &mut Loading,
    f: &mut CommandFile,
    now_ms: u64,
    batch: usize,
) -> Result<bool, LoadError> {
    let mut ran = 0;
    while ran < batch {
        match super::format::next_command(&f.buf, f.pos) {
            Next::Annotation(end) => f.pos = end,
            Next::Command(argv, end) => {
                f.pos = end;
                run_one(store, clients, loading, f, argv, now_ms)?;
                ran += 1;
            }
            Next::End | Next::Incomplete if !f.eof => f.fill()?,
            Next::End => {
                if f.multi.is_some() {
                    log::warn!(
                        "Revert incomplete MULTI/EXEC transaction in AOF file {}",
                        f.name
                    );
                    f.valid_up_to = f.valid_before_multi;
                    return truncated(store, f);
                }
                return Ok(true);
            }
            Next::Incomplete => return truncated(store, f),
            Next::Malformed(at) => {
                return Err(format!(
                    "Bad file format reading the append only file {} at offset {}: make a backup of your AOF file, then use ./redis-check-aof --fix <filename.manifest>",
                    f.name,
                    f.buf_offset + at as u64
                ));
            }
        }
    }
    Ok(false)
}

/// The file ends inside a command (or a transaction): cut it off at the
/// last whole one when `aof-load-truncated` says so and this is the last
/// file, else stop.
fn truncated(store: &Store, f: &mut CommandFile) -> Result<bool, LoadError> {
    // Cut inside a transaction: it goes whole, MULTI too, or the writes
    // appended after the cut would be read as part of it next time.
    if f.multi.is_some() {
        f.valid_up_to = f.valid_before_multi;
    }
    if store.config.get("aof-load-truncated") != Some("no") {
        if !f.last {
            return Err(format!(
                "Fatal error: the truncated file is not the last file ({})",
                f.name
            ));
        }
        log::warn!(
            "!!! Warning: short read while loading the AOF file {}!!!",
            f.name
        );
        log::warn!(
            "!!! Truncating the AOF {} at offset {} !!!",
            f.name,
            f.valid_up_to
        );
        match std::fs::OpenOptions::new()
            .write(true)
            .open(&f.path)
            .and_then(|file| file.set_len(f.valid_up_to))
        {
            Ok(()) => {
                log::warn!(
                    "AOF {} loaded anyway because aof-load-truncated is enabled",
                    f.name
                );
                // What counts as read is what the file now holds.
                f.buf.clear();
                f.pos = 0;
                f.buf_offset = f.valid_up_to;
                return Ok(true);
            }
            Err(e) => log::warn!("Error truncating the AOF file {}: {e}", f.name),
        }
    }
    Err(format!(
        "Unexpected end of file reading the append only file {} at offset {}. You can: 1) Make a backup of your AOF file, then use ./redis-check-aof --fix <filename.manifest>. 2) Alternatively you can set the 'aof-load-truncated' configuration option to yes and restart the server.",
        f.name, f.valid_up_to
    ))
}

/// Runs one command of the file, or queues it inside a transaction.
fn run_one(
    store: &mut Store,
    clients: &mut Slab<Client>,
    loading: &mut Loading,
    f: &mut CommandFile,
    argv: Vec<Bytes>,
    now_ms: u64,
) -> Result<(), LoadError> {
    let name = argv[0].to_ascii_lowercase();
    if name == b"multi" {
        f.valid_before_multi = f.valid_up_to;
        f.multi = Some(Vec::new());
    } else if name == b"exec" {
        for queued in f.multi.take().unwrap_or_default() {
            call(store, clients, loading, &f.name, &queued, now_ms)?;
        }
    } else if let Some(queue) = f.multi.as_mut() {
        if cmd::lookup(&argv[0]).is_none() {
            return Err(unknown(&argv, &f.name));
        }
        queue.push(argv);
    } else {
        call(store, clients, loading, &f.name, &argv, now_ms)?;
    }
    f.valid_up_to = f.offset();
    Ok(())
}

fn unknown(argv: &[Bytes], file: &str) -> LoadError {
    format!(
        "Unknown command '{}' reading the append only file {file}",
        String::from_utf8_lossy(&argv[0])
    )
}

/// Runs a command through `call()` for the loader's client; its reply is
/// dropped (Redis's AOF client has no connection).
fn call(
    store: &mut Store,
    clients: &mut Slab<Client>,
    loading: &mut Loading,
    file: &str,
    argv: &[Bytes],
    now_ms: u64,
) -> Result<(), LoadError> {
    let (cmd, handler) = match cmd::resolve(argv) {
        Resolved::Found(cmd, handler) => (cmd, handler),
        _ if cmd::lookup(&argv[0]).is_none() => return Err(unknown(argv, file)),
        _ => {
            return Err(format!(
                "Bad file format reading the append only file {file}: wrong number of arguments for '{}'",
                String::from_utf8_lossy(&argv[0])
            ));
        }
    };
    let token = match loading.client {
        Some(t) => t,
        None => {
            let id = store.next_client_id;
            store.next_client_id += 1;
            let t = clients.insert(Client::detached(id, now_ms));
            loading.client = Some(t);
            t
        }
    };
    let req = crate::call::Request {
        token,
        cmd,
        handler,
        args: argv,
        now_ms,
        deny_blocking: true,
        serving: None,
        nested: false,
    };
    let mut clock = Instant::now();
    crate::call::call(store, clients, &mut loading.out, req, &mut clock);
    loading.out.truncate_pending(0);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_is_read_across_chunk_boundaries() {
        let dir = std::env::temp_dir().join(format!("ferrokv-aofload-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("x.aof");
        let mut data = Vec::new();
        let big = vec![b'v'; READ_CHUNK_BYTES + 17];
        super::super::format::put_command(&mut data, &[&b"SET"[..], b"a", &big]);
        super::super::format::put_command(&mut data, &[&b"SET"[..], b"b", b"1"]);
        std::fs::write(&path, &data).unwrap();
        let mut f = CommandFile::open("x.aof".into(), path, 0, true).unwrap();
        let mut seen = Vec::new();
        loop {
            match super::super::format::next_command(&f.buf, f.pos) {
                Next::Command(argv, end) => {
                    f.pos = end;
                    seen.push(argv[2].len());
                }
                Next::End | Next::Incomplete if !f.eof => f.fill().unwrap(),
                Next::End => break,
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(seen, [READ_CHUNK_BYTES + 17, 1]);
        assert_eq!(f.offset(), data.len() as u64);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
