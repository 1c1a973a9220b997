//! The sorted set value.
//!
//! Contract other crates rely on (persistence, generic key commands): `new`, `len`,
//! `insert` (add or update the score; true when the member is new), `for_each`
//! (member, score) in rank order, `encoding`, `heap_bytes` (O(1)).
//!
//! Order is Redis's: by score, then by member bytes. Scores are never NaN (callers refuse
//! it); `-0` and `0` compare equal, and a score equal to the current one (so `0` over
//! `-0`) is not an update, as in Redis.
//!
//! Two encodings, as Redis keeps them (`OBJECT ENCODING` reports the same names):
//!
//! * `listpack` ([`ZSet::Pack`]), up to [`PACK_MAX_ENTRIES`] members of at most
//!   [`PACK_MAX_VALUE`] bytes: one exact-size byte buffer held inline in the value. It
//!   starts with the member count (a varint: one byte up to 127), then each entry: the member's length as a
//!   varint, the member, and the score as a varint code: an integer of magnitude below
//!   2^53 (`-0` becomes 0, as in Redis's listpack) takes one byte for -32..31; a short
//!   decimal such as 1.5 (m / 10^e that gives the score back exactly) two or three; any
//!   other score is the code 1 and its 8 IEEE bytes (see `short_code`).
//! * `skiplist` ([`ZSet::Tree`]): an order-statistics treap keyed by (score, member)
//!   whose nodes live in an arena, plus a hash index member → node: O(1) score lookups,
//!   O(log n) expected inserts, deletes, ranks and rank selection. Arena slots are stable
//!   while a member is present (freed slots go to a free list), which is what ZSCAN's
//!   cursor walks; when most slots are free the arena is rebuilt to give memory back,
//!   and ZSCAN cursors from before that start over (duplicates, never misses).
//!
//! A pack converts to a tree when it would grow past the limits; a tree never converts
//! back by itself ([`ZSet::compact`] does, for stored results, as Redis does).

use std::cmp::Ordering;

use hashbrown::HashTable;

use crate::table::hash_key;
use crate::value::alloc_size;

/// Most members a listpack-encoded sorted set holds (`zset-max-listpack-entries`).
pub const PACK_MAX_ENTRIES: usize = 128;
/// Longest member a listpack-encoded sorted set holds (`zset-max-listpack-value`).
pub const PACK_MAX_VALUE: usize = 64;

/// The encoding limits a sorted set is kept with: `zset-max-listpack-entries` and
/// `zset-max-listpack-value`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ZSetLimits {
    pub max_entries: usize,
    pub max_value: usize,
}

impl ZSetLimits {
    /// Redis's defaults (128 members of at most 64 bytes).
    pub const DEFAULT: ZSetLimits = ZSetLimits {
        max_entries: PACK_MAX_ENTRIES,
        max_value: PACK_MAX_VALUE,
    };

    fn fit(&self, len: usize, max_len: usize) -> bool {
        len <= self.max_entries && max_len <= self.max_value
    }
}

/// Redis's order of sorted set elements.
#[inline]
pub fn cmp_elem(a_score: f64, a: &[u8], b_score: f64, b: &[u8]) -> Ordering {
    match a_score.partial_cmp(&b_score) {
        Some(Ordering::Equal) | None => a.cmp(b),
        Some(o) => o,
    }
}

/// A sorted set value.
#[derive(Clone, Debug)]
pub enum ZSet {
    /// The small encoding (listpack).
    Pack(Pack),
    /// The large encoding (skiplist).
    Tree(Box<Tree>),
}

impl Default for ZSet {
    fn default() -> Self {
        ZSet::new()
    }
}

impl PartialEq for ZSet {
    fn eq(&self, other: &Self) -> bool {
        if self.len() != other.len() {
            return false;
        }
        let mut a = Vec::with_capacity(self.len());
        self.for_each(|m, s| a.push((m.to_vec(), s.to_bits())));
        let mut i = 0;
        let mut same = true;
        other.for_each(|m, s| {
            same &= a
                .get(i)
                .is_some_and(|(am, asc)| am == m && *asc == s.to_bits());
            i += 1;
        });
        same
    }
}

impl ZSet {
    pub fn new() -> Self {
        ZSet::Pack(Pack::default())
    }

    /// An empty set in the encoding Redis's `zsetTypeCreate` picks for about `size_hint`
    /// members of at most `max_len` bytes (with the default limits).
    pub fn with_hint(size_hint: usize, max_len: usize) -> Self {
        ZSet::with_hint_limits(size_hint, max_len, &ZSetLimits::DEFAULT)
    }

    /// [`with_hint`](Self::with_hint) under `limits`.
    pub fn with_hint_limits(size_hint: usize, max_len: usize, limits: &ZSetLimits) -> Self {
        if limits.fit(size_hint, max_len) {
            ZSet::new()
        } else {
            ZSet::Tree(Box::new(Tree::with_capacity(size_hint)))
        }
    }

    pub fn len(&self) -> usize {
        match self {
            ZSet::Pack(p) => p.len(),
            ZSet::Tree(t) => t.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Adds `member` with `score`, or updates its score; true when it is new. Uses the
    /// default encoding limits.
    pub fn insert(&mut self, member: &[u8], score: f64) -> bool {
        self.insert_with(member, score, &ZSetLimits::DEFAULT)
    }

    /// [`insert`](Self::insert) under `limits`: a listpack-encoded set converts when a
    /// new member would make it too long or the member is too long for it.
    pub fn insert_with(&mut self, member: &[u8], score: f64, limits: &ZSetLimits) -> bool {
        if let ZSet::Pack(p) = self {
            let fits = member.len() <= limits.max_value
                && (p.len() < limits.max_entries || p.find(member).0.is_some());
            if fits {
                return p.insert(member, score);
            }
            let hint = p.len() + 1;
            self.convert_to_tree(hint);
        }
        match self {
            ZSet::Tree(t) => t.insert(member, score),
            ZSet::Pack(_) => unreachable!("converted above"),
        }
    }

    /// The score of `member`.
    pub fn score(&self, member: &[u8]) -> Option<f64> {
        match self {
            ZSet::Pack(p) => p.find(member).1,
            ZSet::Tree(t) => t.score(member),
        }
    }

    /// Removes `member`; true when it was there.
    pub fn remove(&mut self, member: &[u8]) -> bool {
        match self {
            ZSet::Pack(p) => p.remove(member),
            ZSet::Tree(t) => t.remove(member),
        }
    }

    /// The 0-based rank of `member` (lowest score first) and its score.
    pub fn rank(&self, member: &[u8]) -> Option<(usize, f64)> {
        match self {
            ZSet::Pack(p) => p.rank(member),
            ZSet::Tree(t) => t.rank(member),
        }
    }

    /// The element at 0-based rank `rank`.
    pub fn get(&self, rank: usize) -> Option<(&[u8], f64)> {
        match self {
            ZSet::Pack(p) => p.iter().nth(rank).map(|(m, s, _)| (m, s)),
            ZSet::Tree(t) => t.select(rank),
        }
    }

    /// Calls `f` with the elements of ranks `start..=end` (0-based, lowest score first,
    /// `end` clamped to the last rank), in ascending order, or descending when `rev`.
    pub fn range(&self, start: usize, end: usize, rev: bool, mut f: impl FnMut(&[u8], f64)) {
        let n = self.len();
        if n == 0 || start >= n || start > end {
            return;
        }
        let end = end.min(n - 1);
        match self {
            ZSet::Pack(p) => {
                let it = p.iter().skip(start).take(end - start + 1);
                if rev {
                    let v: Vec<(&[u8], f64)> = it.map(|(m, s, _)| (m, s)).collect();
                    v.into_iter().rev().for_each(|(m, s)| f(m, s));
                } else {
                    it.for_each(|(m, s, _)| f(m, s));
                }
            }
            ZSet::Tree(t) => t.walk(t.root, 0, start, end, rev, &mut f),
        }
    }

    /// How many leading elements (in rank order) satisfy `pred`, which must hold for a
    /// prefix of the order and fail after it (a lower bound on score or member).
    pub fn count_while(&self, pred: impl Fn(&[u8], f64) -> bool) -> usize {
        match self {
            ZSet::Pack(p) => p.iter().take_while(|(m, s, _)| pred(m, *s)).count(),
            ZSet::Tree(t) => t.count_while(&pred),
        }
    }

    /// Removes the elements of ranks `start..=end` (clamped); returns how many went.
    pub fn remove_range(&mut self, start: usize, end: usize) -> usize {
        let n = self.len();
        if n == 0 || start >= n || start > end {
            return 0;
        }
        let end = end.min(n - 1);
        match self {
            ZSet::Pack(p) => p.remove_ranks(start, end),
            ZSet::Tree(t) => t.remove_ranks(start, end),
        }
    }

    /// One step of ZSCAN: calls `f` with some elements from `cursor` on and returns the
    /// next cursor (0 when done). Elements present throughout a full iteration are seen
    /// at least once. A listpack-encoded set is returned whole, as Redis does.
    pub fn scan(&self, cursor: u64, count: usize, mut f: impl FnMut(&[u8], f64)) -> u64 {
        match self {
            ZSet::Pack(p) => {
                p.iter().for_each(|(m, s, _)| f(m, s));
                0
            }
            ZSet::Tree(t) => t.scan(cursor, count, &mut f),
        }
    }

    /// Calls `f` with every (member, score), lowest rank first.
    pub fn for_each(&self, mut f: impl FnMut(&[u8], f64)) {
        match self {
            ZSet::Pack(p) => p.iter().for_each(|(m, s, _)| f(m, s)),
            ZSet::Tree(t) => {
                let n = t.len();
                if n > 0 {
                    t.walk(t.root, 0, 0, n - 1, false, &mut f)
                }
            }
        }
    }

    /// The name `OBJECT ENCODING` reports.
    pub fn encoding(&self) -> &'static str {
        match self {
            ZSet::Pack(_) => "listpack",
            ZSet::Tree(_) => "skiplist",
        }
    }

    /// Heap bytes owned, rounded to allocator size classes (the tree's box included).
    pub fn heap_bytes(&self) -> usize {
        match self {
            ZSet::Pack(p) => alloc_size(p.0.len()),
            ZSet::Tree(t) => alloc_size(std::mem::size_of::<Tree>()) + t.heap_bytes(),
        }
    }

    /// Converts a skiplist-encoded set that fits the default listpack limits back to a
    /// listpack (Redis does so for the results of ZRANGESTORE and the *STORE set
    /// operations).
    pub fn compact(&mut self) {
        self.compact_with(&ZSetLimits::DEFAULT);
    }

    /// [`compact`](Self::compact) under `limits`.
    pub fn compact_with(&mut self, limits: &ZSetLimits) {
        if let ZSet::Tree(t) = self {
            if limits.fit(t.len(), t.max_member_len()) {
                let mut p = Pack::default();
                let mut v = Vec::new();
                self.for_each(|m, s| {
                    push_entry(&mut v, m, s);
                });
                if !v.is_empty() {
                    let n = self.len() as u64;
                    let mut buf = Vec::with_capacity(v.len() + varint_len(n));
                    put_varint(&mut buf, n);
                    buf.extend_from_slice(&v);
                    p = Pack(buf.into_boxed_slice());
                }
                *self = ZSet::Pack(p);
            }
        }
    }

    fn convert_to_tree(&mut self, hint: usize) {
        if let ZSet::Pack(p) = self {
            let mut t = Tree::with_capacity(hint);
            for (m, s, _) in p.iter() {
                t.insert(m, s);
            }
            *self = ZSet::Tree(Box::new(t));
        }
    }
}

// ---------------------------------------------------------------------------------------
// The packed (listpack) encoding
// ---------------------------------------------------------------------------------------

/// An exact-size byte buffer: `[count][entry...]`, each entry `varint(len) member score`
/// (see the module documentation). Empty sets own no allocation.
#[derive(Clone, Debug, Default)]
pub struct Pack(Box<[u8]>);

fn varint_len(mut v: u64) -> usize {
    let mut n = 1;
    while v >= 0x80 {
        v >>= 7;
        n += 1;
    }
    n
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Reads a varint at `*pos`, advancing it. The buffer is only ever written by this
/// module, so it is well formed.
#[inline]
fn get_varint(b: &[u8], pos: &mut usize) -> u64 {
    let mut v = 0u64;
    let mut shift = 0;
    loop {
        let c = b[*pos];
        *pos += 1;
        v |= u64::from(c & 0x7f) << shift;
        if c < 0x80 {
            return v;
        }
        shift += 7;
    }
}

const POW10: [f64; 16] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
];

#[inline]
fn zigzag(i: i64) -> u64 {
    ((i << 1) ^ (i >> 63)) as u64
}

#[inline]
fn unzigzag(z: u64) -> i64 {
    ((z >> 1) as i64) ^ -((z & 1) as i64)
}

/// The varint code of a score that has a short one: an integer of magnitude below 2^53
/// (`zigzag << 1`), or a decimal `m / 10^e` (|m| < 2^53, 1 <= e <= 15) that gives the
/// score back exactly (`(zigzag(m) << 4 | e) << 2 | 3`). Other scores are stored raw
/// (code 1, then 8 bytes).
#[inline]
fn short_code(s: f64) -> Option<u64> {
    const LIMIT: f64 = (1u64 << 53) as f64;
    // -0 is stored as 0, as Redis's listpack stores it.
    if s.fract() == 0.0 && s.abs() < LIMIT {
        return Some(zigzag(s as i64) << 1);
    }
    if !s.is_finite() {
        return None;
    }
    for (e, &p) in POW10.iter().enumerate().skip(1) {
        let m = s * p;
        if m.abs() >= LIMIT {
            break;
        }
        if m.fract() == 0.0 && m / p == s {
            return Some(((zigzag(m as i64) << 4 | e as u64) << 2) | 3);
        }
    }
    None
}

fn push_score(out: &mut Vec<u8>, s: f64) {
    match short_code(s) {
        Some(c) => put_varint(out, c),
        None => {
            out.push(1);
            out.extend_from_slice(&s.to_le_bytes());
        }
    }
}

#[inline]
fn get_score(b: &[u8], pos: &mut usize) -> f64 {
    let c = get_varint(b, pos);
    match c & 3 {
        1 => {
            let mut raw = [0u8; 8];
            raw.copy_from_slice(&b[*pos..*pos + 8]);
            *pos += 8;
            f64::from_le_bytes(raw)
        }
        3 => {
            let e = ((c >> 2) & 15) as usize;
            unzigzag(c >> 6) as f64 / POW10[e]
        }
        _ => unzigzag(c >> 1) as f64,
    }
}

fn entry_len(m: &[u8], s: f64) -> usize {
    varint_len(m.len() as u64)
        + m.len()
        + match short_code(s) {
            Some(c) => varint_len(c),
            None => 9,
        }
}

fn push_entry(out: &mut Vec<u8>, m: &[u8], s: f64) {
    put_varint(out, m.len() as u64);
    out.extend_from_slice(m);
    push_score(out, s);
}

/// Iterates a pack: (member, score, offset of the entry).
struct PackIter<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Iterator for PackIter<'a> {
    type Item = (&'a [u8], f64, usize);

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        if self.pos >= self.buf.len() {
            return None;
        }
        let at = self.pos;
        let len = get_varint(self.buf, &mut self.pos) as usize;
        let m = &self.buf[self.pos..self.pos + len];
        self.pos += len;
        let s = get_score(self.buf, &mut self.pos);
        Some((m, s, at))
    }
}

impl Pack {
    fn len(&self) -> usize {
        if self.0.is_empty() {
            0
        } else {
            get_varint(&self.0, &mut 0) as usize
        }
    }

    /// Bytes of the count in front of the entries (none when empty).
    fn header_len(&self) -> usize {
        let mut pos = 0;
        if !self.0.is_empty() {
            get_varint(&self.0, &mut pos);
        }
        pos
    }

    fn iter(&self) -> PackIter<'_> {
        PackIter {
            buf: &self.0,
            pos: self.header_len(),
        }
    }

    /// (byte range of the member's entry, its score) if present.
    fn find(&self, member: &[u8]) -> (Option<(usize, usize)>, Option<f64>) {
        let mut it = self.iter();
        while let Some((m, s, at)) = it.next() {
            if m == member {
                return (Some((at, it.pos)), Some(s));
            }
        }
        (None, None)
    }

    fn rank(&self, member: &[u8]) -> Option<(usize, f64)> {
        self.iter()
            .enumerate()
            .find(|(_, (m, _, _))| *m == member)
            .map(|(i, (_, s, _))| (i, s))
    }

    /// Rebuilds the buffer without `cut` (a byte range) and with `entry` at byte offset
    /// `at` (an offset in the old buffer, outside `cut`), with `count` members.
    fn rebuild(&mut self, cut: Option<(usize, usize)>, at: usize, entry: &[u8], count: usize) {
        if count == 0 {
            self.0 = Box::default();
            return;
        }
        let first = self.header_len();
        let old: &[u8] = &self.0;
        let end = old.len();
        let at = at.max(first);
        let (cs, ce) = cut.unwrap_or((at, at));
        let removed = ce - cs;
        let mut v =
            Vec::with_capacity(varint_len(count as u64) + (end - first) - removed + entry.len());
        put_varint(&mut v, count as u64);
        // Offsets are in `old`, whose entries start at `first`.
        let seg = |a: usize, b: usize| -> &[u8] {
            if a >= b {
                &[]
            } else {
                &old[a..b]
            }
        };
        if at <= cs {
            v.extend_from_slice(seg(first, at));
            v.extend_from_slice(entry);
            v.extend_from_slice(seg(at, cs));
            v.extend_from_slice(seg(ce, end));
        } else {
            v.extend_from_slice(seg(first, cs));
            v.extend_from_slice(seg(ce, at));
            v.extend_from_slice(entry);
            v.extend_from_slice(seg(at, end));
        }
        debug_assert_eq!(v.len(), v.capacity());
        self.0 = v.into_boxed_slice();
    }

    fn insert(&mut self, member: &[u8], score: f64) -> bool {
        let (cut, old) = self.find(member);
        if old.is_some_and(|o| o == score) {
            return false;
        }
        // Where the entry goes: before the first other element that sorts after it.
        let mut at = self.0.len();
        for (m, s, off) in self.iter() {
            if m != member && cmp_elem(s, m, score, member) == Ordering::Greater {
                at = off;
                break;
            }
        }
        let mut entry = Vec::with_capacity(entry_len(member, score));
        push_entry(&mut entry, member, score);
        let count = self.len() + usize::from(cut.is_none());
        self.rebuild(cut, at, &entry, count);
        cut.is_none()
    }

    fn remove(&mut self, member: &[u8]) -> bool {
        match self.find(member).0 {
            Some(cut) => {
                let count = self.len() - 1;
                self.rebuild(Some(cut), cut.0, &[], count);
                true
            }
            None => false,
        }
    }

    fn remove_ranks(&mut self, start: usize, end: usize) -> usize {
        let mut from = self.0.len();
        let mut to = self.0.len();
        for (i, (_, _, off)) in self.iter().enumerate() {
            if i == start {
                from = off;
            }
            if i == end + 1 {
                to = off;
                break;
            }
        }
        let n = end - start + 1;
        let count = self.len() - n;
        self.rebuild(Some((from, to)), from, &[], count);
        n
    }
}

// ---------------------------------------------------------------------------------------
// The large (skiplist) encoding: an order-statistics treap in an arena
// ---------------------------------------------------------------------------------------

const NIL: u32 = u32::MAX;

#[derive(Clone, Debug)]
struct Node {
    member: Box<[u8]>,
    score: f64,
    left: u32,
    right: u32,
    /// Nodes in this subtree; 0 marks a free arena slot (whose `left` links the free list).
    size: u32,
    prio: u32,
}

/// The large encoding. See the module documentation.
#[derive(Clone, Debug)]
pub struct Tree {
    nodes: Vec<Node>,
    free: u32,
    root: u32,
    index: HashTable<u32>,
    live: usize,
    /// Heap bytes of the members (each rounded to its size class).
    member_bytes: usize,
    rng: u64,
    /// Bumped by every rebuild (which moves members to other slots): ZSCAN cursors carry
    /// it, and a cursor from before a rebuild starts over (see [`Tree::scan`]).
    epoch: u32,
}

impl Tree {
    fn with_capacity(n: usize) -> Tree {
        let n = n.min(1 << 20);
        Tree {
            nodes: Vec::with_capacity(n),
            free: NIL,
            root: NIL,
            index: HashTable::with_capacity(n),
            live: 0,
            member_bytes: 0,
            rng: 0x9E37_79B9_7F4A_7C15 ^ (n as u64),
            epoch: 0,
        }
    }

    fn len(&self) -> usize {
        self.live
    }

    fn heap_bytes(&self) -> usize {
        alloc_size(self.nodes.capacity() * std::mem::size_of::<Node>())
            + alloc_size(self.index.allocation_size())
            + self.member_bytes
    }

    fn max_member_len(&self) -> usize {
        self.nodes
            .iter()
            .filter(|n| n.size > 0)
            .map(|n| n.member.len())
            .max()
            .unwrap_or(0)
    }

    fn next_prio(&mut self) -> u32 {
        // xorshift64*
        let mut x = self.rng;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng = x;
        (x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 32) as u32
    }

    #[inline]
    fn n(&self, i: u32) -> &Node {
        &self.nodes[i as usize]
    }

    #[inline]
    fn n_mut(&mut self, i: u32) -> &mut Node {
        &mut self.nodes[i as usize]
    }

    #[inline]
    fn size(&self, i: u32) -> usize {
        if i == NIL {
            0
        } else {
            self.n(i).size as usize
        }
    }

    #[inline]
    fn update(&mut self, i: u32) {
        let s = 1 + self.size(self.n(i).left) + self.size(self.n(i).right);
        self.n_mut(i).size = s as u32;
    }

    fn find(&self, member: &[u8]) -> Option<u32> {
        let nodes = &self.nodes;
        self.index
            .find(hash_key(member), |&i| &*nodes[i as usize].member == member)
            .copied()
    }

    fn score(&self, member: &[u8]) -> Option<f64> {
        self.find(member).map(|i| self.n(i).score)
    }

    /// Compares node `i` with the element (s, m).
    #[inline]
    fn cmp_node(&self, i: u32, s: f64, m: &[u8]) -> Ordering {
        let n = self.n(i);
        cmp_elem(n.score, &n.member, s, m)
    }

    /// Splits `t` into (elements < (s, m), elements >= (s, m)).
    fn split(&mut self, t: u32, s: f64, m: &[u8]) -> (u32, u32) {
        if t == NIL {
            return (NIL, NIL);
        }
        if self.cmp_node(t, s, m) == Ordering::Less {
            let (l, r) = self.split(self.n(t).right, s, m);
            self.n_mut(t).right = l;
            self.update(t);
            (t, r)
        } else {
            let (l, r) = self.split(self.n(t).left, s, m);
            self.n_mut(t).left = r;
            self.update(t);
            (l, t)
        }
    }

    /// Splits `t` into (its first `k` elements, the rest).
    fn split_rank(&mut self, t: u32, k: usize) -> (u32, u32) {
        if t == NIL {
            return (NIL, NIL);
        }
        let ls = self.size(self.n(t).left);
        if k <= ls {
            let (l, r) = self.split_rank(self.n(t).left, k);
            self.n_mut(t).left = r;
            self.update(t);
            (l, t)
        } else {
            let (l, r) = self.split_rank(self.n(t).right, k - ls - 1);
            self.n_mut(t).right = l;
            self.update(t);
            (t, r)
        }
    }

    /// Joins two treaps whose elements all sort `a` before `b`.
    fn merge(&mut self, a: u32, b: u32) -> u32 {
        if a == NIL {
            return b;
        }
        if b == NIL {
            return a;
        }
        if self.n(a).prio > self.n(b).prio {
            let r = self.merge(self.n(a).right, b);
            self.n_mut(a).right = r;
            self.update(a);
            a
        } else {
            let l = self.merge(a, self.n(b).left);
            self.n_mut(b).left = l;
            self.update(b);
            b
        }
    }

    /// Links the detached node `x` into the treap rooted at `t`; returns the new root.
    fn link(&mut self, t: u32, x: u32) -> u32 {
        if t == NIL {
            return x;
        }
        let (s, prio) = (self.n(x).score, self.n(x).prio);
        if prio > self.n(t).prio {
            let m = std::mem::take(&mut self.n_mut(x).member);
            let (l, r) = self.split(t, s, &m);
            let nx = self.n_mut(x);
            nx.member = m;
            nx.left = l;
            nx.right = r;
            self.update(x);
            return x;
        }
        let go_left = {
            let nx = self.n(x);
            self.cmp_node(t, nx.score, &nx.member) == Ordering::Greater
        };
        if go_left {
            let l = self.link(self.n(t).left, x);
            self.n_mut(t).left = l;
        } else {
            let r = self.link(self.n(t).right, x);
            self.n_mut(t).right = r;
        }
        self.n_mut(t).size += 1;
        t
    }

    /// Unlinks node `x` (present under `t`); returns the new root of `t`'s subtree.
    fn unlink(&mut self, t: u32, x: u32) -> u32 {
        if t == x {
            let (l, r) = (self.n(x).left, self.n(x).right);
            return self.merge(l, r);
        }
        let go_left = {
            let nx = self.n(x);
            self.cmp_node(t, nx.score, &nx.member) == Ordering::Greater
        };
        if go_left {
            let l = self.unlink(self.n(t).left, x);
            self.n_mut(t).left = l;
        } else {
            let r = self.unlink(self.n(t).right, x);
            self.n_mut(t).right = r;
        }
        self.n_mut(t).size -= 1;
        t
    }

    fn insert(&mut self, member: &[u8], score: f64) -> bool {
        if let Some(i) = self.find(member) {
            if self.n(i).score == score {
                return false;
            }
            self.root = self.unlink(self.root, i);
            let prio = self.next_prio();
            let n = self.n_mut(i);
            n.score = score;
            n.left = NIL;
            n.right = NIL;
            n.size = 1;
            n.prio = prio;
            self.root = self.link(self.root, i);
            return false;
        }
        let prio = self.next_prio();
        let node = Node {
            member: member.into(),
            score,
            left: NIL,
            right: NIL,
            size: 1,
            prio,
        };
        let i = if self.free != NIL {
            let i = self.free;
            self.free = self.n(i).left;
            self.nodes[i as usize] = node;
            i
        } else {
            self.nodes.push(node);
            (self.nodes.len() - 1) as u32
        };
        let nodes = &self.nodes;
        self.index.insert_unique(hash_key(member), i, |&j| {
            hash_key(&nodes[j as usize].member)
        });
        self.member_bytes += alloc_size(member.len());
        self.live += 1;
        self.root = self.link(self.root, i);
        true
    }

    /// Frees the slot of the unlinked node `i` and drops it from the index.
    fn release(&mut self, i: u32) {
        let member = std::mem::take(&mut self.n_mut(i).member);
        if let Ok(e) = self.index.find_entry(hash_key(&member), |&j| j == i) {
            e.remove();
        }
        self.member_bytes -= alloc_size(member.len());
        self.live -= 1;
        let free = self.free;
        let n = self.n_mut(i);
        n.size = 0;
        n.left = free;
        n.right = NIL;
        self.free = i;
    }

    fn remove(&mut self, member: &[u8]) -> bool {
        let Some(i) = self.find(member) else {
            return false;
        };
        self.root = self.unlink(self.root, i);
        self.release(i);
        self.shrink();
        true
    }

    /// Gives memory back once most of the arena is free (rebuilding it: the new arena is
    /// the live nodes in rank order). Only when the set is small relative to its arena, so
    /// the cost is amortised.
    fn shrink(&mut self) {
        let cap = self.nodes.len();
        if cap < 64 || self.live * 4 > cap {
            return;
        }
        let mut t = Tree::with_capacity(self.live);
        t.rng = self.rng;
        t.epoch = self.epoch.wrapping_add(1);
        let n = self.live;
        if n > 0 {
            let mut items: Vec<(Box<[u8]>, f64)> = Vec::with_capacity(n);
            let root = self.root;
            self.take_all(root, &mut items);
            for (m, s) in items {
                t.insert(&m, s);
            }
        }
        *self = t;
    }

    fn take_all(&mut self, t: u32, out: &mut Vec<(Box<[u8]>, f64)>) {
        if t == NIL {
            return;
        }
        let (l, r) = (self.n(t).left, self.n(t).right);
        self.take_all(l, out);
        let m = std::mem::take(&mut self.n_mut(t).member);
        out.push((m, self.n(t).score));
        self.take_all(r, out);
    }

    fn rank(&self, member: &[u8]) -> Option<(usize, f64)> {
        let i = self.find(member)?;
        let (s, m) = (self.n(i).score, &self.n(i).member);
        let mut t = self.root;
        let mut rank = 0;
        while t != NIL {
            match self.cmp_node(t, s, m) {
                Ordering::Equal => return Some((rank + self.size(self.n(t).left), s)),
                Ordering::Greater => t = self.n(t).left,
                Ordering::Less => {
                    rank += self.size(self.n(t).left) + 1;
                    t = self.n(t).right;
                }
            }
        }
        None
    }

    fn select(&self, mut k: usize) -> Option<(&[u8], f64)> {
        let mut t = self.root;
        while t != NIL {
            let ls = self.size(self.n(t).left);
            match k.cmp(&ls) {
                Ordering::Less => t = self.n(t).left,
                Ordering::Equal => return Some((&self.n(t).member, self.n(t).score)),
                Ordering::Greater => {
                    k -= ls + 1;
                    t = self.n(t).right;
                }
            }
        }
        None
    }

    fn count_while(&self, pred: &dyn Fn(&[u8], f64) -> bool) -> usize {
        let mut t = self.root;
        let mut count = 0;
        while t != NIL {
            let n = self.n(t);
            if pred(&n.member, n.score) {
                count += self.size(n.left) + 1;
                t = n.right;
            } else {
                t = n.left;
            }
        }
        count
    }

    /// In-order walk of subtree `t` (whose first element has rank `base`), limited to ranks
    /// `lo..=hi`.
    fn walk(
        &self,
        t: u32,
        base: usize,
        lo: usize,
        hi: usize,
        rev: bool,
        f: &mut dyn FnMut(&[u8], f64),
    ) {
        if t == NIL {
            return;
        }
        let n = self.n(t);
        if base > hi || base + n.size as usize <= lo {
            return;
        }
        let me = base + self.size(n.left);
        if rev {
            if hi > me {
                self.walk(n.right, me + 1, lo, hi, rev, f);
            }
            if lo <= me && me <= hi {
                f(&n.member, n.score);
            }
            if lo < me {
                self.walk(n.left, base, lo, hi, rev, f);
            }
        } else {
            if lo < me {
                self.walk(n.left, base, lo, hi, rev, f);
            }
            if lo <= me && me <= hi {
                f(&n.member, n.score);
            }
            if hi > me {
                self.walk(n.right, me + 1, lo, hi, rev, f);
            }
        }
    }

    fn remove_ranks(&mut self, start: usize, end: usize) -> usize {
        let (l, r) = self.split_rank(self.root, start);
        let (mid, r) = self.split_rank(r, end - start + 1);
        self.root = self.merge(l, r);
        let mut gone = Vec::with_capacity(end - start + 1);
        self.collect_nodes(mid, &mut gone);
        for &i in &gone {
            self.release(i);
        }
        self.shrink();
        gone.len()
    }

    fn collect_nodes(&self, t: u32, out: &mut Vec<u32>) {
        if t == NIL {
            return;
        }
        out.push(t);
        self.collect_nodes(self.n(t).left, out);
        self.collect_nodes(self.n(t).right, out);
    }

    /// The cursor is `epoch << 32 | slot`. Members keep their slot while they live, so
    /// a walk over the slots sees every member present throughout; a cursor from before a
    /// rebuild (another epoch) starts over from slot 0, which may return members twice
    /// (SCAN allows it) but never misses one.
    fn scan(&self, cursor: u64, count: usize, f: &mut dyn FnMut(&[u8], f64)) -> u64 {
        let mut i = if (cursor >> 32) as u32 == self.epoch {
            (cursor & 0xffff_ffff) as usize
        } else {
            0
        };
        let mut seen = 0;
        while i < self.nodes.len() && seen < count.max(1) {
            let n = &self.nodes[i];
            if n.size > 0 {
                f(&n.member, n.score);
                seen += 1;
            }
            i += 1;
        }
        // Skip trailing free slots so the last call does not return an empty page.
        while i < self.nodes.len() && self.nodes[i].size == 0 {
            i += 1;
        }
        if i >= self.nodes.len() {
            0
        } else {
            (u64::from(self.epoch) << 32) | i as u64
        }
    }

    #[cfg(test)]
    fn check(&self) {
        fn go(t: &Tree, i: u32, count: &mut usize) -> usize {
            if i == NIL {
                return 0;
            }
            let n = t.n(i);
            assert!(n.size > 0);
            for c in [n.left, n.right] {
                if c != NIL {
                    assert!(t.n(c).prio <= n.prio, "heap order");
                }
            }
            let ls = go(t, n.left, count);
            *count += 1;
            let rs = go(t, n.right, count);
            assert_eq!(n.size as usize, ls + rs + 1, "sizes");
            ls + rs + 1
        }
        let mut count = 0;
        go(self, self.root, &mut count);
        assert_eq!(count, self.live);
        assert_eq!(self.index.len(), self.live);
        let mut prev: Option<(f64, Vec<u8>)> = None;
        if self.live > 0 {
            self.walk(self.root, 0, 0, self.live - 1, false, &mut |m, s| {
                if let Some((ps, pm)) = &prev {
                    assert_eq!(cmp_elem(*ps, pm, s, m), Ordering::Less, "order");
                }
                prev = Some((s, m.to_vec()));
            });
        }
        let bytes: usize = self
            .nodes
            .iter()
            .filter(|n| n.size > 0)
            .map(|n| alloc_size(n.member.len()))
            .sum();
        assert_eq!(bytes, self.member_bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The model: a sorted vector of (score, member).
    #[derive(Default)]
    struct Model(Vec<(f64, Vec<u8>)>);

    impl Model {
        fn insert(&mut self, m: &[u8], s: f64) -> bool {
            let old = self.0.iter().position(|(_, x)| x == m);
            if let Some(i) = old {
                if self.0[i].0 == s {
                    return false;
                }
                self.0.remove(i);
            }
            let at = self
                .0
                .partition_point(|(x, y)| cmp_elem(*x, y, s, m) == Ordering::Less);
            self.0.insert(at, (s, m.to_vec()));
            old.is_none()
        }
        fn remove(&mut self, m: &[u8]) -> bool {
            match self.0.iter().position(|(_, x)| x == m) {
                Some(i) => {
                    self.0.remove(i);
                    true
                }
                None => false,
            }
        }
    }

    fn items(z: &ZSet) -> Vec<(f64, Vec<u8>)> {
        let mut v = Vec::new();
        z.for_each(|m, s| v.push((s, m.to_vec())));
        v
    }

    fn check(z: &ZSet, model: &Model) {
        assert_eq!(z.len(), model.0.len());
        let got = items(z);
        assert_eq!(got.len(), model.0.len());
        for (a, b) in got.iter().zip(&model.0) {
            assert_eq!(a.0.to_bits(), b.0.to_bits());
            assert_eq!(a.1, b.1);
        }
        for (r, (s, m)) in model.0.iter().enumerate() {
            assert_eq!(z.rank(m), Some((r, *s)));
            assert_eq!(z.score(m).map(f64::to_bits), Some(s.to_bits()));
            let (gm, gs) = z.get(r).unwrap_or((b"?", f64::NAN));
            assert_eq!((gm, gs.to_bits()), (&m[..], s.to_bits()));
        }
        if let ZSet::Tree(t) = z {
            t.check();
        }
        if let ZSet::Pack(p) = z {
            assert!(z.len() <= PACK_MAX_ENTRIES);
            assert_eq!(p.0.len(), p.0.len(), "exact size");
        }
    }

    #[test]
    fn scores_round_trip_in_the_pack() {
        let scores = [
            0.0,
            -0.0,
            1.0,
            -1.0,
            31.0,
            -32.0,
            1e15,
            -(2f64.powi(52)),
            2f64.powi(53),
            0.5,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::MIN_POSITIVE,
            1.5e300,
            1.5,
            -13.5,
            0.1,
            0.3,
            0.1 + 0.2,
            123.456,
            -0.000123,
            1e-15,
            1e-16,
            4503599627370495.5,
            9007199254740993.0,
            f64::MAX,
            -f64::MIN_POSITIVE / 3.0,
        ];
        for s in scores {
            let mut v = Vec::new();
            push_score(&mut v, s);
            let mut pos = 0;
            let back = get_score(&v, &mut pos);
            let want = if s == 0.0 { 0.0 } else { s };
            assert_eq!(back.to_bits(), want.to_bits(), "{s}");
            assert_eq!(pos, v.len());
        }
        let len = |s: f64| {
            let mut v = Vec::new();
            push_score(&mut v, s);
            v.len()
        };
        assert_eq!(len(7.0), 1, "small integers take one byte");
        assert_eq!(len(1.5), 2, "short decimals take two");
        assert_eq!(len(13.5), 3);
        assert_eq!(len(0.1 + 0.2), 9, "others are raw");
    }

    #[test]
    fn encodings_and_conversion() {
        let mut z = ZSet::new();
        assert_eq!(z.encoding(), "listpack");
        assert_eq!(z.heap_bytes(), 0);
        for i in 0..128 {
            assert!(z.insert(format!("m{i}").as_bytes(), f64::from(i)));
        }
        assert_eq!(z.encoding(), "listpack");
        assert!(!z.insert(b"m5", 100.0));
        assert_eq!(z.encoding(), "listpack");
        assert!(z.insert(b"x", 1.0));
        assert_eq!(z.encoding(), "skiplist");
        assert_eq!(z.len(), 129);
        z.remove(b"x");
        assert_eq!(z.encoding(), "skiplist", "no conversion back on removal");
        z.compact();
        assert_eq!(z.encoding(), "listpack");
        assert_eq!(z.len(), 128);
        let mut big = ZSet::new();
        big.insert(b"a", 1.0);
        big.insert(&[b'x'; 65], 2.0);
        assert_eq!(big.encoding(), "skiplist");
        assert_eq!(ZSet::with_hint(129, 1).encoding(), "skiplist");
        assert_eq!(ZSet::with_hint(3, 65).encoding(), "skiplist");
        assert_eq!(ZSet::with_hint(128, 64).encoding(), "listpack");
    }

    #[test]
    fn limits_decide_the_encoding() {
        let tiny = ZSetLimits {
            max_entries: 2,
            max_value: 3,
        };
        let mut z = ZSet::new();
        assert!(z.insert_with(b"a", 1.0, &tiny));
        assert!(z.insert_with(b"b", 2.0, &tiny));
        assert_eq!(z.encoding(), "listpack");
        assert!(!z.insert_with(b"b", 3.0, &tiny), "an update never converts");
        assert!(z.insert_with(b"c", 3.0, &tiny));
        assert_eq!(z.encoding(), "skiplist");
        let mut long = ZSet::new();
        long.insert_with(b"abcd", 1.0, &tiny);
        assert_eq!(long.encoding(), "skiplist");
        let none = ZSetLimits {
            max_entries: 0,
            max_value: 64,
        };
        let mut z0 = ZSet::new();
        z0.insert_with(b"a", 1.0, &none);
        assert_eq!(z0.encoding(), "skiplist");
        // A large limit: counts past one varint byte.
        let big = ZSetLimits {
            max_entries: 1000,
            max_value: 64,
        };
        let mut z = ZSet::new();
        for i in 0..600 {
            z.insert_with(format!("m{i}").as_bytes(), f64::from(i), &big);
        }
        assert_eq!((z.encoding(), z.len()), ("listpack", 600));
        assert_eq!(z.get(599).map(|(m, _)| m.to_vec()), Some(b"m599".to_vec()));
        assert_eq!(z.remove_range(0, 499), 500);
        assert_eq!(z.rank(b"m550"), Some((50, 550.0)));
        let mut t = ZSet::with_hint_limits(10, 1, &none);
        assert_eq!(t.encoding(), "skiplist");
        t.insert(b"x", 1.0);
        t.compact_with(&big);
        assert_eq!(t.encoding(), "listpack");
    }

    #[test]
    fn small_sets_are_compact() {
        let mut z = ZSet::new();
        for i in 0..10 {
            z.insert(format!("member:{i}").as_bytes(), f64::from(i));
        }
        // 1 count byte + 10 * (1 + 8 + 1): 101 bytes, a 112-byte allocation.
        assert_eq!(z.heap_bytes(), 112);
        assert!(std::mem::size_of::<ZSet>() <= 24);
    }

    #[test]
    fn minus_zero_is_zero_in_a_pack_and_kept_in_a_tree() {
        let mut z = ZSet::new();
        z.insert(b"a", -0.0);
        assert!(!z.insert(b"a", 0.0), "not an update");
        assert!(z.score(b"a").is_some_and(|s| s.is_sign_positive()));
        let mut t = ZSet::with_hint(1000, 0);
        t.insert(b"a", -0.0);
        assert!(t.score(b"a").is_some_and(|s| s.is_sign_negative()));
    }

    #[test]
    fn heap_bytes_is_honest_for_trees() {
        let mut z = ZSet::new();
        for i in 0..1000 {
            z.insert(format!("member:{i}").as_bytes(), f64::from(i % 7));
        }
        let ZSet::Tree(t) = &z else {
            panic!("expected a tree")
        };
        let members = 1000 * alloc_size(10).max(alloc_size(8));
        assert!(t.member_bytes <= members && t.member_bytes >= 1000 * 8);
        assert!(z.heap_bytes() > 1000 * (40 + 8));
        // Removing most members gives memory back.
        let before = z.heap_bytes();
        assert_eq!(z.remove_range(0, 899), 900);
        assert!(z.heap_bytes() < before / 4);
        assert_eq!(z.len(), 100);
    }

    #[test]
    fn scan_across_a_rebuild_misses_nothing() {
        let mut z = ZSet::new();
        for i in 0..1000 {
            z.insert(format!("{i}").as_bytes(), f64::from(i));
        }
        let mut seen = std::collections::HashSet::new();
        let mut cursor = z.scan(0, 20, |m, _| {
            seen.insert(m.to_vec());
        });
        assert_ne!(cursor, 0);
        // Removing most members rebuilds the arena: survivors move to other slots.
        let before = z.heap_bytes();
        z.remove_range(0, 899);
        assert!(z.heap_bytes() < before / 4, "memory given back");
        while cursor != 0 {
            cursor = z.scan(cursor, 20, |m, _| {
                seen.insert(m.to_vec());
            });
        }
        for i in 900..1000 {
            assert!(seen.contains(format!("{i}").as_bytes()), "{i} missed");
        }
    }

    #[test]
    fn scan_sees_members_present_throughout() {
        let mut z = ZSet::new();
        for i in 0..500 {
            z.insert(format!("{i}").as_bytes(), f64::from(i));
        }
        let mut seen = std::collections::HashSet::new();
        let mut cursor = 0;
        let mut round = 0;
        loop {
            cursor = z.scan(cursor, 10, |m, _| {
                seen.insert(m.to_vec());
            });
            // Churn: add and remove other members between calls.
            round += 1;
            z.insert(format!("new{round}").as_bytes(), 0.5);
            z.remove(format!("new{}", round - 1).as_bytes());
            if cursor == 0 {
                break;
            }
        }
        for i in 0..500 {
            assert!(seen.contains(format!("{i}").as_bytes()));
        }
    }

    #[derive(Debug, Clone)]
    enum Op {
        Insert(u8, i8),
        InsertFrac(u8, u16),
        Remove(u8),
        RemoveRange(u8, u8),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => (any::<u8>(), any::<i8>()).prop_map(|(m, s)| Op::Insert(m, s)),
            1 => (any::<u8>(), any::<u16>()).prop_map(|(m, s)| Op::InsertFrac(m, s)),
            2 => any::<u8>().prop_map(Op::Remove),
            1 => (any::<u8>(), any::<u8>()).prop_map(|(a, b)| Op::RemoveRange(a, b)),
        ]
    }

    fn member(m: u8) -> Vec<u8> {
        // Some long members force the tree encoding.
        if m > 250 {
            vec![m; 70]
        } else {
            format!("m{m}").into_bytes()
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]
        #[test]
        fn behaves_like_a_sorted_vector(ops in proptest::collection::vec(op(), 1..400)) {
            let mut z = ZSet::new();
            let mut model = Model::default();
            for o in ops {
                match o {
                    Op::Insert(m, s) => {
                        let m = member(m);
                        prop_assert_eq!(z.insert(&m, f64::from(s)), model.insert(&m, f64::from(s)));
                    }
                    Op::InsertFrac(m, s) => {
                        let m = member(m);
                        // Short decimals (the packed decimal code) and others.
                        let s = if s % 2 == 0 {
                            f64::from(s) / 7.0 - 4000.0
                        } else {
                            f64::from(s) / 100.0 - 300.0
                        };
                        prop_assert_eq!(z.insert(&m, s), model.insert(&m, s));
                    }
                    Op::Remove(m) => {
                        let m = member(m);
                        prop_assert_eq!(z.remove(&m), model.remove(&m));
                    }
                    Op::RemoveRange(a, b) => {
                        let (a, b) = (usize::from(a.min(b)) / 4, usize::from(a.max(b)) / 2);
                        let n = model.0.len();
                        let expect = if a < n { b.min(n - 1) + 1 - a } else { 0 };
                        prop_assert_eq!(z.remove_range(a, b), expect);
                        if a < n {
                            model.0.drain(a..=b.min(n - 1));
                        }
                    }
                }
                check(&z, &model);
            }
            // Ranges, both directions, and lower bounds.
            let n = model.0.len();
            if n > 0 {
                for (lo, hi) in [(0, n - 1), (n / 3, n / 2), (n - 1, n + 5)] {
                    let mut fwd = Vec::new();
                    z.range(lo, hi, false, |m, s| fwd.push((s, m.to_vec())));
                    let want: Vec<_> = model.0[lo..=hi.min(n - 1)].to_vec();
                    prop_assert_eq!(&fwd, &want);
                    let mut back = Vec::new();
                    z.range(lo, hi, true, |m, s| back.push((s, m.to_vec())));
                    back.reverse();
                    prop_assert_eq!(&back, &want);
                }
                for x in [-200.0, -1.0, 0.0, 3.5, 100.0] {
                    let got = z.count_while(|_, s| s < x);
                    prop_assert_eq!(got, model.0.iter().filter(|(s, _)| *s < x).count());
                }
            }
            let mut cursor = 0;
            let mut seen = Vec::new();
            loop {
                cursor = z.scan(cursor, 7, |m, _| seen.push(m.to_vec()));
                if cursor == 0 { break; }
            }
            seen.sort();
            let mut all: Vec<_> = model.0.iter().map(|(_, m)| m.clone()).collect();
            all.sort();
            prop_assert_eq!(seen, all);
        }
    }
}
