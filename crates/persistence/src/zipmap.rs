//! Zipmaps, the compact field/value map of Redis before 2.6 (RDB type 9): decoded
//! with the checks of Redis's integrity validation; the encoder only builds old
//! files for tests and tools.
//!
//! Layout: `<count: u8>` (254 or more: unknown), then pairs of
//! `<field length> <field> <value length> <free: u8> <value> <free bytes>`, then
//! `0xFF`. A length below 254 is one byte; 254 is followed by a u32 (little-endian).

use crate::listpack::DecodeError;

const END: u8 = 0xFF;
const BIG_LEN: u8 = 254;

/// A field and its value.
pub type Pair<'a> = (&'a [u8], &'a [u8]);

/// Decodes and validates a whole zipmap into (field, value) pairs, in order.
/// Duplicate fields are left to the caller.
pub fn decode(zm: &[u8]) -> Result<Vec<Pair<'_>>, DecodeError> {
    if zm.len() < 2 {
        return Err(DecodeError::new(
            0,
            format!("zipmap of {} bytes is too short", zm.len()),
        ));
    }
    let end = zm.len() - 1;
    if zm[end] != END {
        return Err(DecodeError::new(end, "zipmap does not end with 0xFF"));
    }
    let declared = zm[0];
    let past = |at: usize| DecodeError::new(at, "zipmap entry runs past the end");
    // `n` bytes at `from`, all before the end marker.
    let take = |from: usize, n: usize| -> Result<&[u8], DecodeError> {
        from.checked_add(n)
            .filter(|&e| e <= end)
            .and_then(|e| zm.get(from..e))
            .ok_or_else(|| past(from))
    };
    let length = |at: usize| -> Result<(usize, usize), DecodeError> {
        match take(at, 1)?[0] {
            BIG_LEN => {
                let b = take(at + 1, 4)?;
                Ok((u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize, 5))
            }
            END => Err(DecodeError::new(at, "zipmap length byte 0xFF")),
            n => Ok((usize::from(n), 1)),
        }
    };
    let mut pairs = Vec::new();
    let mut at = 1;
    while at < end {
        let (flen, s) = length(at)?;
        let field = take(at + s, flen)?;
        at += s + flen;
        let (vlen, s) = length(at)?;
        let free = usize::from(take(at + s, 1)?[0]);
        let value = take(at + s + 1, vlen)?;
        take(at + s + 1 + vlen, free)?;
        at += s + 1 + vlen + free;
        pairs.push((field, value));
    }
    if declared < BIG_LEN && usize::from(declared) != pairs.len() {
        return Err(DecodeError::new(
            0,
            format!(
                "zipmap header says {declared} pairs but it has {}",
                pairs.len()
            ),
        ));
    }
    Ok(pairs)
}

/// A zipmap as Redis 2.4 wrote it, with `free` bytes of slack after each value, to
/// build files in that old format for tests and tools; snapshots never contain
/// zipmaps.
pub fn encode(pairs: &[(&[u8], &[u8])], free: u8) -> Vec<u8> {
    let mut zm = vec![u8::try_from(pairs.len()).unwrap_or(BIG_LEN).min(BIG_LEN)];
    let len = |zm: &mut Vec<u8>, n: usize| {
        if n < usize::from(BIG_LEN) {
            zm.push(n as u8);
        } else {
            zm.push(BIG_LEN);
            zm.extend_from_slice(&(n as u32).to_le_bytes());
        }
    };
    for (f, v) in pairs {
        len(&mut zm, f.len());
        zm.extend_from_slice(f);
        len(&mut zm, v.len());
        zm.push(free);
        zm.extend_from_slice(v);
        zm.extend(std::iter::repeat_n(b'?', usize::from(free)));
    }
    zm.push(END);
    zm
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::collection::vec;
    use proptest::prelude::*;

    #[test]
    fn layout_and_errors() {
        let zm = encode(&[(b"f", b"v"), (b"name", b"x")], 2);
        assert_eq!(
            zm,
            [
                2, 1, b'f', 1, 2, b'v', b'?', b'?', 4, b'n', b'a', b'm', b'e', 1, 2, b'x', b'?',
                b'?', 0xff
            ]
        );
        assert_eq!(
            decode(&zm),
            Ok(vec![(&b"f"[..], &b"v"[..]), (&b"name"[..], &b"x"[..])])
        );
        let long = vec![b'L'; 300];
        let zm = encode(&[(&long, b"")], 0);
        assert_eq!(&zm[1..6], [254, 0x2c, 0x01, 0, 0]);
        assert_eq!(decode(&zm), Ok(vec![(&long[..], &b""[..])]));

        let good = encode(&[(b"f", b"v")], 1);
        let with = |i: usize, b: u8| {
            let mut v = good.clone();
            v[i] = b;
            v
        };
        for (bytes, want) in [
            (vec![0], "too short"),
            (with(good.len() - 1, 0), "does not end with 0xFF"),
            (with(0, 3), "header says 3 pairs but it has 1"),
            (with(1, 9), "runs past the end"),
            (with(4, 9), "runs past the end"),
            (with(3, 0xff), "length byte 0xFF"),
        ] {
            match decode(&bytes) {
                Ok(v) => panic!("{bytes:?} decoded to {v:?}"),
                Err(e) => assert!(e.to_string().contains(want), "{bytes:?}: {e}, want {want}"),
            }
        }
    }

    proptest! {
        #[test]
        fn round_trip(pairs in vec((vec(any::<u8>(), 0..300), vec(any::<u8>(), 0..300)), 0..40), free in 0u8..5) {
            let refs: Vec<(&[u8], &[u8])> = pairs.iter().map(|(f, v)| (f.as_slice(), v.as_slice())).collect();
            let zm = encode(&refs, free);
            prop_assert_eq!(decode(&zm), Ok(refs));
        }

        #[test]
        fn arbitrary_bytes_never_panic(data in vec(any::<u8>(), 0..200)) {
            let _ = decode(&data);
            let mut zm = data.clone();
            zm.push(END);
            let _ = decode(&zm);
        }
    }
}
