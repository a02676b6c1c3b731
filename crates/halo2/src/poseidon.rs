//! Poseidon over BN254 (width 3, rate 2, x^5, 8 full and 57 partial rounds; constants from the
//! reference Grain LFSR generator) and the hiding commitment built on it.
//!
//! A commitment to a list of integer tensors packs each tensor's values as words of 8, 16, 32 or
//! 64 bits ([`Packing::for_commitment`]), `floor(252 / bits)` to a field element, then absorbs
//! `[blinding, packed...]` two at a time into a sponge whose capacity starts at a role tag.
//! The first rate element after the last permutation is the commitment. The blinding is a
//! uniformly random field element, so the commitment reveals nothing about low-entropy data.

use std::sync::OnceLock;

use halo2_axiom::halo2curves::bn256::Fr;
use poseidon_primitives::poseidon::primitives::Spec;

pub const T: usize = 3;
pub const RATE: usize = 2;
pub const FULL_ROUNDS: usize = 8;
pub const PARTIAL_ROUNDS: usize = 57;
pub const ROUNDS: usize = FULL_ROUNDS + PARTIAL_ROUNDS;

/// The parameter set, for the reference constant generator.
#[derive(Debug)]
pub struct VouchPoseidon;

impl Spec<Fr, T, RATE> for VouchPoseidon {
    fn full_rounds() -> usize {
        FULL_ROUNDS
    }
    fn partial_rounds() -> usize {
        PARTIAL_ROUNDS
    }
    fn sbox(v: Fr) -> Fr {
        v.square().square() * v
    }
    fn secure_mds() -> usize {
        0
    }
}

/// Round constants and MDS matrix.
#[derive(Debug)]
pub struct Constants {
    pub rc: Vec<[Fr; T]>,
    pub mds: [[Fr; T]; T],
}

pub fn constants() -> &'static Constants {
    static C: OnceLock<Constants> = OnceLock::new();
    C.get_or_init(|| {
        let (rc, mds, _) = VouchPoseidon::constants();
        Constants { rc, mds }
    })
}

pub fn is_full(round: usize) -> bool {
    !(FULL_ROUNDS / 2..FULL_ROUNDS / 2 + PARTIAL_ROUNDS).contains(&round)
}

/// One round: add constants, S-box (all words in full rounds, the first in partial), MDS.
pub fn round(state: &[Fr; T], r: usize) -> [Fr; T] {
    let c = constants();
    let mut s = [Fr::zero(); T];
    for i in 0..T {
        s[i] = state[i] + c.rc[r][i];
        if i == 0 || is_full(r) {
            s[i] = VouchPoseidon::sbox(s[i]);
        }
    }
    let mut out = [Fr::zero(); T];
    for (j, o) in out.iter_mut().enumerate() {
        for (i, v) in s.iter().enumerate() {
            *o += c.mds[j][i] * v;
        }
    }
    out
}

pub fn permute(state: &[Fr; T]) -> [Fr; T] {
    (0..ROUNDS).fold(*state, |s, r| round(&s, r))
}

/// Capacity tag of a commitment: "vouch" commitment format 1 and the role byte.
pub fn domain_tag(role: u8) -> u64 {
    0x766f_7563_6801_0000 | role as u64
}

/// One tensor's values with their declared range, for packing.
#[derive(Clone, Copy, Debug)]
pub struct Packing {
    pub lo: i64,
    pub bits: u32,
    pub per_element: usize,
}

impl Packing {
    pub fn new(lo: i64, hi: i64) -> Self {
        let bits = crate::field::bits_for((hi as i128 - lo as i128).max(0) as u128).max(1);
        Packing {
            lo,
            bits,
            per_element: (252 / bits) as usize,
        }
    }

    /// The packing of commitments: values in `[lo, hi]` as the narrowest 8-, 16-, 32- or 64-bit
    /// word that holds the range (unsigned when `lo >= 0`, else offset by half the word). A
    /// commitment then depends on the values and their word size, not on how tightly range
    /// inference bounded them, so one proof's output commitment (a u8 image whose inferred
    /// range may be narrower) is the next proof's input commitment (declared `[0, 255]`).
    /// Injective because every value lies in `[lo, hi]`, inside the word.
    pub fn for_commitment(lo: i64, hi: i64) -> Self {
        let fits = |bits: u32| {
            if lo >= 0 {
                bits == 64 || (hi as i128) < (1i128 << bits)
            } else {
                bits == 64
                    || (lo as i128 >= -(1i128 << (bits - 1))
                        && (hi as i128) < (1i128 << (bits - 1)))
            }
        };
        let bits = [8u32, 16, 32, 64]
            .into_iter()
            .find(|&b| fits(b))
            .unwrap_or(64);
        let base = if lo >= 0 {
            0
        } else if bits == 64 {
            i64::MIN
        } else {
            -(1i64 << (bits - 1))
        };
        Packing {
            lo: base,
            bits,
            per_element: (252 / bits) as usize,
        }
    }
}

/// Packed field elements of one tensor.
pub fn pack(values: &[i64], p: Packing) -> Vec<Fr> {
    values
        .chunks(p.per_element)
        .map(|chunk| {
            // Horner from the last element: sum_i (v_i - lo) 2^(bits i).
            let base = crate::field::pow2(p.bits);
            chunk.iter().rev().fold(Fr::zero(), |acc, &v| {
                acc * base + crate::field::fr(v as i128 - p.lo as i128)
            })
        })
        .collect()
}

/// The sponge over `[blinding, packed...]` with the role's capacity tag.
pub fn sponge(role: u8, blinding: Fr, packed: &[Fr]) -> Fr {
    let mut state = [Fr::zero(), Fr::zero(), Fr::from(domain_tag(role))];
    let msg: Vec<Fr> = std::iter::once(blinding)
        .chain(packed.iter().copied())
        .collect();
    for pair in msg.chunks(RATE) {
        state[0] += pair[0];
        state[1] += pair.get(1).copied().unwrap_or(Fr::zero());
        state = permute(&state);
    }
    state[0]
}

/// The commitment to tensors `(values, range lo, range hi)` under `role` with `blinding`.
pub fn commit(role: u8, blinding: Fr, tensors: &[(&[i64], i64, i64)]) -> Fr {
    let packed: Vec<Fr> = tensors
        .iter()
        .flat_map(|&(v, lo, hi)| pack(v, Packing::for_commitment(lo, hi)))
        .collect();
    sponge(role, blinding, &packed)
}
