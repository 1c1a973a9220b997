//! The list family: pushes, pops (with COUNT, and across keys with LMPOP), ranges,
//! indexes, LINSERT/LREM/LTRIM/LPOS, moves between lists, and the blocking forms, with
//! Redis 7.0's replies, error messages and checking order.
//!
//! As in Redis, a list never stays empty: the command that pops or removes its last
//! element deletes the key. Reads (LLEN, LRANGE, LINDEX, LPOS) count keyspace hits and
//! misses; writes look keys up without counting, as Redis's `lookupKeyWrite` does.

use engine::types::List;
use engine::Value;

use super::util::{eq_ic, new_entry, parse_i64};
use crate::blocking::{timeout_secs, Block, OnTimeout};
use crate::ctx::Ctx;
use crate::errors;
use crate::pubsub::class;
use crate::spec::Handler;

/// (spec name, handler) for every command this family serves.
pub fn handlers() -> Vec<(&'static str, Handler)> {
    vec![
        ("lpush", lpush),
        ("rpush", rpush),
        ("lpushx", lpushx),
        ("rpushx", rpushx),
        ("lpop", lpop),
        ("rpop", rpop),
        ("llen", llen),
        ("lrange", lrange),
        ("lindex", lindex),
        ("lset", lset),
        ("linsert", linsert),
        ("lrem", lrem),
        ("ltrim", ltrim),
        ("lpos", lpos),
        ("lmove", lmove),
        ("rpoplpush", rpoplpush),
        ("lmpop", lmpop),
        ("blpop", blpop),
        ("brpop", brpop),
        ("blmove", blmove),
        ("brpoplpush", brpoplpush),
        ("blmpop", blmpop),
    ]
}

// ---------------------------------------------------------------------------------------
// Shared pieces
// ---------------------------------------------------------------------------------------

/// The list inside a value, or `None` when the key holds another type (WRONGTYPE).
#[inline]
fn list_of(v: &Value) -> Option<&List> {
    match v {
        Value::List(l) => Some(l),
        _ => None,
    }
}

/// Mutable form of [`list_of`].
#[inline]
fn list_of_mut(v: &mut Value) -> Option<&mut List> {
    match v {
        Value::List(l) => Some(l),
        _ => None,
    }
}

/// Which end of a list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum End {
    Left,
    Right,
}

impl End {
    /// LEFT or RIGHT, case-insensitively (else a syntax error, as Redis's
    /// getListPositionFromObjectOrReply).
    fn parse(a: &[u8]) -> Result<End, &'static str> {
        if eq_ic(a, b"left") {
            Ok(End::Left)
        } else if eq_ic(a, b"right") {
            Ok(End::Right)
        } else {
            Err(errors::SYNTAX)
        }
    }
}

fn push(l: &mut List, end: End, v: &[u8]) {
    match end {
        End::Left => l.push_front(v),
        End::Right => l.push_back(v),
    }
}

fn pop_with<R>(l: &mut List, end: End, f: impl FnOnce(&[u8]) -> R) -> Option<R> {
    match end {
        End::Left => l.pop_front_with(f),
        End::Right => l.pop_back_with(f),
    }
}

/// What a handler learned while it held an entry, acted on once the borrow has ended.
enum Step {
    /// Replied; delete the key when `empty`.
    Done {
        empty: bool,
    },
    Missing,
    WrongType,
    Fail(&'static str),
}

/// Finishes a write: the error, or the deletion of a list left empty, telling keyspace subscribers `event` when the write was done (and `del`
/// when it emptied the list).
fn finish_ev(
    ctx: &mut Ctx<'_, '_>,
    key: &[u8],
    step: Step,
    event: Option<&str>,
    on_missing: impl FnOnce(&mut Ctx),
) {
    match step {
        Step::Done { empty } => {
            if let Some(ev) = event {
                ctx.notify(class::LIST, ev, key);
            }
            if empty {
                let (db, now) = (ctx.db(), ctx.now_ms);
                ctx.ks.remove(db, key, now);
                ctx.notify(class::GENERIC, "del", key);
            }
        }
        Step::Missing => on_missing(ctx),
        Step::WrongType => ctx.error(errors::WRONGTYPE),
        Step::Fail(msg) => ctx.error(msg),
    }
}

/// Normalizes a Redis start/stop pair (negative counts from the tail) against `len`:
/// the inclusive range, or `None` when it selects nothing.
fn range_of(start: i64, stop: i64, len: usize) -> Option<(usize, usize)> {
    let len = len as i64;
    let mut start = if start < 0 { len + start } else { start };
    let mut stop = if stop < 0 { len + stop } else { stop };
    if start < 0 {
        start = 0;
    }
    if start > stop || start >= len {
        return None;
    }
    if stop >= len {
        stop = len - 1;
    }
    Some((start as usize, stop as usize))
}

/// An index argument (negative counts from the tail) resolved against `len`.
fn index_of(i: i64, len: usize) -> Option<usize> {
    let i = if i < 0 { i.checked_add(len as i64)? } else { i };
    (i >= 0 && (i as usize) < len).then_some(i as usize)
}

/// A positive count (0 included) as Redis's getPositiveLongFromObjectOrReply reads it:
/// a non-integer gets the same message as a negative number.
fn parse_positive(a: &[u8], msg: &'static str) -> Result<i64, &'static str> {
    match parse_i64(a) {
        Some(n) if n >= 0 => Ok(n),
        _ => Err(msg),
    }
}

/// A count that must be at least 1 (LMPOP's numkeys and COUNT).
fn parse_at_least_one(a: &[u8], msg: &'static str) -> Result<i64, &'static str> {
    match parse_i64(a) {
        Some(n) if n >= 1 => Ok(n),
        _ => Err(msg),
    }
}

// ---------------------------------------------------------------------------------------
// Pushes
// ---------------------------------------------------------------------------------------

/// LPUSH key element [element ...]
fn lpush(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]]) {
    push_generic(ctx, argv, End::Left, false);
}

/// RPUSH key element [element ...]
fn rpush(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]]) {
    push_generic(ctx, argv, End::Right, false);
}

/// LPUSHX key element [element ...]: only onto an existing list.
fn lpushx(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]]) {
    push_generic(ctx, argv, End::Left, true);
}

/// RPUSHX key element [element ...]
fn rpushx(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]]) {
    push_generic(ctx, argv, End::Right, true);
}

fn push_generic(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]], end: End, existing_only: bool) {
    let (db, now, key) = (ctx.db(), ctx.now_ms, argv[1]);
    let step = match ctx.ks.get_for_write(db, key, now) {
        None => Step::Missing,
        Some(mut e) => {
            e.touch(&ctx.access);
            match list_of_mut(&mut e.value) {
                None => Step::WrongType,
                Some(l) => {
                    for v in &argv[2..] {
                        push(l, end, v);
                    }
                    ctx.out.int(l.len() as i64);
                    Step::Done { empty: false }
                }
            }
        }
    };
    let event = match end {
        End::Left => "lpush",
        End::Right => "rpush",
    };
    finish_ev(ctx, key, step, Some(event), |ctx| {
        if existing_only {
            return ctx.out.int(0);
        }
        let mut l = List::new();
        for v in &argv[2..] {
            push(&mut l, end, v);
        }
        ctx.out.int(l.len() as i64);
        let entry = new_entry(key, Value::List(Box::new(l)), &ctx.access);
        ctx.ks.insert(db, entry, now);
        ctx.notify(class::LIST, event, key);
    });
}

// ---------------------------------------------------------------------------------------
// Pops
// ---------------------------------------------------------------------------------------

/// LPOP key [count]
fn lpop(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]]) {
    pop_generic(ctx, argv, End::Left, "lpop");
}

/// RPOP key [count]
fn rpop(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]]) {
    pop_generic(ctx, argv, End::Right, "rpop");
}

fn pop_generic(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]], end: End, name: &str) {
    if argv.len() > 3 {
        return ctx.error(&errors::wrong_arity(name));
    }
    let count = match argv.get(2) {
        None => None,
        Some(a) => match parse_positive(a, errors::MUST_BE_POSITIVE) {
            Ok(n) => Some(n as usize),
            Err(msg) => return ctx.error(msg),
        },
    };
    let (db, now, key) = (ctx.db(), ctx.now_ms, argv[1]);
    let mut popped = false;
    let step = match ctx.ks.get_for_write(db, key, now) {
        None => Step::Missing,
        Some(mut e) => {
            e.touch(&ctx.access);
            match list_of_mut(&mut e.value) {
                None => Step::WrongType,
                Some(l) => {
                    let out = &mut *ctx.out;
                    match count {
                        None => {
                            popped = pop_with(l, end, |v| out.bulk(v)).is_some();
                        }
                        Some(n) => {
                            let n = n.min(l.len());
                            popped = n > 0;
                            out.array(n);
                            for _ in 0..n {
                                pop_with(l, end, |v| out.bulk(v));
                            }
                        }
                    }
                    Step::Done {
                        empty: l.is_empty(),
                    }
                }
            }
        }
    };
    let event = popped.then_some(match end {
        End::Left => "lpop",
        End::Right => "rpop",
    });
    finish_ev(ctx, key, step, event, |ctx| match count {
        None => ctx.out.null(),
        Some(_) => ctx.out.null_array(),
    });
}

/// Pops from the first non-empty list among `keys` (BLPOP/BRPOP with `count` None:
/// `[key, element]`; LMPOP/BLMPOP with a count: `[key, [elements]]`). Returns whether
/// it replied (served, or WRONGTYPE on a key met before any non-empty list).
///
/// A blocked command re-run after a push skips keys of another type instead: Redis
/// serves a blocked client from the list that became ready without looking at its
/// other keys again.
fn mpop_core(ctx: &mut Ctx<'_, '_>, keys: &[&[u8]], end: End, count: Option<usize>) -> bool {
    let (db, now) = (ctx.db(), ctx.now_ms);
    let rerun = ctx.client.serving_blocked;
    for &key in keys {
        let step = match ctx.ks.get_for_write(db, key, now) {
            None => continue,
            Some(mut e) => {
                e.touch(&ctx.access);
                match list_of_mut(&mut e.value) {
                    None if rerun => continue,
                    None => Step::WrongType,
                    Some(l) if l.is_empty() => continue,
                    Some(l) => {
                        let out = &mut *ctx.out;
                        out.array(2);
                        out.bulk(key);
                        match count {
                            None => {
                                pop_with(l, end, |v| out.bulk(v));
                            }
                            Some(n) => {
                                let n = n.min(l.len());
                                out.array(n);
                                for _ in 0..n {
                                    pop_with(l, end, |v| out.bulk(v));
                                }
                            }
                        }
                        Step::Done {
                            empty: l.is_empty(),
                        }
                    }
                }
            }
        };
        let event = match end {
            End::Left => "lpop",
            End::Right => "rpop",
        };
        finish_ev(ctx, key, step, Some(event), |_| {});
        return true;
    }
    false
}

/// LMPOP's (and BLMPOP's) arguments after the command name and, for BLMPOP, the
/// timeout: `numkeys key [key ...] LEFT|RIGHT [COUNT count]`.
struct MpopArgs<'a> {
    keys: &'a [&'a [u8]],
    end: End,
    count: usize,
}

fn parse_mpop<'a>(args: &'a [&'a [u8]]) -> Result<MpopArgs<'a>, &'static str> {
    let numkeys = parse_at_least_one(args[0], errors::NUMKEYS_POSITIVE)?;
    // The direction follows the keys; a numkeys past the arguments is a syntax error.
    let where_idx = usize::try_from(numkeys)
        .ok()
        .and_then(|n| n.checked_add(1))
        .filter(|&i| i < args.len())
        .ok_or(errors::SYNTAX)?;
    let end = End::parse(args[where_idx])?;
    let mut count = None;
    let mut j = where_idx + 1;
    while j < args.len() {
        if count.is_none() && eq_ic(args[j], b"count") && j + 1 < args.len() {
            count = Some(parse_at_least_one(args[j + 1], errors::COUNT_POSITIVE)? as usize);
            j += 2;
        } else {
            return Err(errors::SYNTAX);
        }
    }
    Ok(MpopArgs {
        keys: &args[1..where_idx],
        end,
        count: count.unwrap_or(1),
    })
}

/// LMPOP numkeys key [key ...] LEFT|RIGHT [COUNT count]
fn lmpop(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]]) {
    let a = match parse_mpop(&argv[1..]) {
        Ok(a) => a,
        Err(msg) => return ctx.error(msg),
    };
    if !mpop_core(ctx, a.keys, a.end, Some(a.count)) {
        ctx.out.null_array();
    }
}

// ---------------------------------------------------------------------------------------
// Reads
// ---------------------------------------------------------------------------------------

/// Runs `f` on the list at `key` for a read (counting a hit or miss, recording the
/// access). `Ok(None)`: no such key; `Err(())`: another type.
fn read_list<T>(
    ctx: &mut Ctx<'_, '_>,
    key: &[u8],
    f: impl FnOnce(&mut resp::ReplyWriter, &List) -> T,
) -> Result<Option<T>, ()> {
    super::collection::read_as(ctx, key, list_of, f).into_result()
}

/// LLEN key
fn llen(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]]) {
    match read_list(ctx, argv[1], |out, l| out.int(l.len() as i64)) {
        Ok(Some(())) => {}
        Ok(None) => ctx.out.int(0),
        Err(()) => ctx.error(errors::WRONGTYPE),
    }
}

/// LRANGE key start stop
fn lrange(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]]) {
    let (Some(start), Some(stop)) = (parse_i64(argv[2]), parse_i64(argv[3])) else {
        return ctx.error(errors::NOT_INTEGER);
    };
    let r = read_list(ctx, argv[1], |out, l| {
        match range_of(start, stop, l.len()) {
            None => out.array(0),
            Some((s, e)) => {
                out.array(e - s + 1);
                for v in l.iter_from(s).take(e - s + 1) {
                    out.bulk(v);
                }
            }
        }
    });
    match r {
        Ok(Some(())) => {}
        Ok(None) => ctx.out.array(0),
        Err(()) => ctx.error(errors::WRONGTYPE),
    }
}

/// LINDEX key index: the key is looked up before the index is parsed, as in Redis.
fn lindex(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]]) {
    let idx = parse_i64(argv[2]);
    let r = read_list(ctx, argv[1], |out, l| {
        let Some(i) = idx else {
            return Err(errors::NOT_INTEGER);
        };
        match index_of(i, l.len()).and_then(|i| l.get(i)) {
            Some(v) => out.bulk(v),
            None => out.null(),
        }
        Ok(())
    });
    match r {
        Ok(Some(Ok(()))) => {}
        Ok(Some(Err(msg))) => ctx.error(msg),
        Ok(None) => ctx.out.null(),
        Err(()) => ctx.error(errors::WRONGTYPE),
    }
}

/// LPOS key element [RANK rank] [COUNT num-matches] [MAXLEN len]
fn lpos(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]]) {
    let mut rank: i64 = 1;
    let mut count: Option<i64> = None;
    let mut maxlen: i64 = 0;
    let mut j = 3;
    while j < argv.len() {
        let more = j + 1 < argv.len();
        let opt = argv[j];
        let r = if eq_ic(opt, b"rank") && more {
            match parse_i64(argv[j + 1]) {
                None => Err(errors::NOT_INTEGER),
                Some(0) => Err(errors::LPOS_RANK_ZERO),
                Some(n) => {
                    rank = n;
                    Ok(())
                }
            }
        } else if eq_ic(opt, b"count") && more {
            parse_positive(argv[j + 1], errors::LPOS_COUNT_NEGATIVE).map(|n| count = Some(n))
        } else if eq_ic(opt, b"maxlen") && more {
            parse_positive(argv[j + 1], errors::LPOS_MAXLEN_NEGATIVE).map(|n| maxlen = n)
        } else {
            Err(errors::SYNTAX)
        };
        if let Err(msg) = r {
            return ctx.error(msg);
        }
        j += 2;
    }
    let ele = argv[2];
    let r = read_list(ctx, argv[1], |out, l| {
        // A negative rank searches from the tail. Redis negates it in C's `long`, so
        // LONG_MIN stays negative and then matches from the first hit on.
        let from_tail = rank < 0;
        let rank = if from_tail { rank.wrapping_neg() } else { rank };
        let len = l.len();
        let mut hits: Vec<usize> = Vec::new();
        let mut matches: i64 = 0;
        let want = count.unwrap_or(1);
        let mut scan = |i: usize, v: &[u8]| -> bool {
            if v == ele {
                matches += 1;
                if matches >= rank {
                    hits.push(if from_tail { len - 1 - i } else { i });
                    let got = matches.wrapping_sub(rank).wrapping_add(1);
                    if count.is_none() || (want != 0 && got >= want) {
                        return false;
                    }
                }
            }
            true
        };
        let limit = if maxlen == 0 {
            len
        } else {
            len.min(maxlen as usize)
        };
        if from_tail {
            for (i, v) in l.rev_iter_from(len.wrapping_sub(1)).take(limit).enumerate() {
                if !scan(i, v) {
                    break;
                }
            }
        } else {
            for (i, v) in l.iter().take(limit).enumerate() {
                if !scan(i, v) {
                    break;
                }
            }
        }
        if count.is_some() {
            out.array(hits.len());
            for h in hits {
                out.int(h as i64);
            }
        } else {
            match hits.first() {
                Some(&h) => out.int(h as i64),
                None => out.null(),
            }
        }
    });
    match r {
        Ok(Some(())) => {}
        Ok(None) if count.is_some() => ctx.out.array(0),
        Ok(None) => ctx.out.null(),
        Err(()) => ctx.error(errors::WRONGTYPE),
    }
}

// ---------------------------------------------------------------------------------------
// Changes in place
// ---------------------------------------------------------------------------------------

/// Runs `f` on the list at `key` for a write; `f` replies and says whether the list is
/// now empty (the key is then deleted).
fn write_list(
    ctx: &mut Ctx<'_, '_>,
    key: &[u8],
    f: impl FnOnce(&mut resp::ReplyWriter, &mut List) -> Result<(), &'static str>,
) -> Step {
    let (db, now) = (ctx.db(), ctx.now_ms);
    match ctx.ks.get_for_write(db, key, now) {
        None => Step::Missing,
        Some(mut e) => {
            e.touch(&ctx.access);
            match list_of_mut(&mut e.value) {
                None => Step::WrongType,
                Some(l) => match f(ctx.out, l) {
                    Ok(()) => Step::Done {
                        empty: l.is_empty(),
                    },
                    Err(msg) => Step::Fail(msg),
                },
            }
        }
    }
}

/// LSET key index element
fn lset(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]]) {
    let idx = parse_i64(argv[2]);
    let step = write_list(ctx, argv[1], |out, l| {
        let i = idx.ok_or(errors::NOT_INTEGER)?;
        let i = index_of(i, l.len()).ok_or(errors::OUT_OF_RANGE)?;
        l.set(i, argv[3]);
        out.ok();
        Ok(())
    });
    finish_ev(ctx, argv[1], step, Some("lset"), |ctx| {
        ctx.error(errors::NO_SUCH_KEY)
    });
}

/// LINSERT key BEFORE|AFTER pivot element
fn linsert(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]]) {
    let after = if eq_ic(argv[2], b"after") {
        true
    } else if eq_ic(argv[2], b"before") {
        false
    } else {
        return ctx.error(errors::SYNTAX);
    };
    let (pivot, ele) = (argv[3], argv[4]);
    let mut inserted = false;
    let step = write_list(ctx, argv[1], |out, l| {
        match l.iter().position(|v| v == pivot) {
            Some(i) => {
                inserted = true;
                l.insert(if after { i + 1 } else { i }, ele);
                out.int(l.len() as i64);
            }
            None => out.int(-1),
        }
        Ok(())
    });
    let event = inserted.then_some("linsert");
    finish_ev(ctx, argv[1], step, event, |ctx| ctx.out.int(0));
}

/// LREM key count element
fn lrem(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]]) {
    let Some(count) = parse_i64(argv[2]) else {
        return ctx.error(errors::NOT_INTEGER);
    };
    let mut any = false;
    let step = write_list(ctx, argv[1], |out, l| {
        let n = usize::try_from(count.unsigned_abs()).unwrap_or(usize::MAX);
        let removed = l.remove_matching(argv[3], n, count < 0);
        any = removed > 0;
        out.int(removed as i64);
        Ok(())
    });
    let event = any.then_some("lrem");
    finish_ev(ctx, argv[1], step, event, |ctx| ctx.out.int(0));
}

/// LTRIM key start stop
fn ltrim(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]]) {
    let (Some(start), Some(stop)) = (parse_i64(argv[2]), parse_i64(argv[3])) else {
        return ctx.error(errors::NOT_INTEGER);
    };
    let step = write_list(ctx, argv[1], |out, l| {
        let len = l.len();
        match range_of(start, stop, len) {
            None => l.drop_back(len),
            Some((s, e)) => {
                l.drop_back(len - 1 - e);
                l.drop_front(s);
            }
        }
        out.ok();
        Ok(())
    });
    finish_ev(ctx, argv[1], step, Some("ltrim"), |ctx| ctx.out.ok());
}

// ---------------------------------------------------------------------------------------
// Moves
// ---------------------------------------------------------------------------------------

/// Moves one element from `src` to `dst` and replies with it. Returns false, without
/// replying, when `src` does not exist (the caller replies null or blocks).
fn move_core(ctx: &mut Ctx<'_, '_>, src: &[u8], dst: &[u8], from: End, to: End) -> bool {
    let (db, now) = (ctx.db(), ctx.now_ms);
    let same = src == dst;
    // The source: missing, wrong type, or the popped element.
    let popped = match ctx.ks.get_for_write(db, src, now) {
        None => return false,
        Some(mut e) => match list_of_mut(&mut e.value) {
            None => Err(None),
            Some(l) if same => {
                // Rotation within one list: pop and push under one borrow.
                let v = pop_with(l, from, |v| v.to_vec());
                if let Some(v) = &v {
                    push(l, to, v);
                    ctx.out.bulk(v);
                }
                e.touch(&ctx.access);
                Err(Some(v.is_some()))
            }
            Some(_) => Ok(()),
        },
    };
    match popped {
        Err(Some(true)) => {
            ctx.notify(class::LIST, end_push_event(to), src);
            ctx.notify(class::LIST, end_pop_event(from), src);
            return true;
        }
        Err(Some(false)) => return true,
        _ => {}
    }
    if popped.is_err() {
        ctx.error(errors::WRONGTYPE);
        return true;
    }
    // The destination must be a list or absent before anything moves.
    let dst_kind = ctx
        .ks
        .get_for_write(db, dst, now)
        .map(|e| list_of(&e.value).is_some());
    if dst_kind == Some(false) {
        ctx.error(errors::WRONGTYPE);
        return true;
    }
    let mut src_empty = false;
    let value = match ctx.ks.get_for_write(db, src, now) {
        Some(mut e) => {
            e.touch(&ctx.access);
            match list_of_mut(&mut e.value) {
                Some(l) => {
                    let v = pop_with(l, from, |v| v.to_vec());
                    src_empty = l.is_empty();
                    v
                }
                None => None,
            }
        }
        None => None,
    };
    let Some(value) = value else {
        // Cannot happen: the source was a non-empty list a moment ago, under our locks.
        ctx.out.null();
        return true;
    };
    let pushed = match ctx.ks.get_for_write(db, dst, now) {
        Some(mut e) => {
            e.touch(&ctx.access);
            match list_of_mut(&mut e.value) {
                Some(l) => {
                    push(l, to, &value);
                    true
                }
                None => false,
            }
        }
        None => false,
    };
    if !pushed {
        let mut l = List::new();
        push(&mut l, to, &value);
        let entry = new_entry(dst, Value::List(Box::new(l)), &ctx.access);
        ctx.ks.insert(db, entry, now);
    }
    // Redis's order: the push, the pop, then the emptied source's deletion.
    ctx.notify(class::LIST, end_push_event(to), dst);
    ctx.notify(class::LIST, end_pop_event(from), src);
    if src_empty {
        ctx.ks.remove(db, src, now);
        ctx.notify(class::GENERIC, "del", src);
    }
    ctx.out.bulk(&value);
    true
}

fn end_push_event(end: End) -> &'static str {
    match end {
        End::Left => "lpush",
        End::Right => "rpush",
    }
}

fn end_pop_event(end: End) -> &'static str {
    match end {
        End::Left => "lpop",
        End::Right => "rpop",
    }
}

/// LMOVE source destination LEFT|RIGHT LEFT|RIGHT
fn lmove(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]]) {
    let (from, to) = match (End::parse(argv[3]), End::parse(argv[4])) {
        (Ok(f), Ok(t)) => (f, t),
        (Err(e), _) | (_, Err(e)) => return ctx.error(e),
    };
    if !move_core(ctx, argv[1], argv[2], from, to) {
        ctx.out.null();
    }
}

/// RPOPLPUSH source destination
fn rpoplpush(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]]) {
    if !move_core(ctx, argv[1], argv[2], End::Right, End::Left) {
        ctx.out.null();
    }
}

// ---------------------------------------------------------------------------------------
// Blocking forms: the non-blocking path, then a wait when nothing could be served
// ---------------------------------------------------------------------------------------

/// Nothing to serve: block on `keys` until a push, or, where the client may not block
/// (MULTI, scripts), reply `at_once` straight away. Redis 7.0 times out every blocked
/// list command with a null array, BLMOVE and BRPOPLPUSH included, though those two
/// answer a null bulk when they cannot block.
fn block_or_reply(
    ctx: &mut Ctx<'_, '_>,
    keys: &[&[u8]],
    deadline: Option<u64>,
    at_once: OnTimeout,
) {
    if !ctx.may_block() {
        return at_once.write(ctx.out);
    }
    ctx.block(Block {
        keys,
        deadline,
        on_timeout: OnTimeout::NullArray,
        kind: "list",
        argv: None,
    });
}

/// BLPOP key [key ...] timeout
fn blpop(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]]) {
    bpop_generic(ctx, argv, End::Left);
}

/// BRPOP key [key ...] timeout
fn brpop(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]]) {
    bpop_generic(ctx, argv, End::Right);
}

fn bpop_generic(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]], end: End) {
    let (keys, timeout) = argv[1..].split_at(argv.len() - 2);
    let deadline = match timeout_secs(timeout[0], ctx.now_ms) {
        Ok(d) => d,
        Err(msg) => return ctx.error(msg),
    };
    if !mpop_core(ctx, keys, end, None) {
        block_or_reply(ctx, keys, deadline, OnTimeout::NullArray);
    }
}

/// BLMOVE source destination LEFT|RIGHT LEFT|RIGHT timeout
fn blmove(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]]) {
    let (from, to) = match (End::parse(argv[3]), End::parse(argv[4])) {
        (Ok(f), Ok(t)) => (f, t),
        (Err(e), _) | (_, Err(e)) => return ctx.error(e),
    };
    bmove_generic(ctx, argv, from, to, argv[5]);
}

/// BRPOPLPUSH source destination timeout
fn brpoplpush(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]]) {
    bmove_generic(ctx, argv, End::Right, End::Left, argv[3]);
}

fn bmove_generic(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]], from: End, to: End, timeout: &[u8]) {
    let deadline = match timeout_secs(timeout, ctx.now_ms) {
        Ok(d) => d,
        Err(msg) => return ctx.error(msg),
    };
    if !move_core(ctx, argv[1], argv[2], from, to) {
        block_or_reply(ctx, &argv[1..2], deadline, OnTimeout::NullBulk);
    }
}

/// BLMPOP timeout numkeys key [key ...] LEFT|RIGHT [COUNT count]: the other arguments
/// are checked before the timeout, as in Redis.
fn blmpop(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]]) {
    let a = match parse_mpop(&argv[2..]) {
        Ok(a) => a,
        Err(msg) => return ctx.error(msg),
    };
    let deadline = match timeout_secs(argv[1], ctx.now_ms) {
        Ok(d) => d,
        Err(msg) => return ctx.error(msg),
    };
    if !mpop_core(ctx, a.keys, a.end, Some(a.count)) {
        block_or_reply(ctx, a.keys, deadline, OnTimeout::NullArray);
    }
}

#[cfg(test)]
mod tests {
    use super::super::util::testkit::Kit;

    #[test]
    fn push_pop_and_delete_when_empty() {
        let mut k = Kit::new();
        assert_eq!(k.run("rpush l a b c"), ":3\r\n");
        assert_eq!(k.run("lpush l z"), ":4\r\n");
        assert_eq!(k.run("lpop l"), "$1\r\nz\r\n");
        assert_eq!(k.run("rpop l 5"), "*3\r\n$1\r\nc\r\n$1\r\nb\r\n$1\r\na\r\n");
        assert_eq!(k.run("exists l"), ":0\r\n");
        assert_eq!(k.run("lpop l"), "$-1\r\n");
        assert_eq!(k.run("lpop l 2"), "*-1\r\n");
        assert_eq!(k.run("lpushx l a"), ":0\r\n");
        assert_eq!(k.run("exists l"), ":0\r\n");
    }

    #[test]
    fn ranges_and_indexes() {
        let mut k = Kit::new();
        k.run("rpush l a b c d e");
        assert_eq!(k.run("lrange l -2 100"), "*2\r\n$1\r\nd\r\n$1\r\ne\r\n");
        assert_eq!(k.run("lrange l 3 1"), "*0\r\n");
        assert_eq!(k.run("lindex l -1"), "$1\r\ne\r\n");
        assert_eq!(k.run("lindex l 5"), "$-1\r\n");
        assert_eq!(k.run("lset l -5 A"), "+OK\r\n");
        assert_eq!(k.run("lset l 5 A"), "-ERR index out of range\r\n");
        assert_eq!(k.run("ltrim l 1 -2"), "+OK\r\n");
        assert_eq!(
            k.run("lrange l 0 -1"),
            "*3\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\nd\r\n"
        );
        assert_eq!(k.run("ltrim l 5 10"), "+OK\r\n");
        assert_eq!(k.run("exists l"), ":0\r\n");
    }

    #[test]
    fn lpos_insert_rem_move() {
        let mut k = Kit::new();
        k.run("rpush l a b a c a");
        assert_eq!(k.run("lpos l a"), ":0\r\n");
        assert_eq!(k.run("lpos l a rank -1"), ":4\r\n");
        assert_eq!(k.run("lpos l a rank 2 count 0"), "*2\r\n:2\r\n:4\r\n");
        assert_eq!(k.run("lpos l a count 0 maxlen 3"), "*2\r\n:0\r\n:2\r\n");
        assert_eq!(k.run("linsert l after c x"), ":6\r\n");
        assert_eq!(k.run("linsert l before nope x"), ":-1\r\n");
        assert_eq!(k.run("lrem l -2 a"), ":2\r\n");
        assert_eq!(
            k.run("lrange l 0 -1"),
            "*4\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\nx\r\n"
        );
        assert_eq!(k.run("lmove l l left right"), "$1\r\na\r\n");
        assert_eq!(k.run("rpoplpush l m"), "$1\r\na\r\n");
        assert_eq!(
            k.run("lmpop 2 none m right count 5"),
            "*2\r\n$1\r\nm\r\n*1\r\n$1\r\na\r\n"
        );
        assert_eq!(k.run("exists m"), ":0\r\n");
        k.run("set s x");
        assert_eq!(
            k.run("lmove l s left left"),
            "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
        );
        assert_eq!(k.run("llen l"), ":3\r\n");
    }

    #[test]
    fn blocking_forms_serve_at_once_or_wait() {
        let mut k = Kit::new();
        k.run("rpush a 1 2");
        assert_eq!(k.run("blpop none a 0"), "*2\r\n$1\r\na\r\n$1\r\n1\r\n");
        assert_eq!(k.run("blmove a b right left 0"), "$1\r\n2\r\n");
        assert_eq!(k.run("exists a"), ":0\r\n");
        // Where the client may not block, the reply comes at once: a null array, or a
        // null bulk for the moves.
        k.client.no_block = true;
        assert_eq!(k.run("blpop a 0"), "*-1\r\n");
        assert_eq!(k.run("blmpop 0 1 a left"), "*-1\r\n");
        assert_eq!(k.run("blmove a b left left 0"), "$-1\r\n");
        assert_eq!(k.run("brpoplpush a b 0"), "$-1\r\n");
        // Otherwise the client blocks, with no reply.
        k.client.no_block = false;
        assert_eq!(k.run("brpop a 0"), "");
        assert!(k.client.blocked.is_some());
        assert_eq!(k.inst.blocking.blocked_clients(), 1);
    }

    #[test]
    fn accounting_stays_exact() {
        let mut k = Kit::new();
        for i in 0..300 {
            k.run(&format!("rpush l {i} x{i}"));
            k.run(&format!("lpush l2 {i}"));
        }
        k.run("lrem l 0 x7");
        k.run("linsert l before 5 yy");
        k.run("lset l 100 zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz");
        k.run("ltrim l 10 -10");
        k.run("lmove l l2 right left");
        k.run("lpop l2 250");
        k.run("rpop l 3");
        k.inst.ks.check_accounting();
    }
}
