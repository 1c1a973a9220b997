//! The hash value.
//!
//! Contract other crates rely on (persistence, generic key commands): `new`, `len`,
//! `insert` (add or overwrite; true when the field is new), `for_each` (field, value),
//! `encoding`, `heap_bytes` (O(1)).

/// A hash value (initial representation; the hash family replaces it).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Hash {
    fields: Vec<(Vec<u8>, Vec<u8>)>,
}

impl Hash {
    pub fn new() -> Self {
        Hash::default()
    }

    pub fn len(&self) -> usize {
        self.fields.len()
    }

    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// Sets `field` to `value`; true when the field is new.
    pub fn insert(&mut self, field: &[u8], value: &[u8]) -> bool {
        match self.fields.iter_mut().find(|(f, _)| f == field) {
            Some((_, v)) => {
                *v = value.to_vec();
                false
            }
            None => {
                self.fields.push((field.to_vec(), value.to_vec()));
                true
            }
        }
    }

    /// Calls `f` with every (field, value).
    pub fn for_each(&self, mut f: impl FnMut(&[u8], &[u8])) {
        self.fields.iter().for_each(|(k, v)| f(k, v));
    }

    /// The name `OBJECT ENCODING` reports.
    pub fn encoding(&self) -> &'static str {
        "listpack"
    }

    /// Heap bytes owned, rounded to allocator size classes.
    pub fn heap_bytes(&self) -> usize {
        0
    }
}
