//! The set value.
//!
//! Contract other crates rely on (persistence, generic key commands): `new`, `len`,
//! `insert` (true when the member is new), `for_each`, `encoding`, `heap_bytes` (O(1)).
//!
//! Two encodings, as Redis 7.0 keeps them (7.0 has no listpack sets):
//!
//! * `intset`: while every member is a canonical 64-bit integer and there are at most
//!   [`MAX_INTSET_ENTRIES`] (`set-max-intset-entries`, 512) of them: one exactly sized
//!   buffer, a width byte and the integers sorted ascending in that many little-endian
//!   bytes each, searched by bisection. The width is the fewest bytes (1 to 8) the
//!   widest member needs, where Redis's intset uses 2, 4 or 8: ten members below a
//!   million take 31 bytes here, 48 in Redis. Iteration is in ascending order, as Redis
//!   replies for intsets.
//! * `hashtable`: a [`Dense`] table of members. A set converts when a non-integer
//!   member arrives or the intset grows past its limit, and never goes back.
//!
//! The type is 16 bytes (a boxed slice or a box), so `Value` holds it inline.

use super::dense::{Dense, Whole};
use super::packed::{self, Elem};
use crate::value::{alloc_size, parse_i64_strict};

/// Redis 7.0's `set-max-intset-entries` default.
pub const MAX_INTSET_ENTRIES: usize = 512;

#[derive(Clone, Debug)]
enum Repr {
    Ints(Box<[u8]>),
    Table(Box<Dense<Whole>>),
}

/// A set value.
#[derive(Clone, Debug)]
pub struct Set(Repr);

impl Default for Set {
    fn default() -> Self {
        Set::new()
    }
}

impl PartialEq for Set {
    /// Same members, whatever the encoding.
    fn eq(&self, other: &Self) -> bool {
        if self.len() != other.len() {
            return false;
        }
        let mut same = true;
        self.for_each_elem(|m| same = same && other.contains_elem(m));
        same
    }
}

// ---- the intset buffer ----

#[inline]
fn width(buf: &[u8]) -> usize {
    buf.first().map_or(0, |&w| w as usize)
}

#[inline]
fn ints_len(buf: &[u8]) -> usize {
    match width(buf) {
        0 => 0,
        w => (buf.len() - 1) / w,
    }
}

#[inline]
fn ints_get(buf: &[u8], i: usize) -> i64 {
    let w = width(buf);
    let at = 1 + i * w;
    packed::read_int(&buf[at..at + w])
}

/// Bisection: Ok(position) of `n`, or Err(where it would go).
fn ints_search(buf: &[u8], n: i64) -> Result<usize, usize> {
    let (mut lo, mut hi) = (0, ints_len(buf));
    while lo < hi {
        let mid = (lo + hi) / 2;
        match ints_get(buf, mid).cmp(&n) {
            std::cmp::Ordering::Less => lo = mid + 1,
            std::cmp::Ordering::Greater => hi = mid,
            std::cmp::Ordering::Equal => return Ok(mid),
        }
    }
    Err(lo)
}

/// The intset width `n` needs: its fewest two's-complement bytes.
fn width_for(n: i64) -> usize {
    packed::int_width(n)
}

fn push_int(v: &mut Vec<u8>, n: i64, w: usize) {
    v.extend_from_slice(&n.to_le_bytes()[..w]);
}

/// `buf` with `n` inserted at position `pos`, widened if `n` needs it.
fn ints_insert(buf: &[u8], pos: usize, n: i64) -> Box<[u8]> {
    let len = ints_len(buf);
    let old_w = width(buf);
    let w = old_w.max(width_for(n));
    let mut v = Vec::with_capacity(1 + (len + 1) * w);
    v.push(w as u8);
    if w == old_w {
        v.extend_from_slice(&buf[1..1 + pos * w]);
        push_int(&mut v, n, w);
        v.extend_from_slice(&buf[1 + pos * w..]);
    } else {
        for i in 0..pos {
            push_int(&mut v, ints_get(buf, i), w);
        }
        push_int(&mut v, n, w);
        for i in pos..len {
            push_int(&mut v, ints_get(buf, i), w);
        }
    }
    v.into_boxed_slice()
}

/// `buf` without the integer at `pos` (the width stays, as in Redis).
fn ints_remove(buf: &[u8], pos: usize) -> Box<[u8]> {
    let w = width(buf);
    if ints_len(buf) == 1 {
        return Box::default();
    }
    let mut v = Vec::with_capacity(buf.len() - w);
    v.extend_from_slice(&buf[..1 + pos * w]);
    v.extend_from_slice(&buf[1 + (pos + 1) * w..]);
    v.into_boxed_slice()
}

impl Set {
    pub fn new() -> Self {
        Set(Repr::Ints(Box::default()))
    }

    pub fn len(&self) -> usize {
        match &self.0 {
            Repr::Ints(b) => ints_len(b),
            Repr::Table(t) => t.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Adds `member` with Redis's default intset limit; true when it is new.
    pub fn insert(&mut self, member: &[u8]) -> bool {
        self.add(member, MAX_INTSET_ENTRIES)
    }

    /// Adds `member`; true when it is new. An intset converts to a table when `member`
    /// is not an integer, or once it holds more than `max_intset` members.
    pub fn add(&mut self, member: &[u8], max_intset: usize) -> bool {
        match &mut self.0 {
            Repr::Ints(_) => match parse_i64_strict(member) {
                Some(n) => self.add_elem(Elem::Int(n), max_intset),
                None => {
                    self.convert(1);
                    self.add(member, max_intset)
                }
            },
            Repr::Table(t) => {
                if t.find(member).is_some() {
                    return false;
                }
                t.push_new(member.into());
                true
            }
        }
    }

    /// Adds an element as another set hands it over (no formatting and parsing of
    /// integers between two intsets); true when it is new.
    pub fn add_elem(&mut self, m: Elem<'_>, max_intset: usize) -> bool {
        match (&mut self.0, m) {
            (Repr::Ints(buf), Elem::Int(n)) => match ints_search(buf, n) {
                Ok(_) => false,
                Err(pos) => {
                    *buf = ints_insert(buf, pos, n);
                    if ints_len(buf) > max_intset {
                        self.convert(0);
                    }
                    true
                }
            },
            (_, m) => m.with_bytes(|b| self.add(b, max_intset)),
        }
    }

    /// Removes `member`; true when it was there.
    pub fn remove(&mut self, member: &[u8]) -> bool {
        match &mut self.0 {
            Repr::Ints(buf) => match parse_i64_strict(member).map(|n| ints_search(buf, n)) {
                Some(Ok(pos)) => {
                    *buf = ints_remove(buf, pos);
                    true
                }
                _ => false,
            },
            Repr::Table(t) => t.remove(member).is_some(),
        }
    }

    pub fn contains(&self, member: &[u8]) -> bool {
        match &self.0 {
            Repr::Ints(buf) => {
                parse_i64_strict(member).is_some_and(|n| ints_search(buf, n).is_ok())
            }
            Repr::Table(t) => t.find(member).is_some(),
        }
    }

    /// Membership of an element as another set hands it over (no formatting of integers
    /// between two intsets).
    pub fn contains_elem(&self, m: Elem<'_>) -> bool {
        match (&self.0, m) {
            (Repr::Ints(buf), Elem::Int(n)) => ints_search(buf, n).is_ok(),
            (_, m) => m.with_bytes(|b| self.contains(b)),
        }
    }

    /// Calls `f` with every member: ascending for an intset.
    pub fn for_each(&self, mut f: impl FnMut(&[u8])) {
        self.for_each_elem(|m| m.with_bytes(&mut f));
    }

    /// Like [`for_each`](Self::for_each), integers unformatted.
    pub fn for_each_elem<'a>(&'a self, mut f: impl FnMut(Elem<'a>)) {
        match &self.0 {
            Repr::Ints(buf) => (0..ints_len(buf)).for_each(|i| f(Elem::Int(ints_get(buf, i)))),
            Repr::Table(t) => t.iter().for_each(|m| f(Elem::Str(m))),
        }
    }

    /// The `i`th member in iteration order (`i < len()`), O(1).
    pub fn member_at(&self, i: usize) -> Elem<'_> {
        match &self.0 {
            Repr::Ints(buf) => Elem::Int(ints_get(buf, i)),
            Repr::Table(t) => Elem::Str(t.get(i)),
        }
    }

    /// Removes and returns the `i`th member (`i < len()`).
    pub fn remove_at(&mut self, i: usize) -> Vec<u8> {
        match &mut self.0 {
            Repr::Ints(buf) => {
                let m = Elem::Int(ints_get(buf, i)).to_vec();
                *buf = ints_remove(buf, i);
                m
            }
            Repr::Table(t) => t.remove_at(i).into_vec(),
        }
    }

    /// One SSCAN step: an intset is returned whole (next cursor 0, as Redis does); a
    /// table visits about `count` members. Returns the next cursor.
    pub fn scan(&self, cursor: u64, count: usize, mut f: impl FnMut(Elem<'_>)) -> u64 {
        match &self.0 {
            Repr::Ints(_) => {
                self.for_each_elem(f);
                0
            }
            Repr::Table(t) => t.scan(cursor, count, |m| f(Elem::Str(m))),
        }
    }

    /// Moves an intset to the table encoding, with room for `extra` more members.
    fn convert(&mut self, extra: usize) {
        if let Repr::Ints(buf) = &self.0 {
            let mut t = Dense::with_capacity(ints_len(buf) + extra);
            self.for_each(|m| t.push_new(m.into()));
            self.0 = Repr::Table(Box::new(t));
        }
    }

    /// The name `OBJECT ENCODING` reports.
    pub fn encoding(&self) -> &'static str {
        match &self.0 {
            Repr::Ints(_) => "intset",
            Repr::Table(_) => "hashtable",
        }
    }

    /// Heap bytes owned, rounded to allocator size classes.
    #[inline]
    pub fn heap_bytes(&self) -> usize {
        match &self.0 {
            Repr::Ints(b) => alloc_size(b.len()),
            Repr::Table(t) => alloc_size(std::mem::size_of::<Dense<Whole>>()) + t.heap_bytes(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    fn members(s: &Set) -> Vec<Vec<u8>> {
        let mut v = Vec::new();
        s.for_each(|m| v.push(m.to_vec()));
        v
    }

    #[test]
    fn intset_is_sorted_and_widens() {
        let mut s = Set::new();
        assert_eq!(s.heap_bytes(), 0);
        for m in ["5", "-3", "100", "5", "0"] {
            s.insert(m.as_bytes());
        }
        assert_eq!(s.encoding(), "intset");
        assert_eq!(members(&s), [&b"-3"[..], b"0", b"5", b"100"]);
        assert_eq!(s.heap_bytes(), alloc_size(1 + 4), "one byte each");
        s.insert(b"128");
        assert_eq!(s.heap_bytes(), alloc_size(1 + 5 * 2), "128 needs two bytes");
        assert!(s.remove(b"128"));
        s.insert(b"70000");
        assert_eq!(s.heap_bytes(), alloc_size(1 + 5 * 3));
        s.insert(b"-9223372036854775808");
        assert_eq!(s.len(), 6);
        assert_eq!(s.member_at(0), Elem::Int(i64::MIN));
        assert!(s.contains(b"70000") && !s.contains(b"070000") && !s.contains(b"x"));
        assert!(s.remove(b"-3") && !s.remove(b"-3") && !s.remove(b"abc"));
        assert_eq!(s.remove_at(0), b"-9223372036854775808");
        assert_eq!(members(&s), [&b"0"[..], b"5", b"100", b"70000"]);
        for m in ["0", "5", "100", "70000"] {
            assert!(s.remove(m.as_bytes()));
        }
        assert!(s.is_empty());
        assert_eq!(s.heap_bytes(), 0);
    }

    #[test]
    fn conversions_follow_redis_limits() {
        let mut s = Set::new();
        for i in 0..512 {
            s.insert(format!("{i}").as_bytes());
        }
        assert_eq!(s.encoding(), "intset");
        s.insert(b"511");
        assert_eq!(s.encoding(), "intset");
        s.insert(b"512");
        assert_eq!(s.encoding(), "hashtable");
        assert_eq!(s.len(), 513);
        assert!(s.contains(b"0") && s.contains(b"512"));
        let mut s = Set::new();
        s.insert(b"1");
        s.insert(b"01");
        assert_eq!(s.encoding(), "hashtable");
        assert!(s.contains(b"1") && s.contains(b"01"));
        assert!(s.contains_elem(Elem::Int(1)));
        s.remove(b"01");
        assert_eq!(s.encoding(), "hashtable", "never converts back");
    }

    #[test]
    fn equality_ignores_encoding() {
        let mut a = Set::new();
        let mut b = Set::new();
        a.insert(b"1");
        a.insert(b"2");
        b.insert(b"x");
        b.insert(b"2");
        b.insert(b"1");
        b.remove(b"x");
        assert_eq!(b.encoding(), "hashtable");
        assert_eq!(a, b);
        b.insert(b"3");
        assert_ne!(a, b);
    }

    fn member() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            4 => (-40i64..40).prop_map(|i| format!("{i}").into_bytes()),
            1 => any::<i64>().prop_map(|i| format!("{i}").into_bytes()),
            1 => proptest::collection::vec(any::<u8>(), 0..4),
        ]
    }

    proptest! {
        #[test]
        fn behaves_like_a_set(ops in proptest::collection::vec((0u8..4, member()), 0..300), max in 1usize..40) {
            let mut s = Set::new();
            let mut model = BTreeSet::new();
            for (op, m) in ops {
                match op {
                    0 | 1 => prop_assert_eq!(s.add(&m, max), model.insert(m.clone())),
                    2 => prop_assert_eq!(s.remove(&m), model.remove(&m)),
                    _ => {
                        if !model.is_empty() {
                            let i = m.len() % s.len();
                            let gone = s.remove_at(i);
                            prop_assert!(model.remove(&gone));
                        }
                    }
                }
                prop_assert_eq!(s.len(), model.len());
                if s.encoding() == "intset" {
                    prop_assert!(s.len() <= max);
                    prop_assert_eq!(s.heap_bytes(), match &s.0 { Repr::Ints(b) => alloc_size(b.len()), Repr::Table(_) => 0 });
                }
            }
            let got: BTreeSet<Vec<u8>> = members(&s).into_iter().collect();
            prop_assert_eq!(&got, &model);
            for m in &model {
                prop_assert!(s.contains(m));
            }
            let mut scanned = BTreeSet::new();
            let mut cursor = 0;
            loop {
                cursor = s.scan(cursor, 5, |m| { scanned.insert(m.to_vec()); });
                if cursor == 0 { break; }
            }
            prop_assert_eq!(scanned, model);
        }
    }
}
