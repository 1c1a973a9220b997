//! maxmemory eviction seen from a client (the `redis` crate): a standalone node under
//! allkeys-lru keeps its allocator's used memory near the limit and keeps the keys that
//! are read, and volatile-ttl evicts the keys closest to expiring first.

use std::net::SocketAddr;
use std::time::Duration;

use miniredis_tests::node::Node;
use miniredis_tests::subject::{start_subject, test_config};

async fn connect(addr: SocketAddr) -> redis::aio::MultiplexedConnection {
    let client = redis::Client::open(format!("redis://{addr}/")).expect("client URL");
    tokio::time::timeout(
        Duration::from_secs(10),
        client.get_multiplexed_async_connection(),
    )
    .await
    .expect("connect timed out")
    .expect("connect")
}

/// One numeric field of INFO.
async fn info_field(con: &mut redis::aio::MultiplexedConnection, name: &str) -> u64 {
    let text: String = redis::cmd("INFO")
        .arg("everything")
        .query_async(con)
        .await
        .expect("INFO");
    let prefix = format!("{name}:");
    text.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("INFO has no numeric {name}"))
}

async fn config_set(con: &mut redis::aio::MultiplexedConnection, name: &str, value: &str) {
    let () = redis::cmd("CONFIG")
        .arg("SET")
        .arg(name)
        .arg(value)
        .query_async(con)
        .await
        .unwrap_or_else(|e| panic!("CONFIG SET {name} {value}: {e}"));
}

/// Sets a limit the way the operator of a tenant database does (the node manager's
/// path, `Instance::update_config`): a tenant's own CONFIG SET of its limits is
/// refused. Against Redis (self-test mode) it is a CONFIG SET.
async fn operator_set(
    subject: &miniredis_tests::Subject,
    con: &mut redis::aio::MultiplexedConnection,
    name: &str,
    value: &str,
) {
    match subject.handle() {
        Some(h) => {
            let p = commands::config::find(name).expect("known parameter");
            let v = commands::config::validate(p, value).expect("valid value");
            h.instance().update_config(|c| (p.set)(c, &v));
        }
        None => config_set(con, name, value).await,
    }
}

/// How many of `keys` exist.
async fn existing(con: &mut redis::aio::MultiplexedConnection, keys: &[String]) -> usize {
    let mut pipe = redis::pipe();
    for k in keys {
        pipe.exists(k);
    }
    let found: Vec<u8> = pipe.query_async(con).await.expect("EXISTS pipeline");
    found.iter().filter(|&&x| x == 1).count()
}

async fn write_all(con: &mut redis::aio::MultiplexedConnection, keys: &[String], value: &[u8]) {
    for chunk in keys.chunks(500) {
        let mut pipe = redis::pipe();
        for k in chunk {
            pipe.set(k, value).ignore();
        }
        let () = pipe.query_async(con).await.expect("SET pipeline");
    }
}

async fn read_all(con: &mut redis::aio::MultiplexedConnection, keys: &[String]) {
    for chunk in keys.chunks(500) {
        let mut pipe = redis::pipe();
        for k in chunk {
            pipe.get(k).ignore();
        }
        let () = pipe.query_async(con).await.expect("GET pipeline");
    }
}

fn names(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}:{i}")).collect()
}

#[tokio::test]
async fn allkeys_lru_keeps_memory_near_the_limit_and_read_keys_alive() {
    const LIMIT: u64 = 16 << 20;
    let node = Node::start(&["--maxmemory", "16mb", "--maxmemory-policy", "allkeys-lru"]);
    let mut con = connect(node.addr()).await;
    let value = vec![b'x'; 1000];
    let (cold, hot) = (names("cold", 4000), names("hot", 4000));
    // About 10 MB: under the limit, nothing is evicted yet.
    write_all(&mut con, &cold, &value).await;
    write_all(&mut con, &hot, &value).await;
    assert_eq!(info_field(&mut con, "evicted_keys").await, 0);
    // The LRU clock counts seconds: let both sets age. Then write 1.5 times the limit
    // in batches more than a second apart, reading the hot keys just before each one:
    // at any time the cold keys are the idlest, then the fill of earlier batches, while
    // the hot keys are as fresh as the batch being written.
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let fill = names("fill", 24_000);
    for batch in fill.chunks(6000) {
        read_all(&mut con, &hot).await;
        write_all(&mut con, batch, &value).await;
        let used = info_field(&mut con, "used_memory").await;
        assert!(
            used <= LIMIT + LIMIT / 8,
            "used_memory {used} is far over maxmemory {LIMIT}"
        );
        tokio::time::sleep(Duration::from_millis(1100)).await;
    }
    let used = info_field(&mut con, "used_memory").await;
    assert!(
        used >= LIMIT / 2,
        "used_memory {used}: eviction went far below maxmemory {LIMIT}"
    );
    assert!(info_field(&mut con, "evicted_keys").await > 15_000);
    let hot_left = existing(&mut con, &hot).await;
    let cold_left = existing(&mut con, &cold).await;
    assert!(
        hot_left > 3500 && cold_left < 400,
        "survivors: {hot_left} of 4000 read keys, {cold_left} of 4000 cold keys"
    );
}

#[tokio::test]
async fn volatile_ttl_evicts_the_shortest_ttl_first() {
    // A tenant: its used_memory (INFO and the limit) is its keyspace's own bytes.
    let subject = start_subject(commands::Config {
        tenant: true,
        ..test_config()
    });
    let mut con = connect(subject.addr()).await;
    let value = vec![b'v'; 1000];
    let persistent = names("p", 300);
    write_all(&mut con, &persistent, &value).await;
    // t:0 expires first, t:299 last.
    let volatile = names("t", 300);
    let mut pipe = redis::pipe();
    for (i, k) in volatile.iter().enumerate() {
        pipe.set_ex(k, &value[..], 10_000 + 10 * i as u64).ignore();
    }
    let () = pipe.query_async(&mut con).await.expect("SETEX pipeline");
    let used = info_field(&mut con, "used_memory").await;
    operator_set(&subject, &mut con, "maxmemory-policy", "volatile-ttl").await;
    config_set(&mut con, "maxmemory-samples", "10").await;
    // No time limit on an eviction pass, so each command finishes what it needs.
    config_set(&mut con, "maxmemory-eviction-tenacity", "100").await;
    // Room for about a hundred keys fewer than there are.
    operator_set(
        &subject,
        &mut con,
        "maxmemory",
        &(used - 100 * 1200).to_string(),
    )
    .await;
    let () = redis::cmd("PING")
        .query_async(&mut con)
        .await
        .expect("PING");
    assert_eq!(existing(&mut con, &persistent).await, 300);
    let soon = existing(&mut con, &volatile[..150]).await;
    let late = existing(&mut con, &volatile[150..]).await;
    let evicted = 300 - soon - late;
    // About a hundred; more against Redis (self-test), whose figure also counts the
    // client buffers the pipelines above left behind.
    assert!(
        (90..=200).contains(&evicted),
        "{evicted} volatile keys evicted"
    );
    assert!(
        150 - late < (150 - soon) / 4,
        "evicted {} of the 150 soonest to expire, {} of the 150 latest",
        150 - soon,
        150 - late
    );
    assert_eq!(info_field(&mut con, "evicted_keys").await, evicted as u64);
    // Below what the persistent keys alone need: every volatile key goes, and then
    // writes are refused.
    operator_set(&subject, &mut con, "maxmemory", &(used / 4).to_string()).await;
    let refused: redis::RedisResult<()> = redis::cmd("SET")
        .arg("x")
        .arg("y")
        .query_async(&mut con)
        .await;
    let err = refused.expect_err("SET over maxmemory with nothing volatile left");
    assert_eq!(err.code(), Some("OOM"), "{err}");
    assert_eq!(existing(&mut con, &volatile).await, 0);
    assert_eq!(existing(&mut con, &persistent).await, 300);
}
