//! `miniredis server`: the platform on one host — the node manager with its tenant
//! databases and the front door.
//!
//! Configuration, lowest precedence first: built-in defaults, the TOML file
//! (`--config`, or `MINIREDIS_CONFIG`), environment variables, command-line flags.

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use commands::{Config, Instance};
use nodes::{DatabaseSpec, Limits, NodeManager, Persistence, PortChoice, Settings};
use serde::Deserialize;

/// Flags of `miniredis server` (each also read from the environment variable named).
#[derive(Args, Debug, Default)]
pub struct ServerArgs {
    /// TOML configuration file.
    #[arg(long, env = "MINIREDIS_CONFIG")]
    pub config: Option<PathBuf>,
    /// Address every listener binds to [default: 127.0.0.1].
    #[arg(long, env = "MINIREDIS_BIND")]
    pub bind: Option<IpAddr>,
    /// Front-door port, where `AUTH <database> <password>` picks the database
    /// [default: 6379]. 0 turns the front door off.
    #[arg(long, env = "MINIREDIS_FRONT_DOOR_PORT")]
    pub front_door_port: Option<u16>,
    /// First port of the tenant pool [default: 6000].
    #[arg(long, env = "REDIS_PORT_START")]
    pub port_start: Option<u16>,
    /// Last port of the tenant pool [default: 6999].
    #[arg(long, env = "REDIS_PORT_END")]
    pub port_end: Option<u16>,
    /// Seconds a released port rests before reuse [default: 30].
    #[arg(long, env = "MINIREDIS_PORT_QUARANTINE_SECS")]
    pub port_quarantine_secs: Option<u64>,
    /// Manifest and database data [default: ./miniredis-data].
    #[arg(long, env = "MINIREDIS_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// I/O threads [default: 0, one per core].
    #[arg(long, env = "MINIREDIS_IO_THREADS")]
    pub io_threads: Option<usize>,
    /// I/O threads one database's connections are spread over [default: 0, half of
    /// the I/O threads, at least 1].
    #[arg(long, env = "MINIREDIS_TENANT_THREADS")]
    pub tenant_threads: Option<usize>,
    /// Seconds between health checks of each database [default: 5].
    #[arg(long, env = "MINIREDIS_HEALTH_INTERVAL_SECS")]
    pub health_interval_secs: Option<f64>,
    /// Seconds between snapshots of a database with changes [default: 60].
    #[arg(long, env = "MINIREDIS_SNAPSHOT_INTERVAL_SECS")]
    pub snapshot_interval_secs: Option<f64>,
    /// Log level: error, warn, info, debug [default: info].
    #[arg(long, env = "MINIREDIS_LOG_LEVEL")]
    pub log_level: Option<String>,
}

/// The TOML file. Every key is optional; unknown keys are errors (a typo must not
/// silently fall back to a default).
#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub bind: Option<IpAddr>,
    pub front_door_port: Option<u16>,
    pub port_start: Option<u16>,
    pub port_end: Option<u16>,
    pub port_quarantine_secs: Option<u64>,
    pub data_dir: Option<PathBuf>,
    pub io_threads: Option<usize>,
    pub tenant_threads: Option<usize>,
    pub health_interval_secs: Option<f64>,
    pub snapshot_interval_secs: Option<f64>,
    pub log_level: Option<String>,
    #[serde(default, rename = "database")]
    pub databases: Vec<DeclaredDatabase>,
}

/// A `[[database]]` table.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct DeclaredDatabase {
    pub name: String,
    /// A number, "auto" (from the pool, the default) or "none" (front door only).
    #[serde(default)]
    pub port: PortChoice,
    pub password: Option<String>,
    /// Bytes, or a size such as "100mb".
    pub maxmemory: Option<Size>,
    pub maxmemory_policy: Option<String>,
    pub maxkeys: Option<u64>,
    pub maxclients: Option<u64>,
    /// "none" or "snapshot".
    #[serde(default)]
    pub persistence: Persistence,
    /// Where snapshots go (default: `<data_dir>/databases/<name>`).
    pub dir: Option<PathBuf>,
}

#[derive(Deserialize, Debug, Clone)]
#[serde(untagged)]
pub enum Size {
    Bytes(u64),
    Text(String),
}

impl Size {
    fn bytes(&self) -> Result<u64, String> {
        match self {
            Size::Bytes(n) => Ok(*n),
            Size::Text(t) => commands::config::parse_memory(t)
                .ok_or_else(|| format!("invalid size '{t}' (use bytes or e.g. 100mb, 1gb)")),
        }
    }
}

impl DeclaredDatabase {
    fn spec(&self) -> Result<DatabaseSpec, String> {
        let d = Limits::default();
        Ok(DatabaseSpec {
            name: self.name.clone(),
            port: self.port,
            password: self.password.clone(),
            limits: Limits {
                maxmemory: match &self.maxmemory {
                    Some(s) => s
                        .bytes()
                        .map_err(|e| format!("database '{}': {e}", self.name))?,
                    None => d.maxmemory,
                },
                maxmemory_policy: self.maxmemory_policy.clone().unwrap_or(d.maxmemory_policy),
                maxkeys: self.maxkeys.unwrap_or(d.maxkeys),
                maxclients: self.maxclients.unwrap_or(d.maxclients),
            },
            persistence: self.persistence,
            dir: self.dir.clone(),
            origin: nodes::Origin::Config,
        })
    }
}

/// The resolved configuration.
#[derive(Debug)]
pub struct Resolved {
    pub settings: Settings,
    pub front_door_port: u16,
    pub io_threads: usize,
    pub log_level: String,
    pub databases: Vec<DatabaseSpec>,
}

fn secs(v: f64, what: &str) -> Result<Duration, String> {
    if v.is_finite() && v > 0.0 && v < 1e9 {
        Ok(Duration::from_secs_f64(v))
    } else {
        Err(format!("{what} must be a positive number of seconds"))
    }
}

/// Parses the TOML file's text (untrusted: errors, never panics).
pub fn parse_file(text: &str) -> Result<FileConfig, String> {
    toml::from_str(text).map_err(|e| e.to_string())
}

pub fn resolve(args: &ServerArgs) -> Result<Resolved, String> {
    let file: FileConfig = match &args.config {
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .map_err(|e| format!("cannot read {}: {e}", p.display()))?;
            parse_file(&text).map_err(|e| format!("in {}: {e}", p.display()))?
        }
        None => FileConfig::default(),
    };
    let mut settings = Settings::default();
    if let Some(b) = args.bind.or(file.bind) {
        settings.host = b;
    }
    if let Some(p) = args.port_start.or(file.port_start) {
        settings.port_start = p;
    }
    if let Some(p) = args.port_end.or(file.port_end) {
        settings.port_end = p;
    }
    if settings.port_start == 0 || settings.port_end < settings.port_start {
        return Err(format!(
            "invalid port range {}-{}",
            settings.port_start, settings.port_end
        ));
    }
    if let Some(q) = args.port_quarantine_secs.or(file.port_quarantine_secs) {
        settings.port_quarantine = Duration::from_secs(q);
    }
    if let Some(d) = args.data_dir.clone().or(file.data_dir) {
        settings.data_dir = d;
    }
    if let Some(t) = args.tenant_threads.or(file.tenant_threads) {
        settings.tenant_threads = t;
    }
    if let Some(h) = args.health_interval_secs.or(file.health_interval_secs) {
        settings.health_interval = secs(h, "health_interval_secs")?;
    }
    if let Some(s) = args.snapshot_interval_secs.or(file.snapshot_interval_secs) {
        settings.snapshot_interval = secs(s, "snapshot_interval_secs")?;
    }
    let front_door_port = args
        .front_door_port
        .or(file.front_door_port)
        .unwrap_or(6379);
    if front_door_port != 0 && (settings.port_start..=settings.port_end).contains(&front_door_port)
    {
        return Err(format!(
            "the front door port {front_door_port} is inside the tenant port range"
        ));
    }
    let databases = file
        .databases
        .iter()
        .map(DeclaredDatabase::spec)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Resolved {
        settings,
        front_door_port,
        io_threads: args.io_threads.or(file.io_threads).unwrap_or(0),
        log_level: args
            .log_level
            .clone()
            .or(file.log_level)
            .unwrap_or_else(|| "info".into()),
        databases,
    })
}

pub fn main(args: &ServerArgs) -> i32 {
    let r = match resolve(args) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("miniredis server: {e}");
            return 1;
        }
    };
    crate::logging::init(&r.log_level, "");
    crate::limits::raise_and_log();
    match run(r) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("miniredis server: {e:#}");
            1
        }
    }
}

fn run(r: Resolved) -> anyhow::Result<()> {
    let pool = server::IoPool::new(r.io_threads)?;
    let started = std::time::Instant::now();
    let mgr = NodeManager::open(r.settings.clone(), pool.clone())?;
    let restored = mgr.list().len();
    for change in mgr.apply_declared(&r.databases)? {
        tracing::info!("configuration: {change}");
    }
    let _front = if r.front_door_port != 0 {
        let cfg = Config {
            port: r.front_door_port,
            bind: vec![r.settings.host.to_string()],
            tenant: true,
            save: String::new(),
            ..Config::default()
        };
        let listeners = server::bind(&cfg)?;
        let door = Instance::front_door(cfg, mgr.clone() as Arc<dyn commands::Directory>);
        let mut served = Vec::new();
        for l in listeners {
            served.push(pool.listen(l, door.clone())?);
        }
        Some((door, served))
    } else {
        None
    };
    let infos = mgr.list();
    for i in &infos {
        tracing::info!(
            "database '{}' {} on {}",
            i.name,
            i.status,
            i.port
                .map(|p| format!("{}:{p}", i.host))
                .unwrap_or_else(|| "the front door only".into())
        );
    }
    tracing::info!(
        "MiniRedis {} ready: front door {}, {} databases ({} restored) in {} ms",
        env!("CARGO_PKG_VERSION"),
        if r.front_door_port == 0 {
            "off".to_string()
        } else {
            format!("{}:{}", r.settings.host, r.front_door_port)
        },
        infos.len(),
        restored,
        started.elapsed().as_millis()
    );
    crate::signals::wait_for_signal();
    tracing::info!("shutting down");
    drop(_front);
    mgr.shutdown();
    pool.shutdown();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const EXAMPLE: &str = include_str!("../../../miniredis.example.toml");

    #[test]
    fn the_example_file_parses_and_declares_a_valid_database() {
        let f = parse_file(EXAMPLE).expect("example parses");
        assert_eq!(f.front_door_port, Some(6379));
        let specs: Vec<DatabaseSpec> = f
            .databases
            .iter()
            .map(DeclaredDatabase::spec)
            .collect::<Result<_, _>>()
            .expect("specs");
        assert_eq!(specs.len(), 1);
        assert_eq!(specs[0].limits.maxmemory, 256 << 20);
        specs[0].validate().expect("valid");
    }

    proptest! {
        #[test]
        fn arbitrary_text_is_an_error_or_a_config(text in ".{0,400}") {
            if let Ok(f) = parse_file(&text) {
                for d in &f.databases {
                    let _ = d.spec().map(|s| s.validate());
                }
            }
        }

        #[test]
        fn damaged_example_files_never_panic(
            at in any::<prop::sample::Index>(),
            junk in "[ -~\n]{0,12}",
            cut in any::<prop::sample::Index>(),
        ) {
            let i = at.index(EXAMPLE.len());
            let i = (0..=i).rev().find(|&k| EXAMPLE.is_char_boundary(k)).unwrap_or(0);
            let text = format!("{}{}{}", &EXAMPLE[..i], junk, &EXAMPLE[i..]);
            if let Ok(f) = parse_file(&text) {
                for d in &f.databases {
                    let _ = d.spec().map(|s| s.validate());
                }
            }
            let n = cut.index(text.len());
            let n = (0..=n).rev().find(|&k| text.is_char_boundary(k)).unwrap_or(0);
            let _ = parse_file(&text[..n]);
        }
    }
}
