//! Command handlers, one module per family (as Redis groups them).
//!
//! Rules for handlers: parse every argument first, check once, then act. Never call a
//! `Keyspace` method that takes locks (`lock*`, `db_info`, `stats`) while the command's
//! `Locked` is alive: shard locks are not re-entrant. Errors come from `crate::errors`.

pub mod acl;
pub mod bitmaps;
pub mod collection;
pub mod command;
pub mod connection;
pub mod diag;
pub mod geo;
pub mod hashes;
pub mod hyperloglog;
pub mod keys;
pub mod lists;
pub mod pubsub;
pub mod scripting;
pub mod server;
pub mod sets;
pub mod streams;
pub mod strings;
pub mod tags;
pub mod transactions;
pub mod util;
pub mod zsets;

use crate::spec::Handler;

/// Every served command: (spec name, handler). A spec without an entry here is not served.
pub fn handlers() -> Vec<(&'static str, Handler)> {
    let mut v: Vec<(&'static str, Handler)> = Vec::new();
    v.extend(acl::handlers());
    v.extend(bitmaps::handlers());
    v.extend(command::handlers());
    v.extend(connection::handlers());
    v.extend(diag::handlers());
    v.extend(geo::handlers());
    v.extend(hashes::handlers());
    v.extend(hyperloglog::handlers());
    v.extend(keys::handlers());
    v.extend(lists::handlers());
    v.extend(pubsub::handlers());
    v.extend(scripting::handlers());
    v.extend(server::handlers());
    v.extend(sets::handlers());
    v.extend(strings::handlers());
    v.extend(zsets::handlers());
    v.extend(streams::handlers());
    v.extend(tags::handlers());
    v.extend(transactions::handlers());
    v
}
