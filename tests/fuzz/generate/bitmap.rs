//! Bitmaps and BITFIELD: offsets that stay small where a write would
//! allocate (an offset near 2^32 bits is a 512 MB string on both servers),
//! BITFIELD operations with real field types, and the ranges and units of
//! BITCOUNT and BITPOS.

use ferrokv::cmd::Command;

use super::Gen;

/// Offsets for reads: small ones, past the end, at and beyond the limit,
/// malformed.
const READ_OFFSETS: &[&str] = &[
    "0",
    "1",
    "7",
    "8",
    "13",
    "63",
    "100",
    "1000",
    "65535",
    "4294967295",
    "4294967296",
    "-1",
    "abc",
    "",
    "#1",
    "1.5",
];
/// Offsets for writes: as [`READ_OFFSETS`] without the ones a write would
/// grow the string to hundreds of megabytes for.
const WRITE_OFFSETS: &[&str] = &[
    "0",
    "1",
    "7",
    "8",
    "13",
    "63",
    "100",
    "1000",
    "65535",
    "4294967296",
    "-1",
    "abc",
    "",
];
/// BITFIELD's `#N` offsets besides the plain ones.
const FIELD_INDEXES: &[&str] = &["#0", "#1", "#3", "#100", "#-1", "#", "#abc"];
const FIELD_TYPES: &[&str] = &[
    "u1", "i1", "u5", "i8", "u8", "i13", "u16", "i32", "u63", "i64", "u64", "i65", "i0", "x8",
    "I8", "",
];
const FIELD_VALUES: &[&str] = &[
    "0",
    "1",
    "-1",
    "5",
    "100",
    "127",
    "128",
    "-128",
    "255",
    "256",
    "-1000",
    "65535",
    "9223372036854775807",
    "-9223372036854775808",
    "9223372036854775808",
    "abc",
    "1.5",
];
const RANGE_ENDS: &[&str] = &[
    "0",
    "1",
    "2",
    "5",
    "-1",
    "-2",
    "-5",
    "7",
    "8",
    "15",
    "100",
    "-100",
    "9223372036854775807",
    "-9223372036854775808",
    "abc",
];
const UNITS: &[&str] = &["BYTE", "BIT", "nosuch"];

impl Gen {
    /// Arguments for the bitmap commands, or `None` for any other.
    pub(super) fn bitmap(&mut self, cmd: &Command) -> Option<Vec<Vec<u8>>> {
        let word = |w: &str| w.as_bytes().to_vec();
        let mut args = self.name_args(cmd);
        match cmd.name {
            "setbit" => {
                args.push(self.key());
                args.push(word(self.pick(WRITE_OFFSETS)));
                args.push(word(self.pick(&["0", "1", "1", "0", "2", "-1", "abc"])));
            }
            "getbit" => {
                args.push(self.key());
                args.push(word(self.pick(READ_OFFSETS)));
            }
            "bitcount" | "bitpos" => {
                args.push(self.key());
                if cmd.name == "bitpos" {
                    args.push(word(self.pick(&["0", "1", "1", "0", "2", "abc"])));
                }
                let given = self.below(4);
                for _ in 0..given.min(2) {
                    args.push(word(self.pick(RANGE_ENDS)));
                }
                if given == 3 {
                    let unit = self.pick(UNITS);
                    args.push(self.cased(unit));
                }
            }
            "bitop" => {
                let op = self.pick(&["AND", "OR", "XOR", "NOT", "NOT", "nosuch"]);
                args.push(self.cased(op));
                args.push(self.key());
                let sources = if op == "NOT" && self.chance(80) {
                    1
                } else {
                    1 + self.below(3)
                };
                for _ in 0..sources {
                    args.push(self.key());
                }
            }
            "bitfield" | "bitfield_ro" => {
                args.push(self.key());
                for _ in 0..self.below(5) {
                    self.bitfield_op(&mut args, cmd.name == "bitfield_ro");
                }
            }
            _ => return None,
        }
        Some(args)
    }

    /// One BITFIELD operation; BITFIELD_RO mostly gets GETs.
    fn bitfield_op(&mut self, args: &mut Vec<Vec<u8>>, read_only: bool) {
        let op = match self.below(10) {
            _ if read_only && self.chance(85) => "GET",
            0..=3 => "GET",
            4..=5 => "SET",
            6..=7 => "INCRBY",
            _ => "OVERFLOW",
        };
        args.push(self.cased(op));
        if op == "OVERFLOW" {
            let kind = self.pick(&["WRAP", "SAT", "FAIL", "nosuch"]);
            args.push(self.cased(kind));
            return;
        }
        args.push(self.pick(FIELD_TYPES).as_bytes().to_vec());
        let offset = match self.below(4) {
            0 => self.pick(FIELD_INDEXES),
            _ if op == "GET" => self.pick(READ_OFFSETS),
            _ => self.pick(WRITE_OFFSETS),
        };
        args.push(offset.as_bytes().to_vec());
        if op != "GET" {
            args.push(self.pick(FIELD_VALUES).as_bytes().to_vec());
        }
    }
}
