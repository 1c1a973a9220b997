//! A keyspace: the data of one database (one tenant), with its logical databases
//! (`SELECT 0..N`), sharded by key hash behind one lock per shard.
//!
//! Why lock shards and not one thread per database: every command must be atomic, one
//! database must scale with cores, and one process must hold thousands of mostly idle
//! databases. With lock shards a command runs on the connection's own thread, takes
//! the few shard locks its keys need (in index order, so no deadlock), and never waits
//! for a message hop; an idle database costs its empty tables and nothing else. Commands
//! that must see everything at once (MULTI/EXEC, scripts, FLUSHDB, KEYS, SWAPDB) take
//! every shard. See docs/architecture.md for the measurements behind this choice.
//!
//! # Memory and key accounting
//!
//! Every shard knows the bytes its entries are charged ([`Entry::memory_usage`]) and how
//! many keys it holds, in two atomics beside its lock. They are written only by whoever
//! holds that shard's lock (a plain load and store, no read-modify-write, and the cache
//! line is the one the lock already pulled in), and read by anyone without locking:
//! [`Keyspace::used_memory`] and [`Keyspace::key_count`] sum them, which is what a
//! tenant's `maxmemory` and `maxkeys` are enforced against before each command. Each
//! logical database's part of a shard also keeps its own byte total under the lock, so
//! FLUSHDB can subtract it in O(1). An [`EntryMut`] measures the value at its first
//! mutable access and charges the difference when it is dropped, so in-place changes
//! (APPEND, SETRANGE, INCR) stay exact without each handler doing arithmetic, and reads
//! pay nothing.

use std::sync::atomic::{AtomicU64, AtomicU8, Ordering::Relaxed};

use parking_lot::{Mutex, MutexGuard};
use rand::Rng;
use smallvec::SmallVec;

use crate::evict::{score, Access, Evicted, EvictionPool, Policy};
use crate::table::{hash_key, Table};
use crate::tags::{Name, TagIndex};
use crate::value::Entry;

/// Counters kept per shard under its lock (no shared atomics on the hot path).
#[derive(Clone, Copy, Debug, Default)]
pub struct ShardStats {
    pub keyspace_hits: u64,
    pub keyspace_misses: u64,
    pub expired_keys: u64,
    pub evicted_keys: u64,
}

impl std::ops::AddAssign for ShardStats {
    fn add_assign(&mut self, o: Self) {
        self.keyspace_hits += o.keyspace_hits;
        self.keyspace_misses += o.keyspace_misses;
        self.expired_keys += o.expired_keys;
        self.evicted_keys += o.evicted_keys;
    }
}

/// One logical database's part inside one shard.
#[derive(Default)]
struct DbPart {
    table: Table<Entry>,
    /// Keys in `table` that carry an expiry time.
    volatile: usize,
    /// Bytes the entries of `table` are charged (their sum of `Entry::memory_usage`).
    used: u64,
    /// Where active expiry resumes.
    sweep_cursor: u64,
    /// The tags of this part's keys; created by the first tag, dropped with the last
    /// (see [`crate::tags`]). Its bytes are part of `used`.
    tags: Option<Box<TagIndex>>,
}

/// A shard's memory and key totals, readable without its lock (see the module docs).
/// On a cache line of their own: the lock's line changes hands at every lock, and a
/// reader summing the totals should not have to wait for it.
#[derive(Debug, Default)]
#[repr(align(64))]
struct Counters {
    used: AtomicU64,
    keys: AtomicU64,
}

/// Applies a change of `bytes` charged and `keys` held to a part's byte total and its
/// shard's counters. Callers hold the shard's lock, so load-then-store cannot lose an
/// update, and no locked read-modify-write instruction is paid on the hot path.
#[inline]
fn account(part_used: &mut u64, counters: &Counters, bytes: i64, keys: i64) {
    *part_used = part_used.wrapping_add(bytes as u64);
    if bytes != 0 {
        let u = counters.used.load(Relaxed);
        counters.used.store(u.wrapping_add(bytes as u64), Relaxed);
    }
    if keys != 0 {
        let k = counters.keys.load(Relaxed);
        counters.keys.store(k.wrapping_add(keys as u64), Relaxed);
    }
}

#[inline]
fn charge_of(e: &Entry) -> i64 {
    e.memory_usage() as i64
}

/// Keys the engine removes or adds on its own account, and reads that found no key,
/// reported to the commands layer for keyspace notifications (`expired`, `evicted`,
/// `new`, `keymiss`). Off by default: then each
/// such removal pays one relaxed load of [`EventLog::mask`] and nothing else.
#[derive(Default)]
pub struct EventLog {
    /// [`KeyEventKind`] bits to record.
    mask: AtomicU8,
    events: Mutex<Vec<KeyEvent>>,
}

/// What happened to a key, as the engine saw it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum KeyEventKind {
    /// Removed because its time to live passed (lazily or by active expiry).
    Expired = 1,
    /// Removed by eviction (maxmemory).
    Evicted = 2,
    /// A key that did not exist was added.
    New = 4,
    /// A read found no key (a keyspace miss).
    Miss = 8,
}

/// One recorded event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyEvent {
    pub kind: KeyEventKind,
    pub db: usize,
    pub key: Vec<u8>,
}

impl EventLog {
    /// Records the kinds whose bits are in `mask` (0: none).
    pub fn set_mask(&self, mask: u8) {
        self.mask.store(mask, Relaxed);
        if mask == 0 {
            self.events.lock().clear();
        }
    }

    /// Whether any kind is recorded.
    #[inline]
    pub fn enabled(&self) -> bool {
        self.mask.load(Relaxed) != 0
    }

    #[inline]
    fn record(&self, kind: KeyEventKind, db: usize, key: &[u8]) {
        if self.mask.load(Relaxed) & kind as u8 != 0 {
            self.events.lock().push(KeyEvent {
                kind,
                db,
                key: key.to_vec(),
            });
        }
    }

    /// Takes the events recorded so far, oldest first (empty when none; no lock is
    /// taken while recording is off).
    pub fn take(&self) -> Vec<KeyEvent> {
        if !self.enabled() {
            return Vec::new();
        }
        std::mem::take(&mut *self.events.lock())
    }
}

/// Everything one shard lock protects.
pub struct Shard {
    dbs: Vec<DbPart>,
    pub stats: ShardStats,
}

impl Shard {
    fn new(databases: usize) -> Self {
        Shard {
            dbs: (0..databases).map(|_| DbPart::default()).collect(),
            stats: ShardStats::default(),
        }
    }
}

/// A shard's lock and its lock-free counters, on cache lines of their own: neighbouring
/// shards are locked by different cores, and sharing a line would make them contend.
#[repr(C, align(128))]
struct Slot {
    lock: Mutex<Shard>,
    counters: Counters,
}

/// The data of one database.
pub struct Keyspace {
    shards: Box<[Slot]>,
    shard_mask: usize,
    databases: usize,
    /// Eviction candidates carried between evictions; also serialises evictors, which
    /// take it before any shard lock (and never while holding one).
    pool: Mutex<EvictionPool>,
    /// Expired, evicted and new keys, for keyspace notifications.
    pub events: EventLog,
}

/// Sizes for a new keyspace.
#[derive(Clone, Debug)]
pub struct KeyspaceConfig {
    /// Logical databases (`databases` in redis.conf).
    pub databases: usize,
    /// Lock shards; rounded up to a power of two, at most 256.
    pub shards: usize,
}

impl Default for KeyspaceConfig {
    fn default() -> Self {
        KeyspaceConfig {
            databases: 16,
            shards: 16,
        }
    }
}

/// Summary of one logical database for `INFO keyspace`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DbInfo {
    pub keys: usize,
    pub expires: usize,
}

impl Keyspace {
    pub fn new(cfg: &KeyspaceConfig) -> Self {
        let n = cfg.shards.clamp(1, 256).next_power_of_two();
        let databases = cfg.databases.max(1);
        Keyspace {
            shards: (0..n)
                .map(|_| Slot {
                    lock: Mutex::new(Shard::new(databases)),
                    counters: Counters::default(),
                })
                .collect(),
            shard_mask: n - 1,
            databases,
            pool: Mutex::new(EvictionPool::default()),
            events: EventLog::default(),
        }
    }

    /// Bytes charged to every entry of every logical database (see the module docs).
    /// Takes no lock: each shard's figure is exact at the moment it is read.
    pub fn used_memory(&self) -> u64 {
        self.shards
            .iter()
            .map(|s| s.counters.used.load(Relaxed))
            .fold(0u64, u64::wrapping_add)
    }

    /// Keys in every logical database, expired ones not yet collected included. Takes
    /// no lock.
    pub fn key_count(&self) -> u64 {
        self.shards
            .iter()
            .map(|s| s.counters.keys.load(Relaxed))
            .fold(0u64, u64::wrapping_add)
    }

    pub fn databases(&self) -> usize {
        self.databases
    }

    pub fn shard_count(&self) -> usize {
        self.shards.len()
    }

    fn shard_of(&self, hash: u64) -> usize {
        (hash as usize) & self.shard_mask
    }

    /// Locks the shards that hold `keys`, in shard order.
    pub fn lock<'a, K: AsRef<[u8]>>(&'a self, keys: impl IntoIterator<Item = K>) -> Locked<'a> {
        let mut idx: SmallVec<[usize; 16]> = keys
            .into_iter()
            .map(|k| self.shard_of(hash_key(k.as_ref())))
            .collect();
        if idx.len() > 1 {
            idx.sort_unstable();
            idx.dedup();
        }
        if idx.len() == self.shards.len() {
            return self.lock_all();
        }
        Locked {
            ks: self,
            guards: idx
                .into_iter()
                .map(|i| (i, self.shards[i].lock.lock()))
                .collect(),
            all: false,
        }
    }

    /// Locks one shard by key (the common single-key case).
    pub fn lock_key(&self, key: &[u8]) -> Locked<'_> {
        let i = self.shard_of(hash_key(key));
        let mut guards = SmallVec::new();
        guards.push((i, self.shards[i].lock.lock()));
        Locked {
            ks: self,
            guards,
            all: self.shards.len() == 1,
        }
    }

    /// Locks every shard (atomic view of the whole keyspace).
    pub fn lock_all(&self) -> Locked<'_> {
        Locked {
            ks: self,
            guards: self
                .shards
                .iter()
                .enumerate()
                .map(|(i, s)| (i, s.lock.lock()))
                .collect(),
            all: true,
        }
    }

    /// A view that holds no lock, for commands that touch no keys.
    pub fn lock_none(&self) -> Locked<'_> {
        Locked {
            ks: self,
            guards: SmallVec::new(),
            all: false,
        }
    }

    /// Calls `f` with every entry of logical database `db` that shard `shard` holds,
    /// with only that shard locked, and stops at the first error. Entries that have
    /// expired but were not collected yet are included (see [`Entry::is_expired`]).
    ///
    /// For walks over the whole keyspace that must not stop every client at once
    /// (writing a snapshot): only the shard being visited waits. Panics if
    /// `shard >= shard_count()` or `db >= databases()`.
    pub fn try_for_each_in_shard<E>(
        &self,
        shard: usize,
        db: usize,
        f: impl FnMut(&Entry) -> Result<(), E>,
    ) -> Result<(), E> {
        let guard = self.shards[shard].lock.lock();
        let result = guard.dbs[db].table.iter().try_for_each(f);
        result
    }

    /// [`Keyspace::try_for_each_in_shard`], also handing `f` each entry's tags (empty
    /// for an untagged key), read under the same lock as the entry.
    pub fn try_for_each_in_shard_with_tags<E>(
        &self,
        shard: usize,
        db: usize,
        mut f: impl FnMut(&Entry, &[Name]) -> Result<(), E>,
    ) -> Result<(), E> {
        let guard = self.shards[shard].lock.lock();
        let part = &guard.dbs[db];
        let result = part.table.iter().try_for_each(|e| {
            let tags = match (&part.tags, e.is_tagged()) {
                (Some(ix), true) => ix.tags_of(&e.key),
                _ => &[],
            };
            f(e, tags)
        });
        result
    }

    /// Counters summed over shards (locks each briefly, one at a time).
    pub fn stats(&self) -> ShardStats {
        sum_stats(self.shards.iter().map(|sh| sh.lock.lock().stats))
    }

    pub fn reset_stats(&self) {
        for sh in self.shards.iter() {
            sh.lock.lock().stats = ShardStats::default();
        }
    }

    /// Keys and keys-with-expiry per logical database (locks each shard briefly, one
    /// at a time).
    pub fn db_info(&self) -> Vec<DbInfo> {
        let mut out = vec![DbInfo::default(); self.databases];
        for sh in self.shards.iter() {
            add_db_info(&mut out, &sh.lock.lock());
        }
        out
    }

    /// One step of active expiry: visits at most `budget` entries in total, shard by
    /// shard, skipping logical databases with no volatile keys. Returns
    /// `(visited, expired)`, so the caller can repeat while many were stale, as Redis does.
    pub fn active_expire(&self, now_ms: u64, budget: usize) -> (usize, usize) {
        // A sweep call costs about one segment of hashing whatever its budget, so each
        // call is given enough to be worth it.
        let per_shard = (budget / self.shards.len()).max(256);
        let (mut visited, mut expired) = (0, 0);
        let log = self.events.enabled().then_some(&self.events);
        for sh in self.shards.iter() {
            let mut g = sh.lock.lock();
            let Shard { dbs, stats } = &mut *g;
            for (db, part) in dbs.iter_mut().enumerate() {
                if part.volatile == 0 {
                    continue;
                }
                let mut seen = 0usize;
                let mut removed = 0usize;
                let mut removed_volatile = 0usize;
                let mut freed = 0i64;
                part.sweep_cursor = part.table.sweep(
                    part.sweep_cursor,
                    per_shard,
                    |e| {
                        seen += 1;
                        e.is_expired(now_ms)
                    },
                    |e| {
                        removed += 1;
                        freed += charge_of(&e) + untag(&mut part.tags, &e);
                        if let Some(log) = log {
                            log.record(KeyEventKind::Expired, db, &e.key);
                        }
                        if e.expire_at() != 0 {
                            removed_volatile += 1;
                        }
                    },
                );
                part.volatile -= removed_volatile;
                account(&mut part.used, &sh.counters, -freed, -(removed as i64));
                stats.expired_keys += removed as u64;
                visited += seen;
                expired += removed;
            }
        }
        (visited, expired)
    }
}

/// Eviction and the accounting audit.
impl Keyspace {
    /// Evicts one key chosen by `policy`: a random one, or the best of the pool after
    /// sampling `samples` keys of each logical database of the next shard in turn.
    /// `clock` scores LRU idle time or LFU counters. Returns None when nothing can be
    /// evicted (no keys, or no volatile keys under a volatile-* policy, or noeviction).
    ///
    /// Locks shards one at a time, so it must never be called while this keyspace's
    /// shards are held (dispatch calls it before locking the command's keys).
    pub fn evict_one(
        &self,
        policy: Policy,
        samples: usize,
        clock: &Access,
        now_ms: u64,
    ) -> Option<Evicted> {
        if policy == Policy::NoEviction {
            return None;
        }
        let mut pool = self.pool.lock();
        let mut rng = rand::thread_rng();
        if !policy.ranked() {
            return self.evict_random(policy, now_ms, &mut rng);
        }
        // Each round samples one shard; candidates can vanish between the sampling and
        // the eviction (another command deleted them), hence the bounded retry.
        for _ in 0..=self.shards.len() {
            let sampled = self.populate(&mut pool, policy, samples.max(1), clock, &mut rng);
            while let Some(c) = pool.pop_best() {
                let slot = &self.shards[c.shard];
                let mut g = slot.lock.lock();
                if let Some(ev) = evict_key(
                    &mut g,
                    &slot.counters,
                    &self.events,
                    c.db,
                    &c.key,
                    policy,
                    now_ms,
                ) {
                    return Some(ev);
                }
            }
            if !sampled {
                return None;
            }
        }
        None
    }

    /// Forgets the eviction candidates (their scores mean nothing once the policy
    /// changes).
    pub fn clear_eviction_pool(&self) {
        self.pool.lock().clear();
    }

    /// Samples the next shard that has candidates into the pool; false if none has.
    fn populate(
        &self,
        pool: &mut EvictionPool,
        policy: Policy,
        samples: usize,
        clock: &Access,
        rng: &mut impl Rng,
    ) -> bool {
        let n = self.shards.len();
        for step in 0..n {
            let i = (pool.next_shard + step) % n;
            let g = self.shards[i].lock.lock();
            let mut any = false;
            for (db, part) in g.dbs.iter().enumerate() {
                if !has_candidates(part, policy) {
                    continue;
                }
                any = true;
                sample_part(part, samples, policy.volatile_only(), rng, |e| {
                    let s = score(policy, clock, e.access, e.expire_at());
                    pool.offer(s, i, db, &e.key);
                });
            }
            if any {
                pool.next_shard = (i + 1) % n;
                return true;
            }
        }
        false
    }

    /// allkeys-random / volatile-random: a random key of a random logical database of
    /// the first shard, from a random start, that has one.
    fn evict_random(&self, policy: Policy, now_ms: u64, rng: &mut impl Rng) -> Option<Evicted> {
        let n = self.shards.len();
        let start = rng.gen_range(0..n);
        for step in 0..n {
            let i = (start + step) % n;
            let slot = &self.shards[i];
            let mut g = slot.lock.lock();
            let dbs: SmallVec<[usize; 16]> = g
                .dbs
                .iter()
                .enumerate()
                .filter(|(_, p)| has_candidates(p, policy))
                .map(|(db, _)| db)
                .collect();
            if dbs.is_empty() {
                continue;
            }
            let db = dbs[rng.gen_range(0..dbs.len())];
            let mut key = None;
            sample_part(&g.dbs[db], 1, policy.volatile_only(), rng, |e| {
                key = Some(e.key.clone())
            });
            if let Some(k) = key {
                if let Some(ev) =
                    evict_key(&mut g, &slot.counters, &self.events, db, &k, policy, now_ms)
                {
                    return Some(ev);
                }
            }
        }
        None
    }

    /// Recomputes every shard's totals from its entries and panics if the kept ones
    /// differ. For tests; O(n) and takes every lock in turn.
    #[doc(hidden)]
    pub fn check_accounting(&self) {
        for (i, slot) in self.shards.iter().enumerate() {
            let g = slot.lock.lock();
            let (mut bytes, mut keys) = (0u64, 0u64);
            for (db, p) in g.dbs.iter().enumerate() {
                let mut b: u64 = p.table.iter().map(|e| e.memory_usage() as u64).sum();
                if let Some(ix) = &p.tags {
                    assert!(
                        !ix.is_empty(),
                        "shard {i} db {db}: an empty tag index is kept"
                    );
                    ix.check();
                    b += ix.bytes() as u64;
                }
                for e in p.table.iter() {
                    let indexed = p
                        .tags
                        .as_ref()
                        .is_some_and(|ix| !ix.tags_of(&e.key).is_empty());
                    assert_eq!(e.is_tagged(), indexed, "shard {i} db {db}: tagged bit");
                }
                if let Some(ix) = &p.tags {
                    for (t, _) in ix.tags() {
                        for (h, k) in ix.keys_of(t).into_iter().flatten() {
                            assert!(p.table.get(*h, k).is_some(), "a tagged key is gone");
                        }
                    }
                }
                assert_eq!(p.used, b, "shard {i} db {db}: bytes charged");
                let v = p.table.iter().filter(|e| e.expire_at() != 0).count();
                assert_eq!(p.volatile, v, "shard {i} db {db}: volatile keys");
                bytes += b;
                keys += p.table.len() as u64;
            }
            assert_eq!(slot.counters.used.load(Relaxed), bytes, "shard {i}: bytes");
            assert_eq!(slot.counters.keys.load(Relaxed), keys, "shard {i}: keys");
        }
    }
}

fn has_candidates(part: &DbPart, policy: Policy) -> bool {
    if policy.volatile_only() {
        part.volatile > 0
    } else {
        !part.table.is_empty()
    }
}

/// Hands `f` up to `n` sampled entries of `part` (only ones with an expiry when
/// `volatile_only`).
fn sample_part(
    part: &DbPart,
    n: usize,
    volatile_only: bool,
    rng: &mut impl Rng,
    mut f: impl FnMut(&Entry),
) {
    if !volatile_only {
        for _ in 0..n {
            if let Some(e) = part.table.random(rng) {
                f(e);
            }
        }
        return;
    }
    if part.volatile == 0 {
        return;
    }
    // Random draws find volatile keys quickly unless they are a small minority...
    let mut found = 0;
    for _ in 0..n * 4 {
        if found == n {
            return;
        }
        if let Some(e) = part.table.random(rng) {
            if e.expire_at() != 0 {
                f(e);
                found += 1;
            }
        }
    }
    if found > 0 {
        return;
    }
    // ...and when they are, a walk in hash order from a random point finds some (at
    // worst it visits the whole part once: no separate index of volatile keys is kept).
    let start = rng.gen::<u64>() & !0xff;
    let (mut cursor, mut wrapped, mut visited) = (start, false, 0usize);
    loop {
        let next = part.table.scan(cursor, 256, |e| {
            visited += 1;
            if found < n && e.expire_at() != 0 {
                f(e);
                found += 1;
            }
        });
        if found >= n || visited >= part.table.len() {
            return;
        }
        if next == 0 {
            if wrapped {
                return;
            }
            wrapped = true;
            cursor = 0;
        } else {
            cursor = next;
        }
        if wrapped && cursor >= start {
            return;
        }
    }
}

/// Removes `key` for eviction if it is still there (and still volatile, when the policy
/// asks for that).
fn evict_key(
    shard: &mut Shard,
    counters: &Counters,
    log: &EventLog,
    db: usize,
    key: &[u8],
    policy: Policy,
    now_ms: u64,
) -> Option<Evicted> {
    let h = hash_key(key);
    let Shard { dbs, stats } = shard;
    let part = &mut dbs[db];
    if !policy.considers(part.table.get(h, key)?.expire_at()) {
        return None;
    }
    let e = part.table.remove(h, key)?;
    let bytes = e.memory_usage() + untag(&mut part.tags, &e) as usize;
    account(&mut part.used, counters, -(bytes as i64), -1);
    if e.expire_at() != 0 {
        part.volatile -= 1;
    }
    if e.is_expired(now_ms) {
        stats.expired_keys += 1;
    } else {
        stats.evicted_keys += 1;
    }
    // Redis reports every key its eviction removes as evicted.
    log.record(KeyEventKind::Evicted, db, key);
    Some(Evicted { bytes })
}

fn sum_stats(it: impl Iterator<Item = ShardStats>) -> ShardStats {
    let mut s = ShardStats::default();
    for x in it {
        s += x;
    }
    s
}

fn add_db_info(out: &mut [DbInfo], shard: &Shard) {
    for (i, p) in shard.dbs.iter().enumerate() {
        out[i].keys += p.table.len();
        out[i].expires += p.volatile;
    }
}

/// The shards a command holds. Every key access of a command goes through this view;
/// asking for a key whose shard is not held is a bug in the command's key spec and
/// panics (tests run every handler through dispatch to catch such specs).
pub struct Locked<'a> {
    ks: &'a Keyspace,
    guards: SmallVec<[(usize, MutexGuard<'a, Shard>); 4]>,
    all: bool,
}

impl<'a> Locked<'a> {
    pub fn keyspace(&self) -> &'a Keyspace {
        self.ks
    }

    pub fn holds_all(&self) -> bool {
        self.all
    }

    /// The locked shard `hash` belongs to, with its counters.
    #[inline]
    fn shard_mut(&mut self, hash: u64) -> (&mut Shard, &'a Counters) {
        let i = self.ks.shard_of(hash);
        let counters = &self.ks.shards[i].counters;
        if self.all {
            return (&mut self.guards[i].1, counters);
        }
        match self.guards.iter_mut().find(|(j, _)| *j == i) {
            Some((_, g)) => (g, counters),
            None => panic!("shard {i} not locked: the command's key spec is wrong"),
        }
    }

    #[inline]
    fn part(&mut self, db: usize, key: &[u8]) -> (&mut DbPart, &mut ShardStats, &'a Counters, u64) {
        let h = hash_key(key);
        let (sh, counters) = self.shard_mut(h);
        let Shard { dbs, stats } = sh;
        (&mut dbs[db], stats, counters, h)
    }

    /// Looks a key up for reading or writing, removing it first if it has expired.
    /// Counts a keyspace hit or miss.
    pub fn get(&mut self, db: usize, key: &[u8], now_ms: u64) -> Option<EntryMut<'_>> {
        self.find(db, key, now_ms, true)
    }

    /// Like [`get`](Self::get) but does not count hits or misses (for writes).
    pub fn get_for_write(&mut self, db: usize, key: &[u8], now_ms: u64) -> Option<EntryMut<'_>> {
        self.find(db, key, now_ms, false)
    }

    /// One hash, one probe in the common case (a second, cache-hot probe hands out the
    /// mutable borrow).
    fn find(&mut self, db: usize, key: &[u8], now_ms: u64, count: bool) -> Option<EntryMut<'_>> {
        let h = hash_key(key);
        let log = &self.ks.events;
        let (Shard { dbs, stats }, counters) = self.shard_mut(h);
        let part = &mut dbs[db];
        let live = match part.table.get(h, key) {
            None => false,
            Some(e) if e.is_expired(now_ms) => {
                expire_now(part, stats, counters, h, key);
                log.record(KeyEventKind::Expired, db, key);
                false
            }
            Some(_) => true,
        };
        if count {
            if live {
                stats.keyspace_hits += 1;
            } else {
                stats.keyspace_misses += 1;
                log.record(KeyEventKind::Miss, db, key);
            }
        }
        if !live {
            return None;
        }
        let DbPart {
            table,
            volatile,
            used,
            tags,
            ..
        } = part;
        table
            .get_mut(h, key)
            .map(|entry| EntryMut::new(entry, volatile, used, counters, tags))
    }

    /// Whether a live key exists (expiring it if stale); touches no statistics.
    pub fn exists(&mut self, db: usize, key: &[u8], now_ms: u64) -> bool {
        self.lookup(db, key, now_ms)
    }

    /// The type name of a live key (expiring it if stale); touches no statistics and
    /// no access time.
    pub fn type_of(&mut self, db: usize, key: &[u8], now_ms: u64) -> Option<&'static str> {
        if !self.lookup(db, key, now_ms) {
            return None;
        }
        let (part, _, _, h) = self.part(db, key);
        part.table.get(h, key).map(|e| e.value.type_name())
    }

    /// Removes the key if expired; true if a live key remains.
    fn lookup(&mut self, db: usize, key: &[u8], now_ms: u64) -> bool {
        let log = &self.ks.events;
        let (part, stats, counters, h) = self.part(db, key);
        match part.table.get(h, key) {
            None => false,
            Some(e) if e.is_expired(now_ms) => {
                expire_now(part, stats, counters, h, key);
                log.record(KeyEventKind::Expired, db, key);
                false
            }
            Some(_) => true,
        }
    }

    /// Inserts or replaces a key with `entry` (its expiry included); returns the
    /// previous live entry.
    #[inline]
    pub fn insert(&mut self, db: usize, mut entry: Entry, now_ms: u64) -> Option<Entry> {
        let log = &self.ks.events;
        let logging = log.enabled();
        let key = if logging {
            entry.key.to_vec()
        } else {
            Vec::new()
        };
        let (part, stats, counters, h) = self.part(db, &entry.key);
        if entry.expire_at() != 0 {
            part.volatile += 1;
        }
        // A new key starts untagged (an entry taken out of the keyspace lost its tags).
        entry.set_tagged(false);
        let added = charge_of(&entry);
        let Some(old) = part.table.insert(h, entry) else {
            account(&mut part.used, counters, added, 1);
            if logging {
                log.record(KeyEventKind::New, db, &key);
            }
            return None;
        };
        // Replacing a key drops its tags, as it drops its TTL.
        let freed = untag(&mut part.tags, &old);
        account(&mut part.used, counters, added - charge_of(&old) - freed, 0);
        if old.expire_at() != 0 {
            part.volatile -= 1;
        }
        if old.is_expired(now_ms) {
            stats.expired_keys += 1;
            if logging {
                log.record(KeyEventKind::Expired, db, &key);
                log.record(KeyEventKind::New, db, &key);
            }
            None
        } else {
            Some(old)
        }
    }

    /// Returns the live entry for `key`, or inserts the one `make` builds (also in
    /// place of an expired entry). One hash and one probe: this is SET's path.
    #[inline]
    pub fn get_or_insert_with(
        &mut self,
        db: usize,
        key: &[u8],
        now_ms: u64,
        make: impl FnOnce() -> Entry,
    ) -> (EntryMut<'_>, bool) {
        let h = hash_key(key);
        let log = &self.ks.events;
        let (Shard { dbs, stats }, counters) = self.shard_mut(h);
        let DbPart {
            table,
            volatile,
            used,
            tags,
            ..
        } = &mut dbs[db];
        let mut make = Some(make);
        let (entry, inserted) = table.get_or_insert_with(h, key, || match make.take() {
            Some(f) => f(),
            None => unreachable!("the table calls make at most once"),
        });
        if inserted {
            entry.set_tagged(false);
            if entry.expire_at() != 0 {
                *volatile += 1;
            }
            account(used, counters, charge_of(entry), 1);
            log.record(KeyEventKind::New, db, key);
            return (EntryMut::new(entry, volatile, used, counters, tags), true);
        }
        if entry.is_expired(now_ms) {
            // A stale key counts as absent: replace it where it lies.
            if let Some(f) = make.take() {
                stats.expired_keys += 1;
                log.record(KeyEventKind::Expired, db, key);
                log.record(KeyEventKind::New, db, key);
                *volatile -= 1;
                let old = charge_of(entry) + untag(tags, entry);
                *entry = f();
                entry.set_tagged(false);
                if entry.expire_at() != 0 {
                    *volatile += 1;
                }
                account(used, counters, charge_of(entry) - old, 0);
                return (EntryMut::new(entry, volatile, used, counters, tags), true);
            }
        }
        (EntryMut::new(entry, volatile, used, counters, tags), false)
    }

    /// Removes a key; returns it if it was live.
    #[inline]
    pub fn remove(&mut self, db: usize, key: &[u8], now_ms: u64) -> Option<Entry> {
        let log = &self.ks.events;
        let (part, stats, counters, h) = self.part(db, key);
        remove_from(part, stats, counters, (log, db), h, key, now_ms)
    }

    fn require_all(&self) {
        assert!(self.all, "operation needs every shard locked");
    }

    /// Number of keys in a logical database (may include not-yet-collected expired keys,
    /// as Redis's DBSIZE does). Needs every shard.
    pub fn len(&self, db: usize) -> usize {
        self.require_all();
        self.guards.iter().map(|(_, g)| g.dbs[db].table.len()).sum()
    }

    pub fn is_empty(&self, db: usize) -> bool {
        self.len(db) == 0
    }

    /// Empties a logical database; returns the tables so the caller may free them
    /// elsewhere (FLUSHDB ASYNC). Needs every shard.
    pub fn flush(&mut self, db: usize) -> Vec<Table<Entry>> {
        self.require_all();
        let ks = self.ks;
        self.guards
            .iter_mut()
            .map(|(i, g)| {
                let p = &mut g.dbs[db];
                let (bytes, keys) = (p.used as i64, p.table.len() as i64);
                account(&mut p.used, &ks.shards[*i].counters, -bytes, -keys);
                p.volatile = 0;
                p.sweep_cursor = 0;
                p.tags = None;
                p.table.take()
            })
            .collect()
    }

    /// Swaps two logical databases atomically. Needs every shard. A shard's totals
    /// cover all its logical databases, so they do not change.
    pub fn swap_db(&mut self, a: usize, b: usize) {
        self.require_all();
        for (_, g) in self.guards.iter_mut() {
            g.dbs.swap(a, b);
        }
    }

    /// SCAN over a logical database. The cursor's low 8 bits name the shard; the rest is
    /// a position in that shard's hash order. Visits about `count` entries (live ones
    /// are passed to `f`); returns the next cursor, 0 when done. Needs every shard.
    pub fn scan(
        &self,
        db: usize,
        cursor: u64,
        count: usize,
        now_ms: u64,
        mut f: impl FnMut(&Entry),
    ) -> u64 {
        self.require_all();
        let mut shard = (cursor & 0xff) as usize;
        let mut pos = cursor & !0xff;
        let mut seen = 0usize;
        while shard < self.guards.len() {
            let table = &self.guards[shard].1.dbs[db].table;
            let next = table.scan(pos, count.saturating_sub(seen).max(1), |e| {
                seen += 1;
                if !e.is_expired(now_ms) {
                    f(e)
                }
            });
            if next != 0 {
                return next | shard as u64;
            }
            shard += 1;
            pos = 0;
            if seen >= count {
                break;
            }
        }
        if shard >= self.guards.len() {
            0
        } else {
            shard as u64
        }
    }

    /// Every live entry of a logical database (KEYS). Needs every shard.
    pub fn for_each(&self, db: usize, now_ms: u64, mut f: impl FnMut(&Entry)) {
        self.require_all();
        for (_, g) in self.guards.iter() {
            for e in g.dbs[db].table.iter() {
                if !e.is_expired(now_ms) {
                    f(e)
                }
            }
        }
    }

    /// A random live key (RANDOMKEY). Needs every shard. Expired keys found on the way
    /// are removed, as Redis does.
    pub fn random_key(
        &mut self,
        db: usize,
        now_ms: u64,
        rng: &mut impl rand::Rng,
    ) -> Option<Box<[u8]>> {
        self.require_all();
        for _ in 0..100 {
            let total: usize = self.guards.iter().map(|(_, g)| g.dbs[db].table.len()).sum();
            if total == 0 {
                return None;
            }
            // Pick a shard weighted by its size, then an entry in it.
            let mut pick = rng.gen_range(0..total);
            let mut shard = 0;
            for (i, (_, g)) in self.guards.iter().enumerate() {
                let n = g.dbs[db].table.len();
                if pick < n {
                    shard = i;
                    break;
                }
                pick -= n;
            }
            let e = self.guards[shard].1.dbs[db].table.random(rng)?;
            if !e.is_expired(now_ms) {
                return Some(e.key.clone());
            }
            let key = e.key.clone();
            self.remove(db, &key, now_ms);
        }
        None
    }

    /// Calls `f` with every live key of `tag` in a logical database, shard by shard.
    /// Needs every shard.
    pub fn tag_keys(&self, db: usize, tag: &[u8], now_ms: u64, mut f: impl FnMut(&[u8])) {
        self.require_all();
        for (_, g) in self.guards.iter() {
            let part = &g.dbs[db];
            for (h, k) in tag_set(part, tag).into_iter().flatten() {
                if is_live(part, *h, k, now_ms) {
                    f(k);
                }
            }
        }
    }

    /// How many live keys of a logical database carry `tag`. Needs every shard.
    pub fn tag_count(&self, db: usize, tag: &[u8], now_ms: u64) -> usize {
        let mut n = 0;
        self.tag_keys(db, tag, now_ms, |_| n += 1);
        n
    }

    /// Every tag of a logical database that some key carries (expired keys not yet
    /// collected included), each once. Needs every shard.
    pub fn tag_names(&self, db: usize) -> Vec<Name> {
        self.require_all();
        let mut out: Vec<Name> = Vec::new();
        for (_, g) in self.guards.iter() {
            if let Some(ix) = &g.dbs[db].tags {
                out.extend(ix.tags().map(|(t, _)| t.clone()));
            }
        }
        out.sort_unstable();
        out.dedup();
        out
    }

    /// SCAN over the keys of `tag` in a logical database. The cursor is a position in
    /// hash space (0 to start): each call passes the live keys whose hash lies in
    /// `[cursor, next)` to `f`, about `count` of them, and returns `next`, or 0 when
    /// done. A key that carries the tag for the whole scan is returned exactly once.
    /// Needs every shard.
    pub fn tag_scan(
        &self,
        db: usize,
        tag: &[u8],
        cursor: u64,
        count: usize,
        now_ms: u64,
        mut f: impl FnMut(&[u8]),
    ) -> u64 {
        self.require_all();
        let count = count.max(1);
        let from: (u64, Name) = (cursor, Name::from(&b""[..]));
        // The `count` first links of each shard from the cursor on, merged.
        let mut batch: Vec<(u64, &Name, usize)> = Vec::new();
        for (si, (_, g)) in self.guards.iter().enumerate() {
            for (h, k) in tag_set(&g.dbs[db], tag)
                .into_iter()
                .flat_map(|s| s.range(&from..))
                .take(count)
            {
                batch.push((*h, k, si));
            }
        }
        batch.sort_unstable_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
        // Stop after `count`, but never between two keys of the same hash.
        let mut end = batch.len().min(count);
        while end > 0 && end < batch.len() && batch[end].0 == batch[end - 1].0 {
            end += 1;
        }
        for &(h, k, si) in &batch[..end] {
            let part = &self.guards[si].1.dbs[db];
            if is_live(part, h, k, now_ms) {
                f(k);
            }
        }
        let Some(next) = batch[..end].last().and_then(|l| l.0.checked_add(1)) else {
            return 0;
        };
        let from: (u64, Name) = (next, Name::from(&b""[..]));
        let more = self.guards.iter().any(|(_, g)| {
            tag_set(&g.dbs[db], tag).is_some_and(|s| s.range(&from..).next().is_some())
        });
        if more {
            next
        } else {
            0
        }
    }

    /// Removes every key that carries one of `tags` in a logical database, at once
    /// (every shard is held, so no command sees some removed and others not). Calls `f`
    /// with each live key removed and returns how many there were (keys that had
    /// expired are collected too, not counted). Needs every shard.
    pub fn invalidate_tags<T: AsRef<[u8]>>(
        &mut self,
        db: usize,
        tags: &[T],
        now_ms: u64,
        mut f: impl FnMut(&[u8]),
    ) -> usize {
        self.require_all();
        let ks = self.ks;
        let mut n = 0;
        for (i, g) in self.guards.iter_mut() {
            let counters = &ks.shards[*i].counters;
            let Shard { dbs, stats } = &mut **g;
            let part = &mut dbs[db];
            for tag in tags {
                let Some(keys) = tag_set(part, tag.as_ref()) else {
                    continue;
                };
                let keys: Vec<(u64, Name)> = keys.iter().cloned().collect();
                for (h, k) in keys {
                    if remove_from(part, stats, counters, (&ks.events, db), h, &k, now_ms).is_some()
                    {
                        n += 1;
                        f(&k);
                    }
                }
            }
        }
        n
    }

    /// Counters summed over every shard (needs every shard).
    pub fn stats(&self) -> ShardStats {
        self.require_all();
        sum_stats(self.guards.iter().map(|(_, g)| g.stats))
    }

    pub fn reset_stats(&mut self) {
        self.require_all();
        for (_, g) in self.guards.iter_mut() {
            g.stats = ShardStats::default();
        }
    }

    /// Per logical database key counts (needs every shard).
    pub fn db_info(&self) -> Vec<DbInfo> {
        self.require_all();
        let mut out = vec![DbInfo::default(); self.ks.databases];
        for (_, g) in self.guards.iter() {
            add_db_info(&mut out, g);
        }
        out
    }
}

/// The key set of `tag` in a part, if any key there carries it.
fn tag_set<'p>(
    part: &'p DbPart,
    tag: &[u8],
) -> Option<&'p std::collections::BTreeSet<(u64, Name)>> {
    part.tags.as_ref()?.keys_of(tag)
}

/// Whether the key (hash `h`) is in the part and not expired.
fn is_live(part: &DbPart, h: u64, key: &[u8], now_ms: u64) -> bool {
    part.table
        .get(h, key)
        .is_some_and(|e| !e.is_expired(now_ms))
}

/// Drops the tags of `e`, an entry that left its part (or is being replaced); returns
/// the bytes the index freed. Costs one test of the entry's bit for an untagged key.
#[inline]
fn untag(tags: &mut Option<Box<TagIndex>>, e: &Entry) -> i64 {
    if !e.is_tagged() {
        return 0;
    }
    untag_key(tags, &e.key)
}

#[cold]
fn untag_key(tags: &mut Option<Box<TagIndex>>, key: &[u8]) -> i64 {
    let Some(ix) = tags.as_mut() else {
        return 0;
    };
    let before = ix.bytes();
    ix.drop_key(key, hash_key(key));
    let freed = before - ix.bytes();
    if ix.is_empty() {
        *tags = None;
    }
    freed as i64
}

/// Removes `key` (hash `h`) from a part with its accounting and tags; returns it if it
/// was live.
fn remove_from(
    part: &mut DbPart,
    stats: &mut ShardStats,
    counters: &Counters,
    (log, db): (&EventLog, usize),
    h: u64,
    key: &[u8],
    now_ms: u64,
) -> Option<Entry> {
    let e = part.table.remove(h, key)?;
    let freed = charge_of(&e) + untag(&mut part.tags, &e);
    account(&mut part.used, counters, -freed, -1);
    if e.expire_at() != 0 {
        part.volatile -= 1;
    }
    if e.is_expired(now_ms) {
        stats.expired_keys += 1;
        log.record(KeyEventKind::Expired, db, key);
        None
    } else {
        Some(e)
    }
}

/// Removes a key found stale by a lookup (lazy expiry), with its accounting.
fn expire_now(part: &mut DbPart, stats: &mut ShardStats, counters: &Counters, h: u64, key: &[u8]) {
    if let Some(e) = part.table.remove(h, key) {
        let freed = charge_of(&e) + untag(&mut part.tags, &e);
        account(&mut part.used, counters, -freed, -1);
        if e.expire_at() != 0 {
            part.volatile -= 1;
        }
        stats.expired_keys += 1;
    }
}

/// A live entry borrowed for reading or writing. Changing the expiry goes through
/// [`set_expire`](Self::set_expire) so the keyspace's count of volatile keys stays true.
/// The value may be changed in place: the first mutable access measures the value, and
/// the change in its size is charged to the keyspace's memory accounting when the
/// borrow ends. Reads, and [`touch`](Self::touch), cost no measuring. The key must not
/// be changed.
pub struct EntryMut<'a> {
    entry: &'a mut Entry,
    volatile: &'a mut usize,
    used: &'a mut u64,
    counters: &'a Counters,
    tags: &'a mut Option<Box<TagIndex>>,
    /// The value's heap bytes at the first mutable access ([`UNMEASURED`] before).
    value_bytes: usize,
}

/// `EntryMut::value_bytes` before the entry was borrowed mutably.
const UNMEASURED: usize = usize::MAX;

impl Drop for EntryMut<'_> {
    #[inline]
    fn drop(&mut self) {
        if self.value_bytes == UNMEASURED {
            return;
        }
        let now = self.entry.value.heap_bytes();
        if now != self.value_bytes {
            let delta = now as i64 - self.value_bytes as i64;
            account(self.used, self.counters, delta, 0);
        }
    }
}

impl<'a> EntryMut<'a> {
    #[inline]
    fn new(
        entry: &'a mut Entry,
        volatile: &'a mut usize,
        used: &'a mut u64,
        counters: &'a Counters,
        tags: &'a mut Option<Box<TagIndex>>,
    ) -> Self {
        EntryMut {
            entry,
            volatile,
            used,
            counters,
            tags,
            value_bytes: UNMEASURED,
        }
    }
}

/// Tags of the borrowed key (see [`crate::tags`]). Changes are charged at once.
impl EntryMut<'_> {
    /// The key's tags, in the order they were added.
    pub fn tags(&self) -> &[Name] {
        if !self.entry.is_tagged() {
            return &[];
        }
        self.tags
            .as_ref()
            .map_or(&[], |ix| ix.tags_of(&self.entry.key))
    }

    /// Whether the key carries `tag`.
    pub fn has_tag(&self, tag: &[u8]) -> bool {
        self.tags().iter().any(|t| &t[..] == tag)
    }

    /// Adds tags to the key; returns how many it did not have yet.
    pub fn add_tags<T: AsRef<[u8]>>(&mut self, tags: &[T]) -> usize {
        if tags.is_empty() {
            return 0;
        }
        let ix = self.tags.get_or_insert_with(Box::default);
        let before = ix.bytes();
        let h = hash_key(&self.entry.key);
        let added = tags
            .iter()
            .filter(|t| ix.add(&self.entry.key, h, t.as_ref()))
            .count();
        let delta = ix.bytes() as i64 - before as i64;
        let tagged = !ix.tags_of(&self.entry.key).is_empty();
        if ix.is_empty() {
            *self.tags = None;
        }
        self.entry.set_tagged(tagged);
        account(self.used, self.counters, delta, 0);
        added
    }

    /// Removes tags from the key; returns how many it had.
    pub fn remove_tags<T: AsRef<[u8]>>(&mut self, tags: &[T]) -> usize {
        if !self.entry.is_tagged() {
            return 0;
        }
        let Some(ix) = self.tags.as_mut() else {
            return 0;
        };
        let before = ix.bytes();
        let h = hash_key(&self.entry.key);
        let removed = tags
            .iter()
            .filter(|t| ix.remove(&self.entry.key, h, t.as_ref()))
            .count();
        let delta = ix.bytes() as i64 - before as i64;
        let tagged = !ix.tags_of(&self.entry.key).is_empty();
        if ix.is_empty() {
            *self.tags = None;
        }
        self.entry.set_tagged(tagged);
        account(self.used, self.counters, delta, 0);
        removed
    }

    /// Removes every tag of the key and returns them, in the order they were added.
    pub fn take_tags(&mut self) -> Vec<Name> {
        if !self.entry.is_tagged() {
            return Vec::new();
        }
        let Some(ix) = self.tags.as_mut() else {
            return Vec::new();
        };
        let before = ix.bytes();
        let taken = ix.take_key(&self.entry.key, hash_key(&self.entry.key));
        let delta = ix.bytes() as i64 - before as i64;
        if ix.is_empty() {
            *self.tags = None;
        }
        self.entry.set_tagged(false);
        account(self.used, self.counters, delta, 0);
        taken
    }

    /// Removes every tag of the key (a write that replaces the value, as it drops the
    /// TTL). Costs one bit test when the key has none.
    #[inline]
    pub fn clear_tags(&mut self) {
        if self.entry.is_tagged() {
            self.take_tags();
        }
    }
}

impl EntryMut<'_> {
    /// Records an access for eviction (see [`Entry::touch`]); not a change of the value.
    #[inline]
    pub fn touch(&mut self, clock: &crate::evict::Access) {
        self.entry.touch(clock);
    }

    pub fn set_expire(&mut self, at_ms: u64) {
        match (self.entry.expire_at() != 0, at_ms != 0) {
            (false, true) => *self.volatile += 1,
            (true, false) => *self.volatile -= 1,
            _ => {}
        }
        self.entry.set_expire_raw(at_ms);
    }
}

impl std::ops::Deref for EntryMut<'_> {
    type Target = Entry;
    fn deref(&self) -> &Entry {
        self.entry
    }
}

impl std::ops::DerefMut for EntryMut<'_> {
    #[inline]
    fn deref_mut(&mut self) -> &mut Entry {
        if self.value_bytes == UNMEASURED {
            self.value_bytes = self.entry.value.heap_bytes();
        }
        self.entry
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::{Str, Value};

    fn ks() -> Keyspace {
        Keyspace::new(&KeyspaceConfig {
            databases: 4,
            shards: 8,
        })
    }

    fn val(s: &str) -> Value {
        Value::Str(Str::from_bytes(s.as_bytes()))
    }

    #[test]
    fn lazy_expiry_and_volatile_counts() {
        let ks = ks();
        let now = 1_000_000;
        {
            let mut l = ks.lock_all();
            l.insert(0, Entry::new(b"a", val("1")).with_expire(now + 10), now);
            l.insert(0, Entry::new(b"b", val("2")), now);
            assert!(l.get(0, b"a", now).is_some());
            assert!(
                l.get(0, b"a", now + 10).is_none(),
                "expired at its deadline"
            );
            assert!(l.get(0, b"b", now + 10).is_some());
        }
        let info = ks.db_info();
        assert_eq!(
            info[0],
            DbInfo {
                keys: 1,
                expires: 0
            }
        );
        let st = ks.stats();
        assert_eq!(st.expired_keys, 1);
        assert_eq!(st.keyspace_hits, 2);
        assert_eq!(st.keyspace_misses, 1);
    }

    #[test]
    fn set_expire_keeps_counts_true() {
        let ks = ks();
        let mut l = ks.lock_all();
        l.insert(1, Entry::new(b"k", val("v")), 0);
        if let Some(mut e) = l.get_for_write(1, b"k", 0) {
            e.set_expire(5_000);
            e.set_expire(6_000);
        }
        assert_eq!(l.db_info()[1].expires, 1);
        if let Some(mut e) = l.get_for_write(1, b"k", 0) {
            e.set_expire(0);
        }
        assert_eq!(l.db_info()[1].expires, 0);
        l.insert(1, Entry::new(b"k", val("w")).with_expire(9_000), 0);
        assert_eq!(l.db_info()[1].expires, 1);
        assert!(l.remove(1, b"k", 0).is_some());
        assert_eq!(l.db_info()[1], DbInfo::default());
    }

    #[test]
    fn upsert_replaces_an_expired_entry_in_place() {
        let ks = ks();
        let mut l = ks.lock_key(b"x");
        l.insert(0, Entry::new(b"x", val("old")).with_expire(100), 0);
        let (e, inserted) = l.get_or_insert_with(0, b"x", 200, || Entry::new(b"x", val("new")));
        assert!(inserted, "a stale key counts as absent");
        assert_eq!(e.value, val("new"));
        drop(e);
        drop(l);
        assert_eq!(
            ks.db_info()[0],
            DbInfo {
                keys: 1,
                expires: 0
            }
        );
        assert_eq!(ks.stats().expired_keys, 1);
        let mut l = ks.lock_key(b"x");
        let (_, inserted) = l.get_or_insert_with(0, b"x", 200, || Entry::new(b"x", val("other")));
        assert!(!inserted);
    }

    #[test]
    fn scan_visits_every_key_across_shards_once() {
        let ks = ks();
        let mut l = ks.lock_all();
        for i in 0..5000 {
            let k = format!("key:{i}");
            l.insert(2, Entry::new(k.as_bytes(), val("v")), 0);
        }
        let mut seen = std::collections::HashSet::new();
        let mut cursor = 0;
        let mut calls = 0;
        loop {
            cursor = l.scan(2, cursor, 10, 0, |e| {
                assert!(seen.insert(e.key.clone()), "visited twice");
            });
            calls += 1;
            if cursor == 0 {
                break;
            }
            assert!(calls < 100_000, "scan does not end");
        }
        assert_eq!(seen.len(), 5000);
        assert!(calls > 100, "COUNT is honoured roughly: {calls} calls");
    }

    #[test]
    fn active_expiry_removes_stale_keys_only() {
        let ks = ks();
        {
            let mut l = ks.lock_all();
            for i in 0..2000 {
                let k = format!("k{i}");
                let at = if i % 2 == 0 { 50 } else { 0 };
                l.insert(0, Entry::new(k.as_bytes(), val("v")).with_expire(at), 0);
            }
        }
        let mut total = 0;
        for _ in 0..100 {
            total += ks.active_expire(100, 4096).1;
        }
        assert_eq!(total, 1000);
        assert_eq!(
            ks.db_info()[0],
            DbInfo {
                keys: 1000,
                expires: 0
            }
        );
    }

    #[test]
    fn per_shard_walk_sees_every_entry_of_one_db_once() {
        let ks = ks();
        {
            let mut l = ks.lock_all();
            for i in 0..500 {
                let k = format!("w{i}");
                l.insert(1, Entry::new(k.as_bytes(), val("v")), 0);
            }
            l.insert(2, Entry::new(b"other-db", val("v")), 0);
            l.insert(1, Entry::new(b"stale", val("v")).with_expire(5), 0);
        }
        let mut seen = std::collections::HashSet::new();
        for shard in 0..ks.shard_count() {
            ks.try_for_each_in_shard(shard, 1, |e| {
                assert!(seen.insert(e.key.clone()), "visited twice");
                Ok::<(), ()>(())
            })
            .unwrap_or_else(|()| unreachable!("the closure never fails"));
        }
        assert_eq!(seen.len(), 501, "uncollected expired entries are included");
        assert!(!seen.contains(&b"other-db"[..]));
        let mut visited = 0;
        let stopped = ks.try_for_each_in_shard(0, 1, |_| {
            visited += 1;
            Err("stop")
        });
        assert_eq!(
            (stopped, visited),
            (Err("stop"), 1),
            "stops at the first error"
        );
    }

    #[test]
    fn flush_and_swap() {
        let ks = ks();
        let mut l = ks.lock_all();
        l.insert(0, Entry::new(b"a", val("1")).with_expire(10_000), 0);
        l.insert(1, Entry::new(b"b", val("2")), 0);
        l.swap_db(0, 1);
        assert!(l.exists(0, b"b", 0));
        assert!(l.exists(1, b"a", 0));
        assert_eq!(l.db_info()[1].expires, 1);
        let taken = l.flush(1);
        assert_eq!(taken.iter().map(|t| t.len()).sum::<usize>(), 1);
        assert_eq!(l.len(1), 0);
        assert_eq!(l.db_info()[1].expires, 0);
    }

    /// The accounting as a test computes it by hand.
    fn charged(key: &str, value: &Value) -> u64 {
        (crate::value::ENTRY_OVERHEAD + crate::value::alloc_size(key.len()) + value.heap_bytes())
            as u64
    }

    #[test]
    fn accounting_follows_every_mutation() {
        let ks = ks();
        let big = val(&"x".repeat(100));
        {
            let mut l = ks.lock_all();
            l.insert(0, Entry::new(b"a", val("hello")), 0);
            l.insert(1, Entry::new(b"b", big.clone()).with_expire(50), 0);
            assert_eq!(
                ks.used_memory(),
                charged("a", &val("hello")) + charged("b", &big)
            );
            assert_eq!(ks.key_count(), 2);
            // Overwrite with a bigger value, then a counter (no heap bytes).
            l.insert(0, Entry::new(b"a", big.clone()), 0);
            assert_eq!(ks.used_memory(), 2 * charged("a", &big));
            l.insert(0, Entry::new(b"a", Value::Str(Str::Int(7))), 0);
            assert_eq!(ks.key_count(), 2);
            ks_check(&l);
            // In place: an integer turned into bytes and appended to.
            if let Some(mut e) = l.get_for_write(0, b"a", 0) {
                if let Value::Str(s) = &mut e.value {
                    s.make_raw().extend_from_slice(&[b'z'; 300]);
                }
            }
            ks_check(&l);
            // Upsert: new key, existing key, stale key replaced in place.
            let _ = l.get_or_insert_with(2, b"c", 0, || Entry::new(b"c", val("1")));
            let _ = l.get_or_insert_with(2, b"c", 0, || Entry::new(b"c", val("2")));
            let (mut e, inserted) =
                l.get_or_insert_with(1, b"b", 60, || Entry::new(b"b", val("fresh")));
            assert!(inserted);
            e.value = big.clone();
            drop(e);
            ks_check(&l);
            // Lazy expiry, removal.
            l.insert(3, Entry::new(b"d", big.clone()).with_expire(10), 0);
            assert!(l.get(3, b"d", 20).is_none());
            assert!(l.remove(2, b"c", 0).is_some());
            ks_check(&l);
            l.swap_db(0, 1);
            ks_check(&l);
            let _ = l.flush(1);
            ks_check(&l);
        }
        assert_eq!(ks.key_count(), 1);
        assert_eq!(ks.used_memory(), charged("b", &big));
        // Active expiry.
        {
            let mut l = ks.lock_all();
            for i in 0..500 {
                let k = format!("t{i}");
                l.insert(2, Entry::new(k.as_bytes(), val("v")).with_expire(5), 0);
            }
        }
        while ks.active_expire(10, 4096).1 > 0 {}
        ks.check_accounting();
        assert_eq!(ks.key_count(), 1);
    }

    fn ks_check(l: &Locked<'_>) {
        // The audit locks shards itself: run it on a clone of the figures instead.
        let ks = l.keyspace();
        let mut bytes = 0u64;
        let mut keys = 0u64;
        for db in 0..ks.databases() {
            l.for_each(db, 0, |e| {
                bytes += e.memory_usage() as u64;
                keys += 1;
            });
        }
        assert_eq!(ks.used_memory(), bytes);
        assert_eq!(ks.key_count(), keys);
    }

    fn fill(ks: &Keyspace, n: usize, db: usize, f: impl Fn(usize) -> (u32, u64)) {
        let mut l = ks.lock_all();
        for i in 0..n {
            let (access, expire) = f(i);
            let mut e = Entry::new(format!("k{i}").as_bytes(), val("v")).with_expire(expire);
            e.access = access;
            l.insert(db, e, 0);
        }
    }

    fn idx_of(key: &[u8]) -> usize {
        String::from_utf8_lossy(&key[1..])
            .parse()
            .unwrap_or(usize::MAX)
    }

    fn survivors(ks: &Keyspace, db: usize) -> Vec<usize> {
        let l = ks.lock_all();
        let mut v = Vec::new();
        l.for_each(db, 0, |e| v.push(idx_of(&e.key)));
        v.sort_unstable();
        v
    }

    #[test]
    fn lru_eviction_prefers_idle_keys() {
        let ks = ks();
        // Key i was last used at second i: low indexes are the idlest.
        fill(&ks, 2000, 0, |i| (i as u32, 0));
        let clock = Access::lru(3_000_000);
        for _ in 0..1000 {
            assert!(ks.evict_one(Policy::AllKeysLru, 5, &clock, 0).is_some());
        }
        ks.check_accounting();
        let left = survivors(&ks, 0);
        assert_eq!(left.len(), 1000);
        // True LRU would keep exactly 1000..2000; sampling comes close.
        let old = left.iter().filter(|&&i| i < 1000).count();
        assert!(old < 150, "{old} of the 1000 idlest survived");
        assert_eq!(ks.stats().evicted_keys, 1000);
    }

    #[test]
    fn lfu_eviction_prefers_rarely_used_keys() {
        let ks = ks();
        let clock = Access::lfu(0, 10, 1);
        // Counter i % 200: a key's index modulo 200 is how often it was used.
        fill(&ks, 2000, 0, |i| ((i % 200) as u32, 0));
        for _ in 0..1000 {
            assert!(ks.evict_one(Policy::AllKeysLfu, 5, &clock, 0).is_some());
        }
        let left = survivors(&ks, 0);
        let rare = left.iter().filter(|&&i| i % 200 < 100).count();
        assert!(rare < 200, "{rare} rarely used keys survived");
    }

    #[test]
    fn volatile_policies_spare_persistent_keys() {
        let ks = ks();
        // Even keys expire (key i at 10_000 + i), odd ones do not.
        fill(&ks, 1000, 0, |i| {
            (0, if i % 2 == 0 { 10_000 + i as u64 } else { 0 })
        });
        let clock = Access::lru(0);
        for policy in [
            Policy::VolatileLru,
            Policy::VolatileRandom,
            Policy::VolatileTtl,
        ] {
            for _ in 0..100 {
                assert!(ks.evict_one(policy, 5, &clock, 0).is_some());
            }
        }
        let left = survivors(&ks, 0);
        assert_eq!(left.iter().filter(|&&i| i % 2 == 1).count(), 500);
        assert_eq!(left.len(), 700);
        // The other 200 volatile keys go, then nothing is left to evict.
        for _ in 0..200 {
            assert!(ks.evict_one(Policy::VolatileLfu, 5, &clock, 0).is_some());
        }
        assert_eq!(ks.evict_one(Policy::VolatileTtl, 5, &clock, 0), None);
        assert_eq!(ks.evict_one(Policy::VolatileRandom, 5, &clock, 0), None);
        assert_eq!(ks.evict_one(Policy::NoEviction, 5, &clock, 0), None);
        assert!(ks.evict_one(Policy::AllKeysRandom, 5, &clock, 0).is_some());
        ks.check_accounting();
    }

    #[test]
    fn volatile_ttl_evicts_soonest_expiry_first() {
        let ks = ks();
        fill(&ks, 1000, 3, |i| (0, 100_000 + i as u64));
        let clock = Access::lru(0);
        for _ in 0..300 {
            assert!(ks.evict_one(Policy::VolatileTtl, 10, &clock, 0).is_some());
        }
        let left = survivors(&ks, 3);
        let early = left.iter().filter(|&&i| i < 300).count();
        assert!(early < 60, "{early} of the 300 soonest-expiring survived");
    }

    #[test]
    fn sparse_volatile_keys_are_found() {
        let ks = ks();
        // One volatile key among many: random draws rarely hit it, the walk does.
        fill(&ks, 5000, 0, |i| (0, if i == 4321 { 99_999 } else { 0 }));
        let clock = Access::lru(0);
        assert!(ks.evict_one(Policy::VolatileLru, 5, &clock, 0).is_some());
        assert!(!survivors(&ks, 0).contains(&4321));
        assert_eq!(ks.evict_one(Policy::VolatileLru, 5, &clock, 0), None);
    }

    #[test]
    fn multi_key_locks_are_ordered_and_deduplicated() {
        let ks = ks();
        // Same key twice and many keys: no self-deadlock, and every key is reachable.
        let keys: Vec<String> = (0..40).map(|i| format!("m{i}")).collect();
        let mut all: Vec<&[u8]> = keys.iter().map(|k| k.as_bytes()).collect();
        all.push(keys[0].as_bytes());
        let mut l = ks.lock(all.iter().copied());
        for k in &keys {
            l.insert(3, Entry::new(k.as_bytes(), val("v")), 0);
        }
        drop(l);
        assert_eq!(ks.db_info()[3].keys, 40);
    }
}
