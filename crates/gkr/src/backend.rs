//! The gkr [`Backend`]: setup lowers the program ([`Plan`]), proving commits to the trace and
//! runs the [`program`](crate::program) protocol, verification replays it. No trusted setup:
//! keys are the program and its plan, derived by anyone from the program alone.

use sha2::{Digest as _, Sha256};
use vouch_backend::mock::check_witness;
use vouch_backend::{
    Backend, Commitment, PublicTensor, Role, Statement, Visibility, VisibilityPolicy, Witness,
};
use vouch_ir::{Digest, Program, TensorId};

use crate::link::{self, LinkSecret};
use crate::pcs::TensorCommitment;
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

    /// Proves; a hashed input gets a fresh linked commitment (use
    /// [`GkrBackend::prove_with_link`] to prove against an existing one).
    fn prove(
        &self,
        pk: &GkrKey,
        witness: &Witness,
    ) -> Result<(Statement, ProgramProof), ProgramError> {
        let secret = match pk.plan.linked_input {
            Some(_) => Some(LinkSecret::random()?),
            None => None,
        };
        self.prove_with_link(pk, witness, secret.as_ref())
    }

    fn verify(
        &self,
        vk: &GkrKey,
        statement: &Statement,
        proof: &ProgramProof,
    ) -> Result<(), ProgramError> {
        let (public, linked) = check_statement(vk, statement)?;
        let mut t = Transcript::new(statement);
        program::verify_linked(&vk.plan, &public, linked.as_ref(), proof, &mut t)
    }
}

impl GkrBackend {
    /// Proves with the hashed input committed under `secret` (the commitment a camera signed,
    /// or a previous proof's output commitment): the statement names that commitment.
    /// `secret` is ignored (and may be None) for keys without a hashed input.
    pub fn prove_with_link(
        &self,
        pk: &GkrKey,
        witness: &Witness,
        secret: Option<&LinkSecret>,
    ) -> Result<(Statement, ProgramProof), ProgramError> {
        check_witness(&pk.program, witness).map_err(|e| ProgramError::Witness {
            what: e.to_string(),
        })?;
        let linked = match (pk.plan.linked_input, secret) {
            (Some(_), Some(secret)) => {
                let input = pk
                    .program
                    .inputs
                    .first()
                    .ok_or(ProgramError::Internal("no input"))?;
                Some(link::commit(&witness.values[input.index()], secret)?)
            }
            (Some(_), None) => {
                return Err(ProgramError::Statement(
                    "a hashed input needs its commitment's secret".into(),
                ))
            }
            (None, _) => None,
        };
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
            commitments: linked
                .iter()
                .map(|l| Commitment {
                    role: Role::Input,
                    bytes: l.commitment.0.to_vec(),
                })
                .collect(),
            insecure_setup: false,
        };
        let mut t = Transcript::new(&statement);
        let proof = match linked {
            Some(l) => program::prove_linked(&pk.plan, &witness.values, l, &mut t)?,
            None => program::prove(&pk.plan, &witness.values, &mut t)?,
        };
        Ok((statement, proof))
    }
}

/// Public values by tensor id, and the hashed input's commitment.
type Checked = (Vec<Option<Vec<i64>>>, Option<TensorCommitment>);

/// Checks that the statement is one this key can prove, and returns the public values by
/// tensor id and the hashed input's commitment.
fn check_statement(vk: &GkrKey, s: &Statement) -> Result<Checked, ProgramError> {
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
    let linked = match (vk.plan.linked_input, s.commitments.as_slice()) {
        (None, []) => None,
        (None, _) => return bad("commitments are not expected under this policy"),
        (Some(_), [c]) if c.role == Role::Input => match <[u8; 32]>::try_from(&c.bytes[..]) {
            Ok(root) => Some(TensorCommitment(root)),
            Err(_) => return bad("the input commitment is not 32 bytes"),
        },
        (Some(_), _) => return bad("a hashed input needs exactly one input commitment"),
    };
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
    Ok((public, linked))
}
