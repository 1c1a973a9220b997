//! The sorted set family: ZADD and the score updates, ranks, the ZRANGE family and its
//! stores, removals by range, pops (blocking too), random members, the set operations
//! (ZUNION, ZINTER, ZDIFF and their stores, ZINTERCARD) and ZSCAN, with Redis 7.0's
//! replies, error messages and checking order.
//!
//! Scores are replied as Redis's `addReplyDouble` does: `%.17g` bulk strings in RESP2,
//! doubles in RESP3; WITHSCORES pairs are flat in RESP2 and 2-element arrays in RESP3.

use engine::types::zset::{cmp_elem, ZSetLimits};
use engine::types::ZSet;
use engine::Value;
use rand::Rng;
use resp::ReplyWriter;

use super::collection::Look;
use super::util::{eq_ic, new_entry, parse_cursor, parse_f64, parse_i64, touches};
use crate::blocking::{self, Block, OnTimeout};
use crate::ctx::Ctx;
use crate::errors;
use crate::pubsub::class;
use crate::spec::Handler;

/// (spec name, handler) for every command this family serves.
pub fn handlers() -> Vec<(&'static str, Handler)> {
    vec![
        ("zadd", zadd),
        ("zincrby", zincrby),
        ("zrem", zrem),
        ("zcard", zcard),
        ("zscore", zscore),
        ("zmscore", zmscore),
        ("zrank", zrank),
        ("zrevrank", zrevrank),
        ("zcount", zcount),
        ("zlexcount", zlexcount),
        ("zrange", zrange),
        ("zrangestore", zrangestore),
        ("zrevrange", zrevrange),
        ("zrangebyscore", zrangebyscore),
        ("zrevrangebyscore", zrevrangebyscore),
        ("zrangebylex", zrangebylex),
        ("zrevrangebylex", zrevrangebylex),
        ("zremrangebyrank", zremrangebyrank),
        ("zremrangebyscore", zremrangebyscore),
        ("zremrangebylex", zremrangebylex),
        ("zpopmin", zpopmin),
        ("zpopmax", zpopmax),
        ("zmpop", zmpop),
        ("bzpopmin", bzpopmin),
        ("bzpopmax", bzpopmax),
        ("bzmpop", bzmpop),
        ("zrandmember", zrandmember),
        ("zunion", zunion),
        ("zinter", zinter),
        ("zdiff", zdiff),
        ("zunionstore", zunionstore),
        ("zinterstore", zinterstore),
        ("zdiffstore", zdiffstore),
        ("zintercard", zintercard),
        ("zscan", zscan),
    ]
}

// ---------------------------------------------------------------------------------------
// Shared pieces
// ---------------------------------------------------------------------------------------

/// The sorted set inside a value, or `None` when the key holds another type.
#[inline]
pub(crate) fn zset_of(v: &Value) -> Option<&ZSet> {
    match v {
        Value::ZSet(z) => Some(z),
        _ => None,
    }
}

/// Mutable form of [`zset_of`].
#[inline]
pub(crate) fn zset_of_mut(v: &mut Value) -> Option<&mut ZSet> {
    match v {
        Value::ZSet(z) => Some(z),
        _ => None,
    }
}

/// What a handler learned while it held an entry, acted on once the borrow has ended.
enum Step {
    Done,
    WrongType,
    Fail(&'static str),
    /// The set became empty: delete the key.
    Emptied,
}

impl Step {
    fn finish(self, ctx: &mut Ctx<'_, '_>, key: &[u8]) {
        self.finish_ev(ctx, key, None);
    }

    /// [`finish`](Self::finish), telling keyspace subscribers `event` when the write
    /// was done (and `del` after it when the set was emptied).
    fn finish_ev(self, ctx: &mut Ctx<'_, '_>, key: &[u8], event: Option<&str>) {
        match self {
            Step::Done => {
                if let Some(ev) = event {
                    ctx.notify(class::ZSET, ev, key);
                }
            }
            Step::WrongType => ctx.error(errors::WRONGTYPE),
            Step::Fail(e) => ctx.error(e),
            Step::Emptied => {
                if let Some(ev) = event {
                    ctx.notify(class::ZSET, ev, key);
                }
                let (db, now) = (ctx.db(), ctx.now_ms);
                ctx.ks.remove(db, key, now);
                ctx.notify(class::GENERIC, "del", key);
            }
        }
    }
}

/// Writes the header of a list of `n` elements, with or without scores.
pub(crate) fn range_header(out: &mut ReplyWriter, n: usize, withscores: bool) {
    if withscores && !out.is_resp3() {
        out.array(n * 2);
    } else {
        out.array(n);
    }
}

/// Writes one element of a range reply: the member, and its score WITHSCORES (a pair in
/// RESP3).
#[inline]
pub(crate) fn range_elem(out: &mut ReplyWriter, m: &[u8], s: f64, withscores: bool) {
    if withscores {
        if out.is_resp3() {
            out.array(2);
        }
        out.bulk(m);
        out.double(s);
    } else {
        out.bulk(m);
    }
}

/// A score as ZSCAN returns it: a bulk string in both protocols (`%.17g`).
fn score_bulk(out: &mut ReplyWriter, s: f64) {
    let mut buf = [0u8; 40];
    let n = resp::encode::format_double(s, &mut buf);
    out.bulk(&buf[..n]);
}

/// Parses a double the way C's `strtod` reads a whole argument, as Redis's range parsing
/// does: leading white space allowed, overflow to infinity and underflow accepted, the
/// empty string read as 0, the argument ending at a NUL byte; NaN refused.
fn strtod_whole(b: &[u8]) -> Option<f64> {
    let b = match b.iter().position(|&c| c == 0) {
        Some(i) => &b[..i],
        None => b,
    };
    if b.is_empty() {
        return Some(0.0);
    }
    let t = match b
        .iter()
        .position(|c| !matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r'))
    {
        Some(i) => &b[i..],
        None => return None,
    };
    if let Some(v) = parse_f64(t) {
        return Some(v);
    }
    let text = std::str::from_utf8(t).ok()?;
    let body = text.trim_start_matches(['+', '-']);
    // Rust's parser reads the same decimal and infinity forms as strtod; strtod's
    // overflow and underflow results are what Rust gives too.
    if text.len() - body.len() > 1 || body.eq_ignore_ascii_case("nan") {
        return None;
    }
    text.parse::<f64>().ok().filter(|v| !v.is_nan())
}

/// A score interval, as ZRANGEBYSCORE and friends take it (`(` makes a bound exclusive).
#[derive(Clone, Copy, Debug)]
pub(crate) struct ScoreRange {
    pub min: f64,
    pub max: f64,
    pub minex: bool,
    pub maxex: bool,
}

impl ScoreRange {
    pub fn parse(min: &[u8], max: &[u8]) -> Option<ScoreRange> {
        let bound = |b: &[u8]| -> Option<(f64, bool)> {
            match b.first() {
                Some(b'(') => Some((strtod_whole(&b[1..])?, true)),
                _ => Some((strtod_whole(b)?, false)),
            }
        };
        let (min, minex) = bound(min)?;
        let (max, maxex) = bound(max)?;
        Some(ScoreRange {
            min,
            max,
            minex,
            maxex,
        })
    }

    fn gte_min(&self, s: f64) -> bool {
        if self.minex {
            s > self.min
        } else {
            s >= self.min
        }
    }

    fn lte_max(&self, s: f64) -> bool {
        if self.maxex {
            s < self.max
        } else {
            s <= self.max
        }
    }

    /// The ranks `lo..hi` of the elements in the interval.
    pub fn ranks(&self, z: &ZSet) -> (usize, usize) {
        let lo = z.count_while(|_, s| !self.gte_min(s));
        let hi = z.count_while(|_, s| self.lte_max(s));
        (lo, hi.max(lo))
    }
}

#[derive(Clone, Copy, Debug)]
enum LexBound<'a> {
    NegInf,
    PosInf,
    Incl(&'a [u8]),
    Excl(&'a [u8]),
}

/// A member interval of the BYLEX commands (`-`, `+`, `[incl`, `(excl`).
#[derive(Clone, Copy, Debug)]
struct LexRange<'a> {
    min: LexBound<'a>,
    max: LexBound<'a>,
}

impl<'a> LexRange<'a> {
    fn parse(min: &'a [u8], max: &'a [u8]) -> Option<LexRange<'a>> {
        fn item(b: &[u8]) -> Option<LexBound<'_>> {
            match b.first()? {
                b'+' if b.len() == 1 => Some(LexBound::PosInf),
                b'-' if b.len() == 1 => Some(LexBound::NegInf),
                b'(' => Some(LexBound::Excl(&b[1..])),
                b'[' => Some(LexBound::Incl(&b[1..])),
                _ => None,
            }
        }
        Some(LexRange {
            min: item(min)?,
            max: item(max)?,
        })
    }

    fn gte_min(&self, m: &[u8]) -> bool {
        match self.min {
            LexBound::NegInf => true,
            LexBound::PosInf => false,
            LexBound::Incl(b) => m >= b,
            LexBound::Excl(b) => m > b,
        }
    }

    fn lte_max(&self, m: &[u8]) -> bool {
        match self.max {
            LexBound::NegInf => false,
            LexBound::PosInf => true,
            LexBound::Incl(b) => m <= b,
            LexBound::Excl(b) => m < b,
        }
    }

    fn ranks(&self, z: &ZSet) -> (usize, usize) {
        let lo = z.count_while(|m, _| !self.gte_min(m));
        let hi = z.count_while(|m, _| self.lte_max(m));
        (lo, hi.max(lo))
    }
}

/// Redis's rank sanitizing (ZRANGE, ZREMRANGEBYRANK): negative indexes count from the
/// end; `None` for an empty range, else the inclusive ranks.
fn rank_range(start: i64, end: i64, len: usize) -> Option<(usize, usize)> {
    let n = len as i64;
    let mut start = if start < 0 { n + start } else { start };
    let end = if end < 0 { n + end } else { end };
    if start < 0 {
        start = 0;
    }
    if start > end || start >= n {
        return None;
    }
    Some((start as usize, end.min(n - 1) as usize))
}

/// Applies LIMIT offset count to the ranks `lo..hi` of a score or lex range walked
/// forward or in reverse: the ascending ranks `a..b` to emit. A negative offset selects
/// nothing and a negative count everything, as in Redis.
fn limit_ranks(lo: usize, hi: usize, offset: i64, limit: i64, rev: bool) -> (usize, usize) {
    let n = hi - lo;
    if offset < 0 || offset as u64 >= n as u64 {
        return (lo, lo);
    }
    let off = offset as usize;
    let take = if limit < 0 {
        n - off
    } else {
        (limit as u64).min((n - off) as u64) as usize
    };
    if rev {
        (hi - off - take, hi - off)
    } else {
        (lo + off, lo + off + take)
    }
}

/// The encoding limits sorted sets are kept with: `zset-max-listpack-entries` and
/// `zset-max-listpack-value`.
pub(crate) fn limits(ctx: &Ctx<'_, '_>) -> ZSetLimits {
    let c = ctx.inst.config.read();
    ZSetLimits {
        max_entries: usize::try_from(c.zset_max_listpack_entries).unwrap_or(usize::MAX),
        max_value: usize::try_from(c.zset_max_listpack_value).unwrap_or(usize::MAX),
    }
}

/// Replaces `dst` with `z` (deleting it when `z` is empty); returns the new length.
/// Tells `event` (or `del` when an existing key was deleted) to keyspace subscribers.
pub(crate) fn store(ctx: &mut Ctx<'_, '_>, dst: &[u8], z: ZSet, event: &str) -> usize {
    let (db, now) = (ctx.db(), ctx.now_ms);
    let n = z.len();
    if n == 0 {
        if ctx.ks.remove(db, dst, now).is_some() {
            ctx.notify(class::GENERIC, "del", dst);
        }
    } else {
        let e = new_entry(dst, Value::ZSet(z), &ctx.access);
        ctx.ks.insert(db, e, now);
        ctx.notify(class::ZSET, event, dst);
    }
    n
}

/// Builds a sorted set from elements (the encoding follows the limits, as Redis's
/// stores convert their results).
pub(crate) fn build(items: Vec<(Vec<u8>, f64)>, limits: &ZSetLimits) -> ZSet {
    let max_len = items.iter().map(|(m, _)| m.len()).max().unwrap_or(0);
    let mut z = ZSet::with_hint_limits(items.len(), max_len, limits);
    for (m, s) in items {
        z.insert_with(&m, s, limits);
    }
    z.compact_with(limits);
    z
}

// ---------------------------------------------------------------------------------------
// ZADD, ZINCRBY, ZREM
// ---------------------------------------------------------------------------------------

/// ZADD's condition flags.
#[derive(Clone, Copy, Default)]
pub(crate) struct AddFlags {
    pub nx: bool,
    pub xx: bool,
    pub gt: bool,
    pub lt: bool,
    pub incr: bool,
}

enum AddOut {
    Added,
    Updated,
    /// Processed, score unchanged.
    Same,
    Nop,
}

/// Redis's `zsetAdd`: the outcome and the new score; `Err` when the result is NaN.
fn zset_add(
    z: &mut ZSet,
    score: f64,
    m: &[u8],
    f: AddFlags,
    limits: &ZSetLimits,
) -> Result<(AddOut, f64), ()> {
    match z.score(m) {
        Some(cur) => {
            if f.nx {
                return Ok((AddOut::Nop, cur));
            }
            let mut s = score;
            if f.incr {
                s += cur;
                if s.is_nan() {
                    return Err(());
                }
            }
            if (f.lt && s >= cur) || (f.gt && s <= cur) {
                return Ok((AddOut::Nop, cur));
            }
            if s != cur {
                z.insert_with(m, s, limits);
                Ok((AddOut::Updated, s))
            } else {
                Ok((AddOut::Same, s))
            }
        }
        None if f.xx => Ok((AddOut::Nop, score)),
        None => {
            z.insert_with(m, score, limits);
            Ok((AddOut::Added, score))
        }
    }
}

/// ZADD key [NX|XX] [GT|LT] [CH] [INCR] score member [score member ...]
fn zadd(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]]) {
    zadd_generic(ctx, argv, false);
}

/// ZINCRBY key increment member: ZADD with INCR (so options are read the same way).
fn zincrby(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]]) {
    zadd_generic(ctx, argv, true);
}

fn zadd_generic(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]], incr: bool) {
    let mut f = AddFlags {
        incr,
        ..AddFlags::default()
    };
    let mut ch = false;
    let mut i = 2;
    while i < argv.len() {
        let a = argv[i];
        if eq_ic(a, b"nx") {
            f.nx = true;
        } else if eq_ic(a, b"xx") {
            f.xx = true;
        } else if eq_ic(a, b"ch") {
            ch = true;
        } else if eq_ic(a, b"incr") {
            f.incr = true;
        } else if eq_ic(a, b"gt") {
            f.gt = true;
        } else if eq_ic(a, b"lt") {
            f.lt = true;
        } else {
            break;
        }
        i += 1;
    }
    let rest = &argv[i..];
    if rest.is_empty() || rest.len() % 2 == 1 {
        return ctx.error(errors::SYNTAX);
    }
    if f.nx && f.xx {
        return ctx.error(errors::NX_XX);
    }
    if (f.nx && (f.gt || f.lt)) || (f.gt && f.lt) {
        return ctx.error(errors::GT_LT_NX);
    }
    if f.incr && rest.len() > 2 {
        return ctx.error(errors::ZADD_INCR_PAIR);
    }
    let mut scores = Vec::with_capacity(rest.len() / 2);
    let mut members = Vec::with_capacity(rest.len() / 2);
    for pair in rest.chunks_exact(2) {
        match parse_f64(pair[0]) {
            Some(s) => scores.push(s),
            None => return ctx.error(errors::NOT_FLOAT),
        }
        members.push(pair[1]);
    }
    zadd_core(ctx, argv[1], f, ch, &scores, &members);
}

/// ZADD's work once its arguments are checked (GEOADD comes here too): adds or
/// updates `members` with `scores` under the flags and replies.
pub(crate) fn zadd_core(
    ctx: &mut Ctx<'_, '_>,
    key: &[u8],
    f: AddFlags,
    ch: bool,
    scores: &[f64],
    members: &[&[u8]],
) {
    let (db, now, lim) = (ctx.db(), ctx.now_ms, limits(ctx));
    let (mut added, mut updated, mut processed) = (0i64, 0i64, 0usize);
    let mut score = 0.0;
    // Err(true): a NaN result; Err(false): the key holds another type.
    let mut apply = |z: &mut ZSet| -> Result<(), bool> {
        for (m, &s) in members.iter().zip(scores) {
            let (out, new) = zset_add(z, s, m, f, &lim).map_err(|()| true)?;
            match out {
                AddOut::Added => added += 1,
                AddOut::Updated => updated += 1,
                AddOut::Same | AddOut::Nop => {}
            }
            if !matches!(out, AddOut::Nop) {
                processed += 1;
            }
            score = new;
        }
        Ok(())
    };
    let mut created = None;
    let r = match ctx.ks.get_for_write(db, key, now) {
        Some(mut e) => match zset_of_mut(&mut e.value) {
            Some(z) => {
                let r = apply(z);
                e.touch(&ctx.access);
                r
            }
            None => Err(false),
        },
        None if f.xx => Ok(()),
        None => {
            let mut z = ZSet::new();
            let r = apply(&mut z);
            created = Some(z);
            r
        }
    };
    if let Some(z) = created.filter(|z| !z.is_empty()) {
        let e = new_entry(key, Value::ZSet(z), &ctx.access);
        ctx.ks.insert(db, e, now);
    }
    let step = match r {
        Ok(()) => Step::Done,
        Err(true) => Step::Fail(errors::ZSET_NAN),
        Err(false) => Step::WrongType,
    };
    if !matches!(step, Step::Done) {
        return step.finish(ctx, key);
    }
    if added + updated > 0 {
        ctx.notify(class::ZSET, if f.incr { "zincr" } else { "zadd" }, key);
    }
    if f.incr {
        if processed > 0 {
            ctx.out.double(score);
        } else {
            ctx.out.null();
        }
    } else {
        ctx.out.int(if ch { added + updated } else { added });
    }
}

/// ZREM key member [member ...]
fn zrem(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]]) {
    let (db, now, key) = (ctx.db(), ctx.now_ms, argv[1]);
    let mut n = 0;
    let step = match ctx.ks.get_for_write(db, key, now) {
        None => Step::Done,
        Some(mut e) => match zset_of_mut(&mut e.value) {
            None => Step::WrongType,
            Some(z) => {
                for m in &argv[2..] {
                    if z.remove(m) {
                        n += 1;
                        if z.is_empty() {
                            break;
                        }
                    }
                }
                let empty = z.is_empty();
                e.touch(&ctx.access);
                if empty {
                    Step::Emptied
                } else {
                    Step::Done
                }
            }
        },
    };
    let wrong = matches!(step, Step::WrongType);
    step.finish_ev(ctx, key, (n > 0).then_some("zrem"));
    if !wrong {
        ctx.out.int(n);
    }
}

// ---------------------------------------------------------------------------------------
// Reads of one key
// ---------------------------------------------------------------------------------------

/// Runs `f` on the sorted set at `key` (a read: counts a hit or miss and touches it),
/// or `missing` when there is none; replies WRONGTYPE (and returns false) otherwise.
fn read(
    ctx: &mut Ctx<'_, '_>,
    key: &[u8],
    missing: impl FnOnce(&mut ReplyWriter),
    f: impl FnOnce(&ZSet, &mut ReplyWriter),
) -> bool {
    match super::collection::read_as(ctx, key, zset_of, |out, z| f(z, out)) {
        Look::Found(()) => true,
        Look::Missing => {
            missing(ctx.out);
            true
        }
        Look::WrongType => {
            ctx.error(errors::WRONGTYPE);
            false
        }
    }
}

/// ZCARD key
fn zcard(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]]) {
    read(ctx, argv[1], |o| o.int(0), |z, o| o.int(z.len() as i64));
}

/// ZSCORE key member
fn zscore(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]]) {
    let m = argv[2];
    read(
        ctx,
        argv[1],
        |o| o.null(),
        |z, o| match z.score(m) {
            Some(s) => o.double(s),
            None => o.null(),
        },
    );
}

/// ZMSCORE key member [member ...]
fn zmscore(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]]) {
    let members = &argv[2..];
    read(
        ctx,
        argv[1],
        |o| {
            o.array(members.len());
            members.iter().for_each(|_| o.null());
        },
        |z, o| {
            o.array(members.len());
            for m in members {
                match z.score(m) {
                    Some(s) => o.double(s),
                    None => o.null(),
                }
            }
        },
    );
}

/// ZRANK key member
fn zrank(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]]) {
    rank_generic(ctx, argv, false);
}

/// ZREVRANK key member
fn zrevrank(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]]) {
    rank_generic(ctx, argv, true);
}

fn rank_generic(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]], rev: bool) {
    let m = argv[2];
    read(
        ctx,
        argv[1],
        |o| o.null(),
        |z, o| match z.rank(m) {
            Some((r, _)) if rev => o.int((z.len() - 1 - r) as i64),
            Some((r, _)) => o.int(r as i64),
            None => o.null(),
        },
    );
}

/// ZCOUNT key min max
fn zcount(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]]) {
    let Some(r) = ScoreRange::parse(argv[2], argv[3]) else {
        return ctx.error(errors::MIN_MAX_NOT_FLOAT);
    };
    read(
        ctx,
        argv[1],
        |o| o.int(0),
        |z, o| {
            let (lo, hi) = r.ranks(z);
            o.int((hi - lo) as i64)
        },
    );
}

/// ZLEXCOUNT key min max
fn zlexcount(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]]) {
    let Some(r) = LexRange::parse(argv[2], argv[3]) else {
        return ctx.error(errors::MIN_MAX_NOT_LEX);
    };
    read(
        ctx,
        argv[1],
        |o| o.int(0),
        |z, o| {
            let (lo, hi) = r.ranks(z);
            o.int((hi - lo) as i64)
        },
    );
}

// ---------------------------------------------------------------------------------------
// The ZRANGE family
// ---------------------------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq, Eq)]
enum RangeType {
    Auto,
    Rank,
    Score,
    Lex,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Dir {
    Auto,
    Fwd,
    Rev,
}

enum Query<'a> {
    Rank(i64, i64),
    Score(ScoreRange),
    Lex(LexRange<'a>),
}

impl Query<'_> {
    /// The ascending ranks `a..b` selected in `z`.
    fn ranks(&self, z: &ZSet, rev: bool, offset: i64, limit: i64) -> (usize, usize) {
        match self {
            Query::Rank(start, end) => match rank_range(*start, *end, z.len()) {
                None => (0, 0),
                Some((s, e)) if rev => (z.len() - 1 - e, z.len() - s),
                Some((s, e)) => (s, e + 1),
            },
            Query::Score(r) => {
                let (lo, hi) = r.ranks(z);
                limit_ranks(lo, hi, offset, limit, rev)
            }
            Query::Lex(r) => {
                let (lo, hi) = r.ranks(z);
                limit_ranks(lo, hi, offset, limit, rev)
            }
        }
    }
}

/// ZRANGE key start stop [BYSCORE|BYLEX] [REV] [LIMIT offset count] [WITHSCORES]
fn zrange(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]]) {
    zrange_generic(ctx, argv, 1, None, RangeType::Auto, Dir::Auto);
}

/// ZRANGESTORE dst src min max [BYSCORE|BYLEX] [REV] [LIMIT offset count]
fn zrangestore(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]]) {
    zrange_generic(ctx, argv, 2, Some(argv[1]), RangeType::Auto, Dir::Auto);
}

/// ZREVRANGE key start stop [WITHSCORES]
fn zrevrange(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]]) {
    zrange_generic(ctx, argv, 1, None, RangeType::Rank, Dir::Rev);
}

/// ZRANGEBYSCORE key min max [WITHSCORES] [LIMIT offset count]
fn zrangebyscore(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]]) {
    zrange_generic(ctx, argv, 1, None, RangeType::Score, Dir::Fwd);
}

/// ZREVRANGEBYSCORE key max min [WITHSCORES] [LIMIT offset count]
fn zrevrangebyscore(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]]) {
    zrange_generic(ctx, argv, 1, None, RangeType::Score, Dir::Rev);
}

/// ZRANGEBYLEX key min max [LIMIT offset count]
fn zrangebylex(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]]) {
    zrange_generic(ctx, argv, 1, None, RangeType::Lex, Dir::Fwd);
}

/// ZREVRANGEBYLEX key max min [LIMIT offset count]
fn zrevrangebylex(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]]) {
    zrange_generic(ctx, argv, 1, None, RangeType::Lex, Dir::Rev);
}

/// Redis's `zrangeGenericCommand`: options after `<key> <min> <max>` first, then the
/// conflicts, then the range, then the key.
fn zrange_generic(
    ctx: &mut Ctx<'_, '_>,
    argv: &[&[u8]],
    key_at: usize,
    dst: Option<&[u8]>,
    mut rt: RangeType,
    mut dir: Dir,
) {
    let storing = dst.is_some();
    let (mut withscores, mut offset, mut limit) = (false, 0i64, -1i64);
    let mut j = key_at + 3;
    while j < argv.len() {
        let left = argv.len() - j - 1;
        let a = argv[j];
        if !storing && eq_ic(a, b"withscores") {
            withscores = true;
        } else if eq_ic(a, b"limit") && left >= 2 {
            match (parse_i64(argv[j + 1]), parse_i64(argv[j + 2])) {
                (Some(o), Some(l)) => (offset, limit) = (o, l),
                _ => return ctx.error(errors::NOT_INTEGER),
            }
            j += 2;
        } else if dir == Dir::Auto && eq_ic(a, b"rev") {
            dir = Dir::Rev;
        } else if rt == RangeType::Auto && eq_ic(a, b"bylex") {
            rt = RangeType::Lex;
        } else if rt == RangeType::Auto && eq_ic(a, b"byscore") {
            rt = RangeType::Score;
        } else {
            return ctx.error(errors::SYNTAX);
        }
        j += 1;
    }
    let rev = dir == Dir::Rev;
    if rt == RangeType::Auto {
        rt = RangeType::Rank;
    }
    if limit != -1 && rt == RangeType::Rank {
        return ctx.error(errors::ZRANGE_LIMIT_RANK);
    }
    if withscores && rt == RangeType::Lex {
        return ctx.error(errors::ZRANGE_WITHSCORES_LEX);
    }
    let (mut lo_arg, mut hi_arg) = (argv[key_at + 1], argv[key_at + 2]);
    if rev && rt != RangeType::Rank {
        std::mem::swap(&mut lo_arg, &mut hi_arg);
    }
    let q = match rt {
        RangeType::Score => match ScoreRange::parse(lo_arg, hi_arg) {
            Some(r) => Query::Score(r),
            None => return ctx.error(errors::MIN_MAX_NOT_FLOAT),
        },
        RangeType::Lex => match LexRange::parse(lo_arg, hi_arg) {
            Some(r) => Query::Lex(r),
            None => return ctx.error(errors::MIN_MAX_NOT_LEX),
        },
        _ => match (parse_i64(lo_arg), parse_i64(hi_arg)) {
            (Some(a), Some(b)) => Query::Rank(a, b),
            _ => return ctx.error(errors::NOT_INTEGER),
        },
    };
    let key = argv[key_at];
    match dst {
        None => {
            read(
                ctx,
                key,
                |o| o.array(0),
                |z, o| {
                    let (a, b) = q.ranks(z, rev, offset, limit);
                    range_header(o, b - a, withscores);
                    if b > a {
                        z.range(a, b - 1, rev, |m, s| range_elem(o, m, s, withscores));
                    }
                },
            );
        }
        Some(dst) => {
            let mut items: Vec<(Vec<u8>, f64)> = Vec::new();
            let ok = read(
                ctx,
                key,
                |_| {},
                |z, _| {
                    let (a, b) = q.ranks(z, rev, offset, limit);
                    if b > a {
                        items.reserve(b - a);
                        z.range(a, b - 1, rev, |m, s| items.push((m.to_vec(), s)));
                    }
                },
            );
            if !ok {
                return;
            }
            let lim = limits(ctx);
            let n = store(ctx, dst, build(items, &lim), "zrangestore");
            ctx.out.int(n as i64);
        }
    }
}

// ---------------------------------------------------------------------------------------
// Removing ranges
// ---------------------------------------------------------------------------------------

/// ZREMRANGEBYRANK key start stop
fn zremrangebyrank(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]]) {
    match (parse_i64(argv[2]), parse_i64(argv[3])) {
        (Some(a), Some(b)) => remrange(ctx, argv[1], Query::Rank(a, b)),
        _ => ctx.error(errors::NOT_INTEGER),
    }
}

/// ZREMRANGEBYSCORE key min max
fn zremrangebyscore(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]]) {
    match ScoreRange::parse(argv[2], argv[3]) {
        Some(r) => remrange(ctx, argv[1], Query::Score(r)),
        None => ctx.error(errors::MIN_MAX_NOT_FLOAT),
    }
}

/// ZREMRANGEBYLEX key min max
fn zremrangebylex(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]]) {
    match LexRange::parse(argv[2], argv[3]) {
        Some(r) => remrange(ctx, argv[1], Query::Lex(r)),
        None => ctx.error(errors::MIN_MAX_NOT_LEX),
    }
}

fn remrange(ctx: &mut Ctx<'_, '_>, key: &[u8], q: Query<'_>) {
    let (db, now) = (ctx.db(), ctx.now_ms);
    let mut n = 0;
    let step = match ctx.ks.get_for_write(db, key, now) {
        None => Step::Done,
        Some(mut e) => match zset_of(&e.value) {
            None => Step::WrongType,
            Some(z) => {
                let (a, b) = q.ranks(z, false, 0, -1);
                if b > a {
                    if let Some(z) = zset_of_mut(&mut e.value) {
                        n = z.remove_range(a, b - 1);
                    }
                    e.touch(&ctx.access);
                }
                if zset_of(&e.value).is_some_and(ZSet::is_empty) {
                    Step::Emptied
                } else {
                    Step::Done
                }
            }
        },
    };
    let wrong = matches!(step, Step::WrongType);
    let event = match q {
        Query::Rank(..) => "zremrangebyrank",
        Query::Score(..) => "zremrangebyscore",
        Query::Lex(..) => "zremrangebylex",
    };
    step.finish_ev(ctx, key, (n > 0).then_some(event));
    if !wrong {
        ctx.out.int(n as i64);
    }
}

// ---------------------------------------------------------------------------------------
// Pops
// ---------------------------------------------------------------------------------------

/// The shape of a pop reply.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum PopReply {
    /// ZPOPMIN/ZPOPMAX: member, score, member, score...
    Flat,
    /// ZPOPMIN/ZPOPMAX with a count in RESP3: [member, score] pairs.
    Pairs,
    /// BZPOPMIN/BZPOPMAX: key, member, score.
    FlatWithKey,
    /// ZMPOP/BZMPOP: key, then an array of [member, score] pairs.
    Nested,
}

/// Pops up to `count` elements from the first non-empty sorted set of `keys` and
/// replies; WRONGTYPE on the first key that holds another type. Returns false (and
/// writes nothing) when every key is missing.
pub(crate) fn pop_first(
    ctx: &mut Ctx<'_, '_>,
    keys: &[&[u8]],
    max: bool,
    count: usize,
    shape: PopReply,
) -> bool {
    let (db, now) = (ctx.db(), ctx.now_ms);
    for &key in keys {
        let mut popped = 0;
        let step = match ctx.ks.get_for_write(db, key, now) {
            None => continue,
            Some(mut e) => match zset_of_mut(&mut e.value) {
                None => Step::WrongType,
                Some(z) => {
                    let n = count.min(z.len());
                    popped = n;
                    let out = &mut *ctx.out;
                    match shape {
                        PopReply::Flat => out.array(n * 2),
                        PopReply::Pairs => out.array(n),
                        PopReply::FlatWithKey => {
                            out.array(n * 2 + 1);
                            out.bulk(key);
                        }
                        PopReply::Nested => {
                            out.array(2);
                            out.bulk(key);
                            out.array(n);
                        }
                    }
                    let nested = matches!(shape, PopReply::Nested | PopReply::Pairs);
                    let emit = |m: &[u8], s: f64| {
                        if nested {
                            out.array(2);
                        }
                        out.bulk(m);
                        out.double(s);
                    };
                    let len = z.len();
                    if n > 0 {
                        if max {
                            z.range(len - n, len - 1, true, emit);
                            z.remove_range(len - n, len - 1);
                        } else {
                            z.range(0, n - 1, false, emit);
                            z.remove_range(0, n - 1);
                        }
                    }
                    let empty = z.is_empty();
                    e.touch(&ctx.access);
                    if empty {
                        Step::Emptied
                    } else {
                        Step::Done
                    }
                }
            },
        };
        let event = if max { "zpopmax" } else { "zpopmin" };
        step.finish_ev(ctx, key, (popped > 0).then_some(event));
        return true;
    }
    false
}

/// ZPOPMIN key [count]
fn zpopmin(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]]) {
    zpop(ctx, argv, false);
}

/// ZPOPMAX key [count]
fn zpopmax(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]]) {
    zpop(ctx, argv, true);
}

fn zpop(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]], max: bool) {
    if argv.len() > 3 {
        return ctx.error(errors::SYNTAX);
    }
    let mut count = 1usize;
    let mut shape = PopReply::Flat;
    if let Some(c) = argv.get(2) {
        match parse_i64(c) {
            Some(n) if n >= 0 => count = usize::try_from(n).unwrap_or(usize::MAX),
            _ => return ctx.error(errors::MUST_BE_POSITIVE),
        }
        // With a count, RESP3 replies pairs.
        if ctx.out.is_resp3() {
            shape = PopReply::Pairs;
        }
    }
    if !pop_first(ctx, &argv[1..2], max, count, shape) {
        ctx.out.array(0);
    }
}

/// The arguments of ZMPOP and BZMPOP after the timeout: `numkeys key... MIN|MAX
/// [COUNT count]`.
pub(crate) struct MpopArgs<'a> {
    pub keys: Vec<&'a [u8]>,
    pub max: bool,
    pub count: usize,
}

pub(crate) fn parse_mpop<'a>(args: &[&'a [u8]]) -> Result<MpopArgs<'a>, &'static str> {
    let numkeys = match parse_i64(args[0]) {
        Some(n) if n >= 1 => n as u64,
        _ => return Err(errors::NUMKEYS_NOT_POSITIVE),
    };
    let where_at = numkeys.saturating_add(1);
    if where_at >= args.len() as u64 {
        return Err(errors::SYNTAX);
    }
    let where_at = where_at as usize;
    let max = if eq_ic(args[where_at], b"min") {
        false
    } else if eq_ic(args[where_at], b"max") {
        true
    } else {
        return Err(errors::SYNTAX);
    };
    let mut count: Option<usize> = None;
    let mut j = where_at + 1;
    while j < args.len() {
        if count.is_none() && eq_ic(args[j], b"count") && j + 1 < args.len() {
            j += 1;
            match parse_i64(args[j]) {
                Some(n) if n >= 1 => count = Some(usize::try_from(n).unwrap_or(usize::MAX)),
                _ => return Err(errors::COUNT_POSITIVE),
            }
        } else {
            return Err(errors::SYNTAX);
        }
        j += 1;
    }
    Ok(MpopArgs {
        keys: args[1..where_at].to_vec(),
        max,
        count: count.unwrap_or(1),
    })
}

/// ZMPOP numkeys key [key ...] MIN|MAX [COUNT count]
fn zmpop(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]]) {
    let a = match parse_mpop(&argv[1..]) {
        Ok(a) => a,
        Err(e) => return ctx.error(e),
    };
    if !pop_first(ctx, &a.keys, a.max, a.count, PopReply::Nested) {
        ctx.out.null_array();
    }
}

/// BZPOPMIN key [key ...] timeout
fn bzpopmin(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]]) {
    bzpop(ctx, argv, false);
}

/// BZPOPMAX key [key ...] timeout
fn bzpopmax(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]]) {
    bzpop(ctx, argv, true);
}

fn bzpop(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]], max: bool) {
    let Some((&timeout, keys)) = argv[1..].split_last() else {
        return ctx.error(&errors::wrong_arity("bzpopmin"));
    };
    let deadline = match blocking::timeout_secs(timeout, ctx.now_ms) {
        Ok(d) => d,
        Err(e) => return ctx.error(e),
    };
    if pop_first(ctx, keys, max, 1, PopReply::FlatWithKey) {
        return;
    }
    block_or_null(ctx, keys, deadline);
}

/// BZMPOP timeout numkeys key [key ...] MIN|MAX [COUNT count]: the arguments are
/// checked before the timeout, as Redis does.
fn bzmpop(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]]) {
    let a = match parse_mpop(&argv[2..]) {
        Ok(a) => a,
        Err(e) => return ctx.error(e),
    };
    let deadline = match blocking::timeout_secs(argv[1], ctx.now_ms) {
        Ok(d) => d,
        Err(e) => return ctx.error(e),
    };
    if pop_first(ctx, &a.keys, a.max, a.count, PopReply::Nested) {
        return;
    }
    block_or_null(ctx, &a.keys, deadline);
}

/// Nothing to pop: wait for a write to one of `keys`, or (inside MULTI or a script)
/// reply as a timeout would.
fn block_or_null(ctx: &mut Ctx<'_, '_>, keys: &[&[u8]], deadline: Option<u64>) {
    if !ctx.may_block() {
        return ctx.out.null_array();
    }
    ctx.block(Block {
        keys,
        deadline,
        on_timeout: OnTimeout::NullArray,
        kind: "zset",
        argv: None,
    });
}

// ---------------------------------------------------------------------------------------
// ZRANDMEMBER
// ---------------------------------------------------------------------------------------

/// ZRANDMEMBER key [count [WITHSCORES]]
fn zrandmember(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]]) {
    if argv.len() < 3 {
        read(
            ctx,
            argv[1],
            |o| o.null(),
            |z, o| {
                let r = rand::thread_rng().gen_range(0..z.len().max(1));
                match z.get(r) {
                    Some((m, _)) => o.bulk(m),
                    None => o.null(),
                }
            },
        );
        return;
    }
    let l = match parse_i64(argv[2]) {
        None => return ctx.error(errors::NOT_INTEGER),
        Some(i64::MIN) => return ctx.error(errors::LONG_OUT_OF_RANGE),
        Some(l) => l,
    };
    let withscores = match argv.len() {
        3 => false,
        4 if eq_ic(argv[3], b"withscores") => {
            if !(-i64::MAX / 2..=i64::MAX / 2).contains(&l) {
                return ctx.error(errors::VALUE_OUT_OF_RANGE);
            }
            true
        }
        _ => return ctx.error(errors::SYNTAX),
    };
    read(
        ctx,
        argv[1],
        |o| o.array(0),
        |z, o| {
            let size = z.len();
            let count = l.unsigned_abs();
            if count == 0 || size == 0 {
                return o.array(0);
            }
            let mut rng = rand::thread_rng();
            if l < 0 {
                // With repetitions.
                let count = usize::try_from(count).unwrap_or(usize::MAX);
                range_header(o, count, withscores);
                for _ in 0..count {
                    if let Some((m, s)) = z.get(rng.gen_range(0..size)) {
                        range_elem(o, m, s, withscores);
                    }
                }
                return;
            }
            if count >= size as u64 {
                range_header(o, size, withscores);
                z.for_each(|m, s| range_elem(o, m, s, withscores));
                return;
            }
            let count = count as usize;
            let picks = rand::seq::index::sample(&mut rng, size, count);
            range_header(o, count, withscores);
            for r in picks.iter() {
                if let Some((m, s)) = z.get(r) {
                    range_elem(o, m, s, withscores);
                }
            }
        },
    );
}

// ---------------------------------------------------------------------------------------
// Set operations
// ---------------------------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq, Eq)]
enum SetOp {
    Union,
    Inter,
    Diff,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Aggregate {
    Sum,
    Min,
    Max,
}

/// Redis's `zunionInterAggregate`: a NaN sum (inf + -inf) counts as 0.
#[inline]
fn aggregate(target: &mut f64, v: f64, a: Aggregate) {
    match a {
        Aggregate::Sum => {
            *target += v;
            if target.is_nan() {
                *target = 0.0;
            }
        }
        Aggregate::Min => {
            if v < *target {
                *target = v
            }
        }
        Aggregate::Max => {
            if v > *target {
                *target = v
            }
        }
    }
}

/// One input of a set operation: its elements (a set's members score 1) and weight.
struct Src {
    items: Vec<(Vec<u8>, f64)>,
    weight: f64,
}

/// ZUNION numkeys key [key ...] [WEIGHTS w...] [AGGREGATE SUM|MIN|MAX] [WITHSCORES]
fn zunion(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]]) {
    setop_generic(ctx, argv, None, 1, SetOp::Union, false, "zunion");
}

/// ZINTER numkeys key [key ...] [WEIGHTS w...] [AGGREGATE SUM|MIN|MAX] [WITHSCORES]
fn zinter(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]]) {
    setop_generic(ctx, argv, None, 1, SetOp::Inter, false, "zinter");
}

/// ZDIFF numkeys key [key ...] [WITHSCORES]
fn zdiff(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]]) {
    setop_generic(ctx, argv, None, 1, SetOp::Diff, false, "zdiff");
}

/// ZUNIONSTORE destination numkeys key [key ...] [WEIGHTS w...] [AGGREGATE ...]
fn zunionstore(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]]) {
    setop_generic(
        ctx,
        argv,
        Some(argv[1]),
        2,
        SetOp::Union,
        false,
        "zunionstore",
    );
}

/// ZINTERSTORE destination numkeys key [key ...] [WEIGHTS w...] [AGGREGATE ...]
fn zinterstore(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]]) {
    setop_generic(
        ctx,
        argv,
        Some(argv[1]),
        2,
        SetOp::Inter,
        false,
        "zinterstore",
    );
}

/// ZDIFFSTORE destination numkeys key [key ...]
fn zdiffstore(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]]) {
    setop_generic(
        ctx,
        argv,
        Some(argv[1]),
        2,
        SetOp::Diff,
        false,
        "zdiffstore",
    );
}

/// ZINTERCARD numkeys key [key ...] [LIMIT limit]
fn zintercard(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]]) {
    setop_generic(ctx, argv, None, 1, SetOp::Inter, true, "zintercard");
}

/// Redis's `zunionInterDiffGenericCommand`: numkeys, then the keys' types, then the
/// options, then the operation.
fn setop_generic(
    ctx: &mut Ctx<'_, '_>,
    argv: &[&[u8]],
    dst: Option<&[u8]>,
    numkeys_at: usize,
    op: SetOp,
    card_only: bool,
    name: &str,
) {
    let Some(setnum) = parse_i64(argv[numkeys_at]) else {
        return ctx.error(errors::NOT_INTEGER);
    };
    if setnum < 1 {
        return ctx.error(&errors::at_least_one_key(name));
    }
    if setnum as u64 > (argv.len() - numkeys_at - 1) as u64 {
        return ctx.error(errors::SYNTAX);
    }
    let setnum = setnum as usize;
    let keys = &argv[numkeys_at + 1..numkeys_at + 1 + setnum];
    // Read the inputs (WRONGTYPE comes before any option error, as in Redis).
    let (db, now, touch) = (ctx.db(), ctx.now_ms, touches(ctx));
    let mut srcs: Vec<Src> = Vec::with_capacity(setnum);
    for &key in keys {
        let mut items = Vec::new();
        let mut wrong = false;
        let found = if dst.is_some() {
            ctx.ks.get_for_write(db, key, now)
        } else {
            ctx.ks.get(db, key, now)
        };
        if let Some(mut e) = { found } {
            if let Some(c) = &touch {
                e.touch(c);
            }
            match &e.value {
                Value::ZSet(z) => {
                    items.reserve(z.len());
                    z.for_each(|m, s| items.push((m.to_vec(), s)));
                }
                Value::Set(s) => {
                    items.reserve(s.len());
                    s.for_each(|m| items.push((m.to_vec(), 1.0)));
                }
                _ => wrong = true,
            }
        }
        if wrong {
            return ctx.error(errors::WRONGTYPE);
        }
        srcs.push(Src { items, weight: 1.0 });
    }
    let mut agg = Aggregate::Sum;
    let mut withscores = false;
    let mut limit: u64 = 0;
    let mut j = numkeys_at + 1 + setnum;
    while j < argv.len() {
        let remaining = argv.len() - j;
        let a = argv[j];
        if op != SetOp::Diff && !card_only && remaining > setnum && eq_ic(a, b"weights") {
            j += 1;
            for src in srcs.iter_mut() {
                match parse_f64(argv[j]) {
                    Some(w) => src.weight = w,
                    None => return ctx.error(errors::WEIGHT_NOT_FLOAT),
                }
                j += 1;
            }
        } else if op != SetOp::Diff && !card_only && remaining >= 2 && eq_ic(a, b"aggregate") {
            let v = argv[j + 1];
            agg = if eq_ic(v, b"sum") {
                Aggregate::Sum
            } else if eq_ic(v, b"min") {
                Aggregate::Min
            } else if eq_ic(v, b"max") {
                Aggregate::Max
            } else {
                return ctx.error(errors::SYNTAX);
            };
            j += 2;
        } else if dst.is_none() && !card_only && eq_ic(a, b"withscores") {
            withscores = true;
            j += 1;
        } else if card_only && remaining >= 2 && eq_ic(a, b"limit") {
            match parse_i64(argv[j + 1]) {
                Some(n) if n >= 0 => limit = n as u64,
                _ => return ctx.error(errors::LIMIT_NEGATIVE),
            }
            j += 2;
        } else {
            return ctx.error(errors::SYNTAX);
        }
    }
    let result = compute(srcs, op, agg, card_only, limit);
    let result = match result {
        Computed::Card(n) => return ctx.out.int(n as i64),
        Computed::Items(v) => v,
    };
    match dst {
        Some(dst) => {
            let lim = limits(ctx);
            let event = match op {
                SetOp::Union => "zunionstore",
                SetOp::Inter => "zinterstore",
                SetOp::Diff => "zdiffstore",
            };
            let n = store(ctx, dst, build(result, &lim), event);
            ctx.out.int(n as i64);
        }
        None => {
            range_header(ctx.out, result.len(), withscores);
            for (m, s) in &result {
                range_elem(ctx.out, m, *s, withscores);
            }
        }
    }
}

enum Computed {
    Card(usize),
    /// Sorted by score, then member.
    Items(Vec<(Vec<u8>, f64)>),
}

fn compute(mut srcs: Vec<Src>, op: SetOp, agg: Aggregate, card_only: bool, limit: u64) -> Computed {
    use std::collections::HashMap;
    let weighted = |w: f64, s: f64| {
        let v = w * s;
        if v.is_nan() {
            0.0
        } else {
            v
        }
    };
    let mut out: Vec<(Vec<u8>, f64)> = Vec::new();
    match op {
        SetOp::Inter => {
            // Smallest input first, as Redis orders them (it decides the summing order).
            srcs.sort_by_key(|s| s.items.len());
            if srcs.iter().any(|s| s.items.is_empty()) {
                return if card_only {
                    Computed::Card(0)
                } else {
                    Computed::Items(out)
                };
            }
            let maps: Vec<HashMap<&[u8], f64>> = srcs[1..]
                .iter()
                .map(|s| s.items.iter().map(|(m, v)| (m.as_slice(), *v)).collect())
                .collect();
            let mut card = 0usize;
            'outer: for (m, s) in &srcs[0].items {
                let mut score = weighted(srcs[0].weight, *s);
                for (k, map) in maps.iter().enumerate() {
                    match map.get(m.as_slice()) {
                        None => continue 'outer,
                        Some(v) => aggregate(&mut score, v * srcs[k + 1].weight, agg),
                    }
                }
                if card_only {
                    card += 1;
                    if limit != 0 && card as u64 >= limit {
                        break;
                    }
                } else {
                    out.push((m.clone(), score));
                }
            }
            if card_only {
                return Computed::Card(card);
            }
        }
        SetOp::Union => {
            srcs.sort_by_key(|s| s.items.len());
            let mut acc: HashMap<Vec<u8>, f64> = HashMap::new();
            for src in srcs {
                for (m, s) in src.items {
                    let v = weighted(src.weight, s);
                    match acc.get_mut(&m) {
                        Some(t) => aggregate(t, v, agg),
                        None => {
                            acc.insert(m, v);
                        }
                    }
                }
            }
            out = acc.into_iter().collect();
        }
        SetOp::Diff => {
            let mut it = srcs.into_iter();
            if let Some(first) = it.next() {
                let others: Vec<std::collections::HashSet<Vec<u8>>> = it
                    .map(|s| s.items.into_iter().map(|(m, _)| m).collect())
                    .collect();
                out = first
                    .items
                    .into_iter()
                    .filter(|(m, _)| !others.iter().any(|o| o.contains(m)))
                    .collect();
            }
        }
    }
    out.sort_by(|a, b| cmp_elem(a.1, &a.0, b.1, &b.0));
    Computed::Items(out)
}

// ---------------------------------------------------------------------------------------
// ZSCAN
// ---------------------------------------------------------------------------------------

/// ZSCAN key cursor [MATCH pattern] [COUNT count]
fn zscan(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]]) {
    let Some(cursor) = parse_cursor(argv[2]) else {
        return ctx.error(errors::INVALID_CURSOR);
    };
    let (db, now) = (ctx.db(), ctx.now_ms);
    // The key's type is checked before the options, as Redis does.
    let wrong = match ctx.ks.get(db, argv[1], now) {
        None => {
            ctx.out.array(2);
            ctx.out.bulk(b"0");
            ctx.out.array(0);
            return;
        }
        Some(e) => zset_of(&e.value).is_none(),
    };
    if wrong {
        return ctx.error(errors::WRONGTYPE);
    }
    let mut count: usize = 10;
    let mut pattern: Option<&[u8]> = None;
    let mut i = 3;
    while i < argv.len() {
        let (opt, has_value) = (argv[i], argv.len() - i >= 2);
        if eq_ic(opt, b"count") && has_value {
            match parse_i64(argv[i + 1]) {
                None => return ctx.error(errors::NOT_INTEGER),
                Some(n) if n < 1 => return ctx.error(errors::SYNTAX),
                Some(n) => count = usize::try_from(n).unwrap_or(usize::MAX),
            }
        } else if eq_ic(opt, b"match") && has_value {
            pattern = (argv[i + 1] != b"*").then_some(argv[i + 1]);
        } else {
            return ctx.error(errors::SYNTAX);
        }
        i += 2;
    }
    let mut body = ReplyWriter::default();
    let mut n = 0usize;
    let mut next = 0;
    if let Some(e) = ctx.ks.get_for_write(db, argv[1], now) {
        if let Some(z) = zset_of(&e.value) {
            next = z.scan(cursor, count, |m, s| {
                if pattern.is_some_and(|p| !super::util::glob_match(p, m, false)) {
                    return;
                }
                body.bulk(m);
                score_bulk(&mut body, s);
                n += 2;
            });
        }
    }
    ctx.out.array(2);
    ctx.out.bulk(itoa::Buffer::new().format(next).as_bytes());
    ctx.out.array(n);
    ctx.out.raw(body.as_bytes());
}

#[cfg(test)]
mod tests {
    use super::super::util::testkit::Kit;
    use super::*;

    #[test]
    fn strtod_like_parsing() {
        assert_eq!(strtod_whole(b""), Some(0.0));
        assert_eq!(strtod_whole(b" 5"), Some(5.0));
        assert_eq!(strtod_whole(b"5 "), None);
        assert_eq!(strtod_whole(b" "), None);
        assert_eq!(strtod_whole(b"1e400"), Some(f64::INFINITY));
        assert_eq!(strtod_whole(b"-inf"), Some(f64::NEG_INFINITY));
        assert_eq!(strtod_whole(b"+Infinity"), Some(f64::INFINITY));
        assert_eq!(strtod_whole(b"nan"), None);
        assert_eq!(strtod_whole(b"abc"), None);
        assert_eq!(strtod_whole(b"0x10"), Some(16.0));
        assert_eq!(strtod_whole(b"1e-400"), Some(0.0));
        assert_eq!(strtod_whole(b"+-1"), None);
    }

    #[test]
    fn limits_like_redis() {
        assert_eq!(limit_ranks(2, 10, 0, -1, false), (2, 10));
        assert_eq!(limit_ranks(2, 10, 1, 3, false), (3, 6));
        assert_eq!(limit_ranks(2, 10, 1, 3, true), (6, 9));
        assert_eq!(limit_ranks(2, 10, -1, 3, false), (2, 2));
        assert_eq!(limit_ranks(2, 10, 8, 3, false), (2, 2));
        assert_eq!(limit_ranks(2, 10, 7, 0, false), (9, 9));
        assert_eq!(rank_range(0, -1, 3), Some((0, 2)));
        assert_eq!(rank_range(-100, 100, 3), Some((0, 2)));
        assert_eq!(rank_range(2, 1, 3), None);
        assert_eq!(rank_range(3, 5, 3), None);
    }

    fn run(k: &mut Kit, line: &str) -> String {
        k.run(line)
    }

    #[test]
    fn zadd_options_and_replies() {
        let mut k = Kit::new();
        assert_eq!(run(&mut k, "zadd z 1 a 2 b 3 c"), ":3\r\n");
        assert_eq!(run(&mut k, "zadd z ch 1 a 5 b 4 d"), ":2\r\n");
        assert_eq!(run(&mut k, "zadd z nx 9 a 9 e"), ":1\r\n");
        assert_eq!(run(&mut k, "zscore z a"), "$1\r\n1\r\n");
        assert_eq!(run(&mut k, "zadd z xx ch 7 a 7 f"), ":1\r\n");
        assert_eq!(run(&mut k, "zadd z gt ch 1 a 8 a"), ":1\r\n");
        assert_eq!(run(&mut k, "zscore z a"), "$1\r\n8\r\n");
        assert_eq!(run(&mut k, "zadd z lt incr 1 a"), "$-1\r\n");
        assert_eq!(run(&mut k, "zadd z incr -0.5 a"), "$3\r\n7.5\r\n");
        assert_eq!(
            run(&mut k, "zincrby z 0.1 a"),
            "$18\r\n7.5999999999999996\r\n"
        );
        assert_eq!(
            run(&mut k, "zadd z nx xx 1 a"),
            "-ERR XX and NX options at the same time are not compatible\r\n"
        );
        assert_eq!(
            run(&mut k, "zadd z gt lt 1 a"),
            "-ERR GT, LT, and/or NX options at the same time are not compatible\r\n"
        );
        assert_eq!(
            run(&mut k, "zadd z incr 1 a 2 b"),
            "-ERR INCR option supports a single increment-element pair\r\n"
        );
        assert_eq!(run(&mut k, "zadd z 1 a 2"), "-ERR syntax error\r\n");
        assert_eq!(
            run(&mut k, "zadd z x a"),
            "-ERR value is not a valid float\r\n"
        );
        assert_eq!(
            run(&mut k, "zadd z nan a"),
            "-ERR value is not a valid float\r\n"
        );
        assert_eq!(run(&mut k, "zadd z inf a"), ":0\r\n");
        assert_eq!(
            run(&mut k, "zincrby z -inf a"),
            "-ERR resulting score is not a number (NaN)\r\n"
        );
        assert_eq!(run(&mut k, "zadd none xx 1 a"), ":0\r\n");
        assert_eq!(run(&mut k, "exists none"), ":0\r\n");
        run(&mut k, "set s x");
        assert_eq!(
            run(&mut k, "zadd s 1 a"),
            "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
        );
    }

    #[test]
    fn ranges_and_ranks() {
        let mut k = Kit::new();
        run(&mut k, "zadd z 1 a 2 b 3 c 4 d 5 e");
        assert_eq!(run(&mut k, "zrange z 1 2"), "*2\r\n$1\r\nb\r\n$1\r\nc\r\n");
        assert_eq!(run(&mut k, "zrange z 0 0 rev"), "*1\r\n$1\r\ne\r\n");
        assert_eq!(
            run(&mut k, "zrangebyscore z (1 3 withscores"),
            "*4\r\n$1\r\nb\r\n$1\r\n2\r\n$1\r\nc\r\n$1\r\n3\r\n"
        );
        assert_eq!(
            run(&mut k, "zrange z +inf -inf byscore rev limit 1 2"),
            "*2\r\n$1\r\nd\r\n$1\r\nc\r\n"
        );
        assert_eq!(run(&mut k, "zrank z c"), ":2\r\n");
        assert_eq!(run(&mut k, "zrevrank z c"), ":2\r\n");
        assert_eq!(run(&mut k, "zrevrank z a"), ":4\r\n");
        assert_eq!(run(&mut k, "zcount z -inf (3"), ":2\r\n");
        assert_eq!(run(&mut k, "zlexcount z [b (d"), ":2\r\n");
        assert_eq!(run(&mut k, "zrangestore d z 0 -1"), ":5\r\n");
        assert_eq!(run(&mut k, "zremrangebyrank d 0 1"), ":2\r\n");
        assert_eq!(run(&mut k, "zremrangebyscore d 3 3"), ":1\r\n");
        assert_eq!(run(&mut k, "zremrangebylex d - +"), ":2\r\n");
        assert_eq!(run(&mut k, "exists d"), ":0\r\n");
        assert_eq!(
            run(&mut k, "zrange z 0 1 limit 0 1"),
            "-ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX\r\n"
        );
    }

    #[test]
    fn pops_and_setops() {
        let mut k = Kit::new();
        run(&mut k, "zadd z 1 a 2 b 3 c");
        assert_eq!(
            run(&mut k, "zpopmax z 2"),
            "*4\r\n$1\r\nc\r\n$1\r\n3\r\n$1\r\nb\r\n$1\r\n2\r\n"
        );
        assert_eq!(
            run(&mut k, "zmpop 2 x z min count 5"),
            "*2\r\n$1\r\nz\r\n*1\r\n*2\r\n$1\r\na\r\n$1\r\n1\r\n"
        );
        assert_eq!(run(&mut k, "exists z"), ":0\r\n");
        assert_eq!(run(&mut k, "zmpop 1 z min"), "*-1\r\n");
        run(&mut k, "zadd a 1 x 2 y");
        run(&mut k, "zadd b 10 y 20 z");
        assert_eq!(
            run(&mut k, "zunion 2 a b withscores"),
            "*6\r\n$1\r\nx\r\n$1\r\n1\r\n$1\r\ny\r\n$2\r\n12\r\n$1\r\nz\r\n$2\r\n20\r\n"
        );
        assert_eq!(
            run(&mut k, "zinter 2 a b weights 2 1 aggregate max withscores"),
            "*2\r\n$1\r\ny\r\n$2\r\n10\r\n"
        );
        assert_eq!(run(&mut k, "zdiff 2 a b"), "*1\r\n$1\r\nx\r\n");
        assert_eq!(run(&mut k, "zintercard 2 a b"), ":1\r\n");
        assert_eq!(run(&mut k, "zunionstore d 2 a b"), ":3\r\n");
        assert_eq!(run(&mut k, "zcard d"), ":3\r\n");
        assert_eq!(
            run(&mut k, "zunionstore d 0 a"),
            "-ERR at least 1 input key is needed for 'zunionstore' command\r\n"
        );
    }

    #[test]
    fn blocking_pops_reply_as_a_timeout_when_they_may_not_block() {
        let mut k = Kit::new();
        k.client.no_block = true;
        assert_eq!(run(&mut k, "bzpopmin nokey 0"), "*-1\r\n");
        assert_eq!(run(&mut k, "bzmpop 0 1 nokey max"), "*-1\r\n");
        assert!(k.client.blocked.is_none());
        run(&mut k, "zadd z 1 a");
        assert_eq!(
            run(&mut k, "bzpopmax nokey z 0"),
            "*3\r\n$1\r\nz\r\n$1\r\na\r\n$1\r\n1\r\n"
        );
        k.client.no_block = false;
        assert_eq!(run(&mut k, "bzpopmin nokey 0"), "");
        assert!(k.client.blocked.is_some(), "blocked, no reply");
    }

    #[test]
    fn sets_are_inputs_with_score_one() {
        let mut k = Kit::new();
        let mut set = engine::types::Set::new();
        for m in [&b"a"[..], b"c", b"d"] {
            set.insert(m);
        }
        {
            let mut l = k.inst.ks.lock_all();
            l.insert(0, engine::Entry::new(b"s", Value::Set(set)), 0);
        }
        run(&mut k, "zadd z 1 a 2 b 3 c");
        assert_eq!(
            run(&mut k, "zinter 2 z s withscores"),
            "*4\r\n$1\r\na\r\n$1\r\n2\r\n$1\r\nc\r\n$1\r\n4\r\n"
        );
        assert_eq!(
            run(&mut k, "zdiff 2 s z withscores"),
            "*2\r\n$1\r\nd\r\n$1\r\n1\r\n"
        );
        assert_eq!(run(&mut k, "zunionstore d 2 z s weights 1 10"), ":4\r\n");
        assert_eq!(run(&mut k, "zscore d d"), "$2\r\n10\r\n");
        assert_eq!(run(&mut k, "zintercard 2 s z"), ":2\r\n");
        assert!(run(&mut k, "zrange s 0 -1").starts_with("-WRONGTYPE"));
    }

    #[test]
    fn small_sorted_sets_cost_less_than_in_redis() {
        // Redis 7.0 takes 235 bytes per key for 10-member sorted sets (member:J with
        // score J*1.5; scripts/mem-types.py); the goal is at most 1.2 times that.
        let mut k = Kit::new();
        let before = k.inst.ks.used_memory();
        for i in 0..1000 {
            let mut line = format!("zadd zset:{i}");
            for j in 0..10 {
                line.push_str(&format!(" {} member:{j}", f64::from(j) * 1.5));
            }
            assert_eq!(run(&mut k, &line), ":10\r\n");
        }
        let per_key = (k.inst.ks.used_memory() - before) / 1000;
        assert!(per_key <= 235 * 12 / 10, "{per_key} bytes per key");
        assert!(
            per_key <= 235,
            "{per_key} bytes per key: no worse than Redis"
        );
    }

    #[test]
    fn accounting_stays_exact() {
        let mut k = Kit::new();
        let long = "y".repeat(80);
        let mut script: Vec<String> = (0..300).map(|i| format!("zadd big {i} m{i}")).collect();
        script.extend(
            [
                "zadd small 1 a 2 b",
                "zincrby small 5 a",
                "zadd small 1.5 c 0.25 d",
                "zrem small d",
                "zremrangebyrank big 0 250",
                "zremrangebyscore big 260 270",
                "zunionstore u 2 big small",
                "zinterstore i 2 big big",
                "zdiffstore df 2 big small",
                "zrangestore r big 0 20",
                "zpopmin u 3",
                "zpopmax u 200",
                "zmpop 1 r max count 5",
                "geoadd g 13.361389 38.115556 Palermo 15.087269 37.502669 Catania",
                "geosearchstore gs g fromlonlat 15 37 byradius 200 km storedist",
                "georadius g 15 37 200 km store gr",
                "zrem small a b c",
                "zremrangebylex i - +",
                "del big",
            ]
            .map(String::from),
        );
        script.push(format!("zadd small 1 {long}"));
        script.push(format!("zrem small {long}"));
        for line in &script {
            run(&mut k, line);
            k.inst.ks.check_accounting();
        }
        assert_eq!(run(&mut k, "exists small i"), ":0\r\n");
        run(&mut k, "flushall");
        assert_eq!(k.inst.ks.used_memory(), 0);
    }
}
