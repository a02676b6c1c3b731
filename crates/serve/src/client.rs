//! The client side: a small blocking HTTP client of the API, and [`predict_vouched`], which
//! trusts an output only after checking, on the client's machine, that
//!
//! 1. the server serves the pinned model digest (and the pinned weights commitment), before
//!    any input is sent;
//! 2. the verifying key and `keys.json` it serves agree with each other and with the pin;
//! 3. the proof verifies with those keys (the facade's `verify`, with the pins as
//!    expectations);
//! 4. the statement's public input is the client's input, quantized as the model says;
//! 5. the statement's public output is the output the server returned.
//!
//! Scales, ranges and tensor names come from the server's `keys.json` and `/v1/model`: they
//! are descriptive (the model digest names them, but the client cannot recompute it without
//! the weights). The integers compared in 4 and 5 are the ones the proof binds.

use std::time::{Duration, Instant};

use base64::Engine as _;
use serde::Serialize;
use vouch::artifact::{hex, KeysDir, ProofFile};
use vouch::backend::{Role, Visibility};
use vouch::ir::Digest;
use vouch::prove::{public_values, role_name, verify, ExpectedCommitment};

use crate::error::ClientError;
use crate::wire::{
    CommitmentView, ErrorBody, JobStatus, JobView, ModelInfo, PredictRequest, PublicView,
    VerifyRequest, VerifyResponse,
};

/// Largest answer the client reads (proof files and keys are far smaller).
const MAX_ANSWER: u64 = 256 << 20;

/// A blocking client of one server.
#[derive(Debug)]
pub struct Client {
    base: String,
    agent: ureq::Agent,
}

/// The answer to a prediction: accepted, or turned away because the queue is full.
#[derive(Clone, Debug)]
pub enum Submitted {
    Accepted(JobView),
    QueueFull {
        retry_after: Duration,
        queue_depth: Option<usize>,
        queue_limit: Option<usize>,
        message: String,
    },
}

struct Answer {
    url: String,
    status: u16,
    retry_after: Option<u64>,
    body: Vec<u8>,
}

impl Answer {
    /// The body as JSON of `T` after a 2xx status, else the server's error.
    fn json<T: serde::de::DeserializeOwned>(self) -> Result<T, ClientError> {
        self.ok()?;
        serde_json::from_slice(&self.body).map_err(|e| ClientError::Protocol {
            url: self.url,
            msg: format!("not the expected JSON: {e}"),
        })
    }

    fn ok(&self) -> Result<(), ClientError> {
        if (200..300).contains(&self.status) {
            return Ok(());
        }
        Err(ClientError::Status {
            url: self.url.clone(),
            status: self.status,
            message: self.error_message(),
        })
    }

    fn error_message(&self) -> String {
        match serde_json::from_slice::<ErrorBody>(&self.body) {
            Ok(e) => e.error.message,
            Err(_) => String::from_utf8_lossy(&self.body)
                .chars()
                .take(300)
                .collect(),
        }
    }
}

impl Client {
    /// A client of the server at `url` (`http://` or `https://`); `timeout` bounds each
    /// request.
    pub fn new(url: &str, timeout: Duration) -> Result<Self, ClientError> {
        let base = url.trim_end_matches('/').to_string();
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(ClientError::Usage(format!(
                "--url {url}: expected http://HOST:PORT or https://HOST"
            )));
        }
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(timeout))
            .http_status_as_error(false)
            .build()
            .into();
        Ok(Client { base, agent })
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn finish(
        &self,
        url: String,
        r: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    ) -> Result<Answer, ClientError> {
        let transport = |url: &str, e: ureq::Error| ClientError::Transport {
            url: url.to_string(),
            source: Box::new(e),
        };
        let mut resp = r.map_err(|e| transport(&url, e))?;
        let status = resp.status().as_u16();
        let retry_after = resp
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse().ok());
        let body = resp
            .body_mut()
            .with_config()
            .limit(MAX_ANSWER)
            .read_to_vec()
            .map_err(|e| transport(&url, e))?;
        Ok(Answer {
            url,
            status,
            retry_after,
            body,
        })
    }

    fn get(&self, path: &str) -> Result<Answer, ClientError> {
        let url = self.url(path);
        let r = self.agent.get(&url).call();
        self.finish(url, r)
    }

    fn post_json(&self, path: &str, body: &impl Serialize) -> Result<Answer, ClientError> {
        let url = self.url(path);
        let r = self.agent.post(&url).send_json(body);
        self.finish(url, r)
    }

    /// `GET /v1/model`.
    pub fn model(&self) -> Result<ModelInfo, ClientError> {
        self.get("/v1/model")?.json()
    }

    /// `GET /health`.
    pub fn health(&self) -> Result<crate::wire::Health, ClientError> {
        self.get("/health")?.json()
    }

    /// `GET /metrics` as text.
    pub fn metrics(&self) -> Result<String, ClientError> {
        let a = self.get("/metrics")?;
        a.ok()?;
        Ok(String::from_utf8_lossy(&a.body).into_owned())
    }

    /// The verifier's half of the keys: `GET /v1/model/keys` (keys.json) and
    /// `GET /v1/model/vk`, checked against each other.
    pub fn keys(&self) -> Result<KeysDir, ClientError> {
        let summary = self.get("/v1/model/keys")?;
        summary.ok()?;
        let vk = self.get("/v1/model/vk")?;
        vk.ok()?;
        KeysDir::from_parts(&summary.body, vk.body).map_err(|e| ClientError::Protocol {
            url: self.url("/v1/model/keys"),
            msg: format!("the served keys do not check out: {e}"),
        })
    }

    /// `POST /v1/predict` once.
    pub fn submit(&self, req: &PredictRequest, wait: bool) -> Result<Submitted, ClientError> {
        let path = if wait {
            "/v1/predict?wait=true"
        } else {
            "/v1/predict"
        };
        let a = self.post_json(path, req)?;
        if a.status == 429 {
            let detail = serde_json::from_slice::<ErrorBody>(&a.body).ok();
            return Ok(Submitted::QueueFull {
                retry_after: Duration::from_secs(a.retry_after.unwrap_or(1).clamp(1, 600)),
                queue_depth: detail.as_ref().and_then(|d| d.error.queue_depth),
                queue_limit: detail.as_ref().and_then(|d| d.error.queue_limit),
                message: a.error_message(),
            });
        }
        Ok(Submitted::Accepted(a.json()?))
    }

    /// `POST /v1/predict`, retrying a full queue after the server's Retry-After until
    /// `deadline`.
    pub fn predict(
        &self,
        req: &PredictRequest,
        wait: bool,
        deadline: Instant,
    ) -> Result<JobView, ClientError> {
        loop {
            match self.submit(req, wait)? {
                Submitted::Accepted(job) => return Ok(job),
                Submitted::QueueFull {
                    retry_after,
                    message,
                    ..
                } => {
                    if Instant::now() + retry_after > deadline {
                        return Err(ClientError::Status {
                            url: self.url("/v1/predict"),
                            status: 429,
                            message,
                        });
                    }
                    std::thread::sleep(retry_after);
                }
            }
        }
    }

    /// `GET /v1/jobs/{id}`.
    pub fn job(&self, id: &str) -> Result<JobView, ClientError> {
        self.get(&format!("/v1/jobs/{id}"))?.json()
    }

    /// Polls a job until it is done or failed, or `timeout` passes.
    pub fn wait_for_job(&self, id: &str, timeout: Duration) -> Result<JobView, ClientError> {
        let start = Instant::now();
        let mut pause = Duration::from_millis(100);
        loop {
            let job = self.job(id)?;
            if job.status.is_final() {
                return Ok(job);
            }
            if start.elapsed() >= timeout {
                return Err(ClientError::Timeout {
                    id: id.into(),
                    seconds: timeout.as_secs(),
                    status: job.status.as_str().into(),
                });
            }
            std::thread::sleep(pause.min(timeout.saturating_sub(start.elapsed())));
            pause = (pause * 2).min(Duration::from_secs(2));
        }
    }

    /// `POST /v1/verify`: the server's opinion of a proof (the client trusts only its own).
    pub fn verify_remote(
        &self,
        proof: &[u8],
        model_digest: Option<&str>,
        commitment: Option<&str>,
    ) -> Result<VerifyResponse, ClientError> {
        let req = VerifyRequest {
            proof: base64::engine::general_purpose::STANDARD.encode(proof),
            model_digest: model_digest.map(str::to_string),
            commitment: commitment.map(str::to_string),
        };
        self.post_json("/v1/verify", &req)?.json()
    }
}

/// What the client requires of the server's proofs.
#[derive(Clone, Debug)]
pub struct Pins {
    pub digest: Digest,
    /// A commitment the statement must carry (`ROLE:HEX` or `HEX`), e.g. the weights
    /// commitment the provider published.
    pub commitment: Option<ExpectedCommitment>,
}

/// The outcome of [`predict_vouched`]: the output is vouched for only when `problems` is
/// empty.
#[derive(Clone, Debug, Serialize)]
pub struct Outcome {
    pub url: String,
    /// The digest the server claims.
    pub digest: String,
    pub job_id: Option<String>,
    /// Each reason not to trust the output.
    pub problems: Vec<String>,
    /// Caveats that do not void the answer (e.g. an insecure setup).
    pub warnings: Vec<String>,
    /// The local verification, when it ran.
    pub valid: Option<bool>,
    pub insecure_setup: bool,
    /// The public outputs of the statement (only when vouched).
    pub outputs: Vec<PublicView>,
    pub commitments: Vec<CommitmentView>,
    /// The proof file, when one arrived.
    #[serde(skip)]
    pub proof: Option<Vec<u8>>,
    pub proof_bytes: Option<usize>,
    /// Server-side prove time.
    pub prove_ms: Option<f64>,
    /// Wall time from submitting the input to having the proof.
    pub wait_ms: f64,
    pub verify_ms: f64,
}

impl Outcome {
    pub fn vouched(&self) -> bool {
        self.problems.is_empty() && self.valid == Some(true)
    }
}

/// Submits one input (flat values of the model's single input) and checks the proof of the
/// answer as the module docs say. Transport failures and malformed answers are errors; every
/// reason to distrust the answer is in [`Outcome::problems`].
pub fn predict_vouched(
    client: &Client,
    input: &[f32],
    pins: &Pins,
    timeout: Duration,
) -> Result<Outcome, ClientError> {
    let info = client.model()?;
    let mut out = Outcome {
        url: client.url(""),
        digest: info.digest.clone(),
        job_id: None,
        problems: Vec::new(),
        warnings: Vec::new(),
        valid: None,
        insecure_setup: info.insecure_setup,
        outputs: Vec::new(),
        commitments: info.commitments.clone(),
        proof: None,
        proof_bytes: None,
        prove_ms: None,
        wait_ms: 0.0,
        verify_ms: 0.0,
    };
    // 1. The pins, before any input leaves this machine.
    if info.digest != pins.digest.hex() {
        out.problems.push(format!(
            "the server serves model {}, not the pinned model {}",
            info.digest, pins.digest
        ));
        return Ok(out);
    }
    if let Some(want) = &pins.commitment {
        let found = info
            .commitments
            .iter()
            .any(|c| c.hex == hex(&want.bytes) && want.role.is_none_or(|r| role_name(r) == c.role));
        if !found {
            out.problems.push(format!(
                "the server's proofs carry commitments [{}], not the pinned {}",
                info.commitments
                    .iter()
                    .map(|c| format!("{} {}", c.role, c.hex))
                    .collect::<Vec<_>>()
                    .join(", "),
                hex(&want.bytes)
            ));
            return Ok(out);
        }
    }
    // 2. The keys.
    let keys = client.keys()?;
    if keys.digest() != pins.digest {
        out.problems.push(format!(
            "the served verifying key is for model {}, not the pinned model {}",
            keys.digest(),
            pins.digest
        ));
        return Ok(out);
    }
    let policy = keys.summary.policy;
    if policy.input != Visibility::Public || policy.output != Visibility::Public {
        out.problems.push(format!(
            "the server's keys do not make the input and the output public (input {:?}, output {:?}): its proofs cannot show that the output is the model's answer to this input",
            policy.input, policy.output
        ));
        return Ok(out);
    }
    if keys.summary.weights_commitment.is_some() && pins.commitment.is_none() {
        out.warnings.push(
            "the weights are committed and no commitment is pinned: the proof binds the output to the weights behind the server's commitment; pin the provider's published commitment with --pin-commitment".into(),
        );
    }
    if keys.insecure_setup() {
        out.insecure_setup = true;
        out.warnings.push(
            "INSECURE dev setup: the server generated the KZG parameters itself and could forge proofs; this answer convinces no one".into(),
        );
    }
    let [spec] = &info.inputs[..] else {
        return Err(ClientError::Usage(format!(
            "the model has {} inputs; the client sends one .npy array (single-input models)",
            info.inputs.len()
        )));
    };
    let want: usize = spec.shape.iter().product();
    if input.len() != want {
        return Err(ClientError::Usage(format!(
            "the input has {} values; the model's input '{}' has shape {:?} ({want} values)",
            input.len(),
            spec.name,
            spec.shape
        )));
    }

    // 3. Submit, wait for the proof.
    let start = Instant::now();
    let deadline = start + timeout;
    let req = PredictRequest {
        input: Some(serde_json::json!(input)),
        inputs: None,
    };
    let submitted = client.predict(&req, true, deadline)?;
    out.job_id = Some(submitted.id.clone());
    let job = if submitted.status.is_final() {
        submitted
    } else {
        client.wait_for_job(
            &submitted.id,
            deadline.saturating_duration_since(Instant::now()),
        )?
    };
    out.wait_ms = start.elapsed().as_secs_f64() * 1e3;
    out.prove_ms = job.prove_ms;
    if job.status == JobStatus::Failed {
        out.problems.push(format!(
            "the server could not prove the answer: {}",
            job.error.as_deref().unwrap_or("no reason given")
        ));
        return Ok(out);
    }
    let bytes = match job.proof_bytes() {
        Some(Ok(b)) => b,
        Some(Err(e)) => {
            return Err(ClientError::Protocol {
                url: client.url(&format!("/v1/jobs/{}", job.id)),
                msg: format!("proof is not base64: {e}"),
            })
        }
        None => {
            return Err(ClientError::Protocol {
                url: client.url(&format!("/v1/jobs/{}", job.id)),
                msg: "a done job without a proof".into(),
            })
        }
    };
    out.proof_bytes = Some(bytes.len());
    let proof = match ProofFile::from_bytes(&bytes) {
        Ok(p) => p,
        Err(e) => {
            out.problems
                .push(format!("the proof file does not parse: {e}"));
            out.valid = Some(false);
            return Ok(out);
        }
    };
    out.proof = Some(bytes);

    // 4. Verify locally.
    let t = Instant::now();
    let verdict = verify(&proof, &keys, Some(pins.digest), pins.commitment.as_ref())?;
    out.verify_ms = t.elapsed().as_secs_f64() * 1e3;
    out.valid = Some(verdict.is_valid());
    out.insecure_setup |= verdict.insecure_setup;
    if let Some(r) = &verdict.rejection {
        out.problems
            .push(format!("the proof does not verify: {}", r.reason));
        return Ok(out);
    }
    let st = &verdict.statement;
    out.commitments = st
        .commitments
        .iter()
        .map(|c| CommitmentView {
            role: role_name(c.role).into(),
            hex: hex(&c.bytes),
        })
        .collect();
    let public = public_values(st, &keys.summary);
    let of_role = |role: Role| -> Vec<&vouch::prove::PublicValue> {
        public
            .iter()
            .filter(|p| p.role == Some(role_name(role)))
            .collect()
    };

    // 5. The statement is about this input ...
    let expected: Vec<i64> = input
        .iter()
        .map(|&x| quantize(x, spec.scale, spec.range))
        .collect();
    match of_role(Role::Input)[..] {
        [p] if p.quantized == expected => {}
        [p] => {
            let at = p
                .quantized
                .iter()
                .zip(&expected)
                .position(|(a, b)| a != b)
                .unwrap_or(0);
            out.problems.push(format!(
                "the proof is about another input: its public input differs from yours ({} values, first difference at flat index {at})",
                p.quantized.len()
            ));
        }
        _ => out
            .problems
            .push("the statement does not hold exactly one public input".into()),
    }
    // ... and the output the server returned.
    let outputs = of_role(Role::Output);
    if outputs.len() != job.output.len()
        || outputs
            .iter()
            .zip(&job.output)
            .any(|(p, o)| p.quantized != o.quantized)
    {
        out.problems
            .push("the output the server returned is not the output the proof attests".into());
    }
    if out.problems.is_empty() {
        out.outputs = outputs
            .into_iter()
            .map(|p| PublicView {
                role: p.role.map(str::to_string),
                name: p.name.clone(),
                shape: p.shape.clone(),
                quantized: p.quantized.clone(),
                values: p.values.clone(),
            })
            .collect();
    }
    Ok(out)
}

/// The integer the model's quantization gives `x` (see `quantize_input`): `round(x / scale)`
/// clamped into the range, or `x` itself for integer inputs.
pub fn quantize(x: f32, scale: Option<f64>, [lo, hi]: [i64; 2]) -> i64 {
    match scale {
        Some(s) => ((x as f64) / s).round().clamp(lo as f64, hi as f64) as i64,
        None => x as i64,
    }
}
