//! Density: how many idle tenant databases one process holds, what they cost in
//! resident memory, and how long creating one takes. Run through
//! `scripts/bench-tenancy.sh density` (release build, the binary's allocator).
//!
//! `density [COUNT] [PORT_START]`: creates COUNT databases (default 1000), each on
//! its own port from PORT_START (default 6000) and behind a front door, then proves
//! every one serves: a SET/GET through its own port and an AUTH + GET through the
//! front door. Prints one `key=value` line per figure.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use commands::{Config, Directory, Instance};
use nodes::{DatabaseSpec, NodeManager, Settings};

#[global_allocator]
static ALLOC: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn rss() -> u64 {
    commands::instance::proc_memory().resident
}

fn ask(s: &mut BufReader<TcpStream>, req: &str) -> String {
    s.get_mut().write_all(req.as_bytes()).expect("write");
    let mut line = String::new();
    s.read_line(&mut line).expect("read");
    if line.starts_with('$') && !line.starts_with("$-1") {
        let mut v = String::new();
        s.read_line(&mut v).expect("read");
        return v.trim_end().to_string();
    }
    line.trim_end().to_string()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let count: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(1000);
    let start: u16 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(6000);
    let dir = std::env::temp_dir().join(format!("miniredis-density-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let settings = Settings {
        port_start: start,
        port_end: start + count as u16 + 99,
        data_dir: dir.clone(),
        // Idle means idle: one health check a minute per database.
        health_interval: Duration::from_secs(60),
        ..Settings::default()
    };
    let pool = server::IoPool::new(0).expect("pool");
    let rss_empty = rss();
    let mgr = NodeManager::open(settings, pool.clone()).expect("manager");
    let door_l = TcpListener::bind("127.0.0.1:0").expect("front door");
    let door = Instance::front_door(
        Config {
            tenant: true,
            ..Config::default()
        },
        mgr.clone() as Arc<dyn Directory>,
    );
    let front = pool.listen(door_l, door).expect("listen");
    let rss_before = rss();
    let mut times = Vec::with_capacity(count);
    let mut ports = Vec::with_capacity(count);
    let all = Instant::now();
    for i in 0..count {
        let t = Instant::now();
        let info = mgr
            .create(DatabaseSpec::new(format!("db{i}")).password(format!("pw{i}")))
            .unwrap_or_else(|e| panic!("create db{i}: {e}"));
        times.push(t.elapsed());
        ports.push(info.port.expect("port"));
    }
    let total = all.elapsed();
    std::thread::sleep(Duration::from_millis(500));
    let rss_idle = rss();
    // Every database serves, through its port and through the front door.
    let served = Instant::now();
    for (i, port) in ports.iter().enumerate() {
        let mut c = BufReader::new(TcpStream::connect(("127.0.0.1", *port)).expect("connect"));
        assert_eq!(ask(&mut c, &format!("AUTH pw{i}\r\n")), "+OK");
        assert_eq!(ask(&mut c, &format!("SET k v{i}\r\n")), "+OK");
        let mut f = BufReader::new(TcpStream::connect(front.addr()).expect("front door"));
        assert_eq!(ask(&mut f, &format!("AUTH db{i} pw{i}\r\n")), "+OK");
        assert_eq!(ask(&mut f, "GET k\r\n"), format!("v{i}"));
    }
    let served = served.elapsed();
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let pct = |p: f64| times[((times.len() as f64 * p) as usize).min(times.len() - 1)];
    println!("databases={count}");
    println!("create_total_ms={:.1}", ms(total));
    println!("create_median_ms={:.3}", ms(pct(0.5)));
    println!("create_p99_ms={:.3}", ms(pct(0.99)));
    println!("create_max_ms={:.3}", ms(times[times.len() - 1]));
    println!("rss_process_start_mb={:.1}", rss_empty as f64 / 1048576.0);
    println!("rss_before_mb={:.1}", rss_before as f64 / 1048576.0);
    println!("rss_idle_mb={:.1}", rss_idle as f64 / 1048576.0);
    println!(
        "rss_per_database_kb={:.1}",
        (rss_idle.saturating_sub(rss_before)) as f64 / 1024.0 / count as f64
    );
    println!("served_all_ms={:.1}", ms(served));
    front.close();
    mgr.shutdown();
    pool.shutdown();
    let _ = std::fs::remove_dir_all(&dir);
}
