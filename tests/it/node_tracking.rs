//! Client-side caching with a real client: node-redis v5 (`clientSideCache` over RESP3,
//! and `emitInvalidate`) against a `miniredis node` process. The script is
//! `tests/node/tracking.mjs` (cache hits, invalidation on another client's SET/HSET,
//! BCAST prefixes, FLUSHALL's null, INFO tracking_clients); `npm install` in
//! `tests/node` installs node-redis (scripts/test.sh does it). Bounded in time.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::bullmq::Node;

#[test]
fn node_redis_client_side_cache_is_invalidated() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("node");
    assert!(
        dir.join("node_modules").join("redis").is_dir(),
        "node-redis is not installed: run `npm install` in {} (scripts/test.sh does)",
        dir.display()
    );
    let node = Node::start();
    let mut child = Command::new("node")
        .arg("tracking.mjs")
        .current_dir(&dir)
        .env("REDIS_PORT", node.addr().port().to_string())
        .env("TRACKING_TIMEOUT_MS", "20000")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("running node (install Node.js)");
    // The script gives up by itself after 20 s; this is the backstop.
    let deadline = Instant::now() + Duration::from_secs(40);
    loop {
        if child.try_wait().expect("waiting for node").is_some() {
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().expect("node output");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "node-redis tracking run failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    assert!(stdout.contains(" passed, 0 failed"), "{stdout}\n{stderr}");
}
