//! The Lua debugger (SCRIPT DEBUG, Redis's LDB) over a raw socket, as
//! `redis-cli --ldb` drives it: after `SCRIPT DEBUG SYNC|YES` an EVAL
//! stops at its first line and answers with the debugger's log (an array
//! of status replies); each debugger command sent then is answered with
//! the log it made; the session ends with `<endsession>`, the EVAL's
//! reply, and a closed connection.
//!
//! # Layout
//!
//! 1. **Sync sessions**: stepping, listing, printing values, breakpoints
//!    (with Redis's quirk when one is removed), traces, `eval`, `redis`,
//!    `maxlen`, `redis.debug()` and `redis.breakpoint()`, the commands a
//!    stepped script runs and their replies, `abort`, script errors.
//! 2. **The protocol's edges**: EVALSHA refused, compile errors ending
//!    the session at once, names with NUL bytes, protocol errors, a
//!    hundred-argument `redis` command, the timeout stop of an endless
//!    script and a client that disconnects meanwhile.
//! 3. **YES sessions** (Redis's forked ones): the script's writes are
//!    gone afterwards, WATCH is not touched, subscribers hear nothing.
//! 4. **redis-cli --ldb**: a whole transcript through a pipe.
//!
//! SCRIPT DEBUG's errors are in `tests/diff/script_debug.redis`.
//!
//! # The server under test
//!
//! ferrokv by default; `FERROKV_LDB_TEST_SERVER=redis` runs every test
//! against redis-server 7.0.15, which is how the expectations were
//! checked. Redis runs YES sessions in a forked child while serving
//! others; ferrokv blocks meanwhile, so nothing here talks to another
//! connection while a session is open.

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use common::replies::{bulk, ok};
use common::{Client, Server, escape, wait_until_within};

const SERVER_ENV: &str = "FERROKV_LDB_TEST_SERVER";

const CONDITION_TIMEOUT: Duration = Duration::from_secs(10);

fn start(what: &str) -> Option<Server> {
    common::start_under_test_with(SERVER_ENV, what, &[], &[])
}

/// The debugger's log as it comes on the wire.
fn log(lines: &[&str]) -> String {
    let mut s = format!("*{}\r\n", lines.len());
    for l in lines {
        s.push('+');
        s.push_str(l);
        s.push_str("\r\n");
    }
    s
}

/// A connection in a debugging session.
struct Debugger {
    c: Client,
}

impl Debugger {
    /// SCRIPT DEBUG `mode`, then EVAL, answered by the first stop.
    fn start(server: &Server, mode: &str, eval: &[&str], first: &[&str]) -> Debugger {
        let mut c = server.connect();
        ok(&mut c, &["SCRIPT", "DEBUG", mode]);
        let mut args = vec!["EVAL"];
        args.extend_from_slice(eval);
        let mut d = Debugger { c };
        d.expect(&args, first);
        d
    }

    /// Sends a debugger command; its log must be `lines`.
    fn expect(&mut self, args: &[&str], lines: &[&str]) {
        let reply = self.c.cmd(args);
        assert_eq!(
            escape(&reply),
            escape(log(lines).as_bytes()),
            "after {args:?}"
        );
    }

    /// Sends a command that ends the session: its log (then
    /// `<endsession>`), the EVAL's `reply`, then the connection closes.
    fn end(mut self, args: &[&str], lines: &[&str], reply: &str) {
        self.c.send(args).expect("send");
        self.finish(lines, reply);
    }

    fn finish(mut self, lines: &[&str], reply: &str) {
        let mut all = lines.to_vec();
        all.push("<endsession>");
        let got = self.c.read_reply().expect("the last log");
        assert_eq!(escape(&got), escape(log(&all).as_bytes()));
        let got = self.c.read_reply().expect("the EVAL's reply");
        assert_eq!(escape(&got), escape(reply.as_bytes()));
        let closed = self.c.read_reply().expect_err("the connection closes");
        assert_eq!(closed.kind(), std::io::ErrorKind::UnexpectedEof, "{closed}");
    }
}

// ---------------------------------------------------------------------------
// 1. Sync sessions
// ---------------------------------------------------------------------------

#[test]
fn step_print_list_and_the_commands_a_stepped_script_runs() {
    let Some(server) = start("stepping a script") else {
        return;
    };
    let body = "local a = 1\n\
                local t = {1,2,\"x\",{y=3}}\n\
                redis.call('set', KEYS[1], ARGV[1])\n\
                local v = redis.call('get', KEYS[1])\n\
                redis.debug('hello', a, t)\n\
                redis.breakpoint()\n\
                return v";
    let mut d = Debugger::start(
        &server,
        "SYNC",
        &[body, "1", "foo", "bar"],
        &[
            "* Stopped at 1, stop reason = step over",
            "-> 1   local a = 1",
        ],
    );
    d.expect(&["h"], &HELP);
    d.expect(
        &["s"],
        &[
            "* Stopped at 2, stop reason = step over",
            "-> 2   local t = {1,2,\"x\",{y=3}}",
        ],
    );
    d.expect(
        &["next"],
        &[
            "* Stopped at 3, stop reason = step over",
            "-> 3   redis.call('set', KEYS[1], ARGV[1])",
        ],
    );
    d.expect(
        &["p"],
        &["<value> a = 1", "<value> t = {1; 2; \"x\"; {[\"y\"]=3}}"],
    );
    d.expect(&["print", "t"], &["<value> {1; 2; \"x\"; {[\"y\"]=3}}"]);
    d.expect(&["p", "KEYS"], &["<value> {\"foo\"}"]);
    d.expect(&["p", "nosuch"], &["No such variable."]);
    let whole = [
        "   1   local a = 1",
        "   2   local t = {1,2,\"x\",{y=3}}",
        "-> 3   redis.call('set', KEYS[1], ARGV[1])",
        "   4   local v = redis.call('get', KEYS[1])",
        "   5   redis.debug('hello', a, t)",
        "   6   redis.breakpoint()",
        "   7   return v",
    ];
    d.expect(&["l"], &whole);
    d.expect(&["w"], &whole);
    d.expect(&["l", "6", "1"], &whole[4..]);
    d.expect(&["l", "1", "-1"], &[]);
    d.expect(
        &["b", "5"],
        &[
            "   4   local v = redis.call('get', KEYS[1])",
            "  #5   redis.debug('hello', a, t)",
            "   6   redis.breakpoint()",
        ],
    );
    d.expect(
        &["b"],
        &["1 breakpoints set:", "  #5   redis.debug('hello', a, t)"],
    );
    d.expect(
        &["t"],
        &[
            "In top level:",
            "-> 3   redis.call('set', KEYS[1], ARGV[1])",
        ],
    );
    d.expect(&["e", "1+1"], &["<retval> 2"]);
    d.expect(
        &["e", "x("],
        &["<error> ldb_eval:1: unexpected symbol near '<eof>'"],
    );
    d.expect(&["e", "local y = 1"], &["<retval> nil"]);
    d.expect(&["r", "get", "foo"], &["<redis> get foo", "<reply> NULL"]);
    d.expect(
        &["r", "incr"],
        &[
            "<redis> incr",
            "<error> Wrong number of args calling Redis command from script",
        ],
    );
    d.expect(
        &["r"],
        &["<error> Unknown Redis Lua debugger command or wrong number of arguments."],
    );
    d.expect(
        &["xyz"],
        &["<error> Unknown Redis Lua debugger command or wrong number of arguments."],
    );
    d.expect(&["m"], &["<value> replies are truncated at 256 bytes."]);
    d.expect(
        &["m", "10"],
        &["<value> replies are truncated at 60 bytes."],
    );
    d.expect(&["m", "0"], &["<value> replies are unlimited."]);
    d.expect(
        &["s"],
        &[
            "<redis> set foo bar",
            "<reply> \"+OK\"",
            "* Stopped at 4, stop reason = step over",
            "-> 4   local v = redis.call('get', KEYS[1])",
        ],
    );
    d.expect(
        &["s"],
        &[
            "<redis> get foo",
            "<reply> \"bar\"",
            "* Stopped at 5, stop reason = break point",
            "->#5   redis.debug('hello', a, t)",
        ],
    );
    d.expect(
        &["c"],
        &[
            "<debug> line 5: \"hello\", 1, {1; 2; \"x\"; {[\"y\"]=3}}",
            "* Stopped at 7, stop reason = redis.breakpoint() called",
            "-> 7   return v",
        ],
    );
    d.end(&["c"], &[], "$3\r\nbar\r\n");
    // A sync session's writes stay.
    let mut c = server.connect();
    assert_eq!(bulk(&mut c, &["GET", "foo"]), b"bar");
}

const HELP: [&str; 30] = [
    "Redis Lua debugger help:",
    "[h]elp               Show this help.",
    "[s]tep               Run current line and stop again.",
    "[n]ext               Alias for step.",
    "[c]ontinue           Run till next breakpoint.",
    "[l]ist               List source code around current line.",
    "[l]ist [line]        List source code around [line].",
    "                     line = 0 means: current position.",
    "[l]ist [line] [ctx]  In this form [ctx] specifies how many lines",
    "                     to show before/after [line].",
    "[w]hole              List all source code. Alias for 'list 1 1000000'.",
    "[p]rint              Show all the local variables.",
    "[p]rint <var>        Show the value of the specified variable.",
    "                     Can also show global vars KEYS and ARGV.",
    "[b]reak              Show all breakpoints.",
    "[b]reak <line>       Add a breakpoint to the specified line.",
    "[b]reak -<line>      Remove breakpoint from the specified line.",
    "[b]reak 0            Remove all breakpoints.",
    "[t]race              Show a backtrace.",
    "[e]val <code>        Execute some Lua code (in a different callframe).",
    "[r]edis <cmd>        Execute a Redis command.",
    "[m]axlen [len]       Trim logged Redis replies and Lua var dumps to len.",
    "                     Specifying zero as <len> means unlimited.",
    "[a]bort              Stop the execution of the script. In sync",
    "                     mode dataset changes will be retained.",
    "",
    "Debugger functions you can call from Lua scripts:",
    "redis.debug()        Produce logs in the debugger console.",
    "redis.breakpoint()   Stop execution like if there was a breakpoint in the",
    "                     next line of code.",
];

#[test]
fn breakpoints_as_redis_keeps_them() {
    let Some(server) = start("breakpoints") else {
        return;
    };
    let body =
        "local a = 1\nlocal b = 2\nlocal c = 3\nlocal d = 4\nlocal e = 5\nlocal f = 6\nreturn 1";
    let mut d = Debugger::start(
        &server,
        "SYNC",
        &[body, "0"],
        &[
            "* Stopped at 1, stop reason = step over",
            "-> 1   local a = 1",
        ],
    );
    d.expect(&["b"], &["No breakpoints set. Use 'b <line>' to add one."]);
    d.expect(
        &["b", "x", "-3", "2", "99", "2"],
        &[
            "Invalid argument:'x'",
            "No breakpoint in the specified line.",
            "-> 1   local a = 1",
            "  #2   local b = 2",
            "   3   local c = 3",
            "Wrong line number.",
            "Wrong line number.",
        ],
    );
    d.expect(&["b", "0"], &["All breakpoints removed."]);
    d.expect(
        &["b", "3", "5", "7"],
        &[
            "   2   local b = 2",
            "  #3   local c = 3",
            "   4   local d = 4",
            "   4   local d = 4",
            "  #5   local e = 5",
            "   6   local f = 6",
            "   6   local f = 6",
            "  #7   return 1",
        ],
    );
    d.expect(&["b", "-3"], &["Breakpoint removed."]);
    // Redis's removal moves bytes, not lines: 7 is lost, 5 doubled.
    d.expect(
        &["b"],
        &[
            "2 breakpoints set:",
            "  #5   local e = 5",
            "  #5   local e = 5",
        ],
    );
    d.expect(
        &["c"],
        &[
            "* Stopped at 5, stop reason = break point",
            "->#5   local e = 5",
        ],
    );
    d.end(&["c"], &[], ":1\r\n");
}

#[test]
fn trace_and_locals_inside_a_function() {
    let Some(server) = start("a trace") else {
        return;
    };
    let body = "local function f(a)\n  local z = a * 2\n  return z\nend\nlocal r = f(3)\nreturn r";
    let mut d = Debugger::start(
        &server,
        "SYNC",
        &[body, "0"],
        &["* Stopped at 4, stop reason = step over", "-> 4   end"],
    );
    d.expect(
        &["s"],
        &[
            "* Stopped at 5, stop reason = step over",
            "-> 5   local r = f(3)",
        ],
    );
    d.expect(
        &["s"],
        &[
            "* Stopped at 2, stop reason = step over",
            "-> 2     local z = a * 2",
        ],
    );
    d.expect(
        &["s"],
        &[
            "* Stopped at 3, stop reason = step over",
            "-> 3     return z",
        ],
    );
    d.expect(
        &["t"],
        &[
            "In f:",
            "-> 3     return z",
            "From top level:",
            "   5   local r = f(3)",
        ],
    );
    d.expect(&["p"], &["<value> a = 3", "<value> z = 6"]);
    d.expect(&["p", "a"], &["<value> 3"]);
    d.expect(
        &["s"],
        &["* Stopped at 6, stop reason = step over", "-> 6   return r"],
    );
    d.end(&["s"], &[], ":6\r\n");
}

#[test]
fn values_replies_and_errors_while_stepping() {
    let Some(server) = start("values and replies") else {
        return;
    };
    let mut c = server.connect();
    ok(&mut c, &["SET", "strkey", "abc"]);
    let body = "redis.pcall('incr', 'strkey')\n\
                redis.pcall()\n\
                redis.error_reply('X y')\n\
                redis.setresp(3)\n\
                redis.call('hset', 'hh', 'a', '1')\n\
                redis.call('hgetall', 'hh')\n\
                redis.call('mget', 'zz', 'strkey')\n\
                redis.call('set', 'bin', 'a\\0b\\1\\255\"')\n\
                redis.call('get', 'bin')\n\
                redis.call('set', 'big', string.rep('x', 300))\n\
                redis.call('get', 'big')\n\
                local u = {a=1, [1.5]=2, [true]=3}\n\
                redis.debug(u, 1/0, 12345678901234, 0.1, nil, true, 'a\\0b')\n\
                return {{{{{{{{{{{1}}}}}}}}}}}";
    let mut d = Debugger::start(
        &server,
        "SYNC",
        &[body, "0"],
        &[
            "* Stopped at 1, stop reason = step over",
            "-> 1   redis.pcall('incr', 'strkey')",
        ],
    );
    let steps: &[&[&str]] = &[
        &[
            "<redis> incr strkey",
            "<error> -ERR value is not an integer or out of range",
            "<reply> \"-ERR value is not an integer or out of range\"",
        ],
        &["<error> Please specify at least one argument for this redis lib call"],
        &["<error> -X y"],
        &[],
        &["<redis> hset hh a 1", "<reply> 1"],
        &["<redis> hgetall hh", "<reply> {\"a\" => \"1\"}"],
        &["<redis> mget zz strkey", "<reply> [(null),\"abc\"]"],
        &["<redis> set bin a\0b\u{1}\u{ff}\"", "<reply> \"+OK\""],
        &["<redis> get bin", "<reply> \"a\\x00b\\x01\\xff\\\"\""],
        &[],
        &[],
        &[],
    ];
    let lines: Vec<&str> = body.lines().collect();
    for (i, logged) in steps.iter().enumerate() {
        let stop = format!("* Stopped at {}, stop reason = step over", i + 2);
        let at = format!("-> {:<3} {}", i + 2, lines[i + 1]);
        let mut expected: Vec<&str> = logged.to_vec();
        expected.push(&stop);
        expected.push(&at);
        if i == 7 {
            // Not UTF-8 on the wire: compare bytes.
            let reply = d.c.cmd(&["s"]);
            let mut want = log(&expected).into_bytes();
            let pos = common::find(&want, "\u{1}\u{ff}".as_bytes()).expect("marker");
            want.splice(pos..pos + 3, [1u8, 0xff]);
            assert_eq!(escape(&reply), escape(&want));
            continue;
        }
        if i == 10 {
            let trimmed = format!("<reply> \"{}", "x".repeat(256 - 9));
            let trimmed = format!("{trimmed} ...");
            expected.splice(
                0..0,
                [
                    "<redis> get big",
                    trimmed.as_str(),
                    "<hint> The above reply was trimmed. Use 'maxlen 0' to disable trimming.",
                ],
            );
            d.expect(&["s"], &expected);
            continue;
        }
        if i == 9 {
            let set = format!("<redis> set big {}", "x".repeat(300));
            expected.splice(0..0, [set.as_str(), "<reply> \"+OK\""]);
            d.expect(&["s"], &expected);
            continue;
        }
        d.expect(&["s"], &expected);
    }
    d.expect(
        &["s"],
        &[
            "<debug> line 13: {[\"a\"]=1; [true]=3; [1.5]=2}, inf, 1.23457e+13, 0.1, nil, true, \"a\\x00b\"",
            "* Stopped at 14, stop reason = step over",
            "-> 14  return {{{{{{{{{{{1}}}}}}}}}}}",
        ],
    );
    d.expect(
        &["e", "{{{{{{{{{{{{1}}}}}}}}}}}}"],
        &["<retval> {{{{{{{{{{<max recursion level reached! Nested table?>}}}}}}}}}}"],
    );
    d.end(
        &["c"],
        &[],
        "*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n:1\r\n",
    );
}

#[test]
fn abort_and_script_errors_end_the_session() {
    let Some(server) = start("abort") else {
        return;
    };
    let d = Debugger::start(
        &server,
        "SYNC",
        &["local x=1\nreturn x", "0"],
        &[
            "* Stopped at 1, stop reason = step over",
            "-> 1   local x=1",
        ],
    );
    d.end(&["a"], &[], "-ERR script aborted for user request script: d5606b10541083c80e6e4df66abed53486ae3f84, on @user_script:1.\r\n");
    let d = Debugger::start(
        &server,
        "SYNC",
        &["local x=1\nerror(\"boom\")", "0"],
        &[
            "* Stopped at 1, stop reason = step over",
            "-> 1   local x=1",
        ],
    );
    d.end(&["c"], &[], "-ERR user_script:2: boom script: 0ffca1901a7317dee2c5915ccc268eb48502c455, on @user_script:2.\r\n");
    let mut d = Debugger::start(
        &server,
        "SYNC",
        &["local x=1\nreturn redis.call(\"nosuch\")", "0"],
        &[
            "* Stopped at 1, stop reason = step over",
            "-> 1   local x=1",
        ],
    );
    d.expect(
        &["s"],
        &[
            "* Stopped at 2, stop reason = step over",
            "-> 2   return redis.call(\"nosuch\")",
        ],
    );
    d.end(
        &["s"],
        &["<redis> nosuch", "<error> Unknown Redis command called from script"],
        "-ERR Unknown Redis command called from script script: 309cf9674479cc55d8ffdc6638db00830b2284fc, on @user_script:2.\r\n",
    );
}

// ---------------------------------------------------------------------------
// 2. The protocol's edges
// ---------------------------------------------------------------------------

#[test]
fn evalsha_compile_errors_and_bad_key_counts() {
    let Some(server) = start("EVALSHA and compile errors") else {
        return;
    };
    let mut c = server.connect();
    ok(&mut c, &["SCRIPT", "DEBUG", "SYNC"]);
    let sha = "0123456789012345678901234567890123456789";
    assert_eq!(
        c.cmd(&["EVALSHA", sha, "0"]),
        b"-ERR Please use EVAL instead of EVALSHA for debugging\r\n"
    );
    assert_eq!(
        c.cmd(&["EVALSHA", "01234", "0"]),
        b"-NOSCRIPT No matching script. Please use EVAL.\r\n"
    );
    // SCRIPT DEBUG NO: the next EVAL runs as any.
    ok(&mut c, &["SCRIPT", "DEBUG", "NO"]);
    assert_eq!(c.cmd(&["EVAL", "return 1", "0"]), b":1\r\n");
    // A session that cannot start ends at once, closing the connection.
    for (eval, reply) in [
        (
            ["retur", "0"],
            "-ERR Error compiling script (new function): user_script:1: '=' expected near '<eof>'\r\n",
        ),
        (
            ["return 1", "-1"],
            "-ERR Number of keys can't be negative\r\n",
        ),
    ] {
        let mut c = server.connect();
        ok(&mut c, &["SCRIPT", "DEBUG", "SYNC"]);
        c.send(&["EVAL", eval[0], eval[1]]).expect("send");
        Debugger { c }.finish(&[], reply);
    }
}

#[test]
fn debugger_commands_parsed_as_redis_parses_them() {
    let Some(server) = start("protocol edges") else {
        return;
    };
    let first = ["* Stopped at 1, stop reason = step over", "-> 1   return 1"];
    let mut d = Debugger::start(&server, "SYNC", &["return 1", "0"], &first);
    let unknown = ["<error> Unknown Redis Lua debugger command or wrong number of arguments."];
    for name in ["hello\0world", "hello\0", "\0hello"] {
        d.expect(&[name], &unknown);
    }
    // Names are compared as C strings: "h\0x" is "h".
    d.expect(&["h\0x"], &HELP);
    // A hundred arguments for `redis`.
    let mut args = vec!["redis"];
    args.extend(std::iter::repeat_n("test", 100));
    d.expect(
        &args,
        &[
            "<redis> test test test test test test test test test test ... (89 more)",
            "<error> Unknown Redis command called from script",
        ],
    );
    // Junk before the '*' is skipped.
    d.c.send_raw(b"junk*1\r\n$1\r\nc\r\n").expect("send");
    d.finish(&[], ":1\r\n");
    // An inline command or an empty argument is a protocol error.
    for raw in [&b"s\r\n"[..], b"*1\r\n$0\r\n\r\n"] {
        let mut d = Debugger::start(&server, "SYNC", &["return 1", "0"], &first);
        d.c.send_raw(raw).expect("send");
        d.finish(&[], "-ERR protocol error script: e0e1f9fabfc9d4800c877a703b823ac0578ff8db, on @user_script:1.\r\n");
    }
}

#[test]
fn an_endless_script_stops_at_the_time_limit_and_ends_when_its_user_leaves() {
    let Some(server) = start("the timeout stop") else {
        return;
    };
    let mut ctl = server.connect();
    ok(&mut ctl, &["CONFIG", "SET", "busy-reply-threshold", "100"]);
    let mut d = Debugger::start(
        &server,
        "SYNC",
        &["local x = 0\nwhile true do x = x + 1 end", "0"],
        &[
            "* Stopped at 1, stop reason = step over",
            "-> 1   local x = 0",
        ],
    );
    d.expect(
        &["c"],
        &[
            "* Stopped at 2, stop reason = timeout reached, infinite loop?",
            "-> 2   while true do x = x + 1 end",
        ],
    );
    drop(d);
    // The session ends with the client: the server answers again.
    let mut c = server.connect();
    assert_eq!(c.cmd(&["PING"]), b"+PONG\r\n");
}

#[test]
fn a_script_runs_to_its_end_when_its_user_leaves() {
    let Some(server) = start("an abandoned session") else {
        return;
    };
    let body = "redis.breakpoint()\nredis.call('set', 'done', 'yes')\nreturn 1";
    let d = Debugger::start(
        &server,
        "SYNC",
        &[body, "0"],
        &[
            "* Stopped at 1, stop reason = step over",
            "-> 1   redis.breakpoint()",
        ],
    );
    drop(d);
    let mut c = server.connect();
    wait_until_within(CONDITION_TIMEOUT, "the script ends", || {
        c.cmd(&["GET", "done"]) == b"$3\r\nyes\r\n"
    });
}

// ---------------------------------------------------------------------------
// 3. YES sessions
// ---------------------------------------------------------------------------

#[test]
fn a_yes_session_leaves_no_trace() {
    let Some(server) = start("a forked session") else {
        return;
    };
    let mut c = server.connect();
    ok(&mut c, &["SET", "a", "1"]);
    assert_eq!(c.cmd(&["RPUSH", "l", "x", "y"]), b":2\r\n");
    ok(&mut c, &["SET", "t", "v", "EX", "1000"]);
    ok(&mut c, &["SELECT", "1"]);
    ok(&mut c, &["SET", "b", "2"]);
    ok(&mut c, &["SELECT", "0"]);
    let before = common::dataset::Dataset::read(&mut c);
    let mut watcher = server.connect();
    ok(&mut watcher, &["WATCH", "a"]);
    let mut sub = server.connect();
    assert!(!sub.cmd(&["SUBSCRIBE", "ch"]).is_empty());
    let mut tracker = server.connect();
    assert!(!tracker.cmd(&["HELLO", "3"]).is_empty());
    ok(&mut tracker, &["CLIENT", "TRACKING", "ON"]);
    assert_eq!(tracker.cmd(&["GET", "a"]), b"$1\r\n1\r\n");
    let body = "redis.call('set', 'a', '2')\n\
                redis.call('del', 'l')\n\
                redis.call('persist', 't')\n\
                redis.call('publish', 'ch', 'from the script')\n\
                redis.call('move', 'a', 2)\n\
                redis.call('copy', 't', 'cp', 'db', 1)\n\
                redis.call('swapdb', 0, 1)\n\
                redis.call('select', 1)\n\
                redis.call('flushdb')\n\
                redis.call('select', 0)\n\
                redis.call('set', 'new', 'n')\n\
                redis.call('flushall')\n\
                redis.call('set', 'z', '1')\n\
                return redis.call('dbsize')";
    let d = Debugger::start(
        &server,
        "YES",
        &[body, "0"],
        &[
            "* Stopped at 1, stop reason = step over",
            "-> 1   redis.call('set', 'a', '2')",
        ],
    );
    d.end(&["c"], &[], ":1\r\n");
    let after = common::dataset::Dataset::read(&mut c);
    common::dataset::assert_same("before the session", &before, "after it", &after);
    for db in ["1", "2"] {
        ok(&mut c, &["SELECT", db]);
        let expected: &[u8] = if db == "1" {
            b"*1\r\n$1\r\nb\r\n"
        } else {
            b"*0\r\n"
        };
        assert_eq!(escape(&c.cmd(&["KEYS", "*"])), escape(expected), "db {db}");
    }
    // WATCH saw nothing, and the subscriber heard only what came after.
    ok(&mut watcher, &["MULTI"]);
    assert_eq!(watcher.cmd(&["PING"]), b"+QUEUED\r\n");
    assert_eq!(watcher.cmd(&["EXEC"]), b"*1\r\n+PONG\r\n");
    assert_eq!(c.cmd(&["PUBLISH", "ch", "after"]), b":1\r\n");
    let message = sub.read_reply().expect("a message");
    assert_eq!(
        escape(&message),
        escape(b"*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$5\r\nafter\r\n")
    );
}

// ---------------------------------------------------------------------------
// 4. redis-cli --ldb
// ---------------------------------------------------------------------------

#[test]
fn redis_cli_ldb_transcripts() {
    let Some(server) = start("redis-cli --ldb") else {
        return;
    };
    let Some(cli) = common::find_on_path("redis-cli") else {
        println!("SKIPPED: redis-cli is not on PATH");
        return;
    };
    let script = server.dir().join("debug.lua");
    std::fs::write(&script, "local a = 1\nredis.call('set', KEYS[1], ARGV[1])\nredis.debug('a is', a)\nreturn redis.call('get', KEYS[1])\n").expect("write the script");
    for (mode, ended) in [
        (
            "--ldb",
            "(Lua debugging session ended -- dataset changes rolled back)",
        ),
        ("--ldb-sync-mode", "(Lua debugging session ended)"),
    ] {
        let mut child = Command::new(&cli)
            .args(["-p", &server.port.to_string(), mode, "--eval"])
            .arg(&script)
            .args(["k", ",", "v"])
            .env("TERM", "dumb")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run redis-cli");
        {
            use std::io::Write;
            let mut stdin = child.stdin.take().expect("stdin");
            stdin.write_all(b"s\np a\nc\n").expect("write to redis-cli");
        }
        let out = child.wait_with_output().expect("redis-cli ends");
        let text = String::from_utf8_lossy(&out.stdout);
        let expected = format!(
            "Lua debugging session started, please use:\n\
             quit    -- End the session.\n\
             restart -- Restart the script in debug mode again.\n\
             help    -- Show Lua script debugging commands.\n\n\
             * Stopped at 1, stop reason = step over\n\
             -> 1   local a = 1\n\
             * Stopped at 2, stop reason = step over\n\
             -> 2   redis.call('set', KEYS[1], ARGV[1])\n\
             <value> 1\n\
             <debug> line 3: \"a is\", 1\n\n\
             \"v\"\n\n\
             {ended}\n\n"
        );
        assert_eq!(text, expected, "redis-cli {mode}");
    }
    let mut c = server.connect();
    // Only the sync session's write stays.
    assert_eq!(bulk(&mut c, &["GET", "k"]), b"v");
}
