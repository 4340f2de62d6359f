//! The reply writer: typed helpers that append RESP2 or RESP3 straight into
//! a client's output buffer, with no intermediate reply tree.
//!
//! Every reply goes through [`Reply`]. The protocol version is a property of
//! the writer, so a handler writes `map(n)` or `null()` once and the bytes
//! come out right for both RESP2 and RESP3.

use std::collections::VecDeque;
use std::io::IoSlice;

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

/// A bulk string this long goes into a chunk of exactly its size instead
/// of the reply buffer (Redis's reply list takes a payload past its 16 KB
/// blocks the same way): a 200 MB value costs one 200 MB copy, or none
/// when it is shared, freed once written, not a buffer doubled up to 256 MB
/// and kept.
const OWN_CHUNK_BYTES: usize = 16 * 1024;
/// A reply is built in blocks of this size (Redis's `PROTO_REPLY_CHUNK_BYTES`):
/// a full block is queued and a new one started, so a big LRANGE or
/// HGETALL is never copied into a doubled buffer, and each block is freed
/// as soon as it is written. A client's output memory is then what is
/// still unsent.
pub const BLOCK_BYTES: usize = 16 * 1024;
/// At most this many pieces of output go to one writev(2).
pub const MAX_IOV: usize = 64;

/// A client's output buffer together with its protocol version.
///
/// Replies go into `buf`, a block of up to `BLOCK_BYTES`; `queued` chunks,
/// written before `buf`, hold what came earlier: full blocks (replies, and
/// output a client did not ask for, such as messages), and big bulk strings in chunks of their own (with `buf` frozen
/// ahead of them, to keep the order). Positions in the output are counted
/// in [`Reply::pending`] bytes, which stay valid across blocks while a
/// command runs (nothing is written meanwhile). A command's reply may be
/// cut short at `limit` bytes (the client's hard output-buffer limit):
/// everything pending is then dropped and `overflowed` set, and the loop
/// closes the client, as Redis does once a client passes its limit.
/// `own_chunks` is off for a scratch writer, whose bytes must all be in
/// `buf`.
#[derive(Debug)]
pub struct Reply {
    pub buf: BytesMut,
    pub proto: Protocol,
    queued: VecDeque<Bytes>,
    queued_len: usize,
    pub limit: usize,
    pub overflowed: bool,
    pub own_chunks: bool,
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
            own_chunks: true,
        }
    }

    /// A writer whose bytes are all in `buf`, for building a reply to copy
    /// elsewhere (a message frame, a cached reply).
    pub fn scratch(proto: Protocol) -> Reply {
        Reply {
            own_chunks: false,
            ..Reply::new(proto)
        }
    }

    pub fn is_resp3(&self) -> bool {
        self.proto == Protocol::Resp3
    }

    /// Every byte not yet written to the socket; also the position where
    /// the next reply starts, for a caller that may take it back.
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

    /// Makes sure `n` more bytes fit in the current block, starting a new
    /// one if they would not.
    #[inline]
    fn room(&mut self, n: usize) {
        if self.buf.len() + n > BLOCK_BYTES && self.own_chunks && !self.buf.is_empty() {
            self.seal_block();
        }
    }

    #[cold]
    fn seal_block(&mut self) {
        let full = std::mem::replace(&mut self.buf, BytesMut::with_capacity(BLOCK_BYTES));
        self.enqueue(full.freeze());
    }

    /// Queues `chunk` after everything pending.
    fn push_chunk(&mut self, chunk: Bytes) {
        if !self.buf.is_empty() {
            let ahead = std::mem::take(&mut self.buf).freeze();
            self.enqueue(ahead);
        }
        self.enqueue(chunk);
    }

    /// Appends a chunk to `queued`, keeping `queued_len` its total.
    fn enqueue(&mut self, chunk: Bytes) {
        self.queued_len += chunk.len();
        self.queued.push_back(chunk);
    }

    /// Takes back everything added after `pending()` was `mark` (a reply
    /// to a client that is closing).
    pub fn truncate_pending(&mut self, mark: usize) {
        let mut excess = self.pending().saturating_sub(mark);
        let from_buf = excess.min(self.buf.len());
        self.buf.truncate(self.buf.len() - from_buf);
        excess -= from_buf;
        while excess > 0 {
            let Some(last) = self.queued.back_mut() else {
                break;
            };
            if last.len() <= excess {
                excess -= last.len();
                self.queued_len -= last.len();
                self.queued.pop_back();
            } else {
                last.truncate(last.len() - excess);
                self.queued_len -= excess;
                excess = 0;
            }
        }
    }

    /// The next bytes to write: the oldest queued chunk, else `buf`.
    pub fn front(&self) -> &[u8] {
        self.queued.front().map_or(&self.buf[..], |c| &c[..])
    }

    /// The next bytes to write, as up to `iov.len()` whole pieces (queued
    /// chunks, then `buf`), no more once they hold `want` bytes, and never
    /// past `limit` bytes (a piece is cut there); returns how many pieces.
    pub fn io_slices<'a>(&'a self, iov: &mut [IoSlice<'a>], want: usize, limit: usize) -> usize {
        let mut count = 0;
        let mut total = 0;
        for piece in self.queued.iter().map(|c| &c[..]).chain([&self.buf[..]]) {
            if count == iov.len() || total >= want || total >= limit {
                break;
            }
            if piece.is_empty() {
                continue;
            }
            let piece = &piece[..piece.len().min(limit - total)];
            total += piece.len();
            iov[count] = IoSlice::new(piece);
            count += 1;
        }
        count
    }

    /// Whether everything pending is one contiguous piece.
    pub fn is_one_piece(&self) -> bool {
        match self.queued.len() {
            0 => true,
            1 => self.buf.is_empty(),
            _ => false,
        }
    }

    /// Drops `n` written bytes from the front.
    pub fn consume(&mut self, mut n: usize) {
        while n > 0 {
            let Some(chunk) = self.queued.front_mut() else {
                self.buf.advance(n);
                return;
            };
            let step = n.min(chunk.len());
            chunk.advance(step);
            self.queued_len -= step;
            n -= step;
            if chunk.is_empty() {
                self.queued.pop_front();
            }
        }
    }

    /// A copy of the pending bytes from position `start` to `end` (see
    /// [`Reply::pending`]).
    pub fn copy_range(&self, start: usize, end: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(end.saturating_sub(start));
        let mut at = 0;
        for piece in self.queued.iter().map(|c| &c[..]).chain([&self.buf[..]]) {
            let (a, b) = (start.max(at), end.min(at + piece.len()));
            if a < b {
                out.extend_from_slice(&piece[a - at..b - at]);
            }
            at += piece.len();
        }
        out
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
        self.room(bytes.len());
        self.buf.extend_from_slice(bytes);
    }

    fn header(&mut self, prefix: u8, n: i64) {
        // Every element of an aggregate starts with a header, so a huge
        // reply is stopped here, at most one element past the limit.
        if self.pending() > self.limit {
            self.overflow();
        }
        self.room(24);
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
        self.simple_bytes(s.as_bytes());
    }

    /// A simple string of any bytes but CR and LF (a script's status
    /// reply, which may hold binary).
    pub fn simple_bytes(&mut self, s: &[u8]) {
        self.room(s.len() + 3);
        self.buf.reserve(s.len() + 3);
        self.buf.put_u8(b'+');
        self.buf.extend_from_slice(s);
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
        self.room(msg.len() + 3);
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
        if self.takes_own_chunk(data.len()) {
            self.bulk_chunk(Bytes::copy_from_slice(data));
            return;
        }
        self.room(data.len() + 24 + 2);
        self.header(b'$', data.len() as i64);
        self.buf.extend_from_slice(data);
        self.buf.extend_from_slice(b"\r\n");
    }

    /// A bulk string from a shared buffer (a big stored value): past
    /// `OWN_CHUNK_BYTES` the buffer itself is queued, a reference-counted
    /// handle, with no copy.
    pub fn bulk_shared(&mut self, data: &Bytes) {
        if self.takes_own_chunk(data.len()) {
            self.bulk_chunk(data.clone());
        } else {
            self.bulk(data);
        }
    }

    /// Whether a bulk of `len` bytes goes out as a chunk of its own (see
    /// `OWN_CHUNK_BYTES`).
    fn takes_own_chunk(&self, len: usize) -> bool {
        len >= OWN_CHUNK_BYTES && self.own_chunks && !self.overflowed
    }

    fn bulk_chunk(&mut self, chunk: Bytes) {
        self.header(b'$', chunk.len() as i64);
        self.push_chunk(chunk);
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
                self.room(text.len() + 3);
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

    /// A big number: `(` in RESP3, a bulk string in RESP2.
    pub fn big_number(&mut self, digits: &[u8]) {
        match self.proto {
            Protocol::Resp2 => self.bulk(digits),
            Protocol::Resp3 => {
                self.room(digits.len() + 3);
                self.buf.put_u8(b'(');
                self.buf.extend_from_slice(digits);
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

    /// Everything pending, in write order.
    fn drained(r: &mut Reply) -> Vec<u8> {
        let mut out = Vec::new();
        while !r.is_empty() {
            let n = r.front().len().min(1000);
            out.extend_from_slice(&r.front()[..n]);
            r.consume(n);
        }
        out
    }

    #[test]
    fn big_bulks_get_chunks_of_their_own_in_order() {
        let big = vec![b'x'; OWN_CHUNK_BYTES + 5];
        let mut r = Reply::new(Protocol::Resp2);
        r.array(3);
        r.bulk(b"a");
        r.bulk(&big);
        r.int(7);
        assert_eq!(r.queued.len(), 2, "the bytes before it, then the bulk");
        let mut want = b"*3\r\n$1\r\na\r\n".to_vec();
        want.extend_from_slice(format!("${}\r\n", big.len()).as_bytes());
        want.extend_from_slice(&big);
        want.extend_from_slice(b"\r\n:7\r\n");
        assert_eq!(r.pending(), want.len());
        assert_eq!(drained(&mut r), want);
        // A scratch writer keeps everything in `buf`.
        let mut s = Reply::scratch(Protocol::Resp2);
        s.bulk(&big);
        assert_eq!(s.buf.len(), s.pending());
    }

    #[test]
    fn a_built_reply_goes_out_in_blocks_in_order() {
        let mut r = Reply::new(Protocol::Resp3);
        let mut want = Vec::new();
        r.array(5000);
        want.extend_from_slice(b"*5000\r\n");
        for i in 0..5000 {
            let item = format!("item:{i}");
            r.bulk(item.as_bytes());
            want.extend_from_slice(format!("${}\r\n{item}\r\n", item.len()).as_bytes());
        }
        r.double(1.5);
        want.extend_from_slice(b",1.5\r\n");
        assert!(
            r.queued.len() >= want.len() / BLOCK_BYTES,
            "sealed in blocks"
        );
        for block in &r.queued {
            assert!(
                block.len() <= BLOCK_BYTES,
                "a block of {} bytes",
                block.len()
            );
        }
        assert!(r.buf.capacity() <= BLOCK_BYTES);
        // Positions span blocks: copy a range that crosses one.
        let at = BLOCK_BYTES - 3;
        assert_eq!(r.copy_range(at, at + 10), want[at..at + 10]);
        // Written in vectored pieces, consumed across them.
        let mut out = Vec::new();
        while !r.is_empty() {
            let mut iov = [IoSlice::new(&[]); 3];
            let count = r.io_slices(&mut iov, 20_000, usize::MAX);
            assert!(count >= 1);
            let taken: usize = iov[..count].iter().map(|s| s.len()).sum();
            // Pretend the socket took all but 7 bytes.
            let n = taken.saturating_sub(7).max(1);
            let mut left = n;
            for piece in &iov[..count] {
                let k = left.min(piece.len());
                out.extend_from_slice(&piece[..k]);
                left -= k;
            }
            r.consume(n);
        }
        assert_eq!(out, want);
    }

    #[test]
    fn a_scratch_writer_keeps_everything_in_its_buffer() {
        let mut r = Reply::scratch(Protocol::Resp2);
        for _ in 0..2000 {
            r.bulk(b"0123456789abcdef");
        }
        r.bulk(&vec![b'z'; OWN_CHUNK_BYTES * 2]);
        assert!(r.queued.is_empty());
        assert_eq!(r.pending(), r.buf.len());
    }

    #[test]
    fn a_reply_is_taken_back_across_chunks() {
        let big = vec![b'y'; OWN_CHUNK_BYTES];
        let mut r = Reply::new(Protocol::Resp2);
        r.simple("before");
        let mark = r.pending();
        r.bulk(&big);
        r.int(1);
        r.truncate_pending(mark);
        assert_eq!(drained(&mut r), b"+before\r\n");
    }

    #[test]
    fn a_reply_past_its_limit_is_dropped() {
        let mut r = Reply::new(Protocol::Resp2);
        r.limit = 100;
        for _ in 0..50 {
            r.bulk(b"0123456789");
        }
        assert!(r.overflowed);
        assert!(r.pending() < 200);
    }

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
