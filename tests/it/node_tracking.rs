//! Client-side caching with a real client: node-redis v5 (`clientSideCache` over RESP3,
//! and `emitInvalidate`) against a `miniredis node` process. The script is
//! `tests/node/tracking.mjs` (cache hits, invalidation on another client's SET/HSET,
//! BCAST prefixes, FLUSHALL's null, INFO tracking_clients); `npm install` in
//! `tests/node` installs node-redis (scripts/test.sh does it). Bounded in time.

use std::time::Duration;

use miniredis_tests::node::run_node_script;

#[test]
fn node_redis_client_side_cache_is_invalidated() {
    run_node_script(
        "redis",
        "tracking.mjs",
        "TRACKING_TIMEOUT_MS",
        Duration::from_secs(20),
    );
}
