//! Values stored in the keyspace and the entry that wraps them.

use crate::table::Keyed;
use crate::types::{Hash, List, Set, Stream, ZSet};

/// A string value. Redis keeps small integers in an integer encoding and other strings
/// as bytes; `OBJECT ENCODING` reports `int`, `embstr` (short, never modified in place)
/// or `raw`. We keep the same distinction so the reply and the encoding name match.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Str {
    Int(i64),
    Bytes { data: Vec<u8>, raw: bool },
}

/// Strings up to this length created by SET are reported as `embstr`, as in Redis.
pub const EMBSTR_MAX: usize = 44;

impl Str {
    /// Builds a string the way `SET` stores it: integers that round-trip exactly become `Int`.
    pub fn from_bytes(b: &[u8]) -> Self {
        if let Some(n) = parse_canonical_i64(b) {
            return Str::Int(n);
        }
        Str::Bytes {
            data: b.to_vec(),
            raw: b.len() > EMBSTR_MAX,
        }
    }

    /// Like [`from_bytes`](Self::from_bytes) but takes ownership of the bytes, so a
    /// string read from elsewhere (a snapshot) is stored without another copy.
    pub fn from_vec(data: Vec<u8>) -> Self {
        if let Some(n) = parse_canonical_i64(&data) {
            return Str::Int(n);
        }
        let raw = data.len() > EMBSTR_MAX;
        Str::Bytes { data, raw }
    }

    /// A string that was modified in place (APPEND, SETRANGE): Redis reports it as `raw`.
    pub fn raw(data: Vec<u8>) -> Self {
        Str::Bytes { data, raw: true }
    }

    pub fn len(&self) -> usize {
        match self {
            Str::Int(n) => itoa::Buffer::new().format(*n).len(),
            Str::Bytes { data, .. } => data.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Calls `f` with the value's bytes (integers are formatted on a stack buffer).
    pub fn with_bytes<R>(&self, f: impl FnOnce(&[u8]) -> R) -> R {
        match self {
            Str::Int(n) => f(itoa::Buffer::new().format(*n).as_bytes()),
            Str::Bytes { data, .. } => f(data),
        }
    }

    pub fn to_vec(&self) -> Vec<u8> {
        self.with_bytes(|b| b.to_vec())
    }

    /// Takes the bytes out, turning the value into an owned, mutable byte vector.
    pub fn make_raw(&mut self) -> &mut Vec<u8> {
        if let Str::Int(n) = self {
            *self = Str::raw(itoa::Buffer::new().format(*n).as_bytes().to_vec());
        }
        match self {
            Str::Bytes { data, raw } => {
                *raw = true;
                data
            }
            Str::Int(_) => unreachable!("converted above"),
        }
    }

    pub fn as_int(&self) -> Option<i64> {
        match self {
            Str::Int(n) => Some(*n),
            Str::Bytes { data, .. } => parse_i64_strict(data),
        }
    }

    pub fn encoding(&self) -> &'static str {
        match self {
            Str::Int(_) => "int",
            Str::Bytes { raw: false, .. } => "embstr",
            Str::Bytes { raw: true, .. } => "raw",
        }
    }

    /// Heap bytes the string owns, as the allocator hands them out (see [`alloc_size`]).
    fn heap_bytes(&self) -> usize {
        match self {
            Str::Int(_) => 0,
            Str::Bytes { data, .. } => alloc_size(data.capacity()),
        }
    }
}

/// What an allocation of `n` bytes really occupies: jemalloc (the binary's allocator)
/// rounds small requests up to size classes, 8 and 16 bytes and then four classes per
/// doubling (16-byte steps up to 128, 32-byte steps up to 256, ...). Counting the class
/// rather than the request keeps the estimate honest for the many short keys and values
/// a cache holds (a 20-byte key costs 32 bytes).
#[inline]
pub fn alloc_size(n: usize) -> usize {
    if n == 0 {
        return 0;
    }
    if n <= 16 {
        return (n + 7) & !7;
    }
    // The power of two just below n; classes in [p, 2p) are p/4 apart (at least 16).
    // Steps are powers of two: round with a mask, not a division (this runs on every
    // write, and a 64-bit division costs tens of cycles).
    let p = 1usize << (usize::BITS - 1 - (n - 1).leading_zeros());
    let step = (p / 4).max(16);
    (n + step - 1) & !(step - 1)
}

/// Parses an i64 the way Redis's `string2ll` does: optional '-', no '+', no leading zeros
/// (except "0"), no spaces, no overflow.
pub fn parse_i64_strict(b: &[u8]) -> Option<i64> {
    if b.is_empty() || b.len() > 20 {
        return None;
    }
    let (neg, digits) = match b[0] {
        b'-' => (true, &b[1..]),
        _ => (false, b),
    };
    if digits.is_empty() || (digits[0] == b'0' && (digits.len() > 1 || neg)) {
        return if digits == b"0" && !neg {
            Some(0)
        } else {
            None
        };
    }
    let mut v: u64 = 0;
    for &c in digits {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(u64::from(c - b'0'))?;
    }
    if neg {
        if v > i64::MAX as u64 + 1 {
            None
        } else {
            Some((v as i64).wrapping_neg())
        }
    } else {
        i64::try_from(v).ok()
    }
}

/// Like [`parse_i64_strict`] but only accepts strings that Redis would store in integer
/// encoding (it also refuses strings longer than 20 bytes, which `strict` does already).
pub fn parse_canonical_i64(b: &[u8]) -> Option<i64> {
    parse_i64_strict(b)
}

/// A value of any type. Collections are boxed (or, for hashes and sets, 16-byte handles
/// to their buffers) so a `Value` stays 32 bytes and an [`Entry`] 64 (one cache line per
/// table slot).
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Str(Str),
    List(Box<List>),
    Hash(Hash),
    Set(Set),
    /// Inline: small sorted sets are one exact-size buffer (see [`ZSet`]).
    ZSet(ZSet),
    Stream(Box<Stream>),
}

impl Value {
    /// The name `TYPE` reports.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Str(_) => "string",
            Value::List(_) => "list",
            Value::Hash(_) => "hash",
            Value::Set(_) => "set",
            Value::ZSet(_) => "zset",
            Value::Stream(_) => "stream",
        }
    }

    /// The name `OBJECT ENCODING` reports.
    pub fn encoding(&self) -> &'static str {
        match self {
            Value::Str(s) => s.encoding(),
            Value::List(v) => v.encoding(),
            Value::Hash(v) => v.encoding(),
            Value::Set(v) => v.encoding(),
            Value::ZSet(v) => v.encoding(),
            Value::Stream(_) => "stream",
        }
    }

    /// Heap bytes owned by the value, rounded to allocator size classes (a boxed
    /// collection counts its box too; hashes and sets are held inline).
    pub fn heap_bytes(&self) -> usize {
        match self {
            Value::Str(s) => s.heap_bytes(),
            Value::List(v) => alloc_size(std::mem::size_of::<List>()) + v.heap_bytes(),
            Value::Hash(v) => v.heap_bytes(),
            Value::Set(v) => v.heap_bytes(),
            Value::ZSet(v) => v.heap_bytes(),
            Value::Stream(v) => alloc_size(std::mem::size_of::<Stream>()) + v.heap_bytes(),
        }
    }
}

/// One key in the keyspace.
#[derive(Clone, Debug)]
pub struct Entry {
    pub key: Box<[u8]>,
    pub value: Value,
    /// Absolute expiry in Unix milliseconds; 0 means the key does not expire. Private:
    /// changes go through `EntryMut::set_expire` so volatile-key counts stay right.
    expire_at: u64,
    /// Eviction bookkeeping, kept by [`Entry::touch`]: under an LRU policy the last access
    /// time in seconds, under an LFU one the logarithmic access counter and the minute it
    /// last decayed (see [`crate::evict::Access`]).
    pub access: u32,
    /// Whether the key carries tags (see [`crate::tags`]): the keyspace's removal paths
    /// look the key up in the tag index only when this is set. Kept by the keyspace
    /// (private); it sits in what was padding, so an `Entry` stays 64 bytes.
    tagged: bool,
}

impl Keyed for Entry {
    fn key(&self) -> &[u8] {
        &self.key
    }
}

impl Entry {
    pub fn new(key: &[u8], value: Value) -> Self {
        Entry {
            key: key.into(),
            value,
            expire_at: 0,
            access: 0,
            tagged: false,
        }
    }

    /// Sets the expiry of an entry that is not in a table yet.
    pub fn with_expire(mut self, at_ms: u64) -> Self {
        self.expire_at = at_ms;
        self
    }

    pub fn expire_at(&self) -> u64 {
        self.expire_at
    }

    pub(crate) fn set_expire_raw(&mut self, at_ms: u64) {
        self.expire_at = at_ms;
    }

    /// Whether the key carries tags.
    #[inline]
    pub fn is_tagged(&self) -> bool {
        self.tagged
    }

    pub(crate) fn set_tagged(&mut self, on: bool) {
        self.tagged = on;
    }

    pub fn is_expired(&self, now_ms: u64) -> bool {
        self.expire_at != 0 && self.expire_at <= now_ms
    }

    /// Bytes this entry is charged in the keyspace's memory accounting (`used_memory` of a
    /// tenant, and what eviction frees): [`ENTRY_OVERHEAD`] for its table slot, plus the key's
    /// and the value's heap allocations rounded to allocator size classes.
    #[inline]
    pub fn memory_usage(&self) -> usize {
        ENTRY_OVERHEAD + alloc_size(self.key.len()) + self.value.heap_bytes()
    }

    /// Records an access (a read or a write) for eviction, as `clock` says.
    #[inline]
    pub fn touch(&mut self, clock: &crate::evict::Access) {
        clock.touch(&mut self.access);
    }
}

/// Bytes charged per entry for the table slot that holds it. Entries live inline in the
/// segments' hashbrown buckets (`size_of::<Entry>()`, 64 bytes, plus one control byte), and
/// a segment is 2048 buckets holding between 896 entries (just split) and 1792 (about to
/// split), about 60% full on average as a table grows: so about 5/3 buckets per entry.
pub const ENTRY_OVERHEAD: usize = (std::mem::size_of::<Entry>() + 1) * 5 / 3;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strict_int_parsing() {
        assert_eq!(parse_i64_strict(b"0"), Some(0));
        assert_eq!(parse_i64_strict(b"-1"), Some(-1));
        assert_eq!(parse_i64_strict(b"01"), None);
        assert_eq!(parse_i64_strict(b"-0"), None);
        assert_eq!(parse_i64_strict(b"+1"), None);
        assert_eq!(parse_i64_strict(b" 1"), None);
        assert_eq!(parse_i64_strict(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(parse_i64_strict(b"-9223372036854775808"), Some(i64::MIN));
        assert_eq!(parse_i64_strict(b"9223372036854775808"), None);
        assert_eq!(parse_i64_strict(b""), None);
        assert_eq!(parse_i64_strict(b"-"), None);
    }

    #[test]
    fn allocation_classes() {
        let classes: Vec<usize> = [
            0, 1, 8, 9, 16, 17, 32, 33, 100, 128, 129, 200, 257, 1000, 4096,
        ]
        .iter()
        .map(|&n| alloc_size(n))
        .collect();
        assert_eq!(
            classes,
            [0, 8, 8, 16, 16, 32, 32, 48, 112, 128, 160, 224, 320, 1024, 4096]
        );
        assert_eq!(ENTRY_OVERHEAD, 108, "Entry grew: revisit the accounting");
        assert_eq!(std::mem::size_of::<Value>(), 32);
        assert_eq!(std::mem::size_of::<Entry>(), 64);
        assert_eq!(std::mem::size_of::<Hash>(), 16);
        assert_eq!(std::mem::size_of::<Set>(), 16);
        assert!(std::mem::size_of::<ZSet>() <= 24);
    }

    #[test]
    fn encodings() {
        assert_eq!(Str::from_bytes(b"123").encoding(), "int");
        assert_eq!(Str::from_bytes(b"abc").encoding(), "embstr");
        assert_eq!(Str::from_bytes(&[b'a'; 45]).encoding(), "raw");
        for b in [&b"-7"[..], b"007", b"", &[b'x'; 45]] {
            assert_eq!(Str::from_vec(b.to_vec()), Str::from_bytes(b));
        }
        let mut s = Str::from_bytes(b"12");
        s.make_raw().push(b'3');
        assert_eq!(s.encoding(), "raw");
        assert_eq!(s.to_vec(), b"123");
    }
}
