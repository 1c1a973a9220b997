//! Integration tests, linked into one binary: differential tests against Redis
//! (`diff`), real clients (`clients`), malformed input (`robust`), maxmemory eviction
//! (`eviction`).

mod clients;
mod diff;
mod eviction;
mod lifecycle;
mod robust;
