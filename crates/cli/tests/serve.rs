//! Tests of `vouch serve` and `vouch client predict` over real HTTP on loopback, with the
//! bundled example model, insecure dev keys and real proofs: the main job (predict, proof,
//! verification on the client), servers that swap in another model or another weights
//! commitment (caught by the client), bad requests (clear 4xx, no panic), a full queue (429
//! with Retry-After), a crash (`kill -9`) while jobs are queued and proving, a graceful stop,
//! and a bounded load test (a small one here; `load_test_full` is `#[ignore]`d).
//!
//! The models and keys are made once per test binary in `CARGO_TARGET_TMPDIR`; every server
//! gets its own database in a temporary directory and a free port.

#![allow(clippy::unwrap_used)]

mod common;

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use common::{example, vouch, Output};
use vouch::artifact::ProofFile;
use vouch_serve::client::{Client, Submitted};
use vouch_serve::wire::{JobStatus, JobView, PredictRequest};

/// Models and keys built once: the example (provider keys, twice: two weights commitments)
/// and the example with one weight changed (another model).
struct Fixture {
    model: String,
    keys: String,
    /// Keys of a second setup of the same model: another weights commitment.
    keys2: String,
    other_model: String,
    other_keys: String,
    digest: String,
    commitment: String,
    other_digest: String,
    /// The example input, flat.
    input: Vec<f32>,
    /// `vouch run --json` on the example input.
    run: serde_json::Value,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let root = Path::new(env!("CARGO_TARGET_TMPDIR"));
        let dir = root.join(format!("serve-fixture-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let d = dir.as_path();
        let path = |n: &str| d.join(n).display().to_string();
        common::compile_example_and_other(d);
        let setup = |model: &str, keys: &str| {
            vouch(
                d,
                &[
                    "setup",
                    model,
                    "--backend",
                    "halo2",
                    "--insecure-dev-setup",
                    "--preset",
                    "provider",
                    "-o",
                    keys,
                    "--json",
                ],
            )
            .json()
        };
        let s = setup("model.vouch", "keys");
        setup("model.vouch", "keys2");
        let o = setup("other.vouch", "other-keys");
        let commitment = vouch(d, &["commit", "model.vouch", "--keys", "keys", "--json"]).json();
        let commitment = commitment["weights_commitment"]
            .as_str()
            .or_else(|| commitment["commitment"].as_str())
            .unwrap_or_else(|| panic!("no commitment in {commitment}"))
            .to_string();
        let input = vouch::npy::read(Path::new(&example("input.npy")))
            .unwrap()
            .data;
        let run = vouch(
            d,
            &[
                "run",
                "model.vouch",
                "--input",
                &example("input.npy"),
                "--json",
            ],
        )
        .json();
        Fixture {
            model: path("model.vouch"),
            keys: path("keys"),
            keys2: path("keys2"),
            other_model: path("other.vouch"),
            other_keys: path("other-keys"),
            digest: s["digest"].as_str().unwrap().into(),
            other_digest: o["digest"].as_str().unwrap().into(),
            commitment,
            input,
            run,
        }
    })
}

// ----- a server process ---------------------------------------------------------------------------

/// A `vouch serve` process on a free loopback port; killed when dropped.
struct Server {
    child: Child,
    url: String,
    stderr: Arc<Mutex<String>>,
}

impl Server {
    fn start(model: &str, keys: &str, db: &Path, extra: &[&str]) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_vouch"))
            .args(["serve", "--model", model, "--keys", keys, "--db"])
            .arg(db)
            .args(["--addr", "127.0.0.1:0"])
            .args(extra)
            .env_remove("RUST_BACKTRACE")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut err = child.stderr.take().unwrap();
        let sink = Arc::clone(&stderr);
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = err.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let first = lines.next().and_then(|l| l.ok()).unwrap_or_default();
        let Some(url) = first.strip_prefix("listening on ") else {
            let _ = child.wait();
            std::thread::sleep(Duration::from_millis(100));
            panic!(
                "vouch serve did not start: '{first}'\n{}",
                stderr.lock().unwrap()
            );
        };
        let url = url.trim().to_string();
        std::thread::spawn(move || for _ in lines {});
        Server { child, url, stderr }
    }

    fn client(&self) -> Client {
        Client::new(&self.url, Duration::from_secs(60)).unwrap()
    }

    fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// SIGKILL: no chance to clean up.
    fn kill9(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// SIGTERM, then waits (at most `limit`) for the process to exit.
    fn terminate(&mut self, limit: Duration) -> ExitStatus {
        let pid = self.child.id().to_string();
        assert!(Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success());
        let start = Instant::now();
        loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                return s;
            }
            assert!(
                start.elapsed() < limit,
                "the server did not stop within {limit:?} of SIGTERM\n{}",
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn assert_no_panic(&self) {
        let e = self.stderr();
        assert!(!e.contains("panicked"), "the server panicked:\n{e}");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One raw HTTP exchange: status, Retry-After, body text.
struct Reply {
    status: u16,
    retry_after: Option<String>,
    content_type: String,
    body: String,
}

impl Reply {
    fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    /// Asserts a JSON error with this status and code whose message mentions `needle`.
    fn error(&self, status: u16, code: &str, needle: &str) -> serde_json::Value {
        assert_eq!(self.status, status, "{}", self.body);
        assert!(
            self.content_type.starts_with("application/json"),
            "{}",
            self.content_type
        );
        let v = self.json();
        assert_eq!(v["error"]["code"], code, "{v}");
        let msg = v["error"]["message"].as_str().unwrap().to_lowercase();
        assert!(
            msg.contains(&needle.to_lowercase()),
            "'{msg}' does not mention '{needle}'"
        );
        v
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .into()
}

fn reply(r: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> Reply {
    let mut r = r.unwrap();
    let header = |n: &str| {
        r.headers()
            .get(n)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let retry_after = header("retry-after");
    let content_type = header("content-type").unwrap_or_default();
    let body = r
        .body_mut()
        .with_config()
        .limit(64 << 20)
        .read_to_string()
        .unwrap_or_default();
    Reply {
        status: r.status().as_u16(),
        retry_after,
        content_type,
        body,
    }
}

fn get(url: &str) -> Reply {
    reply(agent().get(url).call())
}

fn post(url: &str, content_type: &str, body: &[u8]) -> Reply {
    reply(
        agent()
            .post(url)
            .header("content-type", content_type)
            .send(body),
    )
}

fn predict_body(input: &[f32]) -> PredictRequest {
    PredictRequest {
        input: Some(serde_json::json!(input)),
        inputs: None,
    }
}

/// Polls until every job is final; panics after `limit`.
fn wait_all(client: &Client, ids: &[String], limit: Duration) -> Vec<JobView> {
    let start = Instant::now();
    ids.iter()
        .map(|id| {
            let left = limit.saturating_sub(start.elapsed());
            client.wait_for_job(id, left).unwrap()
        })
        .collect()
}

/// Verifies a job's proof locally with the keys and checks its public output.
fn check_proof(f: &Fixture, job: &JobView) {
    assert_eq!(job.status, JobStatus::Done, "{job:?}");
    let bytes = job.proof_bytes().unwrap().unwrap();
    let proof = ProofFile::from_bytes(&bytes).unwrap();
    let keys = vouch::artifact::KeysDir::read(Path::new(&f.keys)).unwrap();
    let digest = vouch::ir::Digest::from_hex(&f.digest).unwrap();
    let v = vouch::prove::verify(&proof, &keys, Some(digest), None).unwrap();
    assert!(v.is_valid(), "{:?}", v.rejection);
    let outputs: Vec<&Vec<i64>> = v
        .statement
        .public
        .iter()
        .skip(1)
        .map(|p| &p.values)
        .collect();
    assert_eq!(outputs, vec![&job.output[0].quantized]);
}

fn client_predict(dir: &Path, url: &str, pins: &[&str]) -> Output {
    let mut args = vec![
        "client",
        "predict",
        "--url",
        url,
        "--input",
        example_input(),
    ];
    args.extend_from_slice(pins);
    vouch(dir, &args)
}

fn example_input() -> &'static str {
    static P: OnceLock<String> = OnceLock::new();
    P.get_or_init(|| example("input.npy"))
}

// ----- the main job ---------------------------------------------------------------------------------

#[test]
fn predict_prove_and_verify_on_the_client() {
    let f = fixture();
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&f.model, &f.keys, &dir.path().join("jobs.db"), &[]);
    let url = server.url.clone();

    // The model as served: digest, preset, the published commitment, shapes; keys.json
    // without the secret blinding.
    let m = get(&format!("{url}/v1/model")).json();
    assert_eq!(m["digest"], f.digest.as_str());
    assert_eq!(m["backend"], "halo2");
    assert_eq!(m["preset"], "provider");
    assert_eq!(m["policy"]["weights"], "hashed");
    assert_eq!(m["commitments"][0]["role"], "weights");
    assert_eq!(m["commitments"][0]["hex"], f.commitment.as_str());
    assert_eq!(m["insecure_setup"], true);
    assert_eq!(m["inputs"][0]["shape"], serde_json::json!([1, 64]));
    assert_eq!(m["outputs"][0]["shape"], serde_json::json!([1, 10]));
    let keys = get(&format!("{url}/v1/model/keys"));
    assert_eq!(keys.status, 200);
    assert!(!keys.body.contains("blinding"), "{}", keys.body);
    let vk = std::fs::read(Path::new(&f.keys).join("halo2.vk")).unwrap();
    let served_vk = agent()
        .get(&format!("{url}/v1/model/vk"))
        .call()
        .unwrap()
        .body_mut()
        .read_to_vec()
        .unwrap();
    assert_eq!(served_vk, vk);

    // The client: output vouched for, equal to `vouch run`'s.
    let out = client_predict(
        dir.path(),
        &url,
        &[
            "--pin-digest",
            &f.digest,
            "--pin-commitment",
            &format!("weights:{}", f.commitment),
            "--json",
        ],
    );
    let j = out.json();
    assert_eq!(j["vouched"], true, "{j}");
    let o = &j["outcome"];
    assert_eq!(o["valid"], true);
    assert_eq!(o["problems"], serde_json::json!([]));
    assert_eq!(o["outputs"][0]["name"], "logits");
    assert_eq!(
        o["outputs"][0]["quantized"],
        f.run["outputs"][0]["quantized"]
    );
    assert_eq!(o["insecure_setup"], true);
    assert!(o["prove_ms"].as_f64().unwrap() > 0.0);

    // Text: the verdict with the output, the proof kept with -o.
    let proof_path = dir.path().join("answer.proof").display().to_string();
    let out = client_predict(
        dir.path(),
        &url,
        &["--pin-digest", &f.digest, "-o", &proof_path],
    );
    let text = out.ok();
    assert!(text.contains("VALID"), "{text}");
    assert!(text.contains("logits [1, 10]"), "{text}");
    let top1 = f.run["top1"].as_u64().unwrap();
    assert!(text.contains(&format!("top-1 class {top1}")), "{text}");
    assert!(
        text.contains("no commitment is pinned"),
        "unpinned weights not flagged: {text}"
    );
    assert!(out.stderr.contains("INSECURE"), "{}", out.stderr);
    let proof = std::fs::read(&proof_path).unwrap();
    ProofFile::from_bytes(&proof).unwrap();

    // The job as stored, its proof file, and the server's verifier on it (and on a flipped byte).
    let client = server.client();
    let job = client
        .predict(
            &predict_body(&f.input),
            true,
            Instant::now() + Duration::from_secs(120),
        )
        .unwrap();
    check_proof(f, &job);
    assert_eq!(job.attempts, 1);
    let again = client.job(&job.id).unwrap();
    assert_eq!(again, job);
    let raw = agent()
        .get(&format!("{url}/v1/jobs/{}/proof", job.id))
        .call()
        .unwrap()
        .body_mut()
        .read_to_vec()
        .unwrap();
    let v = client
        .verify_remote(
            &raw,
            Some(&f.digest),
            Some(&format!("weights:{}", f.commitment)),
        )
        .unwrap();
    assert!(v.valid, "{v:?}");
    assert_eq!(v.public.len(), 2);
    let mut flipped = raw.clone();
    let n = flipped.len();
    flipped[n / 2] ^= 1;
    let v = post(
        &format!("{url}/v1/verify"),
        "application/octet-stream",
        &flipped,
    );
    assert_eq!(v.status, 200, "{}", v.body);
    let v = v.json();
    assert_eq!(v["valid"], false, "{v}");
    assert!(v["reason"].as_str().is_some());
    let v = client
        .verify_remote(&raw, Some(&f.other_digest), None)
        .unwrap();
    assert!(!v.valid);
    assert_eq!(v.check.as_deref(), Some("model_digest"));

    // Health, metrics, OpenAPI.
    let h = client.health().unwrap();
    assert_eq!(h.status, "ok");
    assert_eq!(h.digest, f.digest);
    let metrics = client.metrics().unwrap();
    for line in [
        "vouch_proofs_total{result=\"done\"} 3",
        "vouch_proofs_total{result=\"failed\"} 0",
        "vouch_prove_seconds_count 3",
        "vouch_queue_depth 0",
        "vouch_jobs_accepted_total 3",
    ] {
        assert!(
            metrics.lines().any(|l| l == line),
            "no '{line}' in\n{metrics}"
        );
    }
    let doc = get(&format!("{url}/openapi.json")).json();
    assert_eq!(doc["openapi"], "3.1.0");
    for (path, method) in vouch_serve::openapi::PATHS {
        assert!(doc["paths"][path][method].is_object(), "{method} {path}");
    }
    server.assert_no_panic();
}

// ----- servers that are not what the client pinned ----------------------------------------------------

#[test]
fn client_catches_a_server_with_another_model() {
    let f = fixture();
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(
        &f.other_model,
        &f.other_keys,
        &dir.path().join("jobs.db"),
        &[],
    );
    let out = client_predict(dir.path(), &server.url, &["--pin-digest", &f.digest]);
    out.no_panic();
    assert_eq!(out.code, Some(1), "{}\n{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("MISMATCH"), "{}", out.stdout);
    assert!(
        out.stdout.contains("not the pinned model"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("NOT VOUCHED"), "{}", out.stdout);
    assert!(
        !out.stdout.contains("logits"),
        "output shown: {}",
        out.stdout
    );
    // The input was never sent.
    assert_eq!(server.client().health().unwrap().queue_depth, 0);
    let metrics = server.client().metrics().unwrap();
    assert!(metrics.contains("vouch_jobs_accepted_total 0"), "{metrics}");
}

#[test]
fn client_catches_a_server_with_another_weights_commitment() {
    let f = fixture();
    let dir = tempfile::tempdir().unwrap();
    // Same model, keys of another setup: the proofs carry another weights commitment.
    let server = Server::start(&f.model, &f.keys2, &dir.path().join("jobs.db"), &[]);
    let pin = format!("weights:{}", f.commitment);
    let out = client_predict(
        dir.path(),
        &server.url,
        &[
            "--pin-digest",
            &f.digest,
            "--pin-commitment",
            &pin,
            "--json",
        ],
    );
    out.no_panic();
    assert_eq!(out.code, Some(1), "{}\n{}", out.stdout, out.stderr);
    let j: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(j["vouched"], false);
    let problems = j["outcome"]["problems"].to_string();
    assert!(problems.contains("not the pinned"), "{problems}");
    assert_eq!(j["outcome"]["outputs"], serde_json::json!([]));
    // Pinned to the commitment it does publish, the same server is vouched for.
    let served = server.client().model().unwrap().commitments[0].hex.clone();
    assert_ne!(served, f.commitment);
    let out = client_predict(
        dir.path(),
        &server.url,
        &[
            "--pin-digest",
            &f.digest,
            "--pin-commitment",
            &format!("weights:{served}"),
        ],
    );
    assert!(out.ok().contains("VALID"));
}

/// A lying server: model information and keys from `honest`, predictions and jobs from
/// `liar`. One request per connection (`Connection: close`).
fn lying_proxy(honest: &str, liar: &str) -> String {
    use std::io::Write;
    use std::net::{TcpListener, TcpStream};
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (honest, liar) = (
        honest.trim_start_matches("http://").to_string(),
        liar.trim_start_matches("http://").to_string(),
    );
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            let (honest, liar) = (honest.clone(), liar.clone());
            std::thread::spawn(move || {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 8192];
                let head_end = loop {
                    let n = conn.read(&mut chunk).unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        break p + 4;
                    }
                };
                let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
                let len: usize = head
                    .lines()
                    .find_map(|l| {
                        let (k, v) = l.split_once(':')?;
                        k.eq_ignore_ascii_case("content-length")
                            .then(|| v.trim().parse().ok())?
                    })
                    .unwrap_or(0);
                while buf.len() < head_end + len {
                    let n = conn.read(&mut chunk).unwrap_or(0);
                    if n == 0 {
                        break;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                }
                let path = head.split_whitespace().nth(1).unwrap_or("/").to_string();
                let upstream = if path.starts_with("/v1/predict") || path.starts_with("/v1/jobs") {
                    liar
                } else {
                    honest
                };
                let head: String = head
                    .split("\r\n")
                    .filter(|l| !l.to_lowercase().starts_with("connection:"))
                    .collect::<Vec<_>>()
                    .join("\r\n");
                let head = head.trim_end().to_string() + "\r\nConnection: close\r\n\r\n";
                let mut up = TcpStream::connect(&upstream).unwrap();
                up.write_all(head.as_bytes()).unwrap();
                up.write_all(&buf[head_end..]).unwrap();
                let mut answer = Vec::new();
                up.read_to_end(&mut answer).unwrap();
                let _ = conn.write_all(&answer);
            });
        }
    });
    url
}

#[test]
fn client_catches_proofs_of_another_model_under_the_right_keys() {
    let f = fixture();
    let dir = tempfile::tempdir().unwrap();
    let honest = Server::start(&f.model, &f.keys, &dir.path().join("a.db"), &[]);
    let liar = Server::start(&f.other_model, &f.other_keys, &dir.path().join("b.db"), &[]);
    let url = lying_proxy(&honest.url, &liar.url);
    let out = client_predict(dir.path(), &url, &["--pin-digest", &f.digest, "--json"]);
    out.no_panic();
    assert_eq!(out.code, Some(1), "{}\n{}", out.stdout, out.stderr);
    let j: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(j["vouched"], false);
    assert_eq!(j["outcome"]["valid"], false, "{j}");
    let problems = j["outcome"]["problems"].to_string();
    assert!(problems.contains("does not verify"), "{problems}");
    assert_eq!(j["outcome"]["outputs"], serde_json::json!([]));
    // The honest server through the same proxy code is vouched for.
    let url = lying_proxy(&honest.url, &honest.url);
    let out = client_predict(dir.path(), &url, &["--pin-digest", &f.digest]);
    assert!(out.ok().contains("VALID"));
}

// ----- bad requests -----------------------------------------------------------------------------------

#[test]
fn bad_requests_get_clear_4xx_and_never_a_panic() {
    let f = fixture();
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(
        &f.model,
        &f.keys,
        &dir.path().join("jobs.db"),
        &["--max-body", "65536"],
    );
    let url = &server.url;
    let predict = |body: &str| {
        post(
            &format!("{url}/v1/predict"),
            "application/json",
            body.as_bytes(),
        )
    };
    let row = |n: usize| format!("[{}]", vec!["0.5"; n].join(","));

    predict("{\"input\": [1, 2").error(400, "invalid_input", "not valid JSON");
    predict("").error(400, "invalid_input", "not valid JSON");
    predict("[1, 2, 3]").error(400, "invalid_input", "expected a JSON object");
    let v = predict(&format!("{{\"input\": [{}]}}", row(63))).error(
        400,
        "invalid_input",
        "the model expects shape [1, 64]",
    );
    assert_eq!(v["error"]["field"], "input");
    predict(&format!("{{\"input\": [{}, {}]}}", row(64), row(64))).error(
        400,
        "invalid_input",
        "shape [2, 64]",
    );
    predict(&format!("{{\"input\": [[{}]]}}", row(64))).error(400, "invalid_input", "shape");
    let nan = format!("{{\"input\": [[NaN, {}]]}}", vec!["0"; 63].join(","));
    predict(&nan).error(400, "invalid_input", "not valid JSON");
    let huge = format!("{{\"input\": [[1e999, {}]]}}", vec!["0"; 63].join(","));
    predict(&huge).error(400, "invalid_input", "");
    let big = format!("{{\"input\": [[1e300, {}]]}}", vec!["0"; 63].join(","));
    let v = predict(&big).error(400, "invalid_input", "float32");
    assert_eq!(v["error"]["field"], "input[0][0]");
    let s = format!("{{\"input\": [[\"7\", {}]]}}", vec!["0"; 63].join(","));
    let v = predict(&s).error(400, "invalid_input", "expected a number, got a string");
    assert_eq!(v["error"]["field"], "input[0][0]");
    let ragged = format!("{{\"input\": [[{}], [1]]}}", vec!["0"; 64].join(","));
    predict(&ragged).error(400, "invalid_input", "");
    let v = predict(&format!("{{\"inputs\": {{\"nope\": {}}}}}", row(64))).error(
        400,
        "invalid_input",
        "no such input",
    );
    assert_eq!(v["error"]["field"], "inputs.nope");
    predict(&format!("{{\"input\": {}, \"extra\": 1}}", row(64))).error(
        400,
        "invalid_input",
        "unknown field",
    );
    predict("{}").error(400, "invalid_input", "missing");
    // Over the body limit.
    let body = format!("{{\"input\": [{}]}}", vec!["0.25"; 40_000].join(","));
    assert!(body.len() > 65536);
    predict(&body).error(413, "too_large", "65536-byte limit");
    // Query parameters.
    post(
        &format!("{url}/v1/predict?wait=soon"),
        "application/json",
        b"{}",
    )
    .error(400, "bad_request", "wait");
    // Jobs.
    get(&format!("{url}/v1/jobs/{}", "0".repeat(32))).error(404, "not_found", "no job");
    get(&format!("{url}/v1/jobs/not-a-job")).error(400, "bad_request", "not a job id");
    get(&format!("{url}/v1/jobs/{}/proof", "ab".repeat(16))).error(404, "not_found", "no job");
    // Verify: not a proof, bad base64, bad digest.
    post(
        &format!("{url}/v1/verify"),
        "application/octet-stream",
        b"hello",
    )
    .error(400, "bad_request", "proof");
    post(
        &format!("{url}/v1/verify"),
        "application/json",
        b"{\"proof\": \"!!\"}",
    )
    .error(400, "bad_request", "base64");
    post(
        &format!("{url}/v1/verify"),
        "application/json",
        b"{\"proof\": \"aGVsbG8=\", \"model_digest\": \"xyz\"}",
    )
    .error(400, "bad_request", "model_digest");
    // Routes and methods.
    get(&format!("{url}/v2/nothing")).error(404, "not_found", "openapi");
    get(&format!("{url}/v1/predict")).error(405, "method_not_allowed", "GET");

    // Nothing was queued, the server still serves and never panicked.
    let h = server.client().health().unwrap();
    assert_eq!((h.status.as_str(), h.queue_depth, h.running), ("ok", 0, 0));
    let m = server.client().metrics().unwrap();
    assert!(m.contains("vouch_jobs_accepted_total 0"), "{m}");
    server.assert_no_panic();
}

#[test]
fn a_request_that_never_finishes_times_out() {
    use std::io::Write;
    let f = fixture();
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(
        &f.model,
        &f.keys,
        &dir.path().join("jobs.db"),
        &["--request-timeout", "1"],
    );
    // A client that announces 100 bytes of body and sends 10, then stalls.
    let addr = server.url.trim_start_matches("http://").to_string();
    let mut conn = std::net::TcpStream::connect(&addr).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let start = Instant::now();
    conn.write_all(
        b"POST /v1/predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"input\": ",
    )
    .unwrap();
    let mut answer = String::new();
    let _ = conn.read_to_string(&mut answer);
    let took = start.elapsed();
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.contains("\"timeout\""), "{answer}");
    assert!(took < Duration::from_secs(10), "answered after {took:?}");
    // The server goes on serving.
    assert_eq!(server.client().health().unwrap().status, "ok");
    server.assert_no_panic();
}

// ----- back-pressure ----------------------------------------------------------------------------------

#[test]
fn a_full_queue_answers_429_with_retry_after() {
    let f = fixture();
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(
        &f.model,
        &f.keys,
        &dir.path().join("jobs.db"),
        &["--workers", "1", "--queue-limit", "2"],
    );
    let client = server.client();
    let url = &server.url;
    let body = serde_json::to_vec(&predict_body(&f.input)).unwrap();
    let mut accepted = Vec::new();
    let mut full = 0;
    for _ in 0..6 {
        let r = post(&format!("{url}/v1/predict"), "application/json", &body);
        match r.status {
            202 => accepted.push(r.json()["id"].as_str().unwrap().to_string()),
            429 => {
                full += 1;
                let v = r.error(429, "queue_full", "queue is full");
                assert!(r.retry_after.as_deref().unwrap().parse::<u64>().unwrap() >= 1);
                assert!(
                    v["error"]["queue_depth"].as_u64().unwrap()
                        >= v["error"]["queue_limit"].as_u64().unwrap()
                );
            }
            s => panic!("status {s}: {}", r.body),
        }
    }
    // One proving and two queued at most when the later ones arrive.
    assert!(
        full >= 1,
        "no 429 among 6 instant requests with a queue of 2"
    );
    assert!((2..=3).contains(&accepted.len()), "{accepted:?}");
    // Every accepted job is proven.
    for job in wait_all(&client, &accepted, Duration::from_secs(300)) {
        check_proof(f, &job);
    }
    let m = client.metrics().unwrap();
    assert!(
        m.contains(&format!(
            "vouch_jobs_rejected_total{{reason=\"queue_full\"}} {full}"
        )),
        "{m}"
    );
    server.assert_no_panic();
}

// ----- crash and graceful stop -----------------------------------------------------------------------

/// Rows of the job store: (id, status, attempts, has proof).
fn stored_jobs(db: &Path) -> Vec<(String, String, u32, bool)> {
    let conn =
        rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap();
    let mut st = conn
        .prepare("SELECT id, status, attempts, proof IS NOT NULL FROM jobs ORDER BY seq")
        .unwrap();
    st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

/// Submits `n` jobs without waiting.
fn submit(client: &Client, input: &[f32], n: usize) -> Vec<String> {
    (0..n)
        .map(
            |_| match client.submit(&predict_body(input), false).unwrap() {
                Submitted::Accepted(j) => j.id,
                Submitted::QueueFull { message, .. } => panic!("{message}"),
            },
        )
        .collect()
}

/// Waits until some job is being proven.
fn wait_proving(client: &Client, ids: &[String]) -> String {
    let start = Instant::now();
    loop {
        for id in ids {
            if client.job(id).unwrap().status == JobStatus::Proving {
                return id.clone();
            }
        }
        assert!(start.elapsed() < Duration::from_secs(60), "no job started");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn kill_9_while_proving_then_restart_loses_and_duplicates_nothing() {
    let f = fixture();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("jobs.db");
    let args = ["--workers", "1", "--queue-limit", "16"];
    let mut server = Server::start(&f.model, &f.keys, &db, &args);
    let client = server.client();
    let ids = submit(&client, &f.input, 5);
    let running = wait_proving(&client, &ids);
    let before: Vec<JobView> = ids.iter().map(|id| client.job(id).unwrap()).collect();
    server.kill9();

    // On disk after the crash: all five, none done twice, the running one still `proving`.
    let rows = stored_jobs(&db);
    assert_eq!(rows.len(), 5);
    assert_eq!(
        rows.iter().map(|r| r.0.clone()).collect::<Vec<_>>(),
        ids,
        "jobs stored in order"
    );
    let done_before = rows.iter().filter(|r| r.1 == "done").count();
    assert!(rows.iter().any(|r| r.0 == running && r.1 == "proving"));
    assert!(rows.iter().filter(|r| r.1 == "queued").count() >= 3);

    let server = Server::start(&f.model, &f.keys, &db, &args);
    let client = server.client();
    let metrics = client.metrics().unwrap();
    assert!(
        metrics.contains(&format!("vouch_jobs_recovered_total {}", 5 - done_before)),
        "{metrics}"
    );
    let jobs = wait_all(&client, &ids, Duration::from_secs(300));
    for (job, old) in jobs.iter().zip(&before) {
        check_proof(f, job);
        // The interpreter's answer given at submission is the one proven.
        assert_eq!(job.output, old.output);
    }
    let interrupted = jobs.iter().find(|j| j.id == running).unwrap();
    assert_eq!(interrupted.attempts, 2, "the interrupted job ran again");
    let rows = stored_jobs(&db);
    assert_eq!(rows.len(), 5, "no job lost or duplicated");
    assert!(rows.iter().all(|r| r.1 == "done" && r.3), "{rows:?}");
    let attempts: u32 = rows.iter().map(|r| r.2).sum();
    assert_eq!(attempts, 6, "one extra attempt for the interrupted job");
    eprintln!(
        "crash test: 5 jobs accepted, {done_before} done before kill -9, job {running} interrupted; after restart 5/5 done, 1 re-run, 0 lost, 0 duplicated"
    );
    server.assert_no_panic();
}

#[test]
fn sigterm_requeues_running_jobs_and_a_restart_finishes_them() {
    let f = fixture();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("jobs.db");
    // No grace: the running proof is put back in the queue at once.
    let args = ["--workers", "1", "--shutdown-grace", "0"];
    let mut server = Server::start(&f.model, &f.keys, &db, &args);
    let client = server.client();
    let ids = submit(&client, &f.input, 3);
    let running = wait_proving(&client, &ids);
    // A request waiting for its proof is answered (202, job as it is) when the server stops.
    let waiter = {
        let url = server.url.clone();
        let body = serde_json::to_vec(&predict_body(&f.input)).unwrap();
        std::thread::spawn(move || {
            post(
                &format!("{url}/v1/predict?wait=true"),
                "application/json",
                &body,
            )
        })
    };
    std::thread::sleep(Duration::from_millis(300));
    let status = server.terminate(Duration::from_secs(30));
    assert!(status.success(), "{status:?}\n{}", server.stderr());
    let r = waiter.join().unwrap();
    assert_eq!(r.status, 202, "{}", r.body);
    let waited = r.json()["id"].as_str().unwrap().to_string();
    assert!(server.stderr().contains("re-queued"), "{}", server.stderr());
    let rows = stored_jobs(&db);
    assert_eq!(rows.len(), 4);
    assert!(
        rows.iter().all(|r| r.1 == "queued" || r.1 == "done"),
        "{rows:?}"
    );
    assert!(rows.iter().any(|r| r.0 == running && r.1 == "queued"));

    let server = Server::start(&f.model, &f.keys, &db, &args);
    let client = server.client();
    let mut all = ids.clone();
    all.push(waited);
    for job in wait_all(&client, &all, Duration::from_secs(300)) {
        check_proof(f, &job);
    }
    server.assert_no_panic();
}

// ----- load -------------------------------------------------------------------------------------------

/// `requests` predictions from `clients` threads (each submits without waiting, retrying a
/// full queue after Retry-After, then polls its jobs); checks that none is lost and that 429
/// came only with a full queue; prints throughput and latency percentiles.
fn load(requests: usize, clients: usize, queue_limit: usize, workers: usize) {
    let f = fixture();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("jobs.db");
    let ql = queue_limit.to_string();
    let w = workers.to_string();
    let server = Server::start(
        &f.model,
        &f.keys,
        &db,
        &["--workers", &w, "--queue-limit", &ql, "--quiet"],
    );
    struct Sample {
        id: String,
        submit_ms: f64,
        end_to_end_ms: f64,
        /// Time spent waiting out 429s before acceptance.
        retry_ms: f64,
        rejected: usize,
    }
    let start = Instant::now();
    let threads: Vec<_> = (0..clients)
        .map(|c| {
            let url = server.url.clone();
            let input = f.input.clone();
            let n = requests / clients + usize::from(c < requests % clients);
            std::thread::spawn(move || {
                let client = Client::new(&url, Duration::from_secs(60)).unwrap();
                let mut pending = Vec::new();
                for _ in 0..n {
                    let t0 = Instant::now();
                    let mut rejected = 0;
                    let (job, accept_ms) = loop {
                        let t = Instant::now();
                        match client.submit(&predict_body(&input), false).unwrap() {
                            Submitted::Accepted(j) => break (j, t.elapsed().as_secs_f64() * 1e3),
                            Submitted::QueueFull {
                                retry_after,
                                queue_depth,
                                queue_limit,
                                ..
                            } => {
                                assert!(
                                    queue_depth.unwrap() >= queue_limit.unwrap(),
                                    "429 with a queue that is not full"
                                );
                                rejected += 1;
                                std::thread::sleep(retry_after.min(Duration::from_secs(2)));
                            }
                        }
                    };
                    assert!(!job.output.is_empty(), "no output at submission");
                    let retry_ms = t0.elapsed().as_secs_f64() * 1e3 - accept_ms;
                    pending.push((job.id, retry_ms, accept_ms, rejected));
                }
                pending
                    .into_iter()
                    .map(|(id, retry_ms, submit_ms, rejected)| {
                        let job = client.wait_for_job(&id, Duration::from_secs(1800)).unwrap();
                        assert_eq!(job.status, JobStatus::Done, "{job:?}");
                        Sample {
                            id,
                            submit_ms,
                            // Server clock: from acceptance to the stored proof.
                            end_to_end_ms: (job.finished_unix_ms.unwrap() - job.created_unix_ms)
                                as f64,
                            retry_ms,
                            rejected,
                        }
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let samples: Vec<Sample> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    let wall = start.elapsed().as_secs_f64();
    assert_eq!(samples.len(), requests);
    let mut ids: Vec<&str> = samples.iter().map(|s| s.id.as_str()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), requests, "job ids repeat");
    let rows = stored_jobs(&db);
    assert_eq!(rows.len(), requests, "jobs lost or duplicated in the store");
    assert!(rows.iter().all(|r| r.1 == "done" && r.3 && r.2 == 1));
    // A sample of proofs verifies.
    let client = server.client();
    for s in samples.iter().step_by((requests / 4).max(1)) {
        check_proof(f, &client.job(&s.id).unwrap());
    }
    let metrics = client.metrics().unwrap();
    let rejected: usize = samples.iter().map(|s| s.rejected).sum();
    assert!(
        metrics.contains(&format!(
            "vouch_jobs_rejected_total{{reason=\"queue_full\"}} {rejected}"
        )),
        "{metrics}"
    );
    assert!(metrics.contains(&format!("vouch_proofs_total{{result=\"done\"}} {requests}")));
    let pct = |v: &mut Vec<f64>, p: f64| {
        v.sort_by(f64::total_cmp);
        v[((v.len() - 1) as f64 * p).round() as usize]
    };
    let mut submit: Vec<f64> = samples.iter().map(|s| s.submit_ms).collect();
    let mut e2e: Vec<f64> = samples.iter().map(|s| s.end_to_end_ms).collect();
    let mut retry: Vec<f64> = samples.iter().map(|s| s.retry_ms).collect();
    let prove_sum = metrics
        .lines()
        .find_map(|l| l.strip_prefix("vouch_prove_seconds_sum "))
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap_or(0.0);
    println!(
        "load: {requests} requests from {clients} clients, {workers} worker(s), queue limit {queue_limit}: \
         {:.2} proofs/s over {wall:.1} s; mean prove {:.2} s; 429 answers {rejected}; \
         accepted predict (output at once) p50 {:.1} ms p95 {:.1} ms p99 {:.1} ms; \
         proof latency (accepted to proven) p50 {:.2} s p95 {:.2} s p99 {:.2} s; \
         wait for acceptance (429 retries) p50 {:.2} s p95 {:.2} s p99 {:.2} s",
        requests as f64 / wall,
        prove_sum / requests as f64,
        pct(&mut submit, 0.5),
        pct(&mut submit, 0.95),
        pct(&mut submit, 0.99),
        pct(&mut e2e, 0.5) / 1e3,
        pct(&mut e2e, 0.95) / 1e3,
        pct(&mut e2e, 0.99) / 1e3,
        pct(&mut retry, 0.5) / 1e3,
        pct(&mut retry, 0.95) / 1e3,
        pct(&mut retry, 0.99) / 1e3,
    );
    server.assert_no_panic();
}

#[test]
fn load_test_small() {
    load(12, 6, 3, 1);
}

/// The full load test: `cargo test -p vouch-cli --test serve -- --ignored --nocapture`.
#[test]
#[ignore = "minutes of proving; run by hand"]
fn load_test_full() {
    load(200, 16, 32, 1);
}

#[test]
fn serves_gkr_proofs_that_the_client_verifies() {
    let f = fixture();
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("gkr-keys").display().to_string();
    vouch(
        dir.path(),
        &["setup", &f.model, "--backend", "gkr", "-o", &keys],
    )
    .ok();
    let server = Server::start(&f.model, &keys, &dir.path().join("jobs.db"), &[]);
    let url = server.url.clone();
    let m = get(&format!("{url}/v1/model")).json();
    assert_eq!(m["backend"], "gkr");
    assert_eq!(m["insecure_setup"], false);
    let r = agent().get(&format!("{url}/v1/model/vk")).call().unwrap();
    let disposition = r
        .headers()
        .get("content-disposition")
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    assert!(disposition.contains("gkr.program"), "{disposition}");
    let served = r.into_body().read_to_vec().unwrap();
    assert_eq!(
        served,
        std::fs::read(Path::new(&keys).join("gkr.program")).unwrap()
    );
    let out = client_predict(dir.path(), &url, &["--pin-digest", &f.digest, "--json"]);
    let j = out.json();
    assert_eq!(j["vouched"], true, "{j}\n{}", server.stderr());
    assert_eq!(
        j["outcome"]["outputs"][0]["quantized"],
        f.run["outputs"][0]["quantized"]
    );
}
