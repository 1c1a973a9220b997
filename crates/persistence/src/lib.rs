//! Snapshots in Redis's RDB format, so data moves both ways between MiniRedis and
//! Redis: [`save`] writes a keyspace as Redis 7.0 would (RDB version 10), [`load`]
//! reads files from Redis 2.x to 7.0 (RDB versions 1 to 10) back into one.
//!
//! Strings, lists, hashes, sets, sorted sets and streams (with their consumer
//! groups) are read and written; module values are refused with an error naming the
//! type ([`PersistError::UnsupportedType`]).
//!
//! * [`save`] / [`write_rdb`] — a keyspace to a file (atomically and durably) or to
//!   any writer.
//! * [`load`] / [`load_from`] — a file or any reader into a keyspace.
//! * [`read_rdb`] — a streaming parser that hands out [`RdbItem`]s, for tools.
//! * [`crc64`] and [`lzf`] — the checksum and the compression the format uses.

mod collections;
pub mod crc64;
mod error;
pub mod format;
pub mod intset;
pub mod listpack;
pub mod lzf;
mod reader;
mod stream;
mod writer;
pub mod ziplist;
pub mod zipmap;

pub use error::PersistError;
pub use reader::{load, load_from, read_rdb, LoadStats, RdbEntry, RdbItem, RdbSummary};
pub use writer::{save, write_rdb, write_rdb_in, Form, SaveStats, REDIS_VER};

#[cfg(test)]
mod collection_tests;
#[cfg(test)]
mod tests;
