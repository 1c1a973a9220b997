//! Redis's deterministic `math.random`: the 48-bit linear congruential generator of
//! `lrand48`, with its initial state fixed, so that a script's random numbers depend
//! only on the calls before it in the same VM (Redis does not reseed per script).

/// The generator's state: X(n+1) = (a X(n) + c) mod 2^48.
#[derive(Clone, Debug)]
pub struct Rand48 {
    x: u64,
}

const A: u64 = 0x5_DEEC_E66D;
const C: u64 = 0xB;
const MASK: u64 = (1 << 48) - 1;
/// lrand48's initial state when never seeded.
const INITIAL: u64 = 0x1234_ABCD_330E;
/// The largest value lrand48 returns, as Redis divides by it.
pub const MAX: i64 = i32::MAX as i64;

impl Default for Rand48 {
    fn default() -> Self {
        Rand48 { x: INITIAL }
    }
}

impl Rand48 {
    /// `srand48(seed)`: the high 32 bits of the state are the seed's low 32 bits.
    pub fn seed(&mut self, seed: i32) {
        self.x = ((seed as u32 as u64) << 16) | 0x330E;
    }

    /// `lrand48()`: a non-negative 31-bit number.
    pub fn next_i64(&mut self) -> i64 {
        self.x = (A.wrapping_mul(self.x).wrapping_add(C)) & MASK;
        (self.x >> 17) as i64
    }

    /// `math.random`'s number in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_i64() % MAX) as f64 / MAX as f64
    }
}
