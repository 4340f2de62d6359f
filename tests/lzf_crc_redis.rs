//! LZF and CRC-64 against a real `redis-server`: strings of many shapes
//! and sizes are SET there and read back with DUMP, and the payloads must
//! be exactly what `ferrokv::persist::{lzf, crc64}` compute.
//!
//! A DUMP payload of a string is the RDB encoding of the value, then the
//! RDB version (2 bytes) and a CRC-64 of everything before it (8 bytes,
//! little-endian). The value's RDB encoding is one of:
//!
//! - `0x00` (the string type), then `0xC3` (`RDB_ENCVAL << 6 | RDB_ENC_LZF`),
//!   the compressed length and the original length (each RDB
//!   length-encoded), then the LZF bytes: Redis ran
//!   `lzf_compress(value, len, out, len - 4)` and it succeeded, which Redis
//!   tries for every string longer than 20 bytes;
//! - `0x00`, the length, then the bytes: the string was 20 bytes or
//!   shorter, or did not shrink by more than 4 bytes;
//! - `0x00`, then `0xC0`..`0xC2` and an integer, for short decimal strings.
//!
//! For each value the test checks the CRC, and then that our
//! `lzf::compress(value, len - 4)` gives Redis's LZF bytes when Redis
//! compressed, and `None` when Redis stored the value verbatim.
//!
//! Each value is checked twice: under a key of its own, and then set in
//! turn under one reused key, so that values land in memory earlier values
//! were freed from. Redis's compressor starts from an uninitialised hash
//! table, whose stale entries then point into the new value; its checks
//! still keep them from changing the output (see the `lzf` module
//! documentation), and this is where a difference would show.
//!
//! When `redis-server` is not on `PATH`, the test prints that it was
//! skipped and passes, as the other differential tests do.

mod common;

use common::{Client, Frame, parse_frame};
use ferrokv::persist::crc64::crc64;
use ferrokv::persist::lzf;
use ferrokv::util::Rng;

/// The RDB type byte of a string.
const RDB_TYPE_STRING: u8 = 0;
/// `RDB_ENCVAL << 6 | RDB_ENC_LZF`: an LZF-compressed string follows.
const RDB_ENC_LZF_BYTE: u8 = 0xC3;
/// Redis compresses only strings longer than this.
const LZF_MIN_INPUT_BYTES: usize = 21;

/// The value's encoding inside a DUMP payload, as far as this test needs.
enum Stored<'a> {
    /// LZF bytes, with the original length Redis recorded.
    Lzf { data: &'a [u8], original_len: u64 },
    /// The bytes verbatim.
    Raw(&'a [u8]),
    /// A decimal string stored as an integer.
    Integer,
}

/// Reads an RDB length (`rdbLoadLen`): 6 bits, 14 bits, or a 32- or
/// 64-bit big-endian number after a marker byte. Returns the length and the
/// rest of the input, or `None` for a special encoding (top bits `11`).
fn read_len(bytes: &[u8]) -> (Option<u64>, &[u8]) {
    let first = bytes[0];
    match first >> 6 {
        0 => (Some(u64::from(first & 0x3f)), &bytes[1..]),
        1 => (
            Some(u64::from(first & 0x3f) << 8 | u64::from(bytes[1])),
            &bytes[2..],
        ),
        2 => {
            let width = match first {
                0x80 => 4,
                0x81 => 8,
                other => panic!("unknown RDB length marker {other:#x}"),
            };
            let len = bytes[1..1 + width]
                .iter()
                .fold(0u64, |acc, &b| acc << 8 | u64::from(b));
            (Some(len), &bytes[1 + width..])
        }
        _ => (None, bytes),
    }
}

/// Checks a DUMP payload's CRC and returns how the string was stored.
fn parse_payload(payload: &[u8]) -> Stored<'_> {
    assert!(payload.len() >= 11, "payload too short: {payload:?}");
    let (body, crc) = payload.split_at(payload.len() - 8);
    let crc = u64::from_le_bytes(crc.try_into().expect("8 bytes"));
    assert_eq!(crc64(0, body), crc, "CRC-64 of the DUMP payload");
    // The RDB version is 10 for Redis 7.0; another version does not change
    // how strings are stored, so it is not checked.
    let object = &body[..body.len() - 2];
    assert_eq!(object[0], RDB_TYPE_STRING, "type byte");
    let encoded = &object[1..];
    if encoded[0] == RDB_ENC_LZF_BYTE {
        let (compressed_len, rest) = read_len(&encoded[1..]);
        let (original_len, data) = read_len(rest);
        let compressed_len = compressed_len.expect("compressed length");
        assert_eq!(data.len() as u64, compressed_len, "LZF blob length");
        return Stored::Lzf {
            data,
            original_len: original_len.expect("original length"),
        };
    }
    match read_len(encoded) {
        (Some(len), data) => {
            assert_eq!(data.len() as u64, len, "raw string length");
            Stored::Raw(data)
        }
        (None, _) => Stored::Integer,
    }
}

/// Random bytes from a small alphabet with copies of earlier stretches,
/// near and far, which is what real compressible data looks like.
fn random_with_repeats(rng: &mut Rng, len: usize) -> Vec<u8> {
    let mut data = Vec::with_capacity(len);
    while data.len() < len {
        if data.len() > 8 && rng.below(4) > 0 {
            let back = 1 + rng.below(data.len().min(9000) as u64) as usize;
            let start = data.len() - back;
            let n = (3 + rng.below(80) as usize).min(len - data.len());
            for i in 0..n {
                data.push(data[start + i]);
            }
        } else {
            data.push(rng.next_u64() as u8);
        }
    }
    data
}

/// A short random pattern repeated, sometimes with a different first byte
/// so that position 0 (which Redis never matches) matters.
fn repeated_pattern(rng: &mut Rng, len: usize) -> Vec<u8> {
    let pattern_len = 1 + rng.below(40) as usize;
    let pattern: Vec<u8> = (0..pattern_len).map(|_| rng.next_u64() as u8).collect();
    let mut data: Vec<u8> = pattern.iter().copied().cycle().take(len).collect();
    if rng.below(2) == 0 {
        data[0] = data[0].wrapping_add(1);
    }
    data
}

/// Words from a small vocabulary, like text or JSON-ish values.
fn text(rng: &mut Rng, len: usize) -> Vec<u8> {
    const WORDS: &[&str] = &[
        "the",
        "quick",
        "brown",
        "fox",
        "jumps",
        "over",
        "lazy",
        "dog",
        "redis",
        "key",
        "value",
        "{\"id\":",
        "\"name\":",
        "}",
        ",",
        "\n",
        "lorem",
        "ipsum",
        "1234",
        "2024-01-01",
    ];
    let mut data = Vec::with_capacity(len + 16);
    while data.len() < len {
        data.extend_from_slice(WORDS[rng.below(WORDS.len() as u64) as usize].as_bytes());
        data.push(b' ');
    }
    data.truncate(len);
    data
}

fn random(rng: &mut Rng, len: usize) -> Vec<u8> {
    (0..len).map(|_| rng.next_u64() as u8).collect()
}

/// The values to DUMP: every shape at lengths around the boundaries that
/// matter (Redis's 21-byte threshold, 32-byte literal runs, the 6- and
/// 14-bit RDB length encodings, the 8 KiB match window, the 64 Ki hash
/// table), plus random lengths up to 100000.
fn values() -> Vec<Vec<u8>> {
    let mut rng = Rng::new(0x1f2c_4ed5);
    let mut lengths = vec![
        21, 22, 23, 24, 25, 26, 30, 31, 32, 33, 34, 40, 63, 64, 65, 100, 255, 256, 1000, 8191,
        8192, 8193, 8194, 16383, 16384, 16385, 32767, 32768, 65535, 65536, 65537, 99_999, 100_000,
    ];
    for _ in 0..40 {
        lengths.push(21 + rng.below(200) as usize);
        lengths.push(21 + rng.below(100_000 - 21) as usize);
    }
    let mut values = Vec::new();
    for &len in &lengths {
        values.push(random_with_repeats(&mut rng, len));
        values.push(repeated_pattern(&mut rng, len));
        values.push(text(&mut rng, len));
        values.push(vec![b'z'; len]);
        values.push(random(&mut rng, len));
    }
    // Short strings and integers, which Redis does not compress: only the
    // CRC is checked for them.
    for short in [
        &b""[..],
        b"a",
        b"hello world",
        b"12345",
        b"-9000",
        b"aaaaaaaaaaaaaaaaaaaa",
    ] {
        values.push(short.to_vec());
    }
    values
}

fn dump(client: &mut Client, key: &[u8]) -> Vec<u8> {
    let reply = client.cmd(&[&b"DUMP"[..], key]);
    match parse_frame(&reply) {
        Ok(Some((Frame::Bulk(payload), _))) => payload,
        other => panic!("DUMP reply {other:?}"),
    }
}

/// How many values Redis stored each way.
#[derive(Default)]
struct Counts {
    compressed: usize,
    verbatim: usize,
}

/// SETs `value` under `key`, DUMPs it, and checks the payload against our
/// CRC-64 and LZF.
fn check(client: &mut Client, key: &str, value: &[u8], counts: &mut Counts) {
    let set = client.cmd(&[b"SET", key.as_bytes(), value]);
    assert_eq!(set, b"+OK\r\n", "SET {key}");
    let payload = dump(client, key.as_bytes());
    let what = format!("{key} ({} bytes)", value.len());
    match parse_payload(&payload) {
        Stored::Lzf { data, original_len } => {
            assert_eq!(original_len, value.len() as u64, "{what}: original length");
            let ours = lzf::compress(value, value.len() - 4);
            assert!(
                ours.as_deref() == Some(data),
                "{what}: Redis's LZF bytes differ from ours ({} vs {:?} bytes)",
                data.len(),
                ours.as_ref().map(Vec::len)
            );
            assert_eq!(
                lzf::decompress(data, value.len()).as_deref(),
                Ok(value),
                "{what}: decompressing Redis's bytes"
            );
            counts.compressed += 1;
        }
        Stored::Raw(data) => {
            assert_eq!(data, value, "{what}: verbatim bytes");
            if value.len() >= LZF_MIN_INPUT_BYTES {
                assert_eq!(
                    lzf::compress(value, value.len() - 4),
                    None,
                    "{what}: Redis stored it verbatim, so compression must fail"
                );
            }
            counts.verbatim += 1;
        }
        Stored::Integer => {}
    }
}

#[test]
fn dump_payloads_match_our_lzf_and_crc64() {
    let Some(redis) = common::start_redis() else {
        println!("SKIPPED: redis-server not found on PATH; LZF/CRC-64 differential test not run");
        return;
    };
    let mut client = redis.connect();
    let values = values();
    let mut counts = Counts::default();
    for (i, value) in values.iter().enumerate() {
        check(&mut client, &format!("value:{i}"), value, &mut counts);
    }
    for value in &values {
        check(&mut client, "reused", value, &mut counts);
    }
    // Both paths must really have been exercised.
    let Counts {
        compressed,
        verbatim,
    } = counts;
    assert!(compressed > 200, "only {compressed} values were compressed");
    assert!(
        verbatim > 100,
        "only {verbatim} values were stored verbatim"
    );
}
