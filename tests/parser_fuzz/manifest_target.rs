//! The AOF manifest parser (`persist::aof::format::Manifest::parse`) as a
//! fuzz target.
//!
//! The manifest is read at start-up and by `DEBUG LOADAOF` from a file
//! anyone who can write the directory controls, and ferrokv writes back
//! what it parsed (with its own changes) whenever it opens a file or ends
//! a rewrite. One check parses an input and requires:
//!
//! - **No panic** (the engine catches them).
//! - **What the loader relies on**: every file named is a bare name (not
//!   empty, no `/`), incremental files come in increasing sequence order,
//!   and the highest sequence numbers given out are the base's and the
//!   last incremental file's.
//! - **A round trip.** A manifest that parsed renders as text that parses
//!   back as the same manifest: otherwise the file ferrokv writes is one
//!   it (or redis-server) refuses, or reads as other files, at the next
//!   start. The one exception is a manifest of comments only: it parses
//!   as empty (as Redis's does), and an empty manifest renders as nothing,
//!   which is refused as empty (as Redis's is); ferrokv never writes one.

use ferrokv::persist::aof::format::{FileKind, Manifest};
use ferrokv::util::Rng;

use crate::engine::{Failure, Target};

/// A parsed manifest breaks what the loader relies on.
pub const BAD_MANIFEST: &str = "a parsed manifest the loader cannot use";
/// A parsed manifest does not read back the same once rendered.
pub const NO_ROUND_TRIP: &str = "a rendered manifest reads back differently";

/// The AOF manifest parser.
pub struct AofManifest;

impl Target for AofManifest {
    fn name(&self) -> &'static str {
        "aof manifest parser"
    }

    fn seeds(&self) -> Vec<Vec<u8>> {
        seeds()
    }

    fn dictionary(&self) -> &'static [&'static [u8]] {
        &[
            b"file ",
            b" seq ",
            b" type ",
            b" b",
            b" h",
            b" i",
            b"\n",
            b"\r\n",
            b"#",
            b" ",
            b"\t",
            b"\"",
            b"'",
            b"\\",
            b"\\x",
            b"\\x41",
            b"\\'",
            b"/",
            b"file appendonly.aof.2.incr.aof seq 2 type i\n",
        ]
    }

    fn generate(&self, rng: &mut Rng) -> Option<Vec<u8>> {
        Some(generate(rng))
    }

    fn check(&self, input: &[u8], _variant: u64) -> Result<(), Failure> {
        check(input)
    }
}

fn check(input: &[u8]) -> Result<(), Failure> {
    let Ok(manifest) = Manifest::parse(input) else {
        return Ok(());
    };
    usable(&manifest)?;
    let rendered = manifest.render();
    if manifest == Manifest::default() {
        if !rendered.is_empty() {
            return Err(Failure {
                kind: NO_ROUND_TRIP,
                detail: format!("an empty manifest renders as {rendered:?}"),
            });
        }
        return Ok(());
    }
    let again = Manifest::parse(rendered.as_bytes());
    if again.as_ref() != Ok(&manifest) {
        return Err(Failure {
            kind: NO_ROUND_TRIP,
            detail: format!(
                "parsed as {manifest:?}\nrendered as b\"{}\"\nwhich parses as {again:?}",
                rendered.as_bytes().escape_ascii()
            ),
        });
    }
    Ok(())
}

/// What the loader takes for granted in a parsed manifest.
fn usable(m: &Manifest) -> Result<(), Failure> {
    let bad = |what: String| {
        Err(Failure {
            kind: BAD_MANIFEST,
            detail: format!("{what}, in {m:?}"),
        })
    };
    let files = m.base.iter().chain(&m.history).chain(&m.incrs);
    for f in files {
        if f.name.is_empty() || f.name.contains('/') {
            return bad(format!("a file named {:?}", f.name));
        }
        if f.seq == 0 {
            return bad(format!("{:?} with sequence number 0", f.name));
        }
    }
    let kinds = [
        (m.base.iter().collect::<Vec<_>>(), FileKind::Base),
        (m.history.iter().collect(), FileKind::History),
        (m.incrs.iter().collect(), FileKind::Incr),
    ];
    for (files, kind) in kinds {
        if let Some(f) = files.iter().find(|f| f.kind != kind) {
            return bad(format!(
                "{:?} listed as {kind:?} but of kind {:?}",
                f.name, f.kind
            ));
        }
    }
    if m.incrs.windows(2).any(|w| w[0].seq >= w[1].seq) {
        return bad("incremental files out of sequence order".to_string());
    }
    if m.base_seq != m.base.as_ref().map_or(0, |b| b.seq) {
        return bad(format!("base_seq {}", m.base_seq));
    }
    if m.incr_seq != m.incrs.last().map_or(0, |f| f.seq) {
        return bad(format!("incr_seq {}", m.incr_seq));
    }
    Ok(())
}

/// Manifests as Redis 7.0 writes them, the variations its parser accepts
/// (comments, CRLF, quoting, key order, extra keys), each error it
/// reports, and line lengths at its limit.
fn seeds() -> Vec<Vec<u8>> {
    let small: &[&[u8]] = &[
        b"file appendonly.aof.1.base.rdb seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\n",
        b"file appendonly.aof.2.base.aof seq 2 type b\n\
          file appendonly.aof.1.incr.aof seq 1 type h\n\
          file appendonly.aof.1.base.rdb seq 1 type h\n\
          file appendonly.aof.2.incr.aof seq 2 type i\n\
          file appendonly.aof.3.incr.aof seq 3 type i\n",
        b"file appendonly.aof seq 1 type b\n",
        b"file appendonly.aof.5.incr.aof seq 5 type i\n",
        b"# a comment\r\nfile a seq 1 type b\r\n#\n  file b seq 2 type i  \n",
        b"type b seq 1 file a\nTYPE i SEQ 2 FILE b extra yes\n",
        b"file \"my file \\\"x\\\".aof\" seq 3 type b\n",
        b"file 'it''s' seq 1 type b\n",
        b"file 'a\\'b' seq 1 type b\n",
        b"file \"\\x00\\xff\\t\" seq 1 type b\n",
        b"file a seq 1 type b file c\n",
        b"file a seq 01 type bx\n",
        b"file a seq -1 type b\n",
        b"file a seq 9223372036854775808 type i\n",
        b"file a seq 0 type b\n",
        b"# only a comment\n",
        b"",
        b"\n",
        b"file a seq 1\n",
        b"file a seq 1 type b",
        b"file a seq 1 type b\nfile b seq 2 type b\n",
        b"file a seq 2 type i\nfile b seq 1 type i\n",
        b"file a seq 1 type x\n",
        b"file ../a seq 1 type b\n",
        b"file \"a seq 1 type b\n",
        b"file \"a\"b seq 1 type b\n",
        b"file \"\" seq 1 type b\n",
    ];
    let mut seeds: Vec<Vec<u8>> = small.iter().map(|s| s.to_vec()).collect();
    // Lines of 1024 bytes with their LF (the longest Redis reads) and 1025.
    for len in [1024, 1025] {
        let head = b"file ";
        let tail = b" seq 1 type b\n";
        let name = vec![b'n'; len - head.len() - tail.len()];
        seeds.push([&head[..], &name, tail].concat());
    }
    seeds
}

fn below(rng: &mut Rng, n: usize) -> usize {
    rng.below(n as u64) as usize
}

fn pick<T: Copy>(rng: &mut Rng, items: &[T]) -> T {
    items[below(rng, items.len())]
}

/// A manifest of a few lines, mostly well formed, in every style the
/// parser takes.
fn generate(rng: &mut Rng) -> Vec<u8> {
    let mut out = Vec::new();
    let mut seq = 0u64;
    for _ in 0..1 + below(rng, 6) {
        if below(rng, 8) == 0 {
            out.extend_from_slice(pick(
                rng,
                &[&b"#"[..], b"# comment", b"#file a seq 1 type b"],
            ));
            out.extend_from_slice(pick(rng, &[&b"\n"[..], b"\r\n"]));
            continue;
        }
        seq += 1 + rng.below(3);
        let seq_text = match below(rng, 10) {
            0 => pick(
                rng,
                &["0", "-1", "01", "+2", "9223372036854775807", "1x", ""],
            )
            .to_string(),
            _ => seq.to_string(),
        };
        let kind: &[u8] = pick(
            rng,
            &[&b"b"[..], b"h", b"i", b"i", b"i", b"x", b"bi", b"\"\""],
        );
        let mut pairs: Vec<(Vec<u8>, Vec<u8>)> = vec![
            (b"file".to_vec(), file_name(rng)),
            (b"seq".to_vec(), seq_text.into_bytes()),
            (b"type".to_vec(), kind.to_vec()),
        ];
        if below(rng, 6) == 0 {
            pairs.push((b"extra".to_vec(), b"x".to_vec()));
        }
        if below(rng, 6) == 0 {
            let i = below(rng, pairs.len());
            let j = below(rng, pairs.len());
            pairs.swap(i, j);
        }
        if below(rng, 12) == 0 {
            pairs[0].0 = b"FILE".to_vec();
        }
        if below(rng, 8) == 0 {
            out.extend_from_slice(pick(rng, &[&b" "[..], b"\t", b"  "]));
        }
        for (i, (key, value)) in pairs.iter().enumerate() {
            if i > 0 {
                out.extend_from_slice(pick(rng, &[&b" "[..], b" ", b" ", b"  ", b"\t"]));
            }
            out.extend_from_slice(key);
            out.push(b' ');
            out.extend_from_slice(value);
        }
        out.extend_from_slice(pick(rng, &[&b"\n"[..], b"\n", b"\r\n", b" \n", b""]));
    }
    out
}

/// A file name as a manifest writes it: bare, in double quotes with
/// escapes, or in single quotes.
fn file_name(rng: &mut Rng) -> Vec<u8> {
    let plain: &[u8] = pick(
        rng,
        &[
            &b"appendonly.aof.1.base.rdb"[..],
            b"appendonly.aof.2.incr.aof",
            b"a",
            b"x.aof",
            b"..",
        ],
    );
    match below(rng, 8) {
        0 => {
            let pieces: &[&[u8]] = &[
                b"a",
                b" ",
                b"\\\"",
                b"\\\\",
                b"\\n",
                b"\\x41",
                b"\\xff",
                b"\\x00",
                b"'",
                b"/",
                b"\\t",
                b"\xc3\xa9",
            ];
            let mut name = vec![b'"'];
            for _ in 0..1 + below(rng, 5) {
                name.extend_from_slice(pick(rng, pieces));
            }
            name.push(b'"');
            name
        }
        1 => {
            let pieces: &[&[u8]] = &[b"a", b" ", b"\\'", b"\"", b"\\", b"\\n"];
            let mut name = vec![b'\''];
            for _ in 0..1 + below(rng, 4) {
                name.extend_from_slice(pick(rng, pieces));
            }
            name.push(b'\'');
            name
        }
        2 => [
            plain,
            pick(rng, &[&b"\xff"[..], b"\xc3\xa9", b"\x7f", b"\x0b"]),
        ]
        .concat(),
        _ => plain.to_vec(),
    }
}
