//! The network server: the shared I/O pool, listeners, and the per-connection loop.
//!
//! Threading: `io_threads` OS threads each run a single-threaded Tokio runtime (see
//! [`pool`]). A command runs on its connection's thread under the shard locks it needs
//! (see the engine), so there is no hop between threads on the request path.
//! Background work (active expiry) runs on the pool's cron thread.

mod conn;
mod fair;
pub mod pool;

use std::net::{SocketAddr, TcpListener as StdListener};
use std::sync::Arc;

use anyhow::Context;
use commands::{Config, Instance};

pub use conn::serve_connection;
pub use pool::{default_io_threads, IoPool, Listener};

/// A running standalone server: one instance on its own pool.
pub struct ServerHandle {
    addrs: Vec<SocketAddr>,
    instance: Arc<Instance>,
    pool: Arc<IoPool>,
    listeners: Vec<Listener>,
}

impl ServerHandle {
    /// The first address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addrs[0]
    }

    pub fn addrs(&self) -> &[SocketAddr] {
        &self.addrs
    }

    pub fn instance(&self) -> &Arc<Instance> {
        &self.instance
    }

    pub fn pool(&self) -> &Arc<IoPool> {
        &self.pool
    }

    /// Blocks until the server is asked to stop (SHUTDOWN, or a signal handler calling
    /// `request_shutdown`), then stops it.
    pub fn wait(self) {
        wait_for_shutdown(&self.instance);
        self.stop();
    }

    /// Stops the server and waits for its threads.
    pub fn shutdown(self) {
        self.instance.request_shutdown();
        self.stop();
    }

    fn stop(mut self) {
        for l in self.listeners.drain(..) {
            l.close();
        }
        self.pool.shutdown();
    }
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        for l in self.listeners.drain(..) {
            l.close();
        }
        self.pool.shutdown();
    }
}

/// Blocks the calling (non-I/O) thread until `inst` is asked to shut down.
pub fn wait_for_shutdown(inst: &Instance) {
    let rt = match tokio::runtime::Builder::new_current_thread().build() {
        Ok(rt) => rt,
        Err(_) => {
            while !inst
                .shutdown_requested
                .load(std::sync::atomic::Ordering::Relaxed)
            {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            return;
        }
    };
    rt.block_on(async {
        let notified = inst.shutdown.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        if inst
            .shutdown_requested
            .load(std::sync::atomic::Ordering::Relaxed)
        {
            return;
        }
        notified.await;
    });
}

/// Parses `host` (a `bind` entry, with redis's optional leading `-`) and `port`.
pub fn socket_addr(host: &str, port: u16) -> anyhow::Result<SocketAddr> {
    let host = host.trim_start_matches('-');
    let text = if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    };
    text.parse()
        .with_context(|| format!("invalid bind address '{host}'"))
}

/// Binds every address of `config.bind` on `config.port` (0 = an ephemeral port).
pub fn bind(config: &Config) -> anyhow::Result<Vec<StdListener>> {
    let mut out = Vec::new();
    let mut port = config.port;
    for host in &config.bind {
        let addr = socket_addr(host, port)?;
        let l = StdListener::bind(addr).with_context(|| format!("could not bind {addr}"))?;
        l.set_nonblocking(true)?;
        // With port 0, every further address uses the port the first one got.
        port = l.local_addr()?.port();
        out.push(l);
    }
    if out.is_empty() {
        anyhow::bail!("no bind address configured");
    }
    Ok(out)
}

/// Starts a standalone server for `config`; returns once it accepts connections.
pub fn start(config: Config) -> anyhow::Result<ServerHandle> {
    let listeners = bind(&config)?;
    let instance = Instance::new(config);
    start_with(listeners, instance)
}

/// Starts serving `instance` on already-bound listeners, on a pool of its own.
pub fn start_with(
    listeners: Vec<StdListener>,
    instance: Arc<Instance>,
) -> anyhow::Result<ServerHandle> {
    let io_threads = instance.config.read().io_threads;
    let pool = IoPool::new(io_threads)?;
    let mut served = Vec::new();
    let mut addrs = Vec::new();
    for l in listeners {
        let l = pool.listen(l, instance.clone())?;
        addrs.push(l.addr());
        served.push(l);
    }
    Ok(ServerHandle {
        addrs,
        instance,
        pool,
        listeners: served,
    })
}
