//! Server configuration: typed values plus one table of parameters that CONFIG GET/SET,
//! redis.conf files and command-line options all read.

use std::path::PathBuf;

/// Typed configuration of one instance.
#[derive(Clone, Debug)]
pub struct Config {
    pub port: u16,
    pub bind: Vec<String>,
    pub requirepass: Option<String>,
    pub maxmemory: u64,
    pub maxmemory_policy: String,
    pub maxmemory_samples: u64,
    pub appendonly: bool,
    pub appendfsync: String,
    pub dir: PathBuf,
    pub dbfilename: String,
    pub databases: usize,
    pub save: String,
    pub maxclients: u64,
    pub timeout: u64,
    pub tcp_keepalive: u64,
    pub hz: u64,
    pub proto_max_bulk_len: u64,
    pub client_query_buffer_limit: u64,
    pub loglevel: String,
    pub logfile: String,
    pub lazyfree_lazy_user_flush: bool,
    /// MiniRedis: lock shards per keyspace (power of two).
    pub shards: usize,
    /// MiniRedis: I/O threads serving connections (0 = one per core).
    pub io_threads: usize,
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
            appendonly: false,
            appendfsync: "everysec".into(),
            dir: PathBuf::from("."),
            dbfilename: "dump.rdb".into(),
            databases: 16,
            save: "3600 1 300 100 60 10000".into(),
            maxclients: 10000,
            timeout: 0,
            tcp_keepalive: 300,
            hz: 10,
            proto_max_bulk_len: 512 * 1024 * 1024,
            client_query_buffer_limit: 1024 * 1024 * 1024,
            loglevel: "notice".into(),
            logfile: String::new(),
            lazyfree_lazy_user_flush: false,
            shards: 16,
            io_threads: 0,
        }
    }
}
