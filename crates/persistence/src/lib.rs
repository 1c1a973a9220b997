//! Snapshots in Redis's RDB format, so data moves both ways between MiniRedis and
//! Redis: [`save`] writes a keyspace as Redis 7.0 would (RDB version 10), [`load`]
//! reads files from Redis 2.x to 7.0 (RDB versions 1 to 10) back into one.
//!
//! Values: strings, lists, hashes, sets, sorted sets and streams (with their consumer
//! groups), in every encoding those versions write (plain, zipmap, ziplist, intset,
//! quicklist, listpack, stream listpacks; see the table in `collections.rs` and
//! `stream.rs`), built through the engine types' construction contract. A file holding
//! a module value is refused with an error naming the type and the key
//! ([`PersistError::UnsupportedType`]). Collections are written as Redis 7.0 writes
//! them: lists as a quicklist of listpacks, hashes and sorted sets as listpacks and sets
//! as intsets when the engine reports that encoding, the generic forms otherwise (see
//! [`Form`] and [`write_rdb_in`] for the other choices), streams as RDB type 19.
//!
//! Everything read is untrusted: duplicate members or fields, empty collections,
//! NaN or unparsable scores, lengths that disagree and corrupt listpacks, ziplists,
//! intsets or zipmaps are [`PersistError::Corrupt`] errors naming the key, never
//! panics or allocations the file does not back.
//!
//! * [`save`] / [`write_rdb`] / [`write_rdb_in`] — a keyspace to a file (atomically
//!   and durably) or to any writer.
//! * [`load`] / [`load_from`] — a file or any reader into a keyspace.
//! * [`read_rdb`] — a streaming parser that hands out [`RdbItem`]s, for tools.
//! * [`listpack`] — Redis 7.0's listpack, encoder and validating decoder (also what
//!   stream nodes are made of); [`ziplist`], [`intset`] and [`zipmap`] — the older
//!   compact encodings.
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
pub mod tags;
mod writer;
pub mod ziplist;
pub mod zipmap;

pub use error::PersistError;
pub use reader::{
    load, load_from, load_from_with_functions, load_with_functions, read_rdb, LoadStats, RdbEntry,
    RdbItem, RdbSummary,
};
pub use writer::{
    save, save_with_functions, serialized_len, write_rdb, write_rdb_in, write_rdb_with_functions,
    Form, SaveStats, REDIS_VER,
};

#[cfg(test)]
mod collection_tests;
#[cfg(test)]
mod tests;
