//! The backend contract.

use vouch_ir::{interp::Trace, Program};

use crate::statement::{Statement, VisibilityPolicy};

/// Values of every tensor of one run, indexed by tensor id (weights included): what a prover
/// knows. Usually taken from the reference interpreter's trace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Witness {
    pub values: Vec<Vec<i64>>,
}

impl From<Trace<'_>> for Witness {
    fn from(t: Trace<'_>) -> Self {
        Witness {
            values: t.into_values(),
        }
    }
}

/// A proving system for IR programs. Implementations prove exactly what the reference
/// interpreter computes; the shared conformance suite checks that.
pub trait Backend {
    type ProvingKey;
    type VerifyingKey;
    type Proof;
    type Error: std::error::Error + Send + Sync + 'static;

    /// Stable name used in statements and files.
    fn name(&self) -> &'static str;

    /// Derives keys for a program under a visibility policy.
    fn setup(
        &self,
        program: &Program,
        policy: VisibilityPolicy,
    ) -> Result<(Self::ProvingKey, Self::VerifyingKey), Self::Error>;

    /// Proves that the witness is a correct run of the key's program.
    fn prove(
        &self,
        pk: &Self::ProvingKey,
        witness: &Witness,
    ) -> Result<(Statement, Self::Proof), Self::Error>;

    /// Checks a proof of a statement. Must never panic, whatever the bytes.
    fn verify(
        &self,
        vk: &Self::VerifyingKey,
        statement: &Statement,
        proof: &Self::Proof,
    ) -> Result<(), Self::Error>;
}
