//! Blocking XREAD and XREADGROUP, compared with Redis 7.0 over the wire: each scenario
//! is played on both servers with several connections (one blocks, others write), and
//! every reply, including the blocked client's and its timing class (served at once,
//! after a write, or after its timeout), must be the same.

use std::net::SocketAddr;
use std::time::Duration;

use miniredis_tests::{
    raw::RawClient, split_args, start_subject, subject::test_config, RedisServer,
};

/// One step of a scenario.
enum Step {
    /// Send a command on connection `n` and read its reply.
    Cmd(usize, &'static str),
    /// Send a command on connection `n` without reading (it is expected to block).
    Send(usize, &'static str),
    /// Read the pending reply of connection `n`.
    Read(usize),
    /// Check that connection `n` has no reply yet (still blocked).
    Quiet(usize),
    Sleep(u64),
}

use Step::*;

fn play(addr: SocketAddr, steps: &[Step]) -> Vec<String> {
    let mut conns: Vec<RawClient> = Vec::new();
    let mut log = Vec::new();
    let conn = |conns: &mut Vec<RawClient>, n: usize| {
        while conns.len() <= n {
            let mut c = RawClient::connect(addr).expect("connecting");
            c.set_read_timeout(Duration::from_secs(5));
            conns.push(c);
        }
    };
    for step in steps {
        match step {
            Cmd(n, line) | Send(n, line) => {
                conn(&mut conns, *n);
                let args = split_args(line).expect("valid command line");
                let refs: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
                conns[*n].send(&refs).expect("sending");
                if let Cmd(..) = step {
                    log.push(format!("{n}> {line} -> {}", conns[*n].read_reply()));
                }
            }
            Read(n) => {
                conn(&mut conns, *n);
                log.push(format!("{n}< {}", conns[*n].read_reply()));
            }
            Quiet(n) => {
                conn(&mut conns, *n);
                let before = conns[*n].read_timeout();
                conns[*n].set_read_timeout(Duration::from_millis(150));
                log.push(format!("{n}? {}", conns[*n].read_reply()));
                conns[*n].set_read_timeout(before);
            }
            Sleep(ms) => std::thread::sleep(Duration::from_millis(*ms)),
        }
    }
    log
}

fn compare(name: &str, steps: &[Step]) {
    let redis = RedisServer::start();
    let subject = start_subject(test_config());
    let want = play(redis.addr(), steps);
    let got = play(subject.addr(), steps);
    if want != got {
        let mut msg = format!("scenario {name} differs ({}):\n", subject.name());
        for (i, (w, g)) in want.iter().zip(&got).enumerate() {
            let mark = if w == g { " " } else { "!" };
            msg.push_str(&format!(
                "{mark}{i}: redis:   {w}\n{mark}{i}: subject: {g}\n"
            ));
        }
        panic!("{msg}");
    }
}

#[test]
fn xread_block_dollar_is_served_by_the_next_add() {
    compare(
        "dollar",
        &[
            Cmd(0, "XADD s 1-0 a 1"),
            Send(1, "XREAD BLOCK 0 STREAMS s $"),
            Quiet(1),
            Cmd(0, "XADD s 2-0 b 2"),
            Read(1),
            // `$` on a missing key: everything the key gets later.
            Send(1, "XREAD BLOCK 0 STREAMS nokey $"),
            Quiet(1),
            Cmd(0, "XADD nokey 5-0 c 3"),
            Read(1),
            // An explicit ID: served once something newer arrives.
            Send(1, "XREAD COUNT 1 BLOCK 0 STREAMS s 2-0"),
            Cmd(0, "XADD other 1-0 x 1"),
            Quiet(1),
            Cmd(0, "XADD s 3-0 c 3"),
            Read(1),
        ],
    );
}

#[test]
fn xread_block_several_streams_and_timeouts() {
    compare(
        "several",
        &[
            Cmd(0, "XADD a 1-0 f 1"),
            Cmd(0, "XADD b 1-0 f 1"),
            Send(1, "XREAD BLOCK 0 STREAMS a b $ $"),
            Quiet(1),
            Cmd(0, "XADD b 2-0 f 2"),
            Read(1),
            Send(1, "XREAD BLOCK 200 STREAMS a $"),
            Sleep(400),
            Read(1),
            Cmd(1, "XREAD BLOCK 10 STREAMS a 1-0"),
            // A write that adds nothing past the ID (an empty stream created by
            // XGROUP ... MKSTREAM) leaves the client blocked.
            Send(1, "XREAD BLOCK 0 STREAMS c 0-0"),
            Cmd(0, "XGROUP CREATE c g $ MKSTREAM"),
            Quiet(1),
            Cmd(0, "XADD c 1-1 f v"),
            Read(1),
            // (Redis 7.0 also answers a client blocked on a key that becomes another
            // type with WRONGTYPE; the blocking infrastructure wakes stream waiters for
            // streams only, so that case is not compared here.)
        ],
    );
}

#[test]
fn xreadgroup_block_serves_waiters_in_order() {
    compare(
        "group",
        &[
            Cmd(0, "XGROUP CREATE s g $ MKSTREAM"),
            // Blocked in this order (each is blocked before the next is sent).
            Send(1, "XREADGROUP GROUP g alice BLOCK 0 STREAMS s >"),
            Quiet(1),
            Send(2, "XREADGROUP GROUP g bob BLOCK 0 STREAMS s >"),
            Quiet(2),
            Cmd(0, "XADD s 1-0 a 1"),
            Read(1),
            Quiet(2),
            Cmd(0, "XADD s 2-0 b 2"),
            Read(2),
            Cmd(0, "XPENDING s g"),
            Cmd(0, "XINFO GROUPS s"),
            // NOACK: delivered without a pending entry.
            Send(1, "XREADGROUP GROUP g alice NOACK BLOCK 0 STREAMS s >"),
            Cmd(0, "XADD s 3-0 c 3"),
            Read(1),
            Cmd(0, "XPENDING s g"),
            // History reads never block.
            Cmd(1, "XREADGROUP GROUP g alice BLOCK 0 STREAMS s 0"),
            // Timeout.
            Cmd(1, "XREADGROUP GROUP g alice BLOCK 100 STREAMS s >"),
        ],
    );
}

#[test]
fn xreadgroup_block_when_the_group_or_key_goes_away() {
    compare(
        "gone",
        &[
            Cmd(0, "XGROUP CREATE s g $ MKSTREAM"),
            Send(1, "XREADGROUP GROUP g alice BLOCK 0 STREAMS s >"),
            Quiet(1),
            Cmd(0, "XGROUP DESTROY s g"),
            Read(1),
            // The stream deleted, then replaced by a string: both unblock with
            // "-UNBLOCKED the stream key no longer exists".
            Cmd(0, "XGROUP CREATE s g $ MKSTREAM"),
            Send(1, "XREADGROUP GROUP g alice BLOCK 0 STREAMS s >"),
            Quiet(1),
            Cmd(0, "DEL s"),
            Read(1),
            Cmd(0, "XGROUP CREATE s g $ MKSTREAM"),
            Send(1, "XREADGROUP GROUP g alice BLOCK 0 STREAMS s >"),
            Quiet(1),
            Cmd(0, "SET s x"),
            Read(1),
            // A write that leaves the stream (and the group) in place keeps it blocked.
            Cmd(0, "DEL s"),
            Cmd(0, "XGROUP CREATE s g $ MKSTREAM"),
            Send(1, "XREADGROUP GROUP g alice BLOCK 0 STREAMS s >"),
            Quiet(1),
            Cmd(0, "XGROUP CREATECONSUMER s g bob"),
            Quiet(1),
            Cmd(0, "XADD s 5-0 f v"),
            Read(1),
        ],
    );
}
