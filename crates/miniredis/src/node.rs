//! `miniredis node`: one standalone server configured like redis-server.

use commands::config::ConfigError;
use commands::Config;

/// Builds the configuration from `[configfile] [--name value...]`, in that order of
/// precedence (command-line options override the file), as redis-server does.
pub fn parse_args(args: &[String]) -> Result<Config, String> {
    let mut cfg = Config::default();
    let mut rest = args;
    let mut file: Option<String> = None;
    if let Some(first) = rest.first() {
        if !first.starts_with("--") {
            file = Some(first.clone());
            rest = &rest[1..];
        }
    }
    // Group `--name v1 v2 ...` settings.
    let mut settings: Vec<(String, Vec<String>)> = Vec::new();
    for a in rest {
        if let Some(name) = a.strip_prefix("--") {
            if name.is_empty() {
                return Err("empty option name '--'".into());
            }
            settings.push((name.to_string(), Vec::new()));
        } else {
            match settings.last_mut() {
                Some((_, v)) => v.push(a.clone()),
                None => return Err(format!("unexpected argument '{a}'")),
            }
        }
    }
    // `--config FILE` is the same as a leading file argument.
    settings.retain(|(name, v)| {
        if name == "config" {
            file = v.first().cloned();
            false
        } else {
            true
        }
    });
    if let Some(path) = &file {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read config file '{path}': {e}"))?;
        cfg.apply_file_text(&text)
            .map_err(|e| format!("in config file '{path}': {e}"))?;
    }
    for (name, values) in settings {
        // A bare flag like `--appendonly` means yes, as redis-server allows for booleans.
        let values = if values.is_empty() {
            match commands::config::find(&name) {
                Some(p) if p.kind == commands::config::Kind::Bool => vec!["yes".to_string()],
                _ => values,
            }
        } else {
            values
        };
        cfg.apply(&name, &values).map_err(|e| match e {
            ConfigError::Unknown(n) => format!("unknown option '--{n}'"),
            other => other.to_string(),
        })?;
    }
    Ok(cfg)
}

pub fn main(args: &[String]) -> i32 {
    let cfg = match parse_args(args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("miniredis node: {e}");
            return 1;
        }
    };
    crate::logging::init(&cfg.loglevel, &cfg.logfile);
    crate::limits::raise_and_log();
    if !cfg.save.is_empty() {
        tracing::warn!(
            "snapshots are not written by this version: the save schedule '{}' has no effect and data lives in memory only",
            cfg.save
        );
    }
    if cfg.daemonize {
        eprintln!("miniredis node: daemonize is not supported; run it under a supervisor");
        return 1;
    }
    let handle = match server::start(cfg) {
        Ok(h) => h,
        Err(e) => {
            eprintln!("miniredis node: {e:#}");
            return 1;
        }
    };
    tracing::info!(
        "MiniRedis {} ready to accept connections on {}",
        env!("CARGO_PKG_VERSION"),
        handle
            .addrs()
            .iter()
            .map(|a| a.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
    let inst = handle.instance().clone();
    // SIGINT/SIGTERM stop the server like SHUTDOWN.
    std::thread::spawn(move || {
        crate::signals::wait_for_signal();
        inst.request_shutdown();
    });
    handle.wait();
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn options() {
        let c = parse_args(&s(&[
            "--port",
            "7001",
            "--requirepass",
            "pw",
            "--save",
            "",
            "--appendonly",
            "no",
        ]))
        .expect("valid");
        assert_eq!(c.port, 7001);
        assert_eq!(c.requirepass.as_deref(), Some("pw"));
        assert!(!c.appendonly);
        assert!(parse_args(&s(&["--appendonly", "yes"])).is_err());
        assert_eq!(c.save, "");
        assert!(parse_args(&s(&["--nosuch", "1"])).is_err());
        assert!(parse_args(&s(&["--port", "abc"])).is_err());
        assert!(parse_args(&s(&["--port", "70000"])).is_err());
        assert!(parse_args(&s(&["stray"])).is_err());
        assert!(parse_args(&s(&[
            "--maxmemory",
            "0",
            "--maxmemory-policy",
            "allkeys-lru"
        ]))
        .is_ok_and(|c| c.maxmemory_policy == "allkeys-lru"));
        assert!(parse_args(&s(&["--maxmemory", "1gb", "--maxkeys", "10"]))
            .is_ok_and(|c| c.maxmemory == 1 << 30 && c.maxkeys == 10));
        assert!(parse_args(&s(&["--maxmemory", "lots"])).is_err());
    }
}
