//! The proving workflow: [`setup_keys`] makes keys for a model under a visibility policy,
//! [`prove`] runs the model on an input and proves the run, [`verify`] checks a proof file
//! against keys. Each dispatches on the backend ([`BackendKind`]): halo2 (KZG on BN254, a
//! trusted setup, every policy) or gkr (sumcheck/GKR with WHIR commitments, no trusted setup;
//! today only public inputs and outputs with fixed weights, see [`BackendKind::default_policy`]).
//!
//! **Security.** Keys made from [`Srs::InsecureDev`] come from parameters generated on this
//! machine: whoever ran the generator could forge proofs, so such keys and proofs prove nothing
//! to anyone else. Both carry an `insecure_setup` flag that [`Verdict::insecure_setup`] reports.
//!
//! [`verify`] separates two failures: a proof it could read but does not accept is a
//! [`Verdict`] with a [`Rejection`] (the answer "no"), while inputs it cannot judge at all are
//! errors. Malformed files are already errors when read ([`ProofFile::read`],
//! [`KeysDir::read`]).

use std::panic::AssertUnwindSafe;
use std::time::{Duration, Instant};

use serde::Serialize;
use vouch_backend::{Backend, Role, Statement, Visibility, VisibilityPolicy, Witness};
use vouch_gkr::backend::GkrBackend;
use vouch_gkr::program::ProgramProof;
use vouch_halo2::{native_commitment, plan, Blindings, Halo2Backend, Halo2Error, Halo2Proof, Srs};
use vouch_ir::{interp, Digest, TensorId, TensorKind};
use vouch_onnx::quantize::Sample;

use crate::artifact::{
    from_hex, gkr_public_tensors, gkr_shape, hex, BackendKey, KeysDir, KeysSummary, ModelPackage,
    ProofFile, ProofMeta, TensorSummary, GKR_PROGRAM_FILE, HALO2_VK_FILE, KEYS_FORMAT,
    KEYS_VERSION, WEIGHTS_BLINDING_FILE,
};
use crate::error::VouchError;
use crate::model::{output_values, quantize_inputs, OutputValue};

// ----- backends --------------------------------------------------------------------------------

/// The proving backends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BackendKind {
    /// PLONKish proofs with KZG commitments on BN254: needs KZG parameters (an SRS).
    Halo2,
    /// Sumcheck/GKR proofs with hiding WHIR commitments over Goldilocks: no trusted setup.
    Gkr,
}

impl BackendKind {
    pub const ALL: [BackendKind; 2] = [BackendKind::Halo2, BackendKind::Gkr];

    /// The name in statements, keys and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            BackendKind::Halo2 => "halo2",
            BackendKind::Gkr => vouch_gkr::backend::BACKEND_NAME,
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|b| b.name() == s)
    }

    /// The policy when none is chosen: [`Preset::Provider`] for halo2; for gkr the only one
    /// it proves today, input public, weights fixed, output public.
    pub fn default_policy(self) -> VisibilityPolicy {
        match self {
            BackendKind::Halo2 => Preset::Provider.policy(),
            BackendKind::Gkr => VisibilityPolicy {
                input: Visibility::Public,
                weights: Visibility::Fixed,
                output: Visibility::Public,
            },
        }
    }

    /// The soundness the backend targets, in words; `None` where it is not stated here.
    pub fn security_level(self) -> Option<String> {
        match self {
            BackendKind::Halo2 => None,
            BackendKind::Gkr => Some(gkr_security_level()),
        }
    }
}

/// gkr's security level, from its constants: WHIR's bits per error term and proof-of-work
/// bits, and the size of the challenge field of the sumchecks and LogUp.
pub fn gkr_security_level() -> String {
    use vouch_gkr::pcs::{POW_BITS, SECURITY_BITS};
    format!(
        "~{SECURITY_BITS}-bit (WHIR {SECURITY_BITS} bits per error term, {POW_BITS} PoW bits; sumcheck/LogUp over a 2^{:.0} field)",
        vouch_gkr::field::ext_field_bits()
    )
}

/// What setup needs besides the model and the policy.
#[derive(Debug)]
pub enum SetupParams {
    /// halo2 with these KZG parameters.
    Halo2(Srs),
    /// gkr: nothing (no trusted setup).
    Gkr,
}

impl SetupParams {
    pub fn backend(&self) -> BackendKind {
        match self {
            SetupParams::Halo2(_) => BackendKind::Halo2,
            SetupParams::Gkr => BackendKind::Gkr,
        }
    }
}

impl From<Srs> for SetupParams {
    fn from(srs: Srs) -> Self {
        SetupParams::Halo2(srs)
    }
}

// ----- policies --------------------------------------------------------------------------------

/// Named visibility policies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Preset {
    /// A provider serving predictions: input and output public, weights committed (hashed).
    Provider,
    /// A user proving a result on private data: input committed (hashed), weights fixed in the
    /// key, output public.
    Client,
}

impl Preset {
    pub const ALL: [Preset; 2] = [Preset::Provider, Preset::Client];

    pub fn name(self) -> &'static str {
        match self {
            Preset::Provider => "provider",
            Preset::Client => "client",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.name() == s)
    }

    pub fn policy(self) -> VisibilityPolicy {
        match self {
            Preset::Provider => VisibilityPolicy::provider(),
            Preset::Client => VisibilityPolicy::client(),
        }
    }

    /// The preset that is exactly `policy`, if any.
    pub fn of(policy: VisibilityPolicy) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.policy() == policy)
    }
}

/// A policy given as a preset (default [`Preset::Provider`]) with per-role overrides.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PolicyChoice {
    pub preset: Option<Preset>,
    pub input: Option<Visibility>,
    pub weights: Option<Visibility>,
    pub output: Option<Visibility>,
}

impl PolicyChoice {
    /// The policy, from [`Preset::Provider`] when no preset is given.
    pub fn resolve(self) -> VisibilityPolicy {
        self.resolve_for(BackendKind::Halo2)
    }

    /// The policy, from the backend's [`BackendKind::default_policy`] when no preset is given.
    pub fn resolve_for(self, backend: BackendKind) -> VisibilityPolicy {
        let base = self
            .preset
            .map_or_else(|| backend.default_policy(), Preset::policy);
        VisibilityPolicy {
            input: self.input.unwrap_or(base.input),
            weights: self.weights.unwrap_or(base.weights),
            output: self.output.unwrap_or(base.output),
        }
    }
}

/// Lowercase name of a visibility, as the CLI spells it.
pub fn visibility_name(v: Visibility) -> &'static str {
    match v {
        Visibility::Public => "public",
        Visibility::Hashed => "hashed",
        Visibility::Private => "private",
        Visibility::Fixed => "fixed",
    }
}

pub fn parse_visibility(s: &str) -> Option<Visibility> {
    [
        Visibility::Public,
        Visibility::Hashed,
        Visibility::Private,
        Visibility::Fixed,
    ]
    .into_iter()
    .find(|&v| visibility_name(v) == s)
}

/// `input public, weights fixed, output public`, plus the preset's name when it is one.
pub fn describe_policy(p: VisibilityPolicy) -> String {
    let roles = format!(
        "input {}, weights {}, output {}",
        visibility_name(p.input),
        visibility_name(p.weights),
        visibility_name(p.output)
    );
    match Preset::of(p) {
        Some(preset) => format!("{} ({roles})", preset.name()),
        None => roles,
    }
}

pub fn role_name(r: Role) -> &'static str {
    match r {
        Role::Input => "input",
        Role::Weights => "weights",
        Role::Output => "output",
    }
}

// ----- setup -----------------------------------------------------------------------------------

/// Makes keys for the package's model under `policy`: halo2 keys with KZG parameters from an
/// [`Srs`] (which converts into [`SetupParams`]), or gkr keys ([`SetupParams::Gkr`]).
///
/// A policy gkr cannot prove yet is a [`VouchError::Gkr`] holding
/// `ProgramError::Plan(PlanError::Visibility { .. })`.
pub fn setup_keys(
    pkg: &ModelPackage,
    policy: VisibilityPolicy,
    params: impl Into<SetupParams>,
) -> Result<KeysDir, VouchError> {
    match params.into() {
        SetupParams::Halo2(srs) => setup_halo2(pkg, policy, srs),
        SetupParams::Gkr => setup_gkr(pkg, policy),
    }
}

/// gkr keys: the program, the policy and the plan lowered from them.
fn setup_gkr(pkg: &ModelPackage, policy: VisibilityPolicy) -> Result<KeysDir, VouchError> {
    let program = &pkg.program;
    let (_pk, key) = GkrBackend.setup(program, policy)?;
    let program_bytes = program.encode();
    let (k, rows, table_rows, range_bits) = gkr_shape(&key);
    let summary = KeysSummary {
        format: KEYS_FORMAT.into(),
        version: KEYS_VERSION,
        backend: BackendKind::Gkr.name().into(),
        model_digest: key.digest,
        model_source: pkg.meta.source.clone(),
        preset: Preset::of(policy).map(|p| p.name().to_string()),
        policy,
        k,
        rows,
        table_rows,
        range_bits,
        lanes: 0,
        public: gkr_public_tensors(program, policy)
            .into_iter()
            .map(|id| tensor_summary(pkg, id))
            .collect(),
        srs_sha256: String::new(),
        insecure_setup: false,
        vk_file: GKR_PROGRAM_FILE.into(),
        vk_sha256: hex(&sha256(&program_bytes)),
        vk_bytes: program_bytes.len(),
        params_digest: Some(hex(&vouch_gkr::backend::params_digest())),
        weights_commitment: None,
        vouch_version: env!("CARGO_PKG_VERSION").into(),
    };
    Ok(KeysDir {
        summary,
        key: BackendKey::Gkr(Box::new(key)),
        vk_bytes: program_bytes,
        weights_blinding: None,
    })
}

/// halo2 keys with KZG parameters from `srs`.
fn setup_halo2(
    pkg: &ModelPackage,
    policy: VisibilityPolicy,
    srs: Srs,
) -> Result<KeysDir, VouchError> {
    let program = &pkg.program;
    let backend = Halo2Backend { srs };
    let (_pk, vk) = backend
        .setup(program, policy)
        .map_err(|e| setup_error(e, policy))?;
    let plan = plan(program, policy)?;
    let vk_bytes = vk.encode();
    // Hashed weights get one secret blinding for all proofs, so every proof shows the same,
    // published weights commitment.
    let weights_blinding = (policy.weights == Visibility::Hashed).then(random_scalar);
    let weights_commitment = match weights_blinding {
        Some(b) => Some(weights_commitment(pkg, &b)?),
        None => None,
    };
    let info = &vk.info;
    let summary = KeysSummary {
        format: KEYS_FORMAT.into(),
        version: KEYS_VERSION,
        backend: BackendKind::Halo2.name().into(),
        model_digest: info.program_digest,
        model_source: pkg.meta.source.clone(),
        preset: Preset::of(policy).map(|p| p.name().to_string()),
        policy,
        k: info.k,
        rows: plan.rows,
        table_rows: plan.table_rows,
        range_bits: info.shape.range_bits,
        lanes: info.shape.lanes,
        public: info
            .public
            .iter()
            .map(|p| tensor_summary(pkg, p.tensor))
            .collect(),
        srs_sha256: hex(&info.srs_digest),
        insecure_setup: info.insecure_setup,
        vk_file: HALO2_VK_FILE.into(),
        vk_sha256: hex(&sha256(&vk_bytes)),
        vk_bytes: vk_bytes.len(),
        params_digest: None,
        weights_commitment,
        vouch_version: env!("CARGO_PKG_VERSION").into(),
    };
    Ok(KeysDir {
        summary,
        key: BackendKey::Halo2(Box::new(vk)),
        vk_bytes,
        weights_blinding,
    })
}

/// 32 random little-endian bytes below `2^253`, hence a canonical BN254 scalar.
pub(crate) fn random_scalar() -> [u8; 32] {
    use rand_core::RngCore;
    let mut b = [0u8; 32];
    rand_core::OsRng.fill_bytes(&mut b);
    b[31] &= 0x1f;
    b
}

fn not_a_scalar() -> VouchError {
    VouchError::Format {
        what: WEIGHTS_BLINDING_FILE.into(),
        msg: "not a canonical BN254 scalar".into(),
    }
}

/// The weights commitment a provider publishes, recomputed from the model and the keys
/// directory's secret blinding (no proof involved), and checked against `keys.json`.
pub fn commit_weights(pkg: &ModelPackage, keys: &KeysDir) -> Result<String, VouchError> {
    let bad = |msg: String| VouchError::Data {
        what: "keys".into(),
        msg,
    };
    if keys.digest() != pkg.digest() {
        return Err(bad(format!(
            "made for model {}, but the package is model {}",
            keys.digest(),
            pkg.digest()
        )));
    }
    let (Some(published), Some(b)) = (&keys.summary.weights_commitment, keys.weights_blinding)
    else {
        return Err(bad(format!(
            "no weights commitment: the keys do not hash the weights, or {WEIGHTS_BLINDING_FILE} is missing"
        )));
    };
    let c = weights_commitment(pkg, &b)?;
    if c != *published {
        return Err(bad(format!(
            "{WEIGHTS_BLINDING_FILE} and this model's weights do not give the weights commitment in keys.json"
        )));
    }
    Ok(c)
}

/// Hex of the commitment to the package's weights under `blinding`.
fn weights_commitment(pkg: &ModelPackage, blinding: &[u8; 32]) -> Result<String, VouchError> {
    let b = vouch_halo2::field::from_bytes(blinding).ok_or_else(not_a_scalar)?;
    let c = native_commitment(&pkg.program, &[], Role::Weights, b);
    Ok(hex(&vouch_halo2::field::to_bytes(&c)))
}

/// Says what to do when the backend cannot prove a policy yet.
fn setup_error(e: Halo2Error, policy: VisibilityPolicy) -> VouchError {
    let hashed = [policy.input, policy.weights, policy.output].contains(&Visibility::Hashed);
    match e {
        Halo2Error::Unsupported(msg) if hashed => VouchError::Unsupported(format!(
            "{msg}: the policy ({}) commits tensors with hashes, which the halo2 backend cannot prove yet; choose `fixed`, `private` or `public` for the hashed roles",
            describe_policy(policy)
        )),
        e => e.into(),
    }
}

fn sha256(bytes: &[u8]) -> [u8; 32] {
    use sha2::Digest as _;
    sha2::Sha256::digest(bytes).into()
}

/// A tensor of the package's program, named as in the source model where it is an input or an
/// output.
fn tensor_summary(pkg: &ModelPackage, id: TensorId) -> TensorSummary {
    let program = &pkg.program;
    let info = program.info(id);
    let source_name = |ids: &[TensorId], names: &[String]| {
        ids.iter()
            .position(|&t| t == id)
            .and_then(|k| names.get(k).cloned())
    };
    let (role, name) = match info.kind {
        TensorKind::Input => (
            Role::Input,
            source_name(&program.inputs, &pkg.meta.input_names),
        ),
        TensorKind::Weight => (Role::Weights, None),
        TensorKind::Activation => (
            Role::Output,
            source_name(&program.outputs, &pkg.meta.output_names),
        ),
    };
    TensorSummary {
        tensor: id,
        role,
        name: name.unwrap_or_else(|| info.name.clone()),
        shape: info.shape.clone(),
        scale: info.scale,
    }
}

// ----- prove -----------------------------------------------------------------------------------

/// Steps of [`prove_with`], reported as they start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Running the model with the reference interpreter (the witness).
    Run,
    /// Deriving the proving key from the model and the verifying key.
    ProvingKey,
    /// Creating the proof.
    Prove,
}

impl Phase {
    pub fn describe(self) -> &'static str {
        match self {
            Phase::Run => "running the model",
            Phase::ProvingKey => "deriving the proving key",
            Phase::Prove => "proving",
        }
    }
}

/// Time spent in each phase of [`prove`].
#[derive(Clone, Copy, Debug, Default)]
pub struct ProveTimings {
    pub run: Duration,
    pub proving_key: Duration,
    pub prove: Duration,
}

/// A proof with the outputs it attests.
#[derive(Debug)]
pub struct Proved {
    pub file: ProofFile,
    /// The model's outputs: integers (what the proof attests when outputs are public) and
    /// their real values.
    pub outputs: Vec<OutputValue>,
    pub timings: ProveTimings,
}

/// Runs the model on real inputs and proves the run with the keys.
pub fn prove(pkg: &ModelPackage, keys: &KeysDir, sample: &Sample) -> Result<Proved, VouchError> {
    prove_with(pkg, keys, sample, |_| {})
}

/// [`prove`], calling `on_phase` as each phase starts.
pub fn prove_with(
    pkg: &ModelPackage,
    keys: &KeysDir,
    sample: &Sample,
    mut on_phase: impl FnMut(Phase),
) -> Result<Proved, VouchError> {
    let digest = pkg.digest();
    if digest != keys.digest() {
        return Err(VouchError::Data {
            what: "keys".into(),
            msg: format!(
                "made for model {}, but the package is model {digest}; run `vouch setup` for this model",
                keys.digest()
            ),
        });
    }
    let program = &pkg.program;
    // halo2 blindings are checked before anything runs: a keys directory that cannot prove
    // under its published weights commitment fails at once.
    let prover = match &keys.key {
        BackendKey::Halo2(vk) => Prover::Halo2(vk, halo2_blindings(pkg, keys)?),
        BackendKey::Gkr(key) => Prover::Gkr(key),
    };
    on_phase(Phase::Run);
    let t = Instant::now();
    let inputs = quantize_inputs(program, sample)?;
    let trace = interp::run(program, &inputs)?;
    let outputs = output_values(pkg, &trace);
    let witness: Witness = trace.into();
    let run = t.elapsed();

    let (statement, proof, k, proving_key, prove) = match prover {
        Prover::Halo2(vk, blindings) => {
            on_phase(Phase::ProvingKey);
            let t = Instant::now();
            let pk = vk.proving_key(program)?;
            let proving_key = t.elapsed();

            on_phase(Phase::Prove);
            let t = Instant::now();
            let (statement, proof) = keyed_backend().prove_with(&pk, &witness, &blindings)?;
            (statement, proof.bytes, vk.info.k, proving_key, t.elapsed())
        }
        Prover::Gkr(key) => {
            // The key was derived from the program when the keys directory was read.
            on_phase(Phase::Prove);
            let t = Instant::now();
            let (statement, proof) = GkrBackend.prove(key, &witness)?;
            let k = key.plan.trace_vars as u32;
            (statement, proof.to_bytes(), k, Duration::ZERO, t.elapsed())
        }
    };

    let meta = ProofMeta {
        k,
        outputs: program
            .outputs
            .iter()
            .map(|&id| tensor_summary(pkg, id))
            .collect(),
        vouch_version: env!("CARGO_PKG_VERSION").into(),
    };
    Ok(Proved {
        file: ProofFile {
            statement,
            proof,
            meta,
        },
        outputs,
        timings: ProveTimings {
            run,
            proving_key,
            prove,
        },
    })
}

/// A backend's key, ready to prove.
enum Prover<'k> {
    Halo2(&'k vouch_halo2::Halo2VerifyingKey, Blindings),
    Gkr(&'k vouch_gkr::backend::GkrKey),
}

/// The blindings of a halo2 proof: fresh for input and output, and for the weights the keys
/// directory's secret (checked against the published commitment) when the weights are hashed.
fn halo2_blindings(pkg: &ModelPackage, keys: &KeysDir) -> Result<Blindings, VouchError> {
    let weights = match (&keys.summary.weights_commitment, keys.weights_blinding) {
        (None, _) => random_scalar(),
        (Some(_), None) => {
            return Err(VouchError::Data {
                what: "keys".into(),
                msg: format!(
                    "the weights are hashed and the keys directory has no {WEIGHTS_BLINDING_FILE}: only the holder of the setup's secret blinding can prove under its weights commitment"
                ),
            })
        }
        (Some(published), Some(b)) => {
            if weights_commitment(pkg, &b)? != *published {
                return Err(VouchError::Data {
                    what: "keys".into(),
                    msg: format!(
                        "{WEIGHTS_BLINDING_FILE} and this model's weights do not give the weights commitment in keys.json"
                    ),
                });
            }
            b
        }
    };
    let scalar = |b: &[u8; 32]| vouch_halo2::field::from_bytes(b).ok_or_else(not_a_scalar);
    Ok(Blindings {
        input: scalar(&random_scalar())?,
        weights: scalar(&weights)?,
        output: scalar(&random_scalar())?,
    })
}

/// The backend for proving and verifying: both take their KZG parameters from the keys, so
/// the SRS (read only by setup) is never used here.
fn keyed_backend() -> Halo2Backend {
    Halo2Backend {
        srs: Srs::InsecureDev,
    }
}

// ----- verify ----------------------------------------------------------------------------------

/// A commitment the verifier expects the statement to carry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExpectedCommitment {
    /// The role it must commit to; `None` accepts any role.
    pub role: Option<Role>,
    pub bytes: Vec<u8>,
}

/// Why a `HEX` / `ROLE:HEX` commitment did not parse.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CommitmentParseError {
    #[error("role '{0}' is not input, weights or output")]
    Role(String),
    #[error("expected hex bytes (HEX or ROLE:HEX)")]
    Hex,
}

/// Parses what `vouch commit` prints and clients pin: `HEX`, or `ROLE:HEX` to require the
/// role too.
impl std::str::FromStr for ExpectedCommitment {
    type Err = CommitmentParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (role, h) = match s.split_once(':') {
            Some((r, h)) => {
                let role = match r {
                    "input" => Role::Input,
                    "weights" => Role::Weights,
                    "output" => Role::Output,
                    _ => return Err(CommitmentParseError::Role(r.to_string())),
                };
                (Some(role), h)
            }
            None => (None, s),
        };
        let bytes = crate::artifact::from_hex(h)
            .filter(|b| !b.is_empty())
            .ok_or(CommitmentParseError::Hex)?;
        Ok(ExpectedCommitment { role, bytes })
    }
}

/// Which check turned a proof down.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Check {
    /// The statement is not about the keys' model, policy or parameters.
    Keys,
    /// The statement is about another model than the one expected.
    ModelDigest,
    /// The statement lacks the expected commitment.
    Commitment,
    /// The proof does not verify.
    Proof,
}

/// Why a proof was not accepted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Rejection {
    pub check: Check,
    pub reason: String,
}

/// The answer of [`verify`].
#[derive(Clone, Debug)]
pub struct Verdict {
    pub statement: Statement,
    /// The keys or the statement come from an insecure (locally generated) setup.
    pub insecure_setup: bool,
    /// `None` when the proof is valid.
    pub rejection: Option<Rejection>,
}

impl Verdict {
    pub fn is_valid(&self) -> bool {
        self.rejection.is_none()
    }
}

/// Checks a proof against keys and, optionally, the model digest and a commitment the verifier
/// expects. Returns a [`Verdict`] for any proof of the keys' backend (valid or not); errors
/// only for a proof no check can apply to (another backend's).
pub fn verify(
    proof: &ProofFile,
    keys: &KeysDir,
    expected_digest: Option<Digest>,
    expected_commitment: Option<&ExpectedCommitment>,
) -> Result<Verdict, VouchError> {
    let s = &proof.statement;
    if s.backend != keys.summary.backend {
        return Err(VouchError::Data {
            what: "proof".into(),
            msg: format!(
                "made with the {} backend; the keys are {} keys",
                s.backend, keys.summary.backend
            ),
        });
    }
    let rejection = check(proof, keys, expected_digest, expected_commitment).err();
    Ok(Verdict {
        statement: s.clone(),
        insecure_setup: s.insecure_setup || keys.insecure_setup(),
        rejection,
    })
}

fn check(
    proof: &ProofFile,
    keys: &KeysDir,
    expected_digest: Option<Digest>,
    expected_commitment: Option<&ExpectedCommitment>,
) -> Result<(), Rejection> {
    let s = &proof.statement;
    let reject = |check: Check, reason: String| Err(Rejection { check, reason });
    let (keys_digest, keys_policy) = (keys.digest(), keys.policy());
    if s.program_digest != keys_digest {
        return reject(
            Check::Keys,
            format!(
                "the proof is about model {}, the keys are for model {keys_digest}",
                s.program_digest
            ),
        );
    }
    if s.visibility != keys_policy {
        return reject(
            Check::Keys,
            format!(
                "the proof's visibility ({}) differs from the keys' ({})",
                describe_policy(s.visibility),
                describe_policy(keys_policy)
            ),
        );
    }
    if let Some(want) = expected_digest {
        if s.program_digest != want {
            return reject(
                Check::ModelDigest,
                format!(
                    "the proof is about model {}, not the expected {want}",
                    s.program_digest
                ),
            );
        }
    }
    if let Some(want) = expected_commitment {
        let found = s
            .commitments
            .iter()
            .any(|c| c.bytes == want.bytes && want.role.is_none_or(|r| r == c.role));
        if !found {
            let what = match want.role {
                Some(r) => format!("{} commitment", role_name(r)),
                None => "commitment".into(),
            };
            let has = if s.commitments.is_empty() {
                "the proof carries no commitments".to_string()
            } else {
                format!("the proof commits to {}", commitment_list(s))
            };
            return reject(
                Check::Commitment,
                format!(
                    "the expected {what} {} is not in the statement; {has}",
                    hex(&want.bytes)
                ),
            );
        }
    }
    if let Some(published) = &keys.summary.weights_commitment {
        let published = from_hex(published).unwrap_or_default();
        let ok = s
            .commitments
            .iter()
            .any(|c| c.role == Role::Weights && c.bytes == published);
        if !ok {
            return reject(
                Check::Commitment,
                format!(
                    "the proof's weights commitment is not the one the keys publish ({}); it is about other weights",
                    hex(&published)
                ),
            );
        }
    }
    // The verifier must not panic on hostile bytes; should the proving stack do so anyway,
    // the proof is turned down rather than the process brought down.
    let result = std::panic::catch_unwind(AssertUnwindSafe(|| match &keys.key {
        BackendKey::Halo2(vk) => {
            let bytes = Halo2Proof {
                bytes: proof.proof.clone(),
            };
            keyed_backend().verify(vk, s, &bytes).map_err(|e| match e {
                Halo2Error::Invalid(reason) => reason,
                e => e.to_string(),
            })
        }
        BackendKey::Gkr(key) => ProgramProof::from_bytes(&proof.proof)
            .and_then(|p| GkrBackend.verify(key, s, &p))
            .map_err(|e| e.to_string()),
    }));
    match result {
        Ok(Ok(())) => Ok(()),
        Ok(Err(reason)) => reject(Check::Proof, reason),
        Err(_) => reject(
            Check::Proof,
            "the verifier failed on these proof bytes (a bug in the backend); the proof is not accepted"
                .into(),
        ),
    }
}

fn commitment_list(s: &Statement) -> String {
    s.commitments
        .iter()
        .map(|c| format!("{} {}", role_name(c.role), hex(&c.bytes)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// One public tensor of a statement, named and scaled from the keys' summary.
#[derive(Clone, Debug, Serialize)]
pub struct PublicValue {
    pub tensor: TensorId,
    /// `None` when the keys do not name the tensor.
    pub role: Option<&'static str>,
    pub name: String,
    pub shape: Vec<usize>,
    /// The integers the statement holds.
    pub quantized: Vec<i64>,
    /// `quantized * scale`, when the tensor has a scale.
    pub values: Option<Vec<f64>>,
}

/// The statement's public tensors, named and dequantized with the keys' summary.
pub fn public_values(statement: &Statement, keys: &KeysSummary) -> Vec<PublicValue> {
    statement
        .public
        .iter()
        .map(|p| {
            let known = keys.public.iter().find(|t| t.tensor == p.tensor);
            PublicValue {
                tensor: p.tensor,
                role: known.map(|t| role_name(t.role)),
                name: known.map_or_else(|| format!("tensor {}", p.tensor.0), |t| t.name.clone()),
                shape: known.map_or_else(|| vec![p.values.len()], |t| t.shape.clone()),
                quantized: p.values.clone(),
                values: known
                    .and_then(|t| t.scale)
                    .map(|s| p.values.iter().map(|&v| v as f64 * s).collect()),
            }
        })
        .collect()
}
