//! Segmented (extendible-hashing) hash table. Work in progress.

use std::sync::OnceLock;

/// Something stored in a Table: it must expose its key.
pub trait Keyed {
    /// The entry's key.
    fn key(&self) -> &[u8];
}

static SEED: OnceLock<u64> = OnceLock::new();

/// Hash of a key, process-wide seeded.
pub fn hash_key(key: &[u8]) -> u64 {
    use std::hash::BuildHasher;
    let seed = *SEED.get_or_init(rand::random::<u64>);
    foldhash::fast::FixedState::with_seed(seed).hash_one(key)
}

/// Segmented hash table.
pub struct Table<T> {
    _p: std::marker::PhantomData<T>,
}

impl<T: Keyed> Default for Table<T> {
    fn default() -> Self {
        Self::new()
    }
}

#[allow(unused_variables, clippy::missing_panics_doc)]
impl<T: Keyed> Table<T> {
    pub fn new() -> Self {
        Table { _p: std::marker::PhantomData }
    }
    pub fn len(&self) -> usize {
        todo!()
    }
    pub fn is_empty(&self) -> bool {
        todo!()
    }
    pub fn get(&self, hash: u64, key: &[u8]) -> Option<&T> {
        todo!()
    }
    pub fn get_mut(&mut self, hash: u64, key: &[u8]) -> Option<&mut T> {
        todo!()
    }
    /// Inserts; if an entry with the same key exists it is replaced and returned.
    pub fn insert(&mut self, hash: u64, value: T) -> Option<T> {
        todo!()
    }
    /// Returns the existing entry or inserts `make()`; bool = inserted.
    pub fn get_or_insert_with(&mut self, hash: u64, key: &[u8], make: impl FnOnce() -> T) -> (&mut T, bool) {
        todo!()
    }
    pub fn remove(&mut self, hash: u64, key: &[u8]) -> Option<T> {
        todo!()
    }
    pub fn clear(&mut self) {
        todo!()
    }
    /// Moves everything out (O(1)).
    pub fn take(&mut self) -> Table<T> {
        todo!()
    }
    pub fn iter(&self) -> impl Iterator<Item = &T> + '_ {
        std::iter::empty()
    }
    /// SCAN in hash order.
    pub fn scan(&self, cursor: u64, count: usize, f: impl FnMut(&T)) -> u64 {
        todo!()
    }
    /// Incremental sweep for active expiry.
    pub fn sweep(&mut self, cursor: u64, budget: usize, expired: impl FnMut(&T) -> bool, removed: impl FnMut(T)) -> u64 {
        todo!()
    }
    /// A uniformly-ish random entry.
    pub fn random(&self, rng: &mut impl rand::Rng) -> Option<&T> {
        todo!()
    }
    /// Approximate heap bytes used by the table's own structure.
    pub fn overhead_bytes(&self) -> usize {
        todo!()
    }
}
