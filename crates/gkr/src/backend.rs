//! The gkr [`Backend`]: setup lowers the program ([`Plan`]), proving commits to the trace and
//! runs the [`program`](crate::program) protocol, verification replays it. No trusted setup:
//! keys are the program and its plan, derived by anyone from the program alone.

use sha2::{Digest as _, Sha256};
use vouch_backend::mock::check_witness;
use vouch_backend::{Backend, PublicTensor, Statement, Visibility, VisibilityPolicy, Witness};
use vouch_ir::{Digest, Program, TensorId};

use crate::program::{self, Plan, ProgramError, ProgramProof};
use crate::transcript::Transcript;

/// Name in statements and files.
pub const BACKEND_NAME: &str = "gkr";

/// Everything that fixes the proof system's parameters; its digest goes in every statement.
const PARAMS: &str = "vouch/gkr/v1; F=Goldilocks, EF=cubic trinomial extension (2^192); \
transcript=SHA-256 (p3-challenger); pcs=HVZK-WHIR (SHA-256 Merkle, Johnson bound, 100 bits per \
term, 16 PoW bits, folding 4); range limbs=16 bits; logup-gkr";

/// Digest of the backend parameters.
pub fn params_digest() -> [u8; 32] {
    Sha256::digest(PARAMS.as_bytes()).into()
}

/// Proving and verifying key (the same: nothing is secret).
#[derive(Clone, Debug)]
pub struct GkrKey {
    pub program: Program,
    pub policy: VisibilityPolicy,
    pub digest: Digest,
    pub plan: Plan,
}

/// The sumcheck/GKR backend.
#[derive(Clone, Copy, Debug, Default)]
pub struct GkrBackend;

/// The tensors whose values a statement carries, in order: the program's inputs (unless the
/// policy hides them), then its outputs (each once).
pub fn public_ids(program: &Program, policy: VisibilityPolicy) -> Vec<TensorId> {
    let mut ids = if policy.input == Visibility::Public {
        program.inputs.clone()
    } else {
        Vec::new()
    };
    let more: Vec<TensorId> = program
        .outputs
        .iter()
        .filter(|o| !ids.contains(o))
        .copied()
        .collect();
    ids.extend(more);
    ids
}

impl Backend for GkrBackend {
    type ProvingKey = GkrKey;
    type VerifyingKey = GkrKey;
    type Proof = ProgramProof;
    type Error = ProgramError;

    fn name(&self) -> &'static str {
        BACKEND_NAME
    }

    fn setup(
        &self,
        program: &Program,
        policy: VisibilityPolicy,
    ) -> Result<(GkrKey, GkrKey), ProgramError> {
        let plan = Plan::new(program, policy)?;
        let key = GkrKey {
            program: program.clone(),
            policy,
            digest: program.digest(),
            plan,
        };
        Ok((key.clone(), key))
    }

    fn prove(
        &self,
        pk: &GkrKey,
        witness: &Witness,
    ) -> Result<(Statement, ProgramProof), ProgramError> {
        check_witness(&pk.program, witness).map_err(|e| ProgramError::Witness {
            what: e.to_string(),
        })?;
        let statement = Statement {
            program_digest: pk.digest,
            backend: BACKEND_NAME.to_string(),
            params_digest: params_digest(),
            visibility: pk.policy,
            public: public_ids(&pk.program, pk.policy)
                .into_iter()
                .map(|id| PublicTensor {
                    tensor: id,
                    values: witness.values[id.index()].clone(),
                })
                .collect(),
            commitments: Vec::new(),
            insecure_setup: false,
        };
        let mut t = Transcript::new(&statement);
        let proof = program::prove(&pk.plan, &witness.values, &mut t)?;
        Ok((statement, proof))
    }

    fn verify(
        &self,
        vk: &GkrKey,
        statement: &Statement,
        proof: &ProgramProof,
    ) -> Result<(), ProgramError> {
        let public = check_statement(vk, statement)?;
        let mut t = Transcript::new(statement);
        program::verify(&vk.plan, &public, proof, &mut t)
    }
}

/// Checks that the statement is one this key can prove, and returns the public values by
/// tensor id.
fn check_statement(vk: &GkrKey, s: &Statement) -> Result<Vec<Option<Vec<i64>>>, ProgramError> {
    let bad = |what: &str| Err(ProgramError::Statement(what.to_string()));
    if s.program_digest != vk.digest {
        return bad("program digest differs from the key's program");
    }
    if s.backend != BACKEND_NAME {
        return bad("statement is for another backend");
    }
    if s.params_digest != params_digest() {
        return bad("backend parameters differ from this build's");
    }
    if s.visibility != vk.policy {
        return bad("visibility policy differs from the key's");
    }
    if !s.commitments.is_empty() {
        return bad("commitments are not expected under this policy");
    }
    if s.insecure_setup {
        return bad("gkr has no setup to be insecure; the flag must be false");
    }
    let ids = public_ids(&vk.program, vk.policy);
    if s.public.len() != ids.len() || s.public.iter().zip(&ids).any(|(p, id)| p.tensor != *id) {
        return bad("public tensors are not the program's inputs and outputs, in order");
    }
    let mut public = vec![None; vk.program.tensors.len()];
    for p in &s.public {
        let info = &vk.program.tensors[p.tensor.index()];
        if p.values.len() != info.shape.iter().product::<usize>() {
            return bad("a public tensor has the wrong number of values");
        }
        if p.values.iter().any(|&v| !info.range.contains(v)) {
            return bad("a public tensor holds a value outside its declared range");
        }
        public[p.tensor.index()] = Some(p.values.clone());
    }
    Ok(public)
}
