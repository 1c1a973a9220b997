//! The generic key family: deletion, existence, enumeration (KEYS, SCAN, RANDOMKEY),
//! renaming and copying between logical databases, OBJECT introspection, expiry, and
//! whole-database operations (DBSIZE, FLUSHDB, FLUSHALL, SWAPDB).

use engine::{Access, Entry, Str, Value};
use resp::ReplyWriter;

use super::util::{
    eq_ic, glob_match, new_entry, parse_cursor, parse_i32, parse_i64, touches, ExpireFlags,
};
use crate::ctx::Ctx;
use crate::errors;
use crate::pubsub::class;
use crate::spec::Handler;

/// (spec name, handler) for every command this family serves.
pub fn handlers() -> Vec<(&'static str, Handler)> {
    vec![
        ("del", del),
        ("unlink", unlink),
        ("exists", exists),
        ("type", type_cmd),
        ("touch", touch),
        ("keys", keys),
        ("scan", scan),
        ("randomkey", randomkey),
        ("rename", rename),
        ("renamenx", renamenx),
        ("copy", copy),
        ("move", move_cmd),
        ("swapdb", swapdb),
        ("object|encoding", object_encoding),
        ("object|refcount", object_refcount),
        ("object|idletime", object_idletime),
        ("object|freq", object_freq),
        ("object|help", object_help),
        ("expire", expire),
        ("pexpire", pexpire),
        ("expireat", expireat),
        ("pexpireat", pexpireat),
        ("ttl", ttl),
        ("pttl", pttl),
        ("expiretime", expiretime),
        ("pexpiretime", pexpiretime),
        ("persist", persist),
        ("dbsize", dbsize),
        ("flushdb", flushdb),
        ("flushall", flushall),
    ]
}

/// Frees `garbage` on a background thread: dropping millions of entries takes long
/// enough that the reply (and every shard lock) should not wait for it.
fn free_in_background<T: Send + 'static>(garbage: T) {
    // If no thread can be started, the closure (and the garbage) is dropped right here.
    let _ = std::thread::Builder::new()
        .name("lazyfree".into())
        .spawn(move || drop(garbage));
}

// ---------------------------------------------------------------------------------------
// Deletion and existence
// ---------------------------------------------------------------------------------------

/// DEL key [key ...]
fn del(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]]) {
    let (db, now) = (ctx.db(), ctx.now_ms);
    let mut n = 0;
    for &k in &argv[1..] {
        if ctx.ks.remove(db, k, now).is_some() {
            ctx.notify(class::GENERIC, "del", k);
            n += 1;
        }
    }
    ctx.out.int(n);
}

/// Values owning more than this many heap bytes in total are freed off-thread by UNLINK.
const LAZYFREE_BYTES: usize = 1 << 20;

/// UNLINK key [key ...]: DEL, with large values freed in the background.
fn unlink(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]]) {
    let (db, now) = (ctx.db(), ctx.now_ms);
    let mut gone: Vec<Entry> = Vec::new();
    for &k in &argv[1..] {
        if let Some(e) = ctx.ks.remove(db, k, now) {
            gone.push(e);
            ctx.notify(class::GENERIC, "del", k);
        }
    }
    ctx.out.int(gone.len() as i64);
    if gone.iter().map(Entry::memory_usage).sum::<usize>() > LAZYFREE_BYTES {
        free_in_background(gone);
    }
}

/// EXISTS key [key ...]: a key named twice counts twice.
fn exists(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]]) {
    let (db, now) = (ctx.db(), ctx.now_ms);
    let n = argv[1..]
        .iter()
        .filter(|k| ctx.ks.get(db, k, now).is_some())
        .count();
    ctx.out.int(n as i64);
}

/// TYPE key
fn type_cmd(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]]) {
    let (db, now) = (ctx.db(), ctx.now_ms);
    let name = ctx
        .ks
        .get(db, argv[1], now)
        .map_or("none", |e| e.value.type_name());
    ctx.out.simple(name);
}

/// TOUCH key [key ...]: updates the access time even for NO-TOUCH clients.
fn touch(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]]) {
    let (db, now) = (ctx.db(), ctx.now_ms);
    let mut n = 0;
    for &k in &argv[1..] {
        if let Some(mut e) = ctx.ks.get(db, k, now) {
            e.touch(&ctx.access);
            n += 1;
        }
    }
    ctx.out.int(n);
}

// ---------------------------------------------------------------------------------------
// Enumeration
// ---------------------------------------------------------------------------------------

/// KEYS pattern
fn keys(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]]) {
    let (db, now) = (ctx.db(), ctx.now_ms);
    let pattern = argv[1];
    let all = pattern == b"*";
    // The count is known only at the end: encode the keys aside, then the header.
    // Bulk strings encode the same in RESP2 and RESP3.
    let mut body = ReplyWriter::default();
    let mut n = 0usize;
    ctx.ks.for_each(db, now, |e| {
        if all || glob_match(pattern, &e.key, false) {
            body.bulk(&e.key);
            n += 1;
        }
    });
    ctx.out.array(n);
    ctx.out.raw(body.as_bytes());
}

/// SCAN cursor [MATCH pattern] [COUNT count] [TYPE type]
fn scan(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]]) {
    let Some(cursor) = parse_cursor(argv[1]) else {
        return ctx.error(errors::INVALID_CURSOR);
    };
    let mut count: i64 = 10;
    let mut pattern: Option<&[u8]> = None;
    let mut type_name: Option<&[u8]> = None;
    let mut i = 2;
    while i < argv.len() {
        let (opt, has_value) = (argv[i], argv.len() - i >= 2);
        if eq_ic(opt, b"count") && has_value {
            match parse_i64(argv[i + 1]) {
                None => return ctx.error(errors::NOT_INTEGER),
                Some(n) if n < 1 => return ctx.error(errors::SYNTAX),
                Some(n) => count = n,
            }
        } else if eq_ic(opt, b"match") && has_value {
            // "*" matches everything, the empty key included: skip matching.
            pattern = (argv[i + 1] != b"*").then_some(argv[i + 1]);
        } else if eq_ic(opt, b"type") && has_value {
            type_name = Some(argv[i + 1]);
        } else {
            return ctx.error(errors::SYNTAX);
        }
        i += 2;
    }
    let (db, now) = (ctx.db(), ctx.now_ms);
    // Bulk strings encode the same in RESP2 and RESP3.
    let mut body = ReplyWriter::default();
    let mut n = 0usize;
    let next = ctx.ks.scan(db, cursor, count as usize, now, |e| {
        if pattern.is_some_and(|p| !glob_match(p, &e.key, false)) {
            return;
        }
        if type_name.is_some_and(|t| !eq_ic(t, e.value.type_name().as_bytes())) {
            return;
        }
        body.bulk(&e.key);
        n += 1;
    });
    ctx.out.array(2);
    ctx.out.bulk(itoa::Buffer::new().format(next).as_bytes());
    ctx.out.array(n);
    ctx.out.raw(body.as_bytes());
}

/// RANDOMKEY
fn randomkey(ctx: &mut Ctx<'_, '_>, _argv: &[&[u8]]) {
    let (db, now) = (ctx.db(), ctx.now_ms);
    match ctx.ks.random_key(db, now, &mut rand::thread_rng()) {
        Some(k) => ctx.out.bulk(&k),
        None => ctx.out.null(),
    }
}

// ---------------------------------------------------------------------------------------
// Renaming, copying, moving
// ---------------------------------------------------------------------------------------

/// RENAME key newkey
fn rename(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]]) {
    rename_generic(ctx, argv, false);
}

/// RENAMENX key newkey
fn renamenx(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]]) {
    rename_generic(ctx, argv, true);
}

fn rename_generic(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]], nx: bool) {
    let (src, dst) = (argv[1], argv[2]);
    let (db, now, touch) = (ctx.db(), ctx.now_ms, touches(ctx));
    let found = match ctx.ks.get_for_write(db, src, now) {
        None => false,
        Some(mut e) => {
            if let Some(c) = &touch {
                e.touch(c);
            }
            true
        }
    };
    if !found {
        return ctx.error(errors::NO_SUCH_KEY);
    }
    // Renaming a key onto itself succeeds without doing anything (RENAMENX: 0).
    if src != dst && !(nx && ctx.ks.exists(db, dst, now)) {
        // Tags follow the key to its new name.
        let tags = take_tags(ctx, db, src);
        if let Some(mut e) = ctx.ks.remove(db, src, now) {
            e.key = dst.into();
            ctx.ks.insert(db, e, now);
            put_tags(ctx, db, dst, &tags);
            ctx.notify(class::GENERIC, "rename_from", src);
            ctx.notify(class::GENERIC, "rename_to", dst);
            return if nx { ctx.out.int(1) } else { ctx.out.ok() };
        }
    }
    if nx {
        ctx.out.int(0)
    } else {
        ctx.out.ok()
    }
}

/// Detaches the tags of a live key (a MiniRedis extension) to re-attach them elsewhere
/// with [`put_tags`]: RENAME and MOVE carry them along.
fn take_tags(ctx: &mut Ctx<'_, '_>, db: usize, key: &[u8]) -> Vec<engine::tags::Name> {
    ctx.ks
        .get_for_write(db, key, ctx.now_ms)
        .map(|mut e| e.take_tags())
        .unwrap_or_default()
}

/// Attaches `tags` to a live key.
fn put_tags(ctx: &mut Ctx<'_, '_>, db: usize, key: &[u8], tags: &[engine::tags::Name]) {
    if tags.is_empty() {
        return;
    }
    if let Some(mut e) = ctx.ks.get_for_write(db, key, ctx.now_ms) {
        e.add_tags(tags);
    }
}

/// Parses a database index argument (COPY's DB, MOVE) and checks it exists.
fn db_index(ctx: &Ctx<'_, '_>, arg: &[u8]) -> Result<usize, &'static str> {
    let id = parse_i32(arg)?;
    if id < 0 || id as usize >= ctx.ks.keyspace().databases() {
        return Err(errors::DB_INDEX_OUT_OF_RANGE);
    }
    Ok(id as usize)
}

/// COPY source destination [DB destination-db] [REPLACE]
fn copy(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]]) {
    let (src, dst) = (argv[1], argv[2]);
    let (db, now, touch) = (ctx.db(), ctx.now_ms, touches(ctx));
    let mut dst_db = db;
    let mut replace = false;
    let mut i = 3;
    while i < argv.len() {
        if eq_ic(argv[i], b"replace") {
            replace = true;
        } else if eq_ic(argv[i], b"db") && i + 1 < argv.len() {
            match db_index(ctx, argv[i + 1]) {
                Ok(id) => dst_db = id,
                Err(msg) => return ctx.error(msg),
            }
            i += 1;
        } else {
            return ctx.error(errors::SYNTAX);
        }
        i += 1;
    }
    if dst_db == db && src == dst {
        return ctx.error(errors::SAME_OBJECT);
    }
    match ctx.ks.get(db, src, now) {
        None => return ctx.out.int(0),
        Some(mut e) => {
            if let Some(c) = &touch {
                e.touch(c);
            }
        }
    }
    if !replace && ctx.ks.exists(dst_db, dst, now) {
        return ctx.out.int(0);
    }
    // Clone only once the copy is certain to happen.
    let Some((value, at, tags)) = ctx
        .ks
        .get_for_write(db, src, now)
        .map(|e| (e.value.clone(), e.expire_at(), e.tags().to_vec()))
    else {
        return ctx.out.int(0);
    };
    ctx.ks.insert(
        dst_db,
        new_entry(dst, value, &ctx.access).with_expire(at),
        now,
    );
    // The copy carries the source's tags, as it carries its TTL.
    put_tags(ctx, dst_db, dst, &tags);
    ctx.notify_db(class::GENERIC, "copy_to", dst, dst_db);
    ctx.out.int(1);
}

/// MOVE key db
fn move_cmd(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]]) {
    let key = argv[1];
    let dst_db = match db_index(ctx, argv[2]) {
        Ok(id) => id,
        Err(msg) => return ctx.error(msg),
    };
    let (db, now, touch) = (ctx.db(), ctx.now_ms, touches(ctx));
    if dst_db == db {
        return ctx.error(errors::SAME_OBJECT);
    }
    match ctx.ks.get_for_write(db, key, now) {
        None => return ctx.out.int(0),
        Some(mut e) => {
            if let Some(c) = &touch {
                e.touch(c);
            }
        }
    }
    if ctx.ks.exists(dst_db, key, now) {
        return ctx.out.int(0);
    }
    let tags = take_tags(ctx, db, key);
    match ctx.ks.remove(db, key, now) {
        Some(e) => {
            ctx.ks.insert(dst_db, e, now);
            put_tags(ctx, dst_db, key, &tags);
            ctx.notify(class::GENERIC, "move_from", key);
            ctx.notify_db(class::GENERIC, "move_to", key, dst_db);
            ctx.out.int(1);
        }
        None => ctx.out.int(0),
    }
}

/// SWAPDB index1 index2
fn swapdb(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]]) {
    let Ok(a) = parse_i32(argv[1]) else {
        return ctx.error(errors::INVALID_FIRST_DB);
    };
    let Ok(b) = parse_i32(argv[2]) else {
        return ctx.error(errors::INVALID_SECOND_DB);
    };
    let n = ctx.ks.keyspace().databases();
    if a < 0 || b < 0 || a as usize >= n || b as usize >= n {
        return ctx.error(errors::DB_INDEX_OUT_OF_RANGE);
    }
    if a != b {
        ctx.ks.swap_db(a as usize, b as usize);
    }
    ctx.out.ok();
}

// ---------------------------------------------------------------------------------------
// OBJECT
// ---------------------------------------------------------------------------------------

/// Redis's `OBJ_SHARED_REFCOUNT`: what OBJECT REFCOUNT reports for shared integers.
const SHARED_REFCOUNT: i64 = i32::MAX as i64;
/// Redis shares the integer objects 0..OBJ_SHARED_INTEGERS.
const SHARED_INTEGERS: i64 = 10_000;
fn lfu_policy(ctx: &Ctx<'_, '_>) -> bool {
    ctx.inst.limits.policy().is_lfu()
}

/// Looks a key up for OBJECT (counted, but not an access); writes null if missing.
/// Returns what `f` extracted from the entry.
fn object_lookup<T>(ctx: &mut Ctx<'_, '_>, key: &[u8], f: impl FnOnce(&Entry) -> T) -> Option<T> {
    let (db, now) = (ctx.db(), ctx.now_ms);
    let r = ctx.ks.get(db, key, now).map(|e| f(&e));
    if r.is_none() {
        ctx.out.null();
    }
    r
}

/// OBJECT ENCODING key
fn object_encoding(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]]) {
    if let Some(enc) = object_lookup(ctx, argv[2], |e| e.value.encoding()) {
        ctx.out.bulk_str(enc);
    }
}

/// OBJECT REFCOUNT key: small integers are shared objects in Redis (unless an LRU/LFU
/// maxmemory policy forbids sharing), everything else has one reference.
fn object_refcount(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]]) {
    let Some(small_int) = object_lookup(
        ctx,
        argv[2],
        |e| matches!(&e.value, Value::Str(Str::Int(n)) if (0..SHARED_INTEGERS).contains(n)),
    ) else {
        return;
    };
    let sharing = {
        let cfg = ctx.inst.config.read();
        let p = &cfg.maxmemory_policy;
        cfg.maxmemory == 0 || !(p.contains("lru") || p.contains("lfu"))
    };
    ctx.out.int(if small_int && sharing {
        SHARED_REFCOUNT
    } else {
        1
    });
}

/// OBJECT IDLETIME key: seconds since the last access (not tracked under LFU). Like
/// every OBJECT subcommand it is not an access itself.
fn object_idletime(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]]) {
    let clock = Access::lru(ctx.now_ms);
    let Some(idle) = object_lookup(ctx, argv[2], |e| clock.idle_secs(e.access)) else {
        return;
    };
    if lfu_policy(ctx) {
        return ctx.error(errors::LFU_SELECTED);
    }
    ctx.out.int(i64::from(idle));
}

/// OBJECT FREQ key: the key's LFU counter, decayed to now (tracked under LFU only).
fn object_freq(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]]) {
    let clock = ctx.access;
    let Some(freq) = object_lookup(ctx, argv[2], |e| clock.lfu_counter(e.access)) else {
        return;
    };
    if !lfu_policy(ctx) {
        return ctx.error(errors::LFU_NOT_SELECTED);
    }
    ctx.out.int(i64::from(freq));
}

/// OBJECT HELP
fn object_help(ctx: &mut Ctx<'_, '_>, _argv: &[&[u8]]) {
    const LINES: &[&str] = &[
        "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "ENCODING <key>",
        "    Return the kind of internal representation used in order to store the value",
        "    associated with a <key>.",
        "FREQ <key>",
        "    Return the access frequency index of the <key>. The returned integer is",
        "    proportional to the logarithm of the recent access frequency of the key.",
        "IDLETIME <key>",
        "    Return the idle time of the <key>, that is the approximated number of",
        "    seconds elapsed since the last access to the key.",
        "REFCOUNT <key>",
        "    Return the number of references of the value associated with the specified",
        "    <key>.",
        "HELP",
        "    Prints this help.",
    ];
    ctx.out.array(LINES.len());
    for l in LINES {
        ctx.out.simple(l);
    }
}

// ---------------------------------------------------------------------------------------
// Expiry
// ---------------------------------------------------------------------------------------

/// EXPIRE key seconds [NX|XX|GT|LT]
fn expire(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]]) {
    expire_generic(ctx, argv, true, true, errors::INVALID_EXPIRE_EXPIRE);
}

/// PEXPIRE key milliseconds [NX|XX|GT|LT]
fn pexpire(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]]) {
    expire_generic(ctx, argv, true, false, errors::INVALID_EXPIRE_PEXPIRE);
}

/// EXPIREAT key unix-time-seconds [NX|XX|GT|LT]
fn expireat(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]]) {
    expire_generic(ctx, argv, false, true, errors::INVALID_EXPIRE_EXPIREAT);
}

/// PEXPIREAT key unix-time-milliseconds [NX|XX|GT|LT]
fn pexpireat(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]]) {
    expire_generic(ctx, argv, false, false, errors::INVALID_EXPIRE_PEXPIREAT);
}

/// The EXPIRE family. Negative and past times are allowed: they delete the key (reply 1).
/// Only overflow of the unit conversion or of adding the current time is an error.
fn expire_generic(
    ctx: &mut Ctx<'_, '_>,
    argv: &[&[u8]],
    relative: bool,
    seconds: bool,
    invalid: &'static str,
) {
    let flags = match ExpireFlags::parse(&argv[3..]) {
        Ok(f) => f,
        Err(msg) => return ctx.error(&msg),
    };
    let Some(mut when) = parse_i64(argv[2]) else {
        return ctx.error(errors::NOT_INTEGER);
    };
    let (db, now, touch) = (ctx.db(), ctx.now_ms, touches(ctx));
    if seconds {
        match when.checked_mul(1000) {
            Some(ms) => when = ms,
            None => return ctx.error(invalid),
        }
    }
    if relative {
        match when.checked_add(now as i64) {
            Some(at) => when = at,
            None => return ctx.error(invalid),
        }
    }
    let key = argv[1];
    let past = when <= now as i64;
    let applied = match ctx.ks.get_for_write(db, key, now) {
        None => return ctx.out.int(0),
        Some(mut e) => {
            if let Some(c) = &touch {
                e.touch(c);
            }
            let current = match e.expire_at() {
                0 => None,
                at => Some(at as i64),
            };
            if !flags.allows(current, when) {
                return ctx.out.int(0);
            }
            if !past {
                e.set_expire(when as u64);
            }
            true
        }
    };
    if applied && past {
        ctx.ks.remove(db, key, now);
        ctx.notify(class::GENERIC, "del", key);
    } else if applied {
        ctx.notify(class::GENERIC, "expire", key);
    }
    ctx.out.int(1);
}

/// TTL key
fn ttl(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]]) {
    ttl_generic(ctx, argv, false, false);
}

/// PTTL key
fn pttl(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]]) {
    ttl_generic(ctx, argv, true, false);
}

/// EXPIRETIME key
fn expiretime(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]]) {
    ttl_generic(ctx, argv, false, true);
}

/// PEXPIRETIME key
fn pexpiretime(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]]) {
    ttl_generic(ctx, argv, true, true);
}

/// -2 for a missing key, -1 for a key without expiry, else the remaining time (or the
/// absolute expiry) in ms or rounded to the nearest second.
fn ttl_generic(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]], ms: bool, absolute: bool) {
    let (db, now) = (ctx.db(), ctx.now_ms);
    let at = match ctx.ks.get(db, argv[1], now) {
        None => return ctx.out.int(-2),
        Some(e) => e.expire_at(),
    };
    if at == 0 {
        return ctx.out.int(-1);
    }
    let t = if absolute {
        i128::from(at)
    } else {
        (i128::from(at) - i128::from(now)).max(0)
    };
    let v = if ms { t } else { (t + 500) / 1000 };
    ctx.out.int(v as i64);
}

/// PERSIST key
fn persist(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]]) {
    let (db, now, touch) = (ctx.db(), ctx.now_ms, touches(ctx));
    let removed = match ctx.ks.get_for_write(db, argv[1], now) {
        None => false,
        Some(mut e) => {
            if let Some(c) = &touch {
                e.touch(c);
            }
            let had = e.expire_at() != 0;
            if had {
                e.set_expire(0);
            }
            had
        }
    };
    if removed {
        ctx.notify(class::GENERIC, "persist", argv[1]);
    }
    ctx.out.int(i64::from(removed));
}

// ---------------------------------------------------------------------------------------
// Whole databases
// ---------------------------------------------------------------------------------------

/// DBSIZE
fn dbsize(ctx: &mut Ctx<'_, '_>, _argv: &[&[u8]]) {
    let n = ctx.ks.len(ctx.client.db);
    ctx.out.int(n as i64);
}

/// FLUSHDB/FLUSHALL's optional ASYNC|SYNC; without it, `lazyfree-lazy-user-flush`
/// decides. `None` on a syntax error.
fn flush_async(ctx: &Ctx<'_, '_>, argv: &[&[u8]]) -> Option<bool> {
    match argv {
        [_] => Some(ctx.inst.config.read().lazyfree_lazy_user_flush),
        [_, mode] if eq_ic(mode, b"sync") => Some(false),
        [_, mode] if eq_ic(mode, b"async") => Some(true),
        _ => None,
    }
}

/// FLUSHDB [ASYNC|SYNC]
fn flushdb(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]]) {
    let Some(lazy) = flush_async(ctx, argv) else {
        return ctx.error(errors::SYNTAX);
    };
    crate::tracking::flushed(ctx.inst, ctx.client.info.id, ctx.out);
    let tables = ctx.ks.flush(ctx.client.db);
    if lazy {
        free_in_background(tables);
    } else {
        drop(tables);
    }
    ctx.out.ok();
}

/// FLUSHALL [ASYNC|SYNC]
fn flushall(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]]) {
    let Some(lazy) = flush_async(ctx, argv) else {
        return ctx.error(errors::SYNTAX);
    };
    crate::tracking::flushed(ctx.inst, ctx.client.info.id, ctx.out);
    let mut tables = Vec::new();
    for db in 0..ctx.ks.keyspace().databases() {
        tables.extend(ctx.ks.flush(db));
    }
    if lazy {
        free_in_background(tables);
    } else {
        drop(tables);
    }
    ctx.out.ok();
}

/// Expected replies were observed from a Redis 7.0 server given the same commands.
#[cfg(test)]
mod tests {
    use super::super::util::testkit::Kit;

    const OK: &str = "+OK\r\n";
    const NIL: &str = "$-1\r\n";
    const SYNTAX: &str = "-ERR syntax error\r\n";
    const NOT_INT: &str = "-ERR value is not an integer or out of range\r\n";
    const DB_RANGE: &str = "-ERR DB index is out of range\r\n";
    const SAME: &str = "-ERR source and destination objects are the same\r\n";

    /// The elements of a flat array of bulk strings, sorted (hash order is not Redis's).
    fn sorted_bulks(reply: &str) -> Vec<String> {
        let mut lines = reply.split("\r\n");
        let n: usize = lines
            .next()
            .and_then(|h| h.strip_prefix('*'))
            .and_then(|n| n.parse().ok())
            .unwrap_or(usize::MAX);
        let mut v = Vec::new();
        while let Some(h) = lines.next() {
            if h.starts_with('$') {
                v.push(lines.next().unwrap_or_default().to_string());
            }
        }
        assert_eq!(v.len(), n, "{reply}");
        v.sort();
        v
    }

    #[test]
    fn del_exists_type_touch() {
        let mut k = Kit::new();
        assert_eq!(k.cmd("mset a 1 b 2 c 3"), OK);
        assert_eq!(k.cmd("del a a b nokey"), ":2\r\n");
        assert_eq!(k.cmd("exists c c c nokey"), ":3\r\n");
        assert_eq!(k.cmd("type c"), "+string\r\n");
        assert_eq!(k.cmd("type nokey"), "+none\r\n");
        assert_eq!(k.cmd("touch c nokey c"), ":2\r\n");
        assert_eq!(k.cmd("unlink c nokey"), ":1\r\n");
        assert_eq!(k.cmd("exists c"), ":0\r\n");
        assert_eq!(k.cmd("set big x"), OK);
        assert_eq!(
            k.cmd(&format!("setrange big {} x", 2 << 20)),
            ":2097153\r\n"
        );
        assert_eq!(k.cmd("unlink big"), ":1\r\n");
        assert_eq!(k.cmd("dbsize"), ":0\r\n");
        // Expired keys are gone for every command.
        assert_eq!(k.cmd("set e 1 px 100"), OK);
        k.clock_offset_ms = 1000;
        assert_eq!(k.cmd("exists e"), ":0\r\n");
        assert_eq!(k.cmd("del e"), ":0\r\n");
    }

    #[test]
    fn keys_and_glob() {
        let mut k = Kit::new();
        assert_eq!(
            k.cmd("mset a 1 b 1 ab 1 abc 1 ] 1 [ 1 a] 1 x*y 1 xy 1 A 1"),
            OK
        );
        assert_eq!(k.call(&[b"set", b"", b"1"]), OK);
        assert_eq!(sorted_bulks(&k.cmd("keys *")).len(), 11);
        // Only "*" itself matches the empty key.
        assert_eq!(sorted_bulks(&k.cmd("keys **")).len(), 10);
        assert_eq!(sorted_bulks(&k.cmd("keys a*")), ["a", "a]", "ab", "abc"]);
        assert_eq!(sorted_bulks(&k.cmd("keys *c")), ["abc"]);
        assert_eq!(sorted_bulks(&k.cmd("keys ??")), ["a]", "ab", "xy"]);
        assert_eq!(sorted_bulks(&k.cmd("keys x\\*y")), ["x*y"]);
        assert_eq!(sorted_bulks(&k.cmd("keys x*y")), ["x*y", "xy"]);
        assert_eq!(sorted_bulks(&k.cmd("keys [a-]")), ["]", "a"]);
        assert_eq!(sorted_bulks(&k.cmd("keys [")), Vec::<String>::new());
        assert_eq!(k.cmd("keys nomatch"), "*0\r\n");
        assert_eq!(k.cmd("set gone 1 px 1"), OK);
        k.clock_offset_ms = 1000;
        assert_eq!(k.cmd("keys gone"), "*0\r\n");
    }

    #[test]
    fn scan_arguments() {
        let mut k = Kit::new();
        let empty = "*2\r\n$1\r\n0\r\n*0\r\n";
        assert_eq!(k.cmd("scan 0"), empty);
        assert_eq!(k.cmd("scan -1"), empty);
        assert_eq!(k.cmd("scan ''"), empty);
        assert_eq!(k.cmd("scan +0"), empty);
        assert_eq!(k.cmd("scan 00"), empty);
        let invalid = "-ERR invalid cursor\r\n";
        assert_eq!(k.cmd("scan abc"), invalid);
        assert_eq!(k.call(&[b"scan", b" 1"]), invalid);
        assert_eq!(k.cmd("scan 18446744073709551616"), invalid);
        assert_eq!(k.cmd("scan 5abc"), invalid);
        assert_eq!(k.cmd("scan 0 count 0"), SYNTAX);
        assert_eq!(k.cmd("scan 0 count -1"), SYNTAX);
        assert_eq!(k.cmd("scan 0 count abc"), NOT_INT);
        assert_eq!(k.cmd("scan 0 count 9223372036854775808"), NOT_INT);
        assert_eq!(k.cmd("scan 0 match"), SYNTAX);
        assert_eq!(k.cmd("scan 0 foo bar"), SYNTAX);
        assert_eq!(k.cmd("scan abc foo"), invalid);
        assert_eq!(k.cmd("scan 0 type string"), empty);
        assert_eq!(
            k.cmd("scan 0 count 5 match * count 10 type string type foo"),
            empty
        );
    }

    #[test]
    fn scan_iterates_everything_once() {
        let mut k = Kit::new();
        for i in 0..500 {
            assert_eq!(k.cmd(&format!("set key:{i} {i}")), OK);
        }
        assert_eq!(k.cmd("set other 1"), OK);
        let mut cursor = "0".to_string();
        let mut seen = Vec::new();
        let mut calls = 0;
        loop {
            let r = k.cmd(&format!("scan {cursor} match key:* count 37 type STRING"));
            let mut parts = r.splitn(4, "\r\n");
            assert_eq!(parts.next(), Some("*2"));
            parts.next();
            cursor = parts.next().unwrap_or_default().to_string();
            seen.extend(sorted_bulks(parts.next().unwrap_or_default()));
            calls += 1;
            if cursor == "0" {
                break;
            }
            assert!(calls < 1000);
        }
        seen.sort();
        seen.dedup();
        assert_eq!(seen.len(), 500);
        assert!(calls > 2);
        let r = k.cmd("scan 0 count 1000 type list");
        assert!(r.ends_with("*0\r\n"), "{r}");
    }

    #[test]
    fn randomkey_and_dbsize() {
        let mut k = Kit::new();
        assert_eq!(k.cmd("randomkey"), NIL);
        assert_eq!(k.cmd("set only 1"), OK);
        assert_eq!(k.cmd("randomkey"), "$4\r\nonly\r\n");
        assert_eq!(k.cmd("mset a 1 b 2"), OK);
        assert_eq!(k.cmd("dbsize"), ":3\r\n");
    }

    #[test]
    fn rename_and_renamenx() {
        let mut k = Kit::new();
        let nokey = "-ERR no such key\r\n";
        assert_eq!(k.cmd("rename nokey x"), nokey);
        assert_eq!(k.cmd("rename nokey nokey"), nokey);
        assert_eq!(k.cmd("renamenx nokey x"), nokey);
        assert_eq!(k.cmd("set c 3"), OK);
        assert_eq!(k.cmd("rename c c"), OK);
        assert_eq!(k.cmd("renamenx c c"), ":0\r\n");
        assert_eq!(k.cmd("set d 4"), OK);
        assert_eq!(k.cmd("renamenx c d"), ":0\r\n");
        assert_eq!(k.cmd("rename c d"), OK);
        assert_eq!(k.cmd("get d"), "$1\r\n3\r\n");
        assert_eq!(k.cmd("exists c"), ":0\r\n");
        assert_eq!(k.cmd("expire d 100"), ":1\r\n");
        assert_eq!(k.cmd("renamenx d e"), ":1\r\n");
        assert_eq!(k.cmd("ttl e"), ":100\r\n");
        assert_eq!(k.cmd("dbsize"), ":1\r\n");
    }

    #[test]
    fn copy() {
        let mut k = Kit::new();
        assert_eq!(k.cmd("set d 1"), OK);
        assert_eq!(k.cmd("copy d d"), SAME);
        assert_eq!(k.cmd("copy d d db 0"), SAME);
        assert_eq!(k.cmd("copy d e db 1"), ":1\r\n");
        assert_eq!(k.cmd("copy d e db 1"), ":0\r\n");
        assert_eq!(k.cmd("copy d e db 1 replace"), ":1\r\n");
        assert_eq!(k.cmd("copy d e db 16"), DB_RANGE);
        assert_eq!(k.cmd("copy d e db -1"), DB_RANGE);
        assert_eq!(k.cmd("copy d e db abc"), NOT_INT);
        assert_eq!(
            k.cmd("copy d e db 4294967296"),
            "-ERR value is out of range, value must between -2147483648 and 2147483647\r\n"
        );
        assert_eq!(k.cmd("copy d e db"), SYNTAX);
        assert_eq!(k.cmd("copy d e foo"), SYNTAX);
        assert_eq!(k.cmd("copy d d db 1"), ":1\r\n");
        assert_eq!(k.cmd("copy nokey e"), ":0\r\n");
        assert_eq!(k.cmd("copy d e db 1 db 2"), ":1\r\n");
        assert_eq!(k.cmd("copy d e db 1 replace replace"), ":1\r\n");
        // The copy is independent and keeps the TTL.
        assert_eq!(k.cmd("set src hello ex 100"), OK);
        assert_eq!(k.cmd("copy src dst"), ":1\r\n");
        assert_eq!(k.cmd("append dst !"), ":6\r\n");
        assert_eq!(k.cmd("get src"), "$5\r\nhello\r\n");
        assert_eq!(k.cmd("ttl dst"), ":100\r\n");
        k.client.select(1);
        assert_eq!(k.cmd("get d"), "$1\r\n1\r\n");
        assert_eq!(k.cmd("get e"), "$1\r\n1\r\n");
    }

    #[test]
    fn move_and_swapdb() {
        let mut k = Kit::new();
        assert_eq!(k.cmd("set d 1"), OK);
        assert_eq!(k.cmd("move d 0"), SAME);
        assert_eq!(k.cmd("move d 16"), DB_RANGE);
        assert_eq!(k.cmd("move d abc"), NOT_INT);
        assert_eq!(
            k.cmd("move d 2147483648"),
            "-ERR value is out of range, value must between -2147483648 and 2147483647\r\n"
        );
        assert_eq!(k.cmd("copy d d db 1"), ":1\r\n");
        assert_eq!(k.cmd("move d 1"), ":0\r\n");
        assert_eq!(k.cmd("expire d 100"), ":1\r\n");
        assert_eq!(k.cmd("move d 2"), ":1\r\n");
        assert_eq!(k.cmd("move nokey 2"), ":0\r\n");
        assert_eq!(k.cmd("exists d"), ":0\r\n");
        assert_eq!(k.cmd("swapdb 0 16"), DB_RANGE);
        assert_eq!(k.cmd("swapdb -1 0"), DB_RANGE);
        assert_eq!(k.cmd("swapdb a 1"), "-ERR invalid first DB index\r\n");
        assert_eq!(k.cmd("swapdb 1 b"), "-ERR invalid second DB index\r\n");
        assert_eq!(
            k.cmd("swapdb 4294967296 0"),
            "-ERR invalid first DB index\r\n"
        );
        assert_eq!(
            k.cmd("swapdb 0 4294967296"),
            "-ERR invalid second DB index\r\n"
        );
        assert_eq!(k.cmd("swapdb 0 0"), OK);
        assert_eq!(k.cmd("swapdb 0 2"), OK);
        assert_eq!(k.cmd("get d"), "$1\r\n1\r\n");
        assert_eq!(k.cmd("ttl d"), ":100\r\n");
    }

    #[test]
    fn object() {
        let mut k = Kit::new();
        assert_eq!(k.cmd("object encoding nokey"), NIL);
        assert_eq!(k.cmd("object refcount nokey"), NIL);
        assert_eq!(k.cmd("object idletime nokey"), NIL);
        assert_eq!(k.cmd("object freq nokey"), NIL);
        assert_eq!(k.cmd("set n 100"), OK);
        assert_eq!(k.cmd("object refcount n"), ":2147483647\r\n");
        assert_eq!(k.cmd("object encoding n"), "$3\r\nint\r\n");
        assert_eq!(k.cmd("set n2 10000"), OK);
        assert_eq!(k.cmd("object refcount n2"), ":1\r\n");
        assert_eq!(k.cmd("incr n3"), ":1\r\n");
        assert_eq!(k.cmd("object refcount n3"), ":2147483647\r\n");
        assert_eq!(k.cmd("set n4 -1"), OK);
        assert_eq!(k.cmd("object refcount n4"), ":1\r\n");
        assert_eq!(k.cmd("set e abc"), OK);
        assert_eq!(k.cmd("object refcount e"), ":1\r\n");
        assert_eq!(k.cmd("object encoding e"), "$6\r\nembstr\r\n");
        // Seconds on the LRU clock: a second boundary may fall between the commands.
        assert!((0..=1).contains(&k.int("object idletime e")));
        assert_eq!(
            k.cmd("object freq e"),
            "-ERR An LFU maxmemory policy is not selected, access frequency not tracked. \
             Please note that when switching between policies at runtime LRU and LFU data \
             will take some time to adjust.\r\n"
        );
        k.inst
            .update_config(|c| c.maxmemory_policy = "allkeys-lfu".into());
        assert_eq!(
            k.cmd("object idletime e"),
            "-ERR An LFU maxmemory policy is selected, idle time not tracked. Please note \
             that when switching between policies at runtime LRU and LFU data will take \
             some time to adjust.\r\n"
        );
        assert_eq!(k.cmd("object idletime nokey"), NIL);
        assert!(k.cmd("object freq e").starts_with(':'));
        k.inst.update_config(|c| c.maxmemory = 1 << 30);
        assert_eq!(k.cmd("object refcount n"), ":1\r\n");
    }

    #[test]
    fn object_freq_counts_accesses_under_lfu() {
        let mut k = Kit::new();
        k.inst.update_config(|c| {
            c.maxmemory_policy = "allkeys-lfu".into();
            c.lfu_log_factor = 0;
        });
        assert_eq!(k.cmd("set f v"), OK);
        assert_eq!(
            k.int("object freq f"),
            5,
            "a new key starts at LFU_INIT_VAL"
        );
        // Factor 0: every access counts; OBJECT itself is not an access.
        for _ in 0..10 {
            k.cmd("get f");
        }
        assert_eq!(k.int("object freq f"), 15);
        k.client.no_touch = true;
        k.cmd("get f");
        assert_eq!(
            k.int("object freq f"),
            15,
            "NO-TOUCH reads leave the counter alone"
        );
        k.client.no_touch = false;
        assert_eq!(k.cmd("touch f"), ":1\r\n");
        assert_eq!(k.int("object freq f"), 16);
        // Two decay periods later the counter has lost two.
        k.clock_offset_ms = 2 * 60_000;
        assert_eq!(k.int("object freq f"), 14);
        // The default factor makes high counts rare.
        k.inst.update_config(|c| c.lfu_log_factor = 10);
        assert_eq!(k.cmd("set g v"), OK);
        for _ in 0..100 {
            k.cmd("get g");
        }
        let g = k.int("object freq g");
        assert!((7..16).contains(&g), "100 reads at factor 10: {g}");
    }

    #[test]
    fn object_help() {
        let mut k = Kit::new();
        let r = k.cmd("object help");
        assert!(r.starts_with(
            "*15\r\n+OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:\r\n\
             +ENCODING <key>\r\n"
        ));
        assert!(r.ends_with("+HELP\r\n+    Prints this help.\r\n"));
    }

    #[test]
    fn expire_options_and_errors() {
        let mut k = Kit::new();
        assert_eq!(k.cmd("set k v"), OK);
        let nx = "-ERR NX and XX, GT or LT options at the same time are not compatible\r\n";
        let gtlt = "-ERR GT and LT options at the same time are not compatible\r\n";
        assert_eq!(k.cmd("expire k 100 nx xx"), nx);
        assert_eq!(k.cmd("expire k 100 nx gt"), nx);
        assert_eq!(k.cmd("expire nokey 100 nx xx"), nx);
        assert_eq!(k.cmd("expire k 100 gt lt"), gtlt);
        assert_eq!(k.cmd("expire k 60 lt gt"), gtlt);
        assert_eq!(k.cmd("expire k 100 LT Gt"), gtlt);
        assert_eq!(k.cmd("expire k 100 foo"), "-ERR Unsupported option foo\r\n");
        assert_eq!(
            k.cmd("expire k 100 xx foo"),
            "-ERR Unsupported option foo\r\n"
        );
        assert_eq!(k.cmd("expire k abc foo"), "-ERR Unsupported option foo\r\n");
        assert_eq!(k.cmd("expire k abc"), NOT_INT);
        assert_eq!(k.cmd("expire nokey abc"), NOT_INT);
        assert_eq!(
            k.cmd("expire k 9223372036854775807"),
            "-ERR invalid expire time in 'expire' command\r\n"
        );
        assert_eq!(
            k.cmd("expire k 9223372036854775"),
            "-ERR invalid expire time in 'expire' command\r\n"
        );
        assert_eq!(
            k.cmd("expire nokey -9223372036854775808"),
            "-ERR invalid expire time in 'expire' command\r\n"
        );
        assert_eq!(
            k.cmd("pexpire k 9223372036854775807"),
            "-ERR invalid expire time in 'pexpire' command\r\n"
        );
        assert_eq!(
            k.cmd("expireat k 9223372036854776"),
            "-ERR invalid expire time in 'expireat' command\r\n"
        );
        assert_eq!(k.cmd("pexpire nokey -9223372036854775808"), ":0\r\n");
        assert_eq!(k.cmd("ttl k"), ":-1\r\n");
    }

    #[test]
    fn expire_conditions() {
        let mut k = Kit::new();
        assert_eq!(k.cmd("set k v"), OK);
        assert_eq!(k.cmd("expire k 100 xx"), ":0\r\n");
        assert_eq!(k.cmd("expire k 100 gt"), ":0\r\n");
        assert_eq!(k.cmd("expire k 100 lt"), ":1\r\n");
        assert_eq!(k.cmd("expire k 100 nx"), ":0\r\n");
        assert_eq!(k.cmd("expire k 100 NX Nx"), ":0\r\n");
        assert_eq!(k.cmd("expire k 50 xx lt"), ":1\r\n");
        assert_eq!(k.cmd("ttl k"), ":50\r\n");
        // Not greater (49 s, not 50: a millisecond may pass between the two commands,
        // and 50 s from then is greater than 50 s from before).
        assert_eq!(k.cmd("expire k 49 gt"), ":0\r\n");
        assert_eq!(k.cmd("expire k 60 gt"), ":1\r\n");
        assert_eq!(k.cmd("ttl k"), ":60\r\n");
        assert_eq!(k.cmd("pexpire k 60000 lt"), ":0\r\n");
        assert_eq!(k.cmd("expire nokey 100"), ":0\r\n");
        assert_eq!(k.cmd("set p v"), OK);
        assert_eq!(k.cmd("expire p 10 nx"), ":1\r\n");
        assert_eq!(k.cmd("ttl p"), ":10\r\n");
    }

    #[test]
    fn expire_in_the_past_deletes() {
        let mut k = Kit::new();
        assert_eq!(k.cmd("set k v"), OK);
        assert_eq!(k.cmd("expire k -1"), ":1\r\n");
        assert_eq!(k.cmd("exists k"), ":0\r\n");
        assert_eq!(k.cmd("set k v"), OK);
        assert_eq!(k.cmd("pexpire k 0"), ":1\r\n");
        assert_eq!(k.cmd("exists k"), ":0\r\n");
        assert_eq!(k.cmd("set k v"), OK);
        assert_eq!(k.cmd("expireat k 1"), ":1\r\n");
        assert_eq!(k.cmd("dbsize"), ":0\r\n");
        // GT against a key without TTL never passes, even with a past time.
        assert_eq!(k.cmd("set k v"), OK);
        assert_eq!(k.cmd("expire k -1 gt"), ":0\r\n");
        assert_eq!(k.cmd("expire k -1 lt"), ":1\r\n");
        assert_eq!(k.cmd("exists k"), ":0\r\n");
    }

    #[test]
    fn ttl_family() {
        let mut k = Kit::new();
        assert_eq!(k.cmd("ttl nokey"), ":-2\r\n");
        assert_eq!(k.cmd("pttl nokey"), ":-2\r\n");
        assert_eq!(k.cmd("expiretime nokey"), ":-2\r\n");
        assert_eq!(k.cmd("pexpiretime nokey"), ":-2\r\n");
        assert_eq!(k.cmd("set k v"), OK);
        assert_eq!(k.cmd("ttl k"), ":-1\r\n");
        assert_eq!(k.cmd("pttl k"), ":-1\r\n");
        assert_eq!(k.cmd("expiretime k"), ":-1\r\n");
        assert_eq!(k.cmd("pexpiretime k"), ":-1\r\n");
        assert_eq!(k.cmd("expireat k 9223372036854774"), ":1\r\n");
        assert_eq!(k.cmd("expiretime k"), ":9223372036854774\r\n");
        assert_eq!(k.cmd("pexpiretime k"), ":9223372036854774000\r\n");
        assert_eq!(k.cmd("pexpireat k 9223372036854775807"), ":1\r\n");
        assert_eq!(k.cmd("expiretime k"), ":9223372036854776\r\n");
        assert_eq!(k.cmd("pexpiretime k"), ":9223372036854775807\r\n");
        assert_eq!(k.cmd("pexpire k 1499"), ":1\r\n");
        assert_eq!(k.cmd("ttl k"), ":1\r\n");
        assert_eq!(k.cmd("pexpire k 1500"), ":1\r\n");
        assert_eq!(k.cmd("ttl k"), ":2\r\n");
        assert_eq!(k.cmd("persist k"), ":1\r\n");
        assert_eq!(k.cmd("persist k"), ":0\r\n");
        assert_eq!(k.cmd("persist nokey"), ":0\r\n");
        assert_eq!(k.cmd("ttl k"), ":-1\r\n");
    }

    #[test]
    fn flushdb_and_flushall() {
        let mut k = Kit::new();
        assert_eq!(k.cmd("flushdb foo"), SYNTAX);
        assert_eq!(k.cmd("flushdb sync async"), SYNTAX);
        assert_eq!(k.cmd("flushall foo"), SYNTAX);
        assert_eq!(k.cmd("mset a 1 b 2"), OK);
        assert_eq!(k.cmd("copy a a db 1"), ":1\r\n");
        assert_eq!(k.cmd("flushdb"), OK);
        assert_eq!(k.cmd("dbsize"), ":0\r\n");
        k.client.select(1);
        assert_eq!(k.cmd("dbsize"), ":1\r\n");
        for i in 0..2000 {
            assert_eq!(k.cmd(&format!("set k{i} v ex 100")), OK);
        }
        assert_eq!(k.cmd("flushdb ASYNC"), OK);
        assert_eq!(k.cmd("dbsize"), ":0\r\n");
        assert_eq!(k.cmd("set x 1"), OK);
        k.client.select(0);
        assert_eq!(k.cmd("set y 1"), OK);
        assert_eq!(k.cmd("flushall sync"), OK);
        assert_eq!(k.cmd("dbsize"), ":0\r\n");
        k.client.select(1);
        assert_eq!(k.cmd("dbsize"), ":0\r\n");
        assert_eq!(k.cmd("set x 1"), OK);
        assert_eq!(k.cmd("flushall async"), OK);
        assert_eq!(k.cmd("dbsize"), ":0\r\n");
        k.inst.config.write().lazyfree_lazy_user_flush = true;
        assert_eq!(k.cmd("set x 1"), OK);
        assert_eq!(k.cmd("flushall"), OK);
        assert_eq!(k.cmd("dbsize"), ":0\r\n");
    }

    /// Through the real dispatcher: every command is served, and touches only the shards
    /// its spec makes dispatch lock (a stray key access panics in debug builds).
    #[test]
    fn served_through_dispatch() {
        use std::sync::Arc;

        use resp::{Protocol, ReplyWriter};

        use crate::{dispatch::dispatch, Client, ClientInfo, Config, Instance};

        let inst = Instance::new(Config::default());
        let mut client = Client::new(Arc::new(ClientInfo::new(1, "a".into(), "b".into())), true);
        let mut out = ReplyWriter::new(Protocol::Resp2);
        let mut run = |line: &str| -> String {
            let argv: Vec<&[u8]> = line.split(' ').map(str::as_bytes).collect();
            out.clear();
            dispatch(&inst, &mut client, &mut out, &argv);
            String::from_utf8_lossy(out.as_bytes()).into_owned()
        };
        for i in 0..40 {
            let (a, b, c) = (format!("a{i}"), format!("b{i}"), format!("c{i}"));
            let script = [
                format!("set {a} 1"),
                format!("mset {a} 1 {b} 2 {c} 3"),
                format!("msetnx {a} 1 {b} 2"),
                format!("mget {a} {b} {c}"),
                format!("incr {a}"),
                format!("incrbyfloat {a} 1.5"),
                format!("append {b} x"),
                format!("setrange {b} 1 y"),
                format!("getrange {b} 0 -1"),
                format!("lcs {a} {b} idx"),
                format!("getex {a} ex 100"),
                format!("copy {a} {c} db 1 replace"),
                format!("copy {a} {c} replace"),
                format!("rename {a} {b}"),
                format!("renamenx {b} {a}"),
                format!("move {a} 2"),
                format!("object encoding {b}"),
                format!("object refcount {b}"),
                format!("exists {a} {b} {c}"),
                format!("touch {a} {b} {c}"),
                format!("expire {b} 100 gt"),
                format!("pexpireat {c} 1"),
                format!("ttl {b}"),
                format!("persist {b}"),
                format!("getdel {b}"),
                format!("unlink {a} {b} {c}"),
                format!("del {a} {b} {c}"),
                "keys *".to_string(),
                "scan 0 count 5".to_string(),
                "randomkey".to_string(),
                "dbsize".to_string(),
                "swapdb 0 1".to_string(),
            ];
            for line in &script {
                let r = run(line);
                assert!(!r.starts_with("-ERR unknown"), "{line}: {r}");
                assert!(!r.starts_with("-ERR wrong number"), "{line}: {r}");
            }
        }
        assert_eq!(run("flushall"), "+OK\r\n");
        assert_eq!(run("flushdb async"), "+OK\r\n");
        assert_eq!(run("object help").lines().count(), 16);
    }
}
