//! Lua scripting: EVAL and FUNCTION, as Redis 7.0 runs them.
//!
//! One Lua 5.1 interpreter runs every EVAL script (`Vm`), set up as
//! Redis sets up its own: the base, table, string and math libraries,
//! Redis's `cjson`, `cmsgpack`, `bit` and `struct` (`libs`), the `redis`
//! API, and globals that scripts may read but not change (`prelude.lua`).
//! Scripts are compiled once and kept by SHA-1 (`Scripting::scripts`).
//!
//! A script's `redis.call` runs the command through `call()`, for a
//! client of its own (Redis's Lua client) created for the run, nested in
//! the EVAL's call: statistics, MONITOR, keyspace events, WATCH, wake-ups
//! and propagation happen as for any command, and the effects are
//! drained with the EVAL's. The reply is converted to Lua from its RESP
//! bytes (`convert`), as Redis converts it.
//!
//! While a script runs, the Lua callbacks reach the store through
//! [`RunEnv`], a set of pointers installed for the run's duration: the
//! handler that started the script holds the only references, and it
//! does nothing with them until the script returns. This is the one
//! place the store is reached through raw pointers; every access goes
//! through [`with_env`].

pub mod function;
pub mod ldb;
pub mod libs;
pub mod sha1;

mod convert;

use std::cell::Cell;
use std::collections::HashMap;
use std::time::Instant;

use bytes::Bytes;
use mlua::{Function, Lua, LuaOptions, MultiValue, StdLib, Table, Value};
use slab::Slab;

use crate::client::Client;
use crate::cmd::{CmdError, CmdResult, Ctx, Resolved, flag};
use crate::resp::{Protocol, Reply};
use crate::store::Store;

/// Script flags, from a `#!lua flags=...` line or a function's
/// registration.
pub mod sflag {
    pub const NO_WRITES: u32 = 1;
    pub const ALLOW_OOM: u32 = 1 << 1;
    pub const ALLOW_STALE: u32 = 1 << 2;
    pub const NO_CLUSTER: u32 = 1 << 3;
    pub const ALLOW_CROSS_SLOT: u32 = 1 << 4;
    /// An EVAL script with no shebang: Redis's backwards-compatible mode,
    /// where the command's own flags apply.
    pub const EVAL_COMPAT: u32 = 1 << 5;

    pub const NAMES: &[(u32, &str)] = &[
        (NO_WRITES, "no-writes"),
        (ALLOW_OOM, "allow-oom"),
        (ALLOW_STALE, "allow-stale"),
        (NO_CLUSTER, "no-cluster"),
        (ALLOW_CROSS_SLOT, "allow-cross-slot-keys"),
    ];
}

const PRELUDE: &str = include_str!("prelude.lua");
/// The prelude's chunk name: its frames are not where a script failed.
const PRELUDE_NAME: &str = "=ferrokv";
/// How many Lua instructions run between checks of the time limit.
const HOOK_INSTRUCTIONS: u32 = 100_000;
/// Redis's REDIS_VERSION_NUM for 7.0.15.
const VERSION_NUM: u32 = 0x0007_000f;

/// A cached EVAL script.
pub struct Script {
    pub body: Bytes,
    pub flags: u32,
    func: Function,
    /// Its SHA, as the script's name in errors and logs.
    name: std::rc::Rc<str>,
    /// When an EVAL last ran it, for a script only EVAL brought; one
    /// SCRIPT LOAD made stays until SCRIPT FLUSH.
    last_eval: Option<u64>,
}

/// How many scripts that only EVAL brought are kept: past this the least
/// recently run goes, so a client that builds a new script text per call
/// cannot grow the cache without end (Redis 7.4 bounds it the same way;
/// 7.0 does not). SCRIPT LOAD's scripts are never dropped.
const EVAL_SCRIPTS_MAX: usize = 500;

/// The script running now, for SCRIPT KILL, FUNCTION KILL and `-BUSY`.
pub struct Running {
    /// EVAL (as opposed to FCALL): which KILL may stop it.
    pub eval: bool,
    /// The script's SHA or the function's name, for the log.
    pub name: std::rc::Rc<str>,
    /// A write command ran: the script can no longer be killed.
    pub write_dirty: bool,
    pub killed: bool,
    /// Past `busy-reply-threshold`: other clients are answered `-BUSY`.
    pub timed_out: bool,
    pub started: Instant,
    pub read_only: bool,
    pub allow_oom: bool,
    /// Memory was over `maxmemory` when the script started.
    pub oom_at_start: bool,
    /// The caller must be obeyed (the AOF loader): no memory checks.
    pub obey: bool,
    /// `redis.set_repl`'s flags: 1 the AOF, 2 replicas.
    pub repl: u8,
    /// The slab key of the client that called the script.
    pub caller: usize,
}

/// The interpreter and what the glue keeps of it.
struct Vm {
    lua: Lua,
    /// The table behind the globals' read-only view, where KEYS and ARGV
    /// are set for each run.
    real_globals: Table,
    xpcall: Function,
    handler: Function,
    /// [`enter`], which runs a script.
    enter: Function,
}

#[derive(Default)]
pub struct Scripting {
    vm: Option<Vm>,
    scripts: HashMap<[u8; 40], Script, ahash::RandomState>,
    /// Bytes the cached scripts take (SHA and body), INFO's
    /// `used_memory_scripts_eval`.
    pub scripts_mem: usize,
    pub running: Option<Running>,
    /// The Lua client between runs (it is in the client table only while
    /// a script runs).
    client: Option<Client>,
    /// Scripts with `last_eval`, and the clock it counts.
    evictable: usize,
    eval_clock: u64,
    /// FUNCTION's libraries, in a Lua state of their own.
    pub functions: function::Functions,
    /// The clients whose next EVAL runs under the debugger.
    pub debug: ldb::Requests,
}

thread_local! {
    static RUN: Cell<*mut RunEnv> = const { Cell::new(std::ptr::null_mut()) };
    /// Redis's rand48 state: one sequence for the server's life, as
    /// Redis's `math.random` (SCRIPT FLUSH does not reset it).
    static RAND48: Cell<u64> = const { Cell::new(0x1234_ABCD_330E) };
}

/// What the Lua callbacks need while a script runs.
pub struct RunEnv {
    store: *mut Store,
    clients: *mut Slab<Client>,
    /// The script's own client (its slab key).
    client: usize,
    caller: usize,
    now_ms: u64,
    /// The script client's replies, converted to Lua after each call.
    out: Reply,
    clock: Instant,
}

/// Runs `f` with the running script's environment, if a script runs.
fn with_env<R>(f: impl FnOnce(&mut RunEnv, &mut Store, &mut Slab<Client>) -> R) -> Option<R> {
    let ptr = RUN.with(|r| r.get());
    if ptr.is_null() {
        return None;
    }
    // SAFETY: the pointer is set by `run` for the duration of the script
    // only, to an environment on its stack, whose store and client
    // pointers come from the `Ctx` the handler holds and does not use
    // until the script returns. Lua callbacks do not nest (a command run
    // by a script cannot run a script: EVAL and FCALL are `noscript`),
    // and the hook runs between instructions, never inside a callback,
    // so no two of these references are alive at once.
    let env = unsafe { &mut *ptr };
    let (store, clients) = unsafe { (&mut *env.store, &mut *env.clients) };
    Some(f(env, store, clients))
}

fn rand48_next() -> u32 {
    RAND48.with(|s| {
        let x = s.get().wrapping_mul(0x5_DEEC_E66D).wrapping_add(0xB) & ((1 << 48) - 1);
        s.set(x);
        (x >> 17) as u32
    })
}

fn rand48_seed(seed: i32) {
    let seed = seed as u32 as u64;
    RAND48.with(|s| s.set(((seed >> 16) << 32) | ((seed & 0xffff) << 16) | 0x330E));
}

impl Vm {
    fn new() -> mlua::Result<Vm> {
        let lua = Lua::new_with(
            StdLib::TABLE | StdLib::STRING | StdLib::MATH,
            LuaOptions::default(),
        )?;
        libs::open_all(&lua)?;
        let real_globals = lua.globals();
        let api = api_table(&lua)?;
        let handler = lua.create_function(error_handler)?;
        api.raw_set("error_handler", handler.clone())?;
        let globals: Table = lua
            .load(PRELUDE)
            .set_name(PRELUDE_NAME)
            .call((api, real_globals.clone()))?;
        lua.set_globals(globals)?;
        let xpcall: Function = real_globals.raw_get("xpcall")?;
        set_interrupt_hook(&lua, Hook::Counting)?;
        // SAFETY: `enter` follows the C API's rules (see there).
        let enter = unsafe { lua.create_c_function(enter)? };
        Ok(Vm {
            lua,
            real_globals,
            xpcall,
            handler,
            enter,
        })
    }
}

/// The Rust side of the `redis` API, which the prelude wraps.
fn api_table(lua: &Lua) -> mlua::Result<Table> {
    let api = lua.create_table()?;
    let call = lua.create_function(|lua, args: MultiValue| redis_call(lua, true, args))?;
    let pcall = lua.create_function(|lua, args: MultiValue| Ok(redis_call(lua, false, args)?.0))?;
    // The general path (any reply, RESP3 included), for what the fast C
    // functions below hand over.
    lua.set_named_registry_value(SLOW_CALL, c_closure(lua, call, raising)?)?;
    lua.set_named_registry_value(SLOW_PCALL, c_closure(lua, pcall, trampoline)?)?;
    // SAFETY: plain C functions over the Lua API (see `fast_call`).
    unsafe {
        api.raw_set("call", lua.create_c_function(fast_redis_call)?)?;
        api.raw_set("pcall", lua.create_c_function(fast_redis_pcall)?)?;
    }
    api.raw_set(
        "c_wrap",
        lua.create_function(|lua, f: Function| c_closure(lua, f, trampoline))?,
    )?;
    api.raw_set(
        "setresp",
        lua.create_function(|_, (argc, v): (usize, Value)| {
            if argc != 1 {
                return Ok(Some("redis.setresp() requires one argument."));
            }
            let resp = lua_number(&v).map(|n| n as i32).unwrap_or(0);
            if resp != 2 && resp != 3 {
                return Ok(Some("RESP version must be 2 or 3."));
            }
            let proto = if resp == 3 {
                Protocol::Resp3
            } else {
                Protocol::Resp2
            };
            Ok(with_env(|env, _, _| env.out.proto = proto).map_or(
                Some("redis.setresp can only be called inside a script invocation"),
                |_| None,
            ))
        })?,
    )?;
    api.raw_set(
        "set_repl",
        lua.create_function(|_, (argc, v): (usize, Value)| {
            if argc != 1 {
                return Ok(Some("redis.set_repl() requires two arguments."));
            }
            let flags = lua_number(&v).map(|n| n as i32).unwrap_or(0);
            if flags & !3 != 0 {
                return Ok(Some(
                    "Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE.",
                ));
            }
            Ok(with_env(|_, store, _| {
                if let Some(r) = store.scripting.running.as_mut() {
                    r.repl = flags as u8;
                }
            })
            .map_or(
                Some("redis.set_repl can only be called inside a script invocation"),
                |_| None,
            ))
        })?,
    )?;
    api.raw_set(
        "log",
        lua.create_function(|_, args: MultiValue| {
            let mut it = args.iter();
            let level = it.next().and_then(lua_number).unwrap_or(0.0) as i32;
            let mut text = Vec::new();
            for (i, v) in it.enumerate() {
                if let Some(s) = lua_string(v) {
                    if i != 0 {
                        text.push(b' ');
                    }
                    text.extend_from_slice(&s);
                }
            }
            let text = String::from_utf8_lossy(&text);
            match level {
                0 | 1 => log::debug!("{text}"),
                2 => log::info!("{text}"),
                _ => log::warn!("{text}"),
            }
            Ok(())
        })?,
    )?;
    api.raw_set(
        "sha1hex",
        lua.create_function(|lua, s: mlua::LuaString| lua.create_string(sha1::hex(&s.as_bytes())))?,
    )?;
    api.raw_set(
        "error_text",
        lua.create_function(|lua, s: mlua::LuaString| {
            let s = s.as_bytes();
            let s = if s.starts_with(b"-") {
                s.to_vec()
            } else {
                [b"-", &s[..]].concat()
            };
            lua.create_string(convert::error_text(&s))
        })?,
    )?;
    api.raw_set(
        "acl_check_cmd",
        lua.create_function(|_, args: MultiValue| Ok(acl_check_cmd(args)))?,
    )?;
    api.raw_set(
        "rand",
        lua.create_function(|_, ()| Ok(rand48_next() % 0x7fff_ffff))?,
    )?;
    api.raw_set(
        "srand",
        lua.create_function(|_, seed: f64| {
            rand48_seed(seed as i32);
            Ok(())
        })?,
    )?;
    // SAFETY: C functions over the Lua API (see `ldb`).
    unsafe {
        api.raw_set("breakpoint", lua.create_c_function(ldb::lua_breakpoint)?)?;
        api.raw_set("debug", lua.create_c_function(ldb::lua_debug)?)?;
    }
    api.raw_set(
        "ldb_error",
        lua.create_function(|_, s: mlua::LuaString| {
            ldb::log_error(&s.as_bytes());
            Ok(())
        })?,
    )?;
    api.raw_set("version", crate::REDIS_VERSION)?;
    api.raw_set("version_num", VERSION_NUM)?;
    Ok(api)
}

const SLOW_CALL: &str = "ferrokv.redis.call";
const SLOW_PCALL: &str = "ferrokv.redis.pcall";

unsafe extern "C-unwind" fn fast_redis_call(l: *mut mlua::lua_State) -> std::os::raw::c_int {
    // SAFETY: called by Lua as a C function.
    unsafe { fast_call(l, true) }
}

unsafe extern "C-unwind" fn fast_redis_pcall(l: *mut mlua::lua_State) -> std::os::raw::c_int {
    // SAFETY: called by Lua as a C function.
    unsafe { fast_call(l, false) }
}

/// What the fast path did.
enum Fast {
    /// The reply is on the stack; whether it is an error.
    Pushed(bool),
    /// Not for the fast path: the general one takes the call as it came.
    Slow,
}

/// `redis.call` and `redis.pcall` for the common case, over the Lua API
/// directly: string and number arguments read off the stack, a RESP2
/// reply pushed from its bytes, no handles made per value. Anything else
/// (no script running, other argument types, a refusal, a RESP3 reply)
/// goes to the general path with the same arguments, which answers it as
/// Redis does.
///
/// # Safety
///
/// Called by Lua as a C function on `l`.
unsafe fn fast_call(l: *mut mlua::lua_State, raise: bool) -> std::os::raw::c_int {
    use mlua::ffi;
    // SAFETY: the running C function's state; Rust values are dropped
    // before any `lua_error` (the inner call returns first).
    unsafe {
        let top = ffi::lua_gettop(l);
        let outcome =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| fast_call_inner(l, top)));
        match outcome {
            Ok(Fast::Pushed(is_error)) => {
                if is_error && raise {
                    ffi::lua_error(l);
                }
                1
            }
            _ => {
                // Back to the arguments alone, then the general path.
                ffi::lua_settop(l, top);
                let key = if raise { SLOW_CALL } else { SLOW_PCALL };
                ffi::lua_pushlstring(l, key.as_ptr().cast(), key.len());
                ffi::lua_rawget(l, ffi::LUA_REGISTRYINDEX);
                ffi::lua_insert(l, 1);
                ffi::lua_call(l, top, 1);
                1
            }
        }
    }
}

unsafe fn fast_call_inner(l: *mut mlua::lua_State, top: std::os::raw::c_int) -> Fast {
    use mlua::ffi;
    if top == 0 {
        return Fast::Slow;
    }
    let mut args = Vec::with_capacity(top as usize);
    let mut buf = bytes::BytesMut::new();
    let mut ends = Vec::with_capacity(top as usize);
    for i in 1..=top {
        // SAFETY: `i` is a valid index of the running function's stack.
        unsafe {
            match ffi::lua_type(l, i) {
                ffi::LUA_TSTRING => {
                    let mut len = 0;
                    let p = ffi::lua_tolstring(l, i, &mut len);
                    buf.extend_from_slice(std::slice::from_raw_parts(p.cast::<u8>(), len));
                }
                ffi::LUA_TNUMBER => {
                    let n = ffi::lua_tonumber(l, i);
                    if n.fract() == 0.0
                        && n.abs() < 9.007_199_254_740_992e15
                        && !(n == 0.0 && n.is_sign_negative())
                    {
                        let mut tmp = [0u8; 24];
                        buf.extend_from_slice(crate::resp::writer::format_i64(n as i64, &mut tmp));
                    } else {
                        buf.extend_from_slice(crate::util::format_double(n).as_bytes());
                    }
                }
                _ => return Fast::Slow,
            }
        }
        ends.push(buf.len());
    }
    let mut all = buf.freeze();
    let mut start = 0;
    for end in ends {
        args.push(all.split_to(end - start));
        start = end;
    }
    let outcome = with_env(|env, store, clients| {
        if env.out.proto == Protocol::Resp3 {
            return Fast::Slow;
        }
        ldb::log_command(&args);
        if let Err(msg) = script_call(env, store, clients, &args) {
            ldb::log_error(msg.as_bytes());
            refused(store, &args, &msg);
            let text = convert::error_text(msg.as_bytes());
            // SAFETY: as below.
            unsafe { push_error(l, &text) };
            return Fast::Pushed(true);
        }
        let reply = if env.out.pending() == env.out.buf.len() {
            std::borrow::Cow::Borrowed(&env.out.buf[..])
        } else {
            std::borrow::Cow::Owned(env.out.copy_range(0, env.out.pending()))
        };
        ldb::log_reply(&reply);
        // SAFETY: forwarded; only memory exhaustion raises in here.
        let pushed = unsafe { convert::push_reply(l, &reply) };
        drop(reply);
        env.out.truncate_pending(0);
        match pushed {
            Ok(is_error) => Fast::Pushed(is_error),
            // The command ran: never again. A reply too deep for the
            // stack is an error, as Redis's stack limit makes it.
            Err(()) => {
                // SAFETY: as above.
                unsafe {
                    ffi::lua_settop(l, top);
                    push_error(l, b"ERR reached lua stack limit");
                }
                Fast::Pushed(true)
            }
        }
    });
    outcome.unwrap_or(Fast::Slow)
}

/// Redis counts a script's refused command at once (and the command as
/// rejected); the script's failure on it is not counted again.
fn refused(store: &mut Store, args: &[Bytes], msg: &str) {
    match msg.strip_prefix('-') {
        Some(reply) => crate::call::count_error(&mut store.stats, reply),
        None => crate::call::count_error(&mut store.stats, "ERR"),
    }
    // Counted for the refused command (Redis's incrCommandStatsOnError
    // moves its mark), so the script's own command does not fail by it.
    store.stats.errors_mark = store.stats.total_error_replies;
    if let Some(cmd) = crate::cmd::lookup(&args[0]) {
        let cmd = match args.get(1) {
            Some(sub) if !cmd.subcommands.is_empty() => {
                crate::cmd::lookup_sub(cmd, sub).unwrap_or(cmd)
            }
            _ => cmd,
        };
        store.stats.rejected(cmd);
    }
}

/// Pushes `{err = text, ignore_error_stats_update = true}`.
///
/// # Safety
///
/// `l` is the running C function's state, with room for three values.
unsafe fn push_error(l: *mut mlua::lua_State, text: &[u8]) {
    use mlua::ffi;
    // SAFETY: forwarded.
    unsafe {
        ffi::lua_createtable(l, 0, 2);
        ffi::lua_pushlstring(l, text.as_ptr().cast(), text.len());
        ffi::lua_setfield(l, -2, c"err".as_ptr());
        ffi::lua_pushboolean(l, 1);
        ffi::lua_setfield(l, -2, c"ignore_error_stats_update".as_ptr());
    }
}

/// `f` behind a C function (`shim`, with `f` as its upvalue).
fn c_closure(lua: &Lua, f: Function, shim: mlua::lua_CFunction) -> mlua::Result<Function> {
    // SAFETY: `f` is pushed by `exec_raw` and taken as the closure's one
    // upvalue, leaving the closure as the one result.
    unsafe { lua.exec_raw::<Function>(f, |state| mlua::ffi::lua_pushcclosure(state, shim, 1)) }
}

/// Calls the upvalue with the arguments and returns what it returns.
/// Being a C function, a script's tail call to it keeps the script's own
/// frame for the error handler, as Redis's C API functions do.
unsafe extern "C-unwind" fn trampoline(state: *mut mlua::lua_State) -> std::os::raw::c_int {
    use mlua::ffi;
    // SAFETY: Lua calls this with at least LUA_MINSTACK free slots, and
    // this frame owns nothing that an error's longjmp could leak.
    unsafe {
        let n = ffi::lua_gettop(state);
        ffi::lua_pushvalue(state, ffi::lua_upvalueindex(1));
        ffi::lua_insert(state, 1);
        ffi::lua_call(state, n, ffi::LUA_MULTRET);
        ffi::lua_gettop(state)
    }
}

/// As `trampoline`, for a function that returns a value and whether to
/// raise it: `redis.call`, which raises a command's error table as is.
unsafe extern "C-unwind" fn raising(state: *mut mlua::lua_State) -> std::os::raw::c_int {
    use mlua::ffi;
    // SAFETY: as `trampoline`; `lua_error` raises the value on top.
    unsafe {
        let n = ffi::lua_gettop(state);
        ffi::lua_pushvalue(state, ffi::lua_upvalueindex(1));
        ffi::lua_insert(state, 1);
        ffi::lua_call(state, n, 2);
        let raise = ffi::lua_toboolean(state, -1) != 0;
        ffi::lua_settop(state, -2);
        if raise {
            ffi::lua_error(state)
        }
        1
    }
}

fn lua_number(v: &Value) -> Option<f64> {
    match v {
        Value::Integer(i) => Some(*i as f64),
        Value::Number(n) => Some(*n),
        Value::String(s) => crate::util::parse_f64(s.as_bytes().trim_ascii()),
        _ => None,
    }
}

/// `lua_tolstring`: strings as they are, numbers as Lua prints them.
fn lua_string(v: &Value) -> Option<Vec<u8>> {
    match v {
        Value::String(s) => Some(s.as_bytes().to_vec()),
        Value::Integer(_) | Value::Number(_) => {
            let n = lua_number(v)?;
            Some(lua_number_text(n).into_bytes())
        }
        _ => None,
    }
}

/// A number as Lua 5.1's `tostring` writes it (`%.14g`).
fn lua_number_text(n: f64) -> String {
    let mut buf = [0u8; 64];
    // SAFETY: the buffer is valid for its length and the format is a
    // NUL-terminated literal taking one double.
    let len = unsafe {
        libc::snprintf(
            buf.as_mut_ptr() as *mut libc::c_char,
            buf.len(),
            c"%.14g".as_ptr(),
            n,
        )
    };
    String::from_utf8_lossy(&buf[..(len.max(0) as usize).min(63)]).into_owned()
}

/// A script's arguments to `redis.call` as a command's: strings as they
/// are, numbers as `%.17g` (so 1.5 is "1.5" and 3 is "3").
fn command_args(args: &MultiValue) -> Result<Vec<Bytes>, &'static str> {
    if args.is_empty() {
        return Err("Please specify at least one argument for this redis lib call");
    }
    // All the arguments in one buffer, split into its pieces: one
    // allocation per call rather than one per argument.
    let mut buf = bytes::BytesMut::new();
    let mut ends = Vec::with_capacity(args.len());
    for v in args.iter() {
        match v {
            Value::String(s) => buf.extend_from_slice(&s.as_bytes()),
            // Integral numbers below 2^53 print the same by `%.17g`.
            Value::Integer(i) if i.unsigned_abs() < 1 << 53 => {
                let mut tmp = [0u8; 24];
                buf.extend_from_slice(crate::resp::writer::format_i64(*i, &mut tmp));
            }
            Value::Integer(i) => {
                buf.extend_from_slice(crate::util::format_double(*i as f64).as_bytes())
            }
            Value::Number(n) => buf.extend_from_slice(crate::util::format_double(*n).as_bytes()),
            _ => return Err("Lua redis lib command arguments must be strings or integers"),
        }
        ends.push(buf.len());
    }
    let mut all = buf.freeze();
    let mut start = 0;
    Ok(ends
        .into_iter()
        .map(|end| {
            let piece = all.split_to(end - start);
            start = end;
            piece
        })
        .collect())
}

/// An error for the script, as an error table that does not count in the
/// error statistics again (the command's own reply counted it, or it is
/// the script's own refusal, which Redis does not count either).
fn script_error(lua: &Lua, text: &str) -> mlua::Result<(Value, bool)> {
    let t = convert::error_table(lua, text.as_bytes())?;
    t.raw_set("ignore_error_stats_update", true)?;
    Ok((Value::Table(t), true))
}

/// `redis.call` (`raise`) and `redis.pcall`: the reply, and whether it
/// is an error `redis.call` must raise.
fn redis_call(lua: &Lua, raise: bool, args: MultiValue) -> mlua::Result<(Value, bool)> {
    let args = match command_args(&args) {
        Ok(a) => a,
        // Not a command's refusal, so not counted yet: Redis counts it
        // when the script fails on it (or returns it).
        Err(msg) => {
            ldb::log_error(msg.as_bytes());
            let t = convert::error_table(lua, msg.as_bytes())?;
            return Ok((Value::Table(t), true));
        }
    };
    let outcome = with_env(|env, store, clients| {
        ldb::log_command(&args);
        let outcome = script_call(env, store, clients, &args);
        if let Err(msg) = &outcome {
            ldb::log_error(msg.as_bytes());
            refused(store, &args, msg);
        }
        outcome.map(|()| {
            if ldb::stepping() {
                ldb::log_reply(&env.out.copy_range(0, env.out.pending()));
            }
            take_reply(lua, &mut env.out)
        })
    });
    let (value, is_error) = match outcome {
        None => {
            return script_error(
                lua,
                "redis.call/pcall can only be called inside a script invocation",
            );
        }
        Some(Err(msg)) => return script_error(lua, &msg),
        Some(Ok(reply)) => reply?,
    };
    Ok((value, is_error && raise))
}

/// Runs one command for the script (Redis's scriptCall): the checks a
/// script's command passes, then `call()`, its reply left in `env.out`.
fn script_call(
    env: &mut RunEnv,
    store: &mut Store,
    clients: &mut Slab<Client>,
    args: &[Bytes],
) -> Result<(), String> {
    let (cmd, handler) = match crate::cmd::resolve(args) {
        Resolved::Found(cmd, handler) => (cmd, handler),
        Resolved::Rejected(_, Some(_)) => {
            return Err("Wrong number of args calling Redis command from script".into());
        }
        Resolved::Rejected(_, None) if redis_noscript(args) => {
            return Err("This Redis command is not allowed from script".into());
        }
        Resolved::Rejected(_, None) => {
            return Err("Unknown Redis command called from script".into());
        }
    };
    if cmd.has(flag::NOSCRIPT) {
        return Err("This Redis command is not allowed from script".into());
    }
    if let Some(user) = clients.get(env.client).and_then(|c| c.user)
        && let Err(denied) = store.acl.user(user).check(cmd, args)
    {
        crate::cmd::acl::log_denial(
            store,
            clients,
            env.caller,
            denied,
            crate::acl::LogContext::Lua,
            cmd,
            args,
        );
        return Err(format!(
            "The user executing the script {}",
            crate::cmd::acl::script_denied_reason(denied)
        ));
    }
    let Some(running) = store.scripting.running.as_ref() else {
        return Err("redis.call/pcall can only be called inside a script invocation".into());
    };
    if running.read_only && cmd.has(flag::WRITE | flag::MAY_REPLICATE) {
        return Err("Write commands are not allowed from read-only scripts.".into());
    }
    let writes = cmd.has(flag::WRITE);
    if writes
        && !running.write_dirty
        && !running.obey
        && let Some(msg) = crate::persist::write_refusal(store)
    {
        return Err(format!("-{msg}"));
    }
    if !running.allow_oom
        && store.evictor.settings.maxmemory != 0
        && !running.obey
        && !running.write_dirty
        && running.oom_at_start
        && cmd.has(flag::DENYOOM)
    {
        return Err("-OOM command not allowed when used memory > 'maxmemory'.".into());
    }
    let repl = running.repl;
    if writes && let Some(r) = store.scripting.running.as_mut() {
        r.write_dirty = true;
    }
    // `redis.set_repl(redis.REPL_NONE)` (or replicas only): what the
    // command would propagate is not recorded.
    let recording = store.effects.record_propagation;
    if repl & 1 == 0 {
        store.effects.record_propagation = false;
    }
    ldb::before_command(store, clients, env.client, cmd, args);
    let req = crate::call::Request {
        token: env.client,
        cmd,
        handler,
        args,
        now_ms: env.now_ms,
        deny_blocking: true,
        serving: None,
        nested: true,
    };
    crate::call::call(store, clients, &mut env.out, req, &mut env.clock);
    store.effects.record_propagation = recording;
    Ok(())
}

/// The reply the script's client got, as Lua; the client's output is
/// emptied for the next call.
fn take_reply(lua: &Lua, out: &mut Reply) -> mlua::Result<(Value, bool)> {
    let converted = if out.pending() == out.buf.len() {
        convert::reply_to_lua(lua, &out.buf)
    } else {
        convert::reply_to_lua(lua, &out.copy_range(0, out.pending()))
    };
    out.truncate_pending(0);
    converted
}

/// Whether Redis 7.0 knows the command as one scripts may not run, for
/// the commands ferrokv does not have (its own carry the `noscript` flag).
fn redis_noscript(args: &[Bytes]) -> bool {
    const NAMES: &[&str] = &[
        "failover",
        "fcall",
        "fcall_ro",
        "function",
        "latency",
        "module",
        "psync",
        "replconf",
        "replicaof",
        "role",
        "slaveof",
        "sync",
        "wait",
        "debug",
    ];
    let name = String::from_utf8_lossy(&args[0]).to_ascii_lowercase();
    let sub = args
        .get(1)
        .map(|s| String::from_utf8_lossy(s).to_ascii_lowercase());
    NAMES.contains(&name.as_str())
        || (name == "script" && sub.as_deref() == Some("debug"))
        || (name == "cluster" && sub.as_deref() == Some("reset"))
}

/// `redis.acl_check_cmd`: whether the caller's user may run the command;
/// or the error to raise.
fn acl_check_cmd(args: MultiValue) -> (bool, Option<String>) {
    let args = match command_args(&args) {
        Ok(a) => a,
        Err(msg) => return (false, Some(msg.into())),
    };
    let outcome = with_env(|env, store, clients| {
        // Redis's lookupCommand: the name (and subcommand), not the arity.
        let Some(container) = crate::cmd::lookup(&args[0]) else {
            return Err("Invalid command passed to redis.acl_check_cmd()");
        };
        let cmd = match args.get(1) {
            Some(sub) if !container.subcommands.is_empty() => {
                match crate::cmd::lookup_sub(container, sub) {
                    Some(cmd) => cmd,
                    None => return Err("Invalid command passed to redis.acl_check_cmd()"),
                }
            }
            _ => container,
        };
        Ok(match clients.get(env.caller).and_then(|c| c.user) {
            Some(user) => store.acl.user(user).check(cmd, &args).is_ok(),
            None => true,
        })
    });
    match outcome {
        None => (
            false,
            Some("redis.acl_check_cmd can only be called inside a script invocation".into()),
        ),
        Some(Ok(allowed)) => (allowed, None),
        Some(Err(msg)) => (false, Some(msg.into())),
    }
}

/// The message handler scripts run under (Redis's
/// `__redis__err__handler`): the error as a table with an `err` field,
/// and where the script failed (`source`, `line`), the first frame that
/// is neither a C function nor the prelude's.
fn error_handler(lua: &Lua, err: Value) -> mlua::Result<Value> {
    let table = match err {
        Value::Table(t) => t,
        other => {
            let text = match &other {
                Value::String(s) => String::from_utf8_lossy(&s.as_bytes()).into_owned(),
                Value::Integer(_) | Value::Number(_) => {
                    lua_number_text(lua_number(&other).unwrap_or(0.0))
                }
                Value::Error(e) => killed_or(e.to_string()),
                Value::Nil => "nil".into(),
                Value::Boolean(b) => b.to_string(),
                v => format!("{}: {:p}", v.type_name(), v.to_pointer()),
            };
            let t = lua.create_table()?;
            t.raw_set("err", format!("ERR {text}"))?;
            t
        }
    };
    for level in 1..8 {
        let frame = lua.inspect_stack(level, |d| {
            let s = d.source();
            (s.what, s.source.map(|x| x.into_owned()), d.current_line())
        });
        let Some((what, source, line)) = frame else {
            break;
        };
        // A tail call's marker stands for a frame of the prelude (its
        // `pcall` tail-calls a helper, where the hook may raise SCRIPT
        // KILL's error), never for one of the script's.
        if what == "C" || what == "tail" || source.as_deref() == Some(PRELUDE_NAME) {
            continue;
        }
        if let Some(source) = source {
            table.raw_set("source", source)?;
        }
        table.raw_set("line", line.map_or(-1, |l| l as i64))?;
        break;
    }
    Ok(Value::Table(table))
}

fn killed_or(text: String) -> String {
    if text.contains(KILLED) {
        KILLED.into()
    } else {
        text
    }
}

const KILLED: &str = "Script killed by user with SCRIPT KILL...";

/// When the interrupt hook runs.
pub(crate) enum Hook {
    /// Every [`HOOK_INSTRUCTIONS`] instructions: the time limit and SCRIPT
    /// KILL are checked now and then.
    Counting,
    /// On every line, once a script is killed: the kill error is raised
    /// again at the next line, so a script cannot catch it with `pcall`
    /// and run on (Redis's luaMaskCountHook does the same).
    EveryLine,
}

pub(crate) fn set_interrupt_hook(lua: &Lua, hook: Hook) -> mlua::Result<()> {
    let triggers = match hook {
        Hook::Counting => mlua::HookTriggers::new().every_nth_instruction(HOOK_INSTRUCTIONS),
        Hook::EveryLine => mlua::HookTriggers::new().every_line(),
    };
    lua.set_hook(triggers, |lua, _| interrupt(lua))
}

/// The instruction hook: the time limit and SCRIPT KILL.
fn interrupt(lua: &Lua) -> mlua::Result<mlua::VmState> {
    // A library's code at FUNCTION LOAD has a time limit of its own.
    if function::load_timed_out() {
        return Err(mlua::Error::runtime(function::LOAD_TIMEOUT_TEXT));
    }
    let killed = with_env(|env, store, clients| {
        let threshold = store.config.busy_reply_threshold_ms();
        let Some(running) = store.scripting.running.as_mut() else {
            return false;
        };
        if !running.timed_out && threshold > 0 {
            let elapsed = running.started.elapsed().as_millis() as u64;
            if elapsed >= threshold {
                log::warn!(
                    "Slow script detected: still in execution after {elapsed} milliseconds. You can try killing the script using the {} command. Script name is: {}.",
                    if running.eval {
                        "SCRIPT KILL"
                    } else {
                        "FUNCTION KILL"
                    },
                    running.name
                );
                running.timed_out = true;
            }
        }
        if running.timed_out {
            crate::server::busy::serve(store, clients, &[env.caller, env.client]);
        }
        store.scripting.running.as_ref().is_some_and(|r| r.killed)
    });
    // Not in the prelude's own frames (its FCALL runner): the error is
    // raised in the script's, where the error handler catches it.
    let in_prelude = lua
        .inspect_stack(0, |d| d.source().source.as_deref() == Some(PRELUDE_NAME))
        .unwrap_or(false);
    if killed == Some(true) && !in_prelude {
        log::warn!("Lua script killed by user with SCRIPT KILL.");
        set_interrupt_hook(lua, Hook::EveryLine)?;
        return Err(mlua::Error::runtime(KILLED));
    }
    Ok(mlua::VmState::Continue)
}

/// The shebang line's flags (`#!lua flags=no-writes,allow-oom`) and
/// where the code starts, or Redis's error.
pub fn shebang_flags(body: &[u8]) -> Result<(u32, usize), String> {
    if !body.starts_with(b"#!") {
        return Ok((sflag::EVAL_COMPAT, 0));
    }
    let Some(end) = body.iter().position(|&b| b == b'\n') else {
        return Err("Invalid script shebang".into());
    };
    let mut raw_parts = Vec::new();
    if !crate::resp::parser::split_inline_args(&body[..end], &mut raw_parts) {
        return Err("Invalid script shebang".into());
    }
    let parts: Vec<String> = raw_parts
        .iter()
        .map(|p| String::from_utf8_lossy(crate::util::until_nul(p)).into_owned())
        .collect();
    let Some(engine) = parts.first() else {
        return Err("Invalid script shebang".into());
    };
    if engine != "#!lua" {
        return Err(format!("Unexpected engine in script shebang: {engine}"));
    }
    let mut flags = 0;
    for part in &parts[1..] {
        let Some(list) = part.strip_prefix("flags=") else {
            return Err(format!("Unknown lua shebang option: {part}"));
        };
        for name in list.split(',').filter(|_| !list.is_empty()) {
            match sflag::NAMES.iter().find(|(_, n)| *n == name) {
                Some((f, _)) => flags |= f,
                None => return Err(format!("Unexpected flag in script shebang: {name}")),
            }
        }
    }
    Ok((flags, end))
}

/// Compiles a script, or gives the compiler's message as Redis's: its
/// bytes as they are (it may quote the script's own), and the escape byte
/// of a binary chunk refused by the text parser like any unexpected symbol.
fn compile(lua: &Lua, code: &[u8], name: &std::ffi::CStr) -> Result<Function, Vec<u8>> {
    use mlua::ffi;
    let escaped = code.first() == Some(&27);
    let text: std::borrow::Cow<[u8]> = if escaped {
        let mut v = code.to_vec();
        v[0] = 1;
        v.into()
    } else {
        code.into()
    };
    // SAFETY: luaL_loadbuffer leaves the chunk or its message on the stack
    // and returns a status instead of raising.
    let loaded = unsafe {
        lua.exec_raw::<(bool, Value)>((), |l| {
            let status = ffi::luaL_loadbuffer(l, text.as_ptr().cast(), text.len(), name.as_ptr());
            ffi::lua_pushboolean(l, (status == 0) as i32);
            ffi::lua_insert(l, -2);
        })
    };
    let mut msg = match loaded {
        Ok((true, Value::Function(f))) => return Ok(f),
        Ok((_, Value::String(m))) => m.as_bytes().to_vec(),
        Ok((_, other)) => format!("{other:?}").into_bytes(),
        Err(e) => e.to_string().into_bytes(),
    };
    if escaped {
        replace_first(&mut msg, b"\x01", b"\x1b");
        replace_first(&mut msg, b"char(1)", b"char(27)");
    }
    Err(msg)
}

/// Replaces the first `from` in `text` with `to`.
fn replace_first(text: &mut Vec<u8>, from: &[u8], to: &[u8]) {
    if let Some(at) = text.windows(from.len()).position(|w| w == from) {
        text.splice(at..at + from.len(), to.iter().copied());
    }
}

impl Scripting {
    fn vm(&mut self) -> Result<&mut Vm, CmdError> {
        if self.vm.is_none() {
            let vm = Vm::new().map_err(|e| CmdError::err(format!("Lua setup failed: {e}")))?;
            self.vm = Some(vm);
        }
        self.vm
            .as_mut()
            .ok_or_else(|| CmdError::err("Lua is unavailable"))
    }

    pub fn exists(&self, sha: &[u8]) -> bool {
        sha_key(sha).is_some_and(|k| self.scripts.contains_key(&k))
    }

    pub fn len(&self) -> usize {
        self.scripts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.scripts.is_empty()
    }

    /// The interpreter's memory, INFO's `used_memory_lua`.
    pub fn lua_memory(&self) -> usize {
        self.vm.as_ref().map_or(0, |vm| vm.lua.used_memory())
    }

    /// The flags of a cached script, by SHA.
    pub fn flags_of(&self, sha: &[u8]) -> Option<u32> {
        self.scripts.get(&sha_key(sha)?).map(|s| s.flags)
    }

    /// Compiles and caches a script (SCRIPT LOAD, EVAL); returns its SHA.
    pub fn load(&mut self, body: &Bytes, by_eval: bool) -> Result<[u8; 40], CmdError> {
        let sha = sha1::hex(body);
        if let Some(script) = self.scripts.get_mut(&sha) {
            if !by_eval && script.last_eval.take().is_some() {
                self.evictable -= 1;
            }
            return Ok(sha);
        }
        let (flags, start) = shebang_flags(body).map_err(CmdError::err)?;
        let vm = self.vm()?;
        let func = compile(&vm.lua, &body[start..], c"@user_script").map_err(|m| {
            let mut text = b"ERR Error compiling script (new function): ".to_vec();
            text.extend_from_slice(&m);
            CmdError::Raw(text)
        })?;
        self.scripts_mem += script_size(body);
        self.eval_clock += 1;
        let last_eval = by_eval.then_some(self.eval_clock);
        self.scripts.insert(
            sha,
            Script {
                body: body.clone(),
                flags,
                func,
                name: String::from_utf8_lossy(&sha).into(),
                last_eval,
            },
        );
        if by_eval {
            self.evictable += 1;
            if self.evictable > EVAL_SCRIPTS_MAX {
                self.evict_oldest_eval_script();
            }
        }
        Ok(sha)
    }

    fn evict_oldest_eval_script(&mut self) {
        let oldest = self
            .scripts
            .iter()
            .filter_map(|(sha, s)| s.last_eval.map(|t| (t, *sha)))
            .min();
        if let Some((_, sha)) = oldest
            && let Some(script) = self.scripts.remove(&sha)
        {
            self.evictable -= 1;
            self.scripts_mem -= script_size(&script.body);
        }
    }

    /// SCRIPT FLUSH: every script and the interpreter's state go.
    pub fn flush(&mut self) {
        self.scripts.clear();
        self.scripts_mem = 0;
        self.evictable = 0;
        self.vm = None;
    }

    /// The Lua client for a run, made the first time with `id`.
    fn take_client(&mut self, id: u64, now_ms: u64) -> Client {
        let mut c = self.client.take().unwrap_or_else(|| {
            let mut c = Client::detached(id, now_ms);
            c.script = true;
            c
        });
        c.reply_mode = crate::client::ReplyMode::On;
        c
    }
}

/// What a cached script counts for in `used_memory_scripts_eval`.
fn script_size(body: &[u8]) -> usize {
    40 + body.len() + 16
}

fn sha_key(sha: &[u8]) -> Option<[u8; 40]> {
    let mut key: [u8; 40] = sha.try_into().ok()?;
    key.make_ascii_lowercase();
    Some(key)
}

/// The flags a script command runs with at the gate (Redis's
/// evalGetCommandFlags): a script that declared flags in its shebang is
/// a write, deny-oom command unless it said otherwise.
pub fn command_flags(store: &Store, cmd: &crate::cmd::Command, args: &[Bytes]) -> u32 {
    let flags = cmd.flags;
    let evalsha = match cmd.name {
        "eval" | "eval_ro" => false,
        "evalsha" | "evalsha_ro" => true,
        // Redis's fcallGetCommandFlags: the function's own flags.
        "fcall" | "fcall_ro" => {
            return match args
                .get(1)
                .and_then(|n| store.scripting.functions.libs.function(n))
            {
                Some(f) => script_command_flags(flags, f.flags),
                None => flags,
            };
        }
        _ => return flags,
    };
    let Some(body) = args.get(1) else {
        return flags;
    };
    let script_flags = if evalsha {
        match store.scripting.flags_of(body) {
            Some(f) => f,
            None => return flags,
        }
    } else {
        // A script's flags follow from its body alone, cached or not: no
        // SHA-1 here (EVAL computes it once, when it runs).
        match shebang_flags(body) {
            Ok((f, _)) => f,
            Err(_) => return flags,
        }
    };
    if script_flags & sflag::EVAL_COMPAT != 0 {
        return flags;
    }
    script_command_flags(flags, script_flags)
}

/// Redis's scriptFlagsToCmdFlags.
pub fn script_command_flags(cmd_flags: u32, script_flags: u32) -> u32 {
    let mut f = cmd_flags & !(flag::STALE | flag::DENYOOM | flag::WRITE);
    if script_flags & (sflag::ALLOW_OOM | sflag::NO_WRITES) == 0 {
        f |= flag::DENYOOM;
    }
    if script_flags & sflag::NO_WRITES == 0 {
        f |= flag::WRITE;
    }
    if script_flags & sflag::ALLOW_STALE != 0 {
        f |= flag::STALE;
    }
    f & !flag::MAY_REPLICATE
}

/// What to run: an EVAL script or a function.
pub struct Target {
    pub func: Function,
    pub flags: u32,
    /// The SHA or the function's name.
    pub name: std::rc::Rc<str>,
    pub eval: bool,
    /// EVAL_RO, EVALSHA_RO, FCALL_RO.
    pub read_only: bool,
}

impl Scripting {
    /// The cached script for a SHA, compiling `body` first for EVAL.
    pub fn eval_target(
        &mut self,
        sha_or_body: &Bytes,
        evalsha: bool,
        ro: bool,
    ) -> Result<Target, CmdError> {
        let sha = if evalsha {
            sha_key(sha_or_body).ok_or_else(noscript)?
        } else {
            self.load(sha_or_body, true)?
        };
        self.eval_clock += 1;
        let script = self.scripts.get_mut(&sha).ok_or_else(noscript)?;
        if script.last_eval.is_some() {
            script.last_eval = Some(self.eval_clock);
        }
        Ok(Target {
            func: script.func.clone(),
            flags: script.flags,
            name: script.name.clone(),
            eval: true,
            read_only: ro,
        })
    }
}

pub fn noscript() -> CmdError {
    CmdError::Msg("NOSCRIPT No matching script. Please use EVAL.".into())
}

/// Runs a script for the command in `ctx` (Redis's scriptPrepareForRun,
/// luaCallFunction and scriptResetRun) and writes its reply.
pub fn run(ctx: &mut Ctx, target: Target, keys: &[Bytes], argv: &[Bytes]) -> CmdResult {
    let flags = target.flags;
    let compat = flags & sflag::EVAL_COMPAT != 0;
    let obey = ctx.must_obey();
    if !compat {
        if flags & sflag::NO_WRITES == 0 {
            if !obey && let Some(msg) = crate::persist::write_refusal(ctx.store) {
                let what = if msg.starts_with("MISCONF Redis is configured to save RDB") {
                    "MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk. Writable scripts are blocked. Use 'no-writes' flag for read only scripts.".to_owned()
                } else {
                    format!(
                        "MISCONF Redis is configured to persist data to AOF, but it's currently unable to persist to disk. Writable scripts are blocked. Use 'no-writes' flag for read only scripts. AOF error: {}",
                        msg.rsplit(": ").next().unwrap_or_default()
                    )
                };
                return Err(CmdError::Msg(what));
            }
            if target.read_only {
                return Err(CmdError::err(
                    "Can not execute a script with write flag using *_ro command.",
                ));
            }
        }
        if ctx.store.evictor.oom_at_admit
            && ctx.store.evictor.settings.maxmemory != 0
            && flags & (sflag::ALLOW_OOM | sflag::NO_WRITES) == 0
        {
            return Err(CmdError::Msg(
                "OOM allow-oom flag is not set on the script, can not run it when used memory > 'maxmemory'"
                    .into(),
            ));
        }
    }
    // The interpreter is out of the store while the script runs, so the
    // callbacks may have the store whole; nothing running meanwhile needs
    // it (SCRIPT FLUSH and FUNCTION LOAD cannot run inside a script or
    // while one is busy).
    let mut taken = if target.eval {
        ctx.store.scripting.vm()?;
        match ctx.store.scripting.vm.take() {
            Some(vm) => Taken::Eval(vm),
            None => return Err(CmdError::err("Lua is unavailable")),
        }
    } else {
        Taken::Function(
            ctx.store
                .scripting
                .functions
                .take_vm()
                .map_err(CmdError::err)?,
        )
    };
    let vm = match &mut taken {
        Taken::Eval(vm) => vm,
        Taken::Function(f) => &mut f.vm,
    };
    let (db, user) = {
        let c = ctx.client();
        (c.db, c.user)
    };
    let client = ctx
        .store
        .scripting
        .take_client(ctx.store.next_client_id, ctx.now_ms);
    if client.id == ctx.store.next_client_id {
        ctx.store.next_client_id += 1;
    }
    let mut client = client;
    client.db = db;
    client.user = user;
    let client = ctx.clients.insert(client);
    let started = Instant::now();
    ctx.store.scripting.running = Some(Running {
        eval: target.eval,
        name: target.name.clone(),
        write_dirty: false,
        killed: false,
        timed_out: false,
        started,
        read_only: target.read_only || (!compat && flags & sflag::NO_WRITES != 0),
        allow_oom: !compat && flags & sflag::ALLOW_OOM != 0,
        oom_at_start: ctx.store.evictor.oom_at_admit,
        obey,
        repl: 3,
        caller: ctx.me,
    });
    // The caller's output goes back to its client for the run: what the
    // script's commands send the caller (a message on a channel it
    // subscribes to, an invalidation) goes there in order, before the
    // script's own reply, instead of into a placeholder.
    let own_output = ctx
        .clients
        .get_mut(ctx.me)
        .map(|c| std::mem::swap(&mut c.out, ctx.out));
    let mut env = RunEnv {
        store: ctx.store as *mut Store,
        clients: ctx.clients as *mut Slab<Client>,
        client,
        caller: ctx.me,
        now_ms: ctx.now_ms,
        out: Reply::scratch(Protocol::Resp2),
        clock: started,
    };
    RUN.with(|r| r.set(&mut env));
    let outcome = call_target(vm, &target, keys, argv);
    RUN.with(|r| r.set(std::ptr::null_mut()));
    let script_resp3 = env.out.proto == Protocol::Resp3;
    drop(env);
    if own_output.is_some()
        && let Some(c) = ctx.clients.get_mut(ctx.me)
    {
        std::mem::swap(&mut c.out, ctx.out);
    }
    if let Some(c) = ctx.clients.try_remove(client) {
        ctx.store.scripting.client = Some(c);
    }
    let killed = ctx.store.scripting.running.take().is_some_and(|r| r.killed);
    // The next script is checked now and then again.
    let rehooked = if killed {
        set_interrupt_hook(&vm.lua, Hook::Counting)
    } else {
        Ok(())
    };
    match taken {
        Taken::Eval(vm) => ctx.store.scripting.vm = Some(vm),
        Taken::Function(f) => ctx.store.scripting.functions.put_vm(f),
    }
    rehooked.map_err(|e| CmdError::err(e.to_string()))?;
    let (ok, value) = match outcome {
        Ok(v) => v,
        Err(e) => {
            return Err(CmdError::err(format!(
                "Error running script {}, {:.100}",
                target.name,
                e.to_string()
            )));
        }
    };
    if ok {
        let mut w = convert::ReplyWriter {
            out: ctx.out,
            script_resp3,
            stats: &mut ctx.store.stats,
            failed: false,
        };
        w.write(&value, 0)
            .map_err(|e| CmdError::err(e.to_string()))?;
        ctx.failed = w.failed;
        return Ok(());
    }
    Err(script_failure(&value, &target.name))
}

/// The interpreter a run took out of the store.
enum Taken {
    Eval(Vm),
    Function(function::FunctionVm),
}

/// Calls the script with KEYS and ARGV (globals for EVAL, arguments for a
/// function) under the error handler: whether it returned, and its first
/// value or the error.
///
/// This is the cost of entering a script, paid on every EVALSHA, so the
/// work is done by `enter` on the C API as Redis's luaCallFunction does
/// it: the two tables built in place and one `lua_pcall` with the handler
/// as its message function, with nothing allocated besides the tables.
fn call_target(
    vm: &Vm,
    target: &Target,
    keys: &[Bytes],
    argv: &[Bytes],
) -> mlua::Result<(bool, Value)> {
    let args = EnterArgs {
        eval: target.eval,
        keys,
        argv,
    };
    let args_ptr = mlua::LightUserData(&args as *const EnterArgs as *mut std::ffi::c_void);
    vm.enter
        .call((&vm.real_globals, &vm.handler, &target.func, args_ptr))
}

/// What `enter` finds behind its light userdata.
struct EnterArgs<'a> {
    eval: bool,
    keys: &'a [Bytes],
    argv: &'a [Bytes],
}

/// `enter(globals, handler, func, args)`: sets KEYS and ARGV (EVAL) or
/// passes them (a function), runs `func` under `handler`, and returns
/// whether it returned and its first value or the error.
unsafe extern "C-unwind" fn enter(l: *mut mlua::lua_State) -> std::os::raw::c_int {
    use mlua::ffi;
    // SAFETY: called only by `call_target`, with the four values it pushes;
    // the `EnterArgs` outlives the call. A memory error raised by the API
    // calls here unwinds nothing of Rust's: the frame holds only borrows.
    unsafe {
        let args = &*(ffi::lua_touserdata(l, 4) as *const EnterArgs);
        ffi::lua_settop(l, 3);
        let array = |items: &[Bytes]| {
            ffi::lua_createtable(l, items.len() as i32, 0);
            for (i, item) in items.iter().enumerate() {
                ffi::lua_pushlstring(l, item.as_ptr().cast(), item.len());
                ffi::lua_rawseti(l, -2, i as ffi::lua_Integer + 1);
            }
        };
        let nargs = if args.eval {
            // The real globals refuse writes through their metatable.
            for (name, items) in [(c"KEYS", args.keys), (c"ARGV", args.argv)] {
                ffi::lua_pushstring(l, name.as_ptr());
                array(items);
                ffi::lua_rawset(l, 1);
            }
            ffi::lua_pushvalue(l, 3);
            0
        } else {
            ffi::lua_pushvalue(l, 3);
            array(args.keys);
            array(args.argv);
            2
        };
        // A debugging session's hook replaces the interrupt hook for the
        // run (Redis's luaCallFunction picks one or the other).
        let saved = ldb::active().then(|| {
            let saved = (
                ffi::lua_gethook(l),
                ffi::lua_gethookmask(l),
                ffi::lua_gethookcount(l),
            );
            let mask = ffi::LUA_MASKLINE | ffi::LUA_MASKCOUNT;
            ffi::lua_sethook(l, Some(ldb::line_hook), mask, HOOK_INSTRUCTIONS as i32);
            saved
        });
        let status = ffi::lua_pcall(l, nargs, 1, 2);
        if let Some((hook, mask, count)) = saved {
            ffi::lua_sethook(l, hook, mask, count);
        }
        ffi::lua_pushboolean(l, (status == 0) as i32);
        ffi::lua_insert(l, -2);
        2
    }
}

/// The reply to a script that raised an error: its `err`, and where
/// (`script: <name>, on <source>:<line>.`), as Redis's luaCallFunction.
fn script_failure(value: &Value, name: &str) -> CmdError {
    let Value::Table(t) = value else {
        return CmdError::err(format!("Error running script {name}, execution failure"));
    };
    // Bytes, not text: the message may quote a command's binary argument.
    let field = |k: &str| -> Option<Vec<u8>> {
        match t.get::<Value>(k).ok()? {
            // Read as a C string, as Redis does: up to a NUL.
            Value::String(s) => Some(convert::c_string(&s.as_bytes()).to_vec()),
            v @ (Value::Integer(_) | Value::Number(_)) => {
                Some(lua_number_text(lua_number(&v)?).into_bytes())
            }
            _ => None,
        }
    };
    let mut msg = field("err").unwrap_or_else(|| b"ERR unknown error".to_vec());
    if let (Some(source), Some(line)) = (field("source"), field("line")) {
        msg.extend_from_slice(format!(" script: {name}, on ").as_bytes());
        msg.extend_from_slice(&source);
        msg.push(b':');
        msg.extend_from_slice(&line);
        msg.push(b'.');
    }
    let uncounted = matches!(
        t.get::<Value>("ignore_error_stats_update"),
        Ok(Value::Boolean(true))
    );
    if uncounted {
        CmdError::Uncounted(msg)
    } else {
        CmdError::Raw(msg)
    }
}
