//! Busy scripts with real connections: a script in an infinite loop makes other
//! clients' commands answer BUSY once it has run past `busy-reply-threshold`, SCRIPT
//! KILL (FUNCTION KILL for a function) stops it, its caller gets Redis's error, and the
//! server serves everyone afterwards. Each scenario runs on redis-server and MiniRedis
//! and the transcripts must be equal. Bounded in time: read timeouts of a few seconds.

use std::net::SocketAddr;
use std::time::Duration;

use miniredis_tests::raw::Reply;
use miniredis_tests::subject::{start_subject, test_config};
use miniredis_tests::{show, RawClient, RedisServer};

fn connect(addr: SocketAddr) -> RawClient {
    let mut c = RawClient::connect(addr).expect("connect");
    c.set_read_timeout(Duration::from_secs(10));
    c
}

fn reply(c: &mut RawClient) -> String {
    match c.read_reply() {
        Reply::Frame(f) => show(&f),
        other => panic!("expected a reply, got {other}"),
    }
}

fn call(c: &mut RawClient, args: &[&str]) -> String {
    let a: Vec<&[u8]> = args.iter().map(|s| s.as_bytes()).collect();
    c.send(&a).expect("send");
    reply(c)
}

/// A looping script (or function) is killed while another client gets BUSY.
fn kill_scenario(addr: SocketAddr, function: bool) -> Vec<String> {
    // Three connections first: on MiniRedis they land on different I/O threads (the
    // subject runs with four), so the looping one does not hold up the others' reads.
    let mut runner = connect(addr);
    let mut other = connect(addr);
    let mut killer = connect(addr);
    let mut t = Vec::new();
    t.push(call(
        &mut killer,
        &["CONFIG", "SET", "busy-reply-threshold", "100"],
    ));
    if function {
        t.push(call(
            &mut killer,
            &[
                "FUNCTION",
                "LOAD",
                "#!lua name=loop\nredis.register_function('spin', function() while true do end end)",
            ],
        ));
        runner.send(&[b"FCALL", b"spin", b"0"]).expect("send");
    } else {
        runner
            .send(&[b"EVAL", b"local i = 0 while true do i = i + 1 end", b"0"])
            .expect("send");
    }
    std::thread::sleep(Duration::from_millis(400));
    t.push(call(&mut other, &["PING"]));
    t.push(call(&mut other, &["GET", "k"]));
    // The wrong kill command does not stop it.
    t.push(call(
        &mut killer,
        &[if function { "SCRIPT" } else { "FUNCTION" }, "KILL"],
    ));
    t.push(call(
        &mut killer,
        &[if function { "FUNCTION" } else { "SCRIPT" }, "KILL"],
    ));
    t.push(reply(&mut runner));
    t.push(call(&mut other, &["PING"]));
    t.push(call(&mut runner, &["SET", "k", "v"]));
    t.push(call(&mut other, &["GET", "k"]));
    t.push(call(&mut killer, &["SCRIPT", "KILL"]));
    t
}

fn same_on_both(name: &str, function: bool) {
    let redis = RedisServer::start();
    let expected = kill_scenario(redis.addr(), function);
    drop(redis);
    let mut config = test_config();
    config.io_threads = 4;
    let subject = start_subject(config);
    let got = kill_scenario(subject.addr(), function);
    assert_eq!(
        got, expected,
        "{name}: transcript differs from redis-server"
    );
}

#[test]
fn script_kill_stops_a_busy_script() {
    same_on_both("script", false);
}

#[test]
fn function_kill_stops_a_busy_function() {
    same_on_both("function", true);
}
