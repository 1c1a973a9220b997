//! A real Debian `redis-server`, spawned on a free loopback port for one test and
//! killed when dropped. It is the reference the differential and robustness tests
//! compare MiniRedis against.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use crate::raw::{RawClient, Reply};
use crate::tools::require_tool;

static NEXT_ID: AtomicU32 = AtomicU32::new(0);

/// A running `redis-server` child process with no persistence, in its own temporary
/// directory.
pub struct RedisServer {
    child: Child,
    addr: SocketAddr,
    dir: PathBuf,
}

impl RedisServer {
    /// Starts `redis-server --save '' --appendonly no --enable-debug-command local` on a
    /// free loopback port; panics
    /// (failing the test) if it cannot.
    pub fn start() -> Self {
        Self::start_with(&[])
    }

    /// Like [`RedisServer::start`] with extra `--name value` options (e.g.
    /// `["--requirepass", "secret"]`).
    pub fn start_with(extra: &[&str]) -> Self {
        match Self::try_start_with(extra) {
            Ok(s) => s,
            Err(e) => panic!("could not start redis-server: {e:#}"),
        }
    }

    pub fn try_start_with(extra: &[&str]) -> anyhow::Result<Self> {
        let bin = require_tool("redis-server");
        let mut last_err = None;
        // The free port can be taken by someone else before redis-server binds it.
        for _ in 0..5 {
            let port = crate::free_port();
            let dir = std::env::temp_dir().join(format!(
                "miniredis-tests-redis-{}-{}-{port}",
                std::process::id(),
                NEXT_ID.fetch_add(1, Ordering::Relaxed)
            ));
            std::fs::create_dir_all(&dir)?;
            let log = dir.join("redis.log");
            let child = Command::new(&bin)
                .arg("--port")
                .arg(port.to_string())
                .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
                // DEBUG is refused by default since 7.0; tests connect locally.
                .args(["--daemonize", "no", "--enable-debug-command", "local"])
                .arg("--dir")
                .arg(&dir)
                .arg("--logfile")
                .arg(&log)
                .args(extra)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()?;
            let mut server = RedisServer {
                child,
                addr: SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
                dir,
            };
            match server.wait_ready(Duration::from_secs(10)) {
                Ok(()) => return Ok(server),
                Err(e) => last_err = Some(e),
            }
        }
        Err(last_err.unwrap_or_else(|| anyhow::anyhow!("no attempt made")))
    }

    /// Waits until PING gets an answer (`+PONG`, or `-NOAUTH` when a password is set).
    fn wait_ready(&mut self, within: Duration) -> anyhow::Result<()> {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait()? {
                let log = std::fs::read_to_string(self.dir.join("redis.log")).unwrap_or_default();
                anyhow::bail!(
                    "redis-server exited with {status} before answering PING; log:\n{log}"
                );
            }
            if let Ok(mut c) = RawClient::connect(self.addr) {
                c.set_read_timeout(Duration::from_secs(2));
                if let Reply::Frame(f) = c.request(&[b"PING"]) {
                    let ok = match &f {
                        resp::Frame::Simple(s) => &s[..] == b"PONG",
                        resp::Frame::Error(e) => e.starts_with(b"NOAUTH"),
                        _ => false,
                    };
                    if ok {
                        return Ok(());
                    }
                    anyhow::bail!("unexpected PING reply {}", crate::show(&f));
                }
            }
            if Instant::now() >= deadline {
                anyhow::bail!(
                    "redis-server on {} did not answer PING within {within:?}",
                    self.addr
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// A new raw connection to this server.
    pub fn client(&self) -> RawClient {
        RawClient::connect(self.addr).expect("connecting to redis-server")
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
