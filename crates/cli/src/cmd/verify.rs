//! `vouch verify`: check a proof file against keys. Exit status 0 valid, 1 invalid, 2 files
//! that cannot be read.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use serde_json::json;
use vouch::artifact::{hex, KeysDir, ProofFile};
use vouch::ir::Digest;
use vouch::prove::{describe_policy, public_values, role_name, verify, ExpectedCommitment};

use crate::output::{json as print_json, num, preview, INSECURE_WARNING};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The proof file.
    proof: PathBuf,
    /// Keys directory made by `vouch setup`.
    #[arg(long)]
    keys: PathBuf,
    /// Require the proof to be about this model (64 hex characters, as `vouch compile` prints).
    #[arg(long)]
    model_digest: Option<String>,
    /// Require the statement to carry this commitment: HEX, or ROLE:HEX with ROLE input,
    /// weights or output.
    #[arg(long)]
    commitment: Option<String>,
    /// Machine-readable output.
    #[arg(long)]
    json: bool,
}

pub fn run(a: Args) -> anyhow::Result<ExitCode> {
    let expected_digest = match &a.model_digest {
        Some(d) => Some(Digest::from_hex(d).context("--model-digest: expected 64 hex characters")?),
        None => None,
    };
    let expected_commitment = a
        .commitment
        .as_deref()
        .map(|c| c.parse::<ExpectedCommitment>())
        .transpose()
        .context("--commitment")?;
    let proof = ProofFile::read(&a.proof)?;
    let keys = KeysDir::read(&a.keys)?;
    let t0 = Instant::now();
    // Errors here are proofs no check applies to (another backend's than the keys').
    let verdict = verify(&proof, &keys, expected_digest, expected_commitment.as_ref())
        .with_context(|| a.proof.display().to_string())?;
    let verify_ms = t0.elapsed().as_secs_f64() * 1e3;
    let st = &verdict.statement;
    if verdict.insecure_setup {
        eprintln!("{INSECURE_WARNING}");
    }
    let code = if verdict.is_valid() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    };
    let public = public_values(st, &keys.summary);
    let commitments: Vec<serde_json::Value> = st
        .commitments
        .iter()
        .map(|c| json!({"role": role_name(c.role), "hex": hex(&c.bytes)}))
        .collect();
    if a.json {
        let outputs: Vec<_> = public.iter().filter(|p| p.role == Some("output")).collect();
        print_json(&json!({
            "valid": verdict.is_valid(),
            "check": verdict.rejection.as_ref().map(|r| r.check),
            "reason": verdict.rejection.as_ref().map(|r| &r.reason),
            "digest": st.program_digest.hex(),
            "keys_digest": keys.digest().hex(),
            "backend": st.backend,
            "policy": describe_policy(st.visibility),
            "insecure_setup": verdict.insecure_setup,
            "public": if verdict.is_valid() { json!(public) } else { json!(null) },
            "outputs": if verdict.is_valid() { json!(outputs) } else { json!(null) },
            "commitments": commitments,
            "proof_bytes": proof.proof.len(),
            "verify_ms": verify_ms,
        }))?;
        return Ok(code);
    }
    println!(
        "proof    {} ({}, {} bytes)",
        a.proof.display(),
        st.backend,
        proof.proof.len()
    );
    println!("model    {}", st.program_digest);
    println!("policy   {}", describe_policy(st.visibility));
    if verdict.insecure_setup {
        println!(
            "INSECURE dev setup: locally generated parameters; this proof convinces no one else"
        );
    }
    if let Some(r) = &verdict.rejection {
        println!("INVALID: {}", r.reason);
        return Ok(code);
    }
    for p in &public {
        println!(
            "{:<8} {} {:?} = {}",
            p.role.unwrap_or("public"),
            p.name,
            p.shape,
            preview(&p.quantized, 16)
        );
        if let Some(v) = &p.values {
            let real: Vec<String> = v.iter().map(|&x| num(x)).collect();
            println!("{:<8} real {}", "", preview(&real, 16));
        }
    }
    if public.is_empty() {
        println!("public   nothing (the proof reveals no values)");
    }
    for c in &st.commitments {
        println!("commitment {} {}", role_name(c.role), hex(&c.bytes));
    }
    println!("VALID    ({verify_ms:.1} ms)");
    Ok(code)
}
