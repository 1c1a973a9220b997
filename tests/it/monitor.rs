//! MONITOR with real connections: a monitoring connection sits idle while another
//! runs commands, and must receive every line as it happens (the line crosses from the
//! writer's connection to the monitor's, possibly on another I/O thread). The same
//! scenario runs on redis-server and MiniRedis; the transcripts, with timestamps and
//! the writer's address normalized, must be equal: what is shown (after execution,
//! with the database), what is hidden (admin commands, refused commands), what is
//! redacted (AUTH and HELLO AUTH arguments), quoting, MULTI/EXEC order.

use std::net::SocketAddr;
use std::time::Duration;

use miniredis_tests::raw::Reply;
use miniredis_tests::subject::{start_subject, test_config};
use miniredis_tests::{show, RawClient, RedisServer};
use resp::Frame;

fn connect(addr: SocketAddr) -> RawClient {
    let mut c = RawClient::connect(addr).expect("connect");
    c.set_read_timeout(Duration::from_secs(5));
    c
}

/// A MONITOR line with its timestamp checked and removed and the writer's address
/// replaced by `client`.
fn normalize(line: &str, writer: &str) -> String {
    let (ts, rest) = line.split_once(' ').unwrap_or(("", line));
    let (secs, usecs) = ts.split_once('.').unwrap_or(("", ""));
    assert!(
        !secs.is_empty() && secs.bytes().all(|c| c.is_ascii_digit()),
        "timestamp seconds in {line:?}"
    );
    assert!(
        usecs.len() == 6 && usecs.bytes().all(|c| c.is_ascii_digit()),
        "six digits of microseconds in {line:?}"
    );
    rest.replace(writer, "client")
}

/// Reads monitor lines until one containing `until`.
fn lines_until(m: &mut RawClient, writer: &str, until: &str) -> Vec<String> {
    let mut out = Vec::new();
    loop {
        match m.read_reply() {
            Reply::Frame(Frame::Simple(s)) => {
                let line = normalize(&String::from_utf8_lossy(&s), writer);
                let done = line.contains(until);
                out.push(line);
                if done {
                    return out;
                }
            }
            other => panic!("expected a monitor line, got {other} after {out:?}"),
        }
    }
}

fn scenario(addr: SocketAddr) -> Vec<String> {
    let mut m = connect(addr);
    let mut w = connect(addr);
    let writer = w.stream().local_addr().expect("addr").to_string();
    let monitor = m.stream().local_addr().expect("addr").to_string();
    let mut t = vec![show(&m.call(&["MONITOR"]))];
    // A second MONITOR on a monitoring connection is ignored, without a reply.
    m.send(&[b"MONITOR"]).expect("send");
    for cmd in [
        &["SET", "k", "v"][..],
        &["SET", "a b", "q\"\\\n\r\t\x01\u{7f}"],
        &["GET", "k"],
        &["AUTH", "nosuch", "pw"],
        &["AUTH", "pw"],
        &["HELLO", "2", "AUTH", "default", "x", "SETNAME", "me"],
        &["CONFIG", "GET", "maxmemory"],
        &["SLOWLOG", "LEN"],
        &["NOSUCHCOMMAND", "x"],
        &["GET"],
        &["LPUSH", "k", "x"],
        &["SELECT", "2"],
        &["SET", "in2", "1"],
        &["MULTI"],
        &["SET", "m", "1"],
        &["INCR", "m"],
        &["EXEC"],
        &["CLIENT", "SETNAME", "w"],
        &["ECHO", "end"],
    ] {
        let reply = show(&w.call(cmd));
        // HELLO's reply holds the client id, which differs.
        t.push(if cmd[0] == "HELLO" {
            reply.split(", \"id\"").next().unwrap_or("").to_string()
        } else {
            reply
        });
    }
    t.extend(lines_until(&mut m, &writer, "\"end\""));
    // The monitor's own PING answers in order after the lines it was sent.
    t.push(show(&m.call(&["PING"])));
    // A second monitor sees the same feed.
    let mut m2 = connect(addr);
    t.push(show(&m2.call(&["MONITOR"])));
    t.push(show(&w.call(&["SET", "both", "1"])));
    t.extend(lines_until(&mut m, &writer, "\"both\""));
    t.extend(lines_until(&mut m2, &writer, "\"both\""));
    // RESET leaves monitor mode: nothing arrives after its reply.
    t.push(show(&m.call(&["RESET"])));
    t.push(show(&w.call(&["SET", "after", "1"])));
    t.extend(lines_until(&mut m2, &writer, "\"after\""));
    t.push(show(&m.call(&["PING"])));
    // The monitors see their own commands too.
    t.iter().map(|l| l.replace(&monitor, "monitor")).collect()
}

#[test]
fn monitor_transcript_matches_redis() {
    let redis = RedisServer::start();
    let expected = scenario(redis.addr());
    drop(redis);
    let subject = start_subject(test_config());
    let got = scenario(subject.addr());
    assert_eq!(
        got,
        expected,
        "MONITOR transcript of {} differs from redis-server",
        subject.name()
    );
}

/// A monitor fed by many writers at once (other I/O threads) receives every line.
#[test]
fn monitor_receives_lines_from_concurrent_writers() {
    let subject = start_subject(test_config());
    let addr = subject.addr();
    let mut m = connect(addr);
    assert_eq!(show(&m.call(&["MONITOR"])), "+OK");
    let writers: Vec<_> = (0..4)
        .map(|w| {
            std::thread::spawn(move || {
                let mut c = connect(addr);
                for i in 0..200 {
                    let key = format!("w{w}:{i}");
                    assert_eq!(show(&c.call(&["SET", &key, "v"])), "+OK");
                }
            })
        })
        .collect();
    for h in writers {
        h.join().expect("writer");
    }
    let mut seen = std::collections::HashSet::new();
    while seen.len() < 800 {
        match m.read_reply() {
            Reply::Frame(Frame::Simple(s)) => {
                let line = String::from_utf8_lossy(&s).into_owned();
                let key = line
                    .split('"')
                    .nth(3)
                    .unwrap_or_else(|| panic!("a SET line: {line}"))
                    .to_string();
                assert!(seen.insert(key), "line twice: {line}");
            }
            other => panic!("after {} lines: {other}", seen.len()),
        }
    }
    let list = match m.call(&["CLIENT", "INFO"]) {
        Frame::Bulk(b) => String::from_utf8_lossy(&b).into_owned(),
        other => panic!("CLIENT INFO: {}", show(&other)),
    };
    assert!(list.contains(" flags=O "), "{list}");
}
