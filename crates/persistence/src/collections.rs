//! Reading list, set, sorted set and hash values in every encoding Redis 2.x to 7.0
//! writes, into the engine's types through their construction contract
//! (`new` / `push_back` / `insert`).
//!
//! | type code | value                                | layout in the file                          |
//! | --------- | ------------------------------------ | ------------------------------------------- |
//! | 1         | list                                 | length, then that many strings              |
//! | 10        | list as a ziplist                    | one string holding a ziplist                |
//! | 14        | list as a quicklist                  | node count, then one ziplist string per node |
//! | 18        | list as a quicklist (Redis 7.0)      | node count, then per node a container (1 plain, 2 packed) and a string: the element, or a listpack |
//! | 2         | set                                  | length, then that many strings              |
//! | 11        | set as an intset                     | one string holding an intset                |
//! | 20        | set as a listpack (Redis 7.2)        | one string holding a listpack               |
//! | 3         | sorted set, scores as text           | length, then member strings each followed by a score: one length byte (253 NaN, 254 +inf, 255 -inf) and that many ASCII bytes |
//! | 5         | sorted set, binary scores            | length, then members each followed by an 8-byte little-endian double |
//! | 12 / 17   | sorted set as a ziplist / listpack   | one string: member, score, member, score... |
//! | 4         | hash                                 | length, then field and value strings        |
//! | 9         | hash as a zipmap                     | one string holding a zipmap                 |
//! | 13 / 16   | hash as a ziplist / listpack         | one string: field, value, field, value...   |
//!
//! Everything is checked: a duplicate member or field, an empty collection, a NaN or
//! unparsable score, an odd element count where pairs are expected, an unknown
//! quicklist container or a corrupt blob is a [`PersistError::Corrupt`] naming the key.
//! Like Redis, empty nodes inside a quicklist are skipped (only a list left with no
//! element at all is refused).

use std::io::Read;

use engine::types::{Hash, List, Set, ZSet};
use engine::Value;

use crate::error::{show_key, PersistError};
use crate::format::type_name;
use crate::listpack::{self, DecodeError, Item};
use crate::reader::Source;
use crate::{intset, ziplist, zipmap};

/// Value type codes of the collections read here.
pub(crate) mod code {
    pub const LIST: u8 = 1;
    pub const SET: u8 = 2;
    pub const ZSET: u8 = 3;
    pub const HASH: u8 = 4;
    pub const ZSET_2: u8 = 5;
    pub const HASH_ZIPMAP: u8 = 9;
    pub const LIST_ZIPLIST: u8 = 10;
    pub const SET_INTSET: u8 = 11;
    pub const ZSET_ZIPLIST: u8 = 12;
    pub const HASH_ZIPLIST: u8 = 13;
    pub const LIST_QUICKLIST: u8 = 14;
    pub const HASH_LISTPACK: u8 = 16;
    pub const ZSET_LISTPACK: u8 = 17;
    pub const LIST_QUICKLIST_2: u8 = 18;
    pub const SET_LISTPACK: u8 = 20;
}

/// Quicklist 2 node containers.
const CONTAINER_PLAIN: u64 = 1;
const CONTAINER_PACKED: u64 = 2;

/// Score length bytes of the text-score sorted set (type 3).
const SCORE_NAN: u8 = 253;
const SCORE_POS_INF: u8 = 254;
const SCORE_NEG_INF: u8 = 255;

/// Whether `code` is a collection type this module reads.
pub(crate) fn is_collection(c: u8) -> bool {
    use code::*;
    matches!(
        c,
        LIST | SET
            | ZSET
            | HASH
            | ZSET_2
            | HASH_ZIPMAP
            | LIST_ZIPLIST
            | SET_INTSET
            | ZSET_ZIPLIST
            | HASH_ZIPLIST
            | LIST_QUICKLIST
            | HASH_LISTPACK
            | ZSET_LISTPACK
            | LIST_QUICKLIST_2
            | SET_LISTPACK
    )
}

/// Where errors about one value point: the value's first byte, its type and key.
struct Ctx<'k> {
    at: u64,
    code: u8,
    key: &'k [u8],
}

impl Ctx<'_> {
    fn corrupt(&self, detail: impl std::fmt::Display) -> PersistError {
        PersistError::Corrupt {
            offset: self.at,
            reason: format!(
                "{} {}: {detail}",
                type_name(self.code).unwrap_or("value"),
                show_key(self.key)
            ),
        }
    }

    fn blob(&self, what: &str, e: DecodeError) -> PersistError {
        self.corrupt(format_args!("bad {what}: {e}"))
    }
}

/// Reads the value of type `c` (a collection, see [`is_collection`]) of `key`.
pub(crate) fn read<R: Read>(src: &mut Source<R>, c: u8, key: &[u8]) -> Result<Value, PersistError> {
    let cx = Ctx {
        at: src.offset(),
        code: c,
        key,
    };
    Ok(match c {
        code::LIST | code::LIST_ZIPLIST | code::LIST_QUICKLIST | code::LIST_QUICKLIST_2 => {
            Value::List(Box::new(read_list(src, &cx)?))
        }
        code::SET | code::SET_INTSET | code::SET_LISTPACK => Value::Set(read_set(src, &cx)?),
        code::ZSET | code::ZSET_2 | code::ZSET_ZIPLIST | code::ZSET_LISTPACK => {
            Value::ZSet(read_zset(src, &cx)?)
        }
        code::HASH | code::HASH_ZIPMAP | code::HASH_ZIPLIST | code::HASH_LISTPACK => {
            Value::Hash(read_hash(src, &cx)?)
        }
        other => return Err(cx.corrupt(format_args!("type {other} is not a collection"))),
    })
}

fn read_list<R: Read>(src: &mut Source<R>, cx: &Ctx<'_>) -> Result<List, PersistError> {
    let mut list = List::new();
    match cx.code {
        code::LIST => {
            let n = src.length()?;
            for _ in 0..n {
                list.push_back(&src.string()?.into_bytes());
            }
        }
        code::LIST_ZIPLIST => {
            let zl = src.string()?.into_bytes();
            for item in ziplist::decode(&zl).map_err(|e| cx.blob("ziplist", e))? {
                item.with_bytes(|b| list.push_back(b));
            }
        }
        code::LIST_QUICKLIST => {
            let nodes = src.length()?;
            for _ in 0..nodes {
                let zl = src.string()?.into_bytes();
                for item in ziplist::decode(&zl).map_err(|e| cx.blob("quicklist node", e))? {
                    item.with_bytes(|b| list.push_back(b));
                }
            }
        }
        _ => {
            let nodes = src.length()?;
            for _ in 0..nodes {
                let container = src.length()?;
                let data = src.string()?.into_bytes();
                match container {
                    CONTAINER_PLAIN => list.push_back(&data),
                    CONTAINER_PACKED => {
                        listpack::for_each(&data, |item| {
                            item.with_bytes(|b| list.push_back(b));
                            Ok(())
                        })
                        .map_err(|e| cx.blob("quicklist node", e))?;
                    }
                    other => {
                        return Err(
                            cx.corrupt(format_args!("unknown quicklist node container {other}"))
                        )
                    }
                }
            }
        }
    }
    if list.is_empty() {
        return Err(cx.corrupt("empty list"));
    }
    Ok(list)
}

fn read_set<R: Read>(src: &mut Source<R>, cx: &Ctx<'_>) -> Result<Set, PersistError> {
    let mut set = Set::new();
    let dup = |m: &[u8]| cx.corrupt(format_args!("duplicate member {}", show_key(m)));
    match cx.code {
        code::SET => {
            let n = src.length()?;
            for _ in 0..n {
                let m = src.string()?.into_bytes();
                if !set.insert(&m) {
                    return Err(dup(&m));
                }
            }
        }
        code::SET_INTSET => {
            let is = src.string()?.into_bytes();
            // The decoder checks the strict order, so members are distinct.
            for n in intset::decode(&is).map_err(|e| cx.blob("intset", e))? {
                set.insert(itoa::Buffer::new().format(n).as_bytes());
            }
        }
        _ => {
            let lp = src.string()?.into_bytes();
            let mut duplicate = None;
            listpack::for_each(&lp, |item| {
                if duplicate.is_none() && !item.with_bytes(|b| set.insert(b)) {
                    duplicate = Some(item.to_vec());
                }
                Ok(())
            })
            .map_err(|e| cx.blob("listpack", e))?;
            if let Some(m) = duplicate {
                return Err(dup(&m));
            }
        }
    }
    if set.is_empty() {
        return Err(cx.corrupt("empty set"));
    }
    Ok(set)
}

/// A score given as text (`ZSET` scores, and ziplist/listpack entries): what C's
/// `strtod` reads from Redis's own formatting ("1.5", "-3", "inf", "1e+300").
fn parse_score(text: &[u8]) -> Option<f64> {
    let s = std::str::from_utf8(text).ok()?;
    s.parse::<f64>().ok().filter(|f| !f.is_nan())
}

fn read_zset<R: Read>(src: &mut Source<R>, cx: &Ctx<'_>) -> Result<ZSet, PersistError> {
    // Members are read first and the set is made in the encoding Redis ends up with (a
    // skiplist unless every member fits a listpack), so scores are kept as Redis keeps
    // them (a skiplist keeps -0; a listpack stores it as 0).
    let mut members: Vec<(Vec<u8>, f64)> = Vec::new();
    let bad_score = |m: &[u8]| {
        cx.corrupt(format_args!(
            "member {} has a NaN or bad score",
            show_key(m)
        ))
    };
    let dup = |m: &[u8]| cx.corrupt(format_args!("duplicate member {}", show_key(m)));
    match cx.code {
        code::ZSET | code::ZSET_2 => {
            let n = src.length()?;
            for _ in 0..n {
                let m = src.string()?.into_bytes();
                let score = if cx.code == code::ZSET_2 {
                    Some(f64::from_le_bytes(src.array()?)).filter(|f| !f.is_nan())
                } else {
                    match src.u8()? {
                        SCORE_NAN => None,
                        SCORE_POS_INF => Some(f64::INFINITY),
                        SCORE_NEG_INF => Some(f64::NEG_INFINITY),
                        len => parse_score(&src.bytes(usize::from(len))?),
                    }
                };
                let score = score.ok_or_else(|| bad_score(&m))?;
                members.push((m, score));
            }
        }
        _ => {
            let blob = src.string()?.into_bytes();
            let items = if cx.code == code::ZSET_ZIPLIST {
                ziplist::decode(&blob).map_err(|e| cx.blob("ziplist", e))?
            } else {
                listpack::decode(&blob).map_err(|e| cx.blob("listpack", e))?
            };
            if items.len() % 2 != 0 {
                return Err(cx.corrupt(format_args!(
                    "{} elements, not member and score pairs",
                    items.len()
                )));
            }
            for pair in items.chunks_exact(2) {
                let m = pair[0].to_vec();
                let score = match pair[1] {
                    Item::Int(n) => n as f64,
                    Item::Str(s) => parse_score(s).ok_or_else(|| bad_score(&m))?,
                };
                members.push((m, score));
            }
        }
    }
    let max_len = members.iter().map(|(m, _)| m.len()).max().unwrap_or(0);
    let mut zset = ZSet::with_hint(members.len(), max_len);
    for (m, score) in members {
        if !zset.insert(&m, score) {
            return Err(dup(&m));
        }
    }
    if zset.is_empty() {
        return Err(cx.corrupt("empty sorted set"));
    }
    Ok(zset)
}

fn read_hash<R: Read>(src: &mut Source<R>, cx: &Ctx<'_>) -> Result<Hash, PersistError> {
    let mut hash = Hash::new();
    let dup = |f: &[u8]| cx.corrupt(format_args!("duplicate field {}", show_key(f)));
    match cx.code {
        code::HASH => {
            let n = src.length()?;
            for _ in 0..n {
                let f = src.string()?.into_bytes();
                let v = src.string()?.into_bytes();
                if !hash.insert(&f, &v) {
                    return Err(dup(&f));
                }
            }
        }
        code::HASH_ZIPMAP => {
            let zm = src.string()?.into_bytes();
            for (f, v) in zipmap::decode(&zm).map_err(|e| cx.blob("zipmap", e))? {
                if !hash.insert(f, v) {
                    return Err(dup(f));
                }
            }
        }
        _ => {
            let blob = src.string()?.into_bytes();
            let items = if cx.code == code::HASH_ZIPLIST {
                ziplist::decode(&blob).map_err(|e| cx.blob("ziplist", e))?
            } else {
                listpack::decode(&blob).map_err(|e| cx.blob("listpack", e))?
            };
            if items.len() % 2 != 0 {
                return Err(cx.corrupt(format_args!(
                    "{} elements, not field and value pairs",
                    items.len()
                )));
            }
            for pair in items.chunks_exact(2) {
                let f = pair[0].to_vec();
                if !pair[1].with_bytes(|v| hash.insert(&f, v)) {
                    return Err(dup(&f));
                }
            }
        }
    }
    if hash.is_empty() {
        return Err(cx.corrupt("empty hash"));
    }
    Ok(hash)
}
