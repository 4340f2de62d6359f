//! Conversions between RESP and Lua values, as Redis 7.0's script_lua.c
//! makes them: a command's reply into Lua for `redis.call`, and a
//! script's return value into the caller's reply.

use mlua::{Lua, Table, Value};

use crate::resp::Reply;
use crate::store::Stats;

/// How deep a script's return value may nest before it is cut short with
/// an error, as Redis's Lua stack limit cuts it.
const MAX_DEPTH: usize = 1000;

/// A command's reply (RESP2 or RESP3 bytes, one complete reply) as the
/// Lua value Redis gives `redis.call`: integers as numbers, bulk strings
/// as strings, nulls as false (RESP3's null as nil), statuses as
/// `{ok=...}`, errors as `{err=...}` (the second value says it was one),
/// doubles, maps, sets and big numbers as tagged tables.
pub fn reply_to_lua(lua: &Lua, bytes: &[u8]) -> mlua::Result<(Value, bool)> {
    let mut at = 0;
    let is_error = bytes.first() == Some(&b'-');
    let value = parse(lua, bytes, &mut at)?;
    Ok((value, is_error))
}

fn line<'a>(bytes: &'a [u8], at: &mut usize) -> mlua::Result<&'a [u8]> {
    let rest = bytes.get(*at..).unwrap_or_default();
    let end = rest
        .windows(2)
        .position(|w| w == b"\r\n")
        .ok_or_else(|| mlua::Error::runtime("truncated reply"))?;
    *at += end + 2;
    Ok(&rest[..end])
}

fn number(text: &[u8]) -> mlua::Result<i64> {
    std::str::from_utf8(text)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| mlua::Error::runtime("bad reply length"))
}

fn body<'a>(bytes: &'a [u8], at: &mut usize, len: i64) -> mlua::Result<&'a [u8]> {
    let len = usize::try_from(len).map_err(|_| mlua::Error::runtime("bad reply length"))?;
    let data = bytes
        .get(*at..*at + len)
        .ok_or_else(|| mlua::Error::runtime("truncated reply"))?;
    *at += len + 2;
    Ok(data)
}

fn tagged(lua: &Lua, tag: &str, value: impl mlua::IntoLua) -> mlua::Result<Value> {
    let t = lua.create_table_with_capacity(0, 1)?;
    t.raw_set(tag, value)?;
    Ok(Value::Table(t))
}

fn parse(lua: &Lua, bytes: &[u8], at: &mut usize) -> mlua::Result<Value> {
    let kind = *bytes
        .get(*at)
        .ok_or_else(|| mlua::Error::runtime("truncated reply"))?;
    *at += 1;
    let head = line(bytes, at)?;
    Ok(match kind {
        b':' => Value::Number(number(head)? as f64),
        b'$' | b'=' => {
            let len = number(head)?;
            if len < 0 {
                return Ok(Value::Boolean(false));
            }
            let data = body(bytes, at, len)?;
            if kind == b'$' {
                Value::String(lua.create_string(data)?)
            } else {
                // A verbatim string: "txt:" and the text.
                let (format, text) = data.split_at(data.len().min(4));
                let inner = lua.create_table_with_capacity(0, 2)?;
                inner.raw_set("string", lua.create_string(text)?)?;
                inner.raw_set("format", lua.create_string(&format[..format.len().min(3)])?)?;
                tagged(lua, "verbatim_string", inner)?
            }
        }
        b'+' => tagged(lua, "ok", lua.create_string(head)?)?,
        b'-' => {
            let t = error_table(lua, &[b"-", head].concat())?;
            t.raw_set("ignore_error_stats_update", true)?;
            Value::Table(t)
        }
        b'*' | b'~' | b'>' => {
            let len = number(head)?;
            if len < 0 {
                return Ok(Value::Boolean(false));
            }
            if kind == b'~' {
                let set = lua.create_table()?;
                for _ in 0..len {
                    let member = parse(lua, bytes, at)?;
                    set.raw_set(member, true)?;
                }
                tagged(lua, "set", set)?
            } else {
                let t = lua.create_table_with_capacity(len.min(1 << 16) as usize, 0)?;
                for i in 0..len {
                    t.raw_set(i + 1, parse(lua, bytes, at)?)?;
                }
                Value::Table(t)
            }
        }
        b'%' => {
            let len = number(head)?;
            let map = lua.create_table()?;
            for _ in 0..len.max(0) {
                let k = parse(lua, bytes, at)?;
                let v = parse(lua, bytes, at)?;
                map.raw_set(k, v)?;
            }
            tagged(lua, "map", map)?
        }
        b'|' => {
            // Attributes are skipped; the value follows.
            let len = number(head)?;
            for _ in 0..len.max(0) * 2 {
                parse(lua, bytes, at)?;
            }
            parse(lua, bytes, at)?
        }
        b'_' => Value::Nil,
        b'#' => Value::Boolean(head == b"t"),
        b',' => {
            let d = crate::util::parse_f64(head).unwrap_or(f64::NAN);
            tagged(lua, "double", d)?
        }
        b'(' => tagged(lua, "big_number", lua.create_string(head)?)?,
        _ => return Err(mlua::Error::runtime("unknown reply type")),
    })
}

/// The `{err=...}` table Redis's luaPushErrorBuff makes of an error: a
/// leading `-` is dropped and the first word is the code (`ERR` when
/// there is none), CR and LF trimmed from the ends of the message. The
/// bytes stay as they are: a command's error may quote a binary argument.
pub fn error_table(lua: &Lua, text: &[u8]) -> mlua::Result<Table> {
    let t = lua.create_table_with_capacity(0, 2)?;
    t.raw_set("err", lua.create_string(error_text(text))?)?;
    Ok(t)
}

/// The text of an error table's `err` field for an error reply or an
/// error message.
pub fn error_text(text: &[u8]) -> Vec<u8> {
    let (code, msg): (&[u8], &[u8]) = match text.strip_prefix(b"-") {
        Some(rest) => match rest.iter().position(|&b| b == b' ') {
            Some(space) => (&rest[..space], &rest[space + 1..]),
            None => (b"ERR", rest),
        },
        None => (b"ERR", text),
    };
    // Redis's strings end at a NUL.
    let cut = |s: &[u8]| s.split(|&b| b == 0).next().unwrap_or_default().to_vec();
    let msg = cut(msg);
    let start = msg.iter().position(|&b| b != b'\r' && b != b'\n');
    let end = msg.iter().rposition(|&b| b != b'\r' && b != b'\n');
    let msg = match (start, end) {
        (Some(s), Some(e)) => &msg[s..=e],
        _ => &[][..],
    };
    [&cut(code)[..], b" ", msg].concat()
}

/// The bytes Redis sees of a Lua string it reads as a C string: up to
/// the first NUL (an error's or a status's text).
pub fn c_string(bytes: &[u8]) -> &[u8] {
    bytes.split(|&b| b == 0).next().unwrap_or_default()
}

/// C's `(long long)` of a double as x86-64 computes it: out of range and
/// NaN give the smallest integer.
pub fn c_long_long(d: f64) -> i64 {
    if d.is_nan() || !(-9.223_372_036_854_776e18..9.223_372_036_854_776e18).contains(&d) {
        i64::MIN
    } else {
        d as i64
    }
}

/// Writes a script's return value as the caller's reply.
pub struct ReplyWriter<'a> {
    pub out: &'a mut Reply,
    /// The protocol the script last chose with `redis.setresp`: it decides
    /// what a boolean becomes.
    pub script_resp3: bool,
    pub stats: &'a mut Stats,
    /// An error not counted again was written: the call fails (Redis's
    /// failed_calls for ERR_REPLY_FLAG_NO_STATS_UPDATE).
    pub failed: bool,
}

impl ReplyWriter<'_> {
    pub fn write(&mut self, v: &Value, depth: usize) -> mlua::Result<()> {
        if depth > MAX_DEPTH {
            self.error(b"ERR reached lua stack limit", false);
            return Ok(());
        }
        match v {
            Value::String(s) => self.out.bulk(&s.as_bytes()),
            Value::Boolean(b) => match (self.script_resp3, b) {
                (false, true) => self.out.int(1),
                (false, false) => self.out.null(),
                (true, b) => self.out.boolean(*b),
            },
            Value::Integer(i) => self.out.int(c_long_long(*i as f64)),
            Value::Number(n) => self.out.int(c_long_long(*n)),
            Value::Table(t) => self.table(t, depth)?,
            _ => self.out.null(),
        }
        Ok(())
    }

    fn error(&mut self, msg: &[u8], uncounted: bool) {
        self.out.error_bytes(msg);
        self.failed |= uncounted;
        if !uncounted {
            crate::call::count_error(self.stats, &String::from_utf8_lossy(msg));
        }
    }

    fn table(&mut self, t: &Table, depth: usize) -> mlua::Result<()> {
        if let Value::String(e) = t.raw_get::<Value>("err")? {
            let uncounted = matches!(
                t.raw_get::<Value>("ignore_error_stats_update")?,
                Value::Boolean(true)
            );
            // Redis replies with it through addReplyErrorFormat, which
            // trims CR and LF from its end before it turns the others
            // into spaces.
            let text = e.as_bytes();
            let text = c_string(&text);
            let end = text.iter().rposition(|&b| b != b'\r' && b != b'\n');
            self.error(&text[..end.map_or(0, |e| e + 1)], uncounted);
            return Ok(());
        }
        if let Value::String(s) = t.raw_get::<Value>("ok")? {
            let text: Vec<u8> = c_string(&s.as_bytes())
                .iter()
                .map(|&b| if b == b'\r' || b == b'\n' { b' ' } else { b })
                .collect();
            self.out.simple_bytes(&text);
            return Ok(());
        }
        if let Value::Integer(_) | Value::Number(_) = t.raw_get::<Value>("double")? {
            let d: f64 = t.raw_get("double")?;
            self.out.double(d);
            return Ok(());
        }
        if let Value::String(s) = t.raw_get::<Value>("big_number")? {
            let text = s
                .as_bytes()
                .iter()
                .map(|&b| if b == b'\r' || b == b'\n' { b' ' } else { b })
                .collect::<Vec<u8>>();
            self.out.big_number(&text);
            return Ok(());
        }
        if let Value::Table(v) = t.raw_get::<Value>("verbatim_string")?
            && let (Value::String(format), Value::String(s)) =
                (v.raw_get::<Value>("format")?, v.raw_get::<Value>("string")?)
        {
            let format = String::from_utf8_lossy(&format.as_bytes()).into_owned();
            self.out.verbatim(&format, &s.as_bytes());
            return Ok(());
        }
        if let Value::Table(m) = t.raw_get::<Value>("map")? {
            let pairs: Vec<(Value, Value)> =
                m.pairs::<Value, Value>().collect::<mlua::Result<_>>()?;
            self.out.map(pairs.len());
            for (k, v) in &pairs {
                self.write(k, depth + 1)?;
                self.write(v, depth + 1)?;
            }
            return Ok(());
        }
        if let Value::Table(s) = t.raw_get::<Value>("set")? {
            let members: Vec<Value> = s
                .pairs::<Value, Value>()
                .map(|p| p.map(|(k, _)| k))
                .collect::<mlua::Result<_>>()?;
            self.out.set(members.len());
            for k in &members {
                self.write(k, depth + 1)?;
            }
            return Ok(());
        }
        let mut len = 0;
        while !matches!(t.raw_get::<Value>(len + 1)?, Value::Nil) {
            len += 1;
        }
        self.out.array(len);
        for i in 1..=len {
            let v: Value = t.raw_get(i)?;
            self.write(&v, depth + 1)?;
        }
        Ok(())
    }
}

/// Pushes a command's reply (one complete RESP reply) onto the Lua stack
/// as the value `redis.call` returns, straight from the bytes: the same
/// conversion as [`reply_to_lua`], for the hot path, with no handle kept
/// per value. Returns whether the reply was an error.
///
/// # Safety
///
/// `l` must be the state of the running C function. Lua API calls here
/// may raise only on memory exhaustion; no Rust value with a destructor
/// is alive across them.
pub unsafe fn push_reply(l: *mut mlua::ffi::lua_State, bytes: &[u8]) -> Result<bool, ()> {
    let mut at = 0;
    // SAFETY: forwarded.
    unsafe { push_value(l, bytes, &mut at, 0)? };
    Ok(bytes.first() == Some(&b'-'))
}

unsafe fn push_value(
    l: *mut mlua::ffi::lua_State,
    bytes: &[u8],
    at: &mut usize,
    depth: usize,
) -> Result<(), ()> {
    use mlua::ffi;
    let kind = *bytes.get(*at).ok_or(())?;
    *at += 1;
    let head = line(bytes, at).map_err(|_| ())?;
    let count = |head: &[u8]| number(head).map_err(|_| ());
    // SAFETY: the caller's state; each push is preceded by room for it.
    unsafe {
        if depth > MAX_DEPTH || ffi::lua_checkstack(l, 4) == 0 {
            return Err(());
        }
        match kind {
            b':' => ffi::lua_pushnumber(l, count(head)? as f64),
            b'$' => match count(head)? {
                n if n < 0 => ffi::lua_pushboolean(l, 0),
                n => {
                    let data = body(bytes, at, n).map_err(|_| ())?;
                    ffi::lua_pushlstring(l, data.as_ptr().cast(), data.len());
                }
            },
            b'+' => {
                ffi::lua_createtable(l, 0, 1);
                ffi::lua_pushlstring(l, head.as_ptr().cast(), head.len());
                ffi::lua_setfield(l, -2, c"ok".as_ptr());
            }
            b'-' => {
                let mut raw = Vec::with_capacity(head.len() + 1);
                raw.push(b'-');
                raw.extend_from_slice(head);
                let text = error_text(&raw);
                drop(raw);
                ffi::lua_createtable(l, 0, 2);
                ffi::lua_pushlstring(l, text.as_ptr().cast(), text.len());
                drop(text);
                ffi::lua_setfield(l, -2, c"err".as_ptr());
                ffi::lua_pushboolean(l, 1);
                ffi::lua_setfield(l, -2, c"ignore_error_stats_update".as_ptr());
            }
            b'*' => match count(head)? {
                n if n < 0 => ffi::lua_pushboolean(l, 0),
                n => {
                    ffi::lua_createtable(l, n.min(1 << 16) as i32, 0);
                    for i in 0..n {
                        push_value(l, bytes, at, depth + 1)?;
                        ffi::lua_rawseti(l, -2, (i + 1) as _);
                    }
                }
            },
            // Anything RESP3 (a script that chose `redis.setresp(3)`)
            // goes the general way.
            _ => return Err(()),
        }
    }
    Ok(())
}
