//! `vouch prove`: run the model on an input and prove the run.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::bail;
use serde::Serialize;
use serde_json::json;
use vouch::artifact::{hex, KeysDir, ModelPackage};
use vouch::backend::Visibility;
use vouch::model::OutputValue;
use vouch::prove::{describe_policy, prove_with, role_name};

use crate::cmd::run::read_input;
use crate::output::{json as print_json, preview, INSECURE_WARNING};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The model package (.vouch).
    model: PathBuf,
    /// Keys directory made by `vouch setup` for this model.
    #[arg(long)]
    keys: PathBuf,
    /// Input: a .npy array of the model's input shape, or JSON (a nested array, or an object
    /// mapping input names to nested arrays).
    #[arg(long)]
    input: PathBuf,
    /// Proof file to write.
    #[arg(short, long)]
    output: PathBuf,
    /// Replace the proof file if it exists.
    #[arg(long)]
    force: bool,
    /// Machine-readable output.
    #[arg(long)]
    json: bool,
}

/// `--json` report; the outputs serialize as `vouch run` prints them.
#[derive(Serialize)]
struct ProveReport<'a> {
    proof: String,
    digest: String,
    backend: &'a str,
    policy: String,
    k: u32,
    insecure_setup: bool,
    /// Per output: name, shape, real values, integers, scale.
    outputs: &'a [OutputValue],
    outputs_int: Vec<&'a [i64]>,
    /// Whether the proof reveals the outputs (else only the prover knows them).
    outputs_public: bool,
    commitments: Vec<serde_json::Value>,
    run_ms: f64,
    proving_key_ms: f64,
    prove_ms: f64,
    total_ms: f64,
    /// Size of the proof file.
    proof_bytes: usize,
    /// Size of the backend's proof inside it.
    raw_proof_bytes: usize,
}

pub fn run(a: Args) -> anyhow::Result<ExitCode> {
    if a.output.exists() && !a.force {
        bail!(
            "{} already exists; pass --force to overwrite it",
            a.output.display()
        );
    }
    let pkg = ModelPackage::read(&a.model)?;
    let keys = KeysDir::read(&a.keys)?;
    let sample = read_input(&pkg, &a.input)?;
    let progress = std::io::stderr().is_terminal();
    let t0 = Instant::now();
    let proved = prove_with(&pkg, &keys, &sample, |phase| {
        if progress {
            eprintln!("prove: {} ...", phase.describe());
        }
    })?;
    let total_ms = t0.elapsed().as_secs_f64() * 1e3;
    let file_bytes = proved.file.write(&a.output, a.force)?;
    let st = &proved.file.statement;
    let t = &proved.timings;
    let ms = |d: std::time::Duration| d.as_secs_f64() * 1e3;
    if st.insecure_setup {
        eprintln!("{INSECURE_WARNING}");
    }
    let commitments: Vec<serde_json::Value> = st
        .commitments
        .iter()
        .map(|c| json!({"role": role_name(c.role), "hex": hex(&c.bytes)}))
        .collect();
    let outputs_public = st.visibility.output == Visibility::Public;
    if a.json {
        print_json(&ProveReport {
            proof: a.output.display().to_string(),
            digest: st.program_digest.hex(),
            backend: &st.backend,
            policy: describe_policy(st.visibility),
            k: proved.file.meta.k,
            insecure_setup: st.insecure_setup,
            outputs: &proved.outputs,
            outputs_int: proved.outputs.iter().map(|o| &o.quantized[..]).collect(),
            outputs_public,
            commitments,
            run_ms: ms(t.run),
            proving_key_ms: ms(t.proving_key),
            prove_ms: ms(t.prove),
            total_ms,
            proof_bytes: file_bytes,
            raw_proof_bytes: proved.file.proof.len(),
        })?;
        return Ok(ExitCode::SUCCESS);
    }
    println!("model    {}", st.program_digest);
    println!("policy   {}", describe_policy(st.visibility));
    for o in &proved.outputs {
        println!(
            "output   {} {:?} ({})",
            o.name,
            o.shape,
            if outputs_public {
                "public in the proof"
            } else {
                "not revealed by the proof"
            }
        );
        println!("  integer  {}", preview(&o.quantized, 16));
        let real: Vec<String> = o.values.iter().map(|v| format!("{v:.4}")).collect();
        println!("  real     {}", preview(&real, 16));
    }
    if commitments.is_empty() {
        println!("commitments  none");
    }
    for c in &st.commitments {
        println!("commitment   {} {}", role_name(c.role), hex(&c.bytes));
    }
    println!(
        "wrote {}: {file_bytes} bytes (proof {} bytes, k = {})",
        a.output.display(),
        proved.file.proof.len(),
        proved.file.meta.k
    );
    println!(
        "time     prove {:.2} s (proving key {:.2} s, run {:.1} ms; {:.2} s in all)",
        ms(t.prove) / 1e3,
        ms(t.proving_key) / 1e3,
        ms(t.run),
        total_ms / 1e3
    );
    Ok(ExitCode::SUCCESS)
}
