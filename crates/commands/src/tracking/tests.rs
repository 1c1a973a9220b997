use super::*;
use std::sync::Arc;

use resp::{Protocol, ReplyWriter};

use crate::client::{Client, ClientInfo};
use crate::instance::Instance;
use crate::Config;

/// A connection registered in the instance, as the server makes them.
struct Conn {
    client: Client,
    out: ReplyWriter,
}

impl Conn {
    fn new(inst: &Instance, resp3: bool) -> Conn {
        let id = inst.next_client_id();
        let info = Arc::new(ClientInfo::new(id, "a".into(), "b".into()));
        info.resp.store(
            if resp3 { 3 } else { 2 },
            std::sync::atomic::Ordering::Relaxed,
        );
        inst.register_client(info.clone());
        let proto = if resp3 {
            Protocol::Resp3
        } else {
            Protocol::Resp2
        };
        Conn {
            client: Client::new(info, true),
            out: ReplyWriter::new(proto),
        }
    }

    fn id(&self) -> u64 {
        self.client.info.id
    }

    fn run(&mut self, inst: &Instance, line: &str) -> String {
        let argv: Vec<&[u8]> = line.split(' ').map(str::as_bytes).collect();
        self.out.clear();
        crate::dispatch::dispatch(inst, &mut self.client, &mut self.out, &argv);
        String::from_utf8_lossy(self.out.as_bytes()).into_owned()
    }

    /// What other connections queued for this one.
    fn queued(&self) -> String {
        let mut v = Vec::new();
        self.client.info.outbox.drain_into(&mut v);
        String::from_utf8_lossy(&v).into_owned()
    }
}

fn inv(keys: &[&str]) -> String {
    let mut s = format!(">2\r\n$10\r\ninvalidate\r\n*{}\r\n", keys.len());
    for k in keys {
        s += &format!("${}\r\n{k}\r\n", k.len());
    }
    s
}

fn setup() -> (Arc<Instance>, Conn, Conn) {
    let inst = Instance::new(Config::default());
    let a = Conn::new(&inst, true);
    let b = Conn::new(&inst, false);
    (inst, a, b)
}

const OK: &str = "+OK\r\n";

#[test]
fn default_mode_invalidates_read_keys_once() {
    let (inst, mut a, mut b) = setup();
    assert_eq!(inst.notify_flags() & ACTIVE, 0);
    assert_eq!(a.run(&inst, "client tracking on"), OK);
    assert_ne!(inst.notify_flags() & ACTIVE, 0);
    a.run(&inst, "get k");
    a.run(&inst, "mget x y");
    assert_eq!(inst.tracking.counts(), (1, 3, 3, 0));
    assert_eq!(b.run(&inst, "set k 1"), OK);
    assert_eq!(a.queued(), inv(&["k"]));
    assert_eq!(b.run(&inst, "set k 2"), OK);
    assert_eq!(a.queued(), "", "forgotten after the first invalidation");
    // A write of its own comes after its reply.
    assert_eq!(a.run(&inst, "del x"), ":0\r\n");
    assert_eq!(a.run(&inst, "set x 1"), format!("{OK}{}", inv(&["x"])));
    assert_eq!(inst.tracking.counts(), (1, 1, 1, 0));
    // Off: nobody pays any more.
    assert_eq!(a.run(&inst, "client tracking off"), OK);
    assert_eq!(inst.notify_flags() & ACTIVE, 0);
    assert!(!inst.ks.events.enabled());
    assert_eq!(inst.tracking.counts(), (0, 0, 0, 0));
}

#[test]
fn noloop_skips_own_writes() {
    let (inst, mut a, mut b) = setup();
    a.run(&inst, "client tracking on noloop");
    a.run(&inst, "get k");
    assert_eq!(a.run(&inst, "set k 1"), OK);
    a.run(&inst, "get k");
    b.run(&inst, "incr k");
    assert_eq!(a.queued(), inv(&["k"]));
}

#[test]
fn bcast_batches_per_command_and_prefix() {
    let (inst, mut a, mut b) = setup();
    assert_eq!(
        a.run(&inst, "client tracking on bcast prefix a: prefix b:"),
        OK
    );
    assert_eq!(inst.tracking.counts(), (1, 0, 0, 2));
    b.run(&inst, "mset a:2 1 a:1 2 c 3 b:x 4");
    assert_eq!(
        a.queued(),
        format!("{}{}", inv(&["a:1", "a:2"]), inv(&["b:x"]))
    );
    // Its own writes too (no NOLOOP), after its reply.
    assert_eq!(a.run(&inst, "del a:1"), format!(":1\r\n{}", inv(&["a:1"])));
    assert!(a
        .run(&inst, "client trackinginfo")
        .contains("prefixes\r\n*2\r\n$2\r\na:\r\n$2\r\nb:\r\n"));
    assert_eq!(
        a.run(&inst, "client tracking on bcast prefix a:x"),
        "-ERR Prefix 'a:x' overlaps with an existing prefix 'a:'. Prefixes for a single client must not overlap.\r\n"
    );
    assert_eq!(a.run(&inst, "client tracking off"), OK);
    assert_eq!(inst.tracking.counts(), (0, 0, 0, 0));
}

#[test]
fn redirect_to_a_resp2_subscriber_and_broken_redirect() {
    let inst = Instance::new(Config::default());
    let mut sub = Conn::new(&inst, false);
    let mut t = Conn::new(&inst, true);
    let mut w = Conn::new(&inst, false);
    sub.run(&inst, "subscribe __redis__:invalidate");
    let on = format!("client tracking on redirect {}", sub.id());
    assert_eq!(t.run(&inst, &on), OK);
    assert_eq!(
        t.run(&inst, "client getredir"),
        format!(":{}\r\n", sub.id())
    );
    t.run(&inst, "get k");
    w.run(&inst, "set k v");
    assert_eq!(
        sub.queued(),
        "*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n*1\r\n$1\r\nk\r\n"
    );
    assert!(w.run(&inst, "client list").contains("flags=t db=0"));
    // The redirection target goes away.
    inst.unregister_client(sub.id());
    t.run(&inst, "get k");
    w.run(&inst, "set k v2");
    assert_eq!(
        t.queued(),
        format!(">2\r\n$21\r\ntracking-redir-broken\r\n:{}\r\n", sub.id())
    );
    assert!(t
        .run(&inst, "client trackinginfo")
        .contains("broken_redirect"));
}

#[test]
fn flush_says_everything_and_empties_the_table() {
    let (inst, mut a, mut b) = setup();
    a.run(&inst, "client tracking on");
    a.run(&inst, "get k");
    assert_eq!(b.run(&inst, "flushall"), OK);
    assert_eq!(a.queued(), ">2\r\n$10\r\ninvalidate\r\n_\r\n");
    assert_eq!(inst.tracking.counts(), (1, 0, 0, 0));
    // The flusher itself hears it after its reply, as from Redis.
    assert_eq!(
        a.run(&inst, "flushdb"),
        "+OK\r\n>2\r\n$10\r\ninvalidate\r\n_\r\n"
    );
}

#[test]
fn optin_tracks_only_after_caching_yes() {
    let (inst, mut a, mut b) = setup();
    assert_eq!(
        a.run(&inst, "client caching yes"),
        "-ERR CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or OPTOUT mode enabled\r\n"
    );
    a.run(&inst, "client tracking on optin");
    a.run(&inst, "get untracked");
    assert_eq!(a.run(&inst, "client caching yes"), OK);
    a.run(&inst, "get tracked");
    a.run(&inst, "get later");
    b.run(&inst, "mset untracked 1 tracked 2 later 3");
    assert_eq!(a.queued(), inv(&["tracked"]));
    // In a transaction, CACHING covers every command of it.
    a.run(&inst, "client caching yes");
    a.run(&inst, "multi");
    a.run(&inst, "get t1");
    a.run(&inst, "get t2");
    a.run(&inst, "exec");
    assert_eq!(inst.tracking.counts().1, 2);
    assert_eq!(
        a.run(&inst, "client caching no"),
        "-ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode.\r\n"
    );
}

#[test]
fn expiry_invalidates() {
    let (inst, mut a, mut b) = setup();
    a.run(&inst, "client tracking on");
    b.run(&inst, "set k v px 1");
    a.run(&inst, "get k");
    std::thread::sleep(std::time::Duration::from_millis(5));
    // B's read finds it expired: A is told.
    assert_eq!(b.run(&inst, "get k"), "$-1\r\n");
    assert_eq!(a.queued(), inv(&["k"]));
}

#[test]
fn the_table_is_kept_under_its_limit() {
    let (inst, mut a, mut b) = setup();
    a.run(&inst, "client tracking on");
    b.run(&inst, "config set tracking-table-max-keys 2");
    a.run(&inst, "mget k1 k2 k3");
    assert_eq!(inst.tracking.counts().1, 3);
    // The next command evicts one entry, telling A.
    b.run(&inst, "ping");
    assert_eq!(inst.tracking.counts().1, 2);
    assert_eq!(a.queued().matches("invalidate").count(), 1);
}

#[test]
fn tenants_are_walls() {
    let one = Instance::new(Config::default());
    let two = Instance::new(Config::default());
    let mut a = Conn::new(&one, true);
    let mut b = Conn::new(&two, true);
    a.run(&one, "client tracking on");
    a.run(&one, "get k");
    b.run(&two, "set k v");
    assert_eq!(a.queued(), "");
    assert_eq!(two.notify_flags() & ACTIVE, 0);
}

#[test]
fn eviction_invalidates() {
    let (inst, mut a, mut b) = setup();
    inst.update_config(|c| c.tenant = true);
    a.run(&inst, "client tracking on");
    let big = "v".repeat(200);
    for i in 0..20 {
        b.run(&inst, &format!("set k{i} {big}"));
    }
    a.run(&inst, "mget k0 k1 k2 k3 k4 k5 k6 k7 k8 k9");
    assert_eq!(b.run(&inst, "config set maxmemory-policy allkeys-lru"), OK);
    let half = inst.ks.used_memory() / 2;
    assert_eq!(b.run(&inst, &format!("config set maxmemory {half}")), OK);
    b.run(&inst, "set trigger 1");
    let evicted = inst.ks.stats().evicted_keys;
    assert!(evicted > 0);
    // Each evicted key A read is invalidated, and only those. (Counted after the
    // EXISTS probes: a probe may itself evict, and A hears of that too.)
    let still = (0..10)
        .filter(|i| b.run(&inst, &format!("exists k{i}")) == ":1\r\n")
        .count();
    let told = a.queued().matches("invalidate").count();
    assert_eq!(told + still, 10, "told {told}, still there {still}");
    assert!(told > 0);
}

#[test]
fn info_reports_the_tables() {
    let (inst, mut a, mut b) = setup();
    a.run(&inst, "client tracking on");
    b.run(&inst, "client tracking on bcast prefix p: prefix q:");
    a.run(&inst, "mget x y");
    let clients = b.run(&inst, "info clients");
    assert!(clients.contains("tracking_clients:2\r\n"), "{clients}");
    let stats = b.run(&inst, "info stats");
    for want in [
        "tracking_total_keys:2\r\n",
        "tracking_total_items:2\r\n",
        "tracking_total_prefixes:2\r\n",
    ] {
        assert!(stats.contains(want), "{want} in {stats}");
    }
    assert!(b
        .run(&inst, "config get tracking-table-max-keys")
        .contains("1000000"));
    let list = b.run(&inst, "client list");
    assert!(list.contains(" flags=tB "), "{list}");
    assert!(list.contains(" flags=t "), "{list}");
}
