//! Conformance of the command table and the COMMAND family with Redis 7.0.
//!
//! `tests/data/redis70_command_info.json` is a snapshot of a real Redis 7.0 taken by
//! `scripts/gen_command_table.py` (see its docstring for the format). Every spec is
//! rendered with the COMMAND INFO / COMMAND DOCS builders and compared with it value by
//! value, RESP3 types included; key positions and GETKEYS replies are compared with
//! Redis's answers for a few hundred command lines.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use resp::{Protocol, ReplyWriter};

use crate::families::command::{
    docs_reply, getkeys_reply, info_reply, list_reply, write_docs, write_info, CommandSet, HELP,
};
use crate::spec::{flags, CommandSpec};

// ---------------------------------------------------------------------------------
// A minimal JSON reader for the snapshot (the crate has no JSON dependency).

#[derive(Clone, Debug, PartialEq)]
enum Json {
    Null,
    Bool(bool),
    Int(i64),
    Str(String),
    Arr(Vec<Json>),
    Obj(Vec<(String, Json)>),
}

impl Json {
    fn get(&self, key: &str) -> &Json {
        match self {
            Json::Obj(fields) => fields
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v)
                .unwrap_or(&Json::Null),
            _ => &Json::Null,
        }
    }

    fn arr(&self) -> &[Json] {
        match self {
            Json::Arr(a) => a,
            other => panic!("not an array: {other:?}"),
        }
    }

    fn str(&self) -> &str {
        match self {
            Json::Str(s) => s,
            other => panic!("not a string: {other:?}"),
        }
    }

    fn int(&self) -> i64 {
        match self {
            Json::Int(n) => *n,
            other => panic!("not an integer: {other:?}"),
        }
    }
}

struct JsonParser<'a> {
    s: &'a [u8],
    i: usize,
}

impl JsonParser<'_> {
    fn ws(&mut self) {
        while self.i < self.s.len() && self.s[self.i].is_ascii_whitespace() {
            self.i += 1;
        }
    }

    fn eat(&mut self, c: u8) {
        self.ws();
        assert_eq!(
            self.s[self.i], c,
            "JSON: expected {} at {}",
            c as char, self.i
        );
        self.i += 1;
    }

    fn value(&mut self) -> Json {
        self.ws();
        match self.s[self.i] {
            b'n' => {
                self.i += 4;
                Json::Null
            }
            b't' => {
                self.i += 4;
                Json::Bool(true)
            }
            b'f' => {
                self.i += 5;
                Json::Bool(false)
            }
            b'"' => Json::Str(self.string()),
            b'[' => {
                self.i += 1;
                let mut v = Vec::new();
                self.ws();
                if self.s[self.i] == b']' {
                    self.i += 1;
                    return Json::Arr(v);
                }
                loop {
                    v.push(self.value());
                    self.ws();
                    self.i += 1;
                    if self.s[self.i - 1] == b']' {
                        return Json::Arr(v);
                    }
                }
            }
            b'{' => {
                self.i += 1;
                let mut v = Vec::new();
                self.ws();
                if self.s[self.i] == b'}' {
                    self.i += 1;
                    return Json::Obj(v);
                }
                loop {
                    self.ws();
                    let k = self.string();
                    self.eat(b':');
                    v.push((k, self.value()));
                    self.ws();
                    self.i += 1;
                    if self.s[self.i - 1] == b'}' {
                        return Json::Obj(v);
                    }
                }
            }
            _ => {
                let start = self.i;
                while self.i < self.s.len()
                    && (self.s[self.i] == b'-' || self.s[self.i].is_ascii_digit())
                {
                    self.i += 1;
                }
                let text = std::str::from_utf8(&self.s[start..self.i]).expect("ascii");
                Json::Int(text.parse().expect("JSON integer"))
            }
        }
    }

    fn hex4(&mut self) -> u32 {
        let h = std::str::from_utf8(&self.s[self.i..self.i + 4]).expect("ascii");
        self.i += 4;
        u32::from_str_radix(h, 16).expect("hex escape")
    }

    fn string(&mut self) -> String {
        self.eat(b'"');
        let mut out: Vec<u8> = Vec::new();
        loop {
            let c = self.s[self.i];
            self.i += 1;
            match c {
                b'"' => return String::from_utf8(out).expect("utf-8"),
                b'\\' => {
                    let e = self.s[self.i];
                    self.i += 1;
                    let ch = match e {
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'u' => {
                            let mut cp = self.hex4();
                            if (0xd800..0xdc00).contains(&cp) {
                                // A surrogate pair: `\uD83D\uDE00`.
                                self.i += 2;
                                let low = self.hex4();
                                cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
                            }
                            char::from_u32(cp).expect("code point")
                        }
                        other => other as char,
                    };
                    let mut buf = [0u8; 4];
                    out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                }
                _ => out.push(c),
            }
        }
    }
}

fn snapshot() -> &'static Json {
    static SNAP: std::sync::OnceLock<Json> = std::sync::OnceLock::new();
    SNAP.get_or_init(|| {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/data/redis70_command_info.json"
        );
        let text = std::fs::read(path).expect("read the Redis 7.0 snapshot");
        JsonParser { s: &text, i: 0 }.value()
    })
}

// ---------------------------------------------------------------------------------
// RESP values with their types, from our reply bytes or from the snapshot.

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum V {
    Bulk(String),
    Simple(String),
    Error(String),
    Int(i64),
    Null,
    Arr(Vec<V>),
    Map(Vec<V>),
    Set(Vec<V>),
}

/// The snapshot's typed encoding (see gen_command_table.py).
fn from_json(j: &Json) -> V {
    match j {
        Json::Null => V::Null,
        Json::Int(n) => V::Int(*n),
        Json::Str(s) => V::Bulk(s.clone()),
        Json::Arr(a) => V::Arr(a.iter().map(from_json).collect()),
        Json::Obj(fields) => {
            let (tag, inner) = &fields[0];
            match tag.as_str() {
                "+" => V::Simple(inner.str().to_string()),
                "-" => V::Error(inner.str().to_string()),
                "%" => V::Map(inner.arr().iter().map(from_json).collect()),
                "~" => V::Set(inner.arr().iter().map(from_json).collect()),
                other => panic!("unknown tag {other}"),
            }
        }
        Json::Bool(b) => panic!("unexpected boolean {b}"),
    }
}

fn parse_resp(buf: &[u8]) -> V {
    fn line<'a>(buf: &'a [u8], i: &mut usize) -> &'a str {
        let start = *i;
        while &buf[*i..*i + 2] != b"\r\n" {
            *i += 1;
        }
        let s = std::str::from_utf8(&buf[start..*i]).expect("utf-8 line");
        *i += 2;
        s
    }
    fn one(buf: &[u8], i: &mut usize) -> V {
        let tag = buf[*i];
        *i += 1;
        let l = line(buf, i);
        let n = || l.parse::<i64>().expect("length");
        match tag {
            b'+' => V::Simple(l.to_string()),
            b'-' => V::Error(l.to_string()),
            b':' => V::Int(n()),
            b'_' => V::Null,
            b'$' if n() < 0 => V::Null,
            b'$' => {
                let len = n() as usize;
                let s = String::from_utf8(buf[*i..*i + len].to_vec()).expect("utf-8 bulk");
                *i += len + 2;
                V::Bulk(s)
            }
            b'*' => V::Arr((0..n()).map(|_| one(buf, i)).collect()),
            b'%' => V::Map((0..2 * n()).map(|_| one(buf, i)).collect()),
            b'~' => V::Set((0..n()).map(|_| one(buf, i)).collect()),
            other => panic!("unexpected RESP type {}", other as char),
        }
    }
    let mut i = 0;
    let v = one(buf, &mut i);
    assert_eq!(i, buf.len(), "trailing bytes after the reply");
    v
}

/// Sorts the subcommands of COMMAND INFO entries by name (Redis's order is its hash
/// table's).
fn sort_info_subs(v: V) -> V {
    match v {
        V::Arr(mut items) if items.len() == 10 => {
            if let V::Arr(subs) = &mut items[9] {
                let mut sorted: Vec<V> = subs.drain(..).map(sort_info_subs).collect();
                sorted.sort();
                *subs = sorted;
            }
            V::Arr(items)
        }
        other => other,
    }
}

/// Drops `summary` (ours differ by design) and sorts `subcommands` by name.
fn normalize_docs(v: V) -> V {
    let V::Map(items) = v else { return v };
    let mut out = Vec::new();
    for pair in items.chunks(2) {
        match &pair[0] {
            V::Bulk(k) if k == "summary" => {}
            V::Bulk(k) if k == "subcommands" => {
                let V::Map(subs) = &pair[1] else {
                    panic!("subcommands is not a map")
                };
                let mut entries: Vec<(V, V)> = subs
                    .chunks(2)
                    .map(|p| (p[0].clone(), normalize_docs(p[1].clone())))
                    .collect();
                entries.sort();
                out.push(pair[0].clone());
                out.push(V::Map(
                    entries.into_iter().flat_map(|(k, v)| [k, v]).collect(),
                ));
            }
            _ => out.extend_from_slice(pair),
        }
    }
    V::Map(out)
}

// ---------------------------------------------------------------------------------
// The whole generated table as a CommandSet (every command "served").

struct Full {
    specs: Vec<CommandSpec>,
}

fn full() -> &'static Full {
    static FULL: std::sync::OnceLock<Full> = std::sync::OnceLock::new();
    FULL.get_or_init(|| Full {
        specs: super::redis_specs(),
    })
}

impl CommandSet for Full {
    fn tops(&self) -> Vec<&CommandSpec> {
        self.specs
            .iter()
            .filter(|s| !s.name.contains('|'))
            .collect()
    }

    fn subs_of(&self, parent: &CommandSpec) -> Vec<&CommandSpec> {
        self.specs
            .iter()
            .filter(|s| {
                s.name
                    .split_once('|')
                    .is_some_and(|(p, _)| p == parent.name)
            })
            .collect()
    }

    fn find(&self, name: &[u8]) -> Option<&CommandSpec> {
        self.tops()
            .into_iter()
            .find(|s| s.name.as_bytes().eq_ignore_ascii_case(name))
    }

    fn find_sub(&self, parent: &CommandSpec, name: &[u8]) -> Option<&CommandSpec> {
        self.subs_of(parent)
            .into_iter()
            .find(|s| s.name.as_bytes()[parent.name.len() + 1..].eq_ignore_ascii_case(name))
    }
}

fn spec(name: &str) -> &'static CommandSpec {
    full()
        .specs
        .iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("no spec for {name}"))
}

/// Runs a COMMAND subcommand over the full table, as dispatch would route it.
fn run_table(proto: Protocol, argv: &[&[u8]]) -> Vec<u8> {
    let mut out = ReplyWriter::new(proto);
    let set = full();
    let sub = String::from_utf8_lossy(argv[1]).to_ascii_lowercase();
    let result = match sub.as_str() {
        "count" => {
            out.int(set.tops().len() as i64);
            Ok(())
        }
        "info" => {
            info_reply(&mut out, set, argv);
            Ok(())
        }
        "docs" => {
            docs_reply(&mut out, set, argv);
            Ok(())
        }
        "list" => list_reply(&mut out, set, argv),
        "getkeys" => getkeys_reply(&mut out, set, &argv[2..], false),
        "getkeysandflags" => getkeys_reply(&mut out, set, &argv[2..], true),
        other => panic!("no such subcommand {other}"),
    };
    if let Err(e) = result {
        out.error(e);
    }
    out.take()
}

fn argv_of(j: &Json) -> Vec<String> {
    j.arr().iter().map(|a| a.str().to_string()).collect()
}

// ---------------------------------------------------------------------------------
// The table itself.

#[test]
fn table_has_every_redis_command_once() {
    let snap = snapshot();
    let Json::Obj(info) = snap.get("info") else {
        panic!("no info")
    };
    let mut expected = BTreeSet::new();
    for (name, entry) in info {
        expected.insert(name.clone());
        if let Json::Arr(subs) = &entry.arr()[9] {
            for s in subs {
                expected.insert(s.arr()[0].str().to_string());
            }
        }
    }
    let names: Vec<&str> = full().specs.iter().map(|s| s.name).collect();
    let unique: BTreeSet<String> = names.iter().map(|s| s.to_string()).collect();
    assert_eq!(unique.len(), names.len(), "duplicate specs");
    assert_eq!(unique, expected);
    assert_eq!(names.len(), 366);
    assert_eq!(full().tops().len(), 240);
}

#[test]
fn every_spec_has_our_own_summary() {
    for s in &full().specs {
        assert!(s.summary.ends_with('.'), "{}: {:?}", s.name, s.summary);
        assert!(s.handler.is_none(), "the table must not carry handlers");
    }
}

#[test]
fn movable_commands_have_key_finders() {
    for s in &full().specs {
        if s.has(flags::MOVABLE_KEYS) {
            assert!(
                s.key_finder.is_some(),
                "{} has movable keys but no finder",
                s.name
            );
        }
    }
    for (name, _) in super::KEY_FINDERS {
        spec(name);
    }
}

#[test]
fn all_shards_policy() {
    for name in super::ALL_SHARDS_COMMANDS {
        assert!(spec(name).has(flags::ALL_SHARDS), "{name}");
    }
    let count = full()
        .specs
        .iter()
        .filter(|s| s.has(flags::ALL_SHARDS))
        .count();
    assert_eq!(count, super::ALL_SHARDS_COMMANDS.len());
    // Never reported: COMMAND INFO of an ALL_SHARDS command shows Redis's flags only.
    for name in super::ALL_SHARDS_COMMANDS {
        let mut out = ReplyWriter::new(Protocol::Resp3);
        write_info(&mut out, full(), spec(name));
        let V::Arr(ours) = parse_resp(out.as_bytes()) else {
            panic!("not an array")
        };
        let V::Arr(redis) = from_json(snapshot().get("info").get(name)) else {
            panic!("{name} missing from the snapshot")
        };
        assert_eq!(ours[2], redis[2], "{name}");
    }
}

// ---------------------------------------------------------------------------------
// COMMAND INFO / DOCS against the snapshot.

#[test]
fn command_info_matches_redis() {
    let snap = snapshot();
    let mut bad = Vec::new();
    for top in full().tops() {
        let expected = sort_info_subs(from_json(snap.get("info").get(top.name)));
        let mut out = ReplyWriter::new(Protocol::Resp3);
        write_info(&mut out, full(), top);
        let ours = sort_info_subs(parse_resp(out.as_bytes()));
        if ours != expected {
            bad.push(format!(
                "{}:\n  ours   {ours:?}\n  redis  {expected:?}",
                top.name
            ));
        }
    }
    assert!(
        bad.is_empty(),
        "{} mismatches:\n{}",
        bad.len(),
        bad.join("\n")
    );
}

#[test]
fn command_docs_match_redis() {
    let snap = snapshot();
    let mut bad = Vec::new();
    for top in full().tops() {
        let expected = normalize_docs(from_json(snap.get("docs").get(top.name)));
        let mut out = ReplyWriter::new(Protocol::Resp3);
        write_docs(&mut out, full(), top);
        let ours = normalize_docs(parse_resp(out.as_bytes()));
        if ours != expected {
            bad.push(format!(
                "{}:\n  ours   {ours:?}\n  redis  {expected:?}",
                top.name
            ));
        }
    }
    assert!(
        bad.is_empty(),
        "{} mismatches:\n{}",
        bad.len(),
        bad.join("\n")
    );
}

#[test]
fn resp2_is_the_plain_downgrade() {
    // RESP2 replies carry the same values with maps flattened and sets as arrays.
    fn downgrade(v: V) -> V {
        match v {
            V::Arr(a) | V::Map(a) | V::Set(a) => V::Arr(a.into_iter().map(downgrade).collect()),
            other => other,
        }
    }
    for name in ["zadd", "client", "sort", "xread"] {
        let mut r2 = ReplyWriter::new(Protocol::Resp2);
        let mut r3 = ReplyWriter::new(Protocol::Resp3);
        write_docs(&mut r2, full(), spec(name));
        write_docs(&mut r3, full(), spec(name));
        assert_eq!(
            parse_resp(r2.as_bytes()),
            downgrade(parse_resp(r3.as_bytes()))
        );
    }
}

// ---------------------------------------------------------------------------------
// Key positions and COMMAND GETKEYS.

#[test]
fn getkeys_replies_match_redis() {
    let mut bad = Vec::new();
    for case in snapshot().get("getkeys").arr() {
        let argv = argv_of(case.get("argv"));
        let mut cmd: Vec<&[u8]> = vec![b"COMMAND", b"GETKEYSANDFLAGS"];
        cmd.extend(argv.iter().map(|a| a.as_bytes()));
        let ours = parse_resp(&run_table(Protocol::Resp2, &cmd));
        let expected = match case.get("error") {
            Json::Str(e) => V::Error(e.clone()),
            _ => V::Arr(
                case.get("keys")
                    .arr()
                    .iter()
                    .map(|k| {
                        let pos = k.arr()[0].int() as usize;
                        let flags = k.arr()[1].arr().iter().map(|f| V::Simple(f.str().into()));
                        V::Arr(vec![V::Bulk(argv[pos].clone()), V::Arr(flags.collect())])
                    })
                    .collect(),
            ),
        };
        // An arity error of GETKEYSANDFLAGS itself comes from dispatch, not from here.
        if matches!(&expected, V::Error(e) if e.contains("wrong number of arguments")) {
            continue;
        }
        if ours != expected {
            bad.push(format!(
                "{argv:?}:\n  ours   {ours:?}\n  redis  {expected:?}"
            ));
        }
    }
    assert!(
        bad.is_empty(),
        "{} mismatches:\n{}",
        bad.len(),
        bad.join("\n")
    );
}

#[test]
fn key_positions_match_redis_for_valid_input() {
    let mut bad = Vec::new();
    let mut checked = 0;
    for case in snapshot().get("getkeys").arr() {
        if case.get("valid") != &Json::Bool(true) || case.get("error") != &Json::Null {
            continue;
        }
        let argv = argv_of(case.get("argv"));
        let args: Vec<&[u8]> = argv.iter().map(|a| a.as_bytes()).collect();
        let Some(s) = find_for_argv(&args) else {
            bad.push(format!("{argv:?}: no spec"));
            continue;
        };
        let expected: Vec<usize> = case
            .get("keys")
            .arr()
            .iter()
            .map(|k| k.arr()[0].int() as usize)
            .collect();
        checked += 1;
        let ours = s.key_positions(&args);
        if ours.as_ref() != Some(&expected) {
            bad.push(format!("{argv:?}: ours {ours:?}, redis {expected:?}"));
        }
    }
    assert!(checked > 250, "only {checked} cases checked");
    assert!(
        bad.is_empty(),
        "{} mismatches:\n{}",
        bad.len(),
        bad.join("\n")
    );
}

#[test]
fn getkeys_survives_hostile_counts() {
    let huge = b"9223372036854775807".as_slice();
    for (argv, expected) in [
        (vec![b"EVAL".as_slice(), b"s", huge, b"a"], "*0\r\n"),
        (
            vec![b"ZUNION".as_slice(), huge, b"a"],
            "-ERR Invalid arguments specified for command\r\n",
        ),
        (
            vec![b"XREAD".as_slice(), b"STREAMS", b"a"],
            "-ERR Invalid number of arguments specified for command\r\n",
        ),
    ] {
        let mut cmd: Vec<&[u8]> = vec![b"COMMAND", b"GETKEYS"];
        cmd.extend(argv);
        assert_eq!(
            String::from_utf8(run_table(Protocol::Resp2, &cmd)).unwrap_or_default(),
            expected
        );
    }
}

fn find_for_argv(argv: &[&[u8]]) -> Option<&'static CommandSpec> {
    let set = full();
    let cmd = set.find(argv[0])?;
    if argv.len() > 1 && !set.subs_of(cmd).is_empty() {
        set.find_sub(cmd, argv[1])
    } else {
        Some(cmd)
    }
}

// ---------------------------------------------------------------------------------
// Exact replies.

#[test]
fn table_replies_match_redis_byte_for_byte() {
    let mut bad = Vec::new();
    for case in snapshot().get("replies").arr() {
        if case.get("scope").str() != "table" {
            continue;
        }
        let argv = argv_of(case.get("argv"));
        let args: Vec<&[u8]> = argv.iter().map(|a| a.as_bytes()).collect();
        for (proto, key) in [(Protocol::Resp2, "resp2"), (Protocol::Resp3, "resp3")] {
            let ours = String::from_utf8(run_table(proto, &args)).expect("utf-8");
            let expected = case.get(key).str();
            if ours != expected {
                bad.push(format!(
                    "{argv:?} {key}:\n  ours   {ours:?}\n  redis  {expected:?}"
                ));
            }
        }
    }
    assert!(
        bad.is_empty(),
        "{} mismatches:\n{}",
        bad.len(),
        bad.join("\n")
    );
}

/// Runs a command line through the real dispatch pipeline of a fresh instance.
fn dispatch(proto: Protocol, argv: &[&[u8]]) -> Vec<u8> {
    let inst = crate::Instance::new(crate::Config::default());
    let info = Arc::new(crate::ClientInfo::new(
        1,
        "127.0.0.1:1".into(),
        "127.0.0.1:2".into(),
    ));
    let mut client = crate::Client::new(info, true);
    let mut out = ReplyWriter::new(proto);
    crate::dispatch::dispatch(&inst, &mut client, &mut out, argv);
    out.take()
}

#[test]
fn served_replies_match_redis_byte_for_byte() {
    let mut bad = Vec::new();
    for case in snapshot().get("replies").arr() {
        if case.get("scope").str() != "served" {
            continue;
        }
        let argv = argv_of(case.get("argv"));
        let args: Vec<&[u8]> = argv.iter().map(|a| a.as_bytes()).collect();
        for (proto, key) in [(Protocol::Resp2, "resp2"), (Protocol::Resp3, "resp3")] {
            let ours = String::from_utf8(dispatch(proto, &args)).expect("utf-8");
            let expected = case.get(key).str();
            if ours != expected {
                bad.push(format!(
                    "{argv:?} {key}:\n  ours   {ours:?}\n  redis  {expected:?}"
                ));
            }
        }
    }
    assert!(
        bad.is_empty(),
        "{} mismatches:\n{}",
        bad.len(),
        bad.join("\n")
    );
}

#[test]
fn served_command_family_is_complete() {
    // Bare COMMAND and COMMAND INFO describe the same served commands; COUNT counts
    // them; the COMMAND entry lists all seven subcommands.
    let bare = parse_resp(&dispatch(Protocol::Resp3, &[b"COMMAND"]));
    let info = parse_resp(&dispatch(Protocol::Resp3, &[b"command", b"info"]));
    let count = parse_resp(&dispatch(Protocol::Resp3, &[b"COMMAND", b"COUNT"]));
    let (V::Arr(bare), V::Arr(info)) = (bare, info) else {
        panic!("not arrays")
    };
    assert_eq!(V::Int(bare.len() as i64), count);
    assert_eq!(bare.len(), info.len());
    let entry = bare
        .iter()
        .find(|e| matches!(e, V::Arr(i) if i[0] == V::Bulk("command".into())))
        .expect("COMMAND describes itself");
    let expected = sort_info_subs(from_json(snapshot().get("info").get("command")));
    assert_eq!(sort_info_subs(entry.clone()), expected);
    // DOCS of everything is a map with one entry per served top-level command.
    let V::Map(docs) = parse_resp(&dispatch(Protocol::Resp3, &[b"COMMAND", b"DOCS"])) else {
        panic!("not a map")
    };
    assert_eq!(docs.len() / 2, bare.len());
}

#[test]
fn command_list_matches_redis() {
    let mut bad = Vec::new();
    for case in snapshot().get("lists").arr() {
        let filter = argv_of(case.get("filter"));
        let mut argv: Vec<&[u8]> = vec![b"COMMAND", b"LIST"];
        argv.extend(filter.iter().map(|a| a.as_bytes()));
        let V::Arr(names) = parse_resp(&run_table(Protocol::Resp2, &argv)) else {
            panic!("not an array")
        };
        let mut ours: Vec<String> = names
            .into_iter()
            .map(|n| match n {
                V::Bulk(s) => s,
                other => panic!("{other:?}"),
            })
            .collect();
        ours.sort();
        let expected = argv_of(case.get("names"));
        if ours != expected {
            bad.push(format!("{filter:?}: ours {ours:?}\n  redis {expected:?}"));
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

#[test]
fn help_has_redis_layout() {
    let ours: Vec<String> = HELP
        .iter()
        .filter(|l| !l.starts_with(' '))
        .map(|l| l.to_string())
        .collect();
    assert_eq!(ours, argv_of(snapshot().get("help_syntax")));
    let reply = dispatch(Protocol::Resp3, &[b"COMMAND", b"HELP"]);
    let V::Arr(lines) = parse_resp(&reply) else {
        panic!("not an array")
    };
    assert_eq!(lines.len(), HELP.len());
    assert!(lines.iter().all(|l| matches!(l, V::Simple(_))));
}

#[test]
fn docs_groups_and_key_spec_indexes_are_consistent() {
    // Every argument's key_spec_index points at an existing key spec.
    fn check(s: &CommandSpec, args: &[crate::spec::Arg], seen: &mut BTreeMap<String, usize>) {
        for a in args {
            if let Some(i) = a.key_spec_index {
                assert!(i < s.key_specs.len(), "{}: {} -> {i}", s.name, a.name);
                *seen.entry(s.name.to_string()).or_default() += 1;
            }
            check(s, a.args, seen);
        }
    }
    let mut seen = BTreeMap::new();
    for s in &full().specs {
        check(s, s.args, &mut seen);
    }
    assert!(seen.len() > 150);
}

// ---------------------------------------------------------------------------------
// MiniRedis's own commands (the TAG family).

#[test]
fn extension_specs_are_well_formed() {
    let all = super::specs();
    let redis: BTreeSet<&str> = full().specs.iter().map(|s| s.name).collect();
    let ext: Vec<&CommandSpec> = all.iter().filter(|s| super::is_extension(s.name)).collect();
    assert!(ext.len() >= 9, "the TAG family");
    for s in &ext {
        assert!(
            !redis.contains(s.name),
            "{} shadows a Redis command",
            s.name
        );
        assert!(s.summary.ends_with('.'), "{}", s.name);
        assert!(!s.complexity.is_empty(), "{}", s.name);
        assert!(s.handler.is_none());
        // Docs and info render, in both protocols, with the container's subcommands.
        for proto in [Protocol::Resp2, Protocol::Resp3] {
            let mut out = ReplyWriter::new(proto);
            write_docs(&mut out, &ExtSet(&all), s);
            parse_resp(out.as_bytes());
            let mut out = ReplyWriter::new(proto);
            write_info(&mut out, &ExtSet(&all), s);
            parse_resp(out.as_bytes());
        }
        // A keyed subcommand's spec and legacy positions name argv[2].
        if !s.key_specs.is_empty() {
            assert_eq!((s.first_key, s.last_key, s.step), (2, 2, 1), "{}", s.name);
            let argv: [&[u8]; 4] = [b"tag", b"x", b"k", b"t"];
            assert_eq!(s.key_positions(&argv), Some(vec![2]), "{}", s.name);
        } else if s.name != "tag" && s.name != "tag|help" {
            assert!(s.has(flags::ALL_SHARDS), "{} sees every shard", s.name);
        }
    }
    let mut out = ReplyWriter::new(Protocol::Resp3);
    let tag = all.iter().find(|s| s.name == "tag").expect("container");
    write_docs(&mut out, &ExtSet(&all), tag);
    let V::Map(fields) = parse_resp(out.as_bytes()) else {
        panic!("docs are a map")
    };
    let subs = fields
        .chunks(2)
        .find(|kv| kv[0] == V::Bulk("subcommands".into()))
        .map(|kv| kv[1].clone());
    let Some(V::Map(subs)) = subs else {
        panic!("TAG's docs list its subcommands")
    };
    assert_eq!(subs.len() / 2, ext.len() - 1);
}

/// The whole table, Redis's commands and MiniRedis's.
struct ExtSet<'a>(&'a [CommandSpec]);

impl CommandSet for ExtSet<'_> {
    fn tops(&self) -> Vec<&CommandSpec> {
        self.0.iter().filter(|s| !s.name.contains('|')).collect()
    }

    fn subs_of(&self, parent: &CommandSpec) -> Vec<&CommandSpec> {
        self.0
            .iter()
            .filter(|s| {
                s.name
                    .split_once('|')
                    .is_some_and(|(p, _)| p == parent.name)
            })
            .collect()
    }

    fn find(&self, name: &[u8]) -> Option<&CommandSpec> {
        self.tops()
            .into_iter()
            .find(|s| s.name.as_bytes().eq_ignore_ascii_case(name))
    }

    fn find_sub(&self, parent: &CommandSpec, name: &[u8]) -> Option<&CommandSpec> {
        self.subs_of(parent)
            .into_iter()
            .find(|s| s.name.as_bytes()[parent.name.len() + 1..].eq_ignore_ascii_case(name))
    }
}
