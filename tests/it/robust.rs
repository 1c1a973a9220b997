//! Malformed and hostile input over raw TCP. Every case sends the same bytes to the
//! subject and to a real `redis-server` and requires the same outcome (the same reply
//! frames, error texts included, and whether the server closed the connection); after
//! each case the subject must still answer PING on a new connection.

use std::io::Write;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use miniredis_tests::{
    raw::RawClient, show, start_subject, subject::rss_bytes, subject::test_config, RedisServer,
    Reply, Subject,
};
use resp::Frame;

/// How long a server may take to answer and close after a case's bytes.
const CASE_TIMEOUT: Duration = Duration::from_secs(5);

/// What a server did with one connection's bytes.
#[derive(Debug, PartialEq)]
struct Outcome {
    /// Every reply frame, rendered (errors with their full text).
    replies: Vec<String>,
    /// Whether the server closed the connection (within [`CASE_TIMEOUT`]).
    closed: bool,
}

/// Who ends the connection in a case.
#[derive(Clone, Copy, PartialEq)]
enum End {
    /// The client half-closes after sending; the server answers what it got and closes.
    Client,
    /// The server must close by itself (a protocol error).
    Server,
}

/// Opens a connection, sends `payload` from a writer thread (the server may stop
/// reading midway), and collects replies until the server closes the connection or
/// the case times out.
fn exchange(addr: SocketAddr, payload: &[u8], end: End) -> Outcome {
    let mut c = RawClient::connect(addr).expect("connect");
    let mut w = c.stream().try_clone().expect("clone socket");
    let payload = payload.to_vec();
    let writer = std::thread::spawn(move || {
        // Errors are expected when the server closes first.
        let _ = w.write_all(&payload);
        if end == End::Client {
            let _ = w.shutdown(std::net::Shutdown::Write);
        }
    });
    let deadline = Instant::now() + CASE_TIMEOUT;
    let mut replies = Vec::new();
    let closed = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break false;
        }
        c.set_read_timeout(left);
        match c.read_reply() {
            Reply::Frame(f) => replies.push(show(&f)),
            Reply::Closed => break true,
            Reply::Timeout => break false,
            Reply::Malformed(m) => replies.push(format!("<malformed: {m}>")),
        }
    };
    drop(c);
    let _ = writer.join();
    Outcome { replies, closed }
}

fn assert_pings(addr: SocketAddr, who: &str, case: &str) {
    let mut c = RawClient::connect(addr)
        .unwrap_or_else(|e| panic!("{who} refuses connections after case {case}: {e}"));
    c.set_read_timeout(CASE_TIMEOUT);
    let r = c.request(&[b"PING"]);
    assert!(
        matches!(&r, Reply::Frame(Frame::Simple(s)) if &s[..] == b"PONG"),
        "{who} does not answer PING after case {case}: {r}"
    );
}

/// The reference and the subject, side by side. Mismatches are collected, so one run
/// reports every failing case; [`Pair::finish`] fails the test if there were any.
struct Pair {
    reference: RedisServer,
    subject: Subject,
    failures: std::cell::RefCell<Vec<String>>,
}

impl Pair {
    fn start() -> Self {
        Pair {
            reference: RedisServer::start(),
            subject: start_subject(test_config()),
            failures: Default::default(),
        }
    }

    fn start_with_password(password: &str) -> Self {
        let mut config = test_config();
        config.requirepass = Some(password.to_string());
        Pair {
            reference: RedisServer::start_with(&["--requirepass", password]),
            subject: start_subject(config),
            failures: Default::default(),
        }
    }

    /// Runs one case on both sides; returns the reference's outcome.
    fn case(&self, name: &str, payload: &[u8], end: End) -> Outcome {
        let want = exchange(self.reference.addr(), payload, end);
        let got = exchange(self.subject.addr(), payload, end);
        if end == End::Server {
            assert!(
                want.closed,
                "case {name}: redis-server did not close the connection (the case is wrong): {want:?}"
            );
        }
        if got != want {
            self.failures.borrow_mut().push(format!(
                "case {name}:\n  redis:   {want:?}\n  subject: {got:?}"
            ));
        }
        assert_pings(self.subject.addr(), self.subject.name(), name);
        assert_pings(self.reference.addr(), "redis-server", name);
        want
    }

    fn finish(self) {
        let failures = self.failures.into_inner();
        assert!(
            failures.is_empty(),
            "{} case(s) differ between {} and redis-server:\n{}",
            failures.len(),
            self.subject.name(),
            failures.join("\n")
        );
    }
}

#[test]
fn negative_zero_and_huge_lengths() {
    let p = Pair::start();
    let cases: &[(&str, &[u8], End)] = &[
        (
            "negative multibulk is ignored",
            b"*-5\r\nPING\r\n",
            End::Client,
        ),
        (
            "zero multibulk is ignored",
            b"*0\r\n*1\r\n$4\r\nPING\r\n",
            End::Client,
        ),
        ("multibulk -1", b"*-1\r\nPING\r\n", End::Client),
        ("bulk length -2", b"*1\r\n$-2\r\nPING\r\n", End::Server),
        ("bulk length -1", b"*1\r\n$-1\r\n", End::Server),
        ("multibulk 99999999999", b"*99999999999\r\n", End::Server),
        ("multibulk over INT_MAX", b"*2147483648\r\n", End::Server),
        ("bulk 2147483648", b"*1\r\n$2147483648\r\n", End::Server),
        (
            "bulk over proto-max-bulk-len",
            b"*1\r\n$536870913\r\n",
            End::Server,
        ),
        (
            "bulk 99999999999999999999",
            b"*1\r\n$99999999999999999999\r\n",
            End::Server,
        ),
        ("multibulk not a number", b"*abc\r\n", End::Server),
        ("multibulk with sign", b"*+1\r\n$4\r\nPING\r\n", End::Server),
        ("bulk not a number", b"*1\r\n$x\r\n", End::Server),
        ("bulk without $", b"*1\r\nPING\r\n", End::Server),
        (
            "second bulk without $",
            b"*2\r\n$4\r\nECHO\r\n:5\r\n",
            End::Server,
        ),
        ("empty command name", b"*1\r\n$0\r\n\r\n", End::Client),
        (
            "bulk followed by junk instead of CRLF",
            b"*1\r\n$4\r\nPINGxx*1\r\n$4\r\nPING\r\n",
            End::Client,
        ),
        (
            "error stops the pipeline",
            b"PING\r\n*1\r\n$-7\r\nPING\r\n",
            End::Server,
        ),
    ];
    for (name, payload, end) in cases {
        p.case(name, payload, *end);
    }
    p.finish();
}

#[test]
fn truncated_frames_then_close() {
    let p = Pair::start();
    let cases: &[(&str, &[u8])] = &[
        ("multibulk header only", b"*2\r\n"),
        ("header without CRLF", b"*2"),
        ("half a bulk header", b"*2\r\n$3\r\nSET\r\n$1"),
        ("bulk missing payload", b"*2\r\n$4\r\nECHO\r\n$10\r\nabc"),
        ("bulk missing CRLF", b"*1\r\n$4\r\nPING"),
        (
            "answered command then a truncated one",
            b"*1\r\n$4\r\nPING\r\n*3\r\n$3\r\nSET\r\n",
        ),
        ("inline without newline", b"PING"),
        ("lone CR", b"PING\r"),
    ];
    for (name, payload) in cases {
        p.case(name, payload, End::Client);
    }
    p.finish();
}

#[test]
fn inline_commands_and_quotes() {
    let p = Pair::start();
    let cases: &[(&str, &[u8], End)] = &[
        ("inline PING", b"PING\r\n", End::Client),
        ("inline with LF only", b"PING\nECHO hi\n", End::Client),
        ("empty inline lines", b"\r\n\n  \r\nPING\r\n", End::Client),
        (
            "inline quoting",
            b"ECHO \"a b\\x41\\n\" 'c d'\r\n",
            End::Client,
        ),
        ("inline unknown command", b"NOSUCH a b c\r\n", End::Client),
        ("inline wrong arity", b"GET\r\n", End::Client),
        (
            "unbalanced double quote",
            b"SET \"foo bar\r\nPING\r\n",
            End::Server,
        ),
        ("unbalanced single quote", b"ECHO 'x\r\n", End::Server),
        ("quote glued to a word", b"ECHO \"a\"b\r\n", End::Server),
        ("inline bulk header", b"$5\r\nabcde\r\n", End::Client),
    ];
    for (name, payload, end) in cases {
        p.case(name, payload, *end);
    }
    p.finish();
}

#[test]
fn binary_garbage() {
    let p = Pair::start();
    let all_bytes: Vec<u8> = (0u8..=255).filter(|b| *b != b'\n' && *b != b'\r').collect();
    let mut with_newline = all_bytes.clone();
    with_newline.extend_from_slice(b"\r\n");
    // A fixed pseudo-random sequence (xorshift), so failures reproduce.
    let mut x: u32 = 0x9e37_79b9;
    let noise: Vec<u8> = (0..4096)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            (x & 0xff) as u8
        })
        .filter(|b| *b != b'\n' && *b != b'\r' && *b != b'"' && *b != b'\'')
        .take(1000)
        .collect();
    let mut noise_line = noise.clone();
    noise_line.extend_from_slice(b"\n");
    let cases: Vec<(&str, Vec<u8>, End)> = vec![
        ("NUL bytes", b"\x00\x00\x00\r\n".to_vec(), End::Client),
        ("high bytes", b"\xff\xfe\xfd\r\n".to_vec(), End::Client),
        ("every byte but CR/LF", with_newline, End::Client),
        ("noise line", noise_line, End::Client),
        ("noise, no newline", noise, End::Client),
        (
            "multibulk with binary name",
            b"*2\r\n$3\r\n\x00\x01\x02\r\n$1\r\n\xff\r\n".to_vec(),
            End::Client,
        ),
    ];
    for (name, payload, end) in &cases {
        p.case(name, payload, *end);
    }
    p.finish();
}

#[test]
fn too_big_inline_request() {
    let p = Pair::start();
    let line = vec![b'a'; 1024 * 1024];
    let want = p.case("1 MB inline line without newline", &line, End::Server);
    assert_eq!(
        want.replies,
        vec!["-ERR Protocol error: too big inline request".to_string()]
    );
    // Past the 64 KB inline limit even with a newline at the end (Redis notices once
    // more than 64 KB without one has arrived), and well under it.
    let mut big = vec![b'x'; 128 * 1024];
    big.extend_from_slice(b"\r\n");
    p.case("inline line of 128 KB", &big, End::Server);
    let mut ok = b"ECHO ".to_vec();
    ok.extend(std::iter::repeat_n(b'y', 60 * 1024));
    ok.extend_from_slice(b"\r\n");
    p.case("inline line of 60 KB", &ok, End::Client);
    p.finish();
}

#[test]
fn unauthenticated_limits() {
    let p = Pair::start_with_password("s3cret");
    let mut huge_bulk = b"*1\r\n$16385\r\n".to_vec();
    huge_bulk.extend(std::iter::repeat_n(b'x', 100));
    let cases: Vec<(&str, Vec<u8>, End)> = vec![
        ("unauthenticated *11", b"*11\r\n".to_vec(), End::Server),
        ("unauthenticated *10 is fine", b"*10\r\n".to_vec(), End::Client),
        ("unauthenticated bulk 16385", huge_bulk, End::Server),
        ("unauthenticated command", b"*1\r\n$4\r\nPING\r\n".to_vec(), End::Client),
        (
            "authenticated *11",
            b"*2\r\n$4\r\nAUTH\r\n$6\r\ns3cret\r\n*11\r\n$4\r\nMSET\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nb\r\n$1\r\n2\r\n$1\r\nc\r\n$1\r\n3\r\n$1\r\nd\r\n$1\r\n4\r\n$1\r\ne\r\n$1\r\n5\r\n"
                .to_vec(),
            End::Client,
        ),
    ];
    for (name, payload, end) in &cases {
        let want = exchange(p.reference.addr(), payload, *end);
        let got = exchange(p.subject.addr(), payload, *end);
        assert_eq!(
            got, want,
            "case {name}: subject differs from redis-server (left: subject)"
        );
        if *end == End::Server {
            assert!(want.closed, "case {name}: redis-server did not close");
        }
        // PING needs AUTH here: both servers must still accept and answer.
        for addr in [p.subject.addr(), p.reference.addr()] {
            let mut c = RawClient::connect(addr).expect("connect after case");
            let r = c.call(&["AUTH", "s3cret"]);
            assert_eq!(show(&r), "+OK", "case {name}");
            assert_eq!(show(&c.call(&["PING"])), "+PONG", "case {name}");
        }
    }
    let mut c = RawClient::connect(p.subject.addr()).expect("connect");
    let r = c.call(&["GET", "a"]);
    assert_eq!(show(&r), "-NOAUTH Authentication required.");
}

#[test]
fn deep_pipeline_is_answered_fully_and_in_order() {
    const N: usize = 10_000;
    let subject = start_subject(test_config());
    let mut c = subject.client();
    let mut payload = Vec::with_capacity(N * 40);
    for i in 0..N {
        if i % 2 == 0 {
            payload.extend_from_slice(&Frame::command(&[b"INCR", b"counter"]));
        } else {
            payload.extend_from_slice(format!("ECHO {i}\r\n").as_bytes());
        }
    }
    let mut w = c.stream().try_clone().expect("clone");
    let writer = std::thread::spawn(move || w.write_all(&payload));
    let started = Instant::now();
    for i in 0..N {
        let f = c
            .read_frame()
            .unwrap_or_else(|e| panic!("reply {i} of {N}: {e}"));
        let want = if i % 2 == 0 {
            Frame::Integer(i as i64 / 2 + 1)
        } else {
            Frame::Bulk(i.to_string().into())
        };
        assert_eq!(f, want, "reply {i} of {N} out of order or wrong");
    }
    writer
        .join()
        .expect("writer thread")
        .expect("writing the pipeline");
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "a {N}-command pipeline took {:?}",
        started.elapsed()
    );
    assert_eq!(
        c.call(&["GET", "counter"]),
        Frame::Bulk((N / 2).to_string().into())
    );
}

#[test]
fn huge_bulk_claim_keeps_memory_bounded() {
    let p = Pair::start();
    let payload = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$524288000\r\n0123456789";
    let pid = p.subject.pid();
    let before = rss_bytes(pid).expect("reading VmRSS");
    // Several clients each claim 500 MB and send 10 bytes, and stay connected a while.
    let mut held = Vec::new();
    for _ in 0..4 {
        let mut c = p.subject.client();
        c.send_raw(payload).expect("send");
        held.push(c);
    }
    std::thread::sleep(Duration::from_millis(300));
    assert_pings(p.subject.addr(), p.subject.name(), "500 MB claims pending");
    let during = rss_bytes(pid).expect("reading VmRSS");
    drop(held);
    // And once more, closing at once, compared with Redis.
    p.case("500 MB bulk claim, 10 bytes sent", payload, End::Client);
    std::thread::sleep(Duration::from_millis(200));
    let after = rss_bytes(pid).expect("reading VmRSS");
    let limit = 64 * 1024 * 1024;
    assert!(
        during.saturating_sub(before) < limit && after.saturating_sub(before) < limit,
        "{} memory grew from {before} to {during} bytes (then {after}) for 500 MB claims with 10 bytes sent",
        p.subject.name()
    );
    let mut c = p.subject.client();
    assert_eq!(show(&c.call(&["EXISTS", "k"])), ":0");
    p.finish();
}
