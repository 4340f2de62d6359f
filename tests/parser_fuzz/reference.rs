//! A deliberately simple reference for the request parser.
//!
//! It sees the whole input at once and walks it request by request, with no
//! state carried between calls, no resumption and no buffer splitting, so
//! that it can be read against the rules and trusted. The real parser must
//! produce the same commands and end the same way however its input arrives.
//!
//! The rules, from Redis 7.0.15's `processMultibulkBuffer`,
//! `processInlineBuffer` and `sdssplitargs` (which ferrokv follows):
//!
//! - A request starting with `*` is multibulk; anything else is inline.
//! - A `*` or `$` header runs from its type byte to the first CR, found as
//!   `strchr` finds it (a NUL before the CR hides it), and is acted on
//!   only once one more byte follows the CR; that byte is skipped
//!   unchecked. Without a CR, more than `INLINE_MAX_SIZE_BYTES` bytes from
//!   the header's first byte are an error (`TooBigMbulkCount` or
//!   `TooBigBulkCount`). The number is read with `string2ll`'s rules.
//! - A count that is not a number, or above `MAX_MULTIBULK_COUNT`
//!   (`INT_MAX`), is `InvalidMultibulkLength`; above 10 before AUTH (where
//!   a password is required) `UnauthenticatedMultibulkLength`; a count of
//!   0 or less is an empty request, skipped silently.
//! - Each argument's complete header line must start with `$` (else
//!   `ExpectedDollar`); a length that is not a number, negative or above
//!   the configured maximum is `InvalidBulkLength`, above 16384 before AUTH
//!   `UnauthenticatedBulkLength`. The payload is followed by two bytes
//!   taken to be CRLF unchecked.
//! - An inline request runs to the first LF (a NUL before it hides it, as
//!   for CRs), with one CR before it dropped, and is split like
//!   `sdssplitargs`; an unbalanced quote is `UnbalancedQuotes`, a line with
//!   no arguments is skipped, and more than `INLINE_MAX_SIZE_BYTES` bytes
//!   without an LF is `TooBigInline`.

pub use ferrokv::resp::parser::Auth;
use ferrokv::resp::parser::{
    INLINE_MAX_SIZE_BYTES, MAX_MULTIBULK_COUNT, ProtocolError, UNAUTHENTICATED_MAX_BULK_LEN_BYTES,
    UNAUTHENTICATED_MAX_MULTIBULK_COUNT,
};

/// The limits a parse runs under.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_bulk_len: usize,
    pub auth: Auth,
}

/// One parsed command: its arguments.
pub type Command = Vec<Vec<u8>>;

/// How a stream of requests ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum End {
    /// Every complete request was parsed; the last `pending` bytes belong to
    /// a request that has not fully arrived (0 if none).
    Waiting { pending: usize },
    /// A protocol error: the client gets the error and the connection closes.
    Failed(ProtocolError),
}

/// The commands parsed from an input, in order, and how the input ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub commands: Vec<Command>,
    pub end: End,
}

/// Parses a whole input under `limits`.
pub fn parse(input: &[u8], limits: Limits) -> Outcome {
    let mut commands = Vec::new();
    let mut rest = input;
    loop {
        let step = match rest.first() {
            None => Ok(Step::NeedMore),
            Some(b'*') => multibulk(rest, limits),
            Some(_) => inline(rest),
        };
        match step {
            Ok(Step::Request { args, len }) => {
                // A request without arguments (`*0`, an empty line) is skipped.
                if !args.is_empty() {
                    commands.push(args);
                }
                rest = &rest[len..];
            }
            Ok(Step::NeedMore) => {
                let end = End::Waiting {
                    pending: rest.len(),
                };
                return Outcome { commands, end };
            }
            Err(error) => {
                let end = End::Failed(error);
                return Outcome { commands, end };
            }
        }
    }
}

/// What the request at the start of the remaining input is.
enum Step {
    /// A complete request of `len` bytes.
    Request { args: Command, len: usize },
    /// The request has not fully arrived.
    NeedMore,
}

/// A `*` or `$` header line.
enum Header {
    /// The line has not fully arrived.
    Incomplete,
    /// The line is complete but does not hold a number.
    NotANumber,
    /// The number, and the offset just past the line.
    Number { value: i64, next: usize },
}

fn multibulk(request: &[u8], limits: Limits) -> Result<Step, ProtocolError> {
    let (count, mut at) = match header(request, 0, ProtocolError::TooBigMbulkCount)? {
        Header::Incomplete => return Ok(Step::NeedMore),
        Header::NotANumber => return Err(ProtocolError::InvalidMultibulkLength),
        Header::Number { value, next } => (value, next),
    };
    if count > MAX_MULTIBULK_COUNT {
        return Err(ProtocolError::InvalidMultibulkLength);
    }
    if count > UNAUTHENTICATED_MAX_MULTIBULK_COUNT && limits.auth == Auth::Required {
        return Err(ProtocolError::UnauthenticatedMultibulkLength);
    }
    let mut args = Vec::new();
    for _ in 0..count.max(0) {
        let (len, body) = match header(request, at, ProtocolError::TooBigBulkCount)? {
            Header::Incomplete => return Ok(Step::NeedMore),
            // The `$` is checked once the line is complete.
            _ if request[at] != b'$' => return Err(ProtocolError::ExpectedDollar(request[at])),
            Header::NotANumber => return Err(ProtocolError::InvalidBulkLength),
            Header::Number { value, next } => (value, next),
        };
        if len < 0 || len as u64 > limits.max_bulk_len as u64 {
            return Err(ProtocolError::InvalidBulkLength);
        }
        if len > UNAUTHENTICATED_MAX_BULK_LEN_BYTES && limits.auth == Auth::Required {
            return Err(ProtocolError::UnauthenticatedBulkLength);
        }
        let len = len as usize;
        // The payload and the two bytes after it, taken to be CRLF unchecked.
        if request.len() - body < len + 2 {
            return Ok(Step::NeedMore);
        }
        args.push(request[body..body + len].to_vec());
        at = body + len + 2;
    }
    Ok(Step::Request { args, len: at })
}

/// The first `target` byte from `start`, as C's `strchr` finds it: one
/// after a NUL is not found.
fn strchr(bytes: &[u8], start: usize, target: u8) -> Option<usize> {
    let found = start + bytes[start..].iter().position(|&b| b == target || b == 0)?;
    (bytes[found] == target).then_some(found)
}

/// Reads the header line whose type byte (`*` or `$`) is at `start`.
/// `too_long` is the error for a line that has no CR within the limit.
fn header(request: &[u8], start: usize, too_long: ProtocolError) -> Result<Header, ProtocolError> {
    let Some(cr) = strchr(request, start, b'\r') else {
        if request.len() - start > INLINE_MAX_SIZE_BYTES {
            return Err(too_long);
        }
        return Ok(Header::Incomplete);
    };
    // The CR is acted on only once a byte follows it, which is skipped.
    if cr + 1 >= request.len() {
        return Ok(Header::Incomplete);
    }
    let digits = (start + 1).min(cr);
    Ok(match string2ll(&request[digits..cr]) {
        Some(value) => Header::Number {
            value,
            next: cr + 2,
        },
        None => Header::NotANumber,
    })
}

/// Redis's `string2ll` accepts exactly the canonical decimal form of an
/// `i64`: an optional `-`, no `+`, no leading zeroes, no `-0`, no spaces.
/// So a string is a number when it reads back unchanged.
fn string2ll(text: &[u8]) -> Option<i64> {
    let text = std::str::from_utf8(text).ok()?;
    let value: i64 = text.parse().ok()?;
    (value.to_string() == text).then_some(value)
}

fn inline(request: &[u8]) -> Result<Step, ProtocolError> {
    // A NUL before the LF hides it, so an inline line never holds a NUL.
    let Some(lf) = strchr(request, 0, b'\n') else {
        if request.len() > INLINE_MAX_SIZE_BYTES {
            return Err(ProtocolError::TooBigInline);
        }
        return Ok(Step::NeedMore);
    };
    let line = &request[..lf];
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let args = split_args(line).ok_or(ProtocolError::UnbalancedQuotes)?;
    Ok(Step::Request { args, len: lf + 1 })
}

/// Where `split_args` is inside an argument.
#[derive(Clone, Copy)]
enum Quoting {
    Unquoted,
    Double,
    Single,
}

/// Splits an inline line into arguments as `sdssplitargs` does, or `None`
/// for unbalanced quotes (or a closing quote followed by something other
/// than a blank).
///
/// `sdssplitargs` walks a NUL-terminated C string and reads ahead with
/// `*(p+1)`; here `at(i)` is `None` past the end of the line, which ends at
/// its first NUL (none reaches here from `inline`, but the splitter is also
/// checked alone).
fn split_args(line: &[u8]) -> Option<Vec<Vec<u8>>> {
    let line = &line[..line.iter().position(|&b| b == 0).unwrap_or(line.len())];
    let at = |i: usize| line.get(i).copied();
    let mut args = Vec::new();
    let mut p = 0;
    loop {
        while at(p).is_some_and(is_blank) {
            p += 1;
        }
        if at(p).is_none() {
            return Some(args);
        }
        let mut arg = Vec::new();
        let mut quoting = Quoting::Unquoted;
        loop {
            match quoting {
                Quoting::Double => match (at(p), at(p + 1)) {
                    (None, _) => return None,
                    (Some(b'\\'), Some(b'x')) if is_hex(at(p + 2)) && is_hex(at(p + 3)) => {
                        let high = hex_value(line[p + 2]);
                        let low = hex_value(line[p + 3]);
                        arg.push(high * 16 + low);
                        p += 3;
                    }
                    (Some(b'\\'), Some(escaped)) => {
                        arg.push(match escaped {
                            b'n' => b'\n',
                            b'r' => b'\r',
                            b't' => b'\t',
                            b'b' => 0x08,
                            b'a' => 0x07,
                            other => other,
                        });
                        p += 1;
                    }
                    (Some(b'"'), after) => {
                        if after.is_some_and(|c| !is_blank(c)) {
                            return None;
                        }
                        p += 1;
                        break;
                    }
                    (Some(c), _) => arg.push(c),
                },
                Quoting::Single => match (at(p), at(p + 1)) {
                    (None, _) => return None,
                    (Some(b'\\'), Some(b'\'')) => {
                        arg.push(b'\'');
                        p += 1;
                    }
                    (Some(b'\''), after) => {
                        if after.is_some_and(|c| !is_blank(c)) {
                            return None;
                        }
                        p += 1;
                        break;
                    }
                    (Some(c), _) => arg.push(c),
                },
                Quoting::Unquoted => match at(p) {
                    None => break,
                    Some(b' ' | b'\n' | b'\r' | b'\t') => {
                        p += 1;
                        break;
                    }
                    Some(b'"') => quoting = Quoting::Double,
                    Some(b'\'') => quoting = Quoting::Single,
                    Some(c) => arg.push(c),
                },
            }
            p += 1;
        }
        args.push(arg);
    }
}

/// The blanks skipped between arguments and required after a closing
/// quote: C's `isspace`, vertical tab and form feed included.
fn is_blank(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

fn is_hex(c: Option<u8>) -> bool {
    c.is_some_and(|c| c.is_ascii_hexdigit())
}

fn hex_value(c: u8) -> u8 {
    match c {
        b'0'..=b'9' => c - b'0',
        b'a'..=b'f' => c - b'a' + 10,
        _ => c - b'A' + 10,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferrokv::resp::parser::DEFAULT_PROTO_MAX_BULK_LEN_BYTES;

    fn commands(input: &[u8]) -> Vec<Command> {
        let outcome = parse(input, limits(DEFAULT_PROTO_MAX_BULK_LEN_BYTES));
        assert_eq!(outcome.end, End::Waiting { pending: 0 }, "{input:?}");
        outcome.commands
    }

    fn limits(max_bulk_len: usize) -> Limits {
        Limits {
            max_bulk_len,
            auth: Auth::Done,
        }
    }

    fn end(input: &[u8], max_bulk_len: usize) -> End {
        parse(input, limits(max_bulk_len)).end
    }

    fn error(input: &[u8]) -> ProtocolError {
        match end(input, DEFAULT_PROTO_MAX_BULK_LEN_BYTES) {
            End::Failed(e) => e,
            other => panic!(
                "{:?} ended with {other:?}",
                input.escape_ascii().to_string()
            ),
        }
    }

    #[test]
    fn reference_parses_pipelined_multibulk_and_inline() {
        assert_eq!(
            commands(b"*1\r\n$4\r\nPING\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\nECHO hi\r\n"),
            vec![vec![&b"PING"[..]], vec![b"GET", b"k"], vec![b"ECHO", b"hi"]]
        );
        assert_eq!(commands(b"*1\r\n$0\r\n\r\n"), vec![vec![&b""[..]]]);
        // Binary payloads, CR and LF included, are taken by length.
        assert_eq!(
            commands(b"*1\r\n$4\r\n\r\n\0*\r\n"),
            vec![vec![&b"\r\n\0*"[..]]]
        );
    }

    #[test]
    fn reference_skips_empty_requests() {
        assert_eq!(
            commands(b"\r\n\n   \r\n*0\r\n*-1\r\n*-5\r\nPING\r\n"),
            vec![vec![&b"PING"[..]]]
        );
    }

    #[test]
    fn reference_skips_the_bytes_after_cr_and_payload_unchecked() {
        assert_eq!(commands(b"*1\rx$1\ryaXY"), vec![vec![&b"a"[..]]]);
    }

    #[test]
    fn reference_waits_for_incomplete_requests() {
        for (input, pending) in [
            (&b"*"[..], 1),
            (b"*1", 2),
            // A CR alone is not enough: one more byte must follow it.
            (b"*1\r", 3),
            (b"*1\r\n", 4),
            (b"*1\r\n$", 5),
            (b"*1\r\n$3\r", 7),
            (b"*1\r\n$3\r\nab", 10),
            (b"*1\r\n$3\r\nabc\r", 12),
            (b"PING", 4),
            (b"PING\r", 5),
            (b"*1\r\n$1\r\na\r\nPI", 2),
        ] {
            assert_eq!(
                end(input, DEFAULT_PROTO_MAX_BULK_LEN_BYTES),
                End::Waiting { pending },
                "{:?}",
                input.escape_ascii().to_string()
            );
        }
    }

    #[test]
    fn reference_reads_numbers_like_string2ll() {
        for bad in [
            &b"*abc\r\n"[..],
            b"*01\r\n",
            b"*+1\r\n",
            b"* 1\r\n",
            b"*-0\r\n",
            b"*\r\n",
        ] {
            assert_eq!(error(bad), ProtocolError::InvalidMultibulkLength);
        }
        for bad in [
            &b"*1\r\n$01\r\n"[..],
            b"*1\r\n$+1\r\n",
            b"*1\r\n$\r\n",
            b"*1\r\n$1 \r\n",
        ] {
            assert_eq!(error(bad), ProtocolError::InvalidBulkLength);
        }
        assert_eq!(
            end(b"*9223372036854775807\r\n", 10),
            End::Failed(ProtocolError::InvalidMultibulkLength)
        );
        assert_eq!(
            error(b"*1\r\n$9223372036854775808\r\n"),
            ProtocolError::InvalidBulkLength
        );
    }

    #[test]
    fn reference_applies_the_limits() {
        assert_eq!(end(b"*2147483647\r\n", 10), End::Waiting { pending: 13 });
        assert_eq!(
            error(b"*2147483648\r\n"),
            ProtocolError::InvalidMultibulkLength
        );
        assert_eq!(error(b"*1\r\n$-1\r\n"), ProtocolError::InvalidBulkLength);
        assert_eq!(error(b"*1\r\nfoo\r\n"), ProtocolError::ExpectedDollar(b'f'));
        // The `$` is checked once its line is complete.
        assert_eq!(end(b"*1\r\n:", 10), End::Waiting { pending: 5 });
        assert_eq!(error(b"*1\r\n:\r\n"), ProtocolError::ExpectedDollar(b':'));
        assert_eq!(error(b"*1\r\n\r\n"), ProtocolError::ExpectedDollar(b'\r'));
        assert_eq!(end(b"*1\r\n$3\r\nabc\r\n", 3), End::Waiting { pending: 0 });
        assert_eq!(
            end(b"*1\r\n$4\r\n", 3),
            End::Failed(ProtocolError::InvalidBulkLength)
        );
        assert_eq!(end(b"*1\r\n$0\r\n\r\n", 0), End::Waiting { pending: 0 });
    }

    #[test]
    fn reference_applies_the_size_limits_from_the_line_start() {
        let limit = INLINE_MAX_SIZE_BYTES;
        let mut inline = vec![b'a'; limit];
        assert_eq!(end(&inline, 0), End::Waiting { pending: limit });
        inline.push(b'a');
        assert_eq!(error(&inline), ProtocolError::TooBigInline);
        // A line longer than the limit is fine once its LF has arrived.
        inline.push(b'\n');
        assert_eq!(commands(&inline).len(), 1);

        let mut count = b"*".to_vec();
        count.resize(limit, b'1');
        assert!(matches!(end(&count, 0), End::Waiting { .. }));
        count.push(b'1');
        assert_eq!(error(&count), ProtocolError::TooBigMbulkCount);

        // A `$` line is measured from its own `$`, not from the `*`.
        let mut bulk = b"*1\r\n$".to_vec();
        bulk.resize(4 + limit, b'1');
        assert!(matches!(end(&bulk, 0), End::Waiting { .. }));
        bulk.push(b'1');
        assert_eq!(error(&bulk), ProtocolError::TooBigBulkCount);
    }

    #[test]
    fn reference_splits_inline_like_sdssplitargs() {
        assert_eq!(
            commands(b"set \"a b\" 'c\\'d' \"\\x41\\n\\t\\r\\b\\a\\\\\\\"\\q\"\r\n"),
            vec![vec![&b"set"[..], b"a b", b"c'd", b"A\n\t\r\x08\x07\\\"q"]]
        );
        // An incomplete `\x` escape is a plain escaped `x`.
        assert_eq!(
            commands(b"\"\\x4\" \"\\xg1\"\n"),
            vec![vec![&b"x4"[..], b"xg1"]]
        );
        // Single quotes know only `\'`.
        assert_eq!(commands(b"'a\\nb\\'c'\n"), vec![vec![&b"a\\nb'c"[..]]]);
        // Blanks: tabs and form feeds separate; quotes may be empty.
        assert_eq!(
            commands(b"  a\tb \x0c c \"\" ''\r\n"),
            vec![vec![&b"a"[..], b"b", b"c", b"", b""]]
        );
        // A quote inside an unquoted argument opens a quoted part.
        assert_eq!(commands(b"ab\"c d\"\n"), vec![vec![&b"abc d"[..]]]);
        // Only one CR before the LF is dropped; a CR inside the line separates.
        assert_eq!(commands(b"a\rb\r\r\n"), vec![vec![&b"a"[..], b"b"]]);
        assert_eq!(commands(b"\"a\r\"\r\n"), vec![vec![&b"a\r"[..]]]);
    }

    #[test]
    fn reference_rejects_unbalanced_quotes() {
        for bad in [
            &b"set \"a\r\n"[..],
            b"'a\n",
            b"\"a\"b\n",
            b"'a'b\n",
            b"\"a\\\"\n",
            b"\"\\\n",
        ] {
            assert_eq!(error(bad), ProtocolError::UnbalancedQuotes, "{bad:?}");
        }
    }

    #[test]
    fn reference_stops_at_nul_and_knows_c_isspace() {
        // A NUL hides the line end after it: the request never completes.
        assert_eq!(end(b"a\0b\n", 10), End::Waiting { pending: 4 });
        assert_eq!(end(b"*1\0\r\n", 10), End::Waiting { pending: 5 });
        assert_eq!(
            end(b"*1\r\n$1\0\r\na\r\n", 10),
            End::Waiting { pending: 12 }
        );
        // A vertical tab separates arguments but does not end one.
        assert_eq!(commands(b"\x0bPING\n"), vec![vec![&b"PING"[..]]]);
        assert_eq!(commands(b"PING\x0b\n"), vec![vec![&b"PING\x0b"[..]]]);
        assert_eq!(commands(b"\"a\"\x0b\n"), vec![vec![&b"a"[..]]]);
        // The splitter alone reads a C string.
        assert_eq!(split_args(b"a \0b"), Some(vec![b"a".to_vec()]));
    }

    #[test]
    fn reference_caps_unauthenticated_requests() {
        let required = Limits {
            max_bulk_len: DEFAULT_PROTO_MAX_BULK_LEN_BYTES,
            auth: Auth::Required,
        };
        assert_eq!(
            parse(b"*11\r\n", required).end,
            End::Failed(ProtocolError::UnauthenticatedMultibulkLength)
        );
        assert_eq!(
            parse(b"*1\r\n$16385\r\n", required).end,
            End::Failed(ProtocolError::UnauthenticatedBulkLength)
        );
        assert_eq!(parse(b"*10\r\n", required).end, End::Waiting { pending: 5 });
    }
}
