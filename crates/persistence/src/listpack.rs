//! Listpacks, the compact sequence Redis 7.0 stores small hashes, sorted sets, list
//! nodes and stream nodes in, byte for byte as Redis lays them out: an encoder
//! ([`Listpack`]) and a decoder ([`decode`]) that validates everything.
//!
//! Layout (all multi-byte header fields little-endian):
//!
//! ```text
//! <total bytes: u32> <count: u16> <entry> ... <entry> <0xFF>
//! ```
//!
//! `count` is the number of entries, or 65535 when there are that many or more (the
//! reader must then walk the entries). Each entry is an encoding byte, its data, and a
//! *backlen*: the size of encoding byte plus data, so the listpack can be walked from
//! the end. Encodings (first byte):
//!
//! | first byte  | entry                                                        |
//! | ----------- | ------------------------------------------------------------ |
//! | `0xxxxxxx`  | unsigned integer 0..=127 in the low 7 bits                   |
//! | `10xxxxxx`  | string of 0..=63 bytes (6-bit length), then the bytes        |
//! | `110xxxxx`  | signed 13-bit integer: these 5 bits, then 8 more (big end first) |
//! | `1110xxxx`  | string of up to 4095 bytes: 12-bit length (these 4 bits, then a byte) |
//! | `0xF0`      | string with a 32-bit little-endian length                    |
//! | `0xF1`      | 16-bit signed integer, little-endian                         |
//! | `0xF2`      | 24-bit signed integer, little-endian                         |
//! | `0xF3`      | 32-bit signed integer, little-endian                         |
//! | `0xF4`      | 64-bit signed integer, little-endian                         |
//! | `0xFF`      | end of the listpack (only as the very last byte)             |
//!
//! `0xF5` to `0xFE` are not used. The backlen takes 1 to 5 bytes, 7 bits each; read
//! from its last byte backwards, a set top bit means another byte precedes.
//!
//! The encoder picks encodings as Redis does: a string that is the canonical decimal
//! form of an i64 ("12", "-7"; not "012" or "+1") is stored as the smallest integer
//! encoding that holds it, any other string as the smallest string encoding.
//!
//! The decoder trusts nothing: the total size must be the buffer's, every entry must
//! lie inside it with a backlen that matches, the end marker must come exactly last,
//! and the count must match unless it is 65535. A corrupt listpack is a
//! [`DecodeError`], never a panic, an over-read or an allocation the buffer does not
//! back.

use std::fmt;

/// Bytes before the first entry: total size (4) and count (2).
pub const HEADER_SIZE: usize = 6;
/// The end marker.
pub const EOF: u8 = 0xFF;
/// The count of a listpack with 65535 entries or more: unknown, walk to count.
pub const COUNT_UNKNOWN: u16 = u16::MAX;

const ENC_16BIT_INT: u8 = 0xF1;
const ENC_24BIT_INT: u8 = 0xF2;
const ENC_32BIT_INT: u8 = 0xF3;
const ENC_64BIT_INT: u8 = 0xF4;
const ENC_32BIT_STR: u8 = 0xF0;

/// One element of a listpack (or of a ziplist): an integer or a byte string.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Item<'a> {
    Int(i64),
    Str(&'a [u8]),
}

impl Item<'_> {
    /// The element's bytes: integers as their decimal digits.
    pub fn to_vec(&self) -> Vec<u8> {
        match *self {
            Item::Int(n) => itoa::Buffer::new().format(n).as_bytes().to_vec(),
            Item::Str(s) => s.to_vec(),
        }
    }

    /// Calls `f` with the element's bytes, formatting integers on the stack.
    pub fn with_bytes<R>(&self, f: impl FnOnce(&[u8]) -> R) -> R {
        match *self {
            Item::Int(n) => f(itoa::Buffer::new().format(n).as_bytes()),
            Item::Str(s) => f(s),
        }
    }

    /// The element as an integer: integer entries, and strings in canonical decimal.
    pub fn as_i64(&self) -> Option<i64> {
        match *self {
            Item::Int(n) => Some(n),
            Item::Str(s) => engine::value::parse_canonical_i64(s),
        }
    }
}

/// Why a listpack (or a ziplist, intset or zipmap) is invalid: what, and at which
/// byte of it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecodeError {
    /// Offset in the encoded blob.
    pub offset: usize,
    pub reason: String,
}

impl DecodeError {
    pub(crate) fn new(offset: usize, reason: impl Into<String>) -> Self {
        DecodeError {
            offset,
            reason: reason.into(),
        }
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (at byte {})", self.reason, self.offset)
    }
}

impl std::error::Error for DecodeError {}

/// A listpack under construction. [`finish`](Self::finish) gives the bytes.
#[derive(Clone, Debug)]
pub struct Listpack {
    buf: Vec<u8>,
    count: usize,
}

impl Default for Listpack {
    fn default() -> Self {
        Listpack::new()
    }
}

/// The listpack would be larger than the 4 GiB its header can describe.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TooLarge;

impl fmt::Display for TooLarge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a listpack cannot hold more than 4 GiB")
    }
}

impl std::error::Error for TooLarge {}

impl Listpack {
    pub fn new() -> Self {
        let mut buf = Vec::with_capacity(64);
        buf.extend_from_slice(&[0; HEADER_SIZE]);
        Listpack { buf, count: 0 }
    }

    /// Entries so far.
    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Size the finished listpack will have (header, entries and end marker).
    pub fn bytes_len(&self) -> usize {
        self.buf.len() + 1
    }

    /// Appends an element the way Redis does: as an integer when `s` is the canonical
    /// decimal form of an i64, as a string otherwise.
    pub fn push(&mut self, s: &[u8]) {
        match engine::value::parse_canonical_i64(s) {
            Some(n) => self.push_int(n),
            None => self.push_str(s),
        }
    }

    /// Appends an element of either kind.
    pub fn push_item(&mut self, item: Item<'_>) {
        match item {
            Item::Int(n) => self.push_int(n),
            Item::Str(s) => self.push_str(s),
        }
    }

    /// Appends an integer in the smallest encoding that holds it.
    pub fn push_int(&mut self, n: i64) {
        let start = self.buf.len();
        let b = &mut self.buf;
        if (0..=127).contains(&n) {
            b.push(n as u8);
        } else if (-4096..=4095).contains(&n) {
            // 13 bits of two's complement, the top 5 in the encoding byte.
            let u = (n as u16) & 0x1fff;
            b.push(0xC0 | (u >> 8) as u8);
            b.push(u as u8);
        } else if let Ok(v) = i16::try_from(n) {
            b.push(ENC_16BIT_INT);
            b.extend_from_slice(&v.to_le_bytes());
        } else if (-(1 << 23)..1 << 23).contains(&n) {
            b.push(ENC_24BIT_INT);
            b.extend_from_slice(&(n as i32).to_le_bytes()[..3]);
        } else if let Ok(v) = i32::try_from(n) {
            b.push(ENC_32BIT_INT);
            b.extend_from_slice(&v.to_le_bytes());
        } else {
            b.push(ENC_64BIT_INT);
            b.extend_from_slice(&n.to_le_bytes());
        }
        self.end_entry(start);
    }

    /// Appends a string in the smallest string encoding, even if it looks like a
    /// number (Redis never does that itself; [`push`](Self::push) is the usual way).
    pub fn push_str(&mut self, s: &[u8]) {
        let start = self.buf.len();
        let b = &mut self.buf;
        let n = s.len();
        if n < 64 {
            b.push(0x80 | n as u8);
        } else if n < 4096 {
            b.push(0xE0 | (n >> 8) as u8);
            b.push(n as u8);
        } else {
            b.push(ENC_32BIT_STR);
            // Larger strings cannot be represented; finish() refuses the result.
            b.extend_from_slice(&u32::try_from(n).unwrap_or(u32::MAX).to_le_bytes());
        }
        b.extend_from_slice(s);
        self.end_entry(start);
    }

    fn end_entry(&mut self, start: usize) {
        let len = self.buf.len() - start;
        let mut backlen = [0u8; 5];
        let n = encode_backlen(len as u64, &mut backlen);
        self.buf.extend_from_slice(&backlen[..n]);
        self.count += 1;
    }

    /// The listpack's bytes, header filled in and end marker appended.
    pub fn finish(mut self) -> Result<Vec<u8>, TooLarge> {
        self.buf.push(EOF);
        let total = u32::try_from(self.buf.len()).map_err(|_| TooLarge)?;
        let count = u16::try_from(self.count)
            .ok()
            .filter(|&c| c != COUNT_UNKNOWN)
            .unwrap_or(COUNT_UNKNOWN);
        self.buf[..4].copy_from_slice(&total.to_le_bytes());
        self.buf[4..6].copy_from_slice(&count.to_le_bytes());
        Ok(self.buf)
    }
}

/// Writes the backlen of an entry of `len` bytes into `out`; returns its size. The
/// last byte holds the lowest 7 bits, each earlier byte the next 7, and every byte
/// but the first (leftmost) has its top bit set.
fn encode_backlen(len: u64, out: &mut [u8; 5]) -> usize {
    let n = backlen_size(len);
    for (i, byte) in out[..n].iter_mut().enumerate() {
        let shift = 7 * (n - 1 - i);
        let bits = ((len >> shift) & 127) as u8;
        *byte = if i == 0 { bits } else { bits | 128 };
    }
    n
}

/// Bytes the backlen of an entry of `len` bytes takes (Redis's thresholds).
fn backlen_size(len: u64) -> usize {
    match len {
        0..=127 => 1,
        128..16383 => 2,
        16383..2097151 => 3,
        2097151..268435455 => 4,
        _ => 5,
    }
}

/// Decodes and validates a whole listpack.
pub fn decode(lp: &[u8]) -> Result<Vec<Item<'_>>, DecodeError> {
    let mut out = Vec::new();
    for_each(lp, |item| {
        out.push(item);
        Ok(())
    })?;
    Ok(out)
}

/// Validates a whole listpack and calls `f` with each element, first to last; an
/// error from `f` stops the walk and is returned. The listpack is checked as it is
/// walked, so `f` may see the elements before a corrupt one.
pub fn for_each<'a>(
    lp: &'a [u8],
    mut f: impl FnMut(Item<'a>) -> Result<(), DecodeError>,
) -> Result<usize, DecodeError> {
    if lp.len() < HEADER_SIZE + 1 {
        return Err(DecodeError::new(
            0,
            format!("listpack of {} bytes is shorter than its header", lp.len()),
        ));
    }
    let total = u32::from_le_bytes([lp[0], lp[1], lp[2], lp[3]]) as usize;
    if total != lp.len() {
        return Err(DecodeError::new(
            0,
            format!("listpack header says {total} bytes but it has {}", lp.len()),
        ));
    }
    let count = u16::from_le_bytes([lp[4], lp[5]]);
    let end = lp.len() - 1;
    if lp[end] != EOF {
        return Err(DecodeError::new(end, "listpack does not end with 0xFF"));
    }
    let mut at = HEADER_SIZE;
    let mut seen = 0usize;
    while at < end {
        let (item, next) = entry(lp, at, end)?;
        f(item)?;
        seen += 1;
        at = next;
    }
    if count != COUNT_UNKNOWN && usize::from(count) != seen {
        return Err(DecodeError::new(
            4,
            format!("listpack header says {count} entries but it has {seen}"),
        ));
    }
    Ok(seen)
}

/// The entry at `at` (before the end marker at `end`) and where the next one starts.
fn entry(lp: &[u8], at: usize, end: usize) -> Result<(Item<'_>, usize), DecodeError> {
    let first = lp[at];
    // Bytes of the encoding's own header (after the first byte) needed to size it.
    let need = |n: usize| -> Result<&[u8], DecodeError> {
        lp.get(at + 1..at + 1 + n)
            .filter(|_| at + 1 + n <= end)
            .ok_or_else(|| DecodeError::new(at, "listpack entry runs past the end"))
    };
    let int_le = |n: usize| -> Result<i64, DecodeError> {
        let bytes = need(n)?;
        let mut buf = [0u8; 8];
        buf[..n].copy_from_slice(bytes);
        // Sign-extend from n bytes.
        let shift = 64 - 8 * n as u32;
        Ok((i64::from_le_bytes(buf) << shift) >> shift)
    };
    let (item, size) = match first {
        0x00..=0x7F => (Item::Int(i64::from(first)), 1),
        0x80..=0xBF => {
            let n = usize::from(first & 0x3f);
            (Item::Str(need(n)?), 1 + n)
        }
        0xC0..=0xDF => {
            let low = need(1)?[0];
            let u = (u16::from(first & 0x1f) << 8) | u16::from(low);
            // Sign-extend 13 bits.
            let v = i64::from(((u << 3) as i16) >> 3);
            (Item::Int(v), 2)
        }
        0xE0..=0xEF => {
            let low = need(1)?[0];
            let n = (usize::from(first & 0x0f) << 8) | usize::from(low);
            let s = lp
                .get(at + 2..at + 2 + n)
                .filter(|_| at + 2 + n <= end)
                .ok_or_else(|| DecodeError::new(at, "listpack string runs past the end"))?;
            (Item::Str(s), 2 + n)
        }
        ENC_32BIT_STR => {
            let h = need(4)?;
            let n = u32::from_le_bytes([h[0], h[1], h[2], h[3]]) as usize;
            let s = at
                .checked_add(5 + n)
                .filter(|&e| e <= end)
                .and_then(|e| lp.get(at + 5..e))
                .ok_or_else(|| DecodeError::new(at, "listpack string runs past the end"))?;
            (Item::Str(s), 5 + n)
        }
        ENC_16BIT_INT => (Item::Int(int_le(2)?), 3),
        ENC_24BIT_INT => (Item::Int(int_le(3)?), 4),
        ENC_32BIT_INT => (Item::Int(int_le(4)?), 5),
        ENC_64BIT_INT => (Item::Int(int_le(8)?), 9),
        EOF => {
            return Err(DecodeError::new(
                at,
                "listpack end marker before the last byte",
            ))
        }
        other => {
            return Err(DecodeError::new(
                at,
                format!("invalid listpack encoding {other:#04x}"),
            ))
        }
    };
    let mut want = [0u8; 5];
    let n = encode_backlen(size as u64, &mut want);
    let back_at = at + size;
    match lp.get(back_at..back_at + n) {
        Some(got) if back_at + n <= end => {
            if got != &want[..n] {
                return Err(DecodeError::new(
                    back_at,
                    format!("listpack entry of {size} bytes has a wrong backlen"),
                ));
            }
        }
        _ => {
            return Err(DecodeError::new(
                at,
                "listpack entry's backlen runs past the end",
            ))
        }
    }
    Ok((item, back_at + n))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::collection::vec;
    use proptest::prelude::*;

    fn lp_of(items: &[&[u8]]) -> Vec<u8> {
        let mut lp = Listpack::new();
        for i in items {
            lp.push(i);
        }
        lp.finish().unwrap_or_else(|e| panic!("{e}"))
    }

    fn entry_bytes(s: &[u8]) -> Vec<u8> {
        let lp = lp_of(&[s]);
        lp[HEADER_SIZE..lp.len() - 1].to_vec()
    }

    #[test]
    fn encodings_are_redis_s() {
        // Bytes as Redis 7.0's listpack.c lays them out (encoding, data, backlen).
        assert_eq!(entry_bytes(b"0"), [0x00, 0x01]);
        assert_eq!(entry_bytes(b"127"), [0x7f, 0x01]);
        assert_eq!(entry_bytes(b"128"), [0xc0, 0x80, 0x02]);
        assert_eq!(entry_bytes(b"-1"), [0xdf, 0xff, 0x02]);
        assert_eq!(entry_bytes(b"-4096"), [0xd0, 0x00, 0x02]);
        assert_eq!(entry_bytes(b"4095"), [0xcf, 0xff, 0x02]);
        assert_eq!(entry_bytes(b"4096"), [0xf1, 0x00, 0x10, 0x03]);
        assert_eq!(entry_bytes(b"-32768"), [0xf1, 0x00, 0x80, 0x03]);
        assert_eq!(entry_bytes(b"32768"), [0xf2, 0x00, 0x80, 0x00, 0x04]);
        assert_eq!(entry_bytes(b"-8388608"), [0xf2, 0x00, 0x00, 0x80, 0x04]);
        assert_eq!(
            entry_bytes(b"8388608"),
            [0xf3, 0x00, 0x00, 0x80, 0x00, 0x05]
        );
        assert_eq!(
            entry_bytes(b"2147483648"),
            [0xf4, 0, 0, 0, 0x80, 0, 0, 0, 0, 0x09]
        );
        assert_eq!(entry_bytes(b"a"), [0x81, b'a', 0x02]);
        assert_eq!(entry_bytes(b""), [0x80, 0x01]);
        assert_eq!(entry_bytes(b"007"), [0x83, b'0', b'0', b'7', 0x04]);
        let s64 = vec![b'x'; 64];
        let e = entry_bytes(&s64);
        assert_eq!(&e[..2], [0xe0, 64]);
        // 66 bytes of entry: a one-byte backlen.
        assert_eq!(e[e.len() - 1], 66);
        let s200 = vec![b'y'; 200];
        let e = entry_bytes(&s200);
        // 202 bytes: two backlen bytes, 202 = 1 * 128 + 74.
        assert_eq!(&e[e.len() - 2..], [0x01, 74 | 0x80]);
        let s4096 = vec![b'z'; 4096];
        let e = entry_bytes(&s4096);
        assert_eq!(&e[..5], [0xf0, 0x00, 0x10, 0x00, 0x00]);
        // 4101 = 32 * 128 + 5.
        assert_eq!(&e[e.len() - 2..], [32, 5 | 0x80]);

        let lp = lp_of(&[b"a", b"1"]);
        assert_eq!(lp, [12, 0, 0, 0, 2, 0, 0x81, b'a', 0x02, 0x01, 0x01, 0xff]);
        assert_eq!(lp_of(&[]), [7, 0, 0, 0, 0, 0, 0xff]);
    }

    /// The listpack in `DUMP` of `HSET h a 1 b 300 c -1 d 70000 e -9000000 f 3000000000
    /// g <60 x>` from redis-server 7.0.15 (with `rdbcompression no`).
    const REDIS_HASH_LISTPACK: &str =
        "770000000e008161020101816202c12c02816302dfff02816402f270110104816502f3c0ab76ff\
        05816602f4005ed0b20000000009816702bc787878787878787878787878787878787878787878\
        787878787878787878787878787878787878787878787878787878787878787878787878787878\
        3dff";

    fn unhex(h: &str) -> Vec<u8> {
        (0..h.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&h[i..i + 2], 16).unwrap_or_else(|e| panic!("{e}")))
            .collect()
    }

    #[test]
    fn same_bytes_as_redis() {
        let x60 = vec![b'x'; 60];
        let fields: [&[u8]; 14] = [
            b"a",
            b"1",
            b"b",
            b"300",
            b"c",
            b"-1",
            b"d",
            b"70000",
            b"e",
            b"-9000000",
            b"f",
            b"3000000000",
            b"g",
            &x60,
        ];
        let redis = unhex(REDIS_HASH_LISTPACK);
        assert_eq!(lp_of(&fields), redis);
        let back: Vec<Vec<u8>> = decode(&redis)
            .unwrap_or_else(|e| panic!("{e}"))
            .iter()
            .map(Item::to_vec)
            .collect();
        assert_eq!(back, fields.map(<[u8]>::to_vec));
    }

    #[test]
    fn backlens_at_every_threshold() {
        for len in [
            1u64, 127, 128, 16382, 16383, 2097150, 2097151, 268435454, 268435455,
        ] {
            let mut b = [0u8; 5];
            let n = encode_backlen(len, &mut b);
            // Decode as Redis does, from the last byte backwards.
            let mut v = 0u64;
            for (k, byte) in b[..n].iter().rev().enumerate() {
                v |= u64::from(byte & 127) << (7 * k);
                assert_eq!(byte & 128 != 0, k + 1 < n, "continuation bits of {len}");
            }
            assert_eq!(v, len);
        }
    }

    #[test]
    fn many_entries_have_an_unknown_count() {
        let mut lp = Listpack::new();
        for i in 0..70_000 {
            lp.push_int(i % 300);
        }
        let bytes = lp.finish().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(&bytes[4..6], [0xff, 0xff]);
        let items = decode(&bytes).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(items.len(), 70_000);
        assert_eq!(items[69_999], Item::Int(69_999 % 300));
    }

    #[test]
    fn corrupt_listpacks_are_refused() {
        let good = lp_of(&[b"a", b"hello", b"300"]);
        assert!(decode(&good).is_ok());
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (vec![], "shorter than its header"),
            (good[..good.len() - 1].to_vec(), "header says"),
            (
                {
                    let mut b = good.clone();
                    let n = b.len();
                    b[n - 1] = 0;
                    b
                },
                "does not end with 0xFF",
            ),
            (
                {
                    let mut b = good.clone();
                    b[4] = 2;
                    b
                },
                "header says 2 entries but it has 3",
            ),
            (
                {
                    let mut b = good.clone();
                    b[8] = 3;
                    b
                },
                "wrong backlen",
            ),
            (
                {
                    let mut b = good.clone();
                    b[6] = 0xf5;
                    b
                },
                "invalid listpack encoding 0xf5",
            ),
            (
                {
                    let mut b = good.clone();
                    b[6] = 0xbf;
                    b
                },
                "runs past the end",
            ),
            (
                {
                    let mut b = good.clone();
                    b[6] = 0xff;
                    b
                },
                "end marker before the last byte",
            ),
            (
                vec![12, 0, 0, 0, 1, 0, 0xf0, 0xff, 0xff, 0xff, 0xff, 0xff],
                "runs past the end",
            ),
        ];
        for (bytes, want) in cases {
            match decode(&bytes) {
                Ok(items) => panic!("{bytes:?} decoded to {items:?}"),
                Err(e) => assert!(e.to_string().contains(want), "{bytes:?}: {e}, want {want}"),
            }
        }
    }

    fn element() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            any::<i64>().prop_map(|n| n.to_string().into_bytes()),
            (-70_000i64..70_000).prop_map(|n| n.to_string().into_bytes()),
            prop::sample::select(vec![
                127i64,
                128,
                -4096,
                -4097,
                4095,
                4096,
                32767,
                32768,
                -32768,
                -32769,
                8388607,
                8388608,
                -8388608,
                -8388609,
                i64::from(i32::MAX),
                i64::from(i32::MAX) + 1,
                i64::from(i32::MIN),
                i64::from(i32::MIN) - 1,
                i64::MAX,
                i64::MIN,
            ])
            .prop_map(|n| n.to_string().into_bytes()),
            vec(any::<u8>(), 0..80),
            (0usize..6000).prop_map(|n| vec![b'q'; n]),
            prop::sample::select(vec!["007", "-0", "+1", "", " 1", "1.5"])
                .prop_map(|s| s.as_bytes().to_vec()),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        #[test]
        fn round_trip(items in vec(element(), 0..60)) {
            let mut lp = Listpack::new();
            for i in &items {
                lp.push(i);
            }
            prop_assert_eq!(lp.bytes_len(), {
                let l = lp.clone();
                l.finish().map(|b| b.len()).unwrap_or(0)
            });
            let bytes = lp.finish().map_err(|e| TestCaseError::fail(e.to_string()))?;
            let back = decode(&bytes).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(back.len(), items.len());
            for (got, want) in back.iter().zip(&items) {
                prop_assert_eq!(&got.to_vec(), want);
                let is_int = engine::value::parse_canonical_i64(want).is_some();
                prop_assert_eq!(matches!(got, Item::Int(_)), is_int);
            }
        }

        #[test]
        fn arbitrary_bytes_never_panic(data in vec(any::<u8>(), 0..200)) {
            let _ = decode(&data);
        }

        #[test]
        fn arbitrary_entries_never_panic(body in vec(any::<u8>(), 0..200), count in any::<u16>()) {
            // A correct header and end marker around random entries reaches the
            // entry decoder every time.
            let mut data = ((body.len() + 7) as u32).to_le_bytes().to_vec();
            data.extend_from_slice(&count.to_le_bytes());
            data.extend_from_slice(&body);
            data.push(EOF);
            let _ = decode(&data);
        }

        #[test]
        fn damaged_listpacks_never_panic(
            items in vec(element(), 1..20),
            flips in vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
        ) {
            let mut lp = Listpack::new();
            for i in &items {
                lp.push(i);
            }
            let mut bytes = lp.finish().map_err(|e| TestCaseError::fail(e.to_string()))?;
            let n = bytes.len();
            for (i, b) in flips {
                bytes[i.index(n)] = b;
            }
            let _ = decode(&bytes);
        }
    }
}
