//! Bitmaps with files: what the bit commands leave in the AOF replays to
//! the same strings, bytes and encodings, as they were in memory, also
//! where Redis counts no change and propagates nothing (a write that made
//! an integer raw without flipping a bit, BITFIELD writes all refused by
//! OVERFLOW FAIL on a string created or lengthened for them). Replies are
//! in `tests/diff/bitmap.redis`.

mod common;

use common::dataset::{Dataset, assert_same};

#[test]
fn bit_writes_replay_from_the_aof_to_the_same_strings() {
    let server = common::start_ferrokv_with(&["--appendonly", "yes"], &[]);
    let mut c = server.connect();
    let commands: &[&[&str]] = &[
        // Found by the differential fuzzer: Redis's SETBIT leaves "-1"
        // raw, and propagates nothing since no bit changed.
        &["DECR", "int"],
        &["SETBIT", "int", "8", "0"],
        &["SET", "emb", "abc"],
        &["BITFIELD", "emb", "SET", "u8", "0", "97"],
        &[
            "BITFIELD", "created", "OVERFLOW", "FAIL", "SET", "u8", "0", "256",
        ],
        &["SET", "grown", "a"],
        &[
            "BITFIELD", "grown", "OVERFLOW", "FAIL", "INCRBY", "i8", "100", "1000",
        ],
        &["SETBIT", "bits", "1000", "1"],
        &[
            "BITFIELD", "fields", "SET", "i5", "3", "-7", "INCRBY", "u3", "0", "9",
        ],
        &[
            "BITFIELD", "fields", "OVERFLOW", "SAT", "INCRBY", "u3", "0", "9",
        ],
        &["BITOP", "NOT", "not", "bits"],
        &["BITOP", "AND", "bits", "nosuch"],
    ];
    for cmd in commands {
        let reply = c.cmd(cmd);
        assert!(!reply.starts_with(b"-"), "{cmd:?} answered {reply:?}");
    }
    let before = Dataset::read(&mut c);
    assert_eq!(before.key_count(), 6);
    assert_eq!(c.cmd(&["DEBUG", "LOADAOF"]), b"+OK\r\n");
    let after = Dataset::read(&mut c);
    assert_same("before DEBUG LOADAOF", &before, "after", &after);
}
