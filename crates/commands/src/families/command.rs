//! The COMMAND family: COMMAND, COMMAND COUNT, LIST, INFO, DOCS, GETKEYS,
//! GETKEYSANDFLAGS and HELP.
//!
//! Everything is answered from the command table ([`crate::table`]) and reports only
//! the commands this server serves (the registry). Replies are shaped exactly as Redis
//! 7.0 shapes them, RESP2 and RESP3 alike: which parts are sets, maps or arrays, which
//! strings are simple and which bulk. The reply builders work on any [`CommandSet`], so
//! the tests can run them over the whole generated table and compare with a snapshot
//! of a real Redis 7.0.

use resp::ReplyWriter;

use crate::ctx::Ctx;
use crate::errors;
use crate::families::util::glob_match;
use crate::registry::{registry, Registry};
use crate::spec::{acl, flags, Arg, BeginSearch, CommandSpec, FindKeys, Handler, KeySpec};

/// (spec name, handler) for every command this family serves.
pub fn handlers() -> Vec<(&'static str, Handler)> {
    vec![
        ("command", command),
        ("command|count", count),
        ("command|list", list),
        ("command|info", info),
        ("command|docs", docs),
        ("command|getkeys", getkeys),
        ("command|getkeysandflags", getkeysandflags),
        ("command|help", help),
    ]
}

/// The view of the command table the replies are built from.
pub(crate) trait CommandSet {
    /// Top-level commands (containers included), in table order.
    fn tops(&self) -> Vec<&CommandSpec>;
    /// The subcommands of a container; empty for other commands.
    fn subs_of(&self, parent: &CommandSpec) -> Vec<&CommandSpec>;
    /// A top-level command by name, case-insensitively.
    fn find(&self, name: &[u8]) -> Option<&CommandSpec>;
    /// A subcommand of `parent` by its own name (`get` for `config|get`).
    fn find_sub(&self, parent: &CommandSpec, name: &[u8]) -> Option<&CommandSpec>;
}

impl CommandSet for Registry {
    fn tops(&self) -> Vec<&CommandSpec> {
        self.top_level().map(|(_, s)| s).collect()
    }

    fn subs_of(&self, parent: &CommandSpec) -> Vec<&CommandSpec> {
        match self.lookup(parent.name.as_bytes()) {
            Some(id) => self.subcommands(id).iter().map(|&i| self.spec(i)).collect(),
            None => Vec::new(),
        }
    }

    fn find(&self, name: &[u8]) -> Option<&CommandSpec> {
        // The registry also indexes `parent|sub`; only plain names are top-level.
        if name.contains(&b'|') {
            return None;
        }
        self.lookup(name).map(|id| self.spec(id))
    }

    fn find_sub(&self, parent: &CommandSpec, name: &[u8]) -> Option<&CommandSpec> {
        let pid = self.lookup(parent.name.as_bytes())?;
        self.lookup_sub(pid, name).map(|id| self.spec(id))
    }
}

/// Looks up `name` or `container|sub`, as COMMAND INFO and COMMAND DOCS name commands.
fn find_full<'a>(set: &'a impl CommandSet, name: &[u8]) -> Option<&'a CommandSpec> {
    let mut parts = name.split(|&c| c == b'|');
    let first = parts.next()?;
    let cmd = set.find(first)?;
    match (parts.next(), parts.next()) {
        (None, _) => Some(cmd),
        (Some(sub), None) => set.find_sub(cmd, sub),
        _ => None,
    }
}

/// Looks up the command an argv runs, as Redis does before executing it: the first
/// argument of a container names its subcommand.
fn find_argv<'a>(set: &'a impl CommandSet, argv: &[&[u8]]) -> Option<&'a CommandSpec> {
    let cmd = set.find(argv.first()?)?;
    match argv.get(1) {
        Some(sub) if !set.subs_of(cmd).is_empty() => set.find_sub(cmd, sub),
        _ => Some(cmd),
    }
}

// ---------------------------------------------------------------------------------
// Handlers.

fn command(ctx: &mut Ctx<'_, '_>, _argv: &[&[u8]]) {
    write_all_info(ctx.out, registry());
}

fn count(ctx: &mut Ctx<'_, '_>, _argv: &[&[u8]]) {
    ctx.out.int(registry().tops().len() as i64);
}

fn list(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]]) {
    if let Err(e) = list_reply(ctx.out, registry(), argv) {
        ctx.error(e);
    }
}

fn info(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]]) {
    info_reply(ctx.out, registry(), argv);
}

fn docs(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]]) {
    docs_reply(ctx.out, registry(), argv);
}

fn getkeys(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]]) {
    let target = argv.get(2..).unwrap_or_default();
    if let Err(e) = getkeys_reply(ctx.out, registry(), target, false) {
        ctx.error(e);
    }
}

fn getkeysandflags(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]]) {
    let target = argv.get(2..).unwrap_or_default();
    if let Err(e) = getkeys_reply(ctx.out, registry(), target, true) {
        ctx.error(e);
    }
}

/// COMMAND HELP: Redis's layout (a header, one syntax line per subcommand followed by
/// indented text, the HELP entry last), in our own words.
pub(crate) const HELP: &[&str] = &[
    "COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "(no subcommand)",
    "    Describe every command the server serves.",
    "COUNT",
    "    Tell how many commands the server serves.",
    "LIST",
    "    List the names of the commands the server serves, optionally filtered",
    "    by module, ACL category or glob pattern.",
    "INFO [<command-name> ...]",
    "    Describe the named commands: arity, flags, key positions, ACL categories,",
    "    tips, key specs and subcommands.",
    "    Without names, every command is described.",
    "DOCS [<command-name> ...]",
    "    Return the documentation of the named commands.",
    "    Without names, every command's documentation is returned.",
    "GETKEYS <full-command>",
    "    Extract the key names from a complete command line.",
    "GETKEYSANDFLAGS <full-command>",
    "    Extract the key names and how each one is accessed from a complete command line.",
    "HELP",
    "    Print this help.",
];

fn help(ctx: &mut Ctx<'_, '_>, _argv: &[&[u8]]) {
    ctx.out.array(HELP.len());
    for line in HELP {
        ctx.out.simple(line);
    }
}

// ---------------------------------------------------------------------------------
// COMMAND LIST.

enum Filter<'a> {
    None,
    Module,
    AclCat(Option<u64>),
    Pattern(&'a [u8]),
}

/// COMMAND LIST [FILTERBY MODULE name | ACLCAT category | PATTERN pattern].
pub(crate) fn list_reply(
    out: &mut ReplyWriter,
    set: &impl CommandSet,
    argv: &[&[u8]],
) -> Result<(), &'static str> {
    let mut filter = Filter::None;
    let mut i = 2;
    while i < argv.len() {
        // Like Redis, FILTERBY must be followed by exactly a type and a value, so a
        // second FILTERBY is a syntax error.
        if !argv[i].eq_ignore_ascii_case(b"filterby") || argv.len() - 1 - i != 2 {
            return Err(errors::SYNTAX);
        }
        let (kind, value) = (argv[i + 1], argv[i + 2]);
        filter = if kind.eq_ignore_ascii_case(b"module") {
            Filter::Module
        } else if kind.eq_ignore_ascii_case(b"aclcat") {
            Filter::AclCat(
                acl::NAMES
                    .iter()
                    .find(|(_, n)| value.eq_ignore_ascii_case(n.as_bytes()))
                    .map(|(bit, _)| *bit),
            )
        } else if kind.eq_ignore_ascii_case(b"pattern") {
            Filter::Pattern(value)
        } else {
            return Err(errors::SYNTAX);
        };
        i += 3;
    }
    let keep = |s: &CommandSpec| match filter {
        Filter::None => true,
        // MiniRedis loads no modules, so no command belongs to one.
        Filter::Module => false,
        Filter::AclCat(cat) => cat.is_some_and(|c| s.acl & c != 0),
        Filter::Pattern(p) => glob_match(p, s.name.as_bytes(), true),
    };
    let mut names = Vec::new();
    for top in set.tops() {
        if keep(top) {
            names.push(top.name);
        }
        names.extend(
            set.subs_of(top)
                .into_iter()
                .filter(|s| keep(s))
                .map(|s| s.name),
        );
    }
    out.array(names.len());
    for n in names {
        out.bulk_str(n);
    }
    Ok(())
}

// ---------------------------------------------------------------------------------
// COMMAND INFO.

/// Flags Redis keeps internal: never printed even when set.
const HIDDEN_FLAGS: u64 =
    flags::MAY_REPLICATE | flags::SENTINEL | flags::ONLY_SENTINEL | flags::PROTECTED;

/// COMMAND INFO [name ...]: every command without names, else one entry per name
/// (null for an unknown one).
pub(crate) fn info_reply(out: &mut ReplyWriter, set: &impl CommandSet, argv: &[&[u8]]) {
    if argv.len() <= 2 {
        write_all_info(out, set);
        return;
    }
    out.array(argv.len() - 2);
    for name in &argv[2..] {
        match find_full(set, name) {
            Some(spec) => write_info(out, set, spec),
            None => out.null(),
        }
    }
}

fn write_all_info(out: &mut ReplyWriter, set: &impl CommandSet) {
    let tops = set.tops();
    out.array(tops.len());
    for spec in tops {
        write_info(out, set, spec);
    }
}

/// One command's 10-element COMMAND INFO entry.
pub(crate) fn write_info(out: &mut ReplyWriter, set: &impl CommandSet, spec: &CommandSpec) {
    out.array(10);
    out.bulk_str(spec.name);
    out.int(spec.arity.into());
    let shown: Vec<&str> = flags::NAMES
        .iter()
        .filter(|(bit, _)| spec.flags & bit & !HIDDEN_FLAGS != 0)
        .map(|(_, n)| *n)
        .collect();
    write_simple_set(out, &shown);
    out.int(spec.first_key.into());
    out.int(spec.last_key.into());
    out.int(spec.step.into());
    let cats: Vec<&str> = acl::NAMES
        .iter()
        .filter(|(bit, _)| spec.acl & bit != 0)
        .map(|(_, n)| *n)
        .collect();
    out.set(cats.len());
    for c in cats {
        let mut s = String::with_capacity(c.len() + 1);
        s.push('@');
        s.push_str(c);
        out.simple(&s);
    }
    out.set(spec.tips.len());
    for t in spec.tips {
        out.bulk_str(t);
    }
    out.set(spec.key_specs.len());
    for ks in spec.key_specs {
        write_key_spec(out, ks);
    }
    let subs = set.subs_of(spec);
    if subs.is_empty() {
        // Redis sends an empty set when a command has no subcommand table at all, but
        // an array when it has one.
        out.set(0);
    } else {
        out.array(subs.len());
        for s in subs {
            write_info(out, set, s);
        }
    }
}

fn write_simple_set(out: &mut ReplyWriter, items: &[&str]) {
    out.set(items.len());
    for i in items {
        out.simple(i);
    }
}

fn write_key_spec(out: &mut ReplyWriter, ks: &KeySpec) {
    out.map(if ks.notes.is_some() { 4 } else { 3 });
    if let Some(notes) = ks.notes {
        out.bulk_str("notes");
        out.bulk_str(notes);
    }
    out.bulk_str("flags");
    write_simple_set(out, ks.flags);
    out.bulk_str("begin_search");
    out.map(2);
    out.bulk_str("type");
    match ks.begin_search {
        BeginSearch::Index(index) => {
            out.bulk_str("index");
            out.bulk_str("spec");
            out.map(1);
            out.bulk_str("index");
            out.int(index);
        }
        BeginSearch::Keyword { keyword, startfrom } => {
            out.bulk_str("keyword");
            out.bulk_str("spec");
            out.map(2);
            out.bulk_str("keyword");
            out.bulk_str(keyword);
            out.bulk_str("startfrom");
            out.int(startfrom);
        }
        BeginSearch::Unknown => {
            out.bulk_str("unknown");
            out.bulk_str("spec");
            out.map(0);
        }
    }
    out.bulk_str("find_keys");
    out.map(2);
    out.bulk_str("type");
    match ks.find_keys {
        FindKeys::Range {
            lastkey,
            step,
            limit,
        } => {
            out.bulk_str("range");
            out.bulk_str("spec");
            out.map(3);
            out.bulk_str("lastkey");
            out.int(lastkey);
            out.bulk_str("keystep");
            out.int(step);
            out.bulk_str("limit");
            out.int(limit);
        }
        FindKeys::Keynum {
            keynumidx,
            firstkey,
            step,
        } => {
            out.bulk_str("keynum");
            out.bulk_str("spec");
            out.map(3);
            out.bulk_str("keynumidx");
            out.int(keynumidx);
            out.bulk_str("firstkey");
            out.int(firstkey);
            out.bulk_str("keystep");
            out.int(step);
        }
        FindKeys::Unknown => {
            out.bulk_str("unknown");
            out.bulk_str("spec");
            out.map(0);
        }
    }
}

// ---------------------------------------------------------------------------------
// COMMAND DOCS.

/// COMMAND DOCS [name ...]: a map from full command name to its docs; unknown names
/// are left out.
pub(crate) fn docs_reply(out: &mut ReplyWriter, set: &impl CommandSet, argv: &[&[u8]]) {
    let specs: Vec<&CommandSpec> = if argv.len() <= 2 {
        set.tops()
    } else {
        argv[2..].iter().filter_map(|n| find_full(set, n)).collect()
    };
    out.map(specs.len());
    for spec in specs {
        out.bulk_str(spec.name);
        write_docs(out, set, spec);
    }
}

/// One command's COMMAND DOCS map; optional fields appear only when set.
pub(crate) fn write_docs(out: &mut ReplyWriter, set: &impl CommandSet, spec: &CommandSpec) {
    let subs = set.subs_of(spec);
    let fields = 3
        + usize::from(!spec.complexity.is_empty())
        + usize::from(!spec.doc_flags.is_empty())
        + usize::from(spec.deprecated_since.is_some())
        + usize::from(spec.replaced_by.is_some())
        + usize::from(!spec.history.is_empty())
        + usize::from(!spec.args.is_empty())
        + usize::from(!subs.is_empty());
    out.map(fields);
    out.bulk_str("summary");
    out.bulk_str(spec.summary);
    out.bulk_str("since");
    out.bulk_str(spec.since);
    out.bulk_str("group");
    out.bulk_str(spec.group);
    if !spec.complexity.is_empty() {
        out.bulk_str("complexity");
        out.bulk_str(spec.complexity);
    }
    if !spec.doc_flags.is_empty() {
        out.bulk_str("doc_flags");
        write_simple_set(out, spec.doc_flags);
    }
    if let Some(v) = spec.deprecated_since {
        out.bulk_str("deprecated_since");
        out.bulk_str(v);
    }
    if let Some(v) = spec.replaced_by {
        out.bulk_str("replaced_by");
        out.bulk_str(v);
    }
    if !spec.history.is_empty() {
        out.bulk_str("history");
        out.set(spec.history.len());
        for (version, change) in spec.history {
            out.array(2);
            out.bulk_str(version);
            out.bulk_str(change);
        }
    }
    if !spec.args.is_empty() {
        out.bulk_str("arguments");
        write_args(out, spec.args);
    }
    if !subs.is_empty() {
        out.bulk_str("subcommands");
        out.map(subs.len());
        for s in subs {
            out.bulk_str(s.name);
            write_docs(out, set, s);
        }
    }
}

fn write_args(out: &mut ReplyWriter, args: &[Arg]) {
    out.array(args.len());
    for a in args {
        let arg_flags: Vec<&str> = [
            (a.optional, "optional"),
            (a.multiple, "multiple"),
            (a.multiple_token, "multiple_token"),
        ]
        .iter()
        .filter(|(on, _)| *on)
        .map(|(_, n)| *n)
        .collect();
        let fields = 2
            + usize::from(a.key_spec_index.is_some())
            + usize::from(a.token.is_some())
            + usize::from(a.since.is_some())
            + usize::from(a.deprecated_since.is_some())
            + usize::from(!arg_flags.is_empty())
            + usize::from(!a.args.is_empty());
        out.map(fields);
        out.bulk_str("name");
        out.bulk_str(a.name);
        out.bulk_str("type");
        out.bulk_str(a.kind);
        if let Some(i) = a.key_spec_index {
            out.bulk_str("key_spec_index");
            out.int(i as i64);
        }
        if let Some(t) = a.token {
            out.bulk_str("token");
            out.bulk_str(t);
        }
        if let Some(v) = a.since {
            out.bulk_str("since");
            out.bulk_str(v);
        }
        if let Some(v) = a.deprecated_since {
            out.bulk_str("deprecated_since");
            out.bulk_str(v);
        }
        if !arg_flags.is_empty() {
            out.bulk_str("flags");
            write_simple_set(out, &arg_flags);
        }
        if !a.args.is_empty() {
            out.bulk_str("arguments");
            write_args(out, a.args);
        }
    }
}

// ---------------------------------------------------------------------------------
// COMMAND GETKEYS / GETKEYSANDFLAGS.

type KeyFlags = &'static [&'static str];

const RO_ACCESS: KeyFlags = &["RO", "access"];
const RW_ACCESS_UPDATE: KeyFlags = &["RW", "access", "update"];
const OW_UPDATE: KeyFlags = &["OW", "update"];

/// COMMAND GETKEYS / GETKEYSANDFLAGS for the command line `target`.
pub(crate) fn getkeys_reply(
    out: &mut ReplyWriter,
    set: &impl CommandSet,
    target: &[&[u8]],
    with_flags: bool,
) -> Result<(), &'static str> {
    let spec = find_argv(set, target).ok_or(errors::GETKEYS_INVALID_COMMAND)?;
    if !spec.key_specs.iter().any(|k| !k.flags.contains(&"not_key")) {
        return Err(errors::GETKEYS_NO_KEYS);
    }
    if !spec.arity_ok(target.len()) {
        return Err(errors::GETKEYS_BAD_ARITY);
    }
    let keys: Vec<(&[u8], KeyFlags)> = keys_and_flags(spec, target)
        .into_iter()
        .filter_map(|(pos, f)| target.get(pos).map(|k| (*k, f)))
        .collect();
    if keys.is_empty() && !spec.has(flags::NO_MANDATORY_KEYS) {
        return Err(errors::GETKEYS_INVALID_ARGS);
    }
    out.array(keys.len());
    for (key, key_flags) in keys {
        if with_flags {
            out.array(2);
            out.bulk(key);
            write_simple_set(out, key_flags);
        } else {
            out.bulk(key);
        }
    }
    Ok(())
}

/// The keys of a command line with their access flags, found the way Redis 7.0 finds
/// them: from the key specs when they are usable, else from the command's own key
/// finder.
pub(crate) fn keys_and_flags(spec: &CommandSpec, argv: &[&[u8]]) -> Vec<(usize, KeyFlags)> {
    // Specs flagged `variable_flags` (SET, BITFIELD) carry only the union of the
    // possible flags; the real ones depend on the arguments.
    let variable = spec
        .key_specs
        .iter()
        .any(|k| k.flags.contains(&"variable_flags"));
    if !variable {
        if let Some(keys) = keys_from_specs(spec.key_specs, argv) {
            return keys;
        }
        if spec.key_finder.is_none() {
            return Vec::new();
        }
    }
    let Some(positions) = spec.key_positions(argv) else {
        return Vec::new();
    };
    positions
        .into_iter()
        .map(|p| (p, finder_flags(spec, argv, p)))
        .collect()
}

/// Flags for keys found by a key finder rather than by the specs.
fn finder_flags(spec: &CommandSpec, argv: &[&[u8]], pos: usize) -> KeyFlags {
    match spec.name {
        // SET reads the old value only with GET.
        "set" if argv.iter().skip(3).any(|a| a.eq_ignore_ascii_case(b"get")) => RW_ACCESS_UPDATE,
        "set" => OW_UPDATE,
        "bitfield" if bitfield_read_only(argv) => RO_ACCESS,
        "bitfield" => RW_ACCESS_UPDATE,
        // SORT's destination (any key after the sorted one).
        "sort" if pos != 1 => OW_UPDATE,
        _ => spec.key_specs.first().map(|k| k.flags).unwrap_or(&[]),
    }
}

/// Whether a BITFIELD only reads: nothing but complete GET and OVERFLOW operations.
/// Anything else, malformed operations included, counts as a write, the safe side.
fn bitfield_read_only(argv: &[&[u8]]) -> bool {
    let mut i = 2;
    while i < argv.len() {
        let rest = argv.len() - i - 1;
        let op = argv[i];
        if op.eq_ignore_ascii_case(b"get") && rest >= 2 {
            i += 3;
        } else if op.eq_ignore_ascii_case(b"overflow") && rest >= 1 {
            i += 2;
        } else {
            return false;
        }
    }
    true
}

/// Applies the key specs to `argv` as Redis does. `None` when a spec cannot be applied
/// (unknown or incomplete spec, bad key count, positions out of range): the caller
/// then falls back to the command's key finder.
fn keys_from_specs(specs: &[KeySpec], argv: &[&[u8]]) -> Option<Vec<(usize, KeyFlags)>> {
    let argc = argv.len() as i64;
    let mut keys = Vec::new();
    for ks in specs {
        if ks.flags.contains(&"not_key") {
            continue;
        }
        if ks.flags.contains(&"incomplete") {
            return None;
        }
        let first = match ks.begin_search {
            BeginSearch::Index(i) => i,
            BeginSearch::Keyword { keyword, startfrom } => {
                match find_keyword(argv, keyword, startfrom) {
                    Some(i) => i + 1,
                    // A keyword that is absent means no keys for this spec.
                    None => continue,
                }
            }
            BeginSearch::Unknown => return None,
        };
        let (first, last, step) = match ks.find_keys {
            FindKeys::Range {
                lastkey,
                step,
                limit,
            } => {
                let last = if lastkey >= 0 {
                    first + lastkey
                } else if limit == 0 {
                    argc + lastkey
                } else {
                    first + ((argc - first) / limit + lastkey)
                };
                (first, last, step)
            }
            FindKeys::Keynum {
                keynumidx,
                firstkey,
                step,
            } => {
                let at = usize::try_from(first + keynumidx).ok()?;
                let n = resp::decode::parse_ll(argv.get(at)?)?;
                if n < 0 {
                    return None;
                }
                let first = first + firstkey;
                // Saturating: a huge count must fail the bounds check, not overflow.
                (first, first.saturating_add(n) - 1, step)
            }
            FindKeys::Unknown => return None,
        };
        if last >= argc || last < first || first >= argc || first < 0 {
            return None;
        }
        let mut i = first;
        while i <= last {
            keys.push((i as usize, ks.flags));
            i += step.max(1);
        }
    }
    Some(keys)
}

/// Where a key spec's keyword is: searched forward from `startfrom`, or backward from
/// `argc + startfrom` when negative; never at argv\[0\] nor at the last argument
/// (a keyword must be followed by something).
fn find_keyword(argv: &[&[u8]], keyword: &str, startfrom: i64) -> Option<i64> {
    let argc = argv.len() as i64;
    let (start, end) = if startfrom > 0 {
        (startfrom, argc - 1)
    } else {
        (argc + startfrom, 1)
    };
    let dir = if start <= end { 1 } else { -1 };
    let mut i = start;
    while i != end {
        if i >= argc || i < 1 {
            break;
        }
        if argv[i as usize].eq_ignore_ascii_case(keyword.as_bytes()) {
            return Some(i);
        }
        i += dir;
    }
    None
}
