//! Client-side caching (CLIENT TRACKING), per instance, with Redis 7.0's semantics.
//!
//! - Default mode: after a read-only command of a tracking client, the command's keys
//!   are remembered in the tracking table (key -> client ids). A modification of the
//!   key (by anyone, by expiry or eviction) sends each client in the table's entry an
//!   invalidation and forgets the entry.
//! - BCAST mode: the client registers prefixes; every modified key matching one is
//!   collected during the command and sent, one message per prefix, once the command
//!   is done.
//! - Messages: a RESP3 push `invalidate [keys]` to the client itself, or, with
//!   REDIRECT, to the target client (a RESP3 push, or a pub/sub `message` on
//!   `__redis__:invalidate` for a RESP2 subscriber). A flush sends a null ("every key").
//!
//! Cost for clients that never track: the tracking bit lives in the instance's
//! notification flags word ([`ACTIVE`]), which write hooks (`Ctx::notify`) already
//! load; reads pay nothing until `inst.ks.events.enabled()` (one relaxed load per
//! command that `dispatch::run` already does) says the engine records events, which
//! tracking turns on while at least one client tracks.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;

use parking_lot::Mutex;
use resp::{Protocol, ReplyWriter};

use crate::client::{Client, ClientInfo};
use crate::instance::Instance;
use crate::spec::{flags, CommandSpec};

/// Bit of the instance's notification flags word: at least one client tracks.
pub const ACTIVE: u32 = 1 << 31;

/// Per-client tracking flags ([`ClientInfo::tracking`]).
pub mod flag {
    pub const ON: u32 = 1;
    pub const BCAST: u32 = 1 << 1;
    pub const OPTIN: u32 = 1 << 2;
    pub const OPTOUT: u32 = 1 << 3;
    pub const NOLOOP: u32 = 1 << 4;
    pub const BROKEN_REDIR: u32 = 1 << 5;
}

/// The channel RESP2 clients receive redirected invalidations on.
pub const CHANNEL: &[u8] = b"__redis__:invalidate";

/// One instance's tracking state.
#[derive(Default)]
pub struct Tracking {
    inner: Mutex<Inner>,
    /// `tracking-table-max-keys` (0: no limit).
    max_keys: AtomicUsize,
}

impl std::fmt::Debug for Tracking {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tracking").finish_non_exhaustive()
    }
}

#[derive(Default)]
struct Inner {
    /// Clients with tracking on.
    clients: usize,
    /// Key -> ids of the clients that may cache it (sorted).
    table: HashMap<Vec<u8>, Vec<u64>>,
    /// Ids across the table (INFO `tracking_total_items`).
    items: usize,
    /// BCAST prefixes.
    prefixes: BTreeMap<Vec<u8>, Bcast>,
    /// The prefixes each BCAST client registered.
    client_prefixes: HashMap<u64, BTreeSet<Vec<u8>>>,
    /// Invalidations for the client running the command, sent after its reply (a key,
    /// or None for a flush).
    pending: Vec<(u64, Option<Vec<u8>>)>,
    /// Prefixes with modified keys not yet broadcast.
    bcast_due: bool,
    /// Consecutive table evictions that could not get under the limit.
    limit_misses: u32,
}

#[derive(Default)]
struct Bcast {
    clients: BTreeSet<u64>,
    /// Modified keys -> the last writer's id (0: none, an expiry or eviction).
    keys: BTreeMap<Vec<u8>, u64>,
}

/// What an invalidation message carries.
enum Payload<'a> {
    Keys(&'a [&'a [u8]]),
    /// Every key (a flush): a null in the tracking client's protocol.
    All,
}

fn lookup(inst: &Instance, id: u64) -> Option<Arc<ClientInfo>> {
    inst.clients.lock().get(&id).cloned()
}

/// Hands `bytes` to client `dest`: into the reply being built when it is the client
/// running the command (`cur`), else onto its outbox.
fn hand(dest: &ClientInfo, bytes: &[u8], cur: u64, out: &mut ReplyWriter) {
    if dest.id == cur {
        out.raw(bytes);
    } else if !dest.outbox.push(bytes) {
        dest.kill();
    }
}

fn writer_for(resp3: bool) -> ReplyWriter {
    ReplyWriter::new(if resp3 {
        Protocol::Resp3
    } else {
        Protocol::Resp2
    })
}

/// Sends one invalidation for tracking client `target` (Redis's sendTrackingMessage).
fn send(
    inst: &Instance,
    target: &ClientInfo,
    payload: &Payload<'_>,
    cur: u64,
    out: &mut ReplyWriter,
) {
    let redir = target.tracking_redir.load(Relaxed);
    let target_resp3 = target.resp.load(Relaxed) > 2;
    let holder;
    let (dest, redirected): (&ClientInfo, bool) = if redir != 0 {
        match lookup(inst, redir) {
            Some(d) => {
                holder = d;
                (&holder, true)
            }
            None => {
                target.tracking.fetch_or(flag::BROKEN_REDIR, Relaxed);
                if target_resp3 {
                    let mut w = writer_for(true);
                    w.push(2);
                    w.bulk(b"tracking-redir-broken");
                    w.int(redir as i64);
                    hand(target, &w.take(), cur, out);
                }
                return;
            }
        }
    } else {
        (target, false)
    };
    let resp3 = dest.resp.load(Relaxed) > 2;
    let mut w = writer_for(resp3);
    if resp3 {
        w.push(2);
        w.bulk(b"invalidate");
    } else if redirected && dest.is_pubsub() {
        w.push(3);
        w.bulk(b"message");
        w.bulk(CHANNEL);
    } else {
        // RESP2 without a redirection: nowhere to say it.
        return;
    }
    match payload {
        Payload::Keys(keys) => {
            w.array(keys.len());
            for k in *keys {
                w.bulk(k);
            }
        }
        // The null of the tracking client's protocol, as Redis sends it.
        Payload::All => w.raw(if target_resp3 { b"_\r\n" } else { b"$-1\r\n" }),
    }
    hand(dest, &w.take(), cur, out);
}

impl Tracking {
    pub fn set_max_keys(&self, n: usize) {
        self.max_keys.store(n, Relaxed);
    }

    /// INFO: (tracking_clients, tracking_total_keys, tracking_total_items,
    /// tracking_total_prefixes).
    pub fn counts(&self) -> (usize, usize, usize, usize) {
        let g = self.inner.lock();
        (g.clients, g.table.len(), g.items, g.prefixes.len())
    }

    /// The BCAST prefixes of client `id`, in order.
    pub fn prefixes_of(&self, id: u64) -> Vec<Vec<u8>> {
        self.inner
            .lock()
            .client_prefixes
            .get(&id)
            .map(|s| s.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// The prefixes among `new` that overlap one of client `id`'s or another of
    /// `new`: the error text, as Redis's checkPrefixCollisionsOrReply.
    pub fn prefix_collision(&self, id: u64, new: &[&[u8]]) -> Option<String> {
        let g = self.inner.lock();
        let overlap = |a: &[u8], b: &[u8]| {
            let n = a.len().min(b.len());
            a[..n] == b[..n]
        };
        for (i, p) in new.iter().enumerate() {
            if let Some(mine) = g.client_prefixes.get(&id) {
                if let Some(old) = mine.iter().find(|o| overlap(o, p)) {
                    return Some(crate::errors::tracking_prefix_overlaps_existing(p, old));
                }
            }
            if let Some(other) = new[i + 1..].iter().find(|o| overlap(p, o)) {
                return Some(crate::errors::tracking_prefix_overlaps_provided(p, other));
            }
        }
        None
    }
}

/// Turns tracking on for `info` (options are [`flag`] bits; BCAST with no prefix
/// registers the empty prefix).
pub fn enable(inst: &Instance, info: &ClientInfo, redirect: u64, options: u32, prefixes: &[&[u8]]) {
    let mut g = inst.tracking.inner.lock();
    let before = info.tracking.load(Relaxed);
    if before & flag::ON == 0 {
        g.clients += 1;
        if g.clients == 1 {
            inst.set_tracking_active(true);
        }
    }
    let keep =
        before & !(flag::BROKEN_REDIR | flag::BCAST | flag::OPTIN | flag::OPTOUT | flag::NOLOOP);
    info.tracking_redir.store(redirect, Relaxed);
    if options & flag::BCAST != 0 {
        let empty: [&[u8]; 1] = [b""];
        let list = if prefixes.is_empty() {
            &empty[..]
        } else {
            prefixes
        };
        for p in list {
            let b = g.prefixes.entry(p.to_vec()).or_default();
            if b.clients.insert(info.id) {
                g.client_prefixes
                    .entry(info.id)
                    .or_default()
                    .insert(p.to_vec());
            }
        }
    }
    let opts = options & (flag::BCAST | flag::OPTIN | flag::OPTOUT | flag::NOLOOP);
    info.tracking.store(keep | flag::ON | opts, Relaxed);
}

/// Turns tracking off for `info` (CLIENT TRACKING OFF, RESET, the connection closing
/// or leaving the instance). Its table entries go lazily, as in Redis; when no client
/// tracks any more the whole table goes, so that nobody pays for it.
pub fn disable(inst: &Instance, info: &ClientInfo) {
    let f = info.tracking.load(Relaxed);
    if f & flag::ON == 0 {
        return;
    }
    let mut g = inst.tracking.inner.lock();
    if let Some(mine) = g.client_prefixes.remove(&info.id) {
        for p in mine {
            if let Some(b) = g.prefixes.get_mut(&p) {
                b.clients.remove(&info.id);
                if b.clients.is_empty() {
                    g.prefixes.remove(&p);
                }
            }
        }
    }
    info.tracking.store(0, Relaxed);
    g.clients = g.clients.saturating_sub(1);
    if g.clients == 0 {
        g.table = HashMap::new();
        g.items = 0;
        g.pending.clear();
        g.prefixes.clear();
        g.client_prefixes.clear();
        g.bcast_due = false;
        inst.set_tracking_active(false);
    }
}

/// Key `key` was modified (Redis's trackingInvalidateKey): `writer` is the client
/// that did it (0 for an expiry or eviction), `cur` the client running the command
/// (0 outside any command); `bcast` also schedules the key for BCAST clients.
pub fn invalidate(
    inst: &Instance,
    key: &[u8],
    writer: u64,
    cur: u64,
    bcast: bool,
    out: &mut ReplyWriter,
) {
    let mut g = inst.tracking.inner.lock();
    invalidate_locked(inst, &mut g, key, writer, cur, bcast, out);
}

fn invalidate_locked(
    inst: &Instance,
    g: &mut Inner,
    key: &[u8],
    writer: u64,
    cur: u64,
    bcast: bool,
    out: &mut ReplyWriter,
) {
    if bcast && !g.prefixes.is_empty() {
        let mut any = false;
        for (p, b) in g.prefixes.iter_mut() {
            if key.starts_with(p) {
                b.keys.insert(key.to_vec(), writer);
                any = true;
            }
        }
        g.bcast_due |= any;
    }
    let Some(ids) = g.table.remove(key) else {
        return;
    };
    g.items -= ids.len();
    for id in ids {
        let Some(t) = lookup(inst, id) else {
            continue;
        };
        let f = t.tracking.load(Relaxed);
        if f & flag::ON == 0 || f & flag::BCAST != 0 {
            continue;
        }
        if f & flag::NOLOOP != 0 && id == writer {
            continue;
        }
        if id == cur {
            g.pending.push((id, Some(key.to_vec())));
        } else {
            send(inst, &t, &Payload::Keys(&[key]), cur, out);
        }
    }
}

/// One or every logical database was flushed: every tracking client is told "all
/// keys" (a null), and the table is emptied.
pub fn flushed(inst: &Instance, cur: u64, out: &mut ReplyWriter) {
    if inst.notify_flags() & ACTIVE == 0 {
        return;
    }
    let mut g = inst.tracking.inner.lock();
    if g.clients > 0 {
        let mut targets: Vec<Arc<ClientInfo>> = inst
            .clients
            .lock()
            .values()
            .filter(|c| c.tracking.load(Relaxed) & flag::ON != 0)
            .cloned()
            .collect();
        targets.sort_by_key(|c| c.id);
        for t in targets {
            // The flushing client hears it after its reply, as from Redis.
            if t.id == cur {
                g.pending.push((cur, None));
            } else {
                send(inst, &t, &Payload::All, cur, out);
            }
        }
    }
    g.table = HashMap::new();
    g.items = 0;
}

/// After each command run while tracking is active (`dispatch::run`, also for the
/// commands of EXEC): keeps the table under `tracking-table-max-keys`, then remembers
/// the keys a tracking client read.
pub fn after_run(
    inst: &Instance,
    client: &mut Client,
    spec: &CommandSpec,
    argv: &[&[u8]],
    out: &mut ReplyWriter,
) {
    client.tracking_due = true;
    let cur = client.info.id;
    let mut g = inst.tracking.inner.lock();
    limit_table(inst, &mut g, cur, out);
    let f = client.info.tracking.load(Relaxed);
    if f & flag::ON == 0 || f & flag::BCAST != 0 {
        return;
    }
    if !spec.has(flags::READONLY)
        || spec.has(flags::PUBSUB)
        || matches!(spec.name, "eval_ro" | "evalsha_ro" | "fcall_ro")
    {
        return;
    }
    let optin = f & flag::OPTIN != 0;
    let optout = f & flag::OPTOUT != 0;
    if (optin && !client.tracking_caching) || (optout && client.tracking_caching) {
        return;
    }
    let Some(pos) = spec.key_positions(argv) else {
        return;
    };
    for i in pos {
        let Some(key) = argv.get(i) else {
            continue;
        };
        let ids = g.table.entry(key.to_vec()).or_default();
        if let Err(at) = ids.binary_search(&cur) {
            ids.insert(at, cur);
            g.items += 1;
        }
    }
}

/// Redis's trackingLimitUsedSlots: over the limit, invalidates keys (as if modified,
/// but not for BCAST) with an effort that grows while it cannot get under it.
fn limit_table(inst: &Instance, g: &mut Inner, cur: u64, out: &mut ReplyWriter) {
    let max = inst.tracking.max_keys.load(Relaxed);
    if max == 0 || g.table.len() <= max {
        g.limit_misses = 0;
        return;
    }
    let mut effort = 100 * (g.limit_misses as usize + 1);
    while effort > 0 {
        effort -= 1;
        let Some(key) = g.table.keys().next().cloned() else {
            break;
        };
        invalidate_locked(inst, g, &key, 0, cur, false, out);
        if g.table.len() <= max {
            g.limit_misses = 0;
            return;
        }
    }
    g.limit_misses += 1;
}

/// After a command (its reply written): the invalidations held for the client that ran
/// it, then the BCAST messages of the keys modified meanwhile.
pub fn after_command(inst: &Instance, cur: u64, out: &mut ReplyWriter) {
    let mut g = inst.tracking.inner.lock();
    if !g.pending.is_empty() {
        for (id, key) in std::mem::take(&mut g.pending) {
            if let Some(t) = lookup(inst, id) {
                match key {
                    Some(k) => send(inst, &t, &Payload::Keys(&[&k]), cur, out),
                    None => send(inst, &t, &Payload::All, cur, out),
                }
            }
        }
    }
    if g.bcast_due {
        broadcast(inst, &mut g, cur, out);
    }
}

/// Outside any command (active expiry, eviction by the cron): the BCAST messages.
pub fn after_background(inst: &Instance) {
    let mut sink = ReplyWriter::new(Protocol::Resp2);
    after_command(inst, 0, &mut sink);
}

/// Redis's trackingBroadcastInvalidationMessages: per prefix, the keys modified, to
/// each of its clients (without those a NOLOOP client wrote last).
fn broadcast(inst: &Instance, g: &mut Inner, cur: u64, out: &mut ReplyWriter) {
    g.bcast_due = false;
    for b in g.prefixes.values_mut() {
        if b.keys.is_empty() {
            continue;
        }
        let keys = std::mem::take(&mut b.keys);
        let all: Vec<&[u8]> = keys.keys().map(|k| k.as_slice()).collect();
        for &id in &b.clients {
            let Some(t) = lookup(inst, id) else {
                continue;
            };
            if t.tracking.load(Relaxed) & flag::NOLOOP != 0 {
                let mine: Vec<&[u8]> = keys
                    .iter()
                    .filter(|(_, w)| **w != id)
                    .map(|(k, _)| k.as_slice())
                    .collect();
                if !mine.is_empty() {
                    send(inst, &t, &Payload::Keys(&mine), cur, out);
                }
            } else {
                send(inst, &t, &Payload::Keys(&all), cur, out);
            }
        }
    }
}

#[cfg(test)]
mod tests;
