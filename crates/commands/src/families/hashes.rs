//! The hash family: HSET and its variants, reads (HGET, HMGET, HGETALL, ...), counters
//! (HINCRBY, HINCRBYFLOAT), HRANDFIELD and HSCAN, with Redis 7.0's replies, error
//! messages and checking order.
//!
//! Hashes keep Redis's encodings (see `engine::types::hash`): a listpack while small,
//! a hash table past `hash-max-listpack-entries` fields or `hash-max-listpack-value`
//! bytes, so `OBJECT ENCODING`, the reply order of small hashes (insertion order) and
//! HSCAN's one-call answer for small hashes match Redis.

use engine::types::{Elem, Hash, HashLimits};
use rand::Rng;
use resp::ReplyWriter;

use super::collection::{self, bulk, Look};
use super::util::{eq_ic, glob_match, parse_cursor, parse_i64, LongDouble};
use crate::ctx::Ctx;
use crate::errors;
use crate::pubsub::class;
use crate::spec::Handler;

/// (spec name, handler) for every command this family serves.
pub fn handlers() -> Vec<(&'static str, Handler)> {
    vec![
        ("hset", hset),
        ("hmset", hmset),
        ("hsetnx", hsetnx),
        ("hget", hget),
        ("hmget", hmget),
        ("hdel", hdel),
        ("hexists", hexists),
        ("hlen", hlen),
        ("hstrlen", hstrlen),
        ("hkeys", hkeys),
        ("hvals", hvals),
        ("hgetall", hgetall),
        ("hincrby", hincrby),
        ("hincrbyfloat", hincrbyfloat),
        ("hrandfield", hrandfield),
        ("hscan", hscan),
    ]
}

// ---------------------------------------------------------------------------------------
// Shared pieces
// ---------------------------------------------------------------------------------------

/// Reads the hash at `key` (see [`collection::read`]).
fn read<T>(
    ctx: &mut Ctx<'_, '_>,
    key: &[u8],
    f: impl FnOnce(&mut ReplyWriter, &Hash) -> T,
) -> Look<T> {
    collection::read(ctx, key, f)
}

/// Writes the hash at `key`, creating it if `create` (see [`collection::write`]).
fn write<T>(
    ctx: &mut Ctx<'_, '_>,
    key: &[u8],
    create: bool,
    f: impl FnOnce(&mut Hash, &mut ReplyWriter) -> T,
) -> Look<T> {
    collection::write(ctx, key, create, f)
}

/// The encoding limits hashes are built with: `hash-max-listpack-entries` and
/// `hash-max-listpack-value`.
fn limits(ctx: &Ctx<'_, '_>) -> HashLimits {
    let c = ctx.inst.config.read();
    HashLimits {
        max_entries: usize::try_from(c.hash_max_listpack_entries).unwrap_or(usize::MAX),
        max_value: usize::try_from(c.hash_max_listpack_value).unwrap_or(usize::MAX),
    }
}

// ---------------------------------------------------------------------------------------
// Writes
// ---------------------------------------------------------------------------------------

/// HSET key field value [field value ...]
fn hset(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]]) {
    hset_generic(ctx, argv, "hset");
}

/// HMSET key field value [field value ...]: HSET replying `+OK`.
fn hmset(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]]) {
    hset_generic(ctx, argv, "hmset");
}

fn hset_generic(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]], name: &str) {
    if argv.len() % 2 == 1 {
        return ctx.error(&errors::wrong_arity(name));
    }
    let lim = limits(ctx);
    let pairs = &argv[2..];
    // Redis converts a listpack before the first insert when any argument is too long
    // for it; converting at the first long pair instead ends in the same hash, in the
    // same order.
    match write(ctx, argv[1], true, |h, _| {
        pairs
            .chunks_exact(2)
            .filter(|p| h.set(p[0], p[1], &lim))
            .count()
    }) {
        Look::Found(created) if name == "hset" => {
            ctx.notify(class::HASH, "hset", argv[1]);
            ctx.out.int(created as i64)
        }
        Look::Found(_) => {
            ctx.notify(class::HASH, "hset", argv[1]);
            ctx.out.ok()
        }
        _ => ctx.error(errors::WRONGTYPE),
    }
}

/// HSETNX key field value
fn hsetnx(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]]) {
    let lim = limits(ctx);
    match write(ctx, argv[1], true, |h, _| h.set_nx(argv[2], argv[3], &lim)) {
        Look::Found(added) => {
            if added {
                ctx.notify(class::HASH, "hset", argv[1]);
            }
            ctx.out.int(i64::from(added))
        }
        _ => ctx.error(errors::WRONGTYPE),
    }
}

/// HDEL key field [field ...]
fn hdel(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]]) {
    let fields = &argv[2..];
    match write(ctx, argv[1], false, |h, _| {
        let mut n = 0;
        for f in fields {
            if h.remove(f) {
                n += 1;
                if h.is_empty() {
                    break;
                }
            }
        }
        n
    }) {
        Look::Found(n) => {
            if n > 0 {
                ctx.notify(class::HASH, "hdel", argv[1]);
                let (db, now) = (ctx.db(), ctx.now_ms);
                if !ctx.ks.exists(db, argv[1], now) {
                    ctx.notify(class::GENERIC, "del", argv[1]);
                }
            }
            ctx.out.int(n)
        }
        Look::Missing => ctx.out.int(0),
        Look::WrongType => ctx.error(errors::WRONGTYPE),
    }
}

/// HINCRBY key field increment
fn hincrby(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]]) {
    let Some(incr) = parse_i64(argv[3]) else {
        return ctx.error(errors::NOT_INTEGER);
    };
    let (field, lim) = (argv[2], limits(ctx));
    let r = write(ctx, argv[1], true, |h, out| {
        let cur = match h.get(field) {
            None => 0,
            Some(Elem::Int(n)) => n,
            Some(Elem::Str(s)) => match parse_i64(s) {
                Some(n) => n,
                None => return Err(errors::HASH_NOT_INTEGER),
            },
        };
        let new = cur.checked_add(incr).ok_or(errors::OVERFLOW)?;
        h.set(field, itoa::Buffer::new().format(new).as_bytes(), &lim);
        out.int(new);
        Ok(())
    });
    match r {
        Look::Found(Ok(())) => ctx.notify(class::HASH, "hincrby", argv[1]),
        Look::Found(Err(msg)) => ctx.error(msg),
        _ => ctx.error(errors::WRONGTYPE),
    }
}

/// HINCRBYFLOAT key field increment, in long double arithmetic as Redis computes it.
fn hincrbyfloat(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]]) {
    let Some(incr) = LongDouble::parse(argv[3]) else {
        return ctx.error(errors::NOT_FLOAT);
    };
    if !incr.is_finite() {
        return ctx.error(errors::NAN_OR_INFINITY);
    }
    let (field, lim) = (argv[2], limits(ctx));
    let r = write(ctx, argv[1], true, |h, out| {
        let cur = match h.get(field) {
            None => LongDouble::from_i64(0),
            Some(Elem::Int(n)) => LongDouble::from_i64(n),
            Some(Elem::Str(s)) => LongDouble::parse(s).ok_or(errors::HASH_NOT_FLOAT)?,
        };
        let sum = cur + incr;
        if !sum.is_finite() {
            return Err(errors::INCR_NAN_INF);
        }
        let text = sum.to_human();
        h.set(field, &text, &lim);
        out.bulk(&text);
        Ok(())
    });
    match r {
        Look::Found(Ok(())) => ctx.notify(class::HASH, "hincrbyfloat", argv[1]),
        Look::Found(Err(msg)) => ctx.error(msg),
        _ => ctx.error(errors::WRONGTYPE),
    }
}

// ---------------------------------------------------------------------------------------
// Reads
// ---------------------------------------------------------------------------------------

/// HGET key field
fn hget(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]]) {
    match read(ctx, argv[1], |out, h| match h.get(argv[2]) {
        Some(v) => bulk(out, v),
        None => out.null(),
    }) {
        Look::Found(()) => {}
        Look::Missing => ctx.out.null(),
        Look::WrongType => ctx.error(errors::WRONGTYPE),
    }
}

/// HMGET key field [field ...]
fn hmget(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]]) {
    let fields = &argv[2..];
    match read(ctx, argv[1], |out, h| {
        out.array(fields.len());
        for f in fields {
            match h.get(f) {
                Some(v) => bulk(out, v),
                None => out.null(),
            }
        }
    }) {
        Look::Found(()) => {}
        Look::Missing => {
            ctx.out.array(fields.len());
            fields.iter().for_each(|_| ctx.out.null());
        }
        Look::WrongType => ctx.error(errors::WRONGTYPE),
    }
}

/// Replies with an integer computed from the hash, 0 when the key is missing.
fn int_reply(ctx: &mut Ctx<'_, '_>, key: &[u8], f: impl FnOnce(&Hash) -> usize) {
    match read(ctx, key, |_, h| f(h)) {
        Look::Found(n) => ctx.out.int(n as i64),
        Look::Missing => ctx.out.int(0),
        Look::WrongType => ctx.error(errors::WRONGTYPE),
    }
}

/// HEXISTS key field
fn hexists(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]]) {
    int_reply(ctx, argv[1], |h| usize::from(h.contains(argv[2])));
}

/// HLEN key
fn hlen(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]]) {
    int_reply(ctx, argv[1], Hash::len);
}

/// HSTRLEN key field
fn hstrlen(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]]) {
    int_reply(ctx, argv[1], |h| h.get(argv[2]).map_or(0, Elem::len));
}

/// What HKEYS, HVALS and HGETALL return.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Part {
    Keys,
    Vals,
    Both,
}

fn getall(ctx: &mut Ctx<'_, '_>, key: &[u8], part: Part) {
    match read(ctx, key, |out, h| {
        match part {
            Part::Both => out.map(h.len()),
            _ => out.array(h.len()),
        }
        h.for_each_elem(|k, v| {
            if part != Part::Vals {
                bulk(out, k);
            }
            if part != Part::Keys {
                bulk(out, v);
            }
        });
    }) {
        Look::Found(()) => {}
        Look::Missing if part == Part::Both => ctx.out.map(0),
        Look::Missing => ctx.out.array(0),
        Look::WrongType => ctx.error(errors::WRONGTYPE),
    }
}

/// HKEYS key
fn hkeys(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]]) {
    getall(ctx, argv[1], Part::Keys);
}

/// HVALS key
fn hvals(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]]) {
    getall(ctx, argv[1], Part::Vals);
}

/// HGETALL key: a map in RESP3.
fn hgetall(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]]) {
    getall(ctx, argv[1], Part::Both);
}

// ---------------------------------------------------------------------------------------
// HRANDFIELD
// ---------------------------------------------------------------------------------------

/// HRANDFIELD key [count [WITHVALUES]]
fn hrandfield(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]]) {
    if argv.len() == 2 {
        return match read(ctx, argv[1], |out, h| {
            let i = rand::thread_rng().gen_range(0..h.len());
            bulk(out, h.pair_at(i).0);
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
    if argv.len() > 4 || (argv.len() == 4 && !eq_ic(argv[3], b"withvalues")) {
        return ctx.error(errors::SYNTAX);
    }
    let withvalues = argv.len() == 4;
    if withvalues && !(-(i64::MAX / 2)..=i64::MAX / 2).contains(&count) {
        return ctx.error(errors::VALUE_OUT_OF_RANGE);
    }
    let resp3 = ctx.out.is_resp3();
    match read(ctx, argv[1], |out, h| {
        random_fields(out, h, count, withvalues, resp3)
    }) {
        Look::Found(()) => {}
        Look::Missing => ctx.out.array(0),
        Look::WrongType => ctx.error(errors::WRONGTYPE),
    }
}

/// The reply of HRANDFIELD with a count: with repetitions for a negative count, else
/// distinct fields (the whole hash, in order, when the count covers it). With values,
/// pairs are nested arrays in RESP3 and flattened in RESP2.
fn random_fields(out: &mut ReplyWriter, h: &Hash, count: i64, withvalues: bool, resp3: bool) {
    let size = h.len();
    let n = count.unsigned_abs() as usize;
    // A listpack is walked to find its i-th pair: index it once when picking many.
    let listed: Vec<(Elem<'_>, Elem<'_>)> = if h.encoding() == "listpack" && n > 1 {
        let mut v = Vec::with_capacity(size);
        h.for_each_elem(|k, val| v.push((k, val)));
        v
    } else {
        Vec::new()
    };
    let emit = |out: &mut ReplyWriter, i: usize| {
        let (k, v) = match listed.get(i) {
            Some(&pair) => pair,
            None => h.pair_at(i),
        };
        if withvalues && resp3 {
            out.array(2);
        }
        bulk(out, k);
        if withvalues {
            bulk(out, v);
        }
    };
    let header = |out: &mut ReplyWriter, n: usize| {
        out.array(if withvalues && !resp3 { n * 2 } else { n });
    };
    let mut rng = rand::thread_rng();
    if count < 0 {
        header(out, n);
        for _ in 0..n {
            emit(out, rng.gen_range(0..size));
        }
    } else if n >= size {
        // The whole hash, in its order (a small hash: insertion order).
        header(out, size);
        let mut emit_pair = |k: Elem<'_>, v: Elem<'_>| {
            if withvalues && resp3 {
                out.array(2);
            }
            bulk(out, k);
            if withvalues {
                bulk(out, v);
            }
        };
        h.for_each_elem(&mut emit_pair);
    } else {
        let mut picked = rand::seq::index::sample(&mut rng, size, n).into_vec();
        if h.encoding() == "listpack" {
            // As Redis samples a listpack: distinct fields in the hash's order.
            picked.sort_unstable();
        }
        header(out, n);
        for i in picked {
            emit(out, i);
        }
    }
}

// ---------------------------------------------------------------------------------------
// HSCAN
// ---------------------------------------------------------------------------------------

/// The options of HSCAN, SSCAN and ZSCAN after `key cursor`: `[MATCH pattern] [COUNT n]`
/// in any order, repeated ones overriding. `None` pattern: everything (as `*`).
pub(super) fn scan_options<'a>(
    args: &[&'a [u8]],
) -> Result<(Option<&'a [u8]>, usize), &'static str> {
    let mut count = 10usize;
    let mut pattern = None;
    let mut i = 0;
    while i < args.len() {
        let has_value = i + 1 < args.len();
        if eq_ic(args[i], b"count") && has_value {
            match parse_i64(args[i + 1]) {
                None => return Err(errors::NOT_INTEGER),
                Some(n) if n < 1 => return Err(errors::SYNTAX),
                Some(n) => count = usize::try_from(n).unwrap_or(usize::MAX),
            }
        } else if eq_ic(args[i], b"match") && has_value {
            pattern = (args[i + 1] != b"*").then_some(args[i + 1]);
        } else {
            return Err(errors::SYNTAX);
        }
        i += 2;
    }
    Ok((pattern, count))
}

/// Writes a SCAN-family reply: `[cursor, [elements]]`, the elements already encoded.
pub(super) fn scan_reply(out: &mut ReplyWriter, cursor: u64, n: usize, body: &ReplyWriter) {
    out.array(2);
    out.bulk(itoa::Buffer::new().format(cursor).as_bytes());
    out.array(n);
    out.raw(body.as_bytes());
}

/// HSCAN key cursor [MATCH pattern] [COUNT count]
fn hscan(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]]) {
    let Some(cursor) = parse_cursor(argv[2]) else {
        return ctx.error(errors::INVALID_CURSOR);
    };
    let opts = &argv[3..];
    let r = read(ctx, argv[1], |out, h| {
        let (pattern, count) = scan_options(opts)?;
        let mut body = ReplyWriter::default();
        let mut n = 0;
        let next = h.scan(cursor, count, |k, v| {
            if let Some(p) = pattern {
                if !k.with_bytes(|k| glob_match(p, k, false)) {
                    return;
                }
            }
            bulk(&mut body, k);
            bulk(&mut body, v);
            n += 2;
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

    #[test]
    fn set_get_and_delete() {
        let mut k = Kit::new();
        assert_eq!(k.cmd("hset h a 1 b 2"), ":2\r\n");
        assert_eq!(k.cmd("hset h a 3 c 4"), ":1\r\n");
        assert_eq!(k.cmd("hmset h d 5"), "+OK\r\n");
        assert_eq!(
            k.cmd("hset h x"),
            "-ERR wrong number of arguments for 'hset' command\r\n"
        );
        assert_eq!(
            k.cmd("hmset h x"),
            "-ERR wrong number of arguments for 'hmset' command\r\n"
        );
        assert_eq!(k.cmd("hget h a"), "$1\r\n3\r\n");
        assert_eq!(k.cmd("hget h nope"), "$-1\r\n");
        assert_eq!(k.cmd("hget nokey a"), "$-1\r\n");
        assert_eq!(
            k.cmd("hmget h a nope b"),
            "*3\r\n$1\r\n3\r\n$-1\r\n$1\r\n2\r\n"
        );
        assert_eq!(k.cmd("hmget nokey a"), "*1\r\n$-1\r\n");
        assert_eq!(k.int("hlen h"), 4);
        assert_eq!(k.int("hexists h c"), 1);
        assert_eq!(k.int("hexists h z"), 0);
        assert_eq!(k.int("hstrlen h c"), 1);
        assert_eq!(k.int("hstrlen h z"), 0);
        assert_eq!(
            k.cmd("hkeys h"),
            bulks(&["a", "b", "c", "d"]),
            "insertion order"
        );
        assert_eq!(k.cmd("hvals h"), bulks(&["3", "2", "4", "5"]));
        assert_eq!(
            k.cmd("hgetall h"),
            bulks(&["a", "3", "b", "2", "c", "4", "d", "5"])
        );
        assert_eq!(k.int("hsetnx h a 9"), 0);
        assert_eq!(k.int("hsetnx h e 9"), 1);
        assert_eq!(k.int("hsetnx new f v"), 1);
        assert_eq!(k.int("hdel h a nope b a"), 2);
        assert_eq!(k.int("hdel nokey a"), 0);
        assert_eq!(k.int("hdel h c d e"), 3);
        assert_eq!(k.int("exists h"), 0, "an emptied hash is deleted");
        assert_eq!(k.cmd("hgetall h"), "*0\r\n");
        k.out.set_protocol(Protocol::Resp3);
        assert_eq!(k.cmd("hgetall h"), "%0\r\n");
        assert_eq!(k.cmd("hgetall new"), "%1\r\n$1\r\nf\r\n$1\r\nv\r\n");
        assert_eq!(k.cmd("hget new x"), "_\r\n");
    }

    #[test]
    fn wrong_types() {
        let mut k = Kit::new();
        k.cmd("set s x");
        for line in [
            "hset s a 1",
            "hsetnx s a 1",
            "hget s a",
            "hmget s a",
            "hdel s a",
            "hlen s",
            "hstrlen s a",
            "hexists s a",
            "hkeys s",
            "hvals s",
            "hgetall s",
            "hincrby s a 1",
            "hincrbyfloat s a 1",
            "hrandfield s",
            "hrandfield s 2",
            "hscan s 0",
        ] {
            assert_eq!(k.cmd(line), WRONGTYPE, "{line}");
        }
        assert_eq!(k.cmd("get s"), "$1\r\nx\r\n");
        k.cmd("hset h a 1");
        assert_eq!(k.cmd("get h"), WRONGTYPE);
    }

    #[test]
    fn counters() {
        let mut k = Kit::new();
        assert_eq!(k.int("hincrby h n 5"), 5);
        assert_eq!(k.int("hincrby h n -7"), -2);
        assert_eq!(
            k.cmd("hincrby h n x"),
            "-ERR value is not an integer or out of range\r\n"
        );
        k.cmd("hset h s abc big 9223372036854775807 f 1.5");
        assert_eq!(
            k.cmd("hincrby h s 1"),
            "-ERR hash value is not an integer\r\n"
        );
        assert_eq!(
            k.cmd("hincrby h f 1"),
            "-ERR hash value is not an integer\r\n"
        );
        assert_eq!(
            k.cmd("hincrby h big 1"),
            "-ERR increment or decrement would overflow\r\n"
        );
        assert_eq!(k.int("hincrby h big -1"), i64::MAX - 1);
        assert_eq!(k.cmd("hincrbyfloat h f 0.1"), "$3\r\n1.6\r\n");
        assert_eq!(k.cmd("hincrbyfloat h n 2.5"), "$3\r\n0.5\r\n");
        assert_eq!(k.cmd("hincrbyfloat h new 1e2"), "$3\r\n100\r\n");
        assert_eq!(
            k.cmd("hincrbyfloat h s 1"),
            "-ERR hash value is not a float\r\n"
        );
        assert_eq!(
            k.cmd("hincrbyfloat h f x"),
            "-ERR value is not a valid float\r\n"
        );
        assert_eq!(
            k.cmd("hincrbyfloat h f inf"),
            "-ERR value is NaN or Infinity\r\n"
        );
        k.cmd("hset h huge 1e4932");
        assert_eq!(
            k.cmd("hincrbyfloat h huge 1e4932"),
            "-ERR increment would produce NaN or Infinity\r\n"
        );
        assert_eq!(
            k.cmd("hincrbyfloat nokey f inf"),
            "-ERR value is NaN or Infinity\r\n"
        );
        assert_eq!(k.int("exists nokey"), 0, "a failed command creates no key");
    }

    #[test]
    fn encodings_follow_redis_limits() {
        let mut k = Kit::new();
        let long = "v".repeat(65);
        k.cmd("hset h a 1");
        assert_eq!(k.cmd("object encoding h"), "$8\r\nlistpack\r\n");
        k.cmd(&format!("hset h b {}", "v".repeat(64)));
        assert_eq!(k.cmd("object encoding h"), "$8\r\nlistpack\r\n");
        k.cmd(&format!("hincrby h {long} 1"));
        assert_eq!(k.cmd("object encoding h"), "$9\r\nhashtable\r\n");
        for i in 0..512 {
            k.cmd(&format!("hset big f{i} {i}"));
        }
        assert_eq!(k.cmd("object encoding big"), "$8\r\nlistpack\r\n");
        k.cmd("hset big one more");
        assert_eq!(k.cmd("object encoding big"), "$9\r\nhashtable\r\n");
        assert_eq!(k.int("hlen big"), 513);
    }

    #[test]
    fn limits_come_from_the_config() {
        let mut k = Kit::new();
        assert_eq!(k.run("config set hash-max-listpack-entries 2"), "+OK\r\n");
        assert_eq!(k.run("config set hash-max-listpack-value 3"), "+OK\r\n");
        k.run("hset h a 1 b 2");
        assert_eq!(k.run("object encoding h"), "$8\r\nlistpack\r\n");
        k.run("hset h c 3");
        assert_eq!(k.run("object encoding h"), "$9\r\nhashtable\r\n");
        k.run("hset v a 1234");
        assert_eq!(k.run("object encoding v"), "$9\r\nhashtable\r\n");
        assert_eq!(k.run("config set set-max-intset-entries 1"), "+OK\r\n");
        k.run("sadd s 1");
        assert_eq!(k.run("object encoding s"), "$6\r\nintset\r\n");
        k.run("sadd s 2");
        assert_eq!(k.run("object encoding s"), "$9\r\nhashtable\r\n");
    }

    #[test]
    fn hrandfield() {
        let mut k = Kit::new();
        assert_eq!(k.cmd("hrandfield nokey"), "$-1\r\n");
        assert_eq!(k.cmd("hrandfield nokey 5"), "*0\r\n");
        assert_eq!(k.cmd("hrandfield nokey -5 withvalues"), "*0\r\n");
        k.cmd("hset h a 1 b 2 c 3");
        let one = k.cmd("hrandfield h");
        assert!(["$1\r\na\r\n", "$1\r\nb\r\n", "$1\r\nc\r\n"].contains(&one.as_str()));
        assert_eq!(k.cmd("hrandfield h 0"), "*0\r\n");
        assert_eq!(
            k.cmd("hrandfield h 3"),
            bulks(&["a", "b", "c"]),
            "the whole hash, in order"
        );
        assert_eq!(
            k.cmd("hrandfield h 10 withvalues"),
            bulks(&["a", "1", "b", "2", "c", "3"])
        );
        let two = k.cmd("hrandfield h 2");
        assert!(two.starts_with("*2\r\n"));
        let neg = k.cmd("hrandfield h -10");
        assert!(neg.starts_with("*10\r\n"));
        assert_eq!(neg.matches("\r\n$1\r\n").count(), 10, "{neg}");
        assert!(k.cmd("hrandfield h -4 withvalues").starts_with("*8\r\n"));
        assert_eq!(
            k.cmd("hrandfield h x"),
            "-ERR value is not an integer or out of range\r\n"
        );
        assert_eq!(k.cmd("hrandfield h 1 x"), "-ERR syntax error\r\n");
        assert_eq!(
            k.cmd("hrandfield h 1 withvalues x"),
            "-ERR syntax error\r\n"
        );
        assert_eq!(
            k.cmd("hrandfield h -9223372036854775808"),
            "-ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807\r\n"
        );
        assert_eq!(
            k.cmd("hrandfield h 4611686018427387904 withvalues"),
            "-ERR value is out of range\r\n"
        );
        k.out.set_protocol(Protocol::Resp3);
        assert_eq!(
            k.cmd("hrandfield h 3 withvalues"),
            "*3\r\n*2\r\n$1\r\na\r\n$1\r\n1\r\n*2\r\n$1\r\nb\r\n$1\r\n2\r\n*2\r\n$1\r\nc\r\n$1\r\n3\r\n"
        );
        assert!(k
            .cmd("hrandfield h -5 withvalues")
            .starts_with("*5\r\n*2\r\n"));
    }

    #[test]
    fn hrandfield_distinct_fields_of_a_large_hash() {
        let mut k = Kit::new();
        for i in 0..600 {
            k.cmd(&format!("hset h f{i} v{i}"));
        }
        let r = k.cmd("hrandfield h 200 withvalues");
        let lines: Vec<&str> = r
            .split("\r\n")
            .filter(|l| !l.starts_with('$') && !l.is_empty())
            .collect();
        assert_eq!(lines[0], "*400");
        let fields: std::collections::HashSet<&str> =
            lines[1..].iter().step_by(2).copied().collect();
        assert_eq!(fields.len(), 200, "distinct fields");
        for pair in lines[1..401].chunks(2) {
            assert_eq!(pair[0][1..], pair[1][1..], "each value goes with its field");
        }
    }

    #[test]
    fn hscan() {
        let mut k = Kit::new();
        assert_eq!(k.cmd("hscan nokey 0 count x"), "*2\r\n$1\r\n0\r\n*0\r\n");
        k.cmd("hset h a 1 b 2 ab 3");
        assert_eq!(
            k.cmd("hscan h 0"),
            "*2\r\n$1\r\n0\r\n".to_string() + &bulks(&["a", "1", "b", "2", "ab", "3"])
        );
        assert_eq!(
            k.cmd("hscan h 0 match a* count 1"),
            "*2\r\n$1\r\n0\r\n".to_string() + &bulks(&["a", "1", "ab", "3"])
        );
        assert_eq!(k.cmd("hscan h x"), "-ERR invalid cursor\r\n");
        assert_eq!(k.cmd("hscan h 0 count 0"), "-ERR syntax error\r\n");
        assert_eq!(
            k.cmd("hscan h 0 count x"),
            "-ERR value is not an integer or out of range\r\n"
        );
        assert_eq!(k.cmd("hscan h 0 match"), "-ERR syntax error\r\n");
        assert_eq!(k.cmd("hscan h 0 type hash"), "-ERR syntax error\r\n");
        // A hashtable is walked a few pairs at a time, each pair once.
        for i in 0..700 {
            k.cmd(&format!("hset big f{i} {i}"));
        }
        let mut seen = std::collections::HashSet::new();
        let mut cursor = "0".to_string();
        let mut calls = 0;
        loop {
            let r = k.cmd(&format!("hscan big {cursor} count 20"));
            let parts: Vec<&str> = r.split("\r\n").collect();
            cursor = parts[2].to_string();
            for f in parts[4..].iter().skip(1).step_by(4) {
                if !f.is_empty() {
                    seen.insert(f.to_string());
                }
            }
            calls += 1;
            if cursor == "0" {
                break;
            }
        }
        assert_eq!(seen.len(), 700);
        assert!(calls >= 25, "COUNT is honoured: {calls} calls");
    }

    mod model {
        use super::super::super::util::testkit::Kit;
        use proptest::prelude::*;
        use std::collections::BTreeMap;

        fn field() -> impl Strategy<Value = String> {
            prop_oneof![(0i64..6).prop_map(|i| i.to_string()), "[fg]{1,2}", "z{5,7}"]
        }

        fn value() -> impl Strategy<Value = String> {
            prop_oneof![
                (-3i64..300).prop_map(|i| i.to_string()),
                "[uv]{0,3}",
                "w{5,7}"
            ]
        }

        #[derive(Clone, Debug)]
        enum Op {
            Set(Vec<(String, String)>),
            SetNx(String, String),
            Del(Vec<String>),
            Incr(String, i64),
        }

        fn op() -> impl Strategy<Value = Op> {
            prop_oneof![
                3 => proptest::collection::vec((field(), value()), 1..4).prop_map(Op::Set),
                1 => (field(), value()).prop_map(|(f, v)| Op::SetNx(f, v)),
                2 => proptest::collection::vec(field(), 1..4).prop_map(Op::Del),
                1 => (field(), -5i64..5).prop_map(|(f, n)| Op::Incr(f, n)),
            ]
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(64))]
            #[test]
            fn hash_commands_follow_a_model(ops in proptest::collection::vec(op(), 1..40)) {
                let mut k = Kit::new();
                k.run("config set hash-max-listpack-entries 3");
                k.run("config set hash-max-listpack-value 5");
                let mut m: BTreeMap<String, String> = BTreeMap::new();
                let mut order: Vec<String> = Vec::new();
                let mut table = false;
                for op in ops {
                    match op {
                        Op::Set(pairs) => {
                            let mut created = 0;
                            let mut argv: Vec<&[u8]> = vec![b"hset", b"h"];
                            for (f, v) in &pairs {
                                table |= f.len() > 5 || v.len() > 5;
                                if m.insert(f.clone(), v.clone()).is_none() {
                                    created += 1;
                                    order.push(f.clone());
                                }
                                argv.push(f.as_bytes());
                                argv.push(v.as_bytes());
                            }
                            prop_assert_eq!(k.call(&argv), format!(":{created}\r\n"));
                        }
                        Op::SetNx(f, v) => {
                            let new = !m.contains_key(&f);
                            if new {
                                table |= f.len() > 5 || v.len() > 5;
                                m.insert(f.clone(), v.clone());
                                order.push(f.clone());
                            }
                            let argv: [&[u8]; 4] = [b"hsetnx", b"h", f.as_bytes(), v.as_bytes()];
                            prop_assert_eq!(k.call(&argv), format!(":{}\r\n", i64::from(new)));
                        }
                        Op::Del(fs) => {
                            let mut gone = 0;
                            for f in &fs {
                                if m.remove(f).is_some() {
                                    gone += 1;
                                    order.retain(|x| x != f);
                                }
                            }
                            prop_assert_eq!(k.int(&format!("hdel h {}", fs.join(" "))), gone);
                        }
                        Op::Incr(f, n) => {
                            let r = k.cmd(&format!("hincrby h {f} {n}"));
                            match m.get(&f).map(|v| v.parse::<i64>()) {
                                Some(Err(_)) => prop_assert_eq!(r, "-ERR hash value is not an integer\r\n"),
                                cur => {
                                    let new = cur.map_or(Ok(0), |c| c).unwrap_or(0) + n;
                                    prop_assert_eq!(r, format!(":{new}\r\n"));
                                    if !m.contains_key(&f) {
                                        order.push(f.clone());
                                    }
                                    table |= f.len() > 5 || new.to_string().len() > 5;
                                    m.insert(f.clone(), new.to_string());
                                }
                            }
                        }
                    }
                    table |= m.len() > 3;
                    if m.is_empty() {
                        table = false;
                        order.clear();
                    }
                    prop_assert_eq!(k.int("hlen h"), m.len() as i64);
                    let all = k.cmd("hgetall h");
                    let items: Vec<&str> = all.split("\r\n").skip(1).collect::<Vec<_>>().chunks(2).filter(|c| c.len() == 2).map(|c| c[1]).collect();
                    let got: Vec<(String, String)> = items.chunks(2).map(|p| (p[0].to_string(), p[1].to_string())).collect();
                    if table {
                        let sorted: BTreeMap<String, String> = got.into_iter().collect();
                        prop_assert_eq!(&sorted, &m);
                        prop_assert_eq!(k.cmd("object encoding h"), "$9\r\nhashtable\r\n");
                    } else {
                        let want: Vec<(String, String)> = order.iter().map(|f| (f.clone(), m[f].clone())).collect();
                        prop_assert_eq!(got, want, "a listpack keeps insertion order");
                        if !m.is_empty() {
                            prop_assert_eq!(k.cmd("object encoding h"), "$8\r\nlistpack\r\n");
                        }
                    }
                    k.inst.ks.check_accounting();
                }
            }
        }
    }

    /// Every hash command keeps the keyspace's counters equal to a recount.
    #[test]
    fn handlers_keep_the_accounting_exact() {
        let mut k = Kit::new();
        let long = "x".repeat(100);
        let mut script = vec![
            "hset h a 1 b 2".to_string(),
            "hset h a 10000000".into(),
            "hset h a x".into(),
            "hsetnx h c 3".into(),
            "hincrby h n 5".into(),
            "hincrbyfloat h f 1.25".into(),
            "hdel h a".into(),
            format!("hset h {long} {long}"),
            "hdel h b c".into(),
            "hmset g x 1 y 2".into(),
            "copy g g2".into(),
            "rename g2 g3".into(),
            "hdel g x y".into(),
        ];
        for i in 0..600 {
            script.push(format!("hset big f{i} {i}"));
        }
        for i in 0..590 {
            script.push(format!("hdel big f{i}"));
        }
        for line in &script {
            k.run(line);
            k.inst.ks.check_accounting();
        }
        k.run("flushall");
        assert_eq!(k.inst.ks.used_memory(), 0);
    }
}
