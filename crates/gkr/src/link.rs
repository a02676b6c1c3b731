//! Linkable commitments to tensors: the commitment a camera signs, or one proof's output that
//! is the next proof's input.
//!
//! A tensor x of `len` entries is committed as the vector `E = [x ; R]` over `vars` variables
//! (x zero-padded to half of it, R uniformly random), with one HVZK-WHIR commitment
//! ([`crate::pcs`]). Zero-knowledge proofs only ever open E at points whose top coordinate is
//! random (the masked extension `(1 − z)·x(p) + z·R(p)`), so each proof reveals a few
//! evaluations of E hidden by R: a commitment can be opened by many proofs (fewer than about
//! 2^(vars − 1) / 8 of them) before R stops hiding x.
//!
//! Everything secret about a commitment derives from a 32-byte [`LinkSecret`]: R and the
//! WHIR encoding randomness. Whoever holds the tensor and the secret can rebuild the
//! commitment's prover data for any later proof; the secret is never published.

use p3_field::PrimeCharacteristicRing;
use rand::rngs::{StdRng, SysRng};
use rand::{SeedableRng, TryRng};
use sha2::{Digest, Sha256};

use crate::field::{embed, fill_uniform, F};
use crate::pcs::{CommittedTensor, PcsError, TensorCommitment, TensorPcs, MIN_NUM_VARS};

/// Fewest variables of a linked tensor's half (the commitment has one more).
pub const MIN_HALF_VARS: usize = MIN_NUM_VARS - 1;

/// Variables of the commitment to a tensor of `len` entries.
pub fn commitment_vars(len: usize) -> usize {
    crate::mle::num_vars(len).max(MIN_HALF_VARS) + 1
}

/// The secret of a linked commitment (R and the encoding randomness derive from it).
#[derive(Clone, PartialEq, Eq)]
pub struct LinkSecret(pub [u8; 32]);

impl std::fmt::Debug for LinkSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LinkSecret(..)")
    }
}

impl LinkSecret {
    /// A fresh secret from the operating system.
    pub fn random() -> Result<Self, PcsError> {
        let mut s = [0u8; 32];
        SysRng
            .try_fill_bytes(&mut s)
            .map_err(|e| PcsError::Randomness(e.to_string()))?;
        Ok(LinkSecret(s))
    }

    fn derive(&self, label: &[u8]) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(b"vouch/gkr/link/v1/");
        h.update(label);
        h.update(self.0);
        h.finalize().into()
    }
}

/// The committed vector, the commitment and its prover data, rebuilt from tensor and secret.
pub struct Linked {
    pub vars: usize,
    pub vector: Vec<F>,
    pub commitment: TensorCommitment,
    pub data: CommittedTensor,
}

impl std::fmt::Debug for Linked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The vector holds the tensor and its mask: never print it.
        f.debug_struct("Linked")
            .field("vars", &self.vars)
            .field("commitment", &self.commitment)
            .finish_non_exhaustive()
    }
}

/// The vector `[x ; R]` of a tensor under a secret.
fn vector(values: &[i64], vars: usize, secret: &LinkSecret) -> Vec<F> {
    let half = 1usize << (vars - 1);
    let mut v = vec![F::ZERO; 2 * half];
    for (d, &x) in v.iter_mut().zip(values) {
        *d = embed(x);
    }
    let mut rng = StdRng::from_seed(secret.derive(b"random-half"));
    fill_uniform(&mut rng, &mut v[half..]);
    v
}

/// Commits to `values` under `secret`, or rebuilds that commitment's prover data.
pub fn commit(values: &[i64], secret: &LinkSecret) -> Result<Linked, PcsError> {
    let vars = commitment_vars(values.len());
    let vector = vector(values, vars, secret);
    let pcs = TensorPcs::new(vars)?;
    let (commitment, data) = pcs.commit(&vector, secret.derive(b"encoding"))?;
    Ok(Linked {
        vars,
        vector,
        commitment,
        data,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_rebuilds_its_commitment_and_another_does_not() {
        let x: Vec<i64> = (0..3000).map(|i| i % 256).collect();
        let s = LinkSecret([7; 32]);
        let a = commit(&x, &s).unwrap();
        let b = commit(&x, &s).unwrap();
        assert_eq!(a.commitment, b.commitment);
        assert_eq!(a.vars, 13);
        assert_eq!(a.vector[..3000], b.vector[..3000]);
        let c = commit(&x, &LinkSecret([8; 32])).unwrap();
        assert_ne!(a.commitment, c.commitment);
        let mut y = x.clone();
        y[5] += 1;
        assert_ne!(commit(&y, &s).unwrap().commitment, a.commitment);
        assert_eq!(format!("{s:?}"), "LinkSecret(..)");
    }
}
