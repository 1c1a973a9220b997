//! BullMQ (Node.js) against a `miniredis node` process: a Queue and a Worker, plain,
//! delayed and prioritized jobs, and one that fails its first attempt and is retried
//! (attempts: 2); every job must complete with the worker's return value. BullMQ runs
//! its queue logic as Lua scripts (EVALSHA with cmsgpack and cjson), so this is the
//! scripting engine under a real application. The script is `tests/node/bullmq.mjs`;
//! `npm install` in `tests/node` installs BullMQ (scripts/test.sh does it). Bounded in time.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use miniredis_tests::{free_port, subject_is_redis, RedisServer};

/// The `miniredis` binary: `MINIREDIS_BIN`, else the build beside this test binary.
pub(crate) fn miniredis_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("MINIREDIS_BIN") {
        return p.into();
    }
    let exe = std::env::current_exe().expect("path of the test binary");
    let target = exe
        .parent()
        .and_then(Path::parent)
        .and_then(Path::parent)
        .expect("target directory");
    ["release", "debug"]
        .iter()
        .map(|p| target.join(p).join("miniredis"))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!("no miniredis binary: run `cargo build -p miniredis` or set MINIREDIS_BIN")
        })
}

/// A `miniredis node` process (killed when dropped), or redis-server in self-test mode.
pub(crate) enum Node {
    Mini { child: Child, addr: SocketAddr },
    Redis(RedisServer),
}

impl Node {
    pub(crate) fn start() -> Node {
        if subject_is_redis() {
            return Node::Redis(RedisServer::start());
        }
        let port = free_port();
        let child = Command::new(miniredis_bin())
            .args(["node", "--port", &port.to_string(), "--save", ""])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawning miniredis node");
        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(addr).is_err() {
            assert!(Instant::now() < deadline, "miniredis node did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        Node::Mini { child, addr }
    }

    pub(crate) fn addr(&self) -> SocketAddr {
        match self {
            Node::Mini { addr, .. } => *addr,
            Node::Redis(r) => r.addr(),
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        if let Node::Mini { child, .. } = self {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

#[test]
fn bullmq_queue_and_worker_with_a_retry() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("node");
    assert!(
        dir.join("node_modules").join("bullmq").is_dir(),
        "BullMQ is not installed: run `npm install` in {} (scripts/test.sh does)",
        dir.display()
    );
    let node = Node::start();
    let mut child = Command::new("node")
        .arg("bullmq.mjs")
        .current_dir(&dir)
        .env("REDIS_PORT", node.addr().port().to_string())
        .env("BULLMQ_TIMEOUT_MS", "30000")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("running node (install Node.js)");
    // The script gives up by itself after 30 s; this is the backstop.
    let deadline = Instant::now() + Duration::from_secs(60);
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
        "BullMQ run failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    assert!(stdout.contains(" passed, 0 failed"), "{stdout}\n{stderr}");
}
