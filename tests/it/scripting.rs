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
    // Three connections: on MiniRedis the subject runs with one I/O thread (all three
    // on the thread the script was sent from) and with four.
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
    // One I/O thread: the script runs off it, so the other connections on it are
    // still read, answered BUSY, and can kill it.
    for threads in [1, 4] {
        let mut config = test_config();
        config.io_threads = threads;
        let subject = start_subject(config);
        let got = kill_scenario(subject.addr(), function);
        assert_eq!(
            got, expected,
            "{name} with {threads} I/O thread(s): transcript differs from redis-server"
        );
    }
}

/// A script that wrote cannot be killed (UNKILLABLE); SHUTDOWN NOSAVE ends it and the
/// server. Returns the transcript of the killer, and whether the runner's connection
/// ended (with no reply, or with an error) and the server stopped accepting.
fn unkillable_scenario(addr: SocketAddr) -> Vec<String> {
    let mut runner = connect(addr);
    let mut other = connect(addr);
    let mut killer = connect(addr);
    let mut t = Vec::new();
    t.push(call(
        &mut killer,
        &["CONFIG", "SET", "busy-reply-threshold", "100"],
    ));
    runner
        .send(&[
            b"EVAL",
            b"redis.call('set', 'w', '1') while true do end",
            b"0",
        ])
        .expect("send");
    std::thread::sleep(Duration::from_millis(400));
    t.push(call(&mut other, &["PING"]));
    t.push(call(&mut killer, &["SCRIPT", "KILL"]));
    killer.send(&[b"SHUTDOWN", b"NOSAVE"]).expect("send");
    t.push(format!(
        "killer closed: {}",
        killer.wait_closed(Duration::from_secs(10))
    ));
    let runner_end = match runner.read_reply() {
        Reply::Frame(resp::Frame::Error(_)) => true,
        Reply::Frame(_) => false,
        _ => true,
    };
    t.push(format!("runner ended: {runner_end}"));
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(addr).is_ok() && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    t.push(format!(
        "server stopped: {}",
        std::net::TcpStream::connect(addr).is_err()
    ));
    t
}

/// A client blocked in BLPOP is served after a script pushed to its list, once the
/// script has ended (it sees the script's whole effect).
fn wake_scenario(addr: SocketAddr) -> Vec<String> {
    let mut waiter = connect(addr);
    let mut other = connect(addr);
    let mut t = Vec::new();
    waiter.send(&[b"BLPOP", b"q", b"0"]).expect("send");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let info = call(&mut other, &["INFO", "clients"]);
        if info.contains("blocked_clients:1") {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "never blocked: {info}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    t.push(call(
        &mut other,
        &[
            "EVAL",
            "redis.call('rpush', KEYS[1], 'a', 'b') return redis.call('llen', KEYS[1])",
            "1",
            "q",
        ],
    ));
    t.push(reply(&mut waiter));
    t.push(call(&mut other, &["LRANGE", "q", "0", "-1"]));
    t.push(call(&mut other, &["FCALL_RO", "nosuch", "0"]));
    t
}

fn same_transcripts(name: &str, scenario: fn(SocketAddr) -> Vec<String>) {
    let redis = RedisServer::start();
    let expected = scenario(redis.addr());
    drop(redis);
    for threads in [1, 4] {
        let mut config = test_config();
        config.io_threads = threads;
        let subject = start_subject(config);
        let got = scenario(subject.addr());
        assert_eq!(
            got, expected,
            "{name} with {threads} I/O thread(s): transcript differs from redis-server"
        );
    }
}

#[test]
fn a_script_that_wrote_is_unkillable_until_shutdown_nosave() {
    same_transcripts("unkillable", unkillable_scenario);
}

#[test]
fn blocked_clients_are_served_after_the_script() {
    same_transcripts("wake", wake_scenario);
}

#[test]
fn script_kill_stops_a_busy_script() {
    same_on_both("script", false);
}

#[test]
fn function_kill_stops_a_busy_function() {
    same_on_both("function", true);
}
