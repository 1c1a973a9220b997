//! Blocking list commands woken by other clients, compared with Redis 7.0: each
//! scenario runs on both servers with several connections, and every reply, in the
//! order the scenario reads them, must match (a case file cannot express this: it
//! runs one command at a time and waits for its reply).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use miniredis_tests::{
    raw::RawClient, show, start_subject, subject::test_config, RedisServer, Reply,
};
use resp::Frame;

/// One step of a scenario.
enum Step {
    /// Send a command on connection `conn` and read its reply now.
    Call(usize, &'static str),
    /// Send a command on `conn` that blocks: its reply is read by a later `Read`.
    Send(usize, &'static str),
    /// Read the pending reply of `conn` (waiting up to 5 s).
    Read(usize),
    /// Check that `conn` has no reply yet (within 100 ms): it is still blocked.
    Quiet(usize),
    /// Wait (up to 5 s) until the server reports this many blocked clients, so a push
    /// that follows finds its waiters registered however slow the machine is.
    Blocked(usize),
}

use Step::*;

fn words(cmd: &str) -> Vec<&[u8]> {
    cmd.split(' ').map(str::as_bytes).collect()
}

/// Runs a scenario on one server; returns a transcript line per reply.
fn run(addr: SocketAddr, steps: &[Step]) -> Vec<String> {
    let mut conns: Vec<RawClient> = Vec::new();
    let mut log = Vec::new();
    let conn = |conns: &mut Vec<RawClient>, i: usize| -> usize {
        while conns.len() <= i {
            let mut c = RawClient::connect(addr).expect("connect");
            c.set_read_timeout(Duration::from_secs(5));
            conns.push(c);
        }
        i
    };
    let render = |r: Reply| match r {
        Reply::Frame(f) => show(&f),
        other => format!("{other}"),
    };
    conn(&mut conns, 0);
    conns[0].call(&["FLUSHALL"]);
    for step in steps {
        match *step {
            Call(i, cmd) => {
                let i = conn(&mut conns, i);
                let r = conns[i].request(&words(cmd));
                log.push(format!("[{i}] {cmd} -> {}", render(r)));
            }
            Send(i, cmd) => {
                let i = conn(&mut conns, i);
                conns[i].send(&words(cmd)).expect("send");
                log.push(format!("[{i}] {cmd} (sent)"));
            }
            Read(i) => {
                let r = conns[i].read_reply();
                log.push(format!("[{i}] -> {}", render(r)));
            }
            Quiet(i) => {
                conns[i].set_read_timeout(Duration::from_millis(100));
                let r = conns[i].read_reply();
                conns[i].set_read_timeout(Duration::from_secs(5));
                log.push(format!("[{i}] quiet: {}", render(r)));
            }
            Blocked(n) => {
                let want = format!("blocked_clients:{n}\r\n");
                let deadline = Instant::now() + Duration::from_secs(5);
                loop {
                    let seen = match conns[0].request(&words("INFO clients")) {
                        Reply::Frame(Frame::Bulk(b)) => String::from_utf8_lossy(&b).contains(&want),
                        _ => false,
                    };
                    if seen || Instant::now() > deadline {
                        log.push(format!("blocked {n}: {seen}"));
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(5));
                }
            }
        }
    }
    log
}

fn compare(name: &str, steps: &[Step]) {
    let redis = RedisServer::start();
    let subject = start_subject(test_config());
    let want = run(redis.addr(), steps);
    let got = run(subject.addr(), steps);
    assert_eq!(
        got,
        want,
        "{name}: {} differs from redis-server",
        subject.name()
    );
}

#[test]
fn pushes_wake_blocked_pops_in_arrival_order() {
    compare(
        "fifo",
        &[
            Send(1, "BLPOP k 5"),
            Blocked(1),
            Send(2, "BRPOP other k 5"),
            Blocked(2),
            Quiet(1),
            Call(0, "RPUSH k a b c"),
            Read(1),
            Read(2),
            Call(0, "LRANGE k 0 -1"),
            Call(0, "LPUSH k x"),
            Call(0, "LLEN k"),
            // Pushing to a key nobody waits on leaves the others blocked.
            Send(1, "BLPOP k2 k3 5"),
            Blocked(1),
            Call(0, "RPUSH k4 v"),
            Quiet(1),
            Call(0, "LPUSH k3 1 2"),
            Read(1),
            Call(0, "LRANGE k3 0 -1"),
        ],
    );
}

#[test]
fn the_last_element_deletes_the_key() {
    compare(
        "delete",
        &[
            Send(1, "BLPOP k 5"),
            Blocked(1),
            Call(0, "RPUSH k only"),
            Read(1),
            Call(0, "EXISTS k"),
        ],
    );
}

#[test]
fn blmove_and_brpoplpush_chain() {
    compare(
        "chain",
        &[
            Send(1, "BLMOVE src mid LEFT RIGHT 5"),
            Blocked(1),
            Send(2, "BRPOPLPUSH mid dst 5"),
            Blocked(2),
            Send(3, "BLPOP dst 5"),
            Blocked(3),
            Call(0, "RPUSH src v1 v2"),
            Read(1),
            Read(2),
            Read(3),
            Call(0, "LRANGE src 0 -1"),
            Call(0, "EXISTS mid dst"),
            // A rotation within one list, woken by its own key.
            Send(1, "BLMOVE rot rot LEFT RIGHT 5"),
            Blocked(1),
            Call(0, "RPUSH rot a"),
            Read(1),
            Call(0, "LRANGE rot 0 -1"),
            // Two waiters, one element: the second keeps waiting for the next push.
            Send(1, "BRPOPLPUSH one two 5"),
            Blocked(1),
            Send(2, "BRPOPLPUSH one three 5"),
            Blocked(2),
            Call(0, "LPUSH one x"),
            Read(1),
            Quiet(2),
            Call(0, "LPUSH one y"),
            Read(2),
            Call(0, "LRANGE two 0 -1"),
            Call(0, "LRANGE three 0 -1"),
        ],
    );
}

#[test]
fn blmpop_takes_count_elements_from_the_key_that_got_them() {
    compare(
        "blmpop",
        &[
            Send(1, "BLMPOP 5 2 a b RIGHT COUNT 2"),
            Blocked(1),
            Call(0, "RPUSH b 1 2 3"),
            Read(1),
            Call(0, "LRANGE b 0 -1"),
            Send(1, "BLMPOP 5 1 c LEFT"),
            Blocked(1),
            Call(0, "RPUSH c x y"),
            Read(1),
        ],
    );
}

#[test]
fn a_key_turned_string_is_skipped_when_another_key_serves() {
    compare(
        "skip",
        &[
            Send(1, "BLPOP a b 5"),
            Blocked(1),
            Call(0, "SET a x"),
            Quiet(1),
            Call(0, "RPUSH b v"),
            Read(1),
            Send(1, "BLMPOP 5 2 c d LEFT COUNT 2"),
            Blocked(1),
            Call(0, "SET c x"),
            Call(0, "RPUSH d 1 2 3"),
            Read(1),
            // Blocking again now fails at once on the string met first.
            Call(1, "BLPOP a b 0.01"),
        ],
    );
}

#[test]
fn a_list_renamed_or_copied_into_place_serves() {
    compare(
        "rename",
        &[
            Send(1, "BLPOP k 5"),
            Blocked(1),
            Call(0, "RPUSH tmp v w"),
            Call(0, "RENAME tmp k"),
            Read(1),
            Call(0, "LRANGE k 0 -1"),
            Send(1, "BRPOP k2 5"),
            Blocked(1),
            Call(0, "COPY k k2"),
            Read(1),
            Call(0, "LRANGE k2 0 -1"),
        ],
    );
}

#[test]
fn timeouts_and_other_types() {
    compare(
        "timeouts",
        &[
            Send(1, "BLPOP none 0.1"),
            Read(1),
            Send(1, "BLMOVE none d LEFT LEFT 0.1"),
            Read(1),
            Send(1, "BLMPOP 0.1 1 none LEFT COUNT 2"),
            Read(1),
            // A string written to the key does not serve the list waiter.
            Send(1, "BLPOP w 0.3"),
            Blocked(1),
            Call(0, "SET w str"),
            Quiet(1),
            Read(1),
            // BLMOVE blocked while its destination turns into a string: the element
            // comes back to the source and the waiter gets WRONGTYPE.
            Send(1, "BLMOVE s2 d2 LEFT LEFT 5"),
            Blocked(1),
            Call(0, "SET d2 str"),
            Call(0, "RPUSH s2 e"),
            Read(1),
            Call(0, "LRANGE s2 0 -1"),
        ],
    );
}
