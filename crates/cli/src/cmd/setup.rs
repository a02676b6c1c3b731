//! `vouch setup`: proving and verifying keys for a model under a visibility policy.
//!
//! halo2 takes its KZG parameters from `--srs` (or `--insecure-dev-setup`). gkr has no
//! trusted setup (neither flag is accepted) and proves input public (its policy when no
//! `--preset` or role flag is given) or private (a zero-knowledge proof), with weights fixed and
//! the output public; any other policy is refused with the flags to pass.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::bail;
use serde_json::json;
use vouch::artifact::{check_keys_target, ModelPackage};
use vouch::backend::{Visibility, VisibilityPolicy};
use vouch::gkr::program::{PlanError, ProgramError};
use vouch::prove::{
    describe_policy, setup_keys, visibility_name, BackendKind, PolicyChoice, Preset, SetupParams,
};
use vouch::VouchError;

use crate::output::{json as print_json, tensor_json, INSECURE_WARNING};

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum BackendArg {
    /// PLONKish proofs with KZG commitments on BN254 (needs --srs or --insecure-dev-setup).
    Halo2,
    /// Sumcheck/GKR proofs with WHIR commitments: no trusted setup; input public, weights
    /// fixed, output public only (for now).
    Gkr,
}

impl From<BackendArg> for BackendKind {
    fn from(b: BackendArg) -> Self {
        match b {
            BackendArg::Halo2 => BackendKind::Halo2,
            BackendArg::Gkr => BackendKind::Gkr,
        }
    }
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
pub struct Args {
    /// The model package (.vouch).
    model: PathBuf,
    /// Proving backend.
    #[arg(long, value_enum)]
    backend: BackendArg,
    /// Visibility preset (default: provider for halo2; for gkr input public, weights fixed,
    /// output public); --input-vis, --weights-vis and --output-vis override single roles.
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
    let backend = BackendKind::from(a.backend);
    let choice = PolicyChoice {
        preset: a.preset.map(|p| match p {
            PresetArg::Provider => Preset::Provider,
            PresetArg::Client => Preset::Client,
        }),
        input: a.input_vis.map(Into::into),
        weights: a.weights_vis.map(Into::into),
        output: a.output_vis.map(Into::into),
    };
    let policy = choice.resolve_for(backend);
    let params = match backend {
        BackendKind::Halo2 => SetupParams::Halo2(a.params.resolve()?),
        BackendKind::Gkr => {
            if a.params.srs.is_some()
                || a.params.srs_sha256.is_some()
                || a.params.insecure_dev_setup
            {
                bail!(
                    "--backend gkr has no trusted setup: drop --srs, --srs-sha256 and --insecure-dev-setup (they are for halo2)"
                );
            }
            SetupParams::Gkr
        }
    };
    check_keys_target(&a.output, a.force)?;
    let pkg = ModelPackage::read(&a.model)?;
    let t0 = Instant::now();
    let keys = setup_keys(&pkg, policy, params).map_err(|e| explain_gkr_policy(e, policy))?;
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
            "params_digest": s.params_digest,
            "security": backend.security_level(),
            "insecure_setup": s.insecure_setup,
            "vk_file": s.vk_file,
            "vk_bytes": s.vk_bytes,
            "weights_commitment": s.weights_commitment,
            "setup_ms": setup_ms,
        }))?;
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "wrote {} ({} {} bytes, keys.json)",
        a.output.display(),
        s.vk_file,
        s.vk_bytes
    );
    println!("model    {}  ({})", s.model_digest, s.model_source);
    println!("backend  {}", s.backend);
    println!("policy   {}", describe_policy(policy));
    if backend == BackendKind::Gkr {
        println!(
            "trace    2^{} entries: {} committed values, {} lookup-table entries, {}-bit range limbs",
            s.k, s.rows, s.table_rows, s.range_bits
        );
        print_public(s);
        println!(
            "setup    none needed: the key is the program ({})",
            s.vk_file
        );
        println!(
            "params   {}",
            s.params_digest.as_deref().unwrap_or_default()
        );
        if let Some(level) = backend.security_level() {
            println!("security {level}");
        }
        println!("time     {:.2} s", setup_ms / 1e3);
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "circuit  k = {} (2^{} rows of {} lanes): {} gate rows, {} lookup-table rows, {}-bit range table",
        s.k, s.k, s.lanes, s.rows, s.table_rows, s.range_bits
    );
    print_public(s);
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
            "         publish it; every proof made with these keys carries it. {} in the keys\n         directory is its secret blinding: share only {} and keys.json.",
            vouch::artifact::WEIGHTS_BLINDING_FILE,
            s.vk_file
        );
    }
    println!("setup    {:.2} s", setup_ms / 1e3);
    Ok(ExitCode::SUCCESS)
}

fn print_public(s: &vouch::artifact::KeysSummary) {
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
}

/// A policy gkr refuses, with the flags that choose the one it proves.
fn explain_gkr_policy(e: VouchError, policy: VisibilityPolicy) -> anyhow::Error {
    match &e {
        VouchError::Gkr(ProgramError::Plan(PlanError::Visibility { role, vis, .. })) => {
            let want = BackendKind::Gkr.default_policy();
            anyhow::anyhow!(
                "{e}\n--backend gkr proves input public or private (a zero-knowledge proof), weights fixed, output public today, not {} (--{role}-vis {} is the problem): pass --input-vis {} (or private) --weights-vis {} --output-vis {}, or no --preset and no role flags; or use --backend halo2 for this policy",
                describe_policy(policy),
                visibility_name(*vis),
                visibility_name(want.input),
                visibility_name(want.weights),
                visibility_name(want.output),
            )
        }
        _ => e.into(),
    }
}
