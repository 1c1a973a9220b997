//! The byte codec of the compact encodings (what Redis calls a listpack): elements one
//! after the other in one exactly sized buffer, each a header byte and a payload.
//!
//! | header | element |
//! | --- | --- |
//! | `0x00..=0x7f` | a string of that many bytes follows |
//! | `0x80..=0xbf` | the integer `header - 0x80` (0 to 63), no payload |
//! | `0xc0..=0xc7` | an integer in `header - 0xbf` little-endian bytes, sign-extended |
//! | `0xc8` | a string whose length (128 or more) follows as a LEB128 varint |
//!
//! A string that is a canonical 64-bit integer (as Redis's `string2ll` accepts it) is
//! always stored as an integer, in the fewest bytes; anything else as a string. So every
//! value has exactly one encoding, and looking an element up is comparing encoded bytes:
//! [`Needle`] encodes the searched value once, with no allocation.
//!
//! Unlike Redis's listpack there is no back-length per element and no total-bytes header
//! (the buffer knows its length): these buffers are only walked forward.

use crate::value::parse_i64_strict;

const STR_LONG: u8 = 0xc8;
const SMALL_INT: u8 = 0x80;
const INT_BYTES: u8 = 0xc0;

/// One decoded element.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Elem<'a> {
    Str(&'a [u8]),
    Int(i64),
}

impl Elem<'_> {
    /// Calls `f` with the element's bytes (integers are formatted on the stack).
    #[inline]
    pub fn with_bytes<R>(self, f: impl FnOnce(&[u8]) -> R) -> R {
        match self {
            Elem::Str(s) => f(s),
            Elem::Int(n) => f(itoa::Buffer::new().format(n).as_bytes()),
        }
    }

    pub fn to_vec(self) -> Vec<u8> {
        self.with_bytes(|b| b.to_vec())
    }

    /// Length of the element as a string.
    pub fn len(self) -> usize {
        match self {
            Elem::Str(s) => s.len(),
            Elem::Int(n) => itoa::Buffer::new().format(n).len(),
        }
    }

    pub fn is_empty(self) -> bool {
        self.len() == 0
    }
}

/// Bytes of the smallest two's-complement little-endian form of `n` (1 to 8).
#[inline]
pub fn int_width(n: i64) -> usize {
    let bits = if n < 0 {
        64 - n.leading_ones()
    } else {
        64 - n.leading_zeros()
    } + 1;
    (bits as usize).div_ceil(8).max(1)
}

/// A value encoded once for searching: `head` holds the header (and, for integers, the
/// whole element); `body` the string's bytes.
#[derive(Clone, Copy, Debug)]
pub struct Needle<'a> {
    head: [u8; 11],
    head_len: u8,
    body: &'a [u8],
}

impl<'a> Needle<'a> {
    pub fn new(s: &'a [u8]) -> Self {
        let mut head = [0u8; 11];
        if let Some(n) = parse_i64_strict(s) {
            let len = write_int(n, &mut head);
            return Needle {
                head,
                head_len: len as u8,
                body: &[],
            };
        }
        let len = if s.len() < 0x80 {
            head[0] = s.len() as u8;
            1
        } else {
            head[0] = STR_LONG;
            1 + write_varint(s.len() as u64, &mut head[1..])
        };
        Needle {
            head,
            head_len: len as u8,
            body: s,
        }
    }

    /// Bytes of the encoded element.
    #[inline]
    pub fn encoded_len(&self) -> usize {
        self.head_len as usize + self.body.len()
    }

    /// Appends the encoded element.
    #[inline]
    pub fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.head[..self.head_len as usize]);
        out.extend_from_slice(self.body);
    }

    /// Writes the encoded element over `out`, which is exactly
    /// [`encoded_len`](Self::encoded_len) bytes long.
    #[inline]
    pub fn write_over(&self, out: &mut [u8]) {
        let h = self.head_len as usize;
        out[..h].copy_from_slice(&self.head[..h]);
        out[h..].copy_from_slice(self.body);
    }

    /// Whether the element encoded at `buf[at..]` is this value.
    #[inline]
    pub fn matches(&self, buf: &[u8], at: usize) -> bool {
        let h = self.head_len as usize;
        let end = at + h + self.body.len();
        end <= buf.len() && buf[at..at + h] == self.head[..h] && &buf[at + h..end] == self.body
    }
}

/// Writes the integer element `n` into `out` (at least 9 bytes); returns its length.
fn write_int(n: i64, out: &mut [u8]) -> usize {
    if (0..64).contains(&n) {
        out[0] = SMALL_INT + n as u8;
        return 1;
    }
    let w = int_width(n);
    out[0] = INT_BYTES + (w as u8 - 1);
    out[1..=w].copy_from_slice(&n.to_le_bytes()[..w]);
    1 + w
}

/// Writes `v` as LEB128; returns the bytes written (at most 10).
pub fn write_varint(mut v: u64, out: &mut [u8]) -> usize {
    let mut i = 0;
    loop {
        let b = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out[i] = b;
            return i + 1;
        }
        out[i] = b | 0x80;
        i += 1;
    }
}

/// Appends `v` as LEB128.
pub fn push_varint(v: u64, out: &mut Vec<u8>) {
    let mut tmp = [0u8; 10];
    let n = write_varint(v, &mut tmp);
    out.extend_from_slice(&tmp[..n]);
}

/// Bytes `v` takes as LEB128.
pub fn varint_len(v: u64) -> usize {
    let bits = 64 - v.leading_zeros() as usize;
    bits.div_ceil(7).max(1)
}

/// Reads a LEB128 value at `buf[at..]`: (value, bytes read). The buffers are built by
/// this module only, so they are well formed.
#[inline]
pub fn read_varint(buf: &[u8], at: usize) -> (u64, usize) {
    let mut v = 0u64;
    let mut shift = 0;
    let mut i = at;
    loop {
        let b = buf[i];
        v |= u64::from(b & 0x7f) << shift;
        i += 1;
        if b & 0x80 == 0 {
            return (v, i - at);
        }
        shift += 7;
    }
}

/// Reads a sign-extended little-endian integer of 1 to 8 bytes.
#[inline]
pub fn read_int(b: &[u8]) -> i64 {
    let mut le = [0u8; 8];
    le[..b.len()].copy_from_slice(b);
    if b[b.len() - 1] & 0x80 != 0 {
        le[b.len()..].fill(0xff);
    }
    i64::from_le_bytes(le)
}

/// Decodes the element at `buf[at..]`: (element, offset just past it).
#[inline]
pub fn decode(buf: &[u8], at: usize) -> (Elem<'_>, usize) {
    let h = buf[at];
    match h {
        0x00..=0x7f => {
            let end = at + 1 + h as usize;
            (Elem::Str(&buf[at + 1..end]), end)
        }
        0x80..=0xbf => (Elem::Int(i64::from(h - SMALL_INT)), at + 1),
        0xc0..=0xc7 => {
            let w = (h - INT_BYTES) as usize + 1;
            (Elem::Int(read_int(&buf[at + 1..at + 1 + w])), at + 1 + w)
        }
        _ => {
            let (len, n) = read_varint(buf, at + 1);
            let start = at + 1 + n;
            let end = start + len as usize;
            (Elem::Str(&buf[start..end]), end)
        }
    }
}

/// Offset just past the element at `buf[at..]`, without decoding it.
#[inline]
pub fn skip(buf: &[u8], at: usize) -> usize {
    let h = buf[at];
    match h {
        0x00..=0x7f => at + 1 + h as usize,
        0x80..=0xbf => at + 1,
        0xc0..=0xc7 => at + 2 + (h - INT_BYTES) as usize,
        _ => {
            let (len, n) = read_varint(buf, at + 1);
            at + 1 + n + len as usize
        }
    }
}

/// Encoded size of `s`.
pub fn encoded_len(s: &[u8]) -> usize {
    Needle::new(s).encoded_len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn roundtrip(s: &[u8]) {
        let n = Needle::new(s);
        let mut buf = vec![0xaa];
        n.write(&mut buf);
        assert_eq!(buf.len(), 1 + n.encoded_len());
        let (e, end) = decode(&buf, 1);
        assert_eq!(end, buf.len(), "{s:?}");
        assert_eq!(skip(&buf, 1), end);
        assert_eq!(e.to_vec(), s);
        assert_eq!(e.len(), s.len());
        assert!(n.matches(&buf, 1));
    }

    #[test]
    fn encodings_are_compact() {
        for (s, len) in [
            (&b""[..], 1),
            (b"0", 1),
            (b"63", 1),
            (b"64", 2),
            (b"-1", 2),
            (b"127", 2),
            (b"128", 3),
            (b"-128", 2),
            (b"-129", 3),
            (b"9223372036854775807", 9),
            (b"-9223372036854775808", 9),
            (b"01", 3),
            (b"-0", 3),
            (b"value1", 7),
        ] {
            assert_eq!(encoded_len(s), len, "{:?}", String::from_utf8_lossy(s));
            roundtrip(s);
        }
        roundtrip(&[b'x'; 127]);
        roundtrip(&[b'x'; 128]);
        assert_eq!(encoded_len(&[b'x'; 128]), 1 + 2 + 128);
        roundtrip(&[b'y'; 70_000]);
    }

    #[test]
    fn integers_and_strings_never_match_each_other() {
        let mut buf = Vec::new();
        Needle::new(b"12").write(&mut buf);
        assert!(Needle::new(b"12").matches(&buf, 0));
        assert!(!Needle::new(b"012").matches(&buf, 0));
        assert!(!Needle::new(b"13").matches(&buf, 0));
        assert!(!Needle::new(b"1").matches(&buf, 0));
    }

    #[test]
    fn varints() {
        for v in [0u64, 1, 127, 128, 300, 16_383, 16_384, u64::MAX] {
            let mut out = Vec::new();
            push_varint(v, &mut out);
            assert_eq!(out.len(), varint_len(v));
            assert_eq!(read_varint(&out, 0), (v, out.len()));
        }
    }

    proptest! {
        #[test]
        fn any_bytes_roundtrip(s in proptest::collection::vec(any::<u8>(), 0..300)) {
            roundtrip(&s);
        }

        #[test]
        fn any_integer_roundtrips(n in any::<i64>()) {
            let s = n.to_string();
            roundtrip(s.as_bytes());
            prop_assert!(encoded_len(s.as_bytes()) <= 9);
        }
    }
}
