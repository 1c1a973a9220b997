//! Integration tests, linked into one binary: differential tests against Redis
//! (`diff`), real clients (`clients`), malformed input (`robust`), RDB snapshots
//! exchanged with Redis (`rdb`), maxmemory eviction (`eviction`), blocking commands with
//! several connections (`blocking`, `zset_blocking`, `streams_block`), blocking list
//! commands woken by other clients (`lists_blocking`), random list command sequences
//! (`lists_random`), transactions with several connections and real clients (`multi`),
//! stream snapshots exchanged with Redis (`rdb_streams`), tag-based invalidation (`tags`,
//! a MiniRedis extension: snapshots Redis accepts, atomicity), pub/sub with a slow
//! subscriber and idle subscribers (`pubsub`), client-side caching through node-redis
//! (`node_tracking`), and tracking redirections between connections (`tracking`).

mod blocking;
mod bullmq;
mod clients;
mod diff;
mod eviction;
mod lifecycle;
mod lists_blocking;
mod lists_random;
mod monitor;
mod multi;
mod node_tracking;
mod pubsub;
mod rdb;
mod rdb_streams;
mod robust;
mod scripting;
mod streams_block;
mod tags;
mod tracking;
mod zset_blocking;
