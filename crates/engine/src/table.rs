//! The keyspace's hash table: a segmented, extendible-hashing table.
//!
//! # Design
//!
//! A [`Table`] is a *directory* of `2^global_depth` slots, each naming a *segment*. A segment
//! is a small [`hashbrown::HashTable`] holding at most `segment_max` entries ([`SEGMENT_MAX`],
//! 1792, exactly the capacity of a 2048-bucket hashbrown table). The directory slot of a hash is
//! given by its **top** `global_depth` bits; a segment of local depth `d` owns every hash whose
//! top `d` bits equal its prefix, i.e. one contiguous range `[lo, lo + 2^(64-d))` of hash space,
//! and `2^(global_depth - d)` consecutive directory slots point at it.
//!
//! * **Bounded pauses.** A plain hash table doubles all at once, so one unlucky insert pays for
//!   rehashing every key (hundreds of milliseconds at tens of millions of keys). Here an insert
//!   into a full segment *splits* that segment in two by the next hash bit, which moves at most
//!   `segment_max` entries; when the segment was as deep as the directory, the directory doubles
//!   first, which copies `n / segment_max`-ish `u32`s. A split costs ~40 ns per entry it holds
//!   (mostly reading cold keys to rehash them): ~75 us at the default size, whatever the
//!   table's size, where a plain table's resize at 10M keys stalls for ~0.5 s. Deleting merges two buddy segments back when together they hold
//!   less than a quarter of `segment_max`, halving the directory when no segment needs its full
//!   depth, so memory follows the data down as well as up. An empty table allocates nothing.
//! * **SCAN in hash order.** Because a segment is a contiguous range of hash space and a split
//!   cuts a range into two sub-ranges, "everything with hash below `c`" is a notion that survives
//!   any number of splits and merges. A SCAN cursor is therefore just a position in hash space:
//!   each call visits the entries whose hash lies in `[cursor, next)`, and the ranges of
//!   successive calls tile `[0, 2^64)` without overlap. An entry present for the whole scan is
//!   visited exactly once, and no reverse-binary cursor trick is needed.
//! * **Hot path.** `get`/`insert` are one shift, one directory load, one segment-header load and
//!   one hashbrown probe; nothing is allocated. No per-entry hash is stored: splits, merges, scans and hashbrown's own
//!   resizes recompute it with [`Keyed::key_hash`] (by default [`hash_key`] of the key).
//!
//! # Hash remixing
//!
//! Inside one segment every hash shares its top `depth` bits, and the caller picks a lock
//! shard with the low 8 bits, so all hashes of one table may share those too. hashbrown takes
//! its 7-bit tag from the top bits and its bucket index from the low bits, so handing it the raw
//! hash would make every tag equal and cluster the buckets. `remix` folds a 64x64->128-bit
//! multiply so that both ends of the value hashbrown sees depend on all the input bits.

use std::hash::{BuildHasher, Hasher};
use std::sync::OnceLock;

use hashbrown::hash_table::Entry;
use hashbrown::HashTable;

/// Something stored in a Table: it must expose its key.
pub trait Keyed {
    /// The entry's key.
    fn key(&self) -> &[u8];

    /// The hash of the entry's key: it must equal the `hash` the table's methods are given for
    /// this key. The default, [`hash_key`] of [`Keyed::key`], is what the keyspace uses; tests
    /// override it to feed adversarial hashes, and an entry type could cache it.
    #[inline]
    fn key_hash(&self) -> u64 {
        hash_key(self.key())
    }
}

/// Hash of a key, process-wide seeded (foldhash with a random seed chosen once per process).
#[inline]
pub fn hash_key(key: &[u8]) -> u64 {
    static STATE: OnceLock<foldhash::fast::SeedableRandomState> = OnceLock::new();
    let mut h = STATE
        .get_or_init(foldhash::fast::SeedableRandomState::random)
        .build_hasher();
    // One byte string per hash: no length prefix needed to keep inputs unambiguous.
    h.write(key);
    h.finish()
}

/// Default maximum entries per segment: the capacity of a 2048-bucket hashbrown table (7/8 load),
/// so a segment never reallocates between two splits. Chosen by measurement (see
/// `tests/table_bench.rs`): the split pause and the cost of a SCAN or sweep step that stops
/// inside a segment grow linearly with it (a split at 10M keys: ~45 us at 896, ~75 us at 1792,
/// ~150 us at 3584), while lookup throughput is flat from 448 to 7168. Bigger segments do shave
/// dependent-lookup latency in big tables (at 10M keys, ~20 ns less at 3584, fewer directory and
/// header cache lines), so this trades ~3% of that for half the pause.
pub const SEGMENT_MAX: usize = 1792;
/// Deepest a segment may be: keeps segment boundaries multiples of 256, as SCAN cursors need.
const MAX_DEPTH: u32 = 56;
/// The directory may always grow to this many slots...
const DIR_MIN_CAP: usize = 1024;
/// ...and beyond that to this many slots per segment. Random hashes never get near it; it stops
/// adversarial hashes (sharing a long prefix) from doubling the directory without bound. A segment
/// that may not split just grows past `segment_max`.
const DIR_PER_SEGMENT: usize = 64;

/// Spreads `h` so that hashbrown's tag (top 7 bits) and bucket index (low bits) both vary even
/// when `h`'s own top and low bits are constant. Folded 128-bit multiply by an odd constant.
#[inline(always)]
fn remix(h: u64) -> u64 {
    let m = (h as u128).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    (m as u64) ^ ((m >> 64) as u64)
}

#[inline]
fn rehash<T: Keyed>(e: &T) -> u64 {
    remix(e.key_hash())
}

/// Where a segment sits in hash space. Kept apart from the segments' tables so that the array
/// lookups touch (`tables`, 32 bytes a segment) stays small and dense in cache.
#[derive(Clone, Copy)]
struct Range {
    /// First hash of the range this segment owns (its low `64 - depth` bits are zero).
    lo: u64,
    /// Local depth: how many top hash bits all entries here share.
    depth: u32,
}

impl Range {
    /// Exclusive end of the owned hash range; `None` for the end of hash space.
    #[inline]
    fn end(&self) -> Option<u64> {
        (self.lo | (u64::MAX >> self.depth)).checked_add(1)
    }
}

/// The segmented hash table. See the module documentation.
pub struct Table<T> {
    /// `2^global_depth` segment indices (empty until the first insert).
    dir: Vec<u32>,
    /// The segments' tables, indexed by the directory...
    tables: Vec<HashTable<T>>,
    /// ...and their hash ranges, same indices.
    ranges: Vec<Range>,
    /// `64 - global_depth`; global depth is at least 1 once allocated, so this is at most 63.
    shift: u32,
    len: usize,
    segment_max: usize,
}

impl<T: Keyed> Default for Table<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Keyed> Table<T> {
    /// An empty table; allocates nothing.
    pub fn new() -> Self {
        Self::with_segment_max(SEGMENT_MAX)
    }

    /// A table whose segments split above `max` entries (at least 3). For tests (tiny segments
    /// exercise splits and merges) and measurements; use [`Table::new`] otherwise.
    #[doc(hidden)]
    pub fn with_segment_max(max: usize) -> Self {
        Table {
            dir: Vec::new(),
            tables: Vec::new(),
            ranges: Vec::new(),
            shift: 63,
            len: 0,
            segment_max: max.max(3),
        }
    }

    /// Number of entries.
    #[inline]
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the table holds no entry.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    #[inline(always)]
    fn global_depth(&self) -> u32 {
        64 - self.shift
    }

    #[inline(always)]
    fn seg_index(&self, hash: u64) -> Option<usize> {
        self.dir
            .get((hash >> self.shift) as usize)
            .map(|&s| s as usize)
    }

    /// The table of segment `si`, an index read from the directory.
    #[inline(always)]
    fn table_at(&self, si: usize) -> &HashTable<T> {
        debug_assert!(si < self.tables.len());
        // SAFETY: every directory slot holds the index of a live segment (`si < tables.len()`).
        // Only `init`, `split`, `try_merge` and the directory doubling/halving write `dir` or
        // change `tables.len()`, and each re-establishes this before returning and before any
        // user code (`Keyed` methods, closures) runs, so a panic there cannot leave it broken.
        // `check_invariants` asserts it and the property tests exercise every path. Measured:
        // the bounds check cost ~7 ns per lookup (~7%) on 1M-entry random lookups.
        unsafe { self.tables.get_unchecked(si) }
    }

    /// Mutable [`Table::table_at`].
    #[inline(always)]
    fn table_at_mut(&mut self, si: usize) -> &mut HashTable<T> {
        debug_assert!(si < self.tables.len());
        // SAFETY: as in `table_at`.
        unsafe { self.tables.get_unchecked_mut(si) }
    }

    /// The entry with this key (`hash` must be its hash).
    #[inline]
    pub fn get(&self, hash: u64, key: &[u8]) -> Option<&T> {
        let si = self.seg_index(hash)?;
        self.table_at(si).find(remix(hash), |e| e.key() == key)
    }

    /// The entry with this key, mutably (`hash` must be its hash).
    #[inline]
    pub fn get_mut(&mut self, hash: u64, key: &[u8]) -> Option<&mut T> {
        let si = self.seg_index(hash)?;
        self.table_at_mut(si)
            .find_mut(remix(hash), |e| e.key() == key)
    }

    /// Inserts; if an entry with the same key exists it is replaced and returned.
    #[inline]
    pub fn insert(&mut self, hash: u64, value: T) -> Option<T> {
        debug_assert_eq!(
            hash,
            value.key_hash(),
            "hash does not match the entry's key"
        );
        let si = self.prepare_insert(hash);
        match self.tables[si].entry(remix(hash), |e| e.key() == value.key(), rehash) {
            Entry::Occupied(mut o) => Some(std::mem::replace(o.get_mut(), value)),
            Entry::Vacant(v) => {
                v.insert(value);
                self.len += 1;
                None
            }
        }
    }

    /// Returns the existing entry or inserts `make()`; bool = inserted.
    #[inline]
    pub fn get_or_insert_with(
        &mut self,
        hash: u64,
        key: &[u8],
        make: impl FnOnce() -> T,
    ) -> (&mut T, bool) {
        let si = self.prepare_insert(hash);
        let len = &mut self.len;
        match self.tables[si].entry(remix(hash), |e| e.key() == key, rehash) {
            Entry::Occupied(o) => (o.into_mut(), false),
            Entry::Vacant(v) => {
                let value = make();
                debug_assert!(value.key() == key, "make() built an entry with another key");
                *len += 1;
                (v.insert(value).into_mut(), true)
            }
        }
    }

    /// Allocates the first segment if needed, splits the target segment if it is full, and
    /// returns the index of the segment `hash` belongs to.
    #[inline(always)]
    fn prepare_insert(&mut self, hash: u64) -> usize {
        if self.dir.is_empty() {
            self.init();
        }
        let si = self.dir[(hash >> self.shift) as usize] as usize;
        if self.tables[si].len() < self.segment_max || !self.can_split(si) {
            return si;
        }
        self.split(si);
        self.dir[(hash >> self.shift) as usize] as usize
    }

    #[cold]
    fn init(&mut self) {
        self.tables.push(HashTable::new());
        self.ranges.push(Range { lo: 0, depth: 0 });
        self.dir = vec![0, 0];
        self.shift = 63;
    }

    fn can_split(&self, si: usize) -> bool {
        let depth = self.ranges[si].depth;
        if depth >= MAX_DEPTH {
            return false;
        }
        depth < self.global_depth()
            || self.dir.len() < DIR_MIN_CAP.max(self.tables.len().saturating_mul(DIR_PER_SEGMENT))
    }

    /// Splits segment `si` by its next hash bit: entries with that bit set move to a new segment.
    ///
    /// Both halves go to fresh tables sized for `segment_max` entries. Splitting in place would
    /// leave tombstones behind in the lower half, which would soon make hashbrown grow it to twice
    /// the buckets: a second O(segment) pause and wasted memory.
    #[cold]
    #[inline(never)]
    fn split(&mut self, si: usize) {
        let depth = self.ranges[si].depth;
        if depth == self.global_depth() {
            self.double_dir();
        }
        let bit = 1u64 << (63 - depth);
        let old = std::mem::take(&mut self.tables[si]);
        let upper = old.iter().filter(|e| e.key_hash() & bit != 0).count();
        let table_for = |n: usize| {
            if n == 0 {
                HashTable::new()
            } else {
                HashTable::with_capacity(self.segment_max.max(n))
            }
        };
        let mut low = table_for(old.len() - upper);
        let mut high = table_for(upper);
        for e in old {
            let h = e.key_hash();
            let half = if h & bit != 0 { &mut high } else { &mut low };
            half.insert_unique(remix(h), e, rehash);
        }
        self.tables[si] = low;
        self.ranges[si].depth = depth + 1;
        let new_lo = self.ranges[si].lo | bit;
        let new_si = self.tables.len();
        self.tables.push(high);
        self.ranges.push(Range {
            lo: new_lo,
            depth: depth + 1,
        });
        let start = (new_lo >> self.shift) as usize;
        let n = 1usize << (self.global_depth() - depth - 1);
        self.dir[start..start + n].fill(new_si as u32);
    }

    fn double_dir(&mut self) {
        let mut dir = Vec::with_capacity(self.dir.len() * 2);
        for &s in &self.dir {
            dir.push(s);
            dir.push(s);
        }
        self.dir = dir;
        self.shift -= 1;
    }

    /// Removes the entry with this key and returns it.
    #[inline]
    pub fn remove(&mut self, hash: u64, key: &[u8]) -> Option<T> {
        let si = self.seg_index(hash)?;
        let quarter = self.segment_max / 4;
        let table = self.table_at_mut(si);
        let Ok(o) = table.find_entry(remix(hash), |e| e.key() == key) else {
            return None;
        };
        let (value, _) = o.remove();
        let small = table.len() < quarter;
        self.len -= 1;
        if small {
            self.after_shrink(si);
        }
        Some(value)
    }

    /// Segment `si` became small: merge it with its buddy, or at least shrink its table.
    #[cold]
    #[inline(never)]
    fn after_shrink(&mut self, si: usize) {
        let mut si = si;
        // Cascade: the merged segment may in turn be mergeable with its own buddy (e.g. an
        // emptied sibling whose buddy subtree has only now collapsed).
        while let Some(merged) = self.try_merge(si) {
            si = merged;
        }
        let table = &mut self.tables[si];
        let cap = table.capacity();
        if cap > 64 && table.len() * 4 < cap {
            table.shrink_to(table.len() * 2, rehash);
        }
    }

    /// Merges segment `si` with its buddy if both have the same depth and together hold fewer
    /// than `segment_max / 4` entries. Returns the merged segment's index.
    fn try_merge(&mut self, si: usize) -> Option<usize> {
        let Range { lo, depth } = self.ranges[si];
        if depth == 0 {
            return None;
        }
        let bit = 1u64 << (64 - depth);
        let merged_lo = lo & !bit;
        let bi = self.dir[((lo ^ bit) >> self.shift) as usize] as usize;
        let (len, buddy_len) = (self.tables[si].len(), self.tables[bi].len());
        if self.ranges[bi].depth != depth || len + buddy_len >= self.segment_max / 4 {
            return None;
        }
        // Keep the fuller table; move the other's entries into it.
        let (mut keep, gone) = if len >= buddy_len { (si, bi) } else { (bi, si) };
        let from = std::mem::take(&mut self.tables[gone]);
        let into = &mut self.tables[keep];
        into.reserve(from.len(), rehash);
        for e in from {
            let h = e.key_hash();
            into.insert_unique(remix(h), e, rehash);
        }
        self.ranges[keep] = Range {
            lo: merged_lo,
            depth: depth - 1,
        };
        let start = (merged_lo >> self.shift) as usize;
        let n = 1usize << (self.global_depth() - depth + 1);
        self.dir[start..start + n].fill(keep as u32);
        // Drop the emptied segment; the last segment takes its index.
        let last = self.tables.len() - 1;
        self.tables.swap_remove(gone);
        self.ranges.swap_remove(gone);
        if gone != last {
            if keep == last {
                keep = gone;
            }
            let moved = self.ranges[gone];
            let start = (moved.lo >> self.shift) as usize;
            let n = 1usize << (self.global_depth() - moved.depth);
            self.dir[start..start + n].fill(gone as u32);
        }
        self.maybe_halve_dir();
        Some(keep)
    }

    fn maybe_halve_dir(&mut self) {
        while self.global_depth() > 1 && self.ranges.iter().all(|r| r.depth < self.global_depth()) {
            let dir: Vec<u32> = self.dir.iter().step_by(2).copied().collect();
            self.dir = dir;
            self.shift += 1;
        }
        if self.tables.capacity() > 4 * self.tables.len() + 16 {
            self.tables.shrink_to(2 * self.tables.len());
            self.ranges.shrink_to(2 * self.ranges.len());
        }
    }

    /// Removes every entry and frees the structure.
    pub fn clear(&mut self) {
        *self = Self::with_segment_max(self.segment_max);
    }

    /// Moves everything out (O(1)): used by FLUSHDB ASYNC to free on another thread.
    pub fn take(&mut self) -> Table<T> {
        std::mem::replace(self, Self::with_segment_max(self.segment_max))
    }

    /// All entries, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = &T> + '_ {
        self.tables.iter().flat_map(|t| t.iter())
    }

    /// SCAN in hash order. Visits (calls `f` on) every entry whose hash is in `[cursor, next)` and
    /// returns `next`, or 0 when the end of hash space was reached. Aims to visit about `count`
    /// entries (more when several share the cut position, fewer only at the end of the table).
    /// An entry present for a whole scan (0 -> ... -> 0) is visited exactly once, however the
    /// table splits and merges between calls. `next` is a multiple of 256 unless it is 0.
    ///
    /// Cost: a segment that fits entirely in what is left of `count` is visited without hashing;
    /// the segment the step stops in has every key hashed (O(`segment_max`)) to find the cut.
    pub fn scan(&self, cursor: u64, count: usize, mut f: impl FnMut(&T)) -> u64 {
        let mut cursor = cursor & !0xff;
        let mut want = count.max(1);
        let mut found: Vec<(u64, &T)> = Vec::new();
        loop {
            let Some(si) = self.seg_index(cursor) else {
                return 0;
            };
            let table = &self.tables[si];
            if cursor <= self.ranges[si].lo && table.len() <= want {
                // The whole segment fits: no need to hash anything.
                table.iter().for_each(&mut f);
                want -= table.len();
                match self.ranges[si].end() {
                    None => return 0,
                    Some(end) if want == 0 => return end,
                    Some(end) => {
                        cursor = end;
                        continue;
                    }
                }
            }
            found.clear();
            found.extend(
                table
                    .iter()
                    .map(|e| (e.key_hash(), e))
                    .filter(|&(h, _)| h >= cursor),
            );
            if found.len() > want {
                let next = cut_after(&mut found, want - 1, |x| x.0);
                for &(h, e) in &found {
                    if next.is_none_or(|n| h < n) {
                        f(e);
                    }
                }
                return next.unwrap_or(0);
            }
            for &(_, e) in &found {
                f(e);
            }
            want -= found.len();
            match self.ranges[si].end() {
                None => return 0,
                Some(end) if want == 0 => return end,
                Some(end) => cursor = end,
            }
        }
    }

    /// Incremental sweep for active expiry: looks at about `budget` entries starting at position
    /// `cursor` (same cursor space and rules as [`Table::scan`]), calls `expired(&entry)`; entries
    /// for which it returns true are removed and handed to `removed`. Returns the next cursor
    /// (0 = wrapped around).
    ///
    /// Cost: a segment that fits in what is left of the budget is swept without hashing (a pass
    /// over its buckets). Stopping inside a segment means hashing every key in it once to find
    /// the cut, O(`segment_max`) key reads, so budgets of about a segment or more are far cheaper
    /// per entry than budgets of tens.
    pub fn sweep(
        &mut self,
        cursor: u64,
        budget: usize,
        mut expired: impl FnMut(&T) -> bool,
        mut removed: impl FnMut(T),
    ) -> u64 {
        let mut cursor = cursor & !0xff;
        let mut want = budget.max(1);
        loop {
            let Some(si) = self.seg_index(cursor) else {
                return 0;
            };
            let range = self.ranges[si];
            let seg_end = range.end();
            let table = &mut self.tables[si];
            let mut gone = 0usize;
            // Exclusive end of this step's range, whether it is the segment's end, and how many
            // entries the step covered.
            let (limit, at_seg_end, looked) = if cursor <= range.lo && table.len() <= want {
                // The whole segment fits: one pass, no hashing.
                let looked = table.len();
                for e in table.extract_if(|e| expired(e)) {
                    gone += 1;
                    removed(e);
                }
                (seg_end, true, looked)
            } else {
                // One hashing pass finds the cut; `expired` is asked about the entries before it,
                // and those it condemns are remembered by address (nothing moves until they are
                // extracted), so the extraction pass needs no hashing.
                let mut found: Vec<(u64, &T)> = table
                    .iter()
                    .map(|e| (e.key_hash(), e))
                    .filter(|&(h, _)| h >= cursor)
                    .collect();
                let (limit, at_seg_end) = if found.len() > want {
                    (cut_after(&mut found, want - 1, |x| x.0), false)
                } else {
                    (seg_end, true)
                };
                let mut looked = 0usize;
                let mut doomed: Vec<*const T> = Vec::new();
                for &(h, e) in &found {
                    if limit.is_none_or(|l| h < l) {
                        looked += 1;
                        if expired(e) {
                            doomed.push(e as *const T);
                        }
                    }
                }
                drop(found);
                if !doomed.is_empty() {
                    doomed.sort_unstable();
                    let condemned = |e: &mut T| doomed.binary_search(&(&*e as *const T)).is_ok();
                    for e in table.extract_if(condemned) {
                        gone += 1;
                        removed(e);
                    }
                }
                (limit, at_seg_end, looked)
            };
            self.len -= gone;
            if gone > 0 && self.tables[si].len() < self.segment_max / 4 {
                self.after_shrink(si);
            }
            if !at_seg_end {
                return limit.unwrap_or(0);
            }
            want = want.saturating_sub(looked);
            match seg_end {
                None => return 0,
                Some(end) if want == 0 => return end,
                Some(end) => cursor = end,
            }
        }
    }

    /// A uniformly-ish random entry, for RANDOMKEY and eviction sampling. None if empty.
    ///
    /// Picks a segment with probability proportional to its size (by rejection), then an entry
    /// in it by probing hashbrown with random hashes until one lands on a matching tag, which
    /// takes about ten probes at the loads segments run at; small or sparse segments are walked.
    pub fn random(&self, rng: &mut impl rand::Rng) -> Option<&T> {
        if self.len == 0 {
            return None;
        }
        let n = self.tables.len();
        let mut chosen = None;
        for _ in 0..64 {
            let s = &self.tables[rng.gen_range(0..n)];
            if s.len() > rng.gen_range(0..self.segment_max) {
                chosen = Some(s);
                break;
            }
        }
        let seg = match chosen {
            Some(s) => s,
            None => {
                // Very sparse table: take the first non-empty segment from a random start.
                let start = rng.gen_range(0..n);
                (0..n)
                    .map(|i| &self.tables[(start + i) % n])
                    .find(|s| !s.is_empty())?
            }
        };
        let len = seg.len();
        if len >= 64 && len * 8 >= seg.capacity() {
            for _ in 0..256 {
                let mut pick = None;
                // Reservoir-sample the (usually zero or one) entries whose tag matches.
                for (i, e) in seg.iter_hash(rng.gen::<u64>()).enumerate() {
                    if rng.gen_range(0..=i) == 0 {
                        pick = Some(e);
                    }
                }
                if pick.is_some() {
                    return pick;
                }
            }
        }
        seg.iter().nth(rng.gen_range(0..len))
    }

    /// Approximate heap bytes used by the table's own structure: the directory, the segment
    /// array and the segments' hashbrown allocations (which hold the entries inline, so
    /// `size_of::<T>()` per bucket is counted here; whatever the entries own on the heap is not).
    pub fn overhead_bytes(&self) -> usize {
        self.dir.capacity() * std::mem::size_of::<u32>()
            + self.tables.capacity() * std::mem::size_of::<HashTable<T>>()
            + self.ranges.capacity() * std::mem::size_of::<Range>()
            + self
                .tables
                .iter()
                .map(|t| t.allocation_size())
                .sum::<usize>()
    }

    /// Number of directory slots (for tests and introspection).
    #[doc(hidden)]
    pub fn directory_len(&self) -> usize {
        self.dir.len()
    }

    /// Number of segments (for tests and INFO-style introspection).
    #[doc(hidden)]
    pub fn segment_count(&self) -> usize {
        self.tables.len()
    }

    /// Panics unless the structure is consistent: the directory has `2^global_depth` slots,
    /// each segment owns exactly the slots of its hash range, every entry lies in the segment its
    /// hash selects and is found by `get`, and the lengths add up. For tests; O(n).
    #[doc(hidden)]
    pub fn check_invariants(&self) {
        if self.dir.is_empty() {
            assert!(self.tables.is_empty(), "segments without a directory");
            assert!(self.ranges.is_empty(), "segments without a directory");
            assert_eq!(self.len, 0, "entries without a directory");
            return;
        }
        let gd = self.global_depth();
        assert!((1..=MAX_DEPTH).contains(&gd), "global depth {gd}");
        assert_eq!(self.dir.len(), 1usize << gd, "directory size");
        let mut owned = vec![false; self.dir.len()];
        let mut total = 0;
        assert_eq!(self.tables.len(), self.ranges.len(), "tables and ranges");
        for (si, (table, seg)) in self.tables.iter().zip(&self.ranges).enumerate() {
            assert!(seg.depth <= gd, "segment {si} deeper than the directory");
            if seg.depth > 0 {
                assert_eq!(seg.lo & (u64::MAX >> seg.depth), 0, "segment {si} prefix");
            } else {
                assert_eq!(seg.lo, 0, "segment {si} prefix");
            }
            let start = (seg.lo >> self.shift) as usize;
            let n = 1usize << (gd - seg.depth);
            for (slot, &d) in self.dir[start..start + n].iter().enumerate() {
                assert_eq!(
                    d as usize,
                    si,
                    "directory slot {} not segment {si}",
                    start + slot
                );
                assert!(!owned[start + slot], "slot owned twice");
                owned[start + slot] = true;
            }
            for e in table.iter() {
                let h = e.key_hash();
                assert!(
                    h >= seg.lo && seg.end().is_none_or(|end| h < end),
                    "entry outside its segment's range"
                );
                let found = self.get(h, e.key()).map(|f| f as *const T);
                assert_eq!(found, Some(e as *const T), "entry not found by get");
            }
            total += table.len();
        }
        assert!(
            owned.iter().all(|&o| o),
            "directory slot owned by no segment"
        );
        assert!(
            gd == 1 || self.ranges.iter().any(|r| r.depth == gd),
            "directory deeper than every segment: should have been halved"
        );
        assert_eq!(total, self.len, "len");
    }
}

/// Partially sorts `items` so that index `nth` holds the `nth` smallest key, and returns the
/// exclusive end of the step: the first multiple of 256 above that key (`None` = end of hash
/// space). All items with a key below it belong to the step.
fn cut_after<X>(items: &mut [X], nth: usize, key: impl Fn(&X) -> u64) -> Option<u64> {
    let (_, cut, _) = items.select_nth_unstable_by_key(nth, |x| key(x));
    (key(cut) | 0xff).checked_add(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hashes as one segment of one lock shard sees them: top 12 bits fixed (the segment's
    /// prefix), low 8 bits fixed (the shard), the middle random. After `remix`, hashbrown's tag
    /// (top 7 bits) and bucket index (low 12 bits, a 4096-bucket segment) must both spread
    /// evenly; without the remix they would be constant.
    #[test]
    fn remix_spreads_tag_and_bucket_bits() {
        let mut x = 0x1234_5678_9abc_def1u64;
        let mut tags = [0u32; 128];
        let mut buckets = vec![0u32; 4096];
        let n = 4096 * 64;
        for _ in 0..n {
            // xorshift64: a cheap, deterministic source of middle bits.
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let h = (0xabcu64 << 52) | (x & 0x000f_ffff_ffff_ff00) | 0x2a;
            let r = remix(h);
            tags[(r >> 57) as usize] += 1;
            buckets[(r & 4095) as usize] += 1;
        }
        let chi2 = |counts: &[u32]| {
            let expect = n as f64 / counts.len() as f64;
            counts
                .iter()
                .map(|&c| (f64::from(c) - expect).powi(2) / expect)
                .sum::<f64>()
        };
        // For k cells, chi-square has mean k-1 and sd sqrt(2(k-1)); allow ~6 sd.
        let (t, b) = (chi2(&tags), chi2(&buckets));
        assert!(t < 127.0 + 6.0 * (2.0f64 * 127.0).sqrt(), "tag chi2 {t}");
        assert!(
            b < 4095.0 + 6.0 * (2.0f64 * 4095.0).sqrt(),
            "bucket chi2 {b}"
        );
        // And the unmixed hash really is degenerate, so the test can tell.
        let unmixed = (0xabcu64 << 52) | 0x2a;
        assert_eq!(unmixed >> 57, (unmixed | 0x000f_ffff_ffff_ff00) >> 57);
    }

    #[test]
    fn hash_key_is_stable_within_a_process() {
        assert_eq!(hash_key(b"abc"), hash_key(b"abc"));
        assert_ne!(hash_key(b"abc"), hash_key(b"abd"));
        assert_ne!(hash_key(b""), hash_key(b"\0"));
    }

    #[test]
    fn cut_after_rounds_up_to_256() {
        let mut v = vec![0x1234u64, 0x1200, 0x12ff, 0x1300, 0x5];
        // Second smallest is 0x1200: the step covers everything below 0x1300.
        assert_eq!(cut_after(&mut v, 1, |&h| h), Some(0x1300));
        let mut v = vec![u64::MAX - 3, 1];
        assert_eq!(cut_after(&mut v, 1, |&h| h), None);
    }
}
