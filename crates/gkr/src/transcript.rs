//! Fiat–Shamir transcript: the statement first, then every prover message, challenges hashed
//! from everything absorbed before them.
//!
//! Built on Plonky3's `SerializingChallenger64<Goldilocks, HashChallenger<u8, Sha256, 32>>`:
//! field elements are absorbed as their canonical 8 little-endian bytes, the SHA-256 chain
//! hashes the whole input buffer (previous output included) whenever a challenge is drawn, and
//! challenges are sampled by rejection from 64-bit words (no modular bias), two base elements
//! per [`EF`] challenge.
//!
//! **Why SHA-256 and not a Poseidon2 duplex.** The statement is a byte string
//! ([`Statement::encode`]) and SHA-256 is already the project's digest (program digests,
//! statement digests), so bytes go in as they are, with no packing into field elements. The
//! verifier runs natively, where SHA-256 is fast (SHA-NI) and its security is not in question;
//! Poseidon2 would only pay off for verifying a proof inside another proof (recursion), and
//! [`Transcript`] hides the choice so it can change with a version bump.
//!
//! **Domain separation.** The initial buffer is `len ‖ "vouch/gkr/transcript/v1" ‖ len ‖
//! statement bytes` (lengths as u64 LE), so nothing else can produce the same prefix, and every
//! later absorption is preceded by a label (length + bytes) and, for messages, a length.

use p3_challenger::{
    CanObserve, CanSample, FieldChallenger, HashChallenger, SerializingChallenger64,
};
use p3_field::PrimeCharacteristicRing;
use p3_sha256::Sha256;
use vouch_backend::Statement;

use crate::field::{EF, F};

/// Domain separator of this transcript (first bytes hashed).
pub const TRANSCRIPT_DOMAIN: &[u8] = b"vouch/gkr/transcript/v1";

/// The Plonky3 challenger under [`Transcript`] (what `p3-whir` drives directly).
pub(crate) type Challenger = SerializingChallenger64<F, HashChallenger<u8, Sha256, 32>>;
type Inner = Challenger;

/// A Fiat–Shamir transcript bound to one statement.
#[derive(Clone, Debug)]
pub struct Transcript {
    ch: Inner,
}

impl Transcript {
    /// Starts a transcript that has absorbed the whole statement ([`Statement::encode`]).
    pub fn new(statement: &Statement) -> Self {
        Self::from_statement_bytes(&statement.encode())
    }

    /// Starts a transcript from already-encoded statement bytes.
    pub fn from_statement_bytes(statement: &[u8]) -> Self {
        let mut init = Vec::with_capacity(16 + TRANSCRIPT_DOMAIN.len() + statement.len());
        init.extend_from_slice(&(TRANSCRIPT_DOMAIN.len() as u64).to_le_bytes());
        init.extend_from_slice(TRANSCRIPT_DOMAIN);
        init.extend_from_slice(&(statement.len() as u64).to_le_bytes());
        init.extend_from_slice(statement);
        Transcript {
            ch: SerializingChallenger64::new(HashChallenger::new(init, Sha256)),
        }
    }

    /// The underlying challenger, for sub-protocols (commitment openings) that absorb and
    /// sample through Plonky3's traits; they continue this transcript.
    pub(crate) fn challenger(&mut self) -> &mut Challenger {
        &mut self.ch
    }

    /// Absorbs a label (its length, then each byte as a field element).
    pub fn label(&mut self, label: &[u8]) {
        self.ch.observe(F::from_u64(label.len() as u64));
        for &b in label {
            self.ch.observe(F::from_u8(b));
        }
    }

    /// Absorbs public integers (e.g. shapes) under a label.
    pub fn absorb_u64s(&mut self, label: &[u8], values: &[u64]) {
        self.label(label);
        self.ch.observe(F::from_u64(values.len() as u64));
        for &v in values {
            // u64 values may exceed p: absorb as two 32-bit halves to stay injective.
            self.ch.observe(F::from_u64(v & 0xffff_ffff));
            self.ch.observe(F::from_u64(v >> 32));
        }
    }

    /// Absorbs base-field elements (e.g. a public or witness column) under a label: the count,
    /// then each element as its canonical u64.
    pub fn absorb_base<I>(&mut self, label: &[u8], values: I)
    where
        I: IntoIterator<Item = F>,
        I::IntoIter: ExactSizeIterator,
    {
        let values = values.into_iter();
        self.label(label);
        self.ch.observe(F::from_u64(values.len() as u64));
        for v in values {
            self.ch.observe(v);
        }
    }

    /// Absorbs a prover message of extension-field elements under a label.
    pub fn absorb_ext(&mut self, label: &[u8], values: &[EF]) {
        self.label(label);
        self.ch.observe(F::from_u64(values.len() as u64));
        for &v in values {
            self.ch.observe_algebra_element(v);
        }
    }

    /// Draws one challenge in [`EF`] under a label.
    pub fn challenge_ext(&mut self, label: &[u8]) -> EF {
        self.label(label);
        self.ch.sample_algebra_element()
    }

    /// Draws `n` challenges in [`EF`] under a label.
    pub fn challenges_ext(&mut self, label: &[u8], n: usize) -> Vec<EF> {
        self.label(label);
        (0..n).map(|_| self.ch.sample_algebra_element()).collect()
    }

    /// Draws a base-field challenge under a label (exposed for tests and batching).
    pub fn challenge_base(&mut self, label: &[u8]) -> F {
        self.label(label);
        self.ch.sample()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges_depend_on_statement_messages_and_labels() {
        let base = |s: &[u8]| {
            let mut t = Transcript::from_statement_bytes(s);
            t.absorb_ext(b"msg", &[EF::ONE]);
            t.challenge_ext(b"r")
        };
        let a = base(b"statement A");
        assert_eq!(a, base(b"statement A"), "deterministic");
        assert_ne!(a, base(b"statement B"));

        let mut t = Transcript::from_statement_bytes(b"statement A");
        t.absorb_ext(b"msg", &[EF::TWO]);
        assert_ne!(a, t.challenge_ext(b"r"));

        let mut t = Transcript::from_statement_bytes(b"statement A");
        t.absorb_ext(b"msh", &[EF::ONE]);
        assert_ne!(a, t.challenge_ext(b"r"));
    }

    #[test]
    fn successive_challenges_differ_and_are_not_constants() {
        let mut t = Transcript::from_statement_bytes(b"s");
        let xs = t.challenges_ext(b"r", 8);
        for (i, x) in xs.iter().enumerate() {
            assert_ne!(*x, EF::ZERO);
            assert_ne!(*x, EF::ONE);
            for y in &xs[i + 1..] {
                assert_ne!(x, y);
            }
        }
    }
}
