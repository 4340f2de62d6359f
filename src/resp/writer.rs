//! The reply writer: typed helpers that append RESP2 or RESP3 straight into
//! a client's output buffer, with no intermediate reply tree.
//!
//! Every reply goes through [`Reply`]. The protocol version is a property of
//! the writer, so a handler writes `map(n)` or `null()` once and the bytes
//! come out right for both RESP2 and RESP3.

use std::collections::VecDeque;

use bytes::{Buf, BufMut, Bytes, BytesMut};

/// The protocol a client speaks, chosen by `HELLO`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Protocol {
    #[default]
    Resp2,
    Resp3,
}

impl Protocol {
    pub fn number(self) -> i64 {
        match self {
            Protocol::Resp2 => 2,
            Protocol::Resp3 => 3,
        }
    }
}

/// Output a client did not ask for just now (published messages, MONITOR
/// lines) is queued in chunks of about this size: it piles up when a client
/// stops reading, and one buffer grown by doubling would hold up to twice
/// the pending bytes and copy them at every step.
const UNSOLICITED_CHUNK_BYTES: usize = 64 * 1024;

/// A client's output buffer together with its protocol version.
///
/// Replies go into `buf`. Unsolicited output may first have filled
/// `queued` chunks, which are written before `buf`. A command's reply may
/// be cut short at `limit` bytes (the client's hard output-buffer limit):
/// the buffer is then dropped and `overflowed` set, and the loop closes the
/// client, as Redis does once a client passes its limit.
#[derive(Debug)]
pub struct Reply {
    pub buf: BytesMut,
    pub proto: Protocol,
    queued: VecDeque<Bytes>,
    queued_len: usize,
    pub limit: usize,
    pub overflowed: bool,
}

impl Default for Reply {
    fn default() -> Reply {
        Reply::new(Protocol::Resp2)
    }
}

impl Reply {
    pub fn new(proto: Protocol) -> Reply {
        Reply {
            buf: BytesMut::new(),
            proto,
            queued: VecDeque::new(),
            queued_len: 0,
            limit: usize::MAX,
            overflowed: false,
        }
    }

    pub fn is_resp3(&self) -> bool {
        self.proto == Protocol::Resp3
    }

    /// The bytes in `buf`: where the reply now being written started, for
    /// a caller that may take it back (CLIENT REPLY OFF).
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    /// Every byte not yet written to the socket.
    pub fn pending(&self) -> usize {
        self.queued_len + self.buf.len()
    }

    pub fn is_empty(&self) -> bool {
        self.pending() == 0
    }

    /// The memory held for pending output.
    pub fn capacity(&self) -> usize {
        self.queued_len + self.buf.capacity()
    }

    /// Appends output the client did not ask for now (see
    /// `UNSOLICITED_CHUNK_BYTES`).
    pub fn unsolicited(&mut self, bytes: &[u8]) {
        if !self.buf.is_empty() && self.buf.len() + bytes.len() > UNSOLICITED_CHUNK_BYTES {
            let full = std::mem::replace(
                &mut self.buf,
                BytesMut::with_capacity(UNSOLICITED_CHUNK_BYTES.max(bytes.len())),
            );
            self.queued_len += full.len();
            self.queued.push_back(full.freeze());
        }
        self.buf.extend_from_slice(bytes);
    }

    /// The next bytes to write: the oldest queued chunk, else `buf`.
    pub fn front(&self) -> &[u8] {
        self.queued.front().map_or(&self.buf[..], |c| &c[..])
    }

    /// Drops `n` written bytes from the front.
    pub fn consume(&mut self, n: usize) {
        match self.queued.front_mut() {
            Some(chunk) => {
                chunk.advance(n);
                self.queued_len -= n;
                if chunk.is_empty() {
                    self.queued.pop_front();
                }
            }
            None => self.buf.advance(n),
        }
    }

    /// Past the limit: drop what is pending and take no more (the client
    /// is about to be closed).
    #[cold]
    fn overflow(&mut self) {
        self.overflowed = true;
        // Every later element overflows again at once.
        self.limit = 0;
        self.buf = BytesMut::new();
        self.queued.clear();
        self.queued_len = 0;
    }

    /// Appends bytes that are already RESP.
    pub fn raw(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    fn header(&mut self, prefix: u8, n: i64) {
        // Every element of an aggregate starts with a header, so a huge
        // reply is stopped here, at most one element past the limit.
        if self.buf.len() > self.limit {
            self.overflow();
        }
        let mut tmp = [0u8; 24];
        let digits = format_i64(n, &mut tmp);
        self.buf.reserve(digits.len() + 3);
        self.buf.put_u8(prefix);
        self.buf.extend_from_slice(digits);
        self.buf.extend_from_slice(b"\r\n");
    }

    pub fn ok(&mut self) {
        self.raw(b"+OK\r\n");
    }

    /// A simple string. The caller guarantees it has no CR or LF.
    pub fn simple(&mut self, s: &str) {
        self.buf.reserve(s.len() + 3);
        self.buf.put_u8(b'+');
        self.buf.extend_from_slice(s.as_bytes());
        self.buf.extend_from_slice(b"\r\n");
    }

    /// An error reply. `msg` carries its own code (`ERR ...`,
    /// `WRONGTYPE ...`); CR and LF are replaced by spaces so the reply stays
    /// one line, as Redis does.
    pub fn error(&mut self, msg: &str) {
        self.error_bytes(msg.as_bytes());
    }

    /// An error reply from raw bytes (it may quote binary arguments).
    pub fn error_bytes(&mut self, msg: &[u8]) {
        self.buf.reserve(msg.len() + 3);
        self.buf.put_u8(b'-');
        for &b in msg {
            self.buf
                .put_u8(if b == b'\r' || b == b'\n' { b' ' } else { b });
        }
        self.buf.extend_from_slice(b"\r\n");
    }

    pub fn int(&mut self, n: i64) {
        self.header(b':', n);
    }

    pub fn bulk(&mut self, data: &[u8]) {
        self.header(b'$', data.len() as i64);
        self.buf.extend_from_slice(data);
        self.buf.extend_from_slice(b"\r\n");
    }

    /// A bulk string holding the decimal form of `n`.
    pub fn bulk_int(&mut self, n: i64) {
        let mut tmp = [0u8; 24];
        let digits = format_i64(n, &mut tmp);
        self.header(b'$', digits.len() as i64);
        self.buf.extend_from_slice(digits);
        self.buf.extend_from_slice(b"\r\n");
    }

    /// The null bulk string (`$-1` in RESP2, `_` in RESP3).
    pub fn null(&mut self) {
        match self.proto {
            Protocol::Resp2 => self.raw(b"$-1\r\n"),
            Protocol::Resp3 => self.raw(b"_\r\n"),
        }
    }

    /// The null array (`*-1` in RESP2, `_` in RESP3).
    pub fn null_array(&mut self) {
        match self.proto {
            Protocol::Resp2 => self.raw(b"*-1\r\n"),
            Protocol::Resp3 => self.raw(b"_\r\n"),
        }
    }

    pub fn array(&mut self, n: usize) {
        self.header(b'*', n as i64);
    }

    /// A map of `n` pairs: a flat array of 2n elements in RESP2.
    pub fn map(&mut self, n: usize) {
        match self.proto {
            Protocol::Resp2 => self.header(b'*', 2 * n as i64),
            Protocol::Resp3 => self.header(b'%', n as i64),
        }
    }

    /// A set: an array in RESP2.
    pub fn set(&mut self, n: usize) {
        match self.proto {
            Protocol::Resp2 => self.header(b'*', n as i64),
            Protocol::Resp3 => self.header(b'~', n as i64),
        }
    }

    /// An out-of-band push message: an array in RESP2.
    pub fn push(&mut self, n: usize) {
        match self.proto {
            Protocol::Resp2 => self.header(b'*', n as i64),
            Protocol::Resp3 => self.header(b'>', n as i64),
        }
    }

    /// A double: a bulk string in RESP2, `,` in RESP3, formatted as Redis
    /// formats doubles (`%.17g`, with `inf`/`-inf`).
    pub fn double(&mut self, d: f64) {
        let text = crate::util::format_double(d);
        match self.proto {
            Protocol::Resp2 => self.bulk(text.as_bytes()),
            Protocol::Resp3 => {
                self.buf.put_u8(b',');
                self.buf.extend_from_slice(text.as_bytes());
                self.buf.extend_from_slice(b"\r\n");
            }
        }
    }

    /// A boolean: `:1`/`:0` in RESP2, `#t`/`#f` in RESP3.
    pub fn boolean(&mut self, b: bool) {
        match (self.proto, b) {
            (Protocol::Resp2, true) => self.raw(b":1\r\n"),
            (Protocol::Resp2, false) => self.raw(b":0\r\n"),
            (Protocol::Resp3, true) => self.raw(b"#t\r\n"),
            (Protocol::Resp3, false) => self.raw(b"#f\r\n"),
        }
    }

    /// A verbatim string with a three-letter format (`txt`): a bulk string
    /// in RESP2.
    pub fn verbatim(&mut self, format: &str, data: &[u8]) {
        match self.proto {
            Protocol::Resp2 => self.bulk(data),
            Protocol::Resp3 => {
                self.header(b'=', (data.len() + 4) as i64);
                self.buf.extend_from_slice(format.as_bytes());
                self.buf.put_u8(b':');
                self.buf.extend_from_slice(data);
                self.buf.extend_from_slice(b"\r\n");
            }
        }
    }

    /// An array of bulk strings.
    pub fn bulk_array<I, T>(&mut self, items: I)
    where
        I: ExactSizeIterator<Item = T>,
        T: AsRef<[u8]>,
    {
        self.array(items.len());
        for item in items {
            self.bulk(item.as_ref());
        }
    }
}

/// Formats `n` in decimal into `tmp`, returning the used tail.
pub fn format_i64(n: i64, tmp: &mut [u8; 24]) -> &[u8] {
    let mut pos = tmp.len();
    let negative = n < 0;
    let mut v = n.unsigned_abs();
    loop {
        pos -= 1;
        tmp[pos] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    if negative {
        pos -= 1;
        tmp[pos] = b'-';
    }
    &tmp[pos..]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resp2_and_resp3_shapes() {
        let mut r2 = Reply::new(Protocol::Resp2);
        let mut r3 = Reply::new(Protocol::Resp3);
        for r in [&mut r2, &mut r3] {
            r.map(1);
            r.bulk(b"a");
            r.null();
            r.boolean(true);
            r.double(1.5);
            r.int(i64::MIN);
        }
        assert_eq!(
            &r2.buf[..],
            b"*2\r\n$1\r\na\r\n$-1\r\n:1\r\n$3\r\n1.5\r\n:-9223372036854775808\r\n"
        );
        assert_eq!(
            &r3.buf[..],
            b"%1\r\n$1\r\na\r\n_\r\n#t\r\n,1.5\r\n:-9223372036854775808\r\n"
        );
    }

    #[test]
    fn error_is_one_line() {
        let mut r = Reply::default();
        r.error("ERR a\r\nb");
        assert_eq!(&r.buf[..], b"-ERR a  b\r\n");
    }
}
