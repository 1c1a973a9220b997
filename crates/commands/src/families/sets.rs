//! The set family: membership (SADD, SREM, SISMEMBER, SMISMEMBER, SMOVE), reads
//! (SMEMBERS, SCARD, SSCAN), random picks (SPOP, SRANDMEMBER) and the algebra (SINTER,
//! SINTERCARD, SUNION, SDIFF and their STORE forms), with Redis 7.0's replies, error
//! messages and checking order.
//!
//! Sets keep Redis 7.0's encodings (see `engine::types::set`): an intset while every
//! member is an integer and there are at most `set-max-intset-entries` of them, else a
//! hash table. Intsets iterate in ascending order, as Redis replies for them.
//!
//! Multi-key commands look every key up first (a key of another type fails the command
//! even after a missing one, as in 7.0), then work on one set at a time: shard borrows are
//! exclusive, so candidates are copied out of the first set and filtered by the others.

use engine::types::{Elem, Set};
use engine::Value;
use rand::Rng;
use resp::ReplyWriter;

use super::collection::{self, bulk, Look};
use super::hashes::{scan_options, scan_reply};
use super::util::{eq_ic, glob_match, new_entry, parse_cursor, parse_i64, touches};
use crate::ctx::Ctx;
use crate::errors;
use crate::pubsub::class;
use crate::spec::Handler;

/// (spec name, handler) for every command this family serves.
pub fn handlers() -> Vec<(&'static str, Handler)> {
    vec![
        ("sadd", sadd),
        ("srem", srem),
        ("sismember", sismember),
        ("smismember", smismember),
        ("smembers", smembers),
        ("scard", scard),
        ("spop", spop),
        ("srandmember", srandmember),
        ("smove", smove),
        ("sinter", sinter),
        ("sintercard", sintercard),
        ("sinterstore", sinterstore),
        ("sunion", sunion),
        ("sunionstore", sunionstore),
        ("sdiff", sdiff),
        ("sdiffstore", sdiffstore),
        ("sscan", sscan),
    ]
}

// ---------------------------------------------------------------------------------------
// Shared pieces
// ---------------------------------------------------------------------------------------

/// Reads the set at `key` (see [`collection::read`]).
fn read<T>(
    ctx: &mut Ctx<'_, '_>,
    key: &[u8],
    f: impl FnOnce(&mut ReplyWriter, &Set) -> T,
) -> Look<T> {
    collection::read(ctx, key, f)
}

/// Writes the set at `key`, creating it if `create` (see [`collection::write`]).
fn write<T>(
    ctx: &mut Ctx<'_, '_>,
    key: &[u8],
    create: bool,
    f: impl FnOnce(&mut Set, &mut ReplyWriter) -> T,
) -> Look<T> {
    collection::write(ctx, key, create, f)
}

/// Most members an intset holds: `set-max-intset-entries`.
fn max_intset(ctx: &Ctx<'_, '_>) -> usize {
    usize::try_from(ctx.inst.config.read().set_max_intset_entries).unwrap_or(usize::MAX)
}

/// A member copied out of a set.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Member {
    Int(i64),
    Str(Vec<u8>),
}

impl Member {
    fn of(e: Elem<'_>) -> Member {
        match e {
            Elem::Int(n) => Member::Int(n),
            Elem::Str(s) => Member::Str(s.to_vec()),
        }
    }

    fn elem(&self) -> Elem<'_> {
        match self {
            Member::Int(n) => Elem::Int(*n),
            Member::Str(s) => Elem::Str(s),
        }
    }
}

/// Writes every member of `s` as a set reply (an array in RESP2).
fn reply_members(out: &mut ReplyWriter, s: &Set) {
    out.set(s.len());
    s.for_each_elem(|m| bulk(out, m));
}

// ---------------------------------------------------------------------------------------
// Membership
// ---------------------------------------------------------------------------------------

/// SADD key member [member ...]
fn sadd(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]]) {
    let max = max_intset(ctx);
    let members = &argv[2..];
    match write(ctx, argv[1], true, |s, _| {
        members.iter().filter(|m| s.add(m, max)).count()
    }) {
        Look::Found(n) => {
            if n > 0 {
                ctx.notify(class::SET, "sadd", argv[1]);
            }
            ctx.out.int(n as i64)
        }
        _ => ctx.error(errors::WRONGTYPE),
    }
}

/// SREM key member [member ...]
fn srem(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]]) {
    let members = &argv[2..];
    match write(ctx, argv[1], false, |s, _| {
        let mut n = 0;
        for m in members {
            if s.remove(m) {
                n += 1;
                if s.is_empty() {
                    break;
                }
            }
        }
        n
    }) {
        Look::Found(n) => {
            if n > 0 {
                removed_event(ctx, "srem", argv[1]);
            }
            ctx.out.int(n)
        }
        Look::Missing => ctx.out.int(0),
        Look::WrongType => ctx.error(errors::WRONGTYPE),
    }
}

/// After a removal from the set at `key`: `event`, and `del` if it is gone.
fn removed_event(ctx: &mut Ctx<'_, '_>, event: &str, key: &[u8]) {
    ctx.notify(class::SET, event, key);
    if ctx.inst.notify_flags() != 0 {
        let (db, now) = (ctx.db(), ctx.now_ms);
        if !ctx.ks.exists(db, key, now) {
            ctx.notify(class::GENERIC, "del", key);
        }
    }
}

/// SISMEMBER key member
fn sismember(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]]) {
    match read(ctx, argv[1], |_, s| s.contains(argv[2])) {
        Look::Found(yes) => ctx.out.int(i64::from(yes)),
        Look::Missing => ctx.out.int(0),
        Look::WrongType => ctx.error(errors::WRONGTYPE),
    }
}

/// SMISMEMBER key member [member ...]
fn smismember(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]]) {
    let members = &argv[2..];
    match read(ctx, argv[1], |out, s| {
        out.array(members.len());
        members
            .iter()
            .for_each(|m| out.int(i64::from(s.contains(m))));
    }) {
        Look::Found(()) => {}
        Look::Missing => {
            ctx.out.array(members.len());
            members.iter().for_each(|_| ctx.out.int(0));
        }
        Look::WrongType => ctx.error(errors::WRONGTYPE),
    }
}

/// SMOVE source destination member
fn smove(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]]) {
    let (src, dst, member) = (argv[1], argv[2], argv[3]);
    let (db, now) = (ctx.db(), ctx.now_ms);
    // Both keys are looked up (and expired) first; a missing source answers 0 whatever
    // the destination holds.
    let src_kind = ctx
        .ks
        .get_for_write(db, src, now)
        .map(|e| matches!(e.value, Value::Set(_)));
    let dst_kind = ctx
        .ks
        .get_for_write(db, dst, now)
        .map(|e| matches!(e.value, Value::Set(_)));
    match (src_kind, dst_kind) {
        (None, _) => return ctx.out.int(0),
        (Some(false), _) | (_, Some(false)) => return ctx.error(errors::WRONGTYPE),
        _ => {}
    }
    if src == dst {
        let yes = with_set(ctx, src, |s| s.contains(member)).unwrap_or(false);
        return ctx.out.int(i64::from(yes));
    }
    if !matches!(
        write(ctx, src, false, |s, _| s.remove(member)),
        Look::Found(true)
    ) {
        return ctx.out.int(0);
    }
    removed_event(ctx, "srem", src);
    let max = max_intset(ctx);
    if matches!(
        write(ctx, dst, true, |s, _| s.add(member, max)),
        Look::Found(true)
    ) {
        ctx.notify(class::SET, "sadd", dst);
    }
    ctx.out.int(1);
}

// ---------------------------------------------------------------------------------------
// Reads
// ---------------------------------------------------------------------------------------

/// SMEMBERS key: a set in RESP3.
fn smembers(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]]) {
    match read(ctx, argv[1], reply_members) {
        Look::Found(()) => {}
        Look::Missing => ctx.out.set(0),
        Look::WrongType => ctx.error(errors::WRONGTYPE),
    }
}

/// SCARD key
fn scard(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]]) {
    match read(ctx, argv[1], |_, s| s.len()) {
        Look::Found(n) => ctx.out.int(n as i64),
        Look::Missing => ctx.out.int(0),
        Look::WrongType => ctx.error(errors::WRONGTYPE),
    }
}

/// SSCAN key cursor [MATCH pattern] [COUNT count]
fn sscan(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]]) {
    let Some(cursor) = parse_cursor(argv[2]) else {
        return ctx.error(errors::INVALID_CURSOR);
    };
    let opts = &argv[3..];
    let r = read(ctx, argv[1], |out, s| {
        let (pattern, count) = scan_options(opts)?;
        let mut body = ReplyWriter::default();
        let mut n = 0;
        let next = s.scan(cursor, count, |m| {
            if let Some(p) = pattern {
                if !m.with_bytes(|b| glob_match(p, b, false)) {
                    return;
                }
            }
            bulk(&mut body, m);
            n += 1;
        });
        scan_reply(out, next, n, &body);
        Ok(())
    });
    match r {
        Look::Found(Ok(())) => {}
        Look::Found(Err(msg)) => ctx.error(msg),
        Look::Missing => scan_reply(ctx.out, 0, 0, &ReplyWriter::default()),
        Look::WrongType => ctx.error(errors::WRONGTYPE),
    }
}

// ---------------------------------------------------------------------------------------
// Random members
// ---------------------------------------------------------------------------------------

/// SPOP key [count]
fn spop(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]]) {
    if argv.len() > 3 {
        return ctx.error(errors::SYNTAX);
    }
    if argv.len() == 2 {
        return match write(ctx, argv[1], false, |s, out| {
            let i = rand::thread_rng().gen_range(0..s.len());
            out.bulk(&s.remove_at(i));
        }) {
            Look::Found(()) => removed_event(ctx, "spop", argv[1]),
            Look::Missing => ctx.out.null(),
            Look::WrongType => ctx.error(errors::WRONGTYPE),
        };
    }
    let count = match parse_i64(argv[2]) {
        Some(n) if n >= 0 => n as u64,
        _ => return ctx.error(errors::MUST_BE_POSITIVE),
    };
    match write(ctx, argv[1], false, |s, out| {
        let size = s.len() as u64;
        if count >= size {
            // The whole set: reply with it, and the key goes.
            reply_members(out, s);
            *s = Set::new();
            return Some("del");
        }
        out.set(count as usize);
        let mut rng = rand::thread_rng();
        for _ in 0..count {
            let i = rng.gen_range(0..s.len());
            out.bulk(&s.remove_at(i));
        }
        (count > 0).then_some("spop")
    }) {
        // Redis tells "spop" for any count > 0, then "del" when the whole set went.
        Look::Found(Some(ev)) => {
            ctx.notify(class::SET, "spop", argv[1]);
            if ev == "del" {
                ctx.notify(class::GENERIC, "del", argv[1]);
            }
        }
        Look::Found(None) => {}
        Look::Missing => ctx.out.set(0),
        Look::WrongType => ctx.error(errors::WRONGTYPE),
    }
}

/// SRANDMEMBER key [count]: with a count, an array (RESP3 too, as 7.0 replies).
fn srandmember(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]]) {
    if argv.len() > 3 {
        return ctx.error(errors::SYNTAX);
    }
    if argv.len() == 2 {
        return match read(ctx, argv[1], |out, s| {
            let i = rand::thread_rng().gen_range(0..s.len());
            bulk(out, s.member_at(i));
        }) {
            Look::Found(()) => {}
            Look::Missing => ctx.out.null(),
            Look::WrongType => ctx.error(errors::WRONGTYPE),
        };
    }
    let count = match parse_i64(argv[2]) {
        None => return ctx.error(errors::NOT_INTEGER),
        Some(i64::MIN) => return ctx.error(errors::LONG_OUT_OF_RANGE),
        Some(n) => n,
    };
    match read(ctx, argv[1], |out, s| {
        let size = s.len();
        let n = count.unsigned_abs() as usize;
        let mut rng = rand::thread_rng();
        if count < 0 {
            out.array(n);
            for _ in 0..n {
                bulk(out, s.member_at(rng.gen_range(0..size)));
            }
        } else if n >= size {
            out.array(size);
            s.for_each_elem(|m| bulk(out, m));
        } else {
            let mut picked = rand::seq::index::sample(&mut rng, size, n).into_vec();
            if s.encoding() == "intset" {
                picked.sort_unstable();
            }
            out.array(n);
            for i in picked {
                bulk(out, s.member_at(i));
            }
        }
    }) {
        Look::Found(()) => {}
        Look::Missing => ctx.out.array(0),
        Look::WrongType => ctx.error(errors::WRONGTYPE),
    }
}

// ---------------------------------------------------------------------------------------
// Set algebra
// ---------------------------------------------------------------------------------------

/// Looks every key up, in order: the size of each set, `None` for a missing key; `Err`
/// at the first key holding another type. Reads count keyspace hits and misses and
/// touch the keys; the STORE forms look up as writes do (no hit/miss counting).
fn lookup_all(
    ctx: &mut Ctx<'_, '_>,
    keys: &[&[u8]],
    store: bool,
) -> Result<Vec<Option<usize>>, ()> {
    let (db, now) = (ctx.db(), ctx.now_ms);
    let touch = if store {
        Some(ctx.access)
    } else {
        touches(ctx)
    };
    let mut sizes = Vec::with_capacity(keys.len());
    for &k in keys {
        let e = if store {
            ctx.ks.get_for_write(db, k, now)
        } else {
            ctx.ks.get(db, k, now)
        };
        match e {
            None => sizes.push(None),
            Some(mut e) => {
                if let Some(c) = &touch {
                    e.touch(c);
                }
                match &e.value {
                    Value::Set(s) => sizes.push(Some(s.len())),
                    _ => return Err(()),
                }
            }
        }
    }
    Ok(sizes)
}

/// Runs `f` on the set at `key`, already looked up by [`lookup_all`] (no statistics).
fn with_set<T>(ctx: &mut Ctx<'_, '_>, key: &[u8], f: impl FnOnce(&Set) -> T) -> Option<T> {
    let (db, now) = (ctx.db(), ctx.now_ms);
    let e = ctx.ks.get_for_write(db, key, now)?;
    match &e.value {
        Value::Set(s) => Some(f(s)),
        _ => None,
    }
}

/// The members all sets at `keys` share, in the order of the smallest set; `None` when
/// a key holds another type. Every key must exist (see [`lookup_all`]).
fn intersection(ctx: &mut Ctx<'_, '_>, keys: &[&[u8]], sizes: &[usize]) -> Vec<Member> {
    // Smallest first; among equal sizes the first given (Redis's qsort is a stable
    // merge sort on glibc).
    let mut order: Vec<usize> = (0..keys.len()).collect();
    order.sort_by_key(|&i| sizes[i]);
    let first = keys[order[0]];
    let mut cands: Vec<Member> = with_set(ctx, first, |s| {
        let mut v = Vec::with_capacity(s.len());
        s.for_each_elem(|m| v.push(Member::of(m)));
        v
    })
    .unwrap_or_default();
    for &i in &order[1..] {
        if cands.is_empty() {
            break;
        }
        if keys[i] == first {
            continue;
        }
        with_set(ctx, keys[i], |s| {
            cands.retain(|m| s.contains_elem(m.elem()))
        });
    }
    cands
}

/// A set holding `members`, built as Redis builds a STORE result (an intset while it
/// can be one).
fn build(members: impl IntoIterator<Item = Member>, max: usize) -> Set {
    let mut s = Set::new();
    for m in members {
        s.add_elem(m.elem(), max);
    }
    s
}

/// Replaces `dst` with `result` (or deletes it when `result` is empty) and replies with
/// the result's size.
fn store(ctx: &mut Ctx<'_, '_>, dst: &[u8], result: Set, event: &str) {
    let (db, now) = (ctx.db(), ctx.now_ms);
    let n = result.len();
    let existed = ctx.ks.remove(db, dst, now).is_some();
    if n > 0 {
        ctx.ks
            .insert(db, new_entry(dst, Value::Set(result), &ctx.access), now);
        ctx.notify(class::SET, event, dst);
    } else if existed {
        ctx.notify(class::GENERIC, "del", dst);
    }
    ctx.out.int(n as i64);
}

/// SINTER key [key ...]: a set in RESP3.
fn sinter(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]]) {
    let keys = &argv[1..];
    let Ok(sizes) = lookup_all(ctx, keys, false) else {
        return ctx.error(errors::WRONGTYPE);
    };
    let Some(sizes) = sizes.into_iter().collect::<Option<Vec<usize>>>() else {
        return ctx.out.set(0);
    };
    let result = intersection(ctx, keys, &sizes);
    ctx.out.set(result.len());
    for m in &result {
        bulk(ctx.out, m.elem());
    }
}

/// SINTERSTORE destination key [key ...]
fn sinterstore(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]]) {
    let keys = &argv[2..];
    let Ok(sizes) = lookup_all(ctx, keys, true) else {
        return ctx.error(errors::WRONGTYPE);
    };
    let result = match sizes.into_iter().collect::<Option<Vec<usize>>>() {
        Some(sizes) => intersection(ctx, keys, &sizes),
        None => Vec::new(),
    };
    let set = build(result, max_intset(ctx));
    store(ctx, argv[1], set, "sinterstore");
}

/// SINTERCARD numkeys key [key ...] [LIMIT limit]
fn sintercard(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]]) {
    let numkeys = match parse_i64(argv[1]) {
        Some(n) if n > 0 => n as u64,
        _ => return ctx.error(errors::NUMKEYS_NOT_POSITIVE),
    };
    if numkeys > (argv.len() - 2) as u64 {
        return ctx.error(errors::NUMKEYS_TOO_MANY);
    }
    let end = 2 + numkeys as usize;
    let mut limit = 0u64;
    let mut i = end;
    while i < argv.len() {
        if eq_ic(argv[i], b"limit") && i + 1 < argv.len() {
            match parse_i64(argv[i + 1]) {
                Some(n) if n >= 0 => limit = n as u64,
                _ => return ctx.error(errors::LIMIT_NEGATIVE),
            }
            i += 2;
        } else {
            return ctx.error(errors::SYNTAX);
        }
    }
    let keys = &argv[2..end];
    let Ok(sizes) = lookup_all(ctx, keys, false) else {
        return ctx.error(errors::WRONGTYPE);
    };
    let card = match sizes.into_iter().collect::<Option<Vec<usize>>>() {
        Some(sizes) => intersection(ctx, keys, &sizes).len() as u64,
        None => 0,
    };
    let card = if limit > 0 { card.min(limit) } else { card };
    ctx.out.int(card as i64);
}

/// SUNION or SDIFF of the sets at `keys` (missing keys are empty sets), built as Redis
/// builds it, so the reply order of an all-integer result (ascending) matches.
fn union_or_diff(ctx: &mut Ctx<'_, '_>, keys: &[&[u8]], diff: bool, store: bool) -> Option<Set> {
    let sizes = lookup_all(ctx, keys, store).ok()?;
    let max = max_intset(ctx);
    if !diff {
        let mut result = Set::new();
        for (k, size) in keys.iter().zip(&sizes) {
            if size.is_some() {
                with_set(ctx, k, |s| {
                    s.for_each_elem(|m| {
                        result.add_elem(m, max);
                    })
                });
            }
        }
        return Some(result);
    }
    if sizes[0].is_none() {
        return Some(Set::new());
    }
    let mut cands: Vec<Member> = with_set(ctx, keys[0], |s| {
        let mut v = Vec::with_capacity(s.len());
        s.for_each_elem(|m| v.push(Member::of(m)));
        v
    })
    .unwrap_or_default();
    for (k, size) in keys.iter().zip(&sizes).skip(1) {
        if cands.is_empty() {
            break;
        }
        if size.is_some() {
            with_set(ctx, k, |s| cands.retain(|m| !s.contains_elem(m.elem())));
        }
    }
    Some(build(cands, max))
}

fn union_or_diff_reply(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]], diff: bool) {
    match union_or_diff(ctx, &argv[1..], diff, false) {
        Some(s) => reply_members(ctx.out, &s),
        None => ctx.error(errors::WRONGTYPE),
    }
}

fn union_or_diff_store(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]], diff: bool) {
    match union_or_diff(ctx, &argv[2..], diff, true) {
        Some(s) => store(
            ctx,
            argv[1],
            s,
            if diff { "sdiffstore" } else { "sunionstore" },
        ),
        None => ctx.error(errors::WRONGTYPE),
    }
}

/// SUNION key [key ...]
fn sunion(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]]) {
    union_or_diff_reply(ctx, argv, false);
}

/// SUNIONSTORE destination key [key ...]
fn sunionstore(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]]) {
    union_or_diff_store(ctx, argv, false);
}

/// SDIFF key [key ...]
fn sdiff(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]]) {
    union_or_diff_reply(ctx, argv, true);
}

/// SDIFFSTORE destination key [key ...]
fn sdiffstore(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]]) {
    union_or_diff_store(ctx, argv, true);
}

#[cfg(test)]
mod tests {
    use super::super::util::testkit::Kit;
    use resp::Protocol;

    const WRONGTYPE: &str =
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n";

    fn bulks(items: &[&str]) -> String {
        let mut s = format!("*{}\r\n", items.len());
        for i in items {
            s.push_str(&format!("${}\r\n{i}\r\n", i.len()));
        }
        s
    }

    /// The bulk strings of a flat reply, sorted.
    fn sorted(reply: &str) -> Vec<String> {
        let mut v: Vec<String> = reply
            .split("\r\n")
            .skip(1)
            .filter(|l| !l.starts_with('$') && !l.is_empty())
            .map(str::to_string)
            .collect();
        v.sort();
        v
    }

    #[test]
    fn add_remove_members() {
        let mut k = Kit::new();
        assert_eq!(k.int("sadd s 3 1 2 1"), 3);
        assert_eq!(k.int("sadd s 2 4"), 1);
        assert_eq!(
            k.cmd("smembers s"),
            bulks(&["1", "2", "3", "4"]),
            "intsets ascend"
        );
        assert_eq!(k.cmd("object encoding s"), "$6\r\nintset\r\n");
        assert_eq!(k.int("scard s"), 4);
        assert_eq!(k.int("sismember s 2"), 1);
        assert_eq!(k.int("sismember s 02"), 0);
        assert_eq!(k.int("sismember nokey 2"), 0);
        assert_eq!(k.cmd("smismember s 1 9 4"), "*3\r\n:1\r\n:0\r\n:1\r\n");
        assert_eq!(k.cmd("smismember nokey 1 2"), "*2\r\n:0\r\n:0\r\n");
        assert_eq!(k.int("srem s 1 9 1"), 1);
        assert_eq!(k.int("srem nokey 1"), 0);
        assert_eq!(k.int("sadd s a"), 1);
        assert_eq!(k.cmd("object encoding s"), "$9\r\nhashtable\r\n");
        assert_eq!(k.int("srem s 2 3 4 a x"), 4);
        assert_eq!(k.int("exists s"), 0, "an emptied set is deleted");
        assert_eq!(k.cmd("smembers s"), "*0\r\n");
        k.out.set_protocol(Protocol::Resp3);
        assert_eq!(k.cmd("smembers s"), "~0\r\n");
        k.cmd("sadd t 1");
        assert_eq!(k.cmd("smembers t"), "~1\r\n$1\r\n1\r\n");
    }

    #[test]
    fn intset_limit() {
        let mut k = Kit::new();
        for i in 0..512 {
            k.cmd(&format!("sadd s {i}"));
        }
        assert_eq!(k.cmd("object encoding s"), "$6\r\nintset\r\n");
        k.cmd("sadd s 512");
        assert_eq!(k.cmd("object encoding s"), "$9\r\nhashtable\r\n");
    }

    #[test]
    fn wrong_types() {
        let mut k = Kit::new();
        k.cmd("set str x");
        k.cmd("sadd s 1");
        for line in [
            "sadd str a",
            "srem str a",
            "sismember str a",
            "smismember str a",
            "smembers str",
            "scard str",
            "spop str",
            "spop str 2",
            "srandmember str",
            "srandmember str 2",
            "smove str s a",
            "smove s str 1",
            "sinter s str",
            "sinter nokey str",
            "sintercard 2 nokey str",
            "sinterstore d nokey str",
            "sunion str",
            "sunionstore d s str",
            "sdiff nokey str",
            "sdiffstore d s str",
            "sscan str 0",
        ] {
            assert_eq!(k.cmd(line), WRONGTYPE, "{line}");
        }
        assert_eq!(k.int("exists d"), 0);
        assert_eq!(k.int("smove nokey str 1"), 0, "a missing source wins");
    }

    #[test]
    fn smove() {
        let mut k = Kit::new();
        k.cmd("sadd a 1 2");
        assert_eq!(k.int("smove a b 1"), 1);
        assert_eq!(k.int("smove a b 9"), 0);
        assert_eq!(k.int("smove a a 2"), 1);
        assert_eq!(k.int("smove a a 9"), 0);
        assert_eq!(k.int("smove a b 2"), 1);
        assert_eq!(k.int("exists a"), 0);
        assert_eq!(k.cmd("smembers b"), bulks(&["1", "2"]));
        assert_eq!(k.cmd("object encoding b"), "$6\r\nintset\r\n");
        k.cmd("sadd c x");
        assert_eq!(k.int("smove c b x"), 1);
        assert_eq!(k.cmd("object encoding b"), "$9\r\nhashtable\r\n");
    }

    #[test]
    fn spop_and_srandmember() {
        let mut k = Kit::new();
        assert_eq!(k.cmd("spop nokey"), "$-1\r\n");
        assert_eq!(k.cmd("spop nokey 3"), "*0\r\n");
        assert_eq!(k.cmd("srandmember nokey"), "$-1\r\n");
        assert_eq!(k.cmd("srandmember nokey 3"), "*0\r\n");
        k.cmd("sadd s 1 2 3 4 5");
        assert_eq!(k.cmd("spop s 1 2"), "-ERR syntax error\r\n");
        assert_eq!(
            k.cmd("spop s -1"),
            "-ERR value is out of range, must be positive\r\n"
        );
        assert_eq!(
            k.cmd("spop s x"),
            "-ERR value is out of range, must be positive\r\n"
        );
        assert_eq!(k.cmd("srandmember s 1 2"), "-ERR syntax error\r\n");
        assert_eq!(
            k.cmd("srandmember s x"),
            "-ERR value is not an integer or out of range\r\n"
        );
        assert_eq!(k.cmd("spop s 0"), "*0\r\n");
        assert_eq!(k.cmd("srandmember s 0"), "*0\r\n");
        assert_eq!(k.cmd("srandmember s 9"), bulks(&["1", "2", "3", "4", "5"]));
        assert_eq!(sorted(&k.cmd("srandmember s 5")), ["1", "2", "3", "4", "5"]);
        let three = sorted(&k.cmd("srandmember s 3"));
        assert_eq!(three.len(), 3);
        assert!(three.windows(2).all(|w| w[0] != w[1]), "distinct");
        assert!(k.cmd("srandmember s -20").starts_with("*20\r\n"));
        let popped = sorted(&k.cmd("spop s 2"));
        assert_eq!(popped.len(), 2);
        assert_eq!(k.int("scard s"), 3);
        for m in &popped {
            assert_eq!(k.int(&format!("sismember s {m}")), 0);
        }
        let one = k.cmd("spop s");
        assert!(one.starts_with("$1\r\n"));
        assert_eq!(k.int("scard s"), 2);
        assert_eq!(sorted(&k.cmd("spop s 5")).len(), 2);
        assert_eq!(k.int("exists s"), 0);
        // A hashtable set, popped to the end one member at a time.
        for i in 0..100 {
            k.cmd(&format!("sadd big m{i}"));
        }
        let mut seen = std::collections::HashSet::new();
        for _ in 0..100 {
            assert!(seen.insert(k.cmd("spop big")));
        }
        assert_eq!(k.int("exists big"), 0);
        k.out.set_protocol(Protocol::Resp3);
        k.cmd("sadd s 1 2");
        assert_eq!(k.cmd("spop nokey 2"), "~0\r\n");
        assert_eq!(
            k.cmd("srandmember s 2"),
            bulks(&["1", "2"]),
            "an array in RESP3 too"
        );
        assert_eq!(k.cmd("spop s 2"), "~2\r\n$1\r\n1\r\n$1\r\n2\r\n");
    }

    #[test]
    fn algebra() {
        let mut k = Kit::new();
        k.cmd("sadd a 1 2 3 4");
        k.cmd("sadd b 3 4 5");
        k.cmd("sadd c 4 x 3");
        assert_eq!(k.cmd("sinter a b"), bulks(&["3", "4"]));
        assert_eq!(sorted(&k.cmd("sinter a b c")), ["3", "4"]);
        assert_eq!(k.cmd("sinter a nokey"), "*0\r\n");
        assert_eq!(k.cmd("sinter a a"), bulks(&["1", "2", "3", "4"]));
        assert_eq!(k.int("sintercard 2 a b"), 2);
        assert_eq!(k.int("sintercard 3 a b c limit 1"), 1);
        assert_eq!(k.int("sintercard 2 a b limit 0"), 2);
        assert_eq!(k.int("sintercard 2 a nokey"), 0);
        assert_eq!(
            k.cmd("sintercard 0 a"),
            "-ERR numkeys should be greater than 0\r\n"
        );
        assert_eq!(
            k.cmd("sintercard x a"),
            "-ERR numkeys should be greater than 0\r\n"
        );
        assert_eq!(
            k.cmd("sintercard 3 a b"),
            "-ERR Number of keys can't be greater than number of args\r\n"
        );
        assert_eq!(
            k.cmd("sintercard 1 a limit -1"),
            "-ERR LIMIT can't be negative\r\n"
        );
        assert_eq!(k.cmd("sintercard 1 a limit"), "-ERR syntax error\r\n");
        assert_eq!(k.cmd("sintercard 1 a foo 1"), "-ERR syntax error\r\n");
        assert_eq!(k.cmd("sunion a b"), bulks(&["1", "2", "3", "4", "5"]));
        assert_eq!(k.cmd("sunion nokey"), "*0\r\n");
        assert_eq!(sorted(&k.cmd("sunion a c")), ["1", "2", "3", "4", "x"]);
        assert_eq!(k.cmd("sdiff a b"), bulks(&["1", "2"]));
        assert_eq!(k.cmd("sdiff a b nokey"), bulks(&["1", "2"]));
        assert_eq!(k.cmd("sdiff nokey a"), "*0\r\n");
        assert_eq!(k.cmd("sdiff a a"), "*0\r\n");
        assert_eq!(k.cmd("sdiff c a"), bulks(&["x"]));

        assert_eq!(k.int("sinterstore d a b"), 2);
        assert_eq!(k.cmd("smembers d"), bulks(&["3", "4"]));
        assert_eq!(k.cmd("object encoding d"), "$6\r\nintset\r\n");
        assert_eq!(k.int("sunionstore d a c"), 5);
        assert_eq!(k.cmd("object encoding d"), "$9\r\nhashtable\r\n");
        assert_eq!(k.int("sdiffstore d c a"), 1);
        assert_eq!(k.cmd("smembers d"), bulks(&["x"]));
        k.cmd("set str v");
        k.cmd("expire d 100");
        assert_eq!(k.int("sinterstore d a nokey"), 0);
        assert_eq!(
            k.int("exists d"),
            0,
            "an empty result deletes the destination"
        );
        assert_eq!(
            k.int("sunionstore str a"),
            4,
            "any destination type is replaced"
        );
        assert_eq!(k.int("ttl str"), -1);
        assert_eq!(
            k.int("sdiffstore a a b"),
            2,
            "a source may be the destination"
        );
        assert_eq!(k.cmd("smembers a"), bulks(&["1", "2"]));
        k.out.set_protocol(Protocol::Resp3);
        assert_eq!(k.cmd("sinter a nokey"), "~0\r\n");
        assert_eq!(k.cmd("sunion a"), "~2\r\n$1\r\n1\r\n$1\r\n2\r\n");
    }

    #[test]
    fn sscan() {
        let mut k = Kit::new();
        assert_eq!(k.cmd("sscan nokey 0 match"), "*2\r\n$1\r\n0\r\n*0\r\n");
        k.cmd("sadd s 10 2 33");
        assert_eq!(
            k.cmd("sscan s 0"),
            "*2\r\n$1\r\n0\r\n".to_string() + &bulks(&["2", "10", "33"])
        );
        assert_eq!(
            k.cmd("sscan s 0 match *3"),
            "*2\r\n$1\r\n0\r\n".to_string() + &bulks(&["33"])
        );
        assert_eq!(
            k.cmd("sscan s -1"),
            "*2\r\n$1\r\n0\r\n".to_string() + &bulks(&["2", "10", "33"])
        );
        assert_eq!(k.cmd("sscan s 0 count 0"), "-ERR syntax error\r\n");
        assert_eq!(k.cmd("sscan s abc"), "-ERR invalid cursor\r\n");
        for i in 0..300 {
            k.cmd(&format!("sadd big m{i}"));
        }
        let mut seen = std::collections::HashSet::new();
        let mut cursor = "0".to_string();
        loop {
            let r = k.cmd(&format!("sscan big {cursor} count 7"));
            let parts: Vec<&str> = r.split("\r\n").collect();
            cursor = parts[2].to_string();
            for m in parts[4..].iter().filter(|l| l.starts_with('m')) {
                seen.insert(m.to_string());
            }
            // Remove a member on the way: the others must still all be seen.
            let _ = k.cmd("srem big m150");
            if cursor == "0" {
                break;
            }
        }
        seen.remove("m150");
        assert_eq!(seen.len(), 299);
    }

    #[test]
    fn an_empty_collection_reads_as_missing() {
        use engine::types::{Hash, Set};
        use engine::{Entry, Value};
        let mut k = Kit::new();
        {
            let mut l = k.inst.ks.lock_all();
            l.insert(0, Entry::new(b"es", Value::Set(Set::new())), 0);
            l.insert(0, Entry::new(b"eh", Value::Hash(Hash::new())), 0);
        }
        assert_eq!(k.cmd("srandmember es"), "$-1\r\n");
        assert_eq!(k.cmd("srandmember es -3"), "*0\r\n");
        assert_eq!(k.cmd("hrandfield eh -3"), "*0\r\n");
        assert_eq!(k.cmd("hrandfield eh"), "$-1\r\n");
        assert_eq!(k.cmd("spop es"), "$-1\r\n");
        assert_eq!(k.int("exists es"), 0, "a write removes it");
        assert_eq!(k.int("hset eh f v"), 1);
        assert_eq!(k.int("hlen eh"), 1);
    }

    mod model {
        use super::super::super::util::testkit::Kit;
        use proptest::prelude::*;
        use std::collections::{BTreeMap, BTreeSet};

        type Model = BTreeMap<&'static str, BTreeSet<String>>;

        const KEYS: [&str; 3] = ["a", "b", "c"];

        fn member() -> impl Strategy<Value = String> {
            prop_oneof![(0i64..12).prop_map(|i| i.to_string()), "[xy]{1,2}"]
        }

        #[derive(Clone, Debug)]
        enum Op {
            Add(usize, Vec<String>),
            Rem(usize, Vec<String>),
            Move(usize, usize, String),
            Store(u8, usize, Vec<usize>),
        }

        fn op() -> impl Strategy<Value = Op> {
            let k = 0usize..3;
            prop_oneof![
                3 => (k.clone(), proptest::collection::vec(member(), 1..6)).prop_map(|(k, m)| Op::Add(k, m)),
                2 => (k.clone(), proptest::collection::vec(member(), 1..4)).prop_map(|(k, m)| Op::Rem(k, m)),
                1 => (k.clone(), k.clone(), member()).prop_map(|(a, b, m)| Op::Move(a, b, m)),
                1 => (0u8..3, k.clone(), proptest::collection::vec(k, 1..4)).prop_map(|(w, d, s)| Op::Store(w, d, s)),
            ]
        }

        fn members(k: &mut Kit, key: &str) -> BTreeSet<String> {
            let r = k.cmd(&format!("smembers {key}"));
            r.split("\r\n")
                .skip(1)
                .collect::<Vec<_>>()
                .chunks(2)
                .filter(|c| c.len() == 2)
                .map(|c| c[1].to_string())
                .collect()
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(64))]
            #[test]
            fn set_commands_follow_a_model(ops in proptest::collection::vec(op(), 1..40)) {
                let mut k = Kit::new();
                k.run("config set set-max-intset-entries 8");
                let mut m: Model = BTreeMap::new();
                for op in ops {
                    match op {
                        Op::Add(i, ms) => {
                            let set = m.entry(KEYS[i]).or_default();
                            let added = ms.iter().collect::<BTreeSet<_>>().into_iter().filter(|x| set.insert((*x).clone())).count();
                            prop_assert_eq!(k.int(&format!("sadd {} {}", KEYS[i], ms.join(" "))), added as i64);
                        }
                        Op::Rem(i, ms) => {
                            let set = m.entry(KEYS[i]).or_default();
                            let gone = ms.iter().collect::<BTreeSet<_>>().into_iter().filter(|x| set.remove(*x)).count();
                            prop_assert_eq!(k.int(&format!("srem {} {}", KEYS[i], ms.join(" "))), gone as i64);
                        }
                        Op::Move(a, b, x) => {
                            let there = m.get(KEYS[a]).is_some_and(|s| s.contains(&x));
                            if there && a != b {
                                m.entry(KEYS[a]).or_default().remove(&x);
                                m.entry(KEYS[b]).or_default().insert(x.clone());
                            }
                            prop_assert_eq!(k.int(&format!("smove {} {} {x}", KEYS[a], KEYS[b])), i64::from(there));
                        }
                        Op::Store(which, d, srcs) => {
                            let get = |i: usize| m.get(KEYS[i]).cloned().unwrap_or_default();
                            let mut acc = get(srcs[0]);
                            for &j in &srcs[1..] {
                                let other = get(j);
                                acc = match which {
                                    0 => acc.intersection(&other).cloned().collect(),
                                    1 => acc.union(&other).cloned().collect(),
                                    _ => acc.difference(&other).cloned().collect(),
                                };
                            }
                            let cmd = ["sinterstore", "sunionstore", "sdiffstore"][which as usize];
                            let names: Vec<&str> = srcs.iter().map(|&i| KEYS[i]).collect();
                            prop_assert_eq!(k.int(&format!("{cmd} {} {}", KEYS[d], names.join(" "))), acc.len() as i64);
                            m.insert(KEYS[d], acc);
                        }
                    }
                    m.retain(|_, s| !s.is_empty());
                    for key in KEYS {
                        let want = m.get(key).cloned().unwrap_or_default();
                        prop_assert_eq!(members(&mut k, key), want.clone());
                        prop_assert_eq!(k.int(&format!("exists {key}")), i64::from(!want.is_empty()));
                        if !want.is_empty() {
                            let ints = want.iter().all(|x| x.parse::<i64>().is_ok());
                            let enc = k.cmd(&format!("object encoding {key}"));
                            if !ints || want.len() > 8 {
                                prop_assert_eq!(enc, "$9\r\nhashtable\r\n");
                            }
                        }
                    }
                    k.inst.ks.check_accounting();
                }
                let all: Vec<&str> = KEYS.to_vec();
                let inter = all.iter().map(|k| m.get(k).cloned().unwrap_or_default()).reduce(|a, b| a.intersection(&b).cloned().collect()).unwrap_or_default();
                prop_assert_eq!(k.int("sintercard 3 a b c"), inter.len() as i64);
            }
        }
    }

    /// Every set command keeps the keyspace's counters equal to a recount.
    #[test]
    fn handlers_keep_the_accounting_exact() {
        let mut k = Kit::new();
        let mut script = vec![
            "sadd a 1 2 3".to_string(),
            "sadd a 70000".into(),
            "sadd a x y".into(),
            "srem a 1 x".into(),
            "sadd b 3 4".into(),
            "smove b a 4".into(),
            "smove b c 3".into(),
            "sinterstore d a c".into(),
            "sunionstore e a b c".into(),
            "sdiffstore f a c".into(),
            "spop a".into(),
            "spop e 2".into(),
            "spop f 100".into(),
            "copy a a2".into(),
        ];
        for i in 0..600 {
            script.push(format!("sadd big {i}"));
        }
        for i in 0..590 {
            script.push(format!("srem big {i}"));
        }
        for line in &script {
            k.run(line);
            k.inst.ks.check_accounting();
        }
        k.run("flushall");
        assert_eq!(k.inst.ks.used_memory(), 0);
    }
}

/// Memory per key, as the keyspace accounts it (what a tenant's `used_memory` and
/// maxmemory see), for the data sets the memory goal names: run with
/// `cargo test -p commands --lib families::sets::memory -- --ignored --nocapture`
/// and compare with redis-server's `INFO memory` on the same commands.
#[cfg(test)]
mod memory {
    use super::super::util::testkit::Kit;

    fn per_key(lines: impl Iterator<Item = String>) -> f64 {
        let mut k = Kit::new();
        let mut n = 0;
        for line in lines {
            k.call(&line.split(' ').map(str::as_bytes).collect::<Vec<_>>());
            n += 1;
        }
        k.inst.ks.check_accounting();
        k.inst.ks.used_memory() as f64 / n as f64
    }

    #[test]
    #[ignore = "a measurement: prints bytes per key"]
    fn bytes_per_key() {
        let hashes = per_key((0..100_000).map(|i| {
            let mut s = format!("hset hash:{i}");
            for j in 0..10 {
                s.push_str(&format!(" field:{j} value:{}", i * 10 + j));
            }
            s
        }));
        let sets_str = per_key((0..100_000).map(|i| {
            let mut s = format!("sadd set:{i}");
            for j in 0..10 {
                s.push_str(&format!(" member:{}", i * 10 + j));
            }
            s
        }));
        let sets_int = per_key((0..100_000).map(|i| {
            let mut s = format!("sadd iset:{i}");
            for j in 0..10 {
                s.push_str(&format!(" {}", i * 10 + j));
            }
            s
        }));
        println!("bytes per key: hashes {hashes:.1}, string sets {sets_str:.1}, integer sets {sets_int:.1}");
    }
}
