//! Server commands: databases (SWAPDB, DBSIZE, FLUSH*), INFO, CONFIG, OBJECT,
//! MEMORY, SLOWLOG, MONITOR, SHUTDOWN, TIME and LASTSAVE.

use std::fmt::Write as _;

use bytes::Bytes;

use super::connection::reply_help;
use super::{CmdError, CmdResult, Ctx, arg_i64, help};
use crate::client::Mode;
use crate::config::ConfigError;
use crate::db::Entry;
use crate::pubsub::Kind;
use crate::store::{Shutdown, unix_us};
use crate::util::eq_ic;

/// DBSIZE
pub fn dbsize(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    let n = ctx.db().len();
    ctx.out.int(n as i64);
    Ok(())
}

/// Parses FLUSHDB/FLUSHALL's optional ASYNC|SYNC. Both free off the loop:
/// the tables are handed to the lazyfree thread either way, so a flush of
/// millions of keys never stalls other clients.
fn flush_mode(args: &[Bytes]) -> CmdResult {
    match args.len() {
        1 => Ok(()),
        2 if eq_ic(&args[1], "ASYNC") || eq_ic(&args[1], "SYNC") => Ok(()),
        _ => Err(CmdError::Syntax),
    }
}

/// FLUSHDB [ASYNC|SYNC]
pub fn flushdb(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    flush_mode(args)?;
    touch_watched_in(ctx, ctx.db_index, None);
    let n = ctx.db().flush();
    signal_flushed_streams(ctx, ctx.db_index);
    ctx.store.effects.flushed.push(Some(ctx.db_index));
    ctx.dirty(n as u64);
    ctx.out.ok();
    Ok(())
}

/// FLUSHALL [ASYNC|SYNC]
pub fn flushall(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    flush_mode(args)?;
    for db in 0..ctx.store.dbs.len() {
        touch_watched_in(ctx, db, None);
    }
    let n: usize = ctx.store.dbs.iter_mut().map(|db| db.flush()).sum();
    for db in 0..ctx.store.dbs.len() {
        signal_flushed_streams(ctx, db);
    }
    ctx.store.effects.flushed.push(None);
    ctx.dirty(n as u64);
    ctx.out.ok();
    Ok(())
}

/// Touches the keys watched in `db` that a flush or swap replaces.
pub(super) fn touch_watched_in(ctx: &mut Ctx, db: usize, replaced_with: Option<usize>) {
    if ctx.store.watches.is_empty() {
        return;
    }
    ctx.store
        .watches
        .touch_all_in_db(ctx.clients, &ctx.store.dbs, db, replaced_with, ctx.now_ms);
}

/// SWAPDB index1 index2
pub fn swapdb(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let index = |arg: &[u8], which: &str| {
        crate::util::parse_i64(arg)
            .filter(|n| i32::try_from(*n).is_ok())
            .ok_or_else(|| CmdError::err(format!("invalid {which} DB index")))
    };
    let a = index(&args[1], "first")?;
    let b = index(&args[2], "second")?;
    let n = ctx.store.dbs.len() as i64;
    if a < 0 || a >= n || b < 0 || b >= n {
        return Err(CmdError::err("DB index is out of range"));
    }
    let (a, b) = (a as usize, b as usize);
    // Swapping a database with itself changes nothing, and touches nothing.
    if a != b {
        touch_watched_in(ctx, a, Some(b));
        touch_watched_in(ctx, b, Some(a));
        ctx.store.dbs.swap(a, b);
        // What a database observes belongs to its index, not its contents.
        let (oa, ob) = (ctx.store.dbs[a].observed, ctx.store.dbs[b].observed);
        ctx.store.dbs[a].observed = ob;
        ctx.store.dbs[b].observed = oa;
        signal_swapped_in(ctx, a);
        signal_swapped_in(ctx, b);
    }
    ctx.dirty(1);
    ctx.out.ok();
    Ok(())
}

/// After a flush, signals the keys of `db` someone waits on, so clients
/// blocked in XREADGROUP learn that their streams are gone (Redis's
/// scanDatabaseForDeletedStreams, which does nothing while no client
/// waits on a stream).
fn signal_flushed_streams(ctx: &mut Ctx, db: usize) {
    if ctx.store.blocking.stream_readers > 0 {
        signal_swapped_in(ctx, db);
    }
}

/// Signals every key of `db` someone waits on, after SWAPDB brought in
/// new contents (Redis's scanDatabaseForReadyKeys): the waiter is asked
/// whether what is there now serves it.
fn signal_swapped_in(ctx: &mut Ctx, db: usize) {
    if !ctx.store.blocking.waits_in(db) {
        return;
    }
    for key in ctx.store.blocking.keys_in(db) {
        ctx.store.effects.ready.push((db, key));
    }
}

/// TIME
pub fn time(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    let us = unix_us();
    ctx.out.array(2);
    ctx.out.bulk_int((us / 1_000_000) as i64);
    ctx.out.bulk_int((us % 1_000_000) as i64);
    Ok(())
}

/// LASTSAVE
pub fn lastsave(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    ctx.out.int(ctx.store.lastsave_s);
    Ok(())
}

/// SHUTDOWN [NOSAVE|SAVE] [NOW] [FORCE] [ABORT]
pub fn shutdown(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let (mut abort, mut save, mut nosave, mut force) = (false, false, false, false);
    for a in &args[1..] {
        if eq_ic(a, "ABORT") {
            abort = true;
        } else if eq_ic(a, "NOSAVE") {
            nosave = true;
        } else if eq_ic(a, "SAVE") {
            save = true;
        } else if eq_ic(a, "FORCE") {
            force = true;
        } else if !eq_ic(a, "NOW") {
            return Err(CmdError::Syntax);
        }
    }
    if save && nosave {
        return Err(CmdError::Syntax);
    }
    if abort {
        if args.len() > 2 {
            return Err(CmdError::Syntax);
        }
        return Err(CmdError::err("No shutdown in progress."));
    }
    // As Redis's prepareForShutdown: save when asked to, or when save
    // points are set and NOSAVE was not given. A failed save keeps the
    // server up unless FORCE. On success the client gets no reply: the
    // connection closes with the server.
    // The AOF is written and synced first (a first base still being
    // written keeps the server up, unless FORCE).
    if crate::persist::aof::prepare_shutdown(ctx.store, force).is_err() {
        return Err(CmdError::err("Errors trying to SHUTDOWN. Check logs."));
    }
    // While loading, nothing is saved: the file on disk is the dataset.
    if !ctx.store.loading()
        && (save || (!nosave && crate::persist::has_save_points(&ctx.store.config)))
        && let Err(e) = crate::persist::save_before_exit(ctx.store, ctx.now_ms)
    {
        log::warn!("Error trying to save the DB, can't exit: {e}");
        if !force {
            return Err(CmdError::err("Errors trying to SHUTDOWN. Check logs."));
        }
    }
    ctx.store.shutdown = Some(Shutdown::Requested);
    Ok(())
}

/// MONITOR
pub fn monitor(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    if ctx.deny_blocking {
        return Err(CmdError::err(
            "MONITOR isn't allowed for DENY BLOCKING client",
        ));
    }
    let me = ctx.me;
    let client = ctx.client();
    if !client.mode.is_monitor() {
        let subs = client.mode.take_subscriptions();
        client.mode = Mode::Monitor((subs.total() > 0).then_some(subs));
        ctx.store.monitors.push(me);
    }
    ctx.out.ok();
    Ok(())
}

fn lfu_policy(ctx: &Ctx) -> bool {
    ctx.store
        .config
        .get("maxmemory-policy")
        .is_some_and(|p| p.ends_with("lfu"))
}

/// Reads something off a key's entry without counting it as an access,
/// but as a keyspace hit or miss (Redis's objectCommandLookup, a read with
/// LOOKUP_NOTOUCH|LOOKUP_NONOTIFY: no `keymiss` event).
fn object_info<T>(ctx: &mut Ctx, key: &[u8], f: impl FnOnce(&Entry) -> T) -> Option<T> {
    let now = ctx.now_ms;
    let found = ctx.store.dbs[ctx.db_index].peek(key, now).map(f);
    ctx.store.stats.count_lookup(found.is_some());
    found
}

/// A key's access stamp, looked up as [`object_info`] looks.
fn access_stamp(ctx: &mut Ctx, key: &[u8]) -> Option<u32> {
    let (db, now) = (&mut ctx.store.dbs[ctx.db_index], ctx.now_ms);
    let found = db.peek(key, now).is_some();
    ctx.store.stats.count_lookup(found);
    if !found {
        return None;
    }
    ctx.store.dbs[ctx.db_index].access_of(key)
}

/// OBJECT ENCODING key
pub fn object_encoding(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    match object_info(ctx, &args[2], |e| e.value.encoding()) {
        Some(encoding) => ctx.out.bulk(encoding.as_bytes()),
        None => ctx.out.null(),
    }
    Ok(())
}

/// OBJECT REFCOUNT key
pub fn object_refcount(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    match object_info(ctx, &args[2], |e| e.value.refcount()) {
        Some(n) => ctx.out.int(n),
        None => ctx.out.null(),
    }
    Ok(())
}

/// OBJECT IDLETIME key
pub fn object_idletime(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let Some(access) = access_stamp(ctx, &args[2]) else {
        ctx.out.null();
        return Ok(());
    };
    if lfu_policy(ctx) {
        return Err(CmdError::err(
            "An LFU maxmemory policy is selected, idle time not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.",
        ));
    }
    ctx.out
        .int(crate::db::idle_seconds(access, ctx.now_ms) as i64);
    Ok(())
}

/// OBJECT FREQ key
pub fn object_freq(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let Some(access) = access_stamp(ctx, &args[2]) else {
        ctx.out.null();
        return Ok(());
    };
    let crate::db::AccessPolicy::Lfu { decay_minutes, .. } = ctx.store.dbs[ctx.db_index].policy
    else {
        return Err(CmdError::err(
            "An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.",
        ));
    };
    ctx.out
        .int(crate::db::lfu_counter(access, decay_minutes, ctx.now_ms) as i64);
    Ok(())
}

/// OBJECT HELP
pub fn object_help(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    reply_help(ctx, help::OBJECT);
    Ok(())
}

/// MEMORY USAGE key [SAMPLES count]
///
/// Reports what redis-server would report for the same key and value (its
/// object, sds and dict-entry sizes in jemalloc's size classes), so tools
/// that compare or budget by MEMORY USAGE see familiar numbers.
pub fn memory_usage(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    const DICT_ENTRY: usize = 24;
    /// Redis's OBJ_COMPUTE_SIZE_DEF_SAMPLES.
    const DEFAULT_SAMPLES: usize = 5;
    let mut samples = DEFAULT_SAMPLES;
    let mut j = 3;
    while j < args.len() {
        if eq_ic(&args[j], "SAMPLES") && j + 1 < args.len() {
            let n = arg_i64(&args[j + 1])?;
            if n < 0 {
                return Err(CmdError::Syntax);
            }
            samples = usize::try_from(n).unwrap_or(usize::MAX);
            j += 2;
        } else {
            return Err(CmdError::Syntax);
        }
    }
    let key = &args[2];
    let found = ctx.store.dbs[ctx.db_index].get_including_expired(key);
    match found.map(|e| e.value.redis_usage(samples)) {
        None => ctx.out.null(),
        Some(value) => {
            let size = value + crate::db::value::redis_key_bytes(key.len()) + DICT_ENTRY;
            ctx.out.int(size as i64);
        }
    }
    Ok(())
}

/// MEMORY HELP
pub fn memory_help(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    reply_help(ctx, help::MEMORY);
    Ok(())
}

/// SLOWLOG GET [count]
pub fn slowlog_get(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    if args.len() > 3 {
        return Err(super::connection::subcommand_syntax_error(args));
    }
    let mut count: usize = 10;
    if args.len() == 3 {
        let n = crate::util::parse_i64(&args[2]).filter(|&n| n >= -1);
        match n {
            Some(-1) => count = usize::MAX,
            Some(n) => count = n as usize,
            None => {
                return Err(CmdError::err("count should be greater than or equal to -1"));
            }
        }
    }
    let entries: Vec<_> = ctx
        .store
        .slowlog
        .entries
        .iter()
        .take(count)
        .cloned()
        .collect();
    ctx.out.array(entries.len());
    for e in entries {
        ctx.out.array(6);
        ctx.out.int(e.id as i64);
        ctx.out.int(e.time_s);
        ctx.out.int(e.duration_us as i64);
        ctx.out.array(e.args.len());
        for a in &e.args {
            ctx.out.bulk(a);
        }
        ctx.out.bulk(e.peer.as_bytes());
        ctx.out.bulk(&e.name);
    }
    Ok(())
}

/// SLOWLOG LEN
pub fn slowlog_len(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    ctx.out.int(ctx.store.slowlog.entries.len() as i64);
    Ok(())
}

/// SLOWLOG RESET
pub fn slowlog_reset(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    ctx.store.slowlog.entries.clear();
    ctx.out.ok();
    Ok(())
}

/// SLOWLOG HELP
pub fn slowlog_help(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    reply_help(ctx, help::SLOWLOG);
    Ok(())
}

/// CONFIG GET parameter [parameter ...]
pub fn config_get(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let mut pairs: Vec<(String, String)> = Vec::new();
    for pattern in &args[2..] {
        let is_glob = pattern.iter().any(|b| matches!(b, b'*' | b'?' | b'['));
        if !is_glob {
            // An exact name is answered under the spelling asked for.
            let asked = String::from_utf8_lossy(pattern).into_owned();
            if let Some(value) = ctx.store.config.get(&asked)
                && !pairs.iter().any(|(n, _)| n.eq_ignore_ascii_case(&asked))
            {
                pairs.push((asked, value.to_string()));
            }
            continue;
        }
        for (name, value) in ctx.store.config.matching(pattern) {
            if !pairs.iter().any(|(n, _)| n.eq_ignore_ascii_case(name)) {
                pairs.push((name.to_string(), value.to_string()));
            }
        }
    }
    // The listening port may have been chosen by the OS (--port 0).
    let port = ctx.store.listen_port.to_string();
    ctx.out.map(pairs.len());
    for (name, value) in &pairs {
        ctx.out.bulk(name.as_bytes());
        if name.eq_ignore_ascii_case("port") {
            ctx.out.bulk(port.as_bytes());
        } else {
            ctx.out.bulk(value.as_bytes());
        }
    }
    Ok(())
}

/// Parameters whose values are passwords.
const SENSITIVE_CONFIGS: [&str; 3] = ["requirepass", "masterauth", "masteruser"];

/// CONFIG SET parameter value [parameter value ...]: all or nothing.
pub fn config_set(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    if !args.len().is_multiple_of(2) {
        return Err(CmdError::Syntax);
    }
    // Redis hides these values from MONITOR and the slow log whether or
    // not the command succeeds.
    for (i, pair) in args[2..].chunks(2).enumerate() {
        if SENSITIVE_CONFIGS.iter().any(|name| eq_ic(&pair[0], name)) {
            ctx.redact(3 + 2 * i);
        }
    }
    // A name with a NUL is unknown; its message shows it up to the NUL.
    let owned: Vec<(String, String)> = args[2..]
        .chunks(2)
        .map(|pair| {
            (
                String::from_utf8_lossy(&pair[0]).into_owned(),
                String::from_utf8_lossy(&pair[1]).into_owned(),
            )
        })
        .collect();
    let pairs: Vec<(&str, &str)> = owned
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let listening = (ctx.store.config.bind.clone(), ctx.store.config.port);
    let result = ctx.store.config.set_many(&pairs);
    // A failed CONFIG SET may still have changed what a parameter means
    // (see `Config::restore_from_shown`).
    ctx.store.apply_config();
    // `requirepass` is the default user's password (Redis's
    // updateRequirePass): `resetpass` and the new one, or `nopass`.
    if result.is_ok()
        && pairs
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case("requirepass"))
    {
        let password = ctx.store.config.requirepass.clone();
        ctx.store.acl.set_default_password(password.as_deref());
    }
    // `appendonly` starts or stops the AOF (Redis's updateAppendonly).
    if result.is_ok() && !ctx.store.loading() && !crate::persist::aof::switch(ctx.store, ctx.now_ms)
    {
        let _ = ctx.store.config.set("appendonly", "no", false);
        return Err(CmdError::err(
            "CONFIG SET failed (possibly related to argument 'appendonly') - Unable to turn on AOF. Check server logs.",
        ));
    }
    if result.is_ok() && !ctx.store.loading() {
        relisten(ctx.store, &pairs, listening)?;
    }
    if let Err(e) = result {
        let failed = |name: &str, why: &str| {
            CmdError::err(format!(
                "CONFIG SET failed (possibly related to argument '{name}') - {why}"
            ))
        };
        return Err(match e {
            // Quoted from the client's bytes, not the lossy name.
            ConfigError::Unknown(n) => CmdError::err_quoting(
                "Unknown option or number of arguments for CONFIG SET - '",
                owned
                    .iter()
                    .position(|(name, _)| *name == n)
                    .map_or(n.as_bytes(), |i| &args[2 + 2 * i][..]),
                "'",
            ),
            ConfigError::Immutable(n) => failed(&n, "can't set immutable config"),
            ConfigError::Protected(n) => failed(&n, "can't set protected config"),
            ConfigError::Duplicate(n) => failed(&n, "duplicate parameter"),
            ConfigError::BadValue(n, why) => failed(&n, &why),
        });
    }
    ctx.out.ok();
    Ok(())
}

/// CONFIG SET port or bind listens where they say now (Redis's updatePort
/// and applyBind); when it cannot, the old values and sockets come back and
/// the error names the parameter.
fn relisten(
    store: &mut crate::store::Store,
    pairs: &[(&str, &str)],
    (bind, port): (Vec<String>, u16),
) -> CmdResult {
    if store.config.bind == bind && store.config.port == port {
        return Ok(());
    }
    let (new_bind, new_port) = (store.config.bind.clone(), store.config.port);
    if crate::server::relisten(store, &new_bind, new_port).is_ok() {
        return Ok(());
    }
    let (name, why) = match pairs
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("port") || n.eq_ignore_ascii_case("bind"))
    {
        Some((n, _)) if n.eq_ignore_ascii_case("bind") => {
            ("bind", "Failed to bind to specified addresses.")
        }
        _ => ("port", "Unable to listen on this port. Check server logs."),
    };
    let _ = store.config.set("port", &port.to_string(), false);
    let _ = store.config.set("bind", &bind.join(" "), false);
    Err(CmdError::err(format!(
        "CONFIG SET failed (possibly related to argument '{name}') - {why}"
    )))
}

/// CONFIG RESETSTAT
///
/// Resets the statistics INFO shows (command and error counts, latency
/// histograms); the slow log stays, as in Redis (SLOWLOG RESET clears it).
pub fn config_resetstat(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    ctx.store.stats.reset();
    ctx.out.ok();
    Ok(())
}

/// CONFIG REWRITE
pub fn config_rewrite(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    // Users go to the config file unless they have an ACL file of their
    // own, as in Redis.
    let users = if ctx
        .store
        .config
        .get("aclfile")
        .is_some_and(|f| !f.is_empty())
    {
        Vec::new()
    } else {
        ctx.store.acl.list()
    };
    ctx.store
        .config
        .rewrite_with(&users)
        .map_err(CmdError::err)?;
    ctx.out.ok();
    Ok(())
}

/// CONFIG HELP
pub fn config_help(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    reply_help(ctx, help::CONFIG);
    Ok(())
}

/// INFO [section ...]
///
/// Sections come out in Redis's fixed order whatever order they were
/// asked in. `default` (or no argument) is the default set, `all` every
/// section, `everything` too (there are no module sections); names are
/// case-insensitive, and unknown ones are ignored.
pub fn info(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    const DEFAULT: &[&str] = &[
        "server",
        "clients",
        "memory",
        "persistence",
        "stats",
        "replication",
        "cpu",
        "module_list",
        "errorstats",
        "cluster",
        "keyspace",
    ];
    /// Every section, in the order Redis prints them, with the names that
    /// ask for each.
    const ORDER: &[(&str, &[&str])] = &[
        ("server", &["server"]),
        ("clients", &["clients"]),
        ("memory", &["memory"]),
        ("persistence", &["persistence"]),
        ("stats", &["stats"]),
        ("replication", &["replication"]),
        ("cpu", &["cpu"]),
        ("modules", &["module_list", "modules"]),
        ("commandstats", &["commandstats"]),
        ("errorstats", &["errorstats"]),
        ("latencystats", &["latencystats"]),
        ("cluster", &["cluster"]),
        ("keyspace", &["keyspace"]),
    ];
    let mut asked: Vec<String> = Vec::new();
    let mut all = false;
    if args.len() == 1 {
        asked.extend(DEFAULT.iter().map(|s| s.to_string()));
    }
    for a in &args[1..] {
        let name = String::from_utf8_lossy(crate::util::until_nul(a)).to_ascii_lowercase();
        match name.as_str() {
            "default" => asked.extend(DEFAULT.iter().map(|s| s.to_string())),
            "all" | "everything" => all = true,
            _ => asked.push(name),
        }
    }
    let mut text = String::new();
    for (section, names) in ORDER {
        if !all && !names.iter().any(|n| asked.iter().any(|a| a == n)) {
            continue;
        }
        if !text.is_empty() {
            text.push_str("\r\n");
        }
        info_section(ctx, section, &mut text);
    }
    ctx.out.verbatim("txt", text.as_bytes());
    Ok(())
}

pub fn human_bytes(n: u64) -> String {
    let n = n as f64;
    if n < 1024.0 {
        format!("{}B", n as u64)
    } else if n < 1024.0 * 1024.0 {
        format!("{:.2}K", n / 1024.0)
    } else if n < 1024.0 * 1024.0 * 1024.0 {
        format!("{:.2}M", n / (1024.0 * 1024.0))
    } else {
        format!("{:.2}G", n / (1024.0 * 1024.0 * 1024.0))
    }
}

/// Appends one INFO section.
fn info_section(ctx: &mut Ctx, name: &str, t: &mut String) {
    let store = &*ctx.store;
    let uptime = store.started.elapsed().as_secs();
    match name {
        "server" => {
            let _ = write!(
                t,
                "# Server\r\nredis_version:{}\r\nredis_git_sha1:00000000\r\nredis_git_dirty:0\r\nredis_build_id:0\r\nredis_mode:standalone\r\nos:{} {}\r\narch_bits:64\r\nmonotonic_clock:POSIX clock_gettime\r\nmultiplexing_api:epoll\r\natomicvar_api:c11-builtin\r\ngcc_version:0.0.0\r\nprocess_id:{}\r\nprocess_supervised:no\r\nrun_id:{}\r\ntcp_port:{}\r\nserver_time_usec:{}\r\nuptime_in_seconds:{}\r\nuptime_in_days:{}\r\nhz:{}\r\nconfigured_hz:{}\r\nlru_clock:{}\r\nexecutable:{}\r\nconfig_file:{}\r\nio_threads_active:0\r\nferrokv_version:{}\r\n",
                crate::REDIS_VERSION,
                std::env::consts::OS,
                std::env::consts::ARCH,
                std::process::id(),
                store.run_id,
                store.listen_port,
                unix_us(),
                uptime,
                uptime / 86400,
                store.config.hz,
                store.config.hz,
                crate::db::lru_clock(ctx.now_ms),
                std::env::current_exe()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default(),
                store
                    .config
                    .file
                    .as_ref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default(),
                crate::FERROKV_VERSION,
            );
        }
        "clients" => {
            let _ = write!(
                t,
                "# Clients\r\nconnected_clients:{}\r\ncluster_connections:0\r\nmaxclients:{}\r\nclient_recent_max_input_buffer:0\r\nclient_recent_max_output_buffer:{}\r\nblocked_clients:{}\r\ntracking_clients:{}\r\nclients_in_timeout_table:0\r\n",
                ctx.clients.len(),
                store.config.maxclients,
                store.recent_max_output(ctx.now_ms / 1000),
                store.blocking.blocked_clients + store.pause.held_len(),
                store.tracking.client_count(),
            );
        }
        "memory" => super::memory::info_section(store, ctx.clients, t),
        "persistence" => {
            let _ = write!(
                t,
                "# Persistence\r\nloading:{}\r\nasync_loading:0\r\ncurrent_cow_peak:0\r\ncurrent_cow_size:0\r\ncurrent_cow_size_age:0\r\ncurrent_fork_perc:0.00\r\ncurrent_save_keys_processed:0\r\ncurrent_save_keys_total:0\r\nrdb_changes_since_last_save:{}\r\nrdb_bgsave_in_progress:{}\r\nrdb_last_save_time:{}\r\nrdb_last_bgsave_status:{}\r\nrdb_last_bgsave_time_sec:{}\r\nrdb_current_bgsave_time_sec:{}\r\nrdb_saves:{}\r\nrdb_last_cow_size:0\r\nrdb_last_load_keys_expired:{}\r\nrdb_last_load_keys_loaded:{}\r\n",
                store.loading() as u8,
                store.dirty,
                crate::persist::bgsave_running(store) as u8,
                store.lastsave_s,
                if store.rdb.last_bgsave_ok {
                    "ok"
                } else {
                    "err"
                },
                store.rdb.last_bgsave_time_s,
                store
                    .rdb
                    .snapshot
                    .as_ref()
                    .filter(|_| crate::persist::bgsave_running(store))
                    .map_or(-1, |s| s.started.elapsed().as_secs() as i64),
                store.rdb.saves,
                store.rdb.last_load_keys_expired,
                store.rdb.last_load_keys_loaded,
            );
            t.push_str(&crate::persist::aof::info(store, std::time::Instant::now()));
            if store.loading() {
                t.push_str(&crate::persist::loading_info(
                    store,
                    (crate::store::unix_ms() / 1000) as i64,
                ));
            }
        }
        "stats" => {
            let s = &store.stats;
            let evicted_keys = s.evicted_keys;
            let evicted_clients = s.evicted_clients;
            let current_exceeded_us = store
                .evictor
                .exceeded_since
                .map_or(0, |t| t.elapsed().as_micros() as u64);
            let current_exceeded_ms = current_exceeded_us / 1000;
            let total_exceeded_ms = (store.evictor.total_exceeded_us + current_exceeded_us) / 1000;
            let _ = write!(
                t,
                "# Stats\r\ntotal_connections_received:{}\r\ntotal_commands_processed:{}\r\ninstantaneous_ops_per_sec:{}\r\ntotal_net_input_bytes:{}\r\ntotal_net_output_bytes:{}\r\ntotal_net_repl_input_bytes:0\r\ntotal_net_repl_output_bytes:0\r\ninstantaneous_input_kbps:0.00\r\ninstantaneous_output_kbps:0.00\r\ninstantaneous_input_repl_kbps:0.00\r\ninstantaneous_output_repl_kbps:0.00\r\nrejected_connections:{}\r\nsync_full:0\r\nsync_partial_ok:0\r\nsync_partial_err:0\r\nexpired_keys:{}\r\nexpired_stale_perc:{:.2}\r\nexpired_time_cap_reached_count:0\r\nexpire_cycle_cpu_milliseconds:{}\r\nevicted_keys:{evicted_keys}\r\nevicted_clients:{evicted_clients}\r\ntotal_eviction_exceeded_time:{total_exceeded_ms}\r\ncurrent_eviction_exceeded_time:{current_exceeded_ms}\r\nkeyspace_hits:{}\r\nkeyspace_misses:{}\r\npubsub_channels:{}\r\npubsub_patterns:{}\r\npubsubshard_channels:{}\r\nlatest_fork_usec:0\r\ntotal_forks:0\r\nmigrate_cached_sockets:0\r\nslave_expires_tracked_keys:0\r\nactive_defrag_hits:0\r\nactive_defrag_misses:0\r\nactive_defrag_key_hits:0\r\nactive_defrag_key_misses:0\r\ntotal_active_defrag_time:0\r\ncurrent_active_defrag_time:0\r\ntracking_total_keys:{}\r\ntracking_total_items:{}\r\ntracking_total_prefixes:{}\r\nunexpected_error_replies:{}\r\ntotal_error_replies:{}\r\ndump_payload_sanitizations:0\r\ntotal_reads_processed:0\r\ntotal_writes_processed:0\r\nio_threaded_reads_processed:0\r\nio_threaded_writes_processed:0\r\nclient_query_buffer_limit_disconnections:{}\r\nclient_output_buffer_limit_disconnections:{}\r\n",
                s.total_connections_received,
                s.total_commands_processed,
                s.instantaneous_ops_per_sec(),
                s.net_input_bytes,
                s.net_output_bytes,
                s.rejected_connections,
                s.expired_keys,
                s.expired_stale_perc,
                s.expire_cycle_cpu_ms,
                s.keyspace_hits,
                s.keyspace_misses,
                store.pubsub.count(Kind::Channel),
                store.pubsub.count(Kind::Pattern),
                store.pubsub.count(Kind::Shard),
                store.tracking.total_keys(),
                store.tracking.total_items(),
                store.tracking.total_prefixes(),
                s.unexpected_error_replies,
                s.total_error_replies,
                s.client_query_buffer_limit_disconnections,
                s.client_output_buffer_limit_disconnections,
            );
        }
        "replication" => {
            let _ = write!(
                t,
                "# Replication\r\nrole:master\r\nconnected_slaves:0\r\nmaster_failover_state:no-failover\r\nmaster_replid:{}\r\nmaster_replid2:0000000000000000000000000000000000000000\r\nmaster_repl_offset:0\r\nsecond_repl_offset:-1\r\nrepl_backlog_active:0\r\nrepl_backlog_size:1048576\r\nrepl_backlog_first_byte_offset:0\r\nrepl_backlog_histlen:0\r\n",
                store.replid
            );
        }
        "cpu" => {
            let (sys, user) = crate::alloc::cpu_times();
            let _ = write!(
                t,
                "# CPU\r\nused_cpu_sys:{sys:.6}\r\nused_cpu_user:{user:.6}\r\nused_cpu_sys_children:0.000000\r\nused_cpu_user_children:0.000000\r\nused_cpu_sys_main_thread:{sys:.6}\r\nused_cpu_user_main_thread:{user:.6}\r\n"
            );
        }
        "modules" => t.push_str("# Modules\r\n"),
        "errorstats" => {
            t.push_str("# Errorstats\r\n");
            let mut errs: Vec<_> = store.stats.errors.iter().collect();
            errs.sort();
            for (code, n) in errs {
                let _ = write!(t, "errorstat_{code}:count={n}\r\n");
            }
        }
        "cluster" => t.push_str("# Cluster\r\ncluster_enabled:0\r\n"),
        "commandstats" => {
            t.push_str("# Commandstats\r\n");
            for (name, s) in store.stats.by_name() {
                let per_call = if s.calls > 0 {
                    s.usec as f64 / s.calls as f64
                } else {
                    0.0
                };
                let _ = write!(
                    t,
                    "cmdstat_{name}:calls={},usec={},usec_per_call={per_call:.2},rejected_calls={},failed_calls={}\r\n",
                    s.calls, s.usec, s.rejected_calls, s.failed_calls
                );
            }
        }
        "latencystats" => {
            t.push_str("# Latencystats\r\n");
            if store.config.latency_tracking {
                for (name, s) in store.stats.by_name() {
                    let Some(histogram) = &s.latency else {
                        continue;
                    };
                    let _ = write!(t, "latency_percentiles_usec_{name}:");
                    let percentiles = &store.config.latency_tracking_info_percentiles;
                    for (i, &p) in percentiles.iter().enumerate() {
                        if i > 0 {
                            t.push(',');
                        }
                        let us = histogram.value_at_percentile(p) as f64 / 1000.0;
                        let _ = write!(t, "p{}={us:.3}", crate::config::format_percentile(p));
                    }
                    t.push_str("\r\n");
                }
            }
        }
        "keyspace" => {
            t.push_str("# Keyspace\r\n");
            for (i, db) in store.dbs.iter().enumerate() {
                if db.is_empty() {
                    continue;
                }
                let _ = write!(
                    t,
                    "db{i}:keys={},expires={},avg_ttl={}\r\n",
                    db.len(),
                    db.expires_len(),
                    db.avg_ttl_ms
                );
            }
        }
        _ => {}
    }
}

/// SAVE: writes the dataset to `dbfilename` on the loop.
pub fn save(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    if crate::persist::bgsave_running(ctx.store) {
        return Err(CmdError::err("Background save already in progress"));
    }
    save_now(ctx)?;
    ctx.out.ok();
    Ok(())
}

/// BGSAVE [SCHEDULE]: starts a snapshot that the loop takes in steps,
/// consistent as of now, without fork (see `persist::snapshot`).
pub fn bgsave(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    match args {
        [_] => {}
        [_, a] if eq_ic(a, "SCHEDULE") => {}
        _ => return Err(CmdError::Syntax),
    }
    // As Redis 7.0's bgsaveCommand: SCHEDULE waits only for a child of
    // another kind (an AOF rewrite), not for a BGSAVE.
    if crate::persist::bgsave_running(ctx.store) {
        return Err(CmdError::err("Background save already in progress"));
    }
    if ctx.store.rdb.snapshot.is_some() || ctx.in_exec() {
        if args.len() == 2 || ctx.in_exec() {
            ctx.store.rdb.bgsave_scheduled = true;
            ctx.out.simple("Background saving scheduled");
            return Ok(());
        }
        return Err(CmdError::err(
            "Another child process is active (AOF?): can't BGSAVE right now. Use BGSAVE SCHEDULE in order to schedule a BGSAVE whenever possible.",
        ));
    }
    if crate::persist::start_bgsave(ctx.store, ctx.now_ms).is_err() {
        return Err(CmdError::Msg("ERR".into()));
    }
    ctx.out.simple("Background saving started");
    Ok(())
}

/// BGREWRITEAOF: rewrites the append-only file's base from a snapshot
/// taken in steps, without fork (see `persist::aof`); scheduled when a
/// BGSAVE runs.
pub fn bgrewriteaof(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    let rewriting = ctx.store.aof.rewrite_started.is_some();
    if rewriting {
        return Err(CmdError::err(
            "Background append only file rewriting already in progress",
        ));
    }
    if ctx.store.rdb.snapshot.is_some() || ctx.in_exec() {
        ctx.store.aof.rewrite_scheduled = true;
        ctx.store.aof.consecutive_failures = 0;
        ctx.out
            .simple("Background append only file rewriting scheduled");
        return Ok(());
    }
    if crate::persist::aof::start_rewrite(ctx.store, ctx.now_ms).is_err() {
        return Err(CmdError::err(
            "Can't execute an AOF background rewriting. Please check the server logs for more information.",
        ));
    }
    ctx.out
        .simple("Background append only file rewriting started");
    Ok(())
}

/// Saves the dataset, as SAVE does; Redis answers a failure with a bare
/// `ERR` and logs the reason.
pub(super) fn save_now(ctx: &mut Ctx) -> CmdResult {
    match crate::persist::save(ctx.store, ctx.now_ms) {
        Ok(bytes) => {
            log::info!("DB saved on disk ({bytes} bytes)");
            ctx.store.dirty = 0;
            ctx.store.lastsave_s = (ctx.now_ms / 1000) as i64;
            ctx.store.rdb.saves += 1;
            Ok(())
        }
        Err(e) => {
            log::warn!("Failed saving the DB: {e}");
            Err(CmdError::Msg("ERR".into()))
        }
    }
}
