//! The stream value: entries ordered by ID, consumer groups with their pending entries.
//!
//! Contract other crates rely on (persistence, generic key commands): `new`, `len`,
//! `encoding`, `heap_bytes` (O(1)), plus the accessors and raw setters persistence needs
//! (`nodes`, `for_each_in`, `first_id`, `last_id`, `max_deleted_id`, `entries_added`,
//! `groups`, `set_meta`, `load_group`).
//!
//! # Representation
//!
//! Entries live in a `BTreeMap` from [`StreamId`] to their field-value pairs packed in
//! one allocation ([`Packed`]), so lookups and range starts are O(log n) and a range
//! walks in order. Beside them the stream keeps a model of the listpack nodes Redis
//! would have built for the same history ([`Node`]: first ID, live and deleted counts,
//! byte size, master fields, last ID): Redis's approximate trimming (`MAXLEN ~`,
//! `MINID ~`) removes whole nodes only, `XINFO STREAM` reports their number, and a
//! snapshot writes one listpack per node, so replies and files follow Redis.
//!
//! Consumer groups are kept by name in order (Redis lists them in a radix tree). A group
//! has its last delivered ID, its entries-read counter, its pending entries list (PEL:
//! ID → delivery time, delivery count, owning consumer) and its consumers, each with
//! its own set of pending IDs and its seen time.
//!
//! # Memory accounting
//!
//! Every mutation keeps `heap` (entries, nodes) and each group's `heap` up to date; the
//! stream's total for groups changes only through [`GroupMut`], which charges the
//! group's size change when dropped. Owned buffers are counted as the allocator rounds
//! them ([`alloc_size`]); B-tree nodes are charged per element as an amortised share
//! of a node ([`btree_slot`]), since the standard B-tree does not expose its nodes.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::ops::{Bound, Deref, DerefMut};

use crate::value::alloc_size;

/// Redis's default `stream-node-max-entries`: a listpack node holds at most this many
/// entries (live and deleted).
pub const NODE_MAX_ENTRIES: usize = 100;
/// Redis's default `stream-node-max-bytes`.
pub const NODE_MAX_BYTES: usize = 4096;
/// The value of a group's entries-read counter when it is unknown (Redis's
/// `SCG_INVALID_ENTRIES_READ`).
pub const ENTRIES_READ_UNKNOWN: i64 = -1;

/// A stream entry ID: milliseconds and a sequence number, ordered as a pair.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StreamId {
    pub ms: u64,
    pub seq: u64,
}

impl StreamId {
    pub const MIN: StreamId = StreamId { ms: 0, seq: 0 };
    pub const MAX: StreamId = StreamId {
        ms: u64::MAX,
        seq: u64::MAX,
    };

    pub const fn new(ms: u64, seq: u64) -> Self {
        StreamId { ms, seq }
    }

    pub fn is_zero(&self) -> bool {
        *self == StreamId::MIN
    }

    /// The next ID, or `None` after the last possible one.
    pub fn next(self) -> Option<StreamId> {
        if self.seq < u64::MAX {
            Some(StreamId::new(self.ms, self.seq + 1))
        } else if self.ms < u64::MAX {
            Some(StreamId::new(self.ms + 1, 0))
        } else {
            None
        }
    }

    /// The previous ID, or `None` before 0-0.
    pub fn prev(self) -> Option<StreamId> {
        if self.seq > 0 {
            Some(StreamId::new(self.ms, self.seq - 1))
        } else if self.ms > 0 {
            Some(StreamId::new(self.ms - 1, u64::MAX))
        } else {
            None
        }
    }

    /// `<ms>-<seq>` as bytes.
    pub fn to_bytes(self) -> Vec<u8> {
        let mut v = Vec::with_capacity(24);
        self.write_to(&mut v);
        v
    }

    /// Appends `<ms>-<seq>` to `out`.
    pub fn write_to(self, out: &mut Vec<u8>) {
        let mut b = itoa::Buffer::new();
        out.extend_from_slice(b.format(self.ms).as_bytes());
        out.push(b'-');
        out.extend_from_slice(b.format(self.seq).as_bytes());
    }
}

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.ms, self.seq)
    }
}

/// A sequence of byte strings packed into one allocation: each string is a LEB128
/// length followed by its bytes. An entry's fields and values alternate.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Packed {
    count: u32,
    data: Box<[u8]>,
}

fn put_varint(out: &mut Vec<u8>, mut n: usize) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

impl Packed {
    pub fn new<'a>(items: impl IntoIterator<Item = &'a [u8]>) -> Packed {
        let mut data = Vec::new();
        let mut count = 0u32;
        for it in items {
            put_varint(&mut data, it.len());
            data.extend_from_slice(it);
            count += 1;
        }
        Packed {
            count,
            data: data.into_boxed_slice(),
        }
    }

    /// How many strings it holds.
    pub fn count(&self) -> usize {
        self.count as usize
    }

    pub fn iter(&self) -> PackedIter<'_> {
        PackedIter {
            rest: &self.data,
            left: self.count,
        }
    }

    /// Whether it holds exactly the strings `items` yields.
    pub fn equals<'a>(&self, items: impl ExactSizeIterator<Item = &'a [u8]>) -> bool {
        items.len() == self.count() && self.iter().zip(items).all(|(a, b)| a == b)
    }

    fn heap_bytes(&self) -> usize {
        alloc_size(self.data.len())
    }
}

/// The strings of a [`Packed`], in order.
pub struct PackedIter<'a> {
    rest: &'a [u8],
    left: u32,
}

impl<'a> Iterator for PackedIter<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        if self.left == 0 {
            return None;
        }
        let mut n = 0usize;
        let mut shift = 0;
        let mut i = 0;
        loop {
            let b = *self.rest.get(i)?;
            n |= ((b & 0x7f) as usize) << shift;
            i += 1;
            if b & 0x80 == 0 {
                break;
            }
            shift += 7;
        }
        let s = self.rest.get(i..i + n)?;
        self.rest = &self.rest[i + n..];
        self.left -= 1;
        Some(s)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left as usize, Some(self.left as usize))
    }
}

impl ExactSizeIterator for PackedIter<'_> {}

/// Bytes charged per element of a `BTreeMap<K, V>`: a leaf holds up to 11 elements
/// (plus a parent pointer and two counters) and B-trees grown by appends run about half
/// full, and internal nodes add about a tenth on top.
pub const fn btree_slot<K, V>() -> usize {
    let leaf = 11 * (std::mem::size_of::<K>() + std::mem::size_of::<V>()) + 16;
    leaf * 11 / 10 / 6
}

// ---------------------------------------------------------------------------------------
// Listpack sizes, to model Redis's nodes
// ---------------------------------------------------------------------------------------

/// Bytes an integer takes as a listpack element (encoding and back-length).
pub fn lp_int_size(v: i64) -> usize {
    if (0..=127).contains(&v) {
        2
    } else if (-4096..=4095).contains(&v) {
        3
    } else if (i16::MIN as i64..=i16::MAX as i64).contains(&v) {
        4
    } else if (-(1 << 23)..(1 << 23)).contains(&v) {
        5
    } else if (i32::MIN as i64..=i32::MAX as i64).contains(&v) {
        6
    } else {
        10
    }
}

/// Bytes a string takes as a listpack element: strings that read as integers are
/// stored as integers, as `lpAppend` does.
pub fn lp_str_size(s: &[u8]) -> usize {
    if let Some(v) = crate::value::parse_i64_strict(s) {
        return lp_int_size(v);
    }
    let n = s.len();
    let enc = if n < 64 {
        1 + n
    } else if n < 4096 {
        2 + n
    } else {
        5 + n
    };
    enc + lp_backlen_size(enc)
}

fn lp_backlen_size(l: usize) -> usize {
    if l <= 127 {
        1
    } else if l < 16383 {
        2
    } else if l < 2097151 {
        3
    } else if l < 268435455 {
        4
    } else {
        5
    }
}

/// A listpack's header and terminator.
const LP_EMPTY: usize = 7;

/// One modelled listpack node of Redis's radix tree.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Node {
    /// Live entries.
    pub live: u32,
    /// Entries marked deleted (still in the listpack).
    pub deleted: u32,
    /// The listpack's size in bytes.
    pub bytes: usize,
    /// The ID of the last entry appended (live or not).
    pub last: StreamId,
    /// The master entry's field names.
    pub master_fields: Packed,
}

impl Node {
    fn replace_count(&mut self, old: u32, new: u32) {
        self.bytes = (self.bytes + lp_int_size(new as i64)).saturating_sub(lp_int_size(old as i64));
    }
}

// ---------------------------------------------------------------------------------------
// Consumer groups
// ---------------------------------------------------------------------------------------

/// A pending (delivered, not yet acknowledged) entry of a group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pending {
    /// Unix ms of the last delivery.
    pub delivery_time: u64,
    pub delivery_count: u64,
    /// The consumer owning it.
    pub consumer: Box<[u8]>,
}

/// A consumer of a group.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Consumer {
    /// Unix ms the consumer last did something.
    pub seen_time: u64,
    /// IDs pending for this consumer (each also in the group's PEL).
    pel: BTreeSet<StreamId>,
}

impl Consumer {
    pub fn pel(&self) -> &BTreeSet<StreamId> {
        &self.pel
    }

    pub fn pending_len(&self) -> usize {
        self.pel.len()
    }
}

/// A consumer group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Group {
    pub last_id: StreamId,
    /// Entries read by the group, or [`ENTRIES_READ_UNKNOWN`].
    pub entries_read: i64,
    pel: BTreeMap<StreamId, Pending>,
    consumers: BTreeMap<Box<[u8]>, Consumer>,
    /// Heap bytes owned by the PEL and consumers.
    heap: usize,
}

const PEL_SLOT: usize = btree_slot::<StreamId, Pending>();
const CPEL_SLOT: usize = btree_slot::<StreamId, ()>();
const CONSUMER_SLOT: usize = btree_slot::<Box<[u8]>, Consumer>();

impl Group {
    pub fn new(last_id: StreamId, entries_read: i64) -> Self {
        Group {
            last_id,
            entries_read,
            pel: BTreeMap::new(),
            consumers: BTreeMap::new(),
            heap: 0,
        }
    }

    pub fn pel(&self) -> &BTreeMap<StreamId, Pending> {
        &self.pel
    }

    pub fn consumers(&self) -> &BTreeMap<Box<[u8]>, Consumer> {
        &self.consumers
    }

    pub fn consumer(&self, name: &[u8]) -> Option<&Consumer> {
        self.consumers.get(name)
    }

    pub fn heap_bytes(&self) -> usize {
        self.heap
    }

    /// Creates the consumer if it does not exist; true if it did not.
    pub fn create_consumer(&mut self, name: &[u8], now_ms: u64) -> bool {
        if self.consumers.contains_key(name) {
            return false;
        }
        self.heap += CONSUMER_SLOT + alloc_size(name.len());
        self.consumers.insert(
            name.into(),
            Consumer {
                seen_time: now_ms,
                pel: BTreeSet::new(),
            },
        );
        true
    }

    /// Marks the consumer as seen now, creating it if needed.
    /// Returns true when the consumer was created.
    pub fn touch_consumer(&mut self, name: &[u8], now_ms: u64) -> bool {
        if self.create_consumer(name, now_ms) {
            return true;
        }
        if let Some(c) = self.consumers.get_mut(name) {
            c.seen_time = now_ms;
        }
        false
    }

    /// Deletes a consumer and its pending entries; returns how many it had, or `None`
    /// if there was no such consumer.
    pub fn delete_consumer(&mut self, name: &[u8]) -> Option<usize> {
        let (k, c) = self.consumers.remove_entry(name)?;
        self.heap -= CONSUMER_SLOT + alloc_size(k.len());
        let n = c.pel.len();
        for id in c.pel {
            if let Some(p) = self.pel.remove(&id) {
                self.heap -= PEL_SLOT + alloc_size(p.consumer.len()) + CPEL_SLOT;
            }
        }
        Some(n)
    }

    /// Records a delivery of `id` to `consumer` (which must exist) as XREADGROUP does:
    /// a new pending entry, or one taken over from another consumer with its delivery
    /// count reset to 1.
    pub fn deliver(&mut self, id: StreamId, consumer: &[u8], now_ms: u64) {
        self.set_owner(id, consumer, now_ms, Some(1));
    }

    /// Gives the pending entry `id` to `consumer` (created if needed), creating the
    /// entry if it is not pending (with a delivery count of 1 unless `count` says
    /// otherwise). The delivery time becomes `time`; `count` replaces the delivery
    /// count when given.
    pub fn set_owner(&mut self, id: StreamId, consumer: &[u8], time: u64, count: Option<u64>) {
        if !self.consumers.contains_key(consumer) {
            self.create_consumer(consumer, time);
        }
        match self.pel.get_mut(&id) {
            Some(p) => {
                if &*p.consumer != consumer {
                    let old = std::mem::replace(&mut p.consumer, consumer.into());
                    self.heap = self.heap + alloc_size(consumer.len()) - alloc_size(old.len());
                    if let Some(c) = self.consumers.get_mut(&old) {
                        c.pel.remove(&id);
                    }
                    if let Some(c) = self.consumers.get_mut(consumer) {
                        c.pel.insert(id);
                    }
                }
                p.delivery_time = time;
                if let Some(n) = count {
                    p.delivery_count = n;
                }
            }
            None => {
                self.heap += PEL_SLOT + alloc_size(consumer.len()) + CPEL_SLOT;
                self.pel.insert(
                    id,
                    Pending {
                        delivery_time: time,
                        delivery_count: count.unwrap_or(1),
                        consumer: consumer.into(),
                    },
                );
                if let Some(c) = self.consumers.get_mut(consumer) {
                    c.pel.insert(id);
                }
            }
        }
    }

    /// The pending entry `id`, mutable (delivery time and count only).
    pub fn pending_mut(&mut self, id: StreamId) -> Option<(&mut u64, &mut u64)> {
        self.pel
            .get_mut(&id)
            .map(|p| (&mut p.delivery_time, &mut p.delivery_count))
    }

    /// Acknowledges `id`: removes it from the PEL; true if it was pending.
    pub fn ack(&mut self, id: StreamId) -> bool {
        let Some(p) = self.pel.remove(&id) else {
            return false;
        };
        self.heap -= PEL_SLOT + alloc_size(p.consumer.len()) + CPEL_SLOT;
        if let Some(c) = self.consumers.get_mut(&p.consumer) {
            c.pel.remove(&id);
        }
        true
    }
}

/// Mutable access to one group; charges the group's size change to the stream when
/// dropped.
pub struct GroupMut<'a> {
    group: &'a mut Group,
    total: &'a mut usize,
    before: usize,
}

impl Deref for GroupMut<'_> {
    type Target = Group;
    fn deref(&self) -> &Group {
        self.group
    }
}

impl DerefMut for GroupMut<'_> {
    fn deref_mut(&mut self) -> &mut Group {
        self.group
    }
}

impl Drop for GroupMut<'_> {
    fn drop(&mut self) {
        *self.total = *self.total + self.group.heap - self.before;
    }
}

// ---------------------------------------------------------------------------------------
// The stream
// ---------------------------------------------------------------------------------------

/// How a trim decides what goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trim {
    /// Keep at most this many entries.
    MaxLen(u64),
    /// Remove entries with IDs below this one.
    MinId(StreamId),
}

/// A stream value.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Stream {
    entries: BTreeMap<StreamId, Packed>,
    nodes: BTreeMap<StreamId, Node>,
    last_id: StreamId,
    first_id: StreamId,
    max_deleted_id: StreamId,
    entries_added: u64,
    groups: BTreeMap<Box<[u8]>, Group>,
    /// Heap bytes of entries and nodes.
    heap: usize,
    /// Heap bytes of the groups (their map slots, names and contents).
    groups_heap: usize,
}

const ENTRY_SLOT: usize = btree_slot::<StreamId, Packed>();
const NODE_SLOT: usize = btree_slot::<StreamId, Node>();
const GROUP_SLOT: usize = btree_slot::<Box<[u8]>, Group>();

impl Stream {
    pub fn new() -> Self {
        Stream::default()
    }

    /// Live entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The name `OBJECT ENCODING` reports.
    pub fn encoding(&self) -> &'static str {
        "stream"
    }

    /// Heap bytes owned, rounded to allocator size classes.
    pub fn heap_bytes(&self) -> usize {
        self.heap + self.groups_heap
    }

    pub fn last_id(&self) -> StreamId {
        self.last_id
    }

    /// The first entry's ID as Redis records it (0-0 when empty).
    pub fn first_id(&self) -> StreamId {
        self.first_id
    }

    pub fn max_deleted_id(&self) -> StreamId {
        self.max_deleted_id
    }

    pub fn entries_added(&self) -> u64 {
        self.entries_added
    }

    /// The ID of the last live entry (0-0 when empty), Redis's `streamLastValidID`.
    pub fn last_valid_id(&self) -> StreamId {
        self.entries
            .last_key_value()
            .map(|(k, _)| *k)
            .unwrap_or_default()
    }

    /// The modelled listpack nodes, by master ID.
    pub fn nodes(&self) -> &BTreeMap<StreamId, Node> {
        &self.nodes
    }

    /// Sets the metadata a snapshot or XSETID carries.
    pub fn set_meta(
        &mut self,
        last_id: StreamId,
        first_id: Option<StreamId>,
        max_deleted_id: StreamId,
        entries_added: u64,
    ) {
        self.last_id = last_id;
        if let Some(f) = first_id {
            self.first_id = f;
        }
        self.max_deleted_id = max_deleted_id;
        self.entries_added = entries_added;
    }

    pub fn set_last_id(&mut self, id: StreamId) {
        self.last_id = id;
    }

    pub fn set_entries_added(&mut self, n: u64) {
        self.entries_added = n;
    }

    pub fn set_max_deleted_id(&mut self, id: StreamId) {
        self.max_deleted_id = id;
    }

    /// The ID XADD `*` would give at `now_ms`, or `None` once the last ID is the
    /// largest possible.
    pub fn next_auto_id(&self, now_ms: u64) -> Option<StreamId> {
        if now_ms > self.last_id.ms {
            Some(StreamId::new(now_ms, 0))
        } else {
            self.last_id.next()
        }
    }

    pub fn get(&self, id: StreamId) -> Option<&Packed> {
        self.entries.get(&id)
    }

    pub fn contains(&self, id: StreamId) -> bool {
        self.entries.contains_key(&id)
    }

    /// Entries with `start <= id <= end`, in order (reversible).
    pub fn range(
        &self,
        start: StreamId,
        end: StreamId,
    ) -> impl DoubleEndedIterator<Item = (&StreamId, &Packed)> {
        let r = if start <= end {
            Some(self.entries.range(start..=end))
        } else {
            None
        };
        r.into_iter().flatten()
    }

    /// Calls `f` with every entry from `start` on, in order, until it returns false.
    pub fn for_each_in(
        &self,
        start: StreamId,
        end: StreamId,
        mut f: impl FnMut(StreamId, &Packed) -> bool,
    ) {
        for (id, p) in self.range(start, end) {
            if !f(*id, p) {
                break;
            }
        }
    }

    /// Appends an entry with the given flat field-value list. `id` must be greater than
    /// the last ID; returns false (and changes nothing) otherwise.
    pub fn append(&mut self, id: StreamId, fields: &[&[u8]]) -> bool {
        if id <= self.last_id {
            return false;
        }
        let pairs = fields.len() / 2;
        let names = || fields.iter().step_by(2).copied();
        let values = || fields.iter().skip(1).step_by(2).copied();
        let total: usize = fields.iter().map(|f| f.len()).sum();
        // Redis starts a new node when the tail one would pass its byte budget or holds
        // its quota of entries (live and deleted).
        let tail = self.nodes.last_key_value().and_then(|(k, n)| {
            let full = n.bytes + total >= NODE_MAX_BYTES
                || (n.live + n.deleted) as usize >= NODE_MAX_ENTRIES;
            (!full).then_some(*k)
        });
        let (master, same) = match tail {
            Some(k) => {
                let node = self.nodes.get_mut(&k).expect("tail node exists");
                let same = node.master_fields.equals(names());
                node.replace_count(node.live, node.live + 1);
                node.live += 1;
                (k, same)
            }
            None => {
                let master_fields = Packed::new(names());
                let mut bytes = LP_EMPTY + lp_int_size(1) + lp_int_size(0);
                bytes += lp_int_size(pairs as i64);
                bytes += names().map(lp_str_size).sum::<usize>();
                bytes += lp_int_size(0);
                self.heap += NODE_SLOT + master_fields.heap_bytes();
                self.nodes.insert(
                    id,
                    Node {
                        live: 1,
                        deleted: 0,
                        bytes,
                        last: id,
                        master_fields,
                    },
                );
                (id, true)
            }
        };
        let node = self.nodes.get_mut(&master).expect("node exists");
        let mut add = lp_int_size(if same { 2 } else { 0 });
        add += lp_int_size(id.ms.wrapping_sub(master.ms) as i64);
        add += lp_int_size(id.seq.wrapping_sub(master.seq) as i64);
        let mut lp_count = pairs + 3;
        if !same {
            add += lp_int_size(pairs as i64);
            add += names().map(lp_str_size).sum::<usize>();
            lp_count += pairs + 1;
        }
        add += values().map(lp_str_size).sum::<usize>();
        add += lp_int_size(lp_count as i64);
        node.bytes += add;
        node.last = id;

        let packed = Packed::new(fields.iter().copied());
        self.heap += ENTRY_SLOT + packed.heap_bytes();
        self.entries.insert(id, packed);
        self.entries_added += 1;
        self.last_id = id;
        if self.entries.len() == 1 {
            self.first_id = id;
        }
        true
    }

    /// Adds a node as a snapshot holds it: its master ID and fields, its live entries
    /// (in order, all above the stream's entries so far), how many deleted entries it
    /// still holds, the ID of its last entry (live or deleted) and its size in bytes.
    /// The node is kept as it was, so later appends and approximate trims go on as they
    /// would in Redis. Returns false (changing nothing) when the entries are out of
    /// order or outside the node.
    pub fn load_node(
        &mut self,
        master: StreamId,
        master_fields: &[&[u8]],
        entries: &[(StreamId, Vec<&[u8]>)],
        deleted: u32,
        last: StreamId,
        bytes: usize,
    ) -> bool {
        let after_nodes = self
            .nodes
            .last_key_value()
            .is_none_or(|(_, n)| n.last < master);
        let in_order = entries.windows(2).all(|w| w[0].0 < w[1].0);
        let inside = entries.iter().all(|(id, _)| {
            *id >= master && *id <= last && (self.is_empty() || *id > self.last_valid_id())
        });
        if !after_nodes || !in_order || !inside || master > last || entries.is_empty() {
            return false;
        }
        let master_fields = Packed::new(master_fields.iter().copied());
        self.heap += NODE_SLOT + master_fields.heap_bytes();
        self.nodes.insert(
            master,
            Node {
                live: entries.len() as u32,
                deleted,
                bytes,
                last,
                master_fields,
            },
        );
        for (id, fields) in entries {
            let packed = Packed::new(fields.iter().copied());
            self.heap += ENTRY_SLOT + packed.heap_bytes();
            self.entries.insert(*id, packed);
            if self.entries.len() == 1 {
                self.first_id = *id;
            }
        }
        self.entries_added += entries.len() as u64;
        self.last_id = self.last_id.max(last);
        true
    }

    /// The node holding `id`, by master ID.
    fn node_of(&self, id: StreamId) -> Option<StreamId> {
        self.nodes.range(..=id).next_back().map(|(k, _)| *k)
    }

    /// Removes one entry from the entries map, charging it.
    fn drop_entry(&mut self, id: StreamId) -> bool {
        match self.entries.remove(&id) {
            Some(p) => {
                self.heap -= ENTRY_SLOT + p.heap_bytes();
                true
            }
            None => false,
        }
    }

    fn drop_node(&mut self, master: StreamId) {
        if let Some(n) = self.nodes.remove(&master) {
            self.heap -= NODE_SLOT + n.master_fields.heap_bytes();
        }
    }

    /// Deletes an entry as XDEL does (the max deleted ID and first ID follow); true if
    /// it existed.
    pub fn delete(&mut self, id: StreamId) -> bool {
        if !self.drop_entry(id) {
            return false;
        }
        if let Some(master) = self.node_of(id) {
            let node = self.nodes.get_mut(&master).expect("node exists");
            if node.live <= 1 {
                self.drop_node(master);
            } else {
                node.replace_count(node.live, node.live - 1);
                node.replace_count(node.deleted, node.deleted + 1);
                node.live -= 1;
                node.deleted += 1;
            }
        }
        if id > self.max_deleted_id {
            self.max_deleted_id = id;
        }
        if self.entries.is_empty() {
            self.first_id = StreamId::MIN;
        } else if id == self.first_id {
            self.first_id = self.first_key();
        }
        true
    }

    fn first_key(&self) -> StreamId {
        self.entries
            .first_key_value()
            .map(|(k, _)| *k)
            .unwrap_or_default()
    }

    /// Trims as Redis's `streamTrim` does; `approx` removes whole nodes only, `limit`
    /// (0: none) caps the entries removed. Returns how many entries were removed.
    pub fn trim(&mut self, how: Trim, approx: bool, limit: u64) -> u64 {
        let mut deleted: u64 = 0;
        let mut after: Option<StreamId> = None;
        loop {
            // The next node, found from the previous one (no walk over all nodes: XADD
            // with MAXLEN trims on every call).
            let next = match after {
                None => self.nodes.keys().next(),
                Some(a) => self
                    .nodes
                    .range((Bound::Excluded(a), Bound::Unbounded))
                    .map(|(k, _)| k)
                    .next(),
            };
            let Some(&master) = next else {
                break;
            };
            after = Some(master);
            if let Trim::MaxLen(max) = how {
                if self.entries.len() as u64 <= max {
                    break;
                }
            }
            let Some(node) = self.nodes.get(&master) else {
                continue;
            };
            let live = node.live as u64;
            if limit != 0 && deleted + live > limit {
                break;
            }
            let remove_node = match how {
                Trim::MaxLen(max) => self.entries.len() as u64 - live >= max,
                Trim::MinId(min) => node.last < min,
            };
            let last = node.last;
            if remove_node {
                let ids: Vec<StreamId> =
                    self.entries.range(master..=last).map(|(k, _)| *k).collect();
                for id in ids {
                    self.drop_entry(id);
                }
                self.drop_node(master);
                deleted += live;
                continue;
            }
            if approx {
                break;
            }
            // Remove entries from within this node, then stop.
            let mut removed: u32 = 0;
            let ids: Vec<StreamId> = self.entries.range(master..=last).map(|(k, _)| *k).collect();
            for id in ids {
                let stop = match how {
                    Trim::MaxLen(max) => self.entries.len() as u64 <= max,
                    Trim::MinId(min) => id >= min,
                };
                if stop {
                    break;
                }
                self.drop_entry(id);
                removed += 1;
            }
            if let Some(node) = self.nodes.get_mut(&master) {
                node.replace_count(node.live, node.live - removed);
                node.replace_count(node.deleted, node.deleted + removed);
                node.live -= removed;
                node.deleted += removed;
            }
            deleted += removed as u64;
            break;
        }
        self.first_id = self.first_key();
        deleted
    }

    // ---- consumer groups ----

    pub fn groups(&self) -> &BTreeMap<Box<[u8]>, Group> {
        &self.groups
    }

    pub fn group(&self, name: &[u8]) -> Option<&Group> {
        self.groups.get(name)
    }

    pub fn group_mut(&mut self, name: &[u8]) -> Option<GroupMut<'_>> {
        let group = self.groups.get_mut(name)?;
        let before = group.heap;
        Some(GroupMut {
            group,
            total: &mut self.groups_heap,
            before,
        })
    }

    /// The entries and one group, mutable, at once (XREADGROUP reads the first and
    /// updates the second).
    pub fn with_group(&mut self, name: &[u8]) -> Option<(StreamView<'_>, GroupMut<'_>)> {
        let group = self.groups.get_mut(name)?;
        let before = group.heap;
        Some((
            StreamView {
                entries: &self.entries,
                last_id: self.last_id,
                first_id: self.first_id,
                max_deleted_id: self.max_deleted_id,
                entries_added: self.entries_added,
            },
            GroupMut {
                group,
                total: &mut self.groups_heap,
                before,
            },
        ))
    }

    /// Creates a group; false if one of that name exists.
    pub fn create_group(&mut self, name: &[u8], last_id: StreamId, entries_read: i64) -> bool {
        if self.groups.contains_key(name) {
            return false;
        }
        self.groups_heap += GROUP_SLOT + alloc_size(name.len());
        self.groups
            .insert(name.into(), Group::new(last_id, entries_read));
        true
    }

    /// Adds a group as read from a snapshot (replacing one of the same name).
    pub fn load_group(&mut self, name: &[u8], group: Group) {
        self.destroy_group(name);
        self.groups_heap += GROUP_SLOT + alloc_size(name.len()) + group.heap;
        self.groups.insert(name.into(), group);
    }

    pub fn destroy_group(&mut self, name: &[u8]) -> bool {
        match self.groups.remove_entry(name) {
            Some((k, g)) => {
                self.groups_heap -= GROUP_SLOT + alloc_size(k.len()) + g.heap;
                true
            }
            None => false,
        }
    }

    fn view(&self) -> StreamView<'_> {
        StreamView {
            entries: &self.entries,
            last_id: self.last_id,
            first_id: self.first_id,
            max_deleted_id: self.max_deleted_id,
            entries_added: self.entries_added,
        }
    }

    /// Redis's `streamEstimateDistanceFromFirstEverEntry`.
    pub fn estimate_distance(&self, id: StreamId) -> i64 {
        self.view().estimate_distance(id)
    }

    /// Redis's `streamRangeHasTombstones` from `start` to the end.
    pub fn has_tombstones_from(&self, start: StreamId) -> bool {
        self.view().has_tombstones_from(start)
    }

    /// A group's lag, as XINFO reports it (`None`: unknown).
    pub fn lag(&self, g: &Group) -> Option<i64> {
        if self.entries_added == 0 {
            return Some(0);
        }
        if g.entries_read != ENTRIES_READ_UNKNOWN && !self.has_tombstones_from(g.last_id) {
            return Some(self.entries_added as i64 - g.entries_read);
        }
        let read = self.estimate_distance(g.last_id);
        (read != ENTRIES_READ_UNKNOWN).then(|| self.entries_added as i64 - read)
    }

    /// Recomputes the accounting from scratch (tests compare it with the running one).
    pub fn recount_heap(&self) -> usize {
        let mut h = 0;
        for p in self.entries.values() {
            h += ENTRY_SLOT + p.heap_bytes();
        }
        for n in self.nodes.values() {
            h += NODE_SLOT + n.master_fields.heap_bytes();
        }
        for (k, g) in &self.groups {
            h += GROUP_SLOT + alloc_size(k.len());
            for p in g.pel.values() {
                h += PEL_SLOT + alloc_size(p.consumer.len()) + CPEL_SLOT;
            }
            for k in g.consumers.keys() {
                h += CONSUMER_SLOT + alloc_size(k.len());
            }
        }
        h
    }
}

/// The entries and metadata of a stream, read-only, beside a mutable group.
pub struct StreamView<'a> {
    entries: &'a BTreeMap<StreamId, Packed>,
    pub last_id: StreamId,
    pub first_id: StreamId,
    pub max_deleted_id: StreamId,
    pub entries_added: u64,
}

impl<'a> StreamView<'a> {
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn get(&self, id: StreamId) -> Option<&'a Packed> {
        self.entries.get(&id)
    }

    pub fn range(
        &self,
        start: StreamId,
        end: StreamId,
    ) -> impl Iterator<Item = (&'a StreamId, &'a Packed)> {
        let r = if start <= end {
            Some(
                self.entries
                    .range((Bound::Included(start), Bound::Included(end))),
            )
        } else {
            None
        };
        r.into_iter().flatten()
    }

    /// The ID of the last live entry (0-0 when empty).
    pub fn last_valid_id(&self) -> StreamId {
        self.entries
            .last_key_value()
            .map(|(k, _)| *k)
            .unwrap_or_default()
    }

    pub fn has_tombstones_from(&self, start: StreamId) -> bool {
        if self.entries.is_empty() || self.max_deleted_id.is_zero() {
            return false;
        }
        if self.first_id > self.max_deleted_id {
            return false;
        }
        start <= self.max_deleted_id
    }

    pub fn estimate_distance(&self, id: StreamId) -> i64 {
        if self.entries_added == 0 {
            return 0;
        }
        let len = self.entries.len() as u64;
        if len == 0 && id <= self.last_id {
            return self.entries_added as i64;
        }
        if id == self.last_id {
            return self.entries_added as i64;
        } else if id > self.last_id {
            return ENTRIES_READ_UNKNOWN;
        }
        if self.max_deleted_id.is_zero() || self.max_deleted_id < self.first_id {
            if id < self.first_id {
                return (self.entries_added - len) as i64;
            } else if id == self.first_id {
                return (self.entries_added - len + 1) as i64;
            }
        }
        ENTRIES_READ_UNKNOWN
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn id(ms: u64, seq: u64) -> StreamId {
        StreamId::new(ms, seq)
    }

    fn add(s: &mut Stream, i: StreamId, f: &[&str]) -> bool {
        let v: Vec<&[u8]> = f.iter().map(|x| x.as_bytes()).collect();
        s.append(i, &v)
    }

    #[test]
    fn ids_order_and_step() {
        assert!(id(1, 5) < id(2, 0));
        assert_eq!(id(1, u64::MAX).next(), Some(id(2, 0)));
        assert_eq!(StreamId::MAX.next(), None);
        assert_eq!(id(2, 0).prev(), Some(id(1, u64::MAX)));
        assert_eq!(StreamId::MIN.prev(), None);
        assert_eq!(id(12, 3).to_bytes(), b"12-3");
    }

    #[test]
    fn packed_round_trip() {
        let long = vec![b'x'; 300];
        let p = Packed::new([&b"a"[..], b"", &long]);
        let got: Vec<&[u8]> = p.iter().collect();
        assert_eq!(got, vec![&b"a"[..], b"", &long[..]]);
        assert_eq!(p.count(), 3);
        assert!(p.equals([&b"a"[..], b"", &long[..]].into_iter()));
        assert!(!p.equals([&b"a"[..], b""].into_iter()));
    }

    #[test]
    fn append_delete_and_meta() {
        let mut s = Stream::new();
        assert!(add(&mut s, id(1, 1), &["a", "1"]));
        assert!(!add(&mut s, id(1, 1), &["a", "1"]));
        assert!(!add(&mut s, id(1, 0), &["a", "1"]));
        assert!(add(&mut s, id(2, 0), &["a", "2", "b", "3"]));
        assert_eq!(s.len(), 2);
        assert_eq!(s.first_id(), id(1, 1));
        assert_eq!(s.last_id(), id(2, 0));
        assert!(s.delete(id(1, 1)));
        assert!(!s.delete(id(1, 1)));
        assert_eq!(s.first_id(), id(2, 0));
        assert_eq!(s.max_deleted_id(), id(1, 1));
        assert!(s.delete(id(2, 0)));
        assert_eq!(s.first_id(), StreamId::MIN);
        assert_eq!(s.entries_added(), 2);
        assert!(s.nodes().is_empty());
        assert_eq!(s.heap_bytes(), s.recount_heap());
    }

    #[test]
    fn nodes_split_at_the_entry_quota() {
        let mut s = Stream::new();
        for i in 1..=250 {
            assert!(add(&mut s, id(i, 0), &["f", "v"]));
        }
        assert_eq!(s.nodes().len(), 3);
        // Approximate trimming removes whole nodes only.
        assert_eq!(s.trim(Trim::MaxLen(120), true, 0), 100);
        assert_eq!(s.len(), 150);
        assert_eq!(s.trim(Trim::MaxLen(120), false, 0), 30);
        assert_eq!(s.len(), 120);
        assert_eq!(s.first_id(), id(131, 0));
        assert_eq!(s.trim(Trim::MinId(id(240, 0)), false, 0), 109);
        assert_eq!(s.first_id(), id(240, 0));
        assert_eq!(s.heap_bytes(), s.recount_heap());
    }

    #[test]
    fn groups_and_pel() {
        let mut s = Stream::new();
        add(&mut s, id(1, 0), &["a", "1"]);
        add(&mut s, id(2, 0), &["a", "1"]);
        assert!(s.create_group(b"g", StreamId::MIN, 0));
        assert!(!s.create_group(b"g", StreamId::MIN, 0));
        {
            let mut g = s.group_mut(b"g").expect("group");
            g.create_consumer(b"alice", 10);
            g.deliver(id(1, 0), b"alice", 10);
            g.deliver(id(2, 0), b"alice", 10);
            g.create_consumer(b"bob", 11);
            g.deliver(id(2, 0), b"bob", 12);
            assert_eq!(g.consumer(b"alice").map(|c| c.pending_len()), Some(1));
            assert_eq!(g.pel().len(), 2);
            assert!(g.ack(id(1, 0)));
            assert!(!g.ack(id(1, 0)));
            assert_eq!(g.delete_consumer(b"bob"), Some(1));
            assert!(g.pel().is_empty());
        }
        assert_eq!(s.heap_bytes(), s.recount_heap());
        assert!(s.destroy_group(b"g"));
        assert_eq!(s.heap_bytes(), s.recount_heap());
    }

    #[test]
    fn nodes_load_as_they_were() {
        let mut s = Stream::new();
        let e = |ms: u64| (id(ms, 0), vec![&b"f"[..], b"v"]);
        assert!(s.load_node(id(1, 0), &[b"f"], &[e(2), e(5)], 3, id(6, 0), 200));
        // Out of order, overlapping, or outside the node: refused, nothing changed.
        assert!(!s.load_node(id(3, 0), &[b"f"], &[e(7)], 0, id(7, 0), 50));
        assert!(!s.load_node(id(8, 0), &[b"f"], &[e(9), e(9)], 0, id(9, 0), 50));
        assert!(!s.load_node(id(8, 0), &[b"f"], &[e(10)], 0, id(9, 0), 50));
        assert!(s.load_node(id(8, 0), &[b"f"], &[e(8)], 0, id(8, 0), 50));
        assert_eq!(s.len(), 3);
        assert_eq!(s.nodes().len(), 2);
        assert_eq!(
            s.nodes()
                .get(&id(1, 0))
                .map(|n| (n.live, n.deleted, n.bytes)),
            Some((2, 3, 200))
        );
        assert_eq!(s.first_id(), id(2, 0));
        assert_eq!(s.heap_bytes(), s.recount_heap());
        // Appends go to the tail node while it has room.
        assert!(add(&mut s, id(20, 0), &["f", "v"]));
        assert_eq!(s.nodes().len(), 2);
    }

    #[derive(Debug, Clone)]
    enum Op {
        Add(u8, u8),
        Del(u16),
        TrimLen(u16, bool),
        TrimMin(u16, bool),
        Deliver(u16, u8),
        Ack(u16),
        DelConsumer(u8),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => (any::<u8>(), 0u8..4).prop_map(|(a, b)| Op::Add(a, b)),
            1 => any::<u16>().prop_map(Op::Del),
            1 => (any::<u16>(), any::<bool>()).prop_map(|(a, b)| Op::TrimLen(a % 300, b)),
            1 => (any::<u16>(), any::<bool>()).prop_map(|(a, b)| Op::TrimMin(a, b)),
            1 => (any::<u16>(), 0u8..3).prop_map(|(a, b)| Op::Deliver(a, b)),
            1 => any::<u16>().prop_map(Op::Ack),
            1 => (0u8..3).prop_map(Op::DelConsumer),
        ]
    }

    proptest! {
        /// Against a plain ordered map: the same entries survive every operation, and the
        /// running accounting always equals a recount.
        #[test]
        fn behaves_like_a_model(ops in proptest::collection::vec(op(), 1..400)) {
            let mut s = Stream::new();
            s.create_group(b"g", StreamId::MIN, 0);
            let mut model: BTreeMap<StreamId, Vec<Vec<u8>>> = BTreeMap::new();
            let mut next = 1u64;
            for o in ops {
                match o {
                    Op::Add(len, nf) => {
                        let v = vec![b'v'; len as usize * 20];
                        let mut f: Vec<&[u8]> = Vec::new();
                        let names = [&b"a"[..], b"b", b"c", b"d"];
                        for n in names.iter().take(nf as usize + 1) {
                            f.push(n);
                            f.push(&v);
                        }
                        let i = id(next, 0);
                        next += 1;
                        prop_assert!(s.append(i, &f));
                        model.insert(i, f.iter().map(|x| x.to_vec()).collect());
                    }
                    Op::Del(k) => {
                        let i = id(k as u64 % (next + 1), 0);
                        prop_assert_eq!(s.delete(i), model.remove(&i).is_some());
                    }
                    Op::TrimLen(max, approx) => {
                        let before = model.len();
                        let n = s.trim(Trim::MaxLen(max as u64), approx, 0);
                        for _ in 0..n {
                            let k = *model.keys().next().expect("model entry");
                            model.remove(&k);
                        }
                        prop_assert_eq!(before - n as usize, model.len());
                        if !approx {
                            prop_assert!(model.len() <= max as usize);
                        }
                    }
                    Op::TrimMin(m, approx) => {
                        let min = id(m as u64 % (next + 1), 0);
                        let n = s.trim(Trim::MinId(min), approx, 0);
                        for _ in 0..n {
                            let k = *model.keys().next().expect("model entry");
                            prop_assert!(k < min);
                            model.remove(&k);
                        }
                        if !approx {
                            prop_assert!(model.keys().next().is_none_or(|k| *k >= min));
                        }
                    }
                    Op::Deliver(k, c) => {
                        let i = id(k as u64 % (next + 1), 0);
                        let mut g = s.group_mut(b"g").expect("group");
                        let name = [b'c', b'0' + c];
                        g.touch_consumer(&name, 5);
                        g.deliver(i, &name, 5);
                    }
                    Op::Ack(k) => {
                        let i = id(k as u64 % (next + 1), 0);
                        let mut g = s.group_mut(b"g").expect("group");
                        g.ack(i);
                    }
                    Op::DelConsumer(c) => {
                        let mut g = s.group_mut(b"g").expect("group");
                        g.delete_consumer(&[b'c', b'0' + c]);
                    }
                }
                prop_assert_eq!(s.len(), model.len());
                prop_assert_eq!(s.heap_bytes(), s.recount_heap());
                let live: u32 = s.nodes().values().map(|n| n.live).sum();
                prop_assert_eq!(live as usize, s.len());
                let g = s.group(b"g").expect("group");
                let owned: usize = g.consumers().values().map(|c| c.pending_len()).sum();
                prop_assert_eq!(owned, g.pel().len());
            }
            let got: Vec<(StreamId, Vec<Vec<u8>>)> = s
                .range(StreamId::MIN, StreamId::MAX)
                .map(|(k, p)| (*k, p.iter().map(|x| x.to_vec()).collect()))
                .collect();
            let want: Vec<(StreamId, Vec<Vec<u8>>)> = model.into_iter().collect();
            prop_assert_eq!(got, want);
        }
    }
}
