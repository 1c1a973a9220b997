//! The general encoding of hashes and sets (what `OBJECT ENCODING` calls `hashtable`):
//! items kept densely in a vector, each one exactly sized byte string, and a hashbrown
//! index of `u32` positions into the vector.
//!
//! Why not a plain hash table of items: the dense vector makes a uniformly random item an
//! O(1) pick (SPOP, SRANDMEMBER, HRANDFIELD), and a SCAN cursor a position in the
//! vector. Removal moves the last item into the hole (`swap_remove`), so a cursor walks
//! positions downwards: an item moved by a removal comes from a position already
//! visited, and at worst is returned twice, which SCAN allows; no item present for the
//! whole scan is missed.
//!
//! Memory per item: one 16-byte slot in the vector (plus growth slack), 5 bytes per
//! index bucket, and the item's own allocation.

use hashbrown::HashTable;

use crate::table::hash_key;
use crate::value::alloc_size;

/// How an item's key (what lookups compare) is found in its bytes.
pub trait KeyOf {
    fn key(item: &[u8]) -> &[u8];
}

/// An item that is its own key (set members).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Whole;

impl KeyOf for Whole {
    #[inline]
    fn key(item: &[u8]) -> &[u8] {
        item
    }
}

pub struct Dense<K> {
    items: Vec<Box<[u8]>>,
    index: HashTable<u32>,
    /// Sum of `alloc_size` over the items' allocations.
    item_bytes: usize,
    _key: std::marker::PhantomData<K>,
}

impl<K> Clone for Dense<K> {
    fn clone(&self) -> Self {
        Dense {
            items: self.items.clone(),
            index: self.index.clone(),
            item_bytes: self.item_bytes,
            _key: std::marker::PhantomData,
        }
    }
}

impl<K> std::fmt::Debug for Dense<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dense")
            .field("len", &self.items.len())
            .finish()
    }
}

impl<K: KeyOf> Dense<K> {
    pub fn with_capacity(n: usize) -> Self {
        Dense {
            items: Vec::with_capacity(n),
            index: HashTable::with_capacity(n),
            item_bytes: 0,
            _key: std::marker::PhantomData,
        }
    }

    #[inline]
    pub fn len(&self) -> usize {
        self.items.len()
    }

    #[inline]
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Position of the item whose key is `key`.
    #[inline]
    pub fn find(&self, key: &[u8]) -> Option<usize> {
        let items = &self.items;
        self.index
            .find(hash_key(key), |&i| K::key(&items[i as usize]) == key)
            .map(|&i| i as usize)
    }

    #[inline]
    pub fn get(&self, i: usize) -> &[u8] {
        &self.items[i]
    }

    pub fn iter(&self) -> impl Iterator<Item = &[u8]> + '_ {
        self.items.iter().map(|b| &b[..])
    }

    /// Adds an item whose key is not present yet.
    pub fn push_new(&mut self, item: Box<[u8]>) {
        let pos = u32::try_from(self.items.len()).expect("a collection holds under 2^32 items");
        let items = &self.items;
        self.index
            .insert_unique(hash_key(K::key(&item)), pos, |&i| {
                hash_key(K::key(&items[i as usize]))
            });
        self.item_bytes += alloc_size(item.len());
        self.items.push(item);
    }

    /// Replaces the item at `i` with one that has the same key.
    pub fn replace(&mut self, i: usize, item: Box<[u8]>) {
        debug_assert_eq!(K::key(&item), K::key(&self.items[i]));
        self.item_bytes -= alloc_size(self.items[i].len());
        self.item_bytes += alloc_size(item.len());
        self.items[i] = item;
    }

    /// Removes the item whose key is `key`.
    pub fn remove(&mut self, key: &[u8]) -> Option<Box<[u8]>> {
        let i = self.find(key)?;
        Some(self.remove_at(i))
    }

    /// Removes the item at `i`; the last item takes its place.
    pub fn remove_at(&mut self, i: usize) -> Box<[u8]> {
        let h = hash_key(K::key(&self.items[i]));
        if let Ok(e) = self.index.find_entry(h, |&p| p as usize == i) {
            e.remove();
        }
        let last = self.items.len() - 1;
        if i != last {
            let hl = hash_key(K::key(&self.items[last]));
            if let Some(p) = self.index.find_mut(hl, |&p| p as usize == last) {
                *p = i as u32;
            }
        }
        let item = self.items.swap_remove(i);
        self.item_bytes -= alloc_size(item.len());
        self.maybe_shrink();
        item
    }

    /// Gives memory back once the collection has shrunk to a quarter of its capacity
    /// (Redis shrinks its tables below 10% use).
    fn maybe_shrink(&mut self) {
        let (len, cap) = (self.items.len(), self.items.capacity());
        if cap > 16 && len * 4 < cap {
            self.items.shrink_to(len * 2);
            let items = &self.items;
            self.index
                .shrink_to(len * 2, |&i| hash_key(K::key(&items[i as usize])));
        }
    }

    /// Visits up to `count` items below position `cursor` (0 = start at the end),
    /// downwards; returns the cursor for the next call, 0 when done.
    pub fn scan(&self, cursor: u64, count: usize, mut f: impl FnMut(&[u8])) -> u64 {
        let len = self.items.len() as u64;
        let hi = if cursor == 0 || cursor > len {
            len
        } else {
            cursor
        };
        let lo = hi.saturating_sub(count.max(1) as u64);
        for i in (lo..hi).rev() {
            f(&self.items[i as usize]);
        }
        lo
    }

    /// Heap bytes owned: the vector, the index and every item.
    #[inline]
    pub fn heap_bytes(&self) -> usize {
        alloc_size(self.items.capacity() * std::mem::size_of::<Box<[u8]>>())
            + alloc_size(self.index.allocation_size())
            + self.item_bytes
    }

    /// Same keys with equal items, in any order.
    pub fn same_items(&self, other: &Self) -> bool {
        self.len() == other.len()
            && self.items.iter().all(|it| {
                other
                    .find(K::key(it))
                    .is_some_and(|j| other.items[j] == *it)
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    fn item(s: &str) -> Box<[u8]> {
        s.as_bytes().into()
    }

    #[test]
    fn add_find_remove() {
        let mut d: Dense<Whole> = Dense::with_capacity(0);
        for i in 0..1000 {
            d.push_new(item(&format!("m{i}")));
        }
        assert_eq!(d.len(), 1000);
        for i in (0..1000).step_by(2) {
            assert!(d.remove(format!("m{i}").as_bytes()).is_some());
        }
        assert_eq!(d.len(), 500);
        for i in 0..1000 {
            assert_eq!(d.find(format!("m{i}").as_bytes()).is_some(), i % 2 == 1);
        }
        while d.len() > 3 {
            let _ = d.remove_at(0);
        }
        assert!(d.items.capacity() < 64, "memory is given back");
    }

    #[test]
    fn scan_survives_removals() {
        let mut d: Dense<Whole> = Dense::with_capacity(0);
        for i in 0..100 {
            d.push_new(item(&format!("{i}")));
        }
        let mut seen = BTreeSet::new();
        let mut cursor = 0;
        let mut round = 0;
        loop {
            cursor = d.scan(cursor, 7, |m| {
                seen.insert(m.to_vec());
            });
            // Remove an item that was not visited yet and one that was.
            round += 1;
            let victim = format!("{}", round * 3);
            let _ = d.remove(victim.as_bytes());
            if cursor == 0 {
                break;
            }
        }
        for i in 0..100 {
            let m = format!("{i}");
            if d.find(m.as_bytes()).is_some() {
                assert!(
                    seen.contains(m.as_bytes()),
                    "{m} present throughout, not seen"
                );
            }
        }
    }

    proptest! {
        #[test]
        fn behaves_like_a_set(ops in proptest::collection::vec((any::<bool>(), 0u8..40), 0..300)) {
            let mut d: Dense<Whole> = Dense::with_capacity(0);
            let mut model = BTreeSet::new();
            for (add, k) in ops {
                let key = vec![k];
                if add {
                    if d.find(&key).is_none() {
                        d.push_new(key.clone().into());
                    }
                    model.insert(key);
                } else {
                    prop_assert_eq!(d.remove(&key).is_some(), model.remove(&key));
                }
                prop_assert_eq!(d.len(), model.len());
                let bytes: usize = d.iter().map(|i| alloc_size(i.len())).sum();
                prop_assert_eq!(d.item_bytes, bytes);
            }
            let all: BTreeSet<Vec<u8>> = d.iter().map(|i| i.to_vec()).collect();
            prop_assert_eq!(all, model);
        }
    }
}
