//! Client-side caching with several connections and real client ids (which a case
//! file cannot name): REDIRECT to a RESP2 subscriber of `__redis__:invalidate` and to
//! a RESP3 client, the redirect target going away (`tracking-redir-broken`, flag `R`,
//! `broken_redirect`), CLIENT LIST `t`/`redir=`, and a tracking client blocked in
//! BLPOP receiving its invalidation. Each scenario runs on redis-server and the
//! subject; the transcripts (ids replaced by names) must be equal.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use miniredis_tests::raw::Reply;
use miniredis_tests::subject::{start_subject, test_config};
use miniredis_tests::{show, RawClient, RedisServer};
use resp::Frame;

fn connect(addr: SocketAddr) -> RawClient {
    let mut c = RawClient::connect(addr).expect("connect");
    c.set_read_timeout(Duration::from_secs(5));
    c
}

fn id_of(c: &mut RawClient) -> i64 {
    match c.call(&["CLIENT", "ID"]) {
        Frame::Integer(n) => n,
        other => panic!("CLIENT ID: {}", show(&other)),
    }
}

/// A reply as text, with the given ids (integers anywhere in it) written as names.
fn named(f: &Frame, ids: &[(i64, &str)]) -> String {
    fn swap(f: &Frame, ids: &[(i64, &str)]) -> Frame {
        match f {
            Frame::Integer(n) => match ids.iter().find(|(i, _)| i == n) {
                Some((_, name)) => Frame::Simple(format!("<{name}>").into_bytes().into()),
                None => f.clone(),
            },
            Frame::Array(v) => Frame::Array(v.iter().map(|x| swap(x, ids)).collect()),
            Frame::Push(v) => Frame::Push(v.iter().map(|x| swap(x, ids)).collect()),
            Frame::Set(v) => Frame::Set(v.iter().map(|x| swap(x, ids)).collect()),
            Frame::Map(v) => Frame::Map(
                v.iter()
                    .map(|(k, x)| (swap(k, ids), swap(x, ids)))
                    .collect(),
            ),
            other => other.clone(),
        }
    }
    show(&swap(f, ids))
}

/// `flags=` and `redir=` of client `id` in CLIENT LIST, `redir` as a name.
fn list_fields(w: &mut RawClient, id: i64, ids: &[(i64, &str)]) -> String {
    let text = match w.call(&["CLIENT", "LIST"]) {
        Frame::Bulk(b) | Frame::Verbatim { text: b, .. } => {
            String::from_utf8_lossy(&b).into_owned()
        }
        other => panic!("CLIENT LIST: {}", show(&other)),
    };
    let line = text
        .lines()
        .find(|l| l.starts_with(&format!("id={id} ")))
        .unwrap_or_else(|| panic!("no client {id} in {text}"));
    let field = |name: &str| {
        line.split(' ')
            .find_map(|f| f.strip_prefix(&format!("{name}=")))
            .unwrap_or("?")
            .to_string()
    };
    let redir = field("redir");
    let redir = ids
        .iter()
        .find(|(i, _)| i.to_string() == redir)
        .map(|(_, n)| format!("<{n}>"))
        .unwrap_or(redir);
    format!("flags={} redir={redir}", field("flags"))
}

/// Waits until client `id` is gone from CLIENT LIST.
fn wait_gone(w: &mut RawClient, id: i64) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        let text = show(&w.call(&["CLIENT", "LIST"]));
        if !text.contains(&format!("id={id} ")) {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!("client {id} did not go");
}

fn read(c: &mut RawClient, ids: &[(i64, &str)]) -> String {
    match c.read_reply() {
        Reply::Frame(f) => named(&f, ids),
        other => format!("{other}"),
    }
}

fn scenario(addr: SocketAddr) -> Vec<String> {
    let mut t = Vec::new();
    let mut w = connect(addr);
    // RESP2: redirected to a subscriber of __redis__:invalidate.
    let mut sub = connect(addr);
    let sid = id_of(&mut sub);
    sub.call(&["SUBSCRIBE", "__redis__:invalidate"]);
    let mut tr = connect(addr);
    let tid = id_of(&mut tr);
    let ids = [(sid, "sub"), (tid, "tracker")];
    let s = sid.to_string();
    t.push(named(
        &tr.call(&["CLIENT", "TRACKING", "on", "REDIRECT", &s]),
        &ids,
    ));
    t.push(named(
        &tr.call(&["CLIENT", "TRACKING", "on", "REDIRECT", &s, "REDIRECT", &s]),
        &ids,
    ));
    t.push(named(&tr.call(&["CLIENT", "GETREDIR"]), &ids));
    t.push(named(&tr.call(&["CLIENT", "TRACKINGINFO"]), &ids));
    t.push(list_fields(&mut w, tid, &ids));
    t.push(named(&tr.call(&["MGET", "k", "j"]), &[]));
    t.push(named(&w.call(&["SET", "k", "1"]), &[]));
    t.push(read(&mut sub, &[]));
    t.push(named(&w.call(&["DEL", "j"]), &[]));
    t.push(named(&w.call(&["RPUSH", "j", "a"]), &[]));
    t.push(read(&mut sub, &[]));
    t.push(named(&w.call(&["FLUSHDB"]), &[]));
    t.push(read(&mut sub, &[]));
    // The subscriber leaves: the next invalidation finds no one, the redirect is broken.
    drop(sub);
    wait_gone(&mut w, sid);
    t.push(named(&tr.call(&["GET", "k"]), &[]));
    t.push(named(&w.call(&["SET", "k", "2"]), &[]));
    t.push(named(&tr.call(&["CLIENT", "TRACKINGINFO"]), &ids));
    t.push(list_fields(&mut w, tid, &ids));
    t.push(named(&tr.call(&["CLIENT", "TRACKING", "off"]), &ids));
    t.push(list_fields(&mut w, tid, &ids));

    // RESP3: redirected to a RESP3 client (not subscribed), then broken (a push).
    let mut target = connect(addr);
    let gid = id_of(&mut target);
    target.call(&["HELLO", "3"]);
    let mut r3 = connect(addr);
    let rid = id_of(&mut r3);
    r3.call(&["HELLO", "3"]);
    let ids = [(gid, "target"), (rid, "resp3")];
    let g = gid.to_string();
    t.push(named(
        &r3.call(&["CLIENT", "TRACKING", "on", "REDIRECT", &g]),
        &ids,
    ));
    t.push(named(&r3.call(&["GET", "x"]), &[]));
    t.push(named(&w.call(&["SET", "x", "1"]), &[]));
    t.push(read(&mut target, &[]));
    t.push(named(&r3.call(&["GET", "x"]), &[]));
    drop(target);
    wait_gone(&mut w, gid);
    t.push(named(&w.call(&["SET", "x", "2"]), &[]));
    t.push(read(&mut r3, &ids));
    t.push(list_fields(&mut w, rid, &ids));
    t.push(named(&r3.call(&["CLIENT", "TRACKING", "off"]), &ids));

    // A tracking client blocked in BLPOP hears its invalidation while it waits.
    let mut b = connect(addr);
    b.call(&["HELLO", "3"]);
    t.push(named(&b.call(&["CLIENT", "TRACKING", "on"]), &[]));
    t.push(named(&b.call(&["GET", "y"]), &[]));
    b.send(&[b"BLPOP", b"nothing", b"1"]).expect("send");
    std::thread::sleep(Duration::from_millis(100));
    t.push(named(&w.call(&["SET", "y", "1"]), &[]));
    t.push(read(&mut b, &[]));
    t.push(read(&mut b, &[]));
    t
}

#[test]
fn redirections_and_blocked_trackers_match_redis() {
    let redis = RedisServer::start();
    let subject = start_subject(test_config());
    let expected = scenario(redis.addr());
    let got = scenario(subject.addr());
    for (i, (e, g)) in expected.iter().zip(&got).enumerate() {
        assert_eq!(e, g, "step {i}: redis-server vs {}", subject.name());
    }
    assert_eq!(expected.len(), got.len());
    for line in &got {
        println!("{line}");
    }
}
