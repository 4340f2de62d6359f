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

use super::spec::{Arg, BeginSearch, Command, FindKeys, KeySpec, flag};
use super::table::COMMANDS;
use super::{CmdError, CmdResult, Ctx, lookup, lookup_sub};
use crate::glob::glob_match;
use crate::resp::Reply;
use crate::util::{eq_ic, parse_i64};

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
fn lookup_full_name(name: &[u8]) -> Option<&'static Command> {
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

// ------------------------------------------------------------ key extraction

/// A key argument of a request: its index in the request (the command name
/// is index 0) and the flags of the key spec that found it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyArg {
    pub pos: usize,
    pub flags: &'static [&'static str],
}

/// The keys of `request` (the whole command, name first), found as Redis
/// 7.0's `getKeysFromCommandWithSpecs` finds them: from the key specs when
/// they can be trusted, else by the command's own procedure. An empty
/// result means no keys could be found.
pub fn keys_with_flags(cmd: &Command, request: &[Bytes]) -> Vec<KeyArg> {
    let has_key_spec = cmd.key_specs.iter().any(|spec| !spec_has(spec, "not_key"));
    // A spec whose flags vary with the arguments cannot say which flags a
    // key has, so Redis asks the procedure instead.
    let variable_flags = cmd
        .key_specs
        .iter()
        .any(|spec| spec_has(spec, "variable_flags"));
    if has_key_spec && !variable_flags {
        if let Some(keys) = keys_from_specs(cmd, request) {
            return keys;
        }
    }
    match key_procedure(cmd) {
        Some(procedure) => procedure(request),
        None => Vec::new(),
    }
}

fn spec_has(spec: &KeySpec, name: &str) -> bool {
    spec.flags.contains(&name)
}

/// Applies every key spec to `request`, as Redis's `getKeysUsingKeySpecs`
/// does. `None` means a spec could not be applied (it is unknown or
/// incomplete, or the arguments put its keys out of bounds), in which case
/// Redis discards every key found and falls back on the procedure.
fn keys_from_specs(cmd: &Command, request: &[Bytes]) -> Option<Vec<KeyArg>> {
    // i64 throughout: the spec fields are i32, and a client-supplied key
    // count is an i64 that must not overflow anything.
    let argc = request.len() as i64;
    let mut keys = Vec::new();
    for spec in cmd.key_specs {
        if spec_has(spec, "not_key") {
            continue;
        }
        let mut first = match spec.begin_search {
            BeginSearch::Index(index) => i64::from(index),
            BeginSearch::Keyword {
                keyword,
                start_from,
            } => match find_keyword(request, keyword, start_from) {
                Some(at) => at + 1,
                // A missing keyword means this spec has no keys here.
                None => continue,
            },
            BeginSearch::Unknown => return None,
        };
        let (last, step) = match spec.find_keys {
            FindKeys::Range {
                last_key,
                key_step,
                limit,
            } => {
                let (last_key, limit) = (i64::from(last_key), i64::from(limit));
                let last = if last_key >= 0 {
                    first + last_key
                } else if limit == 0 {
                    argc + last_key
                } else {
                    first + (argc - first) / limit + last_key
                };
                (last, i64::from(key_step))
            }
            FindKeys::Keynum {
                keynum_idx,
                first_key,
                key_step,
            } => {
                // Redis compares the keynum index itself, not its position
                // after `first`, with the argument count.
                if i64::from(keynum_idx) >= argc {
                    return None;
                }
                let at = usize::try_from(first + i64::from(keynum_idx)).ok()?;
                let count = parse_i64(request.get(at)?).filter(|n| *n >= 0)?;
                first += i64::from(first_key);
                // A count beyond the arguments is out of bounds either way;
                // clamping it keeps the sum from overflowing.
                (first + count.min(argc) - 1, i64::from(key_step))
            }
            FindKeys::Unknown => return None,
        };
        // Out-of-bounds keys are a syntax error the command reports itself.
        if last >= argc || last < first || first >= argc || first < 0 || step <= 0 {
            return None;
        }
        let mut pos = first;
        while pos <= last {
            keys.push(KeyArg {
                pos: pos as usize,
                flags: spec.flags,
            });
            pos += step;
        }
        if spec_has(spec, "incomplete") {
            return None;
        }
    }
    Some(keys)
}

/// The index of `keyword` in `request`, searched from `start_from` forward
/// or, when negative, from that far before the end backward. Like Redis,
/// the search never looks at the last argument going forward, nor at
/// argument 1 going backward, since no key could follow or the keyword
/// would be the command name's neighbour.
fn find_keyword(request: &[Bytes], keyword: &str, start_from: i32) -> Option<i64> {
    let argc = request.len() as i64;
    let start_from = i64::from(start_from);
    let (start, end) = if start_from > 0 {
        (start_from, argc - 1)
    } else {
        (argc + start_from, 1)
    };
    let step = if start <= end { 1 } else { -1 };
    let mut at = start;
    while at != end && at >= 1 && at < argc {
        if eq_ic(&request[at as usize], keyword) {
            return Some(at);
        }
        at += step;
    }
    None
}

/// A command's own key-finding procedure (Redis's `getkeys_proc`).
type KeyProcedure = fn(&[Bytes]) -> Vec<KeyArg>;

/// Redis finds some commands' keys with a procedure rather than the key
/// specs: where a spec's flags depend on the arguments (`variable_flags`)
/// or a spec cannot find every key. These are ports of the procedures for
/// the commands in the table. The descriptor has no field for them, so
/// they are listed here by name.
const KEY_PROCEDURES: &[(&str, KeyProcedure)] = &[("set", set_keys)];

fn key_procedure(cmd: &Command) -> Option<KeyProcedure> {
    KEY_PROCEDURES
        .iter()
        .find(|(name, _)| *name == cmd.name)
        .map(|&(_, procedure)| procedure)
}

/// `SET key value [... GET ...]`: the key is read as well as overwritten
/// only with `GET` (Redis's `setGetKeys`).
fn set_keys(request: &[Bytes]) -> Vec<KeyArg> {
    let with_get = request.iter().skip(3).any(|arg| eq_ic(arg, "get"));
    let flags: &'static [&'static str] = if with_get {
        &["RW", "access", "update"]
    } else {
        &["OW", "update"]
    };
    vec![KeyArg { pos: 1, flags }]
}

/// Whether `COMMAND GETKEYS` can find keys for the command at all (Redis's
/// `doesCommandHaveKeys`).
fn has_key_arguments(cmd: &Command) -> bool {
    key_procedure(cmd).is_some() || cmd.key_specs.iter().any(|spec| !spec_has(spec, "not_key"))
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
        names.iter().filter_map(|name| lookup_full_name(name)).collect()
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
    let filter = ListFilter::parse(after_subcommand(args))?;
    let mut names = Vec::new();
    collect_names(COMMANDS, &filter, &mut names);
    ctx.out.bulk_array(names.iter());
    Ok(())
}

/// `COMMAND DOCS [command-name ...]`
pub fn command_docs(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    write_command_docs(ctx.out, after_subcommand(args));
    Ok(())
}

/// `COMMAND GETKEYS command [arg ...]`: the key arguments of a command.
pub fn command_getkeys(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let request = after_subcommand(args);
    let keys = getkeys_request(request)?;
    ctx.out.array(keys.len());
    for key in keys {
        ctx.out.bulk(&request[key.pos]);
    }
    Ok(())
}

/// `COMMAND GETKEYSANDFLAGS command [arg ...]`: each key argument with the
/// flags of the key spec that found it.
pub fn command_getkeysandflags(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let request = after_subcommand(args);
    let keys = getkeys_request(request)?;
    ctx.out.array(keys.len());
    for key in keys {
        ctx.out.array(2);
        ctx.out.bulk(&request[key.pos]);
        write_status_set(ctx.out, key.flags);
    }
    Ok(())
}

/// `COMMAND HELP`
pub fn command_help(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    ctx.out.array(HELP.len());
    for line in HELP {
        ctx.out.simple(line);
    }
    Ok(())
}
