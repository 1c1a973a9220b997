//! Round trips through the writer and the reader, hand-made files for every opcode and
//! encoding the reader accepts or refuses, and robustness against damaged input.

use std::collections::BTreeMap;

use engine::{Entry, Keyspace, KeyspaceConfig, Str, Value};
use proptest::collection::vec;
use proptest::prelude::*;

use crate::crc64::crc64;
use crate::{load, load_from, read_rdb, save, write_rdb, PersistError, RdbItem};

const NOW: u64 = 1_700_000_000_000;

fn keyspace() -> Keyspace {
    Keyspace::new(&KeyspaceConfig {
        databases: 4,
        shards: 4,
    })
}

/// Every live key: (db, key) -> (value, expiry).
type Dump = BTreeMap<(usize, Vec<u8>), (Str, u64)>;

fn dump(ks: &Keyspace, now: u64) -> Dump {
    let mut out = BTreeMap::new();
    let l = ks.lock_all();
    for db in 0..ks.databases() {
        l.for_each(db, now, |e| {
            if let Value::Str(s) = &e.value {
                out.insert((db, e.key.to_vec()), (s.clone(), e.expire_at()));
            }
        });
    }
    out
}

fn to_rdb(ks: &Keyspace, now: u64) -> Vec<u8> {
    let mut buf = Vec::new();
    if let Err(e) = write_rdb(ks, &mut buf, now) {
        panic!("writing to memory failed: {e}");
    }
    buf
}

fn from_rdb(bytes: &[u8], now: u64) -> Result<Keyspace, PersistError> {
    let ks = keyspace();
    load_from(&ks, bytes, now)?;
    Ok(ks)
}

/// A file of `version` with `body` between the header and EOF, and a correct checksum.
fn file(version: u32, body: &[u8]) -> Vec<u8> {
    let mut f = format!("REDIS{version:04}").into_bytes();
    f.extend_from_slice(body);
    f.push(0xff);
    if version >= 5 {
        let crc = crc64(&f);
        f.extend_from_slice(&crc.to_le_bytes());
    }
    f
}

/// A plain length-prefixed string (lengths below 64).
fn s(text: &[u8]) -> Vec<u8> {
    let mut v = vec![text.len() as u8];
    v.extend_from_slice(text);
    v
}

fn items(bytes: &[u8]) -> Result<Vec<RdbItem>, PersistError> {
    let mut out = Vec::new();
    read_rdb(bytes, |item| {
        out.push(item);
        Ok(())
    })?;
    Ok(out)
}

fn err<T>(r: Result<T, PersistError>) -> PersistError {
    match r {
        Ok(_) => panic!("expected an error, but it succeeded"),
        Err(e) => e,
    }
}

fn str_bytes(s: &Str) -> Vec<u8> {
    s.to_vec()
}

// ---------------------------------------------------------------------------------
// Round trips

fn int_text(n: i64) -> Vec<u8> {
    n.to_string().into_bytes()
}

/// Strings that exercise every encoding: integers (edges of each integer width and of
/// i64), almost-integers, short binary, long compressible and incompressible data.
fn string_strategy() -> impl Strategy<Value = Vec<u8>> {
    let edges = vec![
        0i64,
        -1,
        1,
        127,
        128,
        -128,
        -129,
        32767,
        32768,
        -32768,
        -32769,
        i64::from(i32::MAX),
        i64::from(i32::MAX) + 1,
        i64::from(i32::MIN),
        i64::from(i32::MIN) - 1,
        i64::MAX,
        i64::MIN,
    ];
    let almost = vec![
        "007",
        "-0",
        "+1",
        " 1",
        "1 ",
        "00",
        "1e3",
        "0x10",
        "-",
        "",
        "99999999999999999999",
        "-9223372036854775809",
        "12345678901",
    ];
    prop_oneof![
        any::<i64>().prop_map(int_text),
        proptest::sample::select(edges).prop_map(int_text),
        proptest::sample::select(almost).prop_map(|t| t.as_bytes().to_vec()),
        vec(any::<u8>(), 0..48),
        (vec(any::<u8>(), 1..6), 21usize..2000).prop_map(|(unit, n)| unit
            .iter()
            .cycle()
            .take(n)
            .copied()
            .collect()),
        vec(any::<u8>(), 20..300),
    ]
}

#[derive(Clone, Debug)]
struct Key {
    db: usize,
    key: Vec<u8>,
    value: Vec<u8>,
    /// Stored as a modified-in-place string (may hold canonical integer digits).
    raw: bool,
    /// Milliseconds from NOW; at or below 0 means already expired.
    ttl: Option<i64>,
}

fn key_strategy() -> impl Strategy<Value = Key> {
    (
        0usize..4,
        string_strategy(),
        string_strategy(),
        any::<bool>(),
        proptest::option::of(-5_000i64..10_000_000_000),
    )
        .prop_map(|(db, key, value, raw, ttl)| Key {
            db,
            key,
            value,
            raw,
            ttl,
        })
}

fn build(keys: &[Key]) -> Keyspace {
    let ks = keyspace();
    for k in keys {
        let value = if k.raw {
            Str::raw(k.value.clone())
        } else {
            Str::from_bytes(&k.value)
        };
        let at = k.ttl.map_or(0, |t| NOW.saturating_add_signed(t));
        let entry = Entry::new(&k.key, Value::Str(value)).with_expire(at);
        ks.lock_key(&k.key).insert(k.db, entry, NOW);
    }
    ks
}

/// Writes, reads back, and checks that exactly the live keys came back with the same
/// bytes, the same expiry, and the encoding `SET` would give those bytes.
fn check_round_trip(ks: &Keyspace) {
    let want = dump(ks, NOW);
    let mut bytes = Vec::new();
    let saved = match write_rdb(ks, &mut bytes, NOW) {
        Ok(s) => s,
        Err(e) => panic!("write failed: {e}"),
    };
    assert_eq!(saved.keys, want.len() as u64);
    assert_eq!(saved.bytes, bytes.len() as u64);
    let back = keyspace();
    let loaded = match load_from(&back, &bytes[..], NOW) {
        Ok(s) => s,
        Err(e) => panic!("read failed: {e}"),
    };
    assert_eq!(loaded.keys, want.len() as u64);
    assert_eq!(
        loaded.skipped_expired, 0,
        "the writer left expired keys out"
    );
    assert!(loaded.checksum_verified);
    assert_eq!(loaded.version, 10);
    let got = dump(&back, NOW);
    assert_eq!(got.len(), want.len());
    for ((k, (w, w_at)), (gk, (g, g_at))) in want.iter().zip(&got) {
        assert_eq!(k, gk);
        assert_eq!(str_bytes(g), str_bytes(w), "value of {k:?}");
        assert_eq!(*g, Str::from_bytes(&str_bytes(w)), "encoding of {k:?}");
        assert_eq!(g_at, w_at, "expiry of {k:?}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn random_keyspaces_round_trip(keys in vec(key_strategy(), 0..40)) {
        check_round_trip(&build(&keys));
    }

    #[test]
    fn arbitrary_bytes_never_panic(data in vec(any::<u8>(), 0..300)) {
        let _ = items(&data);
        let _ = from_rdb(&data, NOW);
    }

    #[test]
    fn arbitrary_bodies_never_panic(body in vec(any::<u8>(), 0..300), version in 1u32..=10) {
        let mut data = format!("REDIS{version:04}").into_bytes();
        data.extend_from_slice(&body);
        let _ = from_rdb(&data, NOW);
        let _ = from_rdb(&file(version, &body), NOW);
    }

    #[test]
    fn damaged_files_are_refused(
        keys in vec(key_strategy(), 1..12),
        at in any::<proptest::sample::Index>(),
        mask in 1u8..=255,
        cut in any::<proptest::sample::Index>(),
        flips in vec((any::<proptest::sample::Index>(), any::<u8>()), 1..8),
    ) {
        let good = to_rdb(&build(&keys), NOW);
        // One changed byte anywhere: the checksum (or the parse) catches it.
        let mut bad = good.clone();
        bad[at.index(good.len())] ^= mask;
        prop_assert!(from_rdb(&bad, NOW).is_err());
        // Any truncation is reported as such.
        let short = &good[..cut.index(good.len())];
        let e = err(from_rdb(short, NOW));
        prop_assert!(matches!(e, PersistError::UnexpectedEof { .. }), "{}", e);
        // Several changes: no panic, whatever the outcome.
        let mut bad = good.clone();
        for (i, b) in flips {
            bad[i.index(good.len())] = b;
        }
        let _ = from_rdb(&bad, NOW);
    }
}

#[test]
fn edge_values_round_trip() {
    let mut keys = Vec::new();
    let texts: Vec<Vec<u8>> = [
        "0",
        "-1",
        "007",
        "-0",
        "4294967296",
        &i64::MIN.to_string(),
        &i64::MAX.to_string(),
        "",
    ]
    .iter()
    .map(|t| t.as_bytes().to_vec())
    .chain([
        vec![0u8, 0xff, b'\r', b'\n', 0x80],
        b"abc".repeat(1000),
        (0..5000u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 7) as u8)
            .collect(),
    ])
    .collect();
    for (i, t) in texts.iter().enumerate() {
        for raw in [false, true] {
            keys.push(Key {
                db: i % 4,
                key: [t.clone(), vec![u8::from(raw)]].concat(),
                value: t.clone(),
                raw,
                ttl: (i % 3 == 0).then_some(60_000),
            });
        }
        // The text as a key on its own, to cover integer-encoded keys.
        keys.push(Key {
            db: 0,
            key: t.clone(),
            value: b"v".to_vec(),
            raw: false,
            ttl: None,
        });
    }
    check_round_trip(&build(&keys));
}

#[test]
fn long_repetitive_values_are_compressed() {
    let keys = vec![Key {
        db: 0,
        key: b"big".to_vec(),
        value: b"0123456789".repeat(10_000),
        raw: false,
        ttl: None,
    }];
    let ks = build(&keys);
    let bytes = to_rdb(&ks, NOW);
    assert!(
        bytes.len() < 5_000,
        "100 kB of repetition took {} bytes",
        bytes.len()
    );
    check_round_trip(&ks);
}

#[test]
fn expired_keys_are_left_out_on_save_and_on_load() {
    let ks = keyspace();
    {
        let mut l = ks.lock_all();
        l.insert(
            0,
            Entry::new(b"gone", Value::Str(Str::Int(1))).with_expire(NOW),
            0,
        );
        l.insert(
            0,
            Entry::new(b"soon", Value::Str(Str::Int(2))).with_expire(NOW + 10),
            0,
        );
        l.insert(
            2,
            Entry::new(b"dead", Value::Str(Str::Int(3))).with_expire(NOW - 1),
            0,
        );
    }
    let mut bytes = Vec::new();
    let stats = write_rdb(&ks, &mut bytes, NOW).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        (stats.keys, stats.expires, stats.skipped_expired),
        (1, 1, 2)
    );
    let listed = items(&bytes).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        !listed.contains(&RdbItem::SelectDb(2)),
        "a database with no live key is not written"
    );
    // Loaded later, the remaining key has expired too.
    let back = keyspace();
    let loaded = load_from(&back, &bytes[..], NOW + 10).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((loaded.keys, loaded.skipped_expired), (0, 1));
    assert!(dump(&back, 0).is_empty());
}

#[test]
fn header_and_aux_fields_are_redis_7s() {
    let bytes = to_rdb(&keyspace(), NOW);
    assert!(bytes.starts_with(b"REDIS0010"));
    let listed = items(&bytes).unwrap_or_else(|e| panic!("{e}"));
    let aux: Vec<(String, String)> = listed
        .iter()
        .filter_map(|i| match i {
            RdbItem::Aux { key, value } => Some((
                String::from_utf8_lossy(key).into_owned(),
                String::from_utf8_lossy(value).into_owned(),
            )),
            _ => None,
        })
        .collect();
    let want: Vec<(String, String)> = [
        ("redis-ver", "7.0.15"),
        ("redis-bits", "64"),
        ("ctime", "1700000000"),
        ("used-mem", "0"),
        ("aof-base", "0"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    assert_eq!(aux, want);
    assert_eq!(
        listed.len(),
        want.len(),
        "an empty keyspace writes no database"
    );
}

// ---------------------------------------------------------------------------------
// Hand-made files

#[test]
fn every_string_encoding_and_opcode_is_read() {
    let lzf_value = b"abcabcabcabcabcabcabcabcabcabc".to_vec();
    let compressed = crate::lzf::compress(&lzf_value, usize::MAX).unwrap_or_default();
    let mut body = Vec::new();
    body.extend([0xfa].iter().chain(&s(b"unknown-aux")).chain(&s(b"x")));
    body.extend([0xfe, 0x01, 0xfb, 0x05, 0x01]);
    // Keys in every encoding, with LRU and LFU metadata in front of some.
    body.extend(
        [0xf8, 0x40, 0x80, 0x00]
            .iter()
            .chain(&s(b"k1"))
            .chain(&s(b"plain")),
    );
    body.extend([0xf9, 7, 0x00].iter().chain(&s(b"k2")));
    body.extend([0xc0, 0xfe]); // INT8 -2
    body.extend([0x00].iter().chain(&s(b"k3")));
    body.extend([0xc1, 0x00, 0x80]); // INT16 -32768
    body.extend([0x00].iter().chain(&s(b"k4")));
    body.extend([0xc2, 0xff, 0xff, 0xff, 0x7f]); // INT32 i32::MAX
    body.extend([0x00, 0xc0, 0x2a]); // an integer-encoded key, 42
    body.extend([0xc3, compressed.len() as u8, lzf_value.len() as u8]);
    body.extend(&compressed);
    // Expiry in milliseconds, then in seconds (old format), both in the future.
    body.push(0xfc);
    body.extend(&(NOW as i64 + 5_000).to_le_bytes());
    body.extend([0x00].iter().chain(&s(b"ms")).chain(&s(b"v")));
    body.push(0xfd);
    body.extend(&((NOW / 1000) as i32 + 100).to_le_bytes());
    body.extend([0x00].iter().chain(&s(b"secs")).chain(&s(b"v")));
    // A 14-bit length.
    body.extend([0x00].iter().chain(&s(b"wide")));
    body.extend([0x40, 100]);
    body.extend([b'w'; 100]);

    let ks = keyspace();
    let stats = load_from(&ks, &file(10, &body)[..], NOW).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((stats.keys, stats.expires), (8, 2));
    let got = dump(&ks, NOW);
    let value = |k: &[u8]| got.get(&(1, k.to_vec())).cloned();
    assert_eq!(value(b"k1"), Some((Str::from_bytes(b"plain"), 0)));
    assert_eq!(value(b"k2"), Some((Str::Int(-2), 0)));
    assert_eq!(value(b"k3"), Some((Str::Int(-32768), 0)));
    assert_eq!(value(b"k4"), Some((Str::Int(i64::from(i32::MAX)), 0)));
    assert_eq!(value(b"42"), Some((Str::from_bytes(&lzf_value), 0)));
    assert_eq!(value(b"ms"), Some((Str::from_bytes(b"v"), NOW + 5_000)));
    assert_eq!(value(b"secs").map(|v| v.1), Some((NOW / 1000 + 100) * 1000));
    assert_eq!(
        value(b"wide").map(|v| str_bytes(&v.0)),
        Some(vec![b'w'; 100])
    );
}

#[test]
fn old_versions_without_checksum_and_zero_checksums_are_accepted() {
    let body = [vec![0x00], s(b"k"), s(b"v")].concat();
    let old = file(4, &body);
    assert!(old.ends_with(&[0xff]), "version 4 has no checksum");
    let ks = keyspace();
    let stats = load_from(&ks, &old[..], NOW).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        (stats.version, stats.keys, stats.checksum_verified),
        (4, 1, false)
    );

    let mut unchecked = file(9, &body);
    let n = unchecked.len();
    unchecked[n - 8..].fill(0);
    let stats = load_from(&keyspace(), &unchecked[..], NOW).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((stats.version, stats.checksum_verified), (9, false));
}

#[test]
fn malformed_files_give_clear_errors() {
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (b"".to_vec(), "unexpected end of file at byte 0"),
        (b"RDB0010xxxxxx".to_vec(), "not an RDB file"),
        (b"REDIS00a0".to_vec(), "not an RDB file"),
        (file(11, b""), "RDB format version 11 is not supported"),
        (file(0, b""), "RDB format version 0 is not supported"),
        (
            b"REDIS0010\xfa".to_vec(),
            "unexpected end of file at byte 10",
        ),
        (
            [file(10, &[0x00, 0x01, b'k', 0x01, b'v']), vec![0]].concat()[..22].to_vec(),
            "unexpected end of file at byte 15",
        ),
        (
            file(10, &[0xf7]),
            "RDB opcode 247 (module auxiliary data) is not supported yet",
        ),
        // A function library whose code is not a string (the EOF byte follows).
        (file(10, &[0xf5]), "unknown string encoding 63"),
        (
            file(10, &[0xf6]),
            "RDB opcode 246 (function library) is not supported yet",
        ),
        (
            file(10, &[0x07, 0x02, b'm', b'x']),
            "RDB value type 7 (module value) is not supported yet (key \"mx\" in db 0)",
        ),
        (
            file(10, &[0x08]),
            "corrupt RDB file at byte 9: unknown opcode or value type 8",
        ),
        (
            file(10, &[0xfe, 0x04]),
            "database index 4 is out of range (the keyspace has 4 databases)",
        ),
        (
            file(10, &[0xfe, 0xc0]),
            "a length was expected, found string encoding 0",
        ),
        (file(10, &[0x00, 0xc5]), "unknown string encoding 5"),
        (file(10, &[0x00, 0x90]), "invalid length byte 0x90"),
        (
            file(10, &[0x00, 0xc3, 0x01, 0x80, 0x00, 0x01, 0x00, 0x00]),
            "LZF string claims 65536 bytes from 1 compressed",
        ),
        (
            file(10, &[0x00, 0xc3, 0x02, 0x05, 0x00, b'a']),
            "bad LZF string: the data decompresses to less than its stated length",
        ),
    ];
    for (bytes, want) in cases {
        let e = err(from_rdb(&bytes, NOW));
        assert!(
            e.to_string().contains(want),
            "{bytes:?}: got {e:?} ({e}), want {want}"
        );
    }

    let mut bad_crc = file(10, &[]);
    let n = bad_crc.len();
    bad_crc[n - 1] ^= 1;
    assert!(matches!(
        err(from_rdb(&bad_crc, NOW)),
        PersistError::BadChecksum { .. }
    ));
}

#[test]
fn length_claims_do_not_allocate_before_the_data_is_there() {
    // A key claiming 2^60 bytes, and an LZF string claiming 4 GiB from 64 MiB of
    // compressed data: both fail at the end of the (tiny) file.
    let mut body = vec![0x00, 0x81];
    body.extend(&(1u64 << 60).to_be_bytes());
    let e = err(from_rdb(&file(10, &body), NOW));
    assert!(matches!(e, PersistError::UnexpectedEof { .. }), "{e}");

    let mut body = vec![0x00, 0x01, b'k', 0xc3, 0x80];
    body.extend(&(64u32 << 20).to_be_bytes());
    body.push(0x80);
    body.extend(&u32::MAX.to_be_bytes());
    let e = err(from_rdb(&file(10, &body), NOW));
    assert!(matches!(e, PersistError::UnexpectedEof { .. }), "{e}");
}

// ---------------------------------------------------------------------------------
// Files

fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("persistence-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    dir
}

#[test]
fn save_replaces_the_file_and_leaves_nothing_else() {
    let dir = temp_dir("save");
    let path = dir.join("dump.rdb");
    std::fs::write(&path, b"old contents").unwrap_or_else(|e| panic!("{e}"));
    let ks = build(&[Key {
        db: 3,
        key: b"k".to_vec(),
        value: b"v".to_vec(),
        raw: false,
        ttl: Some(1000),
    }]);
    let stats = save(&ks, &path, NOW).unwrap_or_else(|e| panic!("{e}"));
    let names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{e}"))
        .map(|e| e.map(|e| e.file_name()))
        .collect::<Result<_, _>>()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(names, vec![std::ffi::OsString::from("dump.rdb")]);
    let len = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    assert_eq!(stats.bytes, len);

    let back = keyspace();
    let loaded = load(&back, &path, NOW).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(loaded.keys, 1);
    assert_eq!(dump(&back, NOW), dump(&ks, NOW));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn file_errors_name_the_path() {
    let dir = temp_dir("errors");
    let missing = dir.join("no-such-dir").join("dump.rdb");
    let e = err(save(&keyspace(), &missing, NOW));
    assert!(
        e.to_string()
            .contains(&*dir.join("no-such-dir").to_string_lossy()),
        "{e}"
    );
    let e = err(load(&keyspace(), &missing, NOW));
    assert!(e.to_string().starts_with("cannot open "), "{e}");
    assert!(e.to_string().contains(&*missing.to_string_lossy()), "{e}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Function libraries round trip (short codes raw, long ones LZF-compressed), before
/// the databases, and plain `load` still reads such a file.
#[test]
fn function_libraries_round_trip() {
    let ks = keyspace();
    ks.lock_key(b"k")
        .insert(0, Entry::new(b"k", Value::Str(Str::from_bytes(b"v"))), 1000);
    let short = b"#!lua name=a\nx".to_vec();
    let long = format!(
        "#!lua name=b\n{}",
        "redis.register_function('f', function() return 1 end)\n".repeat(20)
    )
    .into_bytes();
    let mut bytes = Vec::new();
    crate::write_rdb_with_functions(&ks, &mut bytes, 1000, &[short.clone(), long.clone()])
        .expect("writing");
    assert!(bytes.len() < long.len(), "the long code is compressed");
    let listed = items(&bytes).expect("reading");
    let funcs: Vec<&Vec<u8>> = listed
        .iter()
        .filter_map(|i| match i {
            RdbItem::Function(c) => Some(c),
            _ => None,
        })
        .collect();
    assert_eq!(funcs, vec![&short, &long]);
    let first_db = listed
        .iter()
        .position(|i| matches!(i, RdbItem::SelectDb(_)))
        .expect("a database");
    let last_fn = listed
        .iter()
        .rposition(|i| matches!(i, RdbItem::Function(_)))
        .expect("a function");
    assert!(last_fn < first_db, "libraries come before the databases");
    let ks2 = keyspace();
    let (stats, codes) = crate::load_from_with_functions(&ks2, &bytes[..], 1000).expect("loading");
    assert_eq!(stats.keys, 1);
    assert_eq!(codes, vec![short, long]);
    assert_eq!(from_rdb(&bytes, 1000).map(|k| k.key_count()).ok(), Some(1));
}
