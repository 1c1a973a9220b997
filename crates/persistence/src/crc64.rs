//! The CRC-64 that Redis appends to RDB files (and uses for DUMP payloads): the
//! "Jones" polynomial 0xad93d23594c935a9, bits reflected on input and output, initial
//! value 0 and no final xor. Its check value, the CRC of `"123456789"`, is
//! 0xe9c6d914c4b8d9ca.
//!
//! A byte-at-a-time table is plenty here: the checksum runs over data that is being
//! written to or read from disk anyway.

/// The polynomial as usually written (most significant bit first).
pub const POLYNOMIAL: u64 = 0xad93_d235_94c9_35a9;

/// The reflected algorithm shifts right, so it works with the bit-reversed polynomial.
const REFLECTED: u64 = POLYNOMIAL.reverse_bits();

const TABLE: [u64; 256] = build_table();

/// `TABLE[b]` is the CRC register after feeding byte `b` into a zero register.
const fn build_table() -> [u64; 256] {
    let mut table = [0u64; 256];
    let mut byte = 0;
    while byte < 256 {
        let mut crc = byte as u64;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ REFLECTED
            } else {
                crc >> 1
            };
            bit += 1;
        }
        table[byte] = crc;
        byte += 1;
    }
    table
}

/// A running CRC-64, fed piece by piece.
#[derive(Clone, Copy, Debug, Default)]
pub struct Crc64 {
    state: u64,
}

impl Crc64 {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn update(&mut self, data: &[u8]) {
        let mut crc = self.state;
        for &b in data {
            crc = TABLE[((crc ^ u64::from(b)) & 0xff) as usize] ^ (crc >> 8);
        }
        self.state = crc;
    }

    /// The CRC of everything fed so far (feeding may go on afterwards).
    pub fn value(&self) -> u64 {
        self.state
    }
}

/// The CRC-64 of `data` in one call.
pub fn crc64(data: &[u8]) -> u64 {
    let mut c = Crc64::new();
    c.update(data);
    c.value()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_value() {
        assert_eq!(crc64(b"123456789"), 0xe9c6_d914_c4b8_d9ca);
        assert_eq!(crc64(b""), 0);
    }

    #[test]
    fn pieces_equal_the_whole() {
        let data: Vec<u8> = (0..1000u32).map(|i| (i * 7 + 3) as u8).collect();
        let mut c = Crc64::new();
        for chunk in data.chunks(13) {
            c.update(chunk);
        }
        assert_eq!(c.value(), crc64(&data));
    }
}
