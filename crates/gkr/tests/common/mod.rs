//! Deterministic test randomness shared by the integration tests (each uses part of it).
#![allow(dead_code)]

use p3_field::PrimeCharacteristicRing;
use vouch_gkr::field::{EF, F, P};

/// splitmix64.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in [0, n).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// Uniform in [-bound, bound].
    pub fn small(&mut self, bound: i64) -> i64 {
        (self.next() % (2 * bound as u64 + 1)) as i64 - bound
    }

    /// `len` values uniform in [-bound, bound].
    pub fn matrix(&mut self, len: usize, bound: i64) -> Vec<i64> {
        (0..len).map(|_| self.small(bound)).collect()
    }

    /// A uniform extension-field element.
    pub fn ext(&mut self) -> EF {
        EF::from([
            F::from_u64(self.next() % P),
            F::from_u64(self.next() % P),
            F::from_u64(self.next() % P),
        ])
    }

    /// A uniform point with `vars` coordinates.
    pub fn point(&mut self, vars: usize) -> Vec<EF> {
        (0..vars).map(|_| self.ext()).collect()
    }
}
