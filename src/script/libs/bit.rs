//! `bit`: Lua BitOp 1.0.2, the bitwise operations Redis gives scripts.
//!
//! Every operand goes through [`barg`], which turns a Lua number into 32
//! bits the way BitOp does on a `double` build: add 2^52 + 2^51 and take the
//! low word of the result. That rounds fractions to nearest-even and wraps
//! large values modulo 2^32, and every result comes back as a signed 32-bit
//! number.

use std::ffi::c_int;

use mlua::ffi;

use super::{LResult, Raise, Stack, lua_fn, set_function};

/// 2^52 + 2^51: adding it leaves the integer part of a double in the low
/// mantissa bits.
const BIT_MAGIC: f64 = 6_755_399_441_055_744.0;

/// Converts argument `idx` to 32 bits (BitOp's `barg`).
fn barg(st: &Stack, idx: c_int) -> LResult<u32> {
    let n = st.to_number(idx) + BIT_MAGIC;
    let b = n.to_bits() as u32;
    if b == 0 && !st.is_number(idx) {
        return Err(Raise::Type(idx, c"number"));
    }
    Ok(b)
}

/// Pushes a result as BitOp does: a signed 32-bit number.
fn bret(st: &Stack, b: u32) -> LResult<c_int> {
    st.push_number(f64::from(b as i32));
    Ok(1)
}

fn tobit(st: &Stack) -> LResult<c_int> {
    bret(st, barg(st, 1)?)
}

fn bnot(st: &Stack) -> LResult<c_int> {
    bret(st, !barg(st, 1)?)
}

/// Folds `op` over all arguments, last to first, as BitOp's `BIT_OP` does
/// (the order decides which bad argument is reported).
fn fold(st: &Stack, op: fn(u32, u32) -> u32) -> LResult<c_int> {
    let mut b = barg(st, 1)?;
    let mut i = st.top();
    while i > 1 {
        b = op(b, barg(st, i)?);
        i -= 1;
    }
    bret(st, b)
}

fn band(st: &Stack) -> LResult<c_int> {
    fold(st, |a, b| a & b)
}

fn bor(st: &Stack) -> LResult<c_int> {
    fold(st, |a, b| a | b)
}

fn bxor(st: &Stack) -> LResult<c_int> {
    fold(st, |a, b| a ^ b)
}

/// Shifts and rotates take the count modulo 32.
fn shift(st: &Stack, op: fn(u32, u32) -> u32) -> LResult<c_int> {
    let b = barg(st, 1)?;
    let n = barg(st, 2)? & 31;
    bret(st, op(b, n))
}

fn lshift(st: &Stack) -> LResult<c_int> {
    shift(st, |b, n| b << n)
}

fn rshift(st: &Stack) -> LResult<c_int> {
    shift(st, |b, n| b >> n)
}

fn arshift(st: &Stack) -> LResult<c_int> {
    shift(st, |b, n| ((b as i32) >> n) as u32)
}

fn rol(st: &Stack) -> LResult<c_int> {
    shift(st, u32::rotate_left)
}

fn ror(st: &Stack) -> LResult<c_int> {
    shift(st, u32::rotate_right)
}

fn bswap(st: &Stack) -> LResult<c_int> {
    bret(st, barg(st, 1)?.swap_bytes())
}

/// `bit.tohex(x [, n])`: `n` digits (default 8, at most 8), upper case when
/// `n` is negative.
fn tohex(st: &Stack) -> LResult<c_int> {
    let mut b = barg(st, 1)?;
    let n: i32 = if st.type_of(2) == ffi::LUA_TNONE {
        8
    } else {
        barg(st, 2)? as i32
    };
    let mut digits: &[u8; 16] = b"0123456789abcdef";
    if n < 0 {
        digits = b"0123456789ABCDEF";
    }
    // C negates with `n = -n`; for -2^31 that overflows, and the compiled
    // code (as Redis ships it) then behaves as if the result were large:
    // 8 digits. `unsigned_abs` gives the same.
    let n = n.unsigned_abs().min(8) as usize;
    let mut buf = [0u8; 8];
    for slot in buf[..n].iter_mut().rev() {
        *slot = digits[(b & 15) as usize];
        b >>= 4;
    }
    st.push_bytes(&buf[..n]);
    Ok(1)
}

lua_fn!(c_tobit => tobit);
lua_fn!(c_bnot => bnot);
lua_fn!(c_band => band);
lua_fn!(c_bor => bor);
lua_fn!(c_bxor => bxor);
lua_fn!(c_lshift => lshift);
lua_fn!(c_rshift => rshift);
lua_fn!(c_arshift => arshift);
lua_fn!(c_rol => rol);
lua_fn!(c_ror => ror);
lua_fn!(c_bswap => bswap);
lua_fn!(c_tohex => tohex);

/// Pushes the `bit` table. `luaL_register` in C also records the table in
/// `package.loaded`; Redis loads no `package` library before it, so only
/// the global matters.
///
/// # Safety
///
/// `l` must be a valid state inside a protected call.
pub(super) unsafe fn open(l: *mut ffi::lua_State) {
    unsafe {
        ffi::lua_createtable(l, 0, 12);
        set_function(l, c"tobit", c_tobit);
        set_function(l, c"bnot", c_bnot);
        set_function(l, c"band", c_band);
        set_function(l, c"bor", c_bor);
        set_function(l, c"bxor", c_bxor);
        set_function(l, c"lshift", c_lshift);
        set_function(l, c"rshift", c_rshift);
        set_function(l, c"arshift", c_arshift);
        set_function(l, c"rol", c_rol);
        set_function(l, c"ror", c_ror);
        set_function(l, c"bswap", c_bswap);
        set_function(l, c"tohex", c_tohex);
    }
}
