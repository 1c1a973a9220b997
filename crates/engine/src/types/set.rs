//! The set value.
//!
//! Contract other crates rely on (persistence, generic key commands): `new`, `len`,
//! `insert` (true when the member is new), `for_each`, `encoding`, `heap_bytes` (O(1)).

/// A set value (initial representation; the set family replaces it).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Set {
    members: Vec<Vec<u8>>,
}

impl Set {
    pub fn new() -> Self {
        Set::default()
    }

    pub fn len(&self) -> usize {
        self.members.len()
    }

    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// Adds `member`; true when it is new.
    pub fn insert(&mut self, member: &[u8]) -> bool {
        if self.members.iter().any(|m| m == member) {
            return false;
        }
        self.members.push(member.to_vec());
        true
    }

    /// Calls `f` with every member.
    pub fn for_each(&self, mut f: impl FnMut(&[u8])) {
        self.members.iter().for_each(|m| f(m));
    }

    /// The name `OBJECT ENCODING` reports.
    pub fn encoding(&self) -> &'static str {
        "hashtable"
    }

    /// Heap bytes owned, rounded to allocator size classes.
    pub fn heap_bytes(&self) -> usize {
        0
    }
}
