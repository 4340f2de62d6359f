//! Connection limits, against the real binary: protected mode, `maxclients`,
//! `client-query-buffer-limit`, `timeout` and client eviction
//! (`maxmemory-clients`).
//!
//! Every expectation here was checked against redis-server 7.0.15: with
//! `FERROKV_LIMITS_TEST_SERVER=redis` the tests run against it instead.
//!
//! ```text
//! FERROKV_LIMITS_TEST_SERVER=redis cargo test --release --test limits
//! ```
//!
//! Conditions are polled, never waited for by sleeping, and nothing asserts
//! on timings. Everything talks to the server over loopback except the
//! protected-mode test, which needs a peer address that is not loopback:
//! it connects to one of this machine's own non-loopback IPv4 addresses
//! (the kernel then uses that address as the source too), and when the
//! machine has none it adds one to `lo` for the test's duration.

mod common;

use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, TcpStream};
use std::process::Command;
use std::time::{Duration, Instant};

use common::replies::{info_field, int, ok};
use common::{Client, Server, wait_until_within};

const SERVER_ENV: &str = "FERROKV_LIMITS_TEST_SERVER";

/// How long a condition the server brings about in the background (a
/// cron pass, an eviction) may take before the test fails.
const CONDITION_TIMEOUT: Duration = Duration::from_secs(20);

fn start(what: &str, args: &[&str]) -> Option<Server> {
    common::start_under_test_with(SERVER_ENV, what, args, &[])
}

/// Redis 7.0.15's protected-mode refusal (networking.c,
/// clientAcceptHandler), written before the connection is closed.
const DENIED: &[u8] = b"-DENIED Redis is running in protected mode because protected mode is enabled and no password is set for the default user. In this mode connections are only accepted from the loopback interface. If you want to connect from external computers to Redis you may adopt one of the following solutions: 1) Just disable protected mode sending the command 'CONFIG SET protected-mode no' from the loopback interface by connecting to Redis from the same host the server is running, however MAKE SURE Redis is not publicly accessible from internet if you do so. Use CONFIG REWRITE to make this change permanent. 2) Alternatively you can just disable the protected mode by editing the Redis configuration file, and setting the protected mode option to 'no', and then restarting the server. 3) If you started the server manually just for testing, restart it with the '--protected-mode no' option. 4) Setup a an authentication password for the default user. NOTE: You only need to do one of the above things in order for the server to start accepting connections from the outside.\r\n";

/// Reads until the server closes the connection (EOF or a reset), for at
/// most `CONDITION_TIMEOUT`; returns what arrived before. Panics if the
/// connection stays open.
fn read_until_closed(stream: &mut TcpStream) -> Vec<u8> {
    let deadline = Instant::now() + CONDITION_TIMEOUT;
    stream
        .set_read_timeout(Some(Duration::from_millis(200)))
        .expect("set a read timeout");
    let mut got = Vec::new();
    let mut chunk = vec![0u8; 256 * 1024];
    loop {
        match stream.read(&mut chunk) {
            Ok(0) => return got,
            Ok(n) => got.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => return got,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock
                        | io::ErrorKind::TimedOut
                        | io::ErrorKind::Interrupted
                ) => {}
            Err(e) => panic!("reading until the server closes: {e}"),
        }
        assert!(
            Instant::now() < deadline,
            "the connection was not closed within {CONDITION_TIMEOUT:?} ({} bytes read)",
            got.len()
        );
    }
}

/// Reads exactly `len` bytes (replies the test knows the size of).
fn read_exact(stream: &mut TcpStream, len: usize) -> Vec<u8> {
    stream
        .set_read_timeout(Some(CONDITION_TIMEOUT))
        .expect("set a read timeout");
    let mut buf = vec![0u8; len];
    stream
        .read_exact(&mut buf)
        .expect("read the expected replies");
    buf
}

fn connect_raw(addr: (Ipv4Addr, u16)) -> TcpStream {
    let stream = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect to {addr:?}: {e}"));
    stream.set_nodelay(true).expect("nodelay");
    stream
}

/// Sends PING on a raw connection and expects PONG.
fn ping_raw(stream: &mut TcpStream) {
    stream
        .write_all(b"*1\r\n$4\r\nPING\r\n")
        .expect("send PING");
    assert_eq!(read_exact(stream, 7), b"+PONG\r\n");
}

/// A non-loopback IPv4 address of this machine, removed from `lo` on drop
/// when the test had to add it.
struct LocalAddress {
    ip: Ipv4Addr,
    added: bool,
}

impl LocalAddress {
    /// One of the machine's own non-loopback IPv4 addresses (`ip -o -4
    /// addr`); failing that, 10.213.0.1 added to `lo` (which needs root,
    /// as CI has).
    fn find_or_add() -> LocalAddress {
        if let Some(ip) = own_ipv4_addresses()
            .into_iter()
            .find(|ip| !ip.is_loopback())
        {
            return LocalAddress { ip, added: false };
        }
        let ip = Ipv4Addr::new(10, 213, 0, 1);
        let status = Command::new("ip")
            .args(["addr", "add", "10.213.0.1/32", "dev", "lo"])
            .status()
            .expect("run `ip addr add`");
        assert!(
            status.success(),
            "this machine has no non-loopback IPv4 address and adding 10.213.0.1 to lo failed ({status})"
        );
        LocalAddress { ip, added: true }
    }
}

impl Drop for LocalAddress {
    fn drop(&mut self) {
        if self.added {
            let _ = Command::new("ip")
                .args(["addr", "del", "10.213.0.1/32", "dev", "lo"])
                .status();
        }
    }
}

/// The IPv4 addresses `ip -o -4 addr` lists.
fn own_ipv4_addresses() -> Vec<Ipv4Addr> {
    let Ok(out) = Command::new("ip").args(["-o", "-4", "addr"]).output() else {
        return Vec::new();
    };
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            words.find(|w| *w == "inet")?;
            words.next()?.split('/').next()?.parse().ok()
        })
        .collect()
}

/// Protected mode (the default) with no password refuses a connection from
/// a non-loopback address with Redis's exact message and closes it, even
/// with an explicit `bind` (Redis 7.0 looks only at the default user's
/// password); loopback is always served; `protected-mode no` at runtime or
/// a password lets the outside in.
#[test]
fn protected_mode_refuses_non_loopback_peers() {
    let addr = LocalAddress::find_or_add();
    let ip = addr.ip.to_string();
    let Some(server) = start("protected mode", &["--bind", "127.0.0.1", &ip]) else {
        return;
    };
    let outside = (addr.ip, server.port);
    let mut admin = server.connect();
    let rejected_before: i64 = info_field(&mut admin, "stats", "rejected_connections")
        .parse()
        .unwrap();
    let received_before: i64 = info_field(&mut admin, "stats", "total_connections_received")
        .parse()
        .unwrap();

    let mut refused = connect_raw(outside);
    assert_eq!(
        common::escape(&read_until_closed(&mut refused)),
        common::escape(DENIED)
    );
    // A refusal is counted as rejected, not as a connection received.
    wait_until_within(CONDITION_TIMEOUT, "rejected_connections counted", || {
        info_field(&mut admin, "stats", "rejected_connections") == (rejected_before + 1).to_string()
    });
    assert_eq!(
        info_field(&mut admin, "stats", "total_connections_received"),
        received_before.to_string()
    );
    // Loopback is served.
    ping_raw(&mut connect_raw((Ipv4Addr::LOCALHOST, server.port)));

    ok(&mut admin, &["CONFIG", "SET", "protected-mode", "no"]);
    ping_raw(&mut connect_raw(outside));

    // With a password the outside is served too (and must authenticate).
    ok(&mut admin, &["CONFIG", "SET", "protected-mode", "yes"]);
    let mut refused = connect_raw(outside);
    assert_eq!(read_until_closed(&mut refused), DENIED);
    ok(&mut admin, &["CONFIG", "SET", "requirepass", "secret"]);
    let mut outsider = connect_raw(outside);
    outsider
        .write_all(b"*2\r\n$4\r\nAUTH\r\n$6\r\nsecret\r\n")
        .unwrap();
    assert_eq!(read_exact(&mut outsider, 5), b"+OK\r\n");
    ping_raw(&mut outsider);
}

/// `--protected-mode no` at start-up serves the outside at once.
#[test]
fn protected_mode_off_serves_non_loopback_peers() {
    let addr = LocalAddress::find_or_add();
    let ip = addr.ip.to_string();
    let Some(server) = start(
        "protected mode off",
        &["--bind", "127.0.0.1", &ip, "--protected-mode", "no"],
    ) else {
        return;
    };
    ping_raw(&mut connect_raw((addr.ip, server.port)));
}

/// With `maxclients 3`, a fourth connection is told Redis's exact error
/// and closed, counted in `rejected_connections` and not as received.
#[test]
fn maxclients_refuses_the_connection_over_the_limit() {
    let Some(server) = start("maxclients", &["--maxclients", "3"]) else {
        return;
    };
    let mut first = server.connect();
    // The start-up probes' connections are gone before counting.
    wait_until_within(CONDITION_TIMEOUT, "only this client connected", || {
        info_field(&mut first, "clients", "connected_clients") == "1"
    });
    let mut others: Vec<Client> = (0..2).map(|_| server.connect()).collect();
    for c in &mut others {
        assert_eq!(c.cmd(&["PING"]), b"+PONG\r\n");
    }
    let received = info_field(&mut first, "stats", "total_connections_received");
    let mut fourth = connect_raw((Ipv4Addr::LOCALHOST, server.port));
    assert_eq!(
        read_until_closed(&mut fourth),
        b"-ERR max number of clients reached\r\n"
    );
    assert_eq!(info_field(&mut first, "stats", "rejected_connections"), "1");
    assert_eq!(
        info_field(&mut first, "stats", "total_connections_received"),
        received
    );
    // A slot freed is a slot taken again.
    drop(others.pop());
    wait_until_within(CONDITION_TIMEOUT, "a client gone", || {
        info_field(&mut first, "clients", "connected_clients") == "2"
    });
    ping_raw(&mut connect_raw((Ipv4Addr::LOCALHOST, server.port)));
}

/// A client whose query buffer passes `client-query-buffer-limit` (here a
/// big argument arriving) is closed and logged; the server goes on.
#[test]
fn query_buffer_limit_closes_the_client() {
    let Some(server) = start(
        "client-query-buffer-limit",
        &["--client-query-buffer-limit", "1mb"],
    ) else {
        return;
    };
    let mut admin = server.connect();
    let mut big = connect_raw((Ipv4Addr::LOCALHOST, server.port));
    big.write_all(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$3000000\r\n")
        .unwrap();
    // Written in pieces: the server may close the connection before it
    // all arrives.
    let piece = vec![b'x'; 64 * 1024];
    for _ in 0..(2 << 20) / piece.len() {
        if big.write_all(&piece).is_err() {
            break;
        }
    }
    assert_eq!(read_until_closed(&mut big), b"");
    assert_eq!(admin.cmd(&["EXISTS", "k"]), b":0\r\n");
    wait_until_within(CONDITION_TIMEOUT, "the closing logged", || {
        server
            .log()
            .contains("Closing client that reached max query buffer length")
    });
}

/// Before AUTH, a request is held to 10 arguments and 16 KB ones (Redis's
/// protocol limits for an unauthenticated client): more is a protocol
/// error and the connection is closed.
#[test]
fn unauthenticated_clients_get_small_limits() {
    let Some(server) = start("unauthenticated limits", &[]) else {
        return;
    };
    ok(
        &mut server.connect(),
        &["CONFIG", "SET", "requirepass", "pw"],
    );
    let mut c = connect_raw((Ipv4Addr::LOCALHOST, server.port));
    c.write_all(b"*11\r\n").unwrap();
    assert_eq!(
        read_until_closed(&mut c),
        b"-ERR Protocol error: unauthenticated multibulk length\r\n"
    );
    let mut c = connect_raw((Ipv4Addr::LOCALHOST, server.port));
    c.write_all(b"*2\r\n$3\r\nGET\r\n$16385\r\n").unwrap();
    assert_eq!(
        read_until_closed(&mut c),
        b"-ERR Protocol error: unauthenticated bulk length\r\n"
    );
    // After AUTH the same requests are fine.
    let mut c = server.connect();
    assert_eq!(c.cmd(&["AUTH", "pw"]), b"+OK\r\n");
    let big = "v".repeat(16385);
    assert_eq!(c.cmd(&["SET", "k", &big]), b"+OK\r\n");
}

/// `timeout`: an idle client is closed by the cron; a blocked client, a
/// subscriber and a monitor, idle longer, are not.
#[test]
fn timeout_closes_idle_clients_only() {
    let Some(server) = start("timeout", &["--timeout", "1"]) else {
        return;
    };
    let mut blocked = server.connect();
    blocked.send(&["BLPOP", "list", "0"]).unwrap();
    let mut subscriber = server.connect();
    assert!(
        subscriber.cmd(&["SUBSCRIBE", "ch"]).starts_with(b"*3\r\n"),
        "SUBSCRIBE"
    );
    let mut monitor = server.connect();
    assert_eq!(monitor.cmd(&["MONITOR"]), b"+OK\r\n");
    // Created last, so idle for the shortest time.
    let mut idle = server.connect();
    assert_eq!(idle.cmd(&["PING"]), b"+PONG\r\n");
    wait_until_within(CONDITION_TIMEOUT, "the idle client closed", || {
        match idle.poll_reply() {
            Ok(None) => false,
            Ok(Some(reply)) => panic!("unexpected reply {}", common::escape(&reply)),
            Err(_) => true,
        }
    });
    // The others are still there and served.
    let mut admin = server.connect();
    assert_eq!(int(&mut admin, &["LPUSH", "list", "x"]), 1);
    assert_eq!(
        blocked.read_reply().unwrap(),
        b"*2\r\n$4\r\nlist\r\n$1\r\nx\r\n"
    );
    assert_eq!(int(&mut admin, &["PUBLISH", "ch", "m"]), 1);
    assert_eq!(
        subscriber.read_reply().unwrap(),
        b"*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$1\r\nm\r\n"
    );
    // The monitor is fed still: it shows the LPUSH (after the PING).
    let mut seen = Vec::new();
    while common::find(&seen, b"\"LPUSH\" \"list\" \"x\"").is_none() {
        assert!(seen.len() < 4096, "monitor lines {}", common::escape(&seen));
        seen.extend(monitor.read_reply().unwrap());
    }
}

/// The bytes of a bulk reply of `len` bytes.
fn bulk_reply_len(len: usize) -> usize {
    format!("${len}\r\n").len() + len + 2
}

/// `maxmemory-clients`: when clients together use the limit or more, the
/// evictable client using the most memory is closed (a big unread output,
/// then a big query buffer), counted in `evicted_clients`; a CLIENT
/// NO-EVICT client is not.
#[test]
fn maxmemory_clients_evicts_the_biggest_client() {
    // 10% of 160 MB: 16 MB for all clients together.
    let Some(server) = start(
        "maxmemory-clients",
        &["--maxmemory", "160mb", "--maxmemory-clients", "10%"],
    ) else {
        return;
    };
    const VALUE: usize = 1 << 20;
    ok(&mut server.connect(), &["SET", "big", &"v".repeat(VALUE)]);
    let mut admin = server.connect();
    assert_eq!(info_field(&mut admin, "stats", "evicted_clients"), "0");

    // About 6 MB of replies (Redis holds each in a block of 1.25 MB),
    // left unread: what the sockets do not take
    // stays in the server, under the limit on its own.
    let get = b"*2\r\n$3\r\nGET\r\n$3\r\nbig\r\n";
    let mut keeper = connect_raw((Ipv4Addr::LOCALHOST, server.port));
    keeper
        .write_all(b"*3\r\n$6\r\nCLIENT\r\n$8\r\nNO-EVICT\r\n$2\r\non\r\n")
        .unwrap();
    assert_eq!(read_exact(&mut keeper, 5), b"+OK\r\n");
    keeper.write_all(&get.repeat(6)).unwrap();
    // Once its output shows in CLIENT LIST, it is in the server's count.
    wait_until_within(CONDITION_TIMEOUT, "the keeper's output pending", || {
        let list = admin.cmd(&["CLIENT", "LIST"]);
        String::from_utf8_lossy(&list)
            .lines()
            .any(|l| l.contains("flags=e") && !l.contains(" omem=0 "))
    });

    // About 40 MB more: over the limit, and the biggest evictable client.
    let mut hog = connect_raw((Ipv4Addr::LOCALHOST, server.port));
    hog.write_all(&get.repeat(40)).unwrap();
    read_until_closed(&mut hog);
    wait_until_within(CONDITION_TIMEOUT, "evicted_clients counted", || {
        info_field(&mut admin, "stats", "evicted_clients") == "1"
    });
    // The no-evict client gets all its replies.
    let replies = read_exact(&mut keeper, 6 * bulk_reply_len(VALUE));
    assert!(replies.starts_with(b"$1048576\r\nvvvv"));

    // A big query buffer: an argument arriving, 2 MB of it over a 1 MB
    // limit.
    ok(&mut admin, &["CONFIG", "SET", "maxmemory-clients", "1mb"]);
    let mut sender = connect_raw((Ipv4Addr::LOCALHOST, server.port));
    sender
        .write_all(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$3000000\r\n")
        .unwrap();
    let piece = vec![b'x'; 64 * 1024];
    for _ in 0..(2 << 20) / piece.len() {
        if sender.write_all(&piece).is_err() {
            break;
        }
    }
    read_until_closed(&mut sender);
    wait_until_within(CONDITION_TIMEOUT, "evicted_clients counted", || {
        info_field(&mut admin, "stats", "evicted_clients") == "2"
    });
    assert_eq!(admin.cmd(&["EXISTS", "k"]), b":0\r\n");
    ping_raw(&mut keeper);
}

/// A loopback port nobody listens on now (the kernel's pick, released).
fn free_port() -> u16 {
    let l = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind a free port");
    l.local_addr().expect("local address").port()
}

/// CONFIG SET port and bind listen anew at once, and when the new address
/// cannot be bound, the old sockets and values come back with Redis's
/// error (updatePort, applyBind).
#[test]
fn config_set_port_and_bind_relisten() {
    let Some(server) = start("CONFIG SET port and bind", &[]) else {
        return;
    };
    let mut c = server.connect();
    let port = free_port();
    ok(&mut c, &["CONFIG", "SET", "port", &port.to_string()]);
    // The command's own connection stays; new ones go to the new port.
    let mut moved = Client::connect(port).expect("connect to the new port");
    ok(&mut moved, &["SET", "k", "v"]);
    assert!(
        TcpStream::connect((Ipv4Addr::LOCALHOST, server.port)).is_err(),
        "the old port still accepts"
    );
    assert_eq!(
        info_field(&mut moved, "server", "tcp_port"),
        port.to_string()
    );
    // A port someone else holds: refused, and still served where it was.
    let taken = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind");
    let taken_port = taken.local_addr().expect("address").port().to_string();
    common::replies::expect_reply(
        &mut moved,
        &["CONFIG", "SET", "port", &taken_port],
        "-ERR CONFIG SET failed (possibly related to argument 'port') - Unable to listen on this port. Check server logs.\r\n",
    );
    common::replies::expect_reply(
        &mut moved,
        &["CONFIG", "GET", "port"],
        &format!(
            "*2\r\n$4\r\nport\r\n${}\r\n{port}\r\n",
            port.to_string().len()
        ),
    );
    Client::connect(port).expect("the old sockets are back after a failure");
    // An address this host does not have.
    common::replies::expect_reply(
        &mut moved,
        &["CONFIG", "SET", "bind", "192.0.2.1"],
        "-ERR CONFIG SET failed (possibly related to argument 'bind') - Failed to bind to specified addresses.\r\n",
    );
    let mut again = Client::connect(port).expect("the old bind is back after a failure");
    // Optional addresses that are missing are skipped.
    ok(
        &mut again,
        &["CONFIG", "SET", "bind", "127.0.0.1 -192.0.2.1"],
    );
    let mut last = Client::connect(port).expect("listening on 127.0.0.1");
    common::replies::expect_reply(&mut last, &["GET", "k"], "$1\r\nv\r\n");
}
