//! The RESP request parser (`src/resp/parser.rs`) as a fuzz target.
//!
//! One check feeds an input to the real [`Parser`] the way the server does
//! (append to a `BytesMut`, parse until `Incomplete`, clear the arguments
//! between requests), in several chunkings, and requires for each:
//!
//! - the same commands and the same end as the [`reference`] parser;
//! - no parse call allocating more than a bound linear in the bytes
//!   buffered (see [`ALLOWED_BYTES_PER_BUFFERED_BYTE`]).
//!
//! Panics are caught by the engine.

use bytes::BytesMut;
use ferrokv::resp::parser::{
    DEFAULT_PROTO_MAX_BULK_LEN_BYTES, INLINE_MAX_SIZE_BYTES, Parsed, Parser,
};
use ferrokv::util::Rng;

use crate::engine::{Failure, Target};
use crate::meter;
use crate::reference::{self, Auth, End, Limits, Outcome};

/// The commands or the end differ from the reference's, with the whole
/// input in one read.
pub const DIFFERS_FROM_REFERENCE: &str = "differs from the reference parser";
/// The input in one read agrees with the reference, but in smaller reads it
/// does not.
pub const DEPENDS_ON_CHUNKING: &str = "depends on how the input is cut into reads";
/// A parse call allocated more than the linear bound.
pub const ALLOCATES_TOO_MUCH: &str = "allocates beyond the linear bound";

/// What one `parse` call may allocate, beyond what was live before it, per
/// byte in the buffer when it is called.
///
/// Everything the parser allocates is per argument of a request in the
/// buffer: for a multibulk argument
/// a span in `Parser::spans` (16 bytes) and a `Bytes` in the caller's vector
/// (32 bytes); for an inline argument its unquoted bytes (a `Vec<u8>` of at
/// least 8), a `Bytes` header box when that vector has spare capacity (24),
/// a slot in `Parser::inline_args` (24) and a `Bytes` in the caller's vector
/// (32). Vectors double, so each slot costs at most twice its size. The
/// cheapest arguments on the wire are:
///
/// - multibulk `$0\r\n\r\n`: 6 bytes for 2 * (16 + 32) = 96, 16 per byte;
/// - inline `a `: 2 bytes for 8 + 24 + 2 * (24 + 32) = 144, 72 per byte;
/// - inline NUL byte: 1 byte for an empty argument (no bytes, no box),
///   2 * (24 + 32) = 112 per byte. ferrokv splits an unquoted NUL as an
///   empty argument; Redis never sees a NUL in an inline line.
///
/// So 112 per byte is what the parser can need today (measured: 80 for a
/// line of 4097 NULs, whose caller vector is sized exactly, 56 for 4097
/// `a `, 11 for 8193 empty bulks); 128 leaves a little room for the `bytes`
/// crate's internals to change. A length a client merely
/// claims (a count of 1 Mi arguments, 512 MiB of payload) is far beyond this
/// for a header of a few bytes.
const ALLOWED_BYTES_PER_BUFFERED_BYTE: usize = 128;

/// What one `parse` call may allocate regardless of the buffer: the first
/// allocation of each vector (at least 4 slots: 64 + 128 + 96 bytes) and
/// the shared header `BytesMut::split_to` allocates once (40). A capped
/// preallocation from a claimed count, like Redis's `min(count, 1024)`
/// argument slots (16 KiB of spans here), would still exceed it.
const ALLOWED_FIXED_BYTES: usize = 4 * 1024;

/// Inputs up to this length are also fed one byte per read. Each call
/// rescans an unfinished header line from its start, so feeding a long
/// header byte by byte is quadratic; that is the parser's design (and
/// Redis's), not something to fuzz for.
const BYTE_AT_A_TIME_MAX_BYTES: usize = 2 * 1024;

/// At most this many reads in a random chunking, which bounds the same
/// rescanning for long inputs.
const MAX_RANDOM_READS: usize = 64;

/// The RESP request parser.
pub struct RequestParser;

impl Target for RequestParser {
    fn name(&self) -> &'static str {
        "resp request parser"
    }

    fn seeds(&self) -> Vec<Vec<u8>> {
        seeds()
    }

    fn dictionary(&self) -> &'static [&'static [u8]] {
        &[
            b"\r\n",
            b"\r",
            b"\n",
            b"*",
            b"$",
            b"*1\r\n",
            b"*0\r\n",
            b"*-1\r\n",
            b"$0\r\n\r\n",
            b"$1\r\na\r\n",
            b"$-1\r\n",
            b"*1\r\n$4\r\nPING\r\n",
            b"PING\r\n",
            b"\"",
            b"'",
            b"\\",
            b"\\x",
            b"\\x41",
            b"\\\"",
            b"\\'",
            b" ",
            b"\t",
            b"\x0b",
            b"\x0c",
            b"\0",
        ]
    }

    fn generate(&self, rng: &mut Rng) -> Option<Vec<u8>> {
        Some(generate(rng))
    }

    fn check(&self, input: &[u8], variant: u64) -> Result<(), Failure> {
        check(input, variant)
    }
}

/// How the input is cut into reads.
#[derive(Debug, Clone)]
enum Feed {
    Whole,
    ByteAtATime,
    /// Reads ending at these offsets, then the rest.
    CutAt(Vec<usize>),
}

fn check(input: &[u8], variant: u64) -> Result<(), Failure> {
    let mut rng = Rng::new(variant);
    let limits = Limits {
        max_bulk_len: pick_max_bulk_len(&mut rng),
        auth: if rng.below(8) == 0 {
            Auth::Required
        } else {
            Auth::Done
        },
    };
    let expected = reference::parse(input, limits);
    // Whole first: if it differs, that is the failure to report; the other
    // feeds are then only asked to agree.
    let mut feeds = vec![Feed::Whole];
    // With more than the limit, whether a long line is too big depends on
    // how its bytes arrive (in Redis too), so such inputs are fed whole.
    if input.len() <= INLINE_MAX_SIZE_BYTES {
        if input.len() <= BYTE_AT_A_TIME_MAX_BYTES {
            feeds.push(Feed::ByteAtATime);
        }
        feeds.push(random_cuts(input.len(), &mut rng));
    }
    for feed in feeds {
        let actual = run_parser(input, limits, &feed)?;
        if actual != expected {
            let kind = match feed {
                Feed::Whole => DIFFERS_FROM_REFERENCE,
                _ => DEPENDS_ON_CHUNKING,
            };
            let detail = describe_difference(&expected, &actual, &feed, limits);
            return Err(Failure { kind, detail });
        }
    }
    Ok(())
}

/// Mostly Redis's default; sometimes a limit small enough that generated
/// arguments cross it, or one larger than any length.
fn pick_max_bulk_len(rng: &mut Rng) -> usize {
    match rng.below(16) {
        0..=1 => rng.below(4) as usize,
        2..=3 => rng.below(64) as usize,
        4 => rng.below(100_000) as usize,
        5 => usize::MAX,
        _ => DEFAULT_PROTO_MAX_BULK_LEN_BYTES,
    }
}

fn random_cuts(len: usize, rng: &mut Rng) -> Feed {
    if len < 2 {
        return Feed::Whole;
    }
    let reads = 1 + rng.below(len.min(MAX_RANDOM_READS) as u64) as usize;
    let mut cuts: Vec<usize> = (0..reads)
        .map(|_| 1 + rng.below(len as u64 - 1) as usize)
        .collect();
    cuts.sort_unstable();
    cuts.dedup();
    Feed::CutAt(cuts)
}

fn reads<'a>(input: &'a [u8], feed: &Feed) -> Vec<&'a [u8]> {
    match feed {
        Feed::Whole => vec![input],
        Feed::ByteAtATime => input.chunks(1).collect(),
        Feed::CutAt(cuts) => {
            let mut reads = Vec::with_capacity(cuts.len() + 1);
            let mut start = 0;
            for &cut in cuts.iter().chain([&input.len()]) {
                reads.push(&input[start..cut]);
                start = cut;
            }
            reads
        }
    }
}

/// Feeds `input` to a fresh parser the way the server does, measuring what
/// each `parse` call allocates.
fn run_parser(input: &[u8], limits: Limits, feed: &Feed) -> Result<Outcome, Failure> {
    let mut parser = Parser::new(limits.max_bulk_len);
    parser.set_auth(limits.auth);
    let mut buf = BytesMut::new();
    let mut args = Vec::new();
    let mut commands = Vec::new();
    for read in reads(input, feed) {
        buf.extend_from_slice(read);
        loop {
            args.clear();
            let buffered = buf.len();
            let (parsed, allocated) = meter::peak_extra(|| parser.parse(&mut buf, &mut args));
            let allowed = ALLOWED_BYTES_PER_BUFFERED_BYTE * buffered + ALLOWED_FIXED_BYTES;
            if allocated > allowed {
                return Err(Failure {
                    kind: ALLOCATES_TOO_MUCH,
                    detail: format!(
                        "one parse call allocated {allocated} bytes with {buffered} bytes \
                         buffered (allowed {allowed}), {limits:?}, fed {}",
                        describe_feed(feed)
                    ),
                });
            }
            match parsed {
                Ok(Parsed::Command) => commands.push(args.iter().map(|a| a.to_vec()).collect()),
                Ok(Parsed::Incomplete) => break,
                Err(error) => {
                    let end = End::Failed(error);
                    return Ok(Outcome { commands, end });
                }
            }
        }
    }
    let end = End::Waiting { pending: buf.len() };
    Ok(Outcome { commands, end })
}

fn describe_feed(feed: &Feed) -> String {
    match feed {
        Feed::Whole => "whole".to_string(),
        Feed::ByteAtATime => "one byte at a time".to_string(),
        Feed::CutAt(cuts) => format!("in reads ending at {cuts:?}"),
    }
}

fn describe_difference(
    expected: &Outcome,
    actual: &Outcome,
    feed: &Feed,
    limits: Limits,
) -> String {
    let mut text = format!(
        "{limits:?}, fed {}\n\
         reference: {} commands, then {:?}\n\
         parser:    {} commands, then {:?}",
        describe_feed(feed),
        expected.commands.len(),
        expected.end,
        actual.commands.len(),
        actual.end,
    );
    let first_difference = expected
        .commands
        .iter()
        .zip(&actual.commands)
        .position(|(e, a)| e != a);
    if let Some(i) = first_difference {
        text += &format!(
            "\ncommand #{i}: reference {}, parser {}",
            describe_command(&expected.commands[i]),
            describe_command(&actual.commands[i])
        );
    }
    text
}

fn describe_command(command: &reference::Command) -> String {
    const SHOWN_ARGS: usize = 8;
    const SHOWN_BYTES: usize = 40;
    let mut shown: Vec<String> = command
        .iter()
        .take(SHOWN_ARGS)
        .map(|arg| {
            let cut = &arg[..arg.len().min(SHOWN_BYTES)];
            let more = if arg.len() > SHOWN_BYTES { "..." } else { "" };
            format!("b\"{}{more}\"", cut.escape_ascii())
        })
        .collect();
    if command.len() > SHOWN_ARGS {
        shown.push(format!("and {} more", command.len() - SHOWN_ARGS));
    }
    format!("[{}]", shown.join(", "))
}

/// Hand-written inputs: each request shape, each error, each limit and its
/// neighbours, and the inputs that claim huge sizes without sending them.
fn seeds() -> Vec<Vec<u8>> {
    let small: &[&[u8]] = &[
        b"*1\r\n$4\r\nPING\r\n",
        b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nhello\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n",
        b"*1\r\n$0\r\n\r\n",
        b"*2\r\n$4\r\n\r\n\0*\r\n$1\r\n$\r\n",
        b"PING\r\n",
        b"set k v\nget k\r\n",
        b"set \"a b\" 'c\\'d' \"\\x41\\n\"\r\nPING\n",
        b"\"\\x4\" \"\\xg1\" \"\\q\" 'a\\nb'\n",
        b"\r\n\n   \r\n*0\r\n*-1\r\nPING\r\n",
        b"*1\r\n$1\r\naXY*1\rx$1\ryaXY",
        b"*abc\r\n",
        b"*01\r\n",
        b"*+1\r\n",
        b"*-0\r\n",
        b"*\r\n",
        b"*1\r\nfoo\r\n",
        b"*1\r\n:",
        b"*1\r\n$-1\r\n",
        b"*1\r\n$01\r\n",
        b"*1\r\n$\r\n",
        b"set \"a\r\n",
        b"\"a\"b\n",
        b"'a'b\n",
        b"\"a\\\"\n",
        b"*1048576\r\n",
        b"*1048577\r\n",
        b"*2147483647\r\n",
        b"*2147483648\r\n",
        b"*9223372036854775808\r\n",
        b"*1\r\n$536870912\r\n",
        b"*1\r\n$536870913\r\n",
        b"*1\r\n$500000000\r\nab",
        b"*2\r\n$536870912\r\n",
        b"*1048576\r\n$536870912\r\nab",
        b"*1\r\n$9223372036854775807\r\n",
        b"a\0b\n",
        b"\0 \0\n",
        b"*1\0\r\n",
        b"\x0bPING\n",
        b"\"a\"\x0b\n",
    ];
    let mut seeds: Vec<Vec<u8>> = small.iter().map(|s| s.to_vec()).collect();
    let limit = INLINE_MAX_SIZE_BYTES;
    // Inline lines at the limit, just past it, and past it with their LF.
    seeds.push(vec![b'a'; limit]);
    seeds.push(vec![b'a'; limit + 1]);
    seeds.push([&b"set k "[..], &vec![b'v'; 70_000], b"\r\n"].concat());
    // Header lines at and past the limit, counted from their own first byte.
    seeds.push([&b"*"[..], &vec![b'1'; limit]].concat());
    seeds.push([&b"*1\r\n$"[..], &vec![b'1'; limit - 1]].concat());
    seeds.push([&b"*1\r\n$"[..], &vec![b'1'; limit]].concat());
    // A payload longer than the limit, which is fine.
    seeds.push(
        [
            &b"*2\r\n$3\r\nSET\r\n$70000\r\n"[..],
            &vec![b'x'; 70_000],
            b"\r\n",
        ]
        .concat(),
    );
    // The most arguments per byte: many one-letter inline arguments, many
    // NUL bytes, many empty bulks.
    seeds.push([&b"a ".repeat(35_000)[..], b"\n"].concat());
    seeds.push([&vec![0u8; 70_000][..], b"\n"].concat());
    seeds.push([&b"*12000\r\n"[..], &b"$0\r\n\r\n".repeat(12_000)].concat());
    seeds
}

fn below(rng: &mut Rng, n: usize) -> usize {
    rng.below(n as u64) as usize
}

fn pick<T: Copy>(rng: &mut Rng, items: &[T]) -> T {
    items[below(rng, items.len())]
}

/// A structured input: a few requests of every kind, rarely one of the
/// inputs far beyond the limits, and often cut off mid-request.
fn generate(rng: &mut Rng) -> Vec<u8> {
    let mut out = Vec::new();
    if below(rng, 64) == 0 {
        push_huge(rng, &mut out);
    }
    for _ in 0..1 + below(rng, 4) {
        match below(rng, 10) {
            0..=4 => push_multibulk(rng, &mut out),
            5..=7 => push_inline(rng, &mut out),
            8 => out.extend_from_slice(pick(rng, EMPTY_REQUESTS)),
            _ => push_claim(rng, &mut out),
        }
    }
    if below(rng, 4) == 0 {
        let cut = below(rng, out.len() + 1);
        out.truncate(cut);
    }
    out
}

/// Requests without arguments, which the parser skips.
const EMPTY_REQUESTS: &[&[u8]] = &[b"\r\n", b"\n", b"*0\r\n", b"*-1\r\n", b" \t\r\n"];

/// An argument: mostly letters, sometimes bytes that mean something to the
/// parser, sometimes long.
fn random_arg(rng: &mut Rng) -> Vec<u8> {
    let len = match below(rng, 8) {
        0 => 0,
        1..=5 => 1 + below(rng, 8),
        6 => below(rng, 64),
        _ => below(rng, 600),
    };
    (0..len)
        .map(|_| match below(rng, 4) {
            0 => pick(rng, b"\r\n*$\"' \\\0\x0bx"),
            _ => b'a' + below(rng, 26) as u8,
        })
        .collect()
}

fn push_multibulk(rng: &mut Rng, out: &mut Vec<u8>) {
    let count = below(rng, 6);
    out.extend_from_slice(format!("*{count}\r\n").as_bytes());
    for _ in 0..count {
        let arg = random_arg(rng);
        out.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
        out.extend_from_slice(&arg);
        out.extend_from_slice(b"\r\n");
    }
}

fn push_inline(rng: &mut Rng, out: &mut Vec<u8>) {
    let blanks: &[&[u8]] = &[b" ", b"  ", b"\t", b"\x0c", b" \r "];
    for i in 0..below(rng, 5) {
        if i > 0 || below(rng, 4) == 0 {
            out.extend_from_slice(pick(rng, blanks));
        }
        match below(rng, 4) {
            0 => push_quoted(rng, out, b'"'),
            1 => push_quoted(rng, out, b'\''),
            _ => {
                let word: Vec<u8> = random_arg(rng)
                    .into_iter()
                    .filter(|&b| !b"\r\n \t\0".contains(&b))
                    .collect();
                out.extend_from_slice(if word.is_empty() { b"w" } else { &word });
            }
        }
    }
    out.extend_from_slice(pick(rng, &[&b"\r\n"[..], b"\r\n", b"\n", b"\r\r\n"]));
}

fn push_quoted(rng: &mut Rng, out: &mut Vec<u8>, quote: u8) {
    let pieces: &[&[u8]] = if quote == b'"' {
        &[
            b"a", b"b c", b"\\n", b"\\x41", b"\\xfF", b"\\x4", b"\\\"", b"\\\\", b"'", b"\\q",
            b"\r",
        ]
    } else {
        &[b"a", b"b c", b"\\'", b"\\", b"\"", b"\\n"]
    };
    out.push(quote);
    for _ in 0..below(rng, 4) {
        out.extend_from_slice(pick(rng, pieces));
    }
    // Usually closed properly; sometimes not closed, or closed and followed
    // by something other than a blank.
    match below(rng, 12) {
        0 => {}
        1 => out.extend_from_slice(&[quote, b'x']),
        _ => out.push(quote),
    }
}

/// A header claiming a huge count or length, maybe with a little data.
fn push_claim(rng: &mut Rng, out: &mut Vec<u8>) {
    let huge: &[&[u8]] = &[
        b"1048576",
        b"1048577",
        b"536870912",
        b"536870913",
        b"2147483647",
        b"9223372036854775807",
        b"500000000",
    ];
    if below(rng, 2) == 0 {
        out.extend_from_slice(&[&b"*"[..], pick(rng, huge), b"\r\n"].concat());
    } else {
        out.extend_from_slice(&[&b"*1\r\n$"[..], pick(rng, huge), b"\r\n"].concat());
    }
    out.extend_from_slice(&random_arg(rng));
}

/// One of the inputs beyond the limits, with lengths around them.
fn push_huge(rng: &mut Rng, out: &mut Vec<u8>) {
    let around_limit = INLINE_MAX_SIZE_BYTES - 2 + below(rng, 5);
    match below(rng, 6) {
        0 => out.resize(out.len() + around_limit, b'a'),
        1 => {
            out.push(b'*');
            out.resize(out.len() + around_limit, b'1');
        }
        2 => {
            out.extend_from_slice(b"*1\r\n$");
            out.resize(out.len() + around_limit, b'1');
        }
        3 => {
            let payload = around_limit + below(rng, 10_000);
            out.extend_from_slice(format!("*1\r\n${payload}\r\n").as_bytes());
            out.resize(out.len() + payload, b'x');
            out.extend_from_slice(b"\r\n");
        }
        4 => {
            let filler = pick(rng, &[&b"a "[..], b"\0", b"\"\" "]);
            for _ in 0..around_limit / filler.len() {
                out.extend_from_slice(filler);
            }
            out.push(b'\n');
        }
        _ => {
            let count = around_limit / 6;
            out.extend_from_slice(format!("*{count}\r\n").as_bytes());
            for _ in 0..count {
                out.extend_from_slice(b"$0\r\n\r\n");
            }
        }
    }
}
