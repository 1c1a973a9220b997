//! BullMQ (Node.js) against a `miniredis node` process: a Queue and a Worker, plain,
//! delayed and prioritized jobs, and one that fails its first attempt and is retried
//! (attempts: 2); every job must complete with the worker's return value. BullMQ runs
//! its queue logic as Lua scripts (EVALSHA with cmsgpack and cjson), so this is the
//! scripting engine under a real application. The script is `tests/node/bullmq.mjs`;
//! `npm install` in `tests/node` installs BullMQ (scripts/test.sh does it). Bounded in time.

use std::time::Duration;

use miniredis_tests::node::run_node_script;

#[test]
fn bullmq_queue_and_worker_with_a_retry() {
    run_node_script(
        "bullmq",
        "bullmq.mjs",
        "BULLMQ_TIMEOUT_MS",
        Duration::from_secs(30),
    );
}
