//! Fields: Goldilocks for tensor values, its degree-3 extension for challenges.
//!
//! Tensor values live in the base field `F` = Goldilocks, p = 2^64 - 2^32 + 1. Every random
//! challenge is drawn from `EF` = `F[X]/(X^3 - X - 1)` (Plonky3's
//! `CubicTrinomialExtensionField`), of size |EF| = p^3 ≈ 2^192. p alone (2^64) is far too small;
//! p^2 (2^128) gives ~127 bits per round interactively but only 127 − log2 Q against a prover
//! grinding Q Fiat–Shamir queries, and leaves WHIR's folding terms short of 100 bits for large
//! tensors. p^3 leaves ≥ 100 bits after 2^80 queries.
//!
//! **Soundness per sumcheck round.** A cheating prover's round polynomial differs from the true
//! one as a polynomial of degree ≤ d; the two agree at a uniformly random challenge with
//! probability ≤ d / |EF| = d / p^3 (Schwartz–Zippel). A degree-2 round (products of two
//! multilinears, e.g. matmul) therefore errs with probability ≤ 2 / p^3 ≈ 2^-191. An n-round
//! sumcheck errs with probability ≤ n·d / p^3; see [`soundness_bits`].
//!
//! **Embedding of IR integers.** An IR value v (an `i64`) maps to v mod p: v ≥ 0 as v, v < 0 as
//! p - |v| ([`embed`]). The IR guarantees |v| < 2^62 for every tensor, accumulators included,
//! so any two values (and any sum the IR computes exactly) differ by less than p: equality in F
//! implies equality over the integers.

use p3_field::extension::CubicTrinomialExtensionField;
use p3_field::{PrimeCharacteristicRing, PrimeField64};
use p3_goldilocks::Goldilocks;

/// The base field: Goldilocks, p = 2^64 - 2^32 + 1.
pub type F = Goldilocks;

/// The challenge field: the degree-3 extension F[X]/(X^3 − X − 1) of Goldilocks, |EF| = p^3 ≈ 2^192.
pub type EF = CubicTrinomialExtensionField<Goldilocks>;

/// Degree of [`EF`] over [`F`].
pub const EXT_DEGREE: usize = 3;

/// The Goldilocks modulus.
pub const P: u64 = F::ORDER_U64;

/// Bound on IR magnitudes: every IR value satisfies |v| < 2^62 (see the IR's range rules).
pub const IR_VALUE_BOUND: u64 = 1 << 62;

/// log2 |EF| = 3 log2 p.
pub fn ext_field_bits() -> f64 {
    EXT_DEGREE as f64 * (P as f64).log2()
}

/// Bits of soundness of `rounds` sumcheck rounds of degree `degree` with challenges in [`EF`]:
/// -log2(rounds · degree / |EF|) (round-by-round error, summed). Returns `ext_field_bits()` for
/// zero rounds or degree.
pub fn soundness_bits(rounds: usize, degree: usize) -> f64 {
    let events = (rounds * degree).max(1) as f64;
    ext_field_bits() - events.log2()
}

/// Fills `dst` with uniform base-field elements (rejection sampling keeps every entry exactly
/// uniform): the random halves that hide committed tensors.
pub(crate) fn fill_uniform(rng: &mut impl rand::Rng, dst: &mut [F]) {
    for x in dst {
        *x = loop {
            let v = rng.next_u64();
            if v < P {
                break F::from_u64(v);
            }
        };
    }
}

/// Embeds an IR integer into the field: v ↦ v mod p (negative values as p - |v|).
#[inline]
pub fn embed(v: i64) -> F {
    if v >= 0 {
        F::from_u64(v as u64)
    } else {
        -F::from_u64(v.unsigned_abs())
    }
}

/// Embeds a slice of IR integers, see [`embed`].
pub fn embed_slice(v: &[i64]) -> Vec<F> {
    v.iter().map(|&x| embed(x)).collect()
}

/// Interprets a field element as a signed integer in (-p/2, p/2): the inverse of [`embed`] on
/// values of magnitude < p/2.
pub fn to_signed(x: F) -> i64 {
    let u = x.as_canonical_u64();
    if u > P / 2 {
        -((P - u) as i64)
    } else {
        u as i64
    }
}

/// The canonical `u64` of a base-field element (in [0, p)).
#[inline]
pub fn canonical(x: F) -> u64 {
    x.as_canonical_u64()
}

/// The base-field element with canonical value `v`, or `None` when v ≥ p (non-canonical).
#[inline]
pub fn from_canonical(v: u64) -> Option<F> {
    (v < P).then(|| F::from_u64(v))
}

#[cfg(test)]
mod tests {
    use super::*;
    use p3_field::Field;

    #[test]
    fn embedding_round_trips_and_respects_arithmetic() {
        let vals = [
            0i64,
            1,
            -1,
            42,
            -42,
            (1 << 62) - 1,
            -(1 << 62) + 1,
            i32::MIN as i64,
        ];
        for &a in &vals {
            assert_eq!(to_signed(embed(a)), a);
            let expected = if a >= 0 {
                a as u64
            } else {
                P - a.unsigned_abs()
            };
            assert_eq!(canonical(embed(a)), expected);
            for &b in &vals {
                if let Some(s) = a
                    .checked_add(b)
                    .filter(|s| s.unsigned_abs() < IR_VALUE_BOUND)
                {
                    assert_eq!(embed(a) + embed(b), embed(s));
                }
                if let Some(m) = a
                    .checked_mul(b)
                    .filter(|m| m.unsigned_abs() < IR_VALUE_BOUND)
                {
                    assert_eq!(embed(a) * embed(b), embed(m));
                }
            }
        }
        assert_eq!(embed(-1), F::NEG_ONE);
    }

    #[test]
    fn canonical_parsing_rejects_values_at_or_above_p() {
        assert_eq!(from_canonical(P), None);
        assert_eq!(from_canonical(u64::MAX), None);
        assert_eq!(from_canonical(P - 1), Some(F::NEG_ONE));
    }

    #[test]
    fn extension_is_a_field_of_about_192_bits() {
        let bits = ext_field_bits();
        assert!(bits > 191.99 && bits <= 192.0, "{bits}");
        // degree-2 rounds over 64 rounds still leave > 180 bits
        assert!(soundness_bits(64, 2) > 180.0);
        let x = EF::from([F::from_u64(3), F::from_u64(5), F::from_u64(11)]);
        assert_eq!(x * x.inverse(), EF::ONE);
    }
}
