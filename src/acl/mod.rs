//! Access control, as Redis 7.0's `acl.c`: users, their rules, the
//! permission check of the command path, the ACL log and the ACL file.
//!
//! A user has flags (on/off, nopass), password hashes and selectors: the
//! root selector (the rules written outside parentheses) and any number of
//! `(...)` selectors. A selector allows commands (a bitmap over every
//! command and subcommand redis-server 7.0 knows, `cmd::acl_table`, plus
//! Redis's "future commands" bit that `+@all` sets), key patterns with
//! read and write permissions, and channel patterns. A command is allowed
//! when one selector allows it with all its keys and channels.
//!
//! Clients name their user by its slot in [`Acl::users`] (a slab; the
//! default user is slot 0 and is never removed). A user allowed every
//! command, key and channel is `unrestricted`: the command path checks
//! that one flag and nothing else.
//!
//! The commands are in `cmd/acl.rs`; AUTH and HELLO in `cmd/connection.rs`.

pub mod sha256;

use std::collections::{BTreeMap, VecDeque};
use std::sync::OnceLock;

use ahash::AHashMap as HashMap;
use bytes::Bytes;
use slab::Slab;

use crate::cmd::Command;
use crate::cmd::acl_table::ACL_COMMANDS;

/// Redis 7.0's command categories, in ACL CAT's order; bit N of a
/// command's category mask in `cmd::acl_table` is `CATEGORIES[N]`.
pub const CATEGORIES: [&str; 21] = [
    "keyspace",
    "read",
    "write",
    "set",
    "sortedset",
    "list",
    "hash",
    "string",
    "bitmap",
    "hyperloglog",
    "geo",
    "stream",
    "pubsub",
    "admin",
    "fast",
    "slow",
    "blocking",
    "dangerous",
    "connection",
    "transaction",
    "scripting",
];

/// Words of a selector's command bitmap: room for every command id.
const WORDS: usize = 8;

/// A user's slot in [`Acl`]'s table.
pub type UserId = usize;

/// The default user's slot: created first, never removed.
pub const DEFAULT_USER: UserId = 0;

/// How long (ms) a repeated denial updates its log entry instead of adding
/// one (Redis's ACL_LOG_GROUPING_MAX_TIME_DELTA).
const LOG_GROUPING_MAX_DELTA_MS: u64 = 60_000;

/// The key permissions of a pattern (Redis's ACL_READ/WRITE_PERMISSION).
const PERM_READ: u8 = 1;
const PERM_WRITE: u8 = 2;
const PERM_ALL: u8 = PERM_READ | PERM_WRITE;

// --- The command catalog -------------------------------------------------

/// One command or subcommand of the catalog.
struct CatalogEntry {
    /// Its full name (`config|get`).
    name: &'static str,
    categories: u32,
    /// Whether it is a subcommand.
    is_sub: bool,
    /// A container's subcommands, by id.
    subs: Vec<u16>,
}

/// Every command redis-server 7.0 knows, with ids, and the ids of the
/// commands ferrokv's own table has.
struct Catalog {
    entries: Vec<CatalogEntry>,
    /// Top-level commands, by name.
    top: Vec<u16>,
    by_name: HashMap<&'static str, u16>,
    /// `cmd::table` descriptors (by address) to their ids.
    by_descriptor: HashMap<usize, u16>,
}

fn catalog() -> &'static Catalog {
    static CATALOG: OnceLock<Catalog> = OnceLock::new();
    CATALOG.get_or_init(|| {
        let mut entries: Vec<CatalogEntry> = ACL_COMMANDS
            .iter()
            .map(|&(name, categories)| CatalogEntry {
                name,
                categories,
                is_sub: name.contains('|'),
                subs: Vec::new(),
            })
            .collect();
        assert!(
            entries.len() < WORDS * 64,
            "the command bitmap is too small"
        );
        let by_name: HashMap<&'static str, u16> = entries
            .iter()
            .enumerate()
            .map(|(i, e)| (e.name, i as u16))
            .collect();
        for i in 0..entries.len() {
            if let Some((container, _)) = entries[i].name.split_once('|')
                && let Some(&parent) = by_name.get(container)
            {
                entries[parent as usize].subs.push(i as u16);
            }
        }
        let top = (0..entries.len() as u16)
            .filter(|&i| !entries[i as usize].is_sub)
            .collect();
        let mut by_descriptor = HashMap::new();
        for cmd in crate::cmd::table::COMMANDS {
            for c in std::iter::once(cmd).chain(cmd.subcommands) {
                if let Some(&id) = by_name.get(c.name) {
                    by_descriptor.insert(c as *const Command as usize, id);
                }
            }
        }
        Catalog {
            entries,
            top,
            by_name,
            by_descriptor,
        }
    })
}

/// Looks a command up as Redis's ACLLookupCommand does: `name` or
/// `container|sub`, any case.
fn lookup_command(name: &[u8]) -> Option<u16> {
    let lower = std::str::from_utf8(name).ok()?.to_ascii_lowercase();
    let cat = catalog();
    let mut parts = lower.split('|');
    let base = parts.next()?;
    match (parts.next(), parts.next()) {
        (None, _) => cat.by_name.get(base).copied(),
        (Some(sub), None) => {
            let &base_id = cat.by_name.get(base)?;
            if cat.entries[base_id as usize].subs.is_empty() {
                return None;
            }
            cat.by_name.get(format!("{base}|{sub}").as_str()).copied()
        }
        _ => None,
    }
}

/// A category's bit, by name in any case (`@all` is not one).
fn category_flag(name: &[u8]) -> Option<u32> {
    CATEGORIES
        .iter()
        .position(|c| c.as_bytes().eq_ignore_ascii_case(name))
        .map(|i| 1 << i)
}

/// The commands and subcommands of a category, as ACL CAT lists them.
pub fn category_commands(name: &[u8]) -> Option<Vec<&'static str>> {
    let flag = category_flag(name)?;
    let cat = catalog();
    let mut out = Vec::new();
    for &id in &cat.top {
        let e = &cat.entries[id as usize];
        if e.categories & flag != 0 {
            out.push(e.name);
        }
        for &sub in &e.subs {
            let s = &cat.entries[sub as usize];
            if s.categories & flag != 0 {
                out.push(s.name);
            }
        }
    }
    Some(out)
}

/// Redis's ACLStringHasSpaces: C whitespace or a NUL.
pub fn has_spaces(s: &[u8]) -> bool {
    s.iter()
        .any(|&c| matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c | 0))
}

/// Compares two password hashes without stopping at the first difference.
fn same_hash(a: &[u8; 64], b: &[u8; 64]) -> bool {
    let mut diff = 0u8;
    for (x, y) in a.iter().zip(b) {
        diff |= x ^ y;
    }
    diff == 0
}

// --- Errors ---------------------------------------------------------------

/// Why a rule could not be applied (Redis's errno values in ACLSetUser).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleError {
    /// ENOENT
    UnknownCommand,
    /// EINVAL
    Syntax,
    /// EEXIST
    KeyAfterAll,
    /// EISDIR
    ChannelAfterAll,
    /// ENODEV
    NoSuchPassword,
    /// EBADMSG
    BadHash,
    /// EALREADY
    Duplicate,
    /// ECHILD
    FirstArgOfSubcommand,
}

impl RuleError {
    /// Redis's ACLSetUserStringError.
    pub fn message(self) -> &'static str {
        match self {
            RuleError::UnknownCommand => "Unknown command or category name in ACL",
            RuleError::Syntax => "Syntax error",
            RuleError::KeyAfterAll => {
                "Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and does not have any effect. Try 'resetkeys' to start with an empty list of patterns"
            }
            RuleError::ChannelAfterAll => {
                "Adding a pattern after the * pattern (or the 'allchannels' flag) is not valid and does not have any effect. Try 'resetchannels' to start with an empty list of channels"
            }
            RuleError::NoSuchPassword => {
                "The password you are trying to remove from the user does not exist"
            }
            RuleError::BadHash => {
                "The password hash must be exactly 64 characters and contain only lowercase hexadecimal characters"
            }
            RuleError::Duplicate => {
                "Duplicate user found. A user can only be defined once in config files"
            }
            RuleError::FirstArgOfSubcommand => {
                "Allowing first-arg of a subcommand is not supported"
            }
        }
    }
}

/// Why a command was refused, with the argument at fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denied {
    Command,
    Key(usize),
    Channel(usize),
}

impl Denied {
    /// Redis's ACL_DENIED_* values, which order the errors of several
    /// selectors (the highest is reported).
    fn rank(self) -> u8 {
        match self {
            Denied::Command => 1,
            Denied::Key(_) => 2,
            Denied::Channel(_) => 4,
        }
    }

    fn pos(self) -> usize {
        match self {
            Denied::Command => 0,
            Denied::Key(p) | Denied::Channel(p) => p,
        }
    }
}

// --- Selectors ------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Eq)]
struct KeyPattern {
    perm: u8,
    pattern: Vec<u8>,
}

impl KeyPattern {
    fn describe(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(match self.perm {
            PERM_READ => b"%R~",
            PERM_WRITE => b"%W~",
            PERM_ALL => b"~",
            _ => b"%~",
        });
        out.extend_from_slice(&self.pattern);
    }
}

#[derive(Debug, Clone)]
struct Selector {
    root: bool,
    allkeys: bool,
    allchannels: bool,
    allcommands: bool,
    /// Redis's reserved last bit, set by `+@all`: the user can run
    /// commands added later (shown as a leading `+@all`).
    future: bool,
    bits: [u64; WORDS],
    /// Allowed first arguments of otherwise denied commands
    /// (`+select|0`), by command id, in the order added.
    firstargs: BTreeMap<u16, Vec<Vec<u8>>>,
    patterns: Vec<KeyPattern>,
    channels: Vec<Vec<u8>>,
}

impl Selector {
    fn new(root: bool, allchannels: bool) -> Selector {
        Selector {
            root,
            allkeys: false,
            allchannels,
            allcommands: false,
            future: false,
            bits: [0; WORDS],
            firstargs: BTreeMap::new(),
            patterns: Vec::new(),
            channels: Vec::new(),
        }
    }

    fn bit(&self, id: u16) -> bool {
        self.bits[id as usize / 64] & (1 << (id % 64)) != 0
    }

    fn set_bit(&mut self, id: u16, value: bool) {
        let word = &mut self.bits[id as usize / 64];
        if value {
            *word |= 1 << (id % 64);
        } else {
            *word &= !(1 << (id % 64));
            self.allcommands = false;
        }
    }

    /// Redis's ACLChangeSelectorPerm: a container takes its subcommands
    /// with it.
    fn change_perm(&mut self, id: u16, allow: bool) {
        self.set_bit(id, allow);
        self.firstargs.remove(&id);
        for &sub in &catalog().entries[id as usize].subs {
            self.set_bit(sub, allow);
        }
    }

    fn set_category(&mut self, flag: u32, allow: bool) {
        let cat = catalog();
        for (id, e) in cat.entries.iter().enumerate() {
            if e.categories & flag != 0 {
                self.change_perm(id as u16, allow);
            }
        }
    }

    fn count_category(&self, flag: u32) -> (u64, u64) {
        let (mut on, mut off) = (0, 0);
        for (id, e) in catalog().entries.iter().enumerate() {
            if e.categories & flag != 0 {
                if self.bit(id as u16) {
                    on += 1;
                } else {
                    off += 1;
                }
            }
        }
        (on, off)
    }

    fn allow_all(&mut self) {
        self.bits = [u64::MAX; WORDS];
        self.allcommands = true;
        self.future = true;
        self.firstargs.clear();
    }

    fn deny_all(&mut self) {
        self.bits = [0; WORDS];
        self.allcommands = false;
        self.future = false;
        self.firstargs.clear();
    }

    /// Applies one rule, as Redis's ACLSetSelector.
    fn apply(&mut self, op: &[u8]) -> Result<(), RuleError> {
        let is = |word: &str| op.eq_ignore_ascii_case(word.as_bytes());
        if is("allkeys") || op == b"~*" {
            self.allkeys = true;
            self.patterns.clear();
        } else if is("resetkeys") {
            self.allkeys = false;
            self.patterns.clear();
        } else if is("allchannels") || op == b"&*" {
            self.allchannels = true;
            self.channels.clear();
        } else if is("resetchannels") {
            self.allchannels = false;
            self.channels.clear();
        } else if is("allcommands") || is("+@all") {
            self.allow_all();
        } else if is("nocommands") || is("-@all") {
            self.deny_all();
        } else if op.first() == Some(&b'~') || op.first() == Some(&b'%') {
            if self.allkeys {
                return Err(RuleError::KeyAfterAll);
            }
            let mut perm = 0;
            let mut offset = 1;
            if op[0] == b'%' {
                while offset < op.len() {
                    let c = op[offset].to_ascii_uppercase();
                    if c == b'R' && perm & PERM_READ == 0 {
                        perm |= PERM_READ;
                    } else if c == b'W' && perm & PERM_WRITE == 0 {
                        perm |= PERM_WRITE;
                    } else if op[offset] == b'~' {
                        offset += 1;
                        break;
                    } else {
                        return Err(RuleError::Syntax);
                    }
                    offset += 1;
                }
            } else {
                perm = PERM_ALL;
            }
            let pattern = &op[offset..];
            if has_spaces(pattern) {
                return Err(RuleError::Syntax);
            }
            match self.patterns.iter_mut().find(|p| p.pattern == pattern) {
                Some(p) => p.perm |= perm,
                None => self.patterns.push(KeyPattern {
                    perm,
                    pattern: pattern.to_vec(),
                }),
            }
            self.allkeys = false;
        } else if op.first() == Some(&b'&') {
            if self.allchannels {
                return Err(RuleError::ChannelAfterAll);
            }
            let pattern = &op[1..];
            if has_spaces(pattern) {
                return Err(RuleError::Syntax);
            }
            if !self.channels.iter().any(|c| c == pattern) {
                self.channels.push(pattern.to_vec());
            }
            self.allchannels = false;
        } else if op.first() == Some(&b'+') && op.get(1) != Some(&b'@') {
            let name = &op[1..];
            match name.iter().rposition(|&c| c == b'|') {
                None => {
                    let id = lookup_command(name).ok_or(RuleError::UnknownCommand)?;
                    self.change_perm(id, true);
                }
                Some(bar) => {
                    let (base, sub) = (&name[..bar], &name[bar + 1..]);
                    let id = lookup_command(base).ok_or(RuleError::UnknownCommand)?;
                    let entry = &catalog().entries[id as usize];
                    if entry.is_sub {
                        return Err(RuleError::FirstArgOfSubcommand);
                    }
                    if sub.is_empty() {
                        return Err(RuleError::Syntax);
                    }
                    if !entry.subs.is_empty() {
                        let id = lookup_command(name).ok_or(RuleError::UnknownCommand)?;
                        self.change_perm(id, true);
                    } else {
                        let args = self.firstargs.entry(id).or_default();
                        if !args.iter().any(|a| a.eq_ignore_ascii_case(sub)) {
                            args.push(sub.to_vec());
                        }
                    }
                }
            }
        } else if op.first() == Some(&b'-') && op.get(1) != Some(&b'@') {
            let id = lookup_command(&op[1..]).ok_or(RuleError::UnknownCommand)?;
            self.change_perm(id, false);
        } else if matches!(op.first(), Some(b'+' | b'-')) && op.get(1) == Some(&b'@') {
            let flag = category_flag(&op[2..]).ok_or(RuleError::UnknownCommand)?;
            self.set_category(flag, op[0] == b'+');
        } else {
            return Err(RuleError::Syntax);
        }
        Ok(())
    }

    /// Whether the selector allows every command, key and channel.
    fn unrestricted(&self) -> bool {
        self.allcommands && self.allkeys && self.allchannels
    }

    fn check_key(&self, key: &[u8], flags: &[&str]) -> bool {
        if self.allkeys {
            return true;
        }
        let mut need = 0;
        for f in flags {
            match *f {
                "access" => need |= PERM_READ,
                "insert" | "delete" | "update" => need |= PERM_WRITE,
                _ => {}
            }
        }
        self.patterns
            .iter()
            .any(|p| p.perm & need == need && crate::glob::glob_match(&p.pattern, key, false))
    }

    /// Redis's ACLSelectorCheckCmd. `keys` caches the request's keys
    /// between selectors.
    fn check(
        &self,
        cmd: &Command,
        args: &[Bytes],
        keys: &mut Option<Vec<crate::cmd::keyspec::KeyArg>>,
    ) -> Result<(), Denied> {
        if !self.allcommands && !cmd.has(crate::cmd::flag::NO_AUTH) {
            let id = catalog()
                .by_descriptor
                .get(&(cmd as *const Command as usize))
                .copied();
            let allowed = id.is_some_and(|id| {
                self.bit(id)
                    || args.len() >= 2 && {
                        let idx = if cmd.name.contains('|') { 2 } else { 1 };
                        self.firstargs.get(&id).is_some_and(|firsts| {
                            args.get(idx)
                                .is_some_and(|a| firsts.iter().any(|f| f.eq_ignore_ascii_case(a)))
                        })
                    }
            });
            if !allowed {
                return Err(Denied::Command);
            }
        }
        if !self.allkeys {
            let keys = keys.get_or_insert_with(|| crate::cmd::keyspec::keys_with_flags(cmd, args));
            for k in keys.iter() {
                if !self.check_key(&args[k.pos], k.flags) {
                    return Err(Denied::Key(k.pos));
                }
            }
        }
        if !self.allchannels
            && let Some(spec) = channel_spec(cmd)
            && spec.checked
        {
            let end = match spec.count {
                Some(n) => (spec.start + n).min(args.len()),
                None => args.len(),
            };
            for (pos, channel) in args.iter().enumerate().take(end).skip(spec.start) {
                if !channel_in_list(&self.channels, channel, spec.pattern) {
                    return Err(Denied::Channel(pos));
                }
            }
        }
        Ok(())
    }

    /// Redis's ACLDescribeSelectorCommandRules: `+@all` or `-@all`, the
    /// categories that best fit the bitmap, then single commands.
    fn describe_commands(&self, out: &mut Vec<u8>) {
        let start = out.len();
        let mut fake = Selector::new(false, false);
        let additive = !self.future;
        if additive {
            out.extend_from_slice(b"-@all ");
            fake.deny_all();
        } else {
            out.extend_from_slice(b"+@all ");
            fake.allow_all();
        }
        let mut temp = Selector::new(false, false);
        temp.bits = self.bits;
        let mut applied = [false; CATEGORIES.len()];
        loop {
            let mut best = None;
            let (mut mindiff, mut maxsame) = (i32::MAX as u64, 0);
            for (j, &done) in applied.iter().enumerate() {
                if done {
                    continue;
                }
                let (on, off) = temp.count_category(1 << j);
                let (diff, same) = if additive { (off, on) } else { (on, off) };
                if same > diff && (diff < mindiff || (diff == mindiff && same > maxsame)) {
                    best = Some(j);
                    mindiff = diff;
                    maxsame = same;
                }
            }
            let Some(best) = best else { break };
            fake.set_category(1 << best, additive);
            temp.set_category(1 << best, !additive);
            out.extend_from_slice(if additive { b"+@" } else { b"-@" });
            out.extend_from_slice(CATEGORIES[best].as_bytes());
            out.push(b' ');
            applied[best] = true;
        }
        self.describe_single(&mut fake, out, &catalog().top);
        if out.len() > start {
            out.pop();
        }
    }

    fn describe_single(&self, fake: &mut Selector, out: &mut Vec<u8>, ids: &[u16]) {
        let cat = catalog();
        for &id in ids {
            let entry = &cat.entries[id as usize];
            let userbit = self.bit(id);
            if userbit != fake.bit(id) {
                out.push(if userbit { b'+' } else { b'-' });
                out.extend_from_slice(entry.name.as_bytes());
                out.push(b' ');
                fake.change_perm(id, userbit);
            }
            if !entry.subs.is_empty() {
                self.describe_single(fake, out, &entry.subs);
            }
            if !userbit && let Some(firsts) = self.firstargs.get(&id) {
                for f in firsts {
                    out.push(b'+');
                    out.extend_from_slice(entry.name.as_bytes());
                    out.push(b'|');
                    out.extend_from_slice(f);
                    out.push(b' ');
                }
            }
        }
    }

    fn describe_keys(&self, out: &mut Vec<u8>) {
        if self.allkeys {
            out.extend_from_slice(b"~*");
            return;
        }
        for (i, p) in self.patterns.iter().enumerate() {
            if i > 0 {
                out.push(b' ');
            }
            p.describe(out);
        }
    }

    fn describe_channels(&self, out: &mut Vec<u8>) {
        if self.allchannels {
            out.extend_from_slice(b"&*");
            return;
        }
        for (i, c) in self.channels.iter().enumerate() {
            if i > 0 {
                out.push(b' ');
            }
            out.push(b'&');
            out.extend_from_slice(c);
        }
    }

    /// Redis's ACLDescribeSelector, as ACL LIST shows it.
    fn describe(&self, out: &mut Vec<u8>) {
        if self.allkeys {
            out.extend_from_slice(b"~* ");
        } else {
            for p in &self.patterns {
                p.describe(out);
                out.push(b' ');
            }
        }
        if self.allchannels {
            out.extend_from_slice(b"&* ");
        } else {
            out.extend_from_slice(b"resetchannels ");
            for c in &self.channels {
                out.push(b'&');
                out.extend_from_slice(c);
                out.push(b' ');
            }
        }
        self.describe_commands(out);
    }
}

/// What GETUSER shows of a selector: its commands, keys and channels.
pub struct SelectorView {
    pub commands: Vec<u8>,
    pub keys: Vec<u8>,
    pub channels: Vec<u8>,
}

/// Which arguments of a Pub/Sub command are channels (Redis 7.0's
/// `commands_with_channels` in db.c): the commands have no channel key
/// specs in 7.0.
struct ChannelSpec {
    start: usize,
    /// `None`: every argument from `start` on.
    count: Option<usize>,
    /// Patterns (PSUBSCRIBE) are compared literally with the user's.
    pattern: bool,
    /// Publishing and subscribing are checked; unsubscribing is not.
    checked: bool,
}

fn channel_spec(cmd: &Command) -> Option<ChannelSpec> {
    let spec = |count, pattern, checked| {
        Some(ChannelSpec {
            start: 1,
            count,
            pattern,
            checked,
        })
    };
    match cmd.name {
        "subscribe" | "ssubscribe" => spec(None, false, true),
        "unsubscribe" | "sunsubscribe" => spec(None, false, false),
        "psubscribe" => spec(None, true, true),
        "punsubscribe" => spec(None, true, false),
        "publish" | "spublish" => spec(Some(1), false, true),
        _ => None,
    }
}

/// Redis's ACLCheckChannelAgainstList: a channel matches the patterns; a
/// pattern (PSUBSCRIBE) must equal one of them.
fn channel_in_list(list: &[Vec<u8>], channel: &[u8], is_pattern: bool) -> bool {
    list.iter().any(|p| {
        if is_pattern {
            crate::util::until_nul(p) == crate::util::until_nul(channel)
        } else {
            crate::glob::glob_match(p, channel, false)
        }
    })
}

// --- Users ----------------------------------------------------------------

/// `skip-sanitize-payload` / `sanitize-payload`, or neither yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Payload {
    Unset,
    Skip,
    Sanitize,
}

#[derive(Debug, Clone)]
pub struct User {
    pub name: Vec<u8>,
    enabled: bool,
    nopass: bool,
    sanitize: Payload,
    /// SHA-256 hex of each password, in the order added.
    passwords: Vec<[u8; 64]>,
    /// The root selector first.
    selectors: Vec<Selector>,
    /// Every command, key and channel is allowed (kept by `refresh`).
    unrestricted: bool,
}

impl User {
    fn new(name: &[u8], pubsub_all: bool) -> User {
        User {
            name: name.to_vec(),
            enabled: false,
            nopass: false,
            sanitize: Payload::Unset,
            passwords: Vec::new(),
            selectors: vec![Selector::new(true, pubsub_all)],
            unrestricted: false,
        }
    }

    /// Redis's ACLCreateDefaultUser.
    fn default_user(pubsub_all: bool) -> User {
        let mut u = User::new(b"default", pubsub_all);
        for op in ["+@all", "~*", "&*", "on", "nopass"] {
            let _ = u.apply(op.as_bytes(), pubsub_all);
        }
        u.refresh();
        u
    }

    fn refresh(&mut self) {
        self.unrestricted = self.selectors.iter().any(Selector::unrestricted);
    }

    pub fn is_unrestricted(&self) -> bool {
        self.unrestricted
    }

    pub fn is_enabled(&self) -> bool {
        self.enabled
    }

    pub fn is_nopass(&self) -> bool {
        self.nopass
    }

    /// Applies one rule, as Redis's ACLSetUser.
    fn apply(&mut self, op: &[u8], pubsub_all: bool) -> Result<(), RuleError> {
        if op.is_empty() {
            return Ok(());
        }
        let is = |word: &str| op.eq_ignore_ascii_case(word.as_bytes());
        if is("on") {
            self.enabled = true;
        } else if is("off") {
            self.enabled = false;
        } else if is("skip-sanitize-payload") {
            self.sanitize = Payload::Skip;
        } else if is("sanitize-payload") {
            self.sanitize = Payload::Sanitize;
        } else if is("nopass") {
            self.nopass = true;
            self.passwords.clear();
        } else if is("resetpass") {
            self.nopass = false;
            self.passwords.clear();
        } else if op[0] == b'>' || op[0] == b'#' {
            let hash = if op[0] == b'>' {
                sha256::sha256_hex(&op[1..])
            } else {
                parse_hash(&op[1..])?
            };
            if !self.passwords.contains(&hash) {
                self.passwords.push(hash);
            }
            self.nopass = false;
        } else if op[0] == b'<' || op[0] == b'!' {
            let hash = if op[0] == b'<' {
                sha256::sha256_hex(&op[1..])
            } else {
                parse_hash(&op[1..])?
            };
            let at = self
                .passwords
                .iter()
                .position(|p| *p == hash)
                .ok_or(RuleError::NoSuchPassword)?;
            self.passwords.remove(at);
        } else if op[0] == b'(' && op[op.len() - 1] == b')' {
            let mut selector = Selector::new(false, pubsub_all);
            let mut words = Vec::new();
            // Unbalanced quotes leave an empty selector, as in Redis.
            if crate::resp::parser::split_inline_args(&op[1..op.len() - 1], &mut words) {
                for w in &words {
                    selector.apply(w)?;
                }
            }
            self.selectors.push(selector);
        } else if is("clearselectors") {
            self.selectors.truncate(1);
        } else if is("reset") {
            for op in ["resetpass", "resetkeys", "resetchannels"] {
                let _ = self.apply(op.as_bytes(), pubsub_all);
            }
            if pubsub_all {
                let _ = self.apply(b"allchannels", pubsub_all);
            }
            for op in ["off", "sanitize-payload", "clearselectors", "-@all"] {
                let _ = self.apply(op.as_bytes(), pubsub_all);
            }
        } else {
            self.selectors[0].apply(op)?;
        }
        Ok(())
    }

    /// Redis's ACLCheckAllUserCommandPerm.
    pub fn check(&self, cmd: &Command, args: &[Bytes]) -> Result<(), Denied> {
        if self.unrestricted {
            return Ok(());
        }
        let mut keys = None;
        let mut worst = Denied::Command;
        for s in &self.selectors {
            match s.check(cmd, args, &mut keys) {
                Ok(()) => return Ok(()),
                Err(d) => {
                    if d.rank() > worst.rank()
                        || (d.rank() == worst.rank() && d.pos() > worst.pos())
                    {
                        worst = d;
                    }
                }
            }
        }
        Err(worst)
    }

    /// Whether some selector both allows the command and may read every
    /// key (Redis's ACLUserCheckCmdWithUnrestrictedKeyAccess with
    /// CMD_KEY_ACCESS): SORT's BY and GET read keys no argument names.
    pub fn may_read_any_key(&self, cmd: &Command, args: &[Bytes]) -> bool {
        let mut keys = None;
        self.selectors.iter().any(|s| {
            s.check(cmd, args, &mut keys).is_ok()
                && (s.allkeys
                    || s.patterns
                        .iter()
                        .any(|p| p.perm & PERM_READ == PERM_READ && p.pattern == b"*"))
        })
    }

    /// Whether some selector allows the channel (Redis's
    /// ACLUserCheckChannelPerm).
    pub fn channel_allowed(&self, channel: &[u8], is_pattern: bool) -> bool {
        self.selectors
            .iter()
            .any(|s| s.allchannels || channel_in_list(&s.channels, channel, is_pattern))
    }

    /// Redis's ACLDescribeUser, as ACL LIST shows it.
    pub fn describe(&self) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(if self.enabled { b"on " } else { b"off " });
        if self.nopass {
            out.extend_from_slice(b"nopass ");
        }
        match self.sanitize {
            Payload::Skip => out.extend_from_slice(b"skip-sanitize-payload "),
            Payload::Sanitize => out.extend_from_slice(b"sanitize-payload "),
            Payload::Unset => {}
        }
        for p in &self.passwords {
            out.push(b'#');
            out.extend_from_slice(p);
            out.push(b' ');
        }
        for s in &self.selectors {
            if s.root {
                s.describe(&mut out);
            } else {
                out.extend_from_slice(b" (");
                s.describe(&mut out);
                out.push(b')');
            }
        }
        out
    }

    /// The flags GETUSER lists.
    pub fn flags(&self) -> Vec<&'static str> {
        let mut f = vec![if self.enabled { "on" } else { "off" }];
        if self.nopass {
            f.push("nopass");
        }
        match self.sanitize {
            Payload::Skip => f.push("skip-sanitize-payload"),
            Payload::Sanitize => f.push("sanitize-payload"),
            Payload::Unset => {}
        }
        f
    }

    pub fn passwords(&self) -> impl Iterator<Item = &[u8]> {
        self.passwords.iter().map(|p| &p[..])
    }

    /// Each selector's commands, keys and channels, the root first.
    pub fn selector_views(&self) -> Vec<SelectorView> {
        self.selectors
            .iter()
            .map(|s| {
                let mut v = SelectorView {
                    commands: Vec::new(),
                    keys: Vec::new(),
                    channels: Vec::new(),
                };
                s.describe_commands(&mut v.commands);
                s.describe_keys(&mut v.keys);
                s.describe_channels(&mut v.channels);
                v
            })
            .collect()
    }

    /// Whether `password` is one of the user's (compared as hashes, each
    /// in full).
    fn password_matches(&self, password: &[u8]) -> bool {
        let hash = sha256::sha256_hex(password);
        let mut found = false;
        for p in &self.passwords {
            found |= same_hash(p, &hash);
        }
        found
    }
}

fn parse_hash(hash: &[u8]) -> Result<[u8; 64], RuleError> {
    if hash.len() != 64 || !hash.iter().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f')) {
        return Err(RuleError::BadHash);
    }
    let mut out = [0u8; 64];
    out.copy_from_slice(hash);
    Ok(out)
}

/// Redis's ACLMergeSelectorArguments: a selector spread over several
/// arguments (`(~a` `+get)`) becomes one. `Err` holds the index of an
/// unclosed selector's first argument.
pub fn merge_selector_args(args: &[Vec<u8>]) -> Result<Vec<Vec<u8>>, usize> {
    let mut out = Vec::with_capacity(args.len());
    let mut open: Option<(usize, Vec<u8>)> = None;
    for (j, op) in args.iter().enumerate() {
        if let Some((_, sel)) = &mut open {
            sel.push(b' ');
            sel.extend_from_slice(op);
            if op.last() == Some(&b')') {
                out.push(std::mem::take(sel));
                open = None;
            }
            continue;
        }
        if op.first() == Some(&b'(') && op.last() != Some(&b')') {
            open = Some((j, op.clone()));
            continue;
        }
        out.push(op.clone());
    }
    match open {
        Some((j, _)) => Err(j),
        None => Ok(out),
    }
}

// --- The log --------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    Command,
    Key,
    Channel,
    Auth,
}

impl Reason {
    pub fn name(self) -> &'static str {
        match self {
            Reason::Command => "command",
            Reason::Key => "key",
            Reason::Channel => "channel",
            Reason::Auth => "auth",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogContext {
    Toplevel,
    Multi,
    /// A script's `redis.call`.
    Lua,
}

impl LogContext {
    pub fn name(self) -> &'static str {
        match self {
            LogContext::Toplevel => "toplevel",
            LogContext::Multi => "multi",
            LogContext::Lua => "lua",
        }
    }
}

/// One ACL LOG entry.
#[derive(Debug, Clone)]
pub struct LogEntry {
    pub count: u64,
    pub reason: Reason,
    pub context: LogContext,
    pub object: Vec<u8>,
    pub username: Vec<u8>,
    pub ctime_ms: u64,
    pub client_info: String,
}

// --- The ACL state --------------------------------------------------------

/// The users, the log and the settings they depend on.
#[derive(Debug)]
pub struct Acl {
    users: Slab<User>,
    names: BTreeMap<Vec<u8>, UserId>,
    /// Newest first.
    pub log: VecDeque<LogEntry>,
    /// `acl-pubsub-default allchannels`: new users and selectors start
    /// with every channel.
    pub pubsub_all: bool,
}

impl Default for Acl {
    fn default() -> Acl {
        Acl::new(false)
    }
}

/// A request to check a user's Pub/Sub clients against its new channel
/// permissions (Redis's ACLKillPubsubClientsIfNeeded), from ACL SETUSER.
#[derive(Debug)]
pub struct RecheckPubsub {
    pub user: UserId,
    /// The channel patterns of every selector of the new rules.
    pub upcoming: Vec<Vec<u8>>,
}

impl RecheckPubsub {
    /// Whether a client of the user subscribed to `channel` (a pattern,
    /// for `is_pattern`) must be disconnected.
    pub fn denies(&self, channel: &[u8], is_pattern: bool) -> bool {
        !channel_in_list(&self.upcoming, channel, is_pattern)
    }
}

impl Acl {
    pub fn new(pubsub_all: bool) -> Acl {
        let mut acl = Acl {
            users: Slab::new(),
            names: BTreeMap::new(),
            log: VecDeque::new(),
            pubsub_all,
        };
        let id = acl.users.insert(User::default_user(pubsub_all));
        debug_assert_eq!(id, DEFAULT_USER);
        acl.names.insert(b"default".to_vec(), id);
        acl
    }

    /// The ACL state a server starts with: the default user's password
    /// from `requirepass`, then the config file's `user` lines or the ACL
    /// file (not both).
    pub fn at_startup(config: &crate::config::Config) -> Result<Acl, String> {
        let mut acl = Acl::new(config.get("acl-pubsub-default") == Some("allchannels"));
        acl.set_default_password(config.requirepass.as_deref());
        let aclfile = config.get("aclfile").unwrap_or("").to_string();
        if !aclfile.is_empty() && !config.acl_users.is_empty() {
            return Err("Configuring Redis with users defined in redis.conf and at the same setting an ACL file path is invalid. This setup is very likely to lead to configuration errors and security holes, please define either an ACL file or declare users directly in your redis.conf, but not both.".into());
        }
        let mut seen: Vec<&[u8]> = Vec::new();
        for line in &config.acl_users {
            let Some((name, rules)) = line.split_first() else {
                continue;
            };
            if seen.contains(&name.as_slice()) {
                return Err(format!(
                    "Error in user declaration '{}': {}",
                    String::from_utf8_lossy(name),
                    RuleError::Duplicate.message()
                ));
            }
            seen.push(name);
            if has_spaces(name) {
                return Err("Spaces not allowed in ACL usernames".into());
            }
            let rules = merge_selector_args(rules).map_err(|j| {
                format!(
                    "Error in user declaration '{}': Unmatched parenthesis in acl selector",
                    String::from_utf8_lossy(&rules[j])
                )
            })?;
            let id = match acl.names.get(name.as_slice()) {
                Some(&id) => {
                    let pubsub_all = acl.pubsub_all;
                    let _ = acl.users[id].apply(b"reset", pubsub_all);
                    id
                }
                None => acl.create(name),
            };
            let pubsub_all = acl.pubsub_all;
            for op in &rules {
                acl.users[id].apply(op, pubsub_all).map_err(|e| {
                    format!(
                        "Error loading ACL rule '{}' for the user named '{}': {}",
                        String::from_utf8_lossy(op),
                        String::from_utf8_lossy(name),
                        e.message()
                    )
                })?;
            }
            acl.users[id].refresh();
        }
        if !aclfile.is_empty() {
            acl.load_file(&aclfile)
                .map_err(|e| format!("Aborting Redis startup because of ACL errors: {e}"))?;
        }
        Ok(acl)
    }

    fn create(&mut self, name: &[u8]) -> UserId {
        let id = self.users.insert(User::new(name, self.pubsub_all));
        self.names.insert(name.to_vec(), id);
        id
    }

    pub fn user(&self, id: UserId) -> &User {
        // A client's user is removed only with the client re-pointed to the
        // default user, so the slot is always there.
        self.users.get(id).unwrap_or(&self.users[DEFAULT_USER])
    }

    pub fn find(&self, name: &[u8]) -> Option<UserId> {
        self.names.get(name).copied()
    }

    /// The default user has `nopass` (whatever else it has).
    pub fn default_user_nopass(&self) -> bool {
        self.users[DEFAULT_USER].nopass
    }

    /// A new connection is authenticated at once: the default user is on
    /// and has `nopass` (Redis's createClient).
    pub fn login_free(&self) -> bool {
        let d = &self.users[DEFAULT_USER];
        d.nopass && d.enabled
    }

    /// Redis's ACLCheckUserCredentials: the user, or `None`.
    pub fn check_credentials(&self, name: &[u8], password: &[u8]) -> Option<UserId> {
        let id = self.find(name)?;
        let u = &self.users[id];
        if !u.enabled {
            return None;
        }
        (u.nopass || u.password_matches(password)).then_some(id)
    }

    /// `requirepass`: the default user's only password, or `nopass`.
    pub fn set_default_password(&mut self, password: Option<&[u8]>) {
        let pubsub_all = self.pubsub_all;
        let u = &mut self.users[DEFAULT_USER];
        let _ = u.apply(b"resetpass", pubsub_all);
        match password {
            Some(p) => {
                let mut op = b">".to_vec();
                op.extend_from_slice(p);
                let _ = u.apply(&op, pubsub_all);
            }
            None => {
                let _ = u.apply(b"nopass", pubsub_all);
            }
        }
        u.refresh();
    }

    /// ACL SETUSER: applies every rule or none (Redis's ACLStringSetUser).
    /// Returns the Pub/Sub recheck its clients need, if the user existed.
    pub fn set_user(
        &mut self,
        name: &[u8],
        rules: &[Vec<u8>],
    ) -> Result<Option<RecheckPubsub>, Vec<u8>> {
        let rules = merge_selector_args(rules).map_err(|j| {
            let mut m = b"ERR Unmatched parenthesis in acl selector starting at '".to_vec();
            m.extend_from_slice(crate::util::until_nul(&rules[j]));
            m.extend_from_slice(b"'.");
            m
        })?;
        let existing = self.find(name);
        let mut temp = match existing {
            Some(id) => self.users[id].clone(),
            None => User::new(name, self.pubsub_all),
        };
        for op in &rules {
            if let Err(e) = temp.apply(op, self.pubsub_all) {
                let mut m = b"ERR Error in ACL SETUSER modifier '".to_vec();
                m.extend_from_slice(crate::util::until_nul(op));
                m.extend_from_slice(b"': ");
                m.extend_from_slice(e.message().as_bytes());
                return Err(m);
            }
        }
        temp.refresh();
        let recheck = existing.and_then(|id| self.pubsub_recheck(id, &temp));
        match existing {
            Some(id) => self.users[id] = temp,
            None => {
                let id = self.users.insert(temp);
                self.names.insert(name.to_vec(), id);
            }
        }
        Ok(recheck)
    }

    /// The first half of Redis's ACLKillPubsubClientsIfNeeded: nothing
    /// when the new rules allow every channel the old ones did.
    fn pubsub_recheck(&self, id: UserId, new: &User) -> Option<RecheckPubsub> {
        if new.selectors.iter().any(|s| s.allchannels) {
            return None;
        }
        let upcoming: Vec<Vec<u8>> = new
            .selectors
            .iter()
            .flat_map(|s| s.channels.iter().cloned())
            .collect();
        let original = &self.users[id];
        let superset = original
            .selectors
            .iter()
            .all(|s| !s.allchannels && s.channels.iter().all(|c| upcoming.contains(c)));
        (!superset).then_some(RecheckPubsub { user: id, upcoming })
    }

    /// ACL DELUSER of existing users: removes them, returning their slots
    /// (their clients must be disconnected).
    pub fn delete(&mut self, name: &[u8]) -> Option<UserId> {
        let id = self.names.remove(name)?;
        self.users.remove(id);
        Some(id)
    }

    /// Users by name, in name order.
    pub fn users(&self) -> impl Iterator<Item = &User> {
        self.names.values().map(|&id| &self.users[id])
    }

    /// ACL LIST's lines (and the ACL file's).
    pub fn list(&self) -> Vec<Vec<u8>> {
        self.users()
            .map(|u| {
                let mut line = b"user ".to_vec();
                line.extend_from_slice(&u.name);
                line.push(b' ');
                line.extend_from_slice(&u.describe());
                line
            })
            .collect()
    }

    /// ACL LOAD, as Redis's ACLLoadFromFile: every line or none. On
    /// success returns the slots of the users replaced (all but the
    /// default user, which is updated in place), whose clients must be
    /// disconnected.
    pub fn load_file(&mut self, path: &str) -> Result<Vec<UserId>, String> {
        let text = std::fs::read(path).map_err(|e| {
            format!(
                "Error loading ACLs, opening file '{path}': {}",
                os_error(&e)
            )
        })?;
        let mut errors = String::new();
        let mut loaded: BTreeMap<Vec<u8>, User> = BTreeMap::new();
        let pubsub_all = self.pubsub_all;
        for (i, line) in text.split(|&b| b == b'\n').enumerate() {
            let linenum = i + 1;
            let line = trim(line, b" \t\r\n");
            if line.is_empty() {
                continue;
            }
            let argv: Vec<Vec<u8>> = line.split(|&b| b == b' ').map(<[u8]>::to_vec).collect();
            if argv[0] != b"user" || argv.len() < 2 {
                errors.push_str(&format!(
                    "{path}:{linenum} should start with user keyword followed by the username. "
                ));
                continue;
            }
            if has_spaces(&argv[1]) {
                errors.push_str(&format!(
                    "'{path}:{linenum}: username '{}' contains invalid characters. ",
                    String::from_utf8_lossy(crate::util::until_nul(&argv[1]))
                ));
                continue;
            }
            if loaded.contains_key(&argv[1]) {
                errors.push_str(&format!(
                    "WARNING: Duplicate user '{}' found on line {linenum}. ",
                    String::from_utf8_lossy(&argv[1])
                ));
                continue;
            }
            let mut user = User::new(&argv[1], pubsub_all);
            let rules = match merge_selector_args(&argv[2..]) {
                Ok(r) => r,
                Err(_) => {
                    errors.push_str(&format!(
                        "{path}:{linenum}: Unmatched parenthesis in selector definition."
                    ));
                    Vec::new()
                }
            };
            let mut syntax_error = false;
            for op in &rules {
                let op = trim(op, b"\t\r\n");
                if let Err(e) = user.apply(op, pubsub_all) {
                    if e == RuleError::UnknownCommand {
                        errors.push_str(&format!(
                            "{path}:{linenum}: Error in applying operation '{}': {}. ",
                            String::from_utf8_lossy(crate::util::until_nul(op)),
                            e.message()
                        ));
                    } else if !syntax_error {
                        errors.push_str(&format!("{path}:{linenum}: {}. ", e.message()));
                        syntax_error = true;
                    }
                }
            }
            user.refresh();
            loaded.insert(argv[1].clone(), user);
        }
        if !errors.is_empty() {
            errors.push_str(
                "WARNING: ACL errors detected, no change to the previously active ACL rules was performed",
            );
            return Err(errors);
        }
        let new_default = loaded
            .remove(b"default".as_slice())
            .unwrap_or_else(|| User::default_user(pubsub_all));
        self.users[DEFAULT_USER] = new_default;
        let replaced: Vec<UserId> = self
            .names
            .values()
            .copied()
            .filter(|&id| id != DEFAULT_USER)
            .collect();
        for &id in &replaced {
            self.users.remove(id);
        }
        self.names.retain(|_, id| *id == DEFAULT_USER);
        for (name, user) in loaded {
            let id = self.users.insert(user);
            self.names.insert(name, id);
        }
        Ok(replaced)
    }

    /// ACL SAVE: the users, as ACL LIST shows them, to a temporary file
    /// that replaces `path` once written and synced.
    pub fn save_file(&self, path: &str) -> std::io::Result<()> {
        use std::io::Write;
        let mut text = Vec::new();
        for line in self.list() {
            text.extend_from_slice(&line);
            text.push(b'\n');
        }
        let tmp = format!(
            "{path}.tmp-{}-{}",
            std::process::id(),
            crate::store::unix_ms()
        );
        let result = (|| {
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(&text)?;
            f.sync_all()?;
            std::fs::rename(&tmp, path)?;
            if let Some(dir) = std::path::Path::new(path).parent() {
                let dir = if dir.as_os_str().is_empty() {
                    std::path::Path::new(".")
                } else {
                    dir
                };
                if let Ok(d) = std::fs::File::open(dir) {
                    let _ = d.sync_all();
                }
            }
            Ok(())
        })();
        if result.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        result
    }

    /// Redis's addACLLogEntry: a denial like one of the 10 newest (same
    /// reason, context, object and user, within a minute) updates it.
    pub fn log_denial(&mut self, entry: LogEntry, max_len: usize) {
        let found = self.log.iter().take(10).position(|e| {
            e.reason == entry.reason
                && e.context == entry.context
                && e.ctime_ms.abs_diff(entry.ctime_ms) <= LOG_GROUPING_MAX_DELTA_MS
                && e.object == entry.object
                && e.username == entry.username
        });
        match found {
            Some(i) => {
                if let Some(mut e) = self.log.remove(i) {
                    e.client_info = entry.client_info;
                    e.ctime_ms = entry.ctime_ms;
                    e.count += 1;
                    self.log.push_front(e);
                }
            }
            None => {
                self.log.push_front(entry);
                self.log.truncate(max_len);
            }
        }
    }
}

/// The message of an I/O error without Rust's "(os error N)".
fn os_error(e: &std::io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

fn trim<'a>(mut s: &'a [u8], chars: &[u8]) -> &'a [u8] {
    while let Some((first, rest)) = s.split_first()
        && chars.contains(first)
    {
        s = rest;
    }
    while let Some((last, rest)) = s.split_last()
        && chars.contains(last)
    {
        s = rest;
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn describe(rules: &[&str]) -> String {
        let mut acl = Acl::new(false);
        let rules: Vec<Vec<u8>> = rules.iter().map(|r| r.as_bytes().to_vec()).collect();
        acl.set_user(b"u", &rules).unwrap();
        let id = acl.find(b"u").unwrap();
        String::from_utf8(acl.user(id).describe()).unwrap()
    }

    #[test]
    fn new_user_and_default() {
        assert_eq!(describe(&[]), "off resetchannels -@all");
        let acl = Acl::new(false);
        assert_eq!(
            String::from_utf8(acl.user(DEFAULT_USER).describe()).unwrap(),
            "on nopass ~* &* +@all"
        );
        assert!(acl.user(DEFAULT_USER).is_unrestricted());
    }

    #[test]
    fn category_compaction() {
        assert_eq!(
            describe(&["+@all", "-@dangerous"]),
            "off resetchannels +@all -@dangerous"
        );
        assert_eq!(describe(&["+@read", "+@write"]).split(' ').count(), 5);
        assert_eq!(describe(&["+get"]), "off resetchannels -@all +get");
        assert_eq!(
            describe(&["+config|get", "+select|0"]),
            "off resetchannels -@all +config|get +select|0"
        );
    }

    #[test]
    fn rule_errors() {
        let mut acl = Acl::new(false);
        let err = |acl: &mut Acl, r: &str| {
            String::from_utf8(acl.set_user(b"u", &[r.as_bytes().to_vec()]).unwrap_err()).unwrap()
        };
        assert!(err(&mut acl, "+nosuch").ends_with("Unknown command or category name in ACL"));
        assert!(err(&mut acl, "bogus").ends_with("Syntax error"));
        assert!(err(&mut acl, "+config|get|x").ends_with("not supported"));
        assert!(err(&mut acl, "#abc").contains("64 characters"));
        assert!(err(&mut acl, "<nope").contains("does not exist"));
        assert!(err(&mut acl, "(~a").contains("Unmatched parenthesis"));
    }

    #[test]
    fn selectors_merge_across_arguments() {
        let args: Vec<Vec<u8>> = ["on", "(~a", "+get)", "(+set)"]
            .iter()
            .map(|s| s.as_bytes().to_vec())
            .collect();
        assert_eq!(
            merge_selector_args(&args).unwrap(),
            vec![b"on".to_vec(), b"(~a +get)".to_vec(), b"(+set)".to_vec()]
        );
    }
}
