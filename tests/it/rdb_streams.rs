//! Streams in RDB snapshots against Redis 7.0, both ways: Redis's SAVE of streams
//! (several nodes, deleted entries, trims, consumer groups with pending entries and
//! consumers, XSETID metadata, empty streams) loads into MiniRedis with the same
//! entries, IDs, counters, groups, PELs and times; MiniRedis's save passes
//! `redis-check-rdb`, loads into `redis-server` the same way, and Redis's re-save of it
//! loads back identical. States are compared over the wire (RESP3): XRANGE, XINFO
//! STREAM FULL (all entries, with absolute delivery and seen times, which a snapshot
//! carries), XINFO GROUPS (entries-read, lag), XPENDING.

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use miniredis_tests::{
    raw::RawClient, require_tool, show, split_args, start_miniredis, subject::test_config,
    RedisServer, Reply,
};
use resp::Frame;

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("the clock is after 1970")
        .as_millis() as u64
}

struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!(
            "miniredis-tests-rdb-streams-{}-{name}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("creating a temporary directory");
        TempDir(dir)
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

fn call(c: &mut RawClient, line: &str) -> Frame {
    let args = split_args(line).expect("valid command line");
    let refs: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
    match c.request(&refs) {
        Reply::Frame(Frame::Error(e)) => panic!("{line}: {}", String::from_utf8_lossy(&e)),
        Reply::Frame(f) => f,
        other => panic!("{line}: no reply: {other}"),
    }
}

/// Builds the streams the tests snapshot. IDs are explicit; XREADGROUP and XCLAIM set
/// delivery and seen times, which the snapshot then carries as they are.
fn script() -> Vec<String> {
    let mut v: Vec<String> = Vec::new();
    // Several nodes (100 entries each, or fewer when values are long), entries with the
    // master's fields and with others, numbers that listpacks hold as integers.
    for i in 1..=260u64 {
        let f = if i % 7 == 0 { "other" } else { "field" };
        v.push(format!(
            "XADD big {i}-{} {f} value{i} n {}",
            i % 3,
            i * 1000
        ));
    }
    for i in 1..=30u64 {
        v.push(format!(
            "XADD fat {i}-0 body {}",
            "x".repeat(i as usize * 40)
        ));
    }
    // Deleted entries inside nodes, a trimmed head, a whole node deleted.
    v.push("XDEL big 2-2 50-2 101-2 102-0 103-1".into());
    for i in 201..=260u64 {
        v.push(format!("XDEL big {i}-{}", i % 3));
    }
    v.push("XTRIM big MINID 5".into());
    v.push("XTRIM fat MAXLEN 20".into());
    // Consumer groups: pending entries owned by several consumers, one consumer with
    // nothing pending, an entry claimed by another, acknowledged ones, a group with an
    // unknown entries-read, one past the end.
    v.push("XGROUP CREATE big g1 0".into());
    v.push("XREADGROUP GROUP g1 alice COUNT 5 STREAMS big >".into());
    v.push("XREADGROUP GROUP g1 bob COUNT 3 STREAMS big >".into());
    v.push("XACK big g1 5-2 6-0".into());
    v.push("XCLAIM big g1 carol 0 7-1 RETRYCOUNT 4".into());
    v.push("XGROUP CREATECONSUMER big g1 dave".into());
    v.push("XGROUP CREATE big g2 100-0 ENTRIESREAD -1".into());
    v.push("XREADGROUP GROUP g2 erin COUNT 2 STREAMS big >".into());
    v.push("XGROUP CREATE big g3 $".into());
    v.push("XGROUP CREATE fat \"group with spaces\" 0".into());
    v.push("XREADGROUP GROUP \"group with spaces\" 12345 COUNT 4 STREAMS fat >".into());
    // An entry pending after it was deleted from the stream.
    v.push("XDEL fat 11-0".into());
    // Metadata set by hand, an empty stream with a group, a stream emptied by XDEL.
    v.push("XADD meta 3-3 a 1".into());
    v.push("XSETID meta 9-9 ENTRIESADDED 42 MAXDELETEDID 8-8".into());
    v.push("XGROUP CREATE empty g $ MKSTREAM".into());
    v.push("XADD gone 1-1 a 1".into());
    v.push("XDEL gone 1-1".into());
    // Field names and values of every listpack size class.
    v.push(format!(
        "XADD sizes 1-0 a \"\" {} {} -1 -70000 12345678901 {} 0 x",
        "k".repeat(70),
        "v".repeat(5000),
        "w".repeat(300)
    ));
    v
}

const KEYS: &[&str] = &["big", "fat", "meta", "empty", "gone", "sizes"];

/// Removes these keys from every map in a reply.
fn strip(f: Frame, drop: &[&[u8]]) -> Frame {
    match f {
        Frame::Map(pairs) => Frame::Map(
            pairs
                .into_iter()
                .filter(|(k, _)| !matches!(k, Frame::Bulk(b) if drop.contains(&&b[..])))
                .map(|(k, v)| (k, strip(v, drop)))
                .collect(),
        ),
        Frame::Array(items) => Frame::Array(items.into_iter().map(|v| strip(v, drop)).collect()),
        other => other,
    }
}

/// What can be seen of the streams: everything but the radix tree's internal node
/// count (MiniRedis keeps no radix tree). The number of listpack nodes is compared:
/// the loader keeps the file's nodes as they are.
fn state(c: &mut RawClient) -> Vec<(String, Frame)> {
    let mut out = Vec::new();
    out.push(("DBSIZE".into(), call(c, "DBSIZE")));
    for key in KEYS {
        for cmd in [
            format!("TYPE {key}"),
            format!("XLEN {key}"),
            format!("XRANGE {key} - +"),
            format!("XINFO STREAM {key} FULL COUNT 0"),
            format!("XINFO GROUPS {key}"),
        ] {
            let f = strip(call(c, &cmd), &[b"radix-tree-nodes"]);
            out.push((cmd, f));
        }
    }
    for (key, group) in [
        ("big", "g1"),
        ("big", "g2"),
        ("fat", "\"group with spaces\""),
    ] {
        let cmd = format!("XPENDING {key} {group}");
        out.push((cmd.clone(), call(c, &cmd)));
    }
    out
}

fn assert_same(what: &str, want: &[(String, Frame)], got: &[(String, Frame)]) {
    for ((cmd, w), (_, g)) in want.iter().zip(got) {
        assert_eq!(
            w,
            g,
            "{what}: {cmd}\n  redis:     {}\n  miniredis: {}",
            show(w),
            show(g)
        );
    }
    assert_eq!(want.len(), got.len());
}

fn resp3(c: &mut RawClient) {
    call(c, "HELLO 3");
}

/// Redis's own file checker must accept the file.
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
fn miniredis_loads_streams_redis_saved() {
    let dir = TempDir::new("from-redis");
    let redis = RedisServer::start_with(&["--dir", dir.arg(), "--dbfilename", "dump.rdb"]);
    let mut rc = redis.client();
    for line in script() {
        call(&mut rc, &line);
    }
    call(&mut rc, "SAVE");
    let mini = start_miniredis(test_config());
    let stats = persistence::load(&mini.instance().ks, &dir.0.join("dump.rdb"), now_ms())
        .expect("loading Redis's snapshot");
    assert_eq!(stats.keys, KEYS.len() as u64);
    let mut mc = RawClient::connect(mini.addr()).expect("connecting");
    resp3(&mut rc);
    resp3(&mut mc);
    assert_same("Redis's save loaded", &state(&mut rc), &state(&mut mc));
    // The loaded streams go on as Redis's do.
    for line in [
        "XADD big * f v",
        "XADD meta 9-* f v",
        "XREADGROUP GROUP g1 alice COUNT 2 STREAMS big >",
        "XREADGROUP GROUP g2 erin STREAMS big 0",
        "XTRIM big MAXLEN ~ 50",
        "XLEN big",
    ] {
        let (a, b) = (call(&mut rc, line), call(&mut mc, line));
        if !line.starts_with("XADD big *") {
            assert_eq!(show(&a), show(&b), "{line}");
        }
    }
    mini.shutdown();
}

#[test]
fn redis_loads_streams_miniredis_saved() {
    let mini = start_miniredis(test_config());
    let mut mc = RawClient::connect(mini.addr()).expect("connecting");
    for line in script() {
        call(&mut mc, &line);
    }
    let dir = TempDir::new("to-redis");
    let file = dir.0.join("from-miniredis.rdb");
    persistence::save(&mini.instance().ks, &file, now_ms()).expect("saving");
    check_rdb(&file, KEYS.len());
    let redis =
        RedisServer::start_with(&["--dir", dir.arg(), "--dbfilename", "from-miniredis.rdb"]);
    let mut rc = redis.client();
    resp3(&mut rc);
    resp3(&mut mc);
    let ours = state(&mut mc);
    assert_same("MiniRedis's save loaded by Redis", &state(&mut rc), &ours);
    // Redis's re-save of what it loaded comes back the same.
    call(&mut rc, "SAVE");
    let back = start_miniredis(test_config());
    persistence::load(&back.instance().ks, &file, now_ms()).expect("loading Redis's re-save");
    let mut bc = RawClient::connect(back.addr()).expect("connecting");
    resp3(&mut bc);
    assert_same("Redis's re-save loaded back", &ours, &state(&mut bc));
    back.shutdown();
    mini.shutdown();
}

#[test]
fn truncated_stream_values_are_refused() {
    let mini = start_miniredis(test_config());
    let mut mc = RawClient::connect(mini.addr()).expect("connecting");
    call(&mut mc, "XADD s 1-0 a 1");
    call(&mut mc, "XGROUP CREATE s g 0");
    call(&mut mc, "XREADGROUP GROUP g c STREAMS s >");
    let dir = TempDir::new("corrupt");
    let file = dir.0.join("s.rdb");
    persistence::save(&mini.instance().ks, &file, now_ms()).expect("saving");
    let good = std::fs::read(&file).expect("reading");
    // Truncations at every byte of the value fail cleanly (no panic, no load).
    let ks = engine::Keyspace::new(&engine::KeyspaceConfig::default());
    for cut in 20..good.len() - 9 {
        let r = persistence::load_from(&ks, &good[..cut], now_ms());
        assert!(r.is_err(), "a file cut at {cut} of {} loaded", good.len());
    }
    mini.shutdown();
}
