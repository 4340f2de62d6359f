//! `cmsgpack`: lua-cmsgpack 0.4.0, MessagePack for Lua, as Redis ships it.
//!
//! `pack(...)` encodes each argument and concatenates the results;
//! `unpack(s)` decodes every value in `s`; `unpack_one(s [, offset])` and
//! `unpack_limit(s, limit [, offset])` decode some and return the offset to
//! continue from first (-1 once the input is used up).
//!
//! Encoding follows the C rules: a number that survives the round trip
//! through `int64_t` is an integer, otherwise a float when `(float)d == d`,
//! otherwise a double; a table whose keys are exactly 1..n is an array,
//! anything else a map; tables nested 16 deep are encoded as nil.
//!
//! Decoding walks nested arrays and maps with an explicit stack of frames,
//! never Rust recursion, while using the Lua stack exactly as the recursive
//! C decoder does, so hostile nesting ends in the same `stack overflow (...)`
//! error rather than a crash.

use std::ffi::c_int;

use mlua::ffi;

use super::{LResult, Raise, Stack, f64_to_i64_x86, lua_fn, set_function, set_string};

/// Tables nested this deep are encoded as nil (cycles end here too).
const MAX_NESTING: u32 = 16;

/// The `luaL_checkstack` message for a value that does not fit the stack.
const TOO_MANY_VALUES: &str =
    "too many return values at once; use unpack_one or unpack_limit instead.";

// ---------------------------------------------------------------- encoding

fn encode_bytes(buf: &mut Vec<u8>, s: &[u8]) {
    let len = s.len();
    if len < 32 {
        buf.push(0xa0 | len as u8);
    } else if len <= 0xff {
        buf.extend_from_slice(&[0xd9, len as u8]);
    } else if len <= 0xffff {
        buf.push(0xda);
        buf.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        buf.push(0xdb);
        buf.extend_from_slice(&(len as u32).to_be_bytes());
    }
    buf.extend_from_slice(s);
}

fn encode_double(buf: &mut Vec<u8>, d: f64) {
    let f = d as f32;
    if d == f64::from(f) {
        buf.push(0xca);
        buf.extend_from_slice(&f.to_be_bytes());
    } else {
        buf.push(0xcb);
        buf.extend_from_slice(&d.to_be_bytes());
    }
}

fn encode_int(buf: &mut Vec<u8>, n: i64) {
    if n >= 0 {
        if n <= 127 {
            buf.push(n as u8);
        } else if n <= 0xff {
            buf.extend_from_slice(&[0xcc, n as u8]);
        } else if n <= 0xffff {
            buf.push(0xcd);
            buf.extend_from_slice(&(n as u16).to_be_bytes());
        } else if n <= 0xffff_ffff {
            buf.push(0xce);
            buf.extend_from_slice(&(n as u32).to_be_bytes());
        } else {
            buf.push(0xcf);
            buf.extend_from_slice(&(n as u64).to_be_bytes());
        }
    } else if n >= -32 {
        buf.push(n as i8 as u8);
    } else if n >= -128 {
        buf.extend_from_slice(&[0xd0, n as u8]);
    } else if n >= -32768 {
        buf.push(0xd1);
        buf.extend_from_slice(&(n as i16).to_be_bytes());
    } else if n >= -2_147_483_648 {
        buf.push(0xd2);
        buf.extend_from_slice(&(n as i32).to_be_bytes());
    } else {
        buf.push(0xd3);
        buf.extend_from_slice(&n.to_be_bytes());
    }
}

/// Array and map headers share their layout: fix, 16-bit, 32-bit.
fn encode_header(buf: &mut Vec<u8>, n: u64, fix: u8, wide: u8) {
    if n <= 15 {
        buf.push(fix | n as u8);
    } else if n <= 0xffff {
        buf.push(wide);
        buf.extend_from_slice(&(n as u16).to_be_bytes());
    } else {
        buf.push(wide + 1);
        buf.extend_from_slice(&(n as u32).to_be_bytes());
    }
}

fn encode_number(buf: &mut Vec<u8>, n: f64) {
    let i = f64_to_i64_x86(n);
    if !n.is_infinite() && i as f64 == n {
        encode_int(buf, i);
    } else {
        encode_double(buf, n);
    }
}

/// Are the keys of the table on top exactly 1..n (`table_is_an_array`)?
fn table_is_an_array(st: &Stack) -> LResult<bool> {
    let stacktop = st.top();
    st.ensure_stack(2, "in function table_is_an_array")?;
    let (mut count, mut max): (i32, i32) = (0, 0);
    st.push_nil();
    while st.next(-2) {
        st.pop(1);
        let n = st.to_number(-1);
        // `(int)n == n`, with x86's conversion of out-of-range values.
        let as_int = if n.is_nan() || !(-2_147_483_648.0..2_147_483_648.0).contains(&n) {
            i32::MIN
        } else {
            n as i32
        };
        if st.type_of(-1) != ffi::LUA_TNUMBER || n <= 0.0 || f64::from(as_int) != n {
            st.set_top(stacktop);
            return Ok(false);
        }
        max = max.max(as_int);
        count = count.wrapping_add(1);
    }
    st.set_top(stacktop);
    Ok(max == count)
}

/// Encodes the value on top of the stack and pops it (`mp_encode_lua_type`).
fn encode_top(st: &Stack, buf: &mut Vec<u8>, level: u32) -> LResult<()> {
    let mut t = st.type_of(-1);
    if t == ffi::LUA_TTABLE && level == MAX_NESTING {
        t = ffi::LUA_TNIL;
    }
    match t {
        ffi::LUA_TSTRING => {
            st.with_bytes(-1, |s| encode_bytes(buf, s));
        }
        ffi::LUA_TBOOLEAN => buf.push(if st.to_boolean(-1) { 0xc3 } else { 0xc2 }),
        ffi::LUA_TNUMBER => encode_number(buf, st.to_number(-1)),
        ffi::LUA_TTABLE => {
            if table_is_an_array(st)? {
                let len = st.obj_len(-1);
                encode_header(buf, len as u64, 0x90, 0xdc);
                st.ensure_stack(1, "in function mp_encode_lua_table_as_array")?;
                for j in 1..=len {
                    st.raw_geti(-1, j as c_int);
                    encode_top(st, buf, level + 1)?;
                }
            } else {
                st.ensure_stack(3, "in function mp_encode_lua_table_as_map")?;
                let mut len: u64 = 0;
                st.push_nil();
                while st.next(-2) {
                    st.pop(1);
                    len += 1;
                }
                encode_header(buf, len, 0x80, 0xde);
                st.push_nil();
                while st.next(-2) {
                    st.push_value(-2);
                    encode_top(st, buf, level + 1)?;
                    encode_top(st, buf, level + 1)?;
                }
            }
        }
        _ => buf.push(0xc0),
    }
    st.pop(1);
    Ok(())
}

/// `cmsgpack.pack(...)`
fn pack(st: &Stack) -> LResult<c_int> {
    let nargs = st.top();
    if nargs == 0 {
        return Err(Raise::arg(0, "MessagePack pack needs input."));
    }
    if !st.check_stack(nargs) {
        return Err(Raise::arg(0, "Too many arguments for MessagePack pack."));
    }
    let mut buf = Vec::new();
    for i in 1..=nargs {
        st.ensure_stack(1, "in function mp_check")?;
        st.push_value(i);
        encode_top(st, &mut buf, 0)?;
        st.push_bytes(&buf);
        buf.clear();
    }
    st.concat(nargs);
    Ok(1)
}

// ---------------------------------------------------------------- decoding

/// Why decoding stopped early (`MP_CUR_ERROR_*`).
enum CurError {
    Eof,
    BadFormat,
    Lua(Raise),
}

impl From<Raise> for CurError {
    fn from(r: Raise) -> CurError {
        CurError::Lua(r)
    }
}

struct Cursor<'a> {
    data: &'a [u8],
    pos: usize,
}

impl Cursor<'_> {
    fn left(&self) -> usize {
        self.data.len() - self.pos
    }

    /// The next `n` bytes, consumed, or `Eof` (`mp_cur_need`).
    fn take(&mut self, n: usize) -> Result<&[u8], CurError> {
        if self.left() < n {
            return Err(CurError::Eof);
        }
        let s = &self.data[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    /// The big-endian integer in bytes `1..=N` after the type byte, without
    /// consuming anything.
    fn peek_be<const N: usize>(&self) -> Result<[u8; N], CurError> {
        if self.left() < 1 + N {
            return Err(CurError::Eof);
        }
        let mut b = [0u8; N];
        b.copy_from_slice(&self.data[self.pos + 1..self.pos + 1 + N]);
        Ok(b)
    }
}

/// A container being filled, innermost last.
enum Frame {
    /// The next index to set and how many elements remain.
    Array { index: f64, left: usize },
    /// How many pairs remain, and whether a key is waiting for its value.
    Map { left: usize, have_key: bool },
}

/// What reading one item produced.
enum Item {
    Scalar,
    Array(usize),
    Map(usize),
}

/// Reads one item at the cursor: pushes a scalar, or an empty table for a
/// container and reports its length.
fn read_item(st: &Stack, c: &mut Cursor) -> Result<Item, CurError> {
    if c.left() < 1 {
        return Err(CurError::Eof);
    }
    st.ensure_stack(1, TOO_MANY_VALUES)?;
    let tag = c.data[c.pos];
    match tag {
        0xcc => st.push_integer(i64::from(c.take(2)?[1])),
        0xd0 => st.push_integer(i64::from(c.take(2)?[1] as i8)),
        0xcd => {
            let b = c.peek_be::<2>()?;
            c.take(3)?;
            st.push_integer(i64::from(u16::from_be_bytes(b)));
        }
        0xd1 => {
            let b = c.peek_be::<2>()?;
            c.take(3)?;
            st.push_integer(i64::from(i16::from_be_bytes(b)));
        }
        0xce => {
            let b = c.peek_be::<4>()?;
            c.take(5)?;
            st.push_integer(i64::from(u32::from_be_bytes(b)));
        }
        0xd2 => {
            let b = c.peek_be::<4>()?;
            c.take(5)?;
            st.push_integer(i64::from(i32::from_be_bytes(b)));
        }
        0xcf => {
            // lua_pushinteger of a uint64_t: values past 2^63 wrap.
            let b = c.peek_be::<8>()?;
            c.take(9)?;
            st.push_integer(u64::from_be_bytes(b) as i64);
        }
        0xd3 => {
            let b = c.peek_be::<8>()?;
            c.take(9)?;
            st.push_number(i64::from_be_bytes(b) as f64);
        }
        0xc0 => {
            c.take(1)?;
            st.push_nil();
        }
        0xc3 | 0xc2 => {
            c.take(1)?;
            st.push_boolean(tag == 0xc3);
        }
        0xca => {
            let b = c.peek_be::<4>()?;
            c.take(5)?;
            st.push_number(f64::from(f32::from_be_bytes(b)));
        }
        0xcb => {
            let b = c.peek_be::<8>()?;
            c.take(9)?;
            st.push_number(f64::from_be_bytes(b));
        }
        0xd9 => {
            let [l] = c.peek_be::<1>()?;
            let s = c.take(2 + usize::from(l))?;
            st.push_bytes(&s[2..]);
        }
        0xda => {
            let l = u16::from_be_bytes(c.peek_be::<2>()?);
            let s = c.take(3 + usize::from(l))?;
            st.push_bytes(&s[3..]);
        }
        0xdb => {
            let l = u32::from_be_bytes(c.peek_be::<4>()?);
            c.take(5)?;
            let s = c.take(l as usize)?;
            st.push_bytes(s);
        }
        0xdc | 0xde => {
            let l = u16::from_be_bytes(c.peek_be::<2>()?);
            c.take(3)?;
            return Ok(container(tag == 0xdc, usize::from(l)));
        }
        0xdd | 0xdf => {
            let l = u32::from_be_bytes(c.peek_be::<4>()?);
            c.take(5)?;
            return Ok(container(tag == 0xdd, l as usize));
        }
        _ if tag & 0x80 == 0 => {
            c.take(1)?;
            st.push_integer(i64::from(tag));
        }
        _ if tag & 0xe0 == 0xe0 => {
            c.take(1)?;
            st.push_integer(i64::from(tag as i8));
        }
        _ if tag & 0xe0 == 0xa0 => {
            let l = usize::from(tag & 0x1f);
            let s = c.take(1 + l)?;
            st.push_bytes(&s[1..]);
        }
        _ if tag & 0xf0 == 0x90 || tag & 0xf0 == 0x80 => {
            c.take(1)?;
            return Ok(container(tag & 0xf0 == 0x90, usize::from(tag & 0xf)));
        }
        _ => return Err(CurError::BadFormat),
    }
    Ok(Item::Scalar)
}

fn container(array: bool, len: usize) -> Item {
    if array {
        Item::Array(len)
    } else {
        Item::Map(len)
    }
}

/// Decodes one value onto the stack (`mp_decode_to_lua_type`).
fn decode_value(st: &Stack, c: &mut Cursor) -> Result<(), CurError> {
    let mut frames: Vec<Frame> = Vec::new();
    loop {
        let mut complete = match read_item(st, c)? {
            Item::Scalar => true,
            Item::Array(len) => {
                st.new_table();
                st.ensure_stack(1, "in function mp_decode_to_lua_array")?;
                frames.push(Frame::Array {
                    index: 1.0,
                    left: len,
                });
                false
            }
            Item::Map(len) => {
                st.new_table();
                frames.push(Frame::Map {
                    left: len,
                    have_key: false,
                });
                false
            }
        };
        // Hand the finished value to its container, then find what to read
        // next: another element, or the end of containers.
        loop {
            let Some(frame) = frames.last_mut() else {
                return Ok(());
            };
            match frame {
                Frame::Array { index, left } => {
                    if complete {
                        st.raw_set(-3);
                    }
                    if *left > 0 {
                        *left -= 1;
                        st.push_number(*index);
                        *index += 1.0;
                        break;
                    }
                }
                Frame::Map { left, have_key } => {
                    if complete {
                        if !*have_key {
                            *have_key = true;
                            break;
                        }
                        st.raw_set(-3);
                        *have_key = false;
                    }
                    if *left > 0 {
                        *left -= 1;
                        break;
                    }
                }
            }
            frames.pop();
            complete = true;
        }
    }
}

/// Decodes up to `limit` values from `offset` (`mp_unpack_full`). With both
/// zero it decodes everything and returns no offset.
fn unpack_full(st: &Stack, limit: i64, offset: i64) -> LResult<c_int> {
    let data = st.check_bytes(1)?;
    let len = data.len();
    let decode_all = limit == 0 && offset == 0;
    if offset < 0 || limit < 0 {
        // The C code prints the input length where it means the limit.
        return Err(Raise::msg(format!(
            "Invalid request to unpack with offset of {} and limit of {}.",
            offset as i32, len as i32
        )));
    } else if offset as u64 > len as u64 {
        return Err(Raise::msg(format!(
            "Start offset {} greater than input length {}.",
            offset as i32, len as i32
        )));
    }
    let limit = if decode_all {
        i64::from(i32::MAX)
    } else {
        limit
    };
    let mut c = Cursor {
        data: &data,
        pos: offset as usize,
    };
    let mut cnt: c_int = 0;
    while c.left() > 0 && i64::from(cnt) < limit {
        match decode_value(st, &mut c) {
            Ok(()) => {}
            Err(CurError::Eof) => return Err(Raise::msg("Missing bytes in input.")),
            Err(CurError::BadFormat) => return Err(Raise::msg("Bad data format in input.")),
            Err(CurError::Lua(r)) => return Err(r),
        }
        cnt += 1;
    }
    if !decode_all {
        st.ensure_stack(1, "in function mp_unpack_full")?;
        st.push_integer(if c.left() == 0 { -1 } else { c.pos as i64 });
        st.insert(2);
        cnt += 1;
    }
    Ok(cnt)
}

/// `cmsgpack.unpack(s)`
fn unpack(st: &Stack) -> LResult<c_int> {
    unpack_full(st, 0, 0)
}

/// `cmsgpack.unpack_one(s [, offset])`
fn unpack_one(st: &Stack) -> LResult<c_int> {
    let offset = st.opt_integer(2, 0)?;
    st.set_top(1.min(st.top()));
    unpack_full(st, 1, offset)
}

/// `cmsgpack.unpack_limit(s, limit [, offset])`
fn unpack_limit(st: &Stack) -> LResult<c_int> {
    let limit = st.check_integer(2)?;
    let offset = st.opt_integer(3, 0)?;
    st.set_top(1.min(st.top()));
    unpack_full(st, limit, offset)
}

lua_fn!(c_pack => pack);
lua_fn!(c_unpack => unpack);
lua_fn!(c_unpack_one => unpack_one);
lua_fn!(c_unpack_limit => unpack_limit);

/// Pushes the `cmsgpack` table.
///
/// # Safety
///
/// `l` must be a valid state inside a protected call.
pub(super) unsafe fn open(l: *mut ffi::lua_State) {
    unsafe {
        ffi::lua_createtable(l, 0, 8);
        set_function(l, c"pack", c_pack);
        set_function(l, c"unpack", c_unpack);
        set_function(l, c"unpack_one", c_unpack_one);
        set_function(l, c"unpack_limit", c_unpack_limit);
        set_string(l, c"_NAME", "cmsgpack");
        set_string(l, c"_VERSION", "lua-cmsgpack 0.4.0");
        set_string(l, c"_COPYRIGHT", "Copyright (C) 2012, Salvatore Sanfilippo");
        set_string(l, c"_DESCRIPTION", "MessagePack C implementation for Lua");
    }
}
