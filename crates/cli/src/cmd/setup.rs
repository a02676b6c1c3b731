//! `vouch setup`: proving and verifying keys for a model under a visibility policy.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use serde_json::json;
use vouch::artifact::{check_keys_target, ModelPackage, HALO2_VK_FILE};
use vouch::backend::Visibility;
use vouch::prove::{describe_policy, setup_keys, visibility_name, PolicyChoice, Preset};

use crate::output::{json as print_json, tensor_json, INSECURE_WARNING};

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum BackendArg {
    /// PLONKish proofs with KZG commitments on BN254.
    Halo2,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum PresetArg {
    /// Input and output public, weights committed by hash (the weights stay secret).
    Provider,
    /// Input committed by hash (the input stays secret), weights fixed in the key, output public.
    Client,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum VisArg {
    /// The values are part of the statement.
    Public,
    /// Only a hash commitment is public.
    Hashed,
    /// Nothing about the values is public.
    Private,
    /// Baked into the verifying key.
    Fixed,
}

impl From<VisArg> for Visibility {
    fn from(v: VisArg) -> Self {
        match v {
            VisArg::Public => Visibility::Public,
            VisArg::Hashed => Visibility::Hashed,
            VisArg::Private => Visibility::Private,
            VisArg::Fixed => Visibility::Fixed,
        }
    }
}

#[derive(clap::Args, Debug)]
#[command(group(
    clap::ArgGroup::new("parameters")
        .required(true)
        .args(["srs", "insecure_dev_setup"])
))]
pub struct Args {
    /// The model package (.vouch).
    model: PathBuf,
    /// Proving backend.
    #[arg(long, value_enum)]
    backend: BackendArg,
    /// Visibility preset (default provider); --input-vis, --weights-vis and --output-vis
    /// override single roles.
    #[arg(long, value_enum)]
    preset: Option<PresetArg>,
    /// Visibility of the model input.
    #[arg(long, value_enum)]
    input_vis: Option<VisArg>,
    /// Visibility of the weights.
    #[arg(long, value_enum)]
    weights_vis: Option<VisArg>,
    /// Visibility of the model output.
    #[arg(long, value_enum)]
    output_vis: Option<VisArg>,
    #[command(flatten)]
    params: super::SrsArgs,
    /// Keys directory to create.
    #[arg(short, long)]
    output: PathBuf,
    /// Replace the keys directory if it exists (only one that holds nothing but keys files).
    #[arg(long)]
    force: bool,
    /// Machine-readable output.
    #[arg(long)]
    json: bool,
}

pub fn run(a: Args) -> anyhow::Result<ExitCode> {
    let BackendArg::Halo2 = a.backend;
    check_keys_target(&a.output, a.force)?;
    let policy = PolicyChoice {
        preset: a.preset.map(|p| match p {
            PresetArg::Provider => Preset::Provider,
            PresetArg::Client => Preset::Client,
        }),
        input: a.input_vis.map(Into::into),
        weights: a.weights_vis.map(Into::into),
        output: a.output_vis.map(Into::into),
    }
    .resolve();
    let srs = a.params.resolve()?;
    let pkg = ModelPackage::read(&a.model)?;
    let t0 = Instant::now();
    let keys = setup_keys(&pkg, policy, srs)?;
    let setup_ms = t0.elapsed().as_secs_f64() * 1e3;
    keys.write(&a.output, a.force)?;
    let s = &keys.summary;
    if s.insecure_setup {
        eprintln!("{INSECURE_WARNING}");
    }
    let vis = |v: Visibility| visibility_name(v);
    if a.json {
        print_json(&json!({
            "keys": a.output.display().to_string(),
            "backend": s.backend,
            "digest": s.model_digest.hex(),
            "preset": s.preset,
            "policy": {"input": vis(policy.input), "weights": vis(policy.weights), "output": vis(policy.output)},
            "k": s.k,
            "rows": s.rows,
            "table_rows": s.table_rows,
            "range_bits": s.range_bits,
            "lanes": s.lanes,
            "public": s.public.iter().map(tensor_json).collect::<Vec<_>>(),
            "srs_sha256": s.srs_sha256,
            "insecure_setup": s.insecure_setup,
            "vk_bytes": s.vk_bytes,
            "weights_commitment": s.weights_commitment,
            "setup_ms": setup_ms,
        }))?;
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "wrote {} ({HALO2_VK_FILE} {} bytes, keys.json)",
        a.output.display(),
        s.vk_bytes
    );
    println!("model    {}  ({})", s.model_digest, s.model_source);
    println!("backend  {}", s.backend);
    println!("policy   {}", describe_policy(policy));
    println!(
        "circuit  k = {} (2^{} rows of {} lanes): {} gate rows, {} lookup-table rows, {}-bit range table",
        s.k, s.k, s.lanes, s.rows, s.table_rows, s.range_bits
    );
    let public: Vec<String> = s
        .public
        .iter()
        .map(|t| format!("{} {:?}", t.name, t.shape))
        .collect();
    println!(
        "public   {}",
        if public.is_empty() {
            "nothing (the proof reveals no values)".to_string()
        } else {
            public.join(", ")
        }
    );
    match (&a.params.srs, s.insecure_setup) {
        (_, true) => println!(
            "srs      INSECURE, generated locally (sha256 {})",
            s.srs_sha256
        ),
        (Some(p), false) => println!("srs      {} (sha256 {})", p.display(), s.srs_sha256),
        (None, false) => println!("srs      sha256 {}", s.srs_sha256),
    }
    if let Some(c) = &s.weights_commitment {
        println!("weights commitment {c}");
        println!(
            "         publish it; every proof made with these keys carries it. {} in the keys\n         directory is its secret blinding: share only {HALO2_VK_FILE} and keys.json.",
            vouch::artifact::WEIGHTS_BLINDING_FILE
        );
    }
    println!("setup    {:.2} s", setup_ms / 1e3);
    Ok(ExitCode::SUCCESS)
}
