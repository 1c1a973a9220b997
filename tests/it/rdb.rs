//! RDB snapshots against Debian's redis-server 7.0, both ways: Redis must load what
//! `persistence::save` writes with the same values, TTLs and databases, and
//! `persistence::load` must read what Redis's SAVE writes: every string encoding,
//! expiries, several databases, and lists, hashes, sets and sorted sets in every
//! encoding Redis 7.0 keeps them in (listpack, quicklist, intset, hashtable,
//! skiplist). Streams have their own file, `rdb_streams.rs`.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use engine::types::{Hash, List, Set, ZSet};
use engine::{Entry, Keyspace, KeyspaceConfig, Str, Value};
use miniredis_tests::{raw::RawClient, require_tool, show, RedisServer, Reply};
use persistence::Form;
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
pub(crate) struct TempDir(PathBuf);

impl TempDir {
    pub(crate) fn new(name: &str) -> Self {
        let dir =
            std::env::temp_dir().join(format!("miniredis-tests-rdb-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("creating a temporary directory");
        TempDir(dir)
    }

    pub(crate) fn path(&self) -> &Path {
        &self.0
    }

    pub(crate) fn arg(&self) -> &str {
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
pub(crate) fn check_rdb(file: &Path, keys: usize) {
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

// ---------------------------------------------------------------------------------
// Lists, hashes, sets and sorted sets

/// A value by contents: sets and hashes sorted, scores by their bits.
#[derive(Debug, PartialEq)]
enum Contents {
    List(Vec<Vec<u8>>),
    Set(Vec<Vec<u8>>),
    ZSet(Vec<(Vec<u8>, u64)>),
    Hash(Vec<(Vec<u8>, Vec<u8>)>),
}

fn bulks(f: Frame) -> Vec<Vec<u8>> {
    match f {
        Frame::Array(items) => items
            .into_iter()
            .map(|i| match i {
                Frame::Bulk(b) => b.to_vec(),
                other => panic!("expected a bulk string, got {}", show(&other)),
            })
            .collect(),
        other => panic!("expected an array, got {}", show(&other)),
    }
}

fn score(text: &[u8]) -> f64 {
    std::str::from_utf8(text)
        .ok()
        .and_then(|t| t.parse().ok())
        .unwrap_or_else(|| panic!("bad score {:?}", String::from_utf8_lossy(text)))
}

/// A key's contents as Redis reports them.
fn redis_contents(c: &mut RawClient, key: &[u8]) -> Contents {
    let kind = match call(c, &[b"TYPE", key]) {
        Frame::Simple(t) => t.to_vec(),
        other => panic!("TYPE: {}", show(&other)),
    };
    match &kind[..] {
        b"list" => Contents::List(bulks(call(c, &[b"LRANGE", key, b"0", b"-1"]))),
        b"set" => {
            let mut m = bulks(call(c, &[b"SMEMBERS", key]));
            m.sort();
            Contents::Set(m)
        }
        b"zset" => {
            let flat = bulks(call(c, &[b"ZRANGE", key, b"0", b"-1", b"WITHSCORES"]));
            let mut m: Vec<(Vec<u8>, u64)> = flat
                .chunks_exact(2)
                .map(|p| (p[0].clone(), score(&p[1]).to_bits()))
                .collect();
            m.sort();
            Contents::ZSet(m)
        }
        b"hash" => {
            let flat = bulks(call(c, &[b"HGETALL", key]));
            let mut m: Vec<(Vec<u8>, Vec<u8>)> = flat
                .chunks_exact(2)
                .map(|p| (p[0].clone(), p[1].clone()))
                .collect();
            m.sort();
            Contents::Hash(m)
        }
        other => panic!(
            "{}: unexpected type {}",
            String::from_utf8_lossy(key),
            String::from_utf8_lossy(other)
        ),
    }
}

/// A value's contents as the engine holds it.
fn engine_contents(v: &Value) -> Contents {
    match v {
        Value::List(l) => {
            let mut out = Vec::new();
            l.for_each(|e| out.push(e.to_vec()));
            Contents::List(out)
        }
        Value::Set(s) => {
            let mut out = Vec::new();
            s.for_each(|m| out.push(m.to_vec()));
            out.sort();
            Contents::Set(out)
        }
        Value::ZSet(z) => {
            let mut out = Vec::new();
            z.for_each(|m, s| out.push((m.to_vec(), s.to_bits())));
            out.sort();
            Contents::ZSet(out)
        }
        Value::Hash(h) => {
            let mut out = Vec::new();
            h.for_each(|f, v| out.push((f.to_vec(), v.to_vec())));
            out.sort();
            Contents::Hash(out)
        }
        other => panic!("not a collection: {}", other.type_name()),
    }
}

fn encoding(c: &mut RawClient, key: &[u8]) -> String {
    match call(c, &[b"OBJECT", b"ENCODING", key]) {
        Frame::Bulk(b) => String::from_utf8_lossy(&b).into_owned(),
        other => panic!("OBJECT ENCODING: {}", show(&other)),
    }
}

/// A collection written by one side and checked on the other.
struct Coll {
    db: usize,
    key: &'static str,
    /// The encoding Redis 7.0 keeps it in (with the default thresholds).
    encoding: &'static str,
    /// The command that creates it (without the key), for Redis.
    command: &'static [u8],
    args: Vec<Vec<u8>>,
    ttl: Option<u64>,
}

fn coll(
    db: usize,
    key: &'static str,
    encoding: &'static str,
    command: &'static [u8],
    args: Vec<Vec<u8>>,
) -> Coll {
    Coll {
        db,
        key,
        encoding,
        command,
        args,
        ttl: None,
    }
}

fn texts(items: impl IntoIterator<Item = impl AsRef<[u8]>>) -> Vec<Vec<u8>> {
    items.into_iter().map(|i| i.as_ref().to_vec()).collect()
}

/// Collections in every encoding Redis 7.0 has for them, small and large, with
/// elements in every listpack encoding (integers of each width, short, medium and
/// long strings, binary), scores of every kind.
fn collections() -> Vec<Coll> {
    let ints = [
        "0",
        "1",
        "-1",
        "127",
        "128",
        "-4096",
        "4095",
        "4096",
        "-32768",
        "32768",
        "-8388608",
        "8388608",
        "2147483647",
        "2147483648",
        "-9223372036854775808",
        "9223372036854775807",
    ];
    let mut small_list = texts(ints);
    small_list.extend(texts(["", "a", "007", "+1", "1.5"]));
    small_list.push(b"x\x00\xff\r\n".to_vec());
    small_list.push(vec![b'm'; 100]);
    let long_list: Vec<Vec<u8>> = (0..5000)
        .map(|i| {
            if i % 3 == 0 {
                i.to_string().into_bytes()
            } else {
                format!("element {i} of a long list").into_bytes()
            }
        })
        .collect();
    let mut big_elements = texts(["head"]);
    big_elements.push(noise(20_000, 3));
    big_elements.push(b"tail ".repeat(3000));
    big_elements.push(b"end".to_vec());
    let pairs = |n: usize, f: &dyn Fn(usize) -> (Vec<u8>, Vec<u8>)| -> Vec<Vec<u8>> {
        (0..n)
            .flat_map(|i| {
                let (a, b) = f(i);
                [a, b]
            })
            .collect()
    };
    let mut hash_small = texts(["f", "v", "int", "12", "neg", "-70000", "empty", ""]);
    hash_small.extend(texts(["big-int", "9223372036854775807", "7", "seven"]));
    // (No -0: Redis stores a zero score as 0.)
    let zset_small = texts([
        "1.5",
        "a",
        "2",
        "b",
        "inf",
        "c",
        "-inf",
        "d",
        "0",
        "e",
        "1e300",
        "f",
        "0.1",
        "g",
        "-3",
        "h",
        "4503599627370496",
        "i",
        "5e-324",
        "j",
    ]);
    let mut v = vec![
        coll(0, "list-small", "quicklist", b"RPUSH", small_list),
        coll(0, "list-long", "quicklist", b"RPUSH", long_list),
        coll(0, "list-big-elements", "quicklist", b"RPUSH", big_elements),
        coll(0, "hash-small", "listpack", b"HSET", hash_small),
        coll(
            0,
            "hash-many",
            "hashtable",
            b"HSET",
            // Past hash-max-listpack-entries (512 in Debian's build, 128 upstream).
            pairs(1000, &|i| {
                (format!("field{i}").into_bytes(), i.to_string().into_bytes())
            }),
        ),
        coll(
            0,
            "hash-long-value",
            "hashtable",
            b"HSET",
            texts(["f".as_bytes(), &[b'v'; 100]]),
        ),
        coll(
            0,
            "set-ints",
            "intset",
            b"SADD",
            texts(["3", "-70000", "1", "9223372036854775807"]),
        ),
        coll(
            0,
            "set-many-ints",
            "hashtable",
            b"SADD",
            (0..1000)
                .map(|i| (i * 7).to_string().into_bytes())
                .collect(),
        ),
        coll(
            0,
            "set-strings",
            "hashtable",
            b"SADD",
            texts(["a", "b", "1", ""]),
        ),
        coll(0, "zset-small", "listpack", b"ZADD", zset_small),
        coll(
            0,
            "zset-many",
            "skiplist",
            b"ZADD",
            pairs(200, &|i| {
                (
                    format!("{}", i as f64 / 7.0).into_bytes(),
                    format!("member{i}").into_bytes(),
                )
            }),
        ),
        coll(
            0,
            "zset-long-member",
            "skiplist",
            b"ZADD",
            texts(["1".as_bytes(), &[b'z'; 100]]),
        ),
        coll(
            2,
            "list-db2",
            "quicklist",
            b"RPUSH",
            texts(["in", "db", "2"]),
        ),
        coll(2, "hash-db2", "listpack", b"HSET", texts(["k", "v"])),
    ];
    v[3].ttl = Some(100_000);
    v[4].ttl = Some(3_600_000);
    v[9].ttl = Some(50_000);
    v[12].ttl = Some(200_000);
    v
}

/// Sends a long variadic command in pieces (RPUSH/HSET/SADD/ZADD add up).
fn create(c: &mut RawClient, k: &Coll) {
    let per = if k.command == b"RPUSH" || k.command == b"SADD" {
        500
    } else {
        1000
    };
    for chunk in k.args.chunks(per) {
        let mut args: Vec<&[u8]> = vec![k.command, k.key.as_bytes()];
        args.extend(chunk.iter().map(Vec::as_slice));
        int(c, &args);
    }
}

#[test]
fn miniredis_loads_every_collection_redis_saved() {
    let dir = TempDir::new("collections-from-redis");
    let redis = RedisServer::start_with(&["--dir", dir.arg(), "--dbfilename", "dump.rdb"]);
    let mut c = redis.client();
    // Compressed quicklist nodes are written as LZF blobs: cover them too.
    ok(&mut c, &[b"CONFIG", b"SET", b"list-compress-depth", b"1"]);
    let colls = collections();
    for k in &colls {
        select(&mut c, k.db);
        create(&mut c, k);
        if let Some(t) = k.ttl {
            assert_eq!(
                int(
                    &mut c,
                    &[b"PEXPIRE", k.key.as_bytes(), t.to_string().as_bytes()]
                ),
                1
            );
        }
        assert_eq!(encoding(&mut c, k.key.as_bytes()), k.encoding, "{}", k.key);
    }
    select(&mut c, 0);
    ok(&mut c, &[b"SET", b"a-string", b"too"]);
    ok(&mut c, &[b"SAVE"]);

    let ks = Keyspace::new(&KeyspaceConfig::default());
    let now = now_ms();
    let stats =
        persistence::load(&ks, &dir.path().join("dump.rdb"), now).expect("loading Redis's dump");
    assert!(stats.checksum_verified);
    assert_eq!(stats.keys, colls.len() as u64 + 1);
    assert_eq!(stats.expires, 4);
    for k in &colls {
        select(&mut c, k.db);
        let want = redis_contents(&mut c, k.key.as_bytes());
        let mut l = ks.lock_key(k.key.as_bytes());
        let e = l
            .get(k.db, k.key.as_bytes(), now)
            .unwrap_or_else(|| panic!("{} missing", k.key));
        assert_eq!(engine_contents(&e.value), want, "{}", k.key);
        match k.ttl {
            None => assert_eq!(e.expire_at(), 0, "{} has no TTL", k.key),
            Some(t) => assert_ttl_close(k.key, e.expire_at() as i64 - now as i64, t),
        }
    }
}

/// Builds the collections of [`collections`] in the engine, through the types'
/// construction contract.
fn engine_value(k: &Coll) -> Value {
    match k.command {
        b"RPUSH" => {
            let mut l = List::new();
            k.args.iter().for_each(|a| l.push_back(a));
            Value::List(Box::new(l))
        }
        b"HSET" => {
            let mut h = Hash::new();
            for p in k.args.chunks_exact(2) {
                h.insert(&p[0], &p[1]);
            }
            Value::Hash(h)
        }
        b"SADD" => {
            let mut s = Set::new();
            for m in &k.args {
                s.insert(m);
            }
            Value::Set(s)
        }
        b"ZADD" => {
            let mut z = ZSet::new();
            for p in k.args.chunks_exact(2) {
                z.insert(&p[1], score(&p[0]));
            }
            Value::ZSet(z)
        }
        other => panic!("no such command {}", String::from_utf8_lossy(other)),
    }
}

#[test]
fn redis_loads_every_collection_miniredis_saved() {
    let ks = Keyspace::new(&KeyspaceConfig::default());
    let now = now_ms();
    let colls = collections();
    for k in &colls {
        let at = k.ttl.map_or(0, |t| now + t);
        let entry = Entry::new(k.key.as_bytes(), engine_value(k)).with_expire(at);
        ks.lock_key(k.key.as_bytes()).insert(k.db, entry, now);
    }
    let contents_of = |ks: &Keyspace, k: &Coll| {
        let mut l = ks.lock_key(k.key.as_bytes());
        let e = l
            .get(k.db, k.key.as_bytes(), now)
            .unwrap_or_else(|| panic!("{} missing", k.key));
        (engine_contents(&e.value), e.value.encoding())
    };
    // As the engine holds them, and forced into each form (so the intset and listpack
    // writers are covered whatever encodings the engine reports).
    for form in [Form::Auto, Form::Compact, Form::Generic] {
        let dir = TempDir::new(&format!("collections-to-redis-{form:?}"));
        let file = dir.path().join("from-miniredis.rdb");
        let mut out = std::io::BufWriter::new(std::fs::File::create(&file).expect("creating"));
        let stats =
            persistence::write_rdb_in(&ks, &mut out, now, form).expect("saving the snapshot");
        drop(out);
        assert_eq!(stats.keys, colls.len() as u64);
        check_rdb(&file, colls.len());

        let redis =
            RedisServer::start_with(&["--dir", dir.arg(), "--dbfilename", "from-miniredis.rdb"]);
        let mut c = redis.client();
        for db in [0, 2] {
            select(&mut c, db);
            let want = colls.iter().filter(|k| k.db == db).count() as i64;
            assert_eq!(
                int(&mut c, &[b"DBSIZE"]),
                want,
                "{form:?}: DBSIZE of db {db}"
            );
        }
        for k in &colls {
            select(&mut c, k.db);
            let (ours, our_encoding) = contents_of(&ks, k);
            let got = redis_contents(&mut c, k.key.as_bytes());
            assert_eq!(got, ours, "{form:?}: {}", k.key);
            let pttl = int(&mut c, &[b"PTTL", k.key.as_bytes()]);
            match k.ttl {
                None => assert_eq!(pttl, -1, "{} has no TTL", k.key),
                Some(t) => assert_ttl_close(k.key, pttl, t),
            }
            // In the generic forms Redis picks encodings by its own rules; in the
            // engine's (Auto), it ends up with the same encoding when the engine
            // applies those rules. (Redis converts a listpack with too many entries
            // on load, but keeps one with long elements as it is: such a mismatch
            // is reported, and fails only when the engine agrees with Redis's rules.)
            let theirs = encoding(&mut c, k.key.as_bytes());
            match form {
                Form::Generic => assert_eq!(theirs, k.encoding, "{form:?}: {}", k.key),
                Form::Auto if our_encoding == k.encoding => {
                    assert_eq!(theirs, k.encoding, "{form:?}: {}", k.key)
                }
                _ if theirs != k.encoding => miniredis_tests::note(&format!(
                    "{form:?}: {}: held by the engine as {our_encoding}, Redis's rules say \
                     {}, Redis keeps what it loaded as {theirs}",
                    k.key, k.encoding
                )),
                _ => {}
            }
        }
        // Redis's own write of what it loaded comes back identical.
        ok(&mut c, &[b"SAVE"]);
        let back = Keyspace::new(&KeyspaceConfig::default());
        let loaded = persistence::load(&back, &file, now_ms()).expect("loading Redis's re-save");
        assert_eq!(loaded.keys, colls.len() as u64);
        for k in &colls {
            assert_eq!(
                contents_of(&back, k).0,
                contents_of(&ks, k).0,
                "{form:?}: {}",
                k.key
            );
        }
    }
}

// ---------------------------------------------------------------------------------
// Older encodings

/// An RDB length.
fn rdb_len(n: usize) -> Vec<u8> {
    if n < 64 {
        vec![n as u8]
    } else if n < 16384 {
        vec![0x40 | (n >> 8) as u8, n as u8]
    } else {
        [vec![0x80], (n as u32).to_be_bytes().to_vec()].concat()
    }
}

/// An RDB string, plain.
fn rdb_str(b: &[u8]) -> Vec<u8> {
    [rdb_len(b.len()), b.to_vec()].concat()
}

#[test]
fn older_encodings_load_the_same_in_redis_and_miniredis() {
    // A version-9 file (Redis 6.2) with the encodings of Redis 2.x to 6.2: zipmap,
    // ziplists, ziplist quicklist, intset, text scores. Redis 7.0 loads it with deep
    // sanitization (every ziplist and zipmap checked entry by entry), and must hold
    // exactly what MiniRedis loads.
    let big = vec![b'B'; 300];
    let huge = noise(17_000, 5);
    let items: Vec<Vec<u8>> = texts([
        "a",
        "1",
        "12",
        "13",
        "-1",
        "127",
        "-128",
        "300",
        "-100000",
        "8388608",
        "-2147483648",
        "2147483648",
        "9223372036854775807",
        "-9223372036854775808",
        "",
        "007",
    ])
    .into_iter()
    .chain([big.clone(), huge.clone(), b"y".to_vec()])
    .collect();
    let refs: Vec<&[u8]> = items.iter().map(Vec::as_slice).collect();
    let zl = persistence::ziplist::encode;
    let entries: Vec<(u8, &str, Vec<u8>)> = vec![
        (10, "list-ziplist", rdb_str(&zl(&refs))),
        (
            14,
            "list-quicklist",
            [rdb_len(2), rdb_str(&zl(&refs)), rdb_str(&zl(&[b"q"]))].concat(),
        ),
        (
            13,
            "hash-ziplist",
            rdb_str(&zl(&[b"f", b"1", b"g", &big, b"h", b"-100000", b"", b"e"])),
        ),
        (
            12,
            "zset-ziplist",
            rdb_str(&zl(&[b"a", b"1", b"b", b"2.5", b"c", b"inf", b"d", b"-3"])),
        ),
        (
            9,
            "hash-zipmap",
            rdb_str(&persistence::zipmap::encode(
                &[(b"f", b"v"), (b"g", &big), (&big, b""), (b"n", b"12")],
                2,
            )),
        ),
        (
            11,
            "set-intset",
            rdb_str(&persistence::intset::encode(&[1, -70000, 5, i64::MIN])),
        ),
        (
            3,
            "zset-text-scores",
            [
                rdb_len(4),
                rdb_str(b"a"),
                rdb_str(b"1.5"),
                rdb_str(b"b"),
                vec![254],
                rdb_str(b"c"),
                vec![255],
                rdb_str(&big),
                rdb_str(b"-2.5e-3"),
            ]
            .concat(),
        ),
        (
            1,
            "list-plain",
            [rdb_len(3), rdb_str(b"x"), rdb_str(&huge), rdb_str(b"7")].concat(),
        ),
    ];
    let mut file = b"REDIS0009".to_vec();
    file.extend([0xfe, 0x00]);
    for (code, key, value) in &entries {
        file.push(*code);
        file.extend(rdb_str(key.as_bytes()));
        file.extend(value);
    }
    file.push(0xff);
    let crc = persistence::crc64::crc64(&file);
    file.extend(crc.to_le_bytes());

    let dir = TempDir::new("older-encodings");
    std::fs::write(dir.path().join("old.rdb"), &file).expect("writing the file");
    check_rdb(&dir.path().join("old.rdb"), entries.len());
    let ks = Keyspace::new(&KeyspaceConfig::default());
    let now = now_ms();
    let stats = persistence::load(&ks, &dir.path().join("old.rdb"), now).expect("loading");
    assert_eq!((stats.version, stats.keys), (9, entries.len() as u64));

    let redis = RedisServer::start_with(&[
        "--dir",
        dir.arg(),
        "--dbfilename",
        "old.rdb",
        "--sanitize-dump-payload",
        "yes",
    ]);
    let mut c = redis.client();
    assert_eq!(int(&mut c, &[b"DBSIZE"]), entries.len() as i64);
    for (_, key, _) in &entries {
        let got = redis_contents(&mut c, key.as_bytes());
        let mut l = ks.lock_key(key.as_bytes());
        let e = l.get(0, key.as_bytes(), now).expect("loaded");
        assert_eq!(engine_contents(&e.value), got, "{key}");
    }
}

/// Function libraries in snapshots, both ways: what Redis's SAVE writes (FUNCTION LOAD
/// libraries) reads back as the same codes, and Redis loads a snapshot MiniRedis wrote
/// with libraries and serves their functions.
#[test]
fn function_libraries_in_snapshots_both_ways() {
    let short = b"#!lua name=small\nredis.register_function('small', function() return 'tiny' end)"
        .to_vec();
    let long = format!(
        "#!lua name=big\nredis.register_function('big', function(keys, args) return args[1] end)\n{}",
        "-- padding that compresses well\n".repeat(30)
    )
    .into_bytes();

    let dir = TempDir::new("functions-from-redis");
    let redis = RedisServer::start_with(&["--dir", dir.arg(), "--dbfilename", "dump.rdb"]);
    let mut c = redis.client();
    for code in [&short, &long] {
        call(&mut c, &[b"FUNCTION", b"LOAD", code]);
    }
    ok(&mut c, &[b"SET", b"k", b"v"]);
    ok(&mut c, &[b"SAVE"]);
    drop(c);
    drop(redis);
    let ks = Keyspace::new(&KeyspaceConfig::default());
    let (stats, mut codes) =
        persistence::load_with_functions(&ks, &dir.path().join("dump.rdb"), now_ms())
            .expect("loading Redis's snapshot");
    assert_eq!(stats.keys, 1);
    codes.sort();
    let mut want = vec![short.clone(), long.clone()];
    want.sort();
    assert_eq!(codes, want);

    let dir = TempDir::new("functions-to-redis");
    let file = dir.path().join("from-miniredis.rdb");
    persistence::save_with_functions(&ks, &file, now_ms(), &want).expect("saving");
    check_rdb(&file, 1);
    let redis =
        RedisServer::start_with(&["--dir", dir.arg(), "--dbfilename", "from-miniredis.rdb"]);
    let mut c = redis.client();
    assert_eq!(
        call(&mut c, &[b"FCALL", b"small", b"0"]),
        Frame::Bulk(Bytes::from_static(b"tiny"))
    );
    assert_eq!(
        call(&mut c, &[b"FCALL", b"big", b"0", b"echo"]),
        Frame::Bulk(Bytes::from_static(b"echo"))
    );
    expect_bulk(&mut c, b"k", b"v");
}
