//! Test support for the `it` test binary and anything else that drives a server over
//! the wire: a raw RESP client, a spawned Debian `redis-server` to compare against,
//! an in-process MiniRedis, redis-cli-like argument quoting and reply formatting.
//!
//! # The subject under test
//!
//! Tests talk to "the subject" through [`start_subject`]. It is MiniRedis (started
//! in-process through `server::start`) unless the environment variable
//! `MINIREDIS_SUBJECT=redis` is set, in which case it is a second real `redis-server`.
//! That mode is the harness's self-test: every differential and wire test must pass
//! trivially when Redis is compared to Redis.
//!
//! # Missing tools fail, they do not skip
//!
//! `scripts/test.sh` installs `redis-server`, `redis-tools` and the Python packages.
//! A test that needs one of them and cannot find it panics with a message that says
//! what to install ([`require_tool`]); nothing passes silently.

pub mod fmt;
pub mod node;
pub mod ports;
pub mod quote;
pub mod raw;
pub mod redis_server;
pub mod subject;
pub mod tools;

pub use fmt::show;
pub use ports::free_port;
pub use quote::split_args;
pub use raw::{RawClient, Reply};
pub use redis_server::RedisServer;
pub use subject::{start_miniredis, start_subject, subject_is_redis, Subject};
pub use tools::require_tool;

/// Prints a note that must be seen in every run (a skipped case file, a known
/// difference): straight to stderr, bypassing libtest's output capture, and appended
/// to the file named by `MINIREDIS_TEST_NOTES` when set (`scripts/test.sh` sets it
/// and prints the notes in its summary, since nextest hides passing tests' output).
pub fn note(msg: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "{msg}");
    if let Some(path) = std::env::var_os("MINIREDIS_TEST_NOTES") {
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(path)
        {
            let _ = f.write_all(format!("{msg}\n").as_bytes());
        }
    }
}
