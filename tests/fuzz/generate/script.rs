//! Scripting: EVAL, EVALSHA, their read-only forms and SCRIPT, with random
//! Lua bodies.
//!
//! A body is a few statements from a small grammar: `redis.call` and
//! `redis.pcall` of random commands (their arguments made by the same
//! generator as the top level's, so every command is called from Lua with
//! hostile arguments too), locals holding the replies, conditionals on
//! their types and values, short loops, string and number operations,
//! tables, the libraries (`cjson`, `cmsgpack`, `bit`, `struct`), errors
//! of every kind, and a return of any kind of value, RESP3 ones among them
//! (`redis.setresp(3)`). Some start with a shebang, some are run by
//! EVAL_RO or flagged `no-writes` and write anyway.
//!
//! Every body must run the same on both servers, so it leaves out what
//! differs between two processes: `math.random` (its sequence depends on
//! how many scripts each server ran), `tostring` of a table or a function
//! (an address), and commands whose reply the top level compares loosely
//! (SPOP, SRANDMEMBER, TIME, TTL, SMEMBERS ...: see `Norm::for_command`),
//! since inside a script they are compared exactly, through the script's
//! result. Loops are bounded by small constants.

use ferrokv::cmd::Command;

use super::super::norm::Norm;
use super::{Gen, MEMBERS, VALUES, defuse_idle_thresholds};

/// The scripting commands, picked by [`Gen::special`] to come here.
pub const SCRIPTING: &[&str] = &[
    "eval",
    "eval_ro",
    "evalsha",
    "evalsha_ro",
    "script|load",
    "script|exists",
    "script|flush",
    "script|kill",
    "script|help",
];

/// How many bodies of a sequence are remembered for EVALSHA and SCRIPT
/// EXISTS.
const REMEMBERED: usize = 8;

/// First lines: flags EVAL understands, flags it refuses, and lines that
/// only look like a shebang.
const SHEBANGS: &[&str] = &[
    "#!lua",
    "#!lua flags=no-writes",
    "#!lua flags=no-writes",
    "#!lua flags=no-writes,allow-oom",
    "#!lua flags=allow-oom",
    "#!lua flags=allow-stale,no-cluster",
    "#!lua flags=allow-cross-slot-keys",
    "#!lua flags=",
    "#!lua flags=nosuch",
    "#!lua name=f",
    "#!lua flags=no-writes flags=allow-oom",
    "#!luajit",
    "#!js",
    "#! lua",
];

/// Statements that fail, each in its own way.
const FAILURES: &[&str] = &[
    "error(\"boom\")",
    "error(\"ERR custom failure\")",
    "error({err=\"MYERR custom table\"})",
    "error({err=\"\"})",
    "error(42)",
    "error()",
    "error(\"with level\", 2)",
    "assert(false, \"assertion\")",
    "assert(false)",
    "assert(nil)",
    "nosuch_function()",
    "local x = nosuch_global",
    "created_global = 1",
    "redis = nil",
    "local x = 1 + {}",
    "local x = (\"a\") .. {}",
    "local x = #nil",
    "local t = nil; t.x = 1",
    "redis.call()",
    "redis.pcall()",
    "redis.call(\"nosuch\", \"a\")",
    "redis.call(\"NOSUCH\")",
    "redis.call(\"get\")",
    "redis.call(\"set\", \"k0\")",
    "redis.call(\"get\", \"k0\", \"extra\")",
    "redis.call(\"get\", {})",
    "redis.call(\"get\", nil)",
    "redis.call(\"get\", true)",
    "redis.call({})",
    "redis.call(1.5)",
    "redis.call(\"multi\")",
    "redis.call(\"exec\")",
    "redis.call(\"watch\", \"k0\")",
    "redis.call(\"subscribe\", \"k0\")",
    "redis.call(\"eval\", \"return 1\", \"0\")",
    "redis.call(\"script\", \"flush\")",
    "redis.call(\"client\", \"reply\", \"off\")",
    "redis.call(\"debug\", \"sleep\", \"0\")",
    "redis.call(\"blpop\", \"k0\", \"0\")",
    "redis.call(\"set\", \"k0\", \"v\", \"px\", \"0\")",
    "redis.call(\"incr\", \"\")",
    "redis.call(\"select\", \"99\")",
    "string.rep(\"x\", -1)",
    "local x = string.sub()",
    "local x = tonumber()",
    "local x = cjson.decode(\"{nope\")",
    "local x = cjson.decode(\"\")",
    "local x = cmsgpack.unpack(\"\\193\")",
    "local x = struct.pack(\">q\")",
    "local x = bit.band()",
    "redis.setresp(4)",
    "redis.setresp()",
    "redis.set_repl(99)",
    "redis.log(99, \"x\")",
    "redis.log(redis.LOG_WARNING)",
    "redis.error_reply()",
    "redis.status_reply({})",
    "redis.sha1hex()",
    "redis.acl_check_cmd()",
    "redis.acl_check_cmd(\"nosuch\")",
    "math.random = nil",
    "local x = loadstring(\"return 1\")",
    "setmetatable(_G, nil)",
    "KEYS = nil",
    "ARGV[1] = \"changed\"",
];

/// Calls that return something, or nothing, and should not fail.
const LIBRARY_CALLS: &[&str] = &[
    "cjson.encode({1, \"a\", {2.5, true, false}})",
    "cjson.encode({})",
    "cjson.encode({a = 1})",
    "cjson.encode(\"a\\000b\\r\\n\\\"\")",
    "cjson.encode(1e300)",
    "cjson.encode(0.1)",
    "cjson.encode(-0)",
    "cjson.encode(cjson.null)",
    "cjson.decode(\"[1, 2.5, null, true, \\\"x\\\", {\\\"a\\\": [3]}]\")",
    "cjson.decode(\"12345678901234567890\")",
    "cjson.decode(\"\\\"\\\\u00e9\\\\u0000\\\"\")",
    "cmsgpack.pack(1, \"a\", {2, {3}}, true, -1.5)",
    "cmsgpack.pack(2^40, -2^40, 2^64, 0.25)",
    "cmsgpack.unpack(cmsgpack.pack({1, 2, {3, \"x\"}}, \"y\"))",
    "cmsgpack.unpack(\"\\147\\001\\002\\003\")",
    "bit.band(0xff, 0x0f)",
    "bit.bor(1, 2, 4)",
    "bit.bxor(5, 3)",
    "bit.bnot(0)",
    "bit.lshift(1, 31)",
    "bit.arshift(-256, 4)",
    "bit.tohex(255)",
    "bit.tohex(-1, -4)",
    "bit.tobit(2^32 + 5)",
    "struct.pack(\">i4\", 7)",
    "struct.pack(\"<HhBs\", 513, -2, 255, \"abc\")",
    "struct.unpack(\">i4\", \"\\000\\000\\001\\000\")",
    "struct.size(\"i4d\")",
    "redis.sha1hex(\"\")",
    "redis.sha1hex(\"abc\")",
    "redis.status_reply(\"FINE\")",
    "redis.error_reply(\"ERR made\")",
    "redis.error_reply(\"no prefix\")",
    "redis.REDIS_VERSION",
    "redis.REDIS_VERSION_NUM",
    "redis.replicate_commands()",
    "redis.set_repl(redis.REPL_ALL)",
    "redis.breakpoint()",
    "redis.debug(\"x\")",
    "redis.log(redis.LOG_NOTICE, \"from a fuzzed script\")",
    "redis.acl_check_cmd(\"get\", \"k0\")",
    "redis.acl_check_cmd(\"set\", \"k0\", \"v\")",
    "redis.setresp(2)",
    "redis.setresp(3)",
    "#KEYS",
    "#ARGV",
    "KEYS[1]",
    "ARGV[1]",
    "type(KEYS)",
    "math.floor(7.5)",
    "math.huge",
    "-math.huge",
    "math.max(1, 2.5)",
    "math.fmod(7, 3)",
    "string.format(\"%d %s %5.2f\", 3, \"x\", 1.5)",
    "string.format(\"%q\", \"a\\000\\n\")",
    "string.char(65, 0, 255)",
    "string.byte(\"A\")",
    "table.concat({\"a\", 1, 2.5}, \",\")",
    "select(\"#\", 1, nil, 3)",
    "unpack({1, 2, 3})",
    "tostring(nil)",
    "tostring(1/0)",
    "tostring(0.1)",
    "tonumber(\"0x10\")",
    "tonumber(\" 12 \")",
    "tonumber(\"1e3\")",
    "tonumber(\"z\", 36)",
    "pcall(error, \"caught\")",
];

/// Values a script returns directly.
const RETURNS: &[&str] = &[
    "1",
    "0",
    "-7",
    "3.99",
    "-0.5",
    "1e20",
    "-1e20",
    "2^53",
    "2^63",
    "1/0",
    "-1/0",
    "0/0",
    "\"\"",
    "\"text\"",
    "\"a\\000b\\255\\r\\n\"",
    "true",
    "false",
    "nil",
    "{}",
    "{1, \"two\", {3, {4.5, {}}}, true, false, \"after\"}",
    "{1, nil, 3}",
    "{nil, 2}",
    "{ok=\"OK\"}",
    "{ok=\"fine and dandy\"}",
    "{ok=\"\"}",
    "{ok=1}",
    "{err=\"ERR boom\"}",
    "{err=\"boom\"}",
    "{err=\"\"}",
    "{err=\"E\\r\\nline\"}",
    "{err=1}",
    "{ok=\"x\", err=\"y\"}",
    "{a=1}",
    "{1, 2, a=3}",
    "{{ok=\"nested\"}, {err=\"nested error\"}}",
    "redis.status_reply(\"STATUS\")",
    "redis.error_reply(\"ERR replied\")",
    "redis.error_reply(\"-ERR dash\")",
    "redis.error_reply(\"\")",
    "{double=1.5}",
    "{double=3}",
    "{double=0/0}",
    "{double=1/0}",
    "{double=\"2.5\"}",
    "{double=\"x\"}",
    "{map={a=1}}",
    "{map={}}",
    "{map={[1]=\"x\", [2]=\"y\"}}",
    "{set={a=true}}",
    "{set={}}",
    "{big_number=\"12345678901234567890\"}",
    "{verbatim_string={format=\"txt\", string=\"verbatim\"}}",
    "{null=true}",
    "KEYS",
    "ARGV",
    "{KEYS, ARGV}",
    "#KEYS + #ARGV",
    "redis.call(\"ping\")",
    "redis.pcall(\"nosuch\")",
    "redis.sha1hex(\"x\")",
    "cjson.null",
];

/// The most arguments a generated `redis.call` passes (see `Gen::call`).
const MAX_CALL_ARGS: usize = 200;

impl Gen {
    /// A scripting command's arguments (`cmd` is one of [`SCRIPTING`]).
    pub(super) fn scripting(&mut self, cmd: &Command) -> Vec<Vec<u8>> {
        let mut args = self.name_args(cmd);
        match cmd.name {
            "eval" | "eval_ro" => {
                let (keys, argv) = self.script_inputs();
                let body = self.script_body(&keys, &argv);
                self.remember(&body);
                args.push(body);
                args.push(self.numkeys(keys.len()));
                args.extend(keys);
                args.extend(argv);
            }
            "evalsha" | "evalsha_ro" => {
                let (keys, argv) = self.script_inputs();
                args.push(self.sha());
                args.push(self.numkeys(keys.len()));
                args.extend(keys);
                args.extend(argv);
            }
            "script|load" => {
                let (keys, argv) = self.script_inputs();
                let body = self.script_body(&keys, &argv);
                self.remember(&body);
                args.push(body);
            }
            "script|exists" => {
                for _ in 0..1 + self.below(4) {
                    args.push(self.sha());
                }
            }
            "script|flush" => match self.below(5) {
                0 => args.push(self.cased("ASYNC")),
                1 => args.push(self.cased("SYNC")),
                2 => args.push(b"nosuch".to_vec()),
                _ => {}
            },
            // KILL finds nothing running (no script runs for long), HELP
            // is text.
            _ => {}
        }
        args
    }

    /// Bodies as EVAL sends them, for the test that they compile.
    pub fn script_bodies(&mut self, n: usize) -> Vec<Vec<u8>> {
        (0..n)
            .map(|_| {
                let (keys, argv) = self.script_inputs();
                self.script_body(&keys, &argv)
            })
            .collect()
    }

    fn remember(&mut self, body: &[u8]) {
        if self.scripts.len() == REMEMBERED {
            self.scripts.remove(0);
        }
        self.scripts.push(body.to_vec());
    }

    /// EVAL's keys (from the key pool) and other arguments.
    fn script_inputs(&mut self) -> (Vec<Vec<u8>>, Vec<Vec<u8>>) {
        let keys = (0..self.below(4)).map(|_| self.key()).collect();
        let argv = (0..self.below(4))
            .map(|_| {
                if self.chance(50) {
                    self.pick(VALUES).to_vec()
                } else {
                    self.pick(MEMBERS).to_vec()
                }
            })
            .collect();
        (keys, argv)
    }

    /// A SHA for EVALSHA and SCRIPT EXISTS: mostly one of the sequence's
    /// bodies (loaded or not, by EVAL or SCRIPT LOAD), sometimes in upper
    /// case, one never loaded, or not a SHA at all.
    fn sha(&mut self) -> Vec<u8> {
        match self.below(12) {
            0..=7 if !self.scripts.is_empty() => {
                let i = self.below(self.scripts.len());
                let sha = ferrokv::script::sha1::hex(&self.scripts[i]).to_vec();
                if self.chance(15) {
                    sha.to_ascii_uppercase()
                } else {
                    sha
                }
            }
            // "return 1", which the generator never writes alone.
            8 => b"e0e1f9fabfc9d4800c877a703b823ac0578ff8db".to_vec(),
            9 => vec![b'f'; 40],
            10 => vec![b'0'; 41],
            _ => self
                .pick(&[
                    &b"abc"[..],
                    b"",
                    b"e0e1f9fabfc9d4800c877a703b823ac0578ff8dZ",
                ])
                .to_vec(),
        }
    }

    /// A random body over these keys and arguments.
    fn script_body(&mut self, keys: &[Vec<u8>], argv: &[Vec<u8>]) -> Vec<u8> {
        let mut w = Writer {
            lines: Vec::new(),
            vars: Vec::new(),
            next: 0,
            depth: 0,
            loop_var: false,
            keys,
            argv,
        };
        if self.chance(15) {
            w.lines.push(self.pick(SHEBANGS).to_string());
        }
        if self.chance(15) {
            w.lines.push("redis.setresp(3)".to_string());
        }
        for _ in 0..1 + self.below(6) {
            self.statement(&mut w);
        }
        if self.chance(85) {
            let value = self.return_value(&w);
            w.lines.push(format!("return {value}"));
        }
        let mut body = w.lines.join("\n");
        if self.chance(5) {
            body.push('\n');
        }
        body.into_bytes()
    }

    fn statement(&mut self, w: &mut Writer) {
        let mut roll = self.below(100);
        if w.depth >= 2 && (48..65).contains(&roll) {
            roll = 0;
        }
        match roll {
            0..=39 => {
                let call = self.call(w);
                let var = w.fresh();
                w.line(format!("local {var} = {call}"));
                w.vars.push(var);
            }
            40..=47 => {
                let call = self.call(w);
                w.line(call);
            }
            48..=57 => {
                let Some(var) = w.any_var(self) else {
                    return self.statement(w);
                };
                let test = match self.below(6) {
                    0 => format!("type({var}) == \"table\""),
                    1 => format!("type({var}) == \"number\""),
                    2 => format!("type({var}) == \"table\" and {var}.err"),
                    3 => format!("type({var}) == \"table\" and {var}.ok"),
                    4 => format!("tonumber({})", scalar(&var)),
                    _ => var.clone(),
                };
                w.line(format!("if {test} then"));
                self.block(w);
                if self.chance(40) {
                    w.line("else".to_string());
                    self.block(w);
                }
                w.line("end".to_string());
            }
            58..=64 => {
                let bound = self.below(4);
                let t = w.fresh();
                w.line(format!("local {t} = {{}}"));
                w.line(format!("for i = 1, {bound} do"));
                w.depth += 1;
                let outer = w.loop_var;
                w.loop_var = true;
                let call = self.call(w);
                w.line(format!("{t}[#{t} + 1] = {call}"));
                let scope = w.vars.len();
                if self.chance(30) {
                    self.statement(w);
                }
                w.vars.truncate(scope);
                w.loop_var = outer;
                w.depth -= 1;
                w.line("end".to_string());
                w.vars.push(t);
            }
            65..=74 => {
                let Some(var) = w.any_var(self) else {
                    return self.statement(w);
                };
                let s = scalar(&var);
                let expr = match self.below(10) {
                    0 => format!("string.upper({s})"),
                    1 => format!("string.len({s})"),
                    2 => format!("string.sub({s}, 2, -2)"),
                    3 => format!("string.rep({s}, 3, \",\")"),
                    4 => format!("{s} .. \"|\" .. {s}"),
                    5 => format!("(tonumber({s}) or 0) * 2 + 0.5"),
                    6 => format!("(tonumber({s}) or -1) % 7"),
                    7 => format!("string.format(\"%s:%d\", {s}, string.len({s}))"),
                    8 => format!("string.gsub({s}, \"%d\", \"#\")"),
                    _ => format!("tostring(tonumber({s}))"),
                };
                let var = w.fresh();
                w.line(format!("local {var} = {expr}"));
                w.vars.push(var);
            }
            75..=81 => {
                let mut items: Vec<String> = Vec::new();
                for _ in 0..self.below(5) {
                    items.push(match (self.below(5), w.any_var(self)) {
                        (0 | 1, Some(v)) => v,
                        (2, _) => format!("{{{}}}", self.literal_number()),
                        (3, _) => lua_string(self.pick(MEMBERS)),
                        _ => self.literal_number(),
                    });
                }
                let var = w.fresh();
                w.line(format!("local {var} = {{{}}}", items.join(", ")));
                w.vars.push(var);
            }
            82..=89 => {
                let call = self.pick(LIBRARY_CALLS);
                let var = w.fresh();
                w.line(format!("local {var} = {call}"));
                w.vars.push(var);
            }
            90..=94 => {
                // A library call on a reply: what it made of the command.
                let Some(var) = w.any_var(self) else {
                    return self.statement(w);
                };
                let expr = match self.below(4) {
                    0 => format!("cjson.encode({var})"),
                    1 => format!("cmsgpack.pack({var})"),
                    2 => format!("redis.sha1hex({})", scalar(&var)),
                    _ => format!("bit.band(tonumber({}) or 5, 0xff)", scalar(&var)),
                };
                let out = w.fresh();
                w.line(format!("local {out} = {expr}"));
                w.vars.push(out);
            }
            _ => {
                let failure = self.pick(FAILURES);
                if self.chance(40) {
                    w.line(failure.to_string());
                } else {
                    // Caught, so that the script goes on with the message.
                    let var = w.fresh();
                    w.line(format!(
                        "local {var}_ok, {var} = pcall(function() {failure} end)"
                    ));
                    w.vars.push(var);
                }
            }
        }
    }

    /// The statements of an `if` or `else`: their locals end with it.
    fn block(&mut self, w: &mut Writer) {
        let scope = w.vars.len();
        w.depth += 1;
        for _ in 0..1 + self.below(2) {
            self.statement(w);
        }
        if self.chance(15) {
            let value = self.return_value(w);
            w.line(format!("return {value}"));
        }
        w.depth -= 1;
        w.vars.truncate(scope);
    }

    /// `redis.call(...)` or `redis.pcall(...)` of a random command.
    fn call(&mut self, w: &Writer) -> String {
        let function = if self.chance(35) { "pcall" } else { "call" };
        let mut args = self.script_command();
        // Lua 5.1 compiles a call of at most about 250 arguments ("function
        // or expression too complex"); PFADD's long runs are cut short.
        args.truncate(MAX_CALL_ARGS);
        let mut rendered: Vec<String> = Vec::with_capacity(args.len());
        for (i, arg) in args.iter().enumerate() {
            rendered.push(self.argument(w, arg, i == 0));
        }
        if self.chance(3)
            && let Some(var) = w.any_var(self)
        {
            // A reply as an argument: a table or a boolean is refused.
            rendered.push(var);
        }
        format!("redis.{function}({})", rendered.join(", "))
    }

    /// One argument of a call: KEYS[i] or ARGV[i] where the value is one
    /// of them, a key made in a loop, a number, or a string literal.
    fn argument(&mut self, w: &Writer, arg: &[u8], name: bool) -> String {
        if !name {
            if let Some(i) = w.keys.iter().position(|k| k == arg)
                && self.chance(60)
            {
                return format!("KEYS[{}]", i + 1);
            }
            if let Some(i) = w.argv.iter().position(|a| a == arg)
                && self.chance(60)
            {
                return format!("ARGV[{}]", i + 1);
            }
            if w.loop_var && arg.starts_with(b"k") && arg.len() == 2 && self.chance(50) {
                return "\"k\" .. i".to_string();
            }
            let integer = !arg.is_empty()
                && arg.len() < 16
                && arg
                    .iter()
                    .enumerate()
                    .all(|(i, b)| b.is_ascii_digit() || (i == 0 && *b == b'-'))
                && arg != b"-";
            if integer && self.chance(25) {
                return String::from_utf8_lossy(arg).into_owned();
            }
        }
        if arg.len() > 256 {
            // A big value as Lua builds it: the script stays short.
            return format!("string.rep({}, {})", lua_string(&arg[..1]), arg.len());
        }
        lua_string(arg)
    }

    /// A command for a script to call: any the top level generates whose
    /// reply is compared exactly there (see the module's doc), with the
    /// same arguments and hostility; sometimes a blocking one, which a
    /// script runs without blocking.
    fn script_command(&mut self) -> Vec<Vec<u8>> {
        for _ in 0..20 {
            if self.chance(4) {
                let mut args = self.blocking_step(0).args;
                self.defuse_short_ttls(&mut args);
                return args;
            }
            let i = self.weighted_index();
            let cmd = self.commands[i].0;
            if SCRIPTING.contains(&cmd.name) {
                continue;
            }
            let mut args = self.special(cmd).unwrap_or_else(|| self.docs_args(cmd));
            let fixed = cmd.name.split('|').count();
            if !super::SAFE_ARGS_ONLY.contains(&cmd.name) {
                self.maybe_hostile(&mut args, fixed);
            }
            self.defuse_short_ttls(&mut args);
            defuse_idle_thresholds(&mut args);
            if Norm::for_command(&args, &args[0]) == Norm::Exact {
                return args;
            }
        }
        vec![b"GET".to_vec(), self.key()]
    }

    /// A value to return: a literal of any kind, a local, or a table of
    /// locals.
    fn return_value(&mut self, w: &Writer) -> String {
        match (self.below(10), w.any_var(self)) {
            (0..=3, Some(var)) => var,
            (4, Some(var)) => format!("{{{var}, {}}}", w.any_var(self).unwrap_or_default()),
            (5, Some(var)) => format!("{{ok = {}}}", scalar(&var)),
            (6, Some(var)) => format!("{{err = {}}}", scalar(&var)),
            _ => self.pick(RETURNS).to_string(),
        }
    }

    fn literal_number(&mut self) -> String {
        self.pick(&["0", "1", "-1", "2.5", "-0.25", "1e15", "100", "7"])
            .to_string()
    }
}

/// A body being written: its lines and the locals in scope.
struct Writer<'a> {
    lines: Vec<String>,
    vars: Vec<String>,
    next: usize,
    depth: usize,
    /// Inside a `for i = ...` loop, whose `i` an argument may use.
    loop_var: bool,
    keys: &'a [Vec<u8>],
    argv: &'a [Vec<u8>],
}

impl Writer<'_> {
    fn fresh(&mut self) -> String {
        self.next += 1;
        format!("r{}", self.next)
    }

    fn line(&mut self, text: String) {
        self.lines
            .push(format!("{}{text}", "  ".repeat(self.depth)));
    }

    fn any_var(&self, g: &mut Gen) -> Option<String> {
        if self.vars.is_empty() {
            None
        } else {
            Some(
                g.pick(&self.vars.iter().map(String::as_str).collect::<Vec<_>>())
                    .to_string(),
            )
        }
    }
}

/// A local as a string or number, never a table's address: a table gives
/// its length.
fn scalar(var: &str) -> String {
    format!("(type({var}) == \"table\" and \"T\" .. #{var} or tostring({var}))")
}

/// A Lua string literal of these bytes: printable ASCII as itself, the
/// rest as three-digit decimal escapes (Lua 5.1 has no `\x`).
pub fn lua_string(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() + 2);
    out.push('"');
    for &b in bytes {
        match b {
            b'"' | b'\\' => {
                out.push('\\');
                out.push(b as char);
            }
            0x20..=0x7e => out.push(b as char),
            _ => out.push_str(&format!("\\{b:03}")),
        }
    }
    out.push('"');
    out
}
