//! Blocking commands with several real connections at once: wake-up order, timeouts,
//! a client that disconnects or is killed while blocked, CLIENT UNBLOCK, chains
//! (BLMOVE feeding a BLPOP), pipelined commands behind a blocked one, a key that
//! changes type under a blocked client. Each scenario runs against Debian's
//! redis-server and against MiniRedis; the transcripts (every reply, in order) must be
//! equal, and each scenario also checks what it is about on its own.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use miniredis_tests::raw::{bulk, error, Reply};
use miniredis_tests::subject::{start_subject, test_config};
use miniredis_tests::{show, RawClient, RedisServer};
use resp::Frame;

/// One scenario: drives the server at `addr` and returns its transcript.
pub(crate) type Scenario = fn(SocketAddr) -> Vec<String>;

pub(crate) fn connect(addr: SocketAddr) -> RawClient {
    RawClient::connect(addr).expect("connect")
}

pub(crate) fn send(c: &mut RawClient, args: &[&str]) {
    let bytes: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
    c.send(&bytes).expect("send");
}

pub(crate) fn read(c: &mut RawClient) -> Frame {
    match c.read_reply() {
        Reply::Frame(f) => f,
        other => panic!("expected a reply, got {other}"),
    }
}

fn int(f: &Frame) -> i64 {
    match f {
        Frame::Integer(n) => *n,
        other => panic!("expected an integer, got {}", show(other)),
    }
}

/// Waits until the server reports `n` blocked clients (so the order in which clients
/// blocked is the order the test sent their commands in).
pub(crate) fn wait_blocked(admin: &mut RawClient, n: u64) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let info = admin.call(&["INFO", "clients"]);
        let text = match &info {
            Frame::Bulk(b) => String::from_utf8_lossy(b).into_owned(),
            other => panic!("INFO: {}", show(other)),
        };
        let blocked = text
            .lines()
            .find_map(|l| l.strip_prefix("blocked_clients:"))
            .and_then(|v| v.trim().parse::<u64>().ok())
            .expect("INFO clients has blocked_clients");
        if blocked == n {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "blocked_clients stayed {blocked}, expected {n}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Runs `scenario` on Redis and on MiniRedis and requires equal transcripts.
pub(crate) fn same_on_both(name: &str, scenario: Scenario) {
    let redis = RedisServer::start();
    let expected = scenario(redis.addr());
    drop(redis);
    let subject = start_subject(test_config());
    let got = scenario(subject.addr());
    assert_eq!(
        got,
        expected,
        "{name}: {} differs from redis-server",
        subject.name()
    );
}

fn fifo(addr: SocketAddr) -> Vec<String> {
    let mut admin = connect(addr);
    let mut waiters: Vec<RawClient> = (0..3).map(|_| connect(addr)).collect();
    for (i, w) in waiters.iter_mut().enumerate() {
        send(w, &["BLPOP", "q", "10"]);
        wait_blocked(&mut admin, i as u64 + 1);
    }
    let mut t = vec![show(&admin.call(&["RPUSH", "q", "a", "b", "c", "d"]))];
    for w in &mut waiters {
        t.push(show(&read(w)));
    }
    // First come, first served: one element each, oldest waiter first.
    assert_eq!(
        t[1..],
        ["[\"q\", \"a\"]", "[\"q\", \"b\"]", "[\"q\", \"c\"]"]
    );
    t.push(show(&admin.call(&["LRANGE", "q", "0", "-1"])));
    wait_blocked(&mut admin, 0);
    t
}

fn several_keys(addr: SocketAddr) -> Vec<String> {
    let mut admin = connect(addr);
    let mut w = connect(addr);
    send(&mut w, &["BRPOP", "k1", "k2", "k3", "0"]);
    wait_blocked(&mut admin, 1);
    let mut t = vec![show(&admin.call(&["LPUSH", "k2", "x", "y"]))];
    let got = read(&mut w);
    assert_eq!(
        got,
        Frame::Array(vec![bulk("k2"), bulk("x")]),
        "BRPOP pops the tail of the key that was pushed"
    );
    t.push(show(&got));
    t.push(show(&admin.call(&["LRANGE", "k2", "0", "-1"])));
    wait_blocked(&mut admin, 0);
    t
}

fn timeouts(addr: SocketAddr) -> Vec<String> {
    let mut c = connect(addr);
    let mut t = Vec::new();
    for (cmd, at_least) in [
        (vec!["BLPOP", "none", "0.2"], 190),
        (vec!["BLMOVE", "none", "dst", "LEFT", "RIGHT", "0.15"], 140),
        (vec!["BRPOPLPUSH", "none", "dst", "0.1"], 90),
    ] {
        let started = Instant::now();
        let f = c.call(&cmd);
        let ms = started.elapsed().as_millis();
        assert!(
            ms >= at_least && ms < 5000,
            "{cmd:?} answered after {ms} ms"
        );
        t.push(show(&f));
    }
    // The connection is usable afterwards.
    t.push(show(&c.call(&["PING"])));
    t
}

fn disconnect_while_blocked(addr: SocketAddr) -> Vec<String> {
    let mut admin = connect(addr);
    let mut w = connect(addr);
    send(&mut w, &["BLPOP", "q", "0"]);
    wait_blocked(&mut admin, 1);
    drop(w);
    // The server notices the peer is gone and takes it out of line...
    wait_blocked(&mut admin, 0);
    // ... so the element pushed next is not handed to a dead connection.
    let t = vec![
        show(&admin.call(&["RPUSH", "q", "kept"])),
        show(&admin.call(&["LRANGE", "q", "0", "-1"])),
    ];
    assert_eq!(t[1], "[\"kept\"]");
    t
}

fn kill_while_blocked(addr: SocketAddr) -> Vec<String> {
    let mut admin = connect(addr);
    let mut w = connect(addr);
    let id = int(&w.call(&["CLIENT", "ID"])).to_string();
    send(&mut w, &["BLPOP", "q", "0"]);
    wait_blocked(&mut admin, 1);
    let mut t = vec![show(&admin.call(&["CLIENT", "KILL", "ID", &id]))];
    assert!(
        w.wait_closed(Duration::from_secs(5)),
        "the killed client is closed"
    );
    wait_blocked(&mut admin, 0);
    t.push(show(&admin.call(&["RPUSH", "q", "kept"])));
    t.push(show(&admin.call(&["LLEN", "q"])));
    assert_eq!(t[0], ":1");
    assert_eq!(t[2], ":1");
    t
}

fn unblock(addr: SocketAddr) -> Vec<String> {
    let mut admin = connect(addr);
    let mut w = connect(addr);
    let id = int(&w.call(&["CLIENT", "ID"])).to_string();
    let mut t = Vec::new();
    send(&mut w, &["BLPOP", "q", "0"]);
    wait_blocked(&mut admin, 1);
    t.push(show(&admin.call(&["CLIENT", "UNBLOCK", &id])));
    t.push(show(&read(&mut w)));
    send(&mut w, &["BLMOVE", "q", "d", "LEFT", "LEFT", "0"]);
    wait_blocked(&mut admin, 1);
    t.push(show(&admin.call(&["CLIENT", "UNBLOCK", &id, "ERROR"])));
    let f = read(&mut w);
    assert_eq!(f, error("UNBLOCKED client unblocked via CLIENT UNBLOCK"));
    t.push(show(&f));
    // Not blocked any more: nothing to unblock.
    t.push(show(&admin.call(&["CLIENT", "UNBLOCK", &id, "TIMEOUT"])));
    t.push(show(&admin.call(&["CLIENT", "UNBLOCK", "abc"])));
    t.push(show(&admin.call(&["CLIENT", "UNBLOCK", &id, "SOMETIMES"])));
    t
}

fn chain(addr: SocketAddr) -> Vec<String> {
    let mut admin = connect(addr);
    let mut mover = connect(addr);
    let mut popper = connect(addr);
    send(&mut mover, &["BLMOVE", "src", "dst", "LEFT", "RIGHT", "0"]);
    wait_blocked(&mut admin, 1);
    send(&mut popper, &["BLPOP", "dst", "0"]);
    wait_blocked(&mut admin, 2);
    let t = vec![
        show(&admin.call(&["LPUSH", "src", "v"])),
        show(&read(&mut mover)),
        show(&read(&mut popper)),
        show(&admin.call(&["EXISTS", "src", "dst"])),
    ];
    // The element BLMOVE moved was served on to the client blocked on its destination.
    assert_eq!(t[1..], ["\"v\"", "[\"dst\", \"v\"]", ":0"]);
    t
}

fn pipeline_behind_a_blocked_command(addr: SocketAddr) -> Vec<String> {
    let mut admin = connect(addr);
    let mut w = connect(addr);
    w.send_raw(b"*3\r\n$5\r\nBLPOP\r\n$1\r\nq\r\n$1\r\n0\r\n*1\r\n$4\r\nPING\r\n*2\r\n$4\r\nLLEN\r\n$1\r\nq\r\n")
        .expect("send");
    wait_blocked(&mut admin, 1);
    let mut t = vec![show(&admin.call(&["RPUSH", "q", "a", "b"]))];
    for _ in 0..3 {
        t.push(show(&read(&mut w)));
    }
    // The commands after the blocked one run once it is served, in order.
    assert_eq!(t[1..], ["[\"q\", \"a\"]", "+PONG", ":1"]);
    t
}

fn key_changes_type(addr: SocketAddr) -> Vec<String> {
    let mut admin = connect(addr);
    let mut w = connect(addr);
    send(&mut w, &["BLPOP", "q", "0"]);
    wait_blocked(&mut admin, 1);
    // A string appears under the key: the client stays blocked.
    let mut t = vec![show(&admin.call(&["SET", "q", "string"]))];
    std::thread::sleep(Duration::from_millis(50));
    wait_blocked(&mut admin, 1);
    t.push(show(&admin.call(&["DEL", "q"])));
    t.push(show(&admin.call(&["RPUSH", "q", "now"])));
    t.push(show(&read(&mut w)));
    wait_blocked(&mut admin, 0);
    t
}

fn pops_follow_push_order(addr: SocketAddr) -> Vec<String> {
    let mut admin = connect(addr);
    let mut a = connect(addr);
    let mut b = connect(addr);
    send(&mut a, &["BLPOP", "q", "0"]);
    wait_blocked(&mut admin, 1);
    send(&mut b, &["BRPOP", "q", "0"]);
    wait_blocked(&mut admin, 2);
    // LPUSH q 1 2 3 leaves [3 2 1]: the first waiter pops the head, the second the tail.
    vec![
        show(&admin.call(&["LPUSH", "q", "1", "2", "3"])),
        show(&read(&mut a)),
        show(&read(&mut b)),
        show(&admin.call(&["LRANGE", "q", "0", "-1"])),
    ]
}

#[test]
fn blocked_clients_are_served_first_come_first_served() {
    same_on_both("fifo", fifo);
}

#[test]
fn a_client_blocked_on_several_keys_is_served_by_any() {
    same_on_both("several keys", several_keys);
}

#[test]
fn blocking_commands_time_out_with_their_null_reply() {
    same_on_both("timeouts", timeouts);
}

#[test]
fn a_client_that_disconnects_while_blocked_takes_nothing() {
    same_on_both("disconnect", disconnect_while_blocked);
}

#[test]
fn client_kill_ends_a_blocked_client() {
    same_on_both("kill", kill_while_blocked);
}

#[test]
fn client_unblock_with_timeout_and_error() {
    same_on_both("unblock", unblock);
}

#[test]
fn blmove_serves_the_client_blocked_on_its_destination() {
    same_on_both("chain", chain);
}

#[test]
fn pipelined_commands_wait_behind_a_blocked_one() {
    same_on_both("pipeline", pipeline_behind_a_blocked_command);
}

#[test]
fn a_key_of_another_type_leaves_clients_blocked() {
    same_on_both("type change", key_changes_type);
}

#[test]
fn waiters_pop_from_their_own_end() {
    same_on_both("ends", pops_follow_push_order);
}
