//! Transactions: MULTI/EXEC's queue and its atomic execution, and WATCH's registry of
//! watched keys.
//!
//! # Queueing
//!
//! While a client is in MULTI, dispatch runs the generic checks (lookup, arity,
//! `no-multi`, memory) on each command and, instead of running it, appends it to the
//! client's [`MultiState`] and replies `+QUEUED`. A command that fails those checks
//! flags the transaction, and its EXEC answers EXECABORT.
//!
//! # EXEC
//!
//! EXEC locks every shard its queued commands (and the watched keys) live in, or every
//! shard when one of them has no keys or needs them all, checks the watches, then runs
//! each queued command through [`dispatch::run`](crate::dispatch::run) with that one
//! `Locked`: no other client's command can touch those shards in between, so the
//! transaction is atomic. Blocking commands answer as on a timeout (`no_block`), and
//! clients blocked on keys the transaction wrote are served once EXEC has released
//! its locks (dispatch does it after every top-level command).
//!
//! # WATCH
//!
//! An instance-level registry maps (db, key) to the clients watching it, with one
//! atomic count in front: a write command looks at the registry only when someone
//! watches anything at all, so clients that never WATCH pay one relaxed load per
//! write. A write marks the watchers of each key it modified as dirty (a write that
//! neither found nor left the key — DEL of a missing key — modifies nothing), under
//! the key's shard lock, which WATCH also holds while registering: a write is either
//! before the WATCH (and not seen) or after it (and seen). FLUSHDB, FLUSHALL and
//! SWAPDB mark the watchers of the keys they remove or replace. Expiry and eviction
//! happen inside the engine, out of any command: instead WATCH notes whether each
//! key was live, and EXEC fails when a key that was live is gone (deleted, expired or
//! evicted, even not yet collected). A key modified and left as it was still counts
//! as modified, as in Redis.

use std::collections::HashMap;
use std::sync::atomic::AtomicUsize;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

use engine::Locked;
use parking_lot::Mutex;
use resp::ReplyWriter;

use crate::client::{Client, ClientInfo};
use crate::families::util::parse_i64;
use crate::instance::Instance;
use crate::registry::registry;
use crate::spec::{flags, CommandSpec};

/// One queued command.
#[derive(Debug)]
pub struct Queued {
    /// The resolved command (subcommand) id.
    pub id: u32,
    pub argv: Vec<Vec<u8>>,
}

/// A client's open transaction.
#[derive(Debug, Default)]
pub struct MultiState {
    pub cmds: Vec<Queued>,
    /// A command failed the generic checks while queuing: EXEC answers EXECABORT.
    pub dirty_exec: bool,
    /// The union of the queued commands' flags (EXEC's memory and MISCONF checks).
    pub flags: u64,
}

/// A key one client watches.
#[derive(Debug)]
pub struct WatchedKey {
    pub db: usize,
    pub key: Vec<u8>,
    /// Whether the key was live when WATCH ran: EXEC fails if it is gone since.
    pub live: bool,
}

/// key → the clients watching it, in one logical database.
type DbWatchers = HashMap<Vec<u8>, Vec<Arc<ClientInfo>>>;

/// The watchers of one instance: (db, key) → the clients watching it. On cache lines
/// of its own: every write reads `count`, and no neighbouring field written per
/// command (statistics) should make that read miss.
#[derive(Default)]
#[repr(align(128))]
pub struct Watches {
    /// Registrations (client, db, key): zero means no write needs to look further.
    count: AtomicUsize,
    keys: Mutex<HashMap<usize, DbWatchers>>,
}

impl Watches {
    /// Whether any client watches any key: the only cost writes pay when none does.
    #[inline]
    pub fn any(&self) -> bool {
        self.count.load(Relaxed) > 0
    }

    /// Registers `info` as watching (db, key). Call with the key's shard locked.
    fn add(&self, db: usize, key: &[u8], info: &Arc<ClientInfo>) {
        let mut m = self.keys.lock();
        m.entry(db)
            .or_default()
            .entry(key.to_vec())
            .or_default()
            .push(info.clone());
        self.count.fetch_add(1, Relaxed);
    }

    /// Forgets the registrations of `info` for `keys`.
    fn remove(&self, info: &Arc<ClientInfo>, keys: &[WatchedKey]) {
        if keys.is_empty() {
            return;
        }
        let mut m = self.keys.lock();
        for k in keys {
            let Some(db) = m.get_mut(&k.db) else { continue };
            let Some(list) = db.get_mut(k.key.as_slice()) else {
                continue;
            };
            if let Some(i) = list.iter().position(|c| Arc::ptr_eq(c, info)) {
                list.swap_remove(i);
                self.count.fetch_sub(1, Relaxed);
            }
            if list.is_empty() {
                db.remove(k.key.as_slice());
            }
        }
        m.retain(|_, db| !db.is_empty());
    }

    /// Whether anyone watches (db, key).
    fn is_watched(&self, db: usize, key: &[u8]) -> bool {
        self.keys
            .lock()
            .get(&db)
            .is_some_and(|d| d.contains_key(key))
    }

    /// Marks every watcher of (db, key) dirty: its EXEC will fail.
    fn touch(&self, db: usize, key: &[u8]) {
        if let Some(list) = self.keys.lock().get(&db).and_then(|d| d.get(key)) {
            for c in list {
                c.watch_dirty.store(true, Relaxed);
            }
        }
    }

    /// The watched keys of the databases `dbs` selects.
    fn keys_in(&self, dbs: impl Fn(usize) -> bool) -> Vec<(usize, Vec<u8>)> {
        let m = self.keys.lock();
        m.iter()
            .filter(|(db, _)| dbs(**db))
            .flat_map(|(db, keys)| keys.keys().map(move |k| (*db, k.clone())))
            .collect()
    }

    /// Registrations now (tests).
    pub fn registrations(&self) -> usize {
        self.count.load(Relaxed)
    }
}

/// WATCH of `key` in the client's database. Call with the key's shard locked.
pub fn watch(inst: &Instance, client: &mut Client, locked: &mut Locked<'_>, key: &[u8], now: u64) {
    let db = client.db;
    if client
        .watched
        .iter()
        .any(|w| w.db == db && w.key.as_slice() == key)
    {
        return;
    }
    let live = locked.exists(db, key, now);
    inst.watches.add(db, key, &client.info);
    client.watched.push(WatchedKey {
        db,
        key: key.to_vec(),
        live,
    });
}

/// UNWATCH: forgets every watched key and the dirty mark.
pub fn unwatch(inst: &Instance, client: &mut Client) {
    let keys = std::mem::take(&mut client.watched);
    inst.watches.remove(&client.info, &keys);
    client.info.watch_dirty.store(false, Relaxed);
}

/// Whether EXEC must fail for the watches: a watched key was modified, or a key that
/// was live at WATCH is gone (expired, evicted). Needs the watched keys' shards.
fn watch_failed(client: &Client, locked: &mut Locked<'_>, now: u64) -> bool {
    if client.info.watch_dirty.load(Relaxed) {
        return true;
    }
    client
        .watched
        .iter()
        .any(|w| w.live && !locked.exists(w.db, &w.key, now))
}

/// Enters MULTI.
pub fn begin(client: &mut Client) {
    client.multi = Some(Box::default());
    client.info.multi.store(0, Relaxed);
}

/// Leaves MULTI without running anything, and unwatches (DISCARD, RESET, a failed
/// EXEC).
pub fn discard(inst: &Instance, client: &mut Client) {
    client.multi = None;
    client.info.multi.store(-1, Relaxed);
    unwatch(inst, client);
}

/// Marks the open transaction, if any, as failed: its EXEC answers EXECABORT.
pub fn flag(client: &mut Client) {
    if let Some(m) = client.multi.as_mut() {
        m.dirty_exec = true;
    }
}

/// Commands that run at once inside MULTI instead of being queued.
pub fn runs_in_multi(spec: &CommandSpec) -> bool {
    matches!(
        spec.name,
        "exec" | "discard" | "multi" | "watch" | "quit" | "reset"
    )
}

/// Commands that may run when memory is over the limit inside MULTI (queuing
/// anything else takes memory).
pub fn exempt_from_oom_in_multi(spec: &CommandSpec) -> bool {
    matches!(spec.name, "exec" | "discard" | "quit" | "reset")
}

/// Appends a checked command to the open transaction.
pub fn queue(client: &mut Client, id: u32, spec: &CommandSpec, argv: &[&[u8]]) {
    if let Some(m) = client.multi.as_mut() {
        m.cmds.push(Queued {
            id,
            argv: argv.iter().map(|a| a.to_vec()).collect(),
        });
        m.flags |= spec.flags;
        client.info.multi.store(m.cmds.len() as i64, Relaxed);
    }
}

/// Connection gone, or moving to another instance: no watches left behind.
pub fn release(inst: &Instance, client: &mut Client) {
    discard(inst, client);
}

/// Locks what EXEC needs: the shards of every queued command's keys and of the
/// watched keys, or every shard when a command has no keys (it may read the whole
/// instance, as INFO does, and must not then lock shards itself) or needs them all.
fn lock_for_exec<'k>(inst: &'k Instance, client: &Client, m: &MultiState) -> Locked<'k> {
    let reg = registry();
    let mut keys: Vec<&[u8]> = client.watched.iter().map(|w| w.key.as_slice()).collect();
    for q in &m.cmds {
        let spec = reg.spec(q.id);
        if spec.has(flags::ALL_SHARDS) {
            return inst.ks.lock_all();
        }
        let argv: Vec<&[u8]> = q.argv.iter().map(|a| a.as_slice()).collect();
        match spec.key_positions(&argv) {
            Some(pos) if !pos.is_empty() => keys.extend(
                pos.iter()
                    .filter_map(|&i| q.argv.get(i))
                    .map(|a| a.as_slice()),
            ),
            _ => return inst.ks.lock_all(),
        }
    }
    if keys.is_empty() {
        inst.ks.lock_none()
    } else {
        inst.ks.lock(keys)
    }
}

/// Why EXEC refuses to run the transaction before looking at it: memory or MISCONF,
/// as Redis checks EXEC as a whole (with the queued commands' flags).
fn exec_refusal(inst: &Instance, m: &MultiState) -> Option<String> {
    if m.flags & flags::DENYOOM != 0 {
        let limits = &inst.limits;
        if limits.maxmemory() != 0 || limits.maxkeys() != 0 {
            match inst.check_limits(true) {
                crate::instance::LimitState::Ok => {}
                crate::instance::LimitState::OutOfMemory => {
                    return Some(crate::errors::OOM.to_string())
                }
                crate::instance::LimitState::TooManyKeys(max) => {
                    return Some(crate::errors::maxkeys_reached(max))
                }
            }
        }
    }
    if m.flags & flags::WRITE != 0 && inst.writes_refused.load(Relaxed) {
        return Some(crate::errors::MISCONF.to_string());
    }
    None
}

/// How EXEC ended, for dispatch's statistics.
pub enum ExecOutcome {
    /// The transaction ran (or was dropped for a watch): not an error.
    Ran,
    /// EXEC replied with an error (no MULTI, EXECABORT).
    Failed,
    /// Refused as a whole (memory, MISCONF): a rejected call.
    Rejected,
}

/// EXEC. Takes its own locks: call with no shard locked.
pub fn exec(inst: &Instance, client: &mut Client, out: &mut ReplyWriter) -> ExecOutcome {
    let err = |out: &mut ReplyWriter, msg: &str| {
        inst.stats.record_error(msg);
        out.error(msg);
    };
    let Some(m) = client.multi.take() else {
        err(out, crate::errors::EXEC_WITHOUT_MULTI);
        return ExecOutcome::Failed;
    };
    if let Some(why) = exec_refusal(inst, &m) {
        discard(inst, client);
        err(out, &crate::errors::exec_discarded_because(&why));
        return ExecOutcome::Rejected;
    }
    if m.dirty_exec {
        discard(inst, client);
        err(out, crate::errors::EXECABORT);
        return ExecOutcome::Failed;
    }
    let mut locked = lock_for_exec(inst, client, &m);
    let now = crate::instance::unix_ms();
    if watch_failed(client, &mut locked, now) {
        drop(locked);
        discard(inst, client);
        out.null_array();
        return ExecOutcome::Ran;
    }
    // Unwatch before running: the transaction's own writes do not concern it.
    unwatch(inst, client);
    let reg = registry();
    let no_block = std::mem::replace(&mut client.no_block, true);
    out.array(m.cmds.len());
    for q in &m.cmds {
        let spec = reg.spec(q.id);
        let argv: Vec<&[u8]> = q.argv.iter().map(|a| a.as_slice()).collect();
        client.last_command_failed = false;
        // Rights may have changed since the command was queued.
        if let Some(msg) = crate::acl::recheck_at_exec(inst, client, q.id, spec, &argv) {
            inst.stats.record_error(&msg);
            out.error(&msg);
            continue;
        }
        let started = std::time::Instant::now();
        crate::dispatch::run(inst, client, out, &mut locked, spec, &argv);
        let usec = started.elapsed().as_micros() as u64;
        if spec.has(flags::WRITE) && !client.last_command_failed {
            client.dirty += 1;
        }
        crate::dispatch::record(client, q.id, usec, false);
        crate::diag::after_command(inst, client, q.id, spec, &argv, usec);
    }
    client.no_block = no_block;
    drop(locked);
    client.info.multi.store(-1, Relaxed);
    client.last_command_failed = false;
    ExecOutcome::Ran
}

/// What a write command may modify besides its keys in the client's database.
enum Scope {
    /// The keys at the spec's positions, plus (db, key) pairs in other databases.
    Keys,
    /// Every key of the databases that pass the filter (FLUSHDB, FLUSHALL, SWAPDB).
    Dbs,
}

/// The watched keys a write command may modify, each with whether it was live before
/// the command. Called by `dispatch::run` before a write's handler, only when some
/// client watches something.
pub fn before_write(
    inst: &Instance,
    db: usize,
    locked: &mut Locked<'_>,
    spec: &CommandSpec,
    argv: &[&[u8]],
    now: u64,
) -> Vec<(usize, Vec<u8>, bool)> {
    let ndbs = locked.keyspace().databases();
    let parse_db = |a: &[u8]| {
        parse_i64(a)
            .filter(|&n| n >= 0 && (n as usize) < ndbs)
            .map(|n| n as usize)
    };
    let mut cands: Vec<(usize, Vec<u8>)> = Vec::new();
    let mut scope = Scope::Keys;
    match spec.name {
        "flushall" => {
            scope = Scope::Dbs;
            cands = inst.watches.keys_in(|_| true);
        }
        "flushdb" => {
            scope = Scope::Dbs;
            cands = inst.watches.keys_in(|d| d == db);
        }
        "swapdb" => {
            let (Some(a), Some(b)) = (
                argv.get(1).and_then(|a| parse_db(a)),
                argv.get(2).and_then(|a| parse_db(a)),
            ) else {
                return Vec::new();
            };
            // A key watched in either database is replaced by the other's: it
            // changes if it exists on either side.
            return inst
                .watches
                .keys_in(|d| d == a || d == b)
                .into_iter()
                .map(|(d, k)| {
                    let live = locked.exists(a, &k, now) || locked.exists(b, &k, now);
                    (d, k, live)
                })
                .collect();
        }
        "tag|invalidate" => {
            // The watched keys of this database that carry one of the tags.
            let tags = argv.get(2..).unwrap_or_default();
            return inst
                .watches
                .keys_in(|d| d == db)
                .into_iter()
                .filter_map(|(d, k)| {
                    let hit = locked
                        .get_for_write(d, &k, now)
                        .is_some_and(|e| tags.iter().any(|t| e.has_tag(t)));
                    hit.then_some((d, k, true))
                })
                .collect();
        }
        "move" => {
            if let (Some(key), Some(to)) = (argv.get(1), argv.get(2).and_then(|a| parse_db(a))) {
                cands.push((to, key.to_vec()));
            }
        }
        "copy" => {
            // COPY source destination [DB destination-db] [REPLACE]
            let mut i = 3;
            while i + 1 < argv.len() {
                if argv[i].eq_ignore_ascii_case(b"db") {
                    if let (Some(dst), Some(to)) = (argv.get(2), parse_db(argv[i + 1])) {
                        cands.push((to, dst.to_vec()));
                    }
                }
                i += 1;
            }
        }
        _ => {}
    }
    if let Scope::Keys = scope {
        if let Some(pos) = spec.key_positions(argv) {
            cands.extend(
                pos.iter()
                    .filter_map(|&i| argv.get(i))
                    .map(|k| (db, k.to_vec())),
            );
        }
        cands.retain(|(d, k)| inst.watches.is_watched(*d, k));
    }
    cands
        .into_iter()
        .map(|(d, k)| {
            let live = locked.exists(d, &k, now);
            (d, k, live)
        })
        .collect()
}

/// After a write's handler: marks the watchers of each key it modified. A command
/// that failed modified nothing; a key that was neither there before nor is now was
/// not modified either.
pub fn after_write(
    inst: &Instance,
    failed: bool,
    locked: &mut Locked<'_>,
    keys: Vec<(usize, Vec<u8>, bool)>,
    now: u64,
) {
    if failed {
        return;
    }
    for (db, key, was_live) in keys {
        if was_live || locked.exists(db, &key, now) {
            inst.watches.touch(db, &key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_counts_and_forgets() {
        let w = Watches::default();
        assert!(!w.any());
        let a = Arc::new(ClientInfo::new(1, "a".into(), "b".into()));
        let b = Arc::new(ClientInfo::new(2, "a".into(), "b".into()));
        w.add(0, b"k", &a);
        w.add(0, b"k", &b);
        w.add(1, b"k", &a);
        assert_eq!(w.registrations(), 3);
        assert!(w.is_watched(0, b"k") && w.is_watched(1, b"k"));
        assert!(!w.is_watched(2, b"k") && !w.is_watched(0, b"x"));
        w.touch(1, b"k");
        assert!(a.watch_dirty.load(Relaxed));
        assert!(!b.watch_dirty.load(Relaxed));
        let ka = [
            WatchedKey {
                db: 0,
                key: b"k".to_vec(),
                live: false,
            },
            WatchedKey {
                db: 1,
                key: b"k".to_vec(),
                live: false,
            },
        ];
        w.remove(&a, &ka);
        assert_eq!(w.registrations(), 1);
        assert!(!w.is_watched(1, b"k"));
        w.touch(0, b"k");
        assert!(b.watch_dirty.load(Relaxed));
        w.remove(&b, &ka[..1]);
        assert!(!w.any());
        assert!(w.keys.lock().is_empty());
    }
}
