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
        .filter(|o| policy.output == Visibility::Public && !ids.contains(o))
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

    /// Proves; a hashed input or output gets a fresh linked commitment (use
    /// [`GkrBackend::prove_with_links`] to prove against an existing one).
    fn prove(
        &self,
        pk: &GkrKey,
        witness: &Witness,
    ) -> Result<(Statement, ProgramProof), ProgramError> {
        let input = match pk.plan.linked_input {
            Some(_) => Some(LinkSecret::random()?),
            None => None,
        };
        let output = match pk.plan.linked_output {
            Some(_) => Some(LinkSecret::random()?),
            None => None,
        };
        self.prove_with_links(pk, witness, input.as_ref(), output.as_ref())
    }

    fn verify(
        &self,
        vk: &GkrKey,
        statement: &Statement,
        proof: &ProgramProof,
    ) -> Result<(), ProgramError> {
        let (public, linked) = check_statement(vk, statement)?;
        let mut t = Transcript::new(statement);
        program::verify_linked(&vk.plan, &public, &linked, proof, &mut t)
    }
}

impl GkrBackend {
    /// Proves with the hashed input committed under `input` (the commitment a camera signed,
    /// or a previous proof's output commitment) and the hashed output committed under
    /// `output` (kept by the caller, so that a next proof can take it as its input): the
    /// statement names both commitments. A secret is ignored (and may be None) for a tensor
    /// that is not hashed.
    pub fn prove_with_links(
        &self,
        pk: &GkrKey,
        witness: &Witness,
        input: Option<&LinkSecret>,
        output: Option<&LinkSecret>,
    ) -> Result<(Statement, ProgramProof), ProgramError> {
        check_witness(&pk.program, witness).map_err(|e| ProgramError::Witness {
            what: e.to_string(),
        })?;
        let mut linked = Vec::new();
        for (col, secret, tensor, role) in [
            (
                pk.plan.linked_input,
                input,
                pk.program.inputs.first(),
                "input",
            ),
            (
                pk.plan.linked_output,
                output,
                pk.program.outputs.first(),
                "output",
            ),
        ] {
            match (col, secret, tensor) {
                (Some(_), Some(secret), Some(id)) => {
                    linked.push(link::commit(&witness.values[id.index()], secret)?)
                }
                (Some(_), _, _) => {
                    return Err(ProgramError::Statement(format!(
                        "a hashed {role} needs its commitment's secret"
                    )))
                }
                (None, _, _) => {}
            }
        }
        let roles = linked_roles(&pk.plan);
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
                .zip(&roles)
                .map(|(l, &role)| Commitment {
                    role,
                    bytes: l.commitment.0.to_vec(),
                })
                .collect(),
            insecure_setup: false,
        };
        let mut t = Transcript::new(&statement);
        let proof = program::prove_linked(&pk.plan, &witness.values, linked, &mut t)?;
        Ok((statement, proof))
    }
}

/// Public values by tensor id, and the hashed tensors' commitments (input, then output).
type Checked = (Vec<Option<Vec<i64>>>, Vec<TensorCommitment>);

/// Roles of the plan's hashed tensors, in statement order.
fn linked_roles(plan: &Plan) -> Vec<Role> {
    [
        (plan.linked_input, Role::Input),
        (plan.linked_output, Role::Output),
    ]
    .into_iter()
    .filter_map(|(c, r)| c.map(|_| r))
    .collect()
}

/// Checks that the statement is one this key can prove, and returns the public values by
/// tensor id and the hashed tensors' commitments. Public values are checked against their
/// declared ranges by the protocol (`program::verify_linked`), for every caller.
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
    let roles = linked_roles(&vk.plan);
    if s.commitments.len() != roles.len()
        || s.commitments.iter().zip(&roles).any(|(c, r)| c.role != *r)
    {
        return bad("commitments are not the policy's hashed tensors (input, then output)");
    }
    let mut linked = Vec::new();
    for c in &s.commitments {
        match <[u8; 32]>::try_from(&c.bytes[..]) {
            Ok(root) => linked.push(TensorCommitment(root)),
            Err(_) => return bad("a commitment is not 32 bytes"),
        }
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
        public[p.tensor.index()] = Some(p.values.clone());
    }
    Ok((public, linked))
}
