//! The types of the command table: one [`Command`] descriptor per command
//! (and per subcommand of container commands such as CONFIG and CLIENT).
//!
//! Dispatch, arity checks, `COMMAND`, `COMMAND INFO/COUNT/LIST/DOCS/GETKEYS`
//! and key extraction all read these descriptors; nothing else knows a
//! command's shape.

use bytes::Bytes;

use super::{CmdResult, Ctx};

/// A command handler. It writes its reply into `ctx.out` and returns
/// `Err` for an error reply.
pub type Handler = fn(&mut Ctx, &[Bytes]) -> CmdResult;

/// Command flags, as Redis 7.0 names them in `COMMAND INFO`.
pub mod flag {
    pub const WRITE: u32 = 1 << 0;
    pub const READONLY: u32 = 1 << 1;
    pub const DENYOOM: u32 = 1 << 2;
    pub const MODULE: u32 = 1 << 3;
    pub const ADMIN: u32 = 1 << 4;
    pub const PUBSUB: u32 = 1 << 5;
    pub const NOSCRIPT: u32 = 1 << 6;
    pub const BLOCKING: u32 = 1 << 7;
    pub const LOADING: u32 = 1 << 8;
    pub const STALE: u32 = 1 << 9;
    pub const SKIP_MONITOR: u32 = 1 << 10;
    pub const SKIP_SLOWLOG: u32 = 1 << 11;
    pub const ASKING: u32 = 1 << 12;
    pub const FAST: u32 = 1 << 13;
    pub const NO_AUTH: u32 = 1 << 14;
    pub const MAY_REPLICATE: u32 = 1 << 15;
    pub const SENTINEL: u32 = 1 << 16;
    pub const ONLY_SENTINEL: u32 = 1 << 17;
    pub const NO_MANDATORY_KEYS: u32 = 1 << 18;
    pub const PROTECTED: u32 = 1 << 19;
    pub const NO_ASYNC_LOADING: u32 = 1 << 20;
    pub const NO_MULTI: u32 = 1 << 21;
    pub const ALLOW_BUSY: u32 = 1 << 22;
    /// ferrokv's own, not shown by COMMAND INFO: the command runs at once
    /// between MULTI and EXEC instead of being queued.
    pub const RUNS_IN_MULTI: u32 = 1 << 31;
    /// ferrokv's own: a RESP2 client may run the command while subscribed
    /// (the pub/sub commands, PING, QUIT, RESET).
    pub const SUBSCRIBED_OK: u32 = 1 << 30;
    /// Redis's CMD_TOUCHES_ARBITRARY_KEYS, which COMMAND INFO hides: the
    /// command may expire keys it was not given (SCAN, RANDOMKEY), and the
    /// DELs that follows are propagated alone, not as a transaction.
    pub const TOUCHES_ARBITRARY_KEYS: u32 = 1 << 29;

    /// Names in the order Redis 7.0 lists them in `COMMAND INFO`.
    pub const NAMES: &[(u32, &str)] = &[
        (WRITE, "write"),
        (READONLY, "readonly"),
        (DENYOOM, "denyoom"),
        (MODULE, "module"),
        (ADMIN, "admin"),
        (PUBSUB, "pubsub"),
        (NOSCRIPT, "noscript"),
        (BLOCKING, "blocking"),
        (LOADING, "loading"),
        (STALE, "stale"),
        (SKIP_MONITOR, "skip_monitor"),
        (SKIP_SLOWLOG, "skip_slowlog"),
        (ASKING, "asking"),
        (FAST, "fast"),
        (NO_AUTH, "no_auth"),
        // MAY_REPLICATE is hidden on purpose, as in Redis 7.0.
        (NO_MANDATORY_KEYS, "no_mandatory_keys"),
        (NO_ASYNC_LOADING, "no_async_loading"),
        (NO_MULTI, "no_multi"),
        (ALLOW_BUSY, "allow_busy"),
    ];
}

/// Where the search for a key spec's keys begins.
#[derive(Debug, Clone, Copy)]
pub enum BeginSearch {
    /// At a fixed argument index.
    Index(i32),
    /// After the first (or, with a negative `start_from`, last) occurrence
    /// of a keyword.
    Keyword {
        keyword: &'static str,
        start_from: i32,
    },
    Unknown,
}

/// How keys are found once the search has begun.
#[derive(Debug, Clone, Copy)]
pub enum FindKeys {
    /// `last_key` relative to the first key (-1 means the last argument),
    /// every `key_step` arguments; `limit` divides the remaining count.
    Range {
        last_key: i32,
        key_step: i32,
        limit: i32,
    },
    /// The number of keys is in an argument.
    Keynum {
        keynum_idx: i32,
        first_key: i32,
        key_step: i32,
    },
    Unknown,
}

#[derive(Debug, Clone, Copy)]
pub struct KeySpec {
    /// Key-spec flags as Redis names them: `RW`, `RO`, `OW`, `RM`, `ACCESS`,
    /// `UPDATE`, `INSERT`, `DELETE`, `NOT_KEY`, `INCOMPLETE`,
    /// `VARIABLE_FLAGS`.
    pub flags: &'static [&'static str],
    pub notes: Option<&'static str>,
    pub begin_search: BeginSearch,
    pub find_keys: FindKeys,
}

/// One argument in `COMMAND DOCS`.
#[derive(Debug, Clone, Copy)]
pub struct Arg {
    pub name: &'static str,
    /// `string`, `integer`, `double`, `key`, `pattern`, `unix-time`,
    /// `pure-token`, `oneof` or `block`.
    pub kind: &'static str,
    pub display_text: Option<&'static str>,
    /// For `key` arguments, the index of their key spec.
    pub key_spec_index: Option<i32>,
    pub token: Option<&'static str>,
    pub summary: Option<&'static str>,
    pub since: Option<&'static str>,
    /// `optional`, `multiple`, `multiple_token`.
    pub flags: &'static [&'static str],
    pub deprecated_since: Option<&'static str>,
    /// For `oneof` and `block`: the nested arguments.
    pub arguments: &'static [Arg],
}

impl Arg {
    /// Every optional field empty, for struct-update syntax (`..Arg::EMPTY`).
    pub const EMPTY: Arg = Arg {
        name: "",
        kind: "",
        display_text: None,
        key_spec_index: None,
        token: None,
        summary: None,
        since: None,
        flags: &[],
        deprecated_since: None,
        arguments: &[],
    };
}

/// The `COMMAND DOCS` part of a command.
#[derive(Debug, Clone, Copy)]
pub struct Docs {
    pub summary: &'static str,
    pub since: &'static str,
    pub group: &'static str,
    pub complexity: Option<&'static str>,
    /// `deprecated`, `syscmd`.
    pub doc_flags: &'static [&'static str],
    pub deprecated_since: Option<&'static str>,
    pub replaced_by: Option<&'static str>,
    /// `(version, description)` pairs.
    pub history: &'static [(&'static str, &'static str)],
    pub arguments: &'static [Arg],
}

impl Docs {
    /// Every field empty, for struct-update syntax (`..Docs::EMPTY`).
    pub const EMPTY: Docs = Docs {
        summary: "",
        since: "",
        group: "",
        complexity: None,
        doc_flags: &[],
        deprecated_since: None,
        replaced_by: None,
        history: &[],
        arguments: &[],
    };
}

/// One command or subcommand.
#[derive(Debug)]
pub struct Command {
    /// Lower case; a subcommand is `container|sub` (`config|get`).
    pub name: &'static str,
    /// Redis's convention: N means exactly N arguments including the name,
    /// -N means at least N.
    pub arity: i32,
    pub flags: u32,
    /// Legacy key positions (1-based; 0 for none).
    pub first_key: i32,
    pub last_key: i32,
    pub key_step: i32,
    /// ACL categories without the `@`, in Redis's order.
    pub acl_categories: &'static [&'static str],
    /// Command tips (`nondeterministic_output`, `request_policy:...`).
    pub tips: &'static [&'static str],
    pub key_specs: &'static [KeySpec],
    pub docs: Docs,
    /// `None` for containers, which dispatch on their subcommand.
    pub handler: Option<Handler>,
    pub subcommands: &'static [Command],
}

impl Command {
    pub fn has(&self, f: u32) -> bool {
        self.flags & f != 0
    }

    /// The name as shown to users: `config|get` becomes `CONFIG GET`-style
    /// parts, used in error messages.
    pub fn container_name(&self) -> &'static str {
        self.name.split('|').next().unwrap_or(self.name)
    }

    /// True if a key spec makes the key positions depend on the arguments
    /// (Redis's `movablekeys`).
    pub fn movable_keys(&self) -> bool {
        self.key_specs.iter().any(|ks| {
            !matches!(ks.begin_search, BeginSearch::Index(_))
                || !matches!(ks.find_keys, FindKeys::Range { .. })
        })
    }
}
