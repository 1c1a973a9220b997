//! Integration tests, linked into one binary: differential tests against Redis
//! (`diff`), real clients (`clients`), malformed input (`robust`).

mod clients;
mod diff;
mod lifecycle;
mod robust;
