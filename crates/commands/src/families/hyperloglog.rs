//! HyperLogLog commands (PFADD, PFCOUNT, PFMERGE, PFDEBUG, PFSELFTEST) on string values
//! holding Redis's HLL representation (see [`crate::hll`]), with Redis 7.0's replies,
//! errors and checking order.
//!
//! Like Redis, the commands that may change the bytes (PFADD, PFCOUNT's cache, PFMERGE's
//! destination, PFDEBUG) first make the string `raw`; PFCOUNT of many keys and PFMERGE's
//! sources only read.

use engine::{Str, Value};

use super::util::{eq_ic, new_entry, touches};
use crate::ctx::Ctx;
use crate::errors;
use crate::hll::{self, REGISTERS};
use crate::pubsub::class;
use crate::spec::Handler;

/// (spec name, handler) for every command this family serves.
pub fn handlers() -> Vec<(&'static str, Handler)> {
    vec![
        ("pfadd", pfadd),
        ("pfcount", pfcount),
        ("pfmerge", pfmerge),
        ("pfdebug", pfdebug),
        ("pfselftest", pfselftest),
    ]
}

/// The HLL bytes of a value for reading, or the error Redis replies with: WRONGTYPE for
/// another type, the HLL flavour of WRONGTYPE for a string that is not an HLL.
fn hll_of(v: &Value) -> Result<&[u8], &'static str> {
    match v {
        Value::Str(Str::Bytes { data, .. }) if hll::is_valid(data) => Ok(data),
        Value::Str(_) => Err(errors::HLL_WRONGTYPE),
        _ => Err(errors::WRONGTYPE),
    }
}

/// [`hll_of`] for writing: the string becomes `raw` (Redis unshares it).
fn hll_of_mut(v: &mut Value) -> Result<&mut Vec<u8>, &'static str> {
    match v {
        Value::Str(Str::Bytes { data, raw }) if hll::is_valid(data) => {
            *raw = true;
            Ok(data)
        }
        Value::Str(_) => Err(errors::HLL_WRONGTYPE),
        _ => Err(errors::WRONGTYPE),
    }
}

fn sparse_max_bytes(ctx: &Ctx<'_, '_>) -> u64 {
    ctx.inst.config.read().hll_sparse_max_bytes
}

/// PFADD key [element ...]: 1 if a register changed (or the key was created), else 0.
fn pfadd(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]]) {
    let max_bytes = sparse_max_bytes(ctx);
    let (db, now, touch) = (ctx.db(), ctx.now_ms, touches(ctx));
    let key = argv[1];
    let found = match ctx.ks.get_for_write(db, key, now) {
        None => None,
        Some(mut e) => {
            if let Some(c) = &touch {
                e.touch(c);
            }
            Some(hll_of_mut(&mut e.value).and_then(|s| {
                let mut updated = false;
                for ele in &argv[2..] {
                    updated |= hll::add(s, ele, max_bytes).map_err(|_| errors::HLL_CORRUPT)?;
                }
                if updated {
                    hll::invalidate_cache(s);
                }
                Ok(updated)
            }))
        }
    };
    match found {
        Some(Ok(updated)) => {
            if updated {
                ctx.notify(class::STRING, "pfadd", key);
            }
            ctx.out.int(i64::from(updated))
        }
        Some(Err(e)) => ctx.error(e),
        None => {
            let mut s = hll::new_sparse();
            for ele in &argv[2..] {
                // A new HLL is well formed: adding to it cannot fail.
                let _ = hll::add(&mut s, ele, max_bytes);
            }
            hll::invalidate_cache(&mut s);
            ctx.ks.insert(
                db,
                new_entry(key, Value::Str(Str::raw(s)), &ctx.access),
                now,
            );
            ctx.notify(class::STRING, "pfadd", key);
            ctx.out.int(1);
        }
    }
}

/// PFCOUNT key [key ...]: one key answers (and caches) its estimate; several keys
/// answer the estimate of their union, changing none of them.
fn pfcount(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]]) {
    let (db, now, touch) = (ctx.db(), ctx.now_ms, touches(ctx));
    if argv.len() > 2 {
        let mut max = Box::new([0u8; REGISTERS]);
        for &key in &argv[1..] {
            let r = match ctx.ks.get(db, key, now) {
                None => Ok(()),
                Some(mut e) => {
                    if let Some(c) = &touch {
                        e.touch(c);
                    }
                    hll_of(&e.value)
                        .and_then(|s| hll::merge_into(&mut max, s).map_err(|_| errors::HLL_CORRUPT))
                }
            };
            if let Err(e) = r {
                return ctx.error(e);
            }
        }
        return ctx.out.int(hll::count_registers(&max) as i64);
    }
    let r = match ctx.ks.get(db, argv[1], now) {
        None => Ok(0),
        Some(mut e) => {
            if let Some(c) = &touch {
                e.touch(c);
            }
            hll_of_mut(&mut e.value).and_then(|s| match hll::cached(s) {
                Some(card) => Ok(card),
                None => {
                    let card = hll::count(s).map_err(|_| errors::HLL_CORRUPT)?;
                    hll::set_cache(s, card);
                    Ok(card)
                }
            })
        }
    };
    match r {
        Ok(card) => ctx.out.int(card as i64),
        Err(e) => ctx.error(e),
    }
}

/// PFMERGE destkey [sourcekey ...]: destkey (a source itself when it exists) becomes
/// the union; dense if any input was dense.
fn pfmerge(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]]) {
    let max_bytes = sparse_max_bytes(ctx);
    let (db, now, touch) = (ctx.db(), ctx.now_ms, touches(ctx));
    let mut max = Box::new([0u8; REGISTERS]);
    let mut dense = false;
    for &key in &argv[1..] {
        let r = match ctx.ks.get(db, key, now) {
            None => Ok(()),
            Some(mut e) => {
                if let Some(c) = &touch {
                    e.touch(c);
                }
                hll_of(&e.value).and_then(|s| {
                    dense |= hll::encoding(s) == hll::DENSE;
                    hll::merge_into(&mut max, s).map_err(|_| errors::HLL_CORRUPT)
                })
            }
        };
        if let Err(e) = r {
            return ctx.error(e);
        }
    }
    let fill = |s: &mut Vec<u8>| -> Result<(), &'static str> {
        if dense {
            hll::to_dense(s).map_err(|_| errors::HLL_CORRUPT)?;
        }
        hll::store_registers(s, &max, max_bytes);
        Ok(())
    };
    let dest = argv[1];
    let found = match ctx.ks.get_for_write(db, dest, now) {
        None => None,
        Some(mut e) => {
            if let Some(c) = &touch {
                e.touch(c);
            }
            Some(hll_of_mut(&mut e.value).and_then(fill))
        }
    };
    let r = match found {
        Some(r) => r,
        None => {
            let mut s = hll::new_sparse();
            let r = fill(&mut s);
            ctx.ks.insert(
                db,
                new_entry(dest, Value::Str(Str::raw(s)), &ctx.access),
                now,
            );
            r
        }
    };
    match r {
        Ok(()) => {
            ctx.notify(class::STRING, "pfadd", argv[1]);
            ctx.out.ok()
        }
        Err(e) => ctx.error(e),
    }
}

/// What PFDEBUG found, acted on once the entry is released.
enum Debug {
    Done,
    Fail(&'static str),
    Unknown,
}

/// PFDEBUG GETREG|DECODE|ENCODING|TODENSE key
fn pfdebug(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]]) {
    let (db, now) = (ctx.db(), ctx.now_ms);
    let (sub, key) = (argv[1], argv[2]);
    let step = match ctx.ks.get_for_write(db, key, now) {
        None => Debug::Fail(errors::PFDEBUG_NO_KEY),
        Some(mut e) => match hll_of_mut(&mut e.value) {
            Err(msg) => Debug::Fail(msg),
            Ok(s) => {
                let sub_c = match sub.iter().position(|&c| c == 0) {
                    Some(i) => &sub[..i],
                    None => sub,
                };
                if eq_ic(sub_c, b"getreg") {
                    match hll::to_dense(s) {
                        Err(_) => Debug::Fail(errors::HLL_CORRUPT),
                        Ok(()) => {
                            let regs = hll::dense_registers(s);
                            ctx.out.array(regs.len());
                            for r in regs {
                                ctx.out.int(i64::from(r));
                            }
                            Debug::Done
                        }
                    }
                } else if eq_ic(sub_c, b"decode") {
                    if hll::encoding(s) != hll::SPARSE {
                        Debug::Fail(errors::PFDEBUG_NOT_SPARSE)
                    } else {
                        ctx.out.bulk(hll::decode_sparse(s).as_bytes());
                        Debug::Done
                    }
                } else if eq_ic(sub_c, b"encoding") {
                    ctx.out.simple(if hll::encoding(s) == hll::DENSE {
                        "dense"
                    } else {
                        "sparse"
                    });
                    Debug::Done
                } else if eq_ic(sub_c, b"todense") {
                    let was_sparse = hll::encoding(s) == hll::SPARSE;
                    match hll::to_dense(s) {
                        Err(_) => Debug::Fail(errors::HLL_CORRUPT),
                        Ok(()) => {
                            ctx.out.int(i64::from(was_sparse));
                            Debug::Done
                        }
                    }
                } else {
                    Debug::Unknown
                }
            }
        },
    };
    match step {
        Debug::Done => {}
        Debug::Fail(msg) => ctx.error(msg),
        Debug::Unknown => ctx.error(&errors::pfdebug_unknown(sub)),
    }
}

/// PFSELFTEST: Redis's self test of the register packing and the estimator (1000
/// rounds over every register, then ten million elements).
fn pfselftest(ctx: &mut Ctx<'_, '_>, _argv: &[&[u8]]) {
    let max_bytes = sparse_max_bytes(ctx);
    match hll::selftest(1000, 10_000_000, max_bytes, ctx.now_ms) {
        Ok(()) => ctx.out.ok(),
        Err(what) => ctx.error(&errors::pfselftest_failed(&what)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::families::util::testkit::Kit;

    const WRONGTYPE: &str =
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n";
    const NOT_HLL: &str = "-WRONGTYPE Key is not a valid HyperLogLog string value.\r\n";
    const CORRUPT: &str = "-INVALIDOBJ Corrupted HLL object detected\r\n";

    fn raw(k: &mut Kit, argv: &[&[u8]]) -> Vec<u8> {
        k.call(argv);
        k.out.as_bytes().to_vec()
    }

    fn get(k: &mut Kit, key: &str) -> Vec<u8> {
        let r = raw(k, &[b"get", key.as_bytes()]);
        // Strip the bulk header and trailer.
        let start = r.iter().position(|&c| c == b'\n').map_or(0, |i| i + 1);
        r[start..r.len() - 2].to_vec()
    }

    fn put_list(k: &mut Kit, key: &str) {
        let now = k.now_ms();
        let mut l = engine::types::List::new();
        l.push_back(b"x");
        let mut locked = k.inst.ks.lock_all();
        locked.insert(
            0,
            engine::Entry::new(key.as_bytes(), Value::List(Box::new(l))),
            now,
        );
    }

    #[test]
    fn pfadd_creates_sparse_and_counts() {
        let mut k = Kit::new();
        assert_eq!(k.cmd("pfadd h"), ":1\r\n");
        assert_eq!(
            get(&mut k, "h"),
            b"HYLL\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x80\x7f\xff".to_vec()
        );
        assert_eq!(k.cmd("pfadd h"), ":0\r\n");
        assert_eq!(k.cmd("pfcount h"), ":0\r\n");
        // PFCOUNT stored a valid cache.
        assert_eq!(get(&mut k, "h")[15], 0);
        assert_eq!(k.cmd("pfadd h a b c a"), ":1\r\n");
        assert_eq!(k.cmd("pfadd h a b"), ":0\r\n");
        assert_eq!(k.cmd("pfcount h"), ":3\r\n");
        assert_eq!(k.cmd("pfdebug encoding h"), "+sparse\r\n");
        assert_eq!(k.cmd("object encoding h"), "$3\r\nraw\r\n");
        assert_eq!(k.cmd("pfcount nokey"), ":0\r\n");
        // As Redis 7.0 decodes the same elements.
        let decoded = "Z:8436 v:1,1 Z:4274 v:2,1 Z:3068 v:1,1 Z:603";
        assert_eq!(
            k.cmd("pfdebug decode h"),
            format!("${}\r\n{decoded}\r\n", decoded.len())
        );
    }

    #[test]
    fn promotion_to_dense_and_merge() {
        let mut k = Kit::new();
        for i in 0..100 {
            let args: Vec<String> = (0..50).map(|j| format!("e{}", i * 50 + j)).collect();
            let mut argv: Vec<&[u8]> = vec![b"pfadd", b"big"];
            argv.extend(args.iter().map(|s| s.as_bytes()));
            k.call(&argv);
        }
        assert_eq!(k.cmd("pfdebug encoding big"), "+dense\r\n");
        assert_eq!(get(&mut k, "big").len(), hll::DENSE_SIZE);
        let n = k.int("pfcount big");
        assert!((4900..=5100).contains(&n), "{n}");
        assert_eq!(k.cmd("pfadd small e1 e2 x1 x2"), ":1\r\n");
        let union = k.int("pfcount big small");
        assert!(union >= n && union <= n + 10, "{union}");
        // Multi-key PFCOUNT leaves the keys alone.
        let before = get(&mut k, "small");
        k.cmd("pfcount big small nokey");
        assert_eq!(get(&mut k, "small"), before);
        assert_eq!(k.cmd("pfmerge dst small"), "+OK\r\n");
        assert_eq!(k.cmd("pfdebug encoding dst"), "+sparse\r\n");
        assert_eq!(k.int("pfcount dst"), 4);
        assert_eq!(k.cmd("pfmerge dst big"), "+OK\r\n");
        assert_eq!(k.cmd("pfdebug encoding dst"), "+dense\r\n");
        assert_eq!(k.int("pfcount dst"), k.int("pfcount big small"));
        assert_eq!(k.cmd("pfmerge empty"), "+OK\r\n");
        assert_eq!(k.int("pfcount empty"), 0);
        assert_eq!(k.cmd("pfmerge empty nokey"), "+OK\r\n");
        assert_eq!(k.cmd("pfdebug todense small"), ":1\r\n");
        assert_eq!(k.cmd("pfdebug todense small"), ":0\r\n");
        assert_eq!(k.int("pfcount small"), 4);
        assert_eq!(
            k.cmd("pfdebug decode small"),
            "-ERR HLL encoding is not sparse\r\n"
        );
        let regs = k.cmd("pfdebug getreg dst");
        assert!(regs.starts_with("*16384\r\n"));
    }

    #[test]
    fn errors() {
        let mut k = Kit::new();
        k.cmd("set s notanhll");
        k.cmd("set n 12345");
        put_list(&mut k, "l");
        for cmd in [
            "pfadd s a",
            "pfcount s",
            "pfcount s nokey",
            "pfmerge d s",
            "pfdebug encoding s",
        ] {
            assert_eq!(k.cmd(cmd), NOT_HLL, "{cmd}");
        }
        assert_eq!(k.cmd("pfadd n a"), NOT_HLL);
        assert_eq!(k.cmd("exists d"), ":0\r\n");
        for cmd in [
            "pfadd l a",
            "pfcount l",
            "pfcount nokey l",
            "pfmerge d l",
            "pfmerge l",
            "pfdebug getreg l",
        ] {
            assert_eq!(k.cmd(cmd), WRONGTYPE, "{cmd}");
        }
        assert_eq!(
            k.cmd("pfdebug getreg nokey"),
            "-ERR The specified key does not exist\r\n"
        );
        assert_eq!(k.cmd("pfadd h a"), ":1\r\n");
        assert_eq!(
            k.cmd("pfdebug foo h"),
            "-ERR Unknown PFDEBUG subcommand 'foo'\r\n"
        );
        // A sparse HLL whose opcodes do not cover every register.
        raw(
            &mut k,
            &[
                b"set",
                b"bad",
                b"HYLL\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x80\x40\x00",
            ],
        );
        assert_eq!(k.cmd("pfcount bad"), CORRUPT);
        assert_eq!(k.cmd("pfcount bad h"), CORRUPT);
        assert_eq!(k.cmd("pfmerge h bad"), CORRUPT);
        assert_eq!(k.cmd("pfdebug todense bad"), CORRUPT);
        assert_eq!(k.cmd("pfadd bad a b c d e f g h i j"), CORRUPT);
        // A dense header on a string of the wrong size is not an HLL at all.
        raw(
            &mut k,
            &[
                b"set",
                b"bad2",
                b"HYLL\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x80\x00",
            ],
        );
        assert_eq!(k.cmd("pfcount bad2"), NOT_HLL);
    }

    #[test]
    fn cache_is_used_and_invalidated() {
        let mut k = Kit::new();
        assert_eq!(k.cmd("pfadd h a b c"), ":1\r\n");
        assert_eq!(k.int("pfcount h"), 3);
        // A forged valid cache is believed, as Redis believes it.
        let mut bytes = get(&mut k, "h");
        bytes[8] = 42;
        let mut argv: Vec<&[u8]> = vec![b"set", b"h"];
        argv.push(&bytes);
        k.call(&argv);
        assert_eq!(k.int("pfcount h"), 42);
        assert_eq!(k.cmd("pfadd h d"), ":1\r\n");
        assert_eq!(k.int("pfcount h"), 4);
    }

    #[test]
    fn sparse_limit_follows_config() {
        let mut k = Kit::new();
        k.inst.config.write().hll_sparse_max_bytes = 30;
        assert_eq!(k.cmd("pfadd h a b c d e f g"), ":1\r\n");
        assert_eq!(k.cmd("pfdebug encoding h"), "+dense\r\n");
        assert_eq!(k.int("pfcount h"), 7);
    }
}
