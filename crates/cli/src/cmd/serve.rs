//! `vouch serve`: the proving service (see docs/serve.md).

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use serde_json::json;
use vouch::artifact::{KeysDir, ModelPackage};
use vouch_serve::api::Limits;
use vouch_serve::model::ServedModel;
use vouch_serve::server::{run, ServeConfig};

use crate::output::INSECURE_WARNING;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The model package (.vouch).
    #[arg(long)]
    model: PathBuf,
    /// Keys directory made by `vouch setup` for this model (with weights.blinding when the
    /// weights are hashed; it is never served).
    #[arg(long)]
    keys: PathBuf,
    /// SQLite job store (created if missing; jobs left queued or proving are resumed).
    #[arg(long, default_value = "vouch.db")]
    db: PathBuf,
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:8080")]
    addr: String,
    /// Proving workers (each proof already uses every core).
    #[arg(long, default_value_t = 1)]
    workers: usize,
    /// Queued jobs above which predictions get 429 with Retry-After.
    #[arg(long, default_value_t = 64)]
    queue_limit: usize,
    /// Largest request body, in bytes.
    #[arg(long, default_value_t = 4 << 20)]
    max_body: usize,
    /// Longest a request may take, in seconds (not counting a predict's wait).
    #[arg(long, default_value_t = 30)]
    request_timeout: u64,
    /// Longest `POST /v1/predict?wait=true` waits for the proof, in seconds (then 202).
    #[arg(long, default_value_t = 120)]
    wait_timeout: u64,
    /// On SIGTERM/ctrl-c, seconds to let running proofs finish before re-queueing them.
    #[arg(long, default_value_t = 60)]
    shutdown_grace: u64,
    /// Do not log jobs on stderr.
    #[arg(long)]
    quiet: bool,
    /// Print the listening line as JSON.
    #[arg(long)]
    json: bool,
}

pub fn run_cmd(a: Args) -> anyhow::Result<ExitCode> {
    let pkg = ModelPackage::read(&a.model)?;
    let keys = KeysDir::read(&a.keys)?;
    let model = ServedModel::new(pkg, keys)?;
    if model.info.insecure_setup {
        eprintln!("{INSECURE_WARNING}");
    }
    let config = ServeConfig {
        db: a.db.clone(),
        addr: a.addr.clone(),
        workers: a.workers,
        queue_limit: a.queue_limit,
        limits: Limits {
            max_body_bytes: a.max_body,
            request_timeout: Duration::from_secs(a.request_timeout),
            wait_timeout: Duration::from_secs(a.wait_timeout),
        },
        shutdown_grace: Duration::from_secs(a.shutdown_grace),
        max_attempts: 3,
        log: !a.quiet,
    };
    let digest = model.info.digest.clone();
    let preset = model.info.preset.clone();
    let commitments = model.info.commitments.clone();
    let (json_out, quiet, db) = (a.json, a.quiet, a.db.display().to_string());
    let stopped = run(model, config, move |s| {
        let url = format!("http://{}", s.addr);
        if json_out {
            println!(
                "{}",
                json!({
                    "listening": url,
                    "digest": digest,
                    "preset": preset,
                    "commitments": commitments,
                    "db": db,
                    "resumed_jobs": s.recovery.queued.len(),
                    "interrupted_jobs": s.recovery.interrupted.len(),
                })
            );
        } else {
            println!("listening on {url}");
            println!("model    {digest}");
            for c in &commitments {
                println!("commitment {} {}", c.role, c.hex);
            }
            println!(
                "jobs     {db}: {} resumed ({} interrupted by a stop)",
                s.recovery.queued.len(),
                s.recovery.interrupted.len()
            );
        }
        let _ = std::io::stdout().flush();
        if !quiet && !s.recovery.abandoned.is_empty() {
            eprintln!(
                "gave up {} jobs that were interrupted too often",
                s.recovery.abandoned.len()
            );
        }
    })?;
    if !a.quiet {
        eprintln!(
            "stopped: {} jobs stay queued for the next start; {} running jobs re-queued",
            stopped.queued,
            stopped.requeued.len()
        );
    }
    Ok(ExitCode::SUCCESS)
}
