//! The list value.
//!
//! Contract other crates rely on (persistence, generic key commands): `new`, `len`,
//! `push_back`, `for_each` (head to tail), `encoding`, `heap_bytes` (O(1)).
//!
//! # Representation
//!
//! A deque of packed nodes, like Redis's quicklist of listpacks. Each node is one heap
//! buffer holding up to [`NODE_ENTRIES`] elements (and about [`NODE_BYTES`] bytes, a
//! larger element gets a node of its own), back to back, each written as
//! `len (LEB128) | bytes | len (LEB128, reversed)`: two bytes of overhead for an element
//! under 128 bytes. The length at both ends lets a node be walked, and popped, from
//! either side. A node keeps free room on both sides of its used region, so a push or a
//! pop at either end of the list touches only the end node and is O(1) (amortized over
//! the node's growth).
//!
//! Every node knows the position of its first element in a "virtual" numbering that
//! pushes and pops at the head shift as a whole (`base` is the head's position), so
//! these positions are sorted and an index lookup is a binary search over the nodes
//! followed by a walk of at most half a node: LINDEX, LSET and the start of LRANGE cost
//! O(log n) on any list. Only a change in the middle of the list (LINSERT, LREM) shifts
//! the positions of the nodes after it, in a pass that such commands' scan costs anyway.
//!
//! Node buffers are allocated in the allocator's size classes, so the running byte
//! count behind [`List::heap_bytes`] is exactly what the list holds.
//!
//! Redis 7.0 reports every list as `quicklist` (7.2 added the `listpack` name for small
//! lists); so does [`List::encoding`].

use std::collections::VecDeque;
use std::fmt;

use crate::value::alloc_size;

/// Most bytes a node holds (Redis's default `list-max-listpack-size -2`: 8 KB), unless
/// a single element is larger.
pub const NODE_BYTES: usize = 8192;
/// Most elements a node holds: bounds the walk inside a node on LINDEX and LSET.
pub const NODE_ENTRIES: usize = 128;

/// Bytes of the LEB128 form of `n`.
#[inline]
fn varint_len(n: usize) -> usize {
    let bits = usize::BITS - (n | 1).leading_zeros();
    bits.div_ceil(7) as usize
}

/// Bytes an element of `len` bytes takes in a node.
#[inline]
fn entry_size(len: usize) -> usize {
    2 * varint_len(len) + len
}

/// Writes `v` encoded at the start of `dst` (which is exactly `entry_size(v.len())` long).
#[inline]
fn write_entry(dst: &mut [u8], v: &[u8]) {
    let h = varint_len(v.len());
    let mut n = v.len();
    for i in 0..h {
        let more = if i + 1 < h { 0x80 } else { 0 };
        let b = (n & 0x7f) as u8 | more;
        dst[i] = b;
        // The trailing copy is stored back to front.
        dst[2 * h + v.len() - 1 - i] = b;
        n >>= 7;
    }
    dst[h..h + v.len()].copy_from_slice(v);
}

/// Reads the element starting at `pos`: (data start, data end, next element's start).
#[inline]
fn read_fwd(buf: &[u8], pos: usize) -> (usize, usize, usize) {
    let mut n = 0usize;
    let mut shift = 0;
    let mut p = pos;
    loop {
        let b = buf[p];
        p += 1;
        n |= ((b & 0x7f) as usize) << shift;
        if b & 0x80 == 0 {
            break;
        }
        shift += 7;
    }
    let h = p - pos;
    (p, p + n, p + n + h)
}

/// Reads the element ending at `end` (exclusive): (element start, data start, data end).
#[inline]
fn read_back(buf: &[u8], end: usize) -> (usize, usize, usize) {
    let mut n = 0usize;
    let mut shift = 0;
    let mut p = end;
    loop {
        p -= 1;
        let b = buf[p];
        n |= ((b & 0x7f) as usize) << shift;
        if b & 0x80 == 0 {
            break;
        }
        shift += 7;
    }
    let h = end - p;
    let data_end = p;
    let data_start = data_end - n;
    (data_start - h, data_start, data_end)
}

/// One packed node: elements live in `buf[head..tail]`.
#[derive(Clone)]
struct Node {
    buf: Box<[u8]>,
    head: usize,
    tail: usize,
    count: usize,
    /// The virtual position of the node's first element (see the module documentation).
    vstart: i64,
}

/// Which side of a node new room is wanted on.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Side {
    Front,
    Back,
}

impl Node {
    fn empty() -> Node {
        Node {
            buf: Box::default(),
            head: 0,
            tail: 0,
            count: 0,
            vstart: 0,
        }
    }

    #[inline]
    fn used(&self) -> usize {
        self.tail - self.head
    }

    #[inline]
    fn cap(&self) -> usize {
        self.buf.len()
    }

    /// Whether one more element of `need` encoded bytes may join this node.
    #[inline]
    fn fits(&self, need: usize) -> bool {
        self.count < NODE_ENTRIES && self.used() + need <= NODE_BYTES
    }

    /// Whether the node holds more than a node should (several elements only: one huge
    /// element is a node of its own).
    fn oversized(&self) -> bool {
        self.count > 1 && (self.count > NODE_ENTRIES || self.used() > NODE_BYTES)
    }

    /// Makes `need` free bytes available on `side`, moving or reallocating the used
    /// region; `bufs` tracks the heap bytes of every node buffer.
    fn make_room(&mut self, need: usize, side: Side, bufs: &mut usize) {
        let (head, tail, used) = (self.head, self.tail, self.used());
        let free = match side {
            Side::Front => head,
            Side::Back => self.cap() - tail,
        };
        if free >= need {
            return;
        }
        let total = used + need;
        if self.cap() >= total && self.cap() - total >= used / 2 {
            // Enough room overall: slide the elements to the far side (amortized by the
            // slack left behind, at least half the used size).
            let to = match side {
                Side::Front => self.cap() - used,
                Side::Back => 0,
            };
            self.buf.copy_within(head..tail, to);
            self.head = to;
            self.tail = to + used;
            return;
        }
        let want = total.max((used * 2).min(NODE_BYTES));
        let cap = alloc_size(want);
        let mut nb = vec![0u8; cap].into_boxed_slice();
        let to = match side {
            Side::Front => cap - used,
            Side::Back => 0,
        };
        nb[to..to + used].copy_from_slice(&self.buf[head..tail]);
        *bufs = *bufs - self.cap() + cap;
        self.buf = nb;
        self.head = to;
        self.tail = to + used;
    }

    /// Reallocates the buffer to fit the elements when it has much more room.
    fn shrink(&mut self, bufs: &mut usize) {
        let used = self.used();
        let cap = alloc_size(used);
        if cap >= self.cap() {
            return;
        }
        let mut nb = vec![0u8; cap].into_boxed_slice();
        nb[..used].copy_from_slice(&self.buf[self.head..self.tail]);
        *bufs = *bufs - self.cap() + cap;
        self.buf = nb;
        self.head = 0;
        self.tail = used;
    }

    fn push_back(&mut self, v: &[u8], bufs: &mut usize) {
        let need = entry_size(v.len());
        self.make_room(need, Side::Back, bufs);
        let t = self.tail;
        write_entry(&mut self.buf[t..t + need], v);
        self.tail += need;
        self.count += 1;
    }

    fn push_front(&mut self, v: &[u8], bufs: &mut usize) {
        let need = entry_size(v.len());
        self.make_room(need, Side::Front, bufs);
        let h = self.head - need;
        write_entry(&mut self.buf[h..h + need], v);
        self.head = h;
        self.count += 1;
    }

    /// The byte offset of element `k` (walking from the nearer end).
    fn offset_of(&self, k: usize) -> usize {
        let count = self.count;
        debug_assert!(k < count);
        if k <= count / 2 {
            let mut p = self.head;
            for _ in 0..k {
                p = read_fwd(&self.buf, p).2;
            }
            p
        } else {
            let mut p = self.tail;
            for _ in 0..count - k {
                p = read_back(&self.buf, p).0;
            }
            p
        }
    }

    /// Replaces `buf[start..end]` (`removed` whole elements, 0 or 1) with the encoded
    /// element `enc`.
    fn splice(&mut self, start: usize, end: usize, enc: &[u8], removed: usize, bufs: &mut usize) {
        let (old, new) = (end - start, enc.len());
        if new > old {
            let grow = new - old;
            if self.cap() - self.tail < grow {
                // Rebuild with the elements at offset 0 and exactly the room needed (a
                // change in the middle is not a growth pattern worth slack).
                let (head, tail) = (self.head, self.tail);
                let used = tail - head;
                let cap = alloc_size(used + grow).max(self.cap());
                let mut nb = vec![0u8; cap].into_boxed_slice();
                nb[..start - head].copy_from_slice(&self.buf[head..start]);
                nb[start - head..start - head + new].copy_from_slice(enc);
                nb[start - head + new..used - old + new].copy_from_slice(&self.buf[end..tail]);
                *bufs = *bufs - self.cap() + cap;
                self.buf = nb;
                self.head = 0;
                self.tail = used - old + new;
                self.count = self.count - removed + 1;
                return;
            }
        }
        let tail = self.tail;
        self.buf.copy_within(end..tail, start + new);
        self.buf[start..start + new].copy_from_slice(enc);
        self.tail = tail - old + new;
        self.count = self.count - removed + 1;
    }

    /// Splits off the elements from `k` on into a new node.
    fn split_off(&mut self, k: usize, bufs: &mut usize) -> Node {
        let at = self.offset_of(k);
        let part = &self.buf[at..self.tail];
        let cap = alloc_size(part.len());
        let mut nb = vec![0u8; cap].into_boxed_slice();
        nb[..part.len()].copy_from_slice(part);
        *bufs += cap;
        let other = Node {
            buf: nb,
            head: 0,
            tail: part.len(),
            count: self.count - k,
            vstart: self.vstart + k as i64,
        };
        self.tail = at;
        self.count = k;
        self.shrink(bufs);
        other
    }

    /// Appends every element of `other` (consumed) at the back of this node.
    fn append(&mut self, other: Node, bufs: &mut usize) {
        let used = other.used();
        self.make_room(used, Side::Back, bufs);
        let t = self.tail;
        self.buf[t..t + used].copy_from_slice(&other.buf[other.head..other.tail]);
        self.tail += used;
        self.count += other.count;
        *bufs -= other.cap();
    }
}

/// A list value: see the module documentation for the representation.
#[derive(Clone, Default)]
pub struct List {
    nodes: VecDeque<Node>,
    len: usize,
    /// The virtual position of the head element (the first node's `vstart`).
    base: i64,
    /// Heap bytes of every node buffer (each a size class already).
    bufs: usize,
}

impl List {
    pub fn new() -> Self {
        List::default()
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Appends an element at the tail.
    pub fn push_back(&mut self, v: &[u8]) {
        let need = entry_size(v.len());
        let bufs = &mut self.bufs;
        match self.nodes.back_mut() {
            Some(n) if n.fits(need) => n.push_back(v, bufs),
            last => {
                if let Some(n) = last {
                    n.shrink(bufs);
                }
                let mut n = Node::empty();
                n.push_back(v, bufs);
                n.vstart = self.base + self.len as i64;
                if self.nodes.is_empty() {
                    // Most lists are small: a table of one node until a second is needed.
                    self.nodes.reserve_exact(1);
                }
                self.nodes.push_back(n);
            }
        }
        self.len += 1;
    }

    /// Prepends an element at the head.
    pub fn push_front(&mut self, v: &[u8]) {
        let need = entry_size(v.len());
        let bufs = &mut self.bufs;
        self.base -= 1;
        match self.nodes.front_mut() {
            Some(n) if n.fits(need) => {
                n.push_front(v, bufs);
                n.vstart = self.base;
            }
            first => {
                if let Some(n) = first {
                    n.shrink(bufs);
                }
                let mut n = Node::empty();
                n.push_front(v, bufs);
                n.vstart = self.base;
                if self.nodes.is_empty() {
                    self.nodes.reserve_exact(1);
                }
                self.nodes.push_front(n);
            }
        }
        self.len += 1;
    }

    /// Removes the head element, handing its bytes to `f`.
    pub fn pop_front_with<R>(&mut self, f: impl FnOnce(&[u8]) -> R) -> Option<R> {
        let n = self.nodes.front_mut()?;
        let (ds, de, next) = read_fwd(&n.buf, n.head);
        let r = f(&n.buf[ds..de]);
        n.head = next;
        n.count -= 1;
        n.vstart += 1;
        self.base += 1;
        self.len -= 1;
        if n.count == 0 {
            self.drop_node(0);
        }
        Some(r)
    }

    /// Removes the tail element, handing its bytes to `f`.
    pub fn pop_back_with<R>(&mut self, f: impl FnOnce(&[u8]) -> R) -> Option<R> {
        let n = self.nodes.back_mut()?;
        let (start, ds, de) = read_back(&n.buf, n.tail);
        let r = f(&n.buf[ds..de]);
        n.tail = start;
        n.count -= 1;
        self.len -= 1;
        if n.count == 0 {
            self.drop_node(self.nodes.len() - 1);
        }
        Some(r)
    }

    pub fn pop_front(&mut self) -> Option<Vec<u8>> {
        self.pop_front_with(|v| v.to_vec())
    }

    pub fn pop_back(&mut self) -> Option<Vec<u8>> {
        self.pop_back_with(|v| v.to_vec())
    }

    fn drop_node(&mut self, k: usize) {
        if let Some(n) = self.nodes.remove(k) {
            self.bufs -= n.cap();
        }
        if self.nodes.is_empty() {
            // An empty list frees its node table too (its key is about to go).
            self.nodes = VecDeque::new();
        } else if self.nodes.capacity() > 8 && self.nodes.len() * 4 < self.nodes.capacity() {
            self.nodes.shrink_to(self.nodes.len() * 2);
        }
    }

    /// The node holding element `i` (< len) and the element's index in it.
    fn locate(&self, i: usize) -> (usize, usize) {
        debug_assert!(i < self.len);
        let target = self.base + i as i64;
        // The last node starting at or before the target.
        let k = self.nodes.partition_point(|n| n.vstart <= target) - 1;
        (k, (target - self.nodes[k].vstart) as usize)
    }

    /// Renumbers every node from `base` after changes in the middle.
    fn renumber(&mut self) {
        let mut at = self.base;
        for n in self.nodes.iter_mut() {
            n.vstart = at;
            at += n.count as i64;
        }
    }

    /// The element at `i` (0-based from the head), if any.
    pub fn get(&self, i: usize) -> Option<&[u8]> {
        if i >= self.len {
            return None;
        }
        let (k, j) = self.locate(i);
        let n = &self.nodes[k];
        let (ds, de, _) = read_fwd(&n.buf, n.offset_of(j));
        Some(&n.buf[ds..de])
    }

    /// Replaces the element at `i`; false when `i` is out of range.
    pub fn set(&mut self, i: usize, v: &[u8]) -> bool {
        if i >= self.len {
            return false;
        }
        let (k, j) = self.locate(i);
        let mut enc = vec![0u8; entry_size(v.len())];
        write_entry(&mut enc, v);
        let n = &mut self.nodes[k];
        let at = n.offset_of(j);
        let end = read_fwd(&n.buf, at).2;
        n.splice(at, end, &enc, 1, &mut self.bufs);
        if n.cap() > 2 * n.used() + 64 {
            n.shrink(&mut self.bufs);
        }
        self.fix(k);
        true
    }

    /// Inserts `v` so that it becomes element `i` (`i == len` appends).
    pub fn insert(&mut self, i: usize, v: &[u8]) {
        assert!(i <= self.len, "insert index past the end");
        if i == 0 {
            return self.push_front(v);
        }
        if i == self.len {
            return self.push_back(v);
        }
        let (k, j) = self.locate(i);
        let mut enc = vec![0u8; entry_size(v.len())];
        write_entry(&mut enc, v);
        let n = &mut self.nodes[k];
        let at = n.offset_of(j);
        n.splice(at, at, &enc, 0, &mut self.bufs);
        self.len += 1;
        // Renumber the shorter side: the nodes after `k` move up one, or `k` and the
        // nodes before it (with the head) move down one.
        if k >= self.nodes.len() / 2 {
            for n in self.nodes.range_mut(k + 1..) {
                n.vstart += 1;
            }
        } else {
            for n in self.nodes.range_mut(..=k) {
                n.vstart -= 1;
            }
            self.base -= 1;
        }
        self.fix(k);
    }

    /// Splits node `k` while it holds more than a node should.
    fn fix(&mut self, k: usize) {
        if !self.nodes[k].oversized() {
            return;
        }
        let half = self.nodes[k].count / 2;
        let other = self.nodes[k].split_off(half, &mut self.bufs);
        self.nodes.insert(k + 1, other);
        self.fix(k + 1);
        self.fix(k);
    }

    /// Removes up to `count` elements equal to `v` (all when 0), from the head when
    /// `from_tail` is false, else from the tail (LREM). Returns how many went.
    pub fn remove_matching(&mut self, v: &[u8], count: usize, from_tail: bool) -> usize {
        let mut budget = if count == 0 { usize::MAX } else { count };
        let mut removed = 0;
        let order: Vec<usize> = if from_tail {
            (0..self.nodes.len()).rev().collect()
        } else {
            (0..self.nodes.len()).collect()
        };
        for k in order {
            if budget == 0 {
                break;
            }
            let n = &self.nodes[k];
            // Matches in this node, in list order.
            let mut hits: Vec<(usize, usize)> = Vec::new();
            let mut p = n.head;
            while p < n.tail {
                let (ds, de, next) = read_fwd(&n.buf, p);
                if &n.buf[ds..de] == v {
                    hits.push((p, next));
                }
                p = next;
            }
            if hits.is_empty() {
                continue;
            }
            let take = hits.len().min(budget);
            let chosen = if from_tail {
                &hits[hits.len() - take..]
            } else {
                &hits[..take]
            };
            let n = &mut self.nodes[k];
            // Compact the survivors in place, front to back.
            let mut w = chosen[0].0;
            let mut r = chosen[0].0;
            for &(s, e) in chosen {
                n.buf.copy_within(r..s, w);
                w += s - r;
                r = e;
            }
            let tail = n.tail;
            n.buf.copy_within(r..tail, w);
            w += tail - r;
            n.tail = w;
            n.count -= take;
            budget -= take;
            removed += take;
        }
        if removed > 0 {
            self.len -= removed;
            self.compact();
        }
        removed
    }

    /// Drops empty nodes, merges neighbours that fit in one node and returns spare
    /// buffer room, after removals in the middle.
    fn compact(&mut self) {
        let old = std::mem::take(&mut self.nodes);
        let mut out: VecDeque<Node> = VecDeque::with_capacity(old.len());
        for n in old {
            if n.count == 0 {
                self.bufs -= n.cap();
                continue;
            }
            if let Some(last) = out.back_mut() {
                if last.count + n.count <= NODE_ENTRIES && last.used() + n.used() <= NODE_BYTES {
                    last.append(n, &mut self.bufs);
                    continue;
                }
            }
            out.push_back(n);
        }
        for n in out.iter_mut() {
            if n.cap() > 2 * n.used() + 64 {
                n.shrink(&mut self.bufs);
            }
        }
        if out.is_empty() {
            out = VecDeque::new();
        } else {
            out.shrink_to_fit();
        }
        self.nodes = out;
        self.renumber();
    }

    /// Removes the first `n` elements.
    pub fn drop_front(&mut self, mut n: usize) {
        n = n.min(self.len);
        self.len -= n;
        self.base += n as i64;
        while n > 0 {
            let Some(node) = self.nodes.front_mut() else {
                break;
            };
            if node.count <= n {
                n -= node.count;
                self.drop_node(0);
                continue;
            }
            let at = node.offset_of(n);
            node.head = at;
            node.count -= n;
            node.vstart = self.base;
            if node.cap() > 2 * node.used() + 64 {
                node.shrink(&mut self.bufs);
            }
            break;
        }
    }

    /// Removes the last `n` elements.
    pub fn drop_back(&mut self, mut n: usize) {
        n = n.min(self.len);
        self.len -= n;
        while n > 0 {
            let Some(node) = self.nodes.back_mut() else {
                break;
            };
            if node.count <= n {
                n -= node.count;
                self.drop_node(self.nodes.len() - 1);
                continue;
            }
            let keep = node.count - n;
            let at = node.offset_of(keep);
            node.tail = at;
            node.count = keep;
            if node.cap() > 2 * node.used() + 64 {
                node.shrink(&mut self.bufs);
            }
            break;
        }
    }

    /// Elements from the head to the tail.
    pub fn iter(&self) -> Iter<'_> {
        self.iter_from(0)
    }

    /// Elements from index `i` to the tail.
    pub fn iter_from(&self, i: usize) -> Iter<'_> {
        if i >= self.len {
            return Iter {
                list: self,
                node: self.nodes.len(),
                pos: 0,
                left: 0,
            };
        }
        let (k, j) = self.locate(i);
        Iter {
            list: self,
            node: k,
            pos: self.nodes[k].offset_of(j),
            left: self.len - i,
        }
    }

    /// Elements from index `i` back to the head.
    pub fn rev_iter_from(&self, i: usize) -> RevIter<'_> {
        if i >= self.len {
            return RevIter {
                list: self,
                node: 0,
                end: 0,
                left: 0,
            };
        }
        let (k, j) = self.locate(i);
        let n = &self.nodes[k];
        let end = read_fwd(&n.buf, n.offset_of(j)).2;
        RevIter {
            list: self,
            node: k,
            end,
            left: i + 1,
        }
    }

    /// Calls `f` with every element, head to tail.
    pub fn for_each(&self, mut f: impl FnMut(&[u8])) {
        for v in self.iter() {
            f(v)
        }
    }

    /// The name `OBJECT ENCODING` reports (Redis 7.0: `quicklist` for every list).
    pub fn encoding(&self) -> &'static str {
        "quicklist"
    }

    /// Heap bytes owned, rounded to allocator size classes: the node table and every
    /// node's buffer.
    pub fn heap_bytes(&self) -> usize {
        self.bufs + alloc_size(self.nodes.capacity() * std::mem::size_of::<Node>())
    }
}

/// Forward iterator over a list's elements.
pub struct Iter<'a> {
    list: &'a List,
    node: usize,
    pos: usize,
    left: usize,
}

impl<'a> Iterator for Iter<'a> {
    type Item = &'a [u8];

    #[inline]
    fn next(&mut self) -> Option<&'a [u8]> {
        if self.left == 0 {
            return None;
        }
        let mut n = &self.list.nodes[self.node];
        if self.pos >= n.tail {
            self.node += 1;
            n = &self.list.nodes[self.node];
            self.pos = n.head;
        }
        let (ds, de, next) = read_fwd(&n.buf, self.pos);
        self.pos = next;
        self.left -= 1;
        Some(&n.buf[ds..de])
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

impl ExactSizeIterator for Iter<'_> {}

/// Backward iterator over a list's elements.
pub struct RevIter<'a> {
    list: &'a List,
    node: usize,
    /// End (exclusive) of the next element to yield.
    end: usize,
    left: usize,
}

impl<'a> Iterator for RevIter<'a> {
    type Item = &'a [u8];

    #[inline]
    fn next(&mut self) -> Option<&'a [u8]> {
        if self.left == 0 {
            return None;
        }
        let mut n = &self.list.nodes[self.node];
        if self.end <= n.head {
            self.node -= 1;
            n = &self.list.nodes[self.node];
            self.end = n.tail;
        }
        let (start, ds, de) = read_back(&n.buf, self.end);
        self.end = start;
        self.left -= 1;
        Some(&n.buf[ds..de])
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

impl ExactSizeIterator for RevIter<'_> {}

impl PartialEq for List {
    fn eq(&self, other: &List) -> bool {
        self.len == other.len && self.iter().eq(other.iter())
    }
}

impl fmt::Debug for List {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.iter().map(String::from_utf8_lossy))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Recounts what `heap_bytes` keeps a running total of, and checks node invariants.
    fn check(l: &List) {
        let mut count = 0;
        let mut bufs = 0;
        for n in &l.nodes {
            assert_eq!(n.vstart, l.base + count as i64, "node numbering");
            assert!(n.count > 0, "empty node left in the list");
            assert!(!n.oversized(), "node over the limits");
            assert_eq!(alloc_size(n.cap()), n.cap(), "buffer not a size class");
            let mut p = n.head;
            let mut c = 0;
            while p < n.tail {
                p = read_fwd(&n.buf, p).2;
                c += 1;
            }
            assert_eq!(p, n.tail);
            assert_eq!(c, n.count);
            count += n.count;
            bufs += n.cap();
        }
        assert_eq!(count, l.len);
        assert_eq!(bufs, l.bufs);
        assert_eq!(
            l.heap_bytes(),
            bufs + alloc_size(l.nodes.capacity() * std::mem::size_of::<Node>())
        );
    }

    #[test]
    fn varints_round_trip() {
        for len in [0usize, 1, 127, 128, 300, 16383, 16384, 70000] {
            let v = vec![7u8; len];
            let mut buf = vec![0u8; entry_size(len) + 3];
            write_entry(&mut buf[1..1 + entry_size(len)], &v);
            let (ds, de, next) = read_fwd(&buf, 1);
            assert_eq!((de - ds, next), (len, 1 + entry_size(len)));
            let (s, ds2, de2) = read_back(&buf, next);
            assert_eq!((s, ds2, de2), (1, ds, de));
        }
        assert_eq!(entry_size(3), 5);
        assert_eq!(entry_size(200), 204);
    }

    #[test]
    fn push_pop_both_ends() {
        let mut l = List::new();
        assert_eq!(l.heap_bytes(), 0);
        l.push_back(b"b");
        l.push_front(b"a");
        l.push_back(b"c");
        assert_eq!(l.len(), 3);
        assert_eq!(l.get(0), Some(&b"a"[..]));
        assert_eq!(l.get(2), Some(&b"c"[..]));
        assert_eq!(l.get(3), None);
        let all: Vec<&[u8]> = l.iter().collect();
        assert_eq!(all, vec![&b"a"[..], b"b", b"c"]);
        let rev: Vec<&[u8]> = l.rev_iter_from(2).collect();
        assert_eq!(rev, vec![&b"c"[..], b"b", b"a"]);
        check(&l);
        assert_eq!(l.pop_front().as_deref(), Some(&b"a"[..]));
        assert_eq!(l.pop_back().as_deref(), Some(&b"c"[..]));
        assert_eq!(l.pop_back().as_deref(), Some(&b"b"[..]));
        assert_eq!(l.pop_back(), None);
        assert!(l.is_empty());
        assert_eq!(l.heap_bytes(), 0, "an empty list holds nothing");
    }

    #[test]
    fn small_lists_are_compact() {
        let mut l = List::new();
        l.push_back(b"hello");
        // One node buffer of 8 bytes (5 + 2 rounded) and one node slot.
        assert_eq!(l.heap_bytes(), 8 + alloc_size(std::mem::size_of::<Node>()));
        for i in 0..100 {
            l.push_back(format!("{i}").as_bytes());
        }
        check(&l);
        // 100 short elements: a few hundred bytes, not 100 allocations.
        assert!(l.heap_bytes() < 600, "{}", l.heap_bytes());
        // 1000 three-byte elements, pushed at either end: about what Redis 7.0's
        // MEMORY USAGE reports for the same list (5248 bytes, its headers included).
        for end in [false, true] {
            let mut l = List::new();
            for _ in 0..1000 {
                if end {
                    l.push_front(b"xxx");
                } else {
                    l.push_back(b"xxx");
                }
            }
            check(&l);
            assert!(l.heap_bytes() < 6000, "{}", l.heap_bytes());
        }
    }

    #[test]
    fn big_lists_split_into_nodes() {
        let mut l = List::new();
        for i in 0..10_000u32 {
            if i % 2 == 0 {
                l.push_back(&i.to_be_bytes());
            } else {
                l.push_front(&i.to_be_bytes());
            }
        }
        check(&l);
        assert!(l.nodes.len() >= 10_000 / NODE_ENTRIES);
        let model: Vec<Vec<u8>> = l.iter().map(|v| v.to_vec()).collect();
        for (i, v) in model.iter().enumerate().step_by(37) {
            assert_eq!(l.get(i), Some(&v[..]));
        }
        let big = vec![b'x'; 20_000];
        l.insert(5000, &big);
        l.set(10, &big);
        check(&l);
        assert_eq!(l.get(5000), Some(&big[..]));
        assert_eq!(l.get(10), Some(&big[..]));
        assert_eq!(l.get(5001), Some(&model[5000][..]));
    }

    #[test]
    fn trims_and_removals() {
        let mut l = List::new();
        for i in 0..1000 {
            l.push_back(if i % 3 == 0 { b"x" } else { b"y" });
        }
        assert_eq!(l.remove_matching(b"x", 2, true), 2);
        assert_eq!(l.remove_matching(b"x", 0, false), 332);
        assert_eq!(l.len(), 666);
        check(&l);
        l.drop_front(300);
        l.drop_back(300);
        assert_eq!(l.len(), 66);
        check(&l);
        l.drop_back(1000);
        assert!(l.is_empty());
        assert_eq!(l.heap_bytes(), 0);
    }

    #[derive(Debug, Clone)]
    enum Op {
        PushBack(Vec<u8>),
        PushFront(Vec<u8>),
        PopBack,
        PopFront,
        Set(usize, Vec<u8>),
        Insert(usize, Vec<u8>),
        Remove(Vec<u8>, usize, bool),
        DropFront(usize),
        DropBack(usize),
        Get(usize),
        IterFrom(usize),
        RevFrom(usize),
    }

    fn value() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            8 => proptest::collection::vec(b'a'..b'd', 0..4),
            1 => proptest::collection::vec(any::<u8>(), 100..300),
            1 => Just(vec![b'z'; 9000]),
        ]
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            6 => value().prop_map(Op::PushBack),
            6 => value().prop_map(Op::PushFront),
            2 => Just(Op::PopBack),
            2 => Just(Op::PopFront),
            2 => (any::<usize>(), value()).prop_map(|(i, v)| Op::Set(i, v)),
            2 => (any::<usize>(), value()).prop_map(|(i, v)| Op::Insert(i, v)),
            1 => (value(), 0usize..4, any::<bool>()).prop_map(|(v, c, t)| Op::Remove(v, c, t)),
            1 => (0usize..50).prop_map(Op::DropFront),
            1 => (0usize..50).prop_map(Op::DropBack),
            2 => any::<usize>().prop_map(Op::Get),
            1 => any::<usize>().prop_map(Op::IterFrom),
            1 => any::<usize>().prop_map(Op::RevFrom),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]
        #[test]
        fn matches_a_vecdeque(ops in proptest::collection::vec(op(), 1..400)) {
            let mut l = List::new();
            let mut m: VecDeque<Vec<u8>> = VecDeque::new();
            for op in ops {
                match op {
                    Op::PushBack(v) => { l.push_back(&v); m.push_back(v); }
                    Op::PushFront(v) => { l.push_front(&v); m.push_front(v); }
                    Op::PopBack => prop_assert_eq!(l.pop_back(), m.pop_back()),
                    Op::PopFront => prop_assert_eq!(l.pop_front(), m.pop_front()),
                    Op::Set(i, v) => {
                        let i = if m.is_empty() { i } else { i % (m.len() + 1) };
                        let ok = l.set(i, &v);
                        prop_assert_eq!(ok, i < m.len());
                        if ok { m[i] = v; }
                    }
                    Op::Insert(i, v) => {
                        let i = i % (m.len() + 1);
                        l.insert(i, &v);
                        m.insert(i, v);
                    }
                    Op::Remove(v, c, from_tail) => {
                        let mut budget = if c == 0 { usize::MAX } else { c };
                        let mut idx: Vec<usize> = (0..m.len()).filter(|&i| m[i] == v).collect();
                        if from_tail { idx.reverse(); }
                        let mut gone = Vec::new();
                        for i in idx { if budget == 0 { break; } gone.push(i); budget -= 1; }
                        gone.sort_unstable();
                        for &i in gone.iter().rev() { m.remove(i); }
                        prop_assert_eq!(l.remove_matching(&v, c, from_tail), gone.len());
                    }
                    Op::DropFront(n) => { l.drop_front(n); m.drain(..n.min(m.len())); }
                    Op::DropBack(n) => { l.drop_back(n); let k = m.len().saturating_sub(n); m.truncate(k); }
                    Op::Get(i) => {
                        let i = if m.is_empty() { i } else { i % (m.len() + 1) };
                        prop_assert_eq!(l.get(i), m.get(i).map(|v| &v[..]));
                    }
                    Op::IterFrom(i) => {
                        let i = i % (m.len() + 1);
                        let got: Vec<&[u8]> = l.iter_from(i).collect();
                        let want: Vec<&[u8]> = m.iter().skip(i).map(|v| &v[..]).collect();
                        prop_assert_eq!(got, want);
                    }
                    Op::RevFrom(i) => {
                        let i = i % (m.len() + 1);
                        let got: Vec<&[u8]> = l.rev_iter_from(i).collect();
                        let want: Vec<&[u8]> = if i < m.len() {
                            m.iter().take(i + 1).rev().map(|v| &v[..]).collect()
                        } else { Vec::new() };
                        prop_assert_eq!(got, want);
                    }
                }
                prop_assert_eq!(l.len(), m.len());
                check(&l);
            }
            let all: Vec<Vec<u8>> = l.iter().map(|v| v.to_vec()).collect();
            prop_assert_eq!(all, m.iter().cloned().collect::<Vec<_>>());
            let mut each = Vec::new();
            l.for_each(|v| each.push(v.to_vec()));
            prop_assert_eq!(each.len(), m.len());
            let c = l.clone();
            prop_assert_eq!(&c, &l);
            check(&c);
        }
    }
}
