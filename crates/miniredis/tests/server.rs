//! `miniredis server` as operators run it: a TOML file with declared databases,
//! environment variables, redis-cli through the front door, and SIGKILL of the whole
//! process followed by a restart that brings every database back on its port.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_miniredis"))
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

use nodes::testing::free_range;

fn wait_port(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "port {port} never opened");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// redis-cli, required: scripts/test.sh installs redis-tools.
fn redis_cli(args: &[&str]) -> String {
    let out = Command::new("redis-cli")
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("redis-cli is needed (apt-get install redis-tools): {e}"));
    assert!(out.status.success(), "redis-cli {args:?}: {out:?}");
    String::from_utf8_lossy(&out.stdout).trim_end().to_string()
}

struct Server {
    child: Child,
}

impl Server {
    fn start(conf: &Path, envs: &[(&str, String)]) -> Server {
        let mut cmd = bin();
        cmd.args(["server", "--config"])
            .arg(conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        for (k, v) in envs {
            cmd.env(k, v);
        }
        Server {
            child: cmd.spawn().expect("spawn miniredis server"),
        }
    }

    fn kill9(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    fn term(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        self.child.wait().expect("wait")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn temp_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("miniredis-server-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("dir");
    d
}

#[test]
fn declared_databases_redis_cli_and_sigkill_restart() {
    let dir = temp_dir("kill");
    let (start, end) = free_range(4);
    let front = free_port();
    let fixed = free_port();
    let conf = dir.join("miniredis.toml");
    std::fs::write(
        &conf,
        format!(
            r#"
front_door_port = {front}
data_dir = "{data}"
snapshot_interval_secs = 0.2
health_interval_secs = 0.5

[[database]]
name = "shop"
password = "s3cret"
persistence = "snapshot"
maxmemory = "64mb"

[[database]]
name = "pinned"
port = {fixed}
password = "p2"
persistence = "snapshot"

[[database]]
name = "hidden"
port = "none"
password = "p3"
"#,
            data = dir.join("data").display()
        ),
    )
    .expect("conf");
    // The pool comes from the environment, as the seeds name it.
    let envs = [
        ("REDIS_PORT_START", start.to_string()),
        ("REDIS_PORT_END", end.to_string()),
    ];
    let s = Server::start(&conf, &envs);
    wait_port(front);
    wait_port(fixed);
    let fp = front.to_string();
    // redis-cli through the front door, the database as the user.
    let cli = |db: &str, pass: &str, args: &[&str]| {
        let mut a = vec!["-p", &fp, "--user", db, "--pass", pass, "--no-auth-warning"];
        a.extend_from_slice(args);
        redis_cli(&a)
    };
    assert_eq!(cli("shop", "s3cret", &["SET", "cart", "3 items"]), "OK");
    assert_eq!(cli("shop", "s3cret", &["GET", "cart"]), "3 items");
    assert_eq!(cli("hidden", "p3", &["SET", "h", "1"]), "OK");
    assert_eq!(cli("pinned", "p2", &["SET", "p", "pinned"]), "OK");
    // redis-cli reports the failed AUTH on stderr and runs the command unauthenticated.
    assert!(cli("shop", "wrong", &["GET", "cart"]).contains("NOAUTH"));
    // The same database on its own port (the first of the pool).
    let shop_port = start.to_string();
    let shop_direct = |args: &[&str]| {
        let mut a = vec!["-p", &shop_port, "-a", "s3cret", "--no-auth-warning"];
        a.extend_from_slice(args);
        redis_cli(&a)
    };
    assert_eq!(shop_direct(&["GET", "cart"]), "3 items");
    assert_eq!(
        redis_cli(&[
            "-p",
            &fixed.to_string(),
            "--user",
            "pinned",
            "--pass",
            "p2",
            "--no-auth-warning",
            "GET",
            "p"
        ]),
        "pinned"
    );
    // Let a snapshot happen, then kill the whole process without warning.
    let manifest = dir
        .join("data")
        .join("databases")
        .join("pinned")
        .join("database.json");
    let snap = dir
        .join("data")
        .join("databases")
        .join("shop")
        .join("dump.rdb");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !snap.exists() {
        assert!(Instant::now() < deadline, "no snapshot written");
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(500));
    assert!(manifest.exists());
    s.kill9();
    assert!(TcpStream::connect(("127.0.0.1", front)).is_err());

    let s = Server::start(&conf, &envs);
    wait_port(front);
    wait_port(start);
    wait_port(fixed);
    assert_eq!(cli("shop", "s3cret", &["GET", "cart"]), "3 items");
    assert_eq!(cli("pinned", "p2", &["GET", "p"]), "pinned");
    // No persistence: back on the front door, empty.
    assert_eq!(cli("hidden", "p3", &["DBSIZE"]), "0");
    assert_eq!(shop_direct(&["GET", "cart"]), "3 items");
    // An orderly stop saves, and exits 0.
    assert_eq!(cli("shop", "s3cret", &["SET", "late", "write"]), "OK");
    let status = s.term();
    assert!(status.success(), "{status:?}");
    let s = Server::start(&conf, &envs);
    wait_port(front);
    assert_eq!(cli("shop", "s3cret", &["GET", "late"]), "write");
    drop(s);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_configuration_exits_1_with_a_message() {
    let dir = temp_dir("bad");
    let conf = dir.join("bad.toml");
    for (text, needle) in [
        ("nosuch = 1\n", "unknown field"),
        ("port_start = 7000\nport_end = 6000\n", "invalid port range"),
        ("[[database]]\nname = \"a b\"\n", "invalid database name"),
        (
            "[[database]]\nname = \"a\"\nmaxmemory = \"lots\"\n",
            "invalid size",
        ),
        (
            "[[database]]\nname = \"a\"\nmaxmemory_policy = \"sometimes\"\n",
            "maxmemory_policy",
        ),
    ] {
        std::fs::write(
            &conf,
            format!(
                "front_door_port = 0\ndata_dir = \"{}\"\n{text}",
                dir.join("d").display()
            ),
        )
        .expect("write");
        let out = bin()
            .args(["server", "--config"])
            .arg(&conf)
            .env_remove("REDIS_PORT_START")
            .env_remove("REDIS_PORT_END")
            .output()
            .expect("run");
        assert_eq!(out.status.code(), Some(1), "{text}: {out:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(needle), "{text}: {err}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
