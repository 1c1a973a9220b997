//! SIGINT and SIGTERM end the process in order (snapshots saved, sockets closed).

/// Blocks until SIGINT or SIGTERM arrives.
pub fn wait_for_signal() {
    let Ok(rt) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    else {
        // Without a runtime there is no signal handling: wait forever, the default
        // signal action still ends the process.
        loop {
            std::thread::park();
        }
    };
    rt.block_on(async {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = tokio::signal::ctrl_c().await;
                    return;
                }
            };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {},
            _ = term.recv() => {},
        }
        tracing::info!("received signal");
    });
}
