//! Integration tests, linked into one binary: differential tests against Redis
//! (`diff`), real clients (`clients`), malformed input (`robust`), RDB snapshots
//! exchanged with Redis (`rdb`), maxmemory eviction (`eviction`), blocking commands with
//! several connections (`blocking`, `zset_blocking`).

mod blocking;
mod clients;
mod diff;
mod eviction;
mod lifecycle;
mod rdb;
mod robust;
mod zset_blocking;
