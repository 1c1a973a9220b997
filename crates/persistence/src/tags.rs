//! Key tags (a MiniRedis extension) in RDB files.
//!
//! Redis's RDB format has no place for tags, so they travel in AUX fields named
//! [`AUX_KEY`], which Redis accepts and ignores by the AUX contract (unknown fields are
//! skipped on load, and `redis-check-rdb` passes them): a MiniRedis file still loads
//! into Redis (without the tags), and a Redis file loads into MiniRedis (with none).
//!
//! A field describes some tagged keys of one logical database and follows the keys it
//! names in the file, so a loader applies it to keys already loaded. Its value, after
//! a format byte ([`FORMAT`]):
//!
//! ```text
//! db: u32 LE, count: u32 LE, then count times:
//!     key length: u32 LE, key, tag count: u32 LE, then per tag: length u32 LE, tag
//! ```
//!
//! Fields are cut at about [`CHUNK`] bytes, so neither side holds a huge one.
//! Everything read is untrusted: a malformed field is a [`crate::PersistError::Corrupt`].

/// The AUX field name.
pub const AUX_KEY: &[u8] = b"miniredis-tags";
/// The payload format written (the first byte of the value).
pub const FORMAT: u8 = 1;
/// A field is written once its payload passes this size.
pub const CHUNK: usize = 64 * 1024;

/// A field's payload being built: records of one logical database.
pub(crate) struct TagChunk {
    buf: Vec<u8>,
    count: u32,
}

impl TagChunk {
    pub(crate) fn new(db: usize) -> Self {
        let mut buf = Vec::with_capacity(256);
        buf.push(FORMAT);
        buf.extend_from_slice(&(db as u32).to_le_bytes());
        buf.extend_from_slice(&0u32.to_le_bytes());
        TagChunk { buf, count: 0 }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.count == 0
    }

    pub(crate) fn len(&self) -> usize {
        self.buf.len()
    }

    /// Adds a key and its tags.
    pub(crate) fn push<T: AsRef<[u8]>>(&mut self, key: &[u8], tags: &[T]) {
        put_bytes(&mut self.buf, key);
        self.buf
            .extend_from_slice(&(tags.len() as u32).to_le_bytes());
        for t in tags {
            put_bytes(&mut self.buf, t.as_ref());
        }
        self.count += 1;
    }

    /// The finished payload; the chunk starts over for the same database.
    pub(crate) fn take(&mut self) -> Vec<u8> {
        self.buf[5..9].copy_from_slice(&self.count.to_le_bytes());
        let mut next = Vec::with_capacity(256);
        next.extend_from_slice(&self.buf[..5]);
        next.extend_from_slice(&0u32.to_le_bytes());
        self.count = 0;
        std::mem::replace(&mut self.buf, next)
    }
}

fn put_bytes(buf: &mut Vec<u8>, b: &[u8]) {
    buf.extend_from_slice(&(b.len() as u32).to_le_bytes());
    buf.extend_from_slice(b);
}

/// One tagged key read from a field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaggedKey {
    pub key: Vec<u8>,
    pub tags: Vec<Vec<u8>>,
}

/// Decodes a field's value: its database and its keys. Errors say what is wrong.
pub fn decode(value: &[u8]) -> Result<(u64, Vec<TaggedKey>), String> {
    let mut r = Reader { b: value, at: 0 };
    let format = r.take(1)?[0];
    if format != FORMAT {
        return Err(format!("tag field format {format} is not supported"));
    }
    let db = u64::from(r.u32()?);
    let count = r.u32()?;
    let mut out = Vec::new();
    for _ in 0..count {
        let key = r.bytes()?.to_vec();
        let n = r.u32()?;
        // Each tag takes at least its 4-byte length: a count the field cannot back
        // is refused before anything is allocated for it.
        if (n as usize).saturating_mul(4) > r.left() {
            return Err(format!("tag count {n} runs past the field"));
        }
        let mut tags = Vec::with_capacity(n as usize);
        for _ in 0..n {
            tags.push(r.bytes()?.to_vec());
        }
        out.push(TaggedKey { key, tags });
    }
    if r.left() != 0 {
        return Err(format!("{} bytes after the last tagged key", r.left()));
    }
    Ok((db, out))
}

struct Reader<'a> {
    b: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn left(&self) -> usize {
        self.b.len() - self.at
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        if n > self.left() {
            return Err(format!("tag field truncated at byte {}", self.at));
        }
        let s = &self.b[self.at..self.at + n];
        self.at += n;
        Ok(s)
    }

    fn u32(&mut self) -> Result<u32, String> {
        let s = self.take(4)?;
        Ok(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
    }

    fn bytes(&mut self) -> Result<&'a [u8], String> {
        let n = self.u32()? as usize;
        self.take(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn round_trip_and_chunk_restart() {
        let mut c = TagChunk::new(3);
        assert!(c.is_empty());
        c.push(b"k1", &[&b"a"[..], b"bb"]);
        c.push(b"", &[&b""[..]]);
        let field = c.take();
        let (db, keys) = decode(&field).expect("decodes");
        assert_eq!(db, 3);
        assert_eq!(
            keys,
            [
                TaggedKey {
                    key: b"k1".to_vec(),
                    tags: vec![b"a".to_vec(), b"bb".to_vec()]
                },
                TaggedKey {
                    key: vec![],
                    tags: vec![vec![]]
                },
            ]
        );
        assert!(c.is_empty());
        c.push(b"k2", &[&b"t"[..]]);
        let (db, keys) = decode(&c.take()).expect("decodes");
        assert_eq!((db, keys.len()), (3, 1));
    }

    #[test]
    fn malformed_fields_are_errors() {
        let mut c = TagChunk::new(0);
        c.push(b"key", &[&b"tag"[..]]);
        let good = c.take();
        for cut in 0..good.len() {
            assert!(decode(&good[..cut]).is_err(), "cut at {cut}");
        }
        let mut long = good.clone();
        long.push(0);
        assert!(decode(&long).is_err());
        let mut bad = good.clone();
        bad[0] = 9;
        assert!(decode(&bad).is_err());
        // A huge tag count on a short field.
        let mut huge = good[..9].to_vec();
        huge.extend_from_slice(&0u32.to_le_bytes());
        huge.extend_from_slice(&u32::MAX.to_le_bytes());
        assert!(decode(&huge).is_err());
    }

    use engine::{Entry, Keyspace, KeyspaceConfig, Str, Value};
    use std::collections::BTreeMap;

    const NOW: u64 = 1_700_000_000_000;

    fn keyspace() -> Keyspace {
        Keyspace::new(&KeyspaceConfig {
            databases: 4,
            shards: 4,
        })
    }

    /// (db, key) -> tags, for every tagged live key.
    fn tags_of(ks: &Keyspace) -> BTreeMap<(usize, Vec<u8>), Vec<Vec<u8>>> {
        let mut out = BTreeMap::new();
        for db in 0..ks.databases() {
            for shard in 0..ks.shard_count() {
                ks.try_for_each_in_shard_with_tags(shard, db, |e, tags| {
                    if !tags.is_empty() && !e.is_expired(NOW) {
                        out.insert(
                            (db, e.key.to_vec()),
                            tags.iter().map(|t| t.to_vec()).collect(),
                        );
                    }
                    Ok::<(), ()>(())
                })
                .unwrap_or_else(|()| unreachable!());
            }
        }
        out
    }

    fn put(ks: &Keyspace, db: usize, key: &[u8], expire: u64, tags: &[&[u8]]) {
        let mut l = ks.lock_key(key);
        let e = Entry::new(key, Value::Str(Str::from_bytes(b"v"))).with_expire(expire);
        l.insert(db, e, NOW);
        if let Some(mut e) = l.get_for_write(db, key, 0) {
            e.add_tags(tags);
        };
    }

    #[test]
    fn tags_survive_a_snapshot() {
        let ks = keyspace();
        // Enough tagged keys for several fields per shard.
        for i in 0..6000 {
            let key = format!("key:{i}");
            let t = format!("tag:{}", i % 7);
            put(&ks, 0, key.as_bytes(), 0, &[t.as_bytes(), b"all"]);
        }
        put(&ks, 2, b"other-db", 0, &[b"x"]);
        put(&ks, 2, b"untagged", 0, &[]);
        put(&ks, 3, b"volatile", NOW + 60_000, &[b"v", b"w"]);
        put(&ks, 3, b"expired", NOW - 1, &[b"v"]);
        let mut buf = Vec::new();
        let saved = crate::write_rdb(&ks, &mut buf, NOW).expect("written");
        assert_eq!(saved.tagged_keys, 6002);
        let fields = {
            let mut n = 0;
            crate::read_rdb(&buf[..], |item| {
                if let crate::RdbItem::Aux { key, .. } = item {
                    n += usize::from(key == AUX_KEY);
                }
                Ok(())
            })
            .expect("parses");
            n
        };
        assert!(fields > 4, "{fields} fields: chunked");
        let back = keyspace();
        let loaded = crate::load_from(&back, &buf[..], NOW).expect("loads");
        assert_eq!(loaded.tagged_keys, 6002);
        let want = tags_of(&ks);
        assert_eq!(want.len(), 6002);
        assert_eq!(tags_of(&back), want);
        back.check_accounting();
        // A corrupt field is an error that says so.
        let mut bad = Vec::new();
        let mut c = TagChunk::new(0);
        c.push(b"k", &[&b"t"[..]]);
        let mut field = c.take();
        field.pop();
        let mut w = crate::writer::RdbWriter::new(&mut bad);
        w.header(NOW).expect("header");
        w.aux(AUX_KEY, &field).expect("aux");
        w.finish().expect("eof");
        let err = crate::load_from(&keyspace(), &bad[..], NOW).expect_err("refused");
        assert!(err.to_string().contains("miniredis-tags"), "{err}");
    }

    proptest! {
        #[test]
        fn decoding_arbitrary_bytes_never_panics(b in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = decode(&b);
        }
    }
}
