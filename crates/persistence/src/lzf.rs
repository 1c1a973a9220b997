//! LZF, the byte-oriented LZ77 variant Redis uses to compress strings in RDB files.
//!
//! The stream is a sequence of instructions, each starting with a control byte:
//!
//! * `000LLLLL` — a literal run: the next `L + 1` bytes (1 to 32) are copied as is.
//! * `LLLOOOOO oooooooo` with `LLL` in 1..=6 — a back reference: copy `LLL + 2` bytes
//!   starting `OOOOOoooooooo + 1` bytes back in the output.
//! * `111OOOOO llllllll oooooooo` — the same with length `7 + llllllll + 2`.
//!
//! So a match is 3 to 264 bytes long and reaches at most 8192 bytes back; copies may
//! overlap their own output (a run of one byte is a back reference of distance 1).
//! Any stream of these instructions decodes with liblzf, which Redis links, so the
//! compressor below only has to emit valid instructions, not liblzf's exact choices.

use std::fmt;

/// Longest literal run one control byte can announce.
const MAX_LITERAL: usize = 32;
/// Shortest match worth a back reference (2 or 3 bytes of instruction).
const MIN_MATCH: usize = 3;
/// Longest match one back reference can copy: 7 + 255 + 2.
const MAX_MATCH: usize = 264;
/// Farthest distance a back reference can reach.
const MAX_DISTANCE: usize = 8192;

/// The most output one input byte can stand for: a 3-byte back reference copies at
/// most 264 bytes. A claimed decompressed size above `88 × compressed size` is a lie.
pub const MAX_EXPANSION: usize = MAX_MATCH / 3;

/// Why a compressed stream could not be decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LzfError {
    /// An instruction runs past the end of the compressed data.
    Truncated,
    /// A back reference points before the start of the output.
    BadReference,
    /// The output would be longer than announced.
    TooLong,
    /// The data ended with less output than announced.
    TooShort,
}

impl fmt::Display for LzfError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LzfError::Truncated => "an instruction runs past the end of the data",
            LzfError::BadReference => "a back reference points before the start",
            LzfError::TooLong => "the data decompresses to more than its stated length",
            LzfError::TooShort => "the data decompresses to less than its stated length",
        })
    }
}

impl std::error::Error for LzfError {}

/// Compresses `input`, or returns `None` as soon as the output would exceed `max_out`
/// bytes (so incompressible data costs little) or when the input is too large for the
/// position table (4 GiB).
pub fn compress(input: &[u8], max_out: usize) -> Option<Vec<u8>> {
    let n = input.len();
    if u32::try_from(n).is_err() {
        return None;
    }
    let mut out = Vec::with_capacity(max_out.min(n + n / MAX_LITERAL + 1));
    let mut table = HashTable::for_input(n);
    let mut literal_start = 0;
    let mut i = 0;
    while i + MIN_MATCH <= n {
        let candidate = table.swap(input, i);
        let len = candidate.map_or(0, |at| match_len(input, at, i));
        if len < MIN_MATCH {
            i += 1;
            // The pending literals alone already overflow: stop early.
            if out.len() + (i - literal_start) > max_out {
                return None;
            }
            continue;
        }
        let distance = i - candidate.unwrap_or(i);
        emit_literals(&mut out, &input[literal_start..i]);
        emit_match(&mut out, len, distance);
        if out.len() > max_out {
            return None;
        }
        // Remember the positions inside the match too, so later data can refer to them.
        for p in i + 1..(i + len).min(n + 1 - MIN_MATCH) {
            table.swap(input, p);
        }
        i += len;
        literal_start = i;
    }
    emit_literals(&mut out, &input[literal_start..]);
    (out.len() <= max_out).then_some(out)
}

/// Decompresses `input`, which must expand to exactly `out_len` bytes. The output
/// never grows past `out_len`, whatever the data says, and memory is reserved for
/// what the data really produces rather than for what `out_len` claims.
pub fn decompress(input: &[u8], out_len: usize) -> Result<Vec<u8>, LzfError> {
    if out_len / MAX_EXPANSION > input.len() {
        return Err(LzfError::TooLong);
    }
    let mut out = Vec::with_capacity(out_len.min(input.len().saturating_mul(4)));
    let mut i = 0;
    while let Some(&ctrl) = input.get(i) {
        i += 1;
        let ctrl = usize::from(ctrl);
        if ctrl < MAX_LITERAL {
            let run = input.get(i..i + ctrl + 1).ok_or(LzfError::Truncated)?;
            if out.len() + run.len() > out_len {
                return Err(LzfError::TooLong);
            }
            out.extend_from_slice(run);
            i += run.len();
            continue;
        }
        let mut len = ctrl >> 5;
        if len == 7 {
            len += usize::from(*input.get(i).ok_or(LzfError::Truncated)?);
            i += 1;
        }
        let low = usize::from(*input.get(i).ok_or(LzfError::Truncated)?);
        i += 1;
        let distance = ((ctrl & 0x1f) << 8 | low) + 1;
        copy_back(&mut out, distance, len + 2, out_len)?;
    }
    if out.len() != out_len {
        return Err(LzfError::TooShort);
    }
    Ok(out)
}

/// Appends `len` bytes copied from `distance` bytes back; the source may overlap
/// what is being appended.
fn copy_back(out: &mut Vec<u8>, distance: usize, len: usize, limit: usize) -> Result<(), LzfError> {
    let start = out
        .len()
        .checked_sub(distance)
        .ok_or(LzfError::BadReference)?;
    if out.len() + len > limit {
        return Err(LzfError::TooLong);
    }
    if distance >= len {
        out.extend_from_within(start..start + len);
    } else {
        for k in start..start + len {
            let b = out[k];
            out.push(b);
        }
    }
    Ok(())
}

/// Length of the common run at `earlier` and `at` (`earlier < at`), capped at what one
/// back reference can copy; 0 if `earlier` is out of reach.
fn match_len(input: &[u8], earlier: usize, at: usize) -> usize {
    if at - earlier > MAX_DISTANCE {
        return 0;
    }
    let max = (input.len() - at).min(MAX_MATCH);
    input[earlier..]
        .iter()
        .zip(&input[at..at + max])
        .take_while(|(a, b)| a == b)
        .count()
}

fn emit_literals(out: &mut Vec<u8>, literals: &[u8]) {
    for run in literals.chunks(MAX_LITERAL) {
        out.push((run.len() - 1) as u8);
        out.extend_from_slice(run);
    }
}

/// One back reference; `len` is in `MIN_MATCH..=MAX_MATCH`, `distance` in
/// `1..=MAX_DISTANCE`.
fn emit_match(out: &mut Vec<u8>, len: usize, distance: usize) {
    let stored_len = len - 2;
    let offset = distance - 1;
    let high = (offset >> 8) as u8;
    if stored_len < 7 {
        out.push((stored_len as u8) << 5 | high);
    } else {
        out.push(7 << 5 | high);
        out.push((stored_len - 7) as u8);
    }
    out.push(offset as u8);
}

/// The most recent position of each hashed 3-byte sequence. Sized to the input (at
/// most 16 Ki slots) so compressing a short string does not clear a large table.
struct HashTable {
    /// Position + 1; 0 marks an empty slot.
    slots: Vec<u32>,
    shift: u32,
}

impl HashTable {
    fn for_input(n: usize) -> Self {
        let bits = n.next_power_of_two().trailing_zeros().clamp(8, 14);
        HashTable {
            slots: vec![0; 1 << bits],
            shift: 32 - bits,
        }
    }

    /// Records position `at` for the 3 bytes there; returns the previous position
    /// recorded under the same hash, if any (it may hold different bytes).
    fn swap(&mut self, input: &[u8], at: usize) -> Option<usize> {
        let v =
            u32::from(input[at]) << 16 | u32::from(input[at + 1]) << 8 | u32::from(input[at + 2]);
        let slot = (v.wrapping_mul(0x9e37_79b1) >> self.shift) as usize;
        // `at` fits in u32: `compress` refuses larger inputs.
        let previous = std::mem::replace(&mut self.slots[slot], at as u32 + 1);
        previous.checked_sub(1).map(|p| p as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn round_trip(data: &[u8]) {
        let c = compress(data, usize::MAX).unwrap_or_else(|| panic!("no limit, no refusal"));
        assert_eq!(decompress(&c, data.len()), Ok(data.to_vec()));
    }

    #[test]
    fn compresses_repetition_and_round_trips_edge_cases() {
        let runs = vec![b'a'; 10_000];
        let c = compress(&runs, usize::MAX).unwrap_or_default();
        assert!(c.len() < 200, "10k equal bytes took {} bytes", c.len());
        round_trip(&runs);
        round_trip(b"");
        round_trip(b"ab");
        round_trip(b"abcabcabcabcabcabcabc");
        let far: Vec<u8> = (0..40_000u32)
            .map(|i| (i % 9000) as u8 ^ (i / 9000) as u8)
            .collect();
        round_trip(&far);
    }

    #[test]
    fn gives_up_beyond_the_limit() {
        let mut x = 0x2545_f491_u32;
        let noise: Vec<u8> = (0..1000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                x as u8
            })
            .collect();
        assert_eq!(compress(&noise, 900), None);
    }

    #[test]
    fn decodes_hand_made_streams() {
        // "abc" as literals, then copy 6 bytes from 3 back: "abcabcabc".
        assert_eq!(
            decompress(&[2, b'a', b'b', b'c', 4 << 5, 2], 9),
            Ok(b"abcabcabc".to_vec())
        );
        // One literal then a long run of distance 1, with the extra length byte.
        assert_eq!(
            decompress(&[0, b'z', 7 << 5, 10, 0], 20),
            Ok(vec![b'z'; 20])
        );
    }

    #[test]
    fn rejects_bad_streams() {
        assert_eq!(decompress(&[5, b'a'], 6), Err(LzfError::Truncated));
        assert_eq!(decompress(&[1 << 5, 0], 3), Err(LzfError::BadReference));
        assert_eq!(decompress(&[0, b'a', 1 << 5, 0], 3), Err(LzfError::TooLong));
        assert_eq!(decompress(&[0, b'a'], 2), Err(LzfError::TooShort));
        assert_eq!(
            decompress(&[0, b'a', 7 << 5], 300),
            Err(LzfError::Truncated)
        );
        assert_eq!(decompress(&[0, b'a'], 1 << 40), Err(LzfError::TooLong));
    }

    proptest! {
        #[test]
        fn round_trips(data in proptest::collection::vec(0u8..4, 0..3000)) {
            round_trip(&data);
        }

        #[test]
        fn round_trips_arbitrary_bytes(data in proptest::collection::vec(any::<u8>(), 0..600)) {
            round_trip(&data);
        }

        #[test]
        fn never_panics_on_garbage(data in proptest::collection::vec(any::<u8>(), 0..200), len in 0usize..2000) {
            if let Ok(out) = decompress(&data, len) {
                prop_assert_eq!(out.len(), len);
            }
        }
    }
}
