//! HTTP routes. Every error is a JSON [`ErrorBody`] with a status code that says whose fault
//! it is (4xx: the request's, with a message naming the field; 5xx: the server's).
//! Interpreter runs and proof verifications run on the blocking thread pool, at most one per
//! core at a time; proving runs on the worker threads of [`crate::jobs`].

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, RawQuery, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine as _;
use tokio::sync::{watch, Semaphore};
use vouch::artifact::{hex, ProofFile};
use vouch::ir::Digest;
use vouch::prove::{public_values, role_name, verify, ExpectedCommitment};

use crate::db::{Db, JobRecord};
use crate::jobs::{now_ms, progress, Jobs, Live, QueueFull};
use crate::metrics::{Gauges, Metrics};
use crate::model::{InputError, ServedModel};
use crate::wire::{
    CommitmentView, ErrorBody, ErrorDetail, Health, JobStatus, JobView, PublicView, VerifyRequest,
    VerifyResponse,
};

/// Limits on requests.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Largest request body accepted (413 above).
    pub max_body_bytes: usize,
    /// Longest a request may take (503 `timeout` after), not counting a predict's wait.
    pub request_timeout: Duration,
    /// Longest `POST /v1/predict?wait=true` waits for the proof before answering 202.
    pub wait_timeout: Duration,
}

/// What every handler shares.
#[derive(Debug)]
pub struct Shared {
    pub model: Arc<ServedModel>,
    pub db: Arc<Db>,
    pub jobs: Arc<Jobs>,
    pub metrics: Arc<Metrics>,
    pub limits: Limits,
    pub workers: usize,
    /// Turns true when the server starts shutting down.
    pub shutdown: watch::Receiver<bool>,
    /// Bounds concurrent interpreter runs and verifications.
    pub cpu: Arc<Semaphore>,
}

type AppState = Arc<Shared>;

/// The service's routes (see [`crate::openapi::PATHS`]).
pub fn router(state: AppState) -> Router {
    let max_body = state.limits.max_body_bytes;
    Router::new()
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .route("/openapi.json", get(openapi))
        .route("/v1/model", get(model))
        .route("/v1/model/vk", get(model_vk))
        .route("/v1/model/keys", get(model_keys))
        .route("/v1/predict", post(predict))
        .route("/v1/jobs/{id}", get(job))
        .route("/v1/jobs/{id}/proof", get(job_proof))
        .route("/v1/verify", post(verify_proof))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(max_body))
        .layer(middleware::from_fn_with_state(Arc::clone(&state), guard))
        .with_state(state)
}

// ----- errors ------------------------------------------------------------------------------------

/// An error answer.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    detail: Box<ErrorDetail>,
    retry_after: Option<u64>,
}

impl ApiError {
    fn new(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            detail: Box::new(ErrorDetail {
                code: code.into(),
                message: message.into(),
                field: None,
                queue_depth: None,
                queue_limit: None,
            }),
            retry_after: None,
        }
    }

    fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    fn field(mut self, field: &str) -> Self {
        self.detail.field = Some(field.into());
        self
    }

    fn internal(what: &str, e: impl std::fmt::Display) -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            format!("{what}: {e}"),
        )
    }

    fn shutting_down() -> Self {
        let mut e = Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "shutting_down",
            "the server is shutting down; retry against its replacement",
        );
        e.retry_after = Some(5);
        e
    }
}

impl From<InputError> for ApiError {
    fn from(e: InputError) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_input", e.to_string()).field(&e.field)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let retry = self.retry_after;
        let mut resp = (
            self.status,
            Json(ErrorBody {
                error: *self.detail,
            }),
        )
            .into_response();
        if let Some(s) = retry.and_then(|s| HeaderValue::from_str(&s.to_string()).ok()) {
            resp.headers_mut().insert(header::RETRY_AFTER, s);
        }
        resp
    }
}

fn body_error(r: BytesRejection, limit: usize) -> ApiError {
    if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            format!("the request body is larger than the {limit}-byte limit"),
        )
    } else {
        ApiError::bad_request(format!("cannot read the request body: {}", r.body_text()))
    }
}

/// Runs CPU work on the blocking pool under the CPU semaphore.
async fn blocking<T: Send + 'static>(
    s: &Shared,
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ApiError> {
    let _permit = s
        .cpu
        .acquire()
        .await
        .map_err(|e| ApiError::internal("cpu limiter", e))?;
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::internal("worker task", e))
}

/// Runs a database call on the blocking pool.
async fn db_call<T: Send + 'static>(
    s: &Shared,
    f: impl FnOnce(&Db) -> Result<T, crate::DbError> + Send + 'static,
) -> Result<T, ApiError> {
    let db = Arc::clone(&s.db);
    tokio::task::spawn_blocking(move || f(&db))
        .await
        .map_err(|e| ApiError::internal("database task", e))?
        .map_err(|e| ApiError::internal("database", e))
}

// ----- middleware --------------------------------------------------------------------------------

/// Per-request timeout (a predict that waits gets the wait on top) and response counting.
async fn guard(State(s): State<AppState>, req: Request, next: Next) -> Response {
    let waits = req.uri().path() == "/v1/predict"
        && req
            .uri()
            .query()
            .is_some_and(|q| matches!(parse_wait(Some(q)), Ok(true)));
    let limit = s.limits.request_timeout
        + if waits {
            s.limits.wait_timeout
        } else {
            Duration::ZERO
        };
    let resp = match tokio::time::timeout(limit, next.run(req)).await {
        Ok(r) => r,
        Err(_) => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "timeout",
            format!(
                "the request took longer than {:.0} s and was abandoned",
                limit.as_secs_f64()
            ),
        )
        .into_response(),
    };
    s.metrics.count_response(resp.status().as_u16());
    resp
}

async fn not_found(uri: Uri) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        format!(
            "no route {}; the API is described at /openapi.json",
            uri.path()
        ),
    )
}

async fn method_not_allowed(method: Method, uri: Uri) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!(
            "{method} is not allowed on {}; see /openapi.json",
            uri.path()
        ),
    )
}

// ----- small routes ------------------------------------------------------------------------------

fn gauges(s: &Shared) -> Gauges {
    Gauges {
        queue_depth: s.jobs.depth(),
        queue_limit: s.jobs.limit(),
        running: s.jobs.running(),
        workers: s.workers,
    }
}

async fn health(State(s): State<AppState>) -> Response {
    let g = gauges(&s);
    let down = *s.shutdown.borrow();
    let body = Health {
        status: if down { "shutting_down" } else { "ok" }.into(),
        digest: s.model.digest_hex().into(),
        queue_depth: g.queue_depth,
        queue_limit: g.queue_limit,
        running: g.running,
        workers: g.workers,
    };
    let status = if down {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    };
    (status, Json(body)).into_response()
}

async fn metrics(State(s): State<AppState>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        s.metrics.render(gauges(&s)),
    )
        .into_response()
}

async fn openapi() -> Json<serde_json::Value> {
    Json(crate::openapi::document())
}

async fn model(State(s): State<AppState>) -> Json<crate::wire::ModelInfo> {
    Json(s.model.info.clone())
}

async fn model_vk(State(s): State<AppState>) -> Response {
    // The key file of the keys' backend (`halo2.vk`, or `gkr.program` for gkr).
    let name = format!("attachment; filename=\"{}\"", s.model.key_file());
    (
        [
            (header::CONTENT_TYPE, "application/octet-stream".to_string()),
            (header::CONTENT_DISPOSITION, name),
        ],
        s.model.vk_bytes().to_vec(),
    )
        .into_response()
}

async fn model_keys(State(s): State<AppState>) -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        s.model.keys_json.clone(),
    )
        .into_response()
}

// ----- predict and jobs --------------------------------------------------------------------------

/// `wait` from a query string: `true`/`1` or `false`/`0`; other parameters are refused.
fn parse_wait(query: Option<&str>) -> Result<bool, ApiError> {
    let mut wait = false;
    for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, "true"));
        match (k, v) {
            ("wait", "true" | "1") => wait = true,
            ("wait", "false" | "0") => wait = false,
            ("wait", other) => {
                return Err(ApiError::bad_request(format!(
                    "query parameter wait: '{other}' is not true or false"
                ))
                .field("wait"))
            }
            (other, _) => {
                return Err(ApiError::bad_request(format!(
                    "unknown query parameter '{other}' (only wait)"
                ))
                .field(other))
            }
        }
    }
    Ok(wait)
}

/// A new job id: 128 random bits, hex.
fn new_job_id() -> String {
    use rand_core::RngCore;
    let mut b = [0u8; 16];
    rand_core::OsRng.fill_bytes(&mut b);
    hex(&b)
}

fn check_job_id(id: &str) -> Result<(), ApiError> {
    if id.len() == 32 && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        Ok(())
    } else {
        Err(ApiError::bad_request(format!(
            "'{}' is not a job id (32 lowercase hex characters)",
            id.chars().take(64).collect::<String>()
        ))
        .field("id"))
    }
}

/// Seconds a client should wait before retrying a full queue: the time for the workers to
/// free a place at the mean prove time so far (5 s before any proof).
fn retry_after(s: &Shared, full: QueueFull) -> u64 {
    let mean = s.metrics.mean_prove_seconds().unwrap_or(5.0);
    let ahead = (full.depth.saturating_sub(full.limit) + 1) as f64;
    ((ahead * mean / s.workers.max(1) as f64).ceil() as u64).clamp(1, 600)
}

async fn predict(
    State(s): State<AppState>,
    RawQuery(query): RawQuery,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let wait = parse_wait(query.as_deref())?;
    if *s.shutdown.borrow() || s.jobs.is_closed() {
        return Err(ApiError::shutting_down());
    }
    let body = body.map_err(|r| body_error(r, s.limits.max_body_bytes))?;
    let reservation = s.jobs.reserve().map_err(|full| {
        s.metrics
            .rejected_queue_full
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let secs = retry_after(&s, full);
        let mut e = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "queue_full",
            format!(
                "the proving queue is full ({} jobs waiting or being admitted, limit {}); retry after {secs} s",
                full.depth, full.limit
            ),
        );
        e.detail.queue_depth = Some(full.depth);
        e.detail.queue_limit = Some(full.limit);
        e.retry_after = Some(secs);
        e
    })?;
    let model = Arc::clone(&s.model);
    let (sample, output) = blocking(&s, move || {
        let sample = model.parse_input(&body)?;
        let output = model.run(&sample).map_err(|e| {
            ApiError::new(StatusCode::BAD_REQUEST, "invalid_input", e.to_string()).field("input")
        })?;
        Ok::<_, ApiError>((sample, output))
    })
    .await??;
    let id = new_job_id();
    {
        let id = id.clone();
        db_call(&s, move |db| db.insert(&id, &sample, &output, now_ms())).await?;
    }
    reservation.commit(id.clone());
    s.metrics
        .accepted
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    if wait {
        wait_finished(&s, &id).await;
    }
    let view = job_view(&s, &id).await?;
    let status = if view.status.is_final() {
        StatusCode::OK
    } else {
        StatusCode::ACCEPTED
    };
    let mut headers = HeaderMap::new();
    if let Ok(loc) = HeaderValue::from_str(&format!("/v1/jobs/{id}")) {
        headers.insert(header::LOCATION, loc);
    }
    Ok((status, headers, Json(view)).into_response())
}

/// Waits until the job is finished, the wait timeout passes, or the server shuts down.
async fn wait_finished(s: &Shared, id: &str) {
    let Some(mut rx) = s.jobs.subscribe(id) else {
        return;
    };
    let mut down = s.shutdown.clone();
    tokio::select! {
        _ = tokio::time::timeout(s.limits.wait_timeout, rx.wait_for(|l| *l == Live::Finished)) => {}
        _ = down.wait_for(|d| *d) => {}
    }
}

async fn load_job(s: &Shared, id: &str) -> Result<JobRecord, ApiError> {
    check_job_id(id)?;
    let key = id.to_string();
    db_call(s, move |db| db.get(&key)).await?.ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no job {id} (unknown id)"),
        )
        .field("id")
    })
}

async fn job_view(s: &Shared, id: &str) -> Result<JobView, ApiError> {
    let r = load_job(s, id).await?;
    let live = s.jobs.live(id);
    let progress = match (r.status, live) {
        (JobStatus::Proving, Some(Live::Proving(phase))) => Some(progress(phase)),
        _ => None,
    };
    let queue_position = match r.status {
        JobStatus::Queued => s.jobs.position(id),
        _ => None,
    };
    Ok(JobView {
        id: r.id,
        status: r.status,
        progress,
        queue_position,
        output: r.output,
        proof: r
            .proof
            .as_ref()
            .map(|p| base64::engine::general_purpose::STANDARD.encode(p)),
        error: r.error,
        attempts: r.attempts,
        created_unix_ms: r.created_ms,
        finished_unix_ms: r.finished_ms,
        prove_ms: r.prove_ms,
    })
}

async fn job(State(s): State<AppState>, Path(id): Path<String>) -> Result<Json<JobView>, ApiError> {
    Ok(Json(job_view(&s, &id).await?))
}

async fn job_proof(
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let r = load_job(&s, &id).await?;
    match (r.status, r.proof) {
        (JobStatus::Done, Some(p)) => Ok((
            [
                (header::CONTENT_TYPE, "application/octet-stream".to_string()),
                (
                    header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"{id}.proof\""),
                ),
            ],
            p,
        )
            .into_response()),
        (status, _) => Err(ApiError::new(
            StatusCode::CONFLICT,
            "no_proof",
            match r.error {
                Some(e) => format!("job {id} is {}: {e}", status.as_str()),
                None => format!("job {id} is {}; no proof yet", status.as_str()),
            },
        )),
    }
}

// ----- verify ------------------------------------------------------------------------------------

/// `HEX` or `ROLE:HEX`.
async fn verify_proof(
    State(s): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<VerifyResponse>, ApiError> {
    let body = body.map_err(|r| body_error(r, s.limits.max_body_bytes))?;
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    let (bytes, digest, commitment) = if is_json {
        let req: VerifyRequest = serde_json::from_slice(&body).map_err(|e| {
            ApiError::bad_request(format!(
                "not a verify request ({{\"proof\": BASE64, \"model_digest\"?, \"commitment\"?}}): {e}"
            ))
            .field("body")
        })?;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(req.proof.trim())
            .map_err(|e| ApiError::bad_request(format!("proof: not base64: {e}")).field("proof"))?;
        let digest = req
            .model_digest
            .as_deref()
            .map(|d| {
                Digest::from_hex(d).ok_or_else(|| {
                    ApiError::bad_request("model_digest: expected 64 hex characters")
                        .field("model_digest")
                })
            })
            .transpose()?;
        let commitment = req
            .commitment
            .as_deref()
            .map(|c| {
                c.parse::<ExpectedCommitment>().map_err(|e| {
                    ApiError::bad_request(format!("commitment: {e}")).field("commitment")
                })
            })
            .transpose()?;
        (bytes, digest, commitment)
    } else {
        (body.to_vec(), None, None)
    };
    let proof = ProofFile::from_bytes(&bytes)
        .map_err(|e| ApiError::bad_request(format!("proof: {e}")).field("proof"))?;
    s.metrics
        .verify_requests
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let model = Arc::clone(&s.model);
    let answer = blocking(&s, move || {
        let verdict = verify(&proof, &model.keys, digest, commitment.as_ref())
            .map_err(|e| ApiError::bad_request(format!("proof: {e}")).field("proof"))?;
        let st = &verdict.statement;
        let public = if verdict.is_valid() {
            public_values(st, &model.keys.summary)
                .into_iter()
                .map(|p| PublicView {
                    role: p.role.map(str::to_string),
                    name: p.name,
                    shape: p.shape,
                    quantized: p.quantized,
                    values: p.values,
                })
                .collect()
        } else {
            Vec::new()
        };
        Ok::<_, ApiError>(VerifyResponse {
            valid: verdict.is_valid(),
            check: verdict.rejection.as_ref().map(|r| {
                serde_json::to_value(r.check)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default()
            }),
            reason: verdict.rejection.as_ref().map(|r| r.reason.clone()),
            insecure_setup: verdict.insecure_setup,
            digest: st.program_digest.hex(),
            public,
            commitments: st
                .commitments
                .iter()
                .map(|c| CommitmentView {
                    role: role_name(c.role).into(),
                    hex: hex(&c.bytes),
                })
                .collect(),
        })
    })
    .await??;
    Ok(Json(answer))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wait_and_ids() {
        assert!(matches!(parse_wait(None), Ok(false)));
        assert!(matches!(parse_wait(Some("wait=true")), Ok(true)));
        assert!(matches!(parse_wait(Some("wait")), Ok(true)));
        assert!(matches!(parse_wait(Some("wait=0")), Ok(false)));
        assert!(parse_wait(Some("wait=maybe")).is_err());
        assert!(parse_wait(Some("foo=1")).is_err());
        let id = new_job_id();
        assert!(check_job_id(&id).is_ok());
        assert_ne!(id, new_job_id());
        assert!(check_job_id("../../etc").is_err());
        assert!(check_job_id(&id.to_uppercase()).is_err());
        assert!("weights:00ff".parse::<ExpectedCommitment>().is_ok());
        assert!("body:00ff".parse::<ExpectedCommitment>().is_err());
        assert!("zz".parse::<ExpectedCommitment>().is_err());
    }
}
