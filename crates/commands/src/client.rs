//! Per-connection state: the part only the connection touches ([`Client`]) and the part
//! other connections read for CLIENT LIST / CLIENT KILL ([`ClientInfo`]).

use std::sync::atomic::{
    AtomicBool, AtomicI32, AtomicI64, AtomicU32, AtomicU64, AtomicUsize, Ordering::Relaxed,
};
use std::sync::Arc;
use std::time::Instant;

use parking_lot::Mutex;

/// CLIENT REPLY mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ReplyMode {
    #[default]
    On,
    Off,
    /// Skip the reply of the next command only.
    SkipNext,
    /// Skipping the current command's reply (SkipNext became active).
    Skipping,
}

/// What other connections may read about a client, and how they ask it to close.
#[derive(Debug)]
pub struct ClientInfo {
    pub id: u64,
    pub addr: String,
    pub laddr: String,
    /// The socket's file descriptor (CLIENT LIST `fd`), -1 when not a socket.
    pub fd: AtomicI32,
    pub created: Instant,
    pub name: Mutex<Option<String>>,
    pub lib_name: Mutex<Option<String>>,
    pub lib_ver: Mutex<Option<String>>,
    pub user: Mutex<String>,
    pub db: AtomicUsize,
    pub resp: AtomicU32,
    /// Index of the last command in the command table (u32::MAX: none yet).
    pub last_cmd: AtomicU32,
    /// Milliseconds since `created` of the last interaction.
    pub last_active_ms: AtomicU64,
    pub qbuf: AtomicUsize,
    /// Bytes queued for the client and not yet written (CLIENT LIST `omem`).
    pub omem: AtomicUsize,
    /// Frames queued (CLIENT LIST `oll`).
    pub oll: AtomicUsize,
    /// Subscribed channels, patterns and shard channels (CLIENT LIST `sub`, `psub`,
    /// `ssub`).
    pub sub: AtomicUsize,
    pub psub: AtomicUsize,
    pub ssub: AtomicUsize,
    /// The subscribed names, `(is_pattern, name)` (ACL SETUSER closes a subscriber
    /// whose user lost the right to one of them, as Redis does).
    pub subscribed: Mutex<Vec<(bool, Vec<u8>)>>,
    pub no_evict: AtomicBool,
    pub no_touch: AtomicBool,
    /// Set by CLIENT KILL / SHUTDOWN; the connection closes at its next chance.
    pub killed: AtomicBool,
    pub kill: tokio::sync::Notify,
    /// MiniRedis-internal: the connection is serving a protocol-level subscription,
    /// MULTI, or other state reported in CLIENT LIST `flags`.
    pub flags: Mutex<String>,
    /// Commands queued in the open transaction, -1 outside MULTI (CLIENT LIST `multi`).
    pub multi: AtomicI64,
    /// A key this client watches was modified: its EXEC will fail (CLIENT LIST `d`).
    pub watch_dirty: AtomicBool,
    /// Bytes other connections queued for this one (MONITOR lines).
    pub outbox: crate::outbox::Outbox,
    /// In MONITOR mode (CLIENT LIST flag `O`).
    pub monitor: AtomicBool,
    /// CLIENT TRACKING state ([`crate::tracking::flag`] bits; 0 when off).
    pub tracking: AtomicU32,
    /// The client tracking invalidations are redirected to (0: none).
    pub tracking_redir: AtomicU64,
}

impl ClientInfo {
    pub fn new(id: u64, addr: String, laddr: String) -> Self {
        ClientInfo {
            id,
            addr,
            laddr,
            fd: AtomicI32::new(-1),
            created: Instant::now(),
            name: Mutex::new(None),
            lib_name: Mutex::new(None),
            lib_ver: Mutex::new(None),
            user: Mutex::new("default".into()),
            db: AtomicUsize::new(0),
            resp: AtomicU32::new(2),
            last_cmd: AtomicU32::new(u32::MAX),
            last_active_ms: AtomicU64::new(0),
            qbuf: AtomicUsize::new(0),
            omem: AtomicUsize::new(0),
            oll: AtomicUsize::new(0),
            sub: AtomicUsize::new(0),
            psub: AtomicUsize::new(0),
            ssub: AtomicUsize::new(0),
            subscribed: Mutex::new(Vec::new()),
            no_evict: AtomicBool::new(false),
            no_touch: AtomicBool::new(false),
            killed: AtomicBool::new(false),
            kill: tokio::sync::Notify::new(),
            flags: Mutex::new(String::from("N")),
            multi: AtomicI64::new(-1),
            watch_dirty: AtomicBool::new(false),
            outbox: Default::default(),
            monitor: AtomicBool::new(false),
            tracking: AtomicU32::new(0),
            tracking_redir: AtomicU64::new(0),
        }
    }

    /// Asks the connection to close.
    pub fn kill(&self) {
        self.killed.store(true, Relaxed);
        self.kill.notify_one();
    }

    pub fn is_killed(&self) -> bool {
        self.killed.load(Relaxed)
    }

    /// Subscribed to anything (Redis's CLIENT_PUBSUB: flag `P`, the pubsub class).
    pub fn is_pubsub(&self) -> bool {
        self.sub.load(Relaxed) + self.psub.load(Relaxed) + self.ssub.load(Relaxed) > 0
    }

    pub fn age_secs(&self) -> u64 {
        self.created.elapsed().as_secs()
    }

    pub fn idle_secs(&self) -> u64 {
        let now = self.created.elapsed().as_millis() as u64;
        now.saturating_sub(self.last_active_ms.load(Relaxed)) / 1000
    }

    pub fn touch(&self) {
        self.last_active_ms
            .store(self.created.elapsed().as_millis() as u64, Relaxed);
    }
}

/// Per-command counters a connection accumulates locally and flushes to the shared
/// table once per batch, so the hot path writes no shared cache line.
#[derive(Debug, Default, Clone, Copy)]
pub struct LocalCmdStat {
    pub calls: u64,
    pub usec: u64,
    pub failed: u64,
    pub rejected: u64,
}

/// State owned by one connection.
#[derive(Debug)]
pub struct Client {
    pub info: Arc<ClientInfo>,
    /// Selected logical database.
    pub db: usize,
    pub authenticated: bool,
    pub user: String,
    pub reply_mode: ReplyMode,
    /// Close the connection once the pending replies are written (QUIT, CLIENT KILL of self).
    pub close_after_reply: bool,
    pub no_touch: bool,
    /// Set by `Ctx::error`; dispatch uses it for `failed_calls`.
    pub last_command_failed: bool,
    /// (command index, counters) touched since the last flush.
    pub cmd_stats: Vec<(u32, LocalCmdStat)>,
    /// Write commands since the last flush (the instance's `dirty` counter).
    pub dirty: u64,
    /// The front door this connection came through, if any: AUTH may then name any
    /// database, and RESET returns the connection to it.
    pub front_door: Option<Arc<crate::Instance>>,
    /// Set by AUTH/HELLO/RESET when the connection must move to another instance; the
    /// connection loop moves it before the next command.
    pub rebind: Option<Arc<crate::Instance>>,
    /// The client id the connection will have in `rebind`'s instance (taken when the
    /// move is decided, so the HELLO that authenticates can report it).
    pub rebind_id: u64,
    /// Set by a blocking command that found nothing to serve: the connection waits on
    /// it before the next command.
    pub blocked: Option<std::sync::Arc<crate::blocking::Waiter>>,
    /// Inside MULTI/EXEC or a script: blocking commands answer at once.
    pub no_block: bool,
    /// This client stands in for a blocked connection whose command is re-run.
    pub serving_blocked: bool,
    /// The re-run found nothing again (see `serving_blocked`).
    pub reblock: bool,
    /// (db, key) written by the current command while clients are blocked.
    pub ready_keys: Vec<(usize, Vec<u8>)>,
    /// The open transaction (MULTI ... EXEC), if any.
    pub multi: Option<Box<crate::multi::MultiState>>,
    /// Keys this client WATCHes.
    pub watched: Vec<crate::multi::WatchedKey>,
    /// Pub/sub subscriptions and the outbound queue (made at the first SUBSCRIBE).
    pub subs: Option<Box<crate::pubsub::Subscriptions>>,
    /// Since when the pending reply has been over the soft output-buffer limit.
    pub obuf_soft: crate::pubsub::SoftClock,
    /// (command id, microseconds) of commands run since the last flush, for the
    /// latency histograms (INFO latencystats).
    pub latency_samples: Vec<(u32, u64)>,
    /// This client runs a script's commands: MONITOR shows them as `[db lua]`.
    pub script_caller: bool,
    /// The ACL epoch `perms` was read at (see `crate::acl::refresh`).
    pub acl_epoch: u64,
    /// The user's permissions; None when the user may run everything.
    pub perms: Option<crate::acl::Perms>,
    /// CLIENT CACHING YES/NO given for the next command (or transaction).
    pub tracking_caching: bool,
    /// CLIENT TRACKING is on (a local copy: the connection loop then sends queued
    /// invalidations ahead of each reply, as Redis writes them when they happen).
    pub tracking_on: bool,
    /// A command ran while tracking was active: invalidations may wait to be sent
    /// after its reply.
    pub tracking_due: bool,
}

impl Client {
    pub fn new(info: Arc<ClientInfo>, authenticated: bool) -> Self {
        Client {
            info,
            db: 0,
            authenticated,
            user: "default".into(),
            reply_mode: ReplyMode::On,
            close_after_reply: false,
            no_touch: false,
            last_command_failed: false,
            cmd_stats: Vec::new(),
            dirty: 0,
            front_door: None,
            rebind: None,
            rebind_id: 0,
            blocked: None,
            no_block: false,
            serving_blocked: false,
            reblock: false,
            ready_keys: Vec::new(),
            multi: None,
            watched: Vec::new(),
            subs: None,
            obuf_soft: Default::default(),
            latency_samples: Vec::new(),
            script_caller: false,
            acl_epoch: 0,
            perms: None,
            tracking_caching: false,
            tracking_on: false,
            tracking_due: false,
        }
    }

    pub fn id(&self) -> u64 {
        self.info.id
    }

    /// Asks the connection loop to move this connection to `to` before the next
    /// command.
    pub fn move_to(&mut self, to: Arc<crate::Instance>) {
        self.rebind_id = to.next_client_id();
        self.rebind = Some(to);
    }

    /// The client id as the client should see it now (the new one if a move to
    /// another instance is pending).
    pub fn visible_id(&self) -> u64 {
        if self.rebind.is_some() {
            self.rebind_id
        } else {
            self.info.id
        }
    }

    pub fn select(&mut self, db: usize) {
        self.db = db;
        self.info.db.store(db, Relaxed);
    }
}
