//! One client connection: read bytes, decode every complete command in the buffer,
//! dispatch each, write all replies with one write. Pipelines of any depth cost one
//! read and one write per batch, as in Redis.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

use commands::blocking::{Outcome, Waiter};
use commands::client::ClientInfo;
use commands::dispatch::{dispatch, flush_stats};
use commands::errors;
use commands::instance::unix_ms;
use commands::{Client, Instance};
use resp::{Decoded, Limits, Protocol, ReplyWriter, RequestDecoder};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Read buffer growth step; large bulks reserve what they announce.
const READ_CHUNK: usize = 16 * 1024;
/// Replies are flushed mid-batch once they grow past this, so a deep pipeline of
/// large replies doesn't accumulate unbounded output.
const FLUSH_AT: usize = 64 * 1024;

fn limits(inst: &Instance) -> Limits {
    let c = inst.config.read();
    Limits {
        max_bulk_len: c.proto_max_bulk_len as usize,
        ..Limits::default()
    }
}

/// Serves one connection until the client leaves, is killed, or breaks the protocol.
/// On a front door (`inst.is_front_door()`), `AUTH <database> <password>` moves the
/// connection to that database's instance.
pub async fn serve_connection(mut stream: TcpStream, inst: Arc<Instance>) {
    let addr = stream
        .peer_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    let laddr = stream
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    let info = Arc::new(ClientInfo::new(inst.next_client_id(), addr, laddr));
    {
        use std::os::fd::AsRawFd;
        info.fd.store(stream.as_raw_fd(), Relaxed);
    }
    let maxclients = inst.config.read().maxclients as usize;
    if inst.connected_clients() >= maxclients {
        inst.stats.rejected_connections.fetch_add(1, Relaxed);
        let _ = stream
            .write_all(b"-ERR max number of clients reached\r\n")
            .await;
        return;
    }
    inst.register_client(info.clone());
    let authenticated = !inst.needs_auth();
    let mut client = Client::new(info.clone(), authenticated);
    if inst.is_front_door() {
        client.front_door = Some(inst.clone());
    }
    let state = State::new(&inst);
    drive(
        stream,
        Session {
            inst,
            client,
            state,
        },
    )
    .await;
}

/// Everything a connection carries besides its socket, so it can move to another I/O
/// thread between two batches.
struct Session {
    inst: Arc<Instance>,
    client: Client,
    state: State,
}

/// The connection loop's buffers and decoder position.
struct State {
    rbuf: Vec<u8>,
    pos: usize,
    out: ReplyWriter,
    dec: RequestDecoder,
    need: usize,
}

impl State {
    fn new(inst: &Instance) -> Self {
        State {
            rbuf: Vec::with_capacity(READ_CHUNK),
            pos: 0,
            out: ReplyWriter::new(Protocol::Resp2),
            dec: RequestDecoder::new(limits(inst)),
            need: 0,
        }
    }
}

/// Runs the connection on this thread until it ends, or until it belongs on another
/// I/O thread (a front-door connection that authenticated into a database whose
/// connections live on other threads); then it is handed over there, socket, buffers
/// and all.
async fn drive(mut stream: TcpStream, mut s: Session) {
    let result = run(&mut stream, &mut s.inst, &mut s.client, &mut s.state).await;
    match result {
        Ok(Some(target)) => match stream.into_std() {
            Ok(std_stream) => move_to(&target, std_stream, s),
            Err(e) => {
                tracing::debug!("connection lost moving threads: {e}");
                end(s);
            }
        },
        Ok(None) => end(s),
        Err(e) => {
            tracing::debug!(client = s.client.info.id, "connection closed: {e}");
            end(s);
        }
    }
}

/// Hands the connection to another I/O thread. A separate function with a boxed,
/// type-erased future: `drive` on one thread starting `drive` on another is recursion
/// the compiler can only check for `Send` through a `dyn` boundary.
fn move_to(target: &tokio::runtime::Handle, std_stream: std::net::TcpStream, s: Session) {
    let fut: std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> =
        Box::pin(resume(std_stream, s));
    target.spawn(fut);
}

/// The connection continues on the thread this runs on.
async fn resume(std_stream: std::net::TcpStream, s: Session) {
    match TcpStream::from_std(std_stream) {
        Ok(stream) => drive(stream, s).await,
        Err(e) => {
            tracing::debug!("connection lost moving threads: {e}");
            end(s);
        }
    }
}

fn end(mut s: Session) {
    commands::tracking::disable(&s.inst, &s.client.info);
    commands::multi::release(&s.inst, &mut s.client);
    commands::pubsub::release(&s.inst, &mut s.client);
    flush_stats(&s.inst, &mut s.client);
    s.inst.unregister_client(s.client.info.id);
}

/// Moves the connection to `to` (after AUTH on the front door, or RESET back to it):
/// it leaves the old instance's client list and statistics and joins the new one's
/// with a new client id, keeping its name, protocol and library fields.
fn rebind(inst: &mut Arc<Instance>, client: &mut Client, to: Arc<Instance>) {
    // Watches, an open transaction, subscriptions and tracking belong to the instance
    // being left.
    commands::tracking::disable(inst, &client.info);
    client.tracking_caching = false;
    client.tracking_on = false;
    commands::multi::release(inst, client);
    commands::pubsub::release(inst, client);
    client.subs = None;
    flush_stats(inst, client);
    inst.unregister_client(client.info.id);
    let old = &client.info;
    let info = Arc::new(ClientInfo::new(
        client.rebind_id,
        old.addr.clone(),
        old.laddr.clone(),
    ));
    info.fd.store(old.fd.load(Relaxed), Relaxed);
    info.resp.store(old.resp.load(Relaxed), Relaxed);
    *info.name.lock() = old.name.lock().clone();
    *info.lib_name.lock() = old.lib_name.lock().clone();
    *info.lib_ver.lock() = old.lib_ver.lock().clone();
    info.touch();
    to.register_client(info.clone());
    client.info = info;
    client.select(0);
    *inst = to;
}

/// Serves the connection. Returns `Some(thread)` when it must continue on that I/O
/// thread (its replies so far written), None when it is over.
async fn run(
    stream: &mut TcpStream,
    inst: &mut Arc<Instance>,
    client: &mut Client,
    st: &mut State,
) -> std::io::Result<Option<tokio::runtime::Handle>> {
    // Taken out for the loop (plain locals keep the hot path simple); given back only
    // when the connection moves to another thread.
    let mut rbuf = std::mem::take(&mut st.rbuf);
    let mut pos = st.pos;
    let mut out = std::mem::replace(&mut st.out, ReplyWriter::new(Protocol::Resp2));
    let mut dec = std::mem::replace(&mut st.dec, RequestDecoder::new(Limits::default()));
    let mut need = st.need;
    // The argument vector's allocation, reused across commands.
    let mut spare: Vec<&'static [u8]> = Vec::with_capacity(16);
    // Each pass of this loop serves the connection while it belongs to one instance.
    loop {
        let info = client.info.clone();
        // One registration for as long as the connection stays, not one per read.
        let killed = info.kill.notified();
        tokio::pin!(killed);
        let mut rebound = false;
        while !rebound {
            // Make room for the next read (and for an announced large bulk).
            if rbuf.capacity() - rbuf.len() < READ_CHUNK || rbuf.capacity() < need {
                let want = READ_CHUNK.max(need.saturating_sub(rbuf.len()));
                rbuf.reserve(want);
            }
            let room = rbuf.capacity() - rbuf.len();
            // A subscriber also wakes for messages queued while it is idle.
            let outbox = client.subs.as_ref().map(|s| s.outbox.clone());
            let n = tokio::select! {
                r = stream.read_buf(&mut rbuf) => r?,
                _ = &mut killed => 0,
                _ = wait_outbox(outbox.as_deref()) => {
                    if let Some(ob) = &outbox {
                        if !write_outbox(stream, inst, ob, killed.as_mut()).await? {
                            return Ok(None);
                        }
                    }
                    continue;
                }
                // Lines other connections queued (MONITOR) go out while this one idles.
                _ = info.outbox.notified() => {
                    info.outbox.drain_into(out.buffer_mut());
                    write_out(stream, inst, &mut out).await?;
                    continue;
                }
            };
            drop(outbox);
            if n == 0 || info.is_killed() {
                return Ok(None);
            }
            if n < room {
                // The read did not fill the buffer, so the socket is drained: mark it
                // not readable now instead of paying for a read that would only say
                // EAGAIN. Safe on this single-threaded runtime: the I/O driver cannot
                // record a new readiness event while this task runs, and data that
                // arrives meanwhile raises a fresh edge the driver will see.
                let _ = stream.try_io(tokio::io::Interest::READABLE, || {
                    Err::<(), _>(std::io::ErrorKind::WouldBlock.into())
                });
            }
            inst.stats.net_input_bytes.fetch_add(n as u64, Relaxed);
            client.info.touch();
            // Tenants share this thread: one that has had more than its share lets a
            // neighbour's queued request go first.
            let fair_key = Arc::as_ptr(inst) as usize;
            let tenant = client.front_door.is_some() || inst.is_tenant();
            if tenant && crate::fair::should_yield(fair_key) {
                tokio::task::yield_now().await;
            }
            let batch_started = tenant.then(std::time::Instant::now);
            let mut close = false;
            loop {
                if pos >= rbuf.len() {
                    break;
                }
                let buf = &rbuf[pos..];
                match dec.decode(buf, client.authenticated) {
                    Ok(Decoded::Incomplete { need: hint }) => {
                        let pending = rbuf.len() - pos;
                        need = hint.map(|h| h + pos).unwrap_or(0);
                        let limit = inst.config.read().client_query_buffer_limit as usize;
                        if pending > limit || hint.is_some_and(|h| h > limit) {
                            // Redis closes such a client without a reply.
                            inst.stats
                                .client_query_buffer_limit_disconnections
                                .fetch_add(1, Relaxed);
                            tracing::warn!(
                                client = client.info.id,
                                "closing client that reached max query buffer length"
                            );
                            return Ok(None);
                        }
                        break;
                    }
                    Ok(Decoded::Command { consumed }) => {
                        need = 0;
                        if dec.arg_count() > 0 {
                            // Messages queued for this subscriber go out before the
                            // reply to its next command.
                            if let Some(s) = &client.subs {
                                s.outbox.drain_into(&mut out);
                            }
                            // So are invalidations (client-side caching), for a
                            // tracking client or a subscriber they are redirected to.
                            if client.tracking_on || client.subs.is_some() {
                                client.info.outbox.drain_into(out.buffer_mut());
                            }
                            let mut argv = recycle(std::mem::take(&mut spare));
                            dec.args(buf, &mut argv);
                            if runs_a_script(&argv) {
                                let owned: Vec<Vec<u8>> = argv.iter().map(|a| a.to_vec()).collect();
                                spare = recycle(argv);
                                dispatch_off_thread(inst, client, &mut out, owned).await?;
                            } else {
                                dispatch(inst, client, &mut out, &argv);
                                spare = recycle(argv);
                            }
                        }
                        pos += consumed;
                        if let Some(w) = client.blocked.take() {
                            // Out of line however this ends (an error, the task dropped).
                            let guard = LeaveLine(inst, &w);
                            // Replies before the blocking command go out first.
                            write_out(stream, inst, &mut out).await?;
                            let outbox = client.subs.as_ref().map(|s| s.outbox.clone());
                            let outcome = wait_blocked(
                                stream,
                                &mut rbuf,
                                inst,
                                &w,
                                outbox.as_deref(),
                                killed.as_mut(),
                            )
                            .await?;
                            drop(guard);
                            match outcome {
                                Some(Outcome::Served(reply)) => out.raw(&reply),
                                Some(Outcome::TimedOut) => w.on_timeout.write(&mut out),
                                Some(Outcome::Unblocked) => {
                                    inst.stats.record_error(errors::UNBLOCKED);
                                    out.error(errors::UNBLOCKED);
                                }
                                None => return Ok(None),
                            }
                        }
                        if let Some(to) = client.rebind.take() {
                            rebind(inst, client, to);
                            rebound = true;
                        }
                        if client.close_after_reply || client.info.is_killed() {
                            close = true;
                            break;
                        }
                        if over_output_limit(inst, client, &out) {
                            return Ok(None);
                        }
                        if out.len() >= FLUSH_AT {
                            write_out(stream, inst, &mut out).await?;
                        }
                    }
                    Err(e) => {
                        let msg = e.reply_text();
                        inst.stats.record_error(&msg);
                        out.error(&msg);
                        close = true;
                        break;
                    }
                }
            }
            // Reclaim consumed bytes.
            if pos == rbuf.len() {
                rbuf.clear();
                pos = 0;
            } else if pos > 0
                && (pos >= rbuf.len() / 2 || rbuf.capacity() - rbuf.len() < READ_CHUNK)
            {
                rbuf.drain(..pos);
                if need > 0 {
                    need = need.saturating_sub(pos);
                }
                pos = 0;
            }
            client.info.qbuf.store(rbuf.len() - pos, Relaxed);
            if let Some(t) = batch_started {
                crate::fair::record(fair_key, t.elapsed());
            }
            client.info.outbox.drain_into(out.buffer_mut());
            write_out(stream, inst, &mut out).await?;
            flush_stats(inst, client);
            if close {
                let _ = stream.shutdown().await;
                return Ok(None);
            }
            // Authenticated into a database whose connections live on other threads:
            // continue there, with whatever is already buffered.
            if rebound {
                if let Some(target) = crate::pool::thread_for(inst) {
                    *st = State {
                        rbuf,
                        pos,
                        out,
                        dec,
                        need,
                    };
                    return Ok(Some(target));
                }
            }
            // A large buffer left over from one big request is given back.
            if rbuf.is_empty() && rbuf.capacity() > 1024 * 1024 {
                rbuf = Vec::with_capacity(READ_CHUNK);
            }
        }
    }
}

/// EVAL, EVALSHA, FCALL and their read-only forms: commands that run a script, which
/// may run for long.
fn runs_a_script(argv: &[&[u8]]) -> bool {
    const SCRIPT_COMMANDS: [&[u8]; 6] = [
        b"eval",
        b"evalsha",
        b"eval_ro",
        b"evalsha_ro",
        b"fcall",
        b"fcall_ro",
    ];
    argv.first().is_some_and(|name| {
        name.len() <= 10 && SCRIPT_COMMANDS.iter().any(|c| name.eq_ignore_ascii_case(c))
    })
}

/// Runs a command on the runtime's blocking pool instead of this I/O thread, the
/// connection's state moved there and back. For scripts: while one runs, the
/// thread keeps serving its other connections, which wait for the script or get BUSY
/// past `busy-reply-threshold` as on any other thread, and SCRIPT KILL reaches the
/// script from any connection.
async fn dispatch_off_thread(
    inst: &Arc<Instance>,
    client: &mut Client,
    out: &mut ReplyWriter,
    argv: Vec<Vec<u8>>,
) -> std::io::Result<()> {
    let stand_in = Client::new(client.info.clone(), client.authenticated);
    let moved_client = std::mem::replace(client, stand_in);
    let moved_out = std::mem::replace(out, ReplyWriter::new(out.protocol()));
    let inst2 = inst.clone();
    let (c, o) = tokio::task::spawn_blocking(move || {
        let (mut c, mut o) = (moved_client, moved_out);
        let refs: Vec<&[u8]> = argv.iter().map(Vec::as_slice).collect();
        dispatch(&inst2, &mut c, &mut o, &refs);
        (c, o)
    })
    .await
    .map_err(std::io::Error::other)?;
    *client = c;
    *out = o;
    Ok(())
}

/// Takes a blocked client out of line when dropped (a no-op once it was served).
struct LeaveLine<'a>(&'a Instance, &'a Arc<Waiter>);

impl Drop for LeaveLine<'_> {
    fn drop(&mut self) {
        if self.1.cancel() {
            self.0.blocking.remove(self.1);
        }
    }
}

/// Waits while the connection's command is blocked (see `commands::blocking`): until
/// a write serves it, its deadline passes, CLIENT UNBLOCK, CLIENT KILL or the peer
/// closing (None). Bytes the client sends meanwhile are buffered for afterwards.
async fn wait_blocked(
    stream: &mut TcpStream,
    rbuf: &mut Vec<u8>,
    inst: &Instance,
    w: &Arc<Waiter>,
    outbox: Option<&commands::pubsub::Outbox>,
    mut killed: std::pin::Pin<&mut tokio::sync::futures::Notified<'_>>,
) -> std::io::Result<Option<Outcome>> {
    let sleep = tokio::time::sleep(match w.deadline {
        Some(at) => std::time::Duration::from_millis(at.saturating_sub(unix_ms())),
        // Never: the other branches end the wait.
        None => std::time::Duration::from_secs(365 * 24 * 3600),
    });
    tokio::pin!(sleep);
    let mut expired = false;
    // Returning None leaves the client in line: the caller's `LeaveLine` takes it out.
    loop {
        if let Some(o) = w.outcome() {
            return Ok(Some(o));
        }
        tokio::select! {
            _ = w.notify.notified() => {}
            _ = &mut sleep, if !expired => {
                expired = true;
                if w.cancel() {
                    inst.blocking.remove(w);
                    return Ok(Some(Outcome::TimedOut));
                }
                // Being served right now: its reply follows.
            }
            _ = killed.as_mut() => {
                return Ok(None);
            }
            // And a tracking client its invalidations.
            _ = w.info.outbox.notified() => {
                let mut queued = Vec::new();
                w.info.outbox.drain_into(&mut queued);
                if !queued.is_empty() {
                    stream.write_all(&queued).await?;
                    inst.stats.net_output_bytes.fetch_add(queued.len() as u64, Relaxed);
                }
            }
            // A RESP3 subscriber blocked in BLPOP still gets its messages.
            _ = wait_outbox(outbox) => {
                if let Some(ob) = outbox {
                    if !write_outbox(stream, inst, ob, killed.as_mut()).await? {
                        return Ok(None);
                    }
                }
            }
            r = stream.read_buf(rbuf) => {
                let limit = inst.config.read().client_query_buffer_limit as usize;
                match r {
                    Ok(0) | Err(_) => {
                        return Ok(None);
                    }
                    Ok(_) if rbuf.len() > limit => return Ok(None),
                    Ok(n) => {
                        inst.stats.net_input_bytes.fetch_add(n as u64, Relaxed);
                    }
                }
            }
        }
        if w.info.is_killed() {
            return Ok(None);
        }
    }
}

/// Completes when the subscriber's outbox has something queued (never without one).
async fn wait_outbox(outbox: Option<&commands::pubsub::Outbox>) {
    match outbox {
        Some(ob) => ob.notify.notified().await,
        None => std::future::pending().await,
    }
}

/// Most frames one vectored write takes.
const WRITE_BATCH: usize = 64;

/// Writes everything queued in the outbox (vectored writes, the shared bytes as they
/// are). Returns false when the client was killed meanwhile (its output-buffer limit,
/// CLIENT KILL): a subscriber that stopped reading is not waited for.
async fn write_outbox(
    stream: &mut TcpStream,
    inst: &Instance,
    ob: &commands::pubsub::Outbox,
    mut killed: std::pin::Pin<&mut tokio::sync::futures::Notified<'_>>,
) -> std::io::Result<bool> {
    let mut batch = Vec::with_capacity(WRITE_BATCH);
    loop {
        if ob.info.is_killed() {
            return Ok(false);
        }
        batch.clear();
        ob.peek(&mut batch, WRITE_BATCH);
        if batch.is_empty() {
            return Ok(true);
        }
        let slices: Vec<std::io::IoSlice<'_>> =
            batch.iter().map(|b| std::io::IoSlice::new(b)).collect();
        let n = tokio::select! {
            r = stream.write_vectored(&slices) => r?,
            _ = killed.as_mut() => return Ok(false),
        };
        if n == 0 {
            return Err(std::io::ErrorKind::WriteZero.into());
        }
        drop(slices);
        ob.consume(n);
        inst.stats.net_output_bytes.fetch_add(n as u64, Relaxed);
    }
}

/// Redis's client-output-buffer-limit for the reply a command left pending: the
/// `normal` class, or `pubsub` for a subscriber (its queued messages count too). A
/// client over it is closed without its reply and counted.
fn over_output_limit(inst: &Instance, client: &mut Client, out: &ReplyWriter) -> bool {
    use commands::pubsub::ObufClass;
    let (class, queued) = match &client.subs {
        Some(s) if client.info.is_pubsub() => (ObufClass::PubSub, s.outbox.pending()),
        _ => (ObufClass::Normal, 0),
    };
    let limit = inst.obuf_limits.get(class);
    if limit.is_none() {
        return false;
    }
    if !client.obuf_soft.over(out.len() + queued, &limit) {
        return false;
    }
    inst.stats
        .client_output_buffer_limit_disconnections
        .fetch_add(1, Relaxed);
    tracing::warn!(
        client = client.info.id,
        used = out.len() + queued,
        "closing client for overcoming of output buffer limits"
    );
    true
}

async fn write_out(
    stream: &mut TcpStream,
    inst: &Instance,
    out: &mut ReplyWriter,
) -> std::io::Result<()> {
    if out.is_empty() {
        return Ok(());
    }
    stream.write_all(out.as_bytes()).await?;
    inst.stats
        .net_output_bytes
        .fetch_add(out.len() as u64, Relaxed);
    out.clear();
    Ok(())
}

/// Empties a vector of borrowed slices and hands its allocation back with a new
/// lifetime. The in-place `collect` reuses the buffer (same element layout), so the
/// argument vector costs no allocation per command.
fn recycle<'a, 'b>(mut v: Vec<&'a [u8]>) -> Vec<&'b [u8]> {
    v.clear();
    v.into_iter().map(|_| -> &'b [u8] { &[] }).collect()
}
