//! Real clients against the subject: the `redis` crate (async, tokio) and Debian's
//! `redis-cli` run as a process. redis-cli's output is also compared with its output
//! against a real `redis-server`, so formatting details (nulls, RESP3 maps, errors)
//! are checked without hard-coding them. redis-py has its own suite in `tests/py/`.

use std::collections::HashSet;
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use miniredis_tests::{require_tool, start_subject, subject::test_config, RedisServer, Subject};
use redis::AsyncCommands;

fn subject() -> Subject {
    start_subject(test_config())
}

async fn connect(addr: SocketAddr) -> redis::aio::MultiplexedConnection {
    let client = redis::Client::open(format!("redis://{addr}/")).expect("client URL");
    tokio::time::timeout(
        Duration::from_secs(10),
        client.get_multiplexed_async_connection(),
    )
    .await
    .expect("connecting timed out")
    .expect("connecting with the redis crate")
}

#[tokio::test]
async fn redis_crate_get_set() {
    let s = subject();
    let mut con = connect(s.addr()).await;
    let () = con.set("greeting", "hello").await.expect("SET");
    let v: String = con.get("greeting").await.expect("GET");
    assert_eq!(v, "hello");
    let missing: Option<String> = con.get("nope").await.expect("GET missing");
    assert_eq!(missing, None);
    let bin: Vec<u8> = vec![0, 1, 2, 255, b'\r', b'\n'];
    let () = con.set("bin", bin.as_slice()).await.expect("SET binary");
    let back: Vec<u8> = con.get("bin").await.expect("GET binary");
    assert_eq!(back, bin);
    let n: i64 = con.incr("counter", 5).await.expect("INCRBY");
    assert_eq!(n, 5);
    let n: i64 = con.decr("counter", 7).await.expect("DECRBY");
    assert_eq!(n, -2);
    let len: usize = con.append("greeting", " world").await.expect("APPEND");
    assert_eq!(len, 11);
    let deleted: usize = con.del(&["greeting", "bin", "nope"]).await.expect("DEL");
    assert_eq!(deleted, 2);
    let exists: bool = con.exists("greeting").await.expect("EXISTS");
    assert!(!exists);
    let err = con
        .incr::<_, _, i64>("missing-then-string", 1)
        .await
        .and(con.set::<_, _, ()>("str", "abc").await)
        .and(con.incr::<_, _, i64>("str", 1).await);
    let e = err.expect_err("INCR on a non-integer must fail");
    assert!(
        e.to_string().contains("not an integer"),
        "unexpected error text: {e}"
    );
}

#[tokio::test]
async fn redis_crate_pipeline_of_10k_commands() {
    const N: usize = 10_000;
    let s = subject();
    let mut con = connect(s.addr()).await;
    let mut pipe = redis::pipe();
    for i in 0..N / 2 {
        pipe.set(format!("k{i}"), i).ignore();
    }
    for i in 0..N / 2 {
        pipe.get(format!("k{i}"));
    }
    let started = Instant::now();
    let values: Vec<usize> =
        tokio::time::timeout(Duration::from_secs(60), pipe.query_async(&mut con))
            .await
            .expect("pipeline timed out")
            .expect("pipeline");
    assert_eq!(values, (0..N / 2).collect::<Vec<_>>());
    assert!(started.elapsed() < Duration::from_secs(60));
    let size: usize = redis::cmd("DBSIZE")
        .query_async(&mut con)
        .await
        .expect("DBSIZE");
    assert_eq!(size, N / 2);
}

#[tokio::test]
async fn redis_crate_expiry() {
    let s = subject();
    let mut con = connect(s.addr()).await;
    let () = redis::cmd("SET")
        .arg("short")
        .arg("v")
        .arg("PX")
        .arg(150)
        .query_async(&mut con)
        .await
        .expect("SET PX");
    let () = con.set_ex("long", "v", 1000).await.expect("SETEX");
    let ttl: i64 = con.ttl("long").await.expect("TTL");
    assert!((998..=1000).contains(&ttl), "TTL {ttl}");
    let pttl: i64 = con.pttl("short").await.expect("PTTL");
    assert!((0..=150).contains(&pttl), "PTTL {pttl}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let gone: Option<String> = con.get("short").await.expect("GET expired");
    assert_eq!(gone, None);
    let ttl: i64 = con.ttl("short").await.expect("TTL expired");
    assert_eq!(ttl, -2);
    let persisted: bool = con.persist("long").await.expect("PERSIST");
    assert!(persisted);
    let ttl: i64 = con.ttl("long").await.expect("TTL persisted");
    assert_eq!(ttl, -1);
    let set: bool = con.expire("long", 100).await.expect("EXPIRE");
    assert!(set);
}

#[tokio::test]
async fn redis_crate_mget_mset() {
    let s = subject();
    let mut con = connect(s.addr()).await;
    let () = con
        .mset(&[("a", "1"), ("b", "2"), ("c", "3")])
        .await
        .expect("MSET");
    let got: Vec<Option<String>> = con.mget(&["a", "missing", "c"]).await.expect("MGET");
    assert_eq!(got, vec![Some("1".into()), None, Some("3".into())]);
    let set: bool = con
        .mset_nx(&[("c", "x"), ("d", "4")])
        .await
        .expect("MSETNX");
    assert!(!set, "MSETNX must fail when one key exists");
    let d: Option<String> = con.get("d").await.expect("GET d");
    assert_eq!(d, None);
}

#[tokio::test]
async fn redis_crate_scan_match() {
    let s = subject();
    let mut con = connect(s.addr()).await;
    let mut pipe = redis::pipe();
    for i in 0..300 {
        pipe.set(format!("user:{i}"), i).ignore();
        pipe.set(format!("item:{i}"), i).ignore();
    }
    let () = pipe.query_async(&mut con).await.expect("filling");
    let mut found = HashSet::new();
    {
        let mut iter: redis::AsyncIter<String> =
            con.scan_match("user:*").await.expect("SCAN MATCH");
        let mut steps = 0;
        while let Some(k) = iter.next_item().await {
            found.insert(k);
            steps += 1;
            assert!(steps < 100_000, "SCAN does not terminate");
        }
    }
    let want: HashSet<String> = (0..300).map(|i| format!("user:{i}")).collect();
    assert_eq!(found, want);
    let mut all = 0usize;
    {
        let mut iter: redis::AsyncIter<String> = con.scan().await.expect("SCAN");
        while iter.next_item().await.is_some() {
            all += 1;
        }
    }
    assert!(all >= 600, "SCAN returned {all} of 600 keys");
}

// ---------------------------------------------------------------------------------
// redis-cli

/// The result of one redis-cli run.
#[derive(Debug, PartialEq)]
struct CliRun {
    status: Option<i32>,
    stdout: String,
    stderr: String,
}

/// Runs `redis-cli -h 127.0.0.1 -p PORT <args>` with `stdin`, killing it after 60 s.
fn redis_cli(addr: SocketAddr, args: &[&str], stdin: &[u8]) -> CliRun {
    let bin = require_tool("redis-cli");
    let mut child = Command::new(bin)
        .args(["-h", "127.0.0.1", "-p", &addr.port().to_string()])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawning redis-cli");
    run_child(&mut child, stdin, Duration::from_secs(60))
}

fn run_child(child: &mut std::process::Child, stdin: &[u8], limit: Duration) -> CliRun {
    let mut input = child.stdin.take().expect("stdin");
    let data = stdin.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = input.write_all(&data);
    });
    let mut out = child.stdout.take().expect("stdout");
    let mut err = child.stderr.take().expect("stderr");
    let out_t = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = out.read_to_end(&mut s);
        s
    });
    let err_t = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = err.read_to_end(&mut s);
        s
    });
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(st) = child.try_wait().expect("waiting for redis-cli") {
            break st.code();
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("redis-cli did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let _ = writer.join();
    let stdout = String::from_utf8_lossy(&out_t.join().unwrap_or_default()).into_owned();
    let stderr = String::from_utf8_lossy(&err_t.join().unwrap_or_default()).into_owned();
    CliRun {
        status,
        stdout,
        stderr,
    }
}

/// Runs the same redis-cli invocations against Redis and the subject (each on its own
/// fresh server, in order) and requires identical output.
fn same_cli_output(runs: &[(&[&str], &[u8])]) -> Vec<CliRun> {
    let reference = RedisServer::start();
    let s = subject();
    let mut outputs = Vec::new();
    for (args, stdin) in runs {
        let want = redis_cli(reference.addr(), args, stdin);
        let got = redis_cli(s.addr(), args, stdin);
        assert_eq!(
            got,
            want,
            "redis-cli {args:?}: output against {} (left) differs from redis-server (right)",
            s.name()
        );
        outputs.push(got);
    }
    outputs
}

#[test]
fn redis_cli_commands() {
    let out = same_cli_output(&[
        (&["SET", "a", "b"], b""),
        (&["GET", "a"], b""),
        (&["GET", "missing"], b""),
        (&["INCR", "n"], b""),
        (&["INCRBYFLOAT", "f", "1.5"], b""),
        (&["MSET", "x", "1", "y", "2"], b""),
        (&["MGET", "x", "missing", "y"], b""),
        (&["EXPIRE", "a", "1000"], b""),
        (&["TTL", "a"], b""),
        (&["TYPE", "a"], b""),
        (&["INCR", "a"], b""),
        (&["NOSUCHCOMMAND", "x"], b""),
        (&["GET"], b""),
        (&["--no-raw", "GET", "a"], b""),
        (&["--no-raw", "GET", "missing"], b""),
        (&["--no-raw", "MGET", "x", "missing"], b""),
        (&["--no-raw", "INCR", "a"], b""),
        (&["--no-raw", "TTL", "a"], b""),
        (&["--raw", "MGET", "x", "y"], b""),
        (&["-n", "3", "SET", "in3", "v"], b""),
        (&["-n", "3", "DBSIZE"], b""),
        (&["DBSIZE"], b""),
        (&["ECHO", "a\nb"], b""),
        (&["-x", "SET", "fromstdin"], b"piped value"),
        (&["GET", "fromstdin"], b""),
    ]);
    assert_eq!(out[0].stdout, "OK\n");
    assert_eq!(out[1].stdout, "b\n");
    assert_eq!(out[14].stdout, "(nil)\n");
}

#[test]
fn redis_cli_resp3_mode() {
    let out = same_cli_output(&[
        (&["-3", "SET", "k", "v"], b""),
        (&["-3", "GET", "k"], b""),
        (&["-3", "GET", "missing"], b""),
        (&["-3", "--no-raw", "GET", "missing"], b""),
        (&["-3", "CONFIG", "GET", "maxmemory"], b""),
        (&["-3", "--no-raw", "CONFIG", "GET", "maxmemory"], b""),
        (&["-3", "--no-raw", "MGET", "k", "missing"], b""),
        (&["-3", "--no-raw", "INCRBYFLOAT", "f", "2.5"], b""),
        (&["-3", "--no-raw", "LCS", "k", "k", "IDX"], b""),
        (&["-3", "--no-raw", "TTL", "k"], b""),
    ]);
    assert_eq!(out[1].stdout, "v\n");
    assert_eq!(out[3].stdout, "(nil)\n");
}

#[test]
fn redis_cli_pipe_mode_10k() {
    const N: usize = 10_000;
    let mut input = Vec::new();
    for i in 0..N {
        input.extend_from_slice(&resp::Frame::command(&[
            b"SET",
            format!("key:{i}").as_bytes(),
            format!("value:{i}").as_bytes(),
        ]));
    }
    let s = subject();
    let run = redis_cli(s.addr(), &["--pipe"], &input);
    assert_eq!(run.status, Some(0), "redis-cli --pipe failed: {run:?}");
    assert!(
        run.stdout.contains(&format!("errors: 0, replies: {N}")),
        "redis-cli --pipe output: {}",
        run.stdout
    );
    let dbsize = redis_cli(s.addr(), &["DBSIZE"], b"");
    assert_eq!(dbsize.stdout.trim(), N.to_string());
    let last = redis_cli(s.addr(), &["GET", &format!("key:{}", N - 1)], b"");
    assert_eq!(last.stdout.trim(), format!("value:{}", N - 1));
}

#[test]
fn redis_cli_scan_pattern() {
    let s = subject();
    let mut setup = Vec::new();
    for i in 0..250 {
        setup.extend_from_slice(format!("SET user:{i} x\nSET other:{i} y\n").as_bytes());
    }
    let run = redis_cli(s.addr(), &[], &setup);
    assert_eq!(run.status, Some(0), "{run:?}");
    let scan = redis_cli(s.addr(), &["--scan", "--pattern", "user:*"], b"");
    assert_eq!(scan.status, Some(0), "{scan:?}");
    let found: HashSet<&str> = scan.stdout.lines().collect();
    let want_owned: Vec<String> = (0..250).map(|i| format!("user:{i}")).collect();
    let want: HashSet<&str> = want_owned.iter().map(String::as_str).collect();
    assert_eq!(found, want);
    let every = redis_cli(s.addr(), &["--scan"], b"");
    let all: HashSet<&str> = every.stdout.lines().collect();
    assert_eq!(all.len(), 500, "{every:?}");
}

#[test]
fn redis_cli_commands_on_stdin() {
    let script = b"SET a 1\nINCR a\nGET a\nGET missing\nECHO \"two words\"\nINCR nonint\nSET s abc\nINCR s\nPING\nSELECT 2\nDBSIZE\n";
    let out = same_cli_output(&[(&[], script), (&["--no-raw"], script)]);
    assert!(out[0].stdout.starts_with("OK\n2\n2\n"), "{:?}", out[0]);
}

/// The stretch goal: an interactive session on a pseudo-terminal (util-linux
/// `script`), prompts and all. The port in the prompt is normalised.
#[test]
fn redis_cli_interactive_session_on_a_pty() {
    let script_bin = require_tool("script");
    require_tool("redis-cli");
    let session = |addr: SocketAddr| -> String {
        let cmd = format!("redis-cli -h 127.0.0.1 -p {}", addr.port());
        let mut child = Command::new(&script_bin)
            .args(["-q", "-e", "-c", &cmd, "/dev/null"])
            .env("TERM", "dumb")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawning script");
        let run = run_child(
            &mut child,
            b"SET a 1\nINCR a\nGET missing\nHELLO 3\nGET missing\nBOGUS\nquit\n",
            Duration::from_secs(30),
        );
        run.stdout
            .replace(&addr.port().to_string(), "PORT")
            .replace('\r', "")
    };
    let reference = RedisServer::start();
    let s = subject();
    let want = session(reference.addr());
    let got = session(s.addr());
    // HELLO's reply names the server and version; compare everything else.
    let strip = |t: &str| -> String {
        t.lines()
            .filter(|l| {
                !l.contains("\"version\"") && !l.contains("\"id\"") && !l.contains("\"server\"")
            })
            .map(|l| format!("{l}\n"))
            .collect()
    };
    assert!(
        want.contains("(integer) 2"),
        "unexpected session with redis-server:\n{want}"
    );
    assert_eq!(strip(&got), strip(&want), "interactive session differs");
}
