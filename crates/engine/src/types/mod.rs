//! Collection values: lists, hashes, sets, sorted sets and streams. Bitmaps and
//! HyperLogLogs are strings; geo indexes are sorted sets.
//!
//! Each type keeps Redis's small/large split: a compact encoding for small collections
//! (what `OBJECT ENCODING` calls listpack or intset) and a general one past Redis's
//! default thresholds (quicklist, hashtable, skiplist), so memory and the reported
//! encoding follow Redis.

pub mod dense;
pub mod hash;
pub mod list;
pub mod packed;
pub mod set;
pub mod stream;
pub mod zset;

pub use hash::{Hash, HashLimits};
pub use list::List;
pub use packed::Elem;
pub use set::Set;
pub use stream::{Stream, StreamId};
pub use zset::ZSet;
