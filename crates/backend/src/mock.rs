//! A backend without cryptography: "proving" checks every node of the witness against the
//! interpreter and every tensor against its range, and names the first failure (tensor or
//! node, op, row). Its proof is the witness itself, so it hides nothing and convinces no one
//! but the prover; it is the reference the real backends' tamper tests are written against.

use sha2::{Digest as _, Sha256};
use thiserror::Error;
use vouch_ir::{interp, Digest, IrError, Program, TensorId};

use crate::backend::{Backend, Witness};
use crate::statement::{Commitment, PublicTensor, Role, Statement, Visibility, VisibilityPolicy};

/// Why a witness or proof was rejected.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum MockError {
    #[error("node {node} ({op}): output row {row} is {got}, but the op gives {expected}")]
    Constraint {
        node: String,
        op: &'static str,
        row: usize,
        expected: i64,
        got: i64,
    },
    #[error("tensor {tensor}: row {row} holds {value}, outside its range [{lo}, {hi}]")]
    Range {
        tensor: String,
        row: usize,
        value: i64,
        lo: i64,
        hi: i64,
    },
    #[error("tensor {tensor}: {got} values, the program declares {expected}")]
    Length {
        tensor: String,
        expected: usize,
        got: usize,
    },
    #[error("weight {tensor} differs from the program's at row {row}")]
    Weight { tensor: String, row: usize },
    #[error("statement does not match: {0}")]
    Statement(String),
    #[error(transparent)]
    Ir(#[from] IrError),
}

/// Keys of the mock backend: the program and the policy.
#[derive(Clone, Debug)]
pub struct MockKey {
    pub program: Program,
    pub policy: VisibilityPolicy,
    pub digest: Digest,
}

/// The mock "proof": the whole witness.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MockProof {
    pub witness: Witness,
}

#[derive(Clone, Copy, Debug, Default)]
pub struct MockBackend;

/// Checks a witness against a program: lengths, weights, ranges, then every node in order.
pub fn check_witness(program: &Program, w: &Witness) -> Result<(), MockError> {
    if w.values.len() != program.tensors.len() {
        return Err(MockError::Length {
            tensor: "<witness>".into(),
            expected: program.tensors.len(),
            got: w.values.len(),
        });
    }
    for (i, (t, v)) in program.tensors.iter().zip(&w.values).enumerate() {
        let n: usize = t.shape.iter().product();
        if v.len() != n {
            return Err(MockError::Length {
                tensor: t.name.clone(),
                expected: n,
                got: v.len(),
            });
        }
        if let Some(weights) = &program.weights[i] {
            if let Some(row) = weights.iter().zip(v).position(|(a, b)| a != b) {
                return Err(MockError::Weight {
                    tensor: t.name.clone(),
                    row,
                });
            }
        }
        if let Some((row, &value)) = v.iter().enumerate().find(|(_, &x)| !t.range.contains(x)) {
            return Err(MockError::Range {
                tensor: t.name.clone(),
                row,
                value,
                lo: t.range.lo,
                hi: t.range.hi,
            });
        }
    }
    for node in &program.nodes {
        let inputs: Vec<&[i64]> = node
            .inputs
            .iter()
            .map(|i| w.values[i.index()].as_slice())
            .collect();
        let expected = interp::eval_node(program, node, &inputs)?;
        let got = &w.values[node.output.index()];
        if let Some(row) = expected.iter().zip(got).position(|(a, b)| a != b) {
            return Err(MockError::Constraint {
                node: node.name.clone(),
                op: node.op.name(),
                row,
                expected: expected[row],
                got: got[row],
            });
        }
    }
    Ok(())
}

fn commit(role: Role, ids: &[TensorId], w: &Witness) -> Commitment {
    let mut h = Sha256::new();
    h.update(b"vouch/mock-commitment/v1");
    for id in ids {
        for v in &w.values[id.index()] {
            h.update(v.to_le_bytes());
        }
    }
    Commitment {
        role,
        bytes: h.finalize().to_vec(),
    }
}

/// The statement a witness gives under a key's policy.
fn statement_for(key: &MockKey, w: &Witness) -> Statement {
    let p = &key.program;
    let weights: Vec<TensorId> = (0..p.tensors.len())
        .filter(|&i| p.weights[i].is_some())
        .map(|i| TensorId(i as u32))
        .collect();
    let mut public = Vec::new();
    let mut commitments = Vec::new();
    for (role, vis, ids) in [
        (Role::Input, key.policy.input, p.inputs.clone()),
        (Role::Weights, key.policy.weights, weights),
        (Role::Output, key.policy.output, p.outputs.clone()),
    ] {
        match vis {
            Visibility::Public if role != Role::Weights => {
                public.extend(ids.iter().map(|&id| PublicTensor {
                    tensor: id,
                    values: w.values[id.index()].clone(),
                }))
            }
            Visibility::Hashed => commitments.push(commit(role, &ids, w)),
            _ => {}
        }
    }
    Statement {
        program_digest: key.digest,
        backend: "mock".into(),
        params_digest: Sha256::digest(b"vouch/mock/v1").into(),
        visibility: key.policy,
        public,
        commitments,
        insecure_setup: false,
    }
}

impl Backend for MockBackend {
    type ProvingKey = MockKey;
    type VerifyingKey = MockKey;
    type Proof = MockProof;
    type Error = MockError;

    fn name(&self) -> &'static str {
        "mock"
    }

    fn setup(
        &self,
        program: &Program,
        policy: VisibilityPolicy,
    ) -> Result<(MockKey, MockKey), MockError> {
        program.validate()?;
        let key = MockKey {
            program: program.clone(),
            policy,
            digest: program.digest(),
        };
        Ok((key.clone(), key))
    }

    fn prove(&self, pk: &MockKey, witness: &Witness) -> Result<(Statement, MockProof), MockError> {
        check_witness(&pk.program, witness)?;
        Ok((
            statement_for(pk, witness),
            MockProof {
                witness: witness.clone(),
            },
        ))
    }

    fn verify(
        &self,
        vk: &MockKey,
        statement: &Statement,
        proof: &MockProof,
    ) -> Result<(), MockError> {
        check_witness(&vk.program, &proof.witness)?;
        let expected = statement_for(vk, &proof.witness);
        if statement.program_digest != expected.program_digest {
            return Err(MockError::Statement("program digest".into()));
        }
        if statement != &expected {
            return Err(MockError::Statement(
                "public values, commitments or parameters differ from the proof".into(),
            ));
        }
        Ok(())
    }
}
