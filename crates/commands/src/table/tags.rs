//! MiniRedis's own commands: the TAG family (tag-based invalidation).
//!
//! Not generated, and not Redis's: these specs are MiniRedis's design, written in the
//! shape of Redis's own (a container with subcommands, like OBJECT), so that COMMAND,
//! COMMAND DOCS, GETKEYS, cluster routing and the CLI's hints treat them like any other
//! command. Policy and facts are both ours here: the subcommands that must see every
//! key of a tag at once carry `flags::ALL_SHARDS` directly.
//!
//! | command | keys | does |
//! |---|---|---|
//! | `TAG ADD key tag [tag ...]` | key | attaches tags to an existing key |
//! | `TAG REMOVE key tag [tag ...]` | key | detaches tags |
//! | `TAG GET key` | key | the key's tags |
//! | `TAG KEYS tag` | every shard | the keys of a tag |
//! | `TAG SCAN tag cursor [MATCH pattern] [COUNT count]` | every shard | iterates them |
//! | `TAG COUNT tag` | every shard | how many keys carry a tag |
//! | `TAG LIST [pattern]` | every shard | the tags in use |
//! | `TAG INVALIDATE tag [tag ...]` | every shard | deletes every key of the tags, atomically |
//! | `TAG HELP` | | usage |

use super::ARG;
use crate::spec::{acl, flags, Arg, BeginSearch, CommandSpec, FindKeys, KeySpec};

/// The MiniRedis release that introduced the family (`since` in COMMAND DOCS).
const SINCE: &str = "0.1.0";

/// The group COMMAND DOCS reports for the family.
const GROUP: &str = "generic";

const KEY_RW: &[KeySpec] = &[KeySpec {
    notes: None,
    flags: &["RW", "update"],
    begin_search: BeginSearch::Index(2),
    find_keys: FindKeys::Range {
        lastkey: 0,
        step: 1,
        limit: 0,
    },
}];

const KEY_RO: &[KeySpec] = &[KeySpec {
    notes: None,
    flags: &["RO", "access"],
    begin_search: BeginSearch::Index(2),
    find_keys: FindKeys::Range {
        lastkey: 0,
        step: 1,
        limit: 0,
    },
}];

/// A subcommand with no keys and the defaults below.
const BASE: CommandSpec = CommandSpec {
    name: "",
    arity: 0,
    flags: 0,
    acl: 0,
    first_key: 0,
    last_key: 0,
    step: 0,
    key_specs: &[],
    tips: &[],
    key_finder: None,
    group: GROUP,
    since: SINCE,
    summary: "",
    complexity: "",
    doc_flags: &[],
    deprecated_since: None,
    replaced_by: None,
    history: &[],
    args: &[],
    handler: None,
};

/// The key-addressed subcommands' legacy key positions (the key is argv\[2\]).
const ONE_KEY: CommandSpec = CommandSpec {
    first_key: 2,
    last_key: 2,
    step: 1,
    ..BASE
};

/// Every spec of the family, the container first.
pub(super) static SPECS: &[CommandSpec] = &[
    CommandSpec {
        name: "tag",
        arity: -2,
        acl: acl::SLOW,
        summary: "Groups the subcommands that tag keys and invalidate keys by tag (a MiniRedis extension).",
        complexity: "Depends on subcommand.",
        ..BASE
    },
    CommandSpec {
        name: "tag|add",
        arity: -4,
        flags: flags::WRITE | flags::DENYOOM | flags::FAST,
        acl: acl::KEYSPACE | acl::WRITE | acl::FAST,
        key_specs: KEY_RW,
        summary: "Attaches tags to an existing key. Returns how many of the tags the key did not carry yet (0 if the key does not exist).",
        complexity: "O(N+M) where N is the number of tags given and M the number of tags the key carries.",
        args: &[
            Arg { name: "key", kind: "key", key_spec_index: Some(0), ..ARG },
            Arg { name: "tag", kind: "string", multiple: true, ..ARG },
        ],
        ..ONE_KEY
    },
    CommandSpec {
        name: "tag|remove",
        arity: -4,
        flags: flags::WRITE | flags::FAST,
        acl: acl::KEYSPACE | acl::WRITE | acl::FAST,
        key_specs: KEY_RW,
        summary: "Detaches tags from a key. Returns how many of the tags the key carried.",
        complexity: "O(N*M) where N is the number of tags given and M the number of tags the key carries.",
        args: &[
            Arg { name: "key", kind: "key", key_spec_index: Some(0), ..ARG },
            Arg { name: "tag", kind: "string", multiple: true, ..ARG },
        ],
        ..ONE_KEY
    },
    CommandSpec {
        name: "tag|get",
        arity: 3,
        flags: flags::READONLY | flags::FAST,
        acl: acl::KEYSPACE | acl::READ | acl::FAST,
        key_specs: KEY_RO,
        summary: "Returns the tags of a key, in the order they were attached (empty if the key does not exist).",
        complexity: "O(N) where N is the number of tags the key carries.",
        args: &[Arg { name: "key", kind: "key", key_spec_index: Some(0), ..ARG }],
        ..ONE_KEY
    },
    CommandSpec {
        name: "tag|keys",
        arity: 3,
        flags: flags::READONLY | flags::ALL_SHARDS,
        acl: acl::KEYSPACE | acl::READ | acl::SLOW,
        tips: &["nondeterministic_output_order"],
        summary: "Returns every key of the selected database that carries a tag.",
        complexity: "O(N) where N is the number of keys that carry the tag.",
        args: &[Arg { name: "tag", kind: "string", ..ARG }],
        ..BASE
    },
    CommandSpec {
        name: "tag|scan",
        arity: -4,
        flags: flags::READONLY | flags::ALL_SHARDS,
        acl: acl::KEYSPACE | acl::READ | acl::SLOW,
        tips: &["nondeterministic_output"],
        summary: "Iterates over the keys of the selected database that carry a tag.",
        complexity: "O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of keys that carry the tag.",
        args: &[
            Arg { name: "tag", kind: "string", ..ARG },
            Arg { name: "cursor", kind: "integer", ..ARG },
            Arg { name: "pattern", kind: "pattern", token: Some("MATCH"), optional: true, ..ARG },
            Arg { name: "count", kind: "integer", token: Some("COUNT"), optional: true, ..ARG },
        ],
        ..BASE
    },
    CommandSpec {
        name: "tag|count",
        arity: 3,
        flags: flags::READONLY | flags::ALL_SHARDS,
        acl: acl::KEYSPACE | acl::READ | acl::SLOW,
        summary: "Returns how many keys of the selected database carry a tag.",
        complexity: "O(N) where N is the number of keys that carry the tag.",
        args: &[Arg { name: "tag", kind: "string", ..ARG }],
        ..BASE
    },
    CommandSpec {
        name: "tag|list",
        arity: -2,
        flags: flags::READONLY | flags::ALL_SHARDS,
        acl: acl::KEYSPACE | acl::READ | acl::SLOW,
        summary: "Returns the tags carried by keys of the selected database, optionally only those matching a pattern.",
        complexity: "O(N) where N is the number of distinct tags.",
        args: &[Arg { name: "pattern", kind: "pattern", optional: true, ..ARG }],
        ..BASE
    },
    CommandSpec {
        name: "tag|invalidate",
        arity: -3,
        flags: flags::WRITE | flags::ALL_SHARDS,
        acl: acl::KEYSPACE | acl::WRITE | acl::SLOW,
        summary: "Deletes every key of the selected database that carries one of the tags, atomically. Returns the number of keys deleted.",
        complexity: "O(N) where N is the number of keys deleted, plus the work of deleting each.",
        args: &[Arg { name: "tag", kind: "string", multiple: true, ..ARG }],
        ..BASE
    },
    CommandSpec {
        name: "tag|help",
        arity: 2,
        flags: flags::LOADING | flags::STALE,
        acl: acl::KEYSPACE | acl::SLOW,
        summary: "Prints usage notes for the TAG subcommands.",
        complexity: "O(1)",
        ..BASE
    },
];
