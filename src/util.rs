//! Number parsing and formatting with Redis's exact rules.

/// Parses a decimal integer the way Redis's `string2ll` does: an optional
/// `-`, no `+`, no leading zeroes, no spaces, and it must fit in an `i64`.
pub fn parse_i64(s: &[u8]) -> Option<i64> {
    if s.is_empty() || s.len() > 20 {
        return None;
    }
    if s == b"0" {
        return Some(0);
    }
    let (negative, digits) = match s[0] {
        b'-' => (true, &s[1..]),
        _ => (false, s),
    };
    match digits.first() {
        Some(b'1'..=b'9') => {}
        _ => return None,
    }
    let mut v: u64 = 0;
    for &c in digits {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add((c - b'0') as u64)?;
    }
    if negative {
        if v > i64::MAX as u64 + 1 {
            None
        } else {
            Some((v as i64).wrapping_neg())
        }
    } else if v > i64::MAX as u64 {
        None
    } else {
        Some(v as i64)
    }
}

/// Parses a double the way Redis's `string2d` does (C `strtod`): no leading
/// space, the whole input consumed, and no NaN.
pub fn parse_f64(s: &[u8]) -> Option<f64> {
    if s.is_empty() || s[0].is_ascii_whitespace() || s.len() > 5 * 1024 {
        return None;
    }
    let text = std::str::from_utf8(s).ok()?;
    let lower = text.to_ascii_lowercase();
    let v = match lower.trim_start_matches(['+', '-']) {
        "inf" | "infinity" => {
            if lower.starts_with('-') {
                f64::NEG_INFINITY
            } else {
                f64::INFINITY
            }
        }
        // Rust accepts "nan" and forms C does not (such as "1_0"); C accepts
        // hex floats, which Redis users do not rely on. Reject what is not
        // plain decimal.
        _ => {
            if !text
                .bytes()
                .all(|c| c.is_ascii_digit() || matches!(c, b'+' | b'-' | b'.' | b'e' | b'E'))
            {
                return None;
            }
            text.parse::<f64>().ok()?
        }
    };
    if v.is_nan() { None } else { Some(v) }
}

/// C's `strtod` over `s` up to its first NUL (what a C string of the
/// argument holds): the value and how many bytes it consumed, and whether
/// it overflowed or underflowed (`ERANGE`).
pub(crate) fn c_strtod(s: &[u8]) -> (f64, usize, bool) {
    let text = until_nul(s);
    let mut buf = Vec::with_capacity(text.len() + 1);
    buf.extend_from_slice(text);
    buf.push(0);
    let mut end: *mut libc::c_char = std::ptr::null_mut();
    // SAFETY: `buf` is NUL-terminated and outlives the call; errno is the
    // calling thread's own.
    unsafe {
        *libc::__errno_location() = 0;
        let v = libc::strtod(buf.as_ptr() as *const libc::c_char, &mut end);
        let consumed = end.offset_from(buf.as_ptr() as *const libc::c_char) as usize;
        (v, consumed, *libc::__errno_location() == libc::ERANGE)
    }
}

/// Parses a double exactly as Redis's `getDoubleFromObject` does (scores,
/// increments, weights): C `strtod` over the whole argument, with no
/// leading space, no NaN, and no overflow or underflow to zero.
pub fn parse_score(s: &[u8]) -> Option<f64> {
    if s.is_empty() || s[0].is_ascii_whitespace() || s[0] == 0x0b || s[0] == 0x0c {
        return None;
    }
    let (v, consumed, range_error) = c_strtod(s);
    if consumed != s.len() || v.is_nan() {
        return None;
    }
    if range_error && (v.is_infinite() || v == 0.0) {
        return None;
    }
    Some(v)
}

/// Parses a score range bound as Redis's `zslParseRange` does: C `strtod`
/// that must reach the end of the C string (so leading space, an empty
/// string and anything after a NUL pass), and no NaN.
pub fn parse_range_double(s: &[u8]) -> Option<f64> {
    let (v, consumed, _) = c_strtod(s);
    if consumed != until_nul(s).len() || v.is_nan() {
        return None;
    }
    Some(v)
}

/// Formats a double as Redis 7.0 replies with it: `%.17g`, and `inf`/`-inf`.
pub fn format_double(d: f64) -> String {
    if d.is_infinite() {
        return if d > 0.0 { "inf".into() } else { "-inf".into() };
    }
    let mut buf = [0u8; 64];
    // SAFETY: the buffer is valid for its length, the format string is a
    // NUL-terminated literal, and "%.17g" of a double needs at most 25 bytes.
    let n = unsafe {
        libc::snprintf(
            buf.as_mut_ptr() as *mut libc::c_char,
            buf.len(),
            c"%.17g".as_ptr(),
            d,
        )
    };
    let n = (n.max(0) as usize).min(buf.len() - 1);
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

/// Formats `d` as C's `"%.2f"` does (glibc's rounding of the exact
/// binary value), for texts Redis prints that way.
pub fn format_fixed2(d: f64) -> String {
    let mut buf = [0u8; 400];
    // SAFETY: the buffer is valid for its length and the format string is
    // a NUL-terminated literal taking one double; snprintf never writes
    // past the length it is given.
    let n = unsafe {
        libc::snprintf(
            buf.as_mut_ptr() as *mut libc::c_char,
            buf.len(),
            c"%.2f".as_ptr(),
            d,
        )
    };
    let n = (n.max(0) as usize).min(buf.len() - 1);
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

unsafe extern "C" {
    fn ferrokv_ld_add(
        a: *const u8,
        alen: usize,
        b: *const u8,
        blen: usize,
        out: *mut u8,
        outlen: usize,
    ) -> libc::c_long;
}

unsafe extern "C" {
    fn ferrokv_timeout_ms(s: *const u8, slen: usize, ms: *mut libc::c_longlong) -> libc::c_int;
}

/// A blocking command's timeout in seconds, converted to milliseconds
/// exactly as Redis converts it (long double, rounded up), or `None` when
/// the argument is not a float. The result may be negative.
pub fn timeout_seconds_to_ms(arg: &[u8]) -> Option<i64> {
    let mut ms: libc::c_longlong = 0;
    // SAFETY: the pointer and length describe a live slice that the C side
    // only reads (it copies it into its own buffer); `ms` is a valid
    // out-pointer for the duration of the call.
    let status = unsafe { ferrokv_timeout_ms(arg.as_ptr(), arg.len(), &mut ms) };
    (status == 0).then_some(ms)
}

/// Why a long double addition failed.
#[derive(Debug, PartialEq, Eq)]
pub enum LdAddError {
    /// The stored value is not a float.
    BadValue,
    /// The increment is not a float.
    BadIncrement,
    /// The sum is NaN or infinite.
    NanOrInfinity,
}

/// Adds two decimal strings in C `long double` precision and formats the
/// result as Redis's INCRBYFLOAT does.
pub fn long_double_add(value: &[u8], incr: &[u8]) -> Result<Vec<u8>, LdAddError> {
    let mut out = vec![0u8; 5 * 1024 + 64];
    // SAFETY: the pointers and lengths describe live slices; the C side
    // copies the inputs into its own NUL-terminated buffers and writes at
    // most `out.len()` bytes.
    let n = unsafe {
        ferrokv_ld_add(
            value.as_ptr(),
            value.len(),
            incr.as_ptr(),
            incr.len(),
            out.as_mut_ptr(),
            out.len(),
        )
    };
    match n {
        -1 => Err(LdAddError::BadValue),
        -2 => Err(LdAddError::BadIncrement),
        n if n < 0 => Err(LdAddError::NanOrInfinity),
        n => {
            out.truncate(n as usize);
            Ok(out)
        }
    }
}

/// C's `strtoll`: leading white space, an optional sign, then digits in
/// `radix`. Returns the value (saturated on overflow), whether the whole
/// input was consumed (no digits consumes nothing, so only `""` is whole
/// then), and whether it overflowed.
pub fn strtoll(s: impl AsRef<[u8]>, radix: u32) -> (i64, bool, bool) {
    let b = s.as_ref();
    let mut i = b
        .iter()
        .take_while(|c| matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r'))
        .count();
    let negative = b.get(i) == Some(&b'-');
    if matches!(b.get(i), Some(b'-' | b'+')) {
        i += 1;
    }
    let start = i;
    let mut v: i128 = 0;
    while let Some(d) = b.get(i).and_then(|&c| (c as char).to_digit(radix)) {
        v = (v * i128::from(radix) + i128::from(d)).min(i128::from(u64::MAX));
        i += 1;
    }
    if i == start {
        return (0, b.is_empty(), false);
    }
    let v = if negative { -v } else { v };
    let clamped = v.clamp(i128::from(i64::MIN), i128::from(i64::MAX));
    (clamped as i64, i == b.len(), clamped != v)
}

/// C's `atoi` as glibc has it: `strtol` read as far as it goes (a NUL
/// ends the string), then cut to an `int`.
pub fn atoi(arg: &[u8]) -> i32 {
    strtoll(until_nul(arg), 10).0 as i32
}

/// The part of an argument that Redis's C code sees where it reads the
/// argument as a NUL-terminated string (`%s`, `strtoul`): everything
/// before the first NUL byte.
pub fn until_nul(arg: &[u8]) -> &[u8] {
    let end = arg.iter().position(|&b| b == 0).unwrap_or(arg.len());
    &arg[..end]
}

/// Redis's `strcasecmp(arg, keyword)`, as its option parsers compare: a C
/// string comparison, so the argument counts only up to its first NUL
/// (`nx\0zz` is NX).
pub fn eq_ic_c(arg: &[u8], keyword: &str) -> bool {
    eq_ic(until_nul(arg), keyword)
}

/// Case-insensitive ASCII comparison of an argument with a keyword.
pub fn eq_ic(arg: &[u8], keyword: &str) -> bool {
    arg.eq_ignore_ascii_case(keyword.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string2ll_rules() {
        assert_eq!(parse_i64(b"0"), Some(0));
        assert_eq!(parse_i64(b"-9223372036854775808"), Some(i64::MIN));
        assert_eq!(parse_i64(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(parse_i64(b"9223372036854775808"), None);
        for bad in [&b"-0"[..], b"01", b"+1", b" 1", b"1 ", b"", b"-", b"1a"] {
            assert_eq!(parse_i64(bad), None, "{:?}", bad);
        }
    }

    #[test]
    fn doubles() {
        assert_eq!(format_double(0.1), "0.10000000000000001");
        assert_eq!(format_double(3.0), "3");
        assert_eq!(format_double(f64::NEG_INFINITY), "-inf");
        assert_eq!(parse_f64(b"1e3"), Some(1000.0));
        assert_eq!(parse_f64(b"-inf"), Some(f64::NEG_INFINITY));
        assert_eq!(parse_f64(b"nan"), None);
        assert_eq!(parse_f64(b" 1"), None);
    }

    #[test]
    fn atoi_reads_as_far_as_it_goes() {
        assert_eq!(atoi(b" +12x"), 12);
        assert_eq!(atoi(b"\t-3"), -3);
        assert_eq!(atoi(b"1\x002"), 1);
        assert_eq!(atoi(b"x1"), 0);
        assert_eq!(atoi(b""), 0);
        // strtol saturates at LONG_MAX, which the cast to int cuts to -1.
        assert_eq!(atoi(b"99999999999999999999"), -1);
        assert_eq!(atoi(b"4294967297"), 1);
    }

    /// Values checked against redis-server 7.0.15 on x86-64.
    #[test]
    fn timeouts_round_like_redis() {
        let ms = |s: &str| timeout_seconds_to_ms(s.as_bytes());
        assert_eq!(ms("1"), Some(1000));
        assert_eq!(ms("0.0001"), Some(1));
        assert_eq!(ms("-0.0004"), Some(0));
        assert_eq!(ms("-0.001"), Some(0));
        assert_eq!(ms("-1e-3"), Some(0));
        assert_eq!(ms("-0.0015"), Some(-1));
        assert_eq!(ms("0x10"), Some(16000));
        assert_eq!(ms("1e309"), Some(i64::MIN));
        assert_eq!(ms("inf"), Some(i64::MIN));
        assert_eq!(ms("9223372036854775"), Some(9_223_372_036_854_775_000));
        assert_eq!(ms("nan"), None);
        assert_eq!(ms(" 1"), None);
        assert_eq!(ms("1 "), None);
        assert_eq!(ms(""), None);
        assert_eq!(ms("1e4933"), None);
        assert_eq!(ms("1\x00"), None);
    }

    #[test]
    fn long_double_matches_redis() {
        assert_eq!(long_double_add(b"10.5", b"0.1").unwrap(), b"10.6");
        assert_eq!(long_double_add(b"5.0e3", b"2.0e2").unwrap(), b"5200");
        assert_eq!(long_double_add(b"0", b"-0").unwrap(), b"0");
        assert_eq!(long_double_add(b"x", b"1"), Err(LdAddError::BadValue));
        assert_eq!(
            long_double_add(b"1", b"inf"),
            Err(LdAddError::NanOrInfinity)
        );
    }
}

/// A small, fast PRNG (xorshift64*) for RANDOMKEY and sampling. Not for
/// anything security-related.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed | 1)
    }

    pub fn from_time() -> Rng {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0x9E37_79B9_7F4A_7C15);
        Rng::new(nanos ^ (std::process::id() as u64).rotate_left(32))
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A uniform number in `0..n` (n > 0), without modulo bias.
    pub fn below(&mut self, n: u64) -> u64 {
        debug_assert!(n > 0);
        ((self.next_u64() as u128 * n as u128) >> 64) as u64
    }
}

/// Quotes bytes the way Redis's `sdscatrepr` does (MONITOR, CLIENT LIST).
pub fn repr(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() + 2);
    s.push('"');
    for &b in bytes {
        match b {
            b'\\' => s.push_str("\\\\"),
            b'"' => s.push_str("\\\""),
            b'\n' => s.push_str("\\n"),
            b'\r' => s.push_str("\\r"),
            b'\t' => s.push_str("\\t"),
            7 => s.push_str("\\a"),
            8 => s.push_str("\\b"),
            b if b.is_ascii_graphic() || b == b' ' => s.push(b as char),
            b => s.push_str(&format!("\\x{b:02x}")),
        }
    }
    s.push('"');
    s
}
