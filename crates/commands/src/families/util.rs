//! Argument parsing and small helpers shared by the command families.
//!
//! Everything here reproduces how Redis 7.0 reads its arguments, because clients (and
//! the test suites written against Redis) depend on the exact edge cases: which strings
//! are integers, which are floats, what a glob pattern matches, how cursors parse.

use engine::{Access, Entry, Str, Value};

use crate::ctx::Ctx;

pub use engine::value::parse_i64_strict as parse_i64;

/// ASCII case-insensitive comparison of an argument with a keyword.
#[inline]
pub fn eq_ic(arg: &[u8], keyword: &[u8]) -> bool {
    arg.eq_ignore_ascii_case(keyword)
}

/// A new entry, stamped as just created: the access time under an LRU policy, the
/// initial counter under an LFU one (as Redis initialises an object's LRU field).
#[inline]
pub fn new_entry(key: &[u8], value: Value, clock: &Access) -> Entry {
    let mut e = Entry::new(key, value);
    e.access = clock.initial();
    e
}

/// The clock to record a read or write with, or None for a CLIENT NO-TOUCH client,
/// whose lookups leave access times and LFU counters alone.
#[inline]
pub fn touches(ctx: &Ctx<'_, '_>) -> Option<Access> {
    (!ctx.client.no_touch).then_some(ctx.access)
}

/// The string inside a value, or `None` when the key holds another type (WRONGTYPE).
#[inline]
pub fn str_of(v: &Value) -> Option<&Str> {
    match v {
        Value::Str(s) => Some(s),
        _ => None,
    }
}

/// Mutable form of [`str_of`].
#[inline]
pub fn str_of_mut(v: &mut Value) -> Option<&mut Str> {
    match v {
        Value::Str(s) => Some(s),
        _ => None,
    }
}

/// Parses an `int` argument as Redis's `getIntFromObjectOrReply` does.
pub fn parse_i32(b: &[u8]) -> Result<i32, &'static str> {
    let v = parse_i64(b).ok_or(crate::errors::NOT_INTEGER)?;
    i32::try_from(v).map_err(|_| crate::errors::INT_OUT_OF_RANGE)
}

/// Parses a SCAN cursor the way Redis does (with C's `strtoul`): an optional sign, base-10
/// digits, no leading space, nothing after the digits, no overflow. A negative cursor wraps
/// around, an empty one is 0, and the argument ends at its first NUL byte, because that is
/// what `strtoul` sees.
pub fn parse_cursor(b: &[u8]) -> Option<u64> {
    let b = match b.iter().position(|&c| c == 0) {
        Some(i) => &b[..i],
        None => b,
    };
    if b.is_empty() {
        return Some(0);
    }
    let (neg, digits) = match b[0] {
        b'-' => (true, &b[1..]),
        b'+' => (false, &b[1..]),
        _ => (false, b),
    };
    if digits.is_empty() {
        return None;
    }
    let mut v: u64 = 0;
    for &c in digits {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(u64::from(c - b'0'))?;
    }
    Some(if neg { v.wrapping_neg() } else { v })
}

/// Which condition EXPIRE's optional NX/XX/GT/LT flags impose.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ExpireFlags {
    pub nx: bool,
    pub xx: bool,
    pub gt: bool,
    pub lt: bool,
}

impl ExpireFlags {
    /// Parses the flags after `EXPIRE key time`; errors are complete messages.
    pub fn parse(args: &[&[u8]]) -> Result<Self, String> {
        let mut f = ExpireFlags::default();
        for &a in args {
            if eq_ic(a, b"nx") {
                f.nx = true;
            } else if eq_ic(a, b"xx") {
                f.xx = true;
            } else if eq_ic(a, b"gt") {
                f.gt = true;
            } else if eq_ic(a, b"lt") {
                f.lt = true;
            } else {
                return Err(crate::errors::unsupported_option(a));
            }
        }
        if f.nx && (f.xx || f.gt || f.lt) {
            return Err(crate::errors::EXPIRE_NX_AND_OTHERS.to_string());
        }
        if f.gt && f.lt {
            return Err(crate::errors::EXPIRE_GT_AND_LT.to_string());
        }
        Ok(f)
    }

    /// Whether the new expiry `when` (ms) may replace `current` (ms, `None` = persistent).
    /// A key without expiry counts as an infinite TTL, so GT never passes on it and LT
    /// always does.
    pub fn allows(&self, current: Option<i64>, when: i64) -> bool {
        if self.nx && current.is_some() {
            return false;
        }
        if self.xx && current.is_none() {
            return false;
        }
        if self.gt && current.is_none_or(|c| when <= c) {
            return false;
        }
        if self.lt && current.is_some_and(|c| when >= c) {
            return false;
        }
        true
    }
}

// ---------------------------------------------------------------------------------------
// Glob matching
// ---------------------------------------------------------------------------------------

/// Redis gives up (no match) beyond this many nested `*` expansions, to bound the stack.
const GLOB_MAX_NESTING: usize = 1000;

/// Glob-style matching with Redis's `stringmatchlen` semantics: `*`, `?`, `[abc]`, `[^a]`,
/// `[a-z]` (reversed ranges allowed), `\x` escapes, unterminated classes, and
/// ASCII-only case folding when `nocase`. As in Redis, the empty string matches only the
/// empty pattern (even `*` fails on it): callers that want `*` to mean "everything", as
/// KEYS and SCAN do, test for it before calling.
pub fn glob_match(pattern: &[u8], s: &[u8], nocase: bool) -> bool {
    let mut give_up = false;
    glob_at(pattern, s, nocase, &mut give_up, 0)
}

#[inline]
fn fold(c: u8, nocase: bool) -> u8 {
    if nocase {
        c.to_ascii_lowercase()
    } else {
        c
    }
}

/// `give_up` is set once the text after some `*` failed to match at every position: an
/// earlier `*` swallowing more cannot help then, so every enclosing `*` stops trying.
/// Redis does the same, and we must too, since it decides the answer when nesting is capped.
fn glob_at(p: &[u8], s: &[u8], nocase: bool, give_up: &mut bool, nesting: usize) -> bool {
    if nesting > GLOB_MAX_NESTING {
        return false;
    }
    let (mut pi, mut si) = (0usize, 0usize);
    while pi < p.len() && si < s.len() {
        match p[pi] {
            b'*' => {
                while pi + 1 < p.len() && p[pi + 1] == b'*' {
                    pi += 1;
                }
                if pi + 1 == p.len() {
                    return true;
                }
                while si < s.len() {
                    if glob_at(&p[pi + 1..], &s[si..], nocase, give_up, nesting + 1) {
                        return true;
                    }
                    if *give_up {
                        return false;
                    }
                    si += 1;
                }
                *give_up = true;
                return false;
            }
            b'?' => si += 1,
            b'[' => {
                pi += 1;
                let negate = p.get(pi) == Some(&b'^');
                if negate {
                    pi += 1;
                }
                let c = s[si];
                let mut hit = false;
                loop {
                    if pi >= p.len() {
                        // Unterminated class: it ends with the pattern.
                        pi -= 1;
                        break;
                    }
                    let rest = p.len() - pi;
                    if p[pi] == b'\\' && rest >= 2 {
                        pi += 1;
                        hit |= p[pi] == c;
                    } else if p[pi] == b']' {
                        break;
                    } else if rest >= 3 && p[pi + 1] == b'-' {
                        let (mut lo, mut hi) = (p[pi], p[pi + 2]);
                        if lo > hi {
                            std::mem::swap(&mut lo, &mut hi);
                        }
                        let (lo, hi, c) = (fold(lo, nocase), fold(hi, nocase), fold(c, nocase));
                        pi += 2;
                        hit |= c >= lo && c <= hi;
                    } else {
                        hit |= fold(p[pi], nocase) == fold(c, nocase);
                    }
                    pi += 1;
                }
                if hit == negate {
                    return false;
                }
                si += 1;
            }
            b'\\' if p.len() - pi >= 2 => {
                pi += 1;
                if fold(p[pi], nocase) != fold(s[si], nocase) {
                    return false;
                }
                si += 1;
            }
            lit => {
                if fold(lit, nocase) != fold(s[si], nocase) {
                    return false;
                }
                si += 1;
            }
        }
        pi += 1;
        if si == s.len() {
            while pi < p.len() && p[pi] == b'*' {
                pi += 1;
            }
            break;
        }
    }
    pi == p.len() && si == s.len()
}

// ---------------------------------------------------------------------------------------
// Floating point: strtod / strtold semantics and Redis's long double formatting
// ---------------------------------------------------------------------------------------

/// Redis refuses long double arguments this long or longer (`MAX_LONG_DOUBLE_CHARS`).
const MAX_FLOAT_CHARS: usize = 5 * 1024;

/// Parses a double argument as Redis's `string2d` does (C `strtod` over the whole
/// argument): decimal or hexadecimal notation, `inf`/`infinity` with optional sign; no
/// spaces, no NaN, no overflow, no underflow to zero.
pub fn parse_f64(b: &[u8]) -> Option<f64> {
    if b.is_empty() {
        return None;
    }
    let unsigned = match b[0] {
        b'+' | b'-' => &b[1..],
        _ => b,
    };
    if unsigned.len() > 1 && unsigned[0] == b'0' && (unsigned[1] | 0x20) == b'x' {
        return match parse_soft(b, &F64)? {
            Soft::Finite { neg, mant, exp } => Some(soft_to_f64(neg, mant, exp)),
            Soft::Zero { neg } => Some(if neg { -0.0 } else { 0.0 }),
            Soft::Inf { neg } => Some(if neg {
                f64::NEG_INFINITY
            } else {
                f64::INFINITY
            }),
            Soft::NaN => None,
        };
    }
    let text = std::str::from_utf8(b).ok()?;
    let v: f64 = text.parse().ok()?;
    if v.is_nan() {
        return None;
    }
    if v.is_infinite() {
        let lit = unsigned;
        return (eq_ic(lit, b"inf") || eq_ic(lit, b"infinity")).then_some(v);
    }
    if v == 0.0 {
        // strtod reports an underflow (which Redis refuses) when non-zero digits became 0.
        let mantissa = unsigned
            .split(|&c| c == b'e' || c == b'E')
            .next()
            .unwrap_or(b"");
        if mantissa.iter().any(|c| (b'1'..=b'9').contains(c)) {
            return None;
        }
    }
    Some(v)
}

/// Rebuilds an f64 from a value already rounded to double precision.
fn soft_to_f64(neg: bool, mant: u64, exp: i64) -> f64 {
    // mant has its top bit set and at most 53 significant bits.
    let top = exp + 63; // value in [2^top, 2^(top+1))
    let bits = if top >= -1022 {
        let frac = (mant >> 11) & ((1u64 << 52) - 1);
        (((top + 1023) as u64) << 52) | frac
    } else {
        // Subnormal: the unit is 2^-1074.
        mant >> (-1074 - exp) as u32
    };
    let v = f64::from_bits(bits);
    if neg {
        -v
    } else {
        v
    }
}

/// x87 80-bit extended precision, emulated in software: what Redis's `long double`
/// arithmetic uses on x86-64 for INCRBYFLOAT and HINCRBYFLOAT. We emulate it instead of
/// using f64 because the replies differ: with long doubles `0.1 + 0.2` prints as `0.3`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LongDouble(Soft);

impl LongDouble {
    /// Parses as Redis's `string2ld` does (C `strtold` over the whole argument).
    pub fn parse(b: &[u8]) -> Option<LongDouble> {
        if b.is_empty() || b.len() >= MAX_FLOAT_CHARS {
            return None;
        }
        match parse_soft(b, &LD)? {
            Soft::NaN => None,
            s => Some(LongDouble(s)),
        }
    }

    pub fn from_i64(n: i64) -> LongDouble {
        if n == 0 {
            return LongDouble(Soft::Zero { neg: false });
        }
        let m = n.unsigned_abs();
        let lz = m.leading_zeros();
        LongDouble(Soft::Finite {
            neg: n < 0,
            mant: m << lz,
            exp: -i64::from(lz),
        })
    }

    pub fn is_finite(&self) -> bool {
        matches!(self.0, Soft::Zero { .. } | Soft::Finite { .. })
    }

    /// Formats as Redis's `ld2string(..., LD_STR_HUMAN)`: `%.17Lf`, then trailing zeros
    /// (and a trailing dot) removed, and `-0` written as `0`. Must be finite.
    pub fn to_human(self) -> Vec<u8> {
        let mut out = Vec::with_capacity(24);
        let (neg, mant, exp) = match self.0 {
            Soft::Finite { neg, mant, exp } => (neg, mant, exp),
            _ => {
                out.push(b'0');
                return out;
            }
        };
        if neg {
            out.push(b'-');
        }
        if exp >= 0 {
            if exp <= 64 {
                let v = u128::from(mant) << exp;
                push_u128(&mut out, v);
            } else {
                let mut big = Big::from_u64(mant);
                big.shl(exp as u64);
                big.write_decimal(&mut out);
            }
            return out;
        }
        let sh = (-exp) as u32;
        let (int_part, frac) = if sh >= 64 {
            (0u128, u128::from(mant))
        } else {
            (
                u128::from(mant >> sh),
                u128::from(mant & ((1u64 << sh) - 1)),
            )
        };
        const SCALE: u128 = 100_000_000_000_000_000; // 10^17 decimals, as %.17Lf
        let scaled = frac * SCALE; // < 2^64 * 2^57
        let mut digits = if sh > 121 {
            0 // the fraction is below half a unit of the 17th decimal
        } else {
            let q = scaled >> sh;
            let rem = scaled & ((1u128 << sh) - 1);
            let half = 1u128 << (sh - 1);
            if rem > half || (rem == half && q & 1 == 1) {
                q + 1
            } else {
                q
            }
        };
        let mut int_part = int_part;
        if digits == SCALE {
            int_part += 1;
            digits = 0;
        }
        push_u128(&mut out, int_part);
        if digits != 0 {
            let mut frac_txt = [b'0'; 17];
            let mut d = digits;
            for slot in frac_txt.iter_mut().rev() {
                *slot = b'0' + (d % 10) as u8;
                d /= 10;
            }
            let used = 17 - frac_txt.iter().rev().take_while(|&&c| c == b'0').count();
            out.push(b'.');
            out.extend_from_slice(&frac_txt[..used]);
        }
        if out == b"-0" {
            out.clear();
            out.push(b'0');
        }
        out
    }
}

impl std::ops::Add for LongDouble {
    type Output = LongDouble;

    /// The correctly rounded sum (round to nearest, ties to even), as the FPU computes it.
    fn add(self, other: LongDouble) -> LongDouble {
        LongDouble(soft_add(self.0, other.0))
    }
}

fn push_u128(out: &mut Vec<u8>, mut v: u128) {
    let mut buf = [0u8; 40];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    out.extend_from_slice(&buf[i..]);
}

/// A binary floating-point format: significand bits and exponent range.
struct Format {
    /// Significand bits, the leading one included.
    prec: i64,
    /// Largest `p` such that values in `[2^p, 2^(p+1))` are finite.
    emax: i64,
    /// Exponent of the smallest subnormal.
    lsb_min: i64,
}

const LD: Format = Format {
    prec: 64,
    emax: 16383,
    lsb_min: -16445,
};

const F64: Format = Format {
    prec: 53,
    emax: 1023,
    lsb_min: -1074,
};

/// A rounded value of some [`Format`]: `mant * 2^exp` with `mant`'s top bit set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Soft {
    Zero { neg: bool },
    Finite { neg: bool, mant: u64, exp: i64 },
    Inf { neg: bool },
    NaN,
}

/// Rounds `m * 2^e` (plus something below `m`'s last bit when `sticky`) to `fmt`,
/// to nearest with ties to even, with gradual underflow and overflow to infinity.
/// `m` must be below 2^127.
fn round(fmt: &Format, neg: bool, m: u128, e: i64, sticky: bool) -> Soft {
    if m == 0 {
        return Soft::Zero { neg };
    }
    // Fold the sticky bit in as one more, lower bit: it breaks ties exactly as needed.
    let (m, e) = (m << 1 | u128::from(sticky), e - 1);
    let nb = 128 - i64::from(m.leading_zeros());
    let p = e + nb - 1;
    let lsb = (p - (fmt.prec - 1)).max(fmt.lsb_min);
    let shift = lsb - e;
    let (q, qe) = if shift <= 0 {
        (m, e)
    } else if shift >= 128 {
        (0, lsb)
    } else {
        let q = m >> shift;
        let rem = m & ((1u128 << shift) - 1);
        let half = 1u128 << (shift - 1);
        let up = rem > half || (rem == half && q & 1 == 1);
        (q + u128::from(up), lsb)
    };
    if q == 0 {
        return Soft::Zero { neg };
    }
    let lz = i64::from(q.leading_zeros());
    let top = qe + 127 - lz;
    if top > fmt.emax {
        return Soft::Inf { neg };
    }
    // q has at most `prec` (<= 64) significant bits now.
    let bits = 128 - lz;
    let mant = (q << (128 - bits)) >> 64;
    Soft::Finite {
        neg,
        mant: mant as u64,
        exp: top - 63,
    }
}

fn soft_add(a: Soft, b: Soft) -> Soft {
    use Soft::*;
    match (a, b) {
        (NaN, _) | (_, NaN) => NaN,
        (Inf { neg: x }, Inf { neg: y }) => {
            if x == y {
                a
            } else {
                NaN
            }
        }
        (Inf { .. }, _) => a,
        (_, Inf { .. }) => b,
        (Zero { neg: x }, Zero { neg: y }) => Zero { neg: x && y },
        (Zero { .. }, _) => b,
        (_, Zero { .. }) => a,
        (
            Finite {
                neg: na,
                mant: ma,
                exp: ea,
            },
            Finite {
                neg: nb,
                mant: mb,
                exp: eb,
            },
        ) => {
            // Order by magnitude: top bits are set, so compare exponents, then significands.
            let ((bn, bm, be), (sn, sm, se)) = if (ea, ma) >= (eb, mb) {
                ((na, ma, ea), (nb, mb, eb))
            } else {
                ((nb, mb, eb), (na, ma, ea))
            };
            let big = u128::from(bm) << 62;
            let small_full = u128::from(sm) << 62;
            let d = be - se;
            let (small, lost) = if d >= 127 {
                (0, true)
            } else {
                let d = d as u32;
                (
                    small_full >> d,
                    d > 0 && small_full & ((1u128 << d) - 1) != 0,
                )
            };
            let e = be - 62;
            if bn == sn {
                round(&LD, bn, big + small, e, lost)
            } else {
                // The true difference lies strictly between (big - small - 1) and
                // (big - small) when bits of `small` were lost.
                let m = big - small - u128::from(lost);
                if m == 0 && !lost {
                    return Zero { neg: false };
                }
                round(&LD, bn, m, e, lost)
            }
        }
    }
}

/// Parses a C float literal (`strtod`/`strtold` syntax, whole string) rounded to `fmt`.
/// Underflow to zero and overflow are refused, as Redis refuses `ERANGE` results.
fn parse_soft(b: &[u8], fmt: &Format) -> Option<Soft> {
    let (neg, rest) = match b.first()? {
        b'-' => (true, &b[1..]),
        b'+' => (false, &b[1..]),
        _ => (false, b),
    };
    if eq_ic(rest, b"inf") || eq_ic(rest, b"infinity") {
        return Some(Soft::Inf { neg });
    }
    if rest.len() >= 3 && eq_ic(&rest[..3], b"nan") {
        let tail = &rest[3..];
        let ok = tail.is_empty()
            || (tail.len() >= 2
                && tail[0] == b'('
                && tail[tail.len() - 1] == b')'
                && tail[1..tail.len() - 1]
                    .iter()
                    .all(|c| c.is_ascii_alphanumeric() || *c == b'_'));
        return ok.then_some(Soft::NaN);
    }
    let hex = rest.len() > 1 && rest[0] == b'0' && (rest[1] | 0x20) == b'x';
    let (radix, body) = if hex { (16u32, &rest[2..]) } else { (10, rest) };
    // Significand: digits, optional point, digits; at least one digit.
    let mut big = Big::default();
    let mut ndigits = 0usize; // significant digits kept in `big`
    let mut frac_digits: i64 = 0;
    let mut seen_digit = false;
    let mut seen_point = false;
    let mut i = 0;
    while i < body.len() {
        let c = body[i];
        if c == b'.' && !seen_point {
            seen_point = true;
        } else if let Some(d) = (c as char).to_digit(radix) {
            seen_digit = true;
            if seen_point {
                frac_digits += 1;
            }
            if d != 0 || ndigits > 0 {
                big.mul_add_small(radix, d);
                ndigits += 1;
            }
        } else {
            break;
        }
        i += 1;
    }
    if !seen_digit {
        return None;
    }
    // Exponent: only consumed when well formed, otherwise it is trailing garbage.
    let mut exp10: i64 = 0;
    if i < body.len() && (body[i] | 0x20) == if hex { b'p' } else { b'e' } {
        let mut j = i + 1;
        let eneg = match body.get(j) {
            Some(b'-') => {
                j += 1;
                true
            }
            Some(b'+') => {
                j += 1;
                false
            }
            _ => false,
        };
        let start = j;
        let mut v: i64 = 0;
        while j < body.len() && body[j].is_ascii_digit() {
            v = (v * 10 + i64::from(body[j] - b'0')).min(1_000_000_000);
            j += 1;
        }
        if j == start {
            return None;
        }
        exp10 = if eneg { -v } else { v };
        i = j;
    }
    if i != body.len() {
        return None;
    }
    if ndigits == 0 {
        return Some(Soft::Zero { neg });
    }
    let result = if hex {
        let e = exp10 - 4 * frac_digits;
        let (m, shift, sticky) = big.top_bits(126);
        round(fmt, neg, m, e + shift as i64, sticky)
    } else {
        let k = exp10 - frac_digits;
        let magnitude = ndigits as i64 + k; // value in [10^(magnitude-1), 10^magnitude)
        if magnitude > 4933 {
            return None;
        }
        if magnitude <= -4952 {
            return None;
        }
        if k >= 0 {
            big.mul_pow10(k as u32);
            let (m, shift, sticky) = big.top_bits(126);
            round(fmt, neg, m, shift as i64, sticky)
        } else {
            let mut den = Big::from_u64(1);
            den.mul_pow10((-k) as u32);
            // Scale so the quotient has 68-69 bits: enough guard bits for any format.
            let s = den.bit_len() as i64 + 68 - big.bit_len() as i64;
            if s >= 0 {
                big.shl(s as u64);
            } else {
                den.shl((-s) as u64);
            }
            let (q, sticky) = big.div_small_quotient(&den, 72);
            round(fmt, neg, q, -s, sticky)
        }
    };
    match result {
        Soft::Inf { .. } => None,
        Soft::Zero { .. } => None, // non-zero digits underflowed
        r => Some(r),
    }
}

/// A minimal unsigned big integer (little-endian 32-bit limbs) for exact float conversion.
#[derive(Clone, Debug, Default)]
struct Big {
    limbs: Vec<u32>,
}

impl Big {
    fn from_u64(v: u64) -> Big {
        let mut b = Big {
            limbs: vec![v as u32, (v >> 32) as u32],
        };
        b.trim();
        b
    }

    fn trim(&mut self) {
        while self.limbs.last() == Some(&0) {
            self.limbs.pop();
        }
    }

    fn is_zero(&self) -> bool {
        self.limbs.is_empty()
    }

    /// self = self * m + a
    fn mul_add_small(&mut self, m: u32, a: u32) {
        let mut carry = u64::from(a);
        for l in self.limbs.iter_mut() {
            let v = u64::from(*l) * u64::from(m) + carry;
            *l = v as u32;
            carry = v >> 32;
        }
        if carry != 0 {
            self.limbs.push(carry as u32);
        }
    }

    fn mul_pow10(&mut self, mut k: u32) {
        while k >= 9 {
            self.mul_add_small(1_000_000_000, 0);
            k -= 9;
        }
        if k > 0 {
            self.mul_add_small(10u32.pow(k), 0);
        }
    }

    fn bit_len(&self) -> u64 {
        match self.limbs.last() {
            None => 0,
            Some(&top) => self.limbs.len() as u64 * 32 - u64::from(top.leading_zeros()),
        }
    }

    fn bit(&self, i: u64) -> bool {
        self.limbs
            .get((i / 32) as usize)
            .is_some_and(|l| l >> (i % 32) & 1 == 1)
    }

    fn shl(&mut self, bits: u64) {
        if self.is_zero() {
            return;
        }
        let words = (bits / 32) as usize;
        let r = (bits % 32) as u32;
        if r > 0 {
            let mut carry = 0u32;
            for l in self.limbs.iter_mut() {
                let v = (*l << r) | carry;
                carry = *l >> (32 - r);
                *l = v;
            }
            if carry != 0 {
                self.limbs.push(carry);
            }
        }
        if words > 0 {
            self.limbs.splice(0..0, std::iter::repeat_n(0, words));
        }
    }

    fn shr1(&mut self) {
        let mut carry = 0u32;
        for l in self.limbs.iter_mut().rev() {
            let v = (*l >> 1) | carry;
            carry = *l << 31;
            *l = v;
        }
        self.trim();
    }

    fn cmp(&self, o: &Big) -> std::cmp::Ordering {
        self.limbs
            .len()
            .cmp(&o.limbs.len())
            .then_with(|| self.limbs.iter().rev().cmp(o.limbs.iter().rev()))
    }

    /// self -= o; requires self >= o.
    fn sub(&mut self, o: &Big) {
        let mut borrow = 0i64;
        for (i, l) in self.limbs.iter_mut().enumerate() {
            let v = i64::from(*l) - i64::from(o.limbs.get(i).copied().unwrap_or(0)) - borrow;
            if v < 0 {
                *l = (v + (1i64 << 32)) as u32;
                borrow = 1;
            } else {
                *l = v as u32;
                borrow = 0;
            }
        }
        self.trim();
    }

    /// The top `n` (<= 127) bits as an integer, how far they were shifted down, and
    /// whether any lower bit was set.
    fn top_bits(&self, n: u64) -> (u128, u64, bool) {
        let len = self.bit_len();
        let shift = len.saturating_sub(n);
        let mut m = 0u128;
        for i in (shift..len).rev() {
            m = m << 1 | u128::from(self.bit(i));
        }
        let sticky = (0..shift).any(|i| self.bit(i));
        (m, shift, sticky)
    }

    /// `floor(self / den)` for a quotient known to be below 2^(qbits+1), and whether a
    /// remainder was left. Consumes `self`.
    fn div_small_quotient(&mut self, den: &Big, qbits: u32) -> (u128, bool) {
        let mut d = den.clone();
        d.shl(u64::from(qbits));
        let mut q = 0u128;
        for i in (0..=qbits).rev() {
            if self.cmp(&d) != std::cmp::Ordering::Less {
                self.sub(&d);
                q |= 1u128 << i;
            }
            d.shr1();
        }
        (q, !self.is_zero())
    }

    /// Appends the decimal digits (consumes the value).
    fn write_decimal(&mut self, out: &mut Vec<u8>) {
        let mut chunks: Vec<u32> = Vec::new();
        while !self.is_zero() {
            let mut rem = 0u64;
            for l in self.limbs.iter_mut().rev() {
                let v = (rem << 32) | u64::from(*l);
                *l = (v / 1_000_000_000) as u32;
                rem = v % 1_000_000_000;
            }
            self.trim();
            chunks.push(rem as u32);
        }
        match chunks.split_last() {
            None => out.push(b'0'),
            Some((first, rest)) => {
                out.extend_from_slice(itoa::Buffer::new().format(*first).as_bytes());
                for c in rest.iter().rev() {
                    out.extend_from_slice(format!("{c:09}").as_bytes());
                }
            }
        }
    }
}

/// Runs handlers directly (no dispatch, every shard locked) for the families' unit tests.
#[cfg(test)]
pub(crate) mod testkit {
    use std::sync::Arc;

    use resp::{Protocol, ReplyWriter};

    use crate::instance::unix_ms;
    use crate::spec::Handler;
    use crate::{Client, ClientInfo, Config, Ctx, Instance};

    pub struct Kit {
        pub inst: Arc<Instance>,
        pub client: Client,
        pub out: ReplyWriter,
        /// Added to the wall clock, to travel in time past expiries.
        pub clock_offset_ms: i64,
    }

    impl Kit {
        pub fn new() -> Kit {
            Kit {
                inst: Instance::new(Config::default()),
                client: Client::new(Arc::new(ClientInfo::new(1, "a".into(), "b".into())), true),
                out: ReplyWriter::new(Protocol::Resp2),
                clock_offset_ms: 0,
            }
        }

        pub fn now_ms(&self) -> u64 {
            (unix_ms() as i64 + self.clock_offset_ms) as u64
        }

        fn handler(name: &str) -> Handler {
            for (n, h) in super::super::handlers() {
                if n == name {
                    return h;
                }
            }
            panic!("no handler for {name}")
        }

        /// Runs one command; returns the raw reply.
        pub fn call(&mut self, argv: &[&[u8]]) -> String {
            let mut name = String::from_utf8_lossy(argv[0]).to_ascii_lowercase();
            if name == "object" || name == "tag" {
                name = format!(
                    "{name}|{}",
                    String::from_utf8_lossy(argv[1]).to_ascii_lowercase()
                );
            }
            let h = Self::handler(&name);
            self.out.clear();
            let now_ms = self.now_ms();
            let mut locked = self.inst.ks.lock_all();
            let mut ctx = Ctx {
                inst: &self.inst,
                client: &mut self.client,
                out: &mut self.out,
                ks: &mut locked,
                now_ms,
                access: self.inst.access_clock(now_ms),
                argv,
            };
            h(&mut ctx, argv);
            drop(locked);
            String::from_utf8_lossy(self.out.as_bytes()).into_owned()
        }

        /// Runs a command through the real dispatcher (generic checks, limits, locking),
        /// written as space-separated words; returns the raw reply.
        pub fn run(&mut self, line: &str) -> String {
            let argv: Vec<&[u8]> = line.split(' ').map(str::as_bytes).collect();
            self.out.clear();
            crate::dispatch::dispatch(&self.inst, &mut self.client, &mut self.out, &argv);
            crate::dispatch::flush_stats(&self.inst, &mut self.client);
            String::from_utf8_lossy(self.out.as_bytes()).into_owned()
        }

        /// Runs a command written as space-separated words (`''` is an empty argument).
        pub fn cmd(&mut self, line: &str) -> String {
            let words: Vec<&[u8]> = line
                .split(' ')
                .filter(|w| !w.is_empty())
                .map(|w| if w == "''" { &b""[..] } else { w.as_bytes() })
                .collect();
            self.call(&words)
        }

        /// Runs a command whose reply must be an integer and returns it.
        pub fn int(&mut self, line: &str) -> i64 {
            let r = self.cmd(line);
            r.strip_prefix(':')
                .and_then(|v| v.trim_end().parse().ok())
                .unwrap_or_else(|| panic!("{line}: not an integer reply: {r:?}"))
        }

        /// Asserts a relative time-to-live in milliseconds, allowing for the clock
        /// moving on between commands.
        pub fn assert_pttl(&mut self, key: &str, set_ms: i64) {
            let v = self.int(&format!("pttl {key}"));
            assert!(
                (set_ms - 100..=set_ms).contains(&v),
                "pttl {key} = {v}, set to {set_ms}"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ld(s: &str) -> LongDouble {
        match LongDouble::parse(s.as_bytes()) {
            Some(v) => v,
            None => panic!("{s} did not parse"),
        }
    }

    fn human(v: LongDouble) -> String {
        String::from_utf8_lossy(&v.to_human()).into_owned()
    }

    fn sum(a: &str, b: &str) -> String {
        human(ld(a) + ld(b))
    }

    #[test]
    fn glob_basics() {
        // Redis never matches an empty string against a non-empty pattern, not even "*"
        // (KEYS and SCAN special-case "*" before matching).
        assert!(!glob_match(b"*", b"", false));
        assert!(glob_match(b"*", b"anything", false));
        assert!(glob_match(b"a*", b"abc", false));
        assert!(glob_match(b"*c", b"abc", false));
        assert!(!glob_match(b"*c", b"ab", false));
        assert!(glob_match(b"a?c", b"abc", false));
        assert!(!glob_match(b"a?c", b"ac", false));
        assert!(glob_match(b"h[ae]llo", b"hello", false));
        assert!(!glob_match(b"h[ae]llo", b"hillo", false));
        assert!(glob_match(b"h[^e]llo", b"hallo", false));
        assert!(!glob_match(b"h[^e]llo", b"hello", false));
        assert!(glob_match(b"h[a-b]llo", b"hbllo", false));
        assert!(glob_match(b"x\\*y", b"x*y", false));
        assert!(!glob_match(b"x\\*y", b"xzy", false));
        assert!(glob_match(b"x*y", b"xy", false));
        assert!(glob_match(b"**", b"abc", false));
        assert!(glob_match(b"a*b*c", b"aXXbYYc", false));
        assert!(!glob_match(b"a*b*c", b"aXXbYY", false));
        assert!(!glob_match(b"", b"a", false));
        assert!(glob_match(b"", b"", false));
    }

    #[test]
    fn glob_common_cases() {
        let m = |p: &str, s: &str| glob_match(p.as_bytes(), s.as_bytes(), false);
        assert!(!m("a*", "bac"));
        assert!(m("h?llo", "hello"));
        assert!(!m("h?llo", "hllo"));
        assert!(m("h[b-a]llo", "hallo"));
        assert!(m("h\\*llo", "h*llo"));
        assert!(!m("h\\*llo", "hello"));
        assert!(m("*max*", "maxmemory-policy"));
        // An unterminated class still needs a byte to match it: Redis's KEYS "a[" does
        // not return the key "a[".
        assert!(!m("a[", "a["));
        assert!(m("a[[", "a["));
    }

    #[test]
    fn glob_nocase() {
        assert!(glob_match(b"HELLO", b"hello", true));
        assert!(!glob_match(b"HELLO", b"hello", false));
        assert!(glob_match(b"[A-C]x", b"bX", true));
        assert!(glob_match(b"*Max*", b"maxmemory", true));
        // Reversed range is swapped before folding, as Redis does.
        assert!(!glob_match(b"[Z-a]", b"q", true));
    }

    /// Matches observed from Redis 7.0 `KEYS` over the keys below.
    #[test]
    fn glob_quirks_match_redis() {
        let keys: &[&[u8]] = &[
            b"a", b"b", b"ab", b"abc", b"]", b"[", b"a]", b"-", b"^", b"\\", b"x*y", b"xy", b"A",
        ];
        let hits = |p: &[u8]| -> Vec<&[u8]> {
            let mut v: Vec<&[u8]> = keys
                .iter()
                .copied()
                .filter(|k| glob_match(p, k, false))
                .collect();
            v.sort();
            v
        };
        let sorted = |mut v: Vec<&'static [u8]>| {
            v.sort();
            v
        };
        assert_eq!(hits(b"["), Vec::<&[u8]>::new());
        assert_eq!(
            hits(b"[^"),
            sorted(vec![b"A", b"b", b"-", b"^", b"a", b"[", b"\\", b"]"])
        );
        assert_eq!(hits(b"[a-]"), sorted(vec![b"^", b"a", b"]"]));
        assert_eq!(hits(b"[a-]]"), sorted(vec![b"^", b"a", b"]"]));
        assert_eq!(hits(b"[]a]"), Vec::<&[u8]>::new());
        assert_eq!(hits(b"[]]"), Vec::<&[u8]>::new());
        assert_eq!(hits(b"[c-a]"), sorted(vec![b"a", b"b"]));
        assert_eq!(hits(b"[\\]]"), sorted(vec![b"]"]));
        assert_eq!(hits(b"\\"), sorted(vec![b"\\"]));
        assert_eq!(hits(b"[a"), sorted(vec![b"a"]));
        assert_eq!(hits(b"a[bc"), sorted(vec![b"ab"]));
        assert_eq!(hits(b"[a-b-c]"), sorted(vec![b"a", b"b", b"-"]));
        assert_eq!(hits(b"a\\"), Vec::<&[u8]>::new());
        assert_eq!(hits(b"[\\"), sorted(vec![b"\\"]));
        assert_eq!(hits(b"[a\\"), sorted(vec![b"a", b"\\"]));
        assert_eq!(
            hits(b"[^\\]"),
            sorted(vec![b"A", b"b", b"-", b"^", b"a", b"[", b"\\"])
        );
        assert_eq!(hits(b"??"), sorted(vec![b"a]", b"xy", b"ab"]));
    }

    #[test]
    fn glob_nesting_limit_and_speed() {
        let s = vec![b'a'; 3000];
        let pat = |n: usize| b"*a".repeat(n);
        assert!(glob_match(&pat(1000), &s, false));
        assert!(!glob_match(&pat(1001), &s, false));
        // Pathological backtracking finishes quickly thanks to the give-up rule.
        let mut p = b"*a".repeat(30);
        p.push(b'b');
        assert!(!glob_match(&p, &s, false));
    }

    #[test]
    fn cursors() {
        assert_eq!(parse_cursor(b"0"), Some(0));
        assert_eq!(parse_cursor(b""), Some(0));
        assert_eq!(parse_cursor(b"00"), Some(0));
        assert_eq!(parse_cursor(b"+5"), Some(5));
        assert_eq!(parse_cursor(b"-1"), Some(u64::MAX));
        assert_eq!(parse_cursor(b"18446744073709551615"), Some(u64::MAX));
        assert_eq!(parse_cursor(b"18446744073709551616"), None);
        assert_eq!(parse_cursor(b" 1"), None);
        assert_eq!(parse_cursor(b"5abc"), None);
        assert_eq!(parse_cursor(b"-"), None);
        assert_eq!(parse_cursor(b"7\0x"), Some(7));
    }

    #[test]
    fn expire_flags() {
        let p = |a: &[&[u8]]| ExpireFlags::parse(a);
        assert_eq!(
            p(&[b"nx", b"xx"]).err().as_deref(),
            Some("ERR NX and XX, GT or LT options at the same time are not compatible")
        );
        assert_eq!(
            p(&[b"LT", b"Gt"]).err().as_deref(),
            Some("ERR GT and LT options at the same time are not compatible")
        );
        assert_eq!(
            p(&[b"xx", b"foo"]).err().as_deref(),
            Some("ERR Unsupported option foo")
        );
        let f = p(&[b"xx", b"lt"]).unwrap_or_default();
        assert!(f.allows(Some(100), 50));
        assert!(!f.allows(Some(100), 100));
        assert!(!f.allows(None, 50));
        let gt = p(&[b"gt"]).unwrap_or_default();
        assert!(!gt.allows(None, 50));
        assert!(gt.allows(Some(10), 50));
    }

    #[test]
    fn f64_parsing_like_strtod() {
        assert_eq!(parse_f64(b"1.5"), Some(1.5));
        assert_eq!(parse_f64(b"-.5"), Some(-0.5));
        assert_eq!(parse_f64(b"5."), Some(5.0));
        assert_eq!(parse_f64(b"+1e3"), Some(1000.0));
        assert_eq!(parse_f64(b"inf"), Some(f64::INFINITY));
        assert_eq!(parse_f64(b"-Infinity"), Some(f64::NEG_INFINITY));
        assert_eq!(parse_f64(b"0x10"), Some(16.0));
        assert_eq!(parse_f64(b"0x1p-2"), Some(0.25));
        assert_eq!(parse_f64(b"0x1p-1074"), Some(f64::from_bits(1)));
        assert_eq!(parse_f64(b"0x1.8p1"), Some(3.0));
        assert_eq!(parse_f64(b"1e-310"), Some(1e-310));
        assert_eq!(parse_f64(b"0e-999"), Some(0.0));
        assert_eq!(parse_f64(b"nan"), None);
        assert_eq!(parse_f64(b"1e400"), None);
        assert_eq!(parse_f64(b"1e-400"), None);
        assert_eq!(parse_f64(b" 1"), None);
        assert_eq!(parse_f64(b"1 "), None);
        assert_eq!(parse_f64(b""), None);
        assert_eq!(parse_f64(b"0x"), None);
        assert_eq!(parse_f64(b"1e"), None);
        assert_eq!(parse_f64(b"abc"), None);
    }

    /// Expected strings come from Redis 7.0 INCRBYFLOAT replies.
    #[test]
    fn long_double_matches_redis() {
        assert_eq!(sum("3", "0.1"), "3.1");
        assert_eq!(sum("3.1", "0.2"), "3.3");
        assert_eq!(sum("10.5", "0.1"), "10.6");
        assert_eq!(sum("0.1", "0.7"), "0.8");
        assert_eq!(sum("0", "1e20"), "100000000000000000000");
        assert_eq!(sum("0", "0x10"), "16");
        assert_eq!(sum("16", "1.5e-10"), "16.00000000015");
        assert_eq!(sum("0", "-0.0"), "0");
        assert_eq!(sum("0", "1e-18"), "0");
        assert_eq!(sum("0", "5e-18"), "0");
        assert_eq!(sum("0", "-5e-18"), "0");
        assert_eq!(sum("0", "+1.5"), "1.5");
        assert_eq!(sum("0", ".5"), "0.5");
        assert_eq!(sum("0", "5."), "5");
        assert_eq!(sum("0", "0x1p-2"), "0.25");
        assert_eq!(sum("0", "0x.8"), "0.5");
        assert_eq!(sum("0", "1e-4940"), "0");
        assert_eq!(
            sum("0", "123456789012345678901234567890"),
            "123456789012345678899921813504"
        );
        assert_eq!(sum("0", "0.000000000000000015"), "0.00000000000000002");
        assert_eq!(sum("0", "3.0000000000000000000000001"), "3");
        assert_eq!(sum("0", "1.23456789012345678"), "1.23456789012345678");
        assert_eq!(sum("-1.5", "1.5"), "0");
        assert_eq!(sum("0", "2.5e-17"), "0.00000000000000002");
        assert_eq!(sum("0", "1.5e-17"), "0.00000000000000002");
        assert_eq!(sum("0", "0x1.fffffffffffffffffp0"), "2");
        let big = sum("100000000000000000000", "1e308");
        assert!(big.starts_with("99999999999999999996685879655845645660560099847415567207797"));
        assert!(big.ends_with(
            "4901618630217086589253444881623791300855757318142424510452728255046343928578048"
        ));
        assert_eq!(big.len(), 308);
        let huge = sum("0", "1e4000");
        assert_eq!(huge.len(), 4000);
        assert!(
            huge.starts_with("99999999999999999999654638730996237849324925835069576313015083330")
        );
        assert!(huge.ends_with("6648276349901340672"));
        let max = sum("0", "0x1p16383");
        assert_eq!(max.len(), 4932);
        assert!(max.starts_with("5948657476786158825428796633140035653817223435482551187363374"));
        assert!(max.ends_with("4449614045909106967144147839858684971576230223513645334982033408"));
        let x = sum("0", "1.1e4932");
        assert!(x.starts_with("10999999999999999999743731075282418176590308692790434077349880"));
        assert!(x.ends_with("2323242088136704"));
        assert!(!(ld("1.1e4932") + ld("1.1e4932")).is_finite());
        assert!(!(ld("0") + ld("inf")).is_finite());
    }

    #[test]
    fn long_double_parse_limits_match_redis() {
        let bad = |s: &str| assert!(LongDouble::parse(s.as_bytes()).is_none(), "{s}");
        bad(" 1");
        bad("1 ");
        bad("nan");
        bad("nan(123)");
        bad("1e5000");
        bad("1e-5000");
        bad("1e-4951");
        bad("0x1p16384");
        bad("0x1p-16446");
        bad("1e");
        bad("-");
        bad("");
        bad("0x");
        bad("1\0abc");
        bad("\0");
        assert!(LongDouble::parse(b"2e-4951").is_some());
        assert!(LongDouble::parse(b"0X1P-16445").is_some());
        assert!(LongDouble::parse(b"INFINITY").is_some());
        assert_eq!(sum("0", "2e-4951"), "0");
        assert_eq!(
            human(LongDouble::from_i64(i64::MIN)),
            "-9223372036854775808"
        );
        assert_eq!(human(LongDouble::from_i64(-7) + ld("0.25")), "-6.75");
    }
}
