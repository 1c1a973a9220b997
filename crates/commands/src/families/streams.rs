//! The stream family: XADD, XLEN, XRANGE, XREVRANGE, XREAD, XDEL, XTRIM, XSETID, the
//! consumer groups (XGROUP, XREADGROUP, XACK, XPENDING, XCLAIM, XAUTOCLAIM) and XINFO,
//! with Redis 7.0's replies, error messages and checking order.
//!
//! Every handler validates its arguments (in Redis's order) before it changes anything.
//! Errors found after some reply bytes were written (never the case by construction,
//! but cheap to guard) are handled by [`run`], which drops the partial reply.

use std::borrow::Cow;

use engine::types::stream::{Group, Packed, Trim, ENTRIES_READ_UNKNOWN};
use engine::types::{Stream, StreamId};
use engine::Value;
use resp::ReplyWriter;

use super::collection::{read_as, Look};
use super::util::{eq_ic, new_entry, parse_i64};
use crate::blocking::{self, Block, OnTimeout, ANY_KIND};
use crate::ctx::Ctx;
use crate::errors;
use crate::pubsub::class;
use crate::spec::Handler;

/// (spec name, handler) for every command this family serves.
pub fn handlers() -> Vec<(&'static str, Handler)> {
    vec![
        ("xadd", xadd),
        ("xlen", xlen),
        ("xrange", xrange),
        ("xrevrange", xrevrange),
        ("xread", xread),
        ("xreadgroup", xread),
        ("xdel", xdel),
        ("xtrim", xtrim),
        ("xsetid", xsetid),
        ("xack", xack),
        ("xpending", xpending),
        ("xclaim", xclaim),
        ("xautoclaim", xautoclaim),
        ("xgroup|create", xgroup),
        ("xgroup|setid", xgroup),
        ("xgroup|destroy", xgroup),
        ("xgroup|createconsumer", xgroup),
        ("xgroup|delconsumer", xgroup),
        ("xgroup|help", xgroup_help),
        ("xinfo|stream", xinfo),
        ("xinfo|groups", xinfo),
        ("xinfo|consumers", xinfo),
        ("xinfo|help", xinfo_help),
    ]
}

// ---------------------------------------------------------------------------------------
// Shared pieces
// ---------------------------------------------------------------------------------------

type Res = Result<(), Cow<'static, str>>;

/// Runs a handler body; on error, whatever it wrote is dropped and the error replied.
fn run(ctx: &mut Ctx<'_, '_>, f: impl FnOnce(&mut Ctx<'_, '_>) -> Res) {
    let mark = ctx.out.len();
    if let Err(e) = f(ctx) {
        ctx.out.truncate(mark);
        ctx.error(&e);
    }
}

fn stream_of(v: &Value) -> Result<&Stream, Cow<'static, str>> {
    stream_ref(v).ok_or_else(|| errors::WRONGTYPE.into())
}

/// The stream inside a value, for [`read_as`].
fn stream_ref(v: &Value) -> Option<&Stream> {
    match v {
        Value::Stream(s) => Some(s),
        _ => None,
    }
}

fn stream_of_mut(v: &mut Value) -> Result<&mut Stream, Cow<'static, str>> {
    match v {
        Value::Stream(s) => Ok(s),
        _ => Err(errors::WRONGTYPE.into()),
    }
}

/// An argument as C code sees it: up to its first NUL byte.
fn c_str(b: &[u8]) -> &[u8] {
    match b.iter().position(|&c| c == 0) {
        Some(i) => &b[..i],
        None => b,
    }
}

/// C's `strtoull` in base 10 over the whole string (leading white space, an optional
/// sign, a minus wrapping around), as Redis's `string2ull` falls back to it.
fn strtoull(s: &[u8]) -> Option<u64> {
    let mut i = 0;
    while i < s.len() && matches!(s[i], b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c) {
        i += 1;
    }
    let mut neg = false;
    if i < s.len() && (s[i] == b'+' || s[i] == b'-') {
        neg = s[i] == b'-';
        i += 1;
    }
    let digits = &s[i..];
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut v: u64 = 0;
    for &c in digits {
        v = v.checked_mul(10)?.checked_add(u64::from(c - b'0'))?;
    }
    Some(if neg { v.wrapping_neg() } else { v })
}

/// Redis's `string2ull`.
fn string2ull(s: &[u8]) -> Option<u64> {
    if let Some(v) = parse_i64(s) {
        return u64::try_from(v).ok();
    }
    strtoull(s)
}

/// A parsed ID and whether its sequence part was given (`<ms>-*` leaves it open).
struct ParsedId {
    id: StreamId,
    seq_given: bool,
}

/// Redis's `streamGenericParseIDOrReply`: `-`, `+` (unless `strict`), `<ms>`,
/// `<ms>-<seq>`, and `<ms>-*` when `allow_auto_seq`.
fn parse_id_full(
    arg: &[u8],
    missing_seq: u64,
    strict: bool,
    allow_auto_seq: bool,
) -> Result<ParsedId, Cow<'static, str>> {
    let invalid = || Cow::Borrowed(errors::STREAM_INVALID_ID);
    if arg.len() > 127 {
        return Err(invalid());
    }
    let s = c_str(arg);
    if s == b"-" || s == b"+" {
        if strict {
            return Err(invalid());
        }
        let id = if s == b"-" {
            StreamId::MIN
        } else {
            StreamId::MAX
        };
        return Ok(ParsedId {
            id,
            seq_given: true,
        });
    }
    let (ms_part, seq_part) = match s.iter().position(|&c| c == b'-') {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    let ms = string2ull(ms_part).ok_or_else(invalid)?;
    let (seq, seq_given) = match seq_part {
        Some(b"*") if allow_auto_seq => (0, false),
        Some(p) => (string2ull(p).ok_or_else(invalid)?, true),
        None => (missing_seq, true),
    };
    Ok(ParsedId {
        id: StreamId::new(ms, seq),
        seq_given,
    })
}

/// `streamParseIDOrReply`: `-` and `+` allowed.
fn parse_id(arg: &[u8], missing_seq: u64) -> Result<StreamId, Cow<'static, str>> {
    parse_id_full(arg, missing_seq, false, false).map(|p| p.id)
}

/// `streamParseStrictIDOrReply` with a missing sequence of 0.
fn parse_strict_id(arg: &[u8]) -> Result<StreamId, Cow<'static, str>> {
    parse_id_full(arg, 0, true, false).map(|p| p.id)
}

/// A range bound: an ID, or `(` and an ID for an exclusive bound.
fn parse_interval(arg: &[u8], missing_seq: u64) -> Result<(StreamId, bool), Cow<'static, str>> {
    if arg.len() > 1 && arg[0] == b'(' {
        Ok((parse_id_full(&arg[1..], missing_seq, true, false)?.id, true))
    } else {
        Ok((parse_id(arg, missing_seq)?, false))
    }
}

/// The start of a range: an exclusive start moves one ID up.
fn parse_range_start(arg: &[u8]) -> Result<StreamId, Cow<'static, str>> {
    let (id, ex) = parse_interval(arg, 0)?;
    if ex {
        return id.next().ok_or(Cow::Borrowed(errors::STREAM_INVALID_START));
    }
    Ok(id)
}

/// The end of a range: an exclusive end moves one ID down.
fn parse_range_end(arg: &[u8]) -> Result<StreamId, Cow<'static, str>> {
    let (id, ex) = parse_interval(arg, u64::MAX)?;
    if ex {
        return id.prev().ok_or(Cow::Borrowed(errors::STREAM_INVALID_END));
    }
    Ok(id)
}

fn parse_ll(arg: &[u8]) -> Result<i64, Cow<'static, str>> {
    parse_i64(arg).ok_or(Cow::Borrowed(errors::NOT_INTEGER))
}

fn parse_ll_msg(arg: &[u8], msg: &'static str) -> Result<i64, Cow<'static, str>> {
    parse_i64(arg).ok_or(Cow::Borrowed(msg))
}

fn reply_id(out: &mut ReplyWriter, id: StreamId) {
    let mut buf = Vec::with_capacity(42);
    id.write_to(&mut buf);
    out.bulk(&buf);
}

/// `[id, [field, value, ...]]`
fn reply_entry(out: &mut ReplyWriter, id: StreamId, fields: &Packed) {
    out.array(2);
    reply_id(out, id);
    out.array(fields.count());
    for f in fields.iter() {
        out.bulk(f);
    }
}

/// Replies with the entries from `start` to `end` (at most `count`, 0: all), in order
/// or reversed; returns how many.
fn reply_range(
    out: &mut ReplyWriter,
    s: &Stream,
    start: StreamId,
    end: StreamId,
    count: usize,
    rev: bool,
) -> usize {
    let limit = if count == 0 { usize::MAX } else { count };
    let items: Vec<(&StreamId, &Packed)> = if rev {
        s.range(start, end).rev().take(limit).collect()
    } else {
        s.range(start, end).take(limit).collect()
    };
    out.array(items.len());
    for (id, p) in &items {
        reply_entry(out, **id, p);
    }
    items.len()
}

fn nogroup_key(key: &[u8], group: &[u8]) -> Cow<'static, str> {
    Cow::Owned(errors::stream_nogroup_key(
        &errors::printable(key, usize::MAX),
        &errors::printable(group, usize::MAX),
    ))
}

// ---------------------------------------------------------------------------------------
// XADD and XTRIM
// ---------------------------------------------------------------------------------------

/// XADD's and XTRIM's options, as Redis's `streamParseAddOrTrimArgsOrReply` reads them.
#[derive(Default)]
struct AddTrimArgs {
    trim: Option<Trim>,
    approx: bool,
    limit: u64,
    nomkstream: bool,
    /// The explicit ID (XADD) and whether its sequence part was given.
    id: Option<ParsedId>,
    /// Where XADD's field-value pairs start.
    fields_at: usize,
}

fn parse_add_trim(argv: &[&[u8]], xadd: bool) -> Result<AddTrimArgs, Cow<'static, str>> {
    let mut a = AddTrimArgs::default();
    let mut limit: Option<i64> = None;
    let mut i = 2;
    while i < argv.len() {
        let more = argv.len() - 1 - i;
        let opt = argv[i];
        if xadd && opt == b"*" {
            break;
        } else if (eq_ic(opt, b"maxlen") || eq_ic(opt, b"minid")) && more > 0 {
            if a.trim.is_some() {
                return Err(errors::STREAM_MAXLEN_AND_MINID.into());
            }
            a.approx = false;
            let next = argv[i + 1];
            if more >= 2 && next == b"~" {
                a.approx = true;
                i += 1;
            } else if more >= 2 && next == b"=" {
                i += 1;
            }
            if eq_ic(opt, b"maxlen") {
                let n = parse_ll(argv[i + 1])?;
                if n < 0 {
                    return Err(errors::STREAM_MAXLEN_NEGATIVE.into());
                }
                a.trim = Some(Trim::MaxLen(n as u64));
            } else {
                a.trim = Some(Trim::MinId(parse_strict_id(argv[i + 1])?));
            }
            i += 1;
        } else if eq_ic(opt, b"limit") && more > 0 {
            let n = parse_ll(argv[i + 1])?;
            if n < 0 {
                return Err(errors::STREAM_LIMIT_NEGATIVE.into());
            }
            limit = Some(n);
            i += 1;
        } else if xadd && eq_ic(opt, b"nomkstream") {
            a.nomkstream = true;
        } else if xadd {
            a.id = Some(parse_id_full(opt, 0, true, true)?);
            break;
        } else {
            return Err(errors::SYNTAX.into());
        }
        i += 1;
    }
    a.fields_at = i + 1;
    if limit.is_some_and(|l| l != 0) && a.trim.is_none() {
        return Err(errors::STREAM_LIMIT_NO_STRATEGY.into());
    }
    if !xadd && a.trim.is_none() {
        return Err(errors::STREAM_XTRIM_NO_STRATEGY.into());
    }
    match limit {
        Some(_) if !a.approx => return Err(errors::STREAM_LIMIT_NEEDS_APPROX.into()),
        Some(l) => a.limit = l as u64,
        None if a.approx => a.limit = (100 * engine::types::stream::NODE_MAX_ENTRIES) as u64,
        None => a.limit = 0,
    }
    Ok(a)
}

/// The ID XADD gives a new entry, or the error it replies.
fn xadd_id(
    s: &Stream,
    given: &Option<ParsedId>,
    now_ms: u64,
) -> Result<StreamId, Cow<'static, str>> {
    let last = s.last_id();
    if last == StreamId::MAX {
        return Err(errors::STREAM_EXHAUSTED.into());
    }
    let id = match given {
        None => s.next_auto_id(now_ms).ok_or(errors::STREAM_EXHAUSTED)?,
        Some(p) if p.seq_given => p.id,
        Some(p) => {
            if last.ms == p.id.ms {
                if last.seq == u64::MAX {
                    return Err(errors::STREAM_ID_TOO_SMALL.into());
                }
                StreamId::new(last.ms, last.seq + 1)
            } else {
                p.id
            }
        }
    };
    if id <= last {
        return Err(errors::STREAM_ID_TOO_SMALL.into());
    }
    Ok(id)
}

/// XADD key [NOMKSTREAM] [MAXLEN|MINID [=|~] threshold [LIMIT count]] *|id field value ...
fn xadd(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]]) {
    run(ctx, |ctx| {
        let a = parse_add_trim(argv, true)?;
        let nf = argv.len().saturating_sub(a.fields_at);
        if nf < 2 || nf % 2 == 1 {
            return Err(errors::wrong_arity("xadd").into());
        }
        if let Some(p) = &a.id {
            if p.seq_given && p.id.is_zero() {
                return Err(errors::STREAM_XADD_ZERO.into());
            }
        }
        let fields = &argv[a.fields_at..];
        let (db, now, key) = (ctx.db(), ctx.now_ms, argv[1]);
        let existing = match ctx.ks.get_for_write(db, key, now) {
            Some(mut e) => {
                let s = stream_of_mut(&mut e.value)?;
                let id = xadd_id(s, &a.id, now)?;
                s.append(id, fields);
                reply_id(ctx.out, id);
                let mut trimmed = 0;
                if let Some(how) = a.trim {
                    trimmed = s.trim(how, a.approx, a.limit);
                }
                e.touch(&ctx.access);
                Some(trimmed)
            }
            None => None,
        };
        if let Some(trimmed) = existing {
            ctx.notify(class::STREAM, "xadd", key);
            if trimmed > 0 {
                ctx.notify(class::STREAM, "xtrim", key);
            }
            return Ok(());
        }
        if a.nomkstream {
            ctx.out.null();
            return Ok(());
        }
        let mut s = Stream::new();
        let id = xadd_id(&s, &a.id, now)?;
        s.append(id, fields);
        reply_id(ctx.out, id);
        let mut trimmed = 0;
        if let Some(how) = a.trim {
            trimmed = s.trim(how, a.approx, a.limit);
        }
        let entry = new_entry(key, Value::Stream(Box::new(s)), &ctx.access);
        ctx.ks.insert(db, entry, now);
        ctx.notify(class::STREAM, "xadd", key);
        if trimmed > 0 {
            ctx.notify(class::STREAM, "xtrim", key);
        }
        Ok(())
    });
}

/// XTRIM key MAXLEN|MINID [=|~] threshold [LIMIT count]
fn xtrim(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]]) {
    run(ctx, |ctx| {
        let a = parse_add_trim(argv, false)?;
        let Some(how) = a.trim else {
            return Err(errors::STREAM_XTRIM_NO_STRATEGY.into());
        };
        let (db, now) = (ctx.db(), ctx.now_ms);
        let n = match ctx.ks.get_for_write(db, argv[1], now) {
            None => 0,
            Some(mut e) => stream_of_mut(&mut e.value)?.trim(how, a.approx, a.limit),
        };
        if n > 0 {
            ctx.notify(class::STREAM, "xtrim", argv[1]);
        }
        ctx.out.int(n as i64);
        Ok(())
    });
}

// ---------------------------------------------------------------------------------------
// XLEN, XRANGE, XREVRANGE, XDEL, XSETID
// ---------------------------------------------------------------------------------------

/// XLEN key
fn xlen(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]]) {
    run(ctx, |ctx| {
        match read_as(ctx, argv[1], stream_ref, |out, s| out.int(s.len() as i64)) {
            Look::Found(()) => {}
            Look::Missing => ctx.out.int(0),
            Look::WrongType => return Err(errors::WRONGTYPE.into()),
        }
        Ok(())
    });
}

/// XRANGE key start end [COUNT count]
fn xrange(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]]) {
    range_generic(ctx, argv, false);
}

/// XREVRANGE key end start [COUNT count]
fn xrevrange(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]]) {
    range_generic(ctx, argv, true);
}

fn range_generic(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]], rev: bool) {
    run(ctx, |ctx| {
        let (start_arg, end_arg) = if rev {
            (argv[3], argv[2])
        } else {
            (argv[2], argv[3])
        };
        let start = parse_range_start(start_arg)?;
        let end = parse_range_end(end_arg)?;
        let mut count: i64 = -1;
        let mut j = 4;
        while j < argv.len() {
            if eq_ic(argv[j], b"count") && j + 1 < argv.len() {
                count = parse_ll(argv[j + 1])?.max(0);
                j += 2;
            } else {
                return Err(errors::SYNTAX.into());
            }
        }
        let found = read_as(ctx, argv[1], stream_ref, |out, s| {
            if count == 0 {
                out.null_array();
            } else {
                reply_range(out, s, start, end, count.max(0) as usize, rev);
            }
        });
        match found {
            Look::Found(()) => {}
            Look::Missing => ctx.out.array(0),
            Look::WrongType => return Err(errors::WRONGTYPE.into()),
        }
        Ok(())
    });
}

/// XDEL key id [id ...]
fn xdel(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]]) {
    run(ctx, |ctx| {
        let (db, now) = (ctx.db(), ctx.now_ms);
        let Some(mut e) = ctx.ks.get_for_write(db, argv[1], now) else {
            ctx.out.int(0);
            return Ok(());
        };
        stream_of(&e.value)?;
        let ids = argv[2..]
            .iter()
            .map(|a| parse_strict_id(a))
            .collect::<Result<Vec<_>, _>>()?;
        let s = stream_of_mut(&mut e.value)?;
        let n = ids.into_iter().filter(|&id| s.delete(id)).count();
        drop(e);
        if n > 0 {
            ctx.notify(class::STREAM, "xdel", argv[1]);
        }
        ctx.out.int(n as i64);
        Ok(())
    });
}

/// XSETID key last-id [ENTRIESADDED entries-added] [MAXDELETEDID max-deleted-id]
fn xsetid(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]]) {
    run(ctx, |ctx| {
        let id = parse_strict_id(argv[2])?;
        let mut entries_added: i64 = -1;
        let mut max_xdel = StreamId::MIN;
        let mut i = 3;
        while i < argv.len() {
            let more = argv.len() - 1 - i;
            if eq_ic(argv[i], b"entriesadded") && more > 0 {
                entries_added = parse_ll(argv[i + 1])?;
                if entries_added < 0 {
                    return Err(errors::STREAM_ENTRIES_ADDED_NEGATIVE.into());
                }
                i += 2;
            } else if eq_ic(argv[i], b"maxdeletedid") && more > 0 {
                max_xdel = parse_strict_id(argv[i + 1])?;
                if id < max_xdel {
                    return Err(errors::STREAM_SETID_BELOW_GIVEN_MAXDEL.into());
                }
                i += 2;
            } else {
                return Err(errors::SYNTAX.into());
            }
        }
        let (db, now) = (ctx.db(), ctx.now_ms);
        let Some(mut e) = ctx.ks.get_for_write(db, argv[1], now) else {
            return Err(errors::NO_SUCH_KEY.into());
        };
        let s = stream_of_mut(&mut e.value)?;
        if !s.is_empty() {
            if id < s.last_valid_id() {
                return Err(errors::STREAM_SETID_TOO_SMALL.into());
            }
            if entries_added != -1 && s.len() as u64 > entries_added as u64 {
                return Err(errors::STREAM_SETID_ENTRIES_ADDED_SMALL.into());
            }
        }
        // (Redis 7.0 does not compare the new ID with the current max deleted ID.)
        s.set_last_id(id);
        if entries_added != -1 {
            s.set_entries_added(entries_added as u64);
        }
        if !max_xdel.is_zero() {
            s.set_max_deleted_id(max_xdel);
        }
        drop(e);
        ctx.notify(class::STREAM, "xsetid", argv[1]);
        ctx.out.ok();
        Ok(())
    });
}

// ---------------------------------------------------------------------------------------
// XREAD and XREADGROUP
// ---------------------------------------------------------------------------------------

/// What XREAD/XREADGROUP was asked.
struct ReadArgs<'a> {
    /// BLOCK's deadline (`Some(None)`: block forever).
    block: Option<Option<u64>>,
    count: usize,
    noack: bool,
    group: Option<(&'a [u8], &'a [u8])>,
    keys: &'a [&'a [u8]],
    id_args: &'a [&'a [u8]],
}

fn parse_read_args<'a>(
    argv: &'a [&'a [u8]],
    xreadgroup: bool,
    now_ms: u64,
) -> Result<ReadArgs<'a>, Cow<'static, str>> {
    let mut r = ReadArgs {
        block: None,
        count: 0,
        noack: false,
        group: None,
        keys: &[],
        id_args: &[],
    };
    let mut streams_at = 0;
    let mut i = 1;
    while i < argv.len() {
        let more = argv.len() - i - 1;
        let o = argv[i];
        if eq_ic(o, b"block") && more > 0 {
            i += 1;
            r.block = Some(blocking::timeout_ms(argv[i], now_ms)?);
        } else if eq_ic(o, b"count") && more > 0 {
            i += 1;
            r.count = parse_ll(argv[i])?.max(0) as usize;
        } else if eq_ic(o, b"streams") && more > 0 {
            streams_at = i + 1;
            let n = argv.len() - streams_at;
            if n % 2 != 0 {
                return Err(errors::STREAM_UNBALANCED.into());
            }
            r.keys = &argv[streams_at..streams_at + n / 2];
            r.id_args = &argv[streams_at + n / 2..];
            break;
        } else if eq_ic(o, b"group") && more >= 2 {
            if !xreadgroup {
                return Err(errors::STREAM_GROUP_ONLY_XREADGROUP.into());
            }
            r.group = Some((argv[i + 1], argv[i + 2]));
            i += 2;
        } else if eq_ic(o, b"noack") {
            if !xreadgroup {
                return Err(errors::STREAM_NOACK_ONLY_XREADGROUP.into());
            }
            r.noack = true;
        } else {
            return Err(errors::SYNTAX.into());
        }
        i += 1;
    }
    if streams_at == 0 {
        return Err(errors::SYNTAX.into());
    }
    if xreadgroup && r.group.is_none() {
        return Err(errors::STREAM_MISSING_GROUP.into());
    }
    Ok(r)
}

/// XREAD [COUNT count] [BLOCK ms] STREAMS key ... id ...
/// XREADGROUP GROUP group consumer [COUNT count] [BLOCK ms] [NOACK] STREAMS key ... id ...
fn xread(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]]) {
    run(ctx, |ctx| {
        let xreadgroup = argv[0].len() == 10;
        let (db, now) = (ctx.db(), ctx.now_ms);
        let r = parse_read_args(argv, xreadgroup, now)?;
        // Resolve each stream's ID (and check the keys and groups) before serving any.
        let mut ids: Vec<StreamId> = Vec::with_capacity(r.keys.len());
        for (key, arg) in r.keys.iter().zip(r.id_args) {
            let e = ctx.ks.get(db, key, now);
            if xreadgroup
                && ctx.client.serving_blocked
                && !e
                    .as_ref()
                    .is_some_and(|e| matches!(e.value, Value::Stream(_)))
            {
                // A blocked XREADGROUP whose stream was deleted or overwritten.
                return Err(errors::STREAM_BLOCKED_KEY_GONE.into());
            }
            let s = match &e {
                Some(e) => Some(stream_of(&e.value)?),
                None => None,
            };
            if let Some((group, _)) = r.group {
                if s.and_then(|s| s.group(group)).is_none() {
                    if ctx.client.serving_blocked {
                        // A blocked XREADGROUP whose group was destroyed meanwhile.
                        return Err(errors::STREAM_BLOCKED_GROUP_GONE.into());
                    }
                    return Err(errors::stream_nogroup_read(
                        &errors::printable(key, usize::MAX),
                        &errors::printable(group, usize::MAX),
                    )
                    .into());
                }
            }
            if *arg == b"$" {
                if xreadgroup {
                    return Err(errors::STREAM_DOLLAR_IN_XREADGROUP.into());
                }
                ids.push(s.map(|s| s.last_id()).unwrap_or_default());
                continue;
            }
            if *arg == b">" {
                if !xreadgroup {
                    return Err(errors::STREAM_GT_IN_XREAD.into());
                }
                ids.push(StreamId::MAX);
                continue;
            }
            ids.push(parse_strict_id(arg)?);
        }

        let mut served = 0usize;
        let mut created: Vec<&[u8]> = Vec::new();
        let mut body = ReplyWriter::new(ctx.out.protocol());
        for (i, key) in r.keys.iter().enumerate() {
            let Some(mut e) = ctx.ks.get(db, key, now) else {
                continue;
            };
            let resp3 = body.is_resp3();
            match r.group {
                Some((group, consumer)) => {
                    let s = stream_of_mut(&mut e.value)?;
                    let Some((view, mut g)) = s.with_group(group) else {
                        continue;
                    };
                    let gt = ids[i];
                    let history = gt != StreamId::MAX;
                    let start = if history {
                        Some(gt.next().unwrap_or_default())
                    } else if !view.is_empty() && view.last_valid_id() > g.last_id {
                        Some(g.last_id.next().unwrap_or_default())
                    } else {
                        None
                    };
                    let Some(start) = start else {
                        continue;
                    };
                    if g.touch_consumer(consumer, now) {
                        created.push(key);
                    }
                    served += 1;
                    if !resp3 {
                        body.array(2);
                    }
                    body.bulk(key);
                    if history {
                        reply_consumer_history(
                            &mut body, &view, &mut g, consumer, start, r.count, now,
                        );
                    } else {
                        reply_new_for_group(
                            &mut body, &view, &mut g, consumer, start, r.count, r.noack, now,
                        );
                    }
                }
                None => {
                    let s = stream_of(&e.value)?;
                    if s.is_empty() || s.last_valid_id() <= ids[i] {
                        continue;
                    }
                    let Some(start) = ids[i].next() else {
                        continue;
                    };
                    served += 1;
                    if !resp3 {
                        body.array(2);
                    }
                    body.bulk(key);
                    reply_range(&mut body, s, start, StreamId::MAX, r.count, false);
                }
            }
        }
        if served > 0 {
            if ctx.out.is_resp3() {
                ctx.out.map(served);
            } else {
                ctx.out.array(served);
            }
            for key in created {
                ctx.notify(class::STREAM, "xgroup-createconsumer", key);
            }
            ctx.out.raw(body.as_bytes());
            return Ok(());
        }
        // Nothing to serve now: block if asked (and allowed), else reply as a timeout.
        match r.block {
            Some(deadline) if ctx.may_block() => {
                // `$` means "after the last entry at the time of the call": the re-runs
                // must keep meaning that ID, not the last one at their time.
                let argv_rewritten = r.id_args.iter().any(|a| *a == b"$").then(|| {
                    let first_id = argv.len() - r.id_args.len();
                    argv.iter()
                        .enumerate()
                        .map(|(j, a)| {
                            if j >= first_id && *a == b"$" {
                                ids[j - first_id].to_bytes()
                            } else {
                                a.to_vec()
                            }
                        })
                        .collect()
                });
                ctx.block(Block {
                    keys: r.keys,
                    deadline,
                    on_timeout: OnTimeout::NullArray,
                    // XREADGROUP also hears of its stream being deleted or replaced.
                    kind: if xreadgroup { ANY_KIND } else { "stream" },
                    argv: argv_rewritten,
                });
            }
            _ => ctx.out.null_array(),
        }
        Ok(())
    });
}

/// XREADGROUP `>`: new entries from `start`, advancing the group and adding them to
/// the consumer's pending list (unless NOACK).
#[allow(clippy::too_many_arguments)]
fn reply_new_for_group(
    out: &mut ReplyWriter,
    view: &engine::types::stream::StreamView<'_>,
    g: &mut Group,
    consumer: &[u8],
    start: StreamId,
    count: usize,
    noack: bool,
    now: u64,
) {
    let limit = if count == 0 { usize::MAX } else { count };
    let items: Vec<(&StreamId, &Packed)> = view.range(start, StreamId::MAX).take(limit).collect();
    out.array(items.len());
    for (id, p) in items {
        let id = *id;
        if id > g.last_id {
            if g.entries_read != ENTRIES_READ_UNKNOWN && !view.has_tombstones_from(id) {
                g.entries_read += 1;
            } else if view.entries_added > 0 {
                g.entries_read = view.estimate_distance(id);
            }
            g.last_id = id;
        }
        reply_entry(out, id, p);
        if !noack {
            g.deliver(id, consumer, now);
        }
    }
}

/// XREADGROUP with an ID: the consumer's own pending entries after `start`; an entry
/// deleted from the stream is reported with a null in place of its fields.
fn reply_consumer_history(
    out: &mut ReplyWriter,
    view: &engine::types::stream::StreamView<'_>,
    g: &mut Group,
    consumer: &[u8],
    start: StreamId,
    count: usize,
    now: u64,
) {
    let limit = if count == 0 { usize::MAX } else { count };
    let ids: Vec<StreamId> = match g.consumer(consumer) {
        Some(c) => c.pel().range(start..).take(limit).copied().collect(),
        None => Vec::new(),
    };
    out.array(ids.len());
    for id in ids {
        match view.get(id) {
            Some(p) => {
                reply_entry(out, id, p);
                if let Some((time, n)) = g.pending_mut(id) {
                    *time = now;
                    *n += 1;
                }
            }
            None => {
                out.array(2);
                reply_id(out, id);
                out.null_array();
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// XGROUP
// ---------------------------------------------------------------------------------------

/// XGROUP CREATE|SETID|DESTROY|CREATECONSUMER|DELCONSUMER ...
fn xgroup(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]]) {
    run(ctx, |ctx| {
        let sub = argv[1];
        let is = |name: &[u8]| eq_ic(sub, name);
        let mut mkstream = false;
        let mut entries_read = ENTRIES_READ_UNKNOWN;
        if (is(b"create") || is(b"setid")) && argv.len() >= 5 {
            let mut i = 5;
            while i < argv.len() {
                if is(b"create") && eq_ic(argv[i], b"mkstream") {
                    mkstream = true;
                    i += 1;
                } else if eq_ic(argv[i], b"entriesread") && i + 1 < argv.len() {
                    entries_read = parse_ll(argv[i + 1])?;
                    if entries_read < 0 && entries_read != ENTRIES_READ_UNKNOWN {
                        return Err(errors::STREAM_ENTRIES_READ_NEGATIVE.into());
                    }
                    i += 2;
                } else {
                    return Err(subcommand_syntax(argv).into());
                }
            }
        }
        let (db, now, key, name) = (ctx.db(), ctx.now_ms, argv[2], argv[3]);
        let mut entry = ctx.ks.get_for_write(db, key, now);
        let exists = match &entry {
            Some(e) => {
                stream_of(&e.value)?;
                true
            }
            None => false,
        };
        if !(exists || (is(b"create") && mkstream)) {
            return Err(errors::STREAM_XGROUP_NEEDS_KEY.into());
        }
        let has_group = match &entry {
            Some(e) => stream_of(&e.value)?.group(name).is_some(),
            None => false,
        };
        if !has_group && (is(b"setid") || is(b"createconsumer") || is(b"delconsumer")) {
            return Err(errors::stream_nogroup_for_key(
                &errors::printable(name, usize::MAX),
                &errors::printable(key, usize::MAX),
            )
            .into());
        }
        let n = argv.len();
        if is(b"create") && (5..=8).contains(&n) {
            let id = if argv[4] == b"$" {
                match &entry {
                    Some(e) => stream_of(&e.value)?.last_id(),
                    None => StreamId::MIN,
                }
            } else {
                parse_strict_id(argv[4])?
            };
            if has_group {
                return Err(errors::STREAM_BUSYGROUP.into());
            }
            if let Some(e) = entry.as_mut() {
                stream_of_mut(&mut e.value)?.create_group(name, id, entries_read);
                drop(entry);
            } else {
                drop(entry);
                let mut s = Stream::new();
                s.create_group(name, id, entries_read);
                let e = new_entry(key, Value::Stream(Box::new(s)), &ctx.access);
                ctx.ks.insert(db, e, now);
            }
            ctx.notify(class::STREAM, "xgroup-create", key);
            ctx.out.ok();
        } else if is(b"setid") && (n == 5 || n == 7) {
            let Some(e) = entry.as_mut() else {
                return Err(errors::STREAM_XGROUP_NEEDS_KEY.into());
            };
            let s = stream_of_mut(&mut e.value)?;
            let id = if argv[4] == b"$" {
                s.last_id()
            } else {
                parse_id(argv[4], 0)?
            };
            if let Some(mut g) = s.group_mut(name) {
                g.last_id = id;
                g.entries_read = entries_read;
            }
            drop(entry);
            ctx.notify(class::STREAM, "xgroup-setid", key);
            ctx.out.ok();
        } else if is(b"destroy") && n == 4 {
            let destroyed = match entry.as_mut() {
                Some(e) => stream_of_mut(&mut e.value)?.destroy_group(name),
                None => false,
            };
            drop(entry);
            if destroyed {
                ctx.notify(class::STREAM, "xgroup-destroy", key);
            }
            ctx.out.int(i64::from(destroyed));
        } else if is(b"createconsumer") && n == 5 {
            let created = match entry.as_mut() {
                Some(e) => stream_of_mut(&mut e.value)?
                    .group_mut(name)
                    .is_some_and(|mut g| g.create_consumer(argv[4], now)),
                None => false,
            };
            drop(entry);
            if created {
                ctx.notify(class::STREAM, "xgroup-createconsumer", key);
            }
            ctx.out.int(i64::from(created));
        } else if is(b"delconsumer") && n == 5 {
            let pending = match entry.as_mut() {
                Some(e) => stream_of_mut(&mut e.value)?
                    .group_mut(name)
                    .and_then(|mut g| g.delete_consumer(argv[4])),
                None => None,
            };
            drop(entry);
            if pending.is_some() {
                ctx.notify(class::STREAM, "xgroup-delconsumer", key);
            }
            ctx.out.int(pending.unwrap_or(0) as i64);
        } else {
            return Err(subcommand_syntax(argv).into());
        }
        Ok(())
    });
}

fn subcommand_syntax(argv: &[&[u8]]) -> String {
    errors::unknown_subcommand_or_arity(argv[0], argv[1])
}

fn xgroup_help(ctx: &mut Ctx<'_, '_>, _argv: &[&[u8]]) {
    const LINES: &[&str] = &[
        "XGROUP <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "CREATE <key> <groupname> <id|$> [option]",
        "    Create a new consumer group. Options are:",
        "    * MKSTREAM",
        "      Create the empty stream if it does not exist.",
        "    * ENTRIESREAD entries_read",
        "      Set the group's entries_read counter (internal use).",
        "CREATECONSUMER <key> <groupname> <consumer>",
        "    Create a new consumer in the specified group.",
        "DELCONSUMER <key> <groupname> <consumer>",
        "    Remove the specified consumer.",
        "DESTROY <key> <groupname>",
        "    Remove the specified group.",
        "SETID <key> <groupname> <id|$> [ENTRIESREAD entries_read]",
        "    Set the current group ID and entries_read counter.",
        "HELP",
        "    Prints this help.",
    ];
    ctx.out.array(LINES.len());
    for l in LINES {
        ctx.out.simple(l);
    }
}

// ---------------------------------------------------------------------------------------
// XACK, XPENDING, XCLAIM, XAUTOCLAIM
// ---------------------------------------------------------------------------------------

/// XACK key group id [id ...]
fn xack(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]]) {
    run(ctx, |ctx| {
        let (db, now) = (ctx.db(), ctx.now_ms);
        let Some(mut e) = ctx.ks.get(db, argv[1], now) else {
            ctx.out.int(0);
            return Ok(());
        };
        if stream_of(&e.value)?.group(argv[2]).is_none() {
            ctx.out.int(0);
            return Ok(());
        }
        let ids = argv[3..]
            .iter()
            .map(|a| parse_strict_id(a))
            .collect::<Result<Vec<_>, _>>()?;
        let s = stream_of_mut(&mut e.value)?;
        let n = match s.group_mut(argv[2]) {
            Some(mut g) => ids.into_iter().filter(|&id| g.ack(id)).count(),
            None => 0,
        };
        ctx.out.int(n as i64);
        Ok(())
    });
}

/// XPENDING key group [[IDLE min-idle-time] start end count [consumer]]
fn xpending(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]]) {
    run(ctx, |ctx| {
        let argc = argv.len();
        let summary = argc == 3;
        if argc != 3 && !(6..=9).contains(&argc) {
            return Err(errors::SYNTAX.into());
        }
        let mut min_idle: i64 = 0;
        let mut count: i64 = 0;
        let mut start = StreamId::MIN;
        let mut end = StreamId::MAX;
        let mut consumer: Option<&[u8]> = None;
        if argc >= 6 {
            let mut at = 3;
            if eq_ic(argv[3], b"idle") {
                min_idle = parse_ll(argv[4])?;
                if argc < 8 {
                    return Err(errors::SYNTAX.into());
                }
                at += 2;
            }
            count = parse_ll(argv[at + 2])?.max(0);
            start = parse_range_start(argv[at])?;
            end = parse_range_end(argv[at + 1])?;
            if at + 3 < argc {
                consumer = Some(argv[at + 3]);
            }
        }
        let (db, now, key, group) = (ctx.db(), ctx.now_ms, argv[1], argv[2]);
        let e = ctx.ks.get(db, key, now);
        let s = match &e {
            Some(e) => Some(stream_of(&e.value)?),
            None => None,
        };
        let Some(g) = s.and_then(|s| s.group(group)) else {
            return Err(nogroup_key(key, group));
        };
        let out = &mut *ctx.out;
        if summary {
            out.array(4);
            out.int(g.pel().len() as i64);
            let (Some((first, _)), Some((last, _))) =
                (g.pel().first_key_value(), g.pel().last_key_value())
            else {
                out.null();
                out.null();
                out.null_array();
                return Ok(());
            };
            reply_id(out, *first);
            reply_id(out, *last);
            let owners: Vec<(&Box<[u8]>, usize)> = g
                .consumers()
                .iter()
                .filter(|(_, c)| c.pending_len() > 0)
                .map(|(k, c)| (k, c.pending_len()))
                .collect();
            out.array(owners.len());
            for (name, n) in owners {
                out.array(2);
                out.bulk(name);
                out.bulk_int(n as i64);
            }
            return Ok(());
        }
        let ids: Box<dyn Iterator<Item = StreamId>> = match consumer {
            Some(name) => match g.consumer(name) {
                None => {
                    out.array(0);
                    return Ok(());
                }
                Some(c) => Box::new(c.pel().range(start..).copied()),
            },
            None => Box::new(g.pel().range(start..).map(|(k, _)| *k)),
        };
        let mut rows = Vec::new();
        for id in ids.take_while(|id| *id <= end) {
            if count == 0 {
                break;
            }
            let Some(p) = g.pel().get(&id) else {
                continue;
            };
            let idle = now as i64 - p.delivery_time as i64;
            if min_idle != 0 && idle < min_idle {
                continue;
            }
            count -= 1;
            rows.push((id, p, idle.max(0)));
        }
        out.array(rows.len());
        for (id, p, idle) in rows {
            out.array(4);
            reply_id(out, id);
            out.bulk(&p.consumer);
            out.int(idle);
            out.int(p.delivery_count as i64);
        }
        Ok(())
    });
}

/// XCLAIM key group consumer min-idle-time id [id ...] [IDLE ms] [TIME unix-ms]
/// [RETRYCOUNT count] [FORCE] [JUSTID] [LASTID id]
fn xclaim(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]]) {
    run(ctx, |ctx| {
        let (db, now, key, group, consumer) = (ctx.db(), ctx.now_ms, argv[1], argv[2], argv[3]);
        let Some(mut e) = ctx.ks.get(db, key, now) else {
            return Err(nogroup_key(key, group));
        };
        if stream_of(&e.value)?.group(group).is_none() {
            return Err(nogroup_key(key, group));
        }
        let min_idle = parse_ll_msg(argv[4], errors::XCLAIM_BAD_MIN_IDLE)?.max(0);
        let mut j = 5;
        let mut ids = Vec::new();
        while j < argv.len() {
            match parse_strict_id(argv[j]) {
                Ok(id) => ids.push(id),
                Err(_) => break,
            }
            j += 1;
        }
        let mut force = false;
        let mut justid = false;
        let mut delivery_time: Option<i64> = None;
        let mut retry: Option<i64> = None;
        let mut last_id = StreamId::MIN;
        while j < argv.len() {
            let more = argv.len() - 1 - j;
            let opt = argv[j];
            if eq_ic(opt, b"force") {
                force = true;
            } else if eq_ic(opt, b"justid") {
                justid = true;
            } else if eq_ic(opt, b"idle") && more > 0 {
                j += 1;
                let v = parse_ll_msg(argv[j], errors::XCLAIM_BAD_IDLE)?;
                delivery_time = Some((now as i64).wrapping_sub(v));
            } else if eq_ic(opt, b"time") && more > 0 {
                j += 1;
                delivery_time = Some(parse_ll_msg(argv[j], errors::XCLAIM_BAD_TIME)?);
            } else if eq_ic(opt, b"retrycount") && more > 0 {
                j += 1;
                retry = Some(parse_ll_msg(argv[j], errors::XCLAIM_BAD_RETRYCOUNT)?);
            } else if eq_ic(opt, b"lastid") && more > 0 {
                j += 1;
                last_id = parse_strict_id(argv[j])?;
            } else {
                return Err(
                    errors::xclaim_unrecognized(&errors::printable(opt, usize::MAX)).into(),
                );
            }
            j += 1;
        }
        let time = match delivery_time {
            Some(t) if t < 0 || t > now as i64 => now,
            Some(t) => t as u64,
            None => now,
        };
        let s = stream_of_mut(&mut e.value)?;
        let Some((view, mut g)) = s.with_group(group) else {
            return Err(nogroup_key(key, group));
        };
        if last_id > g.last_id {
            g.last_id = last_id;
        }
        let mut claimed: Vec<StreamId> = Vec::new();
        let mut consumer_ready = false;
        for id in ids {
            let pending = g.pel().get(&id).map(|p| p.delivery_time);
            if view.get(id).is_none() {
                if pending.is_some() {
                    g.ack(id);
                }
                continue;
            }
            let (exists, forced) = match pending {
                Some(t) => {
                    if min_idle != 0 && (now as i64 - t as i64) < min_idle {
                        continue;
                    }
                    (true, false)
                }
                None if force => (false, true),
                None => continue,
            };
            if !consumer_ready {
                if g.touch_consumer(consumer, now) {
                    crate::pubsub::notify_parts(
                        ctx.inst,
                        ctx.client,
                        ctx.out,
                        class::STREAM,
                        "xgroup-createconsumer",
                        key,
                    );
                }
                consumer_ready = true;
            }
            let old_count = g.pel().get(&id).map(|p| p.delivery_count).unwrap_or(1);
            let new_count = match retry {
                Some(n) if n >= 0 => n as u64,
                _ if justid => old_count,
                _ => old_count + 1,
            };
            let _ = (exists, forced);
            g.set_owner(id, consumer, time, Some(new_count));
            claimed.push(id);
        }
        let out = &mut *ctx.out;
        out.array(claimed.len());
        for id in claimed {
            if justid {
                reply_id(out, id);
            } else {
                match view.get(id) {
                    Some(p) => reply_entry(out, id, p),
                    None => out.null(),
                }
            }
        }
        Ok(())
    });
}

/// XAUTOCLAIM key group consumer min-idle-time start [COUNT count] [JUSTID]
fn xautoclaim(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]]) {
    run(ctx, |ctx| {
        let (db, now, key, group, consumer) = (ctx.db(), ctx.now_ms, argv[1], argv[2], argv[3]);
        let min_idle = parse_ll_msg(argv[4], errors::XAUTOCLAIM_BAD_MIN_IDLE)?.max(0);
        let start = parse_range_start(argv[5])?;
        let mut count: i64 = 100;
        let mut justid = false;
        let mut j = 6;
        while j < argv.len() {
            let more = argv.len() - 1 - j;
            if eq_ic(argv[j], b"count") && more > 0 {
                let max = i64::MAX / 16;
                count = match parse_i64(argv[j + 1]) {
                    Some(n) if (1..=max).contains(&n) => n,
                    _ => return Err(errors::XAUTOCLAIM_COUNT.into()),
                };
                j += 1;
            } else if eq_ic(argv[j], b"justid") {
                justid = true;
            } else {
                return Err(errors::SYNTAX.into());
            }
            j += 1;
        }
        let Some(mut e) = ctx.ks.get(db, key, now) else {
            return Err(nogroup_key(key, group));
        };
        let s = stream_of_mut(&mut e.value)?;
        let Some((view, mut g)) = s.with_group(group) else {
            return Err(nogroup_key(key, group));
        };
        let mut attempts = count.saturating_mul(10);
        let mut cursor = start;
        let mut claimed: Vec<StreamId> = Vec::new();
        let mut deleted: Vec<StreamId> = Vec::new();
        let mut next: Option<StreamId> = None;
        let mut consumer_ready = false;
        loop {
            let Some((id, t)) = g
                .pel()
                .range(cursor..)
                .next()
                .map(|(k, p)| (*k, p.delivery_time))
            else {
                next = None;
                break;
            };
            if attempts == 0 || count == 0 {
                next = Some(id);
                break;
            }
            attempts -= 1;
            cursor = match id.next() {
                Some(n) => n,
                None => {
                    // The last possible ID: nothing can follow it.
                    attempts = 0;
                    StreamId::MAX
                }
            };
            if view.get(id).is_none() {
                g.ack(id);
                deleted.push(id);
                count -= 1;
                if id == StreamId::MAX {
                    break;
                }
                continue;
            }
            if min_idle != 0 && (now as i64 - t as i64) < min_idle {
                if id == StreamId::MAX {
                    break;
                }
                continue;
            }
            if !consumer_ready {
                if g.touch_consumer(consumer, now) {
                    crate::pubsub::notify_parts(
                        ctx.inst,
                        ctx.client,
                        ctx.out,
                        class::STREAM,
                        "xgroup-createconsumer",
                        key,
                    );
                }
                consumer_ready = true;
            }
            let old = g.pel().get(&id).map(|p| p.delivery_count).unwrap_or(1);
            g.set_owner(id, consumer, now, Some(if justid { old } else { old + 1 }));
            claimed.push(id);
            count -= 1;
            if id == StreamId::MAX {
                break;
            }
        }
        let out = &mut *ctx.out;
        out.array(3);
        reply_id(out, next.unwrap_or_default());
        out.array(claimed.len());
        for id in claimed {
            if justid {
                reply_id(out, id);
            } else if let Some(p) = view.get(id) {
                reply_entry(out, id, p);
            }
        }
        out.array(deleted.len());
        for id in deleted {
            reply_id(out, id);
        }
        Ok(())
    });
}

// ---------------------------------------------------------------------------------------
// XINFO
// ---------------------------------------------------------------------------------------

/// XINFO STREAM key [FULL [COUNT count]] | GROUPS key | CONSUMERS key group
fn xinfo(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]]) {
    run(ctx, |ctx| {
        let (db, now, key) = (ctx.db(), ctx.now_ms, argv[2]);
        let sub = argv[1];
        let Some(e) = ctx.ks.get(db, key, now) else {
            return Err(errors::NO_SUCH_KEY.into());
        };
        let s = stream_of(&e.value)?;
        let out = &mut *ctx.out;
        if eq_ic(sub, b"consumers") && argv.len() == 4 {
            let Some(g) = s.group(argv[3]) else {
                return Err(errors::stream_nogroup_for_key(
                    &errors::printable(argv[3], usize::MAX),
                    &errors::printable(key, usize::MAX),
                )
                .into());
            };
            out.array(g.consumers().len());
            for (name, c) in g.consumers() {
                out.map(3);
                out.bulk(b"name");
                out.bulk(name);
                out.bulk(b"pending");
                out.int(c.pending_len() as i64);
                out.bulk(b"idle");
                out.int((now as i64 - c.seen_time as i64).max(0));
            }
        } else if eq_ic(sub, b"groups") && argv.len() == 3 {
            out.array(s.groups().len());
            for (name, g) in s.groups() {
                out.map(6);
                out.bulk(b"name");
                out.bulk(name);
                out.bulk(b"consumers");
                out.int(g.consumers().len() as i64);
                out.bulk(b"pending");
                out.int(g.pel().len() as i64);
                out.bulk(b"last-delivered-id");
                reply_id(out, g.last_id);
                out.bulk(b"entries-read");
                reply_entries_read(out, g);
                out.bulk(b"lag");
                reply_lag(out, s, g);
            }
        } else if eq_ic(sub, b"stream") {
            xinfo_stream(out, s, argv)?;
        } else {
            return Err(subcommand_syntax(argv).into());
        }
        Ok(())
    });
}

fn reply_entries_read(out: &mut ReplyWriter, g: &Group) {
    if g.entries_read != ENTRIES_READ_UNKNOWN {
        out.int(g.entries_read);
    } else {
        out.null();
    }
}

fn reply_lag(out: &mut ReplyWriter, s: &Stream, g: &Group) {
    match s.lag(g) {
        Some(n) => out.int(n),
        None => out.null(),
    }
}

fn xinfo_stream(out: &mut ReplyWriter, s: &Stream, argv: &[&[u8]]) -> Res {
    let args = &argv[3..];
    let mut full = false;
    let mut count: i64 = 10;
    if !args.is_empty() {
        if !eq_ic(args[0], b"full") {
            return Err(subcommand_syntax(argv).into());
        }
        full = true;
        if args.len() > 1 {
            if args.len() != 3 || !eq_ic(args[1], b"count") {
                return Err(subcommand_syntax(argv).into());
            }
            count = parse_ll(args[2])?;
            if count < 0 {
                count = 10;
            }
        }
    }
    out.map(if full { 9 } else { 10 });
    out.bulk(b"length");
    out.int(s.len() as i64);
    out.bulk(b"radix-tree-keys");
    out.int(s.nodes().len() as i64);
    out.bulk(b"radix-tree-nodes");
    out.int(rax_nodes_estimate(s.nodes().len()) as i64);
    out.bulk(b"last-generated-id");
    reply_id(out, s.last_id());
    out.bulk(b"max-deleted-entry-id");
    reply_id(out, s.max_deleted_id());
    out.bulk(b"entries-added");
    out.int(s.entries_added() as i64);
    out.bulk(b"recorded-first-entry-id");
    reply_id(out, s.first_id());
    if !full {
        out.bulk(b"groups");
        out.int(s.groups().len() as i64);
        out.bulk(b"first-entry");
        match s.range(StreamId::MIN, StreamId::MAX).next() {
            Some((id, p)) => reply_entry(out, *id, p),
            None => out.null(),
        }
        out.bulk(b"last-entry");
        match s.range(StreamId::MIN, StreamId::MAX).next_back() {
            Some((id, p)) => reply_entry(out, *id, p),
            None => out.null(),
        }
        return Ok(());
    }
    let count = count as usize;
    let limit = if count == 0 { usize::MAX } else { count };
    out.bulk(b"entries");
    reply_range(out, s, StreamId::MIN, StreamId::MAX, count, false);
    out.bulk(b"groups");
    out.array(s.groups().len());
    for (name, g) in s.groups() {
        out.map(7);
        out.bulk(b"name");
        out.bulk(name);
        out.bulk(b"last-delivered-id");
        reply_id(out, g.last_id);
        out.bulk(b"entries-read");
        reply_entries_read(out, g);
        out.bulk(b"lag");
        reply_lag(out, s, g);
        out.bulk(b"pel-count");
        out.int(g.pel().len() as i64);
        out.bulk(b"pending");
        let pel: Vec<_> = g.pel().iter().take(limit).collect();
        out.array(pel.len());
        for (id, p) in pel {
            out.array(4);
            reply_id(out, *id);
            out.bulk(&p.consumer);
            out.int(p.delivery_time as i64);
            out.int(p.delivery_count as i64);
        }
        out.bulk(b"consumers");
        out.array(g.consumers().len());
        for (cname, c) in g.consumers() {
            out.map(4);
            out.bulk(b"name");
            out.bulk(cname);
            out.bulk(b"seen-time");
            out.int(c.seen_time as i64);
            out.bulk(b"pel-count");
            out.int(c.pending_len() as i64);
            out.bulk(b"pending");
            let ids: Vec<_> = c.pel().iter().take(limit).collect();
            out.array(ids.len());
            for id in ids {
                out.array(3);
                reply_id(out, *id);
                let (t, n) = g
                    .pel()
                    .get(id)
                    .map(|p| (p.delivery_time, p.delivery_count))
                    .unwrap_or_default();
                out.int(t as i64);
                out.int(n as i64);
            }
        }
    }
    Ok(())
}

/// Redis reports its radix tree's internal node count; we hold no radix tree, so this
/// is what a tree of `keys` 128-bit keys that share a long prefix takes: one node per
/// key plus a root (the exact figure depends on the keys' bytes).
fn rax_nodes_estimate(keys: usize) -> usize {
    if keys == 0 {
        1
    } else {
        keys + 1
    }
}

fn xinfo_help(ctx: &mut Ctx<'_, '_>, _argv: &[&[u8]]) {
    const LINES: &[&str] = &[
        "XINFO <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "CONSUMERS <key> <groupname>",
        "    Show consumers of <groupname>.",
        "GROUPS <key>",
        "    Show the stream consumer groups.",
        "STREAM <key> [FULL [COUNT <count>]",
        "    Show information about the stream.",
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
    use super::*;
    use crate::families::util::testkit::Kit;

    fn bulk(s: &str) -> String {
        format!("${}\r\n{s}\r\n", s.len())
    }

    /// The stream at `key`, for checks on its internals.
    fn with_stream<R>(k: &Kit, key: &str, f: impl FnOnce(&Stream) -> R) -> R {
        let mut l = k.inst.ks.lock_all();
        let e = l.get(0, key.as_bytes(), k.now_ms()).expect("key exists");
        match &e.value {
            Value::Stream(s) => f(s),
            _ => panic!("{key} is not a stream"),
        }
    }

    #[test]
    fn ids_parse_as_redis_reads_them() {
        let p = |s: &str| parse_id(s.as_bytes(), 0).ok().map(|i| i.to_string());
        assert_eq!(p("5"), Some("5-0".into()));
        assert_eq!(p("5-7"), Some("5-7".into()));
        assert_eq!(p("-"), Some("0-0".into()));
        assert_eq!(p("+"), Some(StreamId::MAX.to_string()));
        // strtoull's leniency: a plus sign, leading zeros and white space.
        assert_eq!(p("+5"), Some("5-0".into()));
        assert_eq!(p("007-1"), Some("7-1".into()));
        assert_eq!(p(" 9"), Some("9-0".into()));
        assert_eq!(
            p("18446744073709551615-1"),
            Some("18446744073709551615-1".into())
        );
        assert_eq!(p("18446744073709551616"), None);
        assert_eq!(p("-1"), None);
        assert_eq!(p("1-"), None);
        assert_eq!(p("1-2-3"), None);
        assert_eq!(p(""), None);
        assert_eq!(p("5-*"), None);
        assert!(parse_strict_id(b"-").is_err());
        assert!(parse_strict_id(b"+").is_err());
        let auto = parse_id_full(b"5-*", 0, true, true).expect("ms-* parses for XADD");
        assert_eq!((auto.id, auto.seq_given), (StreamId::new(5, 0), false));
        assert_eq!(
            parse_range_end(b"(5").ok(),
            Some(StreamId::new(5, u64::MAX - 1))
        );
        assert_eq!(
            parse_range_end(b"(5-0").ok(),
            Some(StreamId::new(4, u64::MAX))
        );
        assert_eq!(parse_range_start(b"(5-1").ok(), Some(StreamId::new(5, 2)));
        assert!(parse_range_start(b"(18446744073709551615-18446744073709551615").is_err());
        assert!(parse_range_end(b"(0-0").is_err());
        // An argument is read up to a NUL byte, as C does.
        assert_eq!(parse_id(b"7\x00junk", 0).ok(), Some(StreamId::new(7, 0)));
    }

    #[test]
    fn xadd_auto_ids_follow_the_clock_and_never_go_back() {
        let mut k = Kit::new();
        let r = k.run("xadd s * a 1");
        let id = r.lines().nth(1).expect("an id").to_string();
        let (ms, seq) = id.split_once('-').expect("ms-seq");
        let ms: u64 = ms.parse().expect("ms");
        assert!(ms.abs_diff(k.now_ms()) < 5_000, "{id}");
        assert_eq!(seq, "0");
        // A last ID in the future: auto IDs continue from it.
        let future = ms + 1_000_000;
        assert_eq!(
            k.run(&format!("xadd s {future}-5 a 2")),
            bulk(&format!("{future}-5"))
        );
        assert_eq!(k.run("xadd s * a 3"), bulk(&format!("{future}-6")));
        assert_eq!(
            k.run(&format!("xadd s {future}-* a 4")),
            bulk(&format!("{future}-7"))
        );
        assert_eq!(k.run("xlen s"), ":4\r\n");
        k.inst.ks.check_accounting();
    }

    #[test]
    fn delivery_counts_and_owners() {
        let mut k = Kit::new();
        for i in 1..=3 {
            k.run(&format!("xadd s {i}-0 f v"));
        }
        assert_eq!(k.run("xgroup create s g 0"), "+OK\r\n");
        k.run("xreadgroup group g alice streams s >");
        let pel = |k: &Kit| {
            with_stream(k, "s", |s| {
                let g = s.group(b"g").expect("group");
                g.pel()
                    .iter()
                    .map(|(id, p)| {
                        (
                            id.to_string(),
                            String::from_utf8_lossy(&p.consumer).into_owned(),
                            p.delivery_count,
                        )
                    })
                    .collect::<Vec<_>>()
            })
        };
        let row = |id: &str, c: &str, n: u64| (id.to_string(), c.to_string(), n);
        assert_eq!(
            pel(&k),
            vec![
                row("1-0", "alice", 1),
                row("2-0", "alice", 1),
                row("3-0", "alice", 1)
            ]
        );
        // Reading the history counts as a delivery.
        k.run("xreadgroup group g alice count 1 streams s 0");
        assert_eq!(pel(&k)[0], row("1-0", "alice", 2));
        // XCLAIM moves the entry and counts a delivery; JUSTID does not; RETRYCOUNT sets.
        k.run("xclaim s g bob 0 1-0");
        k.run("xclaim s g bob 0 2-0 justid");
        k.run("xclaim s g bob 0 3-0 retrycount 9");
        assert_eq!(
            pel(&k),
            vec![
                row("1-0", "bob", 3),
                row("2-0", "bob", 1),
                row("3-0", "bob", 9)
            ]
        );
        // XREADGROUP of an entry pending elsewhere (after SETID) takes it over with a
        // count of 1.
        k.run("xgroup setid s g 0");
        k.run("xreadgroup group g carol count 1 streams s >");
        assert_eq!(pel(&k)[0], row("1-0", "carol", 1));
        with_stream(&k, "s", |s| {
            let g = s.group(b"g").expect("group");
            let owned: Vec<usize> = g.consumers().values().map(|c| c.pending_len()).collect();
            assert_eq!(owned, vec![0, 2, 1]);
            assert_eq!(s.heap_bytes(), s.recount_heap());
        });
        // XAUTOCLAIM increments too, and JUSTID does not.
        k.run("xautoclaim s g dave 0 0 count 1");
        k.run("xautoclaim s g dave 0 0 count 2 justid");
        assert_eq!(
            pel(&k),
            vec![
                row("1-0", "dave", 2),
                row("2-0", "dave", 1),
                row("3-0", "bob", 9)
            ]
        );
        k.inst.ks.check_accounting();
    }

    #[test]
    fn xautoclaim_cursor_and_deleted_entries() {
        let mut k = Kit::new();
        for i in 1..=5 {
            k.run(&format!("xadd s {i}-0 f v"));
        }
        k.run("xgroup create s g 0");
        k.run("xreadgroup group g a streams s >");
        k.run("xdel s 2-0");
        let r = k.run("xautoclaim s g b 0 0 count 2 justid");
        // 1-0 claimed, 2-0 deleted (counts against COUNT), next cursor 3-0.
        assert_eq!(
            r,
            format!(
                "*3\r\n{}*1\r\n{}*1\r\n{}",
                bulk("3-0"),
                bulk("1-0"),
                bulk("2-0")
            )
        );
        let r = k.run("xautoclaim s g b 0 3-0 justid");
        assert_eq!(
            r,
            format!(
                "*3\r\n{}*3\r\n{}{}{}*0\r\n",
                bulk("0-0"),
                bulk("3-0"),
                bulk("4-0"),
                bulk("5-0")
            )
        );
    }

    #[test]
    fn streams_stay_when_emptied_and_accounting_follows() {
        let mut k = Kit::new();
        k.run("xadd s 1-0 f v");
        k.run("xadd s 2-0 field value");
        assert_eq!(k.run("xdel s 1-0 2-0"), ":2\r\n");
        assert_eq!(k.run("exists s"), ":1\r\n");
        assert_eq!(k.run("xlen s"), ":0\r\n");
        let big = "x".repeat(5000);
        for i in 3..40 {
            k.run(&format!("xadd s {i}-0 f {big}"));
        }
        k.run("xgroup create s g 0");
        k.run("xreadgroup group g c count 10 streams s >");
        k.run("xtrim s maxlen 5");
        k.inst.ks.check_accounting();
        with_stream(&k, "s", |s| {
            assert_eq!(s.heap_bytes(), s.recount_heap());
            assert!(s.heap_bytes() > 5 * 5000);
        });
        assert_eq!(k.run("del s"), ":1\r\n");
        k.inst.ks.check_accounting();
    }

    #[test]
    fn xread_block_where_blocking_is_not_allowed() {
        let mut k = Kit::new();
        k.run("xadd s 7-3 f v");
        // Inside a context that may not block (MULTI, scripts), BLOCK answers as a
        // timeout when there is nothing to serve, and serves what there is.
        k.client.no_block = true;
        assert_eq!(k.run("xread block 0 streams s $"), "*-1\r\n");
        assert!(k
            .run("xreadgroup group g c block 0 streams s >")
            .starts_with("-NOGROUP"));
        k.run("xgroup create s g $");
        assert_eq!(k.run("xreadgroup group g c block 0 streams s >"), "*-1\r\n");
        assert_eq!(
            k.run("xread block 0 streams s 7-2"),
            format!(
                "*1\r\n*2\r\n{}*1\r\n*2\r\n{}*2\r\n{}{}",
                bulk("s"),
                bulk("7-3"),
                bulk("f"),
                bulk("v")
            )
        );
    }
}
