//! The network server: listeners, I/O threads and the per-connection loop.
//!
//! Threading: `io_threads` OS threads each run a single-threaded Tokio runtime; an
//! acceptor hands every new connection to the next thread in turn, and the connection
//! lives there for its whole life. A command runs on the connection's own thread under
//! the shard locks it needs (see the engine), so there is no hop between threads on the
//! request path. Background work (active expiry) runs on its own thread.

mod conn;

use std::net::{SocketAddr, TcpListener as StdListener};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::Context;
use commands::{Config, Instance};
use tokio::sync::mpsc;

pub use conn::serve_connection;

/// A running server.
pub struct ServerHandle {
    addrs: Vec<SocketAddr>,
    instance: Arc<Instance>,
    threads: Vec<JoinHandle<()>>,
    stop: Arc<AtomicBool>,
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

    /// Blocks until the server stops (SHUTDOWN or [`shutdown`](Self::shutdown)).
    pub fn wait(mut self) {
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }

    /// Stops the server and waits for its threads.
    pub fn shutdown(self) {
        self.instance.request_shutdown();
        self.wait();
    }
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        if !self.threads.is_empty() {
            self.stop.store(true, Relaxed);
            self.instance.request_shutdown();
            for t in self.threads.drain(..) {
                let _ = t.join();
            }
        }
    }
}

/// Binds every address of `config.bind` on `config.port` (0 = an ephemeral port).
pub fn bind(config: &Config) -> anyhow::Result<Vec<StdListener>> {
    let mut out = Vec::new();
    let mut port = config.port;
    for host in &config.bind {
        let host = host.trim_start_matches('-');
        let addr: SocketAddr = if host.contains(':') {
            format!("[{host}]:{port}")
        } else {
            format!("{host}:{port}")
        }
        .parse()
        .with_context(|| format!("invalid bind address '{host}'"))?;
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

/// Starts serving `instance` on already-bound listeners.
pub fn start_with(
    listeners: Vec<StdListener>,
    instance: Arc<Instance>,
) -> anyhow::Result<ServerHandle> {
    let addrs = listeners
        .iter()
        .map(|l| l.local_addr())
        .collect::<Result<Vec<_>, _>>()?;
    let io_threads = match instance.config.read().io_threads {
        0 => default_io_threads(),
        n => n,
    };
    let stop = Arc::new(AtomicBool::new(false));
    let mut threads = Vec::new();
    let mut senders = Vec::new();
    for i in 0..io_threads {
        let (tx, rx) = mpsc::unbounded_channel::<std::net::TcpStream>();
        senders.push(tx);
        let inst = instance.clone();
        threads.push(
            std::thread::Builder::new()
                .name(format!("miniredis-io-{i}"))
                .spawn(move || io_thread(inst, rx))?,
        );
    }
    // The acceptor: its own small runtime, hands sockets out round-robin.
    {
        let inst = instance.clone();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<anyhow::Result<()>>();
        threads.push(
            std::thread::Builder::new()
                .name("miniredis-accept".into())
                .spawn(move || accept_thread(inst, listeners, senders, ready_tx))?,
        );
        ready_rx
            .recv()
            .map_err(|_| anyhow::anyhow!("acceptor thread died"))??;
    }
    {
        let inst = instance.clone();
        let stop = stop.clone();
        threads.push(
            std::thread::Builder::new()
                .name("miniredis-cron".into())
                .spawn(move || cron_thread(inst, stop))?,
        );
    }
    Ok(ServerHandle {
        addrs,
        instance,
        threads,
        stop,
    })
}

/// `io-threads 0`: one I/O thread per core. Measured on 2 cores with a two-threaded
/// redis-benchmark (-P 1, 50 clients): one I/O thread served ~120k GET/s, two served
/// ~200k/s, where Redis served ~145k/s (docs/benchmarks.md).
pub fn default_io_threads() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .max(1)
}

fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
}

fn io_thread(inst: Arc<Instance>, mut rx: mpsc::UnboundedReceiver<std::net::TcpStream>) {
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!("cannot start I/O runtime: {e}");
            return;
        }
    };
    rt.block_on(async move {
        loop {
            tokio::select! {
                s = rx.recv() => match s {
                    Some(std_stream) => {
                        let inst = inst.clone();
                        match tokio::net::TcpStream::from_std(std_stream) {
                            Ok(stream) => {
                                tokio::spawn(serve_connection(stream, inst));
                            }
                            Err(e) => tracing::warn!("dropping connection: {e}"),
                        }
                    }
                    None => break,
                },
                _ = inst.shutdown.notified() => break,
            }
            if inst.shutdown_requested.load(Relaxed) {
                break;
            }
        }
        // Let connection tasks see the kill flag and finish writing.
        let deadline = tokio::time::Instant::now() + Duration::from_millis(500);
        while inst.connected_clients() > 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    });
}

fn accept_thread(
    inst: Arc<Instance>,
    listeners: Vec<StdListener>,
    senders: Vec<mpsc::UnboundedSender<std::net::TcpStream>>,
    ready: std::sync::mpsc::Sender<anyhow::Result<()>>,
) {
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(e) => {
            let _ = ready.send(Err(e.into()));
            return;
        }
    };
    rt.block_on(async move {
        let mut tls = Vec::new();
        for l in listeners {
            match tokio::net::TcpListener::from_std(l) {
                Ok(t) => tls.push(t),
                Err(e) => {
                    let _ = ready.send(Err(e.into()));
                    return;
                }
            }
        }
        let _ = ready.send(Ok(()));
        let next = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for l in tls {
            let senders = senders.clone();
            let next = next.clone();
            let inst = inst.clone();
            tasks.push(tokio::spawn(async move {
                loop {
                    match l.accept().await {
                        Ok((s, _)) => {
                            if inst.shutdown_requested.load(Relaxed) {
                                break;
                            }
                            let _ = s.set_nodelay(true);
                            let Ok(std_s) = s.into_std() else { continue };
                            let i = next.fetch_add(1, Relaxed) % senders.len();
                            let _ = senders[i].send(std_s);
                        }
                        Err(e) => {
                            // EMFILE and friends: back off instead of spinning.
                            tracing::warn!("accept failed: {e}");
                            tokio::time::sleep(Duration::from_millis(10)).await;
                        }
                    }
                }
            }));
        }
        inst.shutdown.notified().await;
        for t in tasks {
            t.abort();
        }
    });
}

/// Periodic work, `hz` times a second: active expiry within a CPU budget, as Redis's
/// serverCron does (at most ~25% of one core); with a maxmemory, a fresh allocator sample
/// and the eviction a command's pass left unfinished (its time limit ran out).
fn cron_thread(inst: Arc<Instance>, stop: Arc<AtomicBool>) {
    while !stop.load(Relaxed) && !inst.shutdown_requested.load(Relaxed) {
        let hz = inst.config.read().hz.clamp(1, 500);
        let period = Duration::from_millis(1000 / hz);
        let budget = period / 4;
        let started = std::time::Instant::now();
        inst.sample_ops();
        if inst.limits.maxmemory() != 0 {
            inst.sample_allocator();
            inst.evict_to_limit();
        }
        while inst.active_expire_enabled.load(Relaxed) {
            let now = commands::instance::unix_ms();
            let (visited, expired) = inst.ks.active_expire(now, 1024);
            // Keep going while more than 10% of what we looked at was stale.
            if visited == 0 || expired * 10 <= visited || started.elapsed() >= budget {
                break;
            }
        }
        std::thread::sleep(period.saturating_sub(started.elapsed()));
    }
}
