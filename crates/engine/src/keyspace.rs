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

use parking_lot::{Mutex, MutexGuard};
use smallvec::SmallVec;

use crate::table::{hash_key, Table};
use crate::value::Entry;

/// Counters kept per shard under its lock (no shared atomics on the hot path).
#[derive(Clone, Copy, Debug, Default)]
pub struct ShardStats {
    pub keyspace_hits: u64,
    pub keyspace_misses: u64,
    pub expired_keys: u64,
}

impl std::ops::AddAssign for ShardStats {
    fn add_assign(&mut self, o: Self) {
        self.keyspace_hits += o.keyspace_hits;
        self.keyspace_misses += o.keyspace_misses;
        self.expired_keys += o.expired_keys;
    }
}

/// One logical database's part inside one shard.
#[derive(Default)]
struct DbPart {
    table: Table<Entry>,
    /// Keys in `table` that carry an expiry time.
    volatile: usize,
    /// Where active expiry resumes.
    sweep_cursor: u64,
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

/// The data of one database.
pub struct Keyspace {
    shards: Box<[Mutex<Shard>]>,
    shard_mask: usize,
    databases: usize,
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
            shards: (0..n).map(|_| Mutex::new(Shard::new(databases))).collect(),
            shard_mask: n - 1,
            databases,
        }
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
                .map(|i| (i, self.shards[i].lock()))
                .collect(),
            all: false,
        }
    }

    /// Locks one shard by key (the common single-key case).
    pub fn lock_key(&self, key: &[u8]) -> Locked<'_> {
        let i = self.shard_of(hash_key(key));
        let mut guards = SmallVec::new();
        guards.push((i, self.shards[i].lock()));
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
                .map(|(i, s)| (i, s.lock()))
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
        let guard = self.shards[shard].lock();
        let result = guard.dbs[db].table.iter().try_for_each(f);
        result
    }

    /// Counters summed over shards (locks each briefly, one at a time).
    pub fn stats(&self) -> ShardStats {
        sum_stats(self.shards.iter().map(|sh| sh.lock().stats))
    }

    pub fn reset_stats(&self) {
        for sh in self.shards.iter() {
            sh.lock().stats = ShardStats::default();
        }
    }

    /// Keys and keys-with-expiry per logical database (locks each shard briefly, one
    /// at a time).
    pub fn key_count(&self) -> u64 {
        self.db_info().iter().map(|d| d.keys as u64).sum()
    }

    pub fn used_memory(&self) -> u64 {
        0
    }

    pub fn db_info(&self) -> Vec<DbInfo> {
        let mut out = vec![DbInfo::default(); self.databases];
        for sh in self.shards.iter() {
            add_db_info(&mut out, &sh.lock());
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
        for sh in self.shards.iter() {
            let mut g = sh.lock();
            let Shard { dbs, stats } = &mut *g;
            for part in dbs.iter_mut() {
                if part.volatile == 0 {
                    continue;
                }
                let mut seen = 0usize;
                let mut removed = 0usize;
                let mut removed_volatile = 0usize;
                part.sweep_cursor = part.table.sweep(
                    part.sweep_cursor,
                    per_shard,
                    |e| {
                        seen += 1;
                        e.is_expired(now_ms)
                    },
                    |e| {
                        removed += 1;
                        if e.expire_at() != 0 {
                            removed_volatile += 1;
                        }
                    },
                );
                part.volatile -= removed_volatile;
                stats.expired_keys += removed as u64;
                visited += seen;
                expired += removed;
            }
        }
        (visited, expired)
    }
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

    fn shard_mut(&mut self, hash: u64) -> &mut Shard {
        let i = self.ks.shard_of(hash);
        if self.all {
            return &mut self.guards[i].1;
        }
        match self.guards.iter_mut().find(|(j, _)| *j == i) {
            Some((_, g)) => g,
            None => panic!("shard {i} not locked: the command's key spec is wrong"),
        }
    }

    fn part(&mut self, db: usize, key: &[u8]) -> (&mut DbPart, &mut ShardStats, u64) {
        let h = hash_key(key);
        let sh = self.shard_mut(h);
        let Shard { dbs, stats } = sh;
        (&mut dbs[db], stats, h)
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
        let Shard { dbs, stats } = self.shard_mut(h);
        let part = &mut dbs[db];
        let live = match part.table.get(h, key) {
            None => false,
            Some(e) if e.is_expired(now_ms) => {
                part.table.remove(h, key);
                part.volatile -= 1;
                stats.expired_keys += 1;
                false
            }
            Some(_) => true,
        };
        if count {
            if live {
                stats.keyspace_hits += 1;
            } else {
                stats.keyspace_misses += 1;
            }
        }
        if !live {
            return None;
        }
        let DbPart {
            table, volatile, ..
        } = part;
        table
            .get_mut(h, key)
            .map(|entry| EntryMut { entry, volatile })
    }

    /// Whether a live key exists (expiring it if stale); touches no statistics.
    pub fn exists(&mut self, db: usize, key: &[u8], now_ms: u64) -> bool {
        self.lookup(db, key, now_ms)
    }

    /// Removes the key if expired; true if a live key remains.
    fn lookup(&mut self, db: usize, key: &[u8], now_ms: u64) -> bool {
        let (part, stats, h) = self.part(db, key);
        match part.table.get(h, key) {
            None => false,
            Some(e) if e.is_expired(now_ms) => {
                part.table.remove(h, key);
                part.volatile -= 1;
                stats.expired_keys += 1;
                false
            }
            Some(_) => true,
        }
    }

    /// Inserts or replaces a key with `entry` (its expiry included); returns the
    /// previous live entry.
    pub fn insert(&mut self, db: usize, entry: Entry, now_ms: u64) -> Option<Entry> {
        let (part, stats, h) = self.part(db, &entry.key);
        if entry.expire_at() != 0 {
            part.volatile += 1;
        }
        let old = part.table.insert(h, entry)?;
        if old.expire_at() != 0 {
            part.volatile -= 1;
        }
        if old.is_expired(now_ms) {
            stats.expired_keys += 1;
            None
        } else {
            Some(old)
        }
    }

    /// Returns the live entry for `key`, or inserts the one `make` builds (also in
    /// place of an expired entry). One hash and one probe: this is SET's path.
    pub fn get_or_insert_with(
        &mut self,
        db: usize,
        key: &[u8],
        now_ms: u64,
        make: impl FnOnce() -> Entry,
    ) -> (EntryMut<'_>, bool) {
        let h = hash_key(key);
        let Shard { dbs, stats } = self.shard_mut(h);
        let DbPart {
            table, volatile, ..
        } = &mut dbs[db];
        let mut make = Some(make);
        let (entry, inserted) = table.get_or_insert_with(h, key, || match make.take() {
            Some(f) => f(),
            None => unreachable!("the table calls make at most once"),
        });
        if inserted {
            if entry.expire_at() != 0 {
                *volatile += 1;
            }
            return (EntryMut { entry, volatile }, true);
        }
        if entry.is_expired(now_ms) {
            // A stale key counts as absent: replace it where it lies.
            if let Some(f) = make.take() {
                stats.expired_keys += 1;
                *volatile -= 1;
                *entry = f();
                if entry.expire_at() != 0 {
                    *volatile += 1;
                }
                return (EntryMut { entry, volatile }, true);
            }
        }
        (EntryMut { entry, volatile }, false)
    }

    /// Removes a key; returns it if it was live.
    pub fn remove(&mut self, db: usize, key: &[u8], now_ms: u64) -> Option<Entry> {
        let (part, stats, h) = self.part(db, key);
        let e = part.table.remove(h, key)?;
        if e.expire_at() != 0 {
            part.volatile -= 1;
        }
        if e.is_expired(now_ms) {
            stats.expired_keys += 1;
            None
        } else {
            Some(e)
        }
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
        self.guards
            .iter_mut()
            .map(|(_, g)| {
                let p = &mut g.dbs[db];
                p.volatile = 0;
                p.sweep_cursor = 0;
                p.table.take()
            })
            .collect()
    }

    /// Swaps two logical databases atomically. Needs every shard.
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

/// A live entry borrowed for reading or writing. Changing the expiry goes through
/// [`set_expire`](Self::set_expire) so the keyspace's count of volatile keys stays true.
pub struct EntryMut<'a> {
    entry: &'a mut Entry,
    volatile: &'a mut usize,
}

impl EntryMut<'_> {
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
    fn deref_mut(&mut self) -> &mut Entry {
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
