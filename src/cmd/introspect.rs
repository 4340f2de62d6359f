//! `COMMAND` and its subcommands: the command table shown as Redis 7.0
//! shows it.
//!
//! Everything here is read from [`COMMANDS`], so a command is described in
//! one place only. For every command in the table the replies are
//! byte-identical to redis-server 7.0's, in RESP2 and RESP3, with two
//! differences that come from the table rather than from this file:
//! commands come in table order (Redis walks a hash table, so its order is
//! arbitrary and changes between runs), and a container lists only the
//! subcommands the table has.
//!
//! The rendering functions take a [`Reply`] and a [`Command`] so they can
//! be tested without a server; the handlers at the bottom are thin
//! wrappers over them.

use bytes::Bytes;

use super::keyspec::{KeyArg, has_key_arguments, keys_with_flags};
use super::spec::{Arg, BeginSearch, Command, FindKeys, KeySpec, flag};
use super::table::COMMANDS;
use super::{CmdError, CmdResult, Ctx, lookup, lookup_sub};
use crate::glob::glob_match;
use crate::resp::Reply;
use crate::util::eq_ic;

// ------------------------------------------------------------ COMMAND INFO

/// Writes one command's `COMMAND INFO` entry: name, arity, flags, legacy
/// key positions, ACL categories, tips, key specs and subcommands.
fn write_info(out: &mut Reply, cmd: &Command) {
    out.array(10);
    out.bulk(cmd.name.as_bytes());
    out.int(cmd.arity.into());
    write_status_set(out, &command_flag_names(cmd));
    out.int(cmd.first_key.into());
    out.int(cmd.last_key.into());
    out.int(cmd.key_step.into());
    out.set(cmd.acl_categories.len());
    for category in cmd.acl_categories {
        out.simple(&format!("@{category}"));
    }
    // Tips are bulk strings, unlike every other list of names here.
    out.set(cmd.tips.len());
    for tip in cmd.tips {
        out.bulk(tip.as_bytes());
    }
    out.set(cmd.key_specs.len());
    for spec in cmd.key_specs {
        write_key_spec(out, spec);
    }
    // Redis answers an empty set for a command without subcommands, but an
    // array for a container's subcommands.
    if cmd.subcommands.is_empty() {
        out.set(0);
    } else {
        out.array(cmd.subcommands.len());
        for sub in cmd.subcommands {
            write_info(out, sub);
        }
    }
}

/// The command's flags in Redis's order, with `movablekeys`, which the
/// table does not store because it follows from the key specs.
fn command_flag_names(cmd: &Command) -> Vec<&'static str> {
    let mut names = Vec::new();
    for &(bit, name) in flag::NAMES {
        // Redis lists `movablekeys` between `no_multi` and `allow_busy`.
        if bit == flag::ALLOW_BUSY && cmd.movable_keys() {
            names.push("movablekeys");
        }
        if cmd.has(bit) {
            names.push(name);
        }
    }
    names
}

/// A set of simple strings, the shape Redis gives every list of flags.
fn write_status_set(out: &mut Reply, names: &[&str]) {
    out.set(names.len());
    for name in names {
        out.simple(name);
    }
}

fn write_key_spec(out: &mut Reply, spec: &KeySpec) {
    out.map(if spec.notes.is_some() { 4 } else { 3 });
    if let Some(notes) = spec.notes {
        out.bulk(b"notes");
        out.bulk(notes.as_bytes());
    }
    out.bulk(b"flags");
    write_status_set(out, spec.flags);

    out.bulk(b"begin_search");
    out.map(2);
    out.bulk(b"type");
    match spec.begin_search {
        BeginSearch::Index(index) => {
            out.bulk(b"index");
            out.bulk(b"spec");
            out.map(1);
            out.bulk(b"index");
            out.int(index.into());
        }
        BeginSearch::Keyword {
            keyword,
            start_from,
        } => {
            out.bulk(b"keyword");
            out.bulk(b"spec");
            out.map(2);
            out.bulk(b"keyword");
            out.bulk(keyword.as_bytes());
            out.bulk(b"startfrom");
            out.int(start_from.into());
        }
        BeginSearch::Unknown => {
            out.bulk(b"unknown");
            out.bulk(b"spec");
            out.map(0);
        }
    }

    out.bulk(b"find_keys");
    out.map(2);
    out.bulk(b"type");
    match spec.find_keys {
        FindKeys::Range {
            last_key,
            key_step,
            limit,
        } => {
            out.bulk(b"range");
            out.bulk(b"spec");
            out.map(3);
            out.bulk(b"lastkey");
            out.int(last_key.into());
            out.bulk(b"keystep");
            out.int(key_step.into());
            out.bulk(b"limit");
            out.int(limit.into());
        }
        FindKeys::Keynum {
            keynum_idx,
            first_key,
            key_step,
        } => {
            out.bulk(b"keynum");
            out.bulk(b"spec");
            out.map(3);
            out.bulk(b"keynumidx");
            out.int(keynum_idx.into());
            out.bulk(b"firstkey");
            out.int(first_key.into());
            out.bulk(b"keystep");
            out.int(key_step.into());
        }
        FindKeys::Unknown => {
            out.bulk(b"unknown");
            out.bulk(b"spec");
            out.map(0);
        }
    }
}

// ------------------------------------------------------------ COMMAND DOCS

/// Writes one command's `COMMAND DOCS` map (without its name, which the
/// caller writes as the map key). Optional fields are left out when empty.
fn write_docs(out: &mut Reply, cmd: &Command) {
    let docs = &cmd.docs;
    let fields = 3
        + usize::from(docs.complexity.is_some())
        + usize::from(!docs.doc_flags.is_empty())
        + usize::from(docs.deprecated_since.is_some())
        + usize::from(docs.replaced_by.is_some())
        + usize::from(!docs.history.is_empty())
        + usize::from(!docs.arguments.is_empty())
        + usize::from(!cmd.subcommands.is_empty());
    out.map(fields);
    out.bulk(b"summary");
    out.bulk(docs.summary.as_bytes());
    out.bulk(b"since");
    out.bulk(docs.since.as_bytes());
    out.bulk(b"group");
    out.bulk(docs.group.as_bytes());
    if let Some(complexity) = docs.complexity {
        out.bulk(b"complexity");
        out.bulk(complexity.as_bytes());
    }
    if !docs.doc_flags.is_empty() {
        out.bulk(b"doc_flags");
        write_status_set(out, docs.doc_flags);
    }
    if let Some(version) = docs.deprecated_since {
        out.bulk(b"deprecated_since");
        out.bulk(version.as_bytes());
    }
    if let Some(replacement) = docs.replaced_by {
        out.bulk(b"replaced_by");
        out.bulk(replacement.as_bytes());
    }
    if !docs.history.is_empty() {
        out.bulk(b"history");
        out.set(docs.history.len());
        for (version, change) in docs.history {
            out.array(2);
            out.bulk(version.as_bytes());
            out.bulk(change.as_bytes());
        }
    }
    if !docs.arguments.is_empty() {
        out.bulk(b"arguments");
        write_args(out, docs.arguments);
    }
    if !cmd.subcommands.is_empty() {
        out.bulk(b"subcommands");
        out.map(cmd.subcommands.len());
        for sub in cmd.subcommands {
            out.bulk(sub.name.as_bytes());
            write_docs(out, sub);
        }
    }
}

/// Writes an argument list: an array of maps, nested for `oneof` and
/// `block` arguments.
fn write_args(out: &mut Reply, args: &[Arg]) {
    out.array(args.len());
    for arg in args {
        // Redis gives `oneof` and `block` arguments an `arguments` field
        // even when it is empty; no other kind has one.
        let nests = matches!(arg.kind, "oneof" | "block");
        let fields = 2
            + usize::from(arg.display_text.is_some())
            + usize::from(arg.key_spec_index.is_some())
            + usize::from(arg.token.is_some())
            + usize::from(arg.summary.is_some())
            + usize::from(arg.since.is_some())
            + usize::from(arg.deprecated_since.is_some())
            + usize::from(!arg.flags.is_empty())
            + usize::from(nests);
        out.map(fields);
        out.bulk(b"name");
        out.bulk(arg.name.as_bytes());
        out.bulk(b"type");
        out.bulk(arg.kind.as_bytes());
        // Redis 7.0 has no `display_text` (7.2 added it); it goes where 7.2
        // puts it.
        if let Some(text) = arg.display_text {
            out.bulk(b"display_text");
            out.bulk(text.as_bytes());
        }
        if let Some(index) = arg.key_spec_index {
            out.bulk(b"key_spec_index");
            out.int(index.into());
        }
        let optional = [
            ("token", arg.token),
            ("summary", arg.summary),
            ("since", arg.since),
            ("deprecated_since", arg.deprecated_since),
        ];
        for (field, value) in optional {
            if let Some(value) = value {
                out.bulk(field.as_bytes());
                out.bulk(value.as_bytes());
            }
        }
        if !arg.flags.is_empty() {
            out.bulk(b"flags");
            write_status_set(out, arg.flags);
        }
        if nests {
            out.bulk(b"arguments");
            write_args(out, arg.arguments);
        }
    }
}

// ------------------------------------------------------------ name lookup

/// Finds a command by the name `COMMAND INFO` and `COMMAND DOCS` take: a
/// command (`get`, `config`) or a container and subcommand joined by `|`
/// (`config|get`), case-insensitively. Anything else is unknown, as in
/// Redis's `lookupCommandBySds`.
pub(crate) fn lookup_full_name(name: &[u8]) -> Option<&'static Command> {
    let mut parts = name.split(|&b| b == b'|');
    let base = lookup(parts.next()?)?;
    match (parts.next(), parts.next()) {
        (None, _) => Some(base),
        (Some(sub), None) if !base.subcommands.is_empty() => lookup_sub(base, sub),
        _ => None,
    }
}

/// Finds the command a request runs, as dispatch does: the subcommand for
/// a container given one, the command itself otherwise (Redis's
/// `lookupCommand`).
fn lookup_request(request: &[Bytes]) -> Option<&'static Command> {
    let cmd = lookup(request.first()?)?;
    match request.get(1) {
        Some(sub) if !cmd.subcommands.is_empty() => lookup_sub(cmd, sub),
        _ => Some(cmd),
    }
}

/// The keys of the request `COMMAND GETKEYS` was given, or Redis's error
/// for why there are none.
fn getkeys_request(request: &[Bytes]) -> Result<Vec<KeyArg>, CmdError> {
    let Some(cmd) = lookup_request(request) else {
        return Err(CmdError::err("Invalid command specified"));
    };
    if !has_key_arguments(cmd) {
        return Err(CmdError::err("The command has no key arguments"));
    }
    let argc = request.len() as i64;
    let arity = i64::from(cmd.arity);
    if (arity > 0 && argc != arity) || argc < -arity {
        return Err(CmdError::err(
            "Invalid number of arguments specified for command",
        ));
    }
    let keys = keys_with_flags(cmd, request);
    if keys.is_empty() && !cmd.has(flag::NO_MANDATORY_KEYS) {
        return Err(CmdError::err("Invalid arguments specified for command"));
    }
    Ok(keys)
}

// ------------------------------------------------------------ COMMAND LIST

/// `COMMAND LIST`'s optional `FILTERBY`.
enum ListFilter<'a> {
    All,
    /// `MODULE name`: ferrokv loads no modules, so nothing matches.
    Module,
    /// `ACLCAT category`, without the `@`, case-insensitive.
    AclCategory(&'a [u8]),
    /// `PATTERN glob`, matched case-insensitively against `container|sub`
    /// names too.
    Pattern(&'a [u8]),
}

impl<'a> ListFilter<'a> {
    /// Parses the options after `COMMAND LIST`: nothing, or exactly one
    /// `FILTERBY type value`.
    fn parse(options: &'a [Bytes]) -> Result<ListFilter<'a>, CmdError> {
        match options {
            [] => Ok(ListFilter::All),
            [filterby, kind, value] if eq_ic(filterby, "filterby") => {
                if eq_ic(kind, "module") {
                    Ok(ListFilter::Module)
                } else if eq_ic(kind, "aclcat") {
                    Ok(ListFilter::AclCategory(value))
                } else if eq_ic(kind, "pattern") {
                    Ok(ListFilter::Pattern(value))
                } else {
                    Err(CmdError::Syntax)
                }
            }
            _ => Err(CmdError::Syntax),
        }
    }

    fn admits(&self, cmd: &Command) -> bool {
        match self {
            ListFilter::All => true,
            ListFilter::Module => false,
            ListFilter::AclCategory(category) => cmd
                .acl_categories
                .iter()
                .any(|c| c.as_bytes().eq_ignore_ascii_case(category)),
            ListFilter::Pattern(pattern) => glob_match(pattern, cmd.name.as_bytes(), true),
        }
    }
}

/// Collects the names of `commands` and their subcommands that `filter`
/// admits, each container followed by its subcommands, as Redis does. A
/// subcommand is listed on its own merits, whether or not its container
/// is.
fn collect_names(commands: &'static [Command], filter: &ListFilter, names: &mut Vec<&'static str>) {
    for cmd in commands {
        if filter.admits(cmd) {
            names.push(cmd.name);
        }
        collect_names(cmd.subcommands, filter, names);
    }
}

// ------------------------------------------------------------ replies

/// `COMMAND INFO` for the given names (all commands when there are none);
/// an unknown name gets a null in its place.
fn write_command_info(out: &mut Reply, names: &[Bytes]) {
    if names.is_empty() {
        out.array(COMMANDS.len());
        for cmd in COMMANDS {
            write_info(out, cmd);
        }
        return;
    }
    out.array(names.len());
    for name in names {
        match lookup_full_name(name) {
            Some(cmd) => write_info(out, cmd),
            None => out.null(),
        }
    }
}

/// `COMMAND DOCS` for the given names (all commands when there are none):
/// a map from name to docs, in which unknown names are skipped.
fn write_command_docs(out: &mut Reply, names: &[Bytes]) {
    let found: Vec<&Command> = if names.is_empty() {
        COMMANDS.iter().collect()
    } else {
        names
            .iter()
            .filter_map(|name| lookup_full_name(name))
            .collect()
    };
    out.map(found.len());
    for cmd in found {
        out.bulk(cmd.name.as_bytes());
        write_docs(out, cmd);
    }
}

/// The lines of `COMMAND HELP`, word for word as Redis 7.0 prints them.
const HELP: &[&str] = &[
    "COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "(no subcommand)",
    "    Return details about all Redis commands.",
    "COUNT",
    "    Return the total number of commands in this Redis server.",
    "LIST",
    "    Return a list of all commands in this Redis server.",
    "INFO [<command-name> ...]",
    "    Return details about multiple Redis commands.",
    "    If no command names are given, documentation details for all",
    "    commands are returned.",
    "DOCS [<command-name> ...]",
    "    Return documentation details about multiple Redis commands.",
    "    If no command names are given, documentation details for all",
    "    commands are returned.",
    "GETKEYS <full-command>",
    "    Return the keys from a full Redis command.",
    "GETKEYSANDFLAGS <full-command>",
    "    Return the keys and the access flags from a full Redis command.",
    "HELP",
    "    Prints this help.",
];

/// `COMMAND LIST`'s reply for the options after `LIST`.
fn write_command_list(out: &mut Reply, options: &[Bytes]) -> CmdResult {
    let filter = ListFilter::parse(options)?;
    let mut names = Vec::new();
    collect_names(COMMANDS, &filter, &mut names);
    out.bulk_array(names.iter());
    Ok(())
}

/// What `COMMAND GETKEYS` and `COMMAND GETKEYSANDFLAGS` list for each key.
#[derive(Clone, Copy)]
enum KeyReply {
    Names,
    NamesAndFlags,
}

/// `COMMAND GETKEYS` or `GETKEYSANDFLAGS` for `request`, the command whose
/// keys are wanted.
fn write_getkeys(out: &mut Reply, request: &[Bytes], shape: KeyReply) -> CmdResult {
    let keys = getkeys_request(request)?;
    out.array(keys.len());
    for key in keys {
        // Every position came from `request`, so indexing cannot fail.
        let name = &request[key.pos];
        match shape {
            KeyReply::Names => out.bulk(name),
            KeyReply::NamesAndFlags => {
                out.array(2);
                out.bulk(name);
                write_status_set(out, key.flags);
            }
        }
    }
    Ok(())
}

/// `COMMAND HELP`: an array of simple strings, as Redis's `addReplyHelp`.
fn write_help(out: &mut Reply) {
    out.array(HELP.len());
    for line in HELP {
        out.simple(line);
    }
}

/// The arguments after `COMMAND <subcommand>`.
fn after_subcommand(args: &[Bytes]) -> &[Bytes] {
    args.get(2..).unwrap_or_default()
}

// ------------------------------------------------------------ handlers

/// `COMMAND`: every command's `COMMAND INFO` entry.
pub fn command(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    write_command_info(ctx.out, &[]);
    Ok(())
}

/// `COMMAND INFO [command-name ...]`
pub fn command_info(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    write_command_info(ctx.out, after_subcommand(args));
    Ok(())
}

/// `COMMAND COUNT`: the number of top-level commands.
pub fn command_count(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    ctx.out.int(COMMANDS.len() as i64);
    Ok(())
}

/// `COMMAND LIST [FILTERBY MODULE name | ACLCAT category | PATTERN glob]`
pub fn command_list(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    write_command_list(ctx.out, after_subcommand(args))
}

/// `COMMAND DOCS [command-name ...]`
pub fn command_docs(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    write_command_docs(ctx.out, after_subcommand(args));
    Ok(())
}

/// `COMMAND GETKEYS command [arg ...]`: the key arguments of a command.
pub fn command_getkeys(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    write_getkeys(ctx.out, after_subcommand(args), KeyReply::Names)
}

/// `COMMAND GETKEYSANDFLAGS command [arg ...]`: each key argument with the
/// flags of the key spec that found it.
pub fn command_getkeysandflags(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    write_getkeys(ctx.out, after_subcommand(args), KeyReply::NamesAndFlags)
}

/// `COMMAND HELP`
pub fn command_help(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    write_help(ctx.out);
    Ok(())
}

#[cfg(test)]
mod tests {
    //! The expected bytes were captured from redis-server 7.0.15 with raw
    //! RESP (`HELLO 3` first for RESP3), so these tests compare with Redis
    //! byte for byte.

    use super::*;
    use crate::cmd::spec::Docs;
    use crate::resp::Protocol;

    fn args(words: &[&str]) -> Vec<Bytes> {
        words
            .iter()
            .map(|w| Bytes::copy_from_slice(w.as_bytes()))
            .collect()
    }

    fn render(proto: Protocol, write: impl FnOnce(&mut Reply)) -> Vec<u8> {
        let mut out = Reply::scratch(proto);
        write(&mut out);
        out.buf.to_vec()
    }

    /// Compares as text first so a mismatch shows where it is.
    fn assert_bytes(got: &[u8], want: &[u8]) {
        assert_eq!(String::from_utf8_lossy(got), String::from_utf8_lossy(want));
        assert_eq!(got, want);
    }

    fn info(proto: Protocol, names: &[&str]) -> Vec<u8> {
        render(proto, |out| write_command_info(out, &args(names)))
    }

    fn docs(proto: Protocol, names: &[&str]) -> Vec<u8> {
        render(proto, |out| write_command_docs(out, &args(names)))
    }

    #[test]
    fn info_matches_redis() {
        use Protocol::{Resp2, Resp3};
        assert_bytes(&info(Resp2, &["get"]), INFO_GET_RESP2);
        assert_bytes(&info(Resp3, &["GET"]), INFO_GET_RESP3);
        assert_bytes(&info(Resp3, &["set"]), INFO_SET_RESP3);
        assert_bytes(&info(Resp3, &["ping"]), INFO_PING_RESP3);
        assert_bytes(&info(Resp2, &["config|get"]), INFO_CONFIG_GET_RESP2);
        assert_bytes(&info(Resp3, &["CLIENT|kill"]), INFO_CLIENT_KILL_RESP3);
    }

    #[test]
    fn info_gives_null_for_unknown_names() {
        let names = ["nosuch", "get|x", "config|get|x"];
        assert_bytes(&info(Protocol::Resp2, &names), INFO_UNKNOWN_RESP2);
        assert_bytes(&info(Protocol::Resp3, &names), INFO_UNKNOWN_RESP3);
        // A container alone is known; with an empty or unlisted subcommand
        // it is not.
        let got = info(Protocol::Resp2, &["", "config|", "|get", "client|nosuch"]);
        assert_bytes(&got, b"*4\r\n$-1\r\n$-1\r\n$-1\r\n$-1\r\n");
    }

    #[test]
    fn docs_match_redis() {
        use Protocol::{Resp2, Resp3};
        assert_bytes(&docs(Resp2, &["get"]), DOCS_GET_RESP2);
        assert_bytes(&docs(Resp3, &["get"]), DOCS_GET_RESP3);
        assert_bytes(&docs(Resp3, &["set"]), DOCS_SET_RESP3);
        assert_bytes(&docs(Resp2, &["ping"]), DOCS_PING_RESP2);
        assert_bytes(&docs(Resp2, &["config|get"]), DOCS_CONFIG_GET_RESP2);
        assert_bytes(&docs(Resp3, &["client|kill"]), DOCS_CLIENT_KILL_RESP3);
        assert_bytes(&docs(Resp3, &["getset"]), DOCS_GETSET_RESP3);
    }

    #[test]
    fn docs_skip_unknown_names() {
        assert_bytes(&docs(Protocol::Resp2, &["nosuch", ""]), b"*0\r\n");
        let mut want = b"*2\r\n".to_vec();
        want.extend_from_slice(&DOCS_GET_RESP2[b"*2\r\n".len()..]);
        assert_bytes(&docs(Protocol::Resp2, &["nosuch", "GET"]), &want);
    }

    #[test]
    fn everything_when_no_names_are_given() {
        let all: Vec<&str> = COMMANDS.iter().map(|c| c.name).collect();
        for proto in [Protocol::Resp2, Protocol::Resp3] {
            assert_bytes(&info(proto, &[]), &info(proto, &all));
            assert_bytes(&docs(proto, &[]), &docs(proto, &all));
        }
    }

    /// MIGRATE's descriptor from Redis 7.0 (docs left out): a keyword key
    /// spec with a negative start, and an incomplete spec. No command in
    /// the table has either yet.
    static MIGRATE: Command = Command {
        name: "migrate",
        arity: -6,
        flags: flag::WRITE,
        first_key: 3,
        last_key: 3,
        key_step: 1,
        acl_categories: &["keyspace", "write", "slow", "dangerous"],
        tips: &["nondeterministic_output"],
        key_specs: &[
            KeySpec {
                flags: &["RW", "access", "delete"],
                notes: None,
                begin_search: BeginSearch::Index(3),
                find_keys: FindKeys::Range {
                    last_key: 0,
                    key_step: 1,
                    limit: 0,
                },
            },
            KeySpec {
                flags: &["RW", "access", "delete", "incomplete"],
                notes: None,
                begin_search: BeginSearch::Keyword {
                    keyword: "KEYS",
                    start_from: -2,
                },
                find_keys: FindKeys::Range {
                    last_key: -1,
                    key_step: 1,
                    limit: 0,
                },
            },
        ],
        docs: Docs::EMPTY,
        handler: None,
        subcommands: &[],
    };

    /// EVAL's descriptor from Redis 7.0 (docs left out): a keynum key spec
    /// with notes, and `no_mandatory_keys`.
    static EVAL: Command = Command {
        name: "eval",
        arity: -3,
        flags: flag::NOSCRIPT | flag::STALE | flag::SKIP_MONITOR | flag::NO_MANDATORY_KEYS,
        first_key: 0,
        last_key: 0,
        key_step: 0,
        acl_categories: &["slow", "scripting"],
        tips: &[],
        key_specs: &[KeySpec {
            flags: &["RW", "access", "update"],
            notes: Some(
                "We cannot tell how the keys will be used so we assume the worst, RW and UPDATE",
            ),
            begin_search: BeginSearch::Index(2),
            find_keys: FindKeys::Keynum {
                keynum_idx: 0,
                first_key: 1,
                key_step: 1,
            },
        }],
        docs: Docs::EMPTY,
        handler: None,
        subcommands: &[],
    };

    #[test]
    fn keyword_and_keynum_specs_match_redis() {
        let one_info = |cmd: &Command| {
            render(Protocol::Resp3, |out| {
                out.array(1);
                write_info(out, cmd);
            })
        };
        // Both are movable, which puts `movablekeys` among the flags.
        assert_bytes(&one_info(&MIGRATE), INFO_MIGRATE_RESP3);
        assert_bytes(&one_info(&EVAL), INFO_EVAL_RESP3);
    }

    fn positions(cmd: &Command, request: &[&str]) -> Vec<usize> {
        keys_with_flags(cmd, &args(request))
            .iter()
            .map(|k| k.pos)
            .collect()
    }

    #[test]
    fn keys_follow_redis_key_specs() {
        assert_eq!(positions(&EVAL, &["eval", "s", "2", "a", "b", "c"]), [3, 4]);
        // No keys, or a count that is not a count, or too many: none.
        assert!(positions(&EVAL, &["eval", "s", "0"]).is_empty());
        assert!(positions(&EVAL, &["eval", "s", "x", "a"]).is_empty());
        assert!(positions(&EVAL, &["eval", "s", "-1", "a"]).is_empty());
        assert!(positions(&EVAL, &["eval", "s", "9223372036854775807", "a"]).is_empty());
        assert_eq!(
            positions(&MIGRATE, &["migrate", "h", "p", "k", "0", "5"]),
            [3]
        );
        // An incomplete spec makes Redis give up on the specs, and MIGRATE's
        // own procedure is not ported.
        let with_keys = ["migrate", "h", "p", "", "0", "5", "KEYS", "a", "b"];
        assert!(positions(&MIGRATE, &with_keys).is_empty());
    }

    fn getkeys(proto: Protocol, request: &[&str], shape: KeyReply) -> Vec<u8> {
        render(proto, |out| {
            if let Err(e) = write_getkeys(out, &args(request), shape) {
                out.error_bytes(&e.bytes());
            }
        })
    }

    #[test]
    fn getkeys_matches_redis() {
        use KeyReply::{Names, NamesAndFlags};
        use Protocol::{Resp2, Resp3};
        // SET's key flags depend on GET, so they come from its procedure.
        let set = ["set", "k", "v"];
        assert_bytes(
            &getkeys(Resp3, &set, NamesAndFlags),
            GETKEYSANDFLAGS_SET_RESP3,
        );
        let set_get = ["SET", "k", "v", "get"];
        assert_bytes(
            &getkeys(Resp2, &set_get, NamesAndFlags),
            GETKEYSANDFLAGS_SET_GET_RESP2,
        );
        let mset = ["mset", "a", "1", "b", "2"];
        assert_bytes(&getkeys(Resp2, &mset, Names), GETKEYS_MSET_RESP2);
    }

    #[test]
    fn getkeys_errors_match_redis() {
        let error = |request: &[&str]| getkeys(Protocol::Resp2, request, KeyReply::Names);
        let invalid_command = b"-ERR Invalid command specified\r\n";
        assert_bytes(&error(&["nosuch", "a"]), invalid_command);
        assert_bytes(&error(&["config", "nosuch"]), invalid_command);
        let no_keys = b"-ERR The command has no key arguments\r\n";
        assert_bytes(&error(&["ping", "x"]), no_keys);
        assert_bytes(&error(&["config", "get", "x"]), no_keys);
        assert_bytes(
            &error(&["get", "a", "b"]),
            b"-ERR Invalid number of arguments specified for command\r\n",
        );
        assert_bytes(
            &error(&["object", "encoding", "k", "x"]),
            b"-ERR Invalid number of arguments specified for command\r\n",
        );
        assert_bytes(&error(&["object", "encoding", "k"]), b"*1\r\n$1\r\nk\r\n");
    }

    fn list(options: &[&str]) -> Vec<u8> {
        render(Protocol::Resp3, |out| {
            if let Err(e) = write_command_list(out, &args(options)) {
                out.error_bytes(&e.bytes());
            }
        })
    }

    #[test]
    fn list_filters_like_redis() {
        // Redis lists the same names in hash-table order; ours is table
        // order, each container followed by its subcommands.
        assert_bytes(
            &list(&["FILTERBY", "pattern", "conf*"]),
            b"*6\r\n$6\r\nconfig\r\n$10\r\nconfig|get\r\n$10\r\nconfig|set\r\n\
              $16\r\nconfig|resetstat\r\n$14\r\nconfig|rewrite\r\n$11\r\nconfig|help\r\n",
        );
        // Subcommands are matched on their own.
        assert_bytes(
            &list(&["filterby", "pattern", "*|GETKEYS*"]),
            b"*2\r\n$15\r\ncommand|getkeys\r\n$23\r\ncommand|getkeysandflags\r\n",
        );
        // A category is matched without case.
        assert_bytes(
            &list(&["filterby", "aclcat", "HyperLogLog"]),
            b"*5\r\n$5\r\npfadd\r\n$7\r\npfcount\r\n$7\r\npfmerge\r\n\
              $7\r\npfdebug\r\n$10\r\npfselftest\r\n",
        );
        assert_bytes(&list(&["filterby", "aclcat", "nosuchcategory"]), b"*0\r\n");
        assert_bytes(&list(&["filterby", "module", "x"]), b"*0\r\n");
        let syntax = b"-ERR syntax error\r\n";
        assert_bytes(&list(&["filterby", "x", "y"]), syntax);
        assert_bytes(&list(&["filterby", "pattern"]), syntax);
        assert_bytes(&list(&["foo"]), syntax);
        let twice = ["filterby", "pattern", "a", "filterby", "pattern", "b"];
        assert_bytes(&list(&twice), syntax);
    }

    #[test]
    fn list_without_filter_has_every_name() {
        let got = list(&[]);
        let total: usize = COMMANDS.iter().map(|c| 1 + c.subcommands.len()).sum();
        assert!(got.starts_with(format!("*{total}\r\n").as_bytes()));
    }

    #[test]
    fn help_matches_redis() {
        assert_bytes(&render(Protocol::Resp3, write_help), HELP_RESP3);
    }

    /// The table's shape that lookups and dispatch rely on.
    #[test]
    fn table_is_consistent() {
        for cmd in COMMANDS {
            assert!(!cmd.name.contains('|'), "{}", cmd.name);
            assert_eq!(lookup(cmd.name.as_bytes()).map(|c| c.name), Some(cmd.name));
            let is_command = cmd.name == "command";
            assert_eq!(
                cmd.handler.is_some(),
                cmd.subcommands.is_empty() || is_command
            );
            for sub in cmd.subcommands {
                let prefix = format!("{}|", cmd.name);
                assert!(sub.name.starts_with(&prefix), "{}", sub.name);
                assert!(sub.handler.is_some(), "{}", sub.name);
                assert!(sub.subcommands.is_empty(), "{}", sub.name);
                let found = lookup_full_name(sub.name.to_ascii_uppercase().as_bytes());
                assert_eq!(found.map(|c| c.name), Some(sub.name));
            }
        }
    }

    // ---------------------------------------------------------- captures

    /// `COMMAND INFO get` in RESP2.
    const INFO_GET_RESP2: &[u8] = b"\
        *1\r\n*10\r\n$3\r\nget\r\n:2\r\n*2\r\n+readonly\r\n+fast\r\n:1\r\n:1\r\n:1\r\n\
        *3\r\n+@read\r\n+@string\r\n+@fast\r\n*0\r\n*1\r\n*6\r\n$5\r\nflags\r\n*2\r\n\
        +RO\r\n+access\r\n$12\r\nbegin_search\r\n*4\r\n$4\r\ntype\r\n$5\r\nindex\r\n\
        $4\r\nspec\r\n*2\r\n$5\r\nindex\r\n:1\r\n$9\r\nfind_keys\r\n*4\r\n$4\r\n\
        type\r\n$5\r\nrange\r\n$4\r\nspec\r\n*6\r\n$7\r\nlastkey\r\n:0\r\n$7\r\n\
        keystep\r\n:1\r\n$5\r\nlimit\r\n:0\r\n*0\r\n";

    /// `COMMAND INFO get` in RESP3.
    const INFO_GET_RESP3: &[u8] = b"\
        *1\r\n*10\r\n$3\r\nget\r\n:2\r\n~2\r\n+readonly\r\n+fast\r\n:1\r\n:1\r\n:1\r\n\
        ~3\r\n+@read\r\n+@string\r\n+@fast\r\n~0\r\n~1\r\n%3\r\n$5\r\nflags\r\n~2\r\n\
        +RO\r\n+access\r\n$12\r\nbegin_search\r\n%2\r\n$4\r\ntype\r\n$5\r\nindex\r\n\
        $4\r\nspec\r\n%1\r\n$5\r\nindex\r\n:1\r\n$9\r\nfind_keys\r\n%2\r\n$4\r\n\
        type\r\n$5\r\nrange\r\n$4\r\nspec\r\n%3\r\n$7\r\nlastkey\r\n:0\r\n$7\r\n\
        keystep\r\n:1\r\n$5\r\nlimit\r\n:0\r\n~0\r\n";

    /// `COMMAND INFO set` in RESP3.
    const INFO_SET_RESP3: &[u8] = b"\
        *1\r\n*10\r\n$3\r\nset\r\n:-3\r\n~2\r\n+write\r\n+denyoom\r\n:1\r\n:1\r\n\
        :1\r\n~3\r\n+@write\r\n+@string\r\n+@slow\r\n~0\r\n~1\r\n%4\r\n$5\r\nnotes\r\n\
        $48\r\nRW and ACCESS due to the optional `GET` argument\r\n$5\r\nflags\r\n\
        ~4\r\n+RW\r\n+access\r\n+update\r\n+variable_flags\r\n$12\r\nbegin_search\r\n\
        %2\r\n$4\r\ntype\r\n$5\r\nindex\r\n$4\r\nspec\r\n%1\r\n$5\r\nindex\r\n:1\r\n\
        $9\r\nfind_keys\r\n%2\r\n$4\r\ntype\r\n$5\r\nrange\r\n$4\r\nspec\r\n%3\r\n\
        $7\r\nlastkey\r\n:0\r\n$7\r\nkeystep\r\n:1\r\n$5\r\nlimit\r\n:0\r\n~0\r\n";

    /// `COMMAND INFO ping` in RESP3.
    const INFO_PING_RESP3: &[u8] = b"\
        *1\r\n*10\r\n$4\r\nping\r\n:-1\r\n~1\r\n+fast\r\n:0\r\n:0\r\n:0\r\n~2\r\n\
        +@fast\r\n+@connection\r\n~2\r\n$25\r\nrequest_policy:all_shards\r\n$29\r\n\
        response_policy:all_succeeded\r\n~0\r\n~0\r\n";

    /// `COMMAND INFO config|get` in RESP2.
    const INFO_CONFIG_GET_RESP2: &[u8] = b"\
        *1\r\n*10\r\n$10\r\nconfig|get\r\n:-3\r\n*4\r\n+admin\r\n+noscript\r\n\
        +loading\r\n+stale\r\n:0\r\n:0\r\n:0\r\n*3\r\n+@admin\r\n+@slow\r\n\
        +@dangerous\r\n*0\r\n*0\r\n*0\r\n";

    /// `COMMAND INFO client|kill` in RESP3.
    const INFO_CLIENT_KILL_RESP3: &[u8] = b"\
        *1\r\n*10\r\n$11\r\nclient|kill\r\n:-3\r\n~4\r\n+admin\r\n+noscript\r\n\
        +loading\r\n+stale\r\n:0\r\n:0\r\n:0\r\n~4\r\n+@admin\r\n+@slow\r\n\
        +@dangerous\r\n+@connection\r\n~0\r\n~0\r\n~0\r\n";

    /// `COMMAND INFO nosuch get|x config|get|x` in RESP2.
    const INFO_UNKNOWN_RESP2: &[u8] = b"\
        *3\r\n$-1\r\n$-1\r\n$-1\r\n";

    /// `COMMAND INFO nosuch get|x config|get|x` in RESP3.
    const INFO_UNKNOWN_RESP3: &[u8] = b"\
        *3\r\n_\r\n_\r\n_\r\n";

    /// `COMMAND INFO migrate` in RESP3.
    const INFO_MIGRATE_RESP3: &[u8] = b"\
        *1\r\n*10\r\n$7\r\nmigrate\r\n:-6\r\n~2\r\n+write\r\n+movablekeys\r\n:3\r\n\
        :3\r\n:1\r\n~4\r\n+@keyspace\r\n+@write\r\n+@slow\r\n+@dangerous\r\n~1\r\n\
        $23\r\nnondeterministic_output\r\n~2\r\n%3\r\n$5\r\nflags\r\n~3\r\n+RW\r\n\
        +access\r\n+delete\r\n$12\r\nbegin_search\r\n%2\r\n$4\r\ntype\r\n$5\r\n\
        index\r\n$4\r\nspec\r\n%1\r\n$5\r\nindex\r\n:3\r\n$9\r\nfind_keys\r\n%2\r\n\
        $4\r\ntype\r\n$5\r\nrange\r\n$4\r\nspec\r\n%3\r\n$7\r\nlastkey\r\n:0\r\n$7\r\n\
        keystep\r\n:1\r\n$5\r\nlimit\r\n:0\r\n%3\r\n$5\r\nflags\r\n~4\r\n+RW\r\n\
        +access\r\n+delete\r\n+incomplete\r\n$12\r\nbegin_search\r\n%2\r\n$4\r\n\
        type\r\n$7\r\nkeyword\r\n$4\r\nspec\r\n%2\r\n$7\r\nkeyword\r\n$4\r\nKEYS\r\n\
        $9\r\nstartfrom\r\n:-2\r\n$9\r\nfind_keys\r\n%2\r\n$4\r\ntype\r\n$5\r\n\
        range\r\n$4\r\nspec\r\n%3\r\n$7\r\nlastkey\r\n:-1\r\n$7\r\nkeystep\r\n:1\r\n\
        $5\r\nlimit\r\n:0\r\n~0\r\n";

    /// `COMMAND INFO eval` in RESP3.
    const INFO_EVAL_RESP3: &[u8] = b"\
        *1\r\n*10\r\n$4\r\neval\r\n:-3\r\n~5\r\n+noscript\r\n+stale\r\n\
        +skip_monitor\r\n+no_mandatory_keys\r\n+movablekeys\r\n:0\r\n:0\r\n:0\r\n\
        ~2\r\n+@slow\r\n+@scripting\r\n~0\r\n~1\r\n%4\r\n$5\r\nnotes\r\n$78\r\n\
        We cannot tell how the keys will be used so we assume the worst, RW and UPDATE\r\n\
        $5\r\nflags\r\n~3\r\n+RW\r\n+access\r\n+update\r\n$12\r\nbegin_search\r\n\
        %2\r\n$4\r\ntype\r\n$5\r\nindex\r\n$4\r\nspec\r\n%1\r\n$5\r\nindex\r\n:2\r\n\
        $9\r\nfind_keys\r\n%2\r\n$4\r\ntype\r\n$6\r\nkeynum\r\n$4\r\nspec\r\n%3\r\n\
        $9\r\nkeynumidx\r\n:0\r\n$8\r\nfirstkey\r\n:1\r\n$7\r\nkeystep\r\n:1\r\n~0\r\n";

    /// `COMMAND DOCS get` in RESP2.
    const DOCS_GET_RESP2: &[u8] = b"\
        *2\r\n$3\r\nget\r\n*10\r\n$7\r\nsummary\r\n$22\r\nGet the value of a key\r\n\
        $5\r\nsince\r\n$5\r\n1.0.0\r\n$5\r\ngroup\r\n$6\r\nstring\r\n$10\r\n\
        complexity\r\n$4\r\nO(1)\r\n$9\r\narguments\r\n*1\r\n*6\r\n$4\r\nname\r\n\
        $3\r\nkey\r\n$4\r\ntype\r\n$3\r\nkey\r\n$14\r\nkey_spec_index\r\n:0\r\n";

    /// `COMMAND DOCS get` in RESP3.
    const DOCS_GET_RESP3: &[u8] = b"\
        %1\r\n$3\r\nget\r\n%5\r\n$7\r\nsummary\r\n$22\r\nGet the value of a key\r\n\
        $5\r\nsince\r\n$5\r\n1.0.0\r\n$5\r\ngroup\r\n$6\r\nstring\r\n$10\r\n\
        complexity\r\n$4\r\nO(1)\r\n$9\r\narguments\r\n*1\r\n%3\r\n$4\r\nname\r\n\
        $3\r\nkey\r\n$4\r\ntype\r\n$3\r\nkey\r\n$14\r\nkey_spec_index\r\n:0\r\n";

    /// `COMMAND DOCS set` in RESP3.
    const DOCS_SET_RESP3: &[u8] = b"\
        %1\r\n$3\r\nset\r\n%6\r\n$7\r\nsummary\r\n$29\r\n\
        Set the string value of a key\r\n$5\r\nsince\r\n$5\r\n1.0.0\r\n$5\r\ngroup\r\n\
        $6\r\nstring\r\n$10\r\ncomplexity\r\n$4\r\nO(1)\r\n$7\r\nhistory\r\n~4\r\n\
        *2\r\n$6\r\n2.6.12\r\n$44\r\nAdded the `EX`, `PX`, `NX` and `XX` options.\r\n\
        *2\r\n$5\r\n6.0.0\r\n$27\r\nAdded the `KEEPTTL` option.\r\n*2\r\n$5\r\n\
        6.2.0\r\n$42\r\nAdded the `GET`, `EXAT` and `PXAT` option.\r\n*2\r\n$5\r\n\
        7.0.0\r\n$55\r\nAllowed the `NX` and `GET` options to be used together.\r\n\
        $9\r\narguments\r\n*5\r\n%3\r\n$4\r\nname\r\n$3\r\nkey\r\n$4\r\ntype\r\n$3\r\n\
        key\r\n$14\r\nkey_spec_index\r\n:0\r\n%2\r\n$4\r\nname\r\n$5\r\nvalue\r\n\
        $4\r\ntype\r\n$6\r\nstring\r\n%5\r\n$4\r\nname\r\n$9\r\ncondition\r\n$4\r\n\
        type\r\n$5\r\noneof\r\n$5\r\nsince\r\n$6\r\n2.6.12\r\n$5\r\nflags\r\n~1\r\n\
        +optional\r\n$9\r\narguments\r\n*2\r\n%3\r\n$4\r\nname\r\n$2\r\nnx\r\n$4\r\n\
        type\r\n$10\r\npure-token\r\n$5\r\ntoken\r\n$2\r\nNX\r\n%3\r\n$4\r\nname\r\n\
        $2\r\nxx\r\n$4\r\ntype\r\n$10\r\npure-token\r\n$5\r\ntoken\r\n$2\r\nXX\r\n\
        %5\r\n$4\r\nname\r\n$3\r\nget\r\n$4\r\ntype\r\n$10\r\npure-token\r\n$5\r\n\
        token\r\n$3\r\nGET\r\n$5\r\nsince\r\n$5\r\n6.2.0\r\n$5\r\nflags\r\n~1\r\n\
        +optional\r\n%4\r\n$4\r\nname\r\n$10\r\nexpiration\r\n$4\r\ntype\r\n$5\r\n\
        oneof\r\n$5\r\nflags\r\n~1\r\n+optional\r\n$9\r\narguments\r\n*5\r\n%4\r\n\
        $4\r\nname\r\n$7\r\nseconds\r\n$4\r\ntype\r\n$7\r\ninteger\r\n$5\r\ntoken\r\n\
        $2\r\nEX\r\n$5\r\nsince\r\n$6\r\n2.6.12\r\n%4\r\n$4\r\nname\r\n$12\r\n\
        milliseconds\r\n$4\r\ntype\r\n$7\r\ninteger\r\n$5\r\ntoken\r\n$2\r\nPX\r\n\
        $5\r\nsince\r\n$6\r\n2.6.12\r\n%4\r\n$4\r\nname\r\n$17\r\n\
        unix-time-seconds\r\n$4\r\ntype\r\n$9\r\nunix-time\r\n$5\r\ntoken\r\n$4\r\n\
        EXAT\r\n$5\r\nsince\r\n$5\r\n6.2.0\r\n%4\r\n$4\r\nname\r\n$22\r\n\
        unix-time-milliseconds\r\n$4\r\ntype\r\n$9\r\nunix-time\r\n$5\r\ntoken\r\n\
        $4\r\nPXAT\r\n$5\r\nsince\r\n$5\r\n6.2.0\r\n%4\r\n$4\r\nname\r\n$7\r\n\
        keepttl\r\n$4\r\ntype\r\n$10\r\npure-token\r\n$5\r\ntoken\r\n$7\r\nKEEPTTL\r\n\
        $5\r\nsince\r\n$5\r\n6.0.0\r\n";

    /// `COMMAND DOCS ping` in RESP2.
    const DOCS_PING_RESP2: &[u8] = b"\
        *2\r\n$4\r\nping\r\n*10\r\n$7\r\nsummary\r\n$15\r\nPing the server\r\n$5\r\n\
        since\r\n$5\r\n1.0.0\r\n$5\r\ngroup\r\n$10\r\nconnection\r\n$10\r\n\
        complexity\r\n$4\r\nO(1)\r\n$9\r\narguments\r\n*1\r\n*6\r\n$4\r\nname\r\n\
        $7\r\nmessage\r\n$4\r\ntype\r\n$6\r\nstring\r\n$5\r\nflags\r\n*1\r\n\
        +optional\r\n";

    /// `COMMAND DOCS config|get` in RESP2.
    const DOCS_CONFIG_GET_RESP2: &[u8] = b"\
        *2\r\n$10\r\nconfig|get\r\n*12\r\n$7\r\nsummary\r\n$42\r\n\
        Get the values of configuration parameters\r\n$5\r\nsince\r\n$5\r\n2.0.0\r\n\
        $5\r\ngroup\r\n$6\r\nserver\r\n$10\r\ncomplexity\r\n$62\r\n\
        O(N) when N is the number of configuration parameters provided\r\n$7\r\n\
        history\r\n*1\r\n*2\r\n$5\r\n7.0.0\r\n$65\r\n\
        Added the ability to pass multiple pattern parameters in one call\r\n$9\r\n\
        arguments\r\n*1\r\n*8\r\n$4\r\nname\r\n$9\r\nparameter\r\n$4\r\ntype\r\n$5\r\n\
        block\r\n$5\r\nflags\r\n*1\r\n+multiple\r\n$9\r\narguments\r\n*1\r\n*4\r\n\
        $4\r\nname\r\n$9\r\nparameter\r\n$4\r\ntype\r\n$6\r\nstring\r\n";

    /// `COMMAND DOCS client|kill` in RESP3.
    const DOCS_CLIENT_KILL_RESP3: &[u8] = b"\
        %1\r\n$11\r\nclient|kill\r\n%6\r\n$7\r\nsummary\r\n$31\r\n\
        Kill the connection of a client\r\n$5\r\nsince\r\n$5\r\n2.4.0\r\n$5\r\n\
        group\r\n$10\r\nconnection\r\n$10\r\ncomplexity\r\n$48\r\n\
        O(N) where N is the number of client connections\r\n$7\r\nhistory\r\n~5\r\n\
        *2\r\n$6\r\n2.8.12\r\n$24\r\nAdded new filter format.\r\n*2\r\n$6\r\n\
        2.8.12\r\n$12\r\n`ID` option.\r\n*2\r\n$5\r\n3.2.0\r\n$41\r\n\
        Added `master` type in for `TYPE` option.\r\n*2\r\n$5\r\n5.0.0\r\n$91\r\n\
        Replaced `slave` `TYPE` with `replica`. `slave` still supported for backward compatibility.\r\n\
        *2\r\n$5\r\n6.2.0\r\n$15\r\n`LADDR` option.\r\n$9\r\narguments\r\n*1\r\n%3\r\n\
        $4\r\nname\r\n$6\r\nfilter\r\n$4\r\ntype\r\n$5\r\noneof\r\n$9\r\narguments\r\n\
        *2\r\n%3\r\n$4\r\nname\r\n$7\r\nip:port\r\n$4\r\ntype\r\n$6\r\nstring\r\n\
        $16\r\ndeprecated_since\r\n$6\r\n2.8.12\r\n%4\r\n$4\r\nname\r\n$10\r\n\
        new-format\r\n$4\r\ntype\r\n$5\r\noneof\r\n$5\r\nflags\r\n~1\r\n+multiple\r\n\
        $9\r\narguments\r\n*6\r\n%5\r\n$4\r\nname\r\n$9\r\nclient-id\r\n$4\r\ntype\r\n\
        $7\r\ninteger\r\n$5\r\ntoken\r\n$2\r\nID\r\n$5\r\nsince\r\n$6\r\n2.8.12\r\n\
        $5\r\nflags\r\n~1\r\n+optional\r\n%6\r\n$4\r\nname\r\n$26\r\n\
        normal_master_slave_pubsub\r\n$4\r\ntype\r\n$5\r\noneof\r\n$5\r\ntoken\r\n\
        $4\r\nTYPE\r\n$5\r\nsince\r\n$6\r\n2.8.12\r\n$5\r\nflags\r\n~1\r\n\
        +optional\r\n$9\r\narguments\r\n*5\r\n%3\r\n$4\r\nname\r\n$6\r\nnormal\r\n\
        $4\r\ntype\r\n$10\r\npure-token\r\n$5\r\ntoken\r\n$6\r\nNORMAL\r\n%4\r\n$4\r\n\
        name\r\n$6\r\nmaster\r\n$4\r\ntype\r\n$10\r\npure-token\r\n$5\r\ntoken\r\n\
        $6\r\nMASTER\r\n$5\r\nsince\r\n$5\r\n3.2.0\r\n%3\r\n$4\r\nname\r\n$5\r\n\
        slave\r\n$4\r\ntype\r\n$10\r\npure-token\r\n$5\r\ntoken\r\n$5\r\nSLAVE\r\n\
        %4\r\n$4\r\nname\r\n$7\r\nreplica\r\n$4\r\ntype\r\n$10\r\npure-token\r\n$5\r\n\
        token\r\n$7\r\nREPLICA\r\n$5\r\nsince\r\n$5\r\n5.0.0\r\n%3\r\n$4\r\nname\r\n\
        $6\r\npubsub\r\n$4\r\ntype\r\n$10\r\npure-token\r\n$5\r\ntoken\r\n$6\r\n\
        PUBSUB\r\n%4\r\n$4\r\nname\r\n$8\r\nusername\r\n$4\r\ntype\r\n$6\r\nstring\r\n\
        $5\r\ntoken\r\n$4\r\nUSER\r\n$5\r\nflags\r\n~1\r\n+optional\r\n%4\r\n$4\r\n\
        name\r\n$7\r\nip:port\r\n$4\r\ntype\r\n$6\r\nstring\r\n$5\r\ntoken\r\n$4\r\n\
        ADDR\r\n$5\r\nflags\r\n~1\r\n+optional\r\n%5\r\n$4\r\nname\r\n$7\r\n\
        ip:port\r\n$4\r\ntype\r\n$6\r\nstring\r\n$5\r\ntoken\r\n$5\r\nLADDR\r\n$5\r\n\
        since\r\n$5\r\n6.2.0\r\n$5\r\nflags\r\n~1\r\n+optional\r\n%4\r\n$4\r\nname\r\n\
        $6\r\nyes/no\r\n$4\r\ntype\r\n$6\r\nstring\r\n$5\r\ntoken\r\n$6\r\nSKIPME\r\n\
        $5\r\nflags\r\n~1\r\n+optional\r\n";

    /// `COMMAND DOCS getset` in RESP3.
    const DOCS_GETSET_RESP3: &[u8] = b"\
        %1\r\n$6\r\ngetset\r\n%8\r\n$7\r\nsummary\r\n$54\r\n\
        Set the string value of a key and return its old value\r\n$5\r\nsince\r\n\
        $5\r\n1.0.0\r\n$5\r\ngroup\r\n$6\r\nstring\r\n$10\r\ncomplexity\r\n$4\r\n\
        O(1)\r\n$9\r\ndoc_flags\r\n~1\r\n+deprecated\r\n$16\r\ndeprecated_since\r\n\
        $5\r\n6.2.0\r\n$11\r\nreplaced_by\r\n$30\r\n`SET` with the `!GET` argument\r\n\
        $9\r\narguments\r\n*2\r\n%3\r\n$4\r\nname\r\n$3\r\nkey\r\n$4\r\ntype\r\n$3\r\n\
        key\r\n$14\r\nkey_spec_index\r\n:0\r\n%2\r\n$4\r\nname\r\n$5\r\nvalue\r\n\
        $4\r\ntype\r\n$6\r\nstring\r\n";

    /// `COMMAND GETKEYSANDFLAGS set k v` in RESP3.
    const GETKEYSANDFLAGS_SET_RESP3: &[u8] = b"\
        *1\r\n*2\r\n$1\r\nk\r\n~2\r\n+OW\r\n+update\r\n";

    /// `COMMAND GETKEYSANDFLAGS set k v get` in RESP2.
    const GETKEYSANDFLAGS_SET_GET_RESP2: &[u8] = b"\
        *1\r\n*2\r\n$1\r\nk\r\n*3\r\n+RW\r\n+access\r\n+update\r\n";

    /// `COMMAND GETKEYS mset a 1 b 2` in RESP2.
    const GETKEYS_MSET_RESP2: &[u8] = b"\
        *2\r\n$1\r\na\r\n$1\r\nb\r\n";

    /// `COMMAND HELP` in RESP3.
    const HELP_RESP3: &[u8] = b"\
        *21\r\n+COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:\r\n\
        +(no subcommand)\r\n+    Return details about all Redis commands.\r\n\
        +COUNT\r\n+    Return the total number of commands in this Redis server.\r\n\
        +LIST\r\n+    Return a list of all commands in this Redis server.\r\n\
        +INFO [<command-name> ...]\r\n\
        +    Return details about multiple Redis commands.\r\n\
        +    If no command names are given, documentation details for all\r\n\
        +    commands are returned.\r\n+DOCS [<command-name> ...]\r\n\
        +    Return documentation details about multiple Redis commands.\r\n\
        +    If no command names are given, documentation details for all\r\n\
        +    commands are returned.\r\n+GETKEYS <full-command>\r\n\
        +    Return the keys from a full Redis command.\r\n\
        +GETKEYSANDFLAGS <full-command>\r\n\
        +    Return the keys and the access flags from a full Redis command.\r\n\
        +HELP\r\n+    Prints this help.\r\n";
}
