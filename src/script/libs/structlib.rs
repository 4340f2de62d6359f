//! `struct`: Roberto Ierusalimschy's struct library, as Redis ships it.
//!
//! `struct.pack(fmt, ...)`, `struct.unpack(fmt, data [, pos])` and
//! `struct.size(fmt)`. A format is a sequence of options: `b B h H l L T i I`
//! integers (`i`/`I` take an optional size up to 32), `f d` floats, `c`
//! fixed strings (`c0` takes its length from the previous result), `s` zero
//! terminated strings, `x` padding, and the controls `< > !` (endianness and
//! maximum alignment) and space. The integer and alignment arithmetic is
//! done in 64 bits exactly as the C code does on x86-64, overflow included.

use std::ffi::c_int;

use mlua::ffi;

use super::{LResult, Raise, Stack, f64_to_i64_x86, f64_to_u64_x86, lua_fn, set_function};

/// The largest integer size `i`/`I` accept, in bytes.
const MAXINTSIZE: usize = 32;

/// `struct cD { char c; double d; }` puts `d` at offset 8 on x86-64, which
/// is more than `sizeof(int)`, so `!` alone means 8.
const MAXALIGN: usize = 8;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Endian {
    Big,
    Little,
}

struct Header {
    endian: Endian,
    align: usize,
}

impl Header {
    fn new() -> Header {
        Header {
            endian: Endian::Little,
            align: 1,
        }
    }
}

/// A format string, read up to its first NUL as C reads it.
struct Format<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Format<'_> {
    fn next_opt(&mut self) -> Option<u8> {
        let opt = *self.bytes.get(self.pos)?;
        if opt == 0 {
            return None;
        }
        self.pos += 1;
        Some(opt)
    }

    /// Reads an optional decimal number (`getnum`).
    fn number(&mut self, default: usize) -> LResult<usize> {
        let digit = |f: &Self| {
            f.bytes
                .get(f.pos)
                .filter(|b| b.is_ascii_digit())
                .map(|b| i32::from(b - b'0'))
        };
        let Some(mut d) = digit(self) else {
            return Ok(default);
        };
        let mut a: i32 = 0;
        loop {
            if a > i32::MAX / 10 || a * 10 > i32::MAX - d {
                return Err(Raise::msg("integral size overflow"));
            }
            a = a * 10 + d;
            self.pos += 1;
            match digit(self) {
                Some(next) => d = next,
                None => return Ok(a as usize),
            }
        }
    }

    /// The size of option `opt` (`optsize`); 0 for options without one.
    fn size_of(&mut self, opt: u8) -> LResult<usize> {
        Ok(match opt {
            b'B' | b'b' | b'x' => 1,
            b'H' | b'h' => 2,
            b'L' | b'l' | b'T' | b'd' => 8,
            b'f' => 4,
            b'c' => self.number(1)?,
            b'i' | b'I' => {
                let sz = self.number(4)?;
                if sz > MAXINTSIZE {
                    return Err(Raise::msg(format!(
                        "integral size {sz} is larger than limit of {MAXINTSIZE}"
                    )));
                }
                sz
            }
            _ => 0,
        })
    }

    /// Applies a control option (`controloptions`); anything else is an
    /// error.
    fn control(&mut self, opt: u8, h: &mut Header) -> LResult<()> {
        match opt {
            b' ' => {}
            b'>' => h.endian = Endian::Big,
            b'<' => h.endian = Endian::Little,
            b'!' => {
                let a = self.number(MAXALIGN)?;
                if !(a > 0 && a & (a - 1) == 0) {
                    return Err(Raise::msg(format!("alignment {a} is not a power of 2")));
                }
                h.align = a;
            }
            _ => {
                let mut text = b"invalid format option '".to_vec();
                text.push(opt);
                text.push(b'\'');
                return Err(Raise::arg(1, text));
            }
        }
        Ok(())
    }
}

/// Padding needed before an item of `size` at offset `len` (`gettoalign`).
fn padding(len: usize, h: &Header, opt: u8, size: usize) -> usize {
    if size == 0 || opt == b'c' {
        return 0;
    }
    let size = size.min(h.align);
    size.wrapping_sub(len & size.wrapping_sub(1)) & size.wrapping_sub(1)
}

fn is_integer_opt(opt: u8) -> bool {
    matches!(
        opt,
        b'b' | b'B' | b'h' | b'H' | b'l' | b'L' | b'T' | b'i' | b'I'
    )
}

/// Puts `bytes` (native little-endian order) in `endian` order.
fn ordered<const N: usize>(mut bytes: [u8; N], endian: Endian) -> [u8; N] {
    if endian == Endian::Big {
        bytes.reverse();
    }
    bytes
}

/// `struct.pack(fmt, ...)`
fn pack(st: &Stack) -> LResult<c_int> {
    let fmt = st.check_bytes(1)?;
    // C pushes a nil here to mark where the arguments end, so a missing
    // first value reads as nil rather than as no value.
    st.push_nil();
    let mut f = Format {
        bytes: &fmt,
        pos: 0,
    };
    let mut h = Header::new();
    let mut arg = 2;
    let mut out = Vec::new();
    while let Some(opt) = f.next_opt() {
        let size = f.size_of(opt)?;
        let pad = padding(out.len(), &h, opt, size);
        out.resize(out.len() + pad, 0);
        match opt {
            _ if is_integer_opt(opt) => {
                let n = st.check_number(arg)?;
                arg += 1;
                let mut value = if n < 0.0 {
                    f64_to_i64_x86(n) as u64
                } else {
                    f64_to_u64_x86(n)
                };
                let mut buf = [0u8; MAXINTSIZE];
                let mut put = |i: usize| {
                    buf[i] = value as u8;
                    value >>= 8;
                };
                match h.endian {
                    Endian::Little => (0..size).for_each(&mut put),
                    Endian::Big => (0..size).rev().for_each(&mut put),
                }
                out.extend_from_slice(&buf[..size]);
            }
            b'x' => out.push(0),
            b'f' => {
                let v = st.check_number(arg)? as f32;
                arg += 1;
                out.extend_from_slice(&ordered(v.to_le_bytes(), h.endian));
            }
            b'd' => {
                let v = st.check_number(arg)?;
                arg += 1;
                out.extend_from_slice(&ordered(v.to_le_bytes(), h.endian));
            }
            b'c' | b's' => {
                let s = st.check_bytes(arg)?;
                arg += 1;
                let take = if size == 0 { s.len() } else { size };
                if s.len() < take {
                    // C reports the argument after the string.
                    return Err(Raise::arg(arg, "string too short"));
                }
                out.extend_from_slice(&s[..take]);
                if opt == b's' {
                    out.push(0);
                }
            }
            // C keeps a running total for alignment; it always equals
            // out.len().
            _ => f.control(opt, &mut h)?,
        }
    }
    st.push_bytes(&out);
    Ok(1)
}

/// Reads an integer of `size` bytes (`getinteger`), in 64 bits like C.
fn get_integer(bytes: &[u8], endian: Endian, signed: bool, size: usize) -> f64 {
    let mut l: u64 = 0;
    let mut take = |b: &u8| l = (l << 8) | u64::from(*b);
    match endian {
        Endian::Big => bytes[..size].iter().for_each(&mut take),
        Endian::Little => bytes[..size].iter().rev().for_each(&mut take),
    }
    if !signed {
        return l as f64;
    }
    // x86 masks shift counts to 6 bits; C shifts by size*8-1 regardless.
    let shift = (size as u32).wrapping_mul(8).wrapping_sub(1) & 63;
    let mask = u64::MAX << shift;
    if l & mask != 0 {
        l |= mask;
    }
    l as i64 as f64
}

/// `struct.unpack(fmt, data [, pos])`: the values, then the next position.
fn unpack(st: &Stack) -> LResult<c_int> {
    let fmt = st.check_bytes(1)?;
    let data = st.check_bytes(2)?;
    let ld = data.len();
    let mut pos = st.opt_integer(3, 1)? as u64 as usize;
    if pos == 0 {
        return Err(Raise::arg(3, "offset must be 1 or greater"));
    }
    pos -= 1;
    let mut f = Format {
        bytes: &fmt,
        pos: 0,
    };
    let mut h = Header::new();
    let mut n: c_int = 0;
    let too_short = || Raise::arg(2, "data string too short");
    while let Some(opt) = f.next_opt() {
        let mut size = f.size_of(opt)?;
        pos = pos.wrapping_add(padding(pos, &h, opt, size));
        if !(size <= ld && pos <= ld - size) {
            return Err(too_short());
        }
        st.ensure_stack(2, "too many results")?;
        match opt {
            _ if is_integer_opt(opt) => {
                let signed = opt.is_ascii_lowercase();
                st.push_number(get_integer(&data[pos..], h.endian, signed, size));
                n += 1;
            }
            b'x' => {}
            b'f' => {
                let mut raw = [0u8; 4];
                raw.copy_from_slice(&data[pos..pos + 4]);
                st.push_number(f64::from(f32::from_le_bytes(ordered(raw, h.endian))));
                n += 1;
            }
            b'd' => {
                let mut raw = [0u8; 8];
                raw.copy_from_slice(&data[pos..pos + 8]);
                st.push_number(f64::from_le_bytes(ordered(raw, h.endian)));
                n += 1;
            }
            b'c' => {
                if size == 0 {
                    if n == 0 || !st.is_number(-1) {
                        return Err(Raise::msg("format 'c0' needs a previous size"));
                    }
                    size = f64_to_u64_x86(st.to_number(-1)) as usize;
                    st.pop(1);
                    n -= 1;
                    if !(size <= ld && pos <= ld - size) {
                        return Err(too_short());
                    }
                }
                st.push_bytes(&data[pos..pos + size]);
                n += 1;
            }
            b's' => {
                let Some(len) = data[pos..].iter().position(|&b| b == 0) else {
                    return Err(Raise::msg("unfinished string in data"));
                };
                st.push_bytes(&data[pos..pos + len]);
                size = len + 1;
                n += 1;
            }
            _ => f.control(opt, &mut h)?,
        }
        pos = pos.wrapping_add(size);
    }
    st.push_integer(pos.wrapping_add(1) as i64);
    Ok(n + 1)
}

/// `struct.size(fmt)`: the packed size of a format without strings.
fn size(st: &Stack) -> LResult<c_int> {
    let fmt = st.check_bytes(1)?;
    let mut f = Format {
        bytes: &fmt,
        pos: 0,
    };
    let mut h = Header::new();
    let mut pos: usize = 0;
    while let Some(opt) = f.next_opt() {
        let size = f.size_of(opt)?;
        pos = pos.wrapping_add(padding(pos, &h, opt, size));
        if opt == b's' {
            return Err(Raise::arg(1, "option 's' has no fixed size"));
        } else if opt == b'c' && size == 0 {
            return Err(Raise::arg(1, "option 'c0' has no fixed size"));
        }
        if !opt.is_ascii_alphanumeric() {
            f.control(opt, &mut h)?;
        }
        pos = pos.wrapping_add(size);
    }
    st.push_integer(pos as i64);
    Ok(1)
}

lua_fn!(c_pack => pack);
lua_fn!(c_unpack => unpack);
lua_fn!(c_size => size);

/// Pushes the `struct` table.
///
/// # Safety
///
/// `l` must be a valid state inside a protected call.
pub(super) unsafe fn open(l: *mut ffi::lua_State) {
    unsafe {
        ffi::lua_createtable(l, 0, 3);
        set_function(l, c"pack", c_pack);
        set_function(l, c"unpack", c_unpack);
        set_function(l, c"size", c_size);
    }
}
