//! The `miniredis node` command line, run as users run it: bad options exit with code 1
//! and a message; a configuration file and options start a server that answers.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_miniredis"))
}

fn fails_with(args: &[&str], needle: &str) {
    let out = bin().args(args).output().expect("run miniredis");
    assert_eq!(out.status.code(), Some(1), "{args:?} should exit 1");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(needle),
        "{args:?}: stderr {err:?} lacks {needle:?}"
    );
}

#[test]
fn bad_options_exit_1_with_a_message() {
    fails_with(&["node", "--nosuch", "1"], "unknown option '--nosuch'");
    fails_with(&["node", "--port", "abc"], "port");
    fails_with(&["node", "--port", "70000"], "between 0 and 65535");
    fails_with(&["node", "--appendonly", "maybe"], "yes' or 'no'");
    fails_with(&["node", "--appendonly", "yes"], "not supported");
    fails_with(&["node", "--maxmemory", "lots"], "memory value");
    fails_with(&["node", "--maxmemory-policy", "lru"], "must be one of");
    fails_with(
        &["node", "/nonexistent/redis.conf"],
        "cannot read config file",
    );
    fails_with(
        &["node", "--bind", "not-an-address", "--port", "0"],
        "invalid bind address",
    );
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

#[test]
fn config_file_and_options_start_a_server() {
    let dir = std::env::temp_dir().join(format!("miniredis-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("tmp dir");
    let conf = dir.join("redis.conf");
    let port = free_port();
    std::fs::write(
        &conf,
        format!(
            "# test\nport {port}\nrequirepass \"s3cret\"\nsave \"\"\ndatabases 4\n\
             maxmemory 64mb\nmaxmemory-policy allkeys-lru\nmaxkeys 1000\n"
        ),
    )
    .expect("write conf");
    let mut child = bin()
        .args(["node", "--config"])
        .arg(&conf)
        .args(["--loglevel", "warning"])
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut stream = loop {
        match TcpStream::connect(("127.0.0.1", port)) {
            Ok(s) => break s,
            Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => panic!("server did not start: {e}"),
        }
    };
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let mut reader = BufReader::new(stream.try_clone().expect("clone"));
    let mut line = String::new();
    let mut ask = |req: &str, line: &mut String| {
        stream.write_all(req.as_bytes()).expect("write");
        line.clear();
        reader.read_line(line).expect("read");
        line.trim_end().to_string()
    };
    assert_eq!(
        ask("PING\r\n", &mut line),
        "-NOAUTH Authentication required."
    );
    assert_eq!(ask("AUTH s3cret\r\n", &mut line), "+OK");
    assert_eq!(ask("SELECT 3\r\n", &mut line), "+OK");
    assert_eq!(
        ask("SELECT 4\r\n", &mut line),
        "-ERR DB index is out of range"
    );
    let _ = ask("SHUTDOWN NOSAVE\r\n", &mut line);
    let status = child.wait().expect("wait");
    assert!(status.success(), "exit status {status:?}");
    let mut err = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut err);
    }
    assert!(!err.contains("panicked"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}
