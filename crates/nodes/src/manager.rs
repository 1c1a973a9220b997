//! Databases, their lifecycle, and the front door's directory.
//!
//! Locking: the map of databases is an `RwLock`; each database has its own mutex, so a
//! slow operation on one (a snapshot of a large dataset) never holds up another, nor
//! the front door's lookups of the others. The port pool and the manifest have their
//! own small locks, always taken after a database's lock, never before.

use std::collections::{BTreeMap, VecDeque};
use std::net::{IpAddr, Ipv4Addr, TcpListener};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use commands::directory::constant_time_eq;
use commands::instance::unix_ms;
use commands::{Config, Directory, Instance, OpenError};
use parking_lot::{Mutex, RwLock};
use serde::Serialize;
use server::{IoPool, Listener};

use crate::manifest::{self, Record};
use crate::ports::{PortCapacity, PortPool};
use crate::spec::{DatabaseSpec, Limits, LimitsPatch, Origin, Persistence, PortChoice};
use crate::NodeError;

/// How the manager runs. Defaults are what `miniredis server` documents.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Address every database listens on.
    pub host: IpAddr,
    pub port_start: u16,
    pub port_end: u16,
    /// How long a released port rests before it is handed out again.
    pub port_quarantine: Duration,
    /// Manifest and per-database data live here.
    pub data_dir: PathBuf,
    /// How often each database is pinged through its own port.
    pub health_interval: Duration,
    /// How often a database with unsaved changes is snapshotted.
    pub snapshot_interval: Duration,
    /// First and last delay between attempts to recover a failed database.
    pub backoff_min: Duration,
    pub backoff_max: Duration,
    /// Lock shards per database keyspace.
    pub shards: usize,
    /// I/O threads one database's connections are spread over (0: half the pool, at
    /// least one). Fewer means neighbours are better shielded from a busy database;
    /// more means one database can use more cores.
    pub tenant_threads: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            host: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port_start: 6000,
            port_end: 6999,
            port_quarantine: Duration::from_secs(30),
            data_dir: PathBuf::from("miniredis-data"),
            health_interval: Duration::from_secs(5),
            snapshot_interval: Duration::from_secs(60),
            backoff_min: Duration::from_millis(500),
            backoff_max: Duration::from_secs(30),
            shards: 4,
            tenant_threads: 0,
        }
    }
}

/// A database's lifecycle state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Creating,
    Running,
    Stopping,
    Stopped,
    Failed,
    Deleting,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Creating => "creating",
            Status::Running => "running",
            Status::Stopping => "stopping",
            Status::Stopped => "stopped",
            Status::Failed => "failed",
            Status::Deleting => "deleting",
        }
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One line of a database's event log.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Event {
    pub at_ms: u64,
    pub message: String,
}

/// Events kept per database (oldest dropped first).
const EVENTS_KEPT: usize = 256;

/// What the manager tells about a database.
#[derive(Debug, Clone, Serialize)]
pub struct DatabaseInfo {
    pub name: String,
    pub status: Status,
    /// When it entered `status` (unix ms).
    pub status_since_ms: u64,
    pub created_at_ms: u64,
    pub host: String,
    /// Its own port, if it has one.
    pub port: Option<u16>,
    pub has_password: bool,
    pub limits: Limits,
    pub persistence: Persistence,
    pub origin: Origin,
    pub used_memory: u64,
    pub keys: u64,
    pub connected_clients: usize,
    pub restarts: u64,
    pub last_error: Option<String>,
    pub last_save_ms: Option<u64>,
}

/// What the host can still take.
#[derive(Debug, Clone, Serialize)]
pub struct Capacity {
    pub ports: PortCapacity,
    pub databases: usize,
    pub running: usize,
    /// Sum of the memory limits of databases that have one.
    pub memory_committed: u64,
    /// Databases without a memory limit (not in `memory_committed`).
    pub unlimited_databases: usize,
    pub host_memory: u64,
}

/// Why a database is failed, and when the next attempt to recover it is due.
#[derive(Debug)]
struct Failure {
    reason: String,
    next_try: Instant,
    backoff: Duration,
    /// Persistence failures recover by saving again; the others by listening again.
    persistence: bool,
}

pub(crate) struct Db {
    pub(crate) spec: DatabaseSpec,
    pub(crate) port: Option<u16>,
    pub(crate) status: Status,
    status_since_ms: u64,
    created_at_ms: u64,
    pub(crate) instance: Option<Arc<Instance>>,
    pub(crate) listener: Option<Listener>,
    events: VecDeque<Event>,
    restarts: u64,
    failure: Option<Failure>,
    last_error: Option<String>,
    last_save_ms: Option<u64>,
    pub(crate) last_save_at: Instant,
    pub(crate) last_health: Instant,
}

impl Db {
    /// A database with no instance or listener yet.
    fn new(spec: DatabaseSpec, port: Option<u16>, status: Status, created_at_ms: u64) -> Db {
        Db {
            spec,
            port,
            status,
            status_since_ms: unix_ms(),
            created_at_ms,
            instance: None,
            listener: None,
            events: VecDeque::new(),
            restarts: 0,
            failure: None,
            last_error: None,
            last_save_ms: None,
            last_save_at: Instant::now(),
            last_health: Instant::now(),
        }
    }

    fn event(&mut self, message: impl Into<String>) {
        let message = message.into();
        tracing::info!(database = %self.spec.name, "{message}");
        if self.events.len() >= EVENTS_KEPT {
            self.events.pop_front();
        }
        self.events.push_back(Event {
            at_ms: unix_ms(),
            message,
        });
    }

    fn set_status(&mut self, s: Status) {
        if self.status != s {
            let from = self.status;
            self.status = s;
            self.status_since_ms = unix_ms();
            self.event(format!("status {from} -> {s}"));
        }
    }

    fn wrong_state(&self, action: &'static str) -> NodeError {
        NodeError::WrongState {
            name: self.spec.name.clone(),
            status: self.status.to_string(),
            action,
        }
    }
}

/// The node manager. Create it with [`NodeManager::open`], which restores what the
/// manifest says and starts supervision.
pub struct NodeManager {
    pub(crate) settings: Settings,
    pub(crate) pool: Arc<IoPool>,
    ports: Mutex<PortPool>,
    pub(crate) dbs: RwLock<BTreeMap<String, Arc<Mutex<Db>>>>,
    pub(crate) stopping: AtomicBool,
    supervisor: Mutex<Option<JoinHandle<()>>>,
}

impl NodeManager {
    /// Opens the manager over `settings.data_dir`: reads the manifest, brings back
    /// every database that was running (on its port, with its data when persistence
    /// is on) and starts supervision. Returns once all of them serve.
    pub fn open(settings: Settings, pool: Arc<IoPool>) -> Result<Arc<NodeManager>, NodeError> {
        std::fs::create_dir_all(settings.data_dir.join("databases")).map_err(|e| {
            NodeError::Io(format!(
                "cannot create data directory {}: {e}",
                settings.data_dir.display()
            ))
        })?;
        let records = manifest::read_all(&settings.data_dir).map_err(NodeError::Io)?;
        let quarantine = manifest::read_quarantine(&settings.data_dir).map_err(NodeError::Io)?;
        let mut ports = PortPool::new(
            settings.port_start,
            settings.port_end,
            settings.port_quarantine,
        )?;
        for (p, until_ms) in &quarantine {
            ports.rest_until(
                *p,
                SystemTime::UNIX_EPOCH + Duration::from_millis(*until_ms),
            );
        }
        for r in &records {
            if let Some(p) = r.port {
                ports.mark_used(p);
            }
        }
        let mgr = Arc::new(NodeManager {
            settings,
            pool,
            ports: Mutex::new(ports),
            dbs: RwLock::new(BTreeMap::new()),
            stopping: AtomicBool::new(false),
            supervisor: Mutex::new(None),
        });
        for r in records {
            let name = r.spec.name.clone();
            let db = Db::new(r.spec.clone(), r.port, Status::Stopped, r.created_at_ms);
            let cell = Arc::new(Mutex::new(db));
            mgr.dbs.write().insert(name.clone(), cell.clone());
            if r.running {
                let mut db = cell.lock();
                db.event("restoring after process start");
                if let Err(e) = mgr.bring_up(&mut db) {
                    // It stays failed; supervision keeps trying.
                    mgr.fail(&mut db, e.to_string(), false);
                }
            }
        }
        mgr.save_quarantine()?;
        let weak = Arc::downgrade(&mgr);
        let handle = std::thread::Builder::new()
            .name("miniredis-supervisor".into())
            .spawn(move || crate::supervisor::run(weak))
            .map_err(|e| NodeError::Io(format!("cannot start supervisor: {e}")))?;
        *mgr.supervisor.lock() = Some(handle);
        Ok(mgr)
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// How many I/O threads a database's connections are spread over.
    fn spread(&self) -> usize {
        match self.settings.tenant_threads {
            0 => (self.pool.io_threads() / 2).max(1),
            n => n,
        }
    }

    pub fn pool(&self) -> &Arc<IoPool> {
        &self.pool
    }

    fn db_dir(&self, name: &str) -> PathBuf {
        self.settings.data_dir.join("databases").join(name)
    }

    /// Where a database's snapshots go: its own `dir`, or its directory under the
    /// data directory.
    fn data_dir_of(&self, spec: &DatabaseSpec) -> PathBuf {
        spec.dir.clone().unwrap_or_else(|| self.db_dir(&spec.name))
    }

    fn snapshot_path(&self, spec: &DatabaseSpec) -> PathBuf {
        self.data_dir_of(spec).join("dump.rdb")
    }

    fn cell(&self, name: &str) -> Result<Arc<Mutex<Db>>, NodeError> {
        self.dbs
            .read()
            .get(name)
            .cloned()
            .ok_or_else(|| NodeError::NotFound(name.to_string()))
    }

    fn check_open(&self) -> Result<(), NodeError> {
        if self.stopping.load(Relaxed) {
            Err(NodeError::ShuttingDown)
        } else {
            Ok(())
        }
    }

    /// The configuration of a tenant instance for `spec`.
    fn instance_config(&self, spec: &DatabaseSpec, port: Option<u16>) -> Config {
        Config {
            port: port.unwrap_or(0),
            bind: vec![self.settings.host.to_string()],
            requirepass: spec.password.clone(),
            maxmemory: spec.limits.maxmemory,
            maxmemory_policy: spec.limits.maxmemory_policy.clone(),
            maxkeys: spec.limits.maxkeys,
            maxclients: spec.limits.maxclients,
            dir: self.data_dir_of(spec),
            // The manager writes snapshots itself (on stop, and on its schedule).
            save: String::new(),
            appendonly: false,
            shards: self.settings.shards,
            io_threads: self.pool.io_threads(),
            tenant: true,
            database: Some(spec.name.clone()),
            ..Config::default()
        }
    }

    /// Creates a database and starts it. Returns its description (with its port).
    pub fn create(&self, spec: DatabaseSpec) -> Result<DatabaseInfo, NodeError> {
        self.check_open()?;
        spec.validate()?;
        let name = spec.name.clone();
        let cell = {
            let mut map = self.dbs.write();
            if map.contains_key(&name) {
                return Err(NodeError::Exists(name));
            }
            let cell = Arc::new(Mutex::new(Db::new(
                spec.clone(),
                None,
                Status::Creating,
                unix_ms(),
            )));
            map.insert(name.clone(), cell.clone());
            cell
        };
        let mut db = cell.lock();
        db.event("created");
        let result = (|| {
            let listener = match spec.port {
                PortChoice::Auto => {
                    let (p, l) = self.ports.lock().allocate(self.settings.host)?;
                    db.port = Some(p);
                    Some(l)
                }
                PortChoice::Fixed(p) => {
                    let l = self.ports.lock().claim(self.settings.host, p)?;
                    db.port = Some(p);
                    Some(l)
                }
                PortChoice::None => None,
            };
            // A fresh database starts empty, whatever an earlier one of the same name
            // left behind.
            let _ = std::fs::remove_dir_all(self.db_dir(&name));
            let _ = std::fs::remove_file(self.snapshot_path(&spec));
            for dir in [self.db_dir(&name), self.data_dir_of(&spec)] {
                std::fs::create_dir_all(&dir)
                    .map_err(|e| NodeError::Io(format!("cannot create {}: {e}", dir.display())))?;
            }
            self.serve(&mut db, listener, false)
        })();
        if let Err(e) = result {
            if let Some(p) = db.port.take() {
                // Never handed out: no quarantine needed.
                self.ports.lock().release_now(p);
            }
            drop(db);
            self.dbs.write().remove(&name);
            return Err(e);
        }
        let info = self.describe(&db);
        drop(db);
        self.record(&name, &cell)?;
        Ok(info)
    }

    /// Makes the instance and the listener of a database that has neither, loading
    /// its snapshot if it has persistence; status ends at Running.
    fn bring_up(&self, db: &mut Db) -> Result<(), NodeError> {
        let listener = match db.port {
            Some(p) => Some(self.ports.lock().bind_held(self.settings.host, p)?),
            None => None,
        };
        self.serve(db, listener, true)
    }

    fn serve(
        &self,
        db: &mut Db,
        listener: Option<TcpListener>,
        load: bool,
    ) -> Result<(), NodeError> {
        let inst = Instance::new(self.instance_config(&db.spec, db.port));
        if load && db.spec.persistence == Persistence::Snapshot {
            let path = self.snapshot_path(&db.spec);
            if path.exists() {
                let started = Instant::now();
                let (_, functions) =
                    persistence::load_with_functions(&inst.ks, &path, unix_ms())
                        .map_err(|e| NodeError::Persistence(db.spec.name.clone(), e.to_string()))?;
                for code in &functions {
                    commands::families::scripting::load_library_into(&inst, code, false)
                        .map_err(|e| NodeError::Persistence(db.spec.name.clone(), e))?;
                }
                db.event(format!(
                    "loaded snapshot: {} keys in {} ms",
                    inst.ks.key_count(),
                    started.elapsed().as_millis()
                ));
            }
        }
        let served = match listener {
            Some(l) => Some(
                self.pool
                    .listen_spread(l, inst.clone(), self.spread())
                    .map_err(|e| NodeError::Io(format!("cannot listen: {e:#}")))?,
            ),
            None => {
                self.pool.watch(&inst);
                None
            }
        };
        db.instance = Some(inst);
        db.listener = served;
        db.failure = None;
        db.last_error = None;
        db.last_save_at = Instant::now();
        db.last_health = Instant::now();
        db.set_status(Status::Running);
        Ok(())
    }

    /// Stops listening, closes every client, saves (with persistence) and frees the
    /// memory. The database keeps its port and its data on disk.
    pub fn stop(&self, name: &str) -> Result<DatabaseInfo, NodeError> {
        let cell = self.cell(name)?;
        let mut db = cell.lock();
        match db.status {
            Status::Running | Status::Failed => {}
            _ => return Err(db.wrong_state("stop")),
        }
        let saved = self.take_down(&mut db, true);
        db.set_status(Status::Stopped);
        let info = self.describe(&db);
        drop(db);
        self.record(name, &cell)?;
        saved.map(|_| info)
    }

    /// Closes the listener and clients, saves if asked and persistence is on, and drops
    /// the instance. A failed save is reported, and the instance dropped anyway only
    /// if the save succeeded (otherwise the data would be lost).
    fn take_down(&self, db: &mut Db, save: bool) -> Result<(), NodeError> {
        db.set_status(Status::Stopping);
        if let Some(l) = db.listener.take() {
            l.close();
        }
        if let Some(inst) = &db.instance {
            inst.kill_clients();
        }
        if save && db.spec.persistence == Persistence::Snapshot {
            if let Err(e) = self.save_locked(db) {
                db.last_error = Some(e.to_string());
                db.set_status(Status::Failed);
                return Err(e);
            }
        }
        db.instance = None;
        db.failure = None;
        Ok(())
    }

    /// Starts a stopped (or failed) database on its port, with its data.
    pub fn start(&self, name: &str) -> Result<DatabaseInfo, NodeError> {
        self.check_open()?;
        let cell = self.cell(name)?;
        let mut db = cell.lock();
        match db.status {
            Status::Stopped => {}
            Status::Failed => {
                // A failed database may still hold its instance (its data): keep it.
                if db.instance.is_some() {
                    self.recover(&mut db)?;
                    let info = self.describe(&db);
                    drop(db);
                    self.record(name, &cell)?;
                    return Ok(info);
                }
            }
            _ => return Err(db.wrong_state("start")),
        }
        db.set_status(Status::Creating);
        if let Err(e) = self.bring_up(&mut db) {
            db.last_error = Some(e.to_string());
            db.set_status(Status::Failed);
            return Err(e);
        }
        let info = self.describe(&db);
        drop(db);
        self.record(name, &cell)?;
        Ok(info)
    }

    /// Stop then start: with persistence on, the data comes back.
    pub fn restart(&self, name: &str) -> Result<DatabaseInfo, NodeError> {
        let cell = self.cell(name)?;
        {
            let mut db = cell.lock();
            match db.status {
                Status::Running | Status::Failed => {
                    self.take_down(&mut db, true)?;
                    db.set_status(Status::Stopped);
                }
                Status::Stopped => {}
                _ => return Err(db.wrong_state("restart")),
            }
            db.restarts += 1;
        }
        self.start(name)
    }

    /// Removes a database and its data; its port goes into quarantine.
    pub fn delete(&self, name: &str) -> Result<(), NodeError> {
        let cell = self.cell(name)?;
        let mut db = cell.lock();
        if matches!(db.status, Status::Deleting | Status::Creating) {
            return Err(db.wrong_state("delete"));
        }
        db.set_status(Status::Deleting);
        if let Some(l) = db.listener.take() {
            l.close();
        }
        if let Some(inst) = db.instance.take() {
            inst.kill_clients();
        }
        // Its own directory goes; a directory the operator named keeps everything but
        // the snapshot.
        let dir = self.db_dir(name);
        if let Err(e) = std::fs::remove_dir_all(&dir) {
            if e.kind() != std::io::ErrorKind::NotFound {
                db.event(format!("could not remove {}: {e}", dir.display()));
            }
        }
        let _ = std::fs::remove_file(self.snapshot_path(&db.spec));
        if let Some(p) = db.port.take() {
            self.ports.lock().release(p);
        }
        drop(db);
        self.dbs.write().remove(name);
        manifest::sync_dir(&manifest::databases_dir(&self.settings.data_dir))
            .map_err(NodeError::Io)?;
        self.save_quarantine()
    }

    /// Changes limits live: the running instance sees them at once.
    pub fn update_limits(
        &self,
        name: &str,
        patch: &LimitsPatch,
    ) -> Result<DatabaseInfo, NodeError> {
        let cell = self.cell(name)?;
        let mut db = cell.lock();
        let limits = patch.apply(&db.spec.limits);
        crate::spec::validate_limits(&limits)?;
        if let Some(inst) = &db.instance {
            inst.update_config(|c| {
                c.maxmemory = limits.maxmemory;
                c.maxmemory_policy = limits.maxmemory_policy.clone();
                c.maxkeys = limits.maxkeys;
                c.maxclients = limits.maxclients;
            });
        }
        db.event(format!("limits changed: {limits:?}"));
        db.spec.limits = limits;
        let info = self.describe(&db);
        drop(db);
        self.record(name, &cell)?;
        Ok(info)
    }

    /// Sets (or removes, with None) the password. Connections already authenticated
    /// stay, as with Redis's CONFIG SET requirepass; new ones need the new password.
    pub fn set_password(&self, name: &str, password: Option<String>) -> Result<(), NodeError> {
        if let Some(p) = &password {
            crate::spec::validate_password(p)?;
        }
        let cell = self.cell(name)?;
        let mut db = cell.lock();
        if let Some(inst) = &db.instance {
            inst.update_config(|c| c.requirepass = password.clone());
        }
        db.spec.password = password;
        db.event("password changed");
        drop(db);
        self.record(name, &cell)
    }

    /// Changes the persistence mode. Turning it on saves at once.
    pub fn set_persistence(&self, name: &str, mode: Persistence) -> Result<(), NodeError> {
        let cell = self.cell(name)?;
        let mut db = cell.lock();
        db.spec.persistence = mode;
        db.event(format!("persistence set to {mode:?}"));
        if mode == Persistence::Snapshot && db.instance.is_some() {
            self.save_locked(&mut db)?;
        }
        if mode == Persistence::None {
            let _ = std::fs::remove_file(self.snapshot_path(&db.spec));
        }
        drop(db);
        self.record(name, &cell)
    }

    /// Writes a snapshot now.
    pub fn save(&self, name: &str) -> Result<(), NodeError> {
        let cell = self.cell(name)?;
        let mut db = cell.lock();
        self.save_locked(&mut db)
    }

    pub(crate) fn save_locked(&self, db: &mut Db) -> Result<(), NodeError> {
        let Some(inst) = db.instance.clone() else {
            return Err(db.wrong_state("save"));
        };
        let dir = self.data_dir_of(&db.spec);
        let started = Instant::now();
        let changes = inst.dirty.load(Relaxed);
        let result = std::fs::create_dir_all(&dir)
            .map_err(|e| e.to_string())
            .and_then(|_| {
                persistence::save_with_functions(
                    &inst.ks,
                    &self.snapshot_path(&db.spec),
                    unix_ms(),
                    &commands::families::scripting::library_codes(&inst),
                )
                .map_err(|e| e.to_string())
            });
        match result {
            Ok(_) => {
                inst.dirty
                    .fetch_sub(changes.min(inst.dirty.load(Relaxed)), Relaxed);
                inst.lastsave_unix.store(unix_ms() / 1000, Relaxed);
                inst.writes_refused.store(false, Relaxed);
                db.last_save_ms = Some(unix_ms());
                db.last_save_at = Instant::now();
                db.event(format!(
                    "snapshot saved in {} ms",
                    started.elapsed().as_millis()
                ));
                Ok(())
            }
            Err(e) => {
                if inst.config.read().stop_writes_on_bgsave_error {
                    inst.writes_refused.store(true, Relaxed);
                }
                db.last_save_at = Instant::now();
                db.event(format!("snapshot failed: {e}"));
                Err(NodeError::Persistence(db.spec.name.clone(), e))
            }
        }
    }

    /// Marks a database failed; supervision will try to recover it.
    pub(crate) fn fail(&self, db: &mut Db, reason: String, persistence: bool) {
        db.event(format!("failed: {reason}"));
        db.last_error = Some(reason.clone());
        let backoff = db
            .failure
            .as_ref()
            .map(|f| (f.backoff * 2).min(self.settings.backoff_max))
            .unwrap_or(self.settings.backoff_min);
        db.failure = Some(Failure {
            reason,
            next_try: Instant::now() + backoff,
            backoff,
            persistence,
        });
        db.set_status(Status::Failed);
    }

    /// Whether a failed database is due for a recovery attempt.
    pub(crate) fn due(&self, db: &Db) -> bool {
        db.status == Status::Failed
            && db
                .failure
                .as_ref()
                .is_none_or(|f| Instant::now() >= f.next_try)
    }

    /// One attempt to bring a failed database back: listen again (keeping the data
    /// in memory), save again if persistence was what failed, or start from the
    /// snapshot if the instance is gone.
    pub(crate) fn recover(&self, db: &mut Db) -> Result<(), NodeError> {
        let persistence_failed = db.failure.as_ref().is_some_and(|f| f.persistence);
        let reason = db
            .failure
            .as_ref()
            .map(|f| f.reason.clone())
            .unwrap_or_default();
        let result = if db.instance.is_none() {
            self.bring_up(db)
        } else if persistence_failed {
            self.save_locked(db).map(|_| {
                db.failure = None;
                db.last_error = None;
                db.set_status(Status::Running);
            })
        } else {
            if let Some(l) = db.listener.take() {
                l.close();
            }
            self.relisten(db)
        };
        match result {
            Ok(()) => {
                db.restarts += 1;
                db.event(format!("recovered from: {reason}"));
                Ok(())
            }
            Err(e) => {
                self.fail(db, e.to_string(), persistence_failed);
                Err(e)
            }
        }
    }

    /// Listens again on the database's port with the instance it already has.
    fn relisten(&self, db: &mut Db) -> Result<(), NodeError> {
        if let (Some(port), Some(inst)) = (db.port, db.instance.clone()) {
            let l = self.ports.lock().bind_held(self.settings.host, port)?;
            let served = self
                .pool
                .listen_spread(l, inst, self.spread())
                .map_err(|e| NodeError::Io(format!("cannot listen: {e:#}")))?;
            db.listener = Some(served);
        }
        db.failure = None;
        db.last_error = None;
        db.last_health = Instant::now();
        db.set_status(Status::Running);
        Ok(())
    }

    pub fn info(&self, name: &str) -> Result<DatabaseInfo, NodeError> {
        let cell = self.cell(name)?;
        let db = cell.lock();
        Ok(self.describe(&db))
    }

    pub fn list(&self) -> Vec<DatabaseInfo> {
        let cells: Vec<_> = self.dbs.read().values().cloned().collect();
        cells.iter().map(|c| self.describe(&c.lock())).collect()
    }

    pub fn names(&self) -> Vec<String> {
        self.dbs.read().keys().cloned().collect()
    }

    /// The database's event log, oldest first.
    pub fn events(&self, name: &str) -> Result<Vec<Event>, NodeError> {
        let cell = self.cell(name)?;
        let db = cell.lock();
        Ok(db.events.iter().cloned().collect())
    }

    /// The running instance of a database (for in-process use: tests, the control
    /// plane's commands over HTTP).
    pub fn instance(&self, name: &str) -> Option<Arc<Instance>> {
        let cell = self.cell(name).ok()?;
        let db = cell.lock();
        db.instance.clone()
    }

    pub fn capacity(&self) -> Capacity {
        let ports = self.ports.lock().capacity();
        let infos = self.list();
        Capacity {
            ports,
            databases: infos.len(),
            running: infos.iter().filter(|i| i.status == Status::Running).count(),
            memory_committed: infos.iter().map(|i| i.limits.maxmemory).sum(),
            unlimited_databases: infos.iter().filter(|i| i.limits.maxmemory == 0).count(),
            host_memory: commands::instance::proc_memory().total_system,
        }
    }

    fn describe(&self, db: &Db) -> DatabaseInfo {
        let (used_memory, keys, clients) = match &db.instance {
            Some(i) => (i.ks.used_memory(), i.ks.key_count(), i.connected_clients()),
            None => (0, 0, 0),
        };
        DatabaseInfo {
            name: db.spec.name.clone(),
            status: db.status,
            status_since_ms: db.status_since_ms,
            created_at_ms: db.created_at_ms,
            host: self.settings.host.to_string(),
            port: db.port,
            has_password: db.spec.password.is_some(),
            limits: db.spec.limits.clone(),
            persistence: db.spec.persistence,
            origin: db.spec.origin,
            used_memory,
            keys,
            connected_clients: clients,
            restarts: db.restarts,
            last_error: db.last_error.clone(),
            last_save_ms: db.last_save_ms,
        }
    }

    /// Updates the on-disk record of one database from its current state.
    fn record(&self, _name: &str, cell: &Arc<Mutex<Db>>) -> Result<(), NodeError> {
        let r = {
            let db = cell.lock();
            Record {
                spec: db.spec.clone(),
                port: db.port,
                running: matches!(db.status, Status::Running | Status::Failed),
                created_at_ms: db.created_at_ms,
            }
        };
        manifest::write_record(&self.settings.data_dir, &r).map_err(NodeError::Io)
    }

    fn save_quarantine(&self) -> Result<(), NodeError> {
        let q: Vec<(u16, u64)> = self
            .ports
            .lock()
            .resting()
            .into_iter()
            .map(|(p, t)| {
                (
                    p,
                    t.duration_since(SystemTime::UNIX_EPOCH)
                        .map(|d| d.as_millis() as u64)
                        .unwrap_or(0),
                )
            })
            .collect();
        manifest::write_quarantine(&self.settings.data_dir, &q).map_err(NodeError::Io)
    }

    /// Reconciles the databases declared in a configuration file with what exists:
    /// creates the missing, updates the changed, and deletes databases that were
    /// declared before and no longer are (databases created otherwise are left
    /// alone). Returns one line per change.
    pub fn apply_declared(&self, declared: &[DatabaseSpec]) -> Result<Vec<String>, NodeError> {
        let mut changes = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for d in declared {
            let mut spec = d.clone();
            spec.origin = Origin::Config;
            spec.validate()?;
            if !seen.insert(spec.name.clone()) {
                return Err(NodeError::Invalid(format!(
                    "database '{}' is declared twice",
                    spec.name
                )));
            }
        }
        for d in declared {
            let mut spec = d.clone();
            spec.origin = Origin::Config;
            let existing = self.cell(&spec.name).ok().map(|c| {
                let db = c.lock();
                (db.spec.clone(), db.port, db.status)
            });
            match existing {
                None => {
                    let info = self.create(spec.clone())?;
                    changes.push(format!(
                        "created '{}'{}",
                        spec.name,
                        info.port
                            .map(|p| format!(" on port {p}"))
                            .unwrap_or_default()
                    ));
                }
                Some((old, port, status)) => {
                    let port_changed = match spec.port {
                        PortChoice::Auto => port.is_none(),
                        PortChoice::None => port.is_some(),
                        PortChoice::Fixed(p) => port != Some(p),
                    };
                    if port_changed {
                        self.move_port(&spec.name, spec.port)?;
                        changes.push(format!("moved '{}' to port {:?}", spec.name, spec.port));
                    }
                    if old.password != spec.password {
                        self.set_password(&spec.name, spec.password.clone())?;
                        changes.push(format!("changed the password of '{}'", spec.name));
                    }
                    if old.limits != spec.limits {
                        let l = &spec.limits;
                        self.update_limits(
                            &spec.name,
                            &LimitsPatch {
                                maxmemory: Some(l.maxmemory),
                                maxmemory_policy: Some(l.maxmemory_policy.clone()),
                                maxkeys: Some(l.maxkeys),
                                maxclients: Some(l.maxclients),
                            },
                        )?;
                        changes.push(format!("changed the limits of '{}'", spec.name));
                    }
                    if old.persistence != spec.persistence {
                        self.set_persistence(&spec.name, spec.persistence)?;
                        changes.push(format!(
                            "set persistence of '{}' to {:?}",
                            spec.name, spec.persistence
                        ));
                    }
                    if old.dir != spec.dir {
                        changes.push(format!(
                            "set the directory of '{}' (snapshots go there from the next save)",
                            spec.name
                        ));
                    }
                    if old.origin != Origin::Config || old.port != spec.port || old.dir != spec.dir
                    {
                        let cell = self.cell(&spec.name)?;
                        {
                            let mut db = cell.lock();
                            db.spec.origin = Origin::Config;
                            db.spec.port = spec.port;
                            db.spec.dir = spec.dir.clone();
                            if let Some(inst) = &db.instance {
                                let dir = self.data_dir_of(&db.spec);
                                inst.update_config(|c| c.dir = dir);
                            }
                        }
                        self.record(&spec.name, &cell)?;
                    }
                    if status == Status::Stopped {
                        self.start(&spec.name)?;
                        changes.push(format!("started '{}'", spec.name));
                    }
                }
            }
        }
        let stale: Vec<String> = self
            .list()
            .into_iter()
            .filter(|i| i.origin == Origin::Config && !seen.contains(&i.name))
            .map(|i| i.name)
            .collect();
        for name in stale {
            self.delete(&name)?;
            changes.push(format!("deleted '{name}' (no longer declared)"));
        }
        Ok(changes)
    }

    /// Gives a database another port (or none), keeping its data in memory.
    pub fn move_port(&self, name: &str, to: PortChoice) -> Result<(), NodeError> {
        let cell = self.cell(name)?;
        let mut db = cell.lock();
        let new_listener = match to {
            PortChoice::Auto => {
                let (p, l) = self.ports.lock().allocate(self.settings.host)?;
                Some((p, l))
            }
            PortChoice::Fixed(p) => Some((p, self.ports.lock().claim(self.settings.host, p)?)),
            PortChoice::None => None,
        };
        if let Some(l) = db.listener.take() {
            l.close();
        }
        if let Some(old) = db.port.take() {
            self.ports.lock().release(old);
        }
        db.spec.port = to;
        if let Some((p, l)) = new_listener {
            db.port = Some(p);
            if let Some(inst) = db.instance.clone() {
                let served = self
                    .pool
                    .listen_spread(l, inst, self.spread())
                    .map_err(|e| NodeError::Io(format!("cannot listen: {e:#}")))?;
                db.listener = Some(served);
            }
        }
        let port = db.port;
        db.event(format!("port changed to {port:?}"));
        drop(db);
        self.record(name, &cell)
    }

    /// Test and operations hook: ends a database's accept loop as a crash of its
    /// listener would. Supervision must notice and bring it back.
    pub fn kill_listener(&self, name: &str) -> Result<(), NodeError> {
        let cell = self.cell(name)?;
        let db = cell.lock();
        if let Some(l) = &db.listener {
            l.kill();
        }
        Ok(())
    }

    /// Saves every database with persistence, closes every listener and client. The
    /// manifest keeps which databases were running, so the next start restores them.
    pub fn shutdown(&self) {
        if self.stopping.swap(true, Relaxed) {
            return;
        }
        if let Some(h) = self.supervisor.lock().take() {
            let _ = h.join();
        }
        let cells: Vec<_> = self.dbs.read().values().cloned().collect();
        for cell in cells {
            let mut db = cell.lock();
            if let Some(l) = db.listener.take() {
                l.close();
            }
            if let Some(inst) = &db.instance {
                inst.kill_clients();
            }
            if db.spec.persistence == Persistence::Snapshot && db.instance.is_some() {
                if let Err(e) = self.save_locked(&mut db) {
                    tracing::error!("{e}");
                }
            }
        }
    }
}

impl Drop for NodeManager {
    fn drop(&mut self) {
        self.stopping.store(true, Relaxed);
    }
}

impl Directory for NodeManager {
    fn open(&self, name: &[u8], password: &[u8]) -> Result<Arc<Instance>, OpenError> {
        let Ok(name) = std::str::from_utf8(name) else {
            return Err(OpenError::WrongPass);
        };
        let Some(cell) = self.dbs.read().get(name).cloned() else {
            // Spend about as long as a real check, so timing does not tell which
            // names exist.
            let _ = constant_time_eq(password, password);
            return Err(OpenError::WrongPass);
        };
        let db = cell.lock();
        // A database without a password is not reachable through the front door:
        // there would be nothing to tell its tenant from anyone else.
        let Some(expected) = &db.spec.password else {
            return Err(OpenError::WrongPass);
        };
        if !constant_time_eq(password, expected.as_bytes()) {
            return Err(OpenError::WrongPass);
        }
        match (&db.instance, db.status) {
            // A failed database still has its data in memory (its listener died, or
            // its snapshots fail and it refuses writes): the front door keeps serving
            // it while supervision brings the rest back.
            (Some(inst), Status::Running | Status::Failed) => {
                if inst.connected_clients() as u64 >= inst.config.read().maxclients {
                    return Err(OpenError::Full);
                }
                Ok(inst.clone())
            }
            (_, status) => Err(OpenError::NotRunning {
                status: status.to_string(),
            }),
        }
    }
}
