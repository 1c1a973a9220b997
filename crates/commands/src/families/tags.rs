//! TAG: tag-based invalidation, a MiniRedis extension (no Redis counterpart).
//!
//! Keys carry tags; `TAG INVALIDATE tag` deletes every key of a tag in one atomic step.
//! The typical use is a cache: `SET page:42 ... EX 300` then `TAG ADD page:42 user:7
//! product:9`, and when product 9 changes, `TAG INVALIDATE product:9` drops every page
//! built from it. The specs are in `table/tags.rs`; the index is `engine::tags`.
//!
//! Semantics (also in the README):
//! * Tags belong to a key in one logical database. A key has a set of tags (kept in
//!   the order they were attached); `TAG ADD` on a missing key does nothing.
//! * Tags follow the TTL's rule: a write that replaces the value and discards the TTL
//!   (SET without KEEPTTL, GETSET, MSET, SETEX, the *STORE commands, RESTORE REPLACE,
//!   COPY/RENAME onto an existing key) discards the tags; writes that change a value in
//!   place (APPEND, INCR, LPUSH, HSET, ...) and EXPIRE/PERSIST keep them. SET ...
//!   KEEPTTL keeps them.
//! * Deleting a key in any way (DEL, UNLINK, expiry, eviction, FLUSHDB, invalidation)
//!   removes its tags. RENAME and MOVE carry them to the new name or database; COPY
//!   copies them (as it copies the TTL). SWAPDB swaps them with the keys.
//! * Snapshots keep them (an AUX field Redis ignores; see the persistence crate).
//! * `TAG INVALIDATE` holds every shard of the database while it deletes: no command
//!   sees some keys of the tag gone and others still there. It returns how many keys
//!   it deleted (keys that had just expired are collected but not counted, as DEL).

use resp::ReplyWriter;

use super::util::{eq_ic, glob_match, parse_cursor, parse_i64};
use crate::ctx::Ctx;
use crate::errors;
use crate::spec::Handler;

/// (spec name, handler) for every command this family serves.
pub fn handlers() -> Vec<(&'static str, Handler)> {
    vec![
        ("tag|add", add),
        ("tag|remove", remove),
        ("tag|get", get),
        ("tag|keys", keys),
        ("tag|scan", scan),
        ("tag|count", count),
        ("tag|list", list),
        ("tag|invalidate", invalidate),
        ("tag|help", help),
    ]
}

/// TAG ADD key tag [tag ...]
fn add(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]]) {
    let (db, now) = (ctx.db(), ctx.now_ms);
    let n = match ctx.ks.get_for_write(db, argv[2], now) {
        Some(mut e) => {
            e.touch(&ctx.access);
            e.add_tags(&argv[3..])
        }
        None => 0,
    };
    ctx.out.int(n as i64);
}

/// TAG REMOVE key tag [tag ...]
fn remove(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]]) {
    let (db, now) = (ctx.db(), ctx.now_ms);
    let n = match ctx.ks.get_for_write(db, argv[2], now) {
        Some(mut e) => e.remove_tags(&argv[3..]),
        None => 0,
    };
    ctx.out.int(n as i64);
}

/// TAG GET key
fn get(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]]) {
    let (db, now) = (ctx.db(), ctx.now_ms);
    match ctx.ks.get(db, argv[2], now) {
        Some(e) => {
            let tags = e.tags();
            ctx.out.array(tags.len());
            for t in tags {
                ctx.out.bulk(t);
            }
        }
        None => ctx.out.array(0),
    }
}

/// TAG KEYS tag
fn keys(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]]) {
    let (db, now) = (ctx.db(), ctx.now_ms);
    let mut body = ReplyWriter::default();
    let mut n = 0usize;
    ctx.ks.tag_keys(db, argv[2], now, |k| {
        body.bulk(k);
        n += 1;
    });
    ctx.out.array(n);
    ctx.out.raw(body.as_bytes());
}

/// TAG SCAN tag cursor [MATCH pattern] [COUNT count]
fn scan(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]]) {
    let Some(cursor) = parse_cursor(argv[3]) else {
        return ctx.error(errors::INVALID_CURSOR);
    };
    let mut count: i64 = 10;
    let mut pattern: Option<&[u8]> = None;
    let mut i = 4;
    while i < argv.len() {
        let (opt, has_value) = (argv[i], argv.len() - i >= 2);
        if eq_ic(opt, b"count") && has_value {
            match parse_i64(argv[i + 1]) {
                None => return ctx.error(errors::NOT_INTEGER),
                Some(n) if n < 1 => return ctx.error(errors::SYNTAX),
                Some(n) => count = n,
            }
        } else if eq_ic(opt, b"match") && has_value {
            pattern = (argv[i + 1] != b"*").then_some(argv[i + 1]);
        } else {
            return ctx.error(errors::SYNTAX);
        }
        i += 2;
    }
    let (db, now) = (ctx.db(), ctx.now_ms);
    let mut body = ReplyWriter::default();
    let mut n = 0usize;
    let count = usize::try_from(count).unwrap_or(usize::MAX);
    let next = ctx.ks.tag_scan(db, argv[2], cursor, count, now, |k| {
        if pattern.is_some_and(|p| !glob_match(p, k, false)) {
            return;
        }
        body.bulk(k);
        n += 1;
    });
    ctx.out.array(2);
    ctx.out.bulk(itoa::Buffer::new().format(next).as_bytes());
    ctx.out.array(n);
    ctx.out.raw(body.as_bytes());
}

/// TAG COUNT tag
fn count(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]]) {
    let (db, now) = (ctx.db(), ctx.now_ms);
    let n = ctx.ks.tag_count(db, argv[2], now);
    ctx.out.int(n as i64);
}

/// TAG LIST [pattern]
fn list(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]]) {
    if argv.len() > 3 {
        return ctx.error(errors::SYNTAX);
    }
    let pattern = argv.get(2).copied().filter(|p| *p != b"*");
    let db = ctx.db();
    let tags: Vec<_> = ctx
        .ks
        .tag_names(db)
        .into_iter()
        .filter(|t| pattern.is_none_or(|p| glob_match(p, t, false)))
        .collect();
    ctx.out.array(tags.len());
    for t in &tags {
        ctx.out.bulk(t);
    }
}

/// TAG INVALIDATE tag [tag ...]
fn invalidate(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]]) {
    let (db, now) = (ctx.db(), ctx.now_ms);
    // Clients blocked on a deleted key hear of it as of any write to it (a blocked
    // XREADGROUP fails when its stream goes away).
    let wake = ctx.inst.blocking.any();
    let ready = &mut ctx.client.ready_keys;
    let n = ctx.ks.invalidate_tags(db, &argv[2..], now, |k| {
        if wake {
            ready.push((db, k.to_vec()));
        }
    });
    ctx.out.int(n as i64);
}

/// TAG HELP
fn help(ctx: &mut Ctx<'_, '_>, _argv: &[&[u8]]) {
    const LINES: &[&str] = &[
        "TAG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "ADD <key> <tag> [<tag> ...]",
        "    Attach tags to an existing key. Returns how many were new to it.",
        "REMOVE <key> <tag> [<tag> ...]",
        "    Detach tags from a key. Returns how many it carried.",
        "GET <key>",
        "    Return the tags of a key, in the order they were attached.",
        "KEYS <tag>",
        "    Return every key of the current database that carries the tag.",
        "SCAN <tag> <cursor> [MATCH <pattern>] [COUNT <count>]",
        "    Iterate over the keys that carry the tag.",
        "COUNT <tag>",
        "    Return how many keys carry the tag.",
        "LIST [<pattern>]",
        "    Return the tags in use in the current database.",
        "INVALIDATE <tag> [<tag> ...]",
        "    Delete every key that carries one of the tags, atomically. Returns how",
        "    many keys were deleted.",
        "HELP",
        "    Prints this help.",
    ];
    ctx.out.array(LINES.len());
    for l in LINES {
        ctx.out.simple(l);
    }
}

#[cfg(test)]
mod tests {
    use super::super::util::testkit::Kit;

    fn bulks(items: &[&str]) -> String {
        let mut s = format!("*{}\r\n", items.len());
        for i in items {
            s += &format!("${}\r\n{i}\r\n", i.len());
        }
        s
    }

    /// The keys of a tag, sorted (TAG KEYS lists them in hash order).
    fn keys_of(k: &mut Kit, tag: &str) -> Vec<String> {
        let r = k.cmd(&format!("tag keys {tag}"));
        let mut v: Vec<String> = r
            .split("\r\n")
            .skip(1)
            .filter(|l| !l.starts_with('$') && !l.is_empty())
            .map(str::to_string)
            .collect();
        v.sort();
        v
    }

    #[test]
    fn add_get_remove() {
        let mut k = Kit::new();
        assert_eq!(k.int("tag add nokey t"), 0, "a missing key takes no tags");
        assert_eq!(k.cmd("tag get nokey"), "*0\r\n");
        k.cmd("set a 1");
        assert_eq!(k.int("tag add a t1 t2 t1"), 2);
        assert_eq!(k.int("tag add a t2 t3"), 1);
        assert_eq!(k.cmd("tag get a"), bulks(&["t1", "t2", "t3"]));
        assert_eq!(k.int("tag remove a t2 nosuch"), 1);
        assert_eq!(k.cmd("tag get a"), bulks(&["t1", "t3"]));
        assert_eq!(k.int("tag remove nokey t1"), 0);
        assert_eq!(k.int("tag count t1"), 1);
        assert_eq!(k.int("tag count t2"), 0);
        assert_eq!(k.int("tag remove a t1 t3"), 2);
        assert_eq!(k.cmd("tag get a"), "*0\r\n");
        assert_eq!(k.cmd("tag list"), "*0\r\n");
        k.inst.ks.check_accounting();
    }

    #[test]
    fn invalidate_removes_every_key_of_the_tags() {
        let mut k = Kit::new();
        for i in 0..50 {
            k.cmd(&format!("set k{i} v"));
            k.cmd(&format!("tag add k{i} t{}", i % 3));
        }
        k.cmd("rpush list a b");
        k.cmd("tag add list t0 other");
        assert_eq!(k.int("tag count t0"), 18);
        assert_eq!(keys_of(&mut k, "other"), ["list"]);
        assert_eq!(k.cmd("tag list t*"), bulks(&["t0", "t1", "t2"]));
        assert_eq!(k.int("tag invalidate t0 nosuch"), 18);
        assert_eq!(k.int("exists list k0 k3 k1"), 1);
        assert_eq!(k.int("dbsize"), 33);
        assert_eq!(k.cmd("tag list"), bulks(&["t1", "t2"]));
        assert_eq!(k.int("tag invalidate t0"), 0);
        assert_eq!(k.int("tag invalidate t1 t2"), 33);
        assert_eq!(k.int("dbsize"), 0);
        k.inst.ks.check_accounting();
        assert_eq!(
            k.inst.ks.used_memory(),
            0,
            "the index is freed with its keys"
        );
    }

    #[test]
    fn overwrite_drops_tags_like_the_ttl() {
        let mut k = Kit::new();
        let tagged = |k: &mut Kit, key: &str| {
            k.cmd(&format!("set {key} v"));
            k.cmd(&format!("tag add {key} t"));
        };
        tagged(&mut k, "a");
        k.cmd("set a w");
        assert_eq!(k.cmd("tag get a"), "*0\r\n", "SET discards the tags");
        tagged(&mut k, "a");
        k.cmd("set a w keepttl");
        assert_eq!(k.cmd("tag get a"), bulks(&["t"]), "KEEPTTL keeps them");
        for (cmd, keeps) in [
            ("append a x", true),
            ("expire a 100", true),
            ("persist a", true),
            ("setrange a 0 z", true),
            ("getset a 5", false),
            ("mset a 1", false),
            ("setex a 100 v", false),
            ("set a 1 px 10000", false),
            ("getex a ex 100", true),
        ] {
            tagged(&mut k, "a");
            k.cmd("tag add a t");
            k.cmd(cmd);
            let want = if keeps {
                bulks(&["t"])
            } else {
                "*0\r\n".into()
            };
            assert_eq!(k.cmd("tag get a"), want, "{cmd}");
            k.inst.ks.check_accounting();
        }
        // Collections: in-place writes keep them, stores replace the key.
        for (setup, cmd, keeps) in [
            ("rpush l a", "lpush l b", true),
            ("hset h f v", "hset h g w", true),
            ("sadd s a", "sadd s b", true),
            ("zadd z 1 a", "zadd z 2 b", true),
            ("sadd s a", "sunionstore s s2", false),
            ("zadd z 1 a", "zunionstore z 1 z2", false),
        ] {
            let key = setup.split(' ').nth(1).unwrap_or_default();
            k.cmd(&format!("del {key}"));
            k.run(setup);
            k.cmd("sadd s2 x");
            k.cmd("zadd z2 1 x");
            k.cmd(&format!("tag add {key} t"));
            k.run(cmd);
            let want = if keeps {
                bulks(&["t"])
            } else {
                "*0\r\n".into()
            };
            assert_eq!(k.cmd(&format!("tag get {key}")), want, "{cmd}");
            k.inst.ks.check_accounting();
        }
        tagged(&mut k, "n");
        k.cmd("incr n");
        k.cmd("del n");
        k.cmd("set n 1");
        assert_eq!(k.cmd("tag get n"), "*0\r\n", "a new key starts untagged");
        assert!(!keys_of(&mut k, "t").contains(&"n".to_string()));
    }

    #[test]
    fn rename_move_copy_swapdb_flush() {
        let mut k = Kit::new();
        k.cmd("set a 1");
        k.cmd("tag add a t u");
        k.cmd("rename a b");
        assert_eq!(k.cmd("tag get b"), bulks(&["t", "u"]));
        assert_eq!(keys_of(&mut k, "t"), ["b"]);
        k.cmd("set c 1");
        k.cmd("tag add c other");
        k.cmd("rename b c");
        assert_eq!(
            k.cmd("tag get c"),
            bulks(&["t", "u"]),
            "the target's tags go"
        );
        assert_eq!(k.int("tag count other"), 0);
        assert_eq!(k.int("copy c d"), 1);
        assert_eq!(k.cmd("tag get d"), bulks(&["t", "u"]), "COPY copies them");
        assert_eq!(k.int("copy c d db 1"), 1);
        assert_eq!(k.int("move c 2"), 1);
        assert_eq!(k.int("tag count t"), 1);
        k.cmd("select 2");
        assert_eq!(k.cmd("tag get c"), bulks(&["t", "u"]), "MOVE carries them");
        k.cmd("swapdb 2 3");
        assert_eq!(k.int("tag count t"), 0);
        k.cmd("select 3");
        assert_eq!(k.int("tag count t"), 1);
        k.cmd("flushdb");
        assert_eq!(k.int("tag count t"), 0);
        k.cmd("select 1");
        assert_eq!(k.cmd("tag get d"), bulks(&["t", "u"]));
        k.cmd("renamenx d d");
        assert_eq!(
            k.cmd("tag get d"),
            bulks(&["t", "u"]),
            "renaming onto itself"
        );
        k.cmd("flushall");
        k.inst.ks.check_accounting();
        assert_eq!(k.inst.ks.used_memory(), 0);
    }

    #[test]
    fn expiry_lazy_and_active_drops_tags() {
        let mut k = Kit::new();
        k.cmd("set a 1 px 100");
        k.cmd("set b 1 px 100");
        k.cmd("set c 1");
        k.cmd("tag add a t");
        k.cmd("tag add b t");
        k.cmd("tag add c t");
        k.clock_offset_ms = 1000;
        assert_eq!(keys_of(&mut k, "t"), ["c"], "expired keys are not listed");
        assert_eq!(k.int("tag count t"), 1);
        assert_eq!(k.cmd("get a"), "$-1\r\n");
        k.inst.ks.check_accounting();
        let now = k.now_ms();
        while k.inst.ks.active_expire(now, 1000).1 > 0 {}
        k.inst.ks.check_accounting();
        assert_eq!(k.cmd("tag list"), bulks(&["t"]));
        assert_eq!(k.int("tag invalidate t"), 1);
        assert_eq!(k.cmd("tag list"), "*0\r\n");
    }

    #[test]
    fn scan_returns_every_key_once() {
        let mut k = Kit::new();
        for i in 0..300 {
            k.cmd(&format!("set k{i} v"));
            k.cmd(&format!("tag add k{i} t"));
        }
        let mut seen = std::collections::BTreeSet::new();
        let mut cursor = "0".to_string();
        let mut calls = 0;
        loop {
            let r = k.cmd(&format!("tag scan t {cursor} count 7"));
            let lines: Vec<&str> = r.split("\r\n").collect();
            cursor = lines[2].to_string();
            for l in lines[4..]
                .iter()
                .filter(|l| !l.starts_with('$') && !l.is_empty())
            {
                assert!(seen.insert(l.to_string()), "{l} twice");
            }
            calls += 1;
            if cursor == "0" {
                break;
            }
            assert!(calls < 1000);
        }
        assert_eq!(seen.len(), 300);
        assert!(calls >= 300 / 7, "{calls}");
        let r = k.cmd("tag scan t 0 match k1? count 1000");
        assert!(r.starts_with("*2\r\n$1\r\n0\r\n*10\r\n"), "{r}");
        assert_eq!(k.cmd("tag scan nosuch 0"), "*2\r\n$1\r\n0\r\n*0\r\n");
        assert_eq!(k.cmd("tag scan t x"), "-ERR invalid cursor\r\n");
        assert_eq!(k.cmd("tag scan t 0 count 0"), "-ERR syntax error\r\n");
        assert_eq!(
            k.cmd("tag scan t 0 count x"),
            "-ERR value is not an integer or out of range\r\n"
        );
        assert_eq!(k.cmd("tag scan t 0 match"), "-ERR syntax error\r\n");
        assert_eq!(k.cmd("tag list a b"), "-ERR syntax error\r\n");
    }

    #[test]
    fn dispatch_arity_and_locks() {
        let mut k = Kit::new();
        assert_eq!(k.run("set a 1"), "+OK\r\n");
        assert_eq!(k.run("TAG ADD a x y"), ":2\r\n");
        assert_eq!(k.run("tag Get a"), bulks(&["x", "y"]));
        assert_eq!(k.run("tag keys x"), bulks(&["a"]));
        assert_eq!(
            k.run("tag add a"),
            "-ERR wrong number of arguments for 'tag|add' command\r\n"
        );
        assert_eq!(
            k.run("tag nosuch"),
            "-ERR unknown subcommand 'nosuch'. Try TAG HELP.\r\n"
        );
        assert_eq!(
            k.run("tag"),
            "-ERR wrong number of arguments for 'tag' command\r\n"
        );
        assert!(k.run("tag help").starts_with("*20\r\n+TAG <subcommand>"));
        assert_eq!(k.run("tag invalidate x"), ":1\r\n");
        assert_eq!(k.run("exists a"), ":0\r\n");
        assert_eq!(
            k.run("command getkeys tag add somekey t1 t2"),
            bulks(&["somekey"])
        );
        assert!(k.run("command info tag").contains("tag|invalidate"));
        // Inside a transaction: EXEC takes every shard for the queued invalidation.
        for line in [
            "set b 1",
            "multi",
            "tag add b y",
            "tag keys y",
            "tag invalidate y",
        ] {
            k.run(line);
        }
        assert_eq!(k.run("exec"), "*3\r\n:1\r\n*1\r\n$1\r\nb\r\n:1\r\n");
        assert_eq!(k.run("exists b"), ":0\r\n");
    }

    #[test]
    fn tag_bytes_count_toward_maxmemory() {
        let mut k = Kit::new();
        k.cmd("set a 1");
        let before = k.inst.ks.used_memory();
        k.cmd("tag add a some-tag another-tag");
        let after = k.inst.ks.used_memory();
        assert!(after > before + 100, "{before} -> {after}");
        k.inst.ks.check_accounting();
        k.cmd("tag remove a some-tag another-tag");
        assert_eq!(k.inst.ks.used_memory(), before);
    }

    #[test]
    fn eviction_drops_tags() {
        let mut k = Kit::new();
        k.inst.update_config(|c| c.tenant = true);
        assert_eq!(
            k.run("config set maxmemory-policy allkeys-random"),
            "+OK\r\n"
        );
        for i in 0..200 {
            k.run(&format!("set k{i} {}", "v".repeat(100)));
            k.run(&format!("tag add k{i} t"));
        }
        assert_eq!(k.run("config set maxmemory 20kb"), "+OK\r\n");
        k.run("ping");
        let left = k.int("dbsize");
        assert!(left < 200, "{left}");
        assert_eq!(k.int("tag count t"), left);
        k.inst.ks.check_accounting();
    }

    mod model {
        use std::collections::BTreeMap;

        use proptest::prelude::*;

        use super::super::super::util::testkit::Kit;

        const KEYS: [&str; 6] = ["a", "b", "c", "d", "e", "f"];
        const TAGS: [&str; 4] = ["t0", "t1", "t2", "t3"];

        #[derive(Clone, Debug)]
        enum Op {
            Set(usize),
            SetKeepTtl(usize),
            SetPx(usize, u64),
            Append(usize),
            Del(usize),
            Pexpire(usize, u64),
            Persist(usize),
            Rename(usize, usize),
            Copy(usize, usize),
            Flush,
            Add(usize, Vec<usize>),
            Remove(usize, Vec<usize>),
            Invalidate(Vec<usize>),
            /// Time passes by this many seconds.
            Tick(u64),
            ActiveExpire,
        }

        fn op() -> impl Strategy<Value = Op> {
            let k = 0..KEYS.len();
            let tags = proptest::collection::vec(0..TAGS.len(), 1..3);
            // TTLs end half a second off the ticks: the wall clock moving on during a
            // case never crosses an expiry the model does not expect.
            let ttl = (1u64..4).prop_map(|s| s * 1000 + 500);
            prop_oneof![
                3 => k.clone().prop_map(Op::Set),
                1 => k.clone().prop_map(Op::SetKeepTtl),
                2 => (k.clone(), ttl.clone()).prop_map(|(k, t)| Op::SetPx(k, t)),
                1 => k.clone().prop_map(Op::Append),
                1 => k.clone().prop_map(Op::Del),
                2 => (k.clone(), ttl).prop_map(|(k, t)| Op::Pexpire(k, t)),
                1 => k.clone().prop_map(Op::Persist),
                2 => (k.clone(), k.clone()).prop_map(|(a, b)| Op::Rename(a, b)),
                1 => (k.clone(), k.clone()).prop_map(|(a, b)| Op::Copy(a, b)),
                1 => Just(Op::Flush),
                5 => (k.clone(), tags.clone()).prop_map(|(k, t)| Op::Add(k, t)),
                2 => (k, tags.clone()).prop_map(|(k, t)| Op::Remove(k, t)),
                2 => tags.prop_map(Op::Invalidate),
                2 => (1u64..3).prop_map(Op::Tick),
                1 => Just(Op::ActiveExpire),
            ]
        }

        #[derive(Clone, Debug)]
        struct Key {
            expire_at: u64,
            tags: Vec<&'static str>,
        }

        #[derive(Default)]
        struct Model {
            keys: BTreeMap<&'static str, Key>,
        }

        impl Model {
            /// Drops the keys that have expired at `now`.
            fn expire(&mut self, now: u64) {
                self.keys
                    .retain(|_, k| k.expire_at == 0 || k.expire_at > now);
            }
        }

        fn names(r: &str) -> Vec<String> {
            let mut v: Vec<String> = r
                .split("\r\n")
                .skip(1)
                .filter(|l| !l.starts_with('$') && !l.is_empty())
                .map(str::to_string)
                .collect();
            v.sort();
            v
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(96))]
            /// Random SET/DEL/EXPIRE/RENAME/COPY/FLUSHDB/TAG sequences, with time
            /// passing and active expiry, against a model of keys and their tags.
            #[test]
            fn tags_follow_a_model(ops in proptest::collection::vec(op(), 1..60)) {
                let mut k = Kit::new();
                let mut m = Model::default();
                for o in &ops {
                    let now = k.now_ms();
                    m.expire(now);
                    match o {
                        Op::Set(i) => {
                            k.cmd(&format!("set {} v", KEYS[*i]));
                            m.keys.insert(KEYS[*i], Key { expire_at: 0, tags: vec![] });
                        }
                        Op::SetKeepTtl(i) => {
                            k.cmd(&format!("set {} v keepttl", KEYS[*i]));
                            m.keys.entry(KEYS[*i]).or_insert(Key { expire_at: 0, tags: vec![] });
                        }
                        Op::SetPx(i, ms) => {
                            k.cmd(&format!("set {} v px {ms}", KEYS[*i]));
                            m.keys.insert(KEYS[*i], Key { expire_at: now + ms, tags: vec![] });
                        }
                        Op::Append(i) => {
                            k.cmd(&format!("append {} x", KEYS[*i]));
                            m.keys.entry(KEYS[*i]).or_insert(Key { expire_at: 0, tags: vec![] });
                        }
                        Op::Del(i) => {
                            let r = k.int(&format!("del {}", KEYS[*i]));
                            prop_assert_eq!(r, i64::from(m.keys.remove(KEYS[*i]).is_some()));
                        }
                        Op::Pexpire(i, ms) => {
                            k.cmd(&format!("pexpire {} {ms}", KEYS[*i]));
                            if let Some(key) = m.keys.get_mut(KEYS[*i]) {
                                key.expire_at = now + ms;
                            }
                        }
                        Op::Persist(i) => {
                            k.cmd(&format!("persist {}", KEYS[*i]));
                            if let Some(key) = m.keys.get_mut(KEYS[*i]) {
                                key.expire_at = 0;
                            }
                        }
                        Op::Rename(a, b) => {
                            let r = k.cmd(&format!("rename {} {}", KEYS[*a], KEYS[*b]));
                            match m.keys.remove(KEYS[*a]) {
                                Some(key) => {
                                    prop_assert_eq!(r, "+OK\r\n");
                                    m.keys.insert(KEYS[*b], key);
                                }
                                None => prop_assert_eq!(r, "-ERR no such key\r\n"),
                            }
                        }
                        Op::Copy(a, b) => {
                            let r = k.cmd(&format!("copy {} {}", KEYS[*a], KEYS[*b]));
                            if a == b {
                                prop_assert!(r.starts_with("-ERR"));
                            } else {
                                let src = m.keys.get(KEYS[*a]).cloned();
                                let copied = src.is_some() && !m.keys.contains_key(KEYS[*b]);
                                prop_assert_eq!(r, if copied { ":1\r\n" } else { ":0\r\n" });
                                if let (true, Some(key)) = (copied, src) {
                                    m.keys.insert(KEYS[*b], key);
                                }
                            }
                        }
                        Op::Flush => {
                            k.cmd("flushdb");
                            m.keys.clear();
                        }
                        Op::Add(i, ts) => {
                            let line: Vec<&str> = ts.iter().map(|t| TAGS[*t]).collect();
                            let r = k.int(&format!("tag add {} {}", KEYS[*i], line.join(" ")));
                            let mut added = 0;
                            if let Some(key) = m.keys.get_mut(KEYS[*i]) {
                                for t in &line {
                                    if !key.tags.contains(t) {
                                        key.tags.push(t);
                                        added += 1;
                                    }
                                }
                            }
                            prop_assert_eq!(r, added);
                        }
                        Op::Remove(i, ts) => {
                            let line: Vec<&str> = ts.iter().map(|t| TAGS[*t]).collect();
                            let r = k.int(&format!("tag remove {} {}", KEYS[*i], line.join(" ")));
                            let mut removed = 0;
                            if let Some(key) = m.keys.get_mut(KEYS[*i]) {
                                for t in &line {
                                    if let Some(p) = key.tags.iter().position(|x| x == t) {
                                        key.tags.remove(p);
                                        removed += 1;
                                    }
                                }
                            }
                            prop_assert_eq!(r, removed);
                        }
                        Op::Invalidate(ts) => {
                            let line: Vec<&str> = ts.iter().map(|t| TAGS[*t]).collect();
                            let r = k.int(&format!("tag invalidate {}", line.join(" ")));
                            let before = m.keys.len();
                            m.keys.retain(|_, key| !key.tags.iter().any(|t| line.contains(t)));
                            prop_assert_eq!(r, (before - m.keys.len()) as i64);
                        }
                        Op::Tick(s) => k.clock_offset_ms += (*s * 1000) as i64,
                        Op::ActiveExpire => {
                            let now = k.now_ms();
                            while k.inst.ks.active_expire(now, 1000).1 > 0 {}
                        }
                    }
                    k.inst.ks.check_accounting();
                    m.expire(k.now_ms());
                    for key in KEYS {
                        let got = names(&k.cmd(&format!("tag get {key}")));
                        let mut want: Vec<String> = m
                            .keys
                            .get(key)
                            .map(|x| x.tags.iter().map(|t| t.to_string()).collect())
                            .unwrap_or_default();
                        want.sort();
                        prop_assert_eq!(got, want, "tags of {} after {:?}", key, o);
                    }
                    for tag in TAGS {
                        let got = names(&k.cmd(&format!("tag keys {tag}")));
                        let want: Vec<String> = m
                            .keys
                            .iter()
                            .filter(|(_, x)| x.tags.contains(&tag))
                            .map(|(n, _)| n.to_string())
                            .collect();
                        prop_assert_eq!(&got, &want, "keys of {} after {:?}", tag, o);
                        prop_assert_eq!(k.int(&format!("tag count {tag}")), want.len() as i64);
                    }
                    prop_assert_eq!(k.int("dbsize") as usize >= m.keys.len(), true);
                }
            }
        }
    }
}
