//! The AOF's command reader (`persist::aof::format::next_command`) as a
//! fuzz target.
//!
//! The loader reads incremental files (and what follows an old AOF's RDB
//! preamble) with `next_command`, one chunk of the file at a time: a file
//! anyone who can write the directory controls, and one a crash may have
//! cut anywhere. One check walks an input the way the loader does, from
//! offset 0 or (sometimes) from any offset, past the end too, then again
//! from the line after wherever the walk stopped short, and requires:
//!
//! - **No panic** (the engine catches them).
//! - **Offsets that make sense.** A command or annotation ends after its
//!   start and within the input (an annotation at its LF); `End` comes
//!   only at the end of the input or at a last annotation without its LF;
//!   `Malformed` names an offset in the input, not before the start.
//! - **Commands that round-trip.** A command re-encoded with `put_command`
//!   reads back as the same arguments, ending where the encoding ends.
//! - **A cut is never malformed.** Wherever a stream that reads cleanly to
//!   its end is cut (a read that stopped short, a file cut by a crash),
//!   the cut reads as `End` (at a boundary, or inside an annotation) or
//!   `Incomplete` (inside a command), never `Malformed`: the loader reads
//!   more there, or cuts the file at its last whole command, and must not
//!   refuse a sound file. What comes before the cut reads as before.
//! - **No allocation from a claimed length**: at most a bound linear in
//!   the bytes present, besides Redis's cap of 1024 argument slots.

use bytes::Bytes;
use ferrokv::persist::aof::format::{Next, next_command, put_command, put_select, put_timestamp};
use ferrokv::util::Rng;

use crate::engine::{Failure, Target};
use crate::meter;

/// An offset out of place: an end not after its start or past the input,
/// `End` before the end, `Malformed` outside the input.
pub const BAD_OFFSET: &str = "an offset out of place";
/// A command re-encoded with `put_command` does not read back the same.
pub const NO_ROUND_TRIP: &str = "a re-encoded command reads back differently";
/// A cut of a stream that reads cleanly reads as malformed, or reads
/// differently before the cut.
pub const CUT_MISREAD: &str = "a cut of a sound stream is misread";
/// A call allocated more than the linear bound.
pub const ALLOCATES_TOO_MUCH: &str = "allocates beyond the linear bound";

/// What one `next_command` call may allocate per byte from its offset to
/// the end of the input: the cheapest argument, `$0\r\n\r\n`, is 6 bytes
/// for a 32-byte `Bytes` in a vector that may have doubled (64), about 11
/// per byte; a payload is copied once (1 per byte). 32 leaves room.
const ALLOWED_BYTES_PER_BYTE: usize = 32;
/// What one call may allocate whatever the input: the argument vector is
/// sized from the claimed count up to 1024 slots of 32 bytes, as Redis
/// caps its `argv`, plus a little.
const ALLOWED_FIXED_BYTES: usize = 1024 * 32 + 4 * 1024;

/// Inputs up to this long are cut at every offset; longer ones at
/// [`RANDOM_CUTS`] random offsets.
const EVERY_CUT_MAX_BYTES: usize = 512;
const RANDOM_CUTS: usize = 64;

/// The AOF command reader.
pub struct AofCommands;

impl Target for AofCommands {
    fn name(&self) -> &'static str {
        "aof command reader"
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
            b"#",
            b"#TS:1700000000\r\n",
            b"*1\r\n",
            b"*0\r\n",
            b"*-1\r\n",
            b"$0\r\n\r\n",
            b"$1\r\na\r\n",
            b"$-1\r\n",
            b"*1\r\n$5\r\nMULTI\r\n",
            b"*1\r\n$4\r\nEXEC\r\n",
            b"*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n",
            b"REDIS0009",
            b"+",
            b"0000000000",
        ]
    }

    fn generate(&self, rng: &mut Rng) -> Option<Vec<u8>> {
        Some(generate(rng))
    }

    fn check(&self, input: &[u8], variant: u64) -> Result<(), Failure> {
        check(input, variant)
    }
}

fn fail(kind: &'static str, detail: String) -> Result<(), Failure> {
    Err(Failure { kind, detail })
}

fn check(input: &[u8], variant: u64) -> Result<(), Failure> {
    let mut rng = Rng::new(variant);
    // Mostly from the start, as the loader reads a file; sometimes from
    // anywhere, the end and one past it included.
    let start = if rng.below(4) == 0 {
        below(&mut rng, input.len() + 2)
    } else {
        0
    };
    let mut from = start;
    loop {
        let walk = walk(input, from)?;
        for item in &walk.items {
            if let Next::Command(argv, _) = item {
                round_trip(argv)?;
            }
        }
        // What was read whole is a sound stream, whatever follows it.
        let sound_end = match walk.stop {
            Next::End => input.len(),
            _ => walk.items.last().map_or(from, item_end),
        };
        if sound_end > from {
            check_cuts(&input[..sound_end], from, &walk, &mut rng)?;
        }
        if walk.stop == Next::End {
            return Ok(());
        }
        // Then on from the next line, as if the file began there: any
        // offset must read as well, and so an input shrinks to what fails
        // without needing whatever preceded it to read cleanly.
        match input[sound_end..].iter().position(|&b| b == b'\n') {
            Some(lf) => from = sound_end + lf + 1,
            None => return Ok(()),
        }
    }
}

/// What a walk read: commands and annotations, then how it stopped
/// (`End`, `Incomplete` or `Malformed`).
struct Walk {
    items: Vec<Next>,
    stop: Next,
}

/// Reads `data` from `start` as the loader does, checking each answer's
/// offsets and allocation.
fn walk(data: &[u8], start: usize) -> Result<Walk, Failure> {
    let mut items = Vec::new();
    let mut at = start;
    loop {
        let (next, allocated) = meter::peak_extra(|| next_command(data, at));
        let allowed = ALLOWED_BYTES_PER_BYTE * data.len().saturating_sub(at) + ALLOWED_FIXED_BYTES;
        if allocated > allowed {
            fail(
                ALLOCATES_TOO_MUCH,
                format!(
                    "next_command at {at} of {} bytes allocated {allocated} bytes (allowed {allowed})",
                    data.len()
                ),
            )?;
        }
        let bad = |what: String| {
            fail(
                BAD_OFFSET,
                format!("at {at} of {} bytes: {what}", data.len()),
            )
        };
        match &next {
            Next::Command(argv, end) => {
                if *end <= at || *end > data.len() {
                    bad(format!(
                        "a command of {} arguments ends at {end}",
                        argv.len()
                    ))?;
                }
                if argv.is_empty() {
                    bad("a command with no arguments".to_string())?;
                }
                at = *end;
            }
            Next::Annotation(end) => {
                if *end <= at || *end > data.len() || data[end - 1] != b'\n' || data[at] != b'#' {
                    bad(format!("an annotation ends at {end}"))?;
                }
                at = *end;
            }
            Next::End => {
                let last_annotation = data.get(at) == Some(&b'#') && !data[at..].contains(&b'\n');
                if at < data.len() && !last_annotation {
                    bad("End before the end".to_string())?;
                }
                return Ok(Walk { items, stop: next });
            }
            Next::Incomplete => {
                if at >= data.len() {
                    bad("Incomplete with nothing left".to_string())?;
                }
                return Ok(Walk { items, stop: next });
            }
            Next::Malformed(fault) => {
                if *fault < at || *fault >= data.len() {
                    bad(format!("Malformed at {fault}"))?;
                }
                return Ok(Walk { items, stop: next });
            }
        }
        items.push(next);
    }
}

/// `argv` encoded by `put_command` reads back as itself.
fn round_trip(argv: &[Bytes]) -> Result<(), Failure> {
    let mut encoded = Vec::new();
    put_command(&mut encoded, argv);
    let read = next_command(&encoded, 0);
    let expected = Next::Command(argv.to_vec(), encoded.len());
    if read != expected {
        fail(
            NO_ROUND_TRIP,
            format!(
                "{} encoded as b\"{}\" reads back as {}",
                show_argv(argv),
                shorten(&encoded),
                show_next(&read)
            ),
        )?;
    }
    Ok(())
}

/// Cuts a stream that reads cleanly from `start` to its end, whose
/// commands and annotations are `walk`'s items: see the module comment.
fn check_cuts(input: &[u8], start: usize, walk: &Walk, rng: &mut Rng) -> Result<(), Failure> {
    let len = input.len();
    let cuts: Vec<usize> = if len - start <= EVERY_CUT_MAX_BYTES {
        (start + 1..len).collect()
    } else {
        (0..RANDOM_CUTS)
            .map(|_| start + 1 + below(rng, len - start - 1))
            .collect()
    };
    // Where each item starts and ends, and whether it is a command.
    let mut spans = Vec::with_capacity(walk.items.len());
    let mut at = start;
    for item in &walk.items {
        let end = item_end(item);
        spans.push((at, end, matches!(item, Next::Command(..))));
        at = end;
    }
    // At every cut, the item it falls in must read as a cut one; some cuts
    // are walked whole, and what comes before them must read as before.
    for &cut in &cuts {
        let prefix = &input[..cut];
        let straddled = spans
            .iter()
            .find(|&&(from, end, _)| from < cut && cut < end);
        let (item_start, expected) = match straddled {
            Some(&(from, _, true)) => (from, Next::Incomplete),
            // An annotation without its LF is skipped as the end.
            Some(&(from, _, false)) => (from, Next::End),
            None => match spans.iter().find(|&&(from, _, _)| from >= cut) {
                // At the start of an item.
                Some(&(from, _, _)) => (from, Next::End),
                // At or in the last annotation, which has no LF.
                None => (at, Next::End),
            },
        };
        let read = next_command(prefix, item_start);
        if read != expected {
            fail(
                CUT_MISREAD,
                format!(
                    "the input, which reads cleanly from {start} to {len}, cut at {cut}: the item \
                     from {item_start} reads as {} instead of {}",
                    show_next(&read),
                    show_next(&expected)
                ),
            )?;
        }
        if rng.below(8) == 0 {
            let cut_walk = walk_plain(prefix, start);
            let before: Vec<&Next> = walk
                .items
                .iter()
                .zip(&spans)
                .filter(|(_, (_, end, _))| *end <= cut)
                .map(|(item, _)| item)
                .collect();
            let cut_items: Vec<&Next> = cut_walk.items.iter().collect();
            if cut_items != before || cut_walk.stop != expected {
                fail(
                    CUT_MISREAD,
                    format!(
                        "the input, which reads cleanly from {start} to {len}, cut at {cut}, reads \
                         {} items then {} instead of {} then {}",
                        cut_items.len(),
                        show_next(&cut_walk.stop),
                        before.len(),
                        show_next(&expected)
                    ),
                )?;
            }
        }
    }
    Ok(())
}

/// Where a walk's item (a command or an annotation) ends.
fn item_end(item: &Next) -> usize {
    match item {
        Next::Command(_, end) | Next::Annotation(end) => *end,
        _ => unreachable!("a walk's items are commands and annotations"),
    }
}

/// A walk without the checks, for comparing a cut's with the whole's.
fn walk_plain(data: &[u8], start: usize) -> Walk {
    let mut items = Vec::new();
    let mut at = start;
    loop {
        let next = next_command(data, at);
        match &next {
            Next::Command(_, end) | Next::Annotation(end) if *end > at => at = *end,
            _ => return Walk { items, stop: next },
        }
        items.push(next);
    }
}

fn show_next(next: &Next) -> String {
    match next {
        Next::Command(argv, end) => format!("Command({}, {end})", show_argv(argv)),
        other => format!("{other:?}"),
    }
}

fn show_argv(argv: &[Bytes]) -> String {
    let shown: Vec<String> = argv
        .iter()
        .take(8)
        .map(|a| format!("b\"{}\"", shorten(a)))
        .collect();
    let more = if argv.len() > 8 {
        format!(" and {} more", argv.len() - 8)
    } else {
        String::new()
    };
    format!("[{}{more}]", shown.join(", "))
}

fn shorten(bytes: &[u8]) -> String {
    const SHOWN_BYTES: usize = 60;
    let cut = &bytes[..bytes.len().min(SHOWN_BYTES)];
    let more = if bytes.len() > SHOWN_BYTES { "..." } else { "" };
    format!("{}{more}", cut.escape_ascii())
}

/// Files as Redis 7.0 and ferrokv write them, their edges, and what a
/// file holds when it is not one (an RDB preamble, a RESP reply, text).
fn seeds() -> Vec<Vec<u8>> {
    let mut seeds = Vec::new();
    let mut file = Vec::new();
    put_select(&mut file, 0);
    put_command(&mut file, &[&b"SET"[..], b"k", b"v"]);
    put_command(&mut file, &[&b"PEXPIREAT"[..], b"k", b"4102444800000"]);
    put_command(&mut file, &[&b"MULTI"[..]]);
    put_command(
        &mut file,
        &[&b"RPUSH"[..], b"l", b"a", b"", b"\r\n", b"\0\xff"],
    );
    put_command(&mut file, &[&b"HSET"[..], b"h", b"f", b"1.5"]);
    put_command(&mut file, &[&b"EXEC"[..]]);
    put_select(&mut file, 15);
    put_command(&mut file, &[&b"SADD"[..], b"s", b"1", b"2", b"3"]);
    seeds.push(file.clone());
    // With timestamp annotations, one of them last and without its LF.
    let mut annotated = Vec::new();
    put_timestamp(&mut annotated, 1_700_000_000);
    annotated.extend_from_slice(&file);
    put_timestamp(&mut annotated, 1_700_000_001);
    put_command(&mut annotated, &[&b"DEL"[..], b"k"]);
    annotated.extend_from_slice(b"#TS:17000");
    seeds.push(annotated);
    // A transaction the file ends inside, and a command cut short.
    let mut cut = Vec::new();
    put_command(&mut cut, &[&b"MULTI"[..]]);
    put_command(&mut cut, &[&b"INCR"[..], b"n"]);
    cut.extend_from_slice(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$10\r\nab");
    seeds.push(cut);
    // A payload bigger than a read chunk would be in a test, and one that
    // holds what looks like commands.
    let mut big = Vec::new();
    put_command(&mut big, &[&b"SET"[..], b"big", &vec![b'x'; 70_000]]);
    let mut nested = Vec::new();
    put_command(&mut nested, &[&b"SET"[..], b"k", b"v"]);
    put_command(&mut big, &[&b"SET"[..], b"k", &nested]);
    seeds.push(big);
    let small: &[&[u8]] = &[
        b"",
        b"*1\r\n$4\r\nPING\r\n",
        b"*0\r\n",
        b"*-1\r\n",
        b"*1\r\n$-1\r\n",
        b"*1\r\n$3\r\nabcXY",
        b"*1\r\n$3\r\nabc\r",
        b"*x\r\n",
        b"*\r\n",
        b"*1\r\n:1\r\n",
        b"*1\n$1\na\r\n",
        b"*1\r\n$01\r\na\r\n",
        b"*+1\r\n$+1\r\na\r\n",
        b"*2\r\n$0\r\n\r\n$0\r\n\r\n",
        b"*1048576\r\n",
        b"*2147483648\r\n$1\r\n",
        b"*9223372036854775807\r\n",
        b"*1\r\n$9223372036854775807\r\n",
        b"*1\r\n$99999999999999999999\r\n",
        b"*1\r\n$536870912\r\nabc",
        b"#\n",
        b"#",
        b"#TS:1\r\n#TS:2\r\n",
        b"SET k v\r\n",
        b"+OK\r\n",
        b"REDIS0009\xfa\x09redis-ver\x067.0.15\xff",
        b"\0\0\0\0",
    ];
    seeds.extend(small.iter().map(|s| s.to_vec()));
    seeds
}

fn below(rng: &mut Rng, n: usize) -> usize {
    rng.below(n as u64) as usize
}

fn pick<T: Copy>(rng: &mut Rng, items: &[T]) -> T {
    items[below(rng, items.len())]
}

/// A file's worth of commands and annotations, often cut short.
fn generate(rng: &mut Rng) -> Vec<u8> {
    let mut out = Vec::new();
    for _ in 0..1 + below(rng, 8) {
        match below(rng, 12) {
            0 => put_select(&mut out, below(rng, 16)),
            1 => put_timestamp(&mut out, 1_700_000_000 + rng.below(1000)),
            2 => out.extend_from_slice(pick(rng, &[&b"#\n"[..], b"#x y\r\n", b"#TS:\n"])),
            3 => {
                put_command(&mut out, &[&b"MULTI"[..]]);
                for _ in 0..below(rng, 3) {
                    put_random_command(rng, &mut out);
                }
                put_command(&mut out, &[&b"EXEC"[..]]);
            }
            4 => put_odd_command(rng, &mut out),
            _ => put_random_command(rng, &mut out),
        }
    }
    if below(rng, 4) == 0 {
        let cut = below(rng, out.len() + 1);
        out.truncate(cut);
    }
    out
}

/// An argument: mostly letters, sometimes line ends and type bytes,
/// rarely long.
fn random_arg(rng: &mut Rng) -> Vec<u8> {
    let len = match below(rng, 16) {
        0 => 0,
        1..=11 => 1 + below(rng, 8),
        12..=14 => below(rng, 64),
        _ => below(rng, 2000),
    };
    (0..len)
        .map(|_| match below(rng, 4) {
            0 => pick(rng, b"\r\n*$#\0\xff"),
            _ => b'a' + below(rng, 26) as u8,
        })
        .collect()
}

fn put_random_command(rng: &mut Rng, out: &mut Vec<u8>) {
    let name: &[u8] = pick(
        rng,
        &[&b"SET"[..], b"RPUSH", b"HSET", b"SADD", b"DEL", b"x"],
    );
    let mut argv = vec![name.to_vec()];
    argv.extend((0..below(rng, 5)).map(|_| random_arg(rng)));
    put_command(out, &argv);
}

/// A command whose counts are written in forms `next_command` may or may
/// not take: leading zeros, a sign, a length that is wrong by one.
fn put_odd_command(rng: &mut Rng, out: &mut Vec<u8>) {
    let args: Vec<Vec<u8>> = (0..1 + below(rng, 3)).map(|_| random_arg(rng)).collect();
    let number = |rng: &mut Rng, n: usize| -> String {
        match below(rng, 6) {
            0 => format!("0{n}"),
            1 => format!("+{n}"),
            2 => format!("{}{n}", "0".repeat(below(rng, 30))),
            3 => (n + 1).to_string(),
            4 => n.saturating_sub(1).to_string(),
            _ => n.to_string(),
        }
    };
    out.extend_from_slice(format!("*{}\r\n", number(rng, args.len())).as_bytes());
    for arg in &args {
        out.extend_from_slice(format!("${}\r\n", number(rng, arg.len())).as_bytes());
        out.extend_from_slice(arg);
        out.extend_from_slice(b"\r\n");
    }
}
