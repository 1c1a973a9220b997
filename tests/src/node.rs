//! Out-of-process servers and clients: a `miniredis node` child process (for figures
//! only the binary has, like its allocator's memory) and Node.js client scripts run
//! against it, bounded in time.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::{free_port, subject_is_redis, RedisServer};

/// The `miniredis` binary: `MINIREDIS_BIN`, else the release (or debug) build beside
/// the test binary.
pub fn miniredis_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("MINIREDIS_BIN") {
        return p.into();
    }
    // <target>/<profile>/deps/it-<hash>
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
            panic!("no miniredis binary: run `cargo build --release -p miniredis` or set MINIREDIS_BIN")
        })
}

/// A `miniredis node` process, killed when dropped (a redis-server in self-test mode).
pub enum Node {
    Mini { child: Child, addr: SocketAddr },
    Redis(RedisServer),
}

impl Node {
    /// Starts a node on a free loopback port with `args` added to its command line.
    pub fn start(args: &[&str]) -> Node {
        if subject_is_redis() {
            return Node::Redis(RedisServer::start_with(args));
        }
        let port = free_port();
        let child = Command::new(miniredis_bin())
            .args(["node", "--port", &port.to_string(), "--save", ""])
            .args(args)
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

    pub fn addr(&self) -> SocketAddr {
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

/// Runs `tests/node/<script>` with Node.js against a fresh node: `REDIS_PORT` and
/// `<timeout_env>` (the script's own time limit, `limit`) in its environment, killed
/// at twice that. `package` must be installed in `tests/node` (`npm install` there;
/// scripts/test.sh does it). Requires the script to exit 0 and print
/// "N passed, 0 failed".
pub fn run_node_script(package: &str, script: &str, timeout_env: &str, limit: Duration) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("node");
    assert!(
        dir.join("node_modules").join(package).is_dir(),
        "{package} is not installed: run `npm install` in {} (scripts/test.sh does)",
        dir.display()
    );
    let node = Node::start(&[]);
    let mut child = Command::new("node")
        .arg(script)
        .current_dir(&dir)
        .env("REDIS_PORT", node.addr().port().to_string())
        .env(timeout_env, limit.as_millis().to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("running node (install Node.js)");
    // The script gives up by itself after `limit`; this is the backstop.
    let deadline = Instant::now() + limit * 2;
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
        "{script} failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    assert!(stdout.contains(" passed, 0 failed"), "{stdout}\n{stderr}");
}
