//! The incremental request parser: RESP multibulk and inline commands.
//!
//! The parser's state lives in the connection ([`Parser`]). Each call to
//! [`Parser::parse`] continues from where the previous one stopped, so a
//! request that arrives one byte at a time is scanned once, never from
//! offset 0 again. Arguments are handed out as [`Bytes`] slices of the read
//! buffer: a complete request is split off the buffer and frozen, and each
//! argument is a view into it, with no copy.
//!
//! Lengths claimed by the client are checked against Redis's limits and
//! never used to size an allocation: the buffer grows only as bytes arrive.

use bytes::{Bytes, BytesMut};

/// Redis's `proto-max-bulk-len` default: 512 MB.
pub const DEFAULT_PROTO_MAX_BULK_LEN_BYTES: usize = 512 * 1024 * 1024;
/// The largest multibulk count accepted: C's `INT_MAX`, as in Redis. The
/// count allocates nothing; arguments are kept as they arrive.
pub const MAX_MULTIBULK_COUNT: i64 = i32::MAX as i64;
/// Argument spans kept for the next request hold at most this many
/// slots; more are freed once the request is parsed.
const MAX_KEPT_SPANS: usize = 1024;
/// Before AUTH, where a password is required, a request may have at most
/// this many arguments...
pub const UNAUTHENTICATED_MAX_MULTIBULK_COUNT: i64 = 10;
/// ...each of at most this many bytes (Redis's limits).
pub const UNAUTHENTICATED_MAX_BULK_LEN_BYTES: i64 = 16384;
/// Redis's `PROTO_MBULK_BIG_ARG`: an argument this long is read straight
/// into memory of its own, in reads as large as its bytes (see
/// [`Parser::big_body_pending`]).
pub const BIG_ARG_BYTES: usize = 32 * 1024;
/// Redis's `PROTO_INLINE_MAX_SIZE`: an inline line, or a `*`/`$` header,
/// must end within this many bytes.
pub const INLINE_MAX_SIZE_BYTES: usize = 64 * 1024;

/// Whether a client must still authenticate, which caps what it may send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    Required,
    Done,
}

/// A protocol error: the client gets `-ERR Protocol error: <msg>` and the
/// connection closes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProtocolError {
    TooBigInline,
    TooBigMbulkCount,
    TooBigBulkCount,
    InvalidMultibulkLength,
    InvalidBulkLength,
    /// More than 10 arguments before AUTH, where a password is required.
    UnauthenticatedMultibulkLength,
    /// An argument over 16 KB before AUTH, where a password is required.
    UnauthenticatedBulkLength,
    ExpectedDollar(u8),
    UnbalancedQuotes,
}

impl ProtocolError {
    /// The error reply's text, `ERR` code included. Bytes, because Redis
    /// quotes the unexpected byte as it came (`%c`), not as UTF-8.
    pub fn message(&self) -> Vec<u8> {
        let text: &[u8] = match self {
            ProtocolError::TooBigInline => b"too big inline request",
            ProtocolError::TooBigMbulkCount => b"too big mbulk count string",
            ProtocolError::TooBigBulkCount => b"too big bulk count string",
            ProtocolError::InvalidMultibulkLength => b"invalid multibulk length",
            ProtocolError::InvalidBulkLength => b"invalid bulk length",
            ProtocolError::UnauthenticatedMultibulkLength => b"unauthenticated multibulk length",
            ProtocolError::UnauthenticatedBulkLength => b"unauthenticated bulk length",
            ProtocolError::ExpectedDollar(c) => {
                return [&b"ERR Protocol error: expected '$', got '"[..], &[*c], b"'"].concat();
            }
            ProtocolError::UnbalancedQuotes => b"unbalanced quotes in request",
        };
        [&b"ERR Protocol error: "[..], text].concat()
    }
}

impl std::fmt::Display for ProtocolError {
    /// The message without its `ERR` code, for logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let message = self.message();
        f.write_str(&String::from_utf8_lossy(
            message.strip_prefix(b"ERR ").unwrap_or(&message),
        ))
    }
}

/// Where the parser is inside the current request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Between requests: the next byte decides multibulk or inline.
    Idle,
    /// Inside an inline request; `pos` is how far the newline search got.
    Inline,
    /// Inside a multibulk request, waiting for a `$len` header.
    BulkHeader { remaining: usize },
    /// Waiting for `len` bytes of payload plus CRLF.
    BulkBody { remaining: usize, len: usize },
    /// Every argument has been split off (the last was a big body read on
    /// its own); the request is ready.
    Complete,
}

/// Per-connection parser state. `pos` is how far into the read buffer the
/// current request has been scanned; `spans` are the argument ranges found
/// so far, relative to the buffer's start.
#[derive(Debug)]
pub struct Parser {
    state: State,
    pos: usize,
    spans: Vec<(usize, usize)>,
    max_bulk_len: usize,
    /// Whether the client must still authenticate (Redis's `authRequired`),
    /// which caps argument counts and sizes.
    auth: Auth,
    /// For inline requests only, the argument bytes after unquoting; they may
    /// differ from the wire bytes, so they are collected here.
    inline_args: Vec<Vec<u8>>,
    /// Arguments of the current request already split off the buffer: a
    /// big argument ends a piece of the request of its own (see
    /// [`Parser::parse`] and [`Parser::big_body_arrived`]).
    ready: Vec<Bytes>,
}

/// The outcome of one parse step.
#[derive(Debug)]
pub enum Parsed {
    /// A complete request; the arguments are appended to the caller's vector.
    /// A request with no arguments (an empty line, `*0`) is skipped silently.
    Command,
    /// More bytes are needed.
    Incomplete,
}

impl Default for Parser {
    fn default() -> Self {
        Parser::new(DEFAULT_PROTO_MAX_BULK_LEN_BYTES)
    }
}

impl Parser {
    pub fn new(max_bulk_len: usize) -> Parser {
        Parser {
            state: State::Idle,
            pos: 0,
            spans: Vec::new(),
            max_bulk_len,
            auth: Auth::Done,
            inline_args: Vec::new(),
            ready: Vec::new(),
        }
    }

    pub fn set_max_bulk_len(&mut self, max_bulk_len: usize) {
        self.max_bulk_len = max_bulk_len;
    }

    /// Whether the client must still authenticate; the caller keeps this
    /// current (it changes with AUTH and with `requirepass`).
    pub fn set_auth(&mut self, auth: Auth) {
        self.auth = auth;
    }

    /// While the parser waits for the body of a big argument
    /// (`BIG_ARG_BYTES` or more) that the read buffer, holding `buffered`
    /// bytes, does not complete: where the body starts in the buffer and
    /// its size with the CRLF after it. The reader then moves the body out
    /// of the buffer and reads the rest straight into memory of its own
    /// (see `bigarg`), handing it back through
    /// [`Parser::big_body_arrived`].
    pub fn big_body_pending(&self, buffered: usize) -> Option<(usize, usize)> {
        match self.state {
            State::BulkBody { len, .. }
                if len >= BIG_ARG_BYTES && buffered < self.pos + len + 2 =>
            {
                Some((self.pos, len + 2))
            }
            _ => None,
        }
    }

    /// The body announced by [`Parser::big_body_pending`] has arrived
    /// (payload only); `buf` holds the request up to where it started. The
    /// arguments before it are split off with their head, and parsing goes
    /// on after it.
    pub fn big_body_arrived(&mut self, buf: &mut BytesMut, body: Bytes) {
        let State::BulkBody { remaining, .. } = self.state else {
            debug_assert!(false, "no big body was pending");
            return;
        };
        self.split_off_ready(buf);
        self.ready.push(body);
        self.state = if remaining > 1 {
            State::BulkHeader {
                remaining: remaining - 1,
            }
        } else {
            State::Complete
        };
    }

    /// Moves the arguments found so far to `ready`, splitting the request
    /// so far off `buf`. A big one among them (one that arrived inside the
    /// buffer, the reader having had no chance to read it on its own) is
    /// copied out, so that storing it keeps no neighbours alive (see
    /// `Str::Big`).
    fn split_off_ready(&mut self, buf: &mut BytesMut) {
        let piece = buf.split_to(self.pos.min(buf.len())).freeze();
        for (s, e) in self.spans.drain(..) {
            let arg = piece.slice(s..e);
            self.ready.push(if e - s >= BIG_ARG_BYTES {
                Bytes::copy_from_slice(&arg)
            } else {
                arg
            });
        }
        self.pos = 0;
    }

    /// What Redis would already have taken off its query buffer of a
    /// multibulk request still being read: the bytes of its complete
    /// header lines and arguments, and the arguments' own bytes (CLIENT
    /// LIST shows the rest as `qbuf`, the arguments as `argv-mem`). An
    /// inline request stays in the buffer until its newline, as in Redis.
    pub fn partial_request(&self) -> (usize, usize) {
        match self.state {
            State::BulkHeader { .. } | State::BulkBody { .. } | State::Complete => {
                let args = self.spans.iter().map(|(s, e)| e - s).sum::<usize>()
                    + self.ready.iter().map(Bytes::len).sum::<usize>();
                (self.pos, args)
            }
            State::Idle | State::Inline => (0, 0),
        }
    }

    /// True while a request has been started but not finished.
    pub fn in_progress(&self) -> bool {
        self.state != State::Idle || self.pos != 0
    }

    /// Parses one request from `buf`. On `Parsed::Command` the request's
    /// bytes have been split off `buf` and its arguments pushed onto `args`
    /// (which the caller clears between requests).
    pub fn parse(
        &mut self,
        buf: &mut BytesMut,
        args: &mut Vec<Bytes>,
    ) -> Result<Parsed, ProtocolError> {
        loop {
            match self.state {
                State::Idle => {
                    if self.pos >= buf.len() {
                        return Ok(Parsed::Incomplete);
                    }
                    if buf[self.pos] == b'*' {
                        let Some((count, next)) = self.header_line(buf, true)? else {
                            return Ok(Parsed::Incomplete);
                        };
                        if count > MAX_MULTIBULK_COUNT {
                            return Err(ProtocolError::InvalidMultibulkLength);
                        }
                        if count > UNAUTHENTICATED_MAX_MULTIBULK_COUNT
                            && self.auth == Auth::Required
                        {
                            return Err(ProtocolError::UnauthenticatedMultibulkLength);
                        }
                        self.pos = next;
                        if count <= 0 {
                            // `*0` and `*-1` are empty requests: skipped.
                            self.finish(buf);
                            continue;
                        }
                        self.spans.clear();
                        self.state = State::BulkHeader {
                            remaining: count as usize,
                        };
                    } else {
                        self.state = State::Inline;
                    }
                }
                State::Complete => {
                    self.state = State::Idle;
                    args.append(&mut self.ready);
                    return Ok(Parsed::Command);
                }
                State::Inline => {
                    let before = args.len();
                    match self.parse_inline(buf, args)? {
                        Parsed::Command if args.len() == before => continue,
                        other => return Ok(other),
                    }
                }
                State::BulkHeader { remaining } => {
                    // Like Redis, the `$` is checked once the whole line
                    // is here, and the too-big check comes first.
                    let Some((len, next)) = self.header_line(buf, false)? else {
                        return Ok(Parsed::Incomplete);
                    };
                    if len < 0 || len as u64 > self.max_bulk_len as u64 {
                        return Err(ProtocolError::InvalidBulkLength);
                    }
                    if len > UNAUTHENTICATED_MAX_BULK_LEN_BYTES && self.auth == Auth::Required {
                        return Err(ProtocolError::UnauthenticatedBulkLength);
                    }
                    self.pos = next;
                    self.state = State::BulkBody {
                        remaining,
                        len: len as usize,
                    };
                }
                State::BulkBody { remaining, len } => {
                    if buf.len() < self.pos + len + 2 {
                        return Ok(Parsed::Incomplete);
                    }
                    // Like Redis, the two bytes after the payload are
                    // taken to be CRLF without checking them.
                    self.spans.push((self.pos, self.pos + len));
                    self.pos += len + 2;
                    // A big argument ends a piece of the request of its
                    // own, split off with what came before it, keeping the
                    // arguments in order.
                    if len >= BIG_ARG_BYTES {
                        self.split_off_ready(buf);
                    }
                    if remaining > 1 {
                        self.state = State::BulkHeader {
                            remaining: remaining - 1,
                        };
                    } else {
                        let frozen = self.finish(buf);
                        args.append(&mut self.ready);
                        args.extend(self.spans.iter().map(|&(s, e)| frozen.slice(s..e)));
                        self.spans.clear();
                        // A request of millions of arguments leaves no
                        // vector of that size behind.
                        if self.spans.capacity() > MAX_KEPT_SPANS {
                            self.spans = Vec::new();
                        }
                        return Ok(Parsed::Command);
                    }
                }
            }
        }
    }

    /// Splits the finished request off the buffer and resets for the next.
    fn finish(&mut self, buf: &mut BytesMut) -> Bytes {
        let frozen = buf.split_to(self.pos).freeze();
        self.pos = 0;
        self.state = State::Idle;
        frozen
    }

    /// Reads a `*N\r\n` or `$N\r\n` line starting at `self.pos`. Returns the
    /// number and the offset just past the line, or `None` if the line is
    /// not complete yet.
    fn header_line(
        &self,
        buf: &BytesMut,
        multibulk: bool,
    ) -> Result<Option<(i64, usize)>, ProtocolError> {
        let Some(end) = find_cr(&buf[self.pos..]).map(|cr| self.pos + cr) else {
            if buf.len() - self.pos > INLINE_MAX_SIZE_BYTES {
                return Err(if multibulk {
                    ProtocolError::TooBigMbulkCount
                } else {
                    ProtocolError::TooBigBulkCount
                });
            }
            return Ok(None);
        };
        // Redis requires the CR to be followed by a byte before it acts.
        if end + 1 >= buf.len() {
            return Ok(None);
        }
        if !multibulk && buf[self.pos] != b'$' {
            return Err(ProtocolError::ExpectedDollar(buf[self.pos]));
        }
        let start = (self.pos + 1).min(end);
        let value = crate::util::parse_i64(&buf[start..end]);
        match value {
            Some(v) => Ok(Some((v, end + 2))),
            None if multibulk => Err(ProtocolError::InvalidMultibulkLength),
            None => Err(ProtocolError::InvalidBulkLength),
        }
    }

    fn parse_inline(
        &mut self,
        buf: &mut BytesMut,
        args: &mut Vec<Bytes>,
    ) -> Result<Parsed, ProtocolError> {
        // Redis looks for the newline with `strchr`, which stops at a NUL:
        // a NUL before the newline leaves the line unfinished for good.
        let found = buf[self.pos..].iter().position(|&b| b == b'\n' || b == 0);
        let Some(nl) = found.filter(|&i| buf[self.pos + i] == b'\n') else {
            if buf.len() > INLINE_MAX_SIZE_BYTES {
                return Err(ProtocolError::TooBigInline);
            }
            // Remember the scan position so the next call resumes there
            // (at the NUL, if one stopped it).
            self.pos = found.map_or(buf.len(), |i| self.pos + i);
            return Ok(Parsed::Incomplete);
        };
        let line_end = self.pos + nl;
        let mut line = &buf[..line_end];
        if line.last() == Some(&b'\r') {
            line = &line[..line.len() - 1];
        }
        self.inline_args.clear();
        if !split_inline_args(line, &mut self.inline_args) {
            return Err(ProtocolError::UnbalancedQuotes);
        }
        self.pos = line_end + 1;
        self.finish(buf);
        args.extend(self.inline_args.drain(..).map(Bytes::from));
        Ok(Parsed::Command)
    }
}

/// The first CR, as Redis's `strchr` finds it: one after a NUL is not
/// found.
fn find_cr(hay: &[u8]) -> Option<usize> {
    hay.iter()
        .position(|&b| b == b'\r' || b == 0)
        .filter(|&i| hay[i] == b'\r')
}

fn hex_digit(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Splits an inline request into arguments the way Redis's `sdssplitargs`
/// does: whitespace separates, double quotes allow `\n`-style and `\xHH`
/// escapes, single quotes allow only `\'`. A closing quote must be followed
/// by whitespace or the end. Returns false on unbalanced quotes.
///
/// `sdssplitargs` reads a C string, so nothing after a NUL exists for it;
/// and "whitespace" is C's `isspace`, vertical tab and form feed included,
/// except that an unquoted argument ends only at a space, tab, CR or LF.
pub fn split_inline_args(line: &[u8], out: &mut Vec<Vec<u8>>) -> bool {
    let line = crate::util::until_nul(line);
    let is_space = |c: u8| matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c);
    let mut i = 0;
    let n = line.len();
    loop {
        while i < n && is_space(line[i]) {
            i += 1;
        }
        if i >= n {
            return true;
        }
        let mut cur = Vec::new();
        let mut in_dq = false;
        let mut in_sq = false;
        loop {
            if in_dq {
                if i >= n {
                    return false;
                }
                let c = line[i];
                if c == b'\\'
                    && i + 3 < n
                    && line[i + 1] == b'x'
                    && hex_digit(line[i + 2]).is_some()
                    && hex_digit(line[i + 3]).is_some()
                {
                    let hi = hex_digit(line[i + 2]).unwrap_or(0);
                    let lo = hex_digit(line[i + 3]).unwrap_or(0);
                    cur.push(hi * 16 + lo);
                    i += 3;
                } else if c == b'\\' && i + 1 < n {
                    i += 1;
                    cur.push(match line[i] {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'b' => 8,
                        b'a' => 7,
                        other => other,
                    });
                } else if c == b'"' {
                    if i + 1 < n && !is_space(line[i + 1]) {
                        return false;
                    }
                    i += 1;
                    break;
                } else {
                    cur.push(c);
                }
            } else if in_sq {
                if i >= n {
                    return false;
                }
                let c = line[i];
                if c == b'\\' && i + 1 < n && line[i + 1] == b'\'' {
                    i += 1;
                    cur.push(b'\'');
                } else if c == b'\'' {
                    if i + 1 < n && !is_space(line[i + 1]) {
                        return false;
                    }
                    i += 1;
                    break;
                } else {
                    cur.push(c);
                }
            } else {
                if i >= n {
                    break;
                }
                match line[i] {
                    b' ' | b'\n' | b'\r' | b'\t' => {
                        i += 1;
                        break;
                    }
                    b'"' => in_dq = true,
                    b'\'' => in_sq = true,
                    c => cur.push(c),
                }
            }
            i += 1;
        }
        out.push(cur);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_all(input: &[u8]) -> Result<Vec<Vec<Vec<u8>>>, ProtocolError> {
        let mut p = Parser::default();
        let mut buf = BytesMut::from(input);
        let mut out = Vec::new();
        loop {
            let mut args = Vec::new();
            match p.parse(&mut buf, &mut args)? {
                Parsed::Command => out.push(args.iter().map(|a| a.to_vec()).collect()),
                Parsed::Incomplete => return Ok(out),
            }
        }
    }

    #[test]
    fn big_arguments_keep_their_neighbours_in_order() {
        let big = vec![b'z'; BIG_ARG_BYTES + 3];
        let mut input = b"*4\r\n$3\r\nSET\r\n$1\r\nk\r\n".to_vec();
        input.extend_from_slice(format!("${}\r\n", big.len()).as_bytes());
        input.extend_from_slice(&big);
        input.extend_from_slice(b"\r\n$2\r\nXX\r\n*1\r\n$4\r\nPING\r\n");
        let want = vec![
            vec![b"SET".to_vec(), b"k".to_vec(), big.clone(), b"XX".to_vec()],
            vec![b"PING".to_vec()],
        ];
        // Whole, and a byte at a time (as a slow client sends it).
        assert_eq!(parse_all(&input).unwrap(), want);
        let mut p = Parser::default();
        let mut buf = BytesMut::new();
        let mut got: Vec<Vec<Vec<u8>>> = Vec::new();
        for &b in &input {
            buf.extend_from_slice(&[b]);
            loop {
                let mut args = Vec::new();
                match p.parse(&mut buf, &mut args).unwrap() {
                    Parsed::Command => got.push(args.iter().map(|a| a.to_vec()).collect()),
                    Parsed::Incomplete => break,
                }
            }
        }
        assert_eq!(got, want);
    }

    #[test]
    fn a_big_body_read_apart_rejoins_its_request() {
        let mut p = Parser::default();
        let mut buf = BytesMut::from(&b"*4\r\n$3\r\nSET\r\n$1\r\nk\r\n$40000\r\nzzz"[..]);
        let mut args = Vec::new();
        assert!(matches!(
            p.parse(&mut buf, &mut args),
            Ok(Parsed::Incomplete)
        ));
        let (start, total) = p.big_body_pending(buf.len()).expect("a big body pending");
        assert_eq!((&buf[start..], total), (&b"zzz"[..], 40_002));
        buf.truncate(start);
        p.big_body_arrived(&mut buf, Bytes::from(vec![b'z'; 40_000]));
        assert_eq!(p.big_body_pending(buf.len()), None);
        buf.extend_from_slice(b"$2\r\nXX\r\n*1\r\n$4\r\nPING\r\n");
        assert!(matches!(p.parse(&mut buf, &mut args), Ok(Parsed::Command)));
        let got: Vec<Vec<u8>> = args.iter().map(|a| a.to_vec()).collect();
        assert_eq!(
            got,
            [
                b"SET".to_vec(),
                b"k".to_vec(),
                vec![b'z'; 40_000],
                b"XX".to_vec()
            ]
        );
        // A body that ends its request completes it.
        let mut args = Vec::new();
        assert!(matches!(p.parse(&mut buf, &mut args), Ok(Parsed::Command)));
        assert_eq!(args, [Bytes::from_static(b"PING")]);
        buf.extend_from_slice(b"*2\r\n$4\r\nECHO\r\n$32768\r\n");
        let mut args = Vec::new();
        assert!(matches!(
            p.parse(&mut buf, &mut args),
            Ok(Parsed::Incomplete)
        ));
        let (start, _) = p.big_body_pending(buf.len()).expect("a big body pending");
        buf.truncate(start);
        p.big_body_arrived(&mut buf, Bytes::from(vec![b'e'; 32_768]));
        assert!(matches!(p.parse(&mut buf, &mut args), Ok(Parsed::Command)));
        assert_eq!(args.len(), 2);
        assert_eq!(args[1].len(), 32_768);
        assert!(buf.is_empty() && !p.in_progress());
    }

    #[test]
    fn multibulk_pipelined() {
        let cmds = parse_all(b"*1\r\n$4\r\nPING\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n").unwrap();
        assert_eq!(
            cmds,
            vec![vec![b"PING".to_vec()], vec![b"GET".to_vec(), b"k".to_vec()]]
        );
    }

    #[test]
    fn byte_at_a_time_resumes_without_rescanning() {
        let input = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nhello\r\n";
        let mut p = Parser::default();
        let mut buf = BytesMut::new();
        let mut args = Vec::new();
        for (i, b) in input.iter().enumerate() {
            buf.extend_from_slice(&[*b]);
            match p.parse(&mut buf, &mut args).unwrap() {
                Parsed::Command => assert_eq!(i, input.len() - 1),
                Parsed::Incomplete => assert!(i < input.len() - 1),
            }
        }
        assert_eq!(args.len(), 3);
        assert_eq!(&args[2][..], b"hello");
        assert!(buf.is_empty());
    }

    #[test]
    fn inline_with_quotes() {
        let cmds = parse_all(b"set \"a b\" 'c\\'d' \"\\x41\\n\"\r\nPING\n").unwrap();
        assert_eq!(
            cmds,
            vec![
                vec![
                    b"set".to_vec(),
                    b"a b".to_vec(),
                    b"c'd".to_vec(),
                    b"A\n".to_vec()
                ],
                vec![b"PING".to_vec()]
            ]
        );
    }

    #[test]
    fn empty_requests_skipped() {
        assert_eq!(parse_all(b"\r\n*0\r\n*-1\r\nPING\r\n").unwrap().len(), 1);
    }

    #[test]
    fn limits() {
        assert_eq!(
            parse_all(b"*99999999999\r\n"),
            Err(ProtocolError::InvalidMultibulkLength)
        );
        assert_eq!(
            parse_all(b"*2147483648\r\n"),
            Err(ProtocolError::InvalidMultibulkLength)
        );
        // Up to INT_MAX arguments may be announced; nothing is allocated
        // for them until they come.
        assert_eq!(parse_all(b"*2147483647\r\n"), Ok(vec![]));
        assert_eq!(
            parse_all(b"*1\r\n$4000000000\r\n"),
            Err(ProtocolError::InvalidBulkLength)
        );
        assert_eq!(
            parse_all(b"*abc\r\n"),
            Err(ProtocolError::InvalidMultibulkLength)
        );
        assert_eq!(
            parse_all(b"*1\r\nfoo\r\n"),
            Err(ProtocolError::ExpectedDollar(b'f'))
        );
        assert_eq!(
            parse_all(b"set \"a\r\n"),
            Err(ProtocolError::UnbalancedQuotes)
        );
        let long = vec![b'a'; INLINE_MAX_SIZE_BYTES + 1];
        assert_eq!(parse_all(&long), Err(ProtocolError::TooBigInline));
        let mut mb = b"*".to_vec();
        mb.extend(std::iter::repeat_n(b'1', INLINE_MAX_SIZE_BYTES + 1));
        assert_eq!(parse_all(&mb), Err(ProtocolError::TooBigMbulkCount));
    }

    /// Redis finds line ends with `strchr`, which stops at a NUL, and
    /// checks for `$` only once the line is complete.
    #[test]
    fn lines_end_where_redis_finds_them() {
        assert_eq!(parse_all(b"PING\0\r\nPING\r\n"), Ok(vec![]));
        assert_eq!(parse_all(b"*1\0\r\n"), Ok(vec![]));
        assert_eq!(parse_all(b"*1\r\n$1\0\r\na\r\n"), Ok(vec![]));
        assert_eq!(parse_all(b"*1\r\nx"), Ok(vec![]));
        let mut long = b"*1\r\n".to_vec();
        long.extend(std::iter::repeat_n(b'x', INLINE_MAX_SIZE_BYTES + 1));
        assert_eq!(parse_all(&long), Err(ProtocolError::TooBigBulkCount));
        let mut nul_line = b"PING\0".to_vec();
        nul_line.extend(std::iter::repeat_n(b'\n', INLINE_MAX_SIZE_BYTES));
        assert_eq!(parse_all(&nul_line), Err(ProtocolError::TooBigInline));
        assert_eq!(
            parse_all(b"*1\r\n\r\n"),
            Err(ProtocolError::ExpectedDollar(b'\r'))
        );
        assert_eq!(
            ProtocolError::ExpectedDollar(0xff).message(),
            b"ERR Protocol error: expected '$', got '\xff'"
        );
    }

    #[test]
    fn inline_whitespace_is_c_isspace() {
        // Checked against redis-server: a vertical tab before an argument
        // or after a closing quote separates, but does not end an unquoted
        // argument.
        assert_eq!(
            parse_all(b"\x0bPING\x0b\r\n\"PING\"\x0b\r\n"),
            Ok(vec![vec![b"PING\x0b".to_vec()], vec![b"PING".to_vec()]])
        );
        let mut args = Vec::new();
        assert!(split_inline_args(b"a \0b", &mut args));
        assert_eq!(args, vec![b"a".to_vec()]);
    }

    #[test]
    fn unauthenticated_requests_are_capped() {
        let parse = |input: &[u8]| {
            let mut p = Parser::default();
            p.set_auth(Auth::Required);
            let mut buf = BytesMut::from(input);
            let mut args = Vec::new();
            p.parse(&mut buf, &mut args).map(|_| args.len())
        };
        assert_eq!(
            parse(b"*11\r\n"),
            Err(ProtocolError::UnauthenticatedMultibulkLength)
        );
        assert_eq!(
            parse(b"*1\r\n$16385\r\n"),
            Err(ProtocolError::UnauthenticatedBulkLength)
        );
        assert_eq!(parse(b"*1\r\n$4\r\nPING\r\n"), Ok(1));
    }

    #[test]
    fn claimed_length_does_not_allocate() {
        let mut p = Parser::default();
        let mut buf = BytesMut::from(&b"*1\r\n$500000000\r\nab"[..]);
        let cap = buf.capacity();
        let mut args = Vec::new();
        assert!(matches!(
            p.parse(&mut buf, &mut args),
            Ok(Parsed::Incomplete)
        ));
        assert_eq!(buf.capacity(), cap);
    }
}
