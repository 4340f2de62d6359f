//! Redis 7.0's functions: libraries of Lua functions that FUNCTION LOAD
//! keeps and FCALL runs (Redis's `functions.c` and `function_lua.c`).
//!
//! Functions live in a Lua state of their own, apart from EVAL's, set up
//! as EVAL's is (the prelude, the libraries, read-only globals), with one
//! difference: the globals scripts see are a view whose lookups go to one
//! of two tables. While a library's code runs at load, that is the load
//! API, which holds only `redis.register_function`, `redis.log`, the log
//! levels and the version; while a function runs, it is the globals EVAL
//! scripts see. A function keeps the view as its environment, so what it
//! reads is decided when it runs, as in Redis, where the globals'
//! metatable is switched around each load.
//!
//! A library is its code (with the `#!lua name=...` line, as FUNCTION
//! DUMP, the RDB file and FUNCTION LIST WITHCODE give it back) and the
//! functions its code registered. Function names are unique across
//! libraries, compared without case, as FCALL looks them up.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use bytes::Bytes;
use mlua::{Lua, MultiValue, Table, Value};

use super::{Vm, sflag};

/// How long a library's code may run at load (Redis's LOAD_TIMEOUT_MS),
/// except for one the server must obey (the AOF, a replica's stream).
pub const LOAD_TIMEOUT: Duration = Duration::from_millis(500);

/// The one engine, as FUNCTION LIST and STATS name it.
pub const ENGINE: &str = "LUA";

const BAD_NAME: &str = "Library names can only contain letters, numbers, or underscores(_) and must be at least one character long";
pub(super) const LOAD_TIMEOUT_TEXT: &str = "FUNCTION LOAD timeout";

/// A function a library registered.
pub struct FunctionDef {
    pub name: String,
    pub desc: Option<Vec<u8>>,
    pub flags: u32,
    pub func: mlua::Function,
}

/// A loaded library.
pub struct Library {
    pub name: String,
    /// The whole code as given, metadata line included.
    pub code: Bytes,
    /// By name, case-sensitively (two functions of one library may differ
    /// in case only, though FCALL then finds just one of them).
    pub functions: BTreeMap<String, FunctionDef>,
}

/// A set of libraries and the index of their functions (Redis's
/// functionsLibCtx): the server's own, or one FUNCTION RESTORE or a file
/// load builds before it replaces or joins the server's.
#[derive(Default)]
pub struct Libraries {
    libraries: BTreeMap<String, Library>,
    /// Lower-cased function name to its library's name.
    index: HashMap<String, String>,
}

impl Libraries {
    pub fn libraries(&self) -> impl Iterator<Item = &Library> {
        self.libraries.values()
    }

    pub fn library_count(&self) -> usize {
        self.libraries.len()
    }

    pub fn function_count(&self) -> usize {
        self.index.len()
    }

    /// The libraries' codes, as RDB files and FUNCTION DUMP save them.
    pub fn codes(&self) -> Vec<Bytes> {
        self.libraries.values().map(|l| l.code.clone()).collect()
    }

    /// Bytes the libraries' code, names and descriptions take (INFO's
    /// `used_memory_functions` counts them with the dictionaries).
    pub fn overhead(&self) -> usize {
        self.libraries
            .values()
            .map(|l| {
                64 + l.name.len()
                    + l.code.len()
                    + l.functions
                        .values()
                        .map(|f| 64 + f.name.len() + f.desc.as_ref().map_or(0, Vec::len))
                        .sum::<usize>()
            })
            .sum()
    }

    /// The function FCALL names, found without case.
    pub fn function(&self, name: &[u8]) -> Option<&FunctionDef> {
        let name = std::str::from_utf8(name).ok()?.to_ascii_lowercase();
        let lib = self.libraries.get(self.index.get(&name)?)?;
        lib.functions
            .values()
            .find(|f| f.name.eq_ignore_ascii_case(&name))
    }

    fn unlink(&mut self, name: &str) -> Option<Library> {
        let lib = self.libraries.remove(name)?;
        for f in lib.functions.keys() {
            self.index.remove(&f.to_ascii_lowercase());
        }
        Some(lib)
    }

    fn link(&mut self, lib: Library) {
        for f in lib.functions.keys() {
            self.index.insert(f.to_ascii_lowercase(), lib.name.clone());
        }
        self.libraries.insert(lib.name.clone(), lib);
    }

    /// The first of `lib`'s functions another library already has.
    fn collision(&self, lib: &Library) -> Option<String> {
        lib.functions
            .keys()
            .find(|f| self.index.contains_key(&f.to_ascii_lowercase()))
            .cloned()
    }

    /// FUNCTION DELETE.
    pub fn delete(&mut self, name: &[u8]) -> bool {
        std::str::from_utf8(name)
            .ok()
            .and_then(|n| self.unlink(n))
            .is_some()
    }

    /// Moves every library of `src` into this set (Redis's libraryJoin):
    /// all of them or none. With `replace`, a library of the same name
    /// is replaced; without, it is an error. A function name that another
    /// library already has is always an error.
    pub fn join(&mut self, src: Libraries, replace: Replace) -> Result<(), String> {
        let mut replaced = Vec::new();
        let mut failure = None;
        for name in src.libraries.keys() {
            if self.libraries.contains_key(name) {
                if replace == Replace::No {
                    failure = Some(format!("Library {name} already exists"));
                    break;
                }
                replaced.extend(self.unlink(name));
            }
        }
        if failure.is_none() {
            failure = src
                .libraries
                .values()
                .find_map(|lib| self.collision(lib))
                .map(|f| format!("Function {f} already exists"));
        }
        if let Some(e) = failure {
            for lib in replaced {
                self.link(lib);
            }
            return Err(e);
        }
        for (_, lib) in src.libraries {
            self.link(lib);
        }
        Ok(())
    }
}

/// Whether a library may replace one of the same name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Replace {
    Yes,
    No,
}

/// The function state: the interpreter, and the tables its globals' view
/// switches between.
pub(super) struct FunctionVm {
    pub(super) vm: Vm,
    /// The metatable of the globals' view; its `__index` is switched.
    view_meta: Table,
    /// The globals EVAL scripts see (the prelude's read-only view).
    run_globals: Table,
    /// What a library's code sees at load.
    load_api: Table,
    /// Gives an error value back as it was raised, for the load's xpcall.
    identity: mlua::Function,
}

/// Redis's functions: the libraries and the Lua state that runs them.
#[derive(Default)]
pub struct Functions {
    vm: Option<FunctionVm>,
    pub libs: Libraries,
    /// The FCALL running now, as FUNCTION STATS shows it.
    pub running_command: Option<Vec<Bytes>>,
}

/// What `redis.register_function` adds to while a library loads.
struct LoadCtx {
    functions: BTreeMap<String, FunctionDef>,
    deadline: Option<Instant>,
    timed_out: bool,
}

thread_local! {
    static LOADING: RefCell<Option<LoadCtx>> = const { RefCell::new(None) };
}

impl FunctionVm {
    fn new() -> mlua::Result<FunctionVm> {
        let vm = Vm::new()?;
        let lua = vm.lua.clone();
        let run_globals = lua.globals();
        let deny: mlua::Function = run_globals
            .metatable()
            .ok_or_else(|| mlua::Error::runtime("the globals have no metatable"))?
            .raw_get("__newindex")?;
        let view_meta = lua.create_table()?;
        view_meta.raw_set("__index", run_globals.clone())?;
        view_meta.raw_set("__newindex", deny.clone())?;
        view_meta.raw_set("__metatable", false)?;
        let view = lua.create_table()?;
        view.set_metatable(Some(view_meta.clone()))?;

        // The load API: `redis` with what a library may call at load,
        // both tables read-only and raising on a missing name, as Redis's
        // luaSetErrorMetatable tables do.
        let real_redis: Table = vm.real_globals.raw_get("redis")?;
        let api = lua.create_table()?;
        let register = lua.create_function(register_function)?;
        api.raw_set(
            "register_function",
            super::c_closure(&lua, register, super::raising)?,
        )?;
        for name in [
            "log",
            "LOG_DEBUG",
            "LOG_VERBOSE",
            "LOG_NOTICE",
            "LOG_WARNING",
            "REDIS_VERSION",
            "REDIS_VERSION_NUM",
        ] {
            api.raw_set(name, real_redis.get::<Value>(name)?)?;
        }
        let load_globals = lua.create_table()?;
        load_globals.raw_set("redis", read_only(&lua, api, &deny)?)?;
        let load_api = read_only(&lua, load_globals, &deny)?;

        lua.set_globals(view)?;
        super::set_interrupt_hook(&lua, super::Hook::Counting)?;
        let identity = lua.create_function(|_, v: Value| Ok(v))?;
        Ok(FunctionVm {
            vm,
            view_meta,
            run_globals,
            load_api,
            identity,
        })
    }
}

/// A read-only view of `t` whose missing names raise Redis's error.
fn read_only(lua: &Lua, t: Table, deny: &mlua::Function) -> mlua::Result<Table> {
    let missing = lua
        .load(
            "return function(_, k) error(\"Script attempted to access nonexistent global variable '\" .. tostring(k) .. \"'\", 2) end",
        )
        .set_name("=ferrokv")
        .call::<mlua::Function>(())?;
    let inner = lua.create_table()?;
    inner.raw_set("__index", missing)?;
    t.set_metatable(Some(inner))?;
    let meta = lua.create_table()?;
    meta.raw_set("__index", t)?;
    meta.raw_set("__newindex", deny.clone())?;
    meta.raw_set("__metatable", false)?;
    let view = lua.create_table()?;
    view.set_metatable(Some(meta))?;
    Ok(view)
}

/// The instruction hook of the function state: the load's time limit,
/// then what EVAL's hook checks (the busy threshold, FUNCTION KILL).
pub(super) fn load_timed_out() -> bool {
    LOADING.with(|l| {
        let mut l = l.borrow_mut();
        match l.as_mut() {
            Some(ctx) if ctx.deadline.is_some_and(|d| Instant::now() > d) => {
                ctx.timed_out = true;
                true
            }
            _ => false,
        }
    })
}

/// `redis.register_function`: its error (as a table to raise), or
/// nothing.
fn register_function(lua: &Lua, args: MultiValue) -> mlua::Result<(Value, bool)> {
    let fail = |msg: &str| -> mlua::Result<(Value, bool)> {
        let t = lua.create_table()?;
        t.raw_set("err", format!("ERR {msg}"))?;
        Ok((Value::Table(t), true))
    };
    if LOADING.with(|l| l.borrow().is_none()) {
        return fail("redis.register_function can only be called on FUNCTION LOAD command");
    }
    let def = match args.len() {
        1 => named_args(&args[0]),
        2 => positional_args(&args[0], &args[1]),
        _ => Err("wrong number of arguments to redis.register_function"),
    };
    let def = match def {
        Ok(d) => d,
        Err(msg) => return fail(msg),
    };
    if !valid_name(def.name.as_bytes()) {
        return fail(BAD_NAME);
    }
    let added = LOADING.with(|l| {
        let mut l = l.borrow_mut();
        let Some(ctx) = l.as_mut() else {
            return false;
        };
        if ctx.functions.contains_key(&def.name) {
            return false;
        }
        ctx.functions.insert(def.name.clone(), def);
        true
    });
    if !added {
        return fail("Function already exists in the library");
    }
    Ok((Value::Nil, false))
}

/// A Lua value as `lua_isstring` takes it: strings, and numbers as text.
fn string_arg(v: &Value) -> Option<Vec<u8>> {
    super::lua_string(v)
}

fn positional_args(name: &Value, callback: &Value) -> Result<FunctionDef, &'static str> {
    let Some(name) = string_arg(name) else {
        return Err("first argument to redis.register_function must be a string");
    };
    let Value::Function(func) = callback else {
        return Err("second argument to redis.register_function must be a function");
    };
    Ok(FunctionDef {
        name: String::from_utf8_lossy(&name).into_owned(),
        desc: None,
        flags: 0,
        func: func.clone(),
    })
}

fn named_args(arg: &Value) -> Result<FunctionDef, &'static str> {
    let Value::Table(t) = arg else {
        return Err(
            "calling redis.register_function with a single argument is only applicable to Lua table (representing named arguments).",
        );
    };
    let mut name = None;
    let mut desc = None;
    let mut func = None;
    let mut flags = 0;
    // In the table's own order, as Redis's lua_next walk: the first bad
    // field is the one reported.
    for pair in t.clone().pairs::<Value, Value>() {
        let Ok((k, v)) = pair else {
            return Err("named argument key given to redis.register_function is not a string");
        };
        let Some(key) = string_arg(&k) else {
            return Err("named argument key given to redis.register_function is not a string");
        };
        let key = String::from_utf8_lossy(crate::util::until_nul(&key)).to_ascii_lowercase();
        match key.as_str() {
            "function_name" => match string_arg(&v) {
                Some(n) => name = Some(n),
                None => {
                    return Err(
                        "function_name argument given to redis.register_function must be a string",
                    );
                }
            },
            "description" => match string_arg(&v) {
                Some(d) => desc = Some(d),
                None => {
                    return Err(
                        "description argument given to redis.register_function must be a string",
                    );
                }
            },
            "callback" => match v {
                Value::Function(f) => func = Some(f),
                _ => {
                    return Err(
                        "callback argument given to redis.register_function must be a function",
                    );
                }
            },
            "flags" => {
                let Value::Table(list) = v else {
                    return Err(
                        "flags argument to redis.register_function must be a table representing function flags",
                    );
                };
                flags = read_flags(&list).ok_or("unknown flag given")?;
            }
            _ => return Err("unknown argument given to redis.register_function"),
        }
    }
    let Some(name) = name else {
        return Err("redis.register_function must get a function name argument");
    };
    let Some(func) = func else {
        return Err("redis.register_function must get a callback argument");
    };
    Ok(FunctionDef {
        name: String::from_utf8_lossy(&name).into_owned(),
        desc,
        flags,
        func,
    })
}

/// The flags list of register_function's table form: names, without
/// case, up to the first nil.
fn read_flags(list: &Table) -> Option<u32> {
    let mut flags = 0;
    for i in 1.. {
        let v: Value = list.get(i).ok()?;
        if v.is_nil() {
            break;
        }
        let name = string_arg(&v)?;
        let name = String::from_utf8_lossy(crate::util::until_nul(&name)).into_owned();
        let (f, _) = sflag::NAMES
            .iter()
            .find(|(_, n)| n.eq_ignore_ascii_case(&name))?;
        flags |= f;
    }
    Some(flags)
}

/// Letters, digits and underscores, at least one (functionsVerifyName).
fn valid_name(name: &[u8]) -> bool {
    !name.is_empty() && name.iter().all(|&c| c.is_ascii_alphanumeric() || c == b'_')
}

/// A library's metadata line: its engine, its name, and where the code
/// after the line starts (Redis's functionExtractLibMetaData).
fn metadata(code: &[u8]) -> Result<(String, String, usize), String> {
    let text = crate::util::until_nul(code);
    if !text.starts_with(b"#!") {
        return Err("Missing library metadata".into());
    }
    let Some(end) = text.iter().position(|&b| b == b'\n') else {
        return Err("Invalid library metadata".into());
    };
    let mut parts = Vec::new();
    if !crate::resp::parser::split_inline_args(&text[..end], &mut parts) || parts.is_empty() {
        return Err("Invalid library metadata".into());
    }
    let text_of = |p: &[u8]| String::from_utf8_lossy(crate::util::until_nul(p)).into_owned();
    let engine = text_of(parts[0].get(2..).unwrap_or_default());
    let mut name = None;
    for part in &parts[1..] {
        let part = text_of(part);
        if part.len() >= 5 && part[..5].eq_ignore_ascii_case("name=") {
            if name.is_some() {
                return Err(
                    "Invalid metadata value, name argument was given multiple times".into(),
                );
            }
            name = Some(part[5..].to_owned());
            continue;
        }
        return Err(format!("Invalid metadata value given: {part}"));
    }
    let Some(name) = name else {
        return Err("Library name was not given".into());
    };
    Ok((engine, name, end))
}

impl Functions {
    fn function_vm(&mut self) -> Result<&mut FunctionVm, String> {
        if self.vm.is_none() {
            self.vm = Some(FunctionVm::new().map_err(|e| format!("Lua setup failed: {e}"))?);
        }
        self.vm.as_mut().ok_or_else(|| "Lua is unavailable".into())
    }

    /// The interpreter FCALL runs functions in, out of here for the run
    /// (see `script::run`); `put_vm` gives it back.
    pub(super) fn take_vm(&mut self) -> Result<FunctionVm, String> {
        self.function_vm()?;
        self.vm.take().ok_or_else(|| "Lua is unavailable".into())
    }

    pub(super) fn put_vm(&mut self, vm: FunctionVm) {
        self.vm = Some(vm);
    }

    /// The interpreter's memory, INFO's `used_memory_vm_functions`.
    pub fn lua_memory(&self) -> usize {
        self.vm.as_ref().map_or(0, |vm| vm.vm.lua.used_memory())
    }

    /// FUNCTION LOAD: creates a library from `code` in the server's set.
    /// Returns its name.
    pub fn load(
        &mut self,
        code: &Bytes,
        replace: Replace,
        timeout: Option<Duration>,
    ) -> Result<String, String> {
        let mut libs = std::mem::take(&mut self.libs);
        let result = self.create(&mut libs, code, replace, timeout);
        self.libs = libs;
        result
    }

    /// Creates a library from `code` in `libs` (Redis's
    /// functionsCreateWithLibraryCtx): its functions must not clash with
    /// another library's; with `replace`, one of the same name is
    /// replaced, and kept if the new one fails.
    pub fn create(
        &mut self,
        libs: &mut Libraries,
        code: &Bytes,
        replace: Replace,
        timeout: Option<Duration>,
    ) -> Result<String, String> {
        let (engine, name, start) = metadata(code)?;
        if !valid_name(name.as_bytes()) {
            return Err(BAD_NAME.into());
        }
        if !engine.eq_ignore_ascii_case(ENGINE) {
            return Err(format!("Engine '{engine}' not found"));
        }
        if libs.libraries.contains_key(&name) && replace == Replace::No {
            return Err(format!("Library '{name}' already exists"));
        }
        let old = libs.unlink(&name);
        let created = self
            .run_library(&code[start..], timeout)
            .and_then(|functions| {
                if functions.is_empty() {
                    return Err("No functions registered".to_owned());
                }
                let lib = Library {
                    name: name.clone(),
                    code: code.clone(),
                    functions,
                };
                match libs.collision(&lib) {
                    Some(f) => Err(format!("Function {f} already exists")),
                    None => Ok(lib),
                }
            });
        match created {
            Ok(lib) => {
                libs.link(lib);
                Ok(name)
            }
            Err(e) => {
                if let Some(old) = old {
                    libs.link(old);
                }
                Err(e)
            }
        }
    }

    /// Compiles and runs a library's code with the load API as its
    /// globals; returns the functions it registered.
    fn run_library(
        &mut self,
        code: &[u8],
        timeout: Option<Duration>,
    ) -> Result<BTreeMap<String, FunctionDef>, String> {
        let fvm = self.function_vm()?;
        let lua = fvm.vm.lua.clone();
        let func = super::compile(&lua, code, c"@user_function")
            .map_err(|m| format!("Error compiling function: {}", String::from_utf8_lossy(&m)))?;
        let set_index = |t: &Table| fvm.view_meta.raw_set("__index", t.clone());
        set_index(&fvm.load_api).map_err(|e| e.to_string())?;
        LOADING.with(|l| {
            *l.borrow_mut() = Some(LoadCtx {
                functions: BTreeMap::new(),
                deadline: timeout.map(|t| Instant::now() + t),
                timed_out: false,
            })
        });
        let outcome = fvm
            .vm
            .xpcall
            .call::<MultiValue>((func, fvm.identity.clone()));
        let ctx = LOADING.with(|l| l.borrow_mut().take());
        set_index(&fvm.run_globals).map_err(|e| e.to_string())?;
        let ctx = ctx.ok_or("the load's state was lost")?;
        let mut values = outcome.map_err(|e| e.to_string())?.into_iter();
        if matches!(values.next(), Some(Value::Boolean(true))) {
            return Ok(ctx.functions);
        }
        let msg = if ctx.timed_out {
            format!("ERR {LOAD_TIMEOUT_TEXT}")
        } else {
            load_error_text(&values.next().unwrap_or(Value::Nil))
        };
        Err(format!("Error registering functions: {msg}"))
    }

    /// FUNCTION FLUSH: every library goes; the interpreter stays.
    pub fn flush(&mut self) {
        self.libs = Libraries::default();
    }

    /// A library set built from RDB function records' codes (a file's or
    /// a FUNCTION RESTORE payload's), without touching the server's.
    pub fn build(&mut self, codes: &[Bytes], replace: Replace) -> Result<Libraries, String> {
        let mut libs = Libraries::default();
        for code in codes {
            self.create(&mut libs, code, replace, None)?;
        }
        Ok(libs)
    }
}

/// What the empty function tables take, as Redis 7.0 counts them
/// (`used_memory_functions` of a server with no library).
const FUNCTIONS_BASE_OVERHEAD: usize = 200;

impl super::Scripting {
    /// The function libraries' memory as Redis 7.0's
    /// functionsMemoryOverhead counts it (INFO's `used_memory_functions`,
    /// MEMORY STATS' `functions.caches`).
    pub fn functions_memory(&self) -> usize {
        FUNCTIONS_BASE_OVERHEAD + self.functions.libs.overhead()
    }

    /// INFO memory's scripting fields, in Redis 7.0's order: the EVAL
    /// interpreter and script cache, then the functions' interpreter and
    /// libraries, then the totals.
    pub fn memory_info(&self, human: impl Fn(u64) -> String) -> String {
        let eval_vm = self.lua_memory();
        let functions_vm = self.functions.lua_memory();
        let libs = &self.functions.libs;
        let functions_mem = self.functions_memory();
        let vm_total = eval_vm + functions_vm;
        let scripts = self.scripts_mem + functions_mem;
        format!(
            "used_memory_lua:{eval_vm}\r\nused_memory_vm_eval:{eval_vm}\r\nused_memory_lua_human:{}\r\nused_memory_scripts_eval:{}\r\nnumber_of_cached_scripts:{}\r\nnumber_of_functions:{}\r\nnumber_of_libraries:{}\r\nused_memory_vm_functions:{functions_vm}\r\nused_memory_vm_total:{vm_total}\r\nused_memory_vm_total_human:{}\r\nused_memory_functions:{functions_mem}\r\nused_memory_scripts:{scripts}\r\nused_memory_scripts_human:{}\r\n",
            human(eval_vm as u64),
            self.scripts_mem,
            self.len(),
            libs.function_count(),
            libs.library_count(),
            human(vm_total as u64),
            human(scripts as u64),
        )
    }
}

/// An error raised while a library loaded, as Redis's
/// luaExtractErrorInformation reads it: a string gets `ERR `, a table
/// gives its `err` field.
fn load_error_text(v: &Value) -> String {
    match v {
        Value::String(_) | Value::Integer(_) | Value::Number(_) => {
            format!(
                "ERR {}",
                String::from_utf8_lossy(&string_arg(v).unwrap_or_default())
            )
        }
        Value::Table(t) => match t.get::<Value>("err") {
            Ok(e) => string_arg(&e)
                .map(|s| String::from_utf8_lossy(&s).into_owned())
                .unwrap_or_else(|| "(null)".into()),
            Err(_) => "(null)".into(),
        },
        Value::Error(e) => format!("ERR {}", super::killed_or(e.to_string())),
        _ => "(null)".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_is_read_as_redis_reads_it() {
        assert_eq!(
            metadata(b"#!lua name=x\nbody").unwrap(),
            ("lua".into(), "x".into(), 12)
        );
        assert_eq!(
            metadata(b"return 1").unwrap_err(),
            "Missing library metadata"
        );
        assert_eq!(metadata(b"#!lua").unwrap_err(), "Invalid library metadata");
        assert_eq!(
            metadata(b"#!lua\n").unwrap_err(),
            "Library name was not given"
        );
        assert_eq!(
            metadata(b"#!lua foo=bar\n").unwrap_err(),
            "Invalid metadata value given: foo=bar"
        );
        assert_eq!(
            metadata(b"#!lua name=a NAME=b\n").unwrap_err(),
            "Invalid metadata value, name argument was given multiple times"
        );
    }

    #[test]
    fn libraries_load_replace_and_clash() {
        let mut f = Functions::default();
        let lib = |body: &str| Bytes::from(body.to_owned());
        let a = lib("#!lua name=a\nredis.register_function('fa', function() return 1 end)");
        assert_eq!(f.load(&a, Replace::No, None).unwrap(), "a");
        assert_eq!(
            f.load(&a, Replace::No, None).unwrap_err(),
            "Library 'a' already exists"
        );
        assert_eq!(f.load(&a, Replace::Yes, None).unwrap(), "a");
        let b = lib("#!lua name=b\nredis.register_function('FA', function() return 1 end)");
        assert_eq!(
            f.load(&b, Replace::No, None).unwrap_err(),
            "Function FA already exists"
        );
        assert!(f.libs.function(b"Fa").is_some());
        let bad = lib("#!lua name=a\nerror('x')");
        assert!(f.load(&bad, Replace::Yes, None).is_err());
        assert!(
            f.libs.function(b"fa").is_some(),
            "a failed replacement keeps the old library"
        );
        assert!(f.libs.delete(b"a"));
        assert_eq!(f.libs.function_count(), 0);
    }

    #[test]
    fn a_library_that_never_ends_is_stopped() {
        let mut f = Functions::default();
        let code = Bytes::from_static(b"#!lua name=spin\nwhile true do end");
        let e = f
            .load(&code, Replace::No, Some(Duration::from_millis(20)))
            .unwrap_err();
        assert_eq!(e, "Error registering functions: ERR FUNCTION LOAD timeout");
    }
}
