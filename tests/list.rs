//! Integration tests for the list type that a differential script cannot
//! express cheaply: lists of a hundred thousand elements pushed and popped
//! from both ends (many chunks), and LMOVE rotation of a whole list.

mod common;

use common::{Client, encode_command};

const ELEMENTS: usize = 100_000;
/// Commands sent per pipelined batch.
const BATCH: usize = 1_000;

/// Sends `commands` in pipelined batches and returns every reply in order.
fn pipeline(client: &mut Client, commands: &[Vec<String>]) -> Vec<Vec<u8>> {
    let mut replies = Vec::with_capacity(commands.len());
    for batch in commands.chunks(BATCH) {
        let mut bytes = Vec::new();
        for c in batch {
            bytes.extend_from_slice(&encode_command(c));
        }
        client.send_raw(&bytes).unwrap();
        for _ in batch {
            replies.push(client.read_reply().unwrap());
        }
    }
    replies
}

fn bulk(s: &str) -> Vec<u8> {
    format!("${}\r\n{s}\r\n", s.len()).into_bytes()
}

fn cmd(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| s.to_string()).collect()
}

#[test]
fn hundred_thousand_elements_pushed_and_popped_from_both_ends() {
    let server = common::start_ferrokv();
    let mut c = server.connect();
    // Even i go to the tail, odd i to the head.
    let pushes: Vec<Vec<String>> = (0..ELEMENTS)
        .map(|i| {
            let side = if i % 2 == 0 { "RPUSH" } else { "LPUSH" };
            cmd(&[side, "big", &format!("el:{i:08}")])
        })
        .collect();
    let replies = pipeline(&mut c, &pushes);
    for (i, r) in replies.iter().enumerate() {
        assert_eq!(r, format!(":{}\r\n", i + 1).as_bytes());
    }
    assert_eq!(
        c.cmd(&["LLEN", "big"]),
        format!(":{ELEMENTS}\r\n").as_bytes()
    );
    // The head holds the last odd element, the tail the last even one.
    assert_eq!(
        c.cmd(&["LINDEX", "big", "0"]),
        bulk(&format!("el:{:08}", ELEMENTS - 1))
    );
    assert_eq!(
        c.cmd(&["LINDEX", "big", "-1"]),
        bulk(&format!("el:{:08}", ELEMENTS - 2))
    );
    // The middle: the first even element sits just after all the odd ones.
    assert_eq!(
        c.cmd(&["LINDEX", "big", &(ELEMENTS / 2).to_string()]),
        bulk("el:00000000")
    );

    // Pop everything: from the head the odd elements come out newest first,
    // then the even ones oldest first.
    let pops: Vec<Vec<String>> = (0..ELEMENTS / 2).map(|_| cmd(&["LPOP", "big"])).collect();
    let replies = pipeline(&mut c, &pops);
    for (k, r) in replies.iter().enumerate() {
        let i = ELEMENTS - 1 - 2 * k;
        assert_eq!(r, &bulk(&format!("el:{i:08}")));
    }
    let pops: Vec<Vec<String>> = (0..ELEMENTS / 2).map(|_| cmd(&["RPOP", "big"])).collect();
    let replies = pipeline(&mut c, &pops);
    for (k, r) in replies.iter().enumerate() {
        let i = ELEMENTS - 2 - 2 * k;
        assert_eq!(r, &bulk(&format!("el:{i:08}")));
    }
    assert_eq!(c.cmd(&["EXISTS", "big"]), b":0\r\n");
    assert_eq!(c.cmd(&["LPOP", "big"]), b"$-1\r\n");
}

#[test]
fn pop_with_count_drains_a_big_list() {
    let server = common::start_ferrokv();
    let mut c = server.connect();
    let pushes: Vec<Vec<String>> = (0..ELEMENTS / 100)
        .map(|b| {
            let mut args = cmd(&["RPUSH", "l"]);
            args.extend((0..100).map(|i| (b * 100 + i).to_string()));
            args
        })
        .collect();
    pipeline(&mut c, &pushes);
    let reply = c.cmd(&["LPOP", "l", "60000"]);
    assert!(reply.starts_with(b"*60000\r\n$1\r\n0\r\n$1\r\n1\r\n"));
    let reply = c.cmd(&["RPOP", "l", "100000"]);
    let tail = format!("$5\r\n{}\r\n", 60_000);
    assert!(reply.starts_with(b"*40000\r\n$5\r\n99999\r\n"));
    assert!(reply.ends_with(tail.as_bytes()));
    assert_eq!(c.cmd(&["EXISTS", "l"]), b":0\r\n");
}

#[test]
fn lmove_rotates_a_list_back_to_its_start() {
    let server = common::start_ferrokv();
    let mut c = server.connect();
    const N: usize = 5_000;
    let mut args = cmd(&["RPUSH", "ring"]);
    args.extend((0..N).map(|i| format!("v{i}")));
    assert_eq!(c.cmd(&args), format!(":{N}\r\n").as_bytes());
    let before = c.cmd(&["LRANGE", "ring", "0", "-1"]);

    // A full turn each way leaves the list as it was.
    let moves: Vec<Vec<String>> = (0..N)
        .map(|_| cmd(&["LMOVE", "ring", "ring", "LEFT", "RIGHT"]))
        .collect();
    let replies = pipeline(&mut c, &moves);
    for (i, r) in replies.iter().enumerate() {
        assert_eq!(r, &bulk(&format!("v{i}")));
    }
    assert_eq!(c.cmd(&["LRANGE", "ring", "0", "-1"]), before);
    let moves: Vec<Vec<String>> = (0..N)
        .map(|_| cmd(&["RPOPLPUSH", "ring", "ring"]))
        .collect();
    let replies = pipeline(&mut c, &moves);
    assert_eq!(replies[0], bulk(&format!("v{}", N - 1)));
    assert_eq!(c.cmd(&["LRANGE", "ring", "0", "-1"]), before);

    // Half a turn moves the second half to the front.
    let moves: Vec<Vec<String>> = (0..N / 2)
        .map(|_| cmd(&["LMOVE", "ring", "ring", "RIGHT", "LEFT"]))
        .collect();
    pipeline(&mut c, &moves);
    assert_eq!(
        c.cmd(&["LINDEX", "ring", "0"]),
        bulk(&format!("v{}", N / 2))
    );
    assert_eq!(
        c.cmd(&["LINDEX", "ring", "-1"]),
        bulk(&format!("v{}", N / 2 - 1))
    );

    // Moving everything to another key empties and deletes the source.
    let moves: Vec<Vec<String>> = (0..N)
        .map(|_| cmd(&["LMOVE", "ring", "other", "LEFT", "LEFT"]))
        .collect();
    pipeline(&mut c, &moves);
    assert_eq!(c.cmd(&["EXISTS", "ring"]), b":0\r\n");
    assert_eq!(c.cmd(&["LLEN", "other"]), format!(":{N}\r\n").as_bytes());
    assert_eq!(
        c.cmd(&["LINDEX", "other", "0"]),
        bulk(&format!("v{}", N / 2 - 1))
    );
}
