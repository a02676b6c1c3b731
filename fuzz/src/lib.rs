//! Shared fixtures of Vouch's fuzz targets: one honest key, statement and proof per surface,
//! built once per process (`OnceLock`), and the honest encodings the seed corpora start from.
//! See `docs/fuzzing.md`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::OnceLock;

use p3_field::PrimeCharacteristicRing;
use sha2::{Digest as _, Sha256};
use vouch::artifact::{CalibrationInfo, KeysDir, ModelMeta, ModelPackage, ProofFile, ProofMeta};
use vouch_backend::conformance::op_cases;
use vouch_backend::{Backend, Statement, Visibility, VisibilityPolicy, Witness};
use vouch_gkr::backend::{GkrBackend, GkrKey};
use vouch_gkr::committed_matmul::{self, CommittedMatmulClaim};
use vouch_gkr::committed_range;
use vouch_gkr::field::{embed, EF};
use vouch_gkr::logup::{self, LookupClaim, LookupProof, Table};
use vouch_gkr::matmul::{self, MatmulClaim, MatmulProof, MatmulShape};
use vouch_gkr::pcs::{TensorCommitment, TensorPcs};
use vouch_gkr::program::ProgramProof;
use vouch_gkr::transcript::Transcript;
use vouch_halo2::{Halo2Backend, Halo2Proof, Halo2VerifyingKey, Srs};
use vouch_ir::{interp, Program, Tensor};

/// The conformance case every halo2 fixture proves (as in `crates/halo2/tests/hostile_input.rs`).
pub const CASE: &str = "Requant/per-channel";

/// Public input and output, fixed weights: everything the verifier checks is in the statement.
pub const POLICY: VisibilityPolicy = VisibilityPolicy {
    input: Visibility::Public,
    weights: Visibility::Fixed,
    output: Visibility::Public,
};

/// The backend: InsecureDev parameters (a fixed local setup; fine for fuzzing).
pub fn backend() -> Halo2Backend {
    Halo2Backend {
        srs: Srs::InsecureDev,
    }
}

fn case_program() -> (Program, Witness) {
    let case = op_cases()
        .into_iter()
        .find(|c| c.name.starts_with(CASE))
        .expect("conformance case");
    let w: Witness = interp::run(&case.program, &case.inputs)
        .expect("the case runs")
        .into();
    (case.program, w)
}

/// An honest halo2 key, statement and proof.
pub struct Halo2Fixture {
    pub vk: Halo2VerifyingKey,
    pub vk_bytes: Vec<u8>,
    pub statement: Statement,
    pub proof: Halo2Proof,
}

pub fn halo2() -> &'static Halo2Fixture {
    static F: OnceLock<Halo2Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let be = backend();
        let (program, w) = case_program();
        let (pk, vk) = be.setup(&program, POLICY).expect("setup");
        let (statement, proof) = be.prove(&pk, &w).expect("prove");
        be.verify(&vk, &statement, &proof)
            .expect("the honest proof verifies");
        let vk_bytes = vk.encode();
        Halo2Fixture {
            vk,
            vk_bytes,
            statement,
            proof,
        }
    })
}

/// An honest model package, keys directory and proof file (the facade's formats).
pub struct VouchFixture {
    pub package: ModelPackage,
    pub package_bytes: Vec<u8>,
    pub keys: KeysDir,
    pub keys_summary_json: Vec<u8>,
    pub proof_file: ProofFile,
    pub proof_file_bytes: Vec<u8>,
}

pub fn vouch() -> &'static VouchFixture {
    static F: OnceLock<VouchFixture> = OnceLock::new();
    F.get_or_init(|| {
        let (program, w) = case_program();
        let meta = ModelMeta {
            source: "fuzz-fixture.onnx".into(),
            source_sha256: "00".repeat(32),
            quantization: Default::default(),
            calibration: CalibrationInfo {
                source: "default".into(),
                path: None,
                samples: 1,
            },
            report: None,
            input_names: (0..program.inputs.len()).map(|i| format!("x{i}")).collect(),
            output_names: (0..program.outputs.len())
                .map(|i| format!("y{i}"))
                .collect(),
            vouch_version: "0.1.0".into(),
        };
        let package = ModelPackage { program, meta };
        let package_bytes = package.to_bytes().expect("package encodes");
        let keys = vouch::prove::setup_keys(&package, POLICY, Srs::InsecureDev).expect("setup");
        let keys_summary_json = serde_json::to_vec_pretty(&keys.summary).expect("summary");
        // The halo2 key, decoded from the key file as stored (`KeysDir` holds it as bytes
        // whatever the backend).
        let vk = Halo2VerifyingKey::decode(&keys.vk_bytes).expect("halo2.vk decodes");
        let pk = vk.proving_key(&package.program).expect("proving key");
        let (statement, proof) = backend().prove(&pk, &w).expect("prove");
        let proof_file = ProofFile {
            statement,
            proof: proof.bytes,
            meta: ProofMeta {
                k: vk.info.k,
                outputs: vec![],
                vouch_version: "0.1.0".into(),
            },
        };
        let proof_file_bytes = proof_file.to_bytes().expect("proof file encodes");
        let verdict = vouch::prove::verify(&proof_file, &keys, None, None).expect("verdict");
        assert!(verdict.is_valid(), "the honest proof file verifies");
        VouchFixture {
            package,
            package_bytes,
            keys,
            keys_summary_json,
            proof_file,
            proof_file_bytes,
        }
    })
}

/// The statement bytes both gkr transcripts start from.
pub const GKR_STATEMENT: &[u8] = b"vouch-fuzz gkr statement";

/// Public matmul and lookup claims with honest proofs.
pub struct GkrFixture {
    pub shape: MatmulShape,
    pub a: Vec<i64>,
    pub b: Vec<i64>,
    pub c: Vec<i64>,
    pub matmul_proof: MatmulProof,
    pub table: Table,
    pub values: Vec<i64>,
    pub multiplicities: Vec<u64>,
    pub lookup_proof: LookupProof,
}

impl GkrFixture {
    pub fn matmul_claim(&self) -> MatmulClaim<'_> {
        MatmulClaim {
            shape: self.shape,
            a: &self.a,
            b: &self.b,
            c: &self.c,
        }
    }

    pub fn lookup_claim(&self) -> LookupClaim<'_> {
        LookupClaim {
            table: &self.table,
            columns: vec![&self.values[..]],
            multiplicities: &self.multiplicities,
        }
    }
}

pub fn gkr() -> &'static GkrFixture {
    static F: OnceLock<GkrFixture> = OnceLock::new();
    F.get_or_init(|| {
        let shape = MatmulShape { m: 3, k: 5, n: 2 };
        let a: Vec<i64> = (0..15).map(|i| (i * 7 % 11) - 5).collect();
        let b: Vec<i64> = (0..10).map(|i| (i * 5 % 9) - 4).collect();
        let c = matmul::reference_product(shape, &a, &b);
        let table = Table::Range { lo: -8, bits: 4 };
        let values = vec![-8i64, 7, 0, 3, 3, -1, 5];
        let multiplicities = logup::multiplicities(&table, &[&values[..]]).expect("in range");
        let matmul_proof = matmul::prove(
            &mut Transcript::from_statement_bytes(GKR_STATEMENT),
            &MatmulClaim {
                shape,
                a: &a,
                b: &b,
                c: &c,
            },
        )
        .expect("matmul proof");
        let lookup_proof = logup::prove(
            &mut Transcript::from_statement_bytes(GKR_STATEMENT),
            &LookupClaim {
                table: &table,
                columns: vec![&values[..]],
                multiplicities: &multiplicities,
            },
        )
        .expect("lookup proof");
        GkrFixture {
            shape,
            a,
            b,
            c,
            matmul_proof,
            table,
            values,
            multiplicities,
            lookup_proof,
        }
    })
}

/// `body ‖ SHA-256(body)`: the halo2 key file's integrity trailer, recomputed so that mutations
/// reach the parser behind the checksum.
pub fn with_checksum(body: &[u8]) -> Vec<u8> {
    let mut b = body.to_vec();
    b.extend_from_slice(&Sha256::digest(body));
    b
}

/// Splits a fuzz input into two parts at a little-endian u16 length prefix (clamped).
pub fn split2(data: &[u8]) -> (&[u8], &[u8]) {
    if data.len() < 2 {
        return (data, &[]);
    }
    let n = (u16::from_le_bytes([data[0], data[1]]) as usize).min(data.len() - 2);
    data[2..].split_at(n)
}

/// Joins two parts the way [`split2`] splits them (first part at most 65535 bytes).
pub fn join2(a: &[u8], b: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(a.len() + b.len() + 2);
    v.extend_from_slice(&(a.len() as u16).to_le_bytes());
    v.extend_from_slice(a);
    v.extend_from_slice(b);
    v
}

/// The statement the committed-tensor fixtures are proved under.
pub const GKR_PCS_STATEMENT: &[u8] = b"vouch-fuzz gkr pcs statement";

/// Honest proofs about committed tensors (`gkr_pcs`): a WHIR opening, a range proof of the
/// same commitment (8 bits) and a matmul with committed weights. The proofs are randomised
/// (fresh hiding randomness per opening), so another run's honest bytes differ: soundness is
/// checked against the true values and false claims, not against these bytes.
pub struct GkrCommittedFixture {
    pub pcs: TensorPcs,
    pub commitment: TensorCommitment,
    pub points: Vec<Vec<EF>>,
    /// The committed polynomial's true values at `points`.
    pub values: Vec<EF>,
    pub opening: Vec<u8>,
    pub range: Vec<u8>,
    pub shape: MatmulShape,
    pub a: Vec<i64>,
    pub c: Vec<i64>,
    /// `c` with one entry off by one: a false claim.
    pub c_forged: Vec<i64>,
    pub weights: TensorCommitment,
    pub matmul: Vec<u8>,
}

/// A fresh transcript on [`GKR_PCS_STATEMENT`].
pub fn pcs_transcript() -> Transcript {
    Transcript::from_statement_bytes(GKR_PCS_STATEMENT)
}

/// Built once per process.
pub fn gkr_committed() -> &'static GkrCommittedFixture {
    static F: OnceLock<GkrCommittedFixture> = OnceLock::new();
    F.get_or_init(|| {
        let pcs = TensorPcs::for_len(2048).expect("parameters");
        let ints: Vec<i64> = (0..2048i64).map(|i| i * 37 % 256 - 128).collect();
        let values: Vec<_> = ints.iter().map(|&v| embed(v)).collect();
        let (commitment, data) = pcs.commit(&values, [3; 32]).expect("commit");
        let points = vec![(0..pcs.num_vars() as u64)
            .map(|i| EF::from_u64(5 + 11 * i))
            .collect::<Vec<EF>>()];
        let opened = pcs
            .open(&commitment, data, &points, &mut pcs_transcript())
            .expect("open");
        let opening = opened.to_bytes();
        let true_values = opened.values().to_vec();
        let (_, data) = pcs.commit(&values, [3; 32]).expect("commit");
        let range = committed_range::prove(
            &mut pcs_transcript(),
            &pcs,
            &commitment,
            &ints,
            data,
            8,
            [4; 32],
        )
        .expect("range")
        .to_bytes();
        let shape = MatmulShape { m: 2, k: 32, n: 64 };
        let a: Vec<i64> = (0..64).map(|i| i % 7 - 3).collect();
        let b: Vec<i64> = (0..2048).map(|i| i % 11 - 5).collect();
        let c = matmul::reference_product(shape, &a, &b);
        let (weights, data) = committed_matmul::commit_weights(shape, &b, [5; 32]).expect("commit");
        let claim = CommittedMatmulClaim {
            shape,
            a: &a,
            c: &c,
            b_bound: 5,
            b_commitment: &weights,
        };
        let matmul = committed_matmul::prove(&mut pcs_transcript(), &claim, &b, data)
            .expect("matmul")
            .to_bytes();
        let mut c_forged = c.clone();
        c_forged[0] += 1;
        GkrCommittedFixture {
            pcs,
            commitment,
            points,
            values: true_values,
            opening,
            range,
            shape,
            a,
            c,
            c_forged,
            weights,
            matmul,
        }
    })
}

/// The shared soundness fixture program (`vouch_backend::conformance::pipeline`).
pub fn gkr_pipeline() -> (Program, Vec<Tensor>) {
    let case = vouch_backend::conformance::pipeline().unwrap();
    (case.program, case.inputs)
}

/// An honest gkr program proof (`gkr_program`) of [`gkr_pipeline`] under [`POLICY`] (the one
/// policy the gkr backend supports), and a false statement. WHIR openings are randomised, so
/// another process's honest bytes differ: the check is that no proof is accepted for `forged`.
pub struct GkrProgramFixture {
    /// Proving and verifying key (the same for gkr).
    pub key: GkrKey,
    pub statement: Statement,
    /// `ProgramProof::to_bytes` of the honest proof.
    pub proof: Vec<u8>,
    /// `statement` with one public output value moved by one, within the output's range.
    pub forged: Statement,
}

/// Built once per process.
pub fn gkr_program() -> &'static GkrProgramFixture {
    static F: OnceLock<GkrProgramFixture> = OnceLock::new();
    F.get_or_init(|| program_fixture(POLICY))
}

/// The same with the input private: a zero-knowledge proof (`gkr_zk_program`).
pub fn gkr_zk_program() -> &'static GkrProgramFixture {
    static F: OnceLock<GkrProgramFixture> = OnceLock::new();
    F.get_or_init(|| {
        program_fixture(VisibilityPolicy {
            input: Visibility::Private,
            ..POLICY
        })
    })
}

/// The same with the input hashed (the client preset): the input is a linked commitment named
/// by the statement, opened separately (`gkr_linked_program`).
pub fn gkr_linked_program() -> &'static GkrProgramFixture {
    static F: OnceLock<GkrProgramFixture> = OnceLock::new();
    F.get_or_init(|| {
        program_fixture(VisibilityPolicy {
            input: Visibility::Hashed,
            ..POLICY
        })
    })
}

/// The checks of the `gkr_program` targets on one input: the bytes as one proof, and (with at
/// least 4 bytes) the honest proof with the rest XORed in at the offset the first 4 name.
pub fn fuzz_program_proof(f: &GkrProgramFixture, data: &[u8]) {
    check_program_proof(f, data);
    if let Some((off, xor)) = data.split_first_chunk::<4>() {
        let mut b = f.proof.clone();
        let at = u32::from_le_bytes(*off) as usize % b.len();
        for (y, x) in b[at..].iter_mut().zip(xor) {
            *y ^= x;
        }
        check_program_proof(f, &b);
    }
}

/// What decodes re-encodes to itself, verifies to a verdict, and is refused for the forged
/// statement.
fn check_program_proof(f: &GkrProgramFixture, bytes: &[u8]) {
    if let Ok(p) = ProgramProof::from_bytes(bytes) {
        assert_eq!(
            p.to_bytes(),
            bytes,
            "non-canonical program proof bytes accepted"
        );
        let _ = GkrBackend.verify(&f.key, &f.statement, &p);
        assert!(
            GkrBackend.verify(&f.key, &f.forged, &p).is_err(),
            "a program proof was accepted for the forged statement"
        );
    }
}

fn program_fixture(policy: VisibilityPolicy) -> GkrProgramFixture {
    {
        let (program, inputs) = gkr_pipeline();
        let (key, _) = GkrBackend.setup(&program, policy).expect("setup");
        let w: Witness = interp::run(&program, &inputs)
            .expect("the pipeline runs")
            .into();
        let (statement, proof) = GkrBackend.prove(&key, &w).expect("prove");
        let proof = proof.to_bytes();
        let parsed = ProgramProof::from_bytes(&proof).expect("the honest proof decodes");
        assert_eq!(
            parsed.to_bytes(),
            proof,
            "the honest proof re-encodes to itself"
        );
        GkrBackend
            .verify(&key, &statement, &parsed)
            .expect("the honest proof verifies");
        // The output is the last public tensor (inputs come first); move one value by one,
        // staying inside the tensor's declared range so the statement itself is well-formed.
        let mut forged = statement.clone();
        let out = forged.public.last_mut().expect("a public output");
        let range = program.tensors[out.tensor.index()].range;
        let v = out.values.iter_mut().next().expect("an output value");
        *v = if *v < range.hi { *v + 1 } else { *v - 1 };
        assert!(range.contains(*v));
        assert!(
            GkrBackend.verify(&key, &forged, &parsed).is_err(),
            "the honest proof is rejected for the forged statement"
        );
        GkrProgramFixture {
            key,
            statement,
            proof,
            forged,
        }
    }
}
