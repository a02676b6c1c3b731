//! Deterministic randomness for tests (splitmix64): no dependency, reproducible seeds.

use p3_field::PrimeCharacteristicRing;

use crate::field::{EF, F, P};

#[derive(Debug)]
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    pub(crate) fn base(&mut self) -> F {
        F::from_u64(self.next_u64() % P)
    }

    pub(crate) fn ext(&mut self) -> EF {
        EF::from(self.base()) + EF::from(self.base()) * ext_generator()
    }

    /// Uniform in [-bound, bound].
    pub(crate) fn small(&mut self, bound: i64) -> i64 {
        (self.next_u64() % (2 * bound as u64 + 1)) as i64 - bound
    }
}

fn ext_generator() -> EF {
    EF::from([F::ZERO, F::ONE, F::ZERO])
}
