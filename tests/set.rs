//! Integration tests for the set type that a differential script cannot
//! express: the distribution of SRANDMEMBER and SPOP, and SSCAN's
//! guarantee across a table resize.

mod common;

use std::collections::{HashMap, HashSet};

use common::{CHI_SQUARE_DF9_ONE_IN_1E8, Client, Frame, encode_command, expect_array, expect_bulk};

const MEMBERS: usize = 10;
const DRAWS: usize = 20_000;
/// Commands sent per pipelined batch.
const BATCH: usize = 1_000;

/// The members of a test set: integers for an intset, strings otherwise.
fn members(encoding: &str) -> Vec<String> {
    (0..MEMBERS)
        .map(|i| match encoding {
            "intset" => format!("{}", i * 7),
            _ => format!("member:{i}"),
        })
        .collect()
}

/// Fills `key` with the members for `encoding` and checks the encoding.
/// A string set of 10 is packed; lowering nothing else, `table` forces a
/// hash table with one long member added and removed again.
fn fill(client: &mut Client, key: &str, encoding: &str) -> Vec<String> {
    let ms = members(encoding);
    let mut args = vec!["SADD".to_string(), key.to_string()];
    args.extend(ms.iter().cloned());
    assert_eq!(client.cmd(&args), format!(":{MEMBERS}\r\n").into_bytes());
    if encoding == "table" {
        let long = "x".repeat(100);
        assert_eq!(client.cmd(&["SADD", key, &long]), b":1\r\n");
        assert_eq!(client.cmd(&["SREM", key, &long]), b":1\r\n");
    }
    let reported = if encoding == "intset" {
        "intset"
    } else {
        "hashtable"
    };
    let expected = format!("${}\r\n{reported}\r\n", reported.len());
    assert_eq!(
        client.cmd(&["OBJECT", "ENCODING", key]),
        expected.into_bytes()
    );
    ms
}

/// The chi-square statistic of `counts` against a uniform distribution
/// over `members`.
fn chi_square(counts: &HashMap<Vec<u8>, usize>, members: &[String], draws: usize) -> f64 {
    assert!(
        counts
            .keys()
            .all(|k| members.iter().any(|m| m.as_bytes() == k)),
        "a draw returned a non-member: {counts:?}"
    );
    let observed: Vec<usize> = members
        .iter()
        .map(|m| *counts.get(m.as_bytes()).unwrap_or(&0))
        .collect();
    common::chi_square(&observed, draws)
}

/// Sends `commands` pipelined in batches and returns every reply.
fn pipeline(client: &mut Client, commands: &[Vec<String>]) -> Vec<Frame> {
    let mut replies = Vec::with_capacity(commands.len());
    for chunk in commands.chunks(BATCH) {
        let mut bytes = Vec::new();
        for c in chunk {
            bytes.extend_from_slice(&encode_command(c));
        }
        client.send_raw(&bytes).expect("send");
        for _ in chunk {
            replies.push(client.read_frame().expect("reply"));
        }
    }
    replies
}

fn srandmember_is_uniform(encoding: &str) {
    let server = common::start_ferrokv();
    let mut client = server.connect();
    let ms = fill(&mut client, "s", encoding);

    // One member per call.
    let cmds: Vec<Vec<String>> = (0..DRAWS)
        .map(|_| vec!["SRANDMEMBER".into(), "s".into()])
        .collect();
    let mut counts: HashMap<Vec<u8>, usize> = HashMap::new();
    for frame in pipeline(&mut client, &cmds) {
        *counts.entry(expect_bulk(&frame)).or_default() += 1;
    }
    let stat = chi_square(&counts, &ms, DRAWS);
    assert!(
        stat < CHI_SQUARE_DF9_ONE_IN_1E8,
        "SRANDMEMBER {encoding}: chi-square {stat}"
    );

    // A negative count: DRAWS independent draws in one reply.
    client
        .send(&["SRANDMEMBER", "s", &format!("-{DRAWS}")])
        .expect("send");
    let items = expect_array(client.read_frame().expect("reply"));
    assert_eq!(items.len(), DRAWS);
    let mut counts: HashMap<Vec<u8>, usize> = HashMap::new();
    for frame in &items {
        *counts.entry(expect_bulk(frame)).or_default() += 1;
    }
    let stat = chi_square(&counts, &ms, DRAWS);
    assert!(
        stat < CHI_SQUARE_DF9_ONE_IN_1E8,
        "SRANDMEMBER -N {encoding}: chi-square {stat}"
    );

    // A positive count below the size: distinct members, each member
    // chosen equally often.
    let cmds: Vec<Vec<String>> = (0..DRAWS / 3)
        .map(|_| vec!["SRANDMEMBER".into(), "s".into(), "3".into()])
        .collect();
    let mut counts: HashMap<Vec<u8>, usize> = HashMap::new();
    for frame in pipeline(&mut client, &cmds) {
        let picked: Vec<Vec<u8>> = expect_array(frame).iter().map(expect_bulk).collect();
        let distinct: HashSet<&Vec<u8>> = picked.iter().collect();
        assert_eq!(distinct.len(), 3, "repeats in {picked:?}");
        for p in picked {
            *counts.entry(p).or_default() += 1;
        }
    }
    let stat = chi_square(&counts, &ms, DRAWS / 3 * 3);
    assert!(
        stat < CHI_SQUARE_DF9_ONE_IN_1E8,
        "SRANDMEMBER 3 {encoding}: chi-square {stat}"
    );
}

fn spop_is_uniform(encoding: &str) {
    let server = common::start_ferrokv();
    let mut client = server.connect();
    let ms = fill(&mut client, "s", encoding);
    // Each SPOP is followed by an SADD of every member, which puts back
    // the one popped (and keeps a table a table).
    let mut sadd = vec!["SADD".to_string(), "s".to_string()];
    sadd.extend(ms.iter().cloned());
    let mut cmds = Vec::with_capacity(2 * DRAWS);
    for _ in 0..DRAWS {
        cmds.push(vec!["SPOP".to_string(), "s".to_string()]);
        cmds.push(sadd.clone());
    }
    let mut counts: HashMap<Vec<u8>, usize> = HashMap::new();
    for pair in pipeline(&mut client, &cmds).chunks(2) {
        *counts.entry(expect_bulk(&pair[0])).or_default() += 1;
        assert_eq!(pair[1], Frame::Integer(1));
    }
    let stat = chi_square(&counts, &ms, DRAWS);
    assert!(
        stat < CHI_SQUARE_DF9_ONE_IN_1E8,
        "SPOP {encoding}: chi-square {stat}"
    );
}

#[test]
fn srandmember_is_uniform_intset() {
    srandmember_is_uniform("intset");
}

#[test]
fn srandmember_is_uniform_packed() {
    srandmember_is_uniform("packed");
}

#[test]
fn srandmember_is_uniform_table() {
    srandmember_is_uniform("table");
}

#[test]
fn spop_is_uniform_intset() {
    spop_is_uniform("intset");
}

#[test]
fn spop_is_uniform_table() {
    spop_is_uniform("table");
}

/// SPOP with a count returns distinct members and removes exactly them,
/// both when it pops a few and when it pops most of the set.
#[test]
fn spop_with_count_removes_what_it_returns() {
    let server = common::start_ferrokv();
    let mut client = server.connect();
    for (key, prefix) in [("ints", ""), ("strs", "m")] {
        let all: Vec<String> = (0..1000).map(|i| format!("{prefix}{i}")).collect();
        let mut args = vec!["SADD".to_string(), key.to_string()];
        args.extend(all.iter().cloned());
        assert_eq!(client.cmd(&args), b":1000\r\n");
        let mut remaining: HashSet<Vec<u8>> = all.iter().map(|m| m.as_bytes().to_vec()).collect();
        for count in [10, 800, 190] {
            client
                .send(&["SPOP", key, &count.to_string()])
                .expect("send");
            let popped: Vec<Vec<u8>> = expect_array(client.read_frame().expect("reply"))
                .iter()
                .map(expect_bulk)
                .collect();
            assert_eq!(popped.len(), count);
            for p in &popped {
                assert!(
                    remaining.remove(p),
                    "{key}: popped {p:?} twice or a non-member"
                );
            }
            let card = client.cmd(&["SCARD", key]);
            assert_eq!(card, format!(":{}\r\n", remaining.len()).into_bytes());
        }
        assert_eq!(client.cmd(&["EXISTS", key]), b":0\r\n");
    }
}

/// A set that grows while it is scanned still yields every member that was
/// there from start to end.
#[test]
fn sscan_returns_every_member_across_a_resize() {
    let server = common::start_ferrokv();
    let mut client = server.connect();
    let original: Vec<String> = (0..1000).map(|i| format!("m{i}")).collect();
    let mut args = vec!["SADD".to_string(), "s".to_string()];
    args.extend(original.iter().cloned());
    assert_eq!(client.cmd(&args), b":1000\r\n");

    let mut seen: HashSet<Vec<u8>> = HashSet::new();
    let mut cursor = "0".to_string();
    let mut calls = 0;
    let mut added = 0;
    loop {
        client
            .send(&["SSCAN", "s", &cursor, "COUNT", "20"])
            .expect("send");
        let mut reply = expect_array(client.read_frame().expect("reply"));
        let items = expect_array(reply.pop().expect("items"));
        cursor = String::from_utf8(expect_bulk(&reply[0])).expect("cursor");
        seen.extend(items.iter().map(expect_bulk));
        calls += 1;
        // Grow the table several times during the scan.
        if calls % 5 == 0 && added < 8000 {
            let more: Vec<String> = (added..added + 1000).map(|i| format!("n{i}")).collect();
            let mut args = vec!["SADD".to_string(), "s".to_string()];
            args.extend(more);
            assert_eq!(client.cmd(&args), b":1000\r\n");
            added += 1000;
        }
        if cursor == "0" {
            break;
        }
    }
    assert!(added > 0, "the scan ended before the set grew");
    for m in &original {
        assert!(seen.contains(m.as_bytes()), "SSCAN missed {m}");
    }
}

/// Popping a large set down to nothing one member at a time stays fast:
/// the table shrinks as it empties, so random picks do not slow down.
#[test]
fn spop_drains_a_large_table() {
    let server = common::start_ferrokv();
    let mut client = server.connect();
    const N: usize = 50_000;
    let cmds: Vec<Vec<String>> = (0..N)
        .collect::<Vec<_>>()
        .chunks(1000)
        .map(|c| {
            let mut args = vec!["SADD".to_string(), "big".to_string()];
            args.extend(c.iter().map(|i| format!("m{i}")));
            args
        })
        .collect();
    pipeline(&mut client, &cmds);
    assert_eq!(
        client.cmd(&["SCARD", "big"]),
        format!(":{N}\r\n").into_bytes()
    );
    let pops: Vec<Vec<String>> = (0..N).map(|_| vec!["SPOP".into(), "big".into()]).collect();
    let start = std::time::Instant::now();
    let mut seen = HashSet::new();
    for frame in pipeline(&mut client, &pops) {
        assert!(seen.insert(expect_bulk(&frame)), "a member popped twice");
    }
    assert_eq!(seen.len(), N);
    assert_eq!(client.cmd(&["EXISTS", "big"]), b":0\r\n");
    assert!(
        start.elapsed() < std::time::Duration::from_secs(20),
        "draining took {:?}",
        start.elapsed()
    );
}
