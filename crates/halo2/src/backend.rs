//! Setup, proving and verification with KZG on BN254 (SHPLONK openings, Blake2b transcript).

use std::io::Cursor;
use std::sync::Arc;

use halo2_axiom::{
    halo2curves::bn256::{Bn256, Fr, G1Affine},
    plonk::{create_proof, keygen_pk, keygen_vk_custom, verify_proof, ProvingKey, VerifyingKey},
    poly::{
        commitment::ParamsProver,
        kzg::{
            commitment::{KZGCommitmentScheme, ParamsKZG},
            multiopen::{ProverSHPLONK, VerifierSHPLONK},
            strategy::SingleStrategy,
        },
    },
    transcript::{
        Blake2bRead, Blake2bWrite, Challenge255, TranscriptReadBuffer, TranscriptWriterBuffer,
    },
    SerdeFormat,
};
use rand_core::OsRng;
use sha2::{Digest as _, Sha256};
use vouch_backend::{Backend, PublicTensor, Statement, Visibility, VisibilityPolicy, Witness};
use vouch_ir::{Digest, Program, TensorId, TensorKind};

use crate::circuit::{VouchCircuit, DIGEST_ROWS};
use crate::config::Shape;
use crate::error::Halo2Error;
use crate::lower::lay_out;
use crate::srs::Srs;

/// Largest circuit this backend builds (2^MAX_K rows).
pub const MAX_K: u32 = 24;
/// Rows reserved for halo2's blinding factors.
const RESERVED_ROWS: usize = 16;

/// What a verifier must know besides the halo2 key: enough to rebuild the instance column from
/// a statement and to check the statement belongs to this key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyInfo {
    pub program_digest: Digest,
    pub policy: VisibilityPolicy,
    pub shape: Shape,
    pub k: u32,
    /// Public tensors in instance order, with their lengths.
    pub public: Vec<(TensorId, usize)>,
    /// SHA-256 of the SRS the keys were made from.
    pub srs_digest: [u8; 32],
    pub insecure_setup: bool,
}

impl KeyInfo {
    /// Digest of the backend parameters that a statement carries.
    pub fn params_digest(&self, vk: &VerifyingKey<G1Affine>) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(b"vouch/halo2/params/v1");
        h.update(self.srs_digest);
        h.update(self.k.to_le_bytes());
        h.update(self.shape.range_bits.to_le_bytes());
        h.update(vk.to_bytes(SerdeFormat::Processed));
        h.finalize().into()
    }
}

pub struct Halo2ProvingKey {
    pub program: Arc<Program>,
    pub info: KeyInfo,
    pub params: Arc<ParamsKZG<Bn256>>,
    pub pk: ProvingKey<G1Affine>,
}

pub struct Halo2VerifyingKey {
    pub info: KeyInfo,
    pub params: Arc<ParamsKZG<Bn256>>,
    pub vk: VerifyingKey<G1Affine>,
}

impl std::fmt::Debug for Halo2ProvingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Halo2ProvingKey")
            .field("info", &self.info)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for Halo2VerifyingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Halo2VerifyingKey")
            .field("info", &self.info)
            .finish_non_exhaustive()
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Halo2Proof {
    pub bytes: Vec<u8>,
}

/// The halo2 backend with its source of KZG parameters.
#[derive(Debug)]
pub struct Halo2Backend {
    pub srs: Srs,
}

/// Row counts and k of a program under a policy, without proving anything.
#[derive(Clone, Copy, Debug)]
pub struct Plan {
    pub shape: Shape,
    pub k: u32,
    pub rows: usize,
    pub table_rows: usize,
}

/// Picks the range-limb width that gives the smallest circuit.
pub fn plan(program: &Program, policy: VisibilityPolicy) -> Result<Plan, Halo2Error> {
    let zeros = zero_values(program);
    let mut best: Option<Plan> = None;
    for range_bits in (8..=16).rev() {
        let l = lay_out(program, policy, &zeros, range_bits)?;
        let (rows, table_rows) = (l.rows(), l.table_rows());
        let need = rows.max(table_rows) + RESERVED_ROWS;
        let k = need.next_power_of_two().trailing_zeros().max(4);
        let p = Plan {
            shape: Shape { range_bits },
            k,
            rows,
            table_rows,
        };
        if best.is_none_or(|b| k < b.k) {
            best = Some(p);
        }
        if rows >= table_rows {
            break; // a narrower table cannot shrink the circuit any more
        }
    }
    let best = best.ok_or_else(|| Halo2Error::Internal("no layout".into()))?;
    if best.k > MAX_K {
        return Err(Halo2Error::TooLarge {
            k: best.k,
            max: MAX_K,
        });
    }
    Ok(best)
}

fn zero_values(program: &Program) -> Vec<Vec<i64>> {
    program
        .tensors
        .iter()
        .map(|t| vec![0; t.shape.iter().product()])
        .collect()
}

/// Public tensors in the order the layout binds them to the instance column.
fn public_tensors(program: &Program, policy: VisibilityPolicy) -> Vec<(TensorId, usize)> {
    let mut out = Vec::new();
    for (i, t) in program.tensors.iter().enumerate() {
        let vis = match t.kind {
            TensorKind::Input => policy.input,
            TensorKind::Weight => policy.weights,
            TensorKind::Activation => continue,
        };
        if vis == Visibility::Public {
            out.push((TensorId(i as u32), t.shape.iter().product()));
        }
    }
    if policy.output == Visibility::Public {
        for &id in &program.outputs {
            out.push((id, program.info(id).shape.iter().product()));
        }
    }
    out
}

/// The instance column of a statement: digest limbs, then the public values.
pub fn instances(statement: &Statement) -> Vec<Fr> {
    let d = statement.digest();
    let mut lo = [0u8; 32];
    let mut hi = [0u8; 32];
    lo[..16].copy_from_slice(&d[..16]);
    hi[..16].copy_from_slice(&d[16..]);
    let mut out = Vec::with_capacity(DIGEST_ROWS);
    for limb in [lo, hi] {
        out.push(crate::field::from_bytes(&limb).unwrap_or_else(Fr::zero));
    }
    for p in &statement.public {
        out.extend(p.values.iter().map(|&v| crate::field::fr(v as i128)));
    }
    out
}

impl Halo2Backend {
    fn keygen(
        &self,
        program: &Program,
        policy: VisibilityPolicy,
    ) -> Result<(Halo2ProvingKey, Halo2VerifyingKey), Halo2Error> {
        let plan = plan(program, policy)?;
        let loaded = self.srs.params(plan.k)?;
        let (params, srs_digest, insecure) = (loaded.params, loaded.digest, loaded.insecure);
        let layout = lay_out(
            program,
            policy,
            &zero_values(program),
            plan.shape.range_bits,
        )?;
        let circuit = VouchCircuit {
            layout: Arc::new(layout),
            shape: plan.shape,
        };
        let vk = keygen_vk_custom(params.as_ref(), &circuit, false)?;
        let pk = keygen_pk(params.as_ref(), vk.clone(), &circuit)?;
        let info = KeyInfo {
            program_digest: program.digest(),
            policy,
            shape: plan.shape,
            k: plan.k,
            public: public_tensors(program, policy),
            srs_digest,
            insecure_setup: insecure,
        };
        Ok((
            Halo2ProvingKey {
                program: Arc::new(program.clone()),
                info: info.clone(),
                params: params.clone(),
                pk,
            },
            Halo2VerifyingKey { info, params, vk },
        ))
    }
}

impl Backend for Halo2Backend {
    type ProvingKey = Halo2ProvingKey;
    type VerifyingKey = Halo2VerifyingKey;
    type Proof = Halo2Proof;
    type Error = Halo2Error;

    fn name(&self) -> &'static str {
        "halo2"
    }

    fn setup(
        &self,
        program: &Program,
        policy: VisibilityPolicy,
    ) -> Result<(Halo2ProvingKey, Halo2VerifyingKey), Halo2Error> {
        self.keygen(program, policy)
    }

    fn prove(
        &self,
        pk: &Halo2ProvingKey,
        witness: &Witness,
    ) -> Result<(Statement, Halo2Proof), Halo2Error> {
        let program = pk.program.as_ref();
        if witness.values.len() != program.tensors.len() {
            return Err(Halo2Error::Witness(format!(
                "{} tensors in the witness, the program has {}",
                witness.values.len(),
                program.tensors.len()
            )));
        }
        let info = &pk.info;
        let layout = lay_out(program, info.policy, &witness.values, info.shape.range_bits)?;
        let statement = Statement {
            program_digest: info.program_digest,
            backend: self.name().to_string(),
            params_digest: info.params_digest(pk.pk.get_vk()),
            visibility: info.policy,
            public: info
                .public
                .iter()
                .map(|&(id, _)| PublicTensor {
                    tensor: id,
                    values: witness.values[id.index()].clone(),
                })
                .collect(),
            commitments: Vec::new(),
            insecure_setup: info.insecure_setup,
        };
        let inst = instances(&statement);
        if inst[DIGEST_ROWS..] != layout.public_values[..] {
            return Err(Halo2Error::Internal(
                "public values of the layout and the statement differ".into(),
            ));
        }
        let circuit = VouchCircuit {
            layout: Arc::new(layout),
            shape: info.shape,
        };
        let mut transcript = Blake2bWrite::<_, G1Affine, Challenge255<_>>::init(Vec::new());
        create_proof::<KZGCommitmentScheme<Bn256>, ProverSHPLONK<'_, Bn256>, _, _, _, _>(
            pk.params.as_ref(),
            &pk.pk,
            &[circuit],
            &[&[&inst]],
            OsRng,
            &mut transcript,
        )?;
        Ok((
            statement,
            Halo2Proof {
                bytes: transcript.finalize(),
            },
        ))
    }

    fn verify(
        &self,
        vk: &Halo2VerifyingKey,
        statement: &Statement,
        proof: &Halo2Proof,
    ) -> Result<(), Halo2Error> {
        check_statement(vk, statement)?;
        let inst = instances(statement);
        let mut cursor = Cursor::new(proof.bytes.as_slice());
        let mut transcript = Blake2bRead::<_, G1Affine, Challenge255<_>>::init(&mut cursor);
        let strategy = SingleStrategy::new(vk.params.as_ref());
        let verifier_params = vk.params.verifier_params();
        verify_proof::<KZGCommitmentScheme<Bn256>, VerifierSHPLONK<'_, Bn256>, _, _, _>(
            verifier_params,
            &vk.vk,
            strategy,
            &[&[&inst]],
            &mut transcript,
        )
        .map_err(|e| Halo2Error::Invalid(format!("the proof does not verify ({e:?})")))?;
        if cursor.position() as usize != proof.bytes.len() {
            return Err(Halo2Error::Invalid("trailing bytes after the proof".into()));
        }
        Ok(())
    }
}

/// The statement must be about this key's program, policy and parameters.
fn check_statement(vk: &Halo2VerifyingKey, s: &Statement) -> Result<(), Halo2Error> {
    let info = &vk.info;
    let bad = |m: String| Err(Halo2Error::Invalid(m));
    if s.backend != "halo2" {
        return bad(format!("statement is for backend {}, not halo2", s.backend));
    }
    if s.program_digest != info.program_digest {
        return bad(format!(
            "statement names model {}, the key is for {}",
            s.program_digest, info.program_digest
        ));
    }
    if s.visibility != info.policy {
        return bad("statement visibility differs from the key's".into());
    }
    if s.params_digest != info.params_digest(&vk.vk) {
        return bad("statement parameters digest differs from the key's".into());
    }
    if s.insecure_setup != info.insecure_setup {
        return bad("statement and key disagree about the setup being insecure".into());
    }
    let shapes: Vec<(TensorId, usize)> = s
        .public
        .iter()
        .map(|p| (p.tensor, p.values.len()))
        .collect();
    if shapes != info.public {
        return bad("public tensors of the statement differ from the key's".into());
    }
    Ok(())
}
