//! BZPOPMIN, BZPOPMAX and BZMPOP with several real connections: wake-up order, the
//! key that is served among several, timeouts, a key that changes type under a
//! blocked client. Each scenario runs on redis-server and on MiniRedis and the
//! transcripts must be equal (see `blocking.rs`).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use miniredis_tests::show;

use crate::blocking::{connect, read, same_on_both, send, wait_blocked};

fn fifo(addr: SocketAddr) -> Vec<String> {
    let mut admin = connect(addr);
    let mut waiters: Vec<_> = (0..3).map(|_| connect(addr)).collect();
    for (i, w) in waiters.iter_mut().enumerate() {
        let cmd = if i == 1 { "BZPOPMAX" } else { "BZPOPMIN" };
        send(w, &[cmd, "z", "10"]);
        wait_blocked(&mut admin, i as u64 + 1);
    }
    let mut t =
        vec![show(&admin.call(&[
            "ZADD", "z", "1", "a", "2", "b", "3", "c", "4", "d",
        ]))];
    for w in &mut waiters {
        t.push(show(&read(w)));
    }
    // Oldest first, each from its own end.
    assert_eq!(
        t[1..],
        [
            "[\"z\", \"a\", \"1\"]",
            "[\"z\", \"d\", \"4\"]",
            "[\"z\", \"b\", \"2\"]"
        ]
    );
    t.push(show(&admin.call(&["ZRANGE", "z", "0", "-1", "WITHSCORES"])));
    wait_blocked(&mut admin, 0);
    t
}

fn bzmpop_several_keys(addr: SocketAddr) -> Vec<String> {
    let mut admin = connect(addr);
    let mut w = connect(addr);
    send(
        &mut w,
        &["BZMPOP", "0", "3", "k1", "k2", "k3", "MAX", "COUNT", "2"],
    );
    wait_blocked(&mut admin, 1);
    let mut t = vec![show(
        &admin.call(&["ZADD", "k2", "1", "x", "2", "y", "3", "z"]),
    )];
    t.push(show(&read(&mut w)));
    assert_eq!(t[1], "[\"k2\", [[\"z\", \"3\"], [\"y\", \"2\"]]]");
    t.push(show(&admin.call(&["ZRANGE", "k2", "0", "-1"])));
    wait_blocked(&mut admin, 0);
    t
}

fn timeouts(addr: SocketAddr) -> Vec<String> {
    let mut c = connect(addr);
    let mut t = Vec::new();
    for cmd in [
        vec!["BZPOPMIN", "none", "0.15"],
        vec!["BZPOPMAX", "none", "other", "0.1"],
        vec!["BZMPOP", "0.1", "1", "none", "MIN"],
    ] {
        let started = Instant::now();
        send(&mut c, &cmd);
        t.push(show(&read(&mut c)));
        assert!(
            started.elapsed() >= Duration::from_millis(90),
            "{cmd:?} waited"
        );
    }
    assert!(t.iter().all(|r| r == "(nil-array)"), "{t:?}");
    t
}

fn key_changes_type(addr: SocketAddr) -> Vec<String> {
    let mut admin = connect(addr);
    let mut w = connect(addr);
    send(&mut w, &["BZPOPMIN", "q", "0"]);
    wait_blocked(&mut admin, 1);
    // A list or a string under the key leaves the client blocked.
    let mut t = vec![show(&admin.call(&["SET", "q", "string"]))];
    std::thread::sleep(Duration::from_millis(50));
    wait_blocked(&mut admin, 1);
    t.push(show(&admin.call(&["DEL", "q"])));
    t.push(show(&admin.call(&["ZADD", "q", "5", "m"])));
    t.push(show(&read(&mut w)));
    t.push(show(&admin.call(&["EXISTS", "q"])));
    wait_blocked(&mut admin, 0);
    t
}

fn served_by_a_store(addr: SocketAddr) -> Vec<String> {
    let mut admin = connect(addr);
    let mut w = connect(addr);
    send(&mut w, &["BZPOPMAX", "dst", "0"]);
    wait_blocked(&mut admin, 1);
    let mut t = vec![show(&admin.call(&["ZADD", "src", "1", "a", "2", "b"]))];
    t.push(show(&admin.call(&["ZUNIONSTORE", "dst", "1", "src"])));
    t.push(show(&read(&mut w)));
    t.push(show(&admin.call(&["ZRANGE", "dst", "0", "-1"])));
    wait_blocked(&mut admin, 0);
    t
}

#[test]
fn zset_waiters_are_served_first_come_first_served() {
    same_on_both("zset fifo", fifo);
}

#[test]
fn bzmpop_is_served_by_any_of_its_keys() {
    same_on_both("bzmpop keys", bzmpop_several_keys);
}

#[test]
fn zset_blocking_commands_time_out_with_a_null_array() {
    same_on_both("zset timeouts", timeouts);
}

#[test]
fn a_key_of_another_type_leaves_zset_waiters_blocked() {
    same_on_both("zset type change", key_changes_type);
}

#[test]
fn a_store_serves_a_blocked_zset_pop() {
    same_on_both("zset store", served_by_a_store);
}
