//! CLIENT LIST and CLIENT INFO: every field in Redis 7.0's order, and the
//! relations between the buffer and memory fields that a script with
//! masked digits cannot show: `qbuf` holds the batch being run and then
//! what is left of a request still being read, `argv-mem` the arguments
//! parsed so far, `obl` the replies of a pipeline not yet written.
//!
//! Every expectation here was checked against redis-server 7.0.15: with
//! `FERROKV_CLIENT_LIST_SERVER=redis` the tests run against it instead.
//!
//! ```text
//! FERROKV_CLIENT_LIST_SERVER=redis cargo test --release --test client_list
//! ```

mod common;

use std::collections::HashMap;
use std::time::Duration;

use common::{Client, Server, wait_until_within};

const SERVER_ENV: &str = "FERROKV_CLIENT_LIST_SERVER";

/// Redis 7.0.15's fields (networking.c, catClientInfoString), in order.
const FIELDS: &[&str] = &[
    "id",
    "addr",
    "laddr",
    "fd",
    "name",
    "age",
    "idle",
    "flags",
    "db",
    "sub",
    "psub",
    "ssub",
    "multi",
    "qbuf",
    "qbuf-free",
    "argv-mem",
    "multi-mem",
    "rbs",
    "rbp",
    "obl",
    "oll",
    "omem",
    "tot-mem",
    "events",
    "cmd",
    "user",
    "redir",
    "resp",
];

fn start(what: &str) -> Option<Server> {
    common::start_under_test_with(SERVER_ENV, what, &[], &[])
}

/// One client's line, field by field, in order.
fn parse_line(line: &str) -> Vec<(String, String)> {
    line.trim_end()
        .split(' ')
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (k.to_string(), v.to_string())
        })
        .collect()
}

/// The bulk string body of a raw RESP2 reply.
fn bulk_body(reply: &[u8]) -> String {
    let text = String::from_utf8_lossy(reply).into_owned();
    let (_, body) = text.split_once("\r\n").expect("a bulk reply");
    body.trim_end_matches("\r\n").to_string()
}

/// The lines of a CLIENT LIST reply, by client name.
fn clients_by_name(c: &mut Client) -> HashMap<String, HashMap<String, String>> {
    bulk_body(&c.cmd(&["CLIENT", "LIST"]))
        .lines()
        .map(|line| {
            let fields: HashMap<String, String> = parse_line(line).into_iter().collect();
            (fields["name"].clone(), fields)
        })
        .collect()
}

fn num(fields: &HashMap<String, String>, name: &str) -> u64 {
    fields[name]
        .parse()
        .unwrap_or_else(|_| panic!("{name}={} is not a number", fields[name]))
}

#[test]
fn client_info_has_redis_fields_in_order() {
    let Some(server) = start("client_info_has_redis_fields_in_order") else {
        return;
    };
    let mut c = server.connect();
    let line = bulk_body(&c.cmd(&["CLIENT", "INFO"]));
    let names: Vec<String> = parse_line(&line).into_iter().map(|(k, _)| k).collect();
    assert_eq!(names, FIELDS, "{line}");
    let fields: HashMap<String, String> = parse_line(&line).into_iter().collect();
    // The running command's own request: `*2\r\n$6\r\nCLIENT\r\n$4\r\nINFO\r\n`.
    assert_eq!(num(&fields, "qbuf"), 26, "{line}");
    assert_eq!(num(&fields, "argv-mem"), 10, "{line}");
    assert_eq!(fields["cmd"], "client|info");
    assert_eq!(fields["events"], "r");
    assert_eq!(num(&fields, "obl"), 0);
    assert_eq!((num(&fields, "oll"), num(&fields, "omem")), (0, 0));
    assert!(num(&fields, "rbs") >= 1024, "{line}");
    assert!(num(&fields, "rbp") <= num(&fields, "rbs"), "{line}");
    assert!(num(&fields, "tot-mem") > 0, "{line}");
    assert_eq!(fields["multi"], "-1");
    c.cmd(&["MULTI"]);
    c.cmd(&["PING"]);
    c.cmd(&["PING"]);
    let reply = c.cmd(&["EXEC"]);
    assert!(reply.starts_with(b"*2\r\n"));
    c.cmd(&["SET", "k", "v"]);
    let id = client_id(&mut c);
    let line = bulk_body(&c.cmd(&["CLIENT", "LIST", "ID", &id]));
    let fields: HashMap<String, String> = parse_line(&line).into_iter().collect();
    assert_eq!(fields["cmd"], "client|list", "{line}");
    // CLIENT LIST ID <n>: 6 + 4 + 2 + the ID's digits.
    assert_eq!(num(&fields, "argv-mem"), 12 + fields["id"].len() as u64);
}

fn client_id(c: &mut Client) -> String {
    let reply = String::from_utf8_lossy(&c.cmd(&["CLIENT", "ID"])).into_owned();
    reply.trim_start_matches(':').trim_end().to_string()
}

#[test]
fn a_pipeline_shows_in_qbuf_and_obl() {
    let Some(server) = start("a_pipeline_shows_in_qbuf_and_obl") else {
        return;
    };
    let mut c = server.connect();
    let ping = b"*1\r\n$4\r\nPING\r\n";
    let info = b"*2\r\n$6\r\nCLIENT\r\n$4\r\nINFO\r\n";
    c.send_raw(&[&ping[..], &info[..]].concat()).expect("send");
    assert_eq!(c.read_reply().expect("PONG"), b"+PONG\r\n");
    let line = bulk_body(&c.read_reply().expect("CLIENT INFO"));
    let fields: HashMap<String, String> = parse_line(&line).into_iter().collect();
    // Both requests are in the query buffer while the second runs, and the
    // first's reply is still waiting in the reply buffer.
    assert_eq!(
        num(&fields, "qbuf"),
        (ping.len() + info.len()) as u64,
        "{line}"
    );
    assert_eq!(num(&fields, "obl"), b"+PONG\r\n".len() as u64, "{line}");
    assert_eq!(num(&fields, "argv-mem"), 10, "{line}");
}

#[test]
fn a_request_read_in_parts_shows_in_qbuf_and_argv_mem() {
    let Some(server) = start("a_request_read_in_parts_shows_in_qbuf_and_argv_mem") else {
        return;
    };
    let mut observer = server.connect();
    let mut writer = server.connect();
    writer.cmd(&["CLIENT", "SETNAME", "writer"]);
    observer.cmd(&["CLIENT", "SETNAME", "observer"]);
    // Two arguments whole, then the first bytes of a third.
    writer
        .send_raw(b"*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$10\r\nabc")
        .expect("send");
    let mut fields = HashMap::new();
    wait_until_within(Duration::from_secs(10), "the partial request read", || {
        fields = clients_by_name(&mut observer)["writer"].clone();
        num(&fields, "argv-mem") == 6
    });
    assert_eq!(num(&fields, "qbuf"), 3, "{fields:?}");
    assert_eq!(fields["cmd"], "client|setname");
    writer.send_raw(b"defg").expect("send");
    wait_until_within(Duration::from_secs(10), "more of the argument", || {
        fields = clients_by_name(&mut observer)["writer"].clone();
        num(&fields, "qbuf") == 7
    });
    assert_eq!(num(&fields, "argv-mem"), 6);
    writer.send_raw(b"hij\r\n").expect("send");
    assert_eq!(writer.read_reply().expect("OK"), b"+OK\r\n");
    let fields = clients_by_name(&mut observer)["writer"].clone();
    assert_eq!(
        (num(&fields, "qbuf"), num(&fields, "argv-mem")),
        (0, 0),
        "{fields:?}"
    );
    assert_eq!(fields["cmd"], "set");
    // The observer sees itself as the running client.
    let me = clients_by_name(&mut observer)["observer"].clone();
    assert_eq!(me["cmd"], "client|list");
    assert_eq!(num(&me, "argv-mem"), 10);
}

#[test]
fn the_reply_buffer_shrinks_to_its_peak_when_idle() {
    let Some(server) = start("the_reply_buffer_shrinks_to_its_peak_when_idle") else {
        return;
    };
    let mut c = server.connect();
    // A fresh client's reply buffer is 16 KB and its peak counted full;
    // the cron resets the peak and then shrinks the buffer to 1 KB.
    let mut fields = HashMap::new();
    wait_until_within(Duration::from_secs(20), "the reply buffer shrunk", || {
        let line = bulk_body(&c.cmd(&["CLIENT", "INFO"]));
        fields = parse_line(&line).into_iter().collect();
        num(&fields, "rbs") == 1024
    });
    assert!(num(&fields, "rbp") < 1024, "{fields:?}");
}
