//! Integration tests for the hash type that a differential script cannot
//! express: the distribution of HRANDFIELD, and HSCAN's guarantee across a
//! table resize.

mod common;

use std::collections::{HashMap, HashSet};

use common::{CHI_SQUARE_DF9_ONE_IN_1E8, Client, encode_command, expect_array, expect_bulk};

const FIELDS: usize = 10;
const DRAWS: usize = 20_000;

/// Fills `key` with fields f0..f9, as a listpack or (after lowering the
/// threshold) a hashtable, and checks the encoding.
fn fill(client: &mut Client, key: &str, encoding: &str) {
    let entries = if encoding == "hashtable" { "1" } else { "128" };
    client.cmd(&["CONFIG", "SET", "hash-max-listpack-entries", entries]);
    for i in 0..FIELDS {
        let reply = client.cmd(&["HSET", key, &format!("f{i}"), &format!("v{i}")]);
        assert_eq!(reply, b":1\r\n");
    }
    let expected = format!("${}\r\n{encoding}\r\n", encoding.len());
    assert_eq!(
        client.cmd(&["OBJECT", "ENCODING", key]),
        expected.as_bytes()
    );
    client.cmd(&["CONFIG", "SET", "hash-max-listpack-entries", "128"]);
}

fn chi_square(counts: &HashMap<Vec<u8>, usize>, draws: usize) -> f64 {
    assert_eq!(
        counts.len(),
        FIELDS,
        "every field should be drawn: {counts:?}"
    );
    let observed: Vec<usize> = counts.values().copied().collect();
    common::chi_square(&observed, draws)
}

/// `DRAWS` single HRANDFIELD calls, pipelined in batches.
fn single_draws(client: &mut Client, key: &str) -> HashMap<Vec<u8>, usize> {
    let mut counts = HashMap::new();
    let batch = 1000;
    let one = encode_command(&["HRANDFIELD", key]);
    for _ in 0..DRAWS / batch {
        client.send_raw(&one.repeat(batch)).unwrap();
        for _ in 0..batch {
            *counts
                .entry(expect_bulk(&client.read_frame().unwrap()))
                .or_default() += 1;
        }
    }
    counts
}

/// One HRANDFIELD call with a negative count of `-DRAWS`.
fn negative_count_draws(client: &mut Client, key: &str) -> HashMap<Vec<u8>, usize> {
    client
        .send(&["HRANDFIELD", key, &format!("-{DRAWS}")])
        .unwrap();
    let items = expect_array(client.read_frame().unwrap());
    assert_eq!(items.len(), DRAWS);
    let mut counts = HashMap::new();
    for item in &items {
        *counts.entry(expect_bulk(item)).or_default() += 1;
    }
    counts
}

#[test]
fn hrandfield_is_uniform_in_both_encodings() {
    let server = common::start_ferrokv();
    let mut client = server.connect();
    for encoding in ["listpack", "hashtable"] {
        let key = format!("h:{encoding}");
        fill(&mut client, &key, encoding);
        let single = chi_square(&single_draws(&mut client, &key), DRAWS);
        assert!(
            single < CHI_SQUARE_DF9_ONE_IN_1E8,
            "{encoding}: single draws chi-square {single}"
        );
        let negative = chi_square(&negative_count_draws(&mut client, &key), DRAWS);
        assert!(
            negative < CHI_SQUARE_DF9_ONE_IN_1E8,
            "{encoding}: negative count chi-square {negative}"
        );
    }
}

#[test]
fn hrandfield_positive_count_is_distinct_and_uniform() {
    let server = common::start_ferrokv();
    let mut client = server.connect();
    for encoding in ["listpack", "hashtable"] {
        let key = format!("h:{encoding}");
        fill(&mut client, &key, encoding);
        // Count 3 of 10 (the "pick into a set" path for a table) and 5 of
        // 10 (the "copy and remove" path): distinct fields, each field
        // equally likely to be among them.
        for count in [3usize, 5] {
            let mut counts: HashMap<Vec<u8>, usize> = HashMap::new();
            let rounds = DRAWS / count;
            for _ in 0..rounds {
                client
                    .send(&["HRANDFIELD", &key, &count.to_string()])
                    .unwrap();
                let items = expect_array(client.read_frame().unwrap());
                let fields: HashSet<Vec<u8>> = items.iter().map(expect_bulk).collect();
                assert_eq!(fields.len(), count, "{encoding}: {items:?}");
                for f in fields {
                    *counts.entry(f).or_default() += 1;
                }
            }
            let stat = chi_square(&counts, rounds * count);
            assert!(
                stat < CHI_SQUARE_DF9_ONE_IN_1E8,
                "{encoding}: count {count} chi-square {stat}"
            );
        }
    }
}

#[test]
fn hrandfield_withvalues_pairs_match_resp2_and_resp3() {
    let server = common::start_ferrokv();
    let mut client = server.connect();
    fill(&mut client, "h", "hashtable");
    client
        .send(&["HRANDFIELD", "h", "-50", "WITHVALUES"])
        .unwrap();
    let flat = expect_array(client.read_frame().unwrap());
    assert_eq!(flat.len(), 100);
    for pair in flat.chunks(2) {
        let (f, v) = (expect_bulk(&pair[0]), expect_bulk(&pair[1]));
        assert_eq!(&f[1..], &v[1..], "{pair:?}");
    }
    client.cmd(&["HELLO", "3"]);
    client
        .send(&["HRANDFIELD", "h", "5", "WITHVALUES"])
        .unwrap();
    let nested = expect_array(client.read_frame().unwrap());
    assert_eq!(nested.len(), 5);
    for pair in nested {
        let pair = expect_array(pair);
        assert_eq!(pair.len(), 2);
        assert_eq!(&expect_bulk(&pair[0])[1..], &expect_bulk(&pair[1])[1..]);
    }
}

/// HSCAN's guarantee: a field present from the start to the end of a scan
/// is returned at least once, even when the table grows in between.
#[test]
fn hscan_returns_every_field_across_a_resize() {
    let server = common::start_ferrokv();
    let mut client = server.connect();
    client.cmd(&["CONFIG", "SET", "hash-max-listpack-entries", "1"]);
    let original: Vec<String> = (0..200).map(|i| format!("orig{i}")).collect();
    for f in &original {
        client.cmd(&["HSET", "h", f, "v"]);
    }
    assert_eq!(
        client.cmd(&["OBJECT", "ENCODING", "h"]),
        b"$9\r\nhashtable\r\n"
    );
    let mut seen: HashSet<Vec<u8>> = HashSet::new();
    let mut cursor = b"0".to_vec();
    let mut rounds = 0;
    let mut added = 0;
    loop {
        client
            .send(&[&b"HSCAN"[..], b"h", &cursor, b"COUNT", b"10"])
            .unwrap();
        let mut reply = expect_array(client.read_frame().unwrap());
        let items = expect_array(reply.pop().unwrap());
        cursor = expect_bulk(&reply[0]);
        assert_eq!(items.len() % 2, 0);
        for pair in items.chunks(2) {
            seen.insert(expect_bulk(&pair[0]));
        }
        rounds += 1;
        // Grow the table several times over while the scan is under way.
        if rounds <= 5 {
            for _ in 0..1000 {
                client.cmd(&["HSET", "h", &format!("new{added}"), "v"]);
                added += 1;
            }
        }
        if cursor == b"0" {
            break;
        }
        assert!(rounds < 100_000, "HSCAN does not terminate");
    }
    for f in &original {
        assert!(seen.contains(f.as_bytes()), "HSCAN missed {f}");
    }
}

#[test]
fn hdel_of_the_last_field_deletes_the_key_in_both_encodings() {
    let server = common::start_ferrokv();
    let mut client = server.connect();
    for encoding in ["listpack", "hashtable"] {
        fill(&mut client, "h", encoding);
        let mut args = vec!["HDEL".to_string(), "h".to_string()];
        args.extend((0..FIELDS).map(|i| format!("f{i}")));
        assert_eq!(client.cmd(&args), b":10\r\n");
        assert_eq!(client.cmd(&["EXISTS", "h"]), b":0\r\n");
    }
}

#[test]
fn a_large_hash_converts_once_and_answers_every_field() {
    let server = common::start_ferrokv();
    let mut client = server.connect();
    let n = 5000;
    for chunk in (0..n).collect::<Vec<_>>().chunks(500) {
        let mut args = vec!["HSET".to_string(), "big".to_string()];
        for i in chunk {
            args.push(format!("f{i}"));
            args.push(i.to_string());
        }
        assert_eq!(
            client.cmd(&args),
            format!(":{}\r\n", chunk.len()).as_bytes()
        );
    }
    assert_eq!(client.cmd(&["HLEN", "big"]), format!(":{n}\r\n").as_bytes());
    assert_eq!(
        client.cmd(&["OBJECT", "ENCODING", "big"]),
        b"$9\r\nhashtable\r\n"
    );
    assert_eq!(client.cmd(&["HGET", "big", "f4321"]), b"$4\r\n4321\r\n");
    assert_eq!(client.cmd(&["HINCRBY", "big", "f4321", "1"]), b":4322\r\n");
    client.send(&["HKEYS", "big"]).unwrap();
    assert_eq!(expect_array(client.read_frame().unwrap()).len(), n);
    assert_eq!(client.cmd(&["DEL", "big"]), b":1\r\n");
}
