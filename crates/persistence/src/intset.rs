//! Intsets, the sorted array of integers Redis keeps small all-integer sets in (RDB
//! type 11): an encoder and a validating decoder.
//!
//! Layout (little-endian): `<width: u32> <count: u32> <count integers of width
//! bytes>`, where the width is 2, 4 or 8 and the integers are strictly ascending.
//! Redis picks the smallest width that holds every member.

use crate::listpack::DecodeError;

const HEADER_SIZE: usize = 8;

/// Decodes and validates an intset: the width, the size, a non-empty set (Redis never
/// stores an empty one) in strictly ascending order.
pub fn decode(is: &[u8]) -> Result<Vec<i64>, DecodeError> {
    if is.len() < HEADER_SIZE {
        return Err(DecodeError::new(
            0,
            format!("intset of {} bytes is shorter than its header", is.len()),
        ));
    }
    let width = u32::from_le_bytes([is[0], is[1], is[2], is[3]]);
    if !matches!(width, 2 | 4 | 8) {
        return Err(DecodeError::new(
            0,
            format!("intset of {width}-byte integers (only 2, 4 and 8 exist)"),
        ));
    }
    let width = width as usize;
    let count = u32::from_le_bytes([is[4], is[5], is[6], is[7]]) as usize;
    let body = &is[HEADER_SIZE..];
    if count.checked_mul(width) != Some(body.len()) {
        return Err(DecodeError::new(
            4,
            format!(
                "intset of {count} {width}-byte integers in {} bytes",
                body.len()
            ),
        ));
    }
    if count == 0 {
        return Err(DecodeError::new(4, "empty intset"));
    }
    let mut out: Vec<i64> = Vec::with_capacity(count);
    for (i, chunk) in body.chunks_exact(width).enumerate() {
        let n = match *chunk {
            [a, b] => i64::from(i16::from_le_bytes([a, b])),
            [a, b, c, d] => i64::from(i32::from_le_bytes([a, b, c, d])),
            [a, b, c, d, e, f, g, h] => i64::from_le_bytes([a, b, c, d, e, f, g, h]),
            _ => unreachable!("chunks of the validated width"),
        };
        if out.last().is_some_and(|&prev| prev >= n) {
            return Err(DecodeError::new(
                HEADER_SIZE + i * width,
                format!("intset is not in strictly ascending order at {n}"),
            ));
        }
        out.push(n);
    }
    Ok(out)
}

/// Encodes integers as an intset: sorts them, drops duplicates and uses the smallest
/// width that holds them all, as Redis does.
pub fn encode(members: &[i64]) -> Vec<u8> {
    let mut sorted = members.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let width: usize = if sorted.iter().all(|&n| i16::try_from(n).is_ok()) {
        2
    } else if sorted.iter().all(|&n| i32::try_from(n).is_ok()) {
        4
    } else {
        8
    };
    let mut out = Vec::with_capacity(HEADER_SIZE + width * sorted.len());
    out.extend_from_slice(&(width as u32).to_le_bytes());
    out.extend_from_slice(&(sorted.len() as u32).to_le_bytes());
    for n in sorted {
        out.extend_from_slice(&n.to_le_bytes()[..width]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::collection::vec;
    use proptest::prelude::*;

    #[test]
    fn layout_and_widths() {
        // SADD s 3 1 2 in Redis 7.0: DUMP gives this intset.
        assert_eq!(
            encode(&[3, 1, 2]),
            [2, 0, 0, 0, 3, 0, 0, 0, 1, 0, 2, 0, 3, 0]
        );
        assert_eq!(encode(&[70000, -1])[0], 4);
        assert_eq!(encode(&[i64::MIN])[0], 8);
        let is = encode(&[5, -40000, i64::MAX, 5]);
        assert_eq!(decode(&is), Ok(vec![-40000, 5, i64::MAX]));
    }

    #[test]
    fn corrupt_intsets_are_refused() {
        let good = encode(&[1, 2, 3]);
        let with = |i: usize, b: u8| {
            let mut v = good.clone();
            v[i] = b;
            v
        };
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (vec![2, 0, 0], "shorter than its header"),
            (with(0, 3), "3-byte integers"),
            (with(4, 4), "intset of 4 2-byte integers in 6 bytes"),
            (good[..good.len() - 1].to_vec(), "in 5 bytes"),
            (vec![2, 0, 0, 0, 0, 0, 0, 0], "empty intset"),
            (with(10, 1), "not in strictly ascending order at 1"),
            (with(8, 2), "not in strictly ascending order at 2"),
            (
                [vec![8, 0, 0, 0, 0xff, 0xff, 0xff, 0xff], vec![0; 8]].concat(),
                "in 8 bytes",
            ),
        ];
        for (bytes, want) in cases {
            match decode(&bytes) {
                Ok(v) => panic!("{bytes:?} decoded to {v:?}"),
                Err(e) => assert!(e.to_string().contains(want), "{bytes:?}: {e}, want {want}"),
            }
        }
    }

    proptest! {
        #[test]
        fn round_trip(members in vec(prop_oneof![any::<i64>(), -40000i64..40000, any::<i16>().prop_map(i64::from)], 1..100)) {
            let mut want = members.clone();
            want.sort_unstable();
            want.dedup();
            prop_assert_eq!(decode(&encode(&members)), Ok(want));
        }

        #[test]
        fn arbitrary_bytes_never_panic(data in vec(any::<u8>(), 0..100), width in 0u8..10, count in 0u8..20) {
            let _ = decode(&data);
            let mut is = vec![width, 0, 0, 0, count, 0, 0, 0];
            is.extend_from_slice(&data);
            let _ = decode(&is);
        }
    }
}
