//! The libraries Redis adds to Lua: `cjson`, `cmsgpack`, `bit`, `struct`.
//!
//! Scripts see these exactly as Redis 7.0's embedded C versions present them:
//! same results, same error text, same limits. That is why they are written
//! against the raw Lua C API (`mlua::ffi`) rather than mlua's safe layer:
//!
//! * Errors must reach a script's `pcall` as plain strings, formatted the way
//!   `luaL_error`/`luaL_argerror` format them (`bad argument #1 to 'decode'
//!   (...)`). mlua's callbacks raise userdata error objects instead.
//! * Several limits in the C libraries are Lua stack limits (`lua_checkstack`
//!   failing at `LUAI_MAXCSTACK` slots). Using the Lua stack the way the C
//!   code does reproduces them exactly, and mlua's reference stack, which has
//!   the same ceiling, never comes into play.
//!
//! # Layout
//!
//! This file holds the small layer every library shares: [`Stack`], a thin
//! view of a `lua_State` inside a C function call; [`Raise`], the error a
//! function returns instead of calling `lua_error` itself; and [`lua_fn!`],
//! which turns a `fn(&Stack) -> Result<c_int, Raise>` into a `lua_CFunction`.
//! Each library lives in its own file: `cjson.rs`, `cmsgpack.rs`, `bit.rs`,
//! `structlib.rs`.
//!
//! **Invariant:** Rust code never calls `lua_error` while it owns heap memory.
//! Functions return [`Raise`]; only the generated trampoline raises, after
//! everything the function owned has been dropped. Lua API calls made in
//! between can only fail on memory exhaustion, as in the C libraries.

use std::ffi::{CStr, c_char, c_int, c_void};
use std::panic::{AssertUnwindSafe, catch_unwind};

use mlua::{Lua, ffi};

mod bit;
mod cjson;
mod cmsgpack;
mod structlib;

#[cfg(test)]
mod tests;

/// Opens every library as a global of `lua`, as Redis's `luaLoadLibraries`
/// does.
pub fn open_all(lua: &Lua) -> mlua::Result<()> {
    // SAFETY: the closure runs inside a protected call on a valid state and
    // leaves the stack as it found it.
    unsafe {
        lua.exec_raw::<()>((), |l| {
            let top = ffi::lua_gettop(l);
            cjson::open(l);
            ffi::lua_setglobal(l, c"cjson".as_ptr());
            structlib::open(l);
            ffi::lua_setglobal(l, c"struct".as_ptr());
            cmsgpack::open(l);
            ffi::lua_setglobal(l, c"cmsgpack".as_ptr());
            bit::open(l);
            ffi::lua_setglobal(l, c"bit".as_ptr());
            ffi::lua_settop(l, top);
        })
    }
}

/// An error a library function raises, in the shape of the `lauxlib` call
/// the C code would have made.
#[derive(Debug)]
pub(crate) enum Raise {
    /// `luaL_error(L, "%s", msg)`: the message, after the position of the
    /// Lua code that called the function (`luaL_where(L, 1)`).
    Msg(Vec<u8>),
    /// `luaL_argerror(L, narg, extramsg)`.
    Arg(c_int, Vec<u8>),
    /// `luaL_typerror(L, narg, tname)`.
    Type(c_int, &'static CStr),
}

impl Raise {
    pub(crate) fn msg(text: impl Into<Vec<u8>>) -> Raise {
        Raise::Msg(text.into())
    }

    pub(crate) fn arg(narg: c_int, text: impl Into<Vec<u8>>) -> Raise {
        Raise::Arg(narg, text.into())
    }

    /// Raises the error on `l`. Owned memory is released before the
    /// `longjmp`.
    ///
    /// # Safety
    ///
    /// `l` must be the state of the running C function.
    unsafe fn raise(self, l: *mut ffi::lua_State) -> c_int {
        unsafe {
            // An error may be raised because the stack is full; what is on
            // it no longer matters, so make room for the message.
            if ffi::lua_checkstack(l, 4) == 0 {
                ffi::lua_settop(l, 0);
            }
            match self {
                Raise::Msg(text) => {
                    ffi::luaL_where(l, 1);
                    ffi::lua_pushlstring(l, text.as_ptr().cast(), text.len());
                    drop(text);
                    ffi::lua_concat(l, 2);
                    ffi::lua_error(l)
                }
                Raise::Arg(narg, text) => {
                    ffi::lua_pushlstring(l, text.as_ptr().cast(), text.len());
                    drop(text);
                    ffi::luaL_argerror(l, narg, ffi::lua_tostring(l, -1))
                }
                Raise::Type(narg, tname) => ffi::luaL_typerror(l, narg, tname.as_ptr()),
            }
        }
    }
}

pub(crate) type LResult<T> = Result<T, Raise>;

/// Runs `body` as the body of a C function: a panic becomes a Lua error
/// rather than unwinding through Lua's C frames, and a [`Raise`] is raised
/// once `body`'s memory is gone.
///
/// # Safety
///
/// `l` must be the state passed to the running C function.
pub(crate) unsafe fn run_c_function(
    l: *mut ffi::lua_State,
    body: fn(&Stack) -> LResult<c_int>,
) -> c_int {
    let outcome = catch_unwind(AssertUnwindSafe(|| body(&Stack(l))));
    let raise = match outcome {
        Ok(Ok(n)) => return n,
        Ok(Err(raise)) => raise,
        Err(_) => Raise::msg("internal error in a Redis Lua library"),
    };
    // SAFETY: forwarded from the caller.
    unsafe { raise.raise(l) }
}

/// Declares `extern "C-unwind" fn $name(lua_State*)` that runs `$body`
/// through [`run_c_function`].
macro_rules! lua_fn {
    ($name:ident => $body:path) => {
        unsafe extern "C-unwind" fn $name(l: *mut mlua::ffi::lua_State) -> std::ffi::c_int {
            // SAFETY: Lua calls this with the state of this very call.
            unsafe { $crate::script::libs::run_c_function(l, $body) }
        }
    };
}
pub(crate) use lua_fn;

/// The stack of one running C function. All indexes are Lua stack indexes.
///
/// Methods wrap single Lua API calls; none of them raise a Lua error except
/// on memory exhaustion.
pub(crate) struct Stack(*mut ffi::lua_State);

impl Stack {
    pub(crate) fn top(&self) -> c_int {
        unsafe { ffi::lua_gettop(self.0) }
    }

    pub(crate) fn set_top(&self, idx: c_int) {
        unsafe { ffi::lua_settop(self.0, idx) }
    }

    pub(crate) fn pop(&self, n: c_int) {
        unsafe { ffi::lua_pop(self.0, n) }
    }

    pub(crate) fn type_of(&self, idx: c_int) -> c_int {
        unsafe { ffi::lua_type(self.0, idx) }
    }

    pub(crate) fn is_none_or_nil(&self, idx: c_int) -> bool {
        self.type_of(idx) <= ffi::LUA_TNIL
    }

    /// `lua_isnumber`: a number, or a string that converts to one.
    pub(crate) fn is_number(&self, idx: c_int) -> bool {
        unsafe { ffi::lua_isnumber(self.0, idx) != 0 }
    }

    pub(crate) fn to_number(&self, idx: c_int) -> f64 {
        unsafe { ffi::lua_tonumber(self.0, idx) }
    }

    pub(crate) fn to_integer(&self, idx: c_int) -> i64 {
        unsafe { ffi::lua_tointeger_(self.0, idx) }
    }

    pub(crate) fn to_boolean(&self, idx: c_int) -> bool {
        unsafe { ffi::lua_toboolean(self.0, idx) != 0 }
    }

    pub(crate) fn to_pointer(&self, idx: c_int) -> *mut c_void {
        unsafe { ffi::lua_touserdata(self.0, idx) }
    }

    /// `lua_tolstring`, copied out. Numbers are converted in place, as in C.
    pub(crate) fn to_bytes(&self, idx: c_int) -> Option<Vec<u8>> {
        let mut len = 0usize;
        unsafe {
            let p = ffi::lua_tolstring(self.0, idx, &mut len);
            if p.is_null() {
                None
            } else {
                Some(std::slice::from_raw_parts(p.cast::<u8>(), len).to_vec())
            }
        }
    }

    /// Runs `f` over the bytes of the string at `idx` without copying.
    /// The caller must not pop the value while `f` runs.
    pub(crate) fn with_bytes<R>(&self, idx: c_int, f: impl FnOnce(&[u8]) -> R) -> Option<R> {
        let mut len = 0usize;
        unsafe {
            let p = ffi::lua_tolstring(self.0, idx, &mut len);
            if p.is_null() {
                None
            } else {
                Some(f(std::slice::from_raw_parts(p.cast::<u8>(), len)))
            }
        }
    }

    pub(crate) fn type_name(&self, idx: c_int) -> &'static str {
        type_name(self.type_of(idx))
    }

    /// `luaL_checknumber`.
    pub(crate) fn check_number(&self, idx: c_int) -> LResult<f64> {
        let d = self.to_number(idx);
        if d == 0.0 && !self.is_number(idx) {
            return Err(Raise::Type(idx, c"number"));
        }
        Ok(d)
    }

    /// `luaL_checkinteger`.
    pub(crate) fn check_integer(&self, idx: c_int) -> LResult<i64> {
        let d = self.to_integer(idx);
        if d == 0 && !self.is_number(idx) {
            return Err(Raise::Type(idx, c"number"));
        }
        Ok(d)
    }

    /// `luaL_optinteger`.
    pub(crate) fn opt_integer(&self, idx: c_int, default: i64) -> LResult<i64> {
        if self.is_none_or_nil(idx) {
            Ok(default)
        } else {
            self.check_integer(idx)
        }
    }

    /// `luaL_checklstring`, copied out.
    pub(crate) fn check_bytes(&self, idx: c_int) -> LResult<Vec<u8>> {
        self.to_bytes(idx).ok_or(Raise::Type(idx, c"string"))
    }

    /// `lua_checkstack`: may `n` more slots be pushed?
    pub(crate) fn check_stack(&self, n: c_int) -> bool {
        unsafe { ffi::lua_checkstack(self.0, n) != 0 }
    }

    /// `luaL_checkstack` as Lua 5.1 words its failure.
    pub(crate) fn ensure_stack(&self, n: c_int, what: &str) -> LResult<()> {
        if self.check_stack(n) {
            Ok(())
        } else {
            Err(Raise::msg(format!("stack overflow ({what})")))
        }
    }

    pub(crate) fn push_nil(&self) {
        unsafe { ffi::lua_pushnil(self.0) }
    }

    pub(crate) fn push_number(&self, n: f64) {
        unsafe { ffi::lua_pushnumber(self.0, n) }
    }

    pub(crate) fn push_integer(&self, n: i64) {
        unsafe { ffi::lua_pushinteger(self.0, n as ffi::lua_Integer) }
    }

    pub(crate) fn push_boolean(&self, b: bool) {
        unsafe { ffi::lua_pushboolean(self.0, c_int::from(b)) }
    }

    pub(crate) fn push_bytes(&self, s: &[u8]) {
        unsafe {
            ffi::lua_pushlstring(self.0, s.as_ptr().cast::<c_char>(), s.len());
        }
    }

    pub(crate) fn push_null(&self) {
        unsafe { ffi::lua_pushlightuserdata(self.0, std::ptr::null_mut()) }
    }

    pub(crate) fn push_value(&self, idx: c_int) {
        unsafe { ffi::lua_pushvalue(self.0, idx) }
    }

    pub(crate) fn insert(&self, idx: c_int) {
        unsafe { ffi::lua_insert(self.0, idx) }
    }

    pub(crate) fn new_table(&self) {
        unsafe { ffi::lua_createtable(self.0, 0, 0) }
    }

    pub(crate) fn raw_set(&self, idx: c_int) {
        unsafe { ffi::lua_rawset(self.0, idx) }
    }

    pub(crate) fn raw_seti(&self, idx: c_int, n: c_int) {
        unsafe { ffi::lua_rawseti_(self.0, idx, n) }
    }

    pub(crate) fn raw_geti(&self, idx: c_int, n: c_int) {
        unsafe { ffi::lua_rawgeti_(self.0, idx, n) }
    }

    /// `lua_next`: pops a key, pushes the next key and value.
    pub(crate) fn next(&self, idx: c_int) -> bool {
        unsafe { ffi::lua_next(self.0, idx) != 0 }
    }

    pub(crate) fn obj_len(&self, idx: c_int) -> usize {
        unsafe { ffi::lua_objlen(self.0, idx) }
    }

    pub(crate) fn concat(&self, n: c_int) {
        unsafe { ffi::lua_concat(self.0, n) }
    }

    /// The pointer to the userdata in upvalue `n` of the running function.
    pub(crate) fn upvalue_userdata(&self, n: c_int) -> *mut c_void {
        unsafe { ffi::lua_touserdata(self.0, ffi::LUA_GLOBALSINDEX - n) }
    }
}

/// `(int64_t)d` as x86-64 computes it (`cvttsd2si`): truncation, and
/// `i64::MIN` for NaN and for anything out of range. The C libraries rely on
/// this where C leaves the conversion undefined.
pub(crate) fn f64_to_i64_x86(d: f64) -> i64 {
    if !(-9_223_372_036_854_775_808.0..9_223_372_036_854_775_808.0).contains(&d) {
        i64::MIN
    } else {
        d as i64
    }
}

/// `(uint64_t)d` as GCC compiles it for x86-64: below 2^63 (negative
/// numbers included) through the signed conversion, above it by
/// subtracting 2^63 first.
pub(crate) fn f64_to_u64_x86(d: f64) -> u64 {
    const TWO_63: f64 = 9_223_372_036_854_775_808.0;
    if d >= TWO_63 {
        (f64_to_i64_x86(d - TWO_63) as u64) ^ (1 << 63)
    } else {
        f64_to_i64_x86(d) as u64
    }
}

/// `lua_typename` for a type tag.
pub(crate) fn type_name(t: c_int) -> &'static str {
    match t {
        ffi::LUA_TNIL => "nil",
        ffi::LUA_TBOOLEAN => "boolean",
        ffi::LUA_TLIGHTUSERDATA | ffi::LUA_TUSERDATA => "userdata",
        ffi::LUA_TNUMBER => "number",
        ffi::LUA_TSTRING => "string",
        ffi::LUA_TTABLE => "table",
        ffi::LUA_TFUNCTION => "function",
        ffi::LUA_TTHREAD => "thread",
        _ => "no value",
    }
}

/// Sets `t[name] = f` for the table on top of `l`, where `f` is a C
/// function with no upvalues.
///
/// # Safety
///
/// A table must be on top of `l`, and one stack slot must be free.
pub(crate) unsafe fn set_function(
    l: *mut ffi::lua_State,
    name: &std::ffi::CStr,
    f: ffi::lua_CFunction,
) {
    unsafe {
        ffi::lua_pushcclosure(l, f, 0);
        ffi::lua_setfield(l, -2, name.as_ptr());
    }
}

/// Sets `t[name] = value` for the table on top of `l`.
///
/// # Safety
///
/// As for [`set_function`].
pub(crate) unsafe fn set_string(l: *mut ffi::lua_State, name: &std::ffi::CStr, value: &str) {
    unsafe {
        ffi::lua_pushlstring(l, value.as_ptr().cast(), value.len());
        ffi::lua_setfield(l, -2, name.as_ptr());
    }
}
