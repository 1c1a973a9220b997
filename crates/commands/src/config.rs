//! Server configuration: typed values plus one table of parameters ([`PARAMS`]) that
//! `CONFIG GET/SET`, redis.conf files and command-line options all read, so a parameter
//! is declared once and behaves the same everywhere.

use std::path::PathBuf;

/// Typed configuration of one instance. Defaults are Redis 7.0's unless noted.
#[derive(Clone, Debug)]
pub struct Config {
    pub port: u16,
    pub bind: Vec<String>,
    pub requirepass: Option<String>,
    pub maxmemory: u64,
    pub maxmemory_policy: String,
    pub maxmemory_samples: u64,
    pub maxmemory_eviction_tenacity: u64,
    /// MiniRedis: refuse commands flagged `denyoom` once the keyspace holds this many
    /// keys (0 = no limit).
    pub maxkeys: u64,
    pub appendonly: bool,
    pub appendfsync: String,
    pub appendfilename: String,
    pub appenddirname: String,
    pub dir: PathBuf,
    pub dbfilename: String,
    pub databases: usize,
    pub save: String,
    pub maxclients: u64,
    pub timeout: u64,
    pub tcp_keepalive: u64,
    pub tcp_backlog: u64,
    pub hz: u64,
    pub proto_max_bulk_len: u64,
    pub client_query_buffer_limit: u64,
    pub loglevel: String,
    pub logfile: String,
    pub daemonize: bool,
    pub protected_mode: bool,
    pub lazyfree_lazy_user_flush: bool,
    pub slowlog_log_slower_than: i64,
    pub slowlog_max_len: u64,
    pub notify_keyspace_events: String,
    pub lfu_log_factor: u64,
    pub lfu_decay_time: u64,
    /// `tracking-table-max-keys`: keys the tracking table may hold (0: no limit).
    pub tracking_table_max_keys: u64,
    pub stop_writes_on_bgsave_error: bool,
    pub busy_reply_threshold: u64,
    /// MiniRedis: lock shards per keyspace (power of two, 1..=256).
    pub shards: usize,
    /// MiniRedis: I/O threads serving connections (0 = one per core).
    pub io_threads: usize,
    /// The instance is one tenant database in a process shared with others: its memory
    /// figures (INFO and maxmemory) are its keyspace's accounted bytes, since the
    /// allocator's figures are the whole process's; process-wide commands are refused and
    /// the operator's settings are protected. Not a CONFIG parameter; the platform sets
    /// it when it creates the instance.
    pub tenant: bool,
    /// A tenant database's name: `AUTH <name> <password>` opens it (not a CONFIG
    /// parameter).
    pub database: Option<String>,
    /// A sparse HyperLogLog string grows up to this many bytes, then becomes dense.
    pub hll_sparse_max_bytes: u64,
    /// A hash stays a listpack while it has at most this many fields...
    pub hash_max_listpack_entries: u64,
    /// ... and no field or value longer than this many bytes.
    pub hash_max_listpack_value: u64,
    /// A set of integers stays an intset while it has at most this many members.
    pub set_max_intset_entries: u64,
    /// `client-output-buffer-limit`: normal, replica and pubsub classes.
    pub client_output_buffer_limit: [crate::pubsub::ObufLimit; 3],
    /// A sorted set stays a listpack while it has at most this many members...
    pub zset_max_listpack_entries: u64,
    /// ... and no member longer than this many bytes.
    pub zset_max_listpack_value: u64,
    /// LATENCY: events lasting at least this many milliseconds are recorded (0 = off).
    pub latency_monitor_threshold: u64,
    /// INFO latencystats: per-command latency histograms.
    pub latency_tracking: bool,
    /// The percentiles INFO latencystats reports.
    pub latency_tracking_info_percentiles: Vec<f64>,
    /// Entries ACL LOG keeps.
    pub acllog_max_len: u64,
    /// Whether new ACL users may use every channel (`allchannels`) or none.
    pub acl_pubsub_default_all: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            port: 6379,
            bind: vec!["127.0.0.1".into()],
            requirepass: None,
            maxmemory: 0,
            maxmemory_policy: "noeviction".into(),
            maxmemory_samples: 5,
            maxmemory_eviction_tenacity: 10,
            maxkeys: 0,
            appendonly: false,
            appendfsync: "everysec".into(),
            appendfilename: "appendonly.aof".into(),
            appenddirname: "appendonlydir".into(),
            dir: PathBuf::from("."),
            dbfilename: "dump.rdb".into(),
            databases: 16,
            save: "3600 1 300 100 60 10000".into(),
            maxclients: 10000,
            timeout: 0,
            tcp_keepalive: 300,
            tcp_backlog: 511,
            hz: 10,
            proto_max_bulk_len: 512 * 1024 * 1024,
            client_query_buffer_limit: 1024 * 1024 * 1024,
            loglevel: "notice".into(),
            logfile: String::new(),
            daemonize: false,
            protected_mode: true,
            lazyfree_lazy_user_flush: false,
            slowlog_log_slower_than: 10000,
            slowlog_max_len: 128,
            notify_keyspace_events: String::new(),
            lfu_log_factor: 10,
            lfu_decay_time: 1,
            tracking_table_max_keys: 1_000_000,
            stop_writes_on_bgsave_error: true,
            busy_reply_threshold: 5000,
            shards: 16,
            io_threads: 0,
            tenant: false,
            database: None,
            hll_sparse_max_bytes: crate::hll::DEFAULT_SPARSE_MAX_BYTES,
            hash_max_listpack_entries: engine::types::hash::MAX_LISTPACK_ENTRIES as u64,
            hash_max_listpack_value: engine::types::hash::MAX_LISTPACK_VALUE as u64,
            set_max_intset_entries: engine::types::set::MAX_INTSET_ENTRIES as u64,
            client_output_buffer_limit: crate::pubsub::DEFAULT_OBUF_LIMITS,
            zset_max_listpack_entries: engine::types::zset::PACK_MAX_ENTRIES as u64,
            zset_max_listpack_value: engine::types::zset::PACK_MAX_VALUE as u64,
            latency_monitor_threshold: 0,
            latency_tracking: true,
            latency_tracking_info_percentiles: vec![50.0, 99.0, 99.9],
            acllog_max_len: 128,
            acl_pubsub_default_all: false,
        }
    }
}

/// How a parameter's value is written and read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Bool,
    Int {
        min: i64,
        max: i64,
    },
    /// A size with optional k/kb/m/mb/g/gb suffix.
    Memory,
    /// A size of at least this many bytes.
    MemoryAtLeast(u64),
    Enum(&'static [&'static str]),
    Str,
    /// A list of words (bind, save).
    Words,
    /// notify-keyspace-events flag letters, stored in Redis's canonical order.
    KeyspaceEvents,
    /// `<class> <hard> <soft> <seconds>` groups (client-output-buffer-limit).
    ObufLimits,
    /// A space-separated list of percentiles (0..=100).
    Percentiles,
}

/// One configuration parameter.
pub struct Param {
    pub name: &'static str,
    pub aliases: &'static [&'static str],
    pub kind: Kind,
    /// Can be changed with CONFIG SET at run time.
    pub mutable: bool,
    pub get: fn(&Config) -> String,
    /// Stores an already-validated value.
    pub set: fn(&mut Config, &str),
}

fn b(v: bool) -> String {
    if v { "yes" } else { "no" }.into()
}

fn yes(s: &str) -> bool {
    s.eq_ignore_ascii_case("yes")
}

fn num(s: &str) -> u64 {
    parse_memory(s).unwrap_or(0)
}

macro_rules! p {
    ($name:literal, $kind:expr, $mutable:expr, |$c:ident| $get:expr, |$c2:ident, $v:ident| $set:expr) => {
        Param {
            name: $name,
            aliases: &[],
            kind: $kind,
            mutable: $mutable,
            get: |$c: &Config| $get,
            set: |$c2: &mut Config, $v: &str| $set,
        }
    };
}

const POLICIES: &[&str] = &[
    "volatile-lru",
    "volatile-lfu",
    "volatile-random",
    "volatile-ttl",
    "allkeys-lru",
    "allkeys-lfu",
    "allkeys-random",
    "noeviction",
];

/// Every parameter MiniRedis understands.
pub static PARAMS: &[Param] = &[
    p!(
        "port",
        Kind::Int { min: 0, max: 65535 },
        false,
        |c| c.port.to_string(),
        |c, v| c.port = v.parse().unwrap_or(0)
    ),
    p!("bind", Kind::Words, false, |c| c.bind.join(" "), |c, v| c
        .bind =
        v.split_whitespace().map(String::from).collect()),
    p!(
        "requirepass",
        Kind::Str,
        true,
        |c| c.requirepass.clone().unwrap_or_default(),
        |c, v| c.requirepass = if v.is_empty() {
            None
        } else {
            Some(v.to_string())
        }
    ),
    p!(
        "maxmemory",
        Kind::Memory,
        true,
        |c| c.maxmemory.to_string(),
        |c, v| c.maxmemory = num(v)
    ),
    p!(
        "maxmemory-policy",
        Kind::Enum(POLICIES),
        true,
        |c| c.maxmemory_policy.clone(),
        |c, v| c.maxmemory_policy = v.to_ascii_lowercase()
    ),
    p!(
        "maxmemory-samples",
        Kind::Int {
            min: 1,
            max: i32::MAX as i64
        },
        true,
        |c| c.maxmemory_samples.to_string(),
        |c, v| c.maxmemory_samples = num(v)
    ),
    p!(
        "maxmemory-eviction-tenacity",
        Kind::Int { min: 0, max: 100 },
        true,
        |c| c.maxmemory_eviction_tenacity.to_string(),
        |c, v| c.maxmemory_eviction_tenacity = num(v)
    ),
    p!(
        "maxkeys",
        Kind::Int {
            min: 0,
            max: i64::MAX
        },
        true,
        |c| c.maxkeys.to_string(),
        |c, v| c.maxkeys = num(v)
    ),
    p!(
        "appendonly",
        Kind::Bool,
        true,
        |c| b(c.appendonly),
        |c, v| c.appendonly = yes(v)
    ),
    p!(
        "appendfsync",
        Kind::Enum(&["always", "everysec", "no"]),
        true,
        |c| c.appendfsync.clone(),
        |c, v| c.appendfsync = v.to_ascii_lowercase()
    ),
    p!(
        "appendfilename",
        Kind::Str,
        false,
        |c| c.appendfilename.clone(),
        |c, v| c.appendfilename = v.to_string()
    ),
    p!(
        "appenddirname",
        Kind::Str,
        false,
        |c| c.appenddirname.clone(),
        |c, v| c.appenddirname = v.to_string()
    ),
    p!(
        "dir",
        Kind::Str,
        true,
        |c| c.dir.display().to_string(),
        |c, v| c.dir = PathBuf::from(v)
    ),
    p!(
        "dbfilename",
        Kind::Str,
        true,
        |c| c.dbfilename.clone(),
        |c, v| c.dbfilename = v.to_string()
    ),
    p!(
        "databases",
        Kind::Int {
            min: 1,
            max: i32::MAX as i64
        },
        false,
        |c| c.databases.to_string(),
        |c, v| c.databases = v.parse().unwrap_or(16)
    ),
    p!("save", Kind::Words, true, |c| c.save.clone(), |c, v| c
        .save =
        v.split_whitespace().collect::<Vec<_>>().join(" ")),
    p!(
        "maxclients",
        Kind::Int {
            min: 1,
            max: u32::MAX as i64
        },
        true,
        |c| c.maxclients.to_string(),
        |c, v| c.maxclients = num(v)
    ),
    p!(
        "timeout",
        Kind::Int {
            min: 0,
            max: i32::MAX as i64
        },
        true,
        |c| c.timeout.to_string(),
        |c, v| c.timeout = num(v)
    ),
    p!(
        "tcp-keepalive",
        Kind::Int {
            min: 0,
            max: i32::MAX as i64
        },
        true,
        |c| c.tcp_keepalive.to_string(),
        |c, v| c.tcp_keepalive = num(v)
    ),
    p!(
        "tcp-backlog",
        Kind::Int {
            min: 0,
            max: i32::MAX as i64
        },
        false,
        |c| c.tcp_backlog.to_string(),
        |c, v| c.tcp_backlog = num(v)
    ),
    p!(
        "hz",
        Kind::Int {
            min: 0,
            max: i32::MAX as i64
        },
        true,
        |c| c.hz.to_string(),
        |c, v| c.hz = num(v).clamp(1, 500)
    ),
    p!(
        "proto-max-bulk-len",
        Kind::MemoryAtLeast(1024 * 1024),
        true,
        |c| c.proto_max_bulk_len.to_string(),
        |c, v| c.proto_max_bulk_len = num(v)
    ),
    p!(
        "client-query-buffer-limit",
        Kind::MemoryAtLeast(1024 * 1024),
        true,
        |c| c.client_query_buffer_limit.to_string(),
        |c, v| c.client_query_buffer_limit = num(v)
    ),
    p!(
        "loglevel",
        Kind::Enum(&["debug", "verbose", "notice", "warning"]),
        true,
        |c| c.loglevel.clone(),
        |c, v| c.loglevel = v.to_ascii_lowercase()
    ),
    p!(
        "logfile",
        Kind::Str,
        false,
        |c| c.logfile.clone(),
        |c, v| c.logfile = v.to_string()
    ),
    p!(
        "daemonize",
        Kind::Bool,
        false,
        |c| b(c.daemonize),
        |c, v| c.daemonize = yes(v)
    ),
    p!(
        "protected-mode",
        Kind::Bool,
        true,
        |c| b(c.protected_mode),
        |c, v| c.protected_mode = yes(v)
    ),
    p!(
        "lazyfree-lazy-user-flush",
        Kind::Bool,
        true,
        |c| b(c.lazyfree_lazy_user_flush),
        |c, v| c.lazyfree_lazy_user_flush = yes(v)
    ),
    p!(
        "slowlog-log-slower-than",
        Kind::Int {
            min: -1,
            max: i64::MAX
        },
        true,
        |c| c.slowlog_log_slower_than.to_string(),
        |c, v| c.slowlog_log_slower_than = v.parse().unwrap_or(10000)
    ),
    p!(
        "slowlog-max-len",
        Kind::Int {
            min: 0,
            max: i64::MAX
        },
        true,
        |c| c.slowlog_max_len.to_string(),
        |c, v| c.slowlog_max_len = num(v)
    ),
    p!(
        "notify-keyspace-events",
        Kind::KeyspaceEvents,
        true,
        |c| c.notify_keyspace_events.clone(),
        |c, v| c.notify_keyspace_events = v.to_string()
    ),
    p!(
        "lfu-log-factor",
        Kind::Int {
            min: 0,
            max: i32::MAX as i64
        },
        true,
        |c| c.lfu_log_factor.to_string(),
        |c, v| c.lfu_log_factor = num(v)
    ),
    p!(
        "tracking-table-max-keys",
        Kind::Int {
            min: 0,
            max: i64::MAX
        },
        true,
        |c| c.tracking_table_max_keys.to_string(),
        |c, v| c.tracking_table_max_keys = num(v)
    ),
    p!(
        "lfu-decay-time",
        Kind::Int {
            min: 0,
            max: i32::MAX as i64
        },
        true,
        |c| c.lfu_decay_time.to_string(),
        |c, v| c.lfu_decay_time = num(v)
    ),
    p!(
        "stop-writes-on-bgsave-error",
        Kind::Bool,
        true,
        |c| b(c.stop_writes_on_bgsave_error),
        |c, v| c.stop_writes_on_bgsave_error = yes(v)
    ),
    Param {
        name: "busy-reply-threshold",
        aliases: &["lua-time-limit"],
        kind: Kind::Int {
            min: 0,
            max: i64::MAX,
        },
        mutable: true,
        get: |c| c.busy_reply_threshold.to_string(),
        set: |c, v| c.busy_reply_threshold = num(v),
    },
    p!(
        "shards",
        Kind::Int { min: 1, max: 256 },
        false,
        |c| c.shards.to_string(),
        |c, v| c.shards = v.parse().unwrap_or(16)
    ),
    p!(
        "io-threads",
        Kind::Int { min: 0, max: 128 },
        false,
        |c| c.io_threads.to_string(),
        |c, v| c.io_threads = v.parse().unwrap_or(0)
    ),
    p!(
        "hll-sparse-max-bytes",
        Kind::Memory,
        true,
        |c| c.hll_sparse_max_bytes.to_string(),
        |c, v| c.hll_sparse_max_bytes = num(v)
    ),
    Param {
        name: "hash-max-listpack-entries",
        aliases: &["hash-max-ziplist-entries"],
        kind: Kind::Int {
            min: 0,
            max: i64::MAX,
        },
        mutable: true,
        get: |c| c.hash_max_listpack_entries.to_string(),
        set: |c, v| c.hash_max_listpack_entries = num(v),
    },
    Param {
        name: "hash-max-listpack-value",
        aliases: &["hash-max-ziplist-value"],
        kind: Kind::Memory,
        mutable: true,
        get: |c| c.hash_max_listpack_value.to_string(),
        set: |c, v| c.hash_max_listpack_value = num(v),
    },
    Param {
        name: "zset-max-listpack-entries",
        aliases: &["zset-max-ziplist-entries"],
        kind: Kind::Int {
            min: 0,
            max: i64::MAX,
        },
        mutable: true,
        get: |c| c.zset_max_listpack_entries.to_string(),
        set: |c, v| c.zset_max_listpack_entries = num(v),
    },
    Param {
        name: "zset-max-listpack-value",
        aliases: &["zset-max-ziplist-value"],
        kind: Kind::Memory,
        mutable: true,
        get: |c| c.zset_max_listpack_value.to_string(),
        set: |c, v| c.zset_max_listpack_value = num(v),
    },
    p!(
        "client-output-buffer-limit",
        Kind::ObufLimits,
        true,
        |c| crate::pubsub::obuf_limits_to_string(&c.client_output_buffer_limit),
        |c, v| {
            // Only the classes named change, as in Redis.
            for (class, l) in crate::pubsub::parse_obuf_limits(v).unwrap_or_default() {
                c.client_output_buffer_limit[class as usize] = l;
            }
        }
    ),
    p!(
        "set-max-intset-entries",
        Kind::Int {
            min: 0,
            max: i64::MAX
        },
        true,
        |c| c.set_max_intset_entries.to_string(),
        |c, v| c.set_max_intset_entries = num(v)
    ),
    p!(
        "latency-monitor-threshold",
        Kind::Int {
            min: 0,
            max: i64::MAX
        },
        true,
        |c| c.latency_monitor_threshold.to_string(),
        |c, v| c.latency_monitor_threshold = num(v)
    ),
    p!(
        "latency-tracking",
        Kind::Bool,
        true,
        |c| b(c.latency_tracking),
        |c, v| c.latency_tracking = yes(v)
    ),
    p!(
        "latency-tracking-info-percentiles",
        Kind::Percentiles,
        true,
        |c| format_percentiles(&c.latency_tracking_info_percentiles),
        |c, v| c.latency_tracking_info_percentiles = parse_percentiles(v).unwrap_or_default()
    ),
    p!(
        "acllog-max-len",
        Kind::Int {
            min: 0,
            max: i64::MAX
        },
        true,
        |c| c.acllog_max_len.to_string(),
        |c, v| c.acllog_max_len = num(v)
    ),
    p!(
        "acl-pubsub-default",
        Kind::Enum(&["allchannels", "resetchannels"]),
        true,
        |c| if c.acl_pubsub_default_all {
            "allchannels"
        } else {
            "resetchannels"
        }
        .into(),
        |c, v| c.acl_pubsub_default_all = v.eq_ignore_ascii_case("allchannels")
    ),
];

/// latency-tracking-info-percentiles as Redis prints it: each value with `%f`-style
/// shortest form ("50 99 99.9").
pub fn format_percentiles(v: &[f64]) -> String {
    v.iter()
        .map(|p| {
            let t = format!("{p:.6}");
            t.trim_end_matches('0').trim_end_matches('.').to_string()
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Parses a space-separated list of percentiles, each within 0..=100.
pub fn parse_percentiles(s: &str) -> Result<Vec<f64>, String> {
    s.split_whitespace()
        .map(|w| match w.parse::<f64>() {
            Ok(p) if (0.0..=100.0).contains(&p) => Ok(p),
            Ok(_) => Err(
                "latency-tracking-info-percentiles parameters should sit between [0.0,100.0]"
                    .to_string(),
            ),
            Err(_) => Err("Invalid latency-tracking-info-percentiles parameters".to_string()),
        })
        .collect()
}

/// Finds a parameter by name or alias, case-insensitively.
pub fn find(name: &str) -> Option<&'static Param> {
    PARAMS.iter().find(|p| {
        p.name.eq_ignore_ascii_case(name) || p.aliases.iter().any(|a| a.eq_ignore_ascii_case(name))
    })
}

/// Parses `1gb`, `100mb`, `64k`, `1024` as Redis's memtoull does.
pub fn parse_memory(s: &str) -> Option<u64> {
    let lower = s.trim().to_ascii_lowercase();
    let (digits, mul) = [
        ("gb", 1u64 << 30),
        ("g", 1_000_000_000),
        ("mb", 1 << 20),
        ("m", 1_000_000),
        ("kb", 1 << 10),
        ("k", 1000),
        ("b", 1),
    ]
    .iter()
    .find_map(|(suf, m)| lower.strip_suffix(suf).map(|d| (d.to_string(), *m)))
    .unwrap_or((lower.clone(), 1));
    if digits.is_empty() || !digits.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    digits.parse::<u64>().ok()?.checked_mul(mul)
}

/// Checks `value` against the parameter's kind; returns the normalized value or a
/// reason in Redis's words.
pub fn validate(p: &Param, value: &str) -> Result<String, String> {
    match p.kind {
        Kind::Bool => {
            if value.eq_ignore_ascii_case("yes") || value.eq_ignore_ascii_case("no") {
                Ok(value.to_ascii_lowercase())
            } else {
                Err("argument must be 'yes' or 'no'".into())
            }
        }
        Kind::Int { min, max } => {
            let n: i64 = match parse_memory(value) {
                Some(n) => i64::try_from(n).map_err(|_| "argument must be a memory value")?,
                None => value
                    .parse()
                    .map_err(|_| "argument couldn't be parsed into an integer".to_string())?,
            };
            if n < min || n > max {
                Err(format!(
                    "argument must be between {min} and {max} inclusive"
                ))
            } else {
                Ok(n.to_string())
            }
        }
        Kind::Memory => parse_memory(value)
            .map(|n| n.to_string())
            .ok_or_else(|| "argument must be a memory value".into()),
        Kind::MemoryAtLeast(min) => match parse_memory(value) {
            None => Err("argument must be a memory value".into()),
            Some(n) if n < min => Err(format!(
                "argument must be between {min} and {} inclusive",
                i64::MAX
            )),
            Some(n) => Ok(n.to_string()),
        },
        Kind::Enum(allowed) => {
            if allowed.iter().any(|a| a.eq_ignore_ascii_case(value)) {
                Ok(value.to_ascii_lowercase())
            } else {
                Err("argument(s) must be one of the following: ".to_string() + &allowed.join(", "))
            }
        }
        Kind::Str | Kind::Words => Ok(value.to_string()),
        Kind::ObufLimits => crate::pubsub::parse_obuf_limits(value)
            .map(|_| value.split_whitespace().collect::<Vec<_>>().join(" "))
            .map_err(String::from),
        Kind::KeyspaceEvents => keyspace_events_canonical(value)
            .ok_or_else(|| "Invalid event class character. Use 'Ag$lshzxeKEtmdn'.".into()),
        Kind::Percentiles => parse_percentiles(value).map(|v| format_percentiles(&v)),
    }
}

/// Event classes that `A` stands for.
const EVENTS_ALL: &str = "g$lshzxetd";

/// Parses notify-keyspace-events letters and prints them back in Redis's order
/// (`A` for the whole set, then the others, then `K` and `E`). None if a letter is
/// not an event class.
pub fn keyspace_events_canonical(v: &str) -> Option<String> {
    let mut set = std::collections::BTreeSet::new();
    for c in v.chars() {
        match c {
            'A' => set.extend(EVENTS_ALL.chars()),
            'g' | '$' | 'l' | 's' | 'h' | 'z' | 'x' | 'e' | 'K' | 'E' | 't' | 'm' | 'd' | 'n' => {
                set.insert(c);
            }
            _ => return None,
        }
    }
    let mut out = String::new();
    if EVENTS_ALL.chars().all(|c| set.contains(&c)) {
        out.push('A');
    } else {
        out.extend(EVENTS_ALL.chars().filter(|c| set.contains(c)));
    }
    for c in ['m', 'n', 'K', 'E'] {
        if set.contains(&c) {
            out.push(c);
        }
    }
    Some(out)
}

/// Settings this version cannot honour. Asking for durability that would silently do
/// nothing is refused instead (persistence arrives in a later version); returns the
/// reason for the first such setting of `name = value`.
pub fn unsupported(name: &str, value: &str) -> Option<&'static str> {
    match name {
        "appendonly" if value.eq_ignore_ascii_case("yes") => {
            Some("AOF persistence is not available in this version of MiniRedis")
        }
        _ => None,
    }
}

/// What a tenant may change with CONFIG SET. Everything else is either the
/// operator's per-database setting (password, limits, persistence: changed through
/// the node manager) or a process-wide setting shared by every database.
pub const TENANT_SETTABLE: &[&str] = &[
    "timeout",
    "tcp-keepalive",
    "maxmemory-samples",
    "maxmemory-eviction-tenacity",
    "lfu-log-factor",
    "lfu-decay-time",
    "tracking-table-max-keys",
    "slowlog-log-slower-than",
    "slowlog-max-len",
    "notify-keyspace-events",
    "lazyfree-lazy-user-flush",
    "lazyfree-lazy-eviction",
    "lazyfree-lazy-expire",
    "lazyfree-lazy-server-del",
    "latency-tracking",
    "latency-monitor-threshold",
    "hll-sparse-max-bytes",
    "hash-max-listpack-entries",
    "hash-max-listpack-value",
    "set-max-intset-entries",
];

/// Whether a tenant may change `name` itself.
pub fn tenant_settable(name: &str) -> bool {
    TENANT_SETTABLE.contains(&name)
}

/// Errors from reading a configuration file or command line.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("unknown option '{0}'")]
    Unknown(String),
    #[error("invalid value '{value}' for '{name}': {reason}")]
    Invalid {
        name: String,
        value: String,
        reason: String,
    },
    #[error("line {line}: {source}")]
    AtLine {
        line: usize,
        #[source]
        source: Box<ConfigError>,
    },
    #[error("line {0}: unbalanced quotes")]
    Quotes(usize),
    #[error("'{name} {value}' is not supported: {reason}")]
    Unsupported {
        name: String,
        value: String,
        reason: &'static str,
    },
}

impl Config {
    /// Applies one `name value...` setting (from a file line or `--name value`).
    pub fn apply(&mut self, name: &str, values: &[String]) -> Result<(), ConfigError> {
        let p = find(name).ok_or_else(|| ConfigError::Unknown(name.to_string()))?;
        let joined = values.join(" ");
        let v = validate(p, &joined).map_err(|reason| ConfigError::Invalid {
            name: p.name.to_string(),
            value: joined.clone(),
            reason,
        })?;
        if let Some(reason) = unsupported(p.name, &v) {
            return Err(ConfigError::Unsupported {
                name: p.name.to_string(),
                value: joined,
                reason,
            });
        }
        (p.set)(self, &v);
        Ok(())
    }

    /// Applies a redis.conf-syntax text: `name value...` per line, `#` comments, quoted
    /// values. `include` and `rename-command` are not supported and are reported.
    pub fn apply_file_text(&mut self, text: &str) -> Result<(), ConfigError> {
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let words = split_words(line).ok_or(ConfigError::Quotes(i + 1))?;
            let Some((name, rest)) = words.split_first() else {
                continue;
            };
            // `save ""` disables snapshots.
            let rest: Vec<String> = rest.to_vec();
            self.apply(name, &rest).map_err(|e| ConfigError::AtLine {
                line: i + 1,
                source: Box::new(e),
            })?;
        }
        Ok(())
    }
}

/// Splits a config line into words with redis.conf quoting ("..." with escapes, '...').
pub fn split_words(line: &str) -> Option<Vec<String>> {
    let mut out = Vec::new();
    let mut chars = line.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let Some(&first) = chars.peek() else {
            return Some(out);
        };
        let mut w = String::new();
        if first == '"' || first == '\'' {
            chars.next();
            let mut closed = false;
            while let Some(c) = chars.next() {
                if c == first {
                    closed = true;
                    break;
                }
                if c == '\\' && first == '"' {
                    match chars.next()? {
                        'n' => w.push('\n'),
                        'r' => w.push('\r'),
                        't' => w.push('\t'),
                        o => w.push(o),
                    }
                } else {
                    w.push(c);
                }
            }
            if !closed || chars.peek().is_some_and(|c| !c.is_whitespace()) {
                return None;
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() {
                    break;
                }
                w.push(c);
                chars.next();
            }
        }
        out.push(w);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_output_buffer_limit_lines_accumulate() {
        let mut c = Config::default();
        c.apply_file_text(
            "client-output-buffer-limit normal 1mb 0 0\nclient-output-buffer-limit pubsub 64mb 16mb 90 replica 1 2 3\n",
        )
        .expect("valid");
        let get = find("client-output-buffer-limit").expect("param").get;
        assert_eq!(
            get(&c),
            "normal 1048576 0 0 slave 1 2 3 pubsub 67108864 16777216 90"
        );
        assert!(c
            .apply_file_text("client-output-buffer-limit pubsub 1 2")
            .is_err());
        assert!(c
            .apply_file_text("client-output-buffer-limit master 1 2 3")
            .is_err());
    }

    #[test]
    fn memory_units() {
        assert_eq!(parse_memory("1gb"), Some(1 << 30));
        assert_eq!(parse_memory("100MB"), Some(100 << 20));
        assert_eq!(parse_memory("1k"), Some(1000));
        assert_eq!(parse_memory("12"), Some(12));
        assert_eq!(parse_memory("-1"), None);
        assert_eq!(parse_memory("x"), None);
    }

    #[test]
    fn file_parsing() {
        let mut c = Config::default();
        c.apply_file_text("# comment\nport 7000\nmaxmemory 0\nsave \"\"\nmaxmemory-policy allkeys-lru\nbind 127.0.0.1 ::1\n")
            .expect("valid");
        assert_eq!(c.port, 7000);
        assert_eq!(c.maxmemory, 0);
        assert_eq!(c.save, "");
        assert_eq!(c.maxmemory_policy, "allkeys-lru");
        assert_eq!(c.bind, vec!["127.0.0.1", "::1"]);
        assert!(matches!(
            c.apply_file_text("nosuch 1"),
            Err(ConfigError::AtLine { line: 1, .. })
        ));
        assert!(c.apply_file_text("port 99999").is_err());
        assert!(c.apply_file_text("appendonly maybe").is_err());
        assert!(c.apply_file_text("appendonly no").is_ok());
        assert!(matches!(
            c.apply_file_text("appendonly yes"),
            Err(ConfigError::AtLine { .. })
        ));
        assert!(c.apply_file_text("maxmemory 0").is_ok());
        c.apply_file_text("maxmemory 1mb\nmaxkeys 1000\nmaxmemory-eviction-tenacity 20")
            .expect("limits are honoured");
        assert_eq!(
            (c.maxmemory, c.maxkeys, c.maxmemory_eviction_tenacity),
            (1 << 20, 1000, 20)
        );
        assert!(c
            .apply_file_text("maxmemory-eviction-tenacity 101")
            .is_err());
        assert!(c.apply_file_text("maxkeys -1").is_err());
    }
}
