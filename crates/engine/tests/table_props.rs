//! Property and model tests for the segmented hash table (`engine::table`).
//!
//! Entries carry the hash the table must use for them (`Keyed::key_hash`), so the same tests
//! run with real hashes, with hashes whose low 8 bits are constant (one lock shard of the
//! keyspace), and with adversarial hashes that share long prefixes or collide outright.

use std::collections::{HashMap, HashSet};

use engine::table::{hash_key, Keyed, Table, SEGMENT_MAX};
use proptest::prelude::*;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum HashMode {
    /// `hash_key` itself.
    Real,
    /// Low 8 bits constant, as in one lock shard of the keyspace.
    ShardLow,
    /// Top 24 bits zero: forces a deep directory and many useless splits at first.
    ShortPrefix,
    /// Only 16 distinct hashes, all with top bits zero: unsplittable segments, heavy collisions.
    Colliding,
}

fn hash_of(mode: HashMode, key: &[u8]) -> u64 {
    let h = hash_key(key);
    match mode {
        HashMode::Real => h,
        HashMode::ShardLow => (h & !0xff) | 0x2a,
        HashMode::ShortPrefix => h >> 24,
        HashMode::Colliding => h & 0xf,
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct E {
    key: Vec<u8>,
    val: u64,
    hash: u64,
}

impl Keyed for E {
    fn key(&self) -> &[u8] {
        &self.key
    }
    fn key_hash(&self) -> u64 {
        self.hash
    }
}

fn key_bytes(k: u32) -> Vec<u8> {
    format!("key:{k}").into_bytes()
}

fn entry(mode: HashMode, k: u32, val: u64) -> E {
    let key = key_bytes(k);
    let hash = hash_of(mode, &key);
    E { key, val, hash }
}

fn mode_strategy() -> impl Strategy<Value = HashMode> {
    prop_oneof![
        Just(HashMode::Real),
        Just(HashMode::ShardLow),
        Just(HashMode::ShortPrefix),
        Just(HashMode::Colliding),
    ]
}

/// Segment sizes: tiny ones make splits, merges and directory changes frequent.
fn segmax_strategy() -> impl Strategy<Value = usize> {
    prop_oneof![Just(3usize), Just(7), Just(14), Just(56), Just(SEGMENT_MAX)]
}

#[derive(Debug, Clone)]
enum Op {
    Insert(u32, u64),
    Get(u32),
    GetMut(u32, u64),
    Remove(u32),
    GetOrInsert(u32, u64),
    /// Insert keys `start..start + n`.
    InsertRange(u32, u32),
    /// Remove keys `start..start + n`.
    RemoveRange(u32, u32),
    Clear,
    Take,
}

const KEYS: u32 = 600;

fn op_strategy() -> impl Strategy<Value = Op> {
    prop_oneof![
        20 => (0..KEYS, any::<u64>()).prop_map(|(k, v)| Op::Insert(k, v)),
        10 => (0..KEYS).prop_map(Op::Get),
        5 => (0..KEYS, any::<u64>()).prop_map(|(k, v)| Op::GetMut(k, v)),
        15 => (0..KEYS).prop_map(Op::Remove),
        10 => (0..KEYS, any::<u64>()).prop_map(|(k, v)| Op::GetOrInsert(k, v)),
        4 => (0..KEYS, 1..300u32).prop_map(|(s, n)| Op::InsertRange(s, n)),
        4 => (0..KEYS, 1..300u32).prop_map(|(s, n)| Op::RemoveRange(s, n)),
        1 => Just(Op::Clear),
        1 => Just(Op::Take),
    ]
}

fn get_val(t: &Table<E>, mode: HashMode, k: u32) -> Option<u64> {
    let key = key_bytes(k);
    t.get(hash_of(mode, &key), &key).map(|e| {
        assert_eq!(e.key, key);
        e.val
    })
}

fn assert_same(t: &Table<E>, model: &HashMap<u32, u64>, mode: HashMode) {
    t.check_invariants();
    assert_eq!(t.len(), model.len());
    assert_eq!(t.is_empty(), model.is_empty());
    for k in 0..KEYS {
        assert_eq!(get_val(t, mode, k), model.get(&k).copied(), "key {k}");
    }
    let mut seen: Vec<u64> = t.iter().map(|e| e.val).collect();
    let mut want: Vec<u64> = model.values().copied().collect();
    seen.sort_unstable();
    want.sort_unstable();
    assert_eq!(seen, want);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn behaves_like_a_hashmap(
        mode in mode_strategy(),
        segmax in segmax_strategy(),
        ops in prop::collection::vec(op_strategy(), 1..200),
    ) {
        let mut t: Table<E> = Table::with_segment_max(segmax);
        let mut model: HashMap<u32, u64> = HashMap::new();
        for (i, op) in ops.iter().enumerate() {
            match *op {
                Op::Insert(k, v) => {
                    let old = t.insert(entry(mode, k, 0).hash, entry(mode, k, v));
                    prop_assert_eq!(old.map(|e| e.val), model.insert(k, v));
                }
                Op::Get(k) => prop_assert_eq!(get_val(&t, mode, k), model.get(&k).copied()),
                Op::GetMut(k, v) => {
                    let key = key_bytes(k);
                    let got = t.get_mut(hash_of(mode, &key), &key).map(|e| {
                        let old = e.val;
                        e.val = v;
                        old
                    });
                    let want = model.get_mut(&k).map(|m| std::mem::replace(m, v));
                    prop_assert_eq!(got, want);
                }
                Op::Remove(k) => {
                    let key = key_bytes(k);
                    let got = t.remove(hash_of(mode, &key), &key).map(|e| e.val);
                    prop_assert_eq!(got, model.remove(&k));
                }
                Op::GetOrInsert(k, v) => {
                    let key = key_bytes(k);
                    let (e, inserted) =
                        t.get_or_insert_with(hash_of(mode, &key), &key, || entry(mode, k, v));
                    let want_inserted = !model.contains_key(&k);
                    let stored = *model.entry(k).or_insert(v);
                    prop_assert_eq!(inserted, want_inserted);
                    prop_assert_eq!(e.val, stored);
                    prop_assert_eq!(&e.key, &key);
                }
                Op::InsertRange(s, n) => {
                    for k in s..(s + n).min(KEYS) {
                        let v = u64::from(k) + 1_000_000;
                        let e = entry(mode, k, v);
                        t.insert(e.hash, e);
                        model.insert(k, v);
                    }
                }
                Op::RemoveRange(s, n) => {
                    for k in s..(s + n).min(KEYS) {
                        let key = key_bytes(k);
                        prop_assert_eq!(
                            t.remove(hash_of(mode, &key), &key).map(|e| e.val),
                            model.remove(&k)
                        );
                    }
                }
                Op::Clear => {
                    t.clear();
                    model.clear();
                    prop_assert_eq!(t.overhead_bytes(), 0);
                }
                Op::Take => {
                    let taken = t.take();
                    prop_assert_eq!(taken.len(), model.len());
                    prop_assert!(t.is_empty());
                    taken.check_invariants();
                    model.clear();
                }
            }
            if i % 16 == 0 {
                t.check_invariants();
            }
        }
        assert_same(&t, &model, mode);
    }
}

/// Grows then shrinks a big table with tiny segments: lots of splits, directory doublings,
/// merges and directory halvings; checks the structure all along and that it shrinks back.
#[test]
fn split_merge_cycle_keeps_invariants() {
    for mode in [HashMode::Real, HashMode::ShardLow, HashMode::ShortPrefix] {
        let mut t: Table<E> = Table::with_segment_max(14);
        let n = 20_000u32;
        for k in 0..n {
            let e = entry(mode, k, u64::from(k));
            assert!(t.insert(e.hash, e).is_none());
            if k % 997 == 0 {
                t.check_invariants();
            }
        }
        t.check_invariants();
        assert_eq!(t.len(), n as usize);
        let grown_segments = t.segment_count();
        if mode == HashMode::ShortPrefix {
            // All hashes lie in 1/2^24 of hash space: the directory cap stops the splitting
            // (the directory may not outgrow 64 slots per segment), segments just get big.
            assert!(t.overhead_bytes() < 64 * 1024 * 1024);
        } else {
            assert!(
                grown_segments > 1000,
                "{mode:?}: only {grown_segments} segments"
            );
        }
        for k in 0..n {
            assert_eq!(get_val(&t, mode, k), Some(u64::from(k)));
        }
        for k in 0..n - 5 {
            let key = key_bytes(k);
            assert_eq!(
                t.remove(hash_of(mode, &key), &key).map(|e| e.val),
                Some(u64::from(k))
            );
            if k % 997 == 0 {
                t.check_invariants();
            }
        }
        t.check_invariants();
        assert_eq!(t.len(), 5);
        assert!(
            t.segment_count() < 50,
            "{mode:?}: {} segments left for 5 entries",
            t.segment_count()
        );
        for k in n - 5..n {
            assert_eq!(get_val(&t, mode, k), Some(u64::from(k)));
        }
        // check_invariants also checks the directory was halved back as far as it can be.
        assert!(
            t.directory_len() <= 1 << 16,
            "{mode:?}: directory of {}",
            t.directory_len()
        );
    }
}

#[test]
fn empty_table_allocates_nothing() {
    let mut t: Table<E> = Table::new();
    assert_eq!(t.overhead_bytes(), 0);
    assert!(t.get(1, b"x").is_none());
    assert!(t.remove(1, b"x").is_none());
    assert_eq!(
        t.scan(0, 10, |_| panic!("visited an entry of an empty table")),
        0
    );
    assert_eq!(t.sweep(0, 10, |_| true, |_| ()), 0);
    assert!(t.random(&mut SmallRng::seed_from_u64(1)).is_none());
    let e = entry(HashMode::Real, 1, 1);
    t.insert(e.hash, e);
    assert!(t.overhead_bytes() > 0);
    t.clear();
    assert_eq!(t.overhead_bytes(), 0);
    t.check_invariants();
}

/// Full scan of `t` with no modification: every entry exactly once, cursors well-formed.
fn full_scan(t: &Table<E>, count: usize) -> Vec<u64> {
    let mut visited = Vec::new();
    let mut cursor = 0u64;
    let mut steps = 0usize;
    loop {
        let before = visited.len();
        let next = t.scan(cursor, count, |e| visited.push(e.val));
        steps += 1;
        if next != 0 {
            // Fewer than `count` only when the end of the table was reached.
            assert!(visited.len() - before >= count, "short step before the end");
        }
        assert!(
            steps <= t.len() + t.segment_count() + 2,
            "scan does not terminate"
        );
        if next == 0 {
            break;
        }
        assert_eq!(next % 256, 0, "cursor {next:#x} not a multiple of 256");
        assert!(next > cursor, "cursor went backwards");
        cursor = next;
    }
    visited
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// With no modification, a full scan visits every entry exactly once, whatever `count`.
    #[test]
    fn scan_without_changes_visits_each_once(
        mode in mode_strategy(),
        segmax in segmax_strategy(),
        n in 0u32..3000,
        count in 1usize..400,
    ) {
        let mut t: Table<E> = Table::with_segment_max(segmax);
        for k in 0..n {
            let e = entry(mode, k, u64::from(k));
            t.insert(e.hash, e);
        }
        let mut visited = full_scan(&t, count);
        visited.sort_unstable();
        let want: Vec<u64> = (0..u64::from(n)).collect();
        prop_assert_eq!(visited, want);
    }

    /// Interleaving scan steps with inserts and removes (which split and merge segments): every
    /// key present for the whole scan is visited, nothing is visited twice, only keys that
    /// existed are visited, and the scan terminates.
    #[test]
    fn scan_survives_splits_and_merges(
        mode in prop_oneof![Just(HashMode::Real), Just(HashMode::ShardLow), Just(HashMode::ShortPrefix)],
        segmax in prop_oneof![Just(3usize), Just(7), Just(14), Just(56)],
        stable_n in 0u32..1500,
        volatile_n in 0u32..1500,
        count in 1usize..200,
        seed in any::<u64>(),
    ) {
        let mut rng = SmallRng::seed_from_u64(seed);
        let mut t: Table<E> = Table::with_segment_max(segmax);
        // Stable keys: 0..stable_n, never touched during the scan.
        for k in 0..stable_n {
            let e = entry(mode, k, u64::from(k));
            t.insert(e.hash, e);
        }
        // Volatile keys: 100_000.., inserted and removed in bursts during the scan.
        let vbase = 100_000u32;
        let mut present: HashSet<u32> = HashSet::new();
        for k in vbase..vbase + volatile_n {
            let e = entry(mode, k, u64::from(k));
            t.insert(e.hash, e);
            present.insert(k);
        }
        let mut ever: HashSet<u32> = present.clone();
        let mut visits: HashMap<u64, u32> = HashMap::new();
        let mut cursor = 0u64;
        let mut steps = 0u32;
        loop {
            let next = t.scan(cursor, count, |e| *visits.entry(e.val).or_default() += 1);
            steps += 1;
            prop_assert!(steps < 100_000, "scan does not terminate");
            if next == 0 {
                break;
            }
            prop_assert_eq!(next % 256, 0);
            prop_assert!(next > cursor);
            cursor = next;
            // A burst of changes: grow a lot (splits) or shrink a lot (merges).
            let burst = rng.gen_range(0..400u32);
            if rng.gen_bool(0.5) {
                for _ in 0..burst {
                    let k = vbase + rng.gen_range(0..4000u32);
                    let e = entry(mode, k, u64::from(k));
                    t.insert(e.hash, e);
                    present.insert(k);
                    ever.insert(k);
                }
            } else {
                let mut victims: Vec<u32> = present.iter().copied().collect();
                victims.sort_unstable();
                for _ in 0..burst.min(victims.len() as u32) {
                    let i = rng.gen_range(0..victims.len());
                    let k = victims.swap_remove(i);
                    let key = key_bytes(k);
                    prop_assert!(t.remove(hash_of(mode, &key), &key).is_some());
                    present.remove(&k);
                }
            }
            if steps & 7 == 0 {
                t.check_invariants();
            }
        }
        for k in 0..stable_n {
            prop_assert_eq!(visits.get(&u64::from(k)).copied(), Some(1), "stable key {} visits", k);
        }
        for (&v, &times) in &visits {
            prop_assert!(times == 1, "key {} visited {} times", v, times);
            let v = v as u32;
            prop_assert!(v < stable_n || ever.contains(&v), "visited a key that never existed");
        }
        t.check_invariants();
    }
}

/// A cursor that is in the middle of a segment, or whose segment has since split or merged,
/// still resumes exactly where the previous step stopped.
#[test]
fn scan_resumes_across_structure_changes() {
    let mode = HashMode::Real;
    let mut t: Table<E> = Table::with_segment_max(7);
    for k in 0..500 {
        let e = entry(mode, k, u64::from(k));
        t.insert(e.hash, e);
    }
    let mut seen = HashSet::new();
    let c1 = t.scan(0, 100, |e| assert!(seen.insert(e.val)));
    assert!(c1 != 0);
    // Everything visited has hash < c1, nothing unvisited has.
    for e in t.iter() {
        assert_eq!(e.hash < c1, seen.contains(&e.val), "hash {:#x}", e.hash);
    }
    // Shrink to a few segments (merges), then continue.
    for k in 0..480 {
        let key = key_bytes(k);
        t.remove(hash_of(mode, &key), &key);
    }
    t.check_invariants();
    let mut cursor = c1;
    let mut rest = HashSet::new();
    while cursor != 0 {
        cursor = t.scan(cursor, 3, |e| assert!(rest.insert(e.val)));
    }
    let want: HashSet<u64> = t.iter().filter(|e| e.hash >= c1).map(|e| e.val).collect();
    assert_eq!(rest, want);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// A full sweep cycle removes exactly the entries the predicate selects, hands each to
    /// `removed` once, and leaves the rest.
    #[test]
    fn sweep_removes_exactly_the_selected(
        mode in mode_strategy(),
        segmax in segmax_strategy(),
        n in 0u32..3000,
        budget in 1usize..500,
        modulus in 1u64..5,
    ) {
        let mut t: Table<E> = Table::with_segment_max(segmax);
        for k in 0..n {
            let e = entry(mode, k, u64::from(k));
            t.insert(e.hash, e);
        }
        let mut asked: HashMap<u64, u32> = HashMap::new();
        let mut removed: Vec<u64> = Vec::new();
        let mut cursor = 0u64;
        let mut steps = 0usize;
        loop {
            cursor = t.sweep(
                cursor,
                budget,
                |e| {
                    *asked.entry(e.val).or_default() += 1;
                    e.val % modulus == 0
                },
                |e| removed.push(e.val),
            );
            steps += 1;
            prop_assert!(steps <= n as usize + 1000, "sweep does not terminate");
            if cursor == 0 {
                break;
            }
            prop_assert_eq!(cursor % 256, 0);
        }
        t.check_invariants();
        // Every entry was looked at exactly once.
        prop_assert_eq!(asked.len(), n as usize);
        prop_assert!(asked.values().all(|&c| c == 1));
        removed.sort_unstable();
        let want: Vec<u64> = (0..u64::from(n)).filter(|v| v % modulus == 0).collect();
        prop_assert_eq!(&removed, &want);
        let mut left: Vec<u64> = t.iter().map(|e| e.val).collect();
        left.sort_unstable();
        let want_left: Vec<u64> = (0..u64::from(n)).filter(|v| v % modulus != 0).collect();
        prop_assert_eq!(left, want_left);
        prop_assert_eq!(t.len(), (n as usize) - want.len());
    }
}

#[test]
fn random_covers_the_table() {
    let mut rng = SmallRng::seed_from_u64(7);
    for (segmax, n) in [(SEGMENT_MAX, 20_000u32), (14, 5_000), (SEGMENT_MAX, 50)] {
        let mut t: Table<E> = Table::with_segment_max(segmax);
        for k in 0..n {
            let e = entry(HashMode::ShardLow, k, u64::from(k));
            t.insert(e.hash, e);
        }
        let samples = n as usize * 10;
        let mut counts: HashMap<u64, usize> = HashMap::new();
        for _ in 0..samples {
            let e = t.random(&mut rng).expect("non-empty table");
            assert!(e.val < u64::from(n));
            *counts.entry(e.val).or_default() += 1;
        }
        // Uniform sampling with mean 10 per key misses ~e^-10 of the keys: essentially none.
        assert!(
            counts.len() as f64 > 0.99 * f64::from(n),
            "segmax {segmax}: only {} of {n} keys seen",
            counts.len()
        );
        let max = counts.values().copied().max().unwrap_or(0);
        assert!(
            max < 60,
            "segmax {segmax}: one key drawn {max} times (mean 10)"
        );
    }
    // Segments of very different sizes: keep only 1 in 10 keys in the lower half of hash space.
    // A sampler that picked segments uniformly would over-draw the sparse half several times.
    let mut t: Table<E> = Table::new();
    for k in 0..60_000u32 {
        let e = entry(HashMode::Real, k, u64::from(k));
        t.insert(e.hash, e);
    }
    for k in 0..60_000u32 {
        let key = key_bytes(k);
        let h = hash_of(HashMode::Real, &key);
        if h >> 63 == 0 && k % 10 != 0 {
            t.remove(h, &key);
        }
    }
    t.check_invariants();
    let low = t.iter().filter(|e| e.hash >> 63 == 0).count() as f64;
    let want = low / t.len() as f64;
    let samples = 200_000;
    let got = (0..samples)
        .filter(|_| t.random(&mut rng).is_some_and(|e| e.hash >> 63 == 0))
        .count() as f64
        / f64::from(samples);
    assert!(
        (got - want).abs() < 0.2 * want,
        "sparse half drawn {got:.3} of the time, holds {want:.3} of the keys"
    );
    // One entry, many segments around it emptied by removals.
    let mut t: Table<E> = Table::with_segment_max(7);
    for k in 0..1000 {
        let e = entry(HashMode::Real, k, u64::from(k));
        t.insert(e.hash, e);
    }
    for k in 1..1000 {
        let key = key_bytes(k);
        t.remove(hash_of(HashMode::Real, &key), &key);
    }
    for _ in 0..100 {
        assert_eq!(t.random(&mut rng).map(|e| e.val), Some(0));
    }
}

/// The hashing pitfall: all hashes of one table share their low 8 bits (the lock shard) and,
/// within a segment, their top bits. If the table handed such hashes to hashbrown unmixed,
/// hashbrown's tags and bucket indices would collapse and lookups would degrade towards linear
/// probing of whole segments. Compare lookup time against keys with unconstrained hashes.
#[test]
fn constant_low_bits_do_not_degrade_lookups() {
    let n = 200_000u32;
    let build = |mode| {
        let mut t: Table<E> = Table::new();
        for k in 0..n {
            let e = entry(mode, k, u64::from(k));
            t.insert(e.hash, e);
        }
        t
    };
    let time_lookups = |t: &Table<E>, mode| {
        let probes: Vec<(u64, Vec<u8>)> = (0..n)
            .map(|k| {
                let key = key_bytes(k);
                (hash_of(mode, &key), key)
            })
            .collect();
        let start = std::time::Instant::now();
        let mut found = 0usize;
        for _ in 0..3 {
            for (h, key) in &probes {
                found += usize::from(t.get(*h, key).is_some());
            }
        }
        assert_eq!(found, 3 * n as usize);
        start.elapsed()
    };
    let real = build(HashMode::Real);
    let shard = build(HashMode::ShardLow);
    shard.check_invariants();
    let mut best = f64::MAX;
    for _ in 0..3 {
        let a = time_lookups(&real, HashMode::Real).as_secs_f64();
        let b = time_lookups(&shard, HashMode::ShardLow).as_secs_f64();
        best = best.min(b / a);
    }
    assert!(
        best < 2.0,
        "constant low bits make lookups {best:.1}x slower"
    );
}
