//! JSON bodies of the HTTP API, shared by the server and the client. Field names are the
//! API's contract (see `docs/serve.md` and `/openapi.json`).

use serde::{Deserialize, Serialize};
use vouch::model::OutputValue;

/// `GET /v1/model`: what the server proves, and what a verifier needs to know about it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelInfo {
    /// The model digest (SHA-256 of the canonical program), 64 hex characters.
    pub digest: String,
    pub backend: String,
    /// `provider`, `client`, or `None` for an explicit policy.
    pub preset: Option<String>,
    pub policy: PolicyView,
    /// Commitments every proof carries (the published weights commitment for hashed weights).
    pub commitments: Vec<CommitmentView>,
    /// The keys come from a locally generated SRS: their proofs convince no one else.
    pub insecure_setup: bool,
    /// The circuit has `2^k` rows.
    pub k: u32,
    pub inputs: Vec<TensorView>,
    pub outputs: Vec<TensorView>,
    /// SHA-256 of `GET /v1/model/vk`.
    pub vk_sha256: String,
    pub srs_sha256: String,
    /// File name of the source model (descriptive).
    pub source: String,
    pub vouch_version: String,
}

/// Visibility of each role, spelled as on the command line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyView {
    pub input: String,
    pub weights: String,
    pub output: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommitmentView {
    /// `input`, `weights` or `output`.
    pub role: String,
    pub hex: String,
}

/// A model input or output.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TensorView {
    pub name: String,
    pub shape: Vec<usize>,
    /// Always `float32` for inputs: values are real numbers, quantized by the server.
    pub dtype: String,
    /// Real value of one integer step (`None` for integer tensors).
    pub scale: Option<f64>,
    /// Inclusive range of the quantized integers: inputs are clamped into it.
    pub range: [i64; 2],
}

/// Status of a proving job.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    /// Waiting for a worker.
    Queued,
    /// A worker is proving it.
    Proving,
    /// The proof is ready.
    Done,
    /// Proving failed; `error` says why.
    Failed,
}

impl JobStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Queued => "queued",
            JobStatus::Proving => "proving",
            JobStatus::Done => "done",
            JobStatus::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            JobStatus::Queued,
            JobStatus::Proving,
            JobStatus::Done,
            JobStatus::Failed,
        ]
        .into_iter()
        .find(|j| j.as_str() == s)
    }

    /// Done or failed: the job will not change any more.
    pub fn is_final(self) -> bool {
        matches!(self, JobStatus::Done | JobStatus::Failed)
    }
}

/// Where a proving job is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Progress {
    /// `run`, `proving_key` or `prove`.
    pub phase: String,
    pub description: String,
    /// 1-based step of `steps`.
    pub step: u32,
    pub steps: u32,
}

/// One model output: real values and the integers the proof attests.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OutputView {
    pub name: String,
    pub shape: Vec<usize>,
    pub values: Vec<f32>,
    pub quantized: Vec<i64>,
    pub scale: Option<f64>,
}

impl From<&OutputValue> for OutputView {
    fn from(o: &OutputValue) -> Self {
        OutputView {
            name: o.name.clone(),
            shape: o.shape.clone(),
            values: o.values.clone(),
            quantized: o.quantized.clone(),
            scale: o.scale,
        }
    }
}

/// `GET /v1/jobs/{id}`, and the answer of `POST /v1/predict`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct JobView {
    pub id: String,
    pub status: JobStatus,
    /// While proving: the phase.
    pub progress: Option<Progress>,
    /// While queued: jobs ahead of this one (0 = next).
    pub queue_position: Option<usize>,
    /// The model's outputs from the reference interpreter (what the proof attests).
    pub output: Vec<OutputView>,
    /// When done: the proof file (`VOUCHPRF` format), base64; also at `/v1/jobs/{id}/proof`.
    pub proof: Option<String>,
    /// When failed: why.
    pub error: Option<String>,
    /// How many times a worker started this job (more than 1 after a restart).
    pub attempts: u32,
    pub created_unix_ms: i64,
    pub finished_unix_ms: Option<i64>,
    /// Time the last attempt spent proving.
    pub prove_ms: Option<f64>,
}

impl JobView {
    /// The proof file, decoded (`None` while there is none).
    pub fn proof_bytes(&self) -> Option<Result<Vec<u8>, base64::DecodeError>> {
        use base64::Engine as _;
        self.proof
            .as_ref()
            .map(|p| base64::engine::general_purpose::STANDARD.decode(p))
    }
}

/// `POST /v1/predict`: `{"input": ARRAY}` for a single-input model, or `{"inputs": {NAME:
/// ARRAY, ...}}`. An array is nested to the model's input shape, or flat with as many values.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PredictRequest {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub input: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inputs: Option<serde_json::Map<String, serde_json::Value>>,
}

/// `POST /v1/verify` as JSON (a raw proof file as `application/octet-stream` also works).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct VerifyRequest {
    /// The proof file, base64.
    pub proof: String,
    /// Require this model digest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_digest: Option<String>,
    /// Require this commitment: `HEX` or `ROLE:HEX`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commitment: Option<String>,
}

/// A public tensor of a statement, named and dequantized.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PublicView {
    /// `input`, `weights`, `output`, or `None` when the keys do not name it.
    pub role: Option<String>,
    pub name: String,
    pub shape: Vec<usize>,
    pub quantized: Vec<i64>,
    pub values: Option<Vec<f64>>,
}

/// The answer of `POST /v1/verify`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VerifyResponse {
    pub valid: bool,
    /// Which check turned the proof down: `keys`, `model_digest`, `commitment` or `proof`.
    pub check: Option<String>,
    pub reason: Option<String>,
    pub insecure_setup: bool,
    /// The model the proof is about.
    pub digest: String,
    /// Public values (only for a valid proof).
    pub public: Vec<PublicView>,
    pub commitments: Vec<CommitmentView>,
}

/// Every error answer: `{"error": {"code": ..., "message": ...}}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ErrorDetail {
    /// Machine-readable: `bad_request`, `invalid_input`, `not_found`, `too_large`,
    /// `queue_full`, `timeout`, `shutting_down`, `internal`, ...
    pub code: String,
    /// What went wrong and what to do; names the field for bad inputs.
    pub message: String,
    /// For bad inputs: the field at fault, e.g. `input[0][3]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// For `queue_full`: jobs queued and the queue's limit when the request was turned down.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue_depth: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue_limit: Option<usize>,
}

/// `GET /health`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Health {
    /// `ok`, or `shutting_down`.
    pub status: String,
    pub digest: String,
    pub queue_depth: usize,
    pub queue_limit: usize,
    pub running: usize,
    pub workers: usize,
}
