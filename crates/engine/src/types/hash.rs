//! The hash value.
//!
//! Contract other crates rely on (persistence, generic key commands): `new`, `len`,
//! `insert` (add or overwrite; true when the field is new), `for_each` (field, value),
//! `encoding`, `heap_bytes` (O(1)).
//!
//! Two encodings, as Redis 7.0 keeps them:
//!
//! * `listpack`: every field and value one after the other in one exactly sized byte
//!   buffer ([`super::packed`]: a varint pair count, then field, value, field, value...),
//!   in insertion order. Lookups walk it; changes rebuild it. Used while the hash has at
//!   most [`HashLimits::max_entries`] fields and no field or value is longer than
//!   [`HashLimits::max_value`] bytes (Redis 7.0's `hash-max-listpack-entries` 512 and
//!   `hash-max-listpack-value` 64).
//! * `hashtable`: a [`Dense`] table of one allocation per pair (varint field length,
//!   field, value). A hash converts once a limit is crossed and never goes back, as in
//!   Redis.
//!
//! The type is 16 bytes (a boxed slice or a box), so `Value` holds it inline.

use super::dense::{Dense, KeyOf};
use super::packed::{self, Elem, Needle};
use crate::value::alloc_size;

/// Redis 7.0's `hash-max-listpack-entries` default (512 in 7.0's config table and
/// redis.conf; `CONFIG GET` on redis-server 7.0.15 confirms it).
pub const MAX_LISTPACK_ENTRIES: usize = 512;
/// Redis 7.0's `hash-max-listpack-value` default.
pub const MAX_LISTPACK_VALUE: usize = 64;

/// When a hash leaves its compact encoding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HashLimits {
    /// Most fields a listpack hash holds.
    pub max_entries: usize,
    /// Longest field or value (bytes) a listpack hash holds.
    pub max_value: usize,
}

impl Default for HashLimits {
    fn default() -> Self {
        HashLimits {
            max_entries: MAX_LISTPACK_ENTRIES,
            max_value: MAX_LISTPACK_VALUE,
        }
    }
}

/// A pair item of the large encoding: varint field length, field, value.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Pair;

impl KeyOf for Pair {
    #[inline]
    fn key(item: &[u8]) -> &[u8] {
        let (len, n) = packed::read_varint(item, 0);
        &item[n..n + len as usize]
    }
}

impl Pair {
    fn make(field: &[u8], value: &[u8]) -> Box<[u8]> {
        let mut v =
            Vec::with_capacity(packed::varint_len(field.len() as u64) + field.len() + value.len());
        packed::push_varint(field.len() as u64, &mut v);
        v.extend_from_slice(field);
        v.extend_from_slice(value);
        v.into_boxed_slice()
    }

    #[inline]
    fn split(item: &[u8]) -> (&[u8], &[u8]) {
        let (len, n) = packed::read_varint(item, 0);
        let end = n + len as usize;
        (&item[n..end], &item[end..])
    }
}

#[derive(Clone, Debug)]
enum Repr {
    Pack(Box<[u8]>),
    Table(Box<Dense<Pair>>),
}

/// A hash value.
#[derive(Clone, Debug)]
pub struct Hash(Repr);

impl Default for Hash {
    fn default() -> Self {
        Hash::new()
    }
}

impl PartialEq for Hash {
    /// Same fields with the same values, whatever the encoding and order.
    fn eq(&self, other: &Self) -> bool {
        if let (Repr::Table(a), Repr::Table(b)) = (&self.0, &other.0) {
            return a.same_items(b);
        }
        if self.len() != other.len() {
            return false;
        }
        let mut same = true;
        self.for_each_elem(|f, v| {
            if same {
                same = f
                    .with_bytes(|f| other.get(f))
                    .is_some_and(|w| v == w || v.with_bytes(|a| w.with_bytes(|b| a == b)));
            }
        });
        same
    }
}

/// The pair count at the head of a listpack buffer and where the pairs start.
#[inline]
fn pack_head(buf: &[u8]) -> (usize, usize) {
    if buf.is_empty() {
        return (0, 0);
    }
    let (n, len) = packed::read_varint(buf, 0);
    (n as usize, len)
}

/// Where a field was found in a listpack: field start, value start, value end.
#[derive(Clone, Copy)]
struct Found {
    field: usize,
    value: usize,
    end: usize,
}

fn pack_find(buf: &[u8], field: &Needle<'_>) -> Option<Found> {
    let (_, mut p) = pack_head(buf);
    while p < buf.len() {
        let v = packed::skip(buf, p);
        let end = packed::skip(buf, v);
        if field.matches(buf, p) {
            return Some(Found {
                field: p,
                value: v,
                end,
            });
        }
        p = end;
    }
    None
}

/// A piece of a listpack being rebuilt: bytes copied from the old buffer, or a new
/// element.
enum Piece<'a> {
    Raw(&'a [u8]),
    New(&'a Needle<'a>),
}

impl Piece<'_> {
    fn len(&self) -> usize {
        match self {
            Piece::Raw(b) => b.len(),
            Piece::New(n) => n.encoded_len(),
        }
    }
}

/// A new, exactly sized listpack buffer: the count `n`, then `pieces`.
fn pack_build(n: usize, pieces: &[Piece<'_>]) -> Box<[u8]> {
    if n == 0 {
        return Box::default();
    }
    let size = packed::varint_len(n as u64) + pieces.iter().map(Piece::len).sum::<usize>();
    let mut v = Vec::with_capacity(size);
    packed::push_varint(n as u64, &mut v);
    for p in pieces {
        match p {
            Piece::Raw(b) => v.extend_from_slice(b),
            Piece::New(e) => e.write(&mut v),
        }
    }
    debug_assert_eq!(v.len(), size);
    v.into_boxed_slice()
}

impl Hash {
    pub fn new() -> Self {
        Hash(Repr::Pack(Box::default()))
    }

    pub fn len(&self) -> usize {
        match &self.0 {
            Repr::Pack(b) => pack_head(b).0,
            Repr::Table(t) => t.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Sets `field` to `value` with Redis's default encoding limits; true when the field
    /// is new.
    pub fn insert(&mut self, field: &[u8], value: &[u8]) -> bool {
        self.set(field, value, &HashLimits::default())
    }

    /// Sets `field` to `value`; true when the field is new. Converts to the table
    /// encoding first when the field or value is too long for a listpack, and after the
    /// insert when the listpack holds too many fields.
    pub fn set(&mut self, field: &[u8], value: &[u8], limits: &HashLimits) -> bool {
        if let Repr::Pack(_) = self.0 {
            if field.len() > limits.max_value || value.len() > limits.max_value {
                self.convert();
            }
        }
        match &mut self.0 {
            Repr::Pack(buf) => {
                let (n, head) = pack_head(buf);
                let f = Needle::new(field);
                let v = Needle::new(value);
                let new = match pack_find(buf, &f) {
                    Some(at) if at.end - at.value == v.encoded_len() => {
                        // Same size: overwrite in place, no allocation.
                        v.write_over(&mut buf[at.value..at.end]);
                        false
                    }
                    Some(at) => {
                        *buf = pack_build(
                            n,
                            &[
                                Piece::Raw(&buf[head..at.value]),
                                Piece::New(&v),
                                Piece::Raw(&buf[at.end..]),
                            ],
                        );
                        false
                    }
                    None => {
                        *buf = pack_build(
                            n + 1,
                            &[Piece::Raw(&buf[head..]), Piece::New(&f), Piece::New(&v)],
                        );
                        true
                    }
                };
                if new && n + 1 > limits.max_entries {
                    self.convert();
                }
                new
            }
            Repr::Table(t) => match t.find(field) {
                Some(i) => {
                    t.replace(i, Pair::make(field, value));
                    false
                }
                None => {
                    t.push_new(Pair::make(field, value));
                    true
                }
            },
        }
    }

    /// Sets `field` only if it does not exist; true when it was added.
    pub fn set_nx(&mut self, field: &[u8], value: &[u8], limits: &HashLimits) -> bool {
        if self.contains(field) {
            return false;
        }
        self.set(field, value, limits)
    }

    /// The value of `field`.
    pub fn get(&self, field: &[u8]) -> Option<Elem<'_>> {
        match &self.0 {
            Repr::Pack(buf) => {
                let at = pack_find(buf, &Needle::new(field))?;
                Some(packed::decode(buf, at.value).0)
            }
            Repr::Table(t) => {
                let i = t.find(field)?;
                Some(Elem::Str(Pair::split(t.get(i)).1))
            }
        }
    }

    pub fn contains(&self, field: &[u8]) -> bool {
        match &self.0 {
            Repr::Pack(buf) => pack_find(buf, &Needle::new(field)).is_some(),
            Repr::Table(t) => t.find(field).is_some(),
        }
    }

    /// Removes `field`; true when it was there.
    pub fn remove(&mut self, field: &[u8]) -> bool {
        match &mut self.0 {
            Repr::Pack(buf) => {
                let (n, head) = pack_head(buf);
                match pack_find(buf, &Needle::new(field)) {
                    Some(at) => {
                        *buf = pack_build(
                            n - 1,
                            &[Piece::Raw(&buf[head..at.field]), Piece::Raw(&buf[at.end..])],
                        );
                        true
                    }
                    None => false,
                }
            }
            Repr::Table(t) => t.remove(field).is_some(),
        }
    }

    /// Calls `f` with every (field, value), in the encoding's order (insertion order for
    /// a listpack).
    pub fn for_each(&self, mut f: impl FnMut(&[u8], &[u8])) {
        self.for_each_elem(|k, v| k.with_bytes(|k| v.with_bytes(|v| f(k, v))));
    }

    /// Like [`for_each`](Self::for_each) but hands over elements as stored (integers
    /// unformatted).
    pub fn for_each_elem<'a>(&'a self, mut f: impl FnMut(Elem<'a>, Elem<'a>)) {
        match &self.0 {
            Repr::Pack(buf) => {
                let (_, mut p) = pack_head(buf);
                while p < buf.len() {
                    let (k, v) = packed::decode(buf, p);
                    let (val, end) = packed::decode(buf, v);
                    f(k, val);
                    p = end;
                }
            }
            Repr::Table(t) => t.iter().for_each(|item| {
                let (k, v) = Pair::split(item);
                f(Elem::Str(k), Elem::Str(v));
            }),
        }
    }

    /// The `i`th pair (`i < len()`) in iteration order: O(1) for a table, a walk for a
    /// listpack (at most a few hundred elements).
    pub fn pair_at(&self, i: usize) -> (Elem<'_>, Elem<'_>) {
        match &self.0 {
            Repr::Pack(buf) => {
                let (_, mut p) = pack_head(buf);
                for _ in 0..i {
                    p = packed::skip(buf, packed::skip(buf, p));
                }
                let (k, v) = packed::decode(buf, p);
                (k, packed::decode(buf, v).0)
            }
            Repr::Table(t) => {
                let (k, v) = Pair::split(t.get(i));
                (Elem::Str(k), Elem::Str(v))
            }
        }
    }

    /// One HSCAN step: a listpack is returned whole (next cursor 0, as Redis does); a
    /// table visits about `count` pairs. Returns the next cursor.
    pub fn scan(&self, cursor: u64, count: usize, mut f: impl FnMut(Elem<'_>, Elem<'_>)) -> u64 {
        match &self.0 {
            Repr::Pack(_) => {
                self.for_each_elem(f);
                0
            }
            Repr::Table(t) => t.scan(cursor, count, |item| {
                let (k, v) = Pair::split(item);
                f(Elem::Str(k), Elem::Str(v));
            }),
        }
    }

    /// Moves a listpack hash to the table encoding.
    fn convert(&mut self) {
        if let Repr::Pack(buf) = &self.0 {
            let mut t = Dense::with_capacity(pack_head(buf).0 + 1);
            self.for_each(|k, v| t.push_new(Pair::make(k, v)));
            self.0 = Repr::Table(Box::new(t));
        }
    }

    /// The name `OBJECT ENCODING` reports.
    pub fn encoding(&self) -> &'static str {
        match &self.0 {
            Repr::Pack(_) => "listpack",
            Repr::Table(_) => "hashtable",
        }
    }

    /// Heap bytes owned, rounded to allocator size classes.
    #[inline]
    pub fn heap_bytes(&self) -> usize {
        match &self.0 {
            Repr::Pack(b) => alloc_size(b.len()),
            Repr::Table(t) => alloc_size(std::mem::size_of::<Dense<Pair>>()) + t.heap_bytes(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    fn pairs(h: &Hash) -> Vec<(Vec<u8>, Vec<u8>)> {
        let mut v = Vec::new();
        h.for_each(|k, val| v.push((k.to_vec(), val.to_vec())));
        v
    }

    fn get(h: &Hash, f: &str) -> Option<Vec<u8>> {
        h.get(f.as_bytes()).map(Elem::to_vec)
    }

    #[test]
    fn listpack_keeps_insertion_order() {
        let mut h = Hash::new();
        assert_eq!(h.heap_bytes(), 0, "an empty hash allocates nothing");
        assert!(h.insert(b"b", b"1"));
        assert!(h.insert(b"a", b"hello"));
        assert!(h.insert(b"100", b"-5"));
        assert!(!h.insert(b"b", b"22"), "overwrite");
        assert!(!h.insert(b"a", b"x"), "overwrite with a shorter value");
        assert_eq!(
            pairs(&h),
            [
                (b"b".to_vec(), b"22".to_vec()),
                (b"a".to_vec(), b"x".to_vec()),
                (b"100".to_vec(), b"-5".to_vec())
            ]
        );
        assert_eq!(h.encoding(), "listpack");
        assert_eq!(get(&h, "100"), Some(b"-5".to_vec()));
        assert_eq!(get(&h, "0100"), None, "integers compare as strings");
        assert!(h.remove(b"a"));
        assert!(!h.remove(b"a"));
        assert_eq!(h.len(), 2);
        assert_eq!(h.pair_at(1).0.to_vec(), b"100");
        assert!(h.remove(b"b") && h.remove(b"100"));
        assert!(h.is_empty());
        assert_eq!(h.heap_bytes(), 0);
    }

    #[test]
    fn conversions_follow_redis_limits() {
        let mut h = Hash::new();
        for i in 0..512 {
            h.insert(format!("f{i}").as_bytes(), b"v");
        }
        assert_eq!(h.encoding(), "listpack");
        h.insert(b"f0", b"w");
        assert_eq!(h.encoding(), "listpack", "an overwrite adds no field");
        h.insert(b"f512", b"v");
        assert_eq!(h.encoding(), "hashtable");
        assert_eq!(h.len(), 513);
        assert_eq!(get(&h, "f0"), Some(b"w".to_vec()));
        for i in 0..513 {
            h.remove(format!("f{i}").as_bytes());
        }
        assert_eq!(h.encoding(), "hashtable", "never converts back");

        let mut h = Hash::new();
        h.insert(b"f", &[b'x'; 64]);
        assert_eq!(h.encoding(), "listpack");
        h.insert(b"g", &[b'x'; 65]);
        assert_eq!(h.encoding(), "hashtable");
        let mut h = Hash::new();
        h.insert(&[b'k'; 65], b"v");
        assert_eq!(h.encoding(), "hashtable");
        let small = HashLimits {
            max_entries: 2,
            max_value: 3,
        };
        let mut h = Hash::new();
        h.set(b"a", b"1", &small);
        h.set(b"b", b"2", &small);
        assert_eq!(h.encoding(), "listpack");
        assert!(!h.set_nx(b"a", b"9", &small));
        h.set(b"c", b"3", &small);
        assert_eq!(h.encoding(), "hashtable");
    }

    #[test]
    fn listpack_is_compact() {
        // Ten pairs like "field:3" -> "value:3": one byte of header per element.
        let mut h = Hash::new();
        for i in 0..10 {
            h.insert(
                format!("field:{i}").as_bytes(),
                format!("value:{i}").as_bytes(),
            );
        }
        assert_eq!(h.heap_bytes(), alloc_size(1 + 20 * 8));
        let mut h = Hash::new();
        for i in 0..10 {
            h.insert(
                format!("{i}").as_bytes(),
                format!("{}", i * 1000).as_bytes(),
            );
        }
        // Field 0..9: one byte each; values up to 9000: three bytes each.
        assert!(
            h.heap_bytes() <= alloc_size(1 + 10 + 10 * 3),
            "{}",
            h.heap_bytes()
        );
    }

    #[test]
    fn equality_ignores_encoding() {
        let mut a = Hash::new();
        let mut b = Hash::new();
        for i in 0..200 {
            a.insert(format!("{i}").as_bytes(), b"v");
        }
        for i in (0..200).rev() {
            b.insert(format!("{i}").as_bytes(), b"v");
        }
        assert_eq!(a, b);
        b.insert(b"7", b"w");
        assert_ne!(a, b);
        let mut c = Hash::new();
        c.insert(b"1", b"2");
        let mut d = Hash::new();
        for i in 0..200 {
            d.insert(format!("{i}").as_bytes(), b"v");
        }
        for i in 0..200 {
            if i != 1 {
                d.remove(format!("{i}").as_bytes());
            }
        }
        d.insert(b"1", b"2");
        assert_eq!(c, d, "listpack equals hashtable with the same pairs");
    }

    fn key() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            (0u8..20).prop_map(|i| format!("{i}").into_bytes()),
            (0u8..20).prop_map(|i| format!("f{i}").into_bytes()),
            (-3i64..3).prop_map(|i| format!("{}", i * 1_000_000_007).into_bytes()),
            proptest::collection::vec(any::<u8>(), 0..3),
        ]
    }

    fn value() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            any::<i64>().prop_map(|i| i.to_string().into_bytes()),
            proptest::collection::vec(any::<u8>(), 0..10),
            (60usize..70).prop_map(|n| vec![b'v'; n]),
        ]
    }

    #[derive(Clone, Debug)]
    enum Op {
        Set(Vec<u8>, Vec<u8>),
        Del(Vec<u8>),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            3 => (key(), value()).prop_map(|(k, v)| Op::Set(k, v)),
            1 => key().prop_map(Op::Del),
        ]
    }

    proptest! {
        #[test]
        fn behaves_like_a_map(ops in proptest::collection::vec(op(), 0..200), entries in 1usize..30) {
            let limits = HashLimits { max_entries: entries, max_value: 64 };
            let mut h = Hash::new();
            let mut model: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
            let mut was_table = false;
            for op in ops {
                match op {
                    Op::Set(k, v) => {
                        let long = k.len() > 64 || v.len() > 64;
                        prop_assert_eq!(h.set(&k, &v, &limits), model.insert(k, v).is_none());
                        if long || model.len() > entries {
                            prop_assert_eq!(h.encoding(), "hashtable");
                        }
                    }
                    Op::Del(k) => prop_assert_eq!(h.remove(&k), model.remove(&k).is_some()),
                }
                if was_table {
                    prop_assert_eq!(h.encoding(), "hashtable");
                }
                was_table = h.encoding() == "hashtable";
                prop_assert_eq!(h.len(), model.len());
            }
            let got: BTreeMap<Vec<u8>, Vec<u8>> = pairs(&h).into_iter().collect();
            prop_assert_eq!(&got, &model);
            for (k, v) in &model {
                prop_assert_eq!(h.get(k).map(Elem::to_vec), Some(v.clone()));
                prop_assert!(h.contains(k));
            }
            for i in 0..h.len() {
                let (k, v) = h.pair_at(i);
                prop_assert_eq!(model.get(&k.to_vec()), Some(&v.to_vec()));
            }
            let mut scanned = BTreeMap::new();
            let mut cursor = 0;
            loop {
                cursor = h.scan(cursor, 3, |k, v| { scanned.insert(k.to_vec(), v.to_vec()); });
                if cursor == 0 { break; }
            }
            prop_assert_eq!(scanned, model);
        }

        #[test]
        fn heap_bytes_is_a_true_count(ops in proptest::collection::vec(op(), 0..300)) {
            let mut h = Hash::new();
            for op in ops {
                match op {
                    Op::Set(k, v) => { h.insert(&k, &v); }
                    Op::Del(k) => { h.remove(&k); }
                }
                let expect = match &h.0 {
                    Repr::Pack(b) => alloc_size(b.len()),
                    Repr::Table(t) => {
                        let mut items = 0;
                        for i in 0..t.len() {
                            items += alloc_size(t.get(i).len());
                        }
                        alloc_size(std::mem::size_of::<Dense<Pair>>()) + items
                    }
                };
                match &h.0 {
                    Repr::Pack(_) => prop_assert_eq!(h.heap_bytes(), expect),
                    // The vector and the index come on top of the items.
                    Repr::Table(_) => prop_assert!(h.heap_bytes() > expect),
                }
            }
        }
    }
}
