//! Randomized differential test of the list commands: seeded sequences of pushes,
//! pops, ranges, LSET/LINSERT/LREM/LTRIM/LPOS, moves and LMPOP over a few keys (lists
//! long enough to span many nodes, elements from one byte to past a node's size, and
//! a string key for WRONGTYPE), run on redis-server and the subject; every reply must
//! match. A mismatch prints the seed, the step and the commands before it.

use std::time::Duration;

use miniredis_tests::{
    raw::RawClient, show, start_subject, subject::test_config, RedisServer, Reply,
};

/// xorshift64*: deterministic, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn pick<'a>(&mut self, v: &[&'a str]) -> &'a str {
        v[self.below(v.len() as u64) as usize]
    }

    fn int(&mut self, lo: i64, hi: i64) -> i64 {
        lo + self.below((hi - lo + 1) as u64) as i64
    }
}

const KEYS: &[&str] = &["l1", "l2", "l3", "str"];

fn value(r: &mut Rng) -> String {
    match r.below(40) {
        0 => "x".repeat(300),
        1 => "y".repeat(9000),
        2 => String::new(),
        _ => r.pick(&["a", "b", "c", "d", "1", "22"]).to_string(),
    }
}

fn index(r: &mut Rng, spread: i64) -> String {
    match r.below(20) {
        0 => "9223372036854775807".into(),
        1 => "-9223372036854775808".into(),
        _ => r.int(-spread, spread).to_string(),
    }
}

fn command(r: &mut Rng) -> Vec<String> {
    let key = r.pick(KEYS).to_string();
    let other = r.pick(KEYS).to_string();
    let end = |r: &mut Rng| r.pick(&["LEFT", "RIGHT"]).to_string();
    let mut c: Vec<String> = Vec::new();
    match r.below(26) {
        0..=8 => {
            c.push(r.pick(&["LPUSH", "RPUSH", "LPUSHX", "RPUSHX"]).into());
            c.push(key);
            let n = if r.below(4) == 0 { 80 } else { 1 + r.below(3) };
            for _ in 0..n {
                c.push(value(r));
            }
        }
        9 | 10 => {
            c.push(r.pick(&["LPOP", "RPOP"]).into());
            c.push(key);
            if r.below(2) == 0 {
                c.push(r.int(0, 5).to_string());
            }
        }
        11 => c.extend(["LLEN".into(), key]),
        12 => c.extend(["LRANGE".into(), key, index(r, 600), index(r, 600)]),
        13 => c.extend(["LINDEX".into(), key, index(r, 600)]),
        14 => c.extend(["LSET".into(), key, index(r, 600), value(r)]),
        15 => c.extend([
            "LINSERT".into(),
            key,
            r.pick(&["BEFORE", "AFTER"]).into(),
            value(r),
            value(r),
        ]),
        16 => c.extend(["LREM".into(), key, r.int(-3, 3).to_string(), value(r)]),
        17 => c.extend(["LTRIM".into(), key, index(r, 900), index(r, 900)]),
        18 => {
            c.extend(["LPOS".into(), key, value(r)]);
            if r.below(2) == 0 {
                let rank = r.int(-3, 3);
                c.extend(["RANK".into(), if rank == 0 { 1 } else { rank }.to_string()]);
            }
            if r.below(2) == 0 {
                c.extend(["COUNT".into(), r.int(0, 3).to_string()]);
            }
            if r.below(3) == 0 {
                c.extend(["MAXLEN".into(), r.int(0, 50).to_string()]);
            }
        }
        19 | 20 => c.extend(["LMOVE".into(), key, other, end(r), end(r)]),
        21 => c.extend(["RPOPLPUSH".into(), key, other]),
        22 => {
            c.extend(["LMPOP".into(), "2".into(), key, other, end(r)]);
            if r.below(2) == 0 {
                c.extend(["COUNT".into(), r.int(1, 20).to_string()]);
            }
        }
        23 => c.extend(["BLPOP".into(), key, other, "0.001".into()]),
        24 => c.extend(["BLMOVE".into(), key, other, end(r), end(r), "0.001".into()]),
        _ => {
            // Keep a string around for WRONGTYPE, sometimes in place of a list.
            let k = if r.below(4) == 0 { "l3" } else { "str" };
            c.extend(["SET".into(), k.into(), "s".into()]);
        }
    }
    c
}

fn shown(rep: &Reply) -> String {
    match rep {
        Reply::Frame(f) => show(f),
        other => format!("{other}"),
    }
}

fn run(seed: u64, steps: usize) {
    let redis = RedisServer::start();
    let subject = start_subject(test_config());
    let mut a = redis.client();
    let mut b = RawClient::connect(subject.addr()).expect("connect");
    a.set_read_timeout(Duration::from_secs(5));
    b.set_read_timeout(Duration::from_secs(5));
    let mut r = Rng(seed);
    let mut history: Vec<String> = Vec::new();
    for step in 0..steps {
        let cmd = command(&mut r);
        let args: Vec<&[u8]> = cmd.iter().map(|s| s.as_bytes()).collect();
        let want = a.request(&args);
        let got = b.request(&args);
        let line: String = cmd
            .iter()
            .map(|s| {
                if s.len() > 20 {
                    format!("<{} bytes>", s.len())
                } else {
                    s.clone()
                }
            })
            .collect::<Vec<_>>()
            .join(" ");
        let (w, g) = (shown(&want), shown(&got));
        assert!(
            w == g,
            "seed {seed}, step {step}: {line}\n  redis:   {w}\n  subject: {g}\nlast commands:\n  {}",
            history[history.len().saturating_sub(15)..].join("\n  ")
        );
        history.push(line);
    }
    // The end state, key by key.
    for key in KEYS {
        let args: [&[u8]; 4] = [b"LRANGE", key.as_bytes(), b"0", b"-1"];
        let (w, g) = (a.request(&args), b.request(&args));
        assert_eq!(shown(&w), shown(&g), "seed {seed}: final {key}");
    }
}

#[test]
fn random_list_commands_match_redis() {
    for seed in [0x9e37_79b9_7f4a_7c15, 42, 7_777_777] {
        run(seed, 2500);
    }
}
