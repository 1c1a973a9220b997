//! Reading RDB files: a streaming parser ([`read_rdb`]) and loading into a keyspace.
//!
//! Everything in a file is untrusted. The parser never panics on its contents, never
//! allocates for a length the file claims before the bytes are actually there (strings
//! are read in bounded chunks; an LZF string's stated size is checked against the
//! largest expansion LZF allows), and reports truncation, bad magic, bad checksums and
//! unknown items as typed errors.

use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::Path;

use engine::{Entry, Keyspace, Str, Value};

use crate::collections;
use crate::crc64::Crc64;
use crate::error::PersistError;
use crate::format::{
    enc, len, opcode, type_name, FIRST_VERSION_WITH_CHECKSUM, MAGIC, RDB_VERSION, TYPE_STRING,
};
use crate::lzf;
use crate::tags;

/// Strings are read in pieces of at most this size, so a false length claim costs at
/// most this much memory beyond the bytes really present.
const READ_CHUNK: usize = 64 * 1024;

/// One item of an RDB file, in file order.
#[derive(Clone, Debug, PartialEq)]
pub enum RdbItem {
    /// An auxiliary field (`redis-ver`, `ctime`, ...); integer-encoded values are
    /// given as their decimal digits.
    Aux { key: Vec<u8>, value: Vec<u8> },
    /// The following keys belong to this database.
    SelectDb(u64),
    /// Size hints for the current database.
    ResizeDb { keys: u64, expires: u64 },
    /// A key and its value, in database `db`.
    Entry(RdbEntry),
    /// A function library's code (RDB_OPCODE_FUNCTION2, Redis 7.0's FUNCTION LOAD).
    Function(Vec<u8>),
}

/// A key/value pair as stored in the file.
#[derive(Clone, Debug, PartialEq)]
pub struct RdbEntry {
    pub db: u64,
    pub key: Vec<u8>,
    pub value: Value,
    /// Absolute expiry in Unix milliseconds, as stored (it may be in the past, or
    /// negative in a hand-made file).
    pub expire_at_ms: Option<i64>,
}

/// What the whole file said about itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RdbSummary {
    pub version: u32,
    /// False when the file has no checksum (version < 5) or its checksum is zero
    /// (written with `rdbchecksum no`).
    pub checksum_verified: bool,
}

/// What one load did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LoadStats {
    pub version: u32,
    pub checksum_verified: bool,
    /// Keys added to the keyspace.
    pub keys: u64,
    /// Of those, keys with an expiry.
    pub expires: u64,
    /// Keys left out because they had expired at `now_ms`.
    pub skipped_expired: u64,
    /// Keys whose tags (a MiniRedis extension) were restored.
    pub tagged_keys: u64,
}

/// Loads the RDB file at `path` into `ks`. See [`load_from`].
pub fn load(ks: &Keyspace, path: &Path, now_ms: u64) -> Result<LoadStats, PersistError> {
    let file = File::open(path).map_err(|source| PersistError::Io {
        action: "open",
        path: path.to_path_buf(),
        source,
    })?;
    load_from(ks, BufReader::with_capacity(256 * 1024, file), now_ms).map_err(|e| e.with_path(path))
}

/// Loads an RDB stream into `ks`. Keys that have expired at `now_ms` are left out, as
/// a Redis master does. Keys are added to what the keyspace holds; a key that is
/// already there is replaced. On error the keys read before it stay in the keyspace:
/// load into an empty keyspace and discard it on error when all-or-nothing matters
/// (a server refuses to start on a bad snapshot anyway).
pub fn load_from<R: Read>(ks: &Keyspace, r: R, now_ms: u64) -> Result<LoadStats, PersistError> {
    load_from_with_functions(ks, r, now_ms).map(|(stats, _)| stats)
}

/// [`load`], also returning the function libraries' codes the file holds (the caller
/// loads them into its scripting engine), in file order.
pub fn load_with_functions(
    ks: &Keyspace,
    path: &Path,
    now_ms: u64,
) -> Result<(LoadStats, Vec<Vec<u8>>), PersistError> {
    let file = File::open(path).map_err(|source| PersistError::Io {
        action: "open",
        path: path.to_path_buf(),
        source,
    })?;
    load_from_with_functions(ks, BufReader::with_capacity(256 * 1024, file), now_ms)
        .map_err(|e| e.with_path(path))
}

/// [`load_from`], also returning the function libraries' codes.
pub fn load_from_with_functions<R: Read>(
    ks: &Keyspace,
    r: R,
    now_ms: u64,
) -> Result<(LoadStats, Vec<Vec<u8>>), PersistError> {
    let mut functions = Vec::new();
    let mut stats = LoadStats::default();
    let databases = ks.databases();
    let summary = read_rdb(r, |item| {
        let e = match item {
            RdbItem::SelectDb(index) => return check_db(index, databases),
            RdbItem::Entry(e) => e,
            RdbItem::Aux { key, value } if key == tags::AUX_KEY => {
                return load_tags(ks, &value, now_ms, &mut stats);
            }
            RdbItem::Aux { .. } | RdbItem::ResizeDb { .. } => return Ok(()),
            RdbItem::Function(code) => {
                functions.push(code);
                return Ok(());
            }
        };
        let db = check_db(e.db, databases).map(|()| e.db as usize)?;
        let expire_at = match e.expire_at_ms {
            None => 0,
            // Expiry 0 means "none" in the engine; a time at or before now has passed.
            Some(at) if at <= 0 || at as u64 <= now_ms => {
                stats.skipped_expired += 1;
                return Ok(());
            }
            Some(at) => at as u64,
        };
        let entry = Entry::new(&e.key, e.value).with_expire(expire_at);
        ks.lock_key(&e.key).insert(db, entry, now_ms);
        stats.keys += 1;
        stats.expires += u64::from(expire_at != 0);
        Ok(())
    })?;
    stats.version = summary.version;
    stats.checksum_verified = summary.checksum_verified;
    Ok((stats, functions))
}

/// Attaches the tags of a [`tags::AUX_KEY`] field to the keys it names, which were
/// loaded before it (keys left out as expired take none).
fn load_tags(
    ks: &Keyspace,
    value: &[u8],
    now_ms: u64,
    stats: &mut LoadStats,
) -> Result<(), PersistError> {
    let (db, keys) = tags::decode(value).map_err(PersistError::BadTags)?;
    check_db(db, ks.databases())?;
    for k in keys {
        let mut locked = ks.lock_key(&k.key);
        let found = match locked.get_for_write(db as usize, &k.key, now_ms) {
            Some(mut e) => {
                e.add_tags(&k.tags);
                true
            }
            None => false,
        };
        stats.tagged_keys += u64::from(found);
    }
    Ok(())
}

fn check_db(index: u64, databases: usize) -> Result<(), PersistError> {
    if index < databases as u64 {
        Ok(())
    } else {
        Err(PersistError::DbOutOfRange { index, databases })
    }
}

/// Parses an RDB stream (versions 1 to 10) and hands each item to `sink`, in file
/// order; an error from `sink` stops the parse and is returned. The checksum is
/// verified at the end when the file has a non-zero one, so items of a corrupt file
/// may reach `sink` before the error does. `r` gets many small reads: give it a
/// buffered reader.
pub fn read_rdb<R: Read>(
    r: R,
    mut sink: impl FnMut(RdbItem) -> Result<(), PersistError>,
) -> Result<RdbSummary, PersistError> {
    let mut src = Source::new(r);
    let version = src.header()?;
    let mut db = 0u64;
    // Set by an expiry opcode, consumed by the next key.
    let mut expire_at_ms = None;
    loop {
        let at = src.offset;
        match src.u8()? {
            opcode::EOF => break,
            opcode::SELECTDB => {
                db = src.length()?;
                sink(RdbItem::SelectDb(db))?;
            }
            opcode::RESIZEDB => {
                let keys = src.length()?;
                let expires = src.length()?;
                sink(RdbItem::ResizeDb { keys, expires })?;
            }
            opcode::AUX => {
                let key = src.string()?.into_bytes();
                let value = src.string()?.into_bytes();
                sink(RdbItem::Aux { key, value })?;
            }
            opcode::EXPIRETIME => {
                let secs = i32::from_le_bytes(src.array()?);
                expire_at_ms = Some(i64::from(secs) * 1000);
            }
            opcode::EXPIRETIME_MS => expire_at_ms = Some(i64::from_le_bytes(src.array()?)),
            // Eviction metadata of the next key; the engine keeps its own.
            opcode::IDLE => {
                src.length()?;
            }
            opcode::FREQ => {
                src.u8()?;
            }
            code @ opcode::MODULE_AUX => {
                return Err(PersistError::UnsupportedOpcode {
                    code,
                    what: "module auxiliary data",
                })
            }
            opcode::FUNCTION2 => {
                let code = src.string()?.into_bytes();
                sink(RdbItem::Function(code))?;
            }
            code @ opcode::FUNCTION_PRE_GA => {
                return Err(PersistError::UnsupportedOpcode {
                    code,
                    what: "function library",
                })
            }
            TYPE_STRING => {
                let key = src.string()?.into_bytes();
                let value = Value::Str(src.string()?.into_str());
                let expire_at_ms = expire_at_ms.take();
                sink(RdbItem::Entry(RdbEntry {
                    db,
                    key,
                    value,
                    expire_at_ms,
                }))?;
            }
            code => {
                let Some(name) = type_name(code) else {
                    return Err(src.corrupt_at(at, format!("unknown opcode or value type {code}")));
                };
                // Every value follows its key, which is a plain string: name it.
                let key = src.string()?.into_bytes();
                if crate::stream::is_stream(code) {
                    let value = crate::stream::read(&mut src, code, &key)?;
                    let expire_at_ms = expire_at_ms.take();
                    sink(RdbItem::Entry(RdbEntry {
                        db,
                        key,
                        value,
                        expire_at_ms,
                    }))?;
                    continue;
                }
                if !collections::is_collection(code) {
                    // Module values.
                    return Err(PersistError::UnsupportedType {
                        code,
                        name,
                        key,
                        db,
                    });
                }
                let value = collections::read(&mut src, code, &key)?;
                let expire_at_ms = expire_at_ms.take();
                sink(RdbItem::Entry(RdbEntry {
                    db,
                    key,
                    value,
                    expire_at_ms,
                }))?;
            }
        }
    }
    let checksum_verified = src.checksum(version)?;
    Ok(RdbSummary {
        version,
        checksum_verified,
    })
}

/// A string as read: integer encodings stay numbers, so they need no parsing again.
pub(crate) enum RdbStr {
    Int(i64),
    Bytes(Vec<u8>),
}

impl RdbStr {
    pub(crate) fn into_bytes(self) -> Vec<u8> {
        match self {
            RdbStr::Int(n) => itoa::Buffer::new().format(n).as_bytes().to_vec(),
            RdbStr::Bytes(b) => b,
        }
    }

    /// The engine's value, encoded as `SET` would have encoded it.
    fn into_str(self) -> Str {
        match self {
            RdbStr::Int(n) => Str::Int(n),
            RdbStr::Bytes(b) => Str::from_vec(b),
        }
    }
}

/// A length, or the marker of a specially encoded string.
enum Len {
    Plain(u64),
    Special(u8),
}

/// The input stream with the running checksum and the offset, for error messages.
pub(crate) struct Source<R> {
    r: R,
    crc: Crc64,
    offset: u64,
}

impl<R: Read> Source<R> {
    fn new(r: R) -> Self {
        Source {
            r,
            crc: Crc64::new(),
            offset: 0,
        }
    }

    /// Bytes read so far: where the next item starts.
    pub(crate) fn offset(&self) -> u64 {
        self.offset
    }

    fn corrupt_at(&self, offset: u64, reason: String) -> PersistError {
        PersistError::Corrupt { offset, reason }
    }

    fn read_exact(&mut self, buf: &mut [u8]) -> Result<(), PersistError> {
        self.r.read_exact(buf).map_err(|e| match e.kind() {
            io::ErrorKind::UnexpectedEof => PersistError::UnexpectedEof {
                offset: self.offset,
            },
            _ => PersistError::Read(e),
        })?;
        self.crc.update(buf);
        self.offset += buf.len() as u64;
        Ok(())
    }

    pub(crate) fn array<const N: usize>(&mut self) -> Result<[u8; N], PersistError> {
        let mut buf = [0u8; N];
        self.read_exact(&mut buf)?;
        Ok(buf)
    }

    pub(crate) fn u8(&mut self) -> Result<u8, PersistError> {
        Ok(self.array::<1>()?[0])
    }

    /// `REDIS` and four ASCII digits; returns the version.
    fn header(&mut self) -> Result<u32, PersistError> {
        let head: [u8; 9] = self.array()?;
        let (magic, digits) = head.split_at(MAGIC.len());
        if magic != MAGIC || !digits.iter().all(u8::is_ascii_digit) {
            return Err(PersistError::BadMagic);
        }
        let version = digits
            .iter()
            .fold(0u32, |v, d| v * 10 + u32::from(d - b'0'));
        if !(1..=RDB_VERSION).contains(&version) {
            return Err(PersistError::UnsupportedVersion(version));
        }
        Ok(version)
    }

    fn len_or_special(&mut self) -> Result<Len, PersistError> {
        let at = self.offset;
        let first = self.u8()?;
        let low = first & 0x3f;
        Ok(match first >> 6 {
            len::BITS_6 => Len::Plain(u64::from(low)),
            len::BITS_14 => Len::Plain(u64::from(low) << 8 | u64::from(self.u8()?)),
            len::SPECIAL => Len::Special(low),
            _ => match first {
                len::BITS_32 => Len::Plain(u64::from(u32::from_be_bytes(self.array()?))),
                len::BITS_64 => Len::Plain(u64::from_be_bytes(self.array()?)),
                _ => return Err(self.corrupt_at(at, format!("invalid length byte {first:#04x}"))),
            },
        })
    }

    /// A length where no special encoding is allowed.
    pub(crate) fn length(&mut self) -> Result<u64, PersistError> {
        let at = self.offset;
        match self.len_or_special()? {
            Len::Plain(n) => Ok(n),
            Len::Special(kind) => Err(self.corrupt_at(
                at,
                format!("a length was expected, found string encoding {kind}"),
            )),
        }
    }

    /// A length that will size a buffer: it must fit in memory's address space.
    fn size(&mut self) -> Result<usize, PersistError> {
        let at = self.offset;
        let n = self.length()?;
        usize::try_from(n).map_err(|_| self.corrupt_at(at, format!("length {n} is too large")))
    }

    pub(crate) fn string(&mut self) -> Result<RdbStr, PersistError> {
        let at = self.offset;
        match self.len_or_special()? {
            Len::Plain(n) => {
                let n = usize::try_from(n)
                    .map_err(|_| self.corrupt_at(at, format!("length {n} is too large")))?;
                self.bytes(n).map(RdbStr::Bytes)
            }
            Len::Special(enc::INT8) => Ok(RdbStr::Int(i8::from_le_bytes(self.array()?).into())),
            Len::Special(enc::INT16) => Ok(RdbStr::Int(i16::from_le_bytes(self.array()?).into())),
            Len::Special(enc::INT32) => Ok(RdbStr::Int(i32::from_le_bytes(self.array()?).into())),
            Len::Special(enc::LZF) => self.lzf_string().map(RdbStr::Bytes),
            Len::Special(kind) => {
                Err(self.corrupt_at(at, format!("unknown string encoding {kind}")))
            }
        }
    }

    /// Compressed length, original length, compressed bytes.
    fn lzf_string(&mut self) -> Result<Vec<u8>, PersistError> {
        let at = self.offset;
        let compressed_len = self.size()?;
        let original_len = self.size()?;
        if original_len / lzf::MAX_EXPANSION > compressed_len {
            return Err(self.corrupt_at(
                at,
                format!("LZF string claims {original_len} bytes from {compressed_len} compressed"),
            ));
        }
        let compressed = self.bytes(compressed_len)?;
        lzf::decompress(&compressed, original_len)
            .map_err(|e| self.corrupt_at(at, format!("bad LZF string: {e}")))
    }

    /// Exactly `n` bytes, read in bounded chunks.
    pub(crate) fn bytes(&mut self, n: usize) -> Result<Vec<u8>, PersistError> {
        let mut buf = Vec::with_capacity(n.min(READ_CHUNK));
        while buf.len() < n {
            let start = buf.len();
            let end = start + (n - start).min(READ_CHUNK);
            buf.resize(end, 0);
            self.read_exact(&mut buf[start..end])?;
        }
        Ok(buf)
    }

    /// After EOF: compares the stored checksum with the computed one when the format
    /// has one and the writer filled it in. Returns whether it was verified.
    fn checksum(&mut self, version: u32) -> Result<bool, PersistError> {
        if version < FIRST_VERSION_WITH_CHECKSUM {
            return Ok(false);
        }
        let computed = self.crc.value();
        let stored = u64::from_le_bytes(self.array()?);
        match stored {
            0 => Ok(false),
            _ if stored == computed => Ok(true),
            _ => Err(PersistError::BadChecksum { stored, computed }),
        }
    }
}
