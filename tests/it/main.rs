//! Integration tests, linked into one binary: differential tests against Redis
//! (`diff`), real clients (`clients`), malformed input (`robust`),
//! RDB snapshots exchanged with Redis (`rdb`).

mod clients;
mod diff;
mod lifecycle;
mod rdb;
mod robust;
