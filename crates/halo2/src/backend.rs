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
    transcript::{Blake2bWrite, Challenge255, TranscriptWriterBuffer},
    SerdeFormat,
};
use rand_core::OsRng;
use sha2::{Digest as _, Sha256};
use vouch_backend::{
    Backend, Commitment, PublicTensor, Role, Statement, Visibility, VisibilityPolicy, Witness,
};
use vouch_ir::{Digest, Program, TensorId, TensorKind};

use crate::circuit::{VouchCircuit, DIGEST_ROWS};
use crate::config::Shape;
use crate::error::Halo2Error;
use crate::lower::{lay_out, Blindings};
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
    /// Public tensors in instance order, with their lengths and the range every value must
    /// lie in (the verifier checks it: the circuit does not range-check public data).
    pub public: Vec<PublicSpec>,
    /// SHA-256 of the SRS the keys were made from.
    pub srs_digest: [u8; 32],
    pub insecure_setup: bool,
}

impl KeyInfo {
    /// Digest of the backend parameters that a statement carries.
    pub fn params_digest(&self, vk: &VerifyingKey<G1Affine>) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(b"vouch/halo2/params/v2");
        h.update(self.srs_digest);
        h.update(self.k.to_le_bytes());
        h.update(self.shape.range_bits.to_le_bytes());
        h.update(self.shape.gates.to_le_bytes());
        h.update(self.shape.range_lanes.to_le_bytes());
        h.update(self.shape.lanes.to_le_bytes());
        h.update(vk.to_bytes(SerdeFormat::Processed));
        h.finalize().into()
    }
}

/// One public tensor of a key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PublicSpec {
    pub tensor: TensorId,
    pub len: usize,
    pub lo: i64,
    pub hi: i64,
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

/// Picks the lane count and range-limb layout that give the cheapest circuit.
///
/// Proving cost grows with rows times committed polynomials, so the planner lays the program
/// out under each candidate shape and keeps the one with the smallest `2^k * polys`.
pub fn plan(program: &Program, policy: VisibilityPolicy) -> Result<Plan, Halo2Error> {
    use crate::config::{LANE_CHOICES, RANGE_LANE_CHOICES};
    plan_with_lanes(program, policy, &LANE_CHOICES, &RANGE_LANE_CHOICES)
}

/// [`plan`] restricted to the given general and range lane counts (tests pin them to cover
/// every row width).
pub fn plan_with_lanes(
    program: &Program,
    policy: VisibilityPolicy,
    lane_choices: &[u32],
    range_lane_choices: &[u32],
) -> Result<Plan, Halo2Error> {
    let zeros = zero_values(program);
    let mut best: Option<(u64, Plan)> = None;
    for &lanes in lane_choices {
        for &range_lanes in range_lane_choices {
            for range_bits in (8..=16).rev() {
                let trial = Shape {
                    range_bits,
                    gates: crate::config::gate::ALL,
                    range_lanes,
                    lanes,
                };
                let l = lay_out(program, policy, &zeros, trial, &Blindings::default())?;
                let (rows, table_rows) = (l.rows(), l.table_rows());
                let need = rows.max(table_rows) + RESERVED_ROWS;
                let k = need.next_power_of_two().trailing_zeros().max(4);
                let shape = Shape {
                    gates: l.gates_used(),
                    ..trial
                };
                let cost = (1u64 << k) * committed_polys(shape);
                let p = Plan {
                    shape,
                    k,
                    rows,
                    table_rows,
                };
                if best.is_none_or(|(c, _)| cost < c) {
                    best = Some((cost, p));
                }
                if rows >= table_rows {
                    break; // a narrower table cannot shrink the circuit any more
                }
            }
        }
    }
    let best = best.map(|b| b.1);
    let best = best.ok_or_else(|| Halo2Error::Internal("no layout".into()))?;
    if best.k > MAX_K {
        return Err(Halo2Error::TooLarge {
            k: best.k,
            max: MAX_K,
        });
    }
    Ok(best)
}

/// Polynomials a proof commits to and extends, roughly: each general lane is an advice column,
/// a fixed coefficient column and a permutation column; each range lane adds a column, its
/// permutation column and a lookup argument (three more polynomials); the rest is a constant.
fn committed_polys(shape: Shape) -> u64 {
    3 * shape.lanes as u64 + 5 * shape.range_lanes as u64 + 30
}

pub(crate) fn zero_values(program: &Program) -> Vec<Vec<i64>> {
    program
        .tensors
        .iter()
        .map(|t| vec![0; t.shape.iter().product()])
        .collect()
}

/// Public tensors in the order the layout binds them to the instance column.
fn public_tensors(program: &Program, policy: VisibilityPolicy) -> Vec<PublicSpec> {
    let mut out = Vec::new();
    let spec = |id: TensorId| {
        let t = program.info(id);
        PublicSpec {
            tensor: id,
            len: t.shape.iter().product(),
            lo: t.range.lo,
            hi: t.range.hi,
        }
    };
    for (i, t) in program.tensors.iter().enumerate() {
        let vis = match t.kind {
            TensorKind::Input => policy.input,
            TensorKind::Weight => policy.weights,
            TensorKind::Activation => continue,
        };
        if vis == Visibility::Public {
            out.push(spec(TensorId(i as u32)));
        }
    }
    if policy.output == Visibility::Public {
        for &id in &program.outputs {
            out.push(spec(id));
        }
    }
    out
}

/// The instance column of a statement: digest limbs, the public values of each tensor packed
/// `Packing::new(lo, hi)` to a field element (as the circuit packs them), then commitments.
/// `public` is the key's list, which [`check_statement`] has matched against the statement.
pub fn instances(statement: &Statement, public: &[PublicSpec]) -> Vec<Fr> {
    let d = statement.digest();
    let mut lo = [0u8; 32];
    let mut hi = [0u8; 32];
    lo[..16].copy_from_slice(&d[..16]);
    hi[..16].copy_from_slice(&d[16..]);
    let mut out = Vec::with_capacity(DIGEST_ROWS);
    for limb in [lo, hi] {
        out.push(crate::field::from_bytes(&limb).unwrap_or_else(Fr::zero));
    }
    for (p, spec) in statement.public.iter().zip(public) {
        let packing = crate::poseidon::Packing::new(spec.lo, spec.hi);
        out.extend(crate::poseidon::pack(&p.values, packing));
    }
    for c in &statement.commitments {
        out.push(commitment_fr(&c.bytes).unwrap_or_else(Fr::zero));
    }
    out
}

/// A commitment's field element from its 32 little-endian bytes (canonical only).
pub fn commitment_fr(bytes: &[u8]) -> Option<Fr> {
    let b: [u8; 32] = bytes.try_into().ok()?;
    crate::field::from_bytes(&b)
}

/// Roles committed under a policy, in instance order.
pub fn hashed_roles(policy: VisibilityPolicy) -> Vec<Role> {
    let mut out = Vec::new();
    for (role, vis) in [
        (Role::Input, policy.input),
        (Role::Weights, policy.weights),
        (Role::Output, policy.output),
    ] {
        if vis == Visibility::Hashed {
            out.push(role);
        }
    }
    out
}

/// The commitment `prove` would publish for one role of a run, computed natively (what
/// `vouch commit` prints before any proof exists).
pub fn native_commitment(program: &Program, values: &[Vec<i64>], role: Role, blinding: Fr) -> Fr {
    let ids: Vec<TensorId> = match role {
        Role::Input => kind_ids(program, TensorKind::Input),
        Role::Weights => kind_ids(program, TensorKind::Weight),
        Role::Output => program.outputs.clone(),
    };
    let tensors: Vec<(&[i64], i64, i64)> = ids
        .iter()
        .map(|id| {
            let r = program.info(*id).range;
            let v: &[i64] = match role {
                Role::Weights => program.weight(*id).unwrap_or(&[]),
                _ => values.get(id.index()).map_or(&[], Vec::as_slice),
            };
            (v, r.lo, r.hi)
        })
        .collect();
    crate::poseidon::commit(commitment_tag(role), blinding, &tensors)
}

/// The sponge's domain tag for a role's commitment. Inputs and outputs share one tag, so the
/// output commitment of one proof is, value for value, the input commitment of the next: that is
/// how proofs chain through hidden intermediates (image edits, photo -> model). Weights keep
/// their own tag, so a weights commitment never opens as activations.
pub fn commitment_tag(role: Role) -> u8 {
    match role {
        Role::Input | Role::Output => 0,
        Role::Weights => 1,
    }
}

fn kind_ids(program: &Program, kind: TensorKind) -> Vec<TensorId> {
    (0..program.tensors.len())
        .filter(|&i| program.tensors[i].kind == kind)
        .map(|i| TensorId(i as u32))
        .collect()
}

/// The layout choices a prover made (lane counts and range-table width). Any valid choice gives
/// a circuit that proves the same program, so a verifier may take them from a proof and
/// re-derive the key itself instead of trusting a key the prover sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LaneChoice {
    pub lanes: u32,
    pub range_lanes: u32,
    pub range_bits: u32,
}

impl From<Shape> for LaneChoice {
    fn from(s: Shape) -> Self {
        LaneChoice {
            lanes: s.lanes,
            range_lanes: s.range_lanes,
            range_bits: s.range_bits,
        }
    }
}

/// The plan of `program` under one given lane choice (a single layout pass, no search).
pub fn plan_for(
    program: &Program,
    policy: VisibilityPolicy,
    choice: LaneChoice,
) -> Result<Plan, Halo2Error> {
    Ok(plan_and_layout(program, policy, choice)?.0)
}

/// [`plan_for`] with the zero-witness layout it made, which key generation reuses.
fn plan_and_layout(
    program: &Program,
    policy: VisibilityPolicy,
    choice: LaneChoice,
) -> Result<(Plan, crate::layout::Layout), Halo2Error> {
    use crate::config::{LANE_CHOICES, RANGE_LANE_CHOICES};
    if !LANE_CHOICES.contains(&choice.lanes)
        || !RANGE_LANE_CHOICES.contains(&choice.range_lanes)
        || !(8..=16).contains(&choice.range_bits)
    {
        return Err(Halo2Error::Key(format!(
            "unsupported layout: {} lanes, {} range lanes, {}-bit range table",
            choice.lanes, choice.range_lanes, choice.range_bits
        )));
    }
    let trial = Shape {
        range_bits: choice.range_bits,
        gates: crate::config::gate::ALL,
        range_lanes: choice.range_lanes,
        lanes: choice.lanes,
    };
    let l = lay_out(
        program,
        policy,
        &zero_values(program),
        trial,
        &Blindings::default(),
    )?;
    let (rows, table_rows) = (l.rows(), l.table_rows());
    let need = rows.max(table_rows) + RESERVED_ROWS;
    let k = need.next_power_of_two().trailing_zeros().max(4);
    if k > MAX_K {
        return Err(Halo2Error::TooLarge { k, max: MAX_K });
    }
    let plan = Plan {
        shape: Shape {
            gates: l.gates_used(),
            ..trial
        },
        k,
        rows,
        table_rows,
    };
    Ok((plan, l))
}

impl Halo2Backend {
    fn keygen(
        &self,
        program: &Program,
        policy: VisibilityPolicy,
    ) -> Result<(Halo2ProvingKey, Halo2VerifyingKey), Halo2Error> {
        self.setup_planned(program, policy, plan(program, policy)?)
    }

    /// Keys for a program laid out as `plan` says (from [`plan`] or [`plan_for`]).
    pub fn setup_planned(
        &self,
        program: &Program,
        policy: VisibilityPolicy,
        plan: Plan,
    ) -> Result<(Halo2ProvingKey, Halo2VerifyingKey), Halo2Error> {
        let (vk, circuit) = self.verifying_key_planned(program, policy, plan)?;
        let pk = keygen_pk(vk.params.as_ref(), vk.vk.clone(), &circuit)?;
        Ok((
            Halo2ProvingKey {
                program: Arc::new(program.clone()),
                info: vk.info.clone(),
                params: vk.params.clone(),
                pk,
            },
            vk,
        ))
    }

    /// The verifying key alone, derived here from the program: what a verifier uses when the
    /// prover is not trusted to supply keys.
    pub fn verifying_key_for(
        &self,
        program: &Program,
        policy: VisibilityPolicy,
        choice: LaneChoice,
    ) -> Result<Halo2VerifyingKey, Halo2Error> {
        let (plan, layout) = plan_and_layout(program, policy, choice)?;
        Ok(self
            .verifying_key_laid_out(program, policy, plan, layout)?
            .0)
    }

    fn verifying_key_planned(
        &self,
        program: &Program,
        policy: VisibilityPolicy,
        plan: Plan,
    ) -> Result<(Halo2VerifyingKey, VouchCircuit), Halo2Error> {
        let layout = lay_out(
            program,
            policy,
            &zero_values(program),
            plan.shape,
            &Blindings::default(),
        )?;
        self.verifying_key_laid_out(program, policy, plan, layout)
    }

    fn verifying_key_laid_out(
        &self,
        program: &Program,
        policy: VisibilityPolicy,
        plan: Plan,
        layout: crate::layout::Layout,
    ) -> Result<(Halo2VerifyingKey, VouchCircuit), Halo2Error> {
        if policy.input == Visibility::Fixed {
            return Err(Halo2Error::Unsupported(
                "fixed visibility for inputs (use public, private or hashed)".into(),
            ));
        }
        let loaded = self.srs.params(plan.k)?;
        let (params, srs_digest, insecure) = (loaded.params, loaded.digest, loaded.insecure);
        let circuit = VouchCircuit {
            layout: Arc::new(layout),
            shape: plan.shape,
        };
        let vk = keygen_vk_custom(params.as_ref(), &circuit, false)?;
        let info = KeyInfo {
            program_digest: program.digest(),
            policy,
            shape: plan.shape,
            k: plan.k,
            public: public_tensors(program, policy),
            srs_digest,
            insecure_setup: insecure,
        };
        Ok((Halo2VerifyingKey { info, params, vk }, circuit))
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

    /// Proves with fresh random blindings (a new commitment per proof).
    fn prove(
        &self,
        pk: &Halo2ProvingKey,
        witness: &Witness,
    ) -> Result<(Statement, Halo2Proof), Halo2Error> {
        let r = || <Fr as halo2_axiom::halo2curves::ff::Field>::random(OsRng);
        let blindings = Blindings {
            input: r(),
            weights: r(),
            output: r(),
        };
        self.prove_with(pk, witness, &blindings)
    }

    fn verify(
        &self,
        vk: &Halo2VerifyingKey,
        statement: &Statement,
        proof: &Halo2Proof,
    ) -> Result<(), Halo2Error> {
        self.verify_impl(vk, statement, proof)
    }
}

impl Halo2Backend {
    /// Proves with given blindings: a provider reuses the weights' blinding of its published
    /// commitment so every proof shows the same model commitment.
    pub fn prove_with(
        &self,
        pk: &Halo2ProvingKey,
        witness: &Witness,
        blindings: &Blindings,
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
        let layout = lay_out(program, info.policy, &witness.values, info.shape, blindings)?;
        let commitments: Vec<Commitment> = hashed_roles(info.policy)
            .into_iter()
            .map(|role| {
                let b = match role {
                    Role::Input => blindings.input,
                    Role::Weights => blindings.weights,
                    Role::Output => blindings.output,
                };
                let c = native_commitment(program, &witness.values, role, b);
                Commitment {
                    role,
                    bytes: crate::field::to_bytes(&c).to_vec(),
                }
            })
            .collect();
        let statement = Statement {
            program_digest: info.program_digest,
            backend: self.name().to_string(),
            params_digest: info.params_digest(pk.pk.get_vk()),
            visibility: info.policy,
            public: info
                .public
                .iter()
                .map(|p| PublicTensor {
                    tensor: p.tensor,
                    values: witness.values[p.tensor.index()].clone(),
                })
                .collect(),
            commitments,
            insecure_setup: info.insecure_setup,
        };
        let inst = instances(&statement, &info.public);
        if inst[DIGEST_ROWS..] != layout.public_values[..] {
            // The circuit recomputes every node from the inputs: a witness whose claimed
            // outputs differ is not a run of this program.
            return Err(Halo2Error::Witness(
                "the witness's public values are not what the program computes from its inputs"
                    .into(),
            ));
        }
        let proof = Self::prove_layout(pk, layout, &statement)?;
        Ok((statement, proof))
    }

    /// Proves whatever `layout` assigns, against `statement`'s instance column. Honest callers
    /// go through [`Halo2Backend::prove_with`]; soundness tests use this to play a cheating
    /// prover that edits cells, and the verifier must reject the result.
    pub fn prove_layout(
        pk: &Halo2ProvingKey,
        layout: crate::layout::Layout,
        statement: &Statement,
    ) -> Result<Halo2Proof, Halo2Error> {
        let inst = instances(statement, &pk.info.public);
        let circuit = VouchCircuit {
            layout: Arc::new(layout),
            shape: pk.info.shape,
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
        Ok(Halo2Proof {
            bytes: transcript.finalize(),
        })
    }

    fn verify_impl(
        &self,
        vk: &Halo2VerifyingKey,
        statement: &Statement,
        proof: &Halo2Proof,
    ) -> Result<(), Halo2Error> {
        check_statement(vk, statement)?;
        let inst = instances(statement, &vk.info.public);
        let mut cursor = Cursor::new(proof.bytes.as_slice());
        let mut transcript = crate::transcript::CanonicalRead::new(&mut cursor);
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
    if s.public.len() != info.public.len() {
        return bad("public tensors of the statement differ from the key's".into());
    }
    for (p, spec) in s.public.iter().zip(&info.public) {
        if p.tensor != spec.tensor || p.values.len() != spec.len {
            return bad("public tensors of the statement differ from the key's".into());
        }
        if let Some(v) = p.values.iter().find(|&&v| v < spec.lo || v > spec.hi) {
            return bad(format!(
                "public value {v} of tensor {} is outside its range [{}, {}]",
                spec.tensor.0, spec.lo, spec.hi
            ));
        }
    }
    let roles: Vec<Role> = s.commitments.iter().map(|c| c.role).collect();
    if roles != hashed_roles(info.policy) {
        return bad("commitments of the statement do not match the key's policy".into());
    }
    if s.commitments
        .iter()
        .any(|c| commitment_fr(&c.bytes).is_none())
    {
        return bad("a commitment is not a canonical field element".into());
    }
    Ok(())
}
