//! Logging for every subcommand: `MINIREDIS_LOG` (an env-filter) overrides the level.

/// `level` takes redis's names (debug, verbose, notice, warning, nothing) and the
/// usual ones (error, warn, info, debug, trace). An empty `logfile` logs to stderr.
pub fn init(level: &str, logfile: &str) {
    let level = match level {
        "debug" => "debug",
        "verbose" | "info" | "notice" => "info",
        "warning" | "warn" => "warn",
        "error" => "error",
        "trace" => "trace",
        "nothing" | "off" => "off",
        _ => "info",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("MINIREDIS_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false);
    if logfile.is_empty() {
        builder.with_writer(std::io::stderr).init();
    } else {
        match std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(logfile)
        {
            Ok(f) => builder
                .with_ansi(false)
                .with_writer(std::sync::Mutex::new(f))
                .init(),
            Err(e) => {
                eprintln!("cannot open logfile {logfile}: {e}");
                builder.with_writer(std::io::stderr).init();
            }
        }
    }
}
