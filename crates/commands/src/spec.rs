//! One spec per command: the command table is data.
//!
//! Dispatch reads a spec to run every generic check once (lookup, arity, auth, OOM for
//! `denyoom`) and to lock exactly the shards the command's keys live in; `COMMAND`
//! answers from the same data; so will ACL, cluster routing and the CLI's hints.

use crate::ctx::Ctx;

/// A command handler: parses its arguments, acts, writes its reply into `ctx.out`.
pub type Handler = fn(&mut Ctx<'_, '_>, &[&[u8]]);

/// Extracts key argument positions for commands whose keys depend on the arguments
/// (e.g. `numkeys`). Returns `None` when the arguments are malformed; the handler then
/// reports the error itself.
pub type KeyFinder = fn(&[&[u8]]) -> Option<Vec<usize>>;

/// Command flags as Redis reports them in `COMMAND INFO`.
pub mod flags {
    pub const WRITE: u64 = 1 << 0;
    pub const READONLY: u64 = 1 << 1;
    pub const DENYOOM: u64 = 1 << 2;
    pub const MODULE: u64 = 1 << 3;
    pub const ADMIN: u64 = 1 << 4;
    pub const PUBSUB: u64 = 1 << 5;
    pub const NOSCRIPT: u64 = 1 << 6;
    pub const BLOCKING: u64 = 1 << 7;
    pub const LOADING: u64 = 1 << 8;
    pub const STALE: u64 = 1 << 9;
    pub const SKIP_MONITOR: u64 = 1 << 10;
    pub const SKIP_SLOWLOG: u64 = 1 << 11;
    pub const ASKING: u64 = 1 << 12;
    pub const FAST: u64 = 1 << 13;
    pub const NO_AUTH: u64 = 1 << 14;
    pub const MAY_REPLICATE: u64 = 1 << 15;
    pub const SENTINEL: u64 = 1 << 16;
    pub const ONLY_SENTINEL: u64 = 1 << 17;
    pub const NO_MANDATORY_KEYS: u64 = 1 << 18;
    pub const PROTECTED: u64 = 1 << 19;
    pub const NO_ASYNC_LOADING: u64 = 1 << 20;
    pub const NO_MULTI: u64 = 1 << 21;
    pub const MOVABLE_KEYS: u64 = 1 << 22;
    pub const ALLOW_BUSY: u64 = 1 << 23;
    /// MiniRedis-internal, not reported: the command needs every shard of the
    /// keyspace locked (FLUSHDB, KEYS, SCAN, SWAPDB, DBSIZE, RANDOMKEY, ...).
    pub const ALL_SHARDS: u64 = 1 << 40;

    /// Names in the order Redis prints them.
    pub const NAMES: &[(u64, &str)] = &[
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
        (MAY_REPLICATE, "may_replicate"),
        (SENTINEL, "sentinel"),
        (ONLY_SENTINEL, "only_sentinel"),
        (NO_MANDATORY_KEYS, "no_mandatory_keys"),
        (PROTECTED, "protected"),
        (NO_ASYNC_LOADING, "no_async_loading"),
        (NO_MULTI, "no_multi"),
        (MOVABLE_KEYS, "movablekeys"),
        (ALLOW_BUSY, "allow_busy"),
    ];
}

/// ACL categories (`@read`, `@string`, ...).
pub mod acl {
    pub const KEYSPACE: u64 = 1 << 0;
    pub const READ: u64 = 1 << 1;
    pub const WRITE: u64 = 1 << 2;
    pub const SET: u64 = 1 << 3;
    pub const SORTEDSET: u64 = 1 << 4;
    pub const LIST: u64 = 1 << 5;
    pub const HASH: u64 = 1 << 6;
    pub const STRING: u64 = 1 << 7;
    pub const BITMAP: u64 = 1 << 8;
    pub const HYPERLOGLOG: u64 = 1 << 9;
    pub const GEO: u64 = 1 << 10;
    pub const STREAM: u64 = 1 << 11;
    pub const PUBSUB: u64 = 1 << 12;
    pub const ADMIN: u64 = 1 << 13;
    pub const FAST: u64 = 1 << 14;
    pub const SLOW: u64 = 1 << 15;
    pub const BLOCKING: u64 = 1 << 16;
    pub const DANGEROUS: u64 = 1 << 17;
    pub const CONNECTION: u64 = 1 << 18;
    pub const TRANSACTION: u64 = 1 << 19;
    pub const SCRIPTING: u64 = 1 << 20;

    pub const NAMES: &[(u64, &str)] = &[
        (KEYSPACE, "keyspace"),
        (READ, "read"),
        (WRITE, "write"),
        (SET, "set"),
        (SORTEDSET, "sortedset"),
        (LIST, "list"),
        (HASH, "hash"),
        (STRING, "string"),
        (BITMAP, "bitmap"),
        (HYPERLOGLOG, "hyperloglog"),
        (GEO, "geo"),
        (STREAM, "stream"),
        (PUBSUB, "pubsub"),
        (ADMIN, "admin"),
        (FAST, "fast"),
        (SLOW, "slow"),
        (BLOCKING, "blocking"),
        (DANGEROUS, "dangerous"),
        (CONNECTION, "connection"),
        (TRANSACTION, "transaction"),
        (SCRIPTING, "scripting"),
    ];
}

/// A key specification as `COMMAND INFO` reports it (Redis 7 key specs).
#[derive(Clone, Debug)]
pub struct KeySpec {
    /// Redis's free-text remark on the spec, reported as `notes` when present.
    pub notes: Option<&'static str>,
    /// Flags as Redis prints them: "RW", "RO", "OW", "RM", "access", "update",
    /// "insert", "delete", "not_key", "incomplete", "variable_flags".
    pub flags: &'static [&'static str],
    pub begin_search: BeginSearch,
    pub find_keys: FindKeys,
}

#[derive(Clone, Debug)]
pub enum BeginSearch {
    Index(i64),
    Keyword {
        keyword: &'static str,
        startfrom: i64,
    },
    /// The keys cannot be located from the spec alone (e.g. SORT's BY/GET patterns).
    Unknown,
}

#[derive(Clone, Debug)]
pub enum FindKeys {
    Range {
        lastkey: i64,
        step: i64,
        limit: i64,
    },
    Keynum {
        keynumidx: i64,
        firstkey: i64,
        step: i64,
    },
    Unknown,
}

/// Argument documentation for `COMMAND DOCS` (and the CLI's hints).
#[derive(Clone, Debug)]
pub struct Arg {
    pub name: &'static str,
    /// "string", "integer", "double", "key", "pattern", "unix-time", "pure-token",
    /// "oneof", "block".
    pub kind: &'static str,
    pub token: Option<&'static str>,
    pub optional: bool,
    pub multiple: bool,
    pub multiple_token: bool,
    pub key_spec_index: Option<usize>,
    pub since: Option<&'static str>,
    pub deprecated_since: Option<&'static str>,
    pub args: &'static [Arg],
}

/// Everything known about one command (or one subcommand, named `parent|sub`).
#[derive(Clone, Debug)]
pub struct CommandSpec {
    /// Lower-case name; subcommands as `config|get`.
    pub name: &'static str,
    /// Redis arity: positive = exact count including the name, negative = minimum.
    pub arity: i32,
    pub flags: u64,
    pub acl: u64,
    /// Legacy key positions (first, last, step) as in `COMMAND INFO`.
    pub first_key: i32,
    pub last_key: i32,
    pub step: i32,
    pub key_specs: &'static [KeySpec],
    /// Command tips (`nondeterministic_output`, `request_policy:all_shards`, ...),
    /// reported by `COMMAND INFO` for clients that route or merge replies.
    pub tips: &'static [&'static str],
    /// For commands whose keys depend on their arguments.
    pub key_finder: Option<KeyFinder>,
    pub group: &'static str,
    pub since: &'static str,
    pub summary: &'static str,
    pub complexity: &'static str,
    pub doc_flags: &'static [&'static str],
    pub deprecated_since: Option<&'static str>,
    pub replaced_by: Option<&'static str>,
    pub history: &'static [(&'static str, &'static str)],
    pub args: &'static [Arg],
    /// `None` for a container command whose subcommands do the work (e.g. `config`).
    pub handler: Option<Handler>,
}

impl CommandSpec {
    /// Whether `argc` (including the command name) satisfies the arity.
    pub fn arity_ok(&self, argc: usize) -> bool {
        let a = self.arity;
        (a >= 0 && argc == a as usize) || (a < 0 && argc >= (-a) as usize)
    }

    pub fn has(&self, flag: u64) -> bool {
        self.flags & flag != 0
    }

    /// For commands whose keys follow first/last/step (no key finder): the key
    /// positions for `argc` arguments as (first, last, step), or None when there are none.
    pub fn key_range(&self, argc: usize) -> Option<(usize, usize, usize)> {
        let argc = argc as i32;
        let last = if self.last_key < 0 {
            argc + self.last_key
        } else {
            self.last_key
        }
        .min(argc - 1);
        if self.first_key <= 0 || self.first_key > last {
            return None;
        }
        Some((
            self.first_key as usize,
            last as usize,
            self.step.max(1) as usize,
        ))
    }

    /// Positions of the key arguments in `argv` (argv\[0\] is the command name).
    pub fn key_positions(&self, argv: &[&[u8]]) -> Option<Vec<usize>> {
        if let Some(f) = self.key_finder {
            return f(argv);
        }
        Some(match self.key_range(argv.len()) {
            Some((first, last, step)) => (first..=last).step_by(step).collect(),
            None => Vec::new(),
        })
    }
}
