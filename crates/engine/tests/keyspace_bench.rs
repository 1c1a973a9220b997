//! Micro-measurements of the keyspace's hot paths (lock a shard, look up or upsert, drop
//! the entry), which the memory accounting runs on. Ignored by default; run in release:
//!
//! ```text
//! cargo test -p engine --release --test keyspace_bench -- --ignored --nocapture --test-threads 1
//! ```

use std::hint::black_box;
use std::time::Instant;

use engine::keyspace::{Keyspace, KeyspaceConfig};
use engine::{Entry, Str, Value};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

const KEYS: usize = 1_000_000;
const OPS: usize = 2_000_000;

fn keys() -> Vec<Vec<u8>> {
    (0..KEYS)
        .map(|i| format!("key:{i:012}").into_bytes())
        .collect()
}

fn filled(keys: &[Vec<u8>]) -> Keyspace {
    let ks = Keyspace::new(&KeyspaceConfig::default());
    for k in keys {
        let v = Value::Str(Str::from_bytes(b"value-of-16-byte"));
        ks.lock_key(k).insert(0, Entry::new(k, v), 0);
    }
    ks
}

/// Best of five runs of `f` over `OPS` random keys, in ns per operation.
fn best(keys: &[Vec<u8>], mut f: impl FnMut(&[u8])) -> f64 {
    let mut rng = SmallRng::seed_from_u64(7);
    let order: Vec<usize> = (0..OPS).map(|_| rng.gen_range(0..keys.len())).collect();
    (0..5)
        .map(|_| {
            let t = Instant::now();
            for &i in &order {
                f(&keys[i]);
            }
            t.elapsed().as_nanos() as f64 / OPS as f64
        })
        .fold(f64::INFINITY, f64::min)
}

#[test]
#[ignore]
fn keyspace_hot_paths() {
    let keys = keys();
    let ks = filled(&keys);
    let get = best(&keys, |k| {
        let mut l = ks.lock_key(k);
        black_box(l.get(0, k, 0).map(|e| e.value.heap_bytes()));
    });
    let set = best(&keys, |k| {
        let mut l = ks.lock_key(k);
        let (mut e, inserted) = l.get_or_insert_with(0, k, 0, || {
            Entry::new(k, Value::Str(Str::from_bytes(b"value-of-16-byte")))
        });
        if !inserted {
            if let Value::Str(Str::Bytes { data, .. }) = &mut e.value {
                data.clear();
                data.extend_from_slice(b"other-value-16-b");
            }
        }
    });
    let churn = best(&keys, |k| {
        let mut l = ks.lock_key(k);
        if let Some(e) = l.remove(0, k, 0) {
            l.insert(0, e, 0);
        }
    });
    println!("keyspace, {KEYS} keys: GET {get:.1} ns, SET (overwrite) {set:.1} ns, remove+insert {churn:.1} ns per op");
}

/// What dispatch adds per command when a maxmemory or maxkeys is set: summing the
/// shards' counters, alone and while another thread writes to every shard.
#[test]
#[ignore]
fn limit_check_cost() {
    let keys = keys();
    let ks = filled(&keys);
    let get = best(&keys, |k| {
        let mut l = ks.lock_key(k);
        black_box(l.get(0, k, 0).map(|e| e.value.heap_bytes()));
    });
    let checked = best(&keys, |k| {
        black_box(ks.used_memory());
        let mut l = ks.lock_key(k);
        black_box(l.get(0, k, 0).map(|e| e.value.heap_bytes()));
    });
    let with_writer = |check: bool| {
        let stop = std::sync::atomic::AtomicBool::new(false);
        std::thread::scope(|s| {
            s.spawn(|| {
                let mut i = 0usize;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let k = &keys[i % keys.len()];
                    let mut l = ks.lock_key(k);
                    if let Some(mut e) = l.get_for_write(0, k, 0) {
                        e.value = Value::Str(Str::Int(i as i64));
                    };
                    i += 7919;
                }
            });
            let r = best(&keys, |k| {
                if check {
                    black_box(ks.used_memory());
                }
                let mut l = ks.lock_key(k);
                black_box(l.get(0, k, 0).map(|e| e.value.heap_bytes()));
            });
            stop.store(true, std::sync::atomic::Ordering::Relaxed);
            r
        })
    };
    let (plain, contended) = (with_writer(false), with_writer(true));
    println!(
        "GET {get:.1} ns, with used_memory() {checked:.1} ns; while another thread \
         writes: GET {plain:.1} ns, with used_memory() {contended:.1} ns per op"
    );
}
