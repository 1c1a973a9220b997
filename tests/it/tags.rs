//! TAG, a MiniRedis extension (no Redis counterpart, so no differential test): a
//! snapshot with tags is a valid RDB file for Redis's checker and server, and tags
//! come back through a MiniRedis restart; `TAG INVALIDATE` is atomic for concurrent
//! readers; invalidating a watched key fails the watcher's EXEC.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use engine::{Entry, Keyspace, KeyspaceConfig, Str, Value};
use miniredis_tests::subject::test_config;
use miniredis_tests::{show, start_miniredis, RawClient, RedisServer};
use resp::Frame;

use crate::rdb::{check_rdb, TempDir};

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("the clock is after 1970")
        .as_millis() as u64
}

fn connect(addr: SocketAddr) -> RawClient {
    RawClient::connect(addr).expect("connect")
}

fn int(c: &mut RawClient, args: &[&str]) -> i64 {
    match c.call(args) {
        Frame::Integer(n) => n,
        f => panic!("{args:?}: expected an integer, got {}", show(&f)),
    }
}

fn strings(f: Frame) -> Vec<String> {
    match f {
        Frame::Array(items) => items
            .into_iter()
            .map(|i| match i {
                Frame::Bulk(b) => String::from_utf8_lossy(&b).into_owned(),
                other => panic!("not a bulk string: {}", show(&other)),
            })
            .collect(),
        other => panic!("not an array: {}", show(&other)),
    }
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

#[test]
fn redis_accepts_a_snapshot_with_tags_and_miniredis_restores_them() {
    let dir = TempDir::new("tags");
    let ks = Keyspace::new(&KeyspaceConfig::default());
    let now = now_ms();
    let mut l = ks.lock_all();
    for i in 0..3000 {
        let key = format!("page:{i}");
        let e = Entry::new(key.as_bytes(), Value::Str(Str::from_bytes(b"html")));
        l.insert(i % 3, e, now);
        let t = format!("product:{}", i % 11);
        if let Some(mut e) = l.get_for_write(i % 3, key.as_bytes(), now) {
            e.add_tags(&[t.as_bytes(), b"pages"]);
        }
    }
    drop(l);
    let file = dir.path().join("tags.rdb");
    let stats = persistence::save(&ks, &file, now).expect("saving");
    assert_eq!((stats.keys, stats.tagged_keys), (3000, 3000));
    // Redis's checker reads every AUX field, ours included, and accepts the file.
    check_rdb(&file, 3000);
    let redis = RedisServer::start_with(&["--dir", dir.arg(), "--dbfilename", "tags.rdb"]);
    let mut c = redis.client();
    for db in 0..3 {
        c.call(&["SELECT", &db.to_string()]);
        assert_eq!(int(&mut c, &["DBSIZE"]), 1000, "db {db} in Redis");
    }
    drop(c);
    drop(redis);

    // A running MiniRedis that loads the file has the tags back.
    let mini = start_miniredis(test_config());
    let loaded = persistence::load(&mini.instance().ks, &file, now_ms()).expect("loading");
    assert_eq!((loaded.keys, loaded.tagged_keys), (3000, 3000));
    let mut c = connect(mini.addr());
    assert_eq!(int(&mut c, &["TAG", "COUNT", "pages"]), 1000);
    assert_eq!(
        strings(c.call(&["TAG", "GET", "page:3"])),
        ["product:3", "pages"]
    );
    c.call(&["SELECT", "1"]);
    assert_eq!(
        sorted(strings(c.call(&["TAG", "KEYS", "product:1"]))),
        sorted(
            (0..3000)
                .filter(|i| i % 11 == 1 && i % 3 == 1)
                .map(|i| format!("page:{i}"))
                .collect()
        )
    );
    assert_eq!(int(&mut c, &["TAG", "INVALIDATE", "pages"]), 1000);
    assert_eq!(int(&mut c, &["DBSIZE"]), 0);
}

/// Readers never see a tag's keys half invalidated (nor half created: the writer
/// creates them in one transaction). Several readers check, with MGET over every key
/// of the tag (which locks all their shards at once) and TAG COUNT, that the keys are
/// either all there, from the same round, or all gone.
#[test]
fn invalidation_is_atomic_for_concurrent_readers() {
    const KEYS: usize = 64;
    const ROUNDS: u64 = 150;
    let mini = start_miniredis(test_config());
    let addr = mini.addr();
    let names: Vec<String> = (0..KEYS).map(|i| format!("cache:{i}")).collect();
    let done = Arc::new(AtomicBool::new(false));
    let (full, empty) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let readers: Vec<_> = (0..3)
        .map(|_| {
            let names = names.clone();
            let (done, full, empty) = (done.clone(), full.clone(), empty.clone());
            std::thread::spawn(move || {
                let mut c = connect(addr);
                let mut mget: Vec<&str> = vec!["MGET"];
                mget.extend(names.iter().map(String::as_str));
                while !done.load(Ordering::Relaxed) {
                    let values: Vec<Option<Vec<u8>>> = match c.call(&mget) {
                        Frame::Array(items) => items
                            .into_iter()
                            .map(|f| match f {
                                Frame::Bulk(b) => Some(b.to_vec()),
                                _ => None,
                            })
                            .collect(),
                        other => panic!("MGET: {}", show(&other)),
                    };
                    let present = values.iter().filter(|v| v.is_some()).count();
                    assert!(
                        present == 0 || present == KEYS,
                        "a reader saw {present} of {KEYS} keys"
                    );
                    if present == KEYS {
                        assert!(
                            values.windows(2).all(|w| w[0] == w[1]),
                            "values of two rounds at once"
                        );
                        full.fetch_add(1, Ordering::Relaxed);
                    } else {
                        empty.fetch_add(1, Ordering::Relaxed);
                    }
                    let n = int(&mut c, &["TAG", "COUNT", "grp"]);
                    assert!(n == 0 || n == KEYS as i64, "TAG COUNT saw {n}");
                }
            })
        })
        .collect();
    let mut w = connect(addr);
    for round in 0..ROUNDS {
        let value = round.to_string();
        assert!(matches!(w.call(&["MULTI"]), Frame::Simple(_)));
        for k in &names {
            w.call(&["SET", k, &value]);
            w.call(&["TAG", "ADD", k, "grp", "other"]);
        }
        match w.call(&["EXEC"]) {
            Frame::Array(r) => assert_eq!(r.len(), 2 * KEYS),
            other => panic!("EXEC: {}", show(&other)),
        }
        // Give the readers a chance to see the full state.
        std::thread::yield_now();
        assert_eq!(int(&mut w, &["TAG", "INVALIDATE", "grp"]), KEYS as i64);
    }
    done.store(true, Ordering::Relaxed);
    for r in readers {
        r.join().expect("a reader failed");
    }
    assert_eq!(int(&mut w, &["DBSIZE"]), 0);
    assert_eq!(strings(w.call(&["TAG", "LIST"])), Vec::<String>::new());
    let (full, empty) = (full.load(Ordering::Relaxed), empty.load(Ordering::Relaxed));
    assert!(
        full > 0 && empty > 0,
        "the readers saw both states ({full} full, {empty} empty)"
    );
}

/// WATCH: an EXEC fails when a watched key was invalidated, and goes through when the
/// invalidation did not touch it.
#[test]
fn invalidating_a_watched_key_fails_exec() {
    let mini = start_miniredis(test_config());
    let mut a = connect(mini.addr());
    let mut b = connect(mini.addr());
    for (k, t) in [("x", "tx"), ("y", "ty")] {
        a.call(&["SET", k, "1"]);
        int(&mut a, &["TAG", "ADD", k, t]);
    }
    a.call(&["WATCH", "x"]);
    assert_eq!(int(&mut b, &["TAG", "INVALIDATE", "ty"]), 1);
    a.call(&["MULTI"]);
    a.call(&["SET", "z", "1"]);
    assert!(
        matches!(a.call(&["EXEC"]), Frame::Array(_)),
        "another key's invalidation leaves the watch alone"
    );
    a.call(&["WATCH", "x"]);
    assert_eq!(int(&mut b, &["TAG", "INVALIDATE", "tx"]), 1);
    a.call(&["MULTI"]);
    a.call(&["SET", "z", "2"]);
    let r = a.call(&["EXEC"]);
    assert!(
        matches!(r, Frame::NullArray | Frame::Null),
        "EXEC after the watched key was invalidated: {}",
        show(&r)
    );
}
