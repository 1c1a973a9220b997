//! Fuzzes the RDB reader with untrusted files (strings, and collections in every
//! encoding with the listpacks, ziplists, intsets and zipmaps inside them): it must
//! never panic nor allocate for lengths the data does not back (libFuzzer's memory
//! limits catch that), and whatever loads must come back unchanged through a write
//! and a second load. The LZF decoder gets the same bytes with a claimed size taken
//! from the first byte.

#![no_main]

use engine::{Keyspace, KeyspaceConfig, Value};
use libfuzzer_sys::fuzz_target;

const NOW: u64 = 1_700_000_000_000;

/// A value compared by contents: sets and hashes sorted, scores by their bits.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Canon {
    Str(Vec<u8>),
    List(Vec<Vec<u8>>),
    Set(Vec<Vec<u8>>),
    ZSet(Vec<(Vec<u8>, u64)>),
    Hash(Vec<(Vec<u8>, Vec<u8>)>),
    Stream(usize),
}

fn canon(v: &Value) -> Canon {
    match v {
        Value::Str(s) => Canon::Str(s.to_vec()),
        Value::List(l) => {
            let mut out = Vec::new();
            l.for_each(|e| out.push(e.to_vec()));
            Canon::List(out)
        }
        Value::Set(s) => {
            let mut out = Vec::new();
            s.for_each(|m| out.push(m.to_vec()));
            out.sort();
            Canon::Set(out)
        }
        Value::ZSet(z) => {
            let mut out = Vec::new();
            z.for_each(|m, score| out.push((m.to_vec(), score.to_bits())));
            out.sort();
            Canon::ZSet(out)
        }
        Value::Hash(h) => {
            let mut out = Vec::new();
            h.for_each(|f, v| out.push((f.to_vec(), v.to_vec())));
            out.sort();
            Canon::Hash(out)
        }
        Value::Stream(s) => Canon::Stream(s.len()),
    }
}

/// Every live key, sorted: (db, key, value, expiry).
fn contents(ks: &Keyspace) -> Vec<(usize, Vec<u8>, Canon, u64)> {
    let mut out = Vec::new();
    let l = ks.lock_all();
    for db in 0..ks.databases() {
        l.for_each(db, NOW, |e| {
            out.push((db, e.key.to_vec(), canon(&e.value), e.expire_at()));
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
