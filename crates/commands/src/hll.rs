//! HyperLogLog as Redis 7.0 stores it in a string value, byte for byte: the PF* commands
//! work on these bytes, and a client may GET them, SET them elsewhere (or on another
//! Redis) and go on with PFADD there, so the representation is the contract.
//!
//! Layout: a 16-byte header (`HYLL`, one encoding byte, three unused bytes, the cached
//! cardinality as a little-endian u64 whose top bit set means "stale"), then the
//! registers in one of two encodings:
//!
//! * dense: 16384 registers of 6 bits, packed from the least significant bit of each
//!   byte upwards (12288 bytes);
//! * sparse: run-length opcodes, ZERO `00xxxxxx` (1..=64 zero registers), XZERO
//!   `01xxxxxx yyyyyyyy` (1..=16384 zero registers) and VAL `1vvvvvxx` (1..=4 registers
//!   holding 1..=32). A new HLL is sparse; it becomes dense when a register needs a
//!   value above 32 or the string would grow beyond `hll-sparse-max-bytes`.
//!
//! Elements are hashed with MurmurHash64A (seed 0xadc83b19): the low 14 bits pick the
//! register, the position of the lowest set bit of the remaining 50 (plus one) is the
//! value offered to it. The estimate is Otmar Ertl's improved estimator over the
//! histogram of register values ("New cardinality estimation algorithms for
//! HyperLogLog sketches", arXiv:1702.01284), as Redis 5 and later compute it.
//!
//! Nothing here trusts the bytes: a string written by SET may claim to be an HLL and
//! carry any opcodes. Malformed data is reported as [`Corrupt`] (Redis's INVALIDOBJ)
//! without reading or writing out of bounds.

/// Bits of the hash that select a register.
const P: u32 = 14;
/// Bits of the hash left for the run of zeros.
const Q: u32 = 64 - P;
/// Number of registers.
pub const REGISTERS: usize = 1 << P;
const P_MASK: u64 = REGISTERS as u64 - 1;
/// Bits per dense register.
const BITS: usize = 6;
const REGISTER_MAX: u8 = (1 << BITS) - 1;
/// Header bytes before the registers.
pub const HDR_SIZE: usize = 16;
/// Length of a dense HLL string.
pub const DENSE_SIZE: usize = HDR_SIZE + (REGISTERS * BITS).div_ceil(8);
/// The encoding byte (offset 4 of the header).
pub const DENSE: u8 = 0;
pub const SPARSE: u8 = 1;
const ENCODING_AT: usize = 4;
const MAGIC: &[u8; 4] = b"HYLL";
/// The hash seed Redis uses for HLL elements.
const SEED: u64 = 0xadc8_3b19;
/// Redis's default `hll-sparse-max-bytes`.
pub const DEFAULT_SPARSE_MAX_BYTES: u64 = 3000;

const SPARSE_VAL_MAX_VALUE: u8 = 32;
const SPARSE_VAL_MAX_LEN: usize = 4;
const SPARSE_ZERO_MAX_LEN: usize = 64;
const SPARSE_XZERO_MAX_LEN: usize = 16384;
/// 0.5 / ln(2), the estimator's bias constant for an infinite number of registers.
const ALPHA_INF: f64 = 0.721_347_520_444_481_7;

/// The HLL string is malformed (Redis: `-INVALIDOBJ Corrupted HLL object detected`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Corrupt;

// ---------------------------------------------------------------------------------------
// Hashing
// ---------------------------------------------------------------------------------------

/// MurmurHash64A over `key` (little-endian words, as Redis's endian-neutral version).
pub fn murmur64a(key: &[u8], seed: u64) -> u64 {
    const M: u64 = 0xc6a4_a793_5bd1_e995;
    const R: u32 = 47;
    let mut h = seed ^ (key.len() as u64).wrapping_mul(M);
    let mut words = key.chunks_exact(8);
    for w in &mut words {
        let mut k = u64::from_le_bytes([w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]]);
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h ^= k;
        h = h.wrapping_mul(M);
    }
    let tail = words.remainder();
    if !tail.is_empty() {
        for (i, &b) in tail.iter().enumerate() {
            h ^= u64::from(b) << (8 * i);
        }
        h = h.wrapping_mul(M);
    }
    h ^= h >> R;
    h = h.wrapping_mul(M);
    h ^= h >> R;
    h
}

/// The register an element maps to and the value it offers (1..=51): the length of
/// the `0...01` pattern in the hash bits above the register index.
pub fn pattern(ele: &[u8]) -> (usize, u8) {
    let hash = murmur64a(ele, SEED);
    let index = (hash & P_MASK) as usize;
    let rest = (hash >> P) | (1u64 << Q);
    (index, rest.trailing_zeros() as u8 + 1)
}

// ---------------------------------------------------------------------------------------
// Header
// ---------------------------------------------------------------------------------------

/// A new, empty HLL: sparse, one XZERO opcode covering every register, cache valid (0).
pub fn new_sparse() -> Vec<u8> {
    let mut v = Vec::with_capacity(HDR_SIZE + 2);
    v.extend_from_slice(MAGIC);
    v.extend_from_slice(&[SPARSE, 0, 0, 0]);
    v.extend_from_slice(&[0; 8]);
    let mut left = REGISTERS;
    while left > 0 {
        let n = left.min(SPARSE_XZERO_MAX_LEN);
        push_xzero(&mut v, n);
        left -= n;
    }
    v
}

/// Whether `b` passes Redis's check of an HLL string (isHLLObjectOrReply): long enough
/// for the header, the magic, a known encoding, and a dense one of the exact size. The
/// sparse opcodes are only checked when they are walked.
pub fn is_valid(b: &[u8]) -> bool {
    b.len() >= HDR_SIZE
        && &b[..4] == MAGIC
        && b[ENCODING_AT] <= SPARSE
        && (b[ENCODING_AT] != DENSE || b.len() == DENSE_SIZE)
}

/// The encoding byte of a valid HLL.
pub fn encoding(b: &[u8]) -> u8 {
    b[ENCODING_AT]
}

/// Marks the cached cardinality stale (the top bit of its last byte).
pub fn invalidate_cache(b: &mut [u8]) {
    b[HDR_SIZE - 1] |= 0x80;
}

/// The cached cardinality, if still valid.
pub fn cached(b: &[u8]) -> Option<u64> {
    if b[HDR_SIZE - 1] & 0x80 != 0 {
        return None;
    }
    let mut card = [0u8; 8];
    card.copy_from_slice(&b[8..16]);
    Some(u64::from_le_bytes(card))
}

pub fn set_cache(b: &mut [u8], card: u64) {
    b[8..16].copy_from_slice(&card.to_le_bytes());
}

// ---------------------------------------------------------------------------------------
// Dense registers
// ---------------------------------------------------------------------------------------

/// Register `i` of packed 6-bit registers. The byte after the last register does not
/// exist here (Redis reads the string's NUL terminator): it never contributes bits.
#[inline]
fn dense_get(regs: &[u8], i: usize) -> u8 {
    let byte = i * BITS / 8;
    let fb = (i * BITS) & 7;
    let b0 = u16::from(regs[byte]);
    let b1 = u16::from(regs.get(byte + 1).copied().unwrap_or(0));
    (((b0 >> fb) | (b1 << (8 - fb))) & u16::from(REGISTER_MAX)) as u8
}

#[inline]
fn dense_put(regs: &mut [u8], i: usize, val: u8) {
    let byte = i * BITS / 8;
    let fb = (i * BITS) & 7;
    let v = u16::from(val);
    let max = u16::from(REGISTER_MAX);
    regs[byte] = ((u16::from(regs[byte]) & !(max << fb)) | (v << fb)) as u8;
    if fb > 2 {
        let fb8 = 8 - fb;
        regs[byte + 1] = ((u16::from(regs[byte + 1]) & !(max >> fb8)) | (v >> fb8)) as u8;
    }
}

/// Raises dense register `i` to `count`; true if it changed.
#[inline]
fn dense_set(regs: &mut [u8], i: usize, count: u8) -> bool {
    if count > dense_get(regs, i) {
        dense_put(regs, i, count);
        true
    } else {
        false
    }
}

/// Histogram of the dense registers' values, four registers per three bytes.
fn dense_histogram(regs: &[u8], histo: &mut [u32; 64]) {
    for g in regs.chunks_exact(3) {
        let (a, b, c) = (g[0], g[1], g[2]);
        histo[usize::from(a & 63)] += 1;
        histo[usize::from((a >> 6 | b << 2) & 63)] += 1;
        histo[usize::from((b >> 4 | c << 4) & 63)] += 1;
        histo[usize::from(c >> 2)] += 1;
    }
}

// ---------------------------------------------------------------------------------------
// Sparse opcodes
// ---------------------------------------------------------------------------------------

const XZERO_BIT: u8 = 0x40;
const VAL_BIT: u8 = 0x80;

#[inline]
fn is_zero(op: u8) -> bool {
    op & 0xc0 == 0
}

#[inline]
fn is_xzero(op: u8) -> bool {
    op & 0xc0 == XZERO_BIT
}

#[inline]
fn is_val(op: u8) -> bool {
    op & VAL_BIT != 0
}

#[inline]
fn zero_len(op: u8) -> usize {
    usize::from(op & 0x3f) + 1
}

/// XZERO's run length; a missing second byte (a string cut short) reads as 0, as Redis
/// reads the terminator.
#[inline]
fn xzero_len(s: &[u8], p: usize) -> usize {
    ((usize::from(s[p] & 0x3f) << 8) | usize::from(s.get(p + 1).copied().unwrap_or(0))) + 1
}

#[inline]
fn val_value(op: u8) -> u8 {
    ((op >> 2) & 0x1f) + 1
}

#[inline]
fn val_len(op: u8) -> usize {
    usize::from(op & 0x3) + 1
}

#[inline]
fn val_op(val: u8, len: usize) -> u8 {
    ((val - 1) << 2) | (len as u8 - 1) | VAL_BIT
}

#[inline]
fn zero_op(len: usize) -> u8 {
    (len - 1) as u8
}

fn push_xzero(v: &mut Vec<u8>, len: usize) {
    let l = len - 1;
    v.push((l >> 8) as u8 | XZERO_BIT);
    v.push((l & 0xff) as u8);
}

/// A run of `len` zero registers as the shortest opcode.
fn push_zeros(v: &mut Vec<u8>, len: usize) {
    if len > SPARSE_ZERO_MAX_LEN {
        push_xzero(v, len);
    } else {
        v.push(zero_op(len));
    }
}

/// One decoded sparse opcode.
enum Op {
    Zeros(usize),
    Val(u8, usize),
}

/// Walks the sparse opcodes of `s` (a whole HLL string), calling `f` for each.
fn walk_sparse(s: &[u8], mut f: impl FnMut(Op) -> bool) {
    let mut p = HDR_SIZE;
    while p < s.len() {
        let op = s[p];
        let go_on = if is_zero(op) {
            p += 1;
            f(Op::Zeros(zero_len(op)))
        } else if is_xzero(op) {
            let n = xzero_len(s, p);
            p += 2;
            f(Op::Zeros(n))
        } else {
            p += 1;
            f(Op::Val(val_value(op), val_len(op)))
        };
        if !go_on {
            break;
        }
    }
}

/// Histogram of a sparse HLL's registers; `Corrupt` unless the opcodes cover exactly
/// every register.
fn sparse_histogram(s: &[u8], histo: &mut [u32; 64]) -> Result<(), Corrupt> {
    let mut idx = 0u64;
    walk_sparse(s, |op| {
        match op {
            Op::Zeros(n) => {
                idx += n as u64;
                histo[0] = histo[0].wrapping_add(n as u32);
            }
            Op::Val(v, n) => {
                idx += n as u64;
                histo[usize::from(v)] = histo[usize::from(v)].wrapping_add(n as u32);
            }
        }
        true
    });
    if idx == REGISTERS as u64 {
        Ok(())
    } else {
        Err(Corrupt)
    }
}

/// Rewrites a sparse HLL as dense, keeping the header (magic, cached cardinality). A
/// dense one is left alone. `Corrupt` (string unchanged) unless the opcodes cover
/// exactly every register: an opcode running past the last register is refused at
/// once, as Redis 7.0.15 with the fix for CVE-2025-32023 does (the walk never writes
/// out of bounds, whatever the string holds).
pub fn to_dense(s: &mut Vec<u8>) -> Result<(), Corrupt> {
    if s[ENCODING_AT] == DENSE {
        return Ok(());
    }
    let mut dense = vec![0u8; DENSE_SIZE];
    dense[..HDR_SIZE].copy_from_slice(&s[..HDR_SIZE]);
    dense[ENCODING_AT] = DENSE;
    let regs = &mut dense[HDR_SIZE..];
    let mut idx = 0usize;
    let mut valid = true;
    walk_sparse(s, |op| {
        let n = match op {
            Op::Zeros(n) | Op::Val(_, n) => n,
        };
        if idx + n > REGISTERS {
            valid = false;
            return false;
        }
        if let Op::Val(v, _) = op {
            for i in idx..idx + n {
                dense_put(regs, i, v);
            }
        }
        idx += n;
        true
    });
    if !valid || idx != REGISTERS {
        return Err(Corrupt);
    }
    *s = dense;
    Ok(())
}

/// Raises register `index` of a sparse HLL to `count`, splitting the opcode that covers
/// it, merging equal neighbours, or promoting the HLL to dense (a value above 32, or a
/// string that would outgrow `max_bytes`). Ok(true) if the register changed. Follows
/// Redis's hllSparseSet step by step, since the resulting bytes must be the same.
fn sparse_set(s: &mut Vec<u8>, index: usize, count: u8, max_bytes: u64) -> Result<bool, Corrupt> {
    if count > SPARSE_VAL_MAX_VALUE {
        return promote(s, index, count);
    }
    // Step 1: find the opcode covering `index`.
    let mut end = s.len();
    let mut p = HDR_SIZE;
    let mut first = 0usize;
    let mut span = 0usize;
    let mut prev: Option<usize> = None;
    while p < end {
        let op = s[p];
        let oplen;
        if is_zero(op) {
            span = zero_len(op);
            oplen = 1;
        } else if is_val(op) {
            span = val_len(op);
            oplen = 1;
        } else {
            span = xzero_len(s, p);
            oplen = 2;
        }
        if index < first + span {
            break;
        }
        prev = Some(p);
        p += oplen;
        first += span;
    }
    if span == 0 || p >= end {
        return Err(Corrupt);
    }
    let op = s[p];
    let (zero, xzero) = (is_zero(op), is_xzero(op));
    let runlen = if zero {
        zero_len(op)
    } else if xzero {
        xzero_len(s, p)
    } else {
        val_len(op)
    };

    // Step 2: the cases that change one byte in place.
    let mut in_place = false;
    if !zero && !xzero {
        let old = val_value(op);
        if old >= count {
            return Ok(false);
        }
        if runlen == 1 {
            s[p] = val_op(count, 1);
            in_place = true;
        }
    }
    if zero && runlen == 1 {
        s[p] = val_op(count, 1);
        in_place = true;
    }

    if !in_place {
        // The general case: split the opcode into up to three.
        let last = first + span - 1;
        let mut seq: Vec<u8> = Vec::with_capacity(5);
        if zero || xzero {
            if index != first {
                push_zeros(&mut seq, index - first);
            }
            seq.push(val_op(count, 1));
            if index != last {
                push_zeros(&mut seq, last - index);
            }
        } else {
            let cur = val_value(op);
            if index != first {
                seq.push(val_op(cur, index - first));
            }
            seq.push(val_op(count, 1));
            if index != last {
                seq.push(val_op(cur, last - index));
            }
        }
        // Step 3: substitute the sequence for the opcode.
        let oldlen = if xzero { 2 } else { 1 };
        let delta = seq.len() as i64 - oldlen as i64;
        if delta > 0 && s.len() as u64 + delta as u64 > max_bytes {
            return promote(s, index, count);
        }
        let new_len = (s.len() as i64 + delta) as usize;
        let tail_from = (p + oldlen).min(s.len());
        s.splice(p..tail_from, seq);
        // An XZERO cut short by the end of the string: Redis keeps the length its
        // arithmetic says, dropping what lands past it.
        s.truncate(new_len);
        end = s.len();
    }

    // Step 4: merge adjacent VAL opcodes of equal value, scanning up to five opcodes
    // from the one before the change.
    let mut q = prev.unwrap_or(HDR_SIZE);
    let mut scan = 5;
    while q < end {
        if scan == 0 {
            break;
        }
        scan -= 1;
        let op = s[q];
        if is_xzero(op) {
            q += 2;
            continue;
        }
        if is_zero(op) {
            q += 1;
            continue;
        }
        if q + 1 < end && is_val(s[q + 1]) {
            let (v1, v2) = (val_value(op), val_value(s[q + 1]));
            if v1 == v2 {
                let len = val_len(op) + val_len(s[q + 1]);
                if len <= SPARSE_VAL_MAX_LEN {
                    s[q + 1] = val_op(v1, len);
                    s.remove(q);
                    end -= 1;
                    continue;
                }
            }
        }
        q += 1;
    }
    invalidate_cache(s);
    Ok(true)
}

/// Converts to dense and sets the register there (the conversion keeps the cached
/// cardinality as it was, as Redis does).
fn promote(s: &mut Vec<u8>, index: usize, count: u8) -> Result<bool, Corrupt> {
    to_dense(s)?;
    Ok(dense_set(&mut s[HDR_SIZE..], index, count))
}

/// Raises register `index` to `count` in either encoding.
fn set_register(s: &mut Vec<u8>, index: usize, count: u8, max_bytes: u64) -> Result<bool, Corrupt> {
    match s[ENCODING_AT] {
        DENSE => Ok(dense_set(&mut s[HDR_SIZE..], index, count)),
        SPARSE => sparse_set(s, index, count, max_bytes),
        _ => Err(Corrupt),
    }
}

/// Adds an element to a valid HLL string; Ok(true) if a register changed. The caller
/// invalidates the cache once after a batch (sparse updates also do it themselves).
pub fn add(s: &mut Vec<u8>, ele: &[u8], max_bytes: u64) -> Result<bool, Corrupt> {
    let (index, count) = pattern(ele);
    set_register(s, index, count, max_bytes)
}

/// Raises each `max[i]` to register `i` of the valid HLL `s` (PFCOUNT of many keys,
/// PFMERGE). `Corrupt` if sparse opcodes do not cover exactly every register (any
/// opcode running past the last one, as in [`to_dense`]).
pub fn merge_into(max: &mut [u8; REGISTERS], s: &[u8]) -> Result<(), Corrupt> {
    if s[ENCODING_AT] == DENSE {
        let regs = &s[HDR_SIZE..];
        for (i, m) in max.iter_mut().enumerate() {
            let v = dense_get(regs, i);
            if v > *m {
                *m = v;
            }
        }
        return Ok(());
    }
    let mut i = 0usize;
    let mut valid = true;
    walk_sparse(s, |op| {
        let n = match op {
            Op::Zeros(n) | Op::Val(_, n) => n,
        };
        if i + n > REGISTERS {
            valid = false;
            return false;
        }
        if let Op::Val(v, _) = op {
            for m in &mut max[i..i + n] {
                if v > *m {
                    *m = v;
                }
            }
        }
        i += n;
        true
    });
    if valid && i == REGISTERS {
        Ok(())
    } else {
        Err(Corrupt)
    }
}

/// Writes registers (`max[i]`, zero ones skipped) into the valid HLL `s` in order, as
/// PFMERGE fills its destination, and marks the cache stale.
pub fn store_registers(s: &mut Vec<u8>, max: &[u8; REGISTERS], max_bytes: u64) {
    for (i, &v) in max.iter().enumerate() {
        if v != 0 {
            // The destination was validated as a whole before: a failure cannot happen,
            // and Redis ignores the result here too.
            let _ = set_register(s, i, v, max_bytes);
        }
    }
    invalidate_cache(s);
}

// ---------------------------------------------------------------------------------------
// Estimation
// ---------------------------------------------------------------------------------------

/// Ertl's sigma function.
fn sigma(mut x: f64) -> f64 {
    if x == 1.0 {
        return f64::INFINITY;
    }
    let mut y = 1.0;
    let mut z = x;
    loop {
        x *= x;
        let prev = z;
        z += x * y;
        y += y;
        if prev == z {
            return z;
        }
    }
}

/// Ertl's tau function.
fn tau(mut x: f64) -> f64 {
    if x == 0.0 || x == 1.0 {
        return 0.0;
    }
    let mut y = 1.0;
    let mut z = 1.0 - x;
    loop {
        x = x.sqrt();
        let prev = z;
        y *= 0.5;
        let d = 1.0 - x;
        z -= d * d * y;
        if prev == z {
            return z / 3.0;
        }
    }
}

/// The cardinality estimate from a histogram of register values. Values above Q+1
/// (only a hand-made dense string can hold them) take no part, as in Redis.
fn estimate(histo: &[u32; 64]) -> u64 {
    let m = REGISTERS as f64;
    let mut z = m * tau((m - f64::from(histo[Q as usize + 1])) / m);
    for j in (1..=Q as usize).rev() {
        z += f64::from(histo[j]);
        z *= 0.5;
    }
    z += m * sigma(f64::from(histo[0]) / m);
    let e = (ALPHA_INF * m * m / z).round();
    // Redis rounds with llroundl, whose result for what a long long cannot hold
    // (only hand-made registers get there: all at the maximum, say) is LLONG_MIN on
    // x86-64; that goes back through a double to an unsigned 64-bit integer.
    if e.is_nan() || !(-TWO_63..TWO_63).contains(&e) {
        1u64 << 63
    } else {
        e as i64 as u64
    }
}

/// 2^63 as a double.
const TWO_63: f64 = 9_223_372_036_854_775_808.0;

/// The estimated cardinality of a valid HLL string (ignoring its cache).
pub fn count(s: &[u8]) -> Result<u64, Corrupt> {
    let mut histo = [0u32; 64];
    match s[ENCODING_AT] {
        DENSE => dense_histogram(&s[HDR_SIZE..], &mut histo),
        SPARSE => sparse_histogram(s, &mut histo)?,
        _ => return Err(Corrupt),
    }
    Ok(estimate(&histo))
}

/// The estimated cardinality of registers held one per byte (a merge's result).
pub fn count_registers(regs: &[u8; REGISTERS]) -> u64 {
    let mut histo = [0u32; 64];
    for &r in regs.iter() {
        histo[usize::from(r & 63)] += 1;
    }
    estimate(&histo)
}

/// Every register's value (PFDEBUG GETREG), for a dense HLL.
pub fn dense_registers(s: &[u8]) -> Vec<u8> {
    let regs = &s[HDR_SIZE..];
    (0..REGISTERS).map(|i| dense_get(regs, i)).collect()
}

/// The sparse opcodes as PFDEBUG DECODE prints them: `z:<n>`, `Z:<n>`, `v:<val>,<n>`.
pub fn decode_sparse(s: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let mut p = HDR_SIZE;
    while p < s.len() {
        let op = s[p];
        if is_zero(op) {
            let _ = write!(out, "z:{} ", zero_len(op));
            p += 1;
        } else if is_xzero(op) {
            let _ = write!(out, "Z:{} ", xzero_len(s, p));
            p += 2;
        } else {
            let _ = write!(out, "v:{},{} ", val_value(op), val_len(op));
            p += 1;
        }
    }
    out.trim_matches(' ').to_string()
}

// ---------------------------------------------------------------------------------------
// Self test (PFSELFTEST)
// ---------------------------------------------------------------------------------------

/// Redis's PFSELFTEST: dense registers keep what is stored in them without disturbing
/// their neighbours (`cycles` rounds of random values), and a dense and a sparse HLL fed
/// the same `elements` distinct elements agree and stay within six standard errors at
/// every power of ten. Err carries the failure as Redis words it (without `ERR`).
pub fn selftest(
    cycles: u32,
    elements: u64,
    sparse_max_bytes: u64,
    seed: u64,
) -> Result<(), String> {
    let mut rng = seed | 1;
    let mut next = move || {
        // xorshift64*
        rng ^= rng >> 12;
        rng ^= rng << 25;
        rng ^= rng >> 27;
        rng.wrapping_mul(0x2545_f491_4f6c_dd1d)
    };
    let mut dense = vec![0u8; DENSE_SIZE];
    dense[..4].copy_from_slice(MAGIC);
    let mut bytes = vec![0u8; REGISTERS];
    for _ in 0..cycles {
        for (i, b) in bytes.iter_mut().enumerate() {
            let r = (next() & u64::from(REGISTER_MAX)) as u8;
            *b = r;
            dense_put(&mut dense[HDR_SIZE..], i, r);
        }
        for (i, &b) in bytes.iter().enumerate() {
            let v = dense_get(&dense[HDR_SIZE..], i);
            if v != b {
                return Err(format!("TESTFAILED Register {i} should be {b} but is {v}"));
            }
        }
    }
    dense[HDR_SIZE..].fill(0);
    let mut sparse = new_sparse();
    let relerr = 1.04 / (REGISTERS as f64).sqrt();
    let mut checkpoint = 1u64;
    let salt = next();
    for j in 1..=elements {
        let ele = (j ^ salt).to_ne_bytes();
        let (index, c) = pattern(&ele);
        dense_set(&mut dense[HDR_SIZE..], index, c);
        add(&mut sparse, &ele, sparse_max_bytes).map_err(|_| "TESTFAILED corrupted sparse HLL")?;
        if j != checkpoint {
            continue;
        }
        if j < sparse_max_bytes / 2 && encoding(&sparse) != SPARSE {
            return Err("TESTFAILED sparse encoding not used".into());
        }
        let d = count(&dense).map_err(|_| "TESTFAILED corrupted dense HLL")?;
        let sp = count(&sparse).map_err(|_| "TESTFAILED corrupted sparse HLL")?;
        if d != sp {
            return Err("TESTFAILED dense/sparse disagree".into());
        }
        let abserr = checkpoint.abs_diff(d);
        let maxerr = if j == 10 {
            1
        } else {
            (relerr * 6.0 * checkpoint as f64).ceil() as u64
        };
        if abserr > maxerr {
            return Err(format!(
                "TESTFAILED Too big error. card:{checkpoint} abserr:{abserr}"
            ));
        }
        checkpoint *= 10;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn regs_of(s: &[u8]) -> Vec<u8> {
        let mut max = [0u8; REGISTERS];
        merge_into(&mut max, s).expect("valid");
        max.to_vec()
    }

    #[test]
    fn murmur_and_pattern_match_redis() {
        assert_eq!(murmur64a(b"", 0), 0);
        // (register, value) Redis 7.0 reports for these elements (PFDEBUG DECODE after
        // one PFADD): covers empty input, the tail bytes and the 8-byte word loop.
        let cases: [(&[u8], usize, u8); 6] = [
            (b"a", 12711, 2),
            (b"hello", 9216, 1),
            (b"", 5938, 2),
            (b"12345678", 10579, 3),
            (b"123456789", 9293, 2),
            (b"foobarbazquux", 13152, 1),
        ];
        for (ele, index, count) in cases {
            assert_eq!(
                pattern(ele),
                (index, count),
                "{:?}",
                String::from_utf8_lossy(ele)
            );
        }
    }

    #[test]
    fn new_hll_bytes() {
        let s = new_sparse();
        assert_eq!(
            s,
            b"HYLL\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x7f\xff".to_vec()
        );
        assert!(is_valid(&s));
        assert_eq!(count(&s), Ok(0));
        assert_eq!(decode_sparse(&s), "Z:16384");
    }

    #[test]
    fn validity() {
        assert!(!is_valid(b"HYLL"));
        assert!(!is_valid(
            b"HYLX\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"
        ));
        assert!(!is_valid(
            b"HYLL\x02\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"
        ));
        assert!(!is_valid(
            b"HYLL\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"
        ));
        assert!(is_valid(
            b"HYLL\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"
        ));
        let mut d = new_sparse();
        to_dense(&mut d).expect("valid");
        assert_eq!(d.len(), DENSE_SIZE);
        assert!(is_valid(&d));
        // A sparse header without opcodes covers no register: corrupt when walked.
        let mut bare = b"HYLL\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00".to_vec();
        assert_eq!(count(&bare), Err(Corrupt));
        assert_eq!(to_dense(&mut bare), Err(Corrupt));
        assert_eq!(add(&mut bare, b"x", 3000), Err(Corrupt));
        let mut max = [0u8; REGISTERS];
        assert_eq!(merge_into(&mut max, &bare), Err(Corrupt));
        // Full coverage followed by more registers: corrupt everywhere, even though the
        // walk could stop right at the last register.
        let mut over = new_sparse();
        over[HDR_SIZE + 1] = 0xfb; // XZERO of 16380
        over.extend_from_slice(&[0x83, 0x83]); // VAL 1 x4, twice
        assert_eq!(count(&over), Err(Corrupt));
        assert_eq!(merge_into(&mut max, &over), Err(Corrupt));
        assert_eq!(to_dense(&mut over.clone()), Err(Corrupt));
        let mut zeros_over = new_sparse();
        zeros_over.push(0x00);
        assert_eq!(merge_into(&mut max, &zeros_over), Err(Corrupt));
        assert_eq!(to_dense(&mut zeros_over), Err(Corrupt));
    }

    #[test]
    fn dense_register_packing() {
        let mut regs = vec![0u8; DENSE_SIZE - HDR_SIZE];
        let mut model = vec![0u8; REGISTERS];
        let mut x = 12345u64;
        for round in 0..3 {
            for (i, m) in model.iter_mut().enumerate() {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let v = ((x >> 33) as u8) & 63;
                if (i + round) % 3 != 0 {
                    *m = v;
                    dense_put(&mut regs, i, v);
                }
            }
            for (i, &m) in model.iter().enumerate() {
                assert_eq!(dense_get(&regs, i), m, "register {i}");
            }
        }
        let mut histo = [0u32; 64];
        dense_histogram(&regs, &mut histo);
        let mut want = [0u32; 64];
        for &m in &model {
            want[usize::from(m)] += 1;
        }
        assert_eq!(histo, want);
    }

    /// The sparse encoding against a plain array of registers: every update keeps the
    /// same registers, the opcodes stay canonical enough to decode, and conversion to
    /// dense agrees.
    #[test]
    fn sparse_matches_model() {
        let mut x = 99u64;
        for max_bytes in [3000u64, 40, 200] {
            let mut s = new_sparse();
            let mut model = vec![0u8; REGISTERS];
            for _ in 0..3000 {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                // Cluster the indexes so VAL runs form and merge.
                let index = ((x >> 20) as usize % 64) * 7 % REGISTERS + ((x >> 40) as usize % 3);
                let count = ((x >> 50) as u8 % 34) + 1;
                let changed = set_register(&mut s, index, count, max_bytes).expect("valid");
                assert_eq!(changed, count > model[index]);
                if changed {
                    model[index] = count;
                }
            }
            assert_eq!(regs_of(&s), model);
            let before = count(&s).expect("valid");
            let mut d = s.clone();
            to_dense(&mut d).expect("valid");
            assert_eq!(regs_of(&d), model);
            assert_eq!(count(&d), Ok(before));
            if encoding(&s) == SPARSE {
                assert!(s.len() as u64 <= max_bytes.max(HDR_SIZE as u64 + 2));
            }
        }
    }

    #[test]
    fn sparse_split_and_merge_opcodes() {
        let mut s = new_sparse();
        assert_eq!(sparse_set(&mut s, 1000, 2, 3000), Ok(true));
        assert_eq!(decode_sparse(&s), "Z:1000 v:2,1 Z:15383");
        assert_eq!(sparse_set(&mut s, 1001, 2, 3000), Ok(true));
        assert_eq!(decode_sparse(&s), "Z:1000 v:2,2 Z:15382");
        assert_eq!(sparse_set(&mut s, 1001, 1, 3000), Ok(false));
        assert_eq!(sparse_set(&mut s, 1003, 2, 3000), Ok(true));
        assert_eq!(decode_sparse(&s), "Z:1000 v:2,2 z:1 v:2,1 Z:15380");
        assert_eq!(sparse_set(&mut s, 1002, 2, 3000), Ok(true));
        assert_eq!(decode_sparse(&s), "Z:1000 v:2,4 Z:15380");
        assert_eq!(sparse_set(&mut s, 1001, 5, 3000), Ok(true));
        assert_eq!(decode_sparse(&s), "Z:1000 v:2,1 v:5,1 v:2,2 Z:15380");
        assert_eq!(sparse_set(&mut s, 0, 1, 3000), Ok(true));
        assert_eq!(decode_sparse(&s), "v:1,1 Z:999 v:2,1 v:5,1 v:2,2 Z:15380");
        assert_eq!(sparse_set(&mut s, 16383, 3, 3000), Ok(true));
        assert!(decode_sparse(&s).ends_with("Z:15379 v:3,1"));
        // The cache is marked stale by every update.
        assert_eq!(cached(&s), None);
        // A value above 32 promotes to dense.
        assert_eq!(sparse_set(&mut s, 7, 33, 3000), Ok(true));
        assert_eq!(encoding(&s), DENSE);
        assert_eq!(s.len(), DENSE_SIZE);
        let r = dense_registers(&s);
        assert_eq!(
            (r[0], r[7], r[1000], r[1001], r[1003], r[16383]),
            (1, 33, 2, 5, 2, 3)
        );
    }

    #[test]
    fn cache_roundtrip() {
        let mut s = new_sparse();
        assert_eq!(cached(&s), Some(0));
        set_cache(&mut s, 0x0102_0304_0506);
        assert_eq!(cached(&s), Some(0x0102_0304_0506));
        invalidate_cache(&mut s);
        assert_eq!(cached(&s), None);
    }

    #[test]
    fn estimator_edges() {
        let mut histo = [0u32; 64];
        histo[0] = REGISTERS as u32;
        assert_eq!(estimate(&histo), 0);
        // Registers at the maximum take the tau path; the estimate stays finite.
        let mut all_max = [0u32; 64];
        all_max[Q as usize + 1] = REGISTERS as u32;
        assert_eq!(estimate(&all_max), 1 << 63);
        let mut all_50 = [0u32; 64];
        all_50[50] = REGISTERS as u32;
        assert_eq!(estimate(&all_50), 1 << 63);
        let mut all_30 = [0u32; 64];
        all_30[30] = REGISTERS as u32;
        let e = estimate(&all_30);
        assert!(e > 1 << 40 && e < 1 << 50, "{e}");
        assert_eq!(tau(0.0), 0.0);
        assert_eq!(sigma(0.0), 0.0);
        assert!(sigma(1.0).is_infinite());
    }

    /// Standard error 1.04/sqrt(16384) = 0.81%: every checkpoint from 1 to 1,000,000
    /// must be within four standard errors (plus one for tiny counts), sparse and dense.
    #[test]
    fn error_bound_up_to_a_million() {
        let mut s = new_sparse();
        let relerr = 1.04 / (REGISTERS as f64).sqrt();
        let mut checkpoints: Vec<u64> = (1..=20).collect();
        let mut c = 25u64;
        while c <= 1_000_000 {
            checkpoints.push(c);
            c = c * 5 / 4;
        }
        checkpoints.push(1_000_000);
        let mut next = 0usize;
        let mut was_sparse_at_1000 = false;
        for n in 1..=1_000_000u64 {
            add(
                &mut s,
                format!("element:{n}").as_bytes(),
                DEFAULT_SPARSE_MAX_BYTES,
            )
            .expect("valid");
            if n == 1000 {
                was_sparse_at_1000 = encoding(&s) == SPARSE;
            }
            if next < checkpoints.len() && checkpoints[next] == n {
                next += 1;
                let est = count(&s).expect("valid");
                let allowed = (relerr * 4.0 * n as f64).ceil() as u64 + 1;
                assert!(
                    est.abs_diff(n) <= allowed,
                    "n={n} estimate={est} allowed error={allowed}"
                );
            }
        }
        assert!(was_sparse_at_1000);
        assert_eq!(encoding(&s), DENSE);
    }

    mod props {
        use super::super::*;
        use proptest::prelude::*;

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(200))]

            /// Any sequence of register updates leaves the sparse (or promoted) string
            /// holding exactly the registers of a plain array, counting as that array
            /// does, walkable without error, and within its size limit while sparse.
            #[test]
            fn updates_match_a_register_array(
                ops in proptest::collection::vec((0usize..REGISTERS, 1u8..=51), 0..400),
                near in 0usize..REGISTERS,
                max_bytes in prop_oneof![Just(3000u64), 16u64..400],
            ) {
                let mut s = new_sparse();
                let mut model = [0u8; REGISTERS];
                for (i, (index, count)) in ops.into_iter().enumerate() {
                    // Half the updates land near one spot, so runs form, split and merge.
                    let index = if i % 2 == 0 { (near + index % 40) % REGISTERS } else { index };
                    let count = if i % 3 == 0 { count % 4 + 1 } else { count };
                    let changed = set_register(&mut s, index, count, max_bytes).expect("valid");
                    prop_assert_eq!(changed, count > model[index]);
                    model[index] = model[index].max(count);
                }
                let mut regs = [0u8; REGISTERS];
                merge_into(&mut regs, &s).expect("walkable");
                prop_assert_eq!(&regs[..], &model[..]);
                prop_assert_eq!(count(&s), Ok(count_registers(&model)));
                if encoding(&s) == SPARSE {
                    prop_assert!(s.len() as u64 <= max_bytes.max(HDR_SIZE as u64 + 2));
                    let mut d = s.clone();
                    to_dense(&mut d).expect("walkable");
                    prop_assert_eq!(dense_registers(&d), model.to_vec());
                } else {
                    prop_assert_eq!(s.len(), DENSE_SIZE);
                }
            }

            /// Whatever bytes follow a sparse header, every operation either works or
            /// reports `Corrupt`: no panic, no out-of-bounds access, and a conversion
            /// that succeeds yields a dense string of the right size.
            #[test]
            fn arbitrary_sparse_bytes_never_panic(
                body in proptest::collection::vec(any::<u8>(), 0..64),
                eles in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..6), 0..8),
            ) {
                let mut s = new_sparse();
                s.truncate(HDR_SIZE);
                s.extend_from_slice(&body);
                let _ = count(&s);
                let mut max = [0u8; REGISTERS];
                let _ = merge_into(&mut max, &s);
                let _ = decode_sparse(&s);
                let mut d = s.clone();
                if to_dense(&mut d).is_ok() {
                    prop_assert_eq!(d.len(), DENSE_SIZE);
                    prop_assert!(is_valid(&d));
                }
                for e in &eles {
                    if add(&mut s, e, 40).is_err() {
                        break;
                    }
                    prop_assert!(is_valid(&s));
                }
            }
        }
    }

    /// PFSELFTEST's own parameters (slow in debug builds: run with --ignored).
    #[test]
    #[ignore]
    fn selftest_full() {
        assert_eq!(
            selftest(1000, 10_000_000, DEFAULT_SPARSE_MAX_BYTES, 11),
            Ok(())
        );
    }

    #[test]
    fn selftest_passes() {
        assert_eq!(selftest(3, 100_000, 3000, 7), Ok(()));
    }
}
