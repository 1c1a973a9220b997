//! Lists, sets, sorted sets and hashes: round trips through the writer (in the form
//! the engine's encoding asks for, and forced into the compact and the generic forms),
//! hand-made files in every encoding Redis 2.x to 7.0 writes, and clear errors for bad
//! values.

use std::collections::{BTreeMap, BTreeSet};

use engine::types::{Hash, List, Set, ZSet};
use engine::{Entry, Keyspace, KeyspaceConfig, Value};
use proptest::collection::vec;
use proptest::prelude::*;

use crate::crc64::crc64;
use crate::{intset, listpack, load_from, write_rdb, write_rdb_in, Form, PersistError};

const NOW: u64 = 1_700_000_000_000;

fn keyspace() -> Keyspace {
    Keyspace::new(&KeyspaceConfig {
        databases: 4,
        shards: 4,
    })
}

/// A value in a form that compares by contents: sets and hashes sorted, scores by
/// their bits (so -0.0 and 0.0 differ).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Canon {
    Str(Vec<u8>),
    List(Vec<Vec<u8>>),
    Set(Vec<Vec<u8>>),
    ZSet(Vec<(Vec<u8>, u64)>),
    Hash(Vec<(Vec<u8>, Vec<u8>)>),
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
        Value::Stream(_) => panic!("no streams here"),
    }
}

type Dump = BTreeMap<(usize, Vec<u8>), (Canon, u64)>;

fn dump(ks: &Keyspace) -> Dump {
    let mut out = BTreeMap::new();
    let l = ks.lock_all();
    for db in 0..ks.databases() {
        l.for_each(db, NOW, |e| {
            out.insert((db, e.key.to_vec()), (canon(&e.value), e.expire_at()));
        });
    }
    out
}

/// A collection as the test builds it.
#[derive(Clone, Debug)]
enum Model {
    List(Vec<Vec<u8>>),
    Set(BTreeSet<Vec<u8>>),
    ZSet(BTreeMap<Vec<u8>, f64>),
    Hash(BTreeMap<Vec<u8>, Vec<u8>>),
}

impl Model {
    fn value(&self) -> Value {
        match self {
            Model::List(items) => {
                let mut l = List::new();
                items.iter().for_each(|i| l.push_back(i));
                Value::List(Box::new(l))
            }
            Model::Set(members) => {
                let mut s = Set::new();
                members.iter().for_each(|m| {
                    s.insert(m);
                });
                Value::Set(s)
            }
            Model::ZSet(members) => {
                // Created as Redis creates a sorted set of that shape (so a large one
                // keeps -0 scores, as Redis's skiplist does).
                let max_len = members.keys().map(Vec::len).max().unwrap_or(0);
                let mut z = ZSet::with_hint(members.len(), max_len);
                members.iter().for_each(|(m, score)| {
                    z.insert(m, *score);
                });
                Value::ZSet(z)
            }
            Model::Hash(fields) => {
                let mut h = Hash::new();
                fields.iter().for_each(|(f, v)| {
                    h.insert(f, v);
                });
                Value::Hash(h)
            }
        }
    }

    fn canon(&self) -> Canon {
        match self {
            Model::List(items) => Canon::List(items.clone()),
            Model::Set(members) => Canon::Set(members.iter().cloned().collect()),
            Model::ZSet(members) => {
                // A listpack-encoded set keeps -0 as 0, as Redis 7.0's does.
                let small = members.len() <= engine::types::zset::PACK_MAX_ENTRIES
                    && members
                        .keys()
                        .all(|m| m.len() <= engine::types::zset::PACK_MAX_VALUE);
                Canon::ZSet(
                    members
                        .iter()
                        .map(|(m, s)| {
                            let s = if small && *s == 0.0 { 0.0 } else { *s };
                            (m.clone(), s.to_bits())
                        })
                        .collect(),
                )
            }
            Model::Hash(fields) => Canon::Hash(fields.clone().into_iter().collect()),
        }
    }

    fn is_empty(&self) -> bool {
        match self {
            Model::List(v) => v.is_empty(),
            Model::Set(v) => v.is_empty(),
            Model::ZSet(v) => v.is_empty(),
            Model::Hash(v) => v.is_empty(),
        }
    }
}

/// Elements in every listpack and RDB string encoding.
fn element() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        any::<i64>().prop_map(|n| n.to_string().into_bytes()),
        (-5000i64..5000).prop_map(|n| n.to_string().into_bytes()),
        prop::sample::select(vec![
            "007", "-0", "+1", "", " 1", "1.5", "inf", "nan", "a", "b", "c"
        ])
        .prop_map(|s| s.as_bytes().to_vec()),
        vec(any::<u8>(), 0..24),
        (0usize..3000).prop_map(|n| b"abc".repeat(n)),
    ]
}

fn score() -> impl Strategy<Value = f64> {
    prop_oneof![
        any::<f64>().prop_filter("not NaN", |f| !f.is_nan()),
        (-1000i64..1000).prop_map(|n| n as f64),
        (-1000i64..1000).prop_map(|n| n as f64 / 8.0),
        prop::sample::select(vec![
            0.0,
            -0.0,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::MAX,
            f64::MIN,
            f64::MIN_POSITIVE,
            5e-324,
            4_503_599_627_370_496.0,
            4_503_599_627_370_495.0,
            -4_503_599_627_370_496.0,
            1e300,
            0.1,
        ]),
    ]
}

fn model() -> impl Strategy<Value = Model> {
    let small = 0..12usize;
    prop_oneof![
        vec(element(), small.clone()).prop_map(Model::List),
        prop::collection::btree_set(element(), small.clone()).prop_map(Model::Set),
        prop::collection::btree_set(
            any::<i64>().prop_map(|n| n.to_string().into_bytes()),
            small.clone()
        )
        .prop_map(Model::Set),
        prop::collection::btree_map(element(), score(), small.clone()).prop_map(Model::ZSet),
        prop::collection::btree_map(element(), element(), small).prop_map(Model::Hash),
    ]
}

#[derive(Clone, Debug)]
struct Key {
    db: usize,
    key: Vec<u8>,
    value: Model,
    ttl: Option<u64>,
}

fn key() -> impl Strategy<Value = Key> {
    (
        0usize..4,
        element(),
        model(),
        proptest::option::of(1u64..10_000_000),
    )
        .prop_map(|(db, key, value, ttl)| Key {
            db,
            key,
            value,
            ttl,
        })
}

fn build(keys: &[Key]) -> (Keyspace, Dump) {
    let ks = keyspace();
    let mut want = Dump::new();
    for k in keys {
        if k.value.is_empty() {
            // The engine removes a collection that becomes empty.
            continue;
        }
        let at = k.ttl.map_or(0, |t| NOW + t);
        let entry = Entry::new(&k.key, k.value.value()).with_expire(at);
        ks.lock_key(&k.key).insert(k.db, entry, NOW);
        want.insert((k.db, k.key.clone()), (k.value.canon(), at));
    }
    (ks, want)
}

/// The keyspace written with every collection in `form`.
fn write_in(ks: &Keyspace, form: Form) -> Vec<u8> {
    let mut buf = Vec::new();
    if let Err(e) = write_rdb_in(ks, &mut buf, NOW, form) {
        panic!("writing to memory failed: {e}");
    }
    buf
}

fn load(bytes: &[u8]) -> Result<Keyspace, PersistError> {
    let ks = keyspace();
    load_from(&ks, bytes, NOW)?;
    Ok(ks)
}

/// The value type codes of the keys "k0", "k1", ... in a file: the byte before each
/// key (the keys must not appear elsewhere in the file).
fn type_codes(bytes: &[u8]) -> Vec<u8> {
    let mut codes = Vec::new();
    for i in 0.. {
        let key = format!("k{i}");
        let needle = [&[key.len() as u8][..], key.as_bytes()].concat();
        match bytes.windows(needle.len()).position(|w| w == needle) {
            Some(at) if at > 0 => codes.push(bytes[at - 1]),
            _ => break,
        }
    }
    codes
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(150))]

    #[test]
    fn collections_round_trip_in_every_form(keys in vec(key(), 0..12)) {
        let (ks, want) = build(&keys);
        prop_assert_eq!(&dump(&ks), &want, "the engine keeps what the model says");
        for form in [Form::Auto, Form::Compact, Form::Generic] {
            let bytes = if form == Form::Auto {
                let mut b = Vec::new();
                let stats = write_rdb(&ks, &mut b, NOW).map_err(|e| TestCaseError::fail(e.to_string()))?;
                prop_assert_eq!(stats.keys, want.len() as u64);
                b
            } else {
                write_in(&ks, form)
            };
            let back = load(&bytes).map_err(|e| TestCaseError::fail(format!("{form:?}: {e}")))?;
            prop_assert_eq!(&dump(&back), &want, "{:?}", form);
        }
    }

    #[test]
    fn damaged_collection_files_never_panic(
        keys in vec(key(), 1..6),
        flips in vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
        compact in any::<bool>(),
    ) {
        let (ks, _) = build(&keys);
        let good = write_in(&ks, if compact { Form::Compact } else { Form::Generic });
        let mut bad = good.clone();
        for (i, b) in flips {
            bad[i.index(good.len())] = b;
        }
        let _ = load(&bad);
        // With a fixed-up checksum, the damage reaches the value decoders.
        let n = bad.len();
        let crc = crc64(&bad[..n - 8]);
        bad[n - 8..].copy_from_slice(&crc.to_le_bytes());
        let _ = load(&bad);
    }
}

#[test]
fn writer_picks_redis_7_encodings() {
    let keys: Vec<Key> = [
        Model::List(vec![b"a".to_vec(), b"1".to_vec()]),
        Model::Set([b"1".to_vec(), b"-5".to_vec()].into()),
        Model::Set([b"x".to_vec()].into()),
        Model::ZSet([(b"m".to_vec(), 1.5)].into()),
        Model::Hash([(b"f".to_vec(), b"v".to_vec())].into()),
    ]
    .into_iter()
    .enumerate()
    .map(|(i, value)| Key {
        db: 0,
        key: format!("k{i}").into_bytes(),
        value,
        ttl: None,
    })
    .collect();
    let (ks, want) = build(&keys);
    let compact = write_in(&ks, Form::Compact);
    let generic = write_in(&ks, Form::Generic);
    let mut codes = type_codes(&compact);
    codes.sort_unstable();
    // Lists are always quicklist 2; a set of integers an intset, of other members
    // the generic set (Redis 7.0 has no set listpack).
    assert_eq!(codes, [2, 11, 16, 17, 18]);
    let mut codes = type_codes(&generic);
    codes.sort_unstable();
    assert_eq!(codes, [2, 2, 4, 5, 18]);
    assert_eq!(
        dump(&load(&compact).unwrap_or_else(|e| panic!("{e}"))),
        want
    );
    assert_eq!(
        dump(&load(&generic).unwrap_or_else(|e| panic!("{e}"))),
        want
    );
}

#[test]
fn empty_collections_are_left_out() {
    let ks = keyspace();
    for (key, value) in [
        (&b"l"[..], Value::List(Box::new(List::new()))),
        (b"s", Value::Set(Set::new())),
        (b"z", Value::ZSet(ZSet::new())),
        (b"h", Value::Hash(Hash::new())),
        (b"str", Value::Str(engine::Str::from_bytes(b""))),
    ] {
        ks.lock_key(key).insert(2, Entry::new(key, value), NOW);
    }
    let mut bytes = Vec::new();
    let stats = write_rdb(&ks, &mut bytes, NOW).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(stats.keys, 1);
    let back = dump(&load(&bytes).unwrap_or_else(|e| panic!("{e}")));
    assert_eq!(
        back.keys().cloned().collect::<Vec<_>>(),
        [(2, b"str".to_vec())]
    );
}

#[test]
fn long_lists_are_split_into_nodes() {
    let items: Vec<Vec<u8>> = (0..20_000)
        .map(|i| format!("element-{i}").into_bytes())
        .chain([vec![b'x'; 100_000], b"tail".to_vec()])
        .collect();
    let keys = [Key {
        db: 1,
        key: b"k0".to_vec(),
        value: Model::List(items),
        ttl: Some(60_000),
    }];
    let (ks, want) = build(&keys);
    let bytes = write_in(&ks, Form::Auto);
    let at = bytes
        .windows(3)
        .position(|w| w == b"\x02k0")
        .unwrap_or_else(|| panic!("key not found"));
    assert_eq!(bytes[at - 1], 18, "quicklist 2");
    // The node count (a 6-bit length): about 240 kB in nodes of 8 KiB, and the big one.
    assert_eq!(bytes[at + 3] >> 6, 0);
    let nodes = usize::from(bytes[at + 3]);
    assert!((25..60).contains(&nodes), "{nodes} nodes");
    assert_eq!(dump(&load(&bytes).unwrap_or_else(|e| panic!("{e}"))), want);
}

// ---------------------------------------------------------------------------------
// Hand-made files

/// A file of version 10 with `body` between the header and EOF.
fn file(body: &[u8]) -> Vec<u8> {
    let mut f = b"REDIS0010".to_vec();
    f.extend_from_slice(body);
    f.push(0xff);
    let crc = crc64(&f);
    f.extend_from_slice(&crc.to_le_bytes());
    f
}

/// An RDB length.
fn len(n: usize) -> Vec<u8> {
    if n < 64 {
        vec![n as u8]
    } else if n < 16384 {
        vec![0x40 | (n >> 8) as u8, n as u8]
    } else {
        [vec![0x80], (n as u32).to_be_bytes().to_vec()].concat()
    }
}

/// An RDB string, plain.
fn st(b: &[u8]) -> Vec<u8> {
    [len(b.len()), b.to_vec()].concat()
}

fn lp(items: &[&[u8]]) -> Vec<u8> {
    let mut lp = listpack::Listpack::new();
    items.iter().for_each(|i| lp.push(i));
    lp.finish().unwrap_or_else(|e| panic!("{e}"))
}

fn zl(items: &[&[u8]]) -> Vec<u8> {
    crate::ziplist::encode(items)
}

/// One entry: type, key, value bytes.
fn entry(code: u8, key: &str, value: &[u8]) -> Vec<u8> {
    [vec![code], st(key.as_bytes()), value.to_vec()].concat()
}

fn strs(items: &[&[u8]]) -> Vec<u8> {
    [len(items.len())]
        .into_iter()
        .chain(items.iter().map(|i| st(i)))
        .flatten()
        .collect()
}

fn list(items: &[&str]) -> Canon {
    Canon::List(items.iter().map(|s| s.as_bytes().to_vec()).collect())
}

fn set(items: &[&str]) -> Canon {
    let mut v: Vec<Vec<u8>> = items.iter().map(|s| s.as_bytes().to_vec()).collect();
    v.sort();
    Canon::Set(v)
}

fn zset(items: &[(&str, f64)]) -> Canon {
    let mut v: Vec<(Vec<u8>, u64)> = items
        .iter()
        .map(|(m, s)| (m.as_bytes().to_vec(), s.to_bits()))
        .collect();
    v.sort();
    Canon::ZSet(v)
}

fn hash(items: &[(&str, &str)]) -> Canon {
    let mut v: Vec<(Vec<u8>, Vec<u8>)> = items
        .iter()
        .map(|(f, x)| (f.as_bytes().to_vec(), x.as_bytes().to_vec()))
        .collect();
    v.sort();
    Canon::Hash(v)
}

#[test]
fn every_collection_encoding_is_read() {
    let big = "B".repeat(300);
    let cases: Vec<(Vec<u8>, &str, Canon)> = vec![
        // Lists.
        (
            entry(1, "list", &strs(&[b"a", b"1", b"", big.as_bytes()])),
            "list",
            list(&["a", "1", "", &big]),
        ),
        (
            entry(
                10,
                "list-zl",
                &st(&zl(&[b"x", b"-7", b"70000", big.as_bytes()])),
            ),
            "list-zl",
            list(&["x", "-7", "70000", &big]),
        ),
        (
            entry(
                14,
                "quicklist",
                &[
                    len(3),
                    st(&zl(&[b"a", b"b"])),
                    st(&zl(&[])),
                    st(&zl(&[b"3"])),
                ]
                .concat(),
            ),
            "quicklist",
            list(&["a", "b", "3"]),
        ),
        (
            entry(
                18,
                "quicklist2",
                &[
                    len(3),
                    len(2),
                    st(&lp(&[b"a", b"12"])),
                    len(1),
                    st(big.as_bytes()),
                    len(2),
                    st(&lp(&[b"z"])),
                ]
                .concat(),
            ),
            "quicklist2",
            list(&["a", "12", &big, "z"]),
        ),
        // Sets.
        (
            entry(2, "set", &strs(&[b"a", b"1", b""])),
            "set",
            set(&["a", "1", ""]),
        ),
        (
            entry(11, "intset", &st(&intset::encode(&[-70000, 3, i64::MAX]))),
            "intset",
            set(&["-70000", "3", &i64::MAX.to_string()]),
        ),
        (
            entry(20, "set-lp", &st(&lp(&[b"x", b"5"]))),
            "set-lp",
            set(&["x", "5"]),
        ),
        // Sorted sets.
        (
            entry(
                3,
                "zset",
                &[
                    len(5),
                    st(b"a"),
                    st(b"1.5"),
                    st(b"b"),
                    vec![254],
                    st(b"c"),
                    vec![255],
                    st(b"d"),
                    st(b"-3"),
                    st(b"e"),
                    st(b"1e+300"),
                ]
                .concat(),
            ),
            "zset",
            zset(&[
                ("a", 1.5),
                ("b", f64::INFINITY),
                ("c", f64::NEG_INFINITY),
                ("d", -3.0),
                ("e", 1e300),
            ]),
        ),
        (
            entry(
                5,
                "zset2",
                &[
                    len(2),
                    st(b"m"),
                    0.25f64.to_le_bytes().to_vec(),
                    st(b"n"),
                    (-0.0f64).to_le_bytes().to_vec(),
                ]
                .concat(),
            ),
            "zset2",
            // A small set is listpack-encoded, where Redis 7.0 keeps -0 as 0.
            zset(&[("m", 0.25), ("n", 0.0)]),
        ),
        (
            entry(
                12,
                "zset-zl",
                &st(&zl(&[b"a", b"1", b"b", b"2.5", b"c", b"-inf"])),
            ),
            "zset-zl",
            zset(&[("a", 1.0), ("b", 2.5), ("c", f64::NEG_INFINITY)]),
        ),
        (
            entry(
                17,
                "zset-lp",
                &st(&lp(&[
                    b"a",
                    b"1",
                    b"b",
                    b"1.0000000000000001e+300",
                    b"c",
                    b"inf",
                    b"d",
                    b"-0",
                ])),
            ),
            "zset-lp",
            // -0 is 0 in the engine's listpack, as Redis 7.0 stores it on ZADD (Redis
            // keeps a loaded listpack's text "-0" as it is, and reads it as -0).
            zset(&[("a", 1.0), ("b", 1e300), ("c", f64::INFINITY), ("d", 0.0)]),
        ),
        // Hashes.
        (
            entry(
                4,
                "hash",
                &[len(2), st(b"f"), st(b"v"), st(b"n"), st(b"12")].concat(),
            ),
            "hash",
            hash(&[("f", "v"), ("n", "12")]),
        ),
        (
            entry(
                9,
                "zipmap",
                &st(&crate::zipmap::encode(&[(b"f", b"v"), (b"g", b"")], 1)),
            ),
            "zipmap",
            hash(&[("f", "v"), ("g", "")]),
        ),
        (
            entry(13, "hash-zl", &st(&zl(&[b"f", b"1", b"g", b"x"]))),
            "hash-zl",
            hash(&[("f", "1"), ("g", "x")]),
        ),
        (
            entry(16, "hash-lp", &st(&lp(&[b"f", b"1", b"g", big.as_bytes()]))),
            "hash-lp",
            hash(&[("f", "1"), ("g", &big)]),
        ),
    ];
    let body: Vec<u8> = cases.iter().flat_map(|(b, _, _)| b.clone()).collect();
    let ks = load(&file(&body)).unwrap_or_else(|e| panic!("{e}"));
    let got = dump(&ks);
    assert_eq!(got.len(), cases.len());
    for (_, key, want) in cases {
        assert_eq!(
            got.get(&(0, key.as_bytes().to_vec())).map(|v| &v.0),
            Some(&want),
            "{key}"
        );
    }
}

#[test]
fn compressed_blobs_are_read() {
    // Redis LZF-compresses listpacks like any other string.
    let items: Vec<Vec<u8>> = (0..50)
        .map(|i| format!("item-{}", i % 5).into_bytes())
        .collect();
    let refs: Vec<&[u8]> = items.iter().map(Vec::as_slice).collect();
    let blob = lp(&refs);
    let compressed =
        crate::lzf::compress(&blob, blob.len()).unwrap_or_else(|| panic!("compressible"));
    let value = [
        len(1),
        len(2),
        vec![0xc3],
        len(compressed.len()),
        len(blob.len()),
        compressed,
    ]
    .concat();
    let ks = load(&file(&entry(18, "l", &value))).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        dump(&ks).get(&(0, b"l".to_vec())).map(|v| v.0.clone()),
        Some(Canon::List(items))
    );
}

#[test]
fn bad_values_give_clear_errors() {
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (entry(1, "l", &len(0)), "list \"l\": empty list"),
        (
            entry(18, "l", &len(0)),
            "list quicklist 2 \"l\": empty list",
        ),
        (
            entry(18, "l", &[len(1), len(2), st(&lp(&[]))].concat()),
            "empty list",
        ),
        (
            entry(14, "l", &[len(1), st(&zl(&[]))].concat()),
            "empty list",
        ),
        (
            entry(18, "l", &[len(1), len(3), st(b"x")].concat()),
            "list quicklist 2 \"l\": unknown quicklist node container 3",
        ),
        (
            entry(18, "l", &[len(1), len(2), st(b"not a listpack")].concat()),
            "list quicklist 2 \"l\": bad quicklist node: listpack header says",
        ),
        (
            entry(10, "l", &st(b"not a ziplist")),
            "list ziplist \"l\": bad ziplist: ziplist header says",
        ),
        (entry(2, "s", &len(0)), "set \"s\": empty set"),
        (
            entry(2, "s", &strs(&[b"a", b"b", b"a"])),
            "set \"s\": duplicate member \"a\"",
        ),
        (
            entry(20, "s", &st(&lp(&[b"1", b"x", b"1"]))),
            "set listpack \"s\": duplicate member \"1\"",
        ),
        (
            entry(11, "s", &st(&[2, 0, 0, 0, 2, 0, 0, 0, 5, 0, 5, 0])),
            "set intset \"s\": bad intset: intset is not in strictly ascending order at 5",
        ),
        (
            entry(11, "s", &st(&[2, 0, 0, 0, 0, 0, 0, 0])),
            "empty intset",
        ),
        (entry(3, "z", &len(0)), "sorted set \"z\": empty sorted set"),
        (
            entry(3, "z", &[len(1), st(b"m"), vec![253]].concat()),
            "sorted set \"z\": member \"m\" has a NaN or bad score",
        ),
        (
            entry(3, "z", &[len(1), st(b"m"), st(b"1.5x")].concat()),
            "member \"m\" has a NaN or bad score",
        ),
        (
            entry(
                5,
                "z",
                &[len(1), st(b"m"), f64::NAN.to_le_bytes().to_vec()].concat(),
            ),
            "sorted set with binary scores \"z\": member \"m\" has a NaN or bad score",
        ),
        (
            entry(
                5,
                "z",
                &[
                    len(2),
                    st(b"m"),
                    1f64.to_le_bytes().to_vec(),
                    st(b"m"),
                    2f64.to_le_bytes().to_vec(),
                ]
                .concat(),
            ),
            "duplicate member \"m\"",
        ),
        (
            entry(17, "z", &st(&lp(&[b"a", b"1", b"b"]))),
            "sorted set listpack \"z\": 3 elements, not member and score pairs",
        ),
        (
            entry(17, "z", &st(&lp(&[b"a", b"nan"]))),
            "member \"a\" has a NaN or bad score",
        ),
        (
            entry(12, "z", &st(&zl(&[b"a", b"1", b"a", b"2"]))),
            "sorted set ziplist \"z\": duplicate member \"a\"",
        ),
        (entry(17, "z", &st(&lp(&[]))), "empty sorted set"),
        (entry(4, "h", &len(0)), "hash \"h\": empty hash"),
        (
            entry(
                4,
                "h",
                &[len(2), st(b"f"), st(b"1"), st(b"f"), st(b"2")].concat(),
            ),
            "hash \"h\": duplicate field \"f\"",
        ),
        (
            entry(16, "h", &st(&lp(&[b"f"]))),
            "hash listpack \"h\": 1 elements, not field and value pairs",
        ),
        (
            entry(13, "h", &st(&zl(&[b"f", b"1", b"f", b"1"]))),
            "hash ziplist \"h\": duplicate field \"f\"",
        ),
        (
            entry(
                9,
                "h",
                &st(&crate::zipmap::encode(&[(b"f", b"1"), (b"f", b"2")], 0)),
            ),
            "hash zipmap \"h\": duplicate field \"f\"",
        ),
        (
            entry(9, "h", &st(&[1, 0xff])),
            "hash zipmap \"h\": bad zipmap: zipmap header says 1 pairs but it has 0",
        ),
        (entry(16, "h", &st(&lp(&[]))), "empty hash"),
    ];
    for (body, want) in cases {
        match load(&file(&body)) {
            Ok(_) => panic!("{want}: loaded"),
            Err(e) => {
                assert!(matches!(e, PersistError::Corrupt { .. }), "{want}: {e:?}");
                assert!(e.to_string().contains(want), "got {e}, want {want}");
                // The error points at the value, after the type byte and the key.
                assert!(
                    e.to_string().starts_with("corrupt RDB file at byte "),
                    "{e}"
                );
            }
        }
    }
}

#[test]
fn modules_stay_refused_by_name() {
    for (code, name) in [
        (6u8, "module value, pre-release format"),
        (7, "module value"),
    ] {
        let e = match load(&file(&entry(code, "x", &[]))) {
            Ok(_) => panic!("type {code} loaded"),
            Err(e) => e,
        };
        assert_eq!(
            e.to_string(),
            format!("RDB value type {code} ({name}) is not supported yet (key \"x\" in db 0)")
        );
    }
}

#[test]
fn truncated_collections_are_reported_as_such() {
    let (ks, _) = build(&[
        Key {
            db: 0,
            key: b"l".to_vec(),
            value: Model::List((0..500).map(|i| i.to_string().into_bytes()).collect()),
            ttl: None,
        },
        Key {
            db: 0,
            key: b"z".to_vec(),
            value: Model::ZSet(
                (0..50)
                    .map(|i| (vec![b'm', i as u8], f64::from(i) / 3.0))
                    .collect(),
            ),
            ttl: None,
        },
    ]);
    for form in [Form::Compact, Form::Generic] {
        let good = write_in(&ks, form);
        for cut in (0..good.len()).step_by(7) {
            match load(&good[..cut]) {
                Err(PersistError::UnexpectedEof { .. }) => {}
                other => panic!("cut at {cut}: {:?}", other.map(|_| ())),
            }
        }
    }
}
