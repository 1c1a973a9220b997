//! Tags on keys (a MiniRedis extension): the index of one logical database's part
//! inside one shard.
//!
//! A key may carry any number of tags (short byte strings); `TAG INVALIDATE` removes
//! every key of a tag at once. The index lives beside the table it describes, in the
//! same [`crate::keyspace`] shard, under the same lock: it is consistent with the keys
//! without any lock of its own, and a command holding the shards of its keys sees both
//! change together.
//!
//! # Cost when nobody tags
//!
//! An index is created on the first tag of its part and dropped with its last, so an
//! untagged part pays one null pointer. Every entry carries a `tagged` bit (in the
//! padding of [`crate::Entry`], which stays 64 bytes): every path that removes a key
//! (DEL, overwrite, lazy and active expiry, eviction) tests that bit of the entry it
//! already holds, and only a tagged key costs an index update, O(tags of the key).
//!
//! # Layout
//!
//! * `by_key`: key -> its tags, in the order they were added (what `TAG GET` lists).
//! * `by_tag`: tag -> its keys, ordered by `(hash of the key, key)`. Ordering by hash
//!   gives `TAG SCAN` a cursor that is a position in hash space, like the keyspace's
//!   SCAN: keys present for a whole scan are returned exactly once.
//!
//! Key and tag strings are stored once each, as `Arc<[u8]>` shared by both maps.
//!
//! # Memory accounting
//!
//! The index's bytes are charged to the part like its entries ([`TagIndex::bytes`]):
//! each key and tag string as the allocator rounds it (plus the `Arc` header), a map
//! slot per key and per tag, a key's tag list by its capacity, and a fixed share of a
//! B-tree node per (tag, key) link. The figure is a pure function of the index's shape,
//! so [`TagIndex::recount`] can audit the running total.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use crate::value::alloc_size;

/// A shared key or tag string.
pub type Name = Arc<[u8]>;

type Map<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// Bytes charged for one slot of `by_key` or `by_tag`: a 16-byte `Arc` and a 24-byte
/// collection, one control byte, at hashbrown's 7/8 load.
const SLOT: usize = 48;
/// A tag's key set starts with one B-tree leaf (11 links of 24 bytes and the header).
const LEAF: usize = 320;
/// Bytes charged per (tag, key) link in a tag's key set: its 24-byte element in
/// B-tree nodes kept about two-thirds full.
const LINK: usize = 32;

/// What an `Arc<[u8]>` of `n` bytes occupies (two counters, then the bytes).
#[inline]
fn name_bytes(n: usize) -> usize {
    alloc_size(16 + n)
}

/// What a key's tag list of capacity `cap` occupies.
#[inline]
fn list_bytes(cap: usize) -> usize {
    alloc_size(cap * std::mem::size_of::<Name>())
}

/// The tag index of one logical database's part of one shard. See the module docs.
#[derive(Default, Debug)]
pub struct TagIndex {
    by_key: Map<Name, Vec<Name>>,
    by_tag: Map<Name, BTreeSet<(u64, Name)>>,
    bytes: usize,
}

impl TagIndex {
    /// Bytes charged for the index (see the module docs).
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Whether no key carries a tag.
    pub fn is_empty(&self) -> bool {
        self.by_key.is_empty()
    }

    /// The tags of `key`, in the order they were added (empty if it has none).
    pub fn tags_of(&self, key: &[u8]) -> &[Name] {
        self.by_key.get(key).map_or(&[], Vec::as_slice)
    }

    /// The keys of `tag` in this part, as `(hash, key)` in hash order.
    pub fn keys_of(&self, tag: &[u8]) -> Option<&BTreeSet<(u64, Name)>> {
        self.by_tag.get(tag)
    }

    /// Every tag that has keys here, with its key count.
    pub fn tags(&self) -> impl Iterator<Item = (&Name, usize)> {
        self.by_tag.iter().map(|(t, s)| (t, s.len()))
    }

    /// Links `tag` to `key` (whose hash is `h`); false if it was already linked.
    pub fn add(&mut self, key: &[u8], h: u64, tag: &[u8]) -> bool {
        let key_name = match self.by_key.get_key_value(key) {
            Some((k, list)) => {
                if list.iter().any(|t| &t[..] == tag) {
                    return false;
                }
                k.clone()
            }
            None => {
                let k: Name = key.into();
                self.bytes += SLOT + name_bytes(key.len());
                self.by_key.insert(k.clone(), Vec::new());
                k
            }
        };
        let tag_name = match self.by_tag.get_key_value(tag) {
            Some((t, _)) => t.clone(),
            None => {
                let t: Name = tag.into();
                self.bytes += SLOT + LEAF + name_bytes(tag.len());
                self.by_tag.insert(t.clone(), BTreeSet::new());
                t
            }
        };
        if let Some(set) = self.by_tag.get_mut(tag) {
            set.insert((h, key_name));
            self.bytes += LINK;
        }
        if let Some(list) = self.by_key.get_mut(key) {
            let before = list_bytes(list.capacity());
            list.push(tag_name);
            self.bytes = self.bytes + list_bytes(list.capacity()) - before;
        }
        true
    }

    /// Unlinks `tag` from `key`; false if they were not linked.
    pub fn remove(&mut self, key: &[u8], h: u64, tag: &[u8]) -> bool {
        let Some((key_name, list)) = self.by_key.get_key_value(key) else {
            return false;
        };
        let Some(pos) = list.iter().position(|t| &t[..] == tag) else {
            return false;
        };
        let key_name = key_name.clone();
        self.unlink_from_tag(tag, h, &key_name);
        let mut emptied = false;
        if let Some(list) = self.by_key.get_mut(key) {
            list.remove(pos);
            emptied = list.is_empty();
        }
        if emptied {
            self.forget_key(key);
        }
        true
    }

    /// Removes every tag of `key`, returning them in the order they were added.
    pub fn take_key(&mut self, key: &[u8], h: u64) -> Vec<Name> {
        let Some((key_name, list)) = self.by_key.remove_entry(key) else {
            return Vec::new();
        };
        self.bytes -= SLOT + name_bytes(key.len()) + list_bytes(list.capacity());
        for t in &list {
            self.unlink_from_tag(t, h, &key_name);
        }
        list
    }

    /// Removes every tag of `key` (a key that leaves the keyspace).
    #[inline]
    pub fn drop_key(&mut self, key: &[u8], h: u64) {
        self.take_key(key, h);
    }

    /// Removes the link from `tag`'s key set (and the tag, if that was its last key).
    fn unlink_from_tag(&mut self, tag: &[u8], h: u64, key: &Name) {
        let Some(set) = self.by_tag.get_mut(tag) else {
            return;
        };
        if set.remove(&(h, key.clone())) {
            self.bytes -= LINK;
        }
        if set.is_empty() {
            self.by_tag.remove(tag);
            self.bytes -= SLOT + LEAF + name_bytes(tag.len());
        }
    }

    fn forget_key(&mut self, key: &[u8]) {
        if let Some(list) = self.by_key.remove(key) {
            self.bytes -= SLOT + name_bytes(key.len()) + list_bytes(list.capacity());
        }
    }

    /// The charge recomputed from the index's shape; equals [`TagIndex::bytes`] unless
    /// the running total is wrong. For audits (O(size)).
    pub fn recount(&self) -> usize {
        let keys: usize = self
            .by_key
            .iter()
            .map(|(k, l)| SLOT + name_bytes(k.len()) + list_bytes(l.capacity()))
            .sum();
        let tags: usize = self
            .by_tag
            .iter()
            .map(|(t, s)| SLOT + LEAF + name_bytes(t.len()) + LINK * s.len())
            .sum();
        keys + tags
    }

    /// Panics unless both directions of the index agree and the byte total is right.
    /// For audits (O(size)).
    pub fn check(&self) {
        let mut links = 0;
        for (k, list) in &self.by_key {
            assert!(!list.is_empty(), "a key with an empty tag list");
            for t in list {
                let set = self.by_tag.get(&t[..]).expect("tag of a key is indexed");
                assert!(
                    set.iter().any(|(_, x)| x == k),
                    "tag's key set misses the key"
                );
                links += 1;
            }
        }
        let total: usize = self.by_tag.values().map(BTreeSet::len).sum();
        assert_eq!(links, total, "links differ between the two directions");
        assert_eq!(self.recount(), self.bytes, "tag index bytes");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::hash_key;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    #[test]
    fn add_remove_take() {
        let mut ix = TagIndex::default();
        let (ha, hb) = (hash_key(b"a"), hash_key(b"b"));
        assert!(ix.add(b"a", ha, b"t1"));
        assert!(!ix.add(b"a", ha, b"t1"));
        assert!(ix.add(b"a", ha, b"t2"));
        assert!(ix.add(b"b", hb, b"t1"));
        ix.check();
        let tags: Vec<&[u8]> = ix.tags_of(b"a").iter().map(|t| &t[..]).collect();
        assert_eq!(tags, [&b"t1"[..], b"t2"]);
        assert_eq!(ix.keys_of(b"t1").map(BTreeSet::len), Some(2));
        assert!(ix.remove(b"a", ha, b"t1"));
        assert!(!ix.remove(b"a", ha, b"t1"));
        assert!(!ix.remove(b"zz", 1, b"t1"));
        ix.check();
        let taken: Vec<Vec<u8>> = ix.take_key(b"a", ha).iter().map(|t| t.to_vec()).collect();
        assert_eq!(taken, [b"t2".to_vec()]);
        assert!(ix.keys_of(b"t2").is_none(), "a tag goes with its last key");
        ix.drop_key(b"b", hb);
        assert!(ix.is_empty());
        assert_eq!(ix.bytes(), 0);
        ix.check();
    }

    #[derive(Clone, Debug)]
    enum Op {
        Add(u8, u8),
        Remove(u8, u8),
        Drop(u8),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (0u8..12, 0u8..6).prop_map(|(k, t)| Op::Add(k, t)),
            (0u8..12, 0u8..6).prop_map(|(k, t)| Op::Remove(k, t)),
            (0u8..12).prop_map(Op::Drop),
        ]
    }

    proptest! {
        /// The index against a map of key -> ordered tags.
        #[test]
        fn index_matches_a_model(ops in proptest::collection::vec(op(), 1..200)) {
            let mut ix = TagIndex::default();
            let mut model: BTreeMap<Vec<u8>, Vec<Vec<u8>>> = BTreeMap::new();
            for o in ops {
                match o {
                    Op::Add(k, t) => {
                        let (k, t) = (format!("k{k}").into_bytes(), format!("t{t}").into_bytes());
                        let l = model.entry(k.clone()).or_default();
                        let fresh = !l.contains(&t);
                        if fresh { l.push(t.clone()); }
                        prop_assert_eq!(ix.add(&k, hash_key(&k), &t), fresh);
                    }
                    Op::Remove(k, t) => {
                        let (k, t) = (format!("k{k}").into_bytes(), format!("t{t}").into_bytes());
                        let mut had = false;
                        if let Some(l) = model.get_mut(&k) {
                            if let Some(p) = l.iter().position(|x| *x == t) {
                                l.remove(p);
                                had = true;
                            }
                            if l.is_empty() { model.remove(&k); }
                        }
                        prop_assert_eq!(ix.remove(&k, hash_key(&k), &t), had);
                    }
                    Op::Drop(k) => {
                        let k = format!("k{k}").into_bytes();
                        let want = model.remove(&k).unwrap_or_default();
                        let got: Vec<Vec<u8>> =
                            ix.take_key(&k, hash_key(&k)).iter().map(|t| t.to_vec()).collect();
                        prop_assert_eq!(got, want);
                    }
                }
                ix.check();
            }
            for (k, tags) in &model {
                let got: Vec<Vec<u8>> = ix.tags_of(k).iter().map(|t| t.to_vec()).collect();
                prop_assert_eq!(&got, tags);
                for t in tags {
                    let set = ix.keys_of(t).expect("tag indexed");
                    prop_assert!(set.contains(&(hash_key(k), Name::from(&k[..]))));
                }
            }
            prop_assert_eq!(ix.is_empty(), model.is_empty());
        }
    }
}
