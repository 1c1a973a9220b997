//! The I/O pool: a fixed set of I/O threads shared by every listener of the process.
//!
//! A standalone node has one instance and one or two listeners; the platform has one
//! instance per tenant database, each with its own listener, plus the front door. They
//! all run on the same threads, so a thousand idle databases cost a thousand idle
//! accept tasks, not a thousand threads.
//!
//! Each I/O thread runs a single-threaded Tokio runtime. A listener's accept loop runs
//! on one of them; every accepted connection is handed to the next thread in turn and
//! lives there for its whole life, so a command never hops between threads.

use std::collections::HashMap;
use std::net::{SocketAddr, TcpListener as StdListener};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Weak};
use std::thread::JoinHandle;
use std::time::Duration;

use commands::Instance;
use parking_lot::Mutex;
use tokio::runtime::Handle;
use tokio::sync::Notify;

use crate::conn::serve_connection;

/// How long a closing listener or a stopping pool waits for its tasks.
const CLOSE_WAIT: Duration = Duration::from_secs(2);
/// How long a stopping pool lets killed connections finish writing.
const DRAIN_WAIT: Duration = Duration::from_millis(500);

/// A spread instance's threads: (the instance, home thread, width).
type Spread = (Weak<Instance>, usize, usize);

/// Shared I/O threads, and the background cron that serves every instance.
pub struct IoPool {
    handles: Vec<Handle>,
    threads: Mutex<Vec<JoinHandle<()>>>,
    next: AtomicUsize,
    /// Home thread of the next spread listener.
    next_home: AtomicUsize,
    stopping: AtomicBool,
    stop: Arc<Notify>,
    /// Instances the cron serves (active expiry, ops/sec sampling).
    instances: Mutex<Vec<Weak<Instance>>>,
    /// Where spread listeners' instances live (home thread, width), by instance
    /// address: a front-door connection that authenticates into one moves there.
    placements: Mutex<HashMap<usize, Spread>>,
}

impl IoPool {
    /// Starts `threads` I/O threads (0 = one per core) and the cron thread.
    pub fn new(threads: usize) -> anyhow::Result<Arc<IoPool>> {
        let n = if threads == 0 {
            default_io_threads()
        } else {
            threads
        };
        let stop = Arc::new(Notify::new());
        let mut handles = Vec::with_capacity(n);
        let mut joins = Vec::with_capacity(n + 1);
        for i in 0..n {
            let (tx, rx) = std::sync::mpsc::channel::<std::io::Result<Handle>>();
            let stop = stop.clone();
            joins.push(
                std::thread::Builder::new()
                    .name(format!("miniredis-io-{i}"))
                    .spawn(move || io_thread(tx, stop))?,
            );
            let handle = rx
                .recv()
                .map_err(|_| anyhow::anyhow!("I/O thread died at start"))??;
            handles.push(handle);
        }
        let pool = Arc::new(IoPool {
            handles,
            threads: Mutex::new(joins),
            next: AtomicUsize::new(0),
            next_home: AtomicUsize::new(0),
            stopping: AtomicBool::new(false),
            stop,
            instances: Mutex::new(Vec::new()),
            placements: Mutex::new(HashMap::new()),
        });
        // Each I/O thread learns its index and its pool, for thread_for().
        for (i, h) in pool.handles.iter().enumerate() {
            let weak = Arc::downgrade(&pool);
            h.spawn(async move {
                THREAD.with(|t| *t.borrow_mut() = Some((i, weak)));
            });
        }
        let weak = Arc::downgrade(&pool);
        let cron = std::thread::Builder::new()
            .name("miniredis-cron".into())
            .spawn(move || cron_thread(weak))?;
        pool.threads.lock().push(cron);
        Ok(pool)
    }

    pub fn io_threads(&self) -> usize {
        self.handles.len()
    }

    fn next_handle(&self) -> &Handle {
        let i = self.next.fetch_add(1, Relaxed) % self.handles.len();
        &self.handles[i]
    }

    /// The thread for the `k`-th connection of a listener placed as `p`.
    fn handle_for(&self, p: Placement, k: usize) -> &Handle {
        match p {
            Placement::All => self.next_handle(),
            Placement::Spread { home, width } => {
                &self.handles[(home + k % width) % self.handles.len()]
            }
        }
    }

    /// Puts `inst` under the cron (active expiry, ops/sec). Dropped instances leave by
    /// themselves.
    pub fn watch(&self, inst: &Arc<Instance>) {
        let mut v = self.instances.lock();
        v.retain(|w| w.strong_count() > 0);
        v.push(Arc::downgrade(inst));
    }

    fn watched(&self) -> Vec<Arc<Instance>> {
        self.instances
            .lock()
            .iter()
            .filter_map(Weak::upgrade)
            .collect()
    }

    /// Serves `inst` on an already-bound listener until the returned [`Listener`] is
    /// closed or dropped. The instance is also put under the cron.
    pub fn listen(
        self: &Arc<Self>,
        l: StdListener,
        inst: Arc<Instance>,
    ) -> anyhow::Result<Listener> {
        self.listen_on(l, inst, Placement::All)
    }

    /// Like [`listen`](Self::listen), but the connections go to `width` consecutive
    /// I/O threads starting at a home thread the pool picks (the next in turn), not to
    /// all of them. Databases sharing a process then mostly run on different threads,
    /// so one driven flat out does not delay a neighbour's requests (see
    /// docs/architecture.md, fairness).
    pub fn listen_spread(
        self: &Arc<Self>,
        l: StdListener,
        inst: Arc<Instance>,
        width: usize,
    ) -> anyhow::Result<Listener> {
        let n = self.handles.len();
        let home = self.next_home.fetch_add(1, Relaxed) % n;
        let width = width.clamp(1, n);
        {
            let mut p = self.placements.lock();
            p.retain(|_, (w, _, _)| w.strong_count() > 0);
            p.insert(
                Arc::as_ptr(&inst) as usize,
                (Arc::downgrade(&inst), home, width),
            );
        }
        self.listen_on(l, inst, Placement::Spread { home, width })
    }

    fn listen_on(
        self: &Arc<Self>,
        l: StdListener,
        inst: Arc<Instance>,
        placement: Placement,
    ) -> anyhow::Result<Listener> {
        if self.stopping.load(Relaxed) {
            anyhow::bail!("the server is stopping");
        }
        l.set_nonblocking(true)?;
        let addr = l.local_addr()?;
        self.watch(&inst);
        let stop = Arc::new(Notify::new());
        let alive = Arc::new(AtomicBool::new(true));
        let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<std::io::Result<()>>();
        let pool = Arc::downgrade(self);
        let task_stop = stop.clone();
        let task_alive = alive.clone();
        self.next_handle().spawn(async move {
            let listener = match tokio::net::TcpListener::from_std(l) {
                Ok(t) => t,
                Err(e) => {
                    task_alive.store(false, Relaxed);
                    let _ = ready_tx.send(Err(e));
                    return;
                }
            };
            let _ = ready_tx.send(Ok(()));
            accept_loop(listener, inst, pool, placement, task_stop, &task_alive).await;
            task_alive.store(false, Relaxed);
            // The listener is dropped here, before `done` is sent: once close()
            // returns, the port is free.
            drop(done_tx);
        });
        ready_rx
            .recv_timeout(CLOSE_WAIT)
            .map_err(|_| anyhow::anyhow!("listener task did not start"))??;
        Ok(Listener {
            addr,
            stop,
            alive,
            done: Some(done_rx),
        })
    }

    /// Stops every listener and connection, then the threads. Idempotent.
    pub fn shutdown(&self) {
        if self.stopping.swap(true, Relaxed) {
            return;
        }
        for inst in self.watched() {
            inst.request_shutdown();
        }
        // Killed connections finish writing their replies while the threads still run
        // (not from an I/O thread itself: it would hold up its own connections).
        if !ON_IO_THREAD.with(|f| f.get()) {
            drain(self);
        }
        self.stop.notify_waiters();
        let threads: Vec<JoinHandle<()>> = std::mem::take(&mut *self.threads.lock());
        let me = std::thread::current().id();
        for t in threads {
            // A pool stopped from one of its own threads can't join that thread.
            if t.thread().id() != me {
                let _ = t.join();
            }
        }
    }

    pub fn is_stopping(&self) -> bool {
        self.stopping.load(Relaxed)
    }

    /// Connected clients of every watched instance (the pool's drain condition).
    fn clients(&self) -> usize {
        self.watched().iter().map(|i| i.connected_clients()).sum()
    }
}

impl Drop for IoPool {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// A listening socket served by the pool.
pub struct Listener {
    addr: SocketAddr,
    stop: Arc<Notify>,
    alive: Arc<AtomicBool>,
    done: Option<std::sync::mpsc::Receiver<()>>,
}

impl Listener {
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// False once the accept loop has ended for any reason (closed, or failed).
    pub fn is_alive(&self) -> bool {
        self.alive.load(Relaxed)
    }

    /// Stops accepting and waits (briefly) until the socket is closed, so the port can
    /// be bound again as soon as this returns. Connections already accepted are not
    /// touched: the instance decides about those.
    pub fn close(mut self) {
        self.close_inner();
    }

    /// Test and supervision hook: ends the accept loop as a failure would, without
    /// the orderly close (the supervisor must notice and recover).
    pub fn kill(&self) {
        self.stop.notify_one();
    }

    fn close_inner(&mut self) {
        self.stop.notify_one();
        if let Some(done) = self.done.take() {
            // Err(Disconnected) is the normal end: the task dropped its sender.
            let _ = done.recv_timeout(CLOSE_WAIT);
        }
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.close_inner();
    }
}

/// Which I/O threads a listener's connections go to.
#[derive(Clone, Copy, Debug)]
enum Placement {
    /// Every thread in turn (a standalone node: one database uses every core).
    All,
    /// `width` threads from `home`.
    Spread { home: usize, width: usize },
}

async fn accept_loop(
    listener: tokio::net::TcpListener,
    inst: Arc<Instance>,
    pool: Weak<IoPool>,
    placement: Placement,
    stop: Arc<Notify>,
    alive: &AtomicBool,
) {
    let mut accepted_count = 0usize;
    loop {
        let accepted = tokio::select! {
            r = listener.accept() => r,
            _ = stop.notified() => return,
        };
        if !alive.load(Relaxed) {
            return;
        }
        let Some(pool) = pool.upgrade() else { return };
        if pool.is_stopping() || inst.shutdown_requested.load(Relaxed) {
            return;
        }
        match accepted {
            Ok((s, _)) => {
                let _ = s.set_nodelay(true);
                let Ok(std_s) = s.into_std() else { continue };
                let inst = inst.clone();
                accepted_count = accepted_count.wrapping_add(1);
                pool.handle_for(placement, accepted_count)
                    .spawn(async move {
                        match tokio::net::TcpStream::from_std(std_s) {
                            Ok(stream) => serve_connection(stream, inst).await,
                            Err(e) => tracing::warn!("dropping connection: {e}"),
                        }
                    });
            }
            Err(e) => {
                // EMFILE and friends: back off instead of spinning.
                tracing::warn!("accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
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

thread_local! {
    static ON_IO_THREAD: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    /// On an I/O thread: its index in the pool, and the pool.
    static THREAD: std::cell::RefCell<Option<(usize, Weak<IoPool>)>> =
        const { std::cell::RefCell::new(None) };
}

/// The I/O thread a connection of `inst` should move to, if it is not on one of the
/// instance's threads already (None: stay; also for instances served by every thread).
pub(crate) fn thread_for(inst: &Arc<Instance>) -> Option<Handle> {
    THREAD.with(|t| {
        let t = t.borrow();
        let (me, pool) = t.as_ref()?;
        let pool = pool.upgrade()?;
        let key = Arc::as_ptr(inst) as usize;
        let (home, width) = {
            let p = pool.placements.lock();
            let (w, home, width) = p.get(&key)?;
            if !std::ptr::eq(w.as_ptr(), Arc::as_ptr(inst)) {
                return None;
            }
            (*home, *width)
        };
        let n = pool.handles.len();
        if (0..width).any(|k| (home + k) % n == *me) {
            return None;
        }
        let k = pool.next.fetch_add(1, Relaxed) % width;
        Some(pool.handles[(home + k) % n].clone())
    })
}

fn io_thread(ready: std::sync::mpsc::Sender<std::io::Result<Handle>>, stop: Arc<Notify>) {
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            let _ = ready.send(Err(e));
            return;
        }
    };
    ON_IO_THREAD.with(|f| f.set(true));
    let stopped = stop.notified();
    tokio::pin!(stopped);
    stopped.as_mut().enable();
    if ready.send(Ok(rt.handle().clone())).is_err() {
        return;
    }
    rt.block_on(async move {
        stopped.await;
    });
    // Dropping the runtime cancels what is left (connections that did not go within
    // the drain time).
}

/// Periodic work, `hz` times a second (the highest hz of the watched instances):
/// active expiry within a CPU budget, as Redis's serverCron does (at most ~25% of one
/// core for all instances together), and ops/sec sampling.
fn cron_thread(pool: Weak<IoPool>) {
    let mut start_at = 0usize;
    loop {
        let Some(p) = pool.upgrade() else { return };
        if p.is_stopping() {
            return;
        }
        let insts = p.watched();
        drop(p);
        let hz = insts
            .iter()
            .map(|i| i.config.read().hz)
            .max()
            .unwrap_or(10)
            .clamp(1, 500);
        let period = Duration::from_millis(1000 / hz);
        let budget = period / 4;
        let started = std::time::Instant::now();
        let n = insts.len();
        // Start where the last tick's budget ran out, so every instance gets its turn.
        for k in 0..n {
            let inst = &insts[(start_at + k) % n];
            inst.sample_ops();
            // With a maxmemory: a fresh allocator sample, and the eviction a command's
            // pass left unfinished (its time limit ran out).
            if inst.limits.maxmemory() != 0 {
                inst.sample_allocator();
                inst.evict_to_limit();
            }
            if started.elapsed() >= budget {
                start_at = (start_at + k) % n.max(1);
                break;
            }
            let cycle = std::time::Instant::now();
            while inst.active_expire_enabled.load(Relaxed) {
                let now = commands::instance::unix_ms();
                let (visited, expired) = inst.ks.active_expire(now, 1024);
                // Keep going while more than 10% of what we looked at was stale.
                if visited == 0 || expired * 10 <= visited || started.elapsed() >= budget {
                    break;
                }
            }
            // Keys expired or evicted above, for keyspace notifications.
            commands::pubsub::engine_events_background(inst);
            inst.latency_event("expire-cycle", cycle.elapsed());
        }
        drop(insts);
        std::thread::sleep(period.saturating_sub(started.elapsed()));
    }
}

/// Waits (bounded) for the clients of a stopping pool to go.
fn drain(pool: &IoPool) {
    let deadline = std::time::Instant::now() + DRAIN_WAIT;
    while pool.clients() > 0 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
}
