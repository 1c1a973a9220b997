//! RDB snapshots against Debian's redis-server 7.0, both ways: Redis must load what
//! `persistence::save` writes with the same values, TTLs and databases, and
//! `persistence::load` must read what Redis's SAVE writes (every string encoding,
//! expiries, several databases) and refuse other types with a clear error.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use engine::{Entry, Keyspace, KeyspaceConfig, Str, Value};
use miniredis_tests::{raw::RawClient, require_tool, show, RedisServer, Reply};
use persistence::PersistError;
use resp::Frame;

/// How far a TTL read back may be below the one set: the time the test itself takes.
const TTL_SLACK_MS: i64 = 10_000;

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("the clock is after 1970")
        .as_millis() as u64
}

/// A directory of its own for one test's snapshot, removed afterwards.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        let dir =
            std::env::temp_dir().join(format!("miniredis-tests-rdb-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("creating a temporary directory");
        TempDir(dir)
    }

    fn path(&self) -> &Path {
        &self.0
    }

    fn arg(&self) -> &str {
        self.0.to_str().expect("temporary paths are UTF-8")
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn call(c: &mut RawClient, args: &[&[u8]]) -> Frame {
    match c.request(args) {
        Reply::Frame(f) => f,
        other => panic!(
            "{:?}: no reply: {other}",
            args.iter()
                .map(|a| String::from_utf8_lossy(a))
                .collect::<Vec<_>>()
        ),
    }
}

fn ok(c: &mut RawClient, args: &[&[u8]]) {
    let f = call(c, args);
    assert!(
        matches!(&f, Frame::Simple(s) if &s[..] == b"OK"),
        "{:?}: {}",
        String::from_utf8_lossy(args[0]),
        show(&f)
    );
}

fn int(c: &mut RawClient, args: &[&[u8]]) -> i64 {
    match call(c, args) {
        Frame::Integer(n) => n,
        f => panic!(
            "{:?}: expected an integer, got {}",
            String::from_utf8_lossy(args[0]),
            show(&f)
        ),
    }
}

fn select(c: &mut RawClient, db: usize) {
    ok(c, &[b"SELECT", db.to_string().as_bytes()]);
}

/// Bytes that LZF cannot shrink (a xorshift stream).
fn noise(len: usize, seed: u32) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            (x >> 7) as u8
        })
        .collect()
}

/// A key written by one side and checked on the other.
struct Case {
    db: usize,
    key: Vec<u8>,
    value: Vec<u8>,
    /// Milliseconds to live, if the key expires.
    ttl: Option<u64>,
}

fn case(db: usize, key: impl AsRef<[u8]>, value: impl AsRef<[u8]>, ttl: Option<u64>) -> Case {
    Case {
        db,
        key: key.as_ref().to_vec(),
        value: value.as_ref().to_vec(),
        ttl,
    }
}

/// String values in every encoding each side may choose, keys in several databases,
/// some with a TTL.
fn cases() -> Vec<Case> {
    vec![
        case(0, "int8", "7", None),
        case(0, "neg", "-1", None),
        case(0, "zero", "0", None),
        case(0, "int16", "300", None),
        case(0, "int32", "-70000", None),
        case(0, "past-i32", "4294967296", None),
        case(0, "i64-min", i64::MIN.to_string(), None),
        case(0, "i64-max", i64::MAX.to_string(), None),
        case(0, "zero-padded", "007", None),
        case(0, "plus", "+5", None),
        case(0, "empty", "", None),
        case(0, b"bin\x00\xff\r\nkey", b"\x00\x01\xfe\xff\r\n", None),
        case(0, "compressible", "MiniRedis snapshot ".repeat(500), None),
        case(0, "incompressible", noise(3000, 42), None),
        case(0, "12345", "an integer-looking key", None),
        case(1, "ttl", "expires in 100 s", Some(100_000)),
        case(1, "ttl-compressed", "x".repeat(1000), Some(3_600_000)),
        case(3, "db3", "in db 3", None),
        case(3, "db3-int", "-128", Some(50_000)),
        case(15, "last-db", noise(30, 7), None),
    ]
}

fn expect_bulk(c: &mut RawClient, key: &[u8], want: &[u8]) {
    let got = call(c, &[b"GET", key]);
    assert_eq!(
        got,
        Frame::Bulk(Bytes::copy_from_slice(want)),
        "GET {:?}",
        String::from_utf8_lossy(key)
    );
}

fn assert_ttl_close(what: &str, got_ms: i64, set_ms: u64) {
    let set_ms = set_ms as i64;
    assert!(
        got_ms <= set_ms && got_ms > set_ms - TTL_SLACK_MS,
        "{what}: TTL {got_ms} ms, set to {set_ms} ms"
    );
}

/// Redis's own file checker must accept the file and count its keys.
fn check_rdb(file: &Path, keys: usize) {
    let out = std::process::Command::new(require_tool("redis-check-rdb"))
        .arg(file)
        .output()
        .expect("running redis-check-rdb");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "redis-check-rdb failed:\n{text}");
    assert!(text.contains("Checksum OK"), "{text}");
    assert!(text.contains("RDB looks OK!"), "{text}");
    assert!(text.contains(&format!("{keys} keys read")), "{text}");
}

#[test]
fn redis_loads_a_snapshot_miniredis_saved() {
    let dir = TempDir::new("to-redis");
    let ks = Keyspace::new(&KeyspaceConfig::default());
    let now = now_ms();
    let cases = cases();
    for c in &cases {
        let at = c.ttl.map_or(0, |t| now + t);
        let entry = Entry::new(&c.key, Value::Str(Str::from_bytes(&c.value))).with_expire(at);
        ks.lock_key(&c.key).insert(c.db, entry, now);
    }
    // Expired at save time: must not reach Redis.
    let stale = Entry::new(b"stale", Value::Str(Str::from_bytes(b"x"))).with_expire(now - 1);
    ks.lock_key(b"stale").insert(0, stale, now - 10);

    let file = dir.path().join("from-miniredis.rdb");
    let stats = persistence::save(&ks, &file, now).expect("saving the snapshot");
    assert_eq!(stats.keys, cases.len() as u64);
    assert_eq!(stats.skipped_expired, 1);
    let raw_total: usize = cases.iter().map(|c| c.key.len() + c.value.len()).sum();
    assert!(
        (stats.bytes as usize) < raw_total - 8_000,
        "repetitive values must be LZF-compressed: {} bytes for {raw_total} of data",
        stats.bytes
    );

    check_rdb(&file, cases.len());

    // Redis refuses to start on a file it cannot load, and the start fails with its log.
    let redis =
        RedisServer::start_with(&["--dir", dir.arg(), "--dbfilename", "from-miniredis.rdb"]);
    let mut c = redis.client();
    for db in 0..16 {
        select(&mut c, db);
        let want = cases.iter().filter(|k| k.db == db).count() as i64;
        assert_eq!(int(&mut c, &[b"DBSIZE"]), want, "DBSIZE of db {db}");
    }
    for k in &cases {
        select(&mut c, k.db);
        expect_bulk(&mut c, &k.key, &k.value);
        let pttl = int(&mut c, &[b"PTTL", &k.key]);
        match k.ttl {
            None => assert_eq!(pttl, -1, "{:?} has no TTL", String::from_utf8_lossy(&k.key)),
            Some(t) => assert_ttl_close(&String::from_utf8_lossy(&k.key), pttl, t),
        }
    }
    select(&mut c, 0);
    assert_eq!(int(&mut c, &[b"EXISTS", b"stale"]), 0);
}

/// Looks a key up in the loaded keyspace: its value's bytes and its expiry.
fn loaded(ks: &Keyspace, db: usize, key: &[u8], now: u64) -> Option<(Vec<u8>, u64)> {
    let mut l = ks.lock_key(key);
    let e = l.get(db, key, now)?;
    match &e.value {
        Value::Str(s) => Some((s.to_vec(), e.expire_at())),
        other => panic!(
            "{} is a {}, not a string",
            String::from_utf8_lossy(key),
            other.type_name()
        ),
    }
}

#[test]
fn miniredis_loads_a_snapshot_redis_saved() {
    let dir = TempDir::new("from-redis");
    let redis = RedisServer::start_with(&["--dir", dir.arg(), "--dbfilename", "dump.rdb"]);
    let mut c = redis.client();
    // Keep an expired key in memory until SAVE writes it (Redis 7.0 saves such keys;
    // a loading master drops them).
    ok(&mut c, &[b"DEBUG", b"SET-ACTIVE-EXPIRE", b"0"]);
    let cases = cases();
    for k in &cases {
        select(&mut c, k.db);
        ok(&mut c, &[b"SET", &k.key, &k.value]);
        if let Some(t) = k.ttl {
            assert_eq!(
                int(&mut c, &[b"PEXPIRE", &k.key, t.to_string().as_bytes()]),
                1
            );
        }
    }
    // An absolute expiry must come back exactly; one in seconds, to the second.
    let exact_at = now_ms() + 7_200_000;
    select(&mut c, 3);
    ok(&mut c, &[b"SET", b"exact", b"pexpireat"]);
    int(
        &mut c,
        &[b"PEXPIREAT", b"exact", exact_at.to_string().as_bytes()],
    );
    ok(&mut c, &[b"SET", b"secs", b"expire", b"EX", b"500"]);
    ok(&mut c, &[b"SET", b"gone", b"soon", b"PX", b"1"]);
    std::thread::sleep(Duration::from_millis(20));
    ok(&mut c, &[b"SAVE"]);

    let ks = Keyspace::new(&KeyspaceConfig::default());
    let now = now_ms();
    let stats =
        persistence::load(&ks, &dir.path().join("dump.rdb"), now).expect("loading Redis's dump");
    assert_eq!(stats.version, 10);
    assert!(
        stats.checksum_verified,
        "Redis writes a checksum; it must have been checked"
    );
    assert_eq!(stats.keys, cases.len() as u64 + 2);
    assert_eq!(
        stats.skipped_expired, 1,
        "the expired key is in the file and left out"
    );
    for k in &cases {
        let name = String::from_utf8_lossy(&k.key);
        let (value, at) =
            loaded(&ks, k.db, &k.key, now).unwrap_or_else(|| panic!("{name} missing"));
        assert_eq!(value, k.value, "value of {name}");
        let want = Str::from_bytes(&k.value);
        let mut l = ks.lock_key(&k.key);
        let e = l.get(k.db, &k.key, now).expect("present");
        assert_eq!(e.value, Value::Str(want), "{name} is encoded as SET would");
        match k.ttl {
            None => assert_eq!(at, 0, "{name} has no TTL"),
            Some(t) => assert_ttl_close(&name, at as i64 - now as i64, t),
        }
    }
    assert_eq!(
        loaded(&ks, 3, b"exact", now),
        Some((b"pexpireat".to_vec(), exact_at))
    );
    let (_, secs_at) = loaded(&ks, 3, b"secs", now).expect("secs");
    assert_ttl_close("secs", secs_at as i64 - now as i64, 500_000);
    assert_eq!(loaded(&ks, 3, b"gone", now), None);
    let info = ks.db_info();
    for (db, i) in info.iter().enumerate() {
        let extra = if db == 3 { 2 } else { 0 };
        assert_eq!(
            i.keys,
            cases.iter().filter(|k| k.db == db).count() + extra,
            "keys in db {db}"
        );
    }
}

#[test]
fn other_value_types_from_redis_are_refused_by_name() {
    let dir = TempDir::new("types");
    let redis = RedisServer::start_with(&["--dir", dir.arg(), "--dbfilename", "dump.rdb"]);
    let mut c = redis.client();
    let file = dir.path().join("dump.rdb");
    let kinds: [(&[&[u8]], &str); 6] = [
        (
            &[b"RPUSH", b"mylist", b"a", b"b", b"c"],
            "RDB value type 18 (list quicklist 2) is not supported yet (key \"mylist\" in db 0)",
        ),
        (
            &[b"HSET", b"h", b"f", b"v"],
            "RDB value type 16 (hash listpack)",
        ),
        (
            &[b"SADD", b"s", b"1", b"2"],
            "RDB value type 11 (set intset)",
        ),
        (&[b"SADD", b"s", b"a", b"b"], "RDB value type 2 (set)"),
        (
            &[b"ZADD", b"z", b"1", b"m"],
            "RDB value type 17 (sorted set listpack)",
        ),
        (
            &[b"XADD", b"x", b"*", b"f", b"v"],
            "RDB value type 19 (stream listpacks 2)",
        ),
    ];
    for (command, want) in kinds {
        ok(&mut c, &[b"FLUSHALL"]);
        ok(&mut c, &[b"SET", b"a-string", b"fine"]);
        call(&mut c, command);
        ok(&mut c, &[b"SAVE"]);
        let ks = Keyspace::new(&KeyspaceConfig::default());
        match persistence::load(&ks, &file, now_ms()) {
            Err(e @ PersistError::UnsupportedType { .. }) => {
                let msg = e.to_string();
                assert!(msg.contains(want), "got {msg:?}, want {want:?}");
                assert!(msg.ends_with("in db 0)"), "{msg}");
            }
            Err(e) => panic!("{}: wrong error: {e}", String::from_utf8_lossy(command[0])),
            Ok(_) => panic!(
                "{}: a dump with it loaded",
                String::from_utf8_lossy(command[0])
            ),
        }
    }
}
