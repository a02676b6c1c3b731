//! `vouch client predict`: submit an input to a proving service and trust the output only after
//! verifying its proof locally against the pinned model. Exit status 0 vouched, 1 not (any
//! mismatch or an invalid proof), 2 usage, input or connection errors.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use vouch::ir::Digest;
use vouch::npy;
use vouch::prove::ExpectedCommitment;
use vouch_serve::client::{predict_vouched, Client, Pins};

use crate::output::{json as print_json, num, preview, INSECURE_WARNING};

#[derive(clap::Subcommand, Debug)]
pub enum Command {
    /// Send an input, wait for the proof, verify it locally, print the output with the verdict.
    Predict(PredictArgs),
}

#[derive(clap::Args, Debug)]
pub struct PredictArgs {
    /// The server, e.g. http://127.0.0.1:8080.
    #[arg(long)]
    url: String,
    /// The input: a .npy array with the model input's number of values.
    #[arg(long)]
    input: PathBuf,
    /// The model digest to require (64 hex characters, from a source you trust).
    #[arg(long)]
    pin_digest: String,
    /// A commitment to require, e.g. the provider's published weights commitment: HEX or
    /// ROLE:HEX.
    #[arg(long)]
    pin_commitment: Option<String>,
    /// Give up waiting for the proof after this many seconds.
    #[arg(long, default_value_t = 300)]
    timeout: u64,
    /// Also write the proof file here.
    #[arg(short, long)]
    output: Option<PathBuf>,
    /// Machine-readable output.
    #[arg(long)]
    json: bool,
}

pub fn run(c: Command) -> anyhow::Result<ExitCode> {
    match c {
        Command::Predict(a) => predict(a),
    }
}

fn predict(a: PredictArgs) -> anyhow::Result<ExitCode> {
    let digest =
        Digest::from_hex(&a.pin_digest).context("--pin-digest: expected 64 hex characters")?;
    let commitment = a
        .pin_commitment
        .as_deref()
        .map(|c| c.parse::<ExpectedCommitment>().context("--pin-commitment"))
        .transpose()?;
    if let Some(p) = &a.output {
        if p.exists() {
            anyhow::bail!("{} already exists; choose a new proof file", p.display());
        }
    }
    let arr = npy::read(&a.input)?;
    let client = Client::new(&a.url, Duration::from_secs(a.timeout.clamp(1, 3600)))?;
    let pins = Pins { digest, commitment };
    let out = predict_vouched(&client, &arr.data, &pins, Duration::from_secs(a.timeout))?;
    if let (Some(path), Some(bytes)) = (&a.output, &out.proof) {
        vouch::artifact::write_new(path, bytes, false)?;
    }
    let code = if out.vouched() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    };
    if out.insecure_setup {
        eprintln!("{INSECURE_WARNING}");
    }
    if a.json {
        print_json(&serde_json::json!({
            "vouched": out.vouched(),
            "outcome": out,
        }))?;
        return Ok(code);
    }
    println!("server   {}", out.url);
    println!("model    {} (pinned {})", out.digest, pins.digest);
    if let Some(id) = &out.job_id {
        println!("job      {id}");
    }
    for w in &out.warnings {
        println!("warning  {w}");
    }
    if !out.vouched() {
        for p in &out.problems {
            println!("MISMATCH: {p}");
        }
        if out.problems.is_empty() {
            println!("MISMATCH: the proof was not verified");
        }
        println!("NOT VOUCHED: the output is not shown");
        return Ok(code);
    }
    for c in &out.commitments {
        println!("commitment {} {}", c.role, c.hex);
    }
    for o in &out.outputs {
        println!(
            "output   {} {:?} = {}",
            o.name,
            o.shape,
            preview(&o.quantized, 16)
        );
        if let Some(v) = &o.values {
            let real: Vec<String> = v.iter().map(|&x| num(x)).collect();
            println!("         real {}", preview(&real, 16));
            if let Some((k, _)) = v.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)) {
                println!("         top-1 class {k}");
            }
        }
    }
    println!(
        "VALID    proof verified locally ({:.1} ms; proven by the server in {:.2} s, {:.2} s from submission)",
        out.verify_ms,
        out.prove_ms.unwrap_or(0.0) / 1e3,
        out.wait_ms / 1e3
    );
    Ok(code)
}
