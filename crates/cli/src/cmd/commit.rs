//! `vouch commit`: the weights commitment a provider publishes, recomputed from the model and
//! the keys directory's secret blinding, so users can pin it before any proof exists.

use std::path::PathBuf;
use std::process::ExitCode;

use serde_json::json;
use vouch::artifact::{KeysDir, ModelPackage};
use vouch::prove::commit_weights;

use crate::output::json as print_json;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The model package.
    model: PathBuf,
    /// Keys directory made by `vouch setup` with hashed weights (holds the secret blinding).
    #[arg(long)]
    keys: PathBuf,
    /// Machine-readable output.
    #[arg(long)]
    json: bool,
}

pub fn run(a: Args) -> anyhow::Result<ExitCode> {
    let pkg = ModelPackage::read(&a.model)?;
    let keys = KeysDir::read(&a.keys)?;
    let c = commit_weights(&pkg, &keys)?;
    if a.json {
        print_json(&json!({"digest": pkg.digest().to_string(), "weights_commitment": c}))?;
    } else {
        println!("model digest        {}", pkg.digest());
        println!("weights commitment  {c}");
        println!(
            "publish both; clients check proofs with --model-digest and --commitment weights:HEX"
        );
    }
    Ok(ExitCode::SUCCESS)
}
