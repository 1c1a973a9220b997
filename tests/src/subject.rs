//! The server under test: MiniRedis in-process, or (self-test mode,
//! `MINIREDIS_SUBJECT=redis`) a second real `redis-server`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

use commands::Config;

use crate::raw::RawClient;
use crate::redis_server::RedisServer;

static NEXT_DIR: AtomicU32 = AtomicU32::new(0);

/// Whether `MINIREDIS_SUBJECT=redis` asks for Redis in place of MiniRedis.
pub fn subject_is_redis() -> bool {
    std::env::var("MINIREDIS_SUBJECT").is_ok_and(|v| v.eq_ignore_ascii_case("redis"))
}

/// A configuration for tests: loopback, ephemeral port, no persistence, a private
/// directory under the system temp dir.
pub fn test_config() -> Config {
    let dir: PathBuf = std::env::temp_dir().join(format!(
        "miniredis-tests-mini-{}-{}",
        std::process::id(),
        NEXT_DIR.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::create_dir_all(&dir);
    Config {
        port: 0,
        bind: vec!["127.0.0.1".into()],
        save: String::new(),
        appendonly: false,
        dir,
        ..Config::default()
    }
}

/// Starts MiniRedis in this process (its own runtime threads) and returns once it
/// accepts connections. Panics if it cannot start. Prefer [`start_subject`], which
/// also honours the self-test mode and cleans up the test directory.
pub fn start_miniredis(config: Config) -> server::ServerHandle {
    match server::start(config) {
        Ok(h) => h,
        Err(e) => panic!("could not start MiniRedis: {e:#}"),
    }
}

/// The server a test talks to. Dropping it stops the server and removes its test
/// directory.
pub struct Subject {
    inner: Option<Inner>,
    dir: Option<PathBuf>,
}

enum Inner {
    Mini(server::ServerHandle),
    Redis(RedisServer),
}

/// Starts the subject with `config` (see [`test_config`]). In self-test mode the
/// options Redis shares with MiniRedis's config (requirepass, databases) are passed
/// to `redis-server`.
pub fn start_subject(config: Config) -> Subject {
    // Only directories made by test_config are ours to remove.
    let ours = config
        .dir
        .file_name()
        .is_some_and(|n| n.to_string_lossy().starts_with("miniredis-tests-mini-"));
    let dir = ours.then(|| config.dir.clone());
    let inner = if subject_is_redis() {
        let mut args: Vec<String> = Vec::new();
        if let Some(p) = &config.requirepass {
            args.extend(["--requirepass".into(), p.clone()]);
        }
        if config.databases != Config::default().databases {
            args.extend(["--databases".into(), config.databases.to_string()]);
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        Inner::Redis(RedisServer::start_with(&args))
    } else {
        Inner::Mini(start_miniredis(config))
    };
    Subject {
        inner: Some(inner),
        dir,
    }
}

impl Subject {
    fn inner(&self) -> &Inner {
        self.inner
            .as_ref()
            .expect("subject is running until dropped")
    }

    pub fn addr(&self) -> SocketAddr {
        match self.inner() {
            Inner::Mini(h) => h.addr(),
            Inner::Redis(r) => r.addr(),
        }
    }

    /// "MiniRedis", or "redis-server (self-test)".
    pub fn name(&self) -> &'static str {
        match self.inner() {
            Inner::Mini(_) => "MiniRedis",
            Inner::Redis(_) => "redis-server (self-test)",
        }
    }

    /// The in-process MiniRedis, for tests that look inside (None in self-test mode).
    pub fn handle(&self) -> Option<&server::ServerHandle> {
        match self.inner() {
            Inner::Mini(h) => Some(h),
            Inner::Redis(_) => None,
        }
    }

    /// The process that holds the subject's memory (this one for MiniRedis).
    pub fn pid(&self) -> u32 {
        match self.inner() {
            Inner::Mini(_) => std::process::id(),
            Inner::Redis(r) => r.pid(),
        }
    }

    /// A new raw connection.
    pub fn client(&self) -> RawClient {
        RawClient::connect(self.addr()).expect("connecting to the subject")
    }
}

impl Drop for Subject {
    fn drop(&mut self) {
        if let Some(Inner::Mini(h)) = self.inner.take() {
            h.shutdown();
        }
        if let Some(dir) = &self.dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// Resident set size of a process in bytes, from `/proc/<pid>/status`.
pub fn rss_bytes(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = s.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}
