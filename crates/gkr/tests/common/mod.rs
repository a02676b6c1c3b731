//! Shared by the integration tests (each uses part of it): deterministic test randomness and an
//! image-edit shaped program.
#![allow(dead_code, clippy::unwrap_used)]

use p3_field::PrimeCharacteristicRing;
use vouch_gkr::field::{EF, F, P};
use vouch_ir::{Op, Program, ProgramBuilder, Range, Tensor};

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

/// An image-edit shaped chain: crop (slice) → two taps along the width (gather, fixed-weight
/// mul, add) → requant. Returns the program and a 12x16 RGB input.
pub fn filter_chain() -> (Program, Vec<Tensor>) {
    let mut b = ProgramBuilder::new();
    let x = b
        .input("x", vec![12, 16, 3], Range::new(0, 255), None)
        .unwrap();
    let crop = Op::Slice {
        starts: vec![1, 2, 0],
        lens: vec![10, 12, 3],
        steps: vec![1, 1, 1],
    };
    let c = b.node("crop", crop, &[x], None).unwrap();
    let mut taps = Vec::new();
    for (t, w) in [(0usize, 3i64), (1, 5)] {
        let gather = Op::Gather {
            axis: 1,
            indices_shape: vec![6],
            indices: (0..6).map(|j| 2 * j + t).collect(),
        };
        let g = b.node(&format!("gather{t}"), gather, &[c], None).unwrap();
        let wt = b
            .weight(&format!("w{t}"), vec![1, 6, 1], vec![w; 6], None)
            .unwrap();
        let m = Op::Binary(vouch_ir::BinaryKind::Mul);
        taps.push(b.node(&format!("mul{t}"), m, &[g, wt], None).unwrap());
    }
    let add = Op::Binary(vouch_ir::BinaryKind::Add);
    let s = b.node("add", add, &taps, None).unwrap();
    let q = Op::Requant {
        mults: vec![1],
        axis: None,
        shift: 3,
        lo: 0,
        hi: 255,
    };
    let y = b.node("requant", q, &[s], None).unwrap();
    b.output(y);
    let xs: Vec<i64> = (0..12 * 16 * 3).map(|i| (i * 97 % 256) as i64).collect();
    (
        b.finish().unwrap(),
        vec![Tensor::new(vec![12, 16, 3], xs).unwrap()],
    )
}
