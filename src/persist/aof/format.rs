//! The append-only file's formats, as Redis 7.0 writes them: the manifest
//! that names a directory's files, the commands (RESP multibulk, with
//! `#...` annotation lines) that incremental files hold, and the command
//! form of a whole key that a base file without an RDB preamble holds.
//!
//! Nothing here touches the store or the disk: the manifest is parsed from
//! and rendered to text, commands are read from and written to buffers.

use std::fmt;

use bytes::Bytes;

use crate::db::value::Value;
use crate::resp::writer::format_i64;
use crate::types::hash::Hash;
use crate::types::packed::Elem;

/// Items per command when a key is written as commands (Redis's
/// `AOF_REWRITE_ITEMS_PER_CMD`).
const ITEMS_PER_COMMAND: usize = 64;
/// A manifest line longer than this is refused (Redis's
/// `MANIFEST_MAX_LINE`).
const MANIFEST_MAX_LINE: usize = 1024;
/// The longest `*<n>` or `$<n>` line read (Redis reads them with a
/// 1024-byte `fgets`).
const COUNT_LINE_MAX: usize = 1024;

// ---------------------------------------------------------------------------
// The manifest
// ---------------------------------------------------------------------------

/// What a file listed in the manifest is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// The snapshot the incremental files apply to (`b`).
    Base,
    /// Replaced by a rewrite, waiting to be deleted (`h`).
    History,
    /// Commands since the base, in sequence order (`i`).
    Incr,
}

impl FileKind {
    fn letter(self) -> char {
        match self {
            FileKind::Base => 'b',
            FileKind::History => 'h',
            FileKind::Incr => 'i',
        }
    }
}

/// One file of the manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AofFile {
    pub name: String,
    pub seq: u64,
    pub kind: FileKind,
}

/// The manifest: which files make up the append-only file, in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Manifest {
    pub base: Option<AofFile>,
    pub history: Vec<AofFile>,
    pub incrs: Vec<AofFile>,
    /// The highest base and incremental sequence numbers given out.
    pub base_seq: u64,
    pub incr_seq: u64,
}

/// Why a manifest was refused, with the line it was found on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestError {
    pub line_number: usize,
    pub line: String,
    pub reason: &'static str,
}

impl fmt::Display for ManifestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line_number > 0 {
            write!(
                f,
                "{} (line {}: '{}')",
                self.reason, self.line_number, self.line
            )
        } else {
            f.write_str(self.reason)
        }
    }
}

impl Manifest {
    /// Parses a manifest as Redis 7.0's `aofLoadManifestFromFile` does:
    /// `#` lines are comments, every other line is `key value` pairs with
    /// at least `file`, `seq` and `type`, incremental files in increasing
    /// order, at most one base.
    pub fn parse(text: &[u8]) -> Result<Manifest, ManifestError> {
        let mut m = Manifest::default();
        if text.is_empty() {
            return Err(ManifestError {
                line_number: 0,
                line: String::new(),
                reason: "Found an empty AOF manifest",
            });
        }
        let mut max_seq = 0;
        let mut rest = text;
        let mut line_number = 0;
        while !rest.is_empty() {
            line_number += 1;
            let (raw, next, complete) = match rest.iter().position(|&b| b == b'\n') {
                Some(i) => (&rest[..=i], &rest[i + 1..], true),
                None => (rest, &rest[rest.len()..], false),
            };
            rest = next;
            if raw.first() == Some(&b'#') {
                continue;
            }
            let shown = String::from_utf8_lossy(raw).trim().to_string();
            let fail = |reason| ManifestError {
                line_number,
                line: shown.clone(),
                reason,
            };
            if !complete || raw.len() > MANIFEST_MAX_LINE {
                return Err(fail("The AOF manifest file contains too long line"));
            }
            let trimmed = trim(raw);
            if trimmed.is_empty() {
                return Err(fail("Invalid AOF manifest file format"));
            }
            let words =
                split_args(trimmed).ok_or_else(|| fail("Invalid AOF manifest file format"))?;
            if words.len() < 6 || words.len() % 2 != 0 {
                return Err(fail("Invalid AOF manifest file format"));
            }
            let (mut name, mut seq, mut kind) = (None, 0u64, None);
            for pair in words.chunks(2) {
                let key = pair[0].to_ascii_lowercase();
                match key.as_slice() {
                    b"file" => {
                        let n = String::from_utf8_lossy(&pair[1]).into_owned();
                        if n.contains('/') || n.is_empty() {
                            return Err(fail("File can't be a path, just a filename"));
                        }
                        name = Some(n);
                    }
                    b"seq" => seq = atoll(&pair[1]).max(0) as u64,
                    b"type" => kind = pair[1].first().copied(),
                    _ => {}
                }
            }
            let (Some(name), Some(kind)) = (name, kind) else {
                return Err(fail("Invalid AOF manifest file format"));
            };
            // A name that would not fit a line once written back would make
            // the next start fail: refuse it now.
            if repr_if_needed(&name).len() + 40 > MANIFEST_MAX_LINE {
                return Err(fail("The AOF manifest file contains too long line"));
            }
            if seq == 0 {
                return Err(fail("Invalid AOF manifest file format"));
            }
            match kind {
                b'b' => {
                    if m.base.is_some() {
                        return Err(fail("Found duplicate base file information"));
                    }
                    m.base_seq = seq;
                    m.base = Some(AofFile {
                        name,
                        seq,
                        kind: FileKind::Base,
                    });
                }
                b'h' => m.history.push(AofFile {
                    name,
                    seq,
                    kind: FileKind::History,
                }),
                b'i' => {
                    if seq <= max_seq {
                        return Err(fail("Found a non-monotonic sequence number"));
                    }
                    max_seq = seq;
                    m.incr_seq = seq;
                    m.incrs.push(AofFile {
                        name,
                        seq,
                        kind: FileKind::Incr,
                    });
                }
                _ => return Err(fail("Unknown AOF file type")),
            }
        }
        Ok(m)
    }

    /// The manifest's text: the base, then history, then incremental files.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for f in self.base.iter().chain(&self.history).chain(&self.incrs) {
            out.push_str(&format!(
                "file {} seq {} type {}\n",
                repr_if_needed(&f.name),
                f.seq,
                f.kind.letter()
            ));
        }
        out
    }

    /// Names a new base file (`<appendfilename>.<seq>.base.rdb`, or `.aof`
    /// without the RDB preamble), making the old base history.
    pub fn new_base(&mut self, aof_filename: &str, rdb_preamble: bool) -> String {
        if let Some(mut old) = self.base.take() {
            old.kind = FileKind::History;
            self.history.insert(0, old);
        }
        self.base_seq += 1;
        let suffix = if rdb_preamble { "rdb" } else { "aof" };
        let name = format!("{aof_filename}.{}.base.{suffix}", self.base_seq);
        self.base = Some(AofFile {
            name: name.clone(),
            seq: self.base_seq,
            kind: FileKind::Base,
        });
        name
    }

    /// Names a new incremental file (`<appendfilename>.<seq>.incr.aof`)
    /// and appends it.
    pub fn new_incr(&mut self, aof_filename: &str) -> String {
        self.incr_seq += 1;
        let name = format!("{aof_filename}.{}.incr.aof", self.incr_seq);
        self.incrs.push(AofFile {
            name: name.clone(),
            seq: self.incr_seq,
            kind: FileKind::Incr,
        });
        name
    }

    /// The last incremental file, named anew if there is none.
    pub fn last_incr_or_new(&mut self, aof_filename: &str) -> String {
        match self.incrs.last() {
            Some(f) => f.name.clone(),
            None => self.new_incr(aof_filename),
        }
    }

    /// After a rewrite: every incremental file but the one being written
    /// (the last, when `keep_last`) is history.
    pub fn retire_rewritten_incrs(&mut self, keep_last: bool) {
        let keep = usize::from(keep_last && !self.incrs.is_empty());
        let cut = self.incrs.len() - keep;
        for mut f in self.incrs.drain(..cut).rev() {
            f.kind = FileKind::History;
            self.history.insert(0, f);
        }
    }

    /// The files that hold data, in load order: the base, then increments.
    pub fn data_files(&self) -> impl Iterator<Item = &AofFile> {
        self.base.iter().chain(&self.incrs)
    }
}

fn trim(b: &[u8]) -> &[u8] {
    let is_space = |c: &u8| matches!(c, b' ' | b'\t' | b'\r' | b'\n');
    let start = b.iter().position(|c| !is_space(c)).unwrap_or(b.len());
    let end = b
        .iter()
        .rposition(|c| !is_space(c))
        .map_or(start, |i| i + 1);
    &b[start..end]
}

/// C's `atoll`: optional sign and leading digits; anything else is 0.
fn atoll(b: &[u8]) -> i64 {
    let (neg, digits) = match b.first() {
        Some(b'-') => (true, &b[1..]),
        Some(b'+') => (false, &b[1..]),
        _ => (false, b),
    };
    let mut n: i64 = 0;
    for &c in digits.iter().take_while(|c| c.is_ascii_digit()) {
        n = n.saturating_mul(10).saturating_add((c - b'0') as i64);
    }
    if neg { -n } else { n }
}

/// Redis's `sdssplitargs`: words separated by spaces, `"..."` with
/// backslash escapes (`\xHH` too) and `'...'` with `\'`. A closing quote
/// must be followed by a space or the end. `None` on unbalanced quotes.
pub fn split_args(line: &[u8]) -> Option<Vec<Vec<u8>>> {
    let mut words = Vec::new();
    let mut i = 0;
    loop {
        while i < line.len() && line[i].is_ascii_whitespace() {
            i += 1;
        }
        if i == line.len() {
            return Some(words);
        }
        let mut word = Vec::new();
        match line[i] {
            b'"' => {
                i += 1;
                loop {
                    let c = *line.get(i)?;
                    match c {
                        b'\\'
                            if line.get(i + 1) == Some(&b'x')
                                && line.get(i + 2).is_some_and(u8::is_ascii_hexdigit)
                                && line.get(i + 3).is_some_and(u8::is_ascii_hexdigit) =>
                        {
                            let hex = std::str::from_utf8(&line[i + 2..i + 4]).ok()?;
                            word.push(u8::from_str_radix(hex, 16).ok()?);
                            i += 4;
                        }
                        b'\\' if i + 1 < line.len() => {
                            word.push(match line[i + 1] {
                                b'n' => b'\n',
                                b'r' => b'\r',
                                b't' => b'\t',
                                b'b' => 8,
                                b'a' => 7,
                                other => other,
                            });
                            i += 2;
                        }
                        b'"' => {
                            i += 1;
                            if i < line.len() && !line[i].is_ascii_whitespace() {
                                return None;
                            }
                            break;
                        }
                        _ => {
                            word.push(c);
                            i += 1;
                        }
                    }
                }
            }
            b'\'' => {
                i += 1;
                loop {
                    let c = *line.get(i)?;
                    match c {
                        b'\\' if line.get(i + 1) == Some(&b'\'') => {
                            word.push(b'\'');
                            i += 2;
                        }
                        b'\'' => {
                            i += 1;
                            if i < line.len() && !line[i].is_ascii_whitespace() {
                                return None;
                            }
                            break;
                        }
                        _ => {
                            word.push(c);
                            i += 1;
                        }
                    }
                }
            }
            _ => {
                while i < line.len() && !line[i].is_ascii_whitespace() {
                    word.push(line[i]);
                    i += 1;
                }
            }
        }
        words.push(word);
    }
}

/// A file name as the manifest writes it: quoted with escapes when it
/// holds a space, a quote, a backslash or a control byte (Redis's
/// `sdsneedsrepr` and `sdscatrepr`).
fn repr_if_needed(name: &str) -> String {
    // A leading quote of either kind would open a quoted word when read.
    let needs = name.starts_with('\'')
        || name.bytes().any(|c| {
            matches!(c, b'\\' | b'"' | b'\n' | b'\r' | b'\t' | 7 | 8 | b' ')
                || !(0x20..0x7f).contains(&c)
        });
    if !needs {
        return name.to_string();
    }
    let mut out = String::from("\"");
    for c in name.bytes() {
        match c {
            b'\\' => out.push_str("\\\\"),
            b'"' => out.push_str("\\\""),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            7 => out.push_str("\\a"),
            8 => out.push_str("\\b"),
            c if (0x20..0x7f).contains(&c) => out.push(c as char),
            c => out.push_str(&format!("\\x{c:02x}")),
        }
    }
    out.push('"');
    out
}

// ---------------------------------------------------------------------------
// Commands
// ---------------------------------------------------------------------------

/// Appends one command as RESP multibulk (Redis's
/// `catAppendOnlyGenericCommand`).
pub fn put_command<A: AsRef<[u8]>>(out: &mut Vec<u8>, argv: &[A]) {
    put_header(out, argv.len());
    for a in argv {
        put_bulk(out, a.as_ref());
    }
}

pub fn put_header(out: &mut Vec<u8>, argc: usize) {
    let mut tmp = [0u8; 24];
    out.push(b'*');
    out.extend_from_slice(format_i64(argc as i64, &mut tmp));
    out.extend_from_slice(b"\r\n");
}

pub fn put_bulk(out: &mut Vec<u8>, a: &[u8]) {
    let mut tmp = [0u8; 24];
    out.reserve(a.len() + 16);
    out.push(b'$');
    out.extend_from_slice(format_i64(a.len() as i64, &mut tmp));
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(a);
    out.extend_from_slice(b"\r\n");
}

fn put_elem(out: &mut Vec<u8>, e: Elem) {
    e.with_bytes(|b| put_bulk(out, b));
}

/// `SELECT <db>`, as the file switches database.
/// The commands that rebuild the function libraries (Redis's
/// rewriteFunctions): a FUNCTION LOAD of each library's code.
pub fn put_functions(out: &mut Vec<u8>, codes: &[bytes::Bytes]) {
    for code in codes {
        put_command(out, &[&b"FUNCTION"[..], b"LOAD", code]);
    }
}

pub fn put_select(out: &mut Vec<u8>, db: usize) {
    let mut tmp = [0u8; 24];
    put_command(
        out,
        &[b"SELECT".as_slice(), format_i64(db as i64, &mut tmp)],
    );
}

/// A timestamp annotation (`#TS:<unix seconds>`), as
/// `aof-timestamp-enabled` writes them.
pub fn put_timestamp(out: &mut Vec<u8>, unix_s: u64) {
    out.extend_from_slice(format!("#TS:{unix_s}\r\n").as_bytes());
}

/// Writes one key as the commands that rebuild it (Redis's
/// `rewriteAppendOnlyFileRio`): SET, or RPUSH/SADD/HMSET/ZADD in batches of 64
/// items, then PEXPIREAT when it has a deadline.
pub fn put_key_commands(out: &mut Vec<u8>, key: &[u8], value: &Value, expire_ms: u64) {
    match value {
        Value::Str(s) => {
            put_header(out, 3);
            put_bulk(out, b"SET");
            put_bulk(out, key);
            s.with_bytes(|b| put_bulk(out, b));
        }
        Value::List(list) => {
            let total = list.len();
            let mut left = total;
            let mut in_batch = 0;
            list.walk_forward(0, |_, e| {
                if in_batch == 0 {
                    let n = left.min(ITEMS_PER_COMMAND);
                    put_header(out, 2 + n);
                    put_bulk(out, b"RPUSH");
                    put_bulk(out, key);
                }
                put_elem(out, e);
                in_batch += 1;
                left -= 1;
                if in_batch == ITEMS_PER_COMMAND {
                    in_batch = 0;
                }
                true
            });
        }
        Value::Set(set) => {
            let mut left = set.len();
            let mut in_batch = 0;
            set.for_each(|e| {
                if in_batch == 0 {
                    let n = left.min(ITEMS_PER_COMMAND);
                    put_header(out, 2 + n);
                    put_bulk(out, b"SADD");
                    put_bulk(out, key);
                }
                put_elem(out, e);
                in_batch += 1;
                left -= 1;
                if in_batch == ITEMS_PER_COMMAND {
                    in_batch = 0;
                }
            });
        }
        Value::Hash(hash) => put_hash_commands(out, key, hash),
        Value::ZSet(z) => {
            // ZADD score member pairs, 64 members a command, each score as
            // `%.17g` (Redis's rioWriteBulkDouble).
            let mut left = z.len();
            let mut in_batch = 0;
            for (m, s) in z.iter() {
                if in_batch == 0 {
                    let n = left.min(ITEMS_PER_COMMAND);
                    put_header(out, 2 + 2 * n);
                    put_bulk(out, b"ZADD");
                    put_bulk(out, key);
                }
                put_bulk(out, crate::util::format_double(s).as_bytes());
                put_elem(out, m);
                in_batch += 1;
                left -= 1;
                if in_batch == ITEMS_PER_COMMAND {
                    in_batch = 0;
                }
            }
        }
        Value::Stream(s) => put_stream_commands(out, key, s),
    }
    if expire_ms != 0 {
        put_header(out, 3);
        put_bulk(out, b"PEXPIREAT");
        put_bulk(out, key);
        put_bulk(out, expire_ms.to_string().as_bytes());
    }
}

/// A stream as Redis's rewriteStreamObject writes it: an XADD per entry
/// (or, for an empty stream, one added and trimmed away), XSETID for its
/// IDs and counters, then each group created at its last ID with each
/// pending entry claimed back by its consumer, and consumers holding
/// nothing created as they are.
fn put_stream_commands(out: &mut Vec<u8>, key: &[u8], s: &crate::types::stream::Stream) {
    use crate::types::stream::{StreamId, id_text};
    if s.is_empty() {
        put_command::<&[u8]>(out, &[b"XADD", key, b"MAXLEN", b"0", b"0-1", b"x", b"y"]);
    }
    for (id, entry) in s.log.range(StreamId::MIN, StreamId::MAX, false) {
        put_header(out, 3 + 2 * entry.field_count());
        put_bulk(out, b"XADD");
        put_bulk(out, key);
        put_bulk(out, &id_text(id));
        for (f, v) in entry.fields() {
            put_elem(out, f);
            put_elem(out, v);
        }
    }
    let added = s.entries_added.to_string();
    put_command::<&[u8]>(
        out,
        &[
            b"XSETID",
            key,
            &id_text(s.last_id),
            b"ENTRIESADDED",
            added.as_bytes(),
            b"MAXDELETEDID",
            &id_text(s.max_deleted),
        ],
    );
    for (name, g) in &s.groups {
        let read = g.entries_read.to_string();
        let last = id_text(g.last_id);
        put_command::<&[u8]>(
            out,
            &[
                b"XGROUP",
                b"CREATE",
                key,
                name,
                &last,
                b"ENTRIESREAD",
                read.as_bytes(),
            ],
        );
        for (cname, c) in &g.consumers {
            if c.pel.is_empty() {
                put_command::<&[u8]>(out, &[b"XGROUP", b"CREATECONSUMER", key, name, cname]);
                continue;
            }
            for id in &c.pel {
                let Some(nack) = g.pel.get(id) else {
                    continue;
                };
                let time = nack.delivery_time.to_string();
                let count = nack.delivery_count.to_string();
                put_command::<&[u8]>(
                    out,
                    &[
                        b"XCLAIM",
                        key,
                        name,
                        cname,
                        b"0",
                        &id_text(*id),
                        b"TIME",
                        time.as_bytes(),
                        b"RETRYCOUNT",
                        count.as_bytes(),
                        b"JUSTID",
                        b"FORCE",
                    ],
                );
            }
        }
    }
}

fn put_hash_commands(out: &mut Vec<u8>, key: &[u8], hash: &Hash) {
    let mut left = hash.len();
    let mut in_batch = 0;
    for (field, val) in hash.iter() {
        if in_batch == 0 {
            let n = left.min(ITEMS_PER_COMMAND);
            put_header(out, 2 + 2 * n);
            put_bulk(out, b"HMSET");
            put_bulk(out, key);
        }
        put_elem(out, field);
        put_elem(out, val);
        in_batch += 1;
        left -= 1;
        if in_batch == ITEMS_PER_COMMAND {
            in_batch = 0;
        }
    }
}

/// What the next bytes of a command file hold.
#[derive(Debug, PartialEq, Eq)]
pub enum Next {
    /// A whole command, and the offset just past it.
    Command(Vec<Bytes>, usize),
    /// An annotation line (`#...`), skipped; the offset past it.
    Annotation(usize),
    /// The data ends cleanly here.
    End,
    /// The data ends inside a command: more may follow (or the file was
    /// cut short).
    Incomplete,
    /// Not a command file at this offset (the offset of the fault).
    Malformed(usize),
}

/// Reads the command that starts at `at` in `data`. Lengths are checked
/// against the bytes present before anything is allocated for them.
pub fn next_command(data: &[u8], at: usize) -> Next {
    let Some(first) = data.get(at) else {
        return Next::End;
    };
    if *first == b'#' {
        return match find_lf(data, at) {
            Some(end) => Next::Annotation(end + 1),
            // A partial annotation at the very end is skipped, as Redis's
            // fgets loop does.
            None => Next::End,
        };
    }
    if *first != b'*' {
        return Next::Malformed(at);
    }
    let Some((argc, mut pos)) = read_count(data, at) else {
        return incomplete_or_malformed(data, at);
    };
    if argc < 1 {
        return Next::Malformed(at);
    }
    let mut argv = Vec::with_capacity((argc as usize).min(1024));
    for _ in 0..argc {
        match data.get(pos) {
            None => return Next::Incomplete,
            Some(b'$') => {}
            Some(_) => return Next::Malformed(pos),
        }
        let Some((len, body)) = read_count(data, pos) else {
            return incomplete_or_malformed(data, pos);
        };
        if len < 0 {
            return Next::Malformed(pos);
        }
        let len = len as usize;
        let Some(end) = body.checked_add(len).filter(|&e| e + 2 <= data.len()) else {
            return Next::Incomplete;
        };
        if &data[end..end + 2] != b"\r\n" {
            return Next::Malformed(end);
        }
        argv.push(Bytes::copy_from_slice(&data[body..end]));
        pos = end + 2;
    }
    Next::Command(argv, pos)
}

fn find_lf(data: &[u8], from: usize) -> Option<usize> {
    data[from..]
        .iter()
        .position(|&b| b == b'\n')
        .map(|i| from + i)
}

/// A `*<n>\r\n` or `$<n>\r\n` line at `at`: the number and the offset
/// after the line. `None` if the line is incomplete or not a number.
fn read_count(data: &[u8], at: usize) -> Option<(i64, usize)> {
    let lf = find_lf(data, at).filter(|&lf| lf - at < COUNT_LINE_MAX)?;
    let line = data.get(at + 1..lf)?;
    let digits = line.strip_suffix(b"\r")?;
    let text = std::str::from_utf8(digits).ok()?;
    let n: i64 = text.parse().ok()?;
    Some((n, lf + 1))
}

/// A count line that did not parse: incomplete when no newline has come
/// yet and the bytes so far could still begin a count (a sign, digits, a
/// final `\r`), malformed otherwise.
fn incomplete_or_malformed(data: &[u8], at: usize) -> Next {
    let rest = &data[(at + 1).min(data.len())..];
    let digits = rest
        .strip_prefix(b"-")
        .or_else(|| rest.strip_prefix(b"+"))
        .unwrap_or(rest);
    let digits = digits.strip_suffix(b"\r").unwrap_or(digits);
    let could_be_count = digits.iter().all(u8::is_ascii_digit);
    match find_lf(data, at) {
        None if rest.len() < COUNT_LINE_MAX && could_be_count => Next::Incomplete,
        _ => Next::Malformed(at),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_round_trips_and_names_files_as_redis() {
        let mut m = Manifest::default();
        assert_eq!(
            m.new_base("appendonly.aof", true),
            "appendonly.aof.1.base.rdb"
        );
        assert_eq!(m.new_incr("appendonly.aof"), "appendonly.aof.1.incr.aof");
        assert_eq!(
            m.render(),
            "file appendonly.aof.1.base.rdb seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\n"
        );
        m.new_incr("appendonly.aof");
        m.new_base("appendonly.aof", false);
        m.retire_rewritten_incrs(true);
        assert_eq!(
            m.render(),
            "file appendonly.aof.2.base.aof seq 2 type b\n\
             file appendonly.aof.1.incr.aof seq 1 type h\n\
             file appendonly.aof.1.base.rdb seq 1 type h\n\
             file appendonly.aof.2.incr.aof seq 2 type i\n"
        );
        assert_eq!(Manifest::parse(m.render().as_bytes()).unwrap(), m);
        let odd = Manifest {
            base: Some(AofFile {
                name: "my file \"x\".aof".into(),
                seq: 3,
                kind: FileKind::Base,
            }),
            base_seq: 3,
            ..Manifest::default()
        };
        assert_eq!(Manifest::parse(odd.render().as_bytes()).unwrap(), odd);
    }

    #[test]
    fn manifest_errors_are_redis_s() {
        let err = |t: &str| Manifest::parse(t.as_bytes()).unwrap_err().reason;
        assert_eq!(err(""), "Found an empty AOF manifest");
        assert_eq!(err("file a seq 1\n"), "Invalid AOF manifest file format");
        assert_eq!(
            err("file a seq 1 type b"),
            "The AOF manifest file contains too long line"
        );
        assert_eq!(
            err("file a seq 1 type b\nfile b seq 2 type b\n"),
            "Found duplicate base file information"
        );
        assert_eq!(
            err("file a seq 2 type i\nfile b seq 1 type i\n"),
            "Found a non-monotonic sequence number"
        );
        assert_eq!(err("file a seq 1 type x\n"), "Unknown AOF file type");
        assert_eq!(
            err("file ../a seq 1 type b\n"),
            "File can't be a path, just a filename"
        );
        assert_eq!(
            err("file \"a seq 1 type b\n"),
            "Invalid AOF manifest file format"
        );
        // Comments and unknown keys are fine.
        let m = Manifest::parse(b"# hi\nfile a seq 1 type b extra x\n").unwrap();
        assert_eq!(m.base.unwrap().name, "a");
    }

    #[test]
    fn commands_read_back_and_truncation_is_told_apart() {
        let mut buf = Vec::new();
        put_timestamp(&mut buf, 1700000000);
        put_select(&mut buf, 3);
        let start = buf.len();
        put_command(&mut buf, &[&b"SET"[..], b"k", b"v\r\nx"]);
        let mut at = 0;
        let mut got = Vec::new();
        loop {
            match next_command(&buf, at) {
                Next::Command(argv, next) => {
                    got.push(argv);
                    at = next;
                }
                Next::Annotation(next) => at = next,
                Next::End => break,
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(got.len(), 2);
        assert_eq!(got[1][2], Bytes::from_static(b"v\r\nx"));
        // Every cut inside the last command is incomplete, never malformed.
        for cut in start + 1..buf.len() {
            assert_eq!(
                next_command(&buf[..cut], start),
                Next::Incomplete,
                "cut {cut}"
            );
        }
        assert_eq!(next_command(b"SET k v\r\n", 0), Next::Malformed(0));
        assert_eq!(next_command(b"*1\r\n$3\r\nabcXY", 0), Next::Malformed(11));
        assert_eq!(next_command(b"*0\r\n", 0), Next::Malformed(0));
        assert_eq!(next_command(b"*x\r\n", 0), Next::Malformed(0));
        assert_eq!(next_command(b"*1\r\n$99999999999\r\n", 0), Next::Incomplete);
    }
}
