//! Constants of the RDB format: opcodes, value types and the length encoding.
//!
//! An RDB file is `REDIS` + four ASCII digits of version, then a stream of items each
//! introduced by one byte: either an opcode (250 and up, plus a few below) or the value
//! type of the key/value pair that follows. After the EOF opcode come 8 bytes of
//! CRC-64 (little-endian) over everything before them, from version 5 on.

/// The first five bytes of every RDB file.
pub const MAGIC: &[u8; 5] = b"REDIS";
/// The version this crate writes: the one Redis 7.0 writes.
pub const RDB_VERSION: u32 = 10;
/// The oldest version whose files end with a checksum.
pub const FIRST_VERSION_WITH_CHECKSUM: u32 = 5;

/// Item opcodes.
pub mod opcode {
    /// A function library (Redis 7.0 and later).
    pub const FUNCTION2: u8 = 245;
    /// A function library in the format of the 7.0 release candidates.
    pub const FUNCTION_PRE_GA: u8 = 246;
    /// Data a module saves outside any key.
    pub const MODULE_AUX: u8 = 247;
    /// LRU idle time of the next key (a length, in seconds).
    pub const IDLE: u8 = 248;
    /// LFU frequency of the next key (one byte).
    pub const FREQ: u8 = 249;
    /// An auxiliary field: two strings, name and value.
    pub const AUX: u8 = 250;
    /// Size hints for the current database: two lengths (keys, keys with an expiry).
    pub const RESIZEDB: u8 = 251;
    /// Expiry of the next key: 8 bytes, little-endian Unix milliseconds.
    pub const EXPIRETIME_MS: u8 = 252;
    /// Expiry of the next key: 4 bytes, little-endian Unix seconds (old files).
    pub const EXPIRETIME: u8 = 253;
    /// Switches the database the following keys belong to (a length).
    pub const SELECTDB: u8 = 254;
    /// End of the data; the checksum follows.
    pub const EOF: u8 = 255;
}

/// The value type of a plain string.
pub const TYPE_STRING: u8 = 0;

/// What each value type code means, for errors about types this crate does not load.
/// `None` for codes that no Redis version uses.
pub fn type_name(code: u8) -> Option<&'static str> {
    Some(match code {
        0 => "string",
        1 => "list",
        2 => "set",
        3 => "sorted set",
        4 => "hash",
        5 => "sorted set with binary scores",
        6 => "module value, pre-release format",
        7 => "module value",
        9 => "hash zipmap",
        10 => "list ziplist",
        11 => "set intset",
        12 => "sorted set ziplist",
        13 => "hash ziplist",
        14 => "list quicklist",
        15 => "stream listpacks",
        16 => "hash listpack",
        17 => "sorted set listpack",
        18 => "list quicklist 2",
        19 => "stream listpacks 2",
        20 => "set listpack",
        21 => "stream listpacks 3",
        _ => return None,
    })
}

/// The length encoding. The two top bits of the first byte say how to read the rest:
/// `00` a 6-bit length, `01` a 14-bit length (with the next byte, big-endian), `10`
/// a 32-bit (`0x80`) or 64-bit (`0x81`) big-endian length in the following bytes, `11`
/// a string in a special encoding named by the low six bits.
pub mod len {
    pub const BITS_6: u8 = 0;
    pub const BITS_14: u8 = 1;
    pub const WIDE: u8 = 2;
    pub const SPECIAL: u8 = 3;
    pub const BITS_32: u8 = 0x80;
    pub const BITS_64: u8 = 0x81;
}

/// Special string encodings (the low six bits after `11`).
pub mod enc {
    /// A signed integer in 1, 2 or 4 little-endian bytes, stored instead of its digits.
    pub const INT8: u8 = 0;
    pub const INT16: u8 = 1;
    pub const INT32: u8 = 2;
    /// LZF-compressed: compressed length, original length, then the compressed bytes.
    pub const LZF: u8 = 3;
}

/// Strings no longer than this are never compressed (as in Redis: it does not pay).
pub const LZF_MIN_LEN: usize = 21;
