//! Statements: what a proof claims, in the canonical byte form every transcript absorbs first.

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use vouch_ir::{Digest, TensorId};

/// How a tensor appears in a statement.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Visibility {
    /// Its values are part of the statement.
    Public,
    /// Only a hiding commitment (hash with random blinding) is public.
    Hashed,
    /// Nothing about it is public.
    Private,
    /// Baked into the verifying key (public to anyone holding the key).
    Fixed,
}

impl Visibility {
    fn tag(self) -> u8 {
        match self {
            Visibility::Public => 0,
            Visibility::Hashed => 1,
            Visibility::Private => 2,
            Visibility::Fixed => 3,
        }
    }
}

/// Visibility of the three tensor roles.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VisibilityPolicy {
    pub input: Visibility,
    pub weights: Visibility,
    pub output: Visibility,
}

impl VisibilityPolicy {
    /// A provider serving predictions: weights committed and hidden, input and output public.
    pub fn provider() -> Self {
        VisibilityPolicy {
            input: Visibility::Public,
            weights: Visibility::Hashed,
            output: Visibility::Public,
        }
    }

    /// A user proving a result on private data: input committed and hidden, weights public.
    pub fn client() -> Self {
        VisibilityPolicy {
            input: Visibility::Hashed,
            weights: Visibility::Fixed,
            output: Visibility::Public,
        }
    }
}

/// Which tensors a commitment covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Role {
    Input,
    Weights,
    Output,
}

/// Values of one public tensor.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicTensor {
    pub tensor: TensorId,
    pub values: Vec<i64>,
}

/// A commitment to the tensors of one role.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Commitment {
    pub role: Role,
    pub bytes: Vec<u8>,
}

/// Everything a proof claims. Fiat-Shamir transcripts absorb [`Statement::encode`] first, so
/// every challenge depends on the program, the backend parameters and all public values.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Statement {
    pub program_digest: Digest,
    /// Backend name, e.g. `mock`, `halo2`, `gkr`.
    pub backend: String,
    /// Digest of the backend parameters (SRS, field, security settings).
    pub params_digest: [u8; 32],
    pub visibility: VisibilityPolicy,
    pub public: Vec<PublicTensor>,
    pub commitments: Vec<Commitment>,
    /// True when the setup was generated locally for tests (never for production).
    pub insecure_setup: bool,
}

/// Domain separator of statement encodings.
const DOMAIN: &[u8] = b"vouch/statement/v1";

impl Statement {
    /// Canonical, length-prefixed bytes of the whole statement.
    pub fn encode(&self) -> Vec<u8> {
        let mut b = Vec::new();
        let put = |b: &mut Vec<u8>, bytes: &[u8]| {
            b.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
            b.extend_from_slice(bytes);
        };
        put(&mut b, DOMAIN);
        put(&mut b, &self.program_digest.0);
        put(&mut b, self.backend.as_bytes());
        put(&mut b, &self.params_digest);
        b.extend_from_slice(&[
            self.visibility.input.tag(),
            self.visibility.weights.tag(),
            self.visibility.output.tag(),
            self.insecure_setup as u8,
        ]);
        b.extend_from_slice(&(self.public.len() as u64).to_le_bytes());
        for p in &self.public {
            b.extend_from_slice(&p.tensor.0.to_le_bytes());
            let vals: Vec<u8> = p.values.iter().flat_map(|v| v.to_le_bytes()).collect();
            put(&mut b, &vals);
        }
        b.extend_from_slice(&(self.commitments.len() as u64).to_le_bytes());
        for c in &self.commitments {
            b.push(match c.role {
                Role::Input => 0,
                Role::Weights => 1,
                Role::Output => 2,
            });
            put(&mut b, &c.bytes);
        }
        b
    }

    /// SHA-256 of [`Statement::encode`].
    pub fn digest(&self) -> [u8; 32] {
        Sha256::digest(self.encode()).into()
    }
}
