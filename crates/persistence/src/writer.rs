//! Writing a keyspace as an RDB file the way Redis 7.0 does.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use engine::types::{Hash, List, Set, Stream, ZSet};
use engine::{DbInfo, Entry, Keyspace, Str, Value};

use crate::collections::code;
use crate::crc64::Crc64;
use crate::error::PersistError;
use crate::format::{enc, len, opcode, LZF_MIN_LEN, MAGIC, RDB_VERSION, TYPE_STRING};
use crate::listpack::{self, Listpack};
use crate::tags::{self, TagChunk};
use crate::{intset, lzf, stream};

/// The Redis version the aux fields claim: the format is Redis 7.0's, and tools that
/// read `redis-ver` decide what to expect from it.
pub const REDIS_VER: &str = "7.0.15";

/// What one save wrote.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SaveStats {
    /// Keys written.
    pub keys: u64,
    /// Of those, keys with an expiry.
    pub expires: u64,
    /// Keys left out because they had expired at `now_ms`.
    pub skipped_expired: u64,
    /// Of the keys written, those that carry tags (saved in AUX fields).
    pub tagged_keys: u64,
    /// Size of the file.
    pub bytes: u64,
}

/// Writes the whole keyspace to `path`, atomically and durably: into a new temporary
/// file in the same directory, which is flushed to disk, renamed over `path`, and then
/// the directory itself is flushed so the rename survives a crash. Readers of `path`
/// see the old snapshot or the new one, never a mix. On error the temporary file is
/// removed and `path` is untouched.
///
/// Keys that have expired at `now_ms` are left out; `now_ms` is also the file's
/// creation time. See [`write_rdb`] for how the keyspace is visited.
pub fn save(ks: &Keyspace, path: &Path, now_ms: u64) -> Result<SaveStats, PersistError> {
    save_with_functions(ks, path, now_ms, &[])
}

/// [`save`] with function libraries (their codes, as FUNCTION LOAD took them): Redis
/// 7.0 keeps them in the snapshot (RDB_OPCODE_FUNCTION2, before the databases).
pub fn save_with_functions(
    ks: &Keyspace,
    path: &Path,
    now_ms: u64,
    functions: &[Vec<u8>],
) -> Result<SaveStats, PersistError> {
    let dir = parent_dir(path);
    let (tmp_path, file) = create_temp(dir, path)?;
    let result = write_synced(ks, file, now_ms, functions)
        .map_err(|e| e.with_path(&tmp_path))
        .and_then(|stats| {
            fs::rename(&tmp_path, path).map_err(|source| PersistError::Io {
                action: "rename the new snapshot onto",
                path: path.to_path_buf(),
                source,
            })?;
            sync_dir(dir)?;
            Ok(stats)
        });
    if result.is_err() {
        // Gone already if the rename happened; otherwise do not leave it behind.
        let _ = fs::remove_file(&tmp_path);
    }
    result
}

/// The directory a file lives in (`.` for a bare file name).
fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// A new file next to `target`, named after it, that no other save (from this process
/// or another) is using.
fn create_temp(dir: &Path, target: &Path) -> Result<(PathBuf, File), PersistError> {
    static SEQUENCE: AtomicU64 = AtomicU64::new(0);
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "dump.rdb".to_owned());
    let tmp_path = dir.join(format!(
        ".{name}.tmp-{}-{}",
        std::process::id(),
        SEQUENCE.fetch_add(1, Ordering::Relaxed)
    ));
    let file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&tmp_path)
        .map_err(|source| PersistError::Io {
            action: "create",
            path: tmp_path.clone(),
            source,
        })?;
    Ok((tmp_path, file))
}

/// Writes the snapshot into `file` and waits until it is on disk.
fn write_synced(
    ks: &Keyspace,
    file: File,
    now_ms: u64,
    functions: &[Vec<u8>],
) -> Result<SaveStats, PersistError> {
    let mut buffered = BufWriter::with_capacity(256 * 1024, file);
    let stats = write_rdb_full(ks, &mut buffered, now_ms, Form::Auto, functions)?;
    let file = buffered
        .into_inner()
        .map_err(|e| PersistError::Write(e.into_error()))?;
    file.sync_all().map_err(PersistError::Write)?;
    Ok(stats)
}

/// Flushes a directory's entries (the rename) to disk. Only Unix can open a directory
/// for that; elsewhere the rename is as durable as the platform makes it.
fn sync_dir(dir: &Path) -> Result<(), PersistError> {
    if cfg!(unix) {
        let io_err = |source| PersistError::Io {
            action: "flush the directory",
            path: dir.to_path_buf(),
            source,
        };
        File::open(dir)
            .map_err(io_err)?
            .sync_all()
            .map_err(io_err)?;
    }
    Ok(())
}

/// Writes the whole keyspace in RDB format to `w`: magic and version, aux fields, then
/// for each logical database that has live keys a SELECTDB, a RESIZEDB and its keys,
/// then EOF and the checksum. Keys that have expired at `now_ms` are left out. `w`
/// gets many small writes: give it a buffered writer.
///
/// The keyspace is visited one shard at a time ([`Keyspace::try_for_each_in_shard`]),
/// not under [`Keyspace::lock_all`]: clients keep being served by every other shard
/// while a large keyspace is written. RDB wants all keys of a database after its one
/// SELECTDB, so the walk goes database by database and, within each, shard by shard; a
/// shard is held while its part of one database is encoded and written. The price:
/// only each such part is a consistent picture, not the snapshot as a whole. A command
/// that changed keys in two shards (or two databases) while the save ran may appear
/// half done.
///
/// Lists are written as Redis 7.0 writes them (quicklist of listpacks); hashes and
/// sorted sets the engine reports as `listpack` in that form, sets it reports as
/// `intset` as intsets, and the others in the generic forms (`HASH`, `SET`, `ZSET_2`
/// with binary scores), which Redis converts to its compact encodings on load when
/// they are small enough. An empty collection (which Redis never keeps) is left out.
///
/// The RESIZEDB counts are the ones the keyspace reports before the walk (they
/// include keys that expired but were not collected yet); like Redis's, they are
/// size hints for the loader, not promises.
pub fn write_rdb<W: Write>(ks: &Keyspace, w: W, now_ms: u64) -> Result<SaveStats, PersistError> {
    write_rdb_in(ks, w, now_ms, Form::Auto)
}

/// [`write_rdb`] with collections in the given [`Form`]. Lists are always a quicklist
/// of listpacks, as Redis 7.0 writes them.
pub fn write_rdb_in<W: Write>(
    ks: &Keyspace,
    w: W,
    now_ms: u64,
    form: Form,
) -> Result<SaveStats, PersistError> {
    write_rdb_full(ks, w, now_ms, form, &[])
}

/// [`write_rdb`] with function libraries' codes, written after the header as Redis 7.0
/// does.
pub fn write_rdb_with_functions<W: Write>(
    ks: &Keyspace,
    w: W,
    now_ms: u64,
    functions: &[Vec<u8>],
) -> Result<SaveStats, PersistError> {
    write_rdb_full(ks, w, now_ms, Form::Auto, functions)
}

fn write_rdb_full<W: Write>(
    ks: &Keyspace,
    w: W,
    now_ms: u64,
    form: Form,
    functions: &[Vec<u8>],
) -> Result<SaveStats, PersistError> {
    let mut out = RdbWriter::new(w);
    out.header(now_ms).map_err(PersistError::Write)?;
    for code in functions {
        out.put_u8(opcode::FUNCTION2)
            .and_then(|()| out.put_string(code))
            .map_err(PersistError::Write)?;
    }
    let mut stats = SaveStats::default();
    let sizes = ks.db_info();
    for (db, size) in sizes.iter().enumerate() {
        let mut selected = false;
        // The tags of the keys written (a MiniRedis extension), in AUX fields that
        // follow those keys (see `crate::tags`).
        let mut tags = TagChunk::new(db);
        for shard in 0..ks.shard_count() {
            ks.try_for_each_in_shard_with_tags(shard, db, |e, key_tags| {
                if e.is_expired(now_ms) {
                    stats.skipped_expired += 1;
                    return Ok(());
                }
                if is_empty_collection(&e.value) {
                    // Redis never keeps one (and skips them on load): not a key.
                    return Ok(());
                }
                if !selected {
                    out.select_db(db, *size)?;
                    selected = true;
                }
                out.entry_in(e, form)?;
                stats.keys += 1;
                stats.expires += u64::from(e.expire_at() != 0);
                if !key_tags.is_empty() {
                    tags.push(&e.key, key_tags);
                    stats.tagged_keys += 1;
                    if tags.len() >= tags::CHUNK {
                        out.aux(tags::AUX_KEY, &tags.take())?;
                    }
                }
                Ok(())
            })
            .map_err(PersistError::Write)?;
            if !tags.is_empty() {
                out.aux(tags::AUX_KEY, &tags.take())
                    .map_err(PersistError::Write)?;
            }
        }
    }
    stats.bytes = out.finish().map_err(PersistError::Write)?;
    Ok(stats)
}

fn is_empty_collection(v: &Value) -> bool {
    match v {
        Value::Str(_) => false,
        Value::List(l) => l.is_empty(),
        Value::Hash(h) => h.is_empty(),
        Value::Set(s) => s.is_empty(),
        Value::ZSet(z) => z.is_empty(),
        Value::Stream(_) => false,
    }
}

/// The bytes `e`'s value takes in an RDB file, without its expiry, type and key:
/// Redis's DEBUG OBJECT `serializedlength`.
pub fn serialized_len(e: &Entry) -> io::Result<u64> {
    let mut all = RdbWriter::new(io::sink());
    all.entry_in(e, Form::Auto)?;
    let mut head = RdbWriter::new(io::sink());
    if e.expire_at() != 0 {
        head.put_u8(opcode::EXPIRETIME_MS)?;
        head.put(&[0; 8])?;
    }
    head.put_u8(TYPE_STRING)?;
    head.put_string(&e.key)?;
    Ok(all.written.saturating_sub(head.written))
}

/// An output stream that keeps the running checksum and byte count.
pub(crate) struct RdbWriter<W> {
    w: W,
    crc: Crc64,
    written: u64,
}

impl<W: Write> RdbWriter<W> {
    pub(crate) fn new(w: W) -> Self {
        RdbWriter {
            w,
            crc: Crc64::new(),
            written: 0,
        }
    }

    fn put(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.w.write_all(bytes)?;
        self.crc.update(bytes);
        self.written += bytes.len() as u64;
        Ok(())
    }

    fn put_u8(&mut self, b: u8) -> io::Result<()> {
        self.put(&[b])
    }

    /// Magic, version and the aux fields Redis 7.0 writes when it is not replicating.
    /// `used-mem` is 0: the engine does not track the process's memory, and readers
    /// only log it.
    pub(crate) fn header(&mut self, now_ms: u64) -> io::Result<()> {
        self.put(MAGIC)?;
        self.put(format!("{RDB_VERSION:04}").as_bytes())?;
        self.aux(b"redis-ver", REDIS_VER.as_bytes())?;
        self.aux_int(b"redis-bits", i64::from(usize::BITS))?;
        self.aux_int(b"ctime", i64::try_from(now_ms / 1000).unwrap_or(i64::MAX))?;
        self.aux_int(b"used-mem", 0)?;
        self.aux_int(b"aof-base", 0)
    }

    pub(crate) fn aux(&mut self, key: &[u8], value: &[u8]) -> io::Result<()> {
        self.put_u8(opcode::AUX)?;
        self.put_string(key)?;
        self.put_string(value)
    }

    /// Redis writes numeric aux fields as decimal strings, which then take the integer
    /// encoding when they fit.
    fn aux_int(&mut self, key: &[u8], value: i64) -> io::Result<()> {
        self.aux(key, itoa::Buffer::new().format(value).as_bytes())
    }

    pub(crate) fn select_db(&mut self, db: usize, size: DbInfo) -> io::Result<()> {
        self.put_u8(opcode::SELECTDB)?;
        self.put_len(db as u64)?;
        self.put_u8(opcode::RESIZEDB)?;
        self.put_len(size.keys as u64)?;
        self.put_len(size.expires as u64)
    }

    /// One key: its expiry if it has one, then type, key and value (a collection in
    /// `form`).
    pub(crate) fn entry_in(&mut self, e: &Entry, form: Form) -> io::Result<()> {
        if e.expire_at() != 0 {
            // Redis keeps expiry times as signed milliseconds.
            let at = e.expire_at().min(i64::MAX as u64);
            self.put_u8(opcode::EXPIRETIME_MS)?;
            self.put(&at.to_le_bytes())?;
        }
        match &e.value {
            Value::Str(s) => {
                self.put_u8(TYPE_STRING)?;
                self.put_string(&e.key)?;
                self.put_str(s)
            }
            Value::List(l) => self.list(&e.key, l),
            Value::Set(set) => self.set(&e.key, set, form.compact(set.encoding() == "intset")),
            Value::ZSet(z) => self.zset(&e.key, z, form.compact(z.encoding() == "listpack")),
            Value::Hash(h) => self.hash(&e.key, h, form.compact(h.encoding() == "listpack")),
            Value::Stream(s) => self.stream(&e.key, s),
        }
    }

    /// A stream as Redis 7.0 writes it (see [`crate::stream`]): one listpack per
    /// modelled node, the stream's IDs and counters, then its consumer groups.
    fn stream(&mut self, key: &[u8], s: &Stream) -> io::Result<()> {
        let mut nodes: Vec<([u8; 16], Vec<u8>)> = Vec::new();
        let mut seen = 0usize;
        for (master, node) in s.nodes() {
            if let Some(lp) = stream::node_listpack(s, *master, node.last, &node.master_fields) {
                seen += lp_entries(s, *master, node.last);
                nodes.push((stream::id_bytes(*master), lp.finish().map_err(too_large)?));
            }
        }
        check_len("stream", s.len(), seen)?;
        self.head(stream::code::STREAM_LISTPACKS_2, key)?;
        self.put_len(nodes.len() as u64)?;
        for (master, lp) in &nodes {
            self.put_blob(master)?;
            self.put_blob(lp)?;
        }
        self.put_len(s.len() as u64)?;
        for id in [s.last_id(), s.first_id(), s.max_deleted_id()] {
            self.put_len(id.ms)?;
            self.put_len(id.seq)?;
        }
        self.put_len(s.entries_added())?;
        self.put_len(s.groups().len() as u64)?;
        for (name, g) in s.groups() {
            self.put_string(name)?;
            self.put_len(g.last_id.ms)?;
            self.put_len(g.last_id.seq)?;
            // -1 (unknown) is written as the length 2^64-1, as Redis does.
            self.put_len(g.entries_read as u64)?;
            self.put_len(g.pel().len() as u64)?;
            for (id, p) in g.pel() {
                self.put(&stream::id_bytes(*id))?;
                self.put(&(p.delivery_time as i64).to_le_bytes())?;
                self.put_len(p.delivery_count)?;
            }
            self.put_len(g.consumers().len() as u64)?;
            for (cname, c) in g.consumers() {
                self.put_string(cname)?;
                self.put(&(c.seen_time as i64).to_le_bytes())?;
                self.put_len(c.pel().len() as u64)?;
                for id in c.pel() {
                    self.put(&stream::id_bytes(*id))?;
                }
            }
        }
        Ok(())
    }

    /// Type and key of an entry.
    fn head(&mut self, code: u8, key: &[u8]) -> io::Result<()> {
        self.put_u8(code)?;
        self.put_string(key)
    }

    /// A list as Redis 7.0 writes it: a quicklist of listpack nodes of at most
    /// [`LIST_NODE_BYTES`] (a larger element gets a node of its own), elements of 1 GiB
    /// or more in plain nodes.
    fn list(&mut self, key: &[u8], l: &List) -> io::Result<()> {
        let mut nodes: Vec<Node> = Vec::new();
        let mut lp = Listpack::new();
        let mut seen = 0usize;
        l.for_each(|v| {
            seen += 1;
            if v.len() >= PLAIN_NODE_BYTES {
                if !lp.is_empty() {
                    nodes.push(Node::Packed(std::mem::take(&mut lp)));
                }
                nodes.push(Node::Plain(v.to_vec()));
                return;
            }
            if !lp.is_empty() && lp.bytes_len() + v.len() + 11 > LIST_NODE_BYTES {
                nodes.push(Node::Packed(std::mem::take(&mut lp)));
            }
            lp.push(v);
        });
        if !lp.is_empty() {
            nodes.push(Node::Packed(lp));
        }
        check_len("list", l.len(), seen)?;
        self.head(code::LIST_QUICKLIST_2, key)?;
        self.put_len(nodes.len() as u64)?;
        for node in nodes {
            match node {
                Node::Plain(v) => {
                    self.put_len(CONTAINER_PLAIN)?;
                    self.put_blob(&v)?;
                }
                Node::Packed(lp) => {
                    self.put_len(CONTAINER_PACKED)?;
                    self.put_blob(&lp.finish().map_err(too_large)?)?;
                }
            }
        }
        Ok(())
    }

    /// A set: an intset when the engine holds it as one (and every member is an
    /// integer), otherwise the generic form (Redis 7.0 has no set listpack).
    fn set(&mut self, key: &[u8], set: &Set, intset: bool) -> io::Result<()> {
        if intset {
            let mut ints = Vec::with_capacity(set.len());
            let mut all = true;
            set.for_each(|m| match engine::value::parse_canonical_i64(m) {
                Some(n) if all => ints.push(n),
                _ => all = false,
            });
            if all {
                check_len("set", set.len(), ints.len())?;
                self.head(code::SET_INTSET, key)?;
                return self.put_blob(&intset::encode(&ints));
            }
        }
        self.head(code::SET, key)?;
        self.put_len(set.len() as u64)?;
        let mut res = Ok(());
        let mut seen = 0usize;
        set.for_each(|m| {
            seen += 1;
            if res.is_ok() {
                res = self.put_string(m);
            }
        });
        res?;
        check_len("set", set.len(), seen)
    }

    /// A sorted set: a listpack when the engine holds it as one, otherwise members
    /// with binary scores (`ZSET_2`).
    fn zset(&mut self, key: &[u8], z: &ZSet, listpack: bool) -> io::Result<()> {
        if listpack {
            let mut lp = Listpack::new();
            z.for_each(|m, score| {
                lp.push(m);
                push_score(&mut lp, score);
            });
            check_len("sorted set", z.len() * 2, lp.len())?;
            if let Ok(bytes) = lp.finish() {
                self.head(code::ZSET_LISTPACK, key)?;
                return self.put_blob(&bytes);
            }
        }
        self.head(code::ZSET_2, key)?;
        self.put_len(z.len() as u64)?;
        let mut res = Ok(());
        let mut seen = 0usize;
        z.for_each(|m, score| {
            seen += 1;
            if res.is_ok() {
                res = self
                    .put_string(m)
                    .and_then(|()| self.put(&score.to_le_bytes()));
            }
        });
        res?;
        check_len("sorted set", z.len(), seen)
    }

    /// A hash: a listpack when the engine holds it as one, otherwise field/value
    /// pairs (`HASH`).
    fn hash(&mut self, key: &[u8], h: &Hash, listpack: bool) -> io::Result<()> {
        if listpack {
            let mut lp = Listpack::new();
            h.for_each(|f, v| {
                lp.push(f);
                lp.push(v);
            });
            check_len("hash", h.len() * 2, lp.len())?;
            if let Ok(bytes) = lp.finish() {
                self.head(code::HASH_LISTPACK, key)?;
                return self.put_blob(&bytes);
            }
        }
        self.head(code::HASH, key)?;
        self.put_len(h.len() as u64)?;
        let mut res = Ok(());
        let mut seen = 0usize;
        h.for_each(|f, v| {
            seen += 1;
            if res.is_ok() {
                res = self.put_string(f).and_then(|()| self.put_string(v));
            }
        });
        res?;
        check_len("hash", h.len(), seen)
    }

    /// A length in the shortest of the 6-, 14-, 32- or 64-bit forms.
    fn put_len(&mut self, n: u64) -> io::Result<()> {
        if n < 1 << 6 {
            self.put_u8((len::BITS_6 << 6) | n as u8)
        } else if n < 1 << 14 {
            self.put(&[(len::BITS_14 << 6) | (n >> 8) as u8, n as u8])
        } else if let Ok(n32) = u32::try_from(n) {
            self.put_u8(len::BITS_32)?;
            self.put(&n32.to_be_bytes())
        } else {
            self.put_u8(len::BITS_64)?;
            self.put(&n.to_be_bytes())
        }
    }

    fn put_str(&mut self, s: &Str) -> io::Result<()> {
        match s {
            Str::Int(n) => self.put_int_string(*n),
            Str::Bytes { data, .. } => self.put_string(data),
        }
    }

    /// An integer value: in the integer encoding when it fits 32 bits, as its decimal
    /// digits otherwise (what Redis does for integer-encoded strings).
    fn put_int_string(&mut self, n: i64) -> io::Result<()> {
        if let Ok(small) = i32::try_from(n) {
            return self.put_int(small);
        }
        let mut buf = itoa::Buffer::new();
        let digits = buf.format(n).as_bytes();
        self.put_len(digits.len() as u64)?;
        self.put(digits)
    }

    /// A binary blob (a listpack, an intset, a plain list node): like
    /// [`put_string`](Self::put_string) but never in an integer encoding.
    fn put_blob(&mut self, s: &[u8]) -> io::Result<()> {
        if s.len() >= LZF_MIN_LEN {
            if let Some(compressed) = lzf::compress(s, s.len() - 1) {
                if 1 + len_size(compressed.len() as u64) + compressed.len() < s.len() {
                    return self.put_lzf(&compressed, s.len());
                }
            }
        }
        self.put_len(s.len() as u64)?;
        self.put(s)
    }

    /// A string as Redis encodes it: short canonical integers in the integer encoding,
    /// longer strings LZF-compressed when that makes them smaller, the rest as length
    /// and bytes.
    fn put_string(&mut self, s: &[u8]) -> io::Result<()> {
        if let Some(n) = small_int(s) {
            return self.put_int(n);
        }
        if s.len() >= LZF_MIN_LEN {
            if let Some(compressed) = lzf::compress(s, s.len() - 1) {
                // Pays only if the LZF marker and the extra length are won back too.
                if 1 + len_size(compressed.len() as u64) + compressed.len() < s.len() {
                    return self.put_lzf(&compressed, s.len());
                }
            }
        }
        self.put_len(s.len() as u64)?;
        self.put(s)
    }

    fn put_lzf(&mut self, compressed: &[u8], original_len: usize) -> io::Result<()> {
        self.put_u8((len::SPECIAL << 6) | enc::LZF)?;
        self.put_len(compressed.len() as u64)?;
        self.put_len(original_len as u64)?;
        self.put(compressed)
    }

    /// The smallest of the 1-, 2- and 4-byte integer encodings that holds `n`.
    fn put_int(&mut self, n: i32) -> io::Result<()> {
        let special = len::SPECIAL << 6;
        if let Ok(b) = i8::try_from(n) {
            self.put(&[special | enc::INT8, b as u8])
        } else if let Ok(h) = i16::try_from(n) {
            self.put_u8(special | enc::INT16)?;
            self.put(&h.to_le_bytes())
        } else {
            self.put_u8(special | enc::INT32)?;
            self.put(&n.to_le_bytes())
        }
    }

    /// EOF, then the checksum of everything before it. Returns the total size.
    pub(crate) fn finish(mut self) -> io::Result<u64> {
        self.put_u8(opcode::EOF)?;
        let crc = self.crc.value();
        self.put(&crc.to_le_bytes())?;
        self.w.flush()?;
        Ok(self.written)
    }
}

/// The form collections take in a snapshot ([`write_rdb_in`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Form {
    /// As the engine holds them, as Redis does: a listpack for a hash or sorted set
    /// the engine reports as `listpack`, an intset for a set it reports as `intset`,
    /// the generic forms otherwise.
    #[default]
    Auto,
    /// Listpacks for every hash and sorted set, intsets for every all-integer set
    /// (Redis converts a listpack with too many entries on load, not one with long
    /// elements).
    Compact,
    /// The generic forms only (`HASH`, `SET`, `ZSET_2`), which every Redis since 2.8
    /// loads, converting small ones to its compact encodings.
    Generic,
}

impl Form {
    fn compact(self, engine_says: bool) -> bool {
        match self {
            Form::Auto => engine_says,
            Form::Compact => true,
            Form::Generic => false,
        }
    }
}

/// Listpack nodes of a list hold at most this many bytes, as Redis's default
/// `list-max-listpack-size -2` (8 KiB).
const LIST_NODE_BYTES: usize = 8 * 1024;
/// Elements this large go in a plain node (Redis's `packed_threshold`).
const PLAIN_NODE_BYTES: usize = 1 << 30;
/// Quicklist 2 node containers.
const CONTAINER_PLAIN: u64 = 1;
const CONTAINER_PACKED: u64 = 2;

/// A quicklist node being written.
enum Node {
    Plain(Vec<u8>),
    Packed(Listpack),
}

/// Live entries from `master` to `last`.
fn lp_entries(s: &Stream, master: engine::types::StreamId, last: engine::types::StreamId) -> usize {
    s.range(master, last).count()
}

fn too_large(e: listpack::TooLarge) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e)
}

/// A collection's `len` and the elements its `for_each` gave must agree, or the
/// file would be corrupt.
fn check_len(what: &str, len: usize, seen: usize) -> io::Result<()> {
    if len == seen {
        Ok(())
    } else {
        Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("a {what} says it has {len} elements but gave {seen}"),
        ))
    }
}

/// A score in a listpack as Redis 7.0 stores it: integral values (below 2^52) as
/// integers, the rest as text `strtod` reads back exactly ("1.5", "inf", "-0",
/// "1e300"). Redis formats with `%.17g`; the shortest round-trip form is the same
/// number.
fn push_score(lp: &mut Listpack, score: f64) {
    const LIMIT: f64 = 4_503_599_627_370_496.0; // 2^52
    if score == 0.0 && score.is_sign_negative() {
        lp.push_str(b"-0");
    } else if score.is_infinite() {
        lp.push_str(if score > 0.0 { b"inf" } else { b"-inf" });
    } else if score.fract() == 0.0 && score.abs() < LIMIT {
        lp.push_int(score as i64);
    } else {
        lp.push_str(ryu::Buffer::new().format(score).as_bytes());
    }
}

/// A string that Redis would store in an integer encoding: at most 11 bytes, the
/// canonical decimal form of a number that fits 32 bits ("7", "-1"; not "007", "+1").
fn small_int(s: &[u8]) -> Option<i32> {
    if s.len() > 11 {
        return None;
    }
    engine::value::parse_canonical_i64(s).and_then(|n| i32::try_from(n).ok())
}

/// Bytes [`RdbWriter::put_len`] uses for `n`.
fn len_size(n: u64) -> usize {
    match n {
        0..0x40 => 1,
        0x40..0x4000 => 2,
        0x4000..=0xffff_ffff => 5,
        _ => 9,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encoded(f: impl FnOnce(&mut RdbWriter<&mut Vec<u8>>) -> io::Result<()>) -> Vec<u8> {
        let mut buf = Vec::new();
        let mut w = RdbWriter::new(&mut buf);
        f(&mut w).unwrap_or_else(|e| panic!("writing to a Vec failed: {e}"));
        buf
    }

    #[test]
    fn lengths_take_the_shortest_form() {
        for (n, want) in [
            (0u64, vec![0x00]),
            (63, vec![0x3f]),
            (64, vec![0x40, 0x40]),
            (16383, vec![0x7f, 0xff]),
            (16384, vec![0x80, 0, 0, 0x40, 0]),
            (1 << 32, vec![0x81, 0, 0, 0, 1, 0, 0, 0, 0]),
        ] {
            let got = encoded(|w| w.put_len(n));
            assert_eq!(got, want, "length {n}");
            assert_eq!(len_size(n), got.len());
        }
    }

    #[test]
    fn strings_are_encoded_as_redis_does() {
        assert_eq!(encoded(|w| w.put_string(b"7")), [0xc0, 7]);
        assert_eq!(encoded(|w| w.put_string(b"-1")), [0xc0, 0xff]);
        assert_eq!(encoded(|w| w.put_string(b"300")), [0xc1, 0x2c, 0x01]);
        assert_eq!(
            encoded(|w| w.put_string(b"-70000")),
            [0xc2, 0x90, 0xee, 0xfe, 0xff]
        );
        assert_eq!(encoded(|w| w.put_string(b"007")), b"\x03007");
        assert_eq!(encoded(|w| w.put_string(b"4294967296")), b"\x0a4294967296");
        assert_eq!(
            encoded(|w| w.put_int_string(i64::MIN)),
            b"\x14-9223372036854775808"
        );
        assert_eq!(encoded(|w| w.put_int_string(5)), [0xc0, 5]);
        let long = vec![b'x'; 100];
        assert_eq!(
            encoded(|w| w.put_string(&long))[0],
            0xc3,
            "compressible: LZF"
        );
        let twenty = vec![b'x'; 20];
        assert_eq!(
            encoded(|w| w.put_string(&twenty))[0],
            20,
            "too short to compress"
        );
    }
}
