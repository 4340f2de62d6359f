//! How two replies to the same command are compared.
//!
//! Byte for byte, except where the reply is random or timing-dependent by
//! nature, or unordered: which members SPOP and SRANDMEMBER pick, SCAN
//! cursors, clocks and client IDs, TTLs that count down while the two
//! servers are asked one after the other, the order of a hash table's
//! elements. An error reply is always compared exactly, whatever the rule.

use crate::common::{Frame, mask_digits};

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Norm {
    Exact,
    /// The elements in any order.
    Unordered,
    /// COMMAND, COMMAND LIST, INFO and DOCS: ferrokv's table has only the
    /// commands it implements, so Redis's entries for the others (and for
    /// the subcommands of containers) are left out; then the elements of
    /// every aggregate in any order, at every depth, since containers list
    /// their subcommands in hash order.
    CommandTable,
    /// Field-value pairs in any order (a flat RESP2 array, a RESP3 map, or
    /// an array of pairs).
    UnorderedPairs,
    /// The same structure: the type of every node and the length of every
    /// aggregate (TIME, CLIENT ID, RANDOMKEY).
    Shape,
    /// The same text with every run of digits taken as equal (CLIENT LIST,
    /// HELLO, SLOWLOG GET).
    Masked,
    /// Integers may differ by this much (TTL, PTTL).
    Approx(i64),
    /// A cursor reply: when the scan started at cursor 0 and both servers
    /// finished it in one call, the elements (or pairs) in any order;
    /// otherwise only that it is a cursor and a list, since what one call
    /// returns depends on where each hash table put each element.
    Scan {
        pairs: bool,
        from_start: bool,
    },
    /// Random picks (SRANDMEMBER, HRANDFIELD): the structure only.
    Random,
    /// SPOP: the structure only; the runner then makes both servers drop
    /// the same members, so the data stays comparable.
    Pop,
    /// INFO: the same section headers and field names, in order.
    InfoFields,
    /// DUMP: exact, except for a hash or set held in a hash table, which
    /// each server writes in its own table order: then the same type and
    /// the same bytes in any order (the elements, each with its length).
    Dump,
    /// MEMORY USAGE: exact, except for a key Redis holds in a hash table
    /// or a quicklist, whose figure Redis computes from a sample taken in
    /// its hash order, or from its list nodes' layout (the runner checks
    /// the encoding).
    MemoryUsage,
}

impl Norm {
    /// The rule for a command, from its name (and subcommand).
    pub fn for_command(args: &[Vec<u8>], name: &[u8]) -> Norm {
        let name = String::from_utf8_lossy(name).to_ascii_lowercase();
        let sub = args
            .get(1)
            .map(|s| String::from_utf8_lossy(s).to_ascii_lowercase())
            .unwrap_or_default();
        match (name.as_str(), sub.as_str()) {
            ("keys" | "smembers" | "sinter" | "sunion" | "sdiff" | "hkeys" | "hvals", _) => {
                Norm::Unordered
            }
            ("hgetall", _) | ("config", "get") => Norm::UnorderedPairs,
            // Channels in Redis's hash order.
            ("pubsub", "channels" | "shardchannels") => Norm::Unordered,
            ("command", "" | "list" | "docs" | "info") => Norm::CommandTable,
            // Redis counts the commands ferrokv does not implement yet.
            ("command", "count") => Norm::Shape,
            ("ttl" | "expiretime", _) => Norm::Approx(30),
            ("pttl" | "pexpiretime", _) => Norm::Approx(30_000),
            ("time" | "lastsave" | "randomkey", _) | ("client", "id") => Norm::Shape,
            ("client", "list" | "info") | ("hello", _) | ("slowlog", "get") => Norm::Masked,
            // The redirect target's client ID.
            ("client", "getredir" | "trackinginfo") => Norm::Masked,
            // Redis shares one object among all keys holding the same
            // small integer, idle time included (see the README).
            ("object", "idletime") => Norm::Shape,
            ("scan", _) => Norm::Scan {
                pairs: false,
                from_start: args.get(1).is_some_and(|c| c == b"0"),
            },
            ("sscan" | "hscan" | "zscan", _) => Norm::Scan {
                pairs: name != "sscan",
                from_start: args.get(2).is_some_and(|c| c == b"0"),
            },
            ("srandmember" | "hrandfield" | "zrandmember", _) => Norm::Random,
            ("spop", _) => Norm::Pop,
            ("info", _) => Norm::InfoFields,
            ("memory", "usage") => Norm::MemoryUsage,
            ("dump", _) => Norm::Dump,
            _ => Norm::Exact,
        }
    }

    /// Whether two replies agree under this rule.
    pub fn agree(&self, expected: &Frame, actual: &Frame) -> bool {
        if is_error(expected) || is_error(actual) {
            return expected == actual;
        }
        match self {
            Norm::Exact | Norm::MemoryUsage => expected == actual,
            Norm::Unordered => sorted(expected) == sorted(actual),
            Norm::CommandTable => {
                deep_sorted(&implemented_only(expected)) == deep_sorted(&implemented_only(actual))
            }
            Norm::UnorderedPairs => sorted_pairs(expected) == sorted_pairs(actual),
            Norm::Shape | Norm::Random | Norm::Pop => shape(expected) == shape(actual),
            Norm::Masked => mask_digits(&expected.to_bytes()) == mask_digits(&actual.to_bytes()),
            Norm::Approx(tolerance) => match (expected, actual) {
                (Frame::Integer(e), Frame::Integer(a)) => {
                    // -1 and -2 (no TTL, no key) are exact answers.
                    if *e < 0 || *a < 0 {
                        e == a
                    } else {
                        e.abs_diff(*a) <= tolerance.unsigned_abs()
                    }
                }
                _ => expected == actual,
            },
            Norm::Scan { pairs, from_start } => {
                match (cursor_reply(expected), cursor_reply(actual)) {
                    (Some(_), Some(_)) if !from_start => true,
                    (Some((b"0", e)), Some((b"0", a))) if *pairs => {
                        sorted_pairs(&Frame::Array(e.to_vec()))
                            == sorted_pairs(&Frame::Array(a.to_vec()))
                    }
                    (Some((b"0", e)), Some((b"0", a))) => {
                        sorted(&Frame::Array(e.to_vec())) == sorted(&Frame::Array(a.to_vec()))
                    }
                    (Some(_), Some(_)) => true,
                    _ => expected == actual,
                }
            }
            Norm::InfoFields => info_fields(expected) == info_fields(actual),
            Norm::Dump => match (expected, actual) {
                (Frame::Bulk(e), Frame::Bulk(a)) if e.len() == a.len() && e.len() > 10 => {
                    let table_order = matches!(e[0], 2 | 4) && e[0] == a[0];
                    let body = |p: &[u8]| {
                        let mut b = p[1..p.len() - 10].to_vec();
                        b.sort_unstable();
                        b
                    };
                    e == a || (table_order && body(e) == body(a))
                }
                _ => expected == actual,
            },
        }
    }

    /// The directive that makes the differential script harness compare
    /// the way this rule does, or as close as it can.
    pub fn directive(&self) -> Option<String> {
        match self {
            Norm::Exact | Norm::MemoryUsage => None,
            Norm::Unordered | Norm::CommandTable | Norm::UnorderedPairs | Norm::Scan { .. } => {
                Some("~sorted".into())
            }
            Norm::Shape | Norm::Random | Norm::Pop => Some("~shape".into()),
            Norm::Masked => Some("~masked".into()),
            Norm::Approx(n) => Some(format!("~approx {n}")),
            Norm::InfoFields => Some("~ignore".into()),
            Norm::Dump => Some("~shape".into()),
        }
    }
}

fn is_error(frame: &Frame) -> bool {
    matches!(frame, Frame::Error(_) | Frame::BlobError(_))
}

/// `[cursor, [elements]]`.
fn cursor_reply(frame: &Frame) -> Option<(&[u8], &[Frame])> {
    match frame {
        Frame::Array(items) => match items.as_slice() {
            [Frame::Bulk(cursor), Frame::Array(elements)] => Some((cursor, elements)),
            _ => None,
        },
        _ => None,
    }
}

/// The elements of the top-level aggregate, sorted by their encoding.
fn sorted(frame: &Frame) -> Frame {
    let sort = |items: &[Frame]| {
        let mut items = items.to_vec();
        items.sort_by_cached_key(Frame::to_bytes);
        items
    };
    match frame {
        Frame::Array(items) => Frame::Array(sort(items)),
        Frame::Set(items) => Frame::Set(sort(items)),
        Frame::Map(kvs) => {
            let mut kvs = kvs.clone();
            kvs.sort_by_cached_key(|(k, v)| (k.to_bytes(), v.to_bytes()));
            Frame::Map(kvs)
        }
        other => other.clone(),
    }
}

/// A command-table listing without the entries of commands ferrokv's
/// table does not have, at every level (a container lists its
/// subcommands): a list of names (COMMAND LIST), of COMMAND INFO entries
/// (each starting with its name, its subcommands tenth), or COMMAND
/// DOCS's name-to-docs pairs (the docs holding `subcommands` pairs).
fn implemented_only(frame: &Frame) -> Frame {
    match frame {
        Frame::Array(items) if is_docs_pairs(items) => Frame::Array(known_docs(items)),
        Frame::Array(items) => Frame::Array(known_entries(items)),
        Frame::Map(kvs) => Frame::Map(
            kvs.iter()
                .filter(|(k, _)| is_known(k))
                .map(|(k, v)| (k.clone(), docs_with_known_subcommands(v)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Commands ferrokv has that Redis 7.0 does not: CLIENT SETINFO (Redis
/// 7.2), accepted because client libraries send it on connect.
const FERROKV_ONLY: &[&str] = &["client|setinfo"];

fn is_known(name: &Frame) -> bool {
    let Frame::Bulk(name) = name else {
        return true;
    };
    if FERROKV_ONLY.iter().any(|n| n.as_bytes() == name.as_slice()) {
        return false;
    }
    ferrokv::cmd::table::COMMANDS.iter().any(|c| {
        c.name.as_bytes() == name.as_slice()
            || c.subcommands
                .iter()
                .any(|s| s.name.as_bytes() == name.as_slice())
    })
}

fn is_docs_pairs(items: &[Frame]) -> bool {
    items.len().is_multiple_of(2)
        && items.chunks(2).all(|p| {
            matches!(
                (&p[0], &p[1]),
                (Frame::Bulk(_), Frame::Array(_) | Frame::Map(_))
            )
        })
}

fn known_entries(items: &[Frame]) -> Vec<Frame> {
    items
        .iter()
        .filter(|item| match item {
            Frame::Array(fields) => fields.first().is_none_or(is_known),
            name => is_known(name),
        })
        .map(|item| match item {
            Frame::Array(fields) if fields.len() >= 10 => {
                let mut fields = fields.clone();
                if let Frame::Array(subs) = &fields[9] {
                    fields[9] = Frame::Array(known_entries(subs));
                }
                Frame::Array(fields)
            }
            other => other.clone(),
        })
        .collect()
}

fn known_docs(items: &[Frame]) -> Vec<Frame> {
    items
        .chunks(2)
        .filter(|p| is_known(&p[0]))
        .flat_map(|p| [p[0].clone(), docs_with_known_subcommands(&p[1])])
        .collect()
}

/// One command's docs (flat pairs or a map) with its `subcommands` entry
/// filtered.
fn docs_with_known_subcommands(docs: &Frame) -> Frame {
    let is_subcommands = |k: &Frame| *k == Frame::Bulk(b"subcommands".to_vec());
    match docs {
        Frame::Array(items) if items.len().is_multiple_of(2) => Frame::Array(
            items
                .chunks(2)
                .flat_map(|p| {
                    let value = if is_subcommands(&p[0]) {
                        implemented_only(&p[1])
                    } else {
                        p[1].clone()
                    };
                    [p[0].clone(), value]
                })
                .collect(),
        ),
        Frame::Map(kvs) => Frame::Map(
            kvs.iter()
                .map(|(k, v)| {
                    let v = if is_subcommands(k) {
                        implemented_only(v)
                    } else {
                        v.clone()
                    };
                    (k.clone(), v)
                })
                .collect(),
        ),
        other => other.clone(),
    }
}

/// The reply with the elements of every aggregate sorted, at every depth.
fn deep_sorted(frame: &Frame) -> Frame {
    let inner = match frame {
        Frame::Array(items) => Frame::Array(items.iter().map(deep_sorted).collect()),
        Frame::Set(items) => Frame::Set(items.iter().map(deep_sorted).collect()),
        Frame::Map(kvs) => Frame::Map(
            kvs.iter()
                .map(|(k, v)| (deep_sorted(k), deep_sorted(v)))
                .collect(),
        ),
        other => other.clone(),
    };
    sorted(&inner)
}

/// Pairs in any order, whichever way the reply lays them out.
fn sorted_pairs(frame: &Frame) -> Frame {
    match frame {
        Frame::Array(items)
            if items.len().is_multiple_of(2)
                && items.iter().all(|f| !matches!(f, Frame::Array(_))) =>
        {
            let mut pairs: Vec<(Frame, Frame)> = items
                .chunks(2)
                .map(|p| (p[0].clone(), p[1].clone()))
                .collect();
            pairs.sort_by_cached_key(|(k, v)| (k.to_bytes(), v.to_bytes()));
            Frame::Map(pairs)
        }
        other => sorted(other),
    }
}

/// The structure of a reply, with every scalar's content blanked.
fn shape(frame: &Frame) -> Frame {
    let all = |items: &[Frame]| items.iter().map(shape).collect::<Vec<_>>();
    match frame {
        Frame::Simple(_) => Frame::Simple(Vec::new()),
        Frame::Integer(_) => Frame::Integer(0),
        Frame::Bulk(_) => Frame::Bulk(Vec::new()),
        Frame::Double(_) => Frame::Double(Vec::new()),
        Frame::BigNumber(_) => Frame::BigNumber(Vec::new()),
        Frame::Verbatim(_) => Frame::Verbatim(Vec::new()),
        Frame::Bool(_) => Frame::Bool(false),
        Frame::Array(items) => Frame::Array(all(items)),
        Frame::Set(items) => Frame::Set(all(items)),
        Frame::Push(items) => Frame::Push(all(items)),
        Frame::Map(kvs) => Frame::Map(kvs.iter().map(|(k, v)| (shape(k), shape(v))).collect()),
        Frame::Attribute(kvs, reply) => Frame::Attribute(
            kvs.iter().map(|(k, v)| (shape(k), shape(v))).collect(),
            Box::new(shape(reply)),
        ),
        other => other.clone(),
    }
}

/// What INFO must agree on: the section headers, in order, and the
/// fields of the sections whose contents follow from the commands sent
/// (which databases hold keys, how many, how many volatile; which
/// commands ran, how often, how often they failed or were rejected; which
/// errors were returned, how often), not from memory, clocks or the
/// build. ferrokv's other sections differ on purpose (allocator
/// figures, its own version).
fn info_fields(frame: &Frame) -> Option<Vec<Vec<u8>>> {
    let text = match frame {
        Frame::Bulk(text) => text.as_slice(),
        Frame::Verbatim(text) => text.get(4..)?,
        _ => return None,
    };
    let mut kept = Vec::new();
    let mut commands = Vec::new();
    let mut section: &[u8] = b"";
    for line in text.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if let Some(name) = line.strip_prefix(b"# ") {
            section = name;
            kept.push(line.to_vec());
            continue;
        }
        let (field, value) = match line.iter().position(|&b| b == b':') {
            Some(colon) => (&line[..colon], &line[colon + 1..]),
            None => continue,
        };
        match section {
            // keys=N,expires=N,avg_ttl=N: the average TTL is sampled.
            b"Keyspace" => {
                let counts = value
                    .split(|&b| b == b',')
                    .take(2)
                    .collect::<Vec<_>>()
                    .join(&b',');
                kept.push([field, b":", &counts].concat());
            }
            // Redis lists commands in hash-table order. Their counts are
            // compared, their times not.
            b"Commandstats" => {
                let counts = value
                    .split(|&b| b == b',')
                    .filter(|kv| !kv.starts_with(b"usec"))
                    .collect::<Vec<_>>()
                    .join(&b',');
                commands.push([field, b":", &counts].concat());
            }
            b"Latencystats" => commands.push(field.to_vec()),
            b"Errorstats" => kept.push(line.to_vec()),
            _ => {}
        }
    }
    commands.sort();
    kept.extend(commands);
    Some(kept)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bulk(s: &str) -> Frame {
        Frame::Bulk(s.as_bytes().to_vec())
    }

    #[test]
    fn unordered_pairs_keep_pairs_together() {
        let a = Frame::Array(vec![bulk("f1"), bulk("v1"), bulk("f2"), bulk("v2")]);
        let b = Frame::Array(vec![bulk("f2"), bulk("v2"), bulk("f1"), bulk("v1")]);
        let swapped = Frame::Array(vec![bulk("f1"), bulk("v2"), bulk("f2"), bulk("v1")]);
        assert!(Norm::UnorderedPairs.agree(&a, &b));
        assert!(!Norm::UnorderedPairs.agree(&a, &swapped));
    }

    #[test]
    fn errors_are_always_exact() {
        let e1 = Frame::Error(b"ERR a".to_vec());
        let e2 = Frame::Error(b"ERR b".to_vec());
        assert!(!Norm::Shape.agree(&e1, &e2));
        assert!(!Norm::Random.agree(&e1, &bulk("x")));
    }

    #[test]
    fn scans_compare_elements_only_when_both_are_complete() {
        let reply = |cursor: &str, elems: &[&str]| {
            Frame::Array(vec![
                bulk(cursor),
                Frame::Array(elems.iter().map(|e| bulk(e)).collect()),
            ])
        };
        let scan = Norm::Scan {
            pairs: false,
            from_start: true,
        };
        assert!(scan.agree(&reply("0", &["a", "b"]), &reply("0", &["b", "a"])));
        assert!(!scan.agree(&reply("0", &["a", "b"]), &reply("0", &["a"])));
        assert!(scan.agree(&reply("0", &["a", "b"]), &reply("12", &["a"])));
    }

    #[test]
    fn ttls_are_approximate_but_missing_keys_are_not() {
        let t = Norm::Approx(30);
        assert!(t.agree(&Frame::Integer(100), &Frame::Integer(99)));
        assert!(!t.agree(&Frame::Integer(100), &Frame::Integer(-2)));
        assert!(!t.agree(&Frame::Integer(100), &Frame::Integer(1000)));
    }
}
