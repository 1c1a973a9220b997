//! One server instance: a keyspace with its configuration, clients and statistics.
//! `miniredis node` runs one; the platform runs one per tenant database.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicU8, Ordering::Relaxed};
use std::sync::Arc;
use std::sync::OnceLock;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use engine::{Access, Keyspace, KeyspaceConfig, Policy};
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
    pub client_output_buffer_limit_disconnections: AtomicU64,
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
        self.client_output_buffer_limit_disconnections
            .store(0, Relaxed);
        self.errors.lock().clear();
    }
}

/// Every maxmemory policy, indexed by its code in [`Limits`].
const POLICIES: [Policy; 8] = Policy::ALL;

/// The configuration dispatch consults on every command (memory and key limits, the
/// eviction policy and its clock), copied out of [`Config`] into atomics whenever it
/// changes, so the hot path reads a few cache-resident words instead of taking the
/// config lock, whose reader count would be written by every core. Aligned so that it
/// has cache lines of its own: the statistics beside it are written by every I/O thread.
#[derive(Debug, Default)]
#[repr(align(128))]
pub struct Limits {
    maxmemory: AtomicU64,
    maxkeys: AtomicU64,
    policy: AtomicU8,
    samples: AtomicU32,
    tenacity: AtomicU32,
    lfu_log_factor: AtomicU32,
    lfu_decay_time: AtomicU32,
    tenant: AtomicBool,
    /// slowlog-log-slower-than (negative: off) and slowlog-max-len.
    slowlog_slower_than: std::sync::atomic::AtomicI64,
    slowlog_max_len: AtomicU64,
    /// latency-monitor-threshold in milliseconds (0: off).
    latency_threshold_ms: AtomicU64,
    /// latency-tracking: per-command histograms for INFO latencystats.
    latency_tracking: AtomicBool,
    /// The allocator's figure and the keyspace's accounted bytes at the last sample
    /// (standalone nodes whose allocator reports exactly; see
    /// [`Instance::used_memory_for_limit`]).
    alloc_sample: AtomicU64,
    accounted_sample: AtomicU64,
}

impl Limits {
    fn load(&self, c: &Config) {
        self.maxmemory.store(c.maxmemory, Relaxed);
        self.maxkeys.store(c.maxkeys, Relaxed);
        let policy = Policy::parse(&c.maxmemory_policy).unwrap_or_default();
        let code = POLICIES.iter().position(|p| *p == policy).unwrap_or(0);
        self.policy.store(code as u8, Relaxed);
        let small = |v: u64| u32::try_from(v).unwrap_or(u32::MAX);
        self.samples
            .store(small(c.maxmemory_samples).max(1), Relaxed);
        self.tenacity
            .store(small(c.maxmemory_eviction_tenacity), Relaxed);
        self.lfu_log_factor.store(small(c.lfu_log_factor), Relaxed);
        self.lfu_decay_time.store(small(c.lfu_decay_time), Relaxed);
        self.tenant.store(c.tenant, Relaxed);
        self.slowlog_slower_than
            .store(c.slowlog_log_slower_than, Relaxed);
        self.slowlog_max_len.store(c.slowlog_max_len, Relaxed);
        self.latency_threshold_ms
            .store(c.latency_monitor_threshold, Relaxed);
        self.latency_tracking.store(c.latency_tracking, Relaxed);
    }

    /// slowlog-log-slower-than in microseconds; negative disables the slow log.
    #[inline]
    pub fn slowlog_slower_than(&self) -> i64 {
        self.slowlog_slower_than.load(Relaxed)
    }

    pub fn slowlog_max_len(&self) -> u64 {
        self.slowlog_max_len.load(Relaxed)
    }

    /// latency-monitor-threshold in milliseconds (0: the latency monitor is off).
    #[inline]
    pub fn latency_threshold_ms(&self) -> u64 {
        self.latency_threshold_ms.load(Relaxed)
    }

    #[inline]
    pub fn latency_tracking(&self) -> bool {
        self.latency_tracking.load(Relaxed)
    }

    pub fn maxmemory(&self) -> u64 {
        self.maxmemory.load(Relaxed)
    }

    pub fn maxkeys(&self) -> u64 {
        self.maxkeys.load(Relaxed)
    }

    pub fn policy(&self) -> Policy {
        POLICIES[usize::from(self.policy.load(Relaxed)) % POLICIES.len()]
    }

    pub fn tenant(&self) -> bool {
        self.tenant.load(Relaxed)
    }

    /// How long one eviction pass may run before the command goes ahead and the cron
    /// carries on: 50 us per step of tenacity up to 10 (500 us at the default), then
    /// 15% more per step, and no limit at 100, as Redis scales it.
    fn eviction_time_limit(&self) -> Option<Duration> {
        let t = self.tenacity.load(Relaxed);
        if t >= 100 {
            return None;
        }
        let us = if t <= 10 {
            50.0 * f64::from(t)
        } else {
            500.0 * 1.15f64.powi(t as i32 - 10)
        };
        Some(Duration::from_micros(us as u64))
    }
}

/// Where a command stands against the memory and key limits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LimitState {
    Ok,
    /// Used memory is over `maxmemory` and eviction could not bring it under.
    OutOfMemory,
    /// The keyspace holds `maxkeys` keys or more.
    TooManyKeys(u64),
}

pub struct Instance {
    pub ks: Keyspace,
    /// Read freely; change it through [`Instance::update_config`], which keeps
    /// [`Instance::limits`] in step.
    pub config: RwLock<Config>,
    pub limits: Limits,
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
    /// Clients blocked in BLPOP, BZPOPMIN, XREAD BLOCK, ...
    pub blocking: crate::blocking::Blocking,
    /// Keys watched by clients (WATCH).
    pub watches: crate::multi::Watches,
    /// This instance's channels and patterns.
    pub pubsub: crate::pubsub::PubSub,
    /// `client-output-buffer-limit`, read without the config lock.
    pub obuf_limits: crate::pubsub::ObufLimits,
    /// `notify-keyspace-events` as class bits (0: off), read without the config lock.
    notify: AtomicU32,
    /// Slow log, latency monitor and histograms, MONITOR connections.
    pub diag: crate::diag::Diag,
    /// ACL users and the ACL log.
    pub acl: crate::acl::Acl,
    /// Scripts and functions (EVAL's cache, libraries, their Lua VMs, the running
    /// script).
    pub scripts: crate::scripts::Scripts,
    /// Client-side caching: the tracking table and BCAST prefixes.
    pub tracking: crate::tracking::Tracking,
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
        let limits = Limits::default();
        limits.load(&config);
        let obuf_limits = crate::pubsub::ObufLimits::default();
        obuf_limits.load(&config.client_output_buffer_limit);
        let notify = crate::pubsub::class::parse(&config.notify_keyspace_events);
        ks.events.set_mask(crate::pubsub::engine_mask(notify));
        let inst = Arc::new(Instance {
            ks,
            config: RwLock::new(config),
            limits,
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
            blocking: Default::default(),
            watches: Default::default(),
            pubsub: Default::default(),
            obuf_limits,
            notify: AtomicU32::new(notify),
            diag: crate::diag::Diag::new(registry().specs.len()),
            acl: crate::acl::Acl::default(),
            scripts: Default::default(),
            tracking: Default::default(),
        });
        inst.tracking
            .set_max_keys(inst.config.read().tracking_table_max_keys as usize);
        let pass = inst.config.read().requirepass.clone();
        if pass.is_some() {
            inst.acl.set_default_password(pass.as_deref());
        }
        inst
    }

    pub fn next_client_id(&self) -> u64 {
        self.next_client_id.fetch_add(1, Relaxed)
    }

    pub fn register_client(&self, info: Arc<ClientInfo>) {
        self.stats.total_connections_received.fetch_add(1, Relaxed);
        self.clients.lock().insert(info.id, info);
    }

    pub fn unregister_client(&self, id: u64) {
        if self.diag.monitors.any() {
            self.diag.monitors.remove(id);
        }
        self.clients.lock().remove(&id);
    }

    pub fn connected_clients(&self) -> usize {
        self.clients.lock().len()
    }

    /// Records a latency event (`expire-cycle`, `eviction-cycle`, ...) that took
    /// `elapsed`, if the latency monitor is on and it reached the threshold.
    pub fn latency_event(&self, event: &str, elapsed: Duration) {
        let threshold = self.limits.latency_threshold_ms();
        let ms = elapsed.as_millis() as u64;
        if threshold > 0 && ms >= threshold {
            self.diag.latency.add(event, ms);
        }
    }

    /// Asks the server to stop.
    pub fn request_shutdown(&self) {
        self.shutdown_requested.store(true, Relaxed);
        self.shutdown.notify_waiters();
        // A busy script stops too, even one that wrote (SHUTDOWN NOSAVE is how Redis
        // ends a script SCRIPT KILL refuses).
        self.scripts.force_kill();
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

    /// Whether a new connection starts unauthenticated: the default user has a
    /// password or is off, or this is a front door.
    pub fn needs_auth(&self) -> bool {
        self.is_front_door() || self.acl.default_needs_auth()
    }

    /// Changes the configuration and refreshes what dispatch reads from it.
    pub fn update_config(&self, f: impl FnOnce(&mut Config)) {
        let mut cfg = self.config.write();
        let policy_before = self.limits.policy();
        let pass_before = cfg.requirepass.clone();
        f(&mut cfg);
        self.limits.load(&cfg);
        self.obuf_limits.load(&cfg.client_output_buffer_limit);
        self.tracking
            .set_max_keys(cfg.tracking_table_max_keys as usize);
        let notify = crate::pubsub::class::parse(&cfg.notify_keyspace_events)
            | (self.notify.load(Relaxed) & crate::tracking::ACTIVE);
        if notify != self.notify.load(Relaxed) {
            self.notify.store(notify, Relaxed);
            self.ks.events.set_mask(crate::pubsub::engine_mask(notify));
        }
        let pass = (cfg.requirepass != pass_before).then(|| cfg.requirepass.clone());
        drop(cfg);
        if let Some(p) = pass {
            self.acl.set_default_password(p.as_deref());
        }
        if self.limits.policy() != policy_before {
            self.ks.clear_eviction_pool();
        }
    }

    /// `notify-keyspace-events` as [`crate::pubsub::class`] bits; 0 when no event is
    /// published (off, or neither `K` nor `E`) and no client tracks keys; with
    /// [`crate::tracking::ACTIVE`] while some client does (write hooks read both in
    /// one load).
    #[inline]
    pub fn notify_flags(&self) -> u32 {
        self.notify.load(Relaxed)
    }

    /// Sets or clears [`crate::tracking::ACTIVE`] (the first client turned tracking on,
    /// or the last one off), and what the engine records for it (expired and evicted
    /// keys). Serialized with configuration changes by the config lock.
    pub fn set_tracking_active(&self, on: bool) {
        let _cfg = self.config.write();
        let notify = if on {
            self.notify.fetch_or(crate::tracking::ACTIVE, Relaxed) | crate::tracking::ACTIVE
        } else {
            self.notify.fetch_and(!crate::tracking::ACTIVE, Relaxed) & !crate::tracking::ACTIVE
        };
        self.ks.events.set_mask(crate::pubsub::engine_mask(notify));
    }

    /// The access clock commands stamp keys with at `now_ms`.
    #[inline]
    pub fn access_clock(&self, now_ms: u64) -> Access {
        let policy = self.limits.policy();
        if policy.is_lfu() {
            Access::lfu(
                now_ms,
                self.limits.lfu_log_factor.load(Relaxed),
                self.limits.lfu_decay_time.load(Relaxed),
            )
        } else {
            Access::lru(now_ms)
        }
    }

    /// The memory figure `maxmemory` is compared with.
    ///
    /// A tenant shares its process, so only its keyspace's accounted bytes are its own.
    /// A standalone node is compared as Redis compares itself, by what the allocator has
    /// handed out, when the binary installed an allocator probe: the figure sampled by
    /// the cron (an allocator query is too dear for every command) plus the accounted
    /// bytes added or freed since, so a burst of writes or evictions counts at once and
    /// the sample corrects the estimate's drift every cron tick. Without a probe (an
    /// instance embedded in another program, as in tests) the process's figures are not
    /// this instance's, and the accounted bytes are used.
    pub fn used_memory_for_limit(&self) -> u64 {
        let accounted = self.ks.used_memory();
        if self.limits.tenant() || allocated_probe().is_none() {
            return accounted;
        }
        let mut base = self.limits.alloc_sample.load(Relaxed);
        if base == 0 {
            self.sample_allocator();
            base = self.limits.alloc_sample.load(Relaxed);
            if base == 0 {
                return accounted;
            }
        }
        let since = accounted as i64 - self.limits.accounted_sample.load(Relaxed) as i64;
        (base as i64).saturating_add(since).max(0) as u64
    }

    /// Refreshes the allocator sample (cron; standalone nodes with a probe only).
    pub fn sample_allocator(&self) {
        if self.limits.tenant() {
            return;
        }
        if let Some(probe) = allocated_probe() {
            let accounted = self.ks.used_memory();
            self.limits.alloc_sample.store(probe(), Relaxed);
            self.limits.accounted_sample.store(accounted, Relaxed);
        }
    }

    /// Brings used memory under `maxmemory` by evicting keys as the policy says, as
    /// Redis does before every command. Returns false when memory is over the limit and
    /// nothing more can be evicted (noeviction, or no candidate left); true when under
    /// the limit, or when the pass ran out of time with eviction still possible (the
    /// cron carries on, and the command is not refused).
    pub fn evict_to_limit(&self) -> bool {
        let max = self.limits.maxmemory();
        if max == 0 || self.used_memory_for_limit() <= max {
            return true;
        }
        let policy = self.limits.policy();
        if policy == Policy::NoEviction {
            return false;
        }
        let started = Instant::now();
        let r = self.evict_over_limit(max, policy);
        self.latency_event("eviction-cycle", started.elapsed());
        r
    }

    /// The eviction loop of [`Instance::evict_to_limit`], once memory is over `max`.
    fn evict_over_limit(&self, max: u64, policy: Policy) -> bool {
        let samples = self.limits.samples.load(Relaxed) as usize;
        let limit = self.limits.eviction_time_limit();
        let started = Instant::now();
        let now_ms = unix_ms();
        let clock = self.access_clock(now_ms);
        let mut n = 0u32;
        while self.used_memory_for_limit() > max {
            if self.ks.evict_one(policy, samples, &clock, now_ms).is_none() {
                return false;
            }
            n += 1;
            if n % 16 == 0 && limit.is_some_and(|l| started.elapsed() > l) {
                return true;
            }
        }
        true
    }

    /// Checks the memory and key limits before a command runs, evicting if needed.
    /// `denyoom`: the command may add data (refused when over a limit); other commands
    /// still trigger eviction but always run.
    pub fn check_limits(&self, denyoom: bool) -> LimitState {
        if self.limits.maxmemory() != 0 && !self.evict_to_limit() && denyoom {
            return LimitState::OutOfMemory;
        }
        if denyoom {
            let max = self.limits.maxkeys();
            if max != 0 && self.ks.key_count() >= max {
                return LimitState::TooManyKeys(max);
            }
        }
        LimitState::Ok
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
static ALLOCATED_PROBE: OnceLock<fn() -> u64> = OnceLock::new();

/// The binary installs a probe that returns the bytes its allocator has handed out, up
/// to date (a standalone node's maxmemory is enforced against it).
pub fn set_allocated_probe(f: fn() -> u64) {
    let _ = ALLOCATED_PROBE.set(f);
}

fn allocated_probe() -> Option<fn() -> u64> {
    ALLOCATED_PROBE.get().copied()
}

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
