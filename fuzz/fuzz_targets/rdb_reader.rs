//! Fuzzes the RDB reader with untrusted files: it must never panic nor allocate for
//! lengths the data does not back (libFuzzer's memory limits catch that), and
//! whatever loads must come back unchanged through a write and a second load. The
//! LZF decoder gets the same bytes with a claimed size taken from the first byte.

#![no_main]

use engine::{Keyspace, KeyspaceConfig, Value};
use libfuzzer_sys::fuzz_target;

const NOW: u64 = 1_700_000_000_000;

/// Every live key, sorted: (db, key, value bytes, expiry).
fn contents(ks: &Keyspace) -> Vec<(usize, Vec<u8>, Vec<u8>, u64)> {
    let mut out = Vec::new();
    let l = ks.lock_all();
    for db in 0..ks.databases() {
        l.for_each(db, NOW, |e| {
            let Value::Str(s) = &e.value;
            out.push((db, e.key.to_vec(), s.to_vec(), e.expire_at()));
        });
    }
    out.sort();
    out
}

fn keyspace() -> Keyspace {
    Keyspace::new(&KeyspaceConfig {
        databases: 16,
        shards: 4,
    })
}

fuzz_target!(|data: &[u8]| {
    if let Some((&n, rest)) = data.split_first() {
        if let Ok(out) = persistence::lzf::decompress(rest, usize::from(n) * 8) {
            assert_eq!(out.len(), usize::from(n) * 8);
        }
    }

    let mut items = 0usize;
    let streamed = persistence::read_rdb(data, |_| {
        items += 1;
        Ok(())
    });

    let ks = keyspace();
    let Ok(stats) = persistence::load_from(&ks, data, NOW) else {
        return;
    };
    assert!(streamed.is_ok(), "load succeeded where the parse failed");
    assert!(stats.keys as usize <= items);

    let mut again = Vec::new();
    persistence::write_rdb(&ks, &mut again, NOW).expect("writing to memory");
    let back = keyspace();
    persistence::load_from(&back, &again[..], NOW).expect("a file we wrote loads");
    assert_eq!(contents(&ks), contents(&back));
});
