//! The node manager over the wire: real sockets, the `redis` crate as the client.
//! Two databases side by side through their own ports and the front door, every
//! isolation rule tried, the port pool's exhaustion/quarantine/reuse, lifecycle with
//! persistence, supervision, and declared databases.

use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use commands::{Config, Directory, Instance};
use nodes::{
    DatabaseSpec, Limits, LimitsPatch, NodeError, NodeManager, Persistence, PortChoice, Settings,
    Status,
};
use redis::{Commands, Connection, RedisResult, Value};
use server::{IoPool, Listener};

static NEXT: AtomicU32 = AtomicU32::new(0);

fn temp_dir() -> PathBuf {
    let d = std::env::temp_dir().join(format!(
        "miniredis-nodes-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&d);
    d
}

use nodes::testing::free_range;

/// A manager with its own pool, data dir and port range, plus a front door.
struct Platform {
    mgr: Arc<NodeManager>,
    pool: Arc<IoPool>,
    front: Option<Listener>,
    dir: PathBuf,
    range: (u16, u16),
}

impl Platform {
    fn start(ports: u16, tweak: impl FnOnce(&mut Settings)) -> Platform {
        let dir = temp_dir();
        let range = free_range(ports);
        Self::start_in(dir, range, tweak)
    }

    fn start_in(dir: PathBuf, range: (u16, u16), tweak: impl FnOnce(&mut Settings)) -> Platform {
        let mut settings = Settings {
            port_start: range.0,
            port_end: range.1,
            data_dir: dir.clone(),
            port_quarantine: Duration::from_millis(500),
            health_interval: Duration::from_millis(200),
            backoff_min: Duration::from_millis(100),
            backoff_max: Duration::from_millis(400),
            ..Settings::default()
        };
        tweak(&mut settings);
        let pool = IoPool::new(2).expect("pool");
        let mgr = NodeManager::open(settings, pool.clone()).expect("manager");
        let l = TcpListener::bind("127.0.0.1:0").expect("front door");
        let door = Instance::front_door(
            Config {
                tenant: true,
                ..Config::default()
            },
            mgr.clone() as Arc<dyn Directory>,
        );
        let front = Some(pool.listen(l, door).expect("listen"));
        Platform {
            mgr,
            pool,
            front,
            dir,
            range,
        }
    }

    fn front(&self) -> SocketAddr {
        self.front.as_ref().map(|l| l.addr()).expect("front door")
    }

    /// Stops everything in order (snapshots saved), keeping the data dir.
    fn stop(mut self) -> PathBuf {
        if let Some(l) = self.front.take() {
            l.close();
        }
        self.mgr.shutdown();
        self.pool.shutdown();
        std::mem::take(&mut self.dir)
    }
}

impl Drop for Platform {
    fn drop(&mut self) {
        if let Some(l) = self.front.take() {
            l.close();
        }
        self.mgr.shutdown();
        self.pool.shutdown();
        if !self.dir.as_os_str().is_empty() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

fn url(port: u16, user: Option<&str>, pass: Option<&str>) -> String {
    match (user, pass) {
        (Some(u), Some(p)) => format!("redis://{u}:{p}@127.0.0.1:{port}/"),
        (None, Some(p)) => format!("redis://:{p}@127.0.0.1:{port}/"),
        _ => format!("redis://127.0.0.1:{port}/"),
    }
}

fn conn(port: u16, user: Option<&str>, pass: Option<&str>) -> Connection {
    redis::Client::open(url(port, user, pass))
        .and_then(|c| c.get_connection_with_timeout(Duration::from_secs(5)))
        .unwrap_or_else(|e| panic!("connect to {port} as {user:?}: {e}"))
}

fn cmd(c: &mut Connection, args: &[&str]) -> RedisResult<Value> {
    let mut k = redis::cmd(args[0]);
    for a in &args[1..] {
        k.arg(*a);
    }
    k.query(c)
}

fn err_text(r: RedisResult<Value>) -> String {
    match r {
        Err(e) => e.to_string(),
        Ok(v) => panic!("expected an error, got {v:?}"),
    }
}

fn two(p: &Platform) -> (u16, u16) {
    let a = p
        .mgr
        .create(DatabaseSpec::new("alpha").password("pa"))
        .expect("alpha");
    let b = p
        .mgr
        .create(DatabaseSpec::new("beta").password("pb"))
        .expect("beta");
    (a.port.expect("port"), b.port.expect("port"))
}

#[test]
fn two_databases_side_by_side_through_ports_and_front_door() {
    let p = Platform::start(4, |_| {});
    let (pa, pb) = two(&p);
    assert_ne!(pa, pb);
    assert!((p.range.0..=p.range.1).contains(&pa));
    let front = p.front().port();

    let mut a = conn(pa, None, Some("pa"));
    let mut b = conn(pb, Some("beta"), Some("pb"));
    let _: () = a.set("k", "from-alpha").expect("set");
    let _: () = b.set("k", "from-beta").expect("set");
    // Same database through the front door, with the database as the user.
    let mut fa = conn(front, Some("alpha"), Some("pa"));
    let mut fb = conn(front, Some("beta"), Some("pb"));
    assert_eq!(fa.get::<_, String>("k").expect("get"), "from-alpha");
    assert_eq!(fb.get::<_, String>("k").expect("get"), "from-beta");
    let _: () = fb.set("only-b", 1).expect("set");
    assert!(!a.exists::<_, bool>("only-b").expect("exists"));
    assert!(b.exists::<_, bool>("only-b").expect("exists"));

    // HELLO 3 AUTH on the front door.
    let mut raw = conn(front, None, None);
    let hello = cmd(&mut raw, &["HELLO", "3", "AUTH", "alpha", "pa"]).expect("hello");
    let Value::Map(fields) = &hello else {
        panic!("{hello:?}")
    };
    let hello_id = fields
        .iter()
        .find(|(k, _)| *k == Value::BulkString(b"id".to_vec()))
        .map(|(_, v)| v.clone())
        .expect("id");
    // The id HELLO reports is the one the connection has in the database.
    assert_eq!(cmd(&mut raw, &["CLIENT", "ID"]).expect("id"), hello_id);
    assert_eq!(
        cmd(&mut raw, &["GET", "k"]).expect("get"),
        Value::BulkString(b"from-alpha".to_vec())
    );
    // Each database reports itself as its own server.
    let info: String = redis::cmd("INFO")
        .arg("keyspace")
        .query(&mut b)
        .expect("info");
    assert!(info.contains("db0:keys=2,"), "{info}");
    let info: String = redis::cmd("INFO")
        .arg("keyspace")
        .query(&mut a)
        .expect("info");
    assert!(info.contains("db0:keys=1,"), "{info}");
}

#[test]
fn front_door_before_auth_and_bad_credentials() {
    let p = Platform::start(3, |_| {});
    two(&p);
    let front = p.front().port();
    let mut c = conn(front, None, None);
    assert!(err_text(cmd(&mut c, &["GET", "k"])).contains("NOAUTH"));
    assert!(err_text(cmd(&mut c, &["PING"])).contains("NOAUTH"));
    assert!(err_text(cmd(&mut c, &["HELLO", "3"])).contains("NOAUTH"));
    assert!(err_text(cmd(&mut c, &["AUTH", "pa"])).contains("AUTH <database> <password>"));
    // Wrong password, unknown database, another database's password: one answer.
    for (u, pw) in [
        ("alpha", "pb"),
        ("nosuch", "pa"),
        ("beta", "pa"),
        ("default", "pa"),
    ] {
        let e = err_text(cmd(&mut c, &["AUTH", u, pw]));
        assert!(e.contains("WRONGPASS"), "{u}/{pw}: {e}");
    }
    assert!(err_text(cmd(&mut c, &["GET", "k"])).contains("NOAUTH"));
    // A database's own port does not open another database.
    let pa = p.mgr.info("alpha").expect("info").port.expect("port");
    let mut d = conn(pa, None, None);
    assert!(err_text(cmd(&mut d, &["AUTH", "beta", "pb"])).contains("WRONGPASS"));
    assert!(err_text(cmd(&mut d, &["GET", "k"])).contains("NOAUTH"));
    // RESET on the front door goes back to the unauthenticated front door.
    let mut e = conn(front, Some("alpha"), Some("pa"));
    let _: () = e.set("x", 1).expect("set");
    assert_eq!(
        cmd(&mut e, &["RESET"]).expect("reset"),
        Value::SimpleString("RESET".into())
    );
    assert!(err_text(cmd(&mut e, &["GET", "x"])).contains("NOAUTH"));
    // Re-AUTH as another database moves the connection.
    assert_eq!(
        cmd(&mut e, &["AUTH", "beta", "pb"]).expect("auth"),
        Value::Okay
    );
    assert_eq!(
        cmd(&mut e, &["EXISTS", "x"]).expect("exists"),
        Value::Int(0)
    );
    // A database without a password is not reachable through the front door.
    p.mgr.create(DatabaseSpec::new("open")).expect("open");
    assert!(err_text(cmd(&mut c, &["AUTH", "open", "anything"])).contains("WRONGPASS"));
}

#[test]
fn isolation_rules_are_enforced() {
    let p = Platform::start(2, |_| {});
    let (pa, pb) = two(&p);
    let mut a = conn(pa, None, Some("pa"));
    let mut b = conn(pb, None, Some("pb"));
    for db in 0..16 {
        let _: () = redis::pipe()
            .cmd("SELECT")
            .arg(db)
            .cmd("SET")
            .arg("bkey")
            .arg(db)
            .query(&mut b)
            .expect("fill b");
    }
    let _: () = redis::cmd("SELECT").arg(0).query(&mut b).expect("select");
    let _: () = a.set("akey", 1).expect("set");
    // Read and list: nothing of beta is visible from alpha, in any logical DB.
    for db in 0..16 {
        let _: () = redis::cmd("SELECT").arg(db).query(&mut a).expect("select");
        let keys: Vec<String> = a.keys("*").expect("keys");
        assert!(keys.iter().all(|k| k != "bkey"), "db {db}: {keys:?}");
        assert!(a.get::<_, Option<String>>("bkey").expect("get").is_none());
        let (_, scanned): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(0)
            .arg("COUNT")
            .arg(1000)
            .query(&mut a)
            .expect("scan");
        assert!(!scanned.contains(&"bkey".to_string()));
        assert!(
            cmd(&mut a, &["RANDOMKEY"]).expect("randomkey") != Value::BulkString(b"bkey".to_vec())
        );
    }
    let _: () = redis::cmd("SELECT").arg(0).query(&mut a).expect("select");
    assert!(err_text(cmd(&mut a, &["SELECT", "16"])).contains("out of range"));
    // Change and flush: FLUSHALL, FLUSHDB, SWAPDB stay inside alpha.
    let _: () = redis::cmd("FLUSHALL").query(&mut a).expect("flushall");
    let _: () = redis::cmd("SWAPDB")
        .arg(0)
        .arg(1)
        .query(&mut a)
        .expect("swapdb");
    let _: () = redis::cmd("FLUSHDB").query(&mut a).expect("flushdb");
    let n: u64 = redis::cmd("DBSIZE").query(&mut b).expect("dbsize");
    assert_eq!(n, 1);
    let info: String = redis::cmd("INFO")
        .arg("keyspace")
        .query(&mut b)
        .expect("info");
    assert_eq!(info.matches(":keys=1,").count(), 16, "{info}");
    // Clients: alpha's CLIENT LIST shows only alpha's connections, and cannot kill beta's.
    let b_id: i64 = redis::cmd("CLIENT").arg("ID").query(&mut b).expect("id");
    let b_list: String = redis::cmd("CLIENT")
        .arg("LIST")
        .query(&mut b)
        .expect("list");
    let b_addr = b_list
        .split_whitespace()
        .find_map(|f| f.strip_prefix("addr="))
        .expect("addr")
        .to_string();
    let a_list: String = redis::cmd("CLIENT")
        .arg("LIST")
        .query(&mut a)
        .expect("list");
    assert_eq!(a_list.lines().count(), 1, "{a_list}");
    assert!(!a_list.contains(&b_addr), "{a_list}");
    let killed: i64 = redis::cmd("CLIENT")
        .arg("KILL")
        .arg("ADDR")
        .arg(&b_addr)
        .query(&mut a)
        .unwrap_or(0);
    assert_eq!(killed, 0);
    let _ = cmd(&mut a, &["CLIENT", "KILL", "ID", &b_id.to_string()]);
    let _ = cmd(&mut a, &["CLIENT", "KILL", &b_addr]);
    assert_eq!(
        cmd(&mut b, &["PING"]).expect("b alive"),
        Value::SimpleString("PONG".into())
    );
    // Configuration: the operator's limits and every process-wide setting are protected.
    for (param, value) in [
        ("maxmemory", "1"),
        ("maxmemory-policy", "allkeys-lru"),
        ("maxclients", "1"),
        ("requirepass", "x"),
        ("port", "1"),
        ("dir", "/tmp"),
        ("io-threads", "1"),
        ("hz", "100"),
        ("save", "1 1"),
        ("appendonly", "yes"),
        ("proto-max-bulk-len", "1000"),
    ] {
        let e = err_text(cmd(&mut a, &["CONFIG", "SET", param, value]));
        assert!(e.contains("CONFIG SET failed"), "{param}: {e}");
    }
    // A tenant-owned setting changes only that tenant.
    assert_eq!(
        cmd(&mut a, &["CONFIG", "SET", "slowlog-max-len", "7"]).expect("set"),
        Value::Okay
    );
    let v: Vec<String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg("slowlog-max-len")
        .query(&mut b)
        .expect("get");
    assert_eq!(v[1], "128");
    // Process-wide commands are refused.
    assert!(err_text(cmd(&mut a, &["SHUTDOWN"])).contains("not allowed on a tenant"));
    assert!(err_text(cmd(&mut a, &["SHUTDOWN", "NOSAVE"])).contains("not allowed"));
    assert!(err_text(cmd(&mut a, &["DEBUG", "SLEEP", "1"])).contains("not allowed"));
    assert!(err_text(cmd(&mut a, &["DEBUG", "SET-ACTIVE-EXPIRE", "0"])).contains("not allowed"));
    assert_eq!(
        cmd(&mut b, &["PING"]).expect("b alive"),
        Value::SimpleString("PONG".into())
    );
    assert_eq!(p.mgr.info("beta").expect("info").status, Status::Running);
    // MONITOR, the slow log and ACL users are per database.
    {
        use std::io::{BufRead, BufReader, Write};
        let mut m = std::net::TcpStream::connect(("127.0.0.1", pa)).expect("connect");
        m.set_read_timeout(Some(Duration::from_secs(5)))
            .expect("timeout");
        m.write_all(b"AUTH pa\r\nMONITOR\r\n").expect("write");
        let mut lines = BufReader::new(m.try_clone().expect("clone"));
        let mut line = String::new();
        for _ in 0..2 {
            line.clear();
            lines.read_line(&mut line).expect("read");
            assert_eq!(line, "+OK\r\n");
        }
        let _: () = b.set("beta-secret", "1").expect("set");
        let _: () = a.set("alpha-key", "1").expect("set");
        loop {
            line.clear();
            lines.read_line(&mut line).expect("monitor line");
            assert!(!line.contains("beta"), "alpha's monitor saw {line}");
            if line.contains("alpha-key") {
                break;
            }
        }
    }
    assert_eq!(
        cmd(&mut a, &["CONFIG", "SET", "slowlog-log-slower-than", "0"]).expect("set"),
        Value::Okay
    );
    let _: () = a.set("slow", "1").expect("set");
    let n: i64 = redis::cmd("SLOWLOG").arg("LEN").query(&mut b).expect("len");
    assert_eq!(n, 0);
    assert_eq!(
        cmd(&mut a, &["ACL", "SETUSER", "only-alpha", "on", ">x"]).expect("setuser"),
        Value::Okay
    );
    let users: Vec<String> = redis::cmd("ACL").arg("USERS").query(&mut b).expect("users");
    assert_eq!(users, vec!["default".to_string()]);
    // SAVE is not served yet; when it is, it must be per database (each instance has
    // its own snapshot) and this check turns into its isolation test.
    for c in [&["SAVE"][..], &["BGSAVE"]] {
        let e = err_text(cmd(&mut a, c));
        assert!(e.contains("unknown command"), "{c:?}: {e}");
    }
    pubsub_is_per_database(&p, pa, pb);
    // Stats are per database.
    let ia: String = redis::cmd("INFO").arg("stats").query(&mut a).expect("info");
    let ib: String = redis::cmd("INFO").arg("stats").query(&mut b).expect("info");
    assert_ne!(ia, ib);
}

/// Pub/sub channels are the database's own: beta's subscribers (on its own port and
/// through the front door, to a channel and to the pattern `*`) never hear what alpha
/// publishes, on either path, and PUBSUB in one database does not list the other's.
fn pubsub_is_per_database(p: &Platform, pa: u16, pb: u16) {
    let front = p.front().port();
    let quiet = Some(Duration::from_millis(300));
    let mut b_own = conn(pb, None, Some("pb"));
    let mut b_door = conn(front, Some("beta"), Some("pb"));
    let mut b_pat = conn(pb, None, Some("pb"));
    let mut subs = [b_own.as_pubsub(), b_door.as_pubsub(), b_pat.as_pubsub()];
    subs[0].subscribe("ch").expect("subscribe");
    subs[1].subscribe("ch").expect("subscribe");
    subs[2].psubscribe("*").expect("psubscribe");
    for s in &mut subs {
        s.set_read_timeout(quiet).expect("timeout");
    }
    // Alpha, with a subscriber of its own on another channel.
    let mut a_sub_conn = conn(pa, None, Some("pa"));
    let mut a_sub = a_sub_conn.as_pubsub();
    a_sub.subscribe("alpha-only").expect("subscribe");
    let mut a_own = conn(pa, None, Some("pa"));
    let mut a_door = conn(front, Some("alpha"), Some("pa"));
    for a in [&mut a_own, &mut a_door] {
        assert_eq!(
            cmd(a, &["PUBLISH", "ch", "from-alpha"]).expect("publish"),
            Value::Int(0)
        );
        assert_eq!(
            cmd(a, &["SPUBLISH", "ch", "from-alpha"]).expect("spublish"),
            Value::Int(0)
        );
        assert_eq!(
            cmd(a, &["PUBSUB", "CHANNELS"]).expect("channels"),
            Value::Array(vec![Value::BulkString(b"alpha-only".to_vec())])
        );
        assert_eq!(
            cmd(a, &["PUBSUB", "NUMPAT"]).expect("numpat"),
            Value::Int(0)
        );
        assert_eq!(
            cmd(a, &["PUBSUB", "NUMSUB", "ch"]).expect("numsub"),
            Value::Array(vec![Value::BulkString(b"ch".to_vec()), Value::Int(0)])
        );
    }
    for (i, s) in subs.iter_mut().enumerate() {
        assert!(
            s.get_message().is_err(),
            "beta's subscriber {i} heard something published in alpha"
        );
    }
    // Beta's own view: its channel and pattern, not alpha's channel.
    let mut b = conn(pb, None, Some("pb"));
    assert_eq!(
        cmd(&mut b, &["PUBSUB", "CHANNELS"]).expect("channels"),
        Value::Array(vec![Value::BulkString(b"ch".to_vec())])
    );
    assert_eq!(
        cmd(&mut b, &["PUBSUB", "NUMPAT"]).expect("numpat"),
        Value::Int(1)
    );
    // And beta's own publishes do reach all three (so the silence above means something).
    let mut b_door_pub = conn(front, Some("beta"), Some("pb"));
    assert_eq!(
        cmd(&mut b_door_pub, &["PUBLISH", "ch", "from-beta"]).expect("publish"),
        Value::Int(3)
    );
    for (i, s) in subs.iter_mut().enumerate() {
        s.set_read_timeout(Some(Duration::from_secs(5)))
            .expect("timeout");
        let m = s
            .get_message()
            .unwrap_or_else(|e| panic!("subscriber {i}: {e}"));
        assert_eq!(m.get_channel_name(), "ch");
        assert_eq!(m.get_payload::<String>().expect("payload"), "from-beta");
    }
    a_sub.set_read_timeout(quiet).expect("timeout");
    assert!(a_sub.get_message().is_err(), "alpha heard beta");
}

#[test]
fn port_pool_exhaustion_quarantine_and_reuse() {
    let p = Platform::start(2, |s| s.port_quarantine = Duration::from_millis(700));
    let a = p
        .mgr
        .create(DatabaseSpec::new("a").password("x"))
        .expect("a");
    let _b = p
        .mgr
        .create(DatabaseSpec::new("b").password("x"))
        .expect("b");
    let err = p
        .mgr
        .create(DatabaseSpec::new("c").password("x"))
        .expect_err("exhausted");
    assert!(matches!(err, NodeError::PortsExhausted { .. }), "{err}");
    assert!(
        p.mgr.info("c").is_err(),
        "a failed create leaves nothing behind"
    );
    let cap = p.mgr.capacity();
    assert_eq!((cap.ports.total, cap.ports.used, cap.ports.free), (2, 2, 0));
    // Delete a: its port rests, so c still cannot have it...
    let freed = a.port.expect("port");
    p.mgr.delete("a").expect("delete");
    assert_eq!(p.mgr.capacity().ports.quarantined, 1);
    assert!(p.mgr.create(DatabaseSpec::new("c").password("x")).is_err());
    let asked = p
        .mgr
        .create(
            DatabaseSpec::new("c")
                .password("x")
                .port(PortChoice::Fixed(freed)),
        )
        .expect_err("quarantined");
    assert!(asked.to_string().contains("quarantine"), "{asked}");
    // ...and the old port refuses connections meanwhile.
    assert!(std::net::TcpStream::connect(("127.0.0.1", freed)).is_err());
    std::thread::sleep(Duration::from_millis(800));
    let c = p
        .mgr
        .create(DatabaseSpec::new("c").password("x"))
        .expect("reused");
    assert_eq!(c.port, Some(freed));
    let mut cc = conn(freed, None, Some("x"));
    assert_eq!(
        redis::cmd("DBSIZE").query::<u64>(&mut cc).expect("dbsize"),
        0,
        "a new database starts empty"
    );
    // A database outside the pool on an explicit port, and one with no port at all.
    let (extra, _) = free_range(1);
    let e = p
        .mgr
        .create(
            DatabaseSpec::new("e")
                .password("x")
                .port(PortChoice::Fixed(extra)),
        )
        .expect("explicit");
    assert_eq!(e.port, Some(extra));
    let n = p
        .mgr
        .create(DatabaseSpec::new("n").password("x").port(PortChoice::None))
        .expect("no port");
    assert_eq!(n.port, None);
    // Memory committed: the sum of the databases' limits, against the host's memory.
    p.mgr
        .update_limits(
            "n",
            &LimitsPatch {
                maxmemory: Some(64 << 20),
                ..LimitsPatch::default()
            },
        )
        .expect("limit");
    let cap = p.mgr.capacity();
    assert_eq!(cap.memory_committed, 64 << 20);
    assert_eq!(cap.unlimited_databases, cap.databases - 1);
    assert!(cap.host_memory > cap.memory_committed);
    let mut fnn = conn(p.front().port(), Some("n"), Some("x"));
    let _: () = fnn.set("k", "v").expect("set");
    assert_eq!(p.mgr.info("n").expect("info").keys, 1);
}

#[test]
fn a_port_taken_by_another_program_is_skipped() {
    let (a, b) = free_range(2);
    let squatter = TcpListener::bind(("127.0.0.1", a)).expect("squat");
    let p = Platform::start_in(temp_dir(), (a, b), |_| {});
    let d = p
        .mgr
        .create(DatabaseSpec::new("d").password("x"))
        .expect("create");
    assert_eq!(d.port, Some(b));
    assert_eq!(p.mgr.capacity().ports.skipped, vec![a]);
    let e = p
        .mgr
        .create(
            DatabaseSpec::new("e")
                .password("x")
                .port(PortChoice::Fixed(a)),
        )
        .expect_err("taken");
    assert!(matches!(e, NodeError::PortInUse(..)), "{e}");
    drop(squatter);
}

#[test]
fn stop_start_restart_keep_data_with_persistence() {
    let p = Platform::start(3, |_| {});
    let info = p
        .mgr
        .create(
            DatabaseSpec::new("keep")
                .password("pw")
                .persistence(Persistence::Snapshot),
        )
        .expect("create");
    let mem = p
        .mgr
        .create(DatabaseSpec::new("mem").password("pw"))
        .expect("create");
    let port = info.port.expect("port");
    {
        let mut c = conn(port, None, Some("pw"));
        for i in 0..1000 {
            let _: () = c.set(format!("k{i}"), i).expect("set");
        }
        let _: () = c.set_ex("ttl", "v", 1000).expect("setex");
        let _: () = redis::pipe()
            .cmd("SELECT")
            .arg(5)
            .cmd("SET")
            .arg("in5")
            .arg("five")
            .query(&mut c)
            .expect("db5");
        let mut m = conn(mem.port.expect("port"), None, Some("pw"));
        let _: () = m.set("gone", 1).expect("set");
    }
    let stopped = p.mgr.stop("keep").expect("stop");
    assert_eq!(stopped.status, Status::Stopped);
    assert_eq!(stopped.used_memory, 0, "stop frees the memory");
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err());
    // Front door: the password is right, but the database is stopped.
    let mut f = conn(p.front().port(), None, None);
    assert!(err_text(cmd(&mut f, &["AUTH", "keep", "pw"])).contains("not running"));
    let started = p.mgr.start("keep").expect("start");
    assert_eq!(started.port, Some(port), "same port after start");
    let mut c = conn(port, None, Some("pw"));
    assert_eq!(
        redis::cmd("DBSIZE").query::<u64>(&mut c).expect("dbsize"),
        1001
    );
    assert_eq!(c.get::<_, i64>("k999").expect("get"), 999);
    let ttl: i64 = c.ttl("ttl").expect("ttl");
    assert!((990..=1000).contains(&ttl), "{ttl}");
    let _: () = redis::cmd("SELECT").arg(5).query(&mut c).expect("select");
    assert_eq!(c.get::<_, String>("in5").expect("get"), "five");
    drop(c);
    let r = p.mgr.restart("keep").expect("restart");
    assert_eq!(r.keys, 1002);
    // Without persistence, a restart starts empty.
    let r = p.mgr.restart("mem").expect("restart");
    assert_eq!(r.keys, 0);
    let events = p.mgr.events("keep").expect("events");
    let text: Vec<&str> = events.iter().map(|e| e.message.as_str()).collect();
    for want in [
        "status running -> stopping",
        "status stopping -> stopped",
        "snapshot saved",
        "loaded snapshot",
    ] {
        assert!(
            text.iter().any(|m| m.contains(want)),
            "{want} not in {text:?}"
        );
    }
    // Delete removes the data: a new database of the same name starts empty.
    p.mgr.delete("keep").expect("delete");
    let again = p
        .mgr
        .create(
            DatabaseSpec::new("keep")
                .password("pw")
                .persistence(Persistence::Snapshot),
        )
        .expect("recreate");
    assert_eq!(again.keys, 0);
}

#[test]
fn live_limits_and_password() {
    // No health checks here: their connections would count against maxclients.
    let p = Platform::start(1, |s| s.health_interval = Duration::from_secs(3600));
    let port = p
        .mgr
        .create(DatabaseSpec::new("lim").password("old"))
        .expect("create")
        .port
        .expect("port");
    let mut c = conn(port, None, Some("old"));
    p.mgr
        .update_limits(
            "lim",
            &LimitsPatch {
                maxkeys: Some(3),
                maxclients: Some(2),
                ..LimitsPatch::default()
            },
        )
        .expect("limits");
    for k in ["a", "b", "c"] {
        let _: () = c.set(k, 1).expect("set");
    }
    let e = err_text(cmd(&mut c, &["SET", "d", "1"]));
    assert!(e.contains("max"), "{e}");
    let v: Vec<String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg("maxclients")
        .query(&mut c)
        .expect("get");
    assert_eq!(v[1], "2");
    // Password rotation: the open connection stays, new ones need the new password.
    p.mgr
        .set_password("lim", Some("new".into()))
        .expect("password");
    assert_eq!(
        cmd(&mut c, &["PING"]).expect("ping"),
        Value::SimpleString("PONG".into())
    );
    let mut fresh = conn(port, None, None);
    assert!(err_text(cmd(&mut fresh, &["AUTH", "old"])).contains("WRONGPASS"));
    assert_eq!(
        cmd(&mut fresh, &["AUTH", "new"]).expect("auth"),
        Value::Okay
    );
    // maxclients 2: a third connection is turned away.
    let mut third = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    third
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let mut reply = String::new();
    let _ = std::io::Read::read_to_string(&mut third, &mut reply);
    assert!(reply.contains("max number of clients"), "{reply:?}");
    let _ = Limits::default();
}

#[test]
fn supervision_restarts_a_dead_listener_and_keeps_the_data() {
    let p = Platform::start(1, |_| {});
    let port = p
        .mgr
        .create(DatabaseSpec::new("sup").password("pw"))
        .expect("create")
        .port
        .expect("port");
    let mut c = conn(port, None, Some("pw"));
    let _: () = c.set("survives", "yes").expect("set");
    drop(c);
    let mut through_door = conn(p.front().port(), Some("sup"), Some("pw"));
    p.mgr.kill_listener("sup").expect("kill");
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut saw_failed = false;
    loop {
        let i = p.mgr.info("sup").expect("info");
        saw_failed |= i.status == Status::Failed;
        if saw_failed && i.status == Status::Running {
            assert!(i.restarts >= 1);
            break;
        }
        if i.status == Status::Failed {
            // The front door keeps serving a database whose own listener is down.
            let mut again = conn(p.front().port(), Some("sup"), Some("pw"));
            assert_eq!(again.get::<_, String>("survives").expect("get"), "yes");
        }
        assert!(Instant::now() < deadline, "not recovered: {i:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut c = conn(port, None, Some("pw"));
    assert_eq!(c.get::<_, String>("survives").expect("get"), "yes");
    assert_eq!(
        through_door.get::<_, String>("survives").expect("get"),
        "yes"
    );
    let events = p.mgr.events("sup").expect("events");
    assert!(
        events.iter().any(|e| e.message.contains("recovered")),
        "{events:?}"
    );
}

#[test]
fn failed_persistence_refuses_writes_then_recovers() {
    let p = Platform::start(1, |s| s.snapshot_interval = Duration::from_millis(100));
    let port = p
        .mgr
        .create(
            DatabaseSpec::new("disk")
                .password("pw")
                .persistence(Persistence::Snapshot),
        )
        .expect("create")
        .port
        .expect("port");
    let mut c = conn(port, None, Some("pw"));
    // Make the database's directory unusable: a file where the directory must be.
    let dir = p.dir.join("databases").join("disk");
    std::fs::remove_dir_all(&dir).expect("rm");
    std::fs::write(&dir, b"not a directory").expect("block");
    let _: () = c.set("k", "v").expect("set before the failure");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let r = cmd(&mut c, &["SET", "k2", "v"]);
        if let Err(e) = &r {
            assert!(e.to_string().contains("MISCONF"), "{e}");
            break;
        }
        assert!(Instant::now() < deadline, "writes never refused");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(p.mgr.info("disk").expect("info").status, Status::Failed);
    // Reads still work.
    assert_eq!(c.get::<_, String>("k").expect("get"), "v");
    std::fs::remove_file(&dir).expect("unblock");
    let deadline = Instant::now() + Duration::from_secs(10);
    while p.mgr.info("disk").expect("info").status != Status::Running {
        assert!(Instant::now() < deadline, "never recovered");
        std::thread::sleep(Duration::from_millis(20));
    }
    let _: () = c.set("k3", "v").expect("writes accepted again");
    assert!(dir.join("dump.rdb").exists());
}

#[test]
fn process_restart_restores_running_databases_on_their_ports() {
    let p = Platform::start(3, |_| {});
    let range = p.range;
    let a = p
        .mgr
        .create(
            DatabaseSpec::new("a")
                .password("pa")
                .persistence(Persistence::Snapshot),
        )
        .expect("a");
    let b = p
        .mgr
        .create(DatabaseSpec::new("b").password("pb"))
        .expect("b");
    p.mgr
        .create(DatabaseSpec::new("s").password("ps"))
        .expect("s");
    p.mgr.stop("s").expect("stop s");
    let mut c = conn(a.port.expect("port"), None, Some("pa"));
    let _: () = c.set("kept", "yes").expect("set");
    drop(c);
    let dir = p.stop();
    let p2 = Platform::start_in(dir, range, |_| {});
    let a2 = p2.mgr.info("a").expect("a");
    let b2 = p2.mgr.info("b").expect("b");
    let s2 = p2.mgr.info("s").expect("s");
    assert_eq!((a2.status, a2.port), (Status::Running, a.port));
    assert_eq!((b2.status, b2.port), (Status::Running, b.port));
    assert_eq!(
        s2.status,
        Status::Stopped,
        "a stopped database stays stopped"
    );
    let mut c = conn(a2.port.expect("port"), None, Some("pa"));
    assert_eq!(c.get::<_, String>("kept").expect("get"), "yes");
}

#[test]
fn declared_databases_are_reconciled() {
    let p = Platform::start(4, |_| {});
    p.mgr
        .create(DatabaseSpec::new("manual").password("m"))
        .expect("manual");
    let mut d1 = DatabaseSpec::new("one").password("p1");
    d1.limits.maxkeys = 10;
    let d2 = DatabaseSpec::new("two")
        .password("p2")
        .port(PortChoice::None);
    let changes = p
        .mgr
        .apply_declared(&[d1.clone(), d2.clone()])
        .expect("apply");
    assert_eq!(changes.len(), 2, "{changes:?}");
    // Same declaration again: nothing to do.
    assert!(p
        .mgr
        .apply_declared(&[d1.clone(), d2.clone()])
        .expect("apply")
        .is_empty());
    // Change one, drop two: one is updated live, two deleted, manual untouched.
    d1.password = Some("p1b".into());
    d1.limits.maxkeys = 20;
    let changes = p.mgr.apply_declared(&[d1]).expect("apply");
    assert_eq!(changes.len(), 3, "{changes:?}");
    assert!(p.mgr.info("two").is_err());
    assert!(p.mgr.info("manual").is_ok());
    let one = p.mgr.info("one").expect("one");
    assert_eq!(one.limits.maxkeys, 20);
    let mut c = conn(p.front().port(), Some("one"), Some("p1b"));
    assert_eq!(
        cmd(&mut c, &["PING"]).expect("ping"),
        Value::SimpleString("PONG".into())
    );
    // Declaring the same name twice is an error, and changes nothing.
    let dup = DatabaseSpec::new("x").password("p");
    assert!(p.mgr.apply_declared(&[dup.clone(), dup]).is_err());
    assert!(p.mgr.info("x").is_err());
}

#[test]
fn front_door_connections_move_to_their_database_mid_command() {
    let p = Platform::start(3, |_| {});
    two(&p);
    let front = p.front();
    // Several connections, so some are accepted on a thread that is not alpha's and
    // move after AUTH, with half a command already buffered.
    for i in 0..8 {
        let mut s = std::net::TcpStream::connect(front).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(5)))
            .expect("timeout");
        use std::io::{Read, Write};
        s.write_all(format!("AUTH alpha pa\r\n*3\r\n$3\r\nSET\r\n$2\r\nk{i}").as_bytes())
            .expect("write");
        std::thread::sleep(Duration::from_millis(30));
        s.write_all(b"\r\n$1\r\nv\r\n*2\r\n$3\r\nGET\r\n$2\r\nk")
            .expect("write");
        s.write_all(format!("{i}\r\n").as_bytes()).expect("write");
        let want = b"+OK\r\n+OK\r\n$1\r\nv\r\n";
        let mut got = Vec::new();
        let mut buf = [0u8; 64];
        while got.len() < want.len() {
            let n = s.read(&mut buf).expect("read");
            assert!(n > 0, "closed after {got:?}");
            got.extend_from_slice(&buf[..n]);
        }
        assert_eq!(got, want, "connection {i}");
    }
    let mut a = conn(
        p.mgr.info("alpha").expect("info").port.expect("port"),
        None,
        Some("pa"),
    );
    let n: u64 = redis::cmd("DBSIZE").query(&mut a).expect("dbsize");
    assert_eq!(n, 8);
}

#[test]
fn a_database_can_keep_its_snapshots_in_a_directory_of_its_own() {
    let p = Platform::start(1, |_| {});
    let own = temp_dir();
    std::fs::create_dir_all(&own).expect("dir");
    std::fs::write(own.join("keep-me"), b"operator's file").expect("write");
    let port = p
        .mgr
        .create(
            DatabaseSpec::new("d")
                .password("pw")
                .persistence(Persistence::Snapshot)
                .dir(&own),
        )
        .expect("create")
        .port
        .expect("port");
    let mut c = conn(port, None, Some("pw"));
    let _: () = c.set("k", "v").expect("set");
    let dir: Vec<String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg("dir")
        .query(&mut c)
        .expect("config get");
    assert_eq!(PathBuf::from(&dir[1]), own);
    drop(c);
    p.mgr.stop("d").expect("stop");
    assert!(own.join("dump.rdb").exists());
    p.mgr.start("d").expect("start");
    let mut c = conn(port, None, Some("pw"));
    assert_eq!(c.get::<_, String>("k").expect("get"), "v");
    drop(c);
    p.mgr.delete("d").expect("delete");
    assert!(!own.join("dump.rdb").exists(), "delete removes the data");
    assert!(
        own.join("keep-me").exists(),
        "and nothing else of a named directory"
    );
    let _ = std::fs::remove_dir_all(&own);
}

/// TAG (a MiniRedis extension): tags are per database, survive stop/start, restart and
/// a restart of the whole process with the snapshot, and invalidation works after.
#[test]
fn tags_are_per_database_and_survive_restarts() {
    fn tags(c: &mut Connection, key: &str) -> Vec<String> {
        redis::cmd("TAG")
            .arg("GET")
            .arg(key)
            .query(c)
            .expect("tag get")
    }
    fn keys(c: &mut Connection, tag: &str) -> Vec<String> {
        let mut v: Vec<String> = redis::cmd("TAG")
            .arg("KEYS")
            .arg(tag)
            .query(c)
            .expect("tag keys");
        v.sort();
        v
    }
    let p = Platform::start(3, |_| {});
    let range = p.range;
    let a = p
        .mgr
        .create(
            DatabaseSpec::new("ta")
                .password("pa")
                .persistence(Persistence::Snapshot),
        )
        .expect("ta");
    let b = p
        .mgr
        .create(DatabaseSpec::new("tb").password("pb"))
        .expect("tb");
    let (pa, pb) = (a.port.expect("port"), b.port.expect("port"));
    {
        let mut c = conn(pa, None, Some("pa"));
        for i in 0..200 {
            let _: () = c.set(format!("page:{i}"), i).expect("set");
            let added: i64 = redis::cmd("TAG")
                .arg("ADD")
                .arg(format!("page:{i}"))
                .arg(format!("product:{}", i % 10))
                .arg("pages")
                .query(&mut c)
                .expect("tag add");
            assert_eq!(added, 2);
        }
        let _: () = c.set_ex("short", "v", 1000).expect("setex");
        let _: i64 = redis::cmd("TAG")
            .arg("ADD")
            .arg("short")
            .arg("pages")
            .query(&mut c)
            .expect("tag add");
        let _: () = redis::pipe()
            .cmd("SELECT")
            .arg(3)
            .cmd("SET")
            .arg("in3")
            .arg("x")
            .cmd("TAG")
            .arg("ADD")
            .arg("in3")
            .arg("pages")
            .cmd("SELECT")
            .arg(0)
            .query(&mut c)
            .expect("db3");
        // Another tenant with the same tag name is another world.
        let mut other = conn(pb, None, Some("pb"));
        let _: () = other.set("page:0", "theirs").expect("set");
        let _: i64 = redis::cmd("TAG")
            .arg("ADD")
            .arg("page:0")
            .arg("product:0")
            .query(&mut other)
            .expect("tag add");
        let gone: i64 = redis::cmd("TAG")
            .arg("INVALIDATE")
            .arg("product:0")
            .query(&mut other)
            .expect("invalidate");
        assert_eq!(gone, 1);
        assert_eq!(
            keys(&mut c, "product:0").len(),
            20,
            "untouched by the other tenant"
        );
    }
    let check = |port: u16| {
        let mut c = conn(port, None, Some("pa"));
        assert_eq!(tags(&mut c, "page:7"), ["product:7", "pages"]);
        assert_eq!(keys(&mut c, "product:3").len(), 20);
        assert_eq!(keys(&mut c, "pages").len(), 201);
        assert_eq!(tags(&mut c, "short"), ["pages"]);
        let _: () = redis::cmd("SELECT").arg(3).query(&mut c).expect("select");
        assert_eq!(keys(&mut c, "pages"), ["in3"]);
    };
    p.mgr.stop("ta").expect("stop");
    p.mgr.start("ta").expect("start");
    check(pa);
    p.mgr.restart("ta").expect("restart");
    check(pa);
    let dir = p.stop();
    let p2 = Platform::start_in(dir, range, |_| {});
    let a2 = p2.mgr.info("ta").expect("ta");
    assert_eq!(a2.port, Some(pa));
    check(pa);
    let mut c = conn(pa, None, Some("pa"));
    let gone: i64 = redis::cmd("TAG")
        .arg("INVALIDATE")
        .arg("product:3")
        .arg("product:4")
        .query(&mut c)
        .expect("invalidate");
    assert_eq!(gone, 40);
    assert_eq!(
        redis::cmd("DBSIZE").query::<u64>(&mut c).expect("dbsize"),
        161
    );
    assert_eq!(keys(&mut c, "pages").len(), 161);
}

/// A database's function libraries are in its snapshot: they come back after a stop
/// and start, and its scripts' cache (which Redis does not persist either) does not.
#[test]
fn function_libraries_survive_a_restart_with_persistence() {
    let p = Platform::start(2, |_| {});
    let info = p
        .mgr
        .create(
            DatabaseSpec::new("funcs")
                .password("pw")
                .persistence(Persistence::Snapshot),
        )
        .expect("create");
    let port = info.port.expect("port");
    {
        let mut c = conn(port, None, Some("pw"));
        let name: String = redis::cmd("FUNCTION")
            .arg("LOAD")
            .arg("#!lua name=lib\nredis.register_function('hello', function(keys, args) return 'hi ' .. args[1] end)")
            .query(&mut c)
            .expect("function load");
        assert_eq!(name, "lib");
        let sha: String = redis::cmd("SCRIPT")
            .arg("LOAD")
            .arg("return 1")
            .query(&mut c)
            .expect("script load");
        assert_eq!(sha.len(), 40);
    }
    p.mgr.stop("funcs").expect("stop");
    p.mgr.start("funcs").expect("start");
    let mut c = conn(port, None, Some("pw"));
    let got: String = redis::cmd("FCALL")
        .arg("hello")
        .arg(0)
        .arg("there")
        .query(&mut c)
        .expect("fcall after restart");
    assert_eq!(got, "hi there");
    let exists: Vec<i64> = redis::cmd("SCRIPT")
        .arg("EXISTS")
        .arg("e0e1f9fabfc9d4800c877a703b823ac0578ff8db")
        .query(&mut c)
        .expect("script exists");
    assert_eq!(exists, vec![0]);
}
