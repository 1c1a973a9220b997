//! Ziplists, the compact sequence Redis 2.6 to 6.2 kept small lists, hashes and
//! sorted sets in (RDB types 10, 12, 13 and the nodes of 14). Decoded when files of
//! those versions are read; the encoder only builds such files for tests and tools.
//!
//! Layout (header fields little-endian):
//!
//! ```text
//! <total bytes: u32> <offset of the last entry: u32> <count: u16> <entry> ... <0xFF>
//! ```
//!
//! `count` is 65535 when unknown. Each entry is the previous entry's size (one byte
//! below 254, or 254 and a u32), an encoding, and data:
//!
//! | encoding                 | entry                                          |
//! | ------------------------ | ---------------------------------------------- |
//! | `00pppppp`               | string of up to 63 bytes                       |
//! | `01pppppp qqqqqqqq`      | string of up to 16383 bytes (14-bit length, big-endian) |
//! | `10______` + 4 bytes     | string with a 32-bit big-endian length         |
//! | `0xC0` / `0xD0` / `0xE0` | 16 / 32 / 64-bit signed integer, little-endian |
//! | `0xF0`                   | 24-bit signed integer, little-endian           |
//! | `0xFE`                   | 8-bit signed integer                           |
//! | `0xF1` to `0xFD`         | the integer 0 to 12, in the low four bits minus one |
//!
//! The decoder checks what Redis's deep integrity check does: sizes, every entry
//! inside the buffer, each entry's previous-size field against the real size of the
//! entry before it, the last-entry offset, the end marker and the count.

use crate::listpack::{DecodeError, Item};

/// Bytes before the first entry.
pub const HEADER_SIZE: usize = 10;
const END: u8 = 0xFF;
const COUNT_UNKNOWN: u16 = u16::MAX;
/// A previous-entry size of this many bytes or more takes 5 bytes.
const BIG_PREVLEN: u8 = 254;

/// Decodes and validates a whole ziplist.
pub fn decode(zl: &[u8]) -> Result<Vec<Item<'_>>, DecodeError> {
    if zl.len() < HEADER_SIZE + 1 {
        return Err(DecodeError::new(
            0,
            format!("ziplist of {} bytes is shorter than its header", zl.len()),
        ));
    }
    let total = u32::from_le_bytes([zl[0], zl[1], zl[2], zl[3]]) as usize;
    if total != zl.len() {
        return Err(DecodeError::new(
            0,
            format!("ziplist header says {total} bytes but it has {}", zl.len()),
        ));
    }
    let tail = u32::from_le_bytes([zl[4], zl[5], zl[6], zl[7]]) as usize;
    let count = u16::from_le_bytes([zl[8], zl[9]]);
    let end = zl.len() - 1;
    if zl[end] != END {
        return Err(DecodeError::new(end, "ziplist does not end with 0xFF"));
    }
    let mut items = Vec::new();
    let mut at = HEADER_SIZE;
    let mut prev_size = 0usize;
    let mut last = HEADER_SIZE;
    while at < end {
        let (item, size) = entry(zl, at, end, prev_size)?;
        items.push(item);
        last = at;
        prev_size = size;
        at += size;
    }
    if tail != last {
        return Err(DecodeError::new(
            4,
            format!("ziplist says its last entry is at byte {tail}, it is at {last}"),
        ));
    }
    if count != COUNT_UNKNOWN && usize::from(count) != items.len() {
        return Err(DecodeError::new(
            8,
            format!(
                "ziplist header says {count} entries but it has {}",
                items.len()
            ),
        ));
    }
    Ok(items)
}

/// The entry at `at` and its whole size; `prev_size` is the size of the entry before.
fn entry(
    zl: &[u8],
    at: usize,
    end: usize,
    prev_size: usize,
) -> Result<(Item<'_>, usize), DecodeError> {
    let past = || DecodeError::new(at, "ziplist entry runs past the end");
    // Bytes [from, from + n) of the entry, all before the end marker.
    let take = |from: usize, n: usize| -> Result<&[u8], DecodeError> {
        from.checked_add(n)
            .filter(|&e| e <= end)
            .and_then(|e| zl.get(from..e))
            .ok_or_else(past)
    };
    let (prev, mut p) = match zl[at] {
        END => {
            return Err(DecodeError::new(
                at,
                "ziplist end marker before the last byte",
            ))
        }
        BIG_PREVLEN => {
            let b = take(at + 1, 4)?;
            (
                u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize,
                at + 5,
            )
        }
        small => (usize::from(small), at + 1),
    };
    if prev != prev_size {
        return Err(DecodeError::new(
            at,
            format!("ziplist entry says the one before has {prev} bytes, it has {prev_size}"),
        ));
    }
    let enc = take(p, 1)?[0];
    p += 1;
    let int_le = |p: usize, n: usize| -> Result<i64, DecodeError> {
        let b = take(p, n)?;
        let mut buf = [0u8; 8];
        buf[..n].copy_from_slice(b);
        let shift = 64 - 8 * n as u32;
        Ok((i64::from_le_bytes(buf) << shift) >> shift)
    };
    let (item, data_end) = match enc >> 6 {
        0 => {
            let n = usize::from(enc & 0x3f);
            (Item::Str(take(p, n)?), p + n)
        }
        1 => {
            let low = take(p, 1)?[0];
            let n = (usize::from(enc & 0x3f) << 8) | usize::from(low);
            (Item::Str(take(p + 1, n)?), p + 1 + n)
        }
        2 => {
            let b = take(p, 4)?;
            let n = u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize;
            (Item::Str(take(p + 4, n)?), p + 4 + n)
        }
        _ => match enc {
            0xC0 => (Item::Int(int_le(p, 2)?), p + 2),
            0xD0 => (Item::Int(int_le(p, 4)?), p + 4),
            0xE0 => (Item::Int(int_le(p, 8)?), p + 8),
            0xF0 => (Item::Int(int_le(p, 3)?), p + 3),
            0xFE => (Item::Int(int_le(p, 1)?), p + 1),
            0xF1..=0xFD => (Item::Int(i64::from(enc & 0x0f) - 1), p),
            other => {
                return Err(DecodeError::new(
                    at,
                    format!("invalid ziplist encoding {other:#04x}"),
                ))
            }
        },
    };
    Ok((item, data_end - at))
}

/// A ziplist as Redis 6.2 lays it out (canonical integers in the smallest integer
/// encoding), to build files in the formats of older versions for tests and tools;
/// snapshots never contain ziplists. Meant for small inputs: past 4 GiB the result
/// is not a ziplist.
pub fn encode(items: &[&[u8]]) -> Vec<u8> {
    let mut zl = vec![0u8; HEADER_SIZE];
    let mut prev = 0usize;
    let mut last = HEADER_SIZE;
    for s in items {
        let start = zl.len();
        last = start;
        if prev < 254 {
            zl.push(prev as u8);
        } else {
            zl.push(254);
            zl.extend_from_slice(&(prev as u32).to_le_bytes());
        }
        match engine::value::parse_canonical_i64(s) {
            Some(n @ 0..=12) => zl.push(0xF1 + n as u8),
            Some(n) if i8::try_from(n).is_ok() => zl.extend([0xFE, n as u8]),
            Some(n) if i16::try_from(n).is_ok() => {
                zl.push(0xC0);
                zl.extend_from_slice(&(n as i16).to_le_bytes());
            }
            Some(n) if (-(1 << 23)..1 << 23).contains(&n) => {
                zl.push(0xF0);
                zl.extend_from_slice(&(n as i32).to_le_bytes()[..3]);
            }
            Some(n) if i32::try_from(n).is_ok() => {
                zl.push(0xD0);
                zl.extend_from_slice(&(n as i32).to_le_bytes());
            }
            Some(n) => {
                zl.push(0xE0);
                zl.extend_from_slice(&n.to_le_bytes());
            }
            None if s.len() < 64 => {
                zl.push(s.len() as u8);
                zl.extend_from_slice(s);
            }
            None if s.len() < 16384 => {
                zl.extend([0x40 | (s.len() >> 8) as u8, s.len() as u8]);
                zl.extend_from_slice(s);
            }
            None => {
                zl.push(0x80);
                zl.extend_from_slice(&(s.len() as u32).to_be_bytes());
                zl.extend_from_slice(s);
            }
        }
        prev = zl.len() - start;
    }
    zl.push(END);
    let total = zl.len() as u32;
    zl[..4].copy_from_slice(&total.to_le_bytes());
    zl[4..8].copy_from_slice(&(last as u32).to_le_bytes());
    let count = u16::try_from(items.len()).unwrap_or(COUNT_UNKNOWN);
    zl[8..10].copy_from_slice(&count.to_le_bytes());
    zl
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::collection::vec;
    use proptest::prelude::*;

    fn decoded(zl: &[u8]) -> Result<Vec<Vec<u8>>, DecodeError> {
        Ok(decode(zl)?.iter().map(Item::to_vec).collect())
    }

    #[test]
    fn layout_of_ziplist_c() {
        // Laid out by hand from the format description in Redis's ziplist.c.
        let zl = [
            28, 0, 0, 0, // total bytes
            24, 0, 0, 0, // the last entry's offset
            5, 0, // count
            0x00, 0x01, b'a', // prev 0, a 1-byte string
            0x03, 0xF2, // prev 3, the immediate 1
            0x02, 0xC0, 0x2c, 0x01, // prev 2, int16 300
            0x04, 0xF0, 0x60, 0x79, 0xFE, // prev 4, int24 -100000
            0x05, 0xFE, 0x80, // prev 5, int8 -128
            0xFF,
        ];
        let items = decode(&zl).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            items,
            [
                Item::Str(b"a"),
                Item::Int(1),
                Item::Int(300),
                Item::Int(-100000),
                Item::Int(-128)
            ]
        );
        assert_eq!(encode(&[b"a", b"1", b"300", b"-100000", b"-128"]), zl);
        // A previous-entry size of 254 or more takes five bytes.
        let long = vec![b'L'; 300];
        let zl = encode(&[&long, b"x"]);
        assert_eq!(&zl[10 + 303..10 + 303 + 5], [254, 0x2f, 0x01, 0, 0]);
        assert_eq!(decoded(&zl).unwrap_or_default(), [long, b"x".to_vec()]);
    }

    #[test]
    fn corrupt_ziplists_are_refused() {
        let good = encode(&[b"x", b"12345", b"hello"]);
        assert!(decode(&good).is_ok());
        let with = |i: usize, b: u8| {
            let mut z = good.clone();
            z[i] = b;
            z
        };
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (vec![1, 2, 3], "shorter than its header"),
            (good[..good.len() - 1].to_vec(), "header says"),
            (with(good.len() - 1, 0), "does not end with 0xFF"),
            (with(4, 11), "last entry is at"),
            (with(8, 9), "header says 9 entries but it has 3"),
            (with(13, 9), "the one before has 9 bytes"),
            (with(11, 0xC5), "invalid ziplist encoding 0xc5"),
            (with(11, 0x3f), "runs past the end"),
            (with(10, 0xFF), "end marker before the last byte"),
            (with(11, 0x80), "runs past the end"),
        ];
        for (bytes, want) in cases {
            match decode(&bytes) {
                Ok(items) => panic!("{bytes:?} decoded to {items:?}"),
                Err(e) => assert!(e.to_string().contains(want), "{bytes:?}: {e}, want {want}"),
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        #[test]
        fn round_trip(items in vec(prop_oneof![
            any::<i64>().prop_map(|n| n.to_string().into_bytes()),
            (-20i64..20).prop_map(|n| n.to_string().into_bytes()),
            vec(any::<u8>(), 0..300),
            (16000usize..17000).prop_map(|n| vec![b'z'; n]),
        ], 0..30)) {
            let refs: Vec<&[u8]> = items.iter().map(Vec::as_slice).collect();
            let zl = encode(&refs);
            let back = decoded(&zl).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(back, items);
        }

        #[test]
        fn arbitrary_bytes_never_panic(body in vec(any::<u8>(), 0..200), tail in any::<u32>(), count in any::<u16>()) {
            let _ = decode(&body);
            let mut zl = ((body.len() + 11) as u32).to_le_bytes().to_vec();
            zl.extend_from_slice(&tail.to_le_bytes());
            zl.extend_from_slice(&count.to_le_bytes());
            zl.extend_from_slice(&body);
            zl.push(END);
            let _ = decode(&zl);
        }
    }
}
