//! One server instance: a keyspace with its configuration, clients and statistics.
//! `miniredis node` runs one; the platform runs one per tenant database.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::sync::OnceLock;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use engine::{Keyspace, KeyspaceConfig};
use parking_lot::{Mutex, RwLock};

use crate::client::ClientInfo;
use crate::config::Config;
use crate::directory::Directory;
use crate::registry::{registry, CmdStat};

/// Instance-wide counters (INFO stats).
#[derive(Debug, Default)]
pub struct Stats {
    pub total_connections_received: AtomicU64,
    pub rejected_connections: AtomicU64,
    pub total_commands_processed: AtomicU64,
    pub net_input_bytes: AtomicU64,
    pub net_output_bytes: AtomicU64,
    pub total_error_replies: AtomicU64,
    pub unexpected_error_replies: AtomicU64,
    pub client_query_buffer_limit_disconnections: AtomicU64,
    pub errors: Mutex<HashMap<String, u64>>,
}

impl Stats {
    pub fn record_error(&self, msg: &str) {
        self.total_error_replies.fetch_add(1, Relaxed);
        let code = crate::errors::code_of(msg);
        let mut m = self.errors.lock();
        match m.get_mut(code) {
            Some(n) => *n += 1,
            None => {
                // Bounded, as Redis does: at most 128 distinct error codes are tracked.
                if m.len() < 128 {
                    m.insert(code.to_string(), 1);
                }
            }
        }
    }

    pub fn reset(&self) {
        self.total_connections_received.store(0, Relaxed);
        self.rejected_connections.store(0, Relaxed);
        self.total_commands_processed.store(0, Relaxed);
        self.net_input_bytes.store(0, Relaxed);
        self.net_output_bytes.store(0, Relaxed);
        self.total_error_replies.store(0, Relaxed);
        self.unexpected_error_replies.store(0, Relaxed);
        self.client_query_buffer_limit_disconnections
            .store(0, Relaxed);
        self.errors.lock().clear();
    }
}

pub struct Instance {
    pub ks: Keyspace,
    pub config: RwLock<Config>,
    pub stats: Stats,
    /// One per command id (see [`registry`]).
    pub cmd_stats: Vec<CmdStat>,
    pub clients: Mutex<HashMap<u64, Arc<ClientInfo>>>,
    pub started: Instant,
    /// 40 hex characters, new at every start, as Redis's run_id.
    pub run_id: String,
    next_client_id: AtomicU64,
    /// Set by SHUTDOWN; the server stops accepting and exits.
    pub shutdown_requested: AtomicBool,
    pub shutdown: tokio::sync::Notify,
    pub lastsave_unix: AtomicU64,
    /// DEBUG SET-ACTIVE-EXPIRE.
    pub active_expire_enabled: AtomicBool,
    memory_peak: AtomicU64,
    /// (when, total_commands_processed) at the last ops/sec sample, and the rate.
    ops_sample: Mutex<(Instant, u64, u64)>,
    /// Set on a front door only: the directory `AUTH <database> <password>` asks.
    pub directory: Option<Arc<dyn Directory>>,
    /// Write commands since the last snapshot (Redis's rdb_changes_since_last_save).
    pub dirty: AtomicU64,
    /// Set while persistence is failing: write commands get MISCONF.
    pub writes_refused: AtomicBool,
    /// `config.tenant`, fixed at creation and read without the config lock.
    tenant: bool,
}

impl Instance {
    pub fn new(config: Config) -> Arc<Self> {
        Self::build(config, None)
    }

    /// A front door: serves no data itself; `AUTH <database> <password>` moves the
    /// connection to the database `directory` finds.
    pub fn front_door(config: Config, directory: Arc<dyn Directory>) -> Arc<Self> {
        let config = Config {
            databases: 1,
            shards: 1,
            ..config
        };
        Self::build(config, Some(directory))
    }

    fn build(config: Config, directory: Option<Arc<dyn Directory>>) -> Arc<Self> {
        let tenant = config.tenant;
        let ks = Keyspace::new(&KeyspaceConfig {
            databases: config.databases,
            shards: config.shards,
        });
        let run_id: String = (0..40)
            .map(|_| char::from_digit(rand::random::<u32>() % 16, 16).unwrap_or('0'))
            .collect();
        Arc::new(Instance {
            ks,
            config: RwLock::new(config),
            stats: Stats::default(),
            cmd_stats: (0..registry().specs.len())
                .map(|_| CmdStat::default())
                .collect(),
            clients: Mutex::new(HashMap::new()),
            started: Instant::now(),
            run_id,
            next_client_id: AtomicU64::new(1),
            shutdown_requested: AtomicBool::new(false),
            shutdown: tokio::sync::Notify::new(),
            lastsave_unix: AtomicU64::new(unix_ms() / 1000),
            active_expire_enabled: AtomicBool::new(true),
            memory_peak: AtomicU64::new(0),
            ops_sample: Mutex::new((Instant::now(), 0, 0)),
            directory,
            dirty: AtomicU64::new(0),
            writes_refused: AtomicBool::new(false),
            tenant,
        })
    }

    pub fn next_client_id(&self) -> u64 {
        self.next_client_id.fetch_add(1, Relaxed)
    }

    pub fn register_client(&self, info: Arc<ClientInfo>) {
        self.stats.total_connections_received.fetch_add(1, Relaxed);
        self.clients.lock().insert(info.id, info);
    }

    pub fn unregister_client(&self, id: u64) {
        self.clients.lock().remove(&id);
    }

    pub fn connected_clients(&self) -> usize {
        self.clients.lock().len()
    }

    /// Asks the server to stop.
    pub fn request_shutdown(&self) {
        self.shutdown_requested.store(true, Relaxed);
        self.shutdown.notify_waiters();
        for c in self.clients.lock().values() {
            c.kill();
        }
    }

    /// Records `used` as a candidate peak; returns the peak.
    pub fn note_memory_peak(&self, used: u64) -> u64 {
        self.memory_peak.fetch_max(used, Relaxed).max(used)
    }

    /// Called by the server's cron: samples the command counter for
    /// `instantaneous_ops_per_sec`.
    pub fn sample_ops(&self) {
        let mut s = self.ops_sample.lock();
        let now = Instant::now();
        let total = self.stats.total_commands_processed.load(Relaxed);
        let dt = now.duration_since(s.0).as_secs_f64();
        if dt >= 1.0 {
            let rate = (total.saturating_sub(s.1) as f64 / dt) as u64;
            *s = (now, total, rate);
        }
    }

    pub fn ops_per_sec(&self) -> u64 {
        self.ops_sample.lock().2
    }

    /// A tenant database in a shared process (see [`Config::tenant`]).
    pub fn is_tenant(&self) -> bool {
        self.tenant
    }

    /// Whether this instance is a front door (no data; AUTH picks the database).
    pub fn is_front_door(&self) -> bool {
        self.directory.is_some()
    }

    /// Closes every client connection (a stopped or deleted database).
    pub fn kill_clients(&self) {
        for c in self.clients.lock().values() {
            c.kill();
        }
    }

    pub fn requirepass(&self) -> Option<String> {
        self.config.read().requirepass.clone()
    }
}

/// Wall clock in Unix milliseconds.
pub fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Wall clock in Unix microseconds.
pub fn unix_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

/// Memory figures for INFO memory.
#[derive(Clone, Copy, Debug, Default)]
pub struct MemoryStats {
    /// Bytes the allocator has handed out (used_memory).
    pub allocated: u64,
    /// Resident set size (used_memory_rss).
    pub resident: u64,
    pub total_system: u64,
    pub allocator: &'static str,
}

static MEMORY_PROBE: OnceLock<fn() -> MemoryStats> = OnceLock::new();

/// The binary installs a probe that asks its allocator; without one, figures come
/// from /proc.
pub fn set_memory_probe(f: fn() -> MemoryStats) {
    let _ = MEMORY_PROBE.set(f);
}

pub fn memory() -> MemoryStats {
    match MEMORY_PROBE.get() {
        Some(f) => f(),
        None => proc_memory(),
    }
}

/// Resident memory and total system memory from /proc (Linux).
pub fn proc_memory() -> MemoryStats {
    let page = 4096u64;
    let resident = std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| {
            s.split_whitespace()
                .nth(1)
                .and_then(|v| v.parse::<u64>().ok())
        })
        .map(|p| p * page)
        .unwrap_or(0);
    let total_system = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| {
                    l.split_whitespace()
                        .nth(1)
                        .and_then(|v| v.parse::<u64>().ok())
                })
        })
        .map(|kb| kb * 1024)
        .unwrap_or(0);
    MemoryStats {
        allocated: resident,
        resident,
        total_system,
        allocator: "libc",
    }
}

impl std::fmt::Debug for Instance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Instance")
            .field("run_id", &self.run_id)
            .field("database", &self.config.read().database)
            .field("front_door", &self.is_front_door())
            .finish_non_exhaustive()
    }
}
