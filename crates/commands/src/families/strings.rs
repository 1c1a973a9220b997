//! The string family: SET and its variants, GET and its variants, counters, ranges and
//! LCS, with Redis 7.0's replies, error messages and checking order.
//!
//! Values are stored the way Redis encodes them, so OBJECT ENCODING agrees: a canonical
//! integer becomes `Str::Int`, anything modified in place (APPEND, SETRANGE) becomes raw.

use engine::value::{parse_canonical_i64, EMBSTR_MAX};
use engine::{Access, Entry, EntryMut, Locked, Str, Value};

use super::util::{eq_ic, new_entry, parse_i64, str_of, str_of_mut, touches, LongDouble};
use crate::ctx::Ctx;
use crate::errors;
use crate::pubsub::class;
use crate::spec::Handler;

/// (spec name, handler) for every command this family serves.
pub fn handlers() -> Vec<(&'static str, Handler)> {
    vec![
        ("get", get),
        ("set", set),
        ("setnx", setnx),
        ("setex", setex),
        ("psetex", psetex),
        ("getex", getex),
        ("getdel", getdel),
        ("getset", getset),
        ("mget", mget),
        ("mset", mset),
        ("msetnx", msetnx),
        ("append", append),
        ("strlen", strlen),
        ("getrange", getrange),
        ("substr", getrange),
        ("setrange", setrange),
        ("incr", incr),
        ("decr", decr),
        ("incrby", incrby),
        ("decrby", decrby),
        ("incrbyfloat", incrbyfloat),
        ("lcs", lcs),
    ]
}

// ---------------------------------------------------------------------------------------
// Shared pieces
// ---------------------------------------------------------------------------------------

/// What a handler learned while it held an entry, acted on once the borrow has ended
/// (errors and inserts need `ctx` or `ctx.ks` whole).
enum Step {
    Done,
    Missing,
    /// An NX/XX condition was not met.
    Skipped,
    WrongType,
    Fail(&'static str),
}

/// The expiry argument kinds of SET and GETEX.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ExpKind {
    Ex,
    Px,
    ExAt,
    PxAt,
}

impl ExpKind {
    fn from_arg(a: &[u8]) -> Option<ExpKind> {
        if eq_ic(a, b"ex") {
            Some(ExpKind::Ex)
        } else if eq_ic(a, b"px") {
            Some(ExpKind::Px)
        } else if eq_ic(a, b"exat") {
            Some(ExpKind::ExAt)
        } else if eq_ic(a, b"pxat") {
            Some(ExpKind::PxAt)
        } else {
            None
        }
    }

    fn absolute(self) -> bool {
        matches!(self, ExpKind::ExAt | ExpKind::PxAt)
    }

    fn seconds(self) -> bool {
        matches!(self, ExpKind::Ex | ExpKind::ExAt)
    }
}

/// Options of SET (`for_set`) or GETEX, as Redis's parseExtendedStringArguments accepts
/// them: an option may repeat, but conflicting ones (NX+XX, two expiry kinds, KEEPTTL or
/// PERSIST with an expiry) are a syntax error, as is an expiry without its value.
#[derive(Default)]
struct StrOpts<'a> {
    nx: bool,
    xx: bool,
    get: bool,
    keepttl: bool,
    persist: bool,
    expire: Option<(ExpKind, &'a [u8])>,
}

fn parse_str_opts<'a>(args: &[&'a [u8]], for_set: bool) -> Option<StrOpts<'a>> {
    let mut o = StrOpts::default();
    let mut i = 0;
    while i < args.len() {
        let a = args[i];
        if for_set && eq_ic(a, b"nx") && !o.xx {
            o.nx = true;
        } else if for_set && eq_ic(a, b"xx") && !o.nx {
            o.xx = true;
        } else if for_set && eq_ic(a, b"get") {
            o.get = true;
        } else if for_set && eq_ic(a, b"keepttl") && o.expire.is_none() {
            o.keepttl = true;
        } else if !for_set && eq_ic(a, b"persist") && o.expire.is_none() {
            o.persist = true;
        } else if let Some(kind) = ExpKind::from_arg(a) {
            let value = args.get(i + 1).copied()?;
            if o.keepttl || o.persist || o.expire.is_some_and(|(k, _)| k != kind) {
                return None;
            }
            o.expire = Some((kind, value));
            i += 1;
        } else {
            return None;
        }
        i += 1;
    }
    Some(o)
}

/// Turns an expiry argument into an absolute Unix time in ms, with Redis's checks:
/// positive, no overflow in the unit conversion or when adding the current time.
/// `invalid` is the command's "invalid expire time" message.
fn expire_at_ms(
    kind: ExpKind,
    arg: &[u8],
    now_ms: u64,
    invalid: &'static str,
) -> Result<u64, &'static str> {
    let v = parse_i64(arg).ok_or(errors::NOT_INTEGER)?;
    if v <= 0 || (kind.seconds() && v > i64::MAX / 1000) {
        return Err(invalid);
    }
    let mut ms = if kind.seconds() { v * 1000 } else { v };
    if !kind.absolute() {
        ms = ms.checked_add(now_ms as i64).ok_or(invalid)?;
    }
    if ms <= 0 {
        return Err(invalid);
    }
    Ok(ms as u64)
}

/// What a write does to the key's time to live.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ttl {
    Keep,
    Clear,
    At(u64),
}

impl Ttl {
    /// Applies the TTL to an overwritten key. Tags (a MiniRedis extension) follow the
    /// TTL's rule: an overwrite that discards the TTL discards the tags, KEEPTTL keeps
    /// both.
    fn apply(self, e: &mut EntryMut<'_>) {
        match self {
            Ttl::Keep => {}
            Ttl::Clear => {
                e.set_expire(0);
                e.clear_tags();
            }
            Ttl::At(ms) => {
                e.set_expire(ms);
                e.clear_tags();
            }
        }
    }

    /// The expiry of a key created with this TTL (0: none).
    fn at(self) -> u64 {
        match self {
            Ttl::At(ms) => ms,
            _ => 0,
        }
    }
}

/// A new key holding the string `val`, encoded as SET encodes it.
fn new_str_entry(key: &[u8], val: &[u8], clock: &Access, ttl: Ttl) -> Entry {
    new_entry(key, Value::Str(Str::from_bytes(val)), clock).with_expire(ttl.at())
}

/// Stores `val` in `dst` as Redis's tryObjectEncoding would (integers as `Int`, short
/// strings as embstr), reusing the old buffer when it is about the right size so an
/// overwrite costs no allocation.
fn assign(dst: &mut Value, val: &[u8]) {
    if let Some(n) = parse_canonical_i64(val) {
        *dst = Value::Str(Str::Int(n));
        return;
    }
    if let Value::Str(Str::Bytes { data, raw }) = dst {
        let cap = data.capacity();
        if cap >= val.len() && cap <= val.len() * 2 + 64 {
            data.clear();
            data.extend_from_slice(val);
            *raw = val.len() > EMBSTR_MAX;
            return;
        }
    }
    *dst = Value::Str(Str::Bytes {
        data: val.to_vec(),
        raw: val.len() > EMBSTR_MAX,
    });
}

/// Sets `key` to the string `val` whatever it held, applying `ttl`; `clock` stamps the
/// access.
fn put(ks: &mut Locked<'_>, db: usize, key: &[u8], val: &[u8], now: u64, clock: &Access, ttl: Ttl) {
    // One hash and one probe: insert, or overwrite the live entry in place.
    let (mut e, inserted) =
        ks.get_or_insert_with(db, key, now, || new_str_entry(key, val, clock, ttl));
    if !inserted {
        assign(&mut e.value, val);
        ttl.apply(&mut e);
        e.touch(clock);
    }
}

/// How SET-like commands report success and an unmet NX/XX condition.
#[derive(Clone, Copy, PartialEq, Eq)]
enum SetReply {
    /// `+OK` / null (SET).
    Ok,
    /// `:1` / `:0` (SETNX).
    Int,
}

/// SET's core, also serving SETNX, SETEX, PSETEX and GETSET.
#[allow(clippy::too_many_arguments)]
fn set_generic(
    ctx: &mut Ctx<'_, '_>,
    key: &[u8],
    val: &[u8],
    nx: bool,
    xx: bool,
    get: bool,
    ttl: Ttl,
    style: SetReply,
) {
    let (db, now) = (ctx.db(), ctx.now_ms);
    // With GET the old value is read as GET reads it (counted as a hit or miss). The
    // lookup is the `match`'s scrutinee, so the borrowed entry is released (and its size
    // change charged) before the steps below need the keyspace again.
    let lookup = if get {
        Locked::get
    } else {
        Locked::get_for_write
    };
    let step = match lookup(ctx.ks, db, key, now) {
        Some(mut e) => {
            let mut step = Step::Done;
            if get {
                match str_of(&e.value) {
                    Some(s) => s.with_bytes(|b| ctx.out.bulk(b)),
                    None => step = Step::WrongType,
                }
            }
            match step {
                Step::WrongType => step,
                _ if nx => Step::Skipped,
                _ => {
                    assign(&mut e.value, val);
                    ttl.apply(&mut e);
                    e.touch(&ctx.access);
                    Step::Done
                }
            }
        }
        None => {
            if get {
                ctx.out.null();
            }
            if xx {
                Step::Skipped
            } else {
                Step::Missing
            }
        }
    };
    match step {
        Step::WrongType => return ctx.error(errors::WRONGTYPE),
        Step::Fail(msg) => return ctx.error(msg),
        Step::Skipped => {
            if !get {
                match style {
                    SetReply::Ok => ctx.out.null(),
                    SetReply::Int => ctx.out.int(0),
                }
            }
            return;
        }
        Step::Missing => {
            ctx.ks
                .insert(db, new_str_entry(key, val, &ctx.access, ttl), now);
        }
        Step::Done => {}
    }
    ctx.notify(class::STRING, "set", key);
    if let Ttl::At(_) = ttl {
        ctx.notify(class::GENERIC, "expire", key);
    }
    if !get {
        match style {
            SetReply::Ok => ctx.out.ok(),
            SetReply::Int => ctx.out.int(1),
        }
    }
}

// ---------------------------------------------------------------------------------------
// SET family
// ---------------------------------------------------------------------------------------

/// SET key value [NX|XX] [GET] [EX s|PX ms|EXAT ts|PXAT ts|KEEPTTL]
fn set(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]]) {
    let Some(o) = parse_str_opts(&argv[3..], true) else {
        return ctx.error(errors::SYNTAX);
    };
    let ttl = match o.expire {
        Some((kind, arg)) => {
            match expire_at_ms(kind, arg, ctx.now_ms, errors::INVALID_EXPIRE_SET) {
                Ok(ms) => Ttl::At(ms),
                Err(e) => return ctx.error(e),
            }
        }
        None if o.keepttl => Ttl::Keep,
        None => Ttl::Clear,
    };
    set_generic(ctx, argv[1], argv[2], o.nx, o.xx, o.get, ttl, SetReply::Ok);
}

/// SETNX key value
fn setnx(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]]) {
    set_generic(
        ctx,
        argv[1],
        argv[2],
        true,
        false,
        false,
        Ttl::Clear,
        SetReply::Int,
    );
}

/// SETEX key seconds value
fn setex(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]]) {
    setex_generic(ctx, argv, ExpKind::Ex, errors::INVALID_EXPIRE_SETEX);
}

/// PSETEX key milliseconds value
fn psetex(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]]) {
    setex_generic(ctx, argv, ExpKind::Px, errors::INVALID_EXPIRE_PSETEX);
}

fn setex_generic(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]], kind: ExpKind, invalid: &'static str) {
    match expire_at_ms(kind, argv[2], ctx.now_ms, invalid) {
        Ok(ms) => {
            let (db, now) = (ctx.db(), ctx.now_ms);
            put(ctx.ks, db, argv[1], argv[3], now, &ctx.access, Ttl::At(ms));
            ctx.notify(class::STRING, "set", argv[1]);
            ctx.notify(class::GENERIC, "expire", argv[1]);
            ctx.out.ok();
        }
        Err(e) => ctx.error(e),
    }
}

/// GETSET key value: SET key value GET, without options.
fn getset(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]]) {
    set_generic(
        ctx,
        argv[1],
        argv[2],
        false,
        false,
        true,
        Ttl::Clear,
        SetReply::Ok,
    );
}

/// MSET key value [key value ...]
fn mset(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]]) {
    if !argv[1..].chunks_exact(2).remainder().is_empty() {
        return ctx.error(&errors::wrong_arity("mset"));
    }
    let (db, now) = (ctx.db(), ctx.now_ms);
    for pair in argv[1..].chunks_exact(2) {
        put(ctx.ks, db, pair[0], pair[1], now, &ctx.access, Ttl::Clear);
        ctx.notify(class::STRING, "set", pair[0]);
    }
    ctx.out.ok();
}

/// MSETNX key value [key value ...]: all or nothing.
fn msetnx(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]]) {
    if !argv[1..].chunks_exact(2).remainder().is_empty() {
        return ctx.error(&errors::wrong_arity("msetnx"));
    }
    let (db, now) = (ctx.db(), ctx.now_ms);
    if argv[1..]
        .chunks_exact(2)
        .any(|pair| ctx.ks.exists(db, pair[0], now))
    {
        return ctx.out.int(0);
    }
    for pair in argv[1..].chunks_exact(2) {
        put(ctx.ks, db, pair[0], pair[1], now, &ctx.access, Ttl::Clear);
        ctx.notify(class::STRING, "set", pair[0]);
    }
    ctx.out.int(1);
}

// ---------------------------------------------------------------------------------------
// GET family
// ---------------------------------------------------------------------------------------

/// GET key
fn get(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]]) {
    let (db, now, touch) = (ctx.client.db, ctx.now_ms, touches(ctx));
    let wrong = match ctx.ks.get(db, argv[1], now) {
        None => {
            ctx.out.null();
            false
        }
        Some(mut e) => {
            if let Some(c) = &touch {
                e.touch(c);
            }
            match str_of(&e.value) {
                Some(s) => {
                    s.with_bytes(|b| ctx.out.bulk(b));
                    false
                }
                None => true,
            }
        }
    };
    if wrong {
        ctx.error(errors::WRONGTYPE);
    }
}

/// MGET key [key ...]: keys that are missing or hold another type read as null.
fn mget(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]]) {
    let (db, now, touch) = (ctx.db(), ctx.now_ms, touches(ctx));
    ctx.out.array(argv.len() - 1);
    for &key in &argv[1..] {
        match ctx.ks.get(db, key, now) {
            Some(mut e) => {
                if let Some(c) = &touch {
                    e.touch(c);
                }
                match str_of(&e.value) {
                    Some(s) => s.with_bytes(|b| ctx.out.bulk(b)),
                    None => ctx.out.null(),
                }
            }
            None => ctx.out.null(),
        }
    }
}

/// GETEX key [EX s|PX ms|EXAT ts|PXAT ts|PERSIST]
fn getex(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]]) {
    let Some(o) = parse_str_opts(&argv[2..], false) else {
        return ctx.error(errors::SYNTAX);
    };
    let (db, now, touch) = (ctx.db(), ctx.now_ms, touches(ctx));
    let key = argv[1];
    let mut delete = false;
    let mut event = None;
    let step = match ctx.ks.get(db, key, now) {
        None => Step::Missing,
        Some(mut e) => {
            if let Some(c) = &touch {
                e.touch(c);
            }
            match str_of(&e.value) {
                None => Step::WrongType,
                Some(s) => {
                    // Redis validates the expiry only once it knows the key is a string.
                    let at = match o.expire {
                        Some((kind, arg)) => {
                            match expire_at_ms(kind, arg, now, errors::INVALID_EXPIRE_GETEX) {
                                Ok(ms) => Ok(Some((kind, ms))),
                                Err(msg) => Err(msg),
                            }
                        }
                        None => Ok(None),
                    };
                    match at {
                        Err(msg) => Step::Fail(msg),
                        Ok(at) => {
                            s.with_bytes(|b| ctx.out.bulk(b));
                            match at {
                                Some((kind, ms)) if kind.absolute() && ms <= now => delete = true,
                                Some((_, ms)) => {
                                    e.set_expire(ms);
                                    event = Some("expire");
                                }
                                None if o.persist => {
                                    if e.expire_at() != 0 {
                                        event = Some("persist");
                                    }
                                    e.set_expire(0)
                                }
                                None => {}
                            }
                            Step::Done
                        }
                    }
                }
            }
        }
    };
    match step {
        Step::Missing => ctx.out.null(),
        Step::WrongType => ctx.error(errors::WRONGTYPE),
        Step::Fail(msg) => ctx.error(msg),
        Step::Done | Step::Skipped => {
            if delete {
                ctx.ks.remove(db, key, now);
                event = Some("del");
            }
            if let Some(ev) = event {
                ctx.notify(class::GENERIC, ev, key);
            }
        }
    }
}

/// GETDEL key
fn getdel(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]]) {
    let (db, now) = (ctx.db(), ctx.now_ms);
    let step = match ctx.ks.get(db, argv[1], now) {
        None => Step::Missing,
        Some(e) => match str_of(&e.value) {
            None => Step::WrongType,
            Some(s) => {
                s.with_bytes(|b| ctx.out.bulk(b));
                Step::Done
            }
        },
    };
    match step {
        Step::Missing => ctx.out.null(),
        Step::WrongType => ctx.error(errors::WRONGTYPE),
        _ => {
            ctx.ks.remove(db, argv[1], now);
            ctx.notify(class::GENERIC, "del", argv[1]);
        }
    }
}

/// Reads the string at `key` (counting a hit or miss, updating the access time) and
/// hands it to `f`.
fn read_str<T>(
    ctx: &mut Ctx<'_, '_>,
    key: &[u8],
    f: impl FnOnce(&mut resp::ReplyWriter, &Str) -> T,
) -> Result<Option<T>, ()> {
    super::collection::read_as(ctx, key, str_of, f).into_result()
}

/// STRLEN key
fn strlen(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]]) {
    match read_str(ctx, argv[1], |out, s| out.int(s.len() as i64)) {
        Ok(Some(())) => {}
        Ok(None) => ctx.out.int(0),
        Err(()) => ctx.error(errors::WRONGTYPE),
    }
}

/// GETRANGE key start end (and its old name SUBSTR)
fn getrange(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]]) {
    let (Some(start), Some(end)) = (parse_i64(argv[2]), parse_i64(argv[3])) else {
        return ctx.error(errors::NOT_INTEGER);
    };
    let r = read_str(ctx, argv[1], |out, s| {
        s.with_bytes(|b| match substr_range(b.len(), start, end) {
            Some((from, to)) => out.bulk(&b[from..=to]),
            None => out.bulk(b""),
        })
    });
    match r {
        Ok(Some(())) => {}
        Ok(None) => ctx.out.bulk(b""),
        Err(()) => ctx.error(errors::WRONGTYPE),
    }
}

/// GETRANGE's index arithmetic: negative indexes count from the end, both ends are
/// clamped; `None` for an empty result.
fn substr_range(len: usize, start: i64, end: i64) -> Option<(usize, usize)> {
    if start < 0 && end < 0 && start > end {
        return None;
    }
    let len_i = len as i64;
    let start = if start < 0 { len_i + start } else { start }.max(0);
    let mut end = if end < 0 { len_i + end } else { end }.max(0);
    if end >= len_i {
        end = len_i - 1;
    }
    if start > end || len == 0 {
        return None;
    }
    Some((start as usize, end as usize))
}

// ---------------------------------------------------------------------------------------
// In-place modifications
// ---------------------------------------------------------------------------------------

fn max_string_len(ctx: &Ctx<'_, '_>) -> u64 {
    ctx.inst.config.read().proto_max_bulk_len
}

/// APPEND key value
fn append(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]]) {
    let (db, now, touch) = (ctx.db(), ctx.now_ms, touches(ctx));
    let (key, add) = (argv[1], argv[2]);
    let limit = max_string_len(ctx);
    let step = match ctx.ks.get_for_write(db, key, now) {
        None => Step::Missing,
        Some(mut e) => {
            if let Some(c) = &touch {
                e.touch(c);
            }
            match str_of_mut(&mut e.value) {
                None => Step::WrongType,
                Some(s) if s.len() as u64 + add.len() as u64 > limit => {
                    Step::Fail(errors::STRING_TOO_LONG)
                }
                Some(s) => {
                    let data = s.make_raw();
                    data.extend_from_slice(add);
                    ctx.out.int(data.len() as i64);
                    Step::Done
                }
            }
        }
    };
    match step {
        Step::Done | Step::Skipped => ctx.notify(class::STRING, "append", key),
        Step::WrongType => ctx.error(errors::WRONGTYPE),
        Step::Fail(msg) => ctx.error(msg),
        Step::Missing => {
            // A new key is stored as SET would store it.
            ctx.ks
                .insert(db, new_str_entry(key, add, &ctx.access, Ttl::Clear), now);
            ctx.notify(class::STRING, "append", key);
            ctx.out.int(add.len() as i64);
        }
    }
}

/// SETRANGE key offset value
fn setrange(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]]) {
    let Some(offset) = parse_i64(argv[2]) else {
        return ctx.error(errors::NOT_INTEGER);
    };
    if offset < 0 {
        return ctx.error(errors::OFFSET_OUT_OF_RANGE);
    }
    let (db, now, touch) = (ctx.db(), ctx.now_ms, touches(ctx));
    let (key, val) = (argv[1], argv[3]);
    let too_long = offset as u64 + val.len() as u64 > max_string_len(ctx);
    let offset = offset as usize;
    let step = match ctx.ks.get_for_write(db, key, now) {
        None => Step::Missing,
        Some(mut e) => {
            if let Some(c) = &touch {
                e.touch(c);
            }
            match str_of_mut(&mut e.value) {
                None => Step::WrongType,
                Some(s) if val.is_empty() => {
                    ctx.out.int(s.len() as i64);
                    Step::Done
                }
                Some(_) if too_long => Step::Fail(errors::STRING_TOO_LONG),
                Some(s) => {
                    let data = s.make_raw();
                    let end = offset + val.len();
                    if data.len() < end {
                        data.resize(end, 0);
                    }
                    data[offset..end].copy_from_slice(val);
                    ctx.out.int(data.len() as i64);
                    Step::Done
                }
            }
        }
    };
    match step {
        Step::Done | Step::Skipped => {
            if !val.is_empty() {
                ctx.notify(class::STRING, "setrange", key);
            }
        }
        Step::WrongType => ctx.error(errors::WRONGTYPE),
        Step::Fail(msg) => ctx.error(msg),
        Step::Missing if val.is_empty() => ctx.out.int(0),
        Step::Missing if too_long => ctx.error(errors::STRING_TOO_LONG),
        Step::Missing => {
            let mut data = vec![0u8; offset + val.len()];
            data[offset..].copy_from_slice(val);
            let len = data.len();
            ctx.ks.insert(
                db,
                new_entry(key, Value::Str(Str::raw(data)), &ctx.access),
                now,
            );
            ctx.notify(class::STRING, "setrange", key);
            ctx.out.int(len as i64);
        }
    }
}

// ---------------------------------------------------------------------------------------
// Counters
// ---------------------------------------------------------------------------------------

/// INCR key
fn incr(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]]) {
    incr_by(ctx, argv[1], 1);
}

/// DECR key
fn decr(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]]) {
    incr_by(ctx, argv[1], -1);
}

/// INCRBY key increment
fn incrby(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]]) {
    match parse_i64(argv[2]) {
        Some(n) => incr_by(ctx, argv[1], n),
        None => ctx.error(errors::NOT_INTEGER),
    }
}

/// DECRBY key decrement
fn decrby(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]]) {
    match parse_i64(argv[2]) {
        None => ctx.error(errors::NOT_INTEGER),
        Some(i64::MIN) => ctx.error(errors::DECR_OVERFLOW),
        Some(n) => incr_by(ctx, argv[1], -n),
    }
}

/// Adds `delta` to the integer at `key` (0 if missing), keeping its TTL.
fn incr_by(ctx: &mut Ctx<'_, '_>, key: &[u8], delta: i64) {
    let (db, now, touch) = (ctx.db(), ctx.now_ms, touches(ctx));
    let step = match ctx.ks.get_for_write(db, key, now) {
        None => Step::Missing,
        Some(mut e) => {
            if let Some(c) = &touch {
                e.touch(c);
            }
            match str_of_mut(&mut e.value) {
                None => Step::WrongType,
                Some(s) => match s.as_int() {
                    None => Step::Fail(errors::NOT_INTEGER),
                    Some(cur) => match cur.checked_add(delta) {
                        None => Step::Fail(errors::OVERFLOW),
                        Some(n) => {
                            *s = Str::Int(n);
                            ctx.out.int(n);
                            Step::Done
                        }
                    },
                },
            }
        }
    };
    match step {
        Step::Done | Step::Skipped => ctx.notify(class::STRING, "incrby", key),
        Step::WrongType => ctx.error(errors::WRONGTYPE),
        Step::Fail(msg) => ctx.error(msg),
        Step::Missing => {
            ctx.ks.insert(
                db,
                new_entry(key, Value::Str(Str::Int(delta)), &ctx.access),
                now,
            );
            ctx.notify(class::STRING, "incrby", key);
            ctx.out.int(delta);
        }
    }
}

/// INCRBYFLOAT key increment, in long double arithmetic as Redis does it.
fn incrbyfloat(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]]) {
    let (db, now, touch) = (ctx.db(), ctx.now_ms, touches(ctx));
    let key = argv[1];
    let incr = LongDouble::parse(argv[2]);
    let mut fresh: Option<Vec<u8>> = None;
    let step = match ctx.ks.get_for_write(db, key, now) {
        None => match incr {
            None => Step::Fail(errors::NOT_FLOAT),
            Some(inc) => {
                let sum = LongDouble::from_i64(0) + inc;
                if sum.is_finite() {
                    fresh = Some(sum.to_human());
                    Step::Missing
                } else {
                    Step::Fail(errors::INCR_NAN_INF)
                }
            }
        },
        Some(mut e) => {
            if let Some(c) = &touch {
                e.touch(c);
            }
            match str_of_mut(&mut e.value) {
                None => Step::WrongType,
                Some(s) => {
                    let cur = match s {
                        Str::Int(n) => Some(LongDouble::from_i64(*n)),
                        Str::Bytes { data, .. } => LongDouble::parse(data),
                    };
                    match (cur, incr) {
                        (Some(cur), Some(inc)) => {
                            let sum = cur + inc;
                            if sum.is_finite() {
                                let text = sum.to_human();
                                ctx.out.bulk(&text);
                                *s = Str::Bytes {
                                    raw: text.len() > EMBSTR_MAX,
                                    data: text,
                                };
                                Step::Done
                            } else {
                                Step::Fail(errors::INCR_NAN_INF)
                            }
                        }
                        _ => Step::Fail(errors::NOT_FLOAT),
                    }
                }
            }
        }
    };
    match step {
        Step::Done | Step::Skipped => ctx.notify(class::STRING, "incrbyfloat", key),
        Step::WrongType => ctx.error(errors::WRONGTYPE),
        Step::Fail(msg) => ctx.error(msg),
        Step::Missing => {
            let text = fresh.unwrap_or_default();
            ctx.out.bulk(&text);
            // Stored as a plain string (never int-encoded), as Redis creates it.
            let value = Str::Bytes {
                raw: text.len() > EMBSTR_MAX,
                data: text,
            };
            ctx.ks
                .insert(db, new_entry(key, Value::Str(value), &ctx.access), now);
            ctx.notify(class::STRING, "incrbyfloat", key);
        }
    }
}

// ---------------------------------------------------------------------------------------
// LCS
// ---------------------------------------------------------------------------------------

/// Reads a key for LCS: `Err` if it holds another type, empty if missing.
fn lcs_input(ctx: &mut Ctx<'_, '_>, key: &[u8]) -> Result<Vec<u8>, ()> {
    match read_str(ctx, key, |_, s| s.to_vec()) {
        Ok(v) => Ok(v.unwrap_or_default()),
        Err(()) => Err(()),
    }
}

/// LCS key1 key2 [LEN] [IDX] [MINMATCHLEN len] [WITHMATCHLEN]
fn lcs(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]]) {
    let a = lcs_input(ctx, argv[1]);
    let b = lcs_input(ctx, argv[2]);
    let (Ok(a), Ok(b)) = (a, b) else {
        return ctx.error(errors::LCS_NOT_STRINGS);
    };
    let (mut getlen, mut getidx, mut withmatchlen) = (false, false, false);
    let mut minmatchlen: i64 = 0;
    let mut i = 3;
    while i < argv.len() {
        let opt = argv[i];
        if eq_ic(opt, b"idx") {
            getidx = true;
        } else if eq_ic(opt, b"len") {
            getlen = true;
        } else if eq_ic(opt, b"withmatchlen") {
            withmatchlen = true;
        } else if eq_ic(opt, b"minmatchlen") && i + 1 < argv.len() {
            match parse_i64(argv[i + 1]) {
                Some(n) => minmatchlen = n.max(0),
                None => return ctx.error(errors::NOT_INTEGER),
            }
            i += 1;
        } else {
            return ctx.error(errors::SYNTAX);
        }
        i += 1;
    }
    if getidx && getlen {
        return ctx.error(errors::LCS_IDX_AND_LEN);
    }
    let cells = (a.len() as u64 + 1).saturating_mul(b.len() as u64 + 1);
    if cells.saturating_mul(4) > max_string_len(ctx) {
        return ctx.error(errors::LCS_TOO_BIG);
    }
    let Some(table) = lcs_table(&a, &b, cells as usize) else {
        return ctx.error(errors::LCS_ALLOC_FAILED);
    };
    let w = b.len() + 1;
    let at = |i: usize, j: usize| table[i * w + j];
    let total = at(a.len(), b.len());
    if getlen {
        return ctx.out.int(i64::from(total));
    }
    // Walk back from the end, as Redis does, collecting the LCS and its matching ranges
    // (in the order Redis emits them: from the end of the strings).
    let mut text = vec![0u8; total as usize];
    let mut idx = total as usize;
    let mut ranges: Vec<[usize; 4]> = Vec::new(); // a_start, a_end, b_start, b_end
    let mut cur: Option<[usize; 4]> = None;
    let (mut i, mut j) = (a.len(), b.len());
    while i > 0 && j > 0 {
        let mut emit = false;
        if a[i - 1] == b[j - 1] {
            text[idx - 1] = a[i - 1];
            match &mut cur {
                None => cur = Some([i - 1, i - 1, j - 1, j - 1]),
                Some(r) => {
                    // Consecutive matches always extend the range backwards.
                    r[0] -= 1;
                    r[2] -= 1;
                }
            }
            if cur.is_some_and(|r| r[0] == 0 || r[2] == 0) {
                emit = true;
            }
            idx -= 1;
            i -= 1;
            j -= 1;
        } else {
            if at(i - 1, j) > at(i, j - 1) {
                i -= 1;
            } else {
                j -= 1;
            }
            emit = cur.is_some();
        }
        if emit {
            if let Some(r) = cur.take() {
                if minmatchlen == 0 || (r[1] - r[0] + 1) as i64 >= minmatchlen {
                    ranges.push(r);
                }
            }
        }
    }
    if !getidx {
        return ctx.out.bulk(&text);
    }
    let out = &mut *ctx.out;
    out.map(2);
    out.bulk(b"matches");
    out.array(ranges.len());
    for r in &ranges {
        out.array(2 + usize::from(withmatchlen));
        out.array(2);
        out.int(r[0] as i64);
        out.int(r[1] as i64);
        out.array(2);
        out.int(r[2] as i64);
        out.int(r[3] as i64);
        if withmatchlen {
            out.int((r[1] - r[0] + 1) as i64);
        }
    }
    out.bulk(b"len");
    out.int(i64::from(total));
}

/// The dynamic-programming table: cell (i, j) holds the LCS length of `a[..i]` and
/// `b[..j]`. `None` if it cannot be allocated.
fn lcs_table(a: &[u8], b: &[u8], cells: usize) -> Option<Vec<u32>> {
    let mut t: Vec<u32> = Vec::new();
    t.try_reserve_exact(cells).ok()?;
    t.resize(cells, 0);
    let w = b.len() + 1;
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            t[i * w + j] = if a[i - 1] == b[j - 1] {
                t[(i - 1) * w + j - 1] + 1
            } else {
                t[(i - 1) * w + j].max(t[i * w + j - 1])
            };
        }
    }
    Some(t)
}

/// Expected replies were observed from a Redis 7.0 server given the same commands.
#[cfg(test)]
mod tests {
    use super::super::util::testkit::Kit;

    const OK: &str = "+OK\r\n";
    const NIL: &str = "$-1\r\n";
    const SYNTAX: &str = "-ERR syntax error\r\n";
    const NOT_INT: &str = "-ERR value is not an integer or out of range\r\n";
    const NOT_FLOAT: &str = "-ERR value is not a valid float\r\n";

    #[test]
    fn set_and_get() {
        let mut k = Kit::new();
        assert_eq!(k.cmd("get a"), NIL);
        assert_eq!(k.cmd("set a 1"), OK);
        assert_eq!(k.cmd("get a"), "$1\r\n1\r\n");
        assert_eq!(k.cmd("set a hello"), OK);
        assert_eq!(k.cmd("get a"), "$5\r\nhello\r\n");
        assert_eq!(k.call(&[b"set", b"bin", b"a\0b\r\n"]), OK);
        assert_eq!(k.cmd("get bin"), "$5\r\na\0b\r\n\r\n");
        assert_eq!(k.call(&[b"set", b"e", b""]), OK);
        assert_eq!(k.cmd("get e"), "$0\r\n\r\n");
    }

    #[test]
    fn set_options() {
        let mut k = Kit::new();
        assert_eq!(k.cmd("set a 1 nx get"), NIL);
        assert_eq!(k.cmd("set a 2 nx get"), "$1\r\n1\r\n");
        assert_eq!(k.cmd("get a"), "$1\r\n1\r\n");
        assert_eq!(k.cmd("set b 2 xx get"), NIL);
        assert_eq!(k.cmd("exists b"), ":0\r\n");
        assert_eq!(k.cmd("set b 2 xx"), NIL);
        assert_eq!(k.cmd("set a 1 nx nx"), NIL);
        assert_eq!(k.cmd("set a 3 xx"), OK);
        assert_eq!(k.cmd("set a 4 GET get"), "$1\r\n3\r\n");
        assert_eq!(k.cmd("set a 5 get"), "$1\r\n4\r\n");
        assert_eq!(k.cmd("set n 1 NX"), OK);
        assert_eq!(k.cmd("set a 1 ex 1 ex 2"), OK);
        assert_eq!(k.cmd("ttl a"), ":2\r\n");
    }

    #[test]
    fn set_option_conflicts() {
        let mut k = Kit::new();
        for bad in [
            "set a 1 nx xx",
            "set a 1 xx nx",
            "set a 1 ex 1 px 1",
            "set a 1 keepttl ex 1",
            "set a 1 ex 1 keepttl",
            "set a 1 px 100 keepttl",
            "set a 1 exat 1 pxat 1",
            "set a 1 ex",
            "set a 1 foo",
            "set a 1 persist",
            "set a 1 ex abc foo",
        ] {
            assert_eq!(k.cmd(bad), SYNTAX, "{bad}");
        }
        assert_eq!(k.cmd("set a 1 ex abc"), NOT_INT);
    }

    #[test]
    fn set_invalid_expire() {
        let mut k = Kit::new();
        let invalid = "-ERR invalid expire time in 'set' command\r\n";
        for bad in [
            "set a 1 ex 0",
            "set a 1 ex -1",
            "set a 1 px 0",
            "set a 1 ex 9999999999999999",
            "set a 1 px 9223372036854775807",
            "set a 1 exat 0",
            "set a 1 exat 9223372036854776",
        ] {
            assert_eq!(k.cmd(bad), invalid, "{bad}");
        }
        assert_eq!(k.cmd("set a 1 exat 9223372036854775"), OK);
        // An absolute time in the past stores the key already expired.
        assert_eq!(k.cmd("set a 1 pxat 1"), OK);
        assert_eq!(k.cmd("exists a"), ":0\r\n");
        // The expiry is validated before GET looks at the old value.
        assert_eq!(k.cmd("set s v"), OK);
        assert_eq!(k.cmd("set s 1 get ex 0"), invalid);
    }

    #[test]
    fn set_ttl_handling() {
        let mut k = Kit::new();
        assert_eq!(k.cmd("set k v ex 100"), OK);
        assert_eq!(k.cmd("set k v2 keepttl"), OK);
        assert_eq!(k.cmd("ttl k"), ":100\r\n");
        assert_eq!(k.cmd("set k v3"), OK);
        assert_eq!(k.cmd("ttl k"), ":-1\r\n");
        assert_eq!(k.cmd("set k v px 1500"), OK);
        k.assert_pttl("k", 1500);
        let at = (k.now_ms() / 1000 + 50).to_string();
        assert_eq!(k.cmd(&format!("set k v exat {at}")), OK);
        assert_eq!(k.cmd("expiretime k"), format!(":{at}\r\n"));
        k.clock_offset_ms = 60_000;
        assert_eq!(k.cmd("get k"), NIL);
    }

    #[test]
    fn setnx_setex_psetex() {
        let mut k = Kit::new();
        assert_eq!(k.cmd("setnx k x"), ":1\r\n");
        assert_eq!(k.cmd("setnx k y"), ":0\r\n");
        assert_eq!(k.cmd("get k"), "$1\r\nx\r\n");
        assert_eq!(k.cmd("setex k3 abc v"), NOT_INT);
        assert_eq!(
            k.cmd("setex k3 -1 v"),
            "-ERR invalid expire time in 'setex' command\r\n"
        );
        assert_eq!(
            k.cmd("setex k4 9223372036854775 v"),
            "-ERR invalid expire time in 'setex' command\r\n"
        );
        assert_eq!(k.cmd("setex k3 100 v"), OK);
        assert_eq!(k.cmd("ttl k3"), ":100\r\n");
        assert_eq!(
            k.cmd("psetex k4 0 v"),
            "-ERR invalid expire time in 'psetex' command\r\n"
        );
        assert_eq!(
            k.cmd("psetex k4 9223372036854775807 v"),
            "-ERR invalid expire time in 'psetex' command\r\n"
        );
        assert_eq!(k.cmd("psetex k4 1500 v"), OK);
        k.assert_pttl("k4", 1500);
        assert_eq!(k.cmd("setex k 10 12"), OK);
        assert_eq!(k.cmd("object encoding k"), "$3\r\nint\r\n");
    }

    #[test]
    fn getex() {
        let mut k = Kit::new();
        assert_eq!(k.cmd("set a 1"), OK);
        assert_eq!(k.cmd("getex a persist persist"), "$1\r\n1\r\n");
        assert_eq!(k.cmd("getex a ex 10 persist"), SYNTAX);
        assert_eq!(k.cmd("getex a persist ex 10"), SYNTAX);
        assert_eq!(k.cmd("getex missing foo"), SYNTAX);
        assert_eq!(k.cmd("getex a nx"), SYNTAX);
        assert_eq!(k.cmd("getex a get"), SYNTAX);
        assert_eq!(k.cmd("getex a keepttl"), SYNTAX);
        assert_eq!(k.cmd("getex a ex"), SYNTAX);
        // A missing key answers null before the expiry is even looked at.
        assert_eq!(k.cmd("getex missing ex -5"), NIL);
        assert_eq!(k.cmd("getex a ex abc"), NOT_INT);
        assert_eq!(
            k.cmd("getex a ex 0"),
            "-ERR invalid expire time in 'getex' command\r\n"
        );
        assert_eq!(k.cmd("getex a px 5000"), "$1\r\n1\r\n");
        k.assert_pttl("a", 5000);
        assert_eq!(k.cmd("getex a"), "$1\r\n1\r\n");
        k.assert_pttl("a", 5000);
        assert_eq!(k.cmd("getex a persist"), "$1\r\n1\r\n");
        assert_eq!(k.cmd("ttl a"), ":-1\r\n");
        // A past absolute time deletes the key after replying with its value.
        assert_eq!(k.cmd("getex a exat 1"), "$1\r\n1\r\n");
        assert_eq!(k.cmd("exists a"), ":0\r\n");
        assert_eq!(k.cmd("set b 2"), OK);
        assert_eq!(k.cmd("getex b pxat 1"), "$1\r\n2\r\n");
        assert_eq!(k.cmd("exists b"), ":0\r\n");
    }

    #[test]
    fn getdel_getset() {
        let mut k = Kit::new();
        assert_eq!(k.cmd("getdel k"), NIL);
        assert_eq!(k.cmd("set k v ex 100"), OK);
        assert_eq!(k.cmd("getset k v4"), "$1\r\nv\r\n");
        assert_eq!(k.cmd("ttl k"), ":-1\r\n");
        assert_eq!(k.cmd("getset n 1"), NIL);
        assert_eq!(k.cmd("get n"), "$1\r\n1\r\n");
        assert_eq!(k.cmd("getdel k"), "$2\r\nv4\r\n");
        assert_eq!(k.cmd("getdel k"), NIL);
    }

    #[test]
    fn mget_mset_msetnx() {
        let mut k = Kit::new();
        assert_eq!(k.cmd("mset a 1 b 2 c 3"), OK);
        assert_eq!(
            k.cmd("mget a nokey c"),
            "*3\r\n$1\r\n1\r\n$-1\r\n$1\r\n3\r\n"
        );
        assert_eq!(
            k.cmd("mset a 1 b"),
            "-ERR wrong number of arguments for 'mset' command\r\n"
        );
        assert_eq!(
            k.cmd("msetnx a 1 b"),
            "-ERR wrong number of arguments for 'msetnx' command\r\n"
        );
        assert_eq!(k.cmd("msetnx a 1 z 2"), ":0\r\n");
        assert_eq!(k.cmd("exists z"), ":0\r\n");
        assert_eq!(k.cmd("msetnx y 1 z 2"), ":1\r\n");
        assert_eq!(k.cmd("mget y z"), "*2\r\n$1\r\n1\r\n$1\r\n2\r\n");
        assert_eq!(k.cmd("set t v ex 100"), OK);
        assert_eq!(k.cmd("mset t 1 t 2"), OK);
        assert_eq!(k.cmd("get t"), "$1\r\n2\r\n");
        assert_eq!(k.cmd("ttl t"), ":-1\r\n");
    }

    #[test]
    fn append_and_strlen() {
        let mut k = Kit::new();
        assert_eq!(k.cmd("append k6 hello"), ":5\r\n");
        assert_eq!(k.call(&[b"append", b"k6", b" world"]), ":11\r\n");
        assert_eq!(k.cmd("get k6"), "$11\r\nhello world\r\n");
        assert_eq!(k.cmd("strlen k6"), ":11\r\n");
        assert_eq!(k.cmd("object encoding k6"), "$3\r\nraw\r\n");
        assert_eq!(k.cmd("strlen nokey"), ":0\r\n");
        assert_eq!(k.cmd("set k7 1"), OK);
        assert_eq!(k.cmd("append k7 2"), ":2\r\n");
        assert_eq!(k.cmd("get k7"), "$2\r\n12\r\n");
        assert_eq!(k.cmd("object encoding k7"), "$3\r\nraw\r\n");
        assert_eq!(k.cmd("incr k7"), ":13\r\n");
        assert_eq!(k.cmd("object encoding k7"), "$3\r\nint\r\n");
        // A new key is encoded like SET; appending even nothing makes it raw.
        assert_eq!(k.cmd("append new 12"), ":2\r\n");
        assert_eq!(k.cmd("object encoding new"), "$3\r\nint\r\n");
        assert_eq!(k.cmd("append new ''"), ":2\r\n");
        assert_eq!(k.cmd("object encoding new"), "$3\r\nraw\r\n");
        assert_eq!(k.cmd("set big 9223372036854775807"), OK);
        assert_eq!(k.cmd("strlen big"), ":19\r\n");
        k.inst.config.write().proto_max_bulk_len = 12;
        assert_eq!(
            k.cmd("append k6 xx"),
            "-ERR string exceeds maximum allowed size (proto-max-bulk-len)\r\n"
        );
        assert_eq!(k.cmd("append k6 x"), ":12\r\n");
    }

    #[test]
    fn encodings_like_redis() {
        let mut k = Kit::new();
        let long = "a".repeat(45);
        assert_eq!(k.cmd(&format!("set k8 {long}")), OK);
        assert_eq!(k.cmd("object encoding k8"), "$3\r\nraw\r\n");
        assert_eq!(k.cmd(&format!("set k8 {}", &long[..44])), OK);
        assert_eq!(k.cmd("object encoding k8"), "$6\r\nembstr\r\n");
        for v in ["-0", "007", "12345678901234567890", "+1", " 1"] {
            assert_eq!(k.call(&[b"set", b"k9", v.as_bytes()]), OK);
            assert_eq!(k.cmd("object encoding k9"), "$6\r\nembstr\r\n", "{v}");
        }
        assert_eq!(k.cmd("set k9 -9223372036854775808"), OK);
        assert_eq!(k.cmd("object encoding k9"), "$3\r\nint\r\n");
    }

    #[test]
    fn getrange_and_substr() {
        let mut k = Kit::new();
        assert_eq!(k.cmd("set a ohmytext"), OK);
        assert_eq!(k.cmd("getrange a 0 -1"), "$8\r\nohmytext\r\n");
        assert_eq!(k.cmd("getrange a -3 -1"), "$3\r\next\r\n");
        assert_eq!(k.cmd("getrange a -1 -3"), "$0\r\n\r\n");
        assert_eq!(k.cmd("getrange a 5 2"), "$0\r\n\r\n");
        assert_eq!(k.cmd("getrange a 0 100"), "$8\r\nohmytext\r\n");
        assert_eq!(k.cmd("getrange a -100 2"), "$3\r\nohm\r\n");
        assert_eq!(k.cmd("getrange a 100 200"), "$0\r\n\r\n");
        assert_eq!(
            k.cmd("getrange a -9223372036854775808 9223372036854775807"),
            "$8\r\nohmytext\r\n"
        );
        assert_eq!(k.cmd("getrange nokey 0 1"), "$0\r\n\r\n");
        assert_eq!(k.cmd("getrange a x 1"), NOT_INT);
        assert_eq!(k.cmd("getrange nokey 1 x"), NOT_INT);
        assert_eq!(k.cmd("substr a 1 2"), "$2\r\nhm\r\n");
        assert_eq!(k.cmd("set c 12345"), OK);
        assert_eq!(k.cmd("getrange c 1 2"), "$2\r\n23\r\n");
        assert_eq!(k.call(&[b"set", b"e", b""]), OK);
        assert_eq!(k.cmd("getrange e 0 -1"), "$0\r\n\r\n");
    }

    #[test]
    fn setrange() {
        let mut k = Kit::new();
        assert_eq!(k.cmd("setrange nokey 5 ''"), ":0\r\n");
        assert_eq!(k.cmd("exists nokey"), ":0\r\n");
        assert_eq!(k.cmd("setrange nk2 3 ab"), ":5\r\n");
        assert_eq!(k.cmd("get nk2"), "$5\r\n\0\0\0ab\r\n");
        assert_eq!(k.cmd("object encoding nk2"), "$3\r\nraw\r\n");
        assert_eq!(k.cmd("set a ohmytext"), OK);
        assert_eq!(k.cmd("setrange a -1 x"), "-ERR offset is out of range\r\n");
        assert_eq!(k.cmd("setrange a abc x"), NOT_INT);
        assert_eq!(k.cmd("setrange a 2 ''"), ":8\r\n");
        let too_long = "-ERR string exceeds maximum allowed size (proto-max-bulk-len)\r\n";
        assert_eq!(k.cmd("setrange a 9223372036854775807 x"), too_long);
        assert_eq!(k.cmd("setrange a 536870912 x"), too_long);
        assert_eq!(k.cmd("setrange nokey 536870912 x"), too_long);
        assert_eq!(k.cmd("setrange a 536870911 ''"), ":8\r\n");
        assert_eq!(k.cmd("setrange a 2 MY"), ":8\r\n");
        assert_eq!(k.cmd("get a"), "$8\r\nohMYtext\r\n");
        assert_eq!(k.cmd("setrange a 6 XYZ"), ":9\r\n");
        assert_eq!(k.cmd("get a"), "$9\r\nohMYteXYZ\r\n");
        assert_eq!(k.cmd("set c 12345"), OK);
        assert_eq!(k.cmd("setrange c 0 9"), ":5\r\n");
        assert_eq!(k.cmd("get c"), "$5\r\n92345\r\n");
        assert_eq!(k.cmd("object encoding c"), "$3\r\nraw\r\n");
    }

    #[test]
    fn counters() {
        let mut k = Kit::new();
        assert_eq!(k.cmd("incr x"), ":1\r\n");
        assert_eq!(
            k.cmd("incrby x 9223372036854775806"),
            ":9223372036854775807\r\n"
        );
        assert_eq!(
            k.cmd("incr x"),
            "-ERR increment or decrement would overflow\r\n"
        );
        assert_eq!(
            k.cmd("decrby y -9223372036854775808"),
            "-ERR decrement would overflow\r\n"
        );
        assert_eq!(
            k.cmd("decrby y 9223372036854775807"),
            ":-9223372036854775807\r\n"
        );
        assert_eq!(k.cmd("decrby y 1"), ":-9223372036854775808\r\n");
        assert_eq!(
            k.cmd("decrby y 1"),
            "-ERR increment or decrement would overflow\r\n"
        );
        assert_eq!(
            k.cmd("decr y"),
            "-ERR increment or decrement would overflow\r\n"
        );
        assert_eq!(k.cmd("incrby y abc"), NOT_INT);
        assert_eq!(k.cmd("incrby y 01"), NOT_INT);
        assert_eq!(k.cmd("set s abc"), OK);
        assert_eq!(k.cmd("incr s"), NOT_INT);
        assert_eq!(k.cmd("incrby s abc"), NOT_INT);
        assert_eq!(k.call(&[b"set", b"s2", b" 1"]), OK);
        assert_eq!(k.cmd("incr s2"), NOT_INT);
        assert_eq!(k.cmd("set big 12345678901234567890"), OK);
        assert_eq!(k.cmd("incr big"), NOT_INT);
        assert_eq!(k.cmd("decr d"), ":-1\r\n");
        assert_eq!(k.cmd("decrby d 10"), ":-11\r\n");
        assert_eq!(k.cmd("incrby d 20"), ":9\r\n");
        assert_eq!(k.cmd("object encoding d"), "$3\r\nint\r\n");
        // Counters keep the key's TTL.
        assert_eq!(k.cmd("set k 5 ex 100"), OK);
        assert_eq!(k.cmd("incr k"), ":6\r\n");
        assert_eq!(k.cmd("ttl k"), ":100\r\n");
    }

    #[test]
    fn incrbyfloat() {
        let mut k = Kit::new();
        assert_eq!(k.cmd("incrbyfloat f 3"), "$1\r\n3\r\n");
        assert_eq!(k.cmd("object encoding f"), "$6\r\nembstr\r\n");
        assert_eq!(k.cmd("object refcount f"), ":1\r\n");
        assert_eq!(k.cmd("incrbyfloat f 0.1"), "$3\r\n3.1\r\n");
        assert_eq!(k.cmd("incrbyfloat f 0.2"), "$3\r\n3.3\r\n");
        assert_eq!(k.cmd("incrbyfloat g 10.5"), "$4\r\n10.5\r\n");
        assert_eq!(k.cmd("incrbyfloat g 0.1"), "$4\r\n10.6\r\n");
        assert_eq!(
            k.cmd("incrbyfloat h 1e20"),
            "$21\r\n100000000000000000000\r\n"
        );
        assert_eq!(k.cmd("incrbyfloat i 0x10"), "$2\r\n16\r\n");
        assert_eq!(k.cmd("incrbyfloat i 1.5e-10"), "$14\r\n16.00000000015\r\n");
        assert_eq!(k.call(&[b"incrbyfloat", b"i", b" 1"]), NOT_FLOAT);
        assert_eq!(
            k.cmd("incrbyfloat i inf"),
            "-ERR increment would produce NaN or Infinity\r\n"
        );
        assert_eq!(k.cmd("incrbyfloat i nan"), NOT_FLOAT);
        assert_eq!(k.cmd("incrbyfloat i 1e5000"), NOT_FLOAT);
        assert_eq!(k.cmd("incrbyfloat j -0.0"), "$1\r\n0\r\n");
        assert_eq!(k.cmd("incrbyfloat k2 5e-18"), "$1\r\n0\r\n");
        assert_eq!(k.cmd("incrbyfloat k10 abc"), NOT_FLOAT);
        assert_eq!(k.cmd("exists k10"), ":0\r\n");
        assert_eq!(
            k.cmd("incrbyfloat k10 inf"),
            "-ERR increment would produce NaN or Infinity\r\n"
        );
        assert_eq!(k.cmd("exists k10"), ":0\r\n");
        assert_eq!(k.cmd("set n15 abc"), OK);
        assert_eq!(k.cmd("incrbyfloat n15 1"), NOT_FLOAT);
        assert_eq!(k.cmd("set n16 1.5"), OK);
        assert_eq!(k.cmd("incrbyfloat n16 abc"), NOT_FLOAT);
        assert_eq!(k.cmd("incrbyfloat n18 -1.5"), "$4\r\n-1.5\r\n");
        assert_eq!(k.cmd("incrbyfloat n18 1.5"), "$1\r\n0\r\n");
        assert!(k
            .cmd("incrbyfloat n11 1.1e4932")
            .starts_with("$4933\r\n1099999999999999999974373107528241817659"));
        assert_eq!(
            k.cmd("incrbyfloat n11 1.1e4932"),
            "-ERR increment would produce NaN or Infinity\r\n"
        );
        // The TTL is kept.
        assert_eq!(k.cmd("set t 5 ex 100"), OK);
        assert_eq!(k.cmd("incrbyfloat t 1.5"), "$3\r\n6.5\r\n");
        assert_eq!(k.cmd("ttl t"), ":100\r\n");
    }

    #[test]
    fn lcs() {
        let mut k = Kit::new();
        assert_eq!(k.cmd("set a ohmytext"), OK);
        assert_eq!(k.cmd("set b mynewtext"), OK);
        assert_eq!(k.cmd("lcs a b"), "$6\r\nmytext\r\n");
        assert_eq!(k.cmd("lcs a b len"), ":6\r\n");
        assert_eq!(
            k.cmd("lcs a b idx"),
            "*4\r\n$7\r\nmatches\r\n*2\r\n*2\r\n*2\r\n:4\r\n:7\r\n*2\r\n:5\r\n:8\r\n\
             *2\r\n*2\r\n:2\r\n:3\r\n*2\r\n:0\r\n:1\r\n$3\r\nlen\r\n:6\r\n"
        );
        assert_eq!(
            k.cmd("lcs a b idx minmatchlen 4 withmatchlen"),
            "*4\r\n$7\r\nmatches\r\n*1\r\n*3\r\n*2\r\n:4\r\n:7\r\n*2\r\n:5\r\n:8\r\n:4\r\n\
             $3\r\nlen\r\n:6\r\n"
        );
        assert_eq!(
            k.cmd("lcs a b idx withmatchlen"),
            "*4\r\n$7\r\nmatches\r\n*2\r\n*3\r\n*2\r\n:4\r\n:7\r\n*2\r\n:5\r\n:8\r\n:4\r\n\
             *3\r\n*2\r\n:2\r\n:3\r\n*2\r\n:0\r\n:1\r\n:2\r\n$3\r\nlen\r\n:6\r\n"
        );
        assert_eq!(k.cmd("lcs a b minmatchlen -5 idx"), k.cmd("lcs a b idx"));
        let both = "-ERR If you want both the length and indexes, please just use IDX.\r\n";
        assert_eq!(k.cmd("lcs a b idx len"), both);
        assert_eq!(k.cmd("lcs a b len idx"), both);
        assert_eq!(k.cmd("lcs a b idx len foo"), SYNTAX);
        assert_eq!(k.cmd("lcs a b foo"), SYNTAX);
        assert_eq!(k.cmd("lcs a b minmatchlen"), SYNTAX);
        assert_eq!(k.cmd("lcs a b minmatchlen abc"), NOT_INT);
        assert_eq!(k.cmd("lcs a nokey"), "$0\r\n\r\n");
        assert_eq!(
            k.cmd("lcs nokey nokey2 idx"),
            "*4\r\n$7\r\nmatches\r\n*0\r\n$3\r\nlen\r\n:0\r\n"
        );
        assert_eq!(k.cmd("lcs a b withmatchlen"), "$6\r\nmytext\r\n");
        assert_eq!(k.cmd("lcs a b len withmatchlen"), ":6\r\n");
        assert_eq!(k.cmd("set c 12345"), OK);
        assert_eq!(k.cmd("set d 2468"), OK);
        assert_eq!(
            k.cmd("lcs c d idx"),
            "*4\r\n$7\r\nmatches\r\n*2\r\n*2\r\n*2\r\n:3\r\n:3\r\n*2\r\n:1\r\n:1\r\n\
             *2\r\n*2\r\n:1\r\n:1\r\n*2\r\n:0\r\n:0\r\n$3\r\nlen\r\n:2\r\n"
        );
        assert_eq!(k.cmd("lcs c d"), "$2\r\n24\r\n");
    }

    #[test]
    fn lcs_memory_limit() {
        let mut k = Kit::new();
        k.inst.config.write().proto_max_bulk_len = 1 << 20;
        assert_eq!(k.cmd(&format!("set x511 {}", "a".repeat(511))), OK);
        assert_eq!(k.cmd(&format!("set x512 {}", "a".repeat(512))), OK);
        let too_big =
            "-ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len\r\n";
        assert_eq!(k.cmd("lcs x511 x511 len"), ":511\r\n");
        assert_eq!(k.cmd("lcs x512 x511 len"), too_big);
        assert_eq!(k.cmd("lcs x512 x512 len"), too_big);
        assert_eq!(k.cmd("lcs x512 nokey len"), ":0\r\n");
        assert_eq!(k.cmd("lcs x512 x512 foo"), SYNTAX);
    }

    #[test]
    fn resp3_null() {
        let mut k = Kit::new();
        k.out.set_protocol(resp::Protocol::Resp3);
        assert_eq!(k.cmd("get nokey"), "_\r\n");
        assert_eq!(k.cmd("set a 1 xx"), "_\r\n");
        assert_eq!(k.cmd("set a x"), OK);
        assert_eq!(
            k.cmd("lcs a a idx"),
            "%2\r\n$7\r\nmatches\r\n*1\r\n*2\r\n*2\r\n:0\r\n:0\r\n*2\r\n:0\r\n:0\r\n$3\r\nlen\r\n:1\r\n"
        );
    }

    #[test]
    fn no_touch_and_access_time() {
        let mut k = Kit::new();
        assert_eq!(k.cmd("set a 1"), OK);
        k.clock_offset_ms = 10_000;
        assert_eq!(k.cmd("object idletime a"), ":10\r\n");
        k.client.no_touch = true;
        assert_eq!(k.cmd("get a"), "$1\r\n1\r\n");
        assert_eq!(k.cmd("object idletime a"), ":10\r\n");
        k.client.no_touch = false;
        assert_eq!(k.cmd("get a"), "$1\r\n1\r\n");
        assert_eq!(k.cmd("object idletime a"), ":0\r\n");
    }
}
