//! Redis's CRC-64, the checksum at the end of RDB files and DUMP payloads.
//!
//! The parameters are those of Redis's `src/crc64.c` (the catalogue calls
//! this CRC-64/REDIS): the Jones polynomial `0xad93d23594c935a9`, input and
//! output reflected, initial value 0 and no final xor. Its check value is
//! `crc64(0, b"123456789") == 0xe9c6d914c4b8d9ca`.
//!
//! Snapshots checksum hundreds of megabytes, so this is Redis's crcspeed
//! "slice-by-8": eight lookup tables let one step fold eight input bytes
//! into the CRC instead of one. The tables (16 KiB) are computed at compile
//! time, so there is no initialisation call to forget and no lazy static to
//! check on every call.

/// The Jones polynomial in reflected (LSB-first) form: the bit reversal of
/// Redis's `POLY` (`0xad93d23594c935a9`). Reflected input and output mean the
/// CRC register shifts right, so the table-driven code uses this form.
const POLY_REFLECTED: u64 = 0x95ac_9329_ac4b_c9b5;

/// `TABLES[0][b]` is the CRC of the single byte `b`; `TABLES[k][b]` is the
/// CRC of `b` followed by `k` zero bytes, which is what lets one step of
/// [`crc64`] handle the eight bytes of a word independently.
static TABLES: [[u64; 256]; 8] = build_tables();

const fn build_tables() -> [[u64; 256]; 8] {
    let mut tables = [[0u64; 256]; 8];
    let mut n = 0;
    while n < 256 {
        let mut crc = n as u64;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ POLY_REFLECTED
            } else {
                crc >> 1
            };
            bit += 1;
        }
        tables[0][n] = crc;
        n += 1;
    }
    let mut n = 0;
    while n < 256 {
        let mut crc = tables[0][n];
        let mut k = 1;
        while k < 8 {
            // Appending a zero byte to a message whose CRC is `crc`.
            crc = tables[0][(crc & 0xff) as usize] ^ (crc >> 8);
            tables[k][n] = crc;
            k += 1;
        }
        n += 1;
    }
    tables
}

/// Folds one byte into the CRC, the classic one-table step.
#[inline]
fn step_byte(crc: u64, byte: u8) -> u64 {
    TABLES[0][((crc ^ u64::from(byte)) & 0xff) as usize] ^ (crc >> 8)
}

/// Returns the CRC-64 of `data`, continuing from `crc`.
///
/// Pass 0 to start. Passing the result of an earlier call continues that
/// checksum, so `crc64(crc64(0, a), b) == crc64(0, ab)`: a file can be
/// checksummed in the pieces it is written in. This is exactly Redis's
/// `crc64(crc, s, l)`.
pub fn crc64(crc: u64, data: &[u8]) -> u64 {
    let mut crc = crc;
    let mut words = data.chunks_exact(8);
    for word in &mut words {
        // The input is read little-endian whatever the host, because the
        // reflected CRC consumes the lowest-addressed byte first, in the
        // register's low bits. `chunks_exact` guarantees eight bytes.
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(word);
        let x = crc ^ u64::from_le_bytes(bytes);
        crc = TABLES[7][(x & 0xff) as usize]
            ^ TABLES[6][((x >> 8) & 0xff) as usize]
            ^ TABLES[5][((x >> 16) & 0xff) as usize]
            ^ TABLES[4][((x >> 24) & 0xff) as usize]
            ^ TABLES[3][((x >> 32) & 0xff) as usize]
            ^ TABLES[2][((x >> 40) & 0xff) as usize]
            ^ TABLES[1][((x >> 48) & 0xff) as usize]
            ^ TABLES[0][(x >> 56) as usize];
    }
    for &byte in words.remainder() {
        crc = step_byte(crc, byte);
    }
    crc
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A bit-at-a-time CRC straight from the definition, to check the
    /// tables against something that shares no code with them.
    fn crc64_bitwise(mut crc: u64, data: &[u8]) -> u64 {
        for &byte in data {
            crc ^= u64::from(byte);
            for _ in 0..8 {
                crc = if crc & 1 == 1 {
                    (crc >> 1) ^ POLY_REFLECTED
                } else {
                    crc >> 1
                };
            }
        }
        crc
    }

    #[test]
    fn check_value() {
        assert_eq!(crc64(0, b"123456789"), 0xe9c6_d914_c4b8_d9ca);
    }

    #[test]
    fn redis_lorem_ipsum_vector() {
        // Redis's own test in crc64.c takes `sizeof(li)`, which counts the
        // string's terminating NUL, so the NUL is part of the input here.
        let li = b"Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed \
do eiusmod tempor incididunt ut labore et dolore magna \
aliqua. Ut enim ad minim veniam, quis nostrud exercitation \
ullamco laboris nisi ut aliquip ex ea commodo consequat. Duis \
aute irure dolor in reprehenderit in voluptate velit esse \
cillum dolore eu fugiat nulla pariatur. Excepteur sint \
occaecat cupidatat non proident, sunt in culpa qui officia \
deserunt mollit anim id est laborum.\0";
        assert_eq!(crc64(0, li), 0xc779_4709_e696_83b3);
    }

    #[test]
    fn polynomial_is_the_reflection_of_redis_poly() {
        assert_eq!(POLY_REFLECTED, 0xad93_d235_94c9_35a9_u64.reverse_bits());
    }

    #[test]
    fn empty_input_leaves_the_crc_unchanged() {
        assert_eq!(crc64(0, b""), 0);
        assert_eq!(crc64(0x1234_5678_9abc_def0, b""), 0x1234_5678_9abc_def0);
    }

    #[test]
    fn piecewise_equals_whole() {
        let data: Vec<u8> = (0..1000u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        let whole = crc64(0, &data);
        // Every split point, so pieces of every length and alignment meet.
        for split in 0..=data.len() {
            let (a, b) = data.split_at(split);
            assert_eq!(crc64(crc64(0, a), b), whole, "split at {split}");
        }
        // Many small pieces of uneven sizes.
        let mut crc = 0;
        let mut rest = data.as_slice();
        let mut size = 1;
        while !rest.is_empty() {
            let (piece, tail) = rest.split_at(size.min(rest.len()));
            crc = crc64(crc, piece);
            rest = tail;
            size = size % 13 + 1;
        }
        assert_eq!(crc, whole);
    }

    #[test]
    fn slice_by_8_matches_bitwise() {
        let data: Vec<u8> = (0..777u32).map(|i| (i * 7 + i / 5) as u8).collect();
        for len in 0..data.len() {
            assert_eq!(
                crc64(0, &data[..len]),
                crc64_bitwise(0, &data[..len]),
                "len {len}"
            );
        }
        assert_eq!(crc64(!0, &data), crc64_bitwise(!0, &data));
    }
}
