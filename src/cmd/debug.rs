//! DEBUG: the subcommands tools and test suites use, answered as Redis
//! 7.0's `debug.c` answers them.
//!
//! DEBUG runs only where `enable-debug-command` allows it (the request
//! gate's PROTECTED check, `server/command.rs`). Each subcommand
//! takes an exact number of arguments, as in Redis: a wrong count is the
//! same "unknown subcommand" error as an unknown name. DEBUG HELP lists
//! the subcommands ferrokv has, with Redis's own text for each.
//!
//! DEBUG DIGEST and DIGEST-VALUE are Redis's digests bit for bit (SHA-1
//! mixed and xored in `debug.c`'s order), so two servers, ferrokv or
//! redis-server, holding the same data print the same digest.

use bytes::Bytes;

use super::connection::{reply_help, subcommand_syntax_error};
use super::server::{save_now, touch_watched_in};
use super::{CmdError, CmdResult, Ctx};
use crate::db::Value;
use crate::db::dict::Dict;
use crate::script::sha1;
use crate::types::hash::Hash;
use crate::types::set::Set;
use crate::types::stream::StreamId;
use crate::util::eq_ic;

/// DEBUG HELP: Redis 7.0's lines for the subcommands ferrokv has, in
/// Redis's order.
const HELP: &[&str] = &[
    "DEBUG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CHANGE-REPL-ID",
    "    Change the replication IDs of the instance.",
    "    Dangerous: should be used only for testing the replication subsystem.",
    "DIGEST",
    "    Output a hex signature representing the current DB content.",
    "DIGEST-VALUE <key> [<key> ...]",
    "    Output a hex signature of the values of all the specified keys.",
    "ERROR <string>",
    "    Return a Redis protocol error with <string> as message. Useful for clients",
    "    unit tests to simulate Redis errors.",
    "LOG <message>",
    "    Write <message> to the server log.",
    "HTSTATS <dbid>",
    "    Return hash table statistics of the specified Redis database.",
    "HTSTATS-KEY <key>",
    "    Like HTSTATS but for the hash table stored at <key>'s value.",
    "LOADAOF",
    "    Flush the AOF buffers on disk and reload the AOF in memory.",
    "OBJECT <key>",
    "    Show low level info about `key` and associated value.",
    "POPULATE <count> [<prefix>] [<size>]",
    "    Create <count> string keys named key:<num>. If <prefix> is specified then",
    "    it is used instead of the 'key' prefix. These are not propagated to",
    "    replicas. Cluster slots are not respected so keys not belonging to the",
    "    current node can be created in cluster mode.",
    "PROTOCOL <type>",
    "    Reply with a test value of the specified type. <type> can be: string,",
    "    integer, double, bignum, null, array, set, map, attrib, push, verbatim,",
    "    true, false.",
    "RELOAD [option ...]",
    "    Save the RDB on disk and reload it back to memory. Valid <option> values:",
    "    * MERGE: conflicting keys will be loaded from RDB.",
    "    * NOFLUSH: the existing database will not be removed before load, but",
    "      conflicting keys will generate an exception and kill the server.",
    "    * NOSAVE: the database will be loaded from an existing RDB file.",
    "    Examples:",
    "    * DEBUG RELOAD: verify that the server is able to persist, flush and reload",
    "      the database.",
    "    * DEBUG RELOAD NOSAVE: replace the current database with the contents of an",
    "      existing RDB file.",
    "    * DEBUG RELOAD NOSAVE NOFLUSH MERGE: add the contents of an existing RDB",
    "      file to the database.",
    "SET-ACTIVE-EXPIRE <0|1>",
    "    Setting it to 0 disables expiring keys in background when they are not",
    "    accessed (otherwise the Redis behavior). Setting it to 1 reenables back the",
    "    default.",
    "QUICKLIST-PACKED-THRESHOLD <size>",
    "    Sets the threshold for elements to be inserted as plain vs packed nodes",
    "    Default value is 1GB, allows values up to 4GB. Setting to 0 restores to default.",
    "SLEEP <seconds>",
    "    Stop the server for <seconds>. Decimals allowed.",
    "STRINGMATCH-TEST",
    "    Run a fuzz tester against the stringmatchlen() function.",
    "LISTPACK <key>",
    "    Show low level info about the listpack encoding of <key>.",
    "QUICKLIST <key> [<0|1>]",
    "    Show low level info about the quicklist encoding of <key>.",
    "    The optional argument (0 by default) sets the level of detail",
    "HELP",
    "    Print this help.",
];

/// DEBUG <subcommand> [<arg> ...]
pub fn debug(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let sub = args[1].to_ascii_lowercase();
    match (sub.as_slice(), args.len()) {
        (b"help", 2) => reply_help(ctx, HELP),
        (b"log", 3) => {
            log::warn!("DEBUG LOG: {}", String::from_utf8_lossy(&args[2]));
            ctx.out.ok();
        }
        (b"reload", _) => reload(ctx, &args[2..])?,
        (b"loadaof", _) => loadaof(ctx)?,
        (b"object", 3) => object(ctx, &args[2])?,
        (b"digest", 2) => digest(ctx),
        (b"digest-value", _) => digest_value(ctx, &args[2..]),
        (b"protocol", 3) => protocol(ctx, &args[2])?,
        (b"sleep", 3) => sleep(ctx, &args[2]),
        (b"set-active-expire", 3) => {
            // Redis's tests turn active expiry off to see what lazy expiry
            // alone does; so do ours. Redis reads the flag with atoi.
            ctx.store.active_expire_enabled = crate::util::atoi(&args[2]) != 0;
            ctx.out.ok();
        }
        (b"quicklist-packed-threshold", 3) => quicklist_packed_threshold(ctx, &args[2])?,
        (b"error", 3) => {
            // Sent as it is, not counted as an error: Redis writes it as
            // raw protocol.
            ctx.out.error_bytes(&args[2]);
        }
        (b"htstats", 3) => htstats(ctx, &args[2])?,
        (b"htstats-key", 3) => htstats_key(ctx, &args[2])?,
        (b"change-repl-id", 2) => {
            log::warn!("Changing replication IDs after receiving DEBUG change-repl-id");
            ctx.store.replid = crate::store::random_hex_id(&mut ctx.store.rng);
            ctx.out.ok();
        }
        (b"stringmatch-test", 2) => stringmatch_test(ctx),
        (b"populate", 3..=5) => populate(ctx, &args[2..])?,
        (b"listpack", 3) => listpack(ctx, &args[2])?,
        (b"quicklist", 3..=4) => quicklist(ctx, &args[2])?,
        _ => return Err(subcommand_syntax_error(args)),
    }
    Ok(())
}

/// DEBUG SLEEP seconds: stalls the loop on purpose, to simulate a busy
/// server. The seconds are read as Redis's `strtod` reads them (as much of
/// a number as leads the argument, else 0); a negative time sleeps not at
/// all, and the sleep is capped at an hour.
fn sleep(ctx: &mut Ctx, arg: &[u8]) {
    const MAX_SLEEP_SECONDS: f64 = 3600.0;
    let secs = leading_f64(arg);
    if secs > 0.0 {
        let secs = secs.min(MAX_SLEEP_SECONDS);
        std::thread::sleep(std::time::Duration::from_secs_f64(secs));
    }
    ctx.out.ok();
}

/// C's `strtod` over `arg` up to its first NUL: the number it starts
/// with, or 0.
fn leading_f64(arg: &[u8]) -> f64 {
    let Ok(c) = std::ffi::CString::new(crate::util::until_nul(arg)) else {
        return 0.0;
    };
    // SAFETY: `c` is a valid NUL-terminated string that outlives the call;
    // a null end pointer is allowed.
    let v = unsafe { libc::strtod(c.as_ptr(), std::ptr::null_mut()) };
    if v.is_nan() { 0.0 } else { v }
}

/// DEBUG QUICKLIST-PACKED-THRESHOLD size: Redis's threshold above which a
/// list element gets a quicklist node of its own. ferrokv's lists have no
/// such nodes (an element of any size is packed with the others), so the
/// size is checked as Redis checks it and then has nothing to change.
fn quicklist_packed_threshold(ctx: &mut Ctx, arg: &[u8]) -> CmdResult {
    /// Redis refuses thresholds from 1 MB below 4 GB on.
    const MAX_THRESHOLD_BYTES: u64 = (1 << 32) - (1 << 20);
    let text = String::from_utf8_lossy(crate::util::until_nul(arg));
    match crate::config::parse_memory(&text) {
        Some(size) if size <= MAX_THRESHOLD_BYTES => {
            ctx.out.ok();
            Ok(())
        }
        _ => Err(CmdError::err(
            "argument must be a memory value bigger than 1 and smaller than 4gb",
        )),
    }
}

/// DEBUG OBJECT key: Redis's one status line about a value. The key is
/// found even when past its deadline (Redis looks in the table directly).
/// The address is the value's own; `lru` is the key's access stamp;
/// `serializedlength` what RDB would write for the value (compressed if
/// `rdbcompression` is on). A list, a quicklist in Redis 7.0, adds its
/// chunks: the fill and compression are the current configuration's.
fn object(ctx: &mut Ctx, key: &[u8]) -> CmdResult {
    let comp = crate::persist::compression(&ctx.store.config);
    let config = &ctx.store.config;
    let (fill, compress) = (
        config.list_max_listpack_size,
        config.get("list-compress-depth"),
    );
    let compressed = compress.is_some_and(|depth| depth != "0");
    let db = &ctx.store.dbs[ctx.db_index];
    let Some(entry) = db.get_including_expired(key) else {
        return Err(CmdError::NoSuchKey);
    };
    let stamp = db.access_of(key).unwrap_or(0);
    let value = &entry.value;
    let mut extra = String::new();
    if let Value::List(list) = value {
        let chunks = list.chunks();
        let nodes = chunks.len();
        let bytes: usize = chunks
            .iter()
            .map(|(entries, _)| crate::types::packed::LISTPACK_HEADER_BYTES + entries.len() + 1)
            .sum();
        extra = format!(
            " ql_nodes:{nodes} ql_avg_node:{} ql_listpack_max:{fill} ql_compressed:{} ql_uncompressed_size:{bytes}",
            crate::util::format_fixed2(list.len() as f64 / nodes as f64),
            u8::from(compressed),
        );
    }
    let line = format!(
        "Value at:{:p} refcount:{} encoding:{} serializedlength:{} lru:{stamp} lru_seconds_idle:{}{extra}",
        value as *const Value,
        value.refcount(),
        value.encoding(),
        crate::persist::rdb::value_body_len(value, comp),
        crate::db::idle_seconds(stamp, ctx.now_ms),
    );
    ctx.out.simple(&line);
    Ok(())
}

/// DEBUG POPULATE count [prefix] [size]: creates string keys
/// `prefix:0`, `prefix:1`... (`key` by default) holding `value:0`... or,
/// with a size, that text cut or padded with zero bytes to the size. Keys
/// that exist are left alone. Nothing is propagated, and `dirty` does not
/// move, as in Redis; it is O(count), as in Redis.
fn populate(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    /// Redis formats names and values into a 128-byte buffer.
    const NAME_MAX_BYTES: usize = 127;
    // Redis's getPositiveLongFromObjectOrReply: one message for both a
    // negative number and no number.
    let positive = |arg: &[u8]| match crate::util::parse_i64(arg) {
        Some(n) if n >= 0 => Ok(n as u64),
        _ => Err(CmdError::err("value is out of range, must be positive")),
    };
    let count = positive(&args[0])?;
    let size = match args.get(2) {
        Some(arg) => positive(arg)? as usize,
        None => 0,
    };
    let prefix = args
        .get(1)
        .map_or(&b"key"[..], |p| crate::util::until_nul(p));
    let now = ctx.now_ms;
    for j in 0..count {
        let mut key = prefix.to_vec();
        key.extend_from_slice(format!(":{j}").as_bytes());
        key.truncate(NAME_MAX_BYTES);
        if ctx.db().exists(&key, now) {
            continue;
        }
        let mut value = format!("value:{j}").into_bytes();
        if size > 0 {
            value.resize(size, 0);
        }
        let value = Value::Str(crate::db::Str::plain(&value));
        ctx.db().set(&key, value, crate::db::Ttl::Clear, now);
        ctx.modified(&key);
    }
    ctx.out.ok();
    Ok(())
}

/// DEBUG LISTPACK key: Redis prints a listpack's entries on its standard
/// output; so does ferrokv, for the values it holds as listpacks (small
/// hashes and sorted sets).
fn listpack(ctx: &mut Ctx, key: &[u8]) -> CmdResult {
    let now = ctx.now_ms;
    let Some(entry) = ctx.store.dbs[ctx.db_index].peek(key, now) else {
        return Err(CmdError::NoSuchKey);
    };
    let elements: Vec<Vec<u8>> = match &entry.value {
        Value::Hash(h @ Hash::Listpack(_)) => h
            .iter()
            .flat_map(|(f, v)| [f.to_vec(), v.to_vec()])
            .collect(),
        Value::ZSet(z) if z.encoding() == "listpack" => z
            .iter()
            .flat_map(|(m, s)| [m.to_vec(), crate::util::format_double(s).into_bytes()])
            .collect(),
        _ => return Err(CmdError::err("Not a listpack encoded object.")),
    };
    print_entries(key, "listpack", &elements);
    ctx.out.simple("Listpack structure printed on stdout");
    Ok(())
}

/// DEBUG QUICKLIST key [0|1]: prints a list's chunks (Redis's quicklist
/// nodes) on the standard output; the level of detail is not read.
fn quicklist(ctx: &mut Ctx, key: &[u8]) -> CmdResult {
    let now = ctx.now_ms;
    let Some(entry) = ctx.store.dbs[ctx.db_index].peek(key, now) else {
        return Err(CmdError::NoSuchKey);
    };
    let Value::List(list) = &entry.value else {
        return Err(CmdError::err("Not a quicklist encoded object."));
    };
    let chunks: Vec<Vec<u8>> = list
        .chunks()
        .iter()
        .map(|(entries, count)| {
            format!("node: {count} entries, {} bytes", entries.len()).into_bytes()
        })
        .collect();
    print_entries(key, "quicklist", &chunks);
    ctx.out.simple("Quicklist structure printed on stdout");
    Ok(())
}

/// Writes a value's parts on the standard output, one line each, for
/// DEBUG LISTPACK and QUICKLIST.
fn print_entries(key: &[u8], what: &str, parts: &[Vec<u8>]) {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(
        out,
        "{{{what} {} ({} parts)",
        crate::util::repr(key),
        parts.len()
    );
    for (i, part) in parts.iter().enumerate() {
        let _ = writeln!(out, "  [{i}] {}", crate::util::repr(part));
    }
    let _ = writeln!(out, "}}");
}

/// SHA-1 digests combined as Redis's `debug.c` combines them: xoring a
/// digest in adds it to an unordered whole; mixing it in (xor, then hash
/// the result) makes the order count.
#[derive(Clone, Copy, Default)]
struct Digest([u8; 20]);

impl Digest {
    /// Redis's xorDigest: xors in the SHA-1 of `data`. An element's or a
    /// key's own digest is added the same way, hashed once more.
    fn xor(&mut self, data: &[u8]) {
        for (a, b) in self.0.iter_mut().zip(sha1::digest(data)) {
            *a ^= b;
        }
    }

    /// Redis's mixDigest: xors in the SHA-1 of `data`, then hashes.
    fn mix(&mut self, data: &[u8]) {
        self.xor(data);
        self.0 = sha1::digest(&self.0);
    }

    fn hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Redis's xorObjectDigest: mixes in the value's type and its
    /// contents (an element's integer encoding as its decimal form), and
    /// whether the key has a deadline (not the deadline itself).
    fn add_value(&mut self, value: &Value, volatile: bool) {
        // Redis's OBJ_STRING, OBJ_LIST, ... numbers.
        let type_code: u32 = match value {
            Value::Str(_) => 0,
            Value::List(_) => 1,
            Value::Set(_) => 2,
            Value::ZSet(_) => 3,
            Value::Hash(_) => 4,
            Value::Stream(_) => 6,
        };
        self.mix(&type_code.to_be_bytes());
        match value {
            Value::Str(s) => s.with_bytes(|b| self.mix(b)),
            Value::List(l) => l.walk_forward(0, |_, e| {
                e.with_bytes(|b| self.mix(b));
                true
            }),
            Value::Set(s) => s.for_each(|m| m.with_bytes(|b| self.xor(b))),
            Value::ZSet(z) => {
                for (member, score) in z.iter() {
                    let mut element = Digest::default();
                    member.with_bytes(|b| element.mix(b));
                    element.mix(crate::util::format_double(score).as_bytes());
                    self.xor(&element.0);
                }
            }
            Value::Hash(h) => {
                for (field, val) in h.iter() {
                    let mut element = Digest::default();
                    field.with_bytes(|b| element.mix(b));
                    val.with_bytes(|b| element.mix(b));
                    self.xor(&element.0);
                }
            }
            // The entries only: groups and consumers are not digested.
            Value::Stream(s) => {
                for (id, entry) in s.log.range(StreamId::MIN, StreamId::MAX, false) {
                    self.mix(format!("{}.{}", id.ms, id.seq).as_bytes());
                    for (field, val) in entry.fields() {
                        field.with_bytes(|b| self.mix(b));
                        val.with_bytes(|b| self.mix(b));
                    }
                }
            }
        }
        if volatile {
            self.xor(b"!!expire!!");
        }
    }
}

/// DEBUG DIGEST: the digest of every key of every database (Redis's
/// computeDatasetDigest), keys past their deadline but not yet deleted
/// included; all zeros when there are no keys.
fn digest(ctx: &mut Ctx) {
    let mut whole = Digest::default();
    for (index, db) in ctx.store.dbs.iter().enumerate() {
        if db.is_empty() {
            continue;
        }
        // The database's number is mixed in, so the same keys in another
        // database digest differently.
        whole.mix(&(index as u32).to_be_bytes());
        db.for_each_with_meta(|key, value, _, deadline| {
            let mut pair = Digest::default();
            pair.mix(key);
            pair.add_value(value, deadline != 0);
            whole.xor(&pair.0);
        });
    }
    ctx.out.simple(&whole.hex());
}

/// DEBUG DIGEST-VALUE [key ...]: each value's digest, without its key's
/// name; all zeros for a missing key. Keys past their deadline count.
fn digest_value(ctx: &mut Ctx, keys: &[Bytes]) {
    let db = &ctx.store.dbs[ctx.db_index];
    ctx.out.array(keys.len());
    for key in keys {
        let mut d = Digest::default();
        if let Some(entry) = db.get_including_expired(key) {
            d.add_value(&entry.value, db.expire_of(key) != 0);
        }
        ctx.out.simple(&d.hex());
    }
}

/// DEBUG PROTOCOL type: a sample reply of each RESP type, for client
/// tests; RESP2 gets each type's RESP2 form (an attribute is left out, a
/// push refused).
fn protocol(ctx: &mut Ctx, name: &[u8]) -> CmdResult {
    let out = &mut *ctx.out;
    if eq_ic(name, "string") {
        out.bulk(b"Hello World");
    } else if eq_ic(name, "integer") {
        out.int(12345);
    } else if eq_ic(name, "double") {
        // Redis's sample value, which only looks like pi.
        #[allow(clippy::approx_constant)]
        out.double(3.141);
    } else if eq_ic(name, "bignum") {
        out.big_number(b"1234567999999999999999999999999999999");
    } else if eq_ic(name, "null") {
        out.null();
    } else if eq_ic(name, "array") || eq_ic(name, "set") {
        if eq_ic(name, "set") {
            out.set(3);
        } else {
            out.array(3);
        }
        for j in 0..3 {
            out.int(j);
        }
    } else if eq_ic(name, "map") {
        out.map(3);
        for j in 0..3 {
            out.int(j);
            out.boolean(j == 1);
        }
    } else if eq_ic(name, "attrib") {
        if out.is_resp3() {
            // An attribute is no reply of its own: one follows it.
            out.raw(b"|1\r\n");
            out.bulk(b"key-popularity");
            out.array(2);
            out.bulk(b"key:123");
            out.int(90);
        }
        out.bulk(b"Some real reply following the attribute");
    } else if eq_ic(name, "push") {
        if !out.is_resp3() {
            return Err(CmdError::err("RESP2 is not supported by this command"));
        }
        ctx.push(|out| {
            out.push(2);
            out.bulk(b"server-cpu-usage");
            out.int(42);
        });
        // A push is out of band: a real reply follows for clients that
        // skip it.
        ctx.out.bulk(b"Some real reply following the push reply");
    } else if eq_ic(name, "true") || eq_ic(name, "false") {
        out.boolean(eq_ic(name, "true"));
    } else if eq_ic(name, "verbatim") {
        out.verbatim("txt", b"This is a verbatim\nstring");
    } else {
        return Err(CmdError::err(
            "Wrong protocol type name. Please use one of the following: string|integer|double|bignum|null|array|set|map|attrib|push|verbatim|true|false",
        ));
    }
    Ok(())
}

/// DEBUG HTSTATS dbid: the chain lengths of a database's key table and
/// expires table, in Redis's text.
fn htstats(ctx: &mut Ctx, arg: &[u8]) -> CmdResult {
    let Some(index) = crate::util::parse_i64(arg) else {
        return Err(CmdError::NotInteger);
    };
    let Some(db) = usize::try_from(index)
        .ok()
        .and_then(|i| ctx.store.dbs.get(i))
    else {
        return Err(CmdError::err("Out of range database"));
    };
    let (keys, expires) = db.table_stats();
    let text = format!("[Dictionary HT]\n{keys}[Expires HT]\n{expires}");
    ctx.out.verbatim("txt", text.as_bytes());
    Ok(())
}

/// DEBUG HTSTATS-KEY key: the chain lengths of the hash table holding a
/// value: a hash or set table, or a large sorted set's member table.
fn htstats_key(ctx: &mut Ctx, key: &[u8]) -> CmdResult {
    let now = ctx.now_ms;
    let Some(entry) = ctx.store.dbs[ctx.db_index].peek(key, now) else {
        return Err(CmdError::NoSuchKey);
    };
    let text = match &entry.value {
        Value::Hash(Hash::Table(d)) => d.stats(),
        Value::Set(Set::Table(d)) => d.stats(),
        // ferrokv packs a small set of strings that Redis 7.0 keeps in a
        // table (and reports as one): the statistics of the table Redis
        // would have, built for the answer (it holds at most 128 members).
        Value::Set(s @ Set::Listpack(_)) => {
            let mut table: Dict<()> = Dict::new();
            s.for_each(|m| m.with_bytes(|b| table.insert_new(b, ())));
            table.stats()
        }
        Value::ZSet(z) if z.table().is_some() => z.table().map(Dict::stats).unwrap_or_default(),
        _ => {
            return Err(CmdError::err(
                "The value stored at the specified key is not represented using an hash table",
            ));
        }
    };
    ctx.out.verbatim("txt", text.as_bytes());
    Ok(())
}

/// DEBUG STRINGMATCH-TEST: matches random patterns against random
/// strings (up to 31 bytes of 7-bit characters each), which must not
/// crash. Redis runs ten million; ferrokv runs a hundred thousand, a few
/// milliseconds, so the loop is not stalled for seconds.
fn stringmatch_test(ctx: &mut Ctx) {
    const CYCLES: usize = 100_000;
    const MAX_LEN: u64 = 32;
    let rng = &mut ctx.store.rng;
    let (mut pattern, mut string) = (Vec::new(), Vec::new());
    for _ in 0..CYCLES {
        for buf in [&mut pattern, &mut string] {
            buf.clear();
            let len = rng.below(MAX_LEN);
            buf.extend((0..len).map(|_| rng.below(128) as u8));
        }
        std::hint::black_box(crate::glob::glob_match(&pattern, &string, false));
    }
    ctx.out
        .simple("Apparently Redis did not crash: test passed");
}

/// DEBUG LOADAOF: writes the AOF buffer, empties the dataset and loads
/// the append-only file back, on the loop (Redis exits when the file does
/// not load; so does ferrokv, rather than serve part of it).
fn loadaof(ctx: &mut Ctx) -> CmdResult {
    if ctx.store.aof.state == crate::persist::aof::State::On {
        crate::persist::aof::flush(ctx.store, true);
    }
    let fresh = (0..ctx.store.dbs.len())
        .map(|_| crate::db::Db::new())
        .collect();
    crate::persist::install(ctx.store, fresh);
    let result = crate::persist::aof::load::load_now(ctx.store, ctx.clients, ctx.now_ms);
    if let Err(e) = result {
        log::warn!("{e}");
        std::process::exit(1);
    }
    ctx.store.dirty = 0;
    log::warn!("Append Only File loaded by DEBUG LOADAOF");
    ctx.out.ok();
    Ok(())
}

/// DEBUG RELOAD [NOSAVE]: saves (unless NOSAVE) and loads the file back in
/// place of the dataset. The file is read into fresh databases first, so a
/// bad file leaves the dataset as it was.
fn reload(ctx: &mut Ctx, opts: &[Bytes]) -> CmdResult {
    let mut save = true;
    for opt in opts {
        if eq_ic(opt, "NOSAVE") {
            save = false;
        } else if eq_ic(opt, "MERGE") || eq_ic(opt, "NOFLUSH") {
            return Err(CmdError::err(
                "DEBUG RELOAD MERGE and NOFLUSH are not supported",
            ));
        } else {
            return Err(CmdError::err(
                "DEBUG RELOAD only supports the MERGE, NOFLUSH and NOSAVE options.",
            ));
        }
    }
    if ctx.store.rdb.snapshot.is_some() {
        return Err(CmdError::err("Background save already in progress"));
    }
    if save {
        save_now(ctx)?;
    }
    let path = crate::persist::rdb_path(&ctx.store.config);
    let (dbs, loaded) = match crate::persist::load(ctx.store, &path, ctx.now_ms) {
        Ok(Some(found)) => found,
        Ok(None) => {
            log::warn!("DEBUG RELOAD: {} does not exist", path.display());
            return Err(CmdError::err("Error trying to load the RDB dump"));
        }
        Err(e) => {
            log::warn!("DEBUG RELOAD: {}: {e}", path.display());
            return Err(CmdError::err("Error trying to load the RDB dump"));
        }
    };
    let functions = crate::persist::loaded_functions(ctx.store, &loaded).map_err(|e| {
        log::warn!("DEBUG RELOAD: {}: {e}", path.display());
        CmdError::err("Error trying to load the RDB dump")
    })?;
    for db in 0..ctx.store.dbs.len() {
        touch_watched_in(ctx, db, None);
    }
    crate::persist::install(ctx.store, dbs);
    ctx.store.scripting.functions.libs = functions;
    ctx.store.effects.flushed.push(None);
    log::info!("DB reloaded by DEBUG RELOAD");
    ctx.out.ok();
    Ok(())
}
