//! One server instance: a keyspace with its configuration, clients and statistics.
//! `miniredis node` runs one; the platform runs one per tenant database.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use engine::{Keyspace, KeyspaceConfig};
use parking_lot::{Mutex, RwLock};

use crate::client::ClientInfo;
use crate::config::Config;
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
        self.client_query_buffer_limit_disconnections.store(0, Relaxed);
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
}

impl Instance {
    pub fn new(config: Config) -> Arc<Self> {
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
            cmd_stats: (0..registry().specs.len()).map(|_| CmdStat::default()).collect(),
            clients: Mutex::new(HashMap::new()),
            started: Instant::now(),
            run_id,
            next_client_id: AtomicU64::new(1),
            shutdown_requested: AtomicBool::new(false),
            shutdown: tokio::sync::Notify::new(),
            lastsave_unix: AtomicU64::new(unix_ms() / 1000),
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
