//! Key extraction: which arguments of a request are keys, found from the
//! command's key specs as Redis finds them (getKeysFromCommandWithSpecs),
//! or by its key procedure where the specs cannot say. The command path
//! uses it (CLIENT TRACKING remembers a read command's keys); COMMAND
//! GETKEYS and GETKEYSANDFLAGS show it.

use bytes::Bytes;

use super::Command;
use super::spec::*;
use crate::util::{eq_ic, parse_i64};

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
    if has_key_spec
        && !variable_flags
        && let Some(keys) = keys_from_specs(cmd, request)
    {
        return keys;
    }
    match key_procedure(cmd) {
        Some(procedure) => procedure(request),
        None => Vec::new(),
    }
}

pub(crate) fn spec_has(spec: &KeySpec, name: &str) -> bool {
    spec.flags.contains(&name)
}

/// Applies every key spec to `request`, as Redis's `getKeysUsingKeySpecs`
/// does. `None` means a spec could not be applied (it is unknown or
/// incomplete, or the arguments put its keys out of bounds), in which case
/// Redis discards every key found and falls back on the procedure.
pub(crate) fn keys_from_specs(cmd: &Command, request: &[Bytes]) -> Option<Vec<KeyArg>> {
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
pub(crate) fn find_keyword(request: &[Bytes], keyword: &str, start_from: i32) -> Option<i64> {
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
const KEY_PROCEDURES: &[(&str, KeyProcedure)] = &[
    ("set", set_keys),
    ("bitfield", bitfield_keys),
    ("sintercard", |request| counted_keys(request, 1, 2)),
    ("lmpop", |request| counted_keys(request, 1, 2)),
    ("blmpop", |request| counted_keys(request, 2, 3)),
    ("zmpop", |request| counted_keys(request, 1, 2)),
    ("bzmpop", |request| counted_keys(request, 2, 3)),
    ("zunion", |request| counted_keys(request, 1, 2)),
    ("zinter", |request| counted_keys(request, 1, 2)),
    ("zdiff", |request| counted_keys(request, 1, 2)),
    ("zintercard", |request| counted_keys(request, 1, 2)),
    ("zunionstore", |request| stored_counted_keys(request, 2, 3)),
    ("zinterstore", |request| stored_counted_keys(request, 2, 3)),
    ("zdiffstore", |request| stored_counted_keys(request, 2, 3)),
    ("sort", sort_keys),
    ("sort_ro", |request| {
        sort_keys(&request[..request.len().min(2)])
    }),
];

pub(crate) fn key_procedure(cmd: &Command) -> Option<KeyProcedure> {
    KEY_PROCEDURES
        .iter()
        .find(|(name, _)| *name == cmd.name)
        .map(|&(_, procedure)| procedure)
}

/// `SET key value [... GET ...]`: the key is read as well as overwritten
/// only with `GET` (Redis's `setGetKeys`).
pub(crate) fn set_keys(request: &[Bytes]) -> Vec<KeyArg> {
    // Dispatch guarantees the key, but a position must never point past
    // the request.
    if request.len() < 2 {
        return Vec::new();
    }
    let with_get = request.iter().skip(3).any(|arg| eq_ic(arg, "get"));
    let flags: &'static [&'static str] = if with_get {
        &["RW", "access", "update"]
    } else {
        &["OW", "update"]
    };
    vec![KeyArg { pos: 1, flags }]
}

/// `BITFIELD key [GET ...|SET ...|INCRBY ...|OVERFLOW ...] ...`: the key
/// is only read while no SET or INCRBY (or anything malformed, taken as a
/// write to be safe) comes before the end (Redis's `bitfieldGetKeys`).
pub(crate) fn bitfield_keys(request: &[Bytes]) -> Vec<KeyArg> {
    if request.len() < 2 {
        return Vec::new();
    }
    let mut read_only = true;
    let mut i = 2;
    while i < request.len() {
        let more = request.len() - i - 1;
        // Redis compares with strcasecmp, which stops at a NUL.
        let op = crate::util::until_nul(&request[i]);
        if eq_ic(op, "get") && more >= 2 {
            i += 3;
        } else if eq_ic(op, "overflow") && more >= 1 {
            i += 2;
        } else {
            read_only = false;
            break;
        }
    }
    let flags: &'static [&'static str] = if read_only {
        &["RO", "access"]
    } else {
        &["RW", "access", "update"]
    };
    vec![KeyArg { pos: 1, flags }]
}

/// SORT's key, then its STORE destination if any (Redis's `sortGetKeys`,
/// quirks and all: the scan skips LIMIT's and GET's and BY's arguments but
/// not STORE's, and the last STORE wins).
pub(crate) fn sort_keys(request: &[Bytes]) -> Vec<KeyArg> {
    if request.len() < 2 {
        return Vec::new();
    }
    let mut keys = vec![KeyArg {
        pos: 1,
        flags: &["RO", "access"],
    }];
    let mut store = None;
    let mut i = 2;
    while i < request.len() {
        let arg = &request[i];
        if eq_ic(arg, "limit") {
            i += 2;
        } else if eq_ic(arg, "store") && i + 1 < request.len() {
            store = Some(i + 1);
        } else if eq_ic(arg, "get") || eq_ic(arg, "by") {
            i += 1;
        }
        i += 1;
    }
    if let Some(pos) = store {
        keys.push(KeyArg {
            pos,
            flags: &["OW", "update"],
        });
    }
    keys
}

/// Keys that follow a count (Redis's `genericGetKeys`), which Redis asks
/// for when the key spec cannot read the count: the count is read with
/// `atoi` (" 1" and "+1" are 1 here), the keys come without flags, and a
/// count below 1 or beyond the arguments finds none.
pub(crate) fn counted_keys(request: &[Bytes], count_at: usize, first: usize) -> Vec<KeyArg> {
    let Some(count) = request.get(count_at).map(|c| crate::util::atoi(c)) else {
        return Vec::new();
    };
    let available = request.len().saturating_sub(first);
    match usize::try_from(count) {
        Ok(n) if n >= 1 && n <= available => (first..first + n)
            .map(|pos| KeyArg { pos, flags: &[] })
            .collect(),
        _ => Vec::new(),
    }
}

/// As [`counted_keys`], then the destination (argument 1) last, as
/// Redis's `genericGetKeys` gives a store command's keys.
pub(crate) fn stored_counted_keys(request: &[Bytes], count_at: usize, first: usize) -> Vec<KeyArg> {
    let mut keys = counted_keys(request, count_at, first);
    if !keys.is_empty() {
        keys.push(KeyArg { pos: 1, flags: &[] });
    }
    keys
}

/// Whether `COMMAND GETKEYS` can find keys for the command at all (Redis's
/// `doesCommandHaveKeys`).
pub(crate) fn has_key_arguments(cmd: &Command) -> bool {
    key_procedure(cmd).is_some() || cmd.key_specs.iter().any(|spec| !spec_has(spec, "not_key"))
}
