//! ACL and authentication with several clients and with files: what the
//! differential scripts (`tests/diff/acl.redis`, `tests/diff/auth.redis`)
//! cannot show. The ACL log's fields, clients disconnected when their
//! user is deleted, reloaded or loses channels, the ACL file's round trip
//! and its errors, `user` lines in the config file, requirepass through
//! CONFIG SET, permissions per category, key pattern and channel.
//!
//! `FERROKV_ACL_SERVER=redis cargo test --test acl` runs the tests that
//! need no config file against redis-server, to check them.

mod common;

use std::time::{Duration, Instant};

use common::{Client, Server};

const SERVER_ENV: &str = "FERROKV_ACL_SERVER";

/// How long a test waits for a condition it polls for.
const PATIENCE: Duration = Duration::from_secs(30);

fn start(extra_args: &[&str], files: &[(&str, &[u8])]) -> Option<Server> {
    common::start_under_test_with(SERVER_ENV, "the ACL tests", extra_args, files)
}

fn bulk(s: &str) -> String {
    format!("${}\r\n{s}\r\n", s.len())
}

fn text(reply: &[u8]) -> String {
    String::from_utf8_lossy(reply).into_owned()
}

/// Polls `check` until it holds or `PATIENCE` runs out.
fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Whether the server closed `c` (a PING gets no reply).
fn closed(c: &mut Client) -> bool {
    c.cmd_result(&["PING"]).is_err()
}

fn authed(server: &Server, user: &str, pass: &str) -> Client {
    let mut c = server.connect();
    assert_eq!(c.cmd(&["AUTH", user, pass]), b"+OK\r\n");
    c
}

fn noperm_command(name: &str) -> Vec<u8> {
    format!("-NOPERM this user has no permissions to run the '{name}' command\r\n").into_bytes()
}

const NOPERM_KEY: &[u8] =
    b"-NOPERM this user has no permissions to access one of the keys used as arguments\r\n";
const NOPERM_CHANNEL: &[u8] =
    b"-NOPERM this user has no permissions to access one of the channels used as arguments\r\n";

#[test]
fn acl_log_records_each_denial_with_its_reason_context_and_object() {
    let Some(server) = start(&[], &[]) else {
        return;
    };
    let mut admin = server.connect();
    admin.cmd(&[
        "ACL", "SETUSER", "alice", "on", ">pw", "~a*", "&ch*", "+get", "+publish", "+multi",
        "+exec", "+acl|log",
    ]);
    let mut alice = authed(&server, "alice", "pw");
    assert_eq!(alice.cmd(&["SET", "a", "1"]), noperm_command("set"));
    assert_eq!(alice.cmd(&["GET", "b"]), NOPERM_KEY);
    assert_eq!(alice.cmd(&["PUBLISH", "news", "x"]), NOPERM_CHANNEL);
    assert_eq!(alice.cmd(&["MULTI"]), b"+OK\r\n");
    assert_eq!(alice.cmd(&["GET", "zz"]), NOPERM_KEY);
    assert_eq!(
        alice.cmd(&["EXEC"]),
        b"-EXECABORT Transaction discarded because of previous errors.\r\n"
    );
    let mut stranger = server.connect();
    assert_eq!(
        stranger.cmd(&["AUTH", "alice", "wrong"]),
        b"-WRONGPASS invalid username-password pair or user is disabled.\r\n"
    );
    assert_eq!(
        stranger.cmd(&["AUTH", "alice", "wrong"]),
        b"-WRONGPASS invalid username-password pair or user is disabled.\r\n"
    );
    let log = text(&admin.cmd(&["ACL", "LOG"]));
    assert!(log.starts_with("*5\r\n"), "{log}");
    // Newest first: the repeated AUTH is one entry counted twice.
    let entries: Vec<&str> = log.split("$5\r\ncount\r\n").skip(1).collect();
    let expect = [
        (2, "auth", "toplevel", "AUTH", "alice"),
        (1, "key", "multi", "zz", "alice"),
        (1, "channel", "toplevel", "news", "alice"),
        (1, "key", "toplevel", "b", "alice"),
        (1, "command", "toplevel", "set", "alice"),
    ];
    for (entry, (count, reason, context, object, user)) in entries.iter().zip(expect) {
        let fields = format!(
            ":{count}\r\n{}{}{}{}{}{}{}{}",
            bulk("reason"),
            bulk(reason),
            bulk("context"),
            bulk(context),
            bulk("object"),
            bulk(object),
            bulk("username"),
            bulk(user)
        );
        assert!(
            entry.starts_with(&fields),
            "{entry} should start with {fields}"
        );
        assert!(entry.contains("age-seconds"), "{entry}");
        assert!(
            entry.contains(&format!("user={user} ")) || reason == "auth",
            "{entry}"
        );
    }
    assert_eq!(
        text(&admin.cmd(&["ACL", "LOG", "1"]))
            .matches("count")
            .count(),
        1
    );
    admin.cmd(&["CONFIG", "SET", "acllog-max-len", "2"]);
    alice.cmd(&["GET", "other"]);
    assert!(text(&admin.cmd(&["ACL", "LOG"])).starts_with("*2\r\n"));
    assert_eq!(admin.cmd(&["ACL", "LOG", "RESET"]), b"+OK\r\n");
    assert_eq!(admin.cmd(&["ACL", "LOG"]), b"*0\r\n");
}

#[test]
fn deluser_disconnects_the_user_s_clients_and_no_others() {
    let Some(server) = start(&[], &[]) else {
        return;
    };
    let mut admin = server.connect();
    admin.cmd(&["ACL", "SETUSER", "alice", "on", ">pw", "+@all", "~*"]);
    admin.cmd(&["ACL", "SETUSER", "bob", "on", ">pw", "+@all", "~*"]);
    let mut alice1 = authed(&server, "alice", "pw");
    let mut alice2 = authed(&server, "alice", "pw");
    let mut bob = authed(&server, "bob", "pw");
    let list = text(&admin.cmd(&["CLIENT", "LIST"]));
    assert_eq!(list.matches("user=alice ").count(), 2, "{list}");
    assert_eq!(admin.cmd(&["ACL", "DELUSER", "alice"]), b":1\r\n");
    eventually("alice's clients closed", || closed(&mut alice1));
    assert!(closed(&mut alice2));
    assert_eq!(bob.cmd(&["PING"]), b"+PONG\r\n");
    // A user deleting itself gets its reply, then is closed.
    assert_eq!(bob.cmd(&["ACL", "DELUSER", "bob"]), b":1\r\n");
    eventually("bob closed", || closed(&mut bob));
    assert_eq!(admin.cmd(&["PING"]), b"+PONG\r\n");
}

#[test]
fn client_kill_user_and_client_list_name_the_user() {
    let Some(server) = start(&[], &[]) else {
        return;
    };
    let mut admin = server.connect();
    // The start-up probe's connection is a default user's too until the
    // server has seen it close, which a loaded machine can delay.
    eventually("the probe's connection gone", || {
        text(&admin.cmd(&["CLIENT", "LIST"])).matches("id=").count() == 1
    });
    admin.cmd(&["ACL", "SETUSER", "carol", "on", "nopass", "+@all", "~*"]);
    let mut carol = authed(&server, "carol", "x");
    assert_eq!(carol.cmd(&["ACL", "WHOAMI"]), bulk("carol").as_bytes());
    assert!(text(&carol.cmd(&["CLIENT", "INFO"])).contains(" user=carol "));
    assert_eq!(
        admin.cmd(&["CLIENT", "KILL", "USER", "nosuch"]),
        b"-ERR No such user 'nosuch'\r\n"
    );
    assert_eq!(admin.cmd(&["CLIENT", "KILL", "USER", "carol"]), b":1\r\n");
    eventually("carol closed", || closed(&mut carol));
    assert_eq!(admin.cmd(&["CLIENT", "KILL", "USER", "default"]), b":0\r\n");
}

#[test]
fn setuser_that_revokes_channels_disconnects_the_subscribers_it_denies() {
    let Some(server) = start(&[], &[]) else {
        return;
    };
    let mut admin = server.connect();
    admin.cmd(&[
        "ACL",
        "SETUSER",
        "sub",
        "on",
        "nopass",
        "+@all",
        "~*",
        "resetchannels",
        "&news.*",
        "&sport",
    ]);
    let mut news = authed(&server, "sub", "x");
    news.send(&["SUBSCRIBE", "news.a"]).unwrap();
    news.read_reply().unwrap();
    let mut sport = authed(&server, "sub", "x");
    sport.send(&["SUBSCRIBE", "sport"]).unwrap();
    sport.read_reply().unwrap();
    let mut pattern = authed(&server, "sub", "x");
    pattern.send(&["PSUBSCRIBE", "news.*"]).unwrap();
    pattern.read_reply().unwrap();
    let mut plain = authed(&server, "sub", "x");
    // Adding channels disconnects nobody.
    assert_eq!(admin.cmd(&["ACL", "SETUSER", "sub", "&more"]), b"+OK\r\n");
    assert_eq!(admin.cmd(&["PUBLISH", "sport", "1"]), b":1\r\n");
    // Revoking news.* disconnects the news subscribers only.
    assert_eq!(
        admin.cmd(&[
            "ACL",
            "SETUSER",
            "sub",
            "resetchannels",
            "&sport",
            "&news.a"
        ]),
        b"+OK\r\n"
    );
    eventually("the pattern subscriber closed", || {
        text(&admin.cmd(&["PUBSUB", "NUMPAT"])) == ":0\r\n"
    });
    assert_eq!(
        admin.cmd(&["PUBSUB", "NUMSUB", "news.a", "sport"]),
        format!("*4\r\n{}:1\r\n{}:1\r\n", bulk("news.a"), bulk("sport")).as_bytes()
    );
    assert_eq!(plain.cmd(&["PING"]), b"+PONG\r\n");
    assert_eq!(
        admin.cmd(&["ACL", "SETUSER", "sub", "resetchannels"]),
        b"+OK\r\n"
    );
    eventually("every subscriber closed", || {
        admin.cmd(&["PUBSUB", "NUMSUB", "news.a", "sport"])
            == format!("*4\r\n{}:0\r\n{}:0\r\n", bulk("news.a"), bulk("sport")).as_bytes()
    });
    let _ = (&mut news, &mut sport, &mut pattern);
    assert_eq!(plain.cmd(&["PING"]), b"+PONG\r\n");
}

#[test]
fn requirepass_set_at_runtime_is_the_default_user_s_password() {
    let Some(server) = start(&[], &[]) else {
        return;
    };
    let mut admin = server.connect();
    assert_eq!(
        admin.cmd(&["CONFIG", "SET", "requirepass", "s3cret"]),
        b"+OK\r\n"
    );
    // Connected before: still authenticated, as in Redis.
    assert_eq!(admin.cmd(&["PING"]), b"+PONG\r\n");
    let mut fresh = server.connect();
    assert_eq!(
        fresh.cmd(&["PING"]),
        b"-NOAUTH Authentication required.\r\n"
    );
    assert_eq!(fresh.cmd(&["AUTH", "s3cret"]), b"+OK\r\n");
    let user = text(&admin.cmd(&["ACL", "GETUSER", "default"]));
    // sha256("s3cret")
    assert!(
        user.contains("passwords\r\n*1\r\n$64\r\n1ec1c26b50d5d3c58d9583181af8076655fe00756bf7285940ba3670f99fcba0\r\n"),
        "{user}"
    );
    assert_eq!(
        admin.cmd(&["CONFIG", "GET", "requirepass"]),
        format!("*2\r\n{}{}", bulk("requirepass"), bulk("s3cret")).as_bytes()
    );
    assert_eq!(admin.cmd(&["CONFIG", "SET", "requirepass", ""]), b"+OK\r\n");
    let mut open = server.connect();
    assert_eq!(open.cmd(&["PING"]), b"+PONG\r\n");
    assert!(text(&admin.cmd(&["ACL", "LIST"])).contains("user default on nopass ~* &* +@all"));
}

#[test]
fn permissions_follow_categories_key_patterns_and_channels() {
    let Some(server) = start(&[], &[]) else {
        return;
    };
    let mut admin = server.connect();
    // One category at a time: its commands run, others' are refused.
    admin.cmd(&[
        "ACL", "SETUSER", "cat", "on", "nopass", "~*", "&*", "-@all", "+@hash",
    ]);
    let mut c = authed(&server, "cat", "x");
    assert_eq!(c.cmd(&["HSET", "h", "f", "v"]), b":1\r\n");
    assert_eq!(c.cmd(&["HGET", "h", "f"]), bulk("v").as_bytes());
    assert_eq!(c.cmd(&["GET", "h"]), noperm_command("get"));
    assert_eq!(c.cmd(&["LPUSH", "l", "x"]), noperm_command("lpush"));
    admin.cmd(&["ACL", "SETUSER", "cat", "-@all", "+@list", "+@connection"]);
    assert_eq!(c.cmd(&["LPUSH", "l", "x"]), b":1\r\n");
    assert_eq!(c.cmd(&["HGET", "h", "f"]), noperm_command("hget"));
    assert_eq!(c.cmd(&["PING"]), b"+PONG\r\n");
    admin.cmd(&["ACL", "SETUSER", "cat", "+@all", "-@dangerous"]);
    assert_eq!(c.cmd(&["FLUSHALL"]), noperm_command("flushall"));
    assert_eq!(c.cmd(&["CONFIG", "GET", "x"]), noperm_command("config|get"));
    admin.cmd(&["ACL", "SETUSER", "cat", "+config|get"]);
    assert!(
        c.cmd(&["CONFIG", "GET", "maxclients"])
            .starts_with(b"*2\r\n")
    );
    assert_eq!(
        c.cmd(&["CONFIG", "SET", "maxclients", "10"]),
        noperm_command("config|set")
    );
    admin.cmd(&["ACL", "SETUSER", "cat", "-select", "+select|0"]);
    assert_eq!(c.cmd(&["SELECT", "0"]), b"+OK\r\n");
    assert_eq!(c.cmd(&["SELECT", "1"]), noperm_command("select"));

    // Read and write patterns, per key-spec flags.
    admin.cmd(&[
        "ACL", "SETUSER", "keys", "on", "nopass", "+@all", "%R~r*", "%W~w*", "~both*",
    ]);
    let mut k = authed(&server, "keys", "x");
    assert_eq!(k.cmd(&["GET", "r1"]), b"$-1\r\n");
    assert_eq!(k.cmd(&["SET", "w1", "v"]), b"+OK\r\n");
    assert_eq!(k.cmd(&["GET", "w1"]), NOPERM_KEY);
    assert_eq!(k.cmd(&["SET", "r1", "v"]), NOPERM_KEY);
    assert_eq!(k.cmd(&["COPY", "r1", "w2"]), b":0\r\n");
    assert_eq!(k.cmd(&["INCR", "both1"]), b":1\r\n");
    assert_eq!(k.cmd(&["INCR", "w1"]), NOPERM_KEY);
    assert_eq!(k.cmd(&["DEL", "w1"]), b":1\r\n");
    assert_eq!(k.cmd(&["EXISTS", "r1"]), b":0\r\n");
    assert_eq!(k.cmd(&["MSET", "w1", "a", "r1", "b"]), NOPERM_KEY);
    // A selector adds what the root does not allow.
    admin.cmd(&["ACL", "SETUSER", "keys", "(~s* +get)"]);
    assert_eq!(k.cmd(&["GET", "s1"]), b"$-1\r\n");
    assert_eq!(k.cmd(&["SET", "s1", "v"]), NOPERM_KEY);

    // Channels: plain channels match patterns, patterns must be equal.
    admin.cmd(&[
        "ACL",
        "SETUSER",
        "chan",
        "on",
        "nopass",
        "+@all",
        "~*",
        "resetchannels",
        "&news.*",
    ]);
    let mut p = authed(&server, "chan", "x");
    assert_eq!(p.cmd(&["PUBLISH", "news.a", "x"]), b":0\r\n");
    assert_eq!(p.cmd(&["PUBLISH", "weather", "x"]), NOPERM_CHANNEL);
    assert_eq!(p.cmd(&["PSUBSCRIBE", "news.a*"]), NOPERM_CHANNEL);
    assert_eq!(p.cmd(&["SUBSCRIBE", "news.b", "other"]), NOPERM_CHANNEL);
    p.send(&["PSUBSCRIBE", "news.*"]).unwrap();
    assert!(text(&p.read_reply().unwrap()).contains("psubscribe"));
}

#[test]
fn acl_file_saves_and_loads_all_or_nothing() {
    let initial: &[u8] = b"user default on nopass ~* &* +@all\nuser bob on #5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8 ~b* resetchannels -@all +get\n";
    let Some(server) = start(&["--aclfile", "users.acl"], &[("users.acl", initial)]) else {
        return;
    };
    let mut admin = server.connect();
    let list = text(&admin.cmd(&["ACL", "LIST"]));
    assert!(list.contains("user bob on #5e88"), "{list}");
    let mut bob = authed(&server, "bob", "password");
    assert_eq!(bob.cmd(&["GET", "b1"]), b"$-1\r\n");
    admin.cmd(&[
        "ACL",
        "SETUSER",
        "carol",
        "on",
        ">pw",
        "~c*",
        "+@read",
        "(~d* +set)",
    ]);
    assert_eq!(admin.cmd(&["ACL", "SAVE"]), b"+OK\r\n");
    let path = server.dir().join("users.acl");
    let saved = std::fs::read_to_string(&path).unwrap();
    let listed: Vec<String> = text(&admin.cmd(&["ACL", "LIST"]))
        .split("\r\n")
        .filter(|l| l.starts_with("user "))
        .map(str::to_string)
        .collect();
    assert_eq!(saved.lines().collect::<Vec<_>>(), listed);

    // A bad file changes nothing, and says where it is wrong.
    std::fs::write(
        &path,
        "user default on nopass ~* &* +@all\nuser eve on +nosuch\nbogus line\n",
    )
    .unwrap();
    let err = text(&admin.cmd(&["ACL", "LOAD"]));
    assert!(
        err.contains("users.acl:2: Error in applying operation '+nosuch': Unknown command or category name in ACL.")
            && err.contains("users.acl:3 should start with user keyword followed by the username.")
            && err.contains("WARNING: ACL errors detected, no change to the previously active ACL rules was performed"),
        "{err}"
    );
    assert_eq!(bob.cmd(&["PING"]), noperm_command("ping"));

    // Loading replaces every user; their clients are disconnected.
    std::fs::write(&path, saved.replace("user bob ", "user bobby ")).unwrap();
    assert_eq!(admin.cmd(&["ACL", "LOAD"]), b"+OK\r\n");
    eventually("bob's client closed", || closed(&mut bob));
    assert_eq!(
        admin.cmd(&["ACL", "USERS"]),
        format!(
            "*3\r\n{}{}{}",
            bulk("bobby"),
            bulk("carol"),
            bulk("default")
        )
        .as_bytes()
    );
    assert_eq!(admin.cmd(&["PING"]), b"+PONG\r\n");
    let mut carol = authed(&server, "carol", "pw");
    assert_eq!(carol.cmd(&["SET", "d1", "v"]), b"+OK\r\n");
    assert_eq!(carol.cmd(&["GET", "c1"]), b"$-1\r\n");
    std::fs::remove_file(&path).unwrap();
    let err = text(&admin.cmd(&["ACL", "LOAD"]));
    assert!(
        err.starts_with(
            "-ERR Error loading ACLs, opening file 'users.acl': No such file or directory"
        ),
        "{err}"
    );
}

/// ferrokv only: redis-server takes its config file as the first argument.
fn start_ferrokv_with_conf(conf: &str, files: &[(&str, &[u8])]) -> Result<Server, String> {
    let mut all = vec![("acl.conf", conf.as_bytes())];
    all.extend_from_slice(files);
    Server::start_with_files(
        "ferrokv",
        common::ferrokv_program(),
        &["acl.conf".into()],
        common::REDIS_TEST_ARGS,
        &all,
    )
}

#[test]
fn config_file_user_lines_define_users() {
    // The `user default` line replaces what requirepass gave the default
    // user, as in Redis.
    let server = start_ferrokv_with_conf(
        "requirepass ignored\nuser alice on >apw ~a* +@all\nuser default on nopass ~* &* +@all\n",
        &[],
    )
    .unwrap();
    let mut c = server.connect();
    assert_eq!(c.cmd(&["PING"]), b"+PONG\r\n");
    assert_eq!(
        c.cmd(&["AUTH", "ignored"]),
        b"-ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?\r\n"
    );
    assert_eq!(c.cmd(&["AUTH", "alice", "apw"]), b"+OK\r\n");
    assert_eq!(c.cmd(&["GET", "b"]), NOPERM_KEY);
    assert_eq!(c.cmd(&["GET", "a"]), b"$-1\r\n");
    // CONFIG REWRITE writes the users back as `user` lines.
    let mut admin = server.connect();
    admin.cmd(&["ACL", "SETUSER", "bob", "on", "nopass", "~b*", "+get"]);
    assert_eq!(admin.cmd(&["CONFIG", "REWRITE"]), b"+OK\r\n");
    let conf = std::fs::read_to_string(server.dir().join("acl.conf")).unwrap();
    assert!(
        conf.contains("\nuser bob on nopass ~b* resetchannels -@all +get\n")
            && conf.contains("\nuser alice on #")
            // A `user default` line starts from `reset`, which sets
            // sanitize-payload, as in Redis.
            && conf.contains("\nuser default on nopass sanitize-payload ~* &* +@all\n"),
        "{conf}"
    );
}

/// Runs ferrokv with `args` in a scratch directory holding `files`, and
/// returns its exit status and output once it exits (it must, in time).
fn refused(args: &[&str], files: &[(&str, &[u8])]) -> (std::process::ExitStatus, String) {
    let dir = std::env::temp_dir().join(format!(
        "ferrokv-acl-refused-{}-{}",
        std::process::id(),
        args.len()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    for (name, data) in files {
        std::fs::write(dir.join(name), data).unwrap();
    }
    let port = common::free_port().to_string();
    let mut child = std::process::Command::new(common::ferrokv_program())
        .args(args)
        .args(["--port", &port, "--bind", "127.0.0.1"])
        .current_dir(&dir)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + PATIENCE;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("ferrokv {args:?} did not exit");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let out = child.wait_with_output().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    (
        status,
        format!("{}{}", text(&out.stdout), text(&out.stderr)),
    )
}

#[test]
fn users_in_both_the_config_file_and_an_acl_file_refuse_to_start() {
    let (status, log) = refused(
        &["acl.conf"],
        &[
            ("acl.conf", b"user alice on nopass\naclfile users.acl\n"),
            ("users.acl", b""),
        ],
    );
    assert!(!status.success());
    assert!(log.contains("ACL file"), "{log}");
    let (status, log) = refused(
        &["--aclfile", "users.acl"],
        &[("users.acl", b"user alice on +nosuch\n")],
    );
    assert!(!status.success());
    assert!(
        log.contains("users.acl:1: Error in applying operation '+nosuch'"),
        "{log}"
    );
}
