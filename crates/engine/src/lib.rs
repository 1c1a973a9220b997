//! The storage engine: keyspaces made of lock-sharded, segmented hash tables.
//!
//! Nothing here knows about sockets or the wire protocol. Operations return values and
//! statuses; the `commands` crate turns them into replies.

pub mod evict;
pub mod keyspace;
pub mod table;
pub mod tags;
pub mod types;
pub mod value;

pub use evict::{Access, Evicted, Policy};
pub use keyspace::{
    DbInfo, EntryMut, EventLog, KeyEvent, KeyEventKind, Keyspace, KeyspaceConfig, Locked,
    ShardStats,
};
pub use value::{Entry, Str, Value};
