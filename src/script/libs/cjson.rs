//! `cjson`: Lua CJSON 2.1.0, as Redis ships it.
//!
//! `encode(value)` and `decode(text)`, the configuration functions
//! (`encode_sparse_array`, `encode_max_depth`, `decode_max_depth`,
//! `encode_number_precision`, `encode_keep_buffer`, `encode_invalid_numbers`,
//! `decode_invalid_numbers`), `new()` for an independently configured copy,
//! and `null`, the NULL light userdata JSON `null` decodes to.
//!
//! Numbers are written with `%.14g` (the precision is configurable) and read
//! with glibc `strtod` rules, so `0x10`, `inf` and `nan` decode by default.
//! Encoding and decoding walk nested values with an explicit stack of
//! frames, never Rust recursion, while using the Lua stack exactly as the
//! recursive C code does: the depth limits and the `lua_checkstack` limits
//! trip at the same depth and with the same message.

use std::ffi::c_int;

use mlua::ffi;

use super::{LResult, Raise, Stack, lua_fn, set_string};

/// One instance's settings (`json_config_t`), kept in a userdata that every
/// function of the instance has as its first upvalue.
#[derive(Clone, Copy)]
struct Config {
    encode_sparse_convert: i32,
    encode_sparse_ratio: i32,
    encode_sparse_safe: i32,
    encode_max_depth: i32,
    /// 0 = error, 1 = `nan`/`inf`, 2 = `null`.
    encode_invalid_numbers: i32,
    encode_number_precision: i32,
    /// Only changes memory reuse in C; kept so the setting reads back.
    encode_keep_buffer: i32,
    decode_invalid_numbers: i32,
    decode_max_depth: i32,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            encode_sparse_convert: 0,
            encode_sparse_ratio: 2,
            encode_sparse_safe: 10,
            encode_max_depth: 1000,
            encode_invalid_numbers: 0,
            encode_number_precision: 14,
            encode_keep_buffer: 1,
            decode_invalid_numbers: 1,
            decode_max_depth: 1000,
        }
    }
}

/// The running function's configuration userdata.
fn config_ptr(st: &Stack) -> LResult<*mut Config> {
    let p = st.upvalue_userdata(1).cast::<Config>();
    if p.is_null() {
        return Err(Raise::msg("BUG: Unable to fetch CJSON configuration"));
    }
    Ok(p)
}

/// A copy of the running function's configuration.
fn config(st: &Stack) -> LResult<Config> {
    // SAFETY: `open` puts a `Config` userdata in upvalue 1 of every function
    // of an instance, and Lua never moves userdata.
    config_ptr(st).map(|p| unsafe { p.read() })
}

/// Runs a configuration function (`json_arg_init` and then `f`): checks the
/// argument count, pads with nils, and stores whatever `f` changed, even
/// when it fails part way, as C does.
fn configure(
    st: &Stack,
    args: c_int,
    f: impl FnOnce(&mut Config) -> LResult<()>,
) -> LResult<c_int> {
    if st.top() > args {
        return Err(Raise::arg(args + 1, "found too many arguments"));
    }
    while st.top() < args {
        st.push_nil();
    }
    let p = config_ptr(st)?;
    // SAFETY: as in `config`; nothing else touches the userdata meanwhile.
    let mut cfg = unsafe { p.read() };
    let result = f(&mut cfg);
    unsafe { p.write(cfg) };
    result.map(|()| args)
}

/// `json_integer_option`: sets from argument `idx` unless nil, pushes the
/// setting. The range error always names argument 1, as in C.
fn integer_option(st: &Stack, idx: c_int, setting: &mut i32, min: i32, max: i32) -> LResult<()> {
    if st.type_of(idx) != ffi::LUA_TNIL {
        let value = st.check_integer(idx)? as i32;
        if !(min <= value && value <= max) {
            return Err(Raise::arg(
                1,
                format!("expected integer between {min} and {max}"),
            ));
        }
        *setting = value;
    }
    st.push_integer(i64::from(*setting));
    Ok(())
}

/// `json_enum_option` with `bool_true` 1: a boolean or one of `options`
/// sets; the setting is pushed as a boolean when it is 0 or 1.
fn enum_option(st: &Stack, idx: c_int, setting: &mut i32, options: &[&str]) -> LResult<()> {
    match st.type_of(idx) {
        ffi::LUA_TNIL => {}
        ffi::LUA_TBOOLEAN => *setting = i32::from(st.to_boolean(idx)),
        _ => {
            // luaL_checkoption
            let name = st
                .check_bytes(idx)
                .map_err(|_| Raise::Type(idx, c"string"))?;
            match options.iter().position(|o| o.as_bytes() == name) {
                Some(i) => *setting = i as i32,
                None => {
                    let mut text = b"invalid option '".to_vec();
                    // luaL_argerror formats with %s: the name ends at a NUL.
                    text.extend(name.iter().take_while(|&&b| b != 0));
                    text.push(b'\'');
                    return Err(Raise::arg(idx, text));
                }
            }
        }
    }
    if *setting == 0 || *setting == 1 {
        st.push_boolean(*setting == 1);
    } else {
        st.push_bytes(options[*setting as usize].as_bytes());
    }
    Ok(())
}

const ON_OFF: &[&str] = &["off", "on"];

/// `cjson.encode_sparse_array([convert [, ratio [, safe]]])`
fn cfg_encode_sparse_array(st: &Stack) -> LResult<c_int> {
    configure(st, 3, |cfg| {
        enum_option(st, 1, &mut cfg.encode_sparse_convert, ON_OFF)?;
        integer_option(st, 2, &mut cfg.encode_sparse_ratio, 0, i32::MAX)?;
        integer_option(st, 3, &mut cfg.encode_sparse_safe, 0, i32::MAX)
    })
}

/// `cjson.encode_max_depth([depth])`
fn cfg_encode_max_depth(st: &Stack) -> LResult<c_int> {
    configure(st, 1, |cfg| {
        integer_option(st, 1, &mut cfg.encode_max_depth, 1, i32::MAX)
    })
}

/// `cjson.decode_max_depth([depth])`
fn cfg_decode_max_depth(st: &Stack) -> LResult<c_int> {
    configure(st, 1, |cfg| {
        integer_option(st, 1, &mut cfg.decode_max_depth, 1, i32::MAX)
    })
}

/// `cjson.encode_number_precision([digits])`
fn cfg_encode_number_precision(st: &Stack) -> LResult<c_int> {
    configure(st, 1, |cfg| {
        integer_option(st, 1, &mut cfg.encode_number_precision, 1, 14)
    })
}

/// `cjson.encode_keep_buffer([keep])`
fn cfg_encode_keep_buffer(st: &Stack) -> LResult<c_int> {
    configure(st, 1, |cfg| {
        enum_option(st, 1, &mut cfg.encode_keep_buffer, ON_OFF)
    })
}

/// `cjson.encode_invalid_numbers([setting])`: off, on or null.
fn cfg_encode_invalid_numbers(st: &Stack) -> LResult<c_int> {
    configure(st, 1, |cfg| {
        enum_option(
            st,
            1,
            &mut cfg.encode_invalid_numbers,
            &["off", "on", "null"],
        )
    })
}

/// `cjson.decode_invalid_numbers([setting])`
fn cfg_decode_invalid_numbers(st: &Stack) -> LResult<c_int> {
    configure(st, 1, |cfg| {
        enum_option(st, 1, &mut cfg.decode_invalid_numbers, ON_OFF)
    })
}

// ---------------------------------------------------------------- encoding

/// `Cannot serialise <type>: <reason>` for the value at `idx`.
fn encode_exception(st: &Stack, idx: c_int, reason: &str) -> Raise {
    Raise::msg(format!("Cannot serialise {}: {reason}", st.type_name(idx)))
}

/// The escape for each byte, if it needs one: control characters, `"`,
/// `\`, `/` and DEL. Bytes from 0x80 up pass through, valid UTF-8 or not.
fn escape(b: u8) -> Option<&'static [u8]> {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    static CONTROL: [[u8; 6]; 32] = {
        let mut t = [[0u8; 6]; 32];
        let mut i = 0;
        while i < 32 {
            t[i] = [b'\\', b'u', b'0', b'0', HEX[i >> 4], HEX[i & 15]];
            i += 1;
        }
        t
    };
    Some(match b {
        b'\x08' => b"\\b",
        b'\t' => b"\\t",
        b'\n' => b"\\n",
        b'\x0c' => b"\\f",
        b'\r' => b"\\r",
        0..=0x1f => &CONTROL[b as usize],
        b'"' => b"\\\"",
        b'\\' => b"\\\\",
        b'/' => b"\\/",
        0x7f => b"\\u007f",
        _ => return None,
    })
}

fn append_string(st: &Stack, json: &mut Vec<u8>, idx: c_int) {
    st.with_bytes(idx, |s| {
        json.push(b'"');
        for &b in s {
            match escape(b) {
                Some(e) => json.extend_from_slice(e),
                None => json.push(b),
            }
        }
        json.push(b'"');
    });
}

fn append_number(st: &Stack, cfg: &Config, json: &mut Vec<u8>, idx: c_int) -> LResult<()> {
    let num = st.to_number(idx);
    match cfg.encode_invalid_numbers {
        0 if num.is_infinite() || num.is_nan() => {
            return Err(encode_exception(st, idx, "must not be NaN or Inf"));
        }
        1 if num.is_nan() => {
            json.extend_from_slice(b"nan");
            return Ok(());
        }
        2 if num.is_infinite() || num.is_nan() => {
            json.extend_from_slice(b"null");
            return Ok(());
        }
        _ => {}
    }
    json.extend_from_slice(format_g(num, cfg.encode_number_precision as usize).as_bytes());
    Ok(())
}

/// `printf("%.<precision>g", num)` as glibc prints it.
pub(crate) fn format_g(num: f64, precision: usize) -> String {
    if num.is_nan() {
        return if num.is_sign_negative() {
            "-nan"
        } else {
            "nan"
        }
        .to_string();
    }
    if num.is_infinite() {
        return if num < 0.0 { "-inf" } else { "inf" }.to_string();
    }
    let p = precision.max(1);
    let sci = format!("{:.*e}", p - 1, num);
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if exp < -4 || exp >= p as i32 {
        let mantissa = trim_fraction(mantissa);
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", exp.unsigned_abs())
    } else {
        let fixed = format!("{:.*}", (p as i32 - 1 - exp) as usize, num);
        trim_fraction(&fixed).to_string()
    }
}

/// Drops trailing zeros after a decimal point, and the point if bare.
fn trim_fraction(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

/// `lua_array_length`: for the table on top, the array length to encode, or
/// -1 to encode it as an object.
fn array_length(st: &Stack, cfg: &Config) -> LResult<i32> {
    let mut max: i32 = 0;
    let mut items: i32 = 0;
    st.push_nil();
    while st.next(-2) {
        let k = st.to_number(-2);
        if st.type_of(-2) == ffi::LUA_TNUMBER && k != 0.0 && k.floor() == k && k >= 1.0 {
            if k > f64::from(max) {
                // `max = k` on x86: out of range becomes INT_MIN.
                max = if k < 2_147_483_648.0 {
                    k as i32
                } else {
                    i32::MIN
                };
            }
            items = items.wrapping_add(1);
            st.pop(1);
            continue;
        }
        st.pop(2);
        return Ok(-1);
    }
    if cfg.encode_sparse_ratio > 0
        && max > items.wrapping_mul(cfg.encode_sparse_ratio)
        && max > cfg.encode_sparse_safe
    {
        if cfg.encode_sparse_convert == 0 {
            return Err(encode_exception(st, -1, "excessively sparse array"));
        }
        return Ok(-1);
    }
    Ok(max)
}

/// A table being written, innermost last. Its traversal state lives on the
/// Lua stack as in C: an array's table, or an object's table and key.
enum EncodeFrame {
    Array { len: i32, next: i32 },
    Object { first: bool },
}

/// Appends the value on top of the stack (`json_append_data`).
fn append_data(st: &Stack, cfg: &Config, json: &mut Vec<u8>) -> LResult<()> {
    let mut frames: Vec<EncodeFrame> = Vec::new();
    loop {
        // Write the value on top of the stack, or open it if a table.
        let mut child_done = true;
        match st.type_of(-1) {
            ffi::LUA_TSTRING => append_string(st, json, -1),
            ffi::LUA_TNUMBER => append_number(st, cfg, json, -1)?,
            ffi::LUA_TBOOLEAN => {
                json.extend_from_slice(if st.to_boolean(-1) { b"true" } else { b"false" });
            }
            ffi::LUA_TTABLE => {
                let depth = frames.len() as i64 + 1;
                if !(depth <= i64::from(cfg.encode_max_depth) && st.check_stack(3)) {
                    return Err(Raise::msg(format!(
                        "Cannot serialise, excessive nesting ({depth})"
                    )));
                }
                let len = array_length(st, cfg)?;
                if len > 0 {
                    json.push(b'[');
                    frames.push(EncodeFrame::Array { len, next: 1 });
                } else {
                    json.push(b'{');
                    st.push_nil();
                    frames.push(EncodeFrame::Object { first: true });
                }
                child_done = false;
            }
            ffi::LUA_TNIL => json.extend_from_slice(b"null"),
            ffi::LUA_TLIGHTUSERDATA if st.to_pointer(-1).is_null() => {
                json.extend_from_slice(b"null")
            }
            _ => return Err(encode_exception(st, -1, "type not supported")),
        }
        // Move on to the next value to write, closing finished tables.
        loop {
            let Some(frame) = frames.last_mut() else {
                return Ok(());
            };
            if child_done {
                st.pop(1);
            }
            match frame {
                EncodeFrame::Array { len, next } => {
                    if *next <= *len {
                        if *next > 1 {
                            json.push(b',');
                        }
                        st.raw_geti(-1, *next);
                        *next += 1;
                        break;
                    }
                    json.push(b']');
                }
                EncodeFrame::Object { first } => {
                    if st.next(-2) {
                        if !*first {
                            json.push(b',');
                        }
                        *first = false;
                        match st.type_of(-2) {
                            ffi::LUA_TNUMBER => {
                                json.push(b'"');
                                append_number(st, cfg, json, -2)?;
                                json.extend_from_slice(b"\":");
                            }
                            ffi::LUA_TSTRING => {
                                append_string(st, json, -2);
                                json.push(b':');
                            }
                            _ => {
                                return Err(encode_exception(
                                    st,
                                    -2,
                                    "table key must be a number or string",
                                ));
                            }
                        }
                        break;
                    }
                    json.push(b'}');
                }
            }
            frames.pop();
            child_done = true;
        }
    }
}

/// `cjson.encode(value)`
fn encode(st: &Stack) -> LResult<c_int> {
    let cfg = config(st)?;
    if st.top() != 1 {
        return Err(Raise::arg(1, "expected 1 argument"));
    }
    let mut json = Vec::new();
    append_data(st, &cfg, &mut json)?;
    st.push_bytes(&json);
    Ok(1)
}

// ---------------------------------------------------------------- decoding

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum TokenType {
    ObjBegin,
    ObjEnd,
    ArrBegin,
    ArrEnd,
    String,
    Number,
    Boolean,
    Null,
    Colon,
    Comma,
    End,
    Whitespace,
    Error,
    Unknown,
}

impl TokenType {
    fn name(self) -> &'static str {
        match self {
            TokenType::ObjBegin => "T_OBJ_BEGIN",
            TokenType::ObjEnd => "T_OBJ_END",
            TokenType::ArrBegin => "T_ARR_BEGIN",
            TokenType::ArrEnd => "T_ARR_END",
            TokenType::String => "T_STRING",
            TokenType::Number => "T_NUMBER",
            TokenType::Boolean => "T_BOOLEAN",
            TokenType::Null => "T_NULL",
            TokenType::Colon => "T_COLON",
            TokenType::Comma => "T_COMMA",
            TokenType::End => "T_END",
            TokenType::Whitespace => "T_WHITESPACE",
            TokenType::Error => "T_ERROR",
            TokenType::Unknown => "T_UNKNOWN",
        }
    }

    /// `ch2token`: what a byte starts.
    fn of(b: u8) -> TokenType {
        match b {
            b'{' => TokenType::ObjBegin,
            b'}' => TokenType::ObjEnd,
            b'[' => TokenType::ArrBegin,
            b']' => TokenType::ArrEnd,
            b',' => TokenType::Comma,
            b':' => TokenType::Colon,
            0 => TokenType::End,
            b' ' | b'\t' | b'\n' | b'\r' => TokenType::Whitespace,
            b'f' | b'i' | b'I' | b'n' | b'N' | b't' | b'"' | b'+' | b'-' | b'0'..=b'9' => {
                TokenType::Unknown
            }
            _ => TokenType::Error,
        }
    }
}

enum TokenValue {
    None,
    String(Vec<u8>),
    Number(f64),
    Boolean(bool),
    /// Why a `T_ERROR` token is one.
    Error(&'static str),
}

struct Token {
    kind: TokenType,
    /// Offset of the token, or of the error, in the input.
    index: usize,
    value: TokenValue,
}

/// The input, read as the NUL-terminated C string it is in C: anything past
/// the end reads as 0, and an embedded NUL ends the document.
struct Parser<'a> {
    data: &'a [u8],
    ptr: usize,
    cfg: Config,
    depth: i64,
}

impl Parser<'_> {
    fn at(&self, i: usize) -> u8 {
        self.data.get(i).copied().unwrap_or(0)
    }

    fn starts_with(&self, lit: &[u8]) -> bool {
        self.data[self.ptr.min(self.data.len())..].starts_with(lit)
    }

    fn error_token(&self, why: &'static str) -> Token {
        Token {
            kind: TokenType::Error,
            index: self.ptr,
            value: TokenValue::Error(why),
        }
    }

    fn hex4(&self, at: usize) -> Option<u32> {
        let mut v = 0u32;
        for i in 0..4 {
            v = (v << 4) | char::from(self.at(at + i)).to_digit(16)?;
        }
        Some(v)
    }

    /// Appends the UTF-8 for the `\u` escape at `ptr` (a surrogate pair
    /// takes two escapes) and moves past it.
    fn unicode_escape(&mut self, out: &mut Vec<u8>) -> Option<()> {
        let mut codepoint = self.hex4(self.ptr + 2)?;
        let mut escape_len = 6;
        if codepoint & 0xF800 == 0xD800 {
            if codepoint & 0x400 != 0 {
                return None;
            }
            if self.at(self.ptr + 6) != b'\\' || self.at(self.ptr + 7) != b'u' {
                return None;
            }
            let low = self.hex4(self.ptr + 8)?;
            if low & 0xFC00 != 0xDC00 {
                return None;
            }
            codepoint = (((codepoint & 0x3FF) << 10) | (low & 0x3FF)) + 0x10000;
            escape_len = 12;
        }
        // Every codepoint here is at most 0x10FFFF; no surrogate remains.
        let c = char::from_u32(codepoint)?;
        let mut utf8 = [0u8; 4];
        out.extend_from_slice(c.encode_utf8(&mut utf8).as_bytes());
        self.ptr += escape_len;
        Some(())
    }

    fn string_token(&mut self, index: usize) -> Token {
        self.ptr += 1;
        let mut out = Vec::new();
        loop {
            let ch = self.at(self.ptr);
            if ch == b'"' {
                break;
            }
            if ch == 0 {
                return self.error_token("unexpected end of string");
            }
            let mut byte = ch;
            if ch == b'\\' {
                byte = match self.at(self.ptr + 1) {
                    b'"' => b'"',
                    b'\\' => b'\\',
                    b'/' => b'/',
                    b'b' => b'\x08',
                    b't' => b'\t',
                    b'n' => b'\n',
                    b'f' => b'\x0c',
                    b'r' => b'\r',
                    b'u' => {
                        if self.unicode_escape(&mut out).is_some() {
                            continue;
                        }
                        return self.error_token("invalid unicode escape code");
                    }
                    _ => return self.error_token("invalid escape code"),
                };
                self.ptr += 1;
            }
            out.push(byte);
            self.ptr += 1;
        }
        self.ptr += 1;
        Token {
            kind: TokenType::String,
            index,
            value: TokenValue::String(out),
        }
    }

    /// `json_is_invalid_number`: would this number be rejected with
    /// `decode_invalid_numbers` off?
    fn is_invalid_number(&self) -> bool {
        let mut p = self.ptr;
        if self.at(p) == b'+' {
            return true;
        }
        if self.at(p) == b'-' {
            p += 1;
        }
        let c = self.at(p);
        if c == b'0' {
            let c2 = self.at(p + 1);
            return c2 | 0x20 == b'x' || c2.is_ascii_digit();
        } else if c <= b'9' {
            return false;
        }
        let word = |w: &[u8]| (0..3).all(|i| self.at(p + i).eq_ignore_ascii_case(&w[i]));
        word(b"inf") || word(b"nan")
    }

    fn number_token(&mut self, index: usize) -> Token {
        let rest = &self.data[self.ptr.min(self.data.len())..];
        match strtod(rest) {
            Some((value, used)) => {
                self.ptr += used;
                Token {
                    kind: TokenType::Number,
                    index,
                    value: TokenValue::Number(value),
                }
            }
            None => self.error_token("invalid number"),
        }
    }

    fn next_token(&mut self) -> Token {
        let mut kind = TokenType::of(self.at(self.ptr));
        while kind == TokenType::Whitespace {
            self.ptr += 1;
            kind = TokenType::of(self.at(self.ptr));
        }
        let index = self.ptr;
        let ch = self.at(self.ptr);
        match kind {
            TokenType::Error => return self.error_token("invalid token"),
            TokenType::End => {
                return Token {
                    kind,
                    index,
                    value: TokenValue::None,
                };
            }
            TokenType::Unknown => {}
            _ => {
                self.ptr += 1;
                return Token {
                    kind,
                    index,
                    value: TokenValue::None,
                };
            }
        }
        let simple = |kind, value| Token { kind, index, value };
        if ch == b'"' {
            self.string_token(index)
        } else if ch == b'-' || ch.is_ascii_digit() {
            if self.cfg.decode_invalid_numbers == 0 && self.is_invalid_number() {
                return self.error_token("invalid number");
            }
            self.number_token(index)
        } else if self.starts_with(b"true") {
            self.ptr += 4;
            simple(TokenType::Boolean, TokenValue::Boolean(true))
        } else if self.starts_with(b"false") {
            self.ptr += 5;
            simple(TokenType::Boolean, TokenValue::Boolean(false))
        } else if self.starts_with(b"null") {
            self.ptr += 4;
            simple(TokenType::Null, TokenValue::None)
        } else if self.cfg.decode_invalid_numbers != 0 && self.is_invalid_number() {
            self.number_token(index)
        } else {
            self.error_token("invalid token")
        }
    }

    /// `json_decode_descend`: one level deeper, if allowed and if the Lua
    /// stack has `slots` to spare.
    fn descend(&mut self, st: &Stack, slots: c_int) -> LResult<()> {
        self.depth += 1;
        if self.depth <= i64::from(self.cfg.decode_max_depth) && st.check_stack(slots) {
            return Ok(());
        }
        Err(Raise::msg(format!(
            "Found too many nested data structures ({}) at character {}",
            self.depth, self.ptr
        )))
    }
}

fn parse_error(expected: &str, token: &Token) -> Raise {
    let found = match token.value {
        TokenValue::Error(why) if token.kind == TokenType::Error => why,
        _ => token.kind.name(),
    };
    Raise::msg(format!(
        "Expected {expected} but found {found} at character {}",
        token.index + 1
    ))
}

/// A container being filled, innermost last.
enum DecodeFrame {
    /// The index the next element goes to.
    Array(c_int),
    Object,
}

/// After `{` and the first key's token: pushes the key, expects a colon,
/// and returns the value's first token.
fn object_key(st: &Stack, p: &mut Parser, token: Token) -> LResult<Token> {
    let TokenValue::String(key) = &token.value else {
        return Err(parse_error("object key string", &token));
    };
    st.push_bytes(key);
    let colon = p.next_token();
    if colon.kind != TokenType::Colon {
        return Err(parse_error("colon", &colon));
    }
    Ok(p.next_token())
}

/// Pushes the value that starts with `token` (`json_process_value`).
fn process_value(st: &Stack, p: &mut Parser, mut token: Token) -> LResult<()> {
    let mut frames: Vec<DecodeFrame> = Vec::new();
    loop {
        // Push a scalar, or open a container and go on to its first element.
        match (token.kind, token.value) {
            (TokenType::String, TokenValue::String(s)) => st.push_bytes(&s),
            (TokenType::Number, TokenValue::Number(n)) => st.push_number(n),
            (TokenType::Boolean, TokenValue::Boolean(b)) => st.push_boolean(b),
            (TokenType::Null, _) => st.push_null(),
            (TokenType::ObjBegin, _) => {
                p.descend(st, 3)?;
                st.new_table();
                let first = p.next_token();
                if first.kind != TokenType::ObjEnd {
                    token = object_key(st, p, first)?;
                    frames.push(DecodeFrame::Object);
                    continue;
                }
                p.depth -= 1;
            }
            (TokenType::ArrBegin, _) => {
                p.descend(st, 2)?;
                st.new_table();
                let first = p.next_token();
                if first.kind != TokenType::ArrEnd {
                    token = first;
                    frames.push(DecodeFrame::Array(1));
                    continue;
                }
                p.depth -= 1;
            }
            (kind, value) => {
                return Err(parse_error(
                    "value",
                    &Token {
                        kind,
                        index: token.index,
                        value,
                    },
                ));
            }
        }
        // A value is complete: store it, then find the next one to read.
        loop {
            let Some(frame) = frames.last_mut() else {
                return Ok(());
            };
            match frame {
                DecodeFrame::Array(i) => {
                    st.raw_seti(-2, *i);
                    let t = p.next_token();
                    if t.kind != TokenType::ArrEnd {
                        if t.kind != TokenType::Comma {
                            return Err(parse_error("comma or array end", &t));
                        }
                        *i += 1;
                        token = p.next_token();
                        break;
                    }
                }
                DecodeFrame::Object => {
                    st.raw_set(-3);
                    let t = p.next_token();
                    if t.kind != TokenType::ObjEnd {
                        if t.kind != TokenType::Comma {
                            return Err(parse_error("comma or object end", &t));
                        }
                        let key = p.next_token();
                        token = object_key(st, p, key)?;
                        break;
                    }
                }
            }
            p.depth -= 1;
            frames.pop();
        }
    }
}

/// `cjson.decode(text)`
fn decode(st: &Stack) -> LResult<c_int> {
    if st.top() != 1 {
        return Err(Raise::arg(1, "expected 1 argument"));
    }
    let cfg = config(st)?;
    let data = st.check_bytes(1)?;
    if data.len() >= 2 && (data[0] == 0 || data[1] == 0) {
        return Err(Raise::msg("JSON parser does not support UTF-16 or UTF-32"));
    }
    let mut p = Parser {
        data: &data,
        ptr: 0,
        cfg,
        depth: 0,
    };
    let token = p.next_token();
    process_value(st, &mut p, token)?;
    let token = p.next_token();
    if token.kind != TokenType::End {
        return Err(parse_error("the end", &token));
    }
    Ok(1)
}

/// glibc `strtod` on the start of `s`: the value and the bytes used, or
/// `None` when no number starts there. Decimal, hexadecimal (`0x1.8p3`),
/// `inf`/`infinity` and `nan`/`nan(chars)`, any case, optionally signed.
pub(crate) fn strtod(s: &[u8]) -> Option<(f64, usize)> {
    let at = |i: usize| s.get(i).copied().unwrap_or(0);
    let mut i = 0;
    let negative = match at(0) {
        b'-' => {
            i = 1;
            true
        }
        b'+' => {
            i = 1;
            false
        }
        _ => false,
    };
    let sign = |v: f64| if negative { -v } else { v };
    let word =
        |from: usize, w: &[u8]| (0..w.len()).all(|k| at(from + k).eq_ignore_ascii_case(&w[k]));
    if word(i, b"inf") {
        let used = if word(i, b"infinity") { i + 8 } else { i + 3 };
        return Some((sign(f64::INFINITY), used));
    }
    if word(i, b"nan") {
        let mut used = i + 3;
        if at(used) == b'(' {
            let mut k = used + 1;
            while at(k).is_ascii_alphanumeric() || at(k) == b'_' {
                k += 1;
            }
            if at(k) == b')' {
                used = k + 1;
            }
        }
        return Some((sign(f64::NAN), used));
    }
    if at(i) == b'0' && at(i + 1) | 0x20 == b'x' {
        if let Some((v, used)) = hex_float(s, i + 2) {
            return Some((sign(v), used));
        }
        // "0x" with no digit after it: just the zero.
        return Some((sign(0.0), i + 1));
    }
    let start = i;
    let mut digits = 0;
    while at(i).is_ascii_digit() {
        i += 1;
        digits += 1;
    }
    if at(i) == b'.' {
        i += 1;
        while at(i).is_ascii_digit() {
            i += 1;
            digits += 1;
        }
    }
    if digits == 0 {
        return None;
    }
    if at(i) | 0x20 == b'e' {
        let mut k = i + 1;
        if at(k) == b'+' || at(k) == b'-' {
            k += 1;
        }
        if at(k).is_ascii_digit() {
            while at(k).is_ascii_digit() {
                k += 1;
            }
            i = k;
        }
    }
    let text = std::str::from_utf8(&s[start..i]).ok()?;
    let v: f64 = text.parse().ok()?;
    Some((sign(v), i))
}

/// The hexadecimal float whose digits start at `from` (after `0x`).
fn hex_float(s: &[u8], from: usize) -> Option<(f64, usize)> {
    let at = |i: usize| s.get(i).copied().unwrap_or(0);
    let hex = |b: u8| char::from(b).to_digit(16);
    let mut i = from;
    let mut mantissa: u64 = 0;
    let mut exp: i64 = 0;
    let mut digits = 0;
    let mut sticky = false;
    let mut add = |d: u32, fraction: bool, exp: &mut i64| {
        if mantissa >> 56 == 0 {
            mantissa = (mantissa << 4) | u64::from(d);
            if fraction {
                *exp -= 4;
            }
        } else {
            sticky |= d != 0;
            if !fraction {
                *exp += 4;
            }
        }
    };
    while let Some(d) = hex(at(i)) {
        add(d, false, &mut exp);
        i += 1;
        digits += 1;
    }
    if at(i) == b'.' {
        let mut k = i + 1;
        let mut frac_digits = 0;
        while let Some(d) = hex(at(k)) {
            add(d, true, &mut exp);
            k += 1;
            frac_digits += 1;
        }
        if digits + frac_digits > 0 {
            i = k;
            digits += frac_digits;
        }
    }
    if digits == 0 {
        return None;
    }
    if at(i) | 0x20 == b'p' {
        let mut k = i + 1;
        let negative = at(k) == b'-';
        if at(k) == b'+' || at(k) == b'-' {
            k += 1;
        }
        if at(k).is_ascii_digit() {
            let mut e: i64 = 0;
            while at(k).is_ascii_digit() {
                e = (e * 10 + i64::from(at(k) - b'0')).min(1 << 20);
                k += 1;
            }
            exp += if negative { -e } else { e };
            i = k;
        }
    }
    // Fold the sticky bit in below the kept digits so rounding sees it.
    let m = if sticky {
        (mantissa << 1) | 1
    } else {
        mantissa << 1
    };
    Some((scale_by_power_of_two(m as f64, exp - 1), i))
}

/// `v * 2^exp` without overflowing or underflowing in between.
fn scale_by_power_of_two(mut v: f64, mut exp: i64) -> f64 {
    while exp > 1000 && v.is_finite() && v != 0.0 {
        v *= 2f64.powi(1000);
        exp -= 1000;
    }
    while exp < -1000 && v != 0.0 {
        v *= 2f64.powi(-1000);
        exp += 1000;
    }
    v * 2f64.powi(exp.clamp(-1100, 1100) as i32)
}

// ------------------------------------------------------------ registration

lua_fn!(c_encode => encode);
lua_fn!(c_decode => decode);
lua_fn!(c_encode_sparse_array => cfg_encode_sparse_array);
lua_fn!(c_encode_max_depth => cfg_encode_max_depth);
lua_fn!(c_decode_max_depth => cfg_decode_max_depth);
lua_fn!(c_encode_number_precision => cfg_encode_number_precision);
lua_fn!(c_encode_keep_buffer => cfg_encode_keep_buffer);
lua_fn!(c_encode_invalid_numbers => cfg_encode_invalid_numbers);
lua_fn!(c_decode_invalid_numbers => cfg_decode_invalid_numbers);
lua_fn!(c_new => new);

/// `cjson.new()`: a fresh instance with default settings.
fn new(st: &Stack) -> LResult<c_int> {
    st.ensure_stack(4, "cjson.new")?;
    // SAFETY: we are inside a C function with 4 free slots.
    unsafe { open(st.0) };
    Ok(1)
}

/// Pushes a new `cjson` table with its own configuration
/// (`lua_cjson_new`).
///
/// # Safety
///
/// `l` must be a valid state with 4 free stack slots, inside a protected
/// call or a C function.
pub(super) unsafe fn open(l: *mut ffi::lua_State) {
    let functions: [(&std::ffi::CStr, ffi::lua_CFunction); 10] = [
        (c"encode", c_encode),
        (c"decode", c_decode),
        (c"encode_sparse_array", c_encode_sparse_array),
        (c"encode_max_depth", c_encode_max_depth),
        (c"decode_max_depth", c_decode_max_depth),
        (c"encode_number_precision", c_encode_number_precision),
        (c"encode_keep_buffer", c_encode_keep_buffer),
        (c"encode_invalid_numbers", c_encode_invalid_numbers),
        (c"decode_invalid_numbers", c_decode_invalid_numbers),
        (c"new", c_new),
    ];
    unsafe {
        ffi::lua_createtable(l, 0, 13);
        let cfg = ffi::lua_newuserdata(l, std::mem::size_of::<Config>()).cast::<Config>();
        // Lua aligns userdata for doubles, more than `Config` needs.
        cfg.write(Config::default());
        for (name, f) in functions {
            ffi::lua_pushvalue(l, -1);
            ffi::lua_pushcclosure(l, f, 1);
            ffi::lua_setfield(l, -3, name.as_ptr());
        }
        ffi::lua_pop(l, 1);
        ffi::lua_pushlightuserdata(l, std::ptr::null_mut());
        ffi::lua_setfield(l, -2, c"null".as_ptr());
        set_string(l, c"_NAME", "cjson");
        set_string(l, c"_VERSION", "2.1.0");
    }
}
