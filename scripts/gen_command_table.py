#!/usr/bin/env python3
"""Generate src/cmd/table.rs from a running redis-server 7.0.

The command table is not written by hand: every descriptor (arity, flags,
legacy key positions, ACL categories, tips, key specs and the whole
`COMMAND DOCS` entry) is copied from redis-server 7.0's own `COMMAND INFO`
and `COMMAND DOCS`, so `COMMAND INFO`, `COMMAND DOCS` and `COMMAND GETKEYS`
answer exactly as Redis does.

Usage:

    redis-server --port 7801 --save '' --appendonly no --daemonize yes
    python3 scripts/gen_command_table.py --port 7801
    redis-cli -p 7801 shutdown nosave

Options: --host (default 127.0.0.1), --port (default 6379), --out (default
src/cmd/table.rs in this repository) and --no-rustfmt. The output is
formatted with `rustfmt --edition 2024` unless --no-rustfmt is given.

To add commands, add their names to COMMANDS below and re-run. A container
command (one with subcommands, such as CONFIG) is written as
`("config", ["get", "set"])` and only the listed subcommands are included.
Each command needs a handler named after it in `src/cmd` (`config|get` is
`h::config_get`); containers have no handler of their own, except COMMAND,
whose plain form lists every command.

The script uses only the Python standard library and speaks RESP2 to the
server itself.
"""

import argparse
import os
import socket
import subprocess
import sys

# The commands in the table, in table order. A string is a plain command; a
# `(container, [subcommand, ...])` pair is a container with the subcommands
# to include.
COMMANDS = [
    # connection
    "ping",
    "echo",
    "quit",
    "reset",
    "hello",
    "select",
    "auth",
    # CLIENT SETINFO comes from EXTRA_SUBCOMMANDS below.
    ("client", ["id", "setname", "getname", "list", "info", "kill", "reply",
                "no-evict", "unblock", "tracking", "caching", "getredir",
                "trackinginfo", "pause", "unpause", "help"]),
    # server
    "swapdb",
    "dbsize",
    "flushdb",
    "flushall",
    "time",
    "lastsave",
    "save",
    "bgsave",
    "bgrewriteaof",
    "info",
    ("config", ["get", "set", "resetstat", "rewrite", "help"]),
    ("acl", ["cat", "deluser", "dryrun", "genpass", "getuser", "help", "list", "load", "log", "save", "setuser", "users", "whoami"]),
    ("command", ["count", "info", "list", "docs", "getkeys",
                 "getkeysandflags", "help"]),
    "shutdown",
    ("object", ["encoding", "refcount", "idletime", "freq", "help"]),
    ("memory", ["usage", "stats", "doctor", "malloc-stats", "purge", "help"]),
    "debug",
    "role",
    "wait",
    ("module", ["list", "load", "loadex", "unload", "help"]),
    "lolwut",
    ("slowlog", ["get", "len", "reset", "help"]),
    ("latency", ["latest", "history", "reset", "graph", "doctor",
                 "histogram", "help"]),
    "monitor",
    # transactions
    "multi",
    "exec",
    "discard",
    "watch",
    "unwatch",
    # keys
    "del",
    "unlink",
    "exists",
    "type",
    "keys",
    "randomkey",
    "rename",
    "renamenx",
    "copy",
    "move",
    "dump",
    "restore",
    "restore-asking",
    "migrate",
    "touch",
    "scan",
    "expire",
    "pexpire",
    "expireat",
    "pexpireat",
    "ttl",
    "pttl",
    "expiretime",
    "pexpiretime",
    "persist",
    # strings
    "get",
    "set",
    "setnx",
    "setex",
    "psetex",
    "getset",
    "getdel",
    "getex",
    "mget",
    "mset",
    "msetnx",
    "append",
    "strlen",
    "getrange",
    "substr",
    "setrange",
    "lcs",
    "incr",
    "decr",
    "incrby",
    "decrby",
    "incrbyfloat",
    # bitmaps
    "setbit",
    "getbit",
    "bitcount",
    "bitpos",
    "bitop",
    "bitfield",
    "bitfield_ro",
    # hyperloglog
    "pfadd",
    "pfcount",
    "pfmerge",
    "pfdebug",
    "pfselftest",
    # hashes
    "hset",
    "hsetnx",
    "hget",
    "hmget",
    "hmset",
    "hdel",
    "hlen",
    "hstrlen",
    "hexists",
    "hkeys",
    "hvals",
    "hgetall",
    "hincrby",
    "hincrbyfloat",
    "hrandfield",
    "hscan",
    # sets
    "sadd",
    "srem",
    "scard",
    "sismember",
    "smismember",
    "smembers",
    "spop",
    "srandmember",
    "smove",
    "sinter",
    "sintercard",
    "sinterstore",
    "sunion",
    "sunionstore",
    "sdiff",
    "sdiffstore",
    "sscan",
    # lists
    "lpush",
    "rpush",
    "lpushx",
    "rpushx",
    "lpop",
    "rpop",
    "llen",
    "lrange",
    "lindex",
    "lset",
    "linsert",
    "lrem",
    "ltrim",
    "lpos",
    "lmove",
    "rpoplpush",
    "lmpop",
    "blpop",
    "brpop",
    "blmove",
    "brpoplpush",
    "blmpop",
    # sorted sets
    "zadd",
    "zincrby",
    "zrem",
    "zcard",
    "zscore",
    "zmscore",
    "zrank",
    "zrevrank",
    "zrange",
    "zrangestore",
    "zrangebyscore",
    "zrevrangebyscore",
    "zrangebylex",
    "zrevrangebylex",
    "zrevrange",
    "zcount",
    "zlexcount",
    "zremrangebyrank",
    "zremrangebyscore",
    "zremrangebylex",
    "zpopmin",
    "zpopmax",
    "zmpop",
    "bzpopmin",
    "bzpopmax",
    "bzmpop",
    "zunion",
    "zinter",
    "zdiff",
    "zunionstore",
    "zinterstore",
    "zdiffstore",
    "zintercard",
    "zrandmember",
    "zscan",
    # geo (on sorted sets)
    "geoadd",
    "geopos",
    "geodist",
    "geohash",
    "georadius",
    "georadius_ro",
    "georadiusbymember",
    "georadiusbymember_ro",
    "geosearch",
    "geosearchstore",
    # sort
    "sort",
    "sort_ro",
    # streams
    "xadd",
    "xrange",
    "xrevrange",
    "xlen",
    "xdel",
    "xtrim",
    "xsetid",
    "xread",
    "xreadgroup",
    "xack",
    "xpending",
    "xclaim",
    "xautoclaim",
    ("xgroup", ["create", "setid", "destroy", "createconsumer", "delconsumer",
                "help"]),
    ("xinfo", ["stream", "groups", "consumers", "help"]),
    # pub/sub
    "subscribe",
    "unsubscribe",
    "psubscribe",
    "punsubscribe",
    "publish",
    "ssubscribe",
    "sunsubscribe",
    "spublish",
    ("pubsub", ["channels", "numsub", "numpat", "shardchannels",
                "shardnumsub", "help"]),
    "eval",
    "evalsha",
    "eval_ro",
    "evalsha_ro",
    ("script", ["load", "exists", "flush", "kill", "debug", "help"]),
    "fcall",
    "fcall_ro",
    ("function", ["load", "delete", "flush", "list", "stats", "dump",
                  "restore", "kill", "help"]),
]

# Containers whose plain form (no subcommand) is itself a command.
CONTAINERS_WITH_HANDLER = {"command"}

# Command flags that spec.rs's `flag` module defines. `movablekeys` is not
# among them: spec.rs derives it from the key specs, and this script checks
# that the derivation agrees with Redis.
KNOWN_FLAGS = {
    "write", "readonly", "denyoom", "module", "admin", "pubsub", "noscript",
    "blocking", "loading", "stale", "skip_monitor", "skip_slowlog", "asking",
    "fast", "no_auth", "may_replicate", "sentinel", "only_sentinel",
    "no_mandatory_keys", "protected", "no_async_loading", "no_multi",
    "allow_busy",
}

# Words a handler name cannot be without the `r#` prefix.
RUST_KEYWORDS = {
    "as", "async", "await", "break", "const", "continue", "dyn", "else",
    "enum", "extern", "false", "fn", "for", "gen", "if", "impl", "in", "let",
    "loop", "match", "mod", "move", "mut", "pub", "ref", "return", "static",
    "struct", "trait", "true", "try", "type", "unsafe", "use", "where",
    "while", "abstract", "become", "box", "do", "final", "macro", "override",
    "priv", "typeof", "unsized", "virtual", "yield",
}

HEADER = """\
//! Generated by scripts/gen_command_table.py from redis-server 7.0's COMMAND INFO and COMMAND DOCS. Do not edit by hand.

use super::h;
use super::spec::{flag, Arg, BeginSearch, Command, Docs, FindKeys, KeySpec};

pub static COMMANDS: &[Command] = &[
"""


class RedisError(Exception):
    pass


class Connection:
    """A minimal RESP2 client: enough to send commands and read replies."""

    def __init__(self, host, port):
        self.sock = socket.create_connection((host, port))
        self.file = self.sock.makefile("rb")

    def call(self, *args):
        request = [b"*%d\r\n" % len(args)]
        for arg in args:
            data = arg.encode() if isinstance(arg, str) else arg
            request.append(b"$%d\r\n%s\r\n" % (len(data), data))
        self.sock.sendall(b"".join(request))
        return self.read()

    def read(self):
        line = self.file.readline()
        if not line.endswith(b"\r\n"):
            raise RedisError("connection closed mid-reply")
        kind, rest = line[:1], line[1:-2]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            raise RedisError(rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b"$":
            length = int(rest)
            if length < 0:
                return None
            data = self.file.read(length + 2)
            return data[:-2].decode()
        if kind == b"*":
            length = int(rest)
            if length < 0:
                return None
            return [self.read() for _ in range(length)]
        raise RedisError("unexpected reply type %r" % line)


def pairs(flat):
    """A RESP2 map (a flat array of keys and values) as a dict, checking
    that no key repeats."""
    result = {}
    for key, value in zip(flat[::2], flat[1::2]):
        if key in result:
            raise RedisError("duplicate map key %r" % key)
        result[key] = value
    return result


def take(fields, allowed, context):
    """Fails on a field this script does not know, so a new Redis field
    cannot be dropped silently."""
    unknown = set(fields) - set(allowed)
    if unknown:
        raise RedisError("%s: unknown fields %s" % (context, sorted(unknown)))
    return fields


# ---------------------------------------------------------------- Rust text

def rust_str(s):
    """A Rust string literal."""
    out = ['"']
    for ch in s:
        if ch == "\\":
            out.append("\\\\")
        elif ch == '"':
            out.append('\\"')
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append("\\u{%x}" % ord(ch))
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def rust_opt_str(s):
    return "None" if s is None else "Some(%s)" % rust_str(s)


def rust_str_slice(items):
    return "&[%s]" % ", ".join(rust_str(s) for s in items)


def handler_ident(name):
    ident = name.replace("|", "_").replace("-", "_")
    if ident in RUST_KEYWORDS:
        return "r#" + ident
    return ident


class Writer:
    """Indented lines of Rust, laid out as rustfmt would, so the output is
    readable even where rustfmt gives up on long string literals."""

    def __init__(self):
        self.lines = []
        self.depth = 1

    def line(self, text):
        self.lines.append("    " * self.depth + text)

    def open(self, text):
        self.line(text)
        self.depth += 1

    def close(self, text):
        self.depth -= 1
        self.line(text)


# ---------------------------------------------------------- descriptors

# ferrokv's own flags, which COMMAND INFO does not show (Redis tests for
# these commands' handlers in processCommand): RUNS_IN_MULTI, the commands
# that run at once between MULTI and EXEC instead of being queued;
# SUBSCRIBED_OK, the commands a RESP2 client may run while subscribed.
# MAY_REPLICATE, TOUCHES_ARBITRARY_KEYS and PROTECTED are Redis's, but COMMAND INFO
# hides them, so they are listed here from Redis's command JSON files.
OWN_FLAGS = {
    "randomkey": ["TOUCHES_ARBITRARY_KEYS"],
    "scan": ["TOUCHES_ARBITRARY_KEYS"],
    "publish": ["MAY_REPLICATE"],
    "spublish": ["MAY_REPLICATE"],
    "pfcount": ["MAY_REPLICATE"],
    "eval": ["MAY_REPLICATE"],
    "evalsha": ["MAY_REPLICATE"],
    "fcall": ["MAY_REPLICATE"],
    "multi": ["RUNS_IN_MULTI"],
    "exec": ["RUNS_IN_MULTI"],
    "discard": ["RUNS_IN_MULTI"],
    "watch": ["RUNS_IN_MULTI"],
    "quit": ["RUNS_IN_MULTI", "SUBSCRIBED_OK"],
    "reset": ["RUNS_IN_MULTI", "SUBSCRIBED_OK"],
    "ping": ["SUBSCRIBED_OK"],
    "subscribe": ["SUBSCRIBED_OK"],
    "unsubscribe": ["SUBSCRIBED_OK"],
    "psubscribe": ["SUBSCRIBED_OK"],
    "punsubscribe": ["SUBSCRIBED_OK"],
    "ssubscribe": ["SUBSCRIBED_OK"],
    "sunsubscribe": ["SUBSCRIBED_OK"],
    # PROTECTED: refused unless `enable-debug-command` or
    # `enable-module-command` allows it (Redis's allowProtectedAction).
    "debug": ["PROTECTED"],
    "module|load": ["PROTECTED"],
    "module|loadex": ["PROTECTED"],
    "module|unload": ["PROTECTED"],
}


def emit_flags(names, command):
    consts = []
    for name in names:
        if name == "movablekeys":
            continue
        if name not in KNOWN_FLAGS:
            raise RedisError("%s: flag %r is not in spec.rs" % (command, name))
        consts.append("flag::" + name.upper())
    consts.extend("flag::" + own for own in OWN_FLAGS.get(command, []))
    return " | ".join(consts) if consts else "0"


def begin_search(spec, command):
    kind, params = spec["type"], pairs(spec["spec"])
    if kind == "index":
        take(params, ["index"], command)
        return "BeginSearch::Index(%d)" % params["index"], True
    if kind == "keyword":
        take(params, ["keyword", "startfrom"], command)
        return ("BeginSearch::Keyword { keyword: %s, start_from: %d }"
                % (rust_str(params["keyword"]), params["startfrom"])), False
    if kind == "unknown":
        return "BeginSearch::Unknown", False
    raise RedisError("%s: begin_search type %r" % (command, kind))


def find_keys(spec, command):
    kind, params = spec["type"], pairs(spec["spec"])
    if kind == "range":
        take(params, ["lastkey", "keystep", "limit"], command)
        return ("FindKeys::Range { last_key: %d, key_step: %d, limit: %d }"
                % (params["lastkey"], params["keystep"], params["limit"])), True
    if kind == "keynum":
        take(params, ["keynumidx", "firstkey", "keystep"], command)
        return ("FindKeys::Keynum { keynum_idx: %d, first_key: %d, key_step: %d }"
                % (params["keynumidx"], params["firstkey"], params["keystep"])), False
    if kind == "unknown":
        return "FindKeys::Unknown", False
    raise RedisError("%s: find_keys type %r" % (command, kind))


def emit_key_specs(w, specs, command):
    """Writes `key_specs: ...` and returns whether any spec makes the keys
    movable, as spec.rs's `Command::movable_keys` decides it."""
    if not specs:
        w.line("key_specs: &[],")
        return False
    movable = False
    w.open("key_specs: &[")
    for raw in specs:
        spec = take(pairs(raw), ["notes", "flags", "begin_search", "find_keys"], command)
        begin, begin_fixed = begin_search(pairs(spec["begin_search"]), command)
        find, find_fixed = find_keys(pairs(spec["find_keys"]), command)
        movable |= not (begin_fixed and find_fixed)
        w.open("KeySpec {")
        w.line("flags: %s," % rust_str_slice(spec["flags"]))
        w.line("notes: %s," % rust_opt_str(spec.get("notes")))
        w.line("begin_search: %s," % begin)
        w.line("find_keys: %s," % find)
        w.close("},")
    w.close("],")
    return movable


ARG_FIELDS = ["name", "type", "display_text", "key_spec_index", "token",
              "summary", "since", "flags", "deprecated_since", "arguments"]


def emit_args(w, args, context):
    w.open("arguments: &[")
    for raw in args:
        arg = take(pairs(raw), ARG_FIELDS, context)
        w.open("Arg {")
        w.line("name: %s," % rust_str(arg["name"]))
        w.line("kind: %s," % rust_str(arg["type"]))
        if "display_text" in arg:
            w.line("display_text: Some(%s)," % rust_str(arg["display_text"]))
        if "key_spec_index" in arg:
            w.line("key_spec_index: Some(%d)," % arg["key_spec_index"])
        for field in ("token", "summary", "since"):
            if field in arg:
                w.line("%s: Some(%s)," % (field, rust_str(arg[field])))
        if arg.get("flags"):
            w.line("flags: %s," % rust_str_slice(arg["flags"]))
        if "deprecated_since" in arg:
            w.line("deprecated_since: Some(%s)," % rust_str(arg["deprecated_since"]))
        if "arguments" in arg:
            emit_args(w, arg["arguments"], context + " " + arg["name"])
        given = ["name", "type"]
        given += [f for f in ("display_text", "key_spec_index", "token", "summary",
                              "since", "deprecated_since", "arguments") if f in arg]
        given += [f for f in ("flags",) if arg.get(f)]
        if len(given) < 10:
            w.line("..Arg::EMPTY")
        w.close("},")
    w.close("],")


def emit_docs(w, docs, command):
    w.open("docs: Docs {")
    w.line("summary: %s," % rust_str(docs["summary"]))
    w.line("since: %s," % rust_str(docs["since"]))
    w.line("group: %s," % rust_str(docs["group"]))
    if "complexity" in docs:
        w.line("complexity: Some(%s)," % rust_str(docs["complexity"]))
    if docs.get("doc_flags"):
        w.line("doc_flags: %s," % rust_str_slice(docs["doc_flags"]))
    for field in ("deprecated_since", "replaced_by"):
        if field in docs:
            w.line("%s: Some(%s)," % (field, rust_str(docs[field])))
    if docs.get("history"):
        w.open("history: &[")
        for since, change in docs["history"]:
            w.line("(%s, %s)," % (rust_str(since), rust_str(change)))
        w.close("],")
    if docs.get("arguments"):
        emit_args(w, docs["arguments"], command)
    # The struct update only where a field was left out (clippy rejects a
    # needless one).
    given = ["summary", "since", "group"]
    given += [f for f in ("complexity", "deprecated_since", "replaced_by") if f in docs]
    given += [f for f in ("doc_flags", "history", "arguments") if docs.get(f)]
    if len(given) < 9:
        w.line("..Docs::EMPTY")
    w.close("},")


DOCS_FIELDS = ["summary", "since", "group", "complexity", "doc_flags",
               "deprecated_since", "replaced_by", "history", "arguments",
               "subcommands"]


# Subcommands redis-server 7.0 does not have but clients send, in the shape
# COMMAND INFO and COMMAND DOCS give them (facts from Redis 7.2). Appended to
# their container's chosen subcommands.
EXTRA_SUBCOMMANDS = {
    # redis-py 5+, node-redis 4.6+, ioredis 5.4+ and the Rust `redis` crate
    # send CLIENT SETINFO LIB-NAME/LIB-VER on connect.
    "client": [(
        ["client|setinfo", 4, ["noscript", "loading", "stale"], 0, 0, 0,
         ["@slow", "@connection"], [], [], []],
        ["summary", "Sets information specific to the client or connection.",
         "since", "7.2.0",
         "group", "connection",
         "complexity", "O(1)",
         "arguments", [
             ["name", "attr", "type", "oneof", "arguments", [
                 ["name", "libname", "type", "string", "token", "LIB-NAME"],
                 ["name", "libver", "type", "string", "token", "LIB-VER"],
             ]],
         ]],
    )],
}


def emit_command(w, info, docs, handler, subcommands):
    """Writes one `Command { ... }`; `subcommands` is a list of
    `(info, docs)` for a container's chosen subcommands."""
    (name, arity, flags, first_key, last_key, key_step, categories, tips,
     key_specs, _all_subcommands) = info
    docs = take(pairs(docs), DOCS_FIELDS, name)
    w.open("Command {")
    w.line("name: %s," % rust_str(name))
    w.line("arity: %d," % arity)
    w.line("flags: %s," % emit_flags(flags, name))
    w.line("first_key: %d," % first_key)
    w.line("last_key: %d," % last_key)
    w.line("key_step: %d," % key_step)
    for category in categories:
        if not category.startswith("@"):
            raise RedisError("%s: ACL category %r" % (name, category))
    w.line("acl_categories: %s," % rust_str_slice(c[1:] for c in categories))
    w.line("tips: %s," % rust_str_slice(tips))
    movable = emit_key_specs(w, key_specs, name)
    if movable != ("movablekeys" in flags):
        raise RedisError("%s: Redis says movablekeys=%s but the key specs say %s"
                         % (name, "movablekeys" in flags, movable))
    emit_docs(w, docs, name)
    w.line("handler: %s," % handler)
    if subcommands:
        w.open("subcommands: &[")
        for sub_info, sub_docs in subcommands:
            sub_name = sub_info[0]
            emit_command(w, sub_info, sub_docs,
                         "Some(h::%s)" % handler_ident(sub_name), [])
        w.close("],")
    else:
        w.line("subcommands: &[],")
    w.close("},")


def generate(conn):
    names = [c if isinstance(c, str) else c[0] for c in COMMANDS]
    if len(set(names)) != len(names):
        raise RedisError("a command is listed twice")
    infos = conn.call("COMMAND", "INFO", *names)
    docs = pairs(conn.call("COMMAND", "DOCS", *names))
    w = Writer()
    for entry, info in zip(COMMANDS, infos):
        name, wanted = (entry, []) if isinstance(entry, str) else entry
        if info is None or name not in docs:
            raise RedisError("redis-server does not know %r" % name)
        all_subs = {sub[0]: sub for sub in info[9]}
        sub_docs = pairs(docs[name]).get("subcommands", [])
        sub_docs = pairs(sub_docs) if sub_docs else {}
        if wanted and not all_subs:
            raise RedisError("%r has no subcommands" % name)
        if all_subs and not wanted:
            raise RedisError("%r is a container: list its subcommands" % name)
        chosen = []
        for sub in wanted:
            full = "%s|%s" % (name, sub)
            if full not in all_subs or full not in sub_docs:
                raise RedisError("redis-server does not know %r" % full)
            chosen.append((all_subs[full], sub_docs[full]))
        chosen.extend(EXTRA_SUBCOMMANDS.get(name, []))
        if not wanted or name in CONTAINERS_WITH_HANDLER:
            handler = "Some(h::%s)" % handler_ident(name)
        else:
            handler = "None"
        emit_command(w, info, docs[name], handler, chosen)
    return HEADER + "\n".join(w.lines) + "\n];\n"


# Redis 7.0's ACL categories, in the order ACL CAT lists them (acl.c's
# ACLCommandCategories); bit N of a command's mask is category N.
ACL_CATEGORIES = [
    "keyspace", "read", "write", "set", "sortedset", "list", "hash", "string",
    "bitmap", "hyperloglog", "geo", "stream", "pubsub", "admin", "fast",
    "slow", "blocking", "dangerous", "connection", "transaction", "scripting",
]

ACL_HEADER = """//! Generated by scripts/gen_command_table.py from redis-server 7.0's COMMAND INFO. Do not edit by hand.
//!
//! Every command and subcommand redis-server 7.0 knows, implemented here or
//! not, with its ACL categories (bit N is `crate::acl::CATEGORIES[N]`),
//! sorted by name: ACL rules name commands and categories from this list,
//! so `ACL SETUSER`, `ACL CAT` and the rules' description answer as Redis's.

pub static ACL_COMMANDS: &[(&str, u32)] = &[
"""


def generate_acl_table(conn):
    """Every command and subcommand with its ACL category bits."""
    entries = []

    def add(info):
        mask = 0
        for cat in info[6]:
            mask |= 1 << ACL_CATEGORIES.index(cat.lstrip("@"))
        entries.append((info[0], mask))
        for sub in info[9] or []:
            add(sub)

    for info in conn.call("COMMAND"):
        add(info)
    entries.sort()
    lines = ['    ("%s", %#x),' % e for e in entries]
    return ACL_HEADER + "\n".join(lines) + "\n];\n"


def pairs_from_info(text):
    """`INFO` text as a dict of its `field:value` lines."""
    fields = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            fields[key] = value
    return fields


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=6379)
    parser.add_argument("--out", default=os.path.join(root, "src", "cmd", "table.rs"))
    parser.add_argument("--no-rustfmt", action="store_true")
    opts = parser.parse_args()

    conn = Connection(opts.host, opts.port)
    # Other versions describe other commands; the table is meant to be 7.0's.
    version = pairs_from_info(conn.call("INFO", "server")).get("redis_version", "")
    if not version.startswith("7.0."):
        print("warning: redis-server %s is not 7.0" % version, file=sys.stderr)
    text = generate(conn)
    with open(opts.out, "w", encoding="utf-8") as out:
        out.write(text)
    if not opts.no_rustfmt:
        subprocess.run(["rustfmt", "--edition", "2024", opts.out], check=True)
    print("wrote %s (%d commands)" % (opts.out, len(COMMANDS)))
    acl_out = os.path.join(os.path.dirname(opts.out), "acl_table.rs")
    with open(acl_out, "w", encoding="utf-8") as out:
        out.write(generate_acl_table(conn))
    if not opts.no_rustfmt:
        subprocess.run(["rustfmt", "--edition", "2024", acl_out], check=True)
    print("wrote %s" % acl_out)


if __name__ == "__main__":
    try:
        main()
    except (RedisError, OSError) as err:
        sys.exit("gen_command_table: %s" % err)
