//! Bitmaps: bit-level commands on string values (SETBIT, GETBIT, BITCOUNT, BITPOS,
//! BITOP, BITFIELD, BITFIELD_RO), with Redis 7.0's replies, errors and checking order.
//!
//! Bits are numbered from the most significant bit of the first byte. A write past the
//! end of the string grows it with zero bytes, as far as `proto-max-bulk-len` allows (an
//! offset whose byte is beyond it is refused before anything is allocated). A string
//! changed by these commands is reported as `raw`, as Redis does.

use engine::{Str, Value};

use super::util::{eq_ic, new_entry, parse_i64, str_of, str_of_mut, touches};
use crate::ctx::Ctx;
use crate::errors;
use crate::pubsub::class;
use crate::spec::Handler;

/// (spec name, handler) for every command this family serves.
pub fn handlers() -> Vec<(&'static str, Handler)> {
    vec![
        ("setbit", setbit),
        ("getbit", getbit),
        ("bitcount", bitcount),
        ("bitpos", bitpos),
        ("bitop", bitop),
        ("bitfield", bitfield),
        ("bitfield_ro", bitfield_ro),
    ]
}

// ---------------------------------------------------------------------------------------
// Argument parsing
// ---------------------------------------------------------------------------------------

/// The argument as C's `strcasecmp` sees it: up to its first NUL byte.
fn c_str(b: &[u8]) -> &[u8] {
    match b.iter().position(|&c| c == 0) {
        Some(i) => &b[..i],
        None => b,
    }
}

/// A keyword comparison as Redis makes it (case-insensitive, C string).
fn kw(arg: &[u8], keyword: &[u8]) -> bool {
    eq_ic(c_str(arg), keyword)
}

/// The largest string these commands may produce, in bytes.
fn max_string_len(ctx: &Ctx<'_, '_>) -> u64 {
    ctx.inst.config.read().proto_max_bulk_len
}

/// A bit offset as Redis's getBitOffsetFromArgument reads it: a non-negative integer
/// whose byte lies within `max_len`. With `field_bits` (BITFIELD), `#n` means the n-th
/// field of that width.
fn bit_offset(arg: &[u8], field_bits: Option<u32>, max_len: u64) -> Result<u64, &'static str> {
    let (digits, mul) = match field_bits {
        Some(bits) if arg.first() == Some(&b'#') => (&arg[1..], i64::from(bits)),
        _ => (arg, 1),
    };
    let v = parse_i64(digits)
        .ok_or(errors::BIT_OFFSET)?
        .wrapping_mul(mul);
    if v < 0 || (v as u64 >> 3) >= max_len {
        return Err(errors::BIT_OFFSET);
    }
    Ok(v as u64)
}

/// `BIT` or `BYTE` (true for bits).
fn index_unit(arg: &[u8]) -> Result<bool, &'static str> {
    if kw(arg, b"bit") {
        Ok(true)
    } else if kw(arg, b"byte") {
        Ok(false)
    } else {
        Err(errors::SYNTAX)
    }
}

// ---------------------------------------------------------------------------------------
// Bit helpers
// ---------------------------------------------------------------------------------------

#[inline]
fn word(b: &[u8]) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[..8]);
    u64::from_ne_bytes(a)
}

/// Number of set bits, 64 bits at a time with four independent sums.
pub fn popcount(b: &[u8]) -> u64 {
    let mut blocks = b.chunks_exact(32);
    let (mut c0, mut c1, mut c2, mut c3) = (0u64, 0u64, 0u64, 0u64);
    for blk in &mut blocks {
        c0 += u64::from(word(&blk[0..]).count_ones());
        c1 += u64::from(word(&blk[8..]).count_ones());
        c2 += u64::from(word(&blk[16..]).count_ones());
        c3 += u64::from(word(&blk[24..]).count_ones());
    }
    let mut n = c0 + c1 + c2 + c3;
    let mut words = blocks.remainder().chunks_exact(8);
    for w in &mut words {
        n += u64::from(word(w).count_ones());
    }
    for &byte in words.remainder() {
        n += u64::from(byte.count_ones());
    }
    n
}

/// Set bits among bits `from..=to` (which lie within `b`).
fn count_bits(b: &[u8], from: u64, to: u64) -> u64 {
    let (fb, lb) = ((from >> 3) as usize, (to >> 3) as usize);
    let mut n = popcount(&b[fb..=lb]);
    let before = !(0xffu8 >> (from & 7));
    let after = ((1u32 << (7 - (to & 7))) - 1) as u8;
    n -= u64::from((b[fb] & before).count_ones());
    n -= u64::from((b[lb] & after).count_ones());
    n
}

/// The first bit equal to `want` among bits `from..=to` (which lie within `b`),
/// skipping whole words that cannot hold it.
fn find_bit(b: &[u8], from: u64, to: u64, want: bool) -> Option<u64> {
    let (fb, lb) = ((from >> 3) as usize, (to >> 3) as usize);
    let skip = if want { 0u64 } else { u64::MAX };
    let mut i = fb;
    while i <= lb {
        if i > fb && i + 8 <= lb && word(&b[i..]) == skip {
            i += 8;
            continue;
        }
        let mut x = if want { b[i] } else { !b[i] };
        if i == fb {
            x &= 0xff >> (from & 7);
        }
        if i == lb {
            x &= !(((1u32 << (7 - (to & 7))) - 1) as u8);
        }
        if x != 0 {
            return Some(i as u64 * 8 + u64::from(x.leading_zeros()));
        }
        i += 1;
    }
    None
}

/// Grows `data` with zero bytes to `len`. The reservation follows sds's (double below
/// 1 MB, one more MB above) so repeated writes at the end are amortized, but never
/// reserves past `limit` (the largest string allowed) unless `len` itself is past it.
fn grow_zeroed(data: &mut Vec<u8>, len: usize, limit: usize) {
    if data.len() >= len {
        return;
    }
    if data.capacity() < len {
        const MB: usize = 1 << 20;
        let greedy = if len < MB { len * 2 } else { len + MB };
        let target = greedy.min(limit.max(len));
        data.reserve_exact(target - data.len());
    }
    data.resize(len, 0);
}

/// Runs `f` on the bytes of the string at `key` for a write, creating it or growing it
/// with zeros to at least `min_len` bytes first. Err if the key holds another type.
fn write_bits<T>(
    ctx: &mut Ctx<'_, '_>,
    key: &[u8],
    min_len: usize,
    f: impl FnOnce(&mut Vec<u8>, &mut resp::ReplyWriter) -> T,
) -> Result<T, ()> {
    let (db, now, touch) = (ctx.db(), ctx.now_ms, touches(ctx));
    let limit = usize::try_from(max_string_len(ctx)).unwrap_or(usize::MAX);
    let mut f = Some(f);
    let found = match ctx.ks.get_for_write(db, key, now) {
        None => None,
        Some(mut e) => {
            if let Some(c) = &touch {
                e.touch(c);
            }
            Some(match (str_of_mut(&mut e.value), f.take()) {
                (Some(s), Some(f)) => {
                    let data = s.make_raw();
                    grow_zeroed(data, min_len, limit);
                    Ok(f(data, ctx.out))
                }
                _ => Err(()),
            })
        }
    };
    match (found, f) {
        (Some(r), _) => r,
        (None, Some(f)) => {
            let mut data = vec![0u8; min_len];
            let r = f(&mut data, ctx.out);
            ctx.ks.insert(
                db,
                new_entry(key, Value::Str(Str::raw(data)), &ctx.access),
                now,
            );
            Ok(r)
        }
        (None, None) => Err(()),
    }
}

/// Runs `f` on the bytes of the string at `key` for a read. Ok(None) if the key is
/// missing, Err if it holds another type.
fn read_bits<T>(
    ctx: &mut Ctx<'_, '_>,
    key: &[u8],
    f: impl FnOnce(&mut resp::ReplyWriter, &[u8]) -> T,
) -> Result<Option<T>, ()> {
    let (db, now, touch) = (ctx.db(), ctx.now_ms, touches(ctx));
    match ctx.ks.get(db, key, now) {
        None => Ok(None),
        Some(mut e) => {
            if let Some(c) = &touch {
                e.touch(c);
            }
            match str_of(&e.value) {
                None => Err(()),
                Some(s) => Ok(Some(s.with_bytes(|b| f(ctx.out, b)))),
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// SETBIT, GETBIT
// ---------------------------------------------------------------------------------------

/// SETBIT key offset value: replies with the bit's previous value.
fn setbit(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]]) {
    let off = match bit_offset(argv[2], None, max_string_len(ctx)) {
        Ok(o) => o,
        Err(e) => return ctx.error(e),
    };
    let on = match parse_i64(argv[3]) {
        Some(v) if v & !1 == 0 => v as u8,
        _ => return ctx.error(errors::BIT_VALUE),
    };
    let byte = (off >> 3) as usize;
    let shift = 7 - (off & 7) as u32;
    let r = write_bits(ctx, argv[1], byte + 1, |data, _| {
        let old = (data[byte] >> shift) & 1;
        data[byte] = (data[byte] & !(1 << shift)) | (on << shift);
        old
    });
    match r {
        Ok(old) => {
            ctx.notify(class::STRING, "setbit", argv[1]);
            ctx.out.int(i64::from(old))
        }
        Err(()) => ctx.error(errors::WRONGTYPE),
    }
}

/// GETBIT key offset: bits past the end read as 0.
fn getbit(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]]) {
    let off = match bit_offset(argv[2], None, max_string_len(ctx)) {
        Ok(o) => o,
        Err(e) => return ctx.error(e),
    };
    let byte = (off >> 3) as usize;
    let shift = 7 - (off & 7) as u32;
    let r = read_bits(ctx, argv[1], |_, b| {
        b.get(byte).map_or(0, |&x| (x >> shift) & 1)
    });
    match r {
        Ok(bit) => ctx.out.int(i64::from(bit.unwrap_or(0))),
        Err(()) => ctx.error(errors::WRONGTYPE),
    }
}

// ---------------------------------------------------------------------------------------
// BITCOUNT, BITPOS
// ---------------------------------------------------------------------------------------

/// Clamps a start/end pair (negative values count from the end) to `0..totlen`, as
/// Redis does for BITCOUNT and BITPOS; None for an empty range.
fn clamp_range(mut start: i64, mut end: i64, totlen: i64) -> Option<(u64, u64)> {
    if start < 0 {
        start += totlen;
    }
    if end < 0 {
        end += totlen;
    }
    start = start.max(0);
    end = end.max(0);
    if end >= totlen {
        end = totlen - 1;
    }
    (start <= end).then_some((start as u64, end as u64))
}

/// BITCOUNT key [start end [BYTE|BIT]]. As in Redis 7.0 the key is looked up first:
/// a missing key counts 0 whatever the other arguments are.
fn bitcount(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]]) {
    let r = read_bits(ctx, argv[1], |out, b| -> Result<(), &'static str> {
        let len = b.len() as i64;
        let range = match argv.len() {
            2 => clamp_range(0, len - 1, len).map(|(s, e)| (s * 8, e * 8 + 7)),
            4 | 5 => {
                let start = parse_i64(argv[2]).ok_or(errors::NOT_INTEGER)?;
                let end = parse_i64(argv[3]).ok_or(errors::NOT_INTEGER)?;
                let bits = match argv.get(4) {
                    Some(unit) => index_unit(unit)?,
                    None => false,
                };
                if start < 0 && end < 0 && start > end {
                    None
                } else if bits {
                    clamp_range(start, end, len * 8)
                } else {
                    clamp_range(start, end, len).map(|(s, e)| (s * 8, e * 8 + 7))
                }
            }
            _ => return Err(errors::SYNTAX),
        };
        out.int(range.map_or(0, |(from, to)| count_bits(b, from, to)) as i64);
        Ok(())
    });
    match r {
        Ok(None) => ctx.out.int(0),
        Ok(Some(Ok(()))) => {}
        Ok(Some(Err(e))) => ctx.error(e),
        Err(()) => ctx.error(errors::WRONGTYPE),
    }
}

/// BITPOS key bit [start [end [BYTE|BIT]]]: the first bit set (or clear) in the range.
/// Without an explicit end, the string reads as followed by zeros, so looking for a 0
/// in a run of ones answers the first bit past it; with one, "not found" is -1.
fn bitpos(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]]) {
    let want = match parse_i64(argv[2]) {
        None => return ctx.error(errors::NOT_INTEGER),
        Some(0) => false,
        Some(1) => true,
        Some(_) => return ctx.error(errors::BITPOS_BIT),
    };
    let r = read_bits(ctx, argv[1], |out, b| -> Result<(), &'static str> {
        let len = b.len() as i64;
        let (range, end_given) = match argv.len() {
            3 => (
                clamp_range(0, len - 1, len).map(|(s, e)| (s * 8, e * 8 + 7)),
                false,
            ),
            4..=6 => {
                let start = parse_i64(argv[3]).ok_or(errors::NOT_INTEGER)?;
                let bits = match argv.get(5) {
                    Some(unit) => index_unit(unit)?,
                    None => false,
                };
                let end = match argv.get(4) {
                    Some(e) => parse_i64(e).ok_or(errors::NOT_INTEGER)?,
                    None => len - 1,
                };
                let range = if bits {
                    clamp_range(start, end, len * 8)
                } else {
                    clamp_range(start, end, len).map(|(s, e)| (s * 8, e * 8 + 7))
                };
                (range, argv.len() >= 5)
            }
            _ => return Err(errors::SYNTAX),
        };
        let pos = match range {
            None => -1,
            Some((from, to)) => match find_bit(b, from, to, want) {
                Some(p) => p as i64,
                None if want || end_given => -1,
                None => (to + 1) as i64,
            },
        };
        out.int(pos);
        Ok(())
    });
    match r {
        Ok(None) => ctx.out.int(if want { -1 } else { 0 }),
        Ok(Some(Ok(()))) => {}
        Ok(Some(Err(e))) => ctx.error(e),
        Err(()) => ctx.error(errors::WRONGTYPE),
    }
}

// ---------------------------------------------------------------------------------------
// BITOP
// ---------------------------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq, Eq)]
enum BitOp {
    And,
    Or,
    Xor,
    Not,
}

/// Folds one source into the result so far; bytes past a string's end count as 0.
fn fold(acc: &mut Vec<u8>, src: &[u8], op: BitOp, first: bool) {
    if first {
        acc.clear();
        match op {
            BitOp::Not => acc.extend(src.iter().map(|&b| !b)),
            _ => acc.extend_from_slice(src),
        }
        return;
    }
    let n = acc.len().min(src.len());
    match op {
        BitOp::And => {
            for (a, &b) in acc[..n].iter_mut().zip(&src[..n]) {
                *a &= b;
            }
            acc[n..].fill(0);
            if src.len() > acc.len() {
                acc.resize(src.len(), 0);
            }
        }
        BitOp::Or | BitOp::Xor => {
            if op == BitOp::Or {
                for (a, &b) in acc[..n].iter_mut().zip(&src[..n]) {
                    *a |= b;
                }
            } else {
                for (a, &b) in acc[..n].iter_mut().zip(&src[..n]) {
                    *a ^= b;
                }
            }
            if src.len() > n {
                acc.extend_from_slice(&src[n..]);
            }
        }
        // NOT takes exactly one source.
        BitOp::Not => {}
    }
}

/// BITOP AND|OR|XOR|NOT destkey key [key ...]: stores the result (as long as the
/// longest source) in destkey, or deletes destkey when every source is empty; replies
/// with the result's length.
fn bitop(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]]) {
    let op = if kw(argv[1], b"and") {
        BitOp::And
    } else if kw(argv[1], b"or") {
        BitOp::Or
    } else if kw(argv[1], b"xor") {
        BitOp::Xor
    } else if kw(argv[1], b"not") {
        BitOp::Not
    } else {
        return ctx.error(errors::SYNTAX);
    };
    if op == BitOp::Not && argv.len() != 4 {
        return ctx.error(errors::BITOP_NOT_ONE_KEY);
    }
    let (db, now, touch) = (ctx.db(), ctx.now_ms, touches(ctx));
    let mut acc: Vec<u8> = Vec::new();
    for (i, &key) in argv[3..].iter().enumerate() {
        let ok = match ctx.ks.get(db, key, now) {
            None => {
                fold(&mut acc, &[], op, i == 0);
                true
            }
            Some(mut e) => {
                if let Some(c) = &touch {
                    e.touch(c);
                }
                match str_of(&e.value) {
                    None => false,
                    Some(s) => {
                        s.with_bytes(|b| fold(&mut acc, b, op, i == 0));
                        true
                    }
                }
            }
        };
        if !ok {
            return ctx.error(errors::WRONGTYPE);
        }
    }
    let dest = argv[2];
    let len = acc.len();
    if len == 0 {
        if ctx.ks.remove(db, dest, now).is_some() {
            ctx.notify(class::GENERIC, "del", dest);
        }
    } else {
        acc.shrink_to_fit();
        ctx.ks.insert(
            db,
            new_entry(dest, Value::Str(Str::raw(acc)), &ctx.access),
            now,
        );
        ctx.notify(class::STRING, "set", dest);
    }
    ctx.out.int(len as i64);
}

// ---------------------------------------------------------------------------------------
// BITFIELD
// ---------------------------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Overflow {
    Wrap,
    Sat,
    Fail,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum FieldKind {
    Get,
    Set,
    IncrBy,
}

#[derive(Clone, Copy, Debug)]
struct FieldOp {
    kind: FieldKind,
    offset: u64,
    /// SET's value or INCRBY's increment.
    value: i64,
    signed: bool,
    bits: u32,
    overflow: Overflow,
}

/// A field type, `i1`..`i64` or `u1`..`u63`, read as C strings as Redis does.
fn field_type(arg: &[u8]) -> Result<(bool, u32), &'static str> {
    let a = c_str(arg);
    let signed = match a.first() {
        Some(b'i') => true,
        Some(b'u') => false,
        _ => return Err(errors::BITFIELD_TYPE),
    };
    match parse_i64(&a[1..]) {
        Some(bits) if bits >= 1 && bits <= if signed { 64 } else { 63 } => {
            Ok((signed, bits as u32))
        }
        _ => Err(errors::BITFIELD_TYPE),
    }
}

/// Parses the operations; also returns whether all are reads and the last bit any
/// write reaches.
fn parse_fields(argv: &[&[u8]], max_len: u64) -> Result<(Vec<FieldOp>, bool, u64), &'static str> {
    let mut ops = Vec::new();
    let mut overflow = Overflow::Wrap;
    let mut readonly = true;
    let mut highest = 0u64;
    let mut j = 2;
    while j < argv.len() {
        let rem = argv.len() - j - 1;
        let sub = argv[j];
        let kind = if kw(sub, b"get") && rem >= 2 {
            FieldKind::Get
        } else if kw(sub, b"set") && rem >= 3 {
            FieldKind::Set
        } else if kw(sub, b"incrby") && rem >= 3 {
            FieldKind::IncrBy
        } else if kw(sub, b"overflow") && rem >= 1 {
            let t = argv[j + 1];
            overflow = if kw(t, b"wrap") {
                Overflow::Wrap
            } else if kw(t, b"sat") {
                Overflow::Sat
            } else if kw(t, b"fail") {
                Overflow::Fail
            } else {
                return Err(errors::BITFIELD_OVERFLOW);
            };
            j += 2;
            continue;
        } else {
            return Err(errors::SYNTAX);
        };
        let (signed, bits) = field_type(argv[j + 1])?;
        let offset = bit_offset(argv[j + 2], Some(bits), max_len)?;
        let mut value = 0;
        if kind != FieldKind::Get {
            readonly = false;
            highest = highest.max(offset + u64::from(bits) - 1);
            value = parse_i64(argv[j + 3]).ok_or(errors::NOT_INTEGER)?;
        }
        ops.push(FieldOp {
            kind,
            offset,
            value,
            signed,
            bits,
            overflow,
        });
        j += if kind == FieldKind::Get { 3 } else { 4 };
    }
    Ok((ops, readonly, highest))
}

#[inline]
fn mask(bits: u32) -> u64 {
    if bits == 64 {
        u64::MAX
    } else {
        (1u64 << bits) - 1
    }
}

/// The unsigned field of `bits` bits at bit `offset`; bits past the end read as 0.
fn get_field(b: &[u8], offset: u64, bits: u32) -> u64 {
    let byte = (offset >> 3) as usize;
    let mut w: u128 = 0;
    for i in 0..9 {
        w = (w << 8)
            | u128::from(
                byte.checked_add(i)
                    .and_then(|k| b.get(k))
                    .copied()
                    .unwrap_or(0),
            );
    }
    let shift = 72 - (offset & 7) as u32 - bits;
    ((w >> shift) as u64) & mask(bits)
}

/// Stores the low `bits` bits of `value` at bit `offset` (within `b`).
fn set_field(b: &mut [u8], offset: u64, bits: u32, value: u64) {
    let byte = (offset >> 3) as usize;
    let first = (offset & 7) as u32;
    let touched = (first + bits).div_ceil(8) as usize;
    let mut w: u128 = 0;
    for i in 0..9 {
        let x = if i < touched {
            b.get(byte + i).copied().unwrap_or(0)
        } else {
            0
        };
        w = (w << 8) | u128::from(x);
    }
    let shift = 72 - first - bits;
    let m = u128::from(mask(bits)) << shift;
    w = (w & !m) | ((u128::from(value & mask(bits))) << shift);
    for i in 0..touched {
        if let Some(x) = b.get_mut(byte + i) {
            *x = (w >> (8 * (8 - i))) as u8;
        }
    }
}

/// Sign-extends a `bits`-bit two's complement field.
fn sign_extend(v: u64, bits: u32) -> i64 {
    if bits < 64 && v & (1u64 << (bits - 1)) != 0 {
        (v | (u64::MAX << bits)) as i64
    } else {
        v as i64
    }
}

/// Whether `value + incr` fits an unsigned field of `bits` bits (0), overflows (1) or
/// underflows (-1), with the value to store under WRAP or SAT (Redis's
/// checkUnsignedBitfieldOverflow, to the letter: SET passes the new value with no
/// increment, so a negative one counts as too big).
fn unsigned_overflow(value: u64, incr: i64, bits: u32, ow: Overflow) -> (i32, u64) {
    let max = mask(bits);
    let maxincr = max.wrapping_sub(value) as i64;
    let minincr = value.wrapping_neg() as i64;
    let wrap = || value.wrapping_add(incr as u64) & max;
    if value > max || (incr > 0 && incr > maxincr) {
        let limit = match ow {
            Overflow::Wrap => wrap(),
            Overflow::Sat => max,
            Overflow::Fail => 0,
        };
        (1, limit)
    } else if incr < 0 && incr < minincr {
        let limit = match ow {
            Overflow::Wrap => wrap(),
            _ => 0,
        };
        (-1, limit)
    } else {
        (0, 0)
    }
}

/// The signed counterpart (Redis's checkSignedBitfieldOverflow).
fn signed_overflow(value: i64, incr: i64, bits: u32, ow: Overflow) -> (i32, i64) {
    let max: i64 = if bits == 64 {
        i64::MAX
    } else {
        (1i64 << (bits - 1)) - 1
    };
    let min = -max - 1;
    let maxincr = (max as u64).wrapping_sub(value as u64) as i64;
    let minincr = min.wrapping_sub(value);
    let wrap = || {
        let mut c = (value as u64).wrapping_add(incr as u64);
        if bits < 64 {
            let msb = 1u64 << (bits - 1);
            let high = u64::MAX << bits;
            if c & msb != 0 {
                c |= high;
            } else {
                c &= !high;
            }
        }
        c as i64
    };
    if value > max || (bits != 64 && incr > maxincr) || (value >= 0 && incr > 0 && incr > maxincr) {
        let limit = match ow {
            Overflow::Wrap => wrap(),
            Overflow::Sat => max,
            Overflow::Fail => 0,
        };
        (1, limit)
    } else if value < min
        || (bits != 64 && incr < minincr)
        || (value < 0 && incr < 0 && incr < minincr)
    {
        let limit = match ow {
            Overflow::Wrap => wrap(),
            Overflow::Sat => min,
            Overflow::Fail => 0,
        };
        (-1, limit)
    } else {
        (0, 0)
    }
}

/// Runs a write's operations in order on `b` (already long enough), replying to each.
fn run_fields(out: &mut resp::ReplyWriter, b: &mut [u8], ops: &[FieldOp]) {
    out.array(ops.len());
    for op in ops {
        let FieldOp {
            kind,
            offset,
            value,
            signed,
            bits,
            overflow,
        } = *op;
        if kind == FieldKind::Get {
            reply_get(out, b, op);
            continue;
        }
        let raw_old = get_field(b, offset, bits);
        let (over, new, ret) = if signed {
            let old = sign_extend(raw_old, bits);
            if kind == FieldKind::IncrBy {
                let (over, limit) = signed_overflow(old, value, bits, overflow);
                let new = if over != 0 {
                    limit
                } else {
                    old.wrapping_add(value)
                };
                (over, new as u64, new)
            } else {
                let (over, limit) = signed_overflow(value, 0, bits, overflow);
                let new = if over != 0 { limit } else { value };
                (over, new as u64, old)
            }
        } else if kind == FieldKind::IncrBy {
            let (over, limit) = unsigned_overflow(raw_old, value, bits, overflow);
            let new = if over != 0 {
                limit
            } else {
                raw_old.wrapping_add(value as u64)
            };
            (over, new, new as i64)
        } else {
            let (over, limit) = unsigned_overflow(value as u64, 0, bits, overflow);
            let new = if over != 0 { limit } else { value as u64 };
            (over, new, raw_old as i64)
        };
        if over != 0 && overflow == Overflow::Fail {
            out.null();
        } else {
            out.int(ret);
            set_field(b, offset, bits, new);
        }
    }
}

fn reply_get(out: &mut resp::ReplyWriter, b: &[u8], op: &FieldOp) {
    let v = get_field(b, op.offset, op.bits);
    out.int(if op.signed {
        sign_extend(v, op.bits)
    } else {
        v as i64
    });
}

/// BITFIELD key [GET type offset | SET type offset value | INCRBY type offset incr |
/// OVERFLOW WRAP|SAT|FAIL] ...
fn bitfield(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]]) {
    bitfield_generic(ctx, argv, false);
}

/// BITFIELD_RO key [GET type offset] ...: only GET (checked after parsing everything).
fn bitfield_ro(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]]) {
    bitfield_generic(ctx, argv, true);
}

fn bitfield_generic(ctx: &mut Ctx<'_, '_>, argv: &[&[u8]], ro: bool) {
    let (ops, readonly, highest) = match parse_fields(argv, max_string_len(ctx)) {
        Ok(p) => p,
        Err(e) => return ctx.error(e),
    };
    if readonly {
        let r = read_bits(ctx, argv[1], |out, b| {
            out.array(ops.len());
            for op in &ops {
                reply_get(out, b, op);
            }
        });
        match r {
            Ok(Some(())) => {}
            Ok(None) => {
                ctx.out.array(ops.len());
                for op in &ops {
                    reply_get(ctx.out, &[], op);
                }
            }
            Err(()) => ctx.error(errors::WRONGTYPE),
        }
        return;
    }
    if ro {
        return ctx.error(errors::BITFIELD_RO_GET_ONLY);
    }
    let min_len = (highest >> 3) as usize + 1;
    if write_bits(ctx, argv[1], min_len, |b, out| run_fields(out, b, &ops)).is_err() {
        ctx.error(errors::WRONGTYPE);
    } else {
        ctx.notify(class::STRING, "setbit", argv[1]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::families::util::testkit::Kit;

    const WRONGTYPE: &str =
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n";
    const SYNTAX: &str = "-ERR syntax error\r\n";
    const NOT_INT: &str = "-ERR value is not an integer or out of range\r\n";
    const BAD_OFFSET: &str = "-ERR bit offset is not an integer or out of range\r\n";

    /// Stores a list at `key` (a value of another type than string).
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

    /// Runs a command and returns the raw reply bytes.
    fn raw(k: &mut Kit, argv: &[&[u8]]) -> Vec<u8> {
        k.call(argv);
        k.out.as_bytes().to_vec()
    }

    fn bits_of(b: &[u8]) -> Vec<bool> {
        b.iter()
            .flat_map(|&x| (0..8).rev().map(move |i| (x >> i) & 1 == 1))
            .collect()
    }

    mod props {
        use super::super::*;
        use proptest::prelude::*;

        fn bits_of(b: &[u8]) -> Vec<bool> {
            b.iter()
                .flat_map(|&x| (0..8).rev().map(move |i| (x >> i) & 1 == 1))
                .collect()
        }

        proptest! {
            /// Counting and searching a bit range agree with a walk over single bits,
            /// on data with long runs (the word-skipping paths) and without.
            #[test]
            fn ranges_match_single_bits(
                data in proptest::collection::vec(prop_oneof![Just(0u8), Just(0xffu8), any::<u8>()], 1..80),
                a in any::<u64>(),
                b in any::<u64>(),
                want in any::<bool>(),
            ) {
                let bits = bits_of(&data);
                let n = bits.len() as u64;
                let (from, to) = { let (x, y) = (a % n, b % n); (x.min(y), x.max(y)) };
                let slice = &bits[from as usize..=to as usize];
                prop_assert_eq!(count_bits(&data, from, to), slice.iter().filter(|&&x| x).count() as u64);
                prop_assert_eq!(popcount(&data), bits.iter().filter(|&&x| x).count() as u64);
                let naive = slice.iter().position(|&x| x == want).map(|p| from + p as u64);
                prop_assert_eq!(find_bit(&data, from, to, want), naive);
            }

            /// A field written then read back gives its value; no other bit moves.
            #[test]
            fn fields_write_only_their_bits(
                data in proptest::collection::vec(any::<u8>(), 9..24),
                bits in 1u32..=64,
                off in any::<u64>(),
                value in any::<u64>(),
            ) {
                let total = data.len() as u64 * 8;
                let offset = off % (total - u64::from(bits) + 1);
                let mut b = data.clone();
                set_field(&mut b, offset, bits, value);
                prop_assert_eq!(get_field(&b, offset, bits), value & mask(bits));
                let (before, after) = (bits_of(&data), bits_of(&b));
                for i in 0..total as usize {
                    if (i as u64) < offset || i as u64 >= offset + u64::from(bits) {
                        prop_assert_eq!(before[i], after[i], "bit {} moved", i);
                    }
                }
            }
        }
    }

    #[test]
    fn popcount_matches_naive() {
        let data: Vec<u8> = (0..1000u32)
            .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
            .collect();
        for len in [0, 1, 7, 8, 9, 31, 32, 33, 100, 1000] {
            let naive: u64 = data[..len].iter().map(|b| u64::from(b.count_ones())).sum();
            assert_eq!(popcount(&data[..len]), naive, "len {len}");
        }
    }

    #[test]
    fn bit_ranges_match_naive() {
        let data: Vec<u8> = (0..40u32)
            .map(|i| (i.wrapping_mul(40503) >> 3) as u8)
            .collect();
        let mut data2 = data.clone();
        data2[10..30].fill(0xff);
        let mut data3 = data.clone();
        data3[10..30].fill(0);
        for d in [&data, &data2, &data3] {
            let bits = bits_of(d);
            let n = bits.len() as u64;
            for from in (0..n).step_by(3) {
                for to in (from..n).step_by(5) {
                    let slice = &bits[from as usize..=to as usize];
                    let ones = slice.iter().filter(|&&b| b).count() as u64;
                    assert_eq!(count_bits(d, from, to), ones);
                    for want in [false, true] {
                        let naive = slice
                            .iter()
                            .position(|&b| b == want)
                            .map(|p| from + p as u64);
                        assert_eq!(find_bit(d, from, to, want), naive, "{from}..={to} {want}");
                    }
                }
            }
        }
    }

    #[test]
    fn fields_roundtrip() {
        let mut b = vec![0u8; 20];
        let mut model = vec![false; 160];
        let mut x = 7u64;
        for _ in 0..2000 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let bits = (x >> 58) as u32 + 1;
            let offset = (x >> 20) % (160 - u64::from(bits) + 1);
            let value = x.rotate_left(17);
            set_field(&mut b, offset, bits, value);
            for i in 0..bits {
                model[(offset + u64::from(i)) as usize] = (value >> (bits - 1 - i)) & 1 == 1;
            }
            assert_eq!(bits_of(&b), model);
            assert_eq!(get_field(&b, offset, bits), value & mask(bits));
        }
        // Past the end reads as zeros.
        assert_eq!(get_field(&[0xff], 4, 8), 0xf0);
        assert_eq!(get_field(&[], 1 << 40, 64), 0);
        assert_eq!(sign_extend(0b1000, 4), -8);
        assert_eq!(sign_extend(u64::MAX, 64), -1);
    }

    #[test]
    fn overflow_rules() {
        assert_eq!(unsigned_overflow(250, 10, 8, Overflow::Wrap), (1, 4));
        assert_eq!(unsigned_overflow(250, 10, 8, Overflow::Sat), (1, 255));
        assert_eq!(unsigned_overflow(5, -10, 8, Overflow::Sat), (-1, 0));
        assert_eq!(unsigned_overflow(5, -10, 8, Overflow::Wrap), (-1, 251));
        assert_eq!(unsigned_overflow(u64::MAX, 0, 8, Overflow::Wrap), (1, 255));
        assert_eq!(unsigned_overflow(5, 3, 8, Overflow::Fail), (0, 0));
        assert_eq!(signed_overflow(100, 100, 8, Overflow::Wrap), (1, -56));
        assert_eq!(signed_overflow(100, 100, 8, Overflow::Sat), (1, 127));
        assert_eq!(signed_overflow(-100, -100, 8, Overflow::Sat), (-1, -128));
        assert_eq!(signed_overflow(-100, -100, 8, Overflow::Wrap), (-1, 56));
        assert_eq!(
            signed_overflow(i64::MAX, 1, 64, Overflow::Wrap),
            (1, i64::MIN)
        );
        assert_eq!(
            signed_overflow(i64::MIN, -1, 64, Overflow::Sat),
            (-1, i64::MIN)
        );
        assert_eq!(signed_overflow(1000, 0, 8, Overflow::Wrap), (1, -24));
        assert_eq!(signed_overflow(-5, 3, 8, Overflow::Fail), (0, 0));
    }

    #[test]
    fn setbit_getbit() {
        let mut k = Kit::new();
        assert_eq!(k.cmd("setbit b 7 1"), ":0\r\n");
        assert_eq!(k.cmd("get b"), "$1\r\n\x01\r\n");
        assert_eq!(k.cmd("object encoding b"), "$3\r\nraw\r\n");
        assert_eq!(k.cmd("setbit b 7 0"), ":1\r\n");
        assert_eq!(k.cmd("setbit b 7 0"), ":0\r\n");
        assert_eq!(k.cmd("setbit b 100 1"), ":0\r\n");
        assert_eq!(k.cmd("strlen b"), ":13\r\n");
        assert_eq!(k.cmd("getbit b 100"), ":1\r\n");
        assert_eq!(k.cmd("getbit b 101"), ":0\r\n");
        assert_eq!(k.cmd("getbit b 100000"), ":0\r\n");
        assert_eq!(k.cmd("getbit nokey 3"), ":0\r\n");
        assert_eq!(
            k.cmd("setbit b 1 2"),
            "-ERR bit is not an integer or out of range\r\n"
        );
        assert_eq!(
            k.cmd("setbit b 1 -1"),
            "-ERR bit is not an integer or out of range\r\n"
        );
        assert_eq!(k.cmd("setbit b x 1"), BAD_OFFSET);
        assert_eq!(k.cmd("setbit b -1 1"), BAD_OFFSET);
        assert_eq!(k.cmd("setbit b 4294967296 1"), BAD_OFFSET);
        assert_eq!(k.cmd("getbit b 4294967296"), BAD_OFFSET);
        assert_eq!(k.cmd("getbit b #1"), BAD_OFFSET);
        assert_eq!(k.cmd("set n 1"), "+OK\r\n");
        // "1" is 0x31 = 00110001.
        assert_eq!(k.cmd("getbit n 2"), ":1\r\n");
        assert_eq!(k.cmd("setbit n 6 1"), ":0\r\n");
        assert_eq!(k.cmd("get n"), "$1\r\n3\r\n");
        assert_eq!(k.cmd("object encoding n"), "$3\r\nraw\r\n");
        put_list(&mut k, "l");
        assert_eq!(k.cmd("setbit l 0 1"), WRONGTYPE);
        assert_eq!(k.cmd("getbit l 0"), WRONGTYPE);
        assert_eq!(k.cmd("getbit l x"), BAD_OFFSET);
        assert_eq!(k.cmd("set s v"), "+OK\r\n");
        assert_eq!(k.cmd("setbit s 0 1"), ":0\r\n");
        // The offset limit follows proto-max-bulk-len.
        k.inst.config.write().proto_max_bulk_len = 4;
        assert_eq!(k.cmd("setbit c 32 1"), BAD_OFFSET);
        assert_eq!(k.cmd("setbit c 31 1"), ":0\r\n");
        assert_eq!(k.cmd("strlen c"), ":4\r\n");
    }

    #[test]
    fn bitcount_and_bitpos() {
        let mut k = Kit::new();
        assert_eq!(k.cmd("set s foobar"), "+OK\r\n");
        assert_eq!(k.cmd("bitcount s"), ":26\r\n");
        assert_eq!(k.cmd("bitcount s 0 0"), ":4\r\n");
        assert_eq!(k.cmd("bitcount s 1 1"), ":6\r\n");
        assert_eq!(k.cmd("bitcount s 1 1 byte"), ":6\r\n");
        assert_eq!(k.cmd("bitcount s 5 30 bit"), ":17\r\n");
        assert_eq!(k.cmd("bitcount s -2 -1"), ":7\r\n");
        assert_eq!(k.cmd("bitcount s -1 -2"), ":0\r\n");
        assert_eq!(k.cmd("bitcount s 0"), SYNTAX);
        assert_eq!(k.cmd("bitcount s 0 1 foo"), SYNTAX);
        assert_eq!(k.cmd("bitcount s x 1"), NOT_INT);
        // A missing key counts 0 before any argument is looked at (Redis 7.0).
        assert_eq!(k.cmd("bitcount nokey x y"), ":0\r\n");
        assert_eq!(k.cmd("bitcount nokey 0"), ":0\r\n");
        assert_eq!(k.cmd("setbit z 0 0"), ":0\r\n");
        assert_eq!(k.cmd("bitpos z 1"), ":-1\r\n");
        put_list(&mut k, "l");
        assert_eq!(k.cmd("bitcount l"), WRONGTYPE);
        assert_eq!(k.cmd("bitcount l x y"), WRONGTYPE);
        assert_eq!(k.cmd("bitpos l 1 x"), WRONGTYPE);
        assert_eq!(
            k.cmd("bitpos l 2"),
            "-ERR The bit argument must be 1 or 0.\r\n"
        );
        assert_eq!(k.cmd("bitpos s 1"), ":1\r\n");
        assert_eq!(k.cmd("bitpos s 0"), ":0\r\n");
        assert_eq!(k.cmd("bitpos s 1 2"), ":17\r\n");
        assert_eq!(k.cmd("bitpos s 1 7 15 bit"), ":9\r\n");
        assert_eq!(
            k.cmd("bitpos s 2"),
            "-ERR The bit argument must be 1 or 0.\r\n"
        );
        assert_eq!(k.cmd("bitpos nokey 1 x"), ":-1\r\n");
        assert_eq!(k.cmd("bitpos nokey 0"), ":0\r\n");
        assert_eq!(k.cmd("bitpos s 1 1 2 foo"), SYNTAX);
        assert_eq!(k.cmd("bitpos s 1 x 2 foo"), NOT_INT);
        assert_eq!(k.cmd("bitpos s 1 1 x foo"), SYNTAX);
        k.call(&[b"set", b"allones", b"\xff\xff\xff"]);
        assert_eq!(k.cmd("bitpos allones 0"), ":24\r\n");
        assert_eq!(k.cmd("bitpos allones 0 1"), ":24\r\n");
        assert_eq!(k.cmd("bitpos allones 0 1 -1"), ":-1\r\n");
        assert_eq!(k.cmd("bitpos allones 0 0 10 bit"), ":-1\r\n");
        assert_eq!(k.cmd("bitpos allones 1 2 1"), ":-1\r\n");
        k.call(&[b"set", b"empty", b""]);
        assert_eq!(k.cmd("bitpos empty 0"), ":-1\r\n");
        assert_eq!(k.cmd("bitcount empty"), ":0\r\n");
    }

    #[test]
    fn bitop() {
        let mut k = Kit::new();
        k.call(&[b"set", b"a", b"\x0f\xf0\xaa"]);
        k.call(&[b"set", b"b", b"\xff"]);
        assert_eq!(k.cmd("bitop and d a b"), ":3\r\n");
        assert_eq!(k.cmd("get d"), "$3\r\n\x0f\0\0\r\n");
        assert_eq!(k.cmd("object encoding d"), "$3\r\nraw\r\n");
        assert_eq!(k.cmd("bitop or d a b nokey"), ":3\r\n");
        assert_eq!(raw(&mut k, &[b"get", b"d"]), b"$3\r\n\xff\xf0\xaa\r\n");
        assert_eq!(k.cmd("bitop xor d a b"), ":3\r\n");
        assert_eq!(raw(&mut k, &[b"get", b"d"]), b"$3\r\n\xf0\xf0\xaa\r\n");
        assert_eq!(k.cmd("bitop not d a"), ":3\r\n");
        assert_eq!(raw(&mut k, &[b"get", b"d"]), b"$3\r\n\xf0\x0f\x55\r\n");
        assert_eq!(k.cmd("bitop xor d b b"), ":1\r\n");
        assert_eq!(k.cmd("get d"), "$1\r\n\0\r\n");
        assert_eq!(k.cmd("bitop not d b"), ":1\r\n");
        assert_eq!(k.cmd("get d"), "$1\r\n\0\r\n");
        assert_eq!(
            k.cmd("bitop not d a b"),
            "-ERR BITOP NOT must be called with a single source key.\r\n"
        );
        assert_eq!(k.cmd("bitop nand d a b"), SYNTAX);
        assert_eq!(k.cmd("set t x ex 100"), "+OK\r\n");
        assert_eq!(k.cmd("bitop and t a"), ":3\r\n");
        assert_eq!(k.cmd("ttl t"), ":-1\r\n");
        assert_eq!(k.cmd("bitop and t nokey nokey2"), ":0\r\n");
        assert_eq!(k.cmd("exists t"), ":0\r\n");
        put_list(&mut k, "l");
        assert_eq!(k.cmd("set d keep"), "+OK\r\n");
        assert_eq!(k.cmd("bitop or d a l"), WRONGTYPE);
        assert_eq!(k.cmd("bitop not d l"), WRONGTYPE);
        assert_eq!(k.cmd("get d"), "$4\r\nkeep\r\n");
        // The destination may be a source, and may hold another type before.
        assert_eq!(k.cmd("bitop and l a a"), ":3\r\n");
        assert_eq!(k.cmd("type l"), "+string\r\n");
    }

    #[test]
    fn bitfield_ops() {
        let mut k = Kit::new();
        assert_eq!(
            k.cmd("bitfield bf set i8 0 -1 get u4 0 get i4 4"),
            "*3\r\n:0\r\n:15\r\n:-1\r\n"
        );
        assert_eq!(raw(&mut k, &[b"get", b"bf"]), b"$1\r\n\xff\r\n");
        assert_eq!(
            k.cmd("bitfield bf incrby u2 100 1 overflow sat incrby u2 102 1"),
            "*2\r\n:1\r\n:1\r\n"
        );
        assert_eq!(k.cmd("strlen bf"), ":13\r\n");
        assert_eq!(
            k.cmd("bitfield bf overflow fail incrby u2 100 3 get u2 100"),
            "*2\r\n$-1\r\n:1\r\n"
        );
        assert_eq!(
            k.cmd("bitfield bf overflow sat incrby i8 #1 200 incrby i8 #1 -1000"),
            "*2\r\n:127\r\n:-128\r\n"
        );
        assert_eq!(
            k.cmd("bitfield bf overflow wrap set i64 0 -1 incrby i64 0 1"),
            "*2\r\n:-36028797018963968\r\n:0\r\n"
        );
        assert_eq!(
            k.cmd("bitfield nokey get u8 0 get i64 100"),
            "*2\r\n:0\r\n:0\r\n"
        );
        assert_eq!(k.cmd("exists nokey"), ":0\r\n");
        assert_eq!(k.cmd("bitfield nokey"), "*0\r\n");
        assert_eq!(
            k.cmd("bitfield new overflow fail set u2 0 5"),
            "*1\r\n$-1\r\n"
        );
        assert_eq!(k.cmd("strlen new"), ":1\r\n");
        let bad_type = "-ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.\r\n";
        assert_eq!(k.cmd("bitfield bf get u64 0"), bad_type);
        assert_eq!(k.cmd("bitfield bf get i65 0"), bad_type);
        assert_eq!(k.cmd("bitfield bf get i0 0"), bad_type);
        assert_eq!(k.cmd("bitfield bf get x8 0"), bad_type);
        assert_eq!(k.cmd("bitfield bf get i8 -1"), BAD_OFFSET);
        assert_eq!(k.cmd("bitfield bf get i8 #-1"), BAD_OFFSET);
        assert_eq!(k.cmd("bitfield bf get i8 #536870912"), BAD_OFFSET);
        assert_eq!(k.cmd("bitfield bf get i8 #536870911"), "*1\r\n:0\r\n");
        assert_eq!(k.cmd("bitfield bf set i8 0 x"), NOT_INT);
        assert_eq!(
            k.cmd("bitfield bf overflow foo"),
            "-ERR Invalid OVERFLOW type specified\r\n"
        );
        assert_eq!(k.cmd("bitfield bf get i8"), SYNTAX);
        assert_eq!(k.cmd("bitfield bf foo"), SYNTAX);
        assert_eq!(
            k.cmd("bitfield_ro bf get u8 0 set u8 0 1"),
            "-ERR BITFIELD_RO only supports the GET subcommand\r\n"
        );
        assert_eq!(k.cmd("bitfield bf set u8 0 200"), "*1\r\n:0\r\n");
        assert_eq!(k.cmd("bitfield_ro bf get u8 0"), "*1\r\n:200\r\n");
        assert_eq!(k.cmd("bitfield_ro bf"), "*0\r\n");
        put_list(&mut k, "l");
        assert_eq!(k.cmd("bitfield l get u8 0"), WRONGTYPE);
        assert_eq!(k.cmd("bitfield l set u8 0 1"), WRONGTYPE);
        assert_eq!(k.cmd("bitfield_ro l get u8 0"), WRONGTYPE);
        assert_eq!(k.cmd("bitfield l get u8 x"), BAD_OFFSET);
        k.call(&[b"bitfield", b"bf", b"get\0junk", b"i8\0junk", b"0"]);
        assert_eq!(k.out.as_bytes(), b"*1\r\n:-56\r\n");
    }

    #[test]
    fn growth_is_amortized_but_bounded() {
        let mut v = vec![1u8; 10];
        grow_zeroed(&mut v, 100, 1 << 29);
        assert_eq!(v.len(), 100);
        assert!(v.capacity() >= 200);
        assert_eq!(&v[..11], &[1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0]);
        let mut v = vec![0u8; 10];
        grow_zeroed(&mut v, 1000, 1500);
        assert_eq!((v.len(), v.capacity()), (1000, 1500));
        let mut v = vec![0u8; 10];
        grow_zeroed(&mut v, 1000, 500);
        assert_eq!((v.len(), v.capacity()), (1000, 1000));
        let cap = v.capacity();
        grow_zeroed(&mut v, 900, 500);
        assert_eq!((v.len(), v.capacity()), (1000, cap));
    }

    #[test]
    fn offsets_never_allocate_past_the_limit() {
        let mut k = Kit::new();
        k.inst.config.write().proto_max_bulk_len = 1024;
        assert_eq!(k.cmd("bitfield big set u8 8192 1"), BAD_OFFSET);
        assert_eq!(k.cmd("exists big"), ":0\r\n");
        // Within the limit the field may end a little past it, as in Redis.
        assert_eq!(k.cmd("bitfield big set i64 8191 1"), "*1\r\n:0\r\n");
        assert_eq!(k.cmd("strlen big"), ":1032\r\n");
    }
}
