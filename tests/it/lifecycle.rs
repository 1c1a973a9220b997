//! Commands that end the server, compared with redis-server: SHUTDOWN's errors, then a
//! real SHUTDOWN that closes the connection without a reply and stops listening.

use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use miniredis_tests::raw::{error, RawClient};
use miniredis_tests::redis_server::RedisServer;
use miniredis_tests::subject::{start_subject, test_config};

/// Runs the SHUTDOWN sequence against one server; returns what it observed.
fn shutdown_sequence(addr: SocketAddr) -> Vec<String> {
    let mut seen = Vec::new();
    let mut c = RawClient::connect(addr).expect("connect");
    for args in [
        &["SHUTDOWN", "ABORT"][..],
        &["SHUTDOWN", "bogus"],
        &["SHUTDOWN", "NOSAVE", "x"],
    ] {
        seen.push(format!("{args:?} -> {:?}", c.call(args)));
    }
    c.send(&[b"SHUTDOWN", b"NOSAVE"]).expect("send");
    seen.push(format!(
        "SHUTDOWN NOSAVE closes without a reply: {}",
        c.wait_closed(Duration::from_secs(5))
    ));
    let deadline = Instant::now() + Duration::from_secs(5);
    let stopped = loop {
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
            break true;
        }
        if Instant::now() > deadline {
            break false;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    seen.push(format!("stops listening: {stopped}"));
    seen
}

#[test]
fn shutdown_matches_redis() {
    let redis = RedisServer::start();
    let subject = start_subject(test_config());
    let want = shutdown_sequence(redis.addr());
    let got = shutdown_sequence(subject.addr());
    assert_eq!(got, want, "MiniRedis vs redis-server");
    // The sequence itself must show what we claim, not just agree.
    assert!(want[0].contains(&format!("{:?}", error("ERR No shutdown in progress."))));
    assert!(want
        .iter()
        .any(|l| l.ends_with("closes without a reply: true")));
    assert!(want.iter().any(|l| l.ends_with("stops listening: true")));
}
