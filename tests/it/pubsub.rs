//! Pub/sub over real sockets: a subscriber that stops reading is disconnected by
//! `client-output-buffer-limit` and the memory its queue held is given back; messages
//! reach idle subscribers on other I/O threads.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use miniredis_tests::raw::RawClient;
use miniredis_tests::{note, subject_is_redis};
use resp::Frame;

use miniredis_tests::node::Node;

/// One numeric field of INFO, read with a raw client.
fn info_field(c: &mut RawClient, section: &str, name: &str) -> Option<u64> {
    let f = c.call(&["INFO", section]);
    let text = String::from_utf8_lossy(f.as_bytes().unwrap_or_default()).into_owned();
    let prefix = format!("{name}:");
    text.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .and_then(|v| v.trim().parse().ok())
}

fn used_memory(c: &mut RawClient) -> u64 {
    info_field(c, "memory", "used_memory").expect("INFO memory has used_memory")
}

/// The acceptance test of the pubsub output-buffer limit: a subscriber stops reading
/// while 100 MB are published to it. It must be disconnected once its pending output
/// passes the hard limit (32 MB by default), and the server's memory must come back to
/// where it was before the flood. Bounded: at most 100 MB on loopback, 60 s.
#[test]
fn slow_subscriber_is_disconnected_and_its_memory_freed() {
    const MESSAGE: usize = 64 * 1024;
    const MESSAGES: usize = 1600; // 100 MiB
    let deadline = Instant::now() + Duration::from_secs(60);
    let node = Node::start(&[]);
    let mut ctl = RawClient::connect(node.addr()).expect("connect");
    ctl.set_read_timeout(Duration::from_secs(10));
    assert_eq!(
        ctl.call(&["CONFIG", "GET", "client-output-buffer-limit"]),
        Frame::Array(vec![
            Frame::Bulk("client-output-buffer-limit".into()),
            Frame::Bulk(
                "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60".into()
            ),
        ])
    );
    // The subscriber: subscribes, reads the confirmation, then never reads again. A
    // small receive buffer keeps what the kernel absorbs small.
    let mut sub = TcpStream::connect(node.addr()).expect("subscriber");
    sub.write_all(b"*2\r\n$9\r\nSUBSCRIBE\r\n$5\r\nflood\r\n")
        .expect("SUBSCRIBE");
    sub.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let mut confirm = [0u8; 64];
    let n = sub.read(&mut confirm).expect("confirmation");
    assert!(
        confirm[..n].starts_with(b"*3\r\n$9\r\nsubscribe"),
        "{:?}",
        &confirm[..n]
    );
    let mut publisher = RawClient::connect(node.addr()).expect("publisher");
    publisher.set_read_timeout(Duration::from_secs(10));
    assert_eq!(
        ctl.call(&["PUBSUB", "NUMSUB", "flood"]),
        Frame::Array(vec![Frame::Bulk("flood".into()), Frame::Integer(1)])
    );
    // Settle, then the baseline.
    std::thread::sleep(Duration::from_millis(200));
    let before = used_memory(&mut ctl);
    let disconnections_before = info_field(
        &mut ctl,
        "stats",
        "client_output_buffer_limit_disconnections",
    );

    // The flood, in pipelined batches of 16 messages (1 MiB).
    let payload = vec![b'm'; MESSAGE];
    let mut delivered = 0i64;
    let mut peak = before;
    for batch in 0..MESSAGES / 16 {
        assert!(Instant::now() < deadline, "the flood took too long");
        for _ in 0..16 {
            publisher
                .send(&[b"PUBLISH", b"flood", &payload])
                .expect("PUBLISH");
        }
        for _ in 0..16 {
            match publisher.read_frame().expect("PUBLISH reply") {
                Frame::Integer(n) => delivered += n,
                other => panic!("PUBLISH answered {other:?}"),
            }
        }
        if batch % 10 == 0 {
            peak = peak.max(used_memory(&mut ctl));
        }
    }
    let delivered_mb = (delivered as usize * MESSAGE) >> 20;
    // Delivered until the queue passed 32 MB (plus what the socket absorbed), then no
    // subscriber any more.
    assert!(
        delivered > 0 && (delivered as usize) < MESSAGES,
        "messages delivered to the subscriber: {delivered} of {MESSAGES}"
    );
    assert_eq!(
        ctl.call(&["PUBSUB", "NUMSUB", "flood"]),
        Frame::Array(vec![Frame::Bulk("flood".into()), Frame::Integer(0)]),
        "the slow subscriber is gone"
    );
    if !subject_is_redis() {
        // Redis 7.0 has no such INFO field; MiniRedis reports it as Redis 7.2 does.
        let after = info_field(
            &mut ctl,
            "stats",
            "client_output_buffer_limit_disconnections",
        );
        assert_eq!(
            (disconnections_before, after),
            (Some(0), Some(1)),
            "INFO client_output_buffer_limit_disconnections"
        );
    }
    // The subscriber's socket: what the kernel had buffered, then the end.
    let mut drained = 0usize;
    let mut buf = vec![0u8; 1 << 20];
    loop {
        assert!(Instant::now() < deadline, "the subscriber was not closed");
        match sub.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => drained += n,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break,
            Err(e) => panic!("reading the subscriber's socket: {e}"),
        }
    }
    // Memory comes back: the queue was dropped at the disconnection.
    let mut after = used_memory(&mut ctl);
    let settle = Instant::now() + Duration::from_secs(5);
    while after > before + (2 << 20) && Instant::now() < settle {
        std::thread::sleep(Duration::from_millis(100));
        after = used_memory(&mut ctl);
    }
    note(&format!(
        "slow subscriber: used_memory before {before} B, peak seen {peak} B, after {after} B; \
         {delivered} messages ({delivered_mb} MiB) queued before the disconnection, \
         {drained} B read from the closed socket"
    ));
    assert!(
        peak >= before + (16 << 20),
        "the queue should have held tens of MB at its peak (before {before}, peak {peak})"
    );
    assert!(
        after <= before + (2 << 20),
        "used_memory did not come back: before {before}, after {after}"
    );
    // The server still serves.
    assert_eq!(publisher.call(&["PING"]), Frame::Simple("PONG".into()));
}

/// A subscriber idle on one connection receives what publishers on other connections
/// (other I/O threads) send, in order, with patterns, while it sends nothing.
#[test]
fn idle_subscribers_receive_from_many_publishers() {
    let node = Node::start(&["--io-threads", "4"]);
    let mut sub = RawClient::connect(node.addr()).expect("subscriber");
    sub.set_read_timeout(Duration::from_secs(10));
    assert_eq!(
        sub.call(&["SUBSCRIBE", "a"]),
        Frame::Array(vec![
            Frame::Bulk("subscribe".into()),
            Frame::Bulk("a".into()),
            Frame::Integer(1)
        ])
    );
    let addr = node.addr();
    let publishers: Vec<_> = (0..4)
        .map(|p| {
            std::thread::spawn(move || {
                let mut c = RawClient::connect(addr).expect("publisher");
                c.set_read_timeout(Duration::from_secs(10));
                for i in 0..250 {
                    let msg = format!("{p}:{i}");
                    assert_eq!(c.call(&["PUBLISH", "a", &msg]), Frame::Integer(1));
                }
            })
        })
        .collect();
    let mut last = [-1i64; 4];
    for _ in 0..1000 {
        let Frame::Array(parts) = sub.read_frame().expect("message") else {
            panic!("not a message");
        };
        assert_eq!(parts[0], Frame::Bulk("message".into()));
        let text = String::from_utf8_lossy(parts[2].as_bytes().unwrap_or_default()).into_owned();
        let (p, i) = text.split_once(':').expect("p:i");
        let (p, i): (usize, i64) = (p.parse().expect("p"), i.parse().expect("i"));
        assert_eq!(i, last[p] + 1, "messages of publisher {p} in order");
        last[p] = i;
    }
    for t in publishers {
        t.join().expect("publisher thread");
    }
    assert_eq!(last, [249; 4]);
}

/// A RESP3 subscriber blocked in BLPOP still receives its messages while it waits,
/// then the BLPOP reply when a list is pushed.
#[test]
fn a_blocked_resp3_subscriber_still_receives_messages() {
    let subject = miniredis_tests::start_subject(miniredis_tests::subject::test_config());
    let mut sub = subject.client();
    sub.set_read_timeout(Duration::from_secs(5));
    assert!(matches!(sub.call(&["HELLO", "3"]), Frame::Map(_)));
    let confirm = sub.call(&["SUBSCRIBE", "ch"]);
    assert!(matches!(confirm, Frame::Push(_)), "{confirm:?}");
    sub.send(&[b"BLPOP", b"list", b"5"]).expect("BLPOP");
    let mut other = subject.client();
    other.set_read_timeout(Duration::from_secs(5));
    // Wait until the BLPOP is blocked.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let f = other.call(&["INFO", "clients"]);
        let text = String::from_utf8_lossy(f.as_bytes().unwrap_or_default()).into_owned();
        if text.contains("blocked_clients:1") {
            break;
        }
        assert!(Instant::now() < deadline, "BLPOP did not block");
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(
        other.call(&["PUBLISH", "ch", "while-blocked"]),
        Frame::Integer(1)
    );
    assert_eq!(
        sub.read_frame().expect("the message"),
        Frame::Push(vec![
            Frame::Bulk("message".into()),
            Frame::Bulk("ch".into()),
            Frame::Bulk("while-blocked".into()),
        ])
    );
    assert_eq!(other.call(&["RPUSH", "list", "x"]), Frame::Integer(1));
    assert_eq!(
        sub.read_frame().expect("BLPOP's reply"),
        Frame::Array(vec![Frame::Bulk("list".into()), Frame::Bulk("x".into())])
    );
}
