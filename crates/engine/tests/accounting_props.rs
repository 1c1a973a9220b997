//! Property test: whatever sequence of operations runs, every shard's kept memory and key
//! totals equal a recomputation from its entries, and the lock-free sums agree.

use engine::keyspace::{Keyspace, KeyspaceConfig};
use engine::{Access, Entry, Policy, Str, Value};
use proptest::prelude::*;

#[derive(Clone, Debug)]
enum Op {
    /// Insert or replace (`ttl` 0 = persistent, else expires at `now + ttl`).
    Insert {
        db: usize,
        key: u8,
        len: usize,
        ttl: u64,
    },
    /// SET's path: upsert, overwriting the value of a live key in place.
    Upsert {
        db: usize,
        key: u8,
        len: usize,
    },
    /// APPEND's path: grow the bytes in place (an integer becomes bytes first).
    Append {
        db: usize,
        key: u8,
        len: usize,
    },
    /// INCR's path: the value becomes an integer in place.
    Incr {
        db: usize,
        key: u8,
    },
    Expire {
        db: usize,
        key: u8,
        ttl: u64,
    },
    Remove {
        db: usize,
        key: u8,
    },
    Get {
        db: usize,
        key: u8,
    },
    Tick(u64),
    ActiveExpire,
    Flush {
        db: usize,
    },
    Swap {
        a: usize,
        b: usize,
    },
    Evict {
        policy: usize,
    },
}

const DBS: usize = 3;

fn op() -> impl Strategy<Value = Op> {
    let db = 0..DBS;
    let key = 0u8..40;
    prop_oneof![
        6 => (db.clone(), key.clone(), 0usize..200, prop_oneof![Just(0u64), 1u64..50])
            .prop_map(|(db, key, len, ttl)| Op::Insert { db, key, len, ttl }),
        4 => (db.clone(), key.clone(), 0usize..200).prop_map(|(db, key, len)| Op::Upsert { db, key, len }),
        3 => (db.clone(), key.clone(), 0usize..300).prop_map(|(db, key, len)| Op::Append { db, key, len }),
        2 => (db.clone(), key.clone()).prop_map(|(db, key)| Op::Incr { db, key }),
        2 => (db.clone(), key.clone(), 0u64..50).prop_map(|(db, key, ttl)| Op::Expire { db, key, ttl }),
        3 => (db.clone(), key.clone()).prop_map(|(db, key)| Op::Remove { db, key }),
        3 => (db.clone(), key.clone()).prop_map(|(db, key)| Op::Get { db, key }),
        2 => (1u64..30).prop_map(Op::Tick),
        1 => Just(Op::ActiveExpire),
        1 => db.clone().prop_map(|db| Op::Flush { db }),
        1 => (db.clone(), db).prop_map(|(a, b)| Op::Swap { a, b }),
        2 => (0usize..8).prop_map(|policy| Op::Evict { policy }),
    ]
}

const POLICIES: [Policy; 8] = Policy::ALL;

fn value(len: usize) -> Value {
    Value::Str(Str::from_bytes(&vec![b'v'; len]))
}

fn run(ops: &[Op]) {
    let ks = Keyspace::new(&KeyspaceConfig {
        databases: DBS,
        shards: 4,
    });
    let mut now = 1_000u64;
    for op in ops {
        match *op {
            Op::Insert { db, key, len, ttl } => {
                let k = [key];
                let at = if ttl == 0 { 0 } else { now + ttl };
                ks.lock_key(&k)
                    .insert(db, Entry::new(&k, value(len)).with_expire(at), now);
            }
            Op::Upsert { db, key, len } => {
                let k = [key];
                let mut l = ks.lock_key(&k);
                let (mut e, inserted) =
                    l.get_or_insert_with(db, &k, now, || Entry::new(&k, value(len)));
                if !inserted {
                    e.value = value(len);
                }
            }
            Op::Append { db, key, len } => {
                let k = [key];
                let mut l = ks.lock_key(&k);
                if let Some(mut e) = l.get_for_write(db, &k, now) {
                    if let Value::Str(s) = &mut e.value {
                        s.make_raw().extend(std::iter::repeat_n(b'a', len));
                    }
                };
            }
            Op::Incr { db, key } => {
                let k = [key];
                let mut l = ks.lock_key(&k);
                if let Some(mut e) = l.get_for_write(db, &k, now) {
                    e.value = Value::Str(Str::Int(42));
                };
            }
            Op::Expire { db, key, ttl } => {
                let k = [key];
                let mut l = ks.lock_key(&k);
                if let Some(mut e) = l.get_for_write(db, &k, now) {
                    e.set_expire(if ttl == 0 { 0 } else { now + ttl });
                };
            }
            Op::Remove { db, key } => {
                let k = [key];
                ks.lock_key(&k).remove(db, &k, now);
            }
            Op::Get { db, key } => {
                let k = [key];
                let _ = ks.lock_key(&k).get(db, &k, now).is_some();
            }
            Op::Tick(ms) => now += ms,
            Op::ActiveExpire => {
                ks.active_expire(now, 64);
            }
            Op::Flush { db } => {
                let _ = ks.lock_all().flush(db);
            }
            Op::Swap { a, b } => ks.lock_all().swap_db(a, b),
            Op::Evict { policy } => {
                let clock = Access::for_policy(POLICIES[policy], now, 10, 1);
                let _ = ks.evict_one(POLICIES[policy], 3, &clock, now);
            }
        }
        ks.check_accounting();
    }
    // The lock-free sums against a count from scratch.
    let l = ks.lock_all();
    let (mut bytes, mut keys) = (0u64, 0u64);
    for db in 0..DBS {
        // `for_each` skips expired entries; count them too, as the totals do.
        l.for_each(db, 0, |e| {
            bytes += e.memory_usage() as u64;
            keys += 1;
        });
    }
    drop(l);
    assert_eq!(ks.used_memory(), bytes);
    assert_eq!(ks.key_count(), keys);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]
    #[test]
    fn counters_equal_a_recount(ops in prop::collection::vec(op(), 1..120)) {
        run(&ops);
    }
}
